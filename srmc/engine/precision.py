"""Is the log density smooth at the run's float precision? A probe the health report runs after a suspect run.

A float32 log density can be rough where its float64 twin is smooth: a Cholesky factor of a nearly singular
matrix (a Gaussian process with a long lengthscale and a small jitter), a difference of large nearly equal terms.
Its rounding errors then move log pi by tenths of a nat between points a hair apart, or make it non-finite in the
bulk, and every kernel fails (chains stuck, R-hat, rejected proposals) while nothing in the model is wrong.

The probe: at the final positions x of up to `PROBE_CHAINS` chains, with directions v ~ N(0, diag(sd^2)) (sd: the
chains' spread per coordinate), the second difference

    D = log pi(x + h v) + log pi(x - h v) - 2 log pi(x),         h = `PROBE_STEP`,

is h^2 v^T H v (about 1e-8 d for a unit-curvature target) on a smooth log density and is at most a few units of
eps |log pi| from rounding each value once. A point is rough where log pi(x) is finite and D is not finite or
exceeds `ROUGH_NATS` + `ROUNDING_UNITS` eps |log pi(x)|. It runs only for float32 positions (float64 has 2^29
times finer rounding) and only when the report already holds a warning such roughness causes (`SUSPECT_CODES`),
so a healthy run pays nothing.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.algorithm import HealthWarning, state_position
from srmc.targets.space import Continuous

PROBE_STEP = 1e-4  # h, in the chains' own standard deviations
PROBE_CHAINS = 64
ROUGH_NATS = 0.01  # a second difference beyond this (and beyond rounding) is not a smooth log density's
ROUNDING_UNITS = 64.0  # eps |log pi| units that rounding alone may put into D
MIN_ROUGH_POINTS = 2  # points that must be rough (one could sit on a genuine kink of the target)
SUSPECT_CODES = frozenset({"nonfinite_proposals", "frozen_chains", "r_hat", "low_ess", "mcse_disagree",
                           "chains_behind", "acceptance_low", "bias_exceeds_mcse"})


def second_differences(logdensity: Any, positions: np.ndarray, directions: np.ndarray, step: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """log pi at `positions` ``(n, d)`` and the second differences D along `directions` ``(n, d)`` at `step`
    (module doc), both ``(n,)``, in the positions' dtype. Evaluated op by op: the probe runs once per suspect
    run, and a program compiled for it and kept across float32 and float64 runs of one process hung JAX 0.10."""
    at = jax.vmap(logdensity)
    x, v = jnp.asarray(positions), jnp.asarray(directions, positions.dtype)
    centre = at(x)
    return np.asarray(centre), np.asarray(at(x + step * v) + at(x - step * v) - 2.0 * centre)


def rough_points(centre: np.ndarray, second: np.ndarray, dtype: Any) -> np.ndarray:
    """Which points are rough (module doc): log pi finite there and D non-finite or beyond its bound."""
    bound = ROUGH_NATS + ROUNDING_UNITS * float(np.finfo(dtype).eps) * np.abs(centre)
    return np.isfinite(centre) & ~(np.abs(second) <= bound)


def precision_warning(result: Any, algorithm: Any, target: Any, warnings: Sequence[HealthWarning],
                      seed: int = 0) -> HealthWarning | None:
    """``float32_precision``: the probe of the module doc, where it applies; None for a run it does not apply to
    or whose log density is smooth at its precision."""
    if not SUSPECT_CODES.intersection(w.code for w in warnings) or not isinstance(target.space, Continuous):
        return None
    positions = np.asarray(jax.vmap(lambda s: state_position(algorithm, s))(result.final_state))
    if positions.dtype != np.float32 or positions.ndim != 2:
        return None
    positions = positions[:PROBE_CHAINS]
    spread = np.std(positions.astype(np.float64), axis=0) if positions.shape[0] > 1 else np.ones(positions.shape[1])
    spread = np.where(np.isfinite(spread) & (spread > 0) & (spread < np.finfo(np.float32).max), spread, 1.0)
    spread = spread.astype(np.float32)
    directions = np.random.default_rng(seed).normal(size=positions.shape).astype(np.float32) * spread
    centre, second = second_differences(target.logdensity, positions, directions, PROBE_STEP)
    rough = rough_points(centre, second, positions.dtype)
    num_rough = int(np.sum(rough))
    if num_rough < MIN_ROUGH_POINTS:
        return None
    nonfinite = int(np.sum(rough & ~np.isfinite(second)))
    finite = second[rough & np.isfinite(second)]
    largest = f"; |D| up to {float(np.max(np.abs(finite))):.2g} nats" if finite.size else ""
    return HealthWarning(
        "float32_precision",
        f"the float32 log density is rough at {num_rough} of {positions.shape[0]} chains' positions: "
        f"1e-4 sd away it is non-finite at {nonfinite}{largest} (second differences; a smooth log density gives "
        "about 1e-8 d), so its rounding, not the model, drives the rejections. Fix: run in float64 "
        "(jax.config.update('jax_enable_x64', True) before building the target, or numpyro.enable_x64(); "
        "command line: srmc run/bench --x64), or make the "
        "model better conditioned (e.g. a larger jitter on a Cholesky factor).",
        {"rough_points": num_rough, "probed": int(positions.shape[0]), "nonfinite": nonfinite,
         "second_differences": second[rough].tolist()})
