"""Leapfrog (velocity Verlet) integrator and energy helpers shared by the Hamiltonian kernels.

For H(x, p) = -log p(x) + 0.5 * p^T M^{-1} p with diagonal M^{-1}, one step of size h is
p <- p + (h/2) grad log p(x);  x <- x + h M^{-1} p;  p <- p + (h/2) grad log p(x).
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class IntegratorState(NamedTuple):
    """Phase-space point with the log density and gradient cached at its position."""

    position: Array
    momentum: Array
    logdensity: Array
    logdensity_grad: Array


class HamiltonianInfo(NamedTuple):
    """Per-step diagnostics; `energy_change` is H(x', p') - H(x, p) (NaN/inf when non-finite)."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    energy_change: Array


def resolve_inverse_mass_matrix(inverse_mass_matrix: Array | None, position: Array) -> Array:
    """The diagonal inverse mass matrix as an array shaped like `position` (None means ones)."""
    if inverse_mass_matrix is None:
        return jnp.ones_like(position)
    return jnp.broadcast_to(jnp.asarray(inverse_mass_matrix, position.dtype), position.shape)


def sample_momentum(rng_key: Array, inverse_mass_matrix: Array) -> Array:
    """Draw p ~ N(0, M) with M = 1 / inverse_mass_matrix (diagonal)."""
    noise = jax.random.normal(rng_key, inverse_mass_matrix.shape, inverse_mass_matrix.dtype)
    return noise / jnp.sqrt(inverse_mass_matrix)


def kinetic_energy(momentum: Array, inverse_mass_matrix: Array) -> Array:
    """0.5 * sum(M^{-1} * p^2) for a diagonal inverse mass matrix."""
    return 0.5 * jnp.sum(inverse_mass_matrix * momentum**2)


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
    logdensity_fn: Callable,
    step_size: float | Array,
    inverse_mass_matrix: Array,
    num_steps: int,
) -> IntegratorState:
    """Run `num_steps` (a static int) leapfrog steps; gradients come only from `jax.value_and_grad(logdensity_fn)`."""
    value_and_grad = jax.value_and_grad(logdensity_fn)

    def one_step(_: int, current: IntegratorState) -> IntegratorState:
        momentum = current.momentum + 0.5 * step_size * current.logdensity_grad
        position = current.position + step_size * inverse_mass_matrix * momentum
        logdensity, logdensity_grad = value_and_grad(position)
        momentum = momentum + 0.5 * step_size * logdensity_grad
        return IntegratorState(position, momentum, logdensity, logdensity_grad)

    return jax.lax.fori_loop(0, num_steps, one_step, state)
