"""Bring your own Keras network: ``model: package.module:build``.

``build(n_numeric, n_categories, n_sizes, **extra) -> keras.Model`` returns an *uncompiled* network
the toolkit trains exactly as it trains ``keras_mlp`` / ``keras_softmax``: the same feature encoding,
seeds (``keras.utils.set_random_seed(random_state)`` before ``build`` is called, deterministic ops),
epoch policy, Adam with cosine decay, metering — and the same ``model_params`` (``epochs``,
``batch_size``, ``min_steps``, ``max_epochs``, ``learning_rate``, ``validation_split``, and
``decision`` for a softmax head). Keyword parameters of ``build`` after the first three (with
defaults) are model parameters too.

The network takes two named inputs:

* ``numeric`` — float32 ``(batch, n_numeric)``: the toolkit's numeric features (height, weight, age,
  BMI, the measurements the shop has, gender one-hot, fit preference), **standardised** with the
  training rows' mean and variance by a ``Normalization`` layer the toolkit puts in front of it;
* ``category`` — int32 ``(batch,)``: the category index, 1 … n_categories-1 for the training
  categories and 0 for any other (size an ``Embedding`` with ``n_categories`` rows);

and returns **logits** (no final activation). Its output width declares the head:

* ``n_sizes - 1`` — cumulative logits ``logit P(size > k)`` (CORAL / proportional odds), trained
  with the binary cross-entropy of ``[size > k]``; the size is the number of thresholds passed;
* ``n_sizes`` — one logit per size, trained with softmax cross-entropy; the size is the most
  probable one (``decision="argmax"``) or the median (``decision="median"``).

Resolving the path calls ``build`` once on small sizes to read the head, so a network of the wrong
shape is a :class:`ParamsError` when the settings are checked; every fit checks it again. Prediction
runs the trained Keras network itself (in chunks); ``network_`` (the toolkit's ``Normalization`` plus
your network) is what ``enough export`` serves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from toolkit.errors import ParamsError
from toolkit.models.backend import keras
from toolkit.models.features import BASE_NUMERIC_FEATURES, EncodedRows
from toolkit.models.keras_models import KerasMlpOrdinal, KerasSoftmax
from toolkit.models.moments import column_moments, float64_blocks
from toolkit.models.own import PROTOCOL_PARAMETERS, OwnParameters, own_parameters
from toolkit.shops.schema import GENDERS

__all__ = ["NetworkForward", "OwnNetwork", "network_model"]

#: Sizes ``build`` is called with when the path is resolved (to read the head it declares).
PROBE_SIZES: dict[str, int] = {
    "n_numeric": len(BASE_NUMERIC_FEATURES) + len(GENDERS) + 1,
    "n_categories": 4,
    "n_sizes": 5,
}
#: Rows per call of the network when predicting.
PREDICT_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class NetworkForward:
    """Logits from the trained Keras network itself, in chunks."""

    network: keras.Model

    def logits(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        parts = [
            keras.ops.convert_to_numpy(
                self.network(
                    {"numeric": numeric[start : start + PREDICT_CHUNK_ROWS], "category": category[start : start + PREDICT_CHUNK_ROWS]},
                    training=False,
                )
            )
            for start in range(0, len(numeric), PREDICT_CHUNK_ROWS)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


class OwnNetwork(OwnParameters):
    """The part of a user-built network's model class that differs from ``keras_mlp`` / ``keras_softmax``."""

    build_function: ClassVar[Callable[..., Any]]

    def __init__(self, n_sizes: int, random_state: int = 0, **params: Any) -> None:
        super().__init__(n_sizes, random_state=random_state, **self._split_parameters(params))  # type: ignore[call-arg]

    def _network(self, rows: EncodedRows, y: np.ndarray) -> keras.Model:
        numeric = rows.numeric
        mean, variance = column_moments(lambda: float64_blocks(numeric))  # no float64 copy of every row
        sizes = {"n_numeric": numeric.shape[1], "n_categories": rows.n_categories, "n_sizes": self.n_sizes}
        inner = built_network(self.model_path, self.build_function, sizes, self.own_values())
        head = network_head(self.model_path, inner, sizes)
        if head != self.head:
            raise ParamsError(
                f"model {self.model_path!r}: build returned a {head} head for {self.n_sizes} sizes, "
                f"a {self.head} head when the settings were checked; expected the same head for every shop"
            )
        inputs = {
            "numeric": keras.Input(shape=(numeric.shape[1],), name="numeric", dtype="float32"),
            "category": keras.Input(shape=(), name="category", dtype="int32"),
        }
        z = keras.layers.Normalization(mean=mean, variance=variance, name="normalise")(
            inputs["numeric"]
        )
        logits = inner({"numeric": z, "category": inputs["category"]})
        return keras.Model(inputs, logits, name="own_size_network")

    def _forward(self, network: keras.Model) -> NetworkForward:
        return NetworkForward(network)


def built_network(path: str, build: Callable[..., Any], sizes: dict[str, int], extra: dict[str, Any]) -> keras.Model:
    """Call ``build``; anything but a Keras model is a ParamsError naming the path."""
    try:
        network = build(sizes["n_numeric"], sizes["n_categories"], sizes["n_sizes"], **extra)
    except Exception as error:  # noqa: BLE001 - whatever the user's build raises
        raise ParamsError(
            f"model {path!r}: build({', '.join(f'{k}={v}' for k, v in sizes.items())}) raised "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(network, keras.Model):
        raise ParamsError(f"model {path!r}: build returned {type(network).__qualname__}; expected a keras.Model")
    return network


def network_head(path: str, network: keras.Model, sizes: dict[str, int]) -> str:
    """``"coral"`` or ``"softmax"``: the head a network's output width declares (checked on two rows)."""
    expected = (
        f"inputs 'numeric' (float32, {sizes['n_numeric']} features) and 'category' (int32 index below "
        f"{sizes['n_categories']}), and logits of width n_sizes-1 = {sizes['n_sizes'] - 1} (cumulative "
        f"logits, an ordinal head) or n_sizes = {sizes['n_sizes']} (a softmax head)"
    )
    probe = {
        "numeric": np.zeros((2, sizes["n_numeric"]), dtype=np.float32),
        "category": np.zeros((2,), dtype=np.int32),
    }
    try:
        output = keras.ops.convert_to_numpy(network(probe, training=False))
    except Exception as error:  # noqa: BLE001 - whatever the user's network raises on the inputs
        raise ParamsError(f"model {path!r}: the built network does not take the toolkit's inputs ({error}); expected {expected}") from error
    activation = getattr(getattr(network.layers[-1], "activation", None), "__name__", "") if network.layers else ""
    if activation in ("softmax", "sigmoid"):
        raise ParamsError(f"model {path!r}: the built network ends in a {activation}; expected {expected}, without an activation")
    width = output.shape[-1] if output.ndim == 2 and output.shape[0] == 2 else None
    if width == sizes["n_sizes"] - 1:
        return "coral"
    if width == sizes["n_sizes"]:
        return "softmax"
    raise ParamsError(f"model {path!r}: the built network returns shape {output.shape} for 2 rows; expected {expected}")


def network_model(path: str, build: Callable[..., Any]) -> type:
    """The model class training ``build``'s network (its head read from a network built on small sizes)."""
    try:
        inspect.signature(build).bind(1, 1, 2)
    except TypeError:
        raise ParamsError(f"model {path!r}: is a function that cannot be called as build(n_numeric, n_categories, n_sizes)") from None
    except ValueError:
        pass  # a builtin without a readable signature: calling it tells
    extra = own_parameters(path, build, skip=3)
    training = own_parameters(path, KerasSoftmax)
    clashes = sorted(set(extra) & (set(training) | set(PROTOCOL_PARAMETERS)))
    if clashes:
        raise ParamsError(f"model {path!r}: build's parameters {clashes} clash with the toolkit's training parameters; expected other names")
    required = sorted(name for name, default in extra.items() if default is inspect.Parameter.empty)
    if required:
        raise ParamsError(f"model {path!r}: build's parameters {required} have no default; expected defaults (model_params can change them)")
    head = network_head(path, built_network(path, build, PROBE_SIZES, {}), PROBE_SIZES)
    base = KerasMlpOrdinal if head == "coral" else KerasSoftmax
    return type(
        path,
        (OwnNetwork, base),
        {
            "__module__": __name__,
            "__doc__": f"The network of {getattr(build, '__qualname__', path)}, trained by the toolkit ({head} head).",
            "model_path": path,
            "build_function": staticmethod(build),
            "base_parameters": tuple(own_parameters(path, base)),
            "own_parameters": extra,
        },
    )
