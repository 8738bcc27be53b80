"""SRRW and HDT against their exact covariance formulas (`srmc.method.graph_theory`), over many vmapped chains in a
hand-written scan, on a non-bipartite and a bipartite six-node graph with non-uniform mu.

Statistic: the trace of scale * E||estimate - mu||^2 over independent chains (around the exact mu, so a bias counts
against it), with the standard error of a mean over chains (std of the per-chain squared errors / sqrt(chains));
a check passes when it is within Z_MAX = 4 standard errors of the formula's trace (a false alarm about 1 in
16000 per check for a normal statistic). What each test compares:

- a = 1: n E||x_n - mu||^2 (x_n = the visit average from the pseudo-counts) -> trace V.
- a < 1: the history, E||x_n - mu||^2 / gamma_n -> trace W (in the default suite), and the plain visit average,
  n Cov (around the chains' mean) -> trace J^-1 U J^-T (slow suite: it converges slowly, and the visit average
  carries a bias of order n^-a, so its n E||.||^2 does not reach that trace at any size a test can afford; see
  docs/explanation/graph_samplers.md).

Mutations these tests catch (run with -m slow: test_mutations_are_caught): a wrong sign of alpha, a base kernel
without its Metropolis–Hastings correction, a history step that ignores the exponent a.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from srmc import samplers
from srmc.method import graph_theory, hdt, srrw
from srmc.method.graph_history import history_params, step_size
from tests.graphs.chains import SMALL_GRAPHS, TraceCheck, base_covariance, base_matrix, run_chains, trace_check

Z_MAX = 4.0
NUM_CHAINS, NUM_STEPS = 500, 2000
ALPHA = 5.0
CHUNK = 4  # the test graphs' degrees are at most 4


def srrw_formula(target, alpha: float, statistic: str) -> np.ndarray:
    """The SRRW (MHRW base) formula for `statistic` in 'a=1', 'history', 'average'."""
    P, mu = base_matrix(samplers.mhrw, target).matrix, target.graph.mu
    forms = {"a=1": graph_theory.srrw_covariance, "history": graph_theory.srrw_history_covariance,
             "average": graph_theory.srrw_average_covariance}
    return forms[statistic](P, mu, alpha)


def hdt_formula(target, alpha: float, statistic: str, kernel=samplers.mhrw, **params) -> np.ndarray:
    """The HDT formula for `statistic` on the base kernel's V_base (lifted chains included)."""
    forms = {"a=1": graph_theory.hdt_covariance, "history": graph_theory.hdt_history_covariance,
             "average": graph_theory.hdt_average_covariance}
    return forms[statistic](base_covariance(kernel, target, **params), alpha)


def make(method: str, alpha: float, step_exponent: float, kernel=samplers.mhrw, **params):
    if method == "srrw":
        return srrw.srrw(kernel, alpha=alpha, step_exponent=step_exponent, chunk_size=CHUNK, kernel_params=params)
    return hdt.hdt(kernel, alpha=alpha, step_exponent=step_exponent, kernel_params=params)


def formula(method: str, target, alpha: float, statistic: str, kernel=samplers.mhrw, **params) -> np.ndarray:
    if method == "srrw":
        return srrw_formula(target, alpha, statistic)
    return hdt_formula(target, alpha, statistic, kernel, **params)


def a1_check(algorithm, target, expected: np.ndarray, num_chains=NUM_CHAINS, num_steps=NUM_STEPS,
             seed=0) -> TraceCheck:
    """n E||visit average - mu||^2 against trace(expected)."""
    run = run_chains(algorithm, target, num_chains, num_steps, seed)
    return trace_check(run.visits, target.graph.mu, num_steps, expected)


def history_check(algorithm, target, expected: np.ndarray, step_exponent: float, num_chains=NUM_CHAINS,
                  num_steps=NUM_STEPS, seed=0) -> TraceCheck:
    """E||x_n - mu||^2 / gamma_n against trace(expected) (gamma_n: the step of the last update)."""
    run = run_chains(algorithm, target, num_chains, num_steps, seed)
    gamma = float(step_size(jnp.asarray(num_steps - 1), history_params(1.0, step_exponent, 1.0)))
    return trace_check(run.history, target.graph.mu, 1.0 / gamma, expected)


def average_check(algorithm, target, expected: np.ndarray, num_chains: int, num_steps: int, seed=0) -> TraceCheck:
    """n Cov of the visit average around the chains' mean (the bias left out) against trace(expected)."""
    run = run_chains(algorithm, target, num_chains, num_steps, seed)
    return trace_check(run.visits, run.visits.mean(axis=0), num_steps, expected)


@pytest.mark.parametrize("graph", sorted(SMALL_GRAPHS))
@pytest.mark.parametrize("method", ["srrw", "hdt"])
def test_a1_visit_average_matches_the_formula(method, graph):
    target = SMALL_GRAPHS[graph]()
    check = a1_check(make(method, ALPHA, 1.0), target, formula(method, target, ALPHA, "a=1"))
    assert abs(check.z) < Z_MAX, check


@pytest.mark.parametrize("graph", sorted(SMALL_GRAPHS))
@pytest.mark.parametrize("method", ["srrw", "hdt"])
def test_a_below_one_history_matches_the_formula(method, graph):
    target = SMALL_GRAPHS[graph]()
    check = history_check(make(method, 2.0, 0.75), target, formula(method, target, 2.0, "history"), 0.75)
    assert abs(check.z) < Z_MAX, check


@pytest.mark.parametrize("kernel, params", [(samplers.nbrw, {}), (samplers.mtm, {"num_tries": 2})])
def test_hdt_on_other_kernels_matches_v_base_over_2_alpha_plus_1(kernel, params):
    target = SMALL_GRAPHS["triangles"]()
    check = a1_check(make("hdt", ALPHA, 1.0, kernel, **params), target,
                     formula("hdt", target, ALPHA, "a=1", kernel, **params))
    assert abs(check.z) < Z_MAX, check


def test_alpha_zero_matches_the_base_chain():
    target = SMALL_GRAPHS["ladder"]()
    base = graph_theory.base_covariance(base_matrix(samplers.mhrw, target).matrix, target.graph.mu)
    for method in ("srrw", "hdt"):
        check = a1_check(make(method, 0.0, 1.0), target, base)
        assert abs(check.z) < Z_MAX, (method, check)


@pytest.mark.slow
@pytest.mark.parametrize("graph", sorted(SMALL_GRAPHS))
@pytest.mark.parametrize("method, alpha, step_exponent", [("srrw", 2.0, 0.6), ("hdt", 1.0, 0.75)])
def test_a_below_one_visit_average_covariance_matches_the_formula(method, alpha, step_exponent, graph):
    target = SMALL_GRAPHS[graph]()
    check = average_check(make(method, alpha, step_exponent), target, formula(method, target, alpha, "average"),
                          num_chains=1000, num_steps=16000)
    assert abs(check.z) < Z_MAX, check


@pytest.mark.slow
@pytest.mark.parametrize("method", ["srrw", "hdt"])
def test_a1_on_karate_with_generic_weights(method):
    """34 nodes, weights drawn once (generic: no MH ratio of exactly 1 at mu)."""
    import networkx as nx

    from srmc import targets

    weights = np.random.default_rng(1).uniform(0.5, 2.0, 34)
    target = targets.graph(nx.karate_club_graph(), weights=weights)
    steps = {"srrw": 4000, "hdt": 32000}[method]  # HDT's n E||.||^2 approaches its limit from above (about 1/n)
    algorithm = srrw.srrw(alpha=ALPHA) if method == "srrw" else hdt.hdt(alpha=ALPHA)
    check = a1_check(algorithm, target, formula(method, target, ALPHA, "a=1"), num_chains=1000, num_steps=steps)
    assert abs(check.z) < Z_MAX, check


# --- mutations: each deliberately broken algorithm must fail the check that guards against it ---------------------


def _low_level(method: str, params, transition_row=None, base_kernel=None):
    """An algorithm built from the layers below `srrw`/`hdt` (no argument checks), for the mutations."""
    from srmc.method.algorithm import Algorithm

    if method == "srrw":
        kernel = srrw.build_kernel(transition_row or samplers.mhrw.transition_row, CHUNK)
        init = lambda p, t: srrw.init(p, t.logdensity, t.graph.structure)  # noqa: E731
    else:
        kernel = hdt.build_kernel(base_kernel or samplers.mhrw.build_kernel())
        init = lambda p, t: hdt.init(p, t.logdensity, t.graph.structure, samplers.mhrw.init)  # noqa: E731
    step = lambda k, s, t, p: kernel(k, s, t.logdensity, t.graph.structure, p)  # noqa: E731
    return Algorithm(f"mutated {method}", lambda p, t, _: init(p, t), step, params)


def _simple_random_walk_row(position, neighbours, logdensity_fn, graph):
    return -jnp.log(graph.degrees[position[0]].astype(jnp.float32)) * jnp.ones(neighbours.shape)


def _always_accept():
    inner = samplers.mhrw.build_kernel()
    return lambda key, state, logdensity_fn, graph: inner(key, state, lambda position: jnp.zeros(()), graph)


MUTATIONS = ["alpha_sign", "no_mh_correction", "history_ignores_a"]


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("method", ["srrw", "hdt"])
def test_mutations_are_caught(method, mutation, monkeypatch):
    target = SMALL_GRAPHS["triangles"]()
    if mutation == "alpha_sign":
        params = history_params(1.0, 1.0, 1.0)._replace(alpha=jnp.asarray(-ALPHA))
        check = a1_check(_low_level(method, params), target, formula(method, target, ALPHA, "a=1"))
    elif mutation == "no_mh_correction":
        params = history_params(ALPHA, 1.0, 1.0)
        broken = (_low_level(method, params, transition_row=_simple_random_walk_row) if method == "srrw"
                  else _low_level(method, params, base_kernel=_always_accept()))
        check = a1_check(broken, target, formula(method, target, ALPHA, "a=1"))
    else:
        module = srrw if method == "srrw" else hdt
        monkeypatch.setattr(module, "step_size", lambda count, params: step_size(count, params._replace(
            step_exponent=jnp.ones_like(params.step_exponent))))
        check = history_check(make(method, 2.0, 0.75), target, formula(method, target, 2.0, "history"), 0.75)
    assert abs(check.z) > Z_MAX, (mutation, check)
