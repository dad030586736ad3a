"""Tiny canonical shops for tests, built in memory (no generator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.shops.schema import SizeScale


def tiny_shop(n: int = 2000, *, seed: int = 0, shop_id: str = "tiny-shop", scale: SizeScale | None = None,
              repeat_shoppers: float = 0.3) -> pd.DataFrame:
    """A canonical shop whose true size follows height and weight, with some returns."""
    scale = scale or SizeScale.letters()
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], n)
    male = gender == "male"
    height = np.where(male, rng.normal(176, 7, n), rng.normal(163, 7, n))
    weight = np.where(male, rng.normal(88, 14, n), rng.normal(75, 14, n))
    score = (weight - 55) / 9 + (height - 165) / 25 + rng.normal(0, 0.4, n)
    true_size = np.clip(np.round(score), 0, len(scale) - 1).astype(int)
    bought = np.clip(true_size + rng.choice([-1, 0, 0, 0, 0, 1], n), 0, len(scale) - 1)
    outcome = np.where(bought == true_size, "kept",
                       np.where(bought < true_size, "returned_too_small", "returned_too_large"))
    n_shoppers = max(1, int(n * (1 - repeat_shoppers)))
    shopper = rng.integers(0, n_shoppers, n)
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 730, n), unit="D")
    return pd.DataFrame({
        "shop_id": shop_id,
        "event_time": times,
        "shopper_id": [f"s{i:06d}" for i in shopper],
        "product_id": [f"p{i}" for i in rng.integers(0, 50, n)],
        "category": rng.choice(["tops", "bottoms", "dresses"], n),
        "gender": gender,
        "height_cm": height.round(1),
        "weight_kg": weight.round(1),
        "age": rng.integers(18, 75, n).astype(float),
        "fit_preference": rng.choice(["tight", "regular", "loose"], n),
        "size": pd.Categorical(scale.to_labels(bought), dtype=scale.dtype),
        "outcome": outcome,
    }).sort_values("event_time", ignore_index=True)
