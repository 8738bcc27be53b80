"""Metropolis–Hastings random walk (MHRW) on a graph.

From node i propose a neighbour j uniformly (probability 1/d_i) and accept with probability
min(1, w_j d_i / (w_i d_j)), w = exp(logdensity_fn): the chain is reversible w.r.t. mu ∝ w,

    P_ij = (1 / d_i) min(1, w_j d_i / (w_i d_j))   (j ∈ N(i)),      P_ii = 1 - sum_j P_ij.

It hands over its whole transition row (`transition_row`), which is what SRRW needs. A step evaluates the log
density at two nodes and reads two degrees: its cost does not depend on the degree.
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
    log_weights,
    mh_log_ratio,
    mh_matrix,
    neighbour,
    uniform_slot,
)
from ._metropolis import MetropolisInfo, metropolis_decision
from .graph_spec import ExactChain, GraphKernelSpec

Array = jax.Array


class MHRWState(NamedTuple):
    """The current node, an int32 array of shape (1,)."""

    position: Array


MHRWInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite


def init(position: Array, logdensity_fn: Callable | None = None) -> MHRWState:
    """The state at `position` (a node, or a (1,) array holding one)."""
    return MHRWState(init_position(position))


def build_kernel() -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph) -> (state, info)``."""

    def kernel(rng_key: Array, state: MHRWState, logdensity_fn: Callable, graph: Any) -> tuple[MHRWState, MHRWInfo]:
        """One MHRW transition targeting mu ∝ exp(logdensity_fn) on `graph`."""
        key_proposal, key_accept = jax.random.split(rng_key)
        node = state.position[0]
        node_degree = degree(graph, node)
        proposal = neighbour(graph, node, uniform_slot(key_proposal, node_degree))
        log_ratio = mh_log_ratio(log_weight(logdensity_fn, node), log_weight(logdensity_fn, proposal),
                                 node_degree, degree(graph, proposal))
        decision = metropolis_decision(key_accept, log_ratio)
        position = jnp.where(decision.is_accepted, as_position(proposal), state.position)
        return MHRWState(position), decision

    return kernel


def transition_row(position: Array, neighbours: Array, logdensity_fn: Callable, graph: Any) -> Array:
    """log P(position -> j) for each node j of `neighbours` (all neighbours of the position):
    -log d_i + min(0, log [w_j d_i / (w_i d_j)]). The diagonal is 1 minus their sum over the whole neighbourhood."""
    node = position[0]
    node_degree = degree(graph, node)
    log_ratio = mh_log_ratio(log_weight(logdensity_fn, node), log_weights(logdensity_fn, neighbours), node_degree,
                             degree(graph, neighbours))
    return jnp.minimum(log_ratio, 0.0) - jnp.log(node_degree.astype(log_ratio.dtype))


def exact_chain(graph: Any, log_weights_: np.ndarray) -> ExactChain:
    """The exact transition matrix on the nodes (float64)."""
    matrix = mh_matrix(graph, log_weights_)
    nodes = np.arange(matrix.shape[0])
    return ExactChain(matrix, nodes, MHRWState(jnp.asarray(nodes[:, None], jnp.int32)))


spec = GraphKernelSpec("mhrw", init, build_kernel, exact_chain, reversible=True, transition_row=transition_row)
