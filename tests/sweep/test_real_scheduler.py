"""A sweep against a real ``dask scheduler`` and ``dask worker`` processes, as a team's cluster runs it.

The scheduler and each worker are separate processes started with the ``dask`` command line on
127.0.0.1 (not an in-process LocalCluster). The worker is killed with everything it started while it
runs the first shop; another worker joins; the sweep still completes, and its summary equals a
local sweep's in every column that is not a time or a path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.sweep.test_many_shops import PARAMETERS, _comparable, _kernels_of
from tests.tiny_shops import tiny_shop
from toolkit.sweep.many_shops import run_sweep
from toolkit.sweep.spec import SweepSpec
from toolkit.sweep.state import MARKER_FILE

DASK = Path(sys.executable).parent / "dask"
SHOPS = {"shop-x": 320, "shop-y": 380}


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A process in its own session, so killing its group kills it and every process it started."""
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _worker(scheduler_file: Path, log: Path) -> subprocess.Popen[bytes]:
    return _start(
        [str(DASK), "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
         "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
        log,
    )


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A ``dask scheduler`` process on 127.0.0.1; yields its address and its scheduler file."""
    scheduler_file = tmp_path / "scheduler.json"
    process = _start(
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        tmp_path / "scheduler.log",
    )
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            assert process.poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start within 60 s"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, but give the writer its close
        address = pd.read_json(scheduler_file, typ="series")["address"]
        yield address, scheduler_file
    finally:
        _kill(process)


def _spec(folder: Path, output_dir: str) -> SweepSpec:
    shops = folder / "shops"
    shops.mkdir(exist_ok=True)
    for i, (shop_id, rows) in enumerate(SHOPS.items()):
        tiny_shop(rows, seed=20 + i, shop_id=shop_id).to_parquet(shops / f"{shop_id}.parquet")
    return SweepSpec.from_dict(
        {"name": output_dir, "data_dir": "shops", "output_dir": output_dir, "parameters": PARAMETERS},
        base_dir=folder,
    )


def test_a_sweep_on_a_real_scheduler_survives_a_killed_worker_and_equals_a_local_one(
    tmp_path: Path, scheduler: tuple[str, Path]
) -> None:
    address, scheduler_file = scheduler
    spec = _spec(tmp_path, "out-cluster")
    first = _worker(scheduler_file, tmp_path / "worker-1.log")
    second = None
    outcome: dict[str, object] = {}

    def sweep() -> None:
        try:
            outcome["result"] = run_sweep(spec, scheduler=address, progress=False)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = err

    driver = threading.Thread(target=sweep)
    driver.start()
    try:
        deadline = time.monotonic() + 180
        while not _kernels_of(spec.output_dir):  # the first shop's kernel is running on the worker
            assert driver.is_alive(), outcome
            assert time.monotonic() < deadline, (tmp_path / "worker-1.log").read_text()[-3000:]
            time.sleep(0.1)
        assert not list(spec.output_dir.glob(f"*/{MARKER_FILE}"))  # killed mid-shop, not between shops
        _kill(first)
        gone = time.monotonic() + 15
        while _kernels_of(spec.output_dir):  # no orphan kernel keeps writing into the shop's folder
            assert time.monotonic() < gone, "the killed worker's kernel outlived it"
            time.sleep(0.2)
        second = _worker(scheduler_file, tmp_path / "worker-2.log")
        driver.join(timeout=600)
        assert not driver.is_alive(), "the sweep did not finish within 10 minutes of the kill"
    finally:
        for process in (first, second):
            if process is not None:
                _kill(process)
        driver.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    cluster = outcome["result"]
    assert (cluster.summary["status"] == "ok").all(), cluster.summary[["shop_id", "status", "error"]]

    local = run_sweep(_spec(tmp_path, "out-local"), workers=1, progress=False)
    pd.testing.assert_frame_equal(
        _comparable(cluster.summary, cluster.output_dir), _comparable(local.summary, local.output_dir)
    )
