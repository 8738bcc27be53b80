"""Runner: determinism, chunk-size and jit invariance, thinning, estimator bookkeeping, batch means."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets


@pytest.fixture(scope="module")
def target():
    return targets.get("correlated_gaussian", dim=5, rho=0.5)


@pytest.fixture(scope="module")
def algorithm():
    return srmc.wrap(samplers.mala, tilt="score", alpha=2.0, step_size=0.2)


def _assert_same(a, b):
    for name in a.chain_estimates:
        np.testing.assert_array_equal(a.chain_estimates[name], b.chain_estimates[name])
        np.testing.assert_array_equal(a.batch_means[name], b.batch_means[name])
    assert a.batch_length == b.batch_length
    np.testing.assert_array_equal(a.acceptance_rate, b.acceptance_rate)
    jax.tree.map(np.testing.assert_array_equal, a.final_state, b.final_state)
    if a.draws is not None:
        np.testing.assert_array_equal(a.draws, b.draws)
        np.testing.assert_array_equal(a.draw_stats.get("theta_norm"), b.draw_stats.get("theta_norm"))


def test_same_key_same_result_for_any_chunk_size(target, algorithm):
    key = jax.random.key(3)
    runs = [
        srmc.sample(key, algorithm, target, num_steps=60, num_chains=4, options=srmc.RunOptions(burn_in=7, thin=3, chunk_size=size), warmup=0)
        for size in (6, 60, 9)
    ]
    _assert_same(runs[0], runs[1])
    _assert_same(runs[0], runs[2])
    assert runs[0].draws.shape == (4, 20, 5)


def test_different_keys_differ(target, algorithm):
    a = srmc.sample(jax.random.key(0), algorithm, target, num_steps=20, num_chains=2, warmup=0)
    b = srmc.sample(jax.random.key(1), algorithm, target, num_steps=20, num_chains=2, warmup=0)
    assert not np.array_equal(a.mean, b.mean)


def test_jit_and_eager_agree(target, algorithm):
    key = jax.random.key(5)
    compiled = srmc.sample(key, algorithm, target, num_steps=8, num_chains=2, options=srmc.RunOptions(thin=2), warmup=0)
    with jax.disable_jit():
        eager = srmc.sample(key, algorithm, target, num_steps=8, num_chains=2, options=srmc.RunOptions(thin=2), warmup=0)
    np.testing.assert_allclose(compiled.draws, eager.draws, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compiled.mean, eager.mean, rtol=1e-5, atol=1e-6)


def test_running_means_match_stored_draws(target, algorithm):
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps=50, num_chains=3, options=srmc.RunOptions(burn_in=5, thin=1), warmup=0)
    np.testing.assert_allclose(result.chain_estimates["x"], result.draws.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.chain_estimates["x^2"], (result.draws**2).mean(axis=1), rtol=1e-4, atol=1e-5)
    assert result.draw_stats.get("theta_norm").shape == (3, 50)


def test_custom_functions_and_summary(target, algorithm):
    functions = {"x": lambda x: x, "x^2": lambda x: x**2, "norm": lambda x: jnp.linalg.norm(x)}
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps=40, num_chains=4, functions=functions, options=srmc.RunOptions(thin=2), warmup=0)
    assert result.estimates["norm"].shape == ()
    assert result.chain_estimates["norm"].shape == (4,)
    table = result.summary(max_rows=2, truth=target.ground_truth.mean)
    assert "ess" in table and "r_hat" in table and "truth" in table and "3 more" in table


def test_bare_logdensity_and_base_algorithm():
    logdensity = lambda x: -0.5 * jnp.sum(x**2)
    result = srmc.sample(
        jax.random.key(0), srmc.base(samplers.mala, step_size=0.5), logdensity, 100, 2, initial_position=jnp.zeros(3), warmup=0
    )
    assert result.mean.shape == (3,)
    assert result.draw_stats.get("theta_norm") is None and result.draws is None
    assert 0.0 < result.acceptance_rate.mean() <= 1.0


def test_snapshots_are_the_running_means_at_those_steps(target, algorithm):
    key = jax.random.key(4)
    result = srmc.sample(key, algorithm, target, num_steps=30, num_chains=3, options=srmc.RunOptions(burn_in=4, thin=1, chunk_size=7, snapshot_steps=[30, 1, 10]), warmup=0)
    np.testing.assert_array_equal(result.snapshot_steps, [1, 10, 30])
    assert result.snapshots["x"].shape == (3, 3, 5)
    for index, step in enumerate(result.snapshot_steps):
        np.testing.assert_allclose(result.snapshots["x"][index], result.draws[:, :step].mean(axis=1), rtol=1e-4,
                                   atol=1e-5)
    np.testing.assert_array_equal(result.snapshots["x^2"][-1], result.chain_estimates["x^2"])
    with pytest.raises(ValueError, match="snapshot_steps must lie in 1..num_steps=30"):
        srmc.sample(key, algorithm, target, num_steps=30, options=srmc.RunOptions(snapshot_steps=[31]), warmup=0)


@pytest.fixture(scope="module")
def long_base_run():
    """64 MALA chains x 2000 steps from exact draws (no burn-in needed), every position stored."""
    target = targets.get("iid_gaussian", dim=4)
    return srmc.sample(jax.random.key(7), srmc.base(samplers.mala, step_size=1.0), target, num_steps=2000,
                       num_chains=64, options=srmc.RunOptions(thin=1, chunk_size=2000), warmup=0)


def test_batch_means_are_the_means_of_consecutive_batches(long_base_run):
    """64 slots over 2000 steps: batches of ceil(2000 / 64) = 32 steps, 62 complete (the last 16 steps partial)."""
    result = long_base_run
    length, (num_chains, num_complete, dim) = result.batch_length, result.batch_means["x"].shape
    assert (length, num_complete) == (32, 62)
    blocks = result.draws[:, : num_complete * length].reshape(num_chains, num_complete, length, dim)
    np.testing.assert_allclose(result.batch_means["x"], blocks.mean(axis=2), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.batch_means["x^2"], (blocks**2).mean(axis=2), rtol=1e-4, atol=1e-5)
    expected = np.sqrt(length * blocks.mean(axis=2).var(axis=1, ddof=1) / result.num_steps)
    np.testing.assert_allclose(result.batch_means_mcse("x", per_chain=True), expected, rtol=1e-3)
    np.testing.assert_allclose(result.batch_means_mcse("x"), np.sqrt(np.sum(expected**2, axis=0)) / num_chains,
                               rtol=1e-3)
    one_chain = dataclasses.replace(result, chain_estimates={"x": result.chain_estimates["x"][:1]},
                                    batch_means={"x": result.batch_means["x"][:1]})
    assert np.all(np.isnan(one_chain.mcse("x"))) and np.all(np.isfinite(one_chain.batch_means_mcse("x")))
    with pytest.raises(ValueError, match="num_batches"):
        dataclasses.replace(result, batch_means={}).batch_means_mcse("x")


def test_batch_means_mcse_agrees_with_the_spread_of_independent_chains(long_base_run):
    """For a Markov chain both estimate Var(chain mean): compare their averages over 64 chains and 4 coordinates.

    The chain-spread variance is the noisier one: relative standard error sqrt(2 / (63 * 4)) = 0.09 (batch
    means: ~0.02); the ratio must lie within 4 of those standard errors of 1 (batches of 32 steps against an
    autocorrelation time of ~2 leave a bias of a few per cent).
    """
    batch_variance = np.mean(long_base_run.batch_means_mcse("x", per_chain=True) ** 2)
    spread_variance = np.mean(long_base_run.chain_estimates["x"].var(axis=0, ddof=1))
    assert abs(batch_variance / spread_variance - 1.0) < 4 * np.sqrt(2 / (63 * 4)), batch_variance / spread_variance
