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

Kernels that take a `Density` (their record's ``split_density``) get the surrogate split instead
(`surrogate_density`): a gradient-only point (an inner leapfrog step) computes the chosen gradient alone (shifted:
one score pass, s(x - alpha theta)), a point that needs the value computes (log pi, s) once for the value and
hands them back as its aux (`BaseValues`), which the wrapper's history and cache refresh reuse. Its values and
gradients are the custom-derivative function's, computed without `jax.custom_jvp`.

For discrete targets the surrogate is the plain expression: Gibbs conditionals and Metropolis ratios evaluate it
at the candidate configurations (so they see how s changes under the move), and gradient-based discrete kernels
differentiate it through the targets' relaxation (`targets.discrete`) by ordinary autodiff.

    bounded tilt: log pi_theta(x) = log pi(x) + alpha <theta, phi(x)>    phi(x) = c tanh((x - m) / c) (continuous),
                                                                         as the linear tilt's (discrete: bounded)

m and c (per coordinate) are the `TiltReference`: the warm-up's mean and k standard deviations (k = 1). Because
|phi_i| <= c_i, |log pi_theta - log pi| <= alpha sum_i |theta_i| c_i: the surrogate is proper for every theta,
whatever pi's tails (the linear tilt needs exponential moments of pi, the score tilt needs s to grow no faster than
log pi). Mean-field stability, by Stein's identity E_pi[s phi^T] = -E_pi[J_phi]: the history's ODE is
d theta / dt = -(I + alpha G) theta with G = diag(E_pi[sech^2((x_i - m_i) / c_i)]) in (0, 1], so theta = 0 is
stable for every alpha >= 0 and the gain per direction is 1 + alpha g_i (on a Gaussian with c = sd: g = 0.61;
the linear tilt: g = 1; the score tilt: the Fisher information's eigenvalues, which is why it runs away on stiff
targets). Cost: one tanh per coordinate; the kernel's cache gives log pi and s back for free.

    second-order tilt: log pi_theta(x) = log pi(x) + alpha <theta, phi(x)>, theta = (theta_1, theta_2) the running
                       mean of g(x) = (S, 1 + z * S), phi(x) = (tanh(z), tanh(z)^2 / 2), where z = L^-1 (x - m) and
                       S = L^T s(x) (continuous targets only; theta has shape (2, d))

L is the lower Cholesky factor of pi's covariance from the warm-up (`MAX_WHITENED_DIM`; above it, and with a
given ``tilt_reference``, L = diag(c)). Both halves of g have mean zero under pi (Stein's identity for the fields
L e_i and z_i L e_i, whose divergences are 0 and 1), for any m and L, so theta = 0 is still the history's fixed
point, and |phi| <= (1, 1/2) keeps the surrogate proper for every theta. What it buys: to first order SRMC corrects
the plain average by its history's features with a fixed coefficient (`srmc.method.prediction`); a score history
removes the part of f linear in s, this one also the part linear in z_i S_i (the banana's x_2 = b x_1^2 + noise:
ceiling 1.9x for a score history, 3.1x with these features, `benchmarks/ceiling.py`; a Gaussian's second moments,
which no score history touches). Why whiten: per-coordinate quadratic features sum to a quadratic tilt along every
direction, and along a wide direction of a correlated pi (equicorrelated rho = 0.9, d = 20: variance 18 against
the coordinates' 1) the history's noise then changes the surrogate's spread by its whole size; without L, HMC's
estimates of E[x_i^2] there were 15% low (12 SE over 64 chains); with L, as the base kernel's. Mean-field
stability: by Stein, E_pi[g_k phi_l] = -E_pi[f_k . grad phi_l], so d theta / dt = -(I + alpha M) theta with M
block diagonal, per whitened coordinate [[E w, E[w t]], [E[w z], E[w z t]]] (t = tanh z, w = 1 - t^2 > 0): its
trace is positive and its determinant E[w]^2 Cov_w(z, tanh z) >= 0 (z and tanh z both increase), so both
eigenvalues have positive real part and theta = 0 is stable for every alpha >= 0. Cost: no evaluation of pi beyond
the kernel's (log pi and s from its cache); two matrix-vector products with L^-1 per gradient and one with L per
step (O(d^2); O(d) without L; L^-1 is computed once, with L: triangular solves at every gradient made SRMC-HMC 7x
slower than the bounded tilt on a 20-d Gaussian); history 2 d numbers, the reference 2 d^2 more (per chain).

A trust region (``trust_region=kappa``) replaces theta inside the surrogate (not in the history) by
clip(theta_i, +-kappa / (alpha sup |phi_i|)), so that every entry's tilt term is at most kappa in absolute value
for the bounded and second-order tilts: a single wild score (a heavy tail, a chain in a funnel's neck) cannot make
the surrogate steep.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.samplers.spec import Density, KernelSpec
from srmc.targets import Continuous, Target

Array = jax.Array

TILTS = ("score", "linear", "bounded", "second_order")
FEATURE_TILTS = ("linear", "bounded", "second_order")  # log pi + alpha <theta, phi(x)>: the cache gives (log pi, s)
REFERENCED_TILTS = ("bounded", "second_order")  # need pi's location and scale (a `TiltReference`) on R^d
CONTINUOUS_TILTS = ("second_order",)  # defined on R^d only
MAX_WHITENED_DIM = 512  # above, the second-order tilt whitens by pi's sd only (its L would cost d^2 per chain)


def whitens(tilt: str, size: int) -> bool:
    """Whether `tilt` carries a dense whitening L for a position of `size` numbers (second_order, d <= 512)."""
    return tilt == "second_order" and size <= MAX_WHITENED_DIM


class TiltReference(NamedTuple):
    """Per-coordinate location and scale of pi (the warm-up's mean and k sd) and the acceptance the base kernel
    reached on pi (the guard's reference): the bounded tilt's centre m and width c, the trust region's scale; and
    the share of alpha the chain runs with (1, or less where the warm-up predicted alpha would not pay:
    `srmc.method.prediction`)."""

    location: Array
    scale: Array
    acceptance: Array
    alpha_factor: Array
    whitening: Array | None = None  # second_order: lower Cholesky factor L of pi's covariance; None: scale only
    whitening_inverse: Array | None = None  # L^-1 beside L (products instead of triangular solves at every gradient)


BOUNDED_WIDTH = 1.0  # the bounded tilt's c, in standard deviations of pi (the efficacy table's choice)


def bounded_reference(mean: Array, variance: Array) -> tuple[Array, Array]:
    """The bounded tilt's (m, c) from pi's mean and variance: m = mean, c = `BOUNDED_WIDTH` sd (1 where the
    variance is not a positive finite number)."""
    scale = BOUNDED_WIDTH * jnp.sqrt(jnp.asarray(variance))
    return jnp.asarray(mean), jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)


def tilt_features(target: Target, x: Array, tilt: str, reference: TiltReference | None) -> Array:
    """phi(x) of a feature tilt: x (linear), c tanh((x - m) / c) (bounded, continuous), the pair
    (tanh(z), tanh(z)^2 / 2) of the whitened z = L^-1 (x - m) stacked on a leading axis (second_order, see
    `whitened`); discrete: the space's features, which are bounded already."""
    if tilt == "second_order":
        squashed = jnp.tanh(whitened(x, reference))
        return jnp.stack([squashed, squashed**2 / 2])
    if tilt == "bounded" and isinstance(target.space, Continuous):
        return reference.scale * jnp.tanh((x - reference.location) / reference.scale)
    return target.space.features(x)


def with_whitening(reference: TiltReference, factor: Array) -> TiltReference:
    """`reference` whitened by the lower Cholesky factor `factor` of pi's covariance (L and L^-1 both kept)."""
    identity = jnp.eye(factor.shape[0], dtype=factor.dtype)
    inverse = jax.scipy.linalg.solve_triangular(factor, identity, lower=True)
    return reference._replace(whitening=factor, whitening_inverse=inverse)


def whitening_factor(covariance: Array | None, scale: Array) -> Array:
    """The lower Cholesky factor of `covariance`, or diag(scale) where there is none or it is not positive
    definite (a NaN factor)."""
    diagonal = jnp.diag(scale.reshape(-1))
    if covariance is None:
        return diagonal
    factor = jnp.linalg.cholesky(jnp.asarray(covariance, scale.dtype))
    return jnp.where(jnp.all(jnp.isfinite(factor)), factor, diagonal)


def whitened(x: Array, reference: TiltReference) -> Array:
    """z = L^-1 (x - m) with the reference's Cholesky factor L (x flattened for the product), or (x - m) / c
    without one."""
    centred = x - reference.location
    if reference.whitening is None:
        return centred / reference.scale
    return (reference.whitening_inverse @ centred.reshape(-1)).reshape(x.shape)


def _whitened_score(score: Array, reference: TiltReference) -> Array:
    """The score in the whitened coordinates: L^T s (c * s without L)."""
    if reference.whitening is None:
        return reference.scale * score
    return (reference.whitening.T @ score.reshape(-1)).reshape(score.shape)


def _gradient_from_whitened(gradient_z: Array, reference: TiltReference) -> Array:
    """d/dx of a function of z from its gradient in z: L^-T g (g / c without L)."""
    if reference.whitening is None:
        return gradient_z / reference.scale
    return (reference.whitening_inverse.T @ gradient_z.reshape(-1)).reshape(gradient_z.shape)


def history_statistic(tilt: str, x: Array, score: Array, reference: TiltReference) -> Array:
    """What theta averages at a draw x: s(x); second_order: the pair (S, 1 + z * S) stacked on a leading axis,
    z = `whitened` x and S = L^T s its score. Both have mean zero under pi (Stein's identity for the fields
    L e_i and z_i L e_i, whose divergences are 0 and 1), for any m and L, so theta = 0 is the history's fixed
    point."""
    if tilt == "second_order":
        score_z = _whitened_score(score, reference)
        return jnp.stack([score_z, 1.0 + whitened(x, reference) * score_z])
    return score


def history_shape(tilt: str, score_shape: tuple) -> tuple:
    """The shape of theta for a score of shape `score_shape`: the same; second_order: (2, *score_shape)."""
    return (2, *score_shape) if tilt == "second_order" else tuple(score_shape)


def feature_bound(tilt: str, reference: TiltReference) -> Array:
    """sup |phi| per entry of theta of a referenced tilt: c (bounded), (1, 1 / 2) (second_order)."""
    if tilt == "second_order":
        return jnp.stack([jnp.ones_like(reference.scale), jnp.full_like(reference.scale, 0.5)])
    return reference.scale


def effective_theta(theta: Array, alpha: Array, reference: TiltReference | None, trust_region: float | None,
                    tilt: str = "bounded") -> Array:
    """theta as the surrogate sees it: clipped to +-kappa / (alpha sup|phi|) per entry with a trust region kappa
    (`feature_bound`), else itself."""
    if trust_region is None or reference is None:
        return theta
    tiny = jnp.finfo(jnp.result_type(theta)).tiny
    bound = trust_region / (jnp.maximum(alpha, tiny) * feature_bound(tilt, reference))
    return jnp.clip(theta, -bound, bound)
GRADIENTS = ("exact", "shifted", "finite_difference")
DEFAULT_FD_STEP = 1e-3  # the SRMC paper's c


def tilted_value(logpi: Array, score: Array | None, features: Array, theta: Array, alpha: Array, tilt: str) -> Array:
    """log pi_theta(x) from log pi(x), s(x) and phi(x) (``target.space.features``); log pi(x) where alpha == 0."""
    tilt_term = -jnp.vdot(theta, score) if tilt == "score" else jnp.vdot(theta, features)  # feature tilts
    return jnp.where(alpha == 0, logpi, logpi + alpha * tilt_term)


def tilted_gradient(
    target: Target, x: Array, score: Array, theta: Array, alpha: Array, tilt: str, gradient: str,
    fd_step: float = DEFAULT_FD_STEP, reference: TiltReference | None = None,
) -> Array:
    """The gradient a kernel should see for pi_theta at x, given s(x) (exact, shifted or finite-difference with
    step `fd_step`, see module doc)."""
    if tilt == "linear":
        return score + alpha * theta
    if tilt == "bounded":
        return score + alpha * theta * bounded_slope(x, reference)
    if tilt == "second_order":
        squashed = jnp.tanh(whitened(x, reference))
        gradient_z = (1.0 - squashed**2) * (theta[0] + theta[1] * squashed)
        return score + alpha * _gradient_from_whitened(gradient_z, reference)
    if gradient == "shifted":
        return jnp.where(alpha == 0, score, target.score(x - alpha * theta))
    if gradient == "finite_difference":
        return jnp.where(alpha == 0, score, score - alpha * (target.score(x + fd_step * theta) - score) / fd_step)
    _, hessian_theta = jax.jvp(target.score, (x,), (theta,))
    return jnp.where(alpha == 0, score, score - alpha * hessian_theta)


def bounded_slope(x: Array, reference: TiltReference) -> Array:
    """d phi_i / d x_i of the bounded tilt: sech^2((x - m) / c) = 1 - tanh^2, in (0, 1]."""
    return 1.0 - jnp.tanh((x - reference.location) / reference.scale) ** 2


def surrogate_logdensity(
    target: Target, theta: Array, alpha: Array, tilt: str = "score", gradient: str = "exact",
    fd_step: float = DEFAULT_FD_STEP, reference: TiltReference | None = None,
) -> Callable[[Array], Array]:
    """log pi_theta as a function of x whose autodiff gradient is the chosen one (exact, shifted, finite_difference).

    `theta` is the one the surrogate uses (after any trust region, `effective_theta`); `reference` is needed by
    the bounded tilt on a continuous target.
    """
    _check_surrogate(target, tilt, gradient, reference)
    if not isinstance(target.space, Continuous):
        return lambda x: _discrete_surrogate(target, x, theta, alpha, tilt)
    surrogate = _surrogate_fn(target, tilt, gradient, fd_step)
    return lambda x: surrogate(x, theta, alpha, reference)


def kernel_surrogate(
    spec: KernelSpec, target: Target, theta: Array, alpha: Array, tilt: str = "score", gradient: str = "exact",
    fd_step: float = DEFAULT_FD_STEP, reference: TiltReference | None = None,
) -> Density | Callable[[Array], Array]:
    """The surrogate as the kernel of `spec` takes it: a `Density` where it declares ``split_density``
    (`surrogate_density`), else the plain callable (`surrogate_logdensity`)."""
    make = surrogate_density if spec.split_density else surrogate_logdensity
    return make(target, theta, alpha, tilt, gradient, fd_step, reference)


def _check_surrogate(target: Target, tilt: str, gradient: str, reference: TiltReference | None) -> None:
    if tilt in CONTINUOUS_TILTS and not isinstance(target.space, Continuous):
        raise ValueError(f"the {tilt} tilt is for continuous targets; {target.name} is {target.kind}: use "
                         f"tilt='bounded'.")
    if tilt in REFERENCED_TILTS and isinstance(target.space, Continuous) and reference is None:
        raise ValueError(f"the {tilt} tilt needs a TiltReference (location and scale of pi): run a warm-up.")
    if not isinstance(target.space, Continuous) and gradient != "exact":
        raise ValueError(f"gradient={gradient!r} is for continuous targets; {target.name} is {target.kind}.")


class BaseValues(NamedTuple):
    """A `Density`'s aux: log pi and the score at the evaluated point (score None where computing it is not free:
    the feature tilts on a discrete target, whose value needs no score)."""

    logdensity: Array
    score: Array | None


def surrogate_density(
    target: Target, theta: Array, alpha: Array, tilt: str = "score", gradient: str = "exact",
    fd_step: float = DEFAULT_FD_STEP, reference: TiltReference | None = None,
) -> Density:
    """log pi_theta split by what a point needs (`srmc.samplers.spec.Density`), each value with `BaseValues` at
    the point; the same surrogate as `surrogate_logdensity` (arguments as there)."""
    _check_surrogate(target, tilt, gradient, reference)
    if not isinstance(target.space, Continuous):
        return _discrete_density(target, theta, alpha, tilt)

    def value(x: Array) -> tuple[Array, BaseValues]:
        logpi, score = target.value_and_score(x)
        features = tilt_features(target, x, tilt, reference) if tilt in FEATURE_TILTS else x
        return tilted_value(logpi, score, features, theta, alpha, tilt), BaseValues(logpi, score)

    def value_and_grad(x: Array) -> tuple[Array, Array, BaseValues]:
        surrogate_value, base = value(x)
        grad = tilted_gradient(target, x, base.score, theta, alpha, tilt, gradient, fd_step, reference)
        return surrogate_value, grad, base

    def grad(x: Array) -> Array:
        if tilt == "score" and gradient == "shifted":  # at alpha = 0, x - 0 theta is x: the score itself
            return target.score(x - alpha * theta)
        return tilted_gradient(target, x, target.score(x), theta, alpha, tilt, gradient, fd_step, reference)

    return Density(value, value_and_grad, grad)


def _discrete_density(target: Target, theta: Array, alpha: Array, tilt: str) -> Density:
    """The discrete surrogate with its aux (`BaseValues`); gradients through the targets' relaxation."""

    def value(x: Array) -> tuple[Array, BaseValues]:
        return _discrete_value(target, x, theta, alpha, tilt)

    def value_and_grad(x: Array) -> tuple[Array, Array, BaseValues]:
        (surrogate_value, base), grad = jax.value_and_grad(value, has_aux=True)(x)
        return surrogate_value, grad, base

    return Density(value, value_and_grad, jax.grad(lambda x: value(x)[0]))


def _discrete_surrogate(target: Target, x: Array, theta: Array, alpha: Array, tilt: str) -> Array:
    return _discrete_value(target, x, theta, alpha, tilt)[0]


def _discrete_value(target: Target, x: Array, theta: Array, alpha: Array, tilt: str) -> tuple[Array, BaseValues]:
    logpi = target.logdensity(x)
    score = target.score(x) if tilt == "score" else None
    return tilted_value(logpi, score, target.space.features(x), theta, alpha, tilt), BaseValues(logpi, score)


def _surrogate_fn(target: Target, tilt: str, gradient: str, fd_step: float) -> Callable[..., Array]:
    @jax.custom_jvp
    def surrogate(x: Array, theta: Array, alpha: Array, reference: TiltReference | None) -> Array:
        if tilt in FEATURE_TILTS:
            return tilted_value(target.logdensity(x), None, tilt_features(target, x, tilt, reference), theta,
                                alpha, tilt)
        logpi, score = target.value_and_score(x)
        return tilted_value(logpi, score, x, theta, alpha, tilt)

    @surrogate.defjvp
    def surrogate_jvp(primals, tangents):
        x, theta, alpha, reference = primals
        x_dot, theta_dot, alpha_dot, _ = tangents  # the reference is a constant of the surrogate
        # (log pi, s) always come from the same computation as the base kernel's, so alpha = 0 is bit-exact
        logpi, score = target.value_and_score(x)
        grad_x = tilted_gradient(target, x, score, theta, alpha, tilt, gradient, fd_step, reference)
        features = tilt_features(target, x, tilt, reference) if tilt in FEATURE_TILTS else x
        value = tilted_value(logpi, score, features, theta, alpha, tilt)
        tilt_direction = -score if tilt == "score" else features
        value_dot = (
            jnp.vdot(grad_x, x_dot)
            + alpha * jnp.vdot(tilt_direction, theta_dot)
            + jnp.vdot(theta, tilt_direction) * alpha_dot
        )
        return value, value_dot

    return surrogate
