"""Tilts as values: the surrogate families SRMC runs its base kernel on.

A tilt is a `Tilt` record of functions and facts; SRMC reads nothing else of it. Every tilt has the form

    log pi_theta(x) = log pi(x) + alpha <theta, phi(x)>,     theta = running mean of the statistic g(x)

with E_pi[g] = 0, so theta = 0 is the history's fixed point:

    SCORE         phi = -s(x), g = s(x)                         (the SRMC paper's; gradient s - alpha H theta)
    LINEAR        phi = x (discrete: the space's features), g = s
    BOUNDED       phi = c tanh((x - m) / c) (discrete: the space's features), g = s        (the default)
                  with a dense metric L: phi = tanh z, z = L^-1 (x - m), g = S = L^T s
    SECOND_ORDER  phi = (tanh z, tanh(z)^2 / 2), z = L^-1 (x - m), g = (S, 1 + z S), S = L^T s (continuous only)

m, c and L form the `TiltReference` (pi's location, scale and the Cholesky factor of its covariance, measured by
the warm-up). The bounded tilt takes L from the base kernel's dense inverse mass matrix where the warm-up chose one
(`Tilt.follows_dense_mass`): the kernel then moves in z = L^-1 (x - m), and a tilt per coordinate of x would
repel along directions the kernel does not see (on a 20-d Gaussian with correlation 0.9, MALA with a dense mass at
alpha 10: 3.4x on E[x] and a finite-n bias of about 10 standard errors on E[x^2] per coordinate of x; per
coordinate of z, 9.9x and no detectable bias, as on an uncorrelated Gaussian, to which the pair (kernel, tilt) is
then equivalent). Stability, by Stein's identity E_pi[g phi^T] = -E_pi[J] (J the Jacobian of phi along g's fields):
the history's mean field is d theta / dt = -(I + alpha M) theta with M positive semi-definite for LINEAR (I),
BOUNDED (diag E[sech^2]), SECOND_ORDER (2 x 2 blocks with positive trace and determinant), so theta = 0 is stable
for every alpha; for SCORE, M = Cov_pi(s), the Fisher information, whose size is the target's stiffness.
Properness: BOUNDED and SECOND_ORDER keep |log pi_theta - log pi| <= alpha sum |theta_i| sup|phi_i| for every
theta; LINEAR needs exponential moments of pi; SCORE needs s to grow no faster than log pi.

The score tilt's gradient in proposals is exact (a Hessian-vector product), shifted (s(x - alpha theta)) or a
forward finite difference with step ``fd_step`` (`score`); Metropolis tests always use the exact value.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import prediction
from srmc.method.algorithm import StaticPartial
from srmc.samplers.spec import CATEGORICAL, CONTINUOUS
from srmc.targets import Continuous, Target

Array = jax.Array

MAX_WHITENED_DIM = 512  # above, the second-order tilt whitens by pi's sd only (its L costs d^2 per chain)
BOUNDED_WIDTH = 1.0  # the bounded tilt's c, in standard deviations of pi
DEFAULT_FD_STEP = 1e-3  # the finite-difference step of the score tilt's gradient (the SRMC paper's c)
GRADIENTS = ("exact", "shifted", "finite_difference")


class TiltReference(NamedTuple):
    """pi's per-coordinate location m and scale c, and optionally the lower Cholesky factor L of its covariance
    with L^-1 (products instead of triangular solves at every gradient); None: scale only."""

    location: Array
    scale: Array
    whitening: Array | None = None
    whitening_inverse: Array | None = None


class TiltDefaults(NamedTuple):
    """What `srmc.wrap` uses for options left at "auto": the alpha ramp C (alpha_n = n / (C + n / alpha); 0:
    constant), the trust region kappa (None: none), whether the warm-up's prediction may lower alpha."""

    alpha_ramp: float
    trust_region: float | None
    alpha_search: bool


class Tilt(NamedTuple):
    """One surrogate family (see the module doc).

    Attributes:
      name: for display (``"bounded"``).
      features: ``(target, x, reference) -> phi(x)``; None for the score tilt, whose term is -s(x) (its value
        needs the score; a feature tilt's cache gives log pi and s back exactly).
      gradient: ``(target, x, score, theta, alpha, reference) -> d/dx log pi_theta(x)`` given s(x).
      gradient_alone: ``(target, x, theta, alpha, reference) -> gradient`` where no value is needed (an inner
        leapfrog step); None: `gradient` with s(x).
      statistic: ``(x, score, reference) -> g(x)``, what theta averages (mean zero under pi).
      history_shape: ``score_shape -> theta's shape``.
      feature_bound: ``reference -> sup |phi|`` per entry of theta (what a trust region scales by); None:
        unbounded features (no trust region).
      needs_reference: a continuous target needs pi's location and scale (the warm-up's, or given).
      whitens: it whitens by L, the Cholesky factor of pi's covariance (up to `MAX_WHITENED_DIM` coordinates).
      spaces: the state spaces it is defined on.
      defaults: its `TiltDefaults`.
      prediction: what predicts its variance over alpha (`srmc.method.prediction.Prediction`), or None: alpha
        runs as given.
      gradient_name: the kind of gradient its proposals use: ``"exact"``, or the score tilt's ``"shifted"`` and
        ``"finite_difference"`` approximations (continuous targets only).
      follows_dense_mass: where the warm-up hands the base kernel a dense inverse mass matrix Sigma (and measures
        the reference), the reference is whitened by L = chol(Sigma): the tilt repels in the kernel's coordinates.
    """

    name: str
    features: Callable | None
    gradient: Callable
    gradient_alone: Callable | None
    statistic: Callable
    history_shape: Callable
    feature_bound: Callable | None
    needs_reference: bool
    whitens: bool
    spaces: tuple[str, ...]
    defaults: TiltDefaults
    prediction: prediction.Prediction | None = None
    gradient_name: str = "exact"
    follows_dense_mass: bool = False

    def term(self, target: Target, x: Array, score: Array | None, reference: TiltReference | None) -> Array:
        """What theta multiplies in log pi_theta - log pi (over alpha): phi(x), or -s(x) for the score tilt."""
        return -score if self.features is None else self.features(target, x, reference)

    def value(self, logpi: Array, term: Array, theta: Array, alpha: Array) -> Array:
        """log pi_theta(x) from log pi(x) and the tilt's `term`; log pi(x) itself where alpha == 0."""
        return jnp.where(alpha == 0, logpi, logpi + alpha * jnp.vdot(theta, term))

    def grad_alone(self, target: Target, x: Array, theta: Array, alpha: Array, reference: TiltReference | None
                   ) -> Array:
        """The gradient at a point where no value is needed."""
        if self.gradient_alone is not None:
            return self.gradient_alone(target, x, theta, alpha, reference)
        return self.gradient(target, x, target.score(x), theta, alpha, reference)

    def effective_theta(self, theta: Array, alpha: Array, reference: TiltReference | None,
                        trust_region: Array | None) -> Array:
        """theta as the surrogate sees it: clipped to +-kappa / (alpha sup|phi|) per entry under a trust region
        kappa, so that no entry's tilt term exceeds kappa; else itself."""
        if trust_region is None or reference is None or self.feature_bound is None:
            return theta
        tiny = jnp.finfo(jnp.result_type(theta)).tiny
        bound = trust_region / (jnp.maximum(alpha, tiny) * self.feature_bound(reference))
        return jnp.clip(theta, -bound, bound)


# --- references ------------------------------------------------------------------------------------------------


def bounded_reference(mean: Array, variance: Array) -> tuple[Array, Array]:
    """The tilt's (m, c) from pi's mean and variance: m = mean, c = `BOUNDED_WIDTH` sd (1 where the variance is not
    a positive finite number)."""
    scale = BOUNDED_WIDTH * jnp.sqrt(jnp.asarray(variance))
    return jnp.asarray(mean), jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)


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
    """z = L^-1 (x - m) (x flattened for the product), or (x - m) / c without L."""
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


# --- the tilts' functions --------------------------------------------------------------------------------------


def _same_shape(score_shape: tuple) -> tuple:
    return tuple(score_shape)


def _pair_shape(score_shape: tuple) -> tuple:
    return (2, *score_shape)


def _score_statistic(x: Array, score: Array, reference: TiltReference | None) -> Array:
    return score


def _space_features(target: Target, x: Array, reference: TiltReference | None) -> Array:
    """x on R^d; the space's bounded one-hot features on a discrete space."""
    return target.space.features(x)


def _linear_gradient(target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                     reference: TiltReference | None) -> Array:
    return score + alpha * theta


def bounded_slope(x: Array, reference: TiltReference) -> Array:
    """d phi_i / d x_i of the bounded tilt: sech^2((x - m) / c) = 1 - tanh^2, in (0, 1]; with a whitening L,
    d phi_i / d z_i = sech^2(z_i)."""
    return 1.0 - jnp.tanh(whitened(x, reference)) ** 2


def _bounded_features(target: Target, x: Array, reference: TiltReference | None) -> Array:
    """c tanh((x - m) / c); tanh(L^-1 (x - m)) with a whitening L; the space's features on a discrete space."""
    if not isinstance(target.space, Continuous):
        return target.space.features(x)
    squashed = jnp.tanh(whitened(x, reference))
    return squashed if reference.whitening is not None else reference.scale * squashed


def _bounded_gradient(target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                      reference: TiltReference | None) -> Array:
    """s + alpha theta sech^2((x - m) / c); s + alpha L^-T (theta sech^2(z)) with a whitening L."""
    if reference is not None and reference.whitening is not None:
        return score + alpha * _gradient_from_whitened(theta * bounded_slope(x, reference), reference)
    return score + alpha * theta * bounded_slope(x, reference)


def _bounded_statistic(x: Array, score: Array, reference: TiltReference | None) -> Array:
    """s; S = L^T s with a whitening L (the score in z, mean zero under pi for any m and L)."""
    if reference is not None and reference.whitening is not None:
        return _whitened_score(score, reference)
    return score


def _scale_bound(reference: TiltReference) -> Array:
    """sup |phi_i|: c_i; 1 with a whitening L."""
    return jnp.ones_like(reference.scale) if reference.whitening is not None else reference.scale


def _second_order_features(target: Target, x: Array, reference: TiltReference | None) -> Array:
    squashed = jnp.tanh(whitened(x, reference))
    return jnp.stack([squashed, squashed**2 / 2])


def _second_order_gradient(target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                           reference: TiltReference | None) -> Array:
    squashed = jnp.tanh(whitened(x, reference))
    gradient_z = (1.0 - squashed**2) * (theta[0] + theta[1] * squashed)
    return score + alpha * _gradient_from_whitened(gradient_z, reference)


def _second_order_statistic(x: Array, score: Array, reference: TiltReference | None) -> Array:
    """(S, 1 + z * S), z = L^-1 (x - m), S = L^T s: both mean zero under pi (Stein's identity for the fields L e_i
    and z_i L e_i, whose divergences are 0 and 1), for any m and L."""
    score_z = _whitened_score(score, reference)
    return jnp.stack([score_z, 1.0 + whitened(x, reference) * score_z])


def _second_order_bound(reference: TiltReference) -> Array:
    ones = jnp.ones_like(reference.scale)
    bound = jnp.stack([ones, 0.5 * ones])
    return bound if ones.ndim else bound[:, None]  # a scalar (neutral) scale: (2, 1), against theta's (2, d)


def _exact_score_gradient(target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                          reference: TiltReference | None) -> Array:
    """s(x) - alpha H(x) theta, forward-over-reverse."""
    _, hessian_theta = jax.jvp(target.score, (x,), (theta,))
    return jnp.where(alpha == 0, score, score - alpha * hessian_theta)


def _shifted_score_gradient(target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                            reference: TiltReference | None) -> Array:
    """s(x - alpha theta): a proposal drift only."""
    return jnp.where(alpha == 0, score, target.score(x - alpha * theta))


def _shifted_score_alone(target: Target, x: Array, theta: Array, alpha: Array,
                         reference: TiltReference | None) -> Array:
    return target.score(x - alpha * theta)  # at alpha = 0, x - 0 theta is x: the score itself


def _finite_difference_gradient(fd_step: float, target: Target, x: Array, score: Array, theta: Array, alpha: Array,
                                reference: TiltReference | None) -> Array:
    """s(x) - alpha (s(x + c theta) - s(x)) / c, a forward difference of H theta with step c."""
    return jnp.where(alpha == 0, score, score - alpha * (target.score(x + fd_step * theta) - score) / fd_step)


BOTH_SPACES = (CONTINUOUS, CATEGORICAL)
PAPER_DEFAULTS = TiltDefaults(0, None, False)
SAFE_DEFAULTS = TiltDefaults(100, 0.5, True)


def score(gradient: str = "exact", fd_step: float = DEFAULT_FD_STEP) -> Tilt:
    """The SRMC paper's score tilt, log pi - alpha <theta, s>, with its gradient in proposals `gradient`:
    ``"exact"`` (s - alpha H theta), ``"shifted"`` (s(x - alpha theta)) or ``"finite_difference"`` (step
    `fd_step`, units of length^2)."""
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}.")
    if not (isinstance(fd_step, (int, float)) and not isinstance(fd_step, bool) and 0 < fd_step < float("inf")):
        raise ValueError(f"fd_step must be a positive finite number, got {fd_step!r}.")
    gradients = {"exact": (_exact_score_gradient, None), "shifted": (_shifted_score_gradient, _shifted_score_alone),
                 "finite_difference": (StaticPartial(_finite_difference_gradient, float(fd_step)), None)}
    full, alone = gradients[gradient]
    spaces = BOTH_SPACES if gradient == "exact" else (CONTINUOUS,)  # approximations of a continuous H theta
    return Tilt("score", None, full, alone, _score_statistic, _same_shape, None, False, False, spaces,
                PAPER_DEFAULTS, gradient_name=gradient)


SCORE = score()
LINEAR = Tilt("linear", _space_features, _linear_gradient, None, _score_statistic, _same_shape, None, False, False,
              BOTH_SPACES, PAPER_DEFAULTS)


BOUNDED = Tilt("bounded", _bounded_features, _bounded_gradient, None, _bounded_statistic, _same_shape, _scale_bound,
               True, False, BOTH_SPACES, SAFE_DEFAULTS, prediction.SCORE_HISTORY, follows_dense_mass=True)
SECOND_ORDER = Tilt("second_order", _second_order_features, _second_order_gradient, None, _second_order_statistic,
                    _pair_shape, _second_order_bound, True, True, (CONTINUOUS,), SAFE_DEFAULTS,
                    prediction.SECOND_ORDER_HISTORY)

TILTS = {"score": SCORE, "linear": LINEAR, "bounded": BOUNDED, "second_order": SECOND_ORDER}  # by name, for wrap


def resolve_tilt(tilt: str | Tilt, gradient: str = "exact", fd_step: float = DEFAULT_FD_STEP) -> Tilt:
    """A `Tilt` from itself or its name in `TILTS`; the score tilt with the `gradient` kind asked for."""
    if isinstance(tilt, Tilt):
        return tilt
    if tilt not in TILTS:
        raise ValueError(f"tilt must be one of {tuple(TILTS)} or a srmc.method.tilt.Tilt, got {tilt!r}.")
    if TILTS[tilt].features is None:
        return score(gradient, fd_step)
    if gradient != "exact":
        raise ValueError(f"gradient={gradient!r} is an approximation of the score tilt's Hessian-vector product; "
                         f"the {tilt} tilt's gradient is exact and free: leave gradient='exact'.")
    return TILTS[tilt]


def whitens(tilt: Tilt, size: int) -> bool:
    """Whether `tilt` carries a dense whitening L for a position of `size` numbers."""
    return tilt.whitens and size <= MAX_WHITENED_DIM
