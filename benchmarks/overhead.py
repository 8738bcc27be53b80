"""SRMC's cost per chain-step relative to its base kernel (MALA), on several targets, measured in one run.

    python benchmarks/overhead.py [--targets correlated_gaussian,logistic_breast_cancer] [--chains 128]
                                  [--steps 1000] [--repeats 9]

Every configuration runs as a bare jitted ``lax.scan`` over vmapped chains of its ``algorithm.step`` (see
`_timing.py`): the runner's own per-step work (keys, running means) is the same for all configurations, so
leaving it out isolates what the wrapper adds. Each scan is compiled first, then all configurations of a target
are timed alternately `repeats` times and the best time of each is kept (the machine may be shared). Alongside
the times, the evaluations per step (`srmc.evaluations`) show where the cost comes from. The last line prints
the ratios against plain MALA per target: linear tilt (goal <= 1.10), score tilt shifted (<= 2.2), score tilt
exact (<= 3.5).
"""

from __future__ import annotations

import argparse

import jax
from _timing import algorithm_scan, best_times

import srmc
from srmc import samplers, targets
from srmc.tools.evaluations import count_evaluations

GOALS = {"srmc linear": 1.10, "srmc score shifted": 2.2, "srmc score exact": 3.5}


def configurations(step_size: float) -> dict[str, srmc.Algorithm]:
    """Plain MALA and the three SRMC variants on top of it (alpha = 1, default history rate)."""
    return {
        "mala (base)": srmc.base(samplers.mala, step_size=step_size),
        "srmc linear": srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=step_size),
        "srmc score shifted": srmc.wrap(samplers.mala, tilt="score", alpha=1.0, gradient="shifted", step_size=step_size),
        "srmc score exact": srmc.wrap(samplers.mala, tilt="score", alpha=1.0, gradient="exact", step_size=step_size),
    }


def measure(target: targets.Target, step_size: float, chains: int, steps: int, repeats: int) -> dict[str, float]:
    """Print one target's table; return each configuration's time per chain-step relative to MALA."""
    algorithms = configurations(step_size)
    positions = (target.sample or target.initial_position)(jax.random.key(1), chains)
    runs = {name: algorithm_scan(algorithm, target, steps) for name, algorithm in algorithms.items()}
    seconds = best_times(runs, jax.random.key(0), positions, repeats)
    base = seconds["mala (base)"]
    print(f"{target.name}: {chains} chains x {steps} steps, best of {repeats} alternating repeats")
    print(f"{'configuration':<22}{'us/chain-step':>15}{'ratio':>8}{'logp':>6}{'grad':>6}{'hvp':>5}")
    for name, algorithm in algorithms.items():
        counts = count_evaluations(algorithm, target, positions[0])
        print(f"{name:<22}{1e6 * seconds[name] / (chains * steps):>15.3f}{seconds[name] / base:>8.2f}"
              f"{counts.logdensity:>6g}{counts.gradient:>6g}{counts.hessian_vector:>5g}")
    return {name: seconds[name] / base for name in GOALS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="correlated_gaussian,logistic_breast_cancer")
    parser.add_argument("--step-size", type=float, default=0.05)
    parser.add_argument("--chains", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    ratios = {}
    for name in args.targets.split(","):
        target = targets.get(name)
        step_size = args.step_size if target.dim < 30 else args.step_size / 10
        ratios[name] = measure(target, step_size, args.chains, args.steps, args.repeats)
        print()
    print("overhead vs MALA (goals: linear 1.10, shifted 2.2, exact 3.5): " + "; ".join(
        f"{name} linear {r['srmc linear']:.2f}, shifted {r['srmc score shifted']:.2f}, exact {r['srmc score exact']:.2f}"
        for name, r in ratios.items()))


if __name__ == "__main__":
    main()
