"""Rosenbrock-type banana: x2 depends quadratically on x1; extra coordinates are N(0, 1). All moments are exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Target, check_int, exact_target, register


@register("banana")
def banana(dim: int = 2, sigma1: float = 1.0, b: float = 0.5, sigma2: float = 1.0) -> Target:
    """Banana: x1 ~ N(0, sigma1^2), x2 | x1 ~ N(b (x1^2 - sigma1^2), sigma2^2), other coordinates N(0, 1)."""
    check_int(dim, "dim", minimum=2)
    for label, value in (("sigma1", sigma1), ("sigma2", sigma2)):
        if not isinstance(value, (int, float, np.floating, np.integer)) or not (np.isfinite(value) and value > 0):
            raise ValueError(f"{label} must be a positive finite number, got {value!r}.")
    if not isinstance(b, (int, float, np.floating, np.integer)) or not np.isfinite(b):
        raise ValueError(f"b must be a finite number, got {b!r}.")
    dim, sigma1, b, sigma2 = int(dim), float(sigma1), float(b), float(sigma2)
    shift = b * sigma1**2

    def logdensity(x: jax.Array) -> jax.Array:
        x1, x2 = x[0], x[1]
        return (
            -0.5 * (x1 / sigma1) ** 2
            - 0.5 * ((x2 - b * x1**2 + shift) / sigma2) ** 2
            - 0.5 * jnp.sum(x[2:] ** 2)
        )

    def sample(rng_key: jax.Array, num: int) -> jax.Array:
        z = jax.random.normal(rng_key, (num, dim))
        x1 = sigma1 * z[:, 0]
        x2 = b * x1**2 - shift + sigma2 * z[:, 1]
        return z.at[:, 0].set(x1).at[:, 1].set(x2)

    variance = np.ones(dim)
    variance[0] = sigma1**2
    variance[1] = 2.0 * b**2 * sigma1**4 + sigma2**2
    name = f"banana(dim={dim},sigma1={sigma1},b={b},sigma2={sigma2})"
    params = {"dim": dim, "sigma1": sigma1, "b": b, "sigma2": sigma2}
    return exact_target(name, logdensity, sample, np.zeros(dim), variance, params)
