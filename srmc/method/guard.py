"""SRMC's guard: per chain, back alpha off when the surrogate goes wrong.

The guard (on by default) watches each chain: an exponentially weighted acceptance rate (window `GUARD_WINDOW`
steps) falling below `GUARD_COLLAPSE` x the acceptance the base kernel reached on pi in the warm-up (a surrogate
too steep for the kernel, a chain that stopped moving), or a burst of non-finite proposals (more than
`GUARD_NONFINITE` of the window). Its one response: halve alpha for that chain from then on (``backoff``), restart
its history (theta = 0: a chain stuck under a steep surrogate drives theta to s at the stuck point, which keeps it
stuck; with theta = 0 its surrogate is pi itself), count the event, and wait `2 GUARD_WINDOW` steps before acting
again. The estimate stays the plain average of f(X_n): a restart changes only the control, not what is averaged.
Events are in ``result.counters`` and the health report. A healthy run never triggers it, and is then bit for bit
the run without a guard. The wrapper restarts theta when ``guard_update`` reports a new event.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array

GUARD_WINDOW = 100  # steps the guard's acceptance and non-finite rates average over (exponential weights)
GUARD_COLLAPSE = 0.25  # acceptance below this fraction of the warm-up's: the surrogate is too steep for the kernel
GUARD_NONFINITE = 0.2  # non-finite proposals above this fraction of the window: the surrogate is breaking down
GUARD_BACKOFF = 0.5  # what a guard event multiplies the chain's alpha by


class GuardState(NamedTuple):
    """Per chain: smoothed acceptance and non-finite rates, alpha's back-off factor, events, steps to stay quiet."""

    acceptance: Array
    nonfinite: Array
    backoff: Array
    events: Array
    quiet: Array


def initial_guard(acceptance: Array) -> GuardState:
    """A guard that has seen nothing: acceptance at the base kernel's on pi (`acceptance`), quiet for its first
    window."""
    dtype = jnp.result_type(acceptance)
    return GuardState(jnp.asarray(acceptance, dtype), jnp.zeros((), dtype), jnp.ones((), dtype),
                      jnp.zeros((), jnp.int32), jnp.asarray(GUARD_WINDOW, jnp.int32))


def guard_update(guard: GuardState, info: Any, acceptance: Array, active: Array) -> GuardState:
    """One step of the guard (see module doc): `acceptance` is the base kernel's on pi; `active`: alpha > 0 and
    the guard switched on."""
    weight = jnp.asarray(1.0 / GUARD_WINDOW, guard.acceptance.dtype)
    smoothed = guard.acceptance + weight * (info.acceptance_rate.astype(weight.dtype) - guard.acceptance)
    nonfinite = guard.nonfinite + weight * (info.is_nonfinite.astype(weight.dtype) - guard.nonfinite)
    quiet = jnp.maximum(guard.quiet - 1, 0)
    collapsed = smoothed < GUARD_COLLAPSE * acceptance
    fire = active & (quiet == 0) & (collapsed | (nonfinite > GUARD_NONFINITE))
    return GuardState(
        jnp.where(fire, acceptance.astype(weight.dtype), smoothed),
        jnp.where(fire, jnp.zeros_like(nonfinite), nonfinite),
        jnp.where(fire, guard.backoff * GUARD_BACKOFF, guard.backoff),
        guard.events + fire.astype(jnp.int32),
        jnp.where(fire, 2 * GUARD_WINDOW, quiet),
    )
