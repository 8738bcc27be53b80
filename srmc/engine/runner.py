"""`sample`: many chains, one jitted `lax.scan` per chunk, streaming estimators in O(d) memory per chain.

Keys: ``rng_key`` splits into an initialisation key and one key per chain; step n of a chain uses
``fold_in(chain_key, n)``. Nothing depends on the chunk size, so results are identical for any chunking, and a
run resumed from a checkpoint continues exactly where it stopped.

Devices: with ``devices=...`` the chain axis of the run state and of the chain keys is sharded over a 1-D
``jax.sharding.Mesh`` (``NamedSharding`` with ``PartitionSpec("chains")``); jit propagates the sharding through
the chunk's scan, so each device steps its own chains. After ``jax.distributed.initialize()``, ``devices="all"``
spans the devices of every process (`srmc.engine.distributed`): each process places its own chains, every
process gets the whole result, and process 0 alone writes checkpoints.

Between chunks the host only updates the progress bar and writes the optional checkpoint (see
`srmc.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
import warnings
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from srmc.engine import batch_means, distributed
from srmc.engine import checkpoint as checkpoints
from srmc.engine.health import health_report
from srmc.engine.prng import unrolled_threefry
from srmc.engine.result import SampleResult
from srmc.engine.timing import compile_seconds
from srmc.engine.validation import (
    check_functions,
    check_initial_positions,
    check_int,
    check_key,
    check_num_batches,
    check_step,
    initial_states,
    resolve_devices,
    resolve_target,
)
from srmc.engine.warmup import (
    DEFAULT_WARMUP,
    Warmup,
    WarmupPlan,
    as_warmup,
    finish,
    initial_warmup_carry,
    warmup_dynamic_params,
    warmup_plan,
)
from srmc.engine.warmup import run_chunk as run_warmup_chunk
from srmc.method.algorithm import Algorithm
from srmc.targets import Continuous, Target

Array = jax.Array

DEFAULT_FUNCTIONS: dict[str, Callable[[Array], Array]] = {"x": lambda x: x, "x^2": lambda x: x**2}


class RunState(NamedTuple):
    """Everything a run carries between steps: arrays with a leading chain axis, and scalars.

    ``snapshots`` are per function ``(chains, num_snapshots, ...)``; ``nonfinite_values`` per function count the
    counted steps at which the function's value was not finite; ``batch_means`` are per function the online
    batch-means accumulators (`srmc.batch_means`), empty with ``num_batches=0``. ``kernel_params``: per-chain
    base-kernel parameters the warm-up adapted (traced through every step; empty without warm-up); ``warmup``:
    the warm-up's `srmc.engine.warmup.WarmupResult` (empty without); ``monitor``: per algorithm statistic
    ``(chains, MONITOR_POINTS)`` values at evenly spaced counted steps (the health report reads its trend);
    ``halfway``: per function ``(chains, 1, ...)`` running means at counted step ``num_steps // 2`` (the health
    report's estimate of the finite-n bias compares them with the final ones).
    """

    states: Any
    running_means: tuple
    acceptance_sum: Array
    num_nonfinite: Array
    num_accumulated: Array
    step: Array
    snapshots: tuple = ()
    nonfinite_values: tuple = ()
    batch_means: tuple = ()
    kernel_params: dict = {}
    warmup: tuple = ()
    monitor: dict = {}
    halfway: tuple = ()


class RunLengths(NamedTuple):
    """How long a run is and how it is cut: counted steps, burn-in, thinning, chunks, checkpoints, batches."""

    num_steps: int
    burn_in: int
    thin: int | None
    chunk_size: int
    checkpoint_every: int | None
    num_chains: int
    num_batches: int
    batch_length: int
    warmup_steps: int = 0

    @property
    def total_steps(self) -> int:
        """Burn-in plus counted steps."""
        return self.burn_in + self.num_steps


class RunConfig(NamedTuple):
    """The static description of a run (hashable: it is a static argument of the compiled chunk)."""

    algorithm: Algorithm
    target: Target
    function_items: tuple
    snapshot_steps: tuple[int, ...]
    monitor_steps: tuple[int, ...] = ()
    halfway_step: int = 0


MONITOR_POINTS = 16  # counted steps at which the algorithm's statistics (SRMC: |theta|) are recorded
WARMUP_SALT = 0x5A17  # warm-up step i of a chain uses fold_in(fold_in(chain_key, WARMUP_SALT), i)


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
    snapshot_steps: Sequence[int] | None = None,
    num_batches: int = batch_means.DEFAULT_NUM_BATCHES,
    devices: int | str | Sequence[jax.Device] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    warmup: int | Warmup | None = None,
) -> SampleResult:
    """Run `num_chains` chains of `algorithm` on `target` for `warmup + burn_in + num_steps` steps.

    Args:
      rng_key: a JAX PRNG key; the same key gives the same result whatever `chunk_size`, `devices` or checkpoints.
      algorithm: from `srmc.wrap(...)` (SRMC) or `srmc.base(...)` (the base kernel alone).
      target: a `targets.Target`, or a log density function (then `initial_position` is required).
      num_steps: steps that enter the estimates (after `burn_in`).
      num_chains: independent chains, vmapped.
      initial_position: ``(num_chains, dim)`` or ``(dim,)``; default: the target's initial-position sampler.
      functions: ``{name: f}`` whose running means are estimated; default ``x`` and ``x^2``. A non-finite value
        of f is averaged in (the estimate becomes NaN) and flagged: ``result.nonfinite_estimates``, a
        RuntimeWarning, and a line in ``summary()``.
      burn_in: steps run first and left out of the estimates.
      thin: store every `thin`-th position (after burn-in) in ``result.draws``; ``None`` stores none.
      chunk_size: steps per compiled scan (default: about 20 progress updates); a multiple of `thin`.
      progress: show a tqdm bar between chunks; default only when stderr is a terminal.
      snapshot_steps: counted steps (after burn-in, in 1..num_steps) at which to copy every chain's running
        means into ``result.snapshots`` (e.g. a geometric grid for MSE-vs-steps curves); O(chains x d) each.
      num_batches: slots of the online batch means per chain and function (even; 0: none), from which
        ``result.batch_means_mcse`` gives an MCSE from a single chain; memory ``num_batches x`` a running mean.
      devices: None (the default device); an int n (the first n of ``jax.devices()``); ``"all"`` (every device
        of ``jax.devices()``); or a sequence of ``jax.Device``. The chains are split evenly over them, so
        `num_chains` must be a multiple of their number. Many processes (several hosts): call
        ``jax.distributed.initialize()`` first, then the same `sample` on every process with ``devices="all"``;
        every process gets the whole result, identical to one process with as many devices; process 0 alone
        writes `checkpoint`, which every process must be able to read to `resume` (see
        `srmc.engine.distributed`).
      checkpoint: file to write the full run state to between chunks (atomically, see `srmc.checkpoint`). An
        existing file is never overwritten unless it is `resume` itself or ``overwrite=True``.
      checkpoint_every: steps between checkpoints (default: after every chunk; the chunk size is capped at it),
        and always at the end.
      resume: a checkpoint written by a run with the same arguments; the run continues from it bit for bit
        (a finished one returns its result at once). New checkpoints go to `checkpoint`, by default `resume`.
      overwrite: let `checkpoint` replace an existing file when starting afresh.
      warmup: steps of the base kernel on the target itself before anything else (no repellence, SRMC's history
        frozen at 0), adapting its step size and inverse mass matrix (`srmc.engine.warmup`); an int, or a
        `srmc.Warmup` for the options. The warm-up never enters the estimates; ``result.adapted_params`` and
        ``result.warmup_stats`` say what it found. A given step size is where the adaptation starts.
        None (the default): `DEFAULT_WARMUP` steps for an algorithm that needs the warm-up's measurements
        (``algorithm.needs_reference``: SRMC's default bounded tilt on a continuous target), none otherwise.
    """
    if not isinstance(algorithm, Algorithm):
        raise TypeError(
            "algorithm must come from srmc.wrap(kernel, ...) or srmc.base(kernel, ...), "
            f"got {type(algorithm).__name__}."
        )
    rng_key = check_key(rng_key)
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    thin = None if thin is None else check_int(thin, "thin", minimum=1)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}.")
    num_batches = check_num_batches(num_batches)
    mesh = resolve_devices(devices, num_chains)
    checkpoint, checkpoint_every, resume = _check_checkpoint_arguments(checkpoint, checkpoint_every, resume,
                                                                      overwrite)
    target = resolve_target(target, initial_position)
    warmup = as_warmup(resolve_warmup(warmup, algorithm, target))
    _check_run(algorithm.check_run, burn_in + num_steps)
    chunk_size = _chunk_size(chunk_size, num_steps + burn_in, thin, checkpoint_every)
    snapshot_steps = _check_snapshot_steps(snapshot_steps, num_steps)

    init_key, run_key = jax.random.split(rng_key)
    positions = check_initial_positions(target, initial_position, num_chains, init_key)
    function_items = check_functions(DEFAULT_FUNCTIONS if functions is None else functions, positions[0])
    chain_keys = jax.random.split(run_key, num_chains)
    if mesh is not None:
        positions, chain_keys = _shard((positions, chain_keys), mesh)
    states = initial_states(algorithm, target, positions)
    run = _initial_run_state(states, positions, function_items, len(snapshot_steps), num_batches)
    monitor_steps = _monitor_steps(num_steps) if jax.eval_shape(jax.vmap(algorithm.statistics), states) else ()
    halfway_step = num_steps // 2
    config = RunConfig(algorithm, target, function_items, snapshot_steps, monitor_steps, halfway_step)
    if halfway_step:
        run = run._replace(halfway=tuple(jnp.zeros((m.shape[0], 1, *m.shape[1:]), m.dtype) for m in run.running_means))
    lengths = RunLengths(num_steps, burn_in, thin, chunk_size, checkpoint_every, num_chains, num_batches,
                         batch_means.batch_length(num_steps, num_batches) if num_batches else 0,
                         0 if warmup is None else warmup.num_steps)
    plan = None if warmup is None else warmup_plan(algorithm, target, warmup)
    if plan is not None:
        run = run._replace(**_warmup_placeholders(plan, algorithm, target, states, positions))
    check_step(algorithm, target, states, chain_keys[0], jax.tree.map(lambda leaf: leaf[0], run.kernel_params))
    if monitor_steps:
        run = run._replace(monitor=_monitor_buffers(algorithm, states, len(monitor_steps)))
    if mesh is not None:
        run = _shard(run, mesh)

    step, draws, save = 0, [], None
    if checkpoint is not None:
        fingerprint = _fingerprint(rng_key, config, lengths, positions, (run, chain_keys), warmup)
        if resume is not None:
            (run, chain_keys), step, draws = _resume(resume, fingerprint, (run, chain_keys))
            if mesh is not None:
                run, chain_keys = _shard((run, chain_keys), mesh)
        save = functools.partial(_save_checkpoint, checkpoint, fingerprint, lengths.total_steps,
                                 spread=distributed.spans_processes(mesh))

    warmed = plan is None or step > 0 or bool(run.warmup.done)
    bar = _progress_bar(progress, lengths.warmup_steps + lengths.total_steps, algorithm,
                        step + (lengths.warmup_steps if warmed else 0))
    compiled_before, start = compile_seconds(), time.perf_counter()
    with unrolled_threefry():
        if not warmed:
            run = _run_warmup(run, chain_keys, config, plan, lengths, bar)
            if save is not None:
                draws = save(run, chain_keys, draws, 0)
        run, draws = _run_chunks(run, chain_keys, config, lengths, ChunkProgress(step, draws, bar, save))
    jax.block_until_ready(run)
    if distributed.spans_processes(mesh):  # every process gets the whole run
        run, draws = distributed.gather((run, draws))
    wall_time = time.perf_counter() - start
    compile_time = min(compile_seconds() - compiled_before, wall_time)
    if bar is not None:
        bar.close()
    result = SampleResult.from_run(run, _gather_draws(draws), dict(function_items), algorithm, target, lengths,
                                   wall_time, snapshot_steps, rng_key=rng_key, monitor_steps=monitor_steps)
    counters = {name: np.asarray(value) for name, value in jax.vmap(algorithm.counters)(run.states).items()}
    result = dataclasses.replace(result, compile_time=compile_time, sampling_time=wall_time - compile_time,
                                 counters=counters)
    result = dataclasses.replace(result, warnings=health_report(result, algorithm))
    if result.nonfinite_estimates:
        warnings.warn(result.nonfinite_warning(), RuntimeWarning, stacklevel=2)
    return result


def resolve_warmup(warmup: int | Warmup | None, algorithm: Algorithm, target: Target) -> int | Warmup | None:
    """`sample`'s warm-up: as given, or by default `DEFAULT_WARMUP` steps where the algorithm needs one."""
    needs = algorithm.needs_reference and isinstance(target.space, Continuous)
    if warmup is None:
        return DEFAULT_WARMUP if needs or algorithm.unset_params else None
    no_warmup = warmup == 0 if not isinstance(warmup, Warmup) else warmup.num_steps == 0
    if algorithm.unset_params and no_warmup:
        raise ValueError(f"{algorithm.name} was given no {', '.join(algorithm.unset_params)}, which the warm-up "
                         f"adapts: leave warmup at its default ({DEFAULT_WARMUP}) or pass warmup=N > 0, or give "
                         f"{algorithm.unset_params[0]}=... to the kernel.")
    tuning = algorithm.kernel.tuning
    mass_name = tuning.inverse_mass_matrix if tuning is not None else None
    unset_mass = mass_name if mass_name in algorithm.unset_params else None
    if unset_mass and isinstance(warmup, Warmup) and warmup.mass == "none":
        raise ValueError(f"{algorithm.name} was given no {unset_mass} and Warmup(mass='none') does not adapt it: "
                         f"pass Warmup(mass='diagonal') or give {unset_mass}=... to the kernel.")
    if needs and no_warmup:
        raise ValueError(f"{algorithm.name} with tilt='bounded' (srmc.wrap's default) centres and scales its tilt on "
                         f"pi's mean and standard deviation, which the warm-up measures: leave warmup at its default "
                         f"({DEFAULT_WARMUP}) or pass warmup=N > 0 to srmc.sample; or give srmc.wrap "
                         f"tilt_reference=(location, scale), or choose tilt='linear' or 'score'.")
    return warmup


@functools.lru_cache(maxsize=256)
def _check_run(check_run: Callable[[int], None], total_steps: int) -> None:
    """``check_run(total_steps)``, once per (check, length): it evaluates schedules on a grid of steps."""
    check_run(total_steps)


class ChunkProgress(NamedTuple):
    """Where a run starts its chunks: the step reached, draws so far, the progress bar and the checkpoint writer."""

    step: int
    draws: list
    bar: Any
    save: Callable | None


def _warmup_placeholders(plan: WarmupPlan, algorithm: Algorithm, target: Target, states: Any,
                         positions: Array) -> dict:
    """Zero-valued `RunState` fields of the right shapes for what the warm-up will produce (so that a checkpoint
    written before and one written after the warm-up have the same structure)."""
    carry = initial_warmup_carry(plan, algorithm, algorithm.kernel_state(states), positions)
    result = jax.eval_shape(lambda c: finish(plan, c), carry)
    zeros = jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), result)
    return {"kernel_params": zeros.params, "warmup": zeros}


def _run_warmup(run: RunState, chain_keys: Array, config: RunConfig, plan: WarmupPlan, lengths: RunLengths,
                bar: Any) -> RunState:
    """Run the warm-up in chunks; return the run state with the warmed-up states and adapted parameters."""
    algorithm = config.algorithm
    warmup_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, WARMUP_SALT)
    positions = algorithm.position(run.states)
    carry = initial_warmup_carry(plan, algorithm, algorithm.kernel_state(run.states), positions)
    dynamic = warmup_dynamic_params(plan, algorithm)
    done = 0
    while done < plan.num_steps:
        size = min(lengths.chunk_size, plan.num_steps - done)
        carry = _warmup_chunk(carry, warmup_keys, dynamic, plan=plan, num_steps=size)
        done += size
        if bar is not None:
            jax.block_until_ready(carry)
            bar.update(size)
    result = finish(plan, carry)
    states = algorithm.with_kernel_state(run.states, carry.states)
    states = jax.vmap(lambda state: algorithm.with_reference(state, result.stats, config.target))(states)
    states = _cast_like(states, run.states)
    return run._replace(states=states, kernel_params=_cast_like(result.params, run.kernel_params),
                        warmup=_cast_like(result, run.warmup))


_warmup_chunk = jax.jit(run_warmup_chunk, static_argnames=("plan", "num_steps"))


def _monitor_steps(num_steps: int) -> tuple[int, ...]:
    """`MONITOR_POINTS` distinct counted steps, evenly spaced, ending at the last one."""
    return tuple(sorted({max(1, round(num_steps * (i + 1) / MONITOR_POINTS)) for i in range(MONITOR_POINTS)}))


def _monitor_buffers(algorithm: Algorithm, states: Any, num_points: int) -> dict:
    shapes = jax.eval_shape(jax.vmap(algorithm.statistics), states)
    return {name: jnp.full((shape.shape[0], num_points), jnp.nan, jnp.result_type(shape.dtype, float))
            for name, shape in shapes.items()}


def _record_monitor(monitor: dict, algorithm: Algorithm, states: Any, count: Array, monitor_steps: tuple) -> dict:
    """Write the algorithm's statistics into their slot when `count` is a monitor step."""
    values = jax.vmap(algorithm.statistics)(states)
    return {name: _write_slot(buffer, values[name].astype(buffer.dtype), count, monitor_steps)
            for name, buffer in monitor.items()}


def _write_slot(buffer: Array, value: Array, count: Array, steps: tuple[int, ...]) -> Array:
    """`buffer` ``(chains, len(steps), ...)`` with `value` in slot i where ``count == steps[i]``, else unchanged.

    A select rewrites one slot (its old value where no step is hit), with no branch: on CPU a ``lax.cond`` per
    step costs more than an O(chains x d) copy.
    """
    hits = jnp.asarray(steps) == count
    index = jnp.argmax(hits)
    return buffer.at[:, index].set(jnp.where(jnp.any(hits), value, buffer[:, index]))


def _run_chunks(run: RunState, chain_keys: Array, config: RunConfig, lengths: RunLengths,
                progress: ChunkProgress) -> tuple[RunState, list]:
    """Run from the step reached to the end in chunks; checkpoint between them; return the run state and draws."""
    step, draws, bar, save = progress
    burn_in, total_steps, thin, chunk_size = lengths.burn_in, lengths.total_steps, lengths.thin, lengths.chunk_size
    checkpoint_every = lengths.checkpoint_every
    batch_length = jnp.asarray(max(lengths.batch_length, 1), jnp.int32)  # traced: the chunk ignores num_steps
    last_saved = step
    while step < total_steps:
        size, store = _next_chunk(step, burn_in, total_steps, chunk_size, thin)
        block = thin if store else size
        run, out = _run_chunk(run, chain_keys, batch_length, config=config, num_blocks=size // block,
                              block_length=block, accumulate=step >= burn_in, store=store)
        if store:
            draws.append(out)
        step += size
        if bar is not None:
            jax.block_until_ready(run)  # the bar counts finished steps, not dispatched ones
            bar.update(size)
        if save is not None and (step == total_steps or checkpoint_every is None
                                 or step - last_saved >= checkpoint_every):
            draws = save(run, chain_keys, draws, step)
            last_saved = step
    return run, draws


def _next_chunk(step: int, burn_in: int, total_steps: int, chunk_size: int, thin: int | None) -> tuple[int, bool]:
    """(steps in the chunk starting at `step`, whether it stores draws); every stored draw ends a thin block."""
    if step < burn_in:
        return min(chunk_size, burn_in - step), False
    size = min(chunk_size, total_steps - step)
    if thin is not None and size > thin and size % thin:
        size -= size % thin
    return size, thin is not None and size % thin == 0


def _chunk_size(chunk_size: int | None, total_steps: int, thin: int | None, checkpoint_every: int | None) -> int:
    if chunk_size is None:
        chunk_size = max(1, min(total_steps, max(100, total_steps // 20)))
        if checkpoint_every is not None:
            chunk_size = min(chunk_size, checkpoint_every)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if thin is not None and chunk_size % thin:
        chunk_size += thin - chunk_size % thin
    return chunk_size


def _check_snapshot_steps(steps: Sequence[int] | None, num_steps: int) -> tuple[int, ...]:
    """Sorted, distinct snapshot steps, each an int in [1, num_steps]."""
    if steps is None:
        return ()
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise TypeError(f"snapshot_steps must be a sequence of step counts, got {type(steps).__name__}.")
    checked = sorted({check_int(step, "snapshot_steps", minimum=1) for step in steps})
    if checked and checked[-1] > num_steps:
        raise ValueError(f"snapshot_steps must lie in 1..num_steps={num_steps}, got {checked[-1]}.")
    return tuple(checked)


def _check_checkpoint_arguments(checkpoint: Any, checkpoint_every: Any, resume: Any, overwrite: Any
                                ) -> tuple[str | None, int | None, str | None]:
    """(checkpoint path, steps between checkpoints, resume path), checked before anything runs.

    `checkpoint` defaults to `resume`. A fresh run refuses an existing checkpoint file unless ``overwrite=True``.
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
    checkpoint, resume = _check_path(checkpoint, "checkpoint"), _check_path(resume, "resume")
    if resume is not None and not os.path.isfile(resume):
        raise FileNotFoundError(f"resume={resume!r}: no such checkpoint file; pass checkpoint= (without resume=) "
                                "to start a run that writes one.")
    checkpoint = resume if checkpoint is None else checkpoint
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint=path (or resume=path) to write to.")
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    if checkpoint is None:
        return None, None, None
    directory = os.path.dirname(os.path.abspath(checkpoint))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint={checkpoint!r}: the directory {directory!r} does not exist.")
    if os.path.isdir(checkpoint):
        raise IsADirectoryError(f"checkpoint={checkpoint!r} is a directory; pass a file path, e.g. run.npz.")
    resuming_it = resume is not None and os.path.abspath(resume) == os.path.abspath(checkpoint)
    if os.path.exists(checkpoint) and not resuming_it and not overwrite:
        raise FileExistsError(
            f"checkpoint={checkpoint!r} already exists and would be overwritten by a fresh run; pass "
            f"resume={checkpoint!r} to continue it, overwrite=True to replace it, or another path."
        )
    return checkpoint, checkpoint_every, resume


def _check_path(path: Any, name: str) -> str | None:
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {path!r}.")
    return os.fspath(path)


def _initial_run_state(states: Any, positions: Array, function_items: tuple, num_snapshots: int = 0,
                       num_batches: int = 0) -> RunState:
    num_chains = positions.shape[0]
    float_dtype = positions.dtype if jnp.issubdtype(positions.dtype, jnp.floating) else jnp.result_type(float)
    outputs = [jax.eval_shape(f, positions[0]) for _, f in function_items]
    means = tuple(jnp.zeros((num_chains, *out.shape), jnp.result_type(out.dtype, float_dtype)) for out in outputs)
    snapshots = tuple(jnp.zeros((num_chains, num_snapshots, *m.shape[1:]), m.dtype) for m in means) \
        if num_snapshots else ()
    counts = jnp.zeros(num_chains, jnp.int32)
    batches = tuple(batch_means.init(m.shape, m.dtype, num_batches) for m in means) if num_batches else ()
    return RunState(states, means, jnp.zeros(num_chains, float_dtype), counts, jnp.zeros((), jnp.int32),
                    jnp.zeros((), jnp.int32), snapshots, tuple(counts for _ in means), batches)


def _shard(tree: Any, mesh: Mesh) -> Any:
    """Place every array of `tree` on `mesh`: leading (chain) axis split over devices, scalars replicated."""
    if distributed.spans_processes(mesh):
        return distributed.place(tree, mesh)
    chains, replicated = NamedSharding(mesh, PartitionSpec("chains")), NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda leaf: jax.device_put(leaf, chains if np.ndim(leaf) else replicated), tree)


@functools.partial(jax.jit, static_argnames=("config", "num_blocks", "block_length", "accumulate", "store"))
def _run_chunk(run: RunState, chain_keys: Array, batch_length: Array, *, config: RunConfig, num_blocks: int,
               block_length: int, accumulate: bool, store: bool) -> tuple[RunState, Any]:
    """One compiled chunk: `num_blocks` blocks of `block_length` steps; emits positions per block if `store`."""
    algorithm, target, function_items, snapshot_steps, monitor_steps, halfway_step = config
    vmapped_step = jax.vmap(lambda key, state, params: algorithm.step(key, state, target, params))

    def one_step(run: RunState, _):
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, run.step)
        states, info = vmapped_step(keys, run.states, run.kernel_params)
        states = _cast_like(states, run.states)
        nonfinite = info.is_nonfinite
        run = run._replace(states=states, step=run.step + 1, num_nonfinite=run.num_nonfinite + nonfinite)
        if accumulate:
            run = _accumulate(run, algorithm.position(states), info, function_items, snapshot_steps, batch_length)
            if halfway_step:
                run = run._replace(halfway=_take_snapshot(run.halfway, run.running_means, run.num_accumulated,
                                                          (halfway_step,)))
            if monitor_steps:
                run = run._replace(monitor=_record_monitor(run.monitor, algorithm, states, run.num_accumulated,
                                                           monitor_steps))
        return run, (info.acceptance_rate, nonfinite) if store else None

    def one_block(run: RunState, _):
        run, per_step = jax.lax.scan(one_step, run, None, length=block_length)
        if not store:
            return run, None
        acceptance, nonfinite = per_step
        stats = {"acceptance_rate": acceptance.mean(axis=0), "num_nonfinite": nonfinite.sum(axis=0),
                 **jax.vmap(algorithm.statistics)(run.states)}
        return run, (algorithm.position(run.states), stats)

    run, out = jax.lax.scan(one_block, run, None, length=num_blocks)
    if store:
        out = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), out)
    return run, out


def _accumulate(run: RunState, positions: Array, info: Any, function_items: tuple, snapshot_steps: tuple,
                batch_length: Array) -> RunState:
    """Fold one counted step into the running means, non-finite counts, batch means and snapshots."""
    values = tuple(jax.vmap(f)(positions).astype(m.dtype) for m, (_, f) in zip(run.running_means, function_items))
    count = run.num_accumulated + 1
    weight = (1.0 / count).astype(run.acceptance_sum.dtype)
    means = tuple(m + weight.astype(m.dtype) * (v - m) for m, v in zip(run.running_means, values))
    nonfinite_values = tuple(n + ~jnp.all(jnp.isfinite(v.reshape(v.shape[0], -1)), axis=1)
                             for n, v in zip(run.nonfinite_values, values))
    run = run._replace(
        running_means=means,
        acceptance_sum=run.acceptance_sum + info.acceptance_rate.astype(run.acceptance_sum.dtype),
        num_accumulated=count,
        nonfinite_values=nonfinite_values,
    )
    if run.batch_means:
        run = run._replace(batch_means=tuple(batch_means.update(m, v, count, batch_length)
                                             for m, v in zip(run.batch_means, values)))
    if snapshot_steps:
        run = run._replace(snapshots=_take_snapshot(run.snapshots, means, count, snapshot_steps))
    return run


def _cast_like(new: Any, old: Any) -> Any:
    """`new` with the dtypes of `old` (a kernel or wrapper may promote a cached value; the scan carry may not)."""
    return jax.tree.map(lambda a, b: a if a.dtype == b.dtype else a.astype(b.dtype), new, old)


def _take_snapshot(snapshots: tuple, means: tuple, count: Array, snapshot_steps: tuple[int, ...]) -> tuple:
    """Copy the running means into their snapshot slot when `count` is one of the snapshot steps."""
    return tuple(_write_slot(buffer, m, count, snapshot_steps) for buffer, m in zip(snapshots, means))


def _gather_draws(draws: list) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The stored draws of all chunks so far as numpy arrays ``(chains, draws, ...)``, or None."""
    if not draws:
        return None
    positions = np.concatenate([np.asarray(chunk[0]) for chunk in draws], axis=1)
    stats = {name: np.concatenate([np.asarray(chunk[1][name]) for chunk in draws], axis=1) for name in draws[0][1]}
    return positions, stats


def _fingerprint(rng_key: Array, config: RunConfig, lengths: RunLengths, positions: Array, tree: Any,
                 warmup: Warmup | None = None) -> dict:
    """What a checkpoint must agree on to be resumed by this run (see `srmc.checkpoint`)."""
    algorithm, target, function_items, snapshot_steps, monitor_steps, _ = config
    return {
        "algorithm": repr(algorithm),
        "algorithm_params": {name: checkpoints.describe_value(value) for name, value in algorithm.params.items()},
        "target": {"name": target.name, "kind": target.kind, "dim": target.dim,
                   "logdensity": checkpoints.describe_callable(target.logdensity)},
        "num_steps": lengths.num_steps, "burn_in": lengths.burn_in, "thin": lengths.thin,
        "num_chains": lengths.num_chains,
        "functions": {name: checkpoints.describe_callable(f) for name, f in function_items},
        "snapshot_steps": list(snapshot_steps), "num_batches": lengths.num_batches,
        "warmup": None if warmup is None else warmup._asdict(),
        "rng_key": {"impl": str(jax.random.key_impl(rng_key)),
                    "data": np.asarray(jax.random.key_data(rng_key)).tolist()},
        "initial_positions": checkpoints.array_digest(distributed.gather(positions)),
        "state": checkpoints.leaf_descriptions(tree),
    }


def _resume(path: str, fingerprint: dict, template: Any) -> tuple[Any, int, list]:
    """(run state and chain keys, step reached, draws so far) from the checkpoint at `path`."""
    stored = checkpoints.load(path)
    checkpoints.check_fingerprint(path, stored.metadata["fingerprint"], fingerprint)
    draws = [] if stored.draws is None else [stored.draws]
    return checkpoints.restore(template, stored), int(stored.metadata["progress"]["step"]), draws


def _save_checkpoint(path: str, fingerprint: dict, total_steps: int, run: RunState, chain_keys: Array,
                     draws: list, step: int, *, spread: bool = False) -> list:
    """Write a checkpoint; return the draws gathered into one host chunk (so they are not gathered again).

    `spread`: the run spans processes; all of them gather the state, process 0 writes, all wait for it.
    """
    tree = (run, chain_keys)
    if spread:
        tree, draws = distributed.gather((tree, draws))
    gathered = _gather_draws(draws)
    progress = {"step": step, "total_steps": total_steps, "complete": step == total_steps}
    if not spread or distributed.is_writer():
        checkpoints.save(path, fingerprint, tree, gathered, progress)
    if spread:
        distributed.barrier(f"srmc checkpoint {step}")
    return [] if gathered is None else [gathered]


def _progress_bar(progress: bool | None, total: int, algorithm: Algorithm, initial: int = 0):
    if progress is None:
        progress = sys.stderr.isatty() or in_notebook()
    if not progress or not distributed.is_writer():  # one bar per run: process 0's
        return None
    bar = progress_bar_class()
    return None if bar is None else bar(total=total, initial=initial, desc=algorithm.name, unit="step")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that talks to a front end over ZMQ)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar_class() -> Any:
    """tqdm's widget bar in a notebook with ipywidgets, its text bar elsewhere (a notebook without ipywidgets
    shows the text bar instead of tqdm.auto's "IProgress not found" warning); None without tqdm (optional)."""
    try:
        from tqdm import std
    except ImportError:
        return None
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm's notebook bar needs it)
        except ImportError:
            return std.tqdm
    from tqdm import auto  # in a notebook without ipywidgets, importing it would warn "IProgress not found"

    return auto.tqdm
