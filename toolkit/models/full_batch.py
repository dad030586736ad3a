"""Training a Keras model to convergence: full-batch L-BFGS on TensorFlow gradients.

For a network whose loss is convex in its weights (:mod:`toolkit.models.ordinal_glm`), stochastic
gradient descent stops *near* the optimum, at a point that depends on the seed's shuffling; L-BFGS
on the whole training set walks to the optimum itself. SciPy's L-BFGS-B
(:func:`scipy.optimize.minimize`) drives the search; TensorFlow computes the objective and its
gradient over the rows in fixed-size chunks (memory stays flat however large the shop) and the
sums are accumulated in float64, so the line search sees a smooth function. The chunks are visited
in a fixed order and nothing is drawn at random: the same rows give the same weights.

Objective: mean over rows of ``loss(y, outputs)`` + ``penalty · ‖penalised weights‖²``.
Every evaluation is one pass over the training rows (``evaluations`` counts them; the model
reports them as its epochs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from toolkit.models.backend import keras, tf

__all__ = ["FullBatchResult", "fit_full_batch"]

#: Rows per chunk of one evaluation: big enough for fast kernels, small enough for flat memory.
CHUNK_ROWS = 65_536
#: At most this many bytes of training rows are kept as tensors between passes (six million rows of
#: the default model's inputs); chunks beyond it are sliced from the rows again at every pass.
CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class FullBatchResult:
    """How the optimisation ended."""

    iterations: int
    evaluations: int
    converged: bool
    message: str
    objective: float


def fit_full_batch(
    network: keras.Model,
    inputs: dict[str, np.ndarray],
    targets: np.ndarray,
    loss_per_row: Callable,
    *,
    penalised: Sequence[tf.Variable] = (),
    penalty: float = 0.0,
    max_iter: int = 500,
    tolerance: float = 1e-6,
    chunk_rows: int = CHUNK_ROWS,
    cache_bytes: int = CACHE_BYTES,
) -> FullBatchResult:
    """Minimise the mean of ``loss_per_row(targets, network(inputs))`` (+ L2 penalty) with L-BFGS.

    ``loss_per_row(y, outputs) -> (rows,)`` is a TensorFlow function. ``penalised`` variables get
    ``penalty · sum(v²)``. Stops when the largest gradient component is below ``tolerance``, when
    the objective no longer falls, or after ``max_iter`` iterations. The network's weights are left
    at the solution.
    """
    from scipy.optimize import minimize

    variables = list(network.trainable_variables)
    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    n = len(targets)
    if n == 0:
        raise ValueError("fit_full_batch: expected at least one training row")
    chunk_rows = int(min(chunk_rows, n))
    chunks = _Chunks(inputs, targets, chunk_rows, cache_bytes)
    penalised_ids = {id(v) for v in penalised}
    penalised_mask = np.concatenate(
        [np.full(size, id(v) in penalised_ids) for v, size in zip(variables, sizes, strict=True)]
    )

    @tf.function(reduce_retracing=True)
    def chunk_sum(chunk_inputs, chunk_targets, weights):  # noqa: ANN001, ANN202 - tensors
        with tf.GradientTape() as tape:
            outputs = network(chunk_inputs, training=False)
            total = tf.reduce_sum(loss_per_row(chunk_targets, outputs) * weights)
        grads = tape.gradient(total, variables)
        flat = [
            tf.zeros([size]) if g is None else tf.reshape(tf.convert_to_tensor(g), [-1])
            for g, size in zip(grads, sizes, strict=True)
        ]
        return total, tf.concat(flat, axis=0)

    def assign(flat: np.ndarray) -> None:
        offset = 0
        for variable, shape, size in zip(variables, shapes, sizes, strict=True):
            variable.assign(flat[offset : offset + size].reshape(shape).astype(np.float32))
            offset += size

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        assign(flat)
        value = 0.0
        gradient = np.zeros_like(flat)
        for index in range(len(chunks)):
            total, grad = chunk_sum(*chunks[index])
            value += float(total)
            gradient += np.asarray(grad, np.float64)
        value /= n
        gradient /= n
        if penalty:
            value += penalty * float(np.sum(flat[penalised_mask] ** 2))
            gradient[penalised_mask] += 2.0 * penalty * flat[penalised_mask]
        return value, gradient

    start = np.concatenate([np.asarray(v.numpy(), np.float64).reshape(-1) for v in variables])
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": int(max_iter), "gtol": float(tolerance), "ftol": 1e-12, "maxcor": 20},
    )
    assign(result.x)
    message = result.message if isinstance(result.message, str) else result.message.decode()
    # L-BFGS also stops when float32 arithmetic cannot lower the objective any further: that is
    # convergence to the precision of the network's own arithmetic.
    converged = bool(result.success) or "ABNORMAL" in message
    return FullBatchResult(
        iterations=int(result.nit),
        evaluations=int(result.nfev),
        converged=converged,
        message=message,
        objective=float(result.fun),
    )


class _Chunks:
    """The training rows in fixed-size chunks, sliced when used: no copy of the whole training set.

    Every chunk has ``chunk_rows`` rows (the last one padded with zero-weight copies of its first
    row), so one traced graph serves them all. A chunk becomes tensors on first use and is kept
    as tensors while they take at most ``cache_bytes``; the rest are sliced again at every pass.
    """

    def __init__(self, inputs: dict[str, np.ndarray], targets: np.ndarray, chunk_rows: int, cache_bytes: int) -> None:
        self.inputs, self.targets, self.chunk_rows = inputs, targets, chunk_rows
        self.n = len(targets)
        self.ones = np.ones(chunk_rows, dtype=np.float32)
        self.room = cache_bytes
        self.cache: dict[int, tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]] = {}

    def __len__(self) -> int:
        return -(-self.n // self.chunk_rows)

    def __getitem__(self, index: int) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        cached = self.cache.get(index)
        if cached is not None:
            return cached
        start = index * self.chunk_rows
        stop = min(start + self.chunk_rows, self.n)
        pad = self.chunk_rows - (stop - start)
        weights = self.ones
        if pad:
            take = np.concatenate([np.arange(start, stop), np.full(pad, start)])
            inputs = {key: value[take] for key, value in self.inputs.items()}
            targets = self.targets[take]
            weights = self.ones.copy()
            weights[-pad:] = 0.0
        else:
            inputs = {key: value[start:stop] for key, value in self.inputs.items()}
            targets = self.targets[start:stop]
        chunk = ({key: tf.constant(value) for key, value in inputs.items()}, tf.constant(targets), tf.constant(weights))
        size = sum(value.nbytes for value in inputs.values()) + targets.nbytes + weights.nbytes
        if size <= self.room:
            self.cache[index] = chunk
            self.room -= size
        return chunk
