"""The `srmc` command for a new user: defaults in --help, suggestions for misspellings, valid target parameters,
targets whose optional package is missing, and a --thin that would store no draws."""

import sys

import pytest

from srmc import targets
from srmc.tools.cli import build_parser, main


@pytest.fixture
def without_scikit_learn(monkeypatch):
    """Make ``import sklearn`` (and its submodules) fail as on an install without the datasets extra."""
    for name in [name for name in sys.modules if name == "sklearn" or name.startswith("sklearn.")] + ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError):
        import sklearn  # noqa: F401


def test_targets_lists_every_target_without_scikit_learn(without_scikit_learn, capsys):
    assert targets.missing_requirement("logistic_breast_cancer") is not None
    assert main(["targets"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(lines) == set(targets.names())
    assert 'needs sklearn: pip install "srmc[datasets]"' in lines["logistic_breast_cancer"]


@pytest.mark.parametrize("command", ["run", "bench"])
def test_a_target_whose_package_is_missing_is_refused_with_the_install_command(without_scikit_learn, command,
                                                                               capsys):
    assert main([command, "logistic_breast_cancer", "--steps", "10", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "logistic_breast_cancer needs sklearn" in err and 'pip install "srmc[datasets]"' in err
    assert "Traceback" not in err


def test_with_scikit_learn_nothing_is_missing():
    pytest.importorskip("sklearn")
    assert targets.missing_requirement("logistic_breast_cancer") is None


@pytest.mark.parametrize("command", ["run", "bench"])
def test_help_shows_every_default(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("--steps STEPS counted steps per chain (default: 2000)", "(default: mala)", "(default: bounded)",
                  "(default: exact)", "default: 500 for the score and linear tilts", "(default: 0)", "its suggested value: rwm 0.15, mala 0.05"):
        assert shown in text, shown
    subparser_options = [a for a in build_parser()._subparsers._group_actions[0].choices[command]._actions]
    for action in subparser_options:  # every option says its default, appended or in its own words
        if action.option_strings and action.dest != "help":
            assert "default" in (action.help or "") or action.default not in (None, []), action.dest
    if command == "run":
        assert "(default: 10)" in text and "(default: 16)" in text and "(default: 1.0)" in text


@pytest.mark.parametrize("argv, message", [
    (["run", "banana", "--stpes", "10"], "did you mean --steps (not --stpes)?"),
    (["bench", "banana", "--replicats=4"], "did you mean --replicates (not --replicats)?"),
    (["run", "banana", "--kernel", "nala"], "--kernel 'nala' is unknown (did you mean 'mala'?)"),
    (["run", "banan"], "unknown target 'banan' (did you mean 'banana'?)"),
    (["run", "banana", "--kernel-param", "step_sise=0.1"], "(did you mean 'step_size'?)"),
])
def test_misspellings_get_the_closest_valid_name(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unrelated_unknown_option_gets_no_suggestion(capsys):
    assert main(["run", "banana", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and "did you mean" not in err


def test_a_wrong_target_parameter_lists_the_valid_ones(capsys):
    assert main(["run", "banana", "--param", "foo=1"]) == 2
    assert "--param foo: target banana takes dim=2, sigma1=1.0, b=0.5, sigma2=1.0." in capsys.readouterr().err
    assert main(["run", "correlated_gaussian", "--param", "rh=0.5"]) == 2
    assert "--param rh (did you mean 'rho'?): target correlated_gaussian takes dim=20, rho=0.9" in \
        capsys.readouterr().err
    assert main(["run", "eight_schools", "--param", "tau=1"]) == 2
    assert "target eight_schools takes no parameters" in capsys.readouterr().err


def test_thin_above_steps_is_refused(capsys):
    assert main(["run", "banana", "--thin", "1000", "--steps", "100", "--quiet"]) == 2
    assert "--thin 1000 is more than --steps 100: no draw would be stored" in capsys.readouterr().err
