"""Drift against the full-data model: the figures users read off the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.experiment import compare


def test_a_model_compared_with_itself_drifts_exactly_zero() -> None:
    predicted = np.random.default_rng(0).integers(0, 9, size=5000)
    result = compare.drift(predicted, predicted.copy(), n_sizes=9)
    assert result["changed_count"] == 0
    assert result["changed_rate"] == 0.0
    assert result["changed_rate_ci_low"] == 0.0
    assert 0 < result["changed_rate_ci_high"] < 0.001
    for key in ("changed_2plus_rate", "mean_abs_shift", "mean_signed_shift",
                "size_distribution_tvd", "size_distribution_emd"):
        assert result[key] == 0.0


def test_shifts_are_counted_in_size_steps_with_direction() -> None:
    full = np.array([2, 2, 2, 2])
    candidate = np.array([2, 3, 5, 1])  # same, one up, three up, one down
    result = compare.drift(full, candidate, n_sizes=9)
    assert result["changed_rate"] == 0.75
    assert result["changed_2plus_rate"] == 0.25
    assert result["mean_abs_shift"] == (0 + 1 + 3 + 1) / 4
    assert result["mean_signed_shift"] == (0 + 1 + 3 - 1) / 4
    assert result["size_distribution_tvd"] == 0.75


def test_the_interval_covers_the_true_changed_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(42)
    trials, n = 4000, 2000
    for true_rate in (0.01, 0.05, 0.2):
        counts = rng.binomial(n, true_rate, size=trials)
        low, high = compare.wilson_interval(counts, np.full(trials, n), 0.95)
        coverage = np.mean((low <= true_rate) & (true_rate <= high))
        assert 0.93 <= coverage <= 0.97, (true_rate, coverage)


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    low95, high95 = compare.wilson_interval(30, 1000, 0.95)
    low99, high99 = compare.wilson_interval(30, 1000, 0.99)
    assert low99 < low95 < 0.03 < high95 < high99


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(1, 500), st.floats(0.5, 0.999))
def test_the_interval_always_contains_the_observed_rate(count: int, extra: int, confidence: float) -> None:
    n = count + extra
    low, high = compare.wilson_interval(count, n, confidence)
    assert 0.0 <= low <= count / n <= high <= 1.0


def _reference(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "gender": rng.choice(["female", "male"], n),
            "category": rng.choice(["tops", "bottoms"], n),
            "height_cm": rng.normal(170, 10, n),
            "weight_kg": rng.normal(80, 15, n),
        }
    )


def test_segments_cover_gender_category_bands_and_the_four_tails() -> None:
    reference = _reference()
    found = list(compare.segments(reference))
    kinds = {kind for kind, _, _ in found}
    assert kinds == {"gender", "category", "height_band", "weight_band", "tail"}
    # Bands partition the population.
    for kind in ("gender", "category", "height_band", "weight_band"):
        assert sum(mask.sum() for k, _, mask in found if k == kind) == len(reference)
    tails = {name: mask for kind, name, mask in found if kind == "tail"}
    assert set(tails) == {"shortest 5%", "tallest 5%", "lightest 5%", "heaviest 5%"}
    assert all(45 <= mask.sum() <= 55 for mask in tails.values())
    assert reference.loc[tails["tallest 5%"], "height_cm"].min() > reference["height_cm"].quantile(0.9)


def test_segment_drift_finds_the_segment_that_changed() -> None:
    reference = _reference()
    full = np.full(len(reference), 3)
    candidate = full.copy()
    tall = reference["height_cm"].to_numpy() >= reference["height_cm"].quantile(0.95)
    candidate[tall] = 4
    table = compare.segment_drift(reference, full, candidate)
    tallest = table[table["segment"] == "tallest 5%"].iloc[0]
    shortest = table[table["segment"] == "shortest 5%"].iloc[0]
    assert tallest["changed_rate"] == 1.0 and shortest["changed_rate"] == 0.0
    assert (table["changed_count"] <= table["n"]).all()
    assert (table["changed_rate_ci_low"] <= table["changed_rate"]).all()


def test_monotonicity_counts_smaller_sizes_for_heavier_shoppers() -> None:
    reference = _reference(200)

    def sensible(frame: pd.DataFrame) -> np.ndarray:
        return (frame["weight_kg"].to_numpy() // 10).astype(int)

    def perverse(frame: pd.DataFrame) -> np.ndarray:
        return -(frame["weight_kg"].to_numpy() // 10).astype(int)

    assert compare.monotonicity_violation_rate(sensible, reference) == 0.0
    assert compare.monotonicity_violation_rate(perverse, reference) > 0.3


def test_accuracy_and_spread() -> None:
    exact, within1 = compare.holdout_accuracy(np.array([1, 2, 3, 4]), np.array([1, 3, 5, 4]))
    assert (exact, within1) == (0.5, 0.75)
    spread = compare.recommendation_spread(np.array([0, 0, 0, 1]), n_sizes=5)
    assert spread == {"top_size_share": 0.75, "distinct_sizes": 2}
