"""The sweep file: which shops to run, where results go, and the parameters every notebook gets.

:meth:`SweepSpec.load` reads it; :func:`plan_shops` turns it into one
:class:`~toolkit.sweep.state.ShopRun` per shop (reading each file's shop ids).

A sweep file is YAML::

    name: spring-review             # names the sweep in messages
    data_dir: ../data/shops         # every *.parquet / *.pq / *.csv / *.csv.gz file in it is a shop
    column_map: column_maps/x.yaml  # optional, for the data_dir shops
    shops:                          # and/or: a list of files, or {path, shop_id, column_map, production_rows, weekly_growth}
      - ../data/extra/shop_q.csv
      - {path: ../data/acme.csv, shop_id: acme, column_map: column_maps/acme.yaml, production_rows: 12000000}
    shop_settings: volumes.csv      # optional: a table (CSV or Parquet) of shop_id, production_rows, weekly_growth
    output_dir: ../results/spring-review
    workers: 2                      # local Dask workers (default: one per core)
    shop_timeout_s: 7200            # optional: a shop whose notebook runs longer is killed (timed_out)
    fresh_kernels: false            # optional: true starts a kernel per shop instead of a warm one per worker
    notebook: ../notebooks/fraction_sweep.ipynb   # optional; this is the default
    parameters:                     # passed to every notebook run (its `parameters` cell)
      fractions: [0.125, 0.25, 0.5, 1.0]
      seeds: [0, 1]
      model: hgb

Every setting in ``parameters`` (and per shop) is checked — names, types and ranges
(:class:`~toolkit.experiment.config.ExperimentConfig`) — when the sweep is planned, before any shop
trains.

**Relative paths are resolved against the folder holding the sweep file** (not the working
directory), so a sweep file means the same thing whoever runs it from wherever. Every path handed to
a notebook is absolute: ``data_path``, ``column_map``, ``output_dir`` and any parameter whose name
ends in ``_path``, ``_dir`` or ``_file``.

Unknown keys are a :class:`~toolkit.errors.ParamsError` naming the file, the key and the keys allowed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import ParamsError
from toolkit.params_files import read_yaml_file
from toolkit.resources import package_file
from toolkit.results import shop_folder_name
from toolkit.sweep.state import ShopRun

__all__ = [
    "DEFAULT_NOTEBOOK", "SHOP_FILE_SUFFIXES", "ShopEntry", "SweepSpec", "notebook_parameters", "plan_shops", "shop_timeout",
]

#: The notebook every shop runs unless the sweep file names another.
DEFAULT_NOTEBOOK = package_file("fraction_sweep.ipynb")

#: File name endings that make a file in ``data_dir`` a shop.
SHOP_FILE_SUFFIXES: tuple[str, ...] = (".parquet", ".pq", ".csv", ".csv.gz")

#: Parameters the sweep sets per shop itself; a sweep file may not set them in ``parameters``.
PER_SHOP_PARAMETERS: tuple[str, ...] = ("data_path", "shop_id", "column_map", "output_dir")

_TOP_KEYS = (
    "name", "data_dir", "column_map", "shops", "shop_settings", "output_dir", "workers", "shop_timeout_s",
    "fresh_kernels", "notebook", "parameters",
)
#: Settings a shop may carry of its own (in ``shops`` or the ``shop_settings`` table).
PER_SHOP_SETTINGS: tuple[str, ...] = ("production_rows", "weekly_growth")
_SHOP_KEYS = ("path", "shop_id", "column_map", *PER_SHOP_SETTINGS)
_PATH_ENDINGS = ("_path", "_dir", "_file")


@dataclass(frozen=True)
class ShopEntry:
    """One shop file named by a sweep (``shop_id`` None: read from the file)."""

    path: Path
    shop_id: str | None = None
    column_map: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file, every path absolute."""

    name: str
    output_dir: Path
    shops: tuple[ShopEntry, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    workers: int | None = None
    notebook: Path = DEFAULT_NOTEBOOK
    source: Path | None = None
    shop_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: seconds a shop's notebook may run (from its kernel being ready) before it is killed; None: no limit
    shop_timeout_s: float | None = None
    #: a fresh kernel per shop instead of a warm kernel per worker thread (docs/sweep.md)
    fresh_kernels: bool = False

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepSpec:
        """Read a sweep file; relative paths in it are resolved against the file's folder."""
        path = Path(path).resolve()
        data = read_yaml_file(path, what="sweep file")
        return cls.from_dict(data, base_dir=path.parent, source=path)

    @classmethod
    def from_dict(
        cls, data: Any, *, base_dir: str | os.PathLike[str] | None = None, source: Path | None = None
    ) -> SweepSpec:
        """Build a spec from parsed YAML; relative paths resolve against ``base_dir`` (default: CWD)."""
        where = str(source) if source is not None else "<sweep>"
        base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        if not isinstance(data, Mapping):
            raise ParamsError(f"{where}: expected a mapping of sweep keys {list(_TOP_KEYS)}, got {type(data).__name__}")
        _check_keys(where, "", data, _TOP_KEYS)
        if "output_dir" not in data or not data["output_dir"]:
            raise ParamsError(f"{where}: key 'output_dir' missing, expected the folder results go to")
        if not data.get("data_dir") and not data.get("shops"):
            raise ParamsError(f"{where}: expected 'data_dir' (a folder of shop files) or 'shops' (a list of files)")
        column_map = _optional_file(where, "column_map", data.get("column_map"), base)
        shops: list[ShopEntry] = []
        if data.get("data_dir"):
            shops += _shops_in_folder(where, _path(where, "data_dir", data["data_dir"], base), column_map)
        shops += _listed_shops(where, data.get("shops") or [], base)
        _check_unique(where, shops)
        parameters = _parameters(where, data.get("parameters"), base)
        shop_settings = _shop_settings(where, data.get("shop_settings"), base)
        name = str(data.get("name") or (source.stem if source is not None else "sweep"))
        notebook = _optional_file(where, "notebook", data.get("notebook"), base) or DEFAULT_NOTEBOOK
        return cls(
            name=name,
            output_dir=_path(where, "output_dir", data["output_dir"], base),
            shops=tuple(shops),
            parameters=parameters,
            workers=_workers(where, data.get("workers")),
            notebook=notebook,
            source=source,
            shop_settings=shop_settings,
            shop_timeout_s=shop_timeout(data.get("shop_timeout_s"), f"{where}: key 'shop_timeout_s'"),
            fresh_kernels=_flag(where, "fresh_kernels", data.get("fresh_kernels", False)),
        )

    def where(self) -> str:
        """How messages name this sweep: its file, or its name."""
        return str(self.source) if self.source is not None else self.name


def _check_keys(where: str, prefix: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise ParamsError(f"{where}: unknown key '{prefix}{key}', expected one of {list(allowed)}")


def _path(where: str, key: str, value: Any, base: Path) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ParamsError(f"{where}: key '{key}' expected a path, got {value!r}")
    path = Path(os.path.expanduser(str(value)))
    return (path if path.is_absolute() else base / path).resolve()


def _optional_file(where: str, key: str, value: Any, base: Path) -> Path | None:
    if value is None:
        return None
    path = _path(where, key, value, base)
    if not path.is_file():
        raise ParamsError(f"{where}: key '{key}' names {path}, expected an existing file")
    return path


def _shops_in_folder(where: str, folder: Path, column_map: Path | None) -> list[ShopEntry]:
    if not folder.is_dir():
        raise ParamsError(f"{where}: key 'data_dir' names {folder}, expected an existing folder of shop files")
    files = sorted(
        child
        for child in folder.iterdir()
        if child.is_file()
        and not child.name.startswith((".", "_"))
        and child.name.lower().endswith(SHOP_FILE_SUFFIXES)
    )
    if not files:
        raise ParamsError(
            f"{where}: key 'data_dir' names {folder}, expected shop files ({', '.join(SHOP_FILE_SUFFIXES)}) in it"
        )
    return [ShopEntry(path=file, column_map=column_map) for file in files]


def _listed_shops(where: str, items: Any, base: Path) -> list[ShopEntry]:
    if not isinstance(items, list):
        raise ParamsError(f"{where}: key 'shops' expected a list of files or {{path, shop_id, column_map}}")
    shops = []
    for index, item in enumerate(items):
        key = f"shops[{index}]"
        if isinstance(item, (str, os.PathLike)):
            item = {"path": item}
        if not isinstance(item, Mapping):
            raise ParamsError(f"{where}: key '{key}' expected a file or {{path, shop_id, column_map}}, got {item!r}")
        _check_keys(where, f"{key}.", item, _SHOP_KEYS)
        if "path" not in item:
            raise ParamsError(f"{where}: key '{key}.path' missing, expected the shop's data file")
        path = _path(where, f"{key}.path", item["path"], base)
        if not path.is_file():
            raise ParamsError(f"{where}: key '{key}.path' names {path}, expected an existing data file")
        shop_id = item.get("shop_id")
        if shop_id is not None and (not isinstance(shop_id, (str, int)) or not str(shop_id).strip()):
            raise ParamsError(f"{where}: key '{key}.shop_id' expected a shop id, got {shop_id!r}")
        column_map = _optional_file(where, f"{key}.column_map", item.get("column_map"), base)
        settings = {name: item[name] for name in PER_SHOP_SETTINGS if item.get(name) is not None}
        shops.append(
            ShopEntry(path=path, shop_id=None if shop_id is None else str(shop_id), column_map=column_map, settings=settings)
        )
    return shops


def _shop_settings(where: str, value: Any, base: Path) -> dict[str, dict[str, Any]]:
    """The ``shop_settings`` table: shop_id → its own settings (empty cells: the sweep's)."""
    if value is None:
        return {}
    path = _path(where, "shop_settings", value, base)
    if not path.is_file():
        raise ParamsError(f"{where}: key 'shop_settings' names {path}, expected a table (CSV or Parquet) of shop settings")
    from toolkit.shops.loading import read_table

    table = read_table(path)
    if "shop_id" not in table.columns:
        raise ParamsError(f"{path}: column 'shop_id' missing, expected shop_id and some of {list(PER_SHOP_SETTINGS)}")
    unknown = sorted(set(table.columns) - {"shop_id", *PER_SHOP_SETTINGS})
    if unknown:
        raise ParamsError(f"{path}: unknown column(s) {unknown}, expected shop_id and some of {list(PER_SHOP_SETTINGS)}")
    settings: dict[str, dict[str, Any]] = {}
    for row in table.to_dict("records"):
        values = {}
        for name in PER_SHOP_SETTINGS:
            cell = row.get(name)
            if cell is None or (isinstance(cell, str) and not cell.strip()) or pd.isna(cell):
                continue
            try:
                number = float(cell)
            except (TypeError, ValueError):
                raise ParamsError(f"{path}: shop {row['shop_id']!r}, column '{name}': expected a number, got {cell!r}") from None
            values[name] = int(number) if name == "production_rows" else number
        settings[str(row["shop_id"])] = values
    return settings


def _check_unique(where: str, shops: list[ShopEntry]) -> None:
    seen: set[tuple[Path, str | None]] = set()
    for shop in shops:
        if (shop.path, shop.shop_id) in seen:
            raise ParamsError(f"{where}: shop file {shop.path} listed twice, expected each shop once")
        seen.add((shop.path, shop.shop_id))


def _parameters(where: str, value: Any, base: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParamsError(f"{where}: key 'parameters' expected a mapping of notebook parameters, got {value!r}")
    parameters: dict[str, Any] = {}
    for key, item in value.items():
        if key in PER_SHOP_PARAMETERS:
            raise ParamsError(
                f"{where}: key 'parameters.{key}' is set per shop by the sweep, expected it out of 'parameters' "
                "(use data_dir / shops / output_dir)"
            )
        if isinstance(item, str) and str(key).endswith(_PATH_ENDINGS) and "://" not in item:
            item = str(_path(where, f"parameters.{key}", item, base))
        parameters[str(key)] = item
    return parameters


def _workers(where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamsError(f"{where}: key 'workers' expected a whole number >= 1, got {value!r}")
    return value


def _flag(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParamsError(f"{where}: key '{key}' expected true or false, got {value!r}")
    return value


def shop_timeout(value: Any, where: str) -> float | None:
    """A shop timeout in seconds (None: no limit); ParamsError naming ``where`` unless a number > 0."""
    if value is None:
        return None
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ParamsError(f"{where} expected a number of seconds > 0, got {value!r}")
    return seconds


# -- planning ---------------------------------------------------------------------------------
def plan_shops(spec: SweepSpec) -> list[ShopRun]:
    """One run per shop, the most expected work first (:mod:`toolkit.sweep.workload`); checks
    parameters against the notebook's."""
    from toolkit.sweep.workload import shops_in

    if not spec.notebook.is_file():
        raise ParamsError(f"{spec.where()}: notebook {spec.notebook} not found, expected the shop notebook")
    _check_parameters(spec)
    runs: list[ShopRun] = []
    work: dict[str, float] = {}
    for entry in spec.shops:
        shops = shops_in(entry.path, entry.column_map, entry.shop_id)
        work.update(shops)
        for shop_id in shops:
            parameters = {
                **spec.parameters,
                **spec.shop_settings.get(shop_id, {}),
                **entry.settings,
                "data_path": str(entry.path),
                "shop_id": shop_id,
                "column_map": None if entry.column_map is None else str(entry.column_map),
                "output_dir": str(spec.output_dir),
            }
            runs.append(
                ShopRun(
                    shop_id, entry.path, entry.column_map, spec.output_dir / shop_folder_name(shop_id),
                    spec.notebook, parameters, timeout_s=spec.shop_timeout_s, fresh_kernel=spec.fresh_kernels,
                )
            )
    seen: dict[str, Path] = {}
    for run in runs:
        if run.shop_id in seen:
            raise ParamsError(
                f"{spec.where()}: shop '{run.shop_id}' is in both {seen[run.shop_id]} and {run.data_path}, "
                "expected each shop once (give shop_id in 'shops' to tell them apart)"
            )
        seen[run.shop_id] = run.data_path
    return sorted(runs, key=lambda run: -work.get(run.shop_id, 0.0))  # stable: equal work as listed


def _check_parameters(spec: SweepSpec) -> None:
    """Every parameter is one the notebook declares, and every setting is valid (before any training)."""
    from toolkit.experiment.config import ExperimentConfig, setting_names

    names = set(setting_names())
    for settings in (spec.parameters, *spec.shop_settings.values(), *(entry.settings for entry in spec.shops)):
        try:
            ExperimentConfig.from_params(**{key: value for key, value in settings.items() if key in names})
        except ParamsError as error:
            raise ParamsError(f"{spec.where()}: {error}") from None
    declared = notebook_parameters(spec.notebook)
    if not declared:
        return
    for key in spec.parameters:
        if key not in declared:
            raise ParamsError(
                f"{spec.where()}: unknown key 'parameters.{key}', expected a parameter of "
                f"{spec.notebook.name}: {sorted(declared)}"
            )


def notebook_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (empty: no such cell), as
    :func:`papermill.inspect_notebook` reads them."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))
