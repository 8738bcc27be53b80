"""Targets for property tests, and hypothesis strategies that draw them (their functions are `Partial`s, so
checks on many targets of one family share compilations)."""

from __future__ import annotations

import numpy as np

from srmc.targets import Target
from srmc.targets.gaussian import gaussian
from srmc.targets.lattice import pairwise_target
from srmc.targets.mixture import gaussian_mixture
from srmc.testing.discrete import MAX_EXACT_STATES


def gaussian_target(name: str, mean: np.ndarray, cov: np.ndarray, params: dict | None = None) -> Target:
    """`targets.gaussian.gaussian`: its functions are `Partial`s, so checks on many of them share compilations."""
    return gaussian(name, mean, cov, params or {})


def mixture_target(name: str, means: np.ndarray, variance: float, weights: np.ndarray | None = None) -> Target:
    """`targets.mixture.gaussian_mixture`, whose log density and sampler are `Partial`s too."""
    return gaussian_mixture(name, means, variance, weights)


def lattice_model(couplings: np.ndarray, field: np.ndarray, score: str = "barker") -> Target:
    """A pairwise (Ising when q = 2, Potts) `Target` over {0..q-1}^dim from couplings (dim, dim) and a field (dim, q).

    log p(x) = 1/2 sum_ij J_ij [x_i == x_j] + sum_i h_i[x_i] (`targets.lattice.pairwise_target`): exact moments by
    enumeration, a mean-zero score, fast conditional logits; its functions are `Partial`s of (J, h), so checks
    on many models of one shape share compilations.
    """
    return pairwise_target(f"lattice(dim={np.shape(field)[0]},q={np.shape(field)[1]})", couplings, field, {}, score)


def gaussian_targets(dim: int | None = None, max_dim: int = 4, max_condition: float = 20.0):
    """Hypothesis strategy: Gaussian `Target`s, random mean in [-3, 3]^d and SPD covariance Q diag(v) Q^T.

    Q is a random rotation and max(v) / min(v) <= `max_condition`; exact moments and sampler. A fixed `dim`
    makes all examples share one compilation.
    """
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        d = dim if dim is not None else draw(st.integers(1, max_dim))
        mean = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=d, max_size=d)))
        log_variances = np.array(draw(st.lists(st.floats(0.0, float(np.log(max_condition))), min_size=d, max_size=d)))
        entries = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d * d, max_size=d * d))).reshape(d, d)
        rotation, _ = np.linalg.qr(entries + 1e-3 * np.eye(d))
        cov = rotation @ np.diag(np.exp(log_variances)) @ rotation.T
        cov = 0.5 * (cov + cov.T)
        return gaussian_target(f"random_gaussian(dim={d})", mean, cov, {"log_variances": log_variances})

    return build()


def mixture_targets(num_components: int | None = None, max_components: int = 4):
    """Hypothesis strategy: 2-D Gaussian mixtures, means in [-3, 3]^2, variance in [0.3, 1], random weights."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        k = num_components if num_components is not None else draw(st.integers(1, max_components))
        means = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=2 * k, max_size=2 * k))).reshape(k, 2)
        weights = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=k, max_size=k)))
        return mixture_target(f"random_mixture(components={k})", means, draw(st.floats(0.3, 1.0)),
                              weights / weights.sum())

    return build()


def lattice_models(min_sites: int = 4, max_sites: int = 10, num_categories: tuple[int, int] = (2, 2),
                   max_coupling: float = 1.0, max_field: float = 1.0):
    """Hypothesis strategy: Ising/Potts `Target`s (`lattice_model`), all-pairs couplings in
    [-max_coupling, max_coupling].

    The number of states q^dim is kept <= 4096 (exact checks) by capping dim for q > 2.
    """
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Target:
        q = draw(st.integers(*num_categories))
        cap = int(np.floor(np.log(MAX_EXACT_STATES) / np.log(q) + 1e-9))
        d = draw(st.integers(min_sites, max(min_sites, min(max_sites, cap))))
        upper = draw(st.lists(st.floats(-max_coupling, max_coupling), min_size=d * d, max_size=d * d))
        couplings = np.triu(np.array(upper).reshape(d, d), 1)
        field = np.array(draw(st.lists(st.floats(-max_field, max_field), min_size=d * q, max_size=d * q)))
        return lattice_model(couplings + couplings.T, field.reshape(d, q))

    return build()
