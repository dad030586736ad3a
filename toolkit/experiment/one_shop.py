"""One shop's experiment: fractions × seeds, metered, compared with the full-data model, picked.

The notebook ``notebooks/fraction_sweep.ipynb`` is a thin sequence of calls into this module:

    shop = load_shop(data_path, ...)                        # validate, quarantine
    config = ExperimentConfig(fractions=..., seeds=..., ...)
    split = split_for(shop, config)                         # reference population + holdout
    result = run_experiment(shop, split, config)            # train, meter, compare
    pick = pick_for(result, config)                         # the smallest sufficient fraction
    write_results(output_dir, shop, split, result, pick, config)

``run_experiment_on_file`` does all of it in one call (tests, benchmarks, a script).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from toolkit.experiment import compare
from toolkit.errors import ExperimentError, ParamsError
from toolkit.models.features import training_labels
from toolkit.experiment.metering import fit_metered
from toolkit.models import make_model
from toolkit.experiment.pricing import Pricing, TimeCurve
from toolkit.results import (
    PICK_FILE,
    RUNS_FILE,
    SEGMENTS_FILE,
    clear_results,
    prepare_output_dir,
    seal_results,
    shop_folder_name,
    write_atomically,
    write_json,
    write_parquet,
)
from toolkit.experiment.sampling import sample_rows
from toolkit.shops.schema import SizeScale
from toolkit.experiment.decision import Pick, pick_smallest_sufficient
from toolkit.experiment.splits import Split, split_shop
from toolkit.shops.validate import ShopData, load_shop

__all__ = [
    "DEFAULT_FRACTIONS",
    "ExperimentConfig",
    "ExperimentResult",
    "pick_for",
    "run_experiment",
    "run_experiment_on_file",
    "split_for",
    "write_results",
]

#: 1/64 … 1/2 and the full data.
DEFAULT_FRACTIONS: tuple[float, ...] = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


def _setting(default: Any, help: str) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class ExperimentConfig:
    """The experiment's settings; each carries its help text (``ExperimentConfig.help()``)."""

    fractions: list[float] = _setting(list(DEFAULT_FRACTIONS), "shares of the training pool to train on; 1.0 is always added")
    seeds: list[int] = _setting([0, 1], "training seeds; the first seed's full-data model is the reference, the others give the noise floor")
    model: str = _setting("keras_ordinal", "model name from the registry (toolkit.models.available_models())")
    model_params: dict[str, Any] = _setting({}, "extra parameters for the model (e.g. epochs, batch_size)")
    sampling: str = _setting("random", "sampling strategy: random (nested), recent, balanced")
    tolerance: float = _setting(0.01, "allowed changed-recommendation rate above the noise floor (0.01 = 1 point)")
    confidence: float = _setting(0.95, "confidence of the drift intervals")
    segment_tolerance: float = _setting(0.03, "allowed changed rate above the noise floor within a segment")
    min_segment_size: int = _setting(200, "segments with fewer reference shoppers are not judged (and not reported)")
    max_monotonicity_violation: float = _setting(0.02, "allowed share of shoppers told a smaller size when 5 kg heavier")
    reference_size: int = _setting(20_000, "at most this many reference shoppers")
    reference_share: float = _setting(0.2, "share of shoppers in the reference population")
    holdout_share: float = _setting(0.1, "share of shoppers in the holdout")
    split_seed: int = _setting(12345, "seed of the reference/holdout split (fixed across training seeds)")
    min_train_rows: int = _setting(100, "fractions leaving fewer training rows are skipped and reported")
    machine: str = _setting("n2-standard-4", "machine type in params/pricing.yaml that trains the model")
    pricing_path: str | None = _setting(None, "pricing file (default: params/pricing.yaml)")

    def __post_init__(self) -> None:
        fractions = sorted({float(f) for f in self.fractions} | {1.0})
        if any(not 0 < f <= 1 for f in fractions):
            raise ParamsError(f"fractions: expected values in (0, 1], got {self.fractions}")
        self.fractions = fractions
        self.seeds = [int(s) for s in self.seeds]
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ParamsError(f"seeds: expected distinct integers (at least two for a noise floor), got {self.seeds}")
        self.model_params = dict(self.model_params or {})

    @classmethod
    def from_params(cls, **params: Any) -> ExperimentConfig:
        """Build from notebook or sweep parameters; unknown names are a ParamsError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ParamsError(f"experiment parameters: unknown {unknown}, expected some of {sorted(known)}")
        return cls(**{k: v for k, v in params.items() if v is not None})

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}


@dataclass
class ExperimentResult:
    """What the training loop produced: one row per fraction × seed, and per segment."""

    runs: pd.DataFrame
    segments: pd.DataFrame
    skipped: list[dict[str, Any]]
    time_curve: TimeCurve


def split_for(shop: ShopData, config: ExperimentConfig) -> Split:
    """The shop's reference population, holdout and training pool under ``config``."""
    return split_shop(
        shop.frame,
        reference_share=config.reference_share,
        reference_size=config.reference_size,
        holdout_share=config.holdout_share,
        split_seed=config.split_seed,
    )


def run_experiment(
    shop: ShopData, split: Split, config: ExperimentConfig, *, log: TextIO | None = sys.stdout
) -> ExperimentResult:
    """Train every fraction × seed, meter each fit, and compare with the full-data model."""
    scale: SizeScale = shop.scale
    n_sizes = len(scale)
    pricing = Pricing.load(config.pricing_path)
    pricing.machine(config.machine)  # an unknown machine fails before any training
    pool = split.train
    if len(pool) < config.min_train_rows:
        raise ExperimentError(
            f"shop {shop.shop_id}: {len(pool)} training rows after setting aside the reference "
            f"population and holdout, expected at least {config.min_train_rows}"
        )
    labels = training_labels(pool, scale)
    holdout_truth = training_labels(split.holdout, scale)
    reference = split.reference
    masks = list(compare.segments(reference))

    # One untimed fit first: the runtime's one-time start-up (TensorFlow's thread pools, kernels)
    # would otherwise be billed to the first full-data fit and inflate the saving.
    warm_up = slice(0, min(len(pool), 256))
    make_model(config.model, n_sizes=n_sizes, random_state=config.seeds[0], **config.model_params).fit(
        pool.iloc[warm_up], labels[warm_up]
    )

    full_predictions: dict[int, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    segment_rows: list[pd.DataFrame] = []
    skipped: list[dict[str, Any]] = []
    # The full-data models come first: every other model is compared with the first seed's.
    plan = [(1.0, seed) for seed in config.seeds] + [
        (fraction, seed) for fraction in config.fractions if fraction < 1.0 for seed in config.seeds
    ]
    for fraction, seed in plan:
        positions = sample_rows(pool, fraction, strategy=config.sampling, seed=seed)
        if len(positions) < config.min_train_rows:
            if seed == config.seeds[0]:
                skipped.append({"fraction": fraction, "reason": f"{len(positions)} training rows, fewer than {config.min_train_rows}"})
                _say(log, f"fraction {fraction:.4g}: skipped, only {len(positions)} training rows")
            continue
        subset = pool.iloc[positions]
        model = make_model(config.model, n_sizes=n_sizes, random_state=seed, **config.model_params)
        record = fit_metered(model, subset, labels[positions])
        started = time.perf_counter()
        predicted = np.asarray(model.predict(reference), dtype=np.int64)
        predict_seconds = time.perf_counter() - started
        if fraction == 1.0:
            full_predictions[seed] = predicted
        reference_run = fraction == 1.0 and seed == config.seeds[0]
        baseline = make_model("most_popular", n_sizes=n_sizes, random_state=seed).fit(subset, labels[positions])
        metrics, segment_table = _evaluate(
            model, baseline, predicted, full_predictions[config.seeds[0]], split, holdout_truth, masks,
            n_sizes, config.confidence,
        )
        rows.append(
            {
                "shop_id": shop.shop_id,
                "fraction": fraction,
                "seed": seed,
                "reference_run": reference_run,
                "train_rows": record.train_rows,
                "epochs": record.epochs,
                "train_seconds": record.train_seconds,
                "cpu_seconds": record.cpu_seconds,
                "peak_rss_mb": record.peak_rss_mb,
                "predict_seconds": predict_seconds,
                # every prediction and comparison of this model: reference, holdout, +5 kg, segments
                "evaluate_seconds": time.perf_counter() - started,
                "cost_usd_per_training": pricing.cost_usd_per_training(record.train_seconds, config.machine),
                "cost_usd_per_month": pricing.cost_usd_per_month(record.train_seconds, config.machine),
                **metrics,
                "model": config.model,
                "sampling": config.sampling,
                "machine": config.machine,
            }
        )
        segment_rows.append(segment_table.assign(fraction=fraction, seed=seed, reference_run=reference_run))
        _say(
            log,
            f"fraction {fraction:.4g} seed {seed}: {record.train_rows:,} rows, {record.epochs} epochs, "
            f"{record.train_seconds:.2f} s; changed {metrics['changed_rate']:.2%} "
            f"({metrics['changed_rate_ci_low']:.2%}–{metrics['changed_rate_ci_high']:.2%}); "
            f"holdout exact {metrics['holdout_exact_accuracy']:.1%}",
        )

    runs = pd.DataFrame(rows)
    segments_table = pd.concat(segment_rows, ignore_index=True).assign(shop_id=shop.shop_id)
    _add_noise_floor(runs, segments_table, config.seeds)
    curve = TimeCurve.fit(runs["train_rows"].to_numpy(float), runs["train_seconds"].to_numpy(float))
    column_order = ["shop_id", "fraction", "seed", "segment_kind", "segment"]
    segments_table = segments_table[column_order + [c for c in segments_table if c not in column_order]]
    return ExperimentResult(runs=runs, segments=segments_table, skipped=skipped, time_curve=curve)


def _evaluate(
    model: Any,
    baseline: Any,
    predicted: np.ndarray,
    reference_full: np.ndarray,
    split: Split,
    holdout_truth: np.ndarray,
    masks: list[tuple[str, str, np.ndarray]],
    n_sizes: int,
    confidence: float,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One model against the full-data reference: drift, accuracy, sanity checks, segments."""
    exact, within1 = compare.holdout_accuracy(model.predict(split.holdout), holdout_truth)
    base_exact, base_within1 = compare.holdout_accuracy(baseline.predict(split.holdout), holdout_truth)
    metrics = {
        **compare.drift(reference_full, predicted, n_sizes, confidence),
        "holdout_exact_accuracy": exact,
        "holdout_within1_accuracy": within1,
        "baseline_exact_accuracy": base_exact,
        "baseline_within1_accuracy": base_within1,
        "monotonicity_violation_rate": compare.monotonicity_violation_rate(
            model.predict, split.reference, baseline=predicted
        ),
        **compare.recommendation_spread(predicted, n_sizes),
    }
    segments = compare.segment_drift(split.reference, reference_full, predicted, confidence, masks)
    return metrics, segments


def _add_noise_floor(runs: pd.DataFrame, segments: pd.DataFrame, seeds: Sequence[int]) -> None:
    """The noise floor: mean changed rate of the other seeds' full-data models against the first's."""
    others = (runs["fraction"] == 1.0) & (runs["seed"] != seeds[0])
    runs["noise_floor"] = float(runs.loc[others, "changed_rate"].mean()) if others.any() else 0.0
    others = (segments["fraction"] == 1.0) & (segments["seed"] != seeds[0])
    floor = segments[others].groupby(["segment_kind", "segment"])["changed_rate"].mean().rename("noise_floor")
    merged = segments.join(floor, on=["segment_kind", "segment"])
    segments["noise_floor"] = merged["noise_floor"].fillna(0.0).to_numpy()


def pick_for(result: ExperimentResult, config: ExperimentConfig) -> Pick:
    """The smallest sufficient fraction under the config's tolerance and confidence."""
    return pick_smallest_sufficient(
        result.runs,
        result.segments,
        tolerance=config.tolerance,
        confidence=config.confidence,
        segment_tolerance=config.segment_tolerance,
        min_segment_size=config.min_segment_size,
        max_monotonicity_violation=config.max_monotonicity_violation,
    )


def write_results(
    output_dir: str | Path,
    shop: ShopData,
    split: Split,
    result: ExperimentResult,
    pick: Pick,
    config: ExperimentConfig,
) -> Path:
    """Write the results contract under ``output_dir/<shop folder>/``; pick.json last. Returns the folder.

    The folder is :func:`~toolkit.results.shop_folder_name` of the shop id: whatever the client's
    shop id holds, nothing is written outside ``output_dir``.
    """
    folder = Path(output_dir) / shop_folder_name(shop.shop_id)
    prepare_output_dir(folder, what="results folder")
    clear_results(folder)
    write_parquet(shop.quarantine, folder / "quarantine.parquet")
    write_parquet(result.runs, folder / RUNS_FILE)
    # Segments too small to judge are not stored: reports show aggregates only.
    write_parquet(result.segments[result.segments["n"] >= config.min_segment_size], folder / SEGMENTS_FILE)
    document = pick_document(shop, split, result, pick, config)
    _save_chart(result.runs, document, folder / "drift_cost.png")
    write_json(document, folder / PICK_FILE)
    seal_results(folder)
    return folder


def pick_document(
    shop: ShopData, split: Split, result: ExperimentResult, pick: Pick, config: ExperimentConfig
) -> dict[str, Any]:
    """pick.json: the pick, the assumptions behind the money, and the data's bookkeeping."""
    pricing = Pricing.load(config.pricing_path)
    machine = pricing.machine(config.machine)
    return {
        **pick.to_dict(),
        "skipped_fractions": result.skipped,
        "model": config.model,
        "model_params": config.model_params,
        "sampling": config.sampling,
        "seeds": config.seeds,
        "machine": config.machine,
        "price_usd_per_hour": machine.usd_per_hour,
        "price_source": machine.source,
        "price_date": str(machine.date),
        "billing": pricing.billing_description,
        "cadence": pricing.cadence,
        "trainings_per_month": pricing.trainings_per_month,
        "time_curve": asdict(result.time_curve),
        "rows_read": shop.rows_read,
        "rows_clean": len(shop.frame),
        "rows_quarantined": shop.rows_quarantined,
        "quarantine_reasons": shop.reasons,
        "n_reference": len(split.reference),
        "n_holdout": len(split.holdout),
        "n_train_pool": len(split.train),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _save_chart(runs: pd.DataFrame, document: dict[str, Any], path: Path) -> None:
    # A plain Figure renders to PNG without pyplot, so the notebook's own backend is left alone.
    from toolkit.report.charts import shop_chart

    figure = shop_chart(runs, document)
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=120, bbox_inches="tight"))


def run_experiment_on_file(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    shop_id: str | None = None,
    column_map: str | Path | None = None,
    log: TextIO | None = sys.stdout,
    **params: Any,
) -> tuple[Path, Pick]:
    """The whole experiment for one shop file, as the notebook runs it."""
    config = ExperimentConfig.from_params(**params)
    shop = load_shop(data_path, shop_id=shop_id, column_map=column_map)
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=log)
    pick = pick_for(result, config)
    return write_results(output_dir, shop, split, result, pick, config), pick


def _say(log: TextIO | None, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)
