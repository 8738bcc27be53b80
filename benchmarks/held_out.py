"""Held-out check of the default: targets that are not in the registry and were not used to choose the defaults.

    python benchmarks/held_out.py                         # 5 targets x {mala, hmc} x alpha {1, 10}, default only
    python benchmarks/held_out.py --configs default second_order   # the opt-in second-order tilt beside it
    python benchmarks/held_out.py --configs default linear score --chains 32 --steps 2000
    python benchmarks/held_out.py --hmc-probe banana_6d     # where HMC at alpha 10 loses: variants of the default

The same protocol and columns as `benchmarks/efficacy.py` (warm-up on pi for both, same keys and starts, ratio =
MSE(base) / MSE(SRMC) of the mean of x +- SE, max |z| of the bias against the exact truth), on targets defined
here, each with an exact sampler and closed-form moments, chosen for what broke SRMC elsewhere:

- ``student_t``: d = 4, nu = 4, scales 0.5..4: polynomial tails (no exponential moments: the linear tilt is
  improper for every theta != 0);
- ``gumbel``: d = 5 independent Gumbel marginals, scales 0.3..3: a score that grows exponentially on one side (the
  score tilt's surrogate turns improper);
- ``rotated_gaussian``: d = 50, eigenvalues log-uniform in [0.01, 1] in a random basis (condition number 100);
- ``skew_mixture``: d = 3, two Gaussians with weights 0.7 / 0.3, means -1.5 / +2.5 along a diagonal, unequal
  covariances (an asymmetric bimodal target);
- ``banana_6d``: three independent bananas x1 ~ N(0, s^2), x2 = y + b (x1^2 - s^2), y ~ N(0, 1), with (s, b) =
  (3, 0.1), (5, 0.03), (2, 0.2): curvature that varies across the space.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from efficacy import CONFIGS, KERNELS, format_rows, target_rows

import srmc
from srmc import samplers, targets
from srmc.targets.base import exact_target
from srmc.tools.benchmark import mse_ratio_with_stderr

SEED = 20261202  # fixed: the targets' random parts (scales, rotations) are drawn once from it


def student_t() -> targets.Target:
    """Independent Student-t(nu = 4) coordinates with scales 0.5, 1, 2, 4."""
    nu, scale = 4.0, jnp.array([0.5, 1.0, 2.0, 4.0])

    def logdensity(x):
        return jnp.sum(-0.5 * (nu + 1) * jnp.log1p((x / scale) ** 2 / nu))

    def sample(key, n):
        return scale * jax.random.t(key, nu, (n, scale.size))

    return exact_target("student_t", logdensity, sample, np.zeros(4), np.asarray(scale) ** 2 * nu / (nu - 2),
                                {"nu": nu})


def gumbel() -> targets.Target:
    """Independent Gumbel(0, beta_i) coordinates, beta = 0.3, 0.6, 1, 2, 3."""
    beta = jnp.array([0.3, 0.6, 1.0, 2.0, 3.0])

    def logdensity(x):
        z = x / beta
        return jnp.sum(-z - jnp.exp(-z))

    def sample(key, n):
        return beta * jax.random.gumbel(key, (n, beta.size))

    return exact_target("gumbel", logdensity, sample, np.euler_gamma * np.asarray(beta),
                                np.pi**2 / 6 * np.asarray(beta) ** 2, {})


def rotated_gaussian(dim: int = 50) -> targets.Target:
    """N(0, Q diag(lambda) Q^T), lambda log-uniform in [0.01, 1], Q a random rotation."""
    rng = np.random.default_rng(SEED)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eigenvalues = np.exp(rng.uniform(np.log(0.01), 0.0, dim))
    covariance = (q * eigenvalues) @ q.T
    precision, chol = jnp.asarray(np.linalg.inv(covariance)), jnp.asarray(np.linalg.cholesky(covariance))

    def logdensity(x):
        return -0.5 * x @ precision @ x

    def sample(key, n):
        return jax.random.normal(key, (n, dim)) @ chol.T

    return exact_target("rotated_gaussian", logdensity, sample, np.zeros(dim), np.diag(covariance),
                                {"dim": dim})


def skew_mixture() -> targets.Target:
    """0.7 N(-1.5 u, 0.5^2 I) + 0.3 N(2.5 u, diag(1, 0.3, 2)^2), u = (1, 1, 1) / sqrt(3)."""
    u = np.ones(3) / np.sqrt(3.0)
    weights, means = np.array([0.7, 0.3]), np.stack([-1.5 * u, 2.5 * u])
    scales = np.stack([np.full(3, 0.5), np.array([1.0, 0.3, 2.0])])

    def logdensity(x):
        logs = (jnp.log(weights) - jnp.sum(jnp.log(scales), axis=1)
                - 0.5 * jnp.sum(((x - means) / scales) ** 2, axis=1))
        return jax.scipy.special.logsumexp(logs)

    def sample(key, n):
        key_component, key_noise = jax.random.split(key)
        component = jax.random.choice(key_component, 2, (n,), p=jnp.asarray(weights))
        return jnp.asarray(means)[component] + jnp.asarray(scales)[component] * jax.random.normal(key_noise, (n, 3))

    mean = weights @ means
    variance = weights @ (scales**2 + means**2) - mean**2
    return exact_target("skew_mixture", logdensity, sample, mean, variance, {})


def banana_6d() -> targets.Target:
    """Three independent 2-d bananas (x1, x2) with (s, b) = (3, 0.1), (5, 0.03), (2, 0.2)."""
    s, b = jnp.array([3.0, 5.0, 2.0]), jnp.array([0.1, 0.03, 0.2])

    def logdensity(x):
        x1, x2 = x[0::2], x[1::2]
        return jnp.sum(-0.5 * (x1 / s) ** 2 - 0.5 * (x2 - b * (x1**2 - s**2)) ** 2)

    def sample(key, n):
        key1, key2 = jax.random.split(key)
        x1 = s * jax.random.normal(key1, (n, 3))
        x2 = jax.random.normal(key2, (n, 3)) + b * (x1**2 - s**2)
        return jnp.stack([x1, x2], axis=-1).reshape(n, 6)

    variance = np.stack([np.asarray(s) ** 2, 1 + 2 * np.asarray(b) ** 2 * np.asarray(s) ** 4], axis=-1).reshape(6)
    return exact_target("banana_6d", logdensity, sample, np.zeros(6), variance, {})


HELD_OUT = {f.__name__: f for f in (student_t, gumbel, rotated_gaussian, skew_mixture, banana_6d)}

# (label, srmc.wrap options, HMC options): the default at alpha 10 and one change each
HMC_VARIANTS = (("default", {}, {}), ("trust_region 0.25", {"trust_region": 0.25}, {}),
                ("alpha_ramp 1000", {"alpha_ramp": 1000}, {}), ("step_jitter 0.6", {}, {"step_jitter": 0.6}),
                ("alpha 3", {"alpha": 3.0}, {}), ("1 leapfrog step", {}, {"num_integration_steps": 1}))


def hmc_probe(target: targets.Target, args: argparse.Namespace) -> list[str]:
    """MSE ratio (base HMC / SRMC-HMC, the base with the same leapfrog steps), overall and per coordinate, of the
    default at alpha = 10 and of variants that change one thing each."""
    starts = target.sample(jax.random.key(args.seed + 1), args.chains)

    def estimates(algorithm):
        result = srmc.sample(jax.random.key(args.seed), algorithm, target, args.steps, args.chains,
                             initial_position=starts, warmup=args.warmup, options=srmc.RunOptions(progress=False))
        return np.asarray(result.chain_estimates["x"], np.float64)

    truth, lines = target.ground_truth.mean, []
    for label, options, hmc_options in HMC_VARIANTS:
        params = {**KERNELS["hmc"][1], **hmc_options}  # the base kernel gets the same HMC options
        base = estimates(srmc.base(samplers.hmc, **params))
        wrapped = estimates(srmc.wrap(samplers.hmc, **{"alpha": 10.0, **options}, **params))
        ratio, ratio_se = mse_ratio_with_stderr(base, wrapped, truth)
        per_coordinate = ((base - truth) ** 2).mean(axis=0) / ((wrapped - truth) ** 2).mean(axis=0)
        lines.append(f"{label:<18} ratio {ratio:.2f} +- {ratio_se:.2f}   per coordinate "
                     + " ".join(f"{value:.2f}" for value in per_coordinate))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=list(HELD_OUT), choices=list(HELD_OUT))
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--configs", nargs="*", default=["default"], choices=list(CONFIGS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--chains", type=int, default=32, help="independent chains (replicates) per run")
    parser.add_argument("--steps", type=int, default=2000, help="counted steps per chain")
    parser.add_argument("--warmup", type=int, default=1000, help="warm-up steps on pi for every run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hmc-probe", choices=list(HELD_OUT), help="instead of the table: HMC variants on a target")
    args = parser.parse_args(argv)
    if args.hmc_probe:
        print("\n".join(hmc_probe(HELD_OUT[args.hmc_probe](), args)))
        return 0
    rows = [row for name in args.targets for row in target_rows(name, HELD_OUT[name](), args)]
    print(format_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
