"""`srmc bench` on targets without ground truth: variance ratios with standard errors and a bias check against the
base kernel, from the API and from the command line with a user's log-density or NumPyro file.

Ground truth is known for the Gaussian used here but deliberately left out of its `Target`, so every number
can be checked: the variance ratio against NumPy recomputed from the stored estimates, its delta-method standard
error against the spread of the ratio over many synthetic replicate sets, and the bias z against a target whose
score is deliberately not mean-zero (which moves SRMC's fixed point and biases its estimate; the base kernel,
which never reads the score's mean, is not biased by it). All keys are fixed.
"""

import contextlib
import io
import json
import re
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import samplers, targets
from srmc.tools.benchmark import (
    NO_BASE_NOTE,
    bias_z,
    compare_with_base,
    format_table,
    load_report,
    report_from_dict,
    report_to_dict,
    variance_benchmark,
    variance_ratio_with_stderr,
    variance_with_stderr,
)
from srmc.tools.cli import main

SCALES = jnp.array([1.0, 2.0, 0.5])
STEPS, REPLICATES, ALPHA = 300, 32, 5.0


def logp(x):
    return -0.5 * jnp.sum((x / SCALES) ** 2)


def bench(target, alphas=(0, ALPHA)):
    return variance_benchmark(jax.random.key(1), target, samplers.mala, {"step_size": 0.3}, list(alphas),
                              num_steps=STEPS, num_replicates=REPLICATES, tilts=("linear",), burn_in=50,
                              count_steps=0, chunk_size=STEPS + 50, warmup=0)  # one chunk: one compilation per configuration


@pytest.fixture(scope="module")
def report():
    """The base kernel and the linear tilt at alpha = 5 on a 3-d Gaussian given without ground truth."""
    target = targets.from_logdensity(logp, 3, name="gaussian_without_truth")
    assert target.ground_truth is None and target.sample is None
    return bench(target)


def test_no_truth_target_gives_finite_variance_ratios_with_standard_errors(report):
    base, srmc_row = report.rows
    assert report.truth_mean is None and report.settings["ground_truth"] == "none"
    assert np.isnan(base.mse) and np.isnan(srmc_row.second_moment_mse)
    assert (base.variance_ratio, base.variance_ratio_se, base.bias_z_vs_base) == (1.0, 0.0, 0.0)
    for name in ("variance", "variance_stderr", "variance_ratio", "variance_ratio_se", "bias_z_vs_base",
                 "second_moment_variance_ratio", "second_moment_variance_ratio_se", "second_moment_bias_z_vs_base"):
        assert np.isfinite(getattr(srmc_row, name)), name
    assert srmc_row.variance_ratio_se > 0 and srmc_row.second_moment_variance_ratio_se > 0
    # the linear tilt on a Gaussian reduces the variance of the mean by about 1 + alpha: clearly more than 1
    assert (srmc_row.variance_ratio - 1) / srmc_row.variance_ratio_se > 2
    assert report.settings["notes"] == []
    table = format_table(report.rows).splitlines()
    assert table[0].split()[:5] == ["sampler", "alpha", "Var", "+/-", "se"] and "Var ratio" in table[0]
    assert "bias z" in table[0] and "MSE" not in table[0]
    assert table[2].split()[4] == f"{srmc_row.variance_ratio:.3g}+/-{srmc_row.variance_ratio_se:.2g}"


def test_variance_ratio_and_bias_z_agree_with_numpy_on_the_stored_estimates(report):
    base, other = report.runs
    for prefix, name in (("", "estimates"), ("second_moment_", "second_moments")):
        b, o = getattr(base, name), getattr(other, name)
        assert b.shape == (REPLICATES, 3)
        v_b = np.mean([np.var(b[:, i], ddof=1) for i in range(3)])
        v_o = np.mean([np.var(o[:, i], ddof=1) for i in range(3)])
        assert getattr(other.row, prefix + "variance") == pytest.approx(v_o, rel=1e-12)
        # q_r: replicate r's squared deviation from the replicate mean, averaged over coordinates, times R/(R-1)
        q_b = [np.mean((b[r] - b.mean(axis=0)) ** 2) * REPLICATES / (REPLICATES - 1) for r in range(REPLICATES)]
        q_o = [np.mean((o[r] - o.mean(axis=0)) ** 2) * REPLICATES / (REPLICATES - 1) for r in range(REPLICATES)]
        se_b, se_o = np.std(q_b, ddof=1) / np.sqrt(REPLICATES), np.std(q_o, ddof=1) / np.sqrt(REPLICATES)
        assert getattr(other.row, prefix + "variance_stderr") == pytest.approx(se_o, rel=1e-10)
        ratio = v_b / v_o
        assert getattr(other.row, prefix + "variance_ratio") == pytest.approx(ratio, rel=1e-12)
        assert getattr(other.row, prefix + "variance_ratio_se") == pytest.approx(
            ratio * np.sqrt((se_b / v_b) ** 2 + (se_o / v_o) ** 2), rel=1e-10)
        z = [(o[:, i].mean() - b[:, i].mean()) / np.sqrt(o[:, i].var(ddof=1) / REPLICATES
                                                         + b[:, i].var(ddof=1) / REPLICATES) for i in range(3)]
        assert getattr(other.row, prefix + "bias_z_vs_base") == pytest.approx(z[np.argmax(np.abs(z))], rel=1e-10)


def test_variance_ratio_standard_error_matches_its_spread_over_synthetic_replicate_sets():
    """Known case: estimates N(0, diag(s^2)) and N(0, diag(s^2) / 4), correlated coordinates averaged first; the
    ratio is about 4 and its delta-method SE should match the ratio's spread over 4000 independent sets."""
    rng = np.random.default_rng(0)
    sets, replicates, dim = 4000, 40, 3
    mix = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])  # correlated coordinates
    base = rng.normal(size=(sets, replicates, dim)) @ mix
    other = 0.5 * rng.normal(size=(sets, replicates, dim)) @ mix
    ratios, ses = np.array([variance_ratio_with_stderr(b, o) for b, o in zip(base, other)]).T
    assert np.median(ratios) == pytest.approx(4.0, rel=0.05)
    assert np.median(ses) == pytest.approx(np.std(ratios), rel=0.15)
    # the vectorised form over leading axes (snapshots) agrees with one set at a time
    variances, stderrs = variance_with_stderr(base[:5])
    assert variances[2] == pytest.approx(variance_with_stderr(base[2])[0], rel=1e-12)
    assert stderrs[2] == pytest.approx(variance_with_stderr(base[2])[1], rel=1e-12)
    # bias z: about N(0, 1) without a shift
    z = np.array([bias_z(b[:, :1], o[:, :1]) for b, o in zip(base[:2000], other[:2000])])
    assert np.std(z) == pytest.approx(1.0, abs=0.06) and abs(np.mean(z)) < 0.1


def test_bias_z_catches_a_biased_configuration_and_passes_a_correct_one(report):
    correct = report.rows[1]
    assert abs(correct.bias_z_vs_base) < 4 and abs(correct.second_moment_bias_z_vs_base) < 4
    # a score that is not mean-zero under pi (grad log pi + 0.5): the linear tilt's fixed point moves to
    # theta = 0.5 / (1 + alpha), shifting the mean by alpha * 0.5 / (1 + alpha) * scale^2 (MALA itself is exact)
    wrong = targets.from_logdensity(logp, 3, name="wrong_score", score=lambda x: jax.grad(logp)(x) + 0.5,
                                    score_is_gradient=False)
    biased = bench(wrong).rows[1]
    assert abs(biased.bias_z_vs_base) > 10 and abs(biased.second_moment_bias_z_vs_base) > 4


def test_without_a_base_row_the_comparisons_are_nan_and_a_note_says_so(report):
    rows = [run.row for run in compare_with_base(report.runs[1:])]
    assert np.isnan(rows[0].variance_ratio) and np.isnan(rows[0].bias_z_vs_base)
    assert np.isfinite(rows[0].variance)
    tiny = variance_benchmark(jax.random.key(0), targets.from_logdensity(logp, 3), samplers.rwm, {"step_size": 1.0},
                              [1.0], num_steps=20, num_replicates=2, tilts=("linear",), count_steps=0, warmup=0)
    assert tiny.settings["notes"] == [NO_BASE_NOTE] and np.isnan(tiny.rows[0].variance_ratio)


def test_report_without_truth_round_trips_and_truth_tables_can_show_both(report):
    again = report_from_dict(json.loads(json.dumps(report_to_dict(report))))
    assert again.truth_mean is None and again.truth_second_moment is None
    for row, other in zip(report.rows, again.rows):
        assert row.variance_ratio == other.variance_ratio and row.bias_z_vs_base == other.bias_z_vs_base
    with_truth = [row._replace(mse=0.5, mse_stderr=0.1) for row in report.rows]
    assert "Var ratio" not in format_table(with_truth)  # the default table with ground truth is unchanged
    header = format_table(with_truth, variance=True).splitlines()[0]
    assert header.split()[2] == "MSE" and "Var ratio" in header and "bias z" in header


LOGP_FILE = """
import jax.numpy as jnp

def logp(x):
    return -0.5 * jnp.sum(x ** 2 / jnp.array([1.0, 4.0, 0.25]))

def vector(x):
    return -0.5 * x ** 2

def broken(x):
    return undefined_name(x)
"""

MODEL_FILE = """
import numpy as np
import numpyro
import numpyro.distributions as dist

data = {"y": np.array([0.3, -0.5, 1.2, 0.8, 0.1, 0.4])}

def model(y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    log_scale = numpyro.sample("log_scale", dist.Normal(0.0, 0.5))
    numpyro.sample("obs", dist.Normal(mu, jnp_exp(log_scale)), obs=y)

def jnp_exp(value):
    import jax.numpy as jnp
    return jnp.exp(value)
"""

TINY = ["--alpha", "0,1", "--tilt", "linear", "--steps", "10", "--replicates", "4", "--warmup", "20",
        "--alpha-warmup", "0", "--quiet"]


def run_cli(argv):
    """(exit code, stdout, stderr) of `srmc ...`."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "logp.py").write_text(textwrap.dedent(LOGP_FILE))
    (tmp_path / "model.py").write_text(textwrap.dedent(MODEL_FILE))
    return tmp_path


@pytest.mark.parametrize("spec, extra, dim", [("logp.py:logp", ["--dim", "3"], 3), ("model.py:model", [], 2)],
                         ids=["logdensity", "numpyro"])
def test_cli_benchmarks_a_file_target_end_to_end(files, spec, extra, dim):
    pytest.importorskip("numpyro")
    out = files / "out"
    code, stdout, stderr = run_cli(["bench", str(files / spec), *extra, *TINY, "--out", str(out)])
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert "ground truth: none" in lines[0] and lines[2].split()[:3] == ["sampler", "alpha", "Var"]
    assert lines[3].split()[:2] == ["base", "0"] and lines[4].split()[:2] == ["srmc[linear]", "1"]
    data = json.loads((out / "bench.json").read_text())
    assert data["truth_mean"] is None and data["settings"]["target"] == spec
    srmc_row = data["runs"][1]["row"]
    for name in ("variance_ratio", "variance_ratio_se", "bias_z_vs_base", "second_moment_variance_ratio"):
        assert np.isfinite(srmc_row[name]), name
    report = load_report(out / "bench.json")
    assert report.runs[0].estimates.shape == (4, dim)


@pytest.mark.parametrize("argv, message", [
    (["{d}/missing.py:logp", "--dim", "3"], "no file"),
    (["{d}/logp.py:nope", "--dim", "3"], "'nope' is not defined in .* defines the functions broken, logp, vector"),
    (["{d}/logp.py"], "names a file but no function"),
    (["{d}/logp.py:logp"], "--dim is missing: .* pass --dim D"),
    (["{d}/logp.py:vector", "--dim", "3"], r"returned shape \(3,\); it must return the scalar log density"),
    (["{d}/logp.py:broken", "--dim", "3"], "calling broken\\(x\\) with x of shape \\(3,\\) failed \\(NameError"),
    (["{d}/logp.py:logp", "--dim", "3", "--param", "a=1"], "--param is for registered targets"),
    (["{d}/model.py:model", "--dim", "5"], "--dim 5: .* NumPyro model .* length 2"),
    (["{d}/bad.py:logp", "--dim", "3"], "running the file failed: ZeroDivisionError"),
    (["banana", "--dim", "3"], "--dim is for a log density read from a file"),
], ids=["missing-file", "missing-function", "no-function", "no-dim", "non-scalar", "raises", "param", "model-dim",
        "file-raises", "dim-registered"])
def test_cli_refuses_bad_file_targets_with_a_clear_message(files, argv, message):
    pytest.importorskip("numpyro")
    (files / "bad.py").write_text("1 / 0\n")
    code, _, stderr = run_cli(["bench", *(arg.format(d=files) for arg in argv), *TINY])
    assert code == 2
    assert stderr.startswith("srmc: error: ")
    assert re.search(message, stderr), stderr
