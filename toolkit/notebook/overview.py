"""What a person wants to see after each step of the notebook, formatted for reading.

Each function turns a toolkit object into a display: a :class:`Table` (a DataFrame shown in full —
no cut cells — with percentages, thousands separators and fractions as "1/16 (6.2%)"), or a
:class:`Note` saying why there is nothing to show. The stored numbers are never changed: the
tables are built from them, and ``Table.frame`` holds the formatted copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.experiment.config import ExperimentConfig, PickRule
from toolkit.experiment.decision import Pick, drift_curve, fraction_label, segment_verdicts, segment_words
from toolkit.experiment.splits import Split
from toolkit.report import findings
from toolkit.results import CHART_DPI, CHART_FILE
from toolkit.shops.validate import ShopData

__all__ = [
    "Note",
    "Table",
    "fractions_overview",
    "segment_overview",
    "settings_overview",
    "shop_overview",
    "shops_overview",
    "shown_fraction",
    "split_overview",
    "saved_chart",
    "verdict_summary",
    "verdict_table",
]


@dataclass(frozen=True)
class Note:
    """A message shown in place of a table or chart (Markdown in Jupyter, plain text elsewhere)."""

    text: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Table:
    """A formatted table shown whole: every cell in full, in Jupyter and as text."""

    frame: pd.DataFrame
    caption: str = ""
    #: "left" for tables of sentences (settings, reasons), "right" for figures
    align: str = "right"

    def _repr_html_(self) -> str:
        with pd.option_context("display.max_colwidth", None):
            html = self.frame.to_html(escape=True, border=0)
        if self.align == "left":
            html = html.replace("<td>", '<td style="text-align: left;">')
        caption = f"<p><b>{self.caption}</b></p>" if self.caption else ""
        return caption + html

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 250):
            text = self.frame.to_string()
        return f"{self.caption}\n{text}" if self.caption else text

    def __len__(self) -> int:
        return len(self.frame)


def _pct(rate: float | None, digits: int = 1) -> str:
    return "" if rate is None or pd.isna(rate) else f"{rate * 100:.{digits}f}%"


def _signed_points(share: float) -> str:
    return "" if pd.isna(share) else f"{share * 100:+.1f} pts"


def shops_overview(shops: pd.DataFrame) -> Table:
    """A sweep's shops (:func:`toolkit.notebook.explore.list_shops`): verdict, share, money, drift."""

    def money(value: float) -> str:  # as the report writes it; a shop without the figure: blank
        return "" if value is None or pd.isna(value) else findings.money(value)

    rows = []
    for row in shops.to_dict("records"):
        fraction = row.get("picked_fraction")
        rows.append(
            {
                "shop": row["shop_id"],
                "status": row.get("status", ""),
                "verdict": row.get("verdict") or "",
                "train on": "" if pd.isna(fraction) else fraction_label(float(fraction)),
                "saving per month": money(row.get("saving_usd_per_month")),
                "cost per month today": money(row.get("full_cost_usd_per_month")),
                "at the pick": money(row.get("pick_cost_usd_per_month")),
                "told another size": _pct(row.get("changed_rate"), 2),
                "noise floor": _pct(row.get("noise_floor"), 2),
                "error": row.get("error") or "",
            }
        )
    return Table(pd.DataFrame(rows).set_index("shop"))


def settings_overview(config: ExperimentConfig) -> Table:
    """Every setting the experiment runs with, and what it means."""
    help_text = ExperimentConfig.help()
    rows = [{"setting": name, "value": repr(value), "meaning": help_text[name]} for name, value in config.to_dict().items()]
    return Table(pd.DataFrame(rows).set_index("setting"), align="left")


def shown_fraction(pick: Pick | Mapping[str, Any]) -> float:
    """The fraction worth a closer look: the pick, or, when the shop needs all its data, the largest
    smaller fraction trained (the one that failed)."""
    pick = pick if isinstance(pick, Pick) else Pick.from_dict(pick)
    if pick.reduced:
        return pick.picked_fraction
    smaller = [v.fraction for v in pick.fractions if v.fraction < 1.0]
    return max(smaller) if smaller else 1.0


def shop_overview(shop: ShopData) -> Table:
    """Rows read, used and quarantined (by reason), the size scale and the date range."""
    frame = shop.frame
    rows = [
        ("shop", shop.shop_id),
        ("rows read", f"{shop.rows_read:,}"),
        ("rows used", f"{len(frame):,}"),
        ("rows quarantined", f"{shop.rows_quarantined:,}"),
        *((f"  quarantined: {reason}", f"{count:,}") for reason, count in sorted(shop.reasons.items())),
        ("shoppers", f"{frame['shopper_id'].nunique():,}" + (" (no shopper ids: one per purchase)" if shop.shopper_id_from_row else "")),
        ("size scale", " < ".join(shop.scale.labels)),
        ("categories", ", ".join(sorted(frame["category"].astype(str).unique()))),
        ("from", f"{frame['event_time'].min():%Y-%m-%d}"),
        ("to", f"{frame['event_time'].max():%Y-%m-%d}"),
    ]
    return Table(pd.DataFrame(rows, columns=["", "value"]).set_index(""))


def split_overview(split: Split) -> Table:
    """How many rows and shoppers each part of the split holds."""
    parts = {"training pool": split.train, "reference population": split.reference, "holdout": split.holdout}
    return Table(
        pd.DataFrame(
            {
                "rows": [f"{len(part):,}" for part in parts.values()],
                "shoppers": [f"{part['shopper_id'].nunique():,}" for part in parts.values()],
            },
            index=list(parts),
        )
    )


def fractions_overview(fractions: pd.DataFrame, rule: PickRule | None = None) -> Table:
    """Per fraction judged: rows, time and money per model, drift beside the floor, accuracy, verdict."""
    rule = rule or PickRule()
    curve = drift_curve(fractions, None, rule).set_index("fraction")
    table = fractions.sort_values("fraction", ascending=False)
    rows = []
    for row in table.itertuples(index=False):
        verdict = curve.loc[row.fraction]
        rows.append(
            {
                "fraction": fraction_label(row.fraction),
                "training rows": f"{row.train_rows:,.0f}",
                "models": int(row.models),
                "seconds per model": f"{row.train_seconds:,.1f}",
                "cost per month": f"${row.cost_usd_per_month:,.2f}",
                "told another size": _pct(row.changed_rate, 2),
                "noise floor": _pct(row.noise_floor, 2),
                f"excess, {rule.confidence:.0%} upper bound": (
                    "—" if row.fraction >= 1 else f"{_pct(row.excess_drift, 2)} (≤ {_pct(verdict.excess_drift_upper, 2)})"
                ),
                "exact accuracy": _pct(row.holdout_exact_accuracy),
                "vs all the data": "—" if row.fraction >= 1 else _signed_points(row.exact_accuracy_diff),
                "verdict": "all the data" if row.fraction >= 1 else ("qualifies" if verdict.qualifies else "fails"),
            }
        )
    return Table(pd.DataFrame(rows).set_index("fraction"))


def saved_chart(folder: str | os.PathLike[str]) -> Any:
    """The shop's chart as :func:`~toolkit.write_results` saved it in ``folder``, shown without
    drawing it a second time (at the size a figure is shown inline; the file's extra pixels keep
    it sharp)."""
    from IPython.display import Image

    path = Path(folder) / CHART_FILE
    data = path.read_bytes()
    width = int.from_bytes(data[16:20], "big")  # the PNG header's IHDR width
    return Image(data=data, format="png", width=round(width * 100 / CHART_DPI))


def verdict_summary(pick: Pick | Mapping[str, Any]) -> Note:
    """The verdict as a one-sentence headline and the few reasons that decided it."""
    pick = pick if isinstance(pick, Pick) else Pick.from_dict(pick)
    lines = [f"**{pick.headline}**"]
    lines += [f"- {reason}" for reason in pick.reasons]
    return Note("\n".join(lines))


def verdict_table(pick: Pick | Mapping[str, Any]) -> Table:
    """Each fraction judged, largest first: whether it qualifies and every reason why not."""
    pick = pick if isinstance(pick, Pick) else Pick.from_dict(pick)
    rows = []
    for verdict in pick.fractions:
        rows.append(
            {
                "fraction": fraction_label(verdict.fraction),
                "training rows": f"{verdict.train_rows:,.0f}",
                "told another size": _pct(verdict.changed_rate, 2),
                "excess upper bound": "—" if verdict.fraction >= 1 else _pct(verdict.excess_drift_upper, 2),
                "qualifies": "—" if verdict.fraction >= 1 else ("yes" if verdict.qualifies else "no"),
                "picked": "◀" if verdict.fraction == pick.picked_fraction else "",
                "why not": "; ".join(verdict.reasons),
            }
        )
    for fraction in pick.untested_fractions:
        rows.append({"fraction": fraction_label(fraction), "qualifies": "not trained", "why not": "the search stopped at a larger fraction"})
    return Table(pd.DataFrame(rows).fillna("").set_index("fraction"), align="left")


def segment_overview(
    segments: pd.DataFrame, fraction: float, rule: PickRule | None = None, *, n_reference: int | None = None
) -> Table | Note:
    """Per segment at ``fraction``, the tails first: shoppers, drift, floor, limit and verdict.

    Segments under ``min_segment_size`` are neither judged nor shown; when none is left, the note
    says why (and how large the tails are).
    """
    rule = rule or PickRule()
    table = segment_verdicts(segments, rule, fraction)
    shown = table[table["judged"]]
    if shown.empty:
        size = f"{n_reference:,}" if n_reference else "too few"
        tails = f" (each tail is 5% of them, about {round(n_reference * 0.05):,})" if n_reference else ""
        return Note(
            f"No segment at {fraction_label(fraction)} has at least {rule.min_segment_size:,} reference shoppers: "
            f"the reference population has {size} shoppers{tails}. Lower `min_segment_size` to see smaller "
            "groups (they are then judged too), or run on a larger shop."
        )
    rows = [
        {
            "segment": segment_words(row.segment_kind, row.segment),
            "shoppers": f"{row.n:,}",
            "told another size": f"{_pct(row.changed_rate, 2)} ({_pct(row.changed_rate_ci_low)}–{_pct(row.changed_rate_ci_high)})",
            "noise floor": _pct(row.noise_floor, 2),
            "limit": _pct(row.limit, 2),
            "within": "—" if fraction >= 1 else ("yes" if row.within else "no"),
        }
        for row in shown.itertuples(index=False)
    ]
    hidden = int((~table["judged"]).sum())
    notes = [f"{hidden} smaller segment{'s' if hidden != 1 else ''} (under {rule.min_segment_size:,} shoppers) not shown"] if hidden else []
    if n_reference and not (shown["segment_kind"] == "tail").any():
        notes.append(
            f"the tails (the shortest, tallest, lightest and heaviest 5%: about {round(n_reference * 0.05):,} shoppers each) "
            f"are under the minimum of {rule.min_segment_size:,} and are not judged"
        )
    caption = "; ".join(notes)
    return Table(pd.DataFrame(rows).set_index("segment"), caption[:1].upper() + caption[1:])
