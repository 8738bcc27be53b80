"""Many processes through jax.distributed: 2 local processes (1 CPU device each, gloo collectives over loopback)
give, for the same key, bit for bit the results of 1 process with 2 XLA host devices; a checkpoint written by the
2-process run resumes bit for bit on 2 processes.

Both layouts compile the same per-device program (2 chains per device), so unlike test_devices' 8-vs-2 rows
comparison nothing moves the last bit, and every array is compared exactly.
"""

import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.tools import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds per subprocess (a run takes ~10 s on 2 busy cores)
NO_COLLECTIVES = 77  # the child's exit code when jax.distributed or CPU collectives cannot start here

CHILD = """
import sys
import jax
mode, workdir = sys.argv[1], sys.argv[2]
if mode == "multi":
    port, pid = sys.argv[3], int(sys.argv[4])
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                                   initialization_timeout=120)
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("srmc test: collectives work")
    except Exception as error:
        print(f"NO-COLLECTIVES: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(77)
else:
    pid = 0
assert jax.device_count() == 2 and jax.local_device_count() == (1 if mode == "multi" else 2), jax.devices()
import numpy as np
import srmc
from srmc import samplers, targets
from srmc.engine import runner

target = targets.get("correlated_gaussian", dim=2, rho=0.5)
algorithm = srmc.wrap(samplers.mala, alpha=2.0, step_size=0.4)  # the default bounded tilt: a warm-up first
options = srmc.RunOptions(burn_in=12, thin=4, chunk_size=12, snapshot_steps=(8, 96), devices="all")
run = dict(num_steps=96, num_chains=4, warmup=60, options=options)
path = f"{workdir}/run.npz"
STOP = 60  # stop after the checkpoint at step 60 (burn-in 12 + 48 counted steps)

def arrays(result):
    out = {"draws": result.draws, "acceptance_rate": result.acceptance_rate, "num_nonfinite": result.num_nonfinite}
    for field in ("chain_estimates", "batch_means", "snapshots", "draw_stats", "num_nonfinite_values", "counters",
                  "halfway_estimates", "monitor"):
        out.update({f"{field}/{name}": value for name, value in getattr(result, field).items()})
    for i, leaf in enumerate(jax.tree.leaves(result.final_state)):
        out[f"final_state/{i}"] = jax.random.key_data(leaf) if jax.dtypes.issubdtype(
            leaf.dtype, jax.dtypes.prng_key) else leaf
    for i, leaf in enumerate(jax.tree.leaves((result.adapted_params, result.warmup_stats))):
        out[f"warmup/{i}"] = leaf
    return {name: np.asarray(value) for name, value in out.items()}

full = srmc.sample(jax.random.key(5), algorithm, target, **run)

save = runner._save_checkpoint
def stopping(*args, **kwargs):
    drawn = save(*args, **kwargs)
    if args[6] == STOP:
        raise KeyboardInterrupt
    return drawn
runner._save_checkpoint = stopping
try:
    srmc.sample(jax.random.key(5), algorithm, target, checkpoint=path, **run)
    raise AssertionError("the run was not interrupted")
except KeyboardInterrupt:
    pass
runner._save_checkpoint = save
from srmc.engine import checkpoint as checkpoints
assert checkpoints.load(path).metadata["progress"]["step"] == STOP
resumed = srmc.sample(jax.random.key(5), algorithm, target, checkpoint=srmc.Checkpointing(path, resume=True), **run)

errors = []
try:
    srmc.sample(jax.random.key(5), algorithm, target, 12, 3, warmup=0, options=srmc.RunOptions(devices="all"))
except ValueError as error:
    errors.append(str(error))
if mode == "multi":
    others = [device for device in jax.devices() if device.process_index != jax.process_index()]
    try:
        srmc.sample(jax.random.key(5), algorithm, target, 12, 2, warmup=0, options=srmc.RunOptions(devices=others))
    except ValueError as error:
        errors.append(str(error))
import contextlib, io
from srmc.tools import cli
printed = io.StringIO()
with contextlib.redirect_stdout(printed):  # jax.distributed is up already: --distributed finds it so
    assert cli.main(["run", "correlated_gaussian", "--param", "dim=2", "--steps", "48", "--burn-in", "12",
                     "--thin", "4", "--chains", "4", "--warmup", "60", "--quiet", "--devices", "all"]
                    + (["--distributed"] if mode == "multi" else [])) == 0
table = [line for line in printed.getvalue().splitlines() if " s (compile " not in line]
np.savez(f"{workdir}/{mode}_{pid}.npz", errors=np.asarray(errors), cli=np.asarray(chr(10).join(table)),
         **{f"full:{k}": v for k, v in arrays(full).items()}, **{f"resumed:{k}": v for k, v in arrays(resumed).items()})
print("ok", full.estimates["x"])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SUITE_XLA_FLAGS = " ".join(flag for flag in os.environ.get("XLA_FLAGS", "").split()
                           if not flag.startswith("--xla_force_host_platform_device_count"))


def _env(**extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "OMPI_", "JAX_"))}
    env["XLA_FLAGS"] = SUITE_XLA_FLAGS  # the suite's compile settings (tests/conftest.py), no device count
    return env | {"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"} | extra


def _load(path: pathlib.Path) -> dict:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def _assert_same(a: dict, b: dict, prefix_a: str, prefix_b: str) -> None:
    names_a = sorted(name.split(":", 1)[1] for name in a if name.startswith(prefix_a + ":"))
    names_b = sorted(name.split(":", 1)[1] for name in b if name.startswith(prefix_b + ":"))
    assert names_a == names_b and len(names_a) > 20
    for name in names_a:
        np.testing.assert_array_equal(a[f"{prefix_a}:{name}"], b[f"{prefix_b}:{name}"], err_msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The CHILD script on 2 processes (jax.distributed over loopback) and on 1 process with 2 host devices."""
    multi_dir, single_dir = tmp_path_factory.mktemp("multi"), tmp_path_factory.mktemp("single")
    port = str(_free_port())
    commands = [([sys.executable, "-c", CHILD, "multi", str(multi_dir), port, str(pid)], _env()) for pid in (0, 1)]
    commands.append(([sys.executable, "-c", CHILD, "single", str(single_dir)],
                     _env(XLA_FLAGS=f"{SUITE_XLA_FLAGS} --xla_force_host_platform_device_count=2".strip())))
    children = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for command, env in commands]  # all three at once
    try:
        outputs = [child.communicate(timeout=TIMEOUT) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    codes = [child.returncode for child in children]
    if NO_COLLECTIVES in codes[:2]:
        pytest.skip("jax.distributed with CPU (gloo) collectives cannot start here: "
                    + " | ".join(err.strip().splitlines()[-1] for _, err in outputs[:2] if err.strip()))
    for name, code, (_, err) in zip(("process 0", "process 1", "the single process"), codes, outputs):
        assert code == 0, f"{name} failed:\n{err[-4000:]}"
    return {"multi_0": _load(multi_dir / "multi_0.npz"), "multi_1": _load(multi_dir / "multi_1.npz"),
            "single": _load(single_dir / "single_0.npz")}


def test_two_processes_give_the_results_of_one_process_with_two_devices(runs):
    """Same key: every array of the result (estimates, batch means, snapshots, draws, final states, warm-up) is
    bit for bit that of one process with 2 host devices, and every process gets the whole result."""
    _assert_same(runs["multi_0"], runs["single"], "full", "full")
    _assert_same(runs["multi_1"], runs["multi_0"], "full", "full")
    assert runs["multi_0"]["full:draws"].shape[0] == 4  # all chains, not this process's two


def test_a_checkpoint_of_two_processes_resumes_bit_for_bit(runs):
    """Written by process 0 at step 60 of 108 after the warm-up, read by both, resumed on 2 processes."""
    for name in ("multi_0", "multi_1", "single"):
        _assert_same(runs[name], runs[name], "resumed", "full")


def test_bad_devices_across_processes_name_the_fix(runs):
    not_divisible, other_process = runs["multi_0"]["errors"]
    assert "num_chains=3 is not divisible by the 2 devices in devices='all'" in not_divisible
    assert "num_chains=4" in not_divisible
    assert "devices of every process" in other_process and "devices='all'" in other_process
    assert list(runs["single"]["errors"]) == [not_divisible]


def test_cli_on_two_processes_prints_the_table_of_one_process_with_two_devices(runs):
    """``srmc run --devices all --distributed``: process 0 prints the single-process table, process 1 nothing."""
    table = str(runs["multi_0"]["cli"])
    assert "mean" in table and "x[1]" in table
    assert table == str(runs["single"]["cli"])
    assert str(runs["multi_1"]["cli"]) == ""


def test_cli_distributed_flag_without_a_cluster_says_how_to_fix_it(capsys):
    code = cli.main(["run", "iid_gaussian", "--steps", "10", "--chains", "2", "--distributed", "--quiet"])
    assert code == 2
    message = capsys.readouterr().err
    assert "--distributed" in message and "jax.distributed.initialize()" in message
    assert "--coordinator-address" in message


def test_cli_coordinator_options_need_the_distributed_flag(capsys):
    assert cli.main(["run", "iid_gaussian", "--steps", "10", "--num-processes", "2", "--quiet"]) == 2
    assert "--num-processes only apply with --distributed" in capsys.readouterr().err


def test_devices_all_in_a_multi_task_launch_without_initialize_is_refused(monkeypatch):
    """srun started 4 tasks but jax.distributed.initialize() was not called: each would run every chain alone."""
    monkeypatch.setenv("SLURM_NTASKS", "4")
    target = targets.get("iid_gaussian", dim=2)
    with pytest.raises(ValueError, match=r"SLURM_NTASKS=4.*jax.distributed.initialize\(\)"):
        srmc.sample(jax.random.key(0), srmc.base(samplers.rwm, step_size=0.5), target, 10, 2,
                    warmup=0, options=srmc.RunOptions(devices="all"))
    monkeypatch.setenv("SLURM_NTASKS", "1")  # one task: devices='all' is this process's devices
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.rwm, step_size=0.5), target, 10, 2,
                         warmup=0, options=srmc.RunOptions(devices="all"))
    assert result.mean.shape == (2,)
