"""Replicate-based variance benchmarks: how much does alpha buy on a target, and at what cost.

Each replicate is an independent chain (vmapped); the estimators are the chain's running means of x and x^2.
Errors are measured against the target's ground truth, so MSE = bias^2 + variance and nothing is assumed about
mixing. Targets without ground truth (a user's own model) get what can be measured without it: the variance
across replicates, the variance ratio base / configuration with its standard error, and a bias check of every
configuration against the base kernel's estimate (``bias_z_vs_base``); targets with ground truth get both.
Per configuration the benchmark records the final per-replicate estimates (for recomputation), the MSE
at a geometric grid of steps (``srmc.sample(snapshot_steps=...)``), the wall time per step with compilation
excluded, evaluations per step (`srmc.evaluations`) and, for Gaussian mixtures, mode coverage over time.
"""

from __future__ import annotations

import json
import pathlib
import platform
import time
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from srmc.engine.adaptation import resolve_warmup
from srmc.engine.options import RunOptions
from srmc.engine.runner import sample
from srmc.method import schedules
from srmc.method.algorithm import Algorithm
from srmc.method.base import base
from srmc.method.srmc import wrap
from srmc.method.tilt import SCORE, TILTS
from srmc.targets import Continuous, Target
from srmc.targets.base import spread_stderr
from srmc.tools.control_variates import NOT_IN_EQUILIBRIUM, control_variate_mean, stein_check
from srmc.tools.coverage import CoverageSummary, mixture_modes, summarize_coverage
from srmc.tools.evaluations import EvaluationCounts, count_evaluations

REPORT_FORMAT = "srmc-bench/1"


class BenchmarkRow(NamedTuple):
    """One configuration's replicate statistics (errors averaged over coordinates; times for all replicates).

    Over the R replicates of a configuration, with e_ri the final running mean of x_i in replicate r:

    - ``mse``, ``mse_stderr``: mean_r mean_i (e_ri - truth_i)^2 and its standard error (NaN without ground truth).
    - ``variance``: mean_i Var_r(e_ri) (sample variance, ddof 1), i.e. mean_r q_r with
      q_r = R / (R - 1) * mean_i (e_ri - mean_r e_ri)^2; ``variance_stderr``: std_r(q_r) / sqrt(R).
    - ``variance_ratio``: variance(base) / variance(this row) (base: the alpha = 0 row; 1 on the base row itself,
      NaN when there is no base row); ``variance_ratio_se``: its delta-method standard error
      ratio * sqrt((se_base / var_base)^2 + (se / var)^2), which treats the two replicate sets as independent.
    - ``bias_z_vs_base``: z_i = (mean_r e_ri - mean_r b_ri) / sqrt(se_i^2 + se_base,i^2) with se_i = std_r(e_ri) /
      sqrt(R), b the base row's estimates; the z_i of largest |z_i| over coordinates (0 on the base row, NaN
      without one). Under "no bias relative to the base kernel" each z_i is about N(0, 1).
    - ``second_moment_*``: the same for the running mean of x^2.
    - ``compile_seconds``: what the configuration's run spent compiling (``result.compile_time``); the alphas of
      one tilt share a program, so after the first of them it is about 0.
    """

    label: str
    alpha: float
    mse: float
    mse_stderr: float
    second_moment_mse: float
    second_moment_mse_stderr: float
    n_times_variance: float
    acceptance_rate: float
    seconds_per_step: float
    num_nonfinite: int
    logdensity_per_step: float = float("nan")
    gradient_per_step: float = float("nan")
    hessian_vector_per_step: float = float("nan")
    variance: float = float("nan")
    variance_stderr: float = float("nan")
    variance_ratio: float = float("nan")
    variance_ratio_se: float = float("nan")
    bias_z_vs_base: float = float("nan")
    second_moment_variance: float = float("nan")
    second_moment_variance_stderr: float = float("nan")
    second_moment_variance_ratio: float = float("nan")
    second_moment_variance_ratio_se: float = float("nan")
    second_moment_bias_z_vs_base: float = float("nan")
    compile_seconds: float = float("nan")


class MSECurve(NamedTuple):
    """MSE of the running mean of x (averaged over coordinates) at counted steps, with its standard error.

    Without ground truth the curve holds the variance across replicates instead (`variance_with_stderr`).
    """

    steps: np.ndarray
    mse: np.ndarray
    mse_stderr: np.ndarray


class BenchmarkRun(NamedTuple):
    """A row with what it was computed from: per-replicate final estimates, the MSE curve, mode coverage."""

    row: BenchmarkRow
    tilt: str | None
    estimates: np.ndarray
    second_moments: np.ndarray
    curve: MSECurve
    coverage: CoverageSummary | None
    warnings: tuple[str, ...] = ()  # health report of the run (`srmc.engine.health`), as printed lines


class BenchmarkReport(NamedTuple):
    """Everything one benchmark measured: its settings, the ground truth (None without) and one run per configuration.

    ``settings["notes"]`` lists what the reader must know about the numbers (e.g. no base row to compare with).
    """

    settings: dict
    truth_mean: np.ndarray | None
    truth_second_moment: np.ndarray | None
    runs: list[BenchmarkRun]

    @property
    def rows(self) -> list[BenchmarkRow]:
        """The table rows, one per configuration."""
        return [run.row for run in self.runs]


def replicate_errors(estimates: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-replicate squared error averaged over coordinates: mean_i (estimate_i - truth_i)^2."""
    return np.mean((np.asarray(estimates, np.float64) - np.asarray(truth, np.float64)) ** 2, axis=-1)


def mse_with_stderr(estimates: np.ndarray, truth: np.ndarray) -> tuple[Any, Any]:
    """MSE over replicates (the second-to-last axis) and its standard error (spread of per-replicate errors)."""
    errors = np.moveaxis(replicate_errors(estimates, truth), -1, 0)  # replicates first
    mse, stderr = errors.mean(axis=0), spread_stderr(errors)
    return (float(mse), float(stderr)) if errors.ndim == 1 else (mse, stderr)


def mse_ratio_with_stderr(baseline: np.ndarray, other: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """MSE(baseline) / MSE(other) with a delta-method standard error (independent replicate sets)."""
    (m0, s0), (m1, s1) = mse_with_stderr(baseline, truth), mse_with_stderr(other, truth)
    ratio = m0 / m1
    return ratio, ratio * float(np.sqrt((s0 / m0) ** 2 + (s1 / m1) ** 2))


def variance_with_stderr(estimates: np.ndarray) -> tuple[Any, Any]:
    """Variance across replicates (the second-to-last axis; ddof 1) averaged over coordinates, and its standard
    error: the mean and spread over replicates of q_r = R / (R - 1) * mean_i (e_ri - mean_r e_ri)^2."""
    estimates = np.asarray(estimates, np.float64)
    count = estimates.shape[-2]
    centred = estimates - estimates.mean(axis=-2, keepdims=True)
    squares = np.moveaxis(np.mean(centred**2, axis=-1) * count / (count - 1), -1, 0)  # replicates first
    variance, stderr = squares.mean(axis=0), spread_stderr(squares)
    return (float(variance), float(stderr)) if squares.ndim == 1 else (variance, stderr)


def variance_ratio_with_stderr(baseline: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Var(baseline) / Var(other) across replicates (coordinates averaged first) with a delta-method standard error
    that treats the two replicate sets as independent."""
    (v0, s0), (v1, s1) = variance_with_stderr(baseline), variance_with_stderr(other)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.float64(v0) / np.float64(v1)
        return float(ratio), float(ratio * np.sqrt((s0 / v0) ** 2 + (s1 / v1) ** 2))


def bias_z(baseline: np.ndarray, other: np.ndarray) -> float:
    """The z of largest magnitude over coordinates of (mean of `other` - mean of `baseline`) over replicates, in
    units of sqrt(se_other^2 + se_baseline^2) (se: spread across replicates / sqrt(replicates)); NaN if none is
    finite."""
    baseline, other = np.asarray(baseline, np.float64), np.asarray(other, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (other.mean(axis=0) - baseline.mean(axis=0)) / np.sqrt(spread_stderr(other) ** 2
                                                                     + spread_stderr(baseline) ** 2)
    z = np.where(np.isfinite(z), z, np.nan)
    return float("nan") if np.all(np.isnan(z)) else float(z[np.nanargmax(np.abs(z))])


def compare_with_base(runs: Sequence[BenchmarkRun]) -> list[BenchmarkRun]:
    """`runs` with each row's variance ratios and bias z against the base run (the first with ``tilt`` None and
    alpha 0); NaN throughout when there is none."""
    base_run = next((run for run in runs if run.tilt is None and run.row.alpha == 0), None)
    compared = []
    for run in runs:
        fields = dict.fromkeys(("variance_ratio", "variance_ratio_se", "bias_z_vs_base",
                                "second_moment_variance_ratio", "second_moment_variance_ratio_se",
                                "second_moment_bias_z_vs_base"), float("nan"))
        if base_run is not None:
            for prefix, name in (("", "estimates"), ("second_moment_", "second_moments")):
                ratio, se = variance_ratio_with_stderr(getattr(base_run, name), getattr(run, name))
                fields[prefix + "variance_ratio"], fields[prefix + "variance_ratio_se"] = ratio, se
                fields[prefix + "bias_z_vs_base"] = bias_z(getattr(base_run, name), getattr(run, name))
            if run is base_run:  # the base compared with itself: exactly 1 and 0
                fields.update(variance_ratio=1.0, variance_ratio_se=0.0, bias_z_vs_base=0.0,
                              second_moment_variance_ratio=1.0, second_moment_variance_ratio_se=0.0,
                              second_moment_bias_z_vs_base=0.0)
        compared.append(run._replace(row=run.row._replace(**fields)))
    return compared


NO_BASE_NOTE = ("no alpha = 0 (base kernel) configuration: variance_ratio and bias_z_vs_base compare against it "
                "and are NaN; add 0 to the alphas")


def snapshot_grid(num_steps: int, num_points: int = 20, first: int = 10) -> tuple[int, ...]:
    """About `num_points` distinct steps spaced geometrically from `first` to `num_steps` (always included)."""
    first = min(first, num_steps)
    return tuple(int(s) for s in np.unique(np.geomspace(first, num_steps, num_points).round().astype(int)))


def timed_sample(*args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``srmc.sample(*args, **kwargs)`` and its sampling time (compilation excluded: ``result.sampling_time``)."""
    result = sample(*args, **kwargs)
    return result, result.sampling_time


PAPER_TILT_ALPHA_WARMUP = 500  # the CLI's linear alpha warm-up for the score and linear tilts when none is given


def tilt_alpha_warmup(tilt: str, alpha_warmup: int | None) -> int:
    """Steps of linear alpha warm-up for `tilt`: as given, or (None) `PAPER_TILT_ALPHA_WARMUP` for the paper's
    tilts and 0 for a tilt that ramps alpha itself (the bounded tilt's n / (100 + n / alpha))."""
    if alpha_warmup is not None:
        return alpha_warmup
    return 0 if TILTS.get(tilt, SCORE).defaults.alpha_ramp else PAPER_TILT_ALPHA_WARMUP


def configurations(kernel: Any, kernel_params: dict, alphas: Sequence[float], tilts: Sequence[str],
                   gradient: str, gamma: Any, alpha_warmup: int | None
                   ) -> list[tuple[str, str | None, float, Algorithm]]:
    """(label, tilt, alpha, algorithm) per configuration: the base kernel once if 0 is among `alphas`, then
    SRMC for every tilt and non-zero alpha (warmed up linearly over `tilt_alpha_warmup(tilt, alpha_warmup)`
    steps when > 0). alpha is data (``algorithm.params``), so the alphas of one tilt share one compiled
    program."""
    result = [("base", None, 0.0, base(kernel, **kernel_params))] if 0 in alphas else []
    for tilt in tilts:
        warmup_steps = tilt_alpha_warmup(tilt, alpha_warmup)
        for alpha in (a for a in alphas if a != 0):
            alpha_value = schedules.linear_warmup(alpha, warmup_steps) if warmup_steps else float(alpha)
            algorithm = wrap(kernel, alpha=alpha_value, tilt=tilt, gradient=gradient, gamma=gamma, **kernel_params)
            label = f"srmc[{tilt}]" if gradient == "exact" else f"srmc[{tilt},{gradient}]"
            result.append((label, tilt, float(alpha), algorithm))
    return result


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
    alpha_warmup: int | None = 0,
    warmup: int | None = None,
    burn_in: int = 0,
    snapshot_steps: Sequence[int] | None = None,
    coverage_draws: int = 200,
    count_steps: int = 3,
    chunk_size: int | None = None,
    progress: bool | None = False,
    independent_keys: bool = False,
    control_variates: bool = False,
) -> BenchmarkReport:
    """MSE (with ground truth) and variance across replicates of the running means of x and x^2 for each tilt and
    alpha (alpha = 0: the base kernel, run once), with variance ratios and bias z against the base kernel.

    Replicates start from exact draws when the target has an exact sampler (so the error measures the estimator,
    not the burn-in), else from its initial-position sampler (`targets.from_logdensity`: N(0, I);
    `targets.from_numpyro`: NumPyro's init strategy), which is where `warmup` (steps of the base kernel on the
    target, adapting its step size, before anything is counted) and `burn_in` matter. ``warmup=None``: every
    configuration gets the warm-up the most demanding one needs by default (`srmc.sample`'s; 1000 steps when the
    default bounded tilt is among them, else none), so that all of them compare like for like.

    Keys: by default all configurations share the same keys and starting points: replicate ``r`` of every
    configuration is ``srmc.sample(run_key, algorithm, target, num_steps, num_replicates, initial_position=starts,
    burn_in=burn_in)`` with ``init_key, run_key = jax.random.split(rng_key)`` and ``starts = sampler(init_key,
    num_replicates)``. Replicates are then independent within a configuration but NOT across configurations
    (replicate r of every configuration starts at the same point with the same keys, and the warm-up, which runs
    the base kernel alone, is identical), while ``variance_ratio_se`` and ``bias_z_vs_base`` treat the two
    replicate sets they compare as independent: when the configurations' estimates are positively correlated (the
    usual effect of common random numbers) those standard errors are too large, i.e. conservative. With
    ``independent_keys=True`` configuration ``k`` (in table order) uses ``jax.random.fold_in(init_key, k)`` and
    ``jax.random.fold_in(run_key, k)`` instead, and the comparisons' standard errors hold as stated.

    Without ground truth (``target.ground_truth is None``) the MSE fields are NaN, ``truth_mean`` and
    ``truth_second_moment`` are None and the MSE curve holds the variance across replicates. The comparisons need
    alpha 0 among `alphas`; without it they are NaN and ``settings["notes"]`` says so.

    Args:
      snapshot_steps: steps of the MSE-vs-steps curve (default: a geometric grid of about 20 steps).
      coverage_draws: for Gaussian-mixture targets, about this many stored draws per chain for mode coverage.
      count_steps: eager steps of one chain used to count evaluations per step (0: do not count).
      independent_keys: fresh keys and starts per configuration (see Keys above).
      control_variates: also a row ``base+cv``: the base kernel's own run (every draw stored) with its means of x
        and x^2 corrected after the fact by the score (`srmc.tools.control_variates`; curve: refitted at every
        snapshot step), SRMC's first-order limit reached without SRMC. Needs alpha 0 among `alphas`.
    """
    if num_replicates < 2:
        raise ValueError(f"num_replicates must be >= 2 (the MSE's standard error needs a spread), "
                         f"got {num_replicates}.")
    if not alphas or any(not np.isfinite(a) or a < 0 for a in alphas):
        raise ValueError(f"alphas must be finite numbers >= 0, got {list(alphas)}.")
    truth = target.ground_truth
    truth_mean = None if truth is None else np.asarray(truth.mean, np.float64)
    truth_second = None if truth is None else np.asarray(truth.variance, np.float64) + truth_mean**2
    init_key, run_key = jax.random.split(rng_key)
    sampler = target.sample or target.initial_position
    starts = sampler(init_key, num_replicates)
    snapshot_steps = snapshot_grid(num_steps) if snapshot_steps is None else tuple(snapshot_steps)
    modes = mixture_modes(target)
    thin = max(1, num_steps // coverage_draws) if modes is not None else None
    chunk = chunk_size or max(1, (num_steps + burn_in) // 10)
    if control_variates and (0 not in alphas or not isinstance(target.space, Continuous)):
        raise ValueError("control_variates=True corrects the base kernel's run by the score (Stein's identity, "
                         "continuous targets): add 0 to the alphas, on a continuous target.")
    runs = []
    configs = configurations(kernel, kernel_params, alphas, tilts, gradient, gamma, alpha_warmup)
    if warmup is None:  # every configuration gets the same warm-up: the longest any of them needs by default
        warmup = max(getattr(resolve_warmup(None, algorithm, target), "num_steps", 0) for *_, algorithm in configs)
    for index, (label, tilt, alpha, algorithm) in enumerate(configs):
        key, config_starts = run_key, starts
        if independent_keys:
            key = jax.random.fold_in(run_key, index)
            config_starts = sampler(jax.random.fold_in(init_key, index), num_replicates)
        corrected = control_variates and tilt is None
        options = RunOptions(burn_in=burn_in, thin=1 if corrected else thin, chunk_size=chunk, progress=progress,
                             snapshot_steps=snapshot_steps)
        result, seconds = timed_sample(key, algorithm, target, num_steps, num_replicates,
                                       initial_position=config_starts, warmup=warmup, options=options)
        run_params = jax.tree.map(lambda leaf: leaf[0], result.params)  # one chain's, after the warm-up
        counts = (count_evaluations(algorithm, target, config_starts[0], num_steps=count_steps, params=run_params)
                  if count_steps else EvaluationCounts(float("nan"), float("nan"), float("nan")))
        estimates = [np.asarray(result.chain_estimates[name], np.float64) for name in ("x", "x^2")]
        runs.append(_benchmark_run(label, tilt, alpha, result, seconds / (num_steps + burn_in), counts,
                                   truth_mean, truth_second, modes, *estimates, result.snapshots["x"]))
        if corrected:
            runs.append(_control_variate_run(result, target, runs[-1].row, truth_mean, truth_second))
    runs = compare_with_base(runs)
    settings = {
        "target": target.name, "kernel": configs[0][3].kernel.spec.name,
        "kernel_params": dict(kernel_params), "alphas": [float(a) for a in alphas], "tilts": list(tilts),
        "gradient": gradient, "gamma": "default" if gamma is None else repr(gamma), "alpha_warmup": alpha_warmup,
        "warmup": warmup, "num_steps": num_steps, "num_replicates": num_replicates, "burn_in": burn_in, "thin": thin,
        "control_variates": control_variates,
        "ground_truth": "none" if truth is None else ("exact" if truth.exact else "reference run"),
        "count_steps": count_steps, "jax": jax.__version__, "device": str(jax.devices()[0]),
        "machine": platform.machine(),
        "replicate_keys": "independent per configuration" if independent_keys else "shared by all configurations",
        "notes": [] if any(run.tilt is None for run in runs) else [NO_BASE_NOTE],
    }
    return BenchmarkReport(settings, truth_mean, truth_second, runs)


def _control_variate_run(result: Any, target: Target, base_row: BenchmarkRow, truth_mean: np.ndarray | None,
                         truth_second: np.ndarray | None) -> BenchmarkRun:
    """The ``base+cv`` row: the base run's means of x and x^2 corrected by the score after the fact."""
    draws = np.asarray(result.draws, np.float64)
    score_all = jax.jit(jax.vmap(jax.vmap(target.score))).lower(result.draws).compile()  # compilation excluded
    start = time.perf_counter()  # the correction's cost (scores at every draw, the fits) joins the base's time
    scores = np.asarray(score_all(result.draws), np.float64)

    def corrected(values: np.ndarray, steps: int) -> np.ndarray:  # the Stein check runs once, on all draws
        try:
            return control_variate_mean(draws[:, :steps], scores[:, :steps], values=values[:, :steps],
                                        check_equilibrium=False).chain_estimates
        except ValueError:  # too few draws for the fit this early: no point on the curve
            return np.full(values.shape[::2], np.nan)

    estimates, second_moments = corrected(draws, draws.shape[1]), corrected(draws**2, draws.shape[1])
    fit_seconds = time.perf_counter() - start
    stein = ["WARNING [stein_identity]: " + NOT_IN_EQUILIBRIUM] if stein_check(draws, scores) is False else []
    snapshots = np.stack([corrected(draws, int(step)) for step in result.snapshot_steps])
    counts = EvaluationCounts(base_row.logdensity_per_step, base_row.gradient_per_step,
                              base_row.hessian_vector_per_step)
    seconds_per_step = base_row.seconds_per_step + fit_seconds / (result.num_steps + result.burn_in)
    run = _benchmark_run("base+cv", None, 0.0, result, seconds_per_step, counts, truth_mean, truth_second, None,
                         estimates, second_moments, snapshots)
    return run._replace(warnings=tuple(stein) + run.warnings)  # the base run's health report applies here too


def _benchmark_run(label: str, tilt: str | None, alpha: float, result: Any, seconds_per_step: float,
                   counts: EvaluationCounts, truth_mean: np.ndarray | None, truth_second: np.ndarray | None,
                   modes: tuple | None, estimates: np.ndarray, second_moments: np.ndarray,
                   snapshots: np.ndarray) -> BenchmarkRun:
    """A row from a run's final estimates of x and x^2 per replicate and its snapshots of x."""
    nan = float("nan")
    if truth_mean is None:
        (mse, stderr), (mse2, stderr2) = (nan, nan), (nan, nan)
        curve_mse, curve_stderr = variance_with_stderr(snapshots)
    else:
        mse, stderr = mse_with_stderr(estimates, truth_mean)
        mse2, stderr2 = mse_with_stderr(second_moments, truth_second)
        curve_mse, curve_stderr = mse_with_stderr(snapshots, truth_mean)
    variance, variance_stderr = variance_with_stderr(estimates)
    variance2, variance2_stderr = variance_with_stderr(second_moments)
    row = BenchmarkRow(
        label=label, alpha=alpha, mse=mse, mse_stderr=stderr, second_moment_mse=mse2,
        second_moment_mse_stderr=stderr2,
        n_times_variance=float(result.num_steps * np.mean(np.var(estimates, axis=0, ddof=1))),
        acceptance_rate=float(result.acceptance_rate.mean()), seconds_per_step=seconds_per_step,
        num_nonfinite=int(result.num_nonfinite.sum()), logdensity_per_step=counts.logdensity,
        gradient_per_step=counts.gradient, hessian_vector_per_step=counts.hessian_vector,
        variance=variance, variance_stderr=variance_stderr, second_moment_variance=variance2,
        second_moment_variance_stderr=variance2_stderr, compile_seconds=float(result.compile_time),
    )
    coverage = None
    if modes is not None and result.draws is not None:
        means, weights, radius = modes
        coverage = summarize_coverage(result.draws, means, weights, result.thin, radius)
    curve = MSECurve(np.asarray(result.snapshot_steps), np.atleast_1d(curve_mse), np.atleast_1d(curve_stderr))
    return BenchmarkRun(row, tilt, estimates, second_moments, curve, coverage,
                        tuple(str(warning) for warning in result.warnings))


def _plus_minus(value: float, stderr: float) -> str:
    return f"{value:.3g}+/-{stderr:.2g}"


VARIANCE_COLUMNS = [  # (title, width, cell): what is measured without ground truth
    ("Var ratio", 14, lambda r: _plus_minus(r.variance_ratio, r.variance_ratio_se)),
    ("bias z", 6, lambda r: f"{r.bias_z_vs_base:.2f}"),
    ("x^2 ratio", 14, lambda r: _plus_minus(r.second_moment_variance_ratio, r.second_moment_variance_ratio_se)),
    ("z x^2", 6, lambda r: f"{r.second_moment_bias_z_vs_base:.2f}"),
]


def format_table(rows: Sequence[BenchmarkRow], variance: bool | None = None) -> str:
    """A plain-text table of benchmark rows; `ratio` is the first row's MSE over each row's.

    `variance`: also show the variance ratio base / row (+/- its standard error) and the bias z against the base
    for x and x^2 (`BenchmarkRow`); None: only when no row has an MSE (no ground truth), where the MSE columns
    are replaced by the variance across replicates (``Var``, averaged over coordinates) and its standard error.
    """
    has_truth = any(np.isfinite(r.mse) for r in rows)
    variance = not has_truth if variance is None else variance
    reference = rows[0].mse if rows else np.nan
    label_width = -max([14] + [len(r.label) for r in rows])  # left-aligned, wide enough for srmc[second_order]
    if has_truth:
        columns = [  # (title, width, cell)
            ("sampler", label_width, lambda r: r.label),
            ("alpha", 5, lambda r: f"{r.alpha:g}"),
            ("MSE", 10, lambda r: f"{r.mse:.4g}"),
            ("+/- se", 8, lambda r: f"{r.mse_stderr:.2g}"),
            ("ratio", 6, lambda r: f"{reference / r.mse:.2f}"),
            ("MSE x^2", 9, lambda r: f"{r.second_moment_mse:.3g}"),
        ]
    else:
        columns = [
            ("sampler", label_width, lambda r: r.label),
            ("alpha", 5, lambda r: f"{r.alpha:g}"),
            ("Var", 10, lambda r: f"{r.variance:.4g}"),
            ("+/- se", 8, lambda r: f"{r.variance_stderr:.2g}"),
        ]
    columns += VARIANCE_COLUMNS if variance else []
    columns += [
        ("n*Var", 9, lambda r: f"{r.n_times_variance:.4g}"),
        ("accept", 6, lambda r: f"{r.acceptance_rate:.3f}"),
        ("ms/step", 8, lambda r: f"{1e3 * r.seconds_per_step:.3f}"),
        ("compile s", 9, lambda r: f"{r.compile_seconds:.2f}"),
        ("logp", 4, lambda r: f"{r.logdensity_per_step:.3g}"),
        ("grad", 4, lambda r: f"{r.gradient_per_step:.3g}"),
        ("hvp", 4, lambda r: f"{r.hessian_vector_per_step:.3g}"),
        ("nonfin", 6, lambda r: f"{r.num_nonfinite:d}"),
    ]

    def line(cells: Sequence[str]) -> str:
        return " ".join(f"{cell:<{-w}}" if w < 0 else f"{cell:>{w}}" for cell, (_, w, _) in zip(cells, columns))

    header = line([title for title, _, _ in columns])
    return "\n".join([header] + [line([cell(row) for _, _, cell in columns]) for row in rows])


def format_coverage_table(runs: Sequence[BenchmarkRun]) -> str:
    """Mode coverage per run (runs without coverage are left out): modes visited, chains that saw all, TV."""
    lines = [f"{'sampler':<14} {'alpha':>5} {'modes visited':>13} {'all visited':>11} {'median steps to all':>19} "
             f"{'TV':>6} {'+/- se':>7}"]
    for run in (r for r in runs if r.coverage is not None):
        c = run.coverage
        lines.append(f"{run.row.label:<14} {run.row.alpha:>5g} {c.final_fraction_visited:>13.3f} "
                     f"{c.all_visited_share:>11.3f} {c.median_steps_to_visit_all:>19g} {c.total_variation:>6.3f} "
                     f"{c.total_variation_stderr:>7.2g}")
    return "\n".join(lines)


def report_to_dict(report: BenchmarkReport) -> dict:
    """A JSON-ready dict of a report (arrays as nested lists); `report_from_dict` inverts it.

    Each run's ``row`` holds every `BenchmarkRow` field by name (``mse``, ``variance``, ``variance_ratio``,
    ``variance_ratio_se``, ``bias_z_vs_base``, ``second_moment_...``); ``truth_mean`` is null without ground truth.
    """
    return {
        "format": REPORT_FORMAT,
        "settings": _jsonable(report.settings),
        "truth_mean": None if report.truth_mean is None else report.truth_mean.tolist(),
        "truth_second_moment": None if report.truth_second_moment is None else report.truth_second_moment.tolist(),
        "runs": [
            {
                "row": run.row._asdict(),
                "tilt": run.tilt,
                "estimates": run.estimates.tolist(),
                "second_moments": run.second_moments.tolist(),
                "curve": {name: np.asarray(value).tolist() for name, value in run.curve._asdict().items()},
                "coverage": None if run.coverage is None else {
                    name: np.asarray(value).tolist() for name, value in run.coverage._asdict().items()},
                "warnings": list(run.warnings),
            }
            for run in report.runs
        ],
    }


def report_from_dict(data: dict) -> BenchmarkReport:
    """Rebuild a `BenchmarkReport` from `report_to_dict`'s output."""
    if data.get("format") != REPORT_FORMAT:
        raise ValueError(f"not an srmc benchmark report (format {data.get('format')!r}, expected {REPORT_FORMAT!r}).")
    runs = []
    for run in data["runs"]:
        coverage = run["coverage"]
        runs.append(BenchmarkRun(
            row=BenchmarkRow(**run["row"]),
            tilt=run["tilt"],
            estimates=np.asarray(run["estimates"], np.float64),
            second_moments=np.asarray(run["second_moments"], np.float64),
            curve=MSECurve(*(np.asarray(run["curve"][name], dtype) for name, dtype in
                             zip(MSECurve._fields, (np.int64, np.float64, np.float64)))),
            coverage=None if coverage is None else CoverageSummary(
                np.asarray(coverage["steps"], np.int64), np.asarray(coverage["fraction_visited"], np.float64),
                *(float(coverage[name]) for name in CoverageSummary._fields[2:])),
            warnings=tuple(run.get("warnings", ())),
        ))
    truth_mean, truth_second = data["truth_mean"], data["truth_second_moment"]
    return BenchmarkReport(data["settings"], None if truth_mean is None else np.asarray(truth_mean, np.float64),
                           None if truth_second is None else np.asarray(truth_second, np.float64), runs)


def save_report(report: BenchmarkReport, path: str | pathlib.Path) -> pathlib.Path:
    """Write a report as JSON (non-finite numbers as NaN/Infinity, which Python's json reads back)."""
    path = pathlib.Path(path)
    path.write_text(json.dumps(report_to_dict(report), indent=1))
    return path


def load_report(path: str | pathlib.Path) -> BenchmarkReport:
    """Read a report written by `save_report` (or ``srmc bench --out``)."""
    return report_from_dict(json.loads(pathlib.Path(path).read_text()))


def _jsonable(value: Any) -> Any:
    """Settings made JSON-ready: containers recursively, arrays as lists, anything else unknown as its repr."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return np.asarray(value).tolist()
    return repr(value)
