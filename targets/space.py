"""Typed state spaces: `Continuous(dim)` (R^d), `Categorical(dim, num_categories)` ({0..K-1}^d, binary: K = 2) and
`Graph(num_nodes)` (the nodes of a finite connected graph).

A target carries one (``target.space``), and everything that depends on which kind of space it is lives here:
the position dtype and its validation, the shape of the score, the linear tilt's features, the relaxation that
gradient-based discrete kernels differentiate through, and enumeration (with the one limit on its size).

``kind`` equals the state-space constant a kernel declares in its record (`srmc.samplers.spec.CONTINUOUS`,
`srmc.samplers.spec.CATEGORICAL`, `srmc.samplers.graph_spec.GRAPH`), so ``kernel.state_space == target.space.kind``
says whether they fit. ``score_rule`` declares what a target on the space does about a score (see `Target`):
`AUTODIFF_SCORE` (none given: ``jax.grad`` of the log density), `REQUIRED_SCORE` (a mean-zero score must be given)
or `NO_SCORE` (the space has no score: graph targets, sampled by SRRW/HDT, which need none).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

MAX_ENUMERATED_STATES = 2**20  # the most configurations anything in srmc enumerates

AUTODIFF_SCORE = "autodiff"  # no score given: jax.grad(logdensity)
REQUIRED_SCORE = "required"  # a mean-zero score must be given
NO_SCORE = "none"  # the space has no score


def check_int(value: Any, name: str, *, minimum: int = 1, non_integer: type[Exception] = ValueError) -> int:
    """`value` as an int >= minimum, else an error naming `name`: `non_integer` (ValueError for a target's
    parameters, TypeError for srmc's own arguments) for a non-integer (bools are not integers here), a ValueError
    for one below `minimum`. The one integer check of srmc's targets and argument validation."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise non_integer(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def relaxed_one_hot(x: Array, num_categories: int) -> Array:
    """The ``(d, K)`` one-hot matrix of a position: integer ``(d,)``, real binary relaxation ``(d,)``, or ``(d, K)``."""
    x = jnp.asarray(x)
    if x.ndim == 2:
        return x
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return jax.nn.one_hot(x, num_categories, dtype=jnp.result_type(float))
    if num_categories != 2:
        raise ValueError("a real-valued (d,) position relaxes binary sites only; pass a (d, K) one-hot matrix.")
    return jnp.stack([1.0 - x, x], axis=-1)


def one_hot_features(x: Array, num_categories: int) -> Array:
    """``one_hot(x)[:, 1:]`` flattened, shape ``(d (K - 1),)``: x itself (as reals) for binary sites."""
    return relaxed_one_hot(x, num_categories)[:, 1:].reshape(-1)


class Continuous(NamedTuple):
    """R^d: float positions of shape ``(dim,)``; the score has shape ``(dim,)``."""

    dim: int
    kind = "continuous"
    score_rule = AUTODIFF_SCORE

    @property
    def label(self) -> str:
        """A word for tables: ``"continuous"``."""
        return "continuous"

    @property
    def score_size(self) -> int:
        """Length of the score vector s(x)."""
        return self.dim

    def features(self, x: Array) -> Array:
        """phi(x) of the linear tilt: x."""
        return x

    def check_positions(self, positions: Array, name: str = "initial_position") -> Array:
        """Positions as floats (integers are promoted), or a ValueError naming `name` if any is not finite."""
        if not jnp.issubdtype(positions.dtype, jnp.floating):
            positions = positions.astype(jnp.result_type(float))
        if not bool(jnp.all(jnp.isfinite(positions))):
            raise ValueError(f"{name} contains non-finite values.")
        return positions


class Categorical(NamedTuple):
    """{0..K-1}^d: int32 positions of shape ``(dim,)``; the mean-zero score has shape ``(dim (K - 1),)``.

    Relaxation contract (what gradient-based discrete kernels and the SRMC surrogate rely on): a binary target's
    functions accept a real vector in R^d, a categorical one's the real ``(d, K)`` matrix equal to ``one_hot(x)`` at
    integer x (`relaxed_one_hot`).
    """

    dim: int
    num_categories: int = 2
    kind = "categorical"
    score_rule = REQUIRED_SCORE

    @property
    def label(self) -> str:
        """A word for tables: ``"binary"`` (K = 2) or ``"categorical"``."""
        return "binary" if self.num_categories == 2 else "categorical"

    @property
    def score_size(self) -> int:
        """Length of the mean-zero score: one entry per site and non-zero category."""
        return self.dim * (self.num_categories - 1)

    def features(self, x: Array) -> Array:
        """phi(x) of the linear tilt: ``one_hot(x)[:, 1:]`` flattened (x itself for binary sites)."""
        return one_hot_features(x, self.num_categories)

    def relax(self, x: Array) -> Array:
        """The ``(d, K)`` one-hot matrix of a position in any of its forms (see the class doc)."""
        return relaxed_one_hot(x, self.num_categories)

    def check_positions(self, positions: Array, name: str = "initial_position") -> Array:
        """Positions as int32, or a ValueError naming `name` unless they are integers in 0..K-1."""
        if not jnp.issubdtype(positions.dtype, jnp.integer):
            raise ValueError(f"{name} for a {self.label} target must hold integers in 0..{self.num_categories - 1}.")
        if bool(jnp.any((positions < 0) | (positions >= self.num_categories))):
            raise ValueError(f"{name} values must lie in 0..{self.num_categories - 1}.")
        return positions.astype(jnp.int32)

    @property
    def num_states(self) -> int:
        """K^d, the number of configurations."""
        return self.num_categories**self.dim

    @property
    def enumerable(self) -> bool:
        """Whether `enumerate` will list every configuration (K^d <= `MAX_ENUMERATED_STATES`)."""
        return self.num_states <= MAX_ENUMERATED_STATES

    def enumerate(self) -> np.ndarray:
        """Every configuration in lexicographic order, shape (K^d, d), int32."""
        if not self.enumerable:
            raise ValueError(f"{self.num_categories}^{self.dim} states is too many to enumerate "
                             f"(limit {MAX_ENUMERATED_STATES}).")
        powers = self.num_categories ** np.arange(self.dim - 1, -1, -1, dtype=np.int64)
        return ((np.arange(self.num_states, dtype=np.int64)[:, None] // powers) % self.num_categories).astype(np.int32)

    def uniform_positions(self, rng_key: Array, num: int) -> Array:
        """`num` configurations drawn uniformly, shape (num, dim)."""
        return jax.random.randint(rng_key, (num, self.dim), 0, self.num_categories, jnp.int32)


class Graph(NamedTuple):
    """The nodes 0..num_nodes-1 of a finite, connected, undirected graph (`srmc.targets.graph` builds targets on it).

    A position is an int32 array of shape ``(1,)`` holding the current node, so chains stack as ``(chains, 1)`` like
    every other target's positions; ``dim`` is 1. The space has no score (``score_rule = NO_SCORE``). The graph's
    structure is not part of the space (which stays small and hashable): a graph target carries it in
    ``target.graph`` (`srmc.targets.graphs.GraphData`).
    """

    num_nodes: int
    kind = "graph"
    score_rule = NO_SCORE

    @property
    def dim(self) -> int:
        """Length of a position vector: 1 (the node)."""
        return 1

    @property
    def label(self) -> str:
        """A word for tables: ``"graph"``."""
        return "graph"

    def check_positions(self, positions: Array, name: str = "initial_position") -> Array:
        """Positions as int32 of shape ``(..., 1)``, or a ValueError naming `name` unless they are nodes 0..n-1."""
        positions = jnp.asarray(positions)
        if not jnp.issubdtype(positions.dtype, jnp.integer):
            raise ValueError(f"{name} for a graph target must hold integer node indices in 0..{self.num_nodes - 1}.")
        if positions.ndim == 0 or positions.shape[-1] != 1:
            raise ValueError(f"{name} for a graph target must have shape (..., 1) (one node per chain), got "
                             f"{positions.shape}; pass nodes[:, None].")
        if bool(jnp.any((positions < 0) | (positions >= self.num_nodes))):
            raise ValueError(f"{name} values must be nodes in 0..{self.num_nodes - 1}.")
        return positions.astype(jnp.int32)

    @property
    def num_states(self) -> int:
        """The number of nodes."""
        return self.num_nodes

    @property
    def enumerable(self) -> bool:
        """Whether `enumerate` will list every node (num_nodes <= `MAX_ENUMERATED_STATES`)."""
        return self.num_nodes <= MAX_ENUMERATED_STATES

    def enumerate(self) -> np.ndarray:
        """Every node as a position, shape (num_nodes, 1), int32."""
        if not self.enumerable:
            raise ValueError(f"{self.num_nodes} nodes is too many to enumerate (limit {MAX_ENUMERATED_STATES}).")
        return np.arange(self.num_nodes, dtype=np.int32)[:, None]

    def uniform_positions(self, rng_key: Array, num: int) -> Array:
        """`num` nodes drawn uniformly, shape (num, 1)."""
        return jax.random.randint(rng_key, (num, 1), 0, self.num_nodes, jnp.int32)


StateSpace = Continuous | Categorical | Graph


def as_space(space: Any, name: str = "space") -> StateSpace:
    """A `Continuous`, `Categorical` or `Graph` space; an int d means ``Continuous(d)``."""
    if isinstance(space, Graph):
        check_int(space.num_nodes, f"{name}.num_nodes", minimum=2)
        return space
    if isinstance(space, (Continuous, Categorical)):
        check_int(space.dim, f"{name}.dim")
        if isinstance(space, Categorical):
            check_int(space.num_categories, f"{name}.num_categories", minimum=2)
        return space
    return Continuous(check_int(space, name))
