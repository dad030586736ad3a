"""A fitted Keras size model as a SavedModel: which inputs its signature takes, and its answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.models.test_models import shop_rows
from toolkit.errors import ExportError
from toolkit.models import make_model, model_class
from toolkit.models.backend import tf
from toolkit.models.serving import check_exportable, save_serving_model

LABELS = ("XS", "S", "M", "L", "XL")


def _answers(model, frame: pd.DataFrame, folder: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:  # noqa: ANN001
    inputs = save_serving_model(model, LABELS, folder)
    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    fields = {name: tf.constant(frame[name].astype(object).fillna("").astype(str).to_numpy()) if dtype == "string"
              else tf.constant(frame[name].to_numpy(np.float32)) for name, dtype in inputs.items()}
    return inputs, {key: value.numpy() for key, value in signature(**fields).items()}


def test_measurements_are_inputs_and_an_unstated_fit_preference_is_not(tmp_path: Path) -> None:
    frame, _ = shop_rows(400, seed=8)
    labels = frame.attrs.pop("labels")
    frame = frame.drop(columns="fit_preference").assign(chest_cm=frame["height_cm"] * 0.55 + frame["weight_kg"] * 0.3)
    frame["chest_cm"] = frame["chest_cm"].astype(np.float32).astype(np.float64)
    for column in ("height_cm", "weight_kg", "age"):
        frame[column] = frame[column].astype(np.float32).astype(np.float64)
    model = make_model("keras_ordinal", n_sizes=5).fit(frame, labels)
    shoppers = frame.copy()
    shoppers.loc[::7, "chest_cm"] = np.nan
    inputs, out = _answers(model, shoppers, tmp_path / "1")
    assert inputs == {"height_cm": "float32", "weight_kg": "float32", "age": "float32", "gender": "string",
                      "category": "string", "chest_cm": "float32"}
    np.testing.assert_array_equal(out["size_index"], model.predict(shoppers))
    np.testing.assert_array_equal(out["size"].astype(str), np.asarray(LABELS)[model.predict(shoppers)])


def test_a_model_that_learned_one_size_answers_that_size(tmp_path: Path) -> None:
    frame, _ = shop_rows(50)
    frame.attrs.clear()
    model = make_model("keras_ordinal", n_sizes=5).fit(frame, np.full(len(frame), 2))
    _, out = _answers(model, frame.head(3), tmp_path / "1")
    assert out["size"].astype(str).tolist() == ["M", "M", "M"] and out["size_index"].tolist() == [2, 2, 2]
    np.testing.assert_array_equal(out["probabilities"], np.eye(5, dtype=np.float32)[[2, 2, 2]])


@pytest.mark.parametrize("name", ["hgb", "logreg", "most_popular"])
def test_only_keras_models_are_exportable(name: str) -> None:
    with pytest.raises(ExportError, match=rf"model '{name}': enough export can only export Keras models"):
        check_exportable(model_class(name), name)
