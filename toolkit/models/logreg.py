"""``logreg``: scikit-learn logistic regressions on the cumulative thresholds (ordinal).

For a scale of K sizes, K-1 binary ``LogisticRegression`` models learn ``P(size > k)`` for
k = 0 … K-2 (Frank & Hall's all-threshold decomposition), on standardised features with the
category one-hot. A threshold no training row crosses (or every row crosses) is a constant 0 or 1, so
a size seen once or a dominant size does not break it. Independent models can disagree in order, so
the cumulative probabilities are made rank-consistent by a running minimum
(``P(y > k) = min_{j ≤ k} p_j``); the recommendation is the number of thresholds with
``P(y > k) > 0.5``, and ``predict_proba`` the differences of consecutive cumulative probabilities.

``epochs_`` is the total number of L-BFGS iterations over all thresholds (each evaluates the loss on
every training row). Seeded through ``random_state`` (L-BFGS itself is deterministic).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from toolkit.models.features import FeatureEncoder
from toolkit.models import register_model
from toolkit.models.base import SizeModelBase, single_threaded

__all__ = ["OrdinalLogisticRegression"]

_SURE = 30.0  # logit of a threshold every (or no) training row crosses


@register_model("logreg")
class OrdinalLogisticRegression(SizeModelBase):
    """K-1 cumulative logistic regressions with rank-consistent predictions."""

    seed_independent = True  # L-BFGS from zero: the same rows give the same model

    def __init__(self, n_sizes: int, random_state: int = 0, C: float = 1.0, max_iter: int = 200) -> None:
        self.n_sizes = n_sizes
        self.random_state = random_state
        self.C = C
        self.max_iter = max_iter

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> int:
        self.encoder_ = FeatureEncoder().fit(X)
        features = self.encoder_.transform(X).dense()
        self.mean_: np.ndarray = features.mean(axis=0)
        std = features.std(axis=0)
        self.scale_: np.ndarray = np.where(std > 0, std, 1.0)
        standardised = (features - self.mean_) / self.scale_
        n_thresholds = self.n_sizes - 1
        self.coef_: np.ndarray = np.zeros((features.shape[1], n_thresholds))
        self.intercept_: np.ndarray = np.zeros(n_thresholds)
        iterations = 0
        for k in range(n_thresholds):
            above = y > k
            if above.all() or not above.any():
                self.intercept_[k] = _SURE if above.all() else -_SURE
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                threshold = LogisticRegression(
                    C=self.C, max_iter=self.max_iter, random_state=self.random_state
                ).fit(standardised, above)
            self.coef_[:, k] = threshold.coef_[0]
            self.intercept_[k] = threshold.intercept_[0]
            iterations += int(np.max(threshold.n_iter_))
        return max(iterations, 1)

    def cumulative_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, n_sizes - 1)`` rank-consistent probabilities ``P(size > k)``."""
        self._check_fitted()
        if self.constant_ is not None:
            return self._constant_cumulative_proba(len(X))
        with single_threaded():
            features = (self.encoder_.transform(X).dense() - self.mean_) / self.scale_
            logits = features @ self.coef_ + self.intercept_
            return np.minimum.accumulate(1.0 / (1.0 + np.exp(-logits)), axis=1)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.cumulative_proba(X) > 0.5).sum(axis=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, n_sizes)`` size probabilities (rows sum to 1)."""
        above = self.cumulative_proba(X)
        n = len(above)
        return np.hstack([np.ones((n, 1)), above]) - np.hstack([above, np.zeros((n, 1))])
