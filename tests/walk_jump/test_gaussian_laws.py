"""Walk-jump sampling on a Gaussian target, where every law is closed form (tests/walk_jump/laws.py): each stage
y_t | y_{1:t-1}, the running mean ȳ_M, the jump x̂ = E[X | ȳ_M] and its gap to pi. The run starts the first
measurement's chains at exact draws of its law N(m, C + sigma^2 I), so every stage is exact when the kernel is.
The last two tests are the suite's own mutation checks: a missing Metropolis correction (ULA at MALA's step
size) and a wrong sign in the smoothed score are caught by the same statistics."""

import jax.numpy as jnp
import numpy as np
import pytest

from srmc.method import walk_jump as wj
from srmc.method.smoothing import Smoothing
from srmc.testing.strategies import gaussian_target
from tests.walk_jump.laws import Z_LIMIT, gaussian_z, params, posterior, run_stages, stage_z

MEAN = np.array([1.0, -0.5])
COV = np.array([[1.5, 0.6], [0.6, 0.8]])
SIGMA, M, K, STEP = 1.2, 5, 30, 1.2
NUM_CHAINS = 4000


def target():
    return gaussian_target("walk_jump_gaussian", MEAN, COV)


def exact_first_measurements(seed: int = 1) -> jnp.ndarray:
    return jnp.asarray(np.random.default_rng(seed).multivariate_normal(MEAN, COV + SIGMA**2 * np.eye(2), NUM_CHAINS),
                       jnp.float32)


def walk_infos(inner=wj.MALA, smoothing=None):
    smoothing = smoothing or wj.exact_smoothing(target().smoothed_logdensity)
    return run_stages(smoothing, params(SIGMA, M, STEP, K), inner, exact_first_measurements(), 2 * M)


@pytest.fixture(scope="module")
def mala_infos():
    return walk_infos()


def jump_law():
    s = SIGMA**2 / M
    gain = COV @ np.linalg.inv(COV + s * np.eye(2))
    return gain, gain @ COV, COV + s * np.eye(2)


def test_every_stage_law_and_its_independence_of_the_history(mala_infos):
    assert mala_infos.acceptance_rate.mean() > 0.5
    assert not mala_infos.is_nonfinite.any()
    for walk in range(2):
        stages = slice(walk * M, (walk + 1) * M)
        z = stage_z(mala_infos.measurement[stages], mala_infos.running_mean[stages], MEAN, COV, SIGMA)
        assert np.max(np.abs(z)) < Z_LIMIT, (walk, np.round(z, 2))


def test_walk_end_running_mean_and_jump_laws(mala_infos):
    gain, jump_cov, mean_cov = jump_law()
    assert np.array_equal(np.flatnonzero(mala_infos.is_walk_end[:, 0]), [M - 1, 2 * M - 1])
    for stage in (M - 1, 2 * M - 1):
        final_mean, jump = mala_infos.running_mean[stage], mala_infos.denoised[stage]
        assert np.max(np.abs(gaussian_z(final_mean, MEAN, mean_cov))) < Z_LIMIT
        assert np.max(np.abs(gaussian_z(jump, MEAN, jump_cov))) < Z_LIMIT
        # the jump read off the inner chain's cache is Tweedie's E[X | ȳ_M] exactly (float32 rounding)
        np.testing.assert_allclose(jump, MEAN + (final_mean - MEAN) @ gain.T, atol=2e-4)


def test_every_stage_denoises_to_the_posterior_mean(mala_infos):
    """x̂_t = y_t + sigma^2 grad log p(y_t | y_{1:t-1}) equals mu_t(ȳ_t) at every stage, not only the last."""
    for t in range(1, M + 1):
        mu, _ = posterior(MEAN, COV, SIGMA, t, mala_infos.running_mean[t - 1])
        np.testing.assert_allclose(mala_infos.denoised[t - 1], mu, atol=2e-4)


def test_the_jump_is_not_pi_at_finite_m(mala_infos):
    """The documented gap: the jump's covariance C (C + s I)^-1 C is below C; the draws show it (z far below)."""
    jump = mala_infos.denoised[M - 1]
    assert np.min(gaussian_z(jump, MEAN, COV)[2:4]) < -10.0


def test_a_missing_metropolis_correction_is_caught():
    infos = walk_infos(inner=wj.ULA)
    z = stage_z(infos.measurement[:M], infos.running_mean[:M], MEAN, COV, SIGMA)
    assert np.max(np.abs(z)) > 3 * Z_LIMIT


def test_a_wrong_sign_in_the_smoothed_score_is_caught():
    exact = wj.exact_smoothing(target().smoothed_logdensity)

    def flipped(rng_key, y, s):
        value, score = exact.value_and_score(rng_key, y, s)
        return value, -score

    infos = walk_infos(smoothing=Smoothing(flipped, True, 1, True, "flipped"))
    _, jump_cov, _ = jump_law()
    assert np.max(np.abs(gaussian_z(infos.denoised[M - 1], MEAN, jump_cov))) > 3 * Z_LIMIT
