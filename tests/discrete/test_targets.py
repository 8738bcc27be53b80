"""Discrete targets: fast conditional logits, exact ground truth and samplers, mean-zero scores, relaxations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from srmc import targets, testing
from srmc.targets.discrete import (
    SCORES,
    conditional_logits_by_evaluation,
    enumerate_configurations,
    enumerated_probabilities,
    make_score,
    relaxed_gradient_score,
    relaxed_one_hot,
    single_site_log_ratios,
)

SMALL = {
    "bernoulli": dict(dim=6),
    "ising": dict(side=3, coupling=0.3, field=0.2),
    "potts": dict(side=2, num_colours=3),
    "rbm": dict(num_visible=10, num_hidden=4),
    "factorial_hmm": dict(num_chains=2, num_times=5),
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def small(request):
    with jax.enable_x64(True):
        target = targets.get(request.param, **SMALL[request.param])
        states = enumerate_configurations(target.dim, target.num_categories)
        yield target, states, enumerated_probabilities(target.logdensity, states)


def test_ground_truth_is_exact_by_enumeration(small):
    target, states, probabilities = small
    marginals = np.stack([probabilities @ (states == k) for k in range(target.num_categories)], axis=-1)
    np.testing.assert_allclose(target.ground_truth.marginals, marginals, atol=1e-10)
    np.testing.assert_allclose(target.ground_truth.mean, probabilities @ states, atol=1e-10)
    np.testing.assert_allclose(target.ground_truth.variance, probabilities @ states**2 - (probabilities @ states) ** 2,
                               atol=1e-10)


def test_exact_sampler_matches_the_marginals(small):
    target, _, _ = small
    num = 50_000
    draws = np.asarray(target.sample(jax.random.key(0), num))
    observed = np.stack([(draws == k).mean(0) for k in range(target.num_categories)], axis=-1)
    truth = target.ground_truth.marginals
    stderr = np.sqrt(truth * (1 - truth) / num) + 1e-12
    assert np.abs((observed - truth) / stderr).max() < 5  # 5 sigma over <= 27 cells: false alarm < 1e-5


def test_fast_conditional_logits_match_evaluation_in_every_form(small):
    target, states, _ = small
    by_evaluation = conditional_logits_by_evaluation(target.logdensity, target.num_categories)
    with jax.enable_x64(True):
        for x in jnp.asarray(states[:: max(1, len(states) // 7)]):
            relaxed = x.astype(jnp.float64) if target.num_categories == 2 else relaxed_one_hot(x, target.num_categories)
            forms = [x, relaxed]
            for form in forms:
                fast, slow = target.conditional_logits(form), by_evaluation(form)
                np.testing.assert_allclose(fast - fast[:, :1], slow - slow[:, :1], atol=1e-9)
                ratios = single_site_log_ratios(target, form)  # log pi(x with x_i = k) - log pi(x)
                np.testing.assert_allclose(ratios, slow - target.logdensity(x), atol=1e-9)
                np.testing.assert_allclose(target.logdensity(form), target.logdensity(x), atol=1e-9)


def test_every_score_is_mean_zero_and_normalisation_free(small):
    target, states, probabilities = small
    with jax.enable_x64(True):
        for kind in SCORES:
            score = make_score(target.conditional_logits, target.num_categories, kind)
            values = np.asarray(jax.vmap(score)(jnp.asarray(states)))
            assert values.shape == (len(states), target.dim * (target.num_categories - 1))
            assert np.abs(probabilities @ values).max() < 1e-8, kind
            shifted = make_score(lambda x: target.conditional_logits(x) + 3.7, target.num_categories, kind)
            np.testing.assert_allclose(jax.vmap(shifted)(jnp.asarray(states[:5])), values[:5], atol=1e-9)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(testing.lattice_models(min_sites=4, max_sites=10, num_categories=(2, 3)))
def test_scores_are_mean_zero_on_random_models(model):
    with jax.enable_x64(True):
        model = testing.lattice_model(model.params["couplings"], model.params["field"])  # rebuilt in float64
        states = enumerate_configurations(model.dim, model.num_categories)
        probabilities = enumerated_probabilities(model.logdensity, states)
        for kind in SCORES:
            score = make_score(model.conditional_logits, model.num_categories, kind)
            assert np.abs(probabilities @ np.asarray(jax.vmap(score)(jnp.asarray(states)))).max() < 1e-8, kind


def test_barker_score_is_the_gibbs_residual():
    target = targets.get("bernoulli", dim=5)
    x = target.sample(jax.random.key(1), 4)
    expected = target.ground_truth.marginals[:, 1] - np.asarray(x)
    np.testing.assert_allclose(jax.vmap(target.score)(x), expected, atol=1e-6)


def test_relaxed_gradient_score_is_biased_under_a_field_and_not_without():
    with jax.enable_x64(True):
        for field, biased in ((0.2, True), (0.0, False)):
            target = targets.get("ising", side=3, coupling=0.3, field=field)
            states = enumerate_configurations(9)
            probabilities = enumerated_probabilities(target.logdensity, states)
            relaxed = probabilities @ np.asarray(jax.vmap(relaxed_gradient_score(target))(jnp.asarray(states)))
            # E_pi[grad f] = 2 (2 E[(W s)_i] + h_i): 4.85 per site here with the field, 0 by symmetry without
            assert (np.abs(relaxed).min() > 4.0) if biased else (np.abs(relaxed).max() < 1e-8)
        potts = targets.get("potts", side=2, num_colours=3)
        assert relaxed_gradient_score(potts)(jnp.zeros(4, jnp.int32)).shape == (8,)


def test_trained_rbm_ships_with_its_note():
    target = targets.get("rbm_digits")
    assert target.dim == 64 and target.params["weights"].shape == (16, 64)
    assert "train_rbm" in target.params["note"]["command"]
    assert target.params["note"]["exact_average_log_likelihood"] > -25.0
    assert 0.05 < target.ground_truth.mean.mean() < 0.6  # digits: mostly background pixels


def test_registry_lists_discrete_targets_with_exact_truth():
    for name in ("bernoulli", "ising", "potts", "rbm", "rbm_digits", "factorial_hmm"):
        target = targets.get(name)
        assert target.kind in ("binary", "categorical") and target.ground_truth.exact, name
        assert target.ground_truth.marginals.shape == (target.dim, target.num_categories)
        assert target.sample is not None and target.conditional_logits is not None


def test_clear_errors():
    with pytest.raises(ValueError, match="score must be one of"):
        targets.get("ising", score="log")
    with pytest.raises(ValueError, match="side must be >= 2"):
        targets.get("potts", side=1)
    with pytest.raises(ValueError, match="at most 20 hidden units"):
        targets.get("rbm", num_hidden=21)
    with pytest.raises(ValueError, match="num_chains must be <= 10"):
        targets.get("factorial_hmm", num_chains=11)
    with pytest.raises(ValueError, match="symmetric"):
        testing.lattice_model(np.array([[0.0, 1.0], [0.0, 0.0]]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="relaxes binary sites only"):
        relaxed_one_hot(jnp.zeros(3), 3)
    with pytest.raises(ValueError, match="too many to enumerate"):
        enumerate_configurations(30)
