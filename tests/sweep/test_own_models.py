"""A sweep with a model of the user's own (``model: mymodels:MyEstimator``), found through PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.tiny_shops import tiny_shop
from toolkit.results import read_shop_results

ROOT = Path(__file__).resolve().parents[2]
ENOUGH = Path(sys.executable).parent / "enough"
MODEL = "mymodels:MyEstimator"


def _sweep(folder: Path) -> Path:
    (folder / "shops").mkdir(parents=True)
    for i, (shop_id, rows) in enumerate({"own-a": 300, "own-b": 360}.items()):
        tiny_shop(rows, seed=i, shop_id=shop_id).to_parquet(folder / "shops" / f"{shop_id}.parquet")
    sweep = folder / "own.yaml"
    sweep.write_text(json.dumps({
        "name": "own", "data_dir": "shops", "output_dir": "out", "workers": 2,
        "parameters": {"fractions": [0.5, 1.0], "seeds": [0, 1], "model": MODEL, "model_params": {"alpha": 2.0},
                       "reference_size": 200},
    }))
    return sweep


def _enough_sweep(sweep: Path, pythonpath: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    # From the checkout, with the module's folder on PYTHONPATH as a *relative* path, as a user types it:
    # the kernels run in each shop's output folder and must still find it.
    return subprocess.run([str(ENOUGH), "sweep", str(sweep), "--no-progress"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600, check=False)


def test_enough_sweep_runs_your_own_model_on_two_shops(tmp_path: Path) -> None:
    done = _enough_sweep(_sweep(tmp_path), "examples")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet").set_index("shop_id")
    assert list(summary.index) == ["own-a", "own-b"] and (summary["status"] == "ok").all()
    for shop_id in summary.index:
        stored = read_shop_results(tmp_path / "out" / shop_id)
        assert (stored.runs["model"] == MODEL).all()
        assert stored.pick["model_params"] == {"alpha": 2.0}
        assert stored.pick["seed_independent"]  # MyEstimator says so: one full-data model
        assert set(stored.runs["role"]) == {"reference", "fraction"}


def test_a_module_the_sweep_cannot_import_stops_it_before_any_shop_runs(tmp_path: Path) -> None:
    done = _enough_sweep(_sweep(tmp_path), None)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("enough: error: ") and "own.yaml" in line
    assert f"model '{MODEL}': cannot import module 'mymodels'" in line and "PYTHONPATH" in line
    assert not (tmp_path / "out").exists()
