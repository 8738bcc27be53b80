"""Mode-coverage metrics on hand-made draws with known answers, and on a real mixture run."""

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.tools.coverage import assign_modes, coverage_curve, mixture_modes, mode_coverage, summarize_coverage

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


def test_summary_over_time():
    chain_all = np.array([MEANS[0], MEANS[0], MEANS[1], MEANS[2]]) + 0.1
    chain_two = np.array([MEANS[1], MEANS[0], MEANS[0], MEANS[0]])
    summary = summarize_coverage(np.stack([chain_all, chain_two]), MEANS, None, thin=5)
    np.testing.assert_array_equal(summary.steps, [5, 10, 15, 20])
    np.testing.assert_allclose(summary.fraction_visited, [1 / 3, 1 / 2, 2 / 3, 5 / 6])  # chains: 1,1,2,3 and 1,2,2,2 of 3
    assert summary.final_fraction_visited == pytest.approx(5 / 6)
    assert summary.all_visited_share == 0.5
    assert summary.median_steps_to_visit_all == np.inf  # only one chain of two visited all modes (at step 20)
    # occupancies (1/2, 1/4, 1/4) and (3/4, 1/4, 0) against uniform weights: TV 1/6 and 5/12
    assert summary.total_variation == pytest.approx((1 / 6 + 5 / 12) / 2)
    assert summary.total_variation_stderr == pytest.approx(abs(1 / 6 - 5 / 12) / 2)
    three = summarize_coverage(np.stack([chain_all] * 3), MEANS, None, thin=5)
    assert three.median_steps_to_visit_all == 20 and three.all_visited_share == 1.0


def test_mixture_modes_of_the_25_mode_mixture():
    means, weights, radius = mixture_modes(targets.get("gaussian_mixture_25"))
    assert means.shape == (25, 2) and np.allclose(weights, 1 / 25)
    assert radius == pytest.approx(4 * np.sqrt(0.03))
    assert mixture_modes(targets.get("banana")) is None


def test_far_draws_are_between_modes():
    labels = assign_modes(np.array([[[1.5, 1.5], [0.1, 0.0]]]), MEANS, radius=1.0)
    np.testing.assert_array_equal(labels, [[-1, 0]])


def test_exact_draws_cover_the_25_mode_mixture():
    target = targets.get("gaussian_mixture_25")
    draws = np.asarray(target.sample(jax.random.key(0), 20_000))[None]
    coverage = mode_coverage(draws, target.mixture.means, target.mixture.weights)
    assert coverage.fraction_visited[0] == 1.0
    # multinomial TV with 25 cells and n = 20000 draws is about 0.5 * 25 * sqrt(0.04 / n * 2 / pi) ~ 0.014
    assert coverage.total_variation[0] < 0.03
    means, weights, radius = mixture_modes(target)
    summary = summarize_coverage(draws[:, :2000], means, weights, thin=1, radius=radius)
    assert summary.final_fraction_visited == 1.0 and summary.median_steps_to_visit_all < 2000
    assert summary.fraction_visited[0] == 1 / 25 and np.all(np.diff(summary.fraction_visited) >= 0)


def test_a_stuck_sampler_covers_few_modes():
    target = targets.get("gaussian_mixture_25")
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.01), target, 500, 4, options=srmc.RunOptions(thin=5), warmup=0)
    coverage = mode_coverage(result.draws, target.mixture.means, target.mixture.weights)
    assert np.all(coverage.fraction_visited < 0.5) and np.all(coverage.total_variation > 0.5)
