"""The warm-up's phases and choices (issue 32): a frozen measurement phase, mass="auto", the quick start and the
``chains_behind`` check."""

import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine.health import chains_behind
from srmc.engine.warmup import AUTO_DENSE_CONDITION, Warmup, correlation_condition

SPREAD = targets.get("ill_conditioned_gaussian", dim=8, condition_number=1e4)
QUIET = srmc.RunOptions(progress=False)


def test_the_measurement_phase_adapts_nothing():
    """Step size and mass come from the adaptation phase alone: a warm-up of 1000 steps measuring the last half and
    one of 800 measuring the last 300 both adapt over steps 0-499 (same keys), so they adapt the same values, bit
    for bit; adapting throughout (``frozen_measurement=False``) they differ."""
    key, algorithm = jax.random.key(3), srmc.base(samplers.mala, step_size=0.01)
    starts = jax.random.normal(jax.random.key(4), (4, SPREAD.dim))
    long = srmc.adapt(key, algorithm, SPREAD, starts, Warmup(1000, mass="diagonal"))
    short = srmc.adapt(key, algorithm, SPREAD, starts, Warmup(800, mass="diagonal", measure_fraction=0.375))
    for name in ("step_size", "inverse_mass_matrix"):
        np.testing.assert_array_equal(long.kernel_params[name], short.kernel_params[name])
    adapting = srmc.adapt(key, algorithm, SPREAD, starts, Warmup(1000, mass="diagonal", frozen_measurement=False))
    assert not np.array_equal(long.kernel_params["step_size"], adapting.kernel_params["step_size"])
    assert int(long.stats.num_draws) == 4 * 500 and int(short.stats.num_draws) == 4 * 300


@pytest.mark.slow  # two warm-ups of 1000 steps: about 40 s
def test_auto_mass_is_dense_on_a_correlated_gaussian_and_diagonal_on_an_independent_one():
    """mass="auto" (the default) adapts a dense inverse mass matrix on a Gaussian with correlations 0.8 (its
    correlation matrix's condition number is far above the rule's 10) and recovers its covariance within 20% of
    sqrt(Sigma_ii Sigma_jj) in every entry; on independent coordinates with variances 1e-2 .. 1e2 it keeps the
    diagonal, reported (and run) as a vector."""
    correlated = targets.get("correlated_gaussian", dim=5, rho=0.8)
    covariance = np.asarray(correlated.gaussian.cov)
    assert float(correlation_condition(covariance)) > AUTO_DENSE_CONDITION
    dense = srmc.sample(jax.random.key(1), srmc.base(samplers.mala), correlated, 50, 16, warmup=1000, options=QUIET)
    mass = dense.adapted_params["inverse_mass_matrix"]
    assert mass.shape == (5, 5)
    scale = np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)))
    assert np.all(np.abs(mass - covariance) < 0.2 * scale), np.round(mass - covariance, 2)
    diagonal = srmc.sample(jax.random.key(1), srmc.base(samplers.mala), SPREAD, 50, 16, warmup=1000, options=QUIET)
    mass = diagonal.adapted_params["inverse_mass_matrix"]
    assert mass.shape == (SPREAD.dim,)
    np.testing.assert_allclose(mass, SPREAD.ground_truth.variance, rtol=0.2)


def _result_with(means, sds):
    extra = {"logdensity_by_chain": np.asarray(means, float), "logdensity_sd_by_chain": np.asarray(sds, float)}
    return SimpleNamespace(warmup_stats=SimpleNamespace(extra=extra))


def test_chains_behind_names_the_chains_and_the_fix():
    healthy = _result_with(-10.0 + np.random.default_rng(0).normal(0.0, 0.3, 32), np.full(32, 2.0))
    assert chains_behind(healthy) is None
    provoked = _result_with([-10.0] * 30 + [-40.0, np.nan], [2.0] * 32)
    warning = chains_behind(provoked)
    assert warning.code == "chains_behind" and warning.data["chains"] == [30, 31]
    assert "quick_start=True" in warning.message and "warm up longer" in warning.message
    assert chains_behind(SimpleNamespace(warmup_stats=None)) is None  # no warm-up, nothing to say


@pytest.mark.slow  # two compiled runs on a NumPyro model: about a minute
def test_quick_start_brings_every_chain_into_the_bulk_and_the_check_sees_those_that_are_not():
    """A Poisson regression from NumPyro's U(-2, 2) starts (gradients of 1e6) under one pooled step size: after a
    200-step warm-up 5 of 16 MALA chains are still thousands of nats below the others and `chains_behind` says so;
    with ``Warmup(quick_start=True)`` every chain is in the bulk and the check is silent."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_initialise import COUNTS, COVARIATES, poisson_glm

    target = targets.from_numpyro(poisson_glm, COVARIATES, COUNTS)
    runs = {quick: srmc.sample(jax.random.key(0), srmc.base(samplers.mala), target, 100, 16, options=QUIET,
                               warmup=Warmup(200, pooled_step_size=True, quick_start=quick))
            for quick in (False, True)}
    codes = {quick: {warning.code for warning in run.warnings} for quick, run in runs.items()}
    assert "chains_behind" in codes[False] and "chains_behind" not in codes[True]
    means = runs[True].warmup_stats.extra["logdensity_by_chain"]
    assert np.ptp(means) < 10.0, means
