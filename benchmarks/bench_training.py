"""The experiment's epoch training loop against a bare Keras ``fit`` of the same network on the same rows.

For the epoch-trained Keras models (``keras_mlp``, the default here, and ``keras_softmax``); the
default ``keras_ordinal`` trains full-batch with L-BFGS (``toolkit/models/full_batch.py``) and has
no epoch loop to compare.

Toolkit:  ``fit_metered(make_model(MODEL, ...), frame, labels)`` — feature encoding,
          network build, Keras fit, metering thread, NumPy weights copy: everything one fit costs in
          the experiment.
Bare:     the *same* compiled network (same seed, same initial weights, same loss and optimiser,
          built untimed by ``KerasOrdinal.build``) trained by ``network.fit`` on the rows encoded
          beforehand, same epochs, batch size and shuffling.

Both run interleaved (alternating which goes first), after one untimed warm-up of each; the table
gives median seconds and the ratio ``bare / toolkit`` (goal: >= 0.95). ``bare+build`` also times
building and compiling the network, which a bare Keras user pays too.

    .venv/bin/python benchmarks/bench_training.py [--model keras_mlp] [--rows 200000] [--repeats 5] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.shops.schema import SizeScale  # noqa: E402


def synthetic_shop(n: int, seed: int = 0, scale: SizeScale | None = None) -> pd.DataFrame:
    """A canonical shop table with a learnable body → size relation and realistic outcomes."""
    scale = scale or SizeScale.letters()
    rng = np.random.default_rng(seed)
    k = len(scale)
    gender = rng.choice(np.array(["female", "male", "unknown"], dtype=object), size=n, p=[0.55, 0.4, 0.05])
    male = gender == "male"
    height = np.where(male, rng.normal(178, 7, n), rng.normal(165, 7, n))
    bmi = rng.lognormal(np.log(24.5), 0.15, n)
    category = rng.choice(np.array(["tops", "bottoms", "dresses"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    latent = 0.9 * (bmi - 24.5) / 3.5 + 0.5 * (height - 170) / 9 + 0.3 * male - 0.3 * (category == "dresses")
    true = np.clip(np.round(latent + k / 2 - 0.5 + rng.normal(0, 0.35, n)), 0, k - 1).astype(int)
    bought = np.clip(true + rng.choice([-1, 0, 0, 0, 0, 1], size=n), 0, k - 1)
    outcome = np.where(
        bought < true, "returned_too_small", np.where(bought > true, "returned_too_large", "kept")
    ).astype(object)
    outcome[rng.random(n) < 0.05] = "returned_other"
    return pd.DataFrame(
        {
            "shop_id": "bench",
            "event_time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), "min"),
            "shopper_id": [f"s{i}" for i in range(n)],
            "product_id": "p1",
            "category": category,
            "gender": gender,
            "height_cm": height,
            "weight_kg": bmi * (height / 100) ** 2,
            "age": rng.uniform(18, 75, n),
            "size": pd.Categorical.from_codes(bought, dtype=scale.dtype),
            "outcome": outcome,
            "fit_preference": rng.choice(np.array(["tight", "regular", "loose", None], dtype=object), size=n),
        }
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="keras_mlp", choices=["keras_mlp", "keras_softmax"], help="epoch-trained Keras model")
    parser.add_argument("--rows", type=int, default=200_000, help="training rows")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions of each")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    from toolkit.models.features import training_labels
    from toolkit.experiment.metering import fit_metered
    from toolkit.models import make_model
    from toolkit.models.keras_models import epochs_for, network_inputs

    scale = SizeScale.letters()
    frame = synthetic_shop(args.rows, seed=1, scale=scale)
    started = time.perf_counter()
    labels = training_labels(frame, scale)
    label_seconds = time.perf_counter() - started
    params = {"epochs": args.epochs, "batch_size": args.batch_size}

    def toolkit_fit() -> float:
        model = make_model(args.model, n_sizes=len(scale), random_state=0, **params)
        record = fit_metered(model, frame, labels)
        toolkit_fit.epochs = model.epochs_  # type: ignore[attr-defined]
        return record.train_seconds

    # The bare side: rows encoded once, untimed; the same network built by the model's own builder.
    template = make_model(args.model, n_sizes=len(scale), random_state=0, **params)
    from toolkit.models.features import FeatureEncoder

    rows = FeatureEncoder().fit_transform(frame)
    inputs, targets = network_inputs(rows), labels.astype(np.int32)
    epochs = epochs_for(len(labels), min_steps=template.min_steps, max_epochs=template.max_epochs, **params)

    def bare_fit(include_build: bool) -> float:
        started = time.perf_counter()
        network = template.build(rows, labels)
        if not include_build:
            started = time.perf_counter()
        network.fit(inputs, targets, epochs=epochs, batch_size=args.batch_size, shuffle=True, verbose=0)
        return time.perf_counter() - started

    runners = {
        "toolkit": toolkit_fit,
        "bare": lambda: bare_fit(False),
        "bare+build": lambda: bare_fit(True),
    }
    for run in runners.values():  # warm-up: first-use costs are nobody's loop
        run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for repeat in range(args.repeats):
        for name in order if repeat % 2 == 0 else order[::-1]:
            times[name].append(runners[name]())
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "benchmark": "training",
        "model": args.model,
        "rows": args.rows,
        "epochs": epochs,
        "toolkit_epochs": toolkit_fit.epochs,  # type: ignore[attr-defined]
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "label_building_seconds": label_seconds,
        "seconds": times,
        "median_seconds": medians,
        "ratio_bare_over_toolkit": medians["bare"] / medians["toolkit"],
        "ratio_bare_build_over_toolkit": medians["bare+build"] / medians["toolkit"],
        "goal": 0.95,
    }
    print(f"training loop of {args.model}: {args.rows:,} rows x {epochs} epochs, batch {args.batch_size}, {args.repeats} repeats")
    print(f"{'variant':<12}{'median s':>10}{'min s':>9}{'max s':>9}")
    for name, values in times.items():
        print(f"{name:<12}{medians[name]:>10.3f}{min(values):>9.3f}{max(values):>9.3f}")
    print(f"ratio bare/toolkit        {result['ratio_bare_over_toolkit']:.3f}  (goal >= 0.95)")
    print(f"ratio bare+build/toolkit  {result['ratio_bare_build_over_toolkit']:.3f}")
    print(f"label building (once per shop, outside the loop): {label_seconds:.3f} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
