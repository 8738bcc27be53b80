"""SRMC's finite-n bias against the number of chains and steps, and what removes it.

    python benchmarks/bias_vs_chains.py                 # synthetic_logistic (the SRMC paper's data), MALA
    python benchmarks/bias_vs_chains.py --chains 256 --steps 4000

SRMC's estimate from one chain carries a bias of order alpha tau log(n) / n (the history's feedback, see
`srmc.schedules.default_gamma`); averaging C chains shrinks the Monte Carlo error like 1 / sqrt(C n) but leaves the
bias, so with enough chains the bias is the larger. We run `--chains` chains from stored posterior draws (so the
base kernel is unbiased), all sharing keys and starts, and report for subsets of 8 .. C chains and counted steps
n in {n/16, n/4, n}:

- bias = pooled SRMC estimate - pooled base estimate at the same n over all chains, at the coordinate of largest
  z, +- its SE (SRMC's and the base reference's errors);
- the MCSE of C chains and |bias| / MCSE: above ~1 the error bar of C chains no longer covers the error (an
  undetectable bias, |z| < 2, shows here as a ratio driven by the reference's noise: read it with the z);
- whether the health report's ``bias_exceeds_mcse`` warning fired (full run, all chains);
- the remedy: the same run with a burn-in as long as the counted run (n counted steps after n burn-in steps).

The last line states the rule measured here.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.targets.logistic import synthetic_logistic_starts

CONFIGS = {"score tilt, alpha=1 (paper)": dict(alpha=1.0, tilt="score"),
           "default, alpha=1": dict(alpha=1.0), "default, alpha=10": dict(alpha=10.0)}


def run(algorithm, target, starts, args, burn_in=0):
    """Per-chain running means of x at the snapshot steps: (snapshots, chains, d), and the result."""
    steps = [args.steps // 16, args.steps // 4, args.steps]
    result = srmc.sample(jax.random.key(args.seed), algorithm, target, args.steps, args.chains,
                         initial_position=starts, warmup=args.warmup, options=srmc.RunOptions(burn_in=burn_in, progress=False, snapshot_steps=steps))
    return np.asarray(result.snapshots["x"], np.float64), steps, result  # (snapshots, chains, d)


def bias_table(name, srmc_means, base_means, steps, warned):
    """Rows per counted step n and chain count C: the bias estimated on all chains (+- its SE, which includes the
    base reference's), the MCSE of C chains, and |bias| / MCSE(C) (> 1: the error bar of C chains misses it)."""
    lines = []
    total = srmc_means.shape[1]
    for j, n in enumerate(steps):
        reference = base_means[j].mean(axis=0)
        reference_se = base_means[j].std(axis=0, ddof=1) / np.sqrt(total)
        full_se = srmc_means[j].std(axis=0, ddof=1) / np.sqrt(total)
        bias = srmc_means[j].mean(axis=0) - reference
        bias_se = np.sqrt(full_se**2 + reference_se**2)
        worst = int(np.argmax(np.abs(bias) / bias_se))
        for chains in sorted({c for c in (8, 64, 512) if c < total} | {total}):
            mcse = srmc_means[j, :chains, worst].std(ddof=1) / np.sqrt(chains)
            lines.append(f"| {name} | {n} | {chains} | {bias[worst]:+.2e} ± {bias_se[worst]:.1e} "
                         f"(z = {bias[worst] / bias_se[worst]:+.1f}) | {mcse:.2e} | {abs(bias[worst]) / mcse:.2f} |")
    lines.append(f"| {name}: health report `bias_exceeds_mcse` at n={steps[-1]}, all chains: "
                 f"{'warned' if warned else 'silent'} | | | | | |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    target = targets.get("synthetic_logistic")
    starts = synthetic_logistic_starts(min(args.chains, 1024)).astype(np.float32)
    starts = np.resize(starts, (args.chains, target.dim))
    base_means, steps, _ = run(srmc.base(samplers.mala), target, starts, args)  # step size: the warm-up
    print("| configuration | n | chains C | bias ± SE (all chains, coordinate of largest z) | MCSE of C chains | "
          "abs(bias) / MCSE |")
    print("|---|---|---|---|---|---|")
    rule = []
    for name, options in CONFIGS.items():
        means, _, result = run(srmc.wrap(samplers.mala, **options), target, starts, args)
        warned = "bias_exceeds_mcse" in [w.code for w in result.warnings]
        print("\n".join(bias_table(name, means, base_means, steps, warned)))
        if name.startswith("default, alpha=10"):
            burned, _, burned_result = run(srmc.wrap(samplers.mala, **options), target, starts, args,
                                           burn_in=args.steps)
            print("\n".join(bias_table(name + ", burn-in n", burned, base_means, steps,
                                       "bias_exceeds_mcse" in [w.code for w in burned_result.warnings])))
        full = np.abs(means[-1].mean(axis=0) - base_means[-1].mean(axis=0))
        rule.append(f"{name}: bias {full.max():.1e} at n={steps[-1]}")
    print("measured: " + "; ".join(rule))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
