"""Graph targets: a distribution mu on the nodes of a finite, connected, undirected networkx graph.

``graph(G, weights=None)`` relabels the nodes 0..|V|-1 in the order ``list(G.nodes)`` (``target.graph.labels[k]``
is node k's original label), sets mu proportional to the weights (None: uniform; ``"degree"``: proportional to
the degree; an array in node order, a ``{node: weight}`` dict, or the name of a node attribute), and carries mu
exactly (``target.graph.mu``; ``target.ground_truth.marginals`` is ``mu[None, :]``). Positions are int32 arrays of
shape ``(1,)`` (`Graph` space); the log density is ``log mu[x]`` up to a constant. Edge attributes (weights on
edges) are ignored: the graph is the set of its edges.

The structure travels to JAX as `CSRGraph` (offsets, sorted neighbour lists, degrees): a kernel reads a node's
neighbours as one slice of ``neighbours``, so a hub costs only the chains standing on it; nothing is padded to the
maximum degree.

Refused, each with the fix: a graph that is not a networkx graph, directed, a multigraph, empty or of one node,
disconnected, or with self-loops (the samplers' rejections make their own diagonal; a self-loop would change the
proposal: remove them with ``G.remove_edges_from(nx.selfloop_edges(G))``); weights that are missing, zero,
negative or not finite.

The registry holds networkx's own real graphs (karate_club, les_miserables, florentine_families,
davis_southern_women; shipped with networkx, nothing downloaded) and synthetic ones with their size as a parameter
and a fixed seed (barabasi_albert, watts_strogatz, grid_2d, ego_network), each with ``mu="uniform"`` or
``mu="degree"``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from .base import Histogram, Target, check_int, exact_truth, register
from .space import Graph

Array = jax.Array

MU_CHOICES = ("uniform", "degree")


class CSRGraph(NamedTuple):
    """A graph in compressed-sparse-row form, a pytree of int32 arrays (data, not static).

    Attributes:
      offsets: ``(num_nodes + 1,)``: node i's neighbours are ``neighbours[offsets[i]:offsets[i + 1]]``.
      neighbours: ``(2 |E|,)``: every node's neighbours in increasing order.
      degrees: ``(num_nodes,)``: ``offsets[i + 1] - offsets[i]``.
    """

    offsets: Array
    neighbours: Array
    degrees: Array

    @property
    def num_nodes(self) -> int:
        """|V| (a Python int: shapes are static)."""
        return int(self.degrees.shape[0])


def csr_from_networkx(G: nx.Graph) -> CSRGraph:
    """The `CSRGraph` of a graph whose nodes are 0..n-1 (neighbour lists sorted), as numpy int32 arrays."""
    num_nodes = G.number_of_nodes()
    lists = [sorted(G.neighbors(node)) for node in range(num_nodes)]
    degrees = np.array([len(neighbours) for neighbours in lists], np.int32)
    offsets = np.concatenate([[0], np.cumsum(degrees)]).astype(np.int32)
    neighbours = np.array([j for neighbours in lists for j in neighbours], np.int32)
    return CSRGraph(offsets, neighbours, degrees)


class GraphData(NamedTuple):
    """What a graph target knows of its graph.

    Attributes:
      structure: the `CSRGraph` (jax arrays) the kernels read.
      mu: the exact target, float64 ``(num_nodes,)``, summing to 1.
      labels: node k's original label in ``G`` (display only).
      weights: how mu was made: ``"uniform"``, ``"degree"``, ``"array"``, ``"dict"`` or ``"attribute:<name>"``.
    """

    structure: CSRGraph
    mu: np.ndarray
    labels: tuple
    weights: str

    @property
    def num_nodes(self) -> int:
        """|V|."""
        return len(self.mu)

    def adjacency(self) -> np.ndarray:
        """The dense 0/1 adjacency matrix (small graphs: exact formulas)."""
        offsets, neighbours = np.asarray(self.structure.offsets), np.asarray(self.structure.neighbours)
        matrix = np.zeros((self.num_nodes, self.num_nodes))
        rows = np.repeat(np.arange(self.num_nodes), np.diff(offsets))
        matrix[rows, neighbours] = 1.0
        return matrix


def check_graph(G: Any, name: str = "G") -> None:
    """A ValueError (TypeError for a non-graph) naming `name` and the fix unless `G` is a finite, undirected,
    simple, connected networkx graph with at least two nodes and no self-loops."""
    if not isinstance(G, nx.Graph):
        raise TypeError(f"{name} must be a networkx.Graph, got {type(G).__name__}.")
    if G.is_directed():
        raise ValueError(f"{name} is directed; the samplers need an undirected graph: pass {name}.to_undirected().")
    if G.is_multigraph():
        raise ValueError(f"{name} is a multigraph; pass networkx.Graph({name}) to merge parallel edges.")
    if G.number_of_nodes() < 2:
        raise ValueError(f"{name} has {G.number_of_nodes()} node(s); a graph target needs at least two nodes and "
                         "one edge.")
    loops = [node for node, _ in nx.selfloop_edges(G)]
    if loops:
        raise ValueError(f"{name} has self-loops at {loops[:5]}{' ...' if len(loops) > 5 else ''}; remove them "
                         f"with {name}.remove_edges_from(networkx.selfloop_edges({name})) (the samplers' own "
                         "rejections make the diagonal of their transition matrices).")
    if not nx.is_connected(G):
        count = nx.number_connected_components(G)
        raise ValueError(f"{name} is disconnected ({count} components); no walk can reach every node. Keep the "
                         f"largest component: {name}.subgraph(max(networkx.connected_components({name}), "
                         "key=len)).copy().")


def _raw_weights(G: nx.Graph, nodes: list, weights: Any) -> tuple[np.ndarray, str]:
    """The weights in node order (unchecked) and how they were given."""
    if weights is None or (isinstance(weights, str) and weights == "uniform"):
        return np.ones(len(nodes)), "uniform"
    if isinstance(weights, str) and weights == "degree":
        return np.array([G.degree(node) for node in nodes], np.float64), "degree"
    if isinstance(weights, str):
        missing = [node for node in nodes if weights not in G.nodes[node]]
        if missing:
            raise ValueError(f"weights={weights!r} names a node attribute that nodes {missing[:5]} lack; give every "
                             "node the attribute, or pass None, 'degree', an array or a {node: weight} dict.")
        return np.array([G.nodes[node][weights] for node in nodes], np.float64), f"attribute:{weights}"
    if isinstance(weights, dict):
        missing = [node for node in nodes if node not in weights]
        if missing:
            raise ValueError(f"weights (a dict) has no weight for nodes {missing[:5]}; give one for every node.")
        return np.array([weights[node] for node in nodes], np.float64), "dict"
    array = np.asarray(weights, np.float64)
    if array.shape != (len(nodes),):
        raise ValueError(f"weights must have shape ({len(nodes)},) (one per node, in the order list(G.nodes)), got "
                         f"{array.shape}.")
    return array, "array"


def node_weights(G: nx.Graph, weights: Any = None) -> tuple[np.ndarray, str]:
    """mu (float64, summing to 1) in the order ``list(G.nodes)`` from `weights` (see `graph`), and its kind; a
    ValueError naming `weights` for missing, zero, negative or non-finite values."""
    nodes = list(G.nodes)
    raw, kind = _raw_weights(G, nodes, weights)
    bad = [nodes[i] for i in np.flatnonzero(~np.isfinite(raw) | (raw <= 0))]
    if bad:
        raise ValueError(f"weights must be positive and finite at every node; nodes {bad[:5]} have "
                         f"{[float(raw[nodes.index(node)]) for node in bad[:5]]}. A node of zero weight cannot be "
                         "a target state: remove it from the graph (keeping it connected) or give it a positive "
                         "weight.")
    return raw / raw.sum(), kind


def graph(G: nx.Graph, weights: Any = None, name: str | None = None) -> Target:
    """A `Target` on the nodes of the networkx graph `G` with mu proportional to `weights` (see the module doc).

    Args:
      G: a finite, connected, undirected, simple graph without self-loops (anything else is refused with the fix).
      weights: None or ``"uniform"`` (uniform mu), ``"degree"`` (mu_i proportional to deg i), an array of shape
        ``(|V|,)`` in the order ``list(G.nodes)``, a ``{node: weight}`` dict, or a node attribute name; every
        weight positive and finite.
      name: the target's name (default ``graph(<G.name>, n=|V|, mu=<kind>)``).

    Returns:
      A `Target` on `Graph(|V|)`: ``logdensity(x) = log mu[x[0]]``; ``graph`` the `GraphData` (CSR structure,
      exact mu, original labels); ``sample`` exact draws of mu; chains start at uniformly drawn nodes; ground
      truth exact with ``marginals = mu[None, :]`` (mean and variance are those of the node index).
    """
    data = graph_data(G, weights)
    name = name or f"graph({G.name or 'G'}, n={data.num_nodes}, mu={data.weights})"
    return _target(name, data, {"weights": data.weights})


def graph_data(G: nx.Graph, weights: Any = None) -> GraphData:
    """The `GraphData` of `G` with mu proportional to `weights` (checked as `graph` does)."""
    check_graph(G)
    mu, kind = node_weights(G, weights)
    relabelled = nx.convert_node_labels_to_integers(G, ordering="default")
    structure = CSRGraph(*(jnp.asarray(array) for array in csr_from_networkx(relabelled)))
    return GraphData(structure, mu, tuple(G.nodes), kind)


def _target(name: str, data: GraphData, params: dict) -> Target:
    """The `Target` of graph data `data`."""
    log_mu = jnp.asarray(np.log(data.mu), jnp.result_type(float))
    num_nodes = data.num_nodes
    index = np.arange(num_nodes, dtype=np.float64)
    mean = float(index @ data.mu)
    truth = exact_truth([mean], [float((index - mean) ** 2 @ data.mu)], "mu exact (marginals)", data.mu[None, :])

    def logdensity(position: Array) -> Array:
        return log_mu[position[0]]

    def initial_position(rng_key: Array, num: int) -> Array:
        return Graph(num_nodes).uniform_positions(rng_key, num)

    def sample(rng_key: Array, num: int) -> Array:
        return jax.random.categorical(rng_key, log_mu, shape=(num,)).astype(jnp.int32)[:, None]

    return Target(name, Graph(num_nodes), logdensity, initial_position, ground_truth=truth, sample=sample,
                  params=params, score_is_gradient=False, score_name="none", graph=data,
                  functions={"visits": Histogram(node_of, num_nodes)})


def node_of(position: Array) -> Array:
    """The node a graph position (int32, shape (1,)) stands on."""
    return position[0]


# --- registry -----------------------------------------------------------------------------------------------------


def _check_mu(mu: str) -> str:
    if mu not in MU_CHOICES:
        raise ValueError(f"mu must be one of {MU_CHOICES}, got {mu!r}.")
    return mu


def _registered(G: nx.Graph, name: str, mu: str, params: dict) -> Target:
    return _target(name, graph_data(G, _check_mu(mu)), {**params, "mu": mu})


@register("karate_club")
def karate_club(mu: str = "uniform") -> Target:
    """Zachary's karate club (34 nodes, 78 edges; networkx's copy), uniform or degree-proportional mu."""
    return _registered(nx.karate_club_graph(), f"karate_club(mu={mu})", mu, {})


@register("les_miserables")
def les_miserables(mu: str = "uniform") -> Target:
    """Les Misérables co-appearances (77 nodes, 254 edges; networkx's copy, edge weights ignored)."""
    return _registered(nx.les_miserables_graph(), f"les_miserables(mu={mu})", mu, {})


@register("florentine_families")
def florentine_families(mu: str = "uniform") -> Target:
    """Florentine families' marriages (15 nodes, 20 edges; networkx's copy)."""
    return _registered(nx.florentine_families_graph(), f"florentine_families(mu={mu})", mu, {})


@register("davis_southern_women")
def davis_southern_women(mu: str = "uniform") -> Target:
    """Davis' southern women and events, bipartite (32 nodes, 89 edges; networkx's copy)."""
    return _registered(nx.davis_southern_women_graph(), f"davis_southern_women(mu={mu})", mu, {})


@register("barabasi_albert")
def barabasi_albert(num_nodes: int = 1000, edges_per_node: int = 3, seed: int = 0, mu: str = "uniform") -> Target:
    """Barabási–Albert preferential attachment graph (hubs; connected by construction), fixed seed."""
    n = check_int(num_nodes, "num_nodes", minimum=3)
    m = check_int(edges_per_node, "edges_per_node")
    if m >= n:
        raise ValueError(f"edges_per_node must be < num_nodes, got {m} >= {n}.")
    G = nx.barabasi_albert_graph(n, m, seed=check_int(seed, "seed", minimum=0))
    params = {"num_nodes": n, "edges_per_node": m, "seed": seed}
    return _registered(G, f"barabasi_albert(num_nodes={n},edges_per_node={m},seed={seed},mu={mu})", mu, params)


@register("watts_strogatz")
def watts_strogatz(num_nodes: int = 1000, num_neighbours: int = 6, rewiring: float = 0.1, seed: int = 0,
                   mu: str = "uniform") -> Target:
    """Connected Watts–Strogatz small world (ring of `num_neighbours`-regular nodes, rewired), fixed seed."""
    n = check_int(num_nodes, "num_nodes", minimum=3)
    k = check_int(num_neighbours, "num_neighbours", minimum=2)
    if not 0.0 <= float(rewiring) <= 1.0:
        raise ValueError(f"rewiring must lie in [0, 1], got {rewiring!r}.")
    G = nx.connected_watts_strogatz_graph(n, k, float(rewiring), tries=1000, seed=check_int(seed, "seed", minimum=0))
    params = {"num_nodes": n, "num_neighbours": k, "rewiring": rewiring, "seed": seed}
    return _registered(G, f"watts_strogatz(num_nodes={n},num_neighbours={k},rewiring={rewiring},seed={seed},"
                          f"mu={mu})", mu, params)


@register("grid_2d")
def grid_2d(rows: int = 32, cols: int = 32, mu: str = "uniform") -> Target:
    """The rows x cols square lattice (bipartite; corners of degree 2), nodes in row-major order."""
    r, c = check_int(rows, "rows"), check_int(cols, "cols")
    if r * c < 2:
        raise ValueError(f"rows * cols must be at least 2, got {r} x {c}.")
    G = nx.grid_2d_graph(r, c)
    return _registered(G, f"grid_2d(rows={r},cols={c},mu={mu})", mu, {"rows": r, "cols": c})


@register("ego_network")
def ego_network(num_alters: int = 1000, alter_edges: int = 2, triangle_probability: float = 0.3, seed: int = 0,
                mu: str = "uniform") -> Target:
    """An ego network: node 0 (the ego) linked to every alter, the alters wired as a Holme–Kim power-law cluster
    graph (hub of degree `num_alters`: the case where padding to the maximum degree would cost every chain)."""
    n = check_int(num_alters, "num_alters", minimum=3)
    m = check_int(alter_edges, "alter_edges")
    if m >= n:
        raise ValueError(f"alter_edges must be < num_alters, got {m} >= {n}.")
    if not 0.0 <= float(triangle_probability) <= 1.0:
        raise ValueError(f"triangle_probability must lie in [0, 1], got {triangle_probability!r}.")
    alters = nx.powerlaw_cluster_graph(n, m, float(triangle_probability), seed=check_int(seed, "seed", minimum=0))
    G = nx.Graph()
    G.add_node("ego")
    G.add_edges_from(("ego", ("alter", i)) for i in range(n))
    G.add_edges_from((("alter", i), ("alter", j)) for i, j in alters.edges)
    params = {"num_alters": n, "alter_edges": m, "triangle_probability": triangle_probability, "seed": seed}
    return _registered(G, f"ego_network(num_alters={n},alter_edges={m},triangle_probability={triangle_probability},"
                          f"seed={seed},mu={mu})", mu, params)
