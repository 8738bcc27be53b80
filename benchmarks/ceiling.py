"""What no alpha can buy: the first-order ceiling on SRMC's gain, from long runs of the base kernel alone.

    python benchmarks/ceiling.py                                # the issue's >= 3x targets + held-out, mala and hmc
    python benchmarks/ceiling.py --targets banana --kernels hmc --steps 16000

SRMC's history is the running mean of the score, so to first order its estimate of E[x] is the base chain's,
corrected by the score with some coefficient K (`srmc.method.prediction`, module doc): whatever the tilt and alpha,
its variance is at least what is left of the base kernel's long-run variance of x after regressing x on s. This
script measures that residual from batch means of x and s along long base runs (`prediction.variance_floor`, the
same function the warm-up uses on its shorter window) and prints the ceiling on the efficacy table's scale:
sum_i Var_base(xbar_i) / sum_i floor_i Var_base(xbar_i) (MSE averaged over coordinates), with a bootstrap SE over
chains; next to it the default's measured ratio at alpha = 10 from ``docs/benchmarks/efficacy.json`` (registry
targets). A ceiling below 3 means no score-history SRMC reaches 3x there in the large-n
limit; a measured ratio above its ceiling is a nonlinear effect (repellence moving chains between modes).

"ceiling, score+diagonal features": the same regression with 1 + (x_i - m_i) s_i added to the score (Stein features
no SRMC tilt uses: what a richer history could reach). The last two columns do without SRMC: the base kernel's own
draws corrected after the fact by the score (`srmc.tools.control_variates`, features "score"), and by the score and
1 + (x_i - m_i) s_i ("score+diagonal"), measured like the efficacy table (MSE of the mean of x against the truth,
base / corrected, +- SE) on the first `--short-chains` chains and `--short-steps` steps of the same runs.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from efficacy import KERNELS
from held_out import HELD_OUT

import srmc
from srmc import targets
from srmc.method import prediction
from srmc.tools import control_variates
from srmc.tools.benchmark import mse_ratio_with_stderr

DEFAULT_TARGETS = ("banana", "correlated_gaussian", "eight_schools", "ill_conditioned_gaussian", "three_mode_mixture",
                   "funnel", "banana_6d", "student_t", "gumbel")
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def batch_means(values: np.ndarray, batch: int) -> np.ndarray:
    """``(chains, steps, d)`` -> ``(chains, steps // batch, d)`` means of consecutive batches."""
    chains, steps, dim = values.shape
    count = steps // batch
    return values[:, : count * batch].reshape(chains, count, batch, dim).mean(2)


def ceiling(batch_x: np.ndarray, batch_s: np.ndarray) -> tuple[float, np.ndarray]:
    """sum_i Var(xbar_i) / sum_i floor_i Var(xbar_i) and the per-coordinate floor, from ``(chains, batches, d)``
    batch means of x and of the regressors (the score, or any Stein features ``(chains, batches, p)``)."""
    flat_x, flat_s = (np.asarray(v, np.float64).reshape(-1, v.shape[-1]) for v in (batch_x, batch_s))
    floor = np.asarray(prediction.variance_floor(jnp.asarray(flat_x), jnp.asarray(flat_s)))
    base = flat_x.var(axis=0, ddof=1)
    return float(np.sum(base) / np.sum(floor * base)), floor


def measured_ratios() -> dict[tuple[str, str], tuple[float, float]]:
    """(target, kernel) -> the default's (ratio, SE) at alpha = 10 from the efficacy table, if it was written."""
    path = DOCS / "efficacy.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    return {(row["target"], row["kernel"]): (row["ratio"], row["ratio_se"]) for row in rows
            if row["config"] == "default" and float(row["alpha"]) == 10}


def post_hoc_ratio(draws: np.ndarray, scores: np.ndarray, target: targets.Target, features: str,
                   args: argparse.Namespace) -> str:
    """MSE(base) / MSE(base + control variates) of the mean of x on the short run, as text ("-" without truth)."""
    if target.ground_truth is None:
        return "-"
    short = np.s_[: args.short_chains, : args.short_steps]
    corrected = control_variates.control_variate_mean(draws[short], scores[short], features)
    truth = np.asarray(target.ground_truth.mean, np.float64)
    ratio, se = mse_ratio_with_stderr(draws[short].mean(1), corrected.chain_estimates, truth)
    return f"{ratio:.3g} ± {se:.2g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=list(DEFAULT_TARGETS))
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200, help="steps per batch mean")
    parser.add_argument("--bootstrap", type=int, default=50)
    parser.add_argument("--short-chains", type=int, default=32, help="chains of the post-hoc comparison")
    parser.add_argument("--short-steps", type=int, default=2000, help="steps of the post-hoc comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    measured = measured_ratios()
    print("| target | kernel | ceiling ± SE (any alpha, any tilt) | default at alpha 10 (measured) | per-coordinate "
          "floor (min .. max) | ceiling, score+diagonal features | base + score CV | base + score+diagonal CV |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.targets:
        target = HELD_OUT[name]() if name in HELD_OUT else targets.get(name)
        starts = (target.sample(jax.random.key(args.seed + 1), args.chains) if target.sample is not None
                  else target.initial_position(jax.random.key(args.seed + 1), args.chains))
        for kernel in args.kernels:
            module, params = KERNELS[kernel]
            result = srmc.sample(jax.random.key(args.seed), srmc.base(module, **params), target, args.steps,
                                 args.chains, initial_position=starts, warmup=args.warmup, options=srmc.RunOptions(thin=1, progress=False))
            draws = np.asarray(result.draws, np.float64)
            scores = np.asarray(control_variates.scores_of(target, draws), np.float64)
            bx, bs = batch_means(draws, args.batch), batch_means(scores, args.batch)
            value, floor = ceiling(bx, bs)
            diagonal, _ = ceiling(bx, batch_means(control_variates.stein_features(draws, scores, "score+diagonal"),
                                                  args.batch))
            rng = np.random.default_rng(args.seed)
            boots = [ceiling(bx[pick], bs[pick])[0] for pick in
                     (rng.integers(0, args.chains, args.chains) for _ in range(args.bootstrap))]
            ratio = measured.get((name, kernel))
            shown = "-" if ratio is None else f"{ratio[0]:.3g} ± {ratio[1]:.2g}"
            ceiling_text = f"{value:.3g} ± {np.std(boots, ddof=1):.2g}" if value < 1e4 else "> 1e4 (x linear in s)"
            post_hoc = [post_hoc_ratio(draws, scores, target, features, args)
                        for features in control_variates.FEATURES]
            print(f"| {name} | {kernel} | {ceiling_text} | {shown} | {floor.min():.2g} .. {floor.max():.2g} | "
                  f"{diagonal:.3g} | " + " | ".join(post_hoc) + " |", flush=True)
            jax.clear_caches()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
