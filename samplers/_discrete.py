"""Helpers shared by the discrete kernels on {0..K-1}^d: relaxed gradients, neighbours, transition rows.

Gradient-based kernels (gwg, dmala) differentiate the log density through its relaxation: a binary log density
(K = 2) is evaluated at the real vector x, a categorical one (K > 2) at the real ``(d, K)`` one-hot matrix of x
(see `targets.discrete`). Either way the gradient is returned as ``G`` of shape ``(d, K)``, so that
``G[i, k] - G[i, x_i]`` is the first-order estimate of ``log pi(x with x_i = k) - log pi(x)``.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


def relaxed_value_and_gradient(logdensity_fn: Callable, x: Array, num_categories: int) -> tuple[Array, Array]:
    """``(log pi(x), G)`` with G the ``(d, K)`` gradient of the relaxation at integer x (see module doc)."""
    if num_categories == 2:
        value, gradient = jax.value_and_grad(logdensity_fn)(x.astype(jnp.result_type(float)))
        return value, jnp.stack([jnp.zeros_like(gradient), gradient], axis=-1)
    return jax.value_and_grad(logdensity_fn)(jax.nn.one_hot(x, num_categories, dtype=jnp.result_type(float)))


class RelaxedGradientState(NamedTuple):
    """Configuration with its cached log density and (d, K) relaxed gradient (GWG and DMALA states)."""

    position: Array
    logdensity: Array
    logdensity_grad: Array


def relaxed_gradient_init(position: Array, logdensity_fn: Callable, num_categories: int = 2
                          ) -> RelaxedGradientState:
    """Build the state at `position`, caching the log density and the relaxed gradient."""
    position = jnp.asarray(position, jnp.int32)
    return RelaxedGradientState(position, *relaxed_value_and_gradient(logdensity_fn, position, num_categories))


def first_order_log_ratios(gradient: Array, x: Array) -> Array:
    """``G[i, k] - G[i, x_i]``: the gradient's estimate of every single-site log ratio, shape (d, K)."""
    return gradient - jnp.take_along_axis(gradient, x[:, None], axis=1)


def hamming_neighbours(position: Array, states: Array) -> tuple[Array, Array]:
    """(Hamming distance of every state from `position`, the first site where they differ)."""
    differs = states != position
    return differs.sum(axis=1), jnp.argmax(differs, axis=1)


def with_stay_probability(moves: Array, distance: Array) -> Array:
    """Transition row from the probabilities of moving to each state (ignored where distance is 0)."""
    moves = jnp.where(distance == 0, 0.0, moves)
    return jnp.where(distance == 0, 1.0 - moves.sum(), moves)

