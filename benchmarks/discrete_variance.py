"""What alpha buys on discrete targets, and at what cost: SRMC vs its base kernel, per score, at equal work.

    python benchmarks/discrete_variance.py --target ising [--kernel gibbs] [--steps 8000] [--replicates 128]
    python benchmarks/discrete_variance.py --target rbm --alphas 0,1,10,100 --scores barker,bounded,ratio

R independent replicates (vmapped chains) start from exact draws; the estimator is each chain's running mean of
x (site marginals P(x_i = 1), averaged over sites: the magnetisation's ingredients). Per configuration:

- MSE against the exact marginals, with its standard error over replicates, and `bias z`, the largest
  |mean over replicates - truth| / standard error over sites (a biased configuration shows z >> 4);
- `ratio`: base MSE / MSE at the same number of steps;
- `evals`: target evaluations per step (log densities + scores + their gradients, counted by `srmc.evaluations`;
  one score evaluation costs about one log density on these targets: both are a matrix-vector product);
- `ratio@evals`: the ratio at the same number of target evaluations, ratio x evals(base) / evals(SRMC) (the base
  kernel given the extra evaluations as extra steps, MSE ~ 1/n); `ratio@time`: the same with wall time.

The last line names the best configuration by ratio at equal evaluations.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from srmc import samplers, targets
from srmc.targets.base import spread_stderr
from srmc.tools.benchmark import BenchmarkRun, variance_benchmark

TARGETS = {"ising": {"side": 3, "coupling": 0.15, "field": 0.1}, "rbm": {}, "rbm_digits": {}, "potts": {},
           "factorial_hmm": {}}
KERNELS = {"gibbs": (samplers.gibbs, {}), "gwg": (samplers.gwg, {}), "metropolis": (samplers.discrete_metropolis, {}),
           "dmala": (samplers.dmala, {"step_size": 1.0})}


def evaluations(run: BenchmarkRun) -> float:
    """Target evaluations per step: log densities, scores and gradients of either."""
    row = run.row
    return row.logdensity_per_step + row.gradient_per_step + row.hessian_vector_per_step


def bias_z(run: BenchmarkRun, truth: np.ndarray) -> float:
    """Largest |mean over replicates - truth| / standard error over sites."""
    estimates = run.estimates
    stderr = spread_stderr(estimates)
    return float(np.max(np.abs(estimates.mean(axis=0) - truth) / np.maximum(stderr, 1e-300)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ising", choices=sorted(TARGETS))
    parser.add_argument("--kernel", default="gibbs", choices=sorted(KERNELS))
    parser.add_argument("--alphas", default="0,1,10,100")
    parser.add_argument("--scores", default="barker,bounded,ratio")
    parser.add_argument("--tilts", default="score")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--replicates", type=int, default=128)
    parser.add_argument("--alpha-warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kernel, kernel_params = KERNELS[args.kernel]
    alphas = [float(a) for a in args.alphas.split(",")]
    rows = []
    for number, score in enumerate(args.scores.split(",")):
        target = targets.get(args.target, score=score, **TARGETS[args.target])
        config_alphas = alphas if number == 0 else [a for a in alphas if a != 0]  # the base kernel runs once
        report = variance_benchmark(
            jax.random.key(args.seed), target, kernel, kernel_params, config_alphas, num_steps=args.steps,
            num_replicates=args.replicates, tilts=args.tilts.split(","), alpha_warmup=args.alpha_warmup,
            count_steps=1,
        )
        rows += [(score if run.tilt else "-", run) for run in report.runs]
    truth = np.asarray(report.truth_mean)
    base = next(run for _, run in rows if run.tilt is None)
    print(f"{target.name.split('(')[0]} ({args.target} {TARGETS[args.target] or 'defaults'}), {args.kernel}, "
          f"{args.replicates} replicates x {args.steps} steps, alpha warm-up {args.alpha_warmup}")
    print(f"{'score':<9}{'tilt':<8}{'alpha':>6}{'MSE':>11}{'+/- se':>9}{'bias z':>8}{'ratio':>7}{'evals':>7}"
          f"{'ratio@evals':>12}{'ratio@time':>11}")
    best = None
    for score, run in rows:
        ratio = base.row.mse / run.row.mse
        at_evaluations = ratio * evaluations(base) / evaluations(run)
        at_time = ratio * base.row.seconds_per_step / run.row.seconds_per_step
        print(f"{score:<9}{run.tilt or 'base':<8}{run.row.alpha:>6g}{run.row.mse:>11.3e}{run.row.mse_stderr:>9.1e}"
              f"{bias_z(run, truth):>8.1f}{ratio:>7.2f}{evaluations(run):>7.0f}{at_evaluations:>12.2f}{at_time:>11.2f}")
        if run.tilt and bias_z(run, truth) < 4 and (best is None or at_evaluations > best[0]):
            best = (at_evaluations, score, run.tilt, run.row.alpha, ratio)
    if best is None:
        print("no unbiased SRMC configuration (bias z < 4)")
    else:
        print(f"best unbiased: {best[1]} score, {best[2]} tilt, alpha {best[3]:g}: MSE ratio {best[4]:.2f} at equal "
              f"steps, {best[0]:.2f} at equal target evaluations")


if __name__ == "__main__":
    main()
