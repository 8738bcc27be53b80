"""The progress bar counts finished steps (warm-up, burn-in and counted steps), and a result splits its wall time
into compile time and sampling time."""

import sys
import types

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets

tqdm_auto = pytest.importorskip("tqdm.auto")

TARGET = targets.get("iid_gaussian", dim=2)
WARMUP, BURN_IN, NUM_STEPS, CHUNK = 12, 8, 24, 4


class FakeBar:
    """Stands in for `tqdm.auto.tqdm` (which the runner imports when it makes its bar): records every update."""

    def __init__(self, ticks, total, initial=0, **kwargs):
        self.ticks, self.total, self.n, self.kwargs = ticks, total, initial, kwargs
        self.ticks_at_start, self.updates, self.closed = len(ticks), [], False

    def update(self, size):
        self.n += size
        self.updates.append((self.n, len(self.ticks) - self.ticks_at_start))  # (bar count, counted steps done)

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    made, ticks = [], []

    def make(*args, **kwargs):
        made.append(FakeBar(ticks, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tqdm_auto, "tqdm", make)
    return made, ticks


def test_progress_bar_counts_finished_steps(bars):
    made, ticks = bars

    def tick(x):  # runs on the host once per counted step (one chain), when the step has been computed
        jax.debug.callback(lambda: ticks.append(1))
        return x[0]

    algorithm = srmc.base(samplers.rwm, step_size=0.5)
    srmc.sample(jax.random.key(0), algorithm, TARGET, NUM_STEPS, 1,
                warmup=WARMUP, functions={"tick": tick}, options=srmc.RunOptions(burn_in=BURN_IN, chunk_size=CHUNK, progress=True))
    (bar,) = made
    assert bar.total == WARMUP + BURN_IN + NUM_STEPS and bar.closed
    assert bar.kwargs["desc"] == algorithm.name
    assert bar.n == bar.total
    counts = [count for count, _ in bar.updates]
    assert counts == list(range(CHUNK, bar.total + 1, CHUNK))  # warm-up chunks, then burn-in, then counted steps
    for count, counted_done in bar.updates:  # at each update, every step it reports has finished
        assert counted_done == max(0, count - WARMUP - BURN_IN), bar.updates


def test_progress_bar_off_by_default_without_a_terminal(bars):
    made, _ = bars  # pytest captures stderr: not a terminal
    srmc.sample(jax.random.key(0), srmc.base(samplers.rwm, step_size=0.5), TARGET, NUM_STEPS, 1,
                warmup=0, options=srmc.RunOptions(chunk_size=CHUNK))
    assert made == []


def test_compile_and_sampling_time():
    algorithm = srmc.base(samplers.rwm, step_size=0.5)
    first, second = (srmc.sample(jax.random.key(0), algorithm, TARGET, NUM_STEPS, 2, warmup=0, options=srmc.RunOptions(chunk_size=CHUNK))
                     for _ in range(2))
    for result in (first, second):
        assert result.compile_time >= 0 and result.sampling_time >= 0
        np.testing.assert_allclose(result.compile_time + result.sampling_time, result.wall_time, rtol=1e-6)
        assert f"compile {result.compile_time:.2f} s, sampling {result.sampling_time:.2f} s" in result.summary()
    assert first.compile_time > 0
    assert second.compile_time < first.compile_time  # the second run reuses the compiled chunks


class ZMQInteractiveShell:
    """Stands in for a Jupyter kernel's IPython shell (the runner recognises a notebook by its class)."""


def test_progress_bar_on_by_default_in_a_notebook(bars, monkeypatch):
    from srmc.engine import progress

    fake_ipython = types.SimpleNamespace(get_ipython=ZMQInteractiveShell)
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed: import fails
    assert progress.in_notebook()
    assert progress.progress_bar_class() is pytest.importorskip("tqdm.std").tqdm  # no "IProgress not found" warning
    monkeypatch.setattr(progress, "progress_bar_class", lambda: tqdm_auto.tqdm)
    made, _ = bars
    srmc.sample(jax.random.key(0), srmc.base(samplers.rwm, step_size=0.5), TARGET, NUM_STEPS, 1,
                warmup=0, options=srmc.RunOptions(chunk_size=CHUNK))
    assert len(made) == 1 and made[0].n == NUM_STEPS
