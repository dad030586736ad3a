"""The findings in words: money, percentages, the pick as a sentence, a shop's finding as a title,
and the assumptions behind the numbers — shared by the charts, the report and the notebooks.

Rates are fractions in the data (0.012) and percentages in words (1.2%); differences of rates are
percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import fraction_label

__all__ = [
    "assumptions_text",
    "billing_words",
    "money",
    "money_sentence",
    "percent",
    "pick_rule",
    "pick_sentence",
    "pick_verdict",
    "portfolio_headline",
    "points",
    "row_count",
    "shop_finding",
]


def money(value: float) -> str:
    """US dollars with cents and thousands separators: ``$1,234.56``; amounts under a cent keep two
    significant digits (``$0.0012``) so a small saving never reads as nothing."""
    if value is None or not np.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    if 0 < abs(value) < 0.005:
        return f"{sign}${abs(value):.2g}"
    return f"{sign}${abs(value):,.2f}"


def money_sentence(pick: Mapping[str, Any]) -> str:
    """Where the money comes from and what the experiment cost, in one line."""
    figures = pick.get("money") or {}
    if not figures:
        return ""
    full, chosen = pick.get("full") or {}, pick.get("pick") or {}
    rows = figures.get("production_rows")
    where = f"at {rows:,.0f} purchases" if rows else "at the shop's volume"
    if figures.get("production_rows_source") == "given":
        where += " (its production volume)"
    if figures.get("projected"):
        where += f", projected beyond the {row_count(figures.get('largest_rows_measured') or 0)} rows the experiment trained"
    source = "the team's pipeline rate" if figures.get("time_source") == "pipeline" else "this experiment's metered trainings"
    parts = [
        f"Money {where}, seconds from {source}: {money(full.get('cost_usd_per_month', float('nan')))} → "
        f"{money(chosen.get('cost_usd_per_month', float('nan')))} per month"
    ]
    growth = figures.get("weekly_growth")
    if pick_verdict(pick) == "reduced" and figures.get("saving_usd_per_month_12m") is not None and growth is not None:
        parts.append(f"saving in 12 months at {growth:+.1%} a week: {money(figures['saving_usd_per_month_12m'])} per month")
    cost = pick.get("experiment_cost_usd")
    if cost is not None:
        weeks = pick.get("break_even_weeks")
        paid = f"paid back after {weeks:.1f} weekly retrainings" if weeks is not None else "no saving to pay it back"
        parts.append(f"this experiment cost {money(cost)}, {paid}")
    return "; ".join(parts) + "."


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


def pick_rule(pick: Mapping[str, Any]) -> PickRule:
    """The rule a stored pick was made under (older pick.json files kept it at the top level)."""
    return PickRule.from_dict(pick.get("rule") or pick)


def pick_verdict(pick: Mapping[str, Any]) -> str:
    """``reduced``, ``full`` or ``indeterminate``."""
    return str(pick.get("verdict") or ("reduced" if pick.get("reduced") else "full"))


def pick_sentence(pick: Mapping[str, Any]) -> str:
    """The pick in words, e.g. 'train on 1/4 (25%) of the data: $3.20/month saved; 0.6% of shoppers
    (0.4–0.8%) would get another size'."""
    chosen = pick.get("pick") or {}
    verdict = pick_verdict(pick)
    if verdict == "indeterminate":
        return (
            f"can't tell: the model disagrees with itself for {percent(pick.get('noise_floor') or 0.0)} of "
            "shoppers when retrained, so no fraction can be judged"
        )
    if verdict == "reduced":
        return (
            f"train on {fraction_label(pick['picked_fraction'])} of the data: "
            f"{money(pick.get('saving_usd_per_month', float('nan')))}/month saved; "
            f"{percent(chosen['changed_rate'])} of shoppers "
            f"({percent(chosen['changed_rate_ci_low'])[:-1]}–{percent(chosen['changed_rate_ci_high'])}) "
            f"would get another size"
        )
    if len(pick.get("fractions") or []) <= 1:
        return "no smaller fraction was tried: only the full data was trained"
    gap = pick.get("gap")
    if gap is None:
        return "no smaller fraction suffices (some groups of shoppers change too much, or a check fails)"
    return f"no smaller fraction suffices (the next one is {points(gap)} beyond the tolerance)"


def shop_finding(pick: Mapping[str, Any]) -> str:
    """A title that states the shop's finding."""
    shop = pick.get("shop_id", "")
    verdict = pick_verdict(pick)
    if verdict == "indeterminate":
        return f"{shop}: can't tell — the model's own retraining noise ({percent(pick.get('noise_floor') or 0.0)}) is too high"
    if verdict == "reduced":
        saving = pick.get("saving_usd_per_month", float("nan"))
        return (
            f"{shop}: {fraction_label(pick['picked_fraction'])} of the data is enough — "
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
    if reduced == 0:
        return "No shop can train on less data without changing too many recommendations"
    if saving_per_month > 0:
        return (
            f"{reduced} of {shops} shop{'s' if shops != 1 else ''} can train on less data: "
            f"{money(saving_per_month * 12)} per year saved ({money(saving_per_month)} per month)"
        )
    return (
        f"{reduced} of {shops} shop{'s' if shops != 1 else ''} can train on less data, "
        "but at these prices it saves no money"
    )


def assumptions_text(pick: Mapping[str, Any]) -> str:
    """The assumptions behind a shop's numbers, for the foot of its page."""
    price = pick.get("price_usd_per_hour")
    machine = pick.get("machine", "the training machine")
    rule = pick_rule(pick)
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
    parts.append(
        f"tolerance {points(rule.tolerance)} above the {percent(pick.get('noise_floor') or 0.0)} "
        f"noise floor at {rule.confidence:.0%} confidence"
    )
    parts.append(
        f"groups of at least {rule.min_segment_size:,} shoppers within {points(rule.segment_tolerance)}; "
        f"holdout accuracy within {points(rule.accuracy_tolerance)}"
    )
    if pick.get("shopper_id_from_row"):
        parts.append(
            "no shopper ids: each purchase counted as its own shopper, so a returning shopper may sit in both "
            "the reference population and the training rows"
        )
    if pick.get("model"):
        per_fraction = pick.get("models_per_fraction")
        count = f", {per_fraction} model{'s' if per_fraction != 1 else ''} per fraction" if per_fraction else ""
        holdout = f", {pick['holdout']} holdout" if pick.get("holdout") else ""
        parts.append(f"model {pick['model']}, {pick.get('sampling', '')} sampling{count}{holdout}")
    return "Assumptions: " + "; ".join(parts) + "."


def billing_words(billing: Any) -> str:
    if not billing:
        return ""
    if isinstance(billing, Mapping):
        return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in billing.items())
    return str(billing)
