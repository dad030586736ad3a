"""Giving memory the process has freed back to the operating system.

Arrow keeps the buffers it freed in its own pool (mimalloc or jemalloc), and glibc keeps freed
blocks of its heap, so after reading and validating a large shop a process can hold twice the memory
it uses. :func:`release_freed_memory` hands both back: the memory a later peak measures (the 4 GB
goal of a 10-million-purchase shop, ``peak_rss_mb`` of every fit) is then memory in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
__all__ = ["release_freed_memory"]


def release_freed_memory() -> None:
    """Return Arrow's unused pool memory and glibc's free heap pages to the OS (a no-op elsewhere)."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():  # noqa: ANN202 - a C function or None
    """glibc's ``malloc_trim`` (None on macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None

