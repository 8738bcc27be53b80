"""Post-hoc control variates from the score (zero-variance MCMC): what SRMC reaches to first order, after the fact.

By Stein's identity E_pi[div f + <f, s>] = 0 for any vector field f with enough decay, so each such Stein feature
is a control variate for E_pi[g]. With constant f (the score itself) the corrected mean of x,

    xbar + (zbar - 0) B,       B = -Cov(z, z)^{-1} Cov(z, x)  (least squares over the pooled draws),

is the first-order limit of SRMC at large alpha (`srmc.method.prediction.variance_floor`, with the ordinary in
place of the long-run regression), and it needs only the base kernel's draws and their scores. ``features="score
+diagonal"`` adds 1 + (x_i - m_i) s_i (f = (x_i - m_i) e_i, m the pooled mean): d more features, which no SRMC tilt
uses, and which about double the ceiling on a banana or on eight schools (`benchmarks/ceiling.py`).

The coefficient is fitted once on all chains' draws; each chain's corrected mean is then an estimate whose spread
over chains is its standard error (the fit's own error adds O(p / draws), p the number of features). It assumes
the draws come from pi (after warm-up) and that pi's tails make the Stein features mean-zero (e.g. polynomial
tails are fine for the score, not always for x s).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.targets.base import spread_stderr

FEATURES = ("score", "score+diagonal")


class ControlVariateEstimate(NamedTuple):
    """The corrected mean of x: pooled over chains, its SE (spread of the chains'), per chain, and the coefficient
    ``(p, d)`` applied to the p Stein features."""

    mean: np.ndarray
    stderr: np.ndarray
    chain_estimates: np.ndarray
    coefficient: np.ndarray


def stein_features(draws: np.ndarray, scores: np.ndarray, features: str = "score") -> np.ndarray:
    """The Stein features of `draws` ``(chains, n, d)`` with their `scores`: s, or [s, 1 + (x - m) s] (m: the
    pooled mean), ``(chains, n, p)``; each has mean 0 under pi."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}.")
    if features == "score":
        return scores
    centred = draws - draws.reshape(-1, draws.shape[-1]).mean(0)
    return np.concatenate([scores, 1.0 + centred * scores], axis=-1)


def control_variate_mean(draws: np.ndarray, scores: np.ndarray, features: str = "score",
                         values: np.ndarray | None = None) -> ControlVariateEstimate:
    """E_pi[x] (or E_pi[f] with `values` = f at the draws, ``(chains, n, k)``) from `draws` and `scores`
    ``(chains, n, d)``, corrected by the Stein features (module doc)."""
    draws, scores = (np.asarray(v, np.float64) for v in (draws, scores))
    if draws.ndim != 3 or draws.shape != scores.shape:
        raise ValueError(f"draws and scores must both be (chains, n, d), got {draws.shape} and {scores.shape}.")
    values = draws if values is None else np.asarray(values, np.float64)
    if values.ndim != 3 or values.shape[:2] != draws.shape[:2]:
        raise ValueError(f"values must be (chains, n, k) like draws {draws.shape[:2]}, got {values.shape}.")
    if not (np.all(np.isfinite(draws)) and np.all(np.isfinite(scores)) and np.all(np.isfinite(values))):
        raise ValueError("draws, scores or values hold non-finite numbers: control variates would average them "
                         "in; check the run's health report first.")
    z = stein_features(draws, scores, features)
    flat_x, flat_z = values.reshape(-1, values.shape[-1]), z.reshape(-1, z.shape[-1])
    if flat_z.shape[0] <= 4 * flat_z.shape[1]:
        raise ValueError(f"{flat_z.shape[0]} draws are too few for {flat_z.shape[1]} control variates: store more "
                         "draws (srmc.sample(..., thin=...)) or use features='score'.")
    centred_z = flat_z - flat_z.mean(0)
    coefficient = -np.linalg.lstsq(centred_z, flat_x - flat_x.mean(0), rcond=None)[0]
    chains = values.mean(1) + z.mean(1) @ coefficient
    return ControlVariateEstimate(chains.mean(0), spread_stderr(chains), chains, coefficient)


def scores_of(target, draws: np.ndarray) -> np.ndarray:
    """The target's score at every stored draw ``(chains, n, d)`` (one score pass per draw)."""
    return np.asarray(jax.vmap(jax.vmap(target.score))(jnp.asarray(draws)))
