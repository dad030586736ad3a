"""The ``enough`` command: argument wiring only.

Each verb is a pair of small functions, ``_add_<verb>(subparsers)`` (declares the arguments and
sets ``run=_run_<verb>``) and ``_run_<verb>(args) -> int`` (calls the toolkit, prints, returns the
exit code), registered once in :data:`VERBS`. Heavy modules are imported inside ``_run_<verb>`` so
``enough --help`` stays instant.

Any :class:`~toolkit.errors.ToolkitError` becomes one line ``enough: error: <message>`` on stderr
and exit code 2, without a traceback; so does an ``OSError`` the toolkit did not foresee (a file
system refusing a read or write is never a bug to show a traceback for).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.sweep.many_shops import SweepResult

__all__ = ["VERBS", "build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


# -- validate -----------------------------------------------------------------------------------
def _add_validate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a purchase file row by row: clean rows, quarantined rows and why",
        description="Read a CSV or Parquet purchase file, map it to the canonical table, validate "
        "every row, write OUT/clean.parquet and OUT/quarantine.parquet (each quarantined row as "
        "read, with its reason), and print the counts by reason and the flagged weeks. The quarantine "
        "holds the client's raw rows (shopper ids, bodies): keep only the columns you need with "
        "--quarantine-columns.",
    )
    parser.add_argument("input", type=Path, help="the purchase file (CSV or Parquet)")
    parser.add_argument(
        "--column-map", type=Path, default=None, metavar="MAP",
        help="column-map YAML for the file's shape (default: canonical names and units)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two Parquet files")
    parser.add_argument(
        "--quarantine-columns", type=_column_names, default=None, metavar="COLUMNS",
        help="comma-separated columns the quarantine file keeps besides reason and source_row (client or "
        "canonical names; '' keeps none); default: the column map's quarantine_columns, else every column",
    )
    parser.set_defaults(run=_run_validate)


def _column_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _run_validate(args: argparse.Namespace) -> int:
    from toolkit.shops.validate import validate_file

    result = validate_file(
        args.input, column_map=args.column_map, out_dir=args.out, quarantine_columns=args.quarantine_columns
    )
    print(result.summary_table())
    print(f"\nwrote {args.out / 'clean.parquet'} and {args.out / 'quarantine.parquet'}")
    return EXIT_OK


# -- generate -----------------------------------------------------------------------------------
def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write synthetic shops (canonical Parquet) grounded in real bodies",
        description="Write one canonical Parquet file per synthetic shop. Volumes are heavy-tailed, "
        "from --rows-max purchases (first shop) down to --rows-min (last shop), over two years.",
    )
    parser.add_argument("--shops", type=int, default=6, metavar="N", help="number of shops (default 6)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the shop files")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files (default 0)")
    parser.add_argument(
        "--defects", action="store_true",
        help="inject client mistakes in known numbers and write DIR/defects.json with the counts",
    )
    parser.add_argument("--rows-min", type=int, default=3_000, metavar="N", help="purchases of the smallest shop")
    parser.add_argument("--rows-max", type=int, default=300_000, metavar="N", help="purchases of the largest shop")
    parser.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    import pandas as pd
    import pyarrow.parquet as pq

    from toolkit.shops.generate import generate_shops

    paths = generate_shops(
        args.shops, args.out, seed=args.seed, defects=args.defects,
        rows_min=args.rows_min, rows_max=args.rows_max,
    )
    rows = pd.DataFrame({"file": [str(p) for p in paths], "purchases": [pq.read_metadata(p).num_rows for p in paths]})
    print(rows.to_string(index=False))
    print(f"\n{len(paths)} shop(s), {rows['purchases'].sum():,} purchases in {args.out}")
    if args.defects:
        print(f"expected validation counts: {args.out / 'defects.json'}")
    return EXIT_OK


# -- sweep --------------------------------------------------------------------------------------
EXIT_SHOPS_FAILED = 1


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _add_sweep(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run the shop notebook for every shop of a sweep file, in parallel on Dask",
        description="Run notebooks/fraction_sweep.ipynb once per shop (papermill; a warm kernel per worker runs shop after shop) "
        "on a local Dask cluster or an existing scheduler; write OUTPUT_DIR/summary.parquet. Shops "
        "complete for the same notebook, parameters and data are skipped, so running the same command "
        "again resumes an interrupted sweep. Exit code 1 when some shops failed. See docs/sweep.md.",
    )
    parser.add_argument("sweep_file", type=Path, metavar="SWEEP.yaml", help="the sweep file")
    parser.add_argument(
        "--workers", type=_workers, default=None, metavar="N",
        help="local Dask workers, one shop each at a time (default: the sweep file's, else one per core)",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="an existing Dask scheduler (tcp://host:8786); paths must be the same on every worker",
    )
    parser.add_argument(
        "--shop-timeout", type=_seconds, default=None, metavar="SECONDS",
        help="kill a shop's notebook still running after this long and mark it timed_out "
        "(default: the sweep file's shop_timeout_s, else no limit)",
    )
    parser.add_argument(
        "--fresh-kernels", action="store_true",
        help="start a kernel per shop instead of a warm kernel per worker that runs shop after shop "
        "(slower; the sweep file's fresh_kernels: true does the same)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_sweep)


def _seconds(text: str) -> float | None:
    from toolkit.sweep.spec import shop_timeout

    try:
        return shop_timeout(text, "--shop-timeout")
    except ToolkitError as err:
        raise argparse.ArgumentTypeError(str(err).strip()) from None


def _run_sweep(args: argparse.Namespace) -> int:
    import dataclasses

    from toolkit.sweep.many_shops import run_sweep
    from toolkit.sweep.spec import SweepSpec

    spec = SweepSpec.load(args.sweep_file)
    if args.shop_timeout is not None:
        spec = dataclasses.replace(spec, shop_timeout_s=args.shop_timeout)
    if args.fresh_kernels:
        spec = dataclasses.replace(spec, fresh_kernels=True)
    try:
        result = run_sweep(spec, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("enough: sweep interrupted; run the same command again to finish the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _print_sweep(result)


def _print_sweep(result: SweepResult) -> int:
    from toolkit.notebook.overview import shops_overview
    from toolkit.report.findings import portfolio_headline

    summary = result.summary.sort_values(["saving_usd_per_month", "shop_id"], ascending=[False, True], na_position="last")
    print(repr(shops_overview(summary)))
    ok = summary[summary["status"] == "ok"]
    print("\n" + portfolio_headline(len(ok), int((ok["verdict"] == "reduced").sum()), float(ok["saving_usd_per_month"].sum())))
    ran = len(result.outcomes) - len(result.skipped)
    print(
        f"\n{result.name}: {len(result.outcomes)} shop(s), {ran} run, {len(result.skipped)} already complete, "
        f"{len(result.failed)} failed, in {result.wall_seconds:.0f} s; summary: {result.summary_path}"
    )
    if not result.failed:
        return EXIT_OK
    print("failed shops:", file=sys.stderr)
    for outcome in result.failed:
        what = "" if outcome.status == "failed" else f"{outcome.status}: "
        print(f"  {outcome.shop_id}: {what}{outcome.error}", file=sys.stderr)
        print(f"    notebook: {outcome.notebook_path or 'not written'}", file=sys.stderr)
    return EXIT_SHOPS_FAILED


# -- demo ---------------------------------------------------------------------------------------
def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="generate six demo shops (if absent), sweep them, write the finance report",
        description="Generate the six demo shops into data/demo/ when absent, sweep them with "
        "params/demo.yaml (resuming when run again), write the report, and print where it all is.",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="results folder (default: results/demo)"
    )
    parser.add_argument("--workers", type=_workers, default=None, metavar="N", help="local Dask workers")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from toolkit.demo import run_demo

    try:
        demo = run_demo(args.out, workers=args.workers, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("enough: demo interrupted; run it again to finish the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    code = _print_sweep(demo.sweep)
    print(f"demo shops: {demo.data_dir}")
    print(f"results:    {demo.sweep.output_dir}")
    for path in demo.report_files or ():
        print(f"report:     {path}")
    return code


# -- report -------------------------------------------------------------------------------------
def _add_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the finance report of a sweep: PDF, the charts as PNG, and a spreadsheet",
        description="Read RESULTS_DIR/summary.parquet (or, without it, every shop folder with "
        "pick.json) and each shop's results; write report.pdf (the portfolio, then one page per shop), "
        "the same pages as PNG, and summary.xlsx (one row per shop, totals, assumptions). Aggregates "
        "only: no shopper ids, and groups of shoppers under --min-segment-size are not shown.",
    )
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="a sweep's results folder")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="folder for the report (default: RESULTS_DIR/report)"
    )
    parser.add_argument(
        "--min-segment-size", type=_workers, default=200, metavar="N",
        help="groups of shoppers smaller than this are not shown (default 200)",
    )
    parser.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from toolkit.report.pdf import write_report

    paths = write_report(args.results_dir, out_dir=args.out, min_segment_size=args.min_segment_size)
    print(f"report:      {paths.pdf} ({paths.pages} pages)")
    print(f"spreadsheet: {paths.xlsx}")
    print(f"charts:      {len(paths.pngs)} PNG in {paths.out_dir}")
    for note in paths.notes:
        print(f"note: {note}", file=sys.stderr)
    if paths.left_out:
        print(f"{len(paths.left_out)} shop(s) without a page:", file=sys.stderr)
        for shop_id, status, reason in paths.left_out:
            print(f"  {shop_id}: {status}" + (f": {reason}" if reason else ""), file=sys.stderr)
    return EXIT_OK


# -- export -------------------------------------------------------------------------------------
def _fraction(text: str) -> float | str:
    """``picked``, a share such as ``0.25``, or a ratio such as ``1/4``."""
    if text == "picked":
        return text
    try:
        numerator, _, denominator = text.partition("/")
        value = float(numerator) / float(denominator) if denominator else float(numerator)
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected 'picked' or a fraction in (0, 1] such as 0.25 or 1/4, got {text!r}")
    return value


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="retrain a shop's judged model and write it as a TensorFlow SavedModel for TF Serving",
        description="Retrain the shop's model at the chosen fraction with the experiment's sampling and "
        "seed, check it tells the reference shoppers what the experiment recorded (runs.parquet "
        "changed_count), and write a SavedModel to DIR/<shop_id>/<version>/ with enough.json beside it. "
        "Its serving_default signature takes the raw widget fields. Keras models only. See docs/serving.md.",
    )
    parser.add_argument("shop_results", type=Path, metavar="RESULTS_DIR/SHOP", help="a shop's results folder (with pick.json)")
    parser.add_argument(
        "--fraction", type=_fraction, default="picked", metavar="picked|F",
        help="the fraction whose model to export: 'picked' (default) or one the experiment trained, e.g. 0.25 or 1/4",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="the run's seed (default: the experiment's first)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="TF Serving's model folder; the shop's versions go under DIR/<shop_id>/")
    parser.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from toolkit.experiment.export import EXPORT_FILE, export_model

    exported = export_model(args.shop_results, args.out, fraction=args.fraction, seed=args.seed)
    print(f"exported {exported.shop_id} version {exported.version}: fraction {exported.fraction:g}, seed {exported.seed}, "
          f"{exported.train_rows:,} training rows")
    print(f"check:       {exported.changed_count} of {exported.n_reference} reference shoppers told another size "
          "than the reference consensus, as the experiment recorded")
    print(f"inputs:      {', '.join(f'{name} ({dtype})' for name, dtype in exported.inputs.items())}")
    print(f"saved model: {exported.folder}")
    print(f"provenance:  {exported.folder / EXPORT_FILE}")
    return EXIT_OK


#: Every verb's ``_add_<verb>`` function, in the order ``enough --help`` lists them.
VERBS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_validate,
    _add_generate,
    _add_sweep,
    _add_demo,
    _add_report,
    _add_export,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``enough`` argument parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="enough",
        description="Enough: how much training data each shop's size model needs, what it costs, "
        "and how much its recommendations drift with less.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add_verb in VERBS:
        add_verb(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``enough`` with ``argv`` (default: the command line); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or EXIT_OK)
    except ToolkitError as err:
        return _error(str(err))
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        return _error(f"{where}{err.strerror or err}")
    except KeyboardInterrupt:
        print("enough: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(message: str) -> int:
    print(f"enough: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
