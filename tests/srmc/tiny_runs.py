"""One tiny run configuration shared by the scale-and-reliability tests, so its compiled chunks are reused.

`srmc.sample` compiles one program per (algorithm, target, functions, chunk shape); tests that use these very
objects and `RUN`'s lengths hit the jit cache instead of compiling again (a compile costs seconds on CI). Also
the helpers those tests share: `assert_same_run`, `interrupt_at_save`.
"""

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.engine import checkpoint as checkpoints

TARGET = targets.get("iid_gaussian", dim=3)
ALGORITHM = srmc.wrap(samplers.mala, alpha=2.0, tilt="linear", step_size=0.4)
KEY = jax.random.key(11)
# burn-in chunks of 6 and sampling chunks of 6 = 2 blocks of thin 3: two compiled programs for any num_steps
# that is a multiple of 6; no warm-up (the step size is given)
OPTIONS = srmc.RunOptions(burn_in=12, thin=3, chunk_size=6, snapshot_steps=(3, 30, 60))
RUN = dict(num_steps=60, num_chains=4, warmup=0, options=OPTIONS)


def run_with(**changes) -> dict:
    """`RUN` with some of its options changed (e.g. ``run_with(chunk_size=12)``)."""
    return RUN | {"options": OPTIONS._replace(**changes)}


def assert_same_run(a: srmc.SampleResult, b: srmc.SampleResult, rtol: float = 0.0) -> None:
    """Identical results (bit for bit with ``rtol=0``, else floats to `rtol`): estimates, batch means, snapshots,
    counts, final states, draws and their stats. Integer counts are always compared exactly."""

    def equal(x, y, err_msg=""):
        x, y = np.asarray(x), np.asarray(y)
        if rtol and np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol, err_msg=err_msg)
        else:
            np.testing.assert_array_equal(x, y, err_msg=err_msg)

    assert a.chain_estimates.keys() == b.chain_estimates.keys()
    for name in a.chain_estimates:
        equal(a.chain_estimates[name], b.chain_estimates[name])
        equal(a.num_nonfinite_values[name], b.num_nonfinite_values[name])
    for field in ("batch_means", "snapshots", "draw_stats"):
        first, second = getattr(a, field), getattr(b, field)
        assert first.keys() == second.keys(), field
        for name in first:
            equal(first[name], second[name])
    assert a.batch_length == b.batch_length
    equal(a.acceptance_rate, b.acceptance_rate)
    equal(a.num_nonfinite, b.num_nonfinite)
    equal(a.draws, b.draws)
    jax.tree.map(equal, a.final_state, b.final_state)


def interrupt_at_save(monkeypatch, failing_save: int) -> None:
    """Make the `failing_save`-th checkpoint write raise, as if the process died between two chunks."""
    calls = []
    save = checkpoints.save

    def interrupted(*args, **kwargs):
        calls.append(None)
        if len(calls) == failing_save:
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save", interrupted)
