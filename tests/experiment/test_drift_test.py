"""The excess-drift estimator on shops with a known answer (no training: simulated recommendations)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from toolkit.experiment.drift_test import FullData, Sizes, fraction_evidence, full_data_evidence

N_SIZES = 9
N = 4000


def one_hot(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros((len(sizes), N_SIZES), dtype=np.float32)
    out[np.arange(len(sizes)), sizes] = 1.0
    return out


def model(scores: np.ndarray, noise: float, rng: np.random.Generator) -> Sizes:
    """A model's sizes: the shopper's true score plus this training's own noise, binned."""
    sizes = np.clip(np.round(scores + rng.normal(0, noise, len(scores))), 0, N_SIZES - 1).astype(int)
    return Sizes(sizes, sizes, sizes[: N // 4])


def group(scores: np.ndarray, noise: float, rng: np.random.Generator, k: int) -> list[Sizes]:
    return [model(scores, noise, rng) for _ in range(k)]


def consensus(models: list[Sizes]) -> Sizes:
    return Sizes.consensus([(one_hot(m.reference), one_hot(m.heavier), one_hot(m.holdout)) for m in models])


def evidence(fraction_models: list[Sizes], full: FullData, truth: np.ndarray) -> dict:
    return fraction_evidence(fraction_models, full, truth, [("tail", "everyone", np.ones(N, bool))], N_SIZES)[0]


def test_a_known_change_for_a_known_share_of_shoppers_is_measured() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(1, N_SIZES - 1, N)
    full = FullData(Sizes(reference, reference, reference[: N // 4]))  # a seed-independent model
    truth = reference[: N // 4]
    fraction_models = []
    for _ in range(2):
        moved = reference.copy()
        chosen = rng.choice(N, int(0.03 * N), replace=False)  # each subset moves its own 3%
        moved[chosen] += 1
        fraction_models.append(Sizes(moved, moved, moved[: N // 4]))
    row = evidence(fraction_models, full, truth)
    assert row["noise_floor"] == 0.0
    assert row["excess_drift"] == pytest.approx(0.03)
    assert row["excess_drift_se_seeds"] == pytest.approx(0.0)
    assert row["excess_drift_se_shoppers"] == pytest.approx(np.sqrt(0.03 * 0.97 / (2 * N)), rel=0.1)  # two subsets
    assert row["exact_accuracy_diff"] < 0  # the moved shoppers lose their exact size


def test_pure_retraining_noise_gives_no_excess_on_average_and_the_bound_covers_zero() -> None:
    """A fraction as good as the full data: its models are drawn like full-data models. The
    estimate is zero on average and its one-sided 95% bound lies above zero in about 95% of shops."""
    rng = np.random.default_rng(1)
    estimates, covered = [], []
    for _ in range(150):
        scores = rng.uniform(0.5, N_SIZES - 1.5, N)
        truth = np.clip(np.round(scores[: N // 4]), 0, N_SIZES - 1).astype(int)
        reference = consensus(group(scores, 0.15, rng, 2))
        full = FullData(reference, tuple(group(scores, 0.15, rng, 2)))
        row = evidence(group(scores, 0.15, rng, 2), full, truth)
        estimates.append(row["excess_drift"])
        covered.append(row["excess_drift"] + stats.norm.ppf(0.95) * row["excess_drift_se"] >= 0)
        assert row["noise_floor"] > 0.05  # the noise is real: a tenth of shoppers flip
    estimates = np.array(estimates)
    assert abs(estimates.mean()) < 3 * estimates.std(ddof=1) / np.sqrt(len(estimates))  # no bias
    assert np.mean(covered) >= 0.9


def test_the_full_data_row_is_the_floor_itself() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(0.5, N_SIZES - 1.5, N)
    full = FullData(consensus(group(scores, 0.2, rng, 2)), tuple(group(scores, 0.2, rng, 2)))
    row, segments = full_data_evidence(full, np.zeros(N // 4, int), [("tail", "everyone", np.ones(N, bool))], N_SIZES)
    assert row["changed_rate"] == row["noise_floor"] > 0 and row["excess_drift"] == 0.0
    assert segments["excess_drift"].tolist() == [0.0]
