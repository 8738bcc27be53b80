"""`adapt`: the warm-up as its own step, like ``blackjax.window_adaptation(...).run``.

``srmc.adapt(rng_key, algorithm, target, positions, warmup)`` runs the algorithm's base kernel on pi (`warmup`,
`srmc.engine.warmup`), sets the base kernel's tuned parameters in ``params.kernel``, hands the warm-up's
statistics to the algorithm (``algorithm.adaptation.finish``, e.g. SRMC's reference and prediction) and restarts
each chain's state for the new parameters (``algorithm.adaptation.restart``). `srmc.sample` is `adapt`, then the
run: the same function with the run's chain keys, in chunks, with a progress bar.

Keys: chain i's warm-up step j uses ``fold_in(fold_in(chain_keys[i], WARMUP_SALT), j)``; `adapt` takes
``chain_keys = jax.random.split(rng_key, num_chains)`` (`srmc.sample(key, ...)` uses
``jax.random.split(jax.random.split(key)[1], num_chains)``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.engine.validation import check_initial_positions, check_key, initial_states, resolve_target
from srmc.engine.warmup import (
    DEFAULT_WARMUP,
    QUICK_START_STEPS,
    Warmup,
    WarmupPlan,
    WarmupResult,
    as_warmup,
    finish,
    initial_warmup_carry,
    is_diagonal,
    measured_steps,
    warmup_dynamic_params,
    warmup_plan,
)
from srmc.engine.warmup import run_chunk as run_warmup_chunk
from srmc.method.algorithm import Algorithm, WarmupNeeds, WarmupStats, unset_parameters
from srmc.method.initialise import quick_start
from srmc.targets import Target

Array = jax.Array

WARMUP_SALT = 0x5A17  # warm-up step j of a chain uses fold_in(fold_in(chain_key, WARMUP_SALT), j)


class AdaptationResult(NamedTuple):
    """What `adapt` returns: the warmed-up states and parameters of every chain (leading chain axis), the base
    kernel's tuned parameters (per chain), the warm-up's statistics and its non-finite proposals per chain."""

    states: Any
    params: Any
    kernel_params: dict
    stats: WarmupStats
    num_nonfinite: Array


def needs_of(algorithm: Algorithm, target: Target, num_steps: int) -> WarmupNeeds:
    """What `algorithm` needs from a warm-up that measures pi over `num_steps` steps (its measurement phase,
    `srmc.engine.warmup.measured_steps`) on `target` (nothing beyond tuning without an `Adaptation`)."""
    return WarmupNeeds() if algorithm.adaptation is None else algorithm.adaptation.needs(target, num_steps)


def tunes_anything(algorithm: Algorithm) -> bool:
    """Whether a warm-up has a base kernel to tune (its record's `Tuning`)."""
    return algorithm.kernel is not None and algorithm.kernel.spec.tuning is not None


def resolve_warmup(warmup: int | Warmup | None, algorithm: Algorithm, target: Target) -> Warmup | None:
    """`srmc.sample`'s warm-up: as given, or by default `DEFAULT_WARMUP` steps wherever there is something to
    adapt (a base kernel with a step size, or an algorithm that needs the warm-up's measurements), so that a base
    kernel and SRMC around it get the same warm-up; a clear error where the algorithm cannot run without one."""
    required = needs_of(algorithm, target, 0).required
    unset = [node.name for node in unset_parameters(getattr(algorithm.params, "kernel", {}))]
    if warmup is None:
        return as_warmup(DEFAULT_WARMUP if tunes_anything(algorithm) or required or unset else None)
    warmup = as_warmup(warmup)
    if warmup is not None and algorithm.kernel is None and algorithm.adaptation is None:
        raise ValueError(f"{algorithm.name} has no base kernel for a warm-up to tune and nothing to adapt: pass "
                         "warmup=0 (or leave it out), and give its parameters to the algorithm.")
    if warmup is None and unset:
        raise ValueError(f"{algorithm.name} was given no {', '.join(unset)}, which the warm-up adapts: leave warmup "
                         f"at its default ({DEFAULT_WARMUP}) or pass warmup=N > 0, or give {unset[0]}=... to the "
                         "kernel.")
    if warmup is None and required:
        raise ValueError(required)
    tuning = algorithm.kernel.spec.tuning if algorithm.kernel is not None else None
    unset_mass = tuning.inverse_mass_matrix if tuning is not None and tuning.inverse_mass_matrix in unset else None
    if unset_mass and warmup is not None and warmup.mass == "none":
        raise ValueError(f"{algorithm.name} was given no {unset_mass} and Warmup(mass='none') does not adapt it: "
                         f"pass Warmup(mass='diagonal') or give {unset_mass}=... to the kernel.")
    return warmup


def run_params(params: Any, float_dtype: Any) -> Any:
    """`params` as arrays, floating leaves in `float_dtype` (`Unset` kept): what a run traces."""

    def cast(leaf: Any) -> Array:
        leaf = jnp.asarray(leaf)
        return leaf.astype(float_dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree.map(cast, params)


def per_chain(params: Any, num_chains: int, float_dtype: Any) -> Any:
    """`run_params` with a leading chain axis on every leaf (each chain's own, as a warm-up adapts them)."""
    return jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (num_chains, *leaf.shape)), run_params(params, float_dtype))


def float_dtype_of(positions: Array) -> Any:
    """The floating dtype a run computes its parameters in: the positions' if floating, else the default."""
    return jnp.result_type(positions.dtype, float) if jnp.issubdtype(positions.dtype, jnp.floating) \
        else jnp.result_type(float)


def apply_warmup(algorithm: Algorithm, target: Target, states: Any, params: Any, kernel_states: Any,
                 result: WarmupResult) -> tuple[Any, Any]:
    """The states and parameters (per chain) after a warm-up: the base kernel's warmed-up states and tuned
    parameters, then the algorithm's parameters from the statistics and its states restarted for them."""
    states, params = _handover(states, params, kernel_states, result, kernel=algorithm.kernel,
                               adaptation=algorithm.adaptation, target=target)
    if algorithm.adaptation is not None:  # op by op: a log density's last bits depend on how XLA fuses it
        states = jax.vmap(algorithm.adaptation.restart, in_axes=(0, None, 0))(states, target, params)
    return states, params


@functools.partial(jax.jit, static_argnames=("kernel", "adaptation", "target"))
def _handover(states: Any, params: Any, kernel_states: Any, result: WarmupResult, *, kernel: Any, adaptation: Any,
              target: Target) -> tuple[Any, Any]:
    """The warmed-up kernel states and the parameters (tuned kernel parameters, then the algorithm's from the
    statistics), one compiled program instead of one per operation."""
    states = jax.vmap(kernel.set_state)(states, kernel_states)
    params = params._replace(kernel={**params.kernel, **result.params})
    if adaptation is not None:
        params = jax.vmap(adaptation.finish, in_axes=(0, None, None))(params, result.stats, target)
    return states, params


def run_adaptation(algorithm: Algorithm, target: Target, states: Any, params: Any, chain_keys: Array,
                   plan: WarmupPlan, chunk_size: int, progress: Callable[[int], None] | None = None
                   ) -> tuple[Any, Any, WarmupResult]:
    """Run the warm-up of `plan` in chunks of `chunk_size` from `states` with `params` (per chain); return the
    states, the parameters and the `WarmupResult`. `progress(steps)` is told after each chunk."""
    warmup_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(chain_keys, WARMUP_SALT)
    if plan.quick_start:  # the chains' starts moved towards the bulk first, their states made afresh there
        start = jax.vmap(algorithm.kernel.get_state)(states).position
        moved = _quick_start(start.astype(float_dtype_of(start)), target=target).astype(start.dtype)
        states = initial_states(algorithm, target, moved, params, 0)
    carry, dynamic = _start(states, params, algorithm.params.kernel, kernel=algorithm.kernel, plan=plan)
    done = 0
    while done < plan.num_steps:
        size = min(chunk_size, plan.num_steps - done)
        carry = _warmup_chunk(carry, warmup_keys, dynamic, plan=plan, num_steps=size)
        done += size
        if progress is not None:
            jax.block_until_ready(carry)
            progress(size)
    result = finish(plan, carry)  # op by op: the pooled moments' last bits depend on how XLA fuses them
    states, params = apply_warmup(algorithm, target, states, params, carry.states, result)
    return states, params, result


_warmup_chunk = jax.jit(run_warmup_chunk, static_argnames=("plan", "num_steps"))


@functools.partial(jax.jit, static_argnames=("kernel", "plan"))
def _start(states: Any, params: Any, initial_kernel_params: dict, *, kernel: Any, plan: WarmupPlan
           ) -> tuple[Any, Any]:
    """The warm-up's first carry and its step-time parameters, one compiled program (not one per operation)."""
    kernel_states = jax.vmap(kernel.get_state)(states)
    one_chain = jax.tree.map(lambda leaf: leaf[0], params.kernel)
    carry = initial_warmup_carry(plan, initial_kernel_params, kernel_states, kernel_states.position)
    return carry, warmup_dynamic_params(plan, one_chain)


@functools.partial(jax.jit, static_argnames=("target",))
def _quick_start(positions: Array, *, target: Target) -> Array:
    """`Warmup(quick_start=True)`'s move: `srmc.method.initialise.quick_start` with `QUICK_START_STEPS` steps."""
    return quick_start(jax.random.key(0), target, positions, QUICK_START_STEPS)


def post_warmup_shapes(algorithm: Algorithm, target: Target, plan: WarmupPlan, states: Any, params: Any
                       ) -> tuple[Any, WarmupResult]:
    """Zero-valued parameters and `WarmupResult` of the shapes a warm-up will produce (so that a checkpoint's
    structure is the same before and after it)."""
    kernel_states = jax.vmap(algorithm.kernel.get_state)(states)

    def shapes(states: Any, params: Any) -> tuple[Any, WarmupResult]:
        carry = initial_warmup_carry(plan, algorithm.params.kernel, kernel_states, kernel_states.position)
        result = finish(plan, carry)
        return apply_warmup(algorithm, target, states, params, carry.states, result)[1], result

    abstract = jax.eval_shape(shapes, states, params)
    return jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), abstract)


def adapt(rng_key: Array, algorithm: Algorithm, target: Target | Callable, positions: Array,
          warmup: int | Warmup = DEFAULT_WARMUP) -> AdaptationResult:
    """Warm `algorithm` up on `target` from `positions` ``(num_chains, dim)``; like BlackJAX's
    ``window_adaptation(...).run``.

    Runs ``warmup`` steps (an int, or a `srmc.Warmup` for the options) of the base kernel on pi, tuning its step
    size and inverse mass matrix, measuring pi and handing the measurements to the algorithm. Returns the states
    and parameters of every chain, ready for ``jax.vmap(algorithm.step)(keys, states, logdensity_fn, params)``
    in a loop of one's own, or for another `srmc.sample`.
    """
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm must come from srmc.wrap, srmc.base or another srmc algorithm, got "
                        f"{type(algorithm).__name__}.")
    rng_key = check_key(rng_key)
    target = resolve_target(target, positions)
    positions = check_initial_positions(target, positions, int(np.shape(positions)[0]), rng_key)
    plan_warmup = as_warmup(warmup)
    if plan_warmup is None or algorithm.kernel is None:
        raise ValueError(f"warmup must be a number of steps > 0 for an algorithm with a base kernel, got {warmup!r}.")
    num_chains = positions.shape[0]
    params = per_chain(algorithm.params, num_chains, float_dtype_of(positions))
    states = initial_states(algorithm, target, positions, params, 0)
    plan = warmup_plan(algorithm, target, plan_warmup, needs_of(algorithm, target, measured_steps(plan_warmup)))
    chain_keys = jax.random.split(rng_key, num_chains)
    states, params, result = run_adaptation(algorithm, target, states, params, chain_keys, plan,
                                            chunk_size=plan_warmup.num_steps)
    kernel_params = result.params
    if plan.dense_mass and plan.mass_parameter is not None and is_diagonal(kernel_params[plan.mass_parameter]):
        # mass="auto" chose a diagonal: hand it on as a vector, so that a step pays O(d), not a dense product
        name = plan.mass_parameter
        kernel_params = {**kernel_params, name: jnp.diagonal(kernel_params[name], axis1=-2, axis2=-1)}
        params = params._replace(kernel={**params.kernel, name: kernel_params[name]})
    return AdaptationResult(states, params, kernel_params, result.stats, result.num_nonfinite)
