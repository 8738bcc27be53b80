"""Discrete Langevin proposal with a Metropolis correction (DMALA; Zhang, Liu, Liu, Zhang 2022).

Every site is proposed independently from one gradient G of the relaxed log density (see `samplers._discrete`):

    q_i(k | x) proportional to exp(D[i, k] / 2 - [k != x_i] / (2 step_size)),   D[i, k] = G[i, k] - G[i, x_i],

so many sites can change at once (for binary sites this is the paper's
exp(grad f(x)_i (x'_i - x_i) / 2 - (x'_i - x_i)^2 / (2 step_size))). The move is accepted with the
Metropolis–Hastings ratio on the exact log density. The state caches the log density and G.
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
from .spec import CATEGORICAL, NUM_CATEGORIES, STEP_SIZE, VALUE_GRADIENT_AUX_CACHE, KernelSpec, Tuning

Array = jax.Array

DMALAInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite
DMALAState = RelaxedGradientState  # position, logdensity, (d, K) relaxed gradient

init = relaxed_gradient_init


def proposal_log_probabilities(state: DMALAState, step_size: Array) -> Array:
    """log q_i(k | x), normalised per site; shape (d, K)."""
    changes = first_order_log_ratios(state.logdensity_grad, state.position)
    moved = ~jax.nn.one_hot(state.position, changes.shape[1], dtype=bool)
    logits = 0.5 * changes - moved / (2.0 * step_size)
    return jax.nn.log_softmax(logits, axis=-1)


def _log_proposal(log_probabilities: Array, to: Array) -> Array:
    return jnp.sum(jnp.take_along_axis(log_probabilities, to[:, None], axis=1))


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, num_categories=2) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: DMALAState, logdensity_fn: Callable, step_size: float, num_categories: int = 2
    ) -> tuple[DMALAState, DMALAInfo]:
        """One DMALA step targeting `logdensity_fn`."""
        key_proposal, key_accept = jax.random.split(rng_key)
        forward = proposal_log_probabilities(state, step_size)
        proposed = jax.random.categorical(key_proposal, forward, axis=-1).astype(jnp.int32)
        proposal = relaxed_gradient_state(proposed, logdensity_fn, num_categories, state.aux)
        backward = proposal_log_probabilities(proposal, step_size)
        log_ratio = (
            proposal.logdensity - state.logdensity
            + _log_proposal(backward, state.position) - _log_proposal(forward, proposed)
        )
        decision = metropolis_decision(key_accept, log_ratio)
        return select(decision.is_accepted, proposal, state), decision

    return kernel


def transition_probabilities(position: Array, states: Array, logdensity_fn: Callable, step_size: float,
                             num_categories: int = 2) -> Array:
    """Exact probabilities of one step from `position` to each row of `states` (any number of changed sites)."""
    here = init(position, logdensity_fn, num_categories)
    there = jax.vmap(lambda y: init(y, logdensity_fn, num_categories))(states)  # independent of `position`
    forward = jax.vmap(_log_proposal, in_axes=(None, 0))(proposal_log_probabilities(here, step_size), states)
    backward = jax.vmap(lambda s: _log_proposal(proposal_log_probabilities(s, step_size), position))(there)
    log_ratio = there.logdensity - here.logdensity + backward - forward
    distance, _ = hamming_neighbours(position, states)
    return with_stay_probability(jnp.exp(forward) * acceptance_probability(log_ratio), distance)


spec = KernelSpec("dmala", init, build_kernel, CATEGORICAL, (STEP_SIZE._replace(suggested=0.5), NUM_CATEGORIES),
                  VALUE_GRADIENT_AUX_CACHE, init_parameters=("num_categories",),
                  transition_probabilities=transition_probabilities, tuning=Tuning(0.574),
                  split_density=True)
