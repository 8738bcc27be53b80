"""The progress bar between chunks: tqdm's text bar, or its widget in a notebook; none without tqdm.

Its rate and ETA count sampling only: the seconds JAX spent compiling (`srmc.engine.timing`) between two updates
are taken out of the bar's clock (`SamplingClockBar`), so the first chunk's compilation does not inflate the ETA.
"""

from __future__ import annotations

import sys
from typing import Any

from srmc.engine import distributed
from srmc.engine.timing import compile_seconds


def progress_bar(progress: bool | None, total: int, description: str, initial: int = 0) -> Any:
    """A bar counting `total` steps from `initial` (process 0's only), or None: `progress` False, or None outside a
    terminal or notebook, or tqdm missing."""
    if progress is None:
        progress = sys.stderr.isatty() or in_notebook()
    if not progress or not distributed.is_writer():  # one bar per run: process 0's
        return None
    bar = progress_bar_class()
    if bar is None:
        return None
    return SamplingClockBar(bar(total=total, initial=initial, desc=description, unit="step", smoothing=0))


class SamplingClockBar:
    """A tqdm bar whose clock leaves compilation out: `update` moves the bar's start time forward by the seconds
    JAX compiled since the previous update, so elapsed time, rate and ETA are those of sampling alone (the rate is
    the average over the run, ``smoothing=0``: an exponential average would keep the compiled chunk's slow rate)."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.compiled = bar, compile_seconds()

    def update(self, steps: int) -> None:
        """Count `steps` finished steps, after taking the compilation since the last update off the clock."""
        compiled = compile_seconds()
        if compiled > self.compiled and hasattr(self.bar, "start_t"):
            self.bar.start_t += compiled - self.compiled
        self.compiled = compiled
        self.bar.update(steps)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bar, name)


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
