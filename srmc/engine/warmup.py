"""Warm-up on pi itself: step size by dual averaging, inverse mass matrix from windowed Welford estimates.

`srmc.sample(..., warmup=N)` runs N steps of the *base* kernel on the target (no repellence, SRMC's history
frozen at theta = 0) before anything is counted, adapting what the kernel's record says it can tune
(`srmc.samplers.spec.Tuning`):

- the step size by dual averaging (Hoffman & Gelman 2014, Algorithm 5: gamma = 0.05, t0 = 10, kappa = 0.75,
  mu = log(10 eps_0)) towards the kernel's target acceptance (MALA 0.574, HMC and kinetic Langevin 0.8, RWM 0.234,
  BlackJAX kernels the same through their records); the final step size is the averaged iterate;
- a diagonal (or dense) inverse mass matrix from Welford estimates of the variance in Stan's expanding windows
  (an initial fast window of 15%, slow windows 25, 50, 100, ... steps, a final fast window of 10%; after each slow
  window M^{-1} = n/(n+5) Var + 1e-3 * 5/(n+5) and dual averaging restarts from the current step size);
- the mass matrix pooled across chains by default (one for all chains: its estimate averages chains x steps
  draws), or per chain (``pooled=False``: the step size too, throughout);
- the step size per chain while the chains travel (every window but the final fast one: each chain's own dual
  averaging, as Stan, NumPyro and BlackJAX's window adaptation do), then pooled over the final fast window (dual
  averaging restarted from the geometric mean of the chains' step sizes and driven by their mean acceptance), so
  the run gets one step size. Why both: one pooled step size from the start froze the chains that started where
  the gradient is large (a NumPyro Poisson regression from its init strategy, uniform on (-2, 2): 13 of 32 MALA
  chains never left their starts under the step size the other chains had tuned), while per-chain dual averaging
  to the end left the final step sizes noisy and on the small side (MALA's acceptance 0.64 for a target of 0.574
  on an 8-d Gaussian, 16 chains x 2000 steps). ``Warmup(pooled_step_size=True)`` pools it from the start (the
  warm-up of earlier releases).

It also records what the tilts need: location, variance (covariance) of x and the score's second moment
(Fisher information) over the second half of the warm-up, pooled across chains (`WarmupStats`), and, for an
algorithm that asks (``algorithm.predicts_alpha``: the default SRMC), batch means of x and s (for the second-order
tilt also of x s^T) and thinned draws over that half, from which `srmc.method.prediction` predicts SRMC's variance
at every alpha of its grid.

Everything here is a pure function of the warm-up's keys and step indices: the result does not depend on the
chunks the warm-up is run in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method import prediction
from srmc.method.kernels import jittered, target_params
from srmc.method.tilt import MAX_WHITENED_DIM, bounded_reference, whitening_factor
from srmc.targets.space import Continuous, check_int

Array = jax.Array

MASS_FORMS = ("diagonal", "dense", "none")
DUAL_AVERAGING_GAMMA, DUAL_AVERAGING_T0, DUAL_AVERAGING_KAPPA = 0.05, 10.0, 0.75
DEFAULT_STEP_SIZE = 0.1  # where a kernel's record suggests none


class Warmup(NamedTuple):
    """How to warm up (``srmc.sample(warmup=Warmup(2000, mass="dense"))``; ``warmup=2000`` takes the defaults).

    Attributes:
      num_steps: steps of the base kernel on pi before the run.
      target_acceptance: None: the kernel's own (its record's `Tuning`).
      mass: ``"diagonal"`` (default), ``"dense"`` or ``"none"`` (adapt the step size only).
      pooled: one mass matrix and (from the final fast window on) one step size for all chains, estimated from
        all their draws (default), else one of each per chain throughout.
      dense_statistics: also record the dense covariance of x and of the score (O(d^2) memory).
      pooled_step_size: one step size for all chains from the start, tuned to their mean acceptance; else
        (default) one per chain until the final fast window (a chain started where the gradient is large needs a
        smaller step than the others until it has moved).
    """

    num_steps: int
    target_acceptance: float | None = None
    mass: str = "diagonal"
    pooled: bool = True
    dense_statistics: bool = False
    pooled_step_size: bool = False


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
    if not all(isinstance(flag, bool) for flag in (warmup.pooled, warmup.dense_statistics, warmup.pooled_step_size)):
        raise TypeError("warmup pooled, dense_statistics and pooled_step_size must be True or False.")
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


# --- what the warm-up hands to the run --------------------------------------------------------------------------


class WarmupStats(NamedTuple):
    """Pooled estimates from the second half of the warm-up (numpy arrays in a result).

    mean, variance: of x; covariance: dense, with ``Warmup(dense_statistics=True)``, else None.
    score_mean, fisher: mean and second moment E[s s^T] of the score (diagonal; `fisher_matrix` dense or None);
    acceptance: mean acceptance over the window; num_draws: chains x steps averaged.
    predicted_variance, variance_floor: SRMC's predicted relative variance over `prediction.ALPHA_GRID` and the
    per-coordinate floor no alpha goes below (`srmc.method.prediction`); None where nothing was predicted, NaN
    where the chains were not in equilibrium.
    """

    mean: Any
    variance: Any
    score_mean: Any
    fisher: Any
    acceptance: Any
    num_draws: Any
    covariance: Any = None
    fisher_matrix: Any = None
    predicted_variance: Any = None
    variance_floor: Any = None


class PredictionBuffers(NamedTuple):
    """For the first `prediction.PREDICTION_CHAINS` chains, over the warm-up's second half: sums of x and s in
    `prediction.PREDICTION_BATCHES` batches (``(chains, batches, 2 d)``) and thinned draws with their scores
    (``(chains, draws, 2 d)``), both empty when nothing is predicted; for the second-order tilt also the batches'
    sums of x s^T (``(chains, batches, d, d)``: its history's z * S needs the reference known only at the end)."""

    batch_sums: Array
    draws: Array
    batch_products: Array | None = None


def prediction_layout(plan: "WarmupPlan", dim: int) -> tuple[int, int, int]:
    """(batch length, draws kept per chain, thinning) of the prediction's buffers; zeros: no prediction."""
    length = plan.num_steps - plan.num_steps // 2
    batch = length // prediction.PREDICTION_BATCHES
    if not plan.predicts_alpha or batch < 2 or dim > prediction.largest_predicted_dim(plan.prediction_tilt):
        return 0, 0, 0
    draws = int(min(prediction.PREDICTION_DRAWS, length))
    return batch, draws, max(length // draws, 1)


def _update_buffers(buffers: PredictionBuffers, layout: tuple[int, int, int], offset: Array, positions: Array,
                    scores: Array) -> PredictionBuffers:
    """Add step `offset` (of the second half; < 0: before it) to its batch and keep it if it is a thinned draw."""
    batch, num_draws, thinning = layout
    if not batch:
        return buffers
    slot = jnp.where(offset >= 0, offset // batch, -1)
    batch_hit = jnp.arange(buffers.batch_sums.shape[1]) == slot
    used = buffers.draws.shape[0]
    values = jnp.concatenate([positions[:used], scores[:used]], axis=-1)
    sums = buffers.batch_sums + jnp.where(batch_hit[None, :, None], values[:, None, :], 0.0)
    draw_hit = (jnp.arange(num_draws) == offset // thinning) & (offset >= 0) & (offset % thinning == 0)
    draws = jnp.where(draw_hit[None, :, None], values[:, None, :], buffers.draws)
    products = buffers.batch_products
    if products is not None:  # one batch's slot only (a scatter, not a pass over every batch)
        outer = positions[:used, :, None] * scores[:used, None, :]
        in_batches = (slot >= 0) & (slot < products.shape[1])
        products = products.at[:, jnp.clip(slot, 0, products.shape[1] - 1)].add(jnp.where(in_batches, outer, 0.0))
    return PredictionBuffers(sums, draws, products)


def predicted_variance(plan: "WarmupPlan", buffers: PredictionBuffers, stats: "WarmupStats"
                       ) -> tuple[Array, Array] | tuple[None, None]:
    """SRMC's predicted relative variance over `prediction.ALPHA_GRID` and the per-coordinate floor no alpha goes
    below (`prediction.variance_floor`), from the buffers; (None, None): nothing collected; NaN: the chains were
    not in equilibrium (`prediction.in_equilibrium`)."""
    dim = buffers.draws.shape[2] // 2
    batch = prediction_layout(plan, dim)[0]
    if not batch:
        return None, None
    location, scale = bounded_reference(stats.mean, stats.variance)
    batch_means = (buffers.batch_sums / batch).reshape(-1, 2 * dim)
    batch_x, batch_s = batch_means[:, :dim], batch_means[:, dim:]
    draws = buffers.draws.reshape(-1, 2 * dim)
    if plan.prediction_tilt != "second_order":
        curve = prediction.predicted_relative_variance(batch_x, batch_s, batch, draws[:, :dim], location, scale,
                                                       prediction.ALPHA_GRID)
        floor = prediction.variance_floor(batch_x, batch_s)
    else:  # with the run's m and L
        factor = whitening_factor(stats.covariance, scale)
        history = prediction.second_order_history_means(
            batch_s, (buffers.batch_products / batch).reshape(-1, dim, dim), location, factor)
        curve = prediction.predicted_relative_variance_second_order(batch_x, history, batch, draws[:, :dim],
                                                                    location, factor, prediction.ALPHA_GRID)
        floor = prediction.variance_floor(batch_x, history.reshape(-1, 2 * dim))
    usable = prediction.in_equilibrium(batch_s, draws[:, :dim], draws[:, dim:], buffers.draws.shape[0])
    return jnp.where(usable, curve, jnp.nan), jnp.where(usable, floor, jnp.nan)  # NaN: not predicted


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

    `static_params` are the kernel's parameters that are not numbers (ints, strings, callables), as sorted items;
    numbers and arrays travel as traced arguments. `step_parameter` / `mass_parameter` name what is adapted
    (None: not adapted).
    """

    kernel: Any  # KernelSpec
    target: Any  # Target
    static_params: tuple
    step_parameter: str | None
    mass_parameter: str | None
    target_acceptance: float
    pooled: bool
    dense_mass: bool
    dense_statistics: bool
    num_steps: int
    score_from_cache: str | None
    step_jitter: float = 0.0
    predicts_alpha: bool = False
    prediction_tilt: str = "bounded"
    pooled_step_size: bool = False


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
    prediction: PredictionBuffers


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
    stats_shape = (num_chains, dim)
    scores_shape = (num_chains, plan.target.space.score_size)
    batch, num_draws, _ = prediction_layout(plan, dim)
    used = min(num_chains, prediction.PREDICTION_CHAINS) if batch else 0
    products = (jnp.zeros((used, prediction.PREDICTION_BATCHES, dim, dim), dtype)
                if batch and plan.prediction_tilt == "second_order" else None)
    buffers = PredictionBuffers(jnp.zeros((used, prediction.PREDICTION_BATCHES, 2 * dim), dtype),
                                jnp.zeros((used, num_draws, 2 * dim), dtype), products)
    return WarmupCarry(
        states, dual, window, inverse_mass, moments_init(stats_shape, plan.dense_statistics, dtype),
        moments_init(scores_shape, plan.dense_statistics, dtype), jnp.zeros(num_chains, dtype),
        jnp.zeros(num_chains, jnp.int32), jnp.zeros((), jnp.int32), buffers,
    )


def _kernel_params(plan: WarmupPlan, dynamic: dict, step_size: Array, inverse_mass: Array) -> dict:
    params = {**dynamic, **dict(plan.static_params)}
    if plan.step_parameter is not None:
        params[plan.step_parameter] = step_size
    if plan.mass_parameter is not None:
        params[plan.mass_parameter] = inverse_mass
    return params


def run_chunk(carry: WarmupCarry, warmup_keys: Array, dynamic: dict, *, plan: WarmupPlan,
              num_steps: int) -> WarmupCarry:
    """`num_steps` warm-up steps from `carry` (jit with `plan` and `num_steps` static)."""
    kernel = plan.kernel.build_kernel()
    in_window, window_end, in_final = (jnp.asarray(flags) for flags in _schedule_flags(plan.num_steps))
    second_half = plan.num_steps // 2
    per_chain_mass = plan.mass_parameter is not None and not plan.pooled
    pools_at_end = plan.pooled and not plan.pooled_step_size  # per-chain step sizes until the final fast window
    layout = prediction_layout(plan, carry.prediction.draws.shape[2] // 2)

    def one_step(carry: WarmupCarry, _) -> tuple[WarmupCarry, None]:
        index = carry.step
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(warmup_keys, index)
        step_size = jnp.exp(carry.dual.log_step)
        step_sizes = jnp.broadcast_to(step_size, warmup_keys.shape[:1])

        def step(key, state, chain_step, chain_mass):
            params = jittered(plan.kernel, _kernel_params(plan, dynamic, chain_step, chain_mass), key, plan.step_jitter)
            return kernel(key, state, plan.target.logdensity, **params)

        mass_axis = 0 if per_chain_mass else None
        states, info = jax.vmap(step, in_axes=(0, 0, 0, mass_axis))(keys, carry.states, step_sizes,
                                                                     carry.inverse_mass)
        acceptance = info.acceptance_rate
        finite_acceptance = jnp.where(jnp.isfinite(acceptance), acceptance, 0.0)
        pooled_acceptance = jnp.mean(finite_acceptance)
        statistic = (pooled_acceptance if plan.pooled_step_size
                     else jnp.where(in_final[index] & pools_at_end, pooled_acceptance, finite_acceptance))
        dual = dual_averaging_update(carry.dual, statistic, plan.target_acceptance)
        positions = states.position.astype(carry.window.mean.dtype)
        window = moments_update(carry.window, positions, jnp.broadcast_to(in_window[index], positions.shape[:1]))
        inverse_mass, window, dual = _end_window(plan, window_end[index], window, carry.inverse_mass, dual)
        if pools_at_end:  # the final fast window starts from the chains' pooled step size
            dual = _pool_step_sizes(dual, window_end[index] & in_final[jnp.minimum(index + 1, plan.num_steps - 1)])
        in_stats = jnp.broadcast_to(index >= second_half, positions.shape[:1])
        scores = (getattr(states, plan.score_from_cache) if plan.score_from_cache is not None
                  else jax.vmap(plan.target.score)(states.position)).astype(carry.scores.mean.dtype)
        carry = WarmupCarry(
            states, dual, window, inverse_mass, moments_update(carry.positions, positions, in_stats),
            moments_update(carry.scores, scores, in_stats),
            carry.acceptance_sum + jnp.where(in_stats, finite_acceptance, 0.0),
            carry.num_nonfinite + info.is_nonfinite, index + 1,
            _update_buffers(carry.prediction, layout, index - second_half, positions, scores),
        )
        return carry, None

    return jax.lax.scan(one_step, carry, None, length=num_steps)[0]


def _end_window(plan: WarmupPlan, ends: Array, window: Moments, inverse_mass: Array,
                dual: DualAveraging) -> tuple[Array, Moments, DualAveraging]:
    """At the end of a slow window: the new mass matrix, a fresh window and dual averaging restarted."""
    if plan.mass_parameter is None:
        return inverse_mass, window, dual
    estimate = regularised_inverse_mass(pool_moments(window) if plan.pooled else window)
    restarted = dual_averaging_init(dual_averaging_final(dual))
    fresh = jax.tree.map(jnp.zeros_like, window)
    choose = lambda new, old: jnp.where(ends, new, old)  # noqa: E731
    return (choose(estimate.astype(inverse_mass.dtype), inverse_mass), jax.tree.map(choose, fresh, window),
            jax.tree.map(choose, restarted, dual))


def _pool_step_sizes(dual: DualAveraging, now: Array) -> DualAveraging:
    """Where `now`: dual averaging restarted for every chain from the geometric mean of the chains' step sizes."""
    pooled = jnp.exp(jnp.mean(jnp.log(dual_averaging_final(dual))))
    restarted = dual_averaging_init(jnp.broadcast_to(pooled, dual.log_step.shape))
    return jax.tree.map(lambda new, old: jnp.where(now, new, old), restarted, dual)


class WarmupResult(NamedTuple):
    """The adapted parameters (per chain, ready to be traced through the run), the warm-up's statistics, its
    non-finite proposals per chain, and whether it has run (False in a placeholder)."""

    params: dict
    stats: WarmupStats
    num_nonfinite: Array
    done: Array


def finish(plan: WarmupPlan, carry: WarmupCarry) -> WarmupResult:
    """Adapted per-chain parameters and pooled statistics from the final carry."""
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
    curve, floor = predicted_variance(plan, carry.prediction, stats)
    stats = stats._replace(predicted_variance=curve, variance_floor=floor)
    return WarmupResult(params, stats, carry.num_nonfinite, jnp.ones((), bool))


# --- building a warm-up for an algorithm -------------------------------------------------------------------------


def _is_static(value: Any) -> bool:
    return value is None or callable(value) or isinstance(value, (bool, int, str, np.integer))


def warmup_plan(algorithm: Any, target: Any, warmup: Warmup) -> WarmupPlan:
    """What to adapt for `algorithm` on `target` (its base kernel's record says which parameters it can)."""
    spec = algorithm.kernel
    tuning = spec.tuning
    params = target_params(spec, algorithm.kernel_params, target)
    step_parameter = tuning.step_size if tuning is not None else None
    mass_parameter = tuning.inverse_mass_matrix if tuning is not None and warmup.mass != "none" else None
    adapted = {step_parameter, mass_parameter}
    static = tuple(sorted((name, value) for name, value in params.items() if _is_static(value) and name not in adapted))
    gradient_cached = (isinstance(target.space, Continuous) and target.score_is_gradient and not spec.conventional
                       and spec.cache.gradient is not None)
    acceptance = warmup.target_acceptance or (tuning.target_acceptance if tuning is not None else 0.5)
    return WarmupPlan(spec, target, static, step_parameter, mass_parameter, float(acceptance), warmup.pooled,
                      warmup.mass == "dense",
                      warmup.dense_statistics or (algorithm.dense_reference and target.dim <= MAX_WHITENED_DIM),
                      warmup.num_steps,
                      spec.cache.gradient if gradient_cached else None,
                      algorithm.step_jitter if step_parameter is not None else 0.0,
                      algorithm.predicts_alpha and isinstance(target.space, Continuous), algorithm.prediction_tilt,
                      warmup.pooled_step_size)


def warmup_dynamic_params(plan: WarmupPlan, algorithm: Any) -> dict:
    """The kernel's numeric parameters (traced through the warm-up), the adapted ones left out."""
    params = target_params(plan.kernel, algorithm.kernel_params, plan.target)
    return {name: jnp.asarray(value) for name, value in params.items()
            if not _is_static(value) and name not in (plan.step_parameter, plan.mass_parameter)}


def _initial_step_size(plan: WarmupPlan, algorithm: Any) -> Any:
    if plan.step_parameter is None:
        return 1.0
    given = algorithm.kernel_params.get(plan.step_parameter)
    if given is not None:
        return given
    declared = plan.kernel.parameter(plan.step_parameter)
    return declared.suggested if declared is not None and declared.suggested is not None else DEFAULT_STEP_SIZE


def _initial_inverse_mass(plan: WarmupPlan, algorithm: Any, positions: Array) -> Array:
    num_chains, dim = positions.shape
    dtype = jnp.result_type(positions.dtype, float)
    if plan.mass_parameter is None:
        return jnp.zeros((), dtype)
    given = algorithm.kernel_params.get(plan.mass_parameter)
    if given is None:
        mass = jnp.eye(dim, dtype=dtype) if plan.dense_mass else jnp.ones(dim, dtype)
    else:
        mass = jnp.asarray(given, dtype)
        if plan.dense_mass and mass.ndim < 2:
            mass = jnp.diag(jnp.broadcast_to(mass, (dim,)))
        elif not plan.dense_mass and mass.ndim == 2:
            mass = jnp.diagonal(mass)
        mass = jnp.broadcast_to(mass, (dim, dim) if plan.dense_mass else (dim,))
    return mass if plan.pooled else jnp.broadcast_to(mass, (num_chains, *mass.shape))


def initial_warmup_carry(plan: WarmupPlan, algorithm: Any, kernel_states: Any, positions: Array) -> WarmupCarry:
    """The carry at warm-up step 0: the chains' base-kernel states, the initial step size and mass matrix."""
    positions = positions if jnp.issubdtype(positions.dtype, jnp.floating) else positions.astype(jnp.result_type(float))
    return init_carry(plan, kernel_states, positions, _initial_step_size(plan, algorithm),
                      _initial_inverse_mass(plan, algorithm, positions))
