"""Shared checks of the tilts: central differences of a surrogate, exact draws of a tilted product of normals."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

GRID = np.linspace(-12, 12, 48001)


def product_sampler(log_tilts: Sequence[Callable[[np.ndarray], np.ndarray]]) -> Callable:
    """Sampler `(key, n) -> (n, d)` of prod_i N(0, 1)(x_i) exp(log_tilts[i](x_i)), by inverse CDF on a fine grid."""
    cdfs = []
    for log_tilt in log_tilts:
        log_density = -0.5 * GRID**2 + log_tilt(GRID)
        cdf = np.cumsum(np.exp(log_density - log_density.max()))
        cdfs.append(cdf / cdf[-1])

    def sample(key, n):
        u = np.asarray(jax.random.uniform(key, (n, len(cdfs))), np.float64)
        return jnp.asarray(np.stack([np.interp(u[:, i], cdf, GRID) for i, cdf in enumerate(cdfs)], axis=1),
                           jnp.float32)

    return sample


def assert_gradient_matches_differences(function: Callable, x, step: float = 1e-3) -> None:
    """jax.grad(function)(x) agrees with central differences (a wrong custom gradient fails this)."""
    numeric = [(function(x + step * e) - function(x - step * e)) / (2 * step) for e in jnp.eye(x.shape[0])]
    np.testing.assert_allclose(jax.grad(function)(x), numeric, rtol=2e-3, atol=2e-3)
