"""Contract-shaped sweep results for tests of charts, the report and the exploration notebook.

:func:`build_sweep` writes what a finished sweep leaves on disk — ``summary.parquet`` and per shop
``runs.parquet``, ``segments.parquet`` and ``pick.json`` (see docs/ARCHITECTURE.md) — with realistic
values: drift falls as the fraction grows, training time and cost rise with it, two full-data models
with different seeds disagree on a small noise floor. The pick comes from
``select.pick_smallest_sufficient``, exactly as the experiment makes it.

A few things a careless report could leak are planted on purpose: every shop folder holds a
``quarantine.csv`` with shopper ids, and the summary carries a ``sample_shopper_id`` column. Their
ids are in :data:`PLANTED_SHOPPER_IDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.experiment.compare import wilson_interval
from toolkit.results import shop_folder_name, write_json, write_parquet
from toolkit.experiment.decision import pick_smallest_sufficient

FRACTIONS = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
SEEDS = (0, 1, 2)
N_REFERENCE = 20_000
TRAININGS_PER_MONTH = 52 / 12
PLANTED_SHOPPER_IDS = ("shopper-7f3a9c", "shopper-0b41d2", "shopper-c9e810")

MACHINES = {
    "n2-standard-4": 0.19424,
    "n2-standard-16": 0.77696,
}
PRICE_SOURCE = "Google Cloud us-central1 on-demand, public price catalog"
PRICE_DATE = "2025-01-15"


@dataclass(frozen=True)
class ShopSpec:
    """How one synthetic shop's results look."""

    shop_id: str
    full_rows: int
    full_seconds: float  # wall time of one full-data training
    noise_floor: float
    drift_scale: float  # drift above the noise floor at 1/64 of the data
    machine: str = "n2-standard-4"
    status: str = "ok"


DEFAULT_SHOPS = (
    ShopSpec("alpine-outdoor", 2_400_000, 14_400.0, 0.004, 0.020, machine="n2-standard-16"),
    ShopSpec("berlin-basics", 640_000, 3_600.0, 0.006, 0.030),
    ShopSpec("coastal-denim", 180_000, 1_500.0, 0.005, 0.160),  # cannot be reduced
    ShopSpec("dune-kids", 90_000, 700.0, 0.0, 0.0, status="failed"),
)


def build_sweep(results_dir: Path, shops: tuple[ShopSpec, ...] = DEFAULT_SHOPS, *, summary: bool = True) -> Path:
    """Write a finished sweep's results under ``results_dir`` and return it."""
    results_dir = Path(results_dir)
    rows = []
    for spec in shops:
        folder = results_dir / shop_folder_name(spec.shop_id)
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {"shopper_id": PLANTED_SHOPPER_IDS, "reason": ["height_cm looks like inches"] * 3}
        ).to_csv(folder / "quarantine.csv", index=False)
        if spec.status == "failed":
            (folder / "fraction_sweep.ipynb").write_text("{}", encoding="utf-8")
            rows.append(_failed_row(spec, folder))
            continue
        runs = shop_runs(spec)
        segments = shop_segments(spec, runs)
        pick = pick_smallest_sufficient(runs, segments).to_dict()
        pick.update(_assumptions(spec, runs))
        write_parquet(runs, folder / "runs.parquet")
        write_parquet(segments, folder / "segments.parquet")
        write_json(pick, folder / "pick.json")
        rows.append(_summary_row(pick, folder))
    if summary:
        frame = pd.DataFrame(rows)
        frame["sample_shopper_id"] = PLANTED_SHOPPER_IDS[0]
        write_parquet(frame, results_dir / "summary.parquet")
    return results_dir


def shop_runs(spec: ShopSpec) -> pd.DataFrame:
    """One row per fraction × seed with the runs.parquet columns."""
    rng = np.random.default_rng(_seed(spec.shop_id))
    price = MACHINES[spec.machine]
    records = []
    for fraction in FRACTIONS:
        for seed in SEEDS:
            train_rows = int(round(spec.full_rows * fraction))
            seconds = 45.0 + spec.full_seconds * fraction * rng.uniform(0.95, 1.05)
            billed = max(seconds, 60.0)
            cost = price * billed / 3600
            if fraction == 1.0:
                rate = 0.0 if seed == 0 else spec.noise_floor * rng.uniform(0.8, 1.2)
            else:
                above = spec.drift_scale * ((1 / fraction) ** 0.5 - 1) / (64**0.5 - 1)
                rate = (spec.noise_floor + above) * rng.uniform(0.9, 1.1)
            count = int(round(rate * N_REFERENCE))
            low, high = wilson_interval(count, N_REFERENCE, 0.95)
            records.append(
                {
                    "shop_id": spec.shop_id,
                    "fraction": fraction,
                    "seed": seed,
                    "train_rows": train_rows,
                    "epochs": 8,
                    "train_seconds": seconds,
                    "cpu_seconds": seconds * 3.6,
                    "peak_rss_mb": 600 + train_rows / 2_000,
                    "cost_usd_per_training": cost,
                    "cost_usd_per_month": cost * TRAININGS_PER_MONTH,
                    "n_reference": N_REFERENCE,
                    "changed_count": count,
                    "changed_rate": count / N_REFERENCE,
                    "changed_rate_ci_low": low,
                    "changed_rate_ci_high": high,
                    "changed_2plus_rate": count / N_REFERENCE / 12,
                    "mean_abs_shift": count / N_REFERENCE * 1.1,
                    "mean_signed_shift": count / N_REFERENCE * 0.2,
                    "size_distribution_tvd": count / N_REFERENCE / 3,
                    "size_distribution_emd": count / N_REFERENCE / 2.5,
                    "noise_floor": spec.noise_floor,
                    "holdout_exact_accuracy": 0.62 - 0.05 * (1 - fraction),
                    "holdout_within1_accuracy": 0.93 - 0.02 * (1 - fraction),
                    "baseline_exact_accuracy": 0.31,
                    "baseline_within1_accuracy": 0.72,
                    "monotonicity_violation_rate": 0.004,
                    "top_size_share": 0.31,
                    "distinct_sizes": 7,
                    "model": "keras_ordinal",
                    "sampling": "random",
                    "machine": spec.machine,
                }
            )
    return pd.DataFrame(records)


SEGMENTS = (  # kind, name, share of the reference population, drift relative to the shop's
    ("gender", "female", 0.55, 1.0),
    ("gender", "male", 0.44, 1.0),
    ("gender", "unknown", 0.006, 1.5),  # 120 shoppers: under the minimum, must be suppressed
    ("category", "tops", 0.45, 0.9),
    ("category", "bottoms", 0.35, 1.1),
    ("category", "dresses", 0.20, 1.0),
    ("height_band", "under 155 cm", 0.08, 1.4),
    ("height_band", "155–165 cm", 0.30, 1.0),
    ("height_band", "165–175 cm", 0.32, 0.9),
    ("height_band", "175–185 cm", 0.22, 1.0),
    ("height_band", "185 cm and over", 0.08, 1.4),
    ("weight_band", "under 55 kg", 0.10, 1.3),
    ("weight_band", "55–70 kg", 0.38, 0.9),
    ("weight_band", "70–85 kg", 0.32, 1.0),
    ("weight_band", "85–100 kg", 0.15, 1.2),
    ("weight_band", "100 kg and over", 0.05, 1.6),
    ("tail", "shortest 5%", 0.05, 1.5),
    ("tail", "tallest 5%", 0.05, 1.7),
    ("tail", "lightest 5%", 0.05, 1.4),
    ("tail", "heaviest 5%", 0.05, 1.8),
)


def shop_segments(spec: ShopSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per fraction × seed × segment with the segments.parquet columns."""
    records = []
    for run in runs.itertuples(index=False):
        for kind, name, share, factor in SEGMENTS:
            n = int(round(N_REFERENCE * share))
            count = int(round(min(run.changed_rate * factor, 1.0) * n))
            low, high = wilson_interval(count, n, 0.95)
            records.append(
                {
                    "shop_id": spec.shop_id,
                    "fraction": run.fraction,
                    "seed": run.seed,
                    "segment_kind": kind,
                    "segment": name,
                    "n": n,
                    "changed_count": count,
                    "changed_rate": count / n,
                    "changed_rate_ci_low": low,
                    "changed_rate_ci_high": high,
                    "noise_floor": spec.noise_floor * factor,
                }
            )
    return pd.DataFrame(records)


def _assumptions(spec: ShopSpec, runs: pd.DataFrame) -> dict:
    return {
        "model": "keras_ordinal",
        "sampling": "random",
        "seeds": list(SEEDS),
        "machine": spec.machine,
        "price_usd_per_hour": MACHINES[spec.machine],
        "price_source": PRICE_SOURCE,
        "price_date": PRICE_DATE,
        "billing": "per second, one-minute minimum",
        "cadence": "weekly",
        "trainings_per_month": TRAININGS_PER_MONTH,
        "rows_read": int(spec.full_rows / 0.8 * 1.01),
        "rows_clean": int(spec.full_rows / 0.8),
        "rows_quarantined": int(spec.full_rows / 0.8 * 0.01),
        "n_reference": N_REFERENCE,
        "n_holdout": 10_000,
        "skipped_fractions": [],
    }


def _summary_row(pick: dict, folder: Path) -> dict:
    return {
        "shop_id": pick["shop_id"],
        "status": "ok",
        "picked_fraction": pick["picked_fraction"],
        "reduced": pick["reduced"],
        "full_train_rows": pick["full"]["train_rows"],
        "full_cost_usd_per_month": pick["full"]["cost_usd_per_month"],
        "pick_train_rows": pick["pick"]["train_rows"],
        "pick_cost_usd_per_month": pick["pick"]["cost_usd_per_month"],
        "saving_usd_per_month": pick["saving_usd_per_month"],
        "changed_rate": pick["pick"]["changed_rate"],
        "changed_rate_ci_low": pick["pick"]["changed_rate_ci_low"],
        "changed_rate_ci_high": pick["pick"]["changed_rate_ci_high"],
        "noise_floor": pick["noise_floor"],
        "error": None,
        "notebook_path": str(folder / "fraction_sweep.ipynb"),
    }


def _failed_row(spec: ShopSpec, folder: Path) -> dict:
    nan = float("nan")
    return {
        "shop_id": spec.shop_id,
        "status": "failed",
        "picked_fraction": nan,
        "reduced": None,
        "full_train_rows": nan,
        "full_cost_usd_per_month": nan,
        "pick_train_rows": nan,
        "pick_cost_usd_per_month": nan,
        "saving_usd_per_month": nan,
        "changed_rate": nan,
        "changed_rate_ci_low": nan,
        "changed_rate_ci_high": nan,
        "noise_floor": nan,
        "error": "DataError: dune-kids.csv: column 'height_cm' holds no usable value",
        "notebook_path": str(folder / "fraction_sweep.ipynb"),
    }


def _seed(text: str) -> int:
    """A seed from a shop id that is the same in every process (unlike ``hash``)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(text))
