"""The `Target` type and the registry of named targets."""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .smoothed import smoothed_gaussian, smoothed_isotropic_mixture
from .space import (  # noqa: F401  (check_int re-exported)
    AUTODIFF_SCORE,
    NO_SCORE,
    REQUIRED_SCORE,
    Categorical,
    Continuous,
    StateSpace,
    as_space,
    check_int,
)

Array = jax.Array

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


class Histogram(NamedTuple):
    """A function of the position with values in {0, ..., num_bins - 1}: the running mean of its indicator (the
    frequency of each value, e.g. the visits of a graph's nodes) is estimated from counts, one increment per draw,
    in O(num_bins) memory per chain; usable wherever `srmc.sample` takes ``functions``."""

    fn: Callable[[Array], Array]
    num_bins: int


class GaussianForm(NamedTuple):
    """The target is exactly N(mean, cov) (what `srmc.testing.tilted_gaussian` needs to tilt it exactly)."""

    mean: np.ndarray
    cov: np.ndarray


class MixtureForm(NamedTuple):
    """The target is exactly sum_k weights[k] N(means[k], variance I) (what mode-coverage metrics need)."""

    means: np.ndarray
    weights: np.ndarray
    variance: float


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """A distribution to sample, with what is known about it.

    Attributes:
      name: registry name (with parameters, e.g. ``"correlated_gaussian(dim=20,rho=0.9)"``).
      space: its state space, `Continuous(dim)`, `Categorical(dim, num_categories)` or `Graph(num_nodes)`
        (`targets.space`); its ``score_rule`` decides what a missing score means (see `__post_init__`).
      logdensity: unnormalised log density of one position of shape ``(dim,)``.
      initial_position: ``(rng_key, num) -> (num, dim)`` starting points for chains.
      score: ``s(x)`` with ``E_pi[s] = 0``; defaults to ``jax.grad(logdensity)`` on a continuous space. Discrete
        targets carry a mean-zero single-site score of shape ``(dim * (num_categories - 1),)``
        (see `targets.discrete`).
      ground_truth: known mean and variance with standard errors, or ``None``.
      sample: exact sampler ``(rng_key, num) -> (num, dim)`` where one exists, else ``None``.
      params: the parameters the target was built with (for display and to match stored references).
      conditional_logits: discrete targets: ``x -> (dim, num_categories)`` logits of every site's full
        conditional p(x_i = k | x_-i), all sites at once (see `targets.discrete` for the relaxation contract).
      score_is_gradient: the score is ``grad log pi`` (continuous targets, unless a score of another kind is given).
      score_name: what the score is: ``"gradient"`` or a discrete score's kind (``"barker"``, ...).
      gaussian: the exact Gaussian form, for Gaussian targets.
      mixture: the exact Gaussian-mixture form, for mixture targets.
      model: the model a target was made from (`targets.from_numpyro`: a `NumPyroModel`), else None.
      graph: graph targets (`targets.graph`): the `targets.graphs.GraphData` (CSR structure, exact mu, node
        labels), else None.
      functions: ``{name: f}`` estimated by default for this target (`srmc.sample`'s ``functions``), a `Histogram`
        among them if it likes; None: x and x^2.
      score_is_autodiff: set, not given: the score is ``jax.grad(logdensity)``, made because none was given.
      smoothed_logdensity: ``(y, noise_variance) -> log p_s(y)``, the log of the Gaussian smoothing
        ``p_s(y) = ∫ pi(x) N(y; x, s I) dx`` of the NORMALISED pi (s = noise variance >= 0), where it is known in
        closed form (Gaussians, Gaussian mixtures: `targets.smoothed`); None otherwise. Walk-jump sampling
        (`srmc.method.walk_jump`) reads it; without it the smoothed score must be estimated.
    """

    name: str
    space: StateSpace
    logdensity: Callable[[Array], Array]
    initial_position: Callable[[Array, int], Array]
    score: Callable[[Array], Array] | None = None
    ground_truth: GroundTruth | None = None
    sample: Callable[[Array, int], Array] | None = None
    params: dict = dataclasses.field(default_factory=dict)
    conditional_logits: Callable[[Array], Array] | None = None
    score_is_gradient: bool = True
    score_name: str = "gradient"
    gaussian: GaussianForm | None = None
    mixture: MixtureForm | None = None
    model: Any = None
    graph: Any = None
    score_is_autodiff: bool = dataclasses.field(default=False, init=False, repr=False)
    smoothed_logdensity: Callable[[Array, Array], Array] | None = None
    functions: dict | None = None

    def __post_init__(self) -> None:
        """Check the space and settle the score by the space's declared ``score_rule``: `AUTODIFF_SCORE`
        (continuous: ``jax.grad(logdensity)`` unless given), `REQUIRED_SCORE` (categorical: a mean-zero score must
        be given) or `NO_SCORE` (graph: none, and none may be given)."""
        object.__setattr__(self, "space", as_space(self.space, "Target space"))
        rule = self.space.score_rule
        if rule == NO_SCORE and self.score is not None:
            raise ValueError(f"Target {self.name!r}: a {self.space.label} target has no score; pass score=None.")
        if self.score is None:
            if rule == REQUIRED_SCORE:
                raise ValueError(f"Target {self.name!r}: a discrete target needs an explicit mean-zero score.")
            if rule == AUTODIFF_SCORE:
                object.__setattr__(self, "score", jax.grad(self.logdensity))
                object.__setattr__(self, "score_is_autodiff", True)
        if rule != AUTODIFF_SCORE and self.score_is_gradient:
            object.__setattr__(self, "score_is_gradient", False)

    @property
    def dim(self) -> int:
        """Length of a position vector."""
        return self.space.dim

    @property
    def num_categories(self) -> int:
        """Values per site of a discrete target (2 for binary); a ValueError for a continuous or graph one."""
        if not isinstance(self.space, Categorical):
            raise ValueError(f"target {self.name} is {self.kind}; it has no num_categories.")
        return self.space.num_categories

    @property
    def kind(self) -> str:
        """``"continuous"``, ``"binary"`` or ``"categorical"`` (for display; decisions use `space`)."""
        return self.space.label

    def value_and_score(self, position: Array) -> tuple[Array, Array]:
        """``(log pi(x), s(x))``; one reverse pass when the score is the autodiff gradient (a ValueError on a space
        without a score)."""
        if self.score is None:
            raise ValueError(f"target {self.name} is a {self.kind} target; it has no score.")
        if self.score_is_autodiff:
            return jax.value_and_grad(self.logdensity)(position)
        return self.logdensity(position), self.score(position)

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
    gaussian: GaussianForm | None = None,
    mixture: MixtureForm | None = None,
    smoothed_logdensity: Callable[[Array, Array], Array] | None = None,
) -> Target:
    """A continuous target with an exact sampler and closed-form moments (chains start from N(0, I) by default).

    `smoothed_logdensity` (see `Target`): when not given, it is made in closed form from `gaussian` or `mixture`
    where one is declared (`targets.smoothed`).
    """
    dim = int(np.shape(mean)[0])
    if smoothed_logdensity is None:
        smoothed_logdensity = smoothed_from_forms(gaussian, mixture)
    return Target(
        name=name,
        space=Continuous(dim),
        logdensity=logdensity,
        score=score,
        initial_position=initial_position or gaussian_initial_position(dim, 1.0),
        ground_truth=exact_truth(mean, variance),
        sample=sample,
        params=params,
        gaussian=gaussian,
        mixture=mixture,
        smoothed_logdensity=smoothed_logdensity,
    )


def smoothed_from_forms(gaussian: GaussianForm | None,
                        mixture: MixtureForm | None) -> Callable[[Array, Array], Array] | None:
    """The closed-form smoothed log density of a declared Gaussian or isotropic-mixture form, else None."""
    if gaussian is not None:
        return smoothed_gaussian(gaussian.mean, gaussian.cov)
    if mixture is not None:
        return smoothed_isotropic_mixture(mixture.means, mixture.weights, mixture.variance)
    return None


def gaussian_initial_position(dim: int, scale: float = 1.0, loc: Any = 0.0) -> Callable[[Array, int], Array]:
    """Starting points loc + scale * N(0, I)."""

    def initial_position(rng_key: Array, num: int) -> Array:
        return jnp.asarray(loc) + scale * jax.random.normal(rng_key, (num, dim))

    return initial_position


class Requirement(NamedTuple):
    """An optional package a registered target needs: the module to import and how to install it."""

    module: str
    install: str


_REGISTRY: dict[str, Callable[..., Target]] = {}
_REQUIREMENTS: dict[str, Requirement] = {}


def register(name: str, factory: Callable[..., Target] | None = None, *, overwrite: bool = False,
             requires: Requirement | None = None):
    """Register `factory(**params) -> Target` under `name`; usable as a decorator.

    `requires`: an optional package the factory needs (e.g. scikit-learn for a data set); without it the target
    is still listed, and `get` refuses it with the install command.
    """

    def decorate(fn: Callable[..., Target]) -> Callable[..., Target]:
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not fn:
            raise ValueError(f"A target named {name!r} is already registered; pass overwrite=True to replace it.")
        _REGISTRY[name] = fn
        if requires is not None:
            _REQUIREMENTS[name] = requires
        return fn

    return decorate(factory) if factory is not None else decorate


def missing_requirement(name: str) -> Requirement | None:
    """The optional package target `name` needs that is not installed, or None when it can be built."""
    requirement = _REQUIREMENTS.get(name)
    if requirement is None or importlib.util.find_spec(requirement.module) is not None:
        return None
    return requirement


BUILT_TARGETS_KEPT = 16  # `get` hands back the same Target for the same name and parameters (the last ones built)
_BUILT: collections.OrderedDict = collections.OrderedDict()


def get(name: str, **params: Any) -> Target:
    """Build the registered target `name` with `params`, or hand back the one built before with the same factory,
    parameters (defaults filled in; hashable values only) and x64 mode: compiled programs are keyed on the Target
    object, so the same object lets a second run reuse them instead of tracing and compiling again. Targets are
    immutable values.

    Raises a KeyError for an unknown name and an ImportError naming the install command when the target needs an
    optional package that is missing.
    """
    if name not in _REGISTRY:
        raise KeyError(f"Unknown target {name!r}. Known targets: {', '.join(names())}.")
    missing = missing_requirement(name)
    if missing is not None:
        raise ImportError(f"target {name} needs the package {missing.module!r}, which is not installed: "
                          f"{missing.install}")
    factory = _REGISTRY[name]
    key = _built_key(factory, params)
    if key is not None and key in _BUILT:
        _BUILT.move_to_end(key)
        return _BUILT[key]
    target = factory(**params)
    if key is not None:
        _BUILT[key] = target
        while len(_BUILT) > BUILT_TARGETS_KEPT:
            _BUILT.popitem(last=False)
    return target


def _built_key(factory: Callable[..., Target], params: dict[str, Any]) -> tuple | None:
    """(factory, JAX's x64 mode, its parameters with defaults filled in) where every value is hashable, else None
    (not kept)."""
    try:
        bound = inspect.signature(factory).bind(**params)
    except TypeError:
        return None  # the factory itself raises the error that names the parameter
    bound.apply_defaults()
    precision = bool(jax.config.jax_enable_x64)  # a target built under jax.enable_x64 holds float64 constants
    key = (factory, precision, tuple(sorted((k, (type(v), v)) for k, v in bound.arguments.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def parameters(name: str) -> dict[str, Any]:
    """The keyword parameters of target `name`'s factory with their defaults (a KeyError for an unknown name).

    A factory's signature is its declaration of what `get` accepts; ``inspect.Parameter.empty`` marks a
    parameter without a default.
    """
    if name not in _REGISTRY:
        raise KeyError(f"Unknown target {name!r}. Known targets: {', '.join(names())}.")
    return {p.name: p.default for p in inspect.signature(_REGISTRY[name]).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def names() -> list[str]:
    """Sorted names of all registered targets."""
    return sorted(_REGISTRY)


def describe(name: str) -> str:
    """First line of the docstring of a registered target's factory."""
    doc = (_REGISTRY[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
