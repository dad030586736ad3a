"""A trained Keras size model as a TensorFlow SavedModel that TF Serving answers raw widget fields with.

The ``serving_default`` signature takes one value per shopper of

* ``height_cm``, ``weight_kg``, ``age`` — float32; NaN (or ±inf) for a field the shopper skipped;
* ``gender`` — string: ``female``, ``male``, anything else counts as ``unknown``;
* ``category`` — string: the garment's category; one the shop's training rows did not have gets
  index 0, as in the toolkit;
* ``fit_preference`` — string ``tight`` / ``regular`` / ``loose`` (anything else: none stated), an
  input **only when the shop's training rows stated fit preferences**; otherwise every shopper
  counts as stating none (the value 0 every training row had);
* ``chest_cm``, ``waist_cm``, ``hip_cm`` — float32, inputs only for those the shop's training rows
  carried (the model uses them); NaN when missing;

and returns ``size`` (the label on the shop's scale, string), ``size_index`` (int64, 0 = smallest)
and ``probabilities`` (float32, one column per size). Everything the toolkit does between the fields
and the network is inside the graph: BMI from height and weight, missing numbers → the training
medians (BMI from the raw fields first, then filled, exactly as :class:`FeatureEncoder`), gender
one-hot, fit preference as -1/0/+1, the category lookup, the network (its own normalisation
included), and the head's decision:

* cumulative logits (``keras_ordinal``, ``keras_mlp``, your own ordinal network): sorted, largest
  first (``keras_ordinal``'s free thresholds are sorted at prediction, as in the toolkit), the size
  is the number of thresholds passed (``logit > 0``), probabilities are differences of the sigmoids;
* softmax (``keras_softmax``, your own): the most probable size, or the median with
  ``decision="median"``.

Only models whose class declares a ``head`` (:attr:`SizeModelBase.head`) can be exported; any other
is an :class:`ExportError` saying so, checked before anything is trained (:func:`check_exportable`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ExportError
from toolkit.models.backend import native_stderr_silenced, tf
from toolkit.models.features import BASE_NUMERIC_FEATURES, FIT_PREFERENCE, FeatureEncoder
from toolkit.shops.schema import GENDERS

__all__ = ["SIGNATURE", "ServingModel", "check_exportable", "save_serving_model", "serving_inputs"]

#: The signature TF Serving answers by default.
SIGNATURE = "serving_default"
#: Widget fields every export takes.
NUMBER_FIELDS: tuple[str, ...] = ("height_cm", "weight_kg", "age")
TEXT_FIELDS: tuple[str, ...] = ("gender", "category")


def check_exportable(model_class: type, name: str) -> None:
    """ExportError unless ``model_class`` is a Keras model ``enough export`` can serve."""
    if getattr(model_class, "head", None) not in ("coral", "softmax"):
        raise ExportError(
            f"model {name!r}: enough export can only export Keras models (keras_ordinal, keras_mlp, "
            "keras_softmax, or a build function of your own); this one is not"
        )


def serving_inputs(encoder: FeatureEncoder | None) -> dict[str, str]:
    """The signature's inputs for a model fitted with ``encoder`` (None: a model that learned one
    size and encodes nothing): name → dtype name."""
    inputs = {name: "float32" for name in NUMBER_FIELDS}
    inputs.update({name: "string" for name in TEXT_FIELDS})
    if encoder is not None and encoder.fit_preference_stated_:
        inputs["fit_preference"] = "string"
    inputs.update({name: "float32" for name in (encoder.measurement_columns_ if encoder is not None else ())})
    return inputs


class ServingModel(tf.Module):
    """Raw widget fields → size label, index and probabilities, for one fitted Keras size model."""

    def __init__(self, model: Any, labels: tuple[str, ...] | list[str]) -> None:
        super().__init__(name="size_model")
        check_exportable(type(model), type(model).__name__)
        if len(labels) != model.n_sizes:
            raise ExportError(f"model {type(model).__name__!r}: {len(labels)} size labels; expected {model.n_sizes}")
        self.labels = tf.constant([str(label) for label in labels])
        self.n_sizes = int(model.n_sizes)
        self.head = type(model).head
        self.decision = getattr(model, "decision", "median")
        self.constant = model.constant_  # a model that learned one size has no network nor encoder
        encoder: FeatureEncoder | None = None if self.constant is not None else model.encoder_
        self.network = None if encoder is None else model.network_
        if encoder is not None:
            self._keep_encoding(encoder, type(model).__name__)
        self.signature_inputs = serving_inputs(encoder)
        spec = {name: tf.TensorSpec([None], getattr(tf, dtype), name=name) for name, dtype in self.signature_inputs.items()}
        self.serve = tf.function(self._answer, input_signature=[spec])

    def _keep_encoding(self, encoder: FeatureEncoder, name: str) -> None:
        """What the graph needs of the fitted encoder: medians, optional inputs, the category table."""
        expected = (*BASE_NUMERIC_FEATURES, *encoder.measurement_columns_, *(f"gender_{g}" for g in GENDERS), "fit_preference")
        if tuple(encoder.feature_names_) != expected:
            raise ExportError(f"model {name!r}: features {list(encoder.feature_names_)}; expected {list(expected)}")
        self.measurements = tuple(encoder.measurement_columns_)
        self.fit_preference_stated = bool(encoder.fit_preference_stated_)
        self.fill_values = tf.constant(np.asarray(encoder.fill_values_, np.float64))
        vocabulary = list(encoder.category_vocabulary_) or [""]
        codes = np.arange(1, len(vocabulary) + 1, dtype=np.int32) if encoder.category_vocabulary_ else np.zeros(1, np.int32)
        self.categories = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary), tf.constant(codes)), default_value=0
        )

    def _encoded(self, fields: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """The toolkit's feature encoding of raw fields: ``numeric`` (float32) and ``category`` (int32)."""
        height, weight, age = (tf.cast(fields[name], tf.float64) for name in NUMBER_FIELDS)
        height_m = height / 100.0
        bmi = weight / (height_m * height_m)
        measurements = [tf.cast(fields[name], tf.float64) for name in self.measurements]
        raw = tf.stack([height, weight, age, bmi, *measurements], axis=1)
        raw = tf.where(tf.math.is_finite(raw), raw, self.fill_values[None, :])
        gender = fields["gender"]
        female = tf.cast(tf.equal(gender, "female"), tf.float64)
        male = tf.cast(tf.equal(gender, "male"), tf.float64)
        preference = tf.zeros_like(height)
        if self.fit_preference_stated:
            for label, value in FIT_PREFERENCE.items():
                preference += value * tf.cast(tf.equal(fields["fit_preference"], label), tf.float64)
        numeric = tf.concat([raw, tf.stack([female, male, 1.0 - female - male, preference], axis=1)], axis=1)
        return tf.cast(numeric, tf.float32), self.categories.lookup(fields["category"])

    def _answer(self, fields: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        if self.network is None:
            index = tf.fill(tf.shape(fields["height_cm"]), tf.constant(self.constant, tf.int64))
            return {"size": tf.gather(self.labels, index), "size_index": index,
                    "probabilities": tf.one_hot(index, self.n_sizes, dtype=tf.float32)}
        numeric, category = self._encoded(fields)
        rows = tf.shape(numeric)[0]
        logits = self.network({"numeric": numeric, "category": category}, training=False)
        if self.head == "coral":
            above = tf.sigmoid(tf.sort(logits, axis=-1, direction="DESCENDING"))
            ones, zeros = tf.ones([rows, 1], above.dtype), tf.zeros([rows, 1], above.dtype)
            probabilities = tf.concat([ones, above], axis=1) - tf.concat([above, zeros], axis=1)
            index = tf.reduce_sum(tf.cast(logits > 0.0, tf.int64), axis=-1)
        else:
            probabilities = tf.nn.softmax(logits, axis=-1)
            if self.decision == "median":
                index = tf.reduce_sum(tf.cast(tf.cumsum(probabilities, axis=-1) < 0.5, tf.int64), axis=-1)
            else:
                index = tf.argmax(logits, axis=-1, output_type=tf.int64)
        return {
            "size": tf.gather(self.labels, index),
            "size_index": index,
            "probabilities": tf.cast(probabilities, tf.float32),
        }


def save_serving_model(model: Any, labels: tuple[str, ...] | list[str], path: str | Path) -> dict[str, str]:
    """Write ``model`` as a SavedModel at ``path`` (``serving_default``); returns its inputs (name → dtype)."""
    serving = ServingModel(model, labels)
    with native_stderr_silenced():
        tf.saved_model.save(serving, str(path), signatures={SIGNATURE: serving.serve.get_concrete_function()})
    return dict(serving.signature_inputs)
