"""Property-testing helpers for MCMC kernels: point them at your own BlackJAX-shaped kernel.

    from srmc import testing
    testing.check_continuous_invariance(samplers.mala, {"step_size": 0.3}, target).passed
    testing.check_discrete_invariance(my_gibbs, {}, logdensity_fn, dim=6).passed

Invariance checks start from exact draws of pi, take steps, and test the result against pi with a stated
false-alarm rate (the probability that a correct kernel fails). They are statistical: a kernel that is wrong by
less than the test can resolve passes, so use enough draws (the defaults catch a missing Metropolis correction).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

import srmc
from srmc.algorithm import resolve_kernel
from srmc.tilt import surrogate_logdensity
from targets import Target
from targets.gaussian import gaussian

Array = jax.Array


class CheckResult(NamedTuple):
    """A test's statistic, its p-value, the false-alarm rate it was run at, and whether it passed."""

    statistic: float
    p_value: float
    false_alarm_rate: float
    passed: bool
    detail: str = ""


# --- running a kernel from exact draws ---------------------------------------------------------------------------


def run_kernel(
    kernel_module: Any,
    params: dict,
    logdensity_fn: Callable[[Array], Array],
    positions: Array,
    num_steps: int,
    rng_key: Array,
    init_state_fn: Callable[[Array, Array], Any] | None = None,
) -> Array:
    """Final positions after `num_steps` steps of the kernel from each row of `positions` (vmapped, jitted)."""
    base_init, kernel = resolve_kernel(kernel_module)
    init_state_fn = init_state_fn or (lambda key, position: base_init(position, logdensity_fn))

    @jax.jit
    def run(keys: Array, starts: Array) -> Array:
        def one_chain(key: Array, start: Array) -> Array:
            init_key, run_key = jax.random.split(key)
            state = init_state_fn(init_key, start)

            def step(state, step_key):
                return kernel(step_key, state, logdensity_fn, **params)[0], None

            state, _ = jax.lax.scan(step, state, jax.random.split(run_key, num_steps))
            return state.position

        return jax.vmap(one_chain)(keys, starts)

    return run(jax.random.split(rng_key, positions.shape[0]), positions)


# --- continuous targets ------------------------------------------------------------------------------------------


def two_sample_test(samples: np.ndarray, reference: np.ndarray, false_alarm_rate: float = 1e-3) -> CheckResult:
    """Kolmogorov–Smirnov two-sample tests on every coordinate and on |x|^2, Bonferroni-corrected."""
    samples, reference = np.asarray(samples, np.float64), np.asarray(reference, np.float64)
    columns = [(samples[:, i], reference[:, i], f"x[{i}]") for i in range(samples.shape[1])]
    columns.append(((samples**2).sum(axis=1), (reference**2).sum(axis=1), "|x|^2"))
    results = [(stats.ks_2samp(a, b), label) for a, b, label in columns]
    (worst, label) = min(results, key=lambda item: item[0].pvalue)
    p_value = min(1.0, worst.pvalue * len(columns))
    return CheckResult(float(worst.statistic), float(p_value), false_alarm_rate, p_value > false_alarm_rate,
                       f"worst statistic: {label}")


def check_continuous_invariance(
    kernel_module: Any,
    params: dict,
    target: Target,
    *,
    num_chains: int = 4000,
    num_steps: int = 5,
    rng_key: Array | None = None,
    false_alarm_rate: float = 1e-3,
    init_state_fn: Callable[[Array, Array], Any] | None = None,
) -> CheckResult:
    """Start `num_chains` chains from exact draws of `target`, take `num_steps` steps, compare to fresh draws.

    Needs ``target.sample``. A correct kernel fails with probability at most `false_alarm_rate`. Kernels with
    auxiliary variables (momentum) need `init_state_fn(key, position)` drawing them from their stationary law.
    """
    if target.sample is None:
        raise ValueError(f"target {target.name!r} has no exact sampler; invariance checks need one.")
    key = jax.random.key(0) if rng_key is None else rng_key
    start_key, run_key, reference_key = jax.random.split(key, 3)
    starts = target.sample(start_key, num_chains)
    ends = run_kernel(kernel_module, params, target.logdensity, starts, num_steps, run_key, init_state_fn)
    return two_sample_test(np.asarray(ends), np.asarray(target.sample(reference_key, num_chains)), false_alarm_rate)


def tilted_gaussian(target: Target, theta: Array, alpha: float, tilt: str = "score", gradient: str = "exact") -> Target:
    """The SRMC surrogate of a Gaussian target for a frozen theta, with its exact sampler.

    For pi = N(mu, Sigma): the score tilt gives N(mu + alpha theta, Sigma), the linear tilt N(mu + alpha Sigma
    theta, Sigma). The returned target's log density is srmc's own surrogate (with the chosen gradient mode), so
    checking a kernel on it checks the wrapper's surrogate too.
    """
    cov = np.asarray(target.params.get("cov"))
    if cov.ndim != 2:
        raise ValueError(f"target {target.name!r} is not a Gaussian from targets.gaussian (no 'cov' parameter).")
    theta = np.asarray(theta, np.float64)
    shift = alpha * theta if tilt == "score" else alpha * cov @ theta
    exact = gaussian(f"tilted[{target.name}]", np.asarray(target.ground_truth.mean) + shift, cov, {})
    surrogate = surrogate_logdensity(target, jnp.asarray(theta, jnp.float32), alpha, tilt, gradient)
    return Target(exact.name, "continuous", exact.dim, surrogate, exact.initial_position,
                  ground_truth=exact.ground_truth, sample=exact.sample, params=exact.params)


# --- discrete targets --------------------------------------------------------------------------------------------


def enumerate_states(dim: int, num_categories: int = 2) -> np.ndarray:
    """All ``num_categories**dim`` configurations, shape (num_states, dim), int32."""
    if num_categories**dim > 2**16:
        raise ValueError(f"{num_categories}^{dim} states is too many to enumerate (limit 65536).")
    return np.array(list(itertools.product(range(num_categories), repeat=dim)), np.int32)


def exact_probabilities(logdensity_fn: Callable[[Array], Array], states: np.ndarray) -> np.ndarray:
    """pi over enumerated `states`, normalised in float64."""
    logp = np.asarray(jax.vmap(logdensity_fn)(jnp.asarray(states)), np.float64)
    logp -= logp.max()
    return np.exp(logp) / np.exp(logp).sum()


def state_index(states: np.ndarray, num_categories: int) -> np.ndarray:
    """Row index of each configuration in `enumerate_states` order."""
    dim = states.shape[-1]
    weights = num_categories ** np.arange(dim - 1, -1, -1)
    return np.asarray(states, np.int64) @ weights


def transition_matrix(
    kernel_module: Any, params: dict, logdensity_fn: Callable, dim: int, *, num_categories: int = 2,
    num_samples: int = 2000, rng_key: Array | None = None,
) -> np.ndarray:
    """One-step transition matrix by enumeration of start states, each row estimated from `num_samples` steps."""
    states = enumerate_states(dim, num_categories)
    key = jax.random.key(0) if rng_key is None else rng_key
    starts = np.repeat(states, num_samples, axis=0)
    ends = np.asarray(run_kernel(kernel_module, params, logdensity_fn, jnp.asarray(starts), 1, key))
    matrix = np.zeros((len(states), len(states)))
    np.add.at(matrix, (np.repeat(np.arange(len(states)), num_samples), state_index(ends, num_categories)), 1.0)
    return matrix / num_samples


def invariance_error(matrix: np.ndarray, probabilities: np.ndarray) -> float:
    """max |pi P - pi| for an exact (or estimated) transition matrix P."""
    return float(np.abs(probabilities @ matrix - probabilities).max())


def check_discrete_invariance(
    kernel_module: Any, params: dict, logdensity_fn: Callable, dim: int, *, num_categories: int = 2,
    num_chains: int = 200_000, num_steps: int = 1, rng_key: Array | None = None, false_alarm_rate: float = 1e-3,
) -> CheckResult:
    """Chi-square test that `num_steps` steps from exact draws of pi (by enumeration) still follow pi.

    Start states are drawn exactly from pi; the end states' counts over all configurations are compared with
    N pi (cells with expected count < 5 pooled). A correct kernel fails with probability `false_alarm_rate`.
    """
    states = enumerate_states(dim, num_categories)
    probabilities = exact_probabilities(logdensity_fn, states)
    key = jax.random.key(0) if rng_key is None else rng_key
    start_key, run_key = jax.random.split(key)
    starts = states[np.asarray(jax.random.choice(start_key, len(states), (num_chains,), p=jnp.asarray(probabilities)))]
    ends = np.asarray(run_kernel(kernel_module, params, logdensity_fn, jnp.asarray(starts), num_steps, run_key))
    observed = np.bincount(state_index(ends, num_categories), minlength=len(states)).astype(np.float64)
    expected = num_chains * probabilities
    small = expected < 5
    if small.any():
        observed = np.append(observed[~small], observed[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    statistic = float(((observed - expected) ** 2 / np.maximum(expected, 1e-300)).sum())
    p_value = float(stats.chi2.sf(statistic, df=len(expected) - 1))
    return CheckResult(statistic, p_value, false_alarm_rate, p_value > false_alarm_rate,
                       f"{len(expected)} cells, {num_chains} chains")


# --- identities ----------------------------------------------------------------------------------------------------


def check_alpha_zero_identity(kernel_module: Any, params: dict, target: Target, *, num_steps: int = 30,
                              num_chains: int = 3, rng_key: Array | None = None) -> bool:
    """SRMC with alpha = 0 gives the base kernel's draws bit for bit, for both tilts."""
    key = jax.random.key(0) if rng_key is None else rng_key
    plain = srmc.sample(key, srmc.base(kernel_module, **params), target, num_steps, num_chains, thin=1)
    return all(
        np.array_equal(plain.draws, srmc.sample(
            key, srmc.wrap(kernel_module, alpha=0.0, tilt=tilt, **params), target, num_steps, num_chains, thin=1
        ).draws)
        for tilt in ("score", "linear")
    )


def check_vmap_and_jit(kernel_module: Any, params: dict, logdensity_fn: Callable, positions: Array, *,
                       rng_key: Array | None = None, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """One step vmapped over chains equals per-chain calls, and jitted equals eager (to float tolerance)."""
    base_init, kernel = resolve_kernel(kernel_module)
    keys = jax.random.split(jax.random.key(0) if rng_key is None else rng_key, positions.shape[0])
    one_step = lambda key, position: kernel(key, base_init(position, logdensity_fn), logdensity_fn, **params)[0].position
    batched = np.asarray(jax.jit(jax.vmap(one_step))(keys, positions))
    with jax.disable_jit():
        single = np.stack([np.asarray(one_step(k, p)) for k, p in zip(keys, positions)])
    return bool(np.allclose(batched, single, rtol=rtol, atol=atol))


def check_determinism(kernel_module: Any, params: dict, logdensity_fn: Callable, position: Array, *,
                      num_steps: int = 10, rng_key: Array | None = None) -> bool:
    """The same key gives the same chain; a different key gives a different one."""
    key = jax.random.key(0) if rng_key is None else rng_key
    positions = jnp.asarray(position)[None]
    first = run_kernel(kernel_module, params, logdensity_fn, positions, num_steps, key)
    again = run_kernel(kernel_module, params, logdensity_fn, positions, num_steps, key)
    other = run_kernel(kernel_module, params, logdensity_fn, positions, num_steps, jax.random.fold_in(key, 1))
    return bool(np.array_equal(first, again) and not np.array_equal(first, other))


# --- hypothesis strategies -------------------------------------------------------------------------------------------


class LatticeModel(NamedTuple):
    """A small Ising (q = 2) or Potts model, any coupling graph: log p = 1/2 sum_ij J_ij [x_i == x_j] + sum_i h_i[x_i]."""

    logdensity: Callable[[Array], Array]
    dim: int
    num_categories: int
    couplings: np.ndarray
    field: np.ndarray


def lattice_model(couplings: np.ndarray, field: np.ndarray) -> LatticeModel:
    """Build a `LatticeModel` from symmetric couplings (dim, dim) and a field (dim, num_categories)."""
    couplings_j, field_j = jnp.asarray(couplings), jnp.asarray(field)
    num_categories = field.shape[1]

    def logdensity(x: Array) -> Array:
        one_hot = jax.nn.one_hot(x, num_categories)
        agreement = one_hot @ one_hot.T
        return 0.5 * jnp.sum(couplings_j * agreement) + jnp.sum(one_hot * field_j)

    return LatticeModel(logdensity, field.shape[0], num_categories, couplings, field)


def gaussian_targets(max_dim: int = 4, max_condition: float = 20.0):
    """Hypothesis strategy: Gaussian `Target`s with random mean and SPD covariance (bounded condition number)."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        dim = draw(st.integers(1, max_dim))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        scales = np.exp(rng.uniform(0, np.log(max_condition) / 2, size=dim))
        cov = rotation @ np.diag(scales**2) @ rotation.T
        return gaussian(f"random_gaussian(seed={seed})", rng.normal(size=dim), cov, {"seed": seed})

    return build()


def mixture_targets(max_components: int = 4):
    """Hypothesis strategy: 2-D Gaussian mixtures with random means in [-3, 3]^2 and variance in [0.3, 1]."""
    from hypothesis import strategies as st

    from targets.mixture import gaussian_mixture

    @st.composite
    def build(draw):
        num = draw(st.integers(1, max_components))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        return gaussian_mixture(f"random_mixture(seed={seed})", rng.uniform(-3, 3, size=(num, 2)),
                                float(rng.uniform(0.3, 1.0)), rng.dirichlet(np.ones(num)))

    return build()


def lattice_models(min_sites: int = 4, max_sites: int = 10, num_categories: tuple[int, int] = (2, 2),
                   max_coupling: float = 1.0):
    """Hypothesis strategy: Ising (q = 2) or Potts models with random couplings and fields on a few sites."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        q = draw(st.integers(*num_categories))
        dim = draw(st.integers(min_sites, max_sites if q == 2 else min(max_sites, 6)))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        couplings = rng.uniform(-max_coupling, max_coupling, size=(dim, dim))
        couplings = np.triu(couplings, 1)
        return lattice_model(couplings + couplings.T, rng.normal(size=(dim, q)))

    return build()
