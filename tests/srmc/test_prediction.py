"""The warm-up's prediction of what alpha buys (`srmc.method.prediction`): the 1/(1 + 2 a) law on Gaussians whatever
the kernel's autocorrelation, a loss predicted where the score predicts x poorly, the choice of alpha from the
curve, and the default run using it (a smaller alpha where predicted, alpha itself and the same bits elsewhere)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.method import prediction
from srmc.tools.benchmark import mse_ratio_with_stderr

jax.config.update("jax_enable_x64", False)

COVARIANCE = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, -0.5], [0.0, -0.5, 0.5]])
BATCH, BATCHES, CHAINS = 50, 10, 32


def ar1_gaussian(key: jax.Array, rho: float) -> np.ndarray:
    """(chains, steps, 3) stationary AR(1) draws of N(0, COVARIANCE) with lag-1 autocorrelation rho."""
    noise = jax.random.normal(key, (BATCH * BATCHES + 1, CHAINS, 3))

    def step(x, e):
        x = rho * x + np.sqrt(1 - rho**2) * e
        return x, x

    _, draws = jax.lax.scan(step, noise[0], noise[1:])
    return np.asarray(jnp.swapaxes(draws, 0, 1) @ np.linalg.cholesky(COVARIANCE).T)


def curve_of(x: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, float]:
    """The prediction from draws x and scores s (chains, steps, d), and the mean sech^2 slope g."""
    d = x.shape[-1]
    batch_x = x.reshape(CHAINS, BATCHES, BATCH, d).mean(2).reshape(-1, d)
    batch_s = s.reshape(CHAINS, BATCHES, BATCH, d).mean(2).reshape(-1, d)
    draws = x[:, ::8].reshape(-1, d)
    location, scale = draws.mean(0), draws.std(0)
    curve = prediction.predicted_relative_variance(jnp.asarray(batch_x), jnp.asarray(batch_s), BATCH,
                                                   jnp.asarray(draws), jnp.asarray(location), jnp.asarray(scale),
                                                   prediction.ALPHA_GRID)
    slope = float(np.mean(1 - np.tanh((draws - location) / scale) ** 2))
    return np.asarray(curve), slope


@pytest.mark.parametrize("rho", [0.0, -0.8, 0.7])
def test_gaussian_prediction_is_the_one_over_one_plus_two_alpha_law(rho):
    """On a Gaussian the score predicts x exactly (K = Sigma), so the prediction is 1 / (1 + 2 alpha g) for
    independent, antithetic (HMC-like, rho < 0) and positively correlated (MALA-like) draws alike. Its only error
    is K's, estimated from 2016 draws: relative SE sqrt(2 / 2016) = 0.03 per entry, times (1 - the law) <= 1;
    tolerance 2 SE. A wrong sign in the control variate gives values above 1; iid variances in place of
    long-run ones move the rho != 0 cases by a factor (1 + rho) / (1 - rho)."""
    x = ar1_gaussian(jax.random.key(11), rho)
    curve, slope = curve_of(x, -x @ np.linalg.inv(COVARIANCE))
    law = 1.0 / (1.0 + 2.0 * prediction.ALPHA_GRID * slope)
    np.testing.assert_allclose(curve, law, atol=2 * np.sqrt(2 / 2016))


def test_a_banana_is_predicted_to_lose_at_large_alpha():
    """x1 ~ N(0, 9), x2 = y + 0.1 (x1^2 - 9): s_1 = -x1 / 9 + 0.2 x1 y carries noise that x1 does not, so the score
    is a poor control variate for x1 (independent draws, large alpha: Var(x1 + 9 s1) / Var(x1) = 1 - 2 + 81 x 0.47
    / 9 ~ 3.2). Predicted: a gain at small alpha, a loss at large alpha."""
    keys = jax.random.split(jax.random.key(5))
    x1 = 3.0 * jax.random.normal(keys[0], (CHAINS, BATCH * BATCHES))
    y = jax.random.normal(keys[1], (CHAINS, BATCH * BATCHES))
    x = np.asarray(jnp.stack([x1, y + 0.1 * (x1**2 - 9.0)], axis=-1))
    s = np.asarray(jnp.stack([-x1 / 9.0 + 0.2 * x1 * y, -y], axis=-1))
    curve, _ = curve_of(x, s)
    assert curve.min() < 0.95 and curve[-1] > 1.5
    assert 0 < np.argmin(curve) < len(curve) - 1


def unit_banana(key: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n exact draws of the registry's banana (x1 ~ N(0, 1), x2 = y + (x1^2 - 1) / 2) and their scores."""
    target = targets.get("banana")
    draws = target.sample(key, n)
    return np.asarray(draws), np.asarray(jax.vmap(target.score)(draws))


def test_variance_floor_of_a_banana_is_what_the_score_cannot_predict():
    """Independent banana draws: regressing x1 on s = (-x1 + x1 y, -y) leaves Var = 1 - 1/2 (Cov(x1, s1) = -1,
    Var(s1) = 2), x2 leaves its x1^2 / 2 part, Var 1/2 of 3/2: floor (1/2, 1/3), ceiling 1 / mean = 2.4. The SE
    of each floor is measured from 16 independent groups of draws; tolerance 4 SE (about 0.02). A regression that
    ignored s gives 1; x in place of s gives 0; a biased score (s1 without its x1 y part) gives x1 the floor 0."""
    groups = [unit_banana(key, 20_000) for key in jax.random.split(jax.random.key(3), 16)]
    floors = np.array([prediction.variance_floor(jnp.asarray(x), jnp.asarray(s)) for x, s in groups])
    stderr = floors.std(0, ddof=1) / np.sqrt(len(floors))
    np.testing.assert_array_less(np.abs(floors.mean(0) - [0.5, 1 / 3]), 4 * stderr)
    assert float(prediction.gain_ceiling(floors.mean(0))) == pytest.approx(2.4, rel=0.05)


def test_variance_floor_is_zero_on_a_gaussian_and_bounds_the_curve():
    """On a Gaussian x is linear in s (floor 0, whatever the autocorrelation). On a banana's chains the curve at
    every alpha is at least the floor (up to the floor's degrees-of-freedom correction): each node is x corrected
    by s with some coefficient, the floor by the least-squares one."""
    x = ar1_gaussian(jax.random.key(11), -0.8)
    batch = [v.reshape(CHAINS, BATCHES, BATCH, 3).mean(2).reshape(-1, 3) for v in (x, -x @ np.linalg.inv(COVARIANCE))]
    np.testing.assert_allclose(prediction.variance_floor(*map(jnp.asarray, batch)), 0.0, atol=1e-5)
    banana_x, banana_s = unit_banana(jax.random.key(4), CHAINS * BATCHES * BATCH)
    shape = (CHAINS, BATCHES * BATCH, 2)
    curve, _ = curve_of(banana_x.reshape(shape), banana_s.reshape(shape))
    means = [v.reshape(CHAINS, BATCHES, BATCH, 2).mean(2).reshape(-1, 2) for v in (banana_x, banana_s)]
    floor = np.asarray(prediction.variance_floor(*map(jnp.asarray, means)))
    batches = CHAINS * BATCHES
    assert np.all(curve >= floor.mean() * (batches - 3) / (batches - 1) * (1 - 1e-3))  # trapezoid's 0.1%


def test_variance_floor_needs_enough_batches():
    x = np.random.default_rng(0).normal(size=(30, 8))
    assert np.all(np.isnan(prediction.variance_floor(jnp.asarray(x), jnp.asarray(-x))))  # 30 < 4 x 9


def test_alpha_factor_keeps_alpha_unless_a_smaller_one_pays():
    grid = prediction.ALPHA_GRID
    decreasing = 1.0 / (1.0 + grid)
    assert float(prediction.alpha_factor(grid, decreasing, 10.0)) == 1.0
    dip = np.where(grid == 0.5, 0.6, np.where(grid < 0.5, 0.9, 1.5))  # best at 0.5, worse beyond
    assert float(prediction.alpha_factor(grid, dip, 10.0)) == pytest.approx(0.05)
    assert float(prediction.alpha_factor(grid, np.full_like(grid, 1.3), 10.0)) == 0.0  # the base kernel
    assert float(prediction.alpha_factor(grid, np.full_like(grid, 0.97), 10.0)) == 1.0  # no 5% to gain
    assert float(prediction.alpha_factor(grid, np.where(grid > 1, np.nan, 0.9), 10.0)) == 1.0  # no prediction


def bananas(scales=(3.0, 5.0, 2.0), bends=(0.1, 0.03, 0.2)) -> targets.Target:
    """Independent bananas (x1, x2): x1 ~ N(0, scale^2), x2 = y + bend (x1^2 - scale^2), y ~ N(0, 1); mean 0."""
    scale, bend = jnp.asarray(scales), jnp.asarray(bends)

    def logdensity(x):
        x1, x2 = x[0::2], x[1::2]
        return jnp.sum(-0.5 * (x1 / scale) ** 2 - 0.5 * (x2 - bend * (x1**2 - scale**2)) ** 2)

    def sample(key, n):
        k1, k2 = jax.random.split(key)
        x1 = scale * jax.random.normal(k1, (n, scale.size))
        x2 = jax.random.normal(k2, (n, scale.size)) + bend * (x1**2 - scale**2)
        return jnp.stack([x1, x2], axis=-1).reshape(n, 2 * scale.size)

    variance = np.stack([np.square(scales), 1 + 2 * np.square(bends) * np.power(scales, 4)], axis=-1).reshape(-1)
    return targets.base.exact_target("bananas", logdensity, sample, np.zeros(variance.size), variance, {})


HMC = {"step_size": 0.1, "num_integration_steps": 10}


def test_default_lowers_alpha_where_predicted_and_says_so():
    target = bananas(scales=(3.0,), bends=(0.1,))
    starts = target.sample(jax.random.key(1), 16)
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.hmc, alpha=10.0, **HMC), target, 20, 16,
                         initial_position=starts, warmup=400, options=srmc.RunOptions(progress=False))
    factor = result.counters["alpha_factor"]
    assert np.all(factor == factor[0]) and factor[0] < 1.0
    assert result.warmup_stats.extra.get("predicted_variance").shape == prediction.ALPHA_GRID.shape
    assert result.warmup_stats.extra.get("variance_floor").shape == (2,)
    assert "no alpha buys more than" in result.summary()
    warning = next(w for w in result.warnings if w.code == "alpha_reduced")
    assert warning.data["alpha_factor"] == pytest.approx(float(factor[0]))
    forced = srmc.sample(jax.random.key(0), srmc.wrap(samplers.hmc, alpha=10.0, alpha_search=False, **HMC), target,
                         20, 16, initial_position=starts, warmup=400, options=srmc.RunOptions(progress=False))
    assert np.all(forced.counters["alpha_factor"] == 1.0) and forced.warmup_stats.extra.get("predicted_variance") is None
    assert "alpha_reduced" not in [w.code for w in forced.warnings]


def test_default_keeps_alpha_on_a_gaussian_bit_for_bit():
    """Where the prediction keeps alpha, the run is the one without the search, bit for bit."""
    target = targets.get("correlated_gaussian")
    runs = [srmc.sample(jax.random.key(2), srmc.wrap(samplers.mala, alpha=10.0, alpha_search=search, step_size=0.1),
                        target, 50, 8, warmup=200, options=srmc.RunOptions(progress=False)) for search in (True, False)]
    assert np.all(runs[0].counters["alpha_factor"] == 1.0)
    np.testing.assert_array_equal(runs[0].chain_estimates["x"], runs[1].chain_estimates["x"])


def test_alpha_search_is_the_referenced_tilts():
    """The bounded and second-order tilts predict alpha (`test_second_order_prediction`); the paper's do not."""
    with pytest.raises(ValueError, match="alpha_search"):
        srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", alpha_search=True, step_size=0.1)
    with pytest.raises(TypeError, match="alpha_search"):
        srmc.wrap(samplers.mala, alpha=1.0, alpha_search="yes", step_size=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("tilt", ["bounded", "second_order"])
def test_hmc_at_alpha_10_is_not_worse_than_base_on_bananas(tilt):
    """SRMC-HMC with 10 leapfrog steps at alpha = 10 on three bananas, with the default tilt and with the second-order
    one: with alpha as given it is significantly worse than base HMC (ratio + 2 SE < 1); with the tilt's prediction
    it is not (ratio + 2 SE >= 1). Same keys,
    starts and warm-up for all three; 32 chains x 2000 steps after a 1000-step warm-up. (One 2-d banana is a poor
    test: now and then one chain of either kernel sticks in its tail, and that one chain is the MSE.)"""
    target, chains = bananas(), 32
    starts = target.sample(jax.random.key(1), chains)

    def estimates(algorithm):
        result = srmc.sample(jax.random.key(0), algorithm, target, 2000, chains, initial_position=starts,
                             warmup=1000, options=srmc.RunOptions(progress=False))
        return np.asarray(result.chain_estimates["x"], np.float64)

    base = estimates(srmc.base(samplers.hmc, **HMC))
    forced = estimates(srmc.wrap(samplers.hmc, alpha=10.0, tilt=tilt, alpha_search=False, **HMC))
    default = estimates(srmc.wrap(samplers.hmc, alpha=10.0, tilt=tilt, **HMC))
    truth = target.ground_truth.mean
    ratio, se = mse_ratio_with_stderr(base, forced, truth)
    assert ratio + 2 * se < 1.0, (ratio, se)
    ratio, se = mse_ratio_with_stderr(base, default, truth)
    assert ratio + 2 * se >= 1.0, (ratio, se)


def test_equilibrium_check_passes_pi_and_fails_chains_that_have_not_reached_it():
    """Stein's identity on base chains in equilibrium holds (false-alarm rate 1e-3 by construction); on chains
    sitting 0.5 sd off the mode (mean score 0.5, z ~ 0.5 sqrt(32 chains x 500 steps / 50)) or with half pi's
    spread (E[(x - m) s] = -1/4 instead of -1) it fails."""
    x = ar1_gaussian(jax.random.key(3), 0.7)
    precision = np.linalg.inv(COVARIANCE)

    def agrees(positions, scores):
        d = positions.shape[-1]
        batch_s = scores.reshape(CHAINS, BATCHES, BATCH, d).mean(2).reshape(-1, d)
        draws, draw_scores = positions[:, ::8].reshape(-1, d), scores[:, ::8].reshape(-1, d)
        return bool(prediction.in_equilibrium(jnp.asarray(batch_s), jnp.asarray(draws), jnp.asarray(draw_scores),
                                              CHAINS))

    assert agrees(x, -x @ precision)
    shifted = x + 0.5 * np.sqrt(np.diag(COVARIANCE))
    assert not agrees(shifted, -shifted @ precision)
    narrow = 0.5 * x
    assert not agrees(narrow, -narrow @ precision)
