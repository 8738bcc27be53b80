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
