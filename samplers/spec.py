"""What a kernel declares about itself: a `KernelSpec` record that srmc reads once (it never sniffs a kernel).

Every kernel module here ends with ``spec = KernelSpec(...)``: its name, ``init`` and ``build_kernel``, the state
space it samples, its parameters (each with its own check), the state fields that cache the log density and its
gradient (which a wrapper must refresh when it changes the log density between steps), and, for discrete kernels,
its exact ``transition_probabilities``. BlackJAX kernels get theirs from `srmc.interop`; a kernel of your own can
declare one the same way (see ``KernelSpec``).

Contract of a kernel with a record: ``init(position, logdensity_fn, **init_params) -> state`` (a NamedTuple with a
``position`` field), ``build_kernel() -> kernel(rng_key, state, logdensity_fn, **params) -> (state, info)``, and
the info has ``acceptance_rate`` (float in [0, 1]), ``is_accepted`` (bool) and ``is_nonfinite`` (bool: the
proposal's log density or gradient was not finite and it was rejected).

A kernel whose record declares ``split_density=True`` also accepts a `Density` as ``logdensity_fn``: the log
density split by what a point needs (its value, its gradient, or both), each evaluation handing back the caller's
auxiliary values at the point, which the kernel keeps in its cache's ``aux`` field. srmc passes one to such
kernels (and a plain callable to every other), so that inner leapfrog steps skip the surrogate's value and the
history reads log pi and the score at the accepted point off the state.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

CONTINUOUS = "continuous"
CATEGORICAL = "categorical"  # {0..K-1}^d, binary included (K = 2)
STATE_SPACES = (CONTINUOUS, CATEGORICAL)


class Parameter(NamedTuple):
    """One kernel parameter.

    Attributes:
      name: the keyword the kernel takes.
      check: ``check(value, name)`` raises a ValueError naming the parameter for a bad concrete value (traced
        values and callables are not checked).
      required: the kernel has no default for it.
      from_target: filled in from the target by srmc (``num_categories``), checked against it when given.
      suggested: a starting value for tools that need one (the CLI, warm-up adaptation); None: no suggestion.
      description: one line for help texts.
    """

    name: str
    check: Callable[[Any, str], None] | None = None
    required: bool = True
    from_target: bool = False
    suggested: Any = None
    description: str = ""


class CacheFields(NamedTuple):
    """Names of the state fields that cache ``log pi(position)``, its gradient and a `Density`'s auxiliary values
    at the position (None: not cached).

    On a continuous space the gradient is ``grad log pi``; a discrete gradient kernel caches the gradient of its
    own relaxation, which only its ``init`` knows how to compute. ``aux`` holds what the `Density` the state was
    computed with handed back (``()`` under a plain callable, which keeps the state's aux as it was).
    """

    logdensity: str | None = None
    gradient: str | None = None
    aux: str | None = None


NO_CACHE = CacheFields()
VALUE_CACHE = CacheFields("logdensity")
VALUE_AND_GRADIENT_CACHE = CacheFields("logdensity", "logdensity_grad")
AUX_CACHE = CacheFields(aux="aux")
VALUE_AUX_CACHE = CacheFields("logdensity", aux="aux")
VALUE_GRADIENT_AUX_CACHE = CacheFields("logdensity", "logdensity_grad", "aux")


class Density(NamedTuple):
    """A log density split by what a point needs, for kernels that declare ``split_density`` (see the module doc).

    Attributes:
      value: ``x -> (log density, aux)``: a point whose value alone is needed (a random-walk proposal, a Gibbs
        candidate).
      value_and_grad: ``x -> (log density, gradient, aux)``: a point that needs both (a Langevin proposal, the end
        of a trajectory).
      grad: ``x -> gradient``: a point whose gradient alone is needed (the inner steps of a trajectory).

    ``aux`` is the caller's (srmc: log pi and the score at x); a kernel stores the aux of the point it moves to in
    its cache's ``aux`` field and never reads it.
    """

    value: Callable[[Any], tuple[Any, Any]]
    value_and_grad: Callable[[Any], tuple[Any, Any, Any]]
    grad: Callable[[Any], Any]


def as_density(logdensity_fn: Callable | Density, aux: Any = ()) -> Density:
    """`logdensity_fn` itself if it is a `Density`, else the plain callable split by autodiff (``jax.grad``,
    ``jax.value_and_grad``) with `aux` (the state's, kept as it was) as every point's aux."""
    if isinstance(logdensity_fn, Density):
        return logdensity_fn
    value_and_grad = jax.value_and_grad(logdensity_fn)
    return Density(lambda x: (jnp.asarray(logdensity_fn(x)), aux), lambda x: (*value_and_grad(x), aux),
                   jax.grad(logdensity_fn))


class Tuning(NamedTuple):
    """What a warm-up may adapt: the step-size parameter (dual averaging towards `target_acceptance`) and the
    parameter that takes a diagonal inverse mass matrix (set from the warm-up's variance estimates).

    `step_jitter`: the default relative jitter of the step size, U(1 - j, 1 + j) at every step, for kernels whose
    fixed-length trajectories can resonate (HMC: a direction whose trajectory nears half a period makes successive
    draws anti-correlated, which SRMC's history feedback amplifies; jitter averages the resonance away).
    """

    target_acceptance: float
    step_size: str = "step_size"
    inverse_mass_matrix: str | None = None
    step_jitter: float = 0.0


class KernelSpec(NamedTuple):
    """The record of a BlackJAX-shaped kernel (see the module doc for the contract).

    Attributes:
      name: e.g. ``"mala"`` or ``"blackjax.hmc"``.
      init: ``init(position, logdensity_fn, **init_params) -> state``.
      build_kernel: ``() -> kernel(rng_key, state, logdensity_fn, **params) -> (state, info)``.
      state_space: `CONTINUOUS` or `CATEGORICAL`.
      parameters: every parameter the kernel takes after ``logdensity_fn``.
      cache: the state fields caching the log density and its gradient.
      init_parameters: names of the parameters that ``init`` takes too (e.g. ``num_categories``).
      transition_probabilities: discrete kernels: ``(position, states, logdensity_fn, **params) -> (num_states,)``
        exact one-step probabilities, for invariance checks by enumeration; else None.
      momentum: the state field holding a momentum that persists between steps (kinetic Langevin), which
        invariance checks must draw from N(0, M); None for kernels that draw it afresh every step.
      tuning: what a warm-up adapts (`Tuning`), or None for kernels with nothing to tune (Gibbs).
      conventional: a record made for a kernel that declares none (BlackJAX conventions, see
        `srmc.method.kernels`): its parameters are not checked, and its cache fields and info fields are used
        where its state and info have them.
      split_density: the kernel accepts a `Density` as ``logdensity_fn`` (as well as a plain callable) and keeps
        its aux in the cache's ``aux`` field; False: it gets a plain callable.
    """

    name: str
    init: Callable[..., Any]
    build_kernel: Callable[[], Callable]
    state_space: str
    parameters: tuple[Parameter, ...] = ()
    cache: CacheFields = NO_CACHE
    init_parameters: tuple[str, ...] = ()
    transition_probabilities: Callable[..., Any] | None = None
    momentum: str | None = None
    tuning: Tuning | None = None
    conventional: bool = False
    split_density: bool = False

    def parameter(self, name: str) -> Parameter | None:
        """The declared parameter `name`, or None."""
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the declared parameters, in order."""
        return tuple(p.name for p in self.parameters)


# --- parameter checks (each raises a ValueError naming the parameter) --------------------------------------------


def _as_float_array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def positive(value: Any, name: str) -> None:
    """A positive finite number or array (a dense matrix: positive diagonal); objects that are not arrays pass."""
    array = _as_float_array(value)
    if array is None:
        return  # e.g. a BlackJAX Metric object: its kernel checks it
    checked = np.diagonal(array) if array.ndim == 2 else array
    if not np.all(np.isfinite(array)) or np.any(checked <= 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}.")


def positive_int(value: Any, name: str) -> None:
    """A Python integer >= 1 (it fixes a loop length at compile time)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def unit_interval(value: Any, name: str) -> None:
    """A number in (0, 1]."""
    array = _as_float_array(value)
    if array is not None and not np.all((array > 0) & (array <= 1)):
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}.")


def one_of(*choices: str) -> Callable[[Any, str], None]:
    """A check that the value is one of `choices`."""

    def check(value: Any, name: str) -> None:
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}.")

    return check


def at_least_two(value: Any, name: str) -> None:
    """An integer >= 2 (number of categories)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{name} must be an integer >= 2, got {value!r}.")


# --- parameters several kernels share ---------------------------------------------------------------------------

STEP_SIZE = Parameter("step_size", positive, description="integrator or proposal step size")
NUM_CATEGORIES = Parameter("num_categories", at_least_two, required=False, from_target=True,
                           description="values per site (filled in from the target)")
INVERSE_MASS_MATRIX = Parameter("inverse_mass_matrix", positive, required=False,
                                description="inverse mass matrix / preconditioner, diagonal (d,) or dense (d, d); "
                                            "default: identity")
NUM_INTEGRATION_STEPS = Parameter("num_integration_steps", positive_int, suggested=10,
                                  description="leapfrog steps per transition")
