"""Row validation with quarantine, the volume check, and loading one clean shop.

Every row of a client's file ends up in exactly one of two tables: ``clean`` (the canonical shop
table, see ``docs/ARCHITECTURE.md``) or ``quarantine`` (the row exactly as read, plus ``reason``
and ``source_row``, the 1-based row number below the header). ``rows read = clean + quarantined``.

A row gets the reason of the **first** check it fails, in this order:

0. ``extra_fields`` — a CSV row with more cells than the header (its cells beyond the header's are in
   the quarantine's ``(extra fields)`` column);
1. ``duplicate`` — an exact copy of an earlier row of the file (the first copy is judged normally);
2. ``missing_value: <column>`` — a required value is empty (columns in schema order; an empty
   gender is read as ``unknown``, the widget's "not said");
3. ``unparseable_value: <column>`` — a number that is not a number, or a gender word the map does
   not know;
4. ``bad_timestamp`` — ``event_time`` cannot be read, or lies before 2000 or more than a day in the
   future (``1970-01-01`` is a classic export bug);
5. ``wrong_unit: <column>`` — the value looks like another unit (quarantined, never converted):
   height: in a cm column a value below the range that ×2.54 (inches) or ×100 (metres) lands in
   range, e.g. 48–86; in an inch column a value that is already a plausible cm height.
   weight: above the range but ÷2.2046 (pounds) or ÷10 (a lost decimal point) lands in range; or,
   with a plausible height, a BMI over 60 in a kg column (pounds for kilograms: ×2.2 the BMI) or
   under 12 in a lb column (kilograms for pounds). Pounds that still give a believable BMI
   (a light person's 150 lb read as 150 kg) cannot be told apart from a heavy shopper row by row;
6. ``implausible_value: <column>`` — outside the plausible range after unit conversion (defaults
   height 120–220 cm, weight 30–250 kg, age 13–100; a column map's ``ranges`` overrides), or a
   weight giving a BMI under 12 at a plausible height;
7. ``size_not_on_scale`` — the size is not a label of the shop's scale;
8. ``unknown_outcome`` — the outcome word is not in the map's ``outcomes``.

Optional columns (``fit_preference``, ``chest_cm`` …) never quarantine a row: unreadable values
become missing. A file without shopper ids is read with ``shopper_id_from: row`` in its column map:
each row becomes its own shopper (``row-<source_row>``), and the validation says so
(:attr:`Validation.shopper_id_from_row`, carried on to :class:`ShopData`).

The quarantine holds the client's raw rows — shopper ids, bodies, ages — so it is as sensitive as the
input file. ``quarantine_columns`` (the column map's, or :func:`validate`'s argument) keeps only the
named columns (client or canonical names) besides ``reason`` and ``source_row``. Everything is vectorised over the unique values of a column, so a 5-million-row
file validates in seconds.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.shops.columnmap import ColumnMap
from toolkit.errors import DataError, ParamsError
from toolkit.memory import release_freed_memory
from toolkit.shops.loading import EXTRA_FIELDS, read_table
from toolkit.results import file_sha256, prepare_output_dir, write_parquet
from toolkit.shops import parsing
from toolkit.shops.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SizeScale
from toolkit.shops.units import MIN_BMI, canonical_units
from toolkit.shops.volume import weekly_volume

__all__ = [
    "CHECK_ORDER",
    "ShopData",
    "ShopSource",
    "Validation",
    "load_shop",
    "validate",
    "validate_file",
    "validate_path",
]

#: The checks in the order they are applied; a row gets the first reason it fails.
CHECK_ORDER: tuple[str, ...] = (
    "extra_fields",
    "duplicate",
    "missing_value",
    "unparseable_value",
    "bad_timestamp",
    "wrong_unit",
    "implausible_value",
    "size_not_on_scale",
    "unknown_outcome",
)

_TEXT_COLUMNS = ("shop_id", "shopper_id", "product_id", "category")
_CATEGORICAL_COLUMNS = (*_TEXT_COLUMNS, "gender", "outcome", "fit_preference", "body_type")
_NUMBER_COLUMNS = ("height_cm", "weight_kg", "age")
_FIT_PREFERENCES = ("tight", "regular", "loose")

#: What the validation summary says of a file read with ``shopper_id_from: row``.
SHOPPER_PER_ROW_NOTE = (
    "shoppers: the file has no shopper ids; each row is counted as its own shopper (shopper_id_from: row), "
    "so a repeat shopper's purchases may fall in both the reference population and the training data"
)


@dataclass
class Validation:
    """The outcome of validating one file: clean rows, quarantined rows, counts and volume."""

    source: str
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: pd.DataFrame
    scale: SizeScale
    rows_read: int
    #: the shop each quarantined row belongs to, when its shop_id could be read (else None)
    quarantine_shop: np.ndarray
    #: the file has no shopper ids: each row was taken as its own shopper (``shopper_id_from: row``)
    shopper_id_from_row: bool = False

    @property
    def rows_clean(self) -> int:
        return len(self.clean)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine)

    @property
    def reasons(self) -> dict[str, int]:
        """Quarantine reason → rows (without ``clean``)."""
        rows = self.counts.set_index("reason")["rows"]
        return {str(k): int(v) for k, v in rows.items() if k != "clean"}

    @functools.cached_property
    def volume(self) -> pd.DataFrame:
        """Weekly purchases per shop, unusual weeks flagged (worked out when first asked: loading a
        shop for an experiment does not need it, ``enough validate`` does)."""
        return weekly_volume(self.clean)

    @property
    def flagged_weeks(self) -> pd.DataFrame:
        return self.volume[self.volume["flagged"]].reset_index(drop=True)

    def summary_table(self) -> str:
        """Counts by reason, then the weeks the volume check flagged, as printable text."""
        lines = [
            f"{self.source}: {self.rows_read:,} rows read = {self.rows_clean:,} clean "
            f"+ {self.rows_quarantined:,} quarantined",
            "",
            f"{'reason':<36} {'rows':>12} {'share':>8}",
        ]
        for reason, rows, share in self.counts.itertuples(index=False):
            lines.append(f"{reason:<36} {rows:>12,} {share:>8.2%}")
        lines.append(f"{'total':<36} {self.rows_read:>12,} {1:>8.0%}")
        if self.shopper_id_from_row:
            lines += ["", SHOPPER_PER_ROW_NOTE]
        flagged = self.flagged_weeks
        shops = self.volume["shop_id"].nunique()
        lines += ["", f"volume check: {len(flagged)} flagged week(s) over {shops} shop(s)"]
        for row in flagged.itertuples(index=False):
            lines.append(f"  {row.shop_id}  week of {row.week_start:%Y-%m-%d}  {row.why}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ShopSource:
    """The file a shop was loaded from, as read: what it takes to load the same rows again."""

    path: Path
    column_map: Path | None
    sha256: str

    def to_dict(self) -> dict[str, str | None]:
        column_map = None if self.column_map is None else str(self.column_map)
        return {"path": str(self.path), "column_map": column_map, "sha256": self.sha256}


@dataclass
class ShopData:
    """One shop's clean purchase history, sorted by ``event_time``, and what loading it dropped."""

    shop_id: str
    frame: pd.DataFrame
    scale: SizeScale
    rows_read: int
    rows_quarantined: int
    reasons: dict[str, int]
    #: the shop's quarantined rows (original values + ``reason``), stored beside its results
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the file has no shopper ids: each row is its own shopper, so one person's purchases may be
    #: in both the reference population and the training data (``shopper_id_from: row``)
    shopper_id_from_row: bool = False
    #: the file it came from (None: built in memory)
    source: ShopSource | None = None


class _Reasons:
    """One reason per row: the first check that marks it wins (kept as a small code per row)."""

    def __init__(self, n: int) -> None:
        self.names: list[str | None] = [None]
        self.code = np.zeros(n, dtype=np.int16)
        self.pending = np.ones(n, dtype=bool)

    def mark(self, failed: np.ndarray, reason: str) -> None:
        chosen = self.pending & np.asarray(failed, dtype=bool)
        if chosen.any():
            if reason not in self.names:
                self.names.append(reason)
            self.code[chosen] = self.names.index(reason)
            self.pending &= ~chosen

    def of(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The reason of each row (or of ``rows``) as an object array, None where none."""
        return np.array(self.names, dtype=object)[self.code if rows is None else self.code[rows]]


def validate(
    raw: pd.DataFrame,
    column_map: ColumnMap | None = None,
    *,
    source: str,
    ranges: dict[str, tuple[float, float]] | None = None,
    quarantine_columns: Sequence[str] | None = None,
) -> Validation:
    """Validate a raw frame through a column map into clean and quarantined rows.

    ``source`` names the file in messages; ``ranges`` overrides the map's plausible ranges;
    ``quarantine_columns`` the map's columns kept in the quarantine (None: the map's, else all).
    Raises :class:`DataError` when a required column is missing or no usable row is left.
    """
    cmap = column_map or ColumnMap.identity()
    bounds = {**cmap.ranges, **(ranges or {})}
    where = cmap.source_columns(raw, source=source)
    n = len(raw)

    positional = isinstance(raw.index, pd.RangeIndex) and raw.index.start == 0 and raw.index.step == 1

    def column(name: str) -> pd.Series:
        if where.get(name) is not None:
            return raw[where[name]] if positional else raw[where[name]].reset_index(drop=True)
        if name == "shopper_id" and cmap.shopper_id_from_row:
            return "row-" + pd.Series(np.arange(1, n + 1)).astype("string[pyarrow]")
        # A constant as a one-category column: its codes, not n references to one object.
        return pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [cmap.constants[name]]))

    texts: dict[str, parsing.CodedText] = {}
    parsed: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    unparseable: dict[str, np.ndarray] = {}
    for name in _TEXT_COLUMNS:
        texts[name], missing[name] = parsing.text(column(name))
    for name in _NUMBER_COLUMNS:
        parsed[name], missing[name], unparseable[name] = parsing.number(column(name))
    try:
        times, missing["event_time"], bad_time = parsing.timestamps(column("event_time"), cmap.time_format)
    except parsing.AmbiguousDates as error:
        raise DataError(f"{source}: column 'event_time': {error}") from None
    gender, gender_missing, unparseable["gender"] = parsing.words(column("gender"), cmap.gender_words())
    texts["gender"] = gender.filled(gender_missing, "unknown")
    scale = cmap.size_scale or parsing.infer_scale(column("size"))
    size_index, missing["size"] = parsing.size_positions(column("size"), scale)
    texts["outcome"], missing["outcome"], outcome_unknown = parsing.words(column("outcome"), cmap.outcome_words())
    release_freed_memory()  # Arrow's working memory of the text columns, before the checks need theirs

    reasons = _Reasons(n)
    if EXTRA_FIELDS in raw.columns:
        reasons.mark(raw[EXTRA_FIELDS].notna().to_numpy(), "extra_fields")
    # A text column's codes (equal exactly where its raw values are) are known from parsing it.
    known = {where[name]: texts[name].codes for name in (*_TEXT_COLUMNS, "outcome") if where.get(name) is not None}
    reasons.mark(_duplicates(raw, known), "duplicate")

    for name in REQUIRED_COLUMNS:
        if name in missing:
            reasons.mark(missing[name], f"missing_value: {name}")
    for name in REQUIRED_COLUMNS:
        if name in unparseable:
            reasons.mark(unparseable[name], f"unparseable_value: {name}")
    reasons.mark(bad_time, "bad_timestamp")

    height, weight, height_wrong, weight_wrong = canonical_units(
        parsed["height_cm"], parsed["weight_kg"], cmap.units, bounds
    )
    reasons.mark(height_wrong, "wrong_unit: height_cm")
    reasons.mark(weight_wrong, "wrong_unit: weight_kg")
    for name, values in (("height_cm", height), ("weight_kg", weight), ("age", parsed["age"])):
        low, high = bounds[name]
        reasons.mark((values < low) | (values > high), f"implausible_value: {name}")
    with np.errstate(divide="ignore", invalid="ignore"):
        reasons.mark(weight / (height / 100) ** 2 < MIN_BMI, "implausible_value: weight_kg")
    reasons.mark(size_index < 0, "size_not_on_scale")
    reasons.mark(outcome_unknown, "unknown_outcome")

    keep = reasons.pending
    if not keep.any():
        top = pd.Series(reasons.of()).value_counts()
        raise DataError(
            f"{source}: no usable row left, all {n:,} rows quarantined (most often "
            f"'{top.index[0]}', {top.iloc[0]:,} rows); expected rows that pass validation"
        )
    release_freed_memory()  # the checks' working memory, before the clean table is built
    # The clean rows in time order (stable), each column built once in that order; text columns
    # become categoricals straight from their codes (as astype("category") would make them).
    kept = np.flatnonzero(keep)
    rows = kept[np.argsort(times.asi8[kept], kind="stable")]
    clean = pd.DataFrame(
        {
            "shop_id": texts["shop_id"].categorical(rows),
            "event_time": times[rows],
            "shopper_id": texts["shopper_id"].categorical(rows),
            "product_id": texts["product_id"].categorical(rows),
            "category": texts["category"].categorical(rows),
            "gender": texts["gender"].categorical(rows),
            "height_cm": height[rows],
            "weight_kg": weight[rows],
            "age": parsed["age"][rows],
            "size": pd.Categorical.from_codes(size_index[rows], dtype=scale.dtype),
            "outcome": texts["outcome"].categorical(rows),
        },
        copy=False,  # the columns are new arrays: no second copy into blocks
    )
    for name in OPTIONAL_COLUMNS:
        if where.get(name) is not None or name in cmap.constants:
            clean[name] = _optional(name, column(name), rows)

    bad = np.flatnonzero(~keep)
    chosen = _quarantine_columns(raw, cmap, where, quarantine_columns, source)
    quarantine = _as_stored(raw.iloc[bad, raw.columns.get_indexer(chosen)])
    quarantine.columns = [f"raw_{c}" if c in ("reason", "source_row") else c for c in quarantine.columns]
    quarantine["reason"] = reasons.of(bad)
    quarantine["source_row"] = bad + 1
    quarantine = quarantine.reset_index(drop=True)
    return Validation(
        source=source,
        clean=clean,
        quarantine=quarantine,
        counts=_counts(reasons.of(bad), n),
        scale=scale,
        rows_read=n,
        quarantine_shop=texts["shop_id"].rows(bad),
        shopper_id_from_row=cmap.shopper_id_from_row,
    )


def _as_stored(rows: pd.DataFrame) -> pd.DataFrame:
    """Raw rows as the quarantine keeps them: text the reader kept as categoricals (a few distinct
    words) as text again, and object columns of mixed types as text so Parquet can store them."""
    rows = rows.copy()
    for name, dtype in rows.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered and pd.api.types.is_string_dtype(dtype.categories):
            rows[name] = rows[name].astype(pd.StringDtype("pyarrow"))
        elif dtype == object and pd.api.types.infer_dtype(rows[name]).startswith("mixed"):
            rows[name] = rows[name].map(lambda v: None if pd.isna(v) else str(v)).astype(object)
    return rows


def _quarantine_columns(
    raw: pd.DataFrame,
    cmap: ColumnMap,
    where: dict[str, str | None],
    asked: Sequence[str] | None,
    source: str,
) -> list[object]:
    """The raw columns the quarantine keeps: all, or those named (client names or canonical ones)."""
    names = cmap.quarantine_columns if asked is None else asked
    if names is None:
        return list(raw.columns)
    kept: list[object] = []
    unknown = []
    for name in names:
        column = where.get(name) if name in where else cmap.raw_column(raw.columns, name, source=source)
        if column is None:
            unknown.append(name)
        elif column not in kept:
            kept.append(column)
    if unknown:
        raise ParamsError(
            f"{source}: quarantine columns {unknown} not in the file, expected some of "
            f"{list(map(str, raw.columns))} or canonical columns mapped to them"
        )
    return kept


def _duplicates(raw: pd.DataFrame, known: dict[object, np.ndarray] | None = None) -> np.ndarray:
    """Rows that exactly repeat an earlier row.

    Each column becomes integer codes (equal exactly where values are equal), the codes are mixed
    into a 64-bit row key, and every row whose key was seen before is confirmed by comparing its
    codes with the first row of that key, so a key collision can never quarantine a row. One
    column's codes are held at a time (the check encodes only the candidates and their first rows);
    ``known`` gives some columns' codes by name.
    """
    known = known or {}

    def codes(i: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Column ``i``'s codes for every row, or for ``rows`` only (equal exactly where their values are)."""
        name = raw.columns[i]
        if name in known:
            return known[name] if rows is None else known[name][rows]
        return parsing.codes(raw.iloc[:, i] if rows is None else raw.iloc[rows, i])

    key = np.zeros(len(raw), dtype=np.uint64)
    for i in range(raw.shape[1]):
        column = codes(i).astype(np.uint64)  # a copy: mixed in place
        column += np.uint64(i + 1)
        key ^= _mix(column)
        key = _mix(key)
    group, _ = pd.factorize(key)
    del key
    first = np.empty(group.max() + 1 if len(group) else 0, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group))[::-1]
    candidates = np.flatnonzero(first[group] != np.arange(len(group)))
    originals = first[group[candidates]]
    same = np.ones(len(candidates), dtype=bool)
    both, k = np.concatenate([candidates, originals]), len(candidates)
    for i in range(raw.shape[1] if k else 0):
        values = codes(i, both)
        same &= values[:k] == values[k:]
    found = np.zeros(len(raw), dtype=bool)
    found[candidates[same]] = True
    return found


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place: spreads every input bit over the 64-bit output."""
    shifted = np.empty_like(x)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None)):
        np.right_shift(x, np.uint64(shift), out=shifted)
        x ^= shifted
        if factor is not None:
            x *= np.uint64(factor)
    return x


def _optional(name: str, values: pd.Series, rows: np.ndarray) -> np.ndarray | pd.Categorical:
    """An optional column's values in the clean ``rows`` (unreadable values: missing)."""
    if name.endswith("_cm"):
        number, _, _ = parsing.number(values)
        return number[rows]
    if name == "fit_preference":
        coded, _, _ = parsing.words(values, {w: w for w in _FIT_PREFERENCES})
    else:
        coded, _ = parsing.text(values)
    return coded.categorical(rows)


def _counts(bad_reasons: np.ndarray, rows_read: int) -> pd.DataFrame:
    counted = pd.Series(bad_reasons, dtype=object).value_counts()
    order = sorted(
        counted.index,
        key=lambda r: (CHECK_ORDER.index(str(r).split(":")[0]), -counted[r], str(r)),
    )
    reasons = ["clean", *order]
    rows = [rows_read - int(counted.sum()), *(int(counted[r]) for r in order)]
    share = [r / rows_read if rows_read else 0.0 for r in rows]
    return pd.DataFrame({"reason": reasons, "rows": rows, "share": share})


# -- files --------------------------------------------------------------------------------------
def _column_map(column_map: ColumnMap | str | os.PathLike[str] | None) -> ColumnMap:
    if column_map is None:
        return ColumnMap.identity()
    if isinstance(column_map, ColumnMap):
        return column_map
    return ColumnMap.load(column_map)


def validate_path(
    path: str | os.PathLike[str],
    column_map: ColumnMap | str | os.PathLike[str] | None = None,
    *,
    quarantine_columns: Sequence[str] | None = None,
) -> Validation:
    """Read and validate a file (``column_map``: a ColumnMap, a YAML path, or None for identity)."""
    cmap = _column_map(column_map)  # a wrong map fails before the file is read
    return validate(read_table(path), cmap, source=str(path), quarantine_columns=quarantine_columns)


def validate_file(
    input: str | os.PathLike[str],
    *,
    column_map: ColumnMap | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str],
    quarantine_columns: Sequence[str] | None = None,
) -> Validation:
    """Validate a file and write ``out_dir/clean.parquet`` and ``out_dir/quarantine.parquet``.

    ``out_dir`` is checked first (an :class:`~toolkit.errors.OutputError` before any reading when it
    cannot be written); both files are written atomically (a temporary file in ``out_dir`` then
    ``os.replace``). ``quarantine_columns``: see :func:`validate`.
    """
    out = prepare_output_dir(out_dir, what="--out")
    result = validate_path(input, column_map, quarantine_columns=quarantine_columns)
    write_parquet(result.clean, out / "clean.parquet")
    write_parquet(result.quarantine, out / "quarantine.parquet")
    return result


def load_shop(
    path: str | os.PathLike[str],
    *,
    shop_id: str | None = None,
    column_map: ColumnMap | str | os.PathLike[str] | None = None,
    quarantine_dir: str | os.PathLike[str] | None = None,
) -> ShopData:
    """Read, validate and return one shop's clean history, sorted by ``event_time``.

    A file holding several shops needs ``shop_id`` (ParamsError lists them). With
    ``quarantine_dir`` the shop's quarantined rows are written to ``quarantine_dir/quarantine.parquet``.
    Counts are the shop's: its clean rows plus the quarantined rows whose shop_id could be read as
    this shop (rows whose shop cannot be told are counted for a file holding a single shop only).
    """
    result = validate_path(path, column_map)
    release_freed_memory()  # what reading and validating the file used
    shops = sorted(result.clean["shop_id"].unique())
    if shop_id is None:
        if len(shops) > 1:
            raise ParamsError(
                f"{path}: holds {len(shops)} shops {shops}; expected a shop_id naming one of them"
            )
        shop_id = shops[0]
    if shop_id not in shops:
        raise ParamsError(f"{path}: no clean rows of shop_id '{shop_id}'; expected one of {shops}")
    frame = result.clean
    quarantine = result.quarantine
    if len(shops) > 1:
        frame = frame[frame["shop_id"] == shop_id].reset_index(drop=True)
        # Only this shop's values as categories (the other shops' ids are not this shop's).
        for name in _CATEGORICAL_COLUMNS:
            if name in frame:
                frame[name] = frame[name].cat.remove_unused_categories()
        quarantine = quarantine[result.quarantine_shop == shop_id].reset_index(drop=True)
    if quarantine_dir is not None:
        Path(quarantine_dir).mkdir(parents=True, exist_ok=True)
        write_parquet(quarantine, Path(quarantine_dir) / "quarantine.parquet")
    reasons = quarantine["reason"].value_counts()
    return ShopData(
        shop_id=str(shop_id),
        frame=frame,
        scale=result.scale,
        rows_read=len(frame) + len(quarantine),
        rows_quarantined=len(quarantine),
        reasons={str(k): int(v) for k, v in reasons.items()},
        quarantine=quarantine,
        shopper_id_from_row=result.shopper_id_from_row,
        # a pipe was read whole and cannot be read again: no source to reload
        source=ShopSource(Path(path).resolve(), _column_map_file(column_map), file_sha256(path)) if Path(path).is_file() else None,
    )


def _column_map_file(column_map: ColumnMap | str | os.PathLike[str] | None) -> Path | None:
    """The column map's file (None: the identity map, or a map built in memory)."""
    if isinstance(column_map, ColumnMap):
        column_map = column_map.source if Path(column_map.source).is_file() else None
    return None if column_map is None else Path(column_map).resolve()
