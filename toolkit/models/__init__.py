"""Size models by name: the protocol, the registry and the built-in models.

>>> from toolkit.models import make_model
>>> model = make_model("keras_ordinal", n_sizes=len(scale), random_state=0, epochs=8)
>>> model.fit(train_rows, training_labels(train_rows, scale)).predict(reference_rows)

A new model family is added by registering it, not by editing a dispatcher::

    @register_model("my_model")
    class MyModel(SizeModelBase): ...

Built-in models live in their own modules and are imported on first use, so importing this package
does not import TensorFlow:

================  ======================================================================
``keras_ordinal`` the default: a proportional-odds Keras network trained to convergence (:mod:`.keras_models`)
``keras_mlp``     a two-layer Keras network with a CORAL output, trained by SGD (the former default)
``keras_softmax`` the same two-layer network with a softmax over sizes
``hgb``           scikit-learn HistGradientBoosting regression on the size index (:mod:`.hgb`)
``logreg``        scikit-learn logistic regressions on the cumulative thresholds (:mod:`.logreg`)
``most_popular``  the most common size per category — the baseline (:mod:`.most_popular`)
================  ======================================================================

Any other name of the form ``package.module:name`` is the user's own model (:mod:`.own`): a
``SizeModelBase`` subclass, a scikit-learn-style estimator class or a Keras ``build`` function,
imported on first use. :func:`check_model` resolves a name (and checks its parameters) when the
settings are checked, before anything trains.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TypeVar

from toolkit.errors import ParamsError
from toolkit.models.base import SizeModel, SizeModelBase

__all__ = [
    "DEFAULT_MODEL",
    "SizeModel",
    "SizeModelBase",
    "available_models",
    "check_model",
    "make_model",
    "model_class",
    "register_model",
]

#: The model an experiment uses unless params name another.
DEFAULT_MODEL = "keras_ordinal"

_REGISTRY: dict[str, type] = {}

#: Built-in model name → module that registers it (imported on first use).
_BUILTIN_MODULES: dict[str, str] = {
    "keras_ordinal": "toolkit.models.keras_models",
    "keras_mlp": "toolkit.models.keras_models",
    "keras_softmax": "toolkit.models.keras_models",
    "hgb": "toolkit.models.hgb",
    "logreg": "toolkit.models.logreg",
    "most_popular": "toolkit.models.most_popular",
}

ModelClass = TypeVar("ModelClass", bound=type)


def register_model(name: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: make a model class available to :func:`make_model` as ``name``."""

    def decorate(cls: ModelClass) -> ModelClass:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
            raise ParamsError(f"model {name!r}: already registered by {existing.__qualname__}")
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_models() -> tuple[str, ...]:
    """Every model name :func:`make_model` accepts, sorted."""
    return tuple(sorted(set(_REGISTRY) | set(_BUILTIN_MODULES)))


def model_class(name: str) -> type:
    """The class :func:`make_model` makes for ``name``: a registered model, or ``package.module:name``
    (imported and adapted to the protocol, see :mod:`toolkit.models.own`)."""
    from toolkit.models.own import is_own_model, resolve_own_model

    if is_own_model(name):
        return resolve_own_model(name)
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ParamsError(
            f"model: unknown model {name!r}; expected one of {list(available_models())} "
            "or package.module:name of your own"
        )
    return cls


def check_model(name: str, params: Mapping[str, object]) -> None:
    """Check a model setting before anything trains: the name exists, and a model of the user's own
    (``package.module:name``) imports, has the right shape and takes ``params``.

    Built-in names are checked without importing their modules (TensorFlow stays unimported); their
    parameters are checked when the model is made.
    """
    from toolkit.models.own import is_own_model

    if is_own_model(name):
        make_model(name, n_sizes=2, **params)
    elif name not in _REGISTRY and name not in _BUILTIN_MODULES:
        model_class(name)  # raises, listing the known names


def make_model(name: str, *, n_sizes: int, random_state: int = 0, **params: object) -> SizeModel:
    """A new, unfitted model ``name`` for a scale of ``n_sizes`` sizes.

    Unknown names and unknown parameters raise :class:`ParamsError` listing what is accepted.
    """
    cls = model_class(name)
    param_names = getattr(cls, "_get_param_names", None)
    if param_names is not None:
        accepted = set(param_names())
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ParamsError(
                f"model {name!r}: unknown parameters {unknown}; "
                f"expected some of {sorted(accepted - {'n_sizes', 'random_state'})}"
            )
    return cls(n_sizes=n_sizes, random_state=random_state, **params)
