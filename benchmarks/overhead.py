"""SRMC's cost per chain-step relative to its base kernel (MALA), measured in one run.

    python benchmarks/overhead.py [--target correlated_gaussian] [--chains 64] [--steps 2000] [--repeats 3]

Each configuration is compiled first, then timed `repeats` times (the minimum is kept). The last line prints the
three ratios against plain MALA: linear tilt (goal <= 1.10), score tilt shifted (<= 2.2), score tilt exact (<= 3.5).
"""

from __future__ import annotations

import argparse
import time

import jax

import samplers
import srmc
import targets


def time_per_chain_step(algorithm, target, num_chains: int, num_steps: int, repeats: int) -> float:
    """Best wall time per chain-step over `repeats` runs, after one compiling run of the same shape."""
    key = jax.random.key(0)
    run = lambda: srmc.sample(key, algorithm, target, num_steps, num_chains, chunk_size=num_steps, progress=False)
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / (num_chains * num_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="correlated_gaussian")
    parser.add_argument("--step-size", type=float, default=0.05)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    target = targets.get(args.target)
    configurations = {
        "mala (base)": srmc.base(samplers.mala, step_size=args.step_size),
        "srmc linear": srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=args.step_size),
        "srmc score shifted": srmc.wrap(samplers.mala, alpha=1.0, gradient="shifted", step_size=args.step_size),
        "srmc score exact": srmc.wrap(samplers.mala, alpha=1.0, gradient="exact", step_size=args.step_size),
    }
    seconds = {
        name: time_per_chain_step(algorithm, target, args.chains, args.steps, args.repeats)
        for name, algorithm in configurations.items()
    }
    base = seconds["mala (base)"]
    print(f"{target.name}: {args.chains} chains x {args.steps} steps, best of {args.repeats}")
    print(f"{'configuration':<22}{'us/chain-step':>15}{'ratio':>8}")
    for name, value in seconds.items():
        print(f"{name:<22}{1e6 * value:>15.3f}{value / base:>8.2f}")
    ratios = [seconds[name] / base for name in list(configurations)[1:]]
    print("overhead ratios vs MALA: linear {:.2f} (goal 1.10), shifted {:.2f} (goal 2.2), exact {:.2f} (goal 3.5)"
          .format(*ratios))


if __name__ == "__main__":
    main()
