"""Cheaper random numbers inside the runner's loops on CPU: the threefry hash lowered without its inner loop.

On CPU, JAX lowers every threefry2x32 call (each ``fold_in``, ``split``, ``normal``, ``uniform``) as a
``fori_loop`` over its 5 rounds, to keep compile times down. Inside a sampler's step that is a nested while loop
per random draw, and on CPU a while-loop iteration has a fixed cost: for MALA on a 20-dimensional Gaussian these
inner loops were half of the time of a step (benchmarks/numpy_protocol.py). `unrolled_threefry` lowers the hash
with its rounds written out (JAX's own lowering for other platforms): the same arithmetic on uint32, so the same
random bits, with no inner loop. Runs of `srmc.sample` are unchanged by it whatever the chunking; against a loop
of one's own compiled with JAX's default lowering, the floats drawn from those bits (normals, and what follows
from them) may differ in the last bit where XLA fuses the two programs differently (seen for BlackJAX's GHMC).
Set ``UNROLL_THREEFRY = False`` for JAX's default lowering.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from jax.interpreters import mlir

try:  # JAX's own rules: the unrolled one it uses off CPU and the rolled one it uses on CPU
    from jax._src.random.threefry2x32 import (
        _threefry2x32_cpu_lowering_rule as _ROLLED_RULE,
    )
    from jax._src.random.threefry2x32 import (
        _threefry2x32_lowering_rule as _UNROLLED_RULE,
    )
    from jax._src.random.threefry2x32 import threefry2x32_p as _THREEFRY
except ImportError:  # another JAX layout: keep its default lowering
    _THREEFRY = _ROLLED_RULE = _UNROLLED_RULE = None

UNROLL_THREEFRY = True  # False: the runner keeps JAX's default (rolled) threefry lowering on CPU
_depth = [0]  # open `unrolled_threefry` blocks: the last one to close restores JAX's rule


@contextlib.contextmanager
def unrolled_threefry() -> Iterator[None]:
    """Within the block, programs lowered for CPU compute threefry2x32 with its rounds unrolled (same bits)."""
    if _THREEFRY is None or not UNROLL_THREEFRY:
        yield
        return
    if not _depth[0]:
        mlir.register_lowering(_THREEFRY, _UNROLLED_RULE, platform="cpu")
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        if not _depth[0]:
            mlir.register_lowering(_THREEFRY, _ROLLED_RULE, platform="cpu")
