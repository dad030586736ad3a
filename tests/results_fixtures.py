"""Contract-shaped sweep results for tests of charts, the report and the exploration notebook.

:func:`build_sweep` writes what a finished sweep leaves on disk — ``summary.parquet`` and per shop
``runs.parquet``, ``fractions.parquet``, ``segments.parquet`` and ``pick.json`` (see
docs/ARCHITECTURE.md) — with realistic values: drift falls as the fraction grows, training time and
cost rise with it. The money comes from the real money functions (a time curve, the repository's
pricing, a production volume) and the pick from ``decision.pick_smallest_sufficient``, exactly as
the experiment makes them.

A few things a careless report could leak are planted on purpose: every shop folder holds a
``quarantine.csv`` with shopper ids, and the summary carries a ``sample_shopper_id`` column. Their
ids are in :data:`PLANTED_SHOPPER_IDS`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.experiment import money
from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import pick_smallest_sufficient
from toolkit.experiment.pricing import Pricing, TimeCurve
from toolkit.results import shop_folder_name, summary_columns, write_json, write_parquet

FRACTIONS = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
SEEDS = (0, 1)
N_REFERENCE = 20_000
PLANTED_SHOPPER_IDS = ("shopper-7f3a9c", "shopper-0b41d2", "shopper-c9e810")
PRICING = Pricing.load()


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
    ShopSpec("alpine-outdoor", 2_400_000, 14_400.0, 0.0, 0.020, machine="n2-standard-8"),
    ShopSpec("berlin-basics", 640_000, 3_600.0, 0.0, 0.030),
    ShopSpec("coastal-denim", 180_000, 1_500.0, 0.0, 0.160),  # cannot be reduced
    ShopSpec("estuary-mode", 120_000, 900.0, 0.072, 0.030),  # its model churns: indeterminate
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
        fractions = shop_fractions(spec, runs)
        segments = shop_segments(spec, fractions)
        pick = pick_smallest_sufficient(fractions, segments, PickRule()).to_dict()
        pick.update(_assumptions(spec, runs, fractions, pick))
        write_parquet(runs, folder / "runs.parquet")
        write_parquet(fractions, folder / "fractions.parquet")
        write_parquet(segments, folder / "segments.parquet")
        write_json(pick, folder / "pick.json")
        rows.append({"shop_id": pick["shop_id"], "status": "ok", **summary_columns(pick), "error": None,
                     "notebook_path": str(folder / "fraction_sweep.ipynb")})
    if summary:
        frame = pd.DataFrame(rows)
        frame["sample_shopper_id"] = PLANTED_SHOPPER_IDS[0]
        write_parquet(frame, results_dir / "summary.parquet")
    return results_dir


def _drift(spec: ShopSpec, fraction: float) -> float:
    if fraction >= 1.0:
        return spec.noise_floor
    return spec.noise_floor + spec.drift_scale * ((1 / fraction) ** 0.5 - 1) / (64**0.5 - 1)


def shop_runs(spec: ShopSpec) -> pd.DataFrame:
    """One row per trained model with the runs.parquet columns."""
    rng = np.random.default_rng(_seed(spec.shop_id))
    records = []
    plan = [(1.0, 0, "reference")]
    if spec.noise_floor > 0:
        plan += [(1.0, 1, "reference"), (1.0, 2, "floor"), (1.0, 3, "floor")]
    plan += [(f, seed, "fraction") for f in FRACTIONS if f < 1.0 for seed in SEEDS]
    for fraction, seed, role in plan:
        train_rows = int(round(spec.full_rows * fraction))
        seconds = 45.0 + spec.full_seconds * fraction * rng.uniform(0.95, 1.05)
        rate = _drift(spec, fraction) * rng.uniform(0.9, 1.1) if role != "reference" else 0.0
        count = int(round(rate * N_REFERENCE))
        cost = PRICING.cost_usd_per_training(seconds, spec.machine)
        records.append(
            {
                "shop_id": spec.shop_id, "fraction": fraction, "seed": seed, "role": role,
                "train_rows": train_rows, "epochs": 80, "train_seconds": seconds, "cpu_seconds": seconds * 3.6,
                "peak_rss_mb": 600 + train_rows / 2_000, "predict_seconds": 0.01, "evaluate_seconds": 0.05,
                "cost_usd_per_training": cost, "cost_usd_per_month": cost * PRICING.trainings_per_month,
                "holdout_exact_accuracy": 0.62 - 0.05 * (1 - fraction), "holdout_within1_accuracy": 0.93,
                "baseline_exact_accuracy": 0.31, "baseline_within1_accuracy": 0.72,
                "monotonicity_violation_rate": 0.004, "top_size_share": 0.31, "distinct_sizes": 7,
                "model": "keras_ordinal", "sampling": "random", "machine": spec.machine,
                "n_reference": N_REFERENCE, "changed_count": count, "changed_rate": count / N_REFERENCE,
            }
        )
    return pd.DataFrame(records)


def shop_fractions(spec: ShopSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per fraction judged, with the fractions.parquet columns and the real money."""
    records = []
    for fraction in FRACTIONS:
        mine = runs[(runs["fraction"] == fraction) & (runs["role"] != "floor")]
        rate = _drift(spec, fraction)
        se = 0.0 if fraction == 1.0 else np.sqrt(rate / N_REFERENCE) + 0.0005
        records.append(
            {
                "fraction": fraction, "train_rows": float(mine["train_rows"].mean()), "models": len(mine),
                "train_seconds": float(mine["train_seconds"].mean()),
                "measured_cost_usd_per_training": float(mine["cost_usd_per_training"].mean()),
                "baseline_exact_accuracy": 0.31, "n_reference": N_REFERENCE,
                "changed_rate": rate, "noise_floor": spec.noise_floor, "excess_drift": rate - spec.noise_floor,
                "excess_drift_se": se, "excess_drift_se_shoppers": se, "excess_drift_se_seeds": 0.0,
                "changed_2plus_rate": rate / 12, "mean_abs_shift": rate * 1.1, "mean_signed_shift": rate * 0.2,
                "size_distribution_tvd": rate / 3, "size_distribution_emd": rate / 2.5,
                "holdout_exact_accuracy": 0.62 - 0.01 * (1 - fraction), "holdout_within1_accuracy": 0.93,
                "exact_accuracy_diff": -0.01 * (1 - fraction), "exact_accuracy_diff_se": 0.002,
                "within1_accuracy_diff": 0.0, "within1_accuracy_diff_se": 0.002,
                "monotonicity_violation_rate": 0.004, "full_monotonicity_violation_rate": 0.004,
                "top_size_share": 0.31, "full_top_size_share": 0.31, "distinct_sizes": 7,
            }
        )
    fractions = pd.DataFrame(records)
    curve = TimeCurve.fit(runs["train_rows"], runs["train_seconds"])
    costs = money.fraction_costs(fractions["fraction"], curve, PRICING, spec.machine, _volume(spec))
    fractions = pd.concat([fractions, costs.drop(columns="fraction")], axis=1)
    return fractions.assign(shop_id=spec.shop_id, noise_floor_measured=True)


SEGMENTS = (  # kind, name, share of the reference population, drift relative to the shop's
    ("gender", "female", 0.55, 1.0),
    ("gender", "male", 0.44, 1.0),
    ("gender", "unknown", 0.006, 1.5),  # 120 shoppers: under the minimum, must be suppressed
    ("category", "bottoms", 0.35, 1.1),
    ("category", "dresses", 0.20, 1.0),
    ("category", "tops", 0.45, 0.9),
    ("height_band", "under 155 cm", 0.08, 1.4),
    ("height_band", "155–165 cm", 0.30, 1.0),
    ("height_band", "165–175 cm", 0.32, 0.9),
    ("height_band", "175–185 cm", 0.22, 1.0),
    ("height_band", "185 cm and over", 0.08, 1.4),
    ("weight_band", "under 55 kg", 0.10, 1.3),
    ("weight_band", "55–70 kg", 0.38, 0.9),
    ("weight_band", "70–85 kg", 0.32, 1.0),
    ("weight_band", "85–100 kg", 0.15, 1.2),
    ("weight_band", "100–120 kg", 0.04, 1.6),
    ("weight_band", "120 kg and over", 0.01, 2.0),
    ("tail", "shortest 5%", 0.05, 1.5),
    ("tail", "tallest 5%", 0.05, 1.7),
    ("tail", "lightest 5%", 0.05, 1.4),
    ("tail", "heaviest 5%", 0.05, 1.8),
)


def shop_segments(spec: ShopSpec, fractions: pd.DataFrame) -> pd.DataFrame:
    """One row per fraction × segment with the segments.parquet columns."""
    records = []
    for row in fractions.itertuples(index=False):
        for order, (kind, name, share, factor) in enumerate(SEGMENTS):
            n = int(round(N_REFERENCE * share))
            rate = min(row.changed_rate * factor, 1.0)
            floor = spec.noise_floor * factor
            se = 0.0 if row.fraction == 1.0 else float(np.sqrt(max(rate, 1e-4) / n))
            records.append(
                {
                    "shop_id": spec.shop_id, "fraction": row.fraction, "segment_kind": kind, "segment": name,
                    "segment_order": order, "n": n, "changed_rate": rate, "noise_floor": floor,
                    "excess_drift": 0.0 if row.fraction == 1.0 else rate - floor, "excess_drift_se": se,
                }
            )
    return pd.DataFrame(records)


def _volume(spec: ShopSpec) -> money.Volume:
    return money.Volume(spec.full_rows / 0.7, "the rows in the file", 0.004, "given")


def _assumptions(spec: ShopSpec, runs: pd.DataFrame, fractions: pd.DataFrame, pick: dict) -> dict:
    machine = PRICING.machine(spec.machine)
    full = fractions[fractions["fraction"] == 1.0].iloc[0]
    chosen = fractions[np.isclose(fractions["fraction"], pick["picked_fraction"])].iloc[0]
    volume = _volume(spec)
    experiment = money.experiment_cost_usd(runs["train_seconds"], PRICING, spec.machine)
    return {
        "money": {
            "currency": "USD", "billing_mode": PRICING.mode, "time_source": "metered",
            "production_rows": volume.production_rows, "production_rows_source": volume.production_rows_source,
            "weekly_growth": volume.weekly_growth, "weekly_growth_source": volume.weekly_growth_source,
            "rows_in_12_months": volume.rows_in_12_months, "largest_rows_measured": float(runs["train_rows"].max()),
            "projected": bool(full["projected"]),
            "seconds_per_training": {"full": float(full["seconds_per_training"]), "pick": float(chosen["seconds_per_training"])},
            "saving_usd_per_month_low": float(full["cost_usd_per_month_low"] - chosen["cost_usd_per_month_low"]),
            "saving_usd_per_month_high": float(full["cost_usd_per_month_high"] - chosen["cost_usd_per_month_high"]),
            "saving_usd_per_month_12m": float(full["cost_usd_per_month_12m"] - chosen["cost_usd_per_month_12m"]),
        },
        "experiment_cost_usd": experiment,
        "break_even_weeks": money.break_even_weeks(experiment, pick["saving_usd_per_month"]),
        "compute_full_trainings": float(runs["train_seconds"].sum() / runs.loc[runs["fraction"] == 1.0, "train_seconds"].mean()),
        "model": "keras_ordinal", "sampling": "random", "search": "descending", "holdout": "random",
        "seeds": list(SEEDS), "models_per_fraction": len(SEEDS), "seed_independent": spec.noise_floor == 0,
        "machine": spec.machine, "price_usd_per_hour": machine.usd_per_hour,
        "price_source": machine.source, "price_date": machine.date,
        "billing": PRICING.billing_description, "billing_rule": PRICING.billing_rule,
        "usd_per_second": PRICING.usd_per_second(spec.machine), "discount": asdict(PRICING.discount),
        "cadence": "weekly", "trainings_per_month": PRICING.trainings_per_month,
        "rows_read": int(spec.full_rows / 0.7 * 1.01), "rows_clean": int(spec.full_rows / 0.7),
        "rows_quarantined": int(spec.full_rows / 0.7 * 0.01),
        "n_reference": N_REFERENCE, "n_holdout": 10_000, "skipped_fractions": [],
    }


def _failed_row(spec: ShopSpec, folder: Path) -> dict:
    return {
        "shop_id": spec.shop_id,
        "status": "failed",
        "error": "DataError: dune-kids.csv: column 'height_cm' holds no usable value",
        "notebook_path": str(folder / "fraction_sweep.ipynb"),
    }


def _seed(text: str) -> int:
    """A seed from a shop id that is the same in every process (unlike ``hash``)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(text))
