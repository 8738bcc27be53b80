"""Score-Repellent Monte Carlo: any base kernel run on the history-dependent surrogate pi_theta_n.

    X_{n+1} ~ K_{pi_theta_n}(X_n, .),      log pi_theta = log pi + alpha_n <theta, phi(x)>     (`srmc.method.tilt`)
    theta_{n+1} = theta_n + gamma_{n+1} (g(X_{n+1}) - theta_n)                              g: the tilt's statistic

Three layers, as BlackJAX's ``mcmc/mala.py``: `init` (the base kernel's state on the surrogate at theta = 0, a
fresh guard), `build_kernel` (one step: the base kernel on pi_theta_n, the history update, the guard, and the
kernel's cached log density and gradient refreshed exactly for theta_{n+1}), and `wrap`, the top-level API.
Hyperparameters are data (`SRMCParams`: alpha's and gamma's schedule numbers, the trust region, the tilt's
reference, the guard's yardstick, alpha's share from the warm-up's prediction, the base kernel's step size and
mass); the choices (kernel, tilt, schedule shapes, guard) form the hashable `SRMCConfig`.

Indexing (the SRMC paper's): step n = 1, 2, ... draws X_n from the surrogate with (alpha_n, theta_{n-1}), then
sets theta_n = theta_{n-1} + gamma_n (g(X_n) - theta_{n-1}). alpha_n = share x schedule(n), share = the guard's
back-off x the prediction's factor. The default history step is gamma_n = 1 / (n + 1 + 2 alpha_max), alpha_max
alpha's long-run value: an average over the whole history whose first updates contract while
gamma_n (1 + g alpha) < 2.

The guard (`srmc.method.guard`) halves a chain's alpha and restarts its history (theta = 0) when its acceptance
collapses or its proposals turn non-finite. After every step the kernel's cache (the fields its record declares)
is refreshed for the new theta from log pi and s at the new point: read from a split-density kernel's aux, from a
feature tilt's cache (exact: the cache is log pi + alpha <theta, phi> and s + alpha J_phi theta), or recomputed.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import schedules, srmc_report, srmc_warmup
from srmc.method.algorithm import Adaptation, Algorithm, BaseKernel, StaticPartial, Unset
from srmc.method.base import kernel_arguments, step_arguments
from srmc.method.guard import GuardState, guard_update, initial_guard
from srmc.method.kernels import (
    check_params,
    check_step_jitter,
    init_params,
    resolve_kernel,
    split_kernel_params,
    state_cache,
)
from srmc.method.surrogate import check_surrogate, kernel_surrogate
from srmc.method.tilt import DEFAULT_FD_STEP, Tilt, TiltReference, resolve_tilt, whitens, with_whitening
from srmc.samplers.spec import CacheFields
from srmc.targets import Continuous, Target

Array = jax.Array

NEUTRAL_REFERENCE = TiltReference(0.0, 1.0)  # location 0, scale 1: where a tilt needs no measured reference


class SRMCConfig(NamedTuple):
    """SRMC's choices (hashable: compiled programs are keyed on them).

    base: the base kernel (`BaseKernel`); tilt: the surrogate family (`srmc.method.tilt.Tilt`); alpha, gamma:
    the schedules' shapes (gamma None: the default 1 / (n + 1 + 2 alpha_max)); guard: watch and back off;
    trust_region: clip theta inside the surrogate by ``params.trust_region``; alpha_search: let the warm-up's
    prediction lower alpha; measured_reference: the tilt's reference comes from the warm-up (not given);
    alpha_is_zero: alpha is the constant 0 (the base chain, bit for bit).
    """

    base: BaseKernel
    tilt: Tilt
    alpha: Callable
    gamma: Callable | None
    guard: bool
    trust_region: bool
    alpha_search: bool
    measured_reference: bool
    alpha_is_zero: bool


class SRMCParams(NamedTuple):
    """SRMC's hyperparameters, data handed to every step.

    kernel: the base kernel's data parameters; alpha, gamma: the numbers of alpha's and gamma's schedules;
    trust_region: kappa; reference: the tilt's `TiltReference` (`Unset` until a warm-up measures it); acceptance:
    the base kernel's acceptance on pi, the guard's yardstick; alpha_factor: alpha's share chosen from the
    warm-up's prediction (1: as given).
    """

    kernel: dict
    alpha: dict
    gamma: dict
    trust_region: Any
    reference: TiltReference | Unset
    acceptance: Any
    alpha_factor: Any


class SRMCState(NamedTuple):
    """The base kernel's state (its cache valid for the current surrogate), the history theta, steps taken and the
    guard."""

    inner: Any
    theta: Array
    count: Array
    guard: GuardState


class SRMCInfo(NamedTuple):
    """Per-step diagnostics: the base kernel's, plus the alpha and gamma used."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    alpha: Array
    gamma: Array
    inner: Any


def alpha_at(config: SRMCConfig, params: SRMCParams, count: Array) -> Array:
    """alpha's schedule at step `count` (before the guard's back-off and the prediction's factor)."""
    return jnp.asarray(config.alpha(count, **params.alpha))


def gamma_at(config: SRMCConfig, params: SRMCParams, count: Array) -> Array:
    """The history step size at step `count`: gamma's schedule, or the default one for alpha's
    (`schedules.default_gamma`)."""
    if config.gamma is not None:
        return jnp.asarray(config.gamma(count, **params.gamma))
    alpha_max = config.alpha(schedules.LIMIT_STEP, **params.alpha)
    return jnp.asarray(schedules.Polynomial(1.0, 1.0)(count, schedules.default_gamma_offset(alpha_max)))


def reference_for(config: SRMCConfig, params: SRMCParams, target: Target) -> TiltReference:
    """The reference a step uses: the measured or given one; the neutral one where the tilt needs none on this
    target (discrete features need no location or scale); an error naming the fix where it is missing."""
    if not isinstance(params.reference, Unset):
        return _in_kernel_metric(config, params, params.reference)
    if isinstance(target.space, Continuous):
        raise ValueError(f"srmc[{config.base.spec.name}] with tilt={config.tilt.name!r} centres and scales its tilt on "
                         f"pi's mean and standard deviation, which the warm-up measures: {params.reference.fix}.")
    return NEUTRAL_REFERENCE


def _in_kernel_metric(config: SRMCConfig, params: SRMCParams, reference: TiltReference) -> TiltReference:
    """The reference without its whitening where the tilt follows the kernel's dense mass
    (`Tilt.follows_dense_mass`) but the kernel steps with a diagonal one, a vector: ``Warmup(mass="auto")`` chose
    a diagonal (the run hands the kernel its diagonal, `srmc.engine.runner`); the tilt is then per coordinate of
    x, scaled by the measured sds. Static: the mass's rank is known when a step is traced."""
    mass = None if reference.whitening is None else srmc_warmup.followed_mass(config, params.kernel)
    if mass is None or jnp.ndim(mass) == 2:
        return reference
    return reference._replace(whitening=None, whitening_inverse=None)


def surrogate(config: SRMCConfig, target: Target, theta: Array, alpha: Array, params: SRMCParams,
              reference: TiltReference) -> Any:
    """pi_theta as the base kernel takes it (the target's own log density for alpha = 0)."""
    if config.alpha_is_zero:
        return target.logdensity
    trust_region = params.trust_region if config.trust_region else None
    theta = config.tilt.effective_theta(theta, alpha, reference, trust_region)
    return kernel_surrogate(config.base.spec, target, theta, alpha, config.tilt, reference=reference)


def init(config: SRMCConfig, position: Array, target: Target, params: SRMCParams) -> SRMCState:
    """SRMC's state at `position`: theta = 0, the base kernel's state on the surrogate at step 1, a fresh guard."""
    spec = config.base.spec
    arguments = kernel_arguments(config.base, params.kernel, target)  # fails early on a kernel that does not fit
    check_surrogate(target, config.tilt, NEUTRAL_REFERENCE)  # the tilt fits the target's space
    score_shape = jax.eval_shape(target.score, position)
    dtype = jnp.result_type(score_shape.dtype, float)
    theta = jnp.zeros(config.tilt.history_shape(score_shape.shape), dtype)
    reference = NEUTRAL_REFERENCE if isinstance(params.reference, Unset) else params.reference  # theta = 0: unused
    density = surrogate(config, target, theta, alpha_at(config, params, 1), params, reference)
    inner = spec.init(position, density, **init_params(spec, arguments))
    state_cache(spec, inner)  # fails early on a state that lacks its declared cache
    return SRMCState(inner, theta, jnp.zeros((), jnp.int32), initial_guard(jnp.asarray(params.acceptance, dtype)))


def step(config: SRMCConfig, rng_key: Array, state: SRMCState, target: Target, params: SRMCParams
         ) -> tuple[SRMCState, SRMCInfo]:
    """One SRMC step (module doc): the base kernel on pi_theta_n, the history and guard updates, the cache
    refreshed for theta_{n+1}."""
    spec, tilt = config.base.spec, config.tilt
    reference = reference_for(config, params, target)
    share = state.guard.backoff * params.alpha_factor  # the guard's back-off times the warm-up's prediction
    alpha_now = share * alpha_at(config, params, state.count + 1)  # step n = count + 1 uses alpha_n
    arguments = step_arguments(config.base, params.kernel, target, rng_key)
    inner, inner_info = spec.build_kernel()(rng_key, state.inner,
                                            surrogate(config, target, state.theta, alpha_now, params, reference),
                                            **arguments)
    cache = state_cache(spec, inner)
    logpi, score = _base_value_and_score(config, inner, cache, target, state.theta, alpha_now, params, reference)
    count = state.count + 1
    gamma_now = gamma_at(config, params, count)
    theta = state.theta + gamma_now * (tilt.statistic(inner.position, score, reference) - state.theta)
    guard = guard_update(state.guard, inner_info, params.acceptance, jnp.asarray(config.guard) & (alpha_now > 0))
    theta = jnp.where(guard.events > state.guard.events, jnp.zeros_like(theta), theta)  # a guard event
    alpha_next = guard.backoff * params.alpha_factor * alpha_at(config, params, count + 1)
    if not config.alpha_is_zero:
        inner = _refresh_cache(config, inner, cache, target, (logpi, score), theta, alpha_next, params, reference,
                               arguments)
    info = SRMCInfo(inner_info.acceptance_rate, inner_info.is_accepted, inner_info.is_nonfinite, alpha_now, gamma_now,
                    inner_info)
    return SRMCState(inner, theta, count, guard), info


def build_kernel(config: SRMCConfig) -> StaticPartial:
    """``kernel(rng_key, state, target, params) -> (state, info)``: one SRMC step (`step`)."""
    return StaticPartial(step, config)


def _base_value_and_score(config: SRMCConfig, inner: Any, cache: CacheFields, target: Target, theta: Array,
                          alpha: Array, params: SRMCParams, reference: TiltReference) -> tuple[Array, Array]:
    """(log pi, s) at the new position: from a split-density kernel's aux, read off the cache where that is exact
    (a feature tilt, or alpha = 0, with the score the gradient of log pi on R^d), else computed."""
    if config.base.spec.split_density and not config.alpha_is_zero:
        aux = getattr(inner, cache.aux)
        return aux.logdensity, target.score(inner.position) if aux.score is None else aux.score
    cached = cache.logdensity is not None and cache.gradient is not None
    reads_cache = config.alpha_is_zero or config.tilt.features is not None
    if not (reads_cache and cached and isinstance(target.space, Continuous) and target.score_is_gradient):
        return target.value_and_score(inner.position)
    position, value, grad = inner.position, getattr(inner, cache.logdensity), getattr(inner, cache.gradient)
    if config.alpha_is_zero:  # the cache is pi's own
        return value, grad
    theta = config.tilt.effective_theta(theta, alpha, reference, params.trust_region if config.trust_region else None)
    features = config.tilt.features(target, position, reference)
    tilt_gradient = config.tilt.gradient(target, position, jnp.zeros_like(grad), theta, alpha, reference)
    logpi = jnp.where(alpha == 0, value, value - alpha * jnp.vdot(theta, features))
    return logpi, grad - tilt_gradient


def _refresh_cache(config: SRMCConfig, inner: Any, cache: CacheFields, target: Target, values: tuple[Array, Array],
                   theta: Array, alpha: Array, params: SRMCParams, reference: TiltReference, arguments: dict) -> Any:
    """The kernel's cached log density (and gradient) made those of the surrogate for the new theta and alpha,
    from log pi and s at its position (`values`); a discrete kernel's relaxed gradient comes from its own
    ``init`` on the new surrogate."""
    tilt, position = config.tilt, inner.position
    logpi, score = values
    theta_seen = tilt.effective_theta(theta, alpha, reference, params.trust_region if config.trust_region else None)
    updates = {}
    if cache.logdensity is not None:
        updates[cache.logdensity] = tilt.value(logpi, tilt.term(target, position, score, reference), theta_seen, alpha)
    if cache.gradient is not None:
        if isinstance(target.space, Continuous):
            updates[cache.gradient] = tilt.gradient(target, position, score, theta_seen, alpha, reference)
        else:
            density = surrogate(config, target, theta, alpha, params, reference)
            fresh = config.base.spec.init(position, density, **init_params(config.base.spec, arguments))
            updates[cache.gradient] = getattr(fresh, cache.gradient)
    return inner._replace(**updates)


def restart(config: SRMCConfig, state: SRMCState, target: Target, params: SRMCParams) -> SRMCState:
    """One chain's state after a warm-up on pi (its base kernel state already the warmed-up one): the aux of a
    split-density kernel recomputed (the warm-up ran it on pi's plain callable, which keeps the aux as it was) and
    a fresh guard at the warm-up's acceptance."""
    inner = state.inner
    if config.base.spec.split_density and not config.alpha_is_zero:
        reference = reference_for(config, params, target)
        density = surrogate(config, target, state.theta, alpha_at(config, params, state.count + 1), params, reference)
        inner = inner._replace(**{config.base.spec.cache.aux: density.value(inner.position)[1]})
    dtype = jnp.result_type(state.theta)
    return state._replace(inner=inner, guard=initial_guard(jnp.asarray(params.acceptance, dtype)))


def inner_state(state: SRMCState) -> Any:
    """The base kernel's state inside an SRMC state."""
    return state.inner


def with_inner_state(state: SRMCState, inner: Any) -> SRMCState:
    """An SRMC state with the base kernel's state replaced."""
    return state._replace(inner=inner)


def wrap(
    base: Any,
    *,
    alpha: float | Callable = 1.0,
    tilt: str | Tilt = "bounded",
    gradient: str = "exact",
    gamma: float | Callable | None = None,
    alpha_ramp: float | str = "auto",
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
    alpha ramped as n / (100 + n / a), a trust region of 0.5, the guard on, and (in `srmc.sample`) a warm-up
    that adapts the kernel, measures pi's location and scale for the tilt and predicts what alpha buys (a smaller
    alpha, or 0, where a is predicted not to pay).

    Args:
      base: kernel module or object, e.g. ``samplers.mala`` or ``blackjax.mala`` (see `srmc.interop`).
      alpha: repellence strength, a number >= 0 or a schedule ``n -> alpha_n`` (`srmc.schedules`); its numbers are
        data (``algorithm.params.alpha``): another alpha reuses the compiled program. ``alpha=0`` is the base
        chain bit for bit.
      tilt: a `srmc.method.tilt.Tilt` or its name: ``"bounded"`` (default), ``"score"``, ``"linear"``,
        ``"second_order"`` (see `srmc.method.tilt`).
      gradient: the score tilt's gradient in proposals: ``"exact"``, ``"shifted"`` or ``"finite_difference"``
        (step `fd_step`); Metropolis tests always use the exact surrogate density.
      gamma: history step size, a number > 0 or a schedule; default 1 / (n + 1 + 2 alpha_max).
      alpha_ramp: C > 0 turns a number alpha into ``schedules.rational(alpha, C)``; 0 keeps it constant; "auto":
        the tilt's default (`Tilt.defaults`).
      trust_region: kappa > 0 clips theta inside the surrogate so that no entry's tilt term exceeds kappa; None:
        none; "auto": the tilt's default.
      alpha_search: let the warm-up's prediction lower alpha where it is predicted not to pay (tilts with a
        prediction); "auto": on for them.
      guard: watch every chain and halve its alpha when its acceptance collapses or its proposals turn
        non-finite; False: never.
      tilt_reference: ``(location, scale)`` arrays for the tilt's m and c instead of the warm-up's.
      step_jitter: multiply the base kernel's step size by U(1 - j, 1 + j) at every step; None: the kernel's
        declared default (0.3 for HMC-type kernels, 0 otherwise), as `srmc.base`.
      **params: the base kernel's parameters, e.g. ``step_size=0.1``.
    """
    tilt = resolve_tilt(tilt, gradient, fd_step)
    options = srmc_warmup.resolve_options(tilt, alpha, alpha_ramp, trust_region, alpha_search, guard)
    alpha_schedule = options.alpha_schedule
    gamma_schedule = None if gamma is None else schedules.as_schedule(gamma, "gamma", positive=True)
    spec = resolve_kernel(base)
    check_params(spec, params)
    data, static = split_kernel_params(spec, params)
    base_kernel = BaseKernel(spec, static, check_step_jitter(spec, step_jitter), inner_state, with_inner_state)
    alpha_is_zero = not callable(alpha) and float(alpha) == 0.0
    given = srmc_warmup.check_tilt_reference(tilt_reference)
    gamma_shape = None if gamma_schedule is None else gamma_schedule.shape
    config = SRMCConfig(base_kernel, tilt, alpha_schedule.shape, gamma_shape, guard and not alpha_is_zero,
                        options.trust_region is not None, options.alpha_search,
                        tilt.needs_reference and given is None and not alpha_is_zero, alpha_is_zero)
    reference = _initial_reference(config, given)
    dtype = jnp.result_type(float)
    numbers = {name: jnp.asarray(value, dtype) for name, value in alpha_schedule.numbers.items()}
    gamma_numbers = {} if gamma_schedule is None else {name: jnp.asarray(value, dtype)
                                                       for name, value in gamma_schedule.numbers.items()}
    acceptance = spec.tuning.target_acceptance if spec.tuning is not None else 0.0
    srmc_params = SRMCParams(data, numbers, gamma_numbers, options.trust_region or 0.0, reference,
                             jnp.asarray(acceptance, dtype), jnp.ones((), dtype))
    shown = _shown(params, alpha, tilt, options, base_kernel.step_jitter)
    return Algorithm(f"srmc[{spec.name}]", StaticPartial(init, config), build_kernel(config), srmc_params,
                     base_kernel, Adaptation(StaticPartial(srmc_warmup.needs, config),
                                             StaticPartial(srmc_warmup.finish, config), StaticPartial(restart, config)),
                     srmc_report.report(config), shown)


def _initial_reference(config: SRMCConfig, given: tuple | None) -> TiltReference | Unset:
    """The tilt's reference before any warm-up: as given (whitened by diag(scale) where the tilt whitens), `Unset`
    where the warm-up measures it, else the neutral one."""
    if given is not None:
        location, scale = given
        reference = TiltReference(location, scale)
        if whitens(config.tilt, math.prod(scale.shape)):  # diag(c) for lack of pi's covariance
            reference = with_whitening(reference, jnp.diag(scale.reshape(-1)))
        return reference
    if config.measured_reference:
        return Unset("tilt_reference", "leave srmc.sample's warm-up at its default or pass warmup=N > 0; or give "
                     "srmc.wrap tilt_reference=(location, scale); or choose tilt='linear' or 'score'")
    return NEUTRAL_REFERENCE


def _shown(params: dict, alpha: Any, tilt: Tilt, options: Any, step_jitter: float) -> tuple:
    """What ``repr`` shows: the kernel's parameters, alpha, the tilt and the options that differ from its default."""
    shown = dict(params, alpha=alpha, tilt=tilt.name)
    if tilt.gradient_name != "exact":
        shown["gradient"] = tilt.gradient_name
    if options.trust_region is not None:
        shown["trust_region"] = options.trust_region
    if options.alpha_search != tilt.defaults.alpha_search:
        shown["alpha_search"] = options.alpha_search
    if not options.guard:
        shown["guard"] = False
    if step_jitter:
        shown["step_jitter"] = step_jitter
    return tuple(shown.items())
