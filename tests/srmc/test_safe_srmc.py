"""Safe SRMC: the bounded tilt (proper for every theta, exact gradient, invariant law), the default settings, the
guard (fires on a run built to trigger it, silent and bit-for-bit invisible on a healthy one) and the finite-n
bias check of the health report."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine.health import bias_from_halves
from srmc.method.surrogate import kernel_surrogate, surrogate_logdensity
from srmc.method.tilt import BOUNDED, TiltReference
from srmc.testing import check_continuous_invariance
from srmc.testing.continuous import frozen_state, no_history_step
from tests.srmc.tilt_checks import assert_gradient_matches_differences, product_sampler

jax.config.update("jax_enable_x64", False)


def student_t(dim: int = 3, dof: float = 5.0) -> targets.Target:
    """Independent Student-t coordinates: no exponential moments (the linear tilt is improper for every theta != 0),
    and a score that stays bounded (the score tilt's term does too): mean 0, variance dof / (dof - 2)."""

    def logdensity(x):
        return -0.5 * (dof + 1.0) * jnp.sum(jnp.log1p(x**2 / dof))

    def sample(key, n):
        return jax.random.t(key, dof, (n, dim))

    return targets.base.exact_target("student_t", logdensity, sample, np.zeros(dim),
                                     np.full(dim, dof / (dof - 2.0)), {"dim": dim, "dof": dof})


REFERENCE = TiltReference(jnp.array([0.3, -0.2]), jnp.array([0.8, 1.5]))


def test_bounded_tilt_gradient_is_the_gradient_of_its_value():
    target = targets.get("banana")
    theta, alpha = jnp.array([0.7, -1.3]), jnp.asarray(2.5)
    surrogate = surrogate_logdensity(target, theta, alpha, "bounded", reference=REFERENCE)
    assert_gradient_matches_differences(surrogate, jnp.array([0.4, 1.1]))


def test_bounded_tilt_is_bounded_for_every_theta():
    """|log pi_theta - log pi| <= alpha sum_i |theta_i| c_i, however large theta or x."""
    target = targets.get("banana")
    keys = jax.random.split(jax.random.key(3), 3)
    thetas = 100.0 * jax.random.normal(keys[0], (50, 2))
    xs = 30.0 * jax.random.normal(keys[1], (50, 2))
    alpha = jnp.asarray(10.0)
    for theta, x in zip(thetas, xs):
        tilt = surrogate_logdensity(target, theta, alpha, "bounded", reference=REFERENCE)(x) - target.logdensity(x)
        assert abs(float(tilt)) <= float(alpha * jnp.sum(jnp.abs(theta) * REFERENCE.scale)) * (1 + 1e-5)


def test_trust_region_bounds_every_coordinate_of_the_tilt():
    theta = jnp.array([5.0, -0.01])
    clipped = BOUNDED.effective_theta(theta, jnp.asarray(4.0), REFERENCE, 0.5)
    np.testing.assert_allclose(clipped, [0.5 / (4.0 * 0.8), -0.01])
    assert BOUNDED.effective_theta(theta, jnp.asarray(4.0), REFERENCE, None) is theta


def _tilted_product_sampler(theta, alpha, reference):
    """Exact draws of pi_theta for iid N(0, 1) coordinates and the bounded tilt (a product of 1-d laws)."""
    return product_sampler([lambda x, t=t, m=m, c=c: alpha * t * c * np.tanh((x - m) / c)
                            for t, m, c in zip(np.asarray(theta), np.asarray(reference.location),
                                               np.asarray(reference.scale))])


def test_frozen_theta_bounded_tilt_leaves_its_surrogate_invariant():
    """MALA inside the wrapper with theta frozen (gamma = 0): the end states follow pi_theta exactly (a missing
    Metropolis correction or a wrong tilt gradient sign fails this two-sample test)."""
    target = targets.get("iid_gaussian", dim=2)
    theta, alpha = jnp.array([0.8, -1.2]), 2.0
    reference = REFERENCE
    algorithm = srmc.wrap(samplers.mala, alpha=alpha, gamma=no_history_step, guard=False, trust_region=None,
                          alpha_ramp=0, tilt_reference=(reference.location, reference.scale), step_size=0.6)
    # the surrogate as the wrapper hands it to MALA (a Density: the state caches log pi and s as its aux)
    surrogate = kernel_surrogate(samplers.mala.spec, target, theta, jnp.asarray(alpha), "bounded", reference=reference)

    def init_state(rng_key, position, _logdensity):
        return frozen_state(samplers.mala.init(position, surrogate), theta, algorithm.params.acceptance)

    check = check_continuous_invariance(algorithm, {}, target, init_state_fn=init_state, num_steps=10,
                                        sample=_tilted_product_sampler(theta, alpha, reference),
                                        rng_key=jax.random.key(11))
    assert check.passed, check


def test_default_is_the_bounded_tilt_with_ramp_trust_region_guard_and_warmup():
    algorithm = srmc.wrap(samplers.mala, alpha=10.0, step_size=0.3)
    assert dict(algorithm.shown)["tilt"] == "bounded" and dict(algorithm.shown)["trust_region"] == 0.5
    assert isinstance(algorithm.params.reference, srmc.Unset)  # measured by the warm-up
    alpha_n = srmc.schedules.Schedule(algorithm.step_fn.config.alpha, algorithm.params.alpha)
    np.testing.assert_allclose(float(alpha_n(100)), 100 / (100 + 100 / 10.0))  # rational ramp, C = 100
    target = targets.get("iid_gaussian", dim=3)
    result = srmc.sample(jax.random.key(0), algorithm, target, 50, 4, options=srmc.RunOptions(progress=False))
    assert result.warmup_steps == srmc.engine.warmup.DEFAULT_WARMUP
    with pytest.raises(ValueError, match="warmup"):
        srmc.sample(jax.random.key(0), algorithm, target, 50, 4, warmup=0)
    # the paper's tilts keep their settings: constant alpha, no trust region, no warm-up needed
    paper = srmc.wrap(samplers.mala, alpha=10.0, tilt="score", step_size=0.3)
    shown = dict(paper.shown)
    assert shown["alpha"] == 10.0 and "trust_region" not in shown and not isinstance(paper.params.reference, srmc.Unset)
    with pytest.raises(ValueError, match="trust_region"):
        srmc.wrap(samplers.mala, alpha=1.0, tilt="score", trust_region=0.5, step_size=0.3)


def test_default_recovers_a_heavy_tailed_target_where_the_linear_tilt_is_improper():
    """Student-t (no exponential moments): the default's estimates of mean and variance lie within 4 SE of the
    truth, and it does not lose to the base kernel."""
    target = student_t()
    starts = target.sample(jax.random.key(5), 64)
    common = dict(initial_position=starts, options=srmc.RunOptions(progress=False), warmup=500)
    base = srmc.sample(jax.random.key(1), srmc.base(samplers.mala, step_size=0.5), target, 3000, 64, **common)
    srmc_run = srmc.sample(jax.random.key(1), srmc.wrap(samplers.mala, alpha=10.0, step_size=0.5), target, 3000, 64,
                           **common)
    truth = target.ground_truth
    z_mean = srmc_run.mean / srmc_run.mcse("x")
    assert np.all(np.abs(z_mean) < 4), z_mean
    z_var = (srmc_run.variance - truth.variance) / srmc_run.variance_mcse
    assert np.all(np.abs(z_var) < 4), z_var
    mse = [float(np.mean(r.chain_estimates["x"] ** 2)) for r in (base, srmc_run)]
    assert mse[1] < mse[0], mse
    assert srmc_run.counters["guard_events"].sum() == 0


def test_guard_backs_alpha_off_on_a_collapsing_surrogate_and_reports_it():
    """The paper's score tilt at constant alpha = 10 on eight schools: its surrogate turns improper (the score of
    log tau grows faster than log pi), acceptance collapses and chains freeze; the guard halves alpha on those
    chains and restarts their history, counts it and says so, and the chains move again."""
    target = targets.get("eight_schools")

    def run(guard):
        algorithm = srmc.wrap(samplers.mala, alpha=10.0, tilt="score", step_size=0.3, guard=guard)
        return srmc.sample(jax.random.key(2), algorithm, target, 1500, 16, warmup=500, options=srmc.RunOptions(progress=False))

    guarded, unguarded = run(True), run(False)
    events = guarded.counters["guard_events"]
    assert events.sum() > 0 and unguarded.counters["guard_events"].sum() == 0
    assert np.all(guarded.counters["alpha_backoff"][events > 0] == 0.5 ** events[events > 0])
    assert "guard_backoff" in [w.code for w in guarded.warnings]
    frozen = [int(np.sum(r.acceptance_rate < 0.01)) for r in (guarded, unguarded)]
    assert frozen[0] < frozen[1] and np.mean(guarded.acceptance_rate) > 2 * np.mean(unguarded.acceptance_rate)


def test_guard_is_silent_and_invisible_on_a_healthy_run():
    target = targets.get("correlated_gaussian", dim=4, rho=0.5)
    starts = target.sample(jax.random.key(5), 8)

    def run(guard):
        algorithm = srmc.wrap(samplers.mala, alpha=5.0, tilt="score", step_size=0.3, guard=guard)
        return srmc.sample(jax.random.key(4), algorithm, target, 500, 8, initial_position=starts, options=srmc.RunOptions(progress=False), warmup=0)

    guarded, plain = run(True), run(False)
    assert guarded.counters["guard_events"].sum() == 0
    np.testing.assert_array_equal(guarded.chain_estimates["x"], plain.chain_estimates["x"])
    assert "guard_backoff" not in [w.code for w in guarded.warnings]


def test_bias_check_flags_a_drifting_estimate_and_not_a_stationary_one():
    """Base MALA on N(0, 1) from x = 4 for every chain: the estimate's start-up bias (~ 1/n) does not shrink with
    256 chains, and the health report says it exceeds the MCSE; from exact draws it stays silent."""
    target = targets.get("iid_gaussian", dim=2)
    algorithm = srmc.base(samplers.mala, step_size=0.2)
    far = srmc.sample(jax.random.key(1), algorithm, target, 400, 256, initial_position=jnp.full((256, 2), 4.0), options=srmc.RunOptions(progress=False), warmup=0)
    bias, stderr = bias_from_halves(far)
    assert np.all(bias / stderr > 4)
    assert "bias_exceeds_mcse" in [w.code for w in far.warnings]
    exact = srmc.sample(jax.random.key(1), algorithm, target, 400, 256,
                        initial_position=target.sample(jax.random.key(2), 256), options=srmc.RunOptions(progress=False))
    assert "bias_exceeds_mcse" not in [w.code for w in exact.warnings]
