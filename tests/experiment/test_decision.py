"""The pick rule on constructed drift curves."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ParamsError
from toolkit.experiment.decision import drift_crossing, pick_smallest_sufficient

N = 20_000
FRACTIONS = [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]


def runs_for(curve: dict[float, float], seeds: tuple[int, ...] = (0, 1), noise: float = 0.004,
             violation: float = 0.0, top_share: float = 0.3) -> pd.DataFrame:
    """A runs table whose drift (changed rate) per fraction is ``curve`` for every seed."""
    rows = []
    for fraction, rate in curve.items():
        for seed in seeds:
            if fraction == 1.0:
                rate_here = 0.0 if seed == seeds[0] else noise
            else:
                rate_here = rate
            rows.append({
                "shop_id": "shop-a", "fraction": fraction, "seed": seed,
                "reference_run": fraction == 1.0 and seed == seeds[0],
                "train_rows": 100_000 * fraction, "n_reference": N,
                "changed_count": int(round(rate_here * N)), "changed_rate": round(rate_here * N) / N,
                "noise_floor": noise, "monotonicity_violation_rate": violation,
                "top_size_share": top_share, "cost_usd_per_month": 10 * fraction,
            })
    return pd.DataFrame(rows)


CLEAN = {1 / 64: 0.12, 1 / 32: 0.08, 1 / 16: 0.05, 1 / 8: 0.03, 1 / 4: 0.010, 1 / 2: 0.007, 1.0: 0.0}


def test_a_clean_falling_curve_picks_the_first_fraction_under_the_threshold() -> None:
    pick = pick_smallest_sufficient(runs_for(CLEAN))
    # threshold = 0.4% noise + 1 point = 1.4%; 1/4 has 1.0% with an upper bound ~1.15%.
    assert pick.picked_fraction == 0.25
    assert pick.reduced
    assert pick.threshold == pytest.approx(0.014)
    assert pick.saving_usd_per_month == pytest.approx(10 - 2.5)
    assert "Train on 25.0% of the data" in pick.explanation
    verdicts = {v.fraction: v for v in pick.fractions}
    assert not verdicts[1 / 8].qualifies and "drift upper bound" in verdicts[1 / 8].reasons[0]


def test_a_noisy_dip_below_the_threshold_is_not_picked_when_a_larger_fraction_fails() -> None:
    noisy = dict(CLEAN)
    noisy[1 / 16] = 0.005  # a lucky seed pair at 1/16 …
    noisy[1 / 8] = 0.03    # … but 1/8 fails, so 1/16 cannot be trusted
    pick = pick_smallest_sufficient(runs_for(noisy))
    assert pick.picked_fraction == 0.25


def test_when_no_smaller_fraction_qualifies_it_says_so_with_the_gap() -> None:
    bad = {f: 0.05 for f in FRACTIONS}
    pick = pick_smallest_sufficient(runs_for(bad))
    assert pick.picked_fraction == 1.0 and not pick.reduced
    assert pick.saving_usd_per_month == 0
    assert pick.gap == pytest.approx(pick.fractions[-2].changed_rate_ci_high - 0.014)
    assert pick.gap > 0.03
    assert pick.explanation.startswith("No smaller fraction suffices")


def test_sanity_checks_disqualify_a_fraction() -> None:
    runs = runs_for(CLEAN)
    runs.loc[(runs["fraction"] == 0.25), "monotonicity_violation_rate"] = 0.10
    assert pick_smallest_sufficient(runs).picked_fraction == 0.5
    runs = runs_for(CLEAN)
    runs.loc[(runs["fraction"] == 0.25), "top_size_share"] = 0.9
    pick = pick_smallest_sufficient(runs)
    assert pick.picked_fraction == 0.5
    assert any("collapse" in r for r in pick.fractions[4].reasons)


def test_a_segment_beyond_its_tolerance_disqualifies_the_fraction() -> None:
    runs = runs_for(CLEAN)
    segments = pd.DataFrame([
        {"fraction": f, "seed": s, "segment_kind": "tail", "segment": "tallest 5%",
         "n": 1000, "changed_count": 100 if f == 0.25 else 5, "noise_floor": 0.01}
        for f in FRACTIONS for s in (0, 1)
    ])
    pick = pick_smallest_sufficient(runs, segments)
    assert pick.picked_fraction == 0.5
    # Segments under the minimum size are not judged.
    assert pick_smallest_sufficient(runs, segments, min_segment_size=5000).picked_fraction == 0.25


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.2), st.floats(0.0, 0.2), st.lists(st.floats(0, 0.2), min_size=6, max_size=6))
def test_a_stricter_tolerance_never_picks_a_smaller_fraction(a: float, b: float, rates: list[float]) -> None:
    runs = runs_for(dict(zip(FRACTIONS, rates + [0.0])))
    strict, loose = sorted((a, b))
    assert pick_smallest_sufficient(runs, tolerance=strict).picked_fraction >= \
        pick_smallest_sufficient(runs, tolerance=loose).picked_fraction


def test_a_higher_confidence_never_picks_a_smaller_fraction() -> None:
    runs = runs_for(CLEAN)
    assert pick_smallest_sufficient(runs, confidence=0.999).picked_fraction >= \
        pick_smallest_sufficient(runs, confidence=0.8).picked_fraction


def test_the_drift_curve_crossing_has_an_interval_around_it() -> None:
    curve = {f: 0.002 * f ** -0.8 for f in FRACTIONS[:-1]}
    curve[1.0] = 0.0
    runs = runs_for(curve)
    crossing = drift_crossing(runs, threshold=0.014)
    expected = (0.014 / 0.002) ** (-1 / 0.8)
    assert crossing is not None
    assert crossing.fraction == pytest.approx(expected, rel=0.05)
    assert crossing.ci_low <= crossing.fraction <= crossing.ci_high


def test_parameters_are_checked() -> None:
    with pytest.raises(ParamsError, match="tolerance"):
        pick_smallest_sufficient(runs_for(CLEAN), tolerance=5)
    with pytest.raises(ParamsError, match="fraction 1.0"):
        pick_smallest_sufficient(runs_for(CLEAN).query("fraction < 1"))


def test_at_full_data_the_drift_shown_is_the_noise_floor_not_the_reference_itself() -> None:
    full = pick_smallest_sufficient(runs_for(CLEAN, noise=0.006)).fractions[-1]
    assert full.fraction == 1.0 and full.changed_rate == pytest.approx(0.006)


def test_the_worst_seed_decides() -> None:
    runs = runs_for(CLEAN)
    at_quarter = (runs["fraction"] == 0.25) & (runs["seed"] == 1)
    runs.loc[at_quarter, "changed_count"] = int(0.03 * N)  # only seed 1 drifts beyond the threshold
    runs.loc[at_quarter, "changed_rate"] = 0.03
    pick = pick_smallest_sufficient(runs)
    assert pick.picked_fraction == 0.5
    quarter = next(v for v in pick.fractions if v.fraction == 0.25)
    assert quarter.changed_rate == pytest.approx((0.010 + 0.03) / 2)
    assert quarter.changed_rate_ci_high > 0.03


def test_when_only_a_segment_fails_there_is_no_drift_gap() -> None:
    runs = runs_for({f: (0.005 if f < 1 else 0.0) for f in FRACTIONS})
    segments = pd.DataFrame([
        {"fraction": f, "seed": s, "segment_kind": "tail", "segment": "tallest 5%",
         "n": 1000, "changed_count": 200 if f < 1 else 5, "noise_floor": 0.005}
        for f in FRACTIONS for s in (0, 1)
    ])
    pick = pick_smallest_sufficient(runs, segments)
    assert pick.picked_fraction == 1.0 and pick.gap is None
    assert "segment tail 'tallest 5%'" in pick.explanation


def test_small_segments_are_listed_as_not_judged_and_one_seed_is_flagged() -> None:
    segments = pd.DataFrame([
        {"fraction": f, "seed": 0, "segment_kind": "tail", "segment": "tallest 5%",
         "n": 89, "changed_count": 80, "noise_floor": 0.0}
        for f in FRACTIONS
    ])
    runs = runs_for(CLEAN, seeds=(0,))
    pick = pick_smallest_sufficient(runs, segments)
    assert pick.unjudged_segments == [{"segment_kind": "tail", "segment": "tallest 5%", "n": 89}]
    assert "were not judged" in pick.explanation and "(89)" in pick.explanation
    assert not pick.noise_floor_measured and "noise floor was not measured" in pick.explanation
