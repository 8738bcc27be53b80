"""`from_logdensity`: a bare log density as a `Target`, continuous or discrete."""

from __future__ import annotations

from typing import Callable

import jax

from .base import Target
from .discrete import discrete_target
from .space import NO_SCORE, Categorical, StateSpace, as_space

Array = jax.Array


def from_logdensity(
    logdensity: Callable[[Array], Array],
    space: int | StateSpace,
    *,
    name: str = "custom",
    score: Callable[[Array], Array] | str | None = None,
    initial_scale: float = 1.0,
    conditional_logits: Callable[[Array], Array] | None = None,
    score_is_gradient: bool = True,
) -> Target:
    """Wrap a bare log density as a `Target`.

    ``from_logdensity(f, d)`` (or ``Continuous(d)``): continuous, score ``grad f`` unless `score` is given, chains
    start from N(0, initial_scale^2 I); pass ``score_is_gradient=False`` with a `score` that is not ``grad f``.
    ``from_logdensity(f, Categorical(d, K))``: discrete on {0..K-1}^d with the
    mean-zero score named by `score` (default ``"barker"``, see `targets.discrete`), exact ground truth by
    enumeration when K^d is small, chains start uniformly; `conditional_logits` speeds up the score.
    """
    space = as_space(space, "space")
    if space.score_rule == NO_SCORE:
        raise ValueError("a graph target needs its graph: build it with srmc.targets.graph(G, weights) from a "
                         "networkx graph.")
    if isinstance(space, Categorical):
        return discrete_target(name, logdensity, space.dim, space.num_categories, {}, score=score or "barker",
                               conditional_logits=conditional_logits)
    if isinstance(score, str):
        raise ValueError(f"score={score!r} names a discrete score; a continuous target takes a function or None.")
    dim = space.dim

    def initial_position(rng_key: Array, num: int) -> Array:
        return initial_scale * jax.random.normal(rng_key, (num, dim))

    return Target(name, space, logdensity, initial_position, score=score,
                  score_is_gradient=score_is_gradient)
