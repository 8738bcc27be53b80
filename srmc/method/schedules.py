"""Step-count schedules for the history step size gamma_n and the repellence strength alpha_n.

A schedule is a callable ``count -> value`` (the optax ``Schedule`` type), so optax schedules plug in
directly. `srmc.wrap` evaluates both schedules at the step number n = 1, 2, ... (step n uses alpha_n with
theta_{n-1}, then gamma_n updates theta), the SRMC paper's indexing.

The schedules made here are `NumberSchedule`s: a shape ``family(count, number)`` and the one number a sweep varies
(alpha's value, the default gamma's offset). `srmc.wrap` carries the number in the chain's state, so algorithms
that differ only in it run one compiled program (`srmc.Algorithm.with_numbers`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

Schedule = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class NumberSchedule:
    """A schedule ``count -> family(count, number)`` whose number is kept apart from its shape (and may be traced)."""

    family: Callable[[jax.Array, jax.Array | float], jax.Array]
    number: float

    def __call__(self, count: jax.Array) -> jax.Array:
        """The schedule's value at step `count`."""
        return self.family(count, self.number)

    def with_number(self, number: float) -> NumberSchedule:
        """The same shape with another number."""
        return dataclasses.replace(self, number=number)


def number_family(schedule: Schedule) -> tuple[Callable, float]:
    """(family, number) of a `NumberSchedule`; any other schedule as a family that ignores its number 0."""
    if isinstance(schedule, NumberSchedule):
        return schedule.family, schedule.number
    return functools.partial(_ignore_number, schedule), 0.0


def _ignore_number(schedule: Schedule, count: jax.Array, number: jax.Array | float) -> jax.Array:
    return schedule(count)


def _constant(count: jax.Array, value: jax.Array | float) -> jax.Array | float:
    return value


def constant(value: float) -> Schedule:
    """value at every step."""
    return optax.constant_schedule(value)


def _polynomial(count: jax.Array, offset: jax.Array | float, scale: float, power: float) -> jax.Array:
    return scale / (jnp.asarray(count, jnp.result_type(float)) + offset) ** power


def polynomial(scale: float = 1.0, power: float = 0.6, offset: float = 0.0) -> Schedule:
    """scale / (count + offset)^power — the default history step size gamma_n = 1 / n^0.6 (number: offset)."""
    _check_number(scale, "scale", positive=True)
    _check_number(power, "power")
    _check_number(offset, "offset")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}.")
    return NumberSchedule(functools.partial(_polynomial, scale=scale, power=power), offset)


def default_gamma(alpha: float | Schedule) -> Schedule:
    """The default history step size: gamma_n = 1 / (n + 1 + 2 alpha_max).

    Power 1 makes theta_n an average over the whole history, so the bias that the feedback leaves in
    non-linear statistics (second moments) falls like log(n) / n, below the Monte Carlo error. The offset keeps
    the first updates stable: the linearised history recursion contracts when gamma_n (1 + g alpha) < 2, with
    gain g = 1 for the linear tilt and up to 2 for kernels that overshoot (HMC). For the score tilt g is the
    largest eigenvalue of the Fisher information Cov_pi(s): on stiff targets pass a smaller gamma or warm up
    alpha. ``polynomial(1.0, 0.6)`` (the SRMC paper's rate) buys more variance reduction of the mean at finite
    n, at the price of an O(n^-0.6) bias in second moments.
    """
    alpha_max = float(alpha(10**9)) if callable(alpha) else float(alpha)
    if not np.isfinite(alpha_max):
        raise ValueError(f"alpha schedule must be finite; at step 10^9 it is {alpha_max}.")
    return polynomial(1.0, 1.0, 1.0 + 2.0 * max(alpha_max, 0.0))


def _linear_warmup(count: jax.Array, alpha: jax.Array | float, warmup_steps: int) -> jax.Array:
    return optax.linear_schedule(0.0, alpha, warmup_steps)(count)


def linear_warmup(alpha: float, warmup_steps: int) -> Schedule:
    """alpha * min(1, n / warmup_steps) at step n (alpha reached at step `warmup_steps`); optax.linear_schedule."""
    _check_number(alpha, "alpha")
    if not isinstance(warmup_steps, (int, np.integer)) or warmup_steps < 1:
        raise ValueError(f"warmup_steps must be a positive integer, got {warmup_steps!r}.")
    return NumberSchedule(functools.partial(_linear_warmup, warmup_steps=int(warmup_steps)), float(alpha))


def _rational(count: jax.Array, alpha: jax.Array | float, c: float) -> jax.Array:
    count = jnp.asarray(count, jnp.result_type(float))
    return count / (c + count / alpha)


def rational(alpha: float, c: float) -> Schedule:
    """n / (c + n / alpha) at step n (the SRMC paper's "adaptive" alpha): towards alpha, alpha / 2 at n = c alpha."""
    _check_number(alpha, "alpha", positive=True)
    _check_number(c, "c", positive=True)
    return NumberSchedule(functools.partial(_rational, c=c), float(alpha))


def as_schedule(value: float | Schedule, name: str, *, positive: bool = False) -> Schedule:
    """Promote a number to a constant `NumberSchedule` after checking it; pass callables through."""
    if callable(value):
        _evaluate(value, name, np.ones((), np.int32))  # fails early on a schedule that errs or is not scalar
        return value
    _check_number(value, name, positive=positive)
    return NumberSchedule(_constant, float(value))


def check_schedule(schedule: Schedule, name: str, num_steps: int, *, positive: bool = False, start: int = 0) -> None:
    """Evaluate a schedule on a grid of step counts in [start, num_steps] and raise if a value is bad."""
    dense = np.arange(start, min(num_steps, 1000) + 1)
    sparse = np.geomspace(max(start, 1), max(num_steps, 1), 200).astype(np.int64)
    counts = np.unique(np.concatenate([dense, sparse, [num_steps]]))
    values = _evaluate(jax.vmap(schedule), name, jnp.asarray(counts, jnp.int32))
    bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    if np.any(bad):
        count = int(counts[np.argmax(bad)])
        bound = "positive" if positive else "non-negative"
        raise ValueError(f"{name} schedule must be finite and {bound}; at step {count} it is {values[np.argmax(bad)]}.")


def _evaluate(schedule: Schedule, name: str, counts: jax.Array) -> np.ndarray:
    """``schedule(counts)`` as a real array of the shape of `counts`, else an error naming the schedule."""
    try:
        values = np.asarray(schedule(counts))
    except Exception as error:
        raise TypeError(f"{name} schedule failed on step counts: {type(error).__name__}: {error}") from error
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} schedule must return real numbers, got dtype {values.dtype}.")
    try:
        return np.broadcast_to(values, np.shape(counts))
    except ValueError:
        raise ValueError(f"{name} schedule must return one number per step count, got shape {values.shape}.") from None


def _check_number(value: float, name: str, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number or a schedule (count -> value), got {type(value).__name__}.")
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be finite and {bound}, got {value}.")
