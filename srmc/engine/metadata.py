"""Run metadata kept in ``SampleResult.run_info``: library versions, the PRNG key and the run's configuration."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import sys
from typing import Any, Mapping

import jax
import numpy as np

from srmc.engine import checkpoint as checkpoints

VERSIONED_PACKAGES = ("srmc", "jax", "jaxlib", "numpy", "numpyro", "optax")
OPTIONAL_PACKAGES = ("blackjax", "arviz")  # versions recorded when the package was imported


def package_versions() -> dict[str, str]:
    """Versions of Python, srmc and its dependencies (and of blackjax/arviz when imported)."""
    return dict(_versions(VERSIONED_PACKAGES + tuple(n for n in OPTIONAL_PACKAGES if n in sys.modules)))


@functools.lru_cache(maxsize=8)
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, version) of Python and of each package in `names` (read once per process: it costs milliseconds)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = getattr(sys.modules.get(name), "__version__", "unknown")
    return tuple(versions.items())


def run_metadata(rng_key: Any, algorithm: Any, target: Any, functions: Mapping[str, Any], lengths: Any,
                 snapshot_steps: tuple = ()) -> dict:
    """The run's metadata kept in ``SampleResult.run_info``: versions, the PRNG key and the configuration.

    ``rng_key``: ``{"impl", "data"}`` (rebuild with ``jax.random.wrap_key_data(np.asarray(data), impl=impl)``),
    None when not given; ``configuration``: the algorithm (repr, kernel, parameters with schedules sampled at a
    few counts), the target (name, parameters, kind, dim), the run's lengths and the estimated functions.
    """
    key = None
    if rng_key is not None:
        key = {"impl": str(jax.random.key_impl(rng_key)), "data": np.asarray(jax.random.key_data(rng_key)).tolist()}
    configuration = {
        "algorithm": repr(algorithm),
        "kernel": None if algorithm.kernel is None else algorithm.kernel.spec.name,
        "algorithm_params": {name: checkpoints.describe_value(value) for name, value in algorithm.shown},
        "params": checkpoints.describe_tree(algorithm.params),
        "target": {"name": target.name, "kind": target.kind, "dim": target.dim,
                   "params": {name: checkpoints.describe_value(v) for name, v in target.params.items()}},
        "lengths": {name: value for name, value in lengths._asdict().items()},
        "functions": {name: checkpoints.describe_callable(f) for name, f in functions.items()},
        "snapshot_steps": [int(step) for step in snapshot_steps],
    }
    return {"versions": package_versions(), "rng_key": key, "configuration": checkpoints.normalise(configuration)}
