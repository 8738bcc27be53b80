"""Suite-wide settings and fixtures."""

import gc
import os

# The suite compiles thousands of small programs and compilation dominates its time: build them with LLVM's
# optimisation off (about a third less compile time; the same XLA programs, and every comparison a test makes is
# between runs compiled alike). SRMC_TEST_XLA_OPT=1 keeps XLA's default optimisation.
if os.environ.get("SRMC_TEST_XLA_OPT") != "1":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

import jax
import pytest


@pytest.fixture(autouse=True, scope="module")
def release_compiled_programs():
    """Drop every compiled program after each test module.

    XLA:CPU maps a few memory regions per compiled executable; a whole suite in one process compiles thousands
    of programs and would otherwise run into the kernel's limit on memory mappings (vm.max_map_count, 65530),
    where the next compilation crashes with a segmentation fault.
    """
    yield
    jax.clear_caches()
    gc.collect()
