"""Restricted Boltzmann machines over binary visible units, with exact moments by enumerating the hidden layer.

    log p(v) = sum_j softplus((W v + c)_j) + b^T v          (hidden units summed out; W: (hidden, visible))

With H hidden units, p(h) is proportional to exp(c^T h) prod_i (1 + exp(b_i + (W^T h)_i)), so enumerating the
2^H hidden states gives E[v_i] = sum_h p(h) sigmoid(b_i + (W^T h)_i) exactly, and an exact sampler (h, then
v | h), for any number of visible units. Registered: `rbm` (random weights) and `rbm_digits` (trained on
scikit-learn's 8 x 8 digits by `python -m srmc.targets.train_rbm`; the weights ship in `targets/data/rbm_digits.npz`).
"""

from __future__ import annotations

import importlib.resources
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import GroundTruth, Target, check_int, register
from .discrete import discrete_target, enumerate_configurations, truth_from_marginals

Array = jax.Array

MAX_HIDDEN = 20


def rbm_logdensity(weights: Array, visible_bias: Array, hidden_bias: Array, v: Array) -> Array:
    """Free energy form log p(v) = sum_j softplus((W v + c)_j) + b^T v (binary relaxation: any real v)."""
    v = jnp.asarray(v, weights.dtype)
    return jnp.sum(jax.nn.softplus(weights @ v + hidden_bias)) + visible_bias @ v


def rbm_conditional_logits(weights: Array, visible_bias: Array, hidden_bias: Array, v: Array) -> Array:
    """[0, log p(v_i = 1 | v_-i) / p(v_i = 0 | v_-i)] for every visible unit at once, O(visible x hidden)."""
    v = jnp.asarray(v, weights.dtype)
    without = (weights @ v + hidden_bias)[None, :] - weights.T * v[:, None]  # (d, h): pre-activations with v_i = 0
    log_odds = visible_bias + jnp.sum(jax.nn.softplus(without + weights.T) - jax.nn.softplus(without), axis=1)
    return jnp.stack([jnp.zeros_like(log_odds), log_odds], axis=-1)


def hidden_distribution(weights: np.ndarray, visible_bias: np.ndarray, hidden_bias: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(all 2^H hidden states, their marginal probabilities p(h)) in float64."""
    hidden = enumerate_configurations(weights.shape[0]).astype(np.float64)
    log_p = hidden @ hidden_bias + np.logaddexp(0.0, visible_bias + hidden @ weights).sum(axis=1)
    p = np.exp(log_p - log_p.max())
    return hidden, p / p.sum()


def rbm_truth(weights: np.ndarray, visible_bias: np.ndarray, hidden_bias: np.ndarray) -> GroundTruth:
    """Exact E[v], Var[v] and marginals by enumerating the hidden layer."""
    hidden, p_hidden = hidden_distribution(weights, visible_bias, hidden_bias)
    mean = p_hidden @ (1.0 / (1.0 + np.exp(-(visible_bias + hidden @ weights))))
    return truth_from_marginals(np.stack([1.0 - mean, mean], axis=-1), f"exact, {len(hidden)} hidden states summed")


def rbm_sampler(weights: np.ndarray, visible_bias: np.ndarray, hidden_bias: np.ndarray):
    """Exact sampler: h from its enumerated marginal, then v | h ~ Bernoulli(sigmoid(b + W^T h))."""
    hidden, p_hidden = hidden_distribution(weights, visible_bias, hidden_bias)
    hidden_j, log_p = jnp.asarray(hidden, jnp.float32), jnp.log(jnp.asarray(p_hidden, jnp.float32))
    weights_j, bias_j = jnp.asarray(weights, jnp.float32), jnp.asarray(visible_bias, jnp.float32)

    def sample(rng_key: Array, num: int) -> Array:
        key_hidden, key_visible = jax.random.split(rng_key)
        h = hidden_j[jax.random.categorical(key_hidden, log_p, shape=(num,))]
        return jax.random.bernoulli(key_visible, jax.nn.sigmoid(bias_j + h @ weights_j)).astype(jnp.int32)

    return sample


def rbm_target(name: str, weights: np.ndarray, visible_bias: np.ndarray, hidden_bias: np.ndarray, params: dict,
               score: str = "barker") -> Target:
    """An RBM `Target` over the visible units (exact ground truth needs at most 20 hidden units)."""
    weights = np.asarray(weights, np.float64)
    visible_bias, hidden_bias = np.asarray(visible_bias, np.float64), np.asarray(hidden_bias, np.float64)
    num_hidden, num_visible = weights.shape
    if visible_bias.shape != (num_visible,) or hidden_bias.shape != (num_hidden,):
        raise ValueError(f"biases must be ({num_visible},) and ({num_hidden},) for weights {weights.shape}.")
    if num_hidden > MAX_HIDDEN:
        raise ValueError(f"exact ground truth enumerates 2^hidden states: at most {MAX_HIDDEN} hidden units.")
    arrays = tuple(jnp.asarray(a, jnp.result_type(float)) for a in (weights, visible_bias, hidden_bias))
    return discrete_target(
        name, Partial(rbm_logdensity, *arrays), num_visible, 2,
        dict(params, weights=weights, visible_bias=visible_bias, hidden_bias=hidden_bias),
        conditional_logits=Partial(rbm_conditional_logits, *arrays), score=score,
        ground_truth=rbm_truth(weights, visible_bias, hidden_bias),
        sample=rbm_sampler(weights, visible_bias, hidden_bias),
    )


@register("rbm")
def rbm(num_visible: int = 25, num_hidden: int = 8, weight_scale: float = 0.6, seed: int = 0,
        score: str = "barker") -> Target:
    """Random RBM: W ~ N(0, weight_scale^2), biases ~ N(0, 0.25) (seeded); exact moments via the hidden layer."""
    check_int(num_visible, "num_visible")
    check_int(num_hidden, "num_hidden")
    rng = np.random.default_rng(seed)
    weights = weight_scale * rng.normal(size=(num_hidden, num_visible))
    visible_bias, hidden_bias = 0.5 * rng.normal(size=num_visible), 0.5 * rng.normal(size=num_hidden)
    params = {"num_visible": num_visible, "num_hidden": num_hidden, "weight_scale": weight_scale, "seed": seed}
    return rbm_target(f"rbm(visible={num_visible},hidden={num_hidden},scale={weight_scale},seed={seed})",
                      weights, visible_bias, hidden_bias, params, score)


def load_rbm_weights(name: str = "rbm_digits") -> tuple[dict[str, np.ndarray], dict]:
    """Weights stored in ``targets/data/<name>.npz`` and the note of how they were made (``<name>.json``)."""
    data = importlib.resources.files(__package__).joinpath("data")
    with np.load(io.BytesIO(data.joinpath(f"{name}.npz").read_bytes())) as stored:
        arrays = {key: np.asarray(stored[key], np.float64) for key in stored.files}
    return arrays, json.loads(data.joinpath(f"{name}.json").read_text())


@register("rbm_digits")
def rbm_digits(score: str = "barker") -> Target:
    """RBM (64 visible = 8 x 8 pixels, 16 hidden) trained by PCD on binarised scikit-learn digits; exact moments."""
    arrays, note = load_rbm_weights("rbm_digits")
    return rbm_target("rbm_digits", arrays["weights"], arrays["visible_bias"], arrays["hidden_bias"],
                      {"note": note}, score)
