"""`srmc bench` on graph targets (srmc.tools.graph_benchmark): the table's statistics, a smoke run of the command
on a small graph, and the bad flags' errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from srmc import targets
from srmc.method import graph_history, hdt, srrw
from srmc.tools import cli, graph_benchmark
from tests.graphs.chains import triangles


def test_the_statistics_are_the_stated_ones():
    mu = np.array([0.5, 0.3, 0.2])
    visits = np.array([[0.6, 0.2, 0.2], [0.4, 0.4, 0.2], [0.5, 0.1, 0.4]])
    stats = graph_benchmark._statistics(visits, mu, num_steps=10)
    errors = visits - mu
    np.testing.assert_allclose(stats["tvd"], np.mean(0.5 * np.abs(errors).sum(axis=1)))
    np.testing.assert_allclose(stats["nrmse"], np.mean(np.sqrt((errors ** 2).mean(axis=0)) / mu))
    np.testing.assert_allclose(stats["n_mse"], 10 * np.mean((errors ** 2).sum(axis=1)))


def test_the_nrmse_standard_error_is_the_spread_of_the_statistic():
    """The delta-method SE of NRMSE against the spread of NRMSE over 400 independent sets of 200 Gaussian
    replicates (the SE's own error at 400 sets is about 4%: the bound 15% is 3.5 of them)."""
    rng = np.random.default_rng(0)
    mu = np.array([0.4, 0.35, 0.25])
    sets = [mu + rng.normal(0.0, [0.02, 0.05, 0.01], (200, 3)) for _ in range(400)]
    values = [graph_benchmark._statistics(v, mu, 1)["nrmse"] for v in sets]
    stderrs = [graph_benchmark._statistics(v, mu, 1)["nrmse_se"] for v in sets]
    assert abs(np.mean(stderrs) / np.std(values, ddof=1) - 1.0) < 0.15


def test_the_alpha_ramp_is_data_and_grows_linearly():
    params = graph_history.history_params(4.0, 1.0, 1.0, alpha_ramp=10.0)
    alphas = [float(graph_history.alpha_at(jnp.asarray(n), params)) for n in (0, 5, 10, 50)]
    assert alphas == [0.0, 2.0, 4.0, 4.0]
    constant = graph_history.history_params(4.0, 1.0, 1.0)
    assert float(graph_history.alpha_at(jnp.asarray(0), constant)) == 4.0
    for factory in (srrw.srrw, hdt.hdt):
        assert float(factory(alpha=2.0, alpha_ramp=100).params.alpha_ramp) == 100.0
        with pytest.raises(ValueError, match="alpha_ramp must be finite and >= 0"):
            factory(alpha=2.0, alpha_ramp=-1.0)


def test_srmc_bench_on_a_graph_prints_the_table(capsys):
    code = cli.main(["bench", "florentine_families", "--alpha", "0,2", "--steps", "100", "--replicates", "8",
                     "--cache", "0.5", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mhrw, 8 replicates x 100 steps" in out
    rows = {line.split()[0] + (" " + line.split()[2] if line.startswith("hdt lru") else ""): line.split()
            for line in out.splitlines() if line.split() and line.split()[0] in ("base", "srrw", "hdt")}
    assert set(rows) == {"base", "srrw", "hdt", "hdt 0.5"}
    assert rows["base"][1] == "0" and rows["srrw"][1] == "2"
    assert rows["hdt 0.5"][-3] == "-"  # no formula for the LRU variant
    assert float(rows["srrw"][-3]) == pytest.approx(7.90, abs=0.01)  # the formula's tr V_base / tr V_SRRW


@pytest.mark.parametrize("flags, message", [
    (["--kernel", "mala"], "--kernel 'mala' is not a graph kernel; graph targets take one of mhrw, nbrw, mtm"),
    (["--method", "srrw,foo"], "--method must be a comma-separated list of base, srrw, hdt"),
    (["--kernel", "nbrw", "--method", "srrw"], "--method srrw needs a kernel that hands over its transition row"),
    (["--alpha", "-1"], "--alpha values must be finite and >= 0"),
    (["--cache", "0"], r"--cache expects comma-separated fractions in \(0, 1\]"),
    (["--method", "base,srrw", "--cache", "0.1"], "add hdt to --method"),
    (["--step-exponent", "0.4"], r"--step-exponent must lie in \(1/2, 1\]"),
    (["--alpha-ramp", "-3"], "--alpha-ramp must be a number of steps >= 0"),
    (["--replicates", "1"], "--replicates must be >= 2"),
    (["--out", "somewhere", "--control-variates"], "--out, --control-variates: not used by the graph benchmark"),
    (["--kernel", "mtm", "--kernel-param", "foo=5"], r"--kernel-param has \['foo'\], which mtm does not take"),
])
def test_bad_graph_flags_get_clear_errors(capsys, flags, message):
    assert cli.main(["bench", "florentine_families", "--steps", "10", "--quiet", *flags]) == 2
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)


def test_graph_flags_on_another_target_are_refused(capsys):
    assert cli.main(["bench", "iid_gaussian", "--method", "srrw", "--cache", "0.1", "--steps", "10"]) == 2
    assert "--method, --cache: only for graph targets" in capsys.readouterr().err


def test_a_graph_benchmark_needs_a_graph_target():
    with pytest.raises(ValueError, match="target must be a graph target"):
        graph_benchmark.graph_benchmark(None, targets.get("iid_gaussian", dim=2), num_steps=10, num_replicates=4)


@pytest.mark.parametrize("factory", [srrw.srrw, hdt.hdt])
def test_the_kernels_step_with_the_ramped_alpha(factory):
    """At step 0 a ramped alpha is 0: the first step is the alpha = 0 step bit for bit; without the ramp it is
    not (mu is not uniform, so x_0 = uniform already repels)."""
    target = triangles()
    positions = target.sample(jax.random.key(1), 256)
    keys = jax.random.split(jax.random.key(2), 256)

    def first_step(algorithm):
        states = jax.vmap(lambda p: algorithm.init(p, target))(positions)
        return np.asarray(jax.vmap(lambda k, s: algorithm.step(k, s, target))(keys, states)[0].position)

    reference = first_step(factory(alpha=0.0))
    np.testing.assert_array_equal(first_step(factory(alpha=5.0, alpha_ramp=10.0)), reference)
    assert np.any(first_step(factory(alpha=5.0)) != reference)
