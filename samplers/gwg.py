"""Gibbs-with-Gradients (Grathwohl et al. 2021): a locally balanced single-site proposal from one gradient.

The gradient G of the relaxed log density (see `samplers._discrete`) estimates every single-site log ratio,
``D[i, k] = G[i, k] - G[i, x_i]``. A site and value are proposed with probability softmax(D / 2) over all
changes k != x_i (a bit flip when K = 2), and the move is accepted with the Metropolis–Hastings ratio

    pi(x') q(x | x') / (pi(x) q(x' | x)),

which uses the exact log density, so the chain targets pi whatever the gradient's quality. The state caches the
log density and G, so a step costs one value-and-gradient evaluation.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from ._discrete import (
    RelaxedGradientState,
    first_order_log_ratios,
    hamming_neighbours,
    relaxed_gradient_init,
    relaxed_gradient_state,
    with_stay_probability,
)
from ._metropolis import MetropolisInfo, acceptance_probability, metropolis_decision, select
from .spec import CATEGORICAL, NUM_CATEGORIES, VALUE_GRADIENT_AUX_CACHE, KernelSpec

Array = jax.Array

GWGInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite
GWGState = RelaxedGradientState  # position, logdensity, (d, K) relaxed gradient

init = relaxed_gradient_init


def proposal_logits(state: GWGState) -> Array:
    """log q(i, k | x) up to a constant: D[i, k] / 2, -inf for the current value; shape (d, K)."""
    changes = first_order_log_ratios(state.logdensity_grad, state.position)
    current = jax.nn.one_hot(state.position, changes.shape[1], dtype=bool)
    return jnp.where(current, -jnp.inf, 0.5 * changes)


def _log_proposal(logits: Array, site: Array, value: Array) -> Array:
    return logits[site, value] - jax.nn.logsumexp(logits)


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, num_categories=2) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: GWGState, logdensity_fn: Callable, num_categories: int = 2
    ) -> tuple[GWGState, GWGInfo]:
        """One Gibbs-with-Gradients step targeting `logdensity_fn`."""
        key_proposal, key_accept = jax.random.split(rng_key)
        logits = proposal_logits(state)
        choice = jax.random.categorical(key_proposal, logits.reshape(-1))
        site, value = choice // num_categories, choice % num_categories
        proposal = relaxed_gradient_state(state.position.at[site].set(value.astype(state.position.dtype)),
                                          logdensity_fn, num_categories, state.aux)
        log_ratio = (
            proposal.logdensity - state.logdensity
            + _log_proposal(proposal_logits(proposal), site, state.position[site])
            - _log_proposal(logits, site, value)
        )
        decision = metropolis_decision(key_accept, log_ratio)
        return select(decision.is_accepted, proposal, state), decision

    return kernel


def transition_probabilities(position: Array, states: Array, logdensity_fn: Callable, num_categories: int = 2
                             ) -> Array:
    """Exact probabilities of one step from `position` to each row of `states`."""
    here = init(position, logdensity_fn, num_categories)
    there = jax.vmap(lambda y: init(y, logdensity_fn, num_categories))(states)  # independent of `position`
    distance, site = hamming_neighbours(position, states)
    rows = jnp.arange(states.shape[0])
    forward = jax.vmap(_log_proposal, in_axes=(None, 0, 0))(proposal_logits(here), site, states[rows, site])
    backward = jax.vmap(_log_proposal)(jax.vmap(proposal_logits)(there), site, position[site])
    log_ratio = there.logdensity - here.logdensity + backward - forward
    move = jnp.exp(forward) * acceptance_probability(log_ratio)
    return with_stay_probability(jnp.where(distance == 1, move, 0.0), distance)


spec = KernelSpec("gwg", init, build_kernel, CATEGORICAL, (NUM_CATEGORIES,), VALUE_GRADIENT_AUX_CACHE,
                  init_parameters=("num_categories",), transition_probabilities=transition_probabilities,
                  split_density=True)
