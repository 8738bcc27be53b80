"""SRMC's cost per chain-step relative to its base kernel (MALA and HMC), on several targets, measured in one run.

    python benchmarks/overhead.py [--targets correlated_gaussian,logistic_breast_cancer] [--chains 128]
                                  [--steps 1000] [--hmc-steps 200] [--repeats 9]

Every configuration runs as a bare jitted ``lax.scan`` over vmapped chains of its ``algorithm.step`` (see
`_timing.py`): the runner's own per-step work (keys, running means) is the same for all configurations, so
leaving it out isolates what the wrapper adds. Each scan is compiled first, then all configurations of a target
are timed alternately `repeats` times and the best time of each is kept (the machine may be shared). HMC (10
leapfrog steps, default step jitter for base and SRMC alike) runs `hmc-steps` steps, MALA `steps`. Alongside
the times, the evaluations per step (`srmc.evaluations`) show where the cost comes from. The last line prints
the ratios against the plain base kernel per target: linear tilt (goal <= 1.10), score tilt shifted (<= 2.2),
score tilt exact (<= 3.5); the line before it those of the default (bounded tilt, goal <= 1.10; its reference,
which a warm-up measures, given as pi's mean and sd).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _timing import algorithm_scan, best_times

import srmc
from srmc import samplers, targets
from srmc.tools.evaluations import count_evaluations

GOALS = {"linear": 1.10, "shifted": 2.2, "exact": 3.5}
DEFAULT_GOAL = 1.10  # the default (bounded tilt) SRMC
LEAPFROG_STEPS = 10


def configurations(module, reference: tuple, **params) -> dict[str, srmc.Algorithm]:
    """The plain base kernel, the default SRMC (bounded tilt, its reference given as a warm-up would measure it)
    and the three other SRMC variants on top of it (alpha = 1, default history rate)."""
    return {
        "base": srmc.base(module, **params),
        "default": srmc.wrap(module, alpha=1.0, tilt_reference=reference, **params),
        "linear": srmc.wrap(module, alpha=1.0, tilt="linear", **params),
        "shifted": srmc.wrap(module, tilt="score", alpha=1.0, gradient="shifted", **params),
        "exact": srmc.wrap(module, tilt="score", alpha=1.0, gradient="exact", **params),
    }


def measure(target: targets.Target, step_size: float, chains: int, steps: dict[str, int], repeats: int
            ) -> dict[str, dict[str, float]]:
    """Print one target's table; return each kernel's configurations' time per chain-step relative to its base."""
    truth = target.ground_truth
    reference = (jnp.asarray(truth.mean), jnp.sqrt(jnp.asarray(truth.variance)))
    kernels = {"mala": configurations(samplers.mala, reference, step_size=step_size),
               "hmc": configurations(samplers.hmc, reference, step_size=step_size,
                                     num_integration_steps=LEAPFROG_STEPS)}
    positions = (target.sample or target.initial_position)(jax.random.key(1), chains)
    runs = {(kernel, name): algorithm_scan(algorithm, target, steps[kernel])
            for kernel, algorithms in kernels.items() for name, algorithm in algorithms.items()}
    seconds = best_times(runs, jax.random.key(0), positions, repeats)
    print(f"{target.name}: {chains} chains, best of {repeats} alternating repeats; hmc: L = {LEAPFROG_STEPS}")
    print(f"{'configuration':<22}{'steps':>6}{'us/chain-step':>15}{'ratio':>8}{'logp':>6}{'grad':>6}{'hvp':>5}")
    ratios = {}
    for kernel, algorithms in kernels.items():
        base = seconds[kernel, "base"]
        ratios[kernel] = {name: seconds[kernel, name] / base for name in ("default", *GOALS)}
        for name, algorithm in algorithms.items():
            counts = count_evaluations(algorithm, target, positions[0])
            label = f"{kernel} (base)" if name == "base" else f"srmc[{kernel}] {name}"
            print(f"{label:<22}{steps[kernel]:>6}{1e6 * seconds[kernel, name] / (chains * steps[kernel]):>15.3f}"
                  f"{seconds[kernel, name] / base:>8.2f}{counts.logdensity:>6g}{counts.gradient:>6g}"
                  f"{counts.hessian_vector:>5g}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="correlated_gaussian,logistic_breast_cancer")
    parser.add_argument("--step-size", type=float, default=0.05)
    parser.add_argument("--chains", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hmc-steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    ratios = {}
    for name in args.targets.split(","):
        target = targets.get(name)
        step_size = args.step_size if target.dim < 30 else args.step_size / 10
        ratios[name] = measure(target, step_size, args.chains, {"mala": args.steps, "hmc": args.hmc_steps},
                               args.repeats)
        print()
    print(f"default SRMC vs base kernel (goal {DEFAULT_GOAL}): " + "; ".join(
        f"{name} " + ", ".join(f"{kernel} {per_kernel.pop('default'):.2f}" for kernel, per_kernel in by_kernel.items())
        for name, by_kernel in ratios.items()))
    goals = ", ".join(f"{name} {goal}" for name, goal in GOALS.items())
    print(f"overhead vs base kernel (goals: {goals}): " + "; ".join(
        f"{name} " + ", ".join(f"{kernel} " + ", ".join(f"{config} {r:.2f}" for config, r in per_kernel.items())
                              for kernel, per_kernel in by_kernel.items())
        for name, by_kernel in ratios.items()))


if __name__ == "__main__":
    main()
