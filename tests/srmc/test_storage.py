"""SampleResult.save / srmc.load_result: every dataclass field round-trips, named sites survive, bad files fail."""

import dataclasses
from typing import NamedTuple

import jax
import numpy as np
import pytest

import srmc
from srmc import samplers, targets
from srmc.engine import storage


class Record(NamedTuple):
    """A stand-in for a health-report record (code, message, numbers)."""

    code: str
    message: str
    numbers: dict


def small_model(y):
    """A NumPyro model with a scalar, a positive and a vector site."""
    import numpyro
    import numpyro.distributions as dist

    loc = numpyro.sample("loc", dist.Normal(0.0, 1.0))
    scale = numpyro.sample("scale", dist.HalfNormal(1.0))
    offsets = numpyro.sample("offsets", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    numpyro.sample("obs", dist.Normal(loc + offsets, scale), obs=y)


@pytest.fixture(scope="module")
def model_result():
    target = targets.from_numpyro(small_model, np.array([0.5, -0.3]), name="small_model")
    algorithm = srmc.wrap(samplers.mala, tilt="score", alpha=srmc.schedules.linear_warmup(1.0, 50), step_size=0.3)
    return target, srmc.sample(jax.random.key(7), algorithm, target, 120, 4, initial_position=np.zeros((4, 4)), options=srmc.RunOptions(burn_in=20, thin=10, snapshot_steps=[10, 120], num_batches=4), warmup=0)


def assert_same(loaded, original, where="result"):
    """Recursive equality: arrays by value, dtype and shape; records by type and fields; keys by their data."""
    if isinstance(original, jax.Array) and jax.dtypes.issubdtype(original.dtype, jax.dtypes.prng_key):
        assert jax.random.key_impl(loaded) == jax.random.key_impl(original), where
        np.testing.assert_array_equal(jax.random.key_data(loaded), jax.random.key_data(original), err_msg=where)
    elif isinstance(original, (np.ndarray, np.generic, jax.Array)):
        original = np.asarray(original)
        assert np.asarray(loaded).dtype == original.dtype and np.shape(loaded) == original.shape, where
        np.testing.assert_array_equal(loaded, original, err_msg=where)
    elif isinstance(original, tuple) and hasattr(original, "_fields"):
        assert type(loaded) is type(original), where
        for name in original._fields:
            assert_same(getattr(loaded, name), getattr(original, name), f"{where}.{name}")
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original), where
        for i, (a, b) in enumerate(zip(loaded, original)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(original, dict):
        assert list(loaded) == list(original), where
        for key in original:
            assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, float) and np.isnan(original):
        assert np.isnan(loaded), where
    else:
        assert loaded == original and type(loaded) is type(original), where


def test_every_field_round_trips(model_result, tmp_path):
    _, result = model_result
    # a list of srmc records with nested dicts, lists, arrays and None, as a health report's would be
    records = [srmc.checkpoint.Checkpoint({"code": "W1", "numbers": {"z": 4.5}}, [np.arange(3.0)], None)]
    result = dataclasses.replace(result, run_info={**result.run_info, "records": records})
    loaded = srmc.load_result(result.save(tmp_path / "run.npz"))
    for field in dataclasses.fields(srmc.SampleResult):  # fields added to SampleResult later are checked too
        original = getattr(result, field.name)
        if field.name == "site_unravel":  # a function: stored as the sites of the stored draws
            assert_same(loaded.site_unravel(loaded.draws), original(result.draws), "site_unravel")
        else:
            assert_same(getattr(loaded, field.name), original, field.name)
    assert loaded.summary() == result.summary()


def test_run_metadata_holds_versions_key_and_configuration(model_result, tmp_path):
    _, result = model_result
    info = srmc.load_result(result.save(tmp_path / "run")).run_info  # ".npz" is added
    assert {"python", "srmc", "jax", "numpy", "numpyro"} <= set(info["versions"])
    key = jax.random.wrap_key_data(np.asarray(info["rng_key"]["data"], np.uint32), impl=info["rng_key"]["impl"])
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(7)))
    config = info["configuration"]
    assert config["kernel"] == "mala" and config["target"]["name"] == "small_model"
    assert config["algorithm_params"]["step_size"] == 0.3
    assert config["algorithm_params"]["alpha"]["values"][:2] == pytest.approx([0.0, 0.02])  # the schedule, sampled
    assert config["lengths"]["num_steps"] == 120 and config["lengths"]["burn_in"] == 20
    assert config["lengths"]["thin"] == 10 and config["lengths"]["num_chains"] == 4
    assert list(config["functions"]) == ["x", "x^2"] and config["snapshot_steps"] == [10, 120]


def test_loaded_result_keeps_named_sites_for_arviz(model_result, tmp_path):
    pytest.importorskip("arviz")
    target, result = model_result
    loaded = srmc.load_result(result.save(tmp_path / "run.npz"))
    data = loaded.to_arviz()
    assert set(data.posterior.data_vars) == {"loc", "scale", "offsets"}
    assert data.posterior["offsets"].shape == (4, 12, 2)
    np.testing.assert_allclose(data.posterior["scale"].values,
                               np.asarray(targets.constrain(target, result.draws)["scale"]))
    with pytest.raises(ValueError, match="targets.constrain"):
        loaded.site_unravel(result.draws[:, :2])
    resaved = srmc.load_result(loaded.save(tmp_path / "again.npz"))
    assert_same(resaved.site_unravel(resaved.draws), loaded.site_unravel(loaded.draws))


def test_a_result_without_draws_or_sites_round_trips(tmp_path):
    result = srmc.sample(jax.random.key(0), srmc.base(samplers.mala, step_size=0.3), targets.get("banana"), 50, 2, warmup=0)
    loaded = srmc.load_result(result.save(tmp_path / "base.npz"))
    assert loaded.draws is None and loaded.site_unravel is None and loaded.snapshot_steps is None
    np.testing.assert_array_equal(loaded.mean, result.mean)
    assert loaded.summary() == result.summary()


def test_unsaveable_values_and_bad_files_are_refused(model_result, tmp_path):
    _, result = model_result
    path = result.save(tmp_path / "run.npz")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        result.save(path)
    result.save(path, overwrite=True)
    with pytest.raises(TypeError, match=r"run_info\['bad'\]"):
        dataclasses.replace(result, run_info={"bad": object()}).save(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable srmc result file"):
        srmc.load_result(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a readable srmc result file"):
        srmc.load_result(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        srmc.load_result(tmp_path / "missing.npz")


def test_classes_outside_trusted_packages_load_as_dicts():
    arrays = {}
    encoded = storage._encode(Record("W1", "msg", {"z": 1.0}), arrays, "record")
    assert encoded["class"].endswith(":Record")
    assert storage._decode(encoded, arrays) == {"code": "W1", "message": "msg", "numbers": {"z": 1.0}}
