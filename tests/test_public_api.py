"""The public surface: what notebook authors may use is listed, resolvable and sorted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import toolkit

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves_and_the_list_is_sorted() -> None:
    assert toolkit.__all__ == sorted(toolkit.__all__)
    for name in toolkit.__all__:
        assert getattr(toolkit, name) is not None, name


def test_notebooks_use_only_the_public_api() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        used = set(re.findall(r"\benough\.([A-Za-z_]\w*)", source))
        assert used <= set(toolkit.__all__), (path.name, sorted(used - set(toolkit.__all__)))


def test_notebooks_are_committed_without_outputs() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


def test_importing_the_toolkit_does_not_import_tensorflow() -> None:
    code = "import toolkit, toolkit.cli, sys; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
