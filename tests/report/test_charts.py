"""Charts say their finding in words, with the numbers of the results they are drawn from."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tests.results_fixtures import DEFAULT_SHOPS, build_sweep
from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import drift_curve
from toolkit.report import charts


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory):
    return build_sweep(tmp_path_factory.mktemp("sweep"))


def _shop(sweep, shop_id: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    folder = sweep / shop_id
    return (
        pd.read_parquet(folder / "fractions.parquet"),
        pd.read_parquet(folder / "segments.parquet"),
        json.loads((folder / "pick.json").read_text()),
    )


def _texts(figure: Figure) -> str:
    """Every piece of text on a figure, tick labels and legends included."""
    return "\n".join(t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")))


def test_pick_sentence_reads_like_the_issue() -> None:
    pick = {
        "verdict": "reduced", "picked_fraction": 0.25, "saving_usd_per_month": 3.2,
        "pick": {"changed_rate": 0.006, "changed_rate_ci_low": 0.004, "changed_rate_ci_high": 0.008},
    }
    assert charts.pick_sentence(pick) == (
        "train on 1/4 (25%) of the data: $3.20/month saved; 0.6% of shoppers (0.4–0.8%) would get another size"
    )


def test_pick_sentence_when_nothing_smaller_suffices_or_nothing_can_be_told() -> None:
    pick = {"verdict": "full", "picked_fraction": 1.0, "gap": 0.0072, "fractions": [{}, {}]}
    assert charts.pick_sentence(pick) == "no smaller fraction suffices (the next one is 0.7 points beyond the tolerance)"
    segments_failed = {**pick, "gap": None}
    assert "some groups of shoppers change too much" in charts.pick_sentence(segments_failed)
    assert "passes every check" in charts.shop_finding(segments_failed)
    assert charts.pick_sentence({**pick, "fractions": [{}]}).startswith("no smaller fraction was tried")
    unclear = {"verdict": "indeterminate", "shop_id": "x", "noise_floor": 0.072}
    assert charts.pick_sentence(unclear).startswith("can't tell: the model disagrees with itself for 7.2%")
    assert "can't tell" in charts.shop_finding(unclear)


def test_money_under_a_cent_keeps_two_significant_digits() -> None:
    assert charts.money(1234.5) == "$1,234.50"
    assert charts.money(0.0012) == "$0.0012"
    assert charts.money(0.0) == "$0.00" and charts.money(-0.5) == "-$0.50"


def test_shop_chart_states_the_pick_and_its_saving(sweep) -> None:
    fractions, _, pick = _shop(sweep, "alpine-outdoor")
    figure = charts.shop_chart(fractions, pick)
    text = _texts(figure)
    saving = charts.money(pick["saving_usd_per_month"])
    assert f"Train on 1/2 (50%) of the data: {saving}/month saved" in text
    assert f"saves {saving} per month ({charts.money(pick['saving_usd_per_month'] * 12)} per year)" in text
    assert "noise floor" in text and "tolerance" in text
    assert "USD per month" in text and "(%)" in text
    assert pick["price_source"] in text and pick["price_date"] in text and "weekly" in text
    flat = " ".join(text.split())
    assert "this experiment cost" in flat and "weekly retrainings" in flat
    # Dollar signs are printed, not read as mathematics.
    assert all(not t.get_parse_math() for t in figure.texts)


def test_shop_chart_says_when_no_smaller_fraction_suffices(sweep) -> None:
    fractions, _, pick = _shop(sweep, "coastal-denim")
    assert pick["verdict"] == "full"
    text = _texts(charts.shop_chart(fractions, pick))
    assert "No smaller fraction suffices (the next one is" in text
    assert "needs all of its data" in text


def test_shop_chart_draws_into_given_axes(sweep) -> None:
    fractions, _, pick = _shop(sweep, "berlin-basics")
    figure = Figure()
    ax_cost, ax_drift = figure.subplots(1, 2)
    assert charts.shop_chart(fractions, pick, ax_cost=ax_cost, ax_drift=ax_drift) is figure
    heights = [bar.get_height() for bar in ax_cost.patches]
    np.testing.assert_allclose(heights, fractions.sort_values("fraction")["cost_usd_per_month"])
    assert ax_cost.get_xscale() == "log" and ax_drift.get_xscale() == "log"


def test_the_drift_band_is_the_test_s_bound(sweep) -> None:
    fractions, _, pick = _shop(sweep, "alpine-outdoor")
    curve = drift_curve(fractions, None, PickRule.from_dict(pick["rule"])).set_index("fraction")
    np.testing.assert_allclose(curve["changed_rate"], fractions.set_index("fraction")["changed_rate"])
    assert (curve["changed_rate_ci_low"] <= curve["changed_rate"]).all()
    assert (curve["changed_rate_ci_high"] >= curve["changed_rate"]).all()
    # the band's top is above the tolerance line exactly when the excess drift test fails
    above = curve["changed_rate_ci_high"] > curve["noise_floor"] + 0.01
    assert list(above[curve.index < 1]) == list(curve.loc[curve.index < 1, "excess_drift_upper"] > 0.01)
    assert curve.loc[pick["picked_fraction"], "changed_rate_ci_high"] == pytest.approx(pick["pick"]["changed_rate_ci_high"])
    assert curve.loc[1.0, "cost_usd_per_month"] == pytest.approx(pick["full"]["cost_usd_per_month"])


def test_portfolio_chart_sorts_by_saving_and_counts_every_shop(sweep) -> None:
    summary = pd.read_parquet(sweep / "summary.parquet")
    figure = charts.portfolio_chart(summary)
    ax = figure.axes[0]
    shown = [label.get_text().split(" (")[0] for label in ax.get_yticklabels()]
    ok = summary[summary["status"] == "ok"].sort_values("saving_usd_per_month", ascending=False)
    assert shown == list(ok["shop_id"])
    text = _texts(figure)
    total = ok["saving_usd_per_month"].sum()
    assert f"2 of 4 shops can train on less data: {charts.money(total * 12)} per year saved ({charts.money(total)} per month)" in text
    assert "1 need all their data" in text and "1 can't tell" in text
    assert "dune-kids" in text  # the failed shop is named


def test_portfolio_headline_agrees_with_the_counts_below_it(sweep) -> None:
    summary = pd.read_parquet(sweep / "summary.parquet")
    ok = summary[summary["status"] == "ok"].copy()
    ok["verdict"] = "reduced"  # every shop can train on less data, but none saves money
    ok["pick_cost_usd_per_month"] = ok["full_cost_usd_per_month"]
    ok["saving_usd_per_month"] = 0.0
    text = _texts(charts.portfolio_chart(ok))
    assert f"{len(ok)} of {len(ok)} shops can train on less data" in text
    assert "No shop can train on less data" not in text
    ok["verdict"] = "full"
    assert "No shop can train on less data" in _texts(charts.portfolio_chart(ok))


def test_segment_chart_hides_small_groups(sweep) -> None:
    _, segments, pick = _shop(sweep, "alpine-outdoor")
    figure = charts.segment_chart(segments, pick["picked_fraction"], min_segment_size=200)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels and not any("unknown" in label for label in labels)
    assert "1 group with fewer than\n200 shoppers not shown" in _texts(figure)


def test_charts_do_not_choose_a_backend_or_load_pyplot() -> None:
    code = "import sys, toolkit.report.charts, toolkit.report.pdf; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_fixture_shop_is_drawn(sweep) -> None:
    for spec in DEFAULT_SHOPS:
        if spec.status == "ok":
            fractions, _, pick = _shop(sweep, spec.shop_id)
            assert isinstance(charts.shop_chart(fractions, pick), Figure)
