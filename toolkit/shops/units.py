"""Heights in cm and weights in kg, and the rows whose value looks like another unit.

The ``wrong_unit`` check of :mod:`toolkit.shops.validate` (see its docstring for the rules): a value
is quarantined, never converted, when it looks like inches in a cm column (or cm in an inch column),
pounds in a kg column (or kg in a pound column), metres, or a lost decimal point.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LB_PER_KG", "MAX_BMI", "MIN_BMI", "canonical_units"]

LB_PER_KG = 2.20462
#: Body-mass indices outside these bounds are not a person's (or not in the unit claimed).
MAX_BMI, MIN_BMI = 60.0, 12.0


def canonical_units(
    height: np.ndarray,
    weight: np.ndarray,
    units: dict[str, str] | object,
    bounds: dict[str, tuple[float, float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Heights in cm and weights in kg, and where the given value looks like the wrong unit."""
    (h_low, h_high), (w_low, w_high) = bounds["height_cm"], bounds["weight_kg"]

    def within(values: np.ndarray, low: float, high: float) -> np.ndarray:
        return (values >= low) & (values <= high)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if units["height"] == "in":  # type: ignore[index]
            height_cm = height * 2.54
            height_wrong = (height_cm > h_high) & within(height, h_low, h_high)
        else:
            height_cm = height
            height_wrong = (height < h_low) & (
                within(height * 2.54, h_low, h_high) | within(height * 100, h_low, h_high)
            )
        height_ok = ~height_wrong & within(height_cm, h_low, h_high)
        metres_sq = (height_cm / 100) ** 2
        if units["weight"] == "lb":  # type: ignore[index]
            weight_kg = weight / LB_PER_KG
            weight_wrong = ((weight_kg < w_low) & within(weight, w_low, w_high)) | (
                height_ok & (weight_kg / metres_sq < MIN_BMI) & within(weight / metres_sq, 15, MAX_BMI)
            )
        else:
            weight_kg = weight
            weight_wrong = (weight > w_high) & (
                within(weight / LB_PER_KG, w_low, w_high) | within(weight / 10, w_low, w_high)
            )
            weight_wrong |= (
                height_ok
                & (weight / metres_sq > MAX_BMI)
                & (weight / LB_PER_KG / metres_sq >= MIN_BMI)
            )
    return height_cm, weight_kg, height_wrong, weight_wrong
