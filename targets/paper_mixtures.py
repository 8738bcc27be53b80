"""The SRMC paper's continuous Gaussian mixtures, with full covariances, exact moments and exact samplers.

From the authors' ``potentials.py`` (srmc-project/Score-Repellent-Monte-Carlo @ 07aed0e):

- `two_component_mixture`: means -+ separation / 2 on the first axis; weights (default equal; normalised when
  given, as the paper's code does) and covariances (default I) are parameters (``GaussianMixture``).
- `three_mode_mixture`: means -s, 0, s on the first axis, equal weights, identity covariances
  (``GaussianMixtureThreeMode``).
- `triangle_mixture`: means (-s, 0), (s, 0), (0, s) in the first two axes, equal weights, covariances default I
  (``GaussianMixtureTriangle``). Its mean is (0, s / 3), not 0 (the paper's ``production_ablation.py`` lists 0).
- `metastable_mixture`: the figure-1 target 0.8 N((-2, 0), 0.18^2 I) + 0.2 N((2, 0), I), a deep narrow well beside
  a broad mode (``experiments/figure1_metastable_demo.py``; the same mixture is the ablation's "GaussianMixture").

Separation 5 by default. Exact moments of sum_k w_k N(mu_k, Sigma_k): mean = sum_k w_k mu_k, covariance =
sum_k w_k (Sigma_k + mu_k mu_k^T) - mean mean^T (its diagonal is the ground-truth variance; the full matrix is in
``params["covariance"]``). The log densities are normalised. Targets whose components share one isotropic
covariance v I also carry a `MixtureForm` (what mode-coverage metrics read); the metastable mixture's components
differ in size, which `MixtureForm` cannot express, so its components are in ``params`` only.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import MixtureForm, Target, check_int, exact_target, gaussian_initial_position, register
from .smoothed import smoothed_mixture


def mixture_moments(means: np.ndarray, covariances: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of sum_k w_k N(means[k], covariances[k]), exactly."""
    means, covariances, weights = (np.asarray(a, np.float64) for a in (means, covariances, weights))
    mean = weights @ means
    second = np.einsum("k,kij->ij", weights, covariances + np.einsum("ki,kj->kij", means, means))
    return mean, second - np.outer(mean, mean)


def full_mixture_logdensity(means: jax.Array, precisions: jax.Array, log_norms: jax.Array, x: jax.Array) -> jax.Array:
    """log sum_k w_k N(x; means[k], precisions[k]^-1), normalised (`log_norms` carries log w_k and the constants)."""
    diff = x - means
    return jax.nn.logsumexp(log_norms - 0.5 * jnp.einsum("ki,kij,kj->k", diff, precisions, diff))


def full_mixture_responsibilities(means: jax.Array, precisions: jax.Array, log_norms: jax.Array,
                                  x: jax.Array) -> jax.Array:
    """p(component k | x), shape (num_components,)."""
    diff = x - means
    return jax.nn.softmax(log_norms - 0.5 * jnp.einsum("ki,kij,kj->k", diff, precisions, diff))


def full_mixture_sample(means: jax.Array, cholesky: jax.Array, log_weights: jax.Array, rng_key: jax.Array,
                        num: int) -> jax.Array:
    """`num` exact draws: a component by weight, then its Gaussian."""
    key_component, key_noise = jax.random.split(rng_key)
    component = jax.random.categorical(key_component, log_weights, shape=(num,))
    noise = jax.random.normal(key_noise, (num, means.shape[1]), means.dtype)
    return means[component] + jnp.einsum("nij,nj->ni", cholesky[component], noise)


def gaussian_mixture_full(name: str, means: Sequence, covariances: Sequence | None = None,
                          weights: Sequence | None = None, params: dict | None = None) -> Target:
    """sum_k w_k N(means[k], covariances[k]) with full covariances (default I), exact moments and an exact sampler.

    Weights default to equal and are normalised when given. ``params`` of the target: the given `params` plus
    ``means``, ``covariances``, ``weights`` (normalised) and the mixture's full ``covariance`` (see
    `responsibilities` for p(component | x)). Its smoothed log density is sum_k w_k N(means[k], covariances[k] + s I)
    (`targets.smoothed.smoothed_mixture`).
    """
    means = np.asarray(means, np.float64)
    if means.ndim != 2 or means.shape[0] < 1:
        raise ValueError(f"means must have shape (num_components, dim), got {means.shape}.")
    num, dim = means.shape
    covariances = np.stack([np.eye(dim)] * num) if covariances is None else np.asarray(covariances, np.float64)
    if covariances.shape != (num, dim, dim):
        raise ValueError(f"covariances must have shape {(num, dim, dim)}, got {covariances.shape}.")
    if not np.all(np.isfinite(covariances)) or not np.allclose(covariances, np.swapaxes(covariances, 1, 2)):
        raise ValueError("covariances must be finite symmetric matrices.")
    try:
        cholesky = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        raise ValueError("covariances must be positive definite.") from None
    weights = np.full(num, 1.0 / num) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (num,) or not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"weights must be {num} non-negative finite numbers, not all zero, got {weights}.")
    weights = weights / weights.sum()
    precisions = np.linalg.inv(covariances)
    log_norms = np.log(weights) - 0.5 * np.linalg.slogdet(covariances)[1] - 0.5 * dim * np.log(2.0 * np.pi)
    mean, covariance = mixture_moments(means, covariances, weights)
    leaves = (jnp.asarray(means), jnp.asarray(precisions), jnp.asarray(log_norms))
    logdensity = Partial(full_mixture_logdensity, *leaves)
    sample = Partial(full_mixture_sample, jnp.asarray(means), jnp.asarray(cholesky), jnp.asarray(np.log(weights)))
    first = covariances[0]
    shared_isotropic = np.allclose(covariances, first) and np.allclose(first, first[0, 0] * np.eye(dim))
    mixture = MixtureForm(means, weights, float(first[0, 0])) if shared_isotropic else None
    params = dict(params or {}, means=means, covariances=covariances, weights=weights, covariance=covariance)
    return exact_target(name, logdensity, sample, mean, np.diag(covariance), params,
                        initial_position=gaussian_initial_position(dim, float(np.sqrt(np.diag(covariance).max())),
                                                                   mean),
                        mixture=mixture, smoothed_logdensity=smoothed_mixture(means, covariances, weights))


def responsibilities(target: Target) -> Partial:
    """``x -> p(component k | x)``, shape (num_components,), for a target made by `gaussian_mixture_full`."""
    try:
        means, covariances, weights = (target.params[key] for key in ("means", "covariances", "weights"))
    except KeyError:
        raise ValueError(f"target {target.name} was not made by gaussian_mixture_full.") from None
    log_norms = np.log(weights) - 0.5 * np.linalg.slogdet(covariances)[1]
    return Partial(full_mixture_responsibilities, jnp.asarray(means), jnp.asarray(np.linalg.inv(covariances)),
                   jnp.asarray(log_norms))


def _axis_means(dim: int, points: Sequence[Sequence[float]]) -> np.ndarray:
    means = np.zeros((len(points), dim))
    for k, point in enumerate(points):
        means[k, : len(point)] = point
    return means


def _check_separation(separation: float) -> float:
    if (isinstance(separation, bool) or not isinstance(separation, (int, float, np.integer, np.floating))
            or not (np.isfinite(separation) and separation > 0)):
        raise ValueError(f"separation must be a positive finite number, got {separation!r}.")
    return float(separation)


@register("two_component_mixture")
def two_component_mixture(dim: int = 2, separation: float = 5.0, weights: Sequence[float] | None = None,
                          covariances: Sequence | None = None) -> Target:
    """The SRMC paper's two-component mixture: means -+ separation/2 on axis 1; weights, covariances as parameters."""
    check_int(dim, "dim")
    separation = _check_separation(separation)
    means = _axis_means(dim, [[-separation / 2], [separation / 2]])
    return gaussian_mixture_full(f"two_component_mixture(dim={dim},separation={separation:g})", means, covariances,
                                 weights, {"dim": dim, "separation": separation})


@register("three_mode_mixture")
def three_mode_mixture(dim: int = 2, separation: float = 5.0) -> Target:
    """The SRMC paper's three-mode mixture: means -s, 0, s on the first axis, equal weights, identity covariances."""
    check_int(dim, "dim")
    separation = _check_separation(separation)
    means = _axis_means(dim, [[-separation], [0.0], [separation]])
    return gaussian_mixture_full(f"three_mode_mixture(dim={dim},separation={separation:g})", means, None, None,
                                 {"dim": dim, "separation": separation})


@register("triangle_mixture")
def triangle_mixture(dim: int = 2, separation: float = 5.0, covariances: Sequence | None = None) -> Target:
    """The SRMC paper's triangle mixture: means (-s, 0), (s, 0), (0, s), equal weights; its mean is (0, s/3)."""
    check_int(dim, "dim", minimum=2)
    separation = _check_separation(separation)
    means = _axis_means(dim, [[-separation, 0.0], [separation, 0.0], [0.0, separation]])
    return gaussian_mixture_full(f"triangle_mixture(dim={dim},separation={separation:g})", means, covariances, None,
                                 {"dim": dim, "separation": separation})


@register("metastable_mixture")
def metastable_mixture(well_weight: float = 0.8, well_sd: float = 0.18, separation: float = 4.0) -> Target:
    """The SRMC paper's figure-1 target 0.8 N((-2, 0), 0.18^2 I) + 0.2 N((2, 0), I): narrow deep well, broad mode."""
    if not (isinstance(well_weight, (int, float, np.floating)) and 0 < well_weight < 1):
        raise ValueError(f"well_weight must lie in (0, 1), got {well_weight!r}.")
    if not (isinstance(well_sd, (int, float, np.floating)) and np.isfinite(well_sd) and well_sd > 0):
        raise ValueError(f"well_sd must be a positive finite number, got {well_sd!r}.")
    separation = _check_separation(separation)
    means = _axis_means(2, [[-separation / 2, 0.0], [separation / 2, 0.0]])
    covariances = np.stack([well_sd**2 * np.eye(2), np.eye(2)])
    return gaussian_mixture_full(
        f"metastable_mixture(well_weight={well_weight:g},well_sd={well_sd:g},separation={separation:g})", means,
        covariances, [well_weight, 1.0 - well_weight],
        {"well_weight": float(well_weight), "well_sd": float(well_sd), "separation": separation})
