"""`srmc.walk_jump`: walk-jump samples of a target through `srmc.sample` (chains = walks run in parallel).

The sampler is `srmc.method.walk_jump.walk_jump_algorithm`; this entry point resolves sigma, M, h and the smoothing
(`srmc.method.walk_jump_setup`), checks the input before anything compiles, runs ``num_walks x M`` engine steps
per chain with ``thin = M`` (every stored draw is one walk's jump) and returns the samples walk-major with their
diagnostics. Progress bar, chunks, checkpoints between stages (a resumed run is bit-identical), devices and the
health report are the engine's (`srmc.RunOptions`, `srmc.Checkpointing`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.engine.options import RunOptions
from srmc.engine.runner import sample
from srmc.method import walk_jump_setup as setup
from srmc.method.algorithm import HealthWarning
from srmc.method.smoothing import Smoothing, importance_effective_draws
from srmc.method.walk_jump import DEFAULT_NUM_INNER_STEPS, MALA, InnerKernel, check_inner, walk_jump_algorithm
from srmc.targets import Target
from srmc.targets.space import check_int

Array = jax.Array

MIN_EFFECTIVE_DRAWS = 2.0  # median Kish effective draws of an importance-sampled smoothing below this: a warning
SMOOTHING_CHECK_POINTS = 256


class WalkJumpResult(NamedTuple):
    """Samples and diagnostics of `walk_jump`.

    Attributes:
      samples: (num_samples, d) jumps x̂ = E[X | y_{1:M}], one per walk (walk-major: every chain's first walk,
        then every chain's second, ...).
      final_means: (num_samples, d) the walks' ȳ_M (law p_{sigma^2/M} for an exact walk).
      acceptance_rate: mean inner acceptance probability over the stages of the kept walks.
      first_stage_acceptance, later_stage_acceptance: mean inner acceptance of the first measurement's stages and
        of the later ones (pooled over chains, burn-in walks included).
      num_nonfinite: inner proposals that were not finite (rejected, counted; burn-in included).
      num_nonfinite_samples: samples with a non-finite coordinate (they are in `samples`: drop them).
      noise_scale, num_measurements, step_size, num_inner_steps: sigma, M, h and K used.
      num_chains, num_walks_per_chain, burn_in_walks: the run's shape (burn-in walks are run and discarded).
      smoothing: the smoothing's name (``"exact"`` or the estimator).
      gradient_evaluations: target evaluations of the whole run, burn-in included (`evaluations_per_stage`).
      warnings: the health report (`srmc.HealthWarning` list; empty for a healthy run).
      run: the engine's `srmc.SampleResult` (estimates over the jumps, timings, final states, ``summary()``).
    """

    samples: Array
    final_means: Array
    acceptance_rate: float
    first_stage_acceptance: float
    later_stage_acceptance: float
    num_nonfinite: int
    num_nonfinite_samples: int
    noise_scale: float
    num_measurements: int
    step_size: float
    num_inner_steps: int
    num_chains: int
    num_walks_per_chain: int
    burn_in_walks: int
    smoothing: str
    gradient_evaluations: int
    warnings: list
    run: Any


def walk_jump(rng_key: Array, target_or_logdensity: Any, num_samples: int, *, noise_scale: float | None = None,
              num_measurements: int | None = None, dim: int | None = None, scale: Any = None,
              step_size: float | None = None, num_inner_steps: int = DEFAULT_NUM_INNER_STEPS,
              inner: InnerKernel = MALA, num_chains: int | None = None, burn_in_walks: int = 0,
              initial_position: Any = None, smoothing: Smoothing | None = None,
              num_draws: int = setup.DEFAULT_NUM_DRAWS, score_form: str = "noise", progress: bool = False,
              chunk_size: int | None = None, devices: Any = None, checkpoint: Any = None) -> WalkJumpResult:
    """Draw `num_samples` samples of pi by walk-jump sampling on the engine; each chain yields one per walk.

    Args:
      rng_key: a JAX key.
      target_or_logdensity: a continuous `Target` (its ``smoothed_logdensity`` is used where it has one) or a
        JAX-differentiable function x -> log pi(x) with `dim`.
      num_samples: how many samples (jumps) to return.
      noise_scale: sigma > 0; default `NOISE_SCALE_FACTOR` * scale (`walk_jump_setup` explains the rules).
      num_measurements: M >= 1 per walk; default from sigma and the scale.
      dim: the dimension, for a plain log density.
      scale: pi's per-coordinate standard deviation (a number or d numbers; the largest is used) for the
        defaults; default: the target's ground truth. Needed unless noise_scale and num_measurements are given.
      step_size: the inner step size; default scaled by sigma^2 (`walk_jump_setup`).
      num_inner_steps: K inner steps per measurement.
      inner: `MALA` (Metropolis-corrected; exact stages with a closed-form smoothing) or `ULA` (biased by O(h)).
      num_chains: walks run in parallel; default num_samples (one walk each, independent samples).
      burn_in_walks: walks per chain run first and discarded (their stages start from `initial_position`).
      initial_position: (d,) or (num_chains, d) starts of the first measurement's chain; default the target's.
      smoothing: a `Smoothing` record; default the target's closed form, else `importance_smoothing` of its log
        density with `num_draws` draws and `score_form` (``"noise"`` or ``"gradient"``).
      progress, chunk_size, devices: as `srmc.RunOptions` (a chunk is rounded up to whole walks).
      checkpoint: a path or `srmc.Checkpointing`: the run is saved between chunks (whole walks) and resumes bit
        for bit.

    Returns:
      `WalkJumpResult`: samples (num_samples, d) and diagnostics. The jump is E[X | y_{1:M}], whose law is pi
      smoothed and shrunk at finite M (on a Gaussian N(m, C): N(m, C (C + sigma^2/M I)^-1 C)), not pi itself.
    """
    target = setup.resolve_target(target_or_logdensity, dim)
    num_samples = check_int(num_samples, "num_samples")
    check_inner(inner)
    resolved = setup.resolve_smoothing(target, smoothing, num_draws, score_form)
    noise_scale, num_measurements, step_size = setup.resolve_numbers(target, scale, noise_scale, num_measurements,
                                                                     step_size, inner.corrected)
    num_inner_steps = check_int(num_inner_steps, "num_inner_steps")
    num_chains = num_samples if num_chains is None else check_int(num_chains, "num_chains")
    burn_in_walks = check_int(burn_in_walks, "burn_in_walks", minimum=0)
    num_walks = -(-num_samples // num_chains)
    key_start, key_run = jax.random.split(rng_key)
    positions = setup.starting_positions(key_start, target, num_chains, initial_position)
    check_score(target, resolved, positions[0], noise_scale)
    setup.check_finite_start(target.logdensity, resolved, positions[0], noise_scale)
    algorithm = walk_jump_algorithm(noise_scale=noise_scale, num_measurements=num_measurements, step_size=step_size,
                                    num_inner_steps=num_inner_steps, inner=inner, smoothing=smoothing,
                                    num_draws=num_draws, score_form=score_form)
    options = RunOptions(burn_in=burn_in_walks * num_measurements, thin=num_measurements, progress=progress,
                         chunk_size=chunk_size, devices=devices)
    run = sample(key_run, algorithm, target, num_walks * num_measurements, num_chains, initial_position=positions,
                 warmup=0, options=options, checkpoint=checkpoint)
    numbers = (noise_scale, num_measurements, step_size, num_inner_steps)
    result = collect(run, resolved, numbers, num_samples, num_walks, burn_in_walks, inner.corrected)
    if smoothing is None and target.smoothed_logdensity is None:  # the default importance-sampled smoothing
        checks = smoothing_health(jax.random.fold_in(key_run, 1), target.logdensity, result.final_means,
                                  noise_scale, num_measurements, num_draws)
        result = result._replace(warnings=result.warnings + checks)
    return result


def check_score(target: Target, smoothing: Smoothing, position: Array, noise_scale: float) -> None:
    """The smoothed density's value and score must be computable by JAX at a start (traced, nothing compiled), else a
    ValueError naming the fix: walk-jump needs a score."""
    try:
        jax.eval_shape(lambda y: smoothing.value_and_score(jax.random.key(0), y, jnp.asarray(noise_scale**2)),
                       position)
    except Exception as error:
        raise ValueError(
            f"walk_jump needs the score of {target.name} (the gradient of its smoothed log density) and JAX cannot "
            f"compute it ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). Pass a log "
            "density written with jax.numpy (differentiable by jax.grad), or a Target that declares its "
            "smoothed_logdensity, or smoothing=importance_smoothing(logdensity, n, 'noise') for a log density that "
            "JAX can evaluate but not differentiate.") from error


def smoothing_health(rng_key: Array, logdensity: Any, walk_means: Array, noise_scale: float,
                     num_measurements: int, num_draws: int) -> list[HealthWarning]:
    """Whether an importance-sampled smoothing had draws to average: the median Kish effective number of its
    draws (`importance_effective_draws`) at the jump's noise variance sigma^2 / M (at the walks' ȳ_M, law
    p_{sigma^2/M}) and at the first measurement's sigma^2 (at ȳ_M + sqrt(sigma^2 - sigma^2 / M) xi, law
    p_{sigma^2}), over up to `SMOOTHING_CHECK_POINTS` walks. Below `MIN_EFFECTIVE_DRAWS` the smoothed score is one
    draw's value, not an estimate: a warning (silent otherwise)."""
    means = np.asarray(walk_means)
    means = jnp.asarray(means[np.all(np.isfinite(means), axis=1)][:SMOOTHING_CHECK_POINTS])
    if not len(means):
        return []
    key_noise, key_small, key_large = jax.random.split(rng_key, 3)
    small, large = noise_scale**2 / num_measurements, noise_scale**2
    first = means + math.sqrt(large - small) * jax.random.normal(key_noise, means.shape, means.dtype)

    def median_draws(key: Array, points: Array, variance: float) -> float:
        keys = jax.random.split(key, points.shape[0])
        counts = jax.vmap(lambda k, y: importance_effective_draws(logdensity, k, y, jnp.asarray(variance, y.dtype),
                                                                  num_draws))(keys, points)
        return float(np.nanmedian(np.asarray(counts)))

    found = {"first measurement (sigma^2)": median_draws(key_large, first, large),
             "jump (sigma^2 / M)": median_draws(key_small, means, small)}
    poor = {where: count for where, count in found.items() if not count >= MIN_EFFECTIVE_DRAWS}
    if not poor:
        return []
    listed = ", ".join(f"{count:.2f} at the {where}" for where, count in poor.items())
    return [HealthWarning(
        "walk_jump_smoothing_degenerate",
        f"the importance-sampled smoothing averaged almost nothing: a median of {listed} effective draws of "
        f"{num_draws} (< {MIN_EFFECTIVE_DRAWS:g}), so its smoothed score is one draw's noise and the samples do not "
        "follow pi: lower noise_scale (the proposal N(y, sigma^2 I) is far wider than pi's mass near y), raise "
        "num_draws, or give the target a closed-form smoothed_logdensity.",
        {"median_effective_draws": found, "num_draws": num_draws})]


def collect(run: Any, smoothing: Smoothing, numbers: tuple, num_samples: int, num_walks: int, burn_in_walks: int,
            corrected: bool) -> WalkJumpResult:
    """The `WalkJumpResult` of a finished engine run (draws walk-major, counters pooled, evaluations counted);
    `numbers`: the run's (sigma, M, h, K)."""
    noise_scale, num_measurements, step_size, num_inner_steps = numbers
    dim = run.draws.shape[-1]
    samples = jnp.asarray(np.swapaxes(run.draws, 0, 1).reshape(-1, dim)[:num_samples])
    final_means = jnp.asarray(np.swapaxes(run.draw_stats["walk_mean"], 0, 1).reshape(-1, dim)[:num_samples])
    counters = run.counters
    num_chains = run.num_chains
    stages = num_chains * (num_walks + burn_in_walks) * num_measurements
    num_nonfinite_samples = int(jnp.sum(~jnp.all(jnp.isfinite(samples), axis=-1)))
    warnings = list(run.warnings)
    if num_nonfinite_samples:
        warnings.append(HealthWarning(
            "walk_jump_nonfinite_samples", f"{num_nonfinite_samples} of {num_samples} jumps are not finite (they are "
            "in the samples: drop them): the smoothed score overflowed; check the log density far from pi's mass, "
            "lower step_size, or for an estimated smoothing raise num_draws.", {"count": num_nonfinite_samples}))
    return WalkJumpResult(
        samples=samples,
        final_means=final_means,
        acceptance_rate=float(np.mean(run.acceptance_rate)),
        first_stage_acceptance=_pooled(counters, "first"),
        later_stage_acceptance=_pooled(counters, "later"),
        num_nonfinite=int(np.sum(counters["num_nonfinite_proposals"])),
        num_nonfinite_samples=num_nonfinite_samples,
        noise_scale=noise_scale,
        num_measurements=num_measurements,
        step_size=step_size,
        num_inner_steps=num_inner_steps,
        num_chains=num_chains,
        num_walks_per_chain=num_walks,
        burn_in_walks=burn_in_walks,
        smoothing=smoothing.name,
        gradient_evaluations=stages * setup.evaluations_per_stage(smoothing, num_inner_steps, corrected)
        + num_chains * smoothing.evaluations,
        warnings=warnings,
        run=run,
    )


def _pooled(counters: dict, kind: str) -> float:
    """Stage acceptance of one kind pooled over chains (NaN where no such stage ran)."""
    counts = np.asarray(counters[f"{kind}_stages"], np.float64)
    if counts.sum() == 0:
        return math.nan
    return float(np.sum(np.asarray(counters[f"{kind}_stage_acceptance"], np.float64) * counts) / counts.sum())


__all__ = ["WalkJumpResult", "check_score", "collect", "smoothing_health", "walk_jump"]
