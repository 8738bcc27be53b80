"""Bad input fails early, before compilation, with a message naming the argument."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest

import srmc
from srmc import samplers, targets


@pytest.fixture(scope="module")
def target():
    return targets.get("iid_gaussian", dim=3)


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf")])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        srmc.wrap(samplers.mala, tilt="score", alpha=alpha, step_size=0.1)


def test_alpha_schedule_going_negative_is_caught_before_running(target):
    algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=lambda n: 1.0 - 0.01 * n, step_size=0.1)
    with pytest.raises(ValueError, match="alpha schedule .* at step 101"):
        srmc.sample(jax.random.key(0), algorithm, target, num_steps=500, warmup=0)


@pytest.mark.parametrize("step_size", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_step_size(step_size):
    with pytest.raises(ValueError, match="step_size"):
        srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=step_size)
    with pytest.raises(ValueError, match="step_size"):
        srmc.base(samplers.mala, step_size=step_size)


def test_missing_and_unknown_kernel_parameters():
    with pytest.raises(TypeError, match="Missing kernel parameter.*num_integration_steps"):
        srmc.wrap(samplers.hmc, tilt="score", alpha=1.0, step_size=0.1)
    # a step size may be left to the warm-up, but not without one
    no_step = srmc.wrap(samplers.mala, tilt="score", alpha=1.0)
    assert [node.name for node in srmc.method.algorithm.unset_parameters(no_step.params)] == ["step_size"]
    with pytest.raises(ValueError, match="no step_size.*warmup"):
        srmc.sample(jax.random.key(0), no_step, targets.get("iid_gaussian", dim=2), 10, 2, warmup=0)
    with pytest.raises(TypeError, match="Unknown kernel parameter.*stepsize"):
        srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.1, stepsize=0.1)


def test_bad_tilt_gradient_gamma_and_base():
    with pytest.raises(ValueError, match="tilt"):
        srmc.wrap(samplers.mala, tilt="quadratic", step_size=0.1)
    with pytest.raises(ValueError, match="gradient"):
        srmc.wrap(samplers.mala, tilt="score", gradient="approximate", step_size=0.1)
    with pytest.raises(ValueError, match="gamma"):
        srmc.wrap(samplers.mala, tilt="score", gamma=0.0, step_size=0.1)
    with pytest.raises(TypeError, match="build_kernel"):
        srmc.wrap(object(), tilt="score", step_size=0.1)


@pytest.mark.parametrize("shape", [(4,), (2, 4), (3, 3), (2, 2, 3)])
def test_wrong_position_shape(target, shape):
    algorithm = srmc.wrap(samplers.mala, tilt="score", step_size=0.1)
    with pytest.raises(ValueError, match=r"initial_position must have shape \(2, 3\) or \(3,\)"):
        srmc.sample(jax.random.key(0), algorithm, target, 10, 2, initial_position=jnp.zeros(shape), warmup=0)


def test_nonfinite_initial_position(target):
    with pytest.raises(ValueError, match="initial_position contains non-finite"):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, tilt="score", step_size=0.1), target, 10, 1,
                    initial_position=jnp.array([0.0, jnp.nan, 0.0]), warmup=0)


def test_logdensity_not_finite_at_initial_position():
    logdensity = lambda x: jnp.where(x[0] > 0, -0.5 * jnp.sum(x**2), -jnp.inf)
    with pytest.raises(ValueError, match="logdensity is not finite at the initial position of chain 1"):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, tilt="score", step_size=0.1), logdensity, 10, 2,
                    initial_position=jnp.array([[1.0, 0.0], [-1.0, 0.0]]), warmup=0)


def test_score_of_wrong_shape(target):
    bad = dataclasses.replace(target, score=lambda x: jnp.concatenate([x, x]))
    with pytest.raises(ValueError, match=r"target.score must return shape \(3,\)"):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, tilt="score", step_size=0.1), bad, 10, 1, warmup=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"num_steps": 0}, "num_steps"), ({"num_chains": 0}, "num_chains"), ({"num_steps": 2.5}, "num_steps"),
     ({"burn_in": -1}, "burn_in"), ({"thin": 0}, "thin"), ({"chunk_size": 0}, "chunk_size")],
)
def test_bad_run_lengths(target, kwargs, match):
    arguments = {"num_steps": 10, "num_chains": 1} | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, tilt="score", step_size=0.1), target, **arguments)


def test_algorithm_must_be_built(target):
    with pytest.raises(TypeError, match="srmc.wrap"):
        srmc.sample(jax.random.key(0), samplers.mala, target, 10)


def test_unknown_target_name():
    with pytest.raises(KeyError, match="Known targets"):
        targets.get("no_such_target")
