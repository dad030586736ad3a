"""Exploring stored results: shops listed, a re-pick without retraining, the notebook end to end."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from matplotlib.figure import Figure

from tests.results_fixtures import build_sweep
from toolkit.notebook import explore

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sweep(tmp_path_factory.mktemp("results") / "small-sweep")


def test_sweeps_and_shops_are_listed(sweep: Path) -> None:
    sweeps = explore.list_sweeps(sweep.parent)
    assert list(sweeps["sweep"]) == ["small-sweep"]
    assert int(sweeps["shops_with_results"].iloc[0]) == 4
    shops = explore.list_shops(sweep)
    ok = shops[shops["status"] == "ok"]
    assert list(ok["saving_usd_per_month"]) == sorted(ok["saving_usd_per_month"], reverse=True)
    assert "sample_shopper_id" not in shops.columns


def test_the_default_shop_is_the_one_with_the_largest_saving(sweep: Path) -> None:
    assert explore.load_shop_results(sweep).shop_id == explore.list_shops(sweep)["shop_id"].iloc[0]


def test_repick_with_the_stored_settings_gives_the_stored_pick(sweep: Path) -> None:
    shop = explore.load_shop_results(sweep, "berlin-basics")
    again = explore.repick(shop)
    assert again["picked_fraction"] == shop.pick["picked_fraction"]
    assert again["saving_usd_per_month"] == pytest.approx(shop.pick["saving_usd_per_month"])
    assert again["price_source"] == shop.pick["price_source"]  # the assumptions are kept


def test_a_looser_tolerance_can_only_pick_less_data(sweep: Path) -> None:
    shop = explore.load_shop_results(sweep, "coastal-denim")
    assert shop.pick["verdict"] == "full"
    loose = explore.repick(shop, tolerance=0.05, segment_tolerance=0.1)
    assert loose["picked_fraction"] <= shop.pick["picked_fraction"]
    assert loose["verdict"] == "reduced"  # 5 points is enough for this shop's 50% subset
    assert loose["rule"]["tolerance"] == 0.05 and loose["rule"]["confidence"] == shop.pick["rule"]["confidence"]
    table = explore.pick_change(shop.pick, loose).frame
    assert list(table.columns) == ["stored pick", "this view"]


def test_repick_reads_back_every_stored_setting(sweep: Path) -> None:
    shop = explore.load_shop_results(sweep, "berlin-basics")
    strict = dict(shop.pick, rule={**shop.pick["rule"], "accuracy_tolerance": 0.0})
    stricter = explore.repick(explore.ShopResults(shop.shop_id, shop.folder, shop.runs, shop.fractions, shop.segments, strict))
    assert stricter["verdict"] == "full"  # the stored rule's 0-point accuracy tolerance, not the default 1 point


def test_tails_leave_out_small_groups(sweep: Path) -> None:
    shop = explore.load_shop_results(sweep, "alpine-outdoor")
    tails = explore.tails(shop, shop.pick["picked_fraction"]).frame
    assert list(tails.index) == ["the shortest 5%", "the tallest 5%", "the lightest 5%", "the heaviest 5%"]
    groups = explore.segment_breakdown(shop, shop.pick["picked_fraction"])
    assert "unknown" not in " ".join(groups.frame.index) and "1 smaller segment" in groups.caption
    weights = [name for name in groups.frame.index if name.startswith("weight")]
    assert weights == ["weight under 55 kg", "weight 55–70 kg", "weight 70–85 kg", "weight 85–100 kg", "weight 100–120 kg", "weight 120 kg and over"]


def test_a_view_without_results_says_what_to_do(tmp_path: Path) -> None:
    view = explore.ShopView.open(tmp_path / "nothing-here")
    assert not view.available
    assert "No results to show" in view._repr_markdown_() and "make demo" in view._repr_markdown_()
    for answer in (view.chart(), view.tails(), view.repick(tolerance=0.02).pick_change(), view.export_chart()):
        assert isinstance(answer, explore.Note)


def test_a_view_exports_its_chart(sweep: Path, tmp_path: Path) -> None:
    view = explore.ShopView.open(sweep, "coastal-denim").repick(tolerance=0.05, segment_tolerance=0.1)
    assert isinstance(view.chart(), Figure)
    path = view.export_chart(tmp_path / "view.png")
    assert path.stat().st_size > 10_000
    default = view.export_chart()
    assert default.parent == sweep / "explore" and "tolerance-5.0pt" in default.name


def _run_notebook(tmp_path: Path, **parameters: object) -> nbformat.NotebookNode:
    output = tmp_path / "explore-out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(output), parameters=parameters, cwd=str(NOTEBOOK.parent),
        progress_bar=False, kernel_name="python3",
    )
    return nbformat.read(output, as_version=4)


def _outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def test_the_notebook_runs_on_stored_results(sweep: Path, tmp_path: Path) -> None:
    export = tmp_path / "exported.png"
    notebook = _run_notebook(
        tmp_path, results_dir=str(sweep), shop_id="coastal-denim", tolerance=0.05,
        export_path=str(export),
    )
    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # curves, groups, re-picked curves
    assert export.stat().st_size > 10_000
    text = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "this view" in text and "heaviest 5%" in text
    markdown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "**Needs all of its data" in markdown


def test_the_notebook_says_so_when_there_are_no_results(tmp_path: Path) -> None:
    notebook = _run_notebook(tmp_path, results_dir=str(tmp_path / "no-such-sweep"))
    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    markdown = "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "No results to show" in markdown
