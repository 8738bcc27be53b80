"""The base kernel alone as an srmc algorithm: ``srmc.base(samplers.mala, step_size=0.1)``.

Three layers, as BlackJAX: `init` (the kernel's own state), `build_kernel` (its step with the base kernel's
parameters handed in as data, the step-size jitter applied), and `base`, the top-level API. It gets the same
warm-up as SRMC around the same kernel, so the two compare like for like.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from srmc.method.algorithm import Algorithm, BaseKernel, StaticPartial, check_params_set
from srmc.method.graph_base import graph_base, is_graph_kernel
from srmc.method.kernels import (
    check_params,
    check_step_jitter,
    init_params,
    jittered,
    resolve_kernel,
    split_kernel_params,
    target_params,
)
from srmc.targets import Target

Array = jax.Array


class BaseParams(NamedTuple):
    """The base kernel's data parameters (step size, inverse mass matrix, ...) by name."""

    kernel: dict


def kernel_arguments(kernel: BaseKernel, params: dict, target: Target) -> dict:
    """The keyword arguments of the base kernel's step: its data `params` with its static ones, checked against
    `target` (``num_categories`` filled in)."""
    return target_params(kernel.spec, {**dict(kernel.static_params), **params}, target)


def step_arguments(kernel: BaseKernel, params: dict, target: Target, rng_key: Array) -> dict:
    """The base kernel's step arguments (`kernel_arguments`) with its step size jittered by ``kernel.step_jitter``
    (drawn from `rng_key`); a ValueError naming any parameter only a warm-up sets and was not given."""
    check_params_set(kernel.spec.name, params)
    return jittered(kernel.spec, kernel_arguments(kernel, params, target), rng_key, kernel.step_jitter)


def init(kernel: BaseKernel, position: Array, target: Target, params: BaseParams) -> Any:
    """The base kernel's state at `position` on `target`."""
    arguments = kernel_arguments(kernel, params.kernel, target)  # fails early on a kernel that does not fit
    return kernel.spec.init(position, target.logdensity, **init_params(kernel.spec, arguments))


def step(kernel: BaseKernel, rng_key: Array, state: Any, target: Target, params: BaseParams) -> tuple[Any, Any]:
    """One step of the base kernel on `target` with its step size jittered by ``kernel.step_jitter``."""
    arguments = step_arguments(kernel, params.kernel, target, rng_key)
    return kernel.spec.build_kernel()(rng_key, state, target.logdensity, **arguments)


def build_kernel(kernel: BaseKernel) -> StaticPartial:
    """``kernel(rng_key, state, target, params) -> (state, info)``: one step of the base kernel (`step`)."""
    return StaticPartial(step, kernel)


def base(kernel: Any, *, step_jitter: float | None = None, **params: Any) -> Algorithm:
    """Run a base kernel directly on the target (no history), e.g. ``srmc.base(samplers.mala, step_size=0.1)``;
    a graph kernel (``srmc.base(samplers.mhrw)``) runs alone on a graph target (`srmc.method.graph_base`).

    `params` are the kernel's; numbers and arrays among them are data (``algorithm.params.kernel``), ints and
    callables part of the program. A step size or inverse mass matrix not given is set by the warm-up
    (`srmc.adapt`); `srmc.sample` warms up whatever the kernel's record says it can tune (a given step size is
    where the warm-up starts; ``warmup=0`` runs it as given). `step_jitter`: multiply the step size by
    U(1 - j, 1 + j) at every step; None: the kernel's declared default (0.3 for HMC-type kernels, 0 otherwise).
    """
    if is_graph_kernel(kernel):
        return graph_base(kernel, **params)
    spec = resolve_kernel(kernel)
    check_params(spec, params)
    data, static = split_kernel_params(spec, params)
    base_kernel = BaseKernel(spec, static, check_step_jitter(spec, step_jitter))
    shown = tuple(params.items()) + ((("step_jitter", base_kernel.step_jitter),) if base_kernel.step_jitter else ())
    return Algorithm(spec.name, StaticPartial(init, base_kernel), build_kernel(base_kernel), BaseParams(data),
                     base_kernel, shown=shown)
