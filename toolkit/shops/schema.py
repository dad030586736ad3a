"""The canonical shop table and the ordered size scale.

A shop's purchase history is a pandas DataFrame with the columns in :data:`CANONICAL_COLUMNS`.
``size`` is an *ordered* pandas Categorical whose categories are the shop's size scale, smallest
first, so the scale travels with the frame and with the Parquet file (pyarrow keeps ordered
dictionaries). Models and metrics work on size *indices* (0 = smallest size on the scale).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from toolkit.errors import ParamsError

__all__ = [
    "CANONICAL_COLUMNS",
    "GENDERS",
    "LETTER_SIZES",
    "OPTIONAL_COLUMNS",
    "OUTCOMES",
    "REQUIRED_COLUMNS",
    "SizeScale",
]

#: The most sizes a numeric scale may have (real scales have a few dozen).
MAX_SCALE_SIZES = 500

#: Letter sizes, smallest first: the default scale.
LETTER_SIZES: tuple[str, ...] = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL")

#: What happened to a purchase.
OUTCOMES: tuple[str, ...] = ("kept", "returned_too_small", "returned_too_large", "returned_other")

GENDERS: tuple[str, ...] = ("female", "male", "unknown")

#: Columns every clean shop table has, in this order.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "shop_id",
    "event_time",
    "shopper_id",
    "product_id",
    "category",
    "gender",
    "height_cm",
    "weight_kg",
    "age",
    "size",
    "outcome",
)

#: Columns a shop may add; models use them when present.
OPTIONAL_COLUMNS: tuple[str, ...] = ("fit_preference", "chest_cm", "waist_cm", "hip_cm", "body_type")

CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


@dataclass(frozen=True)
class SizeScale:
    """An ordered list of size labels, smallest first ("XS" < "S" < … or "32" < "34" < …)."""

    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        labels = tuple(str(label) for label in self.labels)
        if not labels:
            raise ParamsError("size scale: expected at least one size label, got none")
        if len(set(labels)) != len(labels):
            dupes = sorted({label for label in labels if labels.count(label) > 1})
            raise ParamsError(f"size scale: each size must appear once, repeated: {dupes}")
        object.__setattr__(self, "labels", labels)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def letters(cls) -> SizeScale:
        """The default letter scale XXS … 4XL."""
        return cls(LETTER_SIZES)

    @classmethod
    def numeric(cls, start: float, stop: float, step: float = 2) -> SizeScale:
        """A numeric scale from ``start`` to ``stop`` inclusive (e.g. 32, 34, …, 56)."""
        start, stop, step = (_number(name, value) for name, value in (("start", start), ("stop", stop), ("step", step)))
        if step <= 0 or stop < start:
            raise ParamsError(
                f"size scale: numeric needs start <= stop and step > 0, got {start}, {stop}, {step}"
            )
        if (stop - start) / step + 1 > MAX_SCALE_SIZES:
            raise ParamsError(
                f"size scale: numeric from {start:g} to {stop:g} in steps of {step:g} gives more than "
                f"{MAX_SCALE_SIZES} sizes, expected a real size scale (e.g. start 32, stop 56, step 2)"
            )
        values = np.arange(start, stop + step / 2, step)
        return cls(tuple(_format_number(v) for v in values))

    @classmethod
    def from_spec(cls, spec: object) -> SizeScale:
        """Build a scale from a column-map value.

        ``"letters"`` or ``None`` → the letter scale; a list → those labels in that order;
        ``{"numeric": {"start": 32, "stop": 56, "step": 2}}`` (or the inner mapping itself) → numeric.
        """
        if spec is None or spec == "letters":
            return cls.letters()
        if isinstance(spec, dict):
            inner = spec.get("numeric", spec)
            if not isinstance(inner, dict) or not {"start", "stop"} <= set(inner):
                raise ParamsError(
                    "size scale: expected 'letters', a list of labels, or "
                    f"{{numeric: {{start, stop, step}}}}, got {spec!r}"
                )
            unknown = set(inner) - {"start", "stop", "step"}
            if unknown:
                raise ParamsError(f"size scale: unknown keys {sorted(unknown)} (expected start, stop, step)")
            return cls.numeric(inner["start"], inner["stop"], inner.get("step", 2))
        if isinstance(spec, (list, tuple)):
            return cls(tuple(_format_number(v) if isinstance(v, (int, float)) else str(v) for v in spec))
        raise ParamsError(
            f"size scale: expected 'letters', a list of labels, or {{numeric: ...}}, got {spec!r}"
        )

    @classmethod
    def of(cls, sizes: pd.Series) -> SizeScale:
        """The scale carried by an ordered categorical ``size`` column."""
        if not isinstance(sizes.dtype, pd.CategoricalDtype) or not sizes.dtype.ordered:
            raise ParamsError("size column: expected an ordered categorical carrying the size scale")
        return cls(tuple(str(c) for c in sizes.dtype.categories))

    # -- use ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        return self.normalise(label) in self._positions

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def dtype(self) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(list(self.labels), ordered=True)

    def normalise(self, label: object) -> str:
        """A raw size value as the label it would have on this scale ("36.0" → "36", " m " → "M")."""
        if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
            return _format_number(float(label))
        text = str(label).strip()
        try:
            return _format_number(float(text))
        except ValueError:
            return text.upper() if text.upper() in self._positions else text

    def categorical(self, values: Iterable[object]) -> pd.Categorical:
        """Values as an ordered categorical on this scale; labels off the scale become NaN."""
        return pd.Categorical([self.normalise(v) for v in values], dtype=self.dtype)

    def to_index(self, sizes: pd.Series | Sequence[object]) -> np.ndarray:
        """Size labels (or an ordered categorical on this scale) as int indices; -1 where off-scale."""
        if isinstance(sizes, pd.Series) and isinstance(sizes.dtype, pd.CategoricalDtype):
            if tuple(str(c) for c in sizes.dtype.categories) == self.labels:
                return sizes.cat.codes.to_numpy(dtype=np.int64)
        positions = self._positions
        return np.array([positions.get(self.normalise(v), -1) for v in sizes], dtype=np.int64)

    def to_labels(self, index: np.ndarray) -> np.ndarray:
        """Int indices as size labels."""
        return np.asarray(self.labels, dtype=object)[np.asarray(index, dtype=np.int64)]


def _number(name: str, value: object) -> float:
    """A finite number for a numeric scale's ``name``; ParamsError otherwise."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise ParamsError(f"size scale: numeric {name} is {value!r}, expected a number")
    return number


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
