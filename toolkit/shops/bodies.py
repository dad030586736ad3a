"""Shoppers' bodies, drawn from real people: US Army ANSUR II, shifted toward civilians.

``toolkit/shops/data/ansur2_bodies.csv.gz`` holds 6,068 measured soldiers (2012 Anthropometric Survey of
U.S. Army Personnel, public domain; see ``toolkit/shops/data/README.md``). Soldiers are young and fit, so
each drawn body is moved toward the US adult population (NHANES: mean weight women ≈ 77 kg, men
≈ 90 kg, mean BMI ≈ 29):

* height: the soldier's height + N(0, 1.5) cm (ANSUR heights are already close to civilians');
* weight: the soldier's weight × exp(a_gender + 0.14·ε − 0.14²/2), ``a_gender`` chosen so the expected
  mean is exactly the NHANES mean; then kept within 38–230 kg and BMI 15–55;
* chest / waist / hip grow with the weight change (× ratio^0.45 / ^0.7 / ^0.5: waists grow most);
* age: 18 + 62·Beta(2, 2.8) (mean ≈ 44, 18–80), independent of the body.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ANSUR_FILE", "TARGET_WEIGHT_KG", "ansur_bodies", "civilian_bodies"]

ANSUR_FILE = Path(__file__).parent / "data" / "ansur2_bodies.csv.gz"

#: NHANES 2015–2018 mean adult weights (kg), the target of the civilian shift.
TARGET_WEIGHT_KG: dict[str, float] = {"female": 77.0, "male": 90.0}
WEIGHT_SPREAD = 0.14
HEIGHT_JITTER_CM = 1.5
_GROWTH_EXPONENT = {"chest_cm": 0.45, "waist_cm": 0.7, "hip_cm": 0.5}


@lru_cache(maxsize=1)
def ansur_bodies() -> pd.DataFrame:
    """The ANSUR II bodies: gender, age, height_cm, weight_kg, chest_cm, waist_cm, hip_cm."""
    return pd.read_csv(ANSUR_FILE)


def civilian_bodies(n: int, *, rng: np.random.Generator, female_share: float = 0.5) -> pd.DataFrame:
    """``n`` civilian bodies (true measurements) drawn from ANSUR II and shifted as described above."""
    source = ansur_bodies()
    female = rng.random(n) < female_share
    out: dict[str, np.ndarray] = {
        "gender": np.where(female, "female", "male").astype(object),
        "age": np.floor(18 + 62 * rng.beta(2.0, 2.8, n)),
    }
    columns = ["height_cm", "weight_kg", *_GROWTH_EXPONENT]
    body = np.empty((n, len(columns)))
    for gender, mask in (("female", female), ("male", ~female)):
        pool = source.loc[source["gender"] == gender, columns].to_numpy(dtype=float)
        body[mask] = pool[rng.integers(0, len(pool), int(mask.sum()))]
    height = body[:, 0] + rng.normal(0, HEIGHT_JITTER_CM, n)
    means = {g: source.loc[source["gender"] == g, "weight_kg"].mean() for g in TARGET_WEIGHT_KG}
    shift = np.where(
        female,
        np.log(TARGET_WEIGHT_KG["female"] / means["female"]),
        np.log(TARGET_WEIGHT_KG["male"] / means["male"]),
    )
    factor = np.exp(shift + WEIGHT_SPREAD * rng.standard_normal(n) - WEIGHT_SPREAD**2 / 2)
    metres_sq = (height / 100) ** 2
    weight = np.clip(body[:, 1] * factor, np.maximum(38, 15 * metres_sq), np.minimum(230, 55 * metres_sq))
    ratio = weight / body[:, 1]
    out["height_cm"] = height
    out["weight_kg"] = weight
    for i, (name, exponent) in enumerate(_GROWTH_EXPONENT.items(), start=2):
        out[name] = body[:, i] * ratio**exponent
    return pd.DataFrame(out)
