"""Speed of MHRW, SRRW and HDT per chain-step: against a plain NumPy loop of the same walk, and as the maximum degree
grows (does a hub make every chain pay for it?).

    python benchmarks/graph_hubs.py [--alpha 5] [--hubs 10,100,1000] [--numpy-steps 20000] [--repeats 3]

1. karate club: microseconds per chain-step of srmc with 1 chain and with 1024 chains (a bare jitted scan of vmapped
   steps, compilation excluded, best of --repeats) and of the NumPy loop (`graph_numpy.py`: one chain, one Python
   iteration per step), the speed-up in the same run.
2. Ego networks (`targets.get("ego_network", num_alters=h)`: node 0 is adjacent to all h alters, so the maximum
   degree is h; uniform mu, chains from uniform draws): microseconds per chain-step with 1024 chains for each hub
   degree h, and the NumPy loop on the same graph. MHRW and HDT read two nodes per step whatever the degree; SRRW
   reads its node's whole row, and under `vmap` a batch of chains pays for the largest degree among its chains at
   each step (`srmc.method.srrw`). The table shows what that costs.

The last line gives the speed-ups over NumPy at 1 and 1024 chains (karate) and, per walk, the time per chain-step
at the largest hub over the smallest (1024 chains).
"""

from __future__ import annotations

import argparse

import jax
from graph_numpy import NumpyGraph, numpy_seconds_per_step, print_speedups, srmc_seconds_per_chain_step

from srmc import samplers, targets
from srmc.method import hdt, srrw

WALKS = ("mhrw", "srrw", "srrw loop", "hdt")


def walks(alpha: float) -> dict:
    """srmc's walks: MHRW (HDT at alpha 0, bit for bit the base kernel), SRRW with its default two-level row pass
    and with the per-chain loop (`srmc.method.srrw.build_kernel`), HDT."""
    return {"mhrw": hdt.hdt(samplers.mhrw, alpha=0.0), "srrw": srrw.srrw(samplers.mhrw, alpha=alpha),
            "srrw loop": srrw.srrw(samplers.mhrw, alpha=alpha, row_pass="loop"),
            "hdt": hdt.hdt(samplers.mhrw, alpha=alpha)}


def per_chain_step(target: targets.Target, alpha: float, numpy_steps: int, chain_steps: dict[int, int],
                   repeats: int) -> tuple[dict, dict]:
    """(NumPy seconds per step, {chains: srmc seconds per chain-step}) of the walks on `target` (the NumPy SRRW
    loop stands for both row passes)."""
    graph = NumpyGraph(target)
    numpy_times = {name: numpy_seconds_per_step(graph, name, alpha, numpy_steps) for name in ("mhrw", "srrw", "hdt")}
    numpy_times = {name: numpy_times[name.split()[0]] for name in WALKS}
    srmc_times = {chains: srmc_seconds_per_chain_step(target, alpha, chains, steps, repeats, walks(alpha))
                  for chains, steps in chain_steps.items()}
    return numpy_times, srmc_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--hubs", default="10,100,1000")
    parser.add_argument("--numpy-steps", type=int, default=20_000, dest="numpy_steps")
    parser.add_argument("--steps-1", type=int, default=20_000, dest="steps_1")
    parser.add_argument("--steps-1024", type=int, default=2_000, dest="steps_1024")
    parser.add_argument("--hub-steps", type=int, default=500, dest="hub_steps")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"alpha {args.alpha}, a = 1; srmc: bare jitted scan of vmapped steps, best of {args.repeats}, compilation "
          f"excluded; NumPy: 1 chain x {args.numpy_steps} steps; {jax.devices()[0].platform}; us per chain-step")
    karate = targets.get("karate_club")
    numpy_times, srmc_times = per_chain_step(karate, args.alpha, args.numpy_steps,
                                             {1: args.steps_1, 1024: args.steps_1024}, args.repeats)
    print("\nkarate_club")
    speedups = print_speedups(numpy_times, srmc_times)
    hubs = [int(h) for h in args.hubs.split(",")]
    print(f"\nego networks, 1024 chains x {args.hub_steps} steps (hub degree = max degree)")
    print(f"{'hub':>6}{'|V|':>7}" + "".join(f"{name:>11}" for name in WALKS)
          + "".join(f"{name + ' numpy':>12}" for name in ("mhrw", "srrw", "hdt")))
    by_hub = {}
    for hub in hubs:
        target = targets.get("ego_network", num_alters=hub)
        numpy_hub, srmc_hub = per_chain_step(target, args.alpha, max(args.numpy_steps // 4, 1),
                                             {1024: args.hub_steps}, args.repeats)
        by_hub[hub] = srmc_hub[1024]
        print(f"{hub:>6}{target.graph.num_nodes:>7}" + "".join(f"{1e6 * srmc_hub[1024][name]:>11.4f}" for name in WALKS)
              + "".join(f"{1e6 * numpy_hub[name]:>12.2f}" for name in ("mhrw", "srrw", "hdt")), flush=True)
    growth = {name: by_hub[hubs[-1]][name] / by_hub[hubs[0]][name] for name in WALKS}
    print("graph hubs: speed-up over numpy, 1 chain: " + ", ".join(f"{k} {v:.1f}x" for k, v in speedups[1].items())
          + "; 1024 chains: " + ", ".join(f"{k} {v:.0f}x" for k, v in speedups[1024].items())
          + f"; 1024 chains, hub {hubs[-1]} / hub {hubs[0]} time per chain-step: "
          + ", ".join(f"{k} {v:.1f}x" for k, v in growth.items()))


if __name__ == "__main__":
    main()
