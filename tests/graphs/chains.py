"""Shared pieces of the graph tests: two small graphs with non-uniform mu, vmapped hand-written scans, and the
trace statistic of n Cov with its standard error."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import networkx as nx
import numpy as np

from srmc import targets
from srmc.method import graph_theory

# generic weights: no edge has an MH ratio of exactly 1 at mu (at such a kink min(1, .) is not differentiable in
# the history, and HDT's n Cov then reaches its limit only like n^-1/2; see docs/explanation/graph_samplers.md)
TRIANGLES_WEIGHTS = (1.0, 2.2, 0.6, 1.7, 3.1, 1.3)
LADDER_WEIGHTS = (1.4, 0.8, 2.5, 1.1, 1.9, 0.6)


def triangles() -> targets.Target:
    """Six nodes, a 6-cycle with chords 0-2 and 1-4 (triangles: not bipartite), non-uniform mu."""
    G = nx.cycle_graph(6)
    G.add_edges_from([(0, 2), (1, 4)])
    return targets.graph(G, weights=np.array(TRIANGLES_WEIGHTS), name="triangles")


def ladder() -> targets.Target:
    """The 2 x 3 grid (bipartite), non-uniform mu."""
    return targets.graph(nx.grid_2d_graph(2, 3), weights=np.array(LADDER_WEIGHTS), name="ladder")


SMALL_GRAPHS = {"triangles": triangles, "ladder": ladder}


class Run(NamedTuple):
    """End of a batch of chains: visit measures and histories (chains, |V|), and the final states."""

    visits: np.ndarray
    history: np.ndarray | None
    states: Any


def run_chains(algorithm: Any, target: targets.Target, num_chains: int, num_steps: int, seed: int = 0,
               start_at_mu: bool = True) -> Run:
    """`num_chains` chains of `algorithm` (from `srrw`/`hdt`), vmapped in a hand-written jitted scan."""
    key_start, key_run = jax.random.split(jax.random.key(seed))
    positions = (target.sample if start_at_mu else target.initial_position)(key_start, num_chains)
    states = jax.vmap(lambda p: algorithm.init(p, target))(positions)
    step = jax.vmap(lambda k, s: algorithm.step(k, s, target))

    @jax.jit
    def scan(states, key):
        def body(carry, key):
            return step(jax.random.split(key, num_chains), carry)[0], None

        return jax.lax.scan(body, states, jax.random.split(key, num_steps))[0]

    states = scan(states, key_run)
    visits = np.asarray(states.visits, np.float64) / num_steps
    history = None
    if hasattr(states.history, "table"):  # the full store
        from srmc.method.graph_history import full_measure

        history = np.asarray(jax.vmap(full_measure)(states.history), np.float64)
    return Run(visits, history, states)


class TraceCheck(NamedTuple):
    """scale * E ||estimate - mu||^2 over chains, its standard error, the formula's trace and the z-score."""

    statistic: float
    stderr: float
    formula: float

    @property
    def z(self) -> float:
        return (self.statistic - self.formula) / self.stderr


def trace_check(estimates: np.ndarray, mu: np.ndarray, scale: float, formula: np.ndarray) -> TraceCheck:
    """The trace of scale * Cov around the exact mu (bias included), with the standard error of a mean over
    independent chains (std of the per-chain squared errors / sqrt(chains)), against trace(formula)."""
    squared = scale * np.sum((estimates - mu) ** 2, axis=1)
    return TraceCheck(float(squared.mean()), float(squared.std(ddof=1) / np.sqrt(len(squared))),
                      float(np.trace(formula)))


def base_matrix(kernel: Any, target: targets.Target, **params: Any) -> Any:
    """The exact chain of `kernel` on `target` (NumPy)."""
    return kernel.spec.exact_chain(target.graph.structure, np.log(target.graph.mu), **params)


def base_covariance(kernel: Any, target: targets.Target, **params: Any) -> np.ndarray:
    """V_base of `kernel` on `target` (lifted chains included)."""
    chain = base_matrix(kernel, target, **params)
    return graph_theory.lifted_covariance(chain.matrix, chain.node, target.graph.num_nodes)
