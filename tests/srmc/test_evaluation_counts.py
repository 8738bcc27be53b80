"""Evaluations per step of every built-in kernel, bare and under `srmc.wrap`: the counts are the contract.

Each row is (log-density values, gradient passes, Hessian-vector products) per step, counted by
`srmc.evaluations` over two traced steps of one chain. Continuous kernels run on the banana (its score is
autodiff, so (log pi, s) is one gradient pass), discrete ones on a 2 x 2 Ising model (their "gradient" column
counts the mean-zero score). The wrapped rows use alpha = 0 (the base kernel on pi; the history then needs s at
the new point) and alpha = 1 (kernels that declare ``split_density`` get the surrogate as a `Density`: inner
leapfrog steps compute the drift alone, the trajectory's end computes (log pi, s) once for the value, and the
history reads them back off the state; then the cache refresh computes the new surrogate's drift at the accepted
point). HMC runs L = 10 leapfrog steps: shifted SRMC-HMC costs L + 2 = 12 gradients, the SRMC authors' count.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.method.tilt import TILTS as TILT_VALUES
from srmc.tools.evaluations import EvaluationCounts, count_evaluations

BANANA = targets.get("banana")
GAUSSIAN = targets.get("iid_gaussian", dim=3)  # an explicit score: values and scores are counted apart
ISING = targets.get("ising", side=2)

PARAMS = {
    "rwm": {"step_size": 0.5}, "mala": {"step_size": 0.1}, "hmc": {"step_size": 0.1, "num_integration_steps": 10},
    "kinetic_langevin": {"step_size": 0.1, "damping": 0.5, "num_integration_steps": 3}, "ula": {"step_size": 0.1},
    "uld": {"step_size": 0.1, "num_integration_steps": 3},
    "gibbs": {}, "discrete_metropolis": {}, "gwg": {}, "dmala": {"step_size": 0.5},
}
TILTS = ("score exact", "score shifted", "score finite_difference", "linear", "bounded", "second_order")

# kernel -> (base, {tilt: (alpha = 0, alpha = 1)}); before issue 16 the alpha = 1 counts of mala were
# exact (0, 2, 2), shifted (0, 4, 0), and of hmc exact (0, 11, 11), shifted and finite_difference (0, 22, 0)
ONE_DRIFT = ((0, 1, 0), {"score exact": ((0, 1, 0), (0, 1, 2)), "score shifted": ((0, 1, 0), (0, 3, 0)),
                         "score finite_difference": ((0, 1, 0), (0, 3, 0)), "linear": ((0, 1, 0), (0, 1, 0)),
                         "bounded": ((0, 1, 0), (0, 1, 0)), "second_order": ((0, 1, 0), (0, 1, 0))})  # mala, ula
THREE_LEAPFROG = ((0, 3, 0), {"score exact": ((0, 3, 0), (0, 3, 4)), "score shifted": ((0, 3, 0), (0, 5, 0)),
                              "score finite_difference": ((0, 3, 0), (0, 7, 0)), "linear": ((0, 3, 0), (0, 3, 0)),
                              "bounded": ((0, 3, 0), (0, 3, 0)),
                              "second_order": ((0, 3, 0), (0, 3, 0))})  # kinetic_langevin, uld with L = 3
CONTINUOUS_COUNTS = {
    "rwm": ((1, 0, 0), {tilt: ((1, 1, 0), (0, 1, 0)) for tilt in TILTS}),
    "mala": ONE_DRIFT,
    "hmc": ((0, 10, 0), {"score exact": ((0, 10, 0), (0, 10, 11)), "score shifted": ((0, 10, 0), (0, 12, 0)),
                         "score finite_difference": ((0, 10, 0), (0, 21, 0)), "linear": ((0, 10, 0), (0, 10, 0)),
                         "bounded": ((0, 10, 0), (0, 10, 0)), "second_order": ((0, 10, 0), (0, 10, 0))}),
    "kinetic_langevin": THREE_LEAPFROG,
    "ula": ONE_DRIFT,
    "uld": THREE_LEAPFROG,
}
# discrete kernels take the exact score tilt and the feature tilts (whose value needs no score: the history
# computes s at the new point once); before issue 16 gibbs cost (3, 3, 0) / (3, 1, 0), discrete_metropolis
# (2, 2, 0) / (2, 1, 0), gwg and dmala (1, 3, 2) / (1, 3, 0) at alpha = 1
DISCRETE_COUNTS = {
    "gibbs": ((2, 0, 0), {"score exact": ((3, 1, 0), (2, 2, 0)), "linear": ((3, 1, 0), (2, 1, 0)),
                          "bounded": ((3, 1, 0), (2, 1, 0))}),
    "discrete_metropolis": ((1, 0, 0), {tilt: ((2, 1, 0), (1, 1, 0)) for tilt in ("score exact", "linear", "bounded")}),
    "gwg": ((0, 1, 0), {"score exact": ((1, 2, 0), (0, 2, 2)), "linear": ((1, 2, 0), (0, 3, 0)),
                        "bounded": ((1, 2, 0), (0, 3, 0))}),
    "dmala": ((0, 1, 0), {"score exact": ((1, 2, 0), (0, 2, 2)), "linear": ((1, 2, 0), (0, 3, 0)),
                          "bounded": ((1, 2, 0), (0, 3, 0))}),
}


def _cases():
    for table, target in ((CONTINUOUS_COUNTS, BANANA), (DISCRETE_COUNTS, ISING)):
        for name, (base, tilts) in table.items():
            yield pytest.param(name, None, 0.0, target, base, id=f"{name}-base")
            for tilt, per_alpha in tilts.items():
                for alpha, expected in zip((0.0, 1.0), per_alpha):
                    yield pytest.param(name, tilt, alpha, target, expected, id=f"{name}-{tilt}-alpha{alpha:g}")


def _algorithm(name: str, tilt: str | None, alpha: float, target: targets.Target) -> srmc.Algorithm:
    module, params = getattr(samplers, name), PARAMS[name]
    if tilt is None:
        return srmc.base(module, **params)
    tilt_name, _, gradient = tilt.partition(" ")
    referenced = TILT_VALUES[tilt_name].needs_reference and target is BANANA
    reference = (jnp.zeros(target.dim), jnp.ones(target.dim)) if referenced else None
    return srmc.wrap(module, alpha=alpha, tilt=tilt_name, gradient=gradient or "exact", tilt_reference=reference,
                     **params)


def counts(algorithm: srmc.Algorithm, target: targets.Target) -> EvaluationCounts:
    """Evaluations per step over two traced steps of one chain from a draw of `target`."""
    return count_evaluations(algorithm, target, target.sample(jax.random.key(0), 1)[0], num_steps=2)


@pytest.mark.parametrize("name, tilt, alpha, target, expected", list(_cases()))
def test_every_kernel_and_tilt_costs_its_counted_evaluations(name, tilt, alpha, target, expected):
    assert counts(_algorithm(name, tilt, alpha, target), target) == EvaluationCounts(*map(float, expected))


OTHER_CASES = [
    ("rwm, explicit score", srmc.base(samplers.rwm, step_size=0.5), GAUSSIAN, (1, 0, 0)),
    # an explicit score: the shifted drift is one score call, the value one log density and one score call
    ("mala shifted, explicit score", srmc.wrap(samplers.mala, tilt="score", alpha=1.0, gradient="shifted",
                                               step_size=0.1), GAUSSIAN, (1, 3, 0)),
    ("gibbs sweep", srmc.base(samplers.gibbs, scan="systematic"), ISING, (8, 0, 0)),
    ("srmc gibbs sweep", srmc.wrap(samplers.gibbs, tilt="score", alpha=1.0, scan="systematic"), ISING, (8, 8, 0)),
]


@pytest.mark.parametrize("name, algorithm, target, expected", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_explicit_scores_and_sweeps(name, algorithm, target, expected):
    assert counts(algorithm, target) == EvaluationCounts(*map(float, expected))


def test_blackjax_kernels_get_a_plain_callable_and_keep_their_cost():
    """A BlackJAX kernel declares no ``split_density``: the surrogate is the custom-derivative callable, every
    leapfrog step computes value and drift, and the history computes (log pi, s) again."""
    blackjax = pytest.importorskip("blackjax")
    algorithm = srmc.wrap(blackjax.hmc, tilt="score", alpha=1.0, gradient="shifted", step_size=0.1,
                          num_integration_steps=10, inverse_mass_matrix=jnp.ones(2))
    assert counts(algorithm, BANANA) == EvaluationCounts(0.0, 22.0, 0.0)


def test_evaluation_counts_need_a_step():
    with pytest.raises(ValueError, match="num_steps"):
        count_evaluations(srmc.base(samplers.rwm, step_size=0.5), GAUSSIAN, np.zeros(3), num_steps=0)


DEFAULT_CASES = [("mala", {"step_size": 0.1}), ("hmc", {"step_size": 0.1, "num_integration_steps": 10})]


@pytest.mark.parametrize("kernel, params", DEFAULT_CASES, ids=[c[0] for c in DEFAULT_CASES])
def test_default_srmc_costs_its_base_kernel(kernel, params):
    """The default (``srmc.wrap(kernel, alpha=1)``: the bounded tilt) evaluates what its base kernel does: on a
    target whose score is the autodiff gradient, exactly the base kernel's count (the surrogate's value and
    gradient at the proposal are one gradient pass, and the history and cache refresh read them back); on a
    target with an explicit score, one log-density value more, because log pi and s are then the target's two
    separate functions where the base kernel differentiates log pi (issue 31: replacing s by autodiff would
    change the draws)."""
    module = getattr(samplers, kernel)
    base, default = srmc.base(module, **params), srmc.wrap(module, alpha=1.0, **params)
    for target in (BANANA, GAUSSIAN):  # the tilt's reference a warm-up would measure, given
        wrapped = default.params._replace(reference=srmc.tilt.TiltReference(jnp.zeros(target.dim),
                                                                            jnp.ones(target.dim)))
        position = jnp.full(target.dim, 0.3)
        base_counts = count_evaluations(base, target, position, num_steps=2)
        default_counts = count_evaluations(default, target, position, num_steps=2, params=wrapped)
        extra_value = 0.0 if target.score_is_autodiff else 1.0
        assert default_counts == base_counts._replace(logdensity=base_counts.logdensity + extra_value), target.name
