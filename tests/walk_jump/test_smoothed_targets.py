"""Targets' Gaussian-smoothed log densities log p_s(y) = log ∫ pi(x) N(y; x, s I) dx against independent
computations: numpy's closed form (slogdet, solve), grid quadrature and Monte Carlo over exact draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srmc import targets
from srmc.testing.strategies import gaussian_targets, mixture_target

SMOOTHED_REGISTRY = [
    ("iid_gaussian", {"dim": 3}), ("correlated_gaussian", {"dim": 4}), ("ill_conditioned_gaussian", {"dim": 3}),
    ("gaussian_mixture_9", {}), ("gaussian_mixture_25", {}), ("two_component_mixture", {}),
    ("two_component_mixture", {"weights": [0.7, 0.3]}), ("three_mode_mixture", {}), ("triangle_mixture", {}),
    ("metastable_mixture", {}),
]


def numpy_mixture_logpdf(y, means, covariances, weights, s):
    """log sum_k w_k N(y; mu_k, Sigma_k + s I), by numpy's slogdet and solve (independent of targets.smoothed)."""
    terms = []
    for mean, cov, weight in zip(means, covariances, weights):
        total = cov + s * np.eye(len(y))
        _, logdet = np.linalg.slogdet(total)
        diff = y - mean
        terms.append(np.log(weight) - 0.5 * (diff @ np.linalg.solve(total, diff) + logdet + len(y) * np.log(2 * np.pi)))
    return np.logaddexp.reduce(terms)


@pytest.mark.parametrize("name,params", SMOOTHED_REGISTRY)
def test_registry_gaussians_and_mixtures_declare_their_smoothing(name, params):
    target = targets.get(name, **params)
    assert target.smoothed_logdensity is not None
    if target.gaussian is not None:
        means, covs, weights = target.gaussian.mean[None], target.gaussian.cov[None], np.ones(1)
    else:
        means, covs, weights = (target.params[key] for key in ("means", "covariances", "weights")) \
            if "covariances" in target.params else (
                target.mixture.means, np.stack([target.mixture.variance * np.eye(target.dim)] * len(
                    target.mixture.weights)), target.mixture.weights)
    rng = np.random.default_rng(0)
    for s in (0.0, 0.1, 2.0):
        for y in rng.normal(size=(3, target.dim)) * 2:
            expected = numpy_mixture_logpdf(y, means, covs, weights, s)
            got = float(target.smoothed_logdensity(jnp.asarray(y, jnp.float32), s))
            assert got == pytest.approx(expected, rel=1e-5, abs=1e-4)  # float32 rounding of a log density


def test_targets_without_a_closed_form_declare_none():
    assert targets.get("funnel").smoothed_logdensity is None
    assert targets.get("banana").smoothed_logdensity is None
    assert targets.from_logdensity(lambda x: -jnp.sum(x**2), 2).smoothed_logdensity is None


@settings(max_examples=15, deadline=None)
@given(gaussian_targets(dim=3), st.floats(0.0, 5.0))
def test_random_gaussians_smooth_to_cov_plus_s(target, s):
    y = np.linspace(-1.0, 2.0, 3)
    expected = numpy_mixture_logpdf(y, target.gaussian.mean[None], target.gaussian.cov[None], [1.0], s)
    assert float(target.smoothed_logdensity(jnp.asarray(y, jnp.float32), s)) == pytest.approx(expected, rel=1e-4,
                                                                                               abs=1e-3)


def test_smoothing_at_zero_is_the_normalised_density_and_matches_quadrature():
    """2-D metastable mixture (unequal component sizes): p_s(y) by a 801^2 grid quadrature of pi(x) N(y; x, s I).

    The grid (step 0.025 over [-10, 10]^2) resolves the narrowest component (sd 0.18) well: the trapezoid error is
    far below the 1e-4 relative tolerance.
    """
    target = targets.get("metastable_mixture")
    grid = np.linspace(-10, 10, 801)
    step = grid[1] - grid[0]
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    density = np.exp(np.asarray(jax.vmap(target.logdensity)(jnp.asarray(points, jnp.float32)), np.float64))
    assert density.sum() * step**2 == pytest.approx(1.0, rel=1e-4)  # pi is normalised
    for s in (0.05, 0.5, 3.0):
        for y in ([-2.0, 0.0], [0.5, 1.0], [3.0, -1.5]):
            kernel = np.exp(-np.sum((points - y) ** 2, axis=1) / (2 * s)) / (2 * np.pi * s)
            quadrature = np.sum(density * kernel) * step**2
            assert float(jnp.exp(target.smoothed_logdensity(jnp.asarray(y), s))) == pytest.approx(quadrature, rel=1e-4)
    y = jnp.asarray([-1.9, 0.1])
    assert float(target.smoothed_logdensity(y, 0.0)) == pytest.approx(float(target.logdensity(y)), abs=1e-5)


def test_smoothed_density_matches_monte_carlo_over_exact_draws():
    """p_s(y) = E_{X ~ pi}[N(y; X, s I)]: 200,000 exact draws of a 5-d correlated Gaussian and of an unequal-weight
    isotropic mixture; the Monte Carlo mean is within 4.5 standard errors (its spread / sqrt(n))."""
    cases = [targets.get("correlated_gaussian", dim=5, rho=0.6),
             mixture_target("mix", np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]]), 0.4, np.array([0.5, 0.3, 0.2]))]
    for index, target in enumerate(cases):
        draws = np.asarray(target.sample(jax.random.key(index), 200_000), np.float64)
        for s in (0.3, 2.0):
            y = np.full(target.dim, 0.5)
            kernel = np.exp(-np.sum((draws - y) ** 2, axis=1) / (2 * s)) / (2 * np.pi * s) ** (target.dim / 2)
            z = (kernel.mean() - float(jnp.exp(target.smoothed_logdensity(jnp.asarray(y, jnp.float32), s)))) / (
                kernel.std() / np.sqrt(len(kernel)))
            assert abs(z) < 4.5, (target.name, s, z)
