"""What the warm-up costs: a run with ``warmup=N`` against the same run with N more plain (burn-in) steps.

    python benchmarks/warmup_cost.py [--target logistic_breast_cancer] [--kernel mala] [--warmup 1000]
                                     [--steps 2000] [--chains 64] [--repeats 3]

Both runs do N + steps kernel steps per chain; the warmed-up one also adapts (dual averaging, Welford windows,
the score's second moment). Sampling time is ``result.sampling_time`` (compilation excluded; every run is made
once first so that both are compiled), best of `repeats`. The last line prints the ratio warm-up / plain.
"""

from __future__ import annotations

import argparse

import jax

import srmc
from srmc import samplers, targets


def best_sampling_time(algorithm: srmc.Algorithm, target: targets.Target, args: argparse.Namespace,
                       warmed: bool) -> float:
    """Best sampling time over the repeats of one configuration (after a compiling run)."""
    options = dict(warmup=args.warmup) if warmed else dict(burn_in=args.warmup)
    times = []
    for _ in range(args.repeats + 1):
        result = srmc.sample(jax.random.key(0), algorithm, target, args.steps, args.chains,
                             **options, options=srmc.RunOptions(progress=False))
        times.append(result.sampling_time)
    return min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="logistic_breast_cancer")
    parser.add_argument("--kernel", default="mala", choices=["mala", "hmc", "rwm"])
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    target = targets.get(args.target)
    kernel = getattr(samplers, args.kernel)
    params = {"step_size": 0.01} | ({"num_integration_steps": 10} if args.kernel == "hmc" else {})
    algorithm = srmc.base(kernel, **params)
    plain = best_sampling_time(algorithm, target, args, warmed=False)
    warmed = best_sampling_time(algorithm, target, args, warmed=True)
    total = args.warmup + args.steps
    print(f"{target.name}, {args.kernel}, {args.chains} chains x ({args.warmup} + {args.steps}) steps, best of "
          f"{args.repeats}")
    print(f"plain (burn-in {args.warmup}): {plain:.3f} s = {1e6 * plain / (args.chains * total):.3f} us/chain-step")
    print(f"warm-up {args.warmup}:        {warmed:.3f} s = {1e6 * warmed / (args.chains * total):.3f} us/chain-step")
    print(f"ratio warm-up / plain: {warmed / plain:.2f}")


if __name__ == "__main__":
    main()
