"""The history of SRRW and HDT: a measure x_n on the nodes, updated by one scatter per step.

    x_{n+1} = x_n + gamma_{n+1} (delta_{X_{n+1}} - x_n),      gamma_n = (n + m)^(-a),  a in (1/2, 1],  m > 0,

from a positive starting measure x_0 (default uniform). With a = 1, x_n = (m x_0 + visits_n) / (m + n): the
visit counts from the pseudo-counts m x_0 (m = 1 is the issue's gamma_n = (n + 1)^(-a)).

Storage without an O(|V|) rescale per step ("lazy decay"). With s_n = prod_{k <= n} (1 - gamma_k), every node
decays by the same factor, so node j is stored as its value at its last update t_j with the log scale then:

    x_j(n) = value_j * exp(log s_n - stamp_j),        stamp_j = log s_{t_j}.

A step multiplies nothing: it adds log(1 - gamma) to the scalar log s and rewrites the visited node only. log s
is a compensated (Kahan) sum, and each stamp keeps the sum's compensation too, so that the decay factor
exp(log s_n - log s_t) is exact to float32 rounding however long the run: the stored x then drifts from the exact
recursion only by float32 rounding of each node's own updates (a random walk of about 1e-7 relative per update;
`tests/graphs/test_srrw_hdt.py` measures 2e5 steps). Reading a node is a gather; reading
the whole of x (`history_measure`) is O(|V|) and is for read-outs, not for the hot path. Values never exceed 1
and log x is computed as ``log(value) + log s - stamp``, so a node unvisited for a long time underflows to a
tiny x only when read with `history_measure`, never inside a step.

Two stores share one interface (`HistoryStore`, a record of functions, chosen when the algorithm is built):
`FULL` (the whole (|V|,) history per chain) and `graph_cache.lru_store(fraction, ways)` (HDT's LRU cache: a fraction of
the nodes, set-associative, see `srmc.method.graph_cache`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


class HistoryParams(NamedTuple):
    """The numbers of SRRW and HDT, data (a sweep over them is another array, not another compile).

    Attributes:
      alpha: repellence strength, >= 0 (0: the base chain).
      step_exponent: a in (1/2, 1]: gamma_n = (n + pseudo_count)^(-a).
      pseudo_count: m > 0, the mass of the starting history x_0 (with a = 1, x_n = (m x_0 + visits) / (m + n)).
      alpha_ramp: W >= 0: the step after n steps uses alpha_n = alpha min(1, n / W) (`alpha_at`); 0: constant
        alpha. alpha_n -> alpha, so the limit covariances are those of the constant alpha.
    """

    alpha: Array
    step_exponent: Array
    pseudo_count: Array
    alpha_ramp: Array = 0.0


def _concrete(value: Any) -> np.ndarray | None:
    """`value` as a float array, or None when it is traced (it has no value to check)."""
    try:
        return np.asarray(value, np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def history_params(alpha: Any = 1.0, step_exponent: Any = 1.0, pseudo_count: Any = 1.0,
                   alpha_ramp: Any = 0.0) -> HistoryParams:
    """`HistoryParams` as float arrays, each concrete value checked (a ValueError naming it and the fix)."""
    checks = (("alpha", alpha, lambda v: np.isfinite(v) & (v >= 0), "must be finite and >= 0 (0: the base chain)"),
              ("step_exponent", step_exponent, lambda v: (v > 0.5) & (v <= 1.0),
               "must lie in (1/2, 1] (gamma_n = (n + m)^-a must sum to infinity with summable squares)"),
              ("pseudo_count", pseudo_count, lambda v: np.isfinite(v) & (v > 0),
               "must be finite and > 0 (the starting history's mass)"),
              ("alpha_ramp", alpha_ramp, lambda v: np.isfinite(v) & (v >= 0),
               "must be finite and >= 0 (steps over which alpha grows linearly; 0: constant alpha)"))
    for name, value, ok, rule in checks:
        array = _concrete(value)
        if array is not None and not np.all(ok(array)):
            raise ValueError(f"{name} {rule}, got {value!r}.")
    dtype = jnp.result_type(float)
    return HistoryParams(*(jnp.asarray(v, dtype) for v in (alpha, step_exponent, pseudo_count, alpha_ramp)))


def alpha_at(count: Array, params: HistoryParams) -> Array:
    """alpha_n = alpha min(1, n / W) for the step after `count` = n steps (W = ``alpha_ramp``; W = 0: alpha)."""
    ramp = jnp.asarray(params.alpha_ramp, params.alpha.dtype)
    fraction = jnp.minimum(1.0, count.astype(params.alpha.dtype) / jnp.where(ramp > 0, ramp, 1.0))
    return jnp.where(ramp > 0, params.alpha * fraction, params.alpha)


def step_size(count: Array, params: HistoryParams) -> Array:
    """gamma_{n+1} = (n + 1 + m)^(-a) for the update after `count` = n steps."""
    return (count.astype(params.pseudo_count.dtype) + 1.0 + params.pseudo_count) ** (-params.step_exponent)


class LogScale(NamedTuple):
    """log s_n as a compensated (Kahan) sum: ``value`` the sum, ``error`` the rounding carried to the next add."""

    value: Array
    error: Array


def add_log_scale(scale: LogScale, increment: Array) -> LogScale:
    """``scale + increment`` with Kahan compensation."""
    corrected = increment - scale.error
    total = scale.value + corrected
    return LogScale(total, (total - scale.value) - corrected)


def zero_log_scale(dtype: Any) -> LogScale:
    """log s_0 = 0."""
    return LogScale(jnp.zeros((), dtype), jnp.zeros((), dtype))


def log_decay(now: LogScale, stamp: Array, stamp_error: Array) -> Array:
    """log s_n - log s_t from compensated sums: (value_n - value_t) - (error_n - error_t)."""
    return (now.value - stamp) - (now.error - stamp_error)


class History(NamedTuple):
    """The full history of one chain: a ``(|V|, 3)`` table whose row j holds node j's value, and the log scale
    at its last update as a compensated sum (value, error); see the module doc. One table rather than three
    arrays: a step gathers the visited row and scatters the new row computed from it, which XLA does in place
    (three separate arrays made it copy two (chains, |V|) arrays per step)."""

    table: Array
    log_scale: LogScale


VALUE, STAMP, STAMP_ERROR = 0, 1, 2  # the columns of a history table


def initial_measure(num_nodes: int, initial_history: Any = None) -> np.ndarray:
    """x_0 as float64 summing to 1: uniform, or `initial_history` normalised (a ValueError unless it has shape
    (num_nodes,) and is positive and finite)."""
    if initial_history is None:
        return np.full(num_nodes, 1.0 / num_nodes)
    x0 = np.asarray(initial_history, np.float64)
    if x0.shape != (num_nodes,) or not np.all(np.isfinite(x0) & (x0 > 0)):
        raise ValueError(f"initial_history must be a positive finite array of shape ({num_nodes},) (one weight per "
                         f"node; it is normalised), got shape {x0.shape}.")
    return x0 / x0.sum()


def initial_table(x0: np.ndarray, dtype: Any) -> Array:
    """The ``(|V|, 3)`` table of x_0 at log scale 0."""
    values = jnp.asarray(x0, dtype)
    return jnp.stack([values, jnp.zeros_like(values), jnp.zeros_like(values)], axis=-1)


def row_log_value(row: Array, scale: LogScale) -> Array:
    """log x_j(n) from node j's row(s) (..., 3) and the current log scale."""
    return jnp.log(row[..., VALUE]) + log_decay(scale, row[..., STAMP], row[..., STAMP_ERROR])


def updated_row(row: Array, scale: LogScale, gamma: Array) -> Array:
    """The visited node's new row: value (1 - gamma) x_j(n) + gamma = value * exp(log s_{n+1} - stamp) + gamma,
    stamped with the new log scale `scale` (log s_{n+1})."""
    decayed = row[..., VALUE] * jnp.exp(log_decay(scale, row[..., STAMP], row[..., STAMP_ERROR]))
    return jnp.stack([decayed + gamma, scale.value, scale.error], axis=-1)


def full_init(x0: np.ndarray, logdensity_fn: Callable) -> History:
    """The full history at x_0 (`logdensity_fn` unused: the full store needs no target values)."""
    dtype = jnp.result_type(float)
    return History(initial_table(x0, dtype), zero_log_scale(dtype))


def full_log_ratio(history: History, nodes: Array, log_target: Array) -> Array:
    """log (x_j / mu_j) = log x_j - log mu_j at `nodes` (log mu unnormalised: the constant cancels everywhere)."""
    return row_log_value(history.table[nodes], history.log_scale) - log_target


def full_update(history: History, node: Array, gamma: Array, count: Array, log_target: Array) -> History:
    """x <- x + gamma (delta_node - x): one gather and one scatter of the visited row (`count` and `log_target`
    unused by the full store)."""
    scale = add_log_scale(history.log_scale, jnp.log1p(-gamma))
    return History(history.table.at[node].set(updated_row(history.table[node], scale, gamma)), scale)


def full_measure(history: History) -> Array:
    """x_n, the whole (|V|,) measure (O(|V|): a read-out)."""
    return jnp.exp(row_log_value(history.table, history.log_scale))


class HistoryStore(NamedTuple):
    """How a history is kept: functions with one signature for every store (a static choice, hashable).

    Attributes:
      name: ``"full"`` or ``"lru(<fraction>, <ways>)"``.
      init: ``(x0 (NumPy, (|V|,)), logdensity_fn) -> history``.
      log_ratio: ``(history, nodes, log_target) -> log (x_j / mu_j)`` at `nodes` (imputed where not stored).
      update: ``(history, node, gamma, count, log_target) -> history``, after a move to `node` at step `count`.
      measure: ``history -> x_n`` (the full store only; None where the store keeps part of it).
    """

    name: str
    init: Callable[..., Any]
    log_ratio: Callable[..., Array]
    update: Callable[..., Any]
    measure: Callable[[Any], Array] | None


FULL = HistoryStore("full", full_init, full_log_ratio, full_update, full_measure)


def capacity(num_nodes: int, fraction: float) -> int:
    """The number of nodes a cache of `fraction` keeps: ceil(fraction |V|), at least 1."""
    return max(1, math.ceil(fraction * num_nodes))
