"""Enough: how much training data each shop's size model needs, what it costs, how much it drifts.

This is what a notebook author may use (``import toolkit as enough``). Names are resolved lazily,
so ``import toolkit`` (and the ``enough`` command) stays fast and TensorFlow is imported only when
a Keras model is trained.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name → the module that defines it
_EXPORTS: dict[str, str] = {
    # data
    "ColumnMap": "toolkit.columnmap",
    "ShopData": "toolkit.validate",
    "SizeScale": "toolkit.schema",
    "demo_shop_path": "toolkit.generate",
    "generate_shops": "toolkit.generate",
    "load_shop": "toolkit.validate",
    "validate_file": "toolkit.validate",
    # the experiment
    "ExperimentConfig": "toolkit.experiment",
    "ExperimentResult": "toolkit.experiment",
    "pick_for": "toolkit.experiment",
    "run_experiment": "toolkit.experiment",
    "run_shop": "toolkit.experiment",
    "split_for": "toolkit.experiment",
    "write_results": "toolkit.experiment",
    "split_shop": "toolkit.splits",
    "sample_rows": "toolkit.sampling",
    "available_models": "toolkit.models",
    "make_model": "toolkit.models",
    "register_model": "toolkit.models",
    "fit_metered": "toolkit.metering",
    "Pricing": "toolkit.pricing",
    "TimeCurve": "toolkit.pricing",
    "drift": "toolkit.compare",
    "wilson_interval": "toolkit.compare",
    "Pick": "toolkit.select",
    "pick_smallest_sufficient": "toolkit.select",
    # results, display, charts
    "ShopResults": "toolkit.results",
    "read_shop_results": "toolkit.results",
    "resolve_output_dir": "toolkit.results",
    "runs_overview": "toolkit.overview",
    "segment_overview": "toolkit.overview",
    "shop_overview": "toolkit.overview",
    "split_overview": "toolkit.overview",
    "verdict_table": "toolkit.overview",
    "portfolio_chart": "toolkit.charts",
    "segment_chart": "toolkit.charts",
    "shop_chart": "toolkit.charts",
    "ShopView": "toolkit.explore",
    "list_shops": "toolkit.explore",
    "list_sweeps": "toolkit.explore",
    "load_shop_results": "toolkit.explore",
    "repick": "toolkit.explore",
    "write_report": "toolkit.report",
    # many shops
    "SweepSpec": "toolkit.sweepfile",
    "run_sweep": "toolkit.sweep",
    # errors
    "DataError": "toolkit.errors",
    "ExperimentError": "toolkit.errors",
    "ParamsError": "toolkit.errors",
    "SweepError": "toolkit.errors",
    "ToolkitError": "toolkit.errors",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 — built from the table above


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
