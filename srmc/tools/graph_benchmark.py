"""Replicate benchmarks of SRRW and HDT on a graph target: how close each chain's visit measure comes to mu.

Every configuration runs `num_replicates` independent chains through `srmc.sample` (the engine), each started
from an exact draw of mu, for `num_steps` counted steps (no warm-up: graph kernels have nothing to tune). With
v_r the visit measure of replicate r (``result.chain_estimates["visits"]``, (|V|,)) and e_r = v_r - mu:

- TVD: mean_r (1/2) sum_i |e_ri|, with the standard error std_r / sqrt(R).
- NRMSE: (1/|V|) sum_i sqrt(mean_r e_ri^2) / mu_i (the papers' normalised root mean squared error, averaged over
  nodes); its standard error by the delta method, from the influence values
  psi_r = (1/|V|) sum_i e_ri^2 / (2 sqrt(m_i) mu_i), m_i = mean_r e_ri^2.
- n MSE: n mean_r ||e_r||^2 (the trace of n Cov around the exact mu, bias included), with its standard error.
- ratio: n MSE of the base kernel / n MSE of the row, with the delta-method standard error of a ratio of two
  independent means.
- formula: the asymptotic ratio tr V_base / tr V_method from `srmc.method.graph_theory` where it applies (the
  full history, a graph of at most `FORMULA_MAX_NODES` nodes): a = 1: SRRW's spectral sum, HDT V_base / (2 alpha +
  1); a < 1 (the visit average): SRRW's sum over c_i^-2, HDT V_base / (alpha + 1)^2. With an alpha ramp the
  limit is that of the constant alpha (alpha_n -> alpha); the finite-n value lags it. The LRU variant has no
  formula.
- evals/step: target evaluations per chain-step (a (mu_j, x_j) read): the base kernel and HDT read the current and
  the proposed node (MTM: 2 k for k tries); SRRW reads the closed neighbourhood of the current node, counted here
  as sum_i v_i (d_i + 1) from the run's own visit measure.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from srmc.engine.options import RunOptions
from srmc.engine.runner import sample
from srmc.method import graph_theory
from srmc.method.graph_base import graph_base
from srmc.method.hdt import hdt
from srmc.method.srrw import srrw
from srmc.samplers import mhrw, mtm, nbrw
from srmc.samplers.graph_spec import check_params
from srmc.targets import Target

GRAPH_KERNELS = {"mhrw": mhrw, "nbrw": nbrw, "mtm": mtm}
METHODS = ("base", "srrw", "hdt")
FORMULA_MAX_NODES = 2000  # dense eigendecompositions above this size cost more than the runs


class GraphRow(NamedTuple):
    """One configuration's replicate statistics (see the module doc for each definition)."""

    method: str
    alpha: float
    tvd: float
    tvd_se: float
    nrmse: float
    nrmse_se: float
    n_mse: float
    n_mse_se: float
    ratio: float
    ratio_se: float
    formula_ratio: float
    evaluations_per_step: float
    seconds_per_step: float
    warnings: tuple[str, ...]


class GraphBenchmarkReport(NamedTuple):
    """The settings (target, kernel, sizes, schedules) and one `GraphRow` per configuration, base first."""

    settings: dict
    rows: list[GraphRow]


def is_graph_target(target: Any) -> bool:
    """Whether `target` is a graph target (`srmc.targets.graph`)."""
    return hasattr(getattr(target, "graph", None), "structure")


def graph_kernel(name: str) -> Any:
    """The graph kernel module `name` (mhrw, nbrw, mtm), or a ValueError listing them."""
    if name not in GRAPH_KERNELS:
        raise ValueError(f"--kernel {name!r} is not a graph kernel; graph targets take one of "
                         f"{', '.join(GRAPH_KERNELS)} (default mhrw).")
    return GRAPH_KERNELS[name]


def parse_methods(text: str) -> tuple[str, ...]:
    """``"base,srrw,hdt"`` as a tuple, or a ValueError naming the unknown method and the choices."""
    methods = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"--method must be a comma-separated list of {', '.join(METHODS)}, got {text!r}.")
    return methods


def evaluations_per_step(method: str, kernel: Any, kernel_params: dict, degrees: np.ndarray,
                         visits: np.ndarray) -> float:
    """Target evaluations per chain-step (module doc): SRRW sum_i v_i (d_i + 1) averaged over replicates; the
    others 2 (MTM: 2 k)."""
    if method == "srrw":
        return float(np.mean(visits @ (degrees + 1.0)))
    tries = kernel_params.get("num_tries", 3) if kernel.spec.name == "mtm" else 1
    return 2.0 * tries


def formula_traces(kernel: Any, kernel_params: dict, target: Target, alpha: float,
                   step_exponent: float) -> dict[str, float]:
    """tr V of the base kernel, SRRW (reversible kernels with a row) and HDT for the visit average; {} when the
    graph has more than `FORMULA_MAX_NODES` nodes."""
    graph = target.graph
    if graph.num_nodes > FORMULA_MAX_NODES:
        return {}
    chain = kernel.spec.exact_chain(graph.structure, np.log(graph.mu), **kernel_params)
    base = graph_theory.lifted_covariance(chain.matrix, chain.node, graph.num_nodes)
    traces = {"base": float(np.trace(base))}
    if step_exponent == 1.0:
        traces["hdt"] = float(np.trace(graph_theory.hdt_covariance(base, alpha)))
    else:
        traces["hdt"] = float(np.trace(graph_theory.hdt_average_covariance(base, alpha)))
    if kernel.spec.transition_row is not None and kernel.spec.reversible:
        formula = graph_theory.srrw_covariance if step_exponent == 1.0 else graph_theory.srrw_average_covariance
        traces["srrw"] = float(np.trace(formula(chain.matrix, graph.mu, alpha)))
    return traces


def _statistics(visits: np.ndarray, mu: np.ndarray, num_steps: int) -> dict[str, float]:
    """TVD, NRMSE and n MSE with their standard errors over replicates (module doc)."""
    errors = visits - mu
    count = errors.shape[0]
    tvd = 0.5 * np.abs(errors).sum(axis=1)
    squared = errors ** 2
    node_mse = squared.mean(axis=0)
    root = np.sqrt(np.maximum(node_mse, np.finfo(float).tiny))
    influence = (squared / (2.0 * root * mu)).mean(axis=1)
    n_mse = num_steps * squared.sum(axis=1)
    return {"tvd": tvd.mean(), "tvd_se": tvd.std(ddof=1) / np.sqrt(count),
            "nrmse": float(np.mean(np.sqrt(node_mse) / mu)), "nrmse_se": influence.std(ddof=1) / np.sqrt(count),
            "n_mse": n_mse.mean(), "n_mse_se": n_mse.std(ddof=1) / np.sqrt(count)}


def configurations(methods: Sequence[str], kernel: Any, kernel_params: dict, alphas: Sequence[float],
                   caches: Sequence[float], alpha_ramp: float, step_exponent: float) -> list[tuple[str, float, Any]]:
    """(label, alpha, algorithm) of every row: the base kernel once (alpha 0), then SRRW, HDT and HDT with each LRU
    fraction at every alpha (alpha 0 left out when the base row is there: it is the base chain)."""
    rows = [("base", 0.0, graph_base(kernel, **kernel_params))] if "base" in methods else []
    common = {"step_exponent": step_exponent, "alpha_ramp": alpha_ramp, "kernel_params": kernel_params}
    for alpha in alphas:
        if alpha == 0.0 and "base" in methods:
            continue
        if "srrw" in methods:
            rows.append(("srrw", alpha, srrw(kernel, alpha, **common)))
        if "hdt" in methods:
            rows.append(("hdt", alpha, hdt(kernel, alpha, **common)))
            rows += [(f"hdt lru {r:g}", alpha, hdt(kernel, alpha, cache=r, **common)) for r in caches]
    return rows


def graph_benchmark(rng_key: Any, target: Target, methods: Sequence[str] = METHODS, kernel: Any = mhrw,
                    alphas: Sequence[float] = (0.0, 1.0, 5.0, 10.0), num_steps: int = 10_000,
                    num_replicates: int = 100, *, kernel_params: dict | None = None, caches: Sequence[float] = (),
                    alpha_ramp: float = 0.0, step_exponent: float = 1.0) -> GraphBenchmarkReport:
    """Run every configuration (`configurations`) through `srmc.sample` and measure its visit measures against mu.

    Every configuration uses the same key, so the replicates' starts (exact draws of mu) are shared; the rows'
    standard errors treat configurations as independent. Raises a ValueError naming the argument for a target
    that is not a graph, SRRW on a kernel without a transition row, fewer than 2 replicates, or bad numbers.
    """
    if not is_graph_target(target):
        raise ValueError(f"target must be a graph target (srmc.targets.graph(G) or e.g. karate_club), got "
                         f"{getattr(target, 'name', target)!r}.")
    if num_replicates < 2:
        raise ValueError(f"--replicates must be >= 2 (the standard errors need a spread), got {num_replicates}.")
    kernel_params = dict(kernel_params or {})
    if "srrw" in methods and kernel.spec.transition_row is None:
        raise ValueError(f"--method srrw needs a kernel that hands over its transition row; {kernel.spec.name} "
                         "cannot. Use --kernel mhrw for SRRW, or leave srrw out (HDT runs on any kernel).")
    if any(alpha < 0 or not np.isfinite(alpha) for alpha in alphas):
        raise ValueError(f"--alpha must be finite and >= 0 (0: the base chain), got {list(alphas)}.")
    graph = target.graph
    key_start, key_run = jax.random.split(rng_key)
    positions = target.sample(key_start, num_replicates)
    degrees = np.asarray(graph.structure.degrees, np.float64)
    options = RunOptions(progress=False)
    rows, traces_by_alpha = [], {}
    measured = []
    for label, alpha, algorithm in configurations(methods, kernel, kernel_params, alphas, caches, alpha_ramp,
                                                  step_exponent):
        result = sample(key_run, algorithm, target, num_steps, num_replicates, initial_position=positions,
                        warmup=0, options=options)
        visits = np.asarray(result.chain_estimates["visits"], np.float64)
        stats = _statistics(visits, graph.mu, num_steps)
        if alpha not in traces_by_alpha:
            traces_by_alpha[alpha] = formula_traces(kernel, kernel_params, target, alpha, step_exponent)
        seconds = max(result.wall_time - result.compile_time, 0.0) / num_steps
        measured.append((label, alpha, stats, evaluations_per_step(label, kernel, kernel_params, degrees, visits),
                         seconds, tuple(str(w) for w in result.warnings)))
    base = next((stats for label, _, stats, *_ in measured if label == "base"), None)
    for label, alpha, stats, evaluations, seconds, warnings in measured:
        ratio = ratio_se = formula = float("nan")
        if base is not None:
            ratio = base["n_mse"] / stats["n_mse"]
            ratio_se = ratio * np.hypot(base["n_mse_se"] / base["n_mse"], stats["n_mse_se"] / stats["n_mse"])
            traces = traces_by_alpha.get(alpha, {})
            name = "base" if label == "base" else label
            if name in traces:
                formula = traces["base"] / traces[name]
        rows.append(GraphRow(label, float(alpha), stats["tvd"], stats["tvd_se"], stats["nrmse"], stats["nrmse_se"],
                             stats["n_mse"], stats["n_mse_se"], float(ratio), float(ratio_se), float(formula),
                             evaluations, seconds, warnings))
    settings = {"target": target.name, "kernel": kernel.spec.name, "kernel_params": kernel_params,
                "num_steps": num_steps, "num_replicates": num_replicates, "step_exponent": step_exponent,
                "alpha_ramp": alpha_ramp, "caches": list(caches), "num_nodes": graph.num_nodes,
                "date": time.strftime("%Y-%m-%d", time.gmtime())}
    return GraphBenchmarkReport(settings, rows)


def graph_header(report: GraphBenchmarkReport) -> str:
    """Two lines saying what `format_graph_table` shows."""
    s = report.settings
    ramp = f", alpha ramp over {s['alpha_ramp']:g} steps" if s["alpha_ramp"] else ""
    params = f" {s['kernel_params']}" if s["kernel_params"] else ""
    return (f"{s['target']}, {s['kernel']}{params}, {s['num_replicates']} replicates x "
            f"{s['num_steps']} steps from exact draws of mu, gamma_n = (n + 1)^-{s['step_exponent']:g}{ramp}\n"
            "TVD, NRMSE of each chain's visit measure against mu (+- se over replicates); n MSE = steps x "
            "E||visits - mu||^2; ratio = base n MSE / n MSE +- se; formula = tr V_base / tr V (n -> infinity, "
            "graph_theory; '-': none); evals = target evaluations per chain-step; us/step: all replicates")


def format_graph_table(rows: Sequence[GraphRow]) -> str:
    """The rows as a fixed-width table."""
    head = (f"{'method':<14}{'alpha':>6}{'TVD':>20}{'NRMSE':>20}{'n MSE':>20}{'ratio':>16}{'formula':>9}"
            f"{'evals':>7}{'us/step':>9}")
    lines = [head]
    for r in rows:
        formula = f"{r.formula_ratio:>9.2f}" if np.isfinite(r.formula_ratio) else f"{'-':>9}"
        ratio = f"{r.ratio:>8.2f} +- {r.ratio_se:<4.2f}" if np.isfinite(r.ratio) else f"{'-':>16}"
        lines.append(f"{r.method:<14}{r.alpha:>6g}{r.tvd:>10.4f} +- {r.tvd_se:<6.4f}{r.nrmse:>10.4f} +- "
                     f"{r.nrmse_se:<6.4f}{r.n_mse:>10.4f} +- {r.n_mse_se:<6.4f}{ratio}{formula}"
                     f"{r.evaluations_per_step:>7.2f}{1e6 * r.seconds_per_step:>9.1f}")
    return "\n".join(lines)


GRAPH_ONLY_FLAGS = {"method": "--method", "cache": "--cache", "alpha_ramp": "--alpha-ramp",
                    "step_exponent": "--step-exponent"}


def refuse_graph_flags(args: Any) -> None:
    """A ValueError when a flag of graph targets only (--method, --cache, --alpha-ramp, --step-exponent) was given
    with another target."""
    given = [flag for name, flag in GRAPH_ONLY_FLAGS.items() if getattr(args, name, None) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: only for graph targets (e.g. karate_club; `srmc targets` lists "
                         f"them), not for {args.target}; leave it out.")


CONTINUOUS_ONLY_FLAGS = {"out": "--out", "control_variates": "--control-variates",
                         "independent_keys": "--independent-keys", "alpha_warmup": "--alpha-warmup",
                         "step_size": "--step-size", "num_integration_steps": "--num-integration-steps",
                         "damping": "--damping", "burn_in": "--burn-in", "dim": "--dim"}


def refuse_continuous_flags(args: Any) -> None:
    """A ValueError naming the bench flags a graph target does not use (rather than ignoring them)."""
    given = [flag for name, flag in CONTINUOUS_ONLY_FLAGS.items() if getattr(args, name, None) not in (None, False, 0)]
    if given:
        raise ValueError(f"{', '.join(given)}: not used by the graph benchmark (SRRW/HDT on {args.target}); leave "
                         "it out. Graph targets take --kernel, --kernel-param, --method, --alpha, --cache, "
                         "--alpha-ramp, --step-exponent, --steps, --replicates, --seed.")


def _parse_fractions(text: str | None) -> list[float]:
    """``--cache 0.01,0.1`` as fractions in (0, 1]."""
    if text is None:
        return []
    try:
        fractions = [float(item) for item in text.split(",")]
    except ValueError:
        fractions = [float("nan")]
    if not all(0.0 < r <= 1.0 for r in fractions):
        raise ValueError(f"--cache expects comma-separated fractions in (0, 1] of the nodes HDT's LRU cache keeps "
                         f"(e.g. 0.1,0.2), got {text!r}.")
    return fractions


def bench_from_args(args: Any, target: Target, alphas: Sequence[float], kernel_given: bool) -> GraphBenchmarkReport:
    """`srmc bench` on a graph target: check the flags, run `graph_benchmark`, print the header and the table.

    --kernel defaults to mhrw here (mhrw, nbrw, mtm); --method to base,srrw,hdt (srrw only where the kernel hands
    over its row: left out with a note when --method was not given); --cache r1,r2 adds HDT's LRU rows;
    --alpha-ramp W and --step-exponent a are the history's schedules."""
    kernel = graph_kernel(args.kernel if kernel_given else "mhrw")
    refuse_continuous_flags(args)
    kernel_params = {}
    for pair in args.kernel_param:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--kernel-param expects key=value (e.g. num_tries=5), got {pair!r}.")
        kernel_params[key] = int(value) if value.lstrip("-").isdigit() else value
    check_params(kernel.spec, kernel_params, "--kernel-param")
    methods = parse_methods(args.method) if args.method is not None else METHODS
    if args.method is None and kernel.spec.transition_row is None:
        methods = tuple(m for m in methods if m != "srrw")
        print(f"note: srrw left out: {kernel.spec.name} cannot hand over its transition row (SRRW needs mhrw)")
    caches = _parse_fractions(args.cache)
    if caches and "hdt" not in methods:
        raise ValueError("--cache adds HDT's LRU rows; add hdt to --method (e.g. --method base,hdt).")
    ramp = 0.0 if args.alpha_ramp is None else args.alpha_ramp
    if not (np.isfinite(ramp) and ramp >= 0):
        raise ValueError(f"--alpha-ramp must be a number of steps >= 0 (0: constant alpha), got {ramp!r}.")
    exponent = 1.0 if args.step_exponent is None else args.step_exponent
    if not 0.5 < exponent <= 1.0:
        raise ValueError(f"--step-exponent must lie in (1/2, 1] (gamma_n = (n + 1)^-a), got {exponent!r}.")
    report = graph_benchmark(jax.random.key(args.seed), target, methods, kernel, alphas, args.steps,
                             args.replicates, kernel_params=kernel_params, caches=caches, alpha_ramp=ramp,
                             step_exponent=exponent)
    print(graph_header(report))
    print(format_graph_table(report.rows), flush=True)
    for row in report.rows:
        for line in row.warnings:
            print(f"{row.method} alpha={row.alpha:g}: {line}")
    return report
