"""Metropolis-adjusted Langevin algorithm (MALA), optionally preconditioned.

Proposal x' = x + h M^{-1} grad log p(x) + sqrt(2 h) M^{-1/2} xi (M^{-1} = I unless `inverse_mass_matrix` is given,
diagonal or dense), corrected by a Metropolis–Hastings test that uses the exact log density. The gradient used
in the drift is whatever `jax.value_and_grad(logdensity_fn)` returns, so a wrapper may supply a cheaper drift
through a custom derivative while the test stays exact.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._metric import apply_inverse_mass, mass_quadratic, resolve_inverse_mass_matrix, scale_noise
from ._metropolis import MetropolisInfo, evaluate, metropolis_decision, select
from .spec import CONTINUOUS, INVERSE_MASS_MATRIX, STEP_SIZE, VALUE_GRADIENT_AUX_CACHE, KernelSpec, Tuning

Array = jax.Array


class MALAState(NamedTuple):
    """Position with its cached log density, gradient and a `Density`'s aux."""

    position: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


MALAInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite

def init(position: Array, logdensity_fn: Callable) -> MALAState:
    """Build the state at `position`, caching log density and gradient."""
    return MALAState(*evaluate(position, logdensity_fn))


def _log_proposal(to: Array, start: Array, start_grad: Array, step_size: Array) -> Array:
    """log q(to | start) up to a constant (no preconditioner)."""
    residual = to - start - step_size * start_grad
    return -jnp.sum(residual**2 / (4.0 * step_size))


def _log_preconditioned_proposal(to: Array, start: Array, start_grad: Array, step_size: Array,
                                 inverse_mass: Array) -> Array:
    """log q(to | start) up to a constant for the proposal N(start + h M^{-1} g, 2 h M^{-1})."""
    residual = to - start - step_size * apply_inverse_mass(inverse_mass, start_grad)
    return -mass_quadratic(inverse_mass, residual) / (4.0 * step_size)


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, inverse_mass_matrix=None) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: MALAState, logdensity_fn: Callable, step_size: float,
        inverse_mass_matrix: Array | None = None,
    ) -> tuple[MALAState, MALAInfo]:
        """One MALA transition targeting `logdensity_fn`."""
        key_noise, key_accept = jax.random.split(rng_key)
        x, g = state.position, state.logdensity_grad
        noise = jax.random.normal(key_noise, x.shape, x.dtype)
        if inverse_mass_matrix is None:
            proposed_position = x + step_size * g + jnp.sqrt(2.0 * step_size) * noise
            proposal = MALAState(*evaluate(proposed_position, logdensity_fn, state.aux))
            log_backward = _log_proposal(x, proposal.position, proposal.logdensity_grad, step_size)
            log_forward = _log_proposal(proposal.position, x, g, step_size)
        else:
            inverse_mass = resolve_inverse_mass_matrix(inverse_mass_matrix, x)
            proposed_position = (x + step_size * apply_inverse_mass(inverse_mass, g)
                                 + jnp.sqrt(2.0 * step_size) * scale_noise(inverse_mass, noise))
            proposal = MALAState(*evaluate(proposed_position, logdensity_fn, state.aux))
            log_backward = _log_preconditioned_proposal(x, proposal.position, proposal.logdensity_grad, step_size,
                                                        inverse_mass)
            log_forward = _log_preconditioned_proposal(proposal.position, x, g, step_size, inverse_mass)
        log_ratio = proposal.logdensity - state.logdensity + log_backward - log_forward
        decision = metropolis_decision(key_accept, log_ratio)
        new_state = select(decision.is_accepted, proposal, state)
        info = MALAInfo(decision.acceptance_rate, decision.is_accepted, decision.is_nonfinite)
        return new_state, info

    return kernel


spec = KernelSpec("mala", init, build_kernel, CONTINUOUS, (STEP_SIZE._replace(suggested=0.05), INVERSE_MASS_MATRIX),
                  VALUE_GRADIENT_AUX_CACHE, tuning=Tuning(0.574, inverse_mass_matrix="inverse_mass_matrix"),
                  split_density=True)
