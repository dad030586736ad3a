"""Training labels from outcomes, and the shared feature encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import DataError, ExperimentError
from toolkit.models.features import FeatureEncoder, category_names, training_labels
from toolkit.shops.schema import OUTCOMES, SizeScale

SCALE = SizeScale(("S", "M", "L"))


def purchases(sizes: list[str], outcomes: list[str], scale: SizeScale = SCALE) -> pd.DataFrame:
    return pd.DataFrame(
        {"size": pd.Categorical(sizes, dtype=scale.dtype), "outcome": outcomes}
    )


def bodies(**columns: object) -> pd.DataFrame:
    base = {
        "category": ["tops", "tops", "bottoms", "dresses"],
        "gender": ["female", "male", "unknown", "female"],
        "height_cm": [160.0, 180.0, 170.0, 165.0],
        "weight_kg": [55.0, 81.0, 72.25, 60.0],
        "age": [30.0, 40.0, 50.0, 20.0],
    }
    base.update(columns)
    return pd.DataFrame(base)


# -- labels -------------------------------------------------------------------------------------
def test_each_outcome_moves_the_label_as_documented() -> None:
    frame = purchases(
        ["M", "M", "M", "M"], ["kept", "returned_too_small", "returned_too_large", "returned_other"]
    )
    assert training_labels(frame, SCALE).tolist() == [1, 2, 0, 1]


def test_labels_are_clipped_at_the_ends_of_the_scale() -> None:
    frame = purchases(["L", "S"], ["returned_too_small", "returned_too_large"])
    assert training_labels(frame, SCALE).tolist() == [2, 0]


def test_labels_accept_plain_size_labels_on_the_scale() -> None:
    frame = pd.DataFrame({"size": ["s", "L"], "outcome": ["kept", "returned_too_large"]})
    assert training_labels(frame, SCALE).tolist() == [0, 1]


def test_a_size_off_the_scale_is_named_in_the_error() -> None:
    frame = pd.DataFrame({"size": ["M", "XXL"], "outcome": ["kept", "kept"]})
    with pytest.raises(DataError, match=r"'size'.*XXL"):
        training_labels(frame, SCALE)


def test_an_unknown_outcome_is_named_in_the_error() -> None:
    frame = purchases(["M"], ["exchanged"])
    with pytest.raises(DataError, match=r"'outcome'.*exchanged"):
        training_labels(frame, SCALE)


@settings(max_examples=60, deadline=None)
@given(
    n_sizes=st.integers(1, 12),
    rows=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(OUTCOMES)), min_size=1, max_size=40),
)
def test_labels_stay_on_the_scale_and_within_one_step_of_the_bought_size(
    n_sizes: int, rows: list[tuple[int, str]]
) -> None:
    scale = SizeScale(tuple(str(30 + 2 * i) for i in range(n_sizes)))
    bought = np.array([i % n_sizes for i, _ in rows])
    frame = purchases([scale.labels[i] for i in bought], [o for _, o in rows], scale)
    labels = training_labels(frame, scale)
    assert labels.dtype.kind == "i"
    assert ((labels >= 0) & (labels < n_sizes)).all()
    assert (np.abs(labels - bought) <= 1).all()


# -- encoding -----------------------------------------------------------------------------------
def test_encoder_uses_training_vocabulary_and_sends_new_categories_to_slot_zero() -> None:
    encoder = FeatureEncoder().fit(bodies())
    rows = encoder.transform(bodies(category=["tops", "swimwear", "bottoms", "hats"]))
    assert rows.category[1] == 0 and rows.category[3] == 0
    assert rows.category[0] > 0 and rows.category[2] > 0
    assert rows.category.max() < encoder.n_categories_
    assert encoder.category_vocabulary_[0] == "tops"  # most frequent first


def test_gender_is_one_hot_and_fit_preference_is_signed() -> None:
    frame = bodies(fit_preference=["tight", None, "loose", "regular"])
    encoder = FeatureEncoder().fit(frame)
    rows = encoder.transform(frame)
    names = list(encoder.feature_names_)
    gender = rows.numeric[:, [names.index(f"gender_{g}") for g in ("female", "male", "unknown")]]
    assert gender.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert rows.numeric[:, names.index("fit_preference")].tolist() == [-1.0, 0.0, 1.0, 0.0]


def test_bmi_is_derived_and_missing_values_take_the_training_median() -> None:
    encoder = FeatureEncoder().fit(bodies())
    names = list(encoder.feature_names_)
    rows = encoder.transform(bodies(age=[np.nan, 40.0, 50.0, 20.0]))
    assert rows.numeric[0, names.index("age")] == pytest.approx(35.0)  # median of 30, 40, 50, 20
    assert rows.numeric[2, names.index("bmi")] == pytest.approx(72.25 / 1.7**2, rel=1e-5)
    assert np.isfinite(rows.numeric).all()


def test_body_measurements_are_used_only_when_the_training_rows_have_them() -> None:
    without = FeatureEncoder().fit(bodies())
    with_chest = FeatureEncoder().fit(bodies(chest_cm=[90.0, 105.0, np.nan, 95.0]))
    assert "chest_cm" not in without.feature_names_
    assert "chest_cm" in with_chest.feature_names_
    # rows without the column still encode (filled with the training median)
    rows = with_chest.transform(bodies())
    assert rows.numeric.shape == (4, len(with_chest.feature_names_))
    assert np.isfinite(rows.numeric).all()


def test_dense_matrix_adds_a_category_one_hot() -> None:
    encoder = FeatureEncoder().fit(bodies())
    dense = encoder.transform(bodies()).dense()
    assert dense.shape == (4, len(encoder.feature_names_) + encoder.n_categories_)
    assert (dense[:, len(encoder.feature_names_) :].sum(axis=1) == 1).all()


def test_encoder_refuses_no_rows_and_missing_columns() -> None:
    with pytest.raises(ExperimentError):
        FeatureEncoder().fit(bodies().iloc[:0])
    with pytest.raises(DataError, match="height_cm"):
        FeatureEncoder().fit(bodies().drop(columns="height_cm"))


def test_encoding_leaves_the_rows_it_reads_untouched() -> None:
    frame = bodies(chest_cm=[90.0, np.nan, 100.0, np.nan], height_cm=[160.0, np.nan, 170.0, 165.0])
    frame["category"] = frame["category"].astype("category")
    before = frame.copy()
    encoder = FeatureEncoder().fit(frame)
    encoded = encoder.transform(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert np.isfinite(encoded.numeric).all()


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.sampled_from(["tops", "Tops", "bottoms", "dresses", "é", "", "z"]), min_size=1, max_size=40),
    unused=st.lists(st.sampled_from(["coats", "A", "shoes"]), max_size=3, unique=True),
)
def test_category_names_are_numpy_unique_of_the_names(names: list[str], unused: list[str]) -> None:
    expected_names, expected_rows = np.unique(np.array(names, dtype=object), return_inverse=True)
    categories = list(dict.fromkeys([*unused, *names]))  # unused categories, in no sorted order
    for values in (pd.Series(names, dtype=object), pd.Series(pd.Categorical(names, categories=categories))):
        found_names, found_rows = category_names(values)
        assert list(found_names) == list(expected_names)
        assert np.array_equal(found_rows, expected_rows)
