"""Read a client's purchase file (CSV or Parquet) into a raw DataFrame; write Parquet atomically.

:func:`read_table` is the only way the toolkit opens a data file (:func:`file_sha256` fingerprints
one). It accepts

* Parquet (recognised by its ``PAR1`` magic bytes, whatever the file is called), read with pyarrow;
* CSV with any common delimiter (``,`` ``;`` tab ``|``, sniffed from the first 64 KB), UTF-8
  (with or without BOM) or Latin-1, optionally gzip-compressed.

CSV cells are read as text (empty cells and the usual ``NA``/``null`` spellings become missing), so
the raw frame keeps exactly what the client sent and a quarantined row can be shown as it was.
A file that cannot be used at all raises :class:`~toolkit.errors.DataError` with one line naming
the file and what was expected.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
from pathlib import Path

import pandas as pd

from toolkit.errors import DataError

__all__ = ["file_sha256", "read_table"]

#: What every error message says the file should have been.
EXPECTED = "expected a CSV or Parquet table with a header row"

_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_FORMATS = {  # magic bytes of files clients send by mistake → what they are
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook is one; export the sheet as CSV)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document (export the sheet as CSV)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
}


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file into a raw DataFrame (CSV cells as text, Parquet as stored).

    Raises :class:`DataError` naming the file when it is missing, unreadable, empty, holds only a
    header, or is binary / not a table.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found, {EXPECTED}")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, {EXPECTED}")
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err}), {EXPECTED}") from err
    if not head.strip():
        raise DataError(f"{path}: empty file, {EXPECTED}")
    if head.startswith(_PARQUET_MAGIC):
        frame = _read_parquet(path)
    elif path.suffix.lower() in {".parquet", ".pq"}:
        raise DataError(f"{path}: not a Parquet file (no PAR1 magic bytes), {EXPECTED}")
    else:
        frame = _read_csv(path, head)
    if len(frame.columns) == 0:
        raise DataError(f"{path}: no columns found, {EXPECTED}")
    if len(frame) == 0:
        raise DataError(f"{path}: header only, no data rows, {EXPECTED} and at least one row")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    import pyarrow as pa

    text = pd.StringDtype("pyarrow")
    try:
        # strings stay in Arrow memory (compact, fast to factorize); validation makes them str
        return pq.read_table(path).to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: broken Parquet file ({err}), {EXPECTED}") from err


def _read_csv(path: Path, head: bytes) -> pd.DataFrame:
    compression = None
    if head.startswith(_GZIP_MAGIC):
        compression = "gzip"
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(_SAMPLE_BYTES)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: broken gzip file ({err}), {EXPECTED}") from err
        if not head.strip():
            raise DataError(f"{path}: empty file (after gunzip), {EXPECTED}")
    for magic, what in _OTHER_FORMATS.items():
        if head.startswith(magic):
            raise DataError(f"{path}: looks like {what}, {EXPECTED}")
    if _looks_binary(head):
        raise DataError(f"{path}: binary file, not a table; {EXPECTED}")
    encoding, text = _decode(head)
    delimiter = _sniff_delimiter(text)
    try:
        return _read_csv_fast(path, text.lstrip("\ufeff").splitlines()[0], delimiter, encoding, compression)
    except Exception:  # anything pyarrow cannot read, the C parser reads or explains
        pass
    try:
        return pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype=str,
            compression=compression,
            skipinitialspace=True,
            low_memory=False,
        )
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: empty file, {EXPECTED}") from err
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1]
        raise DataError(f"{path}: not a consistent table ({detail}), {EXPECTED}") from err
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: text encoding not UTF-8 or Latin-1 ({err.reason}), {EXPECTED}") from err


_NULLS = ["", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "None", "#N/A", "<NA>"]


def _read_csv_fast(path: Path, header: str, delimiter: str, encoding: str, compression: str | None) -> pd.DataFrame:
    """Multi-threaded pyarrow CSV reader, every cell as Arrow-backed text exactly as written."""
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    names = next(csv.reader([header], delimiter=delimiter))
    if len(set(names)) != len(names) or any(not name.strip() for name in names):
        raise ValueError("duplicate or empty column names")  # the C parser renames them
    with pa.input_stream(str(path), compression=compression) as stream:
        table = arrow_csv.read_csv(
            stream,
            read_options=arrow_csv.ReadOptions(encoding="utf8" if encoding.startswith("utf-8") else encoding),
            parse_options=arrow_csv.ParseOptions(delimiter=delimiter),
            convert_options=arrow_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=_NULLS,
                strings_can_be_null=True,
            ),
        )
    text = pd.StringDtype("pyarrow")
    return table.to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or more than 5% control characters other than tab/CR/LF, mean not a text table."""
    if b"\x00" in head:
        return True
    control = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    return control > 0.05 * len(head)


def _decode(head: bytes) -> tuple[str, str]:
    """The encoding to read the file with, and the decoded sample (UTF-8 first, then Latin-1)."""
    try:
        # A sample cut mid-character is still UTF-8: ignore an incomplete last character.
        text = head.decode("utf-8-sig", errors="strict")
        return "utf-8-sig", text
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 3:
            return "utf-8-sig", head[: err.start].decode("utf-8-sig")
        return "latin-1", head.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV sample; ',' when the sample has a single column or cannot be told."""
    lines = text.splitlines()
    if len(lines) > 1 and len(text) >= _SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last line of a sample may be cut
    sample = "\n".join(lines[:200])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes (hex): which data produced a result or an exported model."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
