"""Export a judged model for TF Serving (``enough export RESULTS_DIR/SHOP --out DIR``).

The exported model is one the experiment judged, not a new one: :func:`export_model` reads the
shop's results (pick.json: the settings, the data file and its SHA-256; runs.parquet: the run),
loads the same file (refused when its bytes changed), rebuilds the same split and the same subset
(``sample_rows`` with the experiment's sampling and the run's seed), retrains the model with that
seed, and checks it: its recommendations for the reference population must differ from the
reference consensus (the full-data models retrained the same way; one model for a seed-independent
model, the exported one itself when it is a full-data model) for exactly the ``changed_count``
stored for that run. Only then is anything written.

Layout (TF Serving's): ``DIR/<shop_id>/<version>/`` holds the SavedModel (``saved_model.pb``,
``variables/``, ``assets/``) and ``enough.json`` (:data:`EXPORT_FILE`: the toolkit and TensorFlow
versions, the shop's data file and hash, the model and its settings, fraction, seed, the check,
the signature). Versions are 1, 2, …: each export takes the next, so TF Serving, which serves the
highest, picks it up. A version folder is written under a hidden name and renamed into place: TF
Serving never sees half of one. :mod:`toolkit.models.serving` builds the graph.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from toolkit.errors import DataError, ExperimentError, ParamsError
from toolkit.experiment import compare
from toolkit.experiment.config import ExperimentConfig
from toolkit.experiment.decision import fraction_label
from toolkit.experiment.one_shop import size_distributions, split_for, training_rows
from toolkit.experiment.sampling import sample_rows
from toolkit.models import make_model, model_class
from toolkit.models.features import BASE_NUMERIC_FEATURES, training_labels
from toolkit.resources import toolkit_version
from toolkit.results import PICK_FILE, RUNS_FILE, ShopResults, read_shop_results, shop_folder_name, write_json
from toolkit.shops.validate import ShopData, load_shop

__all__ = ["EXPORT_FILE", "ExportedModel", "export_model"]

#: The provenance file beside each exported SavedModel.
EXPORT_FILE = "enough.json"


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_model` wrote, and the retrained model (the toolkit's answers)."""

    folder: Path
    shop_id: str
    version: int
    fraction: float
    seed: int
    train_rows: int
    n_reference: int
    changed_count: int
    inputs: dict[str, str]
    model: Any


def export_model(
    results_folder: str | Path,
    out_dir: str | Path,
    *,
    fraction: float | str = "picked",
    seed: int | None = None,
    log: TextIO | None = sys.stdout,
) -> ExportedModel:
    """Retrain the judged model of ``results_folder`` (a shop's results) at ``fraction`` (``"picked"``:
    the pick) with ``seed`` (None: the experiment's first), check it, write it under ``out_dir``."""
    stored = read_shop_results(results_folder)
    config = ExperimentConfig.from_params(**stored.pick.get("settings", {}), **stored.pick.get("rule", {}))
    from toolkit.models.serving import check_exportable, save_serving_model

    check_exportable(model_class(config.model), config.model)  # before anything is loaded or trained
    run = _judged_run(stored, fraction, config.seeds[0] if seed is None else int(seed))
    chosen, seed = float(run["fraction"]), int(run["seed"])
    shop = _same_shop(stored)
    split = split_for(shop, config)
    pool, n_sizes = split.train, len(shop.scale)
    if np.isclose(chosen, 1.0):
        positions = np.arange(len(pool))
    else:
        positions = sample_rows(pool, chosen, strategy=config.sampling, seed=seed)
    if len(positions) != int(run["train_rows"]):
        raise ExperimentError(
            f"shop {shop.shop_id}: {len(positions)} training rows at fraction {fraction_label(chosen)}, seed {seed}; "
            f"expected the {int(run['train_rows'])} of {stored.folder / RUNS_FILE}"
        )
    labels = training_labels(pool, shop.scale)

    def trained(rows: np.ndarray, random_state: int) -> Any:
        _say(log, f"training {config.model} on {len(rows):,} rows, seed {random_state}")
        return make_model(config.model, n_sizes=n_sizes, random_state=random_state, **config.model_params).fit(
            training_rows(pool, rows), labels[rows]
        )

    model = trained(positions, seed)
    changed = _changed_count(model, trained, split.reference, config, chosen, seed, len(pool), n_sizes)
    expected, n_reference = int(run["changed_count"]), int(run["n_reference"])
    if changed != expected or len(split.reference) != n_reference:
        raise ExperimentError(
            f"shop {shop.shop_id}: the retrained model (fraction {fraction_label(chosen)}, seed {seed}) tells "
            f"{changed} of {len(split.reference)} reference shoppers another size than the reference consensus; "
            f"expected {expected} of {n_reference} as in {stored.folder / RUNS_FILE}: it is not the model the "
            "experiment judged (another toolkit, TensorFlow or model version?), so nothing was exported"
        )
    base = Path(out_dir) / shop_folder_name(shop.shop_id)  # any shop id stays inside --out
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=base))
    try:
        inputs = save_serving_model(model, shop.scale.labels, staging)
        provenance = _provenance(stored, shop, config, model, run, inputs, changed)
        write_json(provenance, staging / EXPORT_FILE)
        version = _publish(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportedModel(base / str(version), shop.shop_id, version, chosen, seed, len(positions), n_reference, changed, inputs, model)


def _judged_run(stored: ShopResults, fraction: float | str, seed: int) -> pd.Series:
    """The runs.parquet row of the model at ``fraction`` (``"picked"``: the pick's) and ``seed``."""
    if fraction == "picked":
        fraction = float(stored.pick["picked_fraction"])
    runs = stored.runs
    match = runs[np.isclose(runs["fraction"].to_numpy(float), float(fraction)) & (runs["seed"] == seed)]
    if match.empty:
        trained = "; ".join(
            f"{fraction_label(f)}: seeds {sorted(int(s) for s in group['seed'])}"
            for f, group in runs.groupby("fraction", sort=True)
        )
        raise ParamsError(
            f"{stored.folder / RUNS_FILE}: no model trained at fraction {fraction_label(float(fraction))} with seed {seed}; "
            f"expected a fraction and seed the experiment trained ({trained})"
        )
    return match.iloc[0]


def _same_shop(stored: ShopResults) -> ShopData:
    """The shop loaded as the experiment loaded it; DataError when its file is gone or changed."""
    data = stored.pick.get("data")
    if not data:
        raise DataError(
            f"{stored.folder / PICK_FILE}: no 'data' (the shop's file and its hash); expected results written "
            "by an experiment that loaded the shop from a file (rerun it with this toolkit)"
        )
    path = Path(data["path"])
    if not path.is_file():
        raise DataError(f"{path}: not found; expected the shop's data file the experiment read (pick.json 'data.path')")
    shop = load_shop(path, shop_id=stored.shop_id, column_map=data.get("column_map"))
    if shop.source is None or shop.source.sha256 != data.get("sha256"):
        raise DataError(
            f"{path}: changed since the experiment (SHA-256 {shop.source.sha256[:12] if shop.source else '?'}…, "
            f"pick.json 'data.sha256' {str(data.get('sha256'))[:12]}…); expected the file the experiment read"
        )
    return shop


def _changed_count(
    model: Any, trained: Any, reference: pd.DataFrame, config: ExperimentConfig,
    fraction: float, seed: int, pool_rows: int, n_sizes: int,
) -> int:
    """How many reference shoppers ``model`` tells another size than the reference consensus (as the
    experiment computed it for runs.parquet)."""
    seeds = config.seeds[:1] if getattr(model, "seed_independent", False) else config.seeds
    everything = np.arange(pool_rows)
    full = [model if np.isclose(fraction, 1.0) and s == seed else trained(everything, s) for s in seeds]
    consensus = compare.consensus_sizes([size_distributions(m, reference, n_sizes) for m in full])
    # The model's own sizes as the experiment judged them: the median of its size distribution
    # (for keras_softmax with decision "argmax" that is not what its predict() says).
    own = compare.consensus_sizes([size_distributions(model, reference, n_sizes)])
    return int(compare.drift(consensus, own, n_sizes)["changed_count"])


def _provenance(
    stored: ShopResults, shop: ShopData, config: ExperimentConfig, model: Any,
    run: pd.Series, inputs: dict[str, str], changed: int,
) -> dict[str, Any]:
    """enough.json: which toolkit, data and run produced the exported model, and how to call it."""
    from toolkit.models.backend import keras, tf

    encoder = getattr(model, "encoder_", None)  # None: the model learned one size
    measurements = encoder.measurement_columns_ if encoder is not None else ()
    filled = (*BASE_NUMERIC_FEATURES, *measurements)
    fill_values = encoder.fill_values_ if encoder is not None else [float("nan")] * len(filled)
    return {
        "shop_id": shop.shop_id,
        "toolkit_version": toolkit_version(),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {**stored.pick["data"], "rows_clean": len(shop.frame)},
        "results": str(stored.folder.resolve()),
        "verdict": stored.pick.get("verdict"),
        "picked_fraction": stored.pick.get("picked_fraction"),
        "model": config.model,
        "model_params": config.model_params,
        "sampling": config.sampling,
        "split_seed": config.split_seed,
        "fraction": float(run["fraction"]),
        "seed": int(run["seed"]),
        "role": str(run["role"]),
        "train_rows": int(run["train_rows"]),
        "check": {
            "what": "the retrained model's sizes for the reference population against the reference consensus",
            "n_reference": int(run["n_reference"]),
            "changed_count": changed,
            "changed_count_in_runs": int(run["changed_count"]),
            "matches": changed == int(run["changed_count"]),
        },
        "signature": {
            "name": "serving_default",
            "inputs": inputs,
            "outputs": {"size": "string", "size_index": "int64", "probabilities": f"float32, {len(shop.scale)} columns"},
        },
        "sizes": list(shop.scale.labels),
        "missing_numbers": {name: float(v) for name, v in zip(filled, fill_values, strict=True)},
        "fit_preference": (
            "an input (tight / regular / loose; anything else: none stated)"
            if "fit_preference" in inputs
            else "not an input: the training rows stated none, so every shopper counts as stating none"
        ),
        "categories": list(encoder.category_vocabulary_) if encoder is not None else [],
    }


def _publish(staging: Path, base: Path) -> int:
    """Rename the staged version folder to the next free version number; returns it."""
    for _ in range(1000):
        taken = [int(child.name) for child in base.iterdir() if child.is_dir() and child.name.isdigit()]
        version = max(taken, default=0) + 1
        try:
            staging.rename(base / str(version))
        except OSError:  # another export took that number meanwhile
            continue
        return version
    raise ExperimentError(f"{base}: no free version number to export to")


def _say(log: TextIO | None, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)
