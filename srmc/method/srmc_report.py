"""What an SRMC run records and checks beyond every run: |theta| per draw, the guard's counters, its own health
warnings, the warm-up's prediction in the summary, and its schedules checked over the run's length."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from srmc.method import prediction, schedules
from srmc.method.algorithm import HealthWarning, Report, StaticPartial
from srmc.method.srmc_warmup import nominal_alpha
from srmc.method.tilt import BOUNDED

THETA_GROWTH = 1.25  # |theta| at the end above this times its early or mid-run value: the feedback runs away


def report(config: Any) -> Report:
    """SRMC's `Report` for `config` (an `srmc.method.srmc.SRMCConfig`)."""
    return Report(theta_norm, counters, StaticPartial(health, config), prediction_notes, True,
                  StaticPartial(check_run, config))


def theta_norm(state: Any) -> dict:
    """``{"theta_norm": |theta|}`` of one chain."""
    return {"theta_norm": jnp.linalg.norm(state.theta)}


def counters(state: Any, params: Any) -> dict:
    """Per chain: the guard's events and alpha's back-off, and alpha's share from the warm-up's prediction."""
    return {"guard_events": state.guard.events, "alpha_backoff": state.guard.backoff,
            "alpha_factor": jnp.asarray(params.alpha_factor)}


def check_run(config: Any, params: Any, total_steps: int) -> None:
    """A ValueError before compilation when alpha's or gamma's schedule turns bad within `total_steps` steps."""
    alpha_numbers, gamma_numbers = _hashable(params.alpha), _hashable(params.gamma)
    if alpha_numbers is None or gamma_numbers is None:
        return
    _check_schedules(config.alpha, config.gamma, alpha_numbers, gamma_numbers, total_steps)


def _hashable(numbers: dict) -> tuple | None:
    """The schedule numbers as sorted ``(name, float)`` pairs; None where one is not a single number."""
    if any(np.size(value) != 1 for value in numbers.values()):
        return None
    return tuple(sorted((name, float(np.asarray(value).reshape(()))) for name, value in numbers.items()))


def _check_schedules(alpha_shape: Any, gamma_shape: Any, alpha_numbers: tuple, gamma_numbers: tuple,
                     total_steps: int) -> None:
    """Evaluate the schedules on a grid of steps (one compiled program per schedule shape and grid: another
    alpha's check compiles nothing)."""
    alpha = schedules.Schedule(alpha_shape, dict(alpha_numbers))
    schedules.check_schedule(alpha, "alpha", total_steps + 1, start=1)
    if gamma_shape is None:
        gamma = schedules.default_gamma(alpha)
    else:
        gamma = schedules.Schedule(gamma_shape, dict(gamma_numbers))
    schedules.check_schedule(gamma, "gamma", total_steps, positive=True, start=1)


# --- health -----------------------------------------------------------------------------------------------------


def health(config: Any, result: Any) -> list[HealthWarning]:
    """SRMC's own health warnings of `result` (see `srmc.engine.health` for the ones every run gets)."""
    checks = [_theta_growth(config, result), _alpha_not_predicted(config, result), _alpha_reduced(result),
              _unwhitened(config, result), _guard(config, result)]
    return [warning for warning in checks if warning is not None]


def _uses_bounded(config: Any) -> bool:
    """Whether the run already uses the default tilt (by name: a tilt value may differ from `BOUNDED` in its
    options, e.g. its gradient, and still be the bounded tilt)."""
    return config.tilt.name == BOUNDED.name


def _lower_alpha(config: Any) -> str:
    """The advice when SRMC's feedback is too strong for the run: lower alpha, and the default tilt only where the
    run does not use it already."""
    return "lower alpha" if _uses_bounded(config) else "lower alpha or use the default tilt='bounded'"


def _theta_growth(config: Any, result: Any) -> HealthWarning | None:
    norms = result.monitor.get("theta_norm")
    if norms is None or norms.shape[1] < 4:
        return None
    median = np.median(norms, axis=0)
    first, middle, end = median[0], median[norms.shape[1] // 2 - 1], median[-1]
    if np.all(np.isfinite(median)) and end <= THETA_GROWTH * min(first, middle):
        return None
    return HealthWarning(
        "theta_growing", f"SRMC's |theta| (median over chains) grew from {first:.3g} early and {middle:.3g} at "
        f"mid-run to {end:.3g} at the end instead of shrinking: the history's feedback runs away (alpha too large "
        f"for this target and kernel); {_lower_alpha(config)}.",
        {"steps": np.asarray(result.monitor_steps).tolist(), "median_theta_norm": median.tolist()})


def _predicted_curve(result: Any) -> np.ndarray | None:
    """The prediction the warm-up chose alpha by: for the tilt whitened by the kernel's dense mass where the run's
    reference is so whitened (`srmc_warmup.finish`), else per coordinate of x; None without one."""
    stats = result.warmup_stats
    if stats is None:
        return None
    whitened = "predicted_variance_whitened" in stats.extra and _ran_whitened(result.params)
    curve = stats.extra.get("predicted_variance_whitened" if whitened else "predicted_variance")
    return None if curve is None else np.asarray(curve)


def _ran_whitened(params: Any) -> bool:
    """Whether the run's tilt was whitened: its reference holds L and the kernel held a dense (not diagonal) mass
    matrix (one per chain: ``(chains, d, d)``; `srmc.method.srmc._in_kernel_metric`)."""
    if getattr(getattr(params, "reference", None), "whitening", None) is None:
        return False
    matrices = [np.asarray(v) for v in getattr(params, "kernel", {}).values() if np.ndim(v) == 3]
    return any(np.any(m * (1 - np.eye(m.shape[-1], dtype=m.dtype))) for m in matrices)


def _alpha_not_predicted(config: Any, result: Any) -> HealthWarning | None:
    """alpha ran as given though a prediction was asked for: chains out of equilibrium (a NaN curve), or more
    coordinates than the prediction covers (no curve)."""
    curve = _predicted_curve(result)
    if curve is not None and not np.all(np.isfinite(curve)):
        return HealthWarning(
            "alpha_not_predicted", "the warm-up's chains were not in equilibrium (mean score not 0 within its "
            "error), so what alpha buys was not predicted and alpha ran as given; warm up longer "
            "(srmc.sample(..., warmup=N)) or measure it with `srmc bench`.", {})
    stats = result.warmup_stats
    predicts = config.alpha_search and not config.alpha_is_zero and config.tilt.prediction is not None
    if not predicts or stats is None or curve is not None:
        return None
    dim, largest = int(np.size(stats.mean)), config.tilt.prediction.max_dim
    if dim <= largest:
        return None
    return HealthWarning(
        "alpha_not_predicted", f"the warm-up predicts what alpha buys for the {config.tilt.name} tilt up to "
        f"{largest} coordinates (cost ~ d^2) and this target has {dim}, so alpha ran as given, unchecked: measure it "
        "with `srmc bench`, or pass srmc.wrap(..., alpha_search=False) to say alpha is meant as given.",
        {"dim": dim, "largest": largest})


def _alpha_reduced(result: Any) -> HealthWarning | None:
    factor = result.counters.get("alpha_factor")
    if factor is None or np.all(np.asarray(factor) >= 1.0):
        return None
    curve = _predicted_curve(result)
    share = float(np.min(factor))
    alpha = float(np.ravel(nominal_alpha(result.params.alpha))[0]) if result.params is not None else 0.0
    ran = f"alpha = {alpha * share:.3g} instead of {alpha:g}" if alpha > 0 else f"{share:.3g} x alpha"
    return HealthWarning(
        "alpha_reduced", f"the warm-up predicted that repellence would not pay at the alpha asked here, so the run "
        f"used {ran}{' (the base kernel)' if share == 0 else ''}; the estimates are valid. "
        "srmc.wrap(..., alpha_search=False) forces alpha; `srmc bench` measures what it buys.",
        {"alpha_factor": share, "predicted_variance": None if curve is None else curve.tolist()})


def _unwhitened(config: Any, result: Any) -> HealthWarning | None:
    stats = result.warmup_stats
    if not (config.tilt.whitens and config.measured_reference) or (stats is not None and stats.covariance is not None):
        return None
    return HealthWarning(
        "second_order_unwhitened", "the second-order tilt whitened by pi's standard deviations only (more than "
        "srmc.method.tilt.MAX_WHITENED_DIM coordinates, or no warm-up covariance): on a strongly correlated target "
        "its second moments can be biased (15% low at rho = 0.9 with HMC); use tilt='bounded' or check with "
        "`srmc bench`.", {})


def _guard(config: Any, result: Any) -> HealthWarning | None:
    events = result.counters.get("guard_events")
    if events is None or not np.any(events):
        return None
    chains = np.flatnonzero(events)
    backoff = np.asarray(result.counters["alpha_backoff"])
    return HealthWarning(
        "guard_backoff", f"SRMC's guard halved alpha {int(np.sum(events))} times on {len(chains)} of "
        f"{result.num_chains} chains (down to {float(np.min(backoff)):.3g} x alpha) where acceptance collapsed or "
        "proposals turned non-finite; the estimates stay valid but gain less: if the base kernel alone also freezes, "
        f"fix it first (warm-up, step size, reparametrisation), else {_lower_alpha(config)}.",
        {"chains": chains.tolist(), "events": np.asarray(events)[chains].tolist(),
         "alpha_backoff": backoff[chains].tolist()})


# --- summary ----------------------------------------------------------------------------------------------------


def prediction_notes(result: Any) -> list[str]:
    """The warm-up's prediction of what alpha buys, as summary lines (none without one)."""
    stats = result.warmup_stats
    curve = _predicted_curve(result)
    floor = None if stats is None else stats.extra.get("variance_floor")
    if curve is None or not np.all(np.isfinite(curve)):
        return []
    best = int(np.argmin(curve))
    line = (f"warm-up prediction (mean over coordinates of Var_base / Var_SRMC): best {1 / curve[best]:.3g}x at "
            f"alpha {prediction.ALPHA_GRID[best]:g}")
    if floor is not None and np.all(np.isfinite(floor)):
        ceiling = float(prediction.gain_ceiling(floor))
        line += (f"; no alpha buys more than {ceiling:.3g}x with this tilt's history (first order)"
                 if ceiling < 1e4 else "; the history predicts x almost exactly (no first-order ceiling)")
        return [line, "(post hoc, score control variates on the base kernel's draws reach a score history's "
                      "first-order limit without SRMC: srmc.tools.control_variates)"]
    return [line]

