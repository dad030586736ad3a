"""Warm kernels: one kernel per Dask worker thread runs shop after shop, each from a clean slate.

A fresh kernel per shop pays its start and the imports (TensorFlow alone ≈ 4 s) on every shop; a warm
kernel pays them once per worker thread and sweep. Each shop still gets its own executed notebook and
run.log, its own working directory, environment and timeout:

* :func:`kernel_for` returns this thread's kernel when it is alive and was started with the same
  :class:`KernelSettings` (environment with thread counts and ``PYTHONPATH``, transport, kernel
  name, sweep); otherwise it stops that one and starts a new one (kernels never outlive their sweep,
  so a sweep after an upgrade imports the new code);
* :meth:`WarmKernel.begin_shop` runs :func:`toolkit.sweep.clean_slate.begin_shop` in it (namespace,
  cwd, environment, ``sys.path``, warnings, figures, Keras state, random generators);
* papermill then runs the notebook on it (``km=`` :attr:`WarmKernel.km`: nbclient neither starts nor
  stops a kernel whose manager it was given), and :meth:`WarmKernel.close_clients` closes the client
  nbclient opened for it;
* after any failure — a failing cell, a dead kernel, a timeout, a failing ``begin_shop`` — the
  caller :func:`discard`\\ s the kernel, so a failure costs only its own shop and the next shop
  starts in a new kernel;
* :func:`close_warm_kernels` stops this process's kernels (the sweep runs it on every worker when
  it ends; at exit too; a kernel whose worker is killed notices and exits, as a fresh kernel does).

The kernel process's own stdout/stderr (output before IPython captures it) go to the run.log of the
shop that started it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil
from jupyter_core.utils import run_sync

from toolkit.sweep.kernels import ShopKernelManager

__all__ = [
    "KernelSettings",
    "WarmKernel",
    "WarmKernelError",
    "close_warm_kernels",
    "discard",
    "kernel_for",
]

#: Seconds a warm kernel may take to start, or to clear the previous shop away.
READY_SECONDS = 120


class WarmKernelError(Exception):
    """A warm kernel could not start, or could not be made ready for the next shop."""


@dataclass(frozen=True)
class KernelSettings:
    """What a kernel process is started with; a warm kernel only serves shops with the same settings."""

    environ: tuple[tuple[str, str], ...]  # added to the worker's environment (sorted items)
    transport: str
    kernel_name: str
    sweep: str

    @classmethod
    def of(cls, environ: Mapping[str, str], *, transport: str, kernel_name: str, sweep: str) -> KernelSettings:
        return cls(tuple(sorted((str(k), str(v)) for k, v in environ.items())), transport, kernel_name, sweep)


class WarmKernelManager(ShopKernelManager):
    """A shop kernel manager that remembers the clients it made, so that they can be closed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clients: list[Any] = []

    def client(self, **kwargs: Any) -> Any:
        made = super().client(**kwargs)
        self.clients.append(made)
        return made


class WarmKernel:
    """A kernel started for shop after shop (``km``: the manager nbclient is given for each shop)."""

    def __init__(self, settings: KernelSettings, output_file: str | None) -> None:
        self.settings = settings
        self._folder = tempfile.TemporaryDirectory(prefix="enough-kernel-")  # sockets, and the start-up cwd
        traits: dict[str, Any] = {
            "extra_env": dict(settings.environ), "transport": settings.transport, "kernel_name": settings.kernel_name,
        }
        if settings.transport == "ipc":
            traits["ip"] = os.path.join(self._folder.name, "k")  # short: Unix socket paths are limited
        if output_file:
            traits["output_file"] = output_file
        self.km = WarmKernelManager(**traits)
        try:
            run_sync(self.km.start_kernel)(cwd=self._folder.name)
            self._run("import toolkit.sweep.clean_slate as _s; _s.remember_start(); del _s", "starting")
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return getattr(self.km.provisioner, "pid", None)

    def is_alive(self) -> bool:
        try:
            return self.pid is not None and psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def begin_shop(self, cwd: str, environ: Mapping[str, str]) -> None:
        """Clear the previous shop away and enter ``cwd`` with ``environ`` (:mod:`~toolkit.sweep.clean_slate`)."""
        self._run(
            f"import toolkit.sweep.clean_slate as _s; _s.begin_shop({str(cwd)!r}, {dict(environ)!r})", "clearing"
        )

    def close_clients(self) -> None:
        """Close the clients opened for it (nbclient's, after a notebook ran): the kernel goes on."""
        while self.km.clients:
            with contextlib.suppress(Exception):
                self.km.clients.pop().stop_channels()

    def stop(self) -> None:
        """Kill the kernel (and anything it started) and release its sockets; safe from any thread, and twice."""
        with contextlib.suppress(psutil.Error, ValueError):
            pid = self.pid
            if pid is not None:
                kernel = psutil.Process(pid)
                family = [*kernel.children(recursive=True), kernel]
                for process in family:
                    with contextlib.suppress(psutil.Error):
                        process.kill()
                psutil.wait_procs(family, timeout=5)  # reaps the kernel, our child
        self.close_clients()
        with contextlib.suppress(Exception):
            self.km.cleanup_connection_file()
        with contextlib.suppress(OSError):
            self._folder.cleanup()

    def _run(self, code: str, doing: str) -> None:
        """Run ``code`` (not in the history: it does not count as a cell) and wait for it to finish.

        Each call opens a client of its own and closes it after: a client kept across the notebook
        runs (which use clients of their own) stops getting its replies from the kernel.
        """
        client = self.km.client()
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            msg_id = client.execute(code, silent=False, store_history=False, allow_stdin=False)
            content = self._reply(client, msg_id, doing)["content"]
        finally:
            self.close_clients()
        if content.get("status") != "ok":
            raise WarmKernelError(f"warm kernel: {doing} failed: {content.get('ename')}: {content.get('evalue')}")

    def _reply(self, client: Any, msg_id: str, doing: str) -> dict[str, Any]:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                reply = run_sync(client.get_shell_msg)(timeout=1)
            except queue.Empty:
                if not self.is_alive():
                    raise WarmKernelError(f"warm kernel: died while {doing}") from None
                if time.monotonic() > deadline:
                    raise WarmKernelError(f"warm kernel: no answer after {READY_SECONDS} s while {doing}") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply


# -- one kernel per thread ------------------------------------------------------------------------
_KERNELS: dict[int, WarmKernel] = {}
_LOCK = threading.Lock()


def kernel_for(settings: KernelSettings, output_file: str | None = None) -> WarmKernel:
    """This thread's warm kernel for ``settings``: the running one, or a new one (stopping a stale one)."""
    ident = threading.get_ident()
    with _LOCK:
        kernel = _KERNELS.get(ident)
    if kernel is not None and (kernel.settings != settings or not kernel.is_alive()):
        discard(kernel)
        kernel = None
    if kernel is None:
        kernel = WarmKernel(settings, output_file)
        with _LOCK:
            _KERNELS[ident] = kernel
    return kernel


def discard(kernel: WarmKernel) -> None:
    """Stop ``kernel`` and forget it: the next shop on its thread starts a new one."""
    with _LOCK:
        for ident in [ident for ident, known in _KERNELS.items() if known is kernel]:
            del _KERNELS[ident]
    kernel.stop()


def close_warm_kernels() -> int:
    """Stop every warm kernel of this process; returns how many there were."""
    with _LOCK:
        kernels = list(_KERNELS.values())
        _KERNELS.clear()
    for kernel in kernels:
        kernel.stop()
    return len(kernels)


atexit.register(close_warm_kernels)
