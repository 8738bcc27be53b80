"""Hamiltonian Monte Carlo (HMC) with a fixed number of leapfrog steps and a diagonal mass matrix.

Draw p ~ N(0, M), integrate H(x, p) = -log p(x) + 0.5 * p^T M^{-1} p with L leapfrog steps of size h to
(x', p'), and accept x' with probability min(1, exp(H(x, p) - H(x', p'))).
"""

from typing import Any, Callable, NamedTuple

import jax

from ._leapfrog import (
    HamiltonianInfo,
    IntegratorState,
    energy_change,
    leapfrog,
    resolve_inverse_mass_matrix,
    sample_momentum,
)
from ._metropolis import evaluate, metropolis_decision, select
from .spec import (
    CONTINUOUS,
    INVERSE_MASS_MATRIX,
    NUM_INTEGRATION_STEPS,
    STEP_SIZE,
    VALUE_GRADIENT_AUX_CACHE,
    KernelSpec,
    Tuning,
)

Array = jax.Array


class HMCState(NamedTuple):
    """Position with its cached log density, gradient and a `Density`'s aux."""

    position: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


HMCInfo = HamiltonianInfo  # acceptance_rate, is_accepted, is_nonfinite, energy_change

def init(position: Array, logdensity_fn: Callable) -> HMCState:
    """Build the state at `position`, caching log density and gradient."""
    return HMCState(*evaluate(position, logdensity_fn))


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, num_integration_steps, inverse_mass_matrix=None)`."""

    def kernel(
        rng_key: Array,
        state: HMCState,
        logdensity_fn: Callable,
        step_size: float | Array,
        num_integration_steps: int,
        inverse_mass_matrix: Array | None = None,
    ) -> tuple[HMCState, HMCInfo]:
        """One HMC transition targeting `logdensity_fn` (`num_integration_steps` is a static int)."""
        key_momentum, key_accept = jax.random.split(rng_key)
        inverse_mass = resolve_inverse_mass_matrix(inverse_mass_matrix, state.position)
        momentum = sample_momentum(key_momentum, inverse_mass)
        start = IntegratorState(state.position, momentum, state.logdensity, state.logdensity_grad, state.aux)
        end = leapfrog(start, logdensity_fn, step_size, inverse_mass, num_integration_steps)
        delta_energy = energy_change(start, end, inverse_mass)
        decision = metropolis_decision(key_accept, -delta_energy)
        proposal = HMCState(end.position, end.logdensity, end.logdensity_grad, end.aux)
        new_state = select(decision.is_accepted, proposal, state)
        info = HMCInfo(decision.acceptance_rate, decision.is_accepted, decision.is_nonfinite, delta_energy)
        return new_state, info

    return kernel


spec = KernelSpec("hmc", init, build_kernel, CONTINUOUS,
                  (STEP_SIZE._replace(suggested=0.15), NUM_INTEGRATION_STEPS, INVERSE_MASS_MATRIX),
                  VALUE_GRADIENT_AUX_CACHE,
                  tuning=Tuning(0.8, inverse_mass_matrix="inverse_mass_matrix", step_jitter=0.3), split_density=True)
