"""Metering measures real work: CPU seconds, wall seconds and peak memory of a block."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest

from toolkit.experiment.metering import FitRecord, fit_metered, meter


def busy(seconds: float) -> int:
    """Spin until at least ``seconds`` of both CPU time and wall time have passed."""
    cpu_end, wall_end, count = time.process_time() + seconds, time.perf_counter() + seconds, 0
    while time.process_time() < cpu_end or time.perf_counter() < wall_end:
        count += 1
    return count


def test_a_busy_loop_costs_cpu_seconds_and_wall_seconds() -> None:
    with meter() as usage:
        busy(0.2)
    assert usage.cpu_seconds >= 0.19
    assert usage.wall_seconds >= usage.cpu_seconds * 0.9  # one thread: CPU cannot outrun the clock


def test_sleeping_costs_wall_seconds_but_no_cpu() -> None:
    with meter() as usage:
        time.sleep(0.15)
    assert usage.wall_seconds >= 0.15
    assert usage.cpu_seconds < 0.1


def test_peak_rss_rises_when_a_large_array_is_allocated() -> None:
    with meter() as quiet:
        pass
    with meter() as usage:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.05)  # held for a few samples
        del block
    assert usage.peak_rss_mb - usage.start_rss_mb > 150
    assert usage.peak_rss_mb >= quiet.peak_rss_mb
    assert usage.samples >= 3


def test_a_short_spike_freed_before_the_block_ends_is_still_seen() -> None:
    with meter(interval=0.005) as usage:
        block = np.ones(120 * 2**20 // 8)
        time.sleep(0.04)
        del block
        busy(0.05)
    assert usage.peak_rss_mb - usage.start_rss_mb > 90


def test_meter_fills_in_the_usage_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError):
        with meter() as usage:
            busy(0.05)
            raise RuntimeError("training failed")
    assert usage.wall_seconds > 0 and usage.cpu_seconds > 0 and usage.peak_rss_mb > 0


class CountingModel:
    """A stand-in model doing measurable work in fit."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CountingModel:
        busy(0.1)
        self.epochs_ = 3
        return self


def test_fit_metered_records_rows_epochs_time_and_memory() -> None:
    X = pd.DataFrame({"height_cm": np.arange(40.0)})
    record = fit_metered(CountingModel(), X, np.zeros(40, dtype=int))
    assert isinstance(record, FitRecord)
    assert record.train_rows == 40 and record.epochs == 3
    assert record.train_seconds >= 0.1 and record.cpu_seconds >= 0.09
    assert record.peak_rss_mb > 10
    assert [f.name for f in dataclasses.fields(record)] == [
        "train_rows", "epochs", "train_seconds", "cpu_seconds", "peak_rss_mb"
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.train_rows = 1  # type: ignore[misc]


def test_fit_metered_fits_the_model_in_place() -> None:
    from toolkit.models import make_model

    X = pd.DataFrame({"category": ["tops", "tops", "bottoms"]})
    model = make_model("most_popular", n_sizes=3)
    record = fit_metered(model, X, np.array([2, 2, 0]))
    assert record.epochs == 1
    assert model.predict(X).tolist() == [2, 2, 0]
