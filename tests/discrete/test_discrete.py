"""Discrete targets, kernels and mean-zero scores; SRMC around discrete kernels stays unbiased."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import samplers
import srmc
import targets
from srmc import testing
from targets.discrete import (
    binary_target, enumerate_configurations, exact_binary_moments, ratio_score_fn, relaxed_gradient_score,
    single_site_log_ratios,
)
from tests.srmc.test_recovery import assert_within_standard_errors

DISCRETE_KERNELS = {
    "gibbs_random": (samplers.gibbs, {"scan": "random"}),
    "gibbs_systematic": (samplers.gibbs, {"scan": "systematic"}),
    "metropolis": (samplers.discrete_metropolis, {}),
}


def random_ising(seed: int, dim: int, score: str = "bounded"):
    """A binary target with random couplings and field (complete graph), enumerable."""
    rng = np.random.default_rng(seed)
    couplings = np.triu(rng.uniform(-0.6, 0.6, (dim, dim)), 1)
    weights, field = jnp.asarray(couplings + couplings.T), jnp.asarray(rng.normal(0, 0.7, dim))

    def logdensity(x):
        spins = 2.0 * x - 1.0
        return spins @ (weights @ spins) + field @ spins

    return binary_target(f"random_ising({seed})", logdensity, dim, {}, score=score)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**20), dim=st.integers(4, 10), score=st.sampled_from(["bounded", "ratio"]))
def test_ratio_scores_are_mean_zero_by_enumeration(seed, dim, score):
    with jax.enable_x64(True):
        target = random_ising(seed, dim, score)
        probabilities, states = exact_binary_moments(target.logdensity, dim)
        scores = np.asarray(jax.vmap(target.score)(jnp.asarray(states)))
        assert np.abs(probabilities @ scores).max() < 1e-8


def test_relaxed_gradient_score_is_biased_under_a_field():
    target = targets.get("ising", side=3, field=0.1)
    probabilities, states = exact_binary_moments(target.logdensity, 9)
    relaxed = np.asarray(jax.vmap(relaxed_gradient_score(target))(jnp.asarray(states)))
    assert np.all(np.abs(probabilities @ relaxed) > 0.5)  # E_pi[grad f] = 2 (2 E[W s] + h) != 0
    unbiased = np.asarray(jax.vmap(target.score)(jnp.asarray(states)))
    assert np.abs(probabilities @ unbiased).max() < 1e-5


def test_srmc_with_the_relaxed_gradient_score_is_biased_and_the_ratio_score_is_not():
    target = targets.get("ising", side=3, field=0.1)
    starts = target.sample(jax.random.key(5), 128)
    algorithm = srmc.wrap(samplers.gibbs, alpha=srmc.schedules.linear_warmup(1.0, 500))
    relaxed = dataclasses.replace(target, score=relaxed_gradient_score(target))
    biased = srmc.sample(jax.random.key(1), algorithm, relaxed, 6000, 128, burn_in=500, initial_position=starts)
    with pytest.raises(AssertionError):
        assert_within_standard_errors(biased, target.ground_truth)
    fine = srmc.sample(jax.random.key(1), algorithm, target, 6000, 128, burn_in=500, initial_position=starts)
    assert_within_standard_errors(fine, target.ground_truth)


def test_fast_log_ratios_match_evaluation_and_bernoulli_moments():
    for target in (targets.get("ising", side=3), targets.get("bernoulli", dim=6)):
        for x in target.initial_position(jax.random.key(0), 3):
            np.testing.assert_allclose(target.params["log_ratios"](x), single_site_log_ratios(target.logdensity, x),
                                       atol=1e-5)
    bernoulli = targets.get("bernoulli", dim=6)
    draws = np.asarray(bernoulli.sample(jax.random.key(0), 100_000))
    assert np.all(np.abs(draws.mean(0) - bernoulli.ground_truth.mean) < 5 * np.sqrt(0.25 / 100_000))


@pytest.mark.parametrize("name", sorted(DISCRETE_KERNELS))
def test_discrete_kernels_leave_the_target_invariant(name):
    module, params = DISCRETE_KERNELS[name]
    target = random_ising(3, 6)
    assert testing.check_discrete_invariance(module, params, target.logdensity, 6, num_steps=2).passed


@pytest.mark.parametrize("name", ["gibbs_random", "metropolis"])
@pytest.mark.parametrize("alpha", [1.0, 10.0])
def test_discrete_kernels_leave_the_frozen_theta_surrogate_invariant(name, alpha):
    module, params = DISCRETE_KERNELS[name]
    target = random_ising(4, 6)
    theta = jnp.asarray(np.random.default_rng(0).normal(0, 0.3, 6), jnp.float32)
    surrogate = srmc.surrogate_logdensity(target, theta, alpha, "score")
    assert testing.check_discrete_invariance(module, params, surrogate, 6, num_steps=2).passed


@pytest.mark.parametrize("name", ["gibbs_random", "gibbs_systematic", "metropolis"])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 10.0])
def test_srmc_recovers_exact_marginals_of_ising_with_a_field(name, alpha):
    module, params = DISCRETE_KERNELS[name]
    target = targets.get("ising", side=3, field=0.1)
    algorithm = (srmc.base(module, **params) if alpha == 0
                 else srmc.wrap(module, alpha=srmc.schedules.linear_warmup(alpha, 1000), **params))
    num_steps = 1000 if params.get("scan") == "systematic" else 8000
    result = srmc.sample(jax.random.key(1), algorithm, target, num_steps, 128, burn_in=1000,
                         initial_position=target.sample(jax.random.key(5), 128))
    assert_within_standard_errors(result, target.ground_truth)


def test_alpha_zero_identity_for_discrete_kernels():
    target = targets.get("ising", side=3)
    for module, params in DISCRETE_KERNELS.values():
        key = jax.random.key(2)
        plain = srmc.sample(key, srmc.base(module, **params), target, 30, 3, thin=1)
        wrapped = srmc.sample(key, srmc.wrap(module, alpha=0.0, **params), target, 30, 3, thin=1)
        np.testing.assert_array_equal(plain.draws, wrapped.draws)


def test_discrete_input_errors():
    target = targets.get("ising", side=2)
    with pytest.raises(ValueError, match="must hold integers"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.gibbs), target, 10, 1, initial_position=jnp.zeros(4))
    with pytest.raises(ValueError, match="values must lie in 0..1"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.gibbs), target, 10, 1,
                    initial_position=jnp.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="score kind"):
        ratio_score_fn(lambda x: x, "log")
    assert enumerate_configurations(3).shape == (8, 3)
