"""srmc.wrap and srmc.base accept BlackJAX kernels: mala, hmc, barker, ghmc, rmh, additive_step_random_walk.

alpha = 0 reproduces a hand-written BlackJAX loop bit for bit; SRMC's cache refresh is exact for every BlackJAX
state; SRMC around BlackJAX MALA recovers exact moments; non-finite proposals are rejected and counted.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import interop, targets
from srmc.method.surrogate import surrogate_logdensity
from tests.srmc.test_recovery import assert_within_standard_errors

blackjax = pytest.importorskip("blackjax")

TARGET = targets.get("correlated_gaussian", dim=5, rho=0.5)
NAMES = ["mala", "hmc", "barker", "ghmc", "rmh", "random_walk"]


def kernel_config(name: str, dim: int = 5) -> tuple:
    """(BlackJAX API, srmc parameters) of each supported kernel."""
    scale = 0.8 * jnp.ones(dim)
    return {
        "mala": (blackjax.mala, {"step_size": 0.15}),
        "hmc": (blackjax.hmc, {"step_size": 0.3, "num_integration_steps": 5, "inverse_mass_matrix": jnp.ones(dim)}),
        "barker": (blackjax.barker, {"step_size": 0.5}),
        "ghmc": (blackjax.ghmc, {"step_size": 0.3, "momentum_inverse_scale": jnp.ones(dim), "momentum_refresh": 0.5,
                                 "delta": 0.1}),
        "rmh": (blackjax.rmh, {"transition_generator": lambda key, x: x + scale * jax.random.normal(key, x.shape)}),
        "random_walk": (blackjax.additive_step_random_walk, {"random_step": blackjax.mcmc.random_walk.normal(scale)}),
    }[name]


def plain_blackjax_draws(api, params: dict, key, target, num_steps: int, num_chains: int) -> np.ndarray:
    """BlackJAX alone, jitted scan over vmapped chains, with srmc.sample's keys and its numeric parameters handed
    in as data (as srmc does: constants folded into the program may round the last bit differently): (chains,
    steps, dim)."""
    init_key, run_key = jax.random.split(key)
    positions = target.initial_position(init_key, num_chains)
    chain_keys = jax.random.split(run_key, num_chains)
    kernel = api.build_kernel()
    if api is blackjax.ghmc:  # srmc draws GHMC's momentum and slice on the first step (see srmc.interop)
        params = {k: v for k, v in params.items() if k != "momentum_refresh"} | {"alpha": params["momentum_refresh"]}
        first_keys = jax.vmap(lambda k: interop.ghmc_auxiliary_key(jax.random.fold_in(k, 0)))(chain_keys)
        states = jax.vmap(api.init, in_axes=(0, None, 0))(positions, target.logdensity, first_keys)
    else:
        states = jax.vmap(api.init, in_axes=(0, None))(positions, target.logdensity)

    data = {name: value for name, value in params.items() if not callable(value) and not isinstance(value, int)}
    static = {name: value for name, value in params.items() if name not in data}

    def run(states, data):
        def one_step(states, n):
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, n)
            states, _ = jax.vmap(lambda k, s: kernel(k, s, target.logdensity, **data, **static))(keys, states)
            return states, states.position

        return jax.lax.scan(one_step, states, jnp.arange(num_steps))[1]

    return np.swapaxes(np.asarray(jax.jit(run)(states, data)), 0, 1)


@pytest.mark.parametrize("name", NAMES)
def test_alpha_zero_matches_plain_blackjax_bit_for_bit(name):
    api, params = kernel_config(name)
    key = jax.random.key(3)
    plain = plain_blackjax_draws(api, params, key, TARGET, 30, 3)
    # plain BlackJAX has no step jitter (srmc's default for HMC-type kernels): off for this comparison
    wrapped = srmc.sample(key, srmc.wrap(api, tilt="score", alpha=0.0, step_jitter=0.0, **params), TARGET, 30, 3, options=srmc.RunOptions(thin=1), warmup=0)
    np.testing.assert_array_equal(wrapped.draws, plain)
    assert 0.2 < wrapped.acceptance_rate.mean() <= 1.0
    assert wrapped.num_nonfinite.sum() == 0
    if name in ("mala", "ghmc"):  # the base runner goes through the same adapter
        base = srmc.sample(key, srmc.base(api, **params), TARGET, 30, 3, warmup=0, options=srmc.RunOptions(thin=1))
        np.testing.assert_array_equal(base.draws, plain)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tilt", ["score", "linear"])
def test_blackjax_cache_is_refreshed_exactly(name, tilt):
    api, params = kernel_config(name, dim=2)
    target = targets.get("banana")
    algorithm = srmc.wrap(api, alpha=2.0, tilt=tilt, **params)
    state = algorithm.init(jnp.array([0.3, 0.2]), target)
    for i in range(5):
        state, _ = algorithm.step(jax.random.key(i), state, target)
    assert float(jnp.abs(state.theta).max()) > 0
    value, grad = jax.value_and_grad(surrogate_logdensity(target, state.theta, 2.0, tilt))(state.inner.position)
    np.testing.assert_allclose(state.inner.logdensity, value, rtol=1e-5, atol=1e-5)
    if hasattr(state.inner, "logdensity_grad"):
        np.testing.assert_allclose(state.inner.logdensity_grad, grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tilt", ["score", "linear"])
@pytest.mark.parametrize("alpha,num_steps", [(1.0, 4000), (10.0, 16_000)])
def test_srmc_around_blackjax_mala_recovers_moments(tilt, alpha, num_steps):
    api, params = kernel_config("mala")
    algorithm = srmc.wrap(api, alpha=srmc.schedules.linear_warmup(alpha, 1000), tilt=tilt, **params)
    result = srmc.sample(jax.random.key(1), algorithm, TARGET, num_steps, 128,
                         initial_position=TARGET.sample(jax.random.key(5), 128), options=srmc.RunOptions(burn_in=1000), warmup=0)
    assert_within_standard_errors(result, TARGET.ground_truth)
    assert result.num_nonfinite.sum() == 0


def half_space_logdensity(x):
    """A standard Gaussian with NaN log density where x[0] >= 1."""
    return jnp.where(x[0] < 1.0, -0.5 * jnp.sum(x**2), jnp.nan)


@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_proposals_are_rejected_and_counted(name):
    api, params = kernel_config(name)
    # srmc.base and srmc.wrap read the same adapted info; alternate them to keep compilation short
    make = srmc.base if name in ("mala", "ghmc", "rmh") else lambda api, **p: srmc.wrap(api, tilt="score", alpha=1.0, **p)
    result = srmc.sample(jax.random.key(0), make(api, **params), half_space_logdensity, 300, 4,
                         initial_position=jnp.zeros(5), options=srmc.RunOptions(thin=1), warmup=0)
    assert result.num_nonfinite.sum() > 0
    assert np.all(result.draws[..., 0] < 1.0) and np.all(np.isfinite(result.mean))


@pytest.mark.parametrize("name", ["mala", "rmh", "random_walk"])
def test_recomputed_proposals_are_blackjax_own(name):
    """Where BlackJAX's info hides the proposal, srmc recomputes it: accepted steps land on it exactly, and a
    flagged step is rejected with acceptance probability 0."""
    api, params = kernel_config(name)
    adapter = interop.blackjax_kernel(api)
    kernel = jax.jit(lambda key, state: adapter.build_kernel()(key, state, half_space_logdensity, **params))
    if name == "mala":
        propose = lambda key, state: interop.mala_proposal(key, state, half_space_logdensity, **params).position
    else:
        variant, generator = ("rmh", *params.values()) if name == "rmh" else ("additive", *params.values())
        propose = lambda key, state: interop.random_walk_proposal(variant, key, state.position, generator)
    propose = jax.jit(propose)
    state = adapter.init(jnp.full(5, 0.5), half_space_logdensity)
    num_accepted = num_flagged = 0
    for i in range(100):
        key = jax.random.key(i)
        new_state, info = kernel(key, state)
        proposed = propose(key, state)
        if info.is_accepted:
            np.testing.assert_allclose(new_state.position, proposed, rtol=1e-5, atol=1e-6)  # fused differently
            num_accepted += 1
        if info.is_nonfinite:
            assert not info.is_accepted and info.acceptance_rate == 0 and proposed[0] >= 1.0
            num_flagged += 1
        else:
            assert proposed[0] < 1.0
        state = new_state
    assert num_accepted > 10 and num_flagged > 3


def test_names_parameters_and_errors():
    assert srmc.wrap(blackjax.mala, tilt="score", step_size=0.1).name == "srmc[blackjax.mala]"
    assert srmc.base(blackjax.additive_step_random_walk, random_step=lambda k, x: x).name == \
        "blackjax.additive_step_random_walk"
    with pytest.raises(TypeError, match="Unknown kernel parameter"):
        srmc.wrap(blackjax.mala, tilt="score", step=0.1)
    with pytest.raises(TypeError, match="momentum_refresh"):  # BlackJAX ghmc's alpha is renamed
        srmc.wrap(blackjax.ghmc, tilt="score", alpha=1.0, step_size=0.1, momentum_inverse_scale=jnp.ones(2), delta=0.1)
    with pytest.raises(ValueError, match="momentum_refresh"):
        srmc.base(blackjax.ghmc, step_size=0.1, momentum_inverse_scale=jnp.ones(2), momentum_refresh=1.5, delta=0.1)
    with pytest.raises(ValueError, match="step_size"):
        srmc.base(blackjax.mala, step_size=-0.1)
    dense = jnp.array([[1.0, 0.3], [0.3, 1.0]])
    srmc.base(blackjax.hmc, step_size=0.1, num_integration_steps=3, inverse_mass_matrix=dense)  # off-diagonal ok
    with pytest.raises(ValueError, match="inverse_mass_matrix"):
        srmc.base(blackjax.hmc, step_size=0.1, num_integration_steps=3, inverse_mass_matrix=-dense)
    with pytest.raises(TypeError, match="BlackJAX API"):
        interop.blackjax_kernel(object())
