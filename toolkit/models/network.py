"""The Keras network behind ``keras_ordinal`` and ``keras_softmax``, and its NumPy forward pass.

Architecture (one per shop, small on purpose — it is what the team serves with TF Serving)::

    numeric (d) -> Normalization --------------------------\\
                                                            concat -> Dense(32, relu) -> Dense(16, relu) -> head
    category (int) -> Embedding(V+1, 4) -> flatten --------/

Heads:

* ``coral`` — CORAL (Cao, Mirjalili & Raschka 2020): one shared score ``s = w·h`` and K-1 biases;
  the K-1 outputs are the cumulative logits ``logit P(y > k) = s + b_k``, trained with binary
  cross-entropy on the cumulative targets ``[y > k]``. The biases are parameterised as
  ``b_0 - cumsum(softplus(gaps))`` so they are strictly decreasing: the cumulative probabilities are
  rank-consistent *by construction* (P(y > 0) ≥ P(y > 1) ≥ …), and the predicted size is the number
  of thresholds the shopper passes.
* ``softmax`` — K logits, sparse categorical cross-entropy.

Prediction does not go through ``model.predict``: :class:`NumpyForward` holds the trained weights
and runs the same arithmetic in one vectorised NumPy pass (float32), which predicts a 20,000-shopper
reference population in a few milliseconds. Training and serving stay Keras; the forward pass is
checked against the Keras graph in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.models.backend import keras
import numpy as np

__all__ = [
    "HIDDEN_UNITS",
    "CoralLoss",
    "NumpyForward",
    "OrderedBiases",
    "build_network",
    "compile_network",
]

#: Width of the hidden layers of the MLP.
HIDDEN_UNITS: tuple[int, ...] = (32, 16)
EMBEDDING_DIM = 4
_MIN_GAP = 1e-3


@keras.saving.register_keras_serializable(package="enough")
class OrderedBiases(keras.layers.Layer):
    """Adds K-1 strictly decreasing biases to a one-unit score: the CORAL cumulative logits."""

    def __init__(self, n_thresholds: int, initial_biases: list[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n_thresholds = int(n_thresholds)
        self.initial_biases = None if initial_biases is None else [float(b) for b in initial_biases]

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras signature
        first, gaps = _bias_parameters(self.n_thresholds, self.initial_biases)
        self.first = self.add_weight(
            shape=(1,), initializer=keras.initializers.Constant(first), name="first"
        )
        self.gaps = self.add_weight(
            shape=(max(self.n_thresholds - 1, 0),),
            initializer=keras.initializers.Constant(gaps),
            name="gaps",
        )

    def biases(self):  # noqa: ANN201 - backend tensor
        """The K-1 ordered biases as a tensor."""
        steps = keras.ops.softplus(self.gaps) + _MIN_GAP
        drops = keras.ops.concatenate([keras.ops.zeros((1,)), keras.ops.cumsum(steps)])
        return self.first - drops

    def call(self, score):  # noqa: ANN001, ANN201 - Keras signature
        return score + keras.ops.expand_dims(self.biases(), 0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "n_thresholds": self.n_thresholds,
            "initial_biases": self.initial_biases,
        }


def _bias_parameters(n_thresholds: int, initial_biases: list[float] | None) -> tuple[float, np.ndarray]:
    """``first`` and ``gaps`` that reproduce (a strictly decreasing version of) the wanted biases."""
    if not initial_biases:
        wanted = -np.arange(n_thresholds, dtype=np.float64)
    else:
        wanted = np.asarray(initial_biases, dtype=np.float64)
    steps = np.maximum(-np.diff(wanted) - _MIN_GAP, 1e-2)
    gaps = np.log(np.expm1(steps))  # inverse softplus
    return float(wanted[0]) if len(wanted) else 0.0, gaps.astype(np.float32)


def build_network(
    *,
    n_numeric: int,
    n_categories: int,
    n_sizes: int,
    head: str,
    mean: np.ndarray,
    variance: np.ndarray,
    initial_biases: np.ndarray,
) -> keras.Model:
    """The uncompiled network. ``initial_biases`` start the output at the training label frequencies.

    ``head`` is ``"coral"`` (K-1 cumulative logits) or ``"softmax"`` (K logits). Weight
    initialisation draws from Keras' global seed: call ``keras.utils.set_random_seed`` first.
    """
    numeric = keras.Input(shape=(n_numeric,), name="numeric", dtype="float32")
    category = keras.Input(shape=(), name="category", dtype="int32")
    normalised = keras.layers.Normalization(mean=mean, variance=variance, name="normalise")(numeric)
    embedded = keras.layers.Embedding(n_categories, EMBEDDING_DIM, name="category_embedding")(category)
    hidden = keras.layers.Concatenate(name="features")([normalised, embedded])
    for i, units in enumerate(HIDDEN_UNITS):
        hidden = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(hidden)
    if head == "coral":
        score = keras.layers.Dense(1, use_bias=False, name="score")(hidden)
        outputs = OrderedBiases(n_sizes - 1, list(initial_biases), name="cumulative_logits")(score)
    elif head == "softmax":
        outputs = keras.layers.Dense(
            n_sizes,
            bias_initializer=keras.initializers.Constant(np.asarray(initial_biases, np.float32)),
            name="size_logits",
        )(hidden)
    else:
        raise ValueError(f"head: expected 'coral' or 'softmax', got {head!r}")
    return keras.Model({"numeric": numeric, "category": category}, outputs, name=f"size_{head}")


@keras.saving.register_keras_serializable(package="enough")
class CoralLoss(keras.losses.Loss):
    """CORAL loss: mean binary cross-entropy of the cumulative logits against ``[y > k]``.

    Takes the integer size index as ``y_true`` and builds the K-1 cumulative targets inside the
    graph, so no ``(rows, K-1)`` target matrix is ever materialised.
    """

    def __init__(self, n_thresholds: int, name: str = "coral_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.n_thresholds = int(n_thresholds)

    def call(self, y_true, y_pred):  # noqa: ANN001, ANN201 - Keras signature
        y_true = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1, 1))
        thresholds = keras.ops.expand_dims(keras.ops.arange(self.n_thresholds, dtype="int32"), 0)
        levels = keras.ops.cast(keras.ops.greater(y_true, thresholds), y_pred.dtype)
        losses = keras.ops.binary_crossentropy(levels, y_pred, from_logits=True)
        return keras.ops.mean(losses, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_thresholds": self.n_thresholds}


def compile_network(
    network: keras.Model, *, head: str, learning_rate: float, decay_steps: int | None = None
) -> keras.Model:
    """Compile with Adam and the head's loss (:class:`CoralLoss`, or sparse categorical CE).

    Both losses take the integer size index as the target. With ``decay_steps`` (the fit's total
    gradient steps) the learning rate follows a cosine decay to 2% of its start: the last steps
    settle the decision boundaries instead of bouncing around them, so two seeds' models disagree
    far less (a lower noise floor) at no extra cost.
    """
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=int(decay_steps), alpha=0.02
        )
    if head == "coral":
        loss = CoralLoss(int(network.output.shape[-1]))
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
    return network


@dataclass(frozen=True)
class NumpyForward:
    """The trained network's arithmetic in NumPy: logits for encoded rows in one pass.

    The normalisation and the category embedding are folded into the first hidden layer once,
    when the weights are copied out: ``h1 = relu(x @ K + T[category])`` with
    ``K = W1_numeric / scale`` and ``T = E @ W1_embedding + b1 - (mean / scale) @ W1_numeric``.
    This is the same function as the Keras graph (up to float32 rounding, ~1e-6).
    """

    first_kernel: np.ndarray
    category_table: np.ndarray
    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    head: str
    head_kernel: np.ndarray
    head_bias: np.ndarray

    @classmethod
    def from_network(cls, network: keras.Model, head: str) -> NumpyForward:
        """Copy (and fold) the weights out of a trained :func:`build_network` model."""
        norm = network.get_layer("normalise")
        mean = np.asarray(keras.ops.convert_to_numpy(norm.mean), np.float64).reshape(-1)
        variance = np.asarray(keras.ops.convert_to_numpy(norm.variance), np.float64).reshape(-1)
        scale = np.maximum(np.sqrt(variance), keras.backend.epsilon())
        embedding = np.asarray(network.get_layer("category_embedding").get_weights()[0], np.float64)
        layers = [network.get_layer(f"hidden_{i}").get_weights() for i in range(len(HIDDEN_UNITS))]
        kernel, bias = (np.asarray(w, np.float64) for w in layers[0])
        numeric_kernel, embedding_kernel = kernel[: len(mean)], kernel[len(mean) :]
        first_kernel = numeric_kernel / scale[:, None]
        category_table = embedding @ embedding_kernel + bias - (mean / scale) @ numeric_kernel
        if head == "coral":
            head_kernel = network.get_layer("score").get_weights()[0]
            ordered = network.get_layer("cumulative_logits")
            head_bias = keras.ops.convert_to_numpy(ordered.biases())
        else:
            head_kernel, head_bias = network.get_layer("size_logits").get_weights()
        return cls(
            first_kernel=first_kernel.astype(np.float32),
            category_table=category_table.astype(np.float32),
            kernels=tuple(np.asarray(k, np.float32) for k, _ in layers[1:]),
            biases=tuple(np.asarray(b, np.float32) for _, b in layers[1:]),
            head=head,
            head_kernel=np.asarray(head_kernel, np.float32),
            head_bias=np.asarray(head_bias, np.float32).reshape(-1),
        )

    def hidden(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        """The last hidden layer's activations, ``(n, HIDDEN_UNITS[-1])``."""
        h = np.asarray(numeric, np.float32) @ self.first_kernel
        h += np.take(self.category_table, category, axis=0)
        np.maximum(h, 0.0, out=h)
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            h = h @ kernel
            h += bias
            np.maximum(h, 0.0, out=h)
        return h

    def logits(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        """CORAL: ``(n, K-1)`` cumulative logits; softmax: ``(n, K)`` logits."""
        out = self.hidden(numeric, category) @ self.head_kernel
        if self.head == "coral":  # (n, 1) shared score + K-1 ordered biases
            return out + self.head_bias[None, :]
        out += self.head_bias
        return out
