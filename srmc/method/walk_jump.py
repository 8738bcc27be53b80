"""Walk-jump sampling with a chain of log-concave Markov chains (Saremi, Park & Bach, ICLR 2024, arXiv 2305.19473).

Measurements y_t = X + sigma eps_t (t = 1..M, eps_t ~ N(0, I)) of X ~ pi. With ȳ_t the running mean and
p_s(y) = ∫ pi(x) N(y; x, s I) dx the smoothed density (s a noise VARIANCE), the walk samples one measurement at a
time from

    log p(y_t | y_{1:t-1}) = -(t - 1) / (2 t sigma^2) |y_t - ȳ_{t-1}|^2 + log p_{sigma^2/t}(ȳ_t) + const,
    grad                   = -(t - 1) / (t sigma^2) (y_t - ȳ_{t-1}) + (1/t) grad log p_{sigma^2/t}(ȳ_t),

where ȳ_t = ȳ_{t-1} + (y_t - ȳ_{t-1}) / t: the history enters only through ȳ_{t-1}. Its Hessian is
-I / sigma^2 + Cov[X | y_{1:t}] / sigma^4, so every stage is log-concave where the posterior covariance stays below
sigma^2 I. The jump is the posterior mean (Tweedie / empirical Bayes),

    x̂ = E[X | y_{1:M}] = ȳ_M + (sigma^2 / M) grad log p_{sigma^2/M}(ȳ_M) = y_M + sigma^2 grad log p(y_M | y_{1:M-1}),

the last form free from the inner chain's cached gradient. Derivations: docs/explanation/walk_jump.md.

One STEP of this algorithm is one measurement (one stage): K inner Langevin steps (`samplers.mala` or
`samplers.ula`) on the stage's conditional, then the measurement is committed to the running mean. A walk is M
steps; the step that commits y_M sets ``info.is_walk_end`` and ``state.jump`` and starts the next walk. Every
stage's inner chain starts at x̂_t + sigma xi (xi ~ N(0, I)), a draw from the Gaussian approximation
N(E[X | y_{1:t}], sigma^2 I) of the next conditional (exact when the posterior is a point). So an engine runs
walks in chunks of whole stages, checkpoints between stages, and collects ``info.denoised`` where
``info.is_walk_end``.

Cost per stage: K + 1 evaluations of the smoothed density's value and gradient (K inner steps and the new stage's
start) with a closed form; with an estimated smoothing under MALA, 2K + 1 calls (the estimate is redrawn before
every inner step, at the current point too, so that each Metropolis test compares one function), each costing
`Smoothing.evaluations` target evaluations.

Parameters are data (`WalkJumpParams`): sigma, M, the inner step size and K can change between calls without a
new compile (M and K are compared with counters and bound a `fori_loop`). Only a driver's loop length (M walks
times stages) is a Python int; `walk_jump` below is such a driver.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import walk_jump_setup as setup
from srmc.method.smoothing import Smoothing, exact_smoothing, importance_smoothing
from srmc.samplers import mala, ula
from srmc.samplers.spec import Density, KernelSpec
from srmc.targets.space import check_int

Array = jax.Array


class InnerKernel(NamedTuple):
    """The Langevin-type kernel a stage runs: its record, and whether it has a Metropolis correction."""

    spec: KernelSpec
    corrected: bool


MALA = InnerKernel(mala.spec, True)
ULA = InnerKernel(ula.spec, False)
DEFAULT_NUM_INNER_STEPS = 10


class WalkJumpParams(NamedTuple):
    """Hyperparameters, as data (arrays; a sweep over one is another array, not another compile).

    Attributes:
      noise_scale: sigma > 0, the measurement noise's standard deviation.
      num_measurements: M >= 1 measurements per walk.
      step_size: the inner kernel's step size h (``x + h grad + sqrt(2 h) xi``).
      num_inner_steps: K >= 1 inner steps per measurement.
    """

    noise_scale: Array
    num_measurements: Array
    step_size: Array
    num_inner_steps: Array


class WalkJumpState(NamedTuple):
    """One chain.

    Attributes:
      inner: the inner kernel's state on the current stage's conditional (its ``position`` is the measurement
        being sampled, its cache the conditional's log density and gradient there).
      running_mean: ȳ_{t-1}, the mean of the measurements this walk has committed (zeros before the first).
      measurement: t in 1..M, the index of the measurement being sampled (int32).
      jump: x̂ of the last completed walk (the starting position before the first).
      num_walks: walks completed (int32).
    """

    inner: Any
    running_mean: Array
    measurement: Array
    jump: Array
    num_walks: Array


class WalkJumpInfo(NamedTuple):
    """What one stage did.

    Attributes:
      acceptance_rate: mean inner acceptance probability over the K steps.
      is_accepted: at least one inner step was accepted.
      is_nonfinite: an inner proposal or the next stage's start was not finite.
      num_nonfinite: how many of the K inner proposals were not finite.
      is_walk_end: this stage committed y_M; ``denoised`` is the walk's jump.
      measurement: the committed measurement y_t.
      running_mean: ȳ_t after committing y_t.
      denoised: x̂_t = E[X | y_{1:t}] (exact formula, evaluated at the sampled y_t).
    """

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    num_nonfinite: Array
    is_walk_end: Array
    measurement: Array
    running_mean: Array
    denoised: Array


def conditional_value_and_grad(smoothing: Smoothing, rng_key: Array, y: Array, running_mean: Array, t: Array,
                               noise_scale: Array) -> tuple[Array, Array]:
    """log p(y_t = y | ȳ_{t-1} = running_mean) up to a constant, and its gradient in y (module doc's formulas)."""
    t = jnp.asarray(t, y.dtype)
    variance = noise_scale**2
    offset = y - running_mean
    new_mean = running_mean + offset / t
    smoothed_value, smoothed_score = smoothing.value_and_score(rng_key, new_mean, variance / t)
    precision = (t - 1.0) / (t * variance)
    value = smoothed_value - 0.5 * precision * jnp.sum(offset**2)
    return value, smoothed_score / t - precision * offset


def stage_density(smoothing: Smoothing, rng_key: Array, running_mean: Array, t: Array,
                  noise_scale: Array) -> Density:
    """The stage's conditional as a `samplers.spec.Density` (value and gradient from one smoothing call)."""

    def value_and_grad(y: Array) -> tuple[Array, Array, tuple]:
        return *conditional_value_and_grad(smoothing, rng_key, y, running_mean, t, noise_scale), ()

    return Density(lambda y: (value_and_grad(y)[0], ()), value_and_grad, lambda y: value_and_grad(y)[1])


def init(position: Array, smoothing: Smoothing, params: WalkJumpParams, inner: InnerKernel = MALA,
         rng_key: Array | None = None) -> WalkJumpState:
    """Start a walk with its first measurement's chain at `position` (stage 1 samples p_{sigma^2} itself).

    `rng_key` feeds an estimated smoothing's draws at the start (default ``jax.random.key(0)``); a closed form
    ignores it.
    """
    position = jnp.asarray(position)
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    zeros = jnp.zeros_like(position)
    one = jnp.ones((), jnp.int32)
    density = stage_density(smoothing, rng_key, zeros, one, params.noise_scale)
    return WalkJumpState(inner.spec.init(position, density), zeros, one, position, jnp.zeros((), jnp.int32))


def _inner_steps(rng_key: Array, state: WalkJumpState, smoothing: Smoothing, params: WalkJumpParams,
                 inner: InnerKernel, step: Callable) -> tuple[Any, Array, Array, Array]:
    """K inner steps on the stage's conditional: (inner state, summed acceptance, any accepted, non-finite count).

    An estimated smoothing under a corrected kernel is redrawn before every step and the cache refreshed with it.
    """
    refresh = inner.corrected and not smoothing.exact

    def body(i: Array, carry: tuple) -> tuple:
        inner_state, acceptance, accepted, nonfinite = carry
        key_draws, key_step = jax.random.split(jax.random.fold_in(rng_key, i))
        density = stage_density(smoothing, key_draws, state.running_mean, state.measurement, params.noise_scale)
        if refresh:
            inner_state = inner.spec.init(inner_state.position, density)
        inner_state, info = step(key_step, inner_state, density, step_size=params.step_size)
        return (inner_state, acceptance + info.acceptance_rate, accepted | info.is_accepted,
                nonfinite + info.is_nonfinite.astype(jnp.int32))

    dtype = state.running_mean.dtype
    carry = (state.inner, jnp.zeros((), dtype), jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    return jax.lax.fori_loop(0, params.num_inner_steps, body, carry)


def _commit(rng_key: Array, state: WalkJumpState, inner_state: Any, smoothing: Smoothing, params: WalkJumpParams,
            inner: InnerKernel) -> tuple[WalkJumpState, Array, Array, Array]:
    """Commit y_t, jump if t = M, start the next stage at x̂_t + sigma xi: (state, y_t, ȳ_t, x̂_t)."""
    key_restart, key_draws = jax.random.split(rng_key)
    y = inner_state.position
    t = state.measurement
    denoised = y + params.noise_scale**2 * inner_state.logdensity_grad
    new_mean = state.running_mean + (y - state.running_mean) / t.astype(y.dtype)
    walk_end = t >= params.num_measurements
    next_mean = jnp.where(walk_end, jnp.zeros_like(new_mean), new_mean)
    next_t = jnp.where(walk_end, 1, t + 1).astype(jnp.int32)
    start = denoised + params.noise_scale * jax.random.normal(key_restart, y.shape, y.dtype)
    density = stage_density(smoothing, key_draws, next_mean, next_t, params.noise_scale)
    next_state = WalkJumpState(inner.spec.init(start, density), next_mean, next_t,
                               jnp.where(walk_end, denoised, state.jump), state.num_walks + walk_end)
    return next_state, y, new_mean, denoised


def build_kernel(inner: InnerKernel = MALA) -> Callable:
    """Return ``kernel(rng_key, state, smoothing, params) -> (state, info)``: one stage (see the module doc)."""
    check_inner(inner)
    step = inner.spec.build_kernel()

    def kernel(rng_key: Array, state: WalkJumpState, smoothing: Smoothing,
               params: WalkJumpParams) -> tuple[WalkJumpState, WalkJumpInfo]:
        """K inner steps on p(y_t | ȳ_{t-1}), commit y_t, and jump at the walk's end."""
        key_inner, key_commit = jax.random.split(rng_key)
        inner_state, acceptance, accepted, nonfinite = _inner_steps(key_inner, state, smoothing, params, inner,
                                                                    step)
        next_state, y, new_mean, denoised = _commit(key_commit, state, inner_state, smoothing, params, inner)
        start_nonfinite = ~(jnp.isfinite(next_state.inner.logdensity)
                            & jnp.all(jnp.isfinite(next_state.inner.logdensity_grad)))
        info = WalkJumpInfo(
            acceptance_rate=acceptance / jnp.maximum(params.num_inner_steps, 1).astype(acceptance.dtype),
            is_accepted=accepted,
            is_nonfinite=(nonfinite > 0) | start_nonfinite | ~jnp.all(jnp.isfinite(denoised)),
            num_nonfinite=nonfinite,
            is_walk_end=state.measurement >= params.num_measurements,
            measurement=y,
            running_mean=new_mean,
            denoised=denoised,
        )
        return next_state, info

    return kernel


def check_inner(inner: Any) -> None:
    """An `InnerKernel` whose kernel caches the log density and its gradient and takes a `Density`."""
    if not isinstance(inner, InnerKernel):
        raise ValueError(f"inner must be an InnerKernel record (walk_jump.MALA or walk_jump.ULA), got {inner!r}.")
    if not (inner.spec.split_density and inner.spec.cache.gradient == "logdensity_grad"
            and inner.spec.cache.logdensity == "logdensity"):
        raise ValueError(f"inner kernel {inner.spec.name!r} must cache 'logdensity' and 'logdensity_grad' and accept "
                         "a Density (split_density=True), as samplers.mala and samplers.ula do.")


class WalkJump(NamedTuple):
    """The top-level API: ``init(position, rng_key=None)`` and ``step(rng_key, state)`` for a user's own scan."""

    init: Callable[..., WalkJumpState]
    step: Callable[[Array, WalkJumpState], tuple[WalkJumpState, WalkJumpInfo]]


def as_algorithm(smoothing: Smoothing, params: WalkJumpParams, inner: InnerKernel = MALA) -> WalkJump:
    """Bind a smoothing and parameters: one chain's ``init``/``step``, to ``jax.vmap`` over chains in a scan.

        algorithm = walk_jump.as_algorithm(walk_jump.exact_smoothing(target.smoothed_logdensity), params)
        states = jax.vmap(algorithm.init)(positions)
        states, infos = jax.lax.scan(lambda s, k: jax.vmap(algorithm.step)(jax.random.split(k, n), s),
                                     states, jax.random.split(key, num_walks * M))
        samples = infos.denoised[infos.is_walk_end]
    """
    kernel = build_kernel(inner)

    def init_fn(position: Array, rng_key: Array | None = None) -> WalkJumpState:
        return init(position, smoothing, params, inner, rng_key)

    def step_fn(rng_key: Array, state: WalkJumpState) -> tuple[WalkJumpState, WalkJumpInfo]:
        return kernel(rng_key, state, smoothing, params)

    return WalkJump(init_fn, step_fn)


# --- the entry point: its own jitted scan of vmapped chains (the engine integration replaces the driver) ----------


class WalkJumpResult(NamedTuple):
    """Samples and diagnostics of `walk_jump`.

    Attributes:
      samples: (num_samples, d) jumps x̂ = E[X | y_{1:M}], one per walk (walk-major: every chain's first walk,
        then every chain's second, ...).
      final_means: (num_samples, d) the walks' ȳ_M (law p_{sigma^2/M} for an exact walk).
      acceptance_rate: mean inner acceptance probability over every inner step of the run (warm-up excluded).
      num_nonfinite: inner proposals that were not finite (rejected, counted).
      num_nonfinite_samples: samples with a non-finite coordinate (they are in `samples`: drop them).
      noise_scale, num_measurements, step_size, num_inner_steps: sigma, M, h and K used.
      num_chains, num_walks_per_chain, warmup_stages: the run's shape.
      smoothing: the smoothing's name (``"exact"`` or the estimator).
      gradient_evaluations: target evaluations of the whole run, warm-up included (`evaluations_per_stage`).
    """

    samples: Array
    final_means: Array
    acceptance_rate: float
    num_nonfinite: int
    num_nonfinite_samples: int
    noise_scale: float
    num_measurements: int
    step_size: float
    num_inner_steps: int
    num_chains: int
    num_walks_per_chain: int
    warmup_stages: int
    smoothing: str
    gradient_evaluations: int


def _stage_scan(step: Callable, states: WalkJumpState, rng_key: Array, num_stages: int) -> tuple:
    """`num_stages` vmapped stages: (states, summed acceptance, summed non-finite, last running mean)."""
    num_chains = states.running_mean.shape[0]

    def one(carry: tuple, key: Array) -> tuple:
        states, acceptance, nonfinite, _ = carry
        states, info = jax.vmap(step)(jax.random.split(key, num_chains), states)
        return (states, acceptance + info.acceptance_rate.sum(), nonfinite + info.num_nonfinite.sum(),
                info.running_mean), None

    zero = jnp.zeros((), states.running_mean.dtype)
    carry = (states, zero, jnp.zeros((), jnp.int32), states.running_mean)
    return jax.lax.scan(one, carry, jax.random.split(rng_key, num_stages))[0]


def _driver(smoothing: Smoothing, inner: InnerKernel, num_walks: int, num_measurements: int,
            warmup_stages: int) -> Callable:
    """A jitted ``run(rng_key, positions, params) -> (jumps, final means, acceptance sum, non-finite count)``."""
    kernel = build_kernel(inner)

    def run(rng_key: Array, positions: Array, params: WalkJumpParams) -> tuple:
        key_init, key_warm, key_walks = jax.random.split(rng_key, 3)
        num_chains = positions.shape[0]
        states = jax.vmap(lambda x, k: init(x, smoothing, params, inner, k))(
            positions, jax.random.split(key_init, num_chains))
        single = params._replace(num_measurements=jnp.ones_like(params.num_measurements))
        states = _stage_scan(lambda k, s: kernel(k, s, smoothing, single), states, key_warm, warmup_stages)[0]
        states = states._replace(num_walks=jnp.zeros_like(states.num_walks))

        def walk(carry: tuple, key: Array) -> tuple:
            states, acceptance, nonfinite = carry
            states, walk_acceptance, walk_nonfinite, final_mean = _stage_scan(
                lambda k, s: kernel(k, s, smoothing, params), states, key, num_measurements)
            return (states, acceptance + walk_acceptance, nonfinite + walk_nonfinite), (states.jump, final_mean)

        zero = jnp.zeros((), positions.dtype)
        (_, acceptance, nonfinite), (jumps, final_means) = jax.lax.scan(
            walk, (states, zero, jnp.zeros((), jnp.int32)), jax.random.split(key_walks, num_walks))
        return jumps, final_means, acceptance, nonfinite

    return jax.jit(run)


def walk_jump(rng_key: Array, target_or_logdensity: Any, num_samples: int, *, noise_scale: float | None = None,
              num_measurements: int | None = None, dim: int | None = None, scale: Any = None,
              step_size: float | None = None, num_inner_steps: int = DEFAULT_NUM_INNER_STEPS,
              inner: InnerKernel = MALA, num_chains: int | None = None, warmup_stages: int = 0,
              initial_position: Any = None, smoothing: Smoothing | None = None,
              num_draws: int = setup.DEFAULT_NUM_DRAWS, score_form: str = "noise") -> WalkJumpResult:
    """Draw `num_samples` samples of pi by walk-jump sampling; each chain yields one sample per walk.

    Args:
      rng_key: a JAX key.
      target_or_logdensity: a continuous `Target` (its ``smoothed_logdensity`` is used where it has one) or a
        function x -> log pi(x) with `dim`.
      num_samples: how many samples (jumps) to return.
      noise_scale: sigma; default `NOISE_SCALE_FACTOR` * scale (`walk_jump_setup` explains the rules).
      num_measurements: M per walk (a Python int: it fixes the driver's loop length); default from sigma/scale.
      dim: the dimension, for a plain log density.
      scale: pi's per-coordinate standard deviation (a number or d numbers; the largest is used) for the
        defaults; default: the target's ground truth. Needed unless noise_scale and num_measurements are given.
      step_size: the inner step size; default scaled by sigma^2 (module `walk_jump_setup`).
      num_inner_steps: K inner steps per measurement.
      inner: `MALA` (Metropolis-corrected; exact stages with a closed-form smoothing) or `ULA` (biased by O(h)).
      num_chains: parallel chains; default num_samples (one walk each, independent samples).
      warmup_stages: stages of single-measurement walks (M = 1) run first from the starting points and
        discarded, to bring the first measurement's chain to p_{sigma^2}.
      initial_position: (d,) or (num_chains, d) starts of the first measurement's chain; default the target's.
      smoothing: a `Smoothing` record; default the target's closed form, else `importance_smoothing` of its log
        density with `num_draws` draws and `score_form` (``"noise"`` or ``"gradient"``).

    Returns:
      `WalkJumpResult`: samples (num_samples, d) and diagnostics. The jump is E[X | y_{1:M}], whose law is pi
      smoothed and shrunk at finite M (on a Gaussian N(m, C): N(m, C (C + sigma^2/M I)^-1 C)), not pi itself.
    """
    target = setup.resolve_target(target_or_logdensity, dim)
    num_samples = check_int(num_samples, "num_samples")
    check_inner(inner)
    smoothing = setup.resolve_smoothing(target, smoothing, num_draws, score_form)
    noise_scale, num_measurements, step_size = setup.resolve_numbers(target, scale, noise_scale, num_measurements,
                                                                     step_size, inner.corrected)
    num_inner_steps = check_int(num_inner_steps, "num_inner_steps")
    num_chains = num_samples if num_chains is None else check_int(num_chains, "num_chains")
    warmup_stages = check_int(warmup_stages, "warmup_stages", minimum=0)
    num_walks = -(-num_samples // num_chains)
    key_start, key_run = jax.random.split(rng_key)
    positions = setup.starting_positions(key_start, target, num_chains, initial_position)
    setup.check_finite_start(target.logdensity, smoothing, positions[0], noise_scale)
    dtype = positions.dtype
    params = WalkJumpParams(jnp.asarray(noise_scale, dtype), jnp.asarray(num_measurements, jnp.int32),
                            jnp.asarray(step_size, dtype), jnp.asarray(num_inner_steps, jnp.int32))
    run = _driver(smoothing, inner, num_walks, num_measurements, warmup_stages)
    jumps, final_means, acceptance, nonfinite = run(key_run, positions, params)
    samples = jumps.reshape(-1, target.dim)[:num_samples]
    stages = num_chains * (num_walks * num_measurements + warmup_stages)
    return WalkJumpResult(
        samples=samples,
        final_means=final_means.reshape(-1, target.dim)[:num_samples],
        acceptance_rate=float(acceptance) / (num_chains * num_walks * num_measurements),
        num_nonfinite=int(nonfinite),
        num_nonfinite_samples=int(jnp.sum(~jnp.all(jnp.isfinite(samples), axis=-1))),
        noise_scale=noise_scale,
        num_measurements=num_measurements,
        step_size=step_size,
        num_inner_steps=num_inner_steps,
        num_chains=num_chains,
        num_walks_per_chain=num_walks,
        warmup_stages=warmup_stages,
        smoothing=smoothing.name,
        gradient_evaluations=stages * setup.evaluations_per_stage(smoothing, num_inner_steps, inner.corrected)
        + num_chains * smoothing.evaluations,
    )


__all__ = [
    "MALA", "ULA", "InnerKernel", "Smoothing", "WalkJump", "WalkJumpInfo", "WalkJumpParams", "WalkJumpResult",
    "WalkJumpState", "as_algorithm", "build_kernel", "conditional_value_and_grad", "exact_smoothing",
    "importance_smoothing", "init", "stage_density", "walk_jump",
]
