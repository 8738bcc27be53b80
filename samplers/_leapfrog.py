"""Leapfrog (velocity Verlet) integrator and energy helpers shared by the Hamiltonian kernels.

For H(x, p) = -log p(x) + 0.5 * p^T M^{-1} p (M^{-1} diagonal or dense, see `_metric`), one step of size h is
p <- p + (h/2) grad log p(x);  x <- x + h M^{-1} p;  p <- p + (h/2) grad log p(x).

The inner steps ask `logdensity_fn` for the gradient only and the last one for value, gradient and aux (a plain
callable: ``jax.grad``, then ``jax.value_and_grad`` of it, the aux passed through; see `spec.as_density`).
"""

from typing import Any, Callable, NamedTuple

import jax

from ._metric import (  # noqa: F401  (re-exported: the kernels import them from here)
    kinetic_energy,
    position_step,
    resolve_inverse_mass_matrix,
    sample_momentum,
)
from .spec import Density, as_density

Array = jax.Array


class IntegratorState(NamedTuple):
    """Phase-space point with the log density, gradient and a `Density`'s aux cached at its position."""

    position: Array
    momentum: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


class HamiltonianInfo(NamedTuple):
    """Per-step diagnostics; `energy_change` is H(x', p') - H(x, p) (NaN/inf when non-finite)."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    energy_change: Array


def energy_change(start: IntegratorState, end: IntegratorState, inverse_mass_matrix: Array) -> Array:
    """H(end) - H(start) with H(x, p) = -log p(x) + kinetic_energy(p); NaN/inf when either end is non-finite."""
    return (
        start.logdensity
        - end.logdensity
        + kinetic_energy(end.momentum, inverse_mass_matrix)
        - kinetic_energy(start.momentum, inverse_mass_matrix)
    )


def leapfrog(
    state: IntegratorState,
    logdensity_fn: Callable | Density,
    step_size: float | Array,
    inverse_mass_matrix: Array,
    num_steps: int,
) -> IntegratorState:
    """Run `num_steps` (a static int) leapfrog steps; gradients come from `logdensity_fn` (see the module doc)."""
    density = as_density(logdensity_fn, state.aux)

    def gradient_step(_: int, current: IntegratorState) -> IntegratorState:
        position, momentum = _kick_and_drift(current, step_size, inverse_mass_matrix)
        logdensity_grad = density.grad(position)
        return current._replace(position=position, momentum=momentum + 0.5 * step_size * logdensity_grad,
                                logdensity_grad=logdensity_grad)

    current = jax.lax.fori_loop(0, num_steps - 1, gradient_step, state)
    position, momentum = _kick_and_drift(current, step_size, inverse_mass_matrix)
    logdensity, logdensity_grad, aux = density.value_and_grad(position)
    return IntegratorState(position, momentum + 0.5 * step_size * logdensity_grad, logdensity, logdensity_grad, aux)


def _kick_and_drift(current: IntegratorState, step_size: float | Array, inverse_mass_matrix: Array
                    ) -> tuple[Array, Array]:
    """(x + h M^{-1} p_half, p_half) with the half kick p_half = p + (h/2) grad log p(x)."""
    momentum = current.momentum + 0.5 * step_size * current.logdensity_grad
    return current.position + position_step(step_size, inverse_mass_matrix, momentum), momentum
