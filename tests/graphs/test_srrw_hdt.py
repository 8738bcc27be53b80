"""SRRW and HDT: the three layers, alpha = 0, the frozen-history kernels (algebra and sampling), the history store,
the LRU cache, and bad input."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from scipy import stats

import srmc
from srmc import samplers, targets, testing
from srmc.method import graph_history, graph_theory, hdt, srrw
from srmc.method.graph_history import History, history_params, zero_log_scale
from tests.graphs.chains import base_matrix, ladder, run_chains, triangles


def _states_and_steps(algorithm, target, num_chains, num_steps, seed=0):
    """Positions after each step, (steps, chains), of `algorithm` in a vmapped scan."""
    positions = target.initial_position(jax.random.key(seed), num_chains)
    states = jax.vmap(lambda p: algorithm.init(p, target))(positions)
    step = jax.vmap(lambda k, s: algorithm.step(k, s, target))

    def body(carry, key):
        carry, info = step(jax.random.split(key, num_chains), carry)
        return carry, (carry.position[:, 0], info)

    return jax.jit(lambda s, k: jax.lax.scan(body, s, jax.random.split(k, num_steps)))(states, jax.random.key(seed + 1))


@pytest.mark.parametrize("kernel, params", [(samplers.mhrw, {}), (samplers.nbrw, {}),
                                            (samplers.mtm, {"num_tries": 2})])
def test_hdt_at_alpha_zero_is_the_base_kernel_bit_for_bit(kernel, params):
    target = triangles()
    final, (positions, info) = _states_and_steps(hdt.hdt(kernel, alpha=0.0, kernel_params=params), target, 8, 200)
    base_kernel = kernel.spec.build_kernel()
    starts = target.initial_position(jax.random.key(0), 8)
    base_states = jax.vmap(kernel.spec.init)(starts)
    step = jax.vmap(lambda k, s: base_kernel(k, s, target.logdensity, target.graph.structure, **params))

    def body(carry, key):
        carry, base_info = step(jax.random.split(key, 8), carry)
        return carry, (carry.position[:, 0], base_info)

    _, (base_positions, base_info) = jax.lax.scan(body, base_states, jax.random.split(jax.random.key(1), 200))
    np.testing.assert_array_equal(positions, base_positions)
    np.testing.assert_array_equal(info.acceptance_rate, base_info.acceptance_rate)
    assert int(final.count[0]) == 200 and np.all(np.asarray(final.visits).sum(axis=1) == 200)


def _frozen_state(node, x: np.ndarray) -> srrw.SRRWState:
    history = History(graph_history.initial_table(x / x.sum(), jnp.float32), zero_log_scale(jnp.float32))
    position = jnp.reshape(jnp.asarray(node, jnp.int32), (1,))
    return srrw.SRRWState(position, history, jnp.zeros(len(x), jnp.int32), jnp.zeros((), jnp.int32))


@pytest.mark.parametrize("alpha", [0.0, 5.0])
@pytest.mark.parametrize("chunk_size", [1, 3, 16])
def test_an_srrw_step_samples_the_frozen_kernel(alpha, chunk_size):
    """From every node, 4000 one-step moves of the JAX kernel under a fixed history land with the frequencies of
    graph_theory.srrw_kernel (Pearson chi-square over all rows, cells expecting fewer than 5 pooled, false alarm
    1e-3; a move where K is 0 fails at once); chunks of 1, 3 and 16 lanes."""
    target = targets.graph(_pendant_plus(), weights=[1.0, 3.0, 2.0, 0.5, 1.5, 2.5])
    x = np.array([0.3, 0.05, 0.2, 0.1, 0.15, 0.2])
    K = graph_theory.srrw_kernel(testing.exact_graph_chain(samplers.mhrw, target).matrix, target.graph.mu, x, alpha)
    kernel = srrw.build_kernel(samplers.mhrw.transition_row, chunk_size)
    params = history_params(alpha, 1.0, 1.0)
    nodes = jnp.repeat(jnp.arange(6, dtype=jnp.int32), 4000)
    keys = jax.random.split(jax.random.key(0), nodes.shape[0])
    ends, info = jax.jit(jax.vmap(lambda k, node: kernel(k, _frozen_state(node, x), target.logdensity,
                                                         target.graph.structure, params)))(keys, nodes)
    counts = np.zeros((6, 6))
    np.add.at(counts, (np.asarray(nodes), np.asarray(ends.position[:, 0])), 1.0)
    rows = [testing.graphs.pearson_row(counts[node], K[node], 4000) for node in range(6)]  # cells < 5 pooled
    assert not any(forbidden for _, _, forbidden in rows)
    assert stats.chi2.sf(sum(r[0] for r in rows), sum(r[1] for r in rows)) > 1e-3
    np.testing.assert_allclose(np.asarray(info.acceptance_rate).reshape(6, 4000),
                               np.repeat(1.0 - np.diag(K)[:, None], 4000, axis=1), rtol=1e-4, atol=1e-6)


def _pendant_plus() -> nx.Graph:
    return nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 2)])


@pytest.mark.parametrize("alpha", [0.5, 5.0])
def test_the_frozen_srrw_kernel_is_reversible_wrt_its_stated_law(alpha):
    """Algebra, no simulation: diag(pi[x]) K[x] is symmetric and pi[x] K[x] = pi[x], for random histories."""
    rng = np.random.default_rng(0)
    for target in (triangles(), ladder(), targets.get("karate_club", mu="degree")):
        P = base_matrix(samplers.mhrw, target).matrix  # from the float64 mu
        for _ in range(5):
            x = rng.dirichlet(np.ones(len(target.graph.mu)))
            K = graph_theory.srrw_kernel(P, target.graph.mu, x, alpha)
            pi = graph_theory.srrw_stationary(P, target.graph.mu, x, alpha)
            flows = pi[:, None] * K
            np.testing.assert_allclose(flows, flows.T, atol=1e-15)
            np.testing.assert_allclose(pi @ K, pi, atol=1e-14)
            np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-14)


def test_hdt_kernels_are_invariant_for_the_history_driven_target():
    """The base kernels leave pi[x] ∝ mu (x / mu)^-alpha invariant (exact enumeration) for a frozen history."""
    target = triangles()
    x = np.array([0.3, 0.05, 0.2, 0.1, 0.15, 0.2])
    pi = graph_theory.hdt_target(target.graph.mu, x, 5.0)
    driven = targets.graph(nx.Graph(_edges(target)), weights=pi)
    for kernel, params in [(samplers.mhrw, {}), (samplers.nbrw, {}), (samplers.mtm, {"num_tries": 2})]:
        assert testing.check_graph_invariance(kernel, driven, params)


def _edges(target):
    structure = target.graph.structure
    offsets, neighbours = np.asarray(structure.offsets), np.asarray(structure.neighbours)
    return [(i, int(j)) for i in range(len(offsets) - 1) for j in neighbours[offsets[i]:offsets[i + 1]] if i < j]


def test_the_history_update_is_the_recursion_and_the_visit_counts_add_up():
    """x_n from the lazy store equals the float64 recursion; with a = 1 it is (m x_0 + visits) / (m + n)."""
    nodes = np.random.default_rng(0).integers(0, 5, 3000)
    for step_exponent in (1.0, 0.6):
        params = history_params(1.0, step_exponent, 2.0)

        def body(history, count_and_node, params=params):
            count, node = count_and_node
            return graph_history.FULL.update(history, node, graph_history.step_size(count, params), count, None), None

        start = graph_history.FULL.init(np.full(5, 0.2), None)
        history, _ = jax.lax.scan(body, start, (jnp.arange(3000), jnp.asarray(nodes)))
        x, visits = np.full(5, 0.2), np.zeros(5)
        for count, node in enumerate(nodes):
            x = x + (count + 3.0) ** -step_exponent * (np.eye(5)[node] - x)  # float64 gamma_{n+1} = (n + 1 + m)^-a
            visits[node] += 1
        np.testing.assert_allclose(np.asarray(graph_history.full_measure(history)), x, rtol=2e-5)
        if step_exponent == 1.0:
            np.testing.assert_allclose(x, (2.0 * 0.2 + visits) / (2.0 + 3000), rtol=1e-12)


@pytest.mark.slow
def test_the_a1_history_stays_accurate_over_a_long_run():
    """After 2e5 SRRW steps in float32, the stored x_n equals (x_0 + visits) / (1 + n) to 5e-5 relative (measured:
    9e-6; without the compensated stamps it was 3e-4)."""
    target = triangles()
    run = run_chains(srrw.srrw(alpha=5.0, chunk_size=4), target, 4, 200_000, seed=3)
    exact = (1.0 / 6 + np.asarray(run.states.visits, np.float64)) / (1.0 + 200_000)
    np.testing.assert_allclose(run.history, exact, rtol=5e-5)


def test_visit_counts_are_the_engines_statistic():
    target = ladder()
    run = run_chains(hdt.hdt(samplers.nbrw, alpha=2.0), target, 16, 300)
    assert run.states.visits.shape == (16, 6) and run.states.visits.dtype == jnp.int32
    np.testing.assert_allclose(np.asarray(srrw.visit_measure(run.states)), run.visits)
    np.testing.assert_array_equal(run.states.count, 300)
    assert run.states.position.shape == (16, 1)


def test_alpha_is_data_a_sweep_is_one_compiled_program():
    target = triangles()
    positions = target.initial_position(jax.random.key(0), 3)

    @jax.jit
    def one(alpha, key):
        algorithm = hdt.hdt(alpha=alpha)
        state = jax.vmap(lambda p: algorithm.init(p, target))(positions)
        state, _ = jax.vmap(lambda k, s: algorithm.step(k, s, target))(jax.random.split(key, 3), state)
        return state.position

    alphas = jnp.array([0.0, 1.0, 5.0])
    swept = jax.vmap(one, in_axes=(0, None))(alphas, jax.random.key(1))
    assert swept.shape == (3, 3, 1)


def test_the_lru_cache_keeps_a_fraction_and_at_full_size_is_exact_hdt():
    """cache=1 in one set (fully associative) keeps every node: the same chain as the full history, bit for bit;
    a small cache keeps ceil(r |V|) slots and runs."""
    target = targets.get("karate_club")
    full = run_chains(hdt.hdt(alpha=5.0), target, 4, 300, seed=2)
    cached = run_chains(hdt.hdt(alpha=5.0, cache=1.0, cache_ways=64), target, 4, 300, seed=2)
    np.testing.assert_array_equal(full.states.visits, cached.states.visits)
    small = run_chains(hdt.hdt(alpha=5.0, cache=0.1, cache_ways=2), target, 4, 300, seed=2)
    assert small.states.history.tags.shape[1:3] == (2, 2)  # ceil(3.4) = 4 slots in 2 sets of 2 ways
    assert np.all(np.asarray(small.states.visits).sum(axis=1) == 300)


# --- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [srrw.srrw, hdt.hdt])
@pytest.mark.parametrize("arguments, message", [
    ({"alpha": -1.0}, "alpha must be finite and >= 0"), ({"alpha": np.nan}, "alpha must be finite"),
    ({"step_exponent": 0.5}, r"step_exponent must lie in \(1/2, 1\]"),
    ({"step_exponent": 1.2}, r"step_exponent must lie in \(1/2, 1\]"),
    ({"pseudo_count": 0.0}, "pseudo_count must be finite and > 0"),
])
def test_bad_numbers_are_refused(factory, arguments, message):
    with pytest.raises(ValueError, match=message):
        factory(samplers.mhrw, **arguments)


@pytest.mark.parametrize("kernel, reason", [(samplers.nbrw, "cannot hand over its row"),
                                            (samplers.mtm, "cannot hand over its row")])
def test_srrw_refuses_a_kernel_without_a_transition_row(kernel, reason):
    with pytest.raises(ValueError, match=reason) as error:
        srrw.srrw(kernel, alpha=1.0)
    assert "hdt" in str(error.value) and "mhrw" in str(error.value)


def test_srrw_refuses_a_non_reversible_kernel_even_with_a_row():
    spec = samplers.mhrw.spec._replace(name="lifted", reversible=False)
    with pytest.raises(ValueError, match="not reversible"):
        srrw.srrw(spec)


def test_other_bad_input():
    with pytest.raises(TypeError, match="graph kernel"):
        hdt.hdt(samplers.mala)
    with pytest.raises(ValueError, match="does not take"):
        hdt.hdt(samplers.mhrw, kernel_params={"num_tries": 2})
    with pytest.raises(ValueError, match="cache must be None"):
        hdt.hdt(cache=0.0)
    with pytest.raises(ValueError, match="cache_ways"):
        hdt.hdt(cache=0.2, cache_ways=0)
    with pytest.raises(TypeError, match="chunk_size"):
        srrw.srrw(chunk_size=2.0)
    algorithm = srrw.srrw()
    with pytest.raises(TypeError, match="graph target"):
        algorithm.init(jnp.array([0]), targets.get("iid_gaussian", dim=2))
    with pytest.raises(ValueError, match="initial_history"):
        srrw.srrw(initial_history=np.zeros(6)).init(jnp.array([0]), triangles())


def test_a_history_walk_still_far_from_mu_says_so_on_its_visits():
    """On a star of 201 nodes, SRRW (alpha 5) after 16 x 4000 steps has visited the hub 3.5 times as often as mu
    says (its leaves' self-loops are repelled long before their share reaches mu's), 161 MCSE off: the chains
    agree with each other, so only the drift of their running means over the run's second half shows it. The
    health report checks that drift on every function, the visits included; the base walk on the karate club
    gives no warning."""
    star = targets.graph(nx.star_graph(200))
    result = srmc.sample(jax.random.key(0), srmc.srrw(samplers.mhrw, alpha=5.0), star, 4000, 16,
                         options=srmc.RunOptions(progress=False))
    hub = float(np.asarray(result.estimates["visits"])[0])
    assert hub > 2.0 * star.graph.mu[0] and hub - star.graph.mu[0] > 50 * float(np.ravel(result.mcse("visits"))[0])
    warning = {w.code: w for w in result.warnings}.get("bias_exceeds_mcse")
    assert warning is not None and warning.data["function"] == "visits" and 0 in warning.data["coordinates"]
    base = srmc.sample(jax.random.key(0), srmc.base(samplers.mhrw), targets.get("karate_club"), 4000, 16,
                       options=srmc.RunOptions(progress=False))
    assert not base.warnings
