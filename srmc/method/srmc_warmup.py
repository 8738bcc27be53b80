"""What SRMC asks of the warm-up and how it turns the warm-up's statistics into its parameters.

On a continuous target the warm-up (`srmc.adapt`, run on pi by the base kernel with theta frozen at 0) measures
pi's mean and variance (the tilt's location m and scale c), for a whitening tilt its covariance (the Cholesky
factor L), the base kernel's acceptance (the guard's yardstick) and, where the tilt has a prediction
(`srmc.method.prediction`), batch means of x and s (and of x s^T) and thinned draws over its second half, from
which alpha's share is chosen (`prediction.alpha_factor`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method import prediction, schedules
from srmc.method.algorithm import Collector, StaticPartial, WarmupNeeds, WarmupStats
from srmc.method.tilt import (
    MAX_WHITENED_DIM,
    Tilt,
    TiltReference,
    bounded_reference,
    whitening_factor,
    whitens,
    with_whitening,
)
from srmc.targets import Continuous, Target

Array = jax.Array


class Options(NamedTuple):
    """`srmc.wrap`'s options resolved against the tilt's defaults."""

    alpha_schedule: schedules.Schedule
    trust_region: float | None
    alpha_search: bool
    guard: bool


def resolve_options(tilt: Tilt, alpha: Any, alpha_ramp: Any, trust_region: Any, alpha_search: Any,
                    guard: Any) -> Options:
    """The options of `srmc.wrap` with "auto" replaced by the tilt's defaults, checked (errors name the argument
    and the fix); a number alpha with a ramp C > 0 becomes ``schedules.rational(alpha, C)``."""
    if not isinstance(guard, bool):
        raise TypeError(f"guard must be True or False, got {guard!r}.")
    defaults = tilt.defaults
    alpha_ramp = defaults.alpha_ramp if alpha_ramp == "auto" else alpha_ramp
    trust_region = defaults.trust_region if trust_region == "auto" else trust_region
    alpha_search = defaults.alpha_search if alpha_search == "auto" else alpha_search
    if not isinstance(alpha_search, bool):
        raise TypeError(f"alpha_search must be True, False or 'auto', got {alpha_search!r}.")
    if alpha_search and tilt.prediction is None:
        raise ValueError(f"alpha_search predicts the variance of the tilts that have a prediction (bounded, "
                         f"second_order); the {tilt.name} tilt runs alpha as given: pass alpha_search=False (or leave "
                         f"it at 'auto') with tilt={tilt.name!r}.")
    _check_ramp_and_trust_region(alpha_ramp, trust_region)
    if trust_region is not None and tilt.features is None:
        raise ValueError(f"trust_region bounds the tilt term of the feature tilts; the {tilt.name} tilt's term has no "
                         "scale to bound it by: pass trust_region=None with tilt='score'.")
    if alpha_ramp and not callable(alpha) and float(alpha) > 0:
        alpha = schedules.rational(float(alpha), float(alpha_ramp))
    return Options(schedules.as_schedule(alpha, "alpha"), trust_region, alpha_search, guard)


def _check_ramp_and_trust_region(alpha_ramp: Any, trust_region: Any) -> None:
    if isinstance(alpha_ramp, bool) or not isinstance(alpha_ramp, (int, float)) or not 0 <= alpha_ramp < float("inf"):
        raise ValueError(f"alpha_ramp must be a number >= 0 (0: constant alpha) or 'auto', got {alpha_ramp!r}.")
    if trust_region is not None and (isinstance(trust_region, bool) or not isinstance(trust_region, (int, float))
                                     or not 0 < trust_region < float("inf")):
        raise ValueError(f"trust_region must be a positive number, None (no trust region) or 'auto', "
                         f"got {trust_region!r}.")


def check_tilt_reference(tilt_reference: Any) -> tuple[Array, Array] | None:
    """``(location, scale)`` arrays, checked finite (scale > 0), or None."""
    if tilt_reference is None:
        return None
    if not isinstance(tilt_reference, (tuple, list)) or len(tilt_reference) != 2:
        raise ValueError("tilt_reference must be a pair (location, scale) of arrays of the target's shape.")
    location, scale = (jnp.asarray(v) for v in tilt_reference)
    if not bool(jnp.all(jnp.isfinite(location))) or not bool(jnp.all(jnp.isfinite(scale) & (scale > 0))):
        raise ValueError("tilt_reference: location must be finite and scale finite and > 0.")
    return location, scale


# --- the prediction's buffers over the warm-up's second half ---------------------------------------------------


class PredictionLayout(NamedTuple):
    """How the prediction's buffers are laid out: steps per batch, draws kept per chain, thinning, the prediction."""

    batch: int
    num_draws: int
    thinning: int
    prediction: prediction.Prediction


class PredictionBuffers(NamedTuple):
    """For the first `prediction.PREDICTION_CHAINS` chains, over the warm-up's second half: sums of x and s in
    `prediction.PREDICTION_BATCHES` batches ``(chains, batches, 2 d)`` and thinned draws with their scores
    ``(chains, draws, 2 d)``; for a prediction that collects them, the batches' sums of x s^T
    ``(chains, batches, d, d)`` (its history needs the reference, known only at the end)."""

    batch_sums: Array
    draws: Array
    batch_products: Array | None = None


def prediction_layout(tilt: Tilt, length: int, dim: int) -> PredictionLayout | None:
    """The buffers' layout for a warm-up that measures over `length` steps (its frozen measurement phase) on `dim`
    coordinates; None: nothing can be predicted."""
    batch = length // prediction.PREDICTION_BATCHES
    if tilt.prediction is None or batch < 2 or dim > tilt.prediction.max_dim:
        return None
    draws = int(min(prediction.PREDICTION_DRAWS, length))
    return PredictionLayout(batch, draws, max(length // draws, 1), tilt.prediction)


def _init_buffers(layout: PredictionLayout, num_chains: int, dim: int, dtype: Any) -> PredictionBuffers:
    used = min(num_chains, prediction.PREDICTION_CHAINS)
    products = (jnp.zeros((used, prediction.PREDICTION_BATCHES, dim, dim), dtype)
                if layout.prediction.collects_products else None)
    return PredictionBuffers(jnp.zeros((used, prediction.PREDICTION_BATCHES, 2 * dim), dtype),
                             jnp.zeros((used, layout.num_draws, 2 * dim), dtype), products)


def _update_buffers(layout: PredictionLayout, buffers: PredictionBuffers, offset: Array, positions: Array,
                    scores: Array) -> PredictionBuffers:
    """Add step `offset` (of the second half; < 0: before it) to its batch and keep it if it is a thinned draw."""
    slot = jnp.where(offset >= 0, offset // layout.batch, -1)
    batch_hit = jnp.arange(buffers.batch_sums.shape[1]) == slot
    used = buffers.draws.shape[0]
    values = jnp.concatenate([positions[:used], scores[:used]], axis=-1)
    sums = buffers.batch_sums + jnp.where(batch_hit[None, :, None], values[:, None, :], 0.0)
    draw_hit = ((jnp.arange(layout.num_draws) == offset // layout.thinning) & (offset >= 0)
                & (offset % layout.thinning == 0))
    draws = jnp.where(draw_hit[None, :, None], values[:, None, :], buffers.draws)
    products = buffers.batch_products
    if products is not None:  # one batch's slot only (a scatter, not a pass over every batch)
        outer = positions[:used, :, None] * scores[:used, None, :]
        in_batches = (slot >= 0) & (slot < products.shape[1])
        products = products.at[:, jnp.clip(slot, 0, products.shape[1] - 1)].add(jnp.where(in_batches, outer, 0.0))
    return PredictionBuffers(sums, draws, products)


def _predicted_variance(layout: PredictionLayout, buffers: PredictionBuffers, stats: WarmupStats) -> dict:
    """``predicted_variance`` (over `prediction.ALPHA_GRID`) and ``variance_floor`` (per coordinate) from the
    buffers, with the run's m, c and L; NaN where the chains were not in equilibrium (`prediction.in_equilibrium`)."""
    dim, batch = buffers.draws.shape[2] // 2, layout.batch
    location, scale = bounded_reference(stats.mean, stats.variance)
    batch_means = (buffers.batch_sums / batch).reshape(-1, 2 * dim)
    batch_x, batch_s = batch_means[:, :dim], batch_means[:, dim:]
    draws = buffers.draws.reshape(-1, 2 * dim)
    batch_xs = None if buffers.batch_products is None else (buffers.batch_products / batch).reshape(-1, dim, dim)
    factor = whitening_factor(stats.covariance, scale)
    curve, floor = layout.prediction.curve(batch_x, batch_s, batch_xs, batch, draws[:, :dim], location, scale, factor)
    usable = prediction.in_equilibrium(batch_s, draws[:, :dim], draws[:, dim:], buffers.draws.shape[0])
    predicted = {"predicted_variance": jnp.where(usable, curve, jnp.nan),
                 "variance_floor": jnp.where(usable, floor, jnp.nan)}
    if layout.prediction.whitened_curve is not None and dim <= MAX_WHITENED_DIM:  # for a kernel with a dense mass
        whitening = whitening_factor(jnp.cov(draws[:, :dim], rowvar=False).reshape(dim, dim), scale)
        curve = layout.prediction.whitened_curve(batch_x, batch_s, batch, draws[:, :dim], location, whitening)
        predicted["predicted_variance_whitened"] = jnp.where(usable, curve, jnp.nan)
    return predicted


def prediction_collector(layout: PredictionLayout) -> Collector:
    """The warm-up `Collector` of the prediction's buffers."""
    return Collector(StaticPartial(_init_buffers, layout), StaticPartial(_update_buffers, layout),
                     StaticPartial(_predicted_variance, layout))


def nominal_alpha(numbers: dict) -> Any:
    """The strength alpha's schedule numbers name: ``alpha`` (rational ramp, linear warm-up) or ``value``
    (constant); 0 for a schedule without one (then the prediction never lowers alpha)."""
    return numbers.get("alpha", numbers.get("value", 0.0))


# --- the adaptation's three functions --------------------------------------------------------------------------


def needs(config: Any, target: Target, num_steps: int) -> WarmupNeeds:
    """What SRMC needs from a warm-up that measures over `num_steps` steps on `target` (its reference, a
    prediction, a covariance)."""
    if not isinstance(target.space, Continuous):
        return WarmupNeeds()
    required = None
    if config.measured_reference:
        required = (f"srmc[{config.base.spec.name}] with tilt={config.tilt.name!r} centres and scales its tilt on pi's "
                    "mean and standard deviation, which the warm-up measures: leave warmup at its default or pass "
                    "warmup=N > 0 to srmc.sample; or give srmc.wrap tilt_reference=(location, scale), or choose "
                    "tilt='linear' or 'score'.")
    layout = prediction_layout(config.tilt, num_steps, target.dim)
    collectors = ((prediction_collector(layout),) if layout is not None and config.alpha_search
                  and not config.alpha_is_zero else ())
    covariance = config.measured_reference and config.tilt.whitens and target.dim <= MAX_WHITENED_DIM
    return WarmupNeeds(required, covariance, collectors)


def finish(config: Any, params: Any, stats: WarmupStats, target: Target) -> Any:
    """SRMC's parameters after a warm-up (one chain's): the tilt's reference measured on pi (unless given, or on
    a discrete target), the guard's yardstick (the warm-up's acceptance) and alpha's share from the prediction."""
    dtype = jnp.result_type(jnp.asarray(stats.mean), float)
    acceptance = jnp.asarray(stats.acceptance, dtype)
    reference = params.reference
    if isinstance(target.space, Continuous) and (config.measured_reference or not config.tilt.needs_reference):
        reference = measured_reference(config.tilt, stats, dtype)
    dense_mass = kernel_dense_mass(config, params.kernel, target)
    if dense_mass is not None:
        reference = with_whitening(reference, whitening_factor(dense_mass, reference.scale))
    factor = jnp.ones((), dtype)
    curve = stats.extra.get("predicted_variance")
    if dense_mass is not None and "predicted_variance_whitened" in stats.extra:  # a diagonal one runs unwhitened
        curve = jnp.where(off_diagonal_zero(dense_mass), curve, stats.extra["predicted_variance_whitened"])
    if config.alpha_search and curve is not None:
        factor = jnp.asarray(prediction.alpha_factor(prediction.alpha_grid(dtype), curve, nominal_alpha(params.alpha)),
                             dtype)
    return params._replace(reference=reference, acceptance=acceptance, alpha_factor=factor)


def off_diagonal_zero(matrix: Array) -> Array:
    """Whether a (d, d) matrix is diagonal (traced): ``Warmup(mass="auto")``'s diagonal choice, which the run hands
    the kernel as a vector, and the tilt then runs per coordinate of x (`srmc.method.srmc._in_kernel_metric`)."""
    return jnp.all(jnp.where(jnp.eye(matrix.shape[-1], dtype=bool), 0.0, matrix) == 0.0)


def followed_mass(config: Any, kernel_params: dict) -> Array | None:
    """The base kernel's inverse mass as `kernel_params` hold it (one chain's: a vector or a matrix), where the
    tilt follows it (`Tilt.follows_dense_mass`) and the kernel has one; else None."""
    tuning = config.base.spec.tuning
    if not config.tilt.follows_dense_mass or tuning is None or tuning.inverse_mass_matrix is None:
        return None
    return kernel_params.get(tuning.inverse_mass_matrix)


def kernel_dense_mass(config: Any, kernel_params: dict, target: Target) -> Array | None:
    """The base kernel's inverse mass matrix (one chain's), where the tilt follows it (`followed_mass`), its
    reference is measured on a continuous target of at most `MAX_WHITENED_DIM` coordinates and the kernel holds
    a matrix (not a vector; a diagonal matrix is handed to the kernel as a vector, and the tilt then runs without
    the whitening); else None."""
    if not (config.measured_reference and isinstance(target.space, Continuous) and target.dim <= MAX_WHITENED_DIM):
        return None
    mass = followed_mass(config, kernel_params)
    return mass if mass is not None and jnp.ndim(mass) == 2 else None


def measured_reference(tilt: Tilt, stats: WarmupStats, dtype: Any) -> TiltReference:
    """The tilt's reference from pi's moments: m = mean, c = sd (`bounded_reference`); for a whitening tilt, L the
    Cholesky factor of the covariance (diag(c) where there is none, or it is not positive definite)."""
    location, scale = bounded_reference(jnp.asarray(stats.mean, dtype), jnp.asarray(stats.variance, dtype))
    reference = TiltReference(location, scale)
    if not whitens(tilt, scale.size):
        return reference
    return with_whitening(reference, whitening_factor(stats.covariance, scale))
