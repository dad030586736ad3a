"""Looking at one shop's stored results in JupyterLab (``notebooks/explore.ipynb`` calls this).

Functions for the parts: :func:`list_sweeps`, :func:`list_shops`, :func:`load_shop_results`,
:func:`repick` (the pick again under another rule — any setting of
:class:`~toolkit.experiment.config.PickRule` — from the stored tables, no retraining),
:func:`pick_change`, :func:`segment_breakdown`, :func:`tails`.

:class:`ShopView` ties them together for the notebook: one shop under one pick, each method a cell.
When there are no results to look at, every method answers with a :class:`Note` that says why and
what to do instead of failing, so the notebook runs top to bottom either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from toolkit.errors import DataError
from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import fraction_label, pick_smallest_sufficient
from toolkit.notebook.overview import Note, Table, segment_overview, shops_overview, verdict_summary
from toolkit.report import charts
from toolkit.report.findings import pick_rule
from toolkit.report.pdf import read_summary
from toolkit.resources import project_root
from toolkit.results import PICK_FILE, ShopResults, read_shop_results, shop_folder_name

__all__ = [
    "Note",
    "ShopView",
    "list_shops",
    "list_sweeps",
    "load_shop_results",
    "pick_change",
    "repick",
    "segment_breakdown",
    "tails",
]

DEFAULT_RESULTS_ROOT = "results"
SHOP_COLUMNS = (
    "shop_id", "status", "verdict", "picked_fraction", "saving_usd_per_month",
    "full_cost_usd_per_month", "pick_cost_usd_per_month", "changed_rate", "changed_rate_ci_low",
    "changed_rate_ci_high", "noise_floor", "error",
)


def find_results_dir(path: str | Path) -> Path:
    """``path`` as given, or, when it is relative and not found from here, from the project folder
    (:func:`toolkit.resources.project_root`) — so a notebook run from ``notebooks/`` finds
    ``results/demo``."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return project_root() / path


def list_sweeps(results_root: str | Path = DEFAULT_RESULTS_ROOT) -> pd.DataFrame:
    """The sweeps under ``results_root``: one row each with how many shops have results."""
    root = find_results_dir(results_root)
    rows = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            complete = [p.name for p in folder.iterdir() if (p / PICK_FILE).is_file()]
            has_summary = (folder / "summary.parquet").is_file()
            if complete or has_summary:
                rows.append(
                    {"sweep": folder.name, "results_dir": str(folder),
                     "shops_with_results": len(complete), "summary": has_summary}
                )
    return pd.DataFrame(rows, columns=["sweep", "results_dir", "shops_with_results", "summary"])


def list_shops(results_dir: str | Path) -> pd.DataFrame:
    """The sweep's shops, largest saving first: status, pick, saving, drift at the pick."""
    summary = read_summary(find_results_dir(results_dir))
    columns = [c for c in SHOP_COLUMNS if c in summary.columns]
    table = summary[columns]
    if "saving_usd_per_month" in table:
        table = table.sort_values(["saving_usd_per_month", "shop_id"], ascending=[False, True], na_position="last")
    return table.reset_index(drop=True)


def load_shop_results(results_dir: str | Path, shop_id: str | None = None) -> ShopResults:
    """One shop's stored results (runs, segments, pick); ``None``: the shop with the largest saving."""
    results_dir = find_results_dir(results_dir)
    if not shop_id:
        shops = list_shops(results_dir)
        ok = shops[shops["status"] == "ok"]
        if ok.empty:
            raise DataError(f"{results_dir}: no shop has complete results (expected <shop_id>/{PICK_FILE})")
        shop_id = str(ok["shop_id"].iloc[0])
    return read_shop_results(results_dir / shop_folder_name(shop_id))


def repick(shop: ShopResults, **changes: Any) -> dict[str, Any]:
    """The pick again from the stored tables under a changed rule (no retraining).

    ``changes`` are :class:`~toolkit.experiment.config.PickRule` settings (``tolerance=0.02``,
    ``confidence=0.9``, ``min_segment_size=100`` …); the rest is the stored pick's rule, read back
    from pick.json. Fractions the stored search did not train stay untested. Returns a
    pick.json-shaped dict: the stored assumptions (prices, cadence, model) with the new pick over them.
    """
    stored = shop.pick
    rule = replace(pick_rule(stored), **{key: value for key, value in changes.items() if value is not None})
    untested = tuple(float(f) for f in stored.get("untested_fractions") or ())
    new = pick_smallest_sufficient(shop.fractions, shop.segments, rule, untested=untested)
    return {**stored, **new.to_dict()}


def pick_change(before: dict[str, Any], after: dict[str, Any]) -> Table:
    """The stored pick beside another one: the rule, the verdict, its drift and its saving."""

    def described(pick: dict[str, Any]) -> dict[str, str]:
        chosen = pick.get("pick") or {}
        rule = pick_rule(pick)
        return {
            "tolerance (points above the noise floor)": f"{rule.tolerance * 100:.1f}",
            "confidence": f"{rule.confidence:.0%}",
            "verdict": str(pick.get("verdict", "")),
            "recommended share of the data": fraction_label(float(pick["picked_fraction"])),
            "training rows": f"{chosen.get('train_rows', float('nan')):,.0f}",
            "told another size at the pick": (
                f"{chosen.get('changed_rate', 0):.2%} ({chosen.get('changed_rate_ci_low', 0):.2%}"
                f"–{chosen.get('changed_rate_ci_high', 0):.2%})"
            ),
            "saving per month": charts.money(pick.get("saving_usd_per_month", float("nan"))),
            "in words": str(pick.get("headline") or charts.pick_sentence(pick)),
        }

    return Table(pd.DataFrame({"stored pick": described(before), "this view": described(after)}), align="left")


def segment_breakdown(shop: ShopResults, fraction: float, rule: PickRule | None = None, *, kinds: tuple[str, ...] | None = None) -> Table | Note:
    """Per group of shoppers at ``fraction`` (groups under ``min_segment_size`` left out, and said)."""
    segments = shop.segments
    if kinds is not None and not segments.empty:
        segments = segments[segments["segment_kind"].isin(kinds)]
    return segment_overview(segments, fraction, rule or pick_rule(shop.pick), n_reference=shop.pick.get("n_reference"))


def tails(shop: ShopResults, fraction: float, rule: PickRule | None = None) -> Table | Note:
    """The tails (shortest, tallest, lightest, heaviest shoppers) at ``fraction``."""
    return segment_breakdown(shop, fraction, rule, kinds=("tail",))


@dataclass(frozen=True)
class ShopView:
    """One shop's stored results under one pick — what the exploration notebook shows.

    Build it with :meth:`open`; :meth:`repick` gives a new view under other settings. Without
    results (``shop`` is None) every method returns a :class:`Note` saying what to do.
    """

    results_dir: Path
    shop: ShopResults | None
    pick: dict[str, Any] = field(default_factory=dict)
    problem: str = ""

    @property
    def _nothing(self) -> Note:
        return Note(f"Nothing to show: no results in `{self.results_dir}` (see above).")

    @classmethod
    def open(cls, results_dir: str | Path, shop_id: str | None = None) -> ShopView:
        """The view of ``shop_id`` (default: the shop with the largest saving) in ``results_dir``."""
        found = find_results_dir(results_dir)
        try:
            shop = load_shop_results(found, shop_id or None)
        except DataError as error:
            return cls(found, None, {}, _missing(results_dir, found, error))
        return cls(found, shop, dict(shop.pick))

    @property
    def rule(self) -> PickRule:
        """The rule of this view's pick."""
        return pick_rule(self.pick)

    @property
    def available(self) -> bool:
        return self.shop is not None

    def _repr_markdown_(self) -> str:
        if self.shop is None:
            return self.problem
        rule = self.rule
        return (
            f"**{self.shop.shop_id}** in `{self.results_dir}` (tolerance {rule.tolerance * 100:.1f} points, "
            f"confidence {rule.confidence:.0%})\n\n" + verdict_summary(self.pick).text
        )

    def __str__(self) -> str:
        return self._repr_markdown_()

    def shops(self) -> Table | Note:
        """The sweep's shops (largest saving first), formatted for reading."""
        try:
            return shops_overview(list_shops(self.results_dir))
        except DataError:
            return self._nothing

    def chart(self) -> Figure | Note:
        """Cost per fraction beside drift, under this view's pick."""
        if self.shop is None:
            return self._nothing
        return charts.shop_chart(self.shop.fractions, self.pick)

    @property
    def fraction(self) -> float | None:
        """The fraction the groups are shown at: the pick, or the largest smaller one trained."""
        if self.shop is None:
            return None
        if self.pick.get("verdict") == "reduced":
            return float(self.pick["picked_fraction"])
        smaller = sorted(f for f in self.shop.fractions["fraction"].unique() if f < 1.0)
        return float(smaller[-1]) if smaller else 1.0

    def segment_chart(self, fraction: float | None = None) -> Figure | Note:
        """Changed rate per group at ``fraction`` (default :attr:`fraction`), small groups hidden."""
        if self.shop is None:
            return self._nothing
        rule = self.rule
        return charts.segment_chart(
            self.shop.segments, fraction or self.fraction, min_segment_size=rule.min_segment_size,
            confidence=rule.confidence, segment_tolerance=rule.segment_tolerance,
        )

    def segment_breakdown(self, fraction: float | None = None) -> Table | Note:
        """The groups as a table (at least ``min_segment_size`` shoppers each)."""
        if self.shop is None:
            return self._nothing
        return segment_breakdown(self.shop, fraction or self.fraction, self.rule)

    def tails(self, fraction: float | None = None) -> Table | Note:
        """The tails as a table."""
        if self.shop is None:
            return self._nothing
        return tails(self.shop, fraction or self.fraction, self.rule)

    def repick(self, **changes: Any) -> ShopView:
        """This shop under a changed rule (``tolerance=0.02``, ``confidence=0.9`` …), from the stored results."""
        if self.shop is None:
            return self
        return replace(self, pick=repick(self.shop, **changes))

    def pick_change(self) -> Table | Note:
        """The stored pick beside this view's."""
        if self.shop is None:
            return self._nothing
        return pick_change(self.shop.pick, self.pick)

    def export_chart(self, path: str | Path | None = None) -> Path | Note:
        """Save this view's chart as PNG (default ``<results_dir>/explore/<shop>_….png``)."""
        if self.shop is None:
            return self._nothing
        if not path:
            name = (
                f"{shop_folder_name(self.shop.shop_id)}_tolerance-{self.rule.tolerance * 100:.1f}pt"
                f"_confidence-{self.rule.confidence * 100:.0f}.png"
            )
            path = self.results_dir / "explore" / name
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        charts.shop_chart(self.shop.fractions, self.pick).savefig(path, dpi=150)
        return path


def _missing(asked: str | Path, found: Path, error: DataError) -> str:
    sweeps = list_sweeps()
    where = (
        "Sweeps with results here: " + ", ".join(f"`{p}`" for p in sweeps["results_dir"]) + "."
        if len(sweeps) else "There are no sweep results under `results/` yet."
    )
    why = "the folder does not exist" if not found.exists() else str(error)
    return (
        f"**No results to show in `{asked}`**: {why}.\n\n"
        f"Make them with `make demo` (or `enough sweep params/<sweep>.yaml`), or set `results_dir` "
        f"in the parameters cell to a sweep's folder. {where}"
    )
