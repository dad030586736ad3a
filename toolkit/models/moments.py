"""Column means and variances of a large matrix, one block of rows at a time, bit for bit as NumPy.

``x.mean(axis=0)`` and ``x.var(axis=0)`` of a C-ordered ``(n, d)`` float64 matrix with ``d > 1``
add the rows one after another into a row of sums. :func:`column_moments` does the same additions
in the same order over blocks of rows (each block's sums start from the running sums), so a model
can standardise ten million rows without a float64 copy of them — and gets exactly the numbers the
whole-matrix call gives (``tests/models/test_moments.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["BLOCK_ROWS", "column_moments", "float64_blocks", "row_blocks"]

#: Rows per block: 262,144 rows of a dozen float64 columns are 25 MB.
BLOCK_ROWS = 262_144


def row_blocks(n: int, block_rows: int = BLOCK_ROWS) -> Iterator[slice]:
    """Slices of ``range(n)`` of at most ``block_rows`` rows, in order."""
    for start in range(0, n, block_rows):
        yield slice(start, min(start + block_rows, n))


def float64_blocks(matrix: np.ndarray, block_rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """The rows of ``matrix`` (a float32 one, say) as float64 blocks, in order."""
    for rows in row_blocks(len(matrix), block_rows):
        yield matrix[rows].astype(np.float64)


def column_moments(blocks: Callable[[], Iterator[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``(x.mean(axis=0), x.var(axis=0))`` of the matrix ``x`` whose row blocks ``blocks()`` yields.

    ``blocks`` is called twice (means, then squared deviations from them); each call yields float64
    ``(rows, d)`` blocks, ``d > 1``, in the same order.
    """
    total, n = _running_sums(blocks())
    mean = total / n

    def squared_deviations() -> Iterator[np.ndarray]:
        for block in blocks():
            deviation = block - mean
            np.multiply(deviation, deviation, out=deviation)
            yield deviation

    squares, _ = _running_sums(squared_deviations())
    return mean, squares / n


def _running_sums(blocks: Iterator[np.ndarray]) -> tuple[np.ndarray, int]:
    """Column sums over every block's rows, added row after row as ``sum(axis=0)`` adds them."""
    total: np.ndarray | None = None
    n = 0
    for block in blocks:
        if block.ndim != 2 or block.shape[1] < 2:
            raise ValueError(f"column_moments: expected blocks of at least two columns, got shape {block.shape}")
        n += len(block)
        if total is None:
            total = block.sum(axis=0)
        elif len(block):
            total = np.vstack([total[None, :], block]).sum(axis=0)
    if total is None or n == 0:
        raise ValueError("column_moments: expected at least one row")
    return total, n
