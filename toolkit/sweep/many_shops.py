"""Many shops: one papermill run of the shop notebook per shop, in parallel on Dask distributed.

:func:`run_sweep` plans one :class:`~toolkit.sweep.state.ShopRun` per shop of a
:class:`~toolkit.sweep.spec.SweepSpec`, submits :func:`run_shop_notebook` for each to Dask — a
``LocalCluster`` of single-threaded worker processes by default, or an existing scheduler — and
shows a progress bar over shops. Each worker thread keeps a warm kernel that runs its shops one after
another, each from a clean slate (:mod:`toolkit.sweep.warm_kernels`; ``fresh_kernels`` starts one per
shop instead, see :mod:`toolkit.sweep.kernels`); a shop's working directory is its output folder, and
the kernels' thread counts are the worker host's cores divided by the concurrent runs on that host.

A shop that fails (bad data, a crashing kernel, a lost worker) is recorded with one line and the
path of its executed notebook; the other shops go on. Shops already complete for the same notebook,
parameters and data (see :mod:`toolkit.sweep.state`) are skipped, so an interrupted sweep is resumed
by running it again. The summary is rebuilt from what is on disk at the end.

With an existing scheduler (``scheduler="tcp://host:8786"``), the data files, the notebook and
``output_dir`` must be at the same paths on every worker and on this machine (a shared filesystem).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
from tqdm.auto import tqdm

from toolkit.errors import OutputError, SweepError, os_error_reason
from toolkit.sweep.kernels import ShopTimedOut, available_cores, execute_shop_notebook, kernel_transport
from toolkit.results import PICK_FILE, prepare_output_dir, verify_shop_results
from toolkit.sweep.spec import SweepSpec, plan_shops
from toolkit.sweep.warm_kernels import close_warm_kernels
from toolkit.sweep.state import (
    ShopRun,
    SUMMARY_FILE,
    build_summary,
    clear_shop,
    is_complete,
    params_hash,
    record_complete,
    record_failure,
    write_summary,
)

__all__ = ["ShopOutcome", "SweepResult", "run_shop_notebook", "run_sweep"]

_ERROR_CHARS = 400


@dataclass(frozen=True)
class ShopOutcome:
    """How one shop's run ended: ``status`` ok | failed | timed_out; ``skipped``: complete from an earlier run."""

    shop_id: str
    status: str
    skipped: bool = False
    error: str | None = None
    notebook_path: str | None = None
    params_hash: str | None = None
    run_seconds: float | None = None


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: every shop's outcome and the summary table written to ``summary_path``."""

    name: str
    output_dir: Path
    summary_path: Path
    summary: pd.DataFrame
    outcomes: tuple[ShopOutcome, ...]
    wall_seconds: float

    @property
    def failed(self) -> list[ShopOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status != "ok"]

    @property
    def skipped(self) -> list[ShopOutcome]:
        return [outcome for outcome in self.outcomes if outcome.skipped]

    def raise_for_failures(self) -> None:
        """Raise :class:`SweepError` naming every failed shop, its error and its notebook."""
        if self.failed:
            lines = [f"{self.name}: {len(self.failed)} of {len(self.outcomes)} shops failed"]
            lines += [f"  {o.shop_id}: {o.error} (notebook: {o.notebook_path or 'not written'})" for o in self.failed]
            raise SweepError("\n".join(lines))


# -- one shop (runs on a Dask worker) ---------------------------------------------------------
def run_shop_notebook(
    run: ShopRun, *, slots_by_host: Mapping[str, int] | None = None, topic: str | None = None
) -> ShopOutcome:
    """Run one shop's notebook unless it is complete for the same hash; never raises for the shop's own failure.

    ``slots_by_host``: how many runs execute at once on each worker host (threads per kernel =
    the host's cores // that); ``topic``: the Dask event topic announcing the start of the run, which
    also names the sweep whose warm kernels may run it (unless ``run.fresh_kernel``).
    A notebook still running ``run.timeout_s`` seconds after its kernel was ready is killed and the
    shop is ``timed_out``; a folder that cannot be written (disk full, read-only) fails the shop
    with one line.
    """
    started = time.perf_counter()
    try:
        run.shop_dir.mkdir(parents=True, exist_ok=True)
        digest = params_hash(run)
    except OSError as err:
        return _failed(run, None, f"cannot prepare the shop ({os_error_reason(err)}: {err.filename or run.shop_dir})")
    if is_complete(run, digest):
        return ShopOutcome(run.shop_id, "ok", skipped=True, notebook_path=str(run.executed_notebook), params_hash=digest)
    try:
        clear_shop(run)
        run.log_path.write_text("", encoding="utf-8")
        log = run.log_path.open("a", encoding="utf-8")  # the kernel process appends to it too
    except OSError as err:
        return _failed(run, digest, f"cannot write in {run.shop_dir} ({os_error_reason(err)})")
    _announce(topic, run.shop_id)
    threads = max(1, available_cores() // _concurrent_runs_here(slots_by_host))
    status, error = "failed", None
    with log:
        print(f"shop {run.shop_id}: {run.notebook} -> {run.executed_notebook}", file=log)
        kind = "fresh" if run.fresh_kernel else "warm"
        transport = kernel_transport()
        print(f"kernel: {kind}, {transport} transport, {threads} thread(s), cwd {run.shop_dir}", file=log, flush=True)
        try:
            execute_shop_notebook(
                run.notebook, run.executed_notebook, run.parameters, cwd=run.shop_dir, threads=threads, log=log,
                extra_env={"ENOUGH_OUTPUT_DIR": str(run.shop_dir.parent)},
                shop_env={"ENOUGH_SHOP_DIR": str(run.shop_dir)}, timeout_s=run.timeout_s, transport=transport,
                warm=None if run.fresh_kernel else (topic or "one shop"),
            )
        except ShopTimedOut as err:
            status, error = "timed_out", str(err)
        except Exception as err:  # noqa: BLE001 - a shop's failure must stay local
            error = _one_line(err)
        if error is None:
            error = _results_error(run)
        seconds = time.perf_counter() - started
        with contextlib.suppress(OSError):  # a full disk must not hide the shop's own outcome
            print(f"{'FAILED: ' + error if error else 'ok'} after {seconds:.1f} s", file=log)
    if error is None:
        try:
            record_complete(run, digest, seconds)
        except OutputError as err:
            error = str(err)
    if error is not None:
        return _failed(run, digest, error, seconds, status=status)
    return ShopOutcome(run.shop_id, "ok", notebook_path=str(run.executed_notebook), params_hash=digest, run_seconds=seconds)


def _results_error(run: ShopRun) -> str | None:
    """Why a notebook that ran to the end left no usable results (None: they are fine)."""
    problem = verify_shop_results(run.shop_dir)
    if problem is None:
        return None
    if problem.status == "incomplete":
        return f"the notebook finished without writing {PICK_FILE}"
    return f"the notebook finished but its results are {problem.status}: {problem.reason}"


def _failed(
    run: ShopRun, digest: str | None, error: str, seconds: float | None = None, *, status: str = "failed"
) -> ShopOutcome:
    """Record the shop's failure (as far as the disk allows) and say so."""
    record_failure(run, digest, error, seconds, status=status)
    notebook = str(run.executed_notebook) if run.executed_notebook.exists() else None
    return ShopOutcome(run.shop_id, status, error=error, notebook_path=notebook, params_hash=digest, run_seconds=seconds)


def _one_line(err: BaseException) -> str:
    """The failing cell's exception as one line (``DataError: file …: column … (cell 3)``)."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename is not None:
        first = next((line.strip() for line in str(evalue or "").splitlines() if line.strip()), "")
        cell = getattr(err, "exec_count", None)
        text = f"{ename}: {first}" + (f" (cell {cell})" if cell is not None else "")
    else:
        message = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        text = f"{type(err).__name__}: {message}" if message else type(err).__name__
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"


def _concurrent_runs_here(slots_by_host: Mapping[str, int] | None) -> int:
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:  # not on a Dask worker
        return 1
    host = urlparse(worker.address).hostname or ""
    return max(1, int((slots_by_host or {}).get(host, worker.state.nthreads)))


def _announce(topic: str | None, shop_id: str) -> None:
    if topic is None:
        return
    with contextlib.suppress(ValueError):
        from distributed import get_worker

        get_worker().log_event(topic, {"shop_id": shop_id, "event": "started"})


# -- many shops -------------------------------------------------------------------------------
def run_sweep(
    spec: SweepSpec, *, workers: int | None = None, scheduler: str | None = None, progress: bool = True
) -> SweepResult:
    """Run every shop of ``spec``; returns when all have finished (failed shops included).

    ``workers`` overrides the sweep file's (default: one per core) for the local cluster;
    ``scheduler`` (``tcp://host:8786``) uses an existing Dask cluster instead. Raises
    :class:`ParamsError` for a wrong sweep before anything runs, :class:`SweepError` when another
    sweep holds ``output_dir``; check :attr:`SweepResult.failed` (or ``raise_for_failures``).
    """
    started = time.perf_counter()
    runs = plan_shops(spec)  # settings and shops first: a wrong sweep file creates no folder
    prepare_output_dir(spec.output_dir, what=f"{spec.where()}: key 'output_dir'")
    with _exclusive(spec.output_dir):
        outcomes = _already_complete(runs)  # no cluster is started for shops that need no run
        todo = [run for run in runs if run.shop_id not in {outcome.shop_id for outcome in outcomes}]
        if todo:
            # The old summary would mix old and new figures if this sweep is interrupted: until the
            # new one is written, the report reads each shop's own pick.json instead.
            (spec.output_dir / SUMMARY_FILE).unlink(missing_ok=True)
            with _dask_client(workers or spec.workers, scheduler, len(todo)) as client:
                topic = f"enough-sweep-{uuid.uuid4().hex[:12]}"  # names this sweep's events and warm kernels
                try:
                    outcomes += _run_all(
                        client, todo, name=spec.name, progress=progress, skipped=len(outcomes), topic=topic
                    )
                finally:
                    with contextlib.suppress(Exception):  # a worker lost meanwhile took its kernel with it
                        client.run(close_warm_kernels, topic)
    summary = build_summary(runs, {outcome.shop_id: outcome.params_hash for outcome in outcomes})
    path = write_summary(summary, spec.output_dir)
    order = {run.shop_id: i for i, run in enumerate(sorted(runs, key=lambda r: r.shop_id))}
    ordered = tuple(sorted(outcomes, key=lambda o: order[o.shop_id]))
    return SweepResult(spec.name, spec.output_dir, path, summary, ordered, time.perf_counter() - started)


def _already_complete(runs: Sequence[ShopRun]) -> list[ShopOutcome]:
    complete = []
    for run in runs:
        with contextlib.suppress(OSError):  # an unreadable file: its run reports it
            digest = params_hash(run)
            if is_complete(run, digest):
                notebook = str(run.executed_notebook)
                complete.append(ShopOutcome(run.shop_id, "ok", skipped=True, notebook_path=notebook, params_hash=digest))
    return complete


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None, n_shops: int) -> Iterator[Any]:
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n_workers = max(1, min(workers or available_cores(), n_shops))
    # One shop per worker at a time: a free worker takes the next shop, none queues behind a busy one.
    # Workers start with Ctrl-C ignored: the terminal sends it to the whole process group, and this
    # process alone handles it (closing the cluster, which stops the workers and their kernels).
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), _sigint_ignored():
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        with Client(cluster) as client:
            worker_pids = client.run(os.getpid)
            try:
                yield client
            except KeyboardInterrupt:
                # Stop now: running shops are abandoned (their kernels exit with their worker) and
                # rerun next time; a graceful close would wait for them.
                for pid in worker_pids.values():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                raise
    finally:
        cluster.close(timeout=10)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes are started (they inherit it); restore it after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _slots_by_host(client: Any) -> dict[str, int]:
    slots: dict[str, int] = {}
    for address, worker in client.scheduler_info(n_workers=-1)["workers"].items():
        host = urlparse(address).hostname or ""
        slots[host] = slots.get(host, 0) + int(worker.get("nthreads", 1))
    return slots


def _run_all(
    client: Any, runs: Sequence[ShopRun], *, name: str, progress: bool, skipped: int, topic: str
) -> list[ShopOutcome]:
    """Submit every run, show progress (``skipped``: shops complete before, counted as done)."""
    running: set[str] = set()
    client.subscribe_topic(topic, lambda event: running.add(event[1]["shop_id"]))
    slots = _slots_by_host(client)
    pending = {
        client.submit(
            run_shop_notebook, run, slots_by_host=slots, topic=topic,
            key=f"{topic}-{run.shop_id}", pure=False, priority=len(runs) - index,
        ): run
        for index, run in enumerate(runs)  # largest first: the longest shops start first
    }
    outcomes: list[ShopOutcome] = []
    interactive = progress and sys.stderr.isatty()
    bar = tqdm(
        total=len(runs) + skipped, initial=skipped, desc=name, unit="shop", disable=not progress, dynamic_ncols=True,
        mininterval=0.5 if interactive else 30.0,
    )
    shown = ""
    try:
        while pending:
            done = [future for future in pending if future.done()]
            for future in done:
                run = pending.pop(future)
                outcome = _outcome_of(future, run)
                outcomes.append(outcome)
                running.discard(run.shop_id)
                if outcome.status != "ok":
                    bar.write(f"{outcome.shop_id}: FAILED {outcome.error}")
            n_failed = sum(outcome.status != "ok" for outcome in outcomes)
            n_skipped = skipped + sum(outcome.skipped for outcome in outcomes)
            n_done = skipped + len(outcomes) - n_failed
            status = f"done {n_done} (skipped {n_skipped}), failed {n_failed}, running {len(running)}"
            if status != shown:
                bar.set_postfix_str(status, refresh=False)
                shown = status
            if done:
                bar.update(len(done))  # draws the new counts too
            elif interactive:
                bar.refresh()  # keeps the elapsed time, counts and ETA moving
            if not done:
                time.sleep(0.25)
    finally:
        bar.close()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
    return outcomes


def _outcome_of(future: Any, run: ShopRun) -> ShopOutcome:
    from distributed import KilledWorker

    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - a lost worker fails its shop, not the sweep
        what = "worker lost while running the shop" if isinstance(err, KilledWorker) else "the shop's task failed"
        return _failed(run, None, f"{what} ({_one_line(err)})")


@contextlib.contextmanager
def _exclusive(output_dir: Path) -> Iterator[None]:
    """Hold ``<output_dir>/.sweep.lock`` so two sweeps never write the same results (released on any exit)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run one sweep per output_dir
        yield
        return
    with open(output_dir / ".sweep.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise SweepError(f"{output_dir}: another sweep is writing here, expected one sweep per output_dir") from err
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield
