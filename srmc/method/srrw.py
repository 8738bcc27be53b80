"""Self-repellent random walk (SRRW; Doshi, Hu and Eun, ICML 2023) on a graph, in BlackJAX's three layers.

With P a base chain reversible w.r.t. mu (a graph kernel that hands over its transition row: `srmc.samplers.mhrw`)
and x_n the history (`srmc.method.graph_history`), the walk moves from i with

    K_ij[x] = P_ij (x_j / mu_j)^(-alpha) / Z_i[x],      j in N(i) ∪ {i},

then x_{n+1} = x_n + gamma_{n+1} (delta_{X_{n+1}} - x_n), gamma_n = (n + m)^(-a). Under-visited neighbours
(x_j < mu_j) are favoured. For a frozen x, K[x] is reversible w.r.t.
pi_i[x] ∝ mu_i (x_i / mu_i)^(-alpha) sum_{j ∈ N̄(i)} P_ij (x_j / mu_j)^(-alpha). With a = 1,
sqrt(n) (x_n - mu) => N(0, V), V = sum_{i>=2} (1 + l_i) / (1 - l_i) / (2 alpha (1 + l_i) + 1) u_i u_i^T
(`srmc.method.graph_theory`; derivations in docs/explanation/graph_samplers.md).

Cost: a step reads the row of the current node only, `chunk_size` neighbours at a time (a `lax.while_loop` over
chunks, sampling by the Gumbel-max trick as it goes), so a chain pays for its own node's degree; under `vmap` a
batch of chains pays for the largest degree among its chains at that step. Nothing is padded to the maximum
degree. The history is O(|V|) per chain and is updated by one scatter.

The engine's statistic: ``state.visits`` (int32, (|V|,)) counts each node's visits over the ``state.count`` steps
taken (X_1..X_n; the start is not counted), so a chain's visit measure is ``visits / count`` (`visit_measure`);
``state.history`` holds x_n (`history_measure`), which with a = 1 equals (m x_0 + visits) / (m + n).

alpha = 0 gives K[x] = P exactly, but SRRW samples the whole row where MHRW proposes and accepts, so its random
stream differs from the base kernel's: the same chain in law, not bit for bit (HDT at alpha = 0 is bit for bit).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.algorithm import Algorithm, Report, StaticPartial
from srmc.method.graph_history import (
    FULL,
    History,
    HistoryParams,
    alpha_at,
    history_params,
    initial_measure,
    step_size,
)
from srmc.samplers import mhrw
from srmc.samplers.graph_spec import GraphKernelSpec, as_graph_spec, check_params
from srmc.targets.space import check_int

Array = jax.Array

SRRWParams = HistoryParams  # alpha, step_exponent (a), pseudo_count (m)


class SRRWState(NamedTuple):
    """Current node (int32, (1,)), history x_n, visit counts over the steps taken (int32, (|V|,)) and the count
    of steps taken."""

    position: Array
    history: History
    visits: Array
    count: Array


class SRRWInfo(NamedTuple):
    """acceptance_rate: 1 - K_ii[x], the probability of leaving the node; is_accepted: the walk moved;
    is_nonfinite: a NaN or +inf among the row's log weights (such entries are never chosen)."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array


def init(position: Array, logdensity_fn: Callable, graph: Any, initial_history: Any = None) -> SRRWState:
    """The state at `position` with history x_0 (`initial_history`, normalised; default uniform), no visits."""
    x0 = initial_measure(int(graph.degrees.shape[0]), initial_history)
    history = FULL.init(x0, logdensity_fn)
    node = jnp.reshape(jnp.asarray(position, jnp.int32), (-1,))[:1]
    return SRRWState(node, history, jnp.zeros(x0.shape, jnp.int32), jnp.zeros((), jnp.int32))


class _Row(NamedTuple):
    """The running state of the pass over a row: next chunk, Gumbel-max winner, log sum of K's weights, sum of
    the off-diagonal P, non-finite flag."""

    chunk: Array
    best_score: Array
    best_node: Array
    log_mass: Array
    row_sum: Array
    nonfinite: Array


def _row_pass(rng_key: Array, state: SRRWState, logdensity_fn: Callable, graph: Any, alpha: Array,
              transition_row: Callable, row_params: dict, chunk_size: int) -> _Row:
    """One pass over the current node's neighbours, `chunk_size` at a time."""
    node = state.position[0]
    start, degree = graph.offsets[node], graph.degrees[node]
    lanes = jnp.arange(chunk_size, dtype=jnp.int32)
    dtype = state.history.table.dtype

    def body(row: _Row) -> _Row:
        offsets = row.chunk * chunk_size + lanes
        valid = offsets < degree
        nodes = graph.neighbours[jnp.where(valid, start + offsets, start)]
        log_p = transition_row(state.position, nodes, logdensity_fn, graph, **row_params)
        log_mu = jax.vmap(lambda j: logdensity_fn(j[None]))(nodes)
        log_k = log_p - alpha * FULL.log_ratio(state.history, nodes, log_mu)
        bad = valid & (jnp.isnan(log_k) | (log_k == jnp.inf))
        log_k = jnp.where(valid & ~bad, log_k, -jnp.inf)
        scores = log_k + jax.random.gumbel(jax.random.fold_in(rng_key, row.chunk), (chunk_size,), dtype)
        winner = jnp.argmax(scores)
        better = scores[winner] > row.best_score
        return _Row(row.chunk + 1, jnp.where(better, scores[winner], row.best_score),
                    jnp.where(better, nodes[winner], row.best_node),
                    jnp.logaddexp(row.log_mass, jax.nn.logsumexp(log_k)),
                    row.row_sum + jnp.sum(jnp.where(valid & ~bad, jnp.exp(log_p), 0.0)), row.nonfinite | jnp.any(bad))

    first = _Row(jnp.zeros((), jnp.int32), jnp.full((), -jnp.inf, dtype), node, jnp.full((), -jnp.inf, dtype),
                 jnp.zeros((), dtype), jnp.zeros((), bool))
    return jax.lax.while_loop(lambda row: row.chunk * chunk_size < degree, body, first)


def build_kernel(transition_row: Callable, chunk_size: int = 16, row_params: dict | None = None) -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph, params) -> (state, info)``: one SRRW step on the base
    chain whose per-neighbour log transition probabilities `transition_row` gives (a `GraphKernelSpec`'s), with
    `row_params` its parameters; `params` an `SRRWParams`."""
    chunk_size = check_int(chunk_size, "chunk_size", non_integer=TypeError)
    row_params = dict(row_params or {})

    def kernel(rng_key: Array, state: SRRWState, logdensity_fn: Callable, graph: Any,
               params: SRRWParams) -> tuple[SRRWState, SRRWInfo]:
        """One SRRW transition from the frozen history, then the history update."""
        key_row, key_self = jax.random.split(rng_key)
        alpha = alpha_at(state.count, params)
        row = _row_pass(key_row, state, logdensity_fn, graph, alpha, transition_row, row_params, chunk_size)
        node = state.position[0]
        log_mu_node = jnp.asarray(logdensity_fn(state.position))
        log_p_self = jnp.log(jnp.maximum(1.0 - row.row_sum, 0.0))
        log_k_self = log_p_self - alpha * FULL.log_ratio(state.history, node, log_mu_node)
        stay = log_k_self + jax.random.gumbel(key_self, (), log_k_self.dtype) >= row.best_score
        new_node = jnp.where(stay, node, row.best_node)
        log_total = jnp.logaddexp(row.log_mass, log_k_self)
        gamma = step_size(state.count, params)
        history = FULL.update(state.history, new_node, gamma, state.count, None)
        new_state = SRRWState(new_node[None], history, state.visits.at[new_node].add(1), state.count + 1)
        info = SRRWInfo(1.0 - jnp.exp(log_k_self - log_total), new_node != node,
                        row.nonfinite | jnp.isnan(log_k_self))
        return new_state, info

    return kernel


def graph_of(target: Any, name: str = "target") -> tuple[Callable, Any]:
    """``(logdensity_fn, CSR structure)`` of a graph target (`srmc.targets.graph`); a TypeError naming `name`
    otherwise."""
    data = getattr(target, "graph", None)
    if data is None or not hasattr(data, "structure"):
        raise TypeError(f"{name} must be a graph target (srmc.targets.graph(G) or a registered one such as "
                        f"srmc.targets.get('karate_club')), got {target!r}.")
    return target.logdensity, data.structure


def srrw_spec(kernel: Any) -> GraphKernelSpec:
    """The record of `kernel`, a ValueError unless it is reversible and hands over its transition row."""
    spec = as_graph_spec(kernel)
    if spec.transition_row is None or not spec.reversible:
        reason = "cannot hand over its row" if spec.transition_row is None else "is not reversible"
        raise ValueError(f"SRRW needs a reversible base kernel that hands over its whole transition row; "
                         f"{spec.name} {reason}. Use srmc.samplers.mhrw, or run this kernel with "
                         "srmc.method.hdt.hdt (any mu-invariant kernel).")
    return spec


class SRRWConfig(NamedTuple):
    """SRRW's choices (hashable): the base kernel's record, its parameters (sorted pairs), the row's chunk size and
    the starting history x_0 (None: uniform)."""

    spec: GraphKernelSpec
    kernel_params: tuple
    chunk_size: int
    initial_history: tuple | None


def _init(config: SRRWConfig, position: Array, target: Any, params: SRRWParams) -> SRRWState:
    logdensity_fn, structure = graph_of(target)
    return init(position, logdensity_fn, structure, config.initial_history)


def _step(config: SRRWConfig, rng_key: Array, state: SRRWState, target: Any,
          params: SRRWParams) -> tuple[SRRWState, SRRWInfo]:
    logdensity_fn, structure = graph_of(target)
    kernel = build_kernel(config.spec.transition_row, config.chunk_size, dict(config.kernel_params))
    return kernel(rng_key, state, logdensity_fn, structure, params)


def srrw(kernel: Any = None, alpha: Any = 1.0, *, step_exponent: Any = 1.0, pseudo_count: Any = 1.0,
         alpha_ramp: Any = 0.0,
         chunk_size: int = 16, initial_history: Any = None, kernel_params: dict | None = None) -> Algorithm:
    """SRRW around `kernel` (default `srmc.samplers.mhrw`): an `srmc.Algorithm` for `srmc.sample` or a
    hand-written vmapped scan.

        algorithm = srmc.srrw(samplers.mhrw, alpha=5.0)
        result = srmc.sample(key, algorithm, targets.get("karate_club"), 10_000, 64)   # result.estimates["visits"]
        state = jax.vmap(algorithm.init, in_axes=(0, None))(positions, target)         # positions (chains, 1)
        state, info = jax.vmap(algorithm.step, in_axes=(0, 0, None))(keys, state, target)

    Args:
      kernel: a graph kernel (module or `GraphKernelSpec`) that is reversible and hands over its row.
      alpha: repellence strength >= 0; step_exponent: a in (1/2, 1]; pseudo_count: m > 0 (see `HistoryParams`):
        data (``algorithm.params``), a sweep over them compiles once.
      alpha_ramp: W >= 0, data too: the step after n steps uses alpha min(1, n / W); 0 (default): constant alpha.
      chunk_size: neighbours read per pass of the row loop.
      initial_history: x_0, positive weights over the nodes (normalised); None: uniform.
      kernel_params: the base kernel's parameters (the graph comes from the target).
    """
    spec = srrw_spec(mhrw if kernel is None else kernel)
    kernel_params = dict(kernel_params or {})
    check_params(spec, kernel_params)
    params = history_params(alpha, step_exponent, pseudo_count, alpha_ramp)
    config = SRRWConfig(spec, tuple(sorted(kernel_params.items())), check_int(chunk_size, "chunk_size",
                                                                             non_integer=TypeError),
                        None if initial_history is None else tuple(np.asarray(initial_history, float).tolist()))
    shown = (("alpha", alpha), ("step_exponent", step_exponent), ("pseudo_count", pseudo_count),
             *((("alpha_ramp", alpha_ramp),) if alpha_ramp else ()),
             *kernel_params.items())
    return Algorithm(f"srrw[{spec.name}]", StaticPartial(_init, config), StaticPartial(_step, config), params,
                     report=Report(counters=history_counters), shown=shown)


def history_counters(state: Any, params: Any) -> dict:
    """Per chain: the steps a history has taken (its x_n is over these)."""
    return {"history_steps": state.count}


def visit_measure(state: Any) -> Array:
    """Each chain's visit measure over the steps taken, ``visits / count`` (float; NaN before the first step)."""
    return state.visits / jnp.expand_dims(state.count, -1).astype(jnp.result_type(float))


def history_measure(state: SRRWState) -> Array:
    """x_n of a state with a full history (O(|V|); vmap it over chains)."""
    return FULL.measure(state.history)
