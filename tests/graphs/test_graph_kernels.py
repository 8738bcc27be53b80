"""Graph kernels: mu-invariance by exact enumeration, the JAX kernels against their enumerated matrices, and
mutations (a missing MH correction, MHDA without its squares) that these checks must catch."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from srmc import samplers, targets, testing
from srmc.samplers import graph_spec, mhrw, mtm, nbrw
from srmc.samplers._metropolis import MetropolisInfo
from srmc.samplers.graph_spec import ExactChain, GraphKernelSpec
from tests.graphs.chains import ladder, triangles

KERNEL_PARAMS = {"mhrw": {}, "nbrw": {}, "mtm": {"num_tries": 3}, "mtm_barker": {"num_tries": 2, "balancing": "barker"}}
KERNEL_MODULES = {"mhrw": mhrw, "nbrw": nbrw, "mtm": mtm, "mtm_barker": mtm}


def pendant() -> targets.Target:
    """A triangle with a pendant path (a node of degree 1: NBRW must backtrack there), non-uniform mu."""
    G = nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4)])
    return targets.graph(G, weights=[1.0, 3.0, 2.0, 0.5, 1.5], name="pendant")


GRAPHS = {"triangles": triangles, "ladder": ladder, "pendant": pendant,
          "florentine_degree": lambda: targets.get("florentine_families", mu="degree")}


def test_graph_kernels_are_listed_apart_from_the_srmc_kernels():
    assert samplers.GRAPH_KERNELS == (mhrw, nbrw, mtm)
    assert not set(samplers.GRAPH_KERNELS) & set(samplers.KERNELS)
    for module in samplers.GRAPH_KERNELS:
        assert module.spec.state_space == graph_spec.GRAPH == targets.Graph.kind
    assert mhrw.spec.transition_row is not None and mhrw.spec.reversible
    assert nbrw.spec.transition_row is None and not nbrw.spec.reversible
    assert mtm.spec.transition_row is None and mtm.spec.reversible


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("name", sorted(KERNEL_PARAMS))
def test_each_kernel_leaves_mu_invariant_exactly(name, graph):
    result = testing.check_graph_invariance(KERNEL_MODULES[name], GRAPHS[graph](), KERNEL_PARAMS[name])
    assert result, result.detail


@pytest.mark.parametrize("graph", ["triangles", "pendant"])
@pytest.mark.parametrize("name", sorted(KERNEL_PARAMS))
def test_each_jax_kernel_steps_as_its_enumerated_matrix(name, graph):
    result = testing.check_graph_transitions(KERNEL_MODULES[name], GRAPHS[graph](), KERNEL_PARAMS[name],
                                             num_samples=1000)
    assert result, result.detail


def test_nbrw_is_not_reversible_and_backtracks_less_than_mhrw():
    target = triangles()
    chain = testing.exact_graph_chain(nbrw, target)
    nu = testing.graphs.stationary_law(chain.matrix)
    flows = nu[:, None] * chain.matrix
    assert np.max(np.abs(flows - flows.T)) > 1e-3  # the lifted chain is not reversible
    # stationary rate of backtracking moves (e, j) -> (j, e); MHRW's, with the same memory across rejections:
    # nu(e, j) = mu_j P_je / (1 - P_jj), and it backtracks with P_je
    previous = np.asarray(chain.states.previous)
    back = np.array([[chain.node[t] == previous[s] and previous[t] == chain.node[s] for t in range(len(nu))]
                     for s in range(len(nu))])
    nbrw_rate = float(np.sum(flows * back))
    P, mu = testing.exact_graph_chain(mhrw, target).matrix, target.graph.mu
    off = P - np.diag(np.diag(P))
    mhrw_rate = float(np.sum(mu[:, None] * off**2 / (1 - np.diag(P))[:, None]))
    assert nbrw_rate < 0.75 * mhrw_rate  # exact rates: 0.159 against 0.310 on this graph


def test_mtm_with_one_try_is_mhrw():
    target = pendant()
    np.testing.assert_allclose(testing.exact_graph_chain(mtm, target, {"num_tries": 1}).matrix,
                               testing.exact_graph_chain(mhrw, target).matrix, atol=1e-14)


def test_mhrw_row_is_its_matrix_row():
    target = targets.get("karate_club")
    P = testing.exact_graph_chain(mhrw, target).matrix
    graph = target.graph.structure
    for node in (0, 11, 33):
        neighbours = graph.neighbours[graph.offsets[node]:graph.offsets[node + 1]]
        row = np.exp(np.asarray(mhrw.transition_row(jnp.array([node]), neighbours, target.logdensity, graph)))
        np.testing.assert_allclose(row, P[node, np.asarray(neighbours)], rtol=1e-5)


def test_a_hub_proposes_each_of_its_thousand_neighbours_uniformly():
    target = targets.get("ego_network", num_alters=1000)
    kernel = mhrw.build_kernel()
    keys = jax.random.split(jax.random.key(3), 20000)
    states = mhrw.MHRWState(jnp.zeros((20000, 1), jnp.int32))
    ends, info = jax.vmap(lambda k, s: kernel(k, s, target.logdensity, target.graph.structure))(keys, states)
    moved = np.asarray(ends.position[:, 0])
    assert bool(jnp.all(info.is_accepted)) and moved.min() >= 1  # uniform mu: the hub's moves are all accepted
    counts = np.bincount(moved, minlength=1001)[1:]
    # uniform over 1000 neighbours: the count spread matches a multinomial's (chi-square, 1000 - 1 dof, 5 sd)
    chi2 = np.sum((counts - 20.0) ** 2 / 20.0)
    assert abs(chi2 - 999) < 5 * np.sqrt(2 * 999)


# --- mutations these checks must catch ---------------------------------------------------------------------------


def _always_accept_kernel():
    """MHRW without its Metropolis–Hastings correction: the simple random walk (stationary law ∝ degree)."""
    inner = mhrw.build_kernel()

    def kernel(rng_key, state, logdensity_fn, graph):
        return inner(rng_key, state, lambda position: jnp.zeros(()), graph)

    return kernel


def _srw_chain(graph, log_weights):
    return mhrw.exact_chain(graph, np.zeros_like(log_weights))


def test_mutation_missing_mh_correction_fails_the_invariance_check():
    broken = mhrw.spec._replace(name="srw", build_kernel=_always_accept_kernel, exact_chain=_srw_chain)
    result = testing.check_graph_invariance(broken, triangles())
    assert not result and "marginal" in result.detail


def test_mutation_kernel_that_differs_from_its_matrix_fails_the_transition_check():
    broken = mhrw.spec._replace(name="mhrw_without_correction", build_kernel=_always_accept_kernel)
    assert not testing.check_graph_transitions(broken, triangles(), num_samples=1000)


def _nbrw_without_squares(graph, log_weights):
    """MHDA's delayed acceptance with min(1, A_k' / A_e) instead of its square: not mu-invariant."""
    original = nbrw.mh_acceptance
    graph_np = nbrw.numpy_graph(graph)
    log_w = np.asarray(log_weights, np.float64)
    node_of = np.repeat(np.arange(graph_np.num_nodes), graph_np.degrees)
    matrix = np.zeros((len(node_of), len(node_of)))
    for state, (node, previous) in enumerate(zip(node_of, graph_np.neighbours)):
        neighbours = graph_np.neighbours_of(node)
        d = len(neighbours)
        acceptance = original(graph_np, log_w, node, neighbours)
        for k, a_k in zip(neighbours, acceptance):
            first = a_k / d
            if k != previous or d == 1:
                matrix[state, graph_np.slot(k, node)] += first
                continue
            redirected = 0.0
            for other, a_other in zip(neighbours, acceptance):
                if other == previous:
                    continue
                beta = min(1.0, a_other / a_k)  # the mutation: no square
                matrix[state, graph_np.slot(other, node)] += first * beta / (d - 1)
                redirected += first * beta / (d - 1)
            matrix[state, graph_np.slot(k, node)] += first - redirected
        matrix[state, state] += 1.0 - acceptance.sum() / d
    return ExactChain(matrix, node_of, None)


def test_mutation_mhda_without_its_squares_fails_the_invariance_check():
    broken = nbrw.spec._replace(name="nbrw_no_squares", exact_chain=_nbrw_without_squares)
    assert not testing.check_graph_invariance(broken, triangles())


def test_kernel_parameters_are_checked():
    with pytest.raises(ValueError, match="does not take"):
        testing.exact_graph_chain(mhrw, triangles(), {"num_tries": 3})
    with pytest.raises(ValueError, match="graph comes from the target"):
        testing.exact_graph_chain(mtm, triangles(), {"graph": None})
    with pytest.raises(ValueError, match="num_tries"):
        testing.exact_graph_chain(mtm, triangles(), {"num_tries": 0})
    with pytest.raises(TypeError, match="graph kernel"):
        testing.check_graph_invariance(samplers.mala, triangles())


def test_info_fields_of_every_graph_kernel():
    target = pendant()
    for name, params in KERNEL_PARAMS.items():
        module = KERNEL_MODULES[name]
        state = module.init(jnp.array([2]))
        new_state, info = module.build_kernel()(jax.random.key(0), state, target.logdensity,
                                                target.graph.structure, **params)
        assert isinstance(info, MetropolisInfo)
        assert new_state.position.shape == (1,) and new_state.position.dtype == jnp.int32
        assert info.acceptance_rate.shape == () and info.is_accepted.dtype == bool and info.is_nonfinite.dtype == bool


def test_a_custom_record_works_with_the_checks():
    spec = GraphKernelSpec("my_mhrw", mhrw.init, mhrw.build_kernel, mhrw.exact_chain, reversible=True)
    assert testing.check_graph_invariance(spec, pendant())
