"""Warm kernels: shop after shop in one kernel per worker, with the results of a fresh kernel per shop.

Real sweeps on a one-worker LocalCluster, so every shop of a sweep goes through the same worker
thread, hence the same warm kernel (until a failure replaces it).
"""

from __future__ import annotations

import json
import re
import textwrap
import threading
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from tests.sweep.probe_notebooks import WRITE_RESULTS, probe_notebook
from tests.tiny_shops import tiny_shop
from toolkit.results import MEASURED_SUMMARY_COLUMNS
from toolkit.sweep.many_shops import SweepResult, run_sweep
from toolkit.sweep.spec import SweepSpec
from toolkit.sweep.state import RUN_COLUMNS

#: Names of what follows from measured times (seconds, memory, money and the sentences stating it).
MEASURED = re.compile(r"seconds|rss|cpu|cost|usd|saving|break_even|explanation|compute_full|time_curve|generated_at")
TABLES = ("runs", "fractions", "segments", "quarantine")


def _sweep(folder: Path, output_dir: str, shops: list[Any], **settings: Any) -> SweepResult:
    spec = SweepSpec.from_dict({"shops": shops, "output_dir": output_dir, "workers": 1, **settings}, base_dir=folder)
    return run_sweep(spec, progress=False)


def _unmeasured(value: Any) -> Any:
    """``value`` (a pick.json) without the keys that follow from measured times, at any depth."""
    if isinstance(value, dict):
        return {key: _unmeasured(item) for key, item in value.items() if not MEASURED.search(key)}
    if isinstance(value, list):
        return [_unmeasured(item) for item in value]
    return value


def test_warm_kernels_give_the_same_results_as_a_fresh_kernel_per_shop(tmp_path: Path) -> None:
    for i, (shop_id, rows) in enumerate({"shop-a": 300, "shop-b": 360}.items()):
        tiny_shop(rows, seed=i, shop_id=shop_id).to_parquet(tmp_path / f"{shop_id}.parquet")
    # keras_mlp: seeded, stochastic fits (initial weights, shuffling) — what leftover global state would change.
    parameters = {"fractions": [0.5, 1.0], "seeds": [0, 1], "model": "keras_mlp", "reference_size": 200}
    shops = ["shop-a.parquet", "shop-b.parquet"]
    fresh = _sweep(tmp_path, "fresh", shops, parameters=parameters, fresh_kernels=True)
    warm = _sweep(tmp_path, "warm", shops, parameters=parameters)
    assert not fresh.failed and not warm.failed
    for shop_id in ("shop-a", "shop-b"):
        assert "kernel: fresh," in (fresh.output_dir / shop_id / "run.log").read_text()
        assert "kernel: warm," in (warm.output_dir / shop_id / "run.log").read_text()
        for table in TABLES:
            expected = pd.read_parquet(fresh.output_dir / shop_id / f"{table}.parquet")
            got = pd.read_parquet(warm.output_dir / shop_id / f"{table}.parquet")
            unmeasured = [column for column in expected.columns if not MEASURED.search(column)]
            assert "changed_rate" in unmeasured or table == "quarantine"
            pd.testing.assert_frame_equal(got[unmeasured], expected[unmeasured], check_exact=True)
        expected_pick = json.loads((fresh.output_dir / shop_id / "pick.json").read_text())
        got_pick = json.loads((warm.output_dir / shop_id / "pick.json").read_text())
        assert _unmeasured(got_pick) == _unmeasured(expected_pick)
    # One shop really ran in the kernel the other one started.
    started = [re.search(r"warm kernel pid (\d+): shop (\d+) in it", (warm.output_dir / s / "run.log").read_text())
               for s in ("shop-a", "shop-b")]
    assert started[0][1] == started[1][1] and {started[0][2], started[1][2]} == {"1", "2"}  # the larger first
    measured = [*RUN_COLUMNS, *MEASURED_SUMMARY_COLUMNS, "notebook_path", "log_path"]
    pd.testing.assert_frame_equal(warm.summary.drop(columns=measured), fresh.summary.drop(columns=measured))


# Each shop checks it starts from a clean slate, then leaves a mess for the next; some then fail.
PROBE = textwrap.dedent(
    """
    import json, os, sys, threading, time, warnings
    from pathlib import Path
    folder = Path(os.environ["ENOUGH_SHOP_DIR"])
    (folder / "probe.json").write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
    assert os.getcwd() == str(folder), os.getcwd()
    assert "mess" not in globals() and "LEFT_BY" not in os.environ and "/mess" not in sys.path
    warnings.warn("shown in every shop's notebook")
    mess, os.environ["LEFT_BY"] = 1, shop_id
    sys.path.append("/mess")
    os.chdir("/")
    if shop_id == "crash":
        os._exit(1)
    if shop_id == "hang":
        threading.Event().wait()
    if shop_id == "raise":
        raise RuntimeError("this shop fails")
    """
) + WRITE_RESULTS


def test_one_kernel_runs_shop_after_shop_and_a_failure_or_timeout_costs_only_its_shop(tmp_path: Path) -> None:
    tiny_shop(50).to_parquet(tmp_path / "shop.parquet")
    probe_notebook(tmp_path / "probe.ipynb", PROBE)
    names = ["clean-1", "clean-2", "crash", "clean-3", "raise", "clean-4", "hang", "clean-5"]
    result = _sweep(
        tmp_path, "out", [{"path": "shop.parquet", "shop_id": name} for name in names],
        notebook="probe.ipynb", shop_timeout_s=4,
    )
    status = result.summary.set_index("shop_id")
    ok = [name for name in names if name.startswith("clean")]
    assert list(status.loc[ok, "status"]) == ["ok"] * len(ok), status.loc[ok, "error"].tolist()
    assert status.loc["crash", "status"] == "failed" and "DeadKernelError" in status.loc["crash", "error"]
    assert status.loc["raise", "error"] == "RuntimeError: this shop fails (cell 3)"  # cells counted from 1 again
    assert status.loc["hang", "status"] == "timed_out"
    probes = {name: json.loads((result.output_dir / name / "probe.json").read_text()) for name in names}
    # Kernels are reused: fewer kernels than clean shops ...
    assert len({probes[name]["pid"] for name in ok}) < len(ok)
    # ... but never after a failure: no shop started later runs in the kernel of a failed shop.
    for failed in ("crash", "raise", "hang"):
        later = [name for name in ok if probes[name]["started"] > probes[failed]["started"]]
        assert later and all(probes[name]["pid"] != probes[failed]["pid"] for name in later), failed
    for name in ok:
        notebook = nbformat.read(result.output_dir / name / "fraction_sweep.ipynb", as_version=4)
        assert [cell.execution_count for cell in notebook.cells] == [1, 2, 3]  # In [1] again in every shop
        # Each shop's notebook shows its own warning, even when an earlier shop in its kernel triggered it.
        assert "shown in every shop's notebook" in nbformat.writes(notebook)


def test_a_sweep_stops_its_own_warm_kernels_only_and_a_running_one_when_its_shop_ends(tmp_path: Path) -> None:
    from toolkit.sweep.kernels import kernel_transport, thread_environment
    from toolkit.sweep.warm_kernels import KernelSettings, close_warm_kernels, shop_kernel

    def settings(sweep: str) -> KernelSettings:
        return KernelSettings.of(thread_environment(1), transport=kernel_transport(), kernel_name="python3", sweep=sweep)

    kernels, entered, leave = {}, threading.Event(), threading.Event()

    def run_shop(sweep: str, hold: bool) -> None:  # one worker thread running one shop of ``sweep``
        with shop_kernel(settings(sweep), str(tmp_path), {}) as kernel:
            kernels[sweep] = kernel
            if hold:
                entered.set()
                leave.wait(60)

    running = threading.Thread(target=run_shop, args=("ours", True))
    running.start()
    assert entered.wait(60)
    other = threading.Thread(target=run_shop, args=("theirs", False))
    other.start()
    other.join(60)
    assert close_warm_kernels("ours") == 1
    assert kernels["ours"].is_alive() and kernels["theirs"].is_alive()  # ours is running a shop: it finishes
    leave.set()
    running.join(60)
    assert not kernels["ours"].is_alive() and kernels["theirs"].is_alive()
    assert close_warm_kernels("theirs") == 1 and not kernels["theirs"].is_alive()
