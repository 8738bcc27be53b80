"""`srmc reproduce coverage`: the SRMC paper's mode-coverage experiment on centres we can ship, base ULA beside
SRMC-ULA on the same keys, over several seeds.

The paper (``experiments/cifar10_ebm_mode_coverage/exp1_gmm_mode_coverage.ipynb`` @ 07aed0e): 1,000 CIFAR-10
training images (100 per class), pixels in [0, 1], as the means of an equal-weight mixture of N(mu_k, 4^2 I) in
R^3072; 50 ULA chains (step h = 1) all started at centre 0; the score tilt with a finite-difference
Hessian-vector product (alpha 0.15, c = 1e-3: drift s(x) - alpha (s(x + c theta) - s(x)) / c) and history rate
gamma_n = max(n^-0.6, 0.5) (1, 0.66, 0.52, then 0.5 for ever: theta is an average of the last few scores, not a
running mean); metric: the number of distinct nearest centres (Euclidean argmin) visited by the 50 chains. The
release runs SRMC only, no base sampler.

CIFAR-10 cannot be downloaded here, so the centres are built to match the paper's geometry:

- ``digits`` (default): 1,000 scikit-learn digits (100 per class, seed 0), pixels / 16 in [0, 1], 64-d; the sd
  is set so that the RMS distance between centres over the sd is CIFAR-10's, 19.66 / 4 = 4.92 (19.66 from
  CIFAR-10's published per-channel pixel sds 0.2470, 0.2435, 0.2616: E|a - b|^2 = 2 sum Var(pixel)); h, alpha
  and c scaled by sd^2 / 16 (their units are length^2), gamma unchanged: the paper's dynamics in its units.
  Digits have image-like near neighbours (median nearest-centre distance 1.7 sd).
- ``gaussian3072``: 1,000 seeded random "images" with i.i.d. N(0.4734, 0.25^2) pixels in R^3072 (CIFAR-10's mean
  and pooled pixel sd): the paper's RMS distance (19.6), sd 4, step, alpha and c exactly, its span dimension
  (999), but no near neighbours.

Both run in coordinates of the centres' affine span: with one isotropic sd the orthogonal directions decouple
exactly (the score there is -x_perp / sd^2 whatever the mode, the FD tilt is linear in them, and the nearest
centre ignores them), so the run is exactly equivalent and much cheaper. The chains run through the library
(``srmc.base(ula)`` and ``srmc.wrap(ula, tilt="score", gradient="finite_difference", fd_step=c, ...)``), the same
keys for both; two reference rows push i.i.d. exact draws (50 per step) through the same counter: from mode 0 only
(a sampler that never leaves the start) and from the whole mixture. A second metric that a stuck sampler fails:
KL(visit frequencies of the nearest centres || uniform).
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.targets.base import MixtureForm, exact_target
from srmc.tools.reproduce import common

CIFAR_PIXEL_SDS = (0.2470, 0.2435, 0.2616)
CIFAR_RMS_DISTANCE = float(np.sqrt(2 * 1024 * np.sum(np.square(CIFAR_PIXEL_SDS))))  # 19.66
PAPER_SD, PAPER_STEP, PAPER_ALPHA, PAPER_C = 4.0, 1.0, 0.15, 1e-3
NUM_CHAINS, NUM_MODES = 50, 1000
CHECKPOINTS = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000)
STEPS, QUICK_STEPS = 3000, 100
SEEDS, QUICK_SEEDS = 5, 2
ALPHA_FACTORS = (1.0, 100.0)


def digits_centres(seed: int = 0) -> np.ndarray:
    """1,000 scikit-learn digits, 100 per class, pixels / 16 (in [0, 1]), shape (1000, 64)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError('the digits centres need scikit-learn: pip install "srmc[datasets]"') from error
    images, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == c), NUM_MODES // 10, replace=False)
                             for c in range(10)])
    return images[chosen] / 16.0


def gaussian_centres(seed: int = 0, dim: int = 3072) -> np.ndarray:
    """1,000 random "images": i.i.d. N(0.4734, 0.25^2) pixels (CIFAR-10's mean and pooled sd), (1000, dim)."""
    return 0.4734 + 0.25 * np.random.default_rng(seed).standard_normal((NUM_MODES, dim))


def span_coordinates(centres: np.ndarray) -> np.ndarray:
    """The centres in an orthonormal basis of their affine span (exactly equivalent for one isotropic sd)."""
    centred = centres - centres.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(singular > 1e-9 * singular[0]))
    return centred @ vt[:rank].T


def geometry(raw: np.ndarray, span: np.ndarray, sd: float) -> dict:
    """Distances between centres against sd and against the typical sample radius, in both coordinates."""
    squared = np.sum(span**2, 1)
    d2 = np.maximum(squared[:, None] + squared[None] - 2 * span @ span.T, 0.0)
    upper = np.triu_indices(len(span), 1)
    np.fill_diagonal(d2, np.inf)
    rms, nearest = float(np.sqrt(d2[upper].mean())), np.sqrt(d2.min(1))
    return {"ambient_dim": int(raw.shape[1]), "span_dim": int(span.shape[1]), "rms_distance": rms,
            "nn_distance_median": float(np.median(nearest)), "sd": sd, "rms_over_sd": rms / sd,
            "nn_over_sd": float(np.median(nearest)) / sd,
            "rms_over_ambient_radius": rms / (sd * np.sqrt(raw.shape[1])),
            "rms_over_span_radius": rms / (sd * np.sqrt(span.shape[1])),
            "paper": {"rms_over_sd": CIFAR_RMS_DISTANCE / PAPER_SD,
                      "rms_over_ambient_radius": CIFAR_RMS_DISTANCE / (PAPER_SD * np.sqrt(3072)),
                      "rms_over_span_radius": CIFAR_RMS_DISTANCE / (PAPER_SD * np.sqrt(999))}}


def mixture_logdensity(mu: jax.Array, variance: float, x: jax.Array) -> jax.Array:
    """log sum_k N(x; mu_k, variance I) up to a constant, in the expanded form |x|^2 - 2 <mu_k, x> + |mu_k|^2 (so
    its gradient is two matrix products)."""
    return jax.nn.logsumexp(-0.5 * (jnp.sum(x**2) - 2.0 * mu @ x + jnp.sum(mu**2, 1)) / variance)


def mixture_target(name: str, centres: np.ndarray, sd: float) -> targets.Target:
    """Equal-weight mixture of N(centres[k], sd^2 I) with exact moments and a `MixtureForm`."""
    mu = jnp.asarray(centres, jnp.result_type(float))
    variance = sd**2
    num, dim = centres.shape
    logdensity = jax.tree_util.Partial(mixture_logdensity, mu, variance)

    def sample(rng_key, count):
        key_component, key_noise = jax.random.split(rng_key)
        component = jax.random.randint(key_component, (count,), 0, num)
        return mu[component] + sd * jax.random.normal(key_noise, (count, dim), mu.dtype)

    mean = centres.mean(0)
    return exact_target(name, logdensity, sample, mean, variance + centres.var(0),
                        {"num_components": num, "sd": sd}, mixture=MixtureForm(centres, np.full(num, 1.0 / num),
                                                                               variance))


def nearest_centre(centres: jax.Array) -> callable:
    norms = jnp.sum(centres**2, 1)

    def nearest(x):  # (chains, dim) -> (chains,)
        return jnp.argmin(norms[None] - 2.0 * x @ centres.T, axis=1)

    return nearest


def paper_gamma(n: jax.Array) -> jax.Array:
    """gamma_n = max(n^-0.6, 0.5) (the notebook's ``max(1.0 / (step_counter + 1) ** 0.6, 0.5)``)."""
    return jnp.maximum(jnp.asarray(n, jnp.result_type(float)) ** -0.6, 0.5)


def samplers_for(scale: float, alpha_factors: tuple[float, ...]) -> dict[str, srmc.Algorithm]:
    """Base ULA and SRMC-ULA (FD tilt) at the paper's step, alpha and c in the construction's units."""
    step, c = PAPER_STEP * scale, PAPER_C * scale
    algorithms = {"base ULA": srmc.base(samplers.ula, step_size=step)}
    for factor in alpha_factors:
        label = "SRMC-ULA" if factor == 1 else f"SRMC-ULA, alpha x {factor:g}"
        algorithms[label] = srmc.wrap(samplers.ula, alpha=PAPER_ALPHA * scale * factor, tilt="score",
                                      gradient="finite_difference", fd_step=c, gamma=paper_gamma, step_size=step)
    return algorithms


def coverage_program(algorithm: srmc.Algorithm | None, target: targets.Target, centres: jax.Array, steps: int,
                     checkpoints: list[int], reference: str | None = None):
    """``run(seed) -> (distinct modes visited at each checkpoint, visit histograms at each checkpoint,
    non-finite steps)`` for 50 chains from centre 0; `reference` ``"one mode"`` / ``"mixture"`` replaces the
    sampler by 50 exact draws per step (from mode 0 only / the mixture). Step n's keys: split(fold_in(key(seed),
    n), 50), the same for every sampler."""
    marks = jnp.zeros(steps + 1, bool).at[jnp.asarray(checkpoints)].set(True)
    variance = float(target.mixture.variance)
    sd = float(np.sqrt(variance))

    def run(seed, centres):
        # The centres come in as an argument, not as constants of the program (XLA would constant-fold the
        # (1000, d) products for minutes); the target is rebuilt around them inside the trace.
        target = targets.from_logdensity(jax.tree_util.Partial(mixture_logdensity, centres, variance),
                                         centres.shape[1], name="coverage mixture")
        nearest = nearest_centre(centres)
        x0 = jnp.tile(centres[0], (NUM_CHAINS, 1))
        state = jax.vmap(algorithm.init, in_axes=(0, None))(x0, target) if algorithm is not None else x0
        seen = jnp.zeros(NUM_MODES, bool).at[0].set(True)
        visits = jnp.zeros(NUM_MODES, jnp.int32)

        def one(carry, n):
            state, seen, visits, bad = carry
            keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), n), NUM_CHAINS)
            if reference is None:
                state, info = jax.vmap(algorithm.step, in_axes=(0, 0, None))(keys, state, target)
                x = algorithm.position(state)
                bad = bad + info.is_nonfinite.sum()
            else:
                key_component, key_noise = jax.random.split(jax.random.fold_in(jax.random.key(10_000 + seed), n))
                component = (jnp.zeros(NUM_CHAINS, jnp.int32) if reference == "one mode"
                             else jax.random.randint(key_component, (NUM_CHAINS,), 0, NUM_MODES))
                x = centres[component] + sd * jax.random.normal(key_noise, (NUM_CHAINS, centres.shape[1]),
                                                                centres.dtype)
            labels = nearest(x)
            seen = seen.at[labels].set(True)
            visits = visits.at[labels].add(1)
            out = (jnp.sum(seen), jnp.where(marks[n], visits, 0))
            return (state, seen, visits, bad), out

        (_, _, _, bad), (counts, histograms) = jax.lax.scan(one, (state, seen, visits, jnp.zeros((), jnp.int32)),
                                                             jnp.arange(1, steps + 1))
        index = jnp.asarray(checkpoints) - 1
        return counts[index], histograms[index], bad

    program = jax.jit(jax.vmap(run, in_axes=(0, None)))
    return lambda seeds: program(seeds, centres)


def kl_to_uniform(histograms: np.ndarray) -> np.ndarray:
    """KL(visit frequencies || uniform over the modes), per row of histograms (..., modes)."""
    counts = np.asarray(histograms, np.float64)
    p = counts / counts.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p * counts.shape[-1]), 0.0)
    return terms.sum(-1)


def run_construction(kind: str, steps: int, seeds: int, alpha_factors: tuple[float, ...]) -> dict:
    raw = digits_centres() if kind == "digits" else gaussian_centres()
    span = span_coordinates(raw)
    rms = float(np.sqrt(2 * NUM_MODES / (NUM_MODES - 1) * np.sum(np.var(span, 0))))
    sd = PAPER_SD if kind == "gaussian3072" else rms / (CIFAR_RMS_DISTANCE / PAPER_SD)
    scale = (sd / PAPER_SD) ** 2
    geo = geometry(raw, span, sd)
    geo.update({"step": PAPER_STEP * scale, "alpha": PAPER_ALPHA * scale, "c": PAPER_C * scale, "scale": scale})
    common.log(f"coverage {kind}: span {geo['span_dim']}-d, D/sd {geo['rms_over_sd']:.2f}, "
               f"NN/sd {geo['nn_over_sd']:.2f}")
    target = mixture_target(f"coverage_{kind}", span, sd)
    centres = jnp.asarray(span, jnp.result_type(float))
    checkpoints = [k for k in CHECKPOINTS if k <= steps]
    if checkpoints[-1] != steps:
        checkpoints.append(steps)
    seed_array = jnp.arange(seeds)
    results = {}
    runs = [(label, algorithm, None) for label, algorithm in samplers_for(scale, alpha_factors).items()]
    runs += [("exact draws, mode 0 only", None, "one mode"), ("exact draws, mixture", None, "mixture")]
    for label, algorithm, reference in runs:
        with common.Stopwatch() as watch:
            counts, histograms, bad = jax.block_until_ready(
                coverage_program(algorithm, target, centres, steps, checkpoints, reference)(seed_array))
        counts, kl = np.asarray(counts, np.float64), kl_to_uniform(histograms)
        results[label] = {
            "counts": counts.tolist(), "counts_mean": counts.mean(0).tolist(),
            "counts_se": (counts.std(0, ddof=1) / np.sqrt(seeds)).tolist() if seeds > 1 else None,
            "kl_mean": kl.mean(0).tolist(), "kl_se": (kl.std(0, ddof=1) / np.sqrt(seeds)).tolist() if seeds > 1
            else None, "nonfinite_steps": int(np.sum(bad)), "seconds": watch.seconds}
        common.log(f"  {label:28s} distinct modes after {steps} steps: {counts[:, -1].mean():7.1f}"
                   f" (seeds {counts[:, -1].astype(int).tolist()})  {watch.seconds:.0f} s")
    base = np.asarray(results["base ULA"]["counts"])
    for label in [key for key in results if key.startswith("SRMC")]:
        diff = np.asarray(results[label]["counts"]) - base
        results[label]["paired_minus_base_mean"] = diff.mean(0).tolist()
        results[label]["paired_minus_base_se"] = (diff.std(0, ddof=1) / np.sqrt(seeds)).tolist() if seeds > 1 else None
    return {"geometry": geo, "checkpoints": checkpoints, "seeds": seeds, "steps": steps, "chains": NUM_CHAINS,
            "results": results}


def table(report: dict) -> str:
    lines = []
    for kind, block in report["constructions"].items():
        checkpoints = block["checkpoints"]
        header = [f"{kind} ({block['seeds']} seeds)"] + [f"{k} steps" for k in checkpoints]
        rows = []
        for label, result in block["results"].items():
            se = result["counts_se"] or [float("nan")] * len(checkpoints)
            rows.append([label] + [f"{m:.1f} +- {s:.1f}" if np.isfinite(s) else f"{m:.1f}"
                                   for m, s in zip(result["counts_mean"], se)])
            if "paired_minus_base_mean" in result:
                se = result["paired_minus_base_se"] or [float("nan")] * len(checkpoints)
                rows.append([f"{label} - base (paired)"] + [f"{m:+.1f} +- {s:.1f}" if np.isfinite(s) else
                                                             f"{m:+.1f}" for m, s in
                                                             zip(result["paired_minus_base_mean"], se)])
        lines.append(common.markdown_table(header, rows))
        rows = [[label] + [f"{m:.3f}" for m in result["kl_mean"]] for label, result in block["results"].items()]
        lines.append(common.markdown_table([f"{kind}: KL(visits, uniform)"] + [f"{k}" for k in checkpoints], rows))
        geo = block["geometry"]
        lines.append(f"geometry: span {geo['span_dim']}-d of {geo['ambient_dim']}; RMS centre distance / sd "
                     f"{geo['rms_over_sd']:.2f} (paper {geo['paper']['rms_over_sd']:.2f}); median nearest-centre "
                     f"distance / sd {geo['nn_over_sd']:.2f}; RMS distance / ambient sample radius "
                     f"{geo['rms_over_ambient_radius']:.3f} (paper {geo['paper']['rms_over_ambient_radius']:.3f}); "
                     f"step {geo['step']:.3g}, alpha {geo['alpha']:.3g}, c {geo['c']:.3g}")
    return "\n\n".join(lines)


def plot(report: dict, directory: pathlib.Path) -> list[pathlib.Path]:
    plt = common.pyplot()
    if plt is None:
        return []
    kinds = list(report["constructions"])
    fig, axes = plt.subplots(len(kinds), 3, figsize=(15, 4.3 * len(kinds)), squeeze=False)
    styles = {"base ULA": {"color": "k", "lw": 2}, "exact draws, mode 0 only": {"color": "0.5", "ls": ":"},
              "exact draws, mixture": {"color": "0.5", "ls": "--"}}
    for row, kind in zip(axes, kinds):
        block = report["constructions"][kind]
        steps = np.asarray(block["checkpoints"])
        for number, (label, result) in enumerate(block["results"].items()):
            style = styles.get(label, {"color": f"C{number}"})
            mean = np.asarray(result["counts_mean"])
            se = np.asarray(result["counts_se"]) if result["counts_se"] else np.zeros_like(mean)
            row[0].errorbar(steps, mean, se, capsize=3, label=label, **style)
            kl_mean = np.asarray(result["kl_mean"])
            kl_se = np.asarray(result["kl_se"]) if result["kl_se"] else np.zeros_like(kl_mean)
            row[2].errorbar(steps, kl_mean, kl_se, capsize=3, label=label, **style)
            if "paired_minus_base_mean" in result:
                diff = np.asarray(result["paired_minus_base_mean"])
                diff_se = np.asarray(result["paired_minus_base_se"]) if result["paired_minus_base_se"] else 0 * diff
                row[1].errorbar(steps, diff, diff_se, capsize=3, label=label, **style)
        row[1].axhline(0, color="k", lw=2, label="base ULA")
        for ax, ylabel in zip(row, ("distinct nearest modes visited (50 chains)", "SRMC - base ULA (same keys)",
                                    "KL(visit frequencies || uniform)")):
            ax.set_xscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.legend(fontsize=7)
        row[0].set_title(f"{kind}: mean +- SE over {block['seeds']} seeds", fontsize=9)
        row[1].set_title("paired difference (+- SE)", fontsize=9)
        row[2].set_title("a stuck sampler keeps this high", fontsize=9)
    fig.tight_layout()
    path = directory / "coverage.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def run(out: str | pathlib.Path, quick: bool = False, centres: str = "digits", seeds: int | None = None,
        steps: int | None = None, alpha_factors: tuple[float, ...] = ALPHA_FACTORS) -> dict:
    directory = common.output_dir(out)
    seeds = seeds or (QUICK_SEEDS if quick else SEEDS)
    steps = steps or (QUICK_STEPS if quick else STEPS)
    kinds = ("digits", "gaussian3072") if centres == "both" else (centres,)
    with common.Stopwatch() as watch:
        report = {"constructions": {kind: run_construction(kind, steps, seeds, tuple(alpha_factors))
                                    for kind in kinds},
                  "paper": common.PAPER, "paper_code": common.PAPER_CODE,
                  "settings": {"chains": NUM_CHAINS, "modes": NUM_MODES, "paper_sd": PAPER_SD,
                               "paper_step": PAPER_STEP, "paper_alpha": PAPER_ALPHA, "paper_c": PAPER_C,
                               "gamma": "max(n^-0.6, 0.5)", "alpha_factors": list(alpha_factors),
                               "cifar_rms_distance": CIFAR_RMS_DISTANCE}}
        plot(report, directory)
    report["seconds"] = watch.seconds
    report["environment"] = common.environment()
    common.write_json(directory / "coverage.json", report)
    text = table(report)
    (directory / "coverage.md").write_text(f"SRMC paper mode coverage ({watch.seconds:.0f} s)\n\n{text}\n")
    print(text)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--centres", choices=("digits", "gaussian3072", "both"), default="digits",
                        help="centre construction (gaussian3072: the paper's size, ~10x slower)")
    parser.add_argument("--seeds", type=int, default=None, help=f"default {SEEDS} (quick {QUICK_SEEDS})")
    parser.add_argument("--steps", type=int, default=None, help=f"default {STEPS} (quick {QUICK_STEPS})")
    parser.add_argument("--alpha-factors", default=",".join(f"{f:g}" for f in ALPHA_FACTORS),
                        help="SRMC-ULA runs at these multiples of the paper's alpha (comma-separated)")


def main(args: argparse.Namespace) -> None:
    try:
        factors = tuple(float(f) for f in args.alpha_factors.split(","))
    except ValueError:
        raise ValueError(f"--alpha-factors expects comma-separated numbers, got {args.alpha_factors!r}.") from None
    if any(not (f > 0 and np.isfinite(f)) for f in factors):
        raise ValueError(f"--alpha-factors must be positive, got {args.alpha_factors!r}.")
    for name in ("seeds", "steps"):
        value = getattr(args, name)
        if value is not None and value < 2:
            raise ValueError(f"--{name} must be >= 2, got {value}.")
    run(args.out, quick=args.quick, centres=args.centres, seeds=args.seeds, steps=args.steps, alpha_factors=factors)
