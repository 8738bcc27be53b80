"""The engine is generic: a second history-dependent algorithm, written here in BlackJAX's three layers and
declared through `srmc.method.algorithm`, runs through the same `srmc.sample`, chunked, checkpointed and resumed
bit for bit, with its own per-draw statistic and counter, and no change to the engine.

The algorithm is adaptive Metropolis (Haario, Saksman and Tamminen 2001): a Gaussian random walk whose proposal
covariance is (2.38^2 / d) (C_n + eps I), C_n the running covariance of the chain's own history.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import targets
from srmc.method.algorithm import Algorithm, Report, StaticPartial
from tests.srmc.tiny_runs import assert_same_run, interrupt_at_save


class AMState(NamedTuple):
    position: jax.Array
    logdensity: jax.Array
    mean: jax.Array
    covariance: jax.Array
    count: jax.Array


class AMInfo(NamedTuple):
    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_nonfinite: jax.Array


class AMParams(NamedTuple):
    kernel: dict  # no base kernel: nothing for a warm-up to tune
    epsilon: jax.Array


def init(config, position, target, params):
    dim = position.shape[0]
    return AMState(position, target.logdensity(position), position, jnp.eye(dim), jnp.zeros((), jnp.int32))


def step(config, rng_key, state, target, params):
    dim = state.position.shape[0]
    key_proposal, key_accept = jax.random.split(rng_key)
    scale = (2.38**2 / dim) * (state.covariance + params.epsilon * jnp.eye(dim))
    proposal = state.position + jnp.linalg.cholesky(scale) @ jax.random.normal(key_proposal, (dim,))
    proposed_logdensity = target.logdensity(proposal)
    log_ratio = proposed_logdensity - state.logdensity
    nonfinite = ~jnp.isfinite(log_ratio)
    accepted = (jnp.log(jax.random.uniform(key_accept)) < log_ratio) & ~nonfinite
    position = jnp.where(accepted, proposal, state.position)
    logdensity = jnp.where(accepted, proposed_logdensity, state.logdensity)
    count = state.count + 1
    weight = 1.0 / (count + 1.0)
    delta = position - state.mean
    mean = state.mean + weight * delta
    covariance = state.covariance + weight * (jnp.outer(delta, position - mean) - state.covariance)
    rate = jnp.where(nonfinite, 0.0, jnp.exp(jnp.minimum(log_ratio, 0.0)))
    return AMState(position, logdensity, mean, covariance, count), AMInfo(rate, accepted, nonfinite)


def trace_of_covariance(state):
    return {"covariance_trace": jnp.trace(state.covariance)}


def history_length(state, params):
    return {"history_length": state.count}


def adaptive_metropolis(epsilon: float = 1e-3) -> Algorithm:
    return Algorithm("adaptive_metropolis", StaticPartial(init, None), StaticPartial(step, None),
                     AMParams({}, jnp.asarray(epsilon)), report=Report(trace_of_covariance, history_length),
                     shown=(("epsilon", epsilon),))


TARGET = targets.get("correlated_gaussian", dim=3, rho=0.6)
RUN = dict(num_steps=120, num_chains=4, options=srmc.RunOptions(burn_in=30, thin=10, chunk_size=30))


def test_a_second_algorithm_runs_through_sample_with_its_own_statistics():
    result = srmc.sample(jax.random.key(0), adaptive_metropolis(), TARGET, **RUN)
    assert result.warmup_steps == 0 and result.draws.shape == (4, 12, 3)
    assert result.draw_stats["covariance_trace"].shape == (4, 12)
    np.testing.assert_array_equal(result.counters["history_length"], np.full(4, 150))
    assert "covariance_trace" in result.monitor


def test_a_second_algorithm_is_chunk_independent_and_resumes_bit_for_bit(tmp_path, monkeypatch):
    algorithm, key = adaptive_metropolis(), jax.random.key(1)
    reference = srmc.sample(key, algorithm, TARGET, **RUN)
    rechunked = srmc.sample(key, algorithm, TARGET, **(RUN | {"options": RUN["options"]._replace(chunk_size=60)}))
    assert_same_run(reference, rechunked)
    path = tmp_path / "am.npz"
    interrupt_at_save(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(key, algorithm, TARGET, **RUN, checkpoint=path)
    monkeypatch.undo()
    resumed = srmc.sample(key, algorithm, TARGET, **RUN, checkpoint=srmc.Checkpointing(path, resume=True))
    assert_same_run(reference, resumed)


def test_adaptive_metropolis_recovers_the_gaussian():
    """Its estimates of E[x] and E[x^2] lie within 4 chain-spread standard errors of the exact values."""
    result = srmc.sample(jax.random.key(2), adaptive_metropolis(), TARGET, 3000, 32,
                         options=srmc.RunOptions(burn_in=1000))
    truth = TARGET.ground_truth
    for name, exact in (("x", truth.mean), ("x^2", truth.variance + truth.mean**2)):
        z = (result.estimates[name] - exact) / result.mcse(name)
        assert np.all(np.abs(z) < 4), (name, z)


class PairState(NamedTuple):
    position: jax.Array
    proposal: jax.Array
    half: jax.Array  # 0: the next step draws a proposal; 1: the next step moves to it


class PairInfo(NamedTuple):
    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_nonfinite: jax.Array
    is_draw: jax.Array


def pair_init(config, position, target, params):
    return PairState(position, position, jnp.zeros((), jnp.int32))


def pair_step(config, rng_key, state, target, params):
    """Independence sampler from N(0, I) in two steps: one draws the proposal, the next accepts or rejects it and
    yields a draw. The first step's state stands at the last draw (`pair_point`)."""
    key_proposal, key_accept = jax.random.split(rng_key)
    deciding = state.half == 1
    proposal = jnp.where(deciding, state.proposal, jax.random.normal(key_proposal, state.position.shape))
    log_ratio = (target.logdensity(proposal) + 0.5 * jnp.sum(proposal**2)
                 - target.logdensity(state.position) - 0.5 * jnp.sum(state.position**2))
    accept = deciding & (jnp.log(jax.random.uniform(key_accept)) < log_ratio)
    rate = jnp.where(deciding, jnp.exp(jnp.minimum(log_ratio, 0.0)), 1.0)
    new = PairState(jnp.where(accept, proposal, state.position), proposal, 1 - state.half)
    return new, PairInfo(rate, accept, jnp.zeros((), bool), deciding)


def pair_point(state):
    return state.position


def test_an_algorithm_that_yields_a_draw_every_other_step_is_averaged_over_its_draws():
    """`Report.is_draw`: functions are averaged over the steps that yield a draw only (here every second one); the
    estimate is exact within 4 SE and equals the mean of the draws the run stores at those steps."""
    algorithm = Algorithm("pairs", StaticPartial(pair_init, None), StaticPartial(pair_step, None), AMParams({}, 0.0),
                          report=Report(position=pair_point, is_draw=lambda info: info.is_draw))
    target = targets.get("iid_gaussian", dim=2)
    result = srmc.sample(jax.random.key(3), algorithm, target, 4000, 16, options=srmc.RunOptions(thin=2))
    np.testing.assert_allclose(result.chain_estimates["x"], result.draws.mean(axis=1), rtol=1e-4, atol=1e-5)
    z = result.estimates["x"] / result.mcse("x")
    assert np.all(np.abs(z) < 4), z
    z2 = (result.estimates["x^2"] - 1.0) / result.mcse("x^2")
    assert np.all(np.abs(z2) < 4), z2
    assert result.batch_means == {}  # kept for every step only
