"""The health report: every run says when it cannot be trusted, with the numbers and the likely fix.

`health_report(result, algorithm)` returns a list of `HealthWarning` (a code, a message naming the fix, the numbers
behind it); `srmc.sample` stores it as ``result.warnings`` and `SampleResult.summary` prints it first. Checks:

- ``acceptance_low`` / ``acceptance_high``: mean acceptance below 0.1 or above 0.95 for a Metropolis kernel with a
  step size (the record's `Tuning`): the step is far from what the kernel needs;
- ``frozen_chains``: chains that accepted < 1% of their proposals (they did not move);
- ``nonfinite_proposals``: more than 1% of the steps proposed a non-finite log density or gradient;
- ``nonfinite_estimates``: a function's estimate is not finite;
- ``r_hat``: split R-hat > 1.01 on some coordinate (with stored draws); under equilibrium split R-hat^2 is about
  1 + (tau - 1) / n (n draws per half-chain, tau draws per effective draw), so chains with under about 50 effective
  draws each exceed 1.01 even when mixed: the message says so (run longer; see docs/benchmarks/health.md);
- ``low_ess``: fewer than 100 effective draws on some coordinate (with stored draws): too few for the MCSE;
- ``mcse_disagree``: the chain-spread MCSE is larger than the batch-means MCSE beyond both their errors, after the
  batch-means one is corrected for batches shorter than the autocorrelation (`short_batch_factor`, from the lag-1
  correlation of successive batch means): the chains disagree more than their own autocorrelation explains (not
  mixed, or stuck in different modes). Batches that are merely too short are no warning: the chain-spread MCSE,
  the one reported, is right then. The other way round too (batch means larger), unless the algorithm declares
  that its history makes successive batches negatively correlated
  (`srmc.method.algorithm.Report.anticorrelated_batches`), where the batch-means MCSE is expected to be larger;
- ``warmup_acceptance``: the warm-up ended far (> 0.15) from its target acceptance;
- ``bias_exceeds_mcse``: the estimated finite-n bias of an estimate (of every function estimated: x, x^2, a
  graph walk's visits, the user's own) is larger than its MCSE (`bias_from_halves`): with many chains the MCSE
  shrinks like 1 / sqrt(chains x steps) but a per-chain bias (a history's feedback that decays like log(n) / n; a
  start far from equilibrium like 1 / n) does not shrink with more chains;
- then the algorithm's own checks (``algorithm.report.health``);
- ``float32_precision`` (`srmc.engine.precision`, where the target is given, as the runner does): after one of the
  warnings above that a rough log density causes, a probe of float32 log pi's second differences at the chains'
  final positions; it names float64 as the fix.

Each warning is one line: what was seen, on which coordinates, and the fix that fits the run (`grouped_lines`
folds the warnings of several runs, e.g. a benchmark's configurations, into one line per code).

Which MCSE to believe: with two or more independent chains, the chain-spread MCSE (``result.mcse``) assumes
nothing about a chain's autocorrelation, only independent chains from a good spread of starts, and it sees every
source of error, a history's feedback included: it is the one reported and trusted. The batch-means MCSE works from a
single chain but assumes batches long enough to be nearly independent.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from srmc.engine.precision import precision_warning
from srmc.method.algorithm import HealthWarning

LOW_ACCEPTANCE, HIGH_ACCEPTANCE = 0.1, 0.95
FROZEN_ACCEPTANCE = 0.01
NONFINITE_SHARE = 0.01
MAX_R_HAT = 1.01
MIN_ESS = 100.0
SHORT_CHAIN_ESS = 50.0  # effective draws per chain below which split R-hat's own bias nears its 1.01 bound
MCSE_Z = 4.0  # at least; the F test below sets the bound from the chains' and batches' degrees of freedom
MCSE_FALSE_ALARM = 1e-3  # chance that a healthy run's MCSE comparison fires, over all coordinates and both sides
BIAS_Z = 4.0  # at least; raised so that a run without bias warns with probability < BIAS_FALSE_ALARM
BIAS_FALSE_ALARM = 1e-3
MIN_CHAINS_FOR_BIAS = 8
MAX_LISTED = 8  # coordinates (or runs) named in a warning line; the rest are counted
MAX_BATCH_CORRELATION = 0.95  # lag-1 correlation of batch means beyond which the AR(1) correction is capped


def coordinates(indices: Sequence[int], name: str = "x") -> str:
    """``x[0, 3, 7]``, or ``x[0, 1, ..., 7] (+12 more)`` beyond `MAX_LISTED` indices."""
    indices = [int(i) for i in indices]
    shown = ", ".join(str(i) for i in indices[:MAX_LISTED])
    more = f" (+{len(indices) - MAX_LISTED} more)" if len(indices) > MAX_LISTED else ""
    return f"{name}[{shown}]{more}"


def grouped_lines(labelled: Sequence[tuple[str, str]]) -> list[str]:
    """One line per warning code from ``(run label, warning line)`` pairs of several runs (a line is
    ``str(HealthWarning)``): ``WARNING [code] in base, srmc a=10 (2 of the runs): <the first run's message>``."""
    by_code: dict[str, tuple[list[str], str]] = {}
    for label, line in labelled:
        match = re.match(r"WARNING \[([^\]]+)\]: (.*)", line, re.DOTALL)
        code, message = (match.group(1), match.group(2)) if match else ("", line)
        labels, first = by_code.setdefault(code, ([], message))
        if label not in labels:
            labels.append(label)
    lines = []
    for code, (labels, message) in by_code.items():
        runs = ", ".join(labels[:MAX_LISTED]) + (f" (+{len(labels) - MAX_LISTED} more)" if len(labels) > MAX_LISTED
                                                 else "")
        lines.append(f"WARNING [{code}] in {runs}: {message}" if code else f"{runs}: {message}")
    return lines


def health_report(result: Any, algorithm: Any, target: Any = None) -> list[HealthWarning]:
    """Every `HealthWarning` that applies to `result`, a run of `algorithm` on `target` (see the module doc; without
    the target, no ``float32_precision`` probe)."""
    checks = [
        _acceptance(result, algorithm), _frozen(result), _nonfinite_proposals(result), _nonfinite_estimates(result),
        _r_hat(result, algorithm), _ess(result, algorithm),
        _mcse_disagreement(result, algorithm.report.anticorrelated_batches, algorithm),
        _warmup_acceptance(result, algorithm), _bias(result), chains_behind(result, algorithm),
    ]
    report = [warning for warning in checks if warning is not None] + list(algorithm.report.health(result))
    rough = None if target is None else precision_warning(result, algorithm, target, report)
    return report + ([] if rough is None else [rough])


def _is_metropolis_with_step(algorithm: Any) -> bool:
    tuning = None if algorithm.kernel is None else algorithm.kernel.spec.tuning
    return tuning is not None and tuning.target_acceptance < 1.0


def _acceptance(result: Any, algorithm: Any) -> HealthWarning | None:
    if not _is_metropolis_with_step(algorithm):
        return None
    mean = float(np.mean(result.acceptance_rate))
    target = algorithm.kernel.spec.tuning.target_acceptance
    fix = ("warm up the step size (srmc.sample(..., warmup=1000), srmc run --warmup 1000)" if not result.warmup_steps
           else f"warm up longer than {result.warmup_steps} steps, or weaken the history's feedback if only a "
                "history-dependent algorithm shows it")
    name = algorithm.kernel.spec.name
    if mean < LOW_ACCEPTANCE:
        return HealthWarning("acceptance_low", f"acceptance {mean:.3f}, far below the {target:g} {name} needs (step "
                             f"size too large); {fix}.", {"acceptance": mean, "target": target})
    if mean > HIGH_ACCEPTANCE:
        return HealthWarning("acceptance_high", f"acceptance {mean:.3f}, far above the {target:g} {name} needs (step "
                             f"size so small that chains crawl); {fix}.", {"acceptance": mean, "target": target})
    return None


def _frozen(result: Any) -> HealthWarning | None:
    frozen = np.flatnonzero(np.asarray(result.acceptance_rate) < FROZEN_ACCEPTANCE)
    if not len(frozen):
        return None
    warm = "warm up longer" if result.warmup_steps else "warm up (warmup=1000)"
    return HealthWarning(
        "frozen_chains", f"{len(frozen)} of {result.num_chains} chains ({coordinates(frozen, 'chains ')}) "
        f"accepted under 1% of their proposals and sit near their starts: use a smaller step size or {warm}; for "
        "a history-dependent algorithm, weaker feedback.",
        {"chains": frozen.tolist(), "acceptance": np.asarray(result.acceptance_rate)[frozen].tolist()})


def _nonfinite_proposals(result: Any) -> HealthWarning | None:
    total = int(np.sum(result.num_nonfinite))
    share = total / (result.num_chains * (result.num_steps + result.burn_in))
    if share <= NONFINITE_SHARE:
        return None
    return HealthWarning(
        "nonfinite_proposals", f"{total} proposals ({share:.1%} of the steps) had a non-finite log density or "
        "gradient (outside the support, or overflow) and were rejected: reparametrise (e.g. an unconstrained NumPyro "
        "model), use a smaller step size, or for a history-dependent algorithm weaker feedback.",
        {"num_nonfinite": total, "share": share})


def _nonfinite_estimates(result: Any) -> HealthWarning | None:
    message = result.nonfinite_warning()
    if not message:
        return None
    return HealthWarning("nonfinite_estimates", message, {"functions": result.nonfinite_estimates})


ADAPTIVE_PATH_KERNELS = ("nuts",)  # kernels whose trajectory length adapts to the posterior (by name's end)


def kernel_fix(result: Any, algorithm: Any) -> str:
    """The base kernel's part of the fix for chains that mix slowly: a dense inverse mass where the run held a
    vector (``mass="diagonal"``, or "auto" above its dense size; strong correlations leave a diagonal-mass kernel a
    target of their condition number; an auto mass held as a diagonal matrix already found weak correlations),
    NUTS where the kernel's path length is fixed (MALA, HMC: the posterior suite's failures that NUTS fixes);
    empty where neither applies."""
    kernel = getattr(algorithm, "kernel", None)
    tuning = None if kernel is None else kernel.spec.tuning
    if tuning is None or tuning.inverse_mass_matrix is None:
        return ""
    fixes = []
    kernel_params = getattr(getattr(result, "params", None), "kernel", None)
    mass = kernel_params.get(tuning.inverse_mass_matrix) if isinstance(kernel_params, dict) else None
    if mass is None or np.ndim(mass) < 3:  # per chain: (chains, d) diagonal, (chains, d, d) dense
        fixes.append('a dense mass matrix where coordinates are correlated (srmc.Warmup(N, mass="dense"))')
    if not kernel.spec.name.endswith(ADAPTIVE_PATH_KERNELS):
        fixes.append("NUTS, whose path length adapts (srmc.base(blackjax.nuts) or srmc.wrap(blackjax.nuts, ...); "
                     "CLI --kernel nuts)")
    return "; if the base kernel mixes slowly here, try " + " or ".join(fixes) if fixes else ""


def _r_hat(result: Any, algorithm: Any = None) -> HealthWarning | None:
    r_hat = result.r_hat()
    if r_hat is None:
        return None
    bad = ~(r_hat <= MAX_R_HAT)  # NaN (a chain that never moved) counts as bad
    if not np.any(bad):
        return None
    worst = float(np.nanmax(r_hat)) if np.any(np.isfinite(r_hat)) else float("nan")
    warm = "warm up longer" if result.warmup_steps else "warm up"
    ess = result.ess()
    per_chain = float(np.nanmin(ess)) / result.num_chains if ess is not None and np.any(np.isfinite(ess)) else None
    short = (f" (each chain holds only about {per_chain:.0f} effective draws: below about 50, split R-hat exceeds "
             "1.01 even for mixed chains, by about (draws per effective draw - 1) / draws per half-chain)"
             if per_chain is not None and per_chain < SHORT_CHAIN_ESS else "")
    return HealthWarning(
        "r_hat", f"split R-hat up to {worst:.3f} (> {MAX_R_HAT}) on {coordinates(np.flatnonzero(bad))}: the chains "
        f"disagree or are too short to tell{short}; run longer or {warm}{kernel_fix(result, algorithm)}.",
        {"max_r_hat": worst, "coordinates": np.flatnonzero(bad).tolist()})


def _ess(result: Any, algorithm: Any = None) -> HealthWarning | None:
    ess = result.ess()
    if ess is None:
        return None
    smallest = float(np.nanmin(ess))
    if smallest >= MIN_ESS:
        return None
    return HealthWarning(
        "low_ess", f"only {smallest:.0f} effective stored draws (< {MIN_ESS:g}) on "
        f"{coordinates(np.flatnonzero(~(ess >= MIN_ESS)))}: too few to trust R-hat and ESS; run longer or store "
        f"draws more often (smaller thin){kernel_fix(result, algorithm)}.",
        {"min_ess": smallest, "coordinates": np.flatnonzero(~(ess >= MIN_ESS)).tolist()})


def mcse_disagreement(result: Any, name: str = "x") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(chain-spread MCSE, batch-means MCSE, z of log(spread / batch means) against their own errors), or None.

    The spread MCSE over C chains has relative error ~ 1 / sqrt(2 (C - 1)); the pooled batch-means MCSE over C
    chains of B batches ~ 1 / sqrt(2 C (B - 1)).
    """
    if result.num_chains < 2 or name not in result.batch_means:
        return None
    batches = result.batch_means[name].shape[1]
    if batches < 2:
        return None
    spread, within = np.ravel(result.mcse(name)), np.ravel(result.batch_means_mcse(name))
    relative = np.sqrt(1.0 / (2.0 * (result.num_chains - 1)) + 1.0 / (2.0 * result.num_chains * (batches - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(spread / within) / relative
    return spread, within, z


def short_batch_factor(result: Any, name: str = "x") -> np.ndarray | None:
    """Per coordinate, how much the batch-means MCSE understates the error when its batches are shorter than the
    chain's autocorrelation: ``sqrt((1 + r) / (1 - r))``, r the lag-1 correlation of successive batch means
    (pooled over chains, each centred on its own mean; clipped to [0, `MAX_BATCH_CORRELATION`]), the AR(1)
    approximation of the batch-mean sequence. 1 where successive batches are uncorrelated (long enough)."""
    batches = result.batch_means.get(name)
    if batches is None or batches.shape[1] < 3:
        return None
    values = np.asarray(batches, np.float64).reshape(batches.shape[0], batches.shape[1], -1)
    centred = values - values.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sum(centred[:, 1:] * centred[:, :-1], axis=(0, 1)) / np.sum(centred**2, axis=(0, 1))
    r = np.clip(np.nan_to_num(r, nan=0.0), 0.0, MAX_BATCH_CORRELATION)
    return np.sqrt((1.0 + r) / (1.0 - r))


def mcse_ratio_bounds(num_chains: int, num_batches: int, num_coordinates: int) -> tuple[float, float]:
    """(low, high) bounds on log(chain-spread MCSE / batch-means MCSE) that a healthy run crosses with probability
    `MCSE_FALSE_ALARM` over all coordinates and both sides: the squared ratio of the two variance estimates is
    F-distributed with (chains - 1, chains x (batches - 1)) degrees of freedom when both are right. (The normal
    approximation of the log ratio is too thin in the low tail for 16 chains: a healthy iid-Gaussian run fired.)"""
    from scipy import stats

    tail = MCSE_FALSE_ALARM / (2 * num_coordinates)
    dfn, dfd = max(num_chains - 1, 1), max(num_chains * (num_batches - 1), 1)
    return 0.5 * float(np.log(stats.f.ppf(tail, dfn, dfd))), 0.5 * float(np.log(stats.f.isf(tail, dfn, dfd)))


def _mcse_disagreement(result: Any, anticorrelated_batches: bool, algorithm: Any = None) -> HealthWarning | None:
    compared = mcse_disagreement(result)
    if compared is None:
        return None
    spread, within, z = compared
    factor = short_batch_factor(result)
    batches = result.batch_means["x"].shape[1]
    relative = np.sqrt(1.0 / (2.0 * (result.num_chains - 1)) + 1.0 / (2.0 * result.num_chains * (batches - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_corrected = z if factor is None else z - np.log(factor) / relative
    low, high = mcse_ratio_bounds(result.num_chains, batches, z.size)
    finite = np.isfinite(z)
    spread_larger = finite & (z_corrected > max(MCSE_Z, high / relative))
    within_larger = finite & (z < min(-MCSE_Z, low / relative)) & (not anticorrelated_batches)
    if not np.any(spread_larger | within_larger):
        return None
    flagged = spread_larger | within_larger
    worst = int(np.argmax(np.where(flagged, np.abs(z), -np.inf)))
    numbers = (f"(worst x[{worst}]: chain spread {spread[worst]:.3g} vs batch means {within[worst]:.3g}, "
               f"z = {z[worst]:.1f})")
    if np.any(spread_larger):
        what = (f"the chains' estimates scatter more than each chain's own fluctuations explain on "
                f"{coordinates(np.flatnonzero(flagged))} {numbers}: chains not mixed (stuck in different modes, or "
                "still leaving their starts); run longer or warm up, and check the target for separated modes"
                f"{kernel_fix(result, algorithm)}")
    else:
        what = (f"the batch-means MCSE exceeds the chain spread's on {coordinates(np.flatnonzero(flagged))} "
                f"{numbers}: batches shorter than the autocorrelation; the reported chain-spread MCSE stands")
    return HealthWarning("mcse_disagree", what + ".", {"spread": spread.tolist(), "batch_means": within.tolist(),
                                                       "z": z.tolist(), "coordinates": np.flatnonzero(flagged).tolist(),
                                                       "short_batch_factor": None if factor is None
                                                       else factor.tolist()})


def _warmup_acceptance(result: Any, algorithm: Any) -> HealthWarning | None:
    stats = result.warmup_stats
    if stats is None or not _is_metropolis_with_step(algorithm):
        return None
    target = algorithm.kernel.spec.tuning.target_acceptance
    reached = float(stats.acceptance)
    if abs(reached - target) <= 0.15:
        return None
    return HealthWarning(
        "warmup_acceptance", f"the warm-up ended at acceptance {reached:.3f}, far from its target {target:g}: "
        f"{result.warmup_steps} steps were too few to adapt the step size (or no fixed step fits the target); warm "
        "up longer.",
        {"acceptance": reached, "target": target})


def bias_from_halves(result: Any, name: str = "x") -> tuple[np.ndarray, np.ndarray] | None:
    """(estimated bias of the pooled estimate of `name`, its standard error) per coordinate, or None.

    A bias that decays like b(n) ~ c log(n) / n (a history's feedback) or c / n (a start out of equilibrium) makes the
    running mean at n / 2 sit about b(n) further from the truth than at n; the mean over chains of the difference
    (halfway estimate - final estimate) estimates b(n), with the chains' spread as its error. Under no bias it is
    zero within that error.
    """
    half = result.halfway_estimates.get(name)
    if half is None or result.num_chains < MIN_CHAINS_FOR_BIAS:
        return None
    difference = (np.asarray(half, np.float64) - np.asarray(result.chain_estimates[name], np.float64))
    difference = difference.reshape(result.num_chains, -1)
    return difference.mean(axis=0), difference.std(axis=0, ddof=1) / np.sqrt(result.num_chains)


def bias_threshold(num_coordinates: int, num_chains: int) -> float:
    """|z| above which `bias_from_halves` flags a coordinate: Student-t with chains - 1 degrees of freedom,
    Bonferroni over both sides of `num_coordinates` coordinates (those of every function checked) at
    `BIAS_FALSE_ALARM`, and at least `BIAS_Z`."""
    from scipy import stats

    return max(BIAS_Z, float(stats.t.isf(BIAS_FALSE_ALARM / (2 * num_coordinates), num_chains - 1)))


def _bias(result: Any) -> HealthWarning | None:
    """``bias_exceeds_mcse`` on the first function (x, x^2, then the rest in order: a graph walk's ``visits``, the
    user's own) whose `bias_from_halves` exceeds both its threshold and the MCSE on some coordinate."""
    names = sorted(result.halfway_estimates, key=lambda name: (name not in ("x", "x^2"), name != "x"))
    estimated = {name: bias_from_halves(result, name) for name in names}
    estimated = {name: value for name, value in estimated.items() if value is not None}
    if not estimated:
        return None
    threshold = bias_threshold(sum(bias.size for bias, _ in estimated.values()), result.num_chains)
    for name, (bias, stderr) in estimated.items():
        mcse = np.ravel(result.mcse(name))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.abs(bias) / stderr
            ratio = np.abs(bias) / mcse
        flagged = np.isfinite(z) & (z > threshold) & (np.abs(bias) > mcse)
        if not np.any(flagged):
            continue
        worst = int(np.argmax(np.where(flagged, ratio, -np.inf)))
        burn = "a longer burn-in" if result.burn_in else "a burn-in as long as the run"
        return HealthWarning(
            "bias_exceeds_mcse", f"the estimates of {coordinates(np.flatnonzero(flagged), name)} still drift: over "
            f"the second half of the run {name}[{worst}]'s running mean moved {bias[worst]:.3g} (z = {z[worst]:.1f}), "
            f"{ratio[worst]:.1f} x its MCSE {mcse[worst]:.3g}, a finite-n bias the error bar does not cover (more "
            f"chains shrink the MCSE, not the bias): run longer, add {burn}, or for a history-dependent algorithm "
            "weaker feedback.",
            {"function": name, "bias": bias.tolist(), "bias_stderr": stderr.tolist(), "mcse": mcse.tolist(),
             "coordinates": np.flatnonzero(flagged).tolist()})
    return None


BEHIND_SDS, BEHIND_NATS = 5.0, 10.0  # chains_behind: how far below the median chain's mean log pi


def chains_behind(result: Any, algorithm: Any = None) -> HealthWarning | None:
    """``chains_behind``: chains whose mean log pi over the warm-up's measurement phase lies below the median
    chain's by more than max(`BEHIND_SDS` x the median within-chain sd of log pi, `BEHIND_NATS`): they had not
    reached the bulk when the run started (at equilibrium a chain's mean log pi is within a few within-chain sds
    of the others'; the nats floor keeps a low-dimensional target's long lower tail of log pi from raising it)."""
    stats = getattr(result, "warmup_stats", None)
    extra = {} if stats is None else getattr(stats, "extra", {}) or {}
    means, sds = extra.get("logdensity_by_chain"), extra.get("logdensity_sd_by_chain")
    if means is None or sds is None or np.size(means) < 2:
        return None
    means, sds = np.asarray(means, float), np.asarray(sds, float)
    centre = float(np.median(means[np.isfinite(means)])) if np.any(np.isfinite(means)) else float("nan")
    gap = max(BEHIND_SDS * float(np.median(sds[np.isfinite(sds)])) if np.any(np.isfinite(sds)) else 0.0, BEHIND_NATS)
    behind = np.flatnonzero(~(means >= centre - gap))  # NaN counts as behind
    if not np.isfinite(centre) or behind.size == 0:
        return None
    worst = behind[np.argmin(np.where(np.isfinite(means[behind]), means[behind], -np.inf))]
    return HealthWarning(
        "chains_behind",
        f"{behind.size} of {means.size} chains were still far behind after the warm-up: their mean log density "
        f"over its measurement phase lies more than {gap:.3g} below the median chain's {centre:.4g} (chain "
        f"{worst}: {means[worst]:.4g}); their draws are not from the bulk of pi. Fix: start near the bulk "
        "(srmc.Warmup(quick_start=True), or a NumPyro model's init_strategy), or warm up longer "
        f"(srmc.sample(..., warmup=4000)){kernel_fix(result, algorithm)}.",
        {"chains": behind.tolist(), "median_logdensity": centre, "gap": gap},
    )
