"""SRMC around discrete kernels: the wrapper leaves pi_theta invariant at a frozen theta, recovers exact
marginals of an Ising model with a field, and is biased with the relaxed-gradient score."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets, testing
from srmc.targets.discrete import relaxed_gradient_score
from tests.discrete.test_kernels import gwg_without_reverse_proposal

NUM_CHAINS = 128
KERNELS = {"gibbs": (samplers.gibbs, {}), "gwg": (samplers.gwg, {}), "metropolis": (samplers.discrete_metropolis, {}),
           "dmala": (samplers.dmala, {"step_size": 1.0})}


@pytest.fixture(scope="module")
def ising():
    return targets.get("ising", side=3, coupling=0.15, field=0.1)


def marginal_z_scores(result: srmc.SampleResult, truth: targets.GroundTruth) -> np.ndarray:
    """(estimate - exact) / standard error (spread of independent chains) of every site's P(x_i = 1)."""
    return (result.mean - truth.mean) / result.mcse("x")


def run(algorithm, target, num_steps, key=1):
    return srmc.sample(jax.random.key(key), algorithm, target, num_steps, NUM_CHAINS,
                       initial_position=target.sample(jax.random.key(5), NUM_CHAINS), options=srmc.RunOptions(burn_in=500))


@pytest.mark.parametrize("name", ["gibbs", "gwg"])
@pytest.mark.parametrize("alpha", [1.0, pytest.param(10.0, marks=pytest.mark.slow)])
def test_srmc_recovers_exact_marginals_of_ising_with_a_field(ising, name, alpha):
    module, params = KERNELS[name]
    algorithm = srmc.wrap(module, tilt="score", alpha=srmc.schedules.linear_warmup(alpha, 500), **params)
    result = run(algorithm, ising, 6000)
    z = marginal_z_scores(result, ising.ground_truth)
    assert np.all(np.abs(z) < 4.0), z  # 9 sites: a correct sampler fails with probability ~6e-4
    assert result.num_nonfinite.sum() == 0


@pytest.mark.parametrize("name", ["metropolis", pytest.param("dmala", marks=pytest.mark.slow)])
def test_srmc_with_the_linear_tilt_recovers_the_marginals(ising, name):
    module, params = KERNELS[name]
    algorithm = srmc.wrap(module, alpha=srmc.schedules.linear_warmup(10.0, 500), tilt="linear", **params)
    z = marginal_z_scores(run(algorithm, ising, 6000), ising.ground_truth)
    assert np.all(np.abs(z) < 4.0), z


def test_the_marginal_check_catches_the_relaxed_gradient_score(ising):
    """The paper's relaxed-gradient score is not mean-zero under a field: SRMC then misses the marginals."""
    relaxed = dataclasses.replace(ising, score=relaxed_gradient_score(ising))
    algorithm = srmc.wrap(samplers.gibbs, tilt="score", alpha=srmc.schedules.linear_warmup(1.0, 500))
    z = marginal_z_scores(run(algorithm, relaxed, 6000), ising.ground_truth)
    assert np.abs(z).max() > 10.0, z


@pytest.mark.parametrize("name", ["gibbs", "gwg"])
def test_the_wrapper_leaves_pi_theta_invariant_at_a_frozen_theta(name):
    module, params = KERNELS[name]
    rng = np.random.default_rng(3)
    upper = np.triu(rng.uniform(-1, 1, (5, 5)), 1)
    model = testing.lattice_model(upper + upper.T, rng.normal(size=(5, 3)))
    theta = rng.normal(0.0, 0.5, 10)
    result = testing.check_srmc_frozen_theta_discrete(module, params, model, theta, 5.0, num_chains=50_000)
    assert result, result


def test_the_frozen_theta_check_catches_a_broken_kernel_inside_the_wrapper():
    rng = np.random.default_rng(3)
    upper = np.triu(rng.uniform(-1, 1, (5, 5)), 1)
    model = testing.lattice_model(upper + upper.T, rng.normal(size=(5, 2)))
    result = testing.check_srmc_frozen_theta_discrete(gwg_without_reverse_proposal(), {}, model,
                                                      rng.normal(0.0, 0.5, 5), 5.0, num_chains=50_000)
    assert not result and result.p_value < 1e-6, result


def test_alpha_zero_reproduces_every_discrete_kernel_bit_for_bit(ising):
    for module, params in KERNELS.values():
        key = jax.random.key(2)
        plain = srmc.sample(key, srmc.base(module, **params), ising, 30, 3, options=srmc.RunOptions(thin=1), warmup=0)
        wrapped = srmc.sample(key, srmc.wrap(module, tilt="score", alpha=0.0, **params), ising, 30, 3, options=srmc.RunOptions(thin=1), warmup=0)
        np.testing.assert_array_equal(plain.draws, wrapped.draws)


def test_categorical_targets_get_their_number_of_categories(ising):
    potts = targets.get("potts", side=2, num_colours=3)
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.gwg, tilt="score", alpha=1.0), potts, 50, 2, options=srmc.RunOptions(thin=1))
    assert result.draws.max() == 2 and result.final_state.theta.shape == (2, 8)


def test_kernel_and_target_must_fit(ising):
    with pytest.raises((ValueError, TypeError), match="mala is a continuous kernel but target ising.* is binary"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.1), ising, 10, warmup=0)
    with pytest.raises((ValueError, TypeError), match="gibbs is a discrete kernel but target .* is continuous"):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.gibbs, tilt="score"), targets.get("iid_gaussian", dim=3), 10)
    with pytest.raises((ValueError, TypeError), match="num_categories=3 but target"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.gibbs, num_categories=3), ising, 10)
    with pytest.raises((ValueError, TypeError), match="gradient=.shifted. is for continuous targets"):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.gwg, tilt="score", gradient="shifted"), ising, 10)
    with pytest.raises(ValueError, match="must hold integers"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.gibbs), ising, 10, 1, initial_position=jnp.zeros(9))
