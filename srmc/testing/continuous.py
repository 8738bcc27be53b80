"""Invariance checks on continuous targets: exact draws -> k steps -> a two-sample test against fresh draws."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from srmc.method.guard import initial_guard
from srmc.method.srmc import SRMCState, wrap
from srmc.method.surrogate import kernel_surrogate, surrogate_logdensity
from srmc.method.tilt import LINEAR, resolve_tilt
from srmc.targets import Target
from srmc.targets.gaussian import gaussian
from srmc.testing.running import (
    CheckResult,
    LogDensity,
    default_key,
    inverse_mass_of,
    kernel_functions,
    run_kernel,
    stationary_momentum,
)

Array = jax.Array


def two_sample_test(samples: Array, reference: Array, false_alarm_rate: float = 1e-3) -> CheckResult:
    """Kolmogorov–Smirnov two-sample tests of every coordinate and of |x - m|^2 (m: pooled mean), Bonferroni.

    The squared distance catches a wrong spread that every marginal alone would resolve less well. The
    p-value is the smallest one times the number of statistics (capped at 1).
    """
    samples, reference = np.asarray(samples, np.float64), np.asarray(reference, np.float64)
    if not np.all(np.isfinite(samples)):
        return CheckResult(float("inf"), 0.0, false_alarm_rate, False, "non-finite end points")
    centre = np.concatenate([samples, reference]).mean(axis=0)
    columns = [(samples[:, i], reference[:, i], f"x[{i}]") for i in range(samples.shape[1])]
    columns.append((((samples - centre) ** 2).sum(1), ((reference - centre) ** 2).sum(1), "|x - m|^2"))
    tests = [(stats.ks_2samp(a, b), label) for a, b, label in columns]
    worst, label = min(tests, key=lambda item: item[0].pvalue)
    p_value = min(1.0, float(worst.pvalue) * len(columns))
    return CheckResult(float(worst.statistic), p_value, false_alarm_rate, p_value > false_alarm_rate,
                       f"KS, worst statistic {label}, {len(columns)} tests, {samples.shape[0]} vs {reference.shape[0]}")


def check_continuous_invariance(
    kernel: Any,
    params: dict,
    target: Target,
    *,
    num_chains: int = 4000,
    num_steps: int = 5,
    rng_key: Array | None = None,
    false_alarm_rate: float = 1e-3,
    init_state_fn: Callable | None = None,
    sample: Callable[[Array, int], Array] | None = None,
) -> CheckResult:
    """Start `num_chains` chains from exact draws, take `num_steps` steps, and compare with fresh exact draws.

    `sample(key, n)` (default ``target.sample``) draws exactly from the distribution the kernel should leave
    invariant. A correct kernel fails with probability at most `false_alarm_rate` (see `two_sample_test`).
    """
    sample = sample or target.sample
    if sample is None:
        raise ValueError(f"target {target.name!r} has no exact sampler; pass sample=... or use another target.")
    start_key, run_key, reference_key = jax.random.split(default_key(rng_key), 3)
    starts = sample(start_key, num_chains)
    ends = run_kernel(kernel, params, target, starts, num_steps, run_key, init_state_fn=init_state_fn)
    return two_sample_test(ends, sample(reference_key, num_chains), false_alarm_rate)


def tilted_gaussian(target: Target, theta: Array, alpha: float, tilt: str = "score", gradient: str = "exact") -> Target:
    """SRMC's surrogate pi_theta of a Gaussian target for a frozen theta, with an exact sampler.

    For pi = N(mu, Sigma) the score tilt gives N(mu + alpha theta, Sigma), the linear tilt N(mu + alpha Sigma
    theta, Sigma). The log density is srmc's own `surrogate_logdensity` (with the chosen gradient mode), so a
    check on it checks the surrogate as well as the kernel. `target` must come from `targets.gaussian`.
    """
    if target.gaussian is None:
        raise ValueError(f"target {target.name!r} is not a Gaussian (it has no exact Gaussian form, target.gaussian).")
    resolved = resolve_tilt(tilt, gradient)
    if resolved.features is not None and resolved != LINEAR:
        raise ValueError(f"tilted_gaussian is exact for the score and linear tilts, got tilt={resolved.name!r}.")
    mean, cov = np.asarray(target.gaussian.mean), np.asarray(target.gaussian.cov)
    theta = np.asarray(theta, np.float64)
    shift = alpha * theta if resolved.features is None else alpha * cov @ theta  # -s(x) or x: mean moves by these
    exact = gaussian(f"tilted[{target.name}]", mean + shift, cov, {})
    dtype = jax.eval_shape(target.score, jnp.zeros(target.dim)).dtype
    surrogate = surrogate_logdensity(target, jnp.asarray(theta, dtype), alpha, tilt, gradient)
    return dataclasses.replace(exact, logdensity=surrogate, score=jax.grad(surrogate),
                               params=dict(exact.params, theta=theta, alpha=alpha, tilt=tilt, gradient=gradient))


def no_history_step(count: Array) -> Array:
    """A history step size of 0 at every step: theta stays frozen."""
    return jnp.zeros((), jnp.result_type(float))


def frozen_state(inner: Any, theta: Array, acceptance: Array) -> SRMCState:
    """An SRMC state at step 0 around the kernel state `inner` with history `theta` and a fresh guard."""
    return SRMCState(inner, theta, jnp.zeros((), jnp.int32), initial_guard(jnp.asarray(acceptance, theta.dtype)))


def check_srmc_frozen_theta(
    kernel: Any, params: dict, target: Target, theta: Array, alpha: float, *, tilt: str = "score",
    gradient: str = "exact", **check_kwargs: Any,
) -> CheckResult:
    """SRMC around `kernel` with theta frozen (gamma = 0) must leave the tilted Gaussian invariant.

    Runs ``srmc.wrap(kernel, alpha, tilt, gradient, gamma=0)`` on the Gaussian `target` from an SRMC state at
    `theta` and compares with exact draws of `tilted_gaussian`: this covers the wrapper's surrogate and its cache
    refresh between steps, not only the base kernel. Keyword arguments go to `check_continuous_invariance`.
    """
    exact = tilted_gaussian(target, theta, alpha, tilt, gradient)
    algorithm = wrap(kernel, alpha=alpha, tilt=tilt, gradient=gradient, gamma=no_history_step, guard=False,
                     **params)
    functions = kernel_functions(kernel, target)
    theta = jnp.asarray(theta, jnp.result_type(float))
    surrogate = kernel_surrogate(algorithm.kernel.spec, target, theta, alpha, tilt, gradient)
    inverse_mass = inverse_mass_of(functions, kernel, params)

    def init_state(rng_key: Array, position: Array, _logdensity_fn: LogDensity) -> SRMCState:
        inner = stationary_momentum(functions, functions.init(position, surrogate), rng_key, inverse_mass)
        return frozen_state(inner, theta, algorithm.params.acceptance)

    return check_continuous_invariance(algorithm, {}, target, sample=exact.sample, init_state_fn=init_state,
                                       **check_kwargs)
