"""Runner: determinism, chunk-size and jit invariance, thinning, estimator bookkeeping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import srmc
import targets


@pytest.fixture(scope="module")
def target():
    return targets.get("correlated_gaussian", dim=5, rho=0.5)


@pytest.fixture(scope="module")
def algorithm():
    return srmc.wrap(samplers.mala, alpha=2.0, step_size=0.2)


def _assert_same(a, b):
    for name in a.chain_estimates:
        np.testing.assert_array_equal(a.chain_estimates[name], b.chain_estimates[name])
    np.testing.assert_array_equal(a.acceptance_rate, b.acceptance_rate)
    jax.tree.map(np.testing.assert_array_equal, a.final_state, b.final_state)
    if a.draws is not None:
        np.testing.assert_array_equal(a.draws, b.draws)
        np.testing.assert_array_equal(a.theta_norm, b.theta_norm)


def test_same_key_same_result_for_any_chunk_size(target, algorithm):
    key = jax.random.key(3)
    runs = [
        srmc.sample(key, algorithm, target, num_steps=60, num_chains=4, burn_in=7, thin=3, chunk_size=size)
        for size in (6, 60, 9)
    ]
    _assert_same(runs[0], runs[1])
    _assert_same(runs[0], runs[2])
    assert runs[0].draws.shape == (4, 20, 5)


def test_different_keys_differ(target, algorithm):
    a = srmc.sample(jax.random.key(0), algorithm, target, num_steps=20, num_chains=2)
    b = srmc.sample(jax.random.key(1), algorithm, target, num_steps=20, num_chains=2)
    assert not np.array_equal(a.mean, b.mean)


def test_jit_and_eager_agree(target, algorithm):
    key = jax.random.key(5)
    compiled = srmc.sample(key, algorithm, target, num_steps=8, num_chains=2, thin=2)
    with jax.disable_jit():
        eager = srmc.sample(key, algorithm, target, num_steps=8, num_chains=2, thin=2)
    np.testing.assert_allclose(compiled.draws, eager.draws, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compiled.mean, eager.mean, rtol=1e-5, atol=1e-6)


def test_running_means_match_stored_draws(target, algorithm):
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps=50, num_chains=3, burn_in=5, thin=1)
    np.testing.assert_allclose(result.chain_estimates["x"], result.draws.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.chain_estimates["x^2"], (result.draws**2).mean(axis=1), rtol=1e-4, atol=1e-5)
    assert result.theta_norm.shape == (3, 50)


def test_custom_functions_and_summary(target, algorithm):
    functions = {"x": lambda x: x, "x^2": lambda x: x**2, "norm": lambda x: jnp.linalg.norm(x)}
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps=40, num_chains=4, thin=2, functions=functions)
    assert result.estimates["norm"].shape == ()
    assert result.chain_estimates["norm"].shape == (4,)
    table = result.summary(max_rows=2, truth=target.ground_truth.mean)
    assert "ess" in table and "r_hat" in table and "truth" in table and "3 more" in table


def test_bare_logdensity_and_base_algorithm():
    logdensity = lambda x: -0.5 * jnp.sum(x**2)
    result = srmc.sample(
        jax.random.key(0), srmc.base(samplers.mala, step_size=0.5), logdensity, 100, 2, initial_position=jnp.zeros(3)
    )
    assert result.mean.shape == (3,)
    assert result.theta_norm is None and result.draws is None
    assert 0.0 < result.acceptance_rate.mean() <= 1.0
