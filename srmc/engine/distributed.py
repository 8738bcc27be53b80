"""Many processes (a SLURM allocation, several GPU hosts): the chain axis sharded over every process's devices.

srmc uses JAX's own multi-controller runtime, nothing of its own. Every process calls
``jax.distributed.initialize()`` (which reads SLURM, Open MPI or explicit coordinator arguments) before any other
JAX call, then runs the same ``srmc.sample(..., devices="all")``: a 1-D mesh over ``jax.devices()``, which lists
the devices of every process. The initial positions and the per-chain keys depend on the key alone, so every
process computes the same global values and places only its own chains on its own devices (`place`); chain i
therefore has the same key, and the run the same results, whatever the layout. At the end (and at every
checkpoint) the run state is gathered (`gather`, a collective), so every process gets the whole `SampleResult`.
Process 0 alone writes checkpoints (`is_writer`), then all processes wait for it (`barrier`); to resume, every
process reads the file, so it must be on a file system they all see.

Every function here that takes arrays on a mesh spanning processes is a collective: every process must call it,
in the same order, with the same arguments.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def spans_processes(mesh: Mesh | None) -> bool:
    """Whether `mesh` holds devices of more than one process (then the run is a multi-process run)."""
    return mesh is not None and len({device.process_index for device in mesh.devices.flat}) > 1


def check_processes(chosen: Sequence[jax.Device], devices: Any) -> None:
    """Raise a ValueError unless `chosen` are this process's own devices or hold devices of every process."""
    holding = {device.process_index for device in chosen}
    if holding == {jax.process_index()} or len(holding) == jax.process_count():
        return
    missing = sorted(set(range(jax.process_count())) - holding)
    raise ValueError(
        f"devices={devices!r} holds devices of process(es) {sorted(holding)} but none of {missing}: a run over "
        "several processes needs devices of every process (each calling srmc.sample alike). Pass devices='all', "
        "or jax.local_devices() for a run of this process alone."
    )


# the variables in which a launcher (SLURM's srun, Open MPI's mpirun) tells each task how many tasks it started
LAUNCHER_TASK_COUNTS = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


def check_initialized(environment: Mapping[str, str] | None = None) -> None:
    """Raise a ValueError for ``devices="all"`` in a task of a multi-task launch whose JAX runs one process: each
    task would run every chain alone (the same run N times) instead of sharing them."""
    environment = os.environ if environment is None else environment
    launched = {name: environment[name] for name in LAUNCHER_TASK_COUNTS if environment.get(name, "").isdigit()}
    several = {name: value for name, value in launched.items() if int(value) > 1}
    if several and jax.process_count() == 1:
        name, value = next(iter(several.items()))
        raise ValueError(
            f"devices='all' in one of {value} launched tasks ({name}={value}), but JAX runs a single process: call "
            "jax.distributed.initialize() first in every task (before any other JAX call; the CLI: --distributed), "
            "or pass devices=None for independent runs."
        )


def place(tree: Any, mesh: Mesh, chain_axis: bool = True) -> Any:
    """Every leaf of `tree` on `mesh`: the leading (chain) axis split over the devices (with `chain_axis`), scalars
    and leaves without a chain axis replicated.

    A leaf already on the mesh is resharded; any other leaf must hold the same global value on every process
    (positions and keys derived from the run's key), of which each process puts only the shards of its own
    devices (``jax.make_array_from_callback``). Typed PRNG keys travel as their key data.
    """
    chains, replicated = NamedSharding(mesh, PartitionSpec("chains")), NamedSharding(mesh, PartitionSpec())

    def one(leaf: Any) -> jax.Array:
        sharding = chains if chain_axis and np.ndim(leaf) else replicated
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return jax.device_put(leaf, sharding)
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(leaf))
            placed = jax.make_array_from_callback(data.shape, sharding, lambda index: data[index])
            return jax.random.wrap_key_data(placed, impl=jax.random.key_impl(leaf))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def gather(tree: Any) -> Any:
    """`tree` with every leaf whole on this process: numpy arrays (typed keys: key arrays on a local device).

    Leaves that span processes are replicated in one compiled identity (a collective: every process must call
    `gather` on the same tree); the others are taken as they are.
    """
    leaves, treedef = jax.tree.flatten(tree)
    spread = [i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable]
    if spread:
        shardings = tuple(NamedSharding(leaves[i].sharding.mesh, PartitionSpec()) for i in spread)
        whole = _replicator(shardings)(*(leaves[i] for i in spread))
        for i, leaf in zip(spread, whole):
            leaves[i] = leaf.addressable_data(0)
    return jax.tree.unflatten(treedef, [_local(leaf) for leaf in leaves])


@functools.lru_cache(maxsize=16)
def _replicator(shardings: tuple[NamedSharding, ...]) -> Callable:
    """The compiled identity that replicates its arguments onto `shardings` (one per layout, so the checkpoints
    of a run reuse it instead of compiling it each time)."""
    return jax.jit(_identity, out_shardings=shardings)


def _identity(*leaves: Any) -> tuple:
    return leaves


def is_writer() -> bool:
    """Whether this process writes files for the run (process 0; every process in a single-process run)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier called `name` (nothing to wait for with one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """``jax.distributed.initialize`` (cluster auto-detection for what is not given); a RuntimeError says how to
    fix a failure (no cluster found, or JAX already started)."""
    if jax.distributed.is_initialized():
        return
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    except (RuntimeError, ValueError) as error:
        raise RuntimeError(
            f"jax.distributed.initialize() failed ({type(error).__name__}: {error}). Run under SLURM (srun) or "
            "Open MPI (mpirun), which it detects, or give the coordinator address (host:port of process 0), the "
            "number of processes and this process's id; and call it before any other JAX computation."
        ) from error


def _local(leaf: Any) -> Any:
    if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
        return leaf
    return np.asarray(leaf)
