"""Typed state spaces: `Continuous(dim)` (R^d) and `Categorical(dim, num_categories)` ({0..K-1}^d, binary: K = 2).

A target carries one (``target.space``), and everything that depends on which kind of space it is lives here:
the position dtype and its validation, the shape of the score, the linear tilt's features, the relaxation that
gradient-based discrete kernels differentiate through, and enumeration (with the one limit on its size).

``kind`` equals the state-space constant a kernel declares in its record (`srmc.samplers.spec.CONTINUOUS`,
`srmc.samplers.spec.CATEGORICAL`), so ``kernel.state_space == target.space.kind`` says whether they fit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

MAX_ENUMERATED_STATES = 2**20  # the most configurations anything in srmc enumerates


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


StateSpace = Continuous | Categorical


def as_space(space: Any, name: str = "space") -> StateSpace:
    """A `Continuous` or `Categorical` space; an int d means ``Continuous(d)``."""
    if isinstance(space, (Continuous, Categorical)):
        check_int(space.dim, f"{name}.dim")
        if isinstance(space, Categorical):
            check_int(space.num_categories, f"{name}.num_categories", minimum=2)
        return space
    return Continuous(check_int(space, name))
