"""Algorithms the runner can drive: a base kernel alone (`base`) or wrapped in SRMC (`wrap`, see wrapper.py)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from srmc import interop

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
    """Whether a step's proposal was rejected for a non-finite log density or gradient, read off its info.

    srmc's kernels and BlackJAX's (through `srmc.interop`) report ``is_nonfinite``; for any other kernel a NaN
    ``acceptance_rate`` is the only sign.
    """
    if hasattr(info, "is_nonfinite"):
        return info.is_nonfinite
    return jnp.isnan(info.acceptance_rate)


def resolve_kernel(base: Any) -> tuple[Callable, Callable]:
    """(init, kernel) of a BlackJAX-shaped module or object with `init` and `build_kernel`.

    BlackJAX's own API objects (``blackjax.mala``, ...) go through `srmc.interop.blackjax_kernel` first.
    """
    if interop.is_blackjax_api(base):
        base = interop.blackjax_kernel(base)
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
    if "step_size" in name or name in ("inverse_mass_matrix", "momentum_inverse_scale", "damping", "friction"):
        array = _as_float_array(value)
        if array is None:
            return  # e.g. a BlackJAX Metric object: its kernel checks it
        checked = np.diagonal(array) if array.ndim == 2 else array  # dense mass matrix: positive diagonal
        if not np.all(np.isfinite(array)) or np.any(checked <= 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}.")
    if name == "momentum_refresh":
        array = _as_float_array(value)
        if array is not None and not np.all((array > 0) & (array <= 1)):
            raise ValueError(f"momentum_refresh (BlackJAX ghmc's alpha) must lie in (0, 1], got {value!r}.")
    if name in ("num_integration_steps", "num_steps"):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _as_float_array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def target_params(function: Callable, params: dict, target: Any, name: str = "kernel") -> dict:
    """`params` plus ``num_categories`` from `target` when `function` takes it (checked against the target).

    Raises a ValueError, before anything is compiled, when a discrete kernel meets a continuous target or the
    other way round, or when a given ``num_categories`` disagrees with the target's.
    """
    takes_categories = "num_categories" in inspect.signature(function).parameters
    discrete_target = getattr(target, "kind", "continuous") != "continuous"
    if takes_categories != discrete_target:
        kind = "a discrete" if takes_categories else "a continuous"
        hint = ("rwm, mala, hmc, kinetic_langevin or a BlackJAX kernel" if not discrete_target
                else "gibbs, discrete_metropolis, gwg or dmala")
        raise ValueError(f"{name} is {kind} kernel but target {target.name} is {target.kind}; use {hint}.")
    if not takes_categories:
        return params
    given = params.get("num_categories", target.num_categories)
    if given != target.num_categories:
        raise ValueError(f"num_categories={given} but target {target.name} has {target.num_categories} categories.")
    return {**params, "num_categories": target.num_categories}


def init_params(init: Callable, target: Any) -> dict:
    """``{"num_categories": K}`` for a discrete kernel's init that takes it (gwg, dmala), else ``{}``."""
    if getattr(target, "kind", "continuous") != "continuous" and "num_categories" in inspect.signature(init).parameters:
        return {"num_categories": target.num_categories}
    return {}


def base(kernel_module: Any, **params: Any) -> Algorithm:
    """Run a base kernel directly on the target (no repellence), e.g. ``base(samplers.mala, step_size=0.1)``."""
    base_init, kernel = resolve_kernel(kernel_module)
    check_kernel_params(kernel, params)
    name = _kernel_name(kernel_module)

    def init(position: Array, target: Any) -> Any:
        target_params(kernel, params, target, name)  # fails early on a kernel that does not fit the target
        return base_init(position, target.logdensity, **init_params(base_init, target))

    def step(rng_key: Array, state: Any, target: Any) -> tuple[Any, Any]:
        return kernel(rng_key, state, target.logdensity, **target_params(kernel, params, target, name))

    return Algorithm(init, step, name, dict(params))


def _kernel_name(kernel_module: Any) -> str:
    """'mala' for samplers.mala, 'blackjax.mala' for blackjax.mala (else the module that defines `init`)."""
    if interop.is_blackjax_api(kernel_module):
        kernel_module = interop.blackjax_kernel(kernel_module)
    if isinstance(kernel_module, interop.KernelAdapter):
        return kernel_module.name
    name = getattr(kernel_module, "__name__", None) or getattr(kernel_module.init, "__module__", None)
    return (name or type(kernel_module).__name__).rsplit(".", 1)[-1]
