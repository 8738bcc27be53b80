"""The surrogate's proposal gradients: the finite-difference Hessian-vector option against the exact one."""

import jax
import jax.numpy as jnp
import numpy as np

from srmc import samplers, targets, testing
from srmc.method.tilt import score as score_tilt


def test_finite_difference_gradient_converges_to_the_exact_one_linearly_in_the_step():
    with jax.enable_x64(True):
        target = targets.get("banana", dim=3)  # non-Gaussian: the forward difference has an O(c) error
        x, theta = jnp.array([0.7, -0.3, 0.2]), jnp.array([0.4, 1.1, -0.5])
        score = target.score(x)
        exact = score_tilt("exact").gradient(target, x, score, theta, 2.0, None)
        errors = [float(jnp.abs(score_tilt("finite_difference", c).gradient(target, x, score, theta, 2.0, None)
                                - exact).max()) for c in (1e-2, 5e-3)]
        assert errors[0] > 0 and 1.8 < errors[0] / errors[1] < 2.2  # first order in c
        at_zero = score_tilt("finite_difference", 1e-3).gradient(target, x, score, theta, 0.0, None)
        assert np.array_equal(np.asarray(at_zero), np.asarray(score))


def test_srmc_with_the_finite_difference_gradient_leaves_the_tilted_gaussian_invariant():
    target = targets.get("correlated_gaussian", dim=3, rho=0.5)
    result = testing.check_srmc_frozen_theta(samplers.mala, {"step_size": 0.3}, target, np.array([0.5, -0.3, 0.2]),
                                             2.0, gradient="finite_difference")
    assert result, result
