"""Property-testing helpers for MCMC kernels: point them at your own kernel or at ours.

    from srmc import testing
    assert testing.check_continuous_invariance(samplers.mala, {"step_size": 0.3}, target)
    assert testing.check_discrete_invariance(my_gibbs, {}, logdensity_fn, 6)

A *kernel* is a BlackJAX-shaped module or object (``init(position, logdensity_fn)``, ``build_kernel()``) used
with its parameters, or an `srmc.Algorithm` from `srmc.base`/`srmc.wrap` (then ``params`` is ``{}`` and the log
density argument must be a `targets.Target`). Wherever a log density is asked for, a `Target` works too.
What a check needs to know of a kernel (exact transition probabilities, a persistent momentum, which parameter is
the inverse mass matrix) comes from its record (`srmc.samplers.spec.KernelSpec`).

Statistical checks start from exact draws of pi, take steps, and test the end points against pi at a stated
false-alarm rate (the probability that a correct kernel fails; 1e-3 by default, Bonferroni-corrected over the
statistics one check computes). A kernel that is wrong by less than a test can resolve passes; the defaults
catch a missing or mis-signed Metropolis correction. Every check returns a `CheckResult`, truthy exactly when it
passed, so ``assert testing.check_...(...)`` works.

Compilation dominates small checks. Kernels are built once per module, float and array parameters are traced
arguments, and so are the leaves of a log density given as a `jax.tree_util.Partial`: repeated checks on targets
of one family (the hypothesis strategies build such targets) reuse one compiled function.

Modules: `running` (runs from given starts, `CheckResult`), `continuous`, `discrete`, `identities`, `strategies`.
"""


from srmc.testing.continuous import (
                                     check_continuous_invariance,
                                     check_srmc_frozen_theta,
                                     no_history_step,
                                     tilted_gaussian,
                                     two_sample_test,
)
from srmc.testing.discrete import (
                                     MAX_EXACT_STATES,
                                     check_discrete_invariance,
                                     check_srmc_frozen_theta_discrete,
                                     check_transition_probabilities,
                                     enumerate_states,
                                     exact_probabilities,
                                     exact_transition_matrix,
                                     invariance_error,
                                     pearson_test,
                                     state_index,
                                     transition_counts,
                                     transition_matrix,
)
from srmc.testing.graphs import check_graph_invariance, check_graph_transitions, exact_graph_chain  # noqa: F401
from srmc.testing.identities import check_alpha_zero_identity, check_determinism, check_vmap_and_jit
from srmc.testing.running import CheckResult, final_states, kernel_functions, run_kernel, stationary_momentum
from srmc.testing.strategies import (
                                     gaussian_target,
                                     gaussian_targets,
                                     lattice_model,
                                     lattice_models,
                                     mixture_target,
                                     mixture_targets,
)

__all__ = [
    "CheckResult", "MAX_EXACT_STATES", "check_alpha_zero_identity", "check_continuous_invariance",
    "check_determinism", "check_discrete_invariance", "check_srmc_frozen_theta", "check_srmc_frozen_theta_discrete",
    "check_transition_probabilities", "check_vmap_and_jit", "enumerate_states", "exact_probabilities",
    "exact_transition_matrix", "final_states", "gaussian_target", "gaussian_targets", "invariance_error",
    "kernel_functions", "lattice_model", "lattice_models", "mixture_target", "mixture_targets", "no_history_step",
    "pearson_test", "run_kernel", "state_index", "stationary_momentum", "tilted_gaussian", "transition_counts",
    "transition_matrix", "two_sample_test",
]
