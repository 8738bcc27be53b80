"""Honest evaluation counts: how many log densities, gradients and Hessian-vector products one step costs.

A few steps of one chain are traced (``jax.make_jaxpr``) under ``jax.disable_jit()`` on a copy of the target
whose ``logdensity`` and ``score`` count their calls. ``disable_jit`` makes loops with a static trip count
(``fori_loop``, ``scan``: HMC's leapfrog, a Gibbs sweep) run as Python loops, so each iteration calls the
target again and is counted, and tracing compiles nothing, so counting takes well under a second. Each call is
classified by the tracers JAX passes in:

- no differentiation tracer: a log-density value (``logdensity``) or a score/gradient (``score``);
- each differentiation tracer (``value_and_grad``, ``jvp``) adds one order of derivative, so a log density
  called under one is a gradient pass and a score called under one is a Hessian-vector product;
- a batching tracer (``vmap``, e.g. Gibbs' conditionals over K values): counted once per batch element.

Limits: both branches of a ``lax.cond`` on a traced value are counted (as under ``vmap``, where both run), and
the body of a ``while_loop`` whose condition depends on the state (NUTS) is counted once, not per iteration.
The counts are what the algorithm asks for; XLA may merge repeated work (common-subexpression elimination),
so they are an upper bound on what the compiled code computes.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable, NamedTuple

import jax

from srmc.method.algorithm import Algorithm
from srmc.targets import Target

Array = jax.Array


class EvaluationCounts(NamedTuple):
    """Mean evaluations per step of one chain: log-density values, gradient passes, Hessian-vector products.

    For discrete targets `gradient` counts evaluations of the target's mean-zero score.
    """

    logdensity: float
    gradient: float
    hessian_vector: float


def derivative_order_and_batch(value: Any) -> tuple[int | None, int]:
    """(order of derivative requested, batch size) of an argument, read off its nested tracers."""
    order, batch = 0, 1
    while isinstance(value, jax.core.Tracer):
        if hasattr(value, "primal"):  # JVP / linearize tracers carry the point they differentiate at
            order, value = order + 1, value.primal
        elif hasattr(value, "batch_dim") and hasattr(value, "val"):
            if isinstance(value.batch_dim, int):
                batch *= value.val.shape[value.batch_dim]
            value = value.val
        else:  # the jaxpr tracer of make_jaxpr itself
            break
    return order, batch


def counting_target(target: Target, tally: collections.Counter) -> Target:
    """A copy of `target` whose log density and score add ``(kind, derivative order) -> calls`` to `tally`."""

    def counted(fn: Callable[[Array], Array], kind: str) -> Callable[[Array], Array]:
        def wrapped(x: Array) -> Array:
            order, batch = derivative_order_and_batch(x)
            tally[(kind, order)] += batch
            return fn(x)

        return wrapped

    logdensity = counted(target.logdensity, "logdensity")
    # keep an autodiff score autodiff (then value_and_score is one reverse pass, exactly as in the real run)
    if target.score_is_autodiff:
        return dataclasses.replace(target, logdensity=logdensity, score=None)
    return dataclasses.replace(target, logdensity=logdensity, score=counted(target.score, "score"))


def count_evaluations(
    algorithm: Algorithm, target: Target, position: Array, *, num_steps: int = 3, rng_key: Array | None = None
) -> EvaluationCounts:
    """Mean evaluations per step over `num_steps` traced steps of one chain from `position` (init not counted)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    tally: collections.Counter = collections.Counter()
    counted_target = counting_target(target, tally)

    def run(key: Array, x: Array) -> Any:
        state = algorithm.init(x, counted_target)
        tally.clear()  # a Python side effect at trace time: only the steps are counted
        for step in range(num_steps):
            state, _ = algorithm.step(jax.random.fold_in(key, step), state, counted_target)
        return state

    with jax.disable_jit():
        jax.make_jaxpr(run)(rng_key, jax.numpy.asarray(position))
    per_step = {key: calls / num_steps for key, calls in tally.items()}
    return EvaluationCounts(
        logdensity=per_step.get(("logdensity", 0), 0.0),
        gradient=per_step.get(("logdensity", 1), 0.0) + per_step.get(("score", 0), 0.0),
        hessian_vector=float(sum(calls for (kind, order), calls in per_step.items()
                           if order >= 2 or (kind == "score" and order == 1))),
    )
