"""`sample`: many chains, one jitted `lax.scan` per chunk, streaming estimators in O(d) memory per chain.

Keys: ``rng_key`` splits into an initialisation key and one key per chain; step n of a chain uses
``fold_in(chain_key, n)``. Nothing depends on the chunk size, so results are identical for any chunking.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from srmc.algorithm import Algorithm, nonfinite_proposal, state_position
from srmc.result import SampleResult
from srmc.validation import check_initial_positions, check_int, resolve_target
from targets import Target

Array = jax.Array

DEFAULT_FUNCTIONS: dict[str, Callable[[Array], Array]] = {"x": lambda x: x, "x^2": lambda x: x**2}


class RunState(NamedTuple):
    """Everything a run carries between steps (all arrays have a leading chain axis but `step`)."""

    states: Any
    running_means: tuple
    acceptance_sum: Array
    num_nonfinite: Array
    num_accumulated: Array
    step: Array


def sample(
    rng_key: Array,
    algorithm: Algorithm,
    target: Target | Callable[[Array], Array],
    num_steps: int,
    num_chains: int = 1,
    *,
    initial_position: Array | None = None,
    functions: Mapping[str, Callable[[Array], Array]] | None = None,
    burn_in: int = 0,
    thin: int | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> SampleResult:
    """Run `num_chains` chains of `algorithm` on `target` for `burn_in + num_steps` steps.

    Args:
      rng_key: a JAX PRNG key; the same key gives the same result whatever `chunk_size`.
      algorithm: from `srmc.wrap(...)` (SRMC) or `srmc.base(...)` (the base kernel alone).
      target: a `targets.Target`, or a log density function (then `initial_position` is required).
      num_steps: steps that enter the estimates (after `burn_in`).
      num_chains: independent chains, vmapped.
      initial_position: ``(num_chains, dim)`` or ``(dim,)``; default: the target's initial-position sampler.
      functions: ``{name: f}`` whose running means are estimated; default ``x`` and ``x^2``.
      burn_in: steps run first and left out of the estimates.
      thin: store every `thin`-th position (after burn-in) in ``result.draws``; ``None`` stores none.
      chunk_size: steps per compiled scan (default: about 20 progress updates); a multiple of `thin`.
      progress: show a tqdm bar between chunks; default only when stderr is a terminal.
    """
    if not isinstance(algorithm, Algorithm):
        raise TypeError(
            "algorithm must come from srmc.wrap(kernel, ...) or srmc.base(kernel, ...), "
            f"got {type(algorithm).__name__}."
        )
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    thin = None if thin is None else check_int(thin, "thin", minimum=1)
    target = resolve_target(target, initial_position)
    algorithm.check_run(burn_in + num_steps)
    functions = dict(DEFAULT_FUNCTIONS if functions is None else functions)
    if not functions or not all(callable(f) for f in functions.values()):
        raise TypeError("functions must be a non-empty mapping of names to callables f(x).")
    chunk_size = _chunk_size(chunk_size, num_steps + burn_in, thin)

    init_key, run_key = jax.random.split(rng_key)
    positions = check_initial_positions(target, initial_position, num_chains, init_key)
    chain_keys = jax.random.split(run_key, num_chains)
    states = jax.vmap(algorithm.init, in_axes=(0, None))(positions, target)
    function_items = tuple(functions.items())
    run = _initial_run_state(states, positions, function_items)

    bar = _progress_bar(progress, burn_in + num_steps, algorithm)
    start = time.perf_counter()
    run, _ = _run_phase(run, chain_keys, burn_in, chunk_size, algorithm, target, function_items, False, None, bar)
    run, draws = _run_phase(run, chain_keys, num_steps, chunk_size, algorithm, target, function_items, True, thin, bar)
    jax.block_until_ready(run)
    wall_time = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return SampleResult.from_run(run, draws, functions, algorithm, target, num_steps, burn_in, thin, wall_time)


def _chunk_size(chunk_size: int | None, total_steps: int, thin: int | None) -> int:
    if chunk_size is None:
        chunk_size = max(1, min(total_steps, max(100, total_steps // 20)))
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if thin is not None and chunk_size % thin:
        chunk_size += thin - chunk_size % thin
    return chunk_size


def _initial_run_state(states: Any, positions: Array, function_items: tuple) -> RunState:
    num_chains = positions.shape[0]
    dtype = positions.dtype if jnp.issubdtype(positions.dtype, jnp.floating) else jnp.result_type(float)
    means = tuple(jnp.zeros((num_chains, *jax.eval_shape(f, positions[0]).shape), dtype) for _, f in function_items)
    zeros = jnp.zeros(num_chains, dtype)
    return RunState(states, means, zeros, jnp.zeros(num_chains, jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def _run_phase(run, chain_keys, num_steps, chunk_size, algorithm, target, function_items, accumulate, thin, bar):
    """Run `num_steps` steps in chunks; return the run state and the stored draws (or None)."""
    draws = []
    done = 0
    while done < num_steps:
        size = min(chunk_size, num_steps - done)
        if thin is not None and size > thin and size % thin:
            size -= size % thin  # keep every stored draw on a block boundary
        store = thin is not None and size % thin == 0
        block = thin if store else size
        run, out = _run_chunk(
            run, chain_keys, algorithm=algorithm, target=target, function_items=function_items,
            num_blocks=size // block, block_length=block, accumulate=accumulate, store=store,
        )
        if store:
            draws.append(out)
        done += size
        if bar is not None:
            bar.update(size)
    if not draws:
        return run, None
    return run, jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1), *draws)


@functools.partial(
    jax.jit,
    static_argnames=("algorithm", "target", "function_items", "num_blocks", "block_length", "accumulate", "store"),
)
def _run_chunk(run, chain_keys, *, algorithm, target, function_items, num_blocks, block_length, accumulate, store):
    """One compiled chunk: `num_blocks` blocks of `block_length` steps; emits positions per block if `store`."""

    def chain_step(key, state):
        return algorithm.step(key, state, target)

    vmapped_step = jax.vmap(chain_step)

    def one_step(run: RunState, _):
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, run.step)
        states, info = vmapped_step(keys, run.states)
        positions = state_position(states)
        nonfinite = nonfinite_proposal(info)
        run = run._replace(states=states, step=run.step + 1, num_nonfinite=run.num_nonfinite + nonfinite)
        if accumulate:
            count = run.num_accumulated + 1
            weight = 1.0 / count.astype(run.acceptance_sum.dtype)
            means = tuple(
                m + weight * (jax.vmap(f)(positions) - m) for m, (_, f) in zip(run.running_means, function_items)
            )
            run = run._replace(
                running_means=means,
                acceptance_sum=run.acceptance_sum + info.acceptance_rate,
                num_accumulated=count,
            )
        return run, (info.acceptance_rate, nonfinite) if store else None

    def one_block(run: RunState, _):
        run, per_step = jax.lax.scan(one_step, run, None, length=block_length)
        if not store:
            return run, None
        acceptance, nonfinite = per_step
        stats = {"acceptance_rate": acceptance.mean(axis=0), "num_nonfinite": nonfinite.sum(axis=0)}
        theta = getattr(run.states, "theta", None)
        if theta is not None:
            stats["theta_norm"] = jnp.linalg.norm(theta, axis=-1)
        return run, (state_position(run.states), stats)

    run, out = jax.lax.scan(one_block, run, None, length=num_blocks)
    if store:
        out = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), out)
    return run, out


def _progress_bar(progress: bool | None, total: int, algorithm: Algorithm):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return None
    return tqdm(total=total, desc=algorithm.name, unit="step")
