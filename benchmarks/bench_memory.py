"""Peak memory of one shop's whole experiment on a large synthetic shop (goal: 5M purchases in 4 GB).

    .venv/bin/python benchmarks/bench_memory.py                       # 5,000,000 purchases, fractions 0.5 and 1, seeds 0 and 1
    .venv/bin/python benchmarks/bench_memory.py --rows 1000000 --model hgb

Generates the shop into a temporary folder in a child process (its memory is not counted), then
runs ``run_experiment_on_file`` here — loading and validating, the split, every fit, the comparisons and the
writes — and prints this process's peak resident memory (``ru_maxrss``), which covers all of it.
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

import toolkit as enough

GENERATE = (
    "import sys; from toolkit.shops.generate import generate_shop, shop_profiles; "
    "from toolkit.results import write_parquet; "
    "write_parquet(generate_shop(shop_profiles(1, seed=5)[0], int(sys.argv[1]), seed=5), sys.argv[2])"
)


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="purchases in the shop")
    parser.add_argument("--model", default="keras_ordinal")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--out", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.parquet"
        subprocess.run([sys.executable, "-c", GENERATE, str(args.rows), str(path)], check=True)
        started = time.perf_counter()
        enough.run_experiment_on_file(path, Path(folder) / "out", log=None, fractions=args.fractions, seeds=[0, 1], model=args.model)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"rows": args.rows, "experiment_seconds": seconds, "peak_rss_mb": peak, "goal_mb": 4096}
    print(f"{args.rows:,} purchases, {args.model}: experiment {seconds:.0f} s, peak RSS {peak:,.0f} MB "
          "(goal 4,096 MB)")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
