"""Reference-prediction throughput: shopper-predictions per second for each model (goal >= 1M/s).

Each model is trained once on a synthetic shop, then predicts a 20,000-shopper reference
population (canonical DataFrame in, size indices out: feature encoding included) repeatedly,
round-robin across the models so load on the machine hits them alike. The table gives the median
and best time per call and the throughput at the median.

    .venv/bin/python benchmarks/bench_predict.py [--reference 20000] [--train-rows 50000] [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import synthetic_shop  # noqa: E402

from toolkit.shops.schema import SizeScale  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=int, default=20_000, help="reference population size")
    parser.add_argument("--train-rows", type=int, default=50_000, help="rows each model trains on")
    parser.add_argument("--repeats", type=int, default=30, help="timed predictions per model")
    parser.add_argument("--models", nargs="*", default=None, help="model names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    from toolkit.models.features import training_labels
    from toolkit.models import available_models, make_model

    scale = SizeScale.letters()
    train = synthetic_shop(args.train_rows, seed=1, scale=scale)
    reference = synthetic_shop(args.reference, seed=2, scale=scale)
    labels = training_labels(train, scale)
    names = args.models or [n for n in available_models() if not n.startswith("test_")]
    models = {name: make_model(name, n_sizes=len(scale), random_state=0).fit(train, labels) for name in names}
    for model in models.values():
        model.predict(reference)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            started = time.perf_counter()
            model.predict(reference)
            times[name].append(time.perf_counter() - started)
    rows = {}
    print(f"reference prediction: {args.reference:,} shoppers, {args.repeats} repeats (goal >= 1,000,000 /s)")
    print(f"{'model':<15}{'median ms':>10}{'best ms':>9}{'predictions/s':>16}{'goal':>6}")
    for name, values in times.items():
        median = statistics.median(values)
        rate = args.reference / median
        rows[name] = {"median_seconds": median, "best_seconds": min(values), "predictions_per_second": rate}
        print(f"{name:<15}{median * 1e3:>10.2f}{min(values) * 1e3:>9.2f}{rate:>16,.0f}{'ok' if rate >= 1e6 else 'MISS':>6}")
    result = {"benchmark": "predict", "reference": args.reference, "repeats": args.repeats, "models": rows, "goal": 1e6}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
