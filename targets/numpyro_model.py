"""NumPyro models as targets on the unconstrained space, with a map back to the constrained sites.

    target = targets.from_numpyro(model, *args, **kwargs)
    result = srmc.sample(key, algorithm, target, ..., functions=targets.constrained_functions(target))
    targets.constrained_moments(target, result)["tau"].mean      # posterior mean of a constrained site
    targets.constrain(target, result.draws)["tau"]               # stored draws (thin=...) as constrained sites

The log density is minus NumPyro's own potential energy (which includes the log-Jacobians of its transforms) on
the flat vector made by `jax.flatten_util.ravel_pytree` of the unconstrained latent sites (sorted by site name).
`SampleResult` keeps running means of functions of that flat vector only (by default ``x`` and ``x^2``), so
constrained-site means need either the site functions of `constrained_functions` passed as ``functions=`` (exact
running means over every step, O(d) memory) or stored draws (``thin=...``) mapped with `constrain`.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .base import GroundTruth, Target, register, spread_stderr
from .logistic import load_reference
from .space import Continuous

Array = jax.Array


def import_numpyro(module: str = "numpyro") -> Any:
    """Import a NumPyro module without tqdm's "IProgress not found" warning (NumPyro imports tqdm.auto, which
    warns in a notebook without ipywidgets although srmc shows no NumPyro bar)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        importlib.import_module("numpyro")
    return importlib.import_module(module)


class NumPyroModel(NamedTuple):
    """What a target made by `from_numpyro` was made from, and its maps back to the model's sites."""

    model: Callable
    model_args: tuple
    model_kwargs: dict
    constrain: Callable[[Array], dict[str, Array]]
    unravel: Callable[[Array], dict[str, Array]]


class SiteMoments(NamedTuple):
    """Posterior mean and variance of one constrained site with their Monte Carlo standard errors.

    ``variance`` and ``variance_stderr`` are None when the run estimated only the mean.
    """

    mean: np.ndarray
    mean_stderr: np.ndarray
    variance: np.ndarray | None = None
    variance_stderr: np.ndarray | None = None


def from_numpyro(
    model: Callable,
    *model_args: Any,
    name: str | None = None,
    ground_truth: GroundTruth | None = None,
    init_strategy: Callable | None = None,
    **model_kwargs: Any,
) -> Target:
    """A continuous `Target` for ``model(*model_args, **model_kwargs)`` on NumPyro's unconstrained space.

    Args:
      model: a NumPyro model with continuous latent sites (observed sites are conditioned on their ``obs``).
      model_args, model_kwargs: passed to the model on every evaluation (the data).
      name: the target's name; default the model's ``__name__``.
      ground_truth: moments of the flat unconstrained vector, if known.
      init_strategy: a NumPyro init strategy: ``init_to_uniform`` (the default: U(-2, 2) on the unconstrained
        space), ``init_to_median`` (the median of 15 prior draws per site: in the bulk of the prior, e.g. for a
        model whose posterior lies far from 0 unconstrained), ``init_to_value(values={...})`` (given values, the
        others uniform), ``init_to_sample``, ``init_to_mean``, or the same with their options
        (``functools.partial`` / their keyword arguments); it sets ``target.initial_position``. Each chain gets its
        own key, and points whose potential or gradient is not finite are redrawn (NumPyro's
        ``find_valid_initial_params``, up to 100 tries). Sites with an improper prior (``dist.ImproperUniform``,
        Stan's implicit flat prior) have no prior draws: every strategy starts them uniformly on (-2, 2)
        unconstrained, as NumPyro's own MCMC does.

    ``target.model`` is a `NumPyroModel`: the model and its arguments, ``constrain`` (one flat position -> dict of
    constrained latent and deterministic sites, jit/vmap-able) and ``unravel`` (flat -> dict of unconstrained sites).

    Raises:
      ValueError: when the model has a discrete latent site (named in the message) or no latent site.
      TypeError: when `init_strategy` is not callable.
    """
    init_to_uniform = import_numpyro("numpyro.infer").init_to_uniform
    infer_util = import_numpyro("numpyro.infer.util")
    find_valid_initial_params, initialize_model = infer_util.find_valid_initial_params, infer_util.initialize_model

    init_strategy = init_to_uniform if init_strategy is None else init_strategy
    if not callable(init_strategy):
        raise TypeError(f"init_strategy must be a NumPyro init strategy such as numpyro.infer.init_to_median (a "
                        f"callable), got {init_strategy!r}.")
    _check_latent_sites(model, model_args, model_kwargs, init_strategy)
    info = initialize_model(
        jax.random.PRNGKey(0), model, model_args=model_args, model_kwargs=model_kwargs, dynamic_args=False
    )
    prototype = info.param_info.z
    flat_init, unravel = ravel_pytree(prototype)
    potential_fn, postprocess_fn = info.potential_fn, info.postprocess_fn
    dim = int(flat_init.shape[0])

    def logdensity(x: Array) -> Array:
        return -potential_fn(unravel(x))

    def constrain_one(x: Array) -> dict[str, Array]:
        return postprocess_fn(unravel(x))

    def one_initial_position(rng_key: Array) -> Array:
        (params, _, _), _ = find_valid_initial_params(
            rng_key, model, init_strategy=init_strategy, model_args=model_args, model_kwargs=model_kwargs,
            prototype_params=prototype,
        )
        return ravel_pytree(params)[0]

    def initial_position(rng_key: Array, num: int) -> Array:
        return jax.vmap(one_initial_position)(jax.random.split(rng_key, num))

    return Target(
        name=name or getattr(model, "__name__", "numpyro_model"),
        space=Continuous(dim),
        logdensity=logdensity,
        initial_position=initial_position,
        ground_truth=ground_truth,
        model=NumPyroModel(model, tuple(model_args), dict(model_kwargs), constrain_one, unravel),
    )


def constrain(target: Target, positions: Array) -> dict[str, Array]:
    """Constrained sites of flat unconstrained `positions` with any leading batch axes, e.g. (chains, draws, dim).

    Each site keeps the batch axes: ``{site: (*batch, *site_shape)}``. Works under jit.
    For ArviZ output by site: ``dataclasses.replace(result, site_unravel=functools.partial(constrain, target))``.
    """
    constrain_one = _constrain_fn(target)
    positions = jnp.asarray(positions)
    if positions.ndim < 1 or positions.shape[-1] != target.dim:
        raise ValueError(f"positions must have a last axis of length {target.dim} for {target.name}, "
                         f"got shape {positions.shape}.")
    batch = positions.shape[:-1]
    sites = jax.vmap(constrain_one)(positions.reshape(-1, target.dim))
    return {site: value.reshape(batch + value.shape[1:]) for site, value in sites.items()}


def constrained_functions(
    target: Target, *, second_moments: bool = True, include_unconstrained: bool = True
) -> dict[str, Callable[[Array], Array]]:
    """``{site: f}`` (and ``f"{site}^2"``) for ``srmc.sample(functions=...)``: running means of constrained sites.

    Every function maps one flat position to the site's value (any shape, e.g. ``theta`` -> (8,)), so
    ``result.estimates[site]`` is the posterior mean and ``result.mcse(site)`` its standard error.
    With `include_unconstrained` the default ``x`` and ``x^2`` are kept, so ``result.mean`` and ``summary()`` work.
    """
    constrain_one = _constrain_fn(target)
    sites = jax.eval_shape(constrain_one, jnp.zeros(target.dim))
    functions: dict[str, Callable[[Array], Array]] = {}
    if include_unconstrained:
        functions = {"x": lambda x: x, "x^2": lambda x: x**2}
    for site in sites:
        names = [site, f"{site}^2"] if second_moments else [site]
        clash = [n for n in names if n in functions]
        if clash:
            raise ValueError(f"site {site!r} clashes with the function name {clash[0]!r}, which holds the flat "
                             "unconstrained position; call targets.constrained_functions(target, "
                             "include_unconstrained=False) (result.estimates then holds the sites only), or rename "
                             "the site in the model.")
        functions[site] = lambda x, site=site: constrain_one(x)[site]
        if second_moments:
            functions[f"{site}^2"] = lambda x, site=site: constrain_one(x)[site] ** 2
    return functions


def constrained_moments(target: Target, result: Any) -> dict[str, SiteMoments]:
    """Posterior moments of every constrained site from an `srmc.SampleResult` of `target`.

    Uses the running means of `constrained_functions` when the run estimated them (every step counted), else
    the stored draws (``thin=...``; only the stored draws counted). Standard errors come from the spread of the
    independent chains' estimates, as ``result.mcse``.

    Raises:
      ValueError: when the run has neither the site functions nor stored draws, or was made on another target.
    """
    if getattr(result, "target_name", target.name) != target.name:
        raise ValueError(f"result was sampled from {result.target_name!r}, not {target.name!r}.")
    sites = list(jax.eval_shape(_constrain_fn(target), jnp.zeros(target.dim)))
    chain_estimates = result.chain_estimates
    if all(site in chain_estimates for site in sites):
        per_chain = {site: (chain_estimates[site], chain_estimates.get(f"{site}^2")) for site in sites}
    elif result.draws is not None:
        values = {site: np.asarray(value, np.float64) for site, value in constrain(target, result.draws).items()}
        per_chain = {site: (v.mean(axis=1), (v**2).mean(axis=1)) for site, v in values.items()}
    else:
        raise ValueError(
            "this run has no constrained-site estimates: pass functions=targets.constrained_functions(target) "
            "(running means over every step) or thin=... (stored draws) to srmc.sample."
        )
    moments = {}
    for site, (first, second) in per_chain.items():
        first = np.asarray(first, np.float64)
        variance = variance_stderr = None
        if second is not None:
            chain_variance = np.asarray(second, np.float64) - first**2
            variance = second.mean(axis=0) - first.mean(axis=0) ** 2
            variance_stderr = spread_stderr(chain_variance)
        moments[site] = SiteMoments(first.mean(axis=0), spread_stderr(first), variance, variance_stderr)
    return moments


def load_site_reference(name: str, params: dict | None = None) -> dict[str, SiteMoments] | None:
    """Constrained-site moments of the stored NUTS reference ``targets/data/<name>.json`` (see make_reference).

    Returns None when no reference is stored or `params` differ from those it was made with.
    """
    if load_reference(name, params) is None:
        return None
    stored = json.loads(importlib.resources.files(__package__).joinpath("data", f"{name}.json").read_text())
    if "sites" not in stored:
        return None
    return {
        site: SiteMoments(*(np.asarray(record[key], np.float64)
                            for key in ("mean", "mean_stderr", "variance", "variance_stderr")))
        for site, record in stored["sites"].items()
    }


def _constrain_fn(target: Target) -> Callable[[Array], dict[str, Array]]:
    if not isinstance(target, Target) or not isinstance(target.model, NumPyroModel):
        raise ValueError(f"{target!r} was not made by targets.from_numpyro (it has no constrain map).")
    return target.model.constrain


def _check_latent_sites(model: Callable, args: tuple, kwargs: dict, init_strategy: Callable) -> None:
    """Raise a ValueError naming the first discrete latent site, or when there is no latent site at all.

    The model is traced with its continuous latent sites set by `init_strategy` (as NumPyro's own
    initialisation does), not sampled: an improper prior such as ``dist.ImproperUniform`` (Stan's implicit flat
    prior) has no sampler, and the init strategies give it a value uniform on (-2, 2) unconstrained.
    """
    from numpyro import handlers

    initialised = handlers.substitute(handlers.seed(model, 0), substitute_fn=init_strategy)
    trace = handlers.trace(initialised).get_trace(*args, **kwargs)
    latent = [name for name, site in trace.items() if site["type"] == "sample" and not site["is_observed"]]
    for site_name in latent:
        support = getattr(trace[site_name]["fn"], "support", None)
        if support is not None and support.is_discrete:
            raise ValueError(
                f"site {site_name!r} is a discrete latent variable; from_numpyro needs continuous latent sites "
                "(marginalise it out of the model first)."
            )
    if not latent:
        raise ValueError(f"model {getattr(model, '__name__', model)!r} has no latent sample site to sample.")


# --- two example models, registered so that `srmc targets` lists them -------------------------------------------

EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_model(sigma: np.ndarray, y: np.ndarray | None = None) -> None:
    """Eight schools, non-centred: theta = mu + tau * theta_tilde, mu ~ N(0, 5), tau ~ HalfCauchy(5)."""
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


def synthetic_logistic_data(
    num_points: int = 100, num_features: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small logistic-regression data set made with a fixed NumPy seed: N(0, I) features and 0/1 labels."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(num_points, num_features))
    true_coefficients = np.linspace(-1.0, 1.0, num_features)
    labels = rng.uniform(size=num_points) < 1.0 / (1.0 + np.exp(-(0.3 + features @ true_coefficients)))
    return features, labels.astype(np.float64)


@register("eight_schools")
def eight_schools() -> Target:
    """NumPyro eight schools (non-centred) on the unconstrained space [mu, log tau, theta_tilde]; NUTS reference."""
    return from_numpyro(
        eight_schools_model, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y, name="eight_schools",
        ground_truth=load_reference("eight_schools", {}),
    )


@register("numpyro_logistic")
def numpyro_logistic(num_points: int = 100, num_features: int = 3, seed: int = 0) -> Target:
    """NumPyro logistic regression on a small synthetic data set (fixed seed); NUTS reference for the defaults."""
    features, labels = synthetic_logistic_data(num_points, num_features, seed)
    params = {"num_points": num_points, "num_features": num_features, "seed": seed}
    return from_numpyro(
        logistic_regression_model, features, labels,
        name=f"numpyro_logistic(num_points={num_points},num_features={num_features},seed={seed})",
        ground_truth=load_reference("numpyro_logistic", params),
    )
