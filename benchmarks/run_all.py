"""Every benchmark, one after another, and one table of their figures beside their goals.

Each benchmark runs in its own process (so one's memory and threads do not colour the next) with
``--out`` pointing into a results folder; this script then reads the JSON files back and prints one
table: benchmark, figure, measured, goal, met. A benchmark that fails is a row saying so, and the
others still run.

    .venv/bin/python benchmarks/run_all.py                 # everything (about 1.5 hours on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick         # small sizes: checks they all run (minutes)
    .venv/bin/python benchmarks/run_all.py --only predict memory --out-dir /tmp/bench

``make benchmarks`` runs the first form. The full runs' figures, with the machine and date, are in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: One row of the table: (figure, measured as text, goal as text, met: True / False / None = no goal).
Row = tuple[str, str, str, "bool | None"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script: its arguments (full and quick) and how its JSON becomes table rows."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    rows: Callable[[dict], Iterator[Row]]


def _stability_rows(figures: dict) -> Iterator[Row]:
    for shop, row in figures.items():
        ours = row["models"].get("keras_ordinal")
        logreg = row["models"].get("logreg")
        if ours is None:
            continue
        limit = 0.05 if shop == "hard" else 0.02
        yield f"{shop}: keras_ordinal seed-to-seed floor", f"{ours['floor']:.2%}", f"<= {limit:.0%}", ours["floor"] <= limit
        if logreg is not None:
            gap = ours["exact_accuracy"] - logreg["exact_accuracy"]
            yield (f"{shop}: accuracy vs logreg", f"{ours['exact_accuracy']:.1%} vs {logreg['exact_accuracy']:.1%}",
                   ">= logreg - 1 pt", gap >= -0.01)


def _decision_rows(figures: dict) -> Iterator[Row]:
    summary = figures["summary"]
    yield ("picks that hold out of sample", f"{summary['picks_hold']:.0%} of {summary['shops']} "
           f"({summary['reduced_picks_hold']} reduced)", ">= 95%", summary["picks_hold"] >= 0.95)
    saving, allowing = summary["median_row_saving_there"], summary["shops_whose_truth_allows_a_saving"]
    if allowing:
        yield f"median row saving ({allowing} shops that allow one)", f"{saving:.0%}", ">= 50%", saving >= 0.5
    else:
        yield "median row saving", "no shop run allows one", ">= 50%", None
    worst = summary["largest_compute_full_trainings"]
    yield "compute to reach a pick (full trainings, by seconds)", f"{worst:.2f}", "<= 5", worst <= 5
    rows = summary["largest_compute_full_training_rows"]
    yield "compute to reach a pick (full trainings, by rows)", f"{rows:.2f}", "<= 5", rows <= 5


def _predict_rows(figures: dict) -> Iterator[Row]:
    for model, row in figures["models"].items():
        rate = row["predictions_per_second"]
        yield f"{model}: predictions per second", f"{rate / 1e6:.2f}M", ">= 1M", rate >= figures["goal"]


def _training_rows(figures: dict) -> Iterator[Row]:
    ratio = figures["ratio_bare_over_toolkit"]
    yield "epoch training: bare Keras / toolkit time", f"{ratio:.3f}", ">= 0.95", ratio >= figures["goal"]


def _memory_rows(figures: dict | list[dict]) -> Iterator[Row]:
    runs = figures if isinstance(figures, list) else [figures]  # one dict per size, or one size
    for run in runs:
        rows = run["rows"]
        peak = run["peak_rss_mb"]
        goal = run.get("goal_mb", 4096)
        yield f"{rows:,} purchases: peak memory", f"{peak:,.0f} MB", f"<= {goal:,} MB", peak <= goal
        per_million = run["experiment_seconds"] / (rows / 1e6)
        yield f"{rows:,} purchases: seconds per million rows", f"{per_million:.1f}", "flat with rows", None


def _sweep_rows(figures: dict) -> Iterator[Row]:
    for workers in (1, 2):
        share = figures[f"overhead_share_{workers}w"]
        yield f"overhead, {workers} worker(s)", f"{share:.1%}", "<= 5%", share <= 0.05
    speedup = figures["speedup_2w"]
    allow = f"sizes allow {figures['speedup_bound_2w']:.2f}x, longest shop {figures['speedup_bound_longest_shop_2w']:.2f}x"
    yield "2 workers over 1", f"{speedup:.2f}x ({allow})", ">= 1.8x", speedup >= 1.8


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("stability", "bench_stability.py", (), ("--shops", "shop-06-fjord", "--models", "keras_ordinal", "logreg"),
              _stability_rows),
    Benchmark("decisions", "bench_decisions.py", (), ("--shops", "hard-20k", "--workers", "1"), _decision_rows),
    Benchmark("predict", "bench_predict.py", (), ("--reference", "5000", "--train-rows", "5000", "--repeats", "3"), _predict_rows),
    Benchmark("training", "bench_training.py", (), ("--rows", "20000", "--repeats", "1", "--epochs", "2"), _training_rows),
    Benchmark("memory", "bench_memory.py", ("--rows", "1000000", "5000000", "10000000"), ("--rows", "100000"),
              _memory_rows),
    Benchmark("sweep-demo", "bench_sweep.py", (), ("--shops", "2", "--model", "logreg"),
              _sweep_rows),
    Benchmark("sweep-equal", "bench_sweep.py", ("--equal", "4", "--rows", "150000"),
              ("--equal", "2", "--rows", "5000", "--model", "logreg"), _sweep_rows),
)


def run(benchmark: Benchmark, out_dir: Path, *, quick: bool) -> tuple[list[Row], float]:
    """Run one benchmark in its own process; its table rows (or one row saying it failed)."""
    out = out_dir / f"{benchmark.name}.json"
    out.unlink(missing_ok=True)
    arguments = benchmark.quick if quick else benchmark.full
    command = [sys.executable, str(HERE / benchmark.script), *arguments, "--out", str(out)]
    print(f"\n== {benchmark.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    finished = subprocess.run(command, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode != 0 or not out.is_file():
        return [(f"{benchmark.name}: did not finish", f"exit code {finished.returncode}", "", False)], seconds
    return list(benchmark.rows(json.loads(out.read_text()))), seconds


def table(results: dict[str, tuple[list[Row], float]]) -> str:
    """The figures of every benchmark run, one line each, beside their goals."""
    lines = [f"{'benchmark':<12}{'figure':<56}{'measured':>28}{'goal':>18}  met"]
    for name, (rows, seconds) in results.items():
        for figure, measured, goal, met in rows:
            verdict = "" if met is None else ("yes" if met else "NO")
            lines.append(f"{name:<12}{figure:<56}{measured:>28}{goal:>18}  {verdict}")
        lines.append(f"{name:<12}{'(benchmark wall time)':<56}{seconds:>27.0f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, tuple[list[Row], float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check every benchmark runs")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="run only these")
    parser.add_argument("--out-dir", type=Path, default=Path("results/benchmarks"), help="where the JSON files go")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    results = {b.name: run(b, args.out_dir, quick=args.quick) for b in chosen}
    text = table(results)
    print("\n" + text)
    (args.out_dir / "table.txt").write_text(text + "\n")
    return results


if __name__ == "__main__":
    main()
