"""Chain-steps per second against the number of chains (1 .. 16384): where vmapped throughput saturates.

    python benchmarks/throughput.py [--target correlated_gaussian] [--max-chains 16384] [--seconds 1]
                                    [--tilt score] [--devices N]

For each number of chains (geometric, x4) the SRMC sampler is compiled and warmed up first; then two runs of
the same compiled chunk are timed, a short one (2 chunks) and a long one (about `--seconds`), and the throughput
is the difference: ``chains x (extra steps) / (extra seconds)``. Compilation and the per-call setup of
`srmc.sample` are therefore excluded. The last line names the smallest number of chains that reaches 90% of the
best throughput, and that throughput as a ratio to one chain's.
"""

from __future__ import annotations

import argparse
import math
import time

import jax

import srmc
from srmc import samplers, targets

CHUNK = 50  # steps per compiled chunk, the same for every run of one number of chains


def timed_run(algorithm, target, num_chains: int, num_steps: int, devices) -> float:
    """Wall seconds of one `srmc.sample` call (chunks of CHUNK steps, results on the host)."""
    start = time.perf_counter()
    result = srmc.sample(jax.random.key(0), algorithm, target, num_steps, num_chains, options=srmc.RunOptions(chunk_size=CHUNK, progress=False, devices=devices))
    result.mean.sum()  # the estimates are numpy arrays: the run has finished
    return time.perf_counter() - start


def chain_steps_per_second(algorithm, target, num_chains: int, seconds: float, devices) -> tuple[float, int]:
    """(marginal chain-steps per second, steps timed) for `num_chains` chains, compilation excluded."""
    timed_run(algorithm, target, num_chains, CHUNK, devices)  # compile and warm up
    short = min(timed_run(algorithm, target, num_chains, 2 * CHUNK, devices) for _ in range(2))
    chunks = max(6, 2 + math.ceil(seconds / max(short / 2, 1e-6)))
    long = min(timed_run(algorithm, target, num_chains, chunks * CHUNK, devices) for _ in range(2))
    extra_steps = (chunks - 2) * CHUNK
    return num_chains * extra_steps / max(long - short, 1e-9), extra_steps


def saturation(chain_counts: list[int], rates: list[float], fraction: float = 0.9) -> tuple[int, float]:
    """(smallest number of chains reaching `fraction` of the best rate, its rate)."""
    best = max(rates)
    for chains, rate in zip(chain_counts, rates):
        if rate >= fraction * best:
            return chains, rate
    return chain_counts[-1], rates[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="correlated_gaussian")
    parser.add_argument("--step-size", type=float, default=0.05)
    parser.add_argument("--tilt", default="score", choices=("score", "linear"))
    parser.add_argument("--max-chains", type=int, default=16384)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each timed run")
    parser.add_argument("--devices", type=int, default=None, help="shard the chains over this many devices")
    args = parser.parse_args()
    target = targets.get(args.target)
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, tilt=args.tilt, step_size=args.step_size)
    step = 4
    chain_counts = [step**i for i in range(int(math.log(args.max_chains, step)) + 1)]
    if args.devices:
        chain_counts = [max(c, args.devices) for c in chain_counts if c >= args.devices or c == 1]
        chain_counts = sorted(set(chain_counts))
    device = jax.devices()[0]
    print(f"{algorithm!r} on {target.name}, {args.devices or 1} x {device.platform} ({device.device_kind}), "
          f"chunks of {CHUNK} steps, compilation excluded")
    print(f"{'chains':>8}{'steps timed':>13}{'chain-steps/s':>16}{'us/chain-step':>15}{'x 1 chain':>11}")
    rates = []
    for num_chains in chain_counts:
        rate, steps = chain_steps_per_second(algorithm, target, num_chains, args.seconds, args.devices)
        rates.append(rate)
        print(f"{num_chains:>8}{steps:>13}{rate:>16.4g}{1e6 / rate:>15.3f}{rate / rates[0]:>11.1f}", flush=True)
    chains, rate = saturation(chain_counts, rates)
    print(f"throughput saturates at {chains} chains: {rate:.4g} chain-steps/s = {rate / rates[0]:.1f}x one chain's "
          f"(90% of the best, {max(rates):.4g} at {chain_counts[rates.index(max(rates))]} chains)")


if __name__ == "__main__":
    main()
