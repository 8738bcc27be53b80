"""srmc: Score-Repellent Monte Carlo in JAX.

    import jax, srmc
    from srmc import samplers, targets
    target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    algorithm = srmc.wrap(samplers.mala, alpha=10.0, step_size=0.05)
    result = srmc.sample(jax.random.key(0), algorithm, target, num_steps=5_000, num_chains=64)
    print(result.summary())

Subpackages: `srmc.samplers` (base kernels), `srmc.targets` (the registry with ground truth), `srmc.method` (the
surrogate, the wrapper, schedules, kernel records), `srmc.engine` (the runner, checkpoints, streaming estimators,
results), `srmc.tools` (benchmarks, evaluation counts, coverage, plots, CLI), `srmc.interop` (BlackJAX) and
`srmc.testing` (property tests for kernels).
"""

from srmc import interop, samplers, targets
from srmc.engine import checkpoint
from srmc.engine.health import HealthWarning
from srmc.engine.result import SampleResult
from srmc.engine.runner import sample
from srmc.engine.storage import load_result
from srmc.engine.warmup import Warmup, WarmupStats
from srmc.method import schedules
from srmc.method.algorithm import Algorithm, base
from srmc.method.kernels import resolve_kernel
from srmc.method.tilt import surrogate_logdensity
from srmc.method.wrapper import SRMCInfo, SRMCState, wrap
from srmc.samplers.spec import KernelSpec
from srmc.tools import benchmark, evaluations

__all__ = [
    "Algorithm", "HealthWarning", "KernelSpec", "SRMCInfo", "SRMCState", "SampleResult", "Warmup", "WarmupStats",
    "base", "benchmark", "checkpoint",
    "evaluations", "interop", "load_result", "resolve_kernel", "sample", "samplers", "schedules",
    "surrogate_logdensity", "targets", "wrap",
]
__version__ = "0.1.0"
