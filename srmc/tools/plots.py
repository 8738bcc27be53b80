"""Plots of a variance benchmark (`srmc.benchmark.BenchmarkReport`): MSE vs steps, MSE vs alpha, mode coverage.

Without ground truth (``report.truth_mean is None``) the MSE plots show the variance across replicates instead
(and are saved as variance_vs_steps.png and variance_vs_alpha.png).

matplotlib is optional (``pip install "srmc[plots]"``) and imported only when a plot is drawn. Figures are built
with ``matplotlib.figure.Figure`` (no pyplot), so saving plots never changes the user's backend.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from srmc.tools.benchmark import BenchmarkReport, BenchmarkRun


def _new_axes(ax: Any, figsize: tuple[float, float] = (5.5, 4.0)) -> Any:
    """`ax`, or the axes of a new pyplot-free figure."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").subplots()


def _run_label(run: BenchmarkRun) -> str:
    return run.row.label if run.tilt is None else f"{run.row.label} alpha={run.row.alpha:g}"


def _title(report: BenchmarkReport) -> str:
    s = report.settings
    return f"{s['target']}, {s['kernel']}, {s['num_replicates']} replicates"


def _measure(report: BenchmarkReport) -> str:
    """What the curves show: ``"MSE"`` with ground truth, else ``"variance across replicates"``."""
    return "MSE" if report.truth_mean is not None else "variance across replicates"


def alpha_warmup_end(report: BenchmarkReport) -> int | None:
    """The counted step at which alpha reaches its value (the warm-up runs over burn-in and counted steps alike),
    or None when the report's SRMC runs used a constant alpha (or it was reached during burn-in)."""
    s = report.settings
    end = int(s.get("alpha_warmup") or 0) - int(s.get("burn_in") or 0)
    has_srmc = any(run.tilt is not None for run in report.runs)
    return end if has_srmc and end > 0 else None


def plot_mse_vs_steps(report: BenchmarkReport, ax: Any = None) -> Any:
    """MSE of the running mean against counted steps, log-log, one line (+/- one standard error) per run.

    The alpha warm-up of the SRMC runs is shaded (counted steps 1 .. `alpha_warmup_end`): before its end alpha
    has not reached its value, so SRMC's lines leave the base kernel's 1/n line only after it.
    """
    ax = _new_axes(ax)
    warmup_end = alpha_warmup_end(report)
    if warmup_end is not None:
        ax.axvspan(1, warmup_end, color="0.85", alpha=0.5, lw=0, label=f"alpha warm-up ({warmup_end} steps)")
        ax.axvline(warmup_end, color="0.5", lw=0.8, ls="--")
    for run in report.runs:
        steps, mse, stderr = run.curve
        line, = ax.loglog(steps, mse, marker=".", label=_run_label(run))
        ax.fill_between(steps, np.maximum(mse - stderr, mse * 0.05), mse + stderr, color=line.get_color(), alpha=0.15)
    first = report.runs[0].curve
    tail = first.steps[first.steps >= first.steps[-1] / 30]  # a 1/n slope through the first run's last point
    ax.loglog(tail, first.mse[-1] * first.steps[-1] / tail, "k:", label="1/n")
    ax.set_xlabel("steps n")
    ax.set_ylabel(f"{_measure(report)} of the running mean of x")
    ax.set_title(_title(report), fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def plot_mse_vs_alpha(report: BenchmarkReport, ax: Any = None) -> Any:
    """Final MSE against alpha per tilt (log-log, error bars: one standard error); the base kernel as a band."""
    ax = _new_axes(ax)
    fields = ("mse", "mse_stderr") if report.truth_mean is not None else ("variance", "variance_stderr")

    def value(row: Any) -> tuple[float, float]:
        return getattr(row, fields[0]), getattr(row, fields[1])

    for run in (r for r in report.runs if r.tilt is None):
        mean, stderr = value(run.row)
        ax.axhline(mean, color="k", linestyle="--", label=f"{run.row.label} (alpha=0)")
        ax.axhspan(mean - stderr, mean + stderr, color="k", alpha=0.1)
    labels = dict.fromkeys(run.row.label for run in report.runs if run.tilt is not None)
    for label in labels:
        rows = [run.row for run in report.runs if run.row.label == label]
        ax.errorbar([r.alpha for r in rows], [value(r)[0] for r in rows], yerr=[value(r)[1] for r in rows],
                    marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("alpha")
    ax.set_ylabel(f"{_measure(report)} after {report.settings['num_steps']} steps")
    ax.set_title(_title(report), fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def plot_coverage(report: BenchmarkReport, ax: Any = None) -> Any:
    """Fraction of mixture modes visited against steps (mean over replicates), one line per run with coverage."""
    ax = _new_axes(ax)
    for run in report.runs:
        if run.coverage is not None:
            ax.semilogx(run.coverage.steps, run.coverage.fraction_visited, label=_run_label(run))
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("steps")
    ax.set_ylabel("fraction of modes visited")
    ax.set_title(_title(report), fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def save_plots(report: BenchmarkReport, directory: str | pathlib.Path, dpi: int = 110) -> list[pathlib.Path]:
    """Write mse_vs_steps.png, mse_vs_alpha.png (with an SRMC run) and coverage.png (mixtures) to `directory`
    (without ground truth: variance_vs_steps.png and variance_vs_alpha.png)."""
    directory = pathlib.Path(directory)
    prefix = "mse" if report.truth_mean is not None else "variance"
    plots = {f"{prefix}_vs_steps.png": plot_mse_vs_steps}
    if any(run.tilt is not None for run in report.runs):
        plots[f"{prefix}_vs_alpha.png"] = plot_mse_vs_alpha
    if any(run.coverage is not None for run in report.runs):
        plots["coverage.png"] = plot_coverage
    written = []
    for name, plot in plots.items():
        ax = plot(report)
        ax.figure.savefig(directory / name, dpi=dpi)
        written.append(directory / name)
    return written
