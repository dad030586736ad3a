"""Probe notebooks for sweep tests: the sweep's parameters, then one cell of the test's own code."""

from __future__ import annotations

from pathlib import Path

import nbformat

#: The results contract, written the cheapest way: the tables (any Parquet will do), then the pick.
WRITE_RESULTS = """
import json, shutil
shutil.copy(data_path, folder / "runs.parquet")
shutil.copy(data_path, folder / "fractions.parquet")
(folder / "pick.json").write_text(json.dumps({"shop_id": shop_id, "picked_fraction": 1.0, "reduced": False}))
"""


def probe_notebook(path: Path, code: str) -> Path:
    """Write a notebook whose tagged parameters cell takes a sweep's per-shop parameters, then runs ``code``."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("data_path = None\nshop_id = None\ncolumn_map = None\noutput_dir = None")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path
