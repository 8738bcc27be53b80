"""SRMC in BlackJAX's three layers: ``algorithm.init`` / ``algorithm.step`` with a plain log density in a
hand-written, vmapped ``jax.lax.scan`` are `srmc.sample(..., warmup=0)` bit for bit; hyperparameters are data;
stepping with a parameter only the warm-up sets says so; the base kernel gets the same warm-up as SRMC."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets

DIM, CHAINS, STEPS = 5, 3, 40


def logdensity(x):
    """A correlated, non-Gaussian log density given as a plain function (its score is autodiff)."""
    return -0.5 * jnp.sum(x**2) - 0.3 * x[0] * x[1] - 0.1 * jnp.sum(x**4) / 4


TARGET = targets.from_logdensity(logdensity, DIM)


def hand_written_draws(algorithm: srmc.Algorithm, key: jax.Array) -> np.ndarray:
    """A user's own loop with srmc.sample's keys, the parameters handed in as data: (chains, steps, dim)."""
    init_key, run_key = jax.random.split(key)
    positions = TARGET.initial_position(init_key, CHAINS)
    chain_keys = jax.random.split(run_key, CHAINS)
    states = jax.vmap(algorithm.init, in_axes=(0, None))(positions, logdensity)

    def run(states, params):
        def one_step(states, n):
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, n)
            states, _ = jax.vmap(algorithm.step, in_axes=(0, 0, None, None))(keys, states, logdensity, params)
            return states, algorithm.position(states)

        return jax.lax.scan(one_step, states, jnp.arange(STEPS))[1]

    return np.swapaxes(np.asarray(jax.jit(run)(states, algorithm.params)), 0, 1)


def kernels():
    yield pytest.param(samplers.mala, {"step_size": 0.2, "inverse_mass_matrix": jnp.full(DIM, 0.9)}, id="mala")
    blackjax = pytest.importorskip("blackjax")
    yield pytest.param(blackjax.mala, {"step_size": 0.2}, id="blackjax.mala")


@pytest.mark.parametrize("kernel, params", list(kernels()))
def test_a_hand_written_scan_with_a_plain_log_density_is_sample_without_warmup(kernel, params):
    """Everything the warm-up would set is given (step size, mass, the tilt's reference); the default bounded
    tilt, its ramp, trust region and guard all run inside ``algorithm.step``."""
    reference = (jnp.full(DIM, 0.1), jnp.full(DIM, 0.8))
    algorithm = srmc.wrap(kernel, alpha=10.0, tilt_reference=reference, **params)
    key = jax.random.key(7)
    sampled = srmc.sample(key, algorithm, TARGET, STEPS, CHAINS, warmup=0, options=srmc.RunOptions(thin=1))
    np.testing.assert_array_equal(hand_written_draws(algorithm, key), sampled.draws)
    assert float(np.abs(sampled.draws[:, -1] - sampled.draws[:, 0]).max()) > 0  # the chains moved


def test_a_sweep_over_alpha_is_an_array_of_parameters():
    """vmap over alpha's numbers: one compiled step serves every alpha, each chain's draws those of its own
    srmc.wrap(alpha=...)."""
    alphas = (1.0, 4.0, 16.0)
    made = [srmc.wrap(samplers.mala, alpha=a, tilt="linear", step_size=0.2) for a in alphas]
    stacked = jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(leaf) for leaf in leaves]),
                           *[algorithm.params for algorithm in made])
    algorithm, position = made[0], jnp.zeros(DIM)
    state = algorithm.init(position, logdensity)
    step = jax.jit(jax.vmap(algorithm.step, in_axes=(None, None, None, 0)), static_argnums=2)
    swept, _ = step(jax.random.key(3), state, logdensity, stacked)
    for i, single in enumerate(made):
        alone, _ = single.step(jax.random.key(3), state, logdensity)
        np.testing.assert_allclose(swept.inner.position[i], alone.inner.position, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(swept.theta[i], alone.theta, rtol=1e-6, atol=1e-7)


def test_stepping_by_hand_with_a_parameter_only_the_warmup_sets_names_it():
    state_position = jnp.zeros(DIM)
    no_step = srmc.wrap(samplers.mala, alpha=1.0, tilt="linear")
    state = no_step.init(state_position, logdensity)  # init needs no step size
    with pytest.raises(ValueError, match="step_size"):
        no_step.step(jax.random.key(0), state, logdensity)
    dmala = srmc.wrap(samplers.dmala, alpha=1.0)
    ising = targets.get("ising", side=2)
    with pytest.raises(ValueError, match="step_size: pass step_size="):
        dmala.step(jax.random.key(0), dmala.init(jnp.zeros(4, jnp.int32), ising), ising)
    bounded = srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1)  # the default tilt needs pi's location and scale
    with pytest.raises(ValueError, match="tilt_reference"):
        bounded.step(jax.random.key(0), bounded.init(state_position, logdensity), logdensity)


def test_adapt_returns_states_and_parameters_ready_for_a_loop_of_ones_own():
    algorithm = srmc.wrap(samplers.mala, alpha=5.0)
    positions = TARGET.initial_position(jax.random.key(0), 4)
    adapted = srmc.adapt(jax.random.key(1), algorithm, TARGET, positions, warmup=200)
    assert adapted.kernel_params["step_size"].shape == (4,) and adapted.params.kernel["step_size"].shape == (4,)
    assert adapted.params.reference.location.shape == (4, DIM)
    keys = jax.random.split(jax.random.key(2), 4)
    states, info = jax.vmap(algorithm.step, in_axes=(0, 0, None, 0))(keys, adapted.states, logdensity, adapted.params)
    assert info.acceptance_rate.shape == (4,) and np.all(np.isfinite(states.theta))


def test_base_and_srmc_get_the_same_warmup_by_default():
    """A given step size is where the warm-up starts: `srmc.base` reports its adapted parameters, and its
    warm-up is SRMC's around the same kernel (same adapted step size and mass)."""
    target = targets.get("iid_gaussian", dim=3)
    plain = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.05), target, 50, 4)
    wrapped = srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=5.0, step_size=0.05), target, 50, 4)
    assert plain.warmup_steps == wrapped.warmup_steps == srmc.engine.warmup.DEFAULT_WARMUP
    assert plain.adapted_params
    for name in ("step_size", "inverse_mass_matrix"):
        np.testing.assert_array_equal(plain.adapted_params[name], wrapped.adapted_params[name])
