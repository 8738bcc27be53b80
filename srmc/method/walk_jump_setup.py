"""What `srmc.walk_jump` and `walk_jump_algorithm` decide before compiling: the target, the smoothing, sigma, M, the
step size, and the checks that make bad input fail early with the fix in the message.

Default rules (measured in docs/benchmarks/walk_jump.md, derived in docs/explanation/walk_jump.md):

- sigma = NOISE_SCALE_FACTOR * scale, scale the largest per-coordinate standard deviation of pi (the warm-up's
  estimate, or the `scale` argument). Every stage is log-concave where Cov[X | y_{1:t}] <= sigma^2 I; a posterior
  split between two modes at distance D has variance up to D^2 / 4 along their axis, and pi's own variance there
  is at least w (1 - w) D^2 for mode weights w, 1 - w, so sigma ~ scale covers balanced modes.
- M = NUM_MEASUREMENTS_FACTOR * (sigma / scale)^2: the jump's smoothing variance is sigma^2 / M; on a Gaussian
  of variance lam the jump's variance is lam^2 / (lam + sigma^2 / M), a relative deficit of
  sigma^2 / (M lam + sigma^2).
- step size h = MALA_STEP_FACTOR * sigma^2 * d^(-1/3) (MALA) or ULA_STEP_FACTOR * sigma^2 (ULA): every stage's
  log density has curvature at most 1 / sigma^2 (its Hessian is >= -I / sigma^2), so one step size scaled by
  sigma^2 suits all stages.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.smoothing import Smoothing, exact_smoothing, importance_smoothing
from srmc.targets import Target, from_logdensity
from srmc.targets.space import Continuous, check_int

NOISE_SCALE_FACTOR = 1.0
NUM_MEASUREMENTS_FACTOR = 64
MALA_STEP_FACTOR = 1.0
ULA_STEP_FACTOR = 0.1
DEFAULT_NUM_DRAWS = 64


def resolve_target(target_or_logdensity: Any, dim: int | None) -> Target:
    """A continuous `Target` from a `Target` or a plain log density with `dim`."""
    if isinstance(target_or_logdensity, Target):
        target = target_or_logdensity
        if not isinstance(target.space, Continuous):
            raise ValueError(f"walk_jump samples continuous targets; {target.name} is {target.kind}.")
        if dim is not None and check_int(dim, "dim") != target.dim:
            raise ValueError(f"dim={dim} disagrees with the target's dimension {target.dim}; leave dim out.")
        return target
    if not callable(target_or_logdensity):
        raise ValueError("target_or_logdensity must be a srmc Target or a function x -> log pi(x), got "
                         f"{type(target_or_logdensity).__name__}.")
    if dim is None:
        raise ValueError("a plain log density needs dim=<its dimension> (walk_jump(key, logdensity, n, dim=d)).")
    return from_logdensity(target_or_logdensity, check_int(dim, "dim"), name="walk_jump_logdensity")


def resolve_smoothing(target: Target, smoothing: Smoothing | None, num_draws: int, score_form: str) -> Smoothing:
    """The given smoothing, else the target's closed form, else importance sampling on its log density."""
    if smoothing is not None:
        if not isinstance(smoothing, Smoothing):
            raise ValueError(f"smoothing must be a Smoothing record (exact_smoothing / importance_smoothing), got "
                             f"{smoothing!r}.")
        return smoothing
    if target.smoothed_logdensity is not None:
        return exact_smoothing(target.smoothed_logdensity)
    return importance_smoothing(target.logdensity, num_draws, score_form)


def resolve_scale(target: Target, scale: Any) -> float:
    """The largest per-coordinate standard deviation: from `scale` (a number or one per coordinate), else from the
    target's ground truth; a ValueError naming both fixes when neither is there."""
    if scale is None:
        if target.ground_truth is None:
            raise ValueError("walk_jump needs the target's scale to choose sigma and M: pass noise_scale=... and "
                             "num_measurements=..., or scale=<pi's per-coordinate standard deviation>.")
        scale = np.sqrt(np.asarray(target.ground_truth.variance, np.float64))
    values = np.asarray(scale, np.float64)
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != target.dim):
        raise ValueError(f"scale must be a number or {target.dim} numbers, got shape {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"scale must be positive and finite, got {scale!r}.")
    return float(values.max())


def positive_number(value: Any, name: str, fix: str) -> float:
    """`value` as a positive finite float, else a ValueError naming `name` and the fix."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}. {fix}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}. {fix}")
    return float(value)


def default_noise_scale(scale: float) -> float:
    """sigma from pi's largest per-coordinate standard deviation (module doc)."""
    return NOISE_SCALE_FACTOR * scale


def default_num_measurements(noise_scale: float, scale: float) -> int:
    """M from sigma and pi's scale (module doc): NUM_MEASUREMENTS_FACTOR * (sigma / scale)^2, at least 1."""
    return max(1, int(math.ceil(NUM_MEASUREMENTS_FACTOR * (noise_scale / scale) ** 2)))


def default_step_size(noise_scale: float, dim: int, corrected: bool) -> float:
    """The inner step size from sigma (module doc)."""
    if corrected:
        return MALA_STEP_FACTOR * noise_scale**2 * dim ** (-1.0 / 3.0)
    return ULA_STEP_FACTOR * noise_scale**2


def resolve_numbers(target: Target, scale: Any, noise_scale: Any, num_measurements: Any, step_size: Any,
                    corrected: bool) -> tuple[float, int, float]:
    """Checked (sigma, M, h): the given values, the defaults (module doc) for those left out."""
    if noise_scale is None or num_measurements is None:
        scale_value = resolve_scale(target, scale)
    if noise_scale is None:
        noise_scale = default_noise_scale(scale_value)
    noise_scale = positive_number(noise_scale, "noise_scale", "sigma is the measurement noise's standard deviation, "
                                  "e.g. pi's largest per-coordinate standard deviation.")
    if num_measurements is None:
        num_measurements = default_num_measurements(noise_scale, scale_value)
    num_measurements = check_int(num_measurements, "num_measurements")
    step_size = default_step_size(noise_scale, target.dim, corrected) if step_size is None else step_size
    step_size = positive_number(step_size, "step_size", "leave it out for the default c * sigma^2.")
    return noise_scale, num_measurements, step_size


def starting_positions(rng_key: jax.Array, target: Target, num_chains: int, initial_position: Any) -> jax.Array:
    """(num_chains, d) finite starting points: the given ones (one row, or one per chain), else the target's."""
    if initial_position is None:
        positions = target.initial_position(rng_key, num_chains)
    else:
        positions = jnp.asarray(initial_position, jnp.result_type(float))
        if positions.shape == (target.dim,):
            positions = jnp.broadcast_to(positions, (num_chains, target.dim))
        if positions.shape != (num_chains, target.dim):
            raise ValueError(f"initial_position must have shape ({target.dim},) or ({num_chains}, {target.dim}), "
                             f"got {positions.shape}.")
    if not bool(jnp.all(jnp.isfinite(positions))):
        raise ValueError("initial_position has non-finite values; pass finite starting points.")
    return positions


def check_finite_start(logdensity: Callable, smoothing: Smoothing, position: jax.Array, noise_scale: float) -> None:
    """The log density and the smoothed density must be finite at a starting point (checked before compiling the
    run), else a ValueError naming the fix."""
    value = float(logdensity(position))
    smoothed, score = smoothing.value_and_score(jax.random.key(0), position, jnp.asarray(noise_scale**2))
    if math.isnan(value):
        raise ValueError(f"log pi is NaN at the starting point {np.asarray(position)}; check the log density, or "
                         "start elsewhere (initial_position=...).")
    if not (math.isfinite(float(smoothed)) and bool(jnp.all(jnp.isfinite(score)))):
        raise ValueError(f"the smoothed log density or its score is not finite at the start (value {float(smoothed)});"
                         " check the log density, or raise num_draws for an estimated smoothing.")


def evaluations_per_stage(smoothing: Smoothing, num_inner_steps: int, corrected: bool) -> int:
    """Target evaluations (of log pi with its gradient, or of the closed-form smoothed density) per stage."""
    calls = (2 * num_inner_steps + 1) if (corrected and not smoothing.exact) else (num_inner_steps + 1)
    return calls * smoothing.evaluations

