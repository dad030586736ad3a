"""Training labels from purchase outcomes, and the feature encoding every model shares.

Labels
------
A purchase says which size a shopper *bought* and what happened next. The size the shopper
*should* have had is the label a model learns:

=====================  =========================================================================
outcome                label (size index on the shop's scale)
=====================  =========================================================================
``kept``               the bought size
``returned_too_small`` one size up
``returned_too_large`` one size down
``returned_other``     the bought size: the return was not about fit (wrong colour, changed mind,
                       damaged), so the purchase still tells us which size the shopper chose; dropping
                       these rows would throw away body data and bias the shop's volume.
=====================  =========================================================================

At the ends of the scale the label is clipped: "too small" on the largest size stays the largest size
(the shop has nothing bigger to recommend) and "too large" on the smallest stays the smallest.

Features
--------
:class:`FeatureEncoder` is fitted on the training rows only and turns canonical rows into

* ``numeric`` — float32 ``(n, d)``: ``height_cm``, ``weight_kg``, ``age``, ``bmi`` (kg/m²), then any
  optional body measurement (``chest_cm``, ``waist_cm``, ``hip_cm``) present in the training rows,
  then gender one-hot (``gender_female``, ``gender_male``, ``gender_unknown``) and
  ``fit_preference`` as tight/regular/loose → -1/0/+1 (missing or other → 0; ``fit_preference_stated_``
  says whether any training row stated one). Missing numeric values
  are filled with the training median, so a shopper who skipped a field still gets a size.
* ``category`` — int32 ``(n,)``: 1 … V for the training categories (most frequent first, at most
  ``max_categories``), 0 for anything else (a category first seen at predict time).

``body_type`` and other free-text optional columns are not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.errors import DataError, ExperimentError
from toolkit.shops.schema import GENDERS, OUTCOMES, SizeScale

__all__ = [
    "BASE_NUMERIC_FEATURES",
    "MEASUREMENT_COLUMNS",
    "EncodedRows",
    "FIT_PREFERENCE",
    "FeatureEncoder",
    "category_names",
    "training_labels",
]

#: Numeric features every shop has (``bmi`` is derived from height and weight).
BASE_NUMERIC_FEATURES: tuple[str, ...] = ("height_cm", "weight_kg", "age", "bmi")

#: Optional body measurements, used when the training rows carry them.
MEASUREMENT_COLUMNS: tuple[str, ...] = ("chest_cm", "waist_cm", "hip_cm")

#: A shopper's stated fit preference as a number (the encoder's and the exported graph's).
FIT_PREFERENCE: dict[str, float] = {"tight": -1.0, "regular": 0.0, "loose": 1.0}
_LABEL_SHIFT: dict[str, int] = {
    "kept": 0,
    "returned_too_small": 1,
    "returned_too_large": -1,
    "returned_other": 0,
}


def training_labels(frame: pd.DataFrame, scale: SizeScale) -> np.ndarray:
    """The size index each purchase teaches a model (see the module docstring for the rule).

    ``frame`` needs ``size`` (an ordered categorical on ``scale``, or labels on it) and
    ``outcome``. Returns int64 indices in ``[0, len(scale))``. A size off the scale or an unknown
    outcome raises :class:`DataError` naming the column and the offending values.
    """
    for column in ("size", "outcome"):
        if column not in frame.columns:
            raise DataError(f"column {column!r}: required to build training labels, not in the frame")
    bought = scale.to_index(frame["size"])
    if (bought < 0).any():
        bad = pd.unique(pd.Series(frame["size"]).astype(object)[bought < 0])[:5]
        raise DataError(
            f"column 'size': expected labels on the scale {list(scale.labels)}, got {list(bad)}"
        )
    outcome = frame["outcome"].astype(object).to_numpy()
    shift = np.zeros(len(frame), dtype=np.int64)
    known = np.zeros(len(frame), dtype=bool)
    for name, step in _LABEL_SHIFT.items():
        match = outcome == name
        known |= match
        if step:
            shift[match] = step
    if not known.all():
        bad = pd.unique(pd.Series(outcome[~known]))[:5]
        raise DataError(f"column 'outcome': expected one of {list(OUTCOMES)}, got {list(bad)}")
    return np.clip(bought + shift, 0, len(scale) - 1)


@dataclass(frozen=True)
class EncodedRows:
    """Rows as model inputs: scaled-later numeric features and a category index."""

    numeric: np.ndarray
    category: np.ndarray
    n_categories: int

    def __len__(self) -> int:
        return int(self.numeric.shape[0])

    def dense(self) -> np.ndarray:
        """One float64 matrix for scikit-learn models: numeric features + category one-hot."""
        one_hot = np.zeros((len(self), self.n_categories), dtype=np.float64)
        one_hot[np.arange(len(self)), self.category] = 1.0
        return np.hstack([self.numeric.astype(np.float64), one_hot])


class FeatureEncoder:
    """Canonical rows → :class:`EncodedRows`, fitted on the training rows (scikit-learn style).

    Parameters
    ----------
    max_categories:
        At most this many training categories get their own index (the most frequent ones; ties by
        name); the rest share the out-of-vocabulary index 0 with categories never seen in training.
    """

    def __init__(self, max_categories: int = 200) -> None:
        self.max_categories = max_categories

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        """Learn the feature list, fill values and category vocabulary from training rows."""
        if len(frame) == 0:
            raise ExperimentError("training rows: expected at least one row, got none")
        for column in ("height_cm", "weight_kg", "age", "gender", "category"):
            if column not in frame.columns:
                raise DataError(f"column {column!r}: required by the feature encoder, not in the frame")
        measurements = tuple(
            c for c in MEASUREMENT_COLUMNS if c in frame.columns and frame[c].notna().any()
        )
        self.measurement_columns_: tuple[str, ...] = measurements
        self.fit_preference_stated_: bool = bool(
            "fit_preference" in frame.columns and frame["fit_preference"].notna().any()
        )
        self.feature_names_: tuple[str, ...] = (
            BASE_NUMERIC_FEATURES
            + measurements
            + tuple(f"gender_{g}" for g in GENDERS)
            + ("fit_preference",)
        )
        # Column by column (one float64 column at a time, whatever the rows), with exactly the
        # medians of the whole matrix: ``np.nanmedian`` treats each column on its own.
        medians = [
            np.nanmedian(np.where(np.isfinite(column), column, np.nan)[:, None], axis=0)[0]
            for column in self._raw_columns(frame, measurements)
        ]
        self.fill_values_: np.ndarray = np.nan_to_num(np.asarray(medians, dtype=np.float64), nan=0.0)
        counts = _category_counts(frame["category"])
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        self.category_vocabulary_: tuple[str, ...] = tuple(
            name for name, _ in ranked[: max(int(self.max_categories), 0)]
        )
        self.n_categories_: int = len(self.category_vocabulary_) + 1
        return self

    # -- transforming ------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> EncodedRows:
        """Encode rows (training or not) with what :meth:`fit` learned.

        ``numeric`` is written column by column into its float32 matrix (each column computed in
        float64 and rounded once), so encoding a 10-million-row frame needs one float64 column
        beside its output.
        """
        if not hasattr(self, "fill_values_"):
            raise ExperimentError("feature encoder: call fit() on training rows before transform()")
        n = len(frame)
        n_raw = len(self.fill_values_)
        numeric = np.empty((n, n_raw + len(GENDERS) + 1), dtype=np.float32)
        for j, column in enumerate(self._raw_columns(frame, self.measurement_columns_)):
            missing = ~np.isfinite(column)
            column[missing] = self.fill_values_[j]
            numeric[:, j] = column
        gender = frame["gender"]
        female = _equals(gender, "female")
        male = _equals(gender, "male")
        numeric[:, n_raw] = female
        numeric[:, n_raw + 1] = male
        numeric[:, n_raw + 2] = 1.0 - female.astype(np.float64) - male
        preference = np.zeros(n, dtype=np.float64)
        if "fit_preference" in frame.columns:
            for label, value in FIT_PREFERENCE.items():
                if value:
                    preference[_equals(frame["fit_preference"], label)] = value
        numeric[:, n_raw + 3] = preference
        codes = pd.Categorical(frame["category"], categories=self.category_vocabulary_).codes
        category = (np.asarray(codes, dtype=np.int32) + 1) if len(self.category_vocabulary_) else (
            np.zeros(n, dtype=np.int32)
        )
        return EncodedRows(numeric=numeric, category=category, n_categories=self.n_categories_)

    @property
    def body_columns_(self) -> tuple[str, ...]:
        """The continuous body columns, which come first in ``numeric``: height, weight, age, BMI
        and the measurements the training rows carry."""
        return BASE_NUMERIC_FEATURES + self.measurement_columns_

    def fit_transform(self, frame: pd.DataFrame) -> EncodedRows:
        """:meth:`fit` then :meth:`transform` on the same rows."""
        return self.fit(frame).transform(frame)

    @staticmethod
    def _raw_columns(frame: pd.DataFrame, measurements: tuple[str, ...]) -> Iterator[np.ndarray]:
        """Height, weight, age, BMI and the measurements, one float64 column at a time (NaN where
        missing); BMI from the height and weight as given (missing when either is)."""

        def column(name: str) -> np.ndarray:
            if name not in frame.columns:
                return np.full(len(frame), np.nan)
            # A copy: the caller fills the missing values in place, never in the frame itself.
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)

        height, weight = column("height_cm"), column("weight_kg")
        height_m = height / 100.0
        with np.errstate(divide="ignore", invalid="ignore"):
            bmi = weight / (height_m * height_m)
        del height_m
        yield height
        del height
        yield weight
        del weight
        yield column("age")
        yield bmi
        for name in measurements:
            yield column(name)


def _equals(values: pd.Series, word: str) -> np.ndarray:
    """Rows holding ``word`` (missing rows: False), without spelling a categorical out row by row."""
    return np.asarray((values == word).to_numpy(dtype=bool, na_value=False))


def category_names(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct names, sorted, and each row's position among them: exactly
    ``np.unique(values.astype(str), return_inverse=True)``, but for a categorical of names (as
    loading makes ``category``) from its codes, without spelling out and sorting a name per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and not values.isna().any() and all(
        isinstance(name, str) for name in values.cat.categories
    ):
        codes = values.cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(codes, minlength=len(values.cat.categories)))
        names = np.asarray(values.cat.categories, dtype=object)[used]
        order = np.argsort(names, kind="stable")
        position = np.zeros(len(values.cat.categories), dtype=np.intp)
        position[used[order]] = np.arange(len(used))
        return names[order], position[codes]
    return np.unique(values.astype(str).to_numpy(dtype=object), return_inverse=True)


def _category_counts(values: pd.Series) -> dict[str, int]:
    """Rows per category name (as ``astype(str).value_counts()`` counts them)."""
    names, rows = category_names(values)
    return {str(name): int(count) for name, count in zip(names, np.bincount(rows, minlength=len(names)), strict=True)}
