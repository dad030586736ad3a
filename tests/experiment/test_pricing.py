"""Money: the billing rule, the cadence, the pricing file and the time-vs-rows curve."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ParamsError
from toolkit.experiment.pricing import Discount, Pricing, TimeCurve

PRICING = Pricing.load()
N2 = 0.19424 / 3600  # dollars per second on n2-standard-4


def test_the_repository_file_holds_the_stated_catalog_prices() -> None:
    assert PRICING.machine("n2-standard-4").usd_per_hour == pytest.approx(0.19424)
    assert PRICING.machine("e2-standard-4").usd_per_hour == pytest.approx(0.13402)
    machine = PRICING.machine("n2-standard-4")
    assert machine.source and machine.date
    assert PRICING.cadence == "weekly"


PER_JOB = dataclasses.replace(PRICING, mode="per_job")


def test_the_repository_file_bills_a_batch_per_second() -> None:
    assert PRICING.mode == "batch" and PRICING.batch_machines == 1
    assert PRICING.cost_usd_per_training(10.0, "n2-standard-4") == pytest.approx(10 * N2)
    assert "one after another on 1 machine" in PRICING.billing_description


def test_a_short_training_on_its_own_machine_is_billed_one_minute() -> None:
    assert PER_JOB.cost_usd_per_training(10.0, "n2-standard-4") == pytest.approx(60 * N2)
    assert PER_JOB.cost_usd_per_training(0.0, "n2-standard-4") == pytest.approx(60 * N2)


def test_longer_trainings_on_their_own_machine_are_billed_per_started_second() -> None:
    assert PER_JOB.cost_usd_per_training(61.2, "n2-standard-4") == pytest.approx(62 * N2)
    assert PER_JOB.cost_usd_per_training(3600.0, "n2-standard-4") == pytest.approx(0.19424)
    assert PER_JOB.billed_seconds(60.0000000001) == 60.0


def test_per_minute_and_per_hour_increments() -> None:
    minutes = dataclasses.replace(PER_JOB, increment_seconds=60.0)
    assert minutes.billed_seconds(61.0) == 120.0
    hours = dataclasses.replace(PER_JOB, increment_seconds=3600.0, minimum_seconds=3600.0)
    assert hours.cost_usd_per_training(61.0, "n2-standard-4") == pytest.approx(0.19424)
    assert "per hour" in hours.billing_description and "per minute" in minutes.billing_description


def test_the_worked_example_of_the_docs_holds() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "money.md").read_text(encoding="utf-8")
    week = {"shop-a": 1250.0, "shop-b": 430.0, "shop-c": 12.0}
    bill = PRICING.batch_bill(week, "n2-standard-4")
    assert bill.seconds == bill.billed_seconds == 1692.0
    shares = bill.shares_usd
    assert sum(shares.values()) == pytest.approx(bill.usd)
    for text, value in (("$0.0913", bill.usd), ("$0.0674", shares["shop-a"]), ("$0.0232", shares["shop-b"]),
                        ("$0.00065", shares["shop-c"]), ("$0.3956", bill.usd * 52 / 12),
                        ("$0.00324", PER_JOB.cost_usd_per_training(12.0, "n2-standard-4")),
                        ("$0.0939", sum(PER_JOB.cost_usd_per_training(s, "n2-standard-4") for s in week.values())),
                        ("$0.0000539556", N2)):
        assert text in doc, text
        assert float(text[1:]) == pytest.approx(value, rel=5e-3), text
    discounted = dataclasses.replace(PRICING, discount=Discount(0.8, "contract", "2025-05-01"))
    assert discounted.batch_bill(week, "n2-standard-4").usd == pytest.approx(0.8 * bill.usd)


def test_a_batch_pays_the_minimum_once_per_machine_run() -> None:
    alone = PRICING.batch_bill({"tiny": 12.0}, "n2-standard-4")
    assert alone.billed_seconds == 60.0
    two = dataclasses.replace(PRICING, batch_machines=2).batch_bill({"a": 100.0, "b": 10.0, "c": 5.0}, "n2-standard-4")
    assert two.billed_seconds == 100.0 + 60.0  # a alone on one machine; b and c share the other's minute


def test_monthly_cost_is_a_training_times_52_over_12() -> None:
    assert PRICING.trainings_per_month == pytest.approx(52 / 12)
    for pricing in (PRICING, PER_JOB):
        for seconds in (5.0, 90.0, 7200.0):
            per_training = pricing.cost_usd_per_training(seconds, "e2-standard-4")
            assert pricing.cost_usd_per_month(seconds, "e2-standard-4") == pytest.approx(per_training * 52 / 12)


def test_costs_work_on_arrays_of_seconds() -> None:
    costs = PER_JOB.cost_usd_per_training(np.array([1.0, 120.0]), "n2-standard-4")
    np.testing.assert_allclose(costs, [60 * N2, 120 * N2])
    np.testing.assert_allclose(PRICING.cost_usd_per_training(np.array([1.0, 120.0]), "n2-standard-4"), [N2, 120 * N2])


def test_the_team_pipeline_rate_replaces_metered_time(tmp_path: Path) -> None:
    document = valid_document()
    document["machines"]["small"]["pipeline_seconds_per_1k_rows"] = 0.5
    pricing = Pricing.load(write(tmp_path, document))
    curve = TimeCurve(intercept_seconds=1.0, seconds_per_row=1.0)
    assert pricing.time_source("small") == "pipeline"
    assert pricing.training_seconds(2_000_000, curve, "small") == pytest.approx(1000.0)
    assert PRICING.time_source("n2-standard-4") == "metered"


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0, 1e5), b=st.floats(0, 1e5))
def test_more_training_time_never_costs_less(a: float, b: float) -> None:
    low, high = sorted((a, b))
    for pricing in (PRICING, PER_JOB):
        assert pricing.cost_usd_per_training(low, "n2-standard-4") <= pricing.cost_usd_per_training(high, "n2-standard-4")


def test_an_unknown_machine_names_the_known_machines() -> None:
    with pytest.raises(ParamsError, match=r"'n9-huge'.*e2-standard-4.*n2-standard-4"):
        PRICING.machine("n9-huge")
    with pytest.raises(ParamsError, match="n9-huge"):
        PRICING.cost_usd_per_month(100.0, "n9-huge")


def write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "pricing.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def valid_document() -> dict:
    return {
        "source": "test catalog",
        "date": "2025-01-01",
        "billing": {"increment_seconds": 1, "minimum_seconds": 60},
        "cadence": "daily",
        "machines": {"small": {"usd_per_hour": 3.6}},
    }


def test_a_pricing_file_is_loaded_from_an_explicit_path(tmp_path: Path) -> None:
    pricing = Pricing.load(write(tmp_path, valid_document()))
    assert pricing.trainings_per_month == pytest.approx(365 / 12)
    assert pricing.cost_usd_per_training(100.0, "small") == pytest.approx(0.1)
    assert pricing.cost_usd_per_training(10.0, "small") == pytest.approx(0.01)  # batch: no minimum per training
    assert pricing.machine("small").source == "test catalog"  # inherited from the file


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.update(cadance="weekly"), "cadance"),
        (lambda d: d["billing"].update(rounding="up"), "rounding"),
        (lambda d: d["machines"]["small"].update(usd_per_day=1), "usd_per_day"),
        (lambda d: d.pop("billing"), "billing"),
        (lambda d: d.update(cadence="hourly"), "cadence"),
        (lambda d: d["machines"]["small"].update(usd_per_hour=-1), "usd_per_hour"),
        (lambda d: d["billing"].update(mode="per_shop"), "billing.mode"),
        (lambda d: d["billing"].update(machines=0), "billing.machines"),
        (lambda d: d.update(discount={"factor": 1.5, "source": "x", "date": "y"}), "discount.factor"),
        (lambda d: d.update(discount={"factor": 0.8}), "discount"),
    ],
)
def test_a_wrong_pricing_file_names_the_file_and_the_key(tmp_path: Path, change, key: str) -> None:
    document = valid_document()
    change(document)
    path = write(tmp_path, document)
    with pytest.raises(ParamsError, match=key) as error:
        Pricing.load(path)
    assert str(path) in str(error.value)


def test_a_missing_pricing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="nowhere.yaml"):
        Pricing.load(tmp_path / "nowhere.yaml")


# -- the time-vs-rows curve ---------------------------------------------------------------------
def test_time_curve_recovers_a_linear_relation() -> None:
    rows = np.array([1_000, 10_000, 100_000, 1_000_000])
    curve = TimeCurve.fit(rows, 2.0 + 3e-5 * rows)
    assert curve.intercept_seconds == pytest.approx(2.0, rel=1e-6)
    assert curve.seconds_per_row == pytest.approx(3e-5, rel=1e-6)
    assert curve.seconds(2_000_000) == pytest.approx(62.0, rel=1e-6)
    np.testing.assert_allclose(curve.seconds(np.array([0, 1_000])), [2.0, 2.03])


def test_time_curve_is_never_negative() -> None:
    curve = TimeCurve.fit([100, 1_000, 10_000], [5.0, 4.0, 3.0])  # noisy, decreasing
    assert curve.intercept_seconds >= 0 and curve.seconds_per_row >= 0
    curve = TimeCurve.fit([1_000, 2_000, 3_000], [0.5, 2.0, 3.5])  # would need a negative intercept
    assert curve.intercept_seconds >= 0 and curve.seconds(0) >= 0


def test_time_curve_from_one_point_is_proportional() -> None:
    curve = TimeCurve.fit([50_000], [10.0])
    assert curve.seconds(50_000) == pytest.approx(10.0)
    assert curve.seconds(100_000) == pytest.approx(20.0)
    assert TimeCurve.fit([4_000, 4_000], [1.0, 3.0]).seconds(8_000) == pytest.approx(4.0)


def test_time_curve_needs_a_point() -> None:
    with pytest.raises(ParamsError):
        TimeCurve.fit([], [])


def test_time_curve_carries_the_slope_s_uncertainty() -> None:
    rows = np.array([1_000, 2_000, 4_000, 8_000, 16_000])
    noisy = TimeCurve.fit(rows, 1.0 + 1e-3 * rows * np.array([1.1, 0.9, 1.05, 0.97, 1.02]))
    low, high = noisy.slope_interval(0.95)
    assert low < noisy.seconds_per_row < high and noisy.largest_rows == 16_000
    exact = TimeCurve.fit(rows, 1.0 + 1e-3 * rows)
    assert exact.slope_interval() == pytest.approx((1e-3, 1e-3), rel=1e-6)
