"""Ten real-world-style posteriors written as NumPyro models, with data made here from fixed seeds.

    from models import MODELS, build_target
    target = build_target("garch11")                       # a srmc Target on NumPyro's unconstrained space

Each entry of `MODELS` is a `PosteriorModel`: the NumPyro model, a function returning its data (NumPy, generated
with ``numpy.random.default_rng(seed)``; nothing is downloaded), what the model is a stand-in for, and which
difficulty it brings. The models are written the way users write them (Stan-style flat priors as
``dist.ImproperUniform``, an ordering constraint, recursions in ``jax.lax.scan``, a marginalised hidden Markov
model), not tuned to any sampler.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from srmc import targets


class PosteriorModel(NamedTuple):
    """A model of the suite: the NumPyro model, its data (keyword arguments), what it stands for, and whether it
    needs float64 (as its users would run it: a float32 version is numerically rough, see `gp_poisson`)."""

    model: Callable
    data: Callable[[], dict]
    description: str
    difficulty: str
    float64: bool = False


# --- 1. linear regression with strongly correlated predictors (26 parameters) -------------------------------------


def correlated_regression(features, y=None):
    """y ~ N(a + X b, sigma): 24 predictors equicorrelated at 0.95, weak N(0, 10) priors, half-normal sigma."""
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 10.0))
    coef = numpyro.sample("coef", dist.Normal(0.0, 10.0).expand([features.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    numpyro.sample("y", dist.Normal(intercept + features @ coef, sigma), obs=y)


def correlated_regression_data() -> dict:
    rng = np.random.default_rng(101)
    num, dim, rho = 120, 24, 0.95
    common = rng.normal(size=(num, 1))
    features = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal(size=(num, dim))
    coef = rng.normal(size=dim) * 0.5
    y = 1.0 + features @ coef + 1.0 * rng.normal(size=num)
    return {"features": features, "y": y}


# --- 2. logistic regression with flat priors -----------------------------------------------------------------------


def logistic_flat(features, y=None):
    """Logistic regression, intercept and 5 coefficients with Stan's implicit flat priors (ImproperUniform)."""
    intercept = numpyro.sample("intercept", dist.ImproperUniform(constraints.real, (), ()))
    coef = numpyro.sample("coef", dist.ImproperUniform(constraints.real, (), (features.shape[1],)))
    numpyro.sample("y", dist.Bernoulli(logits=intercept + features @ coef), obs=y)


def logistic_flat_data() -> dict:
    rng = np.random.default_rng(202)
    features = rng.normal(size=(250, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    logits = -0.5 + features @ np.array([0.8, -0.4, 1.5, 0.0, 0.3])
    return {"features": features, "y": (rng.uniform(size=250) < 1 / (1 + np.exp(-logits))).astype(np.float64)}


# --- 3. Poisson regression with an interaction term, flat priors ----------------------------------------------------


def poisson_interaction(x1, x2, exposure, counts=None):
    """log rate = a + b1 x1 + b2 x2 + b12 x1 x2 + log exposure, flat priors (uncentred covariates: correlated)."""
    a = numpyro.sample("a", dist.ImproperUniform(constraints.real, (), ()))
    b = numpyro.sample("b", dist.ImproperUniform(constraints.real, (), (3,)))
    log_rate = a + b[0] * x1 + b[1] * x2 + b[2] * x1 * x2 + jnp.log(exposure)
    numpyro.sample("counts", dist.Poisson(jnp.exp(log_rate)), obs=counts)


def poisson_interaction_data() -> dict:
    rng = np.random.default_rng(303)
    num = 150
    x1, x2 = rng.uniform(0.0, 4.0, size=num), rng.uniform(1.0, 3.0, size=num)  # not centred
    exposure = rng.uniform(0.5, 2.0, size=num)
    rate = exposure * np.exp(-1.0 + 0.3 * x1 + 0.4 * x2 - 0.1 * x1 * x2)
    return {"x1": x1, "x2": x2, "exposure": exposure, "counts": rng.poisson(rate).astype(np.float64)}


# --- 4. latent Gaussian process, Poisson observations ---------------------------------------------------------------


def gp_poisson(x, counts=None):
    """counts_i ~ Poisson(exp(m + f(x_i))), f ~ GP(0, eta^2 exp(-(x - x')^2 / (2 l^2))), non-centred f = L z.

    Needs float64, as GP models usually do: at the posterior's lengthscales (about 1.6 on 24 points 0.43 apart)
    K + 1e-6 I has condition number ~1e7, and its float32 Cholesky factor makes log pi rough (second differences
    up to 1.2 nats 1e-4 sd apart, non-finite at some points of the bulk): every kernel then loses or freezes
    chains, and srmc's health report says `float32_precision`."""
    mean = numpyro.sample("mean", dist.Normal(0.0, 2.0))
    amplitude = numpyro.sample("amplitude", dist.HalfNormal(1.0))
    lengthscale = numpyro.sample("lengthscale", dist.InverseGamma(5.0, 5.0))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([x.shape[0]]).to_event(1))
    kernel = amplitude**2 * jnp.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / lengthscale**2)
    factor = jnp.linalg.cholesky(kernel + 1e-6 * jnp.eye(x.shape[0]))
    f = numpyro.deterministic("f", factor @ z)
    numpyro.sample("counts", dist.Poisson(jnp.exp(mean + f)), obs=counts)


def gp_poisson_data() -> dict:
    rng = np.random.default_rng(404)
    x = np.linspace(0.0, 10.0, 24)
    f = 1.2 * np.sin(x / 1.5) + 0.4 * np.cos(x)
    return {"x": x, "counts": rng.poisson(np.exp(0.5 + f)).astype(np.float64)}


# --- 5. ARMA(1, 1) (Stan's example model) ---------------------------------------------------------------------------


def arma11(y):
    """y_t = mu + phi y_{t-1} + theta e_{t-1} + e_t, e_t ~ N(0, sigma); stationary phi and invertible theta in
    (-1, 1) (with Stan's unconstrained N(0, 2) priors NumPyro's own NUTS leaves chains in the region |theta| > 1
    where the errors explode: split R-hat 16 over 8 chains)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    phi = numpyro.sample("phi", dist.Uniform(-1.0, 1.0))
    theta = numpyro.sample("theta", dist.Uniform(-1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))

    def step(error, pair):
        previous, current = pair
        predicted = mu + phi * previous + theta * error
        return current - predicted, current - predicted

    first_error = y[0] - (mu + phi * mu)
    _, errors = jax.lax.scan(step, first_error, (y[:-1], y[1:]))
    squares = first_error**2 + jnp.sum(errors**2)
    numpyro.factor("likelihood", -0.5 * squares / sigma**2 - y.shape[0] * jnp.log(sigma))


def arma11_data() -> dict:
    rng = np.random.default_rng(505)
    num, mu, phi, theta, sigma = 200, 1.0, 0.6, 0.3, 0.8
    y, error = np.zeros(num), 0.0
    previous = mu / (1 - phi)
    for t in range(num):
        shock = sigma * rng.normal()
        y[t] = mu + phi * previous + theta * error + shock
        previous, error = y[t], shock
    return {"y": y}


# --- 6. GARCH(1, 1) (Stan's example model) --------------------------------------------------------------------------


def garch11(returns, sigma1):
    """r_t ~ N(mu, s_t), s_t^2 = a0 + a1 (r_{t-1} - mu)^2 + b1 s_{t-1}^2, a1 in (0, 1), b1 in (0, 1 - a1)."""
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.real, (), ()))
    alpha0 = numpyro.sample("alpha0", dist.ImproperUniform(constraints.positive, (), ()))
    alpha1 = numpyro.sample("alpha1", dist.Uniform(0.0, 1.0))
    beta1_share = numpyro.sample("beta1_share", dist.Uniform(0.0, 1.0))
    beta1 = numpyro.deterministic("beta1", (1.0 - alpha1) * beta1_share)
    numpyro.factor("beta1_jacobian", -jnp.log1p(-alpha1))  # Stan's flat prior on beta1 itself, not on the share

    def step(variance, previous_return):
        variance = alpha0 + alpha1 * (previous_return - mu) ** 2 + beta1 * variance
        return variance, variance

    _, variances = jax.lax.scan(step, sigma1**2, returns[:-1])
    scales = jnp.sqrt(jnp.concatenate([jnp.array([sigma1**2]), variances]))
    numpyro.factor("likelihood", jnp.sum(dist.Normal(mu, scales).log_prob(returns)))


def garch11_data(seed: int = 606, num: int = 250, a0: float = 0.2, a1: float = 0.25, b1: float = 0.6) -> dict:
    rng = np.random.default_rng(seed)
    mu = 0.1
    returns, variance = np.zeros(num), a0 / (1 - a1 - b1)
    for t in range(num):
        returns[t] = mu + np.sqrt(variance) * rng.normal()
        variance = a0 + a1 * (returns[t] - mu) ** 2 + b1 * variance
    return {"returns": returns, "sigma1": float(np.std(returns))}


# --- 7. two-component mixture with ordered means --------------------------------------------------------------------


def ordered_mixture(y):
    """y ~ w N(mu_1, sigma_1) + (1 - w) N(mu_2, sigma_2), mu ordered (Stan's ordered[2] with a normal prior)."""
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    numpyro.factor("mu_prior", jnp.sum(dist.Normal(0.0, 5.0).log_prob(mu)))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    weight = numpyro.sample("weight", dist.Beta(2.0, 2.0))
    log_mix = jnp.stack([jnp.log(weight) + dist.Normal(mu[0], sigma[0]).log_prob(y),
                         jnp.log1p(-weight) + dist.Normal(mu[1], sigma[1]).log_prob(y)])
    numpyro.factor("likelihood", jnp.sum(jax.nn.logsumexp(log_mix, axis=0)))


def ordered_mixture_data() -> dict:
    rng = np.random.default_rng(707)
    first = rng.uniform(size=200) < 0.35
    return {"y": np.where(first, rng.normal(-1.0, 1.0, 200), rng.normal(2.0, 0.8, 200))}


# --- 8. hidden Markov model, forward algorithm ----------------------------------------------------------------------


def gaussian_hmm(y, num_states=3):
    """3-state Gaussian HMM: Dirichlet transition rows, ordered emission means, one sd; states summed out."""
    rows = numpyro.sample("transition", dist.Dirichlet(jnp.ones(num_states) + 2.0 * jnp.eye(num_states)).to_event(1))
    means = numpyro.sample("means", dist.ImproperUniform(constraints.ordered_vector, (), (num_states,)))
    numpyro.factor("means_prior", jnp.sum(dist.Normal(0.0, 5.0).log_prob(means)))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    emissions = dist.Normal(means, sigma).log_prob(y[:, None])  # (T, K)
    log_rows = jnp.log(rows)

    def forward(log_alpha, emission):
        log_alpha = jax.nn.logsumexp(log_alpha[:, None] + log_rows, axis=0) + emission
        return log_alpha, None

    log_alpha, _ = jax.lax.scan(forward, emissions[0] - jnp.log(num_states), emissions[1:])
    numpyro.factor("likelihood", jax.nn.logsumexp(log_alpha))


def gaussian_hmm_data() -> dict:
    rng = np.random.default_rng(808)
    transition = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    means, state, y = np.array([-2.0, 0.5, 3.0]), 0, np.zeros(150)
    for t in range(150):
        state = rng.choice(3, p=transition[state])
        y[t] = means[state] + 0.9 * rng.normal()
    return {"y": y}


# --- 9. hierarchical regression with varying intercepts and slopes (non-centred) ------------------------------------


def hierarchical_regression(group, x, y=None, num_groups=12):
    """y ~ N(a_g + b_g x, sigma), a_g = mu_a + tau_a z_a, b_g = mu_b + tau_b z_b; half-Cauchy scales."""
    mu_a = numpyro.sample("mu_a", dist.Normal(0.0, 5.0))
    mu_b = numpyro.sample("mu_b", dist.Normal(0.0, 5.0))
    tau_a = numpyro.sample("tau_a", dist.HalfCauchy(1.0))
    tau_b = numpyro.sample("tau_b", dist.HalfCauchy(1.0))
    z_a = numpyro.sample("z_a", dist.Normal(0.0, 1.0).expand([num_groups]).to_event(1))
    z_b = numpyro.sample("z_b", dist.Normal(0.0, 1.0).expand([num_groups]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    a = numpyro.deterministic("a", mu_a + tau_a * z_a)
    b = numpyro.deterministic("b", mu_b + tau_b * z_b)
    numpyro.sample("y", dist.Normal(a[group] + b[group] * x, sigma), obs=y)


def hierarchical_regression_data() -> dict:
    rng = np.random.default_rng(909)
    sizes = rng.integers(2, 9, size=12)
    group = np.repeat(np.arange(12), sizes)
    x = rng.normal(size=group.size)
    a, b = 1.0 + 0.7 * rng.normal(size=12), -0.5 + 0.3 * rng.normal(size=12)
    return {"group": group, "x": x, "y": a[group] + b[group] * x + 0.8 * rng.normal(size=group.size)}


# --- 10. stochastic volatility (Stan's non-centred model) -----------------------------------------------------------


def stochastic_volatility(returns):
    """r_t ~ N(0, exp(h_t / 2)), h_t = mu + phi (h_{t-1} - mu) + sigma eps_t, phi in (-1, 1), non-centred eps."""
    mu = numpyro.sample("mu", dist.Cauchy(0.0, 10.0))
    phi = numpyro.sample("phi", dist.Uniform(-1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(5.0))
    eps = numpyro.sample("eps", dist.Normal(0.0, 1.0).expand([returns.shape[0]]).to_event(1))

    def step(previous, shock):
        value = mu + phi * (previous - mu) + sigma * shock
        return value, value

    first = mu + sigma * eps[0] / jnp.sqrt(1.0 - phi**2)
    _, rest = jax.lax.scan(step, first, eps[1:])
    h = jnp.concatenate([first[None], rest])
    numpyro.sample("returns", dist.Normal(0.0, jnp.exp(h / 2)), obs=returns)


def stochastic_volatility_data() -> dict:
    rng = np.random.default_rng(1010)
    num, mu, phi, sigma = 100, -1.0, 0.9, 0.35
    h = np.zeros(num)
    h[0] = mu + sigma / np.sqrt(1 - phi**2) * rng.normal()
    for t in range(1, num):
        h[t] = mu + phi * (h[t - 1] - mu) + sigma * rng.normal()
    return {"returns": np.exp(h / 2) * rng.normal(size=num)}


MODELS: dict[str, PosteriorModel] = {
    "correlated_regression": PosteriorModel(correlated_regression, correlated_regression_data,
                                            "linear regression, 24 predictors equicorrelated at 0.95 (26 parameters)",
                                            "strong posterior correlations: a diagonal mass matrix does not fit"),
    "logistic_flat": PosteriorModel(logistic_flat, logistic_flat_data,
                                    "logistic regression, 6 coefficients, flat (ImproperUniform) priors",
                                    "flat priors, predictors on different scales"),
    "poisson_interaction": PosteriorModel(poisson_interaction, poisson_interaction_data,
                                          "Poisson regression with an interaction term and exposure, flat priors",
                                          "uncentred covariates: correlated coefficients, exponential link"),
    "gp_poisson": PosteriorModel(gp_poisson, gp_poisson_data,
                                 "latent Gaussian process (24 points), Poisson counts, non-centred (27 parameters)",
                                 "hyperparameters coupled to the latent field", float64=True),
    "arma11": PosteriorModel(arma11, arma11_data, "ARMA(1, 1), 200 observations, phi and theta in (-1, 1)",
                             "an error recursion that grows fast near |theta| = 1: non-finite proposals"),
    "garch11": PosteriorModel(garch11, garch11_data, "GARCH(1, 1), 250 returns, flat priors on mu and alpha0",
                              "a variance recursion, constrained parameters near their bounds"),
    "ordered_mixture": PosteriorModel(ordered_mixture, ordered_mixture_data,
                                      "two-component normal mixture, ordered means, 200 points",
                                      "an ordering constraint, a weight near its bound"),
    "gaussian_hmm": PosteriorModel(gaussian_hmm, gaussian_hmm_data,
                                   "3-state Gaussian hidden Markov model, 150 points, forward algorithm",
                                   "simplex rows and ordered means through transforms"),
    "hierarchical_regression": PosteriorModel(hierarchical_regression, hierarchical_regression_data,
                                              "varying intercepts and slopes, 12 groups, non-centred (31 parameters)",
                                              "group scales with half-Cauchy priors, small groups"),
    "stochastic_volatility": PosteriorModel(stochastic_volatility, stochastic_volatility_data,
                                            "stochastic volatility, 100 returns, non-centred (103 parameters)",
                                            "a latent AR(1) coupled to its persistence and scale"),
}


# Variants for the diagnosis of the default's losses (`default_losses.py`), not part of the suite's table.
EXTRA_MODELS: dict[str, PosteriorModel] = {
    "garch11_persistent": PosteriorModel(
        garch11, lambda: garch11_data(seed=616, num=500, a0=0.05, a1=0.1, b1=0.85),
        "GARCH(1, 1), 500 returns, persistent volatility (a1 + b1 = 0.95)", "alpha1 + beta1 near 1"),
}


def build_target(name: str, init_strategy: Callable | None = None) -> targets.Target:
    """The model `name` (of `MODELS` or `EXTRA_MODELS`) as an srmc `Target` on NumPyro's unconstrained space (no
    ground truth attached)."""
    entry = {**MODELS, **EXTRA_MODELS}[name]
    return targets.from_numpyro(entry.model, name=name, init_strategy=init_strategy, **entry.data())
