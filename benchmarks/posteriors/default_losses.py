"""Where the default SRMC loses to its base kernel: curved bananas at several scales and volatility models.

    nice -n 10 python benchmarks/posteriors/default_losses.py --targets banana_k10 --kernels hmc --seeds 4
    nice -n 10 python benchmarks/posteriors/default_losses.py --targets banana_k0.5 banana_k2 banana_k5 banana_k10 \
        --variants default exact_reference no_trust_region --seeds 4

Targets: ``banana_k<k>``: x1 ~ N(0, s^2), x2 | x1 ~ N(b (x1^2 - s^2), 1) with b = 0.5 and s = sqrt(2 k), so that
k = b s^2 is the curved spread of x2 in units of its conditional sd (the registry's banana: k = 0.5; Haario et
al.'s: k = 10), exact moments; ``garch11`` and ``stochastic_volatility`` from `models` with their stored NUTS
references (moments of the unconstrained coordinates). Chains start from exact draws (bananas) or NumPyro's init
(volatility models), then every run gets the default 1000-step warm-up of the base kernel.

Per (target, kernel, variant, alpha), pooled over seeds (each seed: its own starts and keys, shared by the base
run and the SRMC runs): the per-chain MSE of the running mean of x (averaged over coordinates) of the base kernel
over SRMC's, with a delta-method standard error over the seeds x chains; the share of SRMC's MSE that is squared
bias (mean over all chains minus truth, squared, over the MSE); the alpha share the warm-up's prediction left
(1: alpha ran as asked), the predicted relative variance at alpha (`srmc.method.prediction`; < 1: SRMC predicted
better) and its variance floor; and the base chains' integrated autocorrelation time of x (max over coordinates,
from stored draws) next to the prediction's batch length (half the warm-up / 10).

Variants of SRMC (the diagnosis; none is the default): ``default`` (``srmc.wrap(kernel, alpha=a)``),
``exact_reference`` (the bounded tilt's m and c from the true mean and sd instead of the warm-up's),
``no_trust_region``, ``no_search`` (alpha as given), ``long_warmup`` (4000 warm-up steps for base and SRMC:
batches of 200 steps), ``pooled_warmup`` (``Warmup(pooled_step_size=True)``: one step size for all chains from
the warm-up's start, so that its second half runs one fixed-step kernel per window), ``adapting_warmup`` (the
warm-up before issue 32, for base and SRMC: step size and mass adapted throughout, the prediction measured while
they adapt, diagonal mass; the default now freezes them over the measurement phase, the second half),
``per_coordinate`` (the bounded tilt per coordinate of x even where the kernel's mass is dense:
``tilt=srmc.tilt.BOUNDED._replace(follows_dense_mass=False)``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.method import prediction

sys.path.insert(0, str(pathlib.Path(__file__).parent))

KERNELS = {"mala": (samplers.mala, {}), "hmc": (samplers.hmc, {"num_integration_steps": 10})}
VARIANTS = ("default", "exact_reference", "no_trust_region", "no_search", "long_warmup", "pooled_warmup",
            "adapting_warmup", "per_coordinate")


class Problem(NamedTuple):
    """A target with what the comparison needs: true mean and sd of the unconstrained coordinates, starts."""

    target: targets.Target
    mean: np.ndarray
    sd: np.ndarray
    starts: Any  # (key, num) -> (num, dim)


def banana(k: float) -> Problem:
    """The banana with curved spread k (module doc), exact moments and exact starting draws."""
    sigma1 = float(np.sqrt(2.0 * k))
    target = targets.get("banana", dim=2, sigma1=sigma1, b=0.5, sigma2=1.0)
    truth = target.ground_truth
    return Problem(target, np.asarray(truth.mean), np.sqrt(np.asarray(truth.variance)), target.sample)


def reference_problem(name: str) -> Problem:
    """A suite model with its stored NUTS reference as the truth; chains from NumPyro's init."""
    from make_references import load_reference
    from models import build_target

    target = build_target(name)
    stored = load_reference(name)["unconstrained"]
    return Problem(target, np.asarray(stored["mean"]), np.asarray(stored["sd"]), target.initial_position)


def problem(name: str) -> Problem:
    if name.startswith("banana_k"):
        return banana(float(name[len("banana_k"):]))
    return reference_problem(name)


def algorithm_for(kernel: Any, params: dict, alpha: float, variant: str, truth: Problem) -> srmc.Algorithm:
    """The base kernel (alpha 0) or SRMC in `variant` (module doc)."""
    if alpha == 0:
        return srmc.base(kernel, **params)
    options: dict = {}
    if variant == "exact_reference":
        options["tilt_reference"] = (jnp.asarray(truth.mean, jnp.float32), jnp.asarray(truth.sd, jnp.float32))
    elif variant == "no_trust_region":
        options["trust_region"] = None
    elif variant == "no_search":
        options["alpha_search"] = False
    elif variant == "per_coordinate":
        options["tilt"] = srmc.tilt.BOUNDED._replace(follows_dense_mass=False)
    return srmc.wrap(kernel, alpha=alpha, **options, **params)


def integrated_autocorrelation_time(draws: np.ndarray) -> float:
    """Max over coordinates of chains x draws / ESS (NumPyro's multi-chain ESS) of ``(chains, draws, d)``."""
    from numpyro.diagnostics import effective_sample_size

    ess = np.asarray(effective_sample_size(np.asarray(draws, np.float64)))
    return float(np.max(draws.shape[0] * draws.shape[1] / ess))


class Measured(NamedTuple):
    """Per-chain squared errors (seeds x chains), chain means, and what the warm-up said, for one configuration."""

    errors: list
    estimates: list
    shares: list
    predicted: list
    floors: list
    iat: list


def measure(truth: Problem, kernel_name: str, variant: str, alphas: list[float], seeds: int, chains: int,
            steps: int) -> dict[float, Measured]:
    """Run base and SRMC at every alpha for every seed; per alpha the measurements."""
    kernel, params = KERNELS[kernel_name]
    warmup = srmc.Warmup(4000 if variant == "long_warmup" else 1000, pooled_step_size=variant == "pooled_warmup")
    if variant == "adapting_warmup":  # the warm-up before issue 32: adapting while it measures, diagonal mass
        warmup = warmup._replace(frozen_measurement=False, mass="diagonal")
    found = {alpha: Measured([], [], [], [], [], []) for alpha in [0.0, *alphas]}
    algorithms = {0.0: algorithm_for(kernel, params, 0.0, variant, truth)}
    for alpha in alphas:  # parameters as data: every alpha runs the same compiled program
        algorithms[alpha] = algorithm_for(kernel, params, alpha, variant, truth)
    for seed in range(seeds):
        key_start, key_run = jax.random.split(jax.random.key(1000 + seed))
        starts = truth.starts(key_start, chains)
        for alpha, algorithm in algorithms.items():
            result = srmc.sample(key_run, algorithm, truth.target, steps, chains, initial_position=starts,
                                 warmup=warmup, options=srmc.RunOptions(thin=1 if alpha == 0 else None, progress=False))
            estimates = np.asarray(result.chain_estimates["x"], np.float64)
            record = found[alpha]
            record.errors.append(np.mean((estimates - truth.mean) ** 2, axis=1))
            record.estimates.append(estimates)
            if alpha == 0:
                record.iat.append(integrated_autocorrelation_time(result.draws))
                continue
            record.shares.append(float(np.mean(result.counters.get("alpha_factor", 1.0))))
            stats = result.warmup_stats
            curve = None if stats is None else stats.extra.get("predicted_variance")
            record.predicted.append(float("nan") if curve is None else
                                    float(np.interp(np.log(alpha), np.log(prediction.ALPHA_GRID), np.asarray(curve))))
            floor = None if stats is None else stats.extra.get("variance_floor")
            record.floors.append(float("nan") if floor is None else float(np.mean(np.asarray(floor))))
    return found


def mse_ratio(base: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """MSE(base) / MSE(other) over per-chain errors with a delta-method standard error."""
    (m0, s0), (m1, s1) = [(v.mean(), v.std(ddof=1) / np.sqrt(v.size)) for v in (base, other)]
    ratio = m0 / m1
    return ratio, ratio * np.hypot(s0 / m0, s1 / m1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=["banana_k0.5", "banana_k2", "banana_k5", "banana_k10"])
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--variants", nargs="*", default=["default"], choices=list(VARIANTS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    print("| target | kernel | variant | alpha | MSE ratio base/SRMC ± SE | bias^2 share | alpha share | "
          "predicted rel. var | floor | base IAT / batch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worse = total = 0
    for name in args.targets:
        truth = problem(name)
        for kernel_name in args.kernels:
            for variant in args.variants:
                start = time.time()
                found = measure(truth, kernel_name, variant, args.alphas, args.seeds, args.chains, args.steps)
                base_errors = np.concatenate(found[0.0].errors)
                batch = (4000 if variant == "long_warmup" else 1000) // 2 // prediction.PREDICTION_BATCHES
                iat = float(np.mean(found[0.0].iat))
                for alpha in args.alphas:
                    record = found[alpha]
                    errors = np.concatenate(record.errors)
                    ratio, stderr = mse_ratio(base_errors, errors)
                    bias = np.concatenate(record.estimates).mean(axis=0) - truth.mean
                    bias_share = float(np.mean(bias**2) / errors.mean())
                    print(f"| {name} | {kernel_name} | {variant} | {alpha:g} | {ratio:.2f} ± {stderr:.2f} | "
                          f"{bias_share:.2f} | {np.mean(record.shares):.2f} | {np.nanmean(record.predicted):.2f} | "
                          f"{np.nanmean(record.floors):.2f} | {iat:.0f} / {batch} |", flush=True)
                    total += 1
                    worse += ratio + 2 * stderr < 1
                print(f"# {name} {kernel_name} {variant}: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    print(f"\nSRMC rows worse than their base kernel (MSE ratio + 2 SE < 1): {worse} of {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
