"""`walk_jump`, the public entry point: mode weights on a separated two-mode mixture, the Gaussian jump law with
the default sigma and M, a plain log density through the importance-sampled smoothing, and its diagnostics.

Tolerances: a mode fraction within 4.5 binomial standard errors sqrt(w (1 - w) / n); a variance within 4.5
standard errors sqrt(2 / n) (relative) of the Gaussian closed form; a mean within 4.5 standard errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.method import walk_jump as wj
from srmc.method import walk_jump_setup as setup
from srmc.tools.walk_jump import walk_jump

Z_LIMIT = 4.5


def test_mode_weights_of_a_separated_unequal_mixture():
    """0.7 N(-5 e1, I) + 0.3 N(5 e1, I): modes 10 standard deviations apart. Every chain starts in the LEFT mode;
    the walk's smoothing lets a third of them land right."""
    target = targets.get("two_component_mixture", separation=10.0, weights=[0.7, 0.3])
    n = 3000
    result = walk_jump(jax.random.key(0), target, n, noise_scale=5.0, num_measurements=16, num_inner_steps=5,
                       initial_position=[-5.0, 0.0])
    right = float(np.mean(np.asarray(result.samples)[:, 0] > 0))
    assert abs(right - 0.3) < Z_LIMIT * np.sqrt(0.21 / n), right
    final_right = float(np.mean(np.asarray(result.final_means)[:, 0] > 0))  # ȳ_M ~ p_{sigma^2/M}: same weights
    assert abs(final_right - 0.3) < Z_LIMIT * np.sqrt(0.21 / n), final_right
    assert result.num_nonfinite == 0 and result.num_nonfinite_samples == 0
    assert 0.3 < result.acceptance_rate <= 1.0


def test_gaussian_jump_law_with_the_default_sigma_and_m():
    """iid N(0, I_3): the defaults give sigma = 1, M = NUM_MEASUREMENTS_FACTOR; the jump's variance is
    1 / (1 + sigma^2 / M) per coordinate."""
    target = targets.get("iid_gaussian", dim=3)
    n = 4000
    result = walk_jump(jax.random.key(1), target, n, num_inner_steps=5)
    assert result.noise_scale == setup.NOISE_SCALE_FACTOR
    assert result.num_measurements == setup.default_num_measurements(result.noise_scale, 1.0)
    samples = np.asarray(result.samples, np.float64)
    expected = 1.0 / (1.0 + result.noise_scale**2 / result.num_measurements)
    assert np.all(np.abs(samples.mean(0)) < Z_LIMIT * np.sqrt(expected / n))
    assert np.all(np.abs(np.mean(samples**2, 0) / expected - 1.0) < Z_LIMIT * np.sqrt(2.0 / n))
    # at M = 2 the jump (variance 1 / (1 + sigma^2 / 2)) and the walk's mean (1 + sigma^2 / 2) are far apart
    short = walk_jump(jax.random.key(4), target, n, num_measurements=2, num_inner_steps=5)
    for draws, variance in ((short.samples, 2.0 / 3.0), (short.final_means, 1.5)):
        draws = np.asarray(draws, np.float64)
        assert np.all(np.abs(np.mean(draws**2, 0) / variance - 1.0) < Z_LIMIT * np.sqrt(2.0 / n))


def test_plain_log_density_uses_the_importance_smoothing():
    """A log density without a closed form: 2-d N(0, I) through its log density alone. By symmetry the jumps'
    mean is 0 for any estimator that treats +y and -y alike."""
    result = walk_jump(jax.random.key(2), lambda x: -0.5 * jnp.sum(x**2), 1000, dim=2, noise_scale=1.0,
                       num_measurements=4, num_inner_steps=3, num_draws=32)
    assert result.smoothing.startswith("importance(n=32")
    samples = np.asarray(result.samples, np.float64)
    assert samples.shape == (1000, 2) and result.num_nonfinite_samples == 0
    assert np.all(np.abs(samples.mean(0)) < Z_LIMIT * samples.std(0) / np.sqrt(1000))
    # MALA under an estimated smoothing redraws it before every inner step: (2K + 1) calls of 32 draws per stage
    stages = 1000 * 4
    assert result.gradient_evaluations == stages * (2 * 3 + 1) * 32 + 1000 * 32


def test_diagnostics_walks_per_chain_and_reproducibility():
    target = targets.get("gaussian_mixture_9")
    run = dict(noise_scale=2.0, num_measurements=3, num_inner_steps=2, num_chains=4, burn_in_walks=1)
    first = walk_jump(jax.random.key(3), target, 10, **run)
    again = walk_jump(jax.random.key(3), target, 10, **run)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert first.samples.shape == (10, 2) and first.final_means.shape == (10, 2)
    assert first.num_walks_per_chain == 3 and first.num_chains == 4
    assert first.gradient_evaluations == 4 * (3 + 1) * 3 * (2 + 1) + 4  # 4 chains x (3 + 1 burn-in) walks x M
    assert first.step_size == pytest.approx(setup.default_step_size(2.0, 2, True))
    ula = walk_jump(jax.random.key(3), target, 10, inner=wj.ULA, **run)
    assert ula.acceptance_rate == 1.0 and ula.step_size == pytest.approx(setup.ULA_STEP_FACTOR * 4.0)
