"""Pieces the graph kernels share: reading the CSR structure, proposing a neighbour, the MH ratio on a graph, and
the NumPy versions the exact transition matrices use.

A node is an int32 scalar inside a kernel and an int32 array of shape ``(1,)`` as a position.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def as_position(node: Array) -> Array:
    """The ``(1,)`` int32 position of a node."""
    return jnp.reshape(jnp.asarray(node, jnp.int32), (1,))


def init_position(position: Array) -> Array:
    """A position given as a node or a ``(1,)`` array, as a ``(1,)`` int32 array."""
    return as_position(jnp.reshape(jnp.asarray(position), (-1,))[0])


def log_weight(logdensity_fn: Callable, node: Array) -> Array:
    """``logdensity_fn`` at the position of `node`."""
    return jnp.asarray(logdensity_fn(as_position(node)))


def log_weights(logdensity_fn: Callable, nodes: Array) -> Array:
    """``logdensity_fn`` at every node of `nodes` (any shape)."""
    flat = jnp.reshape(nodes, (-1,))
    return jnp.reshape(jax.vmap(lambda node: log_weight(logdensity_fn, node))(flat), jnp.shape(nodes))


def degree(graph: Any, node: Array) -> Array:
    """deg(node), int32."""
    return graph.degrees[node]


def neighbour(graph: Any, node: Array, slot: Array) -> Array:
    """The `slot`-th neighbour of `node` (0 <= slot < deg node)."""
    return graph.neighbours[graph.offsets[node] + slot]


def uniform_slot(rng_key: Array, count: Array) -> Array:
    """A slot drawn uniformly from 0..count-1 (count >= 1), int32."""
    return jax.random.randint(rng_key, (), 0, count, jnp.int32)


def mh_log_ratio(log_w_from: Array, log_w_to: Array, degree_from: Array, degree_to: Array) -> Array:
    """log [w_to d_from / (w_from d_to)]: the log MH ratio of a uniform-neighbour proposal from -> to."""
    return log_w_to - log_w_from + jnp.log(degree_from.astype(log_w_to.dtype)) - jnp.log(
        degree_to.astype(log_w_to.dtype))


class NumpyGraph(NamedTuple):
    """A graph's CSR arrays as NumPy (for the exact transition matrices)."""

    offsets: np.ndarray
    neighbours: np.ndarray
    degrees: np.ndarray

    @property
    def num_nodes(self) -> int:
        """|V|."""
        return len(self.degrees)

    def neighbours_of(self, node: int) -> np.ndarray:
        """Node's neighbours in increasing order."""
        return self.neighbours[self.offsets[node]:self.offsets[node + 1]]

    def slot(self, node: int, other: int) -> int:
        """The index of `other` in `node`'s neighbour list."""
        return int(self.offsets[node] + np.searchsorted(self.neighbours_of(node), other))


def numpy_graph(graph: Any) -> NumpyGraph:
    """`graph`'s CSR arrays (anything with offsets, neighbours, degrees) as NumPy int64."""
    return NumpyGraph(*(np.asarray(array, np.int64) for array in (graph.offsets, graph.neighbours, graph.degrees)))


def mh_acceptance(graph: NumpyGraph, log_w: np.ndarray, node: int, others: np.ndarray) -> np.ndarray:
    """min(1, w_j d_i / (w_i d_j)) from `node` to each of `others` (float64)."""
    log_ratio = log_w[others] - log_w[node] + np.log(graph.degrees[node]) - np.log(graph.degrees[others])
    return np.exp(np.minimum(log_ratio, 0.0))


def mh_matrix(graph: Any, log_weights_: np.ndarray) -> np.ndarray:
    """The Metropolis–Hastings random walk's transition matrix (uniform-neighbour proposal), float64 dense."""
    graph = numpy_graph(graph)
    log_w = np.asarray(log_weights_, np.float64)
    matrix = np.zeros((graph.num_nodes, graph.num_nodes))
    for node in range(graph.num_nodes):
        others = graph.neighbours_of(node)
        matrix[node, others] = mh_acceptance(graph, log_w, node, others) / graph.degrees[node]
        matrix[node, node] = max(0.0, 1.0 - matrix[node, others].sum())
    return matrix
