"""NumPyro models as targets: density, constraint map, and SRMC-HMC against NumPyro's NUTS."""

import jax
import numpy as np
import pytest

import samplers
import srmc
import targets
from targets.numpyro_model import (
    EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y, eight_schools_model, logistic_regression_model, synthetic_logistic_data,
)

numpyro = pytest.importorskip("numpyro")
from numpyro.diagnostics import effective_sample_size  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402
from numpyro.infer.util import potential_energy  # noqa: E402


def test_logdensity_is_minus_numpyro_potential_and_constrain_maps_back():
    target = targets.get("eight_schools")
    positions = target.initial_position(jax.random.key(1), 4)
    unravel = target.params["unravel"]
    for x in positions:
        expected = -potential_energy(eight_schools_model, (EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y), {}, unravel(x))
        np.testing.assert_allclose(target.logdensity(x), expected, rtol=1e-5)
    sites = targets.constrain(target, positions[None])
    assert sites["theta"].shape == (1, 4, 8) and np.all(sites["tau"] > 0)
    np.testing.assert_allclose(sites["theta"], sites["mu"][..., None] + sites["tau"][..., None] * sites["theta_tilde"],
                               rtol=1e-5)


def test_discrete_latent_sites_are_refused():
    import numpyro.distributions as dist

    def model():
        numpyro.sample("k", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match="site 'k' is a discrete latent"):
        targets.from_numpyro(model)


def nuts_site_moments(model, args, sites, num_chains=4, num_samples=5000):
    """Posterior means of `sites` from NumPyro NUTS with standard errors sd / sqrt(ESS)."""
    mcmc = MCMC(NUTS(model, target_accept_prob=0.9), num_warmup=1000, num_samples=num_samples,
                num_chains=num_chains, chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), *args)
    samples = mcmc.get_samples(group_by_chain=True)
    moments = {}
    for site in sites:
        draws = np.asarray(samples[site], np.float64)
        moments[site] = (draws.mean(axis=(0, 1)), draws.std(axis=(0, 1)) / np.sqrt(effective_sample_size(draws)))
    return moments


def srmc_site_means(target, tilt, num_steps, step_size, num_integration_steps):
    algorithm = srmc.wrap(samplers.hmc, alpha=srmc.schedules.linear_warmup(1.0, 1000), tilt=tilt,
                          step_size=step_size, num_integration_steps=num_integration_steps)
    result = srmc.sample(jax.random.key(2), algorithm, target, num_steps, 128, burn_in=1000,
                         functions=targets.constrained_functions(target, second_moments=False))
    assert result.acceptance_rate.mean() > 0.6
    return result


def assert_sites_agree(result, reference):
    for site, (mean, stderr) in reference.items():
        z = (result.estimates[site] - mean) / np.sqrt(result.mcse(site) ** 2 + stderr**2)
        assert np.all(np.abs(z) < 4), f"{site}: SRMC {result.estimates[site]}, NUTS {mean}, z = {z}"


@pytest.fixture(scope="module")
def eight_schools_nuts():
    return nuts_site_moments(eight_schools_model, (EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y), ["mu", "tau", "theta"])


@pytest.mark.parametrize("tilt", ["score", "linear"])
def test_eight_schools_srmc_hmc_agrees_with_nuts(eight_schools_nuts, tilt):
    result = srmc_site_means(targets.get("eight_schools"), tilt, 4000, 0.3, 8)
    assert_sites_agree(result, eight_schools_nuts)


def test_logistic_regression_srmc_hmc_agrees_with_nuts():
    features, labels = synthetic_logistic_data()
    reference = nuts_site_moments(logistic_regression_model, (features, labels), ["intercept", "coefficients"],
                                  num_chains=2, num_samples=3000)
    result = srmc_site_means(targets.get("numpyro_logistic"), "linear", 3000, 0.15, 8)
    assert_sites_agree(result, reference)
