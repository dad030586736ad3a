"""The findings in words: money, percentages, the pick as a sentence, a shop's finding as a title,
and the assumptions behind the numbers — shared by the charts, the report and the notebooks.

Rates are fractions in the data (0.012) and percentages in words (1.2%); differences of rates are
percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "assumptions_text",
    "billing_words",
    "money",
    "percent",
    "pick_sentence",
    "portfolio_headline",
    "points",
    "row_count",
    "shop_finding",
]


def money(value: float) -> str:
    """US dollars with cents and thousands separators: ``$1,234.56``."""
    if value is None or not np.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def percent(rate: float) -> str:
    """A rate as a percentage: 0.006 → '0.6%', 0.25 → '25%', 1/64 → '1.6%'."""
    value = rate * 100
    if abs(value - round(value)) < 1e-9 and abs(value) >= 1:
        return f"{value:.0f}%"
    return f"{value:.1f}%"


def points(rate: float) -> str:
    """A difference of rates in percentage points: 0.01 → '1.0 point', 0.027 → '2.7 points'."""
    value = rate * 100
    return f"{value:.1f} point" if abs(value - 1) < 0.05 else f"{value:.1f} points"


def row_count(count: float) -> str:
    """A row count, short: 31,250 → '31k', 2,400,000 → '2.4M'."""
    if count >= 1e6:
        return f"{count / 1e6:.1f}M"
    if count >= 1e4:
        return f"{count / 1e3:.0f}k"
    if count >= 1e3:
        return f"{count / 1e3:.1f}k"
    return f"{count:.0f}"


def pick_sentence(pick: Mapping[str, Any]) -> str:
    """The pick in words, e.g. 'train on 25% of the data: $3.20/month saved; 0.6% of shoppers
    (0.4–0.8%) would get another size'."""
    chosen = pick.get("pick") or {}
    if pick.get("reduced"):
        return (
            f"train on {percent(pick['picked_fraction'])} of the data: "
            f"{money(pick.get('saving_usd_per_month', float('nan')))}/month saved; "
            f"{percent(chosen['changed_rate'])} of shoppers "
            f"({percent(chosen['changed_rate_ci_low'])[:-1]}–{percent(chosen['changed_rate_ci_high'])}) "
            f"would get another size"
        )
    if len(pick.get("fractions") or []) <= 1:
        return "no smaller fraction was tried: only the full data was trained"
    gap = pick.get("gap")
    if gap is None:
        return "no smaller fraction suffices (some groups of shoppers change too much, or a sanity check fails)"
    return f"no smaller fraction suffices (best is {points(gap)} above the noise floor + tolerance)"


def shop_finding(pick: Mapping[str, Any]) -> str:
    """A title that states the shop's finding."""
    shop = pick.get("shop_id", "")
    if pick.get("reduced"):
        saving = pick.get("saving_usd_per_month", float("nan"))
        return (
            f"{shop}: {percent(pick['picked_fraction'])} of the data is enough — "
            f"saves {money(saving)} per month ({money(saving * 12)} per year)"
        )
    if pick.get("gap") is None:
        return f"{shop}: needs all of its data — no smaller size tried passes every check"
    return f"{shop}: needs all of its data — every smaller size tried changes too many recommendations"


def portfolio_headline(shops: int, reduced: int, saving_per_month: float) -> str:
    """The portfolio's title: what the shops with results could save, in line with the counts below it
    (``reduced`` of ``shops`` can train on less data)."""
    if shops == 0:
        return "No shop has results yet"
    if saving_per_month > 0:
        return (
            f"Training on less data would save {money(saving_per_month)} per month "
            f"({money(saving_per_month * 12)} per year) across {shops} shop{'s' if shops != 1 else ''}"
        )
    if reduced == 0:
        return "No shop can train on less data without changing too many recommendations"
    return (
        f"{reduced} of {shops} shop{'s' if shops != 1 else ''} can train on less data, "
        "but at these prices it saves no money"
    )


def assumptions_text(pick: Mapping[str, Any]) -> str:
    """The assumptions behind a shop's numbers, for the foot of its page."""
    price = pick.get("price_usd_per_hour")
    machine = pick.get("machine", "the training machine")
    parts = []
    if price is not None:
        parts.append(
            f"{machine} at ${price:.5g}/h ({pick.get('price_source', 'source not stated')}, "
            f"{pick.get('price_date', 'date not stated')})"
        )
    billing = billing_words(pick.get("billing"))
    if billing:
        parts.append(f"billed {billing}")
    cadence = pick.get("cadence")
    per_month = pick.get("trainings_per_month")
    if cadence or per_month:
        every = f"trained {cadence}" if cadence else "trained"
        parts.append(f"{every} ({per_month:.2f} trainings/month)" if per_month else every)
    tolerance = pick.get("tolerance")
    if tolerance is not None:
        parts.append(
            f"tolerance {points(tolerance)} above the {percent(pick.get('noise_floor', 0.0))} "
            f"noise floor at {pick.get('confidence', 0.95):.0%} confidence"
        )
    if pick.get("segment_tolerance") is not None:
        parts.append(
            f"groups of at least {pick.get('min_segment_size', 0):,} shoppers within "
            f"{points(pick['segment_tolerance'])}"
        )
    seeds = pick.get("seeds")
    if pick.get("model"):
        count = f", {len(seeds)} seeds per fraction" if isinstance(seeds, Sequence) else ""
        parts.append(f"model {pick['model']}, {pick.get('sampling', '')} sampling{count}")
    return "Assumptions: " + "; ".join(parts) + "."


def billing_words(billing: Any) -> str:
    if not billing:
        return ""
    if isinstance(billing, Mapping):
        return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in billing.items())
    return str(billing)
