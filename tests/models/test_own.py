"""Bring your own model (``package.module:name``): estimator classes, build functions, and the errors
a wrong path gives when the settings are checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.models.test_models import assert_valid_predictions, shop_rows
from toolkit.errors import ExperimentError, ParamsError
from toolkit.experiment.config import ExperimentConfig
from toolkit.models import make_model, model_class
from toolkit.models.most_popular import MostPopularSize

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HERE = "tests.models.test_own"
FAST_NETWORK = {"epochs": 2, "min_steps": 30, "batch_size": 64}


@pytest.fixture(autouse=True)
def examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))


# -- shapes of the user's objects used by the tests ----------------------------------------------
NOT_A_MODEL = 42


class OnlyFits:
    def fit(self, X, y):  # noqa: ANN001, ANN201
        return self


class NeedsDepth:
    def __init__(self, depth: int) -> None:
        self.depth = depth

    def fit(self, X, y):  # noqa: ANN001, ANN201
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.full(len(X), self.depth)


class SaysLabels(NeedsDepth):
    def __init__(self) -> None:
        super().__init__(0)

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.array(["M"] * len(X))


AN_INSTANCE = SaysLabels()


def two_argument_build(n_numeric, n_categories):  # noqa: ANN001, ANN201
    raise AssertionError("never called")


def _network(n_numeric: int, n_categories: int, width: int, activation: str | None = None):  # noqa: ANN202
    import keras

    numeric = keras.Input(shape=(n_numeric,), name="numeric")
    category = keras.Input(shape=(), dtype="int32", name="category")
    shift = keras.layers.Embedding(n_categories, 2)(category)
    hidden = keras.layers.Concatenate()([keras.layers.Dense(8, activation="relu")(numeric), shift])
    return keras.Model({"numeric": numeric, "category": category}, keras.layers.Dense(width, activation=activation)(hidden))


def softmax_build(n_numeric, n_categories, n_sizes):  # noqa: ANN001, ANN201
    return _network(n_numeric, n_categories, n_sizes)


def wrong_width_build(n_numeric, n_categories, n_sizes):  # noqa: ANN001, ANN201
    return _network(n_numeric, n_categories, n_sizes + 1)


def softmax_ending_build(n_numeric, n_categories, n_sizes):  # noqa: ANN001, ANN201
    return _network(n_numeric, n_categories, n_sizes, activation="softmax")


# -- estimator classes ----------------------------------------------------------------------------
def test_an_estimator_class_is_a_size_model_with_its_own_parameters() -> None:
    frame, truth = shop_rows(600, seed=2)
    model = make_model("mymodels:MyEstimator", n_sizes=5, random_state=7, alpha=3.0)
    assert model.get_params() == {"alpha": 3.0, "n_sizes": 5, "random_state": 7}
    assert type(model).seed_independent  # the class says so
    assert not hasattr(model, "predict_proba")
    predicted = assert_valid_predictions(model.fit(frame, frame.attrs["labels"]), frame, 5)
    assert model.estimator_.n_sizes == 5  # the constructor takes n_sizes: the toolkit passed it
    assert np.mean(predicted == truth) > 0.6


def test_a_scikit_learn_classifier_gets_the_seed_the_features_and_all_sizes_in_its_probabilities() -> None:
    frame, _ = shop_rows(400, seed=3)
    labels = np.minimum(frame.attrs["labels"], 2)  # sizes 3 and 4 never seen in training
    model = make_model("sklearn.tree:DecisionTreeClassifier", n_sizes=5, random_state=11, max_depth=4)
    model.fit(frame, labels)
    assert model.estimator_.random_state == 11 and model.estimator_.max_depth == 4
    assert list(model.estimator_.feature_names_in_[:4]) == ["height_cm", "weight_kg", "age", "bmi"]
    assert "category=<unseen>" in model.estimator_.feature_names_in_
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), 5) and (proba[:, 3:] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_a_size_model_subclass_is_used_as_it_is() -> None:
    assert model_class("toolkit.models.most_popular:MostPopularSize") is MostPopularSize


def test_predictions_that_are_not_size_indices_are_refused() -> None:
    frame, _ = shop_rows(50)
    model = make_model(f"{HERE}:SaysLabels", n_sizes=5).fit(frame, frame.attrs["labels"])
    with pytest.raises(ExperimentError, match=r"predict returned <U1.*expected one size index"):
        model.predict(frame)


# -- build functions ------------------------------------------------------------------------------
def test_a_build_function_is_trained_by_the_toolkit_with_its_seed_and_ordinal_head() -> None:
    frame, truth = shop_rows(800, seed=4)
    labels = frame.attrs["labels"]
    first = make_model("mymodels:build", n_sizes=5, random_state=1, hidden=8, **FAST_NETWORK).fit(frame, labels)
    again = make_model("mymodels:build", n_sizes=5, random_state=1, hidden=8, **FAST_NETWORK).fit(frame, labels)
    assert type(first).head == "coral" and first.get_params()["hidden"] == 8
    assert first.network_.get_layer("normalise") is not None  # the toolkit standardises the features
    assert first.network_.get_layer("my_size_network").get_layer("body").units == 8
    predicted = assert_valid_predictions(first, frame, 5)
    np.testing.assert_array_equal(predicted, again.predict(frame))
    assert (first.predict_proba(frame) >= 0).all()  # crossing cumulative logits are sorted first
    assert np.mean(np.abs(predicted - truth) <= 1) > 0.8


def test_crossing_cumulative_logits_of_an_own_network_still_give_probabilities() -> None:
    frame, _ = shop_rows(300, seed=4)
    model = make_model("mymodels:build", n_sizes=5, random_state=1, hidden=8, **FAST_NETWORK).fit(frame, frame.attrs["labels"])
    crossing = np.array([[-1.0, 2.0, 0.5, 3.0], [0.0, -2.0, 1.0, -0.5]])  # a trained own head can cross
    model.logits = lambda rows: crossing[: len(rows)]
    above = model.cumulative_proba(frame.iloc[:2])
    assert (np.diff(above, axis=1) <= 0).all()  # P(size > k) never grows with k
    proba = model.predict_proba(frame.iloc[:2])
    assert (proba >= 0).all() and np.allclose(proba.sum(axis=1), 1.0)


def test_a_build_function_with_n_sizes_outputs_gets_a_softmax_head() -> None:
    frame, _ = shop_rows(300, seed=5)
    model = make_model(f"{HERE}:softmax_build", n_sizes=5, decision="median", **FAST_NETWORK)
    assert type(model).head == "softmax"
    assert_valid_predictions(model.fit(frame, frame.attrs["labels"]), frame, 5)


# -- errors when the settings are checked ---------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("no_such_module_xyz:Thing", r"cannot import module 'no_such_module_xyz' \(ModuleNotFoundError.*PYTHONPATH"),
        ("mymodels:Missing", r"module 'mymodels' has no 'Missing'; expected a SizeModelBase subclass"),
        ("mymodels:", r"expected package.module:name"),
        (f"{HERE}:NOT_A_MODEL", r"is int 42; expected a SizeModelBase subclass, a scikit-learn-style estimator"),
        (f"{HERE}:OnlyFits", r"class OnlyFits has no fit and predict methods"),
        (f"{HERE}:AN_INSTANCE", r"is an instance of SaysLabels; expected the class itself"),
        (f"{HERE}:NeedsDepth", r"parameter 'depth' has no default; expected it in model_params"),
        (f"{HERE}:two_argument_build", r"cannot be called as build\(n_numeric, n_categories, n_sizes\)"),
        (f"{HERE}:wrong_width_build", r"returns shape \(2, 6\) for 2 rows; expected .*width n_sizes-1 = 4"),
        (f"{HERE}:softmax_ending_build", r"ends in a softmax; expected .* without an activation"),
        ("xgboost", r"unknown model 'xgboost'.*or package.module:name of your own"),
    ],
)
def test_a_wrong_model_is_a_params_error_when_the_settings_are_checked(model: str, words: str) -> None:
    with pytest.raises(ParamsError, match=words) as caught:
        ExperimentConfig.from_params(model=model)
    if ":" in model:
        assert repr(model) in str(caught.value)  # the message names the path


def test_an_import_that_raises_names_the_module_and_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_models.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ParamsError, match=r"'broken_models:Model': cannot import module 'broken_models' \(RuntimeError: boom"):
        ExperimentConfig.from_params(model="broken_models:Model")


def test_unknown_model_params_of_your_own_model_are_named() -> None:
    with pytest.raises(ParamsError, match=r"'mymodels:MyEstimator': unknown parameters \['alpah'\]; expected some of \['alpha'\]"):
        ExperimentConfig.from_params(model="mymodels:MyEstimator", model_params={"alpah": 1.0})
    config = ExperimentConfig.from_params(model=f"{HERE}:NeedsDepth", model_params={"depth": 2})
    assert config.model_params == {"depth": 2}


def test_checking_an_estimator_setting_does_not_start_tensorflow() -> None:
    script = (
        "import sys; from toolkit.experiment.config import ExperimentConfig; "
        "ExperimentConfig.from_params(model='mymodels:MyEstimator', model_params={'alpha': 2.0}); "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
        env={"PYTHONPATH": str(EXAMPLES), "PATH": "/usr/bin:/bin"}, cwd=ROOT,
    )
    assert done.stdout.strip() == "False"


def test_feature_columns_are_the_encoders() -> None:
    from toolkit.models.features import FeatureEncoder
    from toolkit.models.own import feature_frame

    frame, _ = shop_rows(30)
    frame.attrs.clear()
    encoder = FeatureEncoder().fit(frame)
    features = feature_frame(encoder, pd.concat([frame.head(2), frame.head(1).assign(category="capes")]))
    vocabulary = [f"category={name}" for name in encoder.category_vocabulary_]  # most frequent first
    assert list(features.columns) == [*encoder.feature_names_, "category=<unseen>", *vocabulary]
    assert sorted(vocabulary) == ["category=bottoms", "category=tops"]
    assert features["category=<unseen>"].tolist() == [0.0, 0.0, 1.0]
