"""Variance reduction of SRRW and HDT against their base kernel on a graph, next to the formulas' predictions.

    python benchmarks/graph_variance.py [--target karate_club] [--mu uniform] [--alpha 5] [--chains 1000]
                                        [--steps 2500,10000,40000] [--kernels mhrw] [--cache 0.1,0.2] [--seed 0]
                                        [--random-weights SEED]

For each base kernel and each number of steps n, independent chains started from exact draws of mu run a
hand-written jitted scan of vmapped steps (a = 1, pseudo-count 1, alpha as given); the statistic is
n E||visit measure - mu||^2 over the chains (the trace of n MSE, bias included), with its standard error (std of
the per-chain values / sqrt(chains)). Rows: the base kernel (HDT at alpha = 0: the base kernel bit for bit),
SRRW (kernels that hand over their row), HDT, and HDT with an LRU cache of each fraction in --cache (no formula).
Next to each: the formula's trace (`srmc.method.graph_theory`: V_base, the SRRW spectral sum, V_base / (2 alpha +
1)), and the reduction base / method with its standard error (delta method, independent runs) against the
formula's ratio. --random-weights SEED replaces mu by weights drawn from U(0.5, 2) with that seed (generic
weights: no MH ratio of exactly 1 at mu). The last line gives the reductions at the largest n for the first
kernel.
"""

from __future__ import annotations

import argparse

import jax
import networkx as nx
import numpy as np

from srmc import samplers, targets
from srmc.method import graph_theory, hdt, srrw

KERNELS = {"mhrw": (samplers.mhrw, {}), "nbrw": (samplers.nbrw, {}), "mtm": (samplers.mtm, {"num_tries": 3})}


def run(algorithm, target: targets.Target, num_chains: int, num_steps: int, seed: int) -> np.ndarray:
    """Per-chain n ||visit measure - mu||^2."""
    key_start, key_run = jax.random.split(jax.random.key(seed))
    states = jax.vmap(lambda p: algorithm.init(p, target))(target.sample(key_start, num_chains))
    step = jax.vmap(lambda k, s: algorithm.step(k, s, target))

    @jax.jit
    def scan(states, key):
        return jax.lax.scan(lambda s, k: (step(jax.random.split(k, num_chains), s)[0], None), states,
                            jax.random.split(key, num_steps))[0]

    visits = np.asarray(scan(states, key_run).visits, np.float64) / num_steps
    return num_steps * np.sum((visits - target.graph.mu) ** 2, axis=1)


def formulas(kernel, params: dict, target: targets.Target, alpha: float) -> dict[str, float]:
    """Traces of V_base, SRRW's V (reversible kernels with a row) and HDT's V."""
    chain = kernel.spec.exact_chain(target.graph.structure, np.log(target.graph.mu), **params)
    base = graph_theory.lifted_covariance(chain.matrix, chain.node, target.graph.num_nodes)
    traces = {"base": np.trace(base), "hdt": np.trace(graph_theory.hdt_covariance(base, alpha))}
    if kernel.spec.transition_row is not None:
        traces["srrw"] = np.trace(graph_theory.srrw_covariance(chain.matrix, target.graph.mu, alpha))
    return traces


def methods(kernel, params: dict, alpha: float, caches: list[float]) -> dict:
    """The algorithms compared for one base kernel."""
    rows = {"base": hdt.hdt(kernel, alpha=0.0, kernel_params=params)}
    if kernel.spec.transition_row is not None:
        rows["srrw"] = srrw.srrw(kernel, alpha=alpha, kernel_params=params)
    rows["hdt"] = hdt.hdt(kernel, alpha=alpha, kernel_params=params)
    for fraction in caches:
        rows[f"hdt lru {fraction}"] = hdt.hdt(kernel, alpha=alpha, cache=fraction, kernel_params=params)
    return rows


def with_random_weights(target: targets.Target, seed: int) -> targets.Target:
    """The same graph with mu ∝ weights drawn from U(0.5, 2)."""
    structure = target.graph.structure
    offsets, neighbours = np.asarray(structure.offsets), np.asarray(structure.neighbours)
    G = nx.Graph()
    G.add_nodes_from(range(len(offsets) - 1))
    G.add_edges_from((i, int(j)) for i in range(len(offsets) - 1) for j in neighbours[offsets[i]:offsets[i + 1]])
    weights = np.random.default_rng(seed).uniform(0.5, 2.0, G.number_of_nodes())
    return targets.graph(G, weights=weights, name=f"{target.name.split('(')[0]}(random weights, seed {seed})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="karate_club")
    parser.add_argument("--mu", default="uniform", choices=targets.graphs.MU_CHOICES)
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--steps", default="2500,10000,40000")
    parser.add_argument("--kernels", default="mhrw")
    parser.add_argument("--cache", default="0.1,0.2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-weights", type=int, default=None)
    args = parser.parse_args()
    target = targets.get(args.target, mu=args.mu)
    if args.random_weights is not None:
        target = with_random_weights(target, args.random_weights)
    steps = [int(s) for s in args.steps.split(",")]
    caches = [float(c) for c in args.cache.split(",") if c]
    print(f"{target.name}: alpha {args.alpha}, a = 1, {args.chains} chains from exact draws of mu; statistic "
          "n E||visits - mu||^2 +- SE; reduction = base / method")
    final = {}
    for kernel_name in args.kernels.split(","):
        kernel, params = KERNELS[kernel_name]
        predicted = formulas(kernel, params, target, args.alpha)
        print(f"\n{kernel_name}: formula traces " + ", ".join(f"{k} {v:.4f}" for k, v in predicted.items()))
        print(f"{'n':>7}  {'method':<14}{'n MSE':>18}{'formula':>10}{'reduction':>18}{'formula':>10}")
        for num_steps in steps:
            values = {name: run(algorithm, target, args.chains, num_steps, args.seed)
                      for name, algorithm in methods(kernel, params, args.alpha, caches).items()}
            mean = {name: v.mean() for name, v in values.items()}
            stderr = {name: v.std(ddof=1) / np.sqrt(len(v)) for name, v in values.items()}
            for name in values:
                ratio = mean["base"] / mean[name]
                ratio_se = ratio * np.hypot(stderr["base"] / mean["base"], stderr[name] / mean[name])
                formula = predicted.get(name)
                formula_text = f"{formula:>10.4f}" if formula is not None else f"{'-':>10}"
                formula_ratio = f"{predicted['base'] / formula:>10.2f}" if formula is not None else f"{'-':>10}"
                print(f"{num_steps:>7}  {name:<14}{mean[name]:>10.4f} +- {stderr[name]:.4f}{formula_text}"
                      f"{ratio:>10.2f} +- {ratio_se:.2f}{formula_ratio}")
                if kernel_name == args.kernels.split(",")[0] and num_steps == steps[-1]:
                    final[name] = (ratio, ratio_se, predicted["base"] / formula if formula is not None else None)
    print(f"variance reduction at alpha {args.alpha:g}, n = {steps[-1]}, {target.name}, {args.kernels.split(',')[0]}: "
          + ", ".join(f"{name} {r:.2f} +- {se:.2f}" + (f" (formula {f:.2f})" if f is not None else "")
                      for name, (r, se, f) in final.items() if name != "base"))


if __name__ == "__main__":
    main()
