"""Statistical and robustness tests for the base kernels rwm, mala, hmc and kinetic_langevin.

Every chain starts from an exact draw of a small correlated Gaussian, so any drift of the moments away from
the truth is the kernel's fault. Standard errors come from the spread of per-chain estimates across
independent chains, which needs no autocorrelation model.
"""

import types
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import samplers

NUM_CHAINS = 256
NUM_STEPS = 2000
NUM_STANDARD_ERRORS = 4.0

# d = 4 Gaussian: sd (1, 1.5, 0.7, 1.2), AR(1) correlation 0.7 (precision eigenvalues 0.27 .. 6.8).
MEAN = jnp.array([1.0, -1.0, 0.5, 0.0])
SD = jnp.array([1.0, 1.5, 0.7, 1.2])
_LAGS = jnp.abs(jnp.arange(4)[:, None] - jnp.arange(4)[None, :])
COV = 0.7**_LAGS * SD[:, None] * SD[None, :]
PRECISION = jnp.linalg.inv(COV)
CHOLESKY = jnp.linalg.cholesky(COV)


def gaussian_logdensity(x: jax.Array) -> jax.Array:
    """Unnormalised log density of N(MEAN, COV)."""
    residual = x - MEAN
    return -0.5 * residual @ PRECISION @ residual


def exact_draws(rng_key: jax.Array, num: int) -> jax.Array:
    """`num` exact draws of N(MEAN, COV), shape (num, 4)."""
    return MEAN + jax.random.normal(rng_key, (num, 4)) @ CHOLESKY.T


KERNELS = {
    "rwm": (samplers.rwm, {"step_size": 0.6 * SD}),
    "mala": (samplers.mala, {"step_size": 0.15}),
    "hmc": (samplers.hmc, {"step_size": 0.35, "num_integration_steps": 6, "inverse_mass_matrix": SD**2}),
    "kinetic_langevin": (samplers.kinetic_langevin, {"step_size": 0.3, "damping": 1.0}),
    "kinetic_langevin_mass": (
        samplers.kinetic_langevin,
        {"step_size": 0.3, "damping": 0.5, "num_integration_steps": 3, "inverse_mass_matrix": SD**2},
    ),
}


def ula_module() -> types.SimpleNamespace:
    """A deliberately broken kernel: the MALA proposal with no Metropolis correction (always accepted)."""

    def build_kernel() -> Callable:
        def kernel(rng_key, state, logdensity_fn, step_size):
            key_noise, _ = jax.random.split(rng_key)
            x = state.position
            noise = jax.random.normal(key_noise, x.shape, x.dtype)
            proposed = x + step_size * state.logdensity_grad + jnp.sqrt(2.0 * step_size) * noise
            info = samplers.mala.MALAInfo(jnp.array(1.0), jnp.array(True), jnp.array(False))
            return samplers.mala.init(proposed, logdensity_fn), info

        return kernel

    return types.SimpleNamespace(init=samplers.mala.init, build_kernel=build_kernel)


def initial_states(module, params: dict, rng_key: jax.Array, positions: jax.Array, logdensity_fn: Callable):
    """Vmapped init; a momentum field, if any, is drawn exactly from N(0, M) too."""
    states = jax.vmap(lambda x: module.init(x, logdensity_fn))(positions)
    if hasattr(states, "momentum"):
        inverse_mass = params.get("inverse_mass_matrix", jnp.ones(positions.shape[-1]))
        momentum = jax.random.normal(rng_key, positions.shape) / jnp.sqrt(inverse_mass)
        states = states._replace(momentum=momentum)
    return states


def run_chains(module, params: dict, rng_key: jax.Array, logdensity_fn: Callable, positions: jax.Array,
               num_steps: int):
    """Run one jitted lax.scan per chain, vmapped over chains; returns (positions, infos, final states)."""
    kernel = module.build_kernel()
    key_momentum, key_run = jax.random.split(rng_key)
    states = initial_states(module, params, key_momentum, positions, logdensity_fn)

    def one_chain(key, state):
        def step(state, key):
            state, info = kernel(key, state, logdensity_fn, **params)
            return state, (state.position, info)

        final, (trace, infos) = jax.lax.scan(step, state, jax.random.split(key, num_steps))
        return trace, infos, final

    keys = jax.random.split(key_run, positions.shape[0])
    return jax.jit(jax.vmap(one_chain))(keys, states)


def moments_match(trace: jax.Array, mean: jax.Array, variance: jax.Array,
                  num_standard_errors: float = NUM_STANDARD_ERRORS) -> tuple[bool, np.ndarray]:
    """Check every coordinate's mean and variance against the truth within `num_standard_errors`.

    `trace` has shape (chains, steps, d). Per chain we estimate E[x] and E[(x - mean)^2]; the standard error
    of their cross-chain average is the across-chain sd / sqrt(chains). Returns (ok, z-scores of shape (2, d)).
    """
    trace = np.asarray(trace, dtype=np.float64)
    per_chain = np.stack([trace.mean(axis=1), ((trace - np.asarray(mean)) ** 2).mean(axis=1)])  # (2, chains, d)
    truth = np.stack([np.asarray(mean), np.asarray(variance)])
    num_chains = trace.shape[0]
    standard_error = per_chain.std(axis=1, ddof=1) / np.sqrt(num_chains)
    z = (per_chain.mean(axis=1) - truth) / standard_error
    return bool(np.all(np.abs(z) < num_standard_errors)), z


def sample_gaussian(module, params: dict, seed: int):
    """Run NUM_CHAINS x NUM_STEPS on the Gaussian from exact draws."""
    key_init, key_run = jax.random.split(jax.random.key(seed))
    return run_chains(module, params, key_run, gaussian_logdensity, exact_draws(key_init, NUM_CHAINS), NUM_STEPS)


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_preserves_gaussian_moments(name):
    module, params = KERNELS[name]
    trace, infos, _ = sample_gaussian(module, params, seed=0)
    ok, z = moments_match(trace, MEAN, SD**2)
    acceptance = float(infos.acceptance_rate.mean())
    assert ok, f"{name}: z-scores {np.round(z, 2)} (acceptance {acceptance:.2f})"
    assert 0.3 < acceptance < 0.99, f"{name}: acceptance {acceptance:.2f}"
    assert not bool(infos.is_nonfinite.any())


def test_moment_check_detects_unadjusted_langevin():
    trace, _, _ = sample_gaussian(ula_module(), {"step_size": 0.15}, seed=0)
    ok, z = moments_match(trace, MEAN, SD**2)
    assert not ok, f"broken kernel passed the moment check: z-scores {np.round(z, 2)}"


def nan_beyond_one(x: jax.Array) -> jax.Array:
    """N(0, I) times (1 - x_0) on x_0 < 1; log density and its gradient are NaN for x_0 > 1."""
    return -0.5 * jnp.sum(x**2) + jnp.log(1.0 - x[0])


@pytest.mark.parametrize("name", list(KERNELS))
def test_nonfinite_proposals_are_rejected_and_counted(name):
    module, params = KERNELS[name]
    positions = jnp.zeros((16, 4))
    trace, infos, final = run_chains(module, params, jax.random.key(1), nan_beyond_one, positions, 200)
    assert int(infos.is_nonfinite.sum()) > 0
    assert not bool((infos.is_nonfinite & infos.is_accepted).any())
    assert bool(jnp.all(jnp.isfinite(trace))) and bool(jnp.all(trace[..., 0] < 1.0))
    for leaf in jax.tree.leaves(final):
        assert bool(jnp.all(jnp.isfinite(leaf)))


@pytest.mark.parametrize("name", list(KERNELS))
def test_single_step_deterministic_and_jit_consistent(name):
    module, params = KERNELS[name]
    kernel = module.build_kernel()
    state = module.init(exact_draws(jax.random.key(2), 1)[0], gaussian_logdensity)
    if hasattr(state, "momentum"):
        state = state._replace(momentum=jnp.array([0.3, -0.2, 0.5, 0.1]))
    key = jax.random.key(3)

    def step(key, state):
        return kernel(key, state, gaussian_logdensity, **params)

    first, second, jitted = step(key, state), step(key, state), jax.jit(step)(key, state)
    for a, b, c in zip(jax.tree.leaves(first), jax.tree.leaves(second), jax.tree.leaves(jitted)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
