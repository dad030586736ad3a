"""The protocol every size model follows, and the base class the built-in models share.

A size model is a scikit-learn style estimator over *canonical rows* (the shop table of
``docs/ARCHITECTURE.md``) and *size indices* (0 = smallest size on the shop's scale):

* ``__init__(n_sizes, random_state=0, **params)`` only stores its parameters;
* ``fit(X, y) -> self`` with ``X`` a DataFrame of canonical rows and ``y`` an int array of size
  indices (see :func:`toolkit.models.features.training_labels`);
* ``predict(X) -> int ndarray`` of size indices in ``[0, n_sizes)``;
* optionally ``predict_proba(X) -> (n, n_sizes)`` float array whose rows sum to 1;
* fitted state ends in ``_``; ``epochs_`` is the number of passes over the training rows.

:class:`SizeModelBase` implements the checks and the degenerate cases once: ``y`` is validated
against ``n_sizes``; when every training label is the same size (a one-size shop, or ``n_sizes`` = 1)
the model predicts that size without training, so no learner ever sees a single class.

Prediction runs with BLAS and OpenMP limited to one thread (:func:`single_threaded`): predicting a
reference population is a few small matrix products, and on a busy 2-core machine waking a second
BLAS thread costs a scheduler tick (~4 ms) per product — more than the whole prediction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import ThreadpoolController

from toolkit.errors import ExperimentError, ParamsError

__all__ = ["SizeModel", "SizeModelBase", "single_threaded"]

_THREADPOOLS: list[ThreadpoolController] = []


@contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS and OpenMP pools to one thread inside the block (restored afterwards).

    Process-wide while it lasts, like every threadpool limit; TensorFlow's own pools are not
    touched (the sweep sets those per worker).
    """
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    with _THREADPOOLS[0].limit(limits=1):
        yield


@runtime_checkable
class SizeModel(Protocol):
    """What the experiment needs from a model."""

    n_sizes: int
    random_state: int

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SizeModel: ...

    def predict(self, X: pd.DataFrame) -> np.ndarray: ...


class SizeModelBase(BaseEstimator):
    """Validation, the one-label shortcut and clipping, shared by the built-in models.

    Subclasses implement ``_fit(X, y) -> epochs`` and ``_predict(X) -> indices``, and may implement
    ``_predict_proba(X)``; they call ``SizeModelBase.__init__``-free constructors that only store
    parameters (scikit-learn's ``get_params`` reads them back).
    """

    n_sizes: int
    random_state: int
    #: True when training does not depend on ``random_state`` (the same rows give the same model):
    #: the experiment then trains one model per fraction instead of one per seed.
    seed_independent: ClassVar[bool] = False
    #: The output head of a Keras model ``enough export`` can serve: ``"coral"`` (K-1 cumulative
    #: logits) or ``"softmax"`` (K logits); None for every other model. An exportable model keeps
    #: ``encoder_`` and ``network_`` (encoded rows → the head's logits) once fitted.
    head: ClassVar[str | None] = None

    # -- public protocol ---------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SizeModelBase:
        """Train on canonical rows ``X`` and size indices ``y``; returns ``self``."""
        y = self._check_training_data(X, y)
        labels = np.unique(y)
        self.sizes_seen_: np.ndarray = labels
        self.constant_: int | None = int(labels[0]) if len(labels) == 1 else None
        if self.constant_ is not None:
            self.epochs_: int = 1
        else:
            self.epochs_ = int(self._fit(X, y))
        self.train_rows_: int = len(y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Recommended size index per row, in ``[0, n_sizes)``."""
        self._check_fitted()
        if self.constant_ is not None:
            return np.full(len(X), self.constant_, dtype=np.int64)
        with single_threaded():
            predicted = np.asarray(self._predict(X))
        return np.clip(predicted, 0, self.n_sizes - 1).astype(np.int64, copy=False)

    # -- to implement ------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> int:
        raise NotImplementedError

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    # -- shared checks -----------------------------------------------------------------------
    def _constant_proba(self, n: int) -> np.ndarray:
        """Probabilities of the one-label shortcut: all mass on that size."""
        proba = np.zeros((n, self.n_sizes), dtype=np.float64)
        proba[:, self.constant_] = 1.0
        return proba

    def _constant_cumulative_proba(self, n: int) -> np.ndarray:
        """``P(size > k)`` for a model that learned a single size: 1 below it, 0 from it on."""
        above = (np.arange(self.n_sizes - 1)[None, :] < self.constant_).astype(np.float64)
        return above.repeat(n, axis=0)

    def _check_training_data(self, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        if not isinstance(self.n_sizes, (int, np.integer)) or self.n_sizes < 1:
            raise ParamsError(f"{name}: n_sizes: expected an integer >= 1, got {self.n_sizes!r}")
        if not isinstance(X, pd.DataFrame):
            raise ParamsError(f"{name}.fit: X: expected a pandas DataFrame of canonical rows")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ParamsError(
                f"{name}.fit: y: expected one size index per row ({len(X)}), got shape {y.shape}"
            )
        if len(y) == 0:
            raise ExperimentError(f"{name}.fit: expected at least one training row, got none")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise ParamsError(f"{name}.fit: y: expected integer size indices, got {y.dtype}")
        y = y.astype(np.int64)
        if y.min() < 0 or y.max() >= self.n_sizes:
            raise ParamsError(
                f"{name}.fit: y: expected size indices in [0, {self.n_sizes}), "
                f"got values from {y.min()} to {y.max()}"
            )
        return y

    def _check_fitted(self) -> None:
        if not hasattr(self, "constant_"):
            raise ExperimentError(f"{type(self).__name__}: call fit() before predict()")
