"""SRMC: run any base kernel on the history-dependent surrogate pi_theta_n and update theta online.

    X_{n+1} ~ K_{pi_theta_n}(X_n, .)
    theta_{n+1} = theta_n + gamma_{n+1} (s(X_{n+1}) - theta_n)

After every step the kernel's cached log density and gradient (the cache fields its record declares, see
`srmc.samplers.spec.CacheFields`) are refreshed exactly for the new theta and alpha, reusing s(X_{n+1}) from the
history update. A kernel whose record declares ``split_density`` gets the surrogate as a `Density`
(`tilt.surrogate_density`) and hands back log pi and s at the point it moved to (its cache's ``aux``), so the
history costs no evaluation; any other kernel gets a plain callable, and log pi and s are read off its cache
where that is exact (feature tilts) or computed again.

The guard (on by default, `srmc.method.guard`) backs alpha off on a chain whose surrogate goes wrong.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import prediction, schedules
from srmc.method.algorithm import Algorithm
from srmc.method.guard import GuardState, guard_update, initial_guard
from srmc.method.kernels import (
    check_params,
    check_step_jitter,
    init_params,
    jittered,
    resolve_kernel,
    state_cache,
    target_params,
    unset_adapted_params,
)
from srmc.method.tilt import (
    DEFAULT_FD_STEP,
    FEATURE_TILTS,
    GRADIENTS,
    REFERENCED_TILTS,
    TILTS,
    BaseValues,
    TiltReference,
    bounded_reference,
    effective_theta,
    history_shape,
    history_statistic,
    kernel_surrogate,
    tilt_features,
    tilted_gradient,
    tilted_value,
    whitening_factor,
    whitens,
    with_whitening,
)
from srmc.samplers.spec import CacheFields, KernelSpec
from srmc.targets import Continuous, Target

Array = jax.Array

class TiltDefaults(NamedTuple):
    """What ``srmc.wrap`` uses when an option is left at "auto": the alpha ramp C (alpha_n = n / (C + n / alpha)
    for a number alpha; 0: constant), the trust region kappa (None: none) and whether the warm-up's prediction may
    lower alpha (`srmc.method.prediction`), per tilt."""

    alpha_ramp: int
    trust_region: float | None
    alpha_search: bool


# score and linear: the SRMC paper's tilts, run as it states them. bounded: the safe default, with the settings
# that passed the efficacy table (benchmarks/efficacy.py; README "Is SRMC safe on my target?"); second_order the
# same settings (its own alpha prediction, `prediction.predicted_relative_variance_second_order`).
TILT_DEFAULTS = {"score": TiltDefaults(0, None, False), "linear": TiltDefaults(0, None, False),
                 "bounded": TiltDefaults(100, 0.5, True), "second_order": TiltDefaults(100, 0.5, True)}


class ScheduleNumbers(NamedTuple):
    """The numbers of the alpha and gamma schedules (`schedules.NumberSchedule`), carried in the state so that
    algorithms differing only in them share one compiled program."""

    alpha: Array
    gamma: Array


class SRMCState(NamedTuple):
    """Inner kernel state (cache valid for the current surrogate), history theta, steps taken, the tilt's
    reference (location, scale and acceptance of pi), the guard and the schedules' numbers."""

    inner: Any
    theta: Array
    count: Array
    reference: TiltReference
    guard: GuardState
    numbers: ScheduleNumbers


def default_reference(spec: KernelSpec, like: Array) -> TiltReference:
    """Location 0, scale 1 (of the shape and dtype of `like`, a score) and the kernel's declared target acceptance
    (0 without one: no acceptance guard)."""
    acceptance = spec.tuning.target_acceptance if spec.tuning is not None else 0.0
    return TiltReference(jnp.zeros_like(like), jnp.ones_like(like), jnp.asarray(acceptance, like.dtype),
                         jnp.ones((), like.dtype))


def srmc_state(inner: Any, theta: Array, reference: TiltReference, numbers: tuple | ScheduleNumbers) -> SRMCState:
    """An SRMC state at step 0 around the kernel state `inner`, history `theta`, a fresh guard and the schedules'
    `numbers` (alpha's, gamma's: take them from ``algorithm.init(position, target).numbers``)."""
    numbers = ScheduleNumbers(*(jnp.asarray(number, jnp.result_type(float)) for number in numbers))
    return SRMCState(inner, theta, jnp.zeros((), jnp.int32), reference, initial_guard(reference), numbers)


def reference_from_warmup(stats: Any, given: TiltReference, alpha_factor: Array, keep: bool) -> TiltReference:
    """The tilt's reference after a warm-up: its mean and `tilt.BOUNDED_WIDTH` sd (unless `keep`: then the location
    and scale `given`, as for discrete targets, whose features need none), the warm-up's acceptance and alpha's
    share `alpha_factor`; where `given` carries a whitening, the Cholesky factor of the warm-up's covariance (the
    diagonal of sd's where it recorded none, or its covariance is not positive definite)."""
    like = given.location
    acceptance, alpha_factor = jnp.asarray(stats.acceptance, like.dtype), jnp.asarray(alpha_factor, like.dtype)
    if keep:
        return given._replace(acceptance=acceptance, alpha_factor=alpha_factor)
    location, scale = bounded_reference(jnp.asarray(stats.mean, like.dtype), jnp.asarray(stats.variance, like.dtype))
    location, scale = location.reshape(like.shape), scale.reshape(like.shape)
    reference = TiltReference(location, scale, acceptance, alpha_factor)
    if given.whitening is None:
        return reference
    return with_whitening(reference, whitening_factor(stats.covariance, scale))


def predicted_alpha_factor(stats: Any, alpha: Array) -> Array:
    """alpha's share from the warm-up's predicted variance curve (`prediction.alpha_factor`); 1 without one."""
    if getattr(stats, "predicted_variance", None) is None:
        return jnp.ones((), jnp.result_type(float))
    return prediction.alpha_factor(prediction.ALPHA_GRID, stats.predicted_variance, alpha)


class SRMCInfo(NamedTuple):
    """Per-step diagnostics: the inner kernel's, plus the alpha and gamma used."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    alpha: Array
    gamma: Array
    inner: Any


def wrap(
    base: Any,
    *,
    alpha: float | schedules.Schedule = 1.0,
    tilt: str = "bounded",
    gradient: str = "exact",
    gamma: float | schedules.Schedule | None = None,
    alpha_ramp: int | str = "auto",
    trust_region: float | str | None = "auto",
    alpha_search: bool | str = "auto",
    guard: bool = True,
    tilt_reference: tuple | None = None,
    fd_step: float = DEFAULT_FD_STEP,
    step_jitter: float | None = None,
    **params: Any,
) -> Algorithm:
    """Wrap a BlackJAX-shaped kernel (``init``, ``build_kernel``) in Score-Repellent Monte Carlo.

    ``srmc.wrap(kernel, alpha=a, **params)`` with nothing else named is the safe default: the bounded tilt,
    alpha ramped as n / (100 + n / a), a trust region of 0.5, the guard on, and (in `srmc.sample`) a 1000-step
    warm-up that adapts the kernel, measures pi's location and scale for the tilt and predicts what alpha buys
    (a smaller alpha, or 0, where a is predicted not to pay: ``alpha_search``).

    Args:
      base: kernel module or object, e.g. ``samplers.mala`` or ``blackjax.mala`` (see `srmc.interop`).
      alpha: repellence strength, a number >= 0 or a schedule ``n -> alpha_n``. ``alpha=0`` reproduces the base
        chain bit for bit. A number > 0 (or a `srmc.schedules` schedule) is carried in the chain's state, so
        ``algorithm.with_numbers(alpha=a)`` runs another alpha on the same compiled program (as ``srmc bench``).
      tilt: ``"bounded"`` (log pi + alpha <theta, c tanh((x - m) / c)>: proper for every theta; the default),
        ``"score"`` (the SRMC paper's: log pi - alpha <theta, s>), ``"linear"`` (log pi + alpha <theta, x>) or
        ``"second_order"`` (continuous only: log pi + alpha <theta, (tanh z, tanh(z)^2 / 2)> with z = L^-1 (x - m)
        whitened by the warm-up's Cholesky factor L of pi's covariance, theta the running mean of (L^T s,
        1 + z L^T s): it also removes the part of f linear in z_i S_i, e.g. of second moments). See
        `srmc.method.tilt` for each one's stability argument and cost.
      gradient: for the score tilt, ``"exact"`` (Hessian-vector product), ``"shifted"`` (s(x - alpha theta)) or
        ``"finite_difference"`` (s(x) - alpha (s(x + c theta) - s(x)) / c, c = `fd_step`); used only inside
        proposals: Metropolis tests always use the exact surrogate density.
      gamma: history step size, a number > 0 or a schedule; default ``1 / (n + 1 + 2 alpha)``
        (see `schedules.default_gamma` for why, and when to choose another).
      alpha_ramp: C > 0 turns a number alpha into ``schedules.rational(alpha, C)``; 0 keeps it constant; "auto":
        the tilt's default (`TILT_DEFAULTS`: 100 for bounded and second_order, 0 for the paper's score and linear
        tilts).
      trust_region: kappa > 0 clips theta inside the surrogate to +-kappa / (alpha c_i) (`tilt.effective_theta`);
        None: no clipping; "auto": the tilt's default (0.5 for bounded and second_order, None for score and linear).
      alpha_search: let the warm-up's prediction lower alpha (bounded and second-order tilts): from the base
        chains' batch means of x and s (second_order: also x s^T, up to
        `prediction.MAX_SECOND_ORDER_PREDICTION_DIM` coordinates) it predicts SRMC's variance of the mean of x at
        every alpha of a grid and runs with a smaller alpha, or 0 (the base kernel), where that is predicted to
        beat the given alpha's by 5% (`srmc.method.prediction`); the share is in ``result.counters["alpha_factor"]``
        and the health report. "auto": on for both; False: alpha as given.
      guard: watch every chain and halve its alpha when its acceptance collapses or its proposals turn non-finite
        (see the module doc); False: never.
      tilt_reference: ``(location, scale)`` arrays for the bounded (or second-order) tilt's m and c instead of the
        warm-up's.
      fd_step: the finite-difference step c (units of length^2: it multiplies a score to give a displacement).
      step_jitter: multiply the base kernel's step size by U(1 - j, 1 + j) at every step; None: the kernel's
        declared default (0.3 for HMC-type kernels, whose fixed trajectories otherwise resonate with the history's
        feedback and run away; 0 otherwise). `srmc.base` takes the same, so base and SRMC compare like for like.
      **params: the base kernel's parameters, e.g. ``step_size=0.1``.

    Indexing (the SRMC paper's): step n = 1, 2, ... draws X_n from the surrogate with (alpha_n, theta_{n-1}),
    then sets theta_n = theta_{n-1} + gamma_n (s(X_n) - theta_{n-1}); both schedules are evaluated at n.
    """
    if tilt not in TILTS:
        raise ValueError(f"tilt must be one of {TILTS}, got {tilt!r}.")
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}.")
    if gradient != "exact" and tilt != "score":
        raise ValueError(f"gradient={gradient!r} is an approximation of the score tilt's Hessian-vector product; "
                         f"the {tilt} tilt's gradient is exact and free: leave gradient='exact'.")
    if not (isinstance(fd_step, (int, float)) and not isinstance(fd_step, bool) and 0 < fd_step < float("inf")):
        raise ValueError(f"fd_step must be a positive finite number, got {fd_step!r}.")
    if not isinstance(guard, bool):
        raise TypeError(f"guard must be True or False, got {guard!r}.")
    defaults = TILT_DEFAULTS[tilt]
    alpha_ramp = defaults.alpha_ramp if alpha_ramp == "auto" else alpha_ramp
    trust_region = defaults.trust_region if trust_region == "auto" else trust_region
    alpha_search = defaults.alpha_search if alpha_search == "auto" else alpha_search
    if not isinstance(alpha_search, bool):
        raise TypeError(f"alpha_search must be True, False or 'auto', got {alpha_search!r}.")
    if alpha_search and tilt not in REFERENCED_TILTS:
        raise ValueError(f"alpha_search predicts the bounded and second-order tilts' variance; the {tilt} tilt runs "
                         f"alpha as given: pass alpha_search=False (or leave it at 'auto') with tilt={tilt!r}.")
    _check_ramp_and_trust_region(alpha_ramp, trust_region)
    if trust_region is not None and tilt not in FEATURE_TILTS:
        raise ValueError(f"trust_region bounds the tilt term of the feature tilts {FEATURE_TILTS}; the score tilt's "
                         f"term has no scale to bound it by: pass trust_region=None with tilt='score'.")
    given_reference = _check_tilt_reference(tilt_reference)
    if alpha_ramp and not callable(alpha) and float(alpha) > 0:
        alpha = schedules.rational(float(alpha), float(alpha_ramp))
    alpha_schedule = schedules.as_schedule(alpha, "alpha")
    gamma_schedule = _gamma_schedule(gamma, alpha_schedule)
    alpha_family, _ = schedules.number_family(alpha_schedule)
    gamma_family, _ = schedules.number_family(gamma_schedule)
    spec = resolve_kernel(base)
    check_params(spec, params)
    step_jitter = check_step_jitter(spec, step_jitter)
    kernel = spec.build_kernel()

    # A constant alpha = 0 makes the surrogate pi itself: the kernel then sees the target's own log density
    # and its cache never goes stale, so the chain is the base kernel's bit for bit.
    alpha_is_zero = not callable(alpha) and float(alpha) == 0.0
    guarded = guard and not alpha_is_zero
    reads_aux = spec.split_density and not alpha_is_zero  # the kernel hands back log pi and s (`BaseValues`)

    def surrogate(target: Target, theta: Array, alpha_value: Array, reference: TiltReference):
        if alpha_is_zero:
            return target.logdensity
        theta = effective_theta(theta, alpha_value, reference, trust_region, tilt)
        return kernel_surrogate(spec, target, theta, alpha_value, tilt, gradient, fd_step, reference)

    def init_with(alpha_schedule: schedules.Schedule, gamma_schedule: schedules.Schedule) -> Any:
        numbers = (schedules.number_family(alpha_schedule)[1], schedules.number_family(gamma_schedule)[1])

        def init(position: Array, target: Target) -> SRMCState:
            filled = target_params(spec, params, target)  # fails early on a kernel that does not fit the target
            score_shape = jax.eval_shape(target.score, position)
            dtype = jnp.result_type(score_shape.dtype, float)
            theta = jnp.zeros(history_shape(tilt, score_shape.shape), dtype)
            reference = default_reference(spec, jnp.zeros(score_shape.shape, dtype))
            if given_reference is not None:
                reference = reference._replace(**{name: jnp.broadcast_to(jnp.asarray(v, dtype), score_shape.shape)
                                                  for name, v in zip(("location", "scale"), given_reference)})
            if whitens(tilt, math.prod(score_shape.shape)):  # diag(c) until a warm-up measures pi's covariance
                reference = with_whitening(reference, jnp.diag(reference.scale.reshape(-1)))
            inner = spec.init(position, surrogate(target, theta, alpha_schedule(1), reference),
                              **init_params(spec, filled))
            state_cache(spec, inner)  # fails early on a state that lacks its declared cache
            return srmc_state(inner, theta, reference, numbers)

        return init

    def step(rng_key: Array, state: SRMCState, target: Target, overrides: dict | None = None
             ) -> tuple[SRMCState, SRMCInfo]:
        reference, backoff = state.reference, state.guard.backoff

        def alpha_schedule(count: Array) -> Array:  # the schedule's shape, with the number the state carries
            return alpha_family(count, state.numbers.alpha)

        def gamma_schedule(count: Array) -> Array:
            return gamma_family(count, state.numbers.gamma)

        share = backoff * reference.alpha_factor  # the guard's back-off times the warm-up's prediction
        alpha_now = share * jnp.asarray(alpha_schedule(state.count + 1))  # step n = count + 1 uses alpha_n
        kernel_params = target_params(spec, jittered(spec, {**params, **(overrides or {})}, rng_key, step_jitter),
                                      target)
        inner, inner_info = kernel(rng_key, state.inner, surrogate(target, state.theta, alpha_now, reference),
                                   **kernel_params)
        cache = state_cache(spec, inner)
        if reads_aux:
            logpi, score = _aux_value_and_score(getattr(inner, cache.aux), inner.position, target)
        else:
            reads_cache = alpha_is_zero or tilt in FEATURE_TILTS
            tilt_now = TiltNow(alpha_now, effective_theta(state.theta, alpha_now, reference, trust_region, tilt),
                               reference)
            logpi, score = _base_value_and_score(inner, cache, target, tilt_now, tilt, reads_cache)
        count = state.count + 1
        gamma_now = jnp.asarray(gamma_schedule(count))
        theta = state.theta + gamma_now * (history_statistic(tilt, inner.position, score, reference) - state.theta)
        guard_state = guard_update(state.guard, inner_info, reference, jnp.asarray(guarded) & (alpha_now > 0))
        theta = jnp.where(guard_state.events > state.guard.events, jnp.zeros_like(theta), theta)  # a guard event
        alpha_next = guard_state.backoff * reference.alpha_factor * jnp.asarray(alpha_schedule(count + 1))
        if not alpha_is_zero:
            theta_seen = effective_theta(theta, alpha_next, reference, trust_region, tilt)

            def refresh_gradient(position: Array) -> Array:
                """The kernel's own cached gradient of the new surrogate (discrete kernels: their relaxation's)."""
                fresh = spec.init(position, surrogate(target, theta, alpha_next, reference),
                                  **init_params(spec, kernel_params))
                return getattr(fresh, cache.gradient)

            refresh = CacheRefresh(target, logpi, score, theta_seen, alpha_next, tilt, gradient, fd_step, reference)
            inner = _refresh_cache(inner, cache, refresh, refresh_gradient)
        info = SRMCInfo(inner_info.acceptance_rate, inner_info.is_accepted, inner_info.is_nonfinite, alpha_now,
                        gamma_now, inner_info)
        return SRMCState(inner, theta, count, reference, guard_state, state.numbers), info

    def with_reference(state: SRMCState, stats: Any, target: Target) -> SRMCState:
        keep = given_reference is not None or not isinstance(target.space, Continuous)
        factor = predicted_alpha_factor(stats, state.numbers.alpha) if alpha_search else 1.0
        reference = reference_from_warmup(stats, state.reference, factor, keep)
        inner = state.inner
        if reads_aux:  # the warm-up ran the kernel on pi's plain callable, which left the aux as it was
            density = surrogate(target, state.theta, alpha_schedule(state.count + 1), reference)
            inner = inner._replace(**{spec.cache.aux: density.value(inner.position)[1]})
        return state._replace(inner=inner, reference=reference, guard=initial_guard(reference))

    params_shown = dict(params, alpha=alpha, tilt=tilt, gradient=gradient)
    if trust_region is not None:
        params_shown["trust_region"] = trust_region
    if alpha_search != defaults.alpha_search:
        params_shown["alpha_search"] = alpha_search
    if not guard:
        params_shown["guard"] = False
    if gradient == "finite_difference":
        params_shown["fd_step"] = fd_step
    if step_jitter:
        params_shown["step_jitter"] = step_jitter
    dense_reference = tilt == "second_order" and given_reference is None and not alpha_is_zero
    needs_reference = tilt in REFERENCED_TILTS and given_reference is None and not alpha_is_zero
    sweeps_alpha = isinstance(alpha_schedule, schedules.NumberSchedule) and not alpha_is_zero

    def renumber(algorithm: Algorithm, numbers: dict) -> Algorithm:
        """The algorithm with alpha's number replaced (gamma's follows when it is the default); same program."""
        new_alpha = _check_renumber(numbers, sweeps_alpha)
        new_schedule = alpha_schedule.with_number(new_alpha)
        new_gamma = _gamma_schedule(gamma, new_schedule)
        shown = dict(algorithm.params, alpha=new_schedule if callable(algorithm.params["alpha"]) else new_alpha)
        return dataclasses.replace(algorithm, init=init_with(new_schedule, new_gamma), params=shown,
                                   check_run=functools.partial(_check_schedules, new_schedule, new_gamma),
                                   numbers={"alpha": new_alpha})

    numbers = {"alpha": float(alpha_schedule.number)} if sweeps_alpha else {}
    return Algorithm(init_with(alpha_schedule, gamma_schedule), step, f"srmc[{spec.name}]", spec, params_shown,
                     dict(params), step_jitter, functools.partial(_check_schedules, alpha_schedule, gamma_schedule),
                     kernel_state=_inner_state, with_kernel_state=_with_inner_state, statistics=_theta_norm,
                     with_reference=with_reference, needs_reference=needs_reference,
                     dense_reference=dense_reference, counters=_guard_counters,
                     predicts_alpha=alpha_search and not alpha_is_zero, prediction_tilt=tilt,
                     unset_params=unset_adapted_params(spec, params), numbers=numbers,
                     renumber=renumber if sweeps_alpha else None)


def _gamma_schedule(gamma: Any, alpha_schedule: schedules.Schedule) -> schedules.Schedule:
    """The history step size: as given, or the default for `alpha_schedule` (`schedules.default_gamma`)."""
    given = schedules.default_gamma(alpha_schedule) if gamma is None else gamma
    return schedules.as_schedule(given, "gamma", positive=True)


def _check_schedules(alpha_schedule: schedules.Schedule, gamma_schedule: schedules.Schedule, total_steps: int
                     ) -> None:
    schedules.check_schedule(alpha_schedule, "alpha", total_steps + 1, start=1)
    schedules.check_schedule(gamma_schedule, "gamma", total_steps, positive=True, start=1)


def _check_renumber(numbers: dict, sweeps_alpha: bool) -> float:
    """The new alpha of `Algorithm.with_numbers`, checked: only alpha, a number > 0 (alpha = 0 is the base chain,
    its own program: ``srmc.wrap(kernel, alpha=0)``)."""
    if set(numbers) != {"alpha"}:
        raise TypeError(f"with_numbers takes alpha=... only, got {sorted(numbers)}.")
    alpha = numbers["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < float("inf"):
        raise ValueError(f"with_numbers: alpha must be a finite number > 0 (alpha=0 is the base kernel's own "
                         f"program: srmc.wrap(kernel, alpha=0, ...)), got {alpha!r}.")
    return float(alpha)


def _check_ramp_and_trust_region(alpha_ramp: Any, trust_region: Any) -> None:
    if isinstance(alpha_ramp, bool) or not isinstance(alpha_ramp, (int, float)) or not 0 <= alpha_ramp < float("inf"):
        raise ValueError(f"alpha_ramp must be a number >= 0 (0: constant alpha) or 'auto', got {alpha_ramp!r}.")
    if trust_region is not None and (isinstance(trust_region, bool) or not isinstance(trust_region, (int, float))
                                     or not 0 < trust_region < float("inf")):
        raise ValueError(f"trust_region must be a positive number, None (no trust region) or 'auto', "
                         f"got {trust_region!r}.")


def _check_tilt_reference(tilt_reference: Any) -> tuple | None:
    if tilt_reference is None:
        return None
    if not isinstance(tilt_reference, (tuple, list)) or len(tilt_reference) != 2:
        raise ValueError("tilt_reference must be a pair (location, scale) of arrays of the target's shape.")
    location, scale = (jnp.asarray(v) for v in tilt_reference)
    if not bool(jnp.all(jnp.isfinite(location))) or not bool(jnp.all(jnp.isfinite(scale) & (scale > 0))):
        raise ValueError("tilt_reference: location must be finite and scale finite and > 0.")
    return location, scale


def _guard_counters(state: SRMCState) -> dict[str, Array]:
    return {"guard_events": state.guard.events, "alpha_backoff": state.guard.backoff,
            "alpha_factor": state.reference.alpha_factor}


def _inner_state(state: SRMCState) -> Any:
    return state.inner


def _with_inner_state(state: SRMCState, inner: Any) -> SRMCState:
    return state._replace(inner=inner)


def _theta_norm(state: SRMCState) -> dict[str, Array]:
    return {"theta_norm": jnp.linalg.norm(state.theta)}


class TiltNow(NamedTuple):
    """The surrogate a step's proposal saw: alpha_n (after any back-off), theta after any trust region, reference."""

    alpha: Array
    theta: Array
    reference: TiltReference


class CacheRefresh(NamedTuple):
    """What refreshing a kernel's cache for the new surrogate needs: the target, log pi and s at the new
    position, the theta the new surrogate sees and alpha, the tilt and gradient kind, and the tilt's reference."""

    target: Target
    logpi: Array
    score: Array
    theta: Array
    alpha: Array
    tilt: str
    gradient: str
    fd_step: float
    reference: TiltReference


def _aux_value_and_score(aux: BaseValues, position: Array, target: Target) -> tuple[Array, Array]:
    """(log pi, s) at the new position from the kernel's aux (the score computed where the aux lacks it)."""
    return aux.logdensity, target.score(position) if aux.score is None else aux.score


def _base_value_and_score(inner: Any, cache: CacheFields, target: Target, now: TiltNow, tilt: str,
                          reads_cache: bool) -> tuple[Array, Array]:
    """(log pi, s) at the new position; read off the kernel's cache for free where that is exact.

    It is for the feature tilts (cache = log pi + alpha <theta, phi(x)> and s + alpha J_phi theta) and for
    alpha = 0 (cache = log pi and s), provided the score is the gradient of the log density on a continuous space.
    """
    cached = cache.logdensity is not None and cache.gradient is not None
    if reads_cache and cached and isinstance(target.space, Continuous) and target.score_is_gradient:
        position, value, grad = inner.position, getattr(inner, cache.logdensity), getattr(inner, cache.gradient)
        if tilt not in FEATURE_TILTS:  # alpha = 0: the cache is pi's own
            return value, grad
        features = tilt_features(target, position, tilt, now.reference)
        tilt_gradient = tilted_gradient(target, position, jnp.zeros_like(grad), now.theta, now.alpha, tilt, "exact",
                                        reference=now.reference)
        logpi = jnp.where(now.alpha == 0, value, value - now.alpha * jnp.vdot(now.theta, features))
        return logpi, grad - tilt_gradient
    return target.value_and_score(inner.position)


def _refresh_cache(inner: Any, cache: CacheFields, refresh: CacheRefresh, refresh_gradient: Any) -> Any:
    """Make the cached log density (and gradient) those of the surrogate for the new theta and alpha.

    The value reuses log pi and s at the new position; a continuous gradient is the tilt's (see `tilt`), a
    discrete kernel's relaxed gradient comes from its own ``init`` on the new surrogate (`refresh_gradient`).
    """
    target, position = refresh.target, inner.position
    updates = {}
    if cache.logdensity is not None:
        features = tilt_features(target, position, refresh.tilt, refresh.reference)
        updates[cache.logdensity] = tilted_value(refresh.logpi, refresh.score, features, refresh.theta, refresh.alpha,
                                                 refresh.tilt)
    if cache.gradient is not None:
        if isinstance(target.space, Continuous):
            updates[cache.gradient] = tilted_gradient(target, position, refresh.score, refresh.theta, refresh.alpha,
                                                      refresh.tilt, refresh.gradient, refresh.fd_step,
                                                      refresh.reference)
        else:
            updates[cache.gradient] = refresh_gradient(position)
    return inner._replace(**updates)
