"""result.to_arviz(): InferenceData that arviz.summary accepts, with per-draw sample stats and named sites."""

import dataclasses
import sys

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets

arviz = pytest.importorskip("arviz")

TARGET = targets.get("banana")


@pytest.fixture(scope="module")
def srmc_result():
    algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.3)
    return srmc.sample(jax.random.key(0), algorithm, TARGET, 400, 4, options=srmc.RunOptions(thin=4), warmup=0)


def test_to_arviz_round_trip_and_summary(srmc_result):
    result = srmc_result
    data = result.to_arviz()
    assert data.posterior["x"].dims == ("chain", "draw", "x_dim_0")
    assert data.posterior["x"].shape == (4, 100, 2)
    np.testing.assert_allclose(data.posterior["x"].values, result.draws)
    for name in ("acceptance_rate", "num_nonfinite", "theta_norm"):
        assert data.sample_stats[name].shape == (4, 100)
    np.testing.assert_allclose(data.sample_stats["acceptance_rate"].values.mean(axis=1), result.acceptance_rate,
                               rtol=1e-5)
    np.testing.assert_array_equal(data.sample_stats["num_nonfinite"].values.sum(axis=1), result.num_nonfinite)
    np.testing.assert_allclose(data.sample_stats["theta_norm"].values, result.draw_stats.get("theta_norm"))
    assert data.posterior.attrs["algorithm"] == result.algorithm_name and data.posterior.attrs["thin"] == 4
    summary = arviz.summary(data)
    np.testing.assert_allclose(summary["mean"].values, result.draws.mean(axis=(0, 1)), atol=1e-3)
    assert {"ess_bulk", "r_hat"} <= set(summary.columns)


def test_base_kernel_has_no_theta_norm():
    result = srmc.sample(jax.random.key(1), srmc.base(samplers.mala, step_size=0.3), TARGET, 40, 2, options=srmc.RunOptions(thin=2), warmup=0)
    data = result.to_arviz(var_name="z")
    assert data.posterior["z"].shape == (2, 20, 2)
    assert "theta_norm" not in data.sample_stats and "acceptance_rate" in data.sample_stats


def test_site_unravel_hook_writes_named_sites(srmc_result):
    def unravel(draws):
        return {"a": draws[..., 0], "b": draws[..., 1:]}

    data = dataclasses.replace(srmc_result, site_unravel=unravel).to_arviz()
    assert set(data.posterior.data_vars) == {"a", "b"}
    assert data.posterior["a"].dims == ("chain", "draw") and data.posterior["b"].shape == (4, 100, 1)
    np.testing.assert_allclose(arviz.summary(data)["mean"].values, srmc_result.draws.mean(axis=(0, 1)), atol=1e-3)
    with pytest.raises(ValueError, match="leading axes"):
        dataclasses.replace(srmc_result, site_unravel=lambda d: {"a": d[0]}).to_arviz()


def test_to_arviz_needs_draws():
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.3), TARGET, 20, 2, warmup=0)
    with pytest.raises(ValueError, match="thin="):
        result.to_arviz()


def test_missing_arviz_names_the_extra(srmc_result, monkeypatch):
    monkeypatch.setitem(sys.modules, "arviz", None)
    with pytest.raises(ImportError, match=r"srmc\[arviz\]"):
        srmc_result.to_arviz()
