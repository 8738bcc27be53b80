"""Suite-wide fixtures."""

import gc

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
