"""Suite-wide settings and fixtures."""

import gc
import os
import tempfile

# The suite compiles thousands of small programs and compilation dominates its time: build them with LLVM's
# optimisation off (about a third less compile time; the same XLA programs, and every comparison a test makes is
# between runs compiled alike). SRMC_TEST_XLA_OPT=1 keeps XLA's default optimisation.
if os.environ.get("SRMC_TEST_XLA_OPT") != "1":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

# Many tests compile the same program (the same kernel, target and shapes behind fresh closures): XLA's persistent
# compilation cache, keyed by the program and the compiler's versions, lets the second one load it (about 40% of
# the suite's time on 2 cores). Set through the environment, so the suite's subprocesses (CLI, README, notebooks)
# share it. A run starts from whatever an earlier run left in the folder; SRMC_TEST_XLA_CACHE names another
# folder, or "off".
CACHE = os.environ.get("SRMC_TEST_XLA_CACHE", os.path.join(tempfile.gettempdir(), f"srmc-tests-xla-{os.getuid()}"))
if CACHE != "off":
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402  (after the environment: jax reads it when it starts)
import pytest  # noqa: E402


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
