"""Running one shop's notebook in its own kernel: papermill, IPC sockets, thread counts, cwd.

Each shop is one ``papermill.execute_notebook`` call, on its worker thread's warm kernel
(:mod:`toolkit.sweep.warm_kernels`, the default) or on a fresh kernel of its own (``warm=None``, a
sweep's ``fresh_kernels``). Either kernel is started by :class:`ShopKernelManager` (a fresh one is
handed to nbclient through papermill's engine keywords):

* **thread counts** — ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` are set in the kernel's environment to
  the cores this run may use, so N concurrent kernels do not oversubscribe N cores;
* **transport** — on POSIX the kernel talks to papermill over IPC (Unix domain sockets in a private
  temporary folder) instead of TCP on localhost, where any local user could connect; elsewhere TCP;
* **working directory** — the shop's output folder, passed to a fresh kernel process itself
  (nbclient's ``resources.metadata.path``), entered by a warm kernel before the shop's first cell;
  never by changing the worker's own working directory, so concurrent runs in one worker process
  cannot race on it;
* **timeout** — with ``timeout_s``, a shop whose notebook still runs that many seconds after its
  kernel was ready has its kernel (and anything the kernel started) killed, and
  :class:`ShopTimedOut` is raised (a warm kernel is replaced for the next shop);
* **the executed notebook** — papermill writes it to a hidden sibling, renamed into place when the
  run ends, so a full disk never leaves a truncated notebook; paths reach papermill with their braces
  escaped (papermill formats paths with the parameters, so ``{x}`` in a path would break it).
* **PYTHONPATH** — the worker's, with every entry made absolute against the worker's working
  directory, so a module of the user's own (``model: mymodels:MyEstimator``) found through
  ``PYTHONPATH=examples`` is found by the kernel too, which runs in the shop's output folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import papermill
import psutil
import zmq
from jupyter_client import AsyncKernelManager
from traitlets import Dict, Unicode
from traitlets.config import Config

__all__ = [
    "THREAD_VARIABLES",
    "absolute_pythonpath",
    "ShopKernelManager",
    "ShopTimedOut",
    "available_cores",
    "execute_shop_notebook",
    "kernel_transport",
    "kill_process_tree",
    "partial_notebook",
    "thread_environment",
]

#: Environment variables that bound the threads of BLAS/OpenMP libraries and TensorFlow.
THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

#: Seconds a kernel may take to start (TensorFlow imports happen later, in cells).
KERNEL_START_SECONDS = 120


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def thread_environment(threads: int) -> dict[str, str]:
    """The environment variables that give a kernel ``threads`` threads (at least one)."""
    value = str(max(1, int(threads)))
    return {name: value for name in THREAD_VARIABLES}


def absolute_pythonpath() -> dict[str, str]:
    """``PYTHONPATH`` with every entry absolute (against this process's working directory), or nothing."""
    value = os.environ.get("PYTHONPATH")
    if not value:
        return {}
    return {"PYTHONPATH": os.pathsep.join(os.path.abspath(entry) for entry in value.split(os.pathsep))}


def kernel_transport() -> str:
    """``"ipc"`` where ZeroMQ supports Unix domain sockets (Linux, macOS), else ``"tcp"``."""
    return "ipc" if os.name == "posix" and zmq.has("ipc") else "tcp"


class ShopKernelManager(AsyncKernelManager):
    """The kernel manager of a shop run: the worker's environment plus ``extra_env``."""

    extra_env = Dict(
        config=True, help="Environment variables set for the kernel on top of the worker's (thread counts)."
    )

    output_file = Unicode(
        "", config=True, help="File the kernel process's own stdout/stderr are appended to (TensorFlow's C++ logs)."
    )

    deadline = Unicode(
        "", config=True, help="Key of the shop's timeout in _DEADLINES (told the kernel's process id); empty: none."
    )

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        env = dict(kw.pop("env", None) or os.environ)
        env.update({str(key): str(value) for key, value in self.extra_env.items()})
        kw["env"] = env
        if self.output_file:
            output = open(self.output_file, "ab")  # noqa: SIM115, ASYNC230 - a local append, instant
            kw.setdefault("stdout", output)
            kw.setdefault("stderr", output)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        for stream in {kw.get("stdout"), kw.get("stderr")} - {None}:
            if hasattr(stream, "close"):
                stream.close()
        await super()._async_post_start_kernel(**kw)
        deadline = _DEADLINES.get(self.deadline)
        pid = getattr(self.provisioner, "pid", None)
        if deadline is not None and pid is not None:
            deadline.pid = pid


class ShopTimedOut(Exception):
    """The shop's notebook ran longer than its timeout; its kernel was killed."""


class _Deadline:
    """Kills a kernel (and anything it started) ``seconds`` after the notebook started, unless cancelled."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.pid: int | None = None  # set by the kernel manager once the kernel process runs
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self, **_: Any) -> None:
        """nbclient's ``on_notebook_start`` hook: the kernel is ready, the clock runs."""
        with self._lock:
            if self._cancelled:
                return
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._cancelled or self.pid is None:
                return
            self.expired = True
        kill_process_tree(self.pid)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._timer is not None:
                self._timer.cancel()


#: The running shops' timeouts by key (traitlets deep-copies config values, so objects go by key).
_DEADLINES: dict[str, _Deadline] = {}


def execute_shop_notebook(
    notebook: str | Path,
    executed_notebook: str | Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | Path,
    threads: int,
    log: TextIO,
    transport: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    shop_env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    warm: str | None = None,
) -> None:
    """Run ``notebook`` with ``parameters`` in a kernel; the executed copy goes to ``executed_notebook``.

    ``extra_env``: variables the kernel process starts with (on top of the thread counts and
    ``PYTHONPATH``); ``shop_env``: variables of this shop only. ``warm``: ``None`` starts a fresh
    kernel for this notebook and stops it after; a sweep's name runs it on this thread's warm kernel
    for that sweep (:mod:`toolkit.sweep.warm_kernels`), started with the same environment when there
    is none, and stopped when the run fails.

    The kernel's stdout/stderr and papermill's own messages go to ``log`` (opened for appending; when
    it has a file name, the kernel process's own output — e.g. TensorFlow's C++ logs — is appended
    to that file too). A failing cell raises
    ``papermill.PapermillExecutionError`` (the executed notebook, written first, shows the cell);
    a kernel that dies raises nbclient's ``DeadKernelError``; a notebook still running ``timeout_s``
    seconds after its kernel was ready has its kernel killed and raises :class:`ShopTimedOut`.
    """
    transport = transport or kernel_transport()
    kernel_env = {**thread_environment(threads), **absolute_pythonpath(), **dict(extra_env or {})}
    named = isinstance(getattr(log, "name", None), str) and os.path.isfile(log.name)
    output_file = os.path.abspath(log.name) if named else None
    deadline = _Deadline(timeout_s) if timeout_s else None
    handler = _thread_log_handler(log)
    papermill_logger = logging.getLogger("papermill")
    papermill_logger.addHandler(handler)
    run = _run_in_warm_kernel if warm else _run_in_fresh_kernel
    try:
        with _written_at_the_end(Path(executed_notebook)) as partial:
            run(
                dict(
                    input_path=_literal(notebook),
                    output_path=_literal(partial),
                    parameters=dict(parameters),
                    progress_bar=False,
                    log_output=False,
                    stdout_file=log,
                    stderr_file=log,
                    start_timeout=KERNEL_START_SECONDS,
                    **({"on_notebook_start": deadline.start} if deadline is not None else {}),
                ),
                notebook=Path(notebook), cwd=str(cwd), kernel_env=kernel_env, shop_env=dict(shop_env or {}),
                transport=transport, output_file=output_file, deadline=deadline, sweep=warm or "",
            )
    except Exception as err:
        if deadline is not None and deadline.expired:
            raise ShopTimedOut(
                f"timed out: still running {timeout_s:g} s after its kernel was ready (shop_timeout_s); kernel killed"
            ) from err
        raise
    finally:
        if deadline is not None:
            deadline.cancel()
        papermill_logger.removeHandler(handler)


def _run_in_fresh_kernel(
    papermill_kwargs: dict[str, Any], *, cwd: str, kernel_env: dict[str, str], shop_env: dict[str, str],
    transport: str, output_file: str | None, deadline: _Deadline | None, **_: Any,
) -> None:
    config = Config()
    config.ShopKernelManager.extra_env = {**kernel_env, **shop_env}
    config.ShopKernelManager.transport = transport
    if output_file:
        config.ShopKernelManager.output_file = output_file
    key = uuid.uuid4().hex
    if deadline is not None:
        config.ShopKernelManager.deadline = key
        _DEADLINES[key] = deadline
    try:
        with tempfile.TemporaryDirectory(prefix="enough-kernel-") as sockets:
            if transport == "ipc":
                # Short private path: Unix socket paths are limited to ~100 characters.
                config.ShopKernelManager.ip = os.path.join(sockets, "k")
            papermill.execute_notebook(
                **papermill_kwargs,
                kernel_manager_class=ShopKernelManager,
                config=config,
                resources={"metadata": {"path": cwd}},
            )
    finally:
        _DEADLINES.pop(key, None)


def _run_in_warm_kernel(
    papermill_kwargs: dict[str, Any], *, notebook: Path, cwd: str, kernel_env: dict[str, str],
    shop_env: dict[str, str], transport: str, output_file: str | None, deadline: _Deadline | None, sweep: str,
) -> None:
    from toolkit.sweep import warm_kernels

    settings = warm_kernels.KernelSettings.of(
        kernel_env, transport=transport, kernel_name=_kernel_name(notebook), sweep=sweep
    )
    with warm_kernels.shop_kernel(settings, cwd, shop_env, output_file) as kernel:
        if deadline is not None:
            deadline.pid = kernel.pid
        print(f"warm kernel pid {kernel.pid}: shop {kernel.shops} in it", file=papermill_kwargs["stdout_file"], flush=True)
        try:
            papermill.execute_notebook(**papermill_kwargs, km=kernel.km)
        finally:
            kernel.close_clients()


def _kernel_name(notebook: Path) -> str:
    """The notebook's kernel as papermill reads it (its ValueError for a notebook naming none, before
    any kernel starts)."""
    import nbformat
    from papermill.utils import nb_kernel_name

    return str(nb_kernel_name(nbformat.read(notebook, as_version=4)))


def kill_process_tree(pid: int) -> list[psutil.Process]:
    """Kill the process ``pid`` and everything it started; the processes killed (none if it is gone)."""
    try:
        root = psutil.Process(pid)
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        return []
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return family


def partial_notebook(executed_notebook: Path) -> Path:
    """Where papermill writes the executed notebook while the run goes on (a hidden sibling,
    ``.<name>.partial.ipynb``; the sweep removes one a killed run left when the shop starts again)."""
    return executed_notebook.with_name(f".{executed_notebook.stem}.partial{executed_notebook.suffix}")


@contextlib.contextmanager
def _written_at_the_end(executed_notebook: Path) -> Iterator[Path]:
    """Yield the partial notebook's path; when the run ends, rename it into place — unless writing
    it failed (disk full, read-only folder), then remove it: never a truncated notebook."""
    partial = partial_notebook(executed_notebook)
    try:
        yield partial
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    except BaseException:
        if partial.exists():
            os.replace(partial, executed_notebook)
        raise
    os.replace(partial, executed_notebook)


def _literal(path: str | Path) -> str:
    """A path papermill's ``str.format`` of paths leaves as it is (its braces doubled)."""
    return str(path).replace("{", "{{").replace("}", "}}")


def _thread_log_handler(log: TextIO) -> logging.Handler:
    """A handler writing papermill's messages from this thread only into ``log``."""
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s papermill %(levelname)s: %(message)s"))
    ident = threading.get_ident()
    handler.addFilter(lambda record: record.thread == ident)
    papermill_logger = logging.getLogger("papermill")
    if papermill_logger.getEffectiveLevel() > logging.INFO:
        papermill_logger.setLevel(logging.INFO)
    return handler
