"""Pairwise discrete models: Ising and Potts on periodic lattices, and any coupling graph.

A pairwise model over {0..K-1}^d with one-hot rows E_i:

    log p(x) = 1/2 sum_ij J_ij <E_i, E_j> + sum_i <h_i, E_i>,    J symmetric with zero diagonal,

has conditional logits ``phi = J E + h`` (all sites at once, one matrix product). The Ising model in spins
s = 2x - 1, ``s^T W s + b^T s``, is the case J = 4 W, h = [-b, b] (equal up to an additive constant, also as
polynomials on the binary relaxation, so gradients agree); the Potts model with coupling beta is J = beta A.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .base import Target, check_int, register
from .discrete import discrete_target
from .space import relaxed_one_hot

Array = jax.Array


def pairwise_logdensity(couplings: Array, field: Array, x: Array) -> Array:
    """1/2 sum_ij J_ij <E_i, E_j> + sum_i <h_i, E_i> for a position in any relaxed form."""
    one_hot = relaxed_one_hot(x, field.shape[1]).astype(field.dtype)
    return 0.5 * jnp.sum(one_hot * (couplings @ one_hot)) + jnp.sum(one_hot * field)


def pairwise_conditional_logits(couplings: Array, field: Array, x: Array) -> Array:
    """phi = J E + h, shape (d, K)."""
    return couplings @ relaxed_one_hot(x, field.shape[1]).astype(field.dtype) + field


def pairwise_target(name: str, couplings: np.ndarray, field: np.ndarray, params: dict, score: str = "barker",
                    dtype: jnp.dtype | None = None) -> Target:
    """A pairwise `Target` from symmetric couplings ``(d, d)`` (zero diagonal) and a field ``(d, K)``.

    Its log density and conditional logits are `jax.tree_util.Partial`s of (J, h), so code that traces them
    (e.g. `srmc.testing`) compiles once per shape. Exact moments by enumeration when K^d <= 2^20.
    """
    couplings, field = np.asarray(couplings, np.float64), np.asarray(field, np.float64)
    if field.ndim != 2 or couplings.shape != (field.shape[0],) * 2:
        raise ValueError(f"couplings must be (d, d) and field (d, K); got {couplings.shape} and {field.shape}.")
    if not np.allclose(couplings, couplings.T) or np.any(np.diag(couplings) != 0):
        raise ValueError("couplings must be symmetric with a zero diagonal.")
    dtype = dtype or jnp.result_type(float)
    couplings_j, field_j = jnp.asarray(couplings, dtype), jnp.asarray(field, dtype)
    return discrete_target(
        name, Partial(pairwise_logdensity, couplings_j, field_j), field.shape[0], field.shape[1],
        dict(params, couplings=couplings, field=field),
        conditional_logits=Partial(pairwise_conditional_logits, couplings_j, field_j), score=score,
    )


def lattice_adjacency(side: int) -> np.ndarray:
    """Adjacency matrix of the periodic side x side square lattice (4 neighbours per site; 2 when side = 2)."""
    index = np.arange(side * side).reshape(side, side)
    adjacency = np.zeros((side * side, side * side))
    for shift in ((0, 1), (1, 0)):
        neighbours = np.roll(index, shift=(-shift[0], -shift[1]), axis=(0, 1))
        adjacency[index.ravel(), neighbours.ravel()] = 1.0
    return np.maximum(adjacency, adjacency.T)


def _field_label(field: float | np.ndarray) -> str:
    """The field as it appears in a target's name: the number, or "array" for a per-site field."""
    return f"{float(field):g}" if np.ndim(field) == 0 else "array"


def _check_side(side: int) -> None:
    check_int(side, "side")
    if side < 2:
        raise ValueError(f"side must be >= 2, got {side}.")


@register("ising")
def ising(side: int = 3, coupling: float = 0.15, field: float | np.ndarray = 0.1, score: str = "barker") -> Target:
    """Ising model on a periodic side x side lattice, spins s = 2x - 1, log p = s^T (coupling A) s + field^T s."""
    _check_side(side)
    dim = side * side
    spin_field = np.broadcast_to(np.asarray(field, np.float64), (dim,))
    params = {"side": side, "coupling": coupling, "spin_field": spin_field}
    return pairwise_target(f"ising(side={side},coupling={coupling},field={_field_label(field)})", 4.0 * coupling * lattice_adjacency(side),
                           np.stack([-spin_field, spin_field], axis=-1), params, score)


@register("potts")
def potts(side: int = 3, num_colours: int = 3, coupling: float = 0.4, field: float | np.ndarray = 0.2,
          score: str = "barker") -> Target:
    """Potts model on a periodic side x side lattice: log p = coupling sum_<ij> [x_i = x_j] + sum_i h_i[x_i].

    `field`: a number favours colour 0 at every site; a ``(num_colours,)`` or ``(d, num_colours)`` array sets
    h directly. Exact marginals by enumeration for small lattices (3 x 3 with 3 colours: 19683 states).
    """
    _check_side(side)
    check_int(num_colours, "num_colours")
    if num_colours < 2:
        raise ValueError(f"num_colours must be >= 2, got {num_colours}.")
    dim = side * side
    if np.ndim(field) == 0:
        field_matrix = np.zeros((dim, num_colours))
        field_matrix[:, 0] = float(field)
    else:
        field_matrix = np.broadcast_to(np.asarray(field, np.float64), (dim, num_colours)).copy()
    params = {"side": side, "num_colours": num_colours, "coupling": coupling}
    name = f"potts(side={side},colours={num_colours},coupling={coupling},field={_field_label(field)})"
    return pairwise_target(name,
                           coupling * lattice_adjacency(side), field_matrix, params, score)
