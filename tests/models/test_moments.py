"""Column moments over blocks of rows are NumPy's whole-matrix moments, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.models.moments import column_moments, row_blocks


@pytest.mark.parametrize(("rows", "columns", "block"), [(1, 2, 4), (7, 3, 2), (100_003, 12, 4_096), (70_000, 8, 65_536)])
def test_moments_by_blocks_equal_the_whole_matrix_exactly(rows: int, columns: int, block: int) -> None:
    rng = np.random.default_rng(rows)
    scales = 10.0 ** rng.uniform(-3, 5, columns)
    x = (rng.standard_normal((rows, columns)) * scales + scales).astype(np.float32).astype(np.float64)
    mean, variance = column_moments(lambda: (x[part] for part in row_blocks(rows, block)))
    assert np.array_equal(mean, x.mean(axis=0)) and np.array_equal(variance, x.var(axis=0))


def test_blocks_cover_the_rows_once_in_order() -> None:
    assert [(s.start, s.stop) for s in row_blocks(10, 4)] == [(0, 4), (4, 8), (8, 10)]
    with pytest.raises(ValueError, match="at least one row"):
        column_moments(lambda: iter(()))
