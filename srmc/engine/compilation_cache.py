"""JAX's persistent compilation cache in a user folder, so that a second run of the same program skips most of its
compilation (XLA's compiled executables are read back from disk; tracing still runs).

The folder: the `path` given, else ``$SRMC_CACHE_DIR``, else ``$XDG_CACHE_HOME/srmc/jax`` (``~/.cache/srmc/jax``).
``SRMC_NO_COMPILATION_CACHE=1`` turns it off everywhere (the `srmc` command turns it on by default). It is a
process-wide JAX setting (``jax_compilation_cache_dir``), so nothing turns it on at import: call
`enable_compilation_cache` once, before the first computation.
"""

from __future__ import annotations

import os
import pathlib
import warnings

import jax

OPT_OUT = "SRMC_NO_COMPILATION_CACHE"
FOLDER_VARIABLE = "SRMC_CACHE_DIR"
MIN_COMPILE_SECONDS = 0.0  # every program, the one-operation ones too (see the module doc)


def compilation_cache_dir(path: str | os.PathLike | None = None) -> pathlib.Path | None:
    """The folder `enable_compilation_cache` would use (see the module doc), or None when the opt-out is set."""
    if os.environ.get(OPT_OUT, "").strip().lower() not in ("", "0", "false", "no"):
        return None
    if path is not None:
        return pathlib.Path(path).expanduser()
    if os.environ.get(FOLDER_VARIABLE):
        return pathlib.Path(os.environ[FOLDER_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "srmc" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> pathlib.Path | None:
    """Turn on JAX's persistent compilation cache in `path` (default: see the module doc); returns the folder, or
    None when ``SRMC_NO_COMPILATION_CACHE`` is set or the folder cannot be created (then a RuntimeWarning says so
    and runs compile as usual).

    Every compiled program is written there (`MIN_COMPILE_SECONDS` = 0: the one-operation programs of a run's
    setup too, each about 44 ms to compile on a 2-core CPU and quicker to read back); a later process compiling
    the same program (same JAX version, backend and shapes) loads it instead. Call it before the first
    computation.
    """
    folder = compilation_cache_dir(path)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        warnings.warn(f"srmc: no compilation cache ({folder} cannot be created: {error}); set {FOLDER_VARIABLE} to "
                      f"a writable folder, or {OPT_OUT}=1 to silence this.", RuntimeWarning, stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
