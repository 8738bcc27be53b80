"""Equal-weight mixtures of isotropic 2-D Gaussians on a grid of means. All moments are exact."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import MixtureForm, Target, exact_target, register


def mixture_logdensity(locs: jax.Array, log_weights: jax.Array, variance: jax.Array, x: jax.Array) -> jax.Array:
    """log sum_k w_k N(x; locs[k], variance I) up to a constant."""
    return jax.nn.logsumexp(log_weights - 0.5 * jnp.sum((x - locs) ** 2, axis=-1) / variance)


def mixture_sample(locs: jax.Array, log_weights: jax.Array, variance: jax.Array, rng_key: jax.Array,
                   num: int) -> jax.Array:
    """`num` exact draws: a component by weight, then its Gaussian."""
    key_component, key_noise = jax.random.split(rng_key)
    component = jax.random.categorical(key_component, log_weights, shape=(num,))
    return locs[component] + jnp.sqrt(variance) * jax.random.normal(key_noise, (num, locs.shape[1]))


def gaussian_mixture(name: str, means: np.ndarray, variance: float, weights: np.ndarray | None = None) -> Target:
    """Mixture sum_k w_k N(means[k], variance I) as a `Target` with exact moments and an exact sampler.

    Its log density and sampler are `jax.tree_util.Partial`s (see `targets.gaussian.gaussian`).
    """
    means = np.asarray(means, np.float64)
    if means.ndim != 2 or means.shape[0] < 1:
        raise ValueError(f"means must have shape (num_components, dim), got {means.shape}.")
    num_components, dim = means.shape
    if not (np.isfinite(variance) and variance > 0):
        raise ValueError(f"variance must be a positive finite number, got {variance!r}.")
    if weights is None:
        weights = np.full(num_components, 1.0 / num_components)
    weights = np.asarray(weights, np.float64)
    if weights.shape != (num_components,) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be {num_components} non-negative numbers summing to 1, got {weights}.")

    mean = weights @ means
    variance_per_coordinate = variance + weights @ (means - mean) ** 2
    locs = jnp.asarray(means)
    log_weights = jnp.log(jnp.asarray(weights))
    low, high = jnp.asarray(means.min(axis=0)), jnp.asarray(means.max(axis=0))

    leaves = (locs, log_weights, jnp.asarray(float(variance)))
    logdensity, sample = Partial(mixture_logdensity, *leaves), Partial(mixture_sample, *leaves)

    def initial_position(rng_key: jax.Array, num: int) -> jax.Array:
        """Uniform over the bounding box of the means."""
        return jax.random.uniform(rng_key, (num, dim), minval=low, maxval=high)

    params = {"num_components": num_components, "variance": float(variance)}
    return exact_target(name, logdensity, sample, mean, variance_per_coordinate, params,
                        initial_position=initial_position, mixture=MixtureForm(means, weights, float(variance)))


def _grid_means(points: list[float]) -> np.ndarray:
    return np.array(list(itertools.product(points, points)), np.float64)


def _check_variance(variance: float) -> None:
    if not isinstance(variance, (int, float, np.floating, np.integer)) or not (np.isfinite(variance) and variance > 0):
        raise ValueError(f"variance must be a positive finite number, got {variance!r}.")


@register("gaussian_mixture_25")
def gaussian_mixture_25(variance: float = 0.03) -> Target:
    """2-D mixture of 25 equal-weight isotropic Gaussians on the grid {-4,-2,0,2,4}^2."""
    _check_variance(variance)
    return gaussian_mixture(
        f"gaussian_mixture_25(variance={variance})", _grid_means([-4.0, -2.0, 0.0, 2.0, 4.0]), variance
    )


@register("gaussian_mixture_9")
def gaussian_mixture_9(variance: float = 0.1) -> Target:
    """2-D mixture of 9 equal-weight isotropic Gaussians on the grid {-3,0,3}^2."""
    _check_variance(variance)
    return gaussian_mixture(f"gaussian_mixture_9(variance={variance})", _grid_means([-3.0, 0.0, 3.0]), variance)
