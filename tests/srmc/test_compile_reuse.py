"""Compiled programs are reused: a second identical `srmc.sample` call compiles nothing, more chunks of the same
size add no compilation, and the alphas of one tilt share one program.

Compilations are read off JAX's compile log (``jax.log_compiles``, switched on inside each test only): every
program handed to XLA logs "Finished XLA compilation of <name>". The log is read whether or not the persistent
compilation cache (`tests/conftest.py`) then finds the program: a program reused in memory is never logged.
"""

import collections
import contextlib
import logging
import re

import jax
import pytest

import srmc
from srmc import samplers, targets

_COMPILED = re.compile(r"Finished XLA compilation of (\S+)")


class _Compiles(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.names: collections.Counter = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        match = _COMPILED.search(record.getMessage())
        if match:
            self.names[match.group(1)] += 1


@contextlib.contextmanager
def compiles():
    """Count the XLA compilations inside the block by program name."""
    handler, logger = _Compiles(), logging.getLogger("jax")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        with jax.log_compiles(True):
            yield handler.names
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture(scope="module")
def target():
    return targets.get("correlated_gaussian", dim=4, rho=0.5)


@pytest.mark.parametrize("wrapped", [False, True], ids=["base", "srmc"])
def test_second_identical_call_compiles_nothing(target, wrapped):
    algorithm = (srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1) if wrapped
                 else srmc.base(samplers.mala, step_size=0.1))
    run = dict(num_steps=60, num_chains=4, warmup=40, options=srmc.RunOptions(chunk_size=20))
    first = srmc.sample(jax.random.key(0), algorithm, target, **run)
    with compiles() as names:
        second = srmc.sample(jax.random.key(0), algorithm, target, **run)
        third = srmc.sample(jax.random.key(1), algorithm, target, **run)  # another key: data, not a program
    assert dict(names) == {}
    assert second.estimates["x"].tolist() == first.estimates["x"].tolist()
    assert third.estimates["x"].tolist() != first.estimates["x"].tolist()


def test_more_chunks_add_no_compilation(target):
    """The chunk program depends on the chunk's length, not on how many chunks run nor on the run's length (its
    snapshot, monitor and halfway steps are data): 2, 4 or 8 chunks of 15 steps compile one warm-up chunk and one
    sampling chunk; a run cut into chunks of another length compiles its own."""
    algorithm = srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1)
    options = srmc.RunOptions(chunk_size=15)
    counts = []
    for num_steps in (30, 60, 120):  # 2, 4, 8 sampling chunks; the warm-up's 30 steps: 2 chunks
        with compiles() as names:
            srmc.sample(jax.random.key(0), algorithm, target, num_steps, 4, warmup=30, options=options)
        counts.append((names["jit(run_chunk)"], names["jit(_run_chunk)"]))
    assert counts[0] == (1, 1)
    assert counts[1:] == [(0, 0), (0, 0)]
    with compiles() as names:
        srmc.sample(jax.random.key(0), algorithm, target, 120, 4, warmup=30, options=srmc.RunOptions(chunk_size=10))
    assert (names["jit(run_chunk)"], names["jit(_run_chunk)"]) == (1, 1)


def test_alphas_share_one_program(target):
    """alpha is data: a second alpha of the same tilt reuses the first one's programs."""
    run = dict(num_steps=40, num_chains=4, warmup=20, options=srmc.RunOptions(chunk_size=20))
    srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1), target, **run)
    with compiles() as names:
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=5.0, step_size=0.1), target, **run)
    assert names["jit(_run_chunk)"] == 0 and names["jit(run_chunk)"] == 0, dict(names)


def test_the_same_registry_target_asked_again_reuses_its_programs():
    """`targets.get` hands back the Target it built for the same name and parameters (defaults filled in), so a
    second run on it, as a script or the CLI asking for it again, compiles nothing."""
    first_target = targets.get("correlated_gaussian", dim=3, rho=0.3)
    assert targets.get("correlated_gaussian", rho=0.3, dim=3) is first_target
    assert targets.get("correlated_gaussian", dim=3, rho=0.3, structure="equicorrelated") is first_target
    assert targets.get("correlated_gaussian", dim=3, rho=0.4) is not first_target
    run = dict(num_steps=40, num_chains=4, warmup=20, options=srmc.RunOptions(chunk_size=20))
    srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1), first_target, **run)
    with compiles() as names:
        srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1),
                    targets.get("correlated_gaussian", dim=3, rho=0.3), **run)
    assert names["jit(_run_chunk)"] == 0 and names["jit(run_chunk)"] == 0, dict(names)


def test_a_target_asked_for_under_another_precision_is_built_again():
    single = targets.get("correlated_gaussian", dim=2, rho=0.1)
    with jax.enable_x64(True):
        double = targets.get("correlated_gaussian", dim=2, rho=0.1)
        assert double is not single and double.logdensity(jax.numpy.zeros(2)).dtype == jax.numpy.float64
    assert targets.get("correlated_gaussian", dim=2, rho=0.1) is single


def test_one_process_runs_srmc_in_float64_then_float32_and_back():
    """The warm-up's prediction passes its alpha grid to compiled programs as a JAX array of the run's dtype: the
    NumPy grid itself, once captured by a float64 program, would reach a float32 one as float64 (JAX 0.10 keeps one
    device copy per captured NumPy constant) and fail with RuntimeProgramInputMismatch."""
    def run():
        target = targets.get("correlated_gaussian", dim=3, rho=0.3)
        result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, alpha=10.0), target, 40, 4,
                             warmup=srmc.Warmup(40), options=srmc.RunOptions(progress=False))
        return result.mean.dtype

    with jax.enable_x64(True):
        assert run() == jax.numpy.float64
    assert run() == jax.numpy.float32
    with jax.enable_x64(True):
        assert run() == jax.numpy.float64
