"""Exact formulas for SRRW and HDT on small graphs (NumPy, float64); derivations in
docs/explanation/graph_samplers.md.

Notation: P the base chain (reversible w.r.t. mu for the spectral forms), (l_i, v_i) the eigenpairs of the
symmetric D_mu^{1/2} P D_mu^{-1/2} in decreasing order (l_1 = 1, v_1 = sqrt(mu)), u_i = D_mu^{1/2} v_i. U is the
asymptotic covariance of the base chain's visit average (n Cov of (1/n) sum_k delta_{X_k}):

    U = V_base = sum_{i>=2} (1 + l_i) / (1 - l_i) u_i u_i^T                       (reversible P)

The history's mean field h(x) = pi[x] - x has the Jacobian J at x = mu; on vectors summing to 0

    SRRW: J u_i = -c_i u_i,  c_i = alpha (1 + l_i) + 1;          HDT (any base kernel): J = -(alpha + 1) I.

Stochastic approximation with gamma_n = (n + m)^(-a) then gives

    a = 1:   n Cov(x_n) -> V,  (J + I/2) V + V (J + I/2)^T + U = 0:
             SRRW  V = sum_{i>=2} (1 + l_i) / (1 - l_i) / (2 c_i - 1) u_i u_i^T,     HDT  V = U / (2 alpha + 1);
             x_n is then the visit average itself (from pseudo-counts), so this is also the estimate's covariance.
    a < 1:   the plain visit average: n Cov -> J^-1 U J^-T:
             SRRW  sum_{i>=2} (1 + l_i) / (1 - l_i) / c_i^2 u_i u_i^T,                HDT  U / (alpha + 1)^2;
             the history itself: Cov(x_n) / gamma_n -> W with J W + W J^T + U = 0:
             SRRW  sum_{i>=2} (1 + l_i) / (1 - l_i) / (2 c_i) u_i u_i^T,              HDT  U / (2 (alpha + 1)).

Each closed form has a second, independent route here (`jacobian_*` and `lyapunov_covariance`), so tests can check
one against the other as well as against simulation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg


def _mu(mu: Any) -> np.ndarray:
    mu = np.asarray(mu, np.float64)
    return mu / mu.sum()


def stationary_distribution(matrix: np.ndarray) -> np.ndarray:
    """The stationary law of an irreducible transition matrix (left null vector of P - I, normalised)."""
    matrix = np.asarray(matrix, np.float64)
    size = matrix.shape[0]
    system = np.vstack([matrix.T - np.eye(size), np.ones((1, size))])
    rhs = np.concatenate([np.zeros(size), [1.0]])
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def reversible_spectrum(P: np.ndarray, mu: Any) -> tuple[np.ndarray, np.ndarray]:
    """(l, u): eigenvalues of D^{1/2} P D^{-1/2} in decreasing order and the columns u_i = D^{1/2} v_i
    (a ValueError unless P is reversible w.r.t. mu to 1e-10)."""
    P, mu = np.asarray(P, np.float64), _mu(mu)
    flows = mu[:, None] * P
    if np.max(np.abs(flows - flows.T)) > 1e-10:
        raise ValueError("P is not reversible w.r.t. mu; use lifted_covariance for a non-reversible chain.")
    root = np.sqrt(mu)
    symmetric = root[:, None] * P / root[None, :]
    values, vectors = np.linalg.eigh(0.5 * (symmetric + symmetric.T))
    order = np.argsort(values)[::-1]
    return values[order], root[:, None] * vectors[:, order]


def _spectral_sum(P: np.ndarray, mu: Any, factor) -> np.ndarray:
    """sum_{i>=2} (1 + l_i) / (1 - l_i) * factor(l_i) u_i u_i^T."""
    values, u = reversible_spectrum(P, mu)
    values, u = values[1:], u[:, 1:]
    weights = (1.0 + values) / (1.0 - values) * factor(values)
    return (u * weights) @ u.T


def base_covariance(P: np.ndarray, mu: Any) -> np.ndarray:
    """V_base = sum_{i>=2} (1 + l_i) / (1 - l_i) u_i u_i^T: n Cov of a reversible chain's visit average."""
    return _spectral_sum(P, mu, lambda values: np.ones_like(values))


def lifted_covariance(matrix: np.ndarray, node_of: Any, num_nodes: int) -> np.ndarray:
    """n Cov of the visit average of the nodes under any irreducible chain on lifted states (`node_of[s]` the
    node of state s; non-reversible chains such as NBRW included), by the fundamental matrix:
    F^T [D_nu A + A^T D_nu - D_nu + nu nu^T] F, A = (I - T + 1 nu^T)^-1 - 1 nu^T, F the state-to-node indicator."""
    matrix = np.asarray(matrix, np.float64)
    nu = stationary_distribution(matrix)
    size = len(nu)
    ones = np.ones((size, 1))
    fundamental = np.linalg.inv(np.eye(size) - matrix + ones @ nu[None, :]) - ones @ nu[None, :]
    weighted = nu[:, None] * fundamental
    state_covariance = weighted + weighted.T - np.diag(nu) + np.outer(nu, nu)
    indicator = np.zeros((size, num_nodes))
    indicator[np.arange(size), np.asarray(node_of)] = 1.0
    return indicator.T @ state_covariance @ indicator


def srrw_covariance(P: np.ndarray, mu: Any, alpha: float) -> np.ndarray:
    """SRRW, a = 1: sum_{i>=2} (1 + l_i) / (1 - l_i) / (2 alpha (1 + l_i) + 1) u_i u_i^T."""
    return _spectral_sum(P, mu, lambda values: 1.0 / (2.0 * alpha * (1.0 + values) + 1.0))


def srrw_average_covariance(P: np.ndarray, mu: Any, alpha: float) -> np.ndarray:
    """SRRW, a < 1, the plain visit average: sum_{i>=2} (1 + l_i) / (1 - l_i) / c_i^2 u_i u_i^T,
    c_i = alpha (1 + l_i) + 1."""
    return _spectral_sum(P, mu, lambda values: 1.0 / (alpha * (1.0 + values) + 1.0) ** 2)


def srrw_history_covariance(P: np.ndarray, mu: Any, alpha: float) -> np.ndarray:
    """SRRW, a < 1, the history: Cov(x_n) / gamma_n -> sum_{i>=2} (1 + l_i) / (1 - l_i) / (2 c_i) u_i u_i^T."""
    return _spectral_sum(P, mu, lambda values: 0.5 / (alpha * (1.0 + values) + 1.0))


def hdt_covariance(base: np.ndarray, alpha: float) -> np.ndarray:
    """HDT, a = 1: V_base / (2 alpha + 1) (any mu-invariant base kernel; `base` its V_base)."""
    return np.asarray(base, np.float64) / (2.0 * alpha + 1.0)


def hdt_average_covariance(base: np.ndarray, alpha: float) -> np.ndarray:
    """HDT, a < 1, the plain visit average: V_base / (alpha + 1)^2."""
    return np.asarray(base, np.float64) / (alpha + 1.0) ** 2


def hdt_history_covariance(base: np.ndarray, alpha: float) -> np.ndarray:
    """HDT, a < 1, the history: Cov(x_n) / gamma_n -> V_base / (2 (alpha + 1))."""
    return np.asarray(base, np.float64) / (2.0 * (alpha + 1.0))


# --- the frozen-history kernels ----------------------------------------------------------------------------------


def srrw_kernel(P: np.ndarray, mu: Any, x: Any, alpha: float) -> np.ndarray:
    """K[x]_ij = P_ij (x_j / mu_j)^-alpha / Z_i over the closed neighbourhood (where P_ij > 0)."""
    P, mu, x = np.asarray(P, np.float64), _mu(mu), _mu(x)
    weighted = P * (x / mu)[None, :] ** (-alpha)
    return weighted / weighted.sum(axis=1, keepdims=True)


def srrw_stationary(P: np.ndarray, mu: Any, x: Any, alpha: float) -> np.ndarray:
    """pi_i[x] ∝ mu_i (x_i / mu_i)^-alpha sum_j P_ij (x_j / mu_j)^-alpha, normalised."""
    P, mu, x = np.asarray(P, np.float64), _mu(mu), _mu(x)
    ratio = (x / mu) ** (-alpha)
    weights = mu * ratio * (P @ ratio)
    return weights / weights.sum()


def hdt_target(mu: Any, x: Any, alpha: float) -> np.ndarray:
    """pi_i[x] ∝ mu_i (x_i / mu_i)^-alpha, normalised."""
    mu, x = _mu(mu), _mu(x)
    weights = mu * (x / mu) ** (-alpha)
    return weights / weights.sum()


# --- the second route: mean-field Jacobians and Lyapunov equations -----------------------------------------------


def jacobian_srrw(P: np.ndarray, mu: Any, alpha: float) -> np.ndarray:
    """d(pi[x] - x)/dx at x = mu for SRRW: -alpha (I + P^T) + 2 alpha mu 1^T - I (from differentiating
    `srrw_stationary`; P reversible)."""
    P, mu = np.asarray(P, np.float64), _mu(mu)
    size = len(mu)
    return -alpha * (np.eye(size) + P.T) + 2.0 * alpha * np.outer(mu, np.ones(size)) - np.eye(size)


def jacobian_hdt(mu: Any, alpha: float) -> np.ndarray:
    """d(pi[x] - x)/dx at x = mu for HDT: -alpha I + alpha mu 1^T - I."""
    mu = _mu(mu)
    size = len(mu)
    return -alpha * np.eye(size) + alpha * np.outer(mu, np.ones(size)) - np.eye(size)


def numerical_jacobian(stationary_of_x, mu: Any, step: float = 1e-6) -> np.ndarray:
    """Central differences of x -> stationary_of_x(x) - x at mu along each coordinate (the map is homogeneous of
    degree 0 in x, so unnormalised perturbations are fine): a check of `jacobian_srrw` / `jacobian_hdt`."""
    mu = _mu(mu)
    columns = []
    for j in range(len(mu)):
        delta = np.zeros_like(mu)
        delta[j] = step
        plus, minus = stationary_of_x(mu + delta), stationary_of_x(mu - delta)
        columns.append((plus - minus) / (2.0 * step) - (np.arange(len(mu)) == j))
    return np.stack(columns, axis=1)


def lyapunov_covariance(jacobian: np.ndarray, noise: np.ndarray, step_exponent: float) -> np.ndarray:
    """The limit covariance of the history from the Jacobian and the noise U: a = 1: (J + I/2) V + V (J + I/2)^T
    + U = 0 (n Cov(x_n) -> V); a < 1: J W + W J^T + U = 0 (Cov(x_n) / gamma_n -> W)."""
    shift = 0.5 * np.eye(len(jacobian)) if step_exponent == 1.0 else 0.0
    return linalg.solve_continuous_lyapunov(jacobian + shift, -np.asarray(noise, np.float64))


def average_covariance(jacobian: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """a < 1: n Cov of the plain visit average -> J^-1 U J^-T."""
    inverse = np.linalg.inv(jacobian)
    return inverse @ np.asarray(noise, np.float64) @ inverse.T
