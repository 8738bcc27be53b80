"""The record every srmc algorithm is, and what it tells the run engine about itself.

An algorithm (SRMC, the base kernel alone, SRRW, HDT, walk-jump, one of your own) is written in BlackJAX's three
layers: an ``init(position, target, params, ...)``, a ``build_kernel(...)`` returning
``kernel(rng_key, state, target, params) -> (state, info)``, and a top-level function returning an `Algorithm`.
Its hyperparameters are data (``params``, a pytree handed in at step time, as optax's ``inject_hyperparams``): a
sweep over them is another array, not another compile. Everything else is a static, hashable configuration: two
algorithms built with the same choices are equal, so the engine's compiled programs serve both.

The engine (`srmc.sample`, `srmc.adapt`) reads only what an algorithm declares here: where its base kernel's
state sits (`BaseKernel`), what the warm-up should measure and how that becomes parameters (`Adaptation`), what it
records per draw, counts per chain and checks after a run (`Report`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Hashable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from srmc.samplers.spec import KernelSpec
from srmc.targets import Target, from_logdensity

Array = jax.Array


class StaticPartial(NamedTuple):
    """``fn`` with its first argument bound to a hashable configuration.

    Equal (and hashing alike) exactly when ``fn`` and ``config`` are: the engine's compiled programs are keyed on
    it, so two algorithms built with the same choices share them.
    """

    fn: Callable
    config: Hashable

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(self.config, *args, **kwargs)


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class Unset:
    """A parameter the warm-up sets (`srmc.adapt`): a pytree node with no leaves, so parameters holding one still
    travel through ``jax.tree`` functions; using it is an error that names `fix`."""

    name: str
    fix: str

    def __repr__(self) -> str:
        return f"Unset({self.name!r})"


def unset_parameters(params: Any) -> list[Unset]:
    """Every `Unset` in `params` (a pytree), in flatten order."""
    nodes = jax.tree.leaves(params, is_leaf=lambda node: isinstance(node, Unset))
    return [node for node in nodes if isinstance(node, Unset)]


def check_params_set(name: str, params: Any) -> None:
    """A ValueError naming every parameter of algorithm `name` that only a warm-up sets, with its fix."""
    missing = unset_parameters(params)
    if missing:
        listed = "; ".join(f"{node.name}: {node.fix}" for node in missing)
        raise ValueError(f"{name} cannot step: {len(missing)} parameter(s) are set by the warm-up and were not "
                         f"given ({listed}). Either give them, or run srmc.adapt(rng_key, algorithm, target, "
                         "positions, warmup) and step with its .params (srmc.sample does both).")


class HealthWarning(NamedTuple):
    """One thing wrong with a run: a short code, a message that names the likely fix, the numbers behind it."""

    code: str
    message: str
    data: dict

    def __str__(self) -> str:
        return f"WARNING [{self.code}]: {self.message}"


class WarmupStats(NamedTuple):
    """What the warm-up measured on pi over its second half, pooled over chains (numpy arrays in a result).

    mean, variance: of x; covariance: dense (when asked for, else None); score_mean, fisher: mean and second
    moment E[s s^T] of the score (diagonal; `fisher_matrix` dense or None); acceptance: mean acceptance over the
    window; num_draws: chains x steps averaged; extra: what the algorithm's own collectors measured
    (`Collector`), by name.
    """

    mean: Any
    variance: Any
    score_mean: Any
    fisher: Any
    acceptance: Any
    num_draws: Any
    covariance: Any = None
    fisher_matrix: Any = None
    extra: dict = {}


class Collector(NamedTuple):
    """A statistic an algorithm measures over the warm-up's second half, on all chains at once.

    ``init(num_chains, dim, dtype) -> carry``; ``update(carry, offset, positions, scores) -> carry`` at every
    warm-up step (``offset``: the step's index within the second half, negative before it; positions and scores
    ``(chains, d)``); ``finish(carry, stats) -> {name: value}``, merged into ``WarmupStats.extra``.
    """

    init: Callable[[int, int, Any], Any]
    update: Callable[[Any, Array, Array, Array], Any]
    finish: Callable[[Any, WarmupStats], dict]


class WarmupNeeds(NamedTuple):
    """What an algorithm needs from a warm-up on one target.

    required: why the algorithm cannot run without one (None: it can); covariance: record pi's dense covariance
    (O(d^2)); collectors: its own statistics over the second half.
    """

    required: str | None = None
    covariance: bool = False
    collectors: tuple[Collector, ...] = ()


class Adaptation(NamedTuple):
    """How `srmc.adapt` serves an algorithm beyond tuning its base kernel (step size, mass; `BaseKernel`).

    ``needs(target, num_steps) -> WarmupNeeds`` for a warm-up of `num_steps` on `target`;
    ``finish(params, stats, target) -> params``: the algorithm's parameters from the warm-up's `WarmupStats`
    (the base kernel's tuned ones are in ``params.kernel`` already); ``restart(state, target, params) -> state``:
    one chain's state after the warm-up (its base kernel's state already the warmed-up one) made ready for `params`
    (caches refreshed, counters reset).
    """

    needs: Callable[[Target, int], WarmupNeeds]
    finish: Callable[[Any, WarmupStats, Target], Any]
    restart: Callable[[Any, Target, Any], Any]


def _same_state(state: Any) -> Any:
    return state


def _whole_state(state: Any, kernel_state: Any) -> Any:
    return kernel_state


class BaseKernel(NamedTuple):
    """The base kernel an algorithm drives, as it drives it.

    spec: its record (what a warm-up tunes, its target acceptance); static_params: its parameters that are not
    data, sorted ``(name, value)`` pairs (ints that fix a loop length, callables); step_jitter: the relative
    step-size jitter of every step (0: none); get_state / set_state: the base kernel's state inside the
    algorithm's, ``state -> kernel_state`` and ``(state, kernel_state) -> state``. The base kernel's data
    parameters are the algorithm's ``params.kernel``.
    """

    spec: KernelSpec
    static_params: tuple = ()
    step_jitter: float = 0.0
    get_state: Callable[[Any], Any] = _same_state
    set_state: Callable[[Any, Any], Any] = _whole_state


def _no_statistics(state: Any) -> dict:
    return {}


def _no_counters(state: Any, params: Any) -> dict:
    return {}


def _no_checks(result: Any) -> list:
    return []


def _any_length(params: Any, total_steps: int) -> None:
    return None


class Report(NamedTuple):
    """What an algorithm records and checks, beyond what the engine does for every run.

    statistics: ``state -> {name: scalar}`` per stored draw and at evenly spaced monitor steps (SRMC: |theta|);
    counters: ``(state, params) -> {name: value}`` per chain at the end (``result.counters``); health:
    ``result -> [HealthWarning]``, the algorithm's own checks; notes: ``result -> [str]``, lines for
    ``result.summary()``; anticorrelated_batches: the history makes successive batches of a chain negatively
    correlated, so a batch-means MCSE above the chain spread's is expected, not a warning; check_run:
    ``(params, total_steps) -> None`` raises before compilation where the algorithm cannot run that long (a
    schedule that turns negative); position: ``state -> the point the state stands for`` where that is not its
    base kernel's position (walk-jump: the last jump), None: the base kernel's; is_draw: ``info -> bool`` per
    chain, whether the step yields a draw (walk-jump: a walk's end), None: every step does (functions are
    averaged over the draws only, and batch means are then not kept).
    """

    statistics: Callable[[Any], dict] = _no_statistics
    counters: Callable[[Any, Any], dict] = _no_counters
    health: Callable[[Any], list] = _no_checks
    notes: Callable[[Any], list] = _no_checks
    anticorrelated_batches: bool = False
    check_run: Callable[[Any, int], None] = _any_length
    position: Callable[[Any], Array] | None = None
    is_draw: Callable[[Any], Array] | None = None


class Algorithm(NamedTuple):
    """A sampler bound to its choices and default parameters, not to a target.

    Attributes:
      name: e.g. ``"srmc[mala]"``.
      init_fn: ``(position, target, params) -> state`` for one chain.
      step_fn: ``(rng_key, state, target, params) -> (state, info)`` for one chain; ``info`` has
        ``acceptance_rate`` (float), ``is_accepted`` and ``is_nonfinite`` (bools).
      params: the default hyperparameters, a pytree of data (a NamedTuple whose ``kernel`` field holds the base
        kernel's data parameters); `Unset` where only a warm-up sets them.
      kernel: the base kernel it drives (`BaseKernel`), or None.
      adaptation: what the warm-up does for it (`Adaptation`), or None: only the base kernel is tuned.
      report: what it records and checks (`Report`).
      shown: ``(name, value)`` pairs for ``repr`` (what the user chose).

    ``init`` and ``step`` take a `targets.Target` or a plain log density, as BlackJAX's do, and default to
    `params`; they fit a hand-written ``jax.lax.scan`` vmapped over chains.
    """

    name: str
    init_fn: Callable[..., Any]
    step_fn: Callable[..., tuple[Any, Any]]
    params: Any
    kernel: BaseKernel | None = None
    adaptation: Adaptation | None = None
    report: Report = Report()
    shown: tuple = ()

    def init(self, position: Array, logdensity_fn: Target | Callable, params: Any = None) -> Any:
        """The state of one chain at `position` (parameters: `params`, default ``self.params``)."""
        params = self.params if params is None else params
        position = jnp.asarray(position)
        return self.init_fn(position, as_target(logdensity_fn, position), params)

    def step(self, rng_key: Array, state: Any, logdensity_fn: Target | Callable, params: Any = None
             ) -> tuple[Any, Any]:
        """One step of one chain (parameters: `params`, default ``self.params``; a ValueError names any the step
        needs that only a warm-up sets)."""
        params = self.params if params is None else params
        return self.step_fn(rng_key, state, as_target(logdensity_fn, self.position(state)), params)

    def position(self, state: Any) -> Array:
        """Where a state is (with a leading chain axis if the state has one)."""
        return state_position(self, state)

    @property
    def program(self) -> Algorithm:
        """The algorithm without its parameters and display: what compiled code depends on (hashable)."""
        return self._replace(params=None, shown=())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.shown if not callable(value))
        return f"{self.name}({shown})"


def state_position(algorithm: Algorithm, state: Any) -> Array:
    """The point `algorithm`'s `state` stands for: as its report declares, else its base kernel state's
    position, else the state's own."""
    if algorithm.report.position is not None:
        return algorithm.report.position(state)
    kernel_state = state if algorithm.kernel is None else algorithm.kernel.get_state(state)
    return kernel_state.position


def as_target(logdensity_fn: Target | Callable, position: Array) -> Target:
    """A `Target` as given, or a plain log density of positions shaped like `position` as a continuous one."""
    if isinstance(logdensity_fn, Target):
        return logdensity_fn
    if not callable(logdensity_fn):
        raise TypeError(f"logdensity_fn must be a targets.Target or a log density function, got "
                        f"{type(logdensity_fn).__name__}.")
    return from_logdensity(logdensity_fn, int(np.shape(position)[-1]), name="logdensity_fn")
