"""Decision quality: do the experiment's picks hold on shoppers and seeds it never saw?

For each of 12 generated shops across kinds (clean, standard, hard; letter, EU, US and a dress
shop's numeric sizes; 20,000 to 1,000,000 purchases), a fifth of the shoppers are set aside
*before* the experiment (the audit population). The experiment runs as users run it (default
settings: keras_ordinal, seeds [0, 1], descending search, 1-point tolerance at 95%). Then each pick
is audited: models with fresh seeds (so fresh subsets) at the picked fraction and at 1/2, and a
full-data model, trained on the experiment's training pool, compared on the audit shoppers.

* a pick **holds** when its fraction's audited excess drift over the floor is within the tolerance
  (a ``full`` or ``indeterminate`` verdict claims no reduction and holds);
* a shop's **truth allows a saving** when the audit finds 1/2 within the tolerance;
* **compute** is what the experiment spent, in full-data trainings: by seconds, and by training
  rows (each training weighted by its rows).

Goals (issue 8): picks hold in ≥ 95% of shops; median training-row saving ≥ 50% on shops whose
truth allows one; compute ≤ 2K + 1 = 5 full-data trainings for K = 2 seeds.

    .venv/bin/python benchmarks/bench_decisions.py [--workers 2] [--out /tmp/decisions.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

#: (shop id, kind, purchases, profile overrides)
SHOPS: tuple[tuple[str, str, int, dict], ...] = (
    ("clean-50k", "clean", 50_000, {}),
    ("clean-200k", "clean", 200_000, {"vanity": 0.3}),
    ("clean-1m", "clean", 1_000_000, {"vanity": -0.2}),
    ("standard-30k", "standard", 30_000, {}),
    ("standard-100k", "standard", 100_000, {"categories": ("tops", "jeans", "outerwear"), "female_share": 0.4}),
    ("standard-400k", "standard", 400_000, {"vanity": 0.4}),
    ("hard-20k", "hard", 20_000, {}),
    ("hard-80k", "hard", 80_000, {}),
    ("hard-300k", "hard", 300_000, {}),
    ("eu-60k", "standard", 60_000, {"scale_kind": "eu", "categories": ("dresses", "tops", "knitwear"), "female_share": 1.0}),
    ("eu-250k", "standard", 250_000, {"scale_kind": "eu", "categories": ("dresses", "tops", "knitwear"), "female_share": 1.0}),
    ("us-150k", "standard", 150_000, {"scale_kind": "us", "categories": ("dresses", "bottoms", "tops"), "female_share": 1.0}),
)
AUDIT_SHARE = 0.2
AUDIT_SEEDS = (100, 101)


def one_shop(spec: tuple[str, str, int, dict]) -> dict:
    """Run the experiment on one generated shop and audit its pick."""
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    from toolkit.experiment.config import ExperimentConfig
    from toolkit.experiment.one_shop import pick_for, run_experiment, split_for
    from toolkit.experiment.sampling import sample_rows
    from toolkit.models import make_model
    from toolkit.models.features import training_labels
    from toolkit.shops.generate import generate_shop, profile_of
    from toolkit.shops.schema import SizeScale
    from toolkit.shops.validate import ShopData

    shop_id, kind, rows, overrides = spec
    frame = generate_shop(profile_of(kind, shop_id, **overrides), int(rows / (1 - AUDIT_SHARE)), seed=3)
    shoppers = frame["shopper_id"].unique()
    audit_ids = set(np.random.default_rng(99).choice(shoppers, int(len(shoppers) * AUDIT_SHARE), replace=False))
    in_audit = frame["shopper_id"].isin(audit_ids).to_numpy()
    audit = frame[in_audit].sort_values("event_time").drop_duplicates("shopper_id", keep="last")
    kept = frame[~in_audit].reset_index(drop=True)
    scale = SizeScale.of(frame["size"])
    shop = ShopData(shop_id=shop_id, frame=kept, scale=scale, rows_read=len(kept), rows_quarantined=0, reasons={})
    config = ExperimentConfig()
    started = time.perf_counter()
    split = split_for(shop, config)
    result = run_experiment(shop, split, config, log=None)
    pick = pick_for(result, config)
    seconds = time.perf_counter() - started

    pool = split.train
    labels = training_labels(pool, scale)

    def model_at(fraction: float, seed: int):
        rows_ = sample_rows(pool, fraction, strategy=config.sampling, seed=seed)
        return make_model(config.model, n_sizes=len(scale), random_state=seed).fit(pool.iloc[rows_], labels[rows_])

    full = model_at(1.0, AUDIT_SEEDS[0]).predict(audit)

    def audited_excess(fraction: float) -> float:
        if fraction >= 1.0:
            return 0.0
        drifts = [np.mean(model_at(fraction, seed).predict(audit) != full) for seed in AUDIT_SEEDS]
        return float(np.mean(drifts))  # the floor of this seed-independent model is zero

    half = audited_excess(0.5)
    at_pick = audited_excess(pick.picked_fraction) if pick.picked_fraction != 0.5 else half
    tolerance = config.rule.tolerance
    return {
        "shop": shop_id, "kind": kind, "rows": len(kept), "sizes": len(scale), "verdict": pick.verdict,
        "picked_fraction": pick.picked_fraction, "audit_shoppers": len(audit),
        "audited_excess_at_pick": at_pick, "holds": pick.verdict != "reduced" or at_pick <= tolerance,
        "audited_excess_at_half": half, "truth_allows_saving": half <= tolerance,
        "row_saving": 1.0 - pick.picked_fraction, "compute_full_trainings": result.compute_full_trainings,
        "compute_full_training_rows": result.compute_full_training_rows,
        "experiment_seconds": seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="shops run in parallel processes")
    parser.add_argument("--shops", nargs="*", default=None, help="shop names (default: all 12)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    chosen = [s for s in SHOPS if not args.shops or s[0] in args.shops]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(one_shop, chosen))
    print(f"{'shop':<15}{'rows':>10}{'sizes':>6}{'verdict':>15}{'pick':>8}{'audit at pick':>15}{'holds':>7}"
          f"{'audit at 1/2':>14}{'truth':>8}{'compute s':>10}{'rows':>6}")
    for r in rows:
        print(f"{r['shop']:<15}{r['rows']:>10,}{r['sizes']:>6}{r['verdict']:>15}{r['picked_fraction']:>8.4g}"
              f"{r['audited_excess_at_pick']:>15.2%}{'yes' if r['holds'] else 'NO':>7}{r['audited_excess_at_half']:>14.2%}"
              f"{'saves' if r['truth_allows_saving'] else 'full':>8}{r['compute_full_trainings']:>10.2f}"
              f"{r['compute_full_training_rows']:>6.2f}")
    holds = np.mean([r["holds"] for r in rows])
    reduced = [r for r in rows if r["verdict"] == "reduced"]
    allowed = [r for r in rows if r["truth_allows_saving"]]
    median_saving = float(np.median([r["row_saving"] for r in allowed])) if allowed else float("nan")
    worst_compute = max(r["compute_full_trainings"] for r in rows)
    worst_rows = max(r["compute_full_training_rows"] for r in rows)
    summary = {
        "shops": len(rows), "picks_hold": float(holds),
        "reduced_picks_hold": f"{sum(r['holds'] for r in reduced)}/{len(reduced)}",
        "shops_whose_truth_allows_a_saving": len(allowed), "median_row_saving_there": median_saving,
        "largest_compute_full_trainings": worst_compute,
        "largest_compute_full_training_rows": worst_rows,
    }
    print(f"\npicks that hold out of sample: {holds:.0%} of {len(rows)} shops "
          f"({summary['reduced_picks_hold']} reduced picks)   goal >= 95%")
    print(f"median training-row saving on the {len(allowed)} shops whose truth allows one: {median_saving:.0%}   goal >= 50%")
    print(f"compute to reach a pick: at most {worst_compute:.2f} full-data trainings by seconds, "
          f"{worst_rows:.2f} by training rows   goal <= 2K+1 = 5")
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "shops": rows}, indent=2, default=float))
    return summary


if __name__ == "__main__":
    main()
