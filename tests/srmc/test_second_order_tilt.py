"""The second-order tilt: its gradient is its value's, it is bounded for every theta, its history has mean zero
under pi and a stable mean field, alpha = 0 is the base kernel, a frozen theta leaves pi_theta invariant, the
warm-up whitens it, and the whitening is what keeps E[x^2] unbiased on a correlated target."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import checkpoint as checkpoints
from srmc.method.surrogate import kernel_surrogate, surrogate_logdensity
from srmc.method.tilt import MAX_WHITENED_DIM, SECOND_ORDER, TiltReference, with_whitening
from srmc.testing import check_alpha_zero_identity, check_continuous_invariance
from srmc.testing.continuous import frozen_state, no_history_step
from tests.srmc.tilt_checks import assert_gradient_matches_differences, product_sampler
from tests.srmc.tiny_runs import assert_same_run, interrupt_at_save

jax.config.update("jax_enable_x64", False)

REFERENCE = with_whitening(TiltReference(jnp.array([0.3, -0.2]), jnp.array([0.8, 1.5])),
                           jnp.array([[0.8, 0.0], [0.6, 1.2]]))
THETA = jnp.array([[0.7, -1.3], [0.4, 0.9]])


def test_second_order_gradient_is_the_gradient_of_its_value():
    target = targets.get("banana")
    surrogate = surrogate_logdensity(target, THETA, jnp.asarray(2.5), "second_order", reference=REFERENCE)
    assert_gradient_matches_differences(surrogate, jnp.array([0.4, 1.1]))


def test_second_order_tilt_is_bounded_for_every_theta():
    """|log pi_theta - log pi| <= alpha sum |theta| sup|phi|, however large theta or x."""
    target = targets.get("banana")
    keys = jax.random.split(jax.random.key(3), 2)
    thetas = 100.0 * jax.random.normal(keys[0], (50, 2, 2))
    xs = 30.0 * jax.random.normal(keys[1], (50, 2))
    alpha = jnp.asarray(10.0)
    bound = SECOND_ORDER.feature_bound(REFERENCE)
    for theta, x in zip(thetas, xs):
        tilt = surrogate_logdensity(target, theta, alpha, "second_order", reference=REFERENCE)(x) - target.logdensity(x)
        assert abs(float(tilt)) <= float(alpha * jnp.sum(jnp.abs(theta) * bound)) * (1 + 1e-5)


def test_trust_region_bounds_every_entry_of_the_second_order_tilt():
    theta = jnp.array([[5.0, -0.01], [-9.0, 0.02]])
    clipped = SECOND_ORDER.effective_theta(theta, jnp.asarray(4.0), REFERENCE, 0.5)
    bound = 0.5 / (4.0 * np.asarray(SECOND_ORDER.feature_bound(REFERENCE)))
    np.testing.assert_allclose(clipped, np.clip(np.asarray(theta), -bound, bound))
    assert float(clipped[0, 0]) < 5.0 and float(clipped[1, 0]) > -9.0


def _exact_banana(num_draws: int):
    """Exact banana draws, their scores and a reference from their moments (whitening: their covariance's factor)."""
    target = targets.get("banana")
    x = target.sample(jax.random.key(8), num_draws)
    s = jax.vmap(target.score)(x)
    reference = with_whitening(TiltReference(jnp.mean(x, 0), jnp.std(x, 0)), jnp.linalg.cholesky(jnp.cov(x.T)))
    return x, s, reference


def test_second_order_history_has_mean_zero_under_pi():
    """Stein's identity: every entry of g(x) averages to 0 over exact draws, within 4 SE (a wrong sign in
    1 + z * S would give 2, a score in the wrong coordinates a clear offset)."""
    x, s, reference = _exact_banana(200_000)
    g = jax.vmap(lambda xi, si: SECOND_ORDER.statistic(xi, si, reference))(x, s).reshape(len(x), -1)
    z = np.asarray(jnp.mean(g, 0) / (jnp.std(g, 0) / np.sqrt(len(x))))
    assert np.all(np.abs(z) < 4), z


def test_second_order_mean_field_is_stable():
    """d theta / dt = E_pi_theta[g] - theta linearises to -(I + alpha M) theta with M = -E_pi[g phi^T]: on the
    (skewed) banana every eigenvalue of M has a positive real part, so theta = 0 is stable for every alpha."""
    x, s, reference = _exact_banana(200_000)
    target = targets.get("banana")
    g = jax.vmap(lambda xi, si: SECOND_ORDER.statistic(xi, si, reference))(x, s).reshape(len(x), -1)
    phi = jax.vmap(lambda xi: SECOND_ORDER.features(target, xi, reference))(x).reshape(len(x), -1)
    response = -np.asarray(g.T @ (phi - phi.mean(0)) / len(x), np.float64)
    assert np.all(np.linalg.eigvals(response).real > 0.05), np.linalg.eigvals(response)


def test_second_order_alpha_zero_is_the_base_kernel():
    check = check_alpha_zero_identity(samplers.mala, {"step_size": 0.3}, targets.get("banana"))
    assert check.passed and "second_order" in check.detail, check


def test_second_order_refuses_a_discrete_target():
    algorithm = srmc.wrap(samplers.gibbs, alpha=1.0, tilt="second_order", tilt_reference=(0.0, 1.0))
    with pytest.raises(TypeError, match="continuous targets.*tilt='bounded'"):
        srmc.sample(jax.random.key(0), algorithm, targets.get("ising"), 10, 2, options=srmc.RunOptions(progress=False))


def _tilted_product_sampler(theta, alpha, location, scale):
    """Exact draws of pi_theta for iid N(0, 1) coordinates and the second-order tilt with a diagonal whitening
    (a product of 1-d laws)."""
    def log_tilt(t1, t2, m, c):
        return lambda x: alpha * (t1 * np.tanh((x - m) / c) + t2 * np.tanh((x - m) / c) ** 2 / 2)

    return product_sampler([log_tilt(*args) for args in zip(*np.asarray(theta), np.asarray(location),
                                                             np.asarray(scale))])


def test_frozen_theta_second_order_leaves_its_surrogate_invariant():
    """MALA inside the wrapper with theta frozen (gamma = 0) on the second-order surrogate: the end states follow
    pi_theta exactly (a missing Metropolis correction or a wrong tilt gradient fails this two-sample test)."""
    target = targets.get("iid_gaussian", dim=2)
    theta, alpha = jnp.array([[0.8, -1.2], [1.5, -2.0]]), 2.0
    location, scale = jnp.array([0.3, -0.2]), jnp.array([0.8, 1.5])
    algorithm = srmc.wrap(samplers.mala, alpha=alpha, tilt="second_order", gamma=no_history_step, guard=False,
                          trust_region=None, alpha_ramp=0, tilt_reference=(location, scale), step_size=0.6)
    reference = with_whitening(TiltReference(location, scale), jnp.diag(scale))
    surrogate = kernel_surrogate(samplers.mala.spec, target, theta, jnp.asarray(alpha), "second_order",
                                 reference=reference)

    def init_state(rng_key, position, _logdensity):
        return frozen_state(samplers.mala.init(position, surrogate), theta, algorithm.params.acceptance)

    check = check_continuous_invariance(algorithm, {}, target, init_state_fn=init_state, num_steps=10,
                                        sample=_tilted_product_sampler(theta, alpha, location, scale),
                                        rng_key=jax.random.key(11))
    assert check.passed, check


def test_warmup_whitens_the_second_order_tilt_by_its_covariance():
    target = targets.get("correlated_gaussian", dim=4, rho=0.8)
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=5.0, tilt="second_order", step_size=0.3),
                         target, 50, 8, warmup=400, options=srmc.RunOptions(progress=False))
    assert result.warmup_stats.covariance is not None
    whitening = np.asarray(result.params.reference.whitening)
    np.testing.assert_allclose(whitening[0], np.linalg.cholesky(np.asarray(result.warmup_stats.covariance)),
                               rtol=1e-4, atol=1e-5)
    assert np.all(whitening == whitening[:1])  # one factor, the pooled warm-up's, for every chain
    inverse = np.asarray(result.params.reference.whitening_inverse)[0]
    np.testing.assert_allclose(inverse @ whitening[0], np.eye(4), atol=1e-4)
    assert result.final_state.theta.shape == (8, 2, 4)
    assert "second_order_unwhitened" not in [w.code for w in result.warnings]


def test_health_report_says_when_the_second_order_tilt_could_not_whiten():
    """Above MAX_WHITENED_DIM coordinates the warm-up records no dense covariance: the tilt whitens by sd only,
    and the health report says so."""
    dim = MAX_WHITENED_DIM + 1
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=1.0, tilt="second_order", step_size=0.3),
                         targets.get("iid_gaussian", dim=dim), 20, 2, warmup=40, options=srmc.RunOptions(progress=False))
    assert result.warmup_stats.covariance is None and result.params.reference.whitening is None
    assert "second_order_unwhitened" in [w.code for w in result.warnings]


def test_second_order_run_interrupted_resumes_bit_identical(tmp_path, monkeypatch):
    """A checkpoint carries the whitening (L and L^-1 from the warm-up) and the (2, d) history: a run killed
    between two chunks resumes to the uninterrupted run's result, bit for bit."""
    target = targets.get("correlated_gaussian", dim=3, rho=0.7)
    algorithm = srmc.wrap(samplers.mala, alpha=4.0, tilt="second_order", step_size=0.3)
    run = dict(num_steps=36, num_chains=3, warmup=60, options=srmc.RunOptions(chunk_size=6, progress=False))
    reference = srmc.sample(jax.random.key(5), algorithm, target, **run)
    path = tmp_path / "run.npz"
    interrupt_at_save(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(jax.random.key(5), algorithm, target, **run, checkpoint=path)
    monkeypatch.undo()
    assert not checkpoints.load(path).metadata["progress"]["complete"]
    resumed = srmc.sample(jax.random.key(5), algorithm, target, **run, checkpoint=srmc.Checkpointing(path, resume=True))
    assert_same_run(reference, resumed)
    np.testing.assert_array_equal(resumed.params.reference.whitening, reference.params.reference.whitening)


@pytest.mark.slow
def test_whitening_keeps_second_moments_unbiased_on_a_correlated_target():
    """Equicorrelated rho = 0.9, d = 20, HMC, alpha = 10: with the warm-up's whitening the estimates of E[x_i^2]
    are within 4 SE of 1; per-coordinate features (a diagonal whitening, given as tilt_reference) make them ~15%
    low, > 8 SE over 64 chains (why the tilt whitens)."""
    target = targets.get("correlated_gaussian")
    starts = target.sample(jax.random.key(1), 64)
    params = {"step_size": 0.1, "num_integration_steps": 10}

    def second_moment_z(**options):
        algorithm = srmc.wrap(samplers.hmc, alpha=10.0, tilt="second_order", **options, **params)
        result = srmc.sample(jax.random.key(0), algorithm, target, 4000, 64, initial_position=starts, warmup=1000, options=srmc.RunOptions(progress=False))
        estimates = np.asarray(result.chain_estimates["x^2"], np.float64)
        return (estimates.mean(0) - 1.0) / (estimates.std(0, ddof=1) / np.sqrt(len(estimates)))

    whitened = second_moment_z()
    assert np.all(np.abs(whitened) < 4), whitened
    diagonal = second_moment_z(tilt_reference=(np.zeros(20), np.ones(20)))
    assert np.all(diagonal < -8), diagonal
