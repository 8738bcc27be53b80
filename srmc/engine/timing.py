"""Compile time, read off `jax.monitoring`: what a run spent tracing, lowering and compiling (not sampling)."""

from __future__ import annotations

from typing import Any

import jax

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]
_registered = [False]


def _record_compile_time(event: str, duration: float, **kwargs: Any) -> None:
    if event in _COMPILE_EVENTS:
        _compile_seconds[0] += duration


def compile_seconds() -> float:
    """Seconds JAX has spent tracing, lowering and compiling since first asked (a process-wide counter)."""
    if not _registered[0]:
        jax.monitoring.register_event_duration_secs_listener(_record_compile_time)
        _registered[0] = True
    return _compile_seconds[0]
