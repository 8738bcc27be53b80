"""Step-count schedules for the history step size gamma_n and the repellence strength alpha_n.

A schedule is a callable ``count -> value`` (the optax ``Schedule`` type), so optax schedules plug in directly.
The schedules made here are `Schedule` records: a *shape* (static, hashable) and its *numbers* (data), with
``schedule(count) = shape(count, **numbers)``. An algorithm keeps the shape in its program and the numbers in its
parameters, so a sweep over alpha is another array, not another compile. Any other callable is a shape with no
numbers.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

Array = jax.Array


class Schedule(NamedTuple):
    """``count -> shape(count, **numbers)``: a static shape and the numbers a sweep varies (traced)."""

    shape: Callable[..., Array]
    numbers: dict

    def __call__(self, count: Array) -> Array:
        """The schedule's value at step `count`."""
        return self.shape(count, **self.numbers)


@dataclasses.dataclass(frozen=True)
class Fixed:
    """The shape of a schedule given as a plain callable (an optax schedule): no numbers."""

    fn: Callable[[Array], Array]

    def __call__(self, count: Array) -> Array:
        return self.fn(count)


def split(schedule: Callable) -> Schedule:
    """`schedule` as a `Schedule` (shape, numbers); a plain callable is a `Fixed` shape with no numbers."""
    return schedule if isinstance(schedule, Schedule) else Schedule(Fixed(schedule), {})


def constant_shape(count: Array, value: Array | float) -> Array | float:
    """``value`` at every step."""
    return value


def constant(value: float) -> Schedule:
    """value at every step."""
    _check_number(value, "value")
    return Schedule(constant_shape, {"value": float(value)})


@dataclasses.dataclass(frozen=True)
class Polynomial:
    """``scale / (count + offset)^power``: scale and power are the shape, the offset its number."""

    scale: float
    power: float

    def __call__(self, count: Array, offset: Array | float) -> Array:
        return self.scale / (jnp.asarray(count, jnp.result_type(float)) + offset) ** self.power


def polynomial(scale: float = 1.0, power: float = 0.6, offset: float = 0.0) -> Schedule:
    """scale / (count + offset)^power, e.g. the SRMC paper's history step size gamma_n = 1 / n^0.6."""
    _check_number(scale, "scale", positive=True)
    _check_number(power, "power")
    _check_number(offset, "offset")
    return Schedule(Polynomial(float(scale), float(power)), {"offset": float(offset)})


@dataclasses.dataclass(frozen=True)
class LinearWarmup:
    """``alpha min(1, count / steps)``: the number of steps is the shape, alpha its number."""

    steps: int

    def __call__(self, count: Array, alpha: Array | float) -> Array:
        return optax.linear_schedule(0.0, alpha, self.steps)(count)


def linear_warmup(alpha: float, warmup_steps: int) -> Schedule:
    """alpha * min(1, n / warmup_steps) at step n (alpha reached at step `warmup_steps`); optax.linear_schedule."""
    _check_number(alpha, "alpha")
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, np.integer)) or warmup_steps < 1:
        raise ValueError(f"warmup_steps must be a positive integer, got {warmup_steps!r}.")
    return Schedule(LinearWarmup(int(warmup_steps)), {"alpha": float(alpha)})


def rational_shape(count: Array, alpha: Array | float, c: Array | float) -> Array:
    """n / (c + n / alpha) at step n."""
    count = jnp.asarray(count, jnp.result_type(float))
    return count / (c + count / alpha)


def rational(alpha: float, c: float) -> Schedule:
    """n / (c + n / alpha) at step n (the SRMC paper's "adaptive" alpha): towards alpha, alpha / 2 at n = c alpha."""
    _check_number(alpha, "alpha", positive=True)
    _check_number(c, "c", positive=True)
    return Schedule(rational_shape, {"alpha": float(alpha), "c": float(c)})


LIMIT_STEP = 10**9  # the step at which a schedule's long-run value is read (`limit`)


def limit(schedule: Callable) -> Array:
    """The schedule's value at step `LIMIT_STEP`: its long-run value."""
    return schedule(LIMIT_STEP)


def default_gamma_offset(alpha_max: Array | float) -> Array:
    """1 + 2 max(alpha_max, 0): the offset of the default history step size (`default_gamma`)."""
    return 1.0 + 2.0 * jnp.maximum(alpha_max, 0.0)


def default_gamma(alpha: float | Callable) -> Schedule:
    """The default history step size: gamma_n = 1 / (n + 1 + 2 alpha_max), alpha_max alpha's long-run value.

    Power 1 makes theta_n an average over the whole history, so the bias that the feedback leaves in non-linear
    statistics (second moments) falls like log(n) / n. The offset keeps the first updates stable: the linearised
    history recursion contracts when gamma_n (1 + g alpha) < 2, with gain g = 1 for the linear tilt and up to 2
    for kernels that overshoot (HMC). ``polynomial(1.0, 0.6)`` (the SRMC paper's rate) buys more variance
    reduction of the mean at finite n, at the price of an O(n^-0.6) bias in second moments.
    """
    alpha_max = limit(alpha) if callable(alpha) else jnp.asarray(alpha, jnp.result_type(float))
    return Schedule(Polynomial(1.0, 1.0), {"offset": default_gamma_offset(alpha_max)})


def as_schedule(value: float | Callable, name: str, *, positive: bool = False) -> Schedule:
    """A number as a constant `Schedule` after checking it; a callable as a `Schedule` (see `split`), checked to
    give one real number per step count."""
    if callable(value):
        _evaluate(value, name, np.ones((), np.int32))  # fails early on a schedule that errs or is not scalar
        return split(value)
    _check_number(value, name, positive=positive)
    return constant(value)


def check_schedule(schedule: Callable, name: str, num_steps: int, *, positive: bool = False, start: int = 0) -> None:
    """Evaluate a schedule on a grid of step counts in [start, num_steps] and raise if a value is bad."""
    dense = np.arange(start, min(num_steps, 1000) + 1)
    sparse = np.geomspace(max(start, 1), max(num_steps, 1), 200).astype(np.int64)
    counts = np.unique(np.concatenate([dense, sparse, [num_steps]]))
    values = _evaluate(_on_grid(split(schedule)), name, counts.astype(np.int32))
    bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    if np.any(bad):
        count = int(counts[np.argmax(bad)])
        bound = "positive" if positive else "non-negative"
        raise ValueError(f"{name} schedule must be finite and {bound}; at step {count} it is {values[np.argmax(bad)]}.")


@functools.partial(jax.jit, static_argnums=0)
def _vmapped(shape: Callable, numbers: dict, counts: Array) -> Array:
    return jax.vmap(lambda count: shape(count, **numbers))(counts)


def _on_grid(schedule: Schedule) -> Callable[[Array], Array]:
    """``counts -> schedule(counts)`` as one compiled program per schedule shape and grid (the numbers are
    data): checking another alpha of the same form compiles nothing."""
    return lambda counts: _vmapped(schedule.shape, schedule.numbers, counts)


def _evaluate(schedule: Callable, name: str, counts: Array) -> np.ndarray:
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
