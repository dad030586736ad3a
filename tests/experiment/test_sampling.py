"""Sampling strategies: nested subsets, newest history, rare sizes kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tiny_shops import tiny_shop
from toolkit.errors import ParamsError
from toolkit.experiment.sampling import available_sampling, sample_rows

POOL = tiny_shop(4000)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.integers(0, 10_000), st.sampled_from(["random", "balanced", "recent"]))
def test_smaller_fractions_are_nested_in_larger_ones(a: float, b: float, seed: int, strategy: str) -> None:
    small, large = sorted((a, b))
    inner = sample_rows(POOL, small, strategy=strategy, seed=seed)
    outer = sample_rows(POOL, large, strategy=strategy, seed=seed)
    assert set(inner) <= set(outer)


def test_random_takes_the_asked_share_and_depends_on_the_seed() -> None:
    rows = sample_rows(POOL, 0.25, seed=0)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000
    assert not np.array_equal(rows, sample_rows(POOL, 0.25, seed=1))
    assert np.array_equal(rows, sample_rows(POOL, 0.25, seed=0))
    assert len(sample_rows(POOL, 1.0)) == len(POOL)


def test_recent_takes_the_newest_history() -> None:
    rows = sample_rows(POOL, 0.1, strategy="recent")
    chosen = POOL["event_time"].iloc[rows]
    rest = POOL["event_time"].drop(POOL.index[rows])
    assert chosen.min() >= rest.max()


def test_balanced_keeps_rare_sizes_in_small_fractions() -> None:
    sizes = POOL["size"].cat.codes.to_numpy()
    counts = np.bincount(sizes)
    rare = int(np.flatnonzero((counts > 0) & (counts < 60))[0])
    rows = sample_rows(POOL, 1 / 64, strategy="balanced", seed=3, min_rows_per_size=30)
    assert (sizes[rows] == rare).sum() >= min(30, counts[rare])
    random_rows = sample_rows(POOL, 1 / 64, strategy="random", seed=3)
    assert (sizes[rows] == rare).sum() > (sizes[random_rows] == rare).sum()


def test_unknown_strategy_and_bad_fraction_are_named() -> None:
    assert available_sampling() == ["balanced", "random", "recent"]
    with pytest.raises(ParamsError, match="unknown strategy 'newest'"):
        sample_rows(POOL, 0.5, strategy="newest")
    with pytest.raises(ParamsError, match="fractions"):
        sample_rows(POOL, 1.5)
