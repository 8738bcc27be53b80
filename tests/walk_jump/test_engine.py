"""Walk-jump on the engine: `srmc.walk_jump_algorithm` through `srmc.sample`, and `srmc.walk_jump` on top of it.

The law tests start every chain at an exact draw of the first measurement's law N(m, C + sigma^2 I) on a Gaussian
target, so the jumps the engine stores (thin = M) must follow N(m, C (C + s I)^-1 C), s = sigma^2 / M, and the
walks' ȳ_M N(m, C + s I), within Monte Carlo error (tests/walk_jump/laws.py: z-scores of raw moments, |z| < 4.5).
The engine averages functions over the jumps only (`Report.is_draw`): a run whose estimates included the stages in
between, or whose stored draw were a measurement rather than the jump, fails the same z-scores.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import targets
from srmc.method import walk_jump as wj
from srmc.testing.strategies import gaussian_target
from tests.srmc.tiny_runs import assert_same_run, interrupt_at_save
from tests.walk_jump.laws import Z_LIMIT, gaussian_z

MEAN = np.array([1.0, -0.5])
COV = np.array([[1.5, 0.6], [0.6, 0.8]])
SIGMA, M, K, STEP = 1.2, 4, 20, 1.2
NUM_CHAINS, NUM_WALKS = 2000, 2
TARGET = gaussian_target("walk_jump_engine_gaussian", MEAN, COV)


def algorithm(**changes):
    return srmc.walk_jump_algorithm(**(dict(noise_scale=SIGMA, num_measurements=M, step_size=STEP,
                                            num_inner_steps=K) | changes))


def exact_first_measurements(num_chains: int = NUM_CHAINS, seed: int = 1) -> jnp.ndarray:
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.multivariate_normal(MEAN, COV + SIGMA**2 * np.eye(2), num_chains), jnp.float32)


@pytest.fixture(scope="module")
def gaussian_run():
    return srmc.sample(jax.random.key(0), algorithm(), TARGET, NUM_WALKS * M, NUM_CHAINS,
                       initial_position=exact_first_measurements(), warmup=0, options=srmc.RunOptions(thin=M))


def test_the_engine_stores_one_jump_per_walk_with_the_exact_law(gaussian_run):
    s = SIGMA**2 / M
    gain = COV @ np.linalg.inv(COV + s * np.eye(2))
    jump_cov, mean_cov = gain @ COV, COV + s * np.eye(2)
    assert gaussian_run.draws.shape == (NUM_CHAINS, NUM_WALKS, 2)
    for walk in range(NUM_WALKS):
        jumps = gaussian_run.draws[:, walk]
        walk_means = gaussian_run.draw_stats["walk_mean"][:, walk]
        assert np.max(np.abs(gaussian_z(jumps, MEAN, jump_cov))) < Z_LIMIT, walk
        assert np.max(np.abs(gaussian_z(walk_means, MEAN, mean_cov))) < Z_LIMIT, walk
        np.testing.assert_allclose(jumps, MEAN + (walk_means - MEAN) @ gain.T, atol=2e-4)  # Tweedie, exactly
    assert gaussian_run.warnings == []


def test_estimates_average_over_the_jumps_only(gaussian_run):
    """`Report.is_draw`: every chain's estimate of x is the mean of its jumps, not of its M x walks stages."""
    np.testing.assert_allclose(gaussian_run.chain_estimates["x"], gaussian_run.draws.mean(axis=1), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(gaussian_run.counters["num_walks"], np.full(NUM_CHAINS, NUM_WALKS))
    z = (gaussian_run.estimates["x"] - MEAN) / gaussian_run.mcse("x")
    assert np.all(np.abs(z) < Z_LIMIT), z
    assert 0.5 < float(np.mean(gaussian_run.counters["later_stage_acceptance"])) <= 1.0


def test_the_entry_point_is_the_engine_run_read_walk_major():
    """`srmc.walk_jump` returns the engine's stored jumps walk-major, ȳ_M alongside, and the run itself."""
    result = srmc.walk_jump(jax.random.key(5), TARGET, 12, noise_scale=SIGMA, num_measurements=M, step_size=STEP,
                            num_inner_steps=3, num_chains=4)
    assert isinstance(result, srmc.WalkJumpResult)
    draws = result.run.draws
    assert draws.shape == (4, 3, 2) and result.num_walks_per_chain == 3
    np.testing.assert_array_equal(np.asarray(result.samples), np.swapaxes(draws, 0, 1).reshape(12, 2))
    np.testing.assert_array_equal(np.asarray(result.final_means),
                                  np.swapaxes(result.run.draw_stats["walk_mean"], 0, 1).reshape(12, 2))
    assert result.gradient_evaluations == 4 * 3 * M * (3 + 1) + 4


def test_checkpoints_between_stages_resume_bit_for_bit(tmp_path, monkeypatch):
    """Chunks of 3 stages do not line up with walks of M = 4: a checkpoint mid-walk resumes bit-identically, and the
    result does not depend on the chunking."""
    run = dict(num_steps=3 * M, num_chains=4, initial_position=exact_first_measurements(4), warmup=0)
    options = srmc.RunOptions(chunk_size=3)
    key, walk_jump = jax.random.key(7), algorithm(num_inner_steps=3)
    reference = srmc.sample(key, walk_jump, TARGET, **run, options=options)
    assert_same_run(reference, srmc.sample(key, walk_jump, TARGET, **run, options=options._replace(chunk_size=12)))
    path = tmp_path / "walk_jump.npz"
    interrupt_at_save(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(key, walk_jump, TARGET, **run, options=options, checkpoint=path)
    monkeypatch.undo()
    resumed = srmc.sample(key, walk_jump, TARGET, **run, options=options,
                          checkpoint=srmc.Checkpointing(path, resume=True))
    assert_same_run(reference, resumed)


def test_the_entry_point_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    run = dict(noise_scale=SIGMA, num_measurements=M, step_size=STEP, num_inner_steps=3, num_chains=4, chunk_size=M)
    reference = srmc.walk_jump(jax.random.key(8), TARGET, 12, **run)
    path = tmp_path / "entry.npz"
    interrupt_at_save(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        srmc.walk_jump(jax.random.key(8), TARGET, 12, **run, checkpoint=path)
    monkeypatch.undo()
    resumed = srmc.walk_jump(jax.random.key(8), TARGET, 12, **run, checkpoint=srmc.Checkpointing(path, resume=True))
    np.testing.assert_array_equal(np.asarray(reference.samples), np.asarray(resumed.samples))
    np.testing.assert_array_equal(np.asarray(reference.final_means), np.asarray(resumed.final_means))


def test_low_stage_acceptance_is_reported_and_a_healthy_run_is_silent():
    """A step size 100x the default makes MALA's stages reject nearly everything: both stage kinds are flagged."""
    target = targets.get("iid_gaussian", dim=2)
    healthy = srmc.walk_jump(jax.random.key(9), target, 64, noise_scale=1.0, num_measurements=4, num_inner_steps=5)
    assert healthy.warnings == [] and healthy.later_stage_acceptance > 0.5
    broken = srmc.walk_jump(jax.random.key(9), target, 64, noise_scale=1.0, num_measurements=4, num_inner_steps=5,
                            step_size=100.0)
    codes = {warning.code for warning in broken.warnings}
    assert {"walk_jump_first_stage_acceptance_low", "walk_jump_later_stage_acceptance_low"} <= codes, codes
    assert broken.later_stage_acceptance < wj.LOW_STAGE_ACCEPTANCE
    ula = srmc.walk_jump(jax.random.key(9), target, 64, noise_scale=1.0, num_measurements=4, num_inner_steps=5,
                         step_size=0.5, inner=wj.ULA)
    assert not any(w.code.startswith("walk_jump_") and "acceptance" in w.code for w in ula.warnings)


@pytest.mark.parametrize("noise_scale", [0.0, -1.0])
def test_algorithm_noise_scale_must_be_positive(noise_scale):
    with pytest.raises(ValueError, match="noise_scale"):
        srmc.walk_jump_algorithm(TARGET, noise_scale=noise_scale, num_measurements=2)


@pytest.mark.parametrize("num_measurements", [0, -3])
def test_algorithm_needs_at_least_one_measurement(num_measurements):
    with pytest.raises(ValueError, match="num_measurements must be >= 1"):
        srmc.walk_jump_algorithm(TARGET, noise_scale=1.0, num_measurements=num_measurements)


def test_algorithm_without_a_target_needs_its_numbers_and_checks_its_records():
    with pytest.raises(ValueError, match="needs num_measurements, step_size"):
        srmc.walk_jump_algorithm(noise_scale=1.0)
    with pytest.raises(ValueError, match="InnerKernel"):
        srmc.walk_jump_algorithm(TARGET, inner="mala")
    with pytest.raises(ValueError, match="Smoothing record"):
        srmc.walk_jump_algorithm(TARGET, smoothing=TARGET.smoothed_logdensity)
    with pytest.raises(ValueError, match="num_draws"):
        srmc.walk_jump_algorithm(TARGET, num_draws=0)
    with pytest.raises(ValueError, match="score_form"):
        srmc.walk_jump_algorithm(TARGET, score_form="exact")


def test_a_target_without_a_score_is_refused_with_the_fix():
    """A log density JAX cannot trace (numpy inside) has no score for the stages: a ValueError naming the fixes."""

    def numpy_logdensity(x):
        return -0.5 * float(np.sum(np.asarray(x) ** 2))

    with pytest.raises(ValueError, match="needs the score .*jax.numpy"):
        srmc.walk_jump(jax.random.key(0), numpy_logdensity, 4, dim=2, noise_scale=1.0, num_measurements=2,
                       smoothing=wj.importance_smoothing(numpy_logdensity, 8, "gradient"))
    with pytest.raises(ValueError, match="needs the score"):
        srmc.walk_jump(jax.random.key(0), numpy_logdensity, 4, dim=2, noise_scale=1.0, num_measurements=2)


def test_a_warm_up_is_refused_with_the_fix():
    """Walk-jump has no base kernel for the engine's warm-up to tune: asking for one is a clear error."""
    with pytest.raises(ValueError, match="no base kernel for a warm-up.*warmup=0"):
        srmc.sample(jax.random.key(0), algorithm(), TARGET, 8, 2, warmup=50)


def test_a_users_own_scan_and_a_plain_log_density_through_the_engine():
    """`init`/`step` take a target or a plain log density; through `srmc.sample` a plain log density gets the
    importance-sampled smoothing, resolved from the target at step time."""
    walk_jump = algorithm(num_inner_steps=2)
    state = walk_jump.init(jnp.zeros(2), TARGET)
    for i in range(M):
        state, info = walk_jump.step(jax.random.key(i), state, TARGET)
    assert bool(info.is_walk_end) and int(state.num_walks) == 1
    np.testing.assert_array_equal(walk_jump.position(state), info.denoised)
    result = srmc.sample(jax.random.key(2), walk_jump, lambda x: -0.5 * jnp.sum(x**2), 2 * M, 8,
                         initial_position=jnp.zeros((8, 2)), options=srmc.RunOptions(thin=M))
    assert result.draws.shape == (8, 2, 2) and np.all(np.isfinite(result.draws))
    assert not any(w.code.startswith("walk_jump_") for w in result.warnings)


def test_a_degenerate_importance_smoothing_is_reported():
    """The funnel with the default sigma (9.5, its mouth's scale): the importance proposal N(y, sigma^2 I) puts one
    draw's weight on everything (median Kish effective draws about 1 of 16), which the run reports; a Gaussian
    through its log density alone is silent (sigma = 1 on the funnel is too, checked by hand: median 2.4 and 13)."""
    funnel = targets.get("funnel", dim=10)
    default = srmc.walk_jump(jax.random.key(0), funnel, 64, inner=wj.ULA, num_draws=16, num_measurements=4,
                             num_inner_steps=2)
    degenerate = [w for w in default.warnings if w.code == "walk_jump_smoothing_degenerate"]
    assert degenerate and degenerate[0].data["median_effective_draws"]["first measurement (sigma^2)"] < 1.5
    gaussian = srmc.walk_jump(jax.random.key(2), lambda x: -0.5 * jnp.sum(x**2), 64, dim=2, noise_scale=1.0,
                              num_measurements=4, num_inner_steps=3, num_draws=32)
    assert gaussian.warnings == []
