"""The efficacy table: is SRMC safe, and what does it buy, on every continuous registry target?

    python benchmarks/efficacy.py                        # all continuous targets, mala and hmc, alpha 1 and 10
    python benchmarks/efficacy.py --targets banana funnel --kernels mala --chains 32 --steps 1000

For every continuous registry target x {mala, hmc} (both warmed up on pi for `--warmup` steps by srmc's default
warm-up: step size and mass (mass="auto") over its first half, frozen over the second, where SRMC's statistics and
prediction are measured; HMC with 10 leapfrog steps and its default step jitter) x {the paper's score tilt
(constant alpha), the linear tilt (constant alpha), the default (``srmc.wrap(kernel, alpha=a)``: bounded tilt,
rational ramp, trust region, guard), the second-order tilt (``tilt="second_order"``, its defaults)} x alpha in
{1, 10}, against the base kernel with the same keys, starts and warm-up:

- ratio: MSE(base) / MSE(SRMC) of the mean of x (averaged over coordinates), +- its delta-method SE;
- ratio x^2, max |z| x^2: the same for the mean of x^2 and its bias z (second moments; not in the pass rule);
- max |z|: the largest bias z over coordinates, |mean over chains - truth| / sqrt(SE^2 + SE(truth)^2);
- non-finite: share of steps with a non-finite proposal; frozen: chains with acceptance < 1% beyond the base's;
- alpha (used): the alpha asked and, in brackets, the one run where the warm-up's prediction lowered it;
- guard: the guard's back-offs (all chains); time: sampling time (compile excluded) / the base kernel's.

A configuration passes when its ratio is >= 0.8, max |z| < 4 and it has no frozen chain beyond the base's and no
non-finite estimate. The last lines count the configurations worse than their base kernel. Writes the table to
stdout and, with --out, the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.targets import Continuous
from srmc.tools.benchmark import mse_ratio_with_stderr

KERNELS = {"mala": (samplers.mala, {"step_size": 0.1}),
           "hmc": (samplers.hmc, {"step_size": 0.1, "num_integration_steps": 10})}
CONFIGS = ("score", "linear", "default", "second_order")
PASS_RATIO, PASS_Z = 0.8, 4.0


def continuous_targets() -> list[str]:
    """Registered continuous targets with ground truth whose optional packages are installed."""
    names = []
    for name in targets.names():
        if targets.missing_requirement(name) is None:
            target = targets.get(name)
            if isinstance(target.space, Continuous) and target.ground_truth is not None:
                names.append(name)
    return names


def algorithm(kernel: str, config: str, alpha: float) -> srmc.Algorithm:
    """The base kernel (alpha = 0) or one SRMC configuration around it."""
    module, params = KERNELS[kernel]
    if alpha == 0:
        return srmc.base(module, **params)
    if config == "default":
        return srmc.wrap(module, alpha=alpha, **params)
    return srmc.wrap(module, alpha=alpha, tilt=config, **params)


def measure(target: targets.Target, kernel: str, config: str, alpha: float, starts, args) -> dict:
    """One run's final per-chain estimates and diagnostics."""
    result = srmc.sample(jax.random.key(args.seed), algorithm(kernel, config, alpha), target, args.steps,
                         args.chains, initial_position=starts, warmup=args.warmup,
                         options=srmc.RunOptions(progress=False))
    return {"estimates": np.asarray(result.chain_estimates["x"], np.float64).reshape(args.chains, -1),
            "estimates_x2": np.asarray(result.chain_estimates["x^2"], np.float64).reshape(args.chains, -1),
            "acceptance": np.asarray(result.acceptance_rate),
            "nonfinite_share": float(np.sum(result.num_nonfinite)) / (args.chains * args.steps),
            "nonfinite_estimate": bool(result.nonfinite_estimates),
            "guard_events": int(np.sum(result.counters.get("guard_events", 0))),
            "alpha_used": alpha * float(np.mean(result.counters.get("alpha_factor", 1.0))),
            "sampling_time": float(result.sampling_time),
            "warnings": [w.code for w in result.warnings]}


def max_bias_z(estimates: np.ndarray, truth: targets.GroundTruth) -> float:
    """Largest |z| over coordinates of the mean over chains against the truth (with the truth's own SE)."""
    return _max_z(estimates, np.asarray(truth.mean), np.asarray(truth.mean_stderr))


def max_second_moment_z(estimates_x2: np.ndarray, truth: targets.GroundTruth) -> float:
    """Largest |z| over coordinates of the mean of x^2 over chains against var + mean^2 of the truth (its SE from
    the truth's SEs of the variance and mean, zero where it has none)."""
    mean, variance = np.asarray(truth.mean), np.asarray(truth.variance)
    variance_se = np.zeros_like(variance) if truth.variance_stderr is None else np.asarray(truth.variance_stderr)
    truth_se = np.sqrt(variance_se**2 + (2 * mean * np.asarray(truth.mean_stderr)) ** 2)
    return _max_z(estimates_x2, second_moment(truth), truth_se)


def second_moment(truth: targets.GroundTruth) -> np.ndarray:
    """E[x^2] per coordinate from the truth: var + mean^2."""
    return np.asarray(truth.variance) + np.asarray(truth.mean) ** 2


def _max_z(estimates: np.ndarray, truth: np.ndarray, truth_se: np.ndarray) -> float:
    se = estimates.std(axis=0, ddof=1) / np.sqrt(estimates.shape[0])
    z = np.abs(estimates.mean(axis=0) - truth.reshape(-1)) / np.sqrt(se**2 + truth_se.reshape(-1) ** 2)
    return float(np.max(np.where(np.isfinite(z), z, np.inf)))


def row(target_name: str, kernel: str, config: str, alpha: float, run: dict, base: dict,
        truth: targets.GroundTruth) -> dict:
    """One line of the table (see the module doc)."""
    ratio, ratio_se = mse_ratio_with_stderr(base["estimates"], run["estimates"], truth.mean)
    ratio_x2, ratio_x2_se = mse_ratio_with_stderr(base["estimates_x2"], run["estimates_x2"], second_moment(truth))
    frozen = int(np.sum(run["acceptance"] < 0.01)) - int(np.sum(base["acceptance"] < 0.01))
    z = max_bias_z(run["estimates"], truth)
    passed = (np.isfinite(ratio) and ratio >= PASS_RATIO and z < PASS_Z and frozen <= 0
              and not run["nonfinite_estimate"])
    return {"target": target_name, "kernel": kernel, "config": config, "alpha": alpha, "ratio": float(ratio),
            "ratio_se": float(ratio_se), "ratio_x2": float(ratio_x2), "ratio_x2_se": float(ratio_x2_se), "max_z": z,
            "max_z_x2": max_second_moment_z(run["estimates_x2"], truth), "nonfinite_share": run["nonfinite_share"],
            "frozen_beyond_base": max(frozen, 0), "guard_events": run["guard_events"], "alpha_used": run["alpha_used"],
            "time_ratio": run["sampling_time"] / max(base["sampling_time"], 1e-9), "passed": bool(passed),
            "worse": bool(np.isfinite(ratio) and ratio + 2 * ratio_se < 1.0) or not np.isfinite(ratio),
            "base_max_z": max_bias_z(base["estimates"], truth),
            "base_max_z_x2": max_second_moment_z(base["estimates_x2"], truth), "warnings": run["warnings"]}


def _used(row: dict) -> str:
    """" (a)" when the warm-up's prediction ran alpha a instead of the alpha asked (`srmc.method.prediction`)."""
    used = row.get("alpha_used", row["alpha"])
    return "" if abs(used - row["alpha"]) <= 1e-9 * row["alpha"] else f" ({used:.2g})"


def format_rows(rows: list[dict]) -> str:
    """A markdown table of `rows`, then pass / worse counts per configuration."""
    lines = ["| target | kernel | config | alpha (used) | ratio ± SE | ratio x^2 ± SE | max abs z (base) "
             "| max abs z x^2 (base) | non-finite | frozen+ | guard | time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['kernel']} | {r['config']} | {r['alpha']:g}{_used(r)} | {r['ratio']:.3g} ± "
                     f"{r['ratio_se']:.2g} | {r['ratio_x2']:.3g} ± {r['ratio_x2_se']:.2g} | "
                     f"{r['max_z']:.1f} ({r['base_max_z']:.1f}) | {r['max_z_x2']:.1f} ({r['base_max_z_x2']:.1f}) | "
                     f"{r['nonfinite_share']:.1%} | "
                     f"{r['frozen_beyond_base']} | {r['guard_events']} | {r['time_ratio']:.2f} |"
                     + ("" if r["passed"] else " **fail**"))
    lines.append("")
    for config in CONFIGS:
        for alpha in sorted({r["alpha"] for r in rows}):
            chosen = [r for r in rows if r["config"] == config and r["alpha"] == alpha]
            if chosen:
                worse_x2 = sum(r["ratio_x2"] + 2 * r["ratio_x2_se"] < 1 or not np.isfinite(r["ratio_x2"])
                               for r in chosen)
                lines.append(f"{config} alpha={alpha:g}: passed {sum(r['passed'] for r in chosen)}/{len(chosen)}, "
                             f"worse than base (ratio + 2 SE < 1) {sum(r['worse'] for r in chosen)}/{len(chosen)}, "
                             f"on x^2 {worse_x2}/{len(chosen)}")
    worse = [r for r in rows if r["worse"]]
    lines.append(f"configurations worse than their base kernel: {len(worse)} of {len(rows)} "
                 f"(default: {sum(r['worse'] for r in worse if r['config'] == 'default')} of "
                 f"{sum(r['config'] == 'default' for r in rows)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=None, help="default: every continuous registry target")
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--chains", type=int, default=32, help="independent chains (replicates) per run")
    parser.add_argument("--steps", type=int, default=2000, help="counted steps per chain")
    parser.add_argument("--warmup", type=int, default=1000, help="warm-up steps on pi for every run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for name in args.targets or continuous_targets():
        rows += target_rows(name, targets.get(name), args)
        if args.out:
            with open(args.out, "w") as handle:
                json.dump({"settings": vars(args), "rows": rows}, handle, indent=1)
    print(format_rows(rows))
    return 0


def target_rows(name: str, target: targets.Target, args: argparse.Namespace) -> list[dict]:
    """Every kernel x configuration x alpha row of one target (`args`: the command line's kernels, configs,
    alphas, chains, steps, warm-up and seed), each against its base kernel with the same keys and starts."""
    starts = (target.sample(jax.random.key(args.seed + 1), args.chains) if target.sample is not None
              else target.initial_position(jax.random.key(args.seed + 1), args.chains))
    rows = []
    for kernel in args.kernels:
        start = time.perf_counter()
        base = measure(target, kernel, "base", 0.0, starts, args)
        for config in args.configs:
            for alpha in args.alphas:
                rows.append(row(name, kernel, config, alpha, measure(target, kernel, config, alpha, starts, args),
                                base, target.ground_truth))
        print(f"# {name} {kernel}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        jax.clear_caches()  # one process compiling ~200 programs otherwise exhausts the kernel's memory maps
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
