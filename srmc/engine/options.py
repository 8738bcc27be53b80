"""`srmc.sample`'s options, grouped: how a run is cut and what it keeps (`RunOptions`), and where it checkpoints
(`Checkpointing`), each checked before anything is compiled, with errors that name the option and the fix."""

from __future__ import annotations

import os
from typing import Any, NamedTuple, Sequence

import jax

from srmc.engine import batch_means
from srmc.engine.validation import check_int, check_num_batches


class RunOptions(NamedTuple):
    """How a run is cut and what it keeps (``srmc.sample(..., options=srmc.RunOptions(thin=10))``).

    Attributes:
      burn_in: steps run after the warm-up and left out of the estimates.
      thin: store every `thin`-th position (after burn-in) in ``result.draws``; None stores none.
      chunk_size: steps per compiled scan (default: about 20 progress updates); a multiple of `thin`.
      progress: show a tqdm bar between chunks; None: only when stderr is a terminal or in a notebook.
      snapshot_steps: counted steps (in 1..num_steps) at which every chain's running means are copied into
        ``result.snapshots`` (e.g. a geometric grid for MSE-vs-steps curves).
      num_batches: slots of the online batch means per chain and function (even; 0: none), from which
        ``result.batch_means_mcse`` gives an MCSE from a single chain.
      devices: None (the default device); an int n (the first n of ``jax.devices()``); ``"all"`` (every device
        of every process, after ``jax.distributed.initialize()``); or a sequence of ``jax.Device``. The chains are
        split evenly over them (`srmc.engine.distributed`).
    """

    burn_in: int = 0
    thin: int | None = None
    chunk_size: int | None = None
    progress: bool | None = None
    snapshot_steps: Sequence[int] | None = None
    num_batches: int = batch_means.DEFAULT_NUM_BATCHES
    devices: int | str | Sequence[jax.Device] | None = None


class Checkpointing(NamedTuple):
    """Where and how often a run writes its whole state (`srmc.checkpoint`), and whether it continues one.

    Attributes:
      path: the file written between chunks (atomically) and at the end.
      every: steps between checkpoints (default: after every chunk; the chunk size is capped at it).
      resume: False: a fresh run (an existing `path` is refused unless `overwrite`); True: continue the run
        stored at `path`, bit for bit; a path: continue the run stored there, writing to `path`.
      overwrite: let a fresh run replace an existing `path`.
    """

    path: str | os.PathLike
    every: int | None = None
    resume: bool | str | os.PathLike = False
    overwrite: bool = False


class CheckedCheckpointing(NamedTuple):
    """`Checkpointing` checked: the file written, steps between writes, the file resumed from (or None)."""

    path: str
    every: int | None
    resume: str | None


def check_options(options: Any) -> RunOptions:
    """`options` (None: the defaults) checked as a `RunOptions`."""
    if options is None:
        return RunOptions()
    if not isinstance(options, RunOptions):
        raise TypeError(f"options must be a srmc.RunOptions(...), got {type(options).__name__}.")
    if options.progress is not None and not isinstance(options.progress, bool):
        raise TypeError(f"options.progress must be True, False or None, got {options.progress!r}.")
    return options._replace(
        burn_in=check_int(options.burn_in, "options.burn_in", minimum=0),
        thin=None if options.thin is None else check_int(options.thin, "options.thin", minimum=1),
        num_batches=check_num_batches(options.num_batches),
    )


def check_checkpointing(checkpoint: Any) -> CheckedCheckpointing | None:
    """`checkpoint` (a path, a `Checkpointing` or None) checked before anything runs.

    A fresh run refuses an existing checkpoint file unless ``overwrite=True``; a resumed one needs its file.
    """
    if checkpoint is None:
        return None
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = Checkpointing(checkpoint)
    if not isinstance(checkpoint, Checkpointing):
        raise TypeError(f"checkpoint must be a file path or a srmc.Checkpointing(path, ...), got "
                        f"{type(checkpoint).__name__}.")
    if not isinstance(checkpoint.overwrite, bool):
        raise TypeError(f"checkpoint.overwrite must be True or False, got {checkpoint.overwrite!r}.")
    path = _check_path(checkpoint.path, "checkpoint.path")
    resume = _resume_path(checkpoint.resume, path)
    every = None if checkpoint.every is None else check_int(checkpoint.every, "checkpoint.every", minimum=1)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint {path!r}: the directory {directory!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"checkpoint {path!r} is a directory; pass a file path, e.g. run.npz.")
    resuming_it = resume is not None and os.path.abspath(resume) == os.path.abspath(path)
    if os.path.exists(path) and not resuming_it and not checkpoint.overwrite:
        raise FileExistsError(
            f"checkpoint {path!r} already exists and would be overwritten by a fresh run; pass "
            f"srmc.Checkpointing({path!r}, resume=True) to continue it, overwrite=True to replace it, or another path."
        )
    return CheckedCheckpointing(path, every, resume)


def _resume_path(resume: Any, path: str) -> str | None:
    """The file a run continues from: None (fresh), `path` (True) or the path given; it must exist."""
    if resume is False:
        return None
    resumed = path if resume is True else _check_path(resume, "checkpoint.resume")
    if not os.path.isfile(resumed):
        raise FileNotFoundError(f"checkpoint.resume={resumed!r}: no such checkpoint file; pass resume=False to "
                                "start a run that writes one.")
    return resumed


def _check_path(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {path!r}.")
    return os.fspath(path)


def chunk_size_for(chunk_size: int | None, total_steps: int, thin: int | None, checkpoint_every: int | None) -> int:
    """Steps per compiled chunk: as given (rounded up to a multiple of `thin`), else about 20 progress updates,
    capped at `checkpoint_every`."""
    if chunk_size is None:
        chunk_size = max(1, min(total_steps, max(100, total_steps // 20)))
        if checkpoint_every is not None:
            chunk_size = min(chunk_size, checkpoint_every)
    chunk_size = check_int(chunk_size, "options.chunk_size", minimum=1)
    if thin is not None and chunk_size % thin:
        chunk_size += thin - chunk_size % thin
    return chunk_size


def check_snapshot_steps(steps: Sequence[int] | None, num_steps: int) -> tuple[int, ...]:
    """Sorted, distinct snapshot steps, each an int in [1, num_steps]."""
    if steps is None:
        return ()
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise TypeError(f"options.snapshot_steps must be a sequence of step counts, got {type(steps).__name__}.")
    checked = sorted({check_int(step, "options.snapshot_steps", minimum=1) for step in steps})
    if checked and checked[-1] > num_steps:
        raise ValueError(f"options.snapshot_steps must lie in 1..num_steps={num_steps}, got {checked[-1]}.")
    return tuple(checked)
