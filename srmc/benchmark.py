"""Replicate-based variance benchmarks: how much does alpha buy on a target, and at what cost.

Each replicate is an independent chain (vmapped); the estimator is the chain's running mean of x. The error is
measured against the target's ground truth, so MSE = bias^2 + variance and nothing is assumed about mixing.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from srmc import schedules
from srmc.algorithm import base
from srmc.runner import sample
from srmc.wrapper import wrap
from targets import Target


class BenchmarkRow(NamedTuple):
    """One configuration's replicate statistics (errors averaged over coordinates)."""

    label: str
    alpha: float
    mse: float
    mse_stderr: float
    n_times_variance: float
    acceptance_rate: float
    seconds_per_step: float
    num_nonfinite: int


def replicate_errors(estimates: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-replicate squared error averaged over coordinates: mean_i (estimate_i - truth_i)^2."""
    return np.mean((np.asarray(estimates, np.float64) - np.asarray(truth, np.float64)) ** 2, axis=-1)


def mse_with_stderr(estimates: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean squared error over replicates and its standard error (spread of per-replicate errors)."""
    errors = replicate_errors(estimates, truth)
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(errors.shape[0]))


def mse_ratio_with_stderr(baseline: np.ndarray, other: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """MSE(baseline) / MSE(other) with a delta-method standard error (independent replicate sets)."""
    (m0, s0), (m1, s1) = mse_with_stderr(baseline, truth), mse_with_stderr(other, truth)
    ratio = m0 / m1
    return ratio, ratio * float(np.sqrt((s0 / m0) ** 2 + (s1 / m1) ** 2))


def variance_benchmark(
    rng_key: jax.Array,
    target: Target,
    kernel: Any,
    kernel_params: dict,
    alphas: Sequence[float],
    *,
    num_steps: int,
    num_replicates: int,
    tilts: Sequence[str] = ("score",),
    gradient: str = "exact",
    gamma: float | schedules.Schedule | None = None,
    alpha_warmup: int = 0,
    burn_in: int = 0,
    chunk_size: int | None = None,
    progress: bool | None = False,
) -> list[BenchmarkRow]:
    """MSE of the running-mean estimate of E[x] for each tilt and alpha (alpha = 0: the base kernel, run once).

    Replicates start from exact draws when the target has an exact sampler, so the error measures the
    estimator, not the burn-in. All configurations share the same keys and starting points.
    """
    if target.ground_truth is None:
        raise ValueError(f"target {target.name} has no ground truth to benchmark against.")
    init_key, run_key = jax.random.split(rng_key)
    starts = (target.sample or target.initial_position)(init_key, num_replicates)
    configurations = [(None, 0.0)] if 0 in alphas else []
    configurations += [(tilt, alpha) for tilt in tilts for alpha in alphas if alpha != 0]
    rows = []
    for tilt, alpha in configurations:
        if tilt is None:
            algorithm, label = base(kernel, **kernel_params), "base"
        else:
            alpha_value = schedules.linear_warmup(alpha, alpha_warmup) if alpha_warmup else alpha
            algorithm = wrap(kernel, alpha=alpha_value, tilt=tilt, gradient=gradient, gamma=gamma, **kernel_params)
            label = f"srmc[{tilt}]"
        chunk = chunk_size or max(1, (num_steps + burn_in) // 10)
        # compile first (same chunk shape as the timed run), so the timing measures sampling only
        sample(run_key, algorithm, target, chunk, num_replicates, initial_position=starts, chunk_size=chunk)
        start = time.perf_counter()
        result = sample(
            run_key, algorithm, target, num_steps, num_replicates, initial_position=starts, burn_in=burn_in,
            chunk_size=chunk, progress=progress,
        )
        seconds = time.perf_counter() - start
        estimates = result.chain_estimates["x"]
        mse, stderr = mse_with_stderr(estimates, target.ground_truth.mean)
        rows.append(BenchmarkRow(
            label=label,
            alpha=float(alpha),
            mse=mse,
            mse_stderr=stderr,
            n_times_variance=float(num_steps * np.mean(np.var(estimates, axis=0, ddof=1))),
            acceptance_rate=float(result.acceptance_rate.mean()),
            seconds_per_step=seconds / (num_steps + burn_in),
            num_nonfinite=int(result.num_nonfinite.sum()),
        ))
    return rows


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """A plain-text table of benchmark rows, with the MSE ratio against the first row."""
    header = f"{'sampler':<14}{'alpha':>7}{'MSE':>12}{'+/- se':>11}{'ratio':>8}{'n*Var':>10}{'accept':>8}{'ms/step':>9}{'nonfin':>8}"
    lines = [header]
    reference = rows[0].mse if rows else np.nan
    for row in rows:
        lines.append(
            f"{row.label:<14}{row.alpha:>7g}{row.mse:>12.4g}{row.mse_stderr:>11.2g}{reference / row.mse:>8.2f}"
            f"{row.n_times_variance:>10.4g}{row.acceptance_rate:>8.3f}{1e3 * row.seconds_per_step:>9.3f}"
            f"{row.num_nonfinite:>8d}"
        )
    return "\n".join(lines)
