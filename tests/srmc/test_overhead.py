"""Per-step and per-call overhead: same bits, fewer compiles (issue 16). Speed itself is measured by
benchmarks/numpy_protocol.py, never asserted here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import validation
from srmc.tools import benchmark
from tests.srmc.tiny_runs import assert_same_run

TARGET = targets.get("correlated_gaussian", dim=3, rho=0.5)
BACKEND_COMPILES = [0]


def _count_compiles(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        BACKEND_COMPILES[0] += 1


jax.monitoring.register_event_duration_secs_listener(_count_compiles)


@pytest.mark.parametrize("alpha, options", [
    (2.0, {"tilt": "linear", "alpha_ramp": 0}),                           # a constant number
    (2.0, {"tilt": "linear", "alpha_ramp": 10}),                          # the rational ramp, default gamma
    (None, {"tilt": "score", "gamma": srmc.schedules.polynomial(1.0, 0.6)}),  # a linear warm-up schedule
])
def test_another_alpha_is_data_and_reuses_the_compiled_program(alpha, options):
    """alpha is a parameter (``algorithm.params``), not part of the program: a fresh wrap with another alpha is
    the same program (equal, hashing alike), compiles nothing new, and its run equals the first algorithm's run
    with the other alpha's parameters, bit for bit."""
    def make(a):
        return srmc.wrap(samplers.mala, alpha=srmc.schedules.linear_warmup(a, 20) if alpha is None else a,
                         step_size=0.3, **options)

    def run(algorithm):
        return srmc.sample(jax.random.key(2), algorithm, TARGET, 40, 3, warmup=0,
                           options=srmc.RunOptions(thin=4, chunk_size=20, progress=False))

    first, other = make(1.0), make(5.0)
    assert first.program == other.program and hash(first.program) == hash(other.program)
    run(first)
    compiles = BACKEND_COMPILES[0]
    other_result = run(other)
    assert BACKEND_COMPILES[0] == compiles  # nothing new compiled for the new alpha
    assert_same_run(other_result, run(first._replace(params=other.params)))


def test_only_the_same_choices_share_a_program():
    """Programs are equal exactly when every choice is: another static kernel parameter, tilt or kernel is another
    program; another number (step size, alpha) is not."""
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3)
    assert srmc.wrap(samplers.mala, alpha=3.0, tilt="linear", step_size=0.1).program == algorithm.program
    assert srmc.wrap(samplers.mala, alpha=1.0, tilt="score", step_size=0.3).program != algorithm.program
    assert srmc.wrap(samplers.rwm, alpha=1.0, tilt="linear", step_size=0.3).program != algorithm.program
    hmc = srmc.wrap(samplers.hmc, alpha=1.0, tilt="linear", step_size=0.3, num_integration_steps=5)
    assert srmc.wrap(samplers.hmc, alpha=1.0, tilt="linear", step_size=0.3, num_integration_steps=6).program \
        != hmc.program
    assert srmc.wrap(samplers.mala, alpha=0.0, tilt="linear", step_size=0.3).program != algorithm.program


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
                                          count_steps=0, warmup=0)
    assert [row.label for row in report.rows] == ["base", "srmc[linear]", "srmc[linear]", "srmc[linear]"]
    assert compiles_per_run[1] > 0 and compiles_per_run[2:] == [0, 0]
    assert report.rows[1].compile_seconds > 0 and all(row.compile_seconds < report.rows[1].compile_seconds
                                                      for row in report.rows[2:])


def test_check_step_traces_once_per_algorithm_target_and_shapes(monkeypatch):
    traced = []
    original = validation._traced_step_check
    monkeypatch.setattr(validation, "_traced_step_check", lambda *args: traced.append(1) or original(*args))
    monkeypatch.setattr(validation, "_checked_steps", {})  # equal programs of earlier tests share the cache
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, tilt="linear", step_size=0.3)
    for _ in range(2):
        srmc.sample(jax.random.key(0), algorithm, TARGET, 10, 2, options=srmc.RunOptions(progress=False), warmup=0)
    srmc.sample(jax.random.key(0), algorithm, TARGET, 10, 3, options=srmc.RunOptions(progress=False), warmup=0)  # more chains: same step
    assert len(traced) == 1
    srmc.sample(jax.random.key(0), algorithm, targets.get("iid_gaussian", dim=3), 10, 2, options=srmc.RunOptions(progress=False), warmup=0)
    assert len(traced) == 2
