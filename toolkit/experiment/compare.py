"""Recommendation drift: how a model's size recommendations differ from the full-data model's.

Everything here works on size *indices* (0 = smallest size on the shop's scale) predicted for the
same reference population, so "one size off" and "three sizes off" stay different things.

Intervals of a single changed rate are Wilson score intervals for a binomial proportion (from
:func:`scipy.stats.binomtest`): they stay inside [0, 1], behave at 0 changes (a model compared with
itself gives exactly 0 with a small upper bound) and cover the true rate at close to the stated
confidence even for rates of a few percent. The decision's test of *excess* drift over the noise
floor lives in :mod:`toolkit.experiment.drift_test`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "HEIGHT_BANDS_CM",
    "consensus_sizes",
    "WEIGHT_BANDS_KG",
    "drift",
    "holdout_accuracy",
    "monotonicity_violation_rate",
    "recommendation_spread",
    "segment_drift",
    "segments",
    "wilson_interval",
]

#: Height bands (cm) of the segment table: [lower, upper).
HEIGHT_BANDS_CM: tuple[float, ...] = (0, 155, 165, 175, 185, np.inf)
#: Weight bands (kg) of the segment table: [lower, upper).
WEIGHT_BANDS_KG: tuple[float, ...] = (0, 55, 70, 85, 100, 120, np.inf)
#: Share of the reference population in each tail segment (shortest, tallest, lightest, heaviest).
TAIL_SHARE = 0.05


def wilson_interval(
    count: np.ndarray | int, n: np.ndarray | int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``count`` successes out of ``n`` (element-wise; n = 0 gives (0, 1)).

    Computed by :func:`scipy.stats.binomtest` (``proportion_ci(method="wilson")``).
    """
    counts = np.atleast_1d(np.asarray(count, dtype=np.int64))
    totals = np.broadcast_to(np.atleast_1d(np.asarray(n, dtype=np.int64)), counts.shape)
    low = np.zeros(counts.shape, dtype=np.float64)
    high = np.ones(counts.shape, dtype=np.float64)
    for i, (k, total) in enumerate(zip(counts.ravel(), totals.ravel(), strict=True)):
        if total > 0:
            interval = stats.binomtest(int(k), int(total)).proportion_ci(confidence, method="wilson")
            # At the edges the interval's closed form is exact: no rounding above 0 / below 1.
            low.flat[i] = 0.0 if k <= 0 else interval.low
            high.flat[i] = 1.0 if k >= total else interval.high
    if np.ndim(count) == 0 and np.ndim(n) == 0:
        return float(low[0]), float(high[0])
    return low, high


def consensus_sizes(probabilities: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """The consensus of several models: the median of their mean size distribution.

    ``probabilities`` is one ``(n, n_sizes)`` array per model (or a single array); the
    recommendation is the smallest size whose cumulative mean probability reaches one half.
    """
    stacked = np.asarray(probabilities, dtype=np.float64)
    mean = stacked.mean(axis=0) if stacked.ndim == 3 else stacked
    cumulative = np.cumsum(mean, axis=1)
    return np.minimum((cumulative < 0.5 - 1e-12).sum(axis=1), mean.shape[1] - 1).astype(np.int64)


def drift(
    full: np.ndarray, candidate: np.ndarray, n_sizes: int, confidence: float = 0.95
) -> dict[str, float]:
    """Compare a candidate's recommendations with the full-data model's on the same shoppers.

    Returns ``n_reference``, ``changed_count``, ``changed_rate`` and its interval,
    ``changed_2plus_rate`` (two or more size steps), ``mean_abs_shift`` and ``mean_signed_shift``
    (size steps; positive = the candidate recommends larger sizes), and two distances between the
    recommended-size distributions: total variation (``size_distribution_tvd``, 0–1) and the
    earth mover's distance in size steps (``size_distribution_emd``).
    """
    full = np.asarray(full, dtype=np.int64)
    candidate = np.asarray(candidate, dtype=np.int64)
    if full.shape != candidate.shape:
        raise ValueError(f"predictions differ in length: {full.shape} vs {candidate.shape}")
    n = full.size
    shift = candidate - full
    changed = int(np.count_nonzero(shift))
    low, high = wilson_interval(changed, n, confidence)
    full_share = np.bincount(full, minlength=n_sizes) / max(n, 1)
    candidate_share = np.bincount(candidate, minlength=n_sizes) / max(n, 1)
    return {
        "n_reference": n,
        "changed_count": changed,
        "changed_rate": changed / n if n else 0.0,
        "changed_rate_ci_low": low,
        "changed_rate_ci_high": high,
        "changed_2plus_rate": float(np.mean(np.abs(shift) >= 2)) if n else 0.0,
        "mean_abs_shift": float(np.mean(np.abs(shift))) if n else 0.0,
        "mean_signed_shift": float(np.mean(shift)) if n else 0.0,
        "size_distribution_tvd": float(0.5 * np.abs(full_share - candidate_share).sum()),
        "size_distribution_emd": float(np.abs(np.cumsum(full_share - candidate_share)).sum()),
    }


def segments(reference: pd.DataFrame) -> Iterator[tuple[str, str, np.ndarray]]:
    """The reference population's segments as (kind, name, boolean mask).

    Gender, category, height and weight bands, and the tails: the shortest, tallest, lightest and
    heaviest 5% of the reference population (the minority an average model fails first).
    """
    for kind in ("gender", "category"):
        values = reference[kind].astype(str).to_numpy()
        for value in sorted(set(values)):
            yield kind, value, values == value
    yield from _bands("height_band", reference["height_cm"].to_numpy(float), HEIGHT_BANDS_CM, "cm")
    yield from _bands("weight_band", reference["weight_kg"].to_numpy(float), WEIGHT_BANDS_KG, "kg")
    height = reference["height_cm"].to_numpy(float)
    weight = reference["weight_kg"].to_numpy(float)
    if len(reference):
        yield "tail", "shortest 5%", height <= np.quantile(height, TAIL_SHARE)
        yield "tail", "tallest 5%", height >= np.quantile(height, 1 - TAIL_SHARE)
        yield "tail", "lightest 5%", weight <= np.quantile(weight, TAIL_SHARE)
        yield "tail", "heaviest 5%", weight >= np.quantile(weight, 1 - TAIL_SHARE)


def _bands(
    kind: str, values: np.ndarray, edges: tuple[float, ...], unit: str
) -> Iterator[tuple[str, str, np.ndarray]]:
    for low, high in zip(edges[:-1], edges[1:]):
        if low == 0:
            name = f"under {high:g} {unit}"
        elif np.isinf(high):
            name = f"{low:g} {unit} and over"
        else:
            name = f"{low:g}–{high:g} {unit}"
        mask = (values >= low) & (values < high)
        if mask.any():
            yield kind, name, mask


def segment_drift(
    reference: pd.DataFrame,
    full: np.ndarray,
    candidate: np.ndarray,
    confidence: float = 0.95,
    segment_masks: list[tuple[str, str, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Changed-size rate per segment with counts and intervals.

    Columns: ``segment_kind, segment, n, changed_count, changed_rate, changed_rate_ci_low,
    changed_rate_ci_high``. Pass precomputed ``segment_masks`` to avoid recomputing them per model.
    """
    masks = segment_masks if segment_masks is not None else list(segments(reference))
    changed = np.asarray(full) != np.asarray(candidate)
    kinds = [kind for kind, _, _ in masks]
    names = [name for _, name, _ in masks]
    n = np.array([mask.sum() for _, _, mask in masks], dtype=np.int64)
    count = np.array([changed[mask].sum() for _, _, mask in masks], dtype=np.int64)
    low, high = wilson_interval(count, n, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, count / np.maximum(n, 1), 0.0)
    return pd.DataFrame(
        {
            "segment_kind": kinds,
            "segment": names,
            "n": n,
            "changed_count": count,
            "changed_rate": rate,
            "changed_rate_ci_low": np.atleast_1d(low),
            "changed_rate_ci_high": np.atleast_1d(high),
        }
    )


def holdout_accuracy(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Exact and within-one-size accuracy against the holdout's labels from outcomes."""
    predicted = np.asarray(predicted, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    if truth.size == 0:
        return float("nan"), float("nan")
    steps = np.abs(predicted - truth)
    return float(np.mean(steps == 0)), float(np.mean(steps <= 1))


def monotonicity_violation_rate(
    predict: Callable[[pd.DataFrame], np.ndarray],
    reference: pd.DataFrame,
    baseline: np.ndarray | None = None,
    extra_kg: float = 5.0,
) -> float:
    """Share of shoppers told a *smaller* size when 5 kg heavier at the same height.

    ``predict`` maps a frame of shoppers to size indices; ``baseline`` (the predictions for the
    unchanged reference population) is reused when given.
    """
    if len(reference) == 0:
        return 0.0
    before = predict(reference) if baseline is None else np.asarray(baseline)
    heavier = reference.assign(weight_kg=reference["weight_kg"] + extra_kg)
    after = predict(heavier)
    return float(np.mean(np.asarray(after) < before))


def recommendation_spread(predicted: np.ndarray, n_sizes: int) -> dict[str, Any]:
    """How recommendations spread over sizes: the most common size's share and distinct sizes."""
    predicted = np.asarray(predicted, dtype=np.int64)
    if predicted.size == 0:
        return {"top_size_share": float("nan"), "distinct_sizes": 0}
    counts = np.bincount(predicted, minlength=n_sizes)
    return {
        "top_size_share": float(counts.max() / predicted.size),
        "distinct_sizes": int(np.count_nonzero(counts)),
    }
