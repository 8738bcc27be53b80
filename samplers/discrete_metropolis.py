"""Metropolis with random single-site changes on {0..K-1}^d.

Proposal: pick a site uniformly and a new value uniformly among the other K - 1 (a bit flip when K = 2); the
proposal is symmetric, so it is accepted with probability min(1, p(x') / p(x)). `transition_probabilities`
gives the exact one-step transition probabilities.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._discrete import hamming_neighbours, with_stay_probability
from ._metropolis import MetropolisInfo, acceptance_probability, evaluate_value, metropolis_decision, select
from .spec import CATEGORICAL, NUM_CATEGORIES, VALUE_AUX_CACHE, KernelSpec

Array = jax.Array

DiscreteMetropolisInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite


class DiscreteMetropolisState(NamedTuple):
    """Configuration with its cached log density and a `Density`'s aux."""

    position: Array
    logdensity: Array
    aux: Any = ()


def init(position: Array, logdensity_fn: Callable) -> DiscreteMetropolisState:
    """Build the state at `position`, caching its log density."""
    position = jnp.asarray(position, jnp.int32)
    return DiscreteMetropolisState(position, *evaluate_value(position, logdensity_fn))


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, num_categories=2) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: DiscreteMetropolisState, logdensity_fn: Callable, num_categories: int = 2
    ) -> tuple[DiscreteMetropolisState, DiscreteMetropolisInfo]:
        """One single-site Metropolis step targeting `logdensity_fn`."""
        key_site, key_value, key_accept = jax.random.split(rng_key, 3)
        x = state.position
        site = jax.random.randint(key_site, (), 0, x.shape[0])
        shift = jax.random.randint(key_value, (), 1, num_categories)
        proposed = x.at[site].set(((x[site] + shift) % num_categories).astype(x.dtype))
        proposal = DiscreteMetropolisState(proposed, *evaluate_value(proposed, logdensity_fn, state.aux))
        decision = metropolis_decision(key_accept, proposal.logdensity - state.logdensity)
        return select(decision.is_accepted, proposal, state), decision

    return kernel


def transition_probabilities(position: Array, states: Array, logdensity_fn: Callable, num_categories: int = 2
                             ) -> Array:
    """Exact probabilities of one step from `position` to each row of `states`."""
    distance, _ = hamming_neighbours(position, states)
    log_ratio = jax.vmap(logdensity_fn)(states) - logdensity_fn(position)
    move = acceptance_probability(log_ratio) / (position.shape[0] * (num_categories - 1))
    return with_stay_probability(jnp.where(distance == 1, move, 0.0), distance)


spec = KernelSpec("discrete_metropolis", init, build_kernel, CATEGORICAL, (NUM_CATEGORIES,), VALUE_AUX_CACHE,
                  transition_probabilities=transition_probabilities, split_density=True)
