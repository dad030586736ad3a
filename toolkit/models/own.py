"""Bring your own model: ``model: package.module:name``.

``package.module`` is imported where the experiment runs (the notebook's kernel, so every sweep
worker too: it must be installed in the environment or on ``PYTHONPATH``), and ``name`` in it is

* a :class:`~toolkit.models.base.SizeModelBase` subclass — used as it is: it gets canonical rows
  and follows the protocol of :mod:`toolkit.models.base`;
* a scikit-learn-style estimator **class** — ``fit(X, y)``, ``predict(X)`` → size indices,
  ``predict_proba(X)`` optional — wrapped in :class:`OwnEstimator`: ``X`` is the toolkit's feature
  encoding (:class:`~toolkit.models.features.FeatureEncoder`, fitted on each fit's training rows) as
  a float DataFrame with named columns (:func:`feature_frame`), ``y`` the size indices. Its
  constructor gets ``n_sizes`` and ``random_state`` (the experiment's seed) when it takes them, and
  the ``model_params``;
* a **function** ``build(n_numeric, n_categories, n_sizes) -> keras.Model`` — trained by the toolkit
  (:mod:`toolkit.models.own_network`).

Resolving a name imports the module and checks the shape of what it finds; an import that fails, a
name that is not there, or an object of another shape is a :class:`ParamsError` naming the path and
what was expected. :func:`toolkit.models.check_model` does it when the settings are checked, before
anything trains. The adapters report the user's parameters as their own (``get_params``), so
``model_params`` are checked by name like a built-in model's.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from toolkit.errors import ExperimentError, ParamsError
from toolkit.models.base import SizeModelBase
from toolkit.models.features import FeatureEncoder

__all__ = [
    "EXPECTED",
    "OwnEstimator",
    "OwnParameters",
    "feature_frame",
    "import_target",
    "is_own_model",
    "own_parameters",
    "resolve_own_model",
]

#: What ``package.module:name`` must name (for messages).
EXPECTED = (
    "a SizeModelBase subclass, a scikit-learn-style estimator class (fit(X, y), predict(X) -> size "
    "indices) or a function build(n_numeric, n_categories, n_sizes) -> keras.Model"
)

#: The protocol's own constructor parameters; an estimator gets them when its constructor takes them.
PROTOCOL_PARAMETERS: tuple[str, ...] = ("n_sizes", "random_state")

_RESOLVED: dict[str, type[SizeModelBase]] = {}


def is_own_model(name: str) -> bool:
    """True for ``package.module:name`` (a model of the user's own), False for a registered name."""
    return ":" in name


def resolve_own_model(path: str) -> type[SizeModelBase]:
    """The model class for ``package.module:name`` (resolved once per path and process)."""
    if path not in _RESOLVED:
        target = import_target(path)
        if isinstance(target, type) and issubclass(target, SizeModelBase):
            _RESOLVED[path] = target
        elif isinstance(target, type):
            _RESOLVED[path] = _estimator_model(path, target)
        elif callable(getattr(target, "fit", None)):
            raise ParamsError(
                f"model {path!r}: is an instance of {type(target).__qualname__}; expected the class "
                "itself (its parameters go in model_params)"
            )
        elif callable(target):
            from toolkit.models.own_network import network_model

            _RESOLVED[path] = network_model(path, target)
        else:
            raise ParamsError(f"model {path!r}: is {type(target).__qualname__} {target!r:.60}; expected {EXPECTED}")
    return _RESOLVED[path]


def import_target(path: str) -> Any:
    """Import ``package.module`` and return its attribute ``name`` (dots reach into classes)."""
    module_name, _, attribute = path.partition(":")
    if not module_name.strip() or not attribute.strip() or ":" in attribute:
        raise ParamsError(f"model {path!r}: expected package.module:name, e.g. 'mymodels:MyEstimator'")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - whatever the user's module raises while importing
        raise ParamsError(
            f"model {path!r}: cannot import module {module_name!r} ({type(error).__name__}: {error}); "
            "expected a module importable where the notebook's kernel runs (installed in its "
            "environment, or its folder on PYTHONPATH)"
        ) from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ParamsError(f"model {path!r}: module {module_name!r} has no {attribute!r}; expected {EXPECTED}")
        target = getattr(target, part)
    return target


def own_parameters(
    path: str, function: Callable[..., Any], *, skip: int = 0, leave_out: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The named parameters of ``function`` after the first ``skip`` and without ``leave_out``:
    name → default (``inspect.Parameter.empty`` when it has none)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError) as error:
        raise ParamsError(f"model {path!r}: its signature cannot be read ({error}); expected {EXPECTED}") from None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p.default for p in parameters[skip:] if p.kind in named and p.name not in leave_out}


class OwnParameters:
    """Parameters of the user's class or function, stored and reported as the adapter's own.

    ``base_parameters``: the adapter's own constructor parameters; ``own_parameters``: the user's
    (name → default). ``__init__`` only stores them, as a scikit-learn estimator does.
    """

    model_path: ClassVar[str] = ""
    base_parameters: ClassVar[tuple[str, ...]] = PROTOCOL_PARAMETERS
    own_parameters: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted({*cls.base_parameters, *cls.own_parameters})

    def _split_parameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Store the user's parameters (their defaults when not given); return the adapter's."""
        unknown = sorted(set(params) - set(self._get_param_names()))
        if unknown:
            raise ParamsError(
                f"model {self.model_path!r}: unknown parameters {unknown}; expected some of "
                f"{sorted(set(self._get_param_names()) - set(PROTOCOL_PARAMETERS))}"
            )
        for name, default in self.own_parameters.items():
            if name not in params and default is inspect.Parameter.empty:
                raise ParamsError(f"model {self.model_path!r}: parameter {name!r} has no default; expected it in model_params")
            setattr(self, name, params.get(name, default))
        return {name: value for name, value in params.items() if name not in self.own_parameters}

    def own_values(self) -> dict[str, Any]:
        """The user's parameters as stored."""
        return {name: getattr(self, name) for name in self.own_parameters}


def feature_frame(encoder: FeatureEncoder, X: pd.DataFrame) -> pd.DataFrame:
    """Canonical rows as the toolkit's features, one named float column each: the numeric features
    (``height_cm, weight_kg, age, bmi``, measurements, ``gender_*``, ``fit_preference``), then the
    category one-hot (``category=<unseen>`` for categories not in the training vocabulary)."""
    names = [
        *encoder.feature_names_,
        *(f"category={name}" for name in ("<unseen>", *encoder.category_vocabulary_)),
    ]
    return pd.DataFrame(encoder.transform(X).dense(), columns=names, index=X.index)


class OwnEstimator(OwnParameters, SizeModelBase):
    """A scikit-learn-style estimator class of the user's, under the size-model protocol.

    ``fit`` encodes the training rows (:func:`feature_frame`), makes the estimator from its
    parameters (plus ``n_sizes`` / ``random_state`` when its constructor takes them) and fits it on
    the size indices; ``predict`` rounds its predictions to size indices (clipped to the scale).
    ``epochs_`` is the estimator's ``epochs_`` when it sets one, else 1; ``seed_independent`` is the
    class's own attribute when it declares one, else False.
    """

    estimator_class: ClassVar[type]
    #: Which of n_sizes / random_state the estimator's constructor takes.
    passes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, n_sizes: int, random_state: int = 0, **params: Any) -> None:
        self.n_sizes = n_sizes
        self.random_state = random_state
        self._split_parameters(params)

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> int:
        self.encoder_ = FeatureEncoder().fit(X)
        protocol = {name: getattr(self, name) for name in self.passes}
        self.estimator_ = self.estimator_class(**self.own_values(), **protocol)
        self.estimator_.fit(feature_frame(self.encoder_, X), y)
        epochs = getattr(self.estimator_, "epochs_", 1)
        return int(epochs) if isinstance(epochs, (int, np.integer)) and epochs >= 1 else 1

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        sizes = np.asarray(self.estimator_.predict(feature_frame(self.encoder_, X)))
        if sizes.shape != (len(X),) or sizes.dtype.kind not in "iuf":
            raise ExperimentError(
                f"model {self.model_path!r}: predict returned {sizes.dtype} of shape {sizes.shape}; "
                f"expected one size index (a number from 0 to {self.n_sizes - 1}) per row ({len(X)})"
            )
        return np.rint(sizes)


class OwnProbabilisticEstimator(OwnEstimator):
    """An estimator with ``predict_proba``: its columns are its ``classes_`` (size indices seen in
    training), or all ``n_sizes`` sizes when it has no ``classes_``."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, n_sizes)`` size probabilities (sizes the estimator never saw get 0)."""
        self._check_fitted()
        if self.constant_ is not None:
            return self._constant_proba(len(X))
        proba = np.asarray(self.estimator_.predict_proba(feature_frame(self.encoder_, X)), dtype=np.float64)
        classes = np.asarray(getattr(self.estimator_, "classes_", np.arange(self.n_sizes)))
        if proba.shape != (len(X), len(classes)) or not np.isin(classes, np.arange(self.n_sizes)).all():
            raise ExperimentError(
                f"model {self.model_path!r}: predict_proba returned shape {proba.shape} for classes "
                f"{classes.tolist()[:10]}; expected one column per size index in classes_ (0 to {self.n_sizes - 1})"
            )
        out = np.zeros((len(X), self.n_sizes), dtype=np.float64)
        out[:, classes.astype(np.int64)] = proba
        return out


def _estimator_model(path: str, estimator: type) -> type[OwnEstimator]:
    """A protocol class around the user's estimator class (checked: fit, predict, parameters)."""
    if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
        raise ParamsError(f"model {path!r}: class {estimator.__qualname__} has no fit and predict methods; expected {EXPECTED}")
    parameters = own_parameters(path, estimator)
    base = OwnProbabilisticEstimator if callable(getattr(estimator, "predict_proba", None)) else OwnEstimator
    return type(
        path,
        (base,),
        {
            "__module__": __name__,
            "__doc__": f"{estimator.__qualname__} of {estimator.__module__}, as a size model.",
            "model_path": path,
            "estimator_class": estimator,
            "passes": tuple(name for name in PROTOCOL_PARAMETERS if name in parameters),
            "own_parameters": {k: v for k, v in parameters.items() if k not in PROTOCOL_PARAMETERS},
            "seed_independent": bool(getattr(estimator, "seed_independent", False)),
        },
    )
