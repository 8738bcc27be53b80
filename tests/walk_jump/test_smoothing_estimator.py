"""The importance-sampling estimate of the smoothed density and score against the closed forms on mixtures.

Each check averages R independent estimates (fixed keys) and compares with the closed form within 4.5 standard
errors of that average (the estimates' spread / sqrt(R)). With n draws the score's ratio bias is O(1/n) against a
standard error O(1 / sqrt(n R)): R <= n keeps the bias under the error for a consistent estimator, and a small n
with a large R exposes the bias (the last test)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.method.smoothing import exact_smoothing, importance_smoothing

Z_LIMIT = 4.5
CASES = [  # (target, point y, noise variance s)
    ("two_component_mixture", {"weights": [0.7, 0.3]}, [0.3, 0.5], 0.5),
    ("two_component_mixture", {"weights": [0.7, 0.3]}, [-1.0, 1.0], 4.0),
    ("gaussian_mixture_9", {}, [1.2, -0.4], 0.3),
    ("metastable_mixture", {}, [-1.0, 0.3], 1.0),
]


def replicate(smoothing, y, s, num_replicates, seed=0):
    keys = jax.random.split(jax.random.key(seed), num_replicates)
    values, scores = jax.jit(jax.vmap(lambda k: smoothing.value_and_score(k, jnp.asarray(y), jnp.float32(s))))(keys)
    return np.asarray(values, np.float64), np.asarray(scores, np.float64)


def z_of_mean(samples, expected):
    return (samples.mean(0) - expected) / (samples.std(0, ddof=1) / np.sqrt(len(samples)))


@pytest.mark.parametrize("form", ["noise", "gradient"])
@pytest.mark.parametrize("name,params,y,s", CASES)
def test_score_estimate_is_consistent_with_the_closed_form(name, params, y, s, form):
    target = targets.get(name, **params)
    exact_value, exact_score = exact_smoothing(target.smoothed_logdensity).value_and_score(None, jnp.asarray(y), s)
    values, scores = replicate(importance_smoothing(target.logdensity, 2048, form), y, s, 256)
    assert np.max(np.abs(z_of_mean(scores, np.asarray(exact_score)))) < Z_LIMIT
    if target.name.startswith(("two_component", "metastable")):  # normalised log densities: exp(value) is unbiased
        assert abs(z_of_mean(np.exp(values), np.exp(float(exact_value)))) < Z_LIMIT


def test_gradient_form_is_the_derivative_of_the_value_estimate_with_the_draws_held():
    target = targets.get("metastable_mixture")
    smoothing = importance_smoothing(target.logdensity, 64, "gradient")
    key, y = jax.random.key(3), jnp.asarray([0.4, -0.2])
    derivative = jax.grad(lambda point: smoothing.value_and_score(key, point, 0.7)[0])(y)
    np.testing.assert_allclose(smoothing.value_and_score(key, y, 0.7)[1], derivative, rtol=1e-4, atol=1e-5)


def test_few_draws_give_a_measurable_ratio_bias():
    """n = 4 draws at a wide proposal (s = 4 around a point between the modes): the average of 20,000 estimates
    misses the closed-form score by many standard errors. The estimator is consistent, not unbiased."""
    target = targets.get("two_component_mixture", weights=[0.7, 0.3])
    y, s = [-1.0, 1.0], 4.0
    exact_score = np.asarray(jax.grad(target.smoothed_logdensity)(jnp.asarray(y), s))
    _, scores = replicate(importance_smoothing(target.logdensity, 4, "noise"), y, s, 20_000)
    assert np.max(np.abs(z_of_mean(scores, exact_score))) > 2 * Z_LIMIT


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_num_draws_is_refused(bad):
    with pytest.raises(ValueError, match="num_draws"):
        importance_smoothing(lambda x: -jnp.sum(x**2), bad)


def test_bad_score_form_and_bad_functions_are_refused():
    with pytest.raises(ValueError, match="score_form"):
        importance_smoothing(lambda x: -jnp.sum(x**2), 8, "tweedie")
    with pytest.raises(ValueError, match="logdensity_fn"):
        importance_smoothing("not a function", 8)
    with pytest.raises(ValueError, match="smoothed_logdensity"):
        exact_smoothing(None)
