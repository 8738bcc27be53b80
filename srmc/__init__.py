"""srmc: non-Markovian Monte Carlo in JAX, starting with Score-Repellent Monte Carlo (SRMC).

    import jax, srmc
    from srmc import samplers, targets
    target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    algorithm = srmc.wrap(samplers.mala, alpha=10.0)
    result = srmc.sample(jax.random.key(0), algorithm, target, num_steps=5_000, num_chains=64)
    print(result.summary())

Every algorithm is written in BlackJAX's three layers (``init``, ``build_kernel``, a top-level function returning
an `Algorithm` with ``init`` and ``step``) with its hyperparameters as data; `srmc.adapt` warms any of them up and
`srmc.sample` runs them (warm-up, chunks, checkpoints, devices, health report).

Subpackages: `srmc.samplers` (base kernels), `srmc.targets` (the registry with ground truth), `srmc.method` (the
algorithms: SRMC's wrapper, tilts and schedules; the base kernel alone), `srmc.engine` (the generic runner,
warm-up, checkpoints, streaming estimators, results, health), `srmc.tools` (benchmarks, evaluation counts,
coverage, plots, CLI), `srmc.interop` (BlackJAX) and `srmc.testing` (property tests for kernels).
"""

from srmc import interop, samplers, targets
from srmc.engine import checkpoint
from srmc.engine.adaptation import AdaptationResult, adapt
from srmc.engine.compilation_cache import enable_compilation_cache  # noqa: F401  (the API's opt-in)
from srmc.engine.options import Checkpointing, RunOptions
from srmc.engine.result import SampleResult
from srmc.engine.runner import sample
from srmc.engine.storage import load_result
from srmc.engine.warmup import Warmup
from srmc.method import schedules, tilt
from srmc.method.algorithm import Algorithm, HealthWarning, Unset, WarmupStats
from srmc.method.base import base
from srmc.method.hdt import hdt
from srmc.method.kernels import resolve_kernel
from srmc.method.srmc import SRMCInfo, SRMCParams, SRMCState, wrap
from srmc.method.srrw import srrw
from srmc.method.surrogate import surrogate_logdensity
from srmc.method.walk_jump import walk_jump_algorithm
from srmc.samplers.spec import KernelSpec
from srmc.targets import Histogram
from srmc.tools import benchmark, evaluations
from srmc.tools.walk_jump import WalkJumpResult, walk_jump

__all__ = [
    "AdaptationResult", "Algorithm", "Checkpointing", "HealthWarning", "Histogram", "KernelSpec", "RunOptions",
    "SRMCInfo", "SRMCParams", "SRMCState", "SampleResult", "Unset", "Warmup", "WarmupStats", "adapt", "base",
    "benchmark", "checkpoint", "evaluations", "hdt", "interop", "load_result", "resolve_kernel", "sample",
    "samplers", "schedules", "srrw", "surrogate_logdensity", "targets", "tilt", "wrap",
]
__all__ += ["WalkJumpResult", "walk_jump", "walk_jump_algorithm"]
__version__ = "0.1.0"
