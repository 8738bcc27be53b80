"""MHRW, SRRW and HDT in srmc against plain NumPy loops of the same walks: time per chain-step, in one run.

    python benchmarks/graph_numpy.py [--target karate_club] [--alpha 5] [--numpy-steps 20000] [--repeats 3]
                                     [--hubs 10,100,1000]

The NumPy loops (`numpy_mhrw`, `numpy_srrw`, `numpy_hdt`) are the reference implementations a user would write:
one chain, one Python iteration per step, the CSR arrays indexed directly, the history kept as visit counts
(a = 1, pseudo-count 1: x_n = (x_0 + visits) / (1 + n)), so a step costs O(degree) like srmc's. srmc runs the same
walks as a bare jitted scan of vmapped chains (`_timing.algorithm_scan`: no runner), compilation excluded, best of
--repeats, with 1 chain (20000 steps) and with 1024 chains (2000 steps). The table prints microseconds per
chain-step and the speed-up over the NumPy loop.

--hubs: the same three walks with 1024 chains on ego networks (`targets.get("ego_network")`, uniform mu) whose hub
has each given degree (= its number of alters, so |V| grows with it), chains started at uniformly drawn nodes: MHRW
and HDT read O(1) nodes per step whatever the degree; SRRW reads the current node's row, so a batch of chains pays
for the largest degree among its chains at each step (`srmc.method.srrw`). The last line prints the speed-ups at 1
and 1024 chains.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from _timing import algorithm_scan, best_times

from srmc import samplers, targets
from srmc.method import hdt, srrw

CHAIN_COUNTS = {1: 20_000, 1024: 2_000}  # chains: steps


class NumpyGraph:
    """A graph target's CSR arrays and log mu as NumPy (float64)."""

    def __init__(self, target: targets.Target):
        structure = target.graph.structure
        self.offsets = np.asarray(structure.offsets, np.int64)
        self.neighbours = np.asarray(structure.neighbours, np.int64)
        self.degrees = np.asarray(structure.degrees, np.int64)
        self.log_mu = np.log(target.graph.mu)

    def mh_accepts(self, rng: np.random.Generator, i: int, j: int, log_pi_i: float, log_pi_j: float) -> bool:
        """The MHRW test from i to j on the log weights given."""
        log_ratio = log_pi_j - log_pi_i + np.log(self.degrees[i]) - np.log(self.degrees[j])
        return np.log(rng.random()) < log_ratio


def numpy_mhrw(graph: NumpyGraph, rng: np.random.Generator, start: int, num_steps: int) -> np.ndarray:
    """One MHRW chain; returns its visit counts."""
    visits = np.zeros(len(graph.degrees))
    i = start
    for _ in range(num_steps):
        j = graph.neighbours[graph.offsets[i] + rng.integers(graph.degrees[i])]
        if graph.mh_accepts(rng, i, j, graph.log_mu[i], graph.log_mu[j]):
            i = j
        visits[i] += 1
    return visits


def numpy_hdt(graph: NumpyGraph, rng: np.random.Generator, start: int, num_steps: int, alpha: float) -> np.ndarray:
    """One HDT chain (MHRW base, a = 1): MH on log pi_j = log mu_j - alpha log(x_j / mu_j); returns visits."""
    num_nodes = len(graph.degrees)
    visits = np.zeros(num_nodes)
    i = start
    for _ in range(num_steps):
        j = graph.neighbours[graph.offsets[i] + rng.integers(graph.degrees[i])]
        log_x_i, log_x_j = np.log(1.0 / num_nodes + visits[i]), np.log(1.0 / num_nodes + visits[j])
        log_pi_i = graph.log_mu[i] - alpha * (log_x_i - graph.log_mu[i])
        log_pi_j = graph.log_mu[j] - alpha * (log_x_j - graph.log_mu[j])
        if graph.mh_accepts(rng, i, j, log_pi_i, log_pi_j):
            i = j
        visits[i] += 1
    return visits


def numpy_srrw(graph: NumpyGraph, rng: np.random.Generator, start: int, num_steps: int, alpha: float) -> np.ndarray:
    """One SRRW chain (MHRW base, a = 1): the whole closed-neighbourhood row each step; returns visits."""
    num_nodes = len(graph.degrees)
    visits = np.zeros(num_nodes)
    i = start
    for _ in range(num_steps):
        row = graph.neighbours[graph.offsets[i]:graph.offsets[i + 1]]
        log_ratio = graph.log_mu[row] - graph.log_mu[i] + np.log(graph.degrees[i]) - np.log(graph.degrees[row])
        p = np.exp(np.minimum(log_ratio, 0.0)) / graph.degrees[i]
        closed = np.append(row, i)
        p = np.append(p, max(0.0, 1.0 - p.sum()))
        weights = p * ((1.0 / num_nodes + visits[closed]) / np.exp(graph.log_mu[closed])) ** (-alpha)
        i = closed[np.searchsorted(np.cumsum(weights), rng.random() * weights.sum())]
        visits[i] += 1
    return visits


def numpy_seconds_per_step(graph: NumpyGraph, method: str, alpha: float, num_steps: int) -> float:
    """Seconds per step of one NumPy chain of `method`."""
    rng = np.random.default_rng(0)
    loops = {"mhrw": lambda: numpy_mhrw(graph, rng, 0, num_steps),
             "srrw": lambda: numpy_srrw(graph, rng, 0, num_steps, alpha),
             "hdt": lambda: numpy_hdt(graph, rng, 0, num_steps, alpha)}
    start = time.perf_counter()
    visits = loops[method]()
    assert visits.sum() == num_steps
    return (time.perf_counter() - start) / num_steps


def algorithms(alpha: float) -> dict:
    """srmc's three walks: MHRW is HDT at alpha = 0 (bit for bit the base kernel, with its visit counts)."""
    return {"mhrw": hdt.hdt(samplers.mhrw, alpha=0.0), "srrw": srrw.srrw(samplers.mhrw, alpha=alpha),
            "hdt": hdt.hdt(samplers.mhrw, alpha=alpha)}


def srmc_seconds_per_chain_step(target: targets.Target, alpha: float, num_chains: int, num_steps: int,
                                repeats: int, walks: dict | None = None) -> dict[str, float]:
    """Best seconds per chain-step of each walk (default `algorithms(alpha)`) in srmc with `num_chains` chains."""
    positions = target.initial_position(jax.random.key(1), num_chains)
    walks = algorithms(alpha) if walks is None else walks
    runs = {name: algorithm_scan(algorithm, target, num_steps) for name, algorithm in walks.items()}
    seconds = best_times(runs, jax.random.key(0), positions, repeats)
    return {name: s / (num_chains * num_steps) for name, s in seconds.items()}


def print_speedups(numpy_times: dict[str, float], srmc_times: dict[int, dict[str, float]]) -> dict:
    """Print microseconds per step of the NumPy loop and per chain-step of srmc at 1 and 1024 chains with the
    speed-ups; return ``{chains: {walk: speed-up}}``."""
    print(f"{'walk':<10}{'numpy us/step':>15}{'srmc 1 chain':>14}{'speed-up':>10}{'srmc 1024':>12}{'speed-up':>10}")
    speedups = {1: {}, 1024: {}}
    for name, numpy_time in numpy_times.items():
        for chains in (1, 1024):
            speedups[chains][name] = numpy_time / srmc_times[chains][name]
        print(f"{name:<10}{1e6 * numpy_time:>15.2f}{1e6 * srmc_times[1][name]:>14.3f}{speedups[1][name]:>9.1f}x"
              f"{1e6 * srmc_times[1024][name]:>12.4f}{speedups[1024][name]:>9.0f}x", flush=True)
    return speedups


def hub_table(hubs: list[int], alpha: float, repeats: int) -> None:
    """Microseconds per chain-step at 1024 chains on ego networks with hubs of the given degrees."""
    print("\n1024 chains x 500 steps on ego networks (hub degree = alters; uniform mu); us per chain-step")
    print(f"{'hub degree':>10}" + "".join(f"{name:>10}" for name in algorithms(alpha)))
    for hub in hubs:
        target = targets.get("ego_network", num_alters=hub)
        seconds = srmc_seconds_per_chain_step(target, alpha, 1024, 500, repeats)
        print(f"{hub:>10}" + "".join(f"{1e6 * s:>10.3f}" for s in seconds.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="karate_club")
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--numpy-steps", type=int, default=20_000)
    parser.add_argument("--steps-1", type=int, default=CHAIN_COUNTS[1], help="srmc steps with 1 chain")
    parser.add_argument("--steps-1024", type=int, default=CHAIN_COUNTS[1024], help="srmc steps with 1024 chains")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hubs", default="", help="comma-separated hub degrees for the ego-network table")
    args = parser.parse_args()
    target = targets.get(args.target)
    graph = NumpyGraph(target)
    print(f"{target.name}: alpha {args.alpha}, a = 1; NumPy: 1 chain x {args.numpy_steps} steps; srmc: bare jitted "
          f"scan, best of {args.repeats}; {jax.devices()[0].platform}")
    numpy_times = {name: numpy_seconds_per_step(graph, name, args.alpha, args.numpy_steps) for name in algorithms(0)}
    srmc_times = {1: srmc_seconds_per_chain_step(target, args.alpha, 1, args.steps_1, args.repeats),
                  1024: srmc_seconds_per_chain_step(target, args.alpha, 1024, args.steps_1024, args.repeats)}
    speedups = print_speedups(numpy_times, srmc_times)
    if args.hubs:
        hub_table([int(h) for h in args.hubs.split(",")], args.alpha, args.repeats)
    print("speed-up per chain-step over the numpy loop: "
          + "; ".join(f"{chains} chain{'s' if chains > 1 else ''}: "
                      + ", ".join(f"{name} {value:.0f}x" for name, value in speedups[chains].items())
                      for chains in (1, 1024)))


if __name__ == "__main__":
    main()
