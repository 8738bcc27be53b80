"""Inverse mass matrices (preconditioners), diagonal ``(d,)`` or dense ``(d, d)``, shared by the kernels.

With M^{-1} the inverse mass matrix: momenta are N(0, M), the kinetic energy is 0.5 p^T M^{-1} p, and a
preconditioned Langevin proposal is x + h M^{-1} g + sqrt(2 h) M^{-1/2} xi. A dense M^{-1} = L L^T enters through
its Cholesky factor L. The form is read off the array's rank (a vector is a diagonal), as in BlackJAX.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

Array = jax.Array


def resolve_inverse_mass_matrix(inverse_mass_matrix: Any, position: Array) -> Array:
    """The inverse mass matrix as an array: ones shaped like `position` for None, a vector broadcast to the
    position's shape (diagonal), or a ``(d, d)`` matrix (dense)."""
    if inverse_mass_matrix is None:
        return jnp.ones_like(position)
    inverse_mass_matrix = jnp.asarray(inverse_mass_matrix, position.dtype)
    if inverse_mass_matrix.ndim == 2:
        return inverse_mass_matrix
    return jnp.broadcast_to(inverse_mass_matrix, position.shape)


def apply_inverse_mass(inverse_mass_matrix: Array, vector: Array) -> Array:
    """M^{-1} v."""
    if inverse_mass_matrix.ndim == 2:
        return inverse_mass_matrix @ vector
    return inverse_mass_matrix * vector


def scale_noise(inverse_mass_matrix: Array, noise: Array) -> Array:
    """M^{-1/2} xi (a draw of N(0, M^{-1}) from standard noise): sqrt of the diagonal, or L xi for M^{-1} = L L^T."""
    if inverse_mass_matrix.ndim == 2:
        return jnp.linalg.cholesky(inverse_mass_matrix) @ noise
    return jnp.sqrt(inverse_mass_matrix) * noise


def mass_quadratic(inverse_mass_matrix: Array, vector: Array) -> Array:
    """v^T M v (the Mahalanobis norm of a Langevin proposal's residual)."""
    if inverse_mass_matrix.ndim == 2:
        cholesky = jnp.linalg.cholesky(inverse_mass_matrix)
        whitened = solve_triangular(cholesky, vector, lower=True)
        return jnp.sum(whitened**2)
    return jnp.sum(vector**2 / inverse_mass_matrix)


def sample_momentum(rng_key: Array, inverse_mass_matrix: Array) -> Array:
    """Draw p ~ N(0, M): z / sqrt(M^{-1}) for a diagonal, L^{-T} z for M^{-1} = L L^T."""
    dim = inverse_mass_matrix.shape[0]
    noise = jax.random.normal(rng_key, (dim,) if inverse_mass_matrix.ndim == 2 else inverse_mass_matrix.shape,
                              inverse_mass_matrix.dtype)
    if inverse_mass_matrix.ndim == 2:
        return solve_triangular(jnp.linalg.cholesky(inverse_mass_matrix).T, noise, lower=False)
    return noise / jnp.sqrt(inverse_mass_matrix)


def kinetic_energy(momentum: Array, inverse_mass_matrix: Array) -> Array:
    """0.5 p^T M^{-1} p."""
    if inverse_mass_matrix.ndim == 2:
        return 0.5 * jnp.vdot(momentum, inverse_mass_matrix @ momentum)
    return 0.5 * jnp.sum(inverse_mass_matrix * momentum**2)


def position_step(step_size: Array, inverse_mass_matrix: Array, momentum: Array) -> Array:
    """The leapfrog drift h M^{-1} p."""
    if inverse_mass_matrix.ndim == 2:
        return step_size * (inverse_mass_matrix @ momentum)
    return step_size * inverse_mass_matrix * momentum
