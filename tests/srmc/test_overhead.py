"""Per-step and per-call overhead: same bits, fewer compiles (issue 16). Speed itself is measured by
benchmarks/numpy_protocol.py, never asserted here."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import validation
from srmc.engine.prng import unrolled_threefry
from srmc.tools import benchmark
from tests.srmc.tiny_runs import assert_same_run

TARGET = targets.get("correlated_gaussian", dim=3, rho=0.5)
BACKEND_COMPILES = [0]


def _count_compiles(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        BACKEND_COMPILES[0] += 1


jax.monitoring.register_event_duration_secs_listener(_count_compiles)


def _draws(key):
    key, sub = jax.random.split(jax.random.fold_in(key, 3))
    return jax.random.normal(key, (5,)), jax.random.uniform(sub, (2, 3)), jax.random.split(key, 4)


def test_unrolled_threefry_gives_the_same_bits_and_is_undone_after():
    key = jax.random.key(7)
    rolled = jax.jit(lambda k: _draws(k))
    with unrolled_threefry():
        unrolled = jax.jit(lambda k: _draws(k))
        unrolled_text = unrolled.lower(key).as_text()
        got = unrolled(key)
    expected = rolled(key)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a,
                                      jax.random.key_data(b) if jnp.issubdtype(b.dtype, jax.dtypes.prng_key) else b)
    if jax.default_backend() == "cpu":
        assert "while" not in unrolled_text
        assert "while" in jax.jit(lambda k: _draws(k)).lower(key).as_text()  # JAX's own rule is back


@pytest.mark.parametrize("alpha, options", [
    (2.0, {"tilt": "linear", "alpha_ramp": 0}),                           # a constant number
    (2.0, {"tilt": "linear", "alpha_ramp": 10}),                          # the rational ramp, default gamma
    (None, {"tilt": "score", "gamma": srmc.schedules.polynomial(1.0, 0.6)}),  # a linear warm-up schedule
])
def test_with_numbers_reproduces_a_fresh_wrap_bit_for_bit(alpha, options):
    def make(a):
        return srmc.wrap(samplers.mala, alpha=srmc.schedules.linear_warmup(a, 20) if alpha is None else a,
                         step_size=0.3, **options)

    def run(algorithm):
        return srmc.sample(jax.random.key(2), algorithm, TARGET, 40, 3, thin=4, chunk_size=20, progress=False)

    first = make(1.0)
    renumbered = first.with_numbers(alpha=5.0)
    assert renumbered == first and hash(renumbered) == hash(first)  # one compiled program serves both
    assert renumbered.numbers == {"alpha": 5.0} and first.numbers == {"alpha": 1.0}
    run(first)
    compiles = BACKEND_COMPILES[0]
    renumbered_result = run(renumbered)
    assert BACKEND_COMPILES[0] == compiles  # nothing new compiled for the new alpha
    assert_same_run(renumbered_result, run(make(5.0)))
    assert repr(renumbered) == repr(make(5.0))


def test_only_with_numbers_shares_a_program():
    """An algorithm equals (shares compiled chunks with) what with_numbers makes of it, not a replace of another
    field: a compiled chunk keyed on it must not serve another kernel parameter."""
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3)
    renumbered = algorithm.with_numbers(alpha=5.0)
    assert renumbered == algorithm and hash(renumbered) == hash(algorithm)
    assert dataclasses.replace(algorithm, kernel_params={"step_size": 0.1}) != algorithm
    assert srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3) != algorithm


def test_with_numbers_refuses_alpha_zero_and_algorithms_without_numbers():
    with pytest.raises(ValueError, match="alpha=0 is the base kernel"):
        srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3).with_numbers(alpha=0.0)
    with pytest.raises(TypeError, match="alpha=... only"):
        srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3).with_numbers(gamma=0.1)
    for algorithm in (srmc.wrap(samplers.mala, alpha=0.0, step_size=0.3), srmc.base(samplers.mala, step_size=0.3)):
        with pytest.raises(TypeError, match="no numbers"):
            algorithm.with_numbers(alpha=1.0)


def test_variance_benchmark_compiles_once_per_tilt(monkeypatch):
    compiles_per_run = []

    def counted_sample(*args, **kwargs):
        before = BACKEND_COMPILES[0]
        result = srmc.sample(*args, **kwargs)
        compiles_per_run.append(BACKEND_COMPILES[0] - before)
        return result

    monkeypatch.setattr(benchmark, "sample", counted_sample)
    report = benchmark.variance_benchmark(jax.random.key(0), TARGET, samplers.mala, {"step_size": 0.3},
                                          [0, 1, 3, 9], num_steps=30, num_replicates=4, tilts=("linear",),
                                          count_steps=0)
    assert [row.label for row in report.rows] == ["base", "srmc[linear]", "srmc[linear]", "srmc[linear]"]
    assert compiles_per_run[1] > 0 and compiles_per_run[2:] == [0, 0]
    assert report.rows[1].compile_seconds > 0 and all(row.compile_seconds < report.rows[1].compile_seconds
                                                      for row in report.rows[2:])


def test_check_step_traces_once_per_algorithm_target_and_shapes(monkeypatch):
    traced = []
    original = validation._traced_step_check
    monkeypatch.setattr(validation, "_traced_step_check", lambda *args: traced.append(1) or original(*args))
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3)
    for _ in range(2):
        srmc.sample(jax.random.key(0), algorithm, TARGET, 10, 2, progress=False)
    srmc.sample(jax.random.key(0), algorithm, TARGET, 10, 3, progress=False)  # more chains: same step
    assert len(traced) == 1
    srmc.sample(jax.random.key(0), algorithm, targets.get("iid_gaussian", dim=3), 10, 2, progress=False)
    assert len(traced) == 2
