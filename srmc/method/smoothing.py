"""Where walk-jump sampling gets the Gaussian-smoothed log density and its score: closed form, or estimated.

The smoothed density of pi at noise variance s is p_s(y) = ∫ pi(x) N(y; x, s I) dx = E_{Z ~ N(0, I)}[pi(y + √s Z)],
and its score has two expressions (the second by Gaussian integration by parts, for pi vanishing at infinity):

    grad log p_s(y) = E[(X - y) / s | y] = E[grad log pi(X) | y],        X | y ~ pi(x) N(x; y, s I) / p_s(y).

`Smoothing` is the record the walk reads: ``value_and_score(rng_key, y, s) -> (log p_s(y), grad log p_s(y))``
(exact, or an estimate from the draws `rng_key` makes), whether it is exact, and what one call costs.

`exact_smoothing` wraps a closed form (a `Target`'s ``smoothed_logdensity``: Gaussians, Gaussian mixtures).
`importance_smoothing` estimates both by self-normalised importance sampling with the proposal N(y, s I) (whose
density ratio to the posterior is pi(x) up to a constant): with x_i = y + √s z_i, z_i ~ N(0, I), i = 1..n,

    value      log p̂_s(y) = logsumexp_i log pi(x_i) - log n            (log of an unbiased estimate: biased low by
                                                                        about Var(w) / (2 n E[w]^2), Jensen)
    "noise"    ŝ(y) = sum_i w̄_i z_i / √s                               (w̄ = softmax of log pi(x_i); value-only calls)
    "gradient" ŝ(y) = sum_i w̄_i grad log pi(x_i) = grad_y log p̂_s(y)   (the exact derivative of the value estimate
                                                                        with the draws held fixed)

Both scores are ratio estimators: biased by O(1/n) and consistent as n grows; the bias and spread blow up when the
proposal N(y, s I) is much wider than pi's mass near y (few effective draws: large s, high dimension). The noise
form is cheaper (no gradients) and better for large s; the gradient form is better for small s, where the noise
form's 1/√s amplifies the spread. docs/explanation/walk_jump.md gives the measured bias against closed forms.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array

NOISE_FORM = "noise"
GRADIENT_FORM = "gradient"


class Smoothing(NamedTuple):
    """What the walk needs from the smoothed density.

    Attributes:
      value_and_score: ``(rng_key, y, noise_variance) -> (log p_s(y), grad log p_s(y))``; an exact one ignores
        the key.
      exact: the value is the exact log p_s (up to a constant in y) and the score its exact gradient, so a
        Metropolis correction on it is exact; False for estimates.
      evaluations: target evaluations (log pi, or log pi with its gradient, see `uses_gradients`) per call; 1 for
        a closed form (one evaluation of the smoothed density).
      uses_gradients: each evaluation also takes grad log pi.
      name: for display.
    """

    value_and_score: Callable[[Array, Array, Array], tuple[Array, Array]]
    exact: bool
    evaluations: int
    uses_gradients: bool
    name: str


def exact_smoothing(smoothed_logdensity: Callable[[Array, Array], Array]) -> Smoothing:
    """`Smoothing` from a closed form ``(y, s) -> log p_s(y)``; the score is its autodiff gradient in y."""
    if not callable(smoothed_logdensity):
        raise ValueError(f"smoothed_logdensity must be a function (y, noise_variance) -> log p_s(y), got "
                         f"{smoothed_logdensity!r}.")
    value_and_grad = jax.value_and_grad(smoothed_logdensity)

    def value_and_score(rng_key: Array, y: Array, noise_variance: Array) -> tuple[Array, Array]:
        del rng_key
        return value_and_grad(y, noise_variance)

    return Smoothing(value_and_score, True, 1, True, "exact")


def importance_draws(rng_key: Array, y: Array, noise_variance: Array, num_draws: int) -> tuple[Array, Array]:
    """``(z, x)``: n standard normal draws z (n, d) and the proposal points x = y + √s z."""
    z = jax.random.normal(rng_key, (num_draws, y.shape[-1]), y.dtype)
    return z, y + jnp.sqrt(noise_variance) * z


def importance_effective_draws(logdensity_fn: Callable[[Array], Array], rng_key: Array, y: Array,
                               noise_variance: Array, num_draws: int) -> Array:
    """Kish's effective number of the n importance draws at y, 1 / sum_i w̄_i^2 with w̄ = softmax(log pi(x_i)):
    n when the weights are equal, 1 when a single draw carries them all (then both score forms are one draw's
    value, not an average, and the estimate is noise)."""
    _, x = importance_draws(rng_key, y, noise_variance, num_draws)
    weights = jax.nn.softmax(jax.vmap(logdensity_fn)(x))
    return 1.0 / jnp.sum(weights**2)


def importance_smoothing(logdensity_fn: Callable[[Array], Array], num_draws: int,
                         score_form: str = NOISE_FORM) -> Smoothing:
    """Self-normalised importance-sampling estimate of log p_s and its score (see the module doc for the maths).

    Args:
      logdensity_fn: log pi (unnormalised), one position (d,) -> scalar.
      num_draws: n, the proposal draws per call (a Python int: it fixes an array shape).
      score_form: ``"noise"`` (sum w̄ z / √s, value-only evaluations) or ``"gradient"`` (sum w̄ grad log pi,
        the exact gradient of the value estimate for fixed draws; n gradient evaluations per call).
    """
    if not callable(logdensity_fn):
        raise ValueError(f"logdensity_fn must be a function x -> log pi(x), got {logdensity_fn!r}.")
    if isinstance(num_draws, bool) or not isinstance(num_draws, int) or num_draws < 1:
        raise ValueError(f"num_draws must be a positive Python integer (it fixes an array shape), got {num_draws!r}.")
    if score_form not in (NOISE_FORM, GRADIENT_FORM):
        raise ValueError(f"score_form must be {NOISE_FORM!r} or {GRADIENT_FORM!r}, got {score_form!r}.")
    log_n = jnp.log(float(num_draws))

    def noise_form(rng_key: Array, y: Array, noise_variance: Array) -> tuple[Array, Array]:
        z, x = importance_draws(rng_key, y, noise_variance, num_draws)
        log_weights = jax.vmap(logdensity_fn)(x)
        weights = jax.nn.softmax(log_weights)
        return jax.nn.logsumexp(log_weights) - log_n, weights @ z / jnp.sqrt(noise_variance)

    def gradient_form(rng_key: Array, y: Array, noise_variance: Array) -> tuple[Array, Array]:
        _, x = importance_draws(rng_key, y, noise_variance, num_draws)
        log_weights, gradients = jax.vmap(jax.value_and_grad(logdensity_fn))(x)
        weights = jax.nn.softmax(log_weights)
        # a draw of weight 0 (log pi = -inf, or underflow) adds nothing, even where its gradient is not finite
        gradients = jnp.where((weights > 0)[:, None], gradients, 0.0)
        return jax.nn.logsumexp(log_weights) - log_n, weights @ gradients

    if score_form == NOISE_FORM:
        return Smoothing(noise_form, False, num_draws, False, f"importance(n={num_draws}, noise form)")
    return Smoothing(gradient_form, False, num_draws, True, f"importance(n={num_draws}, gradient form)")
