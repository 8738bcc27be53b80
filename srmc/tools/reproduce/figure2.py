"""`srmc reproduce figure2`: the SRMC paper's continuous alpha sweep, on the paper's protocol, with divergent runs
counted and never averaged.

Protocol (the authors' ``experiments/figure2_continuous_alpha_sweep.py`` @ 07aed0e):

- blocks {MALA, HMC} x {correlated Gaussian d = 20, rho = 0.9; synthetic logistic regression n = 200, d = 10};
- the paper's MALA proposal x + (eps/2) grad + sqrt(eps) xi is srmc's MALA with ``step_size = eps / 2``: eps 0.2
  (Gaussian) and 0.01 (logistic); HMC step 0.2 x 20 leapfrog steps (Gaussian), 0.025 x 10 (logistic), unit mass;
- score tilt, proposal drift = shifted gradient s(x - alpha_n theta) (at every leapfrog position), the exact
  surrogate log pi - alpha_n <theta, s> in every Metropolis test (srmc's ``tilt="score", gradient="shifted"``);
- history theta_0 = 0, theta_n = theta_{n-1} + a_n (s(X_n) - theta_{n-1}) after the accept/reject of step n,
  a_n = theta_step / n^0.6 with theta_step 1.0 (Gaussian), 0.3 (MALA logistic), 0.03 (HMC logistic);
- schedules: baseline (the plain base kernel), fixed alpha, and "adaptive" alpha_n = n / (C + n / alpha),
  C = 1000, alpha in {0.5, 1, 2, 3, 5}; step n uses alpha_n with theta_{n-1} (the paper's indexing, srmc's);
- 30 replicates; 10,000 "matched" steps: MALA 10,000 iterations, HMC 10,000 leapfrog steps (500 / 1,000
  iterations); burn-in round(0.3 x iterations); every configuration on the same keys and the same starts (exact
  draws from numpy ``default_rng(2026032701)`` for the Gaussian, stored NUTS posterior draws for the logistic);
- error of a replicate: mean over coordinates of (post-burn-in mean - truth)^2; MSE = its mean over the
  replicates that did not diverge; diverged = an estimate that is not finite or lies more than 10 posterior
  standard deviations from the truth in some coordinate (counted, never averaged in: the paper's code averages
  such runs in and reports MSEs of 1e19 and 1e116 for fixed alpha 3 and 5 on the Gaussian).

One compiled program per block: the 11 configurations x 30 replicates run as 330 vmapped chains, with alpha and
the schedule's kind as per-chain values (`sweep_step`). `srmc.wrap` takes alpha as a static schedule, so this
module restates its step with srmc's own tilt functions; `tests/reproduce/test_figure2.py` checks it against
`srmc.wrap` step by step. Time per step comes from separate programs (the base kernel alone, SRMC alone), so the
baseline's cost is the base kernel's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc import samplers, targets
from srmc.method import schedules
from srmc.method.kernels import state_cache
from srmc.method.surrogate import kernel_surrogate
from srmc.method.tilt import score as score_tilt
from srmc.targets.base import spread_stderr
from srmc.targets.logistic import synthetic_logistic_starts
from srmc.tools.reproduce import common

ALPHAS = (0.5, 1.0, 2.0, 3.0, 5.0)
ADAPTIVE_C = 1000.0
REPLICATES = 30
QUICK_REPLICATES = 6
BURN_FRACTION = 0.3
MATCHED_STEPS = 10_000
DIVERGED_SD = 10.0
RUN_SEED = 20260327
GAUSSIAN_START_SEED = 2026032701
TIMING_ITERATIONS = 1000

# The paper code's hard-coded truth for the logistic posterior mean (TRUE_MEAN_LOGISTIC; provenance not given). We
# score against our NUTS reference instead (its standard errors are 0.0004-0.0007) and report both.
PAPER_LOGISTIC_MEAN = np.array([
    -0.6212977967644445, -0.6799150597543924, 0.7575568874980533, 0.5150891994605535, -1.6048458013509426,
    1.1549478950607461, -0.06097425566741736, -1.0928740175979428, 0.921151244865071, 0.5188626731914046,
])


class Block(NamedTuple):
    """One (kernel, target) block: srmc kernel parameters, the history rate's scale, leapfrog steps per iteration
    and how often (in iterations) the MSE curve is recorded."""

    kernel: str
    target: str
    params: dict
    theta_step: float
    leapfrog: int
    record: int


BLOCKS = (
    Block("mala", "correlated_gaussian", {"step_size": 0.1}, 1.0, 1, 100),
    Block("mala", "synthetic_logistic", {"step_size": 0.005}, 0.3, 1, 100),
    Block("hmc", "correlated_gaussian", {"step_size": 0.2, "num_integration_steps": 20}, 1.0, 20, 5),
    Block("hmc", "synthetic_logistic", {"step_size": 0.025, "num_integration_steps": 10}, 0.03, 10, 10),
)
CONFIGS = (("baseline", 0.0),) + tuple(("fixed", a) for a in ALPHAS) + tuple(("adaptive", a) for a in ALPHAS)


class Lengths(NamedTuple):
    iterations: int
    burn_in: int
    record: int


def lengths(block: Block, quick: bool) -> Lengths:
    """Iterations (10,000 matched leapfrog steps; a tenth with `quick`), burn-in (30 %) and record interval."""
    iterations, record = MATCHED_STEPS // block.leapfrog, block.record
    if quick:
        iterations, record = iterations // 10, max(1, record // 10)
    return Lengths(iterations, int(round(BURN_FRACTION * iterations)), record)


def block_target(name: str) -> targets.Target:
    """The block's registry target."""
    if name == "correlated_gaussian":
        return targets.get("correlated_gaussian", dim=20, rho=0.9)
    return targets.get("synthetic_logistic")


def block_starts(name: str, num: int) -> np.ndarray:
    """The replicates' starting points: the paper's exact Gaussian draws, or stored logistic posterior draws."""
    if name == "correlated_gaussian":
        cov = 0.1 * np.eye(20) + 0.9 * np.ones((20, 20))
        draws = np.random.default_rng(GAUSSIAN_START_SEED).multivariate_normal(np.zeros(20), cov, size=REPLICATES)
        return draws[:num]
    return synthetic_logistic_starts(num)


def kernel_module(name: str) -> Any:
    return {"mala": samplers.mala, "hmc": samplers.hmc}[name]


def alpha_at(n: jax.Array, alpha: jax.Array, adaptive: jax.Array) -> jax.Array:
    """alpha_n at step n: ``n / (C + n / alpha)`` (adaptive) or alpha (fixed; 0 for the baseline)."""
    n = jnp.asarray(n, jnp.result_type(float))
    return jnp.where(adaptive, n / (ADAPTIVE_C + n / jnp.maximum(alpha, 1e-30)), alpha)


def alpha_schedule(schedule: str, alpha: float) -> float | schedules.Schedule:
    """The same alpha as a `srmc.wrap` argument (for runs through the library itself)."""
    return schedules.rational(alpha, ADAPTIVE_C) if schedule == "adaptive" else float(alpha)


def sweep_step(block: Block, target: targets.Target) -> tuple[Callable, Callable]:
    """(init, step) of SRMC with a per-chain alpha: the step of `srmc.wrap(kernel, alpha=..., tilt="score",
    gradient="shifted", gamma=polynomial(theta_step, 0.6))` with alpha_n traced.

    ``init(x0) -> carry``; ``step(carry, n, key, alpha, adaptive) -> (carry, info)`` for step n = 1, 2, ...:
    X_n from the kernel on the surrogate with (alpha_n, theta_{n-1}), then theta_n, then the kernel's cache
    refreshed for (alpha_{n+1}, theta_n). alpha = 0 gives the base kernel's chain.
    """
    module = kernel_module(block.kernel)
    kernel = module.build_kernel()
    gamma = schedules.polynomial(block.theta_step, 0.6)
    tilt = score_tilt("shifted")

    def surrogate(theta: jax.Array, alpha_n: jax.Array) -> Any:
        """The surrogate as srmc.wrap hands it to the kernel (a `Density`: drifts alone inside trajectories)."""
        return kernel_surrogate(module.spec, target, theta, alpha_n, tilt)

    def init(x0: jax.Array) -> tuple[Any, jax.Array]:
        # theta_0 = 0: the surrogate's value and gradient are pi's
        return module.init(x0, surrogate(jnp.zeros_like(x0), 0.0)), jnp.zeros_like(x0)

    def step(carry, n, key, alpha, adaptive):
        inner, theta = carry
        alpha_n = alpha_at(n, alpha, adaptive)
        inner, info = kernel(key, inner, surrogate(theta, alpha_n), **block.params)
        x = inner.position
        logpi, score = inner.aux  # (log pi, s) at X_n, handed back by the kernel
        theta = theta + gamma(n) * (score - theta)
        alpha_next = alpha_at(n + 1, alpha, adaptive)
        cache = state_cache(module.spec, inner)
        inner = inner._replace(**{
            cache.logdensity: tilt.value(logpi, -score, theta, alpha_next),
            cache.gradient: tilt.gradient(target, x, score, theta, alpha_next, None),
        })
        return (inner, theta), info

    return init, step


def sweep_program(block: Block, target: targets.Target, length: Lengths) -> Callable:
    """``run(x0, chain_key, alpha, adaptive) -> (post-burn-in sum, acceptance sum, nonfinite count, running sums at
    each record end)`` for one chain (vmap it); the key of step n is ``fold_in(chain_key, n)``."""
    init, step = sweep_step(block, target)
    dtype = jnp.result_type(float)

    def run(x0, chain_key, alpha, adaptive):
        def one_record(state, first):
            def one(inner_state, n):
                carry, total, accepted, nonfinite = inner_state
                carry, info = step(carry, n, jax.random.fold_in(chain_key, n), alpha, adaptive)
                counted = n > length.burn_in
                total = total + jnp.where(counted, carry[0].position, 0.0)
                accepted = accepted + jnp.where(counted, info.acceptance_rate, 0.0)
                return (carry, total, accepted, nonfinite + info.is_nonfinite.astype(jnp.int32)), None

            state, _ = jax.lax.scan(one, state, first + jnp.arange(1, length.record + 1))
            return state, state[1]

        start = (init(x0), jnp.zeros_like(x0), jnp.zeros((), dtype), jnp.zeros((), jnp.int32))
        (_, total, accepted, nonfinite), totals = jax.lax.scan(one_record, start,
                                                                jnp.arange(0, length.iterations, length.record))
        return total, accepted, nonfinite, totals

    return jax.jit(jax.vmap(run))


def timing_program(block: Block, target: targets.Target, iterations: int, srmc_step: bool) -> Callable:
    """``run(x0s, keys) -> positions``: `iterations` steps of the base kernel alone (``srmc_step=False``) or of SRMC
    with fixed alpha = 1 (``True``), vmapped over chains; for seconds per step."""
    module = kernel_module(block.kernel)
    kernel = module.build_kernel()
    init, step = sweep_step(block, target)

    def run(x0, chain_key):
        def one(carry, n):
            key = jax.random.fold_in(chain_key, n)
            if srmc_step:
                return step(carry, n, key, 1.0, False)[0], None
            return kernel(key, carry, target.logdensity, **block.params)[0], None

        carry = init(x0) if srmc_step else module.init(x0, target.logdensity)
        final, _ = jax.lax.scan(one, carry, jnp.arange(1, iterations + 1))
        return (final[0] if srmc_step else final).position

    return jax.jit(jax.vmap(run))


def replicate_errors(estimates: np.ndarray, truth: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-replicate error mean_i (estimate_i - truth_i)^2, diverged flags) for estimates (replicates, dim)."""
    estimates = np.asarray(estimates, np.float64)
    finite = np.all(np.isfinite(estimates), axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        far = np.max(np.abs(estimates - truth) / sd, axis=1) > DIVERGED_SD
        errors = np.mean((estimates - truth) ** 2, axis=1)
    return errors, ~finite | far


def summarise(estimates: np.ndarray, truth: np.ndarray, sd: np.ndarray) -> dict:
    """MSE and SE over the replicates that did not diverge, the diverged count and the worst error."""
    errors, diverged = replicate_errors(estimates, truth, sd)
    ok = errors[~diverged]
    return {
        "mse": float(ok.mean()) if ok.size else float("nan"),
        "mse_se": float(spread_stderr(ok)) if ok.size > 1 else float("nan"),
        "diverged": int(diverged.sum()),
        "replicates": int(len(errors)),
        "worst_error": float(np.max(errors)) if np.isfinite(errors).any() else float("inf"),
        "replicate_errors": errors.tolist(),
    }


class PreparedBlock(NamedTuple):
    """A block traced and lowered (in the caller's thread, under its x64 setting), ready to compile anywhere."""

    block: Block
    target: targets.Target
    length: Lengths
    replicates: int
    flat: tuple
    starts: jax.Array
    chain_keys: jax.Array
    sweep: Any  # jax.stages.Lowered
    timing: dict  # label -> (Lowered, iterations)


def prepare_block(block: Block, quick: bool, seed: int = RUN_SEED, timing: bool = True) -> PreparedBlock:
    """Trace and lower the block's sweep (and its timing programs)."""
    target = block_target(block.target)
    replicates = QUICK_REPLICATES if quick else REPLICATES
    length = lengths(block, quick)
    dtype = jnp.result_type(float)
    starts = jnp.asarray(block_starts(block.target, replicates), dtype)
    chain_keys = jax.random.split(jax.random.key(seed), replicates)
    num_configs = len(CONFIGS)
    kinds = np.array([kind for kind, _ in CONFIGS])
    flat = (jnp.tile(starts, (num_configs, 1)), jnp.tile(chain_keys, num_configs),  # replicate r: same key, start
            jnp.asarray(np.repeat([alpha for _, alpha in CONFIGS], replicates), dtype),
            jnp.asarray(np.repeat(kinds == "adaptive", replicates)))
    sweep = sweep_program(block, target, length).lower(*flat)
    timed = {}
    if timing:
        iterations = min(TIMING_ITERATIONS, length.iterations)
        for label, srmc_step in (("baseline", False), ("srmc", True)):
            timed[label] = (timing_program(block, target, iterations, srmc_step).lower(starts, chain_keys), iterations)
    return PreparedBlock(block, target, length, replicates, flat, starts, chain_keys, sweep, timed)


def compile_blocks(prepared: list[PreparedBlock]) -> tuple[list[Any], list[dict], float]:
    """Compile every lowered program, several at once (XLA compiles one program on one core; compilation dominates
    this experiment's run time). Returns (sweep executables, timing executables by label, wall seconds)."""
    jobs = [(i, None, p.sweep) for i, p in enumerate(prepared)]
    jobs += [(i, label, lowered) for i, p in enumerate(prepared) for label, (lowered, _) in p.timing.items()]
    sweeps, timed = [None] * len(prepared), [{} for _ in prepared]
    with common.Stopwatch() as watch, concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        futures = {pool.submit(lowered.compile): (i, label) for i, label, lowered in jobs}
        for future in concurrent.futures.as_completed(futures):
            i, label = futures[future]
            if label is None:
                sweeps[i] = future.result()
            else:
                timed[i][label] = future.result()
    return sweeps, timed, watch.seconds


def run_block(prepared: PreparedBlock, executable: Any, timing_executables: dict) -> tuple[list[dict], dict]:
    """The 11 configurations of one compiled block: rows in the figure2.json format, and the block's timings."""
    block, target, length, replicates = prepared.block, prepared.target, prepared.length, prepared.replicates
    truth = np.asarray(target.ground_truth.mean, np.float64)
    sd = np.sqrt(np.asarray(target.ground_truth.variance, np.float64))
    num_configs = len(CONFIGS)
    with common.Stopwatch() as run_watch:
        total, accepted, nonfinite, totals = jax.block_until_ready(executable(*prepared.flat))
    timings = {"sweep_seconds": run_watch.seconds, "chains": num_configs * replicates}
    per_iteration = {"baseline": run_watch.seconds / (num_configs * replicates * length.iterations)}
    per_iteration["srmc"] = per_iteration["baseline"]
    timing_source = "the sweep (all chains pay the tilt)"
    if timing_executables:
        for label, timed in timing_executables.items():
            iterations = prepared.timing[label][1]
            jax.block_until_ready(timed(prepared.starts, prepared.chain_keys))  # warm
            with common.Stopwatch() as watch:
                jax.block_until_ready(timed(prepared.starts, prepared.chain_keys))
            per_iteration[label] = watch.seconds / (replicates * iterations)
        timing_source = (f"{iterations} iterations of the base kernel alone / SRMC alone, {replicates} vmapped "
                         "chains")
    timings["seconds_per_iteration"] = per_iteration
    timings["timing_source"] = timing_source

    counted = length.iterations - length.burn_in
    estimates = np.asarray(total, np.float64).reshape(num_configs, replicates, -1) / counted
    acceptance = np.asarray(accepted, np.float64).reshape(num_configs, replicates) / counted
    nonfinite = np.asarray(nonfinite).reshape(num_configs, replicates)
    record_ends = np.arange(length.record, length.iterations + 1, length.record)
    keep = record_ends > length.burn_in
    running = (np.asarray(totals, np.float64)[:, keep] / (record_ends[keep] - length.burn_in)[None, :, None])
    running = running.reshape(num_configs, replicates, int(keep.sum()), -1)
    rows = []
    for index, (schedule, alpha) in enumerate(CONFIGS):
        summary = summarise(estimates[index], truth, sd)
        _, diverged = replicate_errors(estimates[index], truth, sd)
        curve = np.mean((running[index][~diverged] - truth) ** 2, axis=(0, 2)) if (~diverged).any() else (
            np.full(int(keep.sum()), np.nan))
        seconds = per_iteration["baseline" if schedule == "baseline" else "srmc"]
        row = {
            "kernel": block.kernel, "target": block.target, "schedule": schedule, "alpha": float(alpha),
            **summary, "steps": length.iterations * block.leapfrog, "iterations": length.iterations,
            "burn_in": length.burn_in, "leapfrog_per_iteration": block.leapfrog, "theta_step": block.theta_step,
            "kernel_params": block.params, "acceptance": float(acceptance[index].mean()),
            "nonfinite_proposals": int(nonfinite[index].sum()),
            "seconds_per_iteration": seconds, "seconds_per_leapfrog_step": seconds / block.leapfrog,
            "curve_steps": (record_ends[keep] * block.leapfrog).astype(int).tolist(),
            "curve_seconds": (record_ends[keep] * seconds).tolist(),
            "curve_mse": curve.tolist(),
        }
        if block.target == "synthetic_logistic":
            row["mse_vs_paper_truth"] = summarise(estimates[index], PAPER_LOGISTIC_MEAN, sd)["mse"]
        rows.append(row)
    return rows, timings


def row_label(row: dict) -> str:
    return "baseline" if row["schedule"] == "baseline" else f"{row['schedule']} {row['alpha']:g}"


def table(rows: list[dict]) -> str:
    """The markdown table of figure2.json's rows."""
    body = []
    for row in rows:
        ok = row["replicates"] - row["diverged"]
        mse = "diverged" if ok == 0 else f"{common.fmt(row['mse'])} +- {common.fmt(row['mse_se'], 2)}"
        if 0 < row["diverged"]:
            mse += f" ({ok} kept)" if ok else f" (worst {row['worst_error']:.1e})"
        body.append([row["kernel"], row["target"], row["schedule"], f"{row['alpha']:g}" if row["alpha"] else "-",
                     mse, f"{row['diverged']}/{row['replicates']}", f"{row['acceptance']:.3f}",
                     f"{1e6 * row['seconds_per_iteration']:.2f}"])
    return common.markdown_table(["kernel", "target", "schedule", "alpha", "MSE +- SE", "diverged",
                                  "acceptance", "us / iteration"], body)


def plot(rows: list[dict], directory: pathlib.Path) -> list[pathlib.Path]:
    """figure2_alpha.png (MSE against alpha), figure2_steps.png and figure2_cpu.png (MSE curves); the baseline in
    every panel."""
    plt = common.pyplot()
    if plt is None:
        return []
    blocks = list(dict.fromkeys((row["kernel"], row["target"]) for row in rows))
    written = []
    shape = (2, 2) if len(blocks) == 4 else (1, len(blocks))
    fig, axes = plt.subplots(*shape, figsize=(11, 8) if len(blocks) == 4 else (5.5 * len(blocks), 4), squeeze=False)
    for ax, (kernel, target) in zip(axes.flat, blocks):
        block_rows = [row for row in rows if (row["kernel"], row["target"]) == (kernel, target)]
        base = next(row for row in block_rows if row["schedule"] == "baseline")
        ax.axhline(base["mse"], color="k", lw=2, label=f"baseline {kernel}")
        ax.axhspan(base["mse"] - base["mse_se"], base["mse"] + base["mse_se"], color="k", alpha=0.15)
        for schedule, marker, colour in (("fixed", "o", "C0"), ("adaptive", "s", "C1")):
            chosen = [row for row in block_rows if row["schedule"] == schedule]
            kept = [row for row in chosen if row["diverged"] < row["replicates"]]
            ax.errorbar([r["alpha"] for r in kept], [r["mse"] for r in kept], [r["mse_se"] for r in kept],
                        marker=marker, color=colour, capsize=3, label=f"SRMC {schedule}")
            lost = [row for row in chosen if row["diverged"] == row["replicates"]]
            for row in lost:
                ax.annotate(f"diverged\n{row['diverged']}/{row['replicates']}", (row["alpha"], 1.0),
                            xycoords=("data", "axes fraction"), ha="center", va="top", color=colour, fontsize=7)
                ax.plot([row["alpha"]], [0.97], marker="x", color=colour, transform=ax.get_xaxis_transform())
        ax.set_yscale("log")
        ax.set_xlabel("alpha")
        ax.set_ylabel("MSE of the posterior mean")
        ax.set_title(f"{kernel} x {target}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("SRMC paper, figure 2 protocol: MSE +- SE over replicates (diverged runs counted, not averaged)",
                 fontsize=9)
    fig.tight_layout()
    written.append(directory / "figure2_alpha.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    for axis, key, label in (("steps", "curve_steps", "leapfrog steps (matched)"),
                             ("cpu", "curve_seconds", "CPU seconds per chain")):
        fig, axes = plt.subplots(*shape, figsize=(11, 8) if len(blocks) == 4 else (5.5 * len(blocks), 4),
                                 squeeze=False)
        for ax, (kernel, target) in zip(axes.flat, blocks):
            for row in (row for row in rows if (row["kernel"], row["target"]) == (kernel, target)):
                if row["schedule"] == "baseline":
                    style = {"color": "k", "lw": 2.2, "zorder": 5}
                else:
                    index = ALPHAS.index(row["alpha"]) if row["alpha"] in ALPHAS else 0
                    style = {"color": plt.cm.viridis(index / max(len(ALPHAS) - 1, 1)), "lw": 1,
                             "ls": "-" if row["schedule"] == "fixed" else "--"}
                curve = np.asarray(row["curve_mse"], np.float64)
                if row["diverged"] == row["replicates"] or not np.isfinite(curve).any():
                    continue
                ax.plot(row[key], curve, label=row_label(row), **style)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("MSE of the running mean")
            ax.set_title(f"{kernel} x {target} (fixed: solid, adaptive: dashed; diverged: not drawn)", fontsize=8)
            ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        written.append(directory / f"figure2_{axis}.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def run(out: str | pathlib.Path, quick: bool = False, x64: bool = False, seed: int = RUN_SEED,
        blocks: tuple[Block, ...] = BLOCKS, timing: bool | None = None) -> dict:
    """Run the sweep, write DIR/figure2.json, figure2.md and the plots; return the JSON payload."""
    directory = common.output_dir(out)
    timing = (not quick) if timing is None else timing
    with jax.enable_x64(x64):
        rows, timings = [], {}
        with common.Stopwatch() as total:
            common.log(f"figure2: tracing {len(blocks)} blocks ...")
            prepared = [prepare_block(block, quick, seed, timing) for block in blocks]
            sweeps, timed, compile_seconds = compile_blocks(prepared)
            timings["compile_wall_seconds"] = compile_seconds
            common.log(f"figure2: compiled in {compile_seconds:.1f} s")
            for block_prepared, executable, timing_executables in zip(prepared, sweeps, timed):
                block = block_prepared.block
                common.log(f"figure2: {block.kernel} x {block.target} ...")
                block_rows, timings[f"{block.kernel}:{block.target}"] = run_block(block_prepared, executable,
                                                                                 timing_executables)
                rows += block_rows
                for row in block_rows:
                    common.log(f"  {row_label(row):13s} mse {common.fmt(row['mse'])} +- {common.fmt(row['mse_se'], 2)}"
                               f"  diverged {row['diverged']}/{row['replicates']}  acc {row['acceptance']:.3f}")
        payload = {
            "rows": rows,
            "settings": {
                "protocol": "SRMC paper figure 2 (experiments/figure2_continuous_alpha_sweep.py), see "
                            "srmc.tools.reproduce.figure2", "paper": common.PAPER, "paper_code": common.PAPER_CODE,
                "quick": quick, "x64": x64, "seed": seed, "alphas": list(ALPHAS), "adaptive_c": ADAPTIVE_C,
                "matched_steps": MATCHED_STEPS // (10 if quick else 1), "burn_fraction": BURN_FRACTION,
                "diverged_rule": f"estimate not finite or max_i |mean_i - truth_i| / sd_i > {DIVERGED_SD:g}",
                "truth": {"correlated_gaussian": "exact (0)",
                          "synthetic_logistic": "NUTS reference targets/data/synthetic_logistic.json; "
                                                "mse_vs_paper_truth uses the paper code's TRUE_MEAN_LOGISTIC"},
                "gradient": "shifted (proposal drift s(x - alpha_n theta)); exact surrogate in every MH test",
            },
            "timings": timings, "total_seconds": total.seconds, "environment": common.environment(),
        }
    common.write_json(directory / "figure2.json", payload)
    text = table(rows)
    (directory / "figure2.md").write_text(
        f"SRMC paper figure 2 protocol ({'quick' if quick else 'full'}, {'float64' if x64 else 'float32'}, "
        f"seed {seed}); {total.seconds:.0f} s\n\n{text}\n")
    plot(rows, directory)
    print(text)
    return payload


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--x64", action="store_true", help="float64, as the paper's NumPy code (default float32)")
    parser.add_argument("--seed", type=int, default=RUN_SEED, help="key of the replicates (the starts stay fixed)")
    parser.add_argument("--no-timing", action="store_true", help="skip the separate base / SRMC timing programs")


def main(args: argparse.Namespace) -> None:
    run(args.out, quick=args.quick, x64=args.x64, seed=args.seed, timing=False if args.no_timing else None)
