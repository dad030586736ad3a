"""One shop's experiment end to end on a tiny shop: the contract files and their invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.tiny_shops import tiny_shop
from toolkit.errors import ExperimentError, ParamsError
from toolkit.experiment.one_shop import ExperimentConfig, pick_for, run_experiment, run_experiment_on_file, split_for, write_results
from toolkit.results import read_shop_results, results_complete
from toolkit.shops.schema import SizeScale
from toolkit.experiment.decision import pick_smallest_sufficient
from toolkit.shops.validate import ShopData

RUNS_COLUMNS = [
    "shop_id", "fraction", "seed", "train_rows", "train_seconds", "cpu_seconds", "peak_rss_mb",
    "cost_usd_per_training", "cost_usd_per_month", "changed_rate", "changed_rate_ci_low",
    "changed_rate_ci_high", "changed_2plus_rate", "mean_abs_shift", "mean_signed_shift",
    "noise_floor", "holdout_exact_accuracy", "holdout_within1_accuracy", "monotonicity_violation_rate",
]


def shop_data(frame: pd.DataFrame) -> ShopData:
    return ShopData(
        shop_id=str(frame["shop_id"].iloc[0]), frame=frame, scale=SizeScale.of(frame["size"]),
        rows_read=len(frame), rows_quarantined=0, reasons={},
    )


@pytest.fixture(scope="module")
def hgb_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    shop = shop_data(tiny_shop(4000))
    config = ExperimentConfig(fractions=[1 / 16, 1 / 8, 1 / 4, 1 / 2], seeds=[0, 1, 2], model="hgb")
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=None)
    pick = pick_for(result, config)
    folder = write_results(tmp_path_factory.mktemp("out"), shop, split, result, pick, config)
    return folder, result


def test_the_contract_files_are_written_with_every_column(hgb_results) -> None:
    folder, _ = hgb_results
    for name in ("runs.parquet", "segments.parquet", "pick.json", "drift_cost.png"):
        assert (folder / name).is_file(), name
    assert not list(folder.glob(".*.tmp"))
    stored = read_shop_results(folder)
    assert set(RUNS_COLUMNS) <= set(stored.runs.columns)
    assert len(stored.runs) == 5 * 3  # 4 fractions + the full data, × 3 seeds
    assert stored.pick["picked_fraction"] in set(stored.runs["fraction"])
    assert isinstance(stored.pick["explanation"], str) and stored.pick["explanation"]
    assert (stored.segments["n"] >= 200).all()


def test_the_stored_tables_reproduce_the_stored_pick(hgb_results) -> None:
    folder, _ = hgb_results
    stored = read_shop_results(folder)
    again = pick_smallest_sufficient(stored.runs, stored.segments).to_dict()
    assert again["picked_fraction"] == stored.pick["picked_fraction"]
    assert again["noise_floor"] == pytest.approx(stored.pick["noise_floor"])
    assert [f["qualifies"] for f in again["fractions"]] == [f["qualifies"] for f in stored.pick["fractions"]]
    assert stored.pick["noise_floor"] == pytest.approx(stored.runs["noise_floor"].iloc[0])


def test_the_full_model_compared_with_itself_drifts_zero_and_others_give_the_noise_floor(hgb_results) -> None:
    _, result = hgb_results
    runs = result.runs
    reference = runs[(runs["fraction"] == 1.0) & (runs["seed"] == 0)].iloc[0]
    assert reference["changed_rate"] == 0 and reference["changed_count"] == 0
    others = runs[(runs["fraction"] == 1.0) & (runs["seed"] != 0)]
    assert runs["noise_floor"].nunique() == 1
    assert runs["noise_floor"].iloc[0] == pytest.approx(others["changed_rate"].mean())


def test_every_run_is_metered_and_priced(hgb_results) -> None:
    _, result = hgb_results
    runs = result.runs
    assert (runs["train_seconds"] > 0).all() and (runs["cpu_seconds"] >= 0).all()
    assert (runs["peak_rss_mb"] > 0).all()
    assert (runs["cost_usd_per_month"] > runs["cost_usd_per_training"]).all()
    rows = runs.groupby("fraction")["train_rows"].mean()
    assert rows.is_monotonic_increasing


def test_accuracy_beats_or_matches_the_most_popular_baseline_with_full_data(hgb_results) -> None:
    _, result = hgb_results
    full = result.runs[result.runs["fraction"] == 1.0]
    assert (full["holdout_within1_accuracy"] >= full["baseline_within1_accuracy"]).all()
    assert full["holdout_exact_accuracy"].mean() > full["baseline_exact_accuracy"].mean()


def test_a_fraction_too_small_to_train_is_skipped_and_reported(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.01, 0.5], seeds=[0, 1], model="most_popular")
    stored = read_shop_results(folder)
    assert 0.01 not in set(stored.runs["fraction"])
    assert stored.pick["skipped_fractions"][0]["fraction"] == 0.01


def run_shop_frame(frame: pd.DataFrame, tmp_path: Path, **params):
    path = tmp_path / "shop.parquet"
    frame.to_parquet(path)
    return run_experiment_on_file(path, tmp_path / "out", log=None, **params)


def test_run_shop_reads_a_file_and_pick_json_marks_completion(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.25, 0.5], seeds=[0, 1], model="logreg")
    assert results_complete(folder)
    assert json.loads((folder / "pick.json").read_text())["picked_fraction"] == pick.picked_fraction


def test_the_keras_default_model_runs_the_experiment(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(
        tiny_shop(1500), tmp_path, fractions=[0.25], seeds=[0, 1], model="keras_ordinal",
        model_params={"epochs": 2, "min_steps": 20},
    )
    runs = read_shop_results(folder).runs
    assert set(runs["fraction"]) == {0.25, 1.0}
    assert (runs["epochs"] >= 2).all()


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ParamsError, match="unknown \\['fractoins'\\]"):
        ExperimentConfig.from_params(fractoins=[0.5])
    with pytest.raises(ParamsError, match="fractions"):
        ExperimentConfig(fractions=[0, 0.5])
    assert ExperimentConfig(fractions=[0.5]).fractions == [0.5, 1.0]


def test_a_shop_with_too_few_rows_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="training rows"):
        run_shop_frame(tiny_shop(60), tmp_path, fractions=[0.5], seeds=[0, 1], model="most_popular")


@pytest.mark.parametrize("shop_id", ["../../escaped", "/abs/path", "a b {x}"])
def test_a_hostile_shop_id_writes_inside_the_output_folder(tmp_path: Path, shop_id: str) -> None:
    data = tmp_path / "data" / "shop.parquet"
    data.parent.mkdir()
    tiny_shop(600, shop_id=shop_id).to_parquet(data)
    out = tmp_path / "deep" / "out"
    folder, _ = run_experiment_on_file(
        data, out, log=None, model="most_popular", fractions=[0.5], seeds=[0, 1], min_segment_size=10
    )
    assert folder.parent == out and read_shop_results(folder).shop_id == shop_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "deep"]
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["out"]
