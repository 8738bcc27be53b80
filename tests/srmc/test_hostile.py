"""Hostile inputs: a clear error before running, or a run that rejects bad proposals, counts them, and keeps
every estimate finite (and correct on the rest); a non-finite estimate is never returned without a flag."""

import math
import tempfile
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srmc
from srmc import samplers
from tests.srmc.tiny_runs import ALGORITHM, KEY, TARGET, assert_same_run

LOWER, UPPER = -0.5, 2.0  # the box of the truncated Gaussian


def truncated_gaussian(x):
    """N(0, I) on the box [-0.5, 2]^2: -inf where x[0] leaves it, NaN where x[1] does."""
    value = -0.5 * jnp.sum(x**2)
    value = jnp.where((x[0] < LOWER) | (x[0] > UPPER), -jnp.inf, value)
    return jnp.where((x[1] < LOWER) | (x[1] > UPPER), jnp.nan, value)


def truncated_moments(a: float, b: float) -> tuple[float, float]:
    """Exact mean and variance of N(0, 1) truncated to [a, b]."""
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    mass = cdf(b) - cdf(a)
    mean = (pdf(a) - pdf(b)) / mass
    return mean, 1 + (a * pdf(a) - b * pdf(b)) / mass - mean**2


def test_truncated_gaussian_rejects_outside_counts_and_recovers_exact_moments():
    """MALA on the box: proposals outside (-inf or NaN) are rejected and counted; the mean and variance match
    the exact truncated moments within 4.5 chain-spread standard errors (16 chains: t with 15 degrees of freedom,
    two-sided p ~ 4e-4 for each of the 4 comparisons)."""
    positions = jax.random.uniform(jax.random.key(1), (16, 2), minval=LOWER, maxval=UPPER)
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.5), truncated_gaussian, 2000, 16,
                         initial_position=positions, options=srmc.RunOptions(chunk_size=2000), warmup=0)  # uniform starts: O(tau / n) bias, negligible
    mean, variance = truncated_moments(LOWER, UPPER)
    assert np.all(result.num_nonfinite > 0)
    assert result.nonfinite_estimates == [] and all(np.all(np.isfinite(v)) for v in result.estimates.values())
    np.testing.assert_array_less(np.abs(result.mean - mean), 4.5 * result.mcse("x"))
    np.testing.assert_array_less(np.abs(result.variance - variance), 4.5 * result.variance_mcse)


def hostile(x):
    """Exploding gradients (exp(4 x^2): the gradient reaches 1e5 at |x| = 2 and the density overflows to -inf
    beyond 4.7), an overflow to +inf where x[0] > 1.8 and NaN where x[1] < -1.8."""
    value = -0.5 * jnp.sum(x**2) - 1e-3 * jnp.sum(jnp.exp(4.0 * x**2))
    value = jnp.where(x[0] > 1.8, jnp.exp(100.0 * x[0]), value)
    return jnp.where(x[1] < -1.8, jnp.nan, value)


def test_srmc_on_exploding_overflowing_and_nan_regions_stays_finite():
    """The score tilt's exact Hessian-vector products see the same explosions; everything stays finite."""
    algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=srmc.schedules.linear_warmup(2.0, 100), step_size=0.3)
    result = srmc.sample(jax.random.key(0), algorithm, hostile, 400, 4, initial_position=jnp.zeros(2), options=srmc.RunOptions(chunk_size=400), warmup=0)
    assert np.all(result.num_nonfinite > 0) and np.all(result.acceptance_rate > 0)
    assert result.nonfinite_estimates == [] and all(np.all(np.isfinite(v)) for v in result.estimates.values())
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(result.final_state))  # theta included


SHORT = dict(num_steps=6, num_chains=4, warmup=0, options=srmc.RunOptions(chunk_size=6))  # one compiled program
FLAGGED_FUNCTIONS = {"x": lambda x: x, "log": jnp.log, "overflow": lambda x: jnp.exp(100.0 * x)}
CHECKPOINT_FIELDS = {"every": "every", "overwrite": "overwrite", "resume": "resume"}


def _sample(**changes):
    """A short run of the shared tiny configuration, with functions that go non-finite (so always flagged); a
    change named as a `srmc.RunOptions` field goes into the options, one of `CHECKPOINT_FIELDS` into a
    `srmc.Checkpointing` of a fresh path."""
    options = {name: changes.pop(name) for name in list(changes) if name in srmc.RunOptions._fields}
    checkpoint = {CHECKPOINT_FIELDS[name]: changes.pop(name) for name in list(changes) if name in CHECKPOINT_FIELDS}
    arguments = {"rng_key": KEY, "algorithm": ALGORITHM, "target": TARGET, "functions": FLAGGED_FUNCTIONS} | SHORT
    arguments["options"] = SHORT["options"]._replace(**options)
    if checkpoint:
        arguments["checkpoint"] = srmc.Checkpointing(tempfile.mktemp(suffix=".npz"), **checkpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return srmc.sample(**(arguments | changes))


def test_float64_and_float32_mixing():
    """A float64 initial position without x64 runs in float32, exactly as a float32 one. With x64 on, the wider
    of the position's and the log density's dtypes sets the run's precision: float32 positions with a float64 log
    density are promoted (before this, the score tilt's custom JVP failed on the mixed dtypes)."""
    as_float64 = _sample(initial_position=np.zeros((4, 3), np.float64))
    assert_same_run(as_float64, _sample(initial_position=np.zeros((4, 3), np.float32)))
    assert as_float64.mean.dtype == np.float32
    with jax.enable_x64(True):
        in_float64 = lambda x: -0.5 * jnp.sum(x.astype(jnp.float64) ** 2)
        algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.4)  # score tilt: its custom JVP sees dtypes
        short = {"num_steps": 30, "num_chains": 2, "warmup": 0, "options": srmc.RunOptions(chunk_size=30)}
        promoted = srmc.sample(KEY, algorithm, in_float64, **short, initial_position=np.zeros(3, np.float32))
        native = srmc.sample(KEY, algorithm, in_float64, **short, initial_position=np.zeros(3, np.float64))
    assert_same_run(promoted, native)
    assert promoted.mean.dtype == np.float64 and promoted.final_state.inner.position.dtype == jnp.float64
    assert all(np.all(np.isfinite(v)) for v in promoted.estimates.values()) and 0 < promoted.acceptance_rate.min()


def test_nonfinite_function_values_are_flagged_never_silent():
    with pytest.warns(RuntimeWarning, match="'log'.*'overflow'"):
        result = srmc.sample(KEY, ALGORITHM, TARGET, **SHORT, functions=FLAGGED_FUNCTIONS)
    assert result.nonfinite_estimates == ["log", "overflow"]
    assert np.any(np.isnan(result.estimates["log"])) and np.all(np.isfinite(result.estimates["x"]))
    assert np.all(result.num_nonfinite_values["log"] > 0) and np.all(result.num_nonfinite_values["x"] == 0)
    assert "WARNING [nonfinite_estimates]: non-finite function values" in result.summary()


@pytest.mark.parametrize(
    "functions,message",
    [([lambda x: x], "functions must be a mapping"), ({}, "at least one function"),
     ({"a": 1.0}, r"functions\['a'\] must be a callable"), ({1: lambda x: x}, "keys must be strings"),
     ({"a": lambda x: "text"}, r"functions\['a'\] failed"), ({"a": lambda x: (x, x)}, "must return one array"),
     ({"a": lambda x: x * 1j}, "must return real numbers"), ({"a": lambda x: x @ jnp.ones(4)}, "failed on a position")],
)
def test_bad_functions_fail_before_running(functions, message):
    with pytest.raises(TypeError if functions != {} else ValueError, match=message):
        srmc.sample(KEY, ALGORITHM, TARGET, **SHORT, functions=functions)


# ---- fuzz: random bad parameters to srmc.sample, srmc.wrap / srmc.base and the schedules --------------------------

NUMBERS = st.sampled_from([-1.5, float("nan"), float("inf"), -float("inf"), -2, -1])
JUNK = st.sampled_from([None, True, "", "x", [], [-1], {"a": 1}, object(), np.full(3, np.nan), np.zeros((2, 2))])
BAD = st.one_of(NUMBERS, JUNK)
NOT_PATHS = st.one_of(NUMBERS, st.sampled_from([True, [], {"a": 1}, object(), ""]))
BAD_SAMPLE_ARGUMENTS = {
    name: BAD for name in ("rng_key", "algorithm", "target", "num_steps", "num_chains", "initial_position", "functions",
                           "burn_in", "thin", "chunk_size", "snapshot_steps", "devices", "overwrite", "progress",
                           "every", "warmup", "options")
} | {"num_steps": st.one_of(BAD, st.just(0)), "num_chains": st.one_of(BAD, st.just(0)), "num_batches": st.one_of(
    BAD, st.sampled_from([1, 3])), "devices": st.one_of(BAD, st.sampled_from([0, 99])), "checkpoint": NOT_PATHS,
     "resume": NOT_PATHS.filter(lambda value: value is not True)}  # resume=True is a valid choice
BAD_KERNEL_ARGUMENTS = {"alpha": BAD, "gamma": st.one_of(NUMBERS, st.just(0.0), JUNK.filter(lambda v: v is not None)),
                        "tilt": BAD, "gradient": BAD, "step_size": st.one_of(BAD, st.just(0.0))}
SCHEDULES = {"constant": (srmc.schedules.constant, ("value",)), "linear_warmup": (srmc.schedules.linear_warmup,
             ("alpha", "warmup_steps")), "polynomial": (srmc.schedules.polynomial, ("scale", "power", "offset")),
             "rational": (srmc.schedules.rational, ("alpha", "c"))}
GOOD_SCHEDULE_ARGUMENTS = {"value": 1.0, "alpha": 1.0, "warmup_steps": 10, "scale": 1.0, "power": 0.6, "offset": 1.0,
                           "c": 1.0}


@st.composite
def bad_calls(draw):
    """(argument names that a clear error must mention, a call with one bad parameter)."""
    kind = draw(st.sampled_from(["sample", "kernel", "schedule"]))
    if kind == "sample":
        name = draw(st.sampled_from(sorted(BAD_SAMPLE_ARGUMENTS)))
        value = draw(BAD_SAMPLE_ARGUMENTS[name])
        return (name,), lambda: _sample(**{name: value})
    if kind == "kernel":
        name = draw(st.sampled_from(sorted(BAD_KERNEL_ARGUMENTS)))
        value = draw(BAD_KERNEL_ARGUMENTS[name])
        build = draw(st.sampled_from([srmc.wrap, srmc.base])) if name == "step_size" else srmc.wrap
        params = {"step_size": 0.4, "tilt": "linear"} | {name: value}
        if build is srmc.base:
            params = {"step_size": value}
        return (name,), lambda: _sample(algorithm=build(samplers.mala, **params))
    schedule, parameters = SCHEDULES[draw(st.sampled_from(sorted(SCHEDULES)))]
    name = draw(st.sampled_from(parameters))
    arguments = {p: GOOD_SCHEDULE_ARGUMENTS[p] for p in parameters} | {name: draw(BAD)}
    # the schedule's own argument, or the alpha it becomes when it cannot be checked before it is evaluated
    return (name, "alpha"), lambda: _sample(algorithm=srmc.wrap(samplers.mala, alpha=schedule(**arguments),
                                                                step_size=0.4, tilt="linear"))


@pytest.fixture(scope="module")
def compiled_short_run():
    return _sample()


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(call=bad_calls())
def test_fuzz_bad_parameters_give_a_clear_error_or_a_flagged_result(compiled_short_run, call):
    names, run = call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. jnp.asarray of a float64 array without x64
        try:
            result = run()
        except (ValueError, TypeError, KeyError) as error:
            assert any(name in str(error) for name in names), (names, error)
            return
    for name, value in result.estimates.items():
        assert np.all(np.isfinite(value)) or name in result.nonfinite_estimates
