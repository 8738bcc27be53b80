"""The float32 precision probe: a latent-GP log density whose float32 Cholesky factor is rough is told apart from
smooth targets, it runs only after a suspect warning, and float64 silences it."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.engine.precision import PROBE_STEP, precision_warning, rough_points, second_differences
from srmc.method.algorithm import HealthWarning

POINTS = jnp.linspace(0.0, 10.0, 24)


def gp_logdensity(x):
    """A latent Gaussian process on 24 points, non-centred, with its amplitude and lengthscale (log scale) and a
    1e-6 jitter, as users write it: f = chol(K + 1e-6 I) z, a Gaussian likelihood of f around a smooth curve."""
    amplitude, lengthscale, z = jnp.exp(x[0]), jnp.exp(x[1]), x[2:]
    kernel = amplitude**2 * jnp.exp(-0.5 * (POINTS[:, None] - POINTS[None, :]) ** 2 / lengthscale**2)
    f = jnp.linalg.cholesky(kernel + 1e-6 * jnp.eye(POINTS.shape[0])) @ z
    observed = jnp.sin(POINTS / 1.5)
    return (-0.5 * jnp.sum(z**2) - 0.5 * jnp.sum((f - observed) ** 2) / 0.3**2
            - 0.5 * x[0] ** 2 - 0.5 * (x[1] - 0.5) ** 2)


def gp_points(dtype):
    """64 points of the GP's bulk: amplitude near 1, lengthscale near 1.6 (where K's conditioning is ~1e7)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 0.3, (64, 1)), rng.normal(0.5, 0.3, (64, 1)), rng.normal(size=(64, 24))], 1)
    return x.astype(dtype)


def probe(logdensity, positions, seed=1):
    directions = (np.random.default_rng(seed).normal(size=positions.shape) * positions.std(0)).astype(
        positions.dtype)
    centre, second = second_differences(logdensity, positions, directions, PROBE_STEP)
    return rough_points(centre, second, positions.dtype)


def test_a_float32_gp_cholesky_is_rough_and_its_float64_twin_is_not():
    rough = probe(gp_logdensity, gp_points(np.float32))
    assert rough.sum() >= 16, rough.sum()
    with jax.enable_x64(True):
        assert probe(gp_logdensity, gp_points(np.float64)).sum() == 0


@pytest.mark.parametrize("name", ["correlated_gaussian", "funnel", "banana", "gaussian_mixture_25"])
def test_smooth_float32_targets_are_not_rough(name):
    target = targets.get(name)
    positions = np.asarray(target.sample(jax.random.key(0), 64), np.float32)
    assert probe(target.logdensity, positions).sum() == 0


def _run_at(positions):
    """What `precision_warning` reads of a run: its final states (here the positions themselves)."""
    algorithm = types.SimpleNamespace(report=types.SimpleNamespace(position=lambda state: state), kernel=None)
    return types.SimpleNamespace(final_state=jnp.asarray(positions)), algorithm


def test_the_warning_follows_a_suspect_warning_and_names_the_fix():
    target = targets.from_logdensity(gp_logdensity, 26, name="gp")
    result, algorithm = _run_at(gp_points(np.float32))
    suspect = [HealthWarning("r_hat", "split R-hat", {})]
    assert precision_warning(result, algorithm, target, []) is None  # a healthy run pays nothing
    assert precision_warning(result, algorithm, target, [HealthWarning("alpha_reduced", "", {})]) is None
    warning = precision_warning(result, algorithm, target, suspect)
    assert warning is not None and warning.code == "float32_precision"
    assert "jax_enable_x64" in warning.message and warning.data["rough_points"] >= 16
    smooth = targets.get("correlated_gaussian")
    result, algorithm = _run_at(np.asarray(smooth.sample(jax.random.key(0), 64), np.float32))
    assert precision_warning(result, algorithm, smooth, suspect) is None
