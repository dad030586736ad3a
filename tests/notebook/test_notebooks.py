"""notebooks/fraction_sweep.ipynb under papermill writes the results contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import papermill

from toolkit.experiment.config import setting_names

from tests.tiny_shops import tiny_shop
from toolkit.results import read_shop_results

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "fraction_sweep.ipynb"


def test_the_notebook_runs_with_p_parameters_and_writes_the_contract(tmp_path: Path) -> None:
    data = tmp_path / "tiny.parquet"
    tiny_shop(2500, shop_id="tiny-shop").to_parquet(data)
    executed = tmp_path / "executed.ipynb"
    command = [
        sys.executable, "-m", "papermill", str(NOTEBOOK), str(executed),
        "-p", "data_path", str(data), "-p", "output_dir", str(tmp_path / "out"),
        "-p", "model", "most_popular", "-y", "fractions: [0.25, 0.5]",
        "--cwd", str(tmp_path),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    stored = read_shop_results(tmp_path / "out" / "tiny-shop")
    assert set(stored.runs["fraction"]) == {0.25, 0.5, 1.0}
    assert (stored.runs["model"] == "most_popular").all()
    for name in ("segments.parquet", "drift_cost.png", "quarantine.parquet"):
        assert (stored.folder / name).is_file()
    cells = json.loads(executed.read_text())["cells"]
    assert any("image/png" in o.get("data", {})
               for c in cells for o in c.get("outputs", [])), "the chart is shown inline"


def test_the_notebook_takes_a_parameters_file(tmp_path: Path) -> None:
    data = tmp_path / "tiny.parquet"
    tiny_shop(2500, shop_id="file-shop").to_parquet(data)
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(tmp_path), progress_bar=False,
        parameters={**papermill_yaml(ROOT / "params" / "quick.yaml"),
                    "data_path": str(data), "output_dir": str(tmp_path / "out")},
    )
    pick = read_shop_results(tmp_path / "out" / "file-shop").pick
    assert pick["model"] == "hgb" and pick["seeds"] == [0, 1, 2]


def papermill_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_papermill_reads_every_parameter_of_the_parameters_cell() -> None:
    found = set(papermill.inspect_notebook(str(NOTEBOOK)))
    # every experiment setting, from the one place they are defined, and the shop's inputs
    assert found == {*setting_names(), "data_path", "shop_id", "column_map", "output_dir"}


def test_a_list_given_with_p_is_refused_with_the_y_hint_before_training(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "papermill", str(NOTEBOOK), str(tmp_path / "executed.ipynb"),
        "-p", "seeds", "[7, 8]", "-p", "output_dir", str(tmp_path / "out"), "--cwd", str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "setting seeds: expected a list or mapping" in done.stderr and "-y 'seeds: [7, 8]'" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing was trained or written


def test_the_notebook_runs_your_own_model_found_through_pythonpath(tmp_path: Path) -> None:
    data = tmp_path / "tiny.parquet"
    tiny_shop(2500, shop_id="own-shop").to_parquet(data)
    command = [
        sys.executable, "-m", "papermill", str(NOTEBOOK), str(tmp_path / "executed.ipynb"),
        "-p", "data_path", str(data), "-p", "output_dir", str(tmp_path / "out"),
        "-p", "model", "mymodels:MyEstimator", "-y", "{model_params: {alpha: 2.0}, fractions: [0.5]}",
        "--cwd", str(tmp_path),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "examples"), os.environ.get("PYTHONPATH")]))}
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300, env=env)
    stored = read_shop_results(tmp_path / "out" / "own-shop")
    assert (stored.runs["model"] == "mymodels:MyEstimator").all()
    assert stored.pick["model_params"] == {"alpha": 2.0} and stored.pick["seed_independent"]
    assert set(stored.runs["fraction"]) == {0.5, 1.0}


def test_the_saved_chart_is_shown_as_saved_at_the_inline_scale(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    from toolkit.notebook.overview import saved_chart
    from toolkit.results import CHART_DPI, CHART_FILE

    figure = Figure(figsize=(6, 3))
    figure.subplots().plot([0, 1], [1, 0])
    figure.savefig(tmp_path / CHART_FILE, format="png", dpi=CHART_DPI)
    shown = saved_chart(tmp_path)
    assert shown.data == (tmp_path / CHART_FILE).read_bytes()  # the file itself, not drawn again
    assert shown.width == 600  # 6 inches at 120 dpi, shown at an inline figure's 100 px per inch
