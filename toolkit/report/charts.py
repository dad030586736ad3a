"""Charts a finance reader understands without us in the room.

* :func:`shop_chart` — one shop: training cost per fraction of its data beside recommendation drift
  with its interval, the noise floor, the tolerance line and the pick, in words.
* :func:`portfolio_chart` — every shop: monthly training cost today against at the recommended data
  size, largest saving first, with totals per month and per year.
* :func:`segment_chart` — one shop at one fraction: changed rate per group of shoppers (gender,
  category, height and weight bands, tails) with intervals; small groups are suppressed.

Every chart states its finding in the title, labels its axes with units and currency and prints its
assumptions on the figure. Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot, no
backend chosen here): a notebook shows them inline, ``fig.savefig`` writes PNG or PDF anywhere.
Rates are fractions in the data (0.012) and percentages on the page (1.2%).
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import drift_curve, fraction_label, segment_verdicts
from toolkit.report.findings import (
    assumptions_text,
    money,
    money_sentence,
    percent,
    pick_rule,
    pick_sentence,
    pick_verdict,
    portfolio_headline,
    points,
    row_count,
    shop_finding,
)

__all__ = [
    "PAGE_SIZE",
    "assumptions_text",
    "money",
    "pick_sentence",
    "portfolio_chart",
    "segment_chart",
    "segment_finding",
    "segment_table",
    "shop_chart",
    "shop_finding",
]

# assumptions_text, money, pick_sentence and shop_finding are re-exported from toolkit.report.findings.

#: A4 landscape, inches: every chart is a report page.
PAGE_SIZE = (11.69, 8.27)
#: How many shops the portfolio chart draws (largest savings); the rest are counted in words.
PORTFOLIO_MAX_SHOPS = 30
#: The segment chart keeps room for at least this many groups, so a few do not spread out.
MIN_GROUP_ROWS = 6

TODAY_COLOUR = "#8c8c8c"
PICK_COLOUR = "#1f77b4"
OTHER_COLOUR = "#c6dbef"
DRIFT_COLOUR = "#d62728"
FLOOR_COLOUR = "#555555"
TOLERANCE_COLOUR = "#ff7f0e"


_Chart = TypeVar("_Chart", bound=Callable[..., Figure])


def _plain_text(chart: _Chart) -> _Chart:
    """Draw with mathtext off, so '$3 per month ($36 per year)' prints dollars, not maths."""

    @functools.wraps(chart)
    def draw(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return chart(*args, **kwargs)

    return draw  # type: ignore[return-value]


# ------------------------------------------------------------------------------------ shop chart


@_plain_text
def shop_chart(
    fractions: pd.DataFrame,
    pick: Mapping[str, Any],
    *,
    ax_cost: Axes | None = None,
    ax_drift: Axes | None = None,
) -> Figure:
    """One shop: monthly training cost per fraction beside drift, with the pick in words.

    ``fractions`` is the shop's fractions.parquet, ``pick`` its pick.json (or a re-pick's
    ``to_dict()`` merged with the stored assumptions). Pass both axes to draw into a figure of your
    own (the report adds a panel below); the title, the pick sentence and the assumptions go on that
    figure.
    """
    if (ax_cost is None) != (ax_drift is None):
        raise ValueError("shop_chart: pass both ax_cost and ax_drift, or neither")
    if ax_cost is None:
        figure = Figure(figsize=PAGE_SIZE)
        ax_cost, ax_drift = figure.subplots(1, 2)
        figure.subplots_adjust(left=0.085, right=0.97, top=0.8, bottom=0.2, wspace=0.24)
    figure = ax_cost.get_figure()
    curve = drift_curve(fractions, None, pick_rule(pick))
    _draw_cost(ax_cost, curve, pick)
    _draw_drift(ax_drift, curve, pick)
    subtitle = _capitalised(pick_sentence(pick))
    if pick_verdict(pick) == "full" and pick.get("full"):
        subtitle += (
            f": keep training on all the data "
            f"({money(pick['full'].get('cost_usd_per_month', float('nan')))}/month)"
        )
    _page_text(figure, shop_finding(pick), subtitle, assumptions_text(pick), money_sentence(pick))
    return figure


def _draw_cost(ax: Axes, curve: pd.DataFrame, pick: Mapping[str, Any]) -> None:
    fractions = curve["fraction"].to_numpy(float)
    costs = curve["cost_usd_per_month"].to_numpy(float)
    left, width = _log_bar_edges(fractions)
    picked = float(pick.get("picked_fraction", 1.0))
    colours = [
        PICK_COLOUR if np.isclose(f, picked) and pick.get("reduced")
        else TODAY_COLOUR if np.isclose(f, 1.0)
        else OTHER_COLOUR
        for f in fractions
    ]
    ax.bar(left, costs, width=width, align="edge", color=colours, edgecolor="white")
    top = float(np.nanmax(costs)) if len(costs) else 1.0
    for x, cost in zip(fractions, costs):
        ax.annotate(
            _money_label(cost, top), (x, cost), xytext=(0, 3), textcoords="offset points",
            ha="center", va="bottom", fontsize=7.5,
        )
    # Head room above the tallest bar for its label and the legend.
    ax.set_ylim(0, top * 1.45 if top > 0 else 1)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(_money_axis(top))
    ax.set_ylabel("Training cost (USD per month)")
    rows = (pick.get("money") or {}).get("production_rows")
    at = f" at {row_count(rows)} purchases" if rows else ""
    projected = " (projected)" if (pick.get("money") or {}).get("projected") else ""
    ax.set_title(f"What training costs per month{at}{projected}", fontsize=11, loc="left")
    _fraction_axis(ax, curve)
    handles = [Patch(color=TODAY_COLOUR, label="today: all the data")]
    if pick.get("reduced"):
        handles.append(Patch(color=PICK_COLOUR, label=f"recommended: {fraction_label(picked)}"))
    handles.append(Patch(color=OTHER_COLOUR, label="other sizes tried"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)


def _draw_drift(ax: Axes, curve: pd.DataFrame, pick: Mapping[str, Any]) -> None:
    fractions = curve["fraction"].to_numpy(float)
    rule = pick_rule(pick)
    noise_floor = float(pick.get("noise_floor", 0.0) or 0.0)
    tolerance = rule.tolerance
    threshold = noise_floor + tolerance
    ax.fill_between(
        fractions, curve["changed_rate_ci_low"] * 100, curve["changed_rate_ci_high"] * 100,
        color=DRIFT_COLOUR, alpha=0.18, linewidth=0,
        label=f"its {rule.confidence:.0%} bounds (shoppers and seeds)",
    )
    ax.plot(
        fractions, curve["changed_rate"] * 100, marker="o", color=DRIFT_COLOUR,
        label="told another size than with all the data",
    )
    ax.axhline(
        noise_floor * 100, color=FLOOR_COLOUR, linestyle=":",
        label=f"noise floor {percent(noise_floor)}: retraining on all the data already changes this many",
    )
    ax.axhline(
        threshold * 100, color=TOLERANCE_COLOUR, linestyle="--",
        label=f"tolerance {percent(threshold)}: noise floor + {points(tolerance)}",
    )
    picked = float(pick.get("picked_fraction", 1.0))
    if pick.get("reduced"):
        row = curve[np.isclose(curve["fraction"], picked)]
        if not row.empty:
            rate = float(row["changed_rate"].iloc[0]) * 100
            ax.plot(
                [picked], [rate], marker="*", markersize=18, color=PICK_COLOUR, linestyle="none",
                label=f"recommended: {fraction_label(picked)} of the data", zorder=5,
            )
        ax.axvline(picked, color=PICK_COLOUR, linewidth=1, alpha=0.5)
    top = float(np.nanmax(curve["changed_rate_ci_high"])) * 100 if len(curve) else 1.0
    # Head room above the curve for the legend.
    ax.set_ylim(0, max(top, threshold * 100) * 1.55 + 0.05)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}%"))
    ax.set_ylabel("Shoppers who would get another size (%)")
    ax.set_title("How many recommendations change", fontsize=11, loc="left")
    _fraction_axis(ax, curve)
    ax.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.9)


def _fraction_axis(ax: Axes, curve: pd.DataFrame) -> None:
    """Log-scale x axis of fractions, each tick labelled as a percentage and its training rows."""
    fractions = curve["fraction"].to_numpy(float)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(fractions))
    ax.xaxis.set_minor_locator(NullLocator())
    labels = [f"{percent(f)}\n{row_count(r)}" for f, r in zip(fractions, curve["train_rows"])]
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, i: labels[i] if i is not None and i < len(labels) else ""))
    ax.tick_params(axis="x", labelsize=8)
    if len(fractions):
        ax.set_xlim(fractions.min() / 1.5, fractions.max() * 1.5)
    ax.set_xlabel("Share of the data trained on (log scale; training rows below)")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _money_decimals(top: float) -> int:
    """Decimals that tell apart amounts up to ``top``: cents, or more below ten cents."""
    if not np.isfinite(top) or top >= 0.1:
        return 2
    return int(min(6, max(2, np.ceil(-np.log10(max(top, 1e-9))) + 1)))


def _money_axis(top: float) -> FuncFormatter:
    """Dollar tick labels: whole dollars from $100, cents from 10 cents, more decimals below."""
    if np.isfinite(top) and top >= 100:
        return FuncFormatter(lambda v, _: f"${v:,.0f}")
    decimals = _money_decimals(top)
    return FuncFormatter(lambda v, _: f"${v:,.{decimals}f}")


def _money_label(value: float, top: float) -> str:
    """A bar's amount: cents (as in the spreadsheet), or more decimals when every bar is pennies."""
    decimals = _money_decimals(top)
    return money(value) if decimals == 2 else f"${value:,.{decimals}f}"


def _log_bar_edges(fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left edges and widths of bars centred (in log space) on each fraction."""
    if len(fractions) < 2:
        step = 2.0
    else:
        step = float(np.min(fractions[1:] / fractions[:-1]))
    half = step**0.3
    return fractions / half, fractions * half - fractions / half


def _wrapped(text: str, width: int = 210) -> str:
    """Footnote text broken into lines that fit an A4 landscape page at 7.5 pt."""
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _page_text(figure: Figure, title: str, subtitle: str, footer: str, note: str = "") -> None:
    """Title (the finding), a subtitle, a note under it and the assumptions at the foot of the page."""
    figure.suptitle(title, x=0.02, y=0.975, ha="left", fontsize=14, fontweight="bold")
    figure.text(0.02, 0.925, subtitle, ha="left", va="center", fontsize=11.5, color=PICK_COLOUR)
    if note:
        figure.text(0.02, 0.892, _wrapped(note, 175), ha="left", va="center", fontsize=8.5, color="#333333")
    figure.text(0.02, 0.015, _wrapped(footer), ha="left", va="bottom", fontsize=7.5, color="#444444")


# ------------------------------------------------------------------------------- portfolio chart


@_plain_text
def portfolio_chart(summary: pd.DataFrame, *, assumptions: str = "", money_lines: Sequence[str] = ()) -> Figure:
    """Every shop's monthly training cost today against at the recommended data size.

    Shops are sorted by saving, largest first; the title gives the total saving per month and per
    year; shops that could not be reduced and failed shops are counted (and failed ones named).
    """
    ok = summary[summary["status"] == "ok"].copy()
    failed = summary[summary["status"] != "ok"]
    ok = ok.sort_values(["saving_usd_per_month", "shop_id"], ascending=[False, True])
    today = float(ok["full_cost_usd_per_month"].sum())
    recommended = float(ok["pick_cost_usd_per_month"].sum())
    saving = float(ok["saving_usd_per_month"].sum())
    verdicts = ok["verdict"] if "verdict" in ok else ok["reduced"].map({True: "reduced", False: "full"})
    counts = {name: int((verdicts == name).sum()) for name in ("reduced", "full", "indeterminate")}
    shown = ok.head(PORTFOLIO_MAX_SHOPS)
    rest = ok.iloc[PORTFOLIO_MAX_SHOPS:]

    figure = Figure(figsize=PAGE_SIZE)
    ax = figure.add_axes((0.24, 0.12, 0.58, 0.62))
    words = {"reduced": None, "full": "needs all its data", "indeterminate": "can't tell"}
    labels = [
        f"{shop_id} ({fraction_label(fraction)} of data)" if verdict == "reduced" else f"{shop_id} ({words.get(verdict, verdict)})"
        for shop_id, fraction, verdict in zip(shown["shop_id"], shown["picked_fraction"], verdicts.loc[shown.index])
    ]
    todays = list(shown["full_cost_usd_per_month"])
    picks = list(shown["pick_cost_usd_per_month"])
    savings = list(shown["saving_usd_per_month"])
    y = np.arange(len(labels))
    height = 0.38
    font = 9 if len(labels) <= 15 else 7 if len(labels) <= 25 else 6
    ax.barh(y - height / 2, todays, height, color=TODAY_COLOUR, label="today: all the data")
    ax.barh(y + height / 2, picks, height, color=PICK_COLOUR, label="at the recommended data size")
    top = max(todays) if todays else 1.0
    for position, cost_today, cost_pick, shop_saving in zip(y, todays, picks, savings):
        ax.annotate(money(cost_today), (cost_today, position - height / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=font - 1, color="#444444")
        ax.annotate(money(cost_pick), (cost_pick, position + height / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=font - 1, color=PICK_COLOUR)
        words = f"saves {money(shop_saving)}/month" if shop_saving > 0 else "no saving"
        ax.text(1.02, position, words, transform=ax.get_yaxis_transform(), va="center",
                fontsize=font, fontweight="bold" if shop_saving > 0 else "normal")
    ax.annotate("Saving per shop", (1.02, 1.0), xycoords="axes fraction", va="bottom",
                fontsize=font, color="#444444")
    ax.set_yticks(y, labels, fontsize=font)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.2 if top > 0 else 1)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(_money_axis(top))
    ax.set_xlabel("Training cost (USD per month)")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    if len(rest):
        ax.annotate(
            f"…and {len(rest)} more shops with smaller savings ({money(float(rest['saving_usd_per_month'].sum()))}"
            "/month together), listed in the spreadsheet",
            (0.0, 0.0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
            va="top", fontsize=8.5, color="#444444",
        )

    title = portfolio_headline(len(ok), counts["reduced"], saving)
    figure.suptitle(title, x=0.02, y=0.975, ha="left", fontsize=14, fontweight="bold")
    verdict_words = [f"{counts['reduced']} of {len(ok)} shops can train on less data", f"{counts['full']} need all their data"]
    if counts["indeterminate"]:
        verdict_words.append(
            f"{counts['indeterminate']} can't tell (their model disagrees with itself too often when retrained)"
        )
    lines = [
        f"Today {money(today)} per month; at the recommended data sizes {money(recommended)} per month "
        f"({money(today * 12)} → {money(recommended * 12)} per year).",
        "; ".join(verdict_words) + ".",
        *money_lines,
    ]
    figure.text(0.02, 0.935, "\n".join(_wrapped(line, 165) for line in lines), ha="left", va="top", fontsize=9.5)
    footer = []
    if len(failed):
        names = ", ".join(str(name) for name in failed["shop_id"])
        footer.append(
            f"{len(failed)} shop{'s' if len(failed) != 1 else ''} failed or did not finish and "
            f"{'have' if len(failed) != 1 else 'has'} no result (not in the totals): {names}. "
            "The spreadsheet gives the error and the executed notebook."
        )
    if assumptions:
        footer.append(assumptions)
    figure.text(0.02, 0.015, "\n".join(_wrapped(part) for part in footer), ha="left",
                va="bottom", fontsize=7.5, color="#444444")
    return figure


# --------------------------------------------------------------------------------- segment chart


@_plain_text
def segment_chart(
    segments: pd.DataFrame,
    fraction: float,
    *,
    min_segment_size: int = 200,
    confidence: float = 0.95,
    segment_tolerance: float | None = None,
    kinds: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Changed rate per group of shoppers at one fraction, with intervals.

    Rates are the consensus's, bounds at ``confidence`` (shoppers and seeds); each group's own
    noise floor is marked, and with ``segment_tolerance`` its limit (noise floor + tolerance).
    Groups with fewer than ``min_segment_size`` reference shoppers are not drawn (their number is
    said). ``kinds`` limits the groups (e.g. ``["tail"]``).
    """
    rule = PickRule(confidence=confidence, min_segment_size=min_segment_size, segment_tolerance=segment_tolerance or 0.0)
    table = segment_table(segments, fraction, rule=rule, kinds=kinds)
    shown = table[table["n"] >= min_segment_size]
    hidden = len(table) - len(shown)
    if ax is None:
        height = 0.32 * max(len(shown), MIN_GROUP_ROWS) + 1.8  # inches: rows, axis below, title above
        figure = Figure(figsize=(PAGE_SIZE[0], height))
        ax = figure.add_axes((0.22, 0.9 / height, 0.55, 1 - 1.6 / height))
        figure.suptitle(
            segment_finding(shown, fraction, segment_tolerance), x=0.02, ha="left",
            fontsize=13, fontweight="bold",
        )
    figure = ax.get_figure()
    y = np.arange(len(shown))
    rates = shown["changed_rate"].to_numpy(float) * 100
    low = shown["changed_rate_ci_low"].to_numpy(float) * 100
    high = shown["changed_rate_ci_high"].to_numpy(float) * 100
    ax.errorbar(
        rates, y, xerr=[rates - low, high - rates], fmt="o", color=DRIFT_COLOUR, capsize=3,
        label=f"changed rate with {confidence:.0%} interval",
    )
    if "noise_floor" in shown and shown["noise_floor"].notna().any():
        floor = shown["noise_floor"].fillna(0.0).to_numpy(float) * 100
        ax.scatter(floor, y, marker="|", s=120, color=FLOOR_COLOUR,
                   label="the group's noise floor", zorder=3)
        if segment_tolerance is not None:
            ax.scatter(floor + segment_tolerance * 100, y, marker="|", s=120,
                       color=TOLERANCE_COLOUR, linewidths=2, zorder=3,
                       label=f"its limit: noise floor + {points(segment_tolerance)}")
    labels = [f"{_kind_words(k)}: {s} ({n:,.0f})" for k, s, n in
              zip(shown["segment_kind"], shown["segment"], shown["n"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(max(len(shown), MIN_GROUP_ROWS) - 0.5, -0.5)  # top down, rows evenly spaced
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}%"))
    ax.set_xlim(left=0)
    ax.set_xlabel("Shoppers in the group who would get another size (%); group size in brackets")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)
    note = (
        f"{hidden} group{'s' if hidden != 1 else ''} with fewer than\n{min_segment_size:,} "
        f"shoppers not shown" if hidden else f"Groups with fewer than\n{min_segment_size:,} shoppers are not shown"
    )
    ax.annotate(note, (1.02, 0.0), xycoords="axes fraction", ha="left", va="bottom",
                fontsize=7.5, color="#444444")
    return figure


def segment_finding(
    table: pd.DataFrame, fraction: float, segment_tolerance: float | None = None,
    *, why: str = "",
) -> str:
    """A title for a segment table (groups already filtered to those shown); ``why`` says why this
    fraction is shown, e.g. '(the largest smaller size tried)'."""
    at = f"At {percent(fraction)} of the data{' ' + why if why else ''}"
    if table.empty:
        return f"{at}: no group is large enough to show"
    if segment_tolerance is not None:
        limit = table["noise_floor"].fillna(0.0) + segment_tolerance
        over = table[table["changed_rate_ci_high"] > limit]
        named = [_group_name(k, g) for k, g in zip(over["segment_kind"], over["segment"])]
        if len(over) == 1:
            return f"{at}, 1 group may change beyond its limit: {named[0]}"
        if len(over):
            names = ", ".join(named[:2])
            more = f" and {len(over) - 2} more" if len(over) > 2 else ""
            return f"{at}, {len(over)} groups may change beyond their limits: {names}{more}"
    worst = table.loc[table["changed_rate"].idxmax()]
    within = " every group shown is within its limit;" if segment_tolerance is not None else ""
    return (
        f"{at},{within} most affected: {_group_name(worst['segment_kind'], worst['segment'])} "
        f"({percent(worst['changed_rate'])}, "
        f"{percent(worst['changed_rate_ci_low'])[:-1]}–{percent(worst['changed_rate_ci_high'])})"
    )


def segment_table(
    segments: pd.DataFrame,
    fraction: float,
    *,
    rule: PickRule | None = None,
    kinds: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per group at ``fraction`` (:func:`~toolkit.experiment.decision.segment_verdicts`), optionally
    only some kinds of groups."""
    table = segment_verdicts(segments, rule or PickRule(), fraction)
    if kinds is not None:
        table = table[table["segment_kind"].isin(list(kinds))]
    return table.reset_index(drop=True)


def _group_name(kind: str, segment: str) -> str:
    """A group in a sentence: 'the tallest 5%', 'female (gender)', '175–185 cm (height)'."""
    return f"the {segment}" if kind == "tail" else f"{segment} ({_kind_words(kind)})"


def _kind_words(kind: str) -> str:
    return {"tail": "tail", "gender": "gender", "category": "category",
            "height_band": "height", "weight_band": "weight"}.get(kind, kind.replace("_", " "))
