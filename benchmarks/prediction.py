"""Is the warm-up's prediction of what alpha buys right? Predicted vs measured variance ratio, target by target.

    python benchmarks/prediction.py                          # registry + held-out targets, mala and hmc, alpha 10
    python benchmarks/prediction.py --targets banana_6d --kernels hmc --alphas 1 10
    python benchmarks/prediction.py --tilt second_order      # the second-order tilt's prediction

For each target x kernel x alpha: the base kernel and SRMC's bounded tilt (or ``--tilt second_order``) at a
*constant* alpha with the prediction switched off (``srmc.wrap(kernel, alpha=a, tilt=..., alpha_ramp=0,
alpha_search=False)``: the setting the linear-response formula describes), same keys, starts and warm-up.
Predicted: 1 / the warm-up's relative variance at alpha (`srmc.method.prediction`, interpolated on its grid; a
mean over coordinates of Var_SRMC / Var_base). Measured: the same mean over coordinates of MSE_base / MSE_SRMC per
coordinate, inverted (so both are "mean relative variance"), with its delta-method SE. The last line: the share
of rows where prediction and measurement agree on the side of 1 (gain or loss) among rows where the measurement is
clear of 1 by 2 SE, and the rank correlation.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
from efficacy import KERNELS, continuous_targets
from held_out import HELD_OUT

import srmc
from srmc import targets
from srmc.method import prediction

DEFAULT_TARGETS = ("banana", "correlated_gaussian", "eight_schools", "ill_conditioned_gaussian", "synthetic_logistic",
                   "three_mode_mixture", "funnel", *HELD_OUT)


def relative_variance(base: np.ndarray, srmc_estimates: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean over coordinates of MSE_SRMC,i / MSE_base,i and its SE (delta method over chains, per coordinate)."""
    a, b = (base - truth) ** 2, (srmc_estimates - truth) ** 2
    n = a.shape[0]
    ratios = b.mean(0) / a.mean(0)
    # var(mean b / mean a) ~ (var b / ma^2 + mb^2 var a / ma^4 - 2 mb cov(a, b) / ma^3) / n, per coordinate
    ma, mb = a.mean(0), b.mean(0)
    cov = ((a - ma) * (b - mb)).sum(0) / (n - 1)
    var = (b.var(0, ddof=1) / ma**2 + mb**2 * a.var(0, ddof=1) / ma**4 - 2 * mb * cov / ma**3) / n
    return float(ratios.mean()), float(np.sqrt(np.sum(var)) / ratios.size)


def rows_for(name: str, target: targets.Target, args: argparse.Namespace) -> list[dict]:
    """One row per kernel x alpha on `target`."""
    starts = (target.sample(jax.random.key(args.seed + 1), args.chains) if target.sample is not None
              else target.initial_position(jax.random.key(args.seed + 1), args.chains))
    truth = np.asarray(target.ground_truth.mean, np.float64)

    def run(algorithm):
        return srmc.sample(jax.random.key(args.seed), algorithm, target, args.steps, args.chains,
                           initial_position=starts, warmup=args.warmup, options=srmc.RunOptions(progress=False))

    rows = []
    for kernel in args.kernels:
        module, params = KERNELS[kernel]
        base = np.asarray(run(srmc.base(module, **params)).chain_estimates["x"], np.float64)
        for alpha in args.alphas:
            # the curve from a default run's warm-up (the same warm-up: same keys), the measurement without it
            curve = run(srmc.wrap(module, alpha=alpha, tilt=args.tilt, **params)).warmup_stats.extra.get("predicted_variance")
            fixed = run(srmc.wrap(module, alpha=alpha, tilt=args.tilt, alpha_ramp=0, alpha_search=False, **params))
            measured, se = relative_variance(base, np.asarray(fixed.chain_estimates["x"], np.float64), truth)
            predicted = (float("nan") if curve is None else  # a warm-up too short to predict
                         float(np.interp(np.log(alpha), np.log(prediction.ALPHA_GRID), np.asarray(curve))))
            rows.append({"target": name, "kernel": kernel, "alpha": alpha, "predicted": predicted,
                         "measured": measured, "measured_se": se})
        jax.clear_caches()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=list(DEFAULT_TARGETS))
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[10.0])
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tilt", default="bounded", choices=["bounded", "second_order"])
    args = parser.parse_args(argv)
    registry = set(continuous_targets())
    rows = []
    print("| target | kernel | alpha | predicted Var_SRMC / Var_base | measured | agree |")
    print("|---|---|---|---|---|---|")
    for name in args.targets:
        target = HELD_OUT[name]() if name in HELD_OUT else targets.get(name) if name in registry else None
        if target is None:
            raise SystemExit(f"unknown target {name!r}: a continuous registry target or one of {sorted(HELD_OUT)}")
        for row in rows_for(name, target, args):
            clear = abs(row["measured"] - 1.0) > 2 * row["measured_se"]
            row["agree"] = (row["predicted"] < 1.0) == (row["measured"] < 1.0) if clear else None
            rows.append(row)
            print(f"| {row['target']} | {row['kernel']} | {row['alpha']:g} | {row['predicted']:.3g} | "
                  f"{row['measured']:.3g} ± {row['measured_se']:.2g} | "
                  f"{'-' if row['agree'] is None else 'yes' if row['agree'] else '**no**'} |", flush=True)
    clear = [r for r in rows if r["agree"] is not None]
    predicted, measured = (np.array([r[key] for r in rows]) for key in ("predicted", "measured"))
    ranks = [np.argsort(np.argsort(values)) for values in (predicted, measured)]
    spearman = float(np.corrcoef(*ranks)[0, 1]) if len(rows) > 2 else float("nan")
    print(f"\nside of 1 agrees: {sum(r['agree'] for r in clear)} of {len(clear)} clear rows "
          f"({len(rows) - len(clear)} within 2 SE of 1); rank correlation predicted vs measured {spearman:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
