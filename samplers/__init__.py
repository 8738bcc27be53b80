"""Base MCMC kernels in the BlackJAX shape (`srmc.samplers`; depends on jax alone).

Each module offers ``init(position, logdensity_fn) -> State`` and
``build_kernel() -> kernel(rng_key, state, logdensity_fn, **params) -> (State, Info)``, and declares what it is in
``spec``, a `KernelSpec` (its state space, parameters with their checks, cache fields; see `srmc.samplers.spec`).
The log density is passed on every call, so a wrapper may change it between steps. Every ``Info`` carries
``acceptance_rate``, ``is_accepted`` and ``is_nonfinite``.

Continuous: rwm, mala, hmc, kinetic_langevin, and two UNADJUSTED (biased) kernels with no Metropolis test,
the SRMC paper's ula (unadjusted Langevin: stationary law off by O(h)) and uld (unadjusted underdamped Langevin:
off by O(h^2)), whose bias shrinks with the step size but never vanishes. Discrete, on {0..K-1}^d (parameter
``num_categories``, which srmc fills in from the target): gibbs, discrete_metropolis, gwg (Gibbs-with-Gradients),
dmala (discrete Langevin with a Metropolis correction). The discrete kernels expose ``transition_probabilities``
for exact invariance checks by enumeration.
"""

from . import discrete_metropolis, dmala, gibbs, gwg, hmc, kinetic_langevin, mala, rwm, spec, ula, uld
from .spec import KernelSpec

# every built-in kernel module
KERNELS = (rwm, mala, hmc, kinetic_langevin, ula, uld, gibbs, discrete_metropolis, gwg, dmala)

__all__ = ["KERNELS", "KernelSpec", "discrete_metropolis", "dmala", "gibbs", "gwg", "hmc", "kinetic_langevin",
           "mala", "rwm", "spec", "ula", "uld"]
