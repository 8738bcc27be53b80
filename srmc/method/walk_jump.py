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
new compile (M and K are compared with counters and bound a `fori_loop`). `walk_jump_algorithm` is the top-level
API as an `srmc.Algorithm` (one engine step = one stage; the state stands for its last jump, and only a walk's last
stage yields a draw); `srmc.walk_jump` (`srmc.tools.walk_jump`) runs it through `srmc.sample`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method import walk_jump_setup as setup
from srmc.method.algorithm import Algorithm, HealthWarning, Report, StaticPartial
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
      walk_mean: ȳ_M of the last completed walk (the starting position before the first).
      acceptance_sums: (2,) summed stage acceptance rates of the first measurement's stages and of the later ones.
      stage_counts: (2,) int32, how many of each were run.
      num_nonfinite: inner proposals that were not finite, summed over every stage (int32).
    """

    inner: Any
    running_mean: Array
    measurement: Array
    jump: Array
    num_walks: Array
    walk_mean: Array
    acceptance_sums: Array
    stage_counts: Array
    num_nonfinite: Array


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
    return WalkJumpState(inner.spec.init(position, density), zeros, one, position, jnp.zeros((), jnp.int32),
                         position, jnp.zeros((2,), position.dtype), jnp.zeros((2,), jnp.int32),
                         jnp.zeros((), jnp.int32))


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
    next_state = state._replace(inner=inner.spec.init(start, density), running_mean=next_mean, measurement=next_t,
                                jump=jnp.where(walk_end, denoised, state.jump), num_walks=state.num_walks + walk_end,
                                walk_mean=jnp.where(walk_end, new_mean, state.walk_mean))
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
        mean_acceptance = acceptance / jnp.maximum(params.num_inner_steps, 1).astype(acceptance.dtype)
        later = (state.measurement > 1).astype(jnp.int32)
        next_state = next_state._replace(
            acceptance_sums=state.acceptance_sums.at[later].add(mean_acceptance.astype(state.acceptance_sums.dtype)),
            stage_counts=state.stage_counts.at[later].add(1), num_nonfinite=state.num_nonfinite + nonfinite)
        start_nonfinite = ~(jnp.isfinite(next_state.inner.logdensity)
                            & jnp.all(jnp.isfinite(next_state.inner.logdensity_grad)))
        info = WalkJumpInfo(
            acceptance_rate=mean_acceptance,
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


# --- the top-level API for the engine: `walk_jump_algorithm`, an `srmc.Algorithm` that `srmc.sample` runs -------

LOW_STAGE_ACCEPTANCE = 0.2  # a corrected inner kernel accepting less than this on a stage kind is flagged


class WalkJumpConfig(NamedTuple):
    """The static choices of `walk_jump_algorithm` (hashable: the engine's compiled programs are keyed on them).

    inner: the stage kernel; smoothing: a `Smoothing` given by the user, or None: the target's closed form where it
    declares one (``smoothed_logdensity``), else `importance_smoothing` of its log density with `num_draws` draws
    and `score_form`, resolved from the target the engine hands to every step.
    """

    inner: InnerKernel
    smoothing: Smoothing | None
    num_draws: int
    score_form: str


def config_smoothing(config: WalkJumpConfig, target: Any) -> Smoothing:
    """The `Smoothing` a run of `config` uses on `target` (see `WalkJumpConfig`)."""
    return setup.resolve_smoothing(target, config.smoothing, config.num_draws, config.score_form)


def _init(config: WalkJumpConfig, position: Array, target: Any, params: WalkJumpParams) -> WalkJumpState:
    return init(position, config_smoothing(config, target), params, config.inner)


def _step(config: WalkJumpConfig, rng_key: Array, state: WalkJumpState, target: Any,
          params: WalkJumpParams) -> tuple[WalkJumpState, WalkJumpInfo]:
    return build_kernel(config.inner)(rng_key, state, config_smoothing(config, target), params)


def jump_position(state: WalkJumpState) -> Array:
    """The point a state stands for: the jump x̂ of its last completed walk."""
    return state.jump


def is_walk_end(info: WalkJumpInfo) -> Array:
    """Whether a stage yields a draw: it committed y_M and jumped."""
    return info.is_walk_end


def walk_statistics(state: WalkJumpState) -> dict:
    """Per stored draw: ȳ_M of the last completed walk (``walk_mean``, (d,) per chain; law p_{sigma^2/M})."""
    return {"walk_mean": state.walk_mean}


def stage_counters(state: WalkJumpState, params: WalkJumpParams) -> dict:
    """Per chain over the whole run (burn-in included): mean acceptance of the first measurement's stages and of
    the later ones, stages of each kind, non-finite inner proposals, walks completed."""
    counts = state.stage_counts
    rates = state.acceptance_sums / jnp.maximum(counts, 1).astype(state.acceptance_sums.dtype)
    return {"first_stage_acceptance": rates[0], "later_stage_acceptance": rates[1],
            "first_stages": counts[0], "later_stages": counts[1],
            "num_nonfinite_proposals": state.num_nonfinite, "num_walks": state.num_walks}


def stage_health(config: WalkJumpConfig, result: Any) -> list:
    """Walk-jump's own checks (silent on a healthy run): with a Metropolis-corrected inner kernel, a pooled stage
    acceptance below `LOW_STAGE_ACCEPTANCE`, first measurement's stages and later ones apart."""
    if not config.inner.corrected or "first_stage_acceptance" not in result.counters:
        return []
    warnings = []
    fixes = {
        "first": "the first measurement samples pi smoothed at sigma^2 itself, the least log-concave stage: if the "
                 "later stages accept well, sigma is small for the distance between pi's modes (raise noise_scale); "
                 "otherwise lower step_size",
        "later": "lower step_size (the default is c sigma^2 d^(-1/3)) or raise num_inner_steps",
    }
    for kind in ("first", "later"):
        counts = np.asarray(result.counters[f"{kind}_stages"], np.float64)
        if counts.sum() == 0:
            continue
        rates = np.asarray(result.counters[f"{kind}_stage_acceptance"], np.float64)
        pooled = float(np.sum(rates * counts) / counts.sum())
        if pooled < LOW_STAGE_ACCEPTANCE:
            warnings.append(HealthWarning(
                f"walk_jump_{kind}_stage_acceptance_low",
                f"walk-jump's {kind} stages accepted {pooled:.3f} of their inner {config.inner.spec.name} proposals "
                f"(< {LOW_STAGE_ACCEPTANCE}): those stages barely move, so the measurements and the jumps keep the "
                f"starting points' law; {fixes[kind]}.", {"acceptance": pooled, "stages": int(counts.sum())}))
    return warnings


def walk_jump_algorithm(target: Any = None, *, noise_scale: float | None = None, num_measurements: int | None = None,
                        dim: int | None = None, scale: Any = None, step_size: float | None = None,
                        num_inner_steps: int = DEFAULT_NUM_INNER_STEPS, inner: InnerKernel = MALA,
                        smoothing: Smoothing | None = None, num_draws: int = setup.DEFAULT_NUM_DRAWS,
                        score_form: str = "noise") -> Algorithm:
    """Walk-jump sampling as an `srmc.Algorithm`: ``srmc.sample`` runs it (chunks, checkpoints between stages,
    devices, progress, health), or a hand-written vmapped scan steps its ``init``/``step``.

        algorithm = srmc.walk_jump_algorithm(target)              # sigma, M, h from the target's scale
        m = int(algorithm.params.num_measurements)
        result = srmc.sample(key, algorithm, target, num_steps=100 * m, num_chains=64, warmup=0,
                             options=srmc.RunOptions(thin=m))      # result.draws: one jump per walk

    One engine step is one stage (K inner steps on p(y_t | ȳ_{t-1}), then y_t is committed); M steps are one walk.
    The state stands for its last jump x̂ = E[X | y_{1:M}] (``Report.position``) and only a walk's last stage
    yields a draw (``Report.is_draw``), so ``result.estimates`` average over jumps only; with ``thin = M`` (and a
    burn-in that is a multiple of M) every stored draw is one walk's jump and ``draw_stats["walk_mean"]`` its ȳ_M.

    Args:
      target: a continuous `Target` or a log density with `dim`, used only for the defaults of sigma, M and h
        (its scale: `scale` or its ground truth); None: give noise_scale, num_measurements and step_size.
      noise_scale, num_measurements, step_size, num_inner_steps: sigma > 0, M >= 1, h > 0, K >= 1 (data:
        ``algorithm.params``, a `WalkJumpParams`); defaults in `walk_jump_setup`.
      inner: `MALA` (Metropolis-corrected; exact stages with a closed-form smoothing) or `ULA`.
      smoothing: a `Smoothing` for every target; None: each target's closed form, else importance sampling of
        its log density with `num_draws` draws and `score_form` (``"noise"`` or ``"gradient"``).
    """
    check_inner(inner)
    if smoothing is not None and not isinstance(smoothing, Smoothing):
        raise ValueError(f"smoothing must be a Smoothing record (exact_smoothing / importance_smoothing), got "
                         f"{smoothing!r}.")
    if smoothing is None:
        importance_smoothing(_flat, num_draws, score_form)  # checks num_draws and score_form now
    num_inner_steps = check_int(num_inner_steps, "num_inner_steps")
    if target is None:
        missing = [name for name, value in (("noise_scale", noise_scale), ("num_measurements", num_measurements),
                                            ("step_size", step_size)) if value is None]
        if missing:
            raise ValueError(f"walk_jump_algorithm without a target needs {', '.join(missing)}: pass them, or pass "
                             "the target (walk_jump_algorithm(target, ...)) for the defaults from its scale.")
        sigma = setup.positive_number(noise_scale, "noise_scale", "sigma is the measurement noise's standard "
                                      "deviation, e.g. pi's largest per-coordinate standard deviation.")
        m = check_int(num_measurements, "num_measurements")
        h = setup.positive_number(step_size, "step_size", "the inner kernel's step size, e.g. sigma^2 d^(-1/3).")
    else:
        resolved = setup.resolve_target(target, dim)
        sigma, m, h = setup.resolve_numbers(resolved, scale, noise_scale, num_measurements, step_size,
                                            inner.corrected)
    float_dtype = jnp.result_type(float)
    params = WalkJumpParams(jnp.asarray(sigma, float_dtype), jnp.asarray(m, jnp.int32),
                            jnp.asarray(h, float_dtype), jnp.asarray(num_inner_steps, jnp.int32))
    config = WalkJumpConfig(inner, smoothing, num_draws, score_form)
    report = Report(statistics=walk_statistics, counters=stage_counters, health=StaticPartial(stage_health, config),
                    position=jump_position, is_draw=is_walk_end)
    shown = (("noise_scale", sigma), ("num_measurements", m), ("step_size", h), ("num_inner_steps", num_inner_steps))
    return Algorithm(f"walk_jump[{inner.spec.name}]", StaticPartial(_init, config), StaticPartial(_step, config),
                     params, report=report, shown=shown)


def _flat(x: Array) -> Array:
    return jnp.zeros((), x.dtype)


__all__ = [
    "MALA", "ULA", "InnerKernel", "Smoothing", "WalkJump", "WalkJumpConfig", "WalkJumpInfo", "WalkJumpParams",
    "WalkJumpState", "as_algorithm", "build_kernel", "conditional_value_and_grad", "exact_smoothing",
    "importance_smoothing", "init", "stage_density", "walk_jump_algorithm",
]
