"""A quick start near the bulk: a few optimisation steps on -log pi from every chain's start (optax).

    positions = target.initial_position(key_init, num_chains)            # e.g. NumPyro's U(-2, 2), far out
    positions = quick_start(key, target, positions, num_steps=200)       # every chain moved towards the bulk
    result = srmc.sample(key_run, algorithm, target, 2000, num_chains, initial_position=positions)

Each chain runs `num_steps` steps of Adam on f(x) = -log pi(x) from its own start, its update clipped to a global
norm of `max_update` (far out the score can be huge: a Poisson regression started at U(-2, 2) has gradients of
10^6); a step to a point where f is not finite is not taken, and a non-finite gradient counts as 0. It is an
optimiser, not a sampler: run long enough, every chain goes to a mode (for a hierarchical model that can be the
neck of a funnel), so it is meant to be short, to bring chains from the far tails to where a warm-up of the base
kernel can take over; the warm-up, not this, spreads them over pi. A little noise (`jitter`, in units of each
chain's own step) keeps chains that started at the same point apart. Pure function of its arguments: jit- and
vmap-able, nothing stored.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

Array = jax.Array


def quick_start(rng_key: Array, target: Any, positions: Array, num_steps: int = 100, *,
                learning_rate: float = 0.05, max_update: float = 1.0, jitter: float = 0.0) -> Array:
    """Positions ``(chains, d)`` moved by `num_steps` clipped Adam steps on -log pi (module doc).

    Args:
      rng_key: key for the jitter (unused when ``jitter == 0``).
      target: a continuous `srmc.targets.Target` (its ``logdensity``), or a log density function of one position.
      positions: ``(chains, d)`` starting points, one per chain.
      num_steps: Adam steps per chain (0: the positions unchanged).
      learning_rate: Adam's step size (units of x: each coordinate moves at most about this much per step).
      max_update: the gradient's global norm is clipped to this before Adam's scaling.
      jitter: after the last step, add ``jitter * learning_rate * N(0, I)`` per chain.

    Raises:
      ValueError: `positions` not 2-d, `num_steps` negative, or a rate, bound or jitter not a finite number of the
        right sign.
    """
    logdensity = getattr(target, "logdensity", target)
    positions = jnp.asarray(positions)
    if positions.ndim != 2:
        raise ValueError(f"positions must be (chains, d), got shape {positions.shape}: pass one row per chain.")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}.")
    for name, value, lowest in (("learning_rate", learning_rate, 0.0), ("max_update", max_update, 0.0)):
        if not (isinstance(value, (int, float)) and lowest < value < float("inf")):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    if not (isinstance(jitter, (int, float)) and 0.0 <= jitter < float("inf")):
        raise ValueError(f"jitter must be a finite number >= 0, got {jitter!r}.")
    optimiser = optax.chain(optax.clip_by_global_norm(max_update), optax.adam(learning_rate))
    loss = lambda x: -logdensity(x)  # noqa: E731

    def descend(position: Array) -> Array:
        def step(carry: tuple[Array, Any], _: None) -> tuple[tuple[Array, Any], None]:
            x, state = carry
            gradient = jax.grad(loss)(x)
            gradient = jnp.where(jnp.isfinite(gradient), gradient, 0.0)
            updates, state = optimiser.update(gradient, state, x)
            candidate = optax.apply_updates(x, updates)
            return (jnp.where(jnp.isfinite(loss(candidate)), candidate, x), state), None  # never into NaN / inf

        (final, _), _ = jax.lax.scan(step, (position, optimiser.init(position)), None, length=num_steps)
        return final

    moved = jax.vmap(descend)(positions)
    noise = jax.random.normal(rng_key, moved.shape, moved.dtype)
    return moved + jitter * learning_rate * noise
