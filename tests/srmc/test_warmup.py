"""Warm-up on pi: dual averaging reaches each kernel's target acceptance, windowed Welford recovers the variances,
the warmed-up run agrees with stored references, and warm-up keeps chunking and checkpoints bit-identical."""

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import checkpoint as checkpoints
from srmc.engine.warmup import (DualAveraging, Warmup, dual_averaging_final, dual_averaging_init,
                                dual_averaging_update, moments_init, moments_update, pool_moments, slow_windows)

# variances log-spaced over 1e-2 .. 1e2
SPREAD = targets.get("ill_conditioned_gaussian", dim=8, condition_number=1e4)


def test_slow_windows_follow_stans_schedule():
    starts, ends = slow_windows(1000)
    np.testing.assert_array_equal(starts, [75, 100, 150, 250, 450])
    np.testing.assert_array_equal(ends, [99, 149, 249, 449, 949])  # the last window runs to the final 50 steps
    short_starts, short_ends = slow_windows(100)  # 15% / 75% / 10%
    np.testing.assert_array_equal(short_starts, [15]) and np.testing.assert_array_equal(short_ends, [89])
    assert slow_windows(10)[0].size == 0


def test_dual_averaging_finds_the_step_of_a_known_acceptance_curve():
    """acceptance(h) = exp(-h): the target 0.6 is reached at h = -log(0.6)."""
    state = dual_averaging_init(jnp.asarray(2.0))
    for _ in range(3000):
        state = dual_averaging_update(state, jnp.exp(-jnp.exp(state.log_step)), 0.6)
    assert isinstance(state, DualAveraging)
    np.testing.assert_allclose(float(dual_averaging_final(state)), -np.log(0.6), rtol=0.02)


def test_pooled_welford_equals_numpy_over_all_chains():
    values = np.random.default_rng(0).normal(size=(50, 3, 4)) * [1.0, 2.0, 3.0, 4.0]
    moments = moments_init((3, 4), dense=True, dtype=jnp.float32)
    for step in values:
        moments = moments_update(moments, jnp.asarray(step, jnp.float32), jnp.ones(3, bool))
    pooled = pool_moments(moments)
    flat = values.reshape(-1, 4)
    np.testing.assert_allclose(pooled.mean, flat.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled.m2 / (pooled.count - 1), np.cov(flat.T), rtol=1e-4)


@pytest.mark.parametrize("kernel, params", [(samplers.mala, {"step_size": 1e-3}),
                                            (samplers.hmc, {"step_size": 1e-3, "num_integration_steps": 5})],
                         ids=["mala", "hmc"])
def test_warmup_recovers_the_variances_and_the_target_acceptance(kernel, params):
    result = srmc.sample(jax.random.key(0), srmc.base(kernel, **params), SPREAD, 2000, 16, warmup=2000)
    variances = SPREAD.ground_truth.variance
    np.testing.assert_allclose(result.adapted_params["inverse_mass_matrix"], variances, rtol=0.2)
    np.testing.assert_allclose(result.warmup_stats.variance, variances, rtol=0.2)
    np.testing.assert_allclose(result.warmup_stats.fisher, 1.0 / variances, rtol=0.2)  # Fisher of a Gaussian
    target = kernel.spec.tuning.target_acceptance
    assert abs(float(result.acceptance_rate.mean()) - target) < 0.05, result.acceptance_rate.mean()
    assert result.warnings == [], result.warnings


def test_dense_mass_matrix_recovers_a_correlated_covariance():
    target = targets.get("correlated_gaussian", dim=5, rho=0.8)
    result = srmc.sample(jax.random.key(1), srmc.base(samplers.mala, step_size=0.01), target, 500, 16,
                         warmup=Warmup(2000, mass="dense", dense_statistics=True))
    covariance = target.gaussian.cov
    np.testing.assert_allclose(result.adapted_params["inverse_mass_matrix"], covariance, atol=0.12)
    np.testing.assert_allclose(result.warmup_stats.covariance, covariance, atol=0.12)


def test_per_chain_adaptation_gives_every_chain_its_own_step():
    result = srmc.sample(jax.random.key(2), srmc.base(samplers.mala, step_size=0.01), SPREAD, 200, 4,
                         warmup=Warmup(500, pooled=False))
    steps = result.adapted_params["step_size"]
    assert steps.shape == (4,) and len(set(np.round(steps, 6))) == 4
    assert result.adapted_params["inverse_mass_matrix"].shape == (4, SPREAD.dim)


def test_chains_share_one_step_size_after_the_warmup():
    """Per-chain dual averaging while the chains travel, then one pooled step size from the final fast window on:
    the run's chains all get the same (as with ``pooled_step_size=True``)."""
    for warmup in (Warmup(500), Warmup(500, pooled_step_size=True)):
        result = srmc.sample(jax.random.key(2), srmc.base(samplers.mala, step_size=0.01), SPREAD, 200, 4,
                             warmup=warmup)
        assert np.ndim(result.adapted_params["step_size"]) == 0  # one value: every chain got the same
        assert result.adapted_params["inverse_mass_matrix"].shape == (SPREAD.dim,)


def poisson_regression_logdensity():
    """A user's Poisson regression (log link, 5 covariates, 80 counts, N(0, 3^2) and N(0, 1) priors): from
    NumPyro's init strategy (uniform on (-2, 2)) some chains start where the rates are e^10 and the gradient huge."""
    rng = np.random.default_rng(5)
    covariates = rng.normal(size=(80, 5))
    counts = jnp.asarray(rng.poisson(np.exp(0.8 + covariates @ np.array([0.5, -0.3, 0.2, 0.0, 0.4]))), jnp.float32)
    covariates = jnp.asarray(covariates, jnp.float32)

    def logdensity(w):
        eta = w[0] + covariates @ w[1:]
        return jnp.sum(counts * eta - jnp.exp(eta)) - w[0] ** 2 / 18.0 - 0.5 * jnp.sum(w[1:] ** 2)

    return logdensity


def test_per_chain_step_sizes_unfreeze_chains_started_where_the_gradient_is_huge():
    """Under one pooled step size (tuned to the chains' mean acceptance) 12 of 32 MALA chains never leave their
    starts; with the default, each chain's own dual averaging, every chain moves."""
    logdensity = poisson_regression_logdensity()
    starts = jax.random.uniform(jax.random.key(1), (32, 6), minval=-2.0, maxval=2.0)
    run = dict(initial_position=starts, options=srmc.RunOptions(progress=False))
    pooled = srmc.sample(jax.random.key(0), srmc.base(samplers.mala), logdensity, 200, 32,
                         warmup=Warmup(500, pooled_step_size=True), **run)
    assert "frozen_chains" in {warning.code for warning in pooled.warnings}
    assert np.sum(np.asarray(pooled.acceptance_rate) < 0.01) >= 8
    default = srmc.sample(jax.random.key(0), srmc.base(samplers.mala), logdensity, 200, 32, warmup=500, **run)
    assert not {"frozen_chains", "nonfinite_proposals"} & {warning.code for warning in default.warnings}
    assert np.all(np.asarray(default.acceptance_rate) > 0.2)


def _agrees_with_reference(result, target, z=4.0):
    truth = target.ground_truth
    error = np.abs(result.mean - truth.mean) / np.sqrt(result.mcse() ** 2 + truth.mean_stderr ** 2)
    return float(error.max())


LOGISTIC_KERNELS = {
    "mala": (samplers.mala, {"step_size": 0.01}),
    "hmc": (samplers.hmc, {"step_size": 0.01, "num_integration_steps": 10}),
    "blackjax.mala": (blackjax.mala, {"step_size": 0.01}),
}


@pytest.mark.parametrize("name", ["mala", pytest.param("hmc", marks=pytest.mark.slow),
                                  pytest.param("blackjax.mala", marks=pytest.mark.slow)])
def test_logistic_regression_from_a_bad_step_size(name):
    """Started at step_size 0.01 the chains never move (a warning says so); after a warm-up they agree with the
    stored NUTS reference within 4 standard errors."""
    target = targets.get("logistic_breast_cancer")
    kernel, params = LOGISTIC_KERNELS[name]
    key = jax.random.key(3)
    cold = srmc.sample(key, srmc.base(kernel, **params), target, 500, 8, warmup=0)
    assert {"acceptance_low", "frozen_chains"} <= {warning.code for warning in cold.warnings}
    warm = srmc.sample(key, srmc.base(kernel, **params), target, 4000, 32, warmup=2000)
    assert 0.4 <= float(warm.acceptance_rate.mean()) <= 0.9
    assert _agrees_with_reference(warm, target) < 4.0
    assert not {"acceptance_low", "frozen_chains"} & {warning.code for warning in warm.warnings}


def test_srmc_warms_up_its_base_kernel_with_the_history_frozen():
    """The warm-up is the base kernel's: SRMC after a warm-up starts from the same adapted parameters and states."""
    key = jax.random.key(4)
    plain = srmc.sample(key, srmc.base(samplers.mala, step_size=0.01), SPREAD, 50, 4, warmup=300)
    wrapped = srmc.sample(key, srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.01), SPREAD, 50, 4, warmup=300)
    for name, value in plain.adapted_params.items():
        np.testing.assert_array_equal(value, wrapped.adapted_params[name])
    np.testing.assert_array_equal(plain.warmup_stats.mean, wrapped.warmup_stats.mean)


def test_warmup_does_not_depend_on_the_chunk_size():
    key, algorithm = jax.random.key(5), srmc.wrap(samplers.hmc, tilt="score", alpha=2.0, step_size=0.05, num_integration_steps=3)
    first = srmc.sample(key, algorithm, SPREAD, 60, 4, warmup=130, options=srmc.RunOptions(thin=5))
    second = srmc.sample(key, algorithm, SPREAD, 60, 4, warmup=130, options=srmc.RunOptions(thin=5, chunk_size=15))
    np.testing.assert_array_equal(first.draws, second.draws)
    np.testing.assert_array_equal(first.adapted_params["step_size"], second.adapted_params["step_size"])


def test_a_checkpointed_warmed_up_run_resumes_bit_identical(tmp_path, monkeypatch):
    key, algorithm = jax.random.key(6), srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.05)
    run = dict(num_steps=60, num_chains=4, warmup=100, options=srmc.RunOptions(thin=5, chunk_size=20))
    reference = srmc.sample(key, algorithm, SPREAD, **run)
    path, calls, save = tmp_path / "run.npz", [], checkpoints.save

    def interrupted(*args, **kwargs):
        calls.append(None)
        if len(calls) == 3:  # after the warm-up's checkpoint and the first sampling chunk's
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(key, algorithm, SPREAD, **run, checkpoint=path)
    monkeypatch.undo()
    assert checkpoints.load(path).metadata["progress"]["step"] == 20
    resumed = srmc.sample(key, algorithm, SPREAD, **run, checkpoint=srmc.Checkpointing(path, resume=True))
    np.testing.assert_array_equal(resumed.draws, reference.draws)
    np.testing.assert_array_equal(resumed.chain_estimates["x"], reference.chain_estimates["x"])
    np.testing.assert_array_equal(resumed.adapted_params["step_size"], reference.adapted_params["step_size"])


def test_bad_warmup_arguments_fail_early():
    algorithm = srmc.base(samplers.mala, step_size=0.1)
    with pytest.raises(TypeError, match="warmup must be an integer"):
        srmc.sample(jax.random.key(0), algorithm, SPREAD, 10, warmup=1.5)
    with pytest.raises(ValueError, match="warmup mass must be one of"):
        srmc.sample(jax.random.key(0), algorithm, SPREAD, 10, warmup=Warmup(10, mass="full"))
    with pytest.raises(ValueError, match="target_acceptance"):
        srmc.sample(jax.random.key(0), algorithm, SPREAD, 10, warmup=Warmup(10, target_acceptance=1.5))
    with pytest.raises(TypeError, match="pooled_step_size must be True or False"):
        srmc.sample(jax.random.key(0), algorithm, SPREAD, 10, warmup=Warmup(10, pooled_step_size="yes"))
