"""srmc.samplers.ula and .uld (biased, unadjusted) against the exact stationary law of the discretised chain on
Gaussians, and their bias in h.

On N(m, S) with precision P = S^{-1} both kernels are linear Gaussian recursions z' = M z + c + N xi, so their
stationary law is Gaussian with mean solving z = M z + c and covariance solving the discrete Lyapunov equation
C = M C M^T + N N^T (scipy.linalg.solve_discrete_lyapunov). The tests run many chains to stationarity and compare
the empirical mean and covariance with that law within a few standard errors, at step sizes where the law is
measurably NOT the target's (so a test passing means the kernel is the recursion it claims, bias included).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

import srmc
from srmc import samplers
from srmc.samplers import ula, uld

TARGETS = {
    "1d": (np.array([1.0]), np.array([[4.0]])),
    "2d": (np.array([1.0, -1.0]), np.array([[1.0, 0.8], [0.8, 1.0]])),
}


def gaussian_logdensity(mean, cov):
    precision = jnp.asarray(np.linalg.inv(cov))
    mean = jnp.asarray(mean)
    return lambda x: -0.5 * (x - mean) @ precision @ (x - mean)


def ula_stationary(mean, cov, h):
    """Exact stationary (mean, covariance) of x' = x + h P (m - x) + sqrt(2h) xi."""
    dim = len(mean)
    a = np.eye(dim) - h * np.linalg.inv(cov)
    return mean, solve_discrete_lyapunov(a, 2.0 * h * np.eye(dim))


def uld_linear_map(cov, h, damping):
    """(M, N) of one O-B-A-B step on z = (x - m, p), unit mass: z' = M z + N xi, xi ~ N(0, I_d)."""
    dim = cov.shape[0]
    precision, eye, zero = np.linalg.inv(cov), np.eye(dim), np.zeros((dim, dim))
    eta = np.exp(-damping * h)
    o_map = np.block([[eye, zero], [zero, eta * eye]])
    o_noise = np.vstack([zero, np.sqrt(1.0 - eta**2) * eye])
    b_map = np.block([[eye, zero], [-0.5 * h * precision, eye]])
    a_map = np.block([[eye, h * eye], [zero, eye]])
    verlet = b_map @ a_map @ b_map
    return verlet @ o_map, verlet @ o_noise


def uld_stationary(mean, cov, h, damping):
    """Exact stationary (mean of x, covariance of (x, p)) of the O-B-A-B recursion."""
    m_map, n_map = uld_linear_map(cov, h, damping)
    return mean, solve_discrete_lyapunov(m_map, n_map @ n_map.T)


def run_chains(module, logdensity, start, num_chains, num_steps, seed, **params):
    kernel = module.build_kernel()
    states = jax.vmap(lambda x: module.init(x, logdensity))(jnp.tile(jnp.asarray(start, jnp.float32),
                                                                      (num_chains, 1)))

    def one_step(states, key):
        keys = jax.random.split(key, num_chains)
        states, info = jax.vmap(lambda k, s: kernel(k, s, logdensity, **params))(keys, states)
        return states, (info.is_nonfinite.sum(), info.acceptance_rate.mean())

    keys = jax.random.split(jax.random.key(seed), num_steps)
    states, (nonfinite, acceptance) = jax.jit(lambda s: jax.lax.scan(one_step, s, keys))(states)
    assert int(nonfinite.sum()) == 0 and np.allclose(acceptance, 1.0)
    return states


def visible_bias(exact_cov, cov, num_chains=None):
    """Largest |u^T (C_exact - S) u| over S's eigenvectors u, in standard errors of a variance from `num_chains`."""
    num_chains = num_chains or NUM_CHAINS
    values, vectors = np.linalg.eigh(cov)
    bias = np.abs(np.einsum("ij,ik,kj->j", vectors, exact_cov - cov, vectors))
    return float(np.max(bias / (np.sqrt(2.0 / num_chains) * values)))


def assert_matches_gaussian(samples, mean, cov, num_se=4.5):
    """Empirical mean and covariance within `num_se` standard errors of N(mean, cov) (entrywise)."""
    samples = np.asarray(samples, np.float64)
    n = samples.shape[0]
    var = np.diag(cov)
    mean_se = np.sqrt(var / n)
    np.testing.assert_array_less(np.abs(samples.mean(0) - mean), num_se * mean_se)
    cov_se = np.sqrt((np.outer(var, var) + cov**2) / n)
    np.testing.assert_array_less(np.abs(np.cov(samples.T).reshape(cov.shape) - cov), num_se * cov_se)


NUM_CHAINS = 20_000


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_ula_stationary_law(name):
    mean, cov = TARGETS[name]
    h = 0.5 * float(np.min(np.linalg.eigvalsh(cov)))  # h lambda_max(P) = 0.5: a large, visible bias
    exact_mean, exact_cov = ula_stationary(mean, cov, h)
    # the discretised law is measurably not the target: variance bias > 10 standard errors
    assert visible_bias(exact_cov, cov) > 10
    states = run_chains(ula, gaussian_logdensity(mean, cov), mean, NUM_CHAINS, 300, seed=1, step_size=h)
    assert_matches_gaussian(states.position, exact_mean, exact_cov)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_uld_stationary_law(name):
    mean, cov = TARGETS[name]
    h, damping = 1.0 * np.sqrt(float(np.min(np.linalg.eigvalsh(cov)))), 1.0  # h omega_max = 1: visible O(h^2) bias
    exact_mean, exact_cov = uld_stationary(mean, cov, h, damping)
    dim = len(mean)
    x_cov, p_cov = exact_cov[:dim, :dim], exact_cov[dim:, dim:]
    assert visible_bias(x_cov, cov) > 10
    states = run_chains(uld, gaussian_logdensity(mean, cov), mean, NUM_CHAINS, 400, seed=2, step_size=h,
                        damping=damping)
    joint = np.concatenate([np.asarray(states.position), np.asarray(states.momentum)], axis=1)
    assert_matches_gaussian(joint, np.concatenate([exact_mean, np.zeros(dim)]), exact_cov)
    assert x_cov.shape == p_cov.shape


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_bias_shrinks_with_step_size(name):
    """Exact stationary covariance error: ULA O(h) (halving h halves it), ULD O(h^2) (halving h quarters it)."""
    mean, cov = TARGETS[name]
    dim = len(mean)
    lam = float(np.min(np.linalg.eigvalsh(cov)))
    halvings = 0.5 ** np.arange(5)
    ula_errors = [np.linalg.norm(ula_stationary(mean, cov, 0.5 * lam * k)[1] - cov) for k in halvings]
    uld_errors = [np.linalg.norm(uld_stationary(mean, cov, np.sqrt(lam) * k, 1.0)[1][:dim, :dim] - cov)
                  for k in halvings]
    assert np.all(np.diff(ula_errors) < 0) and np.all(np.diff(uld_errors) < 0)
    # orders read off the smaller steps (at the largest h the error is not yet in its asymptotic regime)
    np.testing.assert_allclose((np.array(ula_errors[:-1]) / ula_errors[1:])[1:], 2.0, rtol=0.1)
    np.testing.assert_allclose((np.array(uld_errors[:-1]) / uld_errors[1:])[1:], 4.0, rtol=0.1)


def test_empirical_bias_shrinks():
    """The measured variance bias of ULA and ULD on N(1, 4) falls when h falls (and is small at the small h)."""
    mean, cov = TARGETS["1d"]
    logdensity = gaussian_logdensity(mean, cov)
    biases = {}
    for label, module, params, steps in [("ula", ula, {}, 300), ("uld", uld, {"damping": 1.0}, 400)]:
        for scale in (1.0, 0.25):
            h = 2.0 * scale  # N(1, 4): h P = 0.5 (ULA), h omega = 1 (ULD) at scale 1
            states = run_chains(module, logdensity, mean, NUM_CHAINS, int(steps / scale), seed=3, step_size=h,
                                **params)
            biases[label, scale] = float(np.var(np.asarray(states.position, np.float64)) - cov[0, 0])
    se = np.sqrt(2 * cov[0, 0] ** 2 / NUM_CHAINS)
    for label in ("ula", "uld"):
        assert biases[label, 1.0] > 10 * se  # big step: bias far beyond noise
        assert biases[label, 0.25] < biases[label, 1.0] - 5 * se  # smaller step: clearly less bias


def test_nonfinite_proposal_is_not_taken():
    """A proposal with a non-finite gradient leaves the state unchanged and is flagged."""
    logdensity = lambda x: jnp.where(x[0] > 0.5, jnp.nan, -0.5 * jnp.sum(x**2))  # noqa: E731
    for module, params in [(ula, {"step_size": 1.0}), (uld, {"step_size": 1.0})]:
        state = module.init(jnp.array([0.0, 0.0]), logdensity)
        kernel = jax.jit(lambda key, state: module.build_kernel()(key, state, logdensity, **params))  # noqa: B023
        flagged = 0
        for i in range(20):
            new_state, info = kernel(jax.random.key(i), state)
            if bool(info.is_nonfinite):
                flagged += 1
                assert not bool(info.is_accepted) and float(info.acceptance_rate) == 0.0
                np.testing.assert_array_equal(new_state.position, state.position)
            else:
                assert bool(info.is_accepted) and float(info.acceptance_rate) == 1.0
            state = new_state
            assert np.all(np.isfinite(state.position))
        assert flagged > 0


def test_ula_matches_its_recursion_with_the_key_as_noise():
    """ULA uses the key whole: x' = x + h g + sqrt(2h) normal(key) exactly."""
    logdensity = gaussian_logdensity(*TARGETS["2d"])
    state = ula.init(jnp.array([0.3, -0.2]), logdensity)
    key = jax.random.key(7)
    new_state, _ = ula.build_kernel()(key, state, logdensity, step_size=0.1)
    expected = state.position + 0.1 * state.logdensity_grad + jnp.sqrt(0.2) * jax.random.normal(key, (2,))
    np.testing.assert_allclose(new_state.position, expected, rtol=1e-6)


def test_uld_init_with_key_draws_momentum():
    state = uld.init(jnp.zeros(3), gaussian_logdensity(np.zeros(3), np.eye(3)), rng_key=jax.random.key(0))
    assert float(jnp.linalg.norm(state.momentum)) > 0
    assert float(jnp.linalg.norm(uld.init(jnp.zeros(3), lambda x: -jnp.sum(x**2)).momentum)) == 0


def test_records_say_unadjusted_kernels_have_nothing_to_tune():
    """ULA and ULD are registered continuous kernels; neither has an acceptance rate a warm-up could target."""
    assert ula in samplers.KERNELS and uld in samplers.KERNELS
    assert ula.spec.tuning is None and uld.spec.tuning is None
    assert uld.spec.momentum == "momentum" and ula.spec.momentum is None
    assert "BIASED" in ula.__doc__ and "BIASED" in uld.__doc__


@pytest.mark.parametrize("module, params", [(ula, {"step_size": 0.1}), (uld, {"step_size": 0.2, "damping": 1.0})])
def test_srmc_wrap_at_alpha_zero_is_the_base_chain(module, params):
    """srmc.wrap(ula | uld, tilt="score", alpha=0) reproduces the base chain bit for bit (the wrapper's contract)."""
    from srmc import targets

    target = targets.get("correlated_gaussian", dim=3, rho=0.5)
    base, wrapped = srmc.base(module, **params), srmc.wrap(module, tilt="score", alpha=0.0, **params)
    x0 = jnp.array([0.3, -0.2, 0.1])
    def run(algorithm):
        def one(state, key):
            return algorithm.step(key, state, target)[0], None

        return jax.jit(lambda x: jax.lax.scan(one, algorithm.init(x, target), jax.random.split(jax.random.key(0),
                                                                                            20))[0])(x0)

    state_base, state_wrapped = run(base), run(wrapped)
    np.testing.assert_array_equal(base.position(state_base), wrapped.position(state_wrapped))


def test_an_srmc_ula_step_follows_the_tilted_drift():
    """One SRMC-ULA step is x' = x + h (s(x) - alpha H theta) + sqrt(2h) xi (gradient="exact": the exact
    Hessian-vector product), with the key used whole for the noise: for ULA the tilted gradient IS the dynamics."""
    from srmc import targets

    target = targets.get("correlated_gaussian", dim=3, rho=0.5)
    precision = np.linalg.inv(target.gaussian.cov)
    algorithm = srmc.wrap(ula, alpha=0.7, tilt="score", gradient="exact", gamma=0.5, step_size=0.1)
    state = algorithm.init(jnp.array([0.3, -0.2, 0.1]), target)
    state, _ = algorithm.step(jax.random.key(1), state, target)  # theta_1 = 0.5 s(X_1)
    x, theta = np.asarray(algorithm.position(state), np.float64), np.asarray(state.theta, np.float64)
    key = jax.random.key(2)
    new_state, _ = algorithm.step(key, state, target)
    score = -precision @ x
    drift = score - 0.7 * (-precision @ theta)
    expected = x + 0.1 * drift + np.sqrt(0.2) * np.asarray(jax.random.normal(key, (3,)), np.float64)
    np.testing.assert_allclose(np.asarray(algorithm.position(new_state)), expected, rtol=1e-5, atol=1e-6)
