"""Property checks for graph kernels (`srmc.samplers.graph_spec`): point them at your own kernel or at ours.

    from srmc import samplers, targets, testing
    target = targets.get("karate_club", mu="degree")
    assert testing.check_graph_invariance(samplers.nbrw, target)
    assert testing.check_graph_transitions(samplers.nbrw, target)

`check_graph_invariance` is exact: it enumerates the kernel's transition matrix on its own states (its record's
``exact_chain``: the nodes, or lifted states such as (previous node, node)) and checks that the rows are
probability vectors, that the stationary law's node marginal is mu, and, for a kernel that declares itself
reversible, detailed balance. `check_graph_transitions` ties the JAX kernel to that matrix: from every state it
takes many single steps and tests the landing frequencies against the matrix's rows (Pearson chi-square at a
stated false-alarm rate). A kernel passes both only if the code that runs is the chain that was enumerated.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from srmc.samplers.graph_spec import ExactChain, as_graph_spec, check_params
from srmc.testing.running import CheckResult, exact_result

Array = jax.Array

MAX_EXACT_GRAPH_STATES = 4096  # the most kernel states an exact graph chain is built over
MIN_EXPECTED = 5.0  # cells with fewer expected counts are pooled in the chi-square test


def graph_log_weights(target: Any) -> np.ndarray:
    """log mu at every node of a graph target (`srmc.targets.graph`), float64 (unnormalised, as its log density)."""
    nodes = jnp.arange(target.graph.num_nodes, dtype=jnp.int32)[:, None]
    return np.asarray(jax.vmap(target.logdensity)(nodes), np.float64)


def exact_graph_chain(kernel: Any, target: Any, params: dict | None = None) -> ExactChain:
    """The exact chain of `kernel` (module or record) on `target` with `params` (the graph comes from the
    target); a ValueError for a graph too large to enumerate."""
    spec = as_graph_spec(kernel)
    params = dict(params or {})
    check_params(spec, params, "params")
    if 2 * int(target.graph.structure.neighbours.shape[0]) > MAX_EXACT_GRAPH_STATES:
        raise ValueError(f"{target.name} has too many edges to enumerate a kernel's chain (limit "
                         f"{MAX_EXACT_GRAPH_STATES // 2} directed edges); check on a smaller graph.")
    return spec.exact_chain(target.graph.structure, graph_log_weights(target), **params)


def stationary_law(matrix: np.ndarray) -> np.ndarray:
    """The stationary law of an irreducible transition matrix (float64 least squares)."""
    size = matrix.shape[0]
    system = np.vstack([matrix.T - np.eye(size), np.ones((1, size))])
    return np.linalg.lstsq(system, np.concatenate([np.zeros(size), [1.0]]), rcond=None)[0]


def check_graph_invariance(kernel: Any, target: Any, params: dict | None = None, *,
                           tolerance: float = 1e-9) -> CheckResult:
    """Exact: rows of the kernel's enumerated chain are probability vectors, the stationary law's node marginal
    is mu (max abs error <= `tolerance`), and a kernel declared reversible satisfies detailed balance; mu is the
    normalised exp of the target's log density at every node (what the kernel is given)."""
    spec = as_graph_spec(kernel)
    chain = exact_graph_chain(spec, target, params)
    log_weights = graph_log_weights(target)  # mu as the kernel sees it (the target's float32 log density)
    mu = np.exp(log_weights - log_weights.max())
    matrix, mu = chain.matrix, mu / mu.sum()
    row_error = float(np.max(np.abs(matrix.sum(axis=1) - 1.0)))
    negative = float(max(0.0, -matrix.min()))
    marginal = np.bincount(chain.node, weights=stationary_law(matrix), minlength=len(mu))
    invariance_error = float(np.max(np.abs(marginal - mu)))
    balance_error = 0.0
    if spec.reversible:
        flows = mu[chain.node][:, None] * matrix
        balance_error = float(np.max(np.abs(flows - flows.T)))
    worst = max(row_error, negative, invariance_error, balance_error)
    detail = (f"{spec.name} on {target.name}: row sums off by {row_error:.1e}, most negative entry {-negative:.1e}, "
              f"node marginal off mu by {invariance_error:.1e}"
              + (f", detailed balance off by {balance_error:.1e}" if spec.reversible else " (declared non-reversible)"))
    return exact_result(worst, worst <= tolerance, detail)


def _one_step_ends(spec: Any, chain: ExactChain, target: Any, params: dict, num_samples: int,
                   rng_key: Array) -> np.ndarray:
    """The row reached by `num_samples` single steps from every state, shape (states, num_samples)."""
    kernel = spec.build_kernel()
    graph = target.graph.structure
    num_states = chain.matrix.shape[0]
    starts = jax.tree.map(lambda leaf: jnp.repeat(leaf, num_samples, axis=0), chain.states)
    keys = jax.random.split(rng_key, num_states * num_samples)
    ends = jax.jit(jax.vmap(lambda key, state: kernel(key, state, target.logdensity, graph, **params)[0]))(keys,
                                                                                                          starts)
    return chain.rows_of(jax.device_get(ends)).reshape(num_states, num_samples)


def pearson_row(counts: np.ndarray, probabilities: np.ndarray, num_samples: int) -> tuple[float, int, bool]:
    """Pearson's statistic and degrees of freedom over one row (cells with few expected counts pooled), and
    whether the row landed anywhere the matrix forbids."""
    expected = probabilities * num_samples
    forbidden = bool(np.any((probabilities <= 0) & (counts > 0)))
    large = expected >= MIN_EXPECTED
    observed = np.concatenate([counts[large], [counts[~large].sum()]])
    expected = np.concatenate([expected[large], [expected[~large].sum()]])
    keep = expected > 0
    statistic = float(np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]))
    return statistic, max(int(keep.sum()) - 1, 0), forbidden


def check_graph_transitions(kernel: Any, target: Any, params: dict | None = None, *, num_samples: int = 2000,
                            rng_key: Array | None = None, false_alarm_rate: float = 1e-3) -> CheckResult:
    """Statistical: from every state of the kernel's enumerated chain, `num_samples` single steps of the JAX kernel
    land with the frequencies of the matrix's row (Pearson chi-square summed over rows; fails at once if a step
    lands where the matrix has probability 0). A correct kernel fails with probability `false_alarm_rate`."""
    spec = as_graph_spec(kernel)
    params = dict(params or {})
    chain = exact_graph_chain(spec, target, params)
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    ends = _one_step_ends(spec, chain, target, params, num_samples, rng_key)
    num_states = chain.matrix.shape[0]
    if np.any(ends < 0):
        return exact_result(np.inf, False, f"{spec.name} stepped to a state outside its enumerated chain.")
    total, dof, forbidden = 0.0, 0, False
    for state in range(num_states):
        counts = np.bincount(ends[state], minlength=num_states).astype(np.float64)
        statistic, degrees, bad = pearson_row(counts, chain.matrix[state], num_samples)
        total, dof, forbidden = total + statistic, dof + degrees, forbidden or bad
    p_value = float(stats.chi2.sf(total, dof)) if dof > 0 else 1.0
    passed = (p_value >= false_alarm_rate) and not forbidden
    detail = (f"{spec.name} on {target.name}: chi-square {total:.1f} on {dof} degrees of freedom over {num_states} "
              f"states x {num_samples} steps" + ("; a step landed where the matrix forbids" if forbidden else ""))
    return CheckResult(total, p_value, false_alarm_rate, passed, detail)
