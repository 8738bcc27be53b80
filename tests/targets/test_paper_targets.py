"""The SRMC paper's targets: the synthetic logistic regression's data recipe, reference and starts; the mixtures'
exact moments against closed forms and exact draws, normalised densities, MixtureForm where one exists."""

import importlib.resources
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.targets import paper_mixtures
from srmc.targets.logistic import synthetic_logistic_data, synthetic_logistic_starts
from srmc.targets.paper_mixtures import gaussian_mixture_full, mixture_moments

# --- synthetic logistic regression ------------------------------------------------------------------------------


def test_synthetic_logistic_recipe_check_values():
    """The paper's recipe: default_rng(42), X ~ N(0, 1) (200, 10), then beta ~ N(0, 1), then y ~ Bernoulli."""
    design, labels, beta = synthetic_logistic_data()
    assert design.shape == (200, 10) and labels.shape == (200,) and beta.shape == (10,)
    np.testing.assert_allclose(design[0, :3], [0.304717, -1.039984, 0.750451], atol=5e-7)
    np.testing.assert_allclose(beta[:3], [-0.451951, -0.665878, 0.434010], atol=5e-7)
    np.testing.assert_array_equal(labels[:12], [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    assert int(labels.sum()) == 103


def test_synthetic_logistic_target_and_its_reference():
    target = targets.get("synthetic_logistic")
    assert target.dim == 10 and target.ground_truth is not None and not target.ground_truth.exact
    design, labels, _ = synthetic_logistic_data()
    beta = jnp.asarray(np.linspace(-1, 1, 10))
    logits = design @ np.asarray(beta)
    expected = np.sum(labels * -np.logaddexp(0, -logits) + (1 - labels) * -np.logaddexp(0, logits)) - 0.5 * np.sum(
        np.asarray(beta) ** 2)
    np.testing.assert_allclose(float(target.logdensity(beta)), expected, rtol=1e-5)
    stored = json.loads((importlib.resources.files("srmc.targets") / "data" / "synthetic_logistic.json").read_text())
    assert stored["diagnostics"]["max_split_rhat"] < 1.01 and stored["diagnostics"]["divergences"] == 0
    assert max(stored["mean_stderr"]) < 1e-3  # a reference 100x tighter than a 7,000-step chain's error
    assert targets.get("synthetic_logistic", seed=1).ground_truth is None  # the reference is for seed 42 only


def test_synthetic_logistic_starts_are_posterior_draws():
    starts, truth = synthetic_logistic_starts(1024), targets.get("synthetic_logistic").ground_truth
    assert starts.shape == (1024, 10)
    z = (starts.mean(0) - truth.mean) / np.sqrt(truth.variance / 1024)
    assert np.all(np.abs(z) < 4.5)
    np.testing.assert_allclose(starts.var(0), truth.variance, rtol=0.2)
    np.testing.assert_array_equal(synthetic_logistic_starts(30), starts[:30])
    with pytest.raises(ValueError):
        synthetic_logistic_starts(0)


# --- mixtures ---------------------------------------------------------------------------------------------------


def test_mixture_closed_forms():
    s = 5.0
    two = targets.get("two_component_mixture")
    np.testing.assert_allclose(two.ground_truth.mean, [0, 0], atol=1e-12)
    np.testing.assert_allclose(two.ground_truth.variance, [1 + s**2 / 4, 1])
    np.testing.assert_allclose(targets.get("three_mode_mixture").ground_truth.variance, [1 + 2 * s**2 / 3, 1])
    triangle = targets.get("triangle_mixture")
    np.testing.assert_allclose(triangle.ground_truth.mean, [0, s / 3], atol=1e-12)
    np.testing.assert_allclose(triangle.ground_truth.variance, [1 + 2 * s**2 / 3, 1 + s**2 / 3 - s**2 / 9])
    well = targets.get("metastable_mixture")
    np.testing.assert_allclose(well.ground_truth.mean, [-1.2, 0])
    np.testing.assert_allclose(well.ground_truth.variance, [0.8 * 0.0324 + 0.2 + 4 - 1.2**2, 0.8 * 0.0324 + 0.2])
    weighted = targets.get("two_component_mixture", dim=3, separation=4.0, weights=(3.0, 1.0))  # normalised
    np.testing.assert_allclose(weighted.ground_truth.mean, [-0.75 * 2 + 0.25 * 2, 0, 0], atol=1e-12)


def test_mixture_forms_exist_exactly_where_components_share_an_isotropic_covariance():
    for name in ("two_component_mixture", "three_mode_mixture", "triangle_mixture"):
        form = targets.get(name).mixture
        assert form is not None and form.variance == 1.0 and np.isclose(form.weights.sum(), 1.0)
    assert targets.get("metastable_mixture").mixture is None  # components of different sizes
    assert targets.get("two_component_mixture", covariances=[np.eye(2), 2 * np.eye(2)]).mixture is None
    form = targets.get("two_component_mixture", covariances=[0.5 * np.eye(2)] * 2).mixture
    assert form is not None and form.variance == 0.5


@pytest.mark.parametrize("make", [
    lambda: targets.get("two_component_mixture"), lambda: targets.get("three_mode_mixture"),
    lambda: targets.get("triangle_mixture"), lambda: targets.get("metastable_mixture"),
    lambda: targets.get("triangle_mixture", dim=3, separation=3.0, covariances=[
        np.diag([1.0, 2.0, 0.5]), [[1, 0.5, 0], [0.5, 1, 0], [0, 0, 1]], np.eye(3)]),
], ids=["two", "three", "triangle", "metastable", "triangle-3d-full"])
def test_moments_match_exact_draws_and_density_is_normalised(make):
    num = 400_000
    with jax.enable_x64(True):
        target = make()
        draws = np.asarray(target.sample(jax.random.key(0), num))
        mean, var = target.ground_truth.mean, target.ground_truth.variance
        np.testing.assert_allclose(draws.mean(0), mean, atol=5 * np.sqrt(var.max() / num))
        np.testing.assert_allclose(draws.var(0), var, rtol=0.02)
        cov = target.params["covariance"]
        np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.03 * np.abs(cov).max())
        if target.dim == 2:  # the density integrates to one on a grid (the log density carries its constants)
            lo, hi = mean - 8 * np.sqrt(var), mean + 8 * np.sqrt(var)
            xs, ys = np.linspace(lo[0], hi[0], 801), np.linspace(lo[1], hi[1], 801)
            grid = jnp.asarray(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2))
            density = np.exp(np.asarray(jax.vmap(target.logdensity)(grid)))
            np.testing.assert_allclose(density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]), 1.0, rtol=2e-3)


def test_score_is_mean_zero_and_responsibilities_are_posteriors():
    with jax.enable_x64(True):
        target = targets.get("metastable_mixture")
        draws = target.sample(jax.random.key(1), 200_000)
        scores = np.asarray(jax.vmap(target.score)(draws))
        np.testing.assert_allclose(scores.mean(0), 0.0, atol=5 * scores.std(0).max() / np.sqrt(200_000))
        weights = np.asarray(jax.vmap(paper_mixtures.responsibilities(target))(draws)).mean(0)
        np.testing.assert_allclose(weights, [0.8, 0.2], atol=5 * np.sqrt(0.16 / 200_000))


def test_mixture_moments_formula_and_bad_arguments():
    means = np.array([[0.0, 1.0], [2.0, -1.0]])
    covs = np.array([np.eye(2), 2 * np.eye(2)])
    mean, cov = mixture_moments(means, covs, np.array([0.25, 0.75]))
    np.testing.assert_allclose(mean, [1.5, -0.5])
    np.testing.assert_allclose(cov, 0.25 * np.eye(2) + 0.75 * 2 * np.eye(2)
                               + 0.25 * np.outer([-1.5, 1.5], [-1.5, 1.5]) + 0.75 * np.outer([0.5, -0.5], [0.5, -0.5]))
    with pytest.raises(ValueError, match="covariances"):
        gaussian_mixture_full("bad", means, covariances=np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_mixture_full("bad", means, covariances=[np.eye(2), -np.eye(2)])
    with pytest.raises(ValueError, match="separation"):
        targets.get("three_mode_mixture", separation=-1.0)
    with pytest.raises(ValueError, match="dim"):
        targets.get("triangle_mixture", dim=1)
