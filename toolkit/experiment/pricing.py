"""Money: machine prices, the billing rule and the training cadence (``params/pricing.yaml``).

* Cost per training = the machine's on-demand price × the *billed* training time, where billed time
  is the measured wall time rounded up to the billing increment (1 s) with a minimum (60 s):
  ``max(minimum_seconds, ceil(seconds / increment_seconds) × increment_seconds)``.
* Cost per month = cost per training × trainings per month; weekly → 52 / 12 ≈ 4.33, daily →
  365 / 12, monthly → 1.
* :class:`TimeCurve` fits training seconds against training rows (``seconds = a + b · rows`` with
  a, b ≥ 0) so a fraction that was not trained, or the shop a year from now, can be priced.

The file (see ``params/pricing.yaml``)::

    currency: USD
    source: <where the prices come from>
    date: "YYYY-MM-DD"
    default_machine: n2-standard-4        # optional
    billing: {increment_seconds: 1, minimum_seconds: 60}
    cadence: weekly                        # daily | weekly | monthly
    machines:
      n2-standard-4: {usd_per_hour: 0.19424, vcpus: 4, memory_gb: 16}   # may also carry source, date

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

__all__ = ["CADENCES", "DEFAULT_PRICING_PATH", "MachinePrice", "Pricing", "TimeCurve"]

#: The repository's pricing file, used when no path is given.
DEFAULT_PRICING_PATH = package_file("pricing.yaml")

#: Trainings per month for each cadence.
CADENCES: dict[str, float] = {"daily": 365 / 12, "weekly": 52 / 12, "monthly": 1.0}

_TOP_KEYS = {"currency", "source", "date", "default_machine", "billing", "cadence", "machines"}
_REQUIRED_TOP = {"source", "date", "billing", "cadence", "machines"}
_BILLING_KEYS = {"increment_seconds", "minimum_seconds"}
_MACHINE_KEYS = {"usd_per_hour", "vcpus", "memory_gb", "source", "date"}


@dataclass(frozen=True)
class MachinePrice:
    """One machine type's on-demand price and where it comes from."""

    name: str
    usd_per_hour: float
    source: str
    date: str
    vcpus: int | None = None
    memory_gb: float | None = None


@dataclass(frozen=True)
class Pricing:
    """Prices, billing rule and cadence; build it with :meth:`load`."""

    machines: Mapping[str, MachinePrice]
    increment_seconds: float
    minimum_seconds: float
    cadence: str
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
        _check_keys(billing, _BILLING_KEYS, _BILLING_KEYS, where, "billing")
        increment = _number(billing["increment_seconds"], where, "billing.increment_seconds", positive=True)
        minimum = _number(billing["minimum_seconds"], where, "billing.minimum_seconds")
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
        increment = _plain(self.increment_seconds)
        return f"per {increment} s with a {_plain(self.minimum_seconds)} s minimum per training"

    def billed_seconds(self, seconds: float | np.ndarray) -> float | np.ndarray:
        """Seconds actually billed for a training of ``seconds`` wall time."""
        measured = np.asarray(seconds, dtype=np.float64)
        if np.any(measured < 0) or np.any(~np.isfinite(measured)):
            raise ParamsError(f"seconds: expected finite training seconds >= 0, got {seconds!r}")
        # Round away float noise (59.999999999 s is a minute) before rounding up to the increment.
        steps = np.ceil(np.round(measured / self.increment_seconds, 9)) * self.increment_seconds
        billed = np.maximum(steps, self.minimum_seconds)
        return float(billed) if billed.ndim == 0 else billed

    def cost_usd_per_training(self, seconds: float | np.ndarray, machine: str) -> float | np.ndarray:
        """Dollars for one training of ``seconds`` wall time on ``machine``, under the billing rule."""
        price = self.machine(machine).usd_per_hour
        return self.billed_seconds(seconds) * price / 3600.0

    def cost_usd_per_month(self, seconds: float | np.ndarray, machine: str) -> float | np.ndarray:
        """Dollars per month: cost per training × :attr:`trainings_per_month`."""
        return self.cost_usd_per_training(seconds, machine) * self.trainings_per_month


@dataclass(frozen=True)
class TimeCurve:
    """Training seconds as a function of training rows: ``intercept_seconds + seconds_per_row · rows``.

    Both coefficients are non-negative (more rows never train faster; a fit cannot go below zero
    seconds). With one point, or all points at the same number of rows, the curve goes through the
    origin and the mean point (time proportional to rows).
    """

    intercept_seconds: float
    seconds_per_row: float

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
        if np.ptp(x) == 0:
            mean_rows, mean_seconds = float(x.mean()), float(t.mean())
            if mean_rows == 0:
                return cls(intercept_seconds=mean_seconds, seconds_per_row=0.0)
            return cls(intercept_seconds=0.0, seconds_per_row=mean_seconds / mean_rows)
        from scipy.optimize import nnls

        design = np.column_stack([np.ones_like(x), x])
        # Scale the rows column so both coefficients are of similar size for the solver.
        unit = float(x.max())
        (intercept, slope), _ = nnls(design / np.array([1.0, unit]), t)
        return cls(intercept_seconds=float(intercept), seconds_per_row=float(slope / unit))

    def seconds(self, rows: float | np.ndarray) -> float | np.ndarray:
        """Predicted training seconds for ``rows`` training rows."""
        predicted = self.intercept_seconds + self.seconds_per_row * np.asarray(rows, dtype=np.float64)
        return float(predicted) if np.ndim(predicted) == 0 else predicted


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
