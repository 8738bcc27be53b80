"""Warm-up on pi itself (`adapt`): step size by dual averaging, inverse mass matrix from windowed Welford estimates.

`srmc.adapt(rng_key, algorithm, target, positions, warmup)` (and `srmc.sample(..., warmup=N)` before its run)
runs N steps of the algorithm's *base* kernel on the target, adapting what the kernel's record says it can tune
(`srmc.samplers.spec.Tuning`):

- the step size by dual averaging (Hoffman & Gelman 2014, Algorithm 5: gamma = 0.05, t0 = 10, kappa = 0.75,
  mu = log(10 eps_0)) towards the kernel's target acceptance; the final step size is the averaged iterate;
- a diagonal (or dense) inverse mass matrix from Welford estimates of the variance in Stan's expanding windows
  (an initial fast window of 15%, slow windows 25, 50, 100, ... steps, a final fast window of 10%; after each slow
  window M^{-1} = n/(n+5) Var + 1e-3 * 5/(n+5) and dual averaging restarts from the current step size);
- the mass matrix pooled across chains by default, or per chain (``pooled=False``: the step size too);
- the step size per chain while the chains travel (every window but the final fast one), then pooled over the
  final fast window (dual averaging restarted from the geometric mean of the chains' step sizes and driven by
  their mean acceptance), so the run gets one step size; ``Warmup(pooled_step_size=True)`` pools it throughout.

By default (``Warmup(frozen_measurement=True)``) all this adaptation happens over the first half (Stan's windows
fitted into it); the second half, the measurement phase (``measure_fraction``), runs the kernel with the final
step size and mass matrix frozen, so that what is measured there comes from pi-invariant chains, as the run's
will. It measures pi over the measurement phase (`WarmupStats`: location, variance, covariance when asked, the score's
mean and second moment, the acceptance), runs the algorithm's own collectors there (`WarmupNeeds`), and hands the
statistics to the algorithm, which turns them into its parameters (`Adaptation.finish`). Everything is a pure
function of the warm-up's keys and step indices: the result does not depend on the chunks it runs in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.algorithm import Algorithm, BaseKernel, Unset, WarmupNeeds, WarmupStats
from srmc.method.base import kernel_arguments
from srmc.method.kernels import jittered
from srmc.targets import Target
from srmc.targets.space import Continuous, check_int

Array = jax.Array

MASS_FORMS = ("auto", "diagonal", "dense", "none")
AUTO_DENSE_MAX_DIM = 200  # mass="auto" considers a dense matrix up to this d (O(d^2) per step, O(d^3) per window)
AUTO_DENSE_CONDITION = 10.0  # mass="auto": dense where the correlation matrix's condition number exceeds this
AUTO_MIN_DRAWS_PER_DIM = 100  # mass="auto": ... and the slow window pooled at least this many draws per coordinate
DUAL_AVERAGING_GAMMA, DUAL_AVERAGING_T0, DUAL_AVERAGING_KAPPA = 0.05, 10.0, 0.75
DEFAULT_STEP_SIZE = 0.1  # where a kernel's record suggests none
QUICK_START_STEPS = 200  # Adam steps of Warmup(quick_start=True)


class Warmup(NamedTuple):
    """How to warm up (``srmc.sample(warmup=Warmup(2000, mass="dense"))``; ``warmup=2000`` takes the defaults).

    Attributes:
      num_steps: steps of the base kernel on pi before the run.
      target_acceptance: None: the kernel's own (its record's `Tuning`).
      mass: ``"auto"`` (default), ``"diagonal"``, ``"dense"`` or ``"none"`` (adapt the step size only). "auto"
        estimates the dense covariance Sigma in each slow window (up to `AUTO_DENSE_MAX_DIM` coordinates; diagonal
        above) and keeps it dense where its correlation matrix R = D^{-1/2} Sigma D^{-1/2} has condition number
        kappa(R) > `AUTO_DENSE_CONDITION` and the window pooled >= `AUTO_MIN_DRAWS_PER_DIM` x d draws (a diagonal
        mass leaves the kernel a target of condition kappa(R), a dense one about 1), else only its diagonal
        (off-diagonals set to 0; the run then hands the kernel a vector). With ``pooled=False`` "auto" is diagonal
        (one chain's draws are too few to tell correlations from noise).
      pooled: one mass matrix and (from the final fast window on) one step size for all chains, estimated from
        all their draws (default), else one of each per chain throughout.
      dense_statistics: also record the dense covariance of x and of the score (O(d^2) memory).
      pooled_step_size: one step size for all chains from the start, tuned to their mean acceptance; else
        (default) one per chain until the final fast window (a chain started where the gradient is large needs a
        smaller step than the others until it has moved).
      measure_fraction: the last share of the warm-up over which pi is measured (`WarmupStats`, the algorithm's
        collectors).
      quick_start: first move every chain's start by `QUICK_START_STEPS` clipped Adam steps on -log pi
        (`srmc.method.initialise.quick_start`), towards the bulk, for chains started far out (continuous targets
        with a gradient only).
      frozen_measurement: adapt over the first ``1 - measure_fraction`` of the steps only (Stan's windows fitted
        into them), then run the measurement phase with step size and mass matrix frozen at their final values
        (default): the measured chains are then pi-invariant, as the run's are. False: adapt throughout and measure
        while adapting (the chains' kernels then depend on their own history).
    """

    num_steps: int
    target_acceptance: float | None = None
    mass: str = "auto"
    pooled: bool = True
    dense_statistics: bool = False
    pooled_step_size: bool = False
    measure_fraction: float = 0.5
    frozen_measurement: bool = True
    quick_start: bool = False


DEFAULT_WARMUP = 1000  # steps `srmc.sample` warms up by default where the algorithm needs it (and the CLI)


def as_warmup(warmup: Any) -> Warmup | None:
    """A checked `Warmup` from an int or a `Warmup` (None for 0 or None)."""
    if warmup is None:
        return None
    if not isinstance(warmup, Warmup):
        warmup = Warmup(check_int(warmup, "warmup", minimum=0, non_integer=TypeError))
    check_int(warmup.num_steps, "warmup.num_steps", minimum=0, non_integer=TypeError)
    if warmup.mass not in MASS_FORMS:
        raise ValueError(f"warmup mass must be one of {MASS_FORMS}, got {warmup.mass!r}.")
    if warmup.target_acceptance is not None and not 0 < warmup.target_acceptance < 1:
        raise ValueError(f"warmup target_acceptance must lie in (0, 1), got {warmup.target_acceptance!r}.")
    for flag in ("pooled", "dense_statistics", "pooled_step_size", "frozen_measurement", "quick_start"):
        if not isinstance(getattr(warmup, flag), bool):
            raise TypeError(f"warmup {flag} must be True or False, got {getattr(warmup, flag)!r}.")
    fraction = warmup.measure_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"warmup measure_fraction must lie in (0, 1) (the share of the warm-up that measures pi), "
                         f"got {fraction!r}.")
    return warmup if warmup.num_steps > 0 else None


# --- dual averaging ---------------------------------------------------------------------------------------------


class DualAveraging(NamedTuple):
    """Hoffman & Gelman's dual-averaging state for log step size (arrays: scalar, or one per chain)."""

    log_step: Array
    log_step_average: Array
    error_average: Array
    mu: Array
    count: Array


def dual_averaging_init(step_size: Array) -> DualAveraging:
    """Start at `step_size`, shrinking towards mu = log(10 step_size)."""
    log_step = jnp.log(step_size)
    zeros = jnp.zeros_like(log_step)
    return DualAveraging(log_step, zeros, zeros, jnp.log(10.0) + log_step, zeros)


def dual_averaging_update(state: DualAveraging, acceptance: Array, target: float) -> DualAveraging:
    """One update with the step's acceptance probability (NaN counts as 0: the proposal was rejected)."""
    acceptance = jnp.where(jnp.isfinite(acceptance), acceptance, 0.0)
    count = state.count + 1
    weight = 1.0 / (count + DUAL_AVERAGING_T0)
    error_average = (1.0 - weight) * state.error_average + weight * (target - acceptance)
    log_step = state.mu - jnp.sqrt(count) / DUAL_AVERAGING_GAMMA * error_average
    eta = count ** -DUAL_AVERAGING_KAPPA
    log_step_average = eta * log_step + (1.0 - eta) * state.log_step_average
    return DualAveraging(log_step, log_step_average, error_average, state.mu, count)


def measure_start(warmup: Warmup) -> int:
    """The first warm-up step of the measurement phase (``num_steps // 2`` with the default fraction 0.5)."""
    return int(warmup.num_steps * (1.0 - warmup.measure_fraction))


def measured_steps(warmup: Warmup) -> int:
    """How many warm-up steps measure pi (the measurement phase's length)."""
    return warmup.num_steps - measure_start(warmup)


def dual_averaging_final(state: DualAveraging) -> Array:
    """The adapted step size: the averaged iterate (the last iterate before any update)."""
    return jnp.exp(jnp.where(state.count > 0, state.log_step_average, state.log_step))


# --- windows ----------------------------------------------------------------------------------------------------


def slow_windows(num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) 0-based warm-up step of each slow window (Stan's schedule: 75 fast, 25, 50, 100, ... slow, 50
    fast; 15% / 75% / 10% when that does not fit). After each window the mass matrix is updated."""
    initial, final, base = 75, 50, 25
    if num_steps < 20:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if initial + final + base > num_steps:
        initial, final = int(0.15 * num_steps), int(0.1 * num_steps)
        base = num_steps - initial - final
    starts, ends, start, size = [], [], initial, base
    while start + size <= num_steps - final:
        end = start + size
        if end + 2 * size > num_steps - final:  # the next window would not fit: this one runs to the final window
            end = num_steps - final
        starts.append(start)
        ends.append(end - 1)
        start, size = end, 2 * size
    return np.asarray(starts, np.int64), np.asarray(ends, np.int64)


# --- Welford estimates ------------------------------------------------------------------------------------------


class Moments(NamedTuple):
    """Running count, mean and centred second moments (diagonal ``(..., d)`` or dense ``(..., d, d)``)."""

    count: Array
    mean: Array
    m2: Array


def moments_init(shape: tuple[int, ...], dense: bool, dtype: Any) -> Moments:
    """Empty moments of vectors of the last axis of `shape` (leading axes: chains)."""
    second = shape + shape[-1:] if dense else shape
    return Moments(jnp.zeros(shape[:-1], dtype), jnp.zeros(shape, dtype), jnp.zeros(second, dtype))


def moments_update(moments: Moments, value: Array, active: Array) -> Moments:
    """Welford's update with one value per leading index, where `active`."""
    count = moments.count + active
    delta = value - moments.mean
    mean = moments.mean + jnp.where(active, 1.0 / jnp.maximum(count, 1), 0.0)[..., None] * delta
    after = value - mean
    if moments.m2.ndim == moments.mean.ndim + 1:
        increment = delta[..., :, None] * after[..., None, :]
        m2 = moments.m2 + jnp.where(active[..., None, None], increment, 0.0)
    else:
        m2 = moments.m2 + jnp.where(active[..., None], delta * after, 0.0)
    return Moments(count, mean, m2)


def pool_moments(moments: Moments) -> Moments:
    """Moments of all chains' values together (Chan et al.'s parallel combination over the leading axis)."""
    count = jnp.sum(moments.count)
    mean = jnp.sum(moments.count[:, None] * moments.mean, axis=0) / jnp.maximum(count, 1)
    shift = moments.mean - mean
    if moments.m2.ndim == 3:
        between = jnp.einsum("c,ci,cj->ij", moments.count, shift, shift)
    else:
        between = jnp.sum(moments.count[:, None] * shift**2, axis=0)
    return Moments(count, mean, jnp.sum(moments.m2, axis=0) + between)


def regularised_inverse_mass(moments: Moments) -> Array:
    """Stan's M^{-1} = n/(n+5) Var + 1e-3 * 5/(n+5) (times I), from moments without a chain axis or per chain."""
    count = moments.count.astype(moments.mean.dtype)
    variance = moments.m2 / jnp.maximum(count - 1.0, 1.0).reshape(count.shape + (1,) * (moments.m2.ndim - count.ndim))
    weight = (count / (count + 5.0)).reshape(count.shape + (1,) * (moments.m2.ndim - count.ndim))
    shrink = (1e-3 * 5.0 / (count + 5.0)).reshape(weight.shape)
    if moments.m2.ndim - count.ndim == 2:
        return weight * variance + shrink * jnp.eye(moments.mean.shape[-1], dtype=moments.mean.dtype)
    return weight * variance + shrink


# --- what the warm-up measures ----------------------------------------------------------------------------------


def stats_from_moments(position: Moments, score: Moments, acceptance: Array) -> WarmupStats:
    """`WarmupStats` from per-chain moments of x and of s over the window (pooled here)."""
    position, score = pool_moments(position), pool_moments(score)
    n = jnp.maximum(position.count.astype(position.mean.dtype), 1.0)
    dense = position.m2.ndim == 2
    covariance = position.m2 / jnp.maximum(n - 1.0, 1.0)
    second_score = score.m2 / n + (jnp.outer(score.mean, score.mean) if dense else score.mean**2)
    return WarmupStats(
        position.mean, jnp.diagonal(covariance) if dense else covariance, score.mean,
        jnp.diagonal(second_score) if dense else second_score, acceptance, position.count,
        covariance if dense else None, second_score if dense else None,
    )


# --- the warm-up loop -------------------------------------------------------------------------------------------


class WarmupPlan(NamedTuple):
    """The static description of a warm-up (hashable: a static argument of its compiled chunks).

    `kernel` is the base kernel (its static parameters included); `step_parameter` / `mass_parameter` name what
    is adapted (None: not adapted); `collectors` are the algorithm's own statistics over the measurement phase
    (steps ``measure_start`` on).
    """

    kernel: BaseKernel
    target: Target
    step_parameter: str | None
    mass_parameter: str | None
    target_acceptance: float
    pooled: bool
    dense_mass: bool
    dense_statistics: bool
    num_steps: int
    score_from_cache: str | None
    pooled_step_size: bool = False
    collectors: tuple = ()
    measure_from: int | None = None  # first step of the measurement phase (None: num_steps // 2)
    frozen: bool = False  # step size and mass frozen from measure_from on (the schedule fitted before it)
    auto_mass: bool = False  # dense_mass estimated, kept dense only where the correlations call for it
    quick_start: bool = False  # move the chains' starts by `srmc.method.initialise.quick_start` first

    @property
    def measure_start(self) -> int:
        return self.num_steps // 2 if self.measure_from is None else self.measure_from

    @property
    def adapt_steps(self) -> int:
        """Steps over which step size and mass adapt (Stan's schedule is laid over these)."""
        return self.measure_start if self.frozen else self.num_steps


class WarmupCarry(NamedTuple):
    """What the warm-up carries from step to step (leading chain axis where per chain)."""

    states: Any
    dual: DualAveraging
    window: Moments
    inverse_mass: Array
    positions: Moments
    scores: Moments
    acceptance_sum: Array
    num_nonfinite: Array
    step: Array
    collected: tuple
    logdensity: Moments | tuple = ()  # per chain, log pi over the measurement phase (for `chains_behind`)


def _schedule_flags(num_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per warm-up step: whether it lies in a slow window, whether a slow window ends there, and whether it lies
    in the final fast window (after the last slow window; every step where there is none)."""
    starts, ends = slow_windows(num_steps)
    in_window, window_end = np.zeros(num_steps, bool), np.zeros(num_steps, bool)
    for start, end in zip(starts, ends):
        in_window[start:end + 1] = True
        window_end[end] = True
    in_final = np.arange(num_steps) > (ends[-1] if ends.size else -1)
    return in_window, window_end, in_final


def init_carry(plan: WarmupPlan, states: Any, positions: Array, step_size: Array, inverse_mass: Array) -> WarmupCarry:
    """The carry at warm-up step 0 for chains at `positions` (their kernel states `states`)."""
    num_chains, dim = positions.shape
    dtype = jnp.result_type(positions.dtype, float)
    step_size = jnp.asarray(step_size, dtype)
    dual = dual_averaging_init(step_size if plan.pooled_step_size else jnp.broadcast_to(step_size, (num_chains,)))
    window = moments_init((num_chains, dim), plan.dense_mass, dtype)
    scores_shape = (num_chains, plan.target.space.score_size)
    collected = tuple(collector.init(num_chains, dim, dtype) for collector in plan.collectors)
    return WarmupCarry(
        states, dual, window, inverse_mass, moments_init((num_chains, dim), plan.dense_statistics, dtype),
        moments_init(scores_shape, plan.dense_statistics, dtype), jnp.zeros(num_chains, dtype),
        jnp.zeros(num_chains, jnp.int32), jnp.zeros((), jnp.int32), collected,
        moments_init((num_chains, 1), False, dtype),
    )


def _kernel_params(plan: WarmupPlan, dynamic: dict, step_size: Array, inverse_mass: Array) -> dict:
    params = dict(dynamic)
    if plan.step_parameter is not None:
        params[plan.step_parameter] = step_size
    if plan.mass_parameter is not None:
        params[plan.mass_parameter] = inverse_mass
    return kernel_arguments(plan.kernel, params, plan.target)


def run_chunk(carry: WarmupCarry, warmup_keys: Array, dynamic: dict, *, plan: WarmupPlan,
              num_steps: int) -> WarmupCarry:
    """`num_steps` warm-up steps from `carry` (jit with `plan` and `num_steps` static)."""
    adapt_steps, measure_from = plan.adapt_steps, plan.measure_start
    flags = _schedule_flags(max(adapt_steps, 1))
    if plan.frozen:  # a step index past the adaptation phase reads the flags of its last step, never used
        flags = tuple(np.concatenate([f, np.zeros(plan.num_steps - f.size + 1, bool)]) for f in flags)
    in_window, window_end, in_final = (jnp.asarray(flag) for flag in flags)
    per_chain_mass = plan.mass_parameter is not None and not plan.pooled
    pools_at_end = plan.pooled and not plan.pooled_step_size  # per-chain step sizes until the final fast window
    kernel = plan.kernel.spec.build_kernel()

    def one_step(carry: WarmupCarry, _) -> tuple[WarmupCarry, None]:
        index = carry.step
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(warmup_keys, index)
        step_sizes = jnp.broadcast_to(jnp.exp(carry.dual.log_step), warmup_keys.shape[:1])

        def step(key, state, chain_step, chain_mass):
            params = jittered(plan.kernel.spec, _kernel_params(plan, dynamic, chain_step, chain_mass), key,
                              plan.kernel.step_jitter)
            return kernel(key, state, plan.target.logdensity, **params)

        states, info = jax.vmap(step, in_axes=(0, 0, 0, 0 if per_chain_mass else None))(
            keys, carry.states, step_sizes, carry.inverse_mass)
        finite_acceptance = jnp.where(jnp.isfinite(info.acceptance_rate), info.acceptance_rate, 0.0)
        pooled_acceptance = jnp.mean(finite_acceptance)
        statistic = (pooled_acceptance if plan.pooled_step_size
                     else jnp.where(in_final[index] & pools_at_end, pooled_acceptance, finite_acceptance))
        dual = dual_averaging_update(carry.dual, statistic, plan.target_acceptance)
        positions = states.position.astype(carry.window.mean.dtype)
        window = moments_update(carry.window, positions, jnp.broadcast_to(in_window[index], positions.shape[:1]))
        inverse_mass, window, dual = _end_window(plan, window_end[index], window, carry.inverse_mass, dual)
        if pools_at_end:  # the final fast window starts from the chains' pooled step size
            dual = _pool_step_sizes(dual, window_end[index] & in_final[jnp.minimum(index + 1, adapt_steps - 1)])
        if plan.frozen:  # the measurement phase runs the final step size (the averaged iterate) and mass, frozen
            adapting = index < adapt_steps
            frozen_dual = dual_averaging_init(dual_averaging_final(dual))
            dual = jax.tree.map(lambda new, old: jnp.where(index == adapt_steps - 1, new, old), frozen_dual, dual)
            dual = jax.tree.map(lambda new, old: jnp.where(adapting, new, old), dual, carry.dual)
            inverse_mass = jnp.where(adapting, inverse_mass, carry.inverse_mass)
        in_stats = jnp.broadcast_to(index >= measure_from, positions.shape[:1])
        scores = (getattr(states, plan.score_from_cache) if plan.score_from_cache is not None
                  else jax.vmap(plan.target.score)(states.position)).astype(carry.scores.mean.dtype)
        collected = tuple(collector.update(part, index - measure_from, positions, scores)
                          for collector, part in zip(plan.collectors, carry.collected))
        logdensity = jax.lax.cond(index >= measure_from, lambda: _logdensities(plan, states),
                                  lambda: jnp.zeros(positions.shape[:1], positions.dtype))
        carry = WarmupCarry(
            states, dual, window, inverse_mass, moments_update(carry.positions, positions, in_stats),
            moments_update(carry.scores, scores, in_stats),
            carry.acceptance_sum + jnp.where(in_stats, finite_acceptance, 0.0),
            carry.num_nonfinite + info.is_nonfinite, index + 1, collected,
            moments_update(carry.logdensity, logdensity[:, None].astype(positions.dtype), in_stats),
        )
        return carry, None

    return jax.lax.scan(one_step, carry, None, length=num_steps)[0]


def _logdensities(plan: WarmupPlan, states: Any) -> Array:
    """log pi at every chain's state: the kernel's cached value where it has one, else evaluated."""
    cached = plan.kernel.spec.cache.logdensity if plan.score_from_cache is not None else None
    if cached is not None:
        return getattr(states, cached)
    return jax.vmap(plan.target.logdensity)(states.position)


def _end_window(plan: WarmupPlan, ends: Array, window: Moments, inverse_mass: Array,
                dual: DualAveraging) -> tuple[Array, Moments, DualAveraging]:
    """At the end of a slow window: the new mass matrix, a fresh window and dual averaging restarted."""
    if plan.mass_parameter is None:
        return inverse_mass, window, dual
    moments = pool_moments(window) if plan.pooled else window
    estimate = regularised_inverse_mass(moments)
    if plan.auto_mass:
        estimate = auto_mass(estimate, moments.count)
    restarted = dual_averaging_init(dual_averaging_final(dual))
    fresh = jax.tree.map(jnp.zeros_like, window)
    choose = lambda new, old: jnp.where(ends, new, old)  # noqa: E731
    return (choose(estimate.astype(inverse_mass.dtype), inverse_mass), jax.tree.map(choose, fresh, window),
            jax.tree.map(choose, restarted, dual))


def correlation_condition(inverse_mass: Array) -> Array:
    """kappa(R) of the correlation matrix R = D^{-1/2} Sigma D^{-1/2} of a dense ``(..., d, d)`` Sigma: how
    ill-conditioned the target stays after a diagonal mass matrix has rescaled it."""
    scale = jnp.sqrt(jnp.diagonal(inverse_mass, axis1=-2, axis2=-1))
    correlation = inverse_mass / (scale[..., :, None] * scale[..., None, :])
    eigenvalues = jnp.linalg.eigvalsh(correlation)
    return eigenvalues[..., -1] / jnp.maximum(eigenvalues[..., 0], jnp.finfo(eigenvalues.dtype).tiny)


def auto_mass(inverse_mass: Array, count: Array) -> Array:
    """`Warmup(mass="auto")`'s choice: the dense estimate where kappa(R) > `AUTO_DENSE_CONDITION` and the window
    held at least `AUTO_MIN_DRAWS_PER_DIM` x d draws (`count`; fewer, autocorrelated, make spurious correlations),
    else its diagonal (as a dense matrix with zero off-diagonals; per chain where there is a chain axis)."""
    enough = count >= AUTO_MIN_DRAWS_PER_DIM * inverse_mass.shape[-1]
    dense = (correlation_condition(inverse_mass) > AUTO_DENSE_CONDITION) & enough
    eye = jnp.eye(inverse_mass.shape[-1], dtype=bool)
    return jnp.where(dense[..., None, None] | eye, inverse_mass, 0.0)


def is_diagonal(matrix: Any) -> bool:
    """Whether a concrete ``(..., d, d)`` matrix has no non-zero off-diagonal entry (host check, once a run).

    Under several processes a chain-sharded matrix is read from this process's shards: the warm-up's matrix is
    pooled (the same on every chain) or chosen diagonal for all chains, so every process reaches the same answer.
    """
    if isinstance(matrix, jax.Array) and not matrix.is_fully_addressable:
        matrix = np.concatenate([np.asarray(shard.data) for shard in matrix.addressable_shards])
    matrix = np.asarray(matrix)
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        return False
    return not np.any(matrix * (1 - np.eye(matrix.shape[-1], dtype=matrix.dtype)))


def _pool_step_sizes(dual: DualAveraging, now: Array) -> DualAveraging:
    """Where `now`: dual averaging restarted for every chain from the geometric mean of the chains' step sizes."""
    pooled = jnp.exp(jnp.mean(jnp.log(dual_averaging_final(dual))))
    restarted = dual_averaging_init(jnp.broadcast_to(pooled, dual.log_step.shape))
    return jax.tree.map(lambda new, old: jnp.where(now, new, old), restarted, dual)


class WarmupResult(NamedTuple):
    """The adapted base-kernel parameters (per chain, ready to be traced through the run), the warm-up's
    statistics, its non-finite proposals per chain, and whether it has run (False in a placeholder)."""

    params: dict
    stats: WarmupStats
    num_nonfinite: Array
    done: Array


def finish(plan: WarmupPlan, carry: WarmupCarry) -> WarmupResult:
    """Adapted per-chain parameters and pooled statistics (the collectors' included) from the final carry."""
    num_chains = carry.acceptance_sum.shape[0]
    params = {}
    if plan.step_parameter is not None:
        params[plan.step_parameter] = jnp.broadcast_to(dual_averaging_final(carry.dual), (num_chains,))
    if plan.mass_parameter is not None:
        mass = carry.inverse_mass
        params[plan.mass_parameter] = mass if not plan.pooled else jnp.broadcast_to(mass, (num_chains, *mass.shape))
    window_steps = jnp.maximum(carry.positions.count, 1)
    acceptance = jnp.sum(carry.acceptance_sum) / jnp.sum(window_steps)
    stats = stats_from_moments(carry.positions, carry.scores, acceptance)
    count = jnp.maximum(carry.logdensity.count, 1).astype(carry.logdensity.mean.dtype)
    extra = {"logdensity_by_chain": carry.logdensity.mean[:, 0],  # mean and sd of log pi per chain, measured
             "logdensity_sd_by_chain": jnp.sqrt(carry.logdensity.m2[:, 0] / jnp.maximum(count - 1.0, 1.0))}
    for collector, part in zip(plan.collectors, carry.collected):
        extra.update(collector.finish(part, stats))
    return WarmupResult(params, stats._replace(extra=extra), carry.num_nonfinite, jnp.ones((), bool))


# --- building a warm-up for an algorithm -------------------------------------------------------------------------


def warmup_plan(algorithm: Algorithm, target: Target, warmup: Warmup, needs: WarmupNeeds) -> WarmupPlan:
    """What to adapt for `algorithm` on `target` (its base kernel's record says which parameters it can) and what
    to measure (`needs`, the algorithm's)."""
    kernel = algorithm.kernel
    spec, tuning = kernel.spec, kernel.spec.tuning
    kernel_arguments(kernel, {}, target)  # fails early on a kernel that does not fit the target
    step_parameter = tuning.step_size if tuning is not None else None
    mass_parameter = tuning.inverse_mass_matrix if tuning is not None and warmup.mass != "none" else None
    gradient_cached = (isinstance(target.space, Continuous) and target.score_is_gradient and not spec.conventional
                       and spec.cache.gradient is not None)
    acceptance = warmup.target_acceptance or (tuning.target_acceptance if tuning is not None else 0.5)
    dense_statistics = warmup.dense_statistics or needs.covariance
    if warmup.quick_start and not (isinstance(target.space, Continuous) and target.score_is_gradient):
        raise ValueError(f"Warmup(quick_start=True) follows the gradient of log pi, which {target.name} (a "
                         f"{type(target.space).__name__} target) has none of: pass quick_start=False.")
    auto = (warmup.mass == "auto" and mass_parameter is not None and warmup.pooled  # one chain's draws: too few
            and 2 <= target.dim <= AUTO_DENSE_MAX_DIM)
    return WarmupPlan(kernel if step_parameter is not None else kernel._replace(step_jitter=0.0), target,
                      step_parameter, mass_parameter, float(acceptance), warmup.pooled,
                      warmup.mass == "dense" or auto, dense_statistics, warmup.num_steps,
                      spec.cache.gradient if gradient_cached else None, warmup.pooled_step_size, needs.collectors,
                      measure_start(warmup), warmup.frozen_measurement, auto, warmup.quick_start)


def warmup_dynamic_params(plan: WarmupPlan, params: dict) -> dict:
    """The base kernel's data parameters traced through the warm-up (the adapted ones left out)."""
    return {name: jnp.asarray(value) for name, value in params.items()
            if name not in (plan.step_parameter, plan.mass_parameter)}


def initial_step_size(plan: WarmupPlan, params: dict) -> Any:
    """Where dual averaging starts: the given step size, else the record's suggestion, else `DEFAULT_STEP_SIZE`."""
    if plan.step_parameter is None:
        return 1.0
    given = params.get(plan.step_parameter)
    if given is not None and not isinstance(given, Unset):
        return given
    declared = plan.kernel.spec.parameter(plan.step_parameter)
    return declared.suggested if declared is not None and declared.suggested is not None else DEFAULT_STEP_SIZE


def initial_inverse_mass(plan: WarmupPlan, params: dict, positions: Array) -> Array:
    """Where the mass adaptation starts: the given inverse mass (diagonal or dense as the plan needs), else I."""
    num_chains, dim = positions.shape
    dtype = jnp.result_type(positions.dtype, float)
    if plan.mass_parameter is None:
        return jnp.zeros((), dtype)
    given = params.get(plan.mass_parameter)
    if given is None or isinstance(given, Unset):
        mass = jnp.eye(dim, dtype=dtype) if plan.dense_mass else jnp.ones(dim, dtype)
    else:
        mass = jnp.asarray(given, dtype)
        if plan.dense_mass and mass.ndim < 2:
            mass = jnp.diag(jnp.broadcast_to(mass, (dim,)))
        elif not plan.dense_mass and mass.ndim == 2:
            mass = jnp.diagonal(mass)
        mass = jnp.broadcast_to(mass, (dim, dim) if plan.dense_mass else (dim,))
    return mass if plan.pooled else jnp.broadcast_to(mass, (num_chains, *mass.shape))


def initial_warmup_carry(plan: WarmupPlan, params: dict, kernel_states: Any, positions: Array) -> WarmupCarry:
    """The carry at warm-up step 0: the chains' base-kernel states, the initial step size and mass matrix (from
    the base kernel's parameters `params`, one chain's)."""
    positions = positions if jnp.issubdtype(positions.dtype, jnp.floating) else positions.astype(jnp.result_type(float))
    return init_carry(plan, kernel_states, positions, initial_step_size(plan, params),
                      initial_inverse_mass(plan, params, positions))
