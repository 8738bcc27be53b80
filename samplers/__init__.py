"""Base MCMC kernels in the BlackJAX shape.

Each module offers ``init(position, logdensity_fn) -> State`` and
``build_kernel() -> kernel(rng_key, state, logdensity_fn, **params) -> (State, Info)``.
The log density is passed on every call, so a wrapper may change it between steps.
Every ``Info`` carries ``acceptance_rate``, ``is_accepted`` and ``is_nonfinite``.
"""

from samplers import discrete_metropolis, gibbs, hmc, kinetic_langevin, mala, rwm

__all__ = ["rwm", "mala", "hmc", "kinetic_langevin", "gibbs", "discrete_metropolis"]
