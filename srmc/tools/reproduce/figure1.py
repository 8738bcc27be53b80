"""`srmc reproduce figure1`: the SRMC paper's metastability demo over many seeds, base ULA beside SRMC-ULA.

The paper (``experiments/figure1_metastable_demo.py`` @ 07aed0e) runs ONE seed: target
0.8 N((-2, 0), 0.18^2 I) + 0.2 N((2, 0), I) (registry ``metastable_mixture``); overdamped Langevin without a
Metropolis test, x' = x + eps s_eff(x) + sqrt(2 eps) xi with eps = 0.01 (srmc ``samplers.ula``, step_size 0.01),
4,000 steps from (-2, 0), the bottom of the narrow well; SRMC: s_eff = s(x) - alpha H(x) theta with the exact
Hessian, alpha = 1.53, and theta <- theta + 0.1 (N + 1)^-0.6 (s(X_N) - theta) after step N = 1, 2, ... (srmc
``gamma=polynomial(0.1, 0.6, offset=1)``); base and SRMC see the same noise.

Here the same algorithms run through the library (``srmc.base(ula)`` and ``srmc.wrap(ula, alpha=1.53,
gradient="exact", ...)``) on many seeds with shared keys, and we report, base beside SRMC, with standard errors
over seeds: the fraction of the steps spent in the broad mode (responsibility of the broad component > 1/2; the
target's mass there is 0.2), the fraction of seeds that reach it, the steps to the first escape, and the mean of
x_1 (exact -1.2). ULA itself is biased, so the stationary broad-mode fraction of a long base-ULA run from exact
draws is given as a second reference line. Plot: one seed's trajectories over the energy (as the paper's figure),
the time-in-mode bars and the escape curves with error bars.
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.targets import paper_mixtures
from srmc.tools.reproduce import common

STEPS, STEP_SIZE, ALPHA = 4000, 0.01, 1.53
SEEDS, QUICK_SEEDS = 512, 32
START = (-2.0, 0.0)
LONG_CHAINS, LONG_STEPS, QUICK_LONG_STEPS = 128, 50_000, 5_000
PLOTTED_SEED = 1  # the paper's seed (its NumPy noise differs from ours: the figure is an illustration)


def algorithms() -> dict[str, srmc.Algorithm]:
    """The paper's two samplers: base ULA and SRMC-ULA (exact Hessian-vector product, constant alpha)."""
    return {
        "base ULA": srmc.base(samplers.ula, step_size=STEP_SIZE),
        "SRMC-ULA": srmc.wrap(samplers.ula, alpha=ALPHA, tilt="score", gradient="exact",
                              gamma=srmc.schedules.polynomial(0.1, 0.6, offset=1.0), step_size=STEP_SIZE),
    }


def run_seeds(algorithm: srmc.Algorithm, target: targets.Target, seeds: np.ndarray, steps: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions (seeds, steps, 2), in-broad-mode flags (seeds, steps), non-finite counts (seeds,)); the key of
    step n of seed s is ``fold_in(key(s), n)`` for every algorithm (common random numbers)."""
    broad_of = paper_mixtures.responsibilities(target)
    x0 = jnp.asarray(START, jnp.result_type(float))

    def chain(seed):
        def one(state, n):
            state, info = algorithm.step(jax.random.fold_in(jax.random.key(seed), n), state, target)
            x = algorithm.position(state)
            return state, (x, broad_of(x)[1] > 0.5, info.is_nonfinite)

        _, (xs, broad, bad) = jax.lax.scan(one, algorithm.init(x0, target), jnp.arange(1, steps + 1))
        return xs, broad, bad.sum()

    xs, broad, bad = jax.jit(jax.vmap(chain))(jnp.asarray(seeds))
    return np.asarray(xs), np.asarray(broad), np.asarray(bad)


def stationary_broad_fraction(target: targets.Target, steps: int, seed: int = 0) -> tuple[float, float]:
    """Broad-mode fraction of long base-ULA chains started from exact draws (ULA's own, biased, stationary value),
    with its standard error over chains."""
    algorithm = algorithms()["base ULA"]
    broad_of = paper_mixtures.responsibilities(target)
    starts = target.sample(jax.random.key(10_000 + seed), LONG_CHAINS)

    def chain(x0, key):
        def one(state, n):
            state, _ = algorithm.step(jax.random.fold_in(key, n), state, target)
            return state, broad_of(algorithm.position(state))[1] > 0.5

        _, broad = jax.lax.scan(one, algorithm.init(x0, target), jnp.arange(1, steps + 1))
        return broad.mean()

    keys = jax.random.split(jax.random.key(20_000 + seed), LONG_CHAINS)
    fractions = np.asarray(jax.jit(jax.vmap(chain))(starts, keys), np.float64)
    return common.mean_and_se(fractions)


def statistics(xs: np.ndarray, broad: np.ndarray, nonfinite: np.ndarray) -> dict:
    """Per-sampler summary over seeds (means with standard errors over seeds)."""
    steps = broad.shape[1]
    escaped = broad.any(axis=1)
    first = np.where(escaped, broad.argmax(axis=1) + 1, steps + 1)
    fraction, fraction_se = common.mean_and_se(broad.mean(axis=1))
    mean_x1, mean_x1_se = common.mean_and_se(xs[..., 0].mean(axis=1))
    escaped_mean = float(escaped.mean())
    escaped_by = broad.cumsum(axis=1).astype(bool).mean(axis=0)
    return {
        "broad_fraction": fraction, "broad_fraction_se": fraction_se,
        "escaped_fraction": escaped_mean,
        "escaped_fraction_se": float(np.sqrt(escaped_mean * (1 - escaped_mean) / len(escaped))),
        "first_escape_median": float(np.median(first)),
        "first_escape_mean_if_escaped": float(first[escaped].mean()) if escaped.any() else None,
        "mean_x1": mean_x1, "mean_x1_se": mean_x1_se,
        "nonfinite_steps": int(nonfinite.sum()),
        "escape_curve_steps": np.unique(np.geomspace(1, steps, 60).astype(int)).tolist(),
        "escape_curve": escaped_by[np.unique(np.geomspace(1, steps, 60).astype(int)) - 1].tolist(),
    }


def plot(target: targets.Target, report: dict, paths: dict, directory: pathlib.Path) -> list[pathlib.Path]:
    plt = common.pyplot()
    if plt is None:
        return []
    labels = list(paths)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    grid = np.stack(np.meshgrid(np.linspace(-3.5, 5.0, 220), np.linspace(-3.5, 3.5, 180)), -1)
    energy = -np.asarray(jax.vmap(jax.vmap(target.logdensity))(jnp.asarray(grid)))
    for ax, label in zip(axes[0], labels):
        ax.contourf(grid[..., 0], grid[..., 1], np.minimum(energy, np.percentile(energy, 97)), 30, cmap="viridis")
        ax.plot(paths[label][:, 0], paths[label][:, 1], "w-", lw=0.5)
        ax.plot(*START, "c*", ms=12)
        r = report[label]
        ax.set_title(f"{label}, seed {PLOTTED_SEED}: energy -log pi and the trajectory ({report['steps']} steps)\n"
                     f"over {report['seeds']} seeds: broad-mode time {r['broad_fraction']:.3f} +- "
                     f"{r['broad_fraction_se']:.3f}, escaped {r['escaped_fraction']:.1%}", fontsize=8)
    ax = axes[1, 0]
    values = [report[label]["broad_fraction"] for label in labels]
    errors = [report[label]["broad_fraction_se"] for label in labels]
    ax.bar(labels, values, yerr=errors, capsize=6, color=["0.5", "C1"])
    ax.axhline(report["exact_broad_mass"], color="k", ls="--", label="exact pi: 0.2")
    stationary = report["ula_stationary_broad_fraction"]
    ax.axhline(stationary, color="C0", ls=":", label=f"base ULA at stationarity: {stationary:.3f}")
    ax.set_ylabel(f"fraction of the {report['steps']} steps in the broad mode")
    ax.set_title(f"mean +- SE over {report['seeds']} seeds (same keys for both)", fontsize=8)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for label, colour in zip(labels, ["0.3", "C1"]):
        r = report[label]
        steps, curve = np.asarray(r["escape_curve_steps"]), np.asarray(r["escape_curve"])
        se = np.sqrt(curve * (1 - curve) / report["seeds"])
        ax.plot(steps, curve, color=colour, label=label)
        ax.fill_between(steps, curve - se, curve + se, color=colour, alpha=0.25)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of seeds that have reached the broad mode")
    ax.set_title("first escape from the well (+- binomial SE)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = directory / "figure1.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def table(report: dict) -> str:
    labels = ["base ULA", "SRMC-ULA"]
    rows = []
    for key, name in (("broad_fraction", "fraction of the steps in the broad mode"),
                      ("escaped_fraction", "seeds that reach the broad mode"),
                      ("mean_x1", "mean of x_1 over all steps")):
        rows.append([name] + [f"{report[label][key]:.3f} +- {report[label][key + '_se']:.3f}" for label in labels]
                    + [{"broad_fraction": "0.2 (base ULA at stationarity: "
                        f"{report['ula_stationary_broad_fraction']:.3f})", "escaped_fraction": "-",
                        "mean_x1": "-1.2"}[key]])
    rows.append(["steps to the first escape: median (never = steps + 1)"]
                + [f"{report[label]['first_escape_median']:.0f}" for label in labels] + ["-"])
    rows.append(["steps to the first escape: mean over the seeds that escaped"]
                + [common.fmt(report[label]["first_escape_mean_if_escaped"], 4) for label in labels] + ["-"])
    rows.append(["non-finite steps"] + [str(report[label]["nonfinite_steps"]) for label in labels] + ["-"])
    return common.markdown_table([f"over {report['seeds']} seeds, {report['steps']} steps"] + labels + ["exact"],
                                 rows)


def run(out: str | pathlib.Path, quick: bool = False, seeds: int | None = None) -> dict:
    directory = common.output_dir(out)
    seeds = seeds or (QUICK_SEEDS if quick else SEEDS)
    with jax.enable_x64(True), common.Stopwatch() as watch:
        target = targets.get("metastable_mixture")
        report = {"steps": STEPS, "seeds": seeds, "step_size": STEP_SIZE, "alpha": ALPHA, "start": START,
                  "gamma": "0.1 (n + 1)^-0.6 at step n", "gradient": "exact Hessian-vector product",
                  "exact_broad_mass": 0.2, "exact_mean_x1": -1.2,
                  "in_broad_mode": "responsibility of N((2, 0), I) > 1/2",
                  "paper": common.PAPER, "paper_code": common.PAPER_CODE}
        paths = {}
        for label, algorithm in algorithms().items():
            common.log(f"figure1: {label}, {seeds} seeds x {STEPS} steps ...")
            xs, broad, bad = run_seeds(algorithm, target, np.arange(seeds), STEPS)
            report[label] = statistics(xs, broad, bad)
            paths[label] = xs[PLOTTED_SEED]
        paired = report["SRMC-ULA"]["broad_fraction"] - report["base ULA"]["broad_fraction"]
        report["paired_broad_fraction_difference"] = paired
        common.log("figure1: long base-ULA chains from exact draws ...")
        stationary, stationary_se = stationary_broad_fraction(target, QUICK_LONG_STEPS if quick else LONG_STEPS)
        report["ula_stationary_broad_fraction"], report["ula_stationary_broad_fraction_se"] = stationary, stationary_se
        report["ula_stationary_run"] = f"{LONG_CHAINS} chains x {QUICK_LONG_STEPS if quick else LONG_STEPS} steps"
        plot(target, report, paths, directory)
    report["seconds"] = watch.seconds
    report["environment"] = common.environment()
    common.write_json(directory / "figure1.json", report)
    text = table(report)
    (directory / "figure1.md").write_text(f"SRMC paper figure 1 over {seeds} seeds ({watch.seconds:.0f} s)\n\n{text}\n")
    print(text)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=None, help=f"number of seeds (default {SEEDS}, quick "
                                                                f"{QUICK_SEEDS})")


def main(args: argparse.Namespace) -> None:
    if args.seeds is not None and args.seeds < 2:
        raise ValueError(f"--seeds must be >= 2 (standard errors need a spread), got {args.seeds}.")
    run(args.out, quick=args.quick, seeds=args.seeds)
