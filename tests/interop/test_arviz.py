"""result.to_arviz(): InferenceData that arviz.summary accepts, with per-draw sample stats."""

import jax
import numpy as np
import pytest

import samplers
import srmc
import targets

arviz = pytest.importorskip("arviz")


def test_to_arviz_round_trip_and_summary():
    target = targets.get("banana")
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, step_size=0.3)
    result = srmc.sample(jax.random.key(0), algorithm, target, 400, 4, thin=4)
    data = result.to_arviz()
    assert data.posterior["x"].shape == (4, 100, 2)
    np.testing.assert_allclose(data.posterior["x"].values, result.draws)
    for name in ("acceptance_rate", "num_nonfinite", "theta_norm"):
        assert data.sample_stats[name].shape == (4, 100)
    np.testing.assert_allclose(data.sample_stats["acceptance_rate"].values.mean(axis=1), result.acceptance_rate,
                               rtol=1e-5)
    summary = arviz.summary(data)
    np.testing.assert_allclose(summary["mean"].values, result.draws.mean(axis=(0, 1)), atol=1e-3)
    assert {"ess_bulk", "r_hat"} <= set(summary.columns)


def test_to_arviz_needs_draws():
    target = targets.get("banana")
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.3), target, 20, 2)
    with pytest.raises(ValueError, match="thin"):
        result.to_arviz()
