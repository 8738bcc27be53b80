"""The warm-up's prediction for the second-order tilt (`prediction.predicted_relative_variance_second_order`): its
history's batch means from those of s and x s^T are the history's own, the 1/(1 + 2 a) law on Gaussians, a lower
first-order floor than a score history's on a banana, and the run lowering alpha where it predicts a loss (keeping
alpha, bit for bit, where it does not; the slow test on three bananas is `test_prediction`'s, for both tilts)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.method import prediction
from srmc.method.tilt import SECOND_ORDER, TiltReference, with_whitening
from tests.srmc.test_prediction import BATCH, BATCHES, CHAINS, COVARIANCE, HMC, ar1_gaussian, bananas, unit_banana

jax.config.update("jax_enable_x64", False)


def batch_means(values: np.ndarray) -> np.ndarray:
    """(chains, steps, ...) -> (chains x batches, ...) means over `BATCH` steps."""
    return values.reshape(CHAINS, BATCHES, BATCH, *values.shape[2:]).mean(2).reshape(-1, *values.shape[2:])


def second_order_curve(x: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The prediction from draws x and scores s (chains, steps, d) with the draws' m and L, the mean sech^2 slope
    of the whitened draws, and the history's batch means ``(batches, 2, d)``."""
    d = x.shape[-1]
    draws = x[:, ::8].reshape(-1, d)
    location, factor = draws.mean(0), np.linalg.cholesky(np.cov(draws.T))
    history = prediction.second_order_history_means(jnp.asarray(batch_means(s)),
                                                    jnp.asarray(batch_means(x[..., :, None] * s[..., None, :])),
                                                    jnp.asarray(location), jnp.asarray(factor))
    curve = prediction.predicted_relative_variance_second_order(jnp.asarray(batch_means(x)), history, BATCH,
                                                                jnp.asarray(draws), jnp.asarray(location),
                                                                jnp.asarray(factor), prediction.ALPHA_GRID)
    whitened = np.linalg.solve(factor, (draws - location).T).T
    return np.asarray(curve), float(np.mean(1 - np.tanh(whitened) ** 2)), np.asarray(history)


def test_history_batch_means_from_x_s_products_are_the_histories_own():
    """The warm-up stores batch means of s and of x s^T (the reference is known only at its end); from them and the
    reference, the batch means of g = (S, 1 + z * S) are those of `SECOND_ORDER.statistic` itself (float32)."""
    x = ar1_gaussian(jax.random.key(2), 0.5)
    s = np.asarray(jax.random.normal(jax.random.key(3), x.shape))  # any s: the identity is algebra
    factor = np.array([[1.2, 0.0, 0.0], [0.4, 0.9, 0.0], [-0.3, 0.2, 0.6]])
    reference = with_whitening(TiltReference(jnp.array([0.2, -0.1, 0.4]), jnp.ones(3)), jnp.asarray(factor))
    direct = jax.vmap(jax.vmap(lambda xi, si: SECOND_ORDER.statistic(xi, si, reference)))(x, s)
    stored = prediction.second_order_history_means(jnp.asarray(batch_means(s)),
                                                   jnp.asarray(batch_means(x[..., :, None] * s[..., None, :])),
                                                   reference.location, reference.whitening)
    np.testing.assert_allclose(stored, batch_means(np.asarray(direct)), rtol=1e-4, atol=1e-5)


def gumbel_pair(key: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n exact draws of a skewed, correlated pair (x1 ~ Gumbel, x2 = x1 + N(0, 1)) and their scores."""
    keys = jax.random.split(key)
    x1 = jax.random.gumbel(keys[0], (n,))
    x2 = x1 + jax.random.normal(keys[1], (n,))
    scores = jnp.stack([-1.0 + jnp.exp(-x1) + (x2 - x1), x1 - x2], axis=-1)
    return np.asarray(jnp.stack([x1, x2], axis=-1)), np.asarray(scores)


def test_coefficient_is_the_stein_instrumented_regression_of_x_on_the_history():
    """K = Cov(x, phi) M^-1 with M from its closed form (`srmc.method.tilt`) equals -Cov(x, phi) Cov(g, phi)^-1, g
    the history itself (Stein: Cov(g, phi) = -M), on exact draws of a skewed pair, where M's blocks are not
    symmetric (E[w t] - E[w z] = 0.009 on x1). 16 groups of 20,000 draws; tolerance 4 SE of the groups' mean
    difference (measured: within 2 SE). Transposed blocks (M^T) are 17-20 SE off; a sign error in M, or a
    history with S = s instead of L^T s, is off by K itself."""
    differences = []
    for key in jax.random.split(jax.random.key(3), 16):
        x, s = gumbel_pair(key, 20_000)
        location, factor = x.mean(0), np.linalg.cholesky(np.cov(x.T))
        reference = with_whitening(TiltReference(jnp.asarray(location), jnp.ones(2)), jnp.asarray(factor))
        history = jax.vmap(lambda xi, si: SECOND_ORDER.statistic(xi, si, reference))(x, s)
        z = np.linalg.solve(factor, (x - location).T).T
        features = np.concatenate([np.tanh(z), np.tanh(z) ** 2 / 2], axis=1)
        centred = features - features.mean(0)
        with_x = (x - x.mean(0)).T @ centred / len(x)
        with_history = (np.asarray(history).reshape(len(x), 4) - np.asarray(history).reshape(len(x), 4).mean(0)).T
        instrumented = -with_x @ np.linalg.inv(with_history @ centred / len(x))
        coefficient = prediction.second_order_coefficient(jnp.asarray(x), jnp.asarray(location), jnp.asarray(factor))
        differences.append(np.asarray(coefficient).reshape(2, 4) - instrumented)
    differences = np.array(differences)
    stderr = differences.std(0, ddof=1) / np.sqrt(len(differences))
    np.testing.assert_array_less(np.abs(differences.mean(0)), 4 * stderr)


@pytest.mark.parametrize("rho", [0.0, 0.7])
def test_second_order_gaussian_prediction_is_the_one_over_one_plus_two_alpha_law(rho):
    """On a Gaussian S = -z, x = m + L z is linear in S and Cov(x, tanh(z)^2) = 0, so the prediction is the bounded
    tilt's 1 / (1 + 2 alpha g), g = E[sech^2 z], for independent and positively correlated (MALA-like) draws. Its
    error is K's, from 2016 draws; tolerance 2 SE of the bounded test's (sqrt(2 / 2016)). A wrong sign of the
    correction gives values above 1; a K in the wrong order of its 2 x 2 blocks (C M^-T) misses the law."""
    x = ar1_gaussian(jax.random.key(11), rho)
    curve, slope, _ = second_order_curve(x, -x @ np.linalg.inv(COVARIANCE))
    np.testing.assert_allclose(curve, 1.0 / (1.0 + 2.0 * prediction.ALPHA_GRID * slope), atol=2 * np.sqrt(2 / 2016))


def test_antithetic_gaussian_prediction_is_cross_fitted():
    """With antithetic (HMC-like, rho = -0.8) draws x's long-run variance is a ninth of its variance while that of
    z * S (z^2 on a Gaussian) is 9 times it, so the noise of K's z * S entries (true value 0) dominates a squared
    series: one seed gave 0.41 at alpha = 128 against the law's 0.006. K from two independent halves of the draws,
    multiplied, leaves that noise out: over 8 seeds the mean curve is within 0.1 of the law at every alpha
    (measured: at most 0.054 +- 0.02 above it, K's ratio-estimator bias)."""
    curves, slopes = zip(*(second_order_curve(x, -x @ np.linalg.inv(COVARIANCE))[:2] for x in
                           (ar1_gaussian(jax.random.key(100 + seed), -0.8) for seed in range(8))))
    law = 1.0 / (1.0 + 2.0 * prediction.ALPHA_GRID * np.mean(slopes))
    assert np.all(np.abs(np.mean(curves, axis=0) - law) < 0.1), np.mean(curves, axis=0) - law


def test_second_order_history_lowers_the_banana_floor():
    """Independent banana draws (x1 ~ N(0, 1), x2 = y + (x1^2 - 1) / 2): a score history leaves x2 its x1^2 / 2
    part (floor 1/3, `test_prediction`); the second-order history's z1 S1 = -x1^2 + x1^2 y carries x1^2, so x2's
    floor is less than half that (measured 0.15 against 0.34; each floor's SE about 0.005). x1's floor stays the
    score's (0.47: x1 is odd, z * S even, so they do not correlate). A history without its z * S half gives
    the score's floors."""
    x, s = (v.reshape(CHAINS, -1, 2) for v in unit_banana(jax.random.key(4), CHAINS * BATCHES * BATCH))
    _, _, history = second_order_curve(x, s)
    score_floor = np.asarray(prediction.variance_floor(jnp.asarray(batch_means(x)), jnp.asarray(batch_means(s))))
    floor = np.asarray(prediction.variance_floor(jnp.asarray(batch_means(x)), jnp.asarray(history.reshape(-1, 4))))
    assert floor[1] < 0.5 * score_floor[1]
    assert floor[0] == pytest.approx(score_floor[0], abs=0.03)


def test_second_order_default_lowers_alpha_where_predicted_and_says_so():
    """HMC with 10 leapfrog steps on a banana at alpha = 10 (the held-out banana_6d's weak spot): predicted to
    lose, so the run uses a smaller alpha and the health report says so; alpha_search=False forces alpha."""
    target = bananas(scales=(3.0,), bends=(0.1,))
    starts = target.sample(jax.random.key(1), 16)
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.hmc, alpha=10.0, tilt="second_order", **HMC), target,
                         20, 16, initial_position=starts, warmup=400, options=srmc.RunOptions(progress=False))
    factor = result.counters["alpha_factor"]
    assert np.all(factor == factor[0]) and factor[0] < 1.0
    assert result.warmup_stats.extra.get("variance_floor").shape == (2,)
    assert "alpha_reduced" in [w.code for w in result.warnings]
    forced = srmc.sample(jax.random.key(0), srmc.wrap(samplers.hmc, alpha=10.0, tilt="second_order",
                                                      alpha_search=False, **HMC), target, 20, 16,
                         initial_position=starts, warmup=400, options=srmc.RunOptions(progress=False))
    assert np.all(forced.counters["alpha_factor"] == 1.0) and forced.warmup_stats.extra.get("predicted_variance") is None


def test_second_order_default_keeps_alpha_on_a_gaussian_bit_for_bit():
    """Where the prediction keeps alpha, the run is the one without the search, bit for bit."""
    target = targets.get("correlated_gaussian", dim=6, rho=0.8)
    runs = [srmc.sample(jax.random.key(2), srmc.wrap(samplers.mala, alpha=10.0, tilt="second_order",
                                                     alpha_search=search, step_size=0.3),
                        target, 50, 8, warmup=200, options=srmc.RunOptions(progress=False)) for search in (True, False)]
    assert np.all(runs[0].counters["alpha_factor"] == 1.0)
    np.testing.assert_array_equal(runs[0].chain_estimates["x"], runs[1].chain_estimates["x"])


def test_health_report_says_when_the_target_is_too_large_to_predict():
    """Up to its prediction's `max_dim` coordinates the second-order prediction runs; beyond (128; here lowered to 4
    to keep the test small) it does not (its buffers grow like d^2): alpha runs as given and the health report says
    so, naming the limit."""
    lowered = SECOND_ORDER._replace(prediction=prediction.SECOND_ORDER_HISTORY._replace(max_dim=4))

    def run(dim):
        algorithm = srmc.wrap(samplers.mala, alpha=1.5, tilt=lowered, step_size=0.27)
        return srmc.sample(jax.random.key(0), algorithm, targets.get("iid_gaussian", dim=dim), 10, 2, warmup=40, options=srmc.RunOptions(progress=False))

    assert lowered.prediction.max_dim == 4
    assert run(4).warmup_stats.extra.get("predicted_variance") is not None
    beyond = run(5)
    assert beyond.warmup_stats.extra.get("predicted_variance") is None
    warning = next(w for w in beyond.warnings if w.code == "alpha_not_predicted")
    assert warning.data == {"dim": 5, "largest": 4}


def test_closed_form_two_by_two_exponential_is_expm():
    """exp(-a M) from (c, s) equals jax.scipy.linalg.expm for mean-field-like blocks (positive trace and determinant)
    with real and with complex eigenvalues, from a = 1e-4 (the series branch) to a = 1000 (both decaying to 0)."""
    blocks = np.array([[[0.6, 0.02], [0.03, 0.2]], [[0.5, 0.4], [-0.3, 0.45]], [[0.6, 0.0], [0.0, 0.6]]])  # real,
    # complex and repeated eigenvalues
    for block in blocks:
        half_trace = np.trace(block) / 2
        for a in (1e-4, 0.3, 3.0, 30.0, 1000.0):
            c, s = prediction.two_by_two_exponential(jnp.asarray(a * half_trace),
                                                     jnp.asarray(a**2 * (half_trace**2 - np.linalg.det(block))))
            closed = float(c) * np.eye(2) - a * float(s) * (block - half_trace * np.eye(2))
            np.testing.assert_allclose(closed, jax.scipy.linalg.expm(jnp.asarray(-a * block)), atol=1e-6)
