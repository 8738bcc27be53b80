"""Factorial HMM posterior: a structured binary target with exact marginals by forward-backward.

M independent binary Markov chains x_m,t (t = 0..T-1; stay probability rho, uniform start) emit one scalar
observation per time, y_t ~ N(sum_m w_m x_m,t, sigma^2). The target is the posterior p(x | y) over the
d = M T bits (position index m T + t). Its joint state z_t = x_:,t has 2^M values, so forward-backward gives the
exact single-site posterior marginals and forward-filtering backward-sampling an exact sampler, for any T.
With weights close to each other the posterior is multimodal (which chain carries a jump is ambiguous).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import Target, check_int, register
from .discrete import discrete_target, enumerate_configurations, truth_from_marginals

Array = jax.Array

MAX_CHAINS = 10


def fhmm_logdensity(observations: Array, weights: Array, log_stay_odds: Array, noise: Array, x: Array) -> Array:
    """log p(x | y) up to a constant, for x of shape (M T,) in the binary relaxation."""
    chains = jnp.asarray(x, weights.dtype).reshape(weights.shape[0], -1)  # (M, T)
    same = chains[:, 1:] * chains[:, :-1] + (1.0 - chains[:, 1:]) * (1.0 - chains[:, :-1])
    residual = observations - weights @ chains
    return log_stay_odds * jnp.sum(same) - jnp.sum(residual**2) / (2.0 * noise**2)


def fhmm_conditional_logits(observations: Array, weights: Array, log_stay_odds: Array, noise: Array,
                            x: Array) -> Array:
    """[0, log-odds of x_m,t = 1 given everything else] for all M T sites at once."""
    chains = jnp.asarray(x, weights.dtype).reshape(weights.shape[0], -1)
    spins = 2.0 * chains - 1.0
    zero = jnp.zeros_like(spins[:, :1])
    neighbours = jnp.concatenate([zero, spins[:, :-1]], axis=1) + jnp.concatenate([spins[:, 1:], zero], axis=1)
    without = (observations - weights @ chains)[None, :] + weights[:, None] * chains  # residual with x_m,t = 0
    emission = (without**2 - (without - weights[:, None]) ** 2) / (2.0 * noise**2)
    log_odds = (log_stay_odds * neighbours + emission).reshape(-1)
    return jnp.stack([jnp.zeros_like(log_odds), log_odds], axis=-1)


def _joint_model(weights: np.ndarray, stay: float, noise: float, observations: np.ndarray):
    """(joint states (2^M, M), transition matrix, emission likelihoods (T, 2^M)) of the chains taken together."""
    states = enumerate_configurations(len(weights)).astype(np.float64)
    agreements = (states[:, None, :] == states[None, :, :]).sum(axis=-1)
    transition = stay**agreements * (1.0 - stay) ** (len(weights) - agreements)
    emission = np.exp(-((observations[:, None] - states @ weights) ** 2) / (2.0 * noise**2))
    return states, transition, emission


def forward_backward(weights: np.ndarray, stay: float, noise: float, observations: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(posterior marginals P(x_m,t = 1 | y) of shape (M, T), filtered distributions (T, 2^M), joint states)."""
    states, transition, emission = _joint_model(weights, stay, noise, observations)
    num_times = len(observations)
    forward = np.zeros((num_times, len(states)))
    message = np.full(len(states), 1.0 / len(states))
    for t in range(num_times):
        message = (message if t == 0 else message @ transition) * emission[t]
        forward[t] = message = message / message.sum()
    backward = np.ones(len(states))
    marginals = np.zeros((num_times, len(states)))
    for t in range(num_times - 1, -1, -1):
        posterior = forward[t] * backward
        marginals[t] = posterior / posterior.sum()
        backward = transition @ (emission[t] * backward)
        backward /= backward.sum()
    return (marginals @ states).T, forward, states


def ffbs_sampler(forward: np.ndarray, states: np.ndarray, stay: float):
    """Exact sampler by forward filtering, backward sampling (in JAX), positions of shape (M T,)."""
    agreements = (states[:, None, :] == states[None, :, :]).sum(axis=-1)
    num_chains = states.shape[1]
    log_transition = jnp.asarray(agreements * np.log(stay) + (num_chains - agreements) * np.log1p(-stay), jnp.float32)
    log_forward = jnp.log(jnp.asarray(forward, jnp.float32))
    states_j = jnp.asarray(states, jnp.int32)

    def one(rng_key: Array) -> Array:
        keys = jax.random.split(rng_key, forward.shape[0])
        last = jax.random.categorical(keys[-1], log_forward[-1])

        def back(following, inputs):
            key, log_filtered = inputs
            current = jax.random.categorical(key, log_filtered + log_transition[:, following])
            return current, current

        _, earlier = jax.lax.scan(back, last, (keys[:-1], log_forward[:-1]), reverse=True)
        path = jnp.concatenate([earlier, last[None]])  # (T,) joint-state indices
        return states_j[path].T.reshape(-1)  # (M, T) -> m T + t

    def sample(rng_key: Array, num: int) -> Array:
        return jax.vmap(one)(jax.random.split(rng_key, num))

    return sample


@register("factorial_hmm")
def factorial_hmm(num_chains: int = 3, num_times: int = 40, stay: float = 0.9, noise: float = 0.6,
                  weights: np.ndarray | None = None, seed: int = 0, score: str = "barker") -> Target:
    """Factorial-HMM posterior over M x T bits (data simulated with `seed`); exact marginals by forward-backward."""
    check_int(num_chains, "num_chains")
    check_int(num_times, "num_times")
    if num_chains > MAX_CHAINS:
        raise ValueError(f"num_chains must be <= {MAX_CHAINS} (forward-backward runs over 2^num_chains states).")
    if not 0.0 < stay < 1.0 or not noise > 0.0:
        raise ValueError(f"stay must lie in (0, 1) and noise be positive, got stay={stay}, noise={noise}.")
    weights = 1.0 + 0.5 * np.arange(num_chains) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (num_chains,):
        raise ValueError(f"weights must have shape ({num_chains},), got {weights.shape}.")
    rng = np.random.default_rng(seed)
    hidden = np.zeros((num_chains, num_times))
    hidden[:, 0] = rng.uniform(size=num_chains) < 0.5
    for t in range(1, num_times):
        hidden[:, t] = np.where(rng.uniform(size=num_chains) < stay, hidden[:, t - 1], 1.0 - hidden[:, t - 1])
    observations = weights @ hidden + noise * rng.normal(size=num_times)
    marginals, forward, states = forward_backward(weights, stay, noise, observations)
    probability_one = marginals.reshape(-1)
    truth = truth_from_marginals(np.stack([1.0 - probability_one, probability_one], axis=-1), "exact, forward-backward")
    dtype = jnp.result_type(float)
    arrays = (jnp.asarray(observations, dtype), jnp.asarray(weights, dtype), jnp.asarray(np.log(stay / (1 - stay)), dtype),
              jnp.asarray(noise, dtype))
    params = {"num_chains": num_chains, "num_times": num_times, "stay": stay, "noise": noise, "weights": weights,
              "seed": seed, "observations": observations, "hidden": hidden}
    return discrete_target(
        f"factorial_hmm(chains={num_chains},times={num_times},seed={seed})", Partial(fhmm_logdensity, *arrays),
        num_chains * num_times, 2, params, conditional_logits=Partial(fhmm_conditional_logits, *arrays),
        score=score, ground_truth=truth, sample=ffbs_sampler(forward, states, stay),
    )
