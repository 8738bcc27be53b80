"""benchmarks/walk_jump.py runs end to end at a tiny size and prints the claim's verdict last (measures nothing)."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_walk_jump_benchmark_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "walk_jump.py"), "--samples", "40", "--quick",
                           "--only", "claim", "estimator", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.match(r"^paper claim .*: right-mode weight walk-jump [\d.]+ ± [\d.]+, MALA [\d.]+ ± [\d.]+ "
                    r"\(truth 0.300\) at \d+ gradient evaluations per sample$", last), last
    assert (tmp_path / "walk_jump_quick.json").exists()
