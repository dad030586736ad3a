"""Synthetic shops: canonical purchase histories grounded in real bodies (ANSUR II).

The model behind every purchase (all vectorised numpy; 5 million purchases take seconds):

* **Shoppers** are civilian bodies (:mod:`toolkit.shops.bodies`) who come back (about 1.7 purchases each,
  heavy-tailed). What they type into the widget is their body plus a little noise (height ± 1 cm,
  weight ± 2 %, whole numbers); 2 % leave gender empty ("unknown"); a fit preference
  (tight 20 %, regular 60 %, loose 20 %).
* **The size that fits** (``true size``) on the shop's scale: the body measure of the category
  (tops/knitwear/outerwear: chest; bottoms/jeans: waist and hip; dresses: all three) relative to the
  gender's median, divided by the scale's cm per step, around the scale's anchor size; plus the
  category's fit (outerwear runs small: take +0.5), the shop's **vanity sizing** (brands differ by up
  to a size), the fit preference (±0.4 steps), the product's fit and a personal N(0, 0.25). So the
  true size is a learnable function of height, weight, gender and category, plus noise.
* **The size bought** is the shopper's guess: true size, partly fooled by the brand's vanity sizing,
  plus guessing noise. **Outcome**: a size too small/large is returned as such with a probability
  growing with the misfit (one letter size: ~75 %); a right size is returned for other reasons at the
  shop's rate (18–30 %); then ``label_noise`` of the outcomes (3 % by default) are replaced by a
  random one. Return rates land at 25–50 %, a third to two thirds of them because of size.
* **Time**: two years of weekly volumes with growth, a yearly cycle and a late-November peak, busier
  weekends and evenings.
* **Volumes** across shops are heavy-tailed: geometric from ``rows_max`` down to ``rows_min``.

``defects=True`` then injects client mistakes in known numbers (see :func:`inject_defects`) and
writes ``defects.json`` with what validation must find.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.shops.bodies import civilian_bodies
from toolkit.errors import ParamsError
from toolkit.results import write_json, write_parquet
from toolkit.shops.schema import SizeScale

__all__ = [
    "DEMO_SHOP_FILE",
    "SHOP_KINDS",
    "ShopProfile",
    "demo_shop_path",
    "generate_shop",
    "generate_shops",
    "inject_defects",
    "profile_of",
    "shop_profiles",
    "shop_volumes",
]

DEMO_SHOP_FILE = Path(__file__).parent / "data" / "demo_shop.parquet"
DEMO_SHOP_ROWS = 20_000
START = "2023-01-02"  # a Monday
WEEKS = 104
LETTER_CM = 6.0  # chest/hip cm between two letter sizes
VANITY_FOOLED = 0.2  # share of a brand's vanity sizing shoppers do not see through

_NAMES = ("alpine", "baltic", "cedar", "dune", "ember", "fjord", "garnet", "harbor", "indigo",
          "juniper", "kestrel", "lumen", "meadow", "nordic", "orchid", "pebble", "quartz", "rowan")
#: category → (weights of chest, waist, hip in its measure; fit offset in letter sizes)
CATEGORIES: dict[str, tuple[tuple[float, float, float], float]] = {
    "tops": ((1.0, 0.0, 0.0), 0.0),
    "knitwear": ((1.0, 0.0, 0.0), 0.25),
    "outerwear": ((1.0, 0.0, 0.0), 0.5),
    "bottoms": ((0.0, 0.35, 0.65), 0.0),
    "jeans": ((0.0, 0.5, 0.5), -0.25),
    "dresses": ((0.4, 0.3, 0.3), 0.0),
}
#: scale kind → (scale, cm per step, anchor index of the median body: female, male)
SCALES: dict[str, tuple[SizeScale, float, tuple[int, int]]] = {
    "letters": (SizeScale.letters(), LETTER_CM, (3, 4)),
    "eu": (SizeScale.numeric(32, 56, 2), 4.5, (4, 8)),
    "us": (SizeScale.numeric(0, 58, 2), 3.0, (7, 13)),
    # a dress shop's fine numeric scale: 43 sizes, 1.5 cm apart
    "dress": (SizeScale.numeric(20, 104, 2), 1.5, (18, 24)),
}
_FIT_SHIFT = {"tight": -0.4, "regular": 0.0, "loose": 0.4}


@dataclass(frozen=True)
class ShopProfile:
    """How one synthetic shop sizes, sells and gets returns."""

    shop_id: str
    scale_kind: str = "letters"
    categories: tuple[str, ...] = ("tops", "bottoms", "dresses")
    female_share: float = 0.55
    vanity: float = 0.0  # letter sizes; > 0: the brand's sizes run large (take a smaller label)
    guess_noise: float = 0.27  # letter sizes
    other_return_rate: float = 0.2
    growth_per_year: float = 0.2
    label_noise: float = 0.03  # share of outcomes replaced by a random one

    @property
    def scale(self) -> SizeScale:
        return SCALES[self.scale_kind][0]


#: Kinds of shop with a known answer under the default model and rule: a ``clean`` shop (letter
#: sizes, shoppers who guess their size well, little label noise) can train on much less data once it
#: is large; a ``hard`` one (a dress shop's 43 numeric sizes, poor guesses, 15% of outcomes noise)
#: needs all of its data unless it is very large; ``standard`` lies between.
SHOP_KINDS: dict[str, dict[str, object]] = {
    "clean": {"scale_kind": "letters", "guess_noise": 0.22, "label_noise": 0.02, "other_return_rate": 0.15},
    "standard": {},
    "hard": {
        "scale_kind": "dress",
        "categories": ("dresses", "tops", "bottoms"),
        "female_share": 0.85,
        "guess_noise": 0.45,
        "other_return_rate": 0.3,
        "label_noise": 0.15,
    },
}


def profile_of(kind: str, shop_id: str, **overrides: object) -> ShopProfile:
    """A shop of a named kind (:data:`SHOP_KINDS`), with any field overridden."""
    if kind not in SHOP_KINDS:
        raise ParamsError(f"generate: kind: expected one of {sorted(SHOP_KINDS)}, got {kind!r}")
    return ShopProfile(shop_id=shop_id, **{**SHOP_KINDS[kind], **overrides})  # type: ignore[arg-type]


def shop_profiles(n_shops: int, *, seed: int = 0) -> list[ShopProfile]:
    """``n_shops`` different shops: scales, categories, gender mix, vanity sizing, return habits."""
    rng = np.random.default_rng([seed, 1])
    kinds = ("letters", "eu", "letters", "us", "letters", "eu")
    mixes = (0.55, 1.0, 0.4, 1.0, 0.5, 0.6)
    ranges = (("tops", "bottoms", "dresses"), ("dresses", "tops", "knitwear"), ("tops", "jeans", "outerwear"),
              ("dresses", "bottoms", "tops"), ("tops", "knitwear", "bottoms", "outerwear"), ("jeans", "tops"))
    profiles = []
    for i in range(n_shops):
        name = _NAMES[i % len(_NAMES)] + ("" if i < len(_NAMES) else f"{i // len(_NAMES) + 1}")
        categories = ranges[i % len(ranges)]
        if mixes[i % len(mixes)] < 1.0 and "dresses" in categories and len(categories) < 3:
            categories = (*categories, "tops")
        profiles.append(ShopProfile(
            shop_id=f"shop-{i + 1:02d}-{name}",
            scale_kind=kinds[i % len(kinds)],
            categories=categories,
            female_share=mixes[i % len(mixes)],
            vanity=float(np.round(rng.uniform(-1, 1), 2)),
            guess_noise=float(np.round(rng.uniform(0.22, 0.32), 2)),
            other_return_rate=float(np.round(rng.uniform(0.18, 0.3), 3)),
            growth_per_year=float(np.round(rng.uniform(-0.1, 0.5), 2)),
        ))
    return profiles


def shop_volumes(n_shops: int, *, rows_min: int = 3_000, rows_max: int = 300_000, seed: int = 0) -> list[int]:
    """Heavy-tailed purchase counts: geometric from ``rows_max`` (first shop) to ``rows_min`` (last),
    the shops between jittered ±15 %. One shop gets ``rows_max``."""
    if n_shops < 1 or rows_min < 1 or rows_max < rows_min:
        raise ParamsError(
            f"generate: expected shops >= 1 and 1 <= rows_min <= rows_max, got {n_shops}, {rows_min}, {rows_max}"
        )
    if n_shops == 1:
        return [rows_max]
    volumes = np.geomspace(rows_max, rows_min, n_shops)
    jitter = np.random.default_rng([seed, 2]).uniform(0.85, 1.15, n_shops)
    jitter[[0, -1]] = 1.0
    return [int(round(v)) for v in volumes * jitter]


def generate_shop(
    profile: ShopProfile | None = None,
    n_purchases: int = DEMO_SHOP_ROWS,
    *,
    seed: int = 0,
    start: str = START,
    weeks: int = WEEKS,
) -> pd.DataFrame:
    """One shop's canonical purchase history (sorted by ``event_time``), deterministic by ``seed``."""
    profile = profile or ShopProfile(shop_id="demo-shop")
    if n_purchases < 1:
        raise ParamsError(f"generate: n_purchases must be >= 1, got {n_purchases}")
    rng = np.random.default_rng([seed, 3, sum(map(ord, profile.shop_id))])
    scale, cm_per_step, anchors = SCALES[profile.scale_kind]
    letter_steps = LETTER_CM / cm_per_step  # scale steps per letter size

    n_shoppers = max(1, int(n_purchases / 1.7))
    body = civilian_bodies(n_shoppers, rng=rng, female_share=profile.female_share)
    activity = rng.pareto(2.5, n_shoppers) + 1
    who = _draw(rng, activity, n_purchases)

    female = (body["gender"] == "female").to_numpy()
    typed_gender = body["gender"].to_numpy(dtype=object).copy()
    typed_gender[rng.random(n_shoppers) < 0.02] = "unknown"
    fit = rng.choice(np.array(["tight", "regular", "loose"], dtype=object), n_shoppers, p=[0.2, 0.6, 0.2])
    fit_shift = np.select([fit == "tight", fit == "loose"], [_FIT_SHIFT["tight"], _FIT_SHIFT["loose"]], 0.0)
    typed_height = np.round(body["height_cm"].to_numpy() + rng.normal(0, 1.0, n_shoppers))
    metres_sq = (typed_height / 100) ** 2
    typed_weight = np.round(np.clip(body["weight_kg"].to_numpy() * np.exp(rng.normal(0, 0.02, n_shoppers)),
                                    np.maximum(36, 14 * metres_sq), np.minimum(235, 58 * metres_sq)))
    personal = rng.normal(0, 0.25, n_shoppers)

    categories = np.array(profile.categories, dtype=object)
    category_code = rng.integers(0, len(categories), n_purchases)
    if "dresses" in profile.categories and len(categories) > 1:  # men buy something else
        dress, other = profile.categories.index("dresses"), 1 if profile.categories[0] == "dresses" else 0
        category_code[(category_code == dress) & ~female[who]] = other
    products, product_fit, product_of = _products(rng, categories, category_code, n_purchases)

    measure_weights = np.array([CATEGORIES[c][0] for c in categories])  # (n_categories, 3)
    cat_offset = np.array([CATEGORIES[c][1] for c in categories])
    circumference = body[["chest_cm", "waist_cm", "hip_cm"]].to_numpy()
    measure = np.einsum("ij,ij->i", circumference[who], measure_weights[category_code])
    median = _medians(measure, female[who], category_code, len(categories))
    gender_idx = np.where(female[who], 0, 1)
    latent = (
        np.array(anchors, dtype=float)[gender_idx]
        + (measure - median[gender_idx, category_code]) / cm_per_step
        + (cat_offset[category_code] - profile.vanity + fit_shift[who] + personal[who]) * letter_steps
        + product_fit[product_of]
    )
    top = len(scale) - 1
    true_size = np.clip(np.round(latent), 0, top).astype(np.int64)
    guess = latent + (VANITY_FOOLED * profile.vanity + rng.normal(0, profile.guess_noise, n_purchases)) * letter_steps
    bought = np.clip(np.round(guess), 0, top).astype(np.int64)
    outcome = _outcomes(rng, bought - true_size, letter_steps, profile.other_return_rate, profile.label_noise)

    frame = pd.DataFrame({
        "shop_id": profile.shop_id,
        "event_time": _event_times(rng, n_purchases, start, weeks, profile.growth_per_year),
        "shopper_id": _hex_ids("u", np.arange(n_shoppers), salt=int(rng.integers(2**31)))[who],
        "product_id": products,
        "category": categories[category_code],
        "gender": typed_gender[who],
        "height_cm": typed_height[who],
        "weight_kg": typed_weight[who],
        "age": body["age"].to_numpy()[who],
        "size": pd.Categorical.from_codes(bought, dtype=scale.dtype),
        "outcome": outcome,
        "fit_preference": fit[who],
    })
    return frame.sort_values("event_time", kind="stable", ignore_index=True)


def _draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cumulative = np.cumsum(weights)
    return np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right").clip(0, len(weights) - 1)


def _medians(measure: np.ndarray, female: np.ndarray, category: np.ndarray, n_categories: int) -> np.ndarray:
    """Median measure per gender (0 female, 1 male) and category; a gender absent from a category
    borrows the category's overall median."""
    out = np.zeros((2, n_categories))
    for c in range(n_categories):
        in_category = category == c
        for g, mask in enumerate((female, ~female)):
            chosen = measure[in_category & mask]
            out[g, c] = np.median(chosen) if len(chosen) else np.median(measure[in_category] if in_category.any() else measure)
    return out


def _products(
    rng: np.random.Generator, categories: np.ndarray, category_code: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Product ids per purchase (popular products sell more), each product's fit offset in steps."""
    per_category = max(5, n // (60 * len(categories)))
    rank = np.arange(per_category)
    popularity = 1.0 / (rank + 5)
    within = _draw(rng, popularity, n)
    product_of = category_code * per_category + within
    names = np.array(
        [f"{c}-{i:05d}" for c in categories for i in range(per_category)], dtype=object
    )
    product_fit = rng.normal(0, 0.15, len(names))
    return names[product_of], product_fit, product_of


def _outcomes(
    rng: np.random.Generator, off: np.ndarray, letter_steps: float, other_rate: float, label_noise: float = 0.03
) -> np.ndarray:
    """Outcome words from how far the bought size is off (in scale steps), with label noise."""
    misfit = np.abs(off) / letter_steps  # in letter sizes
    p_size_return = (1 - np.exp(-((1.4 * misfit) ** 1.5))) * np.where(off > 0, 0.85, 1.0)
    u = rng.random(len(off))
    outcome = np.full(len(off), "kept", dtype=object)
    returned_for_size = u < p_size_return
    outcome[returned_for_size & (off < 0)] = "returned_too_small"
    outcome[returned_for_size & (off > 0)] = "returned_too_large"
    outcome[(off == 0) & (u < other_rate)] = "returned_other"
    noisy = rng.random(len(off)) < label_noise
    words = np.array(["kept", "returned_too_small", "returned_too_large", "returned_other"], dtype=object)
    outcome[noisy] = words[rng.integers(0, 4, int(noisy.sum()))]
    return outcome


def _event_times(rng: np.random.Generator, n: int, start: str, weeks: int, growth: float) -> pd.DatetimeIndex:
    """Purchase times: weekly counts with growth, a yearly cycle and a November peak; weekday and
    hour patterns within the week."""
    t = np.arange(weeks)
    week_of_year = (t + pd.Timestamp(start).isocalendar().week - 1) % 52
    season = 1 + 0.12 * np.sin(2 * np.pi * (week_of_year - 10) / 52) + 0.4 * np.exp(-(((week_of_year - 47) / 2.5) ** 2))
    weight = (1 + growth) ** (t / 52) * season
    per_week = rng.multinomial(n, weight / weight.sum())
    week = np.repeat(t, per_week)
    day_weights = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.15, 1.3])
    day = _draw(rng, day_weights, n)
    hour_weights = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1, 1.5, 2, 2.2, 2.4,
                             2.6, 2.5, 2.4, 2.4, 2.6, 3, 3.6, 4.2, 4.5, 4, 3, 1.8])
    hour = _draw(rng, hour_weights, n)
    seconds = ((week * 7 + day) * 24 + hour) * 3600 + rng.integers(0, 3600, n)
    base = pd.Timestamp(start, tz="UTC").value
    return pd.DatetimeIndex((base + seconds * 10**9).view("datetime64[ns]")).tz_localize("UTC")


def _hex_ids(prefix: str, numbers: np.ndarray, *, salt: int) -> np.ndarray:
    """Pseudonymous ids: 8 hex digits of a bijective hash of the number (unique per shop)."""
    hashed = ((numbers.astype(np.uint64) + np.uint64(salt % 2**31)) * np.uint64(2654435761)) % np.uint64(2**32)
    nibbles = (hashed[:, None] >> np.arange(28, -1, -4, dtype=np.uint64)) & np.uint64(15)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles.astype(np.int64)]
    codes = np.concatenate([np.full((len(numbers), 1), ord(prefix), dtype=np.uint8), digits], axis=1)
    return np.ascontiguousarray(codes).view("S9").ravel().astype("U9").astype(object)


def inject_defects(frame: pd.DataFrame, *, seed: int = 0, share: float = 0.004) -> tuple[pd.DataFrame, dict]:
    """Client mistakes in known numbers, and the counts validation must report.

    ``k = max(3, share × rows)`` rows each (disjoint): heights in inches, weights in pounds (only
    where the pounds give a BMI over 60, the rows validation can recognise), weights ×10, empty
    height, empty age, empty outcome, timestamps of 1970-01-01, an unknown outcome word, plus ``k``
    exact duplicates placed right after their originals and one week in the middle with no rows.
    """
    rng = np.random.default_rng([seed, 4])
    times = frame["event_time"]
    week_start = times.iloc[0].normalize() - pd.Timedelta(days=times.iloc[0].dayofweek)
    weeks_total = int((times.iloc[-1] - week_start).days // 7) + 1
    gone_week = week_start + pd.Timedelta(weeks=weeks_total // 2 + 5)
    in_gone = ((times >= gone_week) & (times < gone_week + pd.Timedelta(weeks=1))).to_numpy()
    out = frame.loc[~in_gone].reset_index(drop=True).copy()
    n = len(out)
    k = max(3, int(round(share * n)))
    order = rng.permutation(n)
    metres_sq = (out["height_cm"].to_numpy() / 100) ** 2
    in_pounds = out["weight_kg"].to_numpy() * 2.20462
    can_pound = (in_pounds / metres_sq > 61) | (in_pounds > 251)
    pound_rows = order[can_pound[order]][:k]
    rest = order[~np.isin(order, pound_rows)]
    if len(pound_rows) < k or len(rest) < 9 * k:
        raise ParamsError(f"generate: a shop of {len(frame)} rows is too small for defects; expected >= {20 * k}")
    chunks = [rest[i * k:(i + 1) * k] for i in range(9)]
    inches, tenfold, no_height, no_age, no_outcome, epoch, unknown, duplicated = chunks[:8]
    out.loc[inches, "height_cm"] = np.round(out.loc[inches, "height_cm"] / 2.54, 1)
    out.loc[pound_rows, "weight_kg"] = np.round(in_pounds[pound_rows])
    out.loc[tenfold, "weight_kg"] = out.loc[tenfold, "weight_kg"] * 10
    out.loc[no_height, "height_cm"] = np.nan
    out.loc[no_age, "age"] = np.nan
    out.loc[no_outcome, "outcome"] = None
    out.loc[epoch, "event_time"] = pd.Timestamp("1970-01-01", tz="UTC")
    out.loc[unknown, "outcome"] = "exchanged"
    position = np.concatenate([np.arange(n), np.sort(duplicated)]).astype(float)
    position[n:] += 0.5
    out = pd.concat([out, out.loc[np.sort(duplicated)]], ignore_index=True)
    out = out.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    reasons = {
        "duplicate": k,
        "missing_value: height_cm": k,
        "missing_value: age": k,
        "missing_value: outcome": k,
        "bad_timestamp": k,
        "wrong_unit: height_cm": k,
        "wrong_unit: weight_kg": 2 * k,
        "unknown_outcome": k,
    }
    expected = {
        "rows": len(out),
        "clean": len(out) - sum(reasons.values()),
        "reasons": reasons,
        "missing_week": f"{gone_week:%Y-%m-%d}",
        "rows_removed_in_missing_week": int(in_gone.sum()),
    }
    return out, expected


def generate_shops(
    n_shops: int = 6,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    defects: bool = False,
    rows_min: int = 3_000,
    rows_max: int = 300_000,
    weeks: int = WEEKS,
) -> list[Path]:
    """Write one canonical Parquet file per shop into ``out_dir`` (``<shop_id>.parquet``).

    With ``defects=True`` each shop gets client mistakes in known numbers and ``defects.json`` in
    ``out_dir`` maps each shop_id to what validation must find.
    """
    if out_dir is None:
        raise ParamsError("generate: expected out_dir, the folder to write the shops into")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths, expected = [], {}
    volumes = shop_volumes(n_shops, rows_min=rows_min, rows_max=rows_max, seed=seed)
    for profile, rows in zip(shop_profiles(n_shops, seed=seed), volumes):
        frame = generate_shop(profile, rows, seed=seed, weeks=weeks)
        if defects:
            frame, expected[profile.shop_id] = inject_defects(frame, seed=seed)
            expected[profile.shop_id]["file"] = f"{profile.shop_id}.parquet"
        paths.append(write_parquet(frame, folder / f"{profile.shop_id}.parquet"))
    if defects:
        write_json(expected, folder / "defects.json")
    return paths


def demo_shop_path() -> Path:
    """The small bundled demo shop (about 20,000 purchases), the notebook's default data."""
    return DEMO_SHOP_FILE


def write_demo_shop(path: str | os.PathLike[str] = DEMO_SHOP_FILE) -> Path:
    """Regenerate the bundled demo shop (deterministic)."""
    profile = ShopProfile(shop_id="demo-shop", vanity=0.3, guess_noise=0.38, other_return_rate=0.12)
    return write_parquet(generate_shop(profile, DEMO_SHOP_ROWS, seed=0), path)
