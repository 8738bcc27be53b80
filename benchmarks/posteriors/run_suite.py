"""The posterior suite: srmc's base kernels and the default SRMC on ten real-world-style models, against NUTS.

    nice -n 10 python benchmarks/posteriors/run_suite.py                       # 10 models x {mala, hmc, nuts}
    python benchmarks/posteriors/run_suite.py --models garch11 --kernels nuts --chains 4 --steps 50 --warmup 50
    nice -n 10 python benchmarks/posteriors/run_suite.py --models correlated_regression --mass dense   # dense M^-1
    nice -n 10 python benchmarks/posteriors/run_suite.py --models gp_poisson --kernels hmc --quick-start
    nice -n 10 python benchmarks/posteriors/run_suite.py --models gp_poisson --kernels mala hmc --precision float32

For each model of `models.MODELS` and each kernel (srmc's MALA and HMC, BlackJAX's NUTS through srmc), two runs
with the same key, the same starts (NumPyro's init_to_uniform: U(-2, 2) unconstrained) and the same warm-up
(`srmc.Warmup(1000)`, srmc's default: step size and inverse mass (mass="auto") adapted over its first half,
measured with both frozen over its second): the base kernel (``srmc.base``) and the default SRMC
(``srmc.wrap(kernel, alpha=10)``), 32 chains x 2000 steps. Per row:

- max |z| of the estimated means against the stored NUTS reference (``references/<model>.json``), over the
  unconstrained coordinates and the constrained sites, z = (est - ref) / sqrt(se_est^2 + se_ref^2), se_est the
  spread of the 32 chains' means / sqrt(32) (the MCSE srmc reports);
- lost chains (a chain whose own mean of some unconstrained coordinate lies more than `LOST_SDS` reference sds
  from the reference mean) and frozen chains (acceptance below 1%);
- the health report's warning codes (stored draws, thin 10, so R-hat and ESS are checked);
- on SRMC rows: the variance ratio base / SRMC of the chains' means of x (averaged over coordinates) with its
  delta-method standard error (`srmc.tools.benchmark.variance_ratio_with_stderr`), and alpha's share the
  warm-up's prediction left (1: alpha = 10 ran; 0: the base kernel ran);
- wall time of the run (warm-up, compilation and sampling).

Precision: float32, JAX's default, except for models that declare they need float64 (`PosteriorModel.float64`,
as their users would run them: the latent GP, whose float32 Cholesky factor makes log pi rough); ``--precision``
overrides it. The references are float64 throughout.

The last line counts the rows within 4 standard errors of the reference with no lost chain.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any, NamedTuple

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.tools.benchmark import variance_ratio_with_stderr

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from make_references import load_reference  # noqa: E402
from models import MODELS, build_target  # noqa: E402

LOST_SDS = 3.0  # a chain whose mean is this many posterior sds from the reference mean is not sampling pi
WITHIN_Z = 4.0


def kernels() -> dict[str, Any]:
    """The base kernels of the suite: srmc's MALA and HMC (10 leapfrog steps), BlackJAX's NUTS."""
    import blackjax

    return {"mala": (samplers.mala, {}), "hmc": (samplers.hmc, {"num_integration_steps": 10}),
            "nuts": (blackjax.nuts, {})}


def run_one(key: jax.Array, kernel: Any, params: dict, alpha: float, target: targets.Target, num_steps: int,
            num_chains: int, warmup: int, mass: str = "auto", quick_start: bool = False) -> srmc.SampleResult:
    """One run with today's `srmc.sample` API: the base kernel (alpha 0) or the default SRMC at `alpha`, the same
    warm-up for both (inverse mass `mass`, `quick_start`), running means of the constrained sites, draws thinned
    by 10 for R-hat and ESS."""
    algorithm = srmc.base(kernel, **params) if alpha == 0 else srmc.wrap(kernel, alpha=alpha, **params)
    return srmc.sample(key, algorithm, target, num_steps, num_chains,
                       warmup=srmc.Warmup(warmup, mass=mass, quick_start=quick_start),
                       functions=targets.constrained_functions(target),
                       options=srmc.RunOptions(thin=10, progress=False))


class Row(NamedTuple):
    """What the suite prints for one run."""

    max_z: float
    worst: str
    lost: int
    frozen: int
    codes: tuple[str, ...]
    seconds: float


def z_scores(result: srmc.SampleResult, reference: dict, target: targets.Target) -> dict[str, np.ndarray]:
    """z of the run's means against the reference: the unconstrained coordinates ("x") and every site."""
    unconstrained = reference["unconstrained"]
    scores = {"x": (result.mean - np.asarray(unconstrained["mean"]))
              / np.hypot(result.mcse("x"), np.asarray(unconstrained["mean_stderr"]))}
    for site, moments in targets.constrained_moments(target, result).items():
        stored = reference["sites"][site]
        scores[site] = (moments.mean - np.asarray(stored["mean"])) / np.hypot(moments.mean_stderr,
                                                                              np.asarray(stored["mean_stderr"]))
    return scores


def describe(result: srmc.SampleResult, reference: dict, target: targets.Target, seconds: float) -> Row:
    """The row of one run (see the module doc)."""
    scores = z_scores(result, reference, target)
    finite = {name: np.where(np.isfinite(z), np.abs(z), np.inf) for name, z in scores.items()}
    worst = max(finite, key=lambda name: float(np.max(finite[name])))
    unconstrained = reference["unconstrained"]
    distance = np.abs(result.chain_estimates["x"] - np.asarray(unconstrained["mean"])) / np.asarray(
        unconstrained["sd"])
    lost = int(np.sum(~np.all(distance <= LOST_SDS, axis=1)))
    frozen = int(np.sum(np.asarray(result.acceptance_rate) < 0.01))
    codes = tuple(sorted({warning.code for warning in result.warnings}))
    return Row(float(np.max(finite[worst])), worst, lost, frozen, codes, seconds)


def ratio_text(base: srmc.SampleResult, wrapped: srmc.SampleResult) -> str:
    """Variance ratio base / SRMC of the chains' means of x, +- its standard error."""
    ratio, stderr = variance_ratio_with_stderr(base.chain_estimates["x"], wrapped.chain_estimates["x"])
    return f"{ratio:.2f} ± {stderr:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--kernels", nargs="*", default=["mala", "hmc", "nuts"], choices=["mala", "hmc", "nuts"])
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mass", default="auto", choices=["auto", "diagonal", "dense"],
                        help="the warm-up's inverse mass matrix (srmc.Warmup(mass=...)); srmc's default: auto")
    parser.add_argument("--quick-start", action="store_true", dest="quick_start",
                        help="srmc.Warmup(quick_start=True): clipped Adam steps towards the bulk before the warm-up")
    parser.add_argument("--precision", default="model", choices=["model", "float32", "float64"],
                        help="model (default): float32, except the models that declare they need float64 "
                             "(models.PosteriorModel.float64: gp_poisson); float32 or float64: every model so")
    args = parser.parse_args(argv)
    available = kernels()
    print("| model | kernel | run | max abs z (where) | lost / frozen chains | warnings | var ratio base/SRMC | "
          "alpha share | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    good = total = 0
    for name in args.models:
        with jax.enable_x64(args.precision == "float64" or (args.precision == "model" and MODELS[name].float64)):
            rows = run_model(name, args, available)
        total += len(rows)
        good += sum(row.max_z < WITHIN_Z and row.lost == 0 for row in rows)
    print(f"\nrows within {WITHIN_Z:g} standard errors of the reference with no lost chain: {good} of {total}")
    return 0


def run_model(name: str, args: argparse.Namespace, available: dict) -> list[Row]:
    """Print (and return) the rows of one model: base and SRMC with each of ``args.kernels``."""
    target, reference = build_target(name), load_reference(name)
    key, rows = jax.random.key(args.seed), []
    for kernel_name in args.kernels:
        kernel, params = available[kernel_name]
        results = {}
        for label, alpha in (("base", 0.0), (f"srmc a={args.alpha:g}", args.alpha)):
            start = time.time()
            result = run_one(key, kernel, params, alpha, target, args.steps, args.chains, args.warmup, args.mass,
                             args.quick_start)
            row = describe(result, reference, target, time.time() - start)
            results[label] = result
            ratio = ratio_text(results["base"], result) if alpha else "-"
            share = (f"{float(np.mean(result.counters['alpha_factor'])):.2f}"
                     if alpha and "alpha_factor" in result.counters else "-")
            print(f"| {name} | {kernel_name} | {label} | {row.max_z:.1f} ({row.worst}) | {row.lost} / "
                  f"{row.frozen} | {' '.join(row.codes) or '-'} | {ratio} | {share} | {row.seconds:.0f} |",
                  flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
