"""Non-backtracking Metropolis–Hastings walk (NBRW), in the style of MHDA (MH with delayed acceptance, Lee, Xu and
Eun, SIGMETRICS 2012): non-reversible, and mu-invariant.

The state carries the node the walk last came from, e (e = the node itself at the start: no memory). From node
j with previous node e, write A_k = min(1, w_k d_j / (w_j d_k)) for the MH acceptance towards k:

1. propose k uniformly from N(j) and accept it with probability A_k (the MHRW step); on rejection stay at j and
   keep e;
2. if k is accepted, k ≠ e or d_j = 1: move to k;
3. if k = e is accepted and d_j > 1 (a backtrack): propose k' uniformly from N(j) \\ {e} and move to k' with
   probability min(1, (A_k' / A_e)^2), else move back to e.

Why it leaves mu invariant (docs/explanation/graph_samplers.md has the full derivation): with p_k = A_k / d_j the
MHRW's row, the walk stays at j with the MHRW's probability 1 - s (s = sum_k p_k) whatever e is, and the jump
chain on directed edges e -> j has the edge flow F(e -> j) ∝ mu_j p_e as its stationary law exactly when the
redirected flows balance, p_e^2 beta(e, k') = p_k'^2 beta(k', e): beta = min(1, (A_k' / A_e)^2) does that. The
lifted chain on (e, j) then has stationary law nu(e, j) ∝ mu_j P_je / (1 - P_jj), whose node marginal is mu.
The squares are not a typo: they come from the flow into j from e being itself proportional to p_e.

The exact matrix (`exact_chain`) is over the 2|E| directed edges (e, j) (the start state (j, j) is transient and
left out). A step evaluates the log density at up to four nodes; its cost does not depend on the degree.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._graph import (
    as_position,
    degree,
    init_position,
    log_weight,
    mh_acceptance,
    mh_log_ratio,
    neighbour,
    numpy_graph,
    uniform_slot,
)
from ._metropolis import MetropolisInfo, acceptance_probability
from .graph_spec import ExactChain, GraphKernelSpec

Array = jax.Array


class NBRWState(NamedTuple):
    """The current node (int32, shape (1,)) and the node the walk last moved from (int32 scalar; the node itself
    when there is none)."""

    position: Array
    previous: Array


NBRWInfo = MetropolisInfo  # acceptance_rate (of the first stage), is_accepted (moved), is_nonfinite


def init(position: Array, logdensity_fn: Callable | None = None, previous: Array | None = None) -> NBRWState:
    """The state at `position` with no memory (``previous`` = the node itself) unless `previous` is given."""
    position = init_position(position)
    previous = position[0] if previous is None else jnp.asarray(previous, jnp.int32).reshape(())
    return NBRWState(position, previous)


def _log_acceptance(logdensity_fn: Callable, graph: Any, node: Array, log_w_node: Array, other: Array) -> Array:
    """log A(node -> other) = min(0, log MH ratio); -inf where not finite."""
    log_ratio = mh_log_ratio(log_w_node, log_weight(logdensity_fn, other), degree(graph, node), degree(graph, other))
    return jnp.where(jnp.isfinite(log_ratio), jnp.minimum(log_ratio, 0.0), -jnp.inf)


def build_kernel() -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph) -> (state, info)``."""

    def kernel(rng_key: Array, state: NBRWState, logdensity_fn: Callable, graph: Any) -> tuple[NBRWState, NBRWInfo]:
        """One NBRW transition targeting mu ∝ exp(logdensity_fn) on `graph`."""
        key_slot, key_accept, key_second, key_delayed = jax.random.split(rng_key, 4)
        node = state.position[0]
        node_degree = degree(graph, node)
        log_w_node = log_weight(logdensity_fn, node)
        slot = uniform_slot(key_slot, node_degree)
        proposal = neighbour(graph, node, slot)
        log_first = _log_acceptance(logdensity_fn, graph, node, log_w_node, proposal)
        accepted = jnp.log(jax.random.uniform(key_accept)) < log_first
        backtrack = (proposal == state.previous) & (node_degree > 1)
        # k' uniform over the other d_j - 1 slots: skip the backtracking slot
        other_slot = uniform_slot(key_second, jnp.maximum(node_degree - 1, 1))
        second = neighbour(graph, node, other_slot + (other_slot >= slot))
        log_second = _log_acceptance(logdensity_fn, graph, node, log_w_node, second)
        log_delayed = 2.0 * (log_second - log_first)
        redirect = jnp.log(jax.random.uniform(key_delayed)) < jnp.minimum(log_delayed, 0.0)
        target = jnp.where(backtrack & redirect, second, proposal)
        is_nonfinite = ~jnp.isfinite(log_first) | (accepted & backtrack & ~jnp.isfinite(log_second))
        new_node = jnp.where(accepted, target, node)
        new_state = NBRWState(as_position(new_node), jnp.where(accepted, node, state.previous))
        return new_state, NBRWInfo(acceptance_probability(log_first), accepted, is_nonfinite)

    return kernel


def _edge_rows(graph: Any, log_w: np.ndarray, previous: int, node: int) -> dict[tuple[int, int], float]:
    """The exact moves out of the lifted state (previous, node): {(new previous, new node): probability}."""
    neighbours = graph.neighbours_of(node)
    d = len(neighbours)
    acceptance = mh_acceptance(graph, log_w, node, neighbours)
    moves: dict[tuple[int, int], float] = {}
    for k, a_k in zip(neighbours, acceptance):
        first = a_k / d
        if k != previous or d == 1:
            moves[(node, int(k))] = moves.get((node, int(k)), 0.0) + first
            continue
        others = [(int(o), a_o) for o, a_o in zip(neighbours, acceptance) if o != previous]
        redirected = 0.0
        for other, a_other in others:
            beta = min(1.0, (a_other / a_k) ** 2)
            moves[(node, other)] = moves.get((node, other), 0.0) + first * beta / (d - 1)
            redirected += first * beta / (d - 1)
        moves[(node, int(k))] = moves.get((node, int(k)), 0.0) + max(0.0, first - redirected)
    moves[(previous, node)] = moves.get((previous, node), 0.0) + 1.0 - acceptance.sum() / d
    return moves


def exact_chain(graph: Any, log_weights_: np.ndarray) -> ExactChain:
    """The exact transition matrix on the 2|E| directed edges (previous, node), float64. State s stands for
    ``node = n`` and ``previous = neighbours[s]`` where ``offsets[n] <= s < offsets[n + 1]``."""
    graph = numpy_graph(graph)
    log_w = np.asarray(log_weights_, np.float64)
    node_of = np.repeat(np.arange(graph.num_nodes), graph.degrees)
    previous_of = graph.neighbours
    matrix = np.zeros((len(node_of), len(node_of)))
    for state, (node, previous) in enumerate(zip(node_of, previous_of)):
        for (new_previous, new_node), probability in _edge_rows(graph, log_w, int(previous), int(node)).items():
            matrix[state, graph.slot(new_node, new_previous)] += probability
    states = NBRWState(jnp.asarray(node_of[:, None], jnp.int32), jnp.asarray(previous_of, jnp.int32))

    def index(batch: NBRWState) -> np.ndarray:
        nodes, previous = np.asarray(batch.position)[:, 0], np.asarray(batch.previous)
        rows = np.array([graph.slot(int(n), int(p)) for n, p in zip(nodes, previous)])
        known = graph.neighbours[np.clip(rows, 0, len(graph.neighbours) - 1)] == previous
        return np.where(known, rows, -1)  # -1: not a directed edge (e.g. the memoryless start state)

    return ExactChain(matrix, node_of, states, index)


spec = GraphKernelSpec("nbrw", init, build_kernel, exact_chain, reversible=False)
