"""Adjusted underdamped (kinetic) Langevin: generalised HMC with partial momentum refresh (Horowitz 1991).

With persistence eta = exp(-gamma h): p <- eta p + sqrt(1 - eta^2) xi, xi ~ N(0, M); then L leapfrog steps to
(x', p') accepted with probability min(1, exp(H(x, p) - H(x', p'))); on rejection the momentum is flipped,
(x, p) -> (x, -p). Each step leaves pi(x) N(p; 0, M) invariant.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

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
    Parameter,
    Tuning,
    positive,
)

Array = jax.Array


class KineticLangevinState(NamedTuple):
    """Position and momentum with the log density, gradient and a `Density`'s aux cached at the position."""

    position: Array
    momentum: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


KineticLangevinInfo = HamiltonianInfo  # acceptance_rate, is_accepted, is_nonfinite, energy_change

def init(position: Array, logdensity_fn: Callable) -> KineticLangevinState:
    """Build the state at `position` with zero momentum; the partial refreshes bring it to N(0, M)."""
    position, logdensity, logdensity_grad, aux = evaluate(position, logdensity_fn)
    return KineticLangevinState(position, jnp.zeros_like(position), logdensity, logdensity_grad, aux)


def refresh_momentum(rng_key: Array, momentum: Array, persistence: Array, inverse_mass_matrix: Array) -> Array:
    """Partial refresh p <- eta p + sqrt(1 - eta^2) xi with xi ~ N(0, M); leaves N(0, M) invariant."""
    noise = sample_momentum(rng_key, inverse_mass_matrix)
    return persistence * momentum + jnp.sqrt(1.0 - persistence**2) * noise


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, damping, num_integration_steps=1,
    inverse_mass_matrix=None) -> (state, info)`."""

    def kernel(
        rng_key: Array,
        state: KineticLangevinState,
        logdensity_fn: Callable,
        step_size: float | Array,
        damping: float | Array,
        num_integration_steps: int = 1,
        inverse_mass_matrix: Array | None = None,
    ) -> tuple[KineticLangevinState, KineticLangevinInfo]:
        """One adjusted kinetic Langevin transition targeting `logdensity_fn` (friction `damping` > 0)."""
        key_momentum, key_accept = jax.random.split(rng_key)
        inverse_mass = resolve_inverse_mass_matrix(inverse_mass_matrix, state.position)
        persistence = jnp.exp(-damping * step_size)
        momentum = refresh_momentum(key_momentum, state.momentum, persistence, inverse_mass)
        start = IntegratorState(state.position, momentum, state.logdensity, state.logdensity_grad, state.aux)
        end = leapfrog(start, logdensity_fn, step_size, inverse_mass, num_integration_steps)
        delta_energy = energy_change(start, end, inverse_mass)
        decision = metropolis_decision(key_accept, -delta_energy)
        proposal = KineticLangevinState(end.position, end.momentum, end.logdensity, end.logdensity_grad, end.aux)
        rejected = state._replace(momentum=-momentum)
        new_state = select(decision.is_accepted, proposal, rejected)
        info = KineticLangevinInfo(
            decision.acceptance_rate, decision.is_accepted, decision.is_nonfinite, delta_energy
        )
        return new_state, info

    return kernel


spec = KernelSpec(
    "kinetic_langevin", init, build_kernel, CONTINUOUS,
    (STEP_SIZE._replace(suggested=0.15), Parameter("damping", positive, suggested=0.5, description="friction"),
     NUM_INTEGRATION_STEPS._replace(required=False, suggested=1), INVERSE_MASS_MATRIX),
    VALUE_GRADIENT_AUX_CACHE, momentum="momentum",
    tuning=Tuning(0.8, inverse_mass_matrix="inverse_mass_matrix", step_jitter=0.3), split_density=True,
)
