"""Synthetic shops: civilian bodies, heavy-tailed volumes, believable returns, known defects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from toolkit.shops.bodies import ansur_bodies, civilian_bodies
from toolkit.shops.generate import (
    ShopProfile,
    demo_shop_path,
    generate_shop,
    generate_shops,
    shop_profiles,
    shop_volumes,
)
from toolkit.shops.schema import REQUIRED_COLUMNS, SizeScale
from toolkit.shops.validate import load_shop, validate_path


@pytest.fixture(scope="module")
def bodies() -> pd.DataFrame:
    return civilian_bodies(60_000, rng=np.random.default_rng(0))


def test_civilian_weights_match_nhanes(bodies):
    weight = bodies.groupby("gender")["weight_kg"].mean()
    assert weight["female"] == pytest.approx(77, abs=1.5)
    assert weight["male"] == pytest.approx(90, abs=1.5)
    bmi = bodies["weight_kg"] / (bodies["height_cm"] / 100) ** 2
    assert bmi.mean() == pytest.approx(29, abs=1.5)
    assert bmi.between(15 - 1e-9, 55 + 1e-9).all()


def test_heights_stay_close_to_ansur_and_ages_broaden(bodies):
    ansur = ansur_bodies().groupby("gender")["height_cm"].mean()
    ours = bodies.groupby("gender")["height_cm"].mean()
    assert (ours - ansur).abs().max() < 1.0
    assert bodies["age"].between(18, 80).all()
    assert bodies["age"].min() <= 20 and bodies["age"].max() >= 70
    assert 38 < bodies["age"].mean() < 50


def test_volumes_are_heavy_tailed_in_the_demo_range():
    volumes = shop_volumes(6)
    assert volumes[0] == 300_000 and volumes[-1] == 3_000
    assert volumes == sorted(volumes, reverse=True)
    assert volumes[0] > 0.4 * sum(volumes)  # the largest shop dominates
    assert shop_volumes(1, rows_max=5000) == [5000]


def test_shops_differ_in_scale_and_ids_are_readable():
    profiles = shop_profiles(6)
    assert {p.scale_kind for p in profiles} == {"letters", "eu", "us"}
    assert profiles[0].shop_id == "shop-01-alpine"
    assert len({p.vanity for p in profiles}) == 6


@pytest.mark.parametrize("profile", shop_profiles(6, seed=1), ids=lambda p: p.shop_id)
def test_return_rates_and_size_share_are_believable(profile):
    frame = generate_shop(profile, 20_000, seed=1)
    returned = frame["outcome"] != "kept"
    for_size = frame["outcome"].isin(["returned_too_small", "returned_too_large"])
    assert 0.25 <= returned.mean() <= 0.5
    assert 0.3 <= for_size.sum() / returned.sum() <= 0.72


def test_a_shop_is_canonical_and_deterministic_by_seed():
    profile = ShopProfile(shop_id="x", scale_kind="eu")
    one, two = generate_shop(profile, 3000, seed=5), generate_shop(profile, 3000, seed=5)
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(generate_shop(profile, 3000, seed=6))
    assert list(one.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert SizeScale.of(one["size"]) == SizeScale.numeric(32, 56, 2)
    assert one["event_time"].is_monotonic_increasing
    assert one["shopper_id"].nunique() < len(one)  # shoppers come back


def test_kept_size_grows_with_the_body():
    """The size that fits is learnable: kept sizes follow weight and height within each gender."""
    frame = generate_shop(ShopProfile(shop_id="x", categories=("tops",)), 20_000, seed=2)
    kept = frame[(frame["outcome"] == "kept") & (frame["gender"] == "female")]
    index = kept["size"].cat.codes.to_numpy(float)
    features = np.column_stack([np.ones(len(kept)), kept["height_cm"], kept["weight_kg"]])
    fitted = features @ np.linalg.lstsq(features, index, rcond=None)[0]
    r_squared = 1 - ((index - fitted) ** 2).sum() / ((index - index.mean()) ** 2).sum()
    assert r_squared > 0.5


def test_generate_shops_writes_files_deterministically(tmp_path):
    first = generate_shops(3, tmp_path / "a", seed=7, rows_min=1500, rows_max=6000)
    second = generate_shops(3, tmp_path / "b", seed=7, rows_min=1500, rows_max=6000)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    assert [len(pd.read_parquet(p)) for p in first] == shop_volumes(3, rows_min=1500, rows_max=6000, seed=7)
    for path in first:
        assert validate_path(path).rows_quarantined == 0  # clean shops are clean


def test_defects_are_found_exactly_by_validation(tmp_path):
    paths = generate_shops(2, tmp_path, seed=3, defects=True, rows_min=4000, rows_max=12000)
    expected = json.loads((tmp_path / "defects.json").read_text())
    for path in paths:
        truth = expected[path.stem]
        result = validate_path(path)
        assert result.rows_read == truth["rows"]
        assert result.rows_clean == truth["clean"]
        assert result.reasons == truth["reasons"]
        flagged = result.flagged_weeks
        missing = flagged[flagged["why"].str.startswith("missing week")]
        assert [f"{w:%Y-%m-%d}" for w in missing["week_start"]] == [truth["missing_week"]]


def test_bundled_demo_shop_loads_clean():
    path = demo_shop_path()
    assert path.exists() and path.stat().st_size < 600_000
    shop = load_shop(path)
    assert shop.rows_read == 20_000 and shop.rows_quarantined == 0
    assert shop.scale == SizeScale.letters()
