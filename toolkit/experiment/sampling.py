"""Sampling strategies: which training rows a fraction of the data means.

Strategies are registered by name; each maps (training pool, fraction, seed) to row positions.

* ``random`` — a seeded random order of the pool; a fraction takes the first rows of that order,
  so for one seed the 1/8 subset lies inside the 1/4 subset (nested).
* ``recent`` — the newest share of the history ("train on the last N weeks"); the seed does not
  change the rows, only the model's initialisation.
* ``balanced`` — like ``random``, but every size keeps at least ``min_rows_per_size`` rows (or all
  it has), so rare sizes do not vanish from small fractions; the subset can be slightly larger than
  the fraction, and ``train_rows`` records the real count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from toolkit.errors import ParamsError

__all__ = ["SamplingStrategy", "available_sampling", "register_sampling", "sample_rows"]


class SamplingStrategy(Protocol):
    def __call__(self, pool: pd.DataFrame, fraction: float, seed: int, **params: int) -> np.ndarray: ...


_STRATEGIES: dict[str, SamplingStrategy] = {}


def register_sampling(name: str) -> Callable[[SamplingStrategy], SamplingStrategy]:
    """Register a sampling strategy under ``name``."""

    def register(strategy: SamplingStrategy) -> SamplingStrategy:
        _STRATEGIES[name] = strategy
        return strategy

    return register


def available_sampling() -> list[str]:
    return sorted(_STRATEGIES)


def sample_rows(
    pool: pd.DataFrame, fraction: float, *, strategy: str = "random", seed: int = 0, **params: int
) -> np.ndarray:
    """Sorted row positions of ``pool`` making up ``fraction`` of it under ``strategy``."""
    if strategy not in _STRATEGIES:
        raise ParamsError(f"sampling: unknown strategy {strategy!r}, expected one of {available_sampling()}")
    if not 0 < fraction <= 1:
        raise ParamsError(f"fractions: expected values in (0, 1], got {fraction}")
    return np.sort(_STRATEGIES[strategy](pool, fraction, seed, **params))


def _count(pool: pd.DataFrame, fraction: float) -> int:
    return len(pool) if fraction >= 1 else int(round(len(pool) * fraction))


@register_sampling("random")
def _random(pool: pd.DataFrame, fraction: float, seed: int, **_: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(pool))
    return order[: _count(pool, fraction)]


@register_sampling("recent")
def _recent(pool: pd.DataFrame, fraction: float, seed: int, **_: int) -> np.ndarray:
    nanoseconds = pd.DatetimeIndex(pool["event_time"]).asi8
    newest_first = np.argsort(-nanoseconds, kind="stable")
    return newest_first[: _count(pool, fraction)]


@register_sampling("balanced")
def _balanced(
    pool: pd.DataFrame, fraction: float, seed: int, min_rows_per_size: int = 30, **_: int
) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(pool))
    chosen = np.zeros(len(pool), dtype=bool)
    chosen[order[: _count(pool, fraction)]] = True
    sizes = pool["size"].cat.codes.to_numpy() if hasattr(pool["size"], "cat") else pool["size"].to_numpy()
    sizes_in_order = sizes[order]
    for size in np.unique(sizes):
        of_size = order[sizes_in_order == size]  # this size's rows in the seeded order
        missing = min(min_rows_per_size, len(of_size)) - int(chosen[of_size].sum())
        if missing > 0:
            chosen[of_size[~chosen[of_size]][:missing]] = True
    return np.flatnonzero(chosen)
