"""Neal's funnel: a scale parameter x0 and coordinates whose variance is exp(x0). All moments are exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Target, check_int, exact_target, register


@register("funnel")
def funnel(dim: int = 10, scale: float = 3.0) -> Target:
    """Neal's funnel: x0 ~ N(0, scale^2), x_i | x0 ~ N(0, exp(x0)) for i = 1..dim-1."""
    check_int(dim, "dim", minimum=2)
    if not isinstance(scale, (int, float, np.floating, np.integer)) or not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}.")
    dim = int(dim)
    scale = float(scale)

    def logdensity(x: jax.Array) -> jax.Array:
        x0, rest = x[0], x[1:]
        # log N(x0; 0, scale^2) + sum_i log N(x_i; 0, exp(x0)), constants dropped
        return -0.5 * (x0 / scale) ** 2 - 0.5 * (dim - 1) * x0 - 0.5 * jnp.sum(rest**2) * jnp.exp(-x0)

    def sample(rng_key: jax.Array, num: int) -> jax.Array:
        key0, key_rest = jax.random.split(rng_key)
        x0 = scale * jax.random.normal(key0, (num, 1))
        rest = jnp.exp(0.5 * x0) * jax.random.normal(key_rest, (num, dim - 1))
        return jnp.concatenate([x0, rest], axis=1)

    variance = np.full(dim, np.exp(scale**2 / 2.0))  # E[exp(x0)] for x0 ~ N(0, scale^2)
    variance[0] = scale**2
    return exact_target(f"funnel(dim={dim})", logdensity, sample, np.zeros(dim), variance, {"dim": dim, "scale": scale})
