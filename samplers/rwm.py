"""Random-walk Metropolis (RWM).

Proposal x' = x + h * M^{-1/2} xi with xi ~ N(0, I) (h a scalar or one step per coordinate; M^{-1} = I unless
`inverse_mass_matrix` is given, diagonal or dense), accepted with probability min(1, p(x') / p(x)); the proposal
is symmetric, so no proposal-density correction is needed.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._metric import resolve_inverse_mass_matrix, scale_noise
from ._metropolis import MetropolisInfo, evaluate_value, metropolis_decision, select
from .spec import CONTINUOUS, INVERSE_MASS_MATRIX, STEP_SIZE, VALUE_AUX_CACHE, KernelSpec, Tuning

Array = jax.Array


class RWMState(NamedTuple):
    """Position with its cached log density and a `Density`'s aux."""

    position: Array
    logdensity: Array
    aux: Any = ()


RWMInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite

def init(position: Array, logdensity_fn: Callable) -> RWMState:
    """Build the state at `position`, caching its log density."""
    position = jnp.asarray(position)
    return RWMState(position, *evaluate_value(position, logdensity_fn))


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, inverse_mass_matrix=None) -> (state, info)`."""

    def kernel(
        rng_key: Array, state: RWMState, logdensity_fn: Callable, step_size: float | Array,
        inverse_mass_matrix: Array | None = None,
    ) -> tuple[RWMState, RWMInfo]:
        """One random-walk Metropolis transition targeting `logdensity_fn`."""
        key_noise, key_accept = jax.random.split(rng_key)
        x = state.position
        noise = jax.random.normal(key_noise, x.shape, x.dtype)
        if inverse_mass_matrix is not None:
            noise = scale_noise(resolve_inverse_mass_matrix(inverse_mass_matrix, x), noise)
        proposed = x + step_size * noise
        proposal = RWMState(proposed, *evaluate_value(proposed, logdensity_fn, state.aux))
        decision = metropolis_decision(key_accept, proposal.logdensity - state.logdensity)
        new_state = select(decision.is_accepted, proposal, state)
        info = RWMInfo(decision.acceptance_rate, decision.is_accepted, decision.is_nonfinite)
        return new_state, info

    return kernel


spec = KernelSpec("rwm", init, build_kernel, CONTINUOUS, (STEP_SIZE._replace(suggested=0.15), INVERSE_MASS_MATRIX),
                  VALUE_AUX_CACHE, tuning=Tuning(0.234, inverse_mass_matrix="inverse_mass_matrix"), split_density=True)
