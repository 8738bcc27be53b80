"""What the default does on models written the way users write them: no ground truth, chains from the model's init.

    python benchmarks/user_models.py                                   # 7 models x {mala, hmc}, alpha 0, 1, 10
    python benchmarks/user_models.py --models poisson_glm --kernels mala --steps 500 --replicates 8
    python benchmarks/user_models.py --pooled-step-size                # the warm-up of earlier releases

Seven models that are not in the registry and were never used to choose a default: four NumPyro models started
from NumPyro's init strategy (uniform on (-2, 2) unconstrained) and three log densities started from N(0, I), all
with generated data. Each is run as ``srmc bench MODEL --alpha 0,1,10 --tilt bounded`` would run it
(`srmc.tools.benchmark.variance_benchmark`: replicates with shared keys and starts, a 1000-step warm-up of the
base kernel that every row gets), and the table gives per row: the variance ratio base / row of the running mean
of x (averaged over coordinates) +- its SE, the same for x^2, the largest bias z (x or x^2) against the base
kernel, and the health report's warning codes (`frozen_chains`, `guard_backoff`, `alpha_reduced`: the warm-up's
prediction ran a smaller alpha, ...). The
last line counts the rows worse than their base kernel (ratio + 2 SE < 1) and those with |z| >= 4.

The bias z is against the base kernel, not the truth: where the base chains have not mixed, both can be wrong
together, and the health report (`mcse_disagree`, `frozen_chains`) is what says so.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from srmc import samplers, targets
from srmc.engine.warmup import DEFAULT_WARMUP, Warmup
from srmc.tools.benchmark import variance_benchmark

KERNELS = {"mala": (samplers.mala, {"step_size": 0.05}),
           "hmc": (samplers.hmc, {"step_size": 0.15, "num_integration_steps": 10})}


def centred_hierarchical(group, x, y=None):
    """Centred hierarchical regression (8 groups x 6 observations, half-Cauchy group scale): a funnel in (tau, a)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(1.0))
    with numpyro.plate("groups", 8):
        a = numpyro.sample("a", dist.Normal(mu, tau))
    b = numpyro.sample("b", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    numpyro.sample("obs", dist.Normal(a[group] + b * x, sigma), obs=y)


def poisson_glm(covariates, counts=None):
    """Poisson regression with a log link (5 covariates, 80 counts): a score that grows exponentially."""
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 3.0))
    coef = numpyro.sample("coef", dist.Normal(0.0, 1.0).expand([covariates.shape[1]]))
    numpyro.sample("obs", dist.Poisson(jnp.exp(intercept + covariates @ coef)), obs=counts)


def robust_regression(x, y=None):
    """Student-t likelihood with unknown degrees of freedom and scale (three outliers in the data)."""
    a = numpyro.sample("a", dist.Normal(0.0, 5.0))
    b = numpyro.sample("b", dist.Normal(0.0, 5.0))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    numpyro.sample("obs", dist.StudentT(nu, a + b * x, sigma), obs=y)


def stochastic_volatility(returns=None):
    """25 log-volatilities, AR(1) with unknown persistence and scale, non-centred innovations."""
    phi = numpyro.sample("phi", dist.Uniform(-1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    innovations = numpyro.sample("innovations", dist.Normal(0.0, 1.0).expand([25]))
    scale = jnp.concatenate([jnp.array([1.0 / jnp.sqrt(1.0 - phi**2)]), jnp.ones(24)])

    def step(previous, shock):
        value = phi * previous + shock
        return value, value

    _, log_volatility = jax.lax.scan(step, 0.0, sigma * scale * innovations)
    numpyro.sample("obs", dist.Normal(0.0, jnp.exp(log_volatility / 2)), obs=returns)


def laplace_increments(x):
    """6-d random walk with Laplace increments (rho 0.8): a score with jumps."""
    return -jnp.abs(x[0]) - jnp.sum(jnp.abs(x[1:] - 0.8 * x[:-1]))


def ar1_gaussian(x):
    """100-d Gaussian AR(1), rho = 0.95 (unit marginal variances, condition number about 1500)."""
    rho = 0.95
    return -0.5 * x[0] ** 2 - 0.5 * jnp.sum((x[1:] - rho * x[:-1]) ** 2) / (1 - rho**2)


def curved_chain(x):
    """3-d curved chain: x1 ~ N(x0^2, 0.5^2), x2 ~ N(x1^2 / 4, 0.5^2) (a banana of a banana)."""
    return -0.5 * x[0] ** 2 - 2.0 * (x[1] - x[0] ** 2) ** 2 - 2.0 * (x[2] - x[1] ** 2 / 4) ** 2


def _data() -> dict:
    """Each NumPyro model's data, generated with fixed seeds."""
    rng = np.random.default_rng(11)
    group, x = np.repeat(np.arange(8), 6), rng.normal(size=48)
    hierarchical = {"group": group, "x": x, "y": (1.0 + 0.5 * rng.normal(size=8))[group] - 0.7 * x
                    + 0.8 * rng.normal(size=48)}
    rng = np.random.default_rng(5)
    covariates = rng.normal(size=(80, 5))
    poisson = {"covariates": covariates,
               "counts": rng.poisson(np.exp(0.8 + covariates @ np.array([0.5, -0.3, 0.2, 0.0, 0.4])))}
    rng = np.random.default_rng(7)
    x = np.linspace(-2.0, 2.0, 40)
    y = 1.0 + 0.8 * x + 0.5 * rng.standard_t(3.0, size=40)
    y[[3, 17, 31]] += np.array([6.0, -5.0, 7.0])
    rng = np.random.default_rng(3)
    log_volatility = np.zeros(25)
    for t in range(1, 25):
        log_volatility[t] = 0.9 * log_volatility[t - 1] + 0.3 * rng.normal()
    return {"centred_hierarchical": hierarchical, "poisson_glm": poisson, "robust_regression": {"x": x, "y": y},
            "stochastic_volatility": {"returns": np.exp(log_volatility / 2) * rng.normal(size=25)}}


LOG_DENSITIES = {"laplace_increments": (laplace_increments, 6), "ar1_gaussian": (ar1_gaussian, 100),
                 "curved_chain": (curved_chain, 3)}
NUMPYRO_MODELS = {"centred_hierarchical": centred_hierarchical, "poisson_glm": poisson_glm,
                  "robust_regression": robust_regression, "stochastic_volatility": stochastic_volatility}
MODELS = (*NUMPYRO_MODELS, *LOG_DENSITIES)


def target(name: str) -> targets.Target:
    """The model `name` as a Target (no ground truth)."""
    if name in NUMPYRO_MODELS:
        return targets.from_numpyro(NUMPYRO_MODELS[name], name=name, **_data()[name])
    logdensity, dim = LOG_DENSITIES[name]
    return targets.from_logdensity(logdensity, dim, name=name)


def codes(lines: tuple[str, ...]) -> list[str]:
    """The warning codes of a run's health report lines."""
    return sorted({code for line in lines for code in re.findall(r"\[([a-z][a-z_]*)\]", line)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[0.0, 1.0, 10.0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--replicates", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    parser.add_argument("--pooled-step-size", action="store_true",
                        help="one step size for all chains from the warm-up's start (earlier releases)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warmup = Warmup(args.warmup, pooled_step_size=args.pooled_step_size)
    print("| model | kernel | alpha | var ratio ± SE | x^2 ratio ± SE | max abs z | warnings |")
    print("|---|---|---|---|---|---|---|")
    worse = biased = total = 0
    for name in args.models:
        model = target(name)
        for kernel_name in args.kernels:
            kernel, params = KERNELS[kernel_name]
            start = time.time()
            report = variance_benchmark(jax.random.key(args.seed), model, kernel, params, args.alphas,
                                        num_steps=args.steps, num_replicates=args.replicates, tilts=("bounded",),
                                        warmup=warmup)
            print(f"# {name} {kernel_name}: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
            for run in report.runs:
                row = run.row
                z = max(abs(row.bias_z_vs_base), abs(row.second_moment_bias_z_vs_base))
                print(f"| {name} | {kernel_name} | {row.alpha:g} | {row.variance_ratio:.3g} ± {row.variance_ratio_se:.2g} | "
                      f"{row.second_moment_variance_ratio:.3g} ± {row.second_moment_variance_ratio_se:.2g} | "
                      f"{z:.1f} | {' '.join(codes(run.warnings)) or '-'} |", flush=True)
                if row.alpha:
                    total += 1
                    worse += row.variance_ratio + 2 * row.variance_ratio_se < 1
                    biased += z >= 4
    print(f"\nSRMC rows worse than their base kernel (ratio + 2 SE < 1): {worse} of {total}; with |z| >= 4: {biased}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
