"""Peak resident memory of a run against its length: O(d) per chain, flat in the number of steps.

    python benchmarks/memory.py                      # 10^4 vs 10^6 steps
    python benchmarks/memory.py --steps 10000000     # 10^4 vs a 10^7-step single-chain run

Each length runs in its own fresh Python process (same target, sampler, chains and chunk size, so the same
compiled program), and the parent reads that child's peak resident set size from ``os.wait4`` (``ru_maxrss``).
The child keeps the default estimators (running means of x and x^2 with 64 online batch means each) and stores
no draws. The last line prints the ratio of the longest run's peak memory to the 10^4-step run's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import srmc

BASELINE_STEPS = 10**4
CHUNK = 10**4


def child(num_steps: int, num_chains: int, target_name: str) -> None:
    """Run the sampler for `num_steps` steps and print one line: wall seconds, |mean| max, batch-means MCSE."""
    import jax
    import numpy as np

    import srmc
    from srmc import samplers, targets

    target = targets.get(target_name)
    algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.05)
    start = time.perf_counter()
    result = srmc.sample(jax.random.key(0), algorithm, target, num_steps, num_chains, options=srmc.RunOptions(chunk_size=CHUNK, progress=False))
    seconds = time.perf_counter() - start
    error = np.max(np.abs(result.mean - target.ground_truth.mean))
    print(f"{seconds:.3f} {error:.4g} {np.max(result.batch_means_mcse('x')):.4g}")


def measure(num_steps: int, num_chains: int, target_name: str) -> tuple[float, float, str]:
    """(peak RSS in MiB, wall seconds, the child's line) of a fresh process running `num_steps` steps."""
    command = [sys.executable, __file__, "--child", str(num_steps), "--chains", str(num_chains), "--target",
               target_name]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    output = process.stdout.read().strip()
    if status != 0:
        raise RuntimeError(f"the {num_steps}-step child failed (status {status}): {output}")
    return usage.ru_maxrss / 1024, wall, output  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="*", default=[10**6], help="run lengths besides 10^4")
    parser.add_argument("--chains", type=int, default=1)
    parser.add_argument("--target", default="correlated_gaussian")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.chains, args.target)
        return
    lengths = sorted({BASELINE_STEPS, *args.steps})
    print(f"srmc[mala] score tilt on {args.target}, {args.chains} chain(s), chunks of {CHUNK} steps, "
          "x and x^2 with 64 batch means, no stored draws; one fresh process per length")
    print(f"{'steps':>10}{'peak RSS MiB':>14}{'process s':>11}{'sampling s':>12}{'max |mean err|':>16}"
          f"{'max bm mcse':>13}")
    peaks = {}
    for num_steps in lengths:
        peak, wall, line = measure(num_steps, args.chains, args.target)
        sampling, error, mcse = line.split()
        peaks[num_steps] = peak
        print(f"{num_steps:>10}{peak:>14.1f}{wall:>11.1f}{float(sampling):>12.1f}{error:>16}{mcse:>13}", flush=True)
    ratio = peaks[lengths[-1]] / peaks[BASELINE_STEPS]
    verdict = "flat within 5%" if abs(ratio - 1) <= 0.05 else "NOT flat within 5%"
    print(f"peak RSS ratio {lengths[-1]:.0e} / {BASELINE_STEPS:.0e} steps: {ratio:.3f} ({verdict})")


if __name__ == "__main__":
    main()
