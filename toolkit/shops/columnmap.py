"""Column maps: how a client's file shape becomes the canonical shop table.

A column map is a small YAML file in ``params/column_maps/``. Every key is optional; an empty map
(:meth:`ColumnMap.identity`) reads files that already use the canonical names and units::

    columns:            # canonical column -> the client's column
      height_cm: Height
      weight_kg: Weight
      size: Size bought
    constants:          # canonical column -> one value for every row
      gender: female
    shop_id_from: Store # take shop_id from this client column (a file holding several shops)
    shopper_id_from: row  # no shopper ids (a survey, an anonymised export): each row is its own shopper
    units: {height: in, weight: lb}          # height cm|in, weight kg|lb
    time_format: auto   # auto | unix_s | unix_ms | a strftime format such as "%d.%m.%Y %H:%M"
    size_scale: letters # letters | [XS, S, M, ...] | {numeric: {start: 32, stop: 56, step: 2}}
    outcomes:           # canonical outcome -> the client's words (case-insensitive)
      kept: [fit, kept]
      returned_too_small: [small]
      returned_too_large: [large]
      returned_other: [other, changed mind]
    genders: {female: [f, w], male: [m]}
    ranges: {height_cm: [120, 220], weight_kg: [30, 250], age: [13, 100]}
    quarantine_columns: [height_cm, weight_kg, size]  # the only columns kept in the quarantine file

Unknown keys anywhere are a :class:`~toolkit.errors.ParamsError` naming them and the allowed ones.
The canonical names and words themselves are always understood, so a map lists only differences.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import DataError, ParamsError
from toolkit.params_files import read_yaml_file
from toolkit.shops.schema import CANONICAL_COLUMNS, GENDERS, OUTCOMES, REQUIRED_COLUMNS, SizeScale

__all__ = ["DEFAULT_RANGES", "ColumnMap"]

#: Plausible values of the body columns in canonical units (inclusive); a column map may override.
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "height_cm": (120.0, 220.0),
    "weight_kg": (30.0, 250.0),
    "age": (13.0, 100.0),
}

#: Words understood for each gender besides the canonical name (lower case).
DEFAULT_GENDER_WORDS: dict[str, tuple[str, ...]] = {
    "female": ("f", "w", "woman", "women", "femme", "weiblich"),
    "male": ("m", "man", "men", "homme", "männlich"),
    "unknown": ("u", "x", "unknown", "other", "diverse", "none", "n/a"),
}

TIME_FORMATS_NAMED = ("auto", "unix_s", "unix_ms")
UNITS: dict[str, tuple[str, ...]] = {"height": ("cm", "in"), "weight": ("kg", "lb")}

#: What each required column holds, for "column missing" messages.
COLUMN_MEANING: dict[str, str] = {
    "shop_id": "a shop column, or a constant shop_id, or shop_id_from",
    "event_time": "a purchase date/time column",
    "shopper_id": "a shopper id column",
    "product_id": "a product id column",
    "category": "a product category column (or a constant)",
    "gender": "a gender column (or a constant such as gender: female)",
    "height_cm": "a height column",
    "weight_kg": "a weight column",
    "age": "an age column",
    "size": "a size column",
    "outcome": "an outcome column (kept / returned ...)",
}

_KEYS = (
    "description",
    "columns",
    "constants",
    "shop_id_from",
    "shopper_id_from",
    "units",
    "time_format",
    "size_scale",
    "outcomes",
    "genders",
    "ranges",
    "quarantine_columns",
)

#: The one value of ``shopper_id_from``: every row is a shopper of its own.
SHOPPER_PER_ROW = "row"


@dataclass(frozen=True)
class ColumnMap:
    """A client's file shape: column names, constants, units, time format, size scale and words."""

    source: str = "<identity column map>"
    description: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=lambda: {"height": "cm", "weight": "kg"})
    time_format: str = "auto"
    size_scale: SizeScale | None = None
    outcomes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    genders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RANGES))
    #: the file has no shopper ids: each row is its own shopper (``shopper_id_from: row``)
    shopper_id_from_row: bool = False
    #: the columns the quarantine file keeps (client or canonical names); None: every column
    quarantine_columns: tuple[str, ...] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> ColumnMap:
        """The map for files already in canonical shape (canonical names, cm, kg, scale from file)."""
        return cls()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ColumnMap:
        """Read a column-map YAML file; ParamsError naming the file for any wrong or unknown key."""
        path = Path(path)
        data = read_yaml_file(path, what="column map")
        return cls.from_dict(data or {}, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<column map>") -> ColumnMap:
        """Build a map from a parsed mapping (the YAML content); ``source`` names it in errors."""
        if not isinstance(data, Mapping):
            raise ParamsError(f"{source}: expected a mapping of column-map keys, got {type(data).__name__}")
        _check_keys(source, "", data, _KEYS)
        columns = _mapping(source, "columns", data.get("columns"), CANONICAL_COLUMNS)
        columns = {key: str(value) for key, value in columns.items()}
        constants = dict(_mapping(source, "constants", data.get("constants"), CANONICAL_COLUMNS))
        shop_from = data.get("shop_id_from")
        if shop_from is not None:
            if "shop_id" in columns and columns["shop_id"] != str(shop_from):
                raise ParamsError(f"{source}: shop_id is both in 'columns' and 'shop_id_from'; give one")
            columns["shop_id"] = str(shop_from)
        both = sorted(set(columns) & set(constants))
        if both:
            raise ParamsError(f"{source}: {both} both mapped in 'columns' and fixed in 'constants'; give one")
        from_row = _shopper_per_row(source, data.get("shopper_id_from"), columns, constants)
        units = _units(source, data.get("units"))
        time_format = _time_format(source, data.get("time_format"))
        scale = None if data.get("size_scale") is None else _scale(source, data["size_scale"])
        outcomes = _words(source, "outcomes", data.get("outcomes"), OUTCOMES)
        genders = _words(source, "genders", data.get("genders"), GENDERS)
        ranges = dict(DEFAULT_RANGES)
        ranges.update(_ranges(source, data.get("ranges")))
        return cls(
            source=source,
            description=str(data.get("description") or ""),
            columns=columns,
            constants=constants,
            units=units,
            time_format=time_format,
            size_scale=scale,
            outcomes=outcomes,
            genders=genders,
            ranges=ranges,
            shopper_id_from_row=from_row,
            quarantine_columns=_names(source, "quarantine_columns", data.get("quarantine_columns")),
        )

    # -- use ----------------------------------------------------------------------------------
    def outcome_words(self) -> dict[str, str]:
        """Lower-case word → canonical outcome (canonical names always included)."""
        return _lookup(OUTCOMES, {}, self.outcomes)

    def gender_words(self) -> dict[str, str]:
        """Lower-case word → canonical gender (canonical names and common spellings included)."""
        return _lookup(GENDERS, DEFAULT_GENDER_WORDS, self.genders)

    def source_columns(self, raw: pd.DataFrame, *, source: str) -> dict[str, str | None]:
        """For each canonical column, the raw column holding it (None: a constant or absent).

        A required column that is neither mapped, nor present under its own name, nor a constant
        raises :class:`DataError` naming the data file, the column and what was expected.
        """
        found: dict[str, str | None] = {}
        for column in CANONICAL_COLUMNS:
            if column in self.constants or (column == "shopper_id" and self.shopper_id_from_row):
                found[column] = None
                continue
            wanted = self.columns.get(column, column)
            name = self.raw_column(raw.columns, wanted, source=source)
            if name is None and column in self.columns:
                raise DataError(
                    f"{source}: column '{wanted}' missing (mapped to {column} in {self.source}); "
                    f"the file has columns {list(map(str, raw.columns))}"
                )
            if name is None and column in REQUIRED_COLUMNS:
                raise DataError(
                    f"{source}: column '{column}' missing (expected {COLUMN_MEANING[column]}, "
                    f"mapped in the column map's 'columns'); the file has columns "
                    f"{list(map(str, raw.columns))}"
                )
            found[column] = name
        return found

    def raw_column(self, columns: Sequence[Any], wanted: str, *, source: str) -> Any:
        """The column of the header ``columns`` named ``wanted``: exactly, else ignoring case and
        surrounding spaces (None: absent; DataError when two match the second way and neither exactly)."""
        if wanted in columns:
            return wanted
        matches = [name for name in columns if _fold(name) == _fold(wanted)]
        if len(matches) > 1:
            raise DataError(
                f"{source}: columns {list(map(str, matches))} both match '{wanted}' ({self.source}), "
                "expected one column of that name"
            )
        return matches[0] if matches else None


def _fold(name: object) -> str:
    return str(name).strip().lower()


def _check_keys(source: str, where: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        place = f" in '{where}'" if where else ""
        raise ParamsError(f"{source}: unknown keys {unknown}{place}; allowed: {', '.join(allowed)}")


def _mapping(source: str, key: str, value: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParamsError(f"{source}: '{key}' must be a mapping of canonical column -> value")
    _check_keys(source, key, value, allowed)
    return value


def _shopper_per_row(
    source: str, value: Any, columns: Mapping[str, str], constants: Mapping[str, Any]
) -> bool:
    if value is None:
        return False
    if str(value).strip().lower() != SHOPPER_PER_ROW:
        raise ParamsError(
            f"{source}: shopper_id_from is {value!r}, expected '{SHOPPER_PER_ROW}' (each row its own shopper); "
            "map a shopper id column under 'columns' instead"
        )
    if "shopper_id" in columns or "shopper_id" in constants:
        raise ParamsError(f"{source}: shopper_id is both mapped and taken from the row (shopper_id_from); give one")
    return True


def _time_format(source: str, value: Any) -> str:
    time_format = "auto" if value is None or value == "" else value
    if not isinstance(time_format, str):
        raise ParamsError(
            f"{source}: time_format is {value!r}, expected one of {list(TIME_FORMATS_NAMED)} or a strftime format"
        )
    if time_format in TIME_FORMATS_NAMED:
        return time_format
    try:
        pd.to_datetime(pd.Series(["2024-01-01"]), format=time_format, errors="coerce")
    except ValueError as err:
        raise ParamsError(
            f"{source}: time_format {time_format!r} is not a usable format ({err}), expected one of "
            f"{list(TIME_FORMATS_NAMED)} or a strftime format such as '%d.%m.%Y %H:%M'"
        ) from err
    if "%" not in time_format:
        raise ParamsError(
            f"{source}: time_format {time_format!r} has no %-directive, expected one of "
            f"{list(TIME_FORMATS_NAMED)} or a strftime format such as '%d.%m.%Y %H:%M'"
        )
    return time_format


def _names(source: str, key: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ParamsError(f"{source}: '{key}' must be a list of column names, got {value!r}")
    return tuple(str(name) for name in value)


def _units(source: str, value: Any) -> dict[str, str]:
    units = {"height": "cm", "weight": "kg"}
    for name, unit in _mapping(source, "units", value, tuple(UNITS)).items():
        unit = str(unit).strip().lower()
        if unit not in UNITS[name]:
            raise ParamsError(f"{source}: units.{name} is '{unit}', expected one of {list(UNITS[name])}")
        units[name] = unit
    return units


def _scale(source: str, spec: Any) -> SizeScale:
    try:
        return SizeScale.from_spec(spec)
    except ParamsError as err:
        raise ParamsError(f"{source}: size_scale: {str(err).removeprefix('size scale: ')}") from err


def _words(source: str, key: str, value: Any, allowed: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for name, words in _mapping(source, key, value, allowed).items():
        if isinstance(words, (str, int, float)):
            words = [words]
        if not isinstance(words, (list, tuple)):
            raise ParamsError(f"{source}: {key}.{name} must be a list of words, got {words!r}")
        result[name] = tuple(str(word).strip().lower() for word in words)
    return result


def _ranges(source: str, value: Any) -> dict[str, tuple[float, float]]:
    result: dict[str, tuple[float, float]] = {}
    for name, bounds in _mapping(source, "ranges", value, tuple(DEFAULT_RANGES)).items():
        if isinstance(bounds, Mapping):
            _check_keys(source, f"ranges.{name}", bounds, ("min", "max"))
            bounds = [bounds.get("min", DEFAULT_RANGES[name][0]), bounds.get("max", DEFAULT_RANGES[name][1])]
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError) as err:
            raise ParamsError(f"{source}: ranges.{name} must be [min, max], got {bounds!r}") from err
        if not low < high:
            raise ParamsError(f"{source}: ranges.{name} must have min < max, got [{low}, {high}]")
        result[name] = (low, high)
    return result


def _lookup(
    canonical: tuple[str, ...],
    defaults: Mapping[str, tuple[str, ...]],
    extra: Mapping[str, tuple[str, ...]],
) -> dict[str, str]:
    words: dict[str, str] = {}
    for name in canonical:
        for word in (*defaults.get(name, ()), name):
            words[word] = name
    for name, client_words in extra.items():  # the client's words win over the defaults
        for word in client_words:
            words[word] = name
    return words
