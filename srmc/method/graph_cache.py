"""HDT's LRU cache: the history kept for a fraction r of the nodes only (memory O(r |V|) per chain for the history).

Layout: a set-associative cache, as in hardware: ``ceil(r |V|)`` slots in S sets of W ways; node j may live only
in set h(j) (a multiplicative hash), and a visit to an uncached node evicts the least recently visited node of
its set. Within a set this is exact LRU; across sets it approximates the fully associative LRU of the HDT paper
at O(W) work per access (a fully associative LRU would cost O(r |V|) per step in a fixed-shape program).
"Recently used" means recently visited: reads inside a step do not refresh a node.

Imputation (no theory; measured in benchmarks): an uncached node's ratio x_j / mu_j is set to the ratio of the
cached mass to the cached target mass in its own set, sum_w x_w / sum_w mu_w over the set's occupants (a random
sample of the cache, since the hash scatters nodes). On insertion a node starts from that imputed value. The
estimate needs only the unnormalised target (the ratio's constant cancels in HDT's Metropolis ratio).

Every set starts full (nodes in node order among those hashing to it, with x_0), so every set that a node can
map to has an occupant to impute from.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.method.graph_history import (
    HistoryStore,
    LogScale,
    add_log_scale,
    capacity,
    row_log_value,
    updated_row,
    zero_log_scale,
)

Array = jax.Array

HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash, modulo 2^32
EMPTY = -1


class CachedHistory(NamedTuple):
    """The cache of one chain, as two tables over its slots (S sets x W ways):

    - ``rows`` (S, W, 4) float: the node's history row (value, stamp, stamp error; `graph_history.History`) and
      its log target;
    - ``tags`` (S, W, 2) int32: the node (-1: empty) and the step of its last visit (-2: empty, -1: filled at
      the start).

    Tables rather than one array per field: a step reads the visited set and writes one slot computed from what
    it read, which XLA does in place."""

    rows: Array
    tags: Array
    log_scale: LogScale


LOG_TARGET = 3  # the rows' fourth column
KEY, LAST_USED = 0, 1  # the tags' columns


def set_of(nodes: Array, num_sets: int) -> Array:
    """h(j): the set node j maps to (uint32 multiplicative hash)."""
    hashed = jnp.asarray(nodes).astype(jnp.uint32) * jnp.uint32(HASH_MULTIPLIER)
    return (hashed % jnp.uint32(num_sets)).astype(jnp.int32)


def _numpy_set_of(nodes: np.ndarray, num_sets: int) -> np.ndarray:
    return ((nodes.astype(np.uint64) * HASH_MULTIPLIER) % 2**32 % num_sets).astype(np.int64)


def shape(num_nodes: int, fraction: float, ways: int) -> tuple[int, int]:
    """(sets, ways) of a cache keeping ceil(fraction |V|) nodes (ways capped at that number)."""
    slots = capacity(num_nodes, fraction)
    ways = min(ways, slots)
    return -(-slots // ways), ways


def cache_init(x0: np.ndarray, logdensity_fn: Callable, fraction: float, ways: int) -> CachedHistory:
    """Every set filled with the first nodes (in node order) that hash to it, at their x_0."""
    num_sets, ways = shape(len(x0), fraction, ways)
    owners = _numpy_set_of(np.arange(len(x0)), num_sets)
    keys = np.full((num_sets, ways), EMPTY, np.int64)
    for s in range(num_sets):
        members = np.flatnonzero(owners == s)[:ways]
        keys[s, :len(members)] = members
    filled = keys >= 0
    dtype = jnp.result_type(float)
    safe = jnp.asarray(np.where(filled, keys, 0), jnp.int32)
    log_target = jax.vmap(jax.vmap(lambda j: jnp.asarray(logdensity_fn(j[None]), dtype)))(safe)
    values = jnp.asarray(np.where(filled, x0[np.where(filled, keys, 0)], 0.0), dtype)
    zeros = jnp.zeros(keys.shape, dtype)
    rows = jnp.stack([values, zeros, zeros, jnp.where(filled, log_target, -jnp.inf)], axis=-1)
    tags = jnp.stack([jnp.asarray(keys, jnp.int32), jnp.asarray(np.where(filled, -1, -2), jnp.int32)], axis=-1)
    return CachedHistory(rows, tags, zero_log_scale(dtype))


def _set_log_mass(rows: Array, tags: Array, scale: LogScale) -> tuple[Array, Array]:
    """log x of every way of a set (-inf where empty) and log (sum_w x_w / sum_w mu_w) over its occupants."""
    occupied = tags[:, KEY] != EMPTY
    safe = jnp.where(occupied[:, None], rows, 1.0)
    log_x = jnp.where(occupied, row_log_value(safe, scale), -jnp.inf)
    return log_x, jax.nn.logsumexp(log_x) - jax.nn.logsumexp(rows[:, LOG_TARGET])


def _log_ratio_in_set(rows: Array, tags: Array, scale: LogScale, node: Array, log_target: Array) -> Array:
    """log (x_node / mu_node) from the node's set: stored on a hit, imputed on a miss."""
    log_x, log_imputed = _set_log_mass(rows, tags, scale)
    hit = tags[:, KEY] == node
    return jnp.where(jnp.any(hit), jnp.sum(jnp.where(hit, log_x, 0.0)) - log_target, log_imputed)


def cache_log_ratio(history: CachedHistory, nodes: Array, log_target: Array) -> Array:
    """log (x_j / mu_j) at `nodes`: stored where cached, the set's imputed ratio elsewhere."""
    flat_nodes, flat_target = jnp.reshape(nodes, (-1,)), jnp.reshape(log_target, (-1,))
    num_sets = history.rows.shape[0]

    def one(node: Array, target: Array) -> Array:
        s = set_of(node, num_sets)
        return _log_ratio_in_set(history.rows[s], history.tags[s], history.log_scale, node, target)

    return jnp.reshape(jax.vmap(one)(flat_nodes, flat_target), jnp.shape(nodes))


def cache_update(history: CachedHistory, node: Array, gamma: Array, count: Array, log_target: Array) -> CachedHistory:
    """x <- x + gamma (delta_node - x): the node's slot (a hit, or its set's least recently visited way, evicted)
    gets (1 - gamma) x_node + gamma, x_node imputed on a miss."""
    s = set_of(node, history.rows.shape[0])
    rows, tags = history.rows[s], history.tags[s]
    hit = tags[:, KEY] == node
    found = jnp.any(hit)
    way = jnp.where(found, jnp.argmax(hit), jnp.argmin(tags[:, LAST_USED]))
    scale = add_log_scale(history.log_scale, jnp.log1p(-gamma))
    kept = updated_row(rows[way, :3], scale, gamma)  # a hit: as the full store does
    imputed_log_x = _log_ratio_in_set(rows, tags, history.log_scale, node, log_target) + log_target
    fresh = jnp.stack([jnp.exp(imputed_log_x + jnp.log1p(-gamma)) + gamma, scale.value, scale.error])
    new_row = jnp.concatenate([jnp.where(found, kept, fresh), log_target[None]])
    new_tag = jnp.stack([node, count]).astype(jnp.int32)
    return CachedHistory(history.rows.at[s, way].set(new_row), history.tags.at[s, way].set(new_tag), scale)


def store(fraction: float, ways: int) -> HistoryStore:
    """The `HistoryStore` of a cache keeping `fraction` of the nodes in sets of `ways`."""
    return HistoryStore(f"lru({fraction}, {ways})", functools.partial(cache_init, fraction=fraction, ways=ways),
                        cache_log_ratio, cache_update, None)


def lru_store(fraction: float, ways: int = 8) -> HistoryStore:
    """HDT's LRU cache keeping ``ceil(fraction |V|)`` nodes (the set-associative cache of this module)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0:
        raise ValueError(f"cache must be None (the full history) or a fraction in (0, 1] of the nodes to keep, got "
                         f"{fraction!r}.")
    if isinstance(ways, bool) or not isinstance(ways, int) or ways < 1:
        raise ValueError(f"cache_ways must be a positive integer, got {ways!r}.")
    return store(float(fraction), ways)
