"""The surrogate pi_theta as a base kernel takes it: a plain log density with the tilt's gradient, or split.

For continuous targets the surrogate is a `jax.custom_jvp` function, so ``jax.value_and_grad`` of it (what every
gradient-based kernel calls) costs one pass of the tilt's gradient (`srmc.method.tilt.Tilt.gradient`: exact,
shifted, finite-difference, or a feature tilt's free one). The *value* is always exact, so Metropolis corrections
target pi_theta exactly whatever drift the proposal used; for unadjusted kernels (ULA) the gradient is the
dynamics.

Kernels that take a `Density` (their record's ``split_density``) get the surrogate split instead
(`surrogate_density`): a gradient-only point computes the gradient alone (shifted: one score pass), a point that
needs the value computes (log pi, s) once and hands them back as its aux (`BaseValues`), which SRMC's history and
cache refresh reuse.

For discrete targets the surrogate is the plain expression: Gibbs conditionals and Metropolis ratios evaluate it
at the candidate configurations, and gradient-based discrete kernels differentiate it through the targets'
relaxation (`targets.discrete`) by ordinary autodiff.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method.tilt import DEFAULT_FD_STEP, Tilt, TiltReference, resolve_tilt
from srmc.samplers.spec import Density, KernelSpec
from srmc.targets import Continuous, Target

Array = jax.Array


class BaseValues(NamedTuple):
    """A `Density`'s aux: log pi and the score at the evaluated point (score None where computing it is not free:
    the feature tilts on a discrete target, whose value needs no score)."""

    logdensity: Array
    score: Array | None


def check_surrogate(target: Target, tilt: Tilt, reference: TiltReference | None) -> None:
    """A ValueError naming the fix where `tilt` cannot tilt `target` (its state space; a missing reference)."""
    if target.space.kind not in tilt.spaces:
        gradient = "" if tilt.gradient_name == "exact" else f" with gradient={tilt.gradient_name!r}"
        what = f"tilt={tilt.name!r}{gradient}"
        raise ValueError(f"{what} is for {' and '.join(tilt.spaces)} targets; {target.name} is {target.kind}: use "
                         "tilt='bounded'.")
    if tilt.needs_reference and isinstance(target.space, Continuous) and reference is None:
        raise ValueError(f"the {tilt.name} tilt needs a TiltReference (location and scale of pi): run a warm-up.")


def surrogate_logdensity(target: Target, theta: Array, alpha: Array, tilt: Tilt | str = "score",
                         gradient: str = "exact", fd_step: float = DEFAULT_FD_STEP,
                         reference: TiltReference | None = None) -> Callable[[Array], Array]:
    """log pi_theta as a function of x whose autodiff gradient is the tilt's.

    `theta` is the one the surrogate uses (after any trust region); `reference` is needed by the tilts that say
    so (``tilt.needs_reference``) on a continuous target. A tilt given by name takes `gradient` and `fd_step`
    (`srmc.method.tilt.resolve_tilt`).
    """
    tilt = resolve_tilt(tilt, gradient, fd_step)
    check_surrogate(target, tilt, reference)
    if not isinstance(target.space, Continuous):
        return lambda x: _discrete_value(target, x, theta, alpha, tilt)[0]
    surrogate = _surrogate_fn(target, tilt)
    return lambda x: surrogate(x, theta, alpha, reference)


def surrogate_density(target: Target, theta: Array, alpha: Array, tilt: Tilt | str = "score", gradient: str = "exact",
                      fd_step: float = DEFAULT_FD_STEP, reference: TiltReference | None = None) -> Density:
    """log pi_theta split by what a point needs (`srmc.samplers.spec.Density`), each value with `BaseValues` at
    the point; the same surrogate as `surrogate_logdensity` (arguments as there)."""
    tilt = resolve_tilt(tilt, gradient, fd_step)
    check_surrogate(target, tilt, reference)
    if not isinstance(target.space, Continuous):
        return _discrete_density(target, theta, alpha, tilt)

    def value(x: Array) -> tuple[Array, BaseValues]:
        logpi, score = target.value_and_score(x)
        return tilt.value(logpi, tilt.term(target, x, score, reference), theta, alpha), BaseValues(logpi, score)

    def value_and_grad(x: Array) -> tuple[Array, Array, BaseValues]:
        surrogate_value, base = value(x)
        return surrogate_value, tilt.gradient(target, x, base.score, theta, alpha, reference), base

    def grad(x: Array) -> Array:
        return tilt.grad_alone(target, x, theta, alpha, reference)

    return Density(value, value_and_grad, grad)


def kernel_surrogate(spec: KernelSpec, target: Target, theta: Array, alpha: Array, tilt: Tilt | str = "score",
                     gradient: str = "exact", fd_step: float = DEFAULT_FD_STEP,
                     reference: TiltReference | None = None) -> Density | Callable[[Array], Array]:
    """The surrogate as the kernel of `spec` takes it: a `Density` where it declares ``split_density``
    (`surrogate_density`), else the plain callable (`surrogate_logdensity`)."""
    make = surrogate_density if spec.split_density else surrogate_logdensity
    return make(target, theta, alpha, tilt, gradient, fd_step, reference)


def _discrete_density(target: Target, theta: Array, alpha: Array, tilt: Tilt) -> Density:
    """The discrete surrogate with its aux (`BaseValues`); gradients through the targets' relaxation."""

    def value(x: Array) -> tuple[Array, BaseValues]:
        return _discrete_value(target, x, theta, alpha, tilt)

    def value_and_grad(x: Array) -> tuple[Array, Array, BaseValues]:
        (surrogate_value, base), grad = jax.value_and_grad(value, has_aux=True)(x)
        return surrogate_value, grad, base

    return Density(value, value_and_grad, jax.grad(lambda x: value(x)[0]))


def _discrete_value(target: Target, x: Array, theta: Array, alpha: Array, tilt: Tilt) -> tuple[Array, BaseValues]:
    logpi = target.logdensity(x)
    score = target.score(x) if tilt.features is None else None
    return tilt.value(logpi, tilt.term(target, x, score, None), theta, alpha), BaseValues(logpi, score)


def _surrogate_fn(target: Target, tilt: Tilt) -> Callable[..., Array]:
    @jax.custom_jvp
    def surrogate(x: Array, theta: Array, alpha: Array, reference: TiltReference | None) -> Array:
        if tilt.features is not None:
            return tilt.value(target.logdensity(x), tilt.features(target, x, reference), theta, alpha)
        logpi, score = target.value_and_score(x)
        return tilt.value(logpi, -score, theta, alpha)

    @surrogate.defjvp
    def surrogate_jvp(primals, tangents):
        x, theta, alpha, reference = primals
        x_dot, theta_dot, alpha_dot, _ = tangents  # the reference is a constant of the surrogate
        # (log pi, s) always come from the same computation as the base kernel's, so alpha = 0 is bit-exact
        logpi, score = target.value_and_score(x)
        grad_x = tilt.gradient(target, x, score, theta, alpha, reference)
        direction = tilt.term(target, x, score, reference)
        value = tilt.value(logpi, direction, theta, alpha)
        value_dot = (
            jnp.vdot(grad_x, x_dot)
            + alpha * jnp.vdot(direction, theta_dot)
            + jnp.vdot(theta, direction) * alpha_dot
        )
        return value, value_dot

    return surrogate
