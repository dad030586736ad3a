"""Every registered size model: the protocol, the awkward shops, determinism, ordinal output."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import ParamsError
from toolkit.models import SizeModelBase, available_models, make_model, register_model

BUILT_IN = ("hgb", "keras_mlp", "keras_ordinal", "keras_softmax", "logreg", "most_popular")
#: Small training budgets so the suite stays fast; the defaults are exercised by the benchmarks.
FAST: dict[str, dict[str, object]] = {
    "keras_ordinal": {},
    "keras_mlp": {"epochs": 2, "min_steps": 30, "batch_size": 64},
    "keras_softmax": {"epochs": 2, "min_steps": 30, "batch_size": 64},
    "hgb": {"max_iter": 20},
    "logreg": {},
    "most_popular": {},
}
ROOT = Path(__file__).resolve().parents[2]


def shop_rows(n: int, seed: int = 0, n_sizes: int = 5, noise: float = 0.3) -> tuple[pd.DataFrame, np.ndarray]:
    """A learnable synthetic shop: rows and the *true* size index (labels add ``noise``)."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.45
    height = np.where(male, rng.normal(178, 7, n), rng.normal(165, 7, n))
    bmi = rng.lognormal(np.log(24), 0.15, n)
    latent = 1.1 * (bmi - 24) / 3.6 + 0.6 * (height - 171) / 9 + (n_sizes - 1) / 2
    frame = pd.DataFrame(
        {
            "category": rng.choice(["tops", "bottoms"], n),
            "gender": np.where(male, "male", "female"),
            "height_cm": height,
            "weight_kg": bmi * (height / 100) ** 2,
            "age": rng.uniform(18, 70, n),
            "fit_preference": rng.choice(np.array(["tight", "regular", "loose", None], dtype=object), n),
        }
    )
    truth = np.clip(np.rint(latent), 0, n_sizes - 1).astype(np.int64)
    labels = np.clip(np.rint(latent + rng.normal(0, noise, n)), 0, n_sizes - 1).astype(np.int64)
    frame.attrs["labels"] = labels
    return frame, truth


def fitted(name: str, frame: pd.DataFrame, y: np.ndarray, n_sizes: int, seed: int = 0) -> SizeModelBase:
    model = make_model(name, n_sizes=n_sizes, random_state=seed, **FAST[name])
    assert model.fit(frame, y) is model
    return model


def assert_valid_predictions(model: SizeModelBase, frame: pd.DataFrame, n_sizes: int) -> np.ndarray:
    predicted = model.predict(frame)
    assert predicted.dtype.kind == "i" and predicted.shape == (len(frame),)
    assert ((predicted >= 0) & (predicted < n_sizes)).all()
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(frame)
        assert proba.shape == (len(frame), n_sizes)
        assert (proba >= -1e-9).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert model.epochs_ >= 1
    return predicted


# -- registry -----------------------------------------------------------------------------------
def test_every_built_in_model_is_available() -> None:
    assert set(BUILT_IN) <= set(available_models())


def test_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(ParamsError, match=r"unknown model 'xgboost'.*keras_mlp.*keras_ordinal.*most_popular"):
        make_model("xgboost", n_sizes=3)


def test_unknown_model_parameter_is_named() -> None:
    with pytest.raises(ParamsError, match=r"epochz"):
        make_model("keras_ordinal", n_sizes=3, epochz=3)


def test_a_registered_model_is_made_by_name() -> None:
    @register_model("test_smallest_size")
    class SmallestSize(SizeModelBase):
        def __init__(self, n_sizes: int, random_state: int = 0) -> None:
            self.n_sizes = n_sizes
            self.random_state = random_state

        def _fit(self, X: pd.DataFrame, y: np.ndarray) -> int:
            return 1

        def _predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(X), dtype=np.int64)

    frame, _ = shop_rows(20)
    model = make_model("test_smallest_size", n_sizes=5, random_state=3)
    assert "test_smallest_size" in available_models()
    assert model.get_params() == {"n_sizes": 5, "random_state": 3}
    assert (model.fit(frame, frame.attrs["labels"]).predict(frame) == 0).all()


# -- every model on awkward shops ---------------------------------------------------------------
@pytest.fixture(scope="module", params=BUILT_IN)
def standard(request: pytest.FixtureRequest) -> tuple[str, SizeModelBase, pd.DataFrame]:
    """Each built-in model fitted once on a plain five-size shop."""
    frame, _ = shop_rows(300, seed=1)
    return request.param, fitted(request.param, frame, frame.attrs["labels"], 5), frame


def test_model_predicts_sizes_on_the_scale(standard: tuple[str, SizeModelBase, pd.DataFrame]) -> None:
    name, model, frame = standard
    predicted = assert_valid_predictions(model, frame, 5)
    if name != "most_popular":
        assert len(np.unique(predicted)) >= 3  # spreads over sizes, no collapse


def test_a_category_first_seen_at_predict_time_gets_a_size(
    standard: tuple[str, SizeModelBase, pd.DataFrame],
) -> None:
    _, model, frame = standard
    unseen = frame.head(40).assign(category="swimwear")
    assert_valid_predictions(model, unseen, 5)


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_size_seen_once_does_not_break_the_model(name: str) -> None:
    frame, _ = shop_rows(200, seed=2, n_sizes=7)
    y = np.clip(frame.attrs["labels"], 1, 5)
    y[17] = 6  # the largest size, bought once
    model = fitted(name, frame, y, 7)
    assert_valid_predictions(model, frame, 7)


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_dominant_size_does_not_break_the_model(name: str) -> None:
    frame, _ = shop_rows(200, seed=3)
    y = np.full(len(frame), 2)
    y[:6] = [0, 1, 3, 4, 1, 3]
    model = fitted(name, frame, y, 5)
    predicted = assert_valid_predictions(model, frame, 5)
    assert np.mean(predicted == 2) > 0.8


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_one_size_shop_gets_that_size(name: str) -> None:
    frame, _ = shop_rows(50, seed=4)
    model = fitted(name, frame, np.full(len(frame), 3), 6)
    assert (assert_valid_predictions(model, frame, 6) == 3).all()


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_single_size_scale_works(name: str) -> None:
    frame, _ = shop_rows(30, seed=5)
    model = fitted(name, frame, np.zeros(len(frame), dtype=int), 1)
    assert (assert_valid_predictions(model, frame, 1) == 0).all()


@pytest.mark.parametrize("name", BUILT_IN)
def test_labels_outside_the_scale_are_refused(name: str) -> None:
    frame, _ = shop_rows(10)
    model = make_model(name, n_sizes=3)
    with pytest.raises(ParamsError, match=r"y: expected size indices in \[0, 3\)"):
        model.fit(frame, np.full(10, 3))


@pytest.mark.parametrize("name", ["keras_ordinal", "hgb", "logreg"])
def test_more_data_is_not_worse_on_a_learnable_shop(name: str) -> None:
    test_frame, truth = shop_rows(3000, seed=99)
    accuracies = []
    for n in (120, 4000):
        frame, _ = shop_rows(n, seed=7)
        params = {}
        model = make_model(name, n_sizes=5, random_state=0, **params)
        model.fit(frame, frame.attrs["labels"])
        accuracies.append(np.mean(model.predict(test_frame) == truth))
    small, large = accuracies
    assert large >= small - 0.01
    assert large > 0.8


# -- the Keras models ---------------------------------------------------------------------------
PROCESS_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_models import determinism_fit
print("PREDICTIONS=" + json.dumps(determinism_fit("keras_ordinal", {seed})[0].tolist()))
"""


@functools.cache
def determinism_fit(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and probabilities of a small fit of a Keras model on a noisy shop."""
    frame, _ = shop_rows(600, seed=11, noise=0.8)
    model = make_model(name, n_sizes=5, random_state=seed, **FAST[name])
    reference, _ = shop_rows(2000, seed=12)
    model.fit(frame, frame.attrs["labels"])
    return model.predict(reference), model.predict_proba(reference)


def test_keras_ordinal_gives_the_same_model_for_any_seed() -> None:
    predicted, proba = determinism_fit("keras_ordinal", 0)
    other, other_proba = determinism_fit("keras_ordinal", 7)
    assert np.array_equal(predicted, other) and np.array_equal(proba, other_proba)
    assert make_model("keras_ordinal", n_sizes=5).seed_independent


def test_keras_mlp_same_seed_gives_identical_predictions_and_another_seed_does_not() -> None:
    predicted, proba = determinism_fit("keras_mlp", 0)
    again, again_proba = determinism_fit.__wrapped__("keras_mlp", 0)
    other, other_proba = determinism_fit("keras_mlp", 1)
    assert np.array_equal(predicted, again) and np.array_equal(proba, again_proba)
    assert not np.allclose(proba, other_proba)
    assert not make_model("keras_mlp", n_sizes=5).seed_independent


def test_keras_ordinal_gives_identical_predictions_in_another_process() -> None:
    script = PROCESS_SCRIPT.format(tests=str(ROOT / "tests" / "models"), seed=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("PREDICTIONS="))
    elsewhere = np.array(json.loads(line.removeprefix("PREDICTIONS=")))
    assert np.array_equal(elsewhere, determinism_fit("keras_ordinal", 0)[0])


def test_keras_ordinal_trains_to_convergence() -> None:
    frame, _ = shop_rows(800, seed=13, n_sizes=6, noise=0.6)
    model = fitted("keras_ordinal", frame, frame.attrs["labels"], 6)
    assert model.optimisation_.converged, model.optimisation_.message
    assert model.epochs_ == model.optimisation_.evaluations > 1


@pytest.fixture(scope="module", params=["keras_ordinal", "keras_mlp"])
def ordinal(request: pytest.FixtureRequest) -> tuple[SizeModelBase, pd.DataFrame]:
    frame, _ = shop_rows(800, seed=13, n_sizes=6, noise=0.6)
    return fitted(request.param, frame, frame.attrs["labels"], 6), frame


def test_coral_probabilities_are_rank_consistent(ordinal: tuple[SizeModelBase, pd.DataFrame]) -> None:
    model, frame = ordinal
    above = model.cumulative_proba(frame)
    assert above.shape == (len(frame), 5)
    assert (np.diff(above, axis=1) <= 1e-12).all()
    assert np.array_equal(model.predict(frame), (above > 0.5).sum(axis=1))


def test_numpy_forward_pass_matches_the_keras_network(ordinal: tuple[SizeModelBase, pd.DataFrame]) -> None:
    import keras

    model, frame = ordinal
    rows = model.encoder_.transform(frame)
    graph = keras.ops.convert_to_numpy(model.network_({"numeric": rows.numeric, "category": rows.category}))
    if hasattr(model, "logits"):
        np.testing.assert_allclose(model.logits(frame), graph, atol=1e-4)
    else:  # the GLM's forward pass sorts its thresholds: compare the probabilities
        above = 1 / (1 + np.exp(-np.sort(graph, axis=1)[:, ::-1]))
        np.testing.assert_allclose(model.cumulative_proba(frame), above, atol=1e-5)


def test_more_knots_bend_the_curve_without_losing_the_scale() -> None:
    frame, truth = shop_rows(800, seed=17, n_sizes=6, noise=0.3)
    model = make_model("keras_ordinal", n_sizes=6, knots=3, category_slopes=True).fit(frame, frame.attrs["labels"])
    assert model.network_.get_layer("body_basis").knots and np.mean(model.predict(frame) == truth) > 0.6
    assert model.network_.get_layer("category_effects").get_weights()[0].shape[1] == 1 + 4  # offset + 4 body slopes
    with pytest.raises(ParamsError, match="knots: expected an integer from 0 to 20"):
        make_model("keras_ordinal", n_sizes=6, knots=-1).fit(frame, frame.attrs["labels"])


def test_epoch_policy_gives_tiny_fractions_a_minimum_of_steps() -> None:
    from toolkit.models.keras_models import epochs_for

    policy = {"epochs": 8, "batch_size": 512, "min_steps": 400, "max_epochs": 200}
    assert epochs_for(1_000_000, **policy) == 8  # a big shop: the stated epochs
    assert epochs_for(10_000, **policy) == 20  # 20 steps per epoch -> ceil(400 / 20)
    assert epochs_for(100, **policy) == 200  # one step per epoch, capped by max_epochs
    frame, _ = shop_rows(100)
    model = make_model("keras_mlp", n_sizes=5, epochs=2, min_steps=10, batch_size=50)
    assert model.fit(frame, frame.attrs["labels"]).epochs_ == 5


def test_softmax_median_decision_is_ordinal() -> None:
    frame, _ = shop_rows(300, seed=14)
    model = make_model("keras_softmax", n_sizes=5, decision="median", **FAST["keras_softmax"])
    model.fit(frame, frame.attrs["labels"])
    proba = model.predict_proba(frame)
    median = (np.cumsum(proba, axis=1) < 0.5).sum(axis=1)
    assert np.array_equal(model.predict(frame), np.minimum(median, 4))


# -- the scikit-learn models and the baseline ---------------------------------------------------
def test_logreg_cumulative_probabilities_are_rank_consistent() -> None:
    frame, _ = shop_rows(400, seed=15, n_sizes=6, noise=0.7)
    model = fitted("logreg", frame, frame.attrs["labels"], 6)
    above = model.cumulative_proba(frame)
    assert (np.diff(above, axis=1) <= 0).all()
    assert np.array_equal(model.predict(frame), (above > 0.5).sum(axis=1))


def test_hgb_keeps_many_numeric_sizes_ordered() -> None:
    frame, truth = shop_rows(800, seed=16, n_sizes=30, noise=0.5)
    model = fitted("hgb", frame, frame.attrs["labels"], 30)
    assert np.mean(np.abs(model.predict(frame) - truth) <= 1) > 0.9


def test_most_popular_is_the_mode_per_category_with_a_global_fallback() -> None:
    frame = pd.DataFrame({"category": ["tops"] * 3 + ["bottoms"] * 4})
    y = np.array([1, 1, 2, 3, 3, 3, 0])
    model = make_model("most_popular", n_sizes=4).fit(frame, y)
    asked = pd.DataFrame({"category": ["tops", "bottoms", "hats"]})
    assert model.predict(asked).tolist() == [1, 3, 3]
