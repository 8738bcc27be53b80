"""Gaussian targets: iid, correlated and ill-conditioned. All moments are exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import GaussianForm, Target, check_int, exact_target, gaussian_initial_position, register


def gaussian_logdensity(loc: jax.Array, precision: jax.Array, x: jax.Array) -> jax.Array:
    """log N(x; loc, precision^-1) up to a constant."""
    centred = x - loc
    return -0.5 * centred @ (precision @ centred)


def gaussian_score(loc: jax.Array, precision: jax.Array, x: jax.Array) -> jax.Array:
    """grad log N(x; loc, precision^-1)."""
    return -(precision @ (x - loc))


def gaussian_sample(loc: jax.Array, chol: jax.Array, rng_key: jax.Array, num: int) -> jax.Array:
    """`num` exact draws loc + chol @ z."""
    return loc + jax.random.normal(rng_key, (num, loc.shape[0])) @ chol.T


def gaussian(name: str, mean: np.ndarray, cov: np.ndarray, params: dict, initial_scale: float = 1.0) -> Target:
    """A multivariate normal N(mean, cov) as a `Target` with exact moments and an exact sampler.

    Its functions are `jax.tree_util.Partial`s of module-level functions, so code that passes them as traced
    arguments (e.g. `srmc.testing`) compiles once for all Gaussians of one dimension.
    """
    mean = np.asarray(mean, np.float64)
    cov = np.asarray(cov, np.float64)
    dim = mean.shape[0]
    loc, precision = jnp.asarray(mean), jnp.asarray(np.linalg.inv(cov))
    logdensity = Partial(gaussian_logdensity, loc, precision)
    score = Partial(gaussian_score, loc, precision)
    sample = Partial(gaussian_sample, loc, jnp.asarray(np.linalg.cholesky(cov)))
    return exact_target(
        name, logdensity, sample, mean, np.diag(cov), params, score=score,
        initial_position=gaussian_initial_position(dim, initial_scale), gaussian=GaussianForm(mean, cov),
    )


@register("iid_gaussian")
def iid_gaussian(dim: int = 10, scale: float = 1.0) -> Target:
    """Isotropic Gaussian N(0, scale^2 I)."""
    check_int(dim, "dim")
    return gaussian(f"iid_gaussian(dim={dim})", np.zeros(dim), scale**2 * np.eye(dim), {"dim": dim, "scale": scale})


@register("correlated_gaussian")
def correlated_gaussian(dim: int = 20, rho: float = 0.9, structure: str = "equicorrelated") -> Target:
    """Correlated Gaussian, unit variances; correlation rho between all pairs or rho^|i-j| (structure="ar1")."""
    check_int(dim, "dim")
    if structure == "equicorrelated":
        if not -1.0 / (dim - 1 if dim > 1 else 1) < rho < 1.0:
            raise ValueError(f"rho must lie in (-1/(dim-1), 1) for an equicorrelated Gaussian, got {rho}.")
        cov = (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))
    elif structure == "ar1":
        if not -1.0 < rho < 1.0:
            raise ValueError(f"rho must lie in (-1, 1), got {rho}.")
        index = np.arange(dim)
        cov = rho ** np.abs(index[:, None] - index[None, :])
    else:
        raise ValueError(f"structure must be 'equicorrelated' or 'ar1', got {structure!r}.")
    params = {"dim": dim, "rho": rho, "structure": structure}
    return gaussian(f"correlated_gaussian(dim={dim},rho={rho})", np.zeros(dim), cov, params)


@register("ill_conditioned_gaussian")
def ill_conditioned_gaussian(dim: int = 10, condition_number: float = 1e3) -> Target:
    """Diagonal Gaussian whose variances are log-spaced so that max/min = condition_number."""
    check_int(dim, "dim")
    if not condition_number >= 1.0:
        raise ValueError(f"condition_number must be >= 1, got {condition_number}.")
    half = 0.5 * np.log10(condition_number)
    variances = np.logspace(-half, half, dim)
    params = {"dim": dim, "condition_number": condition_number}
    return gaussian(f"ill_conditioned_gaussian(dim={dim})", np.zeros(dim), np.diag(variances), params)
