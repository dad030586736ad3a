"""Every setting of one shop's experiment, in one typed place, each with its help text.

:class:`PickRule` holds what the decision needs (tolerances, confidence, limits); it is stored whole
in ``pick.json`` so a re-pick reads it back. :class:`ExperimentConfig` holds what training needs and
the rule. The notebook's parameters, a sweep file's ``parameters`` and ``repick`` all go through
:meth:`ExperimentConfig.from_params`, which takes the flat names (``tolerance``, ``seeds``, …),
checks every value's type and range before anything is trained, and raises :class:`ParamsError`
naming the setting, the value and what was expected.

``ExperimentConfig.help()`` lists every setting with its default and help text.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from toolkit.errors import ParamsError
from toolkit.models import DEFAULT_MODEL, check_model

__all__ = ["DEFAULT_FRACTIONS", "ExperimentConfig", "PickRule", "setting_names"]

#: 1/64 … 1/2 and the full data.
DEFAULT_FRACTIONS: tuple[float, ...] = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


def _setting(default: Any, help: str, kind: str) -> Any:
    """A dataclass field with its help text and the kind of value it takes (for messages)."""
    metadata = {"help": help, "kind": kind}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class PickRule:
    """When a fraction is sufficient (see ``docs/decision.md``)."""

    tolerance: float = _setting(
        0.01, "allowed excess changed-size rate over the noise floor (0.01 = 1 point)", "a share in [0, 1)"
    )
    confidence: float = _setting(
        0.95, "confidence of the one-sided tests and the intervals shown", "a number in (0.5, 1)"
    )
    segment_tolerance: float = _setting(
        0.03, "the same, within each segment of at least min_segment_size reference shoppers", "a share in [0, 1)"
    )
    min_segment_size: int = _setting(
        200, "segments with fewer reference shoppers are neither judged nor reported", "an integer >= 1"
    )
    accuracy_tolerance: float = _setting(
        0.01, "allowed loss of holdout accuracy (exact and within one size) against the full data", "a share in [0, 1)"
    )
    max_monotonicity_violation: float = _setting(
        0.02, "allowed share of shoppers told a smaller size when 5 kg heavier at the same height", "a share in [0, 1]"
    )
    max_collapse: float = _setting(
        0.15,
        "allowed rise of the most common size's share of recommendations over the full data's",
        "a share in [0, 1]",
    )
    max_noise_floor: float = _setting(
        0.05,
        "above this seed-to-seed noise floor no fraction can be judged: the verdict is indeterminate",
        "a share in (0, 1]",
    )

    def __post_init__(self) -> None:
        _check_share("tolerance", self.tolerance, upper_open=True)
        if not _is_number(self.confidence) or not 0.5 < float(self.confidence) < 1:
            raise _expected("confidence", self.confidence, "a number in (0.5, 1), e.g. 0.95")
        _check_share("segment_tolerance", self.segment_tolerance, upper_open=True)
        _check_integer("min_segment_size", self.min_segment_size, minimum=1)
        _check_share("accuracy_tolerance", self.accuracy_tolerance, upper_open=True)
        _check_share("max_monotonicity_violation", self.max_monotonicity_violation)
        _check_share("max_collapse", self.max_collapse)
        _check_share("max_noise_floor", self.max_noise_floor)
        if self.max_noise_floor == 0:
            raise _expected("max_noise_floor", self.max_noise_floor, "a share in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PickRule:
        """The rule stored in a pick.json (settings missing from older files take their defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known and value is not None})


@dataclass(frozen=True)
class ExperimentConfig:
    """The experiment's settings and its :class:`PickRule`; build it with :meth:`from_params`."""

    fractions: list[float] = _setting(
        list(DEFAULT_FRACTIONS), "shares of the training pool to train on; 1.0 is always added", "a list of numbers in (0, 1]"
    )
    seeds: list[int] = _setting(
        [0, 1],
        "training seeds: each fraction trains one model per seed, each on its own subset; the full "
        "data trains one per seed for the reference consensus and as many for the noise floor "
        "(one in all for a seed-independent model)",
        "a list of distinct integers",
    )
    model: str = _setting(
        DEFAULT_MODEL,
        "model name from the registry (toolkit.models.available_models()), or package.module:name of "
        "your own: an estimator class or a Keras build function, importable in the kernel (docs/models.md)",
        "a model name",
    )
    model_params: dict[str, Any] = _setting({}, "extra parameters for the model (e.g. {C: 0.5})", "a mapping")
    sampling: str = _setting("random", "sampling strategy: random (nested), recent, balanced", "a strategy name")
    search: str = _setting(
        "descending",
        "descending: fractions from the largest down, stopping at the first that fails (cheapest); "
        "grid: train every fraction (the whole curve, for exploration)",
        "'descending' or 'grid'",
    )
    holdout: str = _setting(
        "random",
        "random: holdout shoppers drawn at random; recent: the newest purchases (accuracy as after a deployment)",
        "'random' or 'recent'",
    )
    reference_size: int = _setting(20_000, "at most this many reference shoppers", "an integer >= 1")
    reference_share: float = _setting(0.2, "share of shoppers in the reference population", "a share in (0, 1)")
    holdout_share: float = _setting(0.1, "share of shoppers (or, recent: of purchases) in the holdout", "a share in (0, 1)")
    split_seed: int = _setting(
        12345, "seed of the reference/holdout split (fixed across training seeds)", "an integer"
    )
    min_train_rows: int = _setting(100, "fractions leaving fewer training rows are skipped and reported", "an integer >= 1")
    machine: str = _setting("n2-standard-4", "machine type in the pricing file that trains the model", "a machine name")
    production_rows: int | None = _setting(
        None, "purchases the shop's production job trains on (None: the rows in the file)", "an integer >= 1 or None"
    )
    weekly_growth: float | None = _setting(
        None, "growth of the shop's volume per week, 0.004 = 0.4% (None: measured over its last 26 weeks)", "a number > -1 or None"
    )
    pricing_path: str | None = _setting(None, "pricing file (None: params/pricing.yaml)", "a file path or None")
    rule: PickRule = field(default_factory=PickRule, metadata={"help": "when a fraction is sufficient", "kind": "a PickRule"})

    def __post_init__(self) -> None:
        fractions = _number_list("fractions", self.fractions)
        if any(not 0 < f <= 1 for f in fractions):
            raise _expected("fractions", self.fractions, "numbers in (0, 1], e.g. [0.25, 0.5, 1.0]")
        if not any(f < 1 for f in fractions):
            raise _expected("fractions", self.fractions, "at least one fraction below 1, e.g. [0.25, 0.5, 1.0]")
        object.__setattr__(self, "fractions", sorted(set(fractions) | {1.0}))
        seeds = _integer_list("seeds", self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise _expected("seeds", self.seeds, "distinct integers, at least one")
        object.__setattr__(self, "seeds", seeds)
        if not isinstance(self.model_params, Mapping):
            raise _expected("model_params", self.model_params, "a mapping of model parameters", hint=True)
        object.__setattr__(self, "model_params", dict(self.model_params))
        for name in ("model", "sampling", "machine"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise _expected(name, getattr(self, name), "a non-empty name")
        check_model(self.model, self.model_params)  # your own model is imported and checked here
        if self.search not in ("descending", "grid"):
            raise _expected("search", self.search, "'descending' or 'grid'")
        if self.holdout not in ("random", "recent"):
            raise _expected("holdout", self.holdout, "'random' or 'recent'")
        _check_integer("reference_size", self.reference_size, minimum=1)
        _check_integer("min_train_rows", self.min_train_rows, minimum=1)
        _check_integer("split_seed", self.split_seed, minimum=None)
        for name in ("reference_share", "holdout_share"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < 1:
                raise _expected(name, value, "a share in (0, 1)")
        if self.reference_share + self.holdout_share >= 1:
            raise _expected(
                "reference_share + holdout_share", self.reference_share + self.holdout_share, "less than 1 (rows must remain to train on)"
            )
        if self.production_rows is not None:
            _check_integer("production_rows", self.production_rows, minimum=1)
        if self.weekly_growth is not None and (not _is_number(self.weekly_growth) or not -1 < self.weekly_growth < 1):
            raise _expected("weekly_growth", self.weekly_growth, "a growth per week in (-1, 1), e.g. 0.004, or None")
        if self.pricing_path is not None and not isinstance(self.pricing_path, str):
            object.__setattr__(self, "pricing_path", str(self.pricing_path))

    @property
    def floor_seeds(self) -> list[int]:
        """The seeds of the second group of full-data models (the noise floor): as many as
        :attr:`seeds`, each distinct from them."""
        start = max(self.seeds) + 1
        return list(range(start, start + len(self.seeds)))

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_params(cls, **params: Any) -> ExperimentConfig:
        """Build from flat settings (rule settings included); ``None`` means the default.

        Unknown names are a :class:`ParamsError` listing the known ones.
        """
        params = {key: value for key, value in params.items() if value is not None}
        rule_names = {f.name for f in fields(PickRule)}
        own_names = {f.name for f in fields(cls)} - {"rule"}
        unknown = sorted(set(params) - rule_names - own_names)
        if unknown:
            raise ParamsError(f"experiment settings: unknown {unknown}, expected some of {sorted(rule_names | own_names)}")
        for name, value in params.items():
            _check_not_text_list(name, value)
        rule = PickRule(**{key: value for key, value in params.items() if key in rule_names})
        return cls(rule=rule, **{key: value for key, value in params.items() if key in own_names})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> ExperimentConfig:
        """Build from a namespace holding settings among other names (a notebook's globals)."""
        return cls.from_params(**{name: namespace[name] for name in setting_names() if name in namespace})

    def with_rule(self, **changes: Any) -> ExperimentConfig:
        """The same settings under a changed rule (``tolerance=0.02`` …)."""
        return replace(self, rule=replace(self.rule, **changes))

    def to_dict(self) -> dict[str, Any]:
        """Flat settings (the rule's included), as :meth:`from_params` takes them."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rule"}
        return {**data, **self.rule.to_dict()}

    @classmethod
    def help(cls) -> dict[str, str]:
        """Every setting's help text, with its default."""
        out = {}
        for owner in (cls, PickRule):
            for f in fields(owner):
                if f.name == "rule":
                    continue
                default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
                out[f.name] = f"{f.metadata['help']} (default {default!r})"
        return out


def setting_names() -> list[str]:
    """Every flat setting name :meth:`ExperimentConfig.from_params` accepts."""
    own = [f.name for f in fields(ExperimentConfig) if f.name != "rule"]
    return own + [f.name for f in fields(PickRule)]


# -- checks ---------------------------------------------------------------------------------------
_LIST_HINT = "papermill's -p passes text: give lists and mappings with -y, e.g. -y 'seeds: [7, 8]'"


def _expected(name: str, value: Any, expected: str, *, hint: bool = False) -> ParamsError:
    message = f"setting {name}: expected {expected}, got {value!r}"
    return ParamsError(f"{message} ({_LIST_HINT})" if hint else message)


def _check_not_text_list(name: str, value: Any) -> None:
    """A list or mapping that arrived as text (papermill -p) gets the -y hint."""
    list_like = {"fractions", "seeds", "model_params"}
    if name in list_like and isinstance(value, str):
        raise ParamsError(f"setting {name}: expected a list or mapping, got the text {value!r} ({_LIST_HINT})")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_share(name: str, value: Any, *, upper_open: bool = False) -> None:
    if not _is_number(value) or value < 0 or value > 1 or (upper_open and value >= 1):
        raise _expected(name, value, "a share in [0, 1)" if upper_open else "a share in [0, 1]")


def _check_integer(name: str, value: Any, *, minimum: int | None) -> None:
    if not _is_integer(value) or (minimum is not None and value < minimum):
        raise _expected(name, value, "an integer" + (f" >= {minimum}" if minimum is not None else ""))


def _number_list(name: str, value: Any) -> list[float]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise _expected(name, value, "a list of numbers", hint=isinstance(value, str))
    items = list(value)
    if not all(_is_number(item) for item in items):
        raise _expected(name, value, "a list of numbers")
    return [float(item) for item in items]


def _integer_list(name: str, value: Any) -> list[int]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise _expected(name, value, "a list of integers", hint=isinstance(value, str))
    items = list(value)
    if not all(_is_integer(item) for item in items):
        raise _expected(name, value, "a list of integers")
    return [int(item) for item in items]
