"""Closed-form laws of walk-jump sampling on a Gaussian target N(m, C), and z-scores of draws against them.

With measurements y_t = X + sigma eps_t: X | y_{1:t} ~ N(mu_t, P_t), P_t = (C^-1 + t / sigma^2 I)^-1,
mu_t = P_t (C^-1 m + t / sigma^2 ȳ_t); the stage law is y_t | y_{1:t-1} ~ N(mu_{t-1}, P_{t-1} + sigma^2 I); the
running mean ȳ_t ~ N(m, C + sigma^2 / t I); the jump E[X | ȳ_M] = m + C (C + s I)^-1 (ȳ_M - m), s = sigma^2 / M, has
law N(m, C (C + s I)^-1 C). (docs/explanation/walk_jump.md derives them.)

Every z-score below is a raw moment of whitened draws about its known value divided by its standard error under
the null: a mean by 1 / sqrt(n), a second moment E[w_i^2] by sqrt(2 / n), a cross moment E[w_i v_j] by 1 / sqrt(n).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method import walk_jump as wj

Z_LIMIT = 4.5  # about 60 z-scores per test: a family-wise false-alarm rate of about 4e-4 under the null


def posterior(mean: np.ndarray, cov: np.ndarray, sigma: float, t: int, running_mean: np.ndarray):
    """(mu_t rows for each running mean row, P_t) of X | y_{1:t}; t = 0 gives the prior."""
    precision = np.linalg.inv(cov) + t / sigma**2 * np.eye(len(mean))
    p = np.linalg.inv(precision)
    mu = (np.linalg.solve(cov, mean) + t / sigma**2 * running_mean) @ p.T
    return mu, p


def whiten(draws: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """L^-1 (draws - mean) with L L^T = cov: N(0, I) rows under the null."""
    return np.linalg.solve(np.linalg.cholesky(cov), (draws - mean).T).T


def moment_z(white: np.ndarray) -> np.ndarray:
    """z-scores of the means, second moments and cross moments of N(0, I) rows."""
    n, d = white.shape
    means = white.mean(0) * np.sqrt(n)
    second = (np.mean(white**2, 0) - 1.0) / np.sqrt(2.0 / n)
    cross = [np.mean(white[:, i] * white[:, j]) * np.sqrt(n) for i in range(d) for j in range(i + 1, d)]
    return np.concatenate([means, second, cross])


def independence_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z-scores of E[a_i b_j] for independent N(0, I) rows a and b."""
    return (a.T @ b / len(a) * np.sqrt(len(a))).ravel()


def gaussian_z(draws: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """z-scores of draws against N(mean, cov)."""
    return moment_z(whiten(draws, mean, cov))


def stage_z(measurements: np.ndarray, running_means: np.ndarray, mean: np.ndarray, cov: np.ndarray,
            sigma: float) -> np.ndarray:
    """z-scores of every stage of one walk: y_t against N(mu_{t-1}(ȳ_{t-1}), P_{t-1} + sigma^2 I), and the whitened
    residual's independence of ȳ_{t-1} (t >= 2). Shapes: (M, n, d) measurements and running means ȳ_t."""
    num_stages, _, d = measurements.shape
    scores = []
    previous = np.zeros_like(running_means[0])
    for t in range(1, num_stages + 1):
        mu, p = posterior(mean, cov, sigma, t - 1, previous)
        residual = whiten(measurements[t - 1], mu, p + sigma**2 * np.eye(d))
        scores.append(moment_z(residual))
        if t >= 2:
            scores.append(independence_z(residual, whiten(previous, mean, cov + sigma**2 / (t - 1) * np.eye(d))))
        previous = running_means[t - 1]
    return np.concatenate(scores)


def run_stages(smoothing, params: wj.WalkJumpParams, inner: wj.InnerKernel, positions: jax.Array, num_stages: int,
               seed: int = 0) -> wj.WalkJumpInfo:
    """A user's own loop: `as_algorithm`'s init/step, vmapped over chains, in a jitted lax.scan; infos per stage."""
    algorithm = wj.as_algorithm(smoothing, params, inner)
    num_chains = positions.shape[0]

    @jax.jit
    def run(key, positions):
        states = jax.vmap(algorithm.init)(positions)
        return jax.lax.scan(lambda s, k: jax.vmap(algorithm.step)(jax.random.split(k, num_chains), s), states,
                            jax.random.split(key, num_stages))

    return jax.tree.map(np.asarray, run(jax.random.key(seed), positions)[1])


def params(sigma: float, num_measurements: int, step_size: float, num_inner_steps: int) -> wj.WalkJumpParams:
    """`WalkJumpParams` as float32 / int32 arrays."""
    return wj.WalkJumpParams(jnp.float32(sigma), jnp.int32(num_measurements), jnp.float32(step_size),
                             jnp.int32(num_inner_steps))
