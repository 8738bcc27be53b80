"""The history step gamma_n = (n + 1)^-a with a < 1: what the plain visit average gains, and what it pays.

    python benchmarks/graph_schedules.py [--alphas 1,5] [--exponents 1,0.75,0.6] [--steps 4000,16000]
                                         [--chains 1000] [--methods srrw,hdt] [--seed 0]

Graph: six nodes, a 6-cycle with chords 0-2 and 1-4 (not bipartite), mu ∝ (1.0, 2.2, 0.6, 1.7, 3.1, 1.3) (generic
weights: no MH ratio of exactly 1 at mu); base kernel MHRW. For each method, alpha, a and n, independent chains
from exact draws of mu: the visit average's n Cov around the chains' mean (its trace +- SE), n ||bias||^2 (the
chains' mean against mu), and n E||visits - mu||^2 (the MSE, +- SE), against the formulas
(`srmc.method.graph_theory`): a = 1: trace V; a < 1: trace J^-1 U J^-T. The last line compares each method's
best a < 1 MSE with its a = 1 MSE at the largest n and the largest alpha.
"""

from __future__ import annotations

import argparse

import jax
import networkx as nx
import numpy as np

from srmc import samplers, targets
from srmc.method import graph_theory, hdt, srrw

WEIGHTS = (1.0, 2.2, 0.6, 1.7, 3.1, 1.3)


def six_nodes() -> targets.Target:
    """The benchmark's graph (the tests' `triangles`)."""
    G = nx.cycle_graph(6)
    G.add_edges_from([(0, 2), (1, 4)])
    return targets.graph(G, weights=np.array(WEIGHTS), name="six_nodes")


def visit_measures(algorithm, target: targets.Target, num_chains: int, num_steps: int, seed: int) -> np.ndarray:
    """(chains, |V|) visit measures after `num_steps` steps from exact draws of mu."""
    key_start, key_run = jax.random.split(jax.random.key(seed))
    states = jax.vmap(lambda p: algorithm.init(p, target))(target.sample(key_start, num_chains))
    step = jax.vmap(lambda k, s: algorithm.step(k, s, target))

    @jax.jit
    def scan(states, key):
        return jax.lax.scan(lambda s, k: (step(jax.random.split(k, num_chains), s)[0], None), states,
                            jax.random.split(key, num_steps))[0]

    return np.asarray(scan(states, key_run).visits, np.float64) / num_steps


def predicted(method: str, target: targets.Target, alpha: float, exponent: float) -> float:
    """The formula's trace for the visit average."""
    P = samplers.mhrw.exact_chain(target.graph.structure, np.log(target.graph.mu)).matrix
    mu = target.graph.mu
    if method == "srrw":
        form = graph_theory.srrw_covariance if exponent == 1.0 else graph_theory.srrw_average_covariance
        return float(np.trace(form(P, mu, alpha)))
    base = graph_theory.base_covariance(P, mu)
    form = graph_theory.hdt_covariance if exponent == 1.0 else graph_theory.hdt_average_covariance
    return float(np.trace(form(base, alpha)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", default="1,5")
    parser.add_argument("--exponents", default="1,0.75,0.6")
    parser.add_argument("--steps", default="4000,16000")
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--methods", default="srrw,hdt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    target = six_nodes()
    alphas = [float(a) for a in args.alphas.split(",")]
    exponents = [float(a) for a in args.exponents.split(",")]
    steps = [int(n) for n in args.steps.split(",")]
    print(f"{target.name}, MHRW base, {args.chains} chains from exact draws of mu; traces of n Cov (around the "
          "chains' mean), n ||bias||^2 and n MSE of the visit average")
    print(f"{'method':<6}{'alpha':>6}{'a':>6}{'n':>7}{'n Cov':>18}{'formula':>9}{'n bias^2':>10}{'n MSE':>18}")
    mse = {}
    for method in args.methods.split(","):
        for alpha in alphas:
            for exponent in exponents:
                factory = srrw.srrw if method == "srrw" else hdt.hdt
                algorithm = factory(samplers.mhrw, alpha=alpha, step_exponent=exponent)
                for num_steps in steps:
                    visits = visit_measures(algorithm, target, args.chains, num_steps, args.seed)
                    centred = num_steps * np.sum((visits - visits.mean(axis=0)) ** 2, axis=1)
                    errors = num_steps * np.sum((visits - target.graph.mu) ** 2, axis=1)
                    bias = num_steps * np.sum((visits.mean(axis=0) - target.graph.mu) ** 2)
                    se = lambda v: v.std(ddof=1) / np.sqrt(len(v))  # noqa: E731
                    mse[method, alpha, exponent, num_steps] = (errors.mean(), se(errors))
                    print(f"{method:<6}{alpha:>6g}{exponent:>6g}{num_steps:>7}{centred.mean():>10.4f} +- "
                          f"{se(centred):.4f}{predicted(method, target, alpha, exponent):>9.4f}{bias:>10.4f}"
                          f"{errors.mean():>10.4f} +- {se(errors):.4f}", flush=True)
    n, alpha = steps[-1], alphas[-1]
    words = []
    for method in args.methods.split(","):
        lower = [a for a in exponents if a < 1.0]
        if 1.0 not in exponents or not lower:
            continue
        best = min(lower, key=lambda a: mse[method, alpha, a, n][0])
        (one, one_se), (low, low_se) = mse[method, alpha, 1.0, n], mse[method, alpha, best, n]
        words.append(f"{method} a=1 {one:.4f} +- {one_se:.4f}, best a<1 (a={best:g}) {low:.4f} +- {low_se:.4f}")
    print(f"n MSE of the visit average at alpha {alpha:g}, n = {n}: " + "; ".join(words))


if __name__ == "__main__":
    main()
