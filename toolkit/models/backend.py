"""TensorFlow and Keras, imported once and quietly.

TensorFlow prints a screenful of native start-up messages (CUDA probing on a machine without a GPU,
CPU features, oneDNN notes) straight to file descriptor 2, ignoring ``TF_CPP_MIN_LOG_LEVEL`` for the
ones logged before its logging starts. They would bury every sweep log and notebook output, so the
import runs with descriptor 2 pointed at /dev/null. Python errors still raise. Set
``ENOUGH_TF_VERBOSE=1`` to see the messages.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (unless ENOUGH_TF_VERBOSE is set)."""
    if os.environ.get("ENOUGH_TF_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with native_stderr_silenced():
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402

__all__ = ["keras", "native_stderr_silenced", "tf"]
