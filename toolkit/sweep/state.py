"""What a sweep leaves on disk per shop, and the summary rebuilt from it.

Under ``<output_dir>/<shop folder>/`` (:func:`~toolkit.results.shop_folder_name`), besides the
experiment's results contract (pick.json last, then the seal ``results.sha256``):

* ``fraction_sweep.ipynb`` — the executed notebook (on failure it shows the failing cell);
* ``run.log`` — papermill's messages and the kernel's stdout/stderr;
* ``complete.json`` — **the completeness marker**: the run's ``params_hash`` (notebook content +
  parameters + data file content + column map content), written atomically only after the notebook
  succeeded and its results parse (they are sealed then, if the notebook did not). A shop is
  complete for a sweep exactly when its marker holds the sweep's hash *and* its results pass
  :func:`~toolkit.results.verify_shop_results` (pick.json and the tables parse, and match their
  seal); anything else — a corrupted or edited result included — is rerun;
* ``failed.json`` — why the last run failed (one line), its status (``failed`` or ``timed_out``)
  and where its notebook is.

Before a shop starts, its marker, failure record, pick.json and seal are deleted, and a failed run
deletes pick.json and the seal too, so a run killed at any moment leaves a shop that is simply not
complete and no stale pick is ever shown as current. ``<output_dir>/summary.parquet`` (one row per
shop) is rebuilt from these files alone, so a resumed sweep's summary equals an uninterrupted one's
except the run-bookkeeping columns :data:`RUN_COLUMNS`. Statuses: ``ok``, ``failed``,
``timed_out``, ``missing`` (not run yet), ``unreadable`` / ``tampered`` (complete once, but a result
file no longer parses / differs from its seal).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import contextlib

import pandas as pd

from toolkit.errors import OutputError
from toolkit.experiment.pricing import DEFAULT_PRICING_PATH
from toolkit.resources import toolkit_version
from toolkit.results import (
    PICK_FILE,
    SEAL_FILE,
    SUMMARY_FILE,
    SWEEP_MARKER_FILE,
    clear_results,
    hash_file_into,
    seal_results,
    summary_frame,
    summary_row,
    verify_shop_results,
    write_json,
    write_parquet,
)

__all__ = [
    "FAILED_FILE",
    "LOG_FILE",
    "MARKER_FILE",
    "NOTEBOOK_FILE",
    "RUN_COLUMNS",
    "SUMMARY_FILE",
    "SWEEP_COLUMNS",
    "ShopRun",
    "build_summary",
    "clear_shop",
    "is_complete",
    "params_hash",
    "record_complete",
    "record_failure",
    "write_summary",
]

MARKER_FILE = SWEEP_MARKER_FILE
FAILED_FILE = "failed.json"
NOTEBOOK_FILE = "fraction_sweep.ipynb"
LOG_FILE = "run.log"
#: The sweep's own columns after the summary's (:data:`toolkit.results.SUMMARY_COLUMNS`).
SWEEP_COLUMNS: tuple[str, ...] = ("notebook_path", "log_path", "data_path", "params_hash", "run_seconds", "finished_at")

#: Summary columns about when and how long a shop ran (they differ between a resumed and an
#: uninterrupted sweep; every other column is a function of the results).
RUN_COLUMNS: tuple[str, ...] = ("run_seconds", "finished_at")

#: Parameters naming per-shop paths; their *content* is hashed, not their location.
_PATH_PARAMETERS = ("data_path", "column_map", "output_dir")
_HASH_VERSION = b"enough-sweep-1\n"


@dataclass(frozen=True)
class ShopRun:
    """One shop of a sweep, planned: what to run and where its results go (all paths absolute)."""

    shop_id: str
    data_path: Path
    column_map: Path | None
    shop_dir: Path
    notebook: Path
    parameters: Mapping[str, Any]
    #: seconds the shop's notebook may run once its kernel is ready (None: no limit)
    timeout_s: float | None = None
    #: run in a kernel of its own (True) rather than on its worker thread's warm kernel
    fresh_kernel: bool = False

    @property
    def executed_notebook(self) -> Path:
        return self.shop_dir / NOTEBOOK_FILE

    @property
    def log_path(self) -> Path:
        return self.shop_dir / LOG_FILE


def params_hash(run: ShopRun) -> str:
    """SHA-256 of the notebook, the parameters and the content of every file they name.

    Paths themselves are left out (moving the data folder does not rerun anything); the bytes of
    the data file, the column map, and any parameter file (``*_path`` / ``*_file``) are in.
    """
    digest = hashlib.sha256(_HASH_VERSION)
    digest.update(run.notebook.read_bytes())
    kept = {key: value for key, value in run.parameters.items() if key not in _PATH_PARAMETERS}
    digest.update(json.dumps(kept, sort_keys=True, default=str).encode())
    # Prices change the money in every result: the pricing file in use is an input too.
    pricing = None if run.parameters.get("pricing_path") else DEFAULT_PRICING_PATH
    for path in (run.data_path, run.column_map, pricing, *_parameter_files(run.parameters)):
        digest.update(b"\0file\0")
        if path is not None and Path(path).is_file():
            hash_file_into(digest, path)
    digest.update(f"\0toolkit {toolkit_version()}".encode())  # a new release reruns every shop
    return digest.hexdigest()


def _parameter_files(parameters: Mapping[str, Any]) -> list[Path]:
    files = []
    for key, value in sorted(parameters.items()):
        named_file = isinstance(value, str) and key.endswith(("_path", "_file")) and Path(value).is_file()
        if key not in _PATH_PARAMETERS and named_file:
            files.append(Path(value))
    return files


def is_complete(run: ShopRun, digest: str) -> bool:
    """True when the shop's marker holds ``digest`` and its results parse and match their seal."""
    marker = _read_json(run.shop_dir / MARKER_FILE)
    return (
        marker is not None and marker.get("params_hash") == digest and verify_shop_results(run.shop_dir) is None
    )


def clear_shop(run: ShopRun) -> None:
    """Forget the shop's last run: marker first, then failure record, pick.json and seal, and the
    partial notebook of a run that was killed."""
    for name in (MARKER_FILE, FAILED_FILE):
        (run.shop_dir / name).unlink(missing_ok=True)
    clear_results(run.shop_dir)
    for stray in run.shop_dir.glob(".*.partial.ipynb"):
        stray.unlink(missing_ok=True)


def record_complete(run: ShopRun, digest: str, run_seconds: float) -> None:
    """Seal the results (unless the notebook did) and write the completeness marker, atomically;
    call only once :func:`~toolkit.results.verify_shop_results` passed."""
    if not (run.shop_dir / SEAL_FILE).is_file():
        seal_results(run.shop_dir)
    write_json(
        {
            "shop_id": run.shop_id,
            "params_hash": digest,
            "data_path": str(run.data_path),
            "notebook_path": str(run.executed_notebook),
            "run_seconds": round(run_seconds, 3),
            "finished_at": _now(),
        },
        run.shop_dir / MARKER_FILE,
    )


def record_failure(
    run: ShopRun, digest: str | None, error: str, run_seconds: float | None, *, status: str = "failed"
) -> None:
    """Write why the shop failed (atomically); no marker, pick.json or seal is left to claim it complete.

    Never raises for the file system: where nothing can be written (disk full, read-only), the
    failure is only in the sweep's outcome and summary.
    """
    with contextlib.suppress(OSError):
        (run.shop_dir / MARKER_FILE).unlink(missing_ok=True)
        clear_results(run.shop_dir)
    with contextlib.suppress(OSError, OutputError):
        _write_failure(run, digest, error, run_seconds, status)


def _write_failure(run: ShopRun, digest: str | None, error: str, run_seconds: float | None, status: str) -> None:
    write_json(
        {
            "shop_id": run.shop_id,
            "status": status,
            "params_hash": digest,
            "error": error,
            "data_path": str(run.data_path),
            "notebook_path": str(run.executed_notebook) if run.executed_notebook.exists() else None,
            "log_path": str(run.log_path) if run.log_path.exists() else None,
            "run_seconds": None if run_seconds is None else round(run_seconds, 3),
            "finished_at": _now(),
        },
        run.shop_dir / FAILED_FILE,
    )


def build_summary(runs: Iterable[ShopRun], digests: Mapping[str, str | None]) -> pd.DataFrame:
    """One row per shop, from its marker, failure record and pick.json (``digests``: shop → hash)."""
    frame = summary_frame([_summary_row(run, digests.get(run.shop_id)) for run in runs], SWEEP_COLUMNS)
    frame["run_seconds"] = pd.to_numeric(frame["run_seconds"], errors="coerce").astype("float64")
    for column in ("notebook_path", "log_path", "params_hash", "finished_at"):
        frame[column] = frame[column].astype("string")
    return frame


def write_summary(frame: pd.DataFrame, output_dir: Path) -> Path:
    """Write ``summary.parquet`` atomically; returns its path."""
    return write_parquet(frame, Path(output_dir) / SUMMARY_FILE)


def _summary_row(run: ShopRun, digest: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {**summary_row(run.shop_id, "missing"), **dict.fromkeys(SWEEP_COLUMNS)}
    row.update(data_path=str(run.data_path), params_hash=digest)
    marker = _read_json(run.shop_dir / MARKER_FILE)
    failure = _read_json(run.shop_dir / FAILED_FILE)
    current = marker is not None and (digest is None or marker.get("params_hash") == digest)
    problem = verify_shop_results(run.shop_dir) if current else None  # only current results are read
    if current and problem is not None and problem.status != "incomplete":
        row.update(status=problem.status, error=problem.reason, params_hash=marker.get("params_hash"))
    elif current and problem is None:
        row.update(summary_row(run.shop_id, "ok", _read_json(run.shop_dir / PICK_FILE)))
        row.update(
            params_hash=marker.get("params_hash"),
            notebook_path=str(run.executed_notebook),
            log_path=str(run.log_path),
            run_seconds=marker.get("run_seconds"),
            finished_at=marker.get("finished_at"),
        )
    elif failure is not None and (digest is None or failure.get("params_hash") in (digest, None)):
        row.update(
            status=str(failure.get("status") or "failed"),
            error=failure.get("error"),
            notebook_path=failure.get("notebook_path"),
            log_path=failure.get("log_path"),
            run_seconds=failure.get("run_seconds"),
            finished_at=failure.get("finished_at"),
        )
    return row


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
