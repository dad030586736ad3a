"""Peak memory and time of one shop's whole experiment on large synthetic shops (goal: 10M purchases in 4 GB).

    .venv/bin/python benchmarks/bench_memory.py                                 # 10,000,000 purchases, fractions 0.5 and 1, seeds 0 and 1
    .venv/bin/python benchmarks/bench_memory.py --rows 1000000 5000000 10000000 # one table, time per million rows side by side
    .venv/bin/python benchmarks/bench_memory.py --rows 1000000 --model hgb --out /tmp/memory.json

Each size runs in a fresh process of its own, so no size inherits another's memory. That process
generates the shop into a temporary folder in a child process (its memory is not counted), then runs
``run_experiment_on_file`` — loading and validating, the split, every fit, the comparisons and the
writes — and reports its peak resident memory (``ru_maxrss``), which covers all of it, and the
experiment's wall seconds. Seconds per million rows staying flat across sizes means the experiment's
time grows no faster than linearly with rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The goal: one shop's whole experiment within 4 GB of resident memory.
GOAL_MB = 4096

GENERATE = (
    "import sys; from toolkit.shops.generate import generate_shop, shop_profiles; "
    "from toolkit.results import write_parquet; "
    "write_parquet(generate_shop(shop_profiles(1, seed=5)[0], int(sys.argv[1]), seed=5), sys.argv[2])"
)


def main() -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000], help="purchases in the shop, one run per size")
    parser.add_argument("--model", default="keras_ordinal")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--out", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)  # internal: run one size, write its figures here
    args = parser.parse_args()
    if args.one is not None:
        figures = measure(args.rows[0], args.model, args.fractions)
        args.one.write_text(json.dumps(figures))
        return [figures]
    results = [measure_in_fresh_process(rows, args.model, args.fractions) for rows in args.rows]
    print(table(results, args.model, args.fractions))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return results


def measure(rows: int, model: str, fractions: list[float]) -> dict[str, float]:
    """One shop of ``rows`` purchases, in this process: its experiment's seconds and this process's peak."""
    import toolkit as enough  # imported here: the parent process stays small

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.parquet"
        subprocess.run([sys.executable, "-c", GENERATE, str(rows), str(path)], check=True)
        run = enough.run_experiment_on_file  # its module imported before the clock starts
        started = time.perf_counter()
        run(path, Path(folder) / "out", log=None, fractions=fractions, seeds=[0, 1], model=model)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "experiment_seconds": seconds,
        "seconds_per_million_rows": seconds / (rows / 1e6),
        "peak_rss_mb": peak,
        "goal_mb": GOAL_MB,
        "within_goal": peak <= GOAL_MB,
    }


def measure_in_fresh_process(rows: int, model: str, fractions: list[float]) -> dict[str, float]:
    """:func:`measure` in a new Python process (this script again, with the internal ``--one``)."""
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "figures.json"
        command = [sys.executable, __file__, "--rows", str(rows), "--model", model, "--fractions"]
        subprocess.run([*command, *map(str, fractions), "--one", str(figures)], check=True)
        return json.loads(figures.read_text())


def table(results: list[dict[str, float]], model: str, fractions: list[float]) -> str:
    """The figures of every size, one row each."""
    lines = [
        f"{model}, fractions {' '.join(f'{f:g}' for f in fractions)}, seeds 0 and 1; each size in its own process",
        f"{'rows':>12}  {'peak RSS MB':>11}  {'experiment s':>12}  {'s per M rows':>12}  peak <= {GOAL_MB:,} MB",
    ]
    for r in results:
        lines.append(
            f"{r['rows']:>12,}  {r['peak_rss_mb']:>11,.0f}  {r['experiment_seconds']:>12,.0f}  "
            f"{r['seconds_per_million_rows']:>12,.1f}  {'yes' if r['within_goal'] else 'NO'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
