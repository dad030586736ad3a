"""How much work each shop of a sweep is expected to be, so the longest shops start first.

A shop's experiment costs about its purchases × its sizes: the default model's cumulative-logit
head has one threshold per size step and its optimiser needs more iterations on a long scale (on
this machine a 150,000-purchase shop of 43 sizes trains about four times as long as one of 9). A
sweep hands shops to its workers largest first (longest-processing-time first), so the last shop
to finish is a short one and no worker idles while one long shop runs alone.

The figure is an estimate for ordering only, read cheaply before anything runs:

* **Parquet**: the row count from the file's metadata and the size column (one column, or the shop
  id column too for a file of several shops) — exact.
* **CSV** (plain or gzip): the first 64 KB — rows per byte and the sizes seen there, scaled to the
  file's size.

A file that cannot be read this way counts as its size in bytes / 100 rows of 10 sizes, and a pipe
(read once, by its run) as no work: its run then fails or succeeds with the loader's own message,
not here. How many fractions a shop trains
also depends on its answer (``search: descending`` stops at the first fraction that fails), which
no estimate made before the run can know.
"""

from __future__ import annotations

import csv
import stat
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["expected_work"]

_FALLBACK_BYTES_PER_ROW = 100
_FALLBACK_SIZES = 10


def expected_work(path: Path, column_map: Path | None, shop_ids: Sequence[str]) -> dict[str, float]:
    """Expected purchases × sizes for each of ``shop_ids`` in the file ``path`` (see the module)."""
    try:
        regular = stat.S_ISREG(path.stat().st_mode)  # a pipe is read once, by its run, never here
    except OSError:
        regular = False
    estimate = None
    if regular:
        try:
            estimate = _parquet_work(path, column_map, shop_ids) or _text_work(path, column_map, shop_ids)
        except Exception:  # noqa: BLE001 - an unreadable file is the run's error to report, not the plan's
            estimate = None
    if estimate is None:
        rows = path.stat().st_size / _FALLBACK_BYTES_PER_ROW / max(1, len(shop_ids)) if regular else 0.0
        estimate = {shop_id: rows * _FALLBACK_SIZES for shop_id in shop_ids}
    return estimate


def _names(column_map: Path | None) -> tuple[str, str, str | None]:
    """The file's names of the size and shop id columns, and the map's constant shop id (if any)."""
    from toolkit.shops.columnmap import ColumnMap

    mapping = ColumnMap.load(column_map) if column_map else ColumnMap.identity()
    constant = mapping.constants.get("shop_id")
    return (
        mapping.columns.get("size", "size"),
        mapping.columns.get("shop_id", "shop_id"),
        None if constant is None else str(constant).strip(),
    )


def _find(names: Sequence[str], wanted: str) -> str | None:
    """``wanted`` among ``names`` as the loader matches headers (exact, else trimmed and caseless)."""
    if wanted in names:
        return wanted
    return {str(n).strip().lower(): n for n in names}.get(wanted.strip().lower())


def _per_shop(
    sizes: Sequence[object], shops: Sequence[object] | None, shop_ids: Sequence[str], scale: float
) -> dict[str, float]:
    """Rows × distinct sizes per shop from parallel size / shop-id values, rows scaled by ``scale``."""
    if shops is None or len(shop_ids) == 1:
        return {shop_id: len(sizes) * scale * max(1, len(set(sizes))) for shop_id in shop_ids}
    rows: Counter[str] = Counter()
    seen: dict[str, set[object]] = {}
    for size, shop in zip(sizes, shops, strict=True):
        key = str(shop).strip()
        rows[key] += 1
        seen.setdefault(key, set()).add(size)
    return {shop_id: rows[shop_id] * scale * max(1, len(seen.get(shop_id, ()))) for shop_id in shop_ids}


def _parquet_work(path: Path, column_map: Path | None, shop_ids: Sequence[str]) -> dict[str, float] | None:
    import pyarrow.parquet as pq

    with path.open("rb") as file:
        if file.read(4) != b"PAR1":
            return None
    size_name, shop_name, constant = _names(column_map)
    names = pq.ParquetFile(path).schema_arrow.names
    size_column, shop_column = _find(names, size_name), _find(names, shop_name)
    several = len(shop_ids) > 1 and constant is None and shop_column is not None
    columns = [c for c in (size_column, shop_column if several else None) if c is not None]
    if size_column is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pq.read_table(path, columns=columns)
    sizes_as_read = table.column(size_column)
    if pa.types.is_dictionary(sizes_as_read.type):  # a categorical size column: count its values
        table = table.set_column(table.schema.get_field_index(size_column), size_column, sizes_as_read.cast(pa.string()))
    if not several:
        sizes = max(1, pc.count_distinct(table.column(size_column)).as_py())
        return {shop_id: table.num_rows * sizes for shop_id in shop_ids}
    shops = pc.utf8_trim_whitespace(pc.cast(table.column(shop_column), "string"))
    grouped = table.set_column(table.schema.get_field_index(shop_column), "shop", shops).group_by("shop")
    counts = grouped.aggregate([([], "count_all"), (size_column, "count_distinct")]).to_pylist()
    work = {row["shop"]: row["count_all"] * max(1, row[f"{size_column}_count_distinct"]) for row in counts}
    return {shop_id: float(work.get(shop_id, 0)) for shop_id in shop_ids}


def _text_work(path: Path, column_map: Path | None, shop_ids: Sequence[str]) -> dict[str, float] | None:
    from toolkit.shops.loading import _GZIP_MAGIC, _SAMPLE_BYTES, _decode, _sniff_delimiter

    with path.open("rb") as raw:
        head = raw.read(_SAMPLE_BYTES)
        sample_bytes = len(head)
        if head.startswith(_GZIP_MAGIC):
            head, sample_bytes = _gunzipped_head(raw)
    encoding, text = _decode(head)
    if encoding is None or not text.strip():
        return None
    lines = text.lstrip("\ufeff").splitlines()
    if len(head) >= _SAMPLE_BYTES and len(lines) > 2:
        lines = lines[:-1]  # the last line of a cut sample may be cut too
    rows = list(csv.reader(lines, delimiter=_sniff_delimiter(text)))
    if len(rows) < 2:
        return None
    header, body = rows[0], rows[1:]
    size_name, shop_name, constant = _names(column_map)
    size_at = _find(header, size_name)
    if size_at is None:
        return None
    shop_at = _find(header, shop_name) if constant is None else None
    size_index = header.index(size_at)
    shop_index = None if shop_at is None else header.index(shop_at)
    body = [row for row in body if len(row) > max(size_index, shop_index or 0)]
    if not body:
        return None
    sizes = [row[size_index].strip() for row in body]
    shops = None if shop_index is None else [row[shop_index] for row in body]
    scale = path.stat().st_size / max(1, sample_bytes)  # the file is this many samples long
    return _per_shop(sizes, shops, shop_ids, max(1.0, scale))


def _gunzipped_head(raw: BinaryIO) -> tuple[bytes, int]:
    """The first 64 KB of a gzip file's text, and how many compressed bytes they took."""
    from toolkit.shops.loading import _SAMPLE_BYTES

    raw.seek(0)
    inflate = zlib.decompressobj(wbits=31)  # gzip framing
    text, consumed = b"", 0
    while len(text) < _SAMPLE_BYTES:
        chunk = raw.read(4096)
        if not chunk:
            break
        text += inflate.decompress(chunk, _SAMPLE_BYTES - len(text))
        consumed += len(chunk) - len(inflate.unconsumed_tail) - len(inflate.unused_data)
        if inflate.unconsumed_tail or inflate.eof:
            break
    return text, max(1, consumed)
