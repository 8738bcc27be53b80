"""The health report speaks in one line per warning code, with advice that fits the run and no warning where the
reported number is right; the progress bar's clock leaves compilation out."""

import types

import jax
import numpy as np

import srmc
from srmc import samplers, targets
from srmc.engine import health, progress
from srmc.engine.health import grouped_lines, mcse_disagreement
from srmc.method import srmc_report
from srmc.method.tilt import BOUNDED, LINEAR


def test_grouped_lines_fold_several_runs_into_one_line_per_code():
    labelled = [("base alpha=0", "WARNING [mcse_disagree]: first"), ("srmc alpha=1", "WARNING [mcse_disagree]: second"),
                ("srmc alpha=1", "WARNING [r_hat]: split"), ("srmc alpha=10", "WARNING [mcse_disagree]: third")]
    lines = grouped_lines(labelled)
    assert lines == ["WARNING [mcse_disagree] in base alpha=0, srmc alpha=1, srmc alpha=10: first",
                     "WARNING [r_hat] in srmc alpha=1: split"]


def test_coordinates_are_listed_and_counted_beyond_the_limit():
    assert health.coordinates([0, 3]) == "x[0, 3]"
    assert health.coordinates(range(12), "x^2") == "x^2[0, 1, 2, 3, 4, 5, 6, 7] (+4 more)"


def _guard_result():
    counters = {"guard_events": np.array([2, 0]), "alpha_backoff": np.array([0.25, 1.0])}
    return types.SimpleNamespace(counters=counters, num_chains=2)


def test_guard_advice_fits_the_tilt():
    bounded = types.SimpleNamespace(tilt=BOUNDED._replace(gradient_name="exact"))  # a variant is still bounded
    message = srmc_report._guard(bounded, _guard_result()).message
    assert "lower alpha" in message and "tilt='bounded'" not in message
    linear = types.SimpleNamespace(tilt=LINEAR)
    assert "use the default tilt='bounded'" in srmc_report._guard(linear, _guard_result()).message


def test_every_warning_is_one_line():
    result = types.SimpleNamespace(counters=_guard_result().counters, num_chains=2)
    warning = srmc_report._guard(types.SimpleNamespace(tilt=LINEAR), result)
    assert "\n" not in str(warning) and len(str(warning)) < 400


def test_mcse_disagree_is_quiet_where_batches_are_merely_short():
    """Healthy MALA chains from exact draws on the correlated Gaussian: the batch means are far too short for the
    slow direction (the raw comparison's z > 4, the old false alarm), the chain-spread MCSE is right: no warning.
    A diagonal mass keeps the slow direction slow (``mass="auto"`` would make it dense and the batches long enough)."""
    target = targets.get("correlated_gaussian")
    start = target.sample(jax.random.key(100), 16)
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala), target, 2000, 16, initial_position=start,
                         warmup=srmc.Warmup(1000, mass="diagonal"))
    _, _, z = mcse_disagreement(result)
    assert np.max(z) > health.MCSE_Z  # what used to fire
    assert health.short_batch_factor(result).max() > 2
    assert "mcse_disagree" not in [w.code for w in result.warnings]


class ClockBar:
    def __init__(self):
        self.start_t, self.n = 100.0, 0

    def update(self, steps):
        self.n += steps


def test_progress_clock_leaves_compilation_out(monkeypatch):
    seconds = [5.0]
    monkeypatch.setattr(progress, "compile_seconds", lambda: seconds[0])
    bar = progress.SamplingClockBar(ClockBar())
    seconds[0] = 17.5  # the first chunk compiled for 12.5 s
    bar.update(10)
    assert bar.start_t == 112.5 and bar.n == 10
    bar.update(10)  # no compilation since: the clock is left alone
    assert bar.start_t == 112.5 and bar.n == 20


def _mcse_result(ratio, num_chains=16, num_batches=64, dim=10, seed=0):
    """A stand-in result whose chain-spread MCSE is `ratio` x its batch-means MCSE on coordinate 0 (independent
    batch means, so that no short-batch correction applies)."""
    batches = np.random.default_rng(seed).normal(size=(num_chains, num_batches, dim))
    within = np.full(dim, 0.01)
    spread = within.copy()
    spread[0] *= ratio
    return types.SimpleNamespace(num_chains=num_chains, batch_means={"x": batches}, mcse=lambda name="x": spread,
                                 batch_means_mcse=lambda name="x": within)


def test_mcse_comparison_uses_the_f_distribution_of_16_chains():
    """A chain spread 0.41 x the batch means' (a healthy iid-Gaussian MALA run, seed 2 of the false-alarm benchmark:
    z = -4.9 under the normal approximation) is within what 16 chains give once in 10^3 runs: no warning; 0.2 x, or
    4 x (chains that disagree), is a warning."""
    low, high = health.mcse_ratio_bounds(16, 64, 10)
    assert low < np.log(0.41) and high < np.log(2.5)
    assert health._mcse_disagreement(_mcse_result(0.41), anticorrelated_batches=False) is None
    assert health._mcse_disagreement(_mcse_result(0.2), anticorrelated_batches=False).code == "mcse_disagree"
    assert health._mcse_disagreement(_mcse_result(4.0), anticorrelated_batches=False).code == "mcse_disagree"
    assert health._mcse_disagreement(_mcse_result(0.2), anticorrelated_batches=True) is None  # SRMC's history


def test_r_hat_says_when_the_chains_are_too_short_for_it():
    def fake(ess):
        return types.SimpleNamespace(r_hat=lambda: np.array([1.0, 1.015]), ess=lambda: np.array(ess),
                                     num_chains=16, warmup_steps=1000)

    short = health._r_hat(fake([950.0, 900.0]))  # the smallest: 900 / 16 = 56 effective draws per chain
    assert short.code == "r_hat" and "effective draws" not in short.message and "x[1]" in short.message
    shorter = health._r_hat(fake([480.0, 500.0]))  # 30 per chain: R-hat's own bias
    assert "about 30 effective draws" in shorter.message and "warm up longer" in shorter.message


def test_slow_mixing_advice_names_nuts_and_a_dense_mass_where_they_apply():
    import blackjax

    def fake(mass):
        return types.SimpleNamespace(r_hat=lambda: np.array([1.0, 1.2]), ess=lambda: np.array([4000.0, 3000.0]),
                                     num_chains=16, warmup_steps=1000,
                                     params=types.SimpleNamespace(kernel={"inverse_mass_matrix": mass}))

    diagonal, dense = np.ones((16, 2)), np.ones((16, 2, 2))
    mala = health._r_hat(fake(diagonal), srmc.base(samplers.mala)).message
    assert "blackjax.nuts" in mala and 'mass="dense"' in mala
    assert 'mass="dense"' not in health._r_hat(fake(dense), srmc.base(samplers.mala)).message
    nuts = health._r_hat(fake(dense), srmc.wrap(blackjax.nuts, alpha=1.0)).message
    assert "mixes slowly" not in nuts  # NUTS with a dense mass: nothing left to name
    assert "mixes slowly" not in health._r_hat(fake(diagonal)).message  # no algorithm: no kernel advice
