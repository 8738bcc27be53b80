"""A graph kernel alone as an srmc algorithm: ``srmc.base(samplers.mhrw)`` (what SRRW and HDT are compared with).

Three layers: the kernel's own ``init``, its step with the graph taken from the target, and `graph_base`. Graph
kernels have nothing a warm-up tunes (no step size), so `srmc.sample` runs them without one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from srmc.method.algorithm import Algorithm, StaticPartial
from srmc.method.srrw import graph_of
from srmc.samplers.graph_spec import GraphKernelSpec, as_graph_spec, check_params
from srmc.targets import Target

Array = jax.Array


class GraphBaseConfig(NamedTuple):
    """The graph kernel's record and its parameters (sorted pairs; the graph comes from the target)."""

    spec: GraphKernelSpec
    kernel_params: tuple


class GraphBaseParams(NamedTuple):
    """No data: a graph kernel's parameters are choices (`GraphBaseConfig`)."""

    kernel: dict


def init(config: GraphBaseConfig, position: Array, target: Target, params: GraphBaseParams) -> Any:
    """The graph kernel's state at `position`."""
    logdensity_fn, _ = graph_of(target)
    return config.spec.init(position, logdensity_fn)


def step(config: GraphBaseConfig, rng_key: Array, state: Any, target: Target, params: GraphBaseParams
         ) -> tuple[Any, Any]:
    """One step of the graph kernel on `target`."""
    logdensity_fn, structure = graph_of(target)
    return config.spec.build_kernel()(rng_key, state, logdensity_fn, structure, **dict(config.kernel_params))


def is_graph_kernel(kernel: Any) -> bool:
    """Whether `kernel` (a module or a record) declares a `GraphKernelSpec`."""
    return isinstance(getattr(kernel, "spec", kernel), GraphKernelSpec)


def graph_base(kernel: Any, **params: Any) -> Algorithm:
    """The graph kernel `kernel` alone (e.g. ``srmc.samplers.nbrw``), with its parameters `params`."""
    spec = as_graph_spec(kernel)
    check_params(spec, params, "params")
    config = GraphBaseConfig(spec, tuple(sorted(params.items())))
    return Algorithm(spec.name, StaticPartial(init, config), StaticPartial(step, config), GraphBaseParams({}),
                     shown=tuple(params.items()))
