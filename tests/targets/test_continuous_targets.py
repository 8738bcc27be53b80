"""Checks for the continuous target families: mixtures, funnel, banana and the logistic regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets

EXACT = ["gaussian_mixture_25", "gaussian_mixture_9", "funnel", "banana"]
ALL = EXACT + ["logistic_breast_cancer"]
NUM_DRAWS = 200_000
Z_MAX = 5.0


def _build(name):
    if name == "logistic_breast_cancer":
        pytest.importorskip("sklearn")
    return targets.get(name)


def test_registry_lists_the_continuous_families():
    listed = targets.names()
    for name in ALL:
        assert name in listed
        assert targets.describe(name), f"{name} needs a one-line docstring"


@pytest.mark.parametrize("name", ALL)
def test_logdensity_and_score_at_initial_positions(name):
    target = _build(name)
    assert target.kind == "continuous"
    positions = target.initial_position(jax.random.PRNGKey(0), 16)
    assert positions.shape == (16, target.dim)
    assert target.logdensity(positions[0]).shape == ()
    values, scores = jax.vmap(target.value_and_score)(positions)
    assert values.shape == (16,) and bool(jnp.all(jnp.isfinite(values)))
    assert scores.shape == (16, target.dim) and bool(jnp.all(jnp.isfinite(scores)))
    assert target.score(positions[0]).shape == (target.dim,)


@pytest.mark.parametrize("name", EXACT)
def test_exact_sampler_matches_ground_truth(name):
    target = _build(name)
    truth = target.ground_truth
    assert truth is not None and truth.exact
    assert truth.mean.shape == truth.variance.shape == (target.dim,)
    draws = np.asarray(target.sample(jax.random.PRNGKey(1), NUM_DRAWS), np.float64)
    assert draws.shape == (NUM_DRAWS, target.dim) and np.all(np.isfinite(draws))
    mean = draws.mean(axis=0)
    centred = draws - mean
    variance = (centred**2).mean(axis=0)
    fourth = (centred**4).mean(axis=0)
    if name == "funnel":
        # x_i = exp(x0 / 2) z has E x_i^4 = 3 E exp(2 x0) = 3 exp(2 scale^2): the sample fourth moment of such a
        # heavy tail is badly underestimated at any feasible size, so use the exact one (sharp check below).
        scale = target.params["scale"]
        fourth = np.full(target.dim, 3.0 * np.exp(2.0 * scale**2))
        fourth[0] = 3.0 * scale**4
    mean_z = (mean - truth.mean) / np.sqrt(truth.variance / NUM_DRAWS)
    variance_z = (variance - truth.variance) / np.sqrt((fourth - variance**2) / NUM_DRAWS)
    assert np.all(np.abs(mean_z) < Z_MAX), mean_z
    assert np.all(np.abs(variance_z) < Z_MAX), variance_z


def test_funnel_sampler_conditional_structure():
    """x0 ~ N(0, scale^2) and x_i exp(-x0 / 2) ~ N(0, 1) independently of x0: moments with light tails."""
    target = targets.get("funnel", dim=6)
    draws = np.asarray(target.sample(jax.random.PRNGKey(3), NUM_DRAWS), np.float64)
    x0 = draws[:, 0] / target.params["scale"]
    standardised = draws[:, 1:] * np.exp(-0.5 * draws[:, :1])
    for z in (x0[:, None], standardised):
        se_mean, se_var = np.sqrt(1.0 / NUM_DRAWS), np.sqrt(2.0 / NUM_DRAWS)
        assert np.all(np.abs(z.mean(axis=0)) < Z_MAX * se_mean)
        assert np.all(np.abs(z.var(axis=0) - 1.0) < Z_MAX * se_var)
    correlation = np.corrcoef(np.abs(standardised[:, 0]), x0)[0, 1]
    assert abs(correlation) < Z_MAX / np.sqrt(NUM_DRAWS)


def test_exact_sampler_log_density_is_consistent():
    """The sampler and the log density describe the same banana: log p(x) - log p(x') matches the generative form."""
    target = targets.get("banana", dim=3, sigma1=1.5, b=0.7, sigma2=0.5)
    x = target.sample(jax.random.PRNGKey(2), 4)
    p = target.params
    direct = (
        -0.5 * (x[:, 0] / p["sigma1"]) ** 2
        - 0.5 * ((x[:, 1] - p["b"] * (x[:, 0] ** 2 - p["sigma1"] ** 2)) / p["sigma2"]) ** 2
        - 0.5 * x[:, 2] ** 2
    )
    np.testing.assert_allclose(jax.vmap(target.logdensity)(x), direct, rtol=1e-5, atol=1e-5)


def test_mixture_exposes_means_and_weights():
    for name, count, spacing in (("gaussian_mixture_25", 25, 2.0), ("gaussian_mixture_9", 9, 3.0)):
        target = targets.get(name)
        means, weights = target.mixture.means, target.mixture.weights
        assert means.shape == (count, 2) and weights.shape == (count,)
        np.testing.assert_allclose(weights.sum(), 1.0)
        assert np.allclose(np.diff(np.unique(means[:, 0])), spacing)
        # the density peaks at every mean
        values = jax.vmap(target.logdensity)(jnp.asarray(means))
        assert np.allclose(values, values[0], atol=1e-4)
    assert targets.get("gaussian_mixture_25", variance=0.5).mixture.variance == 0.5


def test_funnel_and_banana_stated_moments():
    funnel = targets.get("funnel", dim=5)
    np.testing.assert_allclose(funnel.ground_truth.variance, [9.0] + [np.exp(4.5)] * 4)
    banana = targets.get("banana", sigma1=2.0, b=0.5, sigma2=1.0)
    np.testing.assert_allclose(banana.ground_truth.variance, [4.0, 2 * 0.25 * 16 + 1.0])


@pytest.mark.parametrize(
    "name, params, word",
    [
        ("gaussian_mixture_25", {"variance": 0.0}, "variance"),
        ("gaussian_mixture_9", {"variance": -1.0}, "variance"),
        ("gaussian_mixture_9", {"variance": float("nan")}, "variance"),
        ("funnel", {"dim": 1}, "dim"),
        ("funnel", {"dim": 2.5}, "dim"),
        ("funnel", {"scale": 0.0}, "scale"),
        ("banana", {"dim": 1}, "dim"),
        ("banana", {"sigma1": -1.0}, "sigma1"),
        ("banana", {"sigma2": 0.0}, "sigma2"),
        ("banana", {"b": float("inf")}, "b"),
        ("logistic_breast_cancer", {"prior_scale": 0.0}, "prior_scale"),
    ],
)
def test_bad_parameters_raise(name, params, word):
    with pytest.raises(ValueError, match=word):
        targets.get(name, **params)


def test_generic_mixture_validates_weights():
    from srmc.targets.mixture import gaussian_mixture

    with pytest.raises(ValueError, match="weights"):
        gaussian_mixture("m", np.zeros((2, 2)), 1.0, weights=[0.7, 0.7])
    target = gaussian_mixture("m", [[0.0, 0.0], [4.0, 0.0]], 1.0, weights=[0.25, 0.75])
    np.testing.assert_allclose(target.ground_truth.mean, [3.0, 0.0])
    np.testing.assert_allclose(target.ground_truth.variance, [1.0 + 0.25 * 9 + 0.75 * 1, 1.0])


def test_logistic_reference_loads_and_is_plausible():
    pytest.importorskip("sklearn")
    target = targets.get("logistic_breast_cancer")
    assert target.dim == 31 and target.sample is None
    truth = target.ground_truth
    assert truth is not None and not truth.exact and truth.note
    for field in (truth.mean, truth.variance, truth.mean_stderr, truth.variance_stderr):
        assert field.shape == (target.dim,) and np.all(np.isfinite(field))
    assert np.all(truth.variance > 0) and np.all(truth.mean_stderr > 0) and np.all(truth.variance_stderr > 0)
    at_mean = target.logdensity(jnp.asarray(truth.mean, jnp.float32))
    at_zero = target.logdensity(jnp.zeros(target.dim))
    assert float(at_mean) > float(at_zero)
    # a reference made for another prior is not reused
    assert targets.get("logistic_breast_cancer", prior_scale=2.0).ground_truth is None
