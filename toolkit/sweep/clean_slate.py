"""Inside a warm kernel: make the process look to the next shop as a fresh kernel would.

A warm kernel (:mod:`toolkit.sweep.warm_kernels`) imports this module when it starts and calls
:func:`remember_start` once, then :func:`begin_shop` before every shop's notebook. Imported modules stay
imported — that is the point of a warm kernel — while everything a shop's cells could see of the shop
before it is put back:

* the namespace (IPython's ``reset``, a new history session: the first cell is ``In [1]`` again,
  so error messages name the same cell numbers as in a fresh kernel);
* the working directory (the shop's output folder), the environment (the kernel's own plus the
  shop's variables), ``sys.path`` (whose entry for the start-up folder becomes the shop's folder);
* warning filters and the "already shown" registries (a warning a shop triggers shows in its own
  notebook, as in a fresh kernel);
* matplotlib's open figures, Keras' global state (``clear_session``: layer-name counters, the
  global seed), and the random number generators of Python, NumPy and TensorFlow: seeded from the
  operating system's entropy as at a process start — every seed an experiment relies on is set
  explicitly by the toolkit, so results do not depend on what ran before (a test compares them).

Nothing else is reset: a notebook cell that monkeypatches a module leaks into the next shop of the
same kernel; ``fresh_kernels: true`` (``--fresh-kernels``) runs every shop in its own kernel.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from toolkit.memory import release_freed_memory

__all__ = ["begin_shop", "remember_start"]

_START: dict[str, Any] = {}


def remember_start() -> None:
    """Record the kernel's state as it started (environment, ``sys.path``, working directory, warning filters)."""
    _START.update(
        environ=dict(os.environ), path=list(sys.path), cwd=os.getcwd(), filters=list(warnings.filters)
    )


def begin_shop(cwd: str, environ: Mapping[str, str]) -> None:
    """Clear what the previous shop left, then enter ``cwd`` with the start environment plus ``environ``."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)
    _close_figures()
    _clear_keras()
    gc.collect()
    release_freed_memory()  # the previous shop's heap and Arrow pool, back to the system
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(_START["environ"])
    os.environ.update(environ)
    sys.path[:] = [cwd if entry == _START["cwd"] else entry for entry in _START["path"]]
    warnings.resetwarnings()  # also forgets every "already shown" registry
    warnings.filters[:] = _START["filters"]
    warnings.onceregistry.clear()
    _reseed()


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _clear_keras() -> None:
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def _reseed() -> None:
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(None)
