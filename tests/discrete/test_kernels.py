"""Discrete kernels: exact one-step invariance by enumeration (target and frozen-theta surrogate), sampled moves
that follow the claimed transition probabilities, and broken variants that the checks catch."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srmc
from srmc import samplers, testing
from srmc.samplers._metropolis import MetropolisInfo, metropolis_decision, select

KERNELS = {
    "gibbs_random": (samplers.gibbs, {"scan": "random"}),
    "gibbs_systematic": (samplers.gibbs, {"scan": "systematic"}),
    "metropolis": (samplers.discrete_metropolis, {}),
    "gwg": (samplers.gwg, {}),
    "dmala": (samplers.dmala, {"step_size": 0.6}),
}
TOLERANCE = 1e-8


def exact_errors(model, logdensity):
    """max |pi P - pi| and the worst row-sum error of every kernel's exact transition matrix on `logdensity`."""
    states = testing.enumerate_states(model.dim, model.num_categories)
    probabilities = testing.exact_probabilities(logdensity, states)
    errors = {}
    for name, (module, params) in KERNELS.items():
        matrix = testing.exact_transition_matrix(module, dict(params, num_categories=model.num_categories),
                                                 logdensity, states)
        errors[name] = (testing.invariance_error(matrix, probabilities),
                        max(np.abs(matrix.sum(1) - 1).max(), -matrix.min()))
    return errors


@settings(max_examples=4, deadline=None, derandomize=True)
@given(model=testing.lattice_models(min_sites=4, max_sites=10, num_categories=(2, 3), max_coupling=1.5))
def test_every_kernel_leaves_random_models_invariant_exactly(model):
    with jax.enable_x64(True):
        model = testing.lattice_model(model.params["couplings"], model.params["field"])  # rebuilt in float64
        for name, (error, row_error) in exact_errors(model, model.logdensity).items():
            assert error < TOLERANCE and row_error < TOLERANCE, (name, error, row_error)


@settings(max_examples=3, deadline=None, derandomize=True)
@given(model=testing.lattice_models(min_sites=4, max_sites=8, num_categories=(2, 3)),
       seed=st.integers(0, 2**16), alpha=st.sampled_from([1.0, 10.0]), tilt=st.sampled_from(["score", "linear"]))
def test_every_kernel_leaves_the_frozen_theta_surrogate_invariant_exactly(model, seed, alpha, tilt):
    with jax.enable_x64(True):
        model = testing.lattice_model(model.params["couplings"], model.params["field"])
        theta = np.random.default_rng(seed).normal(0.0, 0.5, model.dim * (model.num_categories - 1))
        surrogate = srmc.surrogate_logdensity(model, jnp.asarray(theta), alpha, tilt)
        for name, (error, row_error) in exact_errors(model, surrogate).items():
            assert error < TOLERANCE and row_error < TOLERANCE, (name, error, row_error)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("num_categories", [2, 3])
def test_sampled_moves_follow_the_claimed_transition_probabilities(name, num_categories):
    module, params = KERNELS[name]
    rng = np.random.default_rng(num_categories)
    dim = 4 if num_categories == 2 else 3
    upper = np.triu(rng.uniform(-1, 1, (dim, dim)), 1)
    model = testing.lattice_model(upper + upper.T, rng.normal(size=(dim, num_categories)))
    result = testing.check_transition_probabilities(module, dict(params, num_categories=num_categories),
                                                    model.logdensity, dim, num_categories=num_categories,
                                                    num_samples=1000)
    assert result, result


def _variant(module, build_kernel, name):
    """The record of `module` with another kernel (its claimed transition probabilities kept)."""
    return module.spec._replace(name=name, build_kernel=build_kernel)


def gwg_without_reverse_proposal():
    """GWG that forgets q(x | x') / q(x' | x): targets the wrong distribution."""

    def build_kernel():
        def kernel(rng_key, state, logdensity_fn, num_categories=2):
            key_proposal, key_accept = jax.random.split(rng_key)
            logits = samplers.gwg.proposal_logits(state)
            choice = jax.random.categorical(key_proposal, logits.reshape(-1))
            proposal = samplers.gwg.init(state.position.at[choice // num_categories].set(choice % num_categories),
                                         logdensity_fn, num_categories)
            decision = metropolis_decision(key_accept, proposal.logdensity - state.logdensity)
            return select(decision.is_accepted, proposal, state), MetropolisInfo(*decision)

        return kernel

    return _variant(samplers.gwg, build_kernel, "gwg_without_reverse_proposal")


def dmala_without_metropolis():
    """The discrete Langevin proposal always accepted."""

    def build_kernel():
        def kernel(rng_key, state, logdensity_fn, step_size, num_categories=2):
            forward = samplers.dmala.proposal_log_probabilities(state, step_size)
            proposed = jax.random.categorical(rng_key, forward, axis=-1).astype(jnp.int32)
            info = MetropolisInfo(jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))
            return samplers.dmala.init(proposed, logdensity_fn, num_categories), info

        return kernel

    return _variant(samplers.dmala, build_kernel, "dmala_without_metropolis")


@pytest.mark.parametrize("broken, params", [(gwg_without_reverse_proposal(), {}),
                                            (dmala_without_metropolis(), {"step_size": 0.6})],
                         ids=["gwg_without_reverse_proposal", "dmala_without_metropolis"])
def test_broken_gradient_kernels_are_caught(broken, params):
    rng = np.random.default_rng(7)
    upper = np.triu(rng.uniform(-1, 1, (5, 5)), 1)
    model = testing.lattice_model(upper + upper.T, rng.normal(size=(5, 2)))
    # their claimed (correct) transition probabilities no longer describe what they sample ...
    assert not testing.check_transition_probabilities(broken, params, model.logdensity, 5, num_samples=1000)
    # ... and the Monte Carlo invariance check sees the wrong stationary distribution
    sampled_only = broken._replace(transition_probabilities=None)
    assert not testing.check_discrete_invariance(sampled_only, params, model.logdensity, 5, num_steps=3)
