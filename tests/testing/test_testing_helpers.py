"""srmc.testing: every built-in kernel passes the helpers, and deliberately broken kernels are caught."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

import samplers
import targets
from samplers._leapfrog import resolve_inverse_mass_matrix, sample_momentum
from samplers._metropolis import MetropolisInfo, metropolis_decision, select
from srmc import testing

GAUSSIAN = targets.get("correlated_gaussian", dim=3, rho=0.5)
KERNELS = {
    "rwm": (samplers.rwm, {"step_size": 0.8}),
    "mala": (samplers.mala, {"step_size": 0.3}),
    "hmc": (samplers.hmc, {"step_size": 0.3, "num_integration_steps": 5}),
    "kinetic_langevin": (samplers.kinetic_langevin, {"step_size": 0.3, "damping": 1.0}),
}


def stationary_momentum(module, logdensity_fn):
    """init_state_fn for kinetic Langevin: draw the momentum from N(0, M) instead of starting at zero."""
    def init_state(key, position):
        state = module.init(position, logdensity_fn)
        return state._replace(momentum=sample_momentum(key, resolve_inverse_mass_matrix(None, position)))
    return init_state


def init_state_fn(name, logdensity_fn):
    return stationary_momentum(samplers.kinetic_langevin, logdensity_fn) if name == "kinetic_langevin" else None


# --- deliberately broken kernels ----------------------------------------------------------------------------------

def _broken_mala(correct_drift_sign: float, metropolis: bool):
    def build_kernel():
        def kernel(rng_key, state, logdensity_fn, step_size):
            key_noise, key_accept = jax.random.split(rng_key)
            x, g = state.position, state.logdensity_grad
            proposal = samplers.mala.init(x + step_size * g + jnp.sqrt(2 * step_size) * jax.random.normal(
                key_noise, x.shape), logdensity_fn)
            if not metropolis:
                return proposal, MetropolisInfo(jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))
            forward = -jnp.sum((proposal.position - x - step_size * g) ** 2) / (4 * step_size)
            backward = -jnp.sum((x - proposal.position - correct_drift_sign * step_size * proposal.logdensity_grad)
                                ** 2) / (4 * step_size)
            decision = metropolis_decision(key_accept, proposal.logdensity - state.logdensity + backward - forward)
            return select(decision.is_accepted, proposal, state), MetropolisInfo(*decision)
        return kernel
    return types.SimpleNamespace(init=samplers.mala.init, build_kernel=build_kernel, __name__="broken_mala")


def _always_accept_rwm():
    def build_kernel():
        def kernel(rng_key, state, logdensity_fn, step_size):
            position = state.position + step_size * jax.random.normal(rng_key, state.position.shape)
            return samplers.rwm.init(position, logdensity_fn), MetropolisInfo(
                jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))
        return kernel
    return types.SimpleNamespace(init=samplers.rwm.init, build_kernel=build_kernel, __name__="always_accept")


# --- continuous ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_builtin_kernels_pass_continuous_invariance(name):
    module, params = KERNELS[name]
    result = testing.check_continuous_invariance(module, params, GAUSSIAN,
                                                 init_state_fn=init_state_fn(name, GAUSSIAN.logdensity))
    assert result.passed, result


@pytest.mark.parametrize("broken,params", [
    (_broken_mala(1.0, metropolis=False), {"step_size": 0.6}),
    (_broken_mala(-1.0, metropolis=True), {"step_size": 0.6}),
    (_always_accept_rwm(), {"step_size": 0.8}),
])
def test_broken_kernels_fail_continuous_invariance(broken, params):
    result = testing.check_continuous_invariance(broken, params, GAUSSIAN)
    assert not result.passed, result


@pytest.mark.parametrize("name", ["mala", "hmc", "rwm"])
@pytest.mark.parametrize("tilt,gradient", [("score", "exact"), ("score", "shifted"), ("linear", "exact")])
def test_kernels_leave_the_frozen_theta_surrogate_invariant(name, tilt, gradient):
    module, params = KERNELS[name]
    surrogate = testing.tilted_gaussian(GAUSSIAN, np.array([0.5, -0.3, 0.2]), 1.5, tilt, gradient)
    assert testing.check_continuous_invariance(module, params, surrogate).passed


def test_the_surrogate_check_catches_a_wrong_tilt():
    module, params = KERNELS["mala"]
    wrong = testing.tilted_gaussian(GAUSSIAN, np.array([0.5, -0.3, 0.2]), 1.5, "score")
    exact_of_other_sign = testing.tilted_gaussian(GAUSSIAN, -np.array([0.5, -0.3, 0.2]), 1.5, "score")
    mismatched = targets.Target(wrong.name, "continuous", 3, wrong.logdensity, wrong.initial_position,
                                sample=exact_of_other_sign.sample)
    assert not testing.check_continuous_invariance(module, params, mismatched).passed


@settings(max_examples=4, deadline=None, derandomize=True)
@given(testing.gaussian_targets(max_dim=3))
def test_mala_on_random_gaussians(target):
    # step size relative to the smallest standard deviation keeps the acceptance healthy
    step_size = 0.5 * float(np.min(np.linalg.eigvalsh(target.params["cov"])))
    assert testing.check_continuous_invariance(samplers.mala, {"step_size": step_size}, target,
                                               num_chains=2000).passed


@settings(max_examples=3, deadline=None, derandomize=True)
@given(testing.mixture_targets())
def test_rwm_on_random_mixtures(target):
    assert testing.check_continuous_invariance(samplers.rwm, {"step_size": 0.7}, target, num_chains=2000).passed


# --- identities ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_identity_checks_for_builtin_kernels(name):
    module, params = KERNELS[name]
    positions = GAUSSIAN.sample(jax.random.key(1), 3)
    assert testing.check_alpha_zero_identity(module, params, GAUSSIAN)
    assert testing.check_vmap_and_jit(module, params, GAUSSIAN.logdensity, positions)
    assert testing.check_determinism(module, params, GAUSSIAN.logdensity, positions[0])


def test_determinism_check_catches_a_kernel_that_ignores_its_key():
    def build_kernel():
        def kernel(rng_key, state, logdensity_fn, step_size):
            return samplers.rwm.build_kernel()(jax.random.key(0), state, logdensity_fn, step_size)
        return kernel
    keyless = types.SimpleNamespace(init=samplers.rwm.init, build_kernel=build_kernel)
    assert not testing.check_determinism(keyless, {"step_size": 0.5}, GAUSSIAN.logdensity, jnp.zeros(3))


# --- discrete -------------------------------------------------------------------------------------------------------

def _binary_kernel(kind: str):
    """Single-site kernels on {0,1}^d: 'metropolis', 'gibbs', or broken variants 'lazy_metropolis_wrong'."""
    from typing import NamedTuple

    class BinaryState(NamedTuple):
        position: jax.Array

    def init(position, logdensity_fn):
        return BinaryState(jnp.asarray(position, jnp.int32))

    def build_kernel():
        def kernel(rng_key, state, logdensity_fn):
            key_site, key_accept = jax.random.split(rng_key)
            x = state.position
            site = jax.random.randint(key_site, (), 0, x.shape[0])
            flipped = x.at[site].set(1 - x[site])
            log_ratio = logdensity_fn(flipped) - logdensity_fn(x)
            if kind == "metropolis":
                accept = jnp.log(jax.random.uniform(key_accept)) < log_ratio
            elif kind == "gibbs":
                accept = jax.random.uniform(key_accept) < jax.nn.sigmoid(log_ratio)
            else:  # broken: accepts with probability sigmoid(2 * log ratio)
                accept = jax.random.uniform(key_accept) < jax.nn.sigmoid(2.0 * log_ratio)
            return BinaryState(jnp.where(accept, flipped, x)), None
        return kernel

    return types.SimpleNamespace(init=init, build_kernel=build_kernel, __name__=kind)


@settings(max_examples=3, deadline=None, derandomize=True)
@given(testing.lattice_models(min_sites=4, max_sites=6))
def test_discrete_kernels_leave_random_ising_models_invariant(model):
    for kind in ("metropolis", "gibbs"):
        result = testing.check_discrete_invariance(_binary_kernel(kind), {}, model.logdensity, model.dim,
                                                   num_steps=3)
        assert result.passed, (kind, result)


def test_broken_discrete_kernel_is_caught():
    rng = np.random.default_rng(0)
    couplings = np.triu(rng.uniform(-1, 1, (5, 5)), 1)
    model = testing.lattice_model(couplings + couplings.T, rng.normal(size=(5, 2)))
    result = testing.check_discrete_invariance(_binary_kernel("broken"), {}, model.logdensity, 5, num_steps=3)
    assert not result.passed, result


def test_transition_matrix_by_enumeration_and_exact_error():
    model = testing.lattice_model(np.array([[0.0, 0.8, 0.0], [0.8, 0.0, -0.5], [0.0, -0.5, 0.0]]),
                                  np.array([[0.0, 0.3], [0.0, -0.2], [0.1, 0.0]]))
    states = testing.enumerate_states(3)
    pi = testing.exact_probabilities(model.logdensity, states)
    matrix = testing.transition_matrix(_binary_kernel("gibbs"), {}, model.logdensity, 3, num_samples=20_000)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    # Monte Carlo rows: |pi P - pi| is of order sqrt(p / n) = 0.005; a wrong kernel is off by ~0.05
    assert testing.invariance_error(matrix, pi) < 0.02
    broken = testing.transition_matrix(_binary_kernel("broken"), {}, model.logdensity, 3, num_samples=20_000)
    assert testing.invariance_error(broken, pi) > 0.03
