"""srmc: Score-Repellent Monte Carlo in JAX.

    import jax, srmc, samplers, targets
    target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    algorithm = srmc.wrap(samplers.mala, alpha=10.0, step_size=0.05)
    result = srmc.sample(jax.random.key(0), algorithm, target, num_steps=5_000, num_chains=64)
    print(result.summary())
"""

from srmc import schedules
from srmc.algorithm import Algorithm, base, state_position
from srmc.result import SampleResult
from srmc.runner import sample
from srmc.tilt import surrogate_logdensity
from srmc.wrapper import SRMCInfo, SRMCState, wrap

__all__ = [
    "Algorithm", "SRMCInfo", "SRMCState", "SampleResult", "base", "sample", "schedules", "state_position",
    "surrogate_logdensity", "wrap",
]
__version__ = "0.1.0"
