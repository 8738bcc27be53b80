"""The `srmc` command line: targets, run, bench on a discrete target, and bad arguments (exit code 2)."""

import pytest

from srmc import samplers
from srmc.tools.cli import available_kernels, main


def test_targets_lists_what_is_known(capsys):
    assert main(["targets", "correlated_gaussian", "gaussian_mixture_25", "ising", "logistic_breast_cancer"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines.keys() == {"correlated_gaussian", "gaussian_mixture_25", "ising", "logistic_breast_cancer"}
    assert "continuous" in lines["correlated_gaussian"] and " 20 " in lines["correlated_gaussian"]
    assert "exact moments, exact sampler" in lines["correlated_gaussian"]
    assert "25 modes" in lines["gaussian_mixture_25"]
    assert "binary" in lines["ising"]
    assert "reference run" in lines["logistic_breast_cancer"] and "exact sampler" not in lines["logistic_breast_cancer"]


def test_run_prints_the_summary(capsys):
    assert main(["run", "iid_gaussian", "--param", "dim=2", "--alpha", "1", "--tilt", "linear", "--steps", "200",
                 "--chains", "4", "--burn-in", "50", "--quiet", "--rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "r_hat" in out and "truth" in out and "x[0]" in out and "x[1]" not in out
    assert "srmc[mala] on iid_gaussian" in out and "4 chains x 200 steps (+50 burn-in)" in out


def test_bench_runs_on_a_discrete_target(capsys):
    assert main(["bench", "ising", "--param", "side=2", "--kernel", "gibbs", "--alpha", "0,1", "--steps", "200",
                 "--replicates", "4", "--alpha-warmup", "20", "--tilt", "score,bounded", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:3] == ["sampler", "alpha", "MSE"]
    base, score_row, bounded_row = lines[3].split(), lines[4].split(), lines[5].split()
    assert base[:2] == ["base", "0"] and score_row[:2] == ["srmc[score]", "1"]
    assert bounded_row[:2] == ["srmc[bounded]", "1"]
    # random-scan Gibbs evaluates the log density at both values of one site; the score tilt adds the score at
    # each, and the history reads s at the chosen value from them (issue 16: it used to evaluate it once more);
    # the bounded tilt (one-hot features on a discrete space) needs only the history's one score per step
    assert base[-4:] == ["2", "0", "0", "0"] and score_row[-4:] == ["2", "2", "0", "0"]
    assert bounded_row[-4:] == ["2", "1", "0", "0"]


BAD_ARGUMENTS = [
    (["bench", "no_such_target"], "unknown target 'no_such_target'"),
    (["bench", "iid_gaussian", "--alpha", "0,x"], "--alpha expects comma-separated numbers"),
    (["bench", "iid_gaussian", "--alpha", "-1"], "--alpha values must be finite and >= 0"),
    (["bench", "iid_gaussian", "--tilt", "quadratic"], "--tilt must be a comma-separated list of score, linear"),
    (["bench", "iid_gaussian", "--replicates", "1"], "--replicates must be >= 2"),
    (["bench", "iid_gaussian", "--kernel", "nutz"], "--kernel 'nutz' is unknown (did you mean 'nuts'?)"),
    (["bench", "iid_gaussian", "--kernel", "gibbs"], "--kernel gibbs samples discrete targets"),
    (["bench", "ising", "--kernel", "mala"], "use one of discrete_metropolis,"),
    (["bench", "ising", "--kernel", "gibbs", "--step-size", "0.1"], "--step-size: kernel gibbs takes no step_size"),
    (["bench", "iid_gaussian", "--kernel-param", "leaps=3"], "--kernel-param leaps: kernel mala takes step_size"),
    (["bench", "iid_gaussian", "--kernel-param", "oops"], "--kernel-param expects key=value"),
    (["bench", "iid_gaussian", "--param", "dim=0"], "dim"),
    (["bench", "iid_gaussian", "--steps", "0"], "argument --steps: expected an integer >= 1, got '0'"),
    (["bench", "iid_gaussian", "--gradient", "approximate"], "argument --gradient: invalid choice"),
    (["run", "banana", "--alpha", "-1", "--steps", "10", "--quiet"], "alpha must be finite and non-negative"),
    (["targets", "no_such_target"], "unknown target(s) no_such_target"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a[:3]) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_out_must_be_a_directory(tmp_path, capsys):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    assert main(["bench", "iid_gaussian", "--out", str(not_a_directory)]) == 2
    assert "--out" in capsys.readouterr().err


def test_kernel_table_matches_samplers():
    assert set(available_kernels()) == {module.spec.name for module in samplers.KERNELS}
    assert {"rwm", "mala", "hmc", "kinetic_langevin", "gibbs", "discrete_metropolis"} <= set(available_kernels())


def test_bench_takes_the_linear_tilt_on_a_discrete_target(capsys):
    """The CLI offers what the library does: the linear tilt on a discrete target (one_hot(x)[:, 1:] features)."""
    assert main(["bench", "ising", "--param", "side=2", "--kernel", "gibbs", "--alpha", "0,1", "--tilt", "linear",
                 "--steps", "200", "--replicates", "4", "--alpha-warmup", "20", "--quiet"]) == 0
    rows = capsys.readouterr().out.splitlines()[3:5]
    assert rows[0].split()[:2] == ["base", "0"] and rows[1].split()[:2] == ["srmc[linear]", "1"]


def test_kernel_nuts_runs_blackjax_nuts_under_the_warmup(capsys):
    """``--kernel nuts`` is BlackJAX's NUTS (its step size and mass adapted by the default warm-up), base and SRMC."""
    pytest.importorskip("blackjax")
    for alpha in ("0", "1"):
        assert main(["run", "iid_gaussian", "--param", "dim=2", "--kernel", "nuts", "--alpha", alpha, "--steps",
                     "100", "--chains", "4", "--warmup", "100", "--quiet", "--rows", "1"]) == 0
        assert "blackjax.nuts" in capsys.readouterr().out


def test_x64_runs_in_float64_and_leaves_the_process_as_it_was(tmp_path, capsys):
    """`--x64` computes the run in float64 (for models that need it, as Stan does), inside `jax.enable_x64`: the
    saved result is float64, and a run without it afterwards is float32 again."""
    import jax

    import srmc

    for flag, dtype in ((["--x64"], "float64"), ([], "float32")):
        path = tmp_path / f"run{len(flag)}.npz"
        assert main(["run", "iid_gaussian", "--param", "dim=2", "--steps", "50", "--chains", "2", "--warmup", "20",
                     "--quiet", "--save", str(path), *flag]) == 0
        assert str(srmc.load_result(path).mean.dtype) == dtype
    assert not jax.config.jax_enable_x64
    capsys.readouterr()
