"""srmc against a plain NumPy per-step loop of SRMC-MALA, on the SRMC paper's continuous protocol, in one run.

    python benchmarks/numpy_protocol.py [--steps 10000] [--replicates 30] [--alphas 0,1,10] [--repeats 3]
                                        [--hmc-steps 2000] [--impls threefry2x32,rbg,unsafe_rbg] [--quick]

``--quick``: a short run (2000 steps x 10 replicates of the agreement, a tenth of the timed steps, best of 2).

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
srmc's runner (`srmc.sample` without a warm-up, as the protocol's fixed step size; compilation excluded, best of
--repeats; its fixed cost per call included), for
MALA and HMC (10 leapfrog steps of 0.1, no step jitter), each as the base kernel (alpha = 0: the NumPy loop
with alpha 0) and as SRMC (alpha = 1 after the warm-up above), with 1 chain and with 1024 chains. The NumPy MALA
times come from the agreement runs (30 chains x --steps) at alpha 0 and the first non-zero alpha; the NumPy HMC
loop runs 5 chains x --hmc-steps. The table ends with the speed-ups (goals: 10x at 1 chain, 100x at 1024), then
what bounds one chain: XLA's cost per while-loop iteration (an empty scan) and the fixed cost of a call, and
what bounds 1024 chains: the time of a MALA step's random numbers alone.

PRNG: srmc runs in the implementation of the user's key (``jax.random.key(seed, impl=...)``). The random
numbers' cost is measured for every implementation in ``--impls``; the speed table then runs with threefry (JAX's
default, the agreement runs' keys; its line is the last) and with the fastest other implementation, side by side.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.tools.benchmark import mse_with_stderr, timed_sample

DIM, RHO, STEP_SIZE, GAMMA_POWER, WARMUP = 20, 0.9, 0.05, 0.6, 500
HMC_STEP_SIZE, HMC_LEAPFROG = 0.1, 10
SPEED_ALPHA = 1.0
CHAIN_COUNTS = {1: 20_000, 1024: 2_000}  # chains: steps (HMC: a tenth; --quick: a tenth of these)
GOALS = {1: 10, 1024: 100}  # the speed-ups over the NumPy loop
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


def numpy_srmc_hmc_chain(rng: np.random.Generator, x: np.ndarray, precision: np.ndarray, alpha_max: float,
                         num_steps: int) -> np.ndarray:
    """One SRMC-HMC chain (score tilt, exact gradient, `HMC_LEAPFROG` leapfrog steps of `HMC_STEP_SIZE`, unit
    mass), one step per Python iteration; returns the running mean of x."""
    theta, mean, eps = np.zeros_like(x), np.zeros_like(x), HMC_STEP_SIZE
    for n in range(1, num_steps + 1):
        alpha = alpha_max * min(1.0, (n - 1) / WARMUP)
        tilt_gradient = alpha * (precision @ theta)

        def surrogate(z: np.ndarray) -> tuple[float, np.ndarray]:
            score = -precision @ z
            return 0.5 * z @ score - alpha * theta @ score, score + tilt_gradient

        value_x, grad = surrogate(x)
        momentum = rng.standard_normal(x.shape[0])
        y, p = x, momentum + 0.5 * eps * grad
        for i in range(HMC_LEAPFROG):
            y = y + eps * p
            value_y, grad = surrogate(y)
            p = p + (eps if i < HMC_LEAPFROG - 1 else 0.5 * eps) * grad
        log_ratio = value_y - value_x - 0.5 * (p @ p - momentum @ momentum)
        if np.log(rng.uniform()) < log_ratio:
            x = y
        theta = theta + n**-GAMMA_POWER * (-precision @ x - theta)
        mean = mean + (x - mean) / n
    return mean


def numpy_hmc_seconds(seed: int, alpha: float, num_steps: int, num_chains: int = 5) -> float:
    """Seconds per chain-step of the NumPy SRMC-HMC loop (alpha 0: plain HMC), chains one after another."""
    rng = np.random.default_rng(seed)
    chol, precision = equicorrelated_precision(DIM, RHO)
    start = time.perf_counter()
    for _ in range(num_chains):
        numpy_srmc_hmc_chain(rng, chol @ rng.standard_normal(DIM), precision, alpha, num_steps)
    return (time.perf_counter() - start) / (num_chains * num_steps)


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


def speed_algorithms() -> dict[str, srmc.Algorithm]:
    """The four timed samplers: MALA and HMC (fixed leapfrog), each as the base kernel and as SRMC (score tilt)."""
    hmc = dict(step_size=HMC_STEP_SIZE, num_integration_steps=HMC_LEAPFROG, step_jitter=0.0)
    return {
        "mala base": srmc.base(samplers.mala, step_size=STEP_SIZE),
        "mala srmc": srmc_algorithm(SPEED_ALPHA),
        "hmc base": srmc.base(samplers.hmc, **hmc),
        "hmc srmc": srmc.wrap(samplers.hmc, alpha=srmc.schedules.linear_warmup(SPEED_ALPHA, WARMUP), tilt="score",
                              gradient="exact", gamma=srmc.schedules.polynomial(1.0, GAMMA_POWER), **hmc),
    }


TARGET = targets.get("correlated_gaussian", dim=DIM, rho=RHO)


def srmc_protocol(seed: int, alpha: float, num_steps: int, num_chains: int, repeats: int = 1,
                  algorithm: srmc.Algorithm | None = None, impl: str = "threefry2x32"):
    """(final running means of x per chain, best seconds per chain-step over `repeats` runs, compilation excluded),
    keys of the PRNG implementation `impl`."""
    init_key, run_key = jax.random.split(jax.random.key(seed, impl=impl))
    starts = TARGET.sample(init_key, num_chains)
    algorithm = srmc_algorithm(alpha) if algorithm is None else algorithm

    best, result = float("inf"), None
    for _ in range(repeats):
        result, seconds = timed_sample(run_key, algorithm, TARGET, num_steps, num_chains, initial_position=starts,
                                       functions=MEAN_OF_X, warmup=0,  # the protocol's fixed step size
                                       options=srmc.RunOptions(chunk_size=num_steps, progress=False))
        best = min(best, seconds)
    return result.chain_estimates["x"], best / (num_chains * num_steps)


def empty_scan_seconds(num_steps: int = 200_000) -> float:
    """XLA's cost per iteration of a compiled loop whose body does (almost) nothing: the floor under one chain."""
    loop = jax.jit(lambda c: jax.lax.scan(lambda carry, _: (carry + 1.0, None), c, None, length=num_steps)[0])
    jax.block_until_ready(loop(0.0))
    start = time.perf_counter()
    jax.block_until_ready(loop(0.0))
    return (time.perf_counter() - start) / num_steps


def random_numbers_seconds(num_chains: int = 1024, num_steps: int = 500, impl: str = "threefry2x32") -> float:
    """Seconds per chain-step of a MALA step's random numbers alone (fold_in, split, DIM normals, one uniform per
    chain, keys of `impl`), as the runner computes them: the floor under many chains."""
    keys = jax.random.split(jax.random.key(1, impl=impl), num_chains)

    def body(total: jax.Array, step: jax.Array) -> tuple[jax.Array, None]:
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, step)
        noise_keys, accept_keys = jnp.moveaxis(jax.vmap(jax.random.split)(step_keys), 1, 0)
        noise = jax.vmap(lambda key: jax.random.normal(key, (DIM,)))(noise_keys)
        return total + noise.sum() + jax.vmap(jax.random.uniform)(accept_keys).sum(), None

    loop = jax.jit(lambda: jax.lax.scan(body, jnp.zeros(()), jnp.arange(num_steps))[0])
    jax.block_until_ready(loop())
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(loop())
        best = min(best, time.perf_counter() - start)
    return best / (num_chains * num_steps)


def call_seconds(algorithm: srmc.Algorithm, repeats: int) -> float:
    """The fixed cost of one `srmc.sample` call (1 chain, 10 steps, compiled): validation, setup, result."""
    starts = TARGET.sample(jax.random.key(0), 1)

    def call() -> None:
        srmc.sample(jax.random.key(1), algorithm, TARGET, 10, 1, initial_position=starts, functions=MEAN_OF_X,
                    warmup=0, options=srmc.RunOptions(chunk_size=10, progress=False))

    call()
    best = float("inf")
    for _ in range(max(repeats, 3)):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def speed_table(seed: int, numpy_seconds: dict[str, float], repeats: int, impl: str = "threefry2x32",
                fraction: int = 1) -> dict[int, dict[str, float]]:
    """Print per chain-step times of the four samplers at 1 and 1024 chains (keys of `impl`; 1 / `fraction` of
    the steps) against the NumPy loop; return the speed-ups ``{chains: {sampler: ratio}}``."""
    print(f"time per chain-step, us, keys {impl} ({jax.devices()[0].platform}, best of {repeats}; x = NumPy loop / "
          f"srmc; goals {', '.join(f'{g}x at {c} chain(s)' for c, g in GOALS.items())})")
    print(f"{'sampler':<10}{'numpy':>9}" + "".join(f"{f'{c} ch':>10}{'x':>7}{'goal':>6}" for c in CHAIN_COUNTS))
    ratios: dict[int, dict[str, float]] = {chains: {} for chains in CHAIN_COUNTS}
    for name, algorithm in speed_algorithms().items():
        cells = []
        for chains, steps in CHAIN_COUNTS.items():
            steps = (steps // 10 if name.startswith("hmc") else steps) // fraction
            _, seconds = srmc_protocol(seed, SPEED_ALPHA, steps, chains, repeats, algorithm, impl)
            ratios[chains][name] = ratio = numpy_seconds[name] / seconds
            cells.append(f"{1e6 * seconds:>10.3f}{ratio:>6.0f}x{'met' if ratio >= GOALS[chains] else 'MISS':>6}")
        print(f"{name:<10}{1e6 * numpy_seconds[name]:>9.2f}" + "".join(cells), flush=True)
    return ratios


def bounds(repeats: int, random_seconds: dict[str, float]) -> None:
    """Print what bounds one chain (a loop iteration, a call) and 1024 chains (the random numbers, per impl)."""
    print(f"bounds on one chain: XLA CPU while-loop iteration (empty scan) {1e9 * empty_scan_seconds():.1f} ns; "
          f"fixed cost of an srmc.sample call (1 chain, 10 steps, compiled): "
          f"{1e3 * call_seconds(speed_algorithms()['mala srmc'], repeats):.1f} ms")
    print("bound on 1024 chains: a MALA step's random numbers alone, us per chain-step: "
          + ", ".join(f"{impl} {1e6 * seconds:.3f}" for impl, seconds in random_seconds.items()))


def speed_summary(ratios: dict[int, dict[str, float]], impl: str = "threefry2x32") -> str:
    """Every sampler's speed-up at each chain count with keys of `impl`, with the goal."""
    parts = [f"{chains} chain{'s' if chains > 1 else ''}: " + ", ".join(f"{name} {ratio:.0f}x"
                                                                         for name, ratio in row.items())
             + f" (goal {GOALS[chains]}x)" for chains, row in ratios.items()]
    keys = "" if impl == "threefry2x32" else f", keys {impl}"
    return f"speed-up per chain-step over the numpy loop{keys}: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--alphas", default="0,1,10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hmc-steps", type=int, default=2000, dest="hmc_steps")
    parser.add_argument("--impls", default="threefry2x32,rbg,unsafe_rbg",
                        help="PRNG implementations to time; the table runs threefry and the fastest other one")
    parser.add_argument("--quick", action="store_true", help="a short run (see the module doc)")
    args = parser.parse_args()
    fraction = 1
    if args.quick:
        args.steps, args.replicates, args.repeats, args.hmc_steps, fraction = 2000, 10, 2, 400, 10
    alphas = [float(a) for a in args.alphas.split(",")]
    truth = np.zeros(DIM)
    print(f"correlated Gaussian d={DIM} rho={RHO}, SRMC-MALA score tilt (exact gradient), step size {STEP_SIZE}, "
          f"gamma_n = n^-{GAMMA_POWER}, alpha warm-up {WARMUP} steps, {args.replicates} replicates x {args.steps} "
          "steps from exact draws")
    print(f"{'alpha':>6}{'MSE numpy':>12}{'+/- se':>10}{'MSE srmc':>12}{'+/- se':>10}{'z':>7}")
    numpy_seconds = {}
    for alpha in alphas:
        numpy_run = numpy_protocol(args.seed, alpha, args.steps, args.replicates)
        srmc_estimates, _ = srmc_protocol(args.seed, alpha, args.steps, args.replicates)
        (m_np, s_np), (m_jx, s_jx) = mse_with_stderr(numpy_run.estimates, truth), mse_with_stderr(srmc_estimates, truth)
        z = (m_jx - m_np) / np.hypot(s_np, s_jx)
        print(f"{alpha:>6g}{m_np:>12.4g}{s_np:>10.2g}{m_jx:>12.4g}{s_jx:>10.2g}{z:>7.2f}")
        numpy_seconds.setdefault("mala base" if alpha == 0 else "mala srmc", numpy_run.seconds_per_step)
    for name, alpha in (("mala base", 0.0), ("mala srmc", SPEED_ALPHA)):  # when --alphas lacks them
        if name not in numpy_seconds:
            numpy_seconds[name] = numpy_protocol(args.seed, alpha, args.steps // 10, 3).seconds_per_step
    numpy_seconds["hmc base"] = numpy_hmc_seconds(args.seed, 0.0, args.hmc_steps)
    numpy_seconds["hmc srmc"] = numpy_hmc_seconds(args.seed, SPEED_ALPHA, args.hmc_steps)
    impls = args.impls.split(",")
    random_seconds = {impl: random_numbers_seconds(impl=impl) for impl in impls}
    others = [impl for impl in impls if impl != "threefry2x32"]
    fastest = min(others, key=random_seconds.get) if others else None
    summaries = [speed_summary(speed_table(args.seed, numpy_seconds, args.repeats, "threefry2x32", fraction))]
    if fastest is not None:  # the threefry line stays last
        summaries.insert(0, speed_summary(speed_table(args.seed, numpy_seconds, args.repeats, fastest, fraction),
                                          fastest))
    bounds(args.repeats, random_seconds)
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
