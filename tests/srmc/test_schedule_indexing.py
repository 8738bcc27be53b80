"""Which alpha_n goes with which theta_n: srmc.wrap against the SRMC paper's loop, step by step.

The paper's code (ScoreTiltedMCMC.run and its siblings) does, for step n = 1, 2, ...:

    alpha_n = n / (C + n / alpha)                       # the rational ("adaptive") schedule at the step number
    X_n ~ K_{pi_{theta_{n-1}, alpha_n}}(X_{n-1}, .)     # proposal drift s(x - alpha_n theta_{n-1})
    theta_n = theta_{n-1} + n^-0.6 (s(X_n) - theta_{n-1})

A deterministic re-implementation with an unadjusted Langevin kernel, driven by the same keys, must agree with the
wrapper to float64 rounding; the same loop one step behind (alpha_{n-1}) must not.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import targets
from srmc.samplers.spec import CONTINUOUS, STEP_SIZE, VALUE_AND_GRADIENT_CACHE, KernelSpec

ALPHA, C, STEP, NUM_STEPS, DIM = 2.0, 10.0, 0.05, 60, 3


class LangevinState(NamedTuple):
    position: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array


class LangevinInfo(NamedTuple):
    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_nonfinite: jax.Array


def _init(position, logdensity_fn):
    return LangevinState(position, *jax.value_and_grad(logdensity_fn)(position))


def _build_kernel():
    def kernel(rng_key, state, logdensity_fn, step_size):
        noise = jax.random.normal(rng_key, state.position.shape, state.position.dtype)
        position = state.position + step_size * state.logdensity_grad + jnp.sqrt(2 * step_size) * noise
        return _init(position, logdensity_fn), LangevinInfo(jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))

    return kernel


ULA = KernelSpec("ula_for_this_test", _init, _build_kernel, CONTINUOUS, (STEP_SIZE,), VALUE_AND_GRADIENT_CACHE)


def rational_paper(n):
    return n / (C + n / ALPHA)


def reference_loop(target, x0, key, alpha_of_step):
    score = jax.jit(target.score)
    x, theta, path = np.asarray(x0, np.float64), np.zeros(DIM), []
    for n in range(1, NUM_STEPS + 1):
        alpha_n = alpha_of_step(n)
        noise = np.asarray(jax.random.normal(jax.random.fold_in(key, n), (DIM,), jnp.float64))
        x = x + STEP * np.asarray(score(x - alpha_n * theta)) + np.sqrt(2 * STEP) * noise
        theta = theta + n**-0.6 * (np.asarray(score(x)) - theta)
        path.append(x)
    return np.array(path)


def wrapper_loop(target, x0, key):
    algorithm = srmc.wrap(ULA, alpha=srmc.schedules.rational(ALPHA, C), tilt="score", gradient="shifted",
                          gamma=srmc.schedules.polynomial(1.0, 0.6), step_size=STEP)
    state = algorithm.init(jnp.asarray(x0), target)
    step = jax.jit(lambda k, s: algorithm.step(k, s, target))
    path, alphas = [], []
    for n in range(1, NUM_STEPS + 1):
        state, info = step(jax.random.fold_in(key, n), state)
        path.append(np.asarray(state.inner.position))
        alphas.append(float(info.alpha))
    return np.array(path), np.array(alphas)


@pytest.fixture(scope="module")
def runs():
    with jax.enable_x64(True):
        target = targets.get("correlated_gaussian", dim=DIM, rho=0.5)
        x0, key = np.array([0.5, -1.0, 0.2]), jax.random.key(3)
        yield {"paper": reference_loop(target, x0, key, rational_paper),
               "behind": reference_loop(target, x0, key, lambda n: rational_paper(n - 1)),
               "srmc": wrapper_loop(target, x0, key)}


def test_step_n_uses_alpha_n(runs):
    np.testing.assert_allclose(runs["srmc"][1], [rational_paper(n) for n in range(1, NUM_STEPS + 1)])


def test_wrapper_reproduces_the_papers_loop(runs):
    np.testing.assert_allclose(runs["srmc"][0], runs["paper"], rtol=1e-10, atol=1e-12)


def test_one_step_behind_is_visibly_different(runs):
    assert np.max(np.abs(runs["behind"] - runs["paper"])) > 1e-4
