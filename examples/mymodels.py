"""Your own size models in Enough: a worked example (README "Bring your own model", docs/models.md).

Give the experiment ``model: mymodels:MyEstimator`` (or ``mymodels:build``) in the notebook's
parameters or a sweep file's ``parameters``; ``model_params`` go to the constructor (or to ``build``
and the training loop). The module must be importable where the notebook's kernel runs — in a sweep,
on every worker — so install it in the environment or put its folder on ``PYTHONPATH``::

    PYTHONPATH=$PWD/examples enough sweep params/my-sweep.yaml
    PYTHONPATH=$PWD/examples .venv/bin/papermill notebooks/fraction_sweep.ipynb out.ipynb \\
        -p model mymodels:MyEstimator -y 'model_params: {alpha: 3.0}'

Two shapes are shown here (a ``SizeModelBase`` subclass is the third: it gets canonical rows).
"""

from __future__ import annotations

import numpy as np


class MyEstimator:
    """Ridge regression of the size index on the toolkit's features, rounded to the nearest size.

    A scikit-learn-style estimator: ``fit(X, y)`` gets the toolkit's feature encoding (a float
    DataFrame: ``height_cm, weight_kg, age, bmi``, measurements, ``gender_*``, ``fit_preference``,
    ``category=...`` one-hot; missing numbers already filled with the training medians) and the size
    indices (0 = the smallest size); ``predict(X)`` returns size indices. Its constructor takes
    ``n_sizes``, so the toolkit passes it (``random_state`` is not taken: nothing here is random);
    ``alpha`` comes from ``model_params``. There is no ``predict_proba``: the toolkit then counts each
    recommendation as certain.
    """

    #: Closed-form training: the same rows give the same model whatever the seed, so the experiment
    #: trains the full data once and its noise floor is zero.
    seed_independent = True

    def __init__(self, n_sizes: int = 2, alpha: float = 1.0) -> None:
        self.n_sizes = n_sizes
        self.alpha = alpha

    def fit(self, X, y) -> MyEstimator:  # noqa: ANN001 - a DataFrame and an int array
        features = np.asarray(X, dtype=np.float64)
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        z = (features - self.mean_) / self.scale_
        target = np.asarray(y, dtype=np.float64)
        self.intercept_ = target.mean()
        gram = z.T @ z + float(self.alpha) * np.eye(z.shape[1])
        self.coef_ = np.linalg.solve(gram, z.T @ (target - self.intercept_))
        return self

    def predict(self, X) -> np.ndarray:  # noqa: ANN001 - a DataFrame
        z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        expected = z @ self.coef_ + self.intercept_
        return np.clip(np.rint(expected), 0, self.n_sizes - 1).astype(np.int64)


def build(n_numeric: int, n_categories: int, n_sizes: int, hidden: int = 16):  # noqa: ANN201 - keras.Model
    """A Keras network the toolkit trains: body → score, a per-category shift, K-1 cumulative logits.

    Inputs ``numeric`` (the standardised features) and ``category`` (0 = unseen); the output has
    ``n_sizes - 1`` logits, which declares the ordinal head (``logit P(size > k)``): the toolkit trains
    it with the cumulative binary cross-entropy and recommends the number of thresholds passed. Give
    ``n_sizes`` outputs instead for a softmax head. No final activation: the toolkit wants logits.
    ``hidden`` is a model parameter (``model_params: {hidden: 32}``).
    """
    import keras  # here, so that importing this module for MyEstimator does not start TensorFlow

    numeric = keras.Input(shape=(n_numeric,), name="numeric")
    category = keras.Input(shape=(), dtype="int32", name="category")
    body = keras.layers.Dense(hidden, activation="relu", name="body")(numeric)
    score = keras.layers.Dense(1, name="score")(body)
    shift = keras.layers.Embedding(n_categories, 1, name="category_shift")(category)
    total = keras.layers.Add(name="total")([score, shift])
    # One slope and one bias per threshold, starting as a proportional-odds head (equal slopes,
    # thresholds spread out); the toolkit sorts the cumulative logits before reading probabilities.
    logits = keras.layers.Dense(
        n_sizes - 1,
        kernel_initializer="ones",
        bias_initializer=keras.initializers.Constant(np.linspace(2.0, -2.0, max(n_sizes - 1, 1))),
        name="cumulative_logits",
    )(total)
    return keras.Model({"numeric": numeric, "category": category}, logits, name="my_size_network")
