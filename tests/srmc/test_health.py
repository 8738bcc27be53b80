"""The health report: each warning fires on a run built to provoke it, and a healthy run has none."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine.health import HealthWarning, mcse_disagreement
from srmc.engine.warmup import Warmup

KEY = jax.random.key(0)
GAUSSIAN = targets.get("correlated_gaussian", dim=4, rho=0.5)


def codes(result):
    return {warning.code for warning in result.warnings}


def test_a_healthy_run_has_no_warning_and_says_so():
    target = targets.get("correlated_gaussian")  # d = 20, rho = 0.9
    result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=0.05), target, 4000, 16,
                         warmup=Warmup(1000, mass="dense"), options=srmc.RunOptions(thin=10))
    assert result.warnings == [], result.warnings
    assert result.summary().splitlines()[0] == "healthy: no warning"


def test_too_large_a_step_freezes_the_chains():
    result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=5.0), GAUSSIAN, 300, 8, warmup=0)
    assert {"acceptance_low", "frozen_chains"} <= codes(result)
    low = next(w for w in result.warnings if w.code == "acceptance_low")
    assert isinstance(low, HealthWarning) and "warmup" in low.message and low.data["acceptance"] < 0.1
    assert result.summary().startswith("WARNING [acceptance_low]")


def test_too_small_a_step_crawls():
    result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=1e-5), GAUSSIAN, 300, 8, warmup=0)
    assert "acceptance_high" in codes(result) and "frozen_chains" not in codes(result)


def test_nonfinite_proposals_are_reported():
    def half_space(x):
        return jnp.where(x[0] > 0, -0.5 * jnp.sum(x**2), -jnp.inf)

    target = targets.from_logdensity(half_space, 2)
    result = srmc.sample(KEY, srmc.base(samplers.rwm, step_size=1.0), target, 400, 4,
                         initial_position=jnp.array([0.5, 0.0]), warmup=0)
    assert "nonfinite_proposals" in codes(result)
    assert next(w for w in result.warnings if w.code == "nonfinite_proposals").data["share"] > 0.01


def test_nonfinite_estimates_are_reported():
    with pytest.warns(RuntimeWarning, match="non-finite"):
        result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=0.3), GAUSSIAN, 50, 2,
                             functions={"log": lambda x: jnp.log(x[0])}, warmup=0)
    assert "nonfinite_estimates" in codes(result)


def test_chains_stuck_in_different_modes_fail_r_hat_and_the_mcse_comparison():
    target = targets.get("gaussian_mixture_9")
    starts = jnp.asarray(target.mixture.means[:8])  # one chain in each of 8 modes; RWM never crosses
    result = srmc.sample(KEY, srmc.base(samplers.rwm, step_size=0.3), target, 2000, 8, initial_position=starts, options=srmc.RunOptions(thin=10), warmup=0)
    assert {"r_hat", "mcse_disagree"} <= codes(result)
    spread, within, z = mcse_disagreement(result)
    assert np.all(spread > within) and np.max(z) > 4


def test_too_few_stored_draws_are_flagged():
    result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=0.3), GAUSSIAN, 200, 2, options=srmc.RunOptions(thin=20), warmup=0)
    assert "low_ess" in codes(result)


def test_a_runaway_history_is_flagged():
    """HMC near a half-period trajectory at alpha = 10 with the linear tilt and no step jitter: theta grows."""
    target = targets.get("ill_conditioned_gaussian", dim=10)
    algorithm = srmc.wrap(samplers.hmc, alpha=10.0, tilt="linear", step_size=0.25, num_integration_steps=10,
                          step_jitter=0.0)
    result = srmc.sample(KEY, algorithm, target, 2000, 16, initial_position=target.sample(KEY, 16), warmup=0)
    assert "theta_growing" in codes(result)
    jittered = srmc.wrap(samplers.hmc, alpha=10.0, tilt="linear", step_size=0.25, num_integration_steps=10)
    healthy = srmc.sample(KEY, jittered, target, 2000, 16, initial_position=target.sample(KEY, 16))
    assert "theta_growing" not in codes(healthy)


def test_a_warmup_too_short_to_adapt_is_flagged():
    """Dual averaging adapts a wild step in a few steps (8 are enough from 50), but not from 10^4 in 4."""
    result = srmc.sample(KEY, srmc.base(samplers.mala, step_size=1e4), GAUSSIAN, 200, 4, warmup=Warmup(4, mass="none"))
    assert "warmup_acceptance" in codes(result)
