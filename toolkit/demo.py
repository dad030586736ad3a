"""The demo: six synthetic shops (about 3,000 to 300,000 purchases), swept and reported.

``enough demo`` (and ``make demo``) calls :func:`run_demo`: it generates the demo shops into the
sweep file's ``data_dir`` when they are absent, runs the sweep of ``params/demo.yaml`` (resuming, like
any sweep, when run again), then writes the finance report of the results.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ParamsError
from toolkit.params_files import read_yaml_file
from toolkit.resources import project_root
from toolkit.sweep.many_shops import SweepResult, run_sweep
from toolkit.sweep.spec import SHOP_FILE_SUFFIXES, SweepSpec

__all__ = ["DEMO_SHOPS", "DEMO_SHOP_SPECS", "DemoResult", "demo_data_dir", "demo_sweep_file", "generate_demo_shops", "run_demo"]

#: The demo's sweep file.
def demo_sweep_file() -> Path:
    """The demo's sweep file: ``params/demo.yaml`` of the project folder (:func:`toolkit.resources.project_root`)."""
    return project_root() / "params" / "demo.yaml"

#: The demo shops: (shop id, kind, purchases, profile overrides). One large, clean shop whose
#: saving shows in dollars; a mid-sized dress shop that can halve its data; smaller and harder
#: shops that honestly need all of theirs.
DEMO_SHOP_SPECS: tuple[tuple[str, str, int, dict[str, object]], ...] = (
    ("shop-01-alpine", "clean", 2_200_000, {"vanity": 0.2}),
    ("shop-02-baltic", "standard", 400_000, {"scale_kind": "eu", "categories": ("dresses", "tops", "knitwear"), "female_share": 1.0, "vanity": -0.3}),
    ("shop-03-cedar", "standard", 150_000, {"vanity": 0.3}),
    ("shop-04-dune", "standard", 60_000, {"scale_kind": "us", "categories": ("dresses", "bottoms", "tops"), "female_share": 1.0}),
    ("shop-05-ember", "hard", 30_000, {}),
    ("shop-06-fjord", "standard", 8_000, {"categories": ("jeans", "tops")}),
)
#: How many demo shops are generated.
DEMO_SHOPS = len(DEMO_SHOP_SPECS)
#: Written beside the generated shops; other contents (an older demo's shops) are regenerated.
DEMO_VERSION_FILE = ".demo-version"
DEMO_VERSION = "2"


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced: the sweep, and the report's files (None when no report was written)."""

    sweep: SweepResult
    data_dir: Path
    report_files: tuple[Path, ...] | None


def run_demo(
    out_dir: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    sweep_file: str | os.PathLike[str] | None = None,
) -> DemoResult:
    """Generate the demo shops if absent, sweep them, write the report.

    ``out_dir`` (relative to the working directory) replaces the sweep file's ``output_dir``.
    """
    sweep_file = Path(sweep_file or demo_sweep_file()).resolve()
    data_dir = demo_data_dir(sweep_file)
    generate_demo_shops(data_dir)
    spec = SweepSpec.load(sweep_file)
    if out_dir is not None:
        spec = dataclasses.replace(spec, output_dir=Path(out_dir).expanduser().resolve())
    result = run_sweep(spec, workers=workers, progress=progress)
    return DemoResult(result, data_dir, _write_report(result.output_dir))


def generate_demo_shops(data_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the demo shops into ``data_dir`` unless this demo version's shops are already there."""
    from toolkit.results import write_parquet
    from toolkit.shops.generate import generate_shop, profile_of

    folder = Path(data_dir)
    marker = folder / DEMO_VERSION_FILE
    paths = [folder / f"{shop_id}.parquet" for shop_id, *_ in DEMO_SHOP_SPECS]
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == DEMO_VERSION and all(p.is_file() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_file() and stale.name.lower().endswith(SHOP_FILE_SUFFIXES):
            stale.unlink()
    for (shop_id, kind, rows, overrides), path in zip(DEMO_SHOP_SPECS, paths, strict=True):
        write_parquet(generate_shop(profile_of(kind, shop_id, **overrides), rows, seed=0), path)
    marker.write_text(DEMO_VERSION + "\n", encoding="utf-8")
    return paths


def demo_data_dir(sweep_file: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the demo shops named by the demo sweep file's `data_dir`."""
    sweep_file = Path(sweep_file or demo_sweep_file()).resolve()
    data = read_yaml_file(sweep_file, what="demo sweep file") or {}
    if not isinstance(data, dict) or not data.get("data_dir"):
        raise ParamsError(f"{sweep_file}: key 'data_dir' missing, expected the folder of the demo shops")
    folder = Path(str(data["data_dir"])).expanduser()
    return (folder if folder.is_absolute() else sweep_file.parent / folder).resolve()


def _write_report(results_dir: Path) -> tuple[Path, ...] | None:
    """The finance report when the report module is available (None otherwise)."""
    try:
        from toolkit.report.pdf import write_report
    except ImportError:
        return None
    paths = write_report(results_dir)
    return (paths.pdf, paths.xlsx, *paths.pngs)
