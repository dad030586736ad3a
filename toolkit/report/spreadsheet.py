"""The finance spreadsheet: ``summary.xlsx`` with one row per shop, the totals and the assumptions.

Sheet "Shops" holds the sweep summary's values unchanged (so the spreadsheet and the summary agree
cell for cell), with readable titles, money as ``$#,##0.00``, rates as ``0.0%``, a frozen header and
the shop column, filters, and widths that fit. Sheet "Totals" sums the shops with results; sheet
"Assumptions" says what the numbers rest on. No column names a shopper: any summary column that
mentions one is left out. Every cell is a value, never a formula: a text such as a shop id
``=HYPERLINK(...)`` is stored as text, so opening the file runs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from toolkit.results import write_atomically

__all__ = ["COLUMNS", "MONEY_FORMAT", "PERCENT_FORMAT", "shop_columns", "write_spreadsheet"]

MONEY_FORMAT = '"$"#,##0.00'
PERCENT_FORMAT = "0.0%"
ROWS_FORMAT = "#,##0"

#: Summary column → (title in the spreadsheet, number format or None).
COLUMNS: dict[str, tuple[str, str | None]] = {
    "shop_id": ("Shop", None),
    "status": ("Status", None),
    "verdict": ("Verdict (reduced / full / indeterminate)", None),
    "picked_fraction": ("Recommended share of the data", PERCENT_FORMAT),
    "full_train_rows": ("Training rows today", ROWS_FORMAT),
    "pick_train_rows": ("Training rows at the recommended size", ROWS_FORMAT),
    "full_cost_usd_per_month": ("Training cost today (USD per month)", MONEY_FORMAT),
    "pick_cost_usd_per_month": ("Training cost at the recommended size (USD per month)", MONEY_FORMAT),
    "saving_usd_per_month": ("Saving (USD per month)", MONEY_FORMAT),
    "saving_usd_per_year": ("Saving (USD per year)", MONEY_FORMAT),
    "saving_usd_per_month_12m": ("Saving in 12 months at the shop's growth (USD per month)", MONEY_FORMAT),
    "production_rows": ("Production volume (purchases trained on)", ROWS_FORMAT),
    "time_source": ("Training time from (metered / the team's pipeline)", None),
    "projected": ("Cost projected beyond the largest training measured", None),
    "experiment_cost_usd": ("This experiment's own cost (USD)", MONEY_FORMAT),
    "break_even_weeks": ("Weeks until the saving pays for the experiment", "0.0"),
    "compute_full_trainings": ("Experiment's compute (full-data trainings)", "0.0"),
    "changed_rate": ("Shoppers who would get another size", PERCENT_FORMAT),
    "changed_rate_ci_low": ("… lower bound of the interval", PERCENT_FORMAT),
    "changed_rate_ci_high": ("… upper bound of the interval", PERCENT_FORMAT),
    "noise_floor": ("Noise floor (two full-data models already disagree)", PERCENT_FORMAT),
    "error": ("Error (failed shops)", None),
    "notebook_path": ("Executed notebook", None),
}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_WIDTH = 48


def shop_columns(summary: pd.DataFrame) -> list[str]:
    """The summary columns the spreadsheet shows, in order: the known ones first, then any others
    the sweep added — never one that mentions a shopper."""
    known = [column for column in COLUMNS if column in summary.columns or column == "saving_usd_per_year"]
    if "saving_usd_per_month" not in summary.columns:
        known.remove("saving_usd_per_year")
    extra = [c for c in summary.columns if c not in COLUMNS and "shopper" not in c.lower()]
    return known + extra


def write_spreadsheet(
    summary: pd.DataFrame,
    picks: list[dict[str, Any]],
    path: str | Path,
    *,
    min_segment_size: int = 200,
) -> Path:
    """Write ``summary.xlsx`` (see the module docstring) and return its path."""
    path = Path(path)
    workbook = Workbook()
    shops = workbook.active
    shops.title = "Shops"
    _write_shops(shops, summary)
    _write_totals(workbook.create_sheet("Totals"), summary)
    _write_assumptions(workbook.create_sheet("Assumptions"), picks, min_segment_size)
    _values_only(workbook)
    return write_atomically(path, workbook.save)


def _values_only(workbook: Workbook) -> None:
    """Store every text as text: openpyxl would make a text starting with '=' a live formula."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _write_shops(sheet: Worksheet, summary: pd.DataFrame) -> None:
    summary = summary.copy()
    if "saving_usd_per_month" in summary:
        summary["saving_usd_per_year"] = summary["saving_usd_per_month"] * 12
    columns = shop_columns(summary)
    titles = [COLUMNS.get(c, (c.replace("_", " ").capitalize(), None))[0] for c in columns]
    formats = [COLUMNS.get(c, (None, _guess_format(c)))[1] for c in columns]
    sheet.append(titles)
    for record in summary[columns].itertuples(index=False):
        sheet.append([_cell(value) for value in record])
    for index, (column, number_format) in enumerate(zip(columns, formats), start=1):
        for cell in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if number_format:
                cell[0].number_format = number_format
    _style_header(sheet, len(columns))
    _fit_widths(sheet, summary[columns], titles, formats)
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions


def _write_totals(sheet: Worksheet, summary: pd.DataFrame) -> None:
    ok = summary[summary["status"] == "ok"]
    today = float(ok.get("full_cost_usd_per_month", pd.Series(dtype=float)).sum())
    recommended = float(ok.get("pick_cost_usd_per_month", pd.Series(dtype=float)).sum())
    saving = float(ok.get("saving_usd_per_month", pd.Series(dtype=float)).sum())
    verdicts = ok["verdict"] if "verdict" in ok else ok.get("reduced", pd.Series(dtype=bool)).map({True: "reduced", False: "full"})
    experiment = float(ok.get("experiment_cost_usd", pd.Series(dtype=float)).sum())
    weekly_saving = saving * 12 / 52
    rows: list[tuple[str, Any, str | None]] = [
        ("Shops with results", len(ok), None),
        ("… that can train on less data", int((verdicts == "reduced").sum()), None),
        ("… that need all their data", int((verdicts == "full").sum()), None),
        ("… that can't tell (the model's own retraining noise is too high)", int((verdicts == "indeterminate").sum()), None),
        ("Shops that failed or did not finish (not in the totals)", len(summary) - len(ok), None),
        ("Training cost today (USD per month)", today, MONEY_FORMAT),
        ("Training cost at the recommended sizes (USD per month)", recommended, MONEY_FORMAT),
        ("Saving (USD per month)", saving, MONEY_FORMAT),
        ("Saving (USD per year)", saving * 12, MONEY_FORMAT),
        ("What the experiments cost (USD)", experiment, MONEY_FORMAT),
        ("Weeks until the saving pays for them", experiment / weekly_saving if weekly_saving > 0 else "no saving", "0.0"),
    ]
    _key_values(sheet, rows)


def _write_assumptions(sheet: Worksheet, picks: list[dict[str, Any]], min_segment_size: int) -> None:
    # The rule and the money's assumptions are nested in pick.json: one level for the lookups below.
    picks = [{**pick, **(pick.get("rule") or {}), **(pick.get("money") or {})} for pick in picks]
    sheet.append(["Machine", "Price (USD per hour)", "Price source", "Price date"])
    machines = {}
    for pick in picks:
        if pick.get("machine") is not None:
            machines[pick["machine"]] = (
                pick.get("price_usd_per_hour"), pick.get("price_source"), pick.get("price_date")
            )
    for machine, (price, source, date) in sorted(machines.items()):
        sheet.append([machine, price, source, date])
        sheet.cell(sheet.max_row, 2).number_format = '"$"#,##0.00000'
    _style_header(sheet, 4)
    rows: list[tuple[str, Any, str | None]] = [
        ("Billing rule", _distinct(picks, "billing", _billing), None),
        ("Training cadence", _distinct(picks, "cadence"), None),
        ("Trainings per month", _distinct(picks, "trainings_per_month"), "0.00"),
        ("Discount", _distinct(picks, "discount", _discount), None),
        ("Training time from", _distinct(picks, "time_source", _time_source), None),
        ("Production volume from", _distinct(picks, "production_rows_source"), None),
        ("Weekly growth from", _distinct(picks, "weekly_growth_source"), None),
        ("Cost rule", "cost per training = training time at the shop's production volume (from the fitted "
         "time curve, or the team's pipeline rate) × machine price, under the billing rule; per month = × "
         "trainings per month; per year = per month × 12; in 12 months: at the shop's weekly growth", None),
        ("Tolerance (points above the shop's noise floor)", _distinct(picks, "tolerance"), PERCENT_FORMAT),
        ("Confidence", _distinct(picks, "confidence"), PERCENT_FORMAT),
        ("Segment tolerance (points above the group's noise floor)", _distinct(picks, "segment_tolerance"), PERCENT_FORMAT),
        ("Allowed loss of holdout accuracy", _distinct(picks, "accuracy_tolerance"), PERCENT_FORMAT),
        ("Largest noise floor judged (above: indeterminate)", _distinct(picks, "max_noise_floor"), PERCENT_FORMAT),
        ("Smallest group checked by the pick (shoppers)", _distinct(picks, "min_segment_size"), None),
        ("Smallest group shown in the report (shoppers)", min_segment_size, None),
        ("Model", _distinct(picks, "model"), None),
        ("Sampling", _distinct(picks, "sampling"), None),
        ("Search", _distinct(picks, "search"), None),
        ("Holdout", _distinct(picks, "holdout"), None),
        ("Models per fraction", _distinct(picks, "models_per_fraction"), None),
        ("Generated at (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), None),
    ]
    _key_values(sheet, rows, start_row=sheet.max_row + 2)
    for letter, width in zip("ABCD", (52, 70, 58, 14)):
        sheet.column_dimensions[letter].width = width


def _distinct(picks: Iterable[dict[str, Any]], key: str, convert: Any = None) -> Any:
    """The one value every shop shares, or the values by shop when they differ."""
    values: dict[str, list[str]] = {}
    raw: dict[str, Any] = {}
    for pick in picks:
        value = pick.get(key)
        if value is None:
            continue
        value = convert(value) if convert else value
        values.setdefault(str(value), []).append(str(pick.get("shop_id", "")))
        raw[str(value)] = value
    if not values:
        return "not stated"
    if len(values) == 1:
        return next(iter(raw.values()))
    return "; ".join(f"{value} ({', '.join(shops)})" for value, shops in values.items())


def _discount(value: Any) -> str:
    if isinstance(value, dict) and value.get("factor", 1) != 1:
        return f"{1 - float(value['factor']):.0%} off list prices ({value.get('source', '')}, {value.get('date', '')})"
    return "none (list prices)"


def _time_source(value: Any) -> str:
    return {"pipeline": "the team's measured pipeline seconds per 1,000 rows", "metered": "this experiment's metered trainings"}.get(str(value), str(value))


def _billing(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items())
    return str(value)


def _key_values(sheet: Worksheet, rows: list[tuple[str, Any, str | None]], start_row: int = 1) -> None:
    for offset, (title, value, number_format) in enumerate(rows):
        row = start_row + offset
        sheet.cell(row, 1, title).font = Font(bold=True)
        cell = sheet.cell(row, 2, _cell(value))
        if number_format and isinstance(value, (int, float)):
            cell.number_format = number_format
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
    sheet.column_dimensions["A"].width = max(sheet.column_dimensions["A"].width or 0, 52)
    sheet.column_dimensions["B"].width = max(sheet.column_dimensions["B"].width or 0, 24)


def _style_header(sheet: Worksheet, width: int) -> None:
    for cell in sheet[1][:width]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[1].height = 46


def _fit_widths(
    sheet: Worksheet, frame: pd.DataFrame, titles: list[str], formats: list[str | None]
) -> None:
    for index, (column, title, number_format) in enumerate(zip(frame.columns, titles, formats), start=1):
        shown = [_shown_length(value, number_format) for value in frame[column]]
        longest_word = max((len(word) for word in title.split()), default=8)
        width = max([min(len(title), 18), longest_word, *shown]) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(width, MAX_WIDTH)


def _shown_length(value: Any, number_format: str | None) -> int:
    value = _cell(value)
    if value is None:
        return 0
    if number_format == MONEY_FORMAT and isinstance(value, (int, float)):
        return len(f"${value:,.2f}")
    if number_format == PERCENT_FORMAT and isinstance(value, (int, float)):
        return len(f"{value:.1%}")
    if number_format == ROWS_FORMAT and isinstance(value, (int, float)):
        return len(f"{value:,.0f}")
    return len(str(value))


def _guess_format(column: str) -> str | None:
    if "usd" in column:
        return MONEY_FORMAT
    if column.endswith(("_rate", "_share", "fraction", "_accuracy")):
        return PERCENT_FORMAT
    if column.endswith("_rows"):
        return ROWS_FORMAT
    return None


def _cell(value: Any) -> Any:
    """A value openpyxl can store: numpy scalars unwrapped, NaN and None as an empty cell."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value
