"""The engine follows the implementation of the user's key (``jax.random.key(seed, impl=...)``).

Every key a run splits or folds in (initial positions, chain keys, the warm-up's and the sampling chunks' step
keys, the base kernel's draws) stays in the user's implementation: the compiled warm-up and sampling chunks are
traced and no key of another implementation may appear in them. A run is reproducible for a given key of any
implementation; keys of different implementations give different runs; a raw ``uint32[2]`` key is threefry, the
same bits as ``jax.random.key``.
"""

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import adaptation, runner

IMPLS = {"threefry2x32": "fry", "rbg": "rbg", "unsafe_rbg": "urbg"}  # implementation -> its name in a jaxpr


@pytest.fixture(scope="module")
def target():
    return targets.get("correlated_gaussian", dim=3, rho=0.5)


def _run(target, key, wrapped=True):
    algorithm = (srmc.wrap(samplers.mala, alpha=1.0, step_size=0.1) if wrapped
                 else srmc.base(samplers.hmc, step_size=0.1, num_integration_steps=3))
    return srmc.sample(key, algorithm, target, 40, 3, warmup=20, options=srmc.RunOptions(chunk_size=20))


def _key_types(jaxpr, found: set) -> set:
    """The key types (``key<...>``) of every variable in `jaxpr` and the jaxprs inside it."""
    for equation in jaxpr.eqns:
        for var in (*equation.invars, *equation.outvars):
            aval = getattr(var, "aval", None)
            if aval is not None and jax.dtypes.issubdtype(aval.dtype, jax.dtypes.prng_key):
                found.add(str(aval.dtype))
        for param in equation.params.values():
            for inner in param if isinstance(param, (tuple, list)) else (param,):
                if hasattr(inner, "jaxpr") and hasattr(inner, "consts"):
                    _key_types(inner.jaxpr, found)
                elif hasattr(inner, "eqns"):
                    _key_types(inner, found)
    return found


@pytest.mark.parametrize("impl", ["rbg", "unsafe_rbg"])
@pytest.mark.parametrize("wrapped", [True, False], ids=["srmc_mala", "base_hmc"])
def test_compiled_chunks_use_only_the_users_implementation(target, impl, wrapped, monkeypatch):
    traced = []

    def spy(original):
        def call(*args, **kwargs):
            traced.append(original.trace(*args, **kwargs).jaxpr.jaxpr)
            return original(*args, **kwargs)
        return call

    monkeypatch.setattr(runner, "_run_chunk", spy(runner._run_chunk))
    monkeypatch.setattr(adaptation, "_warmup_chunk", spy(adaptation._warmup_chunk))
    _run(target, jax.random.key(0, impl=impl), wrapped)
    assert len(traced) == 3  # one warm-up chunk, two sampling chunks
    found = set()
    for jaxpr in traced:
        _key_types(jaxpr, found)
    assert found == {f"key<{IMPLS[impl]}>"}


@pytest.mark.parametrize("impl", list(IMPLS))
def test_reproducible_per_key(target, impl):
    first = _run(target, jax.random.key(7, impl=impl))
    second = _run(target, jax.random.key(7, impl=impl))
    np.testing.assert_array_equal(first.chain_estimates["x"], second.chain_estimates["x"])
    np.testing.assert_array_equal(first.chain_estimates["x^2"], second.chain_estimates["x^2"])


def test_implementations_give_different_runs(target):
    estimates = [_run(target, jax.random.key(7, impl=impl)).chain_estimates["x"] for impl in IMPLS]
    for i in range(len(estimates)):
        for j in range(i):
            assert not np.array_equal(estimates[i], estimates[j])


def test_raw_key_is_threefry(target):
    raw = _run(target, jax.random.PRNGKey(7))
    typed = _run(target, jax.random.key(7))
    np.testing.assert_array_equal(raw.chain_estimates["x"], typed.chain_estimates["x"])
