"""The shops in each file of a sweep and how much work each is expected to be, so the longest
shops start first.

A shop's experiment costs about its purchases × its sizes: the default model's cumulative-logit
head has one threshold per size step and its optimiser needs more iterations on a long scale (on
this machine a 150,000-purchase shop of 43 sizes trains about four times as long as one of 9). A
sweep hands shops to its workers largest first (longest-processing-time first), so the last shop
to finish is a short one and no worker idles while one long shop runs alone.

Read once per file before anything runs, the shop ids and the work together:

* **Parquet**: the size column, and the shop id column when the file may hold several shops —
  rows and sizes per shop, exact.
* **CSV** (plain or gzip) of several shops without a given shop id: the whole file is read for its
  shop ids (as the plan always did), and the work is exact from it. Otherwise the first 64 KB —
  rows per byte and the sizes seen there, scaled to the file's size.

The shop ids are those of the file's shop id column (or the column map's constant), else the file
name without its ending. A file that cannot be read this way counts as its size in bytes / 100
rows of 10 sizes, and a pipe (read once, by its run) as one shop of no work: its run then fails or
succeeds with the loader's own message, not here. How many fractions a shop trains also depends
on its answer (``search: descending`` stops at the first fraction that fails), which no estimate
made before the run can know.
"""

from __future__ import annotations

import csv
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["shops_in"]

_FALLBACK_BYTES_PER_ROW = 100
_FALLBACK_SIZES = 10


def shops_in(path: Path, column_map: Path | None, shop_id: str | None = None) -> dict[str, float]:
    """The shops of the file ``path`` (just ``shop_id`` when given), each with its expected
    purchases × sizes, in shop id order (see the module)."""
    try:
        regular = stat.S_ISREG(path.stat().st_mode)  # a pipe is read once, by its run, never here
    except OSError:
        regular = False
    found = None
    if regular:
        try:
            names = _Names.of(column_map, path)
            shop_id = shop_id or names.constant
            found = _parquet_shops(path, names, shop_id) or _text_shops(path, names, shop_id)
        except Exception:  # noqa: BLE001 - an unreadable file is the run's error to report, not the plan's
            found = None
    if found is None:
        rows = path.stat().st_size / _FALLBACK_BYTES_PER_ROW if regular else 0.0
        found = {shop_id or _stem(path): rows * _FALLBACK_SIZES}
    return found


@dataclass(frozen=True)
class _Names:
    """What the column map says of the size and shop id columns."""

    column_map: Any
    source: str
    size: str
    shop: str
    constant: str | None

    @classmethod
    def of(cls, column_map: Path | None, path: Path) -> _Names:
        from toolkit.shops.columnmap import ColumnMap

        mapping = ColumnMap.load(column_map) if column_map else ColumnMap.identity()
        constant = mapping.constants.get("shop_id")
        return cls(
            mapping, str(path), mapping.columns.get("size", "size"), mapping.columns.get("shop_id", "shop_id"),
            None if constant is None else str(constant).strip(),
        )

    def find(self, header: Any) -> tuple[Any, Any]:
        """The header's size column and, without a constant shop id, its shop id column (or None)."""
        shop = None if self.constant is not None else self.column_map.raw_column(header, self.shop, source=self.source)
        return self.column_map.raw_column(header, self.size, source=self.source), shop


def _work(
    rows: int, sizes: pa.ChunkedArray | None, shops: pa.ChunkedArray | None, shop_id: str | None, path: Path,
    scale: float = 1.0,
) -> dict[str, float]:
    """Rows × distinct sizes for each shop of ``rows`` parallel size and shop id values (either may
    be missing), rows scaled by ``scale``: ``shop_id`` alone when given, else every shop."""
    if sizes is not None and pa.types.is_dictionary(sizes.type):  # a categorical column: its values
        sizes = sizes.cast(sizes.type.value_type)
    distinct = _FALLBACK_SIZES if sizes is None else pc.count_distinct(sizes).as_py()
    whole = rows * scale * max(1, distinct)
    if shops is None:
        return {shop_id or _stem(path): whole}
    keys = pc.utf8_trim_whitespace(shops.cast(pa.string()))
    values = pa.chunked_array([pa.nulls(rows)]) if sizes is None else sizes
    counts = pa.table({"shop": keys, "size": values}).group_by("shop").aggregate(
        [([], "count_all"), ("size", "count_distinct")]
    ).to_pydict()
    work = {
        shop: count * scale * max(1, _FALLBACK_SIZES if sizes is None else seen)
        for shop, count, seen in zip(counts["shop"], counts["count_all"], counts["size_count_distinct"], strict=True)
        if shop
    }
    if shop_id is not None:
        return {shop_id: work.get(shop_id, whole)}  # an id the file does not hold: its run says so
    return {shop: work[shop] for shop in sorted(work)} or {_stem(path): whole}


def _parquet_shops(path: Path, names: _Names, shop_id: str | None) -> dict[str, float] | None:
    import pyarrow.parquet as pq

    with path.open("rb") as file:
        if file.read(4) != b"PAR1":
            return None
    size, shop = names.find(pq.ParquetFile(path).schema_arrow.names)
    table = pq.read_table(path, columns=[c for c in (size, shop) if c is not None])
    return _work(
        table.num_rows, None if size is None else table.column(size), None if shop is None else table.column(shop),
        shop_id, path,
    )


def _text_shops(path: Path, names: _Names, shop_id: str | None) -> dict[str, float] | None:
    from toolkit.shops.loading import GZIP_MAGIC, SAMPLE_BYTES, decode, read_table, sniff_delimiter

    with path.open("rb") as raw:
        head = raw.read(SAMPLE_BYTES)
        sample_bytes = len(head)
        if head.startswith(GZIP_MAGIC):
            head, sample_bytes = _gunzipped_head(raw, SAMPLE_BYTES)
    encoding, text = decode(head)
    if encoding is None or not text.strip():
        return None
    lines = text.lstrip("\ufeff").splitlines()
    if len(head) >= SAMPLE_BYTES and len(lines) > 2:
        lines = lines[:-1]  # the last line of a cut sample may be cut too
    rows = list(csv.reader(lines, delimiter=sniff_delimiter(text)))
    if len(rows) < 2:
        return None
    size, shop = names.find(rows[0])
    if shop is not None and shop_id is None:  # several shops: the whole file names them
        whole = read_table(path)
        size, shop = names.find(list(whole.columns))
        return _work(len(whole), _text_column(whole, size), _text_column(whole, shop), None, path)
    at = {name: rows[0].index(name) for name in (size, shop) if name is not None}
    body = [row for row in rows[1:] if len(row) > max(at.values(), default=0)]
    if not body:
        return None
    sample = {name: [row[index].strip() for row in body] for name, index in at.items()}
    scale = path.stat().st_size / max(1, sample_bytes)  # the file is this many samples long
    return _work(len(body), _text_column(sample, size), _text_column(sample, shop), shop_id, path, max(1.0, scale))


def _text_column(columns: Any, name: str | None) -> pa.ChunkedArray | None:
    """Column ``name`` of a frame or a dict of lists as Arrow text (None: no such column)."""
    return None if name is None else pa.chunked_array([pa.array(columns[name], pa.string())])


def _gunzipped_head(raw: BinaryIO, size: int) -> tuple[bytes, int]:
    """The first ``size`` bytes of a gzip file's text, and how many compressed bytes they took."""
    raw.seek(0)
    inflate = zlib.decompressobj(wbits=31)  # gzip framing
    text, consumed = b"", 0
    while len(text) < size:
        chunk = raw.read(4096)
        if not chunk:
            break
        text += inflate.decompress(chunk, size - len(text))
        consumed += len(chunk) - len(inflate.unconsumed_tail) - len(inflate.unused_data)
        if inflate.unconsumed_tail or inflate.eof:
            break
    return text, max(1, consumed)


def _stem(path: Path) -> str:
    """The file's name without its ending: the shop id of a file that names none."""
    name = path.name
    for suffix in (".csv.gz", ".parquet", ".pq", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
