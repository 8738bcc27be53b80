"""srmc against a plain NumPy per-step loop of SRMC-MALA, on the SRMC paper's continuous protocol, in one run.

    python benchmarks/numpy_protocol.py [--steps 10000] [--replicates 30] [--alphas 0,1,10] [--repeats 3]

Protocol (the paper's continuous experiment as the issue states it; our choices marked *):
  target    correlated Gaussian, d = 20, equicorrelated rho = 0.9, mean 0 (the NumPy loop builds its own)
  sampler   SRMC-MALA with the score tilt log pi(x) - alpha <theta, s(x)>, exact surrogate gradient
            (s(x) - alpha H theta = -P (x - alpha theta) here), Metropolis test on the exact surrogate
  history   theta_n = theta_{n-1} + gamma_n (s(X_n) - theta_{n-1}),  gamma_n = n^-0.6,  theta_0 = 0
  alpha     --alphas* (0 = plain MALA), warmed up linearly over the first 500 steps*: alpha_n = alpha min(1, n/500)
            (with a constant alpha from step 1 both implementations diverged at alpha >= 5: MSE 8e2 and 3e35)
  step size 0.05* (MALA acceptance about 0.6 at alpha = 0)
  start     exact draws from the target*, so the error measures the estimator and not the burn-in
  output    MSE of the running mean of x over 30 independent replicates, averaged over the 20 coordinates

Agreement: for every alpha both implementations run the full protocol (same steps and replicates, independent
random numbers) and the script prints both MSEs with standard errors and z = difference / combined standard
error. Speed: time per chain-step of the NumPy loop (one chain at a time, as a per-step loop runs) against
srmc's runner (`srmc.sample`, compilation excluded, best of --repeats; its fixed cost per call included) with
1 chain x 20000 steps and with 1024 chains x 2000 steps. The NumPy time is measured on the agreement runs (30
chains x --steps) at the first non-zero alpha. The last line prints the speed-ups.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.tools.benchmark import mse_with_stderr, timed_sample

DIM, RHO, STEP_SIZE, GAMMA_POWER, WARMUP = 20, 0.9, 0.05, 0.6, 500
MEAN_OF_X = {"x": lambda x: x}  # one object, so repeated srmc runs reuse their compilation


class NumpyRun(NamedTuple):
    """Final running means of x per replicate and the loop's seconds per chain-step."""

    estimates: np.ndarray
    seconds_per_step: float


def equicorrelated_precision(dim: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """(covariance Cholesky factor, precision) of the unit-variance equicorrelated Gaussian."""
    covariance = (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))
    return np.linalg.cholesky(covariance), np.linalg.inv(covariance)


def numpy_srmc_mala_chain(rng: np.random.Generator, x: np.ndarray, precision: np.ndarray, alpha_max: float,
                          num_steps: int, step_size: float = STEP_SIZE) -> np.ndarray:
    """One SRMC-MALA chain, one step per Python iteration; returns the running mean of x over steps 1..n."""
    theta = np.zeros_like(x)
    score = -precision @ x
    logpi = 0.5 * x @ score
    mean = np.zeros_like(x)
    for n in range(1, num_steps + 1):
        alpha = alpha_max * min(1.0, (n - 1) / WARMUP)  # step n runs on pi_theta with theta_{n-1}, alpha_{n-1}
        # surrogate log pi_theta = log pi - alpha <theta, s>, gradient s + alpha P theta (H = -P), at x and at y
        tilt_gradient = alpha * (precision @ theta)
        value_x, grad_x = logpi - alpha * theta @ score, score + tilt_gradient
        y = x + step_size * grad_x + np.sqrt(2.0 * step_size) * rng.standard_normal(x.shape[0])
        score_y = -precision @ y
        logpi_y = 0.5 * y @ score_y
        value_y, grad_y = logpi_y - alpha * theta @ score_y, score_y + tilt_gradient
        forward = np.sum((y - x - step_size * grad_x) ** 2)
        backward = np.sum((x - y - step_size * grad_y) ** 2)
        log_ratio = value_y - value_x + (forward - backward) / (4.0 * step_size)
        if np.log(rng.uniform()) < log_ratio:
            x, score, logpi = y, score_y, logpi_y
        theta = theta + n**-GAMMA_POWER * (score - theta)
        mean = mean + (x - mean) / n
    return mean


def numpy_protocol(seed: int, alpha: float, num_steps: int, num_replicates: int) -> NumpyRun:
    """The protocol's replicates, one chain after another, each from an exact draw."""
    rng = np.random.default_rng(seed)
    chol, precision = equicorrelated_precision(DIM, RHO)
    start = time.perf_counter()
    estimates = [numpy_srmc_mala_chain(rng, chol @ rng.standard_normal(DIM), precision, alpha, num_steps)
                 for _ in range(num_replicates)]
    seconds = time.perf_counter() - start
    return NumpyRun(np.asarray(estimates), seconds / (num_replicates * num_steps))


def srmc_algorithm(alpha: float) -> srmc.Algorithm:
    """The same sampler in srmc (alpha = 0: the wrapper with a zero tilt, i.e. MALA with a theta update)."""
    return srmc.wrap(samplers.mala, alpha=srmc.schedules.linear_warmup(alpha, WARMUP), tilt="score", gradient="exact",
                     gamma=srmc.schedules.polynomial(1.0, GAMMA_POWER), step_size=STEP_SIZE)


def srmc_protocol(seed: int, alpha: float, num_steps: int, num_chains: int, repeats: int = 1):
    """(final running means of x per chain, best seconds per chain-step over `repeats` runs, compilation excluded)."""
    target = targets.get("correlated_gaussian", dim=DIM, rho=RHO)
    init_key, run_key = jax.random.split(jax.random.key(seed))
    starts = target.sample(init_key, num_chains)
    algorithm = srmc_algorithm(alpha)
    best, result = float("inf"), None
    for _ in range(repeats):
        result, seconds = timed_sample(run_key, algorithm, target, num_steps, num_chains, initial_position=starts,
                                       functions=MEAN_OF_X, chunk_size=num_steps, progress=False)
        best = min(best, seconds)
    return result.chain_estimates["x"], best / (num_chains * num_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--alphas", default="0,1,10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    truth = np.zeros(DIM)
    print(f"correlated Gaussian d={DIM} rho={RHO}, SRMC-MALA score tilt (exact gradient), step size {STEP_SIZE}, "
          f"gamma_n = n^-{GAMMA_POWER}, alpha warm-up {WARMUP} steps, {args.replicates} replicates x {args.steps} steps "
          "from exact draws")
    print(f"{'alpha':>6}{'MSE numpy':>12}{'+/- se':>10}{'MSE srmc':>12}{'+/- se':>10}{'z':>7}")
    numpy_seconds = None
    for alpha in alphas:
        numpy_run = numpy_protocol(args.seed, alpha, args.steps, args.replicates)
        srmc_estimates, _ = srmc_protocol(args.seed, alpha, args.steps, args.replicates)
        (m_np, s_np), (m_jx, s_jx) = mse_with_stderr(numpy_run.estimates, truth), mse_with_stderr(srmc_estimates, truth)
        print(f"{alpha:>6g}{m_np:>12.4g}{s_np:>10.2g}{m_jx:>12.4g}{s_jx:>10.2g}{(m_jx - m_np) / np.hypot(s_np, s_jx):>7.2f}")
        if numpy_seconds is None and alpha > 0:
            numpy_seconds = numpy_run.seconds_per_step
    speed_alpha = next(a for a in alphas if a > 0)
    _, one_chain = srmc_protocol(args.seed, speed_alpha, 20_000, 1, args.repeats)
    _, many_chains = srmc_protocol(args.seed, speed_alpha, 2_000, 1024, args.repeats)
    print(f"time per chain-step at alpha={speed_alpha:g}: numpy loop {1e6 * numpy_seconds:.2f} us; srmc 1 chain "
          f"{1e6 * one_chain:.3f} us, 1024 chains {1e6 * many_chains:.4f} us ({jax.devices()[0].platform}, "
          f"best of {args.repeats})")
    print(f"speed-up per chain-step over the numpy loop: 1 chain {numpy_seconds / one_chain:.1f}x (goal 100x), "
          f"1024 chains {numpy_seconds / many_chains:.0f}x (goal 1000x)")


if __name__ == "__main__":
    main()
