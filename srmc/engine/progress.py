"""The progress bar between chunks: tqdm's text bar, or its widget in a notebook; none without tqdm."""

from __future__ import annotations

import sys
from typing import Any

from srmc.engine import distributed


def progress_bar(progress: bool | None, total: int, description: str, initial: int = 0) -> Any:
    """A bar counting `total` steps from `initial` (process 0's only), or None: `progress` False, or None outside a
    terminal or notebook, or tqdm missing."""
    if progress is None:
        progress = sys.stderr.isatty() or in_notebook()
    if not progress or not distributed.is_writer():  # one bar per run: process 0's
        return None
    bar = progress_bar_class()
    return None if bar is None else bar(total=total, initial=initial, desc=description, unit="step")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that talks to a front end over ZMQ)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar_class() -> Any:
    """tqdm's widget bar in a notebook with ipywidgets, its text bar elsewhere (a notebook without ipywidgets
    shows the text bar instead of tqdm.auto's "IProgress not found" warning); None without tqdm (optional)."""
    try:
        from tqdm import std
    except ImportError:
        return None
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm's notebook bar needs it)
        except ImportError:
            return std.tqdm
    from tqdm import auto  # in a notebook without ipywidgets, importing it would warn "IProgress not found"

    return auto.tqdm
