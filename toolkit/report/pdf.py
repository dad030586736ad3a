"""The finance report of a sweep: ``report.pdf``, the same charts as PNG, and ``summary.xlsx``.

``write_report(results_dir)`` reads only the results contract — ``summary.parquet`` and, per shop,
``runs.parquet``, ``segments.parquet`` and ``pick.json`` — and writes into ``<results_dir>/report/``:

* ``report.pdf``: page 1 the portfolio (monthly training cost today against at the recommended data
  size per shop, totals per month and per year, shops that could not be reduced, failed shops named);
  then one page per shop with results, in the portfolio's order (largest saving first);
* ``portfolio.png`` and ``shop_<shop folder name>.png``: the same pages as pictures;
* ``summary.xlsx``: one row per shop (money as $#,##0.00, rates as 0.0%), and the sheets "Totals"
  and "Assumptions" (machine prices with their source and date, billing, cadence, tolerance,
  confidence, segment tolerance, when the report was made).

Reports show aggregates only: no column or text names a shopper, and groups of shoppers smaller than
``min_segment_size`` are not shown.

One bad shop never stops the report: a shop whose result files are missing, do not parse, or differ
from the seal written when they were completed is left out of the pages and totals, and listed with
its reason (the portfolio's footer, the spreadsheet, :attr:`ReportPaths.left_out`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from toolkit.report import charts, findings
from toolkit.errors import DataError, ToolkitError
from toolkit.results import (
    PICK_FILE,
    RUNS_FILE,
    SEGMENTS_FILE,
    ShopResults,
    atomic_file,
    prepare_output_dir,
    read_shop_results,
    shop_folder_name,
    shop_id_of_folder,
    SUMMARY_FILE,
    summary_frame,
    summary_row,
    verify_shop_results,
    write_atomically,
)
from toolkit.experiment.pricing import batch_bill
from toolkit.report.spreadsheet import write_spreadsheet

__all__ = ["ReportPaths", "read_summary", "shop_page", "write_report"]

REPORT_FOLDER = "report"
PNG_DPI = 150


@dataclass(frozen=True)
class ReportPaths:
    """What :func:`write_report` wrote."""

    out_dir: Path
    pdf: Path
    xlsx: Path
    pngs: tuple[Path, ...]
    pages: int
    #: shops with no page, each ``(shop_id, status, reason)``
    left_out: tuple[tuple[str, str, str], ...] = ()
    #: what the report had to work around (e.g. an unreadable summary.parquet), one line each
    notes: tuple[str, ...] = ()


def write_report(
    results_dir: str | Path, *, out_dir: str | Path | None = None, min_segment_size: int = 200
) -> ReportPaths:
    """Write the finance report of the sweep in ``results_dir`` (see the module docstring)."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / REPORT_FOLDER
    summary = read_summary(results_dir)  # shops whose files fail their checks are no longer "ok"
    prepare_output_dir(out_dir, what="report folder")
    shops = {
        shop_id: read_shop_results(results_dir / shop_folder_name(shop_id))
        for shop_id in summary.loc[summary["status"] == "ok", "shop_id"]
    }
    order = _portfolio_order(summary)
    picks = [shops[shop_id].pick for shop_id in order if shop_id in shops]

    pdf_path = out_dir / "report.pdf"
    pngs: list[Path] = []
    pages = 0
    metadata = {"Title": f"Training data report: {results_dir.name}", "Creator": "enough report"}
    with atomic_file(pdf_path) as file, PdfPages(file, metadata=metadata) as pdf:
        figure = charts.portfolio_chart(
            summary, assumptions=portfolio_assumptions(picks), money_lines=portfolio_money_lines(picks)
        )
        pngs.append(_save(figure, pdf, out_dir / "portfolio.png"))
        pages += 1
        for shop_id in order:
            try:
                figure = shop_page(shops[shop_id], min_segment_size=min_segment_size)
            except (ToolkitError, LookupError, TypeError, ValueError) as err:  # a pick.json of another shape
                _mark(summary, shop_id, "unreadable", f"cannot be drawn ({type(err).__name__}: {err})")
                continue
            pngs.append(_save(figure, pdf, out_dir / f"shop_{shop_folder_name(shop_id)}.png"))
            pages += 1
    xlsx_path = write_spreadsheet(
        summary, picks, out_dir / "summary.xlsx", min_segment_size=min_segment_size
    )
    left_out = summary.loc[summary["status"] != "ok", ["shop_id", "status", "error"]].fillna("")
    return ReportPaths(
        out_dir, pdf_path, xlsx_path, tuple(pngs), pages,
        left_out=tuple(tuple(map(str, row)) for row in left_out.itertuples(index=False)),
        notes=tuple(summary.attrs.get("notes", ())),
    )


def read_summary(results_dir: str | Path) -> pd.DataFrame:
    """The sweep's one-row-per-shop table.

    From ``summary.parquet`` when the sweep wrote it (and it can be read); otherwise built from the
    shop folders that hold complete results (``pick.json``), with folders the experiment started but
    never finished listed as ``incomplete``. Every shop the summary calls ``ok`` is checked
    (:func:`~toolkit.results.verify_shop_results`): without pick.json it becomes ``incomplete``, with
    a file that does not parse ``unreadable``, with a file changed since it was sealed ``tampered``
    — the reason in ``error``: nothing half-written or altered is read as a result.
    ``summary.attrs["notes"]`` says what was worked around.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DataError(f"{results_dir}: no such results folder (expected a sweep's output folder)")
    path = results_dir / SUMMARY_FILE
    notes = []
    summary = None
    if path.is_file():
        try:
            summary = pd.read_parquet(path)
        except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a truncated file
            notes.append(f"{path} cannot be read ({type(err).__name__}); the report is built from the shop folders")
    if summary is not None and not {"shop_id", "status"} <= set(summary.columns):
        notes.append(f"{path} has no shop_id and status columns; the report is built from the shop folders")
        summary = None
    if summary is None:
        summary = _summary_from_folders(results_dir)
    summary = summary.copy()
    summary["shop_id"] = summary["shop_id"].astype(str)
    if "error" not in summary:
        summary["error"] = None
    for shop_id in summary.loc[summary["status"] == "ok", "shop_id"]:
        problem = verify_shop_results(results_dir / shop_folder_name(shop_id))
        if problem is not None:
            _mark(summary, shop_id, problem.status, problem.reason)
    summary.attrs["notes"] = notes
    return summary


def _mark(summary: pd.DataFrame, shop_id: str, status: str, reason: str) -> None:
    """Take a shop out of the results: its status and the reason, in its summary row."""
    row = summary["shop_id"] == shop_id
    summary.loc[row, "status"] = status
    summary.loc[row, "error"] = reason


def _summary_from_folders(results_dir: Path) -> pd.DataFrame:
    rows = []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        if (folder / PICK_FILE).is_file():
            problem = verify_shop_results(folder)
            if problem is None:
                shop = read_shop_results(folder)
                rows.append(summary_row(shop.shop_id, "ok", shop.pick))
            else:
                rows.append(summary_row(shop_id_of_folder(folder.name), problem.status, error=problem.reason))
        elif (folder / RUNS_FILE).exists() or (folder / SEGMENTS_FILE).exists() or any(
            folder.glob("*.ipynb")
        ):
            rows.append(
                summary_row(shop_id_of_folder(folder.name), "incomplete", error=f"{folder / PICK_FILE} missing: the experiment did not finish")
            )
    if not any(row["status"] == "ok" for row in rows):
        raise DataError(
            f"{results_dir}: no {SUMMARY_FILE} and no shop folder with {PICK_FILE} "
            f"(expected the output folder of `enough sweep`, with <shop_id>/{PICK_FILE} per shop)"
        )
    return summary_frame(rows)


def _portfolio_order(summary: pd.DataFrame) -> list[str]:
    """Shops with results, largest saving first (the portfolio chart's order)."""
    ok = summary[summary["status"] == "ok"]
    ok = ok.sort_values(["saving_usd_per_month", "shop_id"], ascending=[False, True])
    return list(ok["shop_id"])


def shop_page(shop: ShopResults, *, min_segment_size: int = 200) -> Figure:
    """One shop's report page: the shop chart above the tails and genders at the picked size."""
    figure = Figure(figsize=charts.PAGE_SIZE)
    grid = figure.add_gridspec(
        2, 2, left=0.085, right=0.97, top=0.8, bottom=0.12, height_ratios=(1.55, 1),
        hspace=0.62, wspace=0.24,
    )
    ax_cost = figure.add_subplot(grid[0, 0])
    ax_drift = figure.add_subplot(grid[0, 1])
    charts.shop_chart(shop.fractions, shop.pick, ax_cost=ax_cost, ax_drift=ax_drift)
    fraction = _segment_fraction(shop)
    if shop.segments.empty or fraction is None:
        return figure
    rule = replace(findings.pick_rule(shop.pick), min_segment_size=max(findings.pick_rule(shop.pick).min_segment_size, min_segment_size))
    ax_groups = figure.add_subplot(grid[1, :])
    ax_groups.set_position(_inset(ax_groups.get_position(), left=0.13, right=0.22))
    charts.segment_chart(
        shop.segments, fraction, min_segment_size=rule.min_segment_size,
        confidence=rule.confidence, segment_tolerance=rule.segment_tolerance,
        kinds=("tail", "gender"), ax=ax_groups,
    )
    table = charts.segment_table(shop.segments, fraction, rule=rule, kinds=("tail", "gender"))
    shown = table[table["judged"]]
    ax_groups.set_title(
        _fitted(charts.segment_finding(
            shown, fraction, rule.segment_tolerance,
            why="" if shop.pick.get("verdict") == "reduced" else "(the largest smaller size tried)",
        )),
        fontsize=10.5, loc="left",
    )
    return figure


def _fitted(title: str, width: int = 105) -> str:
    """A panel title broken into lines that fit the panel."""
    return "\n".join(textwrap.wrap(title, width))


def _segment_fraction(shop: ShopResults) -> float | None:
    """The picked fraction, or, when nothing smaller suffices, the largest smaller one tried."""
    if shop.pick.get("verdict") == "reduced":
        return float(shop.pick["picked_fraction"])
    smaller = sorted(f for f in shop.fractions["fraction"].unique() if f < 1.0)
    return float(smaller[-1]) if smaller else None


def _inset(box: Any, *, left: float, right: float) -> tuple[float, float, float, float]:
    return (box.x0 + left, box.y0, box.width - left - right, box.height)


def portfolio_money_lines(picks: list[dict[str, Any]]) -> list[str]:
    """The weekly batch's bill today and at the recommended sizes, and what the experiments cost."""
    lines = []
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for pick in picks:
        rule = pick.get("billing_rule") or {}
        seconds = (pick.get("money") or {}).get("seconds_per_training")
        if rule.get("mode") == "batch" and seconds and pick.get("usd_per_second"):
            key = (pick.get("machine"), pick["usd_per_second"], rule["machines"], rule["increment_seconds"], rule["minimum_seconds"])
            groups.setdefault(key, []).append(pick)
    for (machine, usd_per_second, machines, increment, minimum), members in sorted(groups.items(), key=str):
        bills = {
            which: batch_bill(
                {str(p["shop_id"]): float(p["money"]["seconds_per_training"][which]) for p in members},
                machine=str(machine), usd_per_second=float(usd_per_second), machines=int(machines),
                increment_seconds=float(increment), minimum_seconds=float(minimum),
            )
            for which in ("full", "pick")
        }
        lines.append(
            f"The weekly batch of {len(members)} shop{'s' if len(members) != 1 else ''} on {machines} × {machine}: "
            f"{_duration(bills['full'].seconds)} of training, {findings.money(bills['full'].usd)} a run today; "
            f"{_duration(bills['pick'].seconds)}, {findings.money(bills['pick'].usd)} a run at the recommended sizes "
            "(each shop's share in the spreadsheet)."
        )
    costs = [float(p["experiment_cost_usd"]) for p in picks if p.get("experiment_cost_usd") is not None]
    if costs:
        saving = sum(float(p.get("saving_usd_per_month") or 0.0) for p in picks)
        weekly = saving * 12 / 52
        pays = f"paid back after {sum(costs) / weekly:.1f} weeks of the saving" if weekly > 0 else "not paid back: no saving"
        lines.append(f"This experiment cost {findings.money(sum(costs))} to run for {len(costs)} shops, {pays}.")
    return lines


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def portfolio_assumptions(picks: list[dict[str, Any]]) -> str:
    """The assumptions behind every shop's numbers, said once (values that differ are listed)."""
    if not picks:
        return ""
    prices = sorted(
        {
            (p.get("machine"), p.get("price_usd_per_hour"), p.get("price_source"), p.get("price_date"))
            for p in picks
            if p.get("price_usd_per_hour") is not None
        },
        key=str,
    )
    parts = []
    if prices:
        machines = ", ".join(f"{machine} at ${price:.5g}/h" for machine, price, _, _ in prices)
        sources = "; ".join(sorted({f"{source}, {date}" for _, _, source, date in prices}))
        parts.append(f"{machines} ({sources})")
    parts.append(_said_once(picks, "billing", lambda v: f"billed {findings.billing_words(v)}"))
    parts.append(_said_once(picks, "cadence", lambda v: f"trained {v}"))
    rules = [{**findings.pick_rule(p).to_dict()} for p in picks]
    parts.append(
        _said_once(rules, "tolerance", lambda v: f"tolerance {findings.points(v)} above each shop's noise floor")
    )
    parts.append(_said_once(rules, "confidence", lambda v: f"{v:.0%} confidence"))
    parts.append(_said_once(rules, "segment_tolerance", lambda v: f"groups within {findings.points(v)}"))
    parts.append("saving per year = saving per month × 12; failed shops are not in the totals")
    parts.append(f"report made {datetime.now(timezone.utc):%Y-%m-%d}")
    return "Assumptions: " + "; ".join(part for part in parts if part) + "."


def _said_once(picks: list[dict[str, Any]], key: str, words: Any) -> str:
    values = [p.get(key) for p in picks if p.get(key) is not None]
    if not values:
        return ""
    distinct = list(dict.fromkeys(str(v) for v in values))
    if len(distinct) == 1:
        return words(values[0])
    return f"{key.replace('_', ' ')} differs by shop (see the spreadsheet)"


def _save(figure: Figure, pdf: PdfPages, png: Path) -> Path:
    pdf.savefig(figure)
    return write_atomically(png, lambda file: figure.savefig(file, format="png", dpi=PNG_DPI))
