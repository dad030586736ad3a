"""The pick: the smallest sufficient fraction of a shop's data, and the verdict in words.

Fractions are judged from the largest down (fixed-sequence testing: each test at the stated
confidence, no correction for several looks, because testing stops at the first failure). A
fraction **qualifies** when

1. a one-sided test at ``confidence`` shows its excess drift over the noise floor is within
   ``tolerance``: ``excess + z · se <= tolerance`` (:mod:`toolkit.experiment.drift_test` gives the
   excess and its standard error, from the reference shoppers and the seeds);
2. every segment of at least ``min_segment_size`` reference shoppers passes the same test against
   ``segment_tolerance``;
3. holdout accuracy, exact and within one size, is not worse than the full data's by more than
   ``accuracy_tolerance``: ``difference - z · se >= -accuracy_tolerance`` (paired bootstrap);
4. it passes the sanity checks: at most ``max_monotonicity_violation`` (or the full data's own rate)
   of shoppers told a smaller size when 5 kg heavier, and recommendations that do not collapse onto
   one size (the most common size's share at most ``max_collapse`` above the full data's).

The pick is the smallest fraction that qualifies with every larger fraction qualifying too. The
verdict is ``reduced`` (a smaller fraction suffices), ``full`` (the shop honestly needs all of its
data: the next smaller fraction failed, and by how much is stated) or ``indeterminate`` (the
model's own seed-to-seed noise floor is above ``max_noise_floor``: no fraction can be judged finer
than that). Everything here reads the stored tables, so a re-pick needs no retraining.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.experiment.config import PickRule

__all__ = [
    "Crossing",
    "FractionVerdict",
    "Pick",
    "drift_crossing",
    "drift_curve",
    "fraction_label",
    "judge",
    "pick_smallest_sufficient",
    "segment_verdicts",
    "segment_words",
]

VERDICTS = ("reduced", "full", "indeterminate")


def fraction_label(fraction: float) -> str:
    """A fraction as people say it: 0.125 → '1/8 (12.5%)', 1.0 → 'all (100%)'."""
    if fraction >= 1:
        return "all (100%)"
    denominator = 1 / fraction
    share = f"{fraction * 100:.3g}%"
    if abs(denominator - round(denominator)) < 1e-9:
        return f"1/{round(denominator)} ({share})"
    return share


@dataclass(frozen=True)
class FractionVerdict:
    """Whether one fraction qualifies, with the figures behind it and the reasons when it does not."""

    fraction: float
    qualifies: bool
    train_rows: float
    changed_rate: float
    changed_rate_ci_low: float
    changed_rate_ci_high: float
    excess_drift: float
    excess_drift_upper: float
    exact_accuracy_diff: float
    cost_usd_per_month: float
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FractionVerdict:
        values = {name: data.get(name, float("nan")) for name in cls.__dataclass_fields__}
        values["reasons"] = tuple(data.get("reasons") or ())
        values["qualifies"] = bool(data.get("qualifies"))
        return cls(**values)


@dataclass(frozen=True)
class Crossing:
    """The fraction where the fitted drift curve crosses the threshold, with its interval."""

    fraction: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Pick:
    """The verdict and why; ``to_dict()`` is what pick.json stores, ``from_dict`` reads it back."""

    shop_id: str
    verdict: str
    headline: str
    reasons: tuple[str, ...]
    picked_fraction: float
    rule: PickRule
    noise_floor: float
    threshold: float
    full: dict[str, float]
    pick: dict[str, float]
    saving_usd_per_month: float
    gap: float | None
    crossing: Crossing | None
    fractions: tuple[FractionVerdict, ...] = ()
    untested_fractions: tuple[float, ...] = ()
    #: False with a single full-data model: the floor could not be measured and is taken as 0
    noise_floor_measured: bool = True
    #: segments with fewer than ``min_segment_size`` reference shoppers: shown, never judged
    unjudged_segments: tuple[dict[str, Any], ...] = ()

    @property
    def reduced(self) -> bool:
        return self.verdict == "reduced"

    @property
    def explanation(self) -> str:
        """The headline and its reasons in one paragraph."""
        return " ".join([self.headline, *self.reasons])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rule"] = self.rule.to_dict()
        data["reduced"] = self.reduced
        data["explanation"] = self.explanation
        data["fractions"] = [{**asdict(v), "reasons": list(v.reasons)} for v in self.fractions]
        for key in ("reasons", "untested_fractions", "unjudged_segments"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pick:
        """A stored pick (pick.json) as the typed object every reader uses."""
        crossing = data.get("crossing")
        return cls(
            shop_id=str(data.get("shop_id", "")),
            verdict=str(data.get("verdict") or ("reduced" if data.get("reduced") else "full")),
            headline=str(data.get("headline") or data.get("explanation") or ""),
            reasons=tuple(data.get("reasons") or ()),
            picked_fraction=float(data.get("picked_fraction", 1.0)),
            rule=PickRule.from_dict(data.get("rule") or data),
            noise_floor=float(data.get("noise_floor") or 0.0),
            threshold=float(data.get("threshold") or 0.0),
            full=dict(data.get("full") or {}),
            pick=dict(data.get("pick") or {}),
            saving_usd_per_month=float(data.get("saving_usd_per_month") or 0.0),
            gap=data.get("gap"),
            crossing=Crossing(**crossing) if isinstance(crossing, Mapping) else None,
            fractions=tuple(FractionVerdict.from_dict(v) for v in data.get("fractions") or ()),
            untested_fractions=tuple(float(f) for f in data.get("untested_fractions") or ()),
            noise_floor_measured=bool(data.get("noise_floor_measured", True)),
            unjudged_segments=tuple(data.get("unjudged_segments") or ()),
        )


def judge(fractions: pd.DataFrame, segments: pd.DataFrame | None, rule: PickRule) -> list[FractionVerdict]:
    """Each fraction of the table under ``rule``, largest first."""
    z = float(stats.norm.ppf(rule.confidence))
    segment_failures = _segment_failures(segments, rule, z)
    verdicts = []
    for row in fractions.sort_values("fraction", ascending=False).itertuples(index=False):
        fraction = float(row.fraction)
        upper = float(row.excess_drift + z * row.excess_drift_se)
        reasons: list[str] = []
        if fraction < 1.0:
            if upper > rule.tolerance:
                reasons.append(
                    f"{row.changed_rate:.1%} of shoppers would be told another size: "
                    f"{upper * 100:.1f} points above the noise floor at {rule.confidence:.0%} confidence, "
                    f"more than the {rule.tolerance * 100:.1f} allowed"
                )
            reasons.extend(segment_failures.get(fraction, []))
            for kind, words in (("exact", "exact"), ("within1", "within one size")):
                low = float(getattr(row, f"{kind}_accuracy_diff") - z * getattr(row, f"{kind}_accuracy_diff_se"))
                if low < -rule.accuracy_tolerance:
                    reasons.append(
                        f"holdout accuracy ({words}) may fall by up to {-low * 100:.1f} points against the full "
                        f"data's (allowed {rule.accuracy_tolerance * 100:.1f})"
                    )
            allowed = max(rule.max_monotonicity_violation, float(row.full_monotonicity_violation_rate))
            if row.monotonicity_violation_rate > allowed:
                reasons.append(
                    f"{row.monotonicity_violation_rate:.1%} of shoppers get a smaller size when 5 kg heavier "
                    f"(allowed {allowed:.1%})"
                )
            if row.top_size_share > row.full_top_size_share + rule.max_collapse:
                reasons.append(
                    f"recommendations collapse: {row.top_size_share:.0%} get one size against "
                    f"{row.full_top_size_share:.0%} with all the data"
                )
        verdicts.append(
            FractionVerdict(
                fraction=fraction,
                qualifies=not reasons,
                train_rows=float(row.train_rows),
                changed_rate=float(row.changed_rate),
                changed_rate_ci_low=float(max(row.changed_rate - z * row.excess_drift_se, 0.0)),
                changed_rate_ci_high=float(min(row.changed_rate + z * row.excess_drift_se, 1.0)),
                excess_drift=float(row.excess_drift),
                excess_drift_upper=upper,
                exact_accuracy_diff=float(row.exact_accuracy_diff),
                cost_usd_per_month=float(getattr(row, "cost_usd_per_month", float("nan"))),
                reasons=tuple(reasons),
            )
        )
    return verdicts


def drift_curve(fractions: pd.DataFrame, segments: pd.DataFrame | None, rule: PickRule) -> pd.DataFrame:
    """The per-fraction table the charts, the notebook and the report draw: :func:`judge` as rows,
    smallest fraction first, with the noise floor beside each."""
    verdicts = judge(fractions, segments, rule)
    table = pd.DataFrame([{**asdict(v), "reasons": "; ".join(v.reasons)} for v in verdicts])
    floors = fractions.set_index("fraction")["noise_floor"]
    table["noise_floor"] = table["fraction"].map(floors)
    return table.sort_values("fraction", ignore_index=True)


def pick_smallest_sufficient(
    fractions: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    rule: PickRule | None = None,
    *,
    untested: tuple[float, ...] = (),
) -> Pick:
    """The pick from the stored tables (``fractions.parquet``, ``segments.parquet``) under ``rule``."""
    rule = rule or PickRule()
    if fractions.empty or 1.0 not in set(fractions["fraction"]):
        raise ValueError("fractions: expected the full data's row (fraction 1.0)")
    full_row = fractions[fractions["fraction"] == 1.0].iloc[0]
    noise_floor = float(full_row["noise_floor"])
    measured = bool(full_row.get("noise_floor_measured", True))
    verdicts = judge(fractions, segments, rule)
    full = verdicts[0]
    picked = full
    for verdict in verdicts:
        if not verdict.qualifies:
            break
        picked = verdict
    smaller = [v for v in verdicts if v.fraction < 1.0]
    first_failure = next((v for v in smaller if not v.qualifies), None)
    if noise_floor > rule.max_noise_floor:
        verdict_name, picked = "indeterminate", full
    else:
        verdict_name = "reduced" if picked.fraction < 1.0 else "full"
    gap = None
    if verdict_name == "full" and first_failure is not None and first_failure.excess_drift_upper > rule.tolerance:
        gap = first_failure.excess_drift_upper - rule.tolerance
    threshold = noise_floor + rule.tolerance
    saving = full.cost_usd_per_month - picked.cost_usd_per_month
    headline, reasons = _words(verdict_name, picked, first_failure, smaller, untested, rule, noise_floor, saving, measured)
    unjudged = _unjudged_segments(segments, rule.min_segment_size)
    return Pick(
        shop_id=str(fractions["shop_id"].iloc[0]) if "shop_id" in fractions else "",
        verdict=verdict_name,
        headline=headline,
        reasons=tuple(reasons),
        picked_fraction=picked.fraction,
        rule=rule,
        noise_floor=noise_floor,
        threshold=threshold,
        full=_costs(full),
        pick={
            **_costs(picked),
            "changed_rate": picked.changed_rate,
            "changed_rate_ci_low": picked.changed_rate_ci_low,
            "changed_rate_ci_high": picked.changed_rate_ci_high,
            "excess_drift": picked.excess_drift,
            "excess_drift_upper": picked.excess_drift_upper,
        },
        saving_usd_per_month=saving,
        gap=gap,
        crossing=drift_crossing(fractions, threshold, rule.confidence),
        fractions=tuple(verdicts),
        untested_fractions=tuple(sorted(untested, reverse=True)),
        noise_floor_measured=measured,
        unjudged_segments=tuple(unjudged),
    )


def drift_crossing(
    fractions: pd.DataFrame, threshold: float, confidence: float = 0.95, draws: int = 4000
) -> Crossing | None:
    """Where the drift curve would cross ``threshold``, with an interval at ``confidence``.

    Fits ``log(changed_rate) = a - b·log(fraction)`` (drift falling as a power of the data) on the
    fractions below 1 and solves for the threshold; the interval comes from drawing the fit's
    coefficients from their estimated sampling distribution. ``None`` when fewer than three
    fractions have a positive drift or drift does not fall with data.
    """
    curve = fractions[fractions["fraction"] < 1.0].groupby("fraction")["changed_rate"].mean()
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


# -- pieces ---------------------------------------------------------------------------------------
#: The order segment kinds are shown in: the tails first (the minority an average model fails first).
SEGMENT_KIND_ORDER: tuple[str, ...] = ("tail", "gender", "category", "height_band", "weight_band")


def segment_verdicts(segments: pd.DataFrame | None, rule: PickRule, fraction: float | None = None) -> pd.DataFrame:
    """The one per-segment table: each segment's drift, floor, excess and test at ``rule``.

    Columns: ``fraction, segment_kind, segment, n, changed_rate, changed_rate_ci_low,
    changed_rate_ci_high, noise_floor, excess_drift, excess_drift_upper, limit, judged, within``;
    ``limit`` is the changed rate allowed (floor + ``segment_tolerance``), ``judged`` whether the
    segment is large enough to judge. Ordered tails first, then gender, category, height and weight
    bands, bands by value. The pick, the charts, the notebook and the report all read this table.
    """
    columns = [
        "fraction", "segment_kind", "segment", "n", "changed_rate", "changed_rate_ci_low", "changed_rate_ci_high",
        "noise_floor", "excess_drift", "excess_drift_upper", "limit", "judged", "within",
    ]
    if segments is None or segments.empty:
        return pd.DataFrame(columns=columns)
    rows = segments if fraction is None else segments[np.isclose(segments["fraction"], fraction)]
    z = float(stats.norm.ppf(rule.confidence))
    se = rows["excess_drift_se"]
    table = rows.assign(
        changed_rate_ci_low=(rows["changed_rate"] - z * se).clip(lower=0.0),
        changed_rate_ci_high=(rows["changed_rate"] + z * se).clip(upper=1.0),
        excess_drift_upper=rows["excess_drift"] + z * se,
        limit=rows["noise_floor"] + rule.segment_tolerance,
        judged=rows["n"] >= rule.min_segment_size,
    )
    table["within"] = (table["excess_drift_upper"] <= rule.segment_tolerance) | (table["fraction"] >= 1.0)
    kind_order = table["segment_kind"].map({kind: i for i, kind in enumerate(SEGMENT_KIND_ORDER)}).fillna(len(SEGMENT_KIND_ORDER))
    order = table.assign(_kind=kind_order).sort_values(
        ["fraction", "_kind", "segment_order" if "segment_order" in table else "segment"], ascending=[False, True, True], kind="stable"
    )
    return order[columns].reset_index(drop=True)


def _segment_failures(segments: pd.DataFrame | None, rule: PickRule, z: float) -> dict[float, list[str]]:
    """Per fraction, a reason for each judged segment whose excess drift fails its test, worst first."""
    table = segment_verdicts(segments, rule)
    failing = table[table["judged"] & ~table["within"]].sort_values("excess_drift_upper", ascending=False, kind="stable")
    failures: dict[float, list[str]] = {}
    for row in failing.itertuples(index=False):
        failures.setdefault(float(row.fraction), []).append(
            f"{segment_words(row.segment_kind, row.segment)} ({row.n:,} shoppers): {row.changed_rate:.1%} told "
            f"another size, {row.excess_drift_upper * 100:.1f} points above their floor (allowed {rule.segment_tolerance * 100:.1f})"
        )
    return failures


def segment_words(kind: str, segment: str) -> str:
    """A segment as a reader names it: 'women', 'tops', 'height 165–175 cm', 'the tallest 5%'."""
    if kind == "gender":
        return {"female": "women", "male": "men"}.get(segment, f"gender {segment}")
    if kind == "category":
        return segment
    if kind == "tail":
        return f"the {segment}"
    return f"{kind.split('_')[0]} {segment}"


def _unjudged_segments(segments: pd.DataFrame | None, min_segment_size: int) -> list[dict[str, Any]]:
    if segments is None or segments.empty:
        return []
    sizes = segments.groupby(["segment_kind", "segment"], sort=False)["n"].max().reset_index()
    small = sizes[sizes["n"] < min_segment_size]
    return [{"segment_kind": r.segment_kind, "segment": r.segment, "n": int(r.n)} for r in small.itertuples(index=False)]


def _points(share: float) -> str:
    value = share * 100
    return "1 point" if abs(value - 1) < 1e-9 else f"{value:.1f} points"


def _costs(verdict: FractionVerdict) -> dict[str, float]:
    return {"fraction": verdict.fraction, "train_rows": verdict.train_rows, "cost_usd_per_month": verdict.cost_usd_per_month}


def _words(
    verdict: str,
    picked: FractionVerdict,
    first_failure: FractionVerdict | None,
    smaller: list[FractionVerdict],
    untested: tuple[float, ...],
    rule: PickRule,
    noise_floor: float,
    saving: float,
    measured: bool,
) -> tuple[str, list[str]]:
    """A one-sentence headline and the few reasons that decided it."""
    level = f"{rule.confidence:.0%}"
    reasons: list[str] = []
    if verdict == "indeterminate":
        headline = (
            f"Can't tell: the model disagrees with itself for {noise_floor:.1%} of shoppers when simply "
            f"retrained, so no fraction of the data can be judged finer than that."
        )
        reasons.append(
            f"The limit is {rule.max_noise_floor:.0%}. Try more seeds (a larger consensus lowers the floor) "
            "or a stable model (keras_ordinal or logreg: the same data gives the same model)."
        )
        return headline, reasons
    if verdict == "reduced":
        headline = (
            f"Train on {fraction_label(picked.fraction)} of the data: {picked.changed_rate:.1%} of shoppers "
            f"would be told another size, within {_points(rule.tolerance)} of the {noise_floor:.1%} retraining "
            f"noise at {level} confidence; saves ${saving:,.2f} per month."
        )
        if first_failure is not None:
            reasons.append(f"The next smaller fraction, {fraction_label(first_failure.fraction)}, fails: {first_failure.reasons[0]}.")
        elif untested:
            reasons.append(f"Smaller fractions were not trained ({', '.join(fraction_label(f) for f in untested)}).")
        else:
            reasons.append("It is the smallest fraction tried.")
    elif not smaller:
        headline = "Needs all of its data as far as this run can tell: no smaller fraction was trained."
    else:
        closest = first_failure or smaller[0]
        headline = f"Needs all of its data: the largest smaller fraction, {fraction_label(closest.fraction)}, fails."
        reasons.extend(f"{reason[0].upper()}{reason[1:]}." for reason in closest.reasons[:3])
        if len(closest.reasons) > 3:
            reasons.append(f"And {len(closest.reasons) - 3} more (see the verdict table).")
    if not measured:
        reasons.append("The noise floor was not measured (one full-data model): it is taken as 0.")
    return headline, reasons
