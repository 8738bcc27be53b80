"""Train the `rbm_digits` target: an RBM on binarised 8 x 8 digits, by persistent contrastive divergence with optax.

    pip install "srmc[datasets]"
    python -m srmc.targets.train_rbm [--hidden 16] [--epochs 300] [--learning-rate 0.01] [--seed 0]

Data: scikit-learn's bundled digits (1797 images, 8 x 8, values 0..16; no download), pixel > 8 -> 1. Training
(PCD, Tieleman 2008): the gradient of the average log likelihood is E_data[grad log p~(v)] - E_model[grad log p~(v)];
the model expectation uses 500 persistent chains advanced by one block-Gibbs sweep (h | v, then v | h) per
update. Optimiser: optax.adam with a cosine-decayed learning rate. With 16 hidden units the partition function is exact (2^16 hidden states), so
the script reports the exact average log likelihood. It writes ``targets/data/rbm_digits.npz`` (weights,
visible_bias, hidden_bias) and ``targets/data/rbm_digits.json`` (how they were made).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .rbm import hidden_distribution, rbm_logdensity

DATA = pathlib.Path(__file__).parent / "data"


def binarised_digits() -> np.ndarray:
    """scikit-learn's 8 x 8 digits as (1797, 64) binary pixels (pixel > 8)."""
    from sklearn.datasets import load_digits

    return (load_digits().data > 8).astype(np.float32)


def exact_log_likelihood(params: dict, data: np.ndarray) -> float:
    """Average exact log p(v) over `data`, the partition function summed over all hidden states."""
    weights, visible_bias, hidden_bias = (np.asarray(params[k], np.float64) for k in ("weights", "visible_bias",
                                                                                       "hidden_bias"))
    hidden, _ = hidden_distribution(weights, visible_bias, hidden_bias)
    log_z = np.logaddexp.reduce(hidden @ hidden_bias + np.logaddexp(0.0, visible_bias + hidden @ weights).sum(1))
    unnormalised = np.logaddexp(0.0, data @ weights.T + hidden_bias).sum(1) + data @ visible_bias
    return float(unnormalised.mean() - log_z)


def gibbs_sweep(params: dict, rng_key: jax.Array, visible: jax.Array) -> jax.Array:
    """One block-Gibbs sweep of many chains: h ~ p(h | v), then v ~ p(v | h)."""
    key_hidden, key_visible = jax.random.split(rng_key)
    hidden = jax.random.bernoulli(key_hidden, jax.nn.sigmoid(visible @ params["weights"].T + params["hidden_bias"]))
    probabilities = jax.nn.sigmoid(hidden @ params["weights"] + params["visible_bias"])
    return jax.random.bernoulli(key_visible, probabilities).astype(visible.dtype)


def contrastive_loss(params: dict, data_batch: jax.Array, model_batch: jax.Array) -> jax.Array:
    """-(mean log p~(data) - mean log p~(model samples)): its gradient is the negative log-likelihood gradient."""
    log_p = jax.vmap(lambda v: rbm_logdensity(params["weights"], params["visible_bias"], params["hidden_bias"], v))
    return -(log_p(data_batch).mean() - log_p(jax.lax.stop_gradient(model_batch)).mean())


def train(data: np.ndarray, num_hidden: int, epochs: int, learning_rate: float, batch_size: int, num_chains: int,
          seed: int) -> dict:
    """PCD training; returns the parameters as numpy arrays."""
    key = jax.random.key(seed)
    key, init_key, chain_key = jax.random.split(key, 3)
    num_visible = data.shape[1]
    params = {
        "weights": 0.01 * jax.random.normal(init_key, (num_hidden, num_visible)),
        "visible_bias": jnp.asarray(np.log((data.mean(0) + 1e-2) / (1 - data.mean(0) + 1e-2)), jnp.float32),
        "hidden_bias": jnp.zeros(num_hidden),
    }
    num_batches = len(data) // batch_size
    optimiser = optax.adam(optax.cosine_decay_schedule(learning_rate, epochs * num_batches))
    opt_state = optimiser.init(params)
    chains = jax.random.bernoulli(chain_key, 0.5, (num_chains, num_visible)).astype(jnp.float32)

    @jax.jit
    def update(params, opt_state, chains, batch, rng_key):
        chains = gibbs_sweep(params, rng_key, chains)
        grads = jax.grad(contrastive_loss)(params, batch, chains)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, chains

    data_j = jnp.asarray(data)
    for epoch in range(epochs):
        key, perm_key = jax.random.split(key)
        order = jax.random.permutation(perm_key, len(data))
        for b in range(num_batches):
            key, step_key = jax.random.split(key)
            batch = data_j[order[b * batch_size:(b + 1) * batch_size]]
            params, opt_state, chains = update(params, opt_state, chains, batch, step_key)
        if (epoch + 1) % 50 == 0:
            print(f"epoch {epoch + 1}: exact average log-likelihood {exact_log_likelihood(params, data):.3f}")
    return {name: np.asarray(value, np.float64) for name, value in params.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="rbm_digits")
    args = parser.parse_args()
    data = binarised_digits()
    start = time.time()
    params = train(data, args.hidden, args.epochs, args.learning_rate, args.batch_size, args.chains, args.seed)
    log_likelihood = exact_log_likelihood(params, data)
    np.savez(DATA / f"{args.name}.npz", **params)
    import sklearn

    note = {
        "command": f"python -m srmc.targets.train_rbm --hidden {args.hidden} --epochs {args.epochs} "
                   f"--learning-rate {args.learning_rate} --batch-size {args.batch_size} --chains {args.chains} "
                   f"--seed {args.seed}",
        "data": "sklearn.datasets.load_digits, 1797 images, pixel > 8 -> 1 (64 binary visible units)",
        "method": "persistent contrastive divergence (one block-Gibbs sweep per update), optax.adam, cosine decay",
        "exact_average_log_likelihood": log_likelihood,
        "seconds": round(time.time() - start, 1),
        "versions": {"jax": jax.__version__, "optax": optax.__version__, "sklearn": sklearn.__version__},
    }
    (DATA / f"{args.name}.json").write_text(json.dumps(note, indent=1) + "\n")
    print(json.dumps(note, indent=1))


if __name__ == "__main__":
    main()
