"""The pick: the smallest sufficient fraction of a shop's data.

A fraction *qualifies* when, for every seed trained on it:

1. its drift against the full-data model is within tolerance: the upper end of the changed-rate
   interval (at the stated confidence) is at most ``noise_floor + tolerance``;
2. every segment with at least ``min_segment_size`` shoppers stays within its own tolerance above
   that segment's noise floor;
3. it passes the sanity checks: monotonicity violations (+5 kg at the same height giving a smaller
   size) at most ``max_monotonicity_violation`` or no worse than the full-data model, and its
   recommendations do not collapse onto one size (the most common size's share at most
   ``max_collapse`` points above the full-data model's).

At full data the first seed's model is the reference itself; the other seeds' full-data models
give the drift shown there (the noise floor). The interval shown for a fraction spans every seed's
interval (lowest lower bound to highest upper bound): qualifying needs the worst seed within bounds.

The pick is the smallest fraction that qualifies *and above which every larger fraction tried also
qualifies*, so a lucky dip in a noisy curve is never picked. Fraction 1.0 is the full data the shop
trains on today and always qualifies. Intervals are recomputed from the stored counts, so a re-pick
under another tolerance or confidence needs no retraining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toolkit.experiment.compare import wilson_interval
from toolkit.errors import ParamsError

__all__ = [
    "Crossing",
    "FractionVerdict",
    "Pick",
    "drift_crossing",
    "drift_per_fraction",
    "pick_smallest_sufficient",
    "without_reference_run",
]


@dataclass(frozen=True)
class FractionVerdict:
    """Whether one fraction qualifies, with the figures behind it and the reasons when it does not."""

    fraction: float
    qualifies: bool
    train_rows: float
    changed_rate: float
    changed_rate_ci_low: float
    changed_rate_ci_high: float
    cost_usd_per_month: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Crossing:
    """The fraction where the fitted drift curve crosses the threshold, with its interval."""

    fraction: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Pick:
    """The smallest sufficient fraction and why; ``to_dict()`` is what pick.json stores."""

    shop_id: str
    picked_fraction: float
    reduced: bool
    explanation: str
    tolerance: float
    confidence: float
    segment_tolerance: float
    min_segment_size: int
    noise_floor: float
    threshold: float
    full: dict[str, float]
    pick: dict[str, float]
    saving_usd_per_month: float
    gap: float | None
    crossing: Crossing | None
    fractions: list[FractionVerdict] = field(default_factory=list)
    #: False with a single seed: no second full-data model, so the floor is taken as 0
    noise_floor_measured: bool = True
    #: segments with fewer than ``min_segment_size`` reference shoppers: shown, never judged
    unjudged_segments: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fractions"] = [
            {**asdict(verdict), "reasons": list(verdict.reasons)} for verdict in self.fractions
        ]
        return data


def pick_smallest_sufficient(
    runs: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    *,
    tolerance: float = 0.01,
    confidence: float = 0.95,
    segment_tolerance: float = 0.03,
    min_segment_size: int = 200,
    max_monotonicity_violation: float = 0.02,
    max_collapse: float = 0.15,
) -> Pick:
    """Pick the smallest sufficient fraction from stored results (see the module docstring)."""
    _check_params(tolerance, confidence, segment_tolerance)
    if runs.empty:
        raise ParamsError("runs: expected at least one trained fraction, got an empty table")
    runs = _with_intervals(runs, confidence)
    if 1.0 not in set(runs["fraction"]):
        raise ParamsError("runs: expected the full-data model (fraction 1.0) among the fractions")
    full_seeds = runs.loc[runs["fraction"] == 1.0, "seed"].nunique() if "seed" in runs else 1
    noise_floor = float(runs["noise_floor"].iloc[0]) if "noise_floor" in runs else 0.0
    noise_floor = 0.0 if np.isnan(noise_floor) else noise_floor
    threshold = noise_floor + tolerance
    full_runs = runs[runs["fraction"] == 1.0]
    full_violation = float(full_runs["monotonicity_violation_rate"].mean())
    full_top_share = float(full_runs["top_size_share"].mean())
    segment_failures = _segment_failures(
        segments, confidence, segment_tolerance, min_segment_size
    )

    curve = drift_per_fraction(runs, confidence)
    verdicts = []
    for (fraction, group), point in zip(runs.groupby("fraction", sort=True), curve.itertuples()):
        reasons: list[str] = []
        high = float(point.changed_rate_ci_high)
        if fraction < 1.0:
            if high > threshold:
                reasons.append(
                    f"drift upper bound {high:.1%} is above the threshold {threshold:.1%}"
                )
            reasons.extend(segment_failures.get(float(fraction), []))
            violation = float(group["monotonicity_violation_rate"].max())
            if violation > max(max_monotonicity_violation, full_violation):
                reasons.append(
                    f"{violation:.1%} of shoppers get a smaller size when 5 kg heavier "
                    f"(allowed {max(max_monotonicity_violation, full_violation):.1%})"
                )
            top_share = float(group["top_size_share"].max())
            if top_share > full_top_share + max_collapse:
                reasons.append(
                    f"recommendations collapse: {top_share:.0%} get one size "
                    f"against {full_top_share:.0%} with full data"
                )
        verdicts.append(
            FractionVerdict(
                fraction=float(fraction),
                qualifies=not reasons,
                train_rows=float(point.train_rows),
                changed_rate=float(point.changed_rate),
                changed_rate_ci_low=float(point.changed_rate_ci_low),
                changed_rate_ci_high=high,
                cost_usd_per_month=float(point.cost_usd_per_month),
                reasons=tuple(reasons),
            )
        )

    picked = verdicts[-1]
    for verdict in reversed(verdicts):
        if not verdict.qualifies:
            break
        picked = verdict
    full = verdicts[-1]
    smaller = [v for v in verdicts if v.fraction < 1.0]
    gap = None  # how far drift is from qualifying; None when drift is not what failed
    if picked.fraction == 1.0 and smaller and smaller[-1].changed_rate_ci_high > threshold:
        gap = smaller[-1].changed_rate_ci_high - threshold
    crossing = drift_crossing(runs, threshold, confidence)
    saving = full.cost_usd_per_month - picked.cost_usd_per_month
    shop_id = str(runs["shop_id"].iloc[0]) if "shop_id" in runs else ""
    unjudged = _unjudged_segments(segments, min_segment_size)
    explanation = _explain(picked, smaller, tolerance, noise_floor, threshold, saving, confidence)
    if full_seeds < 2:
        explanation += " The noise floor was not measured (one seed): it is taken as 0."
    if unjudged:
        smallest = min(unjudged, key=lambda segment: segment["n"])
        explanation += (
            f" {len(unjudged)} segment(s) have fewer than {min_segment_size} reference shoppers and "
            f"were not judged, e.g. {smallest['segment_kind']} '{smallest['segment']}' ({smallest['n']})."
        )
    return Pick(
        shop_id=shop_id,
        picked_fraction=picked.fraction,
        reduced=picked.fraction < 1.0,
        explanation=explanation,
        tolerance=tolerance,
        confidence=confidence,
        segment_tolerance=segment_tolerance,
        min_segment_size=min_segment_size,
        noise_floor=noise_floor,
        threshold=threshold,
        full=_costs(full),
        pick={
            **_costs(picked),
            "changed_rate": picked.changed_rate,
            "changed_rate_ci_low": picked.changed_rate_ci_low,
            "changed_rate_ci_high": picked.changed_rate_ci_high,
        },
        saving_usd_per_month=saving,
        gap=gap,
        crossing=crossing,
        fractions=verdicts,
        noise_floor_measured=full_seeds >= 2,
        unjudged_segments=unjudged,
    )


def drift_crossing(
    runs: pd.DataFrame, threshold: float, confidence: float = 0.95, draws: int = 4000
) -> Crossing | None:
    """Where the drift curve would cross ``threshold``, with an interval at ``confidence``.

    Fits ``log(changed_rate) = a - b·log(fraction)`` (drift falling as a power of the data) on the
    fractions below 1 and solves for the threshold; the interval comes from drawing the fit's
    coefficients from their estimated sampling distribution. ``None`` when fewer than three
    fractions have a positive drift or drift does not fall with data.
    """
    curve = runs[runs["fraction"] < 1.0].groupby("fraction")["changed_rate"].mean()
    curve = curve[curve > 0]
    if len(curve) < 3 or threshold <= 0:
        return None
    x = np.log(curve.index.to_numpy(float))
    y = np.log(curve.to_numpy(float))
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    dof = max(len(x) - 2, 1)
    sigma2 = float(residual @ residual) / dof
    covariance = sigma2 * np.linalg.inv(design.T @ design)
    if coef[1] >= 0:
        return None
    rng = np.random.default_rng(0)
    samples = rng.multivariate_normal(coef, covariance, size=draws, check_valid="ignore")
    falling = samples[:, 1] < 0
    if falling.mean() < 0.5:
        return None
    # Solve in log space and keep the answer within a millionth to a million times the data.
    log_crossing = (np.log(threshold) - samples[falling, 0]) / samples[falling, 1]
    crossing = np.exp(np.clip(log_crossing, -14, 14))
    point = float(np.exp(np.clip((np.log(threshold) - coef[0]) / coef[1], -14, 14)))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(crossing, [tail, 100 - tail])
    return Crossing(fraction=point, ci_low=float(low), ci_high=float(high))


def drift_per_fraction(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per fraction, what the pick judges and the charts draw.

    Mean training rows and monthly cost over every seed; the changed rate's mean over seeds and the
    span of the seeds' intervals at ``confidence`` (recomputed from the stored counts when present).
    At full data the reference run — the first seed's model compared with itself, 0 by
    construction — is left out when other seeds exist: their drift there is the noise floor.
    """
    if {"changed_count", "n_reference"} <= set(runs.columns):
        runs = _with_intervals(runs, confidence)
    costs = runs.groupby("fraction", sort=True).agg(
        train_rows=("train_rows", "mean"),
        cost_usd_per_month=("cost_usd_per_month", "mean"),
        seeds=("seed", "nunique"),
    )
    rates = without_reference_run(runs).groupby("fraction", sort=True).agg(
        changed_rate=("changed_rate", "mean"),
        changed_rate_ci_low=("changed_rate_ci_low", "min"),
        changed_rate_ci_high=("changed_rate_ci_high", "max"),
    )
    return costs.join(rates).reset_index()


def without_reference_run(runs: pd.DataFrame) -> pd.DataFrame:
    """All runs (or segment rows) but the reference run's, when other full-data runs exist."""
    if "reference_run" in runs:
        itself = runs["reference_run"].astype(bool)
    else:  # results without the column: the reference is the smallest seed's full-data run
        itself = (runs["fraction"] == 1.0) & (runs["seed"] == runs["seed"].min())
    others_at_full = (runs["fraction"] == 1.0) & ~itself
    return runs[~itself] if others_at_full.any() else runs


def _check_params(tolerance: float, confidence: float, segment_tolerance: float) -> None:
    if not 0 <= tolerance < 1:
        raise ParamsError(f"tolerance: expected a share between 0 and 1 (0.01 = 1 point), got {tolerance}")
    if not 0 < confidence < 1:
        raise ParamsError(f"confidence: expected a value between 0 and 1 (e.g. 0.95), got {confidence}")
    if not 0 <= segment_tolerance < 1:
        raise ParamsError(
            f"segment_tolerance: expected a share between 0 and 1 (0.03 = 3 points), got {segment_tolerance}"
        )


def _with_intervals(frame: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Recompute the interval columns for ``confidence`` from the stored counts."""
    frame = frame.copy()
    n_column = "n_reference" if "n_reference" in frame else "n"
    low, high = wilson_interval(
        frame["changed_count"].to_numpy(), frame[n_column].to_numpy(), confidence
    )
    frame["changed_rate_ci_low"] = np.atleast_1d(low)
    frame["changed_rate_ci_high"] = np.atleast_1d(high)
    return frame


def _segment_failures(
    segments: pd.DataFrame | None,
    confidence: float,
    segment_tolerance: float,
    min_segment_size: int,
) -> dict[float, list[str]]:
    if segments is None or segments.empty:
        return {}
    checked = _with_intervals(segments[segments["n"] >= min_segment_size], confidence)
    if checked.empty:
        return {}
    floor = checked["noise_floor"].fillna(0.0) if "noise_floor" in checked else 0.0
    checked = checked.assign(limit=floor + segment_tolerance)
    worst = (
        checked.groupby(["fraction", "segment_kind", "segment"], sort=True)
        .agg(high=("changed_rate_ci_high", "max"), limit=("limit", "max"))
        .reset_index()
    )
    failing = worst[(worst["high"] > worst["limit"]) & (worst["fraction"] < 1.0)]
    failures: dict[float, list[str]] = {}
    for row in failing.itertuples(index=False):
        failures.setdefault(float(row.fraction), []).append(
            f"segment {row.segment_kind} '{row.segment}' drift upper bound {row.high:.1%} "
            f"is above its limit {row.limit:.1%}"
        )
    return failures


def _unjudged_segments(segments: pd.DataFrame | None, min_segment_size: int) -> list[dict[str, Any]]:
    if segments is None or segments.empty:
        return []
    sizes = segments.groupby(["segment_kind", "segment"], sort=True)["n"].max().reset_index()
    small = sizes[sizes["n"] < min_segment_size]
    return [
        {"segment_kind": row.segment_kind, "segment": row.segment, "n": int(row.n)}
        for row in small.itertuples(index=False)
    ]


def _costs(verdict: FractionVerdict) -> dict[str, float]:
    return {
        "fraction": verdict.fraction,
        "train_rows": verdict.train_rows,
        "cost_usd_per_month": verdict.cost_usd_per_month,
    }


def _explain(
    picked: FractionVerdict,
    smaller: list[FractionVerdict],
    tolerance: float,
    noise_floor: float,
    threshold: float,
    saving: float,
    confidence: float,
) -> str:
    level = f"{confidence:.0%}"
    if picked.fraction < 1.0:
        return (
            f"Train on {picked.fraction:.1%} of the data ({picked.train_rows:,.0f} rows): "
            f"{picked.changed_rate:.1%} of shoppers would get another size (every seed's {level} "
            f"interval lies within {picked.changed_rate_ci_low:.1%}–{picked.changed_rate_ci_high:.1%}), within "
            f"{tolerance * 100:.1f} points above the {noise_floor:.1%} seed-to-seed noise floor; "
            f"every larger fraction tried qualifies too. Saves ${saving:,.2f} per month."
        )
    if not smaller:
        return "Only the full data was trained: no smaller fraction was tried."
    closest = smaller[-1]
    return (
        f"No smaller fraction suffices: the largest one tried, {closest.fraction:.1%}, "
        f"would change {closest.changed_rate:.1%} of recommendations (worst seed's {level} upper "
        f"bound {closest.changed_rate_ci_high:.1%}; threshold {threshold:.1%} = noise floor "
        f"{noise_floor:.1%} + tolerance {tolerance * 100:.1f} points): " + "; ".join(closest.reasons) + "."
    )
