"""Checkpoint/resume: bit-identical continuation from any interruption, atomic writes, clear refusals."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers
from srmc.engine import checkpoint as checkpoints
from tests.srmc.tiny_runs import ALGORITHM, KEY, RUN, TARGET, assert_same_run, interrupt_at_save, run_with

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference():
    return srmc.sample(KEY, ALGORITHM, TARGET, **RUN)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A checkpoint of the complete tiny run."""
    path = tmp_path_factory.mktemp("finished") / "run.npz"
    srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=path)
    return path


def test_run_interrupted_in_burn_in_resumes_bit_identical_with_another_chunk_size_and_loses_one_chunk(
    tmp_path, monkeypatch, reference
):
    """(The SIGKILL test below interrupts a run in its sampling phase.)"""
    path = tmp_path / "run.npz"
    interrupt_at_save(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=path)
    monkeypatch.undo()
    progress = checkpoints.load(path).metadata["progress"]
    assert progress == {"step": 6, "total_steps": 72, "complete": False}  # the first chunk: only the second lost
    resumed = srmc.sample(KEY, ALGORITHM, TARGET, **run_with(chunk_size=12),
                          checkpoint=srmc.Checkpointing(path, resume=True))
    assert_same_run(reference, resumed)
    assert checkpoints.load(path).metadata["progress"]["complete"]
    assert os.listdir(tmp_path) == ["run.npz"]  # no temporary file left behind


def test_checkpoint_holds_the_full_state(finished):
    stored = checkpoints.load(finished)
    paths = [path for path, _, _ in stored.metadata["fingerprint"]["state"]]
    for part in (".states.inner.position", ".states.inner.logdensity_grad", ".states.theta", ".states.count",
                 ".running_means", ".batch_means", ".snapshots", ".nonfinite_values",
                 ".acceptance_sum", ".num_nonfinite", ".step"):
        assert any(part in path for path in paths), part
    assert stored.metadata["fingerprint"]["state"][-1][2] == "key<threefry2x32>"  # the chain keys
    assert stored.draws[0].shape == (4, 20, 3) and set(stored.draws[1]) == {"acceptance_rate", "num_nonfinite",
                                                                           "theta_norm"}


def test_resuming_a_finished_run_returns_its_result(finished, reference):
    assert_same_run(reference, srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=srmc.Checkpointing(finished, resume=True)))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"num_steps": 120}, "num_steps: 60 in the checkpoint, 120 now"),
        ({"rng_key": jax.random.key(12)}, "rng_key"),
        ({"algorithm": srmc.wrap(samplers.mala, alpha=2.0, tilt="linear", step_size=0.3)}, "algorithm"),
        ({"algorithm": srmc.wrap(samplers.mala, alpha=srmc.schedules.linear_warmup(2.0, 10), tilt="linear",
                                 step_size=0.4)}, "algorithm_params"),
        ({"functions": {"x": lambda x: x}}, "functions"),
        ({"options": RUN["options"]._replace(snapshot_steps=(3, 60))}, "snapshot_steps"),
        ({"options": RUN["options"]._replace(num_batches=8)}, "num_batches"),
        ({"initial_position": np.zeros(3)}, "initial_positions"),
    ],
)
def test_mismatched_checkpoint_is_refused_naming_what_differs(finished, change, message):
    arguments = {"rng_key": KEY, "algorithm": ALGORITHM, "target": TARGET} | RUN | change
    with pytest.raises(checkpoints.CheckpointError, match=message):
        srmc.sample(**arguments, checkpoint=srmc.Checkpointing(finished, resume=True))


def test_corrupt_or_truncated_checkpoint_gives_a_clear_error(finished, tmp_path):
    data = finished.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    cases = {"truncated": (data[: len(data) // 2], "corrupt or truncated"),
             "flipped": (bytes(flipped), "corrupt or truncated|not a complete srmc checkpoint"),
             "text": (b"not a checkpoint", "corrupt or truncated"),
             "foreign": (foreign.read_bytes(), "not a complete srmc checkpoint")}
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(content)
        with pytest.raises(ValueError, match=message):
            srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=srmc.Checkpointing(path, resume=True))
        assert path.read_bytes() == content  # refused, not overwritten


def test_existing_checkpoint_is_never_silently_overwritten(finished, tmp_path):
    before = finished.read_bytes()
    with pytest.raises(FileExistsError, match="already exists.*resume=True.*overwrite=True"):
        srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=finished)
    assert finished.read_bytes() == before
    other = tmp_path / "other.npz"
    other.write_bytes(b"someone else's file")
    srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=srmc.Checkpointing(other, overwrite=True))  # replaced only when asked
    assert checkpoints.load(other).metadata["progress"]["complete"]
    with pytest.raises(FileNotFoundError, match="resume="):
        srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=srmc.Checkpointing(tmp_path / "missing.npz", resume=True))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=tmp_path / "no" / "run.npz")
    with pytest.raises(TypeError, match="srmc.Checkpointing"):
        srmc.sample(KEY, ALGORITHM, TARGET, **RUN, checkpoint=6)


def test_failed_write_keeps_the_previous_checkpoint(finished, tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    path.write_bytes(finished.read_bytes())

    def broken_savez(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    stored = checkpoints.load(path)
    with pytest.raises(OSError, match="disk full"):
        checkpoints.save(str(path), stored.metadata["fingerprint"], stored.leaves, stored.draws,
                         stored.metadata["progress"])
    assert path.read_bytes() == finished.read_bytes() and os.listdir(tmp_path) == ["run.npz"]


KILLED_RUN = RUN | {"num_steps": 3000}  # same chunk shapes as RUN: the compiled chunks are reused here
CHILD = """
import sys
import srmc
from tests.srmc.tiny_runs import ALGORITHM, KEY, RUN, TARGET
srmc.sample(KEY, ALGORITHM, TARGET, **(RUN | {"num_steps": 3000}), checkpoint=srmc.Checkpointing(sys.argv[1], every=300))
"""


def test_run_killed_with_sigkill_resumes_bit_identical(tmp_path):
    path = tmp_path / "run.npz"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=stderr, env=os.environ | {"PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 300
        while not path.exists():
            assert child.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    progress = checkpoints.load(path).metadata["progress"]
    assert 0 < progress["step"] < progress["total_steps"] == 3012, progress  # killed mid-way
    resumed = srmc.sample(KEY, ALGORITHM, TARGET, **KILLED_RUN, checkpoint=srmc.Checkpointing(path, resume=True, every=300))
    assert_same_run(srmc.sample(KEY, ALGORITHM, TARGET, **KILLED_RUN), resumed)
