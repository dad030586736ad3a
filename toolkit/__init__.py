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
    "ColumnMap": "toolkit.shops.columnmap",
    "ShopData": "toolkit.shops.validate",
    "SizeScale": "toolkit.shops.schema",
    "demo_shop_path": "toolkit.shops.generate",
    "generate_shops": "toolkit.shops.generate",
    "load_shop": "toolkit.shops.validate",
    "validate_file": "toolkit.shops.validate",
    # the experiment
    "ExperimentConfig": "toolkit.experiment.config",
    "PickRule": "toolkit.experiment.config",
    "ExperimentResult": "toolkit.experiment.one_shop",
    "pick_for": "toolkit.experiment.one_shop",
    "run_experiment": "toolkit.experiment.one_shop",
    "run_experiment_on_file": "toolkit.experiment.one_shop",
    "split_for": "toolkit.experiment.one_shop",
    "write_results": "toolkit.experiment.one_shop",
    "split_shop": "toolkit.experiment.splits",
    "sample_rows": "toolkit.experiment.sampling",
    "available_models": "toolkit.models",
    "make_model": "toolkit.models",
    "register_model": "toolkit.models",
    "fit_metered": "toolkit.experiment.metering",
    "Pricing": "toolkit.experiment.pricing",
    "TimeCurve": "toolkit.experiment.pricing",
    "drift": "toolkit.experiment.compare",
    "wilson_interval": "toolkit.experiment.compare",
    "Pick": "toolkit.experiment.decision",
    "pick_smallest_sufficient": "toolkit.experiment.decision",
    "export_model": "toolkit.experiment.export",
    # results, display, charts
    "ShopResults": "toolkit.results",
    "read_shop_results": "toolkit.results",
    "resolve_output_dir": "toolkit.results",
    "fractions_overview": "toolkit.notebook.overview",
    "settings_overview": "toolkit.notebook.overview",
    "shown_fraction": "toolkit.notebook.overview",
    "verdict_summary": "toolkit.notebook.overview",
    "saved_chart": "toolkit.notebook.overview",
    "shop_folder_name": "toolkit.results",
    "segment_overview": "toolkit.notebook.overview",
    "shop_overview": "toolkit.notebook.overview",
    "split_overview": "toolkit.notebook.overview",
    "verdict_table": "toolkit.notebook.overview",
    "portfolio_chart": "toolkit.report.charts",
    "segment_chart": "toolkit.report.charts",
    "shop_chart": "toolkit.report.charts",
    "ShopView": "toolkit.notebook.explore",
    "list_shops": "toolkit.notebook.explore",
    "list_sweeps": "toolkit.notebook.explore",
    "load_shop_results": "toolkit.notebook.explore",
    "repick": "toolkit.notebook.explore",
    "write_report": "toolkit.report.pdf",
    # many shops
    "SweepSpec": "toolkit.sweep.spec",
    "run_sweep": "toolkit.sweep.many_shops",
    # errors
    "DataError": "toolkit.errors",
    "ExperimentError": "toolkit.errors",
    "ExportError": "toolkit.errors",
    "OutputError": "toolkit.errors",
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
