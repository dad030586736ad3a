"""The built wheel works outside the checkout: its package files are found without walking up
from the source tree (``toolkit.resources``)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPERIMENT = """
import sys, toolkit
from pathlib import Path
from toolkit.experiment.pricing import DEFAULT_PRICING_PATH
from toolkit.sweep.spec import DEFAULT_NOTEBOOK
assert "site-packages" in toolkit.__file__ and {root!r} not in toolkit.__file__, toolkit.__file__
assert DEFAULT_PRICING_PATH.is_file() and DEFAULT_NOTEBOOK.is_file(), (DEFAULT_PRICING_PATH, DEFAULT_NOTEBOOK)
folder, pick = toolkit.run_experiment_on_file(
    toolkit.demo_shop_path(), Path("out"), log=None, model="most_popular", fractions=[0.5], seeds=[0]
)
print("VERDICT", pick.verdict, (folder / "pick.json").is_file())
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; its dependencies come from this environment."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(folder.glob("enough-*.whl"))
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # The dependencies (not this checkout's editable toolkit: a plain path entry runs no .pth files).
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, timeout=300)
    return venv


def test_the_installed_wheel_answers_help_and_runs_an_experiment(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ENOUGH_PROJECT_ROOT")}
    help_text = subprocess.run(
        [str(installed / "bin" / "enough"), "--help"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert help_text.returncode == 0 and "sweep" in help_text.stdout and "report" in help_text.stdout
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", EXPERIMENT.format(root=str(ROOT / "toolkit"))],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "VERDICT" in done.stdout and done.stdout.strip().endswith("True")
    assert site.getsitepackages()  # the test ran in a virtualenv with site-packages
