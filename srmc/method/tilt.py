"""The surrogate target pi_theta: score tilt and linear tilt, with exact, shifted or finite-difference gradients.

    score tilt:   log pi_theta(x) = log pi(x) - alpha <theta, s(x)>
    linear tilt:  log pi_theta(x) = log pi(x) + alpha <theta, phi(x)>     phi(x) = x (continuous, binary),
                                                                          one_hot(x)[:, 1:] (categorical)

For continuous targets the surrogate is a `jax.custom_jvp` function, so ``jax.value_and_grad`` of it (what every
gradient-based kernel calls) costs one pass of the chosen kind: exact (s - alpha H theta, forward-over-reverse),
shifted (s(x - alpha theta), a proposal drift only), finite-difference (s(x) - alpha (s(x + c theta) - s(x)) / c,
a forward difference of the Hessian-vector product with step c, as the SRMC paper's high-dimensional experiment)
or linear (s + alpha theta, free). The *value* is always exact, so Metropolis corrections target pi_theta exactly
whatever drift the proposal used; for unadjusted kernels (ULA) the chosen gradient is the dynamics.

For discrete targets the surrogate is the plain expression: Gibbs conditionals and Metropolis ratios evaluate it
at the candidate configurations (so they see how s changes under the move), and gradient-based discrete kernels
differentiate it through the targets' relaxation (`targets.discrete`) by ordinary autodiff.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from srmc.targets import Continuous, Target

Array = jax.Array

TILTS = ("score", "linear")
GRADIENTS = ("exact", "shifted", "finite_difference")
DEFAULT_FD_STEP = 1e-3  # the SRMC paper's c


def tilted_value(logpi: Array, score: Array | None, features: Array, theta: Array, alpha: Array, tilt: str) -> Array:
    """log pi_theta(x) from log pi(x), s(x) and phi(x) (``target.space.features``); log pi(x) where alpha == 0."""
    tilt_term = -jnp.vdot(theta, score) if tilt == "score" else jnp.vdot(theta, features)
    return jnp.where(alpha == 0, logpi, logpi + alpha * tilt_term)


def tilted_gradient(
    target: Target, x: Array, score: Array, theta: Array, alpha: Array, tilt: str, gradient: str,
    fd_step: float = DEFAULT_FD_STEP,
) -> Array:
    """The gradient a kernel should see for pi_theta at x, given s(x) (exact, shifted or finite-difference with
    step `fd_step`, see module doc)."""
    if tilt == "linear":
        return score + alpha * theta
    if gradient == "shifted":
        return jnp.where(alpha == 0, score, target.score(x - alpha * theta))
    if gradient == "finite_difference":
        return jnp.where(alpha == 0, score, score - alpha * (target.score(x + fd_step * theta) - score) / fd_step)
    _, hessian_theta = jax.jvp(target.score, (x,), (theta,))
    return jnp.where(alpha == 0, score, score - alpha * hessian_theta)


def surrogate_logdensity(
    target: Target, theta: Array, alpha: Array, tilt: str = "score", gradient: str = "exact",
    fd_step: float = DEFAULT_FD_STEP,
) -> Callable[[Array], Array]:
    """log pi_theta as a function of x whose autodiff gradient is the chosen one (exact, shifted, finite_difference)."""
    if not isinstance(target.space, Continuous):
        if gradient != "exact":
            raise ValueError(f"gradient={gradient!r} is for continuous targets; {target.name} is {target.kind}.")
        return lambda x: _discrete_surrogate(target, x, theta, alpha, tilt)
    surrogate = _surrogate_fn(target, tilt, gradient, fd_step)
    return lambda x: surrogate(x, theta, alpha)


def _discrete_surrogate(target: Target, x: Array, theta: Array, alpha: Array, tilt: str) -> Array:
    score = target.score(x) if tilt == "score" else None
    return tilted_value(target.logdensity(x), score, target.space.features(x), theta, alpha, tilt)


def _surrogate_fn(target: Target, tilt: str, gradient: str, fd_step: float) -> Callable[[Array, Array, Array], Array]:
    @jax.custom_jvp
    def surrogate(x: Array, theta: Array, alpha: Array) -> Array:
        if tilt == "linear":
            return tilted_value(target.logdensity(x), None, x, theta, alpha, tilt)
        logpi, score = target.value_and_score(x)
        return tilted_value(logpi, score, x, theta, alpha, tilt)

    @surrogate.defjvp
    def surrogate_jvp(primals, tangents):
        x, theta, alpha = primals
        x_dot, theta_dot, alpha_dot = tangents
        # (log pi, s) always come from the same computation as the base kernel's, so alpha = 0 is bit-exact
        logpi, score = target.value_and_score(x)
        grad_x = tilted_gradient(target, x, score, theta, alpha, tilt, gradient, fd_step)
        value = tilted_value(logpi, score, x, theta, alpha, tilt)
        tilt_direction = -score if tilt == "score" else x
        value_dot = (
            jnp.vdot(grad_x, x_dot)
            + alpha * jnp.vdot(tilt_direction, theta_dot)
            + jnp.vdot(theta, tilt_direction) * alpha_dot
        )
        return value, value_dot

    return surrogate
