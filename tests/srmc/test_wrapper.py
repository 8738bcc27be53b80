"""The SRMC wrapper: alpha = 0 identity, exact cache refresh, surrogate gradients, theta contraction."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import targets
from srmc.method.surrogate import surrogate_density, surrogate_logdensity
from srmc.method.tilt import TiltReference
from tests.srmc.kernel_configs import CONTINUOUS_KERNELS, kernel


@pytest.fixture(scope="module")
def gaussian():
    return targets.get("correlated_gaussian", dim=20, rho=0.9)


@pytest.mark.parametrize("name", sorted(CONTINUOUS_KERNELS))
@pytest.mark.parametrize("tilt,gradient", [("score", "exact"), ("score", "shifted"), ("linear", "exact")])
def test_alpha_zero_reproduces_base_kernel_bit_for_bit(gaussian, name, tilt, gradient):
    module, params = kernel(name)
    key = jax.random.key(11)
    plain = srmc.sample(key, srmc.base(module, **params), gaussian, num_steps=30, num_chains=3, options=srmc.RunOptions(thin=1), warmup=0)
    wrapped = srmc.sample(
        key, srmc.wrap(module, alpha=0.0, tilt=tilt, gradient=gradient, **params), gaussian, 30, 3, options=srmc.RunOptions(thin=1), warmup=0
    )
    np.testing.assert_array_equal(plain.draws, wrapped.draws)
    np.testing.assert_array_equal(plain.acceptance_rate, wrapped.acceptance_rate)


def _naive_surrogate(target, theta, alpha, tilt):
    if tilt == "score":
        return lambda x: target.logdensity(x) - alpha * jnp.vdot(theta, jax.grad(target.logdensity)(x))
    return lambda x: target.logdensity(x) + alpha * jnp.vdot(theta, x)


@pytest.mark.parametrize("tilt", ["score", "linear"])
def test_surrogate_value_and_exact_gradient_match_autodiff(tilt):
    target = targets.get("banana")
    x, theta = jnp.array([0.7, -1.3]), jnp.array([0.4, 0.9])
    fast = surrogate_logdensity(target, theta, 3.0, tilt, "exact")
    naive = _naive_surrogate(target, theta, 3.0, tilt)
    value, grad = jax.value_and_grad(fast)(x)
    np.testing.assert_allclose(value, naive(x), rtol=1e-6)
    np.testing.assert_allclose(grad, jax.grad(naive)(x), rtol=1e-5, atol=1e-6)


def test_shifted_gradient_is_score_at_shifted_point_and_value_stays_exact():
    target = targets.get("banana")
    x, theta, alpha = jnp.array([0.7, -1.3]), jnp.array([0.4, 0.9]), 0.5
    value, grad = jax.value_and_grad(surrogate_logdensity(target, theta, alpha, "score", "shifted"))(x)
    np.testing.assert_allclose(grad, target.score(x - alpha * theta), rtol=1e-6)
    np.testing.assert_allclose(value, _naive_surrogate(target, theta, alpha, "score")(x), rtol=1e-6)


@pytest.mark.parametrize("name", ["mala", "hmc", "kinetic_langevin"])
@pytest.mark.parametrize("tilt,gradient", [("score", "exact"), ("score", "shifted"), ("linear", "exact")])
def test_cache_is_refreshed_exactly_for_the_new_theta(name, tilt, gradient):
    target = targets.get("banana")
    module, params = kernel(name)
    algorithm = srmc.wrap(module, alpha=2.0, tilt=tilt, gradient=gradient, **params)
    state = algorithm.init(jnp.array([0.3, 0.2]), target)
    for i in range(5):
        state, _ = algorithm.step(jax.random.key(i), state, target)
    surrogate = surrogate_logdensity(target, state.theta, 2.0, tilt, gradient)
    value, grad = jax.value_and_grad(surrogate)(state.inner.position)
    np.testing.assert_allclose(state.inner.logdensity, value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state.inner.logdensity_grad, grad, rtol=1e-5, atol=1e-5)
    assert int(state.count) == 5 and float(jnp.linalg.norm(state.theta)) > 0


def test_theta_update_is_the_running_average_of_scores():
    target = targets.get("iid_gaussian", dim=3)
    module, params = kernel("mala")
    algorithm = srmc.wrap(module, tilt="score", alpha=1.0, gamma=0.25, **params)
    state = algorithm.init(jnp.ones(3), target)
    new_state, info = algorithm.step(jax.random.key(0), state, target)
    expected = state.theta + 0.25 * (target.score(new_state.inner.position) - state.theta)
    np.testing.assert_allclose(new_state.theta, expected, rtol=1e-6)
    assert float(info.gamma) == 0.25 and float(info.alpha) == 1.0


@pytest.mark.parametrize("tilt", ["score", "linear"])
def test_theta_shrinks_towards_zero_on_a_gaussian(tilt):
    target = targets.get("iid_gaussian", dim=10)
    module, params = kernel("mala")
    params["step_size"] = 0.3
    result = srmc.sample(
        jax.random.key(4), srmc.wrap(module, alpha=5.0, tilt=tilt, **params), target, 4000, 32,
        initial_position=target.sample(jax.random.key(1), 32), options=srmc.RunOptions(thin=1), warmup=0,
    )
    start, end = result.draw_stats["theta_norm"][:, 0].mean(), result.draw_stats["theta_norm"][:, -1].mean()
    assert end < 0.25 * start, (start, end)
    plain = srmc.sample(
        jax.random.key(4), srmc.wrap(module, alpha=0.0, tilt=tilt, **params), target, 4000, 32,
        initial_position=target.sample(jax.random.key(1), 32), options=srmc.RunOptions(thin=1), warmup=0,
    )
    # with repellence theta shrinks faster than the plain running average of scores
    assert end < 0.5 * plain.draw_stats["theta_norm"][:, -1].mean()


@pytest.mark.parametrize("name", ["rwm", "mala", "hmc"])
def test_the_kernel_hands_back_log_pi_and_the_score_and_a_warmup_refreshes_them(name):
    """A ``split_density`` kernel caches (log pi, s) at its position as its aux, which the history reads; a
    warm-up runs it on pi's plain callable, which keeps the aux as it was, so ``with_reference`` recomputes it."""
    target = targets.get("banana")
    module, params = kernel(name)
    algorithm = srmc.wrap(module, alpha=1.0, tilt="score", gradient="shifted", **params)
    state = algorithm.init(jnp.array([0.3, 0.2]), target)
    for i in range(5):
        state, _ = algorithm.step(jax.random.key(i), state, target)
    for aux, expected in zip(state.inner.aux, target.value_and_score(state.inner.position)):
        np.testing.assert_allclose(aux, expected, rtol=1e-6)
    inner, step = state.inner, module.build_kernel()
    for i in range(20):  # as the warm-up does: the base kernel on pi
        inner, _ = step(jax.random.key(100 + i), inner, target.logdensity, **params)
    assert not np.allclose(inner.position, state.inner.position)
    stats = srmc.WarmupStats(jnp.zeros(2), jnp.ones(2), jnp.zeros(2), jnp.ones(2), 0.6, 100)
    params = algorithm.adaptation.finish(algorithm.params, stats, target)
    warmed = algorithm.adaptation.restart(state._replace(inner=inner), target, params)
    for aux, expected in zip(warmed.inner.aux, target.value_and_score(inner.position)):
        np.testing.assert_allclose(aux, expected, rtol=1e-6)


@pytest.mark.parametrize("tilt,gradient", [("score", "exact"), ("score", "shifted"), ("score", "finite_difference"),
                                           ("linear", "exact"), ("bounded", "exact")])
def test_the_split_surrogate_is_the_custom_derivative_one(tilt, gradient):
    """`surrogate_density`'s value, gradient and gradient-only evaluation agree with ``jax.value_and_grad`` of
    `surrogate_logdensity`, and its aux is (log pi, s)."""
    target = targets.get("banana")
    x, theta, alpha = jnp.array([0.7, -1.3]), jnp.array([0.4, 0.9]), 0.5
    reference = TiltReference(jnp.array([0.1, -0.2]), jnp.array([1.5, 0.8]))
    value, grad = jax.value_and_grad(surrogate_logdensity(target, theta, alpha, tilt, gradient,
                                                          reference=reference))(x)
    density = surrogate_density(target, theta, alpha, tilt, gradient, reference=reference)
    split_value, split_grad, aux = density.value_and_grad(x)
    np.testing.assert_allclose(split_value, value, rtol=1e-6)
    np.testing.assert_allclose(split_grad, grad, rtol=1e-5)
    np.testing.assert_allclose(density.grad(x), grad, rtol=1e-5)
    np.testing.assert_allclose(density.value(x)[0], value, rtol=1e-6)
    for got, expected in zip(aux, target.value_and_score(x)):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
