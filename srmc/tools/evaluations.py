"""Honest evaluation counts: how many log densities, gradients and Hessian-vector products one step costs.

A few steps of one chain are traced (``jax.make_jaxpr``; nothing is compiled) on a copy of the target whose log
density and score mark every evaluation with a named, jitted identity ("tick") inside `jax.custom_jvp` rules:

- the log density's primal rule ticks a *value*; its derivative rule computes the gradient through a second
  custom-derivative function whose primal rule ticks a *gradient* and whose derivative rule ticks a
  *Hessian-vector product* (so a ``value_and_grad`` is one gradient pass, and a JVP of a gradient one HVP);
- an explicit score ticks a *gradient* when evaluated and an HVP when differentiated.

The ticks are counted in the traced program: each is multiplied by the length of every ``scan`` around it (HMC's
leapfrog, a Gibbs sweep) and by its batch size under ``vmap`` (read off its input's shape: the tick carries one
number per evaluation). Limits: both branches of a ``lax.cond`` are counted (as under ``vmap``, where both run),
and the body of a ``while_loop`` whose trip count depends on the state (NUTS) is counted once. The counts are
what the algorithm asks for; XLA may merge repeated work, so they are an upper bound on what it computes.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.method.algorithm import Algorithm, as_target
from srmc.targets import Target

Array = jax.Array

TICK_PREFIX = "srmc_count_"
VALUE, GRADIENT, HESSIAN_VECTOR = "value", "gradient", "hessian_vector"


class EvaluationCounts(NamedTuple):
    """Mean evaluations per step of one chain: log-density values, gradient passes, Hessian-vector products.

    For discrete targets `gradient` counts evaluations of the target's mean-zero score.
    """

    logdensity: float
    gradient: float
    hessian_vector: float


def _make_tick(kind: str) -> Callable[[Array], Array]:
    def tick(marker: Array) -> Array:
        return marker

    tick.__name__ = TICK_PREFIX + kind
    return jax.jit(tick)


TICKS = {kind: _make_tick(kind) for kind in (VALUE, GRADIENT, HESSIAN_VECTOR)}


def _ticked(value: Array, kind: str, x: Array) -> Array:
    """`value` plus 0 x a tick of `kind` carrying one number of `x` (its batch shape under vmap)."""
    marker = jax.lax.stop_gradient(jnp.ravel(jnp.asarray(x, jnp.result_type(float)))[0])
    return value + jnp.zeros_like(value) * TICKS[kind](marker).astype(jnp.result_type(value))


def counted_gradient(fn: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """`fn` (a gradient or a score) ticking a gradient pass when evaluated and an HVP when differentiated."""

    @jax.custom_jvp
    def gradient(x: Array) -> Array:
        return _ticked(fn(x), GRADIENT, x)

    @gradient.defjvp
    def gradient_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
        (x,), (x_dot,) = primals, tangents
        value, derivative = jax.jvp(fn, (x,), (x_dot,))
        return _ticked(value, HESSIAN_VECTOR, x), derivative

    return gradient


def counted_logdensity(logdensity: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """`logdensity` ticking a value when evaluated and a gradient pass when differentiated."""
    gradient = counted_gradient(jax.grad(logdensity))

    @jax.custom_jvp
    def value(x: Array) -> Array:
        return _ticked(logdensity(x), VALUE, x)

    @value.defjvp
    def value_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
        (x,), (x_dot,) = primals, tangents
        return logdensity(x), jnp.sum(gradient(x) * x_dot)

    return value


def counting_target(target: Target) -> Target:
    """A copy of `target` whose log density and score tick their evaluations (module doc)."""
    logdensity = counted_logdensity(target.logdensity)
    if target.score_is_autodiff:  # keep an autodiff score autodiff: value_and_score is one reverse pass
        return dataclasses.replace(target, logdensity=logdensity, score=None)
    return dataclasses.replace(target, logdensity=logdensity, score=counted_gradient(target.score))


def count_ticks(jaxpr: Any, factor: int = 1, tally: collections.Counter | None = None) -> collections.Counter:
    """Ticks per kind in `jaxpr` (a ``jax.make_jaxpr`` result's ``.jaxpr``), scans multiplied by their length."""
    tally = collections.Counter() if tally is None else tally
    for equation in jaxpr.eqns:
        name = equation.params.get("name")
        if isinstance(name, str) and name.startswith(TICK_PREFIX):
            tally[name[len(TICK_PREFIX):]] += factor * math.prod(equation.invars[0].aval.shape)
            continue
        repeat = equation.params.get("length", 1) if equation.primitive.name == "scan" else 1
        for param in equation.params.values():
            for inner in param if isinstance(param, (tuple, list)) else (param,):
                if hasattr(inner, "jaxpr") and hasattr(inner, "consts"):
                    count_ticks(inner.jaxpr, factor * repeat, tally)
                elif hasattr(inner, "eqns"):
                    count_ticks(inner, factor * repeat, tally)
    return tally


def count_evaluations(
    algorithm: Algorithm, target: Target | Callable, position: Array, *, num_steps: int = 3,
    rng_key: Array | None = None, params: Any = None,
) -> EvaluationCounts:
    """Mean evaluations per step over `num_steps` traced steps of one chain from `position` (init not counted),
    with `params` (default ``algorithm.params``; parameters a warm-up would set must be given)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    position = jnp.asarray(position)
    counted = counting_target(as_target(target, position))
    params = algorithm.params if params is None else params

    def steps(key: Array, state: Any) -> Any:
        for step in range(num_steps):
            state, _ = algorithm.step(jax.random.fold_in(key, step), state, counted, params)
        return state

    state = algorithm.init(position, counted, params)
    per_step = {kind: calls / num_steps
                for kind, calls in count_ticks(jax.make_jaxpr(steps)(rng_key, state).jaxpr).items()}
    return EvaluationCounts(per_step.get(VALUE, 0.0), per_step.get(GRADIENT, 0.0), per_step.get(HESSIAN_VECTOR, 0.0))
