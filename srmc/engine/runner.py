"""`sample`: many chains, one jitted `lax.scan` per chunk, streaming estimators in O(d) memory per chain.

`sample` is `srmc.adapt` (the warm-up, `srmc.engine.adaptation`) then the run. It knows no algorithm: it steps
``algorithm.step_fn`` with the algorithm's parameters as data (one chain's each, vmapped), averages functions of
the positions, and records what the algorithm declares (`srmc.method.algorithm.Report`).

Keys: ``rng_key`` splits into an initialisation key and a run key, the run key into one key per chain; step n of a
chain uses ``fold_in(chain_key, n)`` (n = 0, 1, ... after the warm-up). Nothing depends on the chunk size, so
results are identical for any chunking, and a run resumed from a checkpoint continues exactly where it stopped.
The keys' implementation is the one of `rng_key` (``jax.random.key(seed, impl=...)``).

Devices: with ``RunOptions(devices=...)`` the chain axis of the run state and of the chain keys is sharded over a
1-D ``jax.sharding.Mesh`` (``NamedSharding`` with ``PartitionSpec("chains")``); jit propagates the sharding
through the chunk's scan, so each device steps its own chains. After ``jax.distributed.initialize()``,
``devices="all"`` spans the devices of every process (`srmc.engine.distributed`): each process places its own
chains, every process gets the whole result, and process 0 alone writes checkpoints.

Between chunks the host only updates the progress bar and writes the optional checkpoint (`srmc.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from srmc.engine import batch_means, distributed
from srmc.engine import checkpoint as checkpoints
from srmc.engine.adaptation import (
    float_dtype_of,
    needs_of,
    per_chain,
    post_warmup_shapes,
    resolve_warmup,
    run_adaptation,
    run_params,
)
from srmc.engine.health import health_report
from srmc.engine.options import (
    CheckedCheckpointing,
    RunOptions,
    check_checkpointing,
    check_options,
    check_snapshot_steps,
    chunk_size_for,
)
from srmc.engine.progress import progress_bar
from srmc.engine.result import SampleResult
from srmc.engine.timing import compile_seconds
from srmc.engine.validation import (
    check_functions,
    check_initial_positions,
    check_int,
    check_key,
    check_step,
    initial_states,
    resolve_devices,
    resolve_target,
)
from srmc.engine.warmup import Warmup, WarmupPlan, is_diagonal, measured_steps, warmup_plan
from srmc.method.algorithm import Algorithm, state_position
from srmc.targets import Histogram, Target

Array = jax.Array

DEFAULT_FUNCTIONS: dict[str, Callable[[Array], Array]] = {"x": lambda x: x, "x^2": lambda x: x**2}


class RunState(NamedTuple):
    """Everything a run carries between steps: arrays with a leading chain axis, and scalars.

    ``params``: the algorithm's parameters, traced through every step: as given (shared by every chain) without a
    warm-up, one chain's per row after one (its adapted ones); ``snapshots`` are per function
    ``(chains, num_snapshots, ...)``;
    ``nonfinite_values`` per function count the counted steps at which the function's value was not finite;
    ``batch_means`` are per function the online batch-means accumulators (`srmc.batch_means`), empty with
    ``num_batches=0``; ``warmup``: the warm-up's `srmc.engine.warmup.WarmupResult` (empty without); ``monitor``:
    per algorithm statistic ``(chains, MONITOR_POINTS, ...)`` values at evenly spaced counted steps (the health
    report reads its trend); ``halfway``: per function ``(chains, 1, ...)`` running means at counted step
    ``num_steps // 2`` (the health report's estimate of the finite-n bias compares them with the final ones);
    ``num_draws``: per chain, the counted steps that yielded a draw, for an algorithm that declares which do
    (``Report.is_draw``; empty otherwise). A `targets.Histogram` function keeps its counts as its running "mean"
    (int32, ``(chains, num_bins)``), and its snapshots and halfway values as frequencies.
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
    params: Any = ()
    warmup: tuple = ()
    monitor: dict = {}
    halfway: tuple = ()
    num_draws: Any = ()


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

    algorithm: Algorithm  # its program: no parameters, no display (`Algorithm.program`)
    target: Target
    function_items: tuple
    snapshot_steps: tuple[int, ...]
    monitor_steps: tuple[int, ...] = ()
    halfway_step: int = 0
    params_axis: int | None = None  # 0: the parameters have a chain axis (after a warm-up); None: shared
    diagonal_mass: str | None = None  # a kernel parameter held as a diagonal matrix, handed to the kernel as a vector


MONITOR_POINTS = 16  # counted steps at which the algorithm's statistics are recorded


def sample(
    rng_key: Array,
    algorithm: Algorithm,
    target: Target | Callable[[Array], Array],
    num_steps: int,
    num_chains: int = 1,
    *,
    initial_position: Array | None = None,
    functions: Mapping[str, Callable[[Array], Array]] | None = None,
    warmup: int | Warmup | None = None,
    options: RunOptions | None = None,
    checkpoint: Any = None,
) -> SampleResult:
    """Run `num_chains` chains of `algorithm` on `target`: a warm-up, then `burn_in + num_steps` steps.

    Args:
      rng_key: a JAX PRNG key (its implementation is used throughout); the same key gives the same result
        whatever the chunking, devices or checkpoints.
      algorithm: from `srmc.wrap(...)` (SRMC), `srmc.base(...)` (the base kernel alone), or any srmc algorithm;
        its ``params`` are the hyperparameters the run starts from.
      target: a `targets.Target`, or a log density function (then `initial_position` is required).
      num_steps: steps that enter the estimates (after the warm-up and `options.burn_in`).
      num_chains: independent chains, vmapped.
      initial_position: ``(num_chains, dim)`` or ``(dim,)``; default: the target's initial-position sampler.
      functions: ``{name: f}`` whose running means are estimated; default ``x`` and ``x^2``. A non-finite value
        of f is averaged in (the estimate becomes NaN) and flagged: ``result.nonfinite_estimates``, a
        RuntimeWarning, and a line in ``summary()``.
      warmup: steps of the base kernel on the target before anything else (`srmc.adapt`): an int, or a
        `srmc.Warmup` for the options. None (the default): `srmc.engine.warmup.DEFAULT_WARMUP` steps wherever
        there is something to adapt (a base kernel with a step size, or an algorithm that needs the warm-up's
        measurements), so a base kernel and SRMC around it are warmed up alike; a given step size is where the
        adaptation starts; 0: run the parameters as given. ``result.adapted_params`` and ``result.warmup_stats``
        say what it found.
      options: a `srmc.RunOptions` (burn-in, thinning, chunks, progress bar, snapshots, batch means, devices).
      checkpoint: a file path, or a `srmc.Checkpointing` (how often, resume, overwrite): the run's whole state
        is written there between chunks and at the end; a resumed run continues bit for bit.
    """
    run = _prepare(rng_key, algorithm, target, num_steps, num_chains, initial_position, functions, warmup,
                   options, checkpoint)
    compiled_before, start = compile_seconds(), time.perf_counter()
    state, draws, diagonal = _execute(run)
    wall_time = time.perf_counter() - start
    compile_time = min(compile_seconds() - compiled_before, wall_time)
    return _collect(run, state, draws, wall_time, compile_time, diagonal)


class PreparedRun(NamedTuple):
    """Everything `sample` settled before running: the checked run, its initial state and how it is cut."""

    rng_key: Array
    algorithm: Algorithm
    config: RunConfig
    lengths: RunLengths
    options: RunOptions
    state: RunState
    chain_keys: Array
    plan: WarmupPlan | None
    mesh: Mesh | None
    checkpoint: CheckedCheckpointing | None
    fingerprint: dict | None


def _prepare(rng_key: Array, algorithm: Algorithm, target: Any, num_steps: int, num_chains: int,
             initial_position: Any, functions: Any, warmup: Any, options: Any, checkpoint: Any) -> PreparedRun:
    """Check every argument before anything is compiled and build the run's initial state."""
    if not isinstance(algorithm, Algorithm):
        raise TypeError("algorithm must come from srmc.wrap(kernel, ...), srmc.base(kernel, ...) or another srmc "
                        f"algorithm, got {type(algorithm).__name__}.")
    rng_key = check_key(rng_key)
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    options = check_options(options)
    mesh = resolve_devices(options.devices, num_chains)
    checkpoint = check_checkpointing(checkpoint)
    target = resolve_target(target, initial_position)
    warmup = resolve_warmup(warmup, algorithm, target)
    algorithm.report.check_run(algorithm.params, options.burn_in + num_steps)
    every = None if checkpoint is None else checkpoint.every
    lengths = RunLengths(num_steps, options.burn_in, options.thin,
                         chunk_size_for(options.chunk_size, num_steps + options.burn_in, options.thin, every),
                         every, num_chains, options.num_batches,
                         batch_means.batch_length(num_steps, options.num_batches) if options.num_batches else 0,
                         0 if warmup is None else warmup.num_steps)
    init_key, run_key = jax.random.split(rng_key)
    positions = check_initial_positions(target, initial_position, num_chains, init_key)
    defaults = DEFAULT_FUNCTIONS if target.functions is None else target.functions
    function_items = check_functions(defaults if functions is None else functions, positions[0])
    chain_keys = jax.random.split(run_key, num_chains)
    if mesh is not None:
        positions, chain_keys = _shard((positions, chain_keys), mesh)
    plan = None if warmup is None else warmup_plan(algorithm, target, warmup,
                                                   needs_of(algorithm, target, measured_steps(warmup)))
    state, config = _initial_state(algorithm, target, positions, function_items, options, plan, num_steps)
    check_step(algorithm, target, state.states, chain_keys[0], state.params, config.params_axis)
    if mesh is not None:
        state = _shard_run(state, mesh, config.params_axis)
    fingerprint = None if checkpoint is None else _fingerprint(rng_key, algorithm, config, lengths, positions,
                                                                (state, chain_keys), warmup)
    return PreparedRun(rng_key, algorithm, config, lengths, options, state, chain_keys, plan, mesh, checkpoint,
                       fingerprint)


def _initial_state(algorithm: Algorithm, target: Target, positions: Array, function_items: tuple,
                   options: RunOptions, plan: WarmupPlan | None, num_steps: int) -> tuple[RunState, RunConfig]:
    """The run state at step 0 (the warm-up's results as placeholders of their final shapes) and its config.

    The state is built by one compiled program (`_initial_run`), reused by every run of the same program, target
    and shapes, instead of op by op (each op its own small compilation).
    """
    params_axis = None if plan is None else 0  # a warm-up adapts each chain's own parameters
    snapshot_steps = check_snapshot_steps(options.snapshot_steps, num_steps)
    params = _start_params(algorithm.params, positions, params_axis)
    states = initial_states(algorithm, target, positions, params, params_axis)  # op by op: see `_initial_run`
    monitored = bool(jax.eval_shape(jax.vmap(algorithm.report.statistics), states))
    monitor_steps = _monitor_steps(num_steps) if monitored else ()
    halfway_step = num_steps // 2
    run = _initial_run(algorithm.program, target, states, positions, algorithm.params, function_items=function_items,
                       num_snapshots=len(snapshot_steps), num_batches=options.num_batches, plan=plan,
                       num_monitor_points=len(monitor_steps), halfway=bool(halfway_step))
    config = RunConfig(algorithm.program, target, function_items, snapshot_steps, monitor_steps, halfway_step,
                       params_axis)
    return run, config


def _start_params(params: Any, positions: Array, params_axis: int | None) -> Any:
    """The parameters a run starts from: shared (no warm-up) or one chain's per row (a warm-up adapts them)."""
    return (run_params(params, float_dtype_of(positions)) if params_axis is None
            else per_chain(params, positions.shape[0], float_dtype_of(positions)))


@functools.partial(jax.jit, static_argnums=(0, 1), static_argnames=("function_items", "num_snapshots", "num_batches",
                                                                   "plan", "num_monitor_points", "halfway"))
def _initial_run(program: Algorithm, target: Target, states: Any, positions: Array, algorithm_params: Any, *,
                 function_items: tuple, num_snapshots: int, num_batches: int, plan: WarmupPlan | None,
                 num_monitor_points: int, halfway: bool) -> RunState:
    """`_initial_state`'s run state around the chains' initial `states`: the estimators' zeros, the parameters
    (cast, broadcast per chain after a warm-up) and the warm-up's placeholders, in one compiled program.

    Only exact operations (zeros, casts, broadcasts) run here; the states themselves are computed op by op
    outside, as before: compiled, XLA may round a log density differently in its last bit, and a run's draws
    would no longer be the same bits for a given key.
    """
    algorithm = program._replace(params=algorithm_params)
    params = _start_params(algorithm_params, positions, None if plan is None else 0)
    run = _initial_run_state(states, positions, function_items, num_snapshots, num_batches,
                             algorithm.report.is_draw is not None)
    run = run._replace(params=params)
    if plan is not None:
        placeholder_params, placeholder_warmup = post_warmup_shapes(algorithm, target, plan, states, params)
        run = run._replace(params=placeholder_params, warmup=placeholder_warmup)
    if num_monitor_points:
        run = run._replace(monitor=_monitor_buffers(algorithm, states, num_monitor_points))
    if halfway:
        frequencies = _frequencies(run.running_means, jnp.ones((), jnp.int32), function_items)
        run = run._replace(halfway=tuple(jnp.zeros((m.shape[0], 1, *m.shape[1:]), m.dtype) for m in frequencies))
    return run


def _execute(run: PreparedRun) -> tuple[RunState, list, str | None]:
    """The warm-up (unless a checkpoint is past it) and the chunks, with the bar and the checkpoints; also the
    mass parameter the chunks handed the kernel as its diagonal (`_diagonal_mass`), if any."""
    state, chain_keys, lengths, step, draws, save = run.state, run.chain_keys, run.lengths, 0, [], None
    checkpoint = run.checkpoint
    if checkpoint is not None:
        if checkpoint.resume is not None:
            (state, chain_keys), step, draws = _resume(checkpoint.resume, run.fingerprint, (state, chain_keys))
            if run.mesh is not None:
                state, chain_keys = _shard_run(state, run.mesh, run.config.params_axis), _shard(chain_keys, run.mesh)
        save = functools.partial(_save_checkpoint, checkpoint.path, run.fingerprint, lengths.total_steps,
                                 spread=distributed.spans_processes(run.mesh))
    warmed = run.plan is None or step > 0 or bool(state.warmup.done)
    bar = progress_bar(run.options.progress, lengths.warmup_steps + lengths.total_steps, run.algorithm.name,
                       step + (lengths.warmup_steps if warmed else 0))
    if not warmed:
        state = _run_warmup(run, state, chain_keys, bar)
        if save is not None:
            draws = save(state, chain_keys, draws, 0)
    config = run.config._replace(diagonal_mass=_diagonal_mass(run.plan, state.params))
    state, draws = _run_chunks(state, chain_keys, config, lengths, ChunkProgress(step, draws, bar, save))
    jax.block_until_ready(state)
    if distributed.spans_processes(run.mesh):  # every process gets the whole run
        state, draws = distributed.gather((state, draws))
    if bar is not None:
        bar.close()
    return state, draws, config.diagonal_mass


def _diagonal_mass(plan: WarmupPlan | None, params: Any) -> str | None:
    """The mass parameter's name where the warm-up adapted a dense matrix that came out diagonal
    (``Warmup(mass="auto")``'s choice): the chunks then hand the kernel its diagonal, a vector (an O(d) product
    per step, not O(d^2)); the run state and its checkpoints keep the matrix."""
    if plan is None or not plan.dense_mass or plan.mass_parameter is None:
        return None
    mass = getattr(params, "kernel", {}).get(plan.mass_parameter) if isinstance(getattr(params, "kernel", None),
                                                                                dict) else None
    return plan.mass_parameter if mass is not None and is_diagonal(mass) else None


def _step_params(params: Any, config: RunConfig) -> Any:
    """The parameters a chunk's steps see: as run, with a diagonal mass matrix as its diagonal (`_diagonal_mass`)."""
    if config.diagonal_mass is None:
        return params
    name = config.diagonal_mass
    return params._replace(kernel={**params.kernel,
                                   name: jnp.diagonal(params.kernel[name], axis1=-2, axis2=-1)})


def _run_warmup(run: PreparedRun, state: RunState, chain_keys: Array, bar: Any) -> RunState:
    """The warm-up in chunks (`srmc.engine.adaptation.run_adaptation`) from the run's initial states and the
    algorithm's parameters; the run state with the warmed-up states, parameters and warm-up result."""
    algorithm, target = run.algorithm, run.config.target
    params = per_chain(algorithm.params, run.lengths.num_chains, float_dtype_of(state_position(algorithm,
                                                                                            state.states)))
    states, params, result = run_adaptation(algorithm, target, state.states, params, chain_keys, run.plan,
                                            run.lengths.chunk_size, None if bar is None else bar.update)
    return state._replace(states=_cast_like(states, state.states), params=_cast_like(params, state.params),
                          warmup=_cast_like(result, state.warmup))


def _collect(run: PreparedRun, state: RunState, draws: list, wall_time: float, compile_time: float,
             diagonal: str | None) -> SampleResult:
    """The `SampleResult` of a finished run, with its counters and health report; `diagonal`: the mass parameter
    the kernel stepped with as a diagonal (reported so)."""
    algorithm, config = run.algorithm, run.config
    if config.params_axis is None:  # a result holds one chain's parameters per row, whatever the run traced
        chains = run.lengths.num_chains
        state = state._replace(params=jax.tree.map(lambda leaf: np.broadcast_to(leaf, (chains, *np.shape(leaf))),
                                                   state.params))
    result = SampleResult.from_run(state, _gather_draws(draws), dict(config.function_items), algorithm,
                                   config.target, run.lengths, wall_time, config.snapshot_steps, rng_key=run.rng_key,
                                   monitor_steps=config.monitor_steps)
    counters = {name: np.asarray(value)
                for name, value in jax.vmap(algorithm.report.counters)(state.states, state.params).items()}
    result = dataclasses.replace(result, compile_time=compile_time, sampling_time=wall_time - compile_time,
                                 counters=counters)
    if diagonal is not None and diagonal in result.adapted_params:  # reported as the kernel ran it: a vector
        result = dataclasses.replace(result, adapted_params={
            **result.adapted_params, diagonal: np.diagonal(result.adapted_params[diagonal], axis1=-2, axis2=-1)})
    result = dataclasses.replace(result, warnings=health_report(result, algorithm, config.target),
                                 notes=list(algorithm.report.notes(result)))
    if result.nonfinite_estimates:
        warnings.warn(result.nonfinite_warning(), RuntimeWarning, stacklevel=3)
    return result


class ChunkProgress(NamedTuple):
    """Where a run starts its chunks: the step reached, draws so far, the progress bar and the checkpoint writer."""

    step: int
    draws: list
    bar: Any
    save: Callable | None


def _monitor_steps(num_steps: int) -> tuple[int, ...]:
    """`MONITOR_POINTS` distinct counted steps, evenly spaced, ending at the last one."""
    return tuple(sorted({max(1, round(num_steps * (i + 1) / MONITOR_POINTS)) for i in range(MONITOR_POINTS)}))


def _monitor_buffers(algorithm: Algorithm, states: Any, num_points: int) -> dict:
    shapes = jax.eval_shape(jax.vmap(algorithm.report.statistics), states)
    return {name: jnp.full((shape.shape[0], num_points, *shape.shape[1:]), jnp.nan,
                           jnp.result_type(shape.dtype, float)) for name, shape in shapes.items()}


def _record_monitor(monitor: dict, algorithm: Algorithm, states: Any, count: Array, monitor_steps: Array) -> dict:
    """Write the algorithm's statistics into their slot when `count` is a monitor step."""
    values = jax.vmap(algorithm.report.statistics)(states)
    return {name: _write_slot(buffer, values[name].astype(buffer.dtype), count, monitor_steps)
            for name, buffer in monitor.items()}


def _write_slot(buffer: Array, value: Array, count: Array, steps: Array | tuple[int, ...]) -> Array:
    """`buffer` ``(chains, len(steps), ...)`` with `value` in slot i where ``count == steps[i]``, else unchanged.

    A select rewrites one slot (its old value where no step is hit), with no branch: on CPU a ``lax.cond`` per
    step costs more than an O(chains x d) copy.
    """
    hits = jnp.asarray(steps) == count
    index = jnp.argmax(hits)
    return buffer.at[:, index].set(jnp.where(jnp.any(hits), value.astype(buffer.dtype), buffer[:, index]))


def _run_chunks(run: RunState, chain_keys: Array, config: RunConfig, lengths: RunLengths,
                progress: ChunkProgress) -> tuple[RunState, list]:
    """Run from the step reached to the end in chunks; checkpoint between them; return the run state and draws."""
    step, draws, bar, save = progress
    burn_in, total_steps, thin, chunk_size = lengths.burn_in, lengths.total_steps, lengths.thin, lengths.chunk_size
    checkpoint_every = lengths.checkpoint_every
    batch_length = jnp.asarray(max(lengths.batch_length, 1), jnp.int32)  # traced: the chunk ignores num_steps
    program, steps = _chunk_program(config)
    last_saved = step
    while step < total_steps:
        size, store = _next_chunk(step, burn_in, total_steps, chunk_size, thin)
        block = thin if store else size
        run, out = _run_chunk(run, chain_keys, batch_length, steps, config=program, num_blocks=size // block,
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


def _initial_run_state(states: Any, positions: Array, function_items: tuple, num_snapshots: int = 0,
                       num_batches: int = 0, draws: bool = False) -> RunState:
    num_chains = positions.shape[0]
    float_dtype = positions.dtype if jnp.issubdtype(positions.dtype, jnp.floating) else jnp.result_type(float)
    means, frequencies = [], []  # frequencies: the running means' shapes and dtypes as snapshots keep them
    for _, fn in function_items:
        if isinstance(fn, Histogram):
            means.append(jnp.zeros((num_chains, fn.num_bins), jnp.int32))
            frequencies.append(jnp.zeros((num_chains, fn.num_bins), float_dtype))
        else:
            out = jax.eval_shape(fn, positions[0])
            means.append(jnp.zeros((num_chains, *out.shape), jnp.result_type(out.dtype, float_dtype)))
            frequencies.append(means[-1])
    snapshots = tuple(jnp.zeros((num_chains, num_snapshots, *m.shape[1:]), m.dtype) for m in frequencies) \
        if num_snapshots else ()
    counts = jnp.zeros(num_chains, jnp.int32)
    batches = tuple(None if isinstance(fn, Histogram) else batch_means.init(m.shape, m.dtype, num_batches)
                    for m, (_, fn) in zip(means, function_items)) if num_batches and not draws else ()
    return RunState(states, tuple(means), jnp.zeros(num_chains, float_dtype), counts, jnp.zeros((), jnp.int32),
                    jnp.zeros((), jnp.int32), snapshots, tuple(counts for _ in means), batches,
                    num_draws=counts if draws else ())


def _shard_run(run: RunState, mesh: Mesh, params_axis: int | None) -> RunState:
    """`_shard` of the run state, its parameters replicated where they have no chain axis."""
    if params_axis is not None:
        return _shard(run, mesh)
    return _shard(run._replace(params=()), mesh)._replace(params=_shard(run.params, mesh, chain_axis=False))


def _shard(tree: Any, mesh: Mesh, chain_axis: bool = True) -> Any:
    """Place every array of `tree` on `mesh`: leading (chain) axis split over devices (with `chain_axis`), scalars
    and leaves without a chain axis replicated."""
    if distributed.spans_processes(mesh):
        return distributed.place(tree, mesh, chain_axis)
    chains, replicated = NamedSharding(mesh, PartitionSpec("chains")), NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda leaf: jax.device_put(leaf, chains if chain_axis and np.ndim(leaf) else replicated),
                        tree)


class ChunkSteps(NamedTuple):
    """The counted steps at which a chunk records (int32 arrays, traced: a run of another length reuses the
    compiled chunk): snapshots, monitor points, and the halfway step (shape ``(1,)``)."""

    snapshot: Array
    monitor: Array
    halfway: Array


def _chunk_program(config: RunConfig) -> tuple[RunConfig, ChunkSteps]:
    """(the static part of `config`: its step tuples replaced by their lengths and the halfway step by whether
    there is one, the steps themselves as data)."""
    steps = ChunkSteps(jnp.asarray(config.snapshot_steps, jnp.int32).reshape(-1),
                       jnp.asarray(config.monitor_steps, jnp.int32).reshape(-1),
                       jnp.asarray([config.halfway_step], jnp.int32))
    return config._replace(snapshot_steps=len(config.snapshot_steps), monitor_steps=len(config.monitor_steps),
                           halfway_step=bool(config.halfway_step)), steps


@functools.partial(jax.jit, static_argnames=("config", "num_blocks", "block_length", "accumulate", "store"))
def _run_chunk(run: RunState, chain_keys: Array, batch_length: Array, steps: ChunkSteps, *, config: RunConfig,
               num_blocks: int, block_length: int, accumulate: bool, store: bool) -> tuple[RunState, Any]:
    """One compiled chunk: `num_blocks` blocks of `block_length` steps; emits positions per block if `store`.

    `config` is `_chunk_program`'s static part (numbers of snapshot and monitor steps, whether there is a halfway
    step); `steps` says which counted steps those are.
    """
    algorithm, target, function_items, _, monitor_steps, halfway_step, params_axis, _ = config
    vmapped_step = jax.vmap(lambda key, state, params: algorithm.step_fn(key, state, target, params),
                            in_axes=(0, 0, params_axis))
    step_params = _step_params(run.params, config)

    def one_step(run: RunState, _):
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, run.step)
        states, info = vmapped_step(keys, run.states, step_params)
        states = _cast_like(states, run.states)
        nonfinite = info.is_nonfinite
        run = run._replace(states=states, step=run.step + 1, num_nonfinite=run.num_nonfinite + nonfinite)
        if accumulate:
            run = _accumulate(run, state_position(algorithm, states), info, config, batch_length, steps.snapshot)
            if halfway_step:
                frequencies = _undrawn_as_nan(_frequencies(run.running_means, _denominator(run), function_items),
                                              run.num_draws)
                run = run._replace(halfway=_take_snapshot(run.halfway, frequencies, run.num_accumulated,
                                                          steps.halfway))
            if monitor_steps:
                run = run._replace(monitor=_record_monitor(run.monitor, algorithm, states, run.num_accumulated,
                                                           steps.monitor))
        return run, (info.acceptance_rate, nonfinite) if store else None

    def one_block(run: RunState, _):
        run, per_step = jax.lax.scan(one_step, run, None, length=block_length)
        if not store:
            return run, None
        acceptance, nonfinite = per_step
        stats = {"acceptance_rate": acceptance.mean(axis=0), "num_nonfinite": nonfinite.sum(axis=0),
                 **jax.vmap(algorithm.report.statistics)(run.states)}
        return run, (state_position(algorithm, run.states), stats)

    run, out = jax.lax.scan(one_block, run, None, length=num_blocks)
    if store:
        out = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), out)
    return run, out


def _accumulate(run: RunState, positions: Array, info: Any, config: RunConfig, batch_length: Array,
                snapshot_steps: Array) -> RunState:
    """Fold one counted step into the running means (a `Histogram`'s counts), non-finite counts, batch means and
    snapshots (at `snapshot_steps`; `config` is `_chunk_program`'s); for an algorithm that declares its draws
    (``Report.is_draw``) only the chains whose step is one."""
    function_items = config.function_items
    draw = config.algorithm.report.is_draw
    counted = None if draw is None else draw(info)
    count = run.num_accumulated + 1
    draws = run.num_draws if counted is None else run.num_draws + counted.astype(jnp.int32)
    weight = (1.0 / (count if counted is None else jnp.maximum(draws, 1))).astype(run.acceptance_sum.dtype)
    means, nonfinite_values, values = [], [], []
    for m, n, (_, fn) in zip(run.running_means, run.nonfinite_values, function_items):
        if isinstance(fn, Histogram):
            bins = jax.vmap(fn.fn)(positions)
            increment = jnp.ones_like(bins, jnp.int32) if counted is None else counted.astype(jnp.int32)
            means.append(m.at[jnp.arange(m.shape[0]), bins].add(increment))
            nonfinite_values.append(n)
            values.append(None)
            continue
        value = jax.vmap(fn)(positions).astype(m.dtype)
        updated = m + _per_chain(weight, m).astype(m.dtype) * (value - m)
        finite = jnp.all(jnp.isfinite(value.reshape(value.shape[0], -1)), axis=1)
        means.append(updated if counted is None else jnp.where(_per_chain(counted, m), updated, m))
        nonfinite_values.append(n + (~finite if counted is None else ~finite & counted))
        values.append(value)
    run = run._replace(
        running_means=tuple(means),
        acceptance_sum=run.acceptance_sum + info.acceptance_rate.astype(run.acceptance_sum.dtype),
        num_accumulated=count,
        nonfinite_values=tuple(nonfinite_values),
        num_draws=draws,
    )
    if run.batch_means:
        run = run._replace(batch_means=tuple(None if v is None else batch_means.update(b, v, count, batch_length)
                                             for b, v in zip(run.batch_means, values)))
    if config.snapshot_steps:
        frequencies = _frequencies(run.running_means, _denominator(run), function_items)
        run = run._replace(snapshots=_take_snapshot(run.snapshots, frequencies, count, snapshot_steps))
    return run


def _per_chain(value: Array, like: Array) -> Array:
    """A per-chain (or scalar) `value` shaped to broadcast against `like` ``(chains, ...)``."""
    return value if jnp.ndim(value) == 0 else value.reshape(value.shape + (1,) * (like.ndim - 1))


def _denominator(run: RunState) -> Array:
    """What the running means divide by: the counted steps, or each chain's draws."""
    return run.num_accumulated if isinstance(run.num_draws, tuple) else run.num_draws


def _frequencies(means: tuple, denominator: Array, function_items: tuple) -> tuple:
    """The running means with a `Histogram`'s counts as frequencies (counts / `denominator`)."""
    return tuple(m / _per_chain(jnp.maximum(denominator, 1), m).astype(jnp.result_type(float))
                 if isinstance(fn, Histogram) else m for m, (_, fn) in zip(means, function_items))


def _undrawn_as_nan(means: tuple, num_draws: Any) -> tuple:
    """`means` with NaN for the chains that have no draw yet (an algorithm that declares its draws): they have no
    estimate, so the health report's halfway comparison skips them rather than read a zero."""
    if isinstance(num_draws, tuple):
        return means
    return tuple(jnp.where(_per_chain(num_draws > 0, m), m, jnp.nan).astype(m.dtype) for m in means)


def _cast_like(new: Any, old: Any) -> Any:
    """`new` with the dtypes of `old` (a kernel or wrapper may promote a cached value; the scan carry may not)."""
    return jax.tree.map(lambda a, b: a if a.dtype == b.dtype else a.astype(b.dtype), new, old)


def _take_snapshot(snapshots: tuple, means: tuple, count: Array, snapshot_steps: Array) -> tuple:
    """Copy the running means into their snapshot slot when `count` is one of the snapshot steps."""
    return tuple(_write_slot(buffer, m, count, snapshot_steps) for buffer, m in zip(snapshots, means))


def _gather_draws(draws: list) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The stored draws of all chunks so far as numpy arrays ``(chains, draws, ...)``, or None."""
    if not draws:
        return None
    positions = np.concatenate([np.asarray(chunk[0]) for chunk in draws], axis=1)
    stats = {name: np.concatenate([np.asarray(chunk[1][name]) for chunk in draws], axis=1) for name in draws[0][1]}
    return positions, stats


def _fingerprint(rng_key: Array, algorithm: Algorithm, config: RunConfig, lengths: RunLengths, positions: Array,
                 tree: Any, warmup: Warmup | None = None) -> dict:
    """What a checkpoint must agree on to be resumed by this run (see `srmc.checkpoint`)."""
    _, target, function_items, snapshot_steps, monitor_steps, *_ = config
    return {
        "algorithm": repr(algorithm),
        "algorithm_params": {name: checkpoints.describe_value(value) for name, value in algorithm.shown},
        "params": checkpoints.describe_tree(algorithm.params),
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
