"""Metropolis–Hastings accept/reject step shared by the base kernels.

A proposal whose log acceptance ratio is not finite (NaN, or +/-inf from a non-finite log density or
gradient) is rejected and flagged, never accepted.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from .spec import Density, as_density

Array = jax.Array


class MetropolisInfo(NamedTuple):
    """Outcome of one Metropolis–Hastings test, and the per-step info of the kernels that make only that test."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array


def evaluate(position: Array, logdensity_fn: Callable | Density, aux: Any = ()) -> tuple[Array, Array, Array, Any]:
    """``(position, log density, gradient, aux)`` at `position`: a `Density`'s ``value_and_grad`` (with its aux
    there), else ``jax.value_and_grad(logdensity_fn)`` with `aux` passed through."""
    position = jnp.asarray(position)
    return position, *as_density(logdensity_fn, aux).value_and_grad(position)


def evaluate_value(position: Array, logdensity_fn: Callable | Density, aux: Any = ()) -> tuple[Array, Any]:
    """``(log density, aux)`` at `position`: a `Density`'s ``value`` (with its aux there), else
    ``logdensity_fn(position)`` with `aux` passed through."""
    return as_density(logdensity_fn, aux).value(position)


def acceptance_probability(log_ratio: Array) -> Array:
    """min(1, exp(log_ratio)), 0 where the ratio is not finite (such proposals are rejected)."""
    return jnp.where(jnp.isfinite(log_ratio), jnp.exp(jnp.minimum(log_ratio, 0.0)), 0.0)


def metropolis_decision(rng_key: Array, log_ratio: Array) -> MetropolisInfo:
    """Accept with probability min(1, exp(log_ratio)); a non-finite ratio is rejected and flagged."""
    is_nonfinite = ~jnp.isfinite(log_ratio)
    safe_log_ratio = jnp.where(is_nonfinite, -jnp.inf, log_ratio)
    acceptance_rate = acceptance_probability(log_ratio)
    log_uniform = jnp.log(jax.random.uniform(rng_key, dtype=jnp.result_type(float)))
    is_accepted = (log_uniform < safe_log_ratio) & ~is_nonfinite
    return MetropolisInfo(acceptance_rate, is_accepted, is_nonfinite)


def select(is_accepted: Array, proposal: Any, current: Any) -> Any:
    """Pick the proposal's leaves where accepted, else the current ones."""
    return jax.tree.map(lambda new, old: jnp.where(is_accepted, new, old), proposal, current)
