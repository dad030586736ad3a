"""``most_popular``: the most common size per category — the baseline every model must beat.

For each training category the recommendation is its most frequent training label (ties → the
smaller size); a category never seen in training gets the most frequent label overall. It ignores
the body entirely, so it is what "no model" would recommend. ``predict_proba`` is the category's
label distribution. One pass over the data (``epochs_ = 1``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.models import register_model
from toolkit.models.base import SizeModelBase
from toolkit.models.features import category_names

__all__ = ["MostPopularSize"]


@register_model("most_popular")
class MostPopularSize(SizeModelBase):
    """Most frequent size per category, global mode as fallback."""

    seed_independent = True

    def __init__(self, n_sizes: int, random_state: int = 0) -> None:
        self.n_sizes = n_sizes
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> int:
        vocabulary, codes = category_names(X["category"])
        counts = np.zeros((len(vocabulary) + 1, self.n_sizes), dtype=np.float64)
        np.add.at(counts, (codes, y), 1.0)
        counts[-1] = counts[:-1].sum(axis=0)  # the fallback row: every category together
        self.categories_: np.ndarray = vocabulary
        self.distribution_: np.ndarray = counts / counts.sum(axis=1, keepdims=True)
        self.size_by_category_: np.ndarray = counts.argmax(axis=1)
        return 1

    def _rows(self, X: pd.DataFrame) -> np.ndarray:
        positions = pd.Index(self.categories_).get_indexer(X["category"].astype(str))
        return np.where(positions < 0, len(self.categories_), positions)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.size_by_category_[self._rows(X)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, n_sizes)``: the training label distribution of each row's category."""
        self._check_fitted()
        if self.constant_ is not None:
            return self._constant_proba(len(X))
        return self.distribution_[self._rows(X)]
