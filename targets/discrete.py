"""Discrete targets on {0..K-1}^d, the single-site log ratios they expose, and mean-zero ratio scores.

A mean-zero, normalisation-free score for a binary target: with r_i(x) = pi(flip_i x) / pi(x),

    s_i(x) = g(r_i(x)),   g(r) = -r g(1/r)   =>   E_pi[s_i] = sum_x pi(flip_i x) (-g(r_i(flip_i x)))... = 0,

because flip_i is an involution. Two choices of g: "ratio" g(r) = r - 1 and the bounded "bounded"
g(r) = r (r - 1) / (1 + r)^2 = sigmoid(u) tanh(u / 2) with u = log r. The relaxed gradient of the energy (what
gradient-based discrete samplers use) is NOT mean-zero in general: see `relaxed_gradient_score`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from targets.base import Target, exact_truth, register

Array = jax.Array

RATIO_SCORES = ("ratio", "bounded")


def single_site_log_ratios(logdensity: Callable[[Array], Array], x: Array, num_categories: int = 2) -> Array:
    """``L[i, k] = log pi(x with x_i = k) - log pi(x)``, shape (d, K), by vmapped evaluation (0 where k = x_i)."""
    dim = x.shape[0]
    candidates = jnp.broadcast_to(x, (dim, num_categories, dim))
    sites, values = jnp.meshgrid(jnp.arange(dim), jnp.arange(num_categories), indexing="ij")
    candidates = candidates.at[sites, values, sites].set(values.astype(x.dtype))
    return jax.vmap(jax.vmap(logdensity))(candidates) - logdensity(x)


def flip_log_ratios(log_ratios: Array, x: Array) -> Array:
    """log pi(flip_i x) / pi(x) for every site of a binary x, from (d, 2) single-site log ratios."""
    return jnp.take_along_axis(log_ratios, (1 - x)[:, None].astype(jnp.int32), axis=1)[:, 0]


def ratio_score_fn(log_ratio_fn: Callable[[Array], Array], kind: str = "bounded") -> Callable[[Array], Array]:
    """The mean-zero score s_i = g(pi(flip_i x) / pi(x)) of a binary target, g chosen by `kind`."""
    if kind not in RATIO_SCORES:
        raise ValueError(f"score kind must be one of {RATIO_SCORES}, got {kind!r}.")

    def score(x: Array) -> Array:
        u = flip_log_ratios(log_ratio_fn(x), x)
        if kind == "ratio":
            return jnp.expm1(u)
        return jax.nn.sigmoid(u) * jnp.tanh(0.5 * u)

    return score


def relaxed_gradient_score(target: Target) -> Callable[[Array], Array]:
    """grad of the log density extended to real x, at binary x: biased (E_pi != 0) whenever a field is present."""
    grad = jax.grad(lambda x: target.logdensity(x))
    return lambda x: grad(x.astype(jnp.result_type(float)))


def enumerate_configurations(dim: int, num_categories: int = 2) -> np.ndarray:
    """Every configuration of d sites with K values, shape (K^d, d)."""
    return np.array(list(itertools.product(range(num_categories), repeat=dim)), np.int32)


def exact_binary_moments(logdensity: Callable[[Array], Array], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities over all 2^d states, the states) by enumeration, in float64."""
    states = enumerate_configurations(dim)
    logp = np.asarray(jax.vmap(logdensity)(jnp.asarray(states)), np.float64)
    probabilities = np.exp(logp - logp.max())
    return probabilities / probabilities.sum(), states


def enumeration_sampler(states: np.ndarray, probabilities: np.ndarray) -> Callable[[Array, int], Array]:
    """Exact sampler drawing whole configurations from enumerated `states` with `probabilities`."""
    log_probabilities, states_j = jnp.log(jnp.asarray(probabilities)), jnp.asarray(states)

    def sample(rng_key: Array, num: int) -> Array:
        return states_j[jax.random.categorical(rng_key, log_probabilities, shape=(num,))]

    return sample


def binary_target(
    name: str,
    logdensity: Callable[[Array], Array],
    dim: int,
    params: dict,
    *,
    log_ratio_fn: Callable[[Array], Array] | None = None,
    score: str = "bounded",
    max_enumerable: int = 20,
) -> Target:
    """A binary `Target` with a mean-zero ratio score; exact moments and sampler by enumeration when d is small."""
    log_ratio_fn = log_ratio_fn or (lambda x: single_site_log_ratios(logdensity, x, 2))
    ground_truth, sample = None, None
    if dim <= max_enumerable:
        probabilities, states = exact_binary_moments(logdensity, dim)
        mean = probabilities @ states
        ground_truth = exact_truth(mean, mean * (1.0 - mean), note="by enumeration")
        sample = enumeration_sampler(states, probabilities)

    def initial_position(rng_key: Array, num: int) -> Array:
        return jax.random.bernoulli(rng_key, 0.5, (num, dim)).astype(jnp.int32)

    return Target(
        name=name, kind="binary", dim=dim, logdensity=logdensity, initial_position=initial_position,
        score=ratio_score_fn(log_ratio_fn, score), ground_truth=ground_truth, sample=sample, num_categories=2,
        params=dict(params, log_ratios=log_ratio_fn, score_kind=score),
    )


@register("bernoulli")
def bernoulli(dim: int = 10, logits: float | np.ndarray | None = None, seed: int = 0, score: str = "bounded") -> Target:
    """Independent Bernoulli sites with given (or seeded random N(0,1)) logits; exact moments at any d."""
    _check_positive_int(dim, "dim")
    logits = np.random.default_rng(seed).normal(size=dim) if logits is None else np.broadcast_to(logits, dim)
    logits_j = jnp.asarray(logits, jnp.float32)

    def logdensity(x: Array) -> Array:
        return jnp.sum(logits_j * x)

    def log_ratios(x: Array) -> Array:
        current = logits_j * x
        return jnp.stack([-current, logits_j - current], axis=1)

    target = binary_target(f"bernoulli(dim={dim})", logdensity, dim, {"logits": np.asarray(logits)},
                           log_ratio_fn=log_ratios, score=score, max_enumerable=0)
    mean = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    probabilities = jnp.asarray(mean, jnp.float32)

    def sample(rng_key: Array, num: int) -> Array:
        return jax.random.bernoulli(rng_key, probabilities, (num, dim)).astype(jnp.int32)

    return dataclasses.replace(target, ground_truth=exact_truth(mean, mean * (1 - mean), "closed form"), sample=sample)


def lattice_adjacency(side: int) -> np.ndarray:
    """Adjacency matrix of the periodic side x side square lattice (4 neighbours per site)."""
    index = np.arange(side * side).reshape(side, side)
    adjacency = np.zeros((side * side, side * side))
    for shift in ((0, 1), (1, 0)):
        neighbours = np.roll(index, shift=(-shift[0], -shift[1]), axis=(0, 1))
        adjacency[index.ravel(), neighbours.ravel()] = 1.0
    return np.maximum(adjacency, adjacency.T)


@register("ising")
def ising(side: int = 3, coupling: float = 0.15, field: float | np.ndarray = 0.1, score: str = "bounded") -> Target:
    """Ising model on a periodic side x side lattice, spins s = 2x - 1, log p = s^T (coupling A) s + field^T s."""
    _check_positive_int(side, "side")
    if side < 2:
        raise ValueError(f"side must be >= 2, got {side}.")
    dim = side * side
    weights = jnp.asarray(coupling * lattice_adjacency(side), jnp.float32)
    field_j = jnp.asarray(np.broadcast_to(field, dim), jnp.float32)

    def logdensity(x: Array) -> Array:
        spins = 2.0 * x - 1.0
        return spins @ (weights @ spins) + field_j @ spins

    def log_ratios(x: Array) -> Array:
        spins = 2.0 * x - 1.0
        # flipping s_i changes the energy by -2 s_i (2 (W s)_i + h_i); setting x_i to its own value changes nothing
        flip = -2.0 * spins * (2.0 * (weights @ spins) + field_j)
        set_to_one = jnp.where(x == 1, 0.0, flip)
        set_to_zero = jnp.where(x == 0, 0.0, flip)
        return jnp.stack([set_to_zero, set_to_one], axis=1)

    params = {"side": side, "coupling": coupling, "field": np.asarray(field)}
    return binary_target(f"ising(side={side},coupling={coupling})", logdensity, dim, params,
                         log_ratio_fn=log_ratios, score=score)


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
