"""Property-testing helpers for MCMC kernels: point them at your own kernel or at ours.

    from srmc import testing
    assert testing.check_continuous_invariance(samplers.mala, {"step_size": 0.3}, target)
    assert testing.check_discrete_invariance(my_gibbs, {}, logdensity_fn, 6)

A *kernel* is a BlackJAX-shaped module or object (``init(position, logdensity_fn)``, ``build_kernel()``) used
with its parameters, or an `srmc.Algorithm` from `srmc.base`/`srmc.wrap` (then ``params`` is ``{}`` and the log
density argument must be a `targets.Target`). Wherever a log density is asked for, a `Target` works too.

Statistical checks start from exact draws of pi, take steps, and test the end points against pi at a stated
false-alarm rate (the probability that a correct kernel fails; 1e-3 by default, Bonferroni-corrected over the
statistics one check computes). A kernel that is wrong by less than a test can resolve passes; the defaults
catch a missing or mis-signed Metropolis correction. Every check returns a `CheckResult`, truthy exactly when it
passed, so ``assert testing.check_...(...)`` works.

Compilation dominates small checks. Kernels are built once per module, float and array parameters are traced
arguments, and so are the leaves of a log density given as a `jax.tree_util.Partial`: repeated checks on targets
of one family (the hypothesis strategies at the end build such targets) reuse one compiled function.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from scipy import stats

import srmc
from srmc.algorithm import Algorithm, init_params, resolve_kernel
from srmc.tilt import surrogate_logdensity
from srmc.wrapper import SRMCState
from targets import Target
from targets.discrete import enumerate_configurations, enumerated_probabilities
from targets.gaussian import gaussian
from targets.lattice import pairwise_target
from targets.mixture import gaussian_mixture

Array = jax.Array
LogDensity = Callable[[Array], Array]


class CheckResult(NamedTuple):
    """A check's statistic, p-value (NaN for exact checks), false-alarm rate, verdict and a short note.

    Truthy exactly when the check passed.
    """

    statistic: float
    p_value: float
    false_alarm_rate: float
    passed: bool
    detail: str = ""

    def __bool__(self) -> bool:
        return bool(self.passed)


def _exact_result(statistic: float, passed: bool, detail: str) -> CheckResult:
    return CheckResult(float(statistic), float("nan"), 0.0, bool(passed), detail)


# --- running a kernel from given start points ----------------------------------------------------------------------

_BUILT: dict[Any, tuple[Any, Callable, Callable]] = {}  # kernel (or algorithm, target) -> init, step


def _kernel_functions(kernel: Any, target: Any) -> tuple[Callable, Callable]:
    """``(init(position, logdensity_fn), step(key, state, logdensity_fn, **params))``, built once per kernel."""
    if isinstance(kernel, Algorithm):
        if not isinstance(target, Target):
            raise TypeError(f"an srmc Algorithm ({kernel!r}) steps on a targets.Target, got {type(target).__name__}.")
        cache_key = (id(kernel), id(target))
        if cache_key not in _BUILT:
            def init(position, _logdensity_fn):
                return kernel.init(position, target)

            def step(rng_key, state, _logdensity_fn):
                return kernel.step(rng_key, state, target)

            _BUILT[cache_key] = ((kernel, target), init, step)
        return _BUILT[cache_key][1:]
    if id(kernel) not in _BUILT:
        _BUILT[id(kernel)] = (kernel, *resolve_kernel(kernel))
    return _BUILT[id(kernel)][1:]


def _init_kwargs(init: Callable, params: dict) -> dict:
    """The kernel parameters a kernel's ``init`` also takes (``num_categories`` for gwg and dmala)."""
    accepted = inspect.signature(init).parameters
    return {name: value for name, value in params.items() if name in accepted and name != "position"}


def _logdensity_of(target: Target | LogDensity) -> LogDensity:
    return target.logdensity if isinstance(target, Target) else target


def _as_partial(fn: Callable) -> Partial:
    """A pytree version of `fn`: the leaves of a `Partial` are traced, any other callable is static."""
    return fn if isinstance(fn, Partial) else Partial(fn)


def _split_params(params: dict) -> tuple[dict, tuple]:
    """Floats and arrays are traced; ints, strings, None and callables are static (part of the cache key)."""
    dynamic, static = {}, {}
    for name, value in params.items():
        if value is None or callable(value) or isinstance(value, (bool, int, str, np.integer)):
            static[name] = value
        else:
            dynamic[name] = value if isinstance(value, (float, np.floating, jax.Array)) else jnp.asarray(value)
    return dynamic, tuple(sorted(static.items(), key=lambda item: item[0]))


def stationary_momentum(state: Any, rng_key: Array, inverse_mass_matrix: Array | None = None) -> Any:
    """Draw a state's ``momentum`` field (or its SRMC ``inner`` state's) from N(0, M); other states pass through.

    Kernels that carry momentum between steps (kinetic Langevin) leave pi(x) N(p; 0, M) invariant, not pi(x)
    alone, so an invariance check must start them with stationary momentum.
    """
    inner = getattr(state, "inner", None)
    if inner is not None:
        return state._replace(inner=stationary_momentum(inner, rng_key, inverse_mass_matrix))
    if not hasattr(state, "momentum"):
        return state
    position = state.position
    inverse_mass = jnp.ones_like(position) if inverse_mass_matrix is None else inverse_mass_matrix
    noise = jax.random.normal(rng_key, position.shape, position.dtype)
    return state._replace(momentum=noise / jnp.sqrt(jnp.broadcast_to(inverse_mass, position.shape)))


@functools.partial(jax.jit, static_argnames=("init", "step", "init_state_fn", "static_params", "num_steps"))
def _run_states(keys, starts, logdensity_fn, dynamic_params, inverse_mass, *, init, step, init_state_fn,
                static_params, num_steps):
    params = {**dynamic_params, **dict(static_params)}
    init_kwargs = _init_kwargs(init, params)

    def one_chain(key: Array, start: Array) -> Any:
        init_key, run_key = jax.random.split(key)
        if init_state_fn is None:
            state = stationary_momentum(init(start, logdensity_fn, **init_kwargs), init_key, inverse_mass)
        else:
            state = init_state_fn(init_key, start, logdensity_fn)

        def one_step(state, step_key):
            return step(step_key, state, logdensity_fn, **params)[0], None

        return jax.lax.scan(one_step, state, jax.random.split(run_key, num_steps))[0]

    return jax.vmap(one_chain)(keys, starts)


def final_states(
    kernel: Any, params: dict, target: Target | LogDensity, positions: Array, num_steps: int, rng_key: Array,
    *, init_state_fn: Callable[[Array, Array, LogDensity], Any] | None = None,
) -> Any:
    """Kernel states after `num_steps` steps from each row of `positions` (chains vmapped, one jitted scan).

    Chain ``i`` uses ``jax.random.split(rng_key, n)[i]``. By default a chain starts at ``init(position)`` with
    any ``momentum`` field drawn from N(0, M) (see `stationary_momentum`); `init_state_fn(key, position,
    logdensity_fn) -> state` replaces that.
    """
    init, step = _kernel_functions(kernel, target)
    if isinstance(kernel, Algorithm):
        if params:
            raise ValueError(f"params must be {{}} for an srmc Algorithm (it binds its own), got {params!r}.")
        inverse_mass = kernel.params.get("inverse_mass_matrix")
    else:
        inverse_mass = params.get("inverse_mass_matrix")
    dynamic, static = _split_params(params)
    positions = jnp.asarray(positions)
    keys = jax.random.split(rng_key, positions.shape[0])
    return _run_states(
        keys, positions, _as_partial(_logdensity_of(target)), dynamic, inverse_mass, init=init, step=step,
        init_state_fn=init_state_fn, static_params=static, num_steps=int(num_steps),
    )


def run_kernel(kernel: Any, params: dict, target: Target | LogDensity, positions: Array, num_steps: int,
               rng_key: Array, *, init_state_fn: Callable | None = None) -> Array:
    """Final positions after `num_steps` steps from each row of `positions` (see `final_states`)."""
    states = final_states(kernel, params, target, positions, num_steps, rng_key, init_state_fn=init_state_fn)
    return srmc.state_position(states)


def _key(rng_key: Array | None) -> Array:
    return jax.random.key(0) if rng_key is None else rng_key


# --- continuous targets ------------------------------------------------------------------------------------------


def two_sample_test(samples: Array, reference: Array, false_alarm_rate: float = 1e-3) -> CheckResult:
    """Kolmogorov–Smirnov two-sample tests of every coordinate and of |x - m|^2 (m: pooled mean), Bonferroni.

    The squared distance catches a wrong spread that every marginal alone would resolve less well. The
    p-value is the smallest one times the number of statistics (capped at 1).
    """
    samples, reference = np.asarray(samples, np.float64), np.asarray(reference, np.float64)
    if not np.all(np.isfinite(samples)):
        return CheckResult(float("inf"), 0.0, false_alarm_rate, False, "non-finite end points")
    centre = np.concatenate([samples, reference]).mean(axis=0)
    columns = [(samples[:, i], reference[:, i], f"x[{i}]") for i in range(samples.shape[1])]
    columns.append((((samples - centre) ** 2).sum(1), ((reference - centre) ** 2).sum(1), "|x - m|^2"))
    tests = [(stats.ks_2samp(a, b), label) for a, b, label in columns]
    worst, label = min(tests, key=lambda item: item[0].pvalue)
    p_value = min(1.0, float(worst.pvalue) * len(columns))
    return CheckResult(float(worst.statistic), p_value, false_alarm_rate, p_value > false_alarm_rate,
                       f"KS, worst statistic {label}, {len(columns)} tests, {samples.shape[0]} vs {reference.shape[0]}")


def check_continuous_invariance(
    kernel: Any,
    params: dict,
    target: Target,
    *,
    num_chains: int = 4000,
    num_steps: int = 5,
    rng_key: Array | None = None,
    false_alarm_rate: float = 1e-3,
    init_state_fn: Callable | None = None,
    sample: Callable[[Array, int], Array] | None = None,
) -> CheckResult:
    """Start `num_chains` chains from exact draws, take `num_steps` steps, and compare with fresh exact draws.

    `sample(key, n)` (default ``target.sample``) draws exactly from the distribution the kernel should leave
    invariant. A correct kernel fails with probability at most `false_alarm_rate` (see `two_sample_test`).
    """
    sample = sample or target.sample
    if sample is None:
        raise ValueError(f"target {target.name!r} has no exact sampler; pass sample=... or use another target.")
    start_key, run_key, reference_key = jax.random.split(_key(rng_key), 3)
    starts = sample(start_key, num_chains)
    ends = run_kernel(kernel, params, target, starts, num_steps, run_key, init_state_fn=init_state_fn)
    return two_sample_test(ends, sample(reference_key, num_chains), false_alarm_rate)


def tilted_gaussian(target: Target, theta: Array, alpha: float, tilt: str = "score", gradient: str = "exact") -> Target:
    """SRMC's surrogate pi_theta of a Gaussian target for a frozen theta, with an exact sampler.

    For pi = N(mu, Sigma) the score tilt gives N(mu + alpha theta, Sigma), the linear tilt N(mu + alpha Sigma
    theta, Sigma). The log density is srmc's own `surrogate_logdensity` (with the chosen gradient mode), so a
    check on it checks the surrogate as well as the kernel. `target` must come from `targets.gaussian`.
    """
    cov = np.asarray(target.params.get("cov"))
    if cov.ndim != 2 or target.ground_truth is None:
        raise ValueError(f"target {target.name!r} is not a Gaussian from targets.gaussian (no 'cov' parameter).")
    theta = np.asarray(theta, np.float64)
    shift = alpha * theta if tilt == "score" else alpha * cov @ theta
    exact = gaussian(f"tilted[{target.name}]", np.asarray(target.ground_truth.mean) + shift, cov, {})
    dtype = jax.eval_shape(target.score, jnp.zeros(target.dim)).dtype
    surrogate = surrogate_logdensity(target, jnp.asarray(theta, dtype), alpha, tilt, gradient)
    return dataclasses.replace(exact, logdensity=surrogate, score=jax.grad(surrogate),
                               params=dict(exact.params, theta=theta, alpha=alpha, tilt=tilt, gradient=gradient))


def _no_history_step(count: Array) -> Array:
    return jnp.zeros((), jnp.result_type(float))


def check_srmc_frozen_theta(
    kernel: Any, params: dict, target: Target, theta: Array, alpha: float, *, tilt: str = "score",
    gradient: str = "exact", **check_kwargs: Any,
) -> CheckResult:
    """SRMC around `kernel` with theta frozen (gamma = 0) must leave the tilted Gaussian invariant.

    Runs ``srmc.wrap(kernel, alpha, tilt, gradient, gamma=0)`` on the Gaussian `target` from an SRMC state at
    `theta` and compares with exact draws of `tilted_gaussian`: this covers the wrapper's surrogate and its cache
    refresh between steps, not only the base kernel. Keyword arguments go to `check_continuous_invariance`.
    """
    exact = tilted_gaussian(target, theta, alpha, tilt, gradient)
    algorithm = srmc.wrap(kernel, alpha=alpha, tilt=tilt, gradient=gradient, gamma=_no_history_step, **params)
    base_init = resolve_kernel(kernel)[0]
    theta = jnp.asarray(theta, jnp.result_type(float))
    surrogate = surrogate_logdensity(target, theta, alpha, tilt, gradient)

    def init_state(rng_key: Array, position: Array, _logdensity_fn: LogDensity) -> SRMCState:
        inner = stationary_momentum(base_init(position, surrogate), rng_key, params.get("inverse_mass_matrix"))
        return SRMCState(inner, theta, jnp.zeros((), jnp.int32))

    return check_continuous_invariance(algorithm, {}, target, sample=exact.sample, init_state_fn=init_state,
                                       **check_kwargs)


# --- discrete targets --------------------------------------------------------------------------------------------

MAX_ENUMERATED_STATES = 2**16
MAX_EXACT_STATES = 4096


def enumerate_states(dim: int, num_categories: int = 2) -> np.ndarray:
    """All ``num_categories**dim`` configurations in lexicographic order, shape (num_states, dim), int32."""
    if num_categories**dim > MAX_ENUMERATED_STATES:
        raise ValueError(f"{num_categories}^{dim} states is too many to enumerate (limit {MAX_ENUMERATED_STATES}).")
    return enumerate_configurations(dim, num_categories)


def exact_probabilities(logdensity_fn: Target | LogDensity, states: np.ndarray) -> np.ndarray:
    """pi over the enumerated `states`, normalised in float64."""
    return enumerated_probabilities(_logdensity_of(logdensity_fn), np.asarray(states))


def state_index(states: np.ndarray, num_categories: int) -> np.ndarray:
    """Row index of each configuration in `enumerate_states` order."""
    dim = np.shape(states)[-1]
    return np.asarray(states, np.int64) @ (num_categories ** np.arange(dim - 1, -1, -1, dtype=np.int64))


def _rows_of(ends: np.ndarray, states: np.ndarray, num_categories: int) -> np.ndarray:
    """Row of `states` holding each end configuration; a ValueError if one is missing."""
    lookup = np.full(num_categories ** states.shape[1], -1, np.int64)
    lookup[state_index(states, num_categories)] = np.arange(len(states))
    ends = np.asarray(ends)
    inside = np.all((ends >= 0) & (ends < num_categories), axis=1)
    rows = np.where(inside, lookup[state_index(np.clip(ends, 0, num_categories - 1), num_categories)], -1)
    if np.any(rows < 0):
        raise ValueError(f"the kernel moved to {ends[np.argmin(rows)]}, which is not among the given states.")
    return rows


def transition_counts(
    kernel: Any, params: dict, logdensity_fn: Target | LogDensity, states: np.ndarray, *, num_samples: int = 1000,
    rng_key: Array | None = None, num_categories: int | None = None,
) -> np.ndarray:
    """``C[i, j]``: how many of `num_samples` one-step moves from ``states[i]`` landed on ``states[j]``."""
    states = np.asarray(states, np.int32)
    num_categories = int(states.max()) + 1 if num_categories is None else num_categories
    starts = np.repeat(states, num_samples, axis=0)
    ends = np.asarray(run_kernel(kernel, params, logdensity_fn, jnp.asarray(starts), 1, _key(rng_key)))
    counts = np.zeros((len(states), len(states)))
    np.add.at(counts, (np.repeat(np.arange(len(states)), num_samples), _rows_of(ends, states, num_categories)), 1.0)
    return counts


def transition_matrix(
    kernel: Any, params: dict, logdensity_fn: Target | LogDensity, states: np.ndarray, *, num_samples: int = 1000,
    rng_key: Array | None = None, num_categories: int | None = None,
) -> np.ndarray:
    """Monte Carlo one-step transition matrix over the enumerated `states` (rows: `num_samples` vmapped steps)."""
    counts = transition_counts(kernel, params, logdensity_fn, states, num_samples=num_samples, rng_key=rng_key,
                               num_categories=num_categories)
    return counts / num_samples


@functools.partial(jax.jit, static_argnames=("probabilities_fn", "static_params"))
def _exact_rows(states, logdensity_fn, dynamic_params, *, probabilities_fn, static_params):
    params = {**dynamic_params, **dict(static_params)}
    return jax.vmap(lambda x: probabilities_fn(x, states, logdensity_fn, **params))(states)


def exact_transition_matrix(kernel: Any, params: dict, logdensity_fn: Target | LogDensity,
                            states: np.ndarray) -> np.ndarray:
    """The kernel's own exact transition matrix, from its ``transition_probabilities`` function.

    A kernel module or object may expose ``transition_probabilities(position, states, logdensity_fn, **params)
    -> (num_states,)``: the probability of one step from `position` to each row of `states`.
    """
    probabilities_fn = getattr(kernel, "transition_probabilities", None)
    if probabilities_fn is None:
        raise TypeError(f"{kernel!r} has no transition_probabilities(position, states, logdensity_fn, **params).")
    if len(states) > MAX_EXACT_STATES:
        raise ValueError(f"{len(states)} states make a matrix too large to build (limit {MAX_EXACT_STATES}).")
    dynamic, static = _split_params(params)
    rows = _exact_rows(jnp.asarray(states), _as_partial(_logdensity_of(logdensity_fn)), dynamic,
                       probabilities_fn=probabilities_fn, static_params=static)
    return np.asarray(rows, np.float64)


def invariance_error(matrix: np.ndarray, probabilities: np.ndarray) -> float:
    """max_j |(pi P)_j - pi_j| for an exact or estimated transition matrix P."""
    return float(np.abs(probabilities @ matrix - probabilities).max())


def pearson_test(observed: np.ndarray, expected: np.ndarray, min_expected: float = 5.0) -> tuple[float, int]:
    """Pearson's chi-square statistic and degrees of freedom, cells with expected count < `min_expected` pooled.

    Cells with zero expected count must be empty (else the statistic is inf); a pool still below
    `min_expected` joins the largest cell.
    """
    observed, expected = np.asarray(observed, np.float64), np.asarray(expected, np.float64)
    if np.any((expected <= 0) & (observed > 0)):
        return float("inf"), max(int(np.sum(expected > 0)) - 1, 1)
    small = expected < min_expected
    pooled_observed, pooled_expected = observed[~small], expected[~small]
    if small.any() and expected[small].sum() > 0:
        extra_observed, extra_expected = observed[small].sum(), expected[small].sum()
        if extra_expected >= min_expected or len(pooled_expected) == 0:
            pooled_observed = np.append(pooled_observed, extra_observed)
            pooled_expected = np.append(pooled_expected, extra_expected)
        else:
            largest = np.argmax(pooled_expected)
            pooled_observed[largest] += extra_observed
            pooled_expected[largest] += extra_expected
    statistic = float(np.sum((pooled_observed - pooled_expected) ** 2 / pooled_expected))
    return statistic, len(pooled_expected) - 1


def check_discrete_invariance(
    kernel: Any,
    params: dict,
    logdensity_fn: Target | LogDensity,
    dim: int,
    *,
    num_categories: int = 2,
    num_chains: int = 100_000,
    num_steps: int = 1,
    rng_key: Array | None = None,
    false_alarm_rate: float = 1e-3,
    exact: bool | None = None,
    tolerance: float = 1e-5,
) -> CheckResult:
    """Whether the kernel leaves pi on {0..num_categories-1}^dim invariant, by enumerating every state.

    Exact (default when the kernel has ``transition_probabilities``, see `exact_transition_matrix`): passes when
    rows are probability vectors and max |pi P - pi| <= `tolerance`. Monte Carlo otherwise: `num_chains` starts
    drawn exactly from pi take `num_steps` steps, so the end-state counts are exactly Multinomial(N, pi P^k), and
    Pearson's chi-square against N pi (small cells pooled) has its textbook null distribution with every bit of
    Monte Carlo noise included. A correct kernel fails with probability about `false_alarm_rate`.

    (Estimating each row of P and plugging it into a Wald test of pi P = pi is not calibrated: rare transitions
    make the estimated covariance singular; on a 5-site Ising model we measured 30-95% false alarms at 5%.)
    """
    states = enumerate_states(dim, num_categories)
    probabilities = exact_probabilities(logdensity_fn, states)
    if exact is None:
        exact = hasattr(kernel, "transition_probabilities")
    if exact:
        matrix = exact_transition_matrix(kernel, params, logdensity_fn, states)
        row_error = max(float(np.abs(matrix.sum(axis=1) - 1.0).max()), float(-matrix.min()))
        error = invariance_error(matrix, probabilities)
        return _exact_result(error, error <= tolerance and row_error <= tolerance,
                             f"exact over {len(states)} states: max |pi P - pi| = {error:.3g}, "
                             f"row error {row_error:.3g}, tolerance {tolerance:g}")
    return _chi_square_invariance(kernel, params, logdensity_fn, states, probabilities, num_categories, num_chains,
                                  num_steps, _key(rng_key), false_alarm_rate)


def _chi_square_invariance(kernel: Any, params: dict, target: Target | LogDensity, states: np.ndarray,
                           probabilities: np.ndarray, num_categories: int, num_chains: int, num_steps: int,
                           rng_key: Array, false_alarm_rate: float, init_state_fn: Callable | None = None
                           ) -> CheckResult:
    """Start chains from exact draws of `probabilities`, step, and test the end-state counts (Pearson)."""
    start_key, run_key = jax.random.split(rng_key)
    start_rows = jax.random.choice(start_key, len(states), (num_chains,), p=jnp.asarray(probabilities))
    starts = jnp.asarray(states)[start_rows]
    ends = np.asarray(run_kernel(kernel, params, target, starts, num_steps, run_key, init_state_fn=init_state_fn))
    observed = np.bincount(_rows_of(ends, states, num_categories), minlength=len(states))
    statistic, df = pearson_test(observed, num_chains * probabilities)
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else 1.0
    return CheckResult(statistic, p_value, false_alarm_rate, p_value > false_alarm_rate,
                       f"chi-square, {df + 1} cells, {num_chains} chains x {num_steps} steps")


def check_srmc_frozen_theta_discrete(
    kernel: Any, params: dict, target: Target, theta: Array, alpha: float, *, tilt: str = "score",
    num_chains: int = 100_000, num_steps: int = 2, rng_key: Array | None = None, false_alarm_rate: float = 1e-3,
) -> CheckResult:
    """SRMC around a discrete `kernel` with theta frozen (gamma = 0) must leave pi_theta invariant.

    Runs the real wrapper, ``srmc.wrap(kernel, alpha, tilt, gamma=0)``, from SRMC states at `theta` whose
    positions are exact draws of pi_theta (enumerated), and tests the end states against pi_theta with Pearson's
    chi-square: this covers the surrogate, the kernel on it and the wrapper's cache refresh between steps.
    (For the kernel on the surrogate alone, exactly: ``check_discrete_invariance(kernel, params,
    srmc.surrogate_logdensity(target, theta, alpha, tilt), dim)``.)
    """
    states = enumerate_states(target.dim, target.num_categories)
    theta = jnp.asarray(theta, jnp.result_type(float))
    surrogate = surrogate_logdensity(target, theta, alpha, tilt)
    algorithm = srmc.wrap(kernel, alpha=alpha, tilt=tilt, gamma=_no_history_step, **params)
    base_init = resolve_kernel(kernel)[0]

    def init_state(rng_key: Array, position: Array, _logdensity_fn: LogDensity) -> SRMCState:
        inner = base_init(position, surrogate, **init_params(base_init, target))
        return SRMCState(inner, theta, jnp.zeros((), jnp.int32))

    return _chi_square_invariance(algorithm, {}, target, states, exact_probabilities(surrogate, states),
                                  target.num_categories, num_chains, num_steps, _key(rng_key), false_alarm_rate,
                                  init_state)


def check_transition_probabilities(
    kernel: Any, params: dict, logdensity_fn: Target | LogDensity, dim: int, *, num_categories: int = 2,
    num_samples: int = 2000, rng_key: Array | None = None, false_alarm_rate: float = 1e-3,
) -> CheckResult:
    """Whether the kernel's sampled moves follow its own ``transition_probabilities`` (so exact checks apply).

    Every row is an independent Multinomial(num_samples, P_i) under the claim; Pearson statistics summed over
    rows are chi-square with the summed degrees of freedom. A move the claim gives probability 0 fails outright.
    """
    states = enumerate_states(dim, num_categories)
    claimed = exact_transition_matrix(kernel, params, logdensity_fn, states)
    counts = transition_counts(kernel, params, logdensity_fn, states, num_samples=num_samples, rng_key=rng_key,
                               num_categories=num_categories)
    rows = [pearson_test(observed, num_samples * np.clip(p, 0.0, None)) for observed, p in zip(counts, claimed)]
    statistic, df = float(sum(s for s, _ in rows)), int(sum(d for _, d in rows))
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else float(statistic == 0.0)
    return CheckResult(statistic, p_value, false_alarm_rate, p_value > false_alarm_rate,
                       f"chi-square over {len(states)} rows x {num_samples} moves, {df} degrees of freedom")


# --- identities ----------------------------------------------------------------------------------------------------


def _max_difference(first: Any, second: Any) -> float:
    """Largest absolute difference between matching leaves (inf where shapes, dtypes or non-floats differ)."""
    leaves_a, leaves_b = jax.tree.leaves(first), jax.tree.leaves(second)
    if len(leaves_a) != len(leaves_b):
        return float("inf")
    worst = 0.0
    for a, b in zip(leaves_a, leaves_b):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return float("inf")
        if not np.issubdtype(a.dtype, np.inexact):
            worst = max(worst, 0.0 if np.array_equal(a, b) else float("inf"))
        elif not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return float("inf")
        elif a.size:
            finite = np.isfinite(a)
            worst = max(worst, float(np.abs(a[finite] - b[finite]).max(initial=0.0)))
            if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
                return float("inf")
    return worst


def _allclose(first: Any, second: Any, rtol: float, atol: float) -> bool:
    leaves_a, leaves_b = jax.tree.leaves(first), jax.tree.leaves(second)
    return len(leaves_a) == len(leaves_b) and all(
        np.asarray(a).shape == np.asarray(b).shape
        and (np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True) if np.issubdtype(np.asarray(a).dtype, np.inexact)
             else np.array_equal(a, b))
        for a, b in zip(leaves_a, leaves_b)
    )


def check_alpha_zero_identity(kernel: Any, params: dict, target: Target, *, num_steps: int = 20,
                              num_chains: int = 2, rng_key: Array | None = None) -> CheckResult:
    """`srmc.sample` of ``srmc.wrap(kernel, alpha=0)`` reproduces ``srmc.base(kernel)`` bit for bit (both tilts)."""
    key = _key(rng_key)

    def draws(algorithm: Algorithm) -> np.ndarray:
        return srmc.sample(key, algorithm, target, num_steps, num_chains, thin=1, chunk_size=num_steps).draws

    plain = draws(srmc.base(kernel, **params))
    differences = {tilt: _max_difference(plain, draws(srmc.wrap(kernel, alpha=0.0, tilt=tilt, **params)))
                   for tilt in ("score", "linear")}
    worst = max(differences.values())
    return _exact_result(worst, worst == 0.0, f"max |base - srmc(alpha=0)| per tilt: {differences}")


def check_vmap_and_jit(kernel: Any, params: dict, target: Target | LogDensity, positions: Array, *,
                       rng_key: Array | None = None, rtol: float = 1e-5, atol: float = 1e-6) -> CheckResult:
    """One step vmapped over chains equals per-chain calls, and jitted equals eager, within (rtol, atol).

    Eager means ``jax.disable_jit()``. vmap: eager vmapped step vs eager per-chain steps; jit: the jitted vmapped
    step vs the eager one. Every leaf of the new states and infos is compared; the statistic is the largest
    absolute difference.
    """
    init, step = _kernel_functions(kernel, target)
    logdensity = _logdensity_of(target)
    bound = {} if isinstance(kernel, Algorithm) else params
    mass = kernel.params.get("inverse_mass_matrix") if isinstance(kernel, Algorithm) else params.get(
        "inverse_mass_matrix")
    positions = jnp.asarray(positions)
    keys = jax.random.split(_key(rng_key), positions.shape[0])
    init_keys = jax.random.split(jax.random.fold_in(_key(rng_key), 1), positions.shape[0])
    states = [stationary_momentum(init(x, logdensity), k, mass) for x, k in zip(positions, init_keys)]
    batch = jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)

    def one_step(rng_key: Array, state: Any) -> Any:
        return step(rng_key, state, logdensity, **bound)

    jitted = jax.jit(jax.vmap(one_step))(keys, batch)
    with jax.disable_jit():
        eager = jax.vmap(one_step)(keys, batch)
        per_chain = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[one_step(k, s) for k, s in zip(keys, states)])
    vmap_ok, jit_ok = _allclose(eager, per_chain, rtol, atol), _allclose(jitted, eager, rtol, atol)
    worst = max(_max_difference(eager, per_chain), _max_difference(jitted, eager))
    return _exact_result(worst, vmap_ok and jit_ok,
                         f"vmap == per-chain: {vmap_ok}, jit == eager: {jit_ok} (rtol {rtol:g}, atol {atol:g})")


def check_determinism(kernel: Any, params: dict, target: Target | LogDensity, position: Array, *,
                      num_steps: int = 10, rng_key: Array | None = None) -> CheckResult:
    """Two runs with the same key give bit-identical states; a different key gives a different chain."""
    key = _key(rng_key)
    starts = jnp.asarray(position)[None]
    first, again = (final_states(kernel, params, target, starts, num_steps, key) for _ in range(2))
    other = final_states(kernel, params, target, starts, num_steps, jax.random.fold_in(key, 1))
    repeat_difference = _max_difference(first, again)
    moves = not np.array_equal(srmc.state_position(first), srmc.state_position(other))
    return _exact_result(repeat_difference, repeat_difference == 0.0 and moves,
                         f"same key max difference {repeat_difference:g}; another key changes the chain: {moves}")


# --- targets for property tests, and hypothesis strategies ---------------------------------------------------------


def gaussian_target(name: str, mean: np.ndarray, cov: np.ndarray, params: dict | None = None) -> Target:
    """`targets.gaussian.gaussian`: its functions are `Partial`s, so checks on many of them share compilations."""
    return gaussian(name, mean, cov, params or {})


def mixture_target(name: str, means: np.ndarray, variance: float, weights: np.ndarray | None = None) -> Target:
    """`targets.mixture.gaussian_mixture`, whose log density and sampler are `Partial`s too."""
    return gaussian_mixture(name, means, variance, weights)


def lattice_model(couplings: np.ndarray, field: np.ndarray, score: str = "barker") -> Target:
    """A pairwise (Ising when q = 2, Potts) `Target` over {0..q-1}^dim from couplings (dim, dim) and a field (dim, q).

    log p(x) = 1/2 sum_ij J_ij [x_i == x_j] + sum_i h_i[x_i] (`targets.lattice.pairwise_target`): exact moments by
    enumeration, a mean-zero score, fast conditional logits; its functions are `Partial`s of (J, h), so checks
    on many models of one shape share compilations.
    """
    return pairwise_target(f"lattice(dim={np.shape(field)[0]},q={np.shape(field)[1]})", couplings, field, {}, score)


def gaussian_targets(dim: int | None = None, max_dim: int = 4, max_condition: float = 20.0):
    """Hypothesis strategy: Gaussian `Target`s, random mean in [-3, 3]^d and SPD covariance Q diag(v) Q^T.

    Q is a random rotation and max(v) / min(v) <= `max_condition`; exact moments and sampler. A fixed `dim`
    makes all examples share one compilation.
    """
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        d = dim if dim is not None else draw(st.integers(1, max_dim))
        mean = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=d, max_size=d)))
        log_variances = np.array(draw(st.lists(st.floats(0.0, float(np.log(max_condition))), min_size=d, max_size=d)))
        entries = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d * d, max_size=d * d))).reshape(d, d)
        rotation, _ = np.linalg.qr(entries + 1e-3 * np.eye(d))
        cov = rotation @ np.diag(np.exp(log_variances)) @ rotation.T
        cov = 0.5 * (cov + cov.T)
        return gaussian_target(f"random_gaussian(dim={d})", mean, cov, {"log_variances": log_variances})

    return build()


def mixture_targets(num_components: int | None = None, max_components: int = 4):
    """Hypothesis strategy: 2-D Gaussian mixtures, means in [-3, 3]^2, variance in [0.3, 1], random weights."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        k = num_components if num_components is not None else draw(st.integers(1, max_components))
        means = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=2 * k, max_size=2 * k))).reshape(k, 2)
        weights = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=k, max_size=k)))
        return mixture_target(f"random_mixture(components={k})", means, draw(st.floats(0.3, 1.0)),
                              weights / weights.sum())

    return build()


def lattice_models(min_sites: int = 4, max_sites: int = 10, num_categories: tuple[int, int] = (2, 2),
                   max_coupling: float = 1.0, max_field: float = 1.0):
    """Hypothesis strategy: Ising/Potts `Target`s (`lattice_model`), all-pairs couplings in [-max_coupling, max_coupling].

    The number of states q^dim is kept <= 4096 (exact checks) by capping dim for q > 2.
    """
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        q = draw(st.integers(*num_categories))
        cap = int(np.floor(np.log(MAX_EXACT_STATES) / np.log(q) + 1e-9))
        d = draw(st.integers(min_sites, max(min_sites, min(max_sites, cap))))
        upper = draw(st.lists(st.floats(-max_coupling, max_coupling), min_size=d * d, max_size=d * d))
        couplings = np.triu(np.array(upper).reshape(d, d), 1)
        field = np.array(draw(st.lists(st.floats(-max_field, max_field), min_size=d * q, max_size=d * q)))
        return lattice_model(couplings + couplings.T, field.reshape(d, q))

    return build()
