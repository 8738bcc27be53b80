"""SRMC: run any base kernel on the history-dependent surrogate pi_theta_n and update theta online.

    X_{n+1} ~ K_{pi_theta_n}(X_n, .)
    theta_{n+1} = theta_n + gamma_{n+1} (s(X_{n+1}) - theta_n)

After every step the kernel's cached log density and gradient (the cache fields its record declares, see
`srmc.samplers.spec.CacheFields`) are refreshed exactly for the new theta and alpha, reusing s(X_{n+1}) from the
history update.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import schedules
from srmc.method.algorithm import Algorithm
from srmc.method.kernels import (
    check_params,
    check_step_jitter,
    init_params,
    jittered,
    resolve_kernel,
    state_cache,
    target_params,
)
from srmc.method.tilt import DEFAULT_FD_STEP, GRADIENTS, TILTS, surrogate_logdensity, tilted_gradient, tilted_value
from srmc.samplers.spec import CacheFields
from srmc.targets import Continuous, Target

Array = jax.Array


class SRMCState(NamedTuple):
    """Inner kernel state (cache valid for the current surrogate), history theta and steps taken."""

    inner: Any
    theta: Array
    count: Array


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
    tilt: str = "score",
    gradient: str = "exact",
    gamma: float | schedules.Schedule | None = None,
    fd_step: float = DEFAULT_FD_STEP,
    step_jitter: float | None = None,
    **params: Any,
) -> Algorithm:
    """Wrap a BlackJAX-shaped kernel (``init``, ``build_kernel``) in Score-Repellent Monte Carlo.

    Args:
      base: kernel module or object, e.g. ``samplers.mala`` or ``blackjax.mala`` (see `srmc.interop`).
      alpha: repellence strength, a number >= 0 or a schedule ``count -> alpha_n``. ``alpha=0`` reproduces
        the base chain bit for bit.
      tilt: ``"score"`` (log pi - alpha <theta, s>) or ``"linear"`` (log pi + alpha <theta, x>).
      gradient: for the score tilt, ``"exact"`` (Hessian-vector product), ``"shifted"`` (s(x - alpha theta)) or
        ``"finite_difference"`` (s(x) - alpha (s(x + c theta) - s(x)) / c, c = `fd_step`); used only inside
        proposals: Metropolis tests always use the exact surrogate density.
      gamma: history step size, a number > 0 or a schedule; default ``1 / (n + 1 + 2 alpha)``
        (see `schedules.default_gamma` for why, and when to choose another).
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
    if not (isinstance(fd_step, (int, float)) and not isinstance(fd_step, bool) and 0 < fd_step < float("inf")):
        raise ValueError(f"fd_step must be a positive finite number, got {fd_step!r}.")
    alpha_schedule = schedules.as_schedule(alpha, "alpha")
    default_gamma = schedules.default_gamma(alpha_schedule) if gamma is None else gamma
    gamma_schedule = schedules.as_schedule(default_gamma, "gamma", positive=True)
    spec = resolve_kernel(base)
    check_params(spec, params)
    step_jitter = check_step_jitter(spec, step_jitter)
    kernel = spec.build_kernel()

    # A constant alpha = 0 makes the surrogate pi itself: the kernel then sees the target's own log density
    # and its cache never goes stale, so the chain is the base kernel's bit for bit.
    alpha_is_zero = not callable(alpha) and float(alpha) == 0.0

    def surrogate(target: Target, theta: Array, alpha_value: Array):
        if alpha_is_zero:
            return target.logdensity
        return surrogate_logdensity(target, theta, alpha_value, tilt, gradient, fd_step)

    def init(position: Array, target: Target) -> SRMCState:
        filled = target_params(spec, params, target)  # fails early on a kernel that does not fit the target
        score_shape = jax.eval_shape(target.score, position)
        theta = jnp.zeros(score_shape.shape, jnp.result_type(score_shape.dtype, float))
        inner = spec.init(position, surrogate(target, theta, alpha_schedule(1)), **init_params(spec, filled))
        state_cache(spec, inner)  # fails early on a state that lacks its declared cache
        return SRMCState(inner, theta, jnp.zeros((), jnp.int32))

    def step(rng_key: Array, state: SRMCState, target: Target, overrides: dict | None = None
             ) -> tuple[SRMCState, SRMCInfo]:
        alpha_now = jnp.asarray(alpha_schedule(state.count + 1))  # step n = count + 1 uses alpha_n
        kernel_params = target_params(spec, jittered(spec, {**params, **(overrides or {})}, rng_key, step_jitter),
                                      target)
        inner, inner_info = kernel(rng_key, state.inner, surrogate(target, state.theta, alpha_now), **kernel_params)
        cache = state_cache(spec, inner)
        reads_cache = alpha_is_zero or tilt == "linear"
        logpi, score = _base_value_and_score(inner, cache, target, state.theta, alpha_now, reads_cache)
        count = state.count + 1
        gamma_now = jnp.asarray(gamma_schedule(count))
        theta = state.theta + gamma_now * (score - state.theta)
        alpha_next = jnp.asarray(alpha_schedule(count + 1))
        if not alpha_is_zero:
            def refresh_gradient(position: Array) -> Array:
                """The kernel's own cached gradient of the new surrogate (discrete kernels: their relaxation's)."""
                fresh = spec.init(position, surrogate(target, theta, alpha_next), **init_params(spec, kernel_params))
                return getattr(fresh, cache.gradient)

            refresh = CacheRefresh(target, logpi, score, theta, alpha_next, tilt, gradient, fd_step)
            inner = _refresh_cache(inner, cache, refresh, refresh_gradient)
        info = SRMCInfo(inner_info.acceptance_rate, inner_info.is_accepted, inner_info.is_nonfinite, alpha_now,
                        gamma_now, inner_info)
        return SRMCState(inner, theta, count), info

    def check_run(total_steps: int) -> None:
        schedules.check_schedule(alpha_schedule, "alpha", total_steps + 1, start=1)
        schedules.check_schedule(gamma_schedule, "gamma", total_steps, positive=True, start=1)

    params_shown = dict(params, alpha=alpha, tilt=tilt, gradient=gradient)
    if gradient == "finite_difference":
        params_shown["fd_step"] = fd_step
    if step_jitter:
        params_shown["step_jitter"] = step_jitter
    return Algorithm(init, step, f"srmc[{spec.name}]", spec, params_shown, dict(params), step_jitter, check_run,
                     kernel_state=_inner_state,
                     with_kernel_state=_with_inner_state, statistics=_theta_norm)


def _inner_state(state: SRMCState) -> Any:
    return state.inner


def _with_inner_state(state: SRMCState, inner: Any) -> SRMCState:
    return state._replace(inner=inner)


def _theta_norm(state: SRMCState) -> dict[str, Array]:
    return {"theta_norm": jnp.linalg.norm(state.theta)}


class CacheRefresh(NamedTuple):
    """What refreshing a kernel's cache for the new surrogate needs: the target, log pi and s at the new
    position, the new theta and alpha, and the tilt and gradient kind."""

    target: Target
    logpi: Array
    score: Array
    theta: Array
    alpha: Array
    tilt: str
    gradient: str
    fd_step: float


def _base_value_and_score(
    inner: Any, cache: CacheFields, target: Target, theta: Array, alpha: Array, reads_cache: bool
) -> tuple[Array, Array]:
    """(log pi, s) at the new position; read off the kernel's cache for free where that is exact.

    It is for the linear tilt (cache = log pi + alpha <theta, x> and s + alpha theta) and for alpha = 0
    (cache = log pi and s), provided the score is the gradient of the log density on a continuous space.
    """
    cached = cache.logdensity is not None and cache.gradient is not None
    if reads_cache and cached and isinstance(target.space, Continuous) and target.score_is_gradient:
        position, value, grad = inner.position, getattr(inner, cache.logdensity), getattr(inner, cache.gradient)
        logpi = jnp.where(alpha == 0, value, value - alpha * jnp.vdot(theta, position))
        return logpi, grad - alpha * theta
    return target.value_and_score(inner.position)


def _refresh_cache(inner: Any, cache: CacheFields, refresh: CacheRefresh, refresh_gradient: Any) -> Any:
    """Make the cached log density (and gradient) those of the surrogate for the new theta and alpha.

    The value reuses log pi and s at the new position; a continuous gradient is the tilt's (see `tilt`), a
    discrete kernel's relaxed gradient comes from its own ``init`` on the new surrogate (`refresh_gradient`).
    """
    target, position = refresh.target, inner.position
    updates = {}
    if cache.logdensity is not None:
        updates[cache.logdensity] = tilted_value(refresh.logpi, refresh.score, target.space.features(position),
                                                 refresh.theta, refresh.alpha, refresh.tilt)
    if cache.gradient is not None:
        if isinstance(target.space, Continuous):
            updates[cache.gradient] = tilted_gradient(target, position, refresh.score, refresh.theta, refresh.alpha,
                                                      refresh.tilt, refresh.gradient, refresh.fd_step)
        else:
            updates[cache.gradient] = refresh_gradient(position)
    return inner._replace(**updates)
