"""The `srmc` command's habits: --version, an instant `srmc targets`, run --save / --checkpoint / --resume, a clean
Ctrl-C (one line, exit code 130), the compilation cache's folder and opt-out."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import srmc
from srmc import targets
from srmc.engine import compilation_cache
from srmc.tools import cli
from srmc.tools.cli import main

RUN = ["run", "iid_gaussian", "--param", "dim=2", "--steps", "200", "--chains", "4", "--burn-in", "0", "--warmup", "0",
       "--thin", "10", "--quiet", "--alpha", "0"]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"srmc {srmc.__version__} (jax ")


def test_targets_lists_without_building_any_target_in_aligned_columns(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("srmc targets built a target")

    monkeypatch.setattr(targets, "get", refuse)
    assert main(["targets"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert {line.split()[0] for line in lines[1:]} == set(targets.names())
    column = lines[0].index("description")
    for line, name in zip(lines[1:], targets.names()):  # every description starts under its header
        assert line[column - 2:column] == "  " and line[column] != " ", line
        assert line[column:].startswith(targets.describe(name)[:10]) or line[column:].startswith("(needs")
    assert "srmc targets NAME" in captured.err


def test_named_targets_rows_are_aligned(capsys):
    assert main(["targets", "iid_gaussian", "correlated_gaussian", "gaussian_mixture_25"]) == 0
    lines = capsys.readouterr().out.splitlines()
    column = lines[0].index("description")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines[1:])


def test_run_saves_its_result(tmp_path, capsys):
    path = tmp_path / "result.npz"
    assert main(RUN + ["--save", str(path)]) == 0
    assert f"saved the result to {path}" in capsys.readouterr().out
    loaded = srmc.load_result(path)
    assert loaded.num_chains == 4 and loaded.num_steps == 200 and loaded.draws is not None
    assert main(RUN + ["--save", str(path)]) == 2  # refused before running: the file exists
    assert "--save" in capsys.readouterr().err


def test_checkpoint_then_resume_gives_the_same_result(tmp_path, capsys):
    checkpoint, first, second = tmp_path / "run.ckpt", tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(RUN + ["--checkpoint", str(checkpoint), "--save", str(first)]) == 0
    assert checkpoint.is_file()
    assert main(RUN + ["--checkpoint", str(checkpoint)]) == 2  # a fresh run would overwrite it
    assert "add --resume" in capsys.readouterr().err
    assert main(RUN + ["--checkpoint", str(checkpoint), "--resume", "--save", str(second)]) == 0
    a, b = srmc.load_result(first), srmc.load_result(second)
    np.testing.assert_array_equal(a.draws, b.draws)
    np.testing.assert_array_equal(a.estimates["x"], b.estimates["x"])


@pytest.mark.parametrize("extra, message", [
    (["--resume"], "give --checkpoint too"),
    (["--checkpoint", "{tmp}/absent.ckpt", "--resume"], "no checkpoint at"),
    (["--checkpoint", "{tmp}/no/such/folder/run.ckpt"], "does not exist"),
    (["--save", "{tmp}/no/such/folder/r.npz"], "does not exist"),
])
def test_bad_file_options_are_refused_before_running(tmp_path, capsys, extra, message):
    assert main(RUN + [item.format(tmp=tmp_path) for item in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_ctrl_c_prints_one_line_naming_the_checkpoint_and_exits_130(tmp_path):
    checkpoint, cache = tmp_path / "run.ckpt", tmp_path / "cache"
    env = {**os.environ, "SRMC_CACHE_DIR": str(cache), "JAX_PLATFORMS": "cpu"}
    env.pop("SRMC_NO_COMPILATION_CACHE", None)
    command = [sys.executable, "-m", "srmc", "run", "iid_gaussian", "--param", "dim=2", "--steps", "50000000",
               "--chains", "2", "--warmup", "0", "--burn-in", "0", "--alpha", "0", "--quiet",
               "--checkpoint", str(checkpoint), "--checkpoint-every", "200000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(checkpoint) in lines[0] and "--resume" in lines[0]
    assert any(cache.iterdir())  # the command turned the persistent compilation cache on, in $SRMC_CACHE_DIR


def test_compilation_cache_folder_and_opt_out(monkeypatch, tmp_path):
    monkeypatch.delenv("SRMC_NO_COMPILATION_CACHE", raising=False)
    monkeypatch.delenv("SRMC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache.compilation_cache_dir() == tmp_path / "srmc" / "jax"
    monkeypatch.setenv("SRMC_CACHE_DIR", str(tmp_path / "mine"))
    assert compilation_cache.compilation_cache_dir() == tmp_path / "mine"
    assert compilation_cache.compilation_cache_dir(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setenv("SRMC_NO_COMPILATION_CACHE", "1")
    assert compilation_cache.compilation_cache_dir() is None
    assert srmc.enable_compilation_cache() is None  # the opt-out wins, and nothing is set


def test_the_command_enables_the_cache_only_as_the_console_script(monkeypatch):
    calls = []
    monkeypatch.setattr(compilation_cache, "enable_compilation_cache", lambda *a: calls.append(a))
    assert main(["targets", "iid_gaussian"]) == 0 and calls == []  # called with arguments: the process's setting stays
    monkeypatch.setattr(sys, "argv", ["srmc", "targets", "iid_gaussian"])
    assert main() == 0 and calls == [()]


def test_interrupted_line_without_a_checkpoint():
    args = cli.build_parser().parse_args(RUN)
    args.argv = RUN
    assert cli.interrupted_line(args).startswith("srmc: interrupted; nothing was saved")
