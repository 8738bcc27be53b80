"""Online batch means: a Monte Carlo standard error from one chain in O(num_batches x d) memory.

The classic non-overlapping batch-means estimator (e.g. Flegal and Jones 2010, "Batch means and spectral
variance estimators in Markov chain Monte Carlo"), computed while the chain runs. The run's length ``n`` is known
up front, so the batch length is fixed before the first step: ``L = ceil(n / num_batches)``; the counted steps
``1..n`` fall into consecutive batches of ``L`` steps, of which ``k = n // L`` are complete
(``num_batches / 2 < k <= num_batches`` once ``n >= num_batches``; a partial last batch counts in the estimate
but not in its error). Per chain and function the run keeps the mean of the batch being filled and the ``k``
complete batch means: O(num_batches x d) memory and O(d) work per step, whatever ``n``.

The asymptotic variance is estimated by ``L s^2`` (``s^2``: sample variance of the complete batch means) and the
MCSE of the running mean over all ``n`` counted steps by ``sqrt(L s^2 / n)``. With a fixed number ``k`` of batches
the estimate is not consistent but has ``k - 1`` degrees of freedom (relative error about
``1 / sqrt(2 (k - 1))``: 9-13% for 32-64 batches), and is unbiased once ``L`` is long compared with the chain's
autocorrelation time.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

DEFAULT_NUM_BATCHES = 64


class BatchMeans(NamedTuple):
    """Per function: complete batch means ``(chains, num_batches, ...)`` and the current batch's mean."""

    batches: Array
    current: Array


def batch_length(num_steps: int, num_batches: int) -> int:
    """Steps per batch for a run of `num_steps` counted steps: ``ceil(num_steps / num_batches)``."""
    return -(-num_steps // num_batches)


def init(value_shape: tuple[int, ...], dtype: jnp.dtype, num_batches: int) -> BatchMeans:
    """Empty accumulators for a function whose per-chain values have shape ``(chains, *rest) = value_shape``."""
    num_chains, rest = value_shape[0], value_shape[1:]
    return BatchMeans(jnp.zeros((num_chains, num_batches, *rest), dtype), jnp.zeros(value_shape, dtype))


def update(means: BatchMeans, values: Array, count: Array, length: Array) -> BatchMeans:
    """Fold counted step `count` (1-based) into the current batch; store the batch mean when it is complete.

    The first step of a batch replaces the current mean (weight 1), so nothing needs resetting; the store
    rewrites one slot with a select, so each step costs O(d).
    """
    index_in_batch = (count - 1) % length + 1
    current = means.current + (values - means.current) / index_in_batch.astype(values.dtype)
    slot = (count - 1) // length
    complete = index_in_batch == length
    stored = jnp.where(complete, current, means.batches[:, slot])
    return BatchMeans(means.batches.at[:, slot].set(stored), current)


def chain_mcse(batches: np.ndarray, length: int, num_steps: int) -> np.ndarray:
    """Per-chain MCSE ``sqrt(L s^2 / n)`` of a running mean over `num_steps` from its complete batch means.

    `batches` is ``(chains, num_complete, ...)``; NaN where fewer than two batches are complete.
    """
    if batches.shape[1] < 2:
        return np.full(batches.shape[:1] + batches.shape[2:], np.nan)
    asymptotic_variance = length * np.asarray(batches, np.float64).var(axis=1, ddof=1)
    return np.sqrt(asymptotic_variance / num_steps)


def pooled_mcse(chain_mcses: np.ndarray) -> np.ndarray:
    """MCSE of the mean over independent chains: ``sqrt(sum_c mcse_c^2) / num_chains``."""
    return np.sqrt(np.sum(np.square(chain_mcses), axis=0)) / chain_mcses.shape[0]
