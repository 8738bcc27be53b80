"""Long NumPyro NUTS references for the posterior suite: means, sds and their Monte Carlo errors.

    nice -n 10 python benchmarks/posteriors/make_references.py                     # every model, stored settings
    nice -n 10 python benchmarks/posteriors/make_references.py --models garch11 --samples 2000   # one, smaller

For each model of `models.MODELS`: NumPyro's own NUTS (float64, ``numpyro.infer.MCMC``, vectorized chains,
NumPyro's default init_to_uniform) with the settings of `SETTINGS` (dense mass matrix where the model has at most
`DENSE_MAX_DIM` coordinates, target acceptance 0.9 or more). The record ``references/<model>.json`` holds, for
every coordinate of the flat unconstrained vector (``ravel_pytree`` of the latent sites sorted by name, the
coordinates of ``targets.from_numpyro``'s target) and for every constrained latent and deterministic site:
mean, sd, variance and their Monte Carlo standard errors

    se(mean) = sd / sqrt(ESS(x)),   se(variance) = sd((x - mean)^2) / sqrt(ESS((x - mean)^2)),
    se(sd) = se(variance) / (2 sd)  (delta method),

ESS by ``numpyro.diagnostics.effective_sample_size`` over all chains; plus max split R-hat (must be < 1.01, else
nothing is written and the exit status is 1), min ESS, divergences, the command and the package versions.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time
from typing import NamedTuple

import jax
import numpy as np
import numpyro
from jax.flatten_util import ravel_pytree
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import unconstrain_fn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from models import EXTRA_MODELS, MODELS, build_target  # noqa: E402

HERE = pathlib.Path(__file__).parent
DENSE_MAX_DIM = 40
MAX_RHAT = 1.01


class Settings(NamedTuple):
    """NUTS settings of one model's reference."""

    chains: int = 8
    warmup: int = 2000
    samples: int = 5000
    target_accept: float = 0.9


SETTINGS = {  # the models whose slow coordinates need more draws or a smaller step for ESS >= 4000
    "hierarchical_regression": Settings(target_accept=0.95, samples=8000),
    "stochastic_volatility": Settings(target_accept=0.99, samples=10000),  # 0.95: 303 divergences in 80,000
    "gp_poisson": Settings(target_accept=0.95),
    "gaussian_hmm": Settings(target_accept=0.95, samples=12000),
}


def moments(draws: np.ndarray) -> dict:
    """Mean, sd, variance and their standard errors over (chains, samples, ...) draws, JSON-ready, with min ESS."""
    mean, variance = draws.mean(axis=(0, 1)), draws.var(axis=(0, 1))
    squared = (draws - mean) ** 2
    ess, ess_squared = np.asarray(effective_sample_size(draws)), np.asarray(effective_sample_size(squared))
    sd = np.sqrt(variance)
    variance_stderr = squared.std(axis=(0, 1)) / np.sqrt(ess_squared)
    return {
        "mean": mean.tolist(), "sd": sd.tolist(), "variance": variance.tolist(),
        "mean_stderr": np.sqrt(variance / ess).tolist(),
        "sd_stderr": (variance_stderr / np.maximum(2 * sd, 1e-300)).tolist(),
        "variance_stderr": variance_stderr.tolist(),
        "ess": ess.tolist(), "ess_squared": ess_squared.tolist(),
        "split_rhat": np.asarray(split_gelman_rubin(draws)).tolist(),
    }


def _flatten_fn(target):
    """constrained latent sites -> the target's flat unconstrained vector (``ravel_pytree`` of unconstrain_fn)."""
    model, args, kwargs = target.model.model, target.model.model_args, target.model.model_kwargs
    return lambda sites: ravel_pytree(unconstrain_fn(model, args, kwargs, sites))[0]


def make_reference(name: str, settings: Settings, seed: int) -> dict:
    """Run NUTS on model `name`; the JSON-ready record (raises RuntimeError when max split R-hat >= 1.01)."""
    target = build_target(name)
    model, args, kwargs = target.model.model, target.model.model_args, target.model.model_kwargs
    dense = target.dim <= DENSE_MAX_DIM
    start = time.time()
    mcmc = MCMC(NUTS(model, target_accept_prob=settings.target_accept, dense_mass=dense),
                num_warmup=settings.warmup, num_samples=settings.samples, num_chains=settings.chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *args, extra_fields=("num_steps", "diverging"), **kwargs)
    sites = {site: np.asarray(value, np.float64) for site, value in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    latent = target.model.unravel(np.zeros(target.dim))
    flat = np.asarray(jax.jit(jax.vmap(jax.vmap(_flatten_fn(target))))({site: sites[site] for site in latent}))
    check = target.model.constrain(flat[0, 0])  # the flat order is the target's: it maps back to the draw
    for site in latent:
        np.testing.assert_allclose(np.asarray(check[site]), sites[site][0, 0], rtol=1e-6, atol=1e-8)
    seconds = time.time() - start
    flat_moments = moments(flat)
    site_moments = {site: moments(values) for site, values in sites.items()}
    rhat = max(float(np.max(record["split_rhat"])) for record in [flat_moments, *site_moments.values()])
    min_ess = float(np.min(flat_moments["ess"]))
    command = (f"nice -n 10 python benchmarks/posteriors/make_references.py --models {name} --chains "
               f"{settings.chains} --warmup {settings.warmup} --samples {settings.samples} --target-accept "
               f"{settings.target_accept} --seed {seed}")
    record = {
        "name": name,
        "description": {**MODELS, **EXTRA_MODELS}[name].description,
        "dim": int(target.dim),
        "unconstrained": flat_moments,
        "sites": site_moments,
        "diagnostics": {
            "max_split_rhat": rhat, "min_ess": min_ess, "min_ess_squared": float(np.min(flat_moments["ess_squared"])),
            "divergences": int(np.asarray(extra["diverging"]).sum()),
            "mean_leapfrog_steps": float(np.asarray(extra["num_steps"]).mean()), "seconds": round(seconds, 1),
        },
        "settings": {**settings._asdict(), "seed": seed, "dense_mass": dense, "init": "init_to_uniform",
                     "float64": True, "chain_method": "vectorized"},
        "command": command,
        "versions": {"numpyro": numpyro.__version__, "jax": jax.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "note": ("Coordinates: the flat unconstrained vector of targets.from_numpyro (ravel_pytree of the latent "
                 "sites sorted by name); sites: constrained latent and deterministic sites. se(mean) = sd / "
                 "sqrt(ESS(x)); se(variance) = sd((x - mean)^2) / sqrt(ESS((x - mean)^2)); se(sd) = se(variance) / "
                 "(2 sd); ESS: numpyro.diagnostics.effective_sample_size over all chains."),
    }
    if not rhat < MAX_RHAT:
        raise RuntimeError(f"{name}: max split R-hat {rhat:.4f} >= {MAX_RHAT}; reference not stored.")
    return record


def load_reference(name: str) -> dict:
    """The stored reference record of model `name` (``references/<name>.json``)."""
    return json.loads((HERE / "references" / f"{name}.json").read_text())


def main(argv: list[str] | None = None) -> int:
    jax.config.update("jax_enable_x64", True)  # here, not at import: importing this module must not change jax
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=[*MODELS, *EXTRA_MODELS])
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--target-accept", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "references")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.models:
        given = {"chains": args.chains, "warmup": args.warmup, "samples": args.samples,
                 "target_accept": args.target_accept}
        settings = SETTINGS.get(name, Settings())._replace(**{k: v for k, v in given.items() if v is not None})
        try:
            record = make_reference(name, settings, args.seed)
        except RuntimeError as error:
            print(error, file=sys.stderr, flush=True)
            failed += 1
            continue
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{name}: {json.dumps(record['diagnostics'])}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
