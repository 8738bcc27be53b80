"""The alpha prediction's answer as a function of its batch length, from long base chains in equilibrium.

    nice -n 10 python benchmarks/posteriors/prediction_batches.py --targets banana_k2 --kernels mala

The warm-up predicts SRMC's relative variance Var_SRMC / Var_base of the mean of x from batch means of x and s of
50 steps (half of the default 1000-step warm-up in 10 batches, `srmc.method.prediction`). Here the same
`prediction.predicted_relative_variance` is fed by the base kernel's chains after the default warm-up (fixed step
size and mass matrix: in equilibrium), 64 chains x `--steps` steps from exact draws (bananas) or NumPyro's init,
with batch lengths 50, 200 and 1000 (and 50 over the first 500 steps only: the warm-up's amount of data, with a
fixed kernel, and the share of alpha that `prediction.alpha_factor` would choose from that curve), next to the
integrated autocorrelation times of x and of the score s (max
over coordinates, NumPyro's multi-chain ESS). If the prediction at 50 steps differs from the one at 1000 steps,
the warm-up's batches are too short for the chains' autocorrelation and its choice of alpha rests on that.
Compare with the measured relative variance (1 / the MSE ratio of `default_losses.py --variants no_search`).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc.method import prediction

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from default_losses import KERNELS, integrated_autocorrelation_time, problem  # noqa: E402

BATCH_LENGTHS = (50, 200, 1000)
WARMUP_HALF = 500  # steps the default warm-up's prediction sees per chain


def predictions(draws: np.ndarray, scores: np.ndarray, alphas: list[float], window: int | None = None
                ) -> dict[int, np.ndarray]:
    """Predicted relative variance at `alphas` per batch length, from (chains, steps, d) draws and scores (the
    batches from the first `window` steps only, if given; K and g from 64 thinned draws per chain of them)."""
    chains, steps, dim = draws.shape
    span = min(window or steps, steps)
    thinned = draws[:, :span:max(span // prediction.PREDICTION_DRAWS, 1)].reshape(-1, dim)
    location, scale = thinned.mean(0), thinned.std(0)
    found = {}
    for batch in [length for length in BATCH_LENGTHS if length <= span]:
        usable = span // batch * batch
        batch_x = draws[:, :usable].reshape(chains, -1, batch, dim).mean(2).reshape(-1, dim)
        batch_s = scores[:, :usable].reshape(chains, -1, batch, dim).mean(2).reshape(-1, dim)
        found[batch] = np.asarray(prediction.predicted_relative_variance(
            jnp.asarray(batch_x), jnp.asarray(batch_s), batch, jnp.asarray(thinned), jnp.asarray(location),
            jnp.asarray(scale), jnp.asarray(alphas)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=["banana_k0.5", "banana_k2", "banana_k5", "banana_k10"])
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--alphas", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args(argv)
    head = " | ".join(f"B={batch}" for batch in BATCH_LENGTHS)
    print(f"| target | kernel | IAT x | IAT s | alpha | predicted rel. var {head} | B=50, first 500 steps | "
          "alpha share it implies |")
    print("|---|---|---|---|---|" + "---|" * (len(BATCH_LENGTHS) + 2))
    for name in args.targets:
        truth = problem(name)
        for kernel_name in args.kernels:
            kernel, params = KERNELS[kernel_name]
            key_start, key_run = jax.random.split(jax.random.key(7))
            result = srmc.sample(key_run, srmc.base(kernel, **params), truth.target, args.steps, args.chains,
                                 initial_position=truth.starts(key_start, args.chains), warmup=1000, thin=1)
            draws = np.asarray(result.draws, np.float64)
            scores = np.asarray(jax.vmap(jax.vmap(truth.target.score))(jnp.asarray(result.draws)), np.float64)
            iat_x, iat_s = integrated_autocorrelation_time(draws), integrated_autocorrelation_time(scores)
            found = predictions(draws, scores, args.alphas)
            warmup_sized = predictions(draws, scores, args.alphas, window=WARMUP_HALF)[50]
            curve = predictions(draws, scores, list(prediction.ALPHA_GRID), window=WARMUP_HALF)[50]
            for index, alpha in enumerate(args.alphas):
                cells = " | ".join(f"{found[batch][index]:.2f}" for batch in BATCH_LENGTHS)
                share = float(prediction.alpha_factor(prediction.ALPHA_GRID, jnp.asarray(curve), alpha))
                print(f"| {name} | {kernel_name} | {iat_x:.0f} | {iat_s:.0f} | {alpha:g} | {cells} | "
                      f"{warmup_sized[index]:.2f} | {share:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
