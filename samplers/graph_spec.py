"""What a graph kernel declares about itself: a `GraphKernelSpec` (the graph kernels' `KernelSpec`).

A graph kernel samples a target mu on the nodes of a finite connected undirected graph. Its contract, in the
BlackJAX shape of the other kernels:

- ``init(position, logdensity_fn=None) -> state``: a NamedTuple with a ``position`` field, an int32 array of
  shape ``(1,)`` holding the current node (the `Graph` space's positions); ``logdensity_fn`` is accepted for the
  common signature and not used (graph kernels cache nothing: a log density that changes between steps, as HDT's
  does, never leaves a stale value in a state).
- ``build_kernel() -> kernel(rng_key, state, logdensity_fn, graph, **params) -> (state, info)``:
  ``logdensity_fn(position) -> log weight`` (unnormalised log mu at a ``(1,)`` node position, evaluated only at
  the nodes a step needs), ``graph`` the graph's CSR arrays (any NamedTuple with ``offsets``, ``neighbours``
  (sorted per node) and ``degrees``, e.g. `srmc.targets.CSRGraph`: data, filled in from the target), and the info
  has ``acceptance_rate``, ``is_accepted`` and ``is_nonfinite`` like every kernel's.

The record also declares:

- ``reversible``: the kernel's node chain is reversible w.r.t. the target (needed by SRRW, whose theory rests on
  a reversible base chain).
- ``transition_row``: None, or ``transition_row(position, neighbours, logdensity_fn, graph, **params) -> log_p``,
  the log one-step probabilities from ``position`` to each of the given ``neighbours`` (int32, any shape, all
  neighbours of the position); the diagonal is ``1 - sum`` over the whole neighbourhood. A kernel with one can
  hand SRRW its whole row, a chunk of neighbours at a time; one without (multiple-try, non-backtracking) cannot.
- ``exact_chain(graph, log_weights, **params) -> ExactChain``: the exact transition matrix on the kernel's own
  states (a node, or a lifted state such as ``(previous node, node)``) for a small graph, in NumPy float64, with
  the node of each state and a batch of kernel states, one per row: what the invariance checks of
  `srmc.testing.graphs` enumerate.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .spec import Parameter

GRAPH = "graph"  # equals srmc.targets.Graph.kind

GRAPH_STRUCTURE = Parameter("graph", required=True, from_target=True,
                            description="the graph's CSR arrays (filled in from the target)")


class ExactChain(NamedTuple):
    """A kernel's exact transition matrix on its own states.

    Attributes:
      matrix: ``(num_states, num_states)`` float64, rows summing to 1.
      node: ``(num_states,)`` the node each state stands on (its position).
      states: the kernel states, batched along a leading axis of length ``num_states`` (row i's state), for
        comparing the kernel's one-step moves with the matrix.
      index: ``index(states) -> (batch,)`` the row of each of a batch of kernel states (NumPy); None: the row is
        the node (chains on the nodes themselves).
    """

    matrix: np.ndarray
    node: np.ndarray
    states: Any
    index: Callable[[Any], np.ndarray] | None = None

    def rows_of(self, states: Any) -> np.ndarray:
        """The row of each of a batch of kernel states."""
        if self.index is None:
            return np.asarray(states.position, np.int64)[:, 0]
        return np.asarray(self.index(states), np.int64)


class GraphKernelSpec(NamedTuple):
    """The record of a graph kernel (see the module doc for the contract).

    Attributes:
      name: e.g. ``"mhrw"``.
      init: ``init(position, logdensity_fn=None) -> state``.
      build_kernel: ``() -> kernel(rng_key, state, logdensity_fn, graph, **params) -> (state, info)``.
      exact_chain: ``(graph, log_weights, **params) -> ExactChain`` (NumPy, small graphs).
      reversible: the node chain is reversible w.r.t. the target.
      transition_row: the per-neighbour log transition probabilities, or None where the kernel cannot hand over
        its row.
      parameters: every parameter the kernel takes after ``logdensity_fn``, ``graph`` first.
      state_space: `GRAPH`.
    """

    name: str
    init: Callable[..., Any]
    build_kernel: Callable[[], Callable]
    exact_chain: Callable[..., ExactChain]
    reversible: bool
    transition_row: Callable[..., Any] | None = None
    parameters: tuple[Parameter, ...] = (GRAPH_STRUCTURE,)
    state_space: str = GRAPH

    def parameter(self, name: str) -> Parameter | None:
        """The declared parameter `name`, or None."""
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the declared parameters, in order."""
        return tuple(p.name for p in self.parameters)


def as_graph_spec(kernel: Any, name: str = "kernel") -> GraphKernelSpec:
    """The `GraphKernelSpec` of a graph kernel module (its ``spec``) or the record itself; a TypeError naming
    `name` otherwise."""
    spec = getattr(kernel, "spec", kernel)
    if not isinstance(spec, GraphKernelSpec):
        raise TypeError(f"{name} must be a graph kernel (a module with a GraphKernelSpec `spec`, e.g. "
                        f"srmc.samplers.mhrw, or the record itself), got {kernel!r}.")
    return spec


def check_params(spec: GraphKernelSpec, params: dict, name: str = "kernel_params") -> None:
    """A ValueError naming `name` for an unknown parameter of `spec` (``graph`` comes from the target), and each
    declared parameter's own check on its value."""
    unknown = sorted(set(params) - set(spec.parameter_names) | ({"graph"} & set(params)))
    if unknown:
        allowed = [p for p in spec.parameter_names if p != "graph"]
        raise ValueError(f"{name} has {unknown}, which {spec.name} does not take (the graph comes from the "
                         f"target); it takes {allowed or 'no parameters'}.")
    for key, value in params.items():
        check = spec.parameter(key).check
        if check is not None:
            check(value, key)
