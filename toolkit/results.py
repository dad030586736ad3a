"""The results contract on disk: ``<output_dir>/<shop_id>/`` with runs, segments, the pick, charts.

Every file is written atomically: to a temporary file in the same folder, flushed, then renamed over
the target with ``os.replace`` — a reader sees the old file or the new one, never half of one.
The experiment deletes ``pick.json`` before it starts and writes it last, so **a shop folder holds
complete results exactly when it holds pick.json**; nothing else is read as a result.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from toolkit.errors import DataError
from toolkit.resources import project_root

__all__ = [
    "FRACTIONS_FILE",
    "MEASURED_SUMMARY_COLUMNS",
    "PICK_SUMMARY_COLUMNS",
    "SUMMARY_TEXT_COLUMNS",
    "PICK_FILE",
    "RUNS_FILE",
    "SEGMENTS_FILE",
    "ShopResults",
    "read_shop_results",
    "resolve_output_dir",
    "results_complete",
    "summary_columns",
    "write_atomically",
    "write_json",
    "write_parquet",
]

RUNS_FILE = "runs.parquet"
FRACTIONS_FILE = "fractions.parquet"
SEGMENTS_FILE = "segments.parquet"
PICK_FILE = "pick.json"


def write_atomically(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; results are ordinary files
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as Parquet, atomically."""
    return write_atomically(path, lambda file: frame.to_parquet(file, index=False))


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (NaN as null), atomically."""
    text = json.dumps(_jsonable(data), indent=2, sort_keys=False)
    return write_atomically(path, lambda file: file.write(text.encode("utf-8") + b"\n"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class ShopResults:
    """One shop's complete results as stored."""

    shop_id: str
    folder: Path
    runs: pd.DataFrame
    fractions: pd.DataFrame
    segments: pd.DataFrame
    pick: dict[str, Any]


def results_complete(folder: str | Path) -> bool:
    """True when a shop folder holds complete results (its pick.json exists)."""
    return (Path(folder) / PICK_FILE).is_file()


def read_shop_results(folder: str | Path) -> ShopResults:
    """Read a shop's complete results; a folder without pick.json is not a result."""
    folder = Path(folder)
    if not results_complete(folder):
        raise DataError(
            f"{folder}: no complete results (expected {PICK_FILE}, written last by the experiment)"
        )
    pick = json.loads((folder / PICK_FILE).read_text(encoding="utf-8"))
    runs = pd.read_parquet(folder / RUNS_FILE)
    fractions = pd.read_parquet(folder / FRACTIONS_FILE)
    segments_path = folder / SEGMENTS_FILE
    segments = pd.read_parquet(segments_path) if segments_path.exists() else pd.DataFrame()
    return ShopResults(str(pick.get("shop_id", folder.name)), folder, runs, fractions, segments, pick)


def resolve_output_dir(output_dir: str | Path | None) -> Path:
    """An absolute results folder: ``output_dir`` as given, or by default the project's
    ``results/notebook`` (see :func:`toolkit.resources.project_root`), else ``./results``."""
    if output_dir is not None:
        return Path(output_dir).expanduser().resolve()
    project = project_root()
    if (project / "results").is_dir():
        return project / "results" / "notebook"
    return Path.cwd() / "results"


#: Summary columns that follow from measured training times (money, and the sentence that states it):
#: two runs of the same sweep agree on everything else.
MEASURED_SUMMARY_COLUMNS: tuple[str, ...] = (
    "full_cost_usd_per_month", "pick_cost_usd_per_month", "saving_usd_per_month", "saving_usd_per_month_12m",
    "experiment_cost_usd", "break_even_weeks", "compute_full_trainings", "explanation",
)


#: Text columns among :func:`summary_columns`; the others are numbers or flags.
SUMMARY_TEXT_COLUMNS: tuple[str, ...] = ("verdict", "time_source", "explanation")


def summary_columns(pick: dict[str, Any]) -> dict[str, Any]:
    """A shop's pick.json as the columns of its summary row (full data, the pick, the saving)."""
    full = pick.get("full") or {}
    chosen = pick.get("pick") or {}
    money = pick.get("money") or {}
    return {
        "verdict": pick.get("verdict") or ("reduced" if pick.get("reduced") else "full"),
        "picked_fraction": pick.get("picked_fraction"),
        "reduced": bool(pick.get("reduced")),
        "full_train_rows": full.get("train_rows"),
        "full_cost_usd_per_month": full.get("cost_usd_per_month"),
        "pick_train_rows": chosen.get("train_rows"),
        "pick_cost_usd_per_month": chosen.get("cost_usd_per_month"),
        "saving_usd_per_month": pick.get("saving_usd_per_month"),
        "changed_rate": chosen.get("changed_rate"),
        "changed_rate_ci_low": chosen.get("changed_rate_ci_low"),
        "changed_rate_ci_high": chosen.get("changed_rate_ci_high"),
        "noise_floor": pick.get("noise_floor"),
        "saving_usd_per_month_12m": money.get("saving_usd_per_month_12m"),
        "production_rows": money.get("production_rows"),
        "time_source": money.get("time_source"),
        "projected": money.get("projected"),
        "experiment_cost_usd": pick.get("experiment_cost_usd"),
        "break_even_weeks": pick.get("break_even_weeks"),
        "compute_full_trainings": pick.get("compute_full_trainings"),
        "explanation": pick.get("explanation"),
    }


#: The summary's columns that come from a shop's pick.json, in order.
PICK_SUMMARY_COLUMNS: tuple[str, ...] = tuple(summary_columns({}))
