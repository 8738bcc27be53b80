"""Algorithms the runner can drive: a base kernel alone (`base`) or wrapped in SRMC (`wrap`, see wrapper.py)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class Algorithm:
    """A sampler bound to its parameters but not to a target.

    ``init(position, target) -> state`` and ``step(rng_key, state, target) -> (state, info)``; both act on one
    chain (the runner vmaps them). ``info`` has at least ``acceptance_rate``. ``check_run(total_steps)`` raises
    before compilation if the algorithm cannot run that long (e.g. a schedule that turns negative).
    """

    init: Callable[[Array, Any], Any]
    step: Callable[[Array, Any, Any], tuple[Any, Any]]
    name: str
    params: dict = dataclasses.field(default_factory=dict)
    check_run: Callable[[int], None] = lambda total_steps: None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if not callable(v))
        return f"{self.name}({shown})"


def state_position(state: Any) -> Array:
    """The position of a base-kernel state or of an SRMC state (which holds the base state as `inner`)."""
    return state.inner.position if hasattr(state, "inner") else state.position


def nonfinite_proposal(info: Any) -> Array:
    """Whether a step's proposal was rejected for a non-finite log density, read off any kernel's info.

    srmc kernels report ``is_nonfinite``; BlackJAX infos carry the ``proposal`` state (random walk, Barker, HMC)
    or only ``acceptance_rate``, which is NaN when the log ratio was NaN.
    """
    if hasattr(info, "is_nonfinite"):
        return info.is_nonfinite
    flagged = jnp.isnan(info.acceptance_rate)
    proposal_logdensity = getattr(getattr(info, "proposal", None), "logdensity", None)
    if proposal_logdensity is not None:
        flagged = flagged | ~jnp.isfinite(proposal_logdensity)
    return flagged


def resolve_kernel(base: Any) -> tuple[Callable, Callable]:
    """(init, kernel) of a BlackJAX-shaped module or object with `init` and `build_kernel`."""
    if not (callable(getattr(base, "init", None)) and callable(getattr(base, "build_kernel", None))):
        raise TypeError(
            "base must provide init(position, logdensity_fn) and build_kernel() (e.g. samplers.mala or "
            f"blackjax.mala), got {base!r}."
        )
    return base.init, base.build_kernel()


def check_kernel_params(kernel: Callable, params: dict) -> None:
    """Raise before compilation on unknown, missing or invalid kernel parameters (naming the argument)."""
    signature = inspect.signature(kernel)
    parameters = list(signature.parameters.values())[3:]
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    known = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = set(params) - known
    if unknown and not accepts_any:
        raise TypeError(f"Unknown kernel parameter(s) {sorted(unknown)}; this kernel takes {sorted(known)}.")
    missing = [p.name for p in parameters if p.name in known and p.default is p.empty and p.name not in params]
    if missing:
        raise TypeError(f"Missing kernel parameter(s) {missing}; pass them as keyword arguments, e.g. step_size=0.1.")
    for name, value in params.items():
        _check_param_value(name, value)


def _check_param_value(name: str, value: Any) -> None:
    if isinstance(value, jax.core.Tracer) or callable(value):
        return
    if "step_size" in name or name in ("inverse_mass_matrix", "damping", "friction"):
        array = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(array)) or np.any(array <= 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}.")
    if name in ("num_integration_steps", "num_steps"):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def base(kernel_module: Any, **params: Any) -> Algorithm:
    """Run a base kernel directly on the target (no repellence), e.g. ``base(samplers.mala, step_size=0.1)``."""
    base_init, kernel = resolve_kernel(kernel_module)
    check_kernel_params(kernel, params)

    def init(position: Array, target: Any) -> Any:
        return base_init(position, target.logdensity)

    def step(rng_key: Array, state: Any, target: Any) -> tuple[Any, Any]:
        return kernel(rng_key, state, target.logdensity, **params)

    return Algorithm(init, step, _kernel_name(kernel_module), dict(params))


def _kernel_name(kernel_module: Any) -> str:
    """'mala' for samplers.mala and for blackjax.mala (named after the module that defines its `init`)."""
    name = getattr(kernel_module, "__name__", None) or getattr(kernel_module.init, "__module__", None)
    return (name or type(kernel_module).__name__).rsplit(".", 1)[-1]
