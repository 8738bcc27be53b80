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
    LogScale,
    alpha_at,
    history_params,
    initial_measure,
    row_log_value,
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


ROW_PASSES = ("flat", "loop")


def _lane_values(keys: Array, nodes: Array, alphas: Array, tables: Array, scale_values: Array, scale_errors: Array,
                 chain: Array, offset: Array, valid: Array, graph: Any, logdensity_fn: Callable,
                 transition_row: Callable, row_params: dict, gumbel: Array | None = None) -> tuple[Array, ...]:
    """For lanes (chain, offset into its row): the neighbour, log P, log K's weight (-inf where not valid or not
    finite) with its Gumbel-max score, and the non-finite flag. Shapes follow `chain`. The Gumbel noise is
    `gumbel`, or drawn per lane from ``fold_in(keys[chain], offset)``."""
    starts = graph.offsets[nodes]
    nbrs = graph.neighbours[jnp.where(valid, starts[chain] + offset, starts[chain])]
    flat_nodes, flat_nbrs = nodes[chain].reshape(-1), nbrs.reshape(-1)
    if nbrs.ndim == 2:  # the head block: one row per chain, its node's own terms computed once
        log_p = jax.vmap(lambda i, js: transition_row(i[None], js, logdensity_fn, graph, **row_params))(nodes, nbrs)
    else:
        log_p = jax.vmap(lambda i, j: transition_row(i[None], j[None], logdensity_fn, graph, **row_params)[0])(
            flat_nodes, flat_nbrs)
    log_mu = jax.vmap(lambda j: logdensity_fn(j[None]))(flat_nbrs).reshape(nbrs.shape)
    log_ratio = row_log_value(tables[chain, nbrs], LogScale(scale_values[chain], scale_errors[chain])) - log_mu
    log_k = log_p - alphas[chain] * log_ratio
    bad = valid & (jnp.isnan(log_k) | (log_k == jnp.inf))
    log_k = jnp.where(valid & ~bad, log_k, -jnp.inf)
    if gumbel is None:
        gumbel = jax.vmap(lambda key, o: jax.random.gumbel(jax.random.fold_in(key, o), (), log_k.dtype))(
            keys[chain].reshape(-1), offset.reshape(-1)).reshape(nbrs.shape)
    log_p = jnp.where(valid & ~bad, log_p, -jnp.inf)
    return nbrs, log_p, log_k, jnp.where(valid, log_k + gumbel, -jnp.inf), bad


def _flat_rows(keys: Array, nodes: Array, alphas: Array, tables: Array, scale_values: Array, scale_errors: Array,
               graph: Any, logdensity_fn: Callable, transition_row: Callable, row_params: dict,
               chunk_size: int) -> tuple[Array, ...]:
    """The row pass of a batch of B chains at once, in two levels. Head: the first `chunk_size` neighbours of every
    chain, a (B, chunk_size) block. Tail: what is left of the rows longer than that, laid end to end and read
    ``max(B, 4 chunk_size)`` lanes at a time in a `lax.while_loop` (zero passes when no chain stands on a node of
    degree above `chunk_size`). A chain at a hub of degree d costs the batch about d lanes, not B d.

    Returns per chain: the Gumbel-max winner's score and node, log sum of K's weights over the neighbours, the sum
    of the off-diagonal P, and the non-finite flag (as `_row_pass`)."""
    head_keys, tail_keys = jnp.moveaxis(jax.vmap(jax.random.split)(keys), 1, 0)
    lanes = (tail_keys, nodes, alphas, tables, scale_values, scale_errors)
    context = (graph, logdensity_fn, transition_row, row_params)
    num_chains = nodes.shape[0]
    degrees = graph.degrees[nodes]
    chains = jnp.arange(num_chains)
    offsets = jnp.arange(chunk_size, dtype=degrees.dtype)
    head_noise = jax.vmap(lambda key: jax.random.gumbel(key, (chunk_size,), tables.dtype))(head_keys)
    head = _lane_values(*lanes, jnp.broadcast_to(chains[:, None], (num_chains, chunk_size)),
                        jnp.broadcast_to(offsets, (num_chains, chunk_size)), offsets[None, :] < degrees[:, None],
                        *context, gumbel=head_noise)
    nbrs, log_p, log_k, scores, bad = head
    winner = jnp.argmax(scores, axis=1)
    state = (jnp.max(scores, axis=1), jnp.take_along_axis(nbrs, winner[:, None], axis=1)[:, 0],
             jax.nn.logsumexp(log_k, axis=1), jnp.sum(jnp.exp(log_p), axis=1), jnp.any(bad, axis=1))
    best_score, best_node = state[0], jnp.where(jnp.isfinite(state[0]), state[1], nodes)
    state = (best_score, best_node, *state[2:])

    overflow = jnp.maximum(degrees - chunk_size, 0)
    ends = jnp.cumsum(overflow)
    begins = ends - overflow
    total = ends[-1]
    width = max(num_chains, 4 * chunk_size)
    flat_lanes = jnp.arange(width, dtype=ends.dtype)

    def body(carry):
        chunk, best_score, best_node, log_mass, row_sum, nonfinite = carry
        flat = chunk * width + flat_lanes
        valid = flat < total
        chain = jnp.clip(jnp.searchsorted(ends, flat, side="right"), 0, num_chains - 1)
        nbrs, log_p, log_k, scores, bad = _lane_values(*lanes, chain, flat - begins[chain] + chunk_size, valid,
                                                       *context)
        dtype = log_k.dtype
        chunk_best = jnp.full((num_chains,), -jnp.inf, dtype).at[chain].max(scores)
        winner = valid & (scores == chunk_best[chain]) & (scores > -jnp.inf)
        chunk_node = jnp.full((num_chains,), -1, nbrs.dtype).at[jnp.where(winner, chain, num_chains)].max(
            nbrs, mode="drop")
        better = (chunk_best > best_score) & (chunk_node >= 0)
        peak = jnp.full((num_chains,), -jnp.inf, dtype).at[chain].max(log_k)
        safe_peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
        mass = jnp.zeros((num_chains,), dtype).at[chain].add(jnp.exp(log_k - safe_peak[chain]))
        chunk_log_mass = jnp.where(mass > 0, safe_peak + jnp.log(jnp.where(mass > 0, mass, 1.0)), -jnp.inf)
        return (chunk + 1, jnp.where(better, chunk_best, best_score), jnp.where(better, chunk_node, best_node),
                jnp.logaddexp(log_mass, chunk_log_mass),
                row_sum + jnp.zeros((num_chains,), dtype).at[chain].add(jnp.exp(log_p)),
                nonfinite | (jnp.zeros((num_chains,), jnp.int32).at[chain].max(bad.astype(jnp.int32)) > 0))

    first = (jnp.zeros((), ends.dtype), *state)
    return jax.lax.while_loop(lambda carry: carry[0] * width < total, body, first)[1:]


def _flat_row_pass(rng_key: Array, state: SRRWState, logdensity_fn: Callable, graph: Any, alpha: Array,
                   transition_row: Callable, row_params: dict, chunk_size: int) -> _Row:
    """`_row_pass` with the same law (Gumbel-max over the row), batched across chains by `_flat_rows` when the
    step is vmapped (`jax.custom_batching.custom_vmap`); one chain alone is a batch of one."""

    def rows(keys, nodes, alphas, tables, scale_values, scale_errors):
        return _flat_rows(keys, nodes, alphas, tables, scale_values, scale_errors, graph, logdensity_fn,
                          transition_row, row_params, chunk_size)

    @jax.custom_batching.custom_vmap
    def one(key, node, alpha_, table, scale_value, scale_error):
        out = rows(key[None], node[None], alpha_[None], table[None], scale_value[None], scale_error[None])
        return tuple(o[0] for o in out)

    @one.def_vmap
    def _(axis_size, in_batched, *args):
        args = [a if batched else jnp.broadcast_to(a, (axis_size, *jnp.shape(a)))
                for a, batched in zip(args, in_batched)]
        out = rows(*args)
        return tuple(out), tuple(True for _ in out)

    dtype = state.history.table.dtype
    history = state.history
    best_score, best_node, log_mass, row_sum, nonfinite = one(
        rng_key, state.position[0], jnp.asarray(alpha, dtype), history.table, history.log_scale.value,
        history.log_scale.error)
    return _Row(jnp.zeros((), jnp.int32), best_score, best_node, log_mass, row_sum, nonfinite)


def build_kernel(transition_row: Callable, chunk_size: int = 16, row_params: dict | None = None,
                 row_pass: str = "flat") -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph, params) -> (state, info)``: one SRRW step on the base
    chain whose per-neighbour log transition probabilities `transition_row` gives (a `GraphKernelSpec`'s), with
    `row_params` its parameters; `params` an `SRRWParams`.

    `row_pass`: ``"flat"`` (default) reads a vmapped batch's rows end to end (`_flat_rows`: a chain at a hub costs
    the batch its degree once); ``"loop"`` reads each chain's row `chunk_size` neighbours at a time in a
    `lax.while_loop` (under vmap, every chain of the batch waits for the largest degree). Same law, different
    random streams."""
    chunk_size = check_int(chunk_size, "chunk_size", non_integer=TypeError)
    if row_pass not in ROW_PASSES:
        raise ValueError(f"row_pass must be one of {ROW_PASSES}, got {row_pass!r}.")
    row_params = dict(row_params or {})
    pass_fn = _flat_row_pass if row_pass == "flat" else _row_pass

    def kernel(rng_key: Array, state: SRRWState, logdensity_fn: Callable, graph: Any,
               params: SRRWParams) -> tuple[SRRWState, SRRWInfo]:
        """One SRRW transition from the frozen history, then the history update."""
        key_row, key_self = jax.random.split(rng_key)
        alpha = alpha_at(state.count, params)
        row = pass_fn(key_row, state, logdensity_fn, graph, alpha, transition_row, row_params, chunk_size)
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
    """SRRW's choices (hashable): the base kernel's record, its parameters (sorted pairs), the row's chunk size,
    the starting history x_0 (None: uniform) and the row pass (`build_kernel`)."""

    spec: GraphKernelSpec
    kernel_params: tuple
    chunk_size: int
    initial_history: tuple | None
    row_pass: str = "flat"


def _init(config: SRRWConfig, position: Array, target: Any, params: SRRWParams) -> SRRWState:
    logdensity_fn, structure = graph_of(target)
    return init(position, logdensity_fn, structure, config.initial_history)


def _step(config: SRRWConfig, rng_key: Array, state: SRRWState, target: Any,
          params: SRRWParams) -> tuple[SRRWState, SRRWInfo]:
    logdensity_fn, structure = graph_of(target)
    kernel = build_kernel(config.spec.transition_row, config.chunk_size, dict(config.kernel_params), config.row_pass)
    return kernel(rng_key, state, logdensity_fn, structure, params)


def srrw(kernel: Any = None, alpha: Any = 1.0, *, step_exponent: Any = 1.0, pseudo_count: Any = 1.0,
         alpha_ramp: Any = 0.0, chunk_size: int = 16, initial_history: Any = None,
         kernel_params: dict | None = None, row_pass: str = "flat") -> Algorithm:
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
      chunk_size: lanes per chain in a pass over the rows.
      row_pass: ``"flat"`` (a vmapped batch reads its rows end to end: a hub costs the batch its degree once) or
        ``"loop"`` (each chain's row in chunks; a batch waits for its largest degree); see `build_kernel`.
      initial_history: x_0, positive weights over the nodes (normalised); None: uniform.
      kernel_params: the base kernel's parameters (the graph comes from the target).
    """
    spec = srrw_spec(mhrw if kernel is None else kernel)
    kernel_params = dict(kernel_params or {})
    check_params(spec, kernel_params)
    params = history_params(alpha, step_exponent, pseudo_count, alpha_ramp)
    config = SRRWConfig(spec, tuple(sorted(kernel_params.items())), check_int(chunk_size, "chunk_size",
                                                                             non_integer=TypeError),
                        None if initial_history is None else tuple(np.asarray(initial_history, float).tolist()),
                        row_pass)
    if row_pass not in ROW_PASSES:
        raise ValueError(f"row_pass must be one of {ROW_PASSES}, got {row_pass!r}.")
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
