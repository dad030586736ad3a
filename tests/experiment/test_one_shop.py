"""One shop's experiment end to end on tiny shops: the contract files and their invariants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.tiny_shops import tiny_shop
from toolkit.errors import ExperimentError, ParamsError
from toolkit.experiment.config import ExperimentConfig, PickRule
from toolkit.experiment.decision import pick_smallest_sufficient
from toolkit.experiment.one_shop import pick_for, run_experiment, run_experiment_on_file, split_for, write_results
from toolkit.results import read_shop_results, results_complete
from toolkit.shops.schema import SizeScale
from toolkit.shops.validate import ShopData

RUNS_COLUMNS = [
    "shop_id", "fraction", "seed", "role", "train_rows", "train_seconds", "cpu_seconds", "peak_rss_mb",
    "cost_usd_per_training", "cost_usd_per_month", "changed_rate", "changed_rate_ci_low", "changed_rate_ci_high",
    "holdout_exact_accuracy", "holdout_within1_accuracy", "monotonicity_violation_rate",
]
FRACTIONS_COLUMNS = [
    "shop_id", "fraction", "train_rows", "models", "changed_rate", "noise_floor", "excess_drift", "excess_drift_se",
    "excess_drift_se_shoppers", "excess_drift_se_seeds", "changed_2plus_rate", "mean_signed_shift",
    "holdout_exact_accuracy", "exact_accuracy_diff", "exact_accuracy_diff_se", "within1_accuracy_diff",
    "monotonicity_violation_rate", "top_size_share", "production_train_rows", "seconds_per_training",
    "cost_usd_per_month", "cost_usd_per_month_low", "cost_usd_per_month_high", "cost_usd_per_month_12m", "projected",
]


def shop_data(frame: pd.DataFrame) -> ShopData:
    return ShopData(
        shop_id=str(frame["shop_id"].iloc[0]), frame=frame, scale=SizeScale.of(frame["size"]),
        rows_read=len(frame), rows_quarantined=0, reasons={},
    )


def run(frame: pd.DataFrame, out: Path, **params):
    shop = shop_data(frame)
    config = ExperimentConfig.from_params(**params)
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=None)
    pick = pick_for(result, config)
    return write_results(out, shop, split, result, pick, config), result, split


@pytest.fixture(scope="module")
def hgb_results(tmp_path_factory: pytest.TempPathFactory):
    """A seed-dependent model on the whole grid of fractions."""
    return run(tiny_shop(4000), tmp_path_factory.mktemp("out"), fractions=[1 / 8, 1 / 4, 1 / 2], seeds=[0, 1],
               model="hgb", search="grid")


def test_the_contract_files_are_written_with_every_column(hgb_results) -> None:
    folder, _, _ = hgb_results
    for name in ("runs.parquet", "fractions.parquet", "segments.parquet", "pick.json", "drift_cost.png"):
        assert (folder / name).is_file(), name
    assert not list(folder.glob(".*.tmp"))
    stored = read_shop_results(folder)
    assert set(RUNS_COLUMNS) <= set(stored.runs.columns)
    assert set(FRACTIONS_COLUMNS) <= set(stored.fractions.columns)
    assert sorted(stored.fractions["fraction"]) == [1 / 8, 1 / 4, 1 / 2, 1.0]
    assert stored.pick["picked_fraction"] in set(stored.fractions["fraction"])
    assert stored.pick["verdict"] in ("reduced", "full", "indeterminate") and stored.pick["headline"]
    assert (stored.segments["n"] >= 200).all()
    for key in ("experiment_cost_usd", "break_even_weeks", "compute_full_trainings", "money", "rule"):
        assert key in stored.pick, key


def test_a_seed_dependent_model_trains_a_reference_and_a_floor_group(hgb_results) -> None:
    _, result, _ = hgb_results
    runs = result.runs
    full = runs[runs["fraction"] == 1.0]
    assert sorted(full["role"]) == ["floor", "floor", "reference", "reference"]
    assert set(full.loc[full["role"] == "floor", "seed"]).isdisjoint(full.loc[full["role"] == "reference", "seed"])
    # per fraction one model per seed, each on its own subset of the same size
    assert (runs[runs["role"] == "fraction"].groupby("fraction")["seed"].nunique() == 2).all()
    floor = result.fractions.set_index("fraction").loc[1.0, "noise_floor"]
    assert floor == pytest.approx(full.loc[full["role"] == "floor", "changed_rate"].mean())


def test_the_stored_tables_reproduce_the_stored_pick(hgb_results) -> None:
    folder, _, _ = hgb_results
    stored = read_shop_results(folder)
    again = pick_smallest_sufficient(stored.fractions, stored.segments, PickRule.from_dict(stored.pick["rule"]))
    assert again.picked_fraction == stored.pick["picked_fraction"]
    assert again.verdict == stored.pick["verdict"]
    assert [v.qualifies for v in again.fractions] == [f["qualifies"] for f in stored.pick["fractions"]]


def test_every_run_is_metered_and_priced(hgb_results) -> None:
    _, result, _ = hgb_results
    runs = result.runs
    assert (runs["train_seconds"] > 0).all() and (runs["cpu_seconds"] >= 0).all()
    assert (runs["peak_rss_mb"] > 0).all()
    assert (runs["cost_usd_per_month"] > runs["cost_usd_per_training"]).all()
    assert runs.groupby("fraction")["train_rows"].mean().is_monotonic_increasing
    costs = result.fractions.sort_values("fraction")["cost_usd_per_month"]
    assert costs.is_monotonic_increasing  # from the fitted time curve at the production volume
    assert result.experiment_cost_usd > 0


def test_accuracy_beats_or_matches_the_most_popular_baseline_with_full_data(hgb_results) -> None:
    _, result, _ = hgb_results
    full = result.runs[result.runs["fraction"] == 1.0]
    assert (full["holdout_within1_accuracy"] >= full["baseline_within1_accuracy"]).all()
    assert full["holdout_exact_accuracy"].mean() > full["baseline_exact_accuracy"].mean()


@pytest.fixture(scope="module")
def logreg_results(tmp_path_factory: pytest.TempPathFactory):
    """A seed-independent model, searched from the largest fraction down."""
    return run(tiny_shop(3000, seed=5), tmp_path_factory.mktemp("out"), fractions=[1 / 16, 1 / 8, 1 / 4, 1 / 2],
               seeds=[0, 1], model="logreg", tolerance=0.0)


def test_a_seed_independent_model_trains_the_full_data_once_and_its_floor_is_zero(logreg_results) -> None:
    folder, result, _ = logreg_results
    full = result.runs[result.runs["fraction"] == 1.0]
    assert list(full["role"]) == ["reference"]
    assert result.fractions.set_index("fraction").loc[1.0, "noise_floor"] == 0.0
    pick = json.loads((folder / "pick.json").read_text())
    assert pick["seed_independent"] and pick["models_per_fraction"] == 2


def test_the_descending_search_stops_at_the_first_failing_fraction(logreg_results) -> None:
    folder, result, _ = logreg_results
    # tolerance 0: the first smaller fraction that changes anyone fails, and nothing smaller is trained
    assert sorted(result.fractions["fraction"]) == [0.5, 1.0]
    assert result.untested == [1 / 4, 1 / 8, 1 / 16]
    pick = json.loads((folder / "pick.json").read_text())
    assert pick["verdict"] == "full"
    assert pick["untested_fractions"] == [0.25, 0.125, 0.0625]
    assert pick["compute_full_training_rows"] == pytest.approx(2.0, abs=0.01)  # the full data once, two half-size models
    assert pick["compute_full_trainings"] > 0  # the same in seconds: millisecond fits, too noisy to bound


def test_a_recent_holdout_holds_the_newest_purchases(tmp_path: Path) -> None:
    frame = tiny_shop(2000, seed=3)
    config = ExperimentConfig.from_params(holdout="recent", holdout_share=0.2)
    split = split_for(shop_data(frame), config)
    assert split.holdout["event_time"].min() >= split.train["event_time"].max()
    assert len(split.holdout) > 0 and not set(split.reference["shopper_id"]) & set(split.train["shopper_id"])


def test_a_fraction_too_small_to_train_is_skipped_and_reported(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.01, 0.5], seeds=[0, 1], model="most_popular",
                                  search="grid")
    stored = read_shop_results(folder)
    assert 0.01 not in set(stored.fractions["fraction"])
    assert stored.pick["skipped_fractions"][0]["fraction"] == 0.01


def run_shop_frame(frame: pd.DataFrame, tmp_path: Path, **params):
    path = tmp_path / "shop.parquet"
    frame.to_parquet(path)
    return run_experiment_on_file(path, tmp_path / "out", log=None, **params)


def test_run_experiment_on_file_reads_a_file_and_pick_json_marks_completion(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.25, 0.5], seeds=[0, 1], model="logreg")
    assert results_complete(folder)
    assert json.loads((folder / "pick.json").read_text())["picked_fraction"] == pick.picked_fraction


def test_the_keras_default_model_runs_the_experiment(tmp_path: Path) -> None:
    folder, pick = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.5], seeds=[0, 1])
    stored = read_shop_results(folder)
    assert stored.pick["model"] == "keras_ordinal" and stored.pick["seed_independent"]
    assert set(stored.runs["fraction"]) == {0.5, 1.0}
    assert stored.fractions.set_index("fraction").loc[1.0, "noise_floor"] == 0.0


def test_production_volume_and_growth_price_the_fractions(tmp_path: Path) -> None:
    folder, _ = run_shop_frame(tiny_shop(1500), tmp_path, fractions=[0.5], model="logreg",
                               production_rows=3_000_000, weekly_growth=0.01)
    stored = read_shop_results(folder)
    money = stored.pick["money"]
    assert money["production_rows"] == 3_000_000 and money["production_rows_source"] == "given"
    assert money["rows_in_12_months"] == pytest.approx(3_000_000 * 1.01**52)
    assert money["projected"]  # far beyond the largest training measured
    rows = stored.fractions.set_index("fraction")["production_train_rows"]
    assert rows[0.5] == pytest.approx(1_500_000)


def test_bad_settings_are_named_before_anything_trains() -> None:
    with pytest.raises(ParamsError, match="unknown \\['fractoins'\\]"):
        ExperimentConfig.from_params(fractoins=[0.5])
    with pytest.raises(ParamsError, match="setting fractions"):
        ExperimentConfig.from_params(fractions=[0, 0.5])
    with pytest.raises(ParamsError, match="setting tolerance: expected a share"):
        ExperimentConfig.from_params(tolerance=-1)
    with pytest.raises(ParamsError, match=r"setting seeds: .*-y 'seeds: \[7, 8\]'"):
        ExperimentConfig.from_params(seeds="[7, 8]")
    for nothing_to_compare in ([], [1.0]):
        with pytest.raises(ParamsError, match="setting fractions: .*at least one fraction below 1"):
            ExperimentConfig.from_params(fractions=nothing_to_compare)
    assert ExperimentConfig.from_params(fractions=[0.5]).fractions == [0.5, 1.0]


def test_a_results_folder_that_cannot_be_written_fails_before_any_training(tmp_path: Path, monkeypatch) -> None:
    from toolkit.errors import OutputError
    from toolkit.results import resolve_output_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="output_dir .*a-file is a file, not a folder"):
        resolve_output_dir(blocker / "results")  # the notebook's second cell
    data = tmp_path / "shop.parquet"
    tiny_shop(300).to_parquet(data)
    monkeypatch.setattr("toolkit.experiment.one_shop.run_experiment", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(OutputError, match="a-file is a file, not a folder"):
        run_experiment_on_file(data, blocker / "results", log=None, fractions=[0.5], seeds=[0], model="logreg")
    assert resolve_output_dir(tmp_path / "new" / "results").is_dir()


def test_a_shop_with_too_few_rows_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="training rows"):
        run_shop_frame(tiny_shop(60), tmp_path, fractions=[0.5], seeds=[0, 1], model="most_popular")


def test_every_setting_has_help_and_round_trips() -> None:
    config = ExperimentConfig.from_params(tolerance=0.02, seeds=[3, 4], search="grid")
    again = ExperimentConfig.from_params(**config.to_dict())
    assert again == config
    assert set(ExperimentConfig.help()) == set(config.to_dict())
    assert config.floor_seeds == [5, 6]
    assert np.isclose(config.with_rule(confidence=0.9).rule.confidence, 0.9)


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


def test_a_shop_without_shopper_ids_says_so_in_the_pick(tmp_path: Path) -> None:
    frame = tiny_shop(1500, seed=8)
    shop = ShopData(shop_id="tiny-shop", frame=frame, scale=SizeScale.of(frame["size"]), rows_read=len(frame),
                    rows_quarantined=0, reasons={}, shopper_id_from_row=True)
    config = ExperimentConfig.from_params(model="most_popular", fractions=[0.5])
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=None)
    folder = write_results(tmp_path, shop, split, result, pick_for(result, config), config)
    pick = json.loads((folder / "pick.json").read_text())
    assert pick["shopper_id_from_row"] is True

    from toolkit.report.findings import assumptions_text

    assert "each purchase counted as its own shopper" in assumptions_text(pick)


def test_a_one_size_shop_is_refused_before_any_training(tmp_path: Path) -> None:
    frame = tiny_shop(600, seed=2)
    frame["size"] = pd.Categorical(["M"] * len(frame), categories=frame["size"].cat.categories, ordered=True)
    frame["outcome"] = "kept"
    with pytest.raises(ExperimentError, match="every training row teaches the same size \\(M\\)"):
        run(frame, tmp_path, fractions=[0.5], model="most_popular")


def test_the_untimed_warm_up_fit_is_paid_once_per_process_and_changes_no_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.experiment import one_shop
    from toolkit.models import model_class

    monkeypatch.setattr(one_shop, "_WARMED_UP", set())  # as in a new process
    fitted_rows: list[int] = []
    model = model_class("logreg")
    fit = model.fit

    def counted_fit(self, X, y, *args, **kwargs):
        fitted_rows.append(len(y))
        return fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(model, "fit", counted_fit)
    frame = tiny_shop(1500, seed=5)
    _, first, _ = run(frame, tmp_path / "first", fractions=[0.5], model="logreg")
    fits_first = len(fitted_rows)
    _, second, _ = run(frame, tmp_path / "second", fractions=[0.5], model="logreg")  # a warm kernel's next shop
    assert fitted_rows[0] == 256 and fits_first == len(fitted_rows) - fits_first + 1  # one warm-up, the first time
    unmeasured = [c for c in first.runs.columns if not any(w in c for w in ("seconds", "cost", "rss"))]
    pd.testing.assert_frame_equal(first.runs[unmeasured], second.runs[unmeasured])
