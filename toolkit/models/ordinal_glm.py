"""The default model's network: a proportional-odds (cumulative-logit) model on a spline basis.

Why this shape
--------------
A size recommendation is a smooth, nearly monotone function of a few body measurements, and the
team needs a model that tells the same shopper the same size every time it is retrained on the same
data. A multi-layer network trained by stochastic gradient descent does not: two seeds land in
different minima and disagree for 5–40% of shoppers, which hides every effect of the data (the
"noise floor"). This network keeps the flexibility that matters and makes training a *convex*
problem with one optimum:

    numeric (d) -> Normalization -> z
    basis(z)    =  [ z,  z_body * z_male ]  (+ [hinge(z_body), hinge(z_body) * z_male] with knots)
                   -> Normalization
    score       =  basis · w  +  offset[category]  (+ slopes[category] · z_body with category_slopes)
    logits_k    =  score + threshold_k          (k = 0 … K-2, the CORAL / proportional-odds head)

``z_body`` are the continuous body columns (height, weight, age, BMI and any measurements) and
``z_male`` the standardised male indicator, so men and women get their own slopes; each category
gets its own offset (outerwear runs small), and with ``category_slopes`` its own slopes too (jeans
follow the hips) — off by default: on the generated shops they cost up to 2 points of accuracy on a
small shop and add weights to estimate at small fractions. BMI already bends the
height–weight surface; for shops whose sizes curve further, ``knots`` adds hinges
``max(0, t - knot)`` at evenly spaced training quantiles of each body column (a piecewise-linear
spline). On the generated shops and the bundled demo shop hinges cost accuracy on small shops and
add drift at small fractions (more weights to estimate), so the default has none.
Every weight enters the logits linearly, and the loss — the sum over thresholds of the binary
cross-entropy of ``[size > k]`` — is convex in them; with a small L2 penalty the optimum is unique.
:mod:`toolkit.models.full_batch` finds it with L-BFGS from a fixed starting point, so the fit does
not depend on any seed.

The thresholds are free biases, started at the logits of the training labels' cumulative shares;
at the optimum they are ordered whenever every size has training rows. Prediction sorts them (a
no-op when ordered) so ``P(size > k)`` is non-increasing in k — rank-consistent — and the
recommended size, the number of thresholds a shopper passes, is the median of its predicted
distribution.

Prediction runs the same arithmetic in NumPy (:class:`GlmForward`): a 20,000-shopper reference
population takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.models.backend import keras

__all__ = ["BodyBasis", "CategoryEffects", "GlmForward", "Thresholds", "basis_numpy", "build_ordinal_glm"]

def knot_quantiles(knots: int) -> np.ndarray:
    """Evenly spaced quantiles for ``knots`` hinges per body column (3 → the quartiles)."""
    return np.arange(1, knots + 1) / (knots + 1)


def basis_numpy(z: np.ndarray, knots: np.ndarray, male_index: int) -> np.ndarray:
    """The basis of standardised rows ``z`` (the same function as :class:`BodyBasis`).

    ``knots`` is ``(n_body, k)``: the first ``n_body`` columns of ``z`` are the body columns.
    """
    n_body = knots.shape[0]
    body = z[:, :n_body]
    male = z[:, male_index : male_index + 1]
    parts = [z, body * male]
    if knots.shape[1]:
        hinges = np.maximum(body[:, :, None] - knots[None, :, :], 0.0).reshape(len(z), -1)
        parts += [hinges, hinges * male]
    return np.hstack(parts)


@keras.saving.register_keras_serializable(package="enough")
class BodyBasis(keras.layers.Layer):
    """``[z, z_body * z_male, hinge(z_body), hinge(z_body) * z_male]`` of standardised rows."""

    def __init__(self, knots: list[list[float]], male_index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.knots = [[float(k) for k in row] for row in knots]
        self.male_index = int(male_index)

    def call(self, z):  # noqa: ANN001, ANN201 - Keras signature
        n_body = len(self.knots)
        body = z[:, :n_body]
        male = z[:, self.male_index : self.male_index + 1]
        parts = [z, body * male]
        per_column = len(self.knots[0]) if self.knots else 0
        if per_column:
            knots = keras.ops.convert_to_tensor(np.asarray(self.knots, dtype="float32"))
            hinges = keras.ops.relu(keras.ops.expand_dims(body, -1) - knots)
            hinges = keras.ops.reshape(hinges, (-1, n_body * per_column))
            parts += [hinges, hinges * male]
        return keras.ops.concatenate(parts, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "knots": self.knots, "male_index": self.male_index}


@keras.saving.register_keras_serializable(package="enough")
class CategoryEffects(keras.layers.Layer):
    """Per category: an offset and, for the first ``n_body`` columns, its own slopes (all starting at zero)."""

    def __init__(self, n_categories: int, n_body: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_categories = int(n_categories)
        self.n_body = int(n_body)

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras signature
        self.effects = self.add_weight(
            shape=(self.n_categories, 1 + self.n_body), initializer="zeros", name="effects"
        )

    def call(self, inputs):  # noqa: ANN001, ANN201 - Keras signature
        category, z = inputs
        effect = keras.ops.take(self.effects, keras.ops.cast(category, "int32"), axis=0)
        if not self.n_body:
            return effect
        return effect[:, :1] + keras.ops.sum(effect[:, 1:] * z[:, : self.n_body], axis=-1, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_categories": self.n_categories, "n_body": self.n_body}


@keras.saving.register_keras_serializable(package="enough")
class Thresholds(keras.layers.Layer):
    """Adds K-1 free thresholds to a one-unit score: the cumulative logits ``logit P(size > k)``."""

    def __init__(self, initial: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.initial = [float(b) for b in initial]

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras signature
        self.values = self.add_weight(
            shape=(len(self.initial),),
            initializer=keras.initializers.Constant(np.asarray(self.initial, dtype="float32")),
            name="values",
        )

    def call(self, score):  # noqa: ANN001, ANN201 - Keras signature
        return score + keras.ops.expand_dims(self.values, 0)

    def get_config(self) -> dict:
        return {**super().get_config(), "initial": self.initial}


def build_ordinal_glm(
    *,
    mean: np.ndarray,
    variance: np.ndarray,
    knots: np.ndarray,
    male_index: int,
    basis_mean: np.ndarray,
    basis_variance: np.ndarray,
    n_categories: int,
    n_slopes: int,
    initial_thresholds: np.ndarray,
) -> keras.Model:
    """The uncompiled network; every weight but the thresholds starts at zero (no seed needed).

    ``n_slopes`` body columns get a slope per category (0: each category only its offset)."""
    numeric = keras.Input(shape=(len(mean),), name="numeric", dtype="float32")
    category = keras.Input(shape=(), name="category", dtype="int32")
    z = keras.layers.Normalization(mean=mean, variance=variance, name="normalise")(numeric)
    basis = BodyBasis(knots.tolist(), male_index, name="body_basis")(z)
    basis = keras.layers.Normalization(mean=basis_mean, variance=basis_variance, name="normalise_basis")(basis)
    score = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="score")(basis)
    effects = CategoryEffects(n_categories, n_slopes, name="category_effects")([category, z])
    total = keras.layers.Add(name="total_score")([score, effects])
    logits = Thresholds(list(initial_thresholds), name="cumulative_logits")(total)
    return keras.Model({"numeric": numeric, "category": category}, logits, name="size_ordinal_glm")


@dataclass(frozen=True)
class GlmForward:
    """The trained network's arithmetic in NumPy (float64): cumulative logits in one pass."""

    mean: np.ndarray
    scale: np.ndarray
    knots: np.ndarray
    male_index: int
    basis_mean: np.ndarray
    basis_scale: np.ndarray
    weights: np.ndarray
    category_effects: np.ndarray
    thresholds: np.ndarray  # sorted, largest first

    @classmethod
    def from_network(cls, network: keras.Model) -> GlmForward:
        """Copy the weights out of a trained :func:`build_ordinal_glm` model."""

        def normalisation(name: str) -> tuple[np.ndarray, np.ndarray]:
            layer = network.get_layer(name)
            mean = np.asarray(keras.ops.convert_to_numpy(layer.mean), np.float64).reshape(-1)
            variance = np.asarray(keras.ops.convert_to_numpy(layer.variance), np.float64).reshape(-1)
            return mean, np.maximum(np.sqrt(variance), keras.backend.epsilon())

        mean, scale = normalisation("normalise")
        basis_mean, basis_scale = normalisation("normalise_basis")
        basis = network.get_layer("body_basis")
        thresholds = np.asarray(network.get_layer("cumulative_logits").get_weights()[0], np.float64)
        return cls(
            mean=mean,
            scale=scale,
            knots=np.asarray(basis.knots, np.float64).reshape(len(basis.knots), -1) if basis.knots else np.zeros((0, 0)),
            male_index=basis.male_index,
            basis_mean=basis_mean,
            basis_scale=basis_scale,
            weights=np.asarray(network.get_layer("score").get_weights()[0], np.float64).reshape(-1),
            category_effects=np.asarray(network.get_layer("category_effects").get_weights()[0], np.float64),
            thresholds=np.sort(thresholds)[::-1].copy(),
        )

    def score(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        """The shared score of each row, ``(n,)``."""
        z = (np.asarray(numeric, np.float64) - self.mean) / self.scale
        basis = (basis_numpy(z, self.knots, self.male_index) - self.basis_mean) / self.basis_scale
        effect = self.category_effects[np.asarray(category)]
        slopes = effect.shape[1] - 1  # 0 without category slopes
        return basis @ self.weights + effect[:, 0] + np.einsum("ij,ij->i", effect[:, 1:], z[:, :slopes])

    def logits(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        """``(n, K-1)`` cumulative logits, non-increasing along each row."""
        return self.score(numeric, category)[:, None] + self.thresholds[None, :]

    def sizes(self, numeric: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Recommended size index: how many thresholds the score passes (the predictive median)."""
        score = self.score(numeric, category)
        ascending = -self.thresholds  # passing threshold k means score > -threshold_k
        return np.searchsorted(ascending, score, side="left").astype(np.int64)
