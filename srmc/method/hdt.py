"""History-driven target (HDT; Hu et al., ICML 2025) on a graph, in BlackJAX's three layers.

Run ANY mu-invariant graph kernel (reversible or not: `srmc.samplers.mhrw`, `nbrw`, `mtm`) on the history-driven
target

    pi_j[x] ∝ mu_j (x_j / mu_j)^(-alpha),   i.e.   log pi_j[x] = log mu_j - alpha (log x_j - log mu_j),

then update the history x_n (`srmc.method.graph_history`). The kernel evaluates pi[x] only at the nodes a step
needs (two for MHRW), so a step costs what the base kernel's step costs, plus one scatter. With a = 1,
sqrt(n) (x_n - mu) => N(0, V_base / (2 alpha + 1)) for any base kernel (`srmc.method.graph_theory`; derivation in
docs/explanation/graph_samplers.md). alpha = 0 is the base kernel bit for bit (same keys, same target values).

``cache=r`` keeps the history of a fraction r of the nodes in an LRU cache (`srmc.method.graph_cache`; uncached
nodes imputed, no theory: measured).

The engine's statistic: ``state.visits`` (int32, (|V|,)) counts each node's visits over the ``state.count`` steps
taken (X_1..X_n), so a chain's visit measure is ``visits / count`` (`srmc.method.srrw.visit_measure`); the base
kernel's state is ``state.inner`` and the node ``state.position``. With a cache, the visit counts still take
O(|V|) per chain; only the history shrinks.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.algorithm import Algorithm, Report, StaticPartial
from srmc.method.graph_cache import lru_store
from srmc.method.graph_history import (
    FULL,
    HistoryParams,
    HistoryStore,
    alpha_at,
    history_params,
    initial_measure,
    step_size,
)
from srmc.method.srrw import graph_of, history_counters
from srmc.samplers import mhrw
from srmc.samplers.graph_spec import GraphKernelSpec, as_graph_spec, check_params

Array = jax.Array

HDTParams = HistoryParams  # alpha, step_exponent (a), pseudo_count (m)


class HDTState(NamedTuple):
    """The base kernel's state, the history (full or cached), visit counts over the steps taken (int32,
    (|V|,)) and the count of steps taken."""

    inner: Any
    history: Any
    visits: Array
    count: Array

    @property
    def position(self) -> Array:
        """The current node (int32, (1,)): the base kernel's position."""
        return self.inner.position


class HDTInfo(NamedTuple):
    """The base kernel's acceptance_rate, is_accepted and is_nonfinite (on pi[x]), and its whole info."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    inner: Any


def driven_logdensity(logdensity_fn: Callable, history: Any, alpha: Array, store: HistoryStore) -> Callable:
    """log pi_j[x] = log mu_j - alpha log (x_j / mu_j), evaluated at a (1,) position (lazily: a gather)."""

    def logdensity(position: Array) -> Array:
        log_mu = jnp.asarray(logdensity_fn(position))
        return log_mu - alpha * store.log_ratio(history, position[0], log_mu)

    return logdensity


def init(position: Array, logdensity_fn: Callable, graph: Any, kernel_init: Callable, store: HistoryStore = FULL,
         initial_history: Any = None) -> HDTState:
    """The state at `position`: the base kernel's ``kernel_init(position)``, history x_0 (`initial_history`,
    normalised; default uniform) kept by `store`, no visits."""
    x0 = initial_measure(int(graph.degrees.shape[0]), initial_history)
    inner = kernel_init(position, logdensity_fn)
    return HDTState(inner, store.init(x0, logdensity_fn), jnp.zeros(x0.shape, jnp.int32), jnp.zeros((), jnp.int32))


def build_kernel(base_kernel: Callable, store: HistoryStore = FULL, kernel_params: dict | None = None) -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph, params) -> (state, info)``: one step of
    `base_kernel` (a graph kernel's ``build_kernel()``, with `kernel_params`) on pi[x_n], then the history update;
    `params` an `HDTParams`."""
    kernel_params = dict(kernel_params or {})

    def kernel(rng_key: Array, state: HDTState, logdensity_fn: Callable, graph: Any,
               params: HDTParams) -> tuple[HDTState, HDTInfo]:
        """One HDT transition."""
        target = driven_logdensity(logdensity_fn, state.history, alpha_at(state.count, params), store)
        inner, inner_info = base_kernel(rng_key, state.inner, target, graph, **kernel_params)
        node = inner.position[0]
        gamma = step_size(state.count, params)
        log_mu = jnp.asarray(logdensity_fn(inner.position))
        history = store.update(state.history, node, gamma, state.count, log_mu)
        new_state = HDTState(inner, history, state.visits.at[node].add(1), state.count + 1)
        return new_state, HDTInfo(inner_info.acceptance_rate, inner_info.is_accepted, inner_info.is_nonfinite,
                                  inner_info)

    return kernel


class HDTConfig(NamedTuple):
    """HDT's choices (hashable): the base kernel's record, its parameters (sorted pairs), how the history is kept,
    the starting history x_0 (None: uniform)."""

    spec: GraphKernelSpec
    kernel_params: tuple
    store: HistoryStore
    initial_history: tuple | None


def _init(config: HDTConfig, position: Array, target: Any, params: HDTParams) -> HDTState:
    logdensity_fn, structure = graph_of(target)
    return init(position, logdensity_fn, structure, config.spec.init, config.store, config.initial_history)


def _step(config: HDTConfig, rng_key: Array, state: HDTState, target: Any,
          params: HDTParams) -> tuple[HDTState, HDTInfo]:
    logdensity_fn, structure = graph_of(target)
    kernel = build_kernel(config.spec.build_kernel(), config.store, dict(config.kernel_params))
    return kernel(rng_key, state, logdensity_fn, structure, params)


def hdt(kernel: Any = None, alpha: Any = 1.0, *, step_exponent: Any = 1.0, pseudo_count: Any = 1.0,
        alpha_ramp: Any = 0.0, cache: float | None = None, cache_ways: int = 8, initial_history: Any = None,
        kernel_params: dict | None = None) -> Algorithm:
    """HDT around `kernel` (default `srmc.samplers.mhrw`): an `srmc.Algorithm` for `srmc.sample` or a
    hand-written vmapped scan.

        algorithm = srmc.hdt(samplers.nbrw, alpha=5.0)
        result = srmc.sample(key, algorithm, targets.get("karate_club"), 10_000, 64)   # result.estimates["visits"]

    Args:
      kernel: any mu-invariant graph kernel (module or `GraphKernelSpec`).
      alpha: repellence strength >= 0; step_exponent: a in (1/2, 1]; pseudo_count: m > 0 (see `HistoryParams`):
        data (``algorithm.params``), a sweep over them compiles once.
      alpha_ramp: W >= 0, data too: the step after n steps uses alpha min(1, n / W); 0 (default): constant alpha.
      cache: None (the full history) or the fraction r in (0, 1] of the nodes whose history an LRU cache keeps.
      cache_ways: the cache's associativity (see `srmc.method.graph_cache`).
      initial_history: x_0, positive weights over the nodes (normalised); None: uniform.
      kernel_params: the base kernel's parameters (the graph comes from the target).
    """
    spec = as_graph_spec(mhrw if kernel is None else kernel)
    kernel_params = dict(kernel_params or {})
    check_params(spec, kernel_params)
    params = history_params(alpha, step_exponent, pseudo_count, alpha_ramp)
    store = FULL if cache is None else lru_store(cache, cache_ways)
    config = HDTConfig(spec, tuple(sorted(kernel_params.items())), store,
                       None if initial_history is None else tuple(np.asarray(initial_history, float).tolist()))
    shown = (("alpha", alpha), ("step_exponent", step_exponent), ("pseudo_count", pseudo_count),
             *((("alpha_ramp", alpha_ramp),) if alpha_ramp else ()),
             *((("cache", cache),) if cache is not None else ()), *kernel_params.items())
    return Algorithm(f"hdt[{spec.name}]", StaticPartial(_init, config), StaticPartial(_step, config), params,
                     report=Report(counters=history_counters), shown=shown)
