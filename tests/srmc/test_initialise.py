"""srmc.method.initialise.quick_start: chains started far out are brought into the bulk, and nothing else changes.

"In the bulk" is measured by the log density: on a near-Gaussian d-dimensional posterior a draw lies
log pi(mode) - log pi(x) ~ chi^2_d / 2 below the mode; for d = 6 that is below 12 with probability 1 - 1e-3.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.method.initialise import quick_start

numpyro = pytest.importorskip("numpyro")
import numpyro.distributions as dist  # noqa: E402

RNG = np.random.default_rng(5)
COVARIATES = RNG.normal(size=(80, 5))
COUNTS = RNG.poisson(np.exp(3.0 + COVARIATES @ np.array([0.5, -0.3, 0.2, 0.0, 0.4])))


def poisson_glm(covariates, counts=None):
    """Poisson regression whose intercept (about 3) lies outside NumPyro's U(-2, 2) starts: huge gradients."""
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 5.0))
    coef = numpyro.sample("coef", dist.Normal(0.0, 1.0).expand([covariates.shape[1]]))
    numpyro.sample("obs", dist.Poisson(jnp.exp(intercept + covariates @ coef)), obs=counts)


@pytest.fixture(scope="module")
def target():
    return targets.from_numpyro(poisson_glm, COVARIATES, COUNTS)


def gap_below_mode(target, positions):
    """log pi(mode) - log pi(x); the mode by Newton's method from coef = 0, intercept = log mean count (the flat
    vector is [coef, intercept]: sites sorted by name)."""
    mode = jnp.concatenate([jnp.zeros(5), jnp.log(jnp.asarray([COUNTS.mean()]))]).astype(jnp.float32)
    newton = jax.jit(lambda m: m - jnp.linalg.solve(jax.hessian(target.logdensity)(m), target.score(m)))
    for _ in range(50):
        mode = newton(mode)
    return np.asarray(target.logdensity(mode) - jax.vmap(target.logdensity)(positions))


def test_quick_start_moves_every_chain_into_the_bulk(target):
    starts = target.initial_position(jax.random.key(0), 32)
    assert np.min(gap_below_mode(target, starts)) > 1e3  # every chain starts far out
    moved = jax.jit(quick_start, static_argnums=(1, 3))(jax.random.key(1), target, starts, 300)
    gaps = gap_below_mode(target, moved)
    assert np.all(gaps < 12.0), gaps  # a posterior draw: below 12 w.p. 1 - 1e-3 (d = 6)
    assert np.unique(np.asarray(moved), axis=0).shape[0] == 32  # chains are not merged into one point


def test_quick_start_never_steps_into_non_finite_values():
    def logdensity(x):  # finite only inside the unit ball, its mode on the boundary's inside
        return jnp.where(jnp.sum(x**2) < 1.0, x[0], -jnp.inf)

    moved = quick_start(jax.random.key(0), logdensity, jnp.zeros((4, 2)), 200, learning_rate=0.3)
    assert np.all(np.sum(np.asarray(moved) ** 2, axis=1) < 1.0) and np.all(moved[:, 0] > 0.5)


def test_zero_steps_and_bad_input():
    positions = jnp.ones((3, 2))
    np.testing.assert_array_equal(quick_start(jax.random.key(0), lambda x: -jnp.sum(x**2), positions, 0), positions)
    with pytest.raises(ValueError, match="positions must be"):
        quick_start(jax.random.key(0), lambda x: -jnp.sum(x**2), jnp.ones(2), 5)
    with pytest.raises(ValueError, match="num_steps"):
        quick_start(jax.random.key(0), lambda x: -jnp.sum(x**2), positions, -1)
    with pytest.raises(ValueError, match="learning_rate"):
        quick_start(jax.random.key(0), lambda x: -jnp.sum(x**2), positions, 5, learning_rate=0.0)
