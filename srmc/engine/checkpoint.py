"""Checkpoints of a run: one ``.npz`` file holding every array of the run plus JSON metadata.

What is stored (everything `srmc.sample` needs to continue bit for bit):

- every leaf of the run state (the algorithm's states and parameters, running means, batch-means
  accumulators, snapshots, acceptance and non-finite counts, the step counter, which also says whether the run
  is in burn-in or sampling) and the per-chain keys (as ``jax.random.key_data`` plus the key implementation);
- the stored draws so far and their per-draw statistics;
- metadata (JSON in the entry ``__metadata__``): a format tag, the run's progress, and a *fingerprint* of the
  run configuration (algorithm and parameters, target, run lengths, functions, snapshot steps, key data, a hash
  of the initial positions, and the path, shape and dtype of every state leaf). Resuming compares fingerprints
  and names every field that differs.

Writes are atomic: the file is written to a temporary file in the same directory, flushed and fsynced, then
moved over the old one with ``os.replace`` (and the directory is fsynced), so a crash leaves either the old or
the new checkpoint, never a torn one. A torn or corrupted file (zip CRC, missing entries, bad metadata) is
reported as such by `load`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import zipfile
from typing import Any, Mapping, NamedTuple

import jax
import numpy as np

from srmc.method.algorithm import Unset

FORMAT = "srmc-checkpoint"
VERSION = 1
METADATA_ENTRY = "__metadata__"


class Checkpoint(NamedTuple):
    """A loaded checkpoint: its metadata, the run-state leaves in flatten order, and the draws so far."""

    metadata: dict
    leaves: list[np.ndarray]
    draws: tuple[np.ndarray, dict[str, np.ndarray]] | None


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: corrupt, truncated, of another format, or of another run."""


def describe_callable(fn: Any) -> str:
    """A stable name for a function: ``module.qualname`` (through ``functools.partial``), else its type name."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    qualname = getattr(fn, "__qualname__", None) or type(fn).__name__
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def describe_value(value: Any) -> Any:
    """A JSON-able description of a parameter: numbers and strings as is, arrays as lists, schedules sampled.

    A callable that maps a step count to a number (a schedule) is described by its values at a few counts, so
    two different schedules of the same function type are told apart; any other callable by its name.
    """
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if callable(value):
        counts = (0, 1, 10, 100, 1000, 10**5)
        try:
            return {"callable": describe_callable(value),
                    "values": [float(np.asarray(value(count))) for count in counts]}
        except Exception:  # not a schedule: its name is all we can compare
            return {"callable": describe_callable(value)}
    try:
        return np.asarray(value).tolist()
    except Exception:
        return repr(value)


def describe_tree(tree: Any) -> dict:
    """A JSON-able description of a parameter pytree: ``{path: described value}`` per leaf (`describe_value`),
    ``"set by the warm-up"`` for a parameter still `srmc.method.algorithm.Unset`."""
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda node: isinstance(node, Unset))[0]
    return {jax.tree_util.keystr(path): "set by the warm-up" if isinstance(leaf, Unset) else describe_value(leaf)
            for path, leaf in flat}


def array_digest(array: Any) -> str:
    """A short sha256 of an array's shape, dtype and bytes."""
    array = np.asarray(array)
    digest = hashlib.sha256(f"{array.shape}{array.dtype}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:24]


def leaf_descriptions(tree: Any) -> list[list]:
    """``[path, shape, dtype]`` for every leaf of `tree` (typed keys: their key implementation as dtype)."""
    described = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        described.append([jax.tree_util.keystr(path), list(np.shape(leaf)), _dtype_name(leaf)])
    return described


def normalise(fingerprint: Mapping[str, Any]) -> dict:
    """The fingerprint as it reads back from JSON (tuples become lists), for comparison with a stored one."""
    return json.loads(json.dumps(fingerprint))


def save(path: str, fingerprint: Mapping[str, Any], tree: Any, draws: tuple[np.ndarray, dict] | None,
         progress: Mapping[str, Any]) -> None:
    """Write `tree` (the run state and chain keys), the draws so far and the metadata to `path`, atomically."""
    leaves = jax.tree.leaves(tree)
    arrays = {f"leaf_{i:04d}": _to_numpy(leaf) for i, leaf in enumerate(leaves)}
    draw_names: list[str] = []
    if draws is not None:
        positions, stats = draws
        arrays["draws_positions"] = np.asarray(positions)
        for name, value in stats.items():
            arrays[f"draws_stat_{name}"] = np.asarray(value)
            draw_names.append(name)
    metadata = {
        "format": FORMAT, "version": VERSION, "fingerprint": normalise(fingerprint), "progress": dict(progress),
        "num_leaves": len(leaves), "draw_stats": draw_names if draws is not None else None,
    }
    arrays[METADATA_ENTRY] = np.asarray(json.dumps(metadata))
    _atomic_write(path, arrays)


def load(path: str) -> Checkpoint:
    """Read a checkpoint written by `save`; a `CheckpointError` names the file and what is wrong with it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zipfile.LargeZipFile) as error:
        raise CheckpointError(f"checkpoint {path!r} is corrupt or truncated ({type(error).__name__}: {error}); "
                              "delete it, or pass overwrite=True (without resume=) to start afresh.") from error
    try:
        metadata = json.loads(str(arrays.pop(METADATA_ENTRY)))
        if metadata.get("format") != FORMAT or metadata.get("version") != VERSION:
            raise ValueError(f"format {metadata.get('format')!r} version {metadata.get('version')!r}")
        leaves = [arrays[f"leaf_{i:04d}"] for i in range(metadata["num_leaves"])]
        draws = None
        if metadata["draw_stats"] is not None:
            draws = (arrays["draws_positions"], {name: arrays[f"draws_stat_{name}"] for name in metadata["draw_stats"]})
        metadata["progress"]["step"]  # noqa: B018 (must exist)
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise CheckpointError(f"{path!r} is not a complete srmc checkpoint ({problem}).") from error
    return Checkpoint(metadata, leaves, draws)


def check_fingerprint(path: str, stored: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise a `CheckpointError` naming every field of the run configuration that differs from the stored one."""
    current = normalise(current)
    differences = []
    for name in sorted(set(stored) | set(current)):
        mine, theirs = current.get(name), stored.get(name)
        if mine == theirs:
            continue
        if name == "state" and isinstance(mine, list) and isinstance(theirs, list):
            differences.append(_state_difference(theirs, mine))
        else:
            differences.append(f"{name}: {_short(theirs)} in the checkpoint, {_short(mine)} now")
    if differences:
        raise CheckpointError(
            f"checkpoint {path!r} was written by a different run: " + "; ".join(differences)
            + ". Resume with the arguments of the run that wrote it, or start afresh with overwrite=True."
        )


def restore(template: Any, checkpoint: Checkpoint) -> Any:
    """`template` (the fresh run state and keys) with every leaf replaced by the stored one (uncommitted arrays
    on the default device: the caller places them, e.g. on a mesh)."""
    leaves, treedef = jax.tree.flatten(template)
    if len(leaves) != len(checkpoint.leaves):
        raise CheckpointError(f"the checkpoint holds {len(checkpoint.leaves)} state arrays, this run {len(leaves)}.")
    restored = [_from_numpy(stored, like) for stored, like in zip(checkpoint.leaves, leaves)]
    return jax.tree.unflatten(treedef, restored)


def _state_difference(stored: list, current: list) -> str:
    if len(stored) != len(current):
        return f"state: {len(stored)} arrays in the checkpoint, {len(current)} now"
    for theirs, mine in zip(stored, current):
        if theirs != mine:
            return (f"state array {mine[0]}: shape {theirs[1]} dtype {theirs[2]} in the checkpoint, "
                    f"shape {mine[1]} dtype {mine[2]} now")
    return "state"


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dtype_name(leaf: Any) -> str:
    dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return f"key<{jax.random.key_impl(leaf)}>"
    return str(np.dtype(dtype))


def _to_numpy(leaf: Any) -> np.ndarray:
    if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(leaf))
    return np.asarray(leaf)


def _from_numpy(stored: np.ndarray, like: Any) -> jax.Array:
    """The stored array as a JAX array (typed keys rewrapped with the implementation of `like`)."""
    if jax.dtypes.issubdtype(like.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(stored, impl=jax.random.key_impl(like))
    return jax.numpy.asarray(stored)


def _atomic_write(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write to a temporary file beside `path`, fsync it, ``os.replace`` it over `path`, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # not every platform lets a directory be opened and fsynced
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)
