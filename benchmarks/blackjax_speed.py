"""srmc's base kernels against BlackJAX's (MALA, HMC): time per chain-step, measured side by side in one run.

    python benchmarks/blackjax_speed.py [--target correlated_gaussian] [--chains 128] [--steps 1000] [--repeats 15]

Both libraries run the same way: a bare jitted ``lax.scan`` over steps of ``jax.vmap``-ed chains, with the same
target, starting points, parameters, keys (split per step, then per chain) and outputs (final states and the mean
acceptance per step, so nothing is dead code). No runner is involved, so the ratio is the cost of the kernels
alone: srmc's runner adds streaming estimators that BlackJAX does not have, and running BlackJAX through srmc's
runner would add srmc's BlackJAX adapter (which recomputes MALA's proposal to count non-finite ones).
Each function is compiled first, then the two libraries are timed alternately `repeats` times; the best time of
each is kept (the machine may be shared, so the minimum is the least noisy estimate). The last line prints the
ratios srmc / BlackJAX (goal <= 1.05).

``--dense`` adds HMC with a dense inverse mass matrix (the sample covariance of 4096 exact draws of the target),
one matrix shared by every chain, given to both kernels. BlackJAX's MALA takes no mass matrix, so there is no
dense MALA pair.
"""

from __future__ import annotations

import argparse

import blackjax
import jax
import jax.numpy as jnp
from _timing import best_times, kernel_scan

from srmc import samplers, targets


def kernel_pairs(dim: int, step_size: float, num_integration_steps: int) -> dict[str, tuple[tuple, tuple]]:
    """{name: ((srmc module, params), (blackjax module, params))} for MALA and HMC, with identical parameters."""
    mala = {"step_size": step_size}
    hmc = {"step_size": step_size, "num_integration_steps": num_integration_steps, "inverse_mass_matrix": jnp.ones(dim)}
    return {"mala": ((samplers.mala, mala), (blackjax.mala, mala)), "hmc": ((samplers.hmc, hmc), (blackjax.hmc, hmc))}


def dense_hmc_pair(target: targets.Target, step_size: float, num_integration_steps: int) -> tuple[tuple, tuple]:
    """((srmc hmc, params), (blackjax hmc, params)) with the same dense M^{-1}."""
    draws = target.sample(jax.random.key(2), 4096)
    matrix = jnp.cov(draws.reshape(draws.shape[0], -1), rowvar=False)
    params = {"step_size": step_size, "num_integration_steps": num_integration_steps, "inverse_mass_matrix": matrix}
    return (samplers.hmc, params), (blackjax.hmc, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="correlated_gaussian")
    parser.add_argument("--chains", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--step-size", type=float, default=0.05)
    parser.add_argument("--num-integration-steps", type=int, default=10)
    parser.add_argument("--dense", action="store_true", help="add HMC with a dense inverse mass matrix")
    args = parser.parse_args()
    target = targets.get(args.target)
    key = jax.random.key(0)
    positions = (target.sample or target.initial_position)(jax.random.key(1), args.chains)
    print(f"{target.name}: {args.chains} chains x {args.steps} steps, bare jitted scan of vmapped kernels, "
          f"best of {args.repeats} alternating repeats; {jax.devices()[0].platform}")
    print(f"{'kernel':<8}{'srmc us/chain-step':>20}{'blackjax us/chain-step':>24}{'ratio':>8}")
    ratios = {}
    pairs = kernel_pairs(target.dim, args.step_size, args.num_integration_steps)
    if args.dense:
        pairs["hmc_dense"] = dense_hmc_pair(target, args.step_size, args.num_integration_steps)
    for name, (ours, theirs) in pairs.items():
        runs = {lib: kernel_scan(module, target.logdensity, params, args.steps)
                for lib, (module, params) in (("srmc", ours), ("blackjax", theirs))}
        seconds = best_times(runs, key, positions, args.repeats)
        per_chain_step = {lib: 1e6 * s / (args.chains * args.steps) for lib, s in seconds.items()}
        ratios[name] = seconds["srmc"] / seconds["blackjax"]
        print(f"{name:<8}{per_chain_step['srmc']:>20.4f}{per_chain_step['blackjax']:>24.4f}{ratios[name]:>8.3f}")
    print("srmc / blackjax time per chain-step: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
          + " (goal <= 1.05)")


if __name__ == "__main__":
    main()
