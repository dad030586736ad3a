"""``benchmarks/run_all.py``: every benchmark in its own process, one table of figures and goals."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["run_all"]


def test_every_benchmark_script_exists_and_has_a_goal_reader(run_all):
    for benchmark in run_all.BENCHMARKS:
        assert (BENCHMARKS / benchmark.script).is_file(), benchmark.script


def test_a_real_benchmark_lands_in_the_table_with_its_goal(run_all, tmp_path, capsys):
    results = run_all.main(["--quick", "--only", "predict", "--out-dir", str(tmp_path)])
    rows, seconds = results["predict"]
    figures = json.loads((tmp_path / "predict.json").read_text())
    assert {f"{model}: predictions per second" for model in figures["models"]} == {row[0] for row in rows}
    assert "most_popular: predictions per second" in {row[0] for row in rows}
    for _, measured, goal, met in rows:
        assert measured.endswith("M") and goal == ">= 1M" and met in (True, False)
    assert seconds > 0
    table = (tmp_path / "table.txt").read_text()
    assert table.splitlines()[0].split() == ["benchmark", "figure", "measured", "goal", "met"]
    assert "most_popular: predictions per second" in table


def test_a_benchmark_that_fails_is_a_row_saying_so_and_the_rest_still_run(run_all, tmp_path):
    broken = run_all.Benchmark("broken", "bench_predict.py", (), ("--no-such-option",), run_all._predict_rows)
    rows, _ = run_all.run(broken, tmp_path, quick=True)
    assert rows == [("broken: did not finish", "exit code 2", "", False)]
    assert "broken: did not finish" in run_all.table({"broken": (rows, 1.0)})


def test_memory_rows_read_one_size_or_several(run_all):
    one = {"rows": 1_000_000, "experiment_seconds": 50.0, "peak_rss_mb": 1200.0, "goal_mb": 4096}
    several = [one, {**one, "rows": 10_000_000, "experiment_seconds": 600.0, "peak_rss_mb": 4500.0}]
    assert [r[3] for r in run_all._memory_rows(one)] == [True, None]
    rows = list(run_all._memory_rows(several))
    assert [r[1] for r in rows] == ["1,200 MB", "50.0", "4,500 MB", "60.0"]
    assert [r[3] for r in rows] == [True, None, False, None]
