"""Mode-coverage metrics on hand-made draws with known answers, and on a real mixture run."""

import jax
import numpy as np

import samplers
import srmc
import targets
from srmc.coverage import assign_modes, coverage_curve, mode_coverage

MEANS = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])


def test_known_answers():
    chain_all = np.array([MEANS[0], MEANS[0], MEANS[1], MEANS[2]]) + 0.1
    chain_one = np.array([MEANS[1]] * 4)
    draws = np.stack([chain_all, chain_one])
    coverage = mode_coverage(draws, MEANS)
    np.testing.assert_allclose(coverage.fraction_visited, [1.0, 1 / 3])
    np.testing.assert_array_equal(coverage.draws_to_visit_all, [3, -1])
    # occupancy (1/2, 1/4, 1/4) vs uniform: TV = 1/2 (1/6 + 1/12 + 1/12) = 1/6; all mass on one mode: 2/3
    np.testing.assert_allclose(coverage.total_variation, [1 / 6, 2 / 3])
    np.testing.assert_allclose(coverage_curve(draws, MEANS)[0], [1 / 3, 1 / 3, 2 / 3, 1.0])


def test_far_draws_are_between_modes():
    labels = assign_modes(np.array([[[1.5, 1.5], [0.1, 0.0]]]), MEANS, radius=1.0)
    np.testing.assert_array_equal(labels, [[-1, 0]])


def test_exact_draws_cover_the_25_mode_mixture():
    target = targets.get("gaussian_mixture_25")
    draws = np.asarray(target.sample(jax.random.key(0), 20_000))[None]
    coverage = mode_coverage(draws, target.params["means"], target.params["weights"])
    assert coverage.fraction_visited[0] == 1.0
    # multinomial TV with 25 cells and n = 20000 draws is about 0.5 * 25 * sqrt(0.04 / n * 2 / pi) ~ 0.014
    assert coverage.total_variation[0] < 0.03


def test_a_stuck_sampler_covers_few_modes():
    target = targets.get("gaussian_mixture_25")
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.01), target, 500, 4, thin=5)
    coverage = mode_coverage(result.draws, target.params["means"], target.params["weights"])
    assert np.all(coverage.fraction_visited < 0.5) and np.all(coverage.total_variation > 0.5)
