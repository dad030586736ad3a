"""The sweep's work estimate (purchases × sizes) and the order it gives: the longest shops first."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from tests.tiny_shops import tiny_shop
from toolkit.sweep.spec import SweepSpec, plan_shops
from toolkit.sweep.workload import shops_in


def _shop(rows: int, n_sizes: int, shop_id: str) -> pd.DataFrame:
    frame = tiny_shop(rows, shop_id=shop_id)
    frame["size"] = [f"s{i % n_sizes:02d}" for i in range(rows)]
    return frame


def test_a_parquet_shop_is_its_rows_times_its_sizes(tmp_path: Path) -> None:
    _shop(300, 7, "a").to_parquet(tmp_path / "a.parquet")
    assert shops_in(tmp_path / "a.parquet", None) == {"a": 300 * 7}
    categorical = _shop(300, 7, "c")
    categorical["size"] = categorical["size"].astype("category")  # stored as a dictionary column
    categorical.to_parquet(tmp_path / "c.parquet")
    assert shops_in(tmp_path / "c.parquet", None) == {"c": 300 * 7}


def test_each_shop_of_a_file_of_several_counts_its_own_rows_and_sizes(tmp_path: Path) -> None:
    both = pd.concat([_shop(400, 3, "few"), _shop(100, 20, "many")], ignore_index=True)
    both.to_parquet(tmp_path / "both.parquet")
    assert shops_in(tmp_path / "both.parquet", None) == {"few": 1200.0, "many": 2000.0}
    both.to_csv(tmp_path / "both.csv", sep=";", index=False)  # under 64 KB: read whole, exact
    assert shops_in(tmp_path / "both.csv", None) == {"few": 1200.0, "many": 2000.0}


def test_a_large_csv_is_estimated_from_its_first_64_kb(tmp_path: Path) -> None:
    frame = _shop(20_000, 9, "big")
    frame.to_csv(tmp_path / "big.csv", index=False)
    with gzip.open(tmp_path / "big.csv.gz", "wt") as file:
        frame.to_csv(file, index=False)
    for name in ("big.csv", "big.csv.gz"):
        [work] = shops_in(tmp_path / name, None, "big").values()
        assert 0.8 * 20_000 * 9 < work < 1.25 * 20_000 * 9, name


def test_the_column_map_names_the_size_column(tmp_path: Path) -> None:
    _shop(200, 5, "x").rename(columns={"size": "Groesse"}).to_csv(tmp_path / "x.csv", index=False)
    (tmp_path / "map.yaml").write_text("columns: {size: Groesse}\n")
    assert shops_in(tmp_path / "x.csv", tmp_path / "map.yaml", "x") == {"x": 1000.0}


@pytest.mark.parametrize("content", [b"\x00\x01garbage" * 100, b"PAR1 not really parquet", b""])
def test_an_unreadable_file_is_not_the_plans_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.csv").write_bytes(content)
    work = shops_in(tmp_path / "bad.csv", None)
    assert set(work) == {"bad"} and work["bad"] >= 0
    assert shops_in(tmp_path / "missing.parquet", None, "gone") == {"gone": 0.0}


def test_the_sweep_starts_the_most_work_first_not_the_largest_file(tmp_path: Path) -> None:
    (tmp_path / "shops").mkdir()
    _shop(2_000, 2, "big-few-sizes").to_parquet(tmp_path / "shops" / "big-few-sizes.parquet")  # 4,000
    _shop(600, 20, "small-many-sizes").to_parquet(tmp_path / "shops" / "small-many-sizes.parquet")  # 12,000
    _shop(1_500, 3, "middle").to_parquet(tmp_path / "shops" / "middle.parquet")  # 4,500
    sizes = {p.stem: p.stat().st_size for p in (tmp_path / "shops").iterdir()}
    assert max(sizes, key=sizes.get) == "big-few-sizes"  # the file-size order would start it first
    spec = SweepSpec.from_dict({"data_dir": "shops", "output_dir": "out"}, base_dir=tmp_path)
    assert [run.shop_id for run in plan_shops(spec)] == ["small-many-sizes", "middle", "big-few-sizes"]


def test_shops_of_equal_work_run_in_the_order_the_sweep_lists_them(tmp_path: Path) -> None:
    _shop(100, 3, "s").to_parquet(tmp_path / "s.parquet")
    names = ["zeta", "alpha", "mid"]
    spec = SweepSpec.from_dict(
        {"shops": [{"path": "s.parquet", "shop_id": name} for name in names], "output_dir": "out"}, base_dir=tmp_path
    )
    assert [run.shop_id for run in plan_shops(spec)] == names


def test_a_pipe_is_not_read_by_the_plan(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.csv")  # no writer: opening it to read would wait forever
    assert shops_in(tmp_path / "pipe.csv", None, "p") == {"p": 0.0}
    assert shops_in(tmp_path / "pipe.csv", None) == {"pipe": 0.0}  # named after the file, never opened
