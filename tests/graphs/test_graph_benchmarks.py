"""The graph benchmark scripts run end to end at a tiny size and end with their summary line (no figure is
checked: timings and variances at these sizes measure nothing)."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPTS = {
    "graph_numpy.py": (["--numpy-steps", "50", "--steps-1", "20", "--steps-1024", "5", "--repeats", "1"],
                       r"^speed-up per chain-step over the numpy loop: 1 chain: mhrw \d+x, srrw \d+x, hdt \d+x; "
                       r"1024 chains: mhrw \d+x, srrw \d+x, hdt \d+x$"),
    "graph_variance.py": (["--target", "florentine_families", "--chains", "8", "--steps", "50", "--cache", "0.5"],
                          r"^variance reduction at alpha 5, n = 50, florentine_families\(mu=uniform\), mhrw: srrw "
                          r"[\d.]+ \+- [\d.]+ \(formula [\d.]+\), hdt [\d.]+ \+- [\d.]+ \(formula [\d.]+\), "
                          r"hdt lru 0.5 [\d.]+ \+- [\d.]+$"),
    "graph_schedules.py": (["--alphas", "2", "--exponents", "1,0.75", "--steps", "50", "--chains", "8"],
                           r"^n MSE of the visit average at alpha 2, n = 50: srrw a=1 [\d.]+ \+- [\d.]+, best a<1 "
                           r"\(a=0.75\) [\d.]+ \+- [\d.]+; hdt a=1 .*$"),
    "graph_papers.py": (["--quick"],
                        r"^graph papers: karate_club mhrw alpha 5 TVD base [\d.]+, srrw [\d.]+, hdt [\d.]+; "
                        r"equal budget \(MSE_SRRW/MSE_HDT\): karate_club (HDT|SRRW|tie \(2 se\)) \([\d.]+ \+- "
                        r"[\d.]+, formula [\d.]+\);"),
    "graph_hubs.py": (["--hubs", "10,30", "--numpy-steps", "40", "--steps-1", "20", "--steps-1024", "5",
                       "--hub-steps", "5", "--repeats", "1"],
                      r"^graph hubs: speed-up over numpy, 1 chain: mhrw [\d.]+x, srrw [\d.]+x, srrw loop [\d.]+x, "
                      r"hdt [\d.]+x; 1024 chains: mhrw \d+x, srrw \d+x, srrw loop \d+x, hdt \d+x; 1024 chains, hub "
                      r"30 / hub 10 time per chain-step: mhrw [\d.]+x, srrw [\d.]+x, srrw loop [\d.]+x, hdt [\d.]+x$"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_graph_benchmark_runs_and_ends_with_its_summary(script):
    arguments, last_line = SCRIPTS[script]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *arguments], cwd=ROOT / "benchmarks",
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.search(last_line, lines[-1]), lines[-3:]
