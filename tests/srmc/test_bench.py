"""`srmc bench`: its JSON round-trips, and its numbers agree with an independent recomputation.

One small benchmark on the 9-mode mixture (so mode coverage is on) is run once through the command line; the
tests recompute its MSE, n x Var, MSE curve and coverage from the stored estimates and by rerunning
`srmc.sample` directly (the evaluation counts of every kernel are in test_evaluation_counts.py).
"""

import contextlib
import io
import json

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.tools.benchmark import load_report, report_from_dict, report_to_dict, snapshot_grid
from srmc.tools.cli import main
from srmc.tools.coverage import mode_coverage

SEED, STEPS, REPLICATES, ALPHA, WARMUP, STEP_SIZE = 3, 300, 6, 2.0, 50, 1.0
ARGV = ["bench", "gaussian_mixture_9", "--kernel", "rwm", "--step-size", str(STEP_SIZE), "--alpha", f"0,{ALPHA:g}",
        "--tilt", "linear", "--steps", str(STEPS), "--replicates", str(REPLICATES), "--alpha-warmup", str(WARMUP),
        "--seed", str(SEED), "--warmup", "0", "--quiet"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """(exit code, printed lines, output directory) of one `srmc bench` run."""
    out = tmp_path_factory.mktemp("bench")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(ARGV + ["--out", str(out)])
    return code, stdout.getvalue().splitlines(), out


def test_bench_prints_a_table_and_writes_json_and_plots(bench):
    code, lines, out = bench
    assert code == 0
    assert lines[2].split()[:3] == ["sampler", "alpha", "MSE"]
    assert lines[3].split()[:2] == ["base", "0"] and lines[4].split()[:2] == ["srmc[linear]", f"{ALPHA:g}"]
    assert lines[5].startswith("mode coverage") and lines[6].split()[2:4] == ["modes", "visited"]
    assert lines[7].split()[:2] == ["base", "0"] and lines[8].split()[:2] == ["srmc[linear]", f"{ALPHA:g}"]
    for name in ("bench.json", "mse_vs_steps.png", "mse_vs_alpha.png", "coverage.png"):
        assert (out / name).exists(), name
        assert f"wrote {out / name}" in lines
    for name in ("mse_vs_steps.png", "mse_vs_alpha.png", "coverage.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_json_round_trips(bench):
    _, _, out = bench
    text = (out / "bench.json").read_text()
    report = load_report(out / "bench.json")
    assert json.dumps(report_to_dict(report), indent=1) == text
    again = report_from_dict(json.loads(json.dumps(report_to_dict(report))))
    assert again.rows == report.rows and again.settings == report.settings
    for run, other in zip(report.runs, again.runs):
        np.testing.assert_array_equal(run.estimates, other.estimates)
        np.testing.assert_array_equal(run.curve.mse, other.curve.mse)
        assert run.coverage.total_variation == other.coverage.total_variation
    assert report.settings["command"] == "srmc " + " ".join(ARGV + ["--out", str(out)])
    with pytest.raises(ValueError, match="not an srmc benchmark report"):
        report_from_dict({"format": "something else"})


def test_table_matches_the_stored_rows(bench):
    _, lines, out = bench
    report = load_report(out / "bench.json")
    for line, row in zip(lines[3:5], report.rows):
        fields = line.split()
        assert float(fields[2]) == pytest.approx(row.mse, rel=1e-3)
        assert float(fields[4]) == pytest.approx(report.rows[0].mse / row.mse, abs=0.01)


def test_mse_agrees_with_recomputation_from_stored_estimates(bench):
    report = load_report(bench[2] / "bench.json")
    target = targets.get("gaussian_mixture_9")
    truth = np.asarray(target.ground_truth.mean)
    second_truth = np.asarray(target.ground_truth.variance) + truth**2
    for run in report.runs:
        assert run.estimates.shape == (REPLICATES, 2)
        errors = [np.mean((estimate - truth) ** 2) for estimate in run.estimates]
        assert run.row.mse == pytest.approx(np.mean(errors), rel=1e-12)
        assert run.row.mse_stderr == pytest.approx(np.std(errors, ddof=1) / np.sqrt(REPLICATES), rel=1e-12)
        second = [np.mean((m - second_truth) ** 2) for m in run.second_moments]
        assert run.row.second_moment_mse == pytest.approx(np.mean(second), rel=1e-12)
        variance = np.mean([np.var(run.estimates[:, i], ddof=1) for i in range(2)])
        assert run.row.n_times_variance == pytest.approx(STEPS * variance, rel=1e-12)
        assert run.row.variance == pytest.approx(variance, rel=1e-12)  # with ground truth the new fields exist too
        base = report.runs[0]
        assert run.row.variance_ratio == pytest.approx(base.row.variance / variance, rel=1e-12)
        assert np.isfinite(run.row.variance_ratio_se) and np.isfinite(run.row.bias_z_vs_base)
        assert run.curve.steps.tolist() == list(snapshot_grid(STEPS)) and run.curve.steps[-1] == STEPS
        assert run.curve.mse[-1] == pytest.approx(run.row.mse, rel=1e-6)


def test_rerunning_srmc_sample_reproduces_the_benchmark(bench):
    """Rebuild the SRMC configuration by hand, run `srmc.sample` with the documented keys, recompute everything."""
    report = load_report(bench[2] / "bench.json")
    run = report.runs[1]
    target = targets.get("gaussian_mixture_9")
    init_key, run_key = jax.random.split(jax.random.key(SEED))
    starts = target.sample(init_key, REPLICATES)
    algorithm = srmc.wrap(samplers.rwm, alpha=srmc.schedules.linear_warmup(ALPHA, WARMUP), tilt="linear",
                          step_size=STEP_SIZE)
    thin = report.settings["thin"]
    result = srmc.sample(run_key, algorithm, target, STEPS, REPLICATES, initial_position=starts, options=srmc.RunOptions(thin=thin, progress=False, snapshot_steps=run.curve.steps.tolist()), warmup=0)
    np.testing.assert_allclose(result.chain_estimates["x"], run.estimates, rtol=1e-5, atol=1e-6)
    truth = np.asarray(target.ground_truth.mean)
    curve = [np.mean((snapshot - truth) ** 2) for snapshot in result.snapshots["x"]]
    np.testing.assert_allclose(run.curve.mse, curve, rtol=1e-4)
    assert run.row.acceptance_rate == pytest.approx(result.acceptance_rate.mean(), rel=1e-5)
    # mode coverage: radius = 4 standard deviations of a component, draws every `thin` steps
    means, weights = target.mixture.means, target.mixture.weights
    coverage = mode_coverage(result.draws, means, weights, radius=4 * np.sqrt(target.mixture.variance))
    assert run.coverage.total_variation == pytest.approx(coverage.total_variation.mean(), rel=1e-6)
    assert run.coverage.final_fraction_visited == pytest.approx(coverage.fraction_visited.mean(), rel=1e-6)
    assert run.coverage.steps[-1] == STEPS and len(run.coverage.steps) == STEPS // thin
    printed = bench[1][8].split()
    assert float(printed[2]) == pytest.approx(coverage.fraction_visited.mean(), abs=1e-3)
    assert float(printed[-2]) == pytest.approx(coverage.total_variation.mean(), abs=1e-3)


def test_control_variate_row_corrects_the_base_run(tmp_path):
    """`srmc bench --control-variates` on a Gaussian: the base+cv row is the base run corrected by its scores, exact
    where x is linear in s (MSE ratio > 1e3; the base row's MSE itself is unchanged by asking for it), and it
    survives the JSON round trip. A wrong sign in the correction doubles the base's error instead."""
    argv = ["bench", "correlated_gaussian", "--param", "dim=4", "--kernel", "mala", "--alpha", "0,1", "--steps", "200",
            "--replicates", "4", "--seed", "1", "--warmup", "100", "--quiet", "--out", str(tmp_path)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
        plain = load_report(tmp_path / "bench.json")
        assert main(argv + ["--control-variates"]) == 0
    report = load_report(tmp_path / "bench.json")
    labels = [row.label for row in report.rows]
    assert labels[:2] == ["base", "base+cv"] and report.settings["control_variates"] is True
    base, corrected = report.rows[0], report.rows[1]
    assert base.mse == plain.rows[0].mse and corrected.mse < 1e-3 * base.mse
    assert corrected.variance_ratio > 1e3


def test_control_variates_need_the_base_kernel_and_a_continuous_target():
    from srmc.tools.benchmark import variance_benchmark

    with pytest.raises(ValueError, match="add 0 to the alphas"):
        variance_benchmark(jax.random.key(0), targets.get("banana"), samplers.mala, {}, [1.0], num_steps=10,
                           num_replicates=2, control_variates=True)
    with pytest.raises(ValueError, match="continuous"):
        variance_benchmark(jax.random.key(0), targets.get("ising", side=3), samplers.gibbs, {}, [0.0], num_steps=10,
                           num_replicates=2, control_variates=True)
