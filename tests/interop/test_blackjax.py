"""srmc.wrap accepts BlackJAX kernels (mala, hmc, barker, additive_step_random_walk) with their parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
import targets
from srmc.tilt import surrogate_logdensity
from tests.srmc.test_recovery import assert_within_standard_errors

blackjax = pytest.importorskip("blackjax")

TARGET = targets.get("correlated_gaussian", dim=5, rho=0.5)


def kernels():
    """(name, BlackJAX API, parameters) for every supported kernel."""
    return {
        "mala": (blackjax.mala, {"step_size": 0.15}),
        "hmc": (blackjax.hmc, {"step_size": 0.3, "num_integration_steps": 5, "inverse_mass_matrix": jnp.ones(5)}),
        "barker": (blackjax.barker, {"step_size": 0.5}),
        "random_walk": (blackjax.additive_step_random_walk,
                        {"random_step": blackjax.mcmc.random_walk.normal(0.8 * jnp.ones(5))}),
    }


@pytest.mark.parametrize("name", ["mala", "hmc", "barker", "random_walk"])
def test_alpha_zero_matches_plain_blackjax(name):
    api, params = kernels()[name]
    key = jax.random.key(3)
    plain = srmc.sample(key, srmc.base(api, **params), TARGET, 40, 3, thin=1)
    wrapped = srmc.sample(key, srmc.wrap(api, alpha=0.0, **params), TARGET, 40, 3, thin=1)
    np.testing.assert_array_equal(plain.draws, wrapped.draws)
    assert 0.2 < plain.acceptance_rate.mean() <= 1.0


def test_base_runner_reproduces_a_hand_written_blackjax_loop():
    api, params = kernels()["mala"]
    key = jax.random.key(7)
    result = srmc.sample(key, srmc.base(api, **params), TARGET, 25, 2, thin=1)
    init_key, run_key = jax.random.split(key)
    positions = TARGET.initial_position(init_key, 2)
    kernel = api.build_kernel()
    for chain, chain_key in enumerate(jax.random.split(run_key, 2)):
        state = api.init(positions[chain], TARGET.logdensity)
        for n in range(25):
            state, _ = kernel(jax.random.fold_in(chain_key, n), state, TARGET.logdensity, **params)
            np.testing.assert_allclose(result.draws[chain, n], state.position, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mala", "hmc", "barker"])
@pytest.mark.parametrize("tilt", ["score", "linear"])
def test_blackjax_cache_is_refreshed_exactly(name, tilt):
    api, params = kernels()[name]
    target = targets.get("banana")
    params = dict(params, inverse_mass_matrix=jnp.ones(2)) if name == "hmc" else params
    algorithm = srmc.wrap(api, alpha=2.0, tilt=tilt, **params)
    state = algorithm.init(jnp.array([0.3, 0.2]), target)
    for i in range(5):
        state, _ = algorithm.step(jax.random.key(i), state, target)
    value, grad = jax.value_and_grad(surrogate_logdensity(target, state.theta, 2.0, tilt))(state.inner.position)
    np.testing.assert_allclose(state.inner.logdensity, value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state.inner.logdensity_grad, grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tilt", ["score", "linear"])
@pytest.mark.parametrize("alpha,num_steps", [(1.0, 4000), (10.0, 16_000)])
def test_srmc_around_blackjax_mala_recovers_moments(tilt, alpha, num_steps):
    api, params = kernels()["mala"]
    algorithm = srmc.wrap(api, alpha=srmc.schedules.linear_warmup(alpha, 1000), tilt=tilt, **params)
    result = srmc.sample(jax.random.key(1), algorithm, TARGET, num_steps, 128, burn_in=1000,
                         initial_position=TARGET.sample(jax.random.key(5), 128))
    assert_within_standard_errors(result, TARGET.ground_truth)


@pytest.mark.parametrize("name,counted", [("hmc", True), ("random_walk", False)])
def test_nonfinite_proposals_of_blackjax_kernels(name, counted):
    """Rejected either way; counted where BlackJAX's info shows the proposal (HMC), not where it hides it."""
    api, params = kernels()[name]
    logdensity = lambda x: jnp.where(x[0] < 1.0, -0.5 * jnp.sum(x**2), jnp.nan)
    result = srmc.sample(jax.random.key(0), srmc.wrap(api, alpha=1.0, **params), logdensity, 500, 4,
                         initial_position=jnp.zeros(5), thin=1)
    assert (result.num_nonfinite.sum() > 0) == counted
    assert np.all(result.draws[..., 0] < 1.0) and np.all(np.isfinite(result.mean))
