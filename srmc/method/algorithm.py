"""Algorithms the runner can drive: a base kernel alone (`base`) or wrapped in SRMC (`srmc.wrap`, wrapper.py)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax

from srmc.method.kernels import (
    check_params,
    check_step_jitter,
    init_params,
    jittered,
    resolve_kernel,
    target_params,
    unset_adapted_params,
)
from srmc.samplers.spec import KernelSpec

Array = jax.Array


def _same_state(state: Any) -> Any:
    return state


def _whole_state(state: Any, kernel_state: Any) -> Any:
    return kernel_state


def _no_statistics(state: Any) -> dict[str, Array]:
    return {}


def _any_length(total_steps: int) -> None:
    return None


def _no_reference(state: Any, stats: Any, target: Any) -> Any:
    return state


RENUMBERED = ("init", "params", "check_run", "numbers")  # the fields `Algorithm.with_numbers` replaces


@dataclasses.dataclass(frozen=True, eq=False)
class Algorithm:
    """A sampler bound to its parameters but not to a target.

    Both functions act on one chain (the runner vmaps them):
    ``init(position, target) -> state`` and ``step(rng_key, state, target, params=None) -> (state, info)``, where
    ``info`` has ``acceptance_rate`` (float), ``is_accepted`` and ``is_nonfinite`` (bools), and `params` are base
    kernel parameters that override `kernel_params` for this step (traced values, e.g. a warm-up's adapted step
    size and inverse mass matrix, one per chain).

    Attributes:
      kernel: the base kernel's record (`srmc.samplers.spec.KernelSpec`).
      params: the parameters shown in ``repr`` and checkpoints' fingerprints.
      kernel_params: the base kernel's parameters as given.
      step_jitter: the relative step-size jitter every step applies (0: none).
      check_run: ``check_run(total_steps)`` raises before compilation if the algorithm cannot run that long
        (e.g. a schedule that turns negative).
      kernel_state: ``state -> the base kernel's state`` inside an algorithm's state (itself for `base`, the
        ``inner`` state for SRMC); its ``position`` is what the runner averages functions of.
      with_kernel_state: ``(state, kernel_state) -> state`` with the base kernel's state replaced.
      statistics: ``state -> {name: scalar}`` recorded with every stored draw (SRMC: ``theta_norm``).
      with_reference: ``(state, warmup_stats, target) -> state`` told what the warm-up measured on pi (SRMC: the
        tilt's location, scale and the acceptance its guard compares with); the state itself for `base`.
      needs_reference: True when the algorithm cannot run without a warm-up's measurements (the bounded tilt on a
        continuous target without ``tilt_reference``): `srmc.sample` then warms up by default and refuses
        ``warmup=0``.
      dense_reference: True when the warm-up should record pi's dense covariance for the algorithm's reference
        (SRMC's second-order tilt whitens by it; `srmc.method.tilt.MAX_WHITENED_DIM` bounds d).
      predicts_alpha: True when the warm-up should collect what `srmc.method.prediction` needs to predict the
        algorithm's variance over alpha (SRMC's bounded and second-order tilts with ``alpha_search``).
      prediction_tilt: the tilt whose variance the prediction models (``"bounded"``: a score history;
        ``"second_order"``: its (S, 1 + z * S) history, for which the warm-up also collects batch sums of x s^T).
      unset_params: base-kernel parameters left to the warm-up (a step size not given); `srmc.sample` then warms
        up by default and refuses ``warmup=0``.
      counters: ``state -> {name: per-chain value}`` read at the end of a run into ``result.counters`` (SRMC:
        ``guard_events``, ``alpha_backoff`` and ``alpha_factor``).
      numbers: the numbers its state carries rather than its program (SRMC with a number or `NumberSchedule`
        alpha > 0: ``{"alpha": ...}``); `with_numbers` changes them.
      renumber: ``(algorithm, numbers) -> algorithm`` behind `with_numbers`; None: the algorithm has no numbers.
      program: a token shared by algorithms that `with_numbers` made from one another. Two algorithms are equal
        (and hash alike, so a compiled chunk keyed on one serves the other) when they differ at most in the
        fields `with_numbers` replaces (`RENUMBERED`); a ``dataclasses.replace`` of any other field makes another
        program.
    """

    init: Callable[[Array, Any], Any]
    step: Callable[[Array, Any, Any], tuple[Any, Any]]
    name: str
    kernel: KernelSpec
    params: dict = dataclasses.field(default_factory=dict)
    kernel_params: dict = dataclasses.field(default_factory=dict)
    step_jitter: float = 0.0
    check_run: Callable[[int], None] = _any_length
    kernel_state: Callable[[Any], Any] = _same_state
    with_kernel_state: Callable[[Any, Any], Any] = _whole_state
    statistics: Callable[[Any], dict[str, Array]] = _no_statistics
    with_reference: Callable[[Any, Any, Any], Any] = _no_reference
    needs_reference: bool = False
    dense_reference: bool = False
    predicts_alpha: bool = False
    prediction_tilt: str = "bounded"
    unset_params: tuple = ()
    counters: Callable[[Any], dict[str, Array]] = _no_statistics
    numbers: dict = dataclasses.field(default_factory=dict)
    renumber: Callable[[Any, dict], Any] | None = None
    program: object = dataclasses.field(default_factory=object, repr=False)

    def __eq__(self, other: object) -> bool:
        """Same program: every field the same object, except those `with_numbers` may change (`RENUMBERED`)."""
        return isinstance(other, Algorithm) and all(
            getattr(self, field.name) is getattr(other, field.name)
            for field in dataclasses.fields(self) if field.name not in RENUMBERED)

    def __hash__(self) -> int:
        return hash((id(self.program), id(self.step)))

    def with_numbers(self, **numbers: float) -> Algorithm:
        """The same algorithm and compiled program with other numbers, e.g. ``algorithm.with_numbers(alpha=5.0)``."""
        if self.renumber is None:
            raise TypeError(f"{self!r} has no numbers to change (only srmc.wrap with an alpha > 0 given as a number "
                            "or a srmc.schedules schedule has); build another algorithm instead.")
        return self.renumber(self, numbers)

    def position(self, state: Any) -> Array:
        """The position of an algorithm's state (with a leading chain axis if the state has one)."""
        return self.kernel_state(state).position

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if not callable(v))
        return f"{self.name}({shown})"


def base(kernel: Any, *, step_jitter: float | None = None, **params: Any) -> Algorithm:
    """Run a base kernel directly on the target (no repellence), e.g. ``base(samplers.mala, step_size=0.1)``.

    `step_jitter`: multiply the step size by U(1 - j, 1 + j) at every step; None: the kernel's declared default
    (0.3 for HMC-type kernels with fixed trajectories, 0 otherwise; `srmc.samplers.spec.Tuning`).
    """
    spec = resolve_kernel(kernel)
    check_params(spec, params)
    step_jitter = check_step_jitter(spec, step_jitter)
    step_kernel = spec.build_kernel()

    def init(position: Array, target: Any) -> Any:
        filled = target_params(spec, params, target)  # fails early on a kernel that does not fit the target
        return spec.init(position, target.logdensity, **init_params(spec, filled))

    def step(rng_key: Array, state: Any, target: Any, overrides: dict | None = None) -> tuple[Any, Any]:
        merged = jittered(spec, {**params, **(overrides or {})}, rng_key, step_jitter)
        return step_kernel(rng_key, state, target.logdensity, **target_params(spec, merged, target))

    shown = dict(params, step_jitter=step_jitter) if step_jitter else dict(params)
    return Algorithm(init, step, spec.name, spec, shown, dict(params), step_jitter,
                     unset_params=unset_adapted_params(spec, params))
