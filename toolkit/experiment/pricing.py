"""Money: machine prices, the billing rule, the cadence, and training time against rows.

Billing, as clouds bill (``billing.mode`` in ``params/pricing.yaml``):

* ``batch`` (default) — a weekly job trains the sweep's shops one after another on ``machines``
  machines of a type. Per-second billing with a one-minute minimum applies to each *machine's run*,
  so a training costs its seconds × the price per second, and the rounding and the minimum are paid
  once per machine run: :meth:`Pricing.batch_bill` gives the batch's bill and each shop's share.
* ``per_job`` — each training starts its own machine: its seconds are rounded up to the billing
  increment (1 s, 60 s or 3,600 s) with the minimum (60 s), per training.

Every price may be scaled by a ``discount`` (sustained- or committed-use), which keeps its source and
date, as every price does. Cost per month = cost per training × trainings per month (weekly → 52/12).

Training time comes from the experiment's own metering, fitted by :class:`TimeCurve`
(``seconds = a + b · rows``, with the fit's uncertainty), or, when a machine gives
``pipeline_seconds_per_1k_rows`` (the team's measured preprocessing + training time), from that
rate: then the money is the team's pipeline's bill (``time_source`` says which was used).

The file (see ``params/pricing.yaml``)::

    currency: USD
    source: <where the prices come from>
    date: "YYYY-MM-DD"
    default_machine: n2-standard-4        # optional
    billing: {mode: batch, machines: 1, increment_seconds: 1, minimum_seconds: 60}
    discount: {factor: 0.8, source: ..., date: ...}   # optional; 1 = list prices
    cadence: weekly                        # daily | weekly | monthly
    machines:
      n2-standard-4: {usd_per_hour: 0.19424, vcpus: 4, memory_gb: 16}   # may also carry source,
                                             # date, pipeline_seconds_per_1k_rows

Unknown keys, missing keys and wrong values raise :class:`ParamsError` naming the file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ParamsError
from toolkit.params_files import read_yaml_file
from toolkit.resources import package_file

__all__ = [
    "BILLING_MODES",
    "CADENCES",
    "DEFAULT_PRICING_PATH",
    "BatchBill",
    "Discount",
    "MachinePrice",
    "Pricing",
    "TimeCurve",
    "batch_bill",
]

#: The repository's pricing file, used when no path is given.
DEFAULT_PRICING_PATH = package_file("pricing.yaml")

#: Trainings per month for each cadence.
CADENCES: dict[str, float] = {"daily": 365 / 12, "weekly": 52 / 12, "monthly": 1.0}

#: How trainings are billed: in a batch on shared machines, or one machine per training.
BILLING_MODES = ("batch", "per_job")

_TOP_KEYS = {"currency", "source", "date", "default_machine", "billing", "discount", "cadence", "machines"}
_REQUIRED_TOP = {"source", "date", "billing", "cadence", "machines"}
_BILLING_KEYS = {"mode", "machines", "increment_seconds", "minimum_seconds"}
_DISCOUNT_KEYS = {"factor", "source", "date"}
_MACHINE_KEYS = {"usd_per_hour", "vcpus", "memory_gb", "source", "date", "pipeline_seconds_per_1k_rows"}


@dataclass(frozen=True)
class MachinePrice:
    """One machine type's on-demand price and where it comes from."""

    name: str
    usd_per_hour: float
    source: str
    date: str
    vcpus: int | None = None
    memory_gb: float | None = None
    #: the team's own measured pipeline time per 1,000 rows on this machine (None: use our metering)
    pipeline_seconds_per_1k_rows: float | None = None


@dataclass(frozen=True)
class Discount:
    """A factor on every list price, with where it comes from (1: no discount)."""

    factor: float = 1.0
    source: str = ""
    date: str = ""


@dataclass(frozen=True)
class BatchBill:
    """A weekly batch of trainings on ``machines`` machines of one type, and who pays what."""

    machine: str
    machines: int
    seconds: float  # the trainings' seconds, summed
    billed_seconds: float  # summed over the machine runs, after rounding and minimum
    usd: float
    shares_usd: dict[str, float]  # each shop's share: its seconds' part of the bill


@dataclass(frozen=True)
class Pricing:
    """Prices, billing rule and cadence; build it with :meth:`load`."""

    machines: Mapping[str, MachinePrice]
    increment_seconds: float
    minimum_seconds: float
    cadence: str
    mode: str = "batch"
    batch_machines: int = 1
    discount: Discount = Discount()
    currency: str = "USD"
    source: str = ""
    date: str = ""
    default_machine: str | None = None
    path: str = ""

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Pricing:
        """Read and validate a pricing file (default: the repository's ``params/pricing.yaml``)."""
        file = Path(path) if path is not None else DEFAULT_PRICING_PATH
        if not file.is_file():
            raise ParamsError(f"pricing file {file}: not found (expected a YAML file like params/pricing.yaml)")
        document = read_yaml_file(file, what="pricing file")
        return cls.from_dict(document, source_name=str(file))

    @classmethod
    def from_dict(cls, document: object, *, source_name: str = "<pricing>") -> Pricing:
        """Validate an already-parsed pricing document (the YAML's top-level mapping)."""
        where = f"pricing file {source_name}"
        document = _mapping(document, where, "top level")
        _check_keys(document, _TOP_KEYS, _REQUIRED_TOP, where, "top level")
        billing = _mapping(document["billing"], where, "billing")
        _check_keys(billing, _BILLING_KEYS, {"increment_seconds", "minimum_seconds"}, where, "billing")
        increment = _number(billing["increment_seconds"], where, "billing.increment_seconds", positive=True)
        minimum = _number(billing["minimum_seconds"], where, "billing.minimum_seconds")
        mode = billing.get("mode", "batch")
        if mode not in BILLING_MODES:
            raise ParamsError(f"{where}: billing.mode: expected one of {list(BILLING_MODES)}, got {mode!r}")
        batch_machines = billing.get("machines", 1)
        if isinstance(batch_machines, bool) or not isinstance(batch_machines, int) or batch_machines < 1:
            raise ParamsError(f"{where}: billing.machines: expected an integer >= 1, got {batch_machines!r}")
        discount = Discount()
        if document.get("discount") is not None:
            raw = _mapping(document["discount"], where, "discount")
            _check_keys(raw, _DISCOUNT_KEYS, {"factor", "source", "date"}, where, "discount")
            factor = _number(raw["factor"], where, "discount.factor", positive=True)
            if factor > 1:
                raise ParamsError(f"{where}: discount.factor: expected a factor in (0, 1] (0.8 = 20% off), got {factor!r}")
            discount = Discount(factor=factor, source=str(raw["source"]), date=str(raw["date"]))
        cadence = document["cadence"]
        if cadence not in CADENCES:
            raise ParamsError(f"{where}: cadence: expected one of {list(CADENCES)}, got {cadence!r}")
        source, date = str(document["source"]), str(document["date"])
        raw_machines = _mapping(document["machines"], where, "machines")
        if not raw_machines:
            raise ParamsError(f"{where}: machines: expected at least one machine type, got none")
        machines: dict[str, MachinePrice] = {}
        for name, spec in raw_machines.items():
            key = f"machines.{name}"
            spec = _mapping(spec, where, key)
            _check_keys(spec, _MACHINE_KEYS, {"usd_per_hour"}, where, key)
            machines[str(name)] = MachinePrice(
                name=str(name),
                usd_per_hour=_number(spec["usd_per_hour"], where, f"{key}.usd_per_hour", positive=True),
                source=str(spec.get("source", source)),
                date=str(spec.get("date", date)),
                vcpus=None if spec.get("vcpus") is None else int(spec["vcpus"]),
                memory_gb=None if spec.get("memory_gb") is None else float(spec["memory_gb"]),
                pipeline_seconds_per_1k_rows=(
                    None if spec.get("pipeline_seconds_per_1k_rows") is None
                    else _number(spec["pipeline_seconds_per_1k_rows"], where, f"{key}.pipeline_seconds_per_1k_rows", positive=True)
                ),
            )
        default = document.get("default_machine")
        if default is not None and default not in machines:
            raise ParamsError(
                f"{where}: default_machine: expected one of {sorted(machines)}, got {default!r}"
            )
        return cls(
            machines=machines,
            increment_seconds=increment,
            minimum_seconds=minimum,
            cadence=str(cadence),
            mode=str(mode),
            batch_machines=int(batch_machines),
            discount=discount,
            currency=str(document.get("currency", "USD")),
            source=source,
            date=date,
            default_machine=default,
            path=source_name,
        )

    # -- use ---------------------------------------------------------------------------------
    def machine(self, name: str) -> MachinePrice:
        """The machine type ``name``; an unknown name raises :class:`ParamsError` listing the known."""
        try:
            return self.machines[name]
        except KeyError:
            raise ParamsError(
                f"machine: unknown machine type {name!r} in {self.path or 'the pricing file'}; "
                f"expected one of {sorted(self.machines)}"
            ) from None

    @property
    def trainings_per_month(self) -> float:
        """Trainings per month at this cadence (weekly → 52/12)."""
        return CADENCES[self.cadence]

    @property
    def billing_description(self) -> str:
        """The billing rule in words, for reports."""
        increment = {1.0: "second", 60.0: "minute", 3600.0: "hour"}.get(float(self.increment_seconds))
        step = f"per {increment}" if increment else f"per {_plain(self.increment_seconds)} s"
        if self.mode == "batch":
            words = (
                f"{step}, trainings one after another on {self.batch_machines} machine"
                f"{'s' if self.batch_machines != 1 else ''} (a {_plain(self.minimum_seconds)} s minimum per machine run)"
            )
        else:
            words = f"{step} with a {_plain(self.minimum_seconds)} s minimum per training (one machine each)"
        if self.discount.factor != 1:
            words += f", {1 - self.discount.factor:.0%} discount ({self.discount.source}, {self.discount.date})"
        return words

    def usd_per_second(self, machine: str) -> float:
        """The machine's price per second, after any discount."""
        return self.machine(machine).usd_per_hour / 3600.0 * self.discount.factor

    def billed_seconds(self, seconds: float | np.ndarray) -> float | np.ndarray:
        """Seconds billed for one machine run of ``seconds``: rounded up to the increment, at least the minimum."""
        measured = np.asarray(seconds, dtype=np.float64)
        if np.any(measured < 0) or np.any(~np.isfinite(measured)):
            raise ParamsError(f"seconds: expected finite training seconds >= 0, got {seconds!r}")
        # Round away float noise (59.999999999 s is a minute) before rounding up to the increment.
        steps = np.ceil(np.round(measured / self.increment_seconds, 9)) * self.increment_seconds
        billed = np.maximum(steps, self.minimum_seconds)
        return float(billed) if billed.ndim == 0 else billed

    def cost_usd_per_training(self, seconds: float | np.ndarray, machine: str) -> float | np.ndarray:
        """Dollars for one training of ``seconds`` on ``machine``: its seconds (batch) or its own
        billed machine run (per job), times the price."""
        price = self.usd_per_second(machine)
        if self.mode == "batch":
            measured = np.asarray(seconds, dtype=np.float64)
            if np.any(measured < 0) or np.any(~np.isfinite(measured)):
                raise ParamsError(f"seconds: expected finite training seconds >= 0, got {seconds!r}")
            cost = measured * price
            return float(cost) if cost.ndim == 0 else cost
        return self.billed_seconds(seconds) * price

    def cost_usd_per_month(self, seconds: float | np.ndarray, machine: str) -> float | np.ndarray:
        """Dollars per month: cost per training × :attr:`trainings_per_month`."""
        return self.cost_usd_per_training(seconds, machine) * self.trainings_per_month

    def batch_bill(self, seconds_by_shop: Mapping[str, float], machine: str) -> BatchBill:
        """The bill of one batch run: the shops' trainings spread over :attr:`batch_machines`
        machines (longest first, each to the least busy machine), each machine's run billed with
        the increment and the minimum; each shop's share is its part of the seconds."""
        return batch_bill(
            seconds_by_shop,
            machine=machine,
            usd_per_second=self.usd_per_second(machine),
            machines=self.batch_machines,
            increment_seconds=self.increment_seconds,
            minimum_seconds=self.minimum_seconds,
        )

    @property
    def billing_rule(self) -> dict[str, Any]:
        """The billing rule as numbers (stored in pick.json, read by the report's batch bill)."""
        return {
            "mode": self.mode,
            "machines": self.batch_machines,
            "increment_seconds": self.increment_seconds,
            "minimum_seconds": self.minimum_seconds,
        }

    def time_source(self, machine: str) -> str:
        """``pipeline`` when the machine gives the team's measured rate, else ``metered``."""
        return "pipeline" if self.machine(machine).pipeline_seconds_per_1k_rows else "metered"

    def training_seconds(self, rows: float | np.ndarray, curve: TimeCurve, machine: str) -> float | np.ndarray:
        """Seconds of one training on ``rows`` rows: the team's pipeline rate when given, else the curve."""
        rate = self.machine(machine).pipeline_seconds_per_1k_rows
        if rate:
            seconds = np.asarray(rows, dtype=np.float64) / 1000.0 * rate
            return float(seconds) if seconds.ndim == 0 else seconds
        return curve.seconds(rows)


def batch_bill(
    seconds_by_shop: Mapping[str, float],
    *,
    machine: str,
    usd_per_second: float,
    machines: int,
    increment_seconds: float,
    minimum_seconds: float,
) -> BatchBill:
    """One batch run's bill: the shops' trainings spread over ``machines`` machines (longest first,
    each to the least busy machine), each machine's run rounded up to the increment with the
    minimum; each shop's share is its part of the seconds."""
    loads = [0.0] * max(int(machines), 1)
    for seconds in sorted(seconds_by_shop.values(), reverse=True):
        loads[loads.index(min(loads))] += float(seconds)
    used = np.array([load for load in loads if load > 0] or [0.0])
    steps = np.ceil(np.round(used / increment_seconds, 9)) * increment_seconds
    billed = float(np.maximum(steps, minimum_seconds).sum())
    usd = billed * usd_per_second
    total = float(sum(seconds_by_shop.values()))
    count = max(len(seconds_by_shop), 1)
    shares = {shop: usd * seconds / total if total > 0 else usd / count for shop, seconds in seconds_by_shop.items()}
    return BatchBill(machine, len(loads), total, billed, usd, shares)


@dataclass(frozen=True)
class TimeCurve:
    """Training seconds as a function of training rows: ``intercept_seconds + seconds_per_row · rows``.

    Both coefficients are non-negative (more rows never train faster; a fit cannot go below zero
    seconds): a non-negative least-squares line. ``seconds_per_row_se`` is the slope's standard
    error from the ordinary least-squares fit of the same points (0 with fewer than three distinct
    row counts), so a cost projected from the curve carries an interval. With one point, or all
    points at the same number of rows, the curve goes through the origin and the mean point.
    """

    intercept_seconds: float
    seconds_per_row: float
    seconds_per_row_se: float = 0.0
    largest_rows: float = 0.0  # the largest training measured: beyond it the curve is a projection

    @classmethod
    def fit(cls, rows: Sequence[float] | np.ndarray, seconds: Sequence[float] | np.ndarray) -> TimeCurve:
        """Non-negative least-squares line through (rows, seconds) pairs."""
        x = np.asarray(rows, dtype=np.float64).reshape(-1)
        t = np.asarray(seconds, dtype=np.float64).reshape(-1)
        if len(x) != len(t):
            raise ParamsError(f"time curve: rows and seconds: expected equal lengths, got {len(x)} and {len(t)}")
        keep = np.isfinite(x) & np.isfinite(t)
        x, t = x[keep], t[keep]
        if len(x) == 0:
            raise ParamsError("time curve: expected at least one (rows, seconds) point, got none")
        if np.any(x < 0) or np.any(t < 0):
            raise ParamsError("time curve: expected rows >= 0 and seconds >= 0")
        largest = float(x.max())
        if np.ptp(x) == 0:
            mean_rows, mean_seconds = float(x.mean()), float(t.mean())
            if mean_rows == 0:
                return cls(intercept_seconds=mean_seconds, seconds_per_row=0.0, largest_rows=largest)
            return cls(intercept_seconds=0.0, seconds_per_row=mean_seconds / mean_rows, largest_rows=largest)
        from scipy.optimize import nnls

        design = np.column_stack([np.ones_like(x), x])
        # Scale the rows column so both coefficients are of similar size for the solver.
        unit = float(x.max())
        (intercept, slope), _ = nnls(design / np.array([1.0, unit]), t)
        se = 0.0
        if len(np.unique(x)) >= 3:
            _, covariance = np.polyfit(x / unit, t, 1, cov=True)
            se = float(np.sqrt(max(covariance[0, 0], 0.0)) / unit)
        return cls(float(intercept), float(slope / unit), se, largest)

    def seconds(self, rows: float | np.ndarray, *, slope: float | None = None) -> float | np.ndarray:
        """Predicted training seconds for ``rows`` training rows (optionally at another slope)."""
        per_row = self.seconds_per_row if slope is None else slope
        predicted = self.intercept_seconds + per_row * np.asarray(rows, dtype=np.float64)
        return float(predicted) if np.ndim(predicted) == 0 else predicted

    def slope_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The seconds per row at the ends of its two-sided interval (never below zero)."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + confidence / 2))
        return max(self.seconds_per_row - z * self.seconds_per_row_se, 0.0), self.seconds_per_row + z * self.seconds_per_row_se


# -- validation helpers (private to this module) -----------------------------------------------
def _mapping(value: object, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ParamsError(f"{where}: {key}: expected a mapping, got {type(value).__name__}")
    return dict(value)


def _check_keys(
    mapping: Mapping[str, Any], allowed: set[str], required: set[str], where: str, key: str
) -> None:
    unknown = sorted(str(k) for k in set(mapping) - allowed)
    if unknown:
        raise ParamsError(f"{where}: {key}: unknown key {unknown[0]!r} (expected some of {sorted(allowed)})")
    missing = sorted(required - set(mapping))
    if missing:
        raise ParamsError(f"{where}: {key}: missing key {missing[0]!r}")


def _number(value: object, where: str, key: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamsError(f"{where}: {key}: expected a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ParamsError(f"{where}: {key}: expected a number {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
