"""`srmc reproduce figure1 | coverage | discrete`: the pieces their claims rest on (statistics, geometry, metrics,
common random numbers), and the commands at their quick size (marked slow: minutes on 2 cores)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.tools.cli import build_parser, main
from srmc.tools.reproduce import EXPERIMENTS, coverage, discrete, figure1


def test_every_experiment_is_a_reproduce_subcommand():
    for name in EXPERIMENTS:
        args = build_parser().parse_args(["reproduce", name, "--out", "somewhere", "--quick"])
        assert args.experiment == name and args.quick and callable(args.func)
    assert main(["reproduce", "figure3", "--out", "x"]) == 2


# --- figure 1 -----------------------------------------------------------------------------------------------------


def test_figure1_statistics_on_known_paths():
    broad = np.zeros((4, 10), bool)
    broad[0, 3:] = True  # escapes at step 4, then stays
    broad[1, 9] = True  # escapes at step 10
    xs = np.zeros((4, 10, 2))
    stats = figure1.statistics(xs, broad, np.zeros(4, int))
    assert stats["escaped_fraction"] == 0.5
    assert stats["first_escape_median"] == pytest.approx(np.median([4, 10, 11, 11]))
    assert stats["first_escape_mean_if_escaped"] == 7.0
    assert stats["broad_fraction"] == pytest.approx((0.7 + 0.1) / 4)
    assert stats["escape_curve"][-1] == 0.5


def test_figure1_base_and_srmc_share_their_noise():
    """Common random numbers: with alpha = 0 the SRMC-ULA chain IS the base chain, seed by seed."""
    target = targets.get("metastable_mixture")
    base = figure1.algorithms()["base ULA"]
    null = srmc.wrap(samplers.ula, tilt="score", alpha=0.0, step_size=figure1.STEP_SIZE)
    xs_base, broad_base, _ = figure1.run_seeds(base, target, np.arange(3), 50)
    xs_null, broad_null, _ = figure1.run_seeds(null, target, np.arange(3), 50)
    np.testing.assert_array_equal(xs_base, xs_null)
    assert not np.array_equal(xs_base[0], xs_base[1])  # different seeds, different noise


# --- coverage -----------------------------------------------------------------------------------------------------


def test_span_coordinates_keep_every_distance():
    centres = np.random.default_rng(0).normal(size=(30, 50))
    span = coverage.span_coordinates(centres)
    assert span.shape == (30, 29)
    distances = lambda c: np.linalg.norm(c[:, None] - c[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(distances(span), distances(centres), atol=1e-9)


def test_digits_construction_matches_the_papers_distance_to_sd_ratio():
    raw = coverage.digits_centres()
    assert raw.shape == (1000, 64) and raw.min() >= 0 and raw.max() <= 1
    span = coverage.span_coordinates(raw)
    rms = float(np.sqrt(2 * 1000 / 999 * np.sum(np.var(span, 0))))
    sd = rms / (coverage.CIFAR_RMS_DISTANCE / coverage.PAPER_SD)
    geometry = coverage.geometry(raw, span, sd)
    np.testing.assert_allclose(geometry["rms_over_sd"], geometry["paper"]["rms_over_sd"], rtol=1e-6)
    np.testing.assert_allclose(coverage.CIFAR_RMS_DISTANCE, 19.66, atol=0.01)


def test_kl_to_uniform():
    np.testing.assert_allclose(coverage.kl_to_uniform(np.ones((2, 10))), 0.0, atol=1e-12)
    one_mode = np.zeros(10)
    one_mode[3] = 7
    np.testing.assert_allclose(coverage.kl_to_uniform(one_mode), np.log(10))


def test_coverage_counter_and_common_keys():
    """A tiny mixture: exact draws from the mixture find every mode; base ULA and SRMC-ULA at alpha = 0 visit the
    same modes (same keys); the counters are monotone."""
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 3.0]])
    target = coverage.mixture_target("tiny", centres, 1.0)
    assert target.mixture is not None and target.mixture.variance == 1.0
    x = jnp.array([0.3, -0.2])
    np.testing.assert_allclose(jax.grad(target.logdensity)(x),
                               jax.grad(targets.mixture.gaussian_mixture("ref", centres, 1.0).logdensity)(x),
                               rtol=1e-5)
    modes, checkpoints = jnp.asarray(centres), [1, 5, 20]
    old = coverage.NUM_MODES
    coverage.NUM_MODES = 4
    try:
        exact = coverage.coverage_program(None, target, modes, 20, checkpoints, "mixture")(jnp.arange(2))
        base = coverage.coverage_program(srmc.base(samplers.ula, step_size=0.2), target, modes, 20, checkpoints)(
            jnp.arange(2))
        null = coverage.coverage_program(srmc.wrap(samplers.ula, tilt="score", alpha=0.0, step_size=0.2), target, modes, 20,
                                         checkpoints)(jnp.arange(2))
    finally:
        coverage.NUM_MODES = old
    assert np.all(np.asarray(exact[0])[:, -1] == 4)
    np.testing.assert_array_equal(base[0], null[0])
    np.testing.assert_array_equal(base[1], null[1])
    assert np.all(np.diff(np.asarray(base[0]), axis=1) >= 0)


# --- discrete -----------------------------------------------------------------------------------------------------


def test_mmd_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.integers(0, 2, (200, 16)))
    b = jnp.asarray((rng.random((200, 16)) < 0.8).astype(int))
    assert abs(float(discrete.mmd2(a, a))) < 1e-6
    assert float(discrete.mmd2(a, b)) > 10 * abs(float(discrete.mmd2(a, jnp.asarray(rng.integers(0, 2, (200, 16))))))


def test_bias_test_flags_a_shift_and_passes_the_truth():
    rng = np.random.default_rng(1)
    truth = np.full(8, 0.3)
    fair = (rng.random((500, 32, 8)) < truth).astype(float)
    assert not discrete.bias(fair, truth)["biased"]
    shifted = (rng.random((500, 32, 8)) < truth + 0.05).astype(float)
    assert discrete.bias(shifted, truth)["biased"]


def test_the_relaxed_score_is_not_mean_zero_under_a_field_and_ours_are():
    exact = targets.get("ising", **discrete.TARGETS["ising"]).sample(jax.random.key(0), 20_000).astype(jnp.int32)
    relaxed = discrete.score_mean_under_pi(discrete.target_with_score("ising", "relaxed"), exact)
    barker = discrete.score_mean_under_pi(discrete.target_with_score("ising", "barker"), exact)
    assert relaxed > 0.5 and barker < 0.02


# --- the commands at their quick size -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["figure1", "coverage", "discrete"])
def test_quick_commands_write_json_and_tables(name, tmp_path):
    assert main(["reproduce", name, "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / f"{name}.json").read_text())
    assert report["seconds"] > 0 and (tmp_path / f"{name}.md").exists()
