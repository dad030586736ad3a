"""The results contract on disk: ``<output_dir>/<shop_id>/`` with runs, segments, the pick, charts.

A shop's folder is named by :func:`shop_folder_name` (safe, unique and reversible for any shop id).
Every file is written atomically: to a temporary file in the same folder, flushed, then renamed over
the target with ``os.replace`` — a reader sees the old file or the new one, never half of one; a
write that fails (disk full, read-only folder) leaves no temporary file and raises
:class:`~toolkit.errors.OutputError`. The experiment deletes ``pick.json`` before it starts and
writes it last, so **a shop folder holds complete results exactly when it holds pick.json**; nothing
else is read as a result. Complete results are then sealed: ``results.sha256`` holds the SHA-256 of
``pick.json``, ``runs.parquet`` and ``segments.parquet`` (``sha256sum -c results.sha256`` checks it),
and :func:`verify_shop_results` tells results that cannot be read, or changed since, from current ones.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import string
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import pandas as pd

from toolkit.errors import DataError, OutputError, ParamsError, os_error_reason
from toolkit.resources import project_root

__all__ = [
    "FRACTIONS_FILE",
    "MEASURED_SUMMARY_COLUMNS",
    "SUMMARY_COLUMNS",
    "SUMMARY_FILE",
    "PICK_SUMMARY_COLUMNS",
    "SUMMARY_TEXT_COLUMNS",
    "PICK_FILE",
    "RUNS_FILE",
    "SEAL_FILE",
    "SWEEP_MARKER_FILE",
    "SEGMENTS_FILE",
    "ResultsProblem",
    "ShopResults",
    "atomic_file",
    "clear_results",
    "file_sha256",
    "hash_file_into",
    "prepare_output_dir",
    "read_shop_results",
    "resolve_output_dir",
    "results_complete",
    "seal_results",
    "shop_folder_name",
    "shop_id_of_folder",
    "summary_columns",
    "summary_frame",
    "summary_row",
    "verify_shop_results",
    "write_atomically",
    "write_json",
    "write_parquet",
]

RUNS_FILE = "runs.parquet"
FRACTIONS_FILE = "fractions.parquet"
SEGMENTS_FILE = "segments.parquet"
PICK_FILE = "pick.json"
SEAL_FILE = "results.sha256"
#: The shop's chart (drift and cost per fraction) as ``write_results`` saves it, at CHART_DPI.
CHART_FILE = "drift_cost.png"
CHART_DPI = 120
#: Written by a sweep after it sealed a shop's results: such a folder must have its seal.
SWEEP_MARKER_FILE = "complete.json"
#: The files a shop's results are read from, and so the files the seal covers.
SEALED_FILES: tuple[str, ...] = (PICK_FILE, RUNS_FILE, FRACTIONS_FILE, SEGMENTS_FILE)


#: Characters a shop id keeps in its folder name; every other character is written ``%XX``.
_PLAIN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.")
#: Longest folder name kept reversible: room under the usual 255-byte limit for ``shop_<name>.png``
#: and the temporary files written beside it.
_MAX_NAME_BYTES = 200
_HASHED_MARK = "~"


def shop_folder_name(shop_id: str) -> str:
    """The file-system name of a shop id: safe in any path, unique per id, reversible.

    Letters, digits, ``-``, ``_`` and ``.`` stay as they are (so ``shop-01-alpine`` is its own name);
    every other character — ``/``, ``\\``, spaces, ``&``, ``{}``, ``%``, non-ASCII — and a leading
    ``.`` (``.``, ``..``, hidden names) become ``%XX`` per UTF-8 byte, as in a URL. The name never
    holds a path separator or braces, cannot climb out of its folder, and
    :func:`shop_id_of_folder` gives the id back. An id whose name would exceed 200 bytes (no
    real shop id does) is shortened and ends in ``~`` + a SHA-256 prefix of the id: still unique,
    but read back from the folder's files instead of its name.
    """
    if not isinstance(shop_id, str) or not shop_id:
        raise ParamsError(f"shop id: expected a non-empty text, got {shop_id!r}")
    parts = []
    for position, character in enumerate(shop_id):
        if character in _PLAIN_CHARACTERS and not (position == 0 and character == "."):
            parts.append(character)
        else:
            parts.extend(f"%{byte:02X}" for byte in character.encode("utf-8", "surrogatepass"))
    name = "".join(parts)
    if len(name) <= _MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(shop_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    kept = name[: _MAX_NAME_BYTES - len(digest) - 1]
    kept = kept[: kept.rfind("%")] if "%" in kept[-2:] else kept  # never cut an escape in two
    return f"{kept}{_HASHED_MARK}{digest}"


def shop_id_of_folder(name: str) -> str:
    """The shop id a :func:`shop_folder_name` stands for (a shortened or foreign name as it is)."""
    if _HASHED_MARK in name:
        return name
    try:
        return unquote(name, errors="surrogatepass")
    except UnicodeDecodeError:
        return name


def write_atomically(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    Raises :class:`OutputError` naming ``path`` when it cannot be written (its folder is a file or
    read-only, the disk is full); the temporary file is removed whatever happens.
    """
    path = Path(path)
    with atomic_file(path) as file:
        write(file)
    return path


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``path`` (atomically) when the ``with`` block ends without error."""
    path = Path(path)
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(name)
        with os.fdopen(handle, "wb") as file:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; results are ordinary files
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as err:
        raise OutputError(f"{path}: cannot be written ({os_error_reason(err)}), {_WRITABLE}") from err
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


_WRITABLE = "expected a folder this user can write to, on a disk with free space"


def prepare_output_dir(folder: str | Path, *, what: str) -> Path:
    """Create ``folder`` when missing and check that files can be written in it — before any work.

    ``what`` names the setting in the message (``--out``, ``output_dir in sweep.yaml``). Raises
    :class:`OutputError` when ``folder`` is a file, lies under a file, or is not writable.
    """
    folder = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".enough-write-check.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{what} {folder}: cannot write there ({os_error_reason(err)}), {_WRITABLE}") from err
    return folder


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
    """Read a shop's complete results; :class:`DataError` naming the file when one is missing or
    cannot be read (a folder without pick.json is not a result)."""
    folder = Path(folder)
    if not results_complete(folder):
        raise DataError(
            f"{folder}: no complete results (expected {PICK_FILE}, written last by the experiment)"
        )
    try:
        pick = json.loads((folder / PICK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON or bad UTF-8
        raise DataError(f"{folder / PICK_FILE}: cannot be read ({_first_line(err)}), expected the pick as JSON") from err
    if not isinstance(pick, dict):
        raise DataError(f"{folder / PICK_FILE}: holds {type(pick).__name__}, expected the pick as a JSON object")
    runs = _read_table(folder / RUNS_FILE)
    fractions = _read_table(folder / FRACTIONS_FILE)
    segments_path = folder / SEGMENTS_FILE
    segments = _read_table(segments_path) if segments_path.exists() else pd.DataFrame()
    return ShopResults(str(pick.get("shop_id", shop_id_of_folder(folder.name))), folder, runs, fractions, segments, pick)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except FileNotFoundError as err:
        raise DataError(f"{path}: missing, expected the shop's table beside {PICK_FILE}") from err
    except Exception as err:  # pyarrow raises several types for truncated or corrupt files
        raise DataError(f"{path}: cannot be read ({_first_line(err)}), expected a Parquet table") from err


def _first_line(err: BaseException) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)


@dataclass(frozen=True)
class ResultsProblem:
    """Why a shop folder's results are not shown as current: ``status`` and a one-line ``reason``.

    ``incomplete``: no pick.json; ``unreadable``: a result file is missing or does not parse;
    ``tampered``: a file differs from the SHA-256 sealed when the results were completed.
    """

    status: str
    reason: str


def verify_shop_results(folder: str | Path) -> ResultsProblem | None:
    """None when the folder holds complete results that parse and match their seal.

    Results without a seal pass (written before seals existed, or by hand) unless a sweep completed
    them: a sweep seals before it writes its marker, so a marked folder without its seal was edited.
    """
    folder = Path(folder)
    if not results_complete(folder):
        return ResultsProblem("incomplete", f"{folder / PICK_FILE} missing: the experiment did not finish")
    try:
        read_shop_results(folder)
    except DataError as err:
        return ResultsProblem("unreadable", str(err))
    seal = folder / SEAL_FILE
    if not seal.exists():
        if (folder / SWEEP_MARKER_FILE).exists():
            return ResultsProblem(
                "tampered",
                f"{seal} missing: a sweep completed these results and sealed them, so they cannot be "
                "checked; expected the files as written (rerun the shop)",
            )
        return None  # results written before seals existed, or by hand
    try:
        sealed = _read_seal(seal)
    except (OSError, ValueError) as err:
        return ResultsProblem("tampered", f"{seal}: cannot be read ({_first_line(err)}), expected SHA-256 lines")
    for name in SEALED_FILES:
        try:
            now = file_sha256(folder / name) if (folder / name).is_file() else None
        except OSError as err:
            return ResultsProblem("unreadable", f"{folder / name}: cannot be read ({os_error_reason(err)})")
        if now != sealed.get(name):
            return ResultsProblem(
                "tampered",
                f"{folder / name}: {'changed' if now and sealed.get(name) else 'added or removed'} since the "
                f"results were completed (SHA-256 differs from {SEAL_FILE}), expected the files as written",
            )
    return None


def seal_results(folder: str | Path) -> Path:
    """Write ``results.sha256`` (``sha256sum`` format) for the result files present; call it last."""
    folder = Path(folder)
    lines = [f"{file_sha256(folder / name)}  {name}\n" for name in SEALED_FILES if (folder / name).is_file()]
    return write_atomically(folder / SEAL_FILE, lambda file: file.write("".join(lines).encode("utf-8")))


def clear_results(folder: str | Path) -> None:
    """Forget a folder's complete results before they are rewritten: pick.json, then the seal."""
    for name in (PICK_FILE, SEAL_FILE):
        (Path(folder) / name).unlink(missing_ok=True)


def _read_seal(path: Path) -> dict[str, str]:
    sealed = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise ValueError(f"line {line[:40]!r}")
        sealed[name] = digest
    return sealed


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes (hex): a seal's lines, and which data produced a result or an export."""
    digest = hashlib.sha256()
    hash_file_into(digest, path)
    return digest.hexdigest()


def hash_file_into(digest: Any, path: str | os.PathLike[str]) -> None:
    """Feed a file's bytes to ``digest`` (a hashlib object), a megabyte at a time."""
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)


def resolve_output_dir(output_dir: str | Path | None) -> Path:
    """An absolute results folder, created and checked writable now, before any training:
    ``output_dir`` as given, or by default the project's ``results/notebook`` (see
    :func:`toolkit.resources.project_root`), else ``./results``. Raises :class:`OutputError`."""
    project = project_root()
    if output_dir is not None:
        folder = Path(output_dir).expanduser().resolve()
    elif (project / "results").is_dir():
        folder = project / "results" / "notebook"
    else:
        folder = Path.cwd() / "results"
    return prepare_output_dir(folder, what="output_dir")


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
        "verdict": pick.get("verdict") or _verdict_of_reduced(pick.get("reduced")),
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


def _verdict_of_reduced(reduced: bool | None) -> str | None:
    """The verdict of a pick.json written before verdicts existed (None without ``reduced``)."""
    return None if reduced is None else ("reduced" if reduced else "full")


#: The summary's columns that come from a shop's pick.json, in order.
PICK_SUMMARY_COLUMNS: tuple[str, ...] = tuple(summary_columns({}))

#: ``summary.parquet``: one row per shop. The columns every summary has, in order; a sweep adds its
#: run bookkeeping after them.
SUMMARY_FILE = "summary.parquet"
SUMMARY_COLUMNS: tuple[str, ...] = ("shop_id", "status", *PICK_SUMMARY_COLUMNS, "error")


def summary_row(shop_id: str, status: str, pick: dict[str, Any] | None = None, error: str | None = None) -> dict[str, Any]:
    """One shop's summary row: its status and, with results, its pick.json's columns (empty without)."""
    columns = summary_columns(pick) if pick is not None else dict.fromkeys(PICK_SUMMARY_COLUMNS)
    return {"shop_id": shop_id, "status": status, **columns, "error": error}


def summary_frame(rows: list[dict[str, Any]], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The summary table of ``rows`` (from :func:`summary_row`, plus ``extra_columns``), typed the
    same way whoever builds it, sorted by shop."""
    frame = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *extra_columns])
    for column in ("full_train_rows", "pick_train_rows"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    flags = ("reduced", "projected")
    for column in flags:
        frame[column] = frame[column].astype("boolean")
    numbers = [c for c in PICK_SUMMARY_COLUMNS if c not in (*SUMMARY_TEXT_COLUMNS, *flags, "full_train_rows", "pick_train_rows")]
    for column in numbers:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in (*SUMMARY_TEXT_COLUMNS, "error"):
        frame[column] = frame[column].astype("string")
    return frame.sort_values("shop_id", kind="stable").reset_index(drop=True)
