"""Multiple-try Metropolis (MTM) on a graph with locally balanced weights (Liu, Liang and Wong 2000; Gagnon,
Maire and Zanella 2022): reversible w.r.t. mu, and it cannot hand over its transition row.

From node x, with q(y | x) = 1 / d_x the uniform-neighbour proposal and t(y, x) = w_y d_x / (w_x d_y) the MH ratio:

1. draw k candidates y_1..y_k from q(. | x) (independently, with replacement) and weigh each by
   omega(y | x) = h(t(y, x)), h the balancing function (``"sqrt"``: h(t) = sqrt(t); ``"barker"``: t / (1 + t));
2. select y = y_J with probability omega(y_J | x) / sum_j omega(y_j | x);
3. draw k - 1 reference points x*_1..x*_{k-1} from q(. | y) and set x*_k = x;
4. move to y with probability min(1, sum_j omega(y_j | x) / sum_j omega(x*_j | y)).

Both h satisfy h(t) = t h(1/t), so omega(y | x) = w_y q(x | y) lambda(x, y) with lambda symmetric: this is MTM in
the form of Liu, Liang and Wong, reversible w.r.t. mu (`exact_chain` checks it by enumeration). A step evaluates
the log density at 2k nodes; its cost does not depend on the degree. ``num_tries`` (k) and ``balancing`` are
static (they fix shapes and functions).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._graph import as_position, degree, init_position, log_weight, log_weights, mh_log_ratio, numpy_graph
from ._metropolis import MetropolisInfo, metropolis_decision
from .graph_spec import GRAPH_STRUCTURE, ExactChain, GraphKernelSpec
from .spec import Parameter, one_of, positive_int

Array = jax.Array

BALANCING = ("sqrt", "barker")


class MTMState(NamedTuple):
    """The current node, an int32 array of shape (1,)."""

    position: Array


MTMInfo = MetropolisInfo  # acceptance_rate, is_accepted, is_nonfinite


def init(position: Array, logdensity_fn: Callable | None = None) -> MTMState:
    """The state at `position` (a node, or a (1,) array holding one)."""
    return MTMState(init_position(position))


def log_balancing(log_t: Array, balancing: str) -> Array:
    """log h(t) from log t: ``"sqrt"``: log t / 2; ``"barker"``: log t - log(1 + t)."""
    if balancing == "sqrt":
        return 0.5 * log_t
    if balancing == "barker":
        return jax.nn.log_sigmoid(log_t)
    raise ValueError(f"balancing must be one of {BALANCING}, got {balancing!r}.")


def _uniform_neighbours(rng_key: Array, graph: Any, node: Array, num: int) -> Array:
    """`num` neighbours of `node` drawn uniformly with replacement."""
    slots = jax.random.randint(rng_key, (num,), 0, degree(graph, node), jnp.int32)
    return graph.neighbours[graph.offsets[node] + slots]


def _log_omega(log_w_to: Array, log_w_from: Array, to: Array, start: Array, graph: Any, balancing: str) -> Array:
    """log omega(to | start) = log h(w_to d_start / (w_start d_to))."""
    return log_balancing(mh_log_ratio(log_w_from, log_w_to, degree(graph, start), degree(graph, to)), balancing)


def build_kernel() -> Callable:
    """Return ``kernel(rng_key, state, logdensity_fn, graph, num_tries=3, balancing="sqrt") -> (state, info)``."""

    def kernel(rng_key: Array, state: MTMState, logdensity_fn: Callable, graph: Any, num_tries: int = 3,
               balancing: str = "sqrt") -> tuple[MTMState, MTMInfo]:
        """One MTM transition targeting mu ∝ exp(logdensity_fn) on `graph`."""
        key_tries, key_select, key_reference, key_accept = jax.random.split(rng_key, 4)
        x = state.position[0]
        log_w_x = log_weight(logdensity_fn, x)
        tries = _uniform_neighbours(key_tries, graph, x, num_tries)
        log_w_tries = log_weights(logdensity_fn, tries)
        log_omega_tries = _log_omega(log_w_tries, log_w_x, tries, x, graph, balancing)
        safe = jnp.where(jnp.isfinite(log_omega_tries), log_omega_tries, -jnp.inf)
        chosen = jax.random.categorical(key_select, safe)
        y, log_w_y = tries[chosen], log_w_tries[chosen]
        references = jnp.concatenate([_uniform_neighbours(key_reference, graph, y, num_tries - 1), x[None]])
        log_w_references = jnp.concatenate([log_weights(logdensity_fn, references[:-1]), log_w_x[None]])
        log_omega_references = _log_omega(log_w_references, log_w_y, references, y, graph, balancing)
        log_ratio = jax.nn.logsumexp(log_omega_tries) - jax.nn.logsumexp(log_omega_references)
        decision = metropolis_decision(key_accept, log_ratio)
        position = jnp.where(decision.is_accepted, as_position(y), state.position)
        return MTMState(position), decision

    return kernel


def _omega(graph: Any, log_w: np.ndarray, to: np.ndarray, start: int, balancing: str) -> np.ndarray:
    """omega(to | start) in float64."""
    log_t = log_w[to] - log_w[start] + np.log(graph.degrees[start]) - np.log(graph.degrees[to])
    t = np.exp(log_t)
    return np.sqrt(t) if balancing == "sqrt" else t / (1.0 + t)


def _try_sums(weights: np.ndarray, count: int) -> np.ndarray:
    """Sums of `count` weights drawn with replacement from `weights`, one per ordered draw (len(weights)^count)."""
    if count == 0:
        return np.zeros(1)
    return np.array([sum(combo) for combo in itertools.product(weights, repeat=count)])


def _move_probability(graph: Any, log_w: np.ndarray, x: int, y: int, num_tries: int, balancing: str) -> float:
    """P(x -> y), y a neighbour of x, by enumerating the other tries and the reference points."""
    omega_y = _omega(graph, log_w, np.array([y]), x, balancing)[0]
    others = _try_sums(_omega(graph, log_w, graph.neighbours_of(x), x, balancing), num_tries - 1)
    references = _try_sums(_omega(graph, log_w, graph.neighbours_of(y), y, balancing), num_tries - 1)
    references = references + _omega(graph, log_w, np.array([x]), y, balancing)[0]
    forward = omega_y + others  # (tries,)
    accept = np.minimum(1.0, forward[:, None] / references[None, :]).mean(axis=1)
    return float(num_tries / graph.degrees[x] * np.mean(omega_y / forward * accept))


def exact_chain(graph: Any, log_weights_: np.ndarray, num_tries: int = 3, balancing: str = "sqrt") -> ExactChain:
    """The exact transition matrix on the nodes (float64), enumerating tries and reference points: cost
    sum over edges of d_x^(k-1) d_y^(k-1), small graphs only."""
    graph = numpy_graph(graph)
    log_w = np.asarray(log_weights_, np.float64)
    matrix = np.zeros((graph.num_nodes, graph.num_nodes))
    for x in range(graph.num_nodes):
        for y in graph.neighbours_of(x):
            matrix[x, y] = _move_probability(graph, log_w, x, int(y), num_tries, balancing)
        matrix[x, x] = max(0.0, 1.0 - matrix[x].sum())
    nodes = np.arange(graph.num_nodes)
    return ExactChain(matrix, nodes, MTMState(jnp.asarray(nodes[:, None], jnp.int32)))


NUM_TRIES = Parameter("num_tries", positive_int, required=False, suggested=3,
                      description="candidates per step (static: it fixes shapes)")
BALANCING_PARAMETER = Parameter("balancing", one_of(*BALANCING), required=False, suggested="sqrt",
                                description="locally balanced weight h: 'sqrt' or 'barker' (static)")

spec = GraphKernelSpec("mtm", init, build_kernel, exact_chain, reversible=True,
                       parameters=(GRAPH_STRUCTURE, NUM_TRIES, BALANCING_PARAMETER))
