"""Mode-coverage metrics for multimodal targets, computed from stored draws.

Each draw is assigned to its nearest mode (Euclidean); a draw farther than `radius` from every mode counts
as between modes. All functions take draws of shape ``(num_chains, num_draws, dim)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


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
