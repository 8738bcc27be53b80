"""BlackJAX kernels in srmc: `srmc.wrap(blackjax.mala, ...)` and `srmc.base(blackjax.hmc, ...)` just work.

`srmc.wrap` and `srmc.base` pass every BlackJAX API object through `blackjax_kernel`, which returns the same
kernel in srmc's shape: ``init(position, logdensity_fn)`` and an info with ``is_nonfinite`` (a proposal whose
log density or gradient was not finite, rejected by BlackJAX's Metropolis test), so the runner's counts work.

BlackJAX infos do not all show the proposal. Where they do (HMC, GHMC, Barker: ``info.proposal``) it is read
off; for MALA and the random walks (whose ``info.proposal`` is the state *after* the accept/reject step) the
proposal is recomputed from the step's key exactly as BlackJAX draws it. Under `jax.jit` XLA merges the
recomputation with BlackJAX's own (same operations on the same inputs), so it costs nothing measurable.

GHMC needs two changes: its ``init`` draws a momentum and a slice variable from a key, which srmc's
``init(position, target)`` does not have, so they are drawn on the first step from that step's key (see
`ghmc_auxiliary_key`); and its momentum-refresh parameter, BlackJAX's ``alpha``, is called ``momentum_refresh``
here because ``alpha`` is SRMC's repellence strength.

blackjax is imported only when one of its kernels is used (``pip install "srmc[blackjax]"``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array

GHMC_AUXILIARY_SALT = 0x6A3C  # folded into the first step's key to draw GHMC's initial momentum and slice


class BlackJAXInfo(NamedTuple):
    """A BlackJAX kernel's info with the fields srmc reads; BlackJAX's own info is kept as ``inner``."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    inner: Any


@dataclasses.dataclass(frozen=True)
class KernelAdapter:
    """A kernel in srmc's BlackJAX shape: ``init(position, logdensity_fn)``, ``build_kernel() -> kernel``."""

    name: str
    init: Callable[[Array, Callable], Any]
    build_kernel: Callable[[], Callable]


def is_blackjax_api(base: Any) -> bool:
    """True for a BlackJAX sampling API object such as ``blackjax.mala`` (not for an adapter made from one)."""
    if isinstance(base, KernelAdapter):
        return False
    module = getattr(getattr(base, "init", None), "__module__", None) or ""
    return module.split(".")[0] == "blackjax"


def blackjax_kernel(api: Any) -> KernelAdapter:
    """The BlackJAX kernel `api` (e.g. ``blackjax.mala``) in srmc's shape, reporting non-finite proposals.

    Supported: ``mala``, ``hmc``, ``barker``, ``ghmc`` (parameter ``momentum_refresh`` for BlackJAX's
    ``alpha``), ``rmh`` (``transition_generator``), ``additive_step_random_walk`` (``random_step``) and
    ``irmh`` (``proposal_distribution``). Other kernels whose ``init`` takes ``(position, logdensity_fn)`` run
    too, with non-finite proposals counted where their info shows them (``proposal``, ``energy``).
    """
    try:
        import blackjax  # noqa: F401  (fails early with the install hint)
        from blackjax.mcmc import ghmc, mala, random_walk
    except ImportError as error:
        raise ImportError('BlackJAX kernels need blackjax: pip install "srmc[blackjax]"') from error
    if isinstance(api, KernelAdapter):
        return api
    if not is_blackjax_api(api):
        raise TypeError(f"blackjax_kernel takes a BlackJAX API such as blackjax.mala, got {api!r}.")
    if api.init is ghmc.init:
        return KernelAdapter("blackjax.ghmc", _ghmc_init, functools.partial(_build_ghmc_kernel, api.build_kernel))
    if api.init is mala.init:
        return _adapter("blackjax.mala", api, _mala_nonfinite)
    if api.init is random_walk.init:
        return _random_walk_adapter(api, random_walk)
    _check_init_signature(api)
    return _adapter(f"blackjax.{_module_name(api)}", api, _info_nonfinite)


def info_nonfinite(info: Any) -> Array:
    """Whether a BlackJAX info shows a non-finite proposal: a NaN acceptance rate, or a non-finite log density,
    gradient or energy of ``info.proposal`` (HMC, GHMC, Barker)."""
    flagged = jnp.isnan(info.acceptance_rate)
    proposal = getattr(info, "proposal", None)
    for value in (getattr(proposal, "logdensity", None), getattr(proposal, "logdensity_grad", None),
                  getattr(info, "energy", None)):
        if value is not None:
            flagged = flagged | ~_all_finite(value)
    return flagged


def mala_proposal(rng_key: Array, state: Any, logdensity_fn: Callable, step_size: Any) -> Any:
    """The state BlackJAX's MALA kernel proposes from `state` with `rng_key` (before its accept/reject test)."""
    from blackjax.mcmc import diffusions

    key_integrator, _ = jax.random.split(rng_key)
    return diffusions.overdamped_langevin(jax.value_and_grad(logdensity_fn))(key_integrator, state, step_size)


def random_walk_proposal(variant: str, rng_key: Array, position: Any, generator: Callable) -> Any:
    """The position BlackJAX's random-walk kernel `variant` proposes (``"rmh"``, ``"additive"``, ``"irmh"``)."""
    key_proposal, _ = jax.random.split(rng_key)
    if variant == "rmh":
        return generator(key_proposal, position)
    if variant == "additive":
        return jax.tree.map(jnp.add, position, generator(key_proposal, position))
    return generator(key_proposal)


def ghmc_auxiliary_key(first_step_key: Array) -> Array:
    """The key GHMC's initial momentum and slice are drawn from: `ghmc.init`'s ``rng_key`` on the first step."""
    return jax.random.fold_in(first_step_key, GHMC_AUXILIARY_SALT)


# -- adapters -------------------------------------------------------------------------------------------------


def _adapter(name: str, api: Any, nonfinite: Callable) -> KernelAdapter:
    """`api` with ``nonfinite(rng_key, state, logdensity_fn, info, arguments) -> bool`` added to its info."""

    def build_kernel() -> Callable:
        return _with_nonfinite(api.build_kernel(), nonfinite)

    return KernelAdapter(name, api.init, build_kernel)


def _with_nonfinite(kernel: Callable, nonfinite: Callable) -> Callable:
    signature = inspect.signature(kernel)

    @functools.wraps(kernel)
    def adapted(rng_key: Array, state: Any, logdensity_fn: Callable, *args: Any, **params: Any):
        new_state, info = kernel(rng_key, state, logdensity_fn, *args, **params)
        bound = signature.bind(rng_key, state, logdensity_fn, *args, **params)
        bound.apply_defaults()
        flag = nonfinite(rng_key, state, logdensity_fn, info, bound.arguments)
        return new_state, _srmc_info(info, flag)

    return adapted


def _srmc_info(info: Any, is_nonfinite: Array) -> BlackJAXInfo:
    is_accepted = getattr(info, "is_accepted", jnp.ones((), bool))
    return BlackJAXInfo(info.acceptance_rate, is_accepted, is_nonfinite, info)


def _info_nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, arguments: dict) -> Array:
    return info_nonfinite(info)


def _mala_nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, arguments: dict) -> Array:
    proposal = mala_proposal(rng_key, state, logdensity_fn, arguments["step_size"])
    return info_nonfinite(info) | ~_all_finite(proposal.logdensity) | ~_all_finite(proposal.logdensity_grad)


def _random_walk_adapter(api: Any, random_walk: Any) -> KernelAdapter:
    variants = {
        random_walk.build_rmh: ("rmh", "transition_generator"),
        random_walk.build_additive_step: ("additive", "random_step"),
        random_walk.build_irmh: ("irmh", "proposal_distribution"),
    }
    if api.build_kernel not in variants:
        _check_init_signature(api)
        return _adapter("blackjax.random_walk", api, _info_nonfinite)
    variant, generator_name = variants[api.build_kernel]

    def nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, arguments: dict) -> Array:
        position = random_walk_proposal(variant, rng_key, state.position, arguments[generator_name])
        return jnp.isnan(info.acceptance_rate) | ~_all_finite(logdensity_fn(position))

    names = {"rmh": "rmh", "additive": "additive_step_random_walk", "irmh": "irmh"}
    return _adapter(f"blackjax.{names[variant]}", api, nonfinite)


def _ghmc_init(position: Array, logdensity_fn: Callable) -> Any:
    """GHMC's state with its momentum and slice still to be drawn (slice NaN) on the first step."""
    from blackjax.mcmc.ghmc import GHMCState

    logdensity, logdensity_grad = jax.value_and_grad(logdensity_fn)(position)
    momentum = jax.tree.map(jnp.zeros_like, position)
    return GHMCState(position, momentum, logdensity, logdensity_grad, jnp.full((), jnp.nan, logdensity.dtype))


def _draw_ghmc_auxiliaries(rng_key: Array, state: Any) -> Any:
    """Draw momentum and slice as `blackjax.ghmc.init` does, with `ghmc_auxiliary_key`, where still undrawn."""
    from blackjax.util import generate_gaussian_noise

    key_momentum, key_slice = jax.random.split(ghmc_auxiliary_key(rng_key))
    momentum = generate_gaussian_noise(key_momentum, state.position)
    slice_ = jax.random.uniform(key_slice, minval=-1.0, maxval=1.0)
    undrawn = jnp.isnan(state.slice)
    return state._replace(
        momentum=jax.tree.map(lambda new, old: jnp.where(undrawn, new, old), momentum, state.momentum),
        slice=jnp.where(undrawn, slice_.astype(state.slice.dtype), state.slice),
    )


def _build_ghmc_kernel(build_kernel: Callable) -> Callable:
    ghmc_kernel = build_kernel()

    def kernel(rng_key: Array, state: Any, logdensity_fn: Callable, step_size: Any, momentum_inverse_scale: Any,
               momentum_refresh: Any, delta: Any):
        """BlackJAX's GHMC step; ``momentum_refresh`` is its ``alpha`` (fraction of the momentum refreshed)."""
        state = _draw_ghmc_auxiliaries(rng_key, state)
        new_state, info = ghmc_kernel(rng_key, state, logdensity_fn, step_size, momentum_inverse_scale,
                                      momentum_refresh, delta)
        return new_state, _srmc_info(info, info_nonfinite(info))

    return kernel


# -- helpers --------------------------------------------------------------------------------------------------


def _all_finite(tree: Any) -> Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves, jnp.ones((), bool))


def _check_init_signature(api: Any) -> None:
    required = [p for p in inspect.signature(api.init).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(required) > 2:
        raise TypeError(
            f"this BlackJAX kernel's init needs {[p.name for p in required]}; srmc can only call "
            "init(position, logdensity_fn). Supported: mala, hmc, barker, ghmc, rmh, additive_step_random_walk, irmh."
        )


def _module_name(api: Any) -> str:
    return api.init.__module__.rsplit(".", 1)[-1]
