"""Read a client's purchase file (CSV or Parquet) into a raw DataFrame; write Parquet atomically.

:func:`read_table` is the only way the toolkit opens a data file
(:func:`toolkit.results.file_sha256` fingerprints one). It accepts

* Parquet (recognised by its ``PAR1`` magic bytes, whatever the file is called), read with pyarrow;
* CSV with any common delimiter (``,`` ``;`` tab ``|``, sniffed from the first 64 KB), UTF-8
  (with or without BOM), UTF-16 (with a BOM, or told by its NUL bytes) or Latin-1 (also when the
  first non-UTF-8 byte comes late in the file), optionally gzip-compressed;
* a named pipe or ``/dev/stdin`` (``enough validate <(zcat shop.csv.gz)``): it is copied to a private
  temporary file first, so nothing of it is lost, and a pipe nothing writes to is refused after
  :data:`PIPE_WAIT_SECONDS` instead of waiting forever. Devices and sockets are refused.

CSV cells are read as text (empty cells and the usual ``NA``/``null`` spellings become missing), so
the raw frame keeps exactly what the client sent and a quarantined row can be shown as it was. A row
with fewer fields than the header is kept (its missing cells empty); a row with more fields keeps the
header's number of cells and the rest in the column :data:`EXTRA_FIELDS` (validation quarantines
it). A header naming a column twice is an error naming it.
A file that cannot be used at all raises :class:`~toolkit.errors.DataError` with one line naming
the file and what was expected.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
import select
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toolkit.errors import DataError, os_error_reason

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["EXTRA_FIELDS", "GZIP_MAGIC", "PIPE_WAIT_SECONDS", "SAMPLE_BYTES", "decode", "read_table", "sniff_delimiter"]

#: What every error message says the file should have been.
EXPECTED = "expected a CSV or Parquet table with a header row"

#: The column holding the cells of a CSV row beyond the header's (joined by the delimiter).
EXTRA_FIELDS = "(extra fields)"

#: How long a named pipe may wait for something to write to it.
PIPE_WAIT_SECONDS = 60.0

SAMPLE_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}
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
    header, names a column twice, or is binary / not a table.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as err:
        raise DataError(f"{path}: file not found, {EXPECTED}") from err
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({os_error_reason(err)}), {EXPECTED}") from err
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a folder, {EXPECTED}")
    if stat.S_ISFIFO(mode):
        with _copy_of_pipe(path) as copy:
            return _read_file(copy, path)
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: is a device or socket, not a file or pipe; {EXPECTED}")
    return _read_file(path, path)


@contextlib.contextmanager
def _copy_of_pipe(path: Path) -> Iterator[Path]:
    """The whole content of a pipe, in a private temporary file removed afterwards."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even with no writer
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({os_error_reason(err)}), {EXPECTED}") from err
    with os.fdopen(descriptor, "rb", buffering=0) as pipe:
        ready, _, _ = select.select([pipe], [], [], PIPE_WAIT_SECONDS)
        if not ready:
            raise DataError(
                f"{path}: a pipe nothing wrote to within {PIPE_WAIT_SECONDS:g} s, {EXPECTED} "
                "(start the program writing to it, or give a file)"
            )
        os.set_blocking(descriptor, True)
        handle, name = tempfile.mkstemp(prefix="enough-pipe-", suffix=".data")
        copy = Path(name)
        try:
            with os.fdopen(handle, "wb") as file:
                shutil.copyfileobj(pipe, file, 1 << 20)
            yield copy
        except OSError as err:
            raise DataError(f"{path}: cannot be copied from the pipe ({os_error_reason(err)}), {EXPECTED}") from err
        finally:
            copy.unlink(missing_ok=True)


def _read_file(path: Path, shown: Path) -> pd.DataFrame:
    """Read the regular file ``path``; messages name ``shown`` (the file the user gave)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as err:
        raise DataError(f"{shown}: cannot be read ({os_error_reason(err)}), {EXPECTED}") from err
    if not head.strip():
        raise DataError(f"{shown}: empty file, {EXPECTED}")
    if head.startswith(_PARQUET_MAGIC):
        frame = _read_parquet(path, shown)
        _check_header([str(name) for name in frame.columns], shown)
    elif shown.suffix.lower() in {".parquet", ".pq"}:
        raise DataError(f"{shown}: not a Parquet file (no PAR1 magic bytes), {EXPECTED}")
    else:
        frame = _read_csv(path, head, shown)
    if len(frame.columns) == 0:
        raise DataError(f"{shown}: no columns found, {EXPECTED}")
    if len(frame) == 0:
        raise DataError(f"{shown}: header only, no data rows, {EXPECTED} and at least one row")
    return frame


def _check_header(names: list[str], shown: Path) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.strip()
        if key in seen:
            raise DataError(
                f"{shown}: column '{key}' appears twice in the header (columns {seen[key]} and {position}), "
                f"{EXPECTED} naming each column once"
            )
        seen[key] = position


def _read_parquet(path: Path, shown: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    import pyarrow as pa

    text = pd.StringDtype("pyarrow")
    try:
        file = pq.ParquetFile(path)
        schema = file.schema_arrow
        columns, fields = [], []
        for field in schema:  # one column at a time: a 10-million-row file is never all text at once
            column = file.read(columns=[field.name], use_pandas_metadata=False).column(0)
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                column, field = _compact_text(column, field)
            columns.append(column)
            fields.append(field)
        table = pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=schema.metadata))
        del columns
        # Other strings stay in Arrow memory (compact, fast to factorize); validation makes them str.
        # Each column's Arrow buffers are freed as it is converted (one block per column: no copies).
        return table.to_pandas(
            types_mapper={pa.string(): text, pa.large_string(): text}.get, split_blocks=True, self_destruct=True
        )
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(f"{shown}: broken Parquet file ({err}), {EXPECTED}") from err


#: A text column whose first rows hold at most this share of distinct values is read as a categorical.
_CATEGORICAL_SHARE = 0.1
_SAMPLE_ROWS = 100_000


def _compact_text(column: pa.ChunkedArray, field: pa.Field) -> tuple[pa.ChunkedArray, pa.Field]:
    """A text column of few distinct values (gender, category, outcome …) as a dictionary: its
    codes, not one string per row; a column of many (shopper ids) as it is (judged on its first rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = column.slice(0, _SAMPLE_ROWS)
    if pc.count_distinct(sample).as_py() > max(1, int(len(sample) * _CATEGORICAL_SHARE)):
        return column, field
    encoded = pc.dictionary_encode(column)
    return encoded, pa.field(field.name, encoded.type, nullable=field.nullable, metadata=field.metadata)


def _read_csv(path: Path, head: bytes, shown: Path) -> pd.DataFrame:
    compression = None
    if head.startswith(GZIP_MAGIC):
        compression = "gzip"
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(SAMPLE_BYTES)
        except (OSError, EOFError) as err:
            raise DataError(f"{shown}: broken gzip file ({err}), {EXPECTED}") from err
        if not head.strip():
            raise DataError(f"{shown}: empty file (after gunzip), {EXPECTED}")
    for magic, what in _OTHER_FORMATS.items():
        if head.startswith(magic):
            raise DataError(f"{shown}: looks like {what}, {EXPECTED}")
    encoding, text = decode(head)
    if encoding is None:
        raise DataError(f"{shown}: binary file, not a table; {EXPECTED}")
    delimiter = sniff_delimiter(text)
    lines = text.lstrip("\ufeff").splitlines()
    names = [name or f"Unnamed: {i}" for i, name in enumerate(next(csv.reader(lines[:1], delimiter=delimiter), []))]
    _check_header(names, shown)
    # A file whose sample is UTF-8 may still hold Latin-1 further on: then it is read as Latin-1.
    for attempt in [encoding] + (["latin-1"] if encoding == "utf-8-sig" else []):
        try:
            return _read_csv_arrow(path, names, delimiter, attempt, compression)
        except _NotThisEncoding:
            continue
        except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a malformed file
            detail = next((line for line in str(err).strip().splitlines() if line.strip()), type(err).__name__)
            raise DataError(f"{shown}: not a consistent table ({detail}), {EXPECTED}") from err
    raise DataError(f"{shown}: text encoding not UTF-8, UTF-16 or Latin-1, {EXPECTED}")


_NULLS = ["", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "None", "#N/A", "<NA>"]


class _NotThisEncoding(Exception):
    """The file does not decode with the encoding tried."""


def _read_csv_arrow(
    path: Path, names: list[str], delimiter: str, encoding: str, compression: str | None
) -> pd.DataFrame:
    """pyarrow's CSV reader, every cell as Arrow-backed text exactly as written.

    First multi-threaded and strict; a file with rows of other lengths or line breaks inside quoted
    cells is read again in one thread, keeping those rows (see the module docstring).
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    odd_rows: list[tuple[int, str]] = []

    def keep_aside(row: arrow_csv.InvalidRow) -> str:
        odd_rows.append((row.number, row.text))
        return "skip"

    def read(tolerant: bool) -> pa.Table:
        with pa.input_stream(str(path), compression=compression) as stream:
            return arrow_csv.read_csv(
                stream,
                read_options=arrow_csv.ReadOptions(
                    encoding="utf8" if encoding.startswith("utf-8") else encoding,
                    column_names=names, skip_rows=1, use_threads=not tolerant,
                ),
                parse_options=arrow_csv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=tolerant,
                    invalid_row_handler=keep_aside if tolerant else None,
                ),
                convert_options=arrow_csv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    null_values=_NULLS,
                    strings_can_be_null=True,
                ),
            )

    try:
        try:
            table = read(tolerant=False)
        except pa.ArrowInvalid as err:
            if "UTF8" in str(err):
                raise
            table = read(tolerant=True)
    except pa.ArrowInvalid as err:
        if "UTF8" in str(err):
            raise _NotThisEncoding from err
        raise
    text = pd.StringDtype("pyarrow")
    frame = table.to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)
    return _with_odd_rows(frame, odd_rows, delimiter) if odd_rows else frame


def _with_odd_rows(frame: pd.DataFrame, odd_rows: list[tuple[int, str]], delimiter: str) -> pd.DataFrame:
    """Put rows of another length back at their place: short ones padded, long ones cut, the rest of
    their cells in :data:`EXTRA_FIELDS`."""
    width = len(frame.columns)
    records, extras = [], []
    for _, line in odd_rows:
        cells = next(csv.reader([line], delimiter=delimiter), [])
        cells = [None if cell.strip() in _NULLS else cell for cell in cells]
        records.append((cells + [None] * width)[:width])
        extras.append(delimiter.join(str(cell or "") for cell in cells[width:]) if len(cells) > width else None)
    odd = pd.DataFrame(records, columns=frame.columns, dtype=pd.StringDtype("pyarrow"))
    positions = np.array([number - 2 for number, _ in odd_rows])  # number: 1 is the header
    combined = pd.concat([frame, odd], ignore_index=True)
    order = np.empty(len(combined), dtype=np.int64)
    is_odd = np.zeros(len(combined), dtype=bool)
    is_odd[positions] = True
    order[positions] = np.arange(len(frame), len(combined))
    order[~is_odd] = np.arange(len(frame))
    combined = combined.iloc[order].reset_index(drop=True)
    if any(extra is not None for extra in extras):
        column = np.full(len(combined), None, dtype=object)
        column[positions] = extras
        combined[EXTRA_FIELDS] = pd.array(column, dtype=pd.StringDtype("pyarrow"))
    return combined


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or more than 5% control characters other than tab/CR/LF, mean not a text table."""
    if b"\x00" in head:
        return True
    control = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    return control > 0.05 * len(head)


def decode(head: bytes) -> tuple[str | None, str]:
    """The encoding to read the file with, and the decoded sample (None: binary, not a table).

    UTF-16 first (a BOM, or NUL bytes in every other position), then UTF-8, then Latin-1.
    """
    utf16 = _utf16(head)
    if utf16 is not None:
        text = head[: len(head) // 2 * 2].decode(utf16, errors="ignore")  # a sample may end mid-character
        return (None, "") if _looks_binary(text.encode("utf-8", "replace")) else (utf16, text)
    if _looks_binary(head):
        return None, ""
    try:
        # A sample cut mid-character is still UTF-8: ignore an incomplete last character.
        text = head.decode("utf-8-sig", errors="strict")
        return "utf-8-sig", text
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 3:
            return "utf-8-sig", head[: err.start].decode("utf-8-sig")
        return "latin-1", head.decode("latin-1")


def _utf16(head: bytes) -> str | None:
    """``utf-16`` (with BOM), ``utf-16-le`` / ``utf-16-be`` (told by where the NUL bytes are), or None."""
    for bom, encoding in _UTF16_BOMS.items():
        if head.startswith(bom):
            return encoding
    sample = head[:4096]
    even, odd = sample[0::2], sample[1::2]
    if not even or not odd:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV sample; ',' when the sample has a single column or cannot be told."""
    lines = text.splitlines()
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last line of a sample may be cut
    sample = "\n".join(lines[:200])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","
