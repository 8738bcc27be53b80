"""Post-hoc control variates from the score (zero-variance MCMC): what SRMC reaches to first order, after the fact.

By Stein's identity E_pi[div f + <f, s>] = 0 for any vector field f with enough decay, so each such Stein feature
is a control variate for E_pi[g]. With constant f (the score itself) the corrected mean of x,

    xbar + (zbar - 0) B,       B = -Cov(z, z)^{-1} Cov(z, x)  (least squares over the pooled draws),

is the first-order limit of SRMC at large alpha (`srmc.method.prediction.variance_floor`, with the ordinary in
place of the long-run regression), and it needs only the base kernel's draws and their scores. ``features="score
+diagonal"`` adds 1 + (x_i - m_i) s_i (f = (x_i - m_i) e_i, m the pooled mean): d more features, which no SRMC tilt
uses, and which raise the first-order ceiling on a banana and on eight schools (`benchmarks/ceiling.py`).

From stored draws: `control_variate_mean`. Without them: run `srmc.sample` with ``functions=streaming_functions
(target)`` (running means of x, z, x z^T and z z^T) and fit with `from_running_means`, the same estimate.

The coefficient is fitted once on all chains' draws; each chain's corrected mean is then an estimate whose spread
over chains is its standard error (the fit's own error adds O(p / draws), p the number of features). It assumes
the draws come from pi (after warm-up) and that pi's tails make the Stein features mean-zero (e.g. polynomial
tails are fine for the score, not always for x s).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method import prediction
from srmc.targets.base import spread_stderr

FEATURES = ("score", "score+diagonal")


class ControlVariateEstimate(NamedTuple):
    """The corrected mean of x: pooled over chains, its SE (spread of the chains'), per chain, the coefficient
    ``(p, d)`` applied to the p Stein features, and whether the draws pass Stein's identity within its error
    (`srmc.method.prediction.in_equilibrium`; None where it could not be checked: running means only)."""

    mean: np.ndarray
    stderr: np.ndarray
    chain_estimates: np.ndarray
    coefficient: np.ndarray
    in_equilibrium: bool | None = None


NOT_IN_EQUILIBRIUM = ("the draws fail Stein's identity (their mean score is not 0, or E[(x_i - m_i) s_i] is not -1, "
                      "within the chains' spread): they are not from pi yet (frozen, diverging or still travelling "
                      "chains), and a score correction can make such chains agree on a wrong value. Fix the run "
                      "first (its health report says how).")


MIN_CHECKED_CHAINS = 8  # below: the chains' spread is too rough an error for the check (None: not checked)


def stein_check(draws: np.ndarray, scores: np.ndarray) -> bool | None:
    """Whether ``(chains, n, d)`` draws and scores pass `srmc.method.prediction.in_equilibrium` (10 batches per
    chain for the mean score); None with fewer than `MIN_CHECKED_CHAINS` chains."""
    chains, n, dim = draws.shape
    if chains < MIN_CHECKED_CHAINS:
        return None
    batches = min(10, n)
    batch_s = scores[:, : n // batches * batches].reshape(chains, batches, -1, dim).mean(2).reshape(-1, dim)
    flat = [jnp.asarray(v.reshape(-1, dim)) for v in (draws, scores)]
    return bool(prediction.in_equilibrium(jnp.asarray(batch_s), *flat, chains))


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
                         values: np.ndarray | None = None, check_equilibrium: bool = True) -> ControlVariateEstimate:
    """E_pi[x] (or E_pi[f] with `values` = f at the draws, ``(chains, n, k)``) from `draws` and `scores`
    ``(chains, n, d)``, corrected by the Stein features (module doc). With `check_equilibrium` the draws go
    through `stein_check` (a RuntimeWarning when they fail it); without, ``in_equilibrium`` is None."""
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
    passed = stein_check(draws, scores) if check_equilibrium else None
    if passed is False:
        warnings.warn(NOT_IN_EQUILIBRIUM, RuntimeWarning, stacklevel=2)
    return ControlVariateEstimate(chains.mean(0), spread_stderr(chains), chains, coefficient, passed)


STREAMING_PREFIX = "cv:"  # names of the running means `streaming_functions` adds


def streaming_functions(target, features: str = "score") -> dict:
    """``functions=`` for `srmc.sample` whose running means let `from_running_means` correct the mean of x without
    storing draws: x, the Stein features z, x z^T and z z^T (O(chains x d p) memory, one more score evaluation
    per step). With features "score+diagonal" z = [s, 1 + x s]: the same span as [s, 1 + (x - m) s]."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}.")

    def z(x):
        s = target.score(x)
        return s if features == "score" else jnp.concatenate([s, 1.0 + x * s])

    return {"x": lambda x: x, STREAMING_PREFIX + "z": z,
            STREAMING_PREFIX + "xz": lambda x: jnp.outer(x, z(x)).ravel(),
            STREAMING_PREFIX + "zz": lambda x: jnp.outer(z(x), z(x)).ravel()}


def from_running_means(result) -> ControlVariateEstimate:
    """The corrected mean of x from a run with ``functions=streaming_functions(...)``: the same fit as
    `control_variate_mean` (pooled least squares, each chain corrected), from per-chain running means."""
    means = result.chain_estimates
    if STREAMING_PREFIX + "z" not in means:
        raise ValueError("the run has no control-variate running means: pass "
                         "functions=control_variates.streaming_functions(target) to srmc.sample.")
    x, z = (np.asarray(means[name], np.float64) for name in ("x", STREAMING_PREFIX + "z"))
    chains, dim, p = x.shape[0], x.shape[1], z.shape[1]
    xz = np.asarray(means[STREAMING_PREFIX + "xz"], np.float64).reshape(chains, dim, p).mean(0)
    zz = np.asarray(means[STREAMING_PREFIX + "zz"], np.float64).reshape(chains, p, p).mean(0)
    if not (np.all(np.isfinite(xz)) and np.all(np.isfinite(zz))):
        raise ValueError("the control-variate running means are not finite: check the run's health report.")
    mx, mz = x.mean(0), z.mean(0)
    covariance_zz, covariance_zx = zz - np.outer(mz, mz), xz.T - np.outer(mz, mx)
    coefficient = -np.linalg.lstsq(covariance_zz, covariance_zx, rcond=None)[0]
    corrected = x + z @ coefficient
    return ControlVariateEstimate(corrected.mean(0), spread_stderr(corrected), corrected, coefficient)


def scores_of(target, draws: np.ndarray) -> np.ndarray:
    """The target's score at every stored draw ``(chains, n, d)`` (one score pass per draw)."""
    return np.asarray(jax.vmap(jax.vmap(target.score))(jnp.asarray(draws)))
