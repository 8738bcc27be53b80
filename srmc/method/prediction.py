"""What alpha buys, predicted from the base kernel's warm-up: SRMC's variance as a function of alpha, and its choice.

Linear response. With the bounded tilt log pi_theta = log pi + alpha <theta, phi>, theta_n the running mean of the
score, and gamma_n ~ 1/n, to first order in theta: E_theta[s] = -alpha G theta (Stein, G = E_pi[J_phi] =
diag(g), g_i = E_pi[sech^2((x_i - m_i) / c_i)]) and E_theta[x] = E_pi[x] + alpha C theta (C = Cov_pi(x, phi)). In
continuous time, with S_t and N_t the summed fluctuations of s and x (Brownian, long-run covariances lambda_ss,
lambda_xs, lambda_xx under the kernel) and Y_t = int_0^t (u / t)^A dS_u, A = alpha G, the error of the mean of x is

    t (xbar_t - E_pi[x]) = N_t + K (S_t - Y_t),          K = C G^{-1},

so SRMC is the base chain plus the score, used as a control variate with the fixed coefficient K and the gain
(1 - (u / t)^a_j) on the fluctuations of coordinate j from time u. Per coordinate i:

    t Var(xbar_i) = int_0^1 lambda[(x + K diag(1 - u^a) s)_i] du,            a_j = alpha g_j,

where lambda[.] is the long-run variance of the series under the base kernel. On a Gaussian (K = Sigma, s =
-Sigma^{-1}(x - mu)) with independent draws this is Var(x_i) / (1 + 2 a): the 1/alpha law. Elsewhere the score
predicts x only in part (banana: s_1 carries x_1 (x_2 - b x_1^2)), and with HMC's antithetic draws x's own long-run
variance is small already, so beyond some alpha the injected part of s costs more than the cancelled part gains:
SRMC is then worse than its base kernel, more so at larger alpha.

The warm-up estimates every term from its second half (`srmc.engine.warmup`): lambda by batch means of the series
x + K diag(1 - u^a) s (linear in the batch means of x and of s, so one pass stores only those), K and g from thinned
draws, the integral by a trapezoid rule in log(-log u). `predicted_relative_variance` is the curve over `ALPHA_GRID`;
`alpha_factor` picks alpha's share from it. The prediction assumes base chains in equilibrium; where the warm-up's
mean score is not 0 within its error (Stein: E_pi[s] = 0; `in_equilibrium`), as in chains still travelling to the
mode, nothing is predicted and alpha runs as given. Cost: once, O(grid x nodes x batches x d^2), skipped above
`MAX_PREDICTION_DIM` coordinates.

What no alpha can buy. Every node of the integral is the long-run variance of x_i + (K diag(1 - u^a))_i s: x
corrected by the score with *some* coefficient. So, to first order, Var_SRMC(xbar_i) / Var_base(xbar_i) is at least
the share of lambda[x_i] that no linear combination of s removes, the residual of the long-run regression of x_i on
s (`variance_floor`): for every alpha and every tilt log pi + alpha <theta, phi> whose history is the running mean
of the score (K = Cov(x, phi) E[J_phi]^{-1}; the score tilt is phi = -s), whatever G's gains. On a Gaussian the
floor is 0 (x is linear in s); on a banana x_2 = b x_1^2 + noise carries x_1^2, which no combination of s holds,
and the floor is about 0.5. The bound is a large-n, first-order one: chains that the repellence pushes between
modes (a nonlinear effect) can do better.

The second-order tilt (`srmc.method.tilt`): the history is g = (S, 1 + z * S) and phi = (tanh z, tanh^2 z / 2)
with z = L^-1 (x - m), S = L^T s. The same argument holds with G replaced by the block-diagonal mean field M
(E_theta[g] = -alpha M theta), u^A by the 2 x 2 matrix exponentials exp(-y alpha M_i) per whitened coordinate
and K = Cov(x, phi) M^-1 (`second_order_coefficient`); the floor regresses x on g instead of s. z * S is not
linear in x and s, and m, L are known only at the warm-up's end, so the warm-up also sums x s^T per batch
(chains x batches x d^2 numbers, hence `MAX_SECOND_ORDER_PREDICTION_DIM`) and `second_order_history_means`
forms g's batch means from them. Where x's long-run variance is small (HMC's antithetic draws) and z * S's is not
(z^2 on a Gaussian: 30 to 130 times x's at lag-1 autocorrelation -0.8), the noise of K's estimate, squared, would
dominate the curve; the series is therefore the product of its two versions with K from independent halves of
the draws (cross-fitting), which leaves that noise out of its expectation.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

ALPHA_GRID = 2.0 ** np.arange(-6, 8)  # 1/64, 1/32, ..., 128: the alphas the warm-up predicts
PREDICTION_BATCHES = 10  # batch means per chain over the warm-up's second half
PREDICTION_CHAINS = 64  # chains whose batches and draws enter the prediction (the first ones)
PREDICTION_DRAWS = 64  # thinned draws per chain kept for K and g
MAX_PREDICTION_DIM = 512  # above: no prediction (its O(d^2) cost), alpha as given
MAX_SECOND_ORDER_PREDICTION_DIM = 128  # the second-order tilt's: its buffers hold chains x batches x d^2 numbers
# (64 x 10 x 128^2 = 10 M at the largest)
QUADRATURE_NODES = 32  # trapezoid in log(-log u) on [-10, 4]: 0.1% on int u^(2a) du up to a = 128


def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Nodes y and weights for int_0^1 F(u) du = int_0^inf F(e^-y) e^-y dy, trapezoid in log y."""
    log_y = np.linspace(-10.0, 4.0, QUADRATURE_NODES)
    weights = np.full(QUADRATURE_NODES, log_y[1] - log_y[0])
    weights[[0, -1]] /= 2
    y = np.exp(log_y)
    return y, weights * y * np.exp(-y)
MIN_BATCHES_PER_REGRESSOR = 4  # variance_floor needs >= 4 (d + 1) batch means, else NaN
PAYS = 0.95  # a smaller alpha is chosen only where it is predicted to beat the given one's variance by 5%


@functools.partial(jax.jit, static_argnames=("num_chains",))
def in_equilibrium(batch_s: Array, draws: Array, scores: Array, num_chains: int) -> Array:
    """Whether the base chains satisfy Stein's identity within its error on every coordinate: E_pi[s] = 0 (from
    the batch means `batch_s`, ``(chains x batches, d)``) and E_pi[(x_i - E x_i) s_i] = -1 (from the thinned
    `draws` and their `scores`, ``(chains x draws, d)``), chain by chain.

    The error of each is the spread of the chains' means (independent chains: no assumption on the
    autocorrelation), or of the batches' / draws' for fewer than 4 chains; the bound is the normal quantile with a
    1e-3 chance of a false alarm over all 2 d checks. Chains that have not explored pi (still travelling, or too
    slow to have seen its wide directions) fail the second.
    """
    dim = batch_s.shape[-1]
    products = (draws - draws.mean(0)) * scores + 1.0

    def agrees(values: Array) -> Array:
        groups = values.reshape(num_chains, -1, dim).mean(1) if num_chains >= 4 else values
        stderr = jnp.std(groups, axis=0, ddof=1) / jnp.sqrt(groups.shape[0])
        z = jnp.abs(jnp.mean(groups, axis=0)) / jnp.where(stderr > 0, stderr, jnp.inf)
        return jnp.all(z <= jax.scipy.special.ndtri(1.0 - 2.5e-4 / dim)) & (groups.shape[0] >= 2)

    return agrees(batch_s) & agrees(products)


def _relative_variance_curve(bx: Array, batch_length: int, alphas: Array,
                             correction: Callable[[Array, Array], tuple[Array, Array]]) -> Array:
    """Mean over coordinates of int_0^1 lambda[x + correction] du / lambda[x] at each of `alphas`, lambda by the
    batch means `bx` (centred), the integral by `_quadrature` in y = -log u. ``correction(alpha, y)`` gives the
    history's part K (I - u^A) h of the series, ``(batches, d)``, twice: with the same K, or with K from two
    independent halves of the draws, whose product leaves K's estimation noise out of the square (cross-fitting)."""
    base = batch_length * jnp.mean(bx**2, axis=0)
    nodes, weights = (jnp.asarray(v, bx.dtype) for v in _quadrature())

    def at(alpha: Array) -> Array:
        def node(y: Array) -> Array:
            first, second = correction(alpha, y)
            return batch_length * jnp.mean((bx + first) * (bx + second), axis=0)

        variance = jnp.maximum(jnp.tensordot(weights, jax.lax.map(node, nodes), axes=1), 0.0)
        usable = jnp.isfinite(variance) & (base > 0)
        return jnp.sum(jnp.where(usable, variance / jnp.where(usable, base, 1.0), 0.0)) / jnp.maximum(
            jnp.sum(usable), 1)

    return jax.lax.map(at, jnp.asarray(alphas, bx.dtype))


@functools.partial(jax.jit, static_argnames=("batch_length",))
def predicted_relative_variance(batch_x: Array, batch_s: Array, batch_length: int, draws: Array, location: Array,
                                scale: Array, alphas: Array, factor: Array | None = None) -> Array:
    """Mean over coordinates of Var_SRMC(xbar_i) / Var_base(xbar_i) at each of `alphas` (module doc), for the
    bounded tilt (a score history).

    Args:
      batch_x, batch_s: ``(batches, d)`` batch means of x and s over the base chains (all chains' batches).
      batch_length: steps per batch.
      draws: ``(n, d)`` draws of the base chains (for K and g).
      location, scale: the bounded tilt's m and c.
      alphas: ``(k,)`` alphas to predict.
      factor: the whitening L of a tilt per coordinate of z = L^-1 (x - m), history S = L^T s (then `scale` is
        ignored: c = 1 in z); None: per coordinate of x.
    """
    if factor is None:
        t = jnp.tanh((draws - location) / scale)
        features = scale * t
    else:  # rows: z^T = (x - m)^T L^-T, S^T = s^T L
        t = features = jnp.tanh(jax.scipy.linalg.solve_triangular(factor, (draws - location).T, lower=True).T)
        batch_s = batch_s @ factor
    slope = jnp.mean(1.0 - t**2, axis=0)
    covariance = (draws - draws.mean(0)).T @ (features - features.mean(0)) / draws.shape[0]
    coefficient = covariance / slope  # K = C G^{-1}
    bx, bs = batch_x - batch_x.mean(0), batch_s - batch_s.mean(0)

    def correction(alpha: Array, y: Array) -> tuple[Array, Array]:  # u = e^-y: 1 - u^a = -expm1(-a y)
        series = -(bs * jnp.expm1(-alpha * slope * y)) @ coefficient.T
        return series, series

    return _relative_variance_curve(bx, batch_length, alphas, correction)


def second_order_history_means(batch_s: Array, batch_xs: Array, location: Array, factor: Array) -> Array:
    """Batch means of the second-order tilt's history g = (S, 1 + z * S) (`srmc.method.tilt.history_statistic`),
    ``(batches, 2, d)``, from batch means of s ``(batches, d)`` and of x s^T ``(batches, d, d)``: S = L^T s is
    linear in s and z_i S_i = (L^-1 (x s^T - m s^T) L)_ii linear in x s^T, for the reference's m and L
    (`factor`)."""
    inverse = jax.scipy.linalg.solve_triangular(factor, jnp.eye(factor.shape[0], dtype=factor.dtype), lower=True)
    centred = batch_xs - location[:, None] * batch_s[:, None, :]
    products = jnp.einsum("ij,bjk,ki->bi", inverse, centred, factor)
    return jnp.stack([batch_s @ factor, 1.0 + products], axis=1)


def _second_order_blocks(z: Array) -> Array:
    """The second-order tilt's mean-field blocks M_i = [[E w, E w t], [E w z, E w z t]] (t = tanh z, w = 1 - t^2)
    from whitened draws `z` ``(n, d)``: ``(d, 2, 2)``."""
    t = jnp.tanh(z)
    w = 1.0 - t**2
    return jnp.stack([jnp.stack([w, w * t], -1), jnp.stack([w * z, w * z * t], -1)], -2).mean(0)


def whitened_draws(draws: Array, location: Array, factor: Array) -> Array:
    """z = L^-1 (x - m) of every draw ``(n, d)``."""
    return jax.scipy.linalg.solve_triangular(factor, (draws - location).T, lower=True).T


@jax.jit
def second_order_coefficient(draws: Array, location: Array, factor: Array) -> Array:
    """The second-order tilt's K = Cov(x, phi) M^-1 ``(d, 2, d)`` (x_i, history entry k of coordinate j) from
    draws x ``(n, d)`` of pi and the reference's m and L: SRMC's plain average moves by K times the history's
    integrated fluctuations (module doc). By Stein's identity M = -Cov(g, phi), so K is also the instrumental
    regression -Cov(x, phi) Cov(g, phi)^-1 of x on the history g with instruments phi."""
    z = whitened_draws(draws, location, factor)
    t = jnp.tanh(z)
    features = jnp.stack([t, t**2 / 2], axis=1)  # (n, 2, d)
    covariance = jnp.einsum("ni,nkj->ikj", draws - draws.mean(0), features - features.mean(0)) / draws.shape[0]
    return jnp.einsum("ikj,jkl->ilj", covariance, jnp.linalg.inv(_second_order_blocks(z)))


def two_by_two_exponential(decay: Array, discriminant: Array) -> tuple[Array, Array]:
    """(c, s) with exp(B) = c I + s (B - tau I) for 2 x 2 matrices B with tau = tr(B) / 2 = -`decay` <= 0 and
    `discriminant` tau^2 - det(B): c = e^tau cosh(r), s = e^tau sinh(r) / r with r^2 the discriminant (cos, sin
    where it is negative), each written as exponentials of tau +- r <= 0 (no overflow at large alpha)."""
    root = jnp.sqrt(jnp.abs(discriminant))
    small = root < 1e-3
    safe_root = jnp.where(small, 1.0, root)
    real = discriminant >= 0
    upper, lower = jnp.exp(-decay + root), jnp.exp(-decay - root)
    cosine = jnp.where(real, (upper + lower) / 2, jnp.exp(-decay) * jnp.cos(root))
    sine = jnp.where(real, (upper - lower) / (2 * safe_root), jnp.exp(-decay) * jnp.sin(root) / safe_root)
    series = jnp.exp(-decay) * (1.0 + discriminant / 6)  # sinh(r) / r and sin(r) / r for small r
    return cosine, jnp.where(small, series, sine)


@functools.partial(jax.jit, static_argnames=("batch_length",))
def predicted_relative_variance_second_order(batch_x: Array, batch_history: Array, batch_length: int, draws: Array,
                                             location: Array, factor: Array, alphas: Array) -> Array:
    """`predicted_relative_variance` for the second-order tilt: the history is g = (S, 1 + z * S) and the features
    phi = (tanh z, tanh^2 z / 2) of z = L^-1 (x - m), so G becomes M, block diagonal per whitened coordinate
    (the 2 x 2 blocks [[E w, E w t], [E w z, E w z t]], t = tanh z, w = 1 - t^2: `srmc.method.tilt`), u^A the
    2 x 2 matrix powers exp(-y alpha M_i) and K = Cov(x, phi) M^-1.

    Args:
      batch_x: ``(batches, d)`` batch means of x; batch_history: ``(batches, 2, d)`` of g
        (`second_order_history_means`).
      batch_length: steps per batch.
      draws: ``(n, d)`` draws of the base chains (for K and M).
      location, factor: the tilt's m and L (lower Cholesky factor of pi's covariance).
      alphas: ``(k,)`` alphas to predict.
    """
    blocks = _second_order_blocks(whitened_draws(draws, location, factor))
    half = draws.shape[0] // 2  # K from each half of the draws (the first chains', the last chains')
    coefficients = [second_order_coefficient(draws[part], location, factor).reshape(batch_x.shape[1], -1).T
                    for part in (slice(None, half), slice(half, None))]  # (2 d, d): history entries (k, j) x x_i
    bx, bh = batch_x - batch_x.mean(0), batch_history - batch_history.mean(0)
    half_trace = (blocks[:, 0, 0] + blocks[:, 1, 1]) / 2
    spread = half_trace**2 - (blocks[:, 0, 0] * blocks[:, 1, 1] - blocks[:, 0, 1] * blocks[:, 1, 0])
    shifted = jnp.einsum("jkl,blj->bkj", blocks - half_trace[:, None, None] * jnp.eye(2, dtype=blocks.dtype), bh)

    def correction(alpha: Array, y: Array) -> tuple[Array, Array]:
        scale = alpha * y  # exp(-scale M_j) = c_j I - scale s_j (M_j - half_trace_j I), closed form for 2 x 2
        cosine, sine = two_by_two_exponential(scale * half_trace, scale**2 * spread)
        remaining = ((1.0 - cosine) * bh + scale * sine * shifted).reshape(bh.shape[0], -1)  # (I - u^A) h
        first, second = (remaining @ coefficient for coefficient in coefficients)
        return first, second

    return _relative_variance_curve(bx, batch_length, alphas, correction)


@jax.jit
def alpha_factor(alphas: Array, predicted: Array, alpha: Array) -> Array:
    """alpha's share in [0, 1] that the prediction favours: alpha itself unless a smaller grid alpha (or 0, the
    base kernel) is predicted to have a variance below `PAYS` x the given alpha's; 1 where nothing was predicted.

    The given alpha's variance is interpolated on the grid (log alpha); above the grid, the last point's.
    """
    alphas, predicted = jnp.asarray(alphas), jnp.asarray(predicted)
    own = jnp.interp(jnp.log(alpha), jnp.log(alphas), predicted)
    allowed = alphas <= alpha
    candidates = jnp.where(allowed, predicted, jnp.inf)
    best = jnp.argmin(candidates)
    best_value = jnp.minimum(candidates[best], 1.0)  # alpha = 0: the base kernel, relative variance 1
    best_alpha = jnp.where(candidates[best] <= 1.0, alphas[best], 0.0)
    smaller = best_value < PAYS * own
    valid = jnp.all(jnp.isfinite(predicted)) & (alpha > 0)
    return jnp.where(valid & smaller, best_alpha / jnp.where(alpha > 0, alpha, 1.0), 1.0)


@jax.jit
def variance_floor(batch_x: Array, batch_s: Array) -> Array:
    """Per coordinate, the least Var_SRMC(xbar_i) / Var_base(xbar_i) any alpha and any score-history tilt reaches
    to first order (module doc): the residual variance of the batch means of x_i regressed on those of s
    (least squares, its unbiased estimate with ``batches - 1 - d`` degrees of freedom) over their variance.

    Args:
      batch_x, batch_s: ``(batches, d)`` batch means of x and s over the base chains (all chains' batches).
    Returns ``(d,)`` in [0, 1]; NaN where there are fewer than `MIN_BATCHES_PER_REGRESSOR` (d + 1) batches or
    x_i does not vary.
    """
    batches, dim = batch_s.shape
    bx, bs = batch_x - batch_x.mean(0), batch_s - batch_s.mean(0)
    residual = bx - bs @ jnp.linalg.lstsq(bs, bx)[0]
    base = jnp.sum(bx**2, axis=0) / (batches - 1)
    floor = jnp.sum(residual**2, axis=0) / max(batches - 1 - dim, 1) / jnp.where(base > 0, base, 1.0)
    enough = batches >= MIN_BATCHES_PER_REGRESSOR * (dim + 1)
    return jnp.where(enough & (base > 0), jnp.clip(floor, 0.0, 1.0), jnp.nan)


def gain_ceiling(floor: Array) -> Array:
    """The most any alpha can buy, on the scale of `predicted_relative_variance` (the mean over coordinates of
    the relative variance): 1 / mean_i `variance_floor`_i."""
    return 1.0 / jnp.mean(jnp.asarray(floor))


class Prediction(NamedTuple):
    """How the warm-up predicts a tilt's variance over alpha (`srmc.method.tilt.Tilt.prediction`).

    max_dim: the most coordinates it predicts for (above: alpha as given, and the health report says so);
    collects_products: it also needs the batches' sums of x s^T (d^2 numbers per chain and batch);
    curve: ``(batch_x, batch_s, batch_xs, batch_length, draws, location, scale, factor) -> (curve, floor)``,
    the predicted relative variance over `ALPHA_GRID` and the per-coordinate floor no alpha goes below, from
    batch means of x, s (and x s^T, else None), thinned draws, the tilt's m, c and L (`factor`);
    whitened_curve: ``(batch_x, batch_s, batch_length, draws, location, factor) -> curve``, the same for the tilt
    whitened by L (`srmc.method.tilt.Tilt.follows_dense_mass`); None: the tilt is never whitened so.
    """

    max_dim: int
    collects_products: bool
    curve: Callable
    whitened_curve: Callable | None = None


def alpha_grid(dtype: Any) -> Array:
    """`ALPHA_GRID` as a JAX array of `dtype`. Programs take this, never the NumPy array itself: JAX keeps one
    device copy per NumPy constant it has captured, and a process that ran in float64 (``jax.enable_x64``) and then
    in float32 would hand a float32 program that float64 copy (a RuntimeProgramInputMismatch, JAX 0.10)."""
    return jnp.asarray(ALPHA_GRID, dtype)


def _score_history_curve(batch_x: Array, batch_s: Array, batch_xs: Array | None, batch_length: int, draws: Array,
                         location: Array, scale: Array, factor: Array) -> tuple[Array, Array]:
    curve = predicted_relative_variance(batch_x, batch_s, batch_length, draws, location, scale,
                                        alpha_grid(batch_x.dtype))
    return curve, variance_floor(batch_x, batch_s)


def _second_order_curve(batch_x: Array, batch_s: Array, batch_xs: Array, batch_length: int, draws: Array,
                        location: Array, scale: Array, factor: Array) -> tuple[Array, Array]:
    history = second_order_history_means(batch_s, batch_xs, location, factor)
    curve = predicted_relative_variance_second_order(batch_x, history, batch_length, draws, location, factor,
                                                     alpha_grid(batch_x.dtype))
    return curve, variance_floor(batch_x, history.reshape(history.shape[0], -1))


def _whitened_score_history_curve(batch_x: Array, batch_s: Array, batch_length: int, draws: Array, location: Array,
                                  factor: Array) -> Array:
    return predicted_relative_variance(batch_x, batch_s, batch_length, draws, location, jnp.ones_like(location),
                                       alpha_grid(batch_x.dtype), factor)


SCORE_HISTORY = Prediction(MAX_PREDICTION_DIM, False, _score_history_curve,
                           _whitened_score_history_curve)  # the bounded tilt's
SECOND_ORDER_HISTORY = Prediction(MAX_SECOND_ORDER_PREDICTION_DIM, True, _second_order_curve)
