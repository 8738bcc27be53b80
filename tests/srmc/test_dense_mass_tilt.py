"""The bounded tilt follows the base kernel's dense inverse mass matrix: it repels per coordinate of z = L^-1 (x - m).

A dense mass makes the kernel move in z; a tilt per coordinate of x then repels along directions the kernel does not
see. On a 20-d Gaussian with correlation 0.9 (MALA, dense mass, alpha 10) that left E[x^2] biased by about 11
standard errors at 5000 steps; whitened by the kernel's L, the pair (kernel, tilt) is the uncorrelated Gaussian's.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.method.tilt import BOUNDED, TiltReference, with_whitening


def _whitened_reference(dim: int) -> tuple[TiltReference, jax.Array]:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(dim, dim))
    covariance = a @ a.T / dim + np.eye(dim)
    factor = jnp.linalg.cholesky(jnp.asarray(covariance))
    reference = TiltReference(jnp.asarray(rng.normal(size=dim)), jnp.sqrt(jnp.diag(jnp.asarray(covariance))))
    return with_whitening(reference, factor), factor


def test_the_whitened_bounded_tilt_gradient_is_the_derivative_of_its_log_density():
    with jax.enable_x64(True):
        target = targets.get("banana", dim=4)
        reference, _ = _whitened_reference(4)
        x, theta, alpha = jnp.array([0.3, -1.2, 0.8, 0.1]), jnp.array([0.5, -0.2, 0.9, -0.4]), 3.0

        def surrogate(y):
            return BOUNDED.value(target.logdensity(y), BOUNDED.term(target, y, None, reference), theta, alpha)

        gradient = BOUNDED.gradient(target, x, target.score(x), theta, alpha, reference)
        np.testing.assert_allclose(gradient, jax.grad(surrogate)(x), rtol=1e-10, atol=1e-12)


def test_the_whitened_history_statistic_is_the_score_in_z_and_its_features_are_bounded_by_one():
    with jax.enable_x64(True):
        target = targets.get("banana", dim=4)
        reference, factor = _whitened_reference(4)
        x = jnp.array([30.0, -12.0, 8.0, 1.0])
        score = target.score(x)
        # d/dz log pi(m + L z) = L^T s: the score in z, mean zero under pi for any m and L (Stein)
        np.testing.assert_allclose(BOUNDED.statistic(x, score, reference), factor.T @ score, rtol=1e-12)
        assert float(jnp.max(jnp.abs(BOUNDED.term(target, x, None, reference)))) <= 1.0
        np.testing.assert_array_equal(BOUNDED.feature_bound(reference), np.ones(4))


def _correlated_run(alpha: float, mass: str) -> srmc.SampleResult:
    target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    algorithm = srmc.base(samplers.mala) if alpha == 0 else srmc.wrap(samplers.mala, alpha=alpha)
    return srmc.sample(jax.random.key(0), algorithm, target, 3000, 64, warmup=srmc.Warmup(1000, mass=mass),
                       functions={"x": lambda x: x, "x2": lambda x: x**2}, options=srmc.RunOptions(progress=False))


def test_srmc_whitens_its_tilt_by_the_kernels_dense_mass_and_leaves_second_moments_unbiased():
    """E[x_i^2] = 1 exactly. Per chain, the mean over coordinates of the running mean of x^2 - 1; the pooled bias
    is tested against 4 standard errors of the chains' spread (the per-coordinate tilt: about 9 SE here). E[x]
    must gain over the base kernel with the same warm-up (measured 9-10x at 5000 steps; asked: more than 2x with
    the ratio's standard error below 0.5)."""
    result = _correlated_run(10.0, "dense")
    assert np.all(np.asarray(result.counters["alpha_factor"]) == 1.0)  # the prediction kept alpha
    per_chain = np.asarray(result.chain_estimates["x2"]).mean(axis=1) - 1.0
    z = per_chain.mean() / (per_chain.std(ddof=1) / np.sqrt(per_chain.size))
    assert abs(z) < 4.0, f"E[x^2] biased by {z:.1f} standard errors"
    base = _correlated_run(0.0, "dense")
    ratio, stderr = srmc.tools.benchmark.variance_ratio_with_stderr(
        np.asarray(base.chain_estimates["x"]), np.asarray(result.chain_estimates["x"]))
    assert ratio - 4 * stderr > 1.0 and ratio > 2.0, (ratio, stderr)
    mass = np.asarray(result.params.kernel["inverse_mass_matrix"])[0]
    whitening = np.asarray(result.params.reference.whitening)[0]
    np.testing.assert_allclose(whitening @ whitening.T, mass, rtol=1e-4, atol=1e-5)


def test_a_diagonal_mass_keeps_the_tilt_per_coordinate_of_x():
    result = _correlated_run(10.0, "diagonal")
    assert result.params.reference.whitening is None


def test_a_run_with_the_whitened_tilt_resumes_from_its_checkpoint_bit_identical(tmp_path, monkeypatch):
    from tests.srmc.tiny_runs import assert_same_run, interrupt_at_save

    target = targets.get("correlated_gaussian", dim=4, rho=0.9)
    algorithm = srmc.wrap(samplers.mala, alpha=10.0)
    run = dict(num_steps=60, num_chains=8, warmup=srmc.Warmup(400, mass="dense"),
               options=srmc.RunOptions(chunk_size=20, progress=False))
    reference = srmc.sample(jax.random.key(5), algorithm, target, **run)
    assert reference.params.reference.whitening is not None
    path = tmp_path / "run.npz"
    interrupt_at_save(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        srmc.sample(jax.random.key(5), algorithm, target, **run, checkpoint=path)
    monkeypatch.undo()
    resumed = srmc.sample(jax.random.key(5), algorithm, target, **run,
                          checkpoint=srmc.Checkpointing(path, resume=True))
    assert_same_run(reference, resumed)


def test_a_diagonal_auto_mass_runs_the_tilt_per_coordinate_of_x_bit_for_bit():
    """``mass="auto"`` that comes out diagonal keeps a matrix in the run's parameters (handed to the kernel as its
    diagonal); the tilt must then run unwhitened: the same bits as a bounded tilt that never follows the mass."""
    target = targets.get("iid_gaussian", dim=3)
    runs = [srmc.sample(jax.random.key(2), srmc.wrap(samplers.mala, alpha=10.0, tilt=tilt), target, 200, 8,
                        warmup=srmc.Warmup(400), options=srmc.RunOptions(progress=False))
            for tilt in (BOUNDED, BOUNDED._replace(follows_dense_mass=False))]
    assert np.ndim(runs[0].params.kernel["inverse_mass_matrix"]) == 3  # the auto choice: a diagonal matrix
    assert runs[0].params.reference.whitening is not None  # held, not used
    np.testing.assert_array_equal(runs[0].chain_estimates["x"], runs[1].chain_estimates["x"])
