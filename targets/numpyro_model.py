"""NumPyro models as targets on the unconstrained space, with a map back to the constrained sites.

    target = targets.from_numpyro(model, *args, **kwargs)
    result = srmc.sample(key, algorithm, target, ..., functions=targets.constrained_functions(target))
    result.estimates["tau"]                      # posterior mean of a constrained site

The log density is minus NumPyro's own potential energy (which includes the log-Jacobians of its transforms),
on the flat vector made by `jax.flatten_util.ravel_pytree` of the unconstrained latent sites.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from targets.base import GroundTruth, Target, register

Array = jax.Array


def from_numpyro(
    model: Callable,
    *model_args: Any,
    name: str | None = None,
    ground_truth: GroundTruth | None = None,
    init_radius: float = 2.0,
    rng_key: Array | None = None,
    **model_kwargs: Any,
) -> Target:
    """A `Target` for `model(*model_args, **model_kwargs)` on NumPyro's unconstrained space.

    Chains start uniformly in [-init_radius, init_radius]^d on the unconstrained space (NumPyro's
    ``init_to_uniform``). ``params["constrain"](x)`` maps one flat position to a dict of constrained latent and
    deterministic sites; see `constrain` and `constrained_functions` for batches and running means.
    """
    from numpyro.infer.util import initialize_model

    _check_no_discrete_latents(model, model_args, model_kwargs)
    key = jax.random.PRNGKey(0) if rng_key is None else rng_key
    info = initialize_model(key, model, model_args=model_args, model_kwargs=model_kwargs, dynamic_args=False)
    flat_init, unravel = ravel_pytree(info.param_info.z)
    potential_fn, postprocess_fn = info.potential_fn, info.postprocess_fn
    dim = int(flat_init.shape[0])

    def logdensity(x: Array) -> Array:
        return -potential_fn(unravel(x))

    def constrain_one(x: Array) -> dict:
        return postprocess_fn(unravel(x))

    def initial_position(rng_key: Array, num: int) -> Array:
        return jax.random.uniform(rng_key, (num, dim), flat_init.dtype, -init_radius, init_radius)

    return Target(
        name=name or getattr(model, "__name__", "numpyro_model"),
        kind="continuous",
        dim=dim,
        logdensity=logdensity,
        initial_position=initial_position,
        ground_truth=ground_truth,
        params={"constrain": constrain_one, "unravel": unravel, "model": model},
    )


def constrain(target: Target, positions: Array) -> dict:
    """Constrained sites for flat unconstrained positions with any leading batch axes, e.g. (chains, draws, d)."""
    positions = jnp.asarray(positions)
    flat = positions.reshape(-1, target.dim)
    sites = jax.vmap(_constrain_fn(target))(flat)
    return {site: value.reshape(positions.shape[:-1] + value.shape[1:]) for site, value in sites.items()}


def constrained_functions(target: Target, *, second_moments: bool = True) -> dict[str, Callable[[Array], Array]]:
    """``{site: f}`` (and ``site^2``) for `srmc.sample(functions=...)`: running means of constrained sites.

    The unconstrained ``x`` and ``x^2`` are kept too, so ``result.mean`` and ``result.summary()`` still work.
    """
    constrain_one = _constrain_fn(target)
    sites = jax.eval_shape(constrain_one, jnp.zeros(target.dim))
    functions: dict[str, Callable[[Array], Array]] = {"x": lambda x: x, "x^2": lambda x: x**2}
    for site in sites:
        functions[site] = lambda x, site=site: constrain_one(x)[site]
        if second_moments:
            functions[f"{site}^2"] = lambda x, site=site: constrain_one(x)[site] ** 2
    return functions


def _constrain_fn(target: Target) -> Callable[[Array], dict]:
    if "constrain" not in target.params:
        raise ValueError(f"target {target.name!r} was not made by targets.from_numpyro (no constrain map).")
    return target.params["constrain"]


def _check_no_discrete_latents(model: Callable, args: tuple, kwargs: dict) -> None:
    from numpyro import handlers

    trace = handlers.trace(handlers.seed(model, 0)).get_trace(*args, **kwargs)
    for site_name, site in trace.items():
        if site["type"] == "sample" and not site["is_observed"] and getattr(site["fn"], "support", None) is not None:
            if site["fn"].support.is_discrete:
                raise ValueError(
                    f"site {site_name!r} is a discrete latent variable; from_numpyro needs continuous latents "
                    "(marginalise it, e.g. with numpyro's enumeration, first)."
                )


# --- two example models, registered so that `srmc targets` lists them -------------------------------------------

EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_model(sigma: np.ndarray, y: np.ndarray | None = None) -> None:
    """Eight schools, non-centred: theta = mu + tau * theta_tilde."""
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("schools", len(sigma)):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def logistic_regression_model(features: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Logistic regression with N(0, 1) priors on the intercept and the coefficients."""
    import numpyro
    import numpyro.distributions as dist

    intercept = numpyro.sample("intercept", dist.Normal(0.0, 1.0))
    coefficients = numpyro.sample("coefficients", dist.Normal(0.0, 1.0).expand([features.shape[1]]).to_event(1))
    numpyro.sample("obs", dist.Bernoulli(logits=intercept + features @ coefficients), obs=labels)


def synthetic_logistic_data(num_points: int = 100, num_features: int = 3, seed: int = 0):
    """A small logistic-regression data set made with a fixed NumPy seed (features, 0/1 labels)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(num_points, num_features))
    true_coefficients = np.linspace(-1.0, 1.0, num_features)
    labels = (rng.uniform(size=num_points) < 1.0 / (1.0 + np.exp(-(0.3 + features @ true_coefficients))))
    return features, labels.astype(np.float64)


@register("eight_schools")
def eight_schools() -> Target:
    """NumPyro eight-schools model (non-centred), unconstrained space (tau on the log scale)."""
    return from_numpyro(eight_schools_model, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y, name="eight_schools")


@register("numpyro_logistic")
def numpyro_logistic(num_points: int = 100, num_features: int = 3, seed: int = 0) -> Target:
    """NumPyro logistic regression on a small synthetic data set (fixed seed)."""
    features, labels = synthetic_logistic_data(num_points, num_features, seed)
    return from_numpyro(logistic_regression_model, features, labels, name=f"numpyro_logistic(n={num_points})")
