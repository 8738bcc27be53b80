"""The `Target` type and the registry of named targets."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

KINDS = ("continuous", "binary", "categorical")


class GroundTruth(NamedTuple):
    """Known moments of a target: exact (zero standard errors) or from a stored long reference run.

    ``marginals`` (discrete targets): ``(dim, num_categories)`` single-site marginals p(x_i = k).
    """

    mean: np.ndarray
    variance: np.ndarray
    mean_stderr: np.ndarray
    variance_stderr: np.ndarray
    exact: bool
    note: str = ""
    marginals: np.ndarray | None = None


def check_positive_int(value: Any, name: str) -> None:
    """Raise a ValueError naming `name` unless `value` is an integer >= 1 (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def spread_stderr(chain_values: np.ndarray) -> np.ndarray:
    """Standard error of a mean over independent chains: std across axis 0 (ddof 1) / sqrt(chains); NaN for one."""
    chain_values = np.asarray(chain_values)
    if chain_values.shape[0] < 2:
        return np.full(chain_values.shape[1:], np.nan)
    return chain_values.std(axis=0, ddof=1) / np.sqrt(chain_values.shape[0])


def exact_truth(mean: Any, variance: Any, note: str = "", marginals: Any = None) -> GroundTruth:
    """Ground truth known in closed form or by enumeration (standard errors are zero)."""
    mean, variance = np.asarray(mean, np.float64), np.asarray(variance, np.float64)
    marginals = None if marginals is None else np.asarray(marginals, np.float64)
    return GroundTruth(mean, variance, np.zeros_like(mean), np.zeros_like(variance), True, note, marginals)


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """A distribution to sample, with what is known about it.

    Attributes:
      name: registry name (with parameters, e.g. ``"correlated_gaussian(dim=20,rho=0.9)"``).
      kind: ``"continuous"``, ``"binary"`` or ``"categorical"``.
      dim: length of a position vector.
      logdensity: unnormalised log density of one position of shape ``(dim,)``.
      score: ``s(x)`` with ``E_pi[s] = 0``; defaults to ``jax.grad(logdensity)`` for continuous targets.
        Discrete targets carry a mean-zero single-site score of shape ``(dim * (num_categories - 1),)``
        (see `targets.discrete`).
      initial_position: ``(rng_key, num) -> (num, dim)`` starting points for chains.
      ground_truth: known mean and variance with standard errors, or ``None``.
      sample: exact sampler ``(rng_key, num) -> (num, dim)`` where one exists, else ``None``.
      num_categories: number of values per site (2 for binary targets).
      conditional_logits: discrete targets: ``x -> (dim, num_categories)`` logits of every site's full
        conditional p(x_i = k | x_-i), all sites at once (see `targets.discrete` for the relaxation contract).
      params: the parameters the target was built with.
    """

    name: str
    kind: str
    dim: int
    logdensity: Callable[[Array], Array]
    initial_position: Callable[[Array, int], Array]
    score: Callable[[Array], Array] | None = None
    ground_truth: GroundTruth | None = None
    sample: Callable[[Array, int], Array] | None = None
    num_categories: int = 2
    params: dict = dataclasses.field(default_factory=dict)
    conditional_logits: Callable[[Array], Array] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Target kind must be one of {KINDS}, got {self.kind!r}.")
        if not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
            raise ValueError(f"Target dim must be a positive integer, got {self.dim!r}.")
        if self.score is None:
            if self.kind != "continuous":
                raise ValueError(f"Target {self.name!r}: a discrete target needs an explicit mean-zero score.")
            object.__setattr__(self, "score", jax.grad(self.logdensity))

    def value_and_score(self, position: Array) -> tuple[Array, Array]:
        """``(log pi(x), s(x))``; one reverse pass when the score is the autodiff gradient."""
        if self._score_is_autodiff:
            return jax.value_and_grad(self.logdensity)(position)
        return self.logdensity(position), self.score(position)

    @property
    def score_is_gradient(self) -> bool:
        """True when s = grad log pi (continuous targets with the default or an analytic gradient score)."""
        return self.kind == "continuous" and self.params.get("score_is_gradient", True)

    @property
    def _score_is_autodiff(self) -> bool:
        return self.kind == "continuous" and getattr(self.score, "__wrapped__", None) is self.logdensity

    def __repr__(self) -> str:
        return f"Target({self.name!r}, kind={self.kind!r}, dim={self.dim})"


def exact_target(
    name: str,
    logdensity: Callable[[Array], Array],
    sample: Callable[[Array, int], Array],
    mean: Any,
    variance: Any,
    params: dict,
    *,
    score: Callable[[Array], Array] | None = None,
    initial_position: Callable[[Array, int], Array] | None = None,
) -> Target:
    """A continuous target with an exact sampler and closed-form moments (chains start from N(0, I) by default)."""
    dim = int(np.shape(mean)[0])
    return Target(
        name=name,
        kind="continuous",
        dim=dim,
        logdensity=logdensity,
        score=score,
        initial_position=initial_position or gaussian_initial_position(dim, 1.0),
        ground_truth=exact_truth(mean, variance),
        sample=sample,
        params=params,
    )


def from_logdensity(
    logdensity: Callable[[Array], Array],
    dim: int,
    *,
    name: str = "custom",
    score: Callable[[Array], Array] | None = None,
    initial_scale: float = 1.0,
) -> Target:
    """Wrap a bare continuous log density as a `Target` (chains start from N(0, initial_scale^2 I))."""

    def initial_position(rng_key: Array, num: int) -> Array:
        return initial_scale * jax.random.normal(rng_key, (num, dim))

    return Target(name, "continuous", int(dim), logdensity, initial_position, score=score)


def gaussian_initial_position(dim: int, scale: float = 1.0, loc: Any = 0.0) -> Callable[[Array, int], Array]:
    """Starting points loc + scale * N(0, I)."""

    def initial_position(rng_key: Array, num: int) -> Array:
        return jnp.asarray(loc) + scale * jax.random.normal(rng_key, (num, dim))

    return initial_position


_REGISTRY: dict[str, Callable[..., Target]] = {}


def register(name: str, factory: Callable[..., Target] | None = None, *, overwrite: bool = False):
    """Register `factory(**params) -> Target` under `name`; usable as a decorator."""

    def decorate(fn: Callable[..., Target]) -> Callable[..., Target]:
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not fn:
            raise ValueError(f"A target named {name!r} is already registered; pass overwrite=True to replace it.")
        _REGISTRY[name] = fn
        return fn

    return decorate(factory) if factory is not None else decorate


def get(name: str, **params: Any) -> Target:
    """Build the registered target `name` with `params`."""
    if name not in _REGISTRY:
        raise KeyError(f"Unknown target {name!r}. Known targets: {', '.join(names())}.")
    return _REGISTRY[name](**params)


def names() -> list[str]:
    """Sorted names of all registered targets."""
    return sorted(_REGISTRY)


def describe(name: str) -> str:
    """First line of the docstring of a registered target's factory."""
    doc = (_REGISTRY[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
