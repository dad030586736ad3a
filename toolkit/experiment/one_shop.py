"""One shop's experiment: fractions × seeds, metered, judged against the full data, picked.

The notebook ``notebooks/fraction_sweep.ipynb`` is a thin sequence of calls into this module:

    shop = load_shop(data_path, ...)                        # validate, quarantine
    config = ExperimentConfig.from_namespace(globals())     # every setting, checked before training
    split = split_for(shop, config)                         # reference population + holdout
    result = run_experiment(shop, split, config)            # train, meter, judge
    pick = pick_for(result, config)                         # the verdict
    write_results(output_dir, shop, split, result, pick, config)

``run_experiment_on_file`` does all of it in one call (tests, benchmarks, a script).

The order of training (``search: descending``, the default): the full data — K models for the
reference consensus and K for the noise floor — then each fraction from the largest down, one model
per seed on that seed's subset of the training pool, judged as soon as it is trained; the first
fraction that fails ends the search, and smaller fractions are not trained (``untested_fractions``).
A model whose training does not depend on the seed (``seed_independent``) trains the full data once:
its other seeds would give the same model, and its noise floor is zero. ``search: grid`` trains every
fraction. :mod:`toolkit.experiment.drift_test` turns the predictions into the evidence.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from toolkit.errors import ExperimentError
from toolkit.experiment import compare
from toolkit.experiment.config import ExperimentConfig
from toolkit.experiment.decision import Pick, fraction_label, judge, pick_smallest_sufficient
from toolkit.experiment.drift_test import FullData, Sizes, fraction_evidence, full_data_evidence
from toolkit.experiment import money
from toolkit.experiment.metering import fit_metered
from toolkit.experiment.pricing import Pricing, TimeCurve
from toolkit.experiment.sampling import sample_rows
from toolkit.experiment.splits import Split, split_shop
from toolkit.models import make_model
from toolkit.models.features import training_labels
from toolkit.results import (
    CHART_DPI,
    CHART_FILE,
    FRACTIONS_FILE,
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
from toolkit.shops.validate import ShopData, load_shop

__all__ = [
    "ExperimentResult",
    "pick_for",
    "run_experiment",
    "run_experiment_on_file",
    "size_distributions",
    "split_for",
    "training_rows",
    "write_results",
]

#: Extra weight (kg) of the monotonicity check: a heavier shopper never gets a smaller size.
HEAVIER_KG = 5.0

#: Models this process has fitted once untimed (their runtime's start-up is paid): see run_experiment.
_WARMED_UP: set[str] = set()


@dataclass
class ExperimentResult:
    """What the training loop produced (the tables of the results contract)."""

    runs: pd.DataFrame  # one row per trained model
    fractions: pd.DataFrame  # one row per fraction judged, the full data included
    segments: pd.DataFrame  # one row per fraction × segment
    time_curve: TimeCurve
    volume: money.Volume
    experiment_cost_usd: float
    skipped: list[dict[str, Any]] = field(default_factory=list)
    untested: list[float] = field(default_factory=list)
    seed_independent: bool = False

    @property
    def compute_full_trainings(self) -> float:
        """What the experiment's trainings cost, in units of one full-data training (seconds)."""
        return self._in_full_trainings("train_seconds")

    @property
    def compute_full_training_rows(self) -> float:
        """The same counted in training rows (every training weighted by its rows)."""
        return self._in_full_trainings("train_rows")

    def _in_full_trainings(self, column: str) -> float:
        full = self.runs.loc[self.runs["fraction"] == 1.0, column].mean()
        return float(self.runs[column].sum() / full) if full > 0 else float("nan")


def split_for(shop: ShopData, config: ExperimentConfig) -> Split:
    """The shop's reference population, holdout and training pool under ``config``."""
    return split_shop(
        shop.frame,
        reference_share=config.reference_share,
        reference_size=config.reference_size,
        holdout_share=config.holdout_share,
        split_seed=config.split_seed,
        holdout=config.holdout,
    )


class _Trainer:
    """Trains, meters and predicts one model at a time; collects the runs table."""

    def __init__(self, shop: ShopData, split: Split, config: ExperimentConfig, log: TextIO | None) -> None:
        self.shop, self.split, self.config, self.log = shop, split, config, log
        self.pricing = Pricing.load(config.pricing_path)
        self.pricing.machine(config.machine)  # an unknown machine fails before any training
        self.n_sizes = len(shop.scale)
        self.labels = training_labels(split.train, shop.scale)
        self.holdout_truth = training_labels(split.holdout, shop.scale)
        self.heavier = split.reference.assign(weight_kg=split.reference["weight_kg"] + HEAVIER_KG)
        self.rows: list[dict[str, Any]] = []
        self.own_sizes: list[Sizes] = []

    def train(self, fraction: float, seed: int, role: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Train one model; its size distributions on the reference population, on it heavier, on the
        holdout (its own sizes, their median, are kept for the runs table)."""
        config = self.config
        pool = self.split.train
        subset = training_rows(pool, positions)
        model = make_model(config.model, n_sizes=self.n_sizes, random_state=seed, **config.model_params)
        record = fit_metered(model, subset, self.labels[positions])
        started = time.perf_counter()
        reference = size_distributions(model, self.split.reference, self.n_sizes)
        predict_seconds = time.perf_counter() - started
        probabilities = (
            reference,
            size_distributions(model, self.heavier, self.n_sizes),
            size_distributions(model, self.split.holdout, self.n_sizes),
        )
        # The model's own recommendation is the median of its size distribution, as in every consensus.
        own = Sizes.consensus([probabilities])
        baseline = make_model("most_popular", n_sizes=self.n_sizes).fit(subset, self.labels[positions])
        exact, within1 = compare.holdout_accuracy(own.holdout, self.holdout_truth)
        base_exact, base_within1 = compare.holdout_accuracy(baseline.predict(self.split.holdout), self.holdout_truth)
        self.own_sizes.append(own)
        self.rows.append(
            {
                "shop_id": self.shop.shop_id,
                "fraction": fraction,
                "seed": seed,
                "role": role,
                "train_rows": record.train_rows,
                "epochs": record.epochs,
                "train_seconds": record.train_seconds,
                "cpu_seconds": record.cpu_seconds,
                "peak_rss_mb": record.peak_rss_mb,
                "predict_seconds": predict_seconds,
                "evaluate_seconds": time.perf_counter() - started,
                "cost_usd_per_training": self.pricing.cost_usd_per_training(record.train_seconds, config.machine),
                "cost_usd_per_month": self.pricing.cost_usd_per_month(record.train_seconds, config.machine),
                "holdout_exact_accuracy": exact,
                "holdout_within1_accuracy": within1,
                "baseline_exact_accuracy": base_exact,
                "baseline_within1_accuracy": base_within1,
                "monotonicity_violation_rate": float(np.mean(own.heavier < own.reference)) if len(own.reference) else 0.0,
                **compare.recommendation_spread(own.reference, self.n_sizes),
                "model": config.model,
                "sampling": config.sampling,
                "machine": config.machine,
            }
        )
        what = {"reference": "all the data (reference)", "floor": "all the data (noise floor)"}.get(role, fraction_label(fraction))
        _say(
            self.log,
            f"trained {what}, seed {seed}: {record.train_rows:,} rows, {record.epochs} passes, "
            f"{record.train_seconds:.2f} s; holdout exact {exact:.1%}",
        )
        return probabilities

    def runs(self, reference_sizes: np.ndarray) -> pd.DataFrame:
        """The runs table, each model's own recommendations compared with the reference consensus."""
        drifts = [
            compare.drift(reference_sizes, own.reference, self.n_sizes, self.config.rule.confidence) for own in self.own_sizes
        ]
        return pd.DataFrame([{**row, **figures} for row, figures in zip(self.rows, drifts, strict=True)])

    def costs(self, fraction: float, roles: Sequence[str]) -> dict[str, float]:
        """Mean training rows, seconds and money of the models of one fraction (and roles)."""
        chosen = [r for r in self.rows if r["fraction"] == fraction and r["role"] in roles]
        return {
            "train_rows": float(np.mean([r["train_rows"] for r in chosen])),
            "models": len(chosen),
            "train_seconds": float(np.mean([r["train_seconds"] for r in chosen])),
            "measured_cost_usd_per_training": float(np.mean([r["cost_usd_per_training"] for r in chosen])),
            "baseline_exact_accuracy": float(np.mean([r["baseline_exact_accuracy"] for r in chosen])),
        }


def run_experiment(
    shop: ShopData, split: Split, config: ExperimentConfig, *, log: TextIO | None = sys.stdout
) -> ExperimentResult:
    """Train the full data and the fractions (largest first), meter each fit, judge each fraction."""
    pool = split.train
    if len(pool) < config.min_train_rows:
        raise ExperimentError(
            f"shop {shop.shop_id}: {len(pool)} training rows after setting aside the reference "
            f"population and holdout, expected at least {config.min_train_rows}"
        )
    trainer = _Trainer(shop, split, config, log)
    sizes_bought = np.unique(trainer.labels)
    if len(sizes_bought) < 2:
        only = shop.scale.labels[int(sizes_bought[0])] if len(sizes_bought) else "none"
        raise ExperimentError(
            f"shop {shop.shop_id}: every training row teaches the same size ({only}); expected at least two "
            "sizes to recommend between — there is nothing for less data to change"
        )
    probe = make_model(config.model, n_sizes=trainer.n_sizes, random_state=config.seeds[0], **config.model_params)
    seed_independent = bool(getattr(probe, "seed_independent", False))
    seeds = config.seeds
    reference_seeds = seeds[:1] if seed_independent else seeds
    floor_seeds = [] if seed_independent else config.floor_seeds
    if seed_independent:
        _say(log, f"{config.model} does not depend on the seed: one full-data model, noise floor zero by construction")

    # One untimed fit first: the runtime's one-time start-up (TensorFlow's thread pools, kernels)
    # would otherwise be billed to the first full-data fit and inflate the saving. Once per model
    # and process: a warm kernel running shop after shop has started it already.
    if config.model not in _WARMED_UP:
        warm_up = np.arange(min(len(pool), 256))
        probe.fit(pool.iloc[warm_up], trainer.labels[warm_up])
        _WARMED_UP.add(config.model)

    masks = list(compare.segments(split.reference))
    everything = np.arange(len(pool))
    reference = [trainer.train(1.0, seed, "reference", everything) for seed in reference_seeds]
    floor = []
    for seed in floor_seeds:
        trainer.train(1.0, seed, "floor", everything)
        floor.append(trainer.own_sizes[-1])
    full = FullData(Sizes.consensus(reference), tuple(floor))
    del reference
    row, segment_table = full_data_evidence(full, trainer.holdout_truth, masks, trainer.n_sizes)
    fraction_rows = [{"fraction": 1.0, **trainer.costs(1.0, ("reference",)), **row}]
    segment_tables = [segment_table.assign(fraction=1.0)]
    _say(log, f"noise floor: retraining on all the data tells {row['noise_floor']:.2%} of shoppers another size")

    smaller = sorted((f for f in config.fractions if f < 1.0), reverse=True)
    skipped: list[dict[str, Any]] = []
    untested: list[float] = []
    descending = config.search == "descending"
    if descending and row["noise_floor"] > config.rule.max_noise_floor:
        untested = smaller
        smaller = []
        _say(log, f"noise floor above {config.rule.max_noise_floor:.0%}: no fraction can be judged; none is trained")
    for position, fraction in enumerate(smaller):
        subsets = [sample_rows(pool, fraction, strategy=config.sampling, seed=seed) for seed in seeds]
        if min(len(rows) for rows in subsets) < config.min_train_rows:
            rows = min(len(rows) for rows in subsets)
            skipped.append({"fraction": fraction, "reason": f"{rows} training rows, fewer than {config.min_train_rows}"})
            _say(log, f"fraction {fraction_label(fraction)}: skipped, only {rows} training rows")
            continue
        models = []
        for seed, rows in zip(seeds, subsets, strict=True):
            trainer.train(fraction, seed, "fraction", rows)
            models.append(trainer.own_sizes[-1])
        row, segment_table = fraction_evidence(models, full, trainer.holdout_truth, masks, trainer.n_sizes)
        fraction_rows.append({"fraction": fraction, **trainer.costs(fraction, ("fraction",)), **row})
        segment_tables.append(segment_table.assign(fraction=fraction))
        verdict = judge(pd.DataFrame(fraction_rows[-1:]), segment_tables[-1], config.rule)[0]
        _say(
            log,
            f"fraction {fraction_label(fraction)}: {row['changed_rate']:.2%} told another size "
            f"(floor {row['noise_floor']:.2%}, excess upper bound {verdict.excess_drift_upper:.2%}) -> "
            + ("qualifies" if verdict.qualifies else "fails: " + verdict.reasons[0]),
        )
        if descending and not verdict.qualifies:
            untested = smaller[position + 1 :]
            break

    runs = trainer.runs(full.reference.reference)
    curve = TimeCurve.fit(runs["train_rows"].to_numpy(float), runs["train_seconds"].to_numpy(float))
    volume = _volume(shop, config)
    fractions = pd.DataFrame(fraction_rows).sort_values("fraction", ignore_index=True)
    costs = money.fraction_costs(fractions["fraction"], curve, trainer.pricing, config.machine, volume, config.rule.confidence)
    fractions = pd.concat([fractions, costs.drop(columns="fraction")], axis=1)
    fractions = fractions.assign(shop_id=shop.shop_id, noise_floor_measured=seed_independent or bool(floor_seeds))
    fractions = fractions[["shop_id"] + [c for c in fractions if c != "shop_id"]]
    segments = pd.concat(segment_tables, ignore_index=True).assign(shop_id=shop.shop_id)
    segments = segments[["shop_id", "fraction"] + [c for c in segments if c not in ("shop_id", "fraction")]]
    return ExperimentResult(
        runs=runs,
        fractions=fractions,
        segments=segments,
        time_curve=curve,
        volume=volume,
        experiment_cost_usd=money.experiment_cost_usd(runs["train_seconds"], trainer.pricing, config.machine),
        skipped=skipped,
        untested=untested,
        seed_independent=seed_independent,
    )


def _volume(shop: ShopData, config: ExperimentConfig) -> money.Volume:
    """The shop's production volume and growth: the settings' when given, else its own file's."""
    if config.weekly_growth is not None:
        growth, growth_source = float(config.weekly_growth), "given"
    else:
        growth, growth_source = money.measured_weekly_growth(shop.frame["event_time"])
    if config.production_rows is not None:
        return money.Volume(float(config.production_rows), "given", growth, growth_source)
    return money.Volume(float(len(shop.frame)), "the rows in the file", growth, growth_source)


def training_rows(pool: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows of ``pool`` at ``positions``; the whole pool is not copied (a shallow copy: a model
    assigning a column changes only its own)."""
    everything = len(positions) == len(pool) and bool(np.all(positions == np.arange(len(pool))))
    return pool.copy(deep=False) if everything else pool.iloc[positions]


def size_distributions(model: Any, rows: pd.DataFrame, n_sizes: int) -> np.ndarray:
    """The model's size distribution per row (one-hot of its recommendation when it has none): what
    the consensus of several models is taken over."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(rows), dtype=np.float32)
    sizes = np.asarray(model.predict(rows), dtype=np.int64)
    out = np.zeros((len(sizes), n_sizes), dtype=np.float32)
    out[np.arange(len(sizes)), sizes] = 1.0
    return out


def pick_for(result: ExperimentResult, config: ExperimentConfig) -> Pick:
    """The verdict under the config's rule."""
    return pick_smallest_sufficient(result.fractions, result.segments, config.rule, untested=tuple(result.untested))


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
    write_parquet(result.fractions, folder / FRACTIONS_FILE)
    # Segments too small to judge are not stored: reports show aggregates only.
    write_parquet(result.segments[result.segments["n"] >= config.rule.min_segment_size], folder / SEGMENTS_FILE)
    document = pick_document(shop, split, result, pick, config)
    _save_chart(result.fractions, document, folder / CHART_FILE)
    write_json(document, folder / PICK_FILE)
    seal_results(folder)
    return folder


def pick_document(
    shop: ShopData, split: Split, result: ExperimentResult, pick: Pick, config: ExperimentConfig
) -> dict[str, Any]:
    """pick.json: the verdict, the settings behind it, the money's assumptions and the data's bookkeeping."""
    pricing = Pricing.load(config.pricing_path)
    machine = pricing.machine(config.machine)
    full = result.fractions[result.fractions["fraction"] == 1.0].iloc[0]
    chosen = result.fractions[np.isclose(result.fractions["fraction"], pick.picked_fraction)].iloc[0]
    volume = result.volume
    return {
        **pick.to_dict(),
        "money": {
            "currency": pricing.currency,
            "billing_mode": pricing.mode,
            "time_source": pricing.time_source(config.machine),
            "production_rows": volume.production_rows,
            "production_rows_source": volume.production_rows_source,
            "weekly_growth": volume.weekly_growth,
            "weekly_growth_source": volume.weekly_growth_source,
            "rows_in_12_months": volume.rows_in_12_months,
            "largest_rows_measured": result.time_curve.largest_rows,
            "projected": bool(full["projected"]),
            "seconds_per_training": {"full": float(full["seconds_per_training"]), "pick": float(chosen["seconds_per_training"])},
            "saving_usd_per_month_low": float(full["cost_usd_per_month_low"] - chosen["cost_usd_per_month_low"]),
            "saving_usd_per_month_high": float(full["cost_usd_per_month_high"] - chosen["cost_usd_per_month_high"]),
            "saving_usd_per_month_12m": float(full["cost_usd_per_month_12m"] - chosen["cost_usd_per_month_12m"]),
            "saving_usd_per_month_12m_low": float(full["cost_usd_per_month_12m_low"] - chosen["cost_usd_per_month_12m_low"]),
            "saving_usd_per_month_12m_high": float(full["cost_usd_per_month_12m_high"] - chosen["cost_usd_per_month_12m_high"]),
        },
        "experiment_cost_usd": result.experiment_cost_usd,
        "break_even_weeks": money.break_even_weeks(result.experiment_cost_usd, pick.saving_usd_per_month),
        "settings": {key: value for key, value in config.to_dict().items() if key not in config.rule.to_dict()},
        "skipped_fractions": result.skipped,
        "seed_independent": result.seed_independent,
        "models_per_fraction": len(config.seeds),
        "compute_full_trainings": result.compute_full_trainings,
        "compute_full_training_rows": result.compute_full_training_rows,
        "model": config.model,
        "model_params": config.model_params,
        "sampling": config.sampling,
        "search": config.search,
        "holdout": config.holdout,
        "seeds": config.seeds,
        "machine": config.machine,
        "price_usd_per_hour": machine.usd_per_hour,
        "price_source": machine.source,
        "price_date": str(machine.date),
        "billing": pricing.billing_description,
        "billing_rule": pricing.billing_rule,
        "usd_per_second": pricing.usd_per_second(config.machine),
        "discount": asdict(pricing.discount),
        "cadence": pricing.cadence,
        "trainings_per_month": pricing.trainings_per_month,
        "time_curve": asdict(result.time_curve),
        "shopper_id_from_row": shop.shopper_id_from_row,
        "data": None if shop.source is None else shop.source.to_dict(),  # what `enough export` loads again
        "rows_read": shop.rows_read,
        "rows_clean": len(shop.frame),
        "rows_quarantined": shop.rows_quarantined,
        "quarantine_reasons": shop.reasons,
        "n_reference": len(split.reference),
        "n_holdout": len(split.holdout),
        "n_train_pool": len(split.train),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _save_chart(fractions: pd.DataFrame, document: dict[str, Any], path: Path) -> None:
    # A plain Figure renders to PNG without pyplot, so the notebook's own backend is left alone.
    from toolkit.report.charts import shop_chart

    figure = shop_chart(fractions, document)
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=CHART_DPI, bbox_inches="tight"))


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
    prepare_output_dir(output_dir, what="output_dir")  # a folder results cannot go to fails before training
    shop = load_shop(data_path, shop_id=shop_id, column_map=column_map)
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=log)
    pick = pick_for(result, config)
    return write_results(output_dir, shop, split, result, pick, config), pick


def _say(log: TextIO | None, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)
