"""BlackJAX kernels in srmc: `srmc.wrap(blackjax.mala, ...)` and `srmc.base(blackjax.hmc, ...)` just work.

`srmc.wrap` and `srmc.base` resolve every BlackJAX API object with `blackjax_kernel`, which returns its record (a
`srmc.samplers.spec.KernelSpec`): the kernel in srmc's shape, ``init(position, logdensity_fn)`` and an info with
``is_nonfinite`` (a proposal whose log density or gradient was not finite, rejected by BlackJAX's Metropolis
test), its parameters with their checks, and its cache fields.

BlackJAX infos do not all show the proposal. Where they do (HMC, NUTS, GHMC, Barker: ``info.proposal``) it is read
off; for MALA and the random walks (whose ``info.proposal`` is the state *after* the accept/reject step) the
proposal is recomputed from the step's key exactly as BlackJAX draws it. Under `jax.jit` XLA merges the
recomputation with BlackJAX's own (same operations on the same inputs), so it costs nothing measurable.

GHMC needs two changes: its ``init`` draws a momentum and a slice variable from a key, which srmc's
``init(position, target)`` does not have, so they are drawn on the first step from that step's key (see
`ghmc_auxiliary_key`); and its momentum-refresh parameter, BlackJAX's ``alpha``, is called ``momentum_refresh``
here because ``alpha`` is SRMC's repellence strength.

NUTS runs as a base kernel too; under SRMC its trajectory length adapts to the tilted target pi_theta_n, not to
pi, so it changes from step to step as theta moves (the chain still targets each step's surrogate exactly).

A BlackJAX kernel without a record here still runs with BlackJAX's conventions (parameters unchecked, non-finite
proposals counted where its info shows them), provided its ``init`` takes ``(position, logdensity_fn)``.

blackjax is imported only when one of its kernels is used (``pip install "srmc[blackjax]"``).
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from srmc.samplers.spec import (
    CONTINUOUS,
    INVERSE_MASS_MATRIX,
    NUM_INTEGRATION_STEPS,
    STEP_SIZE,
    VALUE_AND_GRADIENT_CACHE,
    VALUE_CACHE,
    CacheFields,
    KernelSpec,
    Parameter,
    Tuning,
    positive,
    positive_int,
    unit_interval,
)

Array = jax.Array

GHMC_AUXILIARY_SALT = 0x6A3C  # folded into the first step's key to draw GHMC's initial momentum and slice

SUPPORTED = ("mala", "hmc", "nuts", "barker", "ghmc", "rmh", "additive_step_random_walk", "irmh")


class BlackJAXInfo(NamedTuple):
    """A BlackJAX kernel's info with the fields srmc reads; BlackJAX's own info is kept as ``inner``."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    inner: Any


def is_blackjax_api(base: Any) -> bool:
    """True for a BlackJAX sampling API object such as ``blackjax.mala``."""
    blackjax = sys.modules.get("blackjax")  # a BlackJAX object exists only once blackjax was imported
    return blackjax is not None and isinstance(base, blackjax.GenerateSamplingAPI)


def blackjax_kernel(api: Any) -> KernelSpec:
    """The record of the BlackJAX kernel `api` (e.g. ``blackjax.mala``), its kernel reporting non-finite proposals.

    Declared: ``mala``, ``hmc``, ``nuts``, ``barker``, ``ghmc`` (parameter ``momentum_refresh`` for BlackJAX's
    ``alpha``), ``rmh`` (``transition_generator``), ``additive_step_random_walk`` (``random_step``) and
    ``irmh`` (``proposal_distribution``). Other kernels whose ``init`` takes ``(position, logdensity_fn)`` run
    too, with non-finite proposals counted where their info shows them (``proposal``, ``energy``).
    """
    try:
        import blackjax  # noqa: F401  (fails early with the install hint)
    except ImportError as error:
        raise ImportError('BlackJAX kernels need blackjax: pip install "srmc[blackjax]"') from error
    if not is_blackjax_api(api):
        raise TypeError(f"blackjax_kernel takes a BlackJAX API such as blackjax.mala, got {api!r}.")
    for name in SUPPORTED:
        if getattr(blackjax, name) is api:
            return _RECORDS[name](api)
    return KernelSpec(f"blackjax.{api.build_kernel.__module__.rsplit('.', 1)[-1]}", api.init,
                      _kernel_builder(api, _info_nonfinite), CONTINUOUS, cache=VALUE_AND_GRADIENT_CACHE,
                      conventional=True)


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


# -- records ---------------------------------------------------------------------------------------------------

STEP_SIZE_TO_ADAPT = STEP_SIZE._replace(suggested=0.1)
REQUIRED_INVERSE_MASS = INVERSE_MASS_MATRIX._replace(required=True,
                                                     description="inverse mass matrix (BlackJAX: required)")


def _kernel_builder(api: Any, nonfinite: Callable) -> Callable[[], Callable]:
    """``build_kernel`` of `api` whose kernel adds ``nonfinite(rng_key, state, logdensity_fn, info, params)``."""

    def build_kernel() -> Callable:
        kernel = api.build_kernel()

        @functools.wraps(kernel)
        def adapted(rng_key: Array, state: Any, logdensity_fn: Callable, **params: Any):
            new_state, info = kernel(rng_key, state, logdensity_fn, **params)
            return new_state, _srmc_info(info, nonfinite(rng_key, state, logdensity_fn, info, params))

        return adapted

    return build_kernel


def _record(name: str, nonfinite: Callable, parameters: tuple[Parameter, ...], cache: CacheFields,
            tuning: Tuning | None = None) -> Callable[[Any], KernelSpec]:
    def make(api: Any) -> KernelSpec:
        return KernelSpec(f"blackjax.{name}", api.init, _kernel_builder(api, nonfinite), CONTINUOUS, parameters, cache,
                          tuning=tuning)

    return make


def _srmc_info(info: Any, is_nonfinite: Array) -> BlackJAXInfo:
    is_accepted = getattr(info, "is_accepted", jnp.ones((), bool))  # BlackJAX infos without it always move
    return BlackJAXInfo(info.acceptance_rate, is_accepted, is_nonfinite, info)


def _info_nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, params: dict) -> Array:
    return info_nonfinite(info)


def _mala_nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, params: dict) -> Array:
    proposal = mala_proposal(rng_key, state, logdensity_fn, params["step_size"])
    return info_nonfinite(info) | ~_all_finite(proposal.logdensity) | ~_all_finite(proposal.logdensity_grad)


def _random_walk_nonfinite(variant: str, generator_name: str) -> Callable:
    def nonfinite(rng_key: Array, state: Any, logdensity_fn: Callable, info: Any, params: dict) -> Array:
        position = random_walk_proposal(variant, rng_key, state.position, params[generator_name])
        return jnp.isnan(info.acceptance_rate) | ~_all_finite(logdensity_fn(position))

    return nonfinite


def _callable(description: str, required: bool = True) -> Callable[[str], Parameter]:
    return lambda name: Parameter(name, None, required=required, description=description)


def _ghmc_record(api: Any) -> KernelSpec:
    parameters = (STEP_SIZE_TO_ADAPT, Parameter("momentum_inverse_scale", positive, description="1 / sqrt(mass)"),
                  Parameter("momentum_refresh", unit_interval, description="BlackJAX ghmc's alpha: share of the "
                            "momentum refreshed per step"),
                  Parameter("delta", positive, description="slice variable's drift"))
    return KernelSpec("blackjax.ghmc", _ghmc_init, functools.partial(_build_ghmc_kernel, api.build_kernel),
                      CONTINUOUS, parameters, VALUE_AND_GRADIENT_CACHE, momentum="momentum", tuning=Tuning(0.8))


_RECORDS: dict[str, Callable[[Any], KernelSpec]] = {
    "mala": _record("mala", _mala_nonfinite, (STEP_SIZE_TO_ADAPT,), VALUE_AND_GRADIENT_CACHE, Tuning(0.574)),
    "hmc": _record("hmc", _info_nonfinite, (STEP_SIZE_TO_ADAPT, REQUIRED_INVERSE_MASS, NUM_INTEGRATION_STEPS),
                   VALUE_AND_GRADIENT_CACHE, Tuning(0.8, inverse_mass_matrix="inverse_mass_matrix", step_jitter=0.3)),
    "nuts": _record("nuts", _info_nonfinite,
                    (STEP_SIZE_TO_ADAPT, REQUIRED_INVERSE_MASS,
                     Parameter("max_num_doublings", positive_int, required=False, description="tree depth limit")),
                    VALUE_AND_GRADIENT_CACHE, Tuning(0.8, inverse_mass_matrix="inverse_mass_matrix")),
    "barker": _record("barker", _info_nonfinite, (STEP_SIZE_TO_ADAPT, INVERSE_MASS_MATRIX), VALUE_AND_GRADIENT_CACHE,
                      Tuning(0.574, inverse_mass_matrix="inverse_mass_matrix")),
    "ghmc": _ghmc_record,
    "rmh": _record("rmh", _random_walk_nonfinite("rmh", "transition_generator"),
                   (_callable("(rng_key, position) -> proposed position")("transition_generator"),
                    _callable("log q(x' | x), for asymmetric proposals", False)("proposal_logdensity_fn")),
                   VALUE_CACHE),
    "additive_step_random_walk": _record(
        "additive_step_random_walk", _random_walk_nonfinite("additive", "random_step"),
        (_callable("(rng_key, position) -> step, e.g. blackjax.mcmc.random_walk.normal(sigma)")("random_step"),),
        VALUE_CACHE),
    "irmh": _record("irmh", _random_walk_nonfinite("irmh", "proposal_distribution"),
                    (_callable("rng_key -> proposed position")("proposal_distribution"),
                     _callable("log q(x'), for a proposal that is not uniform", False)("proposal_logdensity_fn")),
                    VALUE_CACHE),
}


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
