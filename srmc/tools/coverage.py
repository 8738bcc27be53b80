"""Mode-coverage metrics for multimodal targets, computed from stored draws.

Each draw is assigned to its nearest mode (Euclidean); a draw farther than `radius` from every mode counts
as between modes. All functions take draws of shape ``(num_chains, num_draws, dim)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from srmc.targets.base import spread_stderr


class ModeCoverage(NamedTuple):
    """Per-chain coverage: fraction of modes visited, draw index when all were visited (-1: never), TV."""

    fraction_visited: np.ndarray
    draws_to_visit_all: np.ndarray
    total_variation: np.ndarray


def assign_modes(draws: np.ndarray, means: np.ndarray, radius: float = np.inf) -> np.ndarray:
    """Index of the nearest mode for every draw, or -1 where the nearest mode is farther than `radius`."""
    draws, means = np.asarray(draws), np.asarray(means)
    distances = np.linalg.norm(draws[..., None, :] - means, axis=-1)
    nearest = distances.argmin(axis=-1)
    return np.where(distances.min(axis=-1) <= radius, nearest, -1)


def mode_coverage(draws: np.ndarray, means: np.ndarray, weights: np.ndarray | None = None,
                  radius: float = np.inf) -> ModeCoverage:
    """Fraction of modes visited, draws needed to visit all, and TV(occupancy, weights), per chain."""
    if np.ndim(draws) != 3:
        raise ValueError(f"draws must have shape (num_chains, num_draws, dim), got {np.shape(draws)}.")
    num_modes = len(means)
    weights = np.full(num_modes, 1.0 / num_modes) if weights is None else np.asarray(weights, float)
    labels = assign_modes(draws, means, radius)
    one_hot = labels[..., None] == np.arange(num_modes)  # (chains, draws, modes)
    seen = np.logical_or.accumulate(one_hot, axis=1)
    all_seen = seen.all(axis=-1)
    first_all = np.where(all_seen.any(axis=1), all_seen.argmax(axis=1), -1)
    occupancy = one_hot.mean(axis=1)
    total_variation = 0.5 * np.abs(occupancy - weights).sum(axis=-1) + 0.5 * (labels == -1).mean(axis=1)
    return ModeCoverage(seen[:, -1].mean(axis=-1), first_all, total_variation)


def coverage_curve(draws: np.ndarray, means: np.ndarray, radius: float = np.inf) -> np.ndarray:
    """Fraction of modes visited so far, per chain and draw: shape ``(num_chains, num_draws)``."""
    labels = assign_modes(draws, means, radius)
    seen = np.logical_or.accumulate(labels[..., None] == np.arange(len(means)), axis=1)
    return seen.mean(axis=-1)


class CoverageSummary(NamedTuple):
    """Mode coverage of a set of replicate chains, from draws stored every `thin` steps.

    steps: the step of each stored draw; fraction_visited: fraction of modes visited by then, averaged over
    chains; final_fraction_visited: the same at the last draw; all_visited_share: share of chains that visited
    every mode; median_steps_to_visit_all: median over chains of the steps until every mode was visited (inf
    when fewer than half of the chains did); total_variation (+ its standard error across chains): TV between
    each chain's mode occupancy and the true weights, averaged over chains.
    """

    steps: np.ndarray
    fraction_visited: np.ndarray
    final_fraction_visited: float
    all_visited_share: float
    median_steps_to_visit_all: float
    total_variation: float
    total_variation_stderr: float


def mixture_modes(target) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(means, weights, radius) of a Gaussian-mixture target (radius: 4 component standard deviations), else None."""
    mixture = target.mixture
    if mixture is None:
        return None
    radius = 4.0 * float(np.sqrt(mixture.variance))
    return np.asarray(mixture.means, np.float64), np.asarray(mixture.weights, np.float64), radius


def summarize_coverage(draws: np.ndarray, means: np.ndarray, weights: np.ndarray | None, thin: int,
                       radius: float = np.inf) -> CoverageSummary:
    """Coverage over time and at the end for draws ``(num_chains, num_draws, dim)`` stored every `thin` steps."""
    coverage = mode_coverage(draws, means, weights, radius)
    steps = thin * np.arange(1, np.shape(draws)[1] + 1)
    reached = coverage.draws_to_visit_all >= 0
    steps_to_all = np.where(reached, thin * (coverage.draws_to_visit_all + 1), np.inf)
    tv_stderr = spread_stderr(coverage.total_variation)
    return CoverageSummary(
        steps=steps,
        fraction_visited=coverage_curve(draws, means, radius).mean(axis=0),
        final_fraction_visited=float(coverage.fraction_visited.mean()),
        all_visited_share=float(reached.mean()),
        median_steps_to_visit_all=float(np.median(steps_to_all)),
        total_variation=float(coverage.total_variation.mean()),
        total_variation_stderr=float(tv_stderr),
    )
