"""Timing helpers shared by the benchmark scripts: a bare jitted scan of vmapped chains, best-of-N timing.

A bare scan (no runner) times the step functions alone: keys are split per step and then per chain, and the
scan returns the final states and the mean acceptance per step, so nothing is dead code.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax


def chain_scan(init: Callable[[jax.Array], Any], step: Callable[[jax.Array, Any], tuple[Any, Any]],
               num_steps: int) -> Callable:
    """A jitted ``run(key, positions) -> (states, mean acceptance per step)`` over ``jax.vmap``-ed chains."""

    def run(rng_key: jax.Array, positions: jax.Array) -> tuple[Any, jax.Array]:
        states = jax.vmap(init)(positions)
        num_chains = positions.shape[0]

        def one_step(states: Any, key: jax.Array) -> tuple[Any, jax.Array]:
            states, info = jax.vmap(step)(jax.random.split(key, num_chains), states)
            return states, info.acceptance_rate.mean()

        return jax.lax.scan(one_step, states, jax.random.split(rng_key, num_steps))

    return jax.jit(run)


def kernel_scan(module: Any, logdensity: Callable, params: dict, num_steps: int) -> Callable:
    """`chain_scan` of a BlackJAX-shaped kernel module (``init``, ``build_kernel``) on a log density."""
    kernel = module.build_kernel()
    return chain_scan(lambda x: module.init(x, logdensity), lambda k, s: kernel(k, s, logdensity, **params),
                      num_steps)


def algorithm_scan(algorithm: Any, target: Any, num_steps: int) -> Callable:
    """`chain_scan` of an srmc algorithm (``srmc.base`` or ``srmc.wrap``) on a target."""
    return chain_scan(lambda x: algorithm.init(x, target), lambda k, s: algorithm.step(k, s, target), num_steps)


def best_times(runs: dict[str, Callable], key: jax.Array, positions: jax.Array, repeats: int) -> dict[str, float]:
    """Best wall time of each run over `repeats` alternating rounds, after one compiling call of each."""
    for run in runs.values():
        jax.block_until_ready(run(key, positions))
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(run(key, positions))
            best[name] = min(best[name], time.perf_counter() - start)
    return best
