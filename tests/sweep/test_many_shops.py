"""Sweeps over many shops: real papermill runs of the shop notebook on a real Dask LocalCluster.

The expensive runs are shared by the tests of this module (one uninterrupted sweep of four tiny
shops, one killed and resumed), so the whole module stays around two minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask
import nbformat
import pandas as pd
import psutil
import pytest

from tests.sweep.probe_notebooks import WRITE_RESULTS, probe_notebook
from tests.tiny_shops import tiny_shop
from toolkit.errors import OutputError, ParamsError, SweepError
from toolkit.results import PICK_FILE, SEAL_FILE, shop_folder_name
from toolkit.sweep.kernels import available_cores
from toolkit.sweep.many_shops import run_sweep
from toolkit.sweep.spec import DEFAULT_NOTEBOOK, SweepSpec, plan_shops
from toolkit.results import MEASURED_SUMMARY_COLUMNS
from toolkit.sweep.state import MARKER_FILE, RUN_COLUMNS, ShopRun, is_complete, params_hash

ENOUGH = Path(sys.executable).parent / "enough"
GOOD = {"shop-a": 300, "shop-b": 360, "shop-c": 420}
PARAMETERS = {"fractions": [0.5, 1.0], "seeds": [0, 1], "model": "hgb", "reference_size": 200}


def _write_shops(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (shop_id, rows) in enumerate(GOOD.items()):
        tiny_shop(rows, seed=i, shop_id=shop_id).to_parquet(folder / f"{shop_id}.parquet")
    # Unusable: no height column at all.
    tiny_shop(300, seed=9, shop_id="shop-bad").drop(columns=["height_cm"]).to_parquet(folder / "shop-bad.parquet")


def _write_sweep(path: Path, output_dir: str, **parameters: object) -> Path:
    text = {
        "name": path.stem,
        "data_dir": "shops",
        "output_dir": output_dir,
        "workers": 2,
        "parameters": {**PARAMETERS, **parameters},
    }
    path.write_text(json.dumps(text))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    _write_shops(folder / "shops")
    return folder


@pytest.fixture(scope="module")
def uninterrupted(workspace: Path):
    """One sweep of three good shops and one bad one, on two local workers."""
    spec = SweepSpec.load(_write_sweep(workspace / "whole.yaml", "out-whole"))
    return run_sweep(spec, progress=False)


def _comparable(summary: pd.DataFrame, output_dir: Path) -> pd.DataFrame:
    frame = summary.drop(columns=[*RUN_COLUMNS, *MEASURED_SUMMARY_COLUMNS]).copy()
    for column in ("notebook_path", "log_path"):
        frame[column] = frame[column].str.replace(str(output_dir), "<out>", regex=False)
    return frame


# -- one sweep: successes, and a failure that stays local ---------------------------------------
def test_three_tiny_shops_on_two_workers_complete(uninterrupted) -> None:
    summary = uninterrupted.summary.set_index("shop_id")
    assert list(summary.index) == ["shop-a", "shop-b", "shop-bad", "shop-c"]
    good = summary.loc[list(GOOD)]
    assert (good["status"] == "ok").all()
    assert good["picked_fraction"].isin([0.5, 1.0]).all()
    assert (good["full_train_rows"] > good["pick_train_rows"] - 1).all()
    for shop_id in GOOD:
        folder = uninterrupted.output_dir / shop_id
        for name in ("pick.json", "runs.parquet", "fraction_sweep.ipynb", "run.log", MARKER_FILE):
            assert (folder / name).is_file(), (shop_id, name)
    stored = pd.read_parquet(uninterrupted.summary_path)
    pd.testing.assert_frame_equal(stored, uninterrupted.summary)


def test_a_shop_with_unusable_data_fails_alone(uninterrupted) -> None:
    bad = uninterrupted.summary.set_index("shop_id").loc["shop-bad"]
    assert bad["status"] == "failed"
    assert "height_cm" in bad["error"] and "DataError" in bad["error"] and "\n" not in bad["error"]
    notebook = nbformat.read(bad["notebook_path"], as_version=4)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "DataError"
    assert not (uninterrupted.output_dir / "shop-bad" / MARKER_FILE).exists()
    with pytest.raises(SweepError, match="shop-bad: DataError"):
        uninterrupted.raise_for_failures()


# -- killed part-way, resumed ------------------------------------------------------------------
def _kernels_of(output_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            environ = process.environ()  # as the process started: a warm kernel's names the sweep's output_dir
            if f"{environ.get('ENOUGH_OUTPUT_DIR')}/".startswith(f"{output_dir}/") or environ.get(
                "ENOUGH_SHOP_DIR", ""
            ).startswith(str(output_dir)):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def test_a_killed_sweep_resumed_equals_an_uninterrupted_one(workspace: Path, uninterrupted) -> None:
    sweep = _write_sweep(workspace / "killed.yaml", "out-killed")
    output_dir = workspace / "out-killed"
    with open(workspace / "killed.log", "wb") as log:
        driver = subprocess.Popen(
            [str(ENOUGH), "sweep", str(sweep), "--workers", "1", "--no-progress"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not list(output_dir.glob(f"*/{MARKER_FILE}")):
            assert driver.poll() is None, (workspace / "killed.log").read_text()
            assert time.monotonic() < deadline, "no shop completed within 120 s"
            time.sleep(0.1)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    complete_before = {p.parent.name: json.loads(p.read_text()) for p in output_dir.glob(f"*/{MARKER_FILE}")}
    assert 1 <= len(complete_before) < len(GOOD)
    # Nothing half-written counts as complete: every marker has its pick.json; kernels die with their worker.
    for shop_id in complete_before:
        assert (output_dir / shop_id / "pick.json").is_file()
    deadline = time.monotonic() + 15
    while _kernels_of(output_dir):
        assert time.monotonic() < deadline, "orphaned kernels outlived the killed sweep"
        time.sleep(0.2)

    resumed = subprocess.run(
        [str(ENOUGH), "sweep", str(sweep), "--no-progress"], capture_output=True, text=True, check=False
    )
    assert resumed.returncode != 0  # shop-bad still fails
    assert "shop-bad" in resumed.stdout + resumed.stderr
    for shop_id, marker in complete_before.items():  # not rerun
        assert json.loads((output_dir / shop_id / MARKER_FILE).read_text()) == marker

    summary = pd.read_parquet(output_dir / "summary.parquet")
    pd.testing.assert_frame_equal(
        _comparable(summary, output_dir), _comparable(uninterrupted.summary, uninterrupted.output_dir)
    )


def test_changed_data_or_damaged_results_rerun_those_shops_only(workspace: Path, uninterrupted) -> None:
    spec = SweepSpec.load(_write_sweep(workspace / "whole.yaml", "out-whole"))
    tiny_shop(GOOD["shop-b"], seed=42, shop_id="shop-b").to_parquet(workspace / "shops" / "shop-b.parquet")
    (uninterrupted.output_dir / "shop-a" / PICK_FILE).write_text('{"shop_id": "shop-a", "pi')  # corrupted
    result = run_sweep(spec, progress=False)
    skipped = {o.shop_id for o in result.skipped}
    assert skipped == {"shop-c"}
    assert {o.shop_id for o in result.failed} == {"shop-bad"}
    assert list(result.summary.set_index("shop_id").loc[["shop-a", "shop-b"], "status"]) == ["ok", "ok"]
    assert json.loads((uninterrupted.output_dir / "shop-a" / PICK_FILE).read_text())["shop_id"] == "shop-a"


def test_changed_parameters_make_every_shop_incomplete(workspace: Path, uninterrupted) -> None:
    spec = SweepSpec.load(_write_sweep(workspace / "whole.yaml", "out-whole"))
    changed = SweepSpec.load(_write_sweep(workspace / "other.yaml", "out-whole", seeds=[0, 2]))
    for run, other in zip(plan_shops(spec), plan_shops(changed)):
        if run.shop_id in GOOD:
            assert is_complete(run, params_hash(run))
            assert params_hash(run) != params_hash(other) and not is_complete(other, params_hash(other))


# -- kernels: threads, working directory, transport; crashes and lost workers -------------------
PROBE = textwrap.dedent(
    """
    import json, os, threading, ipykernel
    from pathlib import Path
    folder = Path(os.environ["ENOUGH_SHOP_DIR"])
    if shop_id == "crash":
        os._exit(1)
    if shop_id == "lose-worker":
        os.kill(os.getppid(), 9)  # the Dask worker that started this kernel
    if shop_id == "hang":
        threading.Event().wait()  # a cell that never returns
    names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"]
    probe = {"env": {n: os.environ.get(n) for n in names}, "cwd": os.getcwd(),
             "transport": json.loads(ipykernel.get_connection_info())["transport"]}
    (folder / "probe.json").write_text(json.dumps(probe))
    """
) + WRITE_RESULTS


def _probe_notebook(path: Path) -> Path:
    return probe_notebook(path, PROBE)


def test_kernels_get_thread_counts_cwd_and_ipc_and_crashes_and_hangs_stay_local(tmp_path: Path) -> None:
    data = tmp_path / "shop.parquet"
    tiny_shop(50).to_parquet(data)
    _probe_notebook(tmp_path / "probe.ipynb")
    good = ("one", "two {x} ../..")  # braces: papermill formats paths; slashes: never a folder of their own
    shops = [{"path": "shop.parquet", "shop_id": name} for name in (*good, "crash", "lose-worker", "hang")]
    spec = SweepSpec.from_dict(
        {"name": "probe", "shops": shops, "output_dir": "out {y}", "workers": 2, "notebook": "probe.ipynb",
         "shop_timeout_s": 4},
        base_dir=tmp_path,
    )
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        result = run_sweep(spec, progress=False)
    status = result.summary.set_index("shop_id")
    assert list(status.loc[list(good), "status"]) == ["ok", "ok"]
    assert status.loc["crash", "status"] == "failed" and "DeadKernelError" in status.loc["crash", "error"]
    assert Path(status.loc["crash", "notebook_path"]).is_file()
    assert status.loc["lose-worker", "status"] == "failed" and "worker lost" in status.loc["lose-worker", "error"]
    assert status.loc["hang", "status"] == "timed_out" and "shop_timeout_s" in status.loc["hang", "error"]
    assert {o.shop_id for o in result.failed} == {"crash", "lose-worker", "hang"}
    expected = str(max(1, available_cores() // 2))
    for shop_id in good:
        folder = tmp_path / "out {y}" / shop_folder_name(shop_id)
        probe = json.loads((folder / "probe.json").read_text())
        assert set(probe["env"].values()) == {expected}
        assert probe["cwd"] == str(folder)
        assert probe["transport"] == ("ipc" if os.name == "posix" else "tcp")
    assert sorted(p.name for p in (tmp_path / "out {y}").iterdir()) == sorted(
        [".sweep.lock", "summary.parquet", *(shop_folder_name(s) for s in status.index)]
    )


# -- the sweep file ----------------------------------------------------------------------------
def _spec_error(tmp_path: Path, text: str) -> str:
    (tmp_path / "shops").mkdir(exist_ok=True)
    tiny_shop(50).to_parquet(tmp_path / "shops" / "s.parquet")
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ParamsError) as caught:
        plan_shops(SweepSpec.load(path))
    message = str(caught.value)
    assert str(path) in message
    return message


def test_sweep_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    assert "'wokers'" in _spec_error(tmp_path, "data_dir: shops\noutput_dir: out\nwokers: 2\n")
    assert "'shops[0].shopid'" in _spec_error(tmp_path, "shops: [{path: shops/s.parquet, shopid: x}]\noutput_dir: out\n")
    message = _spec_error(tmp_path, "data_dir: shops\noutput_dir: out\nparameters: {epochs: 3}\n")
    assert "'parameters.epochs'" in message and "model_params" in message
    assert "'parameters.data_path'" in _spec_error(tmp_path, "data_dir: shops\noutput_dir: out\nparameters: {data_path: x}\n")
    assert "'workers'" in _spec_error(tmp_path, "data_dir: shops\noutput_dir: out\nworkers: 0\n")
    assert "'data_dir'" in _spec_error(tmp_path, "data_dir: nowhere\noutput_dir: out\n")
    assert "'fresh_kernels' expected true or false" in _spec_error(
        tmp_path, "data_dir: shops\noutput_dir: out\nfresh_kernels: 'yes'\n"
    )


def test_relative_paths_resolve_against_the_sweep_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "shops").mkdir()
    tiny_shop(50, shop_id="x1").to_parquet(tmp_path / "shops" / "x1.parquet")
    (tmp_path / "params" / "s.yaml").write_text("data_dir: ../shops\noutput_dir: ../out\nparameters: {model: hgb}\n")
    monkeypatch.chdir(tmp_path / "shops")
    spec = SweepSpec.load("../params/s.yaml")
    [run] = plan_shops(spec)
    assert spec.notebook == DEFAULT_NOTEBOOK
    assert run.shop_id == "x1" and run.shop_dir == tmp_path / "out" / "x1"
    assert run.parameters["data_path"] == str(tmp_path / "shops" / "x1.parquet")
    assert run.parameters["output_dir"] == str(tmp_path / "out")
    # Parameters naming files become absolute too (pricing_path: the experiment's pricing file).
    data = {"data_dir": "shops", "output_dir": "out", "parameters": {"pricing_path": "params/p.yaml"}}
    spec = SweepSpec.from_dict(data, base_dir=tmp_path)
    assert spec.parameters["pricing_path"] == str(tmp_path / "params" / "p.yaml")


# -- hardening: hostile shop ids, damaged results, timeouts, unwritable output ------------------
def test_any_shop_id_gets_its_own_folder_inside_output_dir(tmp_path: Path) -> None:
    tiny_shop(50).to_parquet(tmp_path / "s.parquet")
    ids = ["../x", "/abs/path", "{x}", "a b", "a&b", "..", "shop-01-alpine"]
    spec = SweepSpec.from_dict(
        {"shops": [{"path": "s.parquet", "shop_id": shop_id} for shop_id in ids], "output_dir": "out"},
        base_dir=tmp_path,
    )
    runs = plan_shops(spec)
    assert sorted(run.shop_id for run in runs) == sorted(ids)
    assert all(run.shop_dir.parent == tmp_path / "out" for run in runs)
    assert len({run.shop_dir for run in runs}) == len(ids)
    assert next(run for run in runs if run.shop_id == "shop-01-alpine").shop_dir.name == "shop-01-alpine"


def _complete_by_hand(tmp_path: Path) -> ShopRun:
    """A shop folder as a successful run leaves it: results, seal, marker."""
    from toolkit.results import write_json, write_parquet
    from toolkit.sweep.state import record_complete

    (tmp_path / "probe.ipynb").write_text("{}")
    tiny_shop(50).to_parquet(tmp_path / "s.parquet")
    run = ShopRun("s", tmp_path / "s.parquet", None, tmp_path / "out" / "s", tmp_path / "probe.ipynb", {})
    write_parquet(pd.DataFrame({"fraction": [1.0]}), run.shop_dir / "runs.parquet")
    write_parquet(pd.DataFrame({"fraction": [1.0]}), run.shop_dir / "fractions.parquet")
    write_json({"shop_id": "s", "picked_fraction": 1.0, "reduced": False}, run.shop_dir / PICK_FILE)
    record_complete(run, params_hash(run), 1.0)
    return run


def test_edited_results_are_not_current_and_a_failed_rerun_leaves_no_stale_pick(tmp_path: Path) -> None:
    from toolkit.sweep.state import build_summary, clear_shop, record_failure

    run = _complete_by_hand(tmp_path)
    digest = params_hash(run)
    assert (run.shop_dir / SEAL_FILE).is_file() and is_complete(run, digest)
    pick = run.shop_dir / PICK_FILE
    pick.write_text(pick.read_text().replace("false", "true"))  # edited by hand, still valid JSON
    assert not is_complete(run, digest)  # the next sweep reruns it
    row = build_summary([run], {"s": digest}).iloc[0]
    assert row["status"] == "tampered" and "pick.json" in row["error"]
    (run.shop_dir / ".fraction_sweep.partial.ipynb").write_text("{")  # left by a run killed mid-write
    clear_shop(run)
    assert not list(run.shop_dir.glob(".*")) and not pick.exists()
    _complete_by_hand(tmp_path)  # complete again, then a rerun that fails:
    record_failure(run, digest, "DataError: the rerun failed", 2.0)
    assert not pick.exists() and not (run.shop_dir / SEAL_FILE).exists()
    assert build_summary([run], {"s": digest}).iloc[0]["status"] == "failed"


def test_a_completed_shop_whose_seal_was_deleted_is_not_current(tmp_path: Path) -> None:
    from toolkit.sweep.state import build_summary

    run = _complete_by_hand(tmp_path)
    digest = params_hash(run)
    pick = run.shop_dir / PICK_FILE
    pick.write_text(pick.read_text().replace("1.0", "0.5"))  # edited by hand, and the seal removed
    (run.shop_dir / SEAL_FILE).unlink()
    assert not is_complete(run, digest)  # the next sweep reruns it
    row = build_summary([run], {"s": digest}).iloc[0]
    assert row["status"] == "tampered" and SEAL_FILE in row["error"] and "missing" in row["error"]


def test_shop_timeout_is_checked_and_an_output_dir_that_is_a_file_is_refused_first(tmp_path: Path, capsys) -> None:
    from toolkit.cli import main

    tiny_shop(50).to_parquet(tmp_path / "s.parquet")
    for wrong in ("soon", 0, -5, True):
        with pytest.raises(ParamsError, match="'shop_timeout_s' expected a number of seconds > 0"):
            SweepSpec.from_dict({"shops": ["s.parquet"], "output_dir": "out", "shop_timeout_s": wrong}, base_dir=tmp_path)
    (tmp_path / "taken").write_text("x")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("shops: [s.parquet]\noutput_dir: taken\n")
    with pytest.raises(OutputError, match="key 'output_dir'.*taken is a file, not a folder"):
        run_sweep(SweepSpec.load(sweep), progress=False)
    assert main(["sweep", str(sweep), "--shop-timeout", "30", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("enough: error: ") and "is a file, not a folder" in err
    with pytest.raises(SystemExit) as refused:  # the flag is checked itself, before the output folder
        main(["sweep", str(sweep), "--shop-timeout", "0", "--no-progress"])
    assert refused.value.code == 2
    assert "--shop-timeout expected a number of seconds > 0, got '0'" in capsys.readouterr().err


def test_a_full_disk_fails_the_shop_in_one_line_without_a_truncated_notebook(tmp_path: Path, monkeypatch) -> None:
    import errno

    from papermill.iorw import LocalHandler

    from toolkit.sweep.many_shops import run_shop_notebook

    def disk_full(self, buf, path):
        with open(path, "w", encoding="utf-8") as file:
            file.write(buf[:10])  # what a full disk leaves: the start of the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalHandler, "write", disk_full)
    tiny_shop(50).to_parquet(tmp_path / "s.parquet")
    notebook = _probe_notebook(tmp_path / "probe.ipynb")
    parameters = {"data_path": str(tmp_path / "s.parquet"), "shop_id": "s", "column_map": None, "output_dir": str(tmp_path)}
    run = ShopRun("s", tmp_path / "s.parquet", None, tmp_path / "out" / "s", notebook, parameters)
    outcome = run_shop_notebook(run)
    assert outcome.status == "failed" and "No space left on device" in outcome.error and "\n" not in outcome.error
    assert sorted(p.name for p in run.shop_dir.iterdir()) == ["failed.json", "run.log"]  # no notebook, half or whole
