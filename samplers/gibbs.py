"""Gibbs sampling on {0..K-1}^d: random-scan (one uniformly chosen site per step) or a systematic sweep.

A site's full conditional p(x_i = k | x_-i) is computed from the log density at the K values of the site; a
non-finite conditional leaves the state unchanged and is flagged. `transition_probabilities` gives the exact
one-step transition probabilities (for `srmc.testing`'s exact invariance checks).
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._discrete import hamming_neighbours
from ._metropolis import MetropolisInfo
from .spec import AUX_CACHE, CATEGORICAL, NUM_CATEGORIES, Density, KernelSpec, Parameter, as_density, one_of

Array = jax.Array

GibbsInfo = MetropolisInfo  # acceptance_rate (always 1 when finite), is_accepted, is_nonfinite


class GibbsState(NamedTuple):
    """Current configuration (integers) and a `Density`'s aux there (Gibbs evaluates conditionals afresh)."""

    position: Array
    aux: Any = ()


def init(position: Array, logdensity_fn: Callable) -> GibbsState:
    """Build the state at `position` (with a `Density`: its aux there)."""
    position = jnp.asarray(position, jnp.int32)
    return GibbsState(position, as_density(logdensity_fn).value(position)[1])


def _site_candidates(x: Array, site: Array, num_categories: int) -> Array:
    """The K configurations equal to x except at `site`, which takes the values 0..K-1."""
    values = jnp.arange(num_categories, dtype=x.dtype)
    return jnp.broadcast_to(x, (num_categories, x.shape[0])).at[:, site].set(values)


def site_conditional_logits(logdensity_fn: Callable, x: Array, site: Array, num_categories: int) -> Array:
    """log p(x_site = k | rest) up to a constant, for k = 0..K-1."""
    return jax.vmap(logdensity_fn)(_site_candidates(x, site, num_categories))


def all_site_conditional_logits(logdensity_fn: Callable, x: Array, num_categories: int) -> Array:
    """`site_conditional_logits` of every site, shape (d, K), by d K evaluations."""
    sites = jnp.arange(x.shape[0])
    return jax.vmap(lambda site: site_conditional_logits(logdensity_fn, x, site, num_categories))(sites)


def _update_site(rng_key: Array, state: GibbsState, site: Array, logdensity_fn: Callable | Density,
                 num_categories: int) -> tuple[GibbsState, Array]:
    """Draw x_site from its conditional (a `Density`: the state's aux becomes the chosen candidate's)."""
    x = state.position
    density = as_density(logdensity_fn, state.aux)
    logits, candidate_aux = jax.vmap(density.value)(_site_candidates(x, site, num_categories))
    finite = jnp.all(jnp.isfinite(logits) | (logits == -jnp.inf)) & jnp.any(jnp.isfinite(logits))
    value = jax.random.categorical(rng_key, jnp.where(finite, logits, 0.0))
    aux = jax.tree.map(lambda candidates, old: jnp.where(finite, candidates[value], old), candidate_aux, state.aux)
    return GibbsState(jnp.where(finite, x.at[site].set(value.astype(x.dtype)), x), aux), ~finite


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, num_categories=2, scan="random") -> (state, info)`."""

    def kernel(
        rng_key: Array, state: GibbsState, logdensity_fn: Callable, num_categories: int = 2, scan: str = "random"
    ) -> tuple[GibbsState, GibbsInfo]:
        """One random-scan update (`scan="random"`) or one sweep over all sites in order (`"systematic"`)."""
        dim = state.position.shape[0]
        if scan == "random":
            key_site, key_value = jax.random.split(rng_key)
            site = jax.random.randint(key_site, (), 0, dim)
            state, nonfinite = _update_site(key_value, state, site, logdensity_fn, num_categories)
        elif scan == "systematic":
            def body(site, carry):
                current, nonfinite = carry
                current, bad = _update_site(jax.random.fold_in(rng_key, site), current, site, logdensity_fn,
                                            num_categories)
                return current, nonfinite | bad

            state, nonfinite = jax.lax.fori_loop(0, dim, body, (state, jnp.zeros((), bool)))
        else:
            raise ValueError(f"scan must be 'random' or 'systematic', got {scan!r}.")
        info = GibbsInfo(jnp.where(nonfinite, 0.0, 1.0), ~nonfinite, nonfinite)
        return state, info

    return kernel


def transition_probabilities(
    position: Array, states: Array, logdensity_fn: Callable, num_categories: int = 2, scan: str = "random"
) -> Array:
    """Exact probabilities of one kernel step from `position` to each row of `states`.

    Random scan: (1/d) sum_i [y_-i = x_-i] p(y_i | x_-i). Systematic sweep: the product of the d single-site
    updates, which needs `states` to hold all K^d configurations (in any order).
    """
    if scan == "random":
        distance, site = hamming_neighbours(position, states)
        conditionals = jax.nn.softmax(all_site_conditional_logits(logdensity_fn, position, num_categories), axis=-1)
        dim = position.shape[0]
        move = conditionals[site, states[jnp.arange(states.shape[0]), site]] / dim
        stay = jnp.sum(jnp.take_along_axis(conditionals, position[:, None], axis=1)) / dim
        return jnp.where(distance == 0, stay, jnp.where(distance == 1, move, 0.0))
    if scan != "systematic":
        raise ValueError(f"scan must be 'random' or 'systematic', got {scan!r}.")
    return _sweep_probabilities(position, states, logdensity_fn, num_categories)


def _sweep_probabilities(position: Array, states: Array, logdensity_fn: Callable, num_categories: int) -> Array:
    """Push the point mass at `position` through the site updates 0..d-1 over all K^d states."""
    num_states, dim = states.shape
    strides = num_categories ** jnp.arange(dim - 1, -1, -1)
    codes = states @ strides
    row_of_code = jnp.zeros(num_categories**dim, jnp.int32).at[codes].set(jnp.arange(num_states, dtype=jnp.int32))
    # conditionals at every state (independent of `position`, so vmap computes them once)
    logits = jax.vmap(lambda x: all_site_conditional_logits(logdensity_fn, x, num_categories))(states)
    conditionals = jax.nn.softmax(logits, axis=-1)  # (S, d, K)
    probabilities = jnp.all(states == position, axis=1).astype(conditionals.dtype)
    for site in range(dim):
        changed = codes[:, None] + (jnp.arange(num_categories)[None, :] - states[:, site:site + 1]) * strides[site]
        incoming = probabilities[row_of_code[changed]].sum(axis=1)  # mass on y with any value at `site`
        probabilities = conditionals[jnp.arange(num_states), site, states[:, site]] * incoming
    return probabilities


spec = KernelSpec(
    "gibbs", init, build_kernel, CATEGORICAL,
    (NUM_CATEGORIES, Parameter("scan", one_of("random", "systematic"), required=False, suggested="random",
                               description="random: one uniformly chosen site per step; systematic: a sweep")),
    AUX_CACHE, transition_probabilities=transition_probabilities, split_density=True,
)
