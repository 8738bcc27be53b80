"""`srmc reproduce figure2`: its sweep is srmc.wrap's step with a traced alpha (step by step, float64), it uses
the paper's indexing (step n runs with alpha_n and theta_{n-1}), divergent runs are counted and never averaged,
and the command runs at its tested size and writes the issue's JSON schema."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc.tools.cli import main
from srmc.tools.reproduce import figure2

NUM_STEPS = 40


def _sweep_positions(block, target, x0, key, alpha, adaptive):
    init, step = figure2.sweep_step(block, target)

    def one(carry, n):
        carry, _ = step(carry, n, jax.random.fold_in(key, n), alpha, adaptive)
        return carry, carry[0].position

    return jax.jit(lambda x: jax.lax.scan(one, init(x), jnp.arange(1, NUM_STEPS + 1))[1])(x0)


def _library_positions(algorithm, target, x0, key):
    def one(state, n):
        state, _ = algorithm.step(jax.random.fold_in(key, n), state, target)
        return state, algorithm.position(state)

    return jax.jit(lambda x: jax.lax.scan(one, algorithm.init(x, target), jnp.arange(1, NUM_STEPS + 1))[1])(x0)


def _no_jitter(make, module, **params):
    """The paper's HMC has no step-size jitter: switch srmc's off where the library has the option."""
    try:
        return make(module, step_jitter=0.0, **params)
    except TypeError:
        return make(module, **params)


@pytest.mark.parametrize("block_index, schedule, alpha", [
    (0, "baseline", 0.0), (0, "fixed", 2.0), (0, "adaptive", 5.0), (3, "baseline", 0.0), (3, "adaptive", 5.0),
], ids=["mala-gaussian-baseline", "mala-gaussian-fixed", "mala-gaussian-adaptive", "hmc-logistic-baseline",
        "hmc-logistic-adaptive"])
def test_the_sweep_is_srmc_wrap_with_a_traced_alpha(block_index, schedule, alpha):
    """Same keys, same start: the sweep's chain equals srmc.wrap's (srmc.base's for the baseline) to rounding."""
    block = figure2.BLOCKS[block_index]
    with jax.enable_x64(True):
        target = figure2.block_target(block.target)
        x0 = jnp.asarray(figure2.block_starts(block.target, 1)[0])
        key = jax.random.key(3)
        module = figure2.kernel_module(block.kernel)
        if schedule == "baseline":
            algorithm = _no_jitter(srmc.base, module, **block.params)
        else:
            algorithm = _no_jitter(srmc.wrap, module, alpha=figure2.alpha_schedule(schedule, alpha), tilt="score",
                                   gradient="shifted", gamma=srmc.schedules.polynomial(block.theta_step, 0.6),
                                   **block.params)
        ours = np.asarray(_sweep_positions(block, target, x0, key, alpha, schedule == "adaptive"))
        library = np.asarray(_library_positions(algorithm, target, x0, key))
    assert np.all(np.isfinite(ours))
    assert np.any(ours[1:] != ours[:-1])  # the chain moves
    np.testing.assert_allclose(ours, library, rtol=1e-9, atol=1e-9)


def test_step_n_uses_alpha_n_the_papers_indexing():
    """The paper's _current_alpha(alpha, i + 1) at the top of iteration i: step n = 1, 2, ... uses
    n / (C + n / alpha). One step behind (alpha_{n-1}) gives a visibly different chain."""
    np.testing.assert_allclose(figure2.alpha_at(jnp.arange(1, 4), 2.0, True),
                               [n / (1000 + n / 2.0) for n in (1, 2, 3)], rtol=1e-6)
    np.testing.assert_allclose(figure2.alpha_at(jnp.arange(1, 4), 2.0, False), 2.0)
    block = figure2.BLOCKS[0]
    with jax.enable_x64(True):
        target = figure2.block_target(block.target)
        x0 = jnp.asarray(figure2.block_starts(block.target, 1)[0])
        key = jax.random.key(4)
        gamma = srmc.schedules.polynomial(block.theta_step, 0.6)
        rational = srmc.schedules.rational(5.0, 1000.0)
        behind = srmc.wrap(srmc.samplers.mala, alpha=lambda n: rational(n - 1), tilt="score", gradient="shifted",
                           gamma=gamma, **block.params)
        ours = np.asarray(_sweep_positions(block, target, x0, key, 5.0, True))
        one_behind = np.asarray(_library_positions(behind, target, x0, key))
    assert np.max(np.abs(ours - one_behind)) > 1e-6


def test_diverged_runs_are_counted_and_never_averaged():
    truth, sd = np.zeros(3), np.ones(3)
    estimates = np.array([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0], [1e19, 0.0, 0.0], [np.nan, 0.0, 0.0], [0.0, 0.0, 10.5]])
    summary = figure2.summarise(estimates, truth, sd)
    assert summary["diverged"] == 3 and summary["replicates"] == 5
    np.testing.assert_allclose(summary["mse"], np.mean([0.01 / 3, 0.04 / 3]))
    assert np.isfinite(summary["mse_se"])
    everything = figure2.summarise(np.full((2, 3), 1e116), truth, sd)
    assert everything["diverged"] == 2 and np.isnan(everything["mse"])


def test_quick_run_writes_the_issues_schema(tmp_path, capsys):
    """`srmc reproduce figure2 --quick --out DIR`: 44 rows (4 blocks x 11 configurations) in figure2.json."""
    assert main(["reproduce", "figure2", "--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "figure2.json").read_text())["rows"]
    assert len(rows) == 44
    for row in rows:
        assert row["kernel"] in ("mala", "hmc") and row["target"] in ("correlated_gaussian", "synthetic_logistic")
        assert row["schedule"] in ("baseline", "fixed", "adaptive")
        assert isinstance(row["alpha"], float) and isinstance(row["diverged"], int)
        assert row["replicates"] == figure2.QUICK_REPLICATES and row["steps"] == 1000
        assert row["mse"] is None or row["mse"] > 0
        assert 0 <= row["acceptance"] <= 1 and row["seconds_per_iteration"] > 0
    kept = [row for row in rows if row["diverged"] < row["replicates"]]
    assert all(row["mse"] is not None and row["mse_se"] is not None for row in kept)
    baselines = [row for row in rows if row["schedule"] == "baseline"]
    assert len(baselines) == 4 and all(row["diverged"] == 0 for row in baselines)
    assert "| kernel | target |" in capsys.readouterr().out
    assert (tmp_path / "figure2.md").exists()
