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

Graph kernels, on the nodes of a finite connected graph (`srmc.targets.graph`), declared by a `GraphKernelSpec`
(`srmc.samplers.graph_spec`: its exact transition matrix, whether it is reversible, whether it hands over its
transition row): mhrw (Metropolis–Hastings random walk; hands over its row), nbrw (non-backtracking MH in the style
of MHDA; non-reversible, mu-invariant) and mtm (multiple-try Metropolis with locally balanced weights). They are
listed in ``GRAPH_KERNELS``, apart from ``KERNELS`` (whose kernels the SRMC engine and CLI run).
"""

from . import (
    discrete_metropolis,
    dmala,
    gibbs,
    graph_spec,
    gwg,
    hmc,
    kinetic_langevin,
    mala,
    mhrw,
    mtm,
    nbrw,
    rwm,
    spec,
    ula,
    uld,
)
from .graph_spec import ExactChain, GraphKernelSpec
from .spec import KernelSpec

# every built-in kernel module
KERNELS = (rwm, mala, hmc, kinetic_langevin, ula, uld, gibbs, discrete_metropolis, gwg, dmala)
# every built-in graph kernel module (records: GraphKernelSpec)
GRAPH_KERNELS = (mhrw, nbrw, mtm)

__all__ = ["ExactChain", "GRAPH_KERNELS", "GraphKernelSpec", "KERNELS", "KernelSpec", "discrete_metropolis", "dmala",
           "gibbs", "graph_spec", "gwg", "hmc", "kinetic_langevin", "mala", "mhrw", "mtm", "nbrw", "rwm", "spec",
           "ula", "uld"]
