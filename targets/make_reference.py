"""Produce the stored reference moments of targets without exact ground truth.

    python -m srmc.targets.make_reference logistic_breast_cancer [--chains 8] [--samples 20000] [--warmup 2000]
    python -m srmc.targets.make_reference synthetic_logistic --samples 25000   # also writes 1,024 posterior starts
    python -m srmc.targets.make_reference eight_schools --chains 16 --samples 50000   # NumPyro models: also by site

Runs NumPyro's NUTS (float64) on the target's log density with several chains, checks max split R-hat < 1.01,
and writes ``targets/data/<name>.json`` with the posterior mean and variance per coordinate and their standard
errors: se(mean) = sd / sqrt(ESS(x)); se(variance) = sd((x - mean)^2) / sqrt(ESS((x - mean)^2)), both with
NumPyro's multi-chain effective sample size. For NumPyro-model targets (`make_numpyro_reference`) NUTS runs on the
model itself; the coordinates are the flat unconstrained vector, and ``sites`` holds the same moments for every
constrained latent and deterministic site.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import numpy as np

# Reference targets: name -> (registry name, factory parameters the reference is made for).
REFERENCES = {
    "logistic_breast_cancer": ("logistic_breast_cancer", {"prior_scale": 1.0}),
    "synthetic_logistic": ("synthetic_logistic", {"num_observations": 200, "dim": 10, "seed": 42, "prior_scale": 1.0}),
}
# How each reference target's data are made (for the stored note).
DATA_NOTES = {
    "logistic_breast_cancer": "features standardised (ddof=0) with an intercept column",
    "synthetic_logistic": ("data by the SRMC paper's recipe (targets.logistic.synthetic_logistic_data): numpy "
                           "default_rng(42), X = rng.normal(size=(200, 10)), then beta_true = rng.normal(size=10), "
                           "then y = rng.binomial(1, sigmoid(X beta_true)); prior N(0, I); no intercept"),
}
# Reference targets whose posterior draws also serve as starting points (targets/data/<name>_starts.npz).
STARTS = {"synthetic_logistic": 1024}
# NumPyro-model references (targets made by targets.from_numpyro): name -> (registry name, factory parameters).
NUMPYRO_REFERENCES = {
    "eight_schools": ("eight_schools", {}),
    "numpyro_logistic": ("numpyro_logistic", {"num_points": 100, "num_features": 3, "seed": 0}),
}

MAX_RHAT = 1.01


def nuts_diagnostics(max_split_rhat: float, min_ess: float, min_ess_squared: float, extra: dict,
                     seconds: float) -> dict:
    """The diagnostics block of a stored reference: convergence, divergences, leapfrog steps, run time."""
    return {
        "max_split_rhat": max_split_rhat,
        "min_ess": min_ess,
        "min_ess_squared": min_ess_squared,
        "divergences": int(np.asarray(extra["diverging"]).sum()),
        "mean_leapfrog_steps": float(np.asarray(extra["num_steps"]).mean()),
        "seconds": round(seconds, 1),
    }


def make_reference(name: str, chains: int = 8, samples: int = 20000, warmup: int = 2000, seed: int = 0,
                   draws_out: list | None = None) -> dict:
    """Run NUTS on the reference target `name` and return the JSON-ready record (raises if R-hat >= 1.01).

    `draws_out`: a list to which the (chains, samples, dim) float64 draws are appended (for `posterior_starts`).
    """
    jax.config.update("jax_enable_x64", True)
    import numpyro
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
    from numpyro.infer import MCMC, NUTS

    from . import get as get_target

    registry_name, params = REFERENCES[name]
    target = get_target(registry_name, **params)
    start = time.time()
    kernel = NUTS(potential_fn=lambda x: -target.logdensity(x), target_accept_prob=0.9)
    mcmc = MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    key_init, key_run = jax.random.split(jax.random.PRNGKey(seed))
    init = target.initial_position(key_init, chains).astype(np.float64)
    mcmc.run(key_run, init_params=init, extra_fields=("num_steps", "diverging"))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True), np.float64)  # (chains, samples, dim)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    seconds = time.time() - start

    rhat = np.asarray(split_gelman_rubin(draws))
    ess = np.asarray(effective_sample_size(draws))
    mean = draws.mean(axis=(0, 1))
    variance = draws.var(axis=(0, 1))
    squared = (draws - mean) ** 2
    ess_squared = np.asarray(effective_sample_size(squared))
    record = {
        "name": name,
        "target": target.name,
        "params": params,
        "dim": int(target.dim),
        "mean": mean.tolist(),
        "variance": variance.tolist(),
        "mean_stderr": (np.sqrt(variance / ess)).tolist(),
        "variance_stderr": (squared.std(axis=(0, 1)) / np.sqrt(ess_squared)).tolist(),
        "diagnostics": nuts_diagnostics(float(rhat.max()), float(ess.min()), float(ess_squared.min()), extra,
                                        seconds),
        "note": (
            f"NumPyro {numpyro.__version__} NUTS (float64, target_accept_prob=0.9), {chains} chains x {samples} "
            f"draws after {warmup} warm-up steps, seed {seed}, chains started from the target's initial_position; "
            f"{DATA_NOTES.get(name, 'see the target')}. Standard errors: "
            "se(mean) = sd / sqrt(ESS(x)), se(variance) = sd((x - mean)^2) / sqrt(ESS((x - mean)^2)), "
            "with numpyro.diagnostics.effective_sample_size over all chains. "
            "Produced by `python -m srmc.targets.make_reference " + name + "`."
        ),
    }
    if not rhat.max() < MAX_RHAT:
        raise RuntimeError(f"{name}: max split R-hat {rhat.max():.4f} >= {MAX_RHAT}; reference not stored.")
    if draws_out is not None:
        draws_out.append(draws)
    return record


def posterior_starts(draws: np.ndarray, num: int) -> tuple[np.ndarray, int]:
    """(`num` draws, stride): the (chains, samples, dim) draws in chain-major order, thinned evenly by the stride
    (so far apart that they are effectively independent posterior draws), for replicates that start at stationarity."""
    flat = np.asarray(draws, np.float64).reshape(-1, draws.shape[-1])
    stride = flat.shape[0] // num
    if stride < 1:
        raise ValueError(f"{flat.shape[0]} draws cannot give {num} starts.")
    return flat[stride - 1::stride][:num], stride


def _moments(draws: np.ndarray) -> dict:
    """Mean, variance and their standard errors over (chains, samples, ...) draws, as JSON-ready lists."""
    from numpyro.diagnostics import effective_sample_size

    mean, variance = draws.mean(axis=(0, 1)), draws.var(axis=(0, 1))
    squared = (draws - mean) ** 2
    ess, ess_squared = np.asarray(effective_sample_size(draws)), np.asarray(effective_sample_size(squared))
    return {
        "mean": mean.tolist(),
        "variance": variance.tolist(),
        "mean_stderr": np.sqrt(variance / ess).tolist(),
        "variance_stderr": (squared.std(axis=(0, 1)) / np.sqrt(ess_squared)).tolist(),
        "min_ess": float(np.min(ess)),
        "min_ess_squared": float(np.min(ess_squared)),
    }


def make_numpyro_reference(name: str, chains: int = 8, samples: int = 20000, warmup: int = 2000,
                           seed: int = 0) -> dict:
    """NUTS on the NumPyro model behind the reference target `name`; moments of the flat vector and by site.

    The record has the same keys as `make_reference` (flat unconstrained coordinates, so `load_reference` gives
    the target's ground truth) plus ``sites``: ``{site: {mean, variance, mean_stderr, variance_stderr}}`` for the
    constrained latent and deterministic sites. Raises RuntimeError if max split R-hat >= 1.01.
    """
    jax.config.update("jax_enable_x64", True)
    import numpyro
    from jax.flatten_util import ravel_pytree
    from numpyro.diagnostics import split_gelman_rubin
    from numpyro.infer import MCMC, NUTS
    from numpyro.infer.util import unconstrain_fn

    from . import get as get_target

    registry_name, params = NUMPYRO_REFERENCES[name]
    target = get_target(registry_name, **params)
    model, model_args, model_kwargs = target.model.model, target.model.model_args, target.model.model_kwargs
    start = time.time()
    mcmc = MCMC(NUTS(model, target_accept_prob=0.9), num_warmup=warmup, num_samples=samples, num_chains=chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *model_args, extra_fields=("num_steps", "diverging"), **model_kwargs)
    sites = {site: np.asarray(value, np.float64) for site, value in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    latent = target.model.unravel(np.zeros(target.dim))  # the unconstrained latent sites, by name

    def flatten(constrained: dict) -> jax.Array:  # constrained latent sites -> the target's flat coordinates
        return ravel_pytree(unconstrain_fn(model, model_args, model_kwargs, constrained))[0]

    flat = np.asarray(jax.vmap(jax.vmap(flatten))({site: sites[site] for site in latent}), np.float64)
    seconds = time.time() - start

    rhat = max(float(np.max(split_gelman_rubin(values))) for values in [flat, *sites.values()])
    flat_moments = _moments(flat)
    site_moments = {}
    for site, values in sites.items():
        moments = _moments(values)
        site_moments[site] = {key: moments[key] for key in ("mean", "variance", "mean_stderr", "variance_stderr")}
    record = {
        "name": name,
        "target": target.name,
        "params": params,
        "dim": int(target.dim),
        **{key: flat_moments[key] for key in ("mean", "variance", "mean_stderr", "variance_stderr")},
        "sites": site_moments,
        "diagnostics": nuts_diagnostics(rhat, flat_moments["min_ess"], flat_moments["min_ess_squared"], extra,
                                        seconds),
        "note": (
            f"NumPyro {numpyro.__version__} NUTS (float64, target_accept_prob=0.9) on the NumPyro model itself, "
            f"{chains} chains x {samples} draws after {warmup} warm-up steps, seed {seed}, NumPyro's default "
            "init_to_uniform. mean/variance: the flat unconstrained vector (ravel_pytree of the latent sites, "
            "sorted by name); sites: constrained latent and deterministic sites. Standard errors: "
            "se(mean) = sd / sqrt(ESS(x)), se(variance) = sd((x - mean)^2) / sqrt(ESS((x - mean)^2)), "
            "with numpyro.diagnostics.effective_sample_size over all chains. "
            f"Produced by `python -m srmc.targets.make_reference {name} --chains {chains} --samples {samples} "
            f"--warmup {warmup} --seed {seed}`."
        ),
    }
    if not rhat < MAX_RHAT:
        raise RuntimeError(f"{name}: max split R-hat {rhat:.4f} >= {MAX_RHAT}; reference not stored.")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srmc.targets.make_reference", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted({**REFERENCES, **NUMPYRO_REFERENCES}))
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=pathlib.Path, default=None, help="default: targets/data/<name>.json")
    args = parser.parse_args(argv)
    try:
        draws: list = []
        if args.name in NUMPYRO_REFERENCES:
            record = make_numpyro_reference(args.name, args.chains, args.samples, args.warmup, args.seed)
        else:
            record = make_reference(args.name, args.chains, args.samples, args.warmup, args.seed, draws_out=draws)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    output = args.output or pathlib.Path(__file__).parent / "data" / f"{args.name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {output}: {json.dumps(record['diagnostics'])}")
    if args.name in STARTS:
        starts, stride = posterior_starts(draws[0], STARTS[args.name])
        starts_output = output.with_name(f"{args.name}_starts.npz")
        np.savez_compressed(starts_output, starts=starts, stride=stride, seed=args.seed,
                            note=f"NUTS draws of {output.name} (chain-major order) thinned by `stride`")
        print(f"wrote {starts_output}: {starts.shape} posterior draws, stride {stride}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
