"""Kernel records: every kernel's info fields have the declared types, base and under srmc.wrap."""

from typing import NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.method.kernels import resolve_kernel
from srmc.samplers.spec import CATEGORICAL, CONTINUOUS

GAUSSIAN = targets.get("correlated_gaussian", dim=3, rho=0.5)
ISING = targets.get("ising", side=2, coupling=0.2, field=0.1)
POTTS = targets.get("potts", side=2, num_colours=3)
SCALE = 0.8 * jnp.ones(3)

BUILT_IN = {
    "rwm": {"step_size": 0.5}, "mala": {"step_size": 0.2}, "hmc": {"step_size": 0.2, "num_integration_steps": 3},
    "kinetic_langevin": {"step_size": 0.2, "damping": 0.5}, "ula": {"step_size": 0.1},
    "uld": {"step_size": 0.2, "damping": 1.0}, "gibbs": {}, "discrete_metropolis": {}, "gwg": {},
    "dmala": {"step_size": 0.5},
}
BLACKJAX = {
    "mala": (blackjax.mala, {"step_size": 0.2}),
    "hmc": (blackjax.hmc, {"step_size": 0.2, "num_integration_steps": 3, "inverse_mass_matrix": jnp.ones(3)}),
    "nuts": (blackjax.nuts, {"step_size": 0.2, "inverse_mass_matrix": jnp.ones(3)}),
    "barker": (blackjax.barker, {"step_size": 0.5}),
    "ghmc": (blackjax.ghmc, {"step_size": 0.2, "momentum_inverse_scale": jnp.ones(3), "momentum_refresh": 0.5,
                             "delta": 0.1}),
    "rmh": (blackjax.rmh, {"transition_generator": lambda key, x: x + SCALE * jax.random.normal(key, x.shape)}),
    "additive_step_random_walk": (blackjax.additive_step_random_walk,
                                  {"random_step": blackjax.mcmc.random_walk.normal(SCALE)}),
    "irmh": (blackjax.irmh, {"proposal_distribution": lambda key: jax.random.normal(key, (3,))}),
}


def cases():
    for module in samplers.KERNELS:
        spec = module.spec
        targets_for = [GAUSSIAN] if spec.state_space == CONTINUOUS else [ISING, POTTS]
        for target in targets_for:
            yield pytest.param(module, BUILT_IN[spec.name], target, id=f"{spec.name}-{target.kind}")
    for name, (api, params) in BLACKJAX.items():
        yield pytest.param(api, params, GAUSSIAN, id=f"blackjax.{name}")


def one_step_infos(algorithm, target):
    positions = (target.sample or target.initial_position)(jax.random.key(1), 4)
    states = jax.vmap(algorithm.init, in_axes=(0, None))(positions, target)
    keys = jax.random.split(jax.random.key(2), 4)
    return jax.jit(jax.vmap(lambda key, state: algorithm.step(key, state, target)[1]))(keys, states)


@pytest.mark.parametrize("kernel, params, target", list(cases()))
@pytest.mark.parametrize("wrapped", [False, True], ids=["base", "srmc"])
def test_info_acceptance_is_a_probability_and_is_accepted_a_bool(kernel, params, target, wrapped):
    algorithm = srmc.wrap(kernel, tilt="score", alpha=1.0, **params) if wrapped else srmc.base(kernel, **params)
    info = one_step_infos(algorithm, target)
    assert jnp.issubdtype(info.acceptance_rate.dtype, jnp.floating)
    assert info.is_accepted.dtype == jnp.bool_ and info.is_nonfinite.dtype == jnp.bool_
    rates = np.asarray(info.acceptance_rate)
    assert np.all((rates >= 0) & (rates <= 1))


def test_every_built_in_kernel_declares_its_record():
    for module in samplers.KERNELS:
        spec = resolve_kernel(module)
        assert spec is module.spec and spec.state_space in (CONTINUOUS, CATEGORICAL)
        assert spec.init is module.init and spec.build_kernel is module.build_kernel
        assert (spec.transition_probabilities is not None) == (spec.state_space == CATEGORICAL)


def test_state_space_constants_agree_with_the_targets():
    assert targets.Continuous(2).kind == CONTINUOUS and targets.Categorical(2, 3).kind == CATEGORICAL


def test_a_user_kernel_without_a_record_gets_the_blackjax_conventions():
    """A BlackJAX-shaped module with no record runs: parameters unchecked, info fields filled in."""

    class UserInfo(NamedTuple):
        acceptance_rate: jax.Array

    class UserKernel:
        init = staticmethod(samplers.rwm.init)

        @staticmethod
        def build_kernel():
            rwm = samplers.rwm.build_kernel()

            def kernel(rng_key, state, logdensity_fn, step_size):
                new_state, info = rwm(rng_key, state, logdensity_fn, step_size)
                return new_state, UserInfo(info.acceptance_rate)

            return kernel

    spec = resolve_kernel(UserKernel)
    assert spec.conventional and spec.state_space == CONTINUOUS
    result = srmc.sample(jax.random.key(0), srmc.wrap(UserKernel, tilt="score", alpha=1.0, step_size=0.5), GAUSSIAN, 50, 2)
    assert result.acceptance_rate.shape == (2,) and int(result.num_nonfinite.sum()) == 0
