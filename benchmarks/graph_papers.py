"""The SRRW and HDT papers' tables on our graphs, in one command (srmc.tools.graph_benchmark, through srmc.sample).

    python benchmarks/graph_papers.py [--steps 4000] [--replicates 100] [--big-nodes 10000] [--big-steps 20000]
                                      [--big-replicates 16] [--plot PATH] [--quick]

1. TVD and NRMSE of each chain's visit measure against mu, alpha in {0, 1, 2, 5, 10, 20} (0: the base kernel),
   MHRW / NBRW / MTM x base / SRRW (MHRW only: the others cannot hand over their row) / HDT, on networkx's real
   graphs (karate club, Les Misérables, Florentine families, Davis southern women) and a Barabási–Albert graph of
   --big-nodes nodes, uniform mu, chains started from exact draws of mu, a = 1.
2. SRRW vs HDT at an equal budget of target evaluations (MHRW, alpha 5): SRRW reads the closed neighbourhood of its
   node per step (E_mu[d + 1] evaluations), HDT two nodes; with the budget B, SRRW takes n_S = B / E_mu[d + 1] steps
   and HDT n_H = B / 2. By the formulas, n MSE -> tr V, so HDT wins iff E_mu[d + 1] > 2 tr V_HDT / tr V_SRRW (the
   formula threshold, printed for alpha in {1, 5, 10, 20}), not iff E_mu[d + 1] > 2 (HDT paper's statement).
   Measured: MSE_SRRW / MSE_HDT at n_S = --steps and n_H = n_S E_mu[d + 1] / 2 (> 1: HDT wins), against the
   formula's tr V_SRRW n_H / (tr V_HDT n_S).
3. HDT's LRU variant (r in {0.01, 0.1, 0.2}) on the big graph and on Les Misérables, MHRW, alpha 1 and 5.
4. The alpha ramp alpha_n = alpha min(1, n / W) on the karate club, MHRW, alpha 10, W in {0, n/10, n/2, n}.

Errors are standard errors over replicates (module doc of srmc.tools.graph_benchmark). --plot writes TVD vs alpha
(matplotlib PNG). The last line gives the karate club's reductions at alpha 5 and the equal-budget verdicts.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from srmc import targets
from srmc.method import graph_theory
from srmc.tools.graph_benchmark import GRAPH_KERNELS, graph_benchmark

ALPHAS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0)
REAL = ("karate_club", "les_miserables", "florentine_families", "davis_southern_women")
CACHES = (0.01, 0.1, 0.2)


def real_and_big(big_nodes: int) -> dict[str, targets.Target]:
    """The four real graphs and a Barabási–Albert graph of `big_nodes` nodes (3 edges per new node)."""
    graphs = {name: targets.get(name) for name in REAL}
    graphs[f"barabasi_albert_{big_nodes}"] = targets.get("barabasi_albert", num_nodes=big_nodes)
    return graphs


def sizes(name: str, args: argparse.Namespace) -> tuple[int, int]:
    """(steps, replicates) for a graph."""
    return (args.big_steps, args.big_replicates) if name.startswith("barabasi") else (args.steps, args.replicates)


def alpha_tables(graphs: dict, args: argparse.Namespace) -> dict:
    """Section 1: {(graph, kernel, method): {alpha: row}}; prints one markdown table per graph."""
    curves = {}
    for name, target in graphs.items():
        steps, replicates = sizes(name, args)
        degrees = np.asarray(target.graph.structure.degrees)
        print(f"\n### {name}: |V| = {target.graph.num_nodes}, max degree {degrees.max()}, {replicates} replicates x "
              f"{steps} steps\n")
        print("| kernel | method | " + " | ".join(f"TVD a={a:g}" for a in ALPHAS) + " | "
              + " | ".join(f"NRMSE a={a:g}" for a in ALPHAS) + " |")
        print("|---|---|" + "---|" * (2 * len(ALPHAS)))
        for kernel_name, kernel in GRAPH_KERNELS.items():
            methods = ("base", "srrw", "hdt") if kernel.spec.transition_row is not None else ("base", "hdt")
            report = graph_benchmark(jax.random.key(args.seed), target, methods, kernel, ALPHAS, steps, replicates)
            base = next(row for row in report.rows if row.method == "base")
            for method in methods[1:]:
                rows = {0.0: base, **{row.alpha: row for row in report.rows if row.method == method}}
                curves[name, kernel_name, method] = rows
                tvd = " | ".join(f"{rows[a].tvd:.4f} ± {rows[a].tvd_se:.4f}" for a in ALPHAS)
                nrmse = " | ".join(f"{rows[a].nrmse:.3f} ± {rows[a].nrmse_se:.3f}" for a in ALPHAS)
                print(f"| {kernel_name} | {method} | {tvd} | {nrmse} |", flush=True)
            for row in report.rows:
                for line in row.warnings:
                    print(f"warning: {name} {kernel_name} {row.method} alpha {row.alpha:g}: {line}")
    return curves


def closed_neighbourhood(target: targets.Target) -> float:
    """E_mu[d + 1]: SRRW's target evaluations per step at stationarity."""
    return float(target.graph.mu @ (np.asarray(target.graph.structure.degrees, np.float64) + 1.0))


def formula_traces(target: targets.Target, alpha: float) -> tuple[float, float]:
    """(tr V_SRRW, tr V_HDT) of MHRW on `target`, a = 1."""
    chain = GRAPH_KERNELS["mhrw"].spec.exact_chain(target.graph.structure, np.log(target.graph.mu))
    base = graph_theory.lifted_covariance(chain.matrix, chain.node, target.graph.num_nodes)
    return (float(np.trace(graph_theory.srrw_covariance(chain.matrix, target.graph.mu, alpha))),
            float(np.trace(graph_theory.hdt_covariance(base, alpha))))


def equal_budget(graphs: dict, args: argparse.Namespace, alpha: float = 5.0) -> list[str]:
    """Section 2; returns the verdicts for the last line."""
    print("\n## SRRW vs HDT at an equal budget of target evaluations (MHRW, a = 1)\n")
    print("| graph | E_mu[d+1] | paper: HDT wins iff > | formula threshold 2 trV_HDT/trV_SRRW at alpha 1, 5, 10, 20 "
          f"| n_S | n_H | MSE_S/MSE_H at alpha {alpha:g} (measured) | formula | winner |")
    print("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for name in REAL:
        target = graphs[name]
        cost = closed_neighbourhood(target)
        thresholds = [2.0 * h / s for s, h in (formula_traces(target, a) for a in (1.0, 5.0, 10.0, 20.0))]
        trace_s, trace_h = formula_traces(target, alpha)
        n_s = args.steps
        n_h = int(round(n_s * cost / 2.0))
        key = jax.random.key(args.seed)
        srrw_row = graph_benchmark(key, target, ("srrw",), GRAPH_KERNELS["mhrw"], (alpha,), n_s,
                                   args.replicates).rows[0]
        hdt_row = graph_benchmark(key, target, ("hdt",), GRAPH_KERNELS["mhrw"], (alpha,), n_h,
                                  args.replicates).rows[0]
        mse_s, se_s = srrw_row.n_mse / n_s, srrw_row.n_mse_se / n_s
        mse_h, se_h = hdt_row.n_mse / n_h, hdt_row.n_mse_se / n_h
        ratio = mse_s / mse_h
        ratio_se = ratio * np.hypot(se_s / mse_s, se_h / mse_h)
        predicted = trace_s * n_h / (trace_h * n_s)
        winner = "HDT" if ratio - 2 * ratio_se > 1 else "SRRW" if ratio + 2 * ratio_se < 1 else "tie (2 se)"
        print(f"| {name} | {cost:.2f} | 2 | " + ", ".join(f"{t:.2f}" for t in thresholds)
              + f" | {n_s} | {n_h} | {ratio:.2f} ± {ratio_se:.2f} | {predicted:.2f} | {winner} |", flush=True)
        verdicts.append(f"{name} {winner} ({ratio:.2f} +- {ratio_se:.2f}, formula {predicted:.2f})")
    return verdicts


def lru(graphs: dict, args: argparse.Namespace) -> None:
    """Section 3."""
    print("\n## HDT's LRU variant (MHRW, a = 1)\n")
    print("| graph | alpha | method | TVD | NRMSE | n MSE ratio vs base |")
    print("|---|---|---|---|---|---|")
    for name in (next(n for n in graphs if n.startswith("barabasi")), "les_miserables"):
        steps, replicates = sizes(name, args)
        report = graph_benchmark(jax.random.key(args.seed), graphs[name], ("base", "hdt"), GRAPH_KERNELS["mhrw"],
                                 (0.0, 1.0, 5.0), steps, replicates, caches=CACHES)
        for row in report.rows:
            print(f"| {name} | {row.alpha:g} | {row.method} | {row.tvd:.4f} ± {row.tvd_se:.4f} | "
                  f"{row.nrmse:.3f} ± {row.nrmse_se:.3f} | {row.ratio:.2f} ± {row.ratio_se:.2f} |", flush=True)


def ramp(graphs: dict, args: argparse.Namespace, alpha: float = 10.0) -> None:
    """Section 4."""
    n = args.steps
    print(f"\n## The alpha ramp alpha_n = alpha min(1, n / W) (karate club, MHRW, alpha {alpha:g}, n = {n})\n")
    print("| W | method | TVD | n MSE ratio vs base | formula (constant alpha, n -> inf) |")
    print("|---|---|---|---|---|")
    for width in (0, n // 10, n // 2, n):
        report = graph_benchmark(jax.random.key(args.seed), graphs["karate_club"], ("base", "srrw", "hdt"),
                                 GRAPH_KERNELS["mhrw"], (0.0, alpha), n, args.replicates, alpha_ramp=float(width))
        for row in report.rows[1:]:
            print(f"| {width} | {row.method} | {row.tvd:.4f} ± {row.tvd_se:.4f} | {row.ratio:.2f} ± "
                  f"{row.ratio_se:.2f} | {row.formula_ratio:.2f} |", flush=True)


def plot(curves: dict, graphs: dict, path: str) -> None:
    """TVD vs alpha, one panel per graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(graphs), figsize=(4 * len(graphs), 3.4), sharey=False)
    for axis, name in zip(np.atleast_1d(axes), graphs):
        for (graph, kernel, method), rows in curves.items():
            if graph != name:
                continue
            axis.errorbar(ALPHAS, [rows[a].tvd for a in ALPHAS], [2 * rows[a].tvd_se for a in ALPHAS],
                          marker="o", ms=3, capsize=2, label=f"{method} ({kernel})",
                          linestyle="-" if method == "srrw" else "--")
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_yscale("log")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("alpha")
    np.atleast_1d(axes)[0].set_ylabel("TVD of the visit measure (± 2 se)")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--big-nodes", type=int, default=10_000, dest="big_nodes")
    parser.add_argument("--big-steps", type=int, default=20_000, dest="big_steps")
    parser.add_argument("--big-replicates", type=int, default=16, dest="big_replicates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG path for TVD vs alpha (default: none)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny sizes (the numbers mean nothing)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.replicates, args.big_nodes, args.big_steps, args.big_replicates = 60, 4, 200, 60, 4
    start = time.perf_counter()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {jax.devices()[0].platform}, jax {jax.__version__}"
    print(f"# graph_papers: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine}")
    graphs = real_and_big(args.big_nodes)
    curves = alpha_tables(graphs, args)
    verdicts = equal_budget(graphs, args)
    lru(graphs, args)
    ramp(graphs, args)
    if args.plot:
        plot(curves, graphs, args.plot)
    karate = {m: curves["karate_club", "mhrw", m] for m in ("srrw", "hdt")}
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    print(f"graph papers: karate_club mhrw alpha 5 TVD base {karate['srrw'][0.0].tvd:.4f}, srrw "
          f"{karate['srrw'][5.0].tvd:.4f}, hdt {karate['hdt'][5.0].tvd:.4f}; equal budget (MSE_SRRW/MSE_HDT): "
          + "; ".join(verdicts))


if __name__ == "__main__":
    main()
