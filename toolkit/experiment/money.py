"""What each fraction costs at the shop's real volume, today and in 12 months, and what the
experiment itself cost.

The experiment trains on the rows in the file; the shop's production job trains on its production
volume (``production_rows``: the sweep file's or the notebook's, by default the rows in the file),
growing by ``weekly_growth`` (by default measured from the shop's own weekly purchases over its last
26 weeks). The fitted time curve (:class:`~toolkit.experiment.pricing.TimeCurve`) — or the team's
own ``pipeline_seconds_per_1k_rows`` — turns rows into seconds, the pricing's billing rule turns
seconds into dollars. Money at a volume beyond the largest training measured is a *projection*, and
is marked so. The interval of a cost comes from the uncertainty of the curve's slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.experiment.pricing import Pricing, TimeCurve

__all__ = ["GROWTH_WEEKS", "Volume", "break_even_weeks", "experiment_cost_usd", "fraction_costs", "measured_weekly_growth"]

#: How many recent weeks the measured growth is fitted on.
GROWTH_WEEKS = 26
#: Weeks in the "in 12 months" projection.
YEAR_WEEKS = 52


@dataclass(frozen=True)
class Volume:
    """The shop's production volume and its growth, with where each figure comes from."""

    production_rows: float
    production_rows_source: str
    weekly_growth: float
    weekly_growth_source: str

    @property
    def rows_in_12_months(self) -> float:
        return self.production_rows * (1.0 + self.weekly_growth) ** YEAR_WEEKS


def measured_weekly_growth(event_time: pd.Series) -> tuple[float, str]:
    """Growth per week of the shop's purchases, from a log-linear fit of its last 26 full weeks.

    Returns the growth (0.004 = 0.4% a week) and where it comes from; fewer than 8 full weeks
    give 0 ("too little history").
    """
    weeks = pd.DatetimeIndex(event_time).tz_convert("UTC").tz_localize(None).to_period("W-SUN")
    counts = pd.Series(1, index=weeks).groupby(level=0).sum()
    if len(counts) > 2:
        counts = counts.iloc[1:-1]  # the first and last weeks are usually partial
    counts = counts.iloc[-GROWTH_WEEKS:]
    if len(counts) < 8 or (counts <= 0).any():
        return 0.0, "0: too little weekly history to measure growth"
    positions = np.asarray([(p - counts.index[0]).n for p in counts.index], dtype=np.float64)
    fit = stats.linregress(positions, np.log(counts.to_numpy(dtype=np.float64)))
    return float(np.expm1(fit.slope)), f"measured over the last {len(counts)} weeks"


def fraction_costs(
    fractions: pd.Series,
    curve: TimeCurve,
    pricing: Pricing,
    machine: str,
    volume: Volume,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per fraction, one training at the production volume: rows, seconds, dollars per training
    and per month with their interval, and the same in 12 months at the growth."""
    share = fractions.to_numpy(dtype=np.float64)
    out = {"fraction": share}
    low_slope, high_slope = curve.slope_interval(confidence)
    for suffix, rows in (("", volume.production_rows * share), ("_12m", volume.rows_in_12_months * share)):
        seconds = np.asarray(pricing.training_seconds(rows, curve, machine), dtype=np.float64)
        monthly = np.asarray(pricing.cost_usd_per_month(seconds, machine), dtype=np.float64)
        out[f"production_train_rows{suffix}"] = rows
        out[f"seconds_per_training{suffix}"] = seconds
        out[f"cost_usd_per_month{suffix}"] = monthly
        if pricing.time_source(machine) == "metered":
            out[f"cost_usd_per_month{suffix}_low"] = pricing.cost_usd_per_month(curve.seconds(rows, slope=low_slope), machine)
            out[f"cost_usd_per_month{suffix}_high"] = pricing.cost_usd_per_month(curve.seconds(rows, slope=high_slope), machine)
        else:  # the team's own rate: no fit, no interval
            out[f"cost_usd_per_month{suffix}_low"] = monthly
            out[f"cost_usd_per_month{suffix}_high"] = monthly
    out["cost_usd_per_training"] = np.asarray(pricing.cost_usd_per_training(out["seconds_per_training"], machine))
    out["projected"] = out["production_train_rows"] > curve.largest_rows * (1 + 1e-9)
    return pd.DataFrame(out)


def experiment_cost_usd(train_seconds: pd.Series, pricing: Pricing, machine: str) -> float:
    """What the experiment's trainings cost under the pricing's rule: one machine run for all of
    them (batch), or one billed run each (per job)."""
    seconds = train_seconds.to_numpy(dtype=np.float64)
    if pricing.mode == "batch":
        return float(pricing.billed_seconds(float(seconds.sum())) * pricing.usd_per_second(machine))
    return float(np.sum(pricing.cost_usd_per_training(seconds, machine)))


def break_even_weeks(experiment_cost: float, saving_usd_per_month: float) -> float | None:
    """Weeks of retraining on the smaller data until the saving has paid for the experiment
    (None without a saving)."""
    weekly = saving_usd_per_month * 12.0 / YEAR_WEEKS
    if not weekly > 0:
        return None
    return float(experiment_cost / weekly)
