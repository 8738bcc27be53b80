"""Bad input to `walk_jump` fails before anything compiles, with a message naming the argument and the fix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.method import walk_jump as wj
from srmc.tools.walk_jump import walk_jump

KEY = jax.random.key(0)
TARGET = targets.get("iid_gaussian", dim=2)


def quadratic(x):
    return -0.5 * jnp.sum(x**2)


@pytest.mark.parametrize("noise_scale", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_noise_scale_must_be_positive_and_finite(noise_scale):
    with pytest.raises(ValueError, match="noise_scale"):
        walk_jump(KEY, TARGET, 4, noise_scale=noise_scale, num_measurements=2)


@pytest.mark.parametrize("num_measurements", [0, -2])
def test_num_measurements_below_one(num_measurements):
    with pytest.raises(ValueError, match="num_measurements must be >= 1"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=num_measurements)


@pytest.mark.parametrize("num_measurements", [2.5, True, np.float32(3)])
def test_num_measurements_must_be_an_integer(num_measurements):
    with pytest.raises(ValueError, match="num_measurements must be an integer"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=num_measurements)


@pytest.mark.parametrize("argument,value", [("num_inner_steps", 0), ("num_chains", 0), ("burn_in_walks", -1)])
def test_counts(argument, value):
    with pytest.raises(ValueError, match=argument):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, **{argument: value})


def test_num_samples_and_step_size():
    with pytest.raises(ValueError, match="num_samples"):
        walk_jump(KEY, TARGET, 0, noise_scale=1.0, num_measurements=2)
    with pytest.raises(ValueError, match="step_size"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, step_size=-0.1)


def test_a_plain_log_density_needs_dim_and_a_scale():
    with pytest.raises(ValueError, match="dim="):
        walk_jump(KEY, quadratic, 4, noise_scale=1.0, num_measurements=2)
    with pytest.raises(ValueError, match="noise_scale=.*num_measurements=.*scale="):
        walk_jump(KEY, quadratic, 4, dim=2)
    with pytest.raises(ValueError, match="scale must be positive"):
        walk_jump(KEY, quadratic, 4, dim=2, scale=0.0)
    with pytest.raises(ValueError, match="scale must be a number or 2 numbers"):
        walk_jump(KEY, quadratic, 4, dim=2, scale=[1.0, 2.0, 3.0])


def test_not_a_target_and_not_a_function():
    with pytest.raises(ValueError, match="Target or a function"):
        walk_jump(KEY, np.zeros(2), 4, dim=2, noise_scale=1.0, num_measurements=2)


def test_discrete_targets_and_mismatched_dim_are_refused():
    with pytest.raises(ValueError, match="continuous"):
        walk_jump(KEY, targets.from_logdensity(lambda x: -jnp.sum(x), targets.Categorical(4, 2)), 4,
                  noise_scale=1.0, num_measurements=2)
    with pytest.raises(ValueError, match="dim=3 disagrees"):
        walk_jump(KEY, TARGET, 4, dim=3, noise_scale=1.0, num_measurements=2)


def test_non_finite_starts_and_log_densities():
    with pytest.raises(ValueError, match="initial_position has non-finite"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, initial_position=[0.0, np.nan])
    with pytest.raises(ValueError, match="initial_position must have shape"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, initial_position=np.zeros(3))
    with pytest.raises(ValueError, match="log pi is NaN"):
        walk_jump(KEY, lambda x: jnp.nan * jnp.sum(x), 4, dim=2, noise_scale=1.0, num_measurements=2)
    with pytest.raises(ValueError, match="smoothed log density or its score is not finite"):
        walk_jump(KEY, lambda x: jnp.where(jnp.sum(x**2) < 1e6, -jnp.inf, 0.0), 4, dim=2, noise_scale=1.0,
                  num_measurements=2)


def test_inner_kernel_and_smoothing_must_be_records():
    with pytest.raises(ValueError, match="InnerKernel"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, inner="mala")
    with pytest.raises(ValueError, match="must cache"):
        wj.build_kernel(wj.InnerKernel(wj.mala.spec._replace(split_density=False), True))
    with pytest.raises(ValueError, match="Smoothing record"):
        walk_jump(KEY, TARGET, 4, noise_scale=1.0, num_measurements=2, smoothing=TARGET.smoothed_logdensity)
