"""Warm kernels: one kernel per Dask worker thread runs shop after shop, each from a clean slate.

A fresh kernel per shop pays its start and the imports (TensorFlow alone ≈ 4 s) on every shop; a warm
kernel pays them once per worker thread and sweep. Each shop still gets its own executed notebook and
run.log, its own working directory, environment and timeout:

* :func:`shop_kernel` gives a shop this thread's kernel when it is alive and was started with the
  same :class:`KernelSettings` (environment with thread counts and ``PYTHONPATH``, transport,
  kernel name, sweep); otherwise it stops that one and starts a new one (kernels never outlive
  their sweep, so a sweep after an upgrade imports the new code); then
  :meth:`WarmKernel.begin_shop` runs :func:`toolkit.sweep.clean_slate.begin_shop` in it
  (namespace, cwd, environment, ``sys.path``, warnings, figures, Keras state, random generators);
* papermill then runs the notebook on it (``km=`` :attr:`WarmKernel.km`: nbclient neither starts nor
  stops a kernel whose manager it was given), and :meth:`WarmKernel.close_clients` closes the client
  nbclient opened for it;
* after any failure — a failing cell, a dead kernel, a timeout — the kernel is stopped, so a failure
  costs only its own shop and the next shop starts in a new kernel;
* :func:`close_warm_kernels` stops a sweep's kernels (the sweep runs it on every worker when it
  ends; a kernel running a shop stops when the shop ends); at exit every kernel stops; a kernel
  whose worker is killed notices and exits, as a fresh kernel does.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psutil
from jupyter_core.utils import run_sync

from toolkit.sweep.kernels import KERNEL_START_SECONDS, ShopKernelManager, kill_process_tree

__all__ = ["KernelSettings", "WarmKernel", "WarmKernelError", "close_warm_kernels", "shop_kernel"]

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
        self.busy = False  # running a shop
        self.shops = 0  # shops begun in it
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
        self.shops += 1

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
                psutil.wait_procs(kill_process_tree(pid), timeout=5)  # reaps the kernel, our child
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
        deadline = time.monotonic() + KERNEL_START_SECONDS
        while True:
            try:
                reply = run_sync(client.get_shell_msg)(timeout=1)
            except queue.Empty:
                if not self.is_alive():
                    raise WarmKernelError(f"warm kernel: died while {doing}") from None
                if time.monotonic() > deadline:
                    raise WarmKernelError(f"warm kernel: no answer after {KERNEL_START_SECONDS} s while {doing}") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply


# -- one kernel per thread ------------------------------------------------------------------------
_KERNELS: dict[int, WarmKernel] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def shop_kernel(
    settings: KernelSettings, cwd: str, environ: Mapping[str, str], output_file: str | None = None
) -> Iterator[WarmKernel]:
    """This thread's warm kernel for ``settings``, cleared for a shop in ``cwd`` with ``environ``.

    The running kernel, or a new one (stopping one of other settings or dead; and once more if the
    clearing fails). A failure inside the block stops the kernel: the next shop gets a new one.
    """
    kernel = _kernel_for(settings, output_file)
    try:
        try:
            kernel.begin_shop(cwd, environ)
        except WarmKernelError:  # the previous shop left it unusable: once more, in a new kernel
            _discard(kernel)
            kernel = _kernel_for(settings, output_file)
            kernel.begin_shop(cwd, environ)
        yield kernel
    except BaseException:
        _discard(kernel)
        raise
    finally:
        with _LOCK:
            kernel.busy = False
            closed = kernel not in _KERNELS.values()  # by close_warm_kernels while the shop ran
        if closed:
            kernel.stop()


def _kernel_for(settings: KernelSettings, output_file: str | None) -> WarmKernel:
    ident = threading.get_ident()
    with _LOCK:
        kernel = _KERNELS.get(ident)
    if kernel is not None and (kernel.settings != settings or not kernel.is_alive()):
        _discard(kernel)
        kernel = None
    if kernel is None:
        kernel = WarmKernel(settings, output_file)
    with _LOCK:
        _KERNELS[ident] = kernel
        kernel.busy = True
    return kernel


def _discard(kernel: WarmKernel) -> None:
    with _LOCK:
        for ident in [ident for ident, known in _KERNELS.items() if known is kernel]:
            del _KERNELS[ident]
    kernel.stop()


def close_warm_kernels(sweep: str | None = None) -> int:
    """Stop this process's warm kernels (only ``sweep``'s, when given); returns how many.

    A kernel running a shop stops when its shop ends (on an existing cluster, an interrupted sweep's
    running shops finish; another sweep's kernels on the same workers are left alone).
    """
    with _LOCK:
        chosen = {ident: k for ident, k in _KERNELS.items() if sweep is None or k.settings.sweep == sweep}
        for ident in chosen:
            del _KERNELS[ident]
        idle = [kernel for kernel in chosen.values() if not kernel.busy]
    for kernel in idle:
        kernel.stop()
    return len(chosen)


def _stop_all() -> None:
    """At exit: every kernel, running or not."""
    with _LOCK:
        kernels = list(_KERNELS.values())
        _KERNELS.clear()
    for kernel in kernels:
        kernel.stop()


atexit.register(_stop_all)
