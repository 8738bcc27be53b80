"""Gaussian-smoothed log densities in closed form: log p_s(y) = log ∫ pi(x) N(y; x, s I) dx for Gaussian targets and
Gaussian mixtures (s is the noise VARIANCE).

A mixture sum_k w_k N(mu_k, Sigma_k) convolved with N(0, s I) is sum_k w_k N(mu_k, Sigma_k + s I): same weights,
every covariance grown by s. With the eigendecomposition Sigma_k = U_k diag(lam_k) U_k^T computed once,
(Sigma_k + s I)^-1 = U_k diag(1 / (lam_k + s)) U_k^T and log det = sum log(lam_k + s), so any s >= 0 costs one
rotation per component. The values are NORMALISED (the smoothing of the normalised pi), so ``p_0`` is pi itself
even where a target's own ``logdensity`` drops constants. A Gaussian is a mixture of one component.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

Array = jax.Array


def mixture_smoothed_logdensity(means: Array, eigenvectors: Array, eigenvalues: Array, log_weights: Array, y: Array,
                                noise_variance: Array) -> Array:
    """log sum_k w_k N(y; means[k], U_k diag(eigenvalues[k] + s) U_k^T), normalised; s = `noise_variance` >= 0.

    Shapes: means (K, d), eigenvectors (K, d, d) with columns the eigenvectors, eigenvalues (K, d), log_weights
    (K,), y (d,).
    """
    variances = eigenvalues + noise_variance
    rotated = jnp.einsum("kji,kj->ki", eigenvectors, y - means)
    log_components = -0.5 * jnp.sum(rotated**2 / variances + jnp.log(2.0 * jnp.pi * variances), axis=-1)
    return jax.nn.logsumexp(log_weights + log_components)


def isotropic_mixture_smoothed_logdensity(means: Array, log_weights: Array, variance: Array, y: Array,
                                          noise_variance: Array) -> Array:
    """log sum_k w_k N(y; means[k], (variance + s) I), normalised (no rotation needed)."""
    total = variance + noise_variance
    dim = means.shape[-1]
    return (jax.nn.logsumexp(log_weights - 0.5 * jnp.sum((y - means) ** 2, axis=-1) / total)
            - 0.5 * dim * jnp.log(2.0 * jnp.pi * total))


def smoothed_mixture(means: np.ndarray, covariances: np.ndarray, weights: np.ndarray) -> Partial:
    """``(y, s) -> log p_s(y)`` of sum_k w_k N(means[k], covariances[k]) (a `Partial`: compiles once per shape)."""
    means = np.asarray(means, np.float64)
    covariances = np.asarray(covariances, np.float64)
    weights = np.asarray(weights, np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(covariances)
    if np.any(eigenvalues <= 0):
        raise ValueError("covariances must be positive definite to smooth a mixture.")
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights / weights.sum())
    return Partial(mixture_smoothed_logdensity, jnp.asarray(means), jnp.asarray(eigenvectors),
                   jnp.asarray(eigenvalues), jnp.asarray(log_weights))


def smoothed_isotropic_mixture(means: np.ndarray, weights: np.ndarray, variance: float) -> Partial:
    """``(y, s) -> log p_s(y)`` of sum_k w_k N(means[k], variance I)."""
    weights = np.asarray(weights, np.float64)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights / weights.sum())
    return Partial(isotropic_mixture_smoothed_logdensity, jnp.asarray(np.asarray(means, np.float64)),
                   jnp.asarray(log_weights), jnp.asarray(float(variance)))


def smoothed_gaussian(mean: np.ndarray, cov: np.ndarray) -> Partial:
    """``(y, s) -> log N(y; mean, cov + s I)``, normalised."""
    mean = np.asarray(mean, np.float64)
    return smoothed_mixture(mean[None, :], np.asarray(cov, np.float64)[None], np.ones(1))
