"""Metering: wall time, CPU time and peak memory around a block, and one metered fit.

>>> with meter() as usage:
...     model.fit(X, y)
>>> usage.wall_seconds, usage.cpu_seconds, usage.peak_rss_mb

* ``wall_seconds`` — :func:`time.perf_counter` difference.
* ``cpu_seconds`` — process CPU time (user + system, every thread: TensorFlow's and BLAS' pools
  included) from :func:`time.process_time`. It can exceed ``wall_seconds`` on several cores.
* ``peak_rss_mb`` — the largest resident set size of this process seen during the block, in MiB
  (2**20 bytes): the start and end values plus a background thread sampling ``psutil`` every
  ``interval`` seconds (default 10 ms). A spike shorter than the interval can be missed; anything
  that lasts (a model's data, its batches) is caught. It is the *process* RSS, so it includes what
  was already resident before the block (``start_rss_mb``).

The sampler sleeps on an event between samples (one ``memory_info`` call, ~20 µs, every 10 ms —
well under 1% of one core) and stops as soon as the block ends, so metering adds no measurable time
to a fit (``benchmarks/bench_training.py`` compares it with a bare Keras ``fit``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psutil

__all__ = ["FitRecord", "Usage", "fit_metered", "meter"]

_MIB = float(2**20)


@dataclass
class Usage:
    """What :func:`meter` measured; filled in when the block exits."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0
    samples: int = 0


@dataclass(frozen=True)
class FitRecord:
    """One metered training: the columns ``runs.parquet`` takes from the fit."""

    train_rows: int
    epochs: int
    train_seconds: float
    cpu_seconds: float
    peak_rss_mb: float


class _PeakSampler(threading.Thread):
    """Background thread keeping the largest RSS seen until stopped."""

    def __init__(self, process: psutil.Process, interval: float, start_rss: int) -> None:
        super().__init__(name="enough-meter", daemon=True)
        self._process = process
        self._interval = interval
        self._stop_event = threading.Event()
        self.peak = start_rss
        self.samples = 0

    def run(self) -> None:
        memory_info = self._process.memory_info
        while not self._stop_event.wait(self._interval):
            rss = memory_info().rss
            self.samples += 1
            if rss > self.peak:
                self.peak = rss

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@contextmanager
def meter(interval: float = 0.01) -> Iterator[Usage]:
    """Measure wall seconds, CPU seconds and peak RSS (MiB) of the ``with`` block.

    The yielded :class:`Usage` is filled in when the block exits (also when it raises).
    """
    process = psutil.Process()
    start_rss = process.memory_info().rss
    usage = Usage(start_rss_mb=start_rss / _MIB)
    sampler = _PeakSampler(process, interval, start_rss)
    sampler.start()
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_seconds = time.perf_counter() - wall_start
        usage.cpu_seconds = time.process_time() - cpu_start
        sampler.stop()
        end_rss = process.memory_info().rss
        usage.peak_rss_mb = max(sampler.peak, end_rss) / _MIB
        usage.samples = sampler.samples + 2


def fit_metered(model: object, X: pd.DataFrame, y: np.ndarray) -> FitRecord:
    """The experiment's training loop for one fit: ``model.fit(X, y)`` under :func:`meter`.

    ``model`` is fitted in place; the record gives rows, epochs (``model.epochs_``), wall and CPU
    seconds and peak RSS of the training.
    """
    with meter() as usage:
        model.fit(X, y)
    return FitRecord(
        train_rows=int(len(X)),
        epochs=int(getattr(model, "epochs_", 1)),
        train_seconds=float(usage.wall_seconds),
        cpu_seconds=float(usage.cpu_seconds),
        peak_rss_mb=float(usage.peak_rss_mb),
    )
