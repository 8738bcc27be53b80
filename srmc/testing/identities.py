"""Exact identities a kernel must satisfy: alpha = 0 is the base chain bit for bit, vmap/jit change nothing, the
same key gives the same chain."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from srmc.engine.options import RunOptions
from srmc.engine.runner import sample
from srmc.method.algorithm import Algorithm, unset_parameters
from srmc.method.base import base
from srmc.method.srmc import wrap
from srmc.method.tilt import TILTS
from srmc.targets import Target
from srmc.testing.running import (
    CheckResult,
    LogDensity,
    default_key,
    exact_result,
    final_states,
    inverse_mass_of,
    kernel_functions,
    logdensity_of,
    stationary_momentum,
)

Array = jax.Array


def _max_difference(first: Any, second: Any) -> float:
    """Largest absolute difference between matching leaves (inf where shapes, dtypes or non-floats differ)."""
    leaves_a, leaves_b = jax.tree.leaves(first), jax.tree.leaves(second)
    if len(leaves_a) != len(leaves_b):
        return float("inf")
    worst = 0.0
    for a, b in zip(leaves_a, leaves_b):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return float("inf")
        if not np.issubdtype(a.dtype, np.inexact):
            worst = max(worst, 0.0 if np.array_equal(a, b) else float("inf"))
        elif not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return float("inf")
        elif a.size:
            finite = np.isfinite(a)
            worst = max(worst, float(np.abs(a[finite] - b[finite]).max(initial=0.0)))
            if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
                return float("inf")
    return worst


def _allclose(first: Any, second: Any, rtol: float, atol: float) -> bool:
    leaves_a, leaves_b = jax.tree.leaves(first), jax.tree.leaves(second)
    return len(leaves_a) == len(leaves_b) and all(
        np.asarray(a).shape == np.asarray(b).shape
        and (np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True) if np.issubdtype(np.asarray(a).dtype, np.inexact)
             else np.array_equal(a, b))
        for a, b in zip(leaves_a, leaves_b)
    )


def check_alpha_zero_identity(kernel: Any, params: dict, target: Target, *, num_steps: int = 20,
                              num_chains: int = 2, rng_key: Array | None = None) -> CheckResult:
    """`srmc.sample` of ``srmc.wrap(kernel, alpha=0)`` reproduces ``srmc.base(kernel)`` bit for bit (every tilt the
    target's space takes)."""
    key = default_key(rng_key)
    plain_algorithm = base(kernel, **params)
    warmup = None if unset_parameters(plain_algorithm.params) else 0  # a warm-up only where one must set a parameter

    def draws(algorithm: Algorithm) -> np.ndarray:
        return sample(key, algorithm, target, num_steps, num_chains, warmup=warmup,
                      options=RunOptions(thin=1, chunk_size=num_steps)).draws

    plain = draws(plain_algorithm)
    differences = {name: _max_difference(plain, draws(wrap(kernel, alpha=0.0, tilt=tilt, **params)))
                   for name, tilt in TILTS.items() if target.space.kind in tilt.spaces}
    worst = max(differences.values())
    return exact_result(worst, worst == 0.0, f"max |base - srmc(alpha=0)| per tilt: {differences}")


def check_vmap_and_jit(kernel: Any, params: dict, target: Target | LogDensity, positions: Array, *,
                       rng_key: Array | None = None, rtol: float = 1e-5, atol: float = 1e-6) -> CheckResult:
    """One step vmapped over chains equals per-chain calls, and jitted equals eager, within (rtol, atol).

    Eager means ``jax.disable_jit()``. vmap: eager vmapped step vs eager per-chain steps; jit: the jitted vmapped
    step vs the eager one. Every leaf of the new states and infos is compared; the statistic is the largest
    absolute difference.
    """
    functions = kernel_functions(kernel, target)
    logdensity = logdensity_of(target)
    bound = {} if isinstance(kernel, Algorithm) else params
    mass = inverse_mass_of(functions, kernel, params)
    positions = jnp.asarray(positions)
    keys = jax.random.split(default_key(rng_key), positions.shape[0])
    init_keys = jax.random.split(jax.random.fold_in(default_key(rng_key), 1), positions.shape[0])
    states = [stationary_momentum(functions, functions.init(x, logdensity), k, mass)
              for x, k in zip(positions, init_keys)]
    batch = jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)

    def one_step(rng_key: Array, state: Any) -> Any:
        return functions.step(rng_key, state, logdensity, **bound)

    jitted = jax.jit(jax.vmap(one_step))(keys, batch)
    with jax.disable_jit():
        eager = jax.vmap(one_step)(keys, batch)
        per_chain = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[one_step(k, s) for k, s in zip(keys, states)])
    vmap_ok, jit_ok = _allclose(eager, per_chain, rtol, atol), _allclose(jitted, eager, rtol, atol)
    worst = max(_max_difference(eager, per_chain), _max_difference(jitted, eager))
    return exact_result(worst, vmap_ok and jit_ok,
                         f"vmap == per-chain: {vmap_ok}, jit == eager: {jit_ok} (rtol {rtol:g}, atol {atol:g})")


def check_determinism(kernel: Any, params: dict, target: Target | LogDensity, position: Array, *,
                      num_steps: int = 10, rng_key: Array | None = None) -> CheckResult:
    """Two runs with the same key give bit-identical states; a different key gives a different chain."""
    key = default_key(rng_key)
    starts = jnp.asarray(position)[None]
    first, again = (final_states(kernel, params, target, starts, num_steps, key) for _ in range(2))
    other = final_states(kernel, params, target, starts, num_steps, jax.random.fold_in(key, 1))
    repeat_difference = _max_difference(first, again)
    kernel_state = kernel_functions(kernel, target).kernel_state
    moves = not np.array_equal(kernel_state(first).position, kernel_state(other).position)
    return exact_result(repeat_difference, repeat_difference == 0.0 and moves,
                         f"same key max difference {repeat_difference:g}; another key changes the chain: {moves}")
