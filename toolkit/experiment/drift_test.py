"""The evidence for one fraction: how many shoppers its models tell another size than the full
data's consensus, beyond the retraining noise, and how sure that is (``docs/decision.md`` derives it).

Models are trained per seed, each seed one complete replicate of what production would do:

* the **reference** is the consensus of K full-data models (seeds ``seeds``): the median of their
  mean size distribution (:func:`~toolkit.experiment.compare.consensus_sizes`);
* the **floor** models are K more full-data models (``floor_seeds``), each compared on its own with
  the reference: the retraining noise of *one* model against the reference consensus;
* a **fraction** trains one model per seed, each on its own subset of the training pool (random
  sampling: the subset of seed s at 1/8 lies inside seed s's subset at 1/4), each compared on its
  own with the reference — one production model trained on that fraction of the data.

So the fraction's drift and the floor are the same statistic (one model against the same
reference consensus) and their difference is the data's effect. Per reference shopper i and seed s,
``d_si = [model_s(i) != reference(i)]`` and ``e_si = [floor_s(i) != reference(i)]``; the **excess
drift** is ``mean_i(mean_s d_si - mean_s e_si)``. Its standard error adds the shoppers' part
(the paired differences' ``sd / sqrt(n)``) and the seeds' part (the variance of the per-seed
excess between seeds, over K): the second carries both the training noise and the luck of the
subset drawn, which one subset alone cannot show.

A model whose training does not depend on the seed (``seed_independent``) needs one reference
model and no floor models: the floor is zero by construction.

Holdout accuracy (exact, within one size) of each fraction model is compared with the reference
consensus row by row; the shoppers' standard error of the mean difference comes from a paired
bootstrap (:func:`scipy.stats.bootstrap`), plus the same seeds' part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.experiment import compare

__all__ = ["FullData", "Sizes", "fraction_evidence", "full_data_evidence"]

#: Resamples of the paired bootstrap of accuracy differences (fixed seed: reproducible).
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Sizes:
    """Recommended sizes on the reference population, on it 5 kg heavier, and on the holdout."""

    reference: np.ndarray
    heavier: np.ndarray
    holdout: np.ndarray

    @classmethod
    def consensus(cls, probabilities: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Sizes:
        """The consensus of models given as (reference, heavier, holdout) size distributions."""
        return cls(*(compare.consensus_sizes([p[part] for p in probabilities]) for part in range(3)))


@dataclass(frozen=True)
class FullData:
    """The reference consensus and the floor models (none: a seed-independent model)."""

    reference: Sizes
    floor: tuple[Sizes, ...] = ()

    def floor_indicators(self, n: int, seeds: int) -> np.ndarray:
        """``(seeds, n)`` indicators ``e_si``; zeros without floor models."""
        if not self.floor:
            return np.zeros((seeds, n))
        rows = np.array([f.reference != self.reference.reference for f in self.floor], dtype=np.float64)
        return rows if len(rows) == seeds else np.repeat(rows.mean(axis=0, keepdims=True), seeds, axis=0)


def full_data_evidence(
    full: FullData, holdout_truth: np.ndarray, masks: list[tuple[str, str, np.ndarray]], n_sizes: int
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The full data's own row: its drift is the noise floor, its excess zero."""
    n = len(full.reference.reference)
    floors = full.floor_indicators(n, max(len(full.floor), 1))
    exact, within1 = compare.holdout_accuracy(full.reference.holdout, holdout_truth)
    row = {
        "n_reference": n,
        "changed_rate": float(floors.mean()) if n else 0.0,
        "noise_floor": float(floors.mean()) if n else 0.0,
        **dict.fromkeys(("excess_drift", "excess_drift_se", "excess_drift_se_shoppers", "excess_drift_se_seeds"), 0.0),
        **_describe(full.reference.reference, full.floor[0].reference if full.floor else full.reference.reference, n_sizes),
        "holdout_exact_accuracy": exact,
        "holdout_within1_accuracy": within1,
        **dict.fromkeys(("exact_accuracy_diff", "exact_accuracy_diff_se", "within1_accuracy_diff", "within1_accuracy_diff_se"), 0.0),
        **_sanity(full.reference, full.reference, n_sizes),
    }
    return row, _segment_rows(floors, floors, masks)


def fraction_evidence(
    models: list[Sizes],
    full: FullData,
    holdout_truth: np.ndarray,
    masks: list[tuple[str, str, np.ndarray]],
    n_sizes: int,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One fraction's models (one per seed) against the full data: drift, excess, accuracy."""
    reference = full.reference
    drifts = np.array([m.reference != reference.reference for m in models], dtype=np.float64)
    floors = full.floor_indicators(drifts.shape[1], len(models))
    mean, shoppers, seeds = _mean_and_errors(drifts, floors)
    exact = [compare.holdout_accuracy(m.holdout, holdout_truth) for m in models]
    exact_diff = _accuracy_difference(models, reference, holdout_truth, within=0)
    within1_diff = _accuracy_difference(models, reference, holdout_truth, within=1)
    descriptions = [_describe(reference.reference, m.reference, n_sizes) for m in models]
    sanity = [_sanity(m, reference, n_sizes) for m in models]
    row = {
        "n_reference": drifts.shape[1],
        "changed_rate": float(drifts.mean()),
        "noise_floor": float(floors.mean()),
        "excess_drift": mean,
        "excess_drift_se": float(np.hypot(shoppers, seeds)),
        "excess_drift_se_shoppers": shoppers,
        "excess_drift_se_seeds": seeds,
        **{key: float(np.mean([d[key] for d in descriptions])) for key in descriptions[0]},
        "holdout_exact_accuracy": float(np.mean([e for e, _ in exact])),
        "holdout_within1_accuracy": float(np.mean([w for _, w in exact])),
        "exact_accuracy_diff": exact_diff[0],
        "exact_accuracy_diff_se": exact_diff[1],
        "within1_accuracy_diff": within1_diff[0],
        "within1_accuracy_diff_se": within1_diff[1],
        "monotonicity_violation_rate": float(max(s["monotonicity_violation_rate"] for s in sanity)),
        "full_monotonicity_violation_rate": sanity[0]["full_monotonicity_violation_rate"],
        "top_size_share": float(max(s["top_size_share"] for s in sanity)),
        "full_top_size_share": sanity[0]["full_top_size_share"],
        "distinct_sizes": int(min(s["distinct_sizes"] for s in sanity)),
    }
    return row, _segment_rows(drifts, floors, masks)


# -- pieces ---------------------------------------------------------------------------------------
def _mean_and_errors(drifts: np.ndarray, floors: np.ndarray) -> tuple[float, float, float]:
    """Excess ``mean(d - e)`` of ``(seeds, shoppers)`` indicators, its shoppers' and seeds' errors."""
    seeds, n = drifts.shape
    if n == 0:
        return 0.0, 0.0, 0.0
    per_shopper = drifts.mean(axis=0) - floors.mean(axis=0)
    shoppers = float(per_shopper.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    per_seed = drifts.mean(axis=1) - floors.mean(axis=1)
    between = float(per_seed.std(ddof=1) / np.sqrt(seeds)) if seeds > 1 else 0.0
    return float(per_shopper.mean()), shoppers, between


def _describe(full: np.ndarray, candidate: np.ndarray, n_sizes: int) -> dict[str, Any]:
    """Size steps and distributions against the reference (no intervals: the test has them)."""
    figures = compare.drift(full, candidate, n_sizes)
    keep = ("changed_2plus_rate", "mean_abs_shift", "mean_signed_shift", "size_distribution_tvd", "size_distribution_emd")
    return {key: figures[key] for key in keep}


def _correct(sizes: np.ndarray, truth: np.ndarray, within: int) -> np.ndarray:
    return (np.abs(np.asarray(sizes, np.int64) - truth) <= within).astype(np.float64)


def _accuracy_difference(models: list[Sizes], reference: Sizes, truth: np.ndarray, *, within: int) -> tuple[float, float]:
    """Mean accuracy difference (models − reference) and its standard error (paired bootstrap + seeds)."""
    if len(truth) < 2:
        return float("nan"), float("nan")
    theirs = _correct(reference.holdout, truth, within)
    per_seed = np.array([_correct(m.holdout, truth, within) - theirs for m in models])
    difference = per_seed.mean(axis=0)
    boot = stats.bootstrap(
        (difference,),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        vectorized=True,
        batch=100,
        method="percentile",
        random_state=np.random.default_rng(0),
    )
    seeds = float(per_seed.mean(axis=1).std(ddof=1) / np.sqrt(len(models))) if len(models) > 1 else 0.0
    return float(difference.mean()), float(np.hypot(boot.standard_error, seeds))


def _sanity(model: Sizes, reference: Sizes, n_sizes: int) -> dict[str, Any]:
    """Monotonicity (+5 kg never a smaller size) and spread of recommendations."""
    spread = compare.recommendation_spread(model.reference, n_sizes)
    n = len(model.reference)
    return {
        "monotonicity_violation_rate": float(np.mean(model.heavier < model.reference)) if n else 0.0,
        "full_monotonicity_violation_rate": float(np.mean(reference.heavier < reference.reference)) if n else 0.0,
        "top_size_share": spread["top_size_share"],
        "full_top_size_share": compare.recommendation_spread(reference.reference, n_sizes)["top_size_share"],
        "distinct_sizes": spread["distinct_sizes"],
    }


def _segment_rows(drifts: np.ndarray, floors: np.ndarray, masks: list[tuple[str, str, np.ndarray]]) -> pd.DataFrame:
    """Per segment: size, changed rate, floor, excess and its standard error."""
    rows = []
    for order, (kind, name, mask) in enumerate(masks):
        n = int(mask.sum())
        mean, shoppers, seeds = _mean_and_errors(drifts[:, mask], floors[:, mask])
        rows.append(
            {
                "segment_kind": kind,
                "segment": name,
                "segment_order": order,
                "n": n,
                "changed_rate": float(drifts[:, mask].mean()) if n else 0.0,
                "noise_floor": float(floors[:, mask].mean()) if n else 0.0,
                "excess_drift": mean,
                "excess_drift_se": float(np.hypot(shoppers, seeds)),
            }
        )
    return pd.DataFrame(rows)
