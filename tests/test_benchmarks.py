"""Every script in benchmarks/ runs end to end at a tiny size and prints its ratio as its last line.

The README quotes these scripts' outputs; this keeps them runnable. The sizes here measure nothing (timings of a
few steps on a shared machine), so only the shape of the output is checked, never a figure.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPTS = {  # script arguments at a tiny size -> what its last line must say
    "blackjax_speed.py": (["--chains", "4", "--steps", "20", "--repeats", "1"],
                          r"^srmc / blackjax time per chain-step: mala [\d.]+, hmc [\d.]+ \(goal <= 1.05\)$"),
    "overhead.py": (["--targets", "iid_gaussian", "--chains", "4", "--steps", "20", "--hmc-steps", "5",
                     "--repeats", "1"],
                    r"^overhead vs base kernel .*: iid_gaussian mala linear [\d.]+, shifted [\d.]+, exact [\d.]+, "
                    r"hmc linear [\d.]+, shifted [\d.]+, exact [\d.]+$"),
    "numpy_protocol.py": (["--steps", "60", "--replicates", "3", "--alphas", "0,1", "--repeats", "1", "--hmc-steps",
                           "50"], r"^speed-up per chain-step over the numpy loop: 1 chain: mala base \d+x.*hmc srmc "
                          r"\d+x \(goal 10x\); 1024 chains: mala base \d+x.*hmc srmc \d+x \(goal 100x\)$"),
    "memory.py": (["--steps", "20000"], r"^peak RSS ratio 2e\+04 / 1e\+04 steps: [\d.]+ \((NOT )?flat within 5%\)$"),
    "throughput.py": (["--max-chains", "4", "--seconds", "0.01"], r"^throughput saturates at \d+ chains: "),
    "discrete_variance.py": (["--target", "ising", "--alphas", "0,10", "--scores", "barker,ratio", "--steps", "200",
                              "--replicates", "8", "--alpha-warmup", "50"],
                             r"^(best unbiased: .* at equal target evaluations|no unbiased SRMC configuration.*)$"),
    "efficacy.py": (["--targets", "iid_gaussian", "--kernels", "mala", "--configs", "default", "--alphas", "1",
                     "--chains", "4", "--steps", "20", "--warmup", "20"],
                    r"^configurations worse than their base kernel: \d+ of 1 \(default: \d+ of 1\)$"),
    "held_out.py": (["--targets", "gumbel", "--kernels", "mala", "--alphas", "1", "--chains", "4", "--steps", "20",
                     "--warmup", "20"],
                    r"^configurations worse than their base kernel: \d+ of 1 \(default: \d+ of 1\)$"),
    "user_models.py": (["--models", "poisson_glm", "--kernels", "mala", "--alphas", "0", "1", "--steps", "20",
                        "--replicates", "4", "--warmup", "20"],
                       r"^SRMC rows worse than their base kernel \(ratio \+ 2 SE < 1\): \d+ of 1; "
                       r"with \|z\| >= 4: \d+$"),
    "held_out.py --hmc-probe": (["--hmc-probe", "banana_6d", "--chains", "4", "--steps", "20", "--warmup", "20"],
                                r"^1 leapfrog step +ratio [\d.]+ \+- [\d.]+ +per coordinate( [\d.]+){6}$"),
    "prediction.py": (["--targets", "banana", "--kernels", "mala", "--chains", "4", "--steps", "20", "--warmup", "40"],
                      r"^side of 1 agrees: \d+ of \d+ clear rows \(\d+ within 2 SE of 1\); rank correlation "
                      r"predicted vs measured (nan|-?[\d.]+)$"),
    "prediction.py --tilt": (["--tilt", "second_order", "--targets", "banana", "--kernels", "mala", "--chains", "4",
                              "--steps", "20", "--warmup", "40"],
                             r"^side of 1 agrees: \d+ of \d+ clear rows \(\d+ within 2 SE of 1\); rank correlation "
                             r"predicted vs measured (nan|-?[\d.]+)$"),
    "ceiling.py": (["--targets", "banana", "--kernels", "mala", "--chains", "8", "--steps", "400", "--warmup", "40",
                    "--batch", "20", "--bootstrap", "3"], r"^\| banana \| mala \| [\d.]+ ± [\d.]+ \| .+ \|$"),
    "bias_vs_chains.py": (["--chains", "8", "--steps", "32", "--warmup", "20"], r"^measured: score tilt, alpha=1 .*"),
    "health_false_alarms.py": (["--quick"], r"^worst false-alarm rate [\d.]+% over \d+ healthy runs \(goal <= 5%\); "
                               r"provoked runs missed: .*; every code within the goal and detected: (yes|NO)$"),
    "warmup_cost.py": (["--target", "iid_gaussian", "--warmup", "40", "--steps", "20", "--chains", "4", "--repeats",
                        "1"], r"^ratio warm-up / plain: [\d.]+$"),
    "compile_profile.py --first-call": (["--first-call", "--repeats", "1"],
                                        r"^setup compiled, XLA levels: what-ifs \(draws change in their last bits\), "
                                        r"not what srmc does$"),
}


# the heaviest at their tiny size run with -m slow
SLOW_SCRIPTS = {"numpy_protocol.py", "memory.py", "throughput.py", "bias_vs_chains.py", "discrete_variance.py",
                "warmup_cost.py", "held_out.py", "held_out.py --hmc-probe", "prediction.py",
                "prediction.py --tilt", "health_false_alarms.py", "compile_profile.py --first-call"}


@pytest.mark.parametrize("script", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW_SCRIPTS else [])
                                    for name in sorted(SCRIPTS)])
def test_benchmark_script_runs_and_ends_with_its_ratio(script):
    arguments, last_line = SCRIPTS[script]
    env = dict(os.environ)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script.split()[0]), *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.search(last_line, lines[-1]), lines[-3:]
