"""Schedules (values and validation); the command line is tested in test_cli.py and test_bench.py."""


import jax.numpy as jnp
import numpy as np
import pytest

from srmc.method import schedules


def test_schedule_values():
    np.testing.assert_allclose(schedules.polynomial(2.0, 0.5)(jnp.array(4)), 1.0)
    np.testing.assert_allclose(schedules.polynomial(1.0, 1.0, 3.0)(jnp.array(1)), 0.25)
    warm = schedules.linear_warmup(10.0, 100)
    np.testing.assert_allclose([warm(0), warm(50), warm(100), warm(1000)], [0.0, 5.0, 10.0, 10.0])
    rational = schedules.rational(10.0, 5.0)
    np.testing.assert_allclose([rational(0), rational(50), rational(10**6)], [0.0, 5.0, 10.0], rtol=1e-3)
    np.testing.assert_allclose(schedules.constant(0.3)(jnp.array(7)), 0.3)
    np.testing.assert_allclose(schedules.default_gamma(10.0)(jnp.array(1)), 1.0 / 22.0)


def test_schedule_validation():
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.linear_warmup(1.0, 0)
    with pytest.raises(ValueError, match="c must be"):
        schedules.rational(1.0, -1.0)
    with pytest.raises(TypeError, match="alpha must be a number"):
        schedules.as_schedule("big", "alpha")
    with pytest.raises(ValueError, match="gamma schedule must be finite and positive; at step 0"):
        schedules.check_schedule(schedules.polynomial(), "gamma", 10, positive=True)
    schedules.check_schedule(schedules.polynomial(), "gamma", 10, positive=True, start=1)
