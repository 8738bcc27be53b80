"""NumPyro's habits: ``MCMC(srmc.interop.numpyro.SRMC(NUTS(model), alpha=...))`` runs, prints and returns samples
like NUTS, agrees with NUTS within Monte Carlo error; a NumPyro target's ArviZ output has a log_likelihood group."""

import jax
import numpy as np
import pytest

numpyro = pytest.importorskip("numpyro")
arviz = pytest.importorskip("arviz")

import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

import srmc  # noqa: E402
import srmc.interop.numpyro as srmc_numpyro  # noqa: E402
from srmc import samplers, targets  # noqa: E402

Y = np.asarray(jax.random.normal(jax.random.key(1), (30,)) * 1.5 + 1.0)


def model(y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2))
    with numpyro.plate("n", y.shape[0]):
        numpyro.sample("obs", dist.Normal(mu, sigma), obs=y)


def run(kernel, seed=0, num_warmup=500, num_samples=2000, num_chains=4):
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(seed), y=Y)
    return mcmc


def test_mcmc_runs_srmc_with_print_summary_and_get_samples(capsys):
    mcmc = run(srmc_numpyro.SRMC(NUTS(model, max_tree_depth=3), alpha=10.0), num_warmup=50, num_samples=200,
               num_chains=2)
    samples = mcmc.get_samples()
    assert set(samples) == {"mu", "sigma"} and samples["mu"].shape == (400,)
    assert np.all(samples["sigma"] > 0)  # constrained sites, as NumPyro returns them
    assert mcmc.get_samples(group_by_chain=True)["mu"].shape == (2, 200)
    mcmc.print_summary()
    out = capsys.readouterr().out
    assert "mu" in out and "sigma" in out and "r_hat" in out and "Number of divergences" in out


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="alpha must be"):
        srmc_numpyro.SRMC(NUTS(model), alpha=-1.0)
    with pytest.raises(TypeError, match="wraps numpyro.infer.NUTS"):
        srmc_numpyro.SRMC(model)
    with pytest.raises(ValueError, match="num_warmup"):
        run(srmc_numpyro.SRMC(NUTS(model)), num_warmup=0, num_samples=10, num_chains=1)


def _mean_and_stderr(mcmc):
    """Per site: posterior mean and its MCSE from NumPyro's own effective sample size."""
    out = {}
    for site, draws in mcmc.get_samples(group_by_chain=True).items():
        draws = np.asarray(draws, np.float64)
        ess = float(effective_sample_size(draws))
        out[site] = (draws.mean(), draws.std() / np.sqrt(ess))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("alpha, tilt", [(0.0, "bounded"), (10.0, "bounded"), (10.0, "linear")])
def test_srmc_agrees_with_numpyro_nuts_within_monte_carlo_error(alpha, tilt):
    """Means of both sites: |SRMC - NUTS| < 4 combined MCSE (alpha = 0: the inner kernel's own law; alpha = 10: the
    default tilt, and the linear tilt with no trust region, where a history of the wrong sign runs away); the
    SRMC run's MCSE (NumPyro's ESS) at most twice NUTS's, so that a run that went wrong cannot pass on a wide error
    bar."""
    reference, wrapped = _mean_and_stderr(run(NUTS(model), seed=1)), _mean_and_stderr(
        run(srmc_numpyro.SRMC(NUTS(model), alpha=alpha, tilt=tilt), seed=2))
    for site in ("mu", "sigma"):
        (m1, s1), (m2, s2) = reference[site], wrapped[site]
        assert s2 < 2 * s1, (site, s1, s2)  # its own error bar is no excuse: a broken run has a huge one
        assert abs(m1 - m2) < 4 * np.hypot(s1, s2), (site, m1, m2, s1, s2)


def test_to_arviz_has_log_likelihood_for_numpyro_targets():
    target = targets.from_numpyro(model, y=Y)
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.1), target, 400, 4,
                         options=srmc.RunOptions(thin=4), warmup=200)
    data = result.to_arviz()
    assert data.log_likelihood["obs"].shape == (4, 100, 30)
    draws = np.asarray(result.draws)  # the pointwise values: Normal(mu, sigma) log densities of y at each draw
    mu, sigma = result.site_unravel(draws)["mu"], result.site_unravel(draws)["sigma"]
    expected = -0.5 * ((Y - mu[..., None]) / sigma[..., None]) ** 2 - np.log(sigma[..., None] * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(data.log_likelihood["obs"].values, expected, rtol=1e-4, atol=1e-4)
    loo, waic = arviz.loo(data), arviz.waic(data)
    assert np.isfinite(loo.elpd_loo) and np.isfinite(waic.elpd_waic)


def test_to_arviz_without_a_numpyro_target_has_no_log_likelihood():
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.3), targets.get("banana"), 40, 2,
                         options=srmc.RunOptions(thin=4), warmup=0)
    assert "log_likelihood" not in result.to_arviz().groups()
