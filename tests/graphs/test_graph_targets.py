"""Graph targets: relabelling, mu from every kind of weights, the registry, and the refusals (each names the fix)."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from srmc import targets
from srmc.targets import Graph

REGISTERED = ["karate_club", "les_miserables", "florentine_families", "davis_southern_women", "barabasi_albert",
              "watts_strogatz", "grid_2d", "ego_network"]


def test_nodes_are_relabelled_in_graph_order_and_mu_follows_the_weights():
    G = nx.Graph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    target = targets.graph(G, weights={"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
    assert target.graph.labels == ("a", "b", "c", "d")
    np.testing.assert_allclose(target.graph.mu, np.array([1, 2, 3, 4]) / 10)
    assert target.space == Graph(4) and target.dim == 1 and target.kind == "graph"
    assert target.score is None and not target.score_is_gradient
    offsets, neighbours = np.asarray(target.graph.structure.offsets), np.asarray(target.graph.structure.neighbours)
    assert [list(neighbours[offsets[i]:offsets[i + 1]]) for i in range(4)] == [[1, 2], [0, 2], [0, 1, 3], [2]]
    np.testing.assert_array_equal(target.graph.structure.degrees, [2, 2, 3, 1])
    # log density is log mu up to a constant, at a (1,) position
    values = np.array([float(target.logdensity(jnp.array([i]))) for i in range(4)])
    np.testing.assert_allclose(values - values[0], np.log(target.graph.mu / target.graph.mu[0]), rtol=1e-6)
    np.testing.assert_allclose(target.ground_truth.marginals, target.graph.mu[None, :])


@pytest.mark.parametrize("weights, expected", [
    (None, [1, 1, 1, 1]), ("uniform", [1, 1, 1, 1]), ("degree", [2, 2, 3, 1]), ([1, 1, 2, 4], [1, 1, 2, 4]),
    ("size", [5, 6, 7, 8]),
])
def test_every_kind_of_weights(weights, expected):
    G = nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3)])
    nx.set_node_attributes(G, {0: 5, 1: 6, 2: 7, 3: 8}, "size")
    target = targets.graph(G, weights=weights)
    np.testing.assert_allclose(target.graph.mu, np.array(expected) / np.sum(expected))


def test_exact_sampler_and_starts_are_nodes_of_shape_one():
    target = targets.get("florentine_families", mu="degree")
    draws = np.asarray(target.sample(jax.random.key(0), 20000))
    assert draws.shape == (20000, 1) and draws.dtype == np.int32
    frequencies = np.bincount(draws[:, 0], minlength=15) / 20000
    stderr = np.sqrt(target.graph.mu * (1 - target.graph.mu) / 20000)
    assert np.all(np.abs(frequencies - target.graph.mu) < 5 * stderr)  # 5 standard errors per node
    starts = target.initial_position(jax.random.key(1), 7)
    assert starts.shape == (7, 1) and bool(jnp.all((starts >= 0) & (starts < 15)))
    np.testing.assert_array_equal(target.space.check_positions(starts), starts)


@pytest.mark.parametrize("name", REGISTERED)
@pytest.mark.parametrize("mu", ["uniform", "degree"])
def test_registry(name, mu):
    small = {"barabasi_albert": {"num_nodes": 200}, "watts_strogatz": {"num_nodes": 200}, "grid_2d": {"rows": 5},
             "ego_network": {"num_alters": 200}}
    target = targets.get(name, mu=mu, **small.get(name, {}))
    assert name in targets.names() and targets.describe(name)
    degrees = np.asarray(target.graph.structure.degrees)
    expected = degrees / degrees.sum() if mu == "degree" else np.full(len(degrees), 1 / len(degrees))
    np.testing.assert_allclose(target.graph.mu, expected)
    G = nx.Graph()
    offsets, neighbours = np.asarray(target.graph.structure.offsets), np.asarray(target.graph.structure.neighbours)
    G.add_edges_from((i, int(j)) for i in range(len(degrees)) for j in neighbours[offsets[i]:offsets[i + 1]])
    assert nx.is_connected(G) and G.number_of_nodes() == len(degrees) and nx.number_of_selfloops(G) == 0


@pytest.mark.slow
def test_registry_reaches_ten_thousand_nodes():
    for name, params in [("barabasi_albert", {"num_nodes": 10_000}), ("watts_strogatz", {"num_nodes": 10_000}),
                         ("grid_2d", {"rows": 100, "cols": 100}), ("ego_network", {"num_alters": 10_000})]:
        assert targets.get(name, **params).graph.num_nodes >= 10_000


def test_the_ego_network_has_a_hub_of_degree_num_alters():
    target = targets.get("ego_network", num_alters=300)
    assert int(target.graph.structure.degrees[0]) == 300 and target.graph.labels[0] == "ego"


def test_davis_southern_women_is_bipartite_and_karate_is_not():
    assert nx.is_bipartite(nx.davis_southern_women_graph()) and not nx.is_bipartite(nx.karate_club_graph())


@pytest.mark.parametrize("make, message", [
    (lambda: nx.Graph([(0, 1), (2, 3)]), "disconnected"),
    (lambda: nx.DiGraph([(0, 1), (1, 0)]), "directed"),
    (lambda: nx.MultiGraph([(0, 1), (0, 1)]), "multigraph"),
    (lambda: nx.Graph(), "0 node"),
    (lambda: nx.Graph([(0, 1), (1, 1)]), "self-loops"),
])
def test_bad_graphs_are_refused_with_the_fix(make, message):
    with pytest.raises(ValueError, match=message) as error:
        targets.graph(make())
    fixes = {"disconnected": "largest component", "directed": "to_undirected", "multigraph": "networkx.Graph",
             "0 node": "at least two nodes", "self-loops": "selfloop_edges"}
    assert fixes[message] in str(error.value)


def test_a_non_graph_is_refused():
    with pytest.raises(TypeError, match="networkx.Graph"):
        targets.graph([(0, 1)])


@pytest.mark.parametrize("weights", [[1.0, 0.0, 1.0], [1.0, -2.0, 1.0], [1.0, np.nan, 1.0], [1.0, np.inf, 1.0]])
def test_zero_negative_and_non_finite_weights_are_refused(weights):
    with pytest.raises(ValueError, match="positive and finite") as error:
        targets.graph(nx.path_graph(3), weights=weights)
    assert "nodes [1]" in str(error.value)


@pytest.mark.parametrize("weights, message", [
    ([1.0, 2.0], "shape"), ({0: 1.0, 1: 1.0}, "no weight for nodes"), ("colour", "attribute"),
])
def test_incomplete_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        targets.graph(nx.path_graph(3), weights=weights)


def test_graph_positions_are_checked():
    space = Graph(5)
    with pytest.raises(ValueError, match="0..4"):
        space.check_positions(jnp.array([[5]]))
    with pytest.raises(ValueError, match="shape"):
        space.check_positions(jnp.array([1, 2]))
    with pytest.raises(ValueError, match="integer"):
        space.check_positions(jnp.array([[1.0]]))


def test_a_graph_target_takes_no_score():
    target = targets.get("florentine_families")
    with pytest.raises(ValueError, match="has no score"):
        targets.Target("g", target.space, target.logdensity, target.initial_position, score=lambda x: x)
    with pytest.raises(ValueError, match="no score"):
        target.value_and_score(jnp.array([0]))


def test_from_logdensity_points_graph_spaces_to_targets_graph():
    with pytest.raises(ValueError, match=r"targets.graph\(G, weights\)"):
        targets.from_logdensity(lambda x: 0.0, Graph(4))
