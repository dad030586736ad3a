"""Reading raw cell values (text, numbers, timestamps, words, sizes) column by column.

Every function here works on the *unique* values of a column and spreads the result back with
the factorize codes, so a 5-million-row column with a few thousand distinct values costs a few
thousand conversions. Each returns the parsed values plus boolean masks (``missing``: an empty
cell; ``unparseable``/``unknown``/``bad``: a value that is there but cannot be read); validation
turns the masks into quarantine reasons.

Timestamps with ``time_format: auto`` are read as ISO 8601 (``2024-03-01``, ``2024-03-01T10:15:00Z``,
with or without offset), unix seconds or milliseconds (numbers; > 1e11 means milliseconds), then
``dd.mm.yyyy``, ``mm/dd/yyyy`` (US first), ``dd/mm/yyyy``, ``yyyy/mm/dd``, each with an optional
``HH:MM[:SS]``. Times without an offset are taken as UTC. Give an explicit strftime format in the
column map for anything else, or to read ``03/04/2024`` as 3 April.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.shops.schema import SizeScale

__all__ = ["CodedText", "codes", "infer_scale", "number", "size_positions", "text", "timestamps", "words"]

#: Timestamps outside this window are ``bad_timestamp`` (1970-01-01 is a classic export bug).
EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
FUTURE_SLACK = pd.Timedelta(days=1)

_AUTO_FORMATS = tuple(
    f"{date}{time}"
    for date in ("%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y")
    for time in (" %H:%M:%S", " %H:%M", "")
)
_SIZE_ALIASES = {"2XS": "XXS", "XXXS": "3XS", "2XL": "XXL", "XXXL": "3XL", "XXXXL": "4XL"}


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 where missing) and the distinct values as an object array (text stripped)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        return values.cat.codes.to_numpy(dtype=np.int64), _texts_if_strings(categories)
    arrow = _arrow_strings(values)
    if arrow is not None:
        encoded = arrow.dictionary_encode().combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        stripped = pc.utf8_trim_whitespace(encoded.dictionary)
        return codes, np.asarray(stripped.to_numpy(zero_copy_only=False), dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), _texts_if_strings(uniques)


def _arrow_strings(values: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow array behind a pyarrow-backed text column (None for any other column)."""
    data = getattr(values.array, "_pa_array", None)
    if data is not None and (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return data
    return None


def codes(values: pd.Series) -> np.ndarray:
    """Integer codes per row, equal exactly where the values are equal (missing: -1)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64)
    arrow = _arrow_strings(values)
    if arrow is not None:
        encoded = arrow.dictionary_encode().combine_chunks()
        return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if values.dtype == np.float64:
        # The bits, with every NaN one code and -0.0 the code of 0.0: equal exactly where equal.
        numbers = values.to_numpy()
        bits = numbers.view(np.int64).copy()
        bits[numbers == 0] = 0
        bits[np.isnan(numbers)] = -1
        return bits
    found, _ = pd.factorize(values, use_na_sentinel=True)
    return found.astype(np.int64, copy=False)


def _texts_if_strings(uniques: object) -> np.ndarray:
    """Distinct values as an object array; text values already stripped (vectorised)."""
    index = pd.Index(uniques)
    if pd.api.types.infer_dtype(index, skipna=True) in ("string", "empty"):
        return np.asarray(index.astype(object).str.strip(), dtype=object)
    return np.asarray(index, dtype=object)


def _spread(codes: np.ndarray, per_unique: np.ndarray, fill: object) -> np.ndarray:
    """Per-unique results back onto rows; rows with code -1 get ``fill``."""
    table = np.empty(len(per_unique) + 1, dtype=per_unique.dtype if fill is not None else object)
    table[:-1] = per_unique
    table[-1] = fill
    return table[codes]


def _as_text(value: object) -> str:
    """A cell as stripped text; whole floats lose their '.0' (ids read from numeric columns)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _texts(uniques: np.ndarray) -> np.ndarray:
    if pd.api.types.infer_dtype(uniques, skipna=False) in ("string", "empty"):
        return uniques  # already stripped text
    return np.array([_as_text(u) for u in uniques], dtype=object)


@dataclass(frozen=True)
class CodedText:
    """A text column as codes into its distinct values: row i holds ``values[codes[i]]``.

    ``codes`` is -1 for an empty cell; a value of None is missing too. Rows are never spelled out
    as Python objects unless asked (:meth:`rows`), so a 10-million-row column costs its codes.
    """

    codes: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if len(self.values) < 2**31 - 1 and self.codes.dtype != np.int32:
            object.__setattr__(self, "codes", self.codes.astype(np.int32))  # half the memory of int64

    def _table(self) -> np.ndarray:
        """The value of each code, and None for code -1 (the last entry)."""
        return np.append(self.values, None).astype(object)

    @property
    def missing(self) -> np.ndarray:
        """Rows without a value."""
        return pd.isna(self._table())[self.codes]

    def rows(self, positions: np.ndarray | None = None) -> np.ndarray:
        """The value of each row (or of the rows at ``positions``) as an object array, None where missing."""
        codes = self.codes if positions is None else self.codes[positions]
        return self._table()[codes]

    def filled(self, mask: np.ndarray, value: str) -> CodedText:
        """The same column with ``value`` in the rows of ``mask``."""
        return CodedText(np.where(mask, len(self.values), self.codes), np.append(self.values, value).astype(object))

    def categorical(self, positions: np.ndarray) -> pd.Categorical:
        """The rows at ``positions`` as a categorical exactly as ``astype("category")`` makes it:
        the distinct values present, sorted, as categories; missing values as NaN."""
        codes = self.codes[positions]
        table = self._table()
        used = np.bincount(codes + 1, minlength=len(table) + 1)[1:] > 0  # code -1 counts at 0
        used &= pd.notna(table)
        present = np.flatnonzero(used)
        values = table[present]
        order = _sorted_order(values)
        ordered = values[order]
        # Values repeated under several codes (" M" and "M" once stripped) become one category.
        first = np.ones(len(ordered), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.cumsum(first) - 1
        new_code = np.full(len(table), -1, dtype=np.int64)
        new_code[present] = rank
        categories = pd.Index(ordered[first], dtype=object)
        # Checking that they increase strictly (they do) tells pandas the categories are unique,
        # which it would otherwise find out by hashing millions of shopper ids.
        if not categories.is_monotonic_increasing:
            raise AssertionError("categories out of order")
        return pd.Categorical.from_codes(new_code[codes], dtype=pd.CategoricalDtype(categories))


def _sorted_order(texts: np.ndarray) -> np.ndarray:
    """The order that sorts distinct texts as Python sorts them (Arrow's sort: fast for millions)."""
    try:
        # UTF-8 byte order is code-point order, which is how Python compares strings.
        return pc.array_sort_indices(pa.array(texts, type=pa.string())).to_numpy().astype(np.int64)
    except (pa.ArrowException, TypeError, UnicodeEncodeError):
        return np.argsort(texts, kind="stable")


def text(values: pd.Series) -> tuple[CodedText, np.ndarray]:
    """Stripped text (None where empty) and the ``missing`` mask."""
    codes, uniques = _factorize(values)
    texts = _texts(uniques).astype(object, copy=True)
    texts[texts == ""] = None
    coded = CodedText(codes, texts)
    return coded, coded.missing


def number(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats per row, and the ``missing`` and ``unparseable`` masks ('72,5' reads as 72.5)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)  # may be the column's own (read-only) memory
        missing = np.isnan(out)
        unparseable = np.isinf(out)
        if unparseable.any():
            out = out.copy()
            out[unparseable] = np.nan
        return out, missing, unparseable
    codes, uniques = _factorize(values)
    texts = _texts(uniques)
    numbers = pd.to_numeric(
        pd.Series(texts, dtype=object).str.replace(",", ".", regex=False), errors="coerce"
    ).to_numpy(dtype=np.float64)
    numbers[np.isinf(numbers)] = np.nan
    empty = np.append(texts == "", True)[codes]
    out = _spread(codes, numbers, np.nan).astype(np.float64)
    return out, empty, np.isnan(out) & ~empty


def words(values: pd.Series, lookup: dict[str, str]) -> tuple[CodedText, np.ndarray, np.ndarray]:
    """Canonical words via ``lookup`` (lower-case word → canonical), ``missing`` and ``unknown``."""
    codes, uniques = _factorize(values)
    texts = np.array([t.lower() for t in _texts(uniques)], dtype=object)
    known = np.array([lookup.get(t) for t in texts], dtype=object)
    empty = np.append(texts == "", True)[codes]
    coded = CodedText(codes, known)
    return coded, empty, coded.missing & ~empty


def timestamps(values: pd.Series, time_format: str = "auto") -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """UTC timestamps (ns) per row, ``missing`` and ``bad`` (unreadable or outside 2000..tomorrow)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        stamps = pd.DatetimeIndex(values)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        missing = np.asarray(stamps.isna())
        return _in_window(stamps, missing)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        stamps = _unix(numbers, time_format)
        return _in_window(stamps, np.isnan(numbers))
    codes, uniques = _factorize(values)
    texts = _texts(uniques)
    parsed = _parse_texts(texts, time_format)
    empty = np.append(texts == "", True)[codes]
    table = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    stamps = pd.DatetimeIndex(table[codes]).tz_localize("UTC")
    return _in_window(stamps, empty)


def _parse_texts(texts: np.ndarray, time_format: str) -> pd.DatetimeIndex:
    series = pd.Series(texts, dtype=object)
    if time_format in ("unix_s", "unix_ms"):
        return _unix(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64), time_format)
    if time_format != "auto":
        return _naive_utc(pd.to_datetime(series, format=time_format, errors="coerce", utc=True))
    out = _naive_utc(pd.to_datetime(series, format="ISO8601", errors="coerce", utc=True))
    out = out.to_numpy(dtype="datetime64[ns]").copy()
    todo = np.isnat(out) & (texts != "")
    if todo.any():
        numbers = pd.to_numeric(series[todo], errors="coerce").to_numpy(dtype=np.float64)
        out[np.flatnonzero(todo)] = _unix(numbers, "auto").to_numpy(dtype="datetime64[ns]")
        todo = np.isnat(out) & (texts != "")
    for fmt in _auto_formats(series[todo]):
        if not todo.any():
            break
        tried = pd.to_datetime(series[todo], format=fmt, errors="coerce", utc=True)
        out[np.flatnonzero(todo)] = _naive_utc(tried).to_numpy(dtype="datetime64[ns]")
        todo = np.isnat(out) & (texts != "")
    return pd.DatetimeIndex(out)


class AmbiguousDates(ValueError):
    """Slash dates that read equally well day-first and month-first, with different results."""


def _auto_formats(texts: pd.Series) -> list[str]:
    """The automatic formats, with ONE slash order for the whole column.

    Day-first (31/01/2024) and month-first (01/31/2024) are never mixed in one column: the order that
    reads more of the column's slash dates wins; when both read all of them and disagree on some
    (03/04/2024), the column is ambiguous and :class:`AmbiguousDates` asks for ``time_format``.
    """
    month_first = [f for f in _AUTO_FORMATS if f.startswith("%m/%d/%Y")]
    day_first = [f for f in _AUTO_FORMATS if f.startswith("%d/%m/%Y")]
    slashed = texts[texts.str.contains("/", regex=False, na=False)]
    if slashed.empty:
        return list(_AUTO_FORMATS)
    readings = {}
    for name, formats in (("month_first", month_first), ("day_first", day_first)):
        parsed = pd.Series(pd.NaT, index=slashed.index, dtype="datetime64[ns, UTC]")
        for fmt in formats:
            left = parsed.isna()
            parsed[left] = pd.to_datetime(slashed[left], format=fmt, errors="coerce", utc=True)
        readings[name] = parsed
    read_month, read_day = readings["month_first"].notna().sum(), readings["day_first"].notna().sum()
    if read_month == read_day:
        differ = readings["month_first"].notna() & (readings["month_first"] != readings["day_first"])
        if differ.any():
            example = slashed[differ].iloc[0]
            raise AmbiguousDates(
                f"dates like '{example}' read both day-first and month-first; expected the column "
                "map's time_format to say which (e.g. '%d/%m/%Y %H:%M')"
            )
    dropped = day_first if read_month >= read_day else month_first
    return [f for f in _AUTO_FORMATS if f not in dropped]


def _naive_utc(stamps: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(stamps)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns")


def _unix(numbers: np.ndarray, time_format: str) -> pd.DatetimeIndex:
    """Unix seconds or milliseconds (``auto``: milliseconds when above 1e11) as naive UTC."""
    if time_format == "unix_ms":
        millis = numbers
    elif time_format == "unix_s":
        millis = numbers * 1000
    else:
        millis = np.where(np.abs(numbers) > 1e11, numbers, numbers * 1000)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(millis) & (np.abs(millis) < 9.2e12)
    ns = np.full(len(numbers), np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    ns[ok] = (millis[ok] * 1_000_000).astype(np.int64)
    return pd.DatetimeIndex(ns.view("datetime64[ns]"))


def _in_window(stamps: pd.DatetimeIndex, missing: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    if stamps.tz is None:
        stamps = stamps.tz_localize("UTC")
    latest = pd.Timestamp.now(tz="UTC") + FUTURE_SLACK
    with np.errstate(invalid="ignore"):
        inside = np.asarray((stamps >= EARLIEST) & (stamps <= latest))
    bad = ~inside & ~missing
    stamps = stamps.where(inside)  # NaT outside the window, so ns conversion cannot overflow
    return stamps.as_unit("ns"), missing, bad


def _size_label(value: object, scale: SizeScale) -> str:
    label = scale.normalise(value)
    if label not in scale.labels:
        alias = _SIZE_ALIASES.get(label.upper())
        if alias in scale.labels:
            return alias
    return label


def size_positions(values: pd.Series, scale: SizeScale) -> tuple[np.ndarray, np.ndarray]:
    """Size index on ``scale`` per row (-1: empty or not on the scale) and the ``missing`` mask."""
    codes, uniques = _factorize(values)
    texts = _texts(uniques)
    positions = {label: i for i, label in enumerate(scale.labels)}
    index = np.array([positions.get(_size_label(u, scale), -1) for u in texts], dtype=np.int64)
    empty = np.append(texts == "", True)[codes]
    out = _spread(codes, index, -1).astype(np.int64)
    return out, empty


def infer_scale(values: pd.Series) -> SizeScale:
    """The size scale of a file without ``size_scale`` in its column map.

    An ordered categorical carries its scale (canonical Parquet). Otherwise: the letter scale when
    most rows hold letter sizes, else the distinct numeric sizes found, sorted.
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and values.dtype.ordered:
        return SizeScale.of(values)
    letters = SizeScale.letters()
    codes, uniques = _factorize(values)
    rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
    texts = _texts(uniques)
    is_letter = np.array([_size_label(t, letters) in letters.labels for t in texts], dtype=bool)
    numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    is_number = np.isfinite(numbers)
    if rows[is_letter].sum() >= rows[is_number].sum():
        return letters
    distinct = np.unique(numbers[is_number])
    return SizeScale.from_spec([float(v) for v in distinct])

