"""Kernel records, resolved once: what every layer (wrap, base, runner, CLI, benchmark, testing) knows of a kernel.

`resolve_kernel` turns whatever a user passes as a base kernel into a `KernelSpec` (`srmc.samplers.spec`):

- a `KernelSpec` itself;
- a module or object that declares one as ``spec`` (every kernel in `srmc.samplers`);
- a BlackJAX API object such as ``blackjax.mala`` (its record comes from `srmc.interop`);
- any other BlackJAX-shaped module or object with ``init(position, logdensity_fn)`` and ``build_kernel()``: a
  kernel of your own without a record. It gets the BlackJAX conventions: a continuous state space, parameters
  passed through unchecked (a wrong one fails when the first step is traced, before compilation, naming the
  algorithm), the state fields ``logdensity`` / ``logdensity_grad`` as its cache where its state has them, and an
  info whose ``is_accepted`` / ``is_nonfinite`` default to ``True`` / ``isnan(acceptance_rate)`` where it lacks
  them. Declare a `KernelSpec` to say more (a discrete space, parameter checks, exact transition probabilities).

The parameter checks and the filling-in of target-given parameters (``num_categories``) read the record only.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc import interop, samplers
from srmc.method.algorithm import Unset
from srmc.samplers.spec import CONTINUOUS, VALUE_AND_GRADIENT_CACHE, CacheFields, KernelSpec
from srmc.targets import Target

Array = jax.Array


class StepInfo(NamedTuple):
    """The fields srmc reads from a kernel of your own whose info lacks some (its own info is ``inner``)."""

    acceptance_rate: Array
    is_accepted: Array
    is_nonfinite: Array
    inner: Any


LIBRARY_KERNELS = ("nuts",)  # kernels named by the CLI that come from BlackJAX (`library_kernel`)


def library_kernel(name: str) -> KernelSpec | None:
    """The record of the library kernel a name stands for (``"nuts"``: BlackJAX's NUTS, ``blackjax.nuts``, the
    recommended kernel for NumPyro models and general posteriors), None for a name not in `LIBRARY_KERNELS`; an
    ImportError with the install hint where BlackJAX is missing."""
    if name not in LIBRARY_KERNELS:
        return None
    try:
        import blackjax
    except ImportError as error:
        raise ImportError(f'kernel {name!r} is BlackJAX\'s: pip install "srmc[blackjax]"') from error
    return interop.blackjax_kernel(getattr(blackjax, name))


def resolve_kernel(base: Any) -> KernelSpec:
    """The `KernelSpec` of `base` (see the module doc for what is accepted)."""
    if isinstance(base, KernelSpec):
        return base
    declared = getattr(base, "spec", None)
    if isinstance(declared, KernelSpec):
        return declared
    if interop.is_blackjax_api(base):
        return interop.blackjax_kernel(base)
    if not (callable(getattr(base, "init", None)) and callable(getattr(base, "build_kernel", None))):
        raise TypeError(
            "base must be a kernel with init(position, logdensity_fn) and build_kernel() (e.g. srmc.samplers.mala or "
            f"blackjax.mala) or a srmc.samplers.KernelSpec, got {base!r}."
        )
    return _conventional_spec(base)


def _conventional_spec(base: Any) -> KernelSpec:
    """The record of a BlackJAX-shaped kernel that declares none (see the module doc)."""
    name = getattr(base, "__name__", None) or getattr(base.init, "__module__", None) or type(base).__name__
    return KernelSpec(
        name=name.rsplit(".", 1)[-1], init=base.init,
        build_kernel=functools.partial(_conventional_kernel, base.build_kernel), state_space=CONTINUOUS,
        cache=VALUE_AND_GRADIENT_CACHE, conventional=True,
    )


def _conventional_kernel(build_kernel: Callable[[], Callable]) -> Callable:
    kernel = build_kernel()

    @functools.wraps(kernel)
    def step(rng_key: Array, state: Any, logdensity_fn: Callable, **params: Any) -> tuple[Any, StepInfo]:
        new_state, info = kernel(rng_key, state, logdensity_fn, **params)
        acceptance = info.acceptance_rate
        is_accepted = getattr(info, "is_accepted", jnp.ones((), bool))
        is_nonfinite = getattr(info, "is_nonfinite", jnp.isnan(acceptance))
        return new_state, StepInfo(acceptance, is_accepted, is_nonfinite, info)

    return step


def state_cache(spec: KernelSpec, state: Any) -> CacheFields:
    """The cache fields of `spec` that `state` has (a record's declared fields must all be there)."""
    fields = getattr(state, "_fields", None)
    if fields is None or "position" not in fields or not hasattr(state, "_replace"):
        raise TypeError(f"kernel {spec.name}: its state must be a NamedTuple with a `position` field (BlackJAX shape).")
    declared = [name for name in spec.cache if name is not None]
    missing = [name for name in declared if name not in fields]
    if missing and not spec.conventional:
        raise TypeError(f"kernel {spec.name} declares the cache field(s) {missing}, which its state "
                        f"{type(state).__name__} lacks.")
    return CacheFields(*(name if name in fields else None for name in spec.cache))


def check_params(spec: KernelSpec, params: dict) -> None:
    """Raise before compilation on unknown, missing or invalid parameters of `spec` (naming the argument)."""
    declared = spec.parameter_names
    unknown = sorted(set(params) - set(declared))
    if unknown and not spec.conventional:
        raise TypeError(f"Unknown kernel parameter(s) {unknown}; kernel {spec.name} takes {sorted(declared)}.")
    adapted = unset_adapted_params(spec, params)
    missing = [p.name for p in spec.parameters
               if p.required and not p.from_target and p.name not in params and p.name not in adapted]
    if missing:
        raise TypeError(f"Missing kernel parameter(s) {missing} of kernel {spec.name}; pass them as keyword "
                        "arguments, e.g. step_size=0.1.")
    for parameter in spec.parameters:
        value = params.get(parameter.name)
        if parameter.check is not None and parameter.name in params and not _is_traced_or_callable(value):
            parameter.check(value, parameter.name)


def unset_adapted_params(spec: KernelSpec, params: dict) -> tuple[str, ...]:
    """The parameters a warm-up adapts (the record's `Tuning`) that were not given: the step size (the warm-up
    starts from its suggested value) and a required inverse mass matrix (it starts from the identity); `srmc.sample`
    then warms up by default."""
    if spec.tuning is None:
        return ()
    mass = spec.parameter(spec.tuning.inverse_mass_matrix) if spec.tuning.inverse_mass_matrix else None
    adapted = (spec.tuning.step_size, mass.name if mass is not None and mass.required else None)
    return tuple(name for name in adapted if name is not None and name not in params)


def is_static_value(value: Any) -> bool:
    """Whether a kernel parameter's value is part of the program rather than data: None, a callable, a bool, an
    int (it fixes a loop length) or a string."""
    return value is None or callable(value) or isinstance(value, (bool, int, str, np.integer))


def split_kernel_params(spec: KernelSpec, params: dict) -> tuple[dict, tuple]:
    """(data, static) of a base kernel's parameters: numbers and arrays are data (traced at every step, so other
    values reuse the compiled program), ints, strings, None and callables static (sorted ``(name, value)``
    pairs). The parameters a warm-up adapts (the record's `Tuning`) are always data, and an `Unset` where not
    given (`unset_adapted_params`)."""
    adapted = adapted_param_names(spec)
    data = {name: value for name, value in params.items() if name in adapted or not is_static_value(value)}
    static = tuple(sorted((name, value) for name, value in params.items() if name not in data))
    for name in unset_adapted_params(spec, params):
        data[name] = Unset(name, f"pass {name}=... (a starting value) with the kernel's parameters, or warm up")
    return data, static


def adapted_param_names(spec: KernelSpec) -> tuple[str, ...]:
    """The parameters of `spec` a warm-up adapts: its record's step size and inverse mass matrix."""
    if spec.tuning is None:
        return ()
    return tuple(name for name in (spec.tuning.step_size, spec.tuning.inverse_mass_matrix) if name is not None)


def _is_traced_or_callable(value: Any) -> bool:
    """A callable, or an abstract value being traced (it has no concrete value to check)."""
    if callable(value):
        return True
    try:
        np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return True
    except (TypeError, ValueError):
        return False
    return False


def check_fits(spec: KernelSpec, target: Target) -> None:
    """A ValueError before compilation when the kernel's state space is not the target's (naming the kernels
    that fit)."""
    if spec.state_space != target.space.kind:
        suitable = sorted(m.spec.name for m in samplers.KERNELS if m.spec.state_space == target.space.kind)
        extra = " or a BlackJAX kernel" if target.space.kind == CONTINUOUS else ""
        raise ValueError(f"{spec.name} is a {space_word(spec.state_space)} kernel but target {target.name} is "
                         f"{target.kind}; use one of {', '.join(suitable)}{extra}.")


def space_word(state_space: str) -> str:
    """``"continuous"`` or ``"discrete"``: how messages name a kernel's state space."""
    return "continuous" if state_space == CONTINUOUS else "discrete"


def target_params(spec: KernelSpec, params: dict, target: Target) -> dict:
    """`params` with the parameters the target gives (``num_categories``), checked against it."""
    check_fits(spec, target)
    filled = dict(params)
    for parameter in spec.parameters:
        if parameter.from_target:
            value = getattr(target.space, parameter.name)
            given = params.get(parameter.name, value)
            if given != value:
                raise ValueError(f"{parameter.name}={given} but target {target.name} has {parameter.name}={value}.")
            filled[parameter.name] = value
    return filled


JITTER_SALT = 0x717E  # the step-size jitter of a step is drawn from fold_in(step_key, JITTER_SALT)


def check_step_jitter(spec: KernelSpec, step_jitter: float | None) -> float:
    """The step jitter to use: the record's default for None; a ValueError unless in [0, 1) and tunable."""
    if step_jitter is None:
        return spec.tuning.step_jitter if spec.tuning is not None else 0.0
    if isinstance(step_jitter, bool) or not isinstance(step_jitter, (int, float)) or not 0 <= step_jitter < 1:
        raise ValueError(f"step_jitter must be a number in [0, 1), got {step_jitter!r}.")
    if step_jitter and spec.tuning is None:
        raise ValueError(f"step_jitter={step_jitter}: kernel {spec.name} has no step size to jitter.")
    return float(step_jitter)


def jittered(spec: KernelSpec, params: dict, rng_key: Array, step_jitter: float) -> dict:
    """`params` with the step size multiplied by U(1 - step_jitter, 1 + step_jitter) (unchanged for 0)."""
    if not step_jitter:
        return params
    name = spec.tuning.step_size
    factor = jax.random.uniform(jax.random.fold_in(rng_key, JITTER_SALT), (), minval=1.0 - step_jitter,
                                maxval=1.0 + step_jitter)
    return {**params, name: params[name] * factor}


def init_params(spec: KernelSpec, params: dict) -> dict:
    """The parameters (already filled by `target_params`) that the kernel's ``init`` takes too."""
    return {name: params[name] for name in spec.init_parameters if name in params}
