"""NumPyro models as targets: density, constraint map, and SRMC-HMC against stored NumPyro NUTS references."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.targets.numpyro_model import constrained_moments, load_site_reference

numpyro = pytest.importorskip("numpyro")
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import init_to_median  # noqa: E402
from numpyro.infer.util import potential_energy  # noqa: E402

MODELS = ["eight_schools", "numpyro_logistic"]


@pytest.fixture(scope="module", params=MODELS)
def target(request):
    return targets.get(request.param)


def test_logdensity_is_minus_numpyro_potential(target):
    model, args, kwargs = target.model.model, target.model.model_args, target.model.model_kwargs
    positions = jnp.concatenate([target.initial_position(jax.random.key(1), 3),
                                 0.5 * jax.random.normal(jax.random.key(2), (3, target.dim))])
    for x in positions:
        expected = -potential_energy(model, args, kwargs, target.model.unravel(x))
        np.testing.assert_allclose(target.logdensity(x), expected, rtol=1e-5)
    assert np.all(np.isfinite(jax.vmap(target.score)(positions)))


def test_constrain_maps_back_to_the_sites():
    target = targets.get("eight_schools")
    x = jax.random.normal(jax.random.key(0), (3, 5, target.dim))
    sites = jax.jit(functools.partial(targets.constrain, target))(x)
    assert sites["theta"].shape == (3, 5, 8) and sites["tau"].shape == (3, 5)
    assert np.all(sites["tau"] > 0)
    np.testing.assert_allclose(sites["mu"], x[..., 0], rtol=1e-6)  # sites sorted by name: mu, tau, theta_tilde
    np.testing.assert_allclose(sites["tau"], np.exp(x[..., 1]), rtol=1e-5)
    np.testing.assert_allclose(sites["theta"], sites["mu"][..., None] + sites["tau"][..., None] * x[..., 2:],
                               rtol=1e-5, atol=1e-6)

    logistic = targets.get("numpyro_logistic")
    x = jax.random.normal(jax.random.key(1), (7, logistic.dim))
    sites = targets.constrain(logistic, x)
    assert logistic.dim == 4 and sites["coefficients"].shape == (7, 3) and sites["intercept"].shape == (7,)
    np.testing.assert_allclose(sites["coefficients"], x[:, :3])
    np.testing.assert_allclose(sites["intercept"], x[:, 3])


def test_initial_positions_follow_the_init_strategy():
    target = targets.get("eight_schools")
    uniform = target.initial_position(jax.random.key(0), 64)
    assert uniform.shape == (64, target.dim) and np.all(np.abs(uniform) <= 2.0)
    np.testing.assert_array_equal(uniform, target.initial_position(jax.random.key(0), 64))
    median = targets.from_numpyro(target.model.model, *target.model.model_args, init_strategy=init_to_median)
    positions = median.initial_position(jax.random.key(0), 4)
    assert median.name == "eight_schools_model" and np.all(np.isfinite(jax.vmap(median.logdensity)(positions)))


def test_clear_errors():
    def discrete_model():
        numpyro.sample("z", dist.Normal(0.0, 1.0))
        numpyro.sample("k", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match="site 'k' is a discrete latent"):
        targets.from_numpyro(discrete_model)
    with pytest.raises(ValueError, match="no latent sample site"):
        targets.from_numpyro(lambda: numpyro.sample("y", dist.Normal(0.0, 1.0), obs=1.0))
    with pytest.raises(ValueError, match="not made by targets.from_numpyro"):
        targets.constrain(targets.get("correlated_gaussian"), np.zeros((2, 2)))
    target = targets.get("eight_schools")
    with pytest.raises(ValueError, match="last axis of length 10"):
        targets.constrain(target, np.zeros((2, 3)))


def srmc_hmc(target, tilt, num_steps, burn_in, step_size, num_integration_steps, thin=None):
    """SRMC-HMC, 128 chains, alpha warmed up to 1 over 1000 steps, running means of the constrained sites."""
    # the fixed-length leapfrog these reference comparisons were set up with (no step jitter)
    algorithm = srmc.wrap(samplers.hmc, alpha=srmc.schedules.linear_warmup(1.0, 1000), tilt=tilt,
                          step_size=step_size, num_integration_steps=num_integration_steps, step_jitter=0.0)
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps, 128,
                         functions=targets.constrained_functions(target), options=srmc.RunOptions(burn_in=burn_in, thin=thin), warmup=0)
    assert 0.6 < result.acceptance_rate.mean()
    assert result.num_nonfinite.sum() <= 10  # rare overflowing leapfrog paths (rejected), e.g. log tau far out
    return result


def site_z_scores(moments, reference):
    """``{site: z}`` of SRMC site means against the NUTS reference, se = sqrt(se_srmc^2 + se_nuts^2)."""
    return {site: (moments[site].mean - ref.mean) / np.hypot(moments[site].mean_stderr, ref.mean_stderr)
            for site, ref in reference.items()}


def assert_sites_agree(moments, reference):
    z = site_z_scores(moments, reference)
    for site, value in z.items():
        assert np.all(np.abs(value) < 4), f"{site}: SRMC {moments[site].mean}, NUTS {reference[site].mean}, z {value}"


@pytest.fixture(scope="module")
def eight_schools_run():
    target = targets.get("eight_schools")
    # A long burn-in: at alpha = 1 the SRMC draws at step t bias E[tau] (~3.6) by about -50 / t (measured over keys,
    # also from stationary starts; base HMC shows none): -0.021 = 3 standard errors averaged over steps 1000-5000,
    # about -0.007 over steps 4000-8000 as here.
    return target, srmc_hmc(target, "score", 4000, 4000, 0.35, 8, thin=20)


def test_eight_schools_srmc_hmc_agrees_with_nuts(eight_schools_run):
    target, result = eight_schools_run
    reference = load_site_reference("eight_schools")
    assert set(reference) == {"mu", "tau", "theta", "theta_tilde"}
    assert_sites_agree(constrained_moments(target, result), reference)
    z = (result.mean - target.ground_truth.mean) / np.hypot(result.mcse("x"), target.ground_truth.mean_stderr)
    assert np.all(np.abs(z) < 4), z  # the unconstrained coordinates too


def test_constrained_moments_from_stored_draws(eight_schools_run):
    target, result = eight_schools_run
    from_functions = constrained_moments(target, result)
    from_draws = constrained_moments(target, dataclasses.replace(result, chain_estimates={}))
    for site, moments in from_draws.items():
        assert moments.mean.shape == from_functions[site].mean.shape
        assert np.all(np.abs(moments.mean - from_functions[site].mean) < 4 * moments.mean_stderr), site
        assert np.all(moments.variance > 0)
    with pytest.raises(ValueError, match="constrained_functions"):
        constrained_moments(target, dataclasses.replace(result, chain_estimates={}, draws=None))


def test_eight_schools_linear_tilt_agrees_with_nuts():
    target = targets.get("eight_schools")
    result = srmc_hmc(target, "linear", 3000, 4000, 0.35, 8)
    assert_sites_agree(constrained_moments(target, result), load_site_reference("eight_schools"))


def test_logistic_regression_srmc_hmc_agrees_with_nuts():
    target = targets.get("numpyro_logistic")
    result = srmc_hmc(target, "linear", 2000, 1000, 0.2, 8)
    reference = load_site_reference("numpyro_logistic", {"num_points": 100, "num_features": 3, "seed": 0})
    assert_sites_agree(constrained_moments(target, result), reference)


def test_site_unravel_hook_gives_arviz_sites(eight_schools_run):
    pytest.importorskip("arviz")
    target, result = eight_schools_run
    if not any(field.name == "site_unravel" for field in dataclasses.fields(result)):
        pytest.skip("SampleResult has no site_unravel hook")
    data = dataclasses.replace(result, site_unravel=functools.partial(targets.constrain, target)).to_arviz()
    assert data.posterior["theta"].shape == (128, result.draws.shape[1], 8)
    assert float(data.posterior["tau"].min()) > 0
