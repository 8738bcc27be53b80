"""srmc.testing: every built-in kernel passes the helpers, and deliberately broken kernels are caught.

All keys are fixed, so every statistical check here is deterministic; each check's false-alarm rate (1e-3) is
what a correct kernel would risk with a fresh key.
"""

import dataclasses
import types
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

import srmc
from srmc import samplers, testing
from srmc.samplers._metropolis import MetropolisInfo, metropolis_decision, select
from srmc.samplers.spec import CATEGORICAL, NUM_CATEGORIES, KernelSpec

SD = np.array([1.0, 1.5, 0.7])
COV = (0.5 + 0.5 * np.eye(3)) * SD[:, None] * SD[None, :]
GAUSSIAN = testing.gaussian_target("gaussian3", np.array([1.0, -0.5, 0.3]), COV)
THETA = np.array([0.5, -0.3, 0.2])
KERNELS = {
    "rwm": (samplers.rwm, {"step_size": 0.8}),
    "mala": (samplers.mala, {"step_size": 0.3}),
    "hmc": (samplers.hmc, {"step_size": 0.3, "num_integration_steps": 5}),
    "kinetic_langevin": (samplers.kinetic_langevin, {"step_size": 0.3, "damping": 1.0}),
    "kinetic_langevin_mass": (samplers.kinetic_langevin, {"step_size": 0.3, "damping": 0.5,
                                                          "num_integration_steps": 3, "inverse_mass_matrix": SD**2}),
}
SURROGATES = [("score", "exact"), ("score", "shifted"), ("linear", "exact")]
SURROGATE_CASES = [(name, tilt, gradient) for name in ("rwm", "mala", "hmc", "kinetic_langevin")
                   for tilt, gradient in SURROGATES if not (name == "rwm" and gradient == "shifted")]
# built once: a check on the same kernel and target reuses its compilation
TILTED = {(tilt, gradient): testing.tilted_gaussian(GAUSSIAN, THETA, 1.5, tilt, gradient)
          for tilt, gradient in SURROGATES}


def _accepted_info() -> MetropolisInfo:
    return MetropolisInfo(jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))


def _module(init, kernel, name: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(init=init, build_kernel=lambda: kernel, __name__=name)


def _discrete_record(init, kernel, name: str, transition_probabilities) -> KernelSpec:
    """A discrete kernel of one's own declares its record: state space, parameters, exact transitions."""
    return KernelSpec(name, init, lambda: kernel, CATEGORICAL, (NUM_CATEGORIES,),
                      transition_probabilities=transition_probabilities)


# --- deliberately broken continuous kernels ----------------------------------------------------------------------

def broken_mala(reverse_drift_sign: float, metropolis: bool) -> types.SimpleNamespace:
    """MALA with no Metropolis correction (ULA), or with the drift's sign flipped in the reverse proposal."""

    def kernel(rng_key, state, logdensity_fn, step_size):
        key_noise, key_accept = jax.random.split(rng_key)
        x, g = state.position, state.logdensity_grad
        noise = jax.random.normal(key_noise, x.shape, x.dtype)
        proposal = samplers.mala.init(x + step_size * g + jnp.sqrt(2 * step_size) * noise, logdensity_fn)
        if not metropolis:
            return proposal, _accepted_info()
        y, g_y = proposal.position, proposal.logdensity_grad
        forward = -jnp.sum((y - x - step_size * g) ** 2) / (4 * step_size)
        backward = -jnp.sum((x - y - reverse_drift_sign * step_size * g_y) ** 2) / (4 * step_size)
        decision = metropolis_decision(key_accept, proposal.logdensity - state.logdensity + backward - forward)
        return select(decision.is_accepted, proposal, state), MetropolisInfo(*decision)

    return _module(samplers.mala.init, kernel, "ula" if not metropolis else "mala_wrong_sign")


def always_accepting_rwm() -> types.SimpleNamespace:
    def kernel(rng_key, state, logdensity_fn, step_size):
        position = state.position + step_size * jax.random.normal(rng_key, state.position.shape)
        return samplers.rwm.init(position, logdensity_fn), _accepted_info()

    return _module(samplers.rwm.init, kernel, "always_accept")


# --- continuous invariance ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_builtin_kernels_pass_continuous_invariance(name):
    module, params = KERNELS[name]
    result = testing.check_continuous_invariance(module, params, GAUSSIAN)
    assert result.passed and result.false_alarm_rate == 1e-3, result


@pytest.mark.parametrize("broken,params", [
    (broken_mala(1.0, metropolis=False), {"step_size": 0.6}),
    (broken_mala(-1.0, metropolis=True), {"step_size": 0.6}),
    (always_accepting_rwm(), {"step_size": 0.8}),
], ids=["ula", "mala_wrong_drift_sign", "rwm_always_accepts"])
def test_broken_kernels_fail_continuous_invariance(broken, params):
    result = testing.check_continuous_invariance(broken, params, GAUSSIAN)
    assert not result and result.p_value < 1e-3, result


def test_tilted_gaussian_is_the_surrogate_with_the_stated_mean():
    for tilt, shift in (("score", 1.5 * THETA), ("linear", 1.5 * COV @ THETA)):
        tilted = testing.tilted_gaussian(GAUSSIAN, THETA, 1.5, tilt)
        np.testing.assert_allclose(tilted.ground_truth.mean, GAUSSIAN.ground_truth.mean + shift)
        x, y = jnp.array([0.3, 0.1, -0.2]), jnp.array([-1.0, 2.0, 0.5])
        exact = testing.gaussian_target("exact", tilted.ground_truth.mean, COV)
        # same density up to a constant
        np.testing.assert_allclose(tilted.logdensity(x) - tilted.logdensity(y),
                                   exact.logdensity(x) - exact.logdensity(y), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,tilt,gradient", SURROGATE_CASES)
def test_base_kernels_leave_the_frozen_theta_surrogate_invariant(name, tilt, gradient):
    module, params = KERNELS[name]
    assert testing.check_continuous_invariance(module, params, TILTED[tilt, gradient])


@pytest.mark.parametrize("name,tilt,gradient", [
    ("hmc", "score", "exact"), ("mala", "score", "shifted"), ("kinetic_langevin_mass", "linear", "exact"),
])
def test_srmc_with_frozen_theta_leaves_the_surrogate_invariant(name, tilt, gradient):
    module, params = KERNELS[name]
    assert testing.check_srmc_frozen_theta(module, params, GAUSSIAN, THETA, 1.5, tilt=tilt, gradient=gradient)


def test_the_surrogate_check_catches_a_wrong_tilt():
    """MALA on the tilt with theta, checked against exact draws of the tilt with -theta, must fail."""
    module, params = KERNELS["mala"]
    other_sign = testing.tilted_gaussian(GAUSSIAN, -THETA, 1.5, "score")
    assert not testing.check_continuous_invariance(module, params, TILTED["score", "exact"], sample=other_sign.sample)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(testing.gaussian_targets(dim=3, max_condition=20.0))
def test_mala_and_hmc_on_random_gaussians(target):
    cov = target.gaussian.cov
    eigenvalues = np.linalg.eigvalsh(cov)
    assert eigenvalues.min() > 0 and eigenvalues.max() / eigenvalues.min() < 20.0 * (1 + 1e-6)
    # step sizes and the target's arrays are traced: these reuse the compilations of the GAUSSIAN checks above
    step_size = 0.5 * float(eigenvalues.min())
    assert testing.check_continuous_invariance(samplers.mala, {"step_size": step_size}, target)
    hmc = {"step_size": float(np.sqrt(step_size)), "num_integration_steps": 5}
    assert testing.check_continuous_invariance(samplers.hmc, hmc, target)


@settings(max_examples=3, deadline=None, derandomize=True)
@given(testing.mixture_targets(num_components=3))
def test_rwm_on_random_mixtures(target):
    assert testing.check_continuous_invariance(samplers.rwm, {"step_size": 0.7}, target, num_chains=2000)


# --- identities ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rwm", "mala", "hmc", "kinetic_langevin_mass"])
def test_identity_checks_pass_for_builtin_kernels(name):
    module, params = KERNELS[name]
    positions = GAUSSIAN.sample(jax.random.key(1), 3)
    assert testing.check_alpha_zero_identity(module, params, GAUSSIAN)
    assert testing.check_vmap_and_jit(module, params, GAUSSIAN, positions)
    assert testing.check_determinism(module, params, GAUSSIAN, positions[0])


def test_identity_checks_accept_srmc_algorithms():
    algorithm = srmc.wrap(samplers.mala, alpha=2.0, tilt="linear", step_size=0.3)
    positions = GAUSSIAN.sample(jax.random.key(1), 3)
    assert testing.check_vmap_and_jit(algorithm, {}, GAUSSIAN, positions)
    assert testing.check_determinism(algorithm, {}, GAUSSIAN, positions[0])


def test_determinism_check_catches_a_kernel_that_ignores_its_key():
    rwm = samplers.rwm.build_kernel()
    keyless = _module(samplers.rwm.init, lambda key, state, logdensity_fn, step_size: rwm(
        jax.random.key(0), state, logdensity_fn, step_size), "keyless")
    result = testing.check_determinism(keyless, {"step_size": 0.5}, GAUSSIAN, jnp.zeros(3))
    assert not result and "False" in result.detail


def test_jit_check_catches_a_kernel_with_host_randomness():
    """np.random inside a kernel is frozen into the compiled function, so jit and eager disagree."""
    rng = np.random.default_rng(0)
    rwm = samplers.rwm.build_kernel()

    def kernel(rng_key, state, logdensity_fn, step_size):
        state = state._replace(position=state.position + rng.normal())
        return rwm(rng_key, state, logdensity_fn, step_size)

    result = testing.check_vmap_and_jit(_module(samplers.rwm.init, kernel, "host_random"), {"step_size": 0.5},
                                        GAUSSIAN, GAUSSIAN.sample(jax.random.key(1), 2))
    assert not result and result.statistic > 1e-3, result


# --- discrete kernels on {0..q-1}^d, written here to exercise the helpers ------------------------------------------

class SiteState(NamedTuple):
    position: jax.Array


def _site_init(position, logdensity_fn):
    return SiteState(jnp.asarray(position, jnp.int32))


def _site_values(logdensity_fn, x, site, num_categories):
    """log p(x with x_site = k) for k = 0..q-1."""
    candidates = jnp.broadcast_to(x, (num_categories, x.shape[0])).at[:, site].set(jnp.arange(num_categories))
    return jax.vmap(logdensity_fn)(candidates)


def _neighbours(position, states):
    """(Hamming distance, first differing site) of every state from `position`."""
    differs = states != position
    return differs.sum(axis=1), jnp.argmax(differs, axis=1)


def metropolis(power: float = 1.0, claimed_power: float | None = None) -> types.SimpleNamespace:
    """Random single-site Metropolis; `power` != 1 accepts with (p(y)/p(x))^power, a wrong acceptance ratio.

    `transition_probabilities` is exact for `claimed_power` (default: `power`).
    """

    def kernel(rng_key, state, logdensity_fn, num_categories=2):
        key_site, key_value, key_accept = jax.random.split(rng_key, 3)
        x = state.position
        site = jax.random.randint(key_site, (), 0, x.shape[0])
        y = x.at[site].set((x[site] + jax.random.randint(key_value, (), 1, num_categories)) % num_categories)
        decision = metropolis_decision(key_accept, power * (logdensity_fn(y) - logdensity_fn(x)))
        return SiteState(jnp.where(decision.is_accepted, y, x)), MetropolisInfo(*decision)

    def transition_probabilities(position, states, logdensity_fn, num_categories=2):
        distance, _ = _neighbours(position, states)
        exponent = power if claimed_power is None else claimed_power
        log_ratio = exponent * (jax.vmap(logdensity_fn)(states) - logdensity_fn(position))
        move = jnp.exp(jnp.minimum(log_ratio, 0.0)) / (position.shape[0] * (num_categories - 1))
        off_diagonal = jnp.where(distance == 1, move, 0.0)
        return jnp.where(distance == 0, 1.0 - off_diagonal.sum(), off_diagonal)

    return _discrete_record(_site_init, kernel, f"metropolis(power={power})", transition_probabilities)


def gibbs(temperature: float = 1.0) -> types.SimpleNamespace:
    """Random-scan Gibbs; `temperature` != 1 samples the wrong conditional p(x_i | x_-i)^(1/T)."""

    def kernel(rng_key, state, logdensity_fn, num_categories=2):
        key_site, key_value = jax.random.split(rng_key)
        x = state.position
        site = jax.random.randint(key_site, (), 0, x.shape[0])
        logits = _site_values(logdensity_fn, x, site, num_categories) / temperature
        value = jax.random.categorical(key_value, logits)
        return SiteState(x.at[site].set(value)), MetropolisInfo(jnp.ones(()), jnp.ones((), bool), jnp.zeros((), bool))

    def transition_probabilities(position, states, logdensity_fn, num_categories=2):
        dim = position.shape[0]
        distance, site = _neighbours(position, states)
        site_logits = jax.vmap(lambda i: _site_values(logdensity_fn, position, i, num_categories))(jnp.arange(dim))
        log_normaliser = jax.nn.logsumexp(site_logits / temperature, axis=1)
        move = jnp.exp(jax.vmap(logdensity_fn)(states) / temperature - log_normaliser[site]) / dim
        stay = jnp.mean(jnp.exp(site_logits[jnp.arange(dim), position] / temperature - log_normaliser))
        return jnp.where(distance == 0, stay, jnp.where(distance == 1, move, 0.0))

    return _discrete_record(_site_init, kernel, f"gibbs(temperature={temperature})", transition_probabilities)


def _without_exact(record: KernelSpec) -> KernelSpec:
    return record._replace(transition_probabilities=None)


RNG = np.random.default_rng(0)
_UPPER = np.triu(RNG.uniform(-1, 1, (5, 5)), 1)
ISING = testing.lattice_model(_UPPER + _UPPER.T, RNG.normal(size=(5, 2)))
POTTS = testing.lattice_model(_UPPER[:4, :4] + _UPPER[:4, :4].T, RNG.normal(size=(4, 3)))
CORRECT = {"metropolis": metropolis(), "gibbs": gibbs()}
BROKEN = {"metropolis_squared_ratio": metropolis(power=2.0), "gibbs_tempered_conditional": gibbs(temperature=2.0)}
SAMPLED_ONLY = {name: _without_exact(kernel) for name, kernel in {**CORRECT, **BROKEN}.items()}


@pytest.mark.parametrize("model", [ISING, POTTS], ids=["ising", "potts"])
def test_exact_invariance_passes_for_correct_and_fails_for_broken_kernels(model):
    params = {"num_categories": model.num_categories}
    for name, kernel in CORRECT.items():
        result = testing.check_discrete_invariance(kernel, params, model.logdensity, model.dim,
                                                   num_categories=model.num_categories)
        assert result and result.statistic < 1e-6 and np.isnan(result.p_value), (name, result)
    for name, kernel in BROKEN.items():
        result = testing.check_discrete_invariance(kernel, params, model.logdensity, model.dim,
                                                   num_categories=model.num_categories)
        assert not result and result.statistic > 1e-3, (name, result)


@settings(max_examples=3, deadline=None, derandomize=True)
@given(testing.lattice_models(min_sites=4, max_sites=10, num_categories=(2, 3)))
def test_monte_carlo_invariance_on_random_ising_and_potts_models(model):
    params = {"num_categories": model.num_categories}
    for name, kernel in CORRECT.items():
        result = testing.check_discrete_invariance(SAMPLED_ONLY[name], params, model.logdensity, model.dim,
                                                   num_categories=model.num_categories)
        assert result, (name, result)
        assert testing.check_discrete_invariance(kernel, params, model.logdensity, model.dim,
                                                 num_categories=model.num_categories), name


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_monte_carlo_invariance_catches_broken_kernels(name):
    result = testing.check_discrete_invariance(SAMPLED_ONLY[name], {}, ISING.logdensity, ISING.dim)
    assert not result and result.p_value < 1e-3, result


def test_sampled_moves_match_the_claimed_transition_probabilities():
    for kernel in (*CORRECT.values(), *BROKEN.values()):
        assert testing.check_transition_probabilities(kernel, {}, ISING.logdensity, ISING.dim), kernel.__name__
    # a sampler that does not do what its transition_probabilities claim: the exact check trusts the claim ...
    liar = metropolis(power=2.0, claimed_power=1.0)
    assert testing.check_discrete_invariance(liar, {}, ISING.logdensity, ISING.dim)
    # ... and this check exposes it
    result = testing.check_transition_probabilities(liar, {}, ISING.logdensity, ISING.dim)
    assert not result and result.p_value < 1e-3, result


def test_monte_carlo_transition_matrix_approaches_the_exact_one():
    states = testing.enumerate_states(3)[::-1]  # any order of the enumerated states
    model = testing.lattice_model(np.array([[0.0, 0.8, 0.0], [0.8, 0.0, -0.5], [0.0, -0.5, 0.0]]),
                                  np.array([[0.0, 0.3], [0.0, -0.2], [0.1, 0.0]]))
    pi = testing.exact_probabilities(model.logdensity, states)
    exact = testing.exact_transition_matrix(CORRECT["gibbs"], {}, model.logdensity, states)
    estimate = testing.transition_matrix(CORRECT["gibbs"], {}, model.logdensity, states, num_samples=20_000)
    np.testing.assert_allclose(estimate.sum(axis=1), 1.0)
    assert np.abs(estimate - exact).max() < 5 * np.sqrt(0.25 / 20_000)
    assert testing.invariance_error(exact, pi) < 1e-6 < 0.01 < testing.invariance_error(
        testing.exact_transition_matrix(BROKEN["gibbs_tempered_conditional"], {}, model.logdensity, states), pi)


# --- results, strategies and errors ---------------------------------------------------------------------------------

def test_check_result_is_truthy_exactly_when_it_passed():
    assert testing.CheckResult(0.1, 0.5, 1e-3, True)
    assert not testing.CheckResult(0.1, 1e-9, 1e-3, False)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(testing.lattice_models(num_categories=(2, 4)))
def test_lattice_models_are_small_symmetric_and_enumerable(model):
    assert 4 <= model.dim <= 10 and model.num_categories ** model.dim <= testing.MAX_EXACT_STATES
    couplings = model.params["couplings"]
    np.testing.assert_array_equal(couplings, couplings.T)
    assert np.all(np.diag(couplings) == 0) and model.ground_truth.marginals.shape == (model.dim, model.num_categories)


def test_helpful_errors():
    bare = srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.3)
    with pytest.raises(ValueError, match="params must be"):
        testing.run_kernel(bare, {"step_size": 0.3}, GAUSSIAN, jnp.zeros((2, 3)), 1, jax.random.key(0))
    with pytest.raises(TypeError, match="targets.Target"):
        testing.run_kernel(bare, {}, GAUSSIAN.logdensity, jnp.zeros((2, 3)), 1, jax.random.key(0))
    with pytest.raises(TypeError, match="transition_probabilities"):
        testing.exact_transition_matrix(samplers.rwm, {}, ISING.logdensity, testing.enumerate_states(5))
    with pytest.raises(ValueError, match="not among the given states"):
        testing.transition_matrix(CORRECT["gibbs"], {}, ISING.logdensity, testing.enumerate_states(5)[:4])
    with pytest.raises(ValueError, match="exact sampler"):
        no_sampler = dataclasses.replace(GAUSSIAN, sample=None)
        testing.check_continuous_invariance(samplers.rwm, {"step_size": 0.5}, no_sampler)
