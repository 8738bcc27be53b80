"""Walk-jump sampling against MALA, HMC, ULA and SRMC at an equal budget of gradient evaluations per sample.

    python benchmarks/walk_jump.py                      # everything: table, paper claim, guidance, estimator
    python benchmarks/walk_jump.py --only claim table   # some sections
    python benchmarks/walk_jump.py --samples 200 --quick   # a smoke run (measures nothing)
    python benchmarks/walk_jump.py --only table --walk-jump-only   # rerun walk-jump's rows, keep the baselines'

Protocol. Every method yields one sample per chain: walk-jump one walk per chain (its jump), each MCMC baseline
the final state of a chain run for the same number of target gradient evaluations (warm-up included; HMC's
leapfrog steps and any other evaluation counted by `srmc.evaluations`). Chains are independent, so bootstrap
over chains gives the error bars (+- one bootstrap standard deviation, 100 resamples). Columns:

- ``tv``: total variation 0.5 sum_k |occupancy_k - w_k| of the samples' mode occupancy (each sample assigned to
  its most probable mixture component), against the true weights;
- ``found``: the fraction of modes holding at least half their weight;
- ``spread``: the mean of |x - mu_k|^2 / tr(Sigma_k) over the samples, k each sample's component: 1 under pi
  (for components well apart), below 1 where the samples are too concentrated within their modes;
- ``sw2``: sliced 2-Wasserstein distance to as many exact draws (128 fixed random directions; on the funnel in its
  whitened coordinates (x0 / 3, x_i exp(-x0 / 2)), iid N(0, 1) under pi); ``floor`` is that of a second set of
  exact draws (the value at a perfect sampler: finite-sample noise);
- ``time``: wall seconds of the call, compilation included (one shared 2-core machine: indicative only).

Sections: ``table`` (the registry's mixtures and the funnel), ``claim`` (the paper's tunnelling claim: a two-mode
mixture 0.7 / 0.3 with modes 10 standard deviations apart, every chain started in the heavy mode), ``guidance``
(sigma and M around the default rule), ``estimator`` (the importance-sampled smoothed score's bias against the
closed form), ``estimated`` (walk-jump with that estimate in place of the closed form). Writes the sections it
ran into docs/benchmarks/walk_jump.json (keeping the others, each with its date and machine) and, with the table,
walk_jump.png; the last line is the claim's verdict.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import time
import zlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.method import walk_jump_setup as setup
from srmc.method.smoothing import exact_smoothing, importance_smoothing
from srmc.method.walk_jump import MALA, ULA
from srmc.tools.evaluations import count_evaluations
from srmc.tools.walk_jump import walk_jump

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
NUM_DIRECTIONS, NUM_BOOTSTRAP = 128, 100
HMC_STEPS = 10

TABLE_TARGETS = {  # name -> (registry name, params)
    "two_mode_0.7/0.3_sep10": ("two_component_mixture", {"separation": 10.0, "weights": [0.7, 0.3]}),
    "two_mode_0.7/0.3_sep5": ("two_component_mixture", {"weights": [0.7, 0.3]}),
    "three_mode": ("three_mode_mixture", {}),
    "metastable": ("metastable_mixture", {}),
    "mixture_9": ("gaussian_mixture_9", {}),
    "mixture_25": ("gaussian_mixture_25", {}),
    "funnel_d10": ("funnel", {"dim": 10}),
}
# a second walk-jump row with sigma chosen by hand where the default rule is far off (the funnel: pi's largest
# standard deviation, 9.5, belongs to the mouth; the neck is far narrower), at the default row's M and budget
HAND_TUNED = {"funnel_d10": {"noise_scale": 1.0}}


# --- metrics ----------------------------------------------------------------------------------------------------


def mixture_parameters(target: targets.Target) -> tuple[np.ndarray, np.ndarray]:
    """(means (K, d), covariances (K, d, d)) of a mixture target."""
    if "covariances" in target.params:
        return np.asarray(target.params["means"]), np.asarray(target.params["covariances"])
    weights = np.asarray(target.mixture.weights)
    return np.asarray(target.mixture.means), np.stack([target.mixture.variance * np.eye(target.dim)] * len(weights))


def components(target: targets.Target) -> tuple[Callable, np.ndarray] | None:
    """``(x -> log w_k N(x; mu_k, Sigma_k) for every k, weights)`` of a mixture target, else None."""
    if "covariances" not in target.params and target.mixture is None:
        return None
    means, covs = mixture_parameters(target)
    weights = np.asarray(target.params["weights"]) if "weights" in target.params else np.asarray(
        target.mixture.weights)
    precisions = jnp.asarray(np.linalg.inv(covs))
    log_norms = jnp.asarray(np.log(weights) - 0.5 * np.linalg.slogdet(covs)[1])

    def log_components(x: jax.Array) -> jax.Array:
        diff = x[:, None, :] - jnp.asarray(means)[None]
        return log_norms - 0.5 * jnp.einsum("nki,kij,nkj->nk", diff, precisions, diff)

    return jax.jit(log_components), weights


def sliced_w2(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """sqrt(mean over directions of the 1-D W2^2 between equal-size samples' sorted projections)."""
    pa, pb = np.sort(a @ directions.T, axis=0), np.sort(b @ directions.T, axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))


def funnel_whitened(x: np.ndarray, scale: float) -> np.ndarray:
    """(x0 / scale, x_i exp(-x0 / 2)): iid N(0, 1) coordinates under the funnel (an exact change of variables)."""
    return np.concatenate([x[:, :1] / scale, x[:, 1:] * np.exp(-x[:, :1] / 2)], axis=1)


def comparable(x: np.ndarray, target: targets.Target) -> np.ndarray:
    """Where sliced W2 is computed: the funnel's whitened coordinates (its raw x_i have heavy tails, so raw
    distances measure a few extreme draws), the positions themselves elsewhere."""
    return funnel_whitened(x, target.params["scale"]) if target.name.startswith("funnel") else x


def metrics(samples: np.ndarray, exact: np.ndarray, target: targets.Target, seed: int = 0) -> dict:
    """tv, found, sw2 with bootstrap standard deviations, and the count of non-finite samples dropped."""
    finite = np.all(np.isfinite(samples), axis=1)
    samples = samples[finite]
    with np.errstate(over="ignore"):
        samples_w, exact_w = comparable(samples, target), comparable(exact, target)
    keep = np.all(np.isfinite(samples_w), axis=1)
    samples, samples_w = samples[keep], samples_w[keep]
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(NUM_DIRECTIONS, target.dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    mix = components(target)
    exact_w = exact_w[: len(samples)]

    labels, spreads = within_mode(samples, target, mix)

    def one(rows: np.ndarray) -> tuple:
        sw2 = sliced_w2(samples_w[rows], exact_w, directions)
        if mix is None:
            return sw2, np.nan, np.nan, np.nan
        occ = np.bincount(labels[rows], minlength=len(mix[1])) / len(rows)
        return sw2, 0.5 * np.abs(occ - mix[1]).sum(), np.mean(occ >= mix[1] / 2), spreads[rows].mean()

    point = one(np.arange(len(samples)))
    boot = np.array([one(rng.integers(0, len(samples), len(samples))) for _ in range(NUM_BOOTSTRAP)])
    spread = boot.std(axis=0)
    return {"sw2": point[0], "sw2_se": spread[0], "tv": point[1], "tv_se": spread[1], "found": point[2],
            "found_se": spread[2], "spread": point[3], "spread_se": spread[3],
            "dropped_nonfinite": int((~finite).sum() + (~keep).sum())}


def within_mode(samples: np.ndarray, target: targets.Target, mix: tuple | None) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's most probable component k and |x - mu_k|^2 / tr(Sigma_k) (mean 1 under pi when the
    components are well apart: the ``spread`` column, where walk-jump's shrinkage at finite M shows)."""
    if mix is None:
        return np.zeros(len(samples), int), np.full(len(samples), np.nan)
    labels = np.asarray(jnp.argmax(mix[0](jnp.asarray(samples)), axis=1))
    means, covs = mixture_parameters(target)
    return labels, np.sum((samples - means[labels]) ** 2, axis=1) / np.trace(covs, axis1=1, axis2=2)[labels]


# --- the samplers, at an equal budget ---------------------------------------------------------------------------


def mcmc_final_positions(key: jax.Array, method: str, target: targets.Target, num_chains: int, budget: int,
                         initial_position: Any = None, ula_step: float | None = None) -> tuple:
    """(final positions, seconds, gradient evaluations per chain, adapted parameters) of `num_chains` chains of
    today's `srmc.sample` given `budget` gradient evaluations each (the first half warm-up where the kernel has
    something to tune)."""
    algorithm, counted = baseline(method, None, ula_step), baseline(method, 0.1, ula_step)
    position = jnp.zeros(target.dim) if initial_position is None else jnp.asarray(initial_position)
    per_step = max(count_evaluations(counted, target, position).gradient, 1.0)  # per step, by tracing
    num_steps = max(int(budget // per_step), 2)
    warmup = num_steps // 2 if algorithm.kernel.spec.tuning is not None else 0
    start = time.perf_counter()
    result = srmc.sample(key, algorithm, target, num_steps=num_steps - warmup, num_chains=num_chains,
                         warmup=warmup, initial_position=initial_position, options=srmc.RunOptions(progress=False))
    positions = np.asarray(algorithm.position(result.final_state), np.float64)
    return positions, time.perf_counter() - start, int(num_steps * per_step), result.adapted_params


BASELINES = ("mala", "hmc", "ula", "srmc_mala")  # MALA first: ULA takes its step from MALA's warm-up


def baseline(method: str, step_size: float | None, ula_step: float | None) -> Any:
    """The baseline algorithm; `step_size` None leaves it to the warm-up (ULA has nothing to tune: `ula_step`)."""
    given = {} if step_size is None else {"step_size": step_size}
    if method == "mala":
        return srmc.base(samplers.mala, **given)
    if method == "hmc":
        return srmc.base(samplers.hmc, num_integration_steps=HMC_STEPS, **given)
    if method == "ula":
        return srmc.base(samplers.ula, step_size=ula_step if ula_step is not None else 0.01)
    if step_size is not None:  # the copy whose evaluations are counted: no warm-up to measure the tilt's reference
        given["tilt_reference"] = (0.0, 1.0)
    return srmc.wrap(samplers.mala, alpha=10.0, **given)  # SRMC's safe default, alpha 10


def baselines(key: jax.Array, target: targets.Target, num_chains: int, budget: int,
              initial_position: Any = None) -> dict[str, tuple]:
    """Every baseline's `mcmc_final_positions`; ULA's step is half the smallest effective step MALA's warm-up
    chose (step size times the smallest inverse mass), so that ULA is as stable as the tuned MALA."""
    runs, ula_step = {}, None
    for method in BASELINES:
        runs[method] = mcmc_final_positions(key, method, target, num_chains, budget, initial_position, ula_step)
        if method == "mala":
            adapted = runs[method][3]
            inverse_mass = np.min(np.asarray(adapted.get("inverse_mass_matrix", 1.0)))
            ula_step = 0.5 * float(np.asarray(adapted["step_size"]).mean()) * float(inverse_mass)
    return runs


def run_walk_jump(key: jax.Array, target: targets.Target, num_samples: int, **options: Any) -> tuple:
    if target.smoothed_logdensity is None:  # the funnel: importance-sampled smoothing (with ULA inner steps)
        options = {"num_draws": 16, "score_form": "noise", **options}
    start = time.perf_counter()
    result = walk_jump(key, target, num_samples, **options)
    seconds = time.perf_counter() - start
    return np.asarray(result.samples, np.float64), seconds, result


def table_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    for label, (name, params) in TABLE_TARGETS.items():
        target = targets.get(name, **params)
        key = jax.random.key(zlib.crc32(label.encode()))  # fixed across runs (str hash is not)
        exact = np.asarray(target.sample(jax.random.fold_in(key, 99), args.samples), np.float64)
        floor = metrics(np.asarray(target.sample(jax.random.fold_in(key, 98), args.samples), np.float64), exact,
                        target)
        samples, seconds, result = run_walk_jump(key, target, args.samples, **walk_jump_options(args, target))
        budget = result.gradient_evaluations // args.samples
        rows.append(walk_jump_row(label, "walk_jump", result, samples, seconds, exact, floor, target))
        if label in HAND_TUNED:
            options = {**walk_jump_options(args, target), "num_measurements": result.num_measurements,
                       **HAND_TUNED[label]}
            samples, seconds, tuned = run_walk_jump(key, target, args.samples, **options)
            rows.append(walk_jump_row(label, f"walk_jump (sigma {tuned.noise_scale:g} by hand)", tuned, samples,
                                      seconds, exact, floor, target))
        if args.walk_jump_only:  # the baselines' rows of the last full run, as they were measured
            rows.extend(row for row in args.previous_table if row["target"] == label
                        and not row["method"].startswith("walk_jump"))
        else:
            for method, (positions, seconds, used, _) in baselines(jax.random.fold_in(key, 1), target, args.samples,
                                                                    budget).items():
                rows.append(dict(target=label, method=method, budget=used, time=seconds, floor=floor["sw2"],
                                 tv_floor=floor["tv"], **metrics(positions, exact, target)))
        for row in rows[-len(BASELINES) - 1 - (label in HAND_TUNED):]:
            print(format_row(row), flush=True)
    return rows


def walk_jump_row(label: str, method: str, result: Any, samples: np.ndarray, seconds: float, exact: np.ndarray,
                  floor: dict, target: targets.Target) -> dict:
    return dict(target=label, method=method, budget=result.gradient_evaluations // len(samples), time=seconds,
                floor=floor["sw2"], tv_floor=floor["tv"], acceptance=result.acceptance_rate, sigma=result.noise_scale,
                M=result.num_measurements, nonfinite=result.num_nonfinite, **metrics(samples, exact, target))


def walk_jump_options(args: argparse.Namespace, target: targets.Target) -> dict:
    options = {}
    if target.smoothed_logdensity is None:
        options["inner"] = ULA
    if args.quick:
        options.update(num_measurements=4, num_inner_steps=2)
    return options


def format_row(row: dict) -> str:
    def pm(name: str, digits: int = 3) -> str:
        value = row.get(name, np.nan)
        return "-" if value is None or np.isnan(value) else f"{value:.{digits}f} ± {row[name + '_se']:.{digits}f}"

    tv_floor = "-" if np.isnan(row["tv_floor"]) else f"{row['tv_floor']:.3f}"
    return (f"| {row['target']} | {row['method']} | {row['budget']} | {pm('tv')} | {tv_floor} | {pm('found', 2)} "
            f"| {pm('spread', 2)} | {pm('sw2')} | {row['floor']:.3f} | {row['time']:.1f} |")


TABLE_HEADER = ("| target | method | gradient evals / sample | tv | tv floor | found | spread | sw2 | sw2 floor | "
                "time (s) |\n|---|---|---|---|---|---|---|---|---|---|")


# --- the paper's claim ------------------------------------------------------------------------------------------


def claim_rows(args: argparse.Namespace) -> list[dict]:
    """Right-mode weight on 0.7 N(-5 e1, I) + 0.3 N(5 e1, I), every chain started at the heavy mode's centre."""
    target = targets.get("two_component_mixture", separation=10.0, weights=[0.7, 0.3])
    start = np.array([-5.0, 0.0])
    key = jax.random.key(29)
    n = args.samples
    rows = []

    def add(method: str, samples: np.ndarray, budget: int, seconds: float) -> None:
        right = float(np.mean(samples[:, 0] > 0))
        rows.append(dict(method=method, budget=budget, right=right, right_se=float(np.sqrt(max(right * (1 - right),
                                                                                               1.0 / n) / n)),
                         time=seconds))
        print(f"| {method} | {budget} | {right:.3f} ± {rows[-1]['right_se']:.3f} | {seconds:.1f} |", flush=True)

    samples, seconds, result = run_walk_jump(key, target, n, initial_position=start, **walk_jump_options(args,
                                                                                                         target))
    budget = result.gradient_evaluations // n
    add(f"walk_jump (sigma {result.noise_scale:.2f}, M {result.num_measurements})", samples, budget, seconds)
    for multiple in (1, 10) if not args.quick else (1,):
        for method, (positions, seconds, used, _) in baselines(jax.random.fold_in(key, multiple), target, n,
                                                                multiple * budget, start).items():
            add(f"{method}" + (f" ({multiple}x budget)" if multiple > 1 else ""), positions, used, seconds)
    return rows


# --- guidance: sigma and M around the default rule --------------------------------------------------------------

GUIDANCE_TARGETS = ("two_mode_0.7/0.3_sep10", "three_mode", "metastable", "mixture_9", "mixture_25")


def guidance_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    factors, measurements = ((0.5, 1.0, 2.0), (8, 32, 128, 512)) if not args.quick else ((1.0,), (4,))
    for label in GUIDANCE_TARGETS:
        name, params = TABLE_TARGETS[label]
        target = targets.get(name, **params)
        scale = float(np.sqrt(np.max(target.ground_truth.variance)))
        exact = np.asarray(target.sample(jax.random.key(99), args.samples), np.float64)
        floor = metrics(np.asarray(target.sample(jax.random.key(98), args.samples), np.float64), exact, target)
        for factor in factors:
            for num_measurements in measurements:
                samples, seconds, result = run_walk_jump(jax.random.key(1), target, args.samples,
                                                         noise_scale=factor * scale,
                                                         num_measurements=num_measurements,
                                                         num_inner_steps=2 if args.quick else 10)
                rows.append(dict(target=label, sigma_factor=factor, M=num_measurements,
                                 budget=result.gradient_evaluations // args.samples, tv_floor=floor["tv"],
                                 floor=floor["sw2"], acceptance=result.acceptance_rate,
                                 **metrics(samples, exact, target)))
                row = rows[-1]
                print(f"| {label} | {factor:g} | {num_measurements} | {row['budget']} | {row['tv']:.3f} ± "
                      f"{row['tv_se']:.3f} | {row['tv_floor']:.3f} | {row['sw2']:.3f} ± {row['sw2_se']:.3f} | "
                      f"{row['floor']:.3f} | {row['acceptance']:.2f} |", flush=True)
    return rows


# --- the importance-sampled smoothed score against the closed form ----------------------------------------------


def estimator_rows(args: argparse.Namespace) -> list[dict]:
    """Relative bias |E ŝ - s| / |s| and relative RMS error (RMS over points y ~ p_s, R replicates per point)."""
    rows = []
    num_points, num_replicates = (64, 200) if not args.quick else (4, 8)
    draws_grid = (4, 16, 64, 256) if not args.quick else (4,)
    for label in ("two_mode_0.7/0.3_sep5", "metastable", "mixture_9"):
        name, params = TABLE_TARGETS[label]
        target = targets.get(name, **params)
        sigma2 = setup.default_noise_scale(float(np.sqrt(np.max(target.ground_truth.variance)))) ** 2
        exact = exact_smoothing(target.smoothed_logdensity)
        for t in (1, 8, 64):
            s = jnp.float32(sigma2 / t)
            key = jax.random.key(t)
            points = target.sample(key, num_points) + jnp.sqrt(s) * jax.random.normal(key, (num_points, target.dim))
            truth = jax.vmap(lambda y: exact.value_and_score(None, y, s)[1])(points)
            for form in ("noise", "gradient"):
                for num_draws in draws_grid:
                    rows.append(estimator_row(target, label, form, num_draws, points, truth, s, t, num_replicates))
                    row = rows[-1]
                    print(f"| {label} | sigma^2/{t} | {form} | {num_draws} | {row['bias']:.4f} ± "
                          f"{row['bias_se']:.4f} | {row['rmse']:.4f} |", flush=True)
    return rows


def estimator_row(target, label, form, num_draws, points, truth, s, t, num_replicates) -> dict:
    smoothing = importance_smoothing(target.logdensity, num_draws, form)
    keys = jax.random.split(jax.random.key(num_draws), num_replicates)
    estimates = jax.jit(jax.vmap(lambda k: jax.vmap(lambda y, kk: smoothing.value_and_score(kk, y, s)[1])(
        points, jax.random.split(k, points.shape[0]))))(keys)
    estimates, truth = np.asarray(estimates, np.float64), np.asarray(truth, np.float64)
    norm = np.sqrt(np.mean(np.sum(truth**2, -1)))
    error = estimates - truth[None]
    mean_error = error.mean(0)  # (points, d): the bias at each point, with noise var / R
    noise = error.var(0, ddof=1).sum(-1) / num_replicates
    bias2 = np.maximum(np.mean(np.sum(mean_error**2, -1) - noise), 0.0)
    bias2_se = np.std(np.sum(mean_error**2, -1) - noise, ddof=1) / np.sqrt(points.shape[0])
    bias = np.sqrt(bias2) / norm
    return dict(target=label, stage=t, form=form, num_draws=num_draws, bias=float(bias),
                bias_se=float(bias2_se / (2 * max(np.sqrt(bias2), 1e-12)) / norm) if bias2 > 0 else float(
                    np.sqrt(bias2_se) / norm),
                rmse=float(np.sqrt(np.mean(np.sum(error**2, -1))) / norm))


# --- end to end: walk-jump with the estimated smoothing against the closed form ---------------------------------


def estimated_rows(args: argparse.Namespace) -> list[dict]:
    """The same walks with the closed form, and with importance-sampled smoothings (noise form, n draws, MALA and
    ULA inner steps) in its place: what the estimator's bias does to the samples."""
    rows = []
    draws_grid = (4, 16, 64) if not args.quick else (4,)
    for label in ("two_mode_0.7/0.3_sep5", "metastable", "mixture_9"):
        name, params = TABLE_TARGETS[label]
        target = targets.get(name, **params)
        exact = np.asarray(target.sample(jax.random.key(99), args.samples), np.float64)
        floor = metrics(np.asarray(target.sample(jax.random.key(98), args.samples), np.float64), exact, target)
        options = walk_jump_options(args, target)
        runs = [("exact", "mala", {})] + [(f"importance n={n}", inner, {"smoothing": importance_smoothing(
            target.logdensity, n, "noise")}) for n in draws_grid for inner in ("mala", "ula")]
        for smoothing_name, inner, extra in runs:
            samples, seconds, result = run_walk_jump(jax.random.key(5), target, args.samples,
                                                     inner=MALA if inner == "mala" else ULA, **options, **extra)
            rows.append(dict(target=label, smoothing=smoothing_name, inner=inner,
                             budget=result.gradient_evaluations // args.samples, time=seconds, tv_floor=floor["tv"],
                             floor=floor["sw2"], **metrics(samples, exact, target)))
            row = rows[-1]
            print(f"| {label} | {smoothing_name} | {inner} | {row['budget']} | {row['tv']:.3f} ± {row['tv_se']:.3f} "
                  f"| {row['tv_floor']:.3f} | {row['sw2']:.3f} ± {row['sw2_se']:.3f} | {row['floor']:.3f} |",
                  flush=True)
    return rows


# --- output -----------------------------------------------------------------------------------------------------


def plot(path: pathlib.Path, args: argparse.Namespace) -> None:
    """Samples of walk-jump, MALA and the exact law on the 25-mode mixture and the separated two-mode mixture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for row, label in enumerate(("mixture_25", "two_mode_0.7/0.3_sep10")):
        name, params = TABLE_TARGETS[label]
        target = targets.get(name, **params)
        key = jax.random.key(7)
        walk, _, result = run_walk_jump(key, target, args.samples, **walk_jump_options(args, target))
        start = np.array([-5.0, 0.0]) if label.startswith("two_mode") else None
        mala = mcmc_final_positions(key, "mala", target, args.samples,
                                          result.gradient_evaluations // args.samples, start)[0]
        exact = np.asarray(target.sample(key, args.samples))
        low, high = exact.min(0) - 1.0, exact.max(0) + 1.0
        for axis, (title, points) in zip(axes[row], (("exact", exact), ("walk-jump", walk),
                                                     ("MALA" + (" from the heavy mode" if start is not None else ""),
                                                      mala))):
            axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
            axis.set_title(f"{label}: {title}", fontsize=9)
            axis.set_xlim(low[0], high[0])
            axis.set_ylim(low[1], high[1])
            axis.set_aspect("equal")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples (= chains) per method")
    parser.add_argument("--only", nargs="*", default=["table", "claim", "guidance", "estimator", "estimated"],
                        choices=["table", "claim", "guidance", "estimator", "estimated"])
    parser.add_argument("--quick", action="store_true", help="tiny walks (a smoke run: measures nothing)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    parser.add_argument("--walk-jump-only", action="store_true",
                        help="table: rerun walk-jump's rows only and keep the baselines' rows of the stored run")
    args = parser.parse_args()
    suffix = "_quick" if args.quick else ""
    path = args.out / f"walk_jump{suffix}.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}  # sections not run are kept
    run = {"date": datetime.date.today().isoformat(), "machine": platform.platform(),
           "processor": platform.processor(), "devices": [str(d) for d in jax.devices()], "samples": args.samples}
    args.previous_table = report.get("table", {}).get("rows", [])
    if args.walk_jump_only:
        run["baselines_from"] = report.get("table", {}).get("run")
    sections = {"table": (TABLE_HEADER, table_rows),
                "claim": ("| method | gradient evals / sample | right-mode weight (truth 0.3) | time (s) |\n"
                          "|---|---|---|---|", claim_rows),
                "guidance": ("| target | sigma / scale | M | evals / sample | tv | tv floor | sw2 | sw2 floor | "
                             "acceptance |\n|---|---|---|---|---|---|---|---|---|", guidance_rows),
                "estimator": ("| target | s | form | draws | relative bias | relative RMS error |\n"
                              "|---|---|---|---|---|---|", estimator_rows),
                "estimated": ("| target | smoothing | inner | evals / sample | tv | tv floor | sw2 | sw2 floor |\n"
                              "|---|---|---|---|---|---|---|---|", estimated_rows)}
    for name in args.only:
        header, rows = sections[name]
        print(f"\n## {name}\n\n{header}", flush=True)
        report[name] = {"run": run, "rows": rows(args)}
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float))
    if "table" in args.only:
        plot(args.out / f"walk_jump{suffix}.png", args)
    if "claim" in args.only:
        walk, mala = report["claim"]["rows"][0], next(r for r in report["claim"]["rows"] if r["method"] == "mala")
        print(f"paper claim (0.7/0.3, modes 10 sd apart, chains started in the heavy mode): right-mode weight "
              f"walk-jump {walk['right']:.3f} ± {walk['right_se']:.3f}, MALA {mala['right']:.3f} ± "
              f"{mala['right_se']:.3f} (truth 0.300) at {walk['budget']} gradient evaluations per sample")


if __name__ == "__main__":
    main()
