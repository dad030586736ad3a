"""Reference population and holdout are set aside by shopper."""

from __future__ import annotations

import pytest

from tests.tiny_shops import tiny_shop
from toolkit.errors import ExperimentError
from toolkit.experiment.splits import split_shop


def test_no_reference_or_holdout_shopper_is_ever_trained_on() -> None:
    split = split_shop(tiny_shop(3000))
    train = set(split.train["shopper_id"])
    assert not train & set(split.reference["shopper_id"])
    assert not train & set(split.holdout["shopper_id"])
    assert not set(split.reference["shopper_id"]) & set(split.holdout["shopper_id"])


def test_reference_population_is_one_row_per_shopper_about_20_percent_capped() -> None:
    shop = tiny_shop(3000)
    split = split_shop(shop)
    shoppers = shop["shopper_id"].nunique()
    assert split.reference["shopper_id"].is_unique
    assert len(split.reference) == round(0.2 * shoppers)
    assert len(split_shop(shop, reference_size=100).reference) == 100


def test_every_row_lands_somewhere_and_the_split_is_fixed_by_its_seed() -> None:
    shop = tiny_shop(3000)
    a, b = split_shop(shop), split_shop(shop)
    assert a.reference.equals(b.reference) and a.train.equals(b.train)
    reference_rows = shop["shopper_id"].isin(a.reference["shopper_id"]).sum()
    assert len(a.train) + len(a.holdout) + reference_rows == len(shop)
    assert not split_shop(shop, split_seed=1).reference.equals(a.reference)


def test_a_shop_too_small_to_split_is_a_clear_error() -> None:
    with pytest.raises(ExperimentError, match="too few"):
        split_shop(tiny_shop(3, repeat_shoppers=0.0), reference_share=0.5, holdout_share=0.5)
