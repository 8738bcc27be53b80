"""Post-hoc score control variates (`srmc.tools.control_variates`): exact on a Gaussian, the predicted variance
reduction on a banana, the diagonal Stein features' extra gain, and clear errors."""

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.tools import control_variates

jax.config.update("jax_enable_x64", False)


def unit_banana(key: jax.Array, chains: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact draws of the registry's banana (x1 ~ N(0, 1), x2 = y + (x1^2 - 1) / 2; mean 0) and their scores,
    (chains, n, 2)."""
    target = targets.get("banana")
    draws = np.asarray(target.sample(key, chains * n), np.float64).reshape(chains, n, 2)
    return draws, control_variates.scores_of(target, draws)


def test_exact_on_a_gaussian():
    """x is linear in s, so the corrected mean is the true mean up to rounding, from 4 chains of 50 draws (a wrong
    sign would give 2 xbar - mu, an error of the plain mean's size)."""
    target = targets.get("correlated_gaussian")
    draws = np.asarray(target.sample(jax.random.key(0), 200), np.float64).reshape(4, 50, -1)
    estimate = control_variates.control_variate_mean(draws, control_variates.scores_of(target, draws))
    np.testing.assert_allclose(estimate.mean, target.ground_truth.mean, atol=1e-4)
    assert np.abs(draws.mean((0, 1)) - target.ground_truth.mean).max() > 1e-2  # the plain mean is not


def test_banana_variance_falls_to_the_floor():
    """Over 400 chains of 500 independent draws, Var(corrected chain means) / Var(plain) per coordinate is what the
    score cannot predict: 1/2 for x1, 1/3 for x2 (`tests/srmc/test_prediction.py` derives them). Each variance
    has relative SE sqrt(2 / 399) = 0.07; tolerance 4 x 0.1 of the ratio. A wrong sign gives ratios above 1; a
    biased score (s1 = -x1) gives x1 a ratio near 0. The corrected mean is within 4 SE of 0."""
    draws, scores = unit_banana(jax.random.key(1), 400, 500)
    estimate = control_variates.control_variate_mean(draws, scores)
    ratio = estimate.chain_estimates.var(0, ddof=1) / draws.mean(1).var(0, ddof=1)
    np.testing.assert_allclose(ratio, [0.5, 1 / 3], rtol=0.4)
    assert np.all(np.abs(estimate.mean) < 4 * estimate.stderr)
    diagonal = control_variates.control_variate_mean(draws, scores, "score+diagonal")
    assert np.all(np.abs(diagonal.mean) < 4 * diagonal.stderr)
    assert diagonal.stderr[1] < 0.8 * estimate.stderr[1]  # 1 + x1 s1 carries x1^2: x2's residual shrinks


def test_on_a_real_run():
    """On stored draws of an MALA run on the correlated Gaussian the corrected mean is within 4 of its SEs of the
    truth, and its SE is a tenth of the plain chain-spread SE (x is linear in s)."""
    target = targets.get("correlated_gaussian")
    result = srmc.sample(jax.random.key(2), srmc.base(samplers.mala, step_size=0.2), target, 400, 8,
                         warmup=200, options=srmc.RunOptions(thin=1, progress=False))
    draws = np.asarray(result.draws)
    estimate = control_variates.control_variate_mean(draws, control_variates.scores_of(target, draws))
    assert np.all(np.abs(estimate.mean - target.ground_truth.mean) < 4 * estimate.stderr)
    plain = draws.mean(1).std(0, ddof=1) / np.sqrt(8)
    assert np.all(estimate.stderr < 0.1 * plain)


def test_bad_input_is_named():
    draws, scores = unit_banana(jax.random.key(3), 2, 50)
    with pytest.raises(ValueError, match="features"):
        control_variates.control_variate_mean(draws, scores, "quadratic")
    with pytest.raises(ValueError, match="draws and scores"):
        control_variates.control_variate_mean(draws, scores[:, :10])
    with pytest.raises(ValueError, match="too few"):
        control_variates.control_variate_mean(draws[:, :4], scores[:, :4], "score+diagonal")
    broken = draws.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        control_variates.control_variate_mean(broken, scores)


@pytest.mark.parametrize("features", control_variates.FEATURES)
def test_streaming_matches_the_stored_draws_fit(features):
    """From running means alone (no stored draws) the corrected means are those of the fit on every stored draw
    (same chains, same pooled least squares; "score+diagonal" with 1 + x s spans what 1 + (x - m) s does)."""
    target = targets.get("banana")
    result = srmc.sample(jax.random.key(4), srmc.base(samplers.mala, step_size=0.5), target, 300, 6,
                         warmup=100, functions=control_variates.streaming_functions(target, features), options=srmc.RunOptions(thin=1, progress=False))
    draws = np.asarray(result.draws)
    stored = control_variates.control_variate_mean(draws, control_variates.scores_of(target, draws), features)
    streamed = control_variates.from_running_means(result)
    np.testing.assert_allclose(streamed.chain_estimates, stored.chain_estimates, atol=2e-4)
    with pytest.raises(ValueError, match="streaming_functions"):
        control_variates.from_running_means(srmc.sample(jax.random.key(4), srmc.base(samplers.mala, step_size=0.5),
                                                        target, 10, 2, options=srmc.RunOptions(progress=False), warmup=0))


def test_draws_that_are_not_from_pi_are_flagged():
    """Exact draws pass Stein's identity; the same draws shifted by one sd (chains that have not reached pi) fail
    it: the estimate says so (in_equilibrium False) and a RuntimeWarning names the problem. With fewer than 8
    chains nothing is checked (None)."""
    target = targets.get("correlated_gaussian")
    draws = np.asarray(target.sample(jax.random.key(5), 8 * 200), np.float64).reshape(8, 200, -1)
    assert control_variates.control_variate_mean(draws, control_variates.scores_of(target, draws)).in_equilibrium
    shifted = draws + np.sqrt(target.ground_truth.variance)
    with pytest.warns(RuntimeWarning, match="Stein's identity"):
        estimate = control_variates.control_variate_mean(shifted, control_variates.scores_of(target, shifted))
    assert estimate.in_equilibrium is False
    few = control_variates.control_variate_mean(shifted[:4], control_variates.scores_of(target, shifted[:4]))
    assert few.in_equilibrium is None
