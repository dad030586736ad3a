"""Full-batch L-BFGS over chunks: which chunks are kept as tensors never changes the fit."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from toolkit.models import keras_models, make_model
from toolkit.models.full_batch import fit_full_batch
from tests.models.test_models import shop_rows


@pytest.fixture(scope="module")
def shop():
    frame, _ = shop_rows(2_500, seed=3)
    return frame, frame.attrs["labels"]


def fitted_with(monkeypatch: pytest.MonkeyPatch, shop, cache_bytes: int):
    frame, labels = shop
    # 2,500 rows in chunks of 600: four full chunks and a padded fifth.
    monkeypatch.setattr(keras_models, "fit_full_batch", functools.partial(fit_full_batch, chunk_rows=600, cache_bytes=cache_bytes))
    return make_model("keras_ordinal", n_sizes=5).fit(frame, labels)


@pytest.mark.parametrize("cache_bytes", [0, 50_000])  # none kept, some kept
def test_a_fit_is_the_same_whatever_chunks_are_kept(monkeypatch: pytest.MonkeyPatch, shop, cache_bytes: int) -> None:
    everything = fitted_with(monkeypatch, shop, 2**40)
    other = fitted_with(monkeypatch, shop, cache_bytes)
    assert other.optimisation_ == everything.optimisation_
    frame, _ = shop
    assert np.array_equal(other.predict_proba(frame), everything.predict_proba(frame))
