"""The pick rule on constructed per-fraction tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ParamsError
from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import Pick, drift_crossing, fraction_label, pick_smallest_sufficient, segment_verdicts

FRACTIONS = [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]


def fractions_for(
    curve: dict[float, float],
    *,
    floor: float = 0.0,
    se: float = 0.001,
    accuracy_diff: float = 0.0,
    violation: float = 0.0,
    top_share: float = 0.3,
) -> pd.DataFrame:
    """A fractions table whose changed rate per fraction is ``curve`` (the floor included at 1.0)."""
    rows = []
    for fraction, rate in curve.items():
        full = fraction == 1.0
        rows.append({
            "shop_id": "shop-a", "fraction": fraction, "train_rows": 100_000 * fraction, "models": 2,
            "changed_rate": floor if full else rate, "noise_floor": floor,
            "excess_drift": 0.0 if full else rate - floor, "excess_drift_se": 0.0 if full else se,
            "exact_accuracy_diff": 0.0 if full else accuracy_diff, "exact_accuracy_diff_se": 0.0 if full else 0.002,
            "within1_accuracy_diff": 0.0, "within1_accuracy_diff_se": 0.0 if full else 0.002,
            "monotonicity_violation_rate": 0.0 if full else violation, "full_monotonicity_violation_rate": 0.0,
            "top_size_share": 0.3 if full else top_share, "full_top_size_share": 0.3,
            "cost_usd_per_month": 10 * fraction, "noise_floor_measured": True,
        })
    return pd.DataFrame(rows)


CLEAN = {1 / 64: 0.12, 1 / 32: 0.08, 1 / 16: 0.05, 1 / 8: 0.03, 1 / 4: 0.007, 1 / 2: 0.004, 1.0: 0.0}


def test_a_clean_falling_curve_picks_the_smallest_fraction_within_tolerance() -> None:
    pick = pick_smallest_sufficient(fractions_for(CLEAN))
    # 1/4: 0.7% + 1.645 × 0.1% = 0.86% ≤ 1 point; 1/8: 3% fails.
    assert pick.verdict == "reduced" and pick.reduced
    assert pick.picked_fraction == 0.25
    assert pick.saving_usd_per_month == pytest.approx(10 - 2.5)
    assert pick.headline.startswith("Train on 1/4 (25%) of the data")
    verdicts = {v.fraction: v for v in pick.fractions}
    assert not verdicts[1 / 8].qualifies and "3.2 points above the noise floor" in verdicts[1 / 8].reasons[0]
    assert "The next smaller fraction, 1/8 (12.5%), fails" in pick.reasons[0]


def test_a_lucky_dip_below_a_failing_fraction_is_not_picked() -> None:
    noisy = dict(CLEAN)
    noisy[1 / 16] = 0.002  # passes on its own …
    noisy[1 / 8] = 0.03    # … but 1/8 fails first: the search has stopped
    assert pick_smallest_sufficient(fractions_for(noisy)).picked_fraction == 0.25


def test_the_upper_bound_not_the_estimate_decides() -> None:
    close = {1 / 2: 0.009, 1.0: 0.0}
    assert pick_smallest_sufficient(fractions_for(close, se=0.0002)).verdict == "reduced"
    assert pick_smallest_sufficient(fractions_for(close, se=0.002)).verdict == "full"


def test_when_no_smaller_fraction_qualifies_it_says_so_with_the_gap() -> None:
    pick = pick_smallest_sufficient(fractions_for({1 / 4: 0.04, 1 / 2: 0.025, 1.0: 0.0}))
    assert pick.verdict == "full" and pick.picked_fraction == 1.0
    assert pick.gap == pytest.approx(0.025 + 1.645 * 0.001 - 0.01, abs=1e-4)
    assert pick.headline == "Needs all of its data: the largest smaller fraction, 1/2 (50%), fails."
    assert pick.saving_usd_per_month == 0.0


def test_a_floor_above_the_limit_is_indeterminate_and_says_what_to_try() -> None:
    pick = pick_smallest_sufficient(fractions_for({1 / 2: 0.075, 1.0: 0.0}, floor=0.07))
    assert pick.verdict == "indeterminate" and pick.picked_fraction == 1.0
    assert "disagrees with itself for 7.0% of shoppers" in pick.headline
    assert "more seeds" in pick.reasons[0] and "stable model" in pick.reasons[0]
    # the same figures under a looser limit are judged
    assert pick_smallest_sufficient(fractions_for({1 / 2: 0.075, 1.0: 0.0}, floor=0.07), rule=PickRule(max_noise_floor=0.1)).verdict == "reduced"


def test_drift_is_judged_as_excess_over_the_floor() -> None:
    floor = 0.03
    pick = pick_smallest_sufficient(fractions_for({1 / 2: floor + 0.005, 1.0: 0.0}, floor=floor))
    assert pick.verdict == "reduced"
    assert pick.threshold == pytest.approx(floor + 0.01)


def test_sanity_checks_disqualify_a_fraction() -> None:
    assert pick_smallest_sufficient(fractions_for(CLEAN, violation=0.05)).picked_fraction == 1.0
    collapsed = pick_smallest_sufficient(fractions_for(CLEAN, top_share=0.6))
    assert collapsed.picked_fraction == 1.0
    assert "collapse" in collapsed.fractions[1].reasons[-1]


def test_holdout_accuracy_lost_beyond_its_tolerance_disqualifies() -> None:
    pick = pick_smallest_sufficient(fractions_for(CLEAN, accuracy_diff=-0.02))
    assert pick.verdict == "full"
    assert "holdout accuracy (exact) may fall" in pick.fractions[1].reasons[0]
    assert pick_smallest_sufficient(fractions_for(CLEAN, accuracy_diff=-0.002)).verdict == "reduced"


def segments_for(fractions: pd.DataFrame, bad: float | None = None, n: int = 500) -> pd.DataFrame:
    rows = []
    for row in fractions.itertuples(index=False):
        for order, (name, size) in enumerate((("tallest 5%", n), ("shortest 5%", 50))):
            rate = bad if (bad is not None and row.fraction == 0.25 and name == "tallest 5%") else row.changed_rate
            rows.append({"shop_id": "shop-a", "fraction": row.fraction, "segment_kind": "tail", "segment": name,
                         "segment_order": order, "n": size, "changed_rate": rate, "noise_floor": 0.0,
                         "excess_drift": 0.0 if row.fraction == 1 else rate, "excess_drift_se": 0.0 if row.fraction == 1 else 0.004})
    return pd.DataFrame(rows)


def test_a_segment_beyond_its_tolerance_disqualifies_and_small_ones_are_listed_unjudged() -> None:
    fractions = fractions_for(CLEAN)
    pick = pick_smallest_sufficient(fractions, segments_for(fractions, bad=0.05))
    assert pick.picked_fraction == 0.5
    reason = {v.fraction: v for v in pick.fractions}[0.25].reasons[0]
    assert reason.startswith("the tallest 5% (500 shoppers): 5.0% told another size")
    assert [s["segment"] for s in pick.unjudged_segments] == ["shortest 5%"]
    table = segment_verdicts(segments_for(fractions, bad=0.05), PickRule(), 0.25)
    assert list(table["judged"]) == [True, False] and list(table["within"]) == [False, True]


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.001, 0.05), b=st.floats(0.001, 0.05),
    rates=st.lists(st.floats(0.0, 0.1), min_size=6, max_size=6),
)
def test_a_stricter_tolerance_never_picks_a_smaller_fraction(a: float, b: float, rates: list[float]) -> None:
    curve = dict(zip(FRACTIONS[:-1], sorted(rates, reverse=True))) | {1.0: 0.0}
    loose, strict = max(a, b), min(a, b)
    table = fractions_for(curve)
    assert (
        pick_smallest_sufficient(table, rule=PickRule(tolerance=strict)).picked_fraction
        >= pick_smallest_sufficient(table, rule=PickRule(tolerance=loose)).picked_fraction
    )


def test_a_higher_confidence_never_picks_a_smaller_fraction() -> None:
    table = fractions_for(CLEAN, se=0.002)
    picked = [pick_smallest_sufficient(table, rule=PickRule(confidence=c)).picked_fraction for c in (0.8, 0.9, 0.95, 0.99)]
    assert picked == sorted(picked)


def test_untested_fractions_are_reported_and_the_pick_round_trips_through_json() -> None:
    pick = pick_smallest_sufficient(fractions_for({1 / 4: 0.03, 1 / 2: 0.004, 1.0: 0.0}), untested=(1 / 8, 1 / 16))
    stored = json.loads(json.dumps(pick.to_dict()))
    again = Pick.from_dict(stored)
    assert again == pick
    assert stored["untested_fractions"] == [0.125, 0.0625]
    assert stored["rule"]["tolerance"] == 0.01 and stored["verdict"] == "reduced"


def test_the_drift_curve_crossing_has_an_interval_around_it() -> None:
    crossing = drift_crossing(fractions_for(CLEAN), threshold=0.01)
    assert crossing is not None
    assert crossing.ci_low < crossing.fraction < crossing.ci_high
    assert 1 / 8 < crossing.fraction < 1 / 2


@pytest.mark.parametrize(
    ("setting", "value"),
    [("tolerance", -0.01), ("tolerance", 1.5), ("confidence", 1.0), ("confidence", 0.3), ("min_segment_size", 0),
     ("segment_tolerance", "3 points"), ("max_noise_floor", 0.0)],
)
def test_rule_settings_are_checked_with_the_setting_named(setting: str, value: object) -> None:
    with pytest.raises(ParamsError, match=f"setting {setting}: expected"):
        PickRule(**{setting: value})


def test_fractions_are_named_as_people_say_them() -> None:
    assert fraction_label(0.125) == "1/8 (12.5%)"
    assert fraction_label(1 / 16) == "1/16 (6.25%)"
    assert fraction_label(1.0) == "all (100%)"
    assert fraction_label(0.3) == "30%"
