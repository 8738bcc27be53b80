"""Metropolis-adjusted Langevin algorithm (MALA).

Proposal x' = x + h * grad log p(x) + sqrt(2 h) * xi, corrected by a Metropolis–Hastings test that uses the
exact log density. The gradient used in the drift is whatever `jax.value_and_grad(logdensity_fn)` returns, so a
wrapper may supply a cheaper drift through a custom derivative while the test stays exact.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._metropolis import MetropolisInfo, evaluate, metropolis_decision, select
from .spec import CONTINUOUS, STEP_SIZE, VALUE_AND_GRADIENT_CACHE, KernelSpec, Tuning

Array = jax.Array


class MALAState(NamedTuple):
    """Position with its cached log density and gradient."""

    position: Array
    logdensity: Array
    logdensity_grad: Array


MALAInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite

def init(position: Array, logdensity_fn: Callable) -> MALAState:
    """Build the state at `position`, caching log density and gradient."""
    return MALAState(*evaluate(position, logdensity_fn))


def _log_proposal(to: Array, start: Array, start_grad: Array, step_size: Array) -> Array:
    """log q(to | start) up to a constant."""
    residual = to - start - step_size * start_grad
    return -jnp.sum(residual**2 / (4.0 * step_size))


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: MALAState, logdensity_fn: Callable, step_size: float
    ) -> tuple[MALAState, MALAInfo]:
        """One MALA transition targeting `logdensity_fn`."""
        key_noise, key_accept = jax.random.split(rng_key)
        x, g = state.position, state.logdensity_grad
        noise = jax.random.normal(key_noise, x.shape, x.dtype)
        proposed_position = x + step_size * g + jnp.sqrt(2.0 * step_size) * noise
        proposal = init(proposed_position, logdensity_fn)
        log_ratio = (
            proposal.logdensity
            - state.logdensity
            + _log_proposal(x, proposal.position, proposal.logdensity_grad, step_size)
            - _log_proposal(proposal.position, x, g, step_size)
        )
        decision = metropolis_decision(key_accept, log_ratio)
        new_state = select(decision.is_accepted, proposal, state)
        info = MALAInfo(decision.acceptance_rate, decision.is_accepted, decision.is_nonfinite)
        return new_state, info

    return kernel


spec = KernelSpec("mala", init, build_kernel, CONTINUOUS, (STEP_SIZE._replace(suggested=0.05),),
                  VALUE_AND_GRADIENT_CACHE, tuning=Tuning(0.574))
