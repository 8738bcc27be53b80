"""Checks that run before compilation and name the offending argument."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from targets import Target, from_logdensity


def check_int(value: Any, name: str, *, minimum: int) -> int:
    """`value` as an int >= minimum, else a ValueError/TypeError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def resolve_target(target: Target | Callable, initial_position: Any) -> Target:
    """A `Target`, or a bare log density turned into one (its dimension read off `initial_position`)."""
    if isinstance(target, Target):
        return target
    if callable(target):
        if initial_position is None:
            raise ValueError("initial_position is required when target is a bare log density function.")
        dim = int(np.shape(initial_position)[-1])
        return from_logdensity(target, dim)
    raise TypeError(f"target must be a targets.Target or a log density function, got {type(target).__name__}.")


def check_initial_positions(target: Target, initial_position: Any, num_chains: int, rng_key: jax.Array) -> jax.Array:
    """Initial positions of shape (num_chains, dim), checked for shape, finiteness, log density and score."""
    if initial_position is None:
        positions = jnp.asarray(target.initial_position(rng_key, num_chains))
    else:
        positions = jnp.asarray(initial_position)
        if positions.ndim == 1:
            positions = jnp.broadcast_to(positions, (num_chains, positions.shape[0]))
    if positions.ndim != 2 or positions.shape != (num_chains, target.dim):
        raise ValueError(
            f"initial_position must have shape ({num_chains}, {target.dim}) or ({target.dim},) "
            f"for {num_chains} chains of {target.name}, got {tuple(np.shape(initial_position))}."
        )
    if target.kind != "continuous":
        if not jnp.issubdtype(positions.dtype, jnp.integer):
            raise ValueError(f"initial_position for the {target.kind} target {target.name} must hold integers.")
        if bool(jnp.any((positions < 0) | (positions >= target.num_categories))):
            raise ValueError(f"initial_position values must lie in 0..{target.num_categories - 1}.")
    if target.kind == "continuous":
        if not jnp.issubdtype(positions.dtype, jnp.floating):
            positions = positions.astype(jnp.result_type(float))
        if not bool(jnp.all(jnp.isfinite(positions))):
            raise ValueError("initial_position contains non-finite values.")
    logdensities = np.asarray(jax.vmap(target.logdensity)(positions))
    if logdensities.shape != (num_chains,):
        raise ValueError(f"target.logdensity must return a scalar per position, got shape {logdensities.shape[1:]}.")
    if not np.all(np.isfinite(logdensities)):
        bad = int(np.argmin(np.isfinite(logdensities)))
        raise ValueError(
            f"target.logdensity is not finite at the initial position of chain {bad} "
            f"(value {logdensities[bad]}); pass an initial_position inside the support."
        )
    score_shape = jax.eval_shape(target.score, positions[0]).shape
    if score_shape != (target.dim,):
        raise ValueError(f"target.score must return shape ({target.dim},), got {score_shape}.")
    return positions
