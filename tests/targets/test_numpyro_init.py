"""targets.from_numpyro: models with Stan-style flat priors (dist.ImproperUniform) and NumPyro's init strategies.

Exact checks: a flat-prior linear regression with known noise is exactly Gaussian, N(b_ols, sigma^2 (X^T X)^-1),
so its log density's gradient vanishes at the least-squares estimate and its Hessian is -X^T X / sigma^2 (a prior
slipped in, or a flat site sampled instead of initialised, changes both). Init strategies: on a model whose
posterior lies far from 0 on the unconstrained space, init_to_uniform starts every chain far from the bulk and
init_to_median every chain inside it; "inside" is measured by the log density: a posterior draw of a d-dimensional
near-Gaussian posterior lies log pi(mode) - log pi(x) ~ chi^2_d / 2 below the mode, below 10 with probability
1 - 5e-5 for d = 2.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets

numpyro = pytest.importorskip("numpyro")
import numpyro.distributions as dist  # noqa: E402
from numpyro.distributions import constraints  # noqa: E402
from numpyro.infer import init_to_median, init_to_uniform, init_to_value  # noqa: E402
from numpyro.infer.util import potential_energy  # noqa: E402

RNG = np.random.default_rng(0)
FEATURES = RNG.normal(size=(30, 3))
NOISE_SD = 0.5
Y = FEATURES @ np.array([1.0, -2.0, 0.5]) + NOISE_SD * RNG.normal(size=30)


def flat_regression(features, y=None):
    """Linear regression with a flat (improper) prior on the coefficients and a known noise sd."""
    coef = numpyro.sample("coef", dist.ImproperUniform(constraints.real, (), (features.shape[1],)))
    numpyro.sample("y", dist.Normal(features @ coef, NOISE_SD), obs=y)


def flat_ordered_scale(y=None):
    """Flat priors on an ordered pair and on a positive scale: transforms under ImproperUniform sites."""
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    scale = numpyro.sample("scale", dist.ImproperUniform(constraints.positive, (), ()))
    numpyro.sample("y", dist.Normal(mu[0] + 0.0 * mu[1], scale), obs=y)
    numpyro.sample("z", dist.Normal(mu[1], 1.0), obs=y)


def far_out(y=None):
    """A posterior far from 0 unconstrained: loc near 50, log scale near 3."""
    loc = numpyro.sample("loc", dist.Normal(50.0, 1.0))
    scale = numpyro.sample("scale", dist.LogNormal(3.0, 0.2))
    numpyro.sample("y", dist.Normal(loc, scale), obs=y)


FAR_OUT_Y = 50.0 + 20.0 * np.random.default_rng(1).normal(size=10)


def test_improper_uniform_sites_are_accepted_and_exact():
    target = targets.from_numpyro(flat_regression, FEATURES, Y)
    assert target.dim == 3
    ols = np.linalg.solve(FEATURES.T @ FEATURES, FEATURES.T @ Y)
    gradient = np.asarray(target.score(jnp.asarray(ols, jnp.float32)))
    np.testing.assert_allclose(gradient, 0.0, atol=2e-3 * np.abs(FEATURES.T @ Y).max() / NOISE_SD**2)
    hessian = np.asarray(jax.hessian(target.logdensity)(jnp.zeros(3)))
    np.testing.assert_allclose(hessian, -FEATURES.T @ FEATURES / NOISE_SD**2, rtol=1e-4)
    starts = target.initial_position(jax.random.key(0), 16)
    assert starts.shape == (16, 3) and np.all(np.abs(starts) <= 2.0)


def test_improper_uniform_with_transforms_matches_numpyro_potential():
    y = np.array([0.3, -0.2, 1.1])
    target = targets.from_numpyro(flat_ordered_scale, y)
    model = target.model
    for x in [*target.initial_position(jax.random.key(1), 3), jnp.array([0.1, -0.5, 0.7])]:
        expected = -potential_energy(model.model, model.model_args, model.model_kwargs, model.unravel(x))
        np.testing.assert_allclose(target.logdensity(x), expected, rtol=1e-5)
    sites = targets.constrain(target, target.initial_position(jax.random.key(2), 8))
    assert np.all(sites["mu"][:, 1] > sites["mu"][:, 0]) and np.all(sites["scale"] > 0)


def test_improper_uniform_posterior_is_sampled_correctly():
    """MALA after the default warm-up recovers the flat-prior posterior mean and variance (exact, closed form)
    within 4 standard errors (spread of 16 independent chains)."""
    target = targets.from_numpyro(flat_regression, FEATURES, Y)
    ols = np.linalg.solve(FEATURES.T @ FEATURES, FEATURES.T @ Y)
    variance = np.diag(np.linalg.inv(FEATURES.T @ FEATURES)) * NOISE_SD**2
    result = srmc.sample(jax.random.key(3), srmc.base(samplers.mala), target, 1000, 16, warmup=500)
    assert np.all(np.abs(result.mean - ols) < 4 * result.mcse("x")), (result.mean, ols, result.mcse("x"))
    assert np.all(np.abs(result.variance - variance) < 4 * result.variance_mcse), (result.variance, variance)


def _gap_below_mode(target, positions):
    """log pi(mode) - log pi(x) per position, the mode by Newton's method from (loc, log scale) = (50, 3)."""
    mode = jnp.array([50.0, 3.0])
    newton = jax.jit(lambda m: m - jnp.linalg.solve(jax.hessian(target.logdensity)(m), target.score(m)))
    for _ in range(50):
        mode = newton(mode)
    assert np.all(np.abs(np.asarray(target.score(mode))) < 1e-2)  # a stationary point
    return np.asarray(target.logdensity(mode) - jax.vmap(target.logdensity)(positions))


def test_init_to_median_starts_every_chain_in_the_bulk():
    uniform = targets.from_numpyro(far_out, FAR_OUT_Y)
    median = targets.from_numpyro(far_out, FAR_OUT_Y, init_strategy=init_to_median)
    median_starts = median.initial_position(jax.random.key(0), 64)
    uniform_starts = uniform.initial_position(jax.random.key(0), 64)
    assert np.all(_gap_below_mode(median, median_starts) < 10.0)  # a posterior draw: below 10 w.p. 1 - 5e-5
    assert np.all(_gap_below_mode(uniform, uniform_starts) > 100.0)  # the default: every chain far out
    assert np.unique(np.asarray(median_starts), axis=0).shape[0] == 64  # each chain its own key


def test_init_to_value_sets_the_given_sites():
    target = targets.from_numpyro(far_out, FAR_OUT_Y, init_strategy=init_to_value(values={"loc": 49.0, "scale": 20.0}))
    starts = np.asarray(target.initial_position(jax.random.key(0), 4))
    np.testing.assert_allclose(starts, np.tile([49.0, np.log(20.0)], (4, 1)), rtol=1e-6)  # loc, log scale
    partial = targets.from_numpyro(far_out, FAR_OUT_Y, init_strategy=init_to_value(values={"loc": 49.0}))
    starts = np.asarray(partial.initial_position(jax.random.key(0), 8))
    np.testing.assert_allclose(starts[:, 0], 49.0)
    assert np.all(np.abs(starts[:, 1]) <= 2.0) and np.unique(starts[:, 1]).size == 8  # the rest uniform


def test_an_init_strategy_with_options_and_improper_sites():
    target = targets.from_numpyro(flat_regression, FEATURES, Y, init_strategy=init_to_uniform(radius=0.5))
    assert np.all(np.abs(target.initial_position(jax.random.key(0), 16)) <= 0.5)
    median = targets.from_numpyro(flat_regression, FEATURES, Y, init_strategy=init_to_median)  # no prior draws:
    assert np.all(np.abs(median.initial_position(jax.random.key(0), 16)) <= 2.0)  # uniform, as NumPyro's MCMC


def test_a_bad_init_strategy_fails_early():
    with pytest.raises(TypeError, match="init_strategy must be a NumPyro init strategy"):
        targets.from_numpyro(far_out, FAR_OUT_Y, init_strategy="median")
