"""Helpers the reproduction commands share: output folder, JSON, standard errors, matplotlib, timing, tables."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import sys
import time
from typing import Any, Iterable, Sequence

import jax
import numpy as np

PAPER = "Hu, Chen, Kim, Choi, Han, Eun, Score-Repellent Monte Carlo, ICML 2026 (arXiv 2604.22948)"
PAPER_CODE = "github.com/srmc-project/Score-Repellent-Monte-Carlo @ 07aed0e"


def output_dir(path: str | pathlib.Path) -> pathlib.Path:
    """`path` as a created directory."""
    directory = pathlib.Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None  # JSON has no NaN / inf: null
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def write_json(path: pathlib.Path, payload: dict) -> pathlib.Path:
    """`payload` as indented JSON (NaN and inf written as null)."""
    path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    return path


def environment() -> dict:
    """What the numbers were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"jax": jax.__version__, "python": platform.python_version(), "device": str(jax.devices()[0]),
            "x64": bool(jax.config.jax_enable_x64), "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average_at_end": load, "argv": sys.argv[1:]}


def mean_and_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and its standard error (std ddof 1 / sqrt(n)) over independent values; se NaN for fewer than two."""
    values = np.asarray(list(values), np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    se = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
    return float(values.mean()), se


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None (with a note on stderr) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        print(f"srmc reproduce: no plots ({error}); pip install \"srmc[plots]\"", file=sys.stderr)
        return None
    return plt


class Stopwatch:
    """``with Stopwatch() as watch: ...; watch.seconds``."""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, '-' for NaN/None."""
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def log(message: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)
