"""Discrete targets on {0..K-1}^d: all single-site conditionals at once, mean-zero scores, exact ground truth.

**Conditional logits.** Every discrete target exposes ``conditional_logits(x) -> (d, K)``: ``phi[i, k] =
log pi(x with x_i = k)`` up to a constant per site, i.e. the logits of each site's full conditional given the
others, for all sites at once (vectorised, never a Python loop over sites). Single-site log ratios follow:
``log pi(x with x_i = k) - log pi(x) = phi[i, k] - phi[i, x_i]``.

**Relaxation contract** (what gradient-based discrete kernels and the SRMC surrogate rely on): log densities,
conditional logits and scores of a binary target (K = 2) accept a real vector ``x`` in R^d and are smooth in it;
those of a categorical target (K > 2) accept integer positions ``(d,)`` and a real ``(d, K)`` matrix equal to
``one_hot(x)`` at integer ``x``. `relaxed_one_hot` maps any of these forms to the ``(d, K)`` matrix ``E``.

**Mean-zero scores** for SRMC, shape ``(d (K - 1),)`` (category 0 left out; for binary targets ``(d,)``), all
normalisation-free (built from conditional logits, i.e. from ratios pi(x') / pi(x)) and mean-zero even
conditionally on the other sites, E_pi[s_i | x_-i] = 0:

    barker   s_ik = p(x_i = k | x_-i) - [x_i = k]                 bounded in [-1, 1]          (default)
    bounded  s_ik = g(r_ik),  g(r) = r (r - 1) / (1 + r)^2         bounded in (-1/8, 1)
    ratio    s_ik = r_ik - 1                                       unbounded

where ``r_ik = pi(T_ik x) / pi(x)`` and the involution ``T_ik`` swaps the values 0 and k at site i (a bit flip
when K = 2); any g with g(r) = -r g(1/r) is mean-zero because T_ik is an involution. For a binary site both
families are ``w(x_-i) (p_i - x_i)``: the barker score has weight w = 1, while every g-score has
w = g(e^D) / sigmoid(D) (D: the site's conditional log-odds), which vanishes and changes sign with D. On a
weakly coupled model the local log-odds straddle 0, so a g-score is nearly uncorrelated with x_i and SRMC buys
little on the magnetisation; the barker score is its Rao-Blackwell residual and is what the default uses
(it equals sigma(x) t(r) for the antisymmetric sign sigma = 1 - 2 x_i and Barker's balancing function
t(r) = r / (1 + r), hence the name). The ``relaxed_gradient_score`` (grad of the energy at binary x, used by
the SRMC paper's discrete experiments) is NOT mean-zero once a field is present; it is offered for comparison.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import GroundTruth, Target, check_int, exact_truth, register
from .space import MAX_ENUMERATED_STATES, Categorical, one_hot_features, relaxed_one_hot  # noqa: F401  (re-exported)

Array = jax.Array

SCORES = ("barker", "bounded", "ratio")


# --- relaxation and single-site quantities ---------------------------------------------------------------------


def conditional_logits_by_evaluation(logdensity: Callable[[Array], Array], num_categories: int
                                     ) -> Callable[[Array], Array]:
    """``conditional_logits`` of any discrete log density, by evaluating it at all d K single-site changes.

    Works in whichever form the position comes (integer, real binary, or one-hot), so it keeps the relaxation
    contract whenever `logdensity` does. Costs d K evaluations; targets with structure provide faster ones.
    """
    categories = jnp.arange(num_categories)

    def conditional_logits(x: Array) -> Array:
        x = jnp.asarray(x)
        dim = x.shape[0]
        site_mask = jnp.eye(dim, dtype=bool)[:, None, :]  # (d, 1, d): candidate (i, k) changes site i
        if x.ndim == 2:
            rows = jnp.eye(num_categories, dtype=x.dtype)[None, :, None, :]  # e_k
            candidates = jnp.where(site_mask[..., None], rows, x[None, None])  # (d, K, d, K)
        else:
            candidates = jnp.where(site_mask, categories[None, :, None].astype(x.dtype), x[None, None])
        return jax.vmap(jax.vmap(logdensity))(candidates)

    return conditional_logits


def site_log_ratios(logits: Array, one_hot: Array) -> Array:
    """``L[i, k] = log pi(x with x_i = k) - log pi(x)`` from conditional logits and the one-hot position."""
    return logits - jnp.sum(logits * one_hot, axis=-1, keepdims=True)


def single_site_log_ratios(target: Target, x: Array) -> Array:
    """All single-site log ratios of a discrete target at once: ``log pi(x with x_i = k) - log pi(x)``, (d, K)."""
    return site_log_ratios(target.conditional_logits(x), relaxed_one_hot(x, target.num_categories))


def swap_log_ratios(logits: Array, one_hot: Array) -> Array:
    """``log pi(T_ik x) / pi(x)``, shape (d, K - 1): T_ik swaps values 0 and k at site i (0 where x_i not in {0, k})."""
    ratios = site_log_ratios(logits, one_hot)
    return one_hot[:, :1] * ratios[:, 1:] + one_hot[:, 1:] * ratios[:, :1]


def _bounded(log_ratio: Array) -> Array:
    """g(r) = r (r - 1) / (1 + r)^2 = sigmoid(u) tanh(u / 2), u = log r."""
    return jax.nn.sigmoid(log_ratio) * jnp.tanh(0.5 * log_ratio)


def make_score(conditional_logits: Callable[[Array], Array], num_categories: int, kind: str = "barker"
               ) -> Callable[[Array], Array]:
    """The mean-zero single-site score of `kind` (see the module doc), shape ``(d (K - 1),)``."""
    if kind not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {kind!r}.")

    def score(x: Array) -> Array:
        one_hot = relaxed_one_hot(x, num_categories)
        logits = conditional_logits(x)
        if kind == "barker":
            values = jax.nn.softmax(logits, axis=-1)[:, 1:] - one_hot[:, 1:]
        elif kind == "bounded":
            values = _bounded(swap_log_ratios(logits, one_hot))
        else:
            values = jnp.expm1(swap_log_ratios(logits, one_hot))
        return values.reshape(-1)

    return score


def relaxed_gradient_score(target: Target) -> Callable[[Array], Array]:
    """grad of the log density extended to real inputs, at integer x: biased (E_pi != 0) under a field.

    Binary: ``grad f(x)``, shape (d,). Categorical: ``G[:, k] - G[:, 0]`` for k >= 1 with G the gradient with
    respect to the one-hot matrix, shape (d (K - 1),). Offered to compare with the mean-zero scores.
    """
    num_categories = target.num_categories

    def score(x: Array) -> Array:
        relaxed = relaxed_one_hot(x, num_categories) if num_categories > 2 else jnp.asarray(x, jnp.result_type(float))
        gradient = jax.grad(target.logdensity)(relaxed)
        if num_categories == 2:
            return gradient
        return (gradient[:, 1:] - gradient[:, :1]).reshape(-1)

    return score


# --- enumeration -----------------------------------------------------------------------------------------------


def enumerate_configurations(dim: int, num_categories: int = 2) -> np.ndarray:
    """Every configuration of d sites with K values in lexicographic order, shape (K^d, d), int32."""
    return Categorical(dim, num_categories).enumerate()


@jax.jit
def _logdensities(logdensity: Partial, states: Array) -> Array:
    return jax.vmap(logdensity)(states)


def enumerated_probabilities(logdensity: Callable[[Array], Array], states: np.ndarray) -> np.ndarray:
    """pi over the rows of `states`, normalised in float64 (evaluated in batches to bound memory).

    A `jax.tree_util.Partial` log density is traced, so models of one family and shape compile once.
    """
    logdensity = logdensity if isinstance(logdensity, Partial) else Partial(logdensity)
    logp = np.concatenate([np.asarray(_logdensities(logdensity, jnp.asarray(states[i:i + 65536])), np.float64)
                           for i in range(0, len(states), 65536)])
    weights = np.exp(logp - logp.max())
    return weights / weights.sum()


def truth_from_probabilities(states: np.ndarray, probabilities: np.ndarray, num_categories: int,
                             note: str) -> GroundTruth:
    """Exact mean, variance and single-site marginals of x from a distribution over enumerated states."""
    values = states.astype(np.float64)
    mean = probabilities @ values
    marginals = np.stack([probabilities @ (states == k) for k in range(num_categories)], axis=-1)
    return exact_truth(mean, probabilities @ values**2 - mean**2, note, marginals)


def categorical_sampler(states: np.ndarray, probabilities: np.ndarray) -> Callable[[Array, int], Array]:
    """Exact sampler drawing whole configurations from enumerated `states` with `probabilities` (inverse CDF)."""
    cumulative = np.cumsum(probabilities)
    cdf, states_j = jnp.asarray(cumulative / cumulative[-1], jnp.float32), jnp.asarray(states)

    def sample(rng_key: Array, num: int) -> Array:
        rows = jnp.searchsorted(cdf, jax.random.uniform(rng_key, (num,)), side="right")
        return states_j[jnp.minimum(rows, len(states) - 1)]

    return sample


# --- the constructor -------------------------------------------------------------------------------------------


def discrete_target(
    name: str,
    logdensity: Callable[[Array], Array],
    dim: int,
    num_categories: int,
    params: dict,
    *,
    conditional_logits: Callable[[Array], Array] | None = None,
    score: str = "barker",
    ground_truth: GroundTruth | None = None,
    sample: Callable[[Array, int], Array] | None = None,
) -> Target:
    """A binary (K = 2) or categorical `Target` with a mean-zero score of kind `score`.

    Without `ground_truth`, exact moments, marginals and an exact sampler come from enumeration when
    K^d <= 2^20. `conditional_logits` defaults to evaluation at all single-site changes.
    """
    check_int(dim, "dim")
    check_int(num_categories, "num_categories", minimum=2)
    conditional_logits = conditional_logits or conditional_logits_by_evaluation(logdensity, num_categories)
    space = Categorical(dim, num_categories)
    if ground_truth is None and space.enumerable:
        states = space.enumerate()
        probabilities = enumerated_probabilities(logdensity, states)
        ground_truth = truth_from_probabilities(states, probabilities, num_categories, "by enumeration")
        sample = sample or categorical_sampler(states, probabilities)

    return Target(
        name=name, space=space, logdensity=logdensity, initial_position=space.uniform_positions,
        score=make_score(conditional_logits, num_categories, score), ground_truth=ground_truth, sample=sample,
        params=params, conditional_logits=conditional_logits, score_name=score,
    )


def truth_from_marginals(marginals: np.ndarray, note: str) -> GroundTruth:
    """Exact mean and variance of every site from its exact ``(d, K)`` marginals."""
    values = np.arange(marginals.shape[1], dtype=np.float64)
    mean = marginals @ values
    return exact_truth(mean, marginals @ values**2 - mean**2, note, marginals)


@register("bernoulli")
def bernoulli(dim: int = 10, logits: float | np.ndarray | None = None, seed: int = 0, score: str = "barker") -> Target:
    """Independent Bernoulli sites with given (or seeded random N(0,1)) logits; exact moments at any d."""
    check_int(dim, "dim")
    logits = np.random.default_rng(seed).normal(size=dim) if logits is None else np.broadcast_to(logits, dim)
    logits_j = jnp.asarray(logits, jnp.result_type(float))

    def logdensity(x: Array) -> Array:
        return jnp.sum(logits_j * x)

    def conditional_logits(x: Array) -> Array:
        return jnp.stack([jnp.zeros_like(logits_j), logits_j], axis=-1)

    probability_one = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    truth = truth_from_marginals(np.stack([1.0 - probability_one, probability_one], axis=-1), "closed form")
    probabilities = jnp.asarray(probability_one, jnp.float32)

    def sample(rng_key: Array, num: int) -> Array:
        return jax.random.bernoulli(rng_key, probabilities, (num, dim)).astype(jnp.int32)

    return discrete_target(f"bernoulli(dim={dim})", logdensity, dim, 2, {"logits": np.asarray(logits)},
                           conditional_logits=conditional_logits, score=score, ground_truth=truth, sample=sample)
