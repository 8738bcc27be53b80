"""Helpers shared by the discrete kernels on {0..K-1}^d: relaxed gradients, neighbours, transition rows.

Gradient-based kernels (gwg, dmala) differentiate the log density through its relaxation: a binary log density
(K = 2) is evaluated at the real vector x, a categorical one (K > 2) at the real ``(d, K)`` one-hot matrix of x
(see `targets.discrete`). Either way the gradient is returned as ``G`` of shape ``(d, K)``, so that
``G[i, k] - G[i, x_i]`` is the first-order estimate of ``log pi(x with x_i = k) - log pi(x)``. A `Density`'s
``value_and_grad`` is called at the relaxed point in the same way, and hands back its aux.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from .spec import Density, as_density

Array = jax.Array


def relaxed_value_and_gradient(logdensity_fn: Callable | Density, x: Array, num_categories: int, aux: Any = ()
                               ) -> tuple[Array, Array, Any]:
    """``(log pi(x), G, aux)`` with G the ``(d, K)`` gradient of the relaxation at integer x (see module doc); a
    plain callable passes `aux` through."""
    relaxed = (x.astype(jnp.result_type(float)) if num_categories == 2
               else jax.nn.one_hot(x, num_categories, dtype=jnp.result_type(float)))
    value, gradient, aux = as_density(logdensity_fn, aux).value_and_grad(relaxed)
    if num_categories == 2:
        gradient = jnp.stack([jnp.zeros_like(gradient), gradient], axis=-1)
    return value, gradient, aux


class RelaxedGradientState(NamedTuple):
    """Configuration with its cached log density, (d, K) relaxed gradient and a `Density`'s aux (GWG and DMALA
    states)."""

    position: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


def relaxed_gradient_init(position: Array, logdensity_fn: Callable, num_categories: int = 2
                          ) -> RelaxedGradientState:
    """Build the state at `position`, caching the log density and the relaxed gradient."""
    return relaxed_gradient_state(position, logdensity_fn, num_categories)


def relaxed_gradient_state(position: Array, logdensity_fn: Callable | Density, num_categories: int, aux: Any = ()
                           ) -> RelaxedGradientState:
    """The state at `position` (a plain callable keeps `aux`, see `relaxed_value_and_gradient`)."""
    position = jnp.asarray(position, jnp.int32)
    return RelaxedGradientState(position, *relaxed_value_and_gradient(logdensity_fn, position, num_categories, aux))


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

