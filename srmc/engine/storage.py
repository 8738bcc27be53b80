"""Saving and loading a `SampleResult`: one ``.npz`` file, every dataclass field of the result, no pickle.

    result.save("run.npz")                 # or srmc.engine.storage.save_result(result, "run.npz")
    result = srmc.load_result("run.npz")

The file is a NumPy ``.npz`` archive (read with ``allow_pickle=False``): every array of the result (estimates,
per-chain estimates, draws, per-draw statistics, snapshots, batch means, the final kernel states, ...) is one
entry, and the JSON entry ``__result__`` describes each field of `SampleResult` with references to those
entries. Fields are saved generically, by walking their values: arrays (typed PRNG keys as their key data and
implementation), numbers, strings, None, lists, tuples, dicts with string keys, NamedTuples and dataclasses (by
class name: on loading, classes of ``srmc``, ``blackjax``, ``numpyro`` and ``jax`` are rebuilt, any other one
comes back as a plain dict of its fields). A field added to `SampleResult` later is saved with no change here.

Two fields are special. ``site_unravel`` (a function) cannot be stored: when the result has draws the
constrained sites of the draws are stored instead and the loaded result gets a `StoredSites` in its place, so
``summary()`` and ``to_arviz()`` still show the sites by name. ``run_info`` holds the run's metadata (see
`srmc.engine.metadata.run_metadata`: library versions, the PRNG key, the configuration), written by ``srmc.sample``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
from typing import Any, Mapping

import jax
import numpy as np

from srmc.engine import checkpoint as checkpoints

FORMAT = "srmc-result"
VERSION = 1
METADATA_ENTRY = "__result__"
REBUILT_PACKAGES = ("srmc", "blackjax", "numpyro", "jax")  # classes rebuilt by name on loading


@dataclasses.dataclass(frozen=True, eq=False)
class StoredSites:
    """A loaded result's ``site_unravel``: the constrained sites of its stored draws, as saved.

    Called with those draws (shape ``(chains, draws, dim)``) it returns ``{site: (chains, draws, ...)}``; it
    cannot map other positions (the model is not stored), and says so.
    """

    sites: dict
    draws_shape: tuple

    def __call__(self, draws: Any) -> dict[str, np.ndarray]:
        """The stored sites of the stored draws."""
        if tuple(np.shape(draws)) != tuple(self.draws_shape):
            raise ValueError(f"this result was loaded from a file: its sites are stored for its draws of shape "
                             f"{tuple(self.draws_shape)} only, not for positions of shape {np.shape(draws)}; rebuild "
                             "the target (targets.from_numpyro) and use targets.constrain for other positions.")
        return dict(self.sites)


RESULT_CLASS = "srmc.engine.result:SampleResult"  # the class a file without one holds


def save_result(result: Any, path: str | os.PathLike, *, overwrite: bool = False) -> pathlib.Path:
    """Write `result` (an `srmc.SampleResult`) to `path` (a ``.npz`` file; the suffix is added when missing);
    returns the path written.

    An existing file is refused unless ``overwrite=True``. See the module docstring for what is stored.
    """
    if _class_name(type(result)) != RESULT_CLASS:
        raise TypeError(f"save_result takes an srmc.SampleResult, got {type(result).__name__}.")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}.")
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")  # what np.savez would do silently
    if path.exists() and not overwrite:
        raise FileExistsError(f"path={str(path)!r} already exists; pass overwrite=True to replace it.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path={str(path)!r}: the directory {str(path.parent)!r} does not exist.")
    arrays: dict[str, np.ndarray] = {}
    fields = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if field.name == "site_unravel":
            value = _stored_sites(result)
        fields[field.name] = _encode(value, arrays, field.name)
    arrays[METADATA_ENTRY] = np.asarray(json.dumps({"format": FORMAT, "version": VERSION, "class": RESULT_CLASS,
                                                    "fields": fields}))
    checkpoints._atomic_write(str(path), arrays)
    return path


def load_result(path: str | os.PathLike) -> Any:
    """Read a result written by `save_result` (``SampleResult.save``); a ValueError says what is wrong."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        metadata = json.loads(str(arrays.pop(METADATA_ENTRY)))
    except FileNotFoundError:
        raise
    except Exception as error:  # a zip, npy or JSON error: not one of our files, or a damaged one
        raise ValueError(f"{path!r} is not a readable srmc result file ({type(error).__name__}: {error}).") from error
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not an srmc result file (format {metadata.get('format')!r}); "
                         "checkpoints are resumed with srmc.sample(..., checkpoint=srmc.Checkpointing(path, "
                         "resume=True)), not loaded.")
    if metadata.get("version") != VERSION:
        raise ValueError(f"{path!r} has result format version {metadata.get('version')}; this srmc reads {VERSION}.")
    stored = {name: _decode(value, arrays) for name, value in metadata["fields"].items()}
    result_class = _rebuildable_class(metadata.get("class", RESULT_CLASS))
    known = {field.name for field in dataclasses.fields(result_class)}
    missing = sorted(field.name for field in dataclasses.fields(result_class) if field.name not in stored
                     and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING)
    if missing:
        raise ValueError(f"{path!r} lacks the result fields {', '.join(missing)} (written by another srmc version?).")
    return result_class(**{name: value for name, value in stored.items() if name in known})


def _stored_sites(result: Any) -> StoredSites | None:
    """What replaces ``site_unravel`` in the file: the sites of the stored draws (None without either)."""
    if result.site_unravel is None or result.draws is None:
        return None
    if isinstance(result.site_unravel, StoredSites):
        return result.site_unravel
    sites = {name: np.asarray(value) for name, value in result.site_unravel(result.draws).items()}
    return StoredSites(sites, tuple(result.draws.shape))


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """A JSON description of `value` (``{"kind": ...}`` for anything but None, numbers and strings); its arrays
    go into `arrays` under fresh entry names."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return _encode_array(value, arrays, where)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"kind": "namedtuple", "class": _class_name(type(value)),
                "fields": [[name, _encode(item, arrays, f"{where}.{name}")] for name, item in value._asdict().items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"kind": "dataclass", "class": _class_name(type(value)),
                "fields": [[f.name, _encode(getattr(value, f.name), arrays, f"{where}.{f.name}")]
                           for f in dataclasses.fields(value)]}
    if isinstance(value, (list, tuple)):
        return {"kind": "tuple" if isinstance(value, tuple) else "list",
                "items": [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, Mapping):
        bad = [key for key in value if not isinstance(key, str)]
        if bad:
            raise TypeError(f"cannot save {where}: its key {bad[0]!r} is not a string.")
        return {"kind": "dict",
                "items": [[key, _encode(item, arrays, f"{where}[{key!r}]")] for key, item in value.items()]}
    raise TypeError(f"cannot save {where}: a {type(value).__name__} is not an array, number, string, list, tuple, "
                    "dict, NamedTuple or dataclass.")


def _encode_array(value: Any, arrays: dict[str, np.ndarray], where: str) -> dict:
    entry = f"a{len(arrays):05d}"
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        arrays[entry] = np.asarray(jax.random.key_data(value))
        return {"kind": "key", "entry": entry, "impl": str(jax.random.key_impl(value))}
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"cannot save {where}: an array of Python objects.")
    arrays[entry] = array
    return {"kind": "scalar" if isinstance(value, np.generic) else "array", "entry": entry}


def _decode(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The value `_encode` described."""
    if not isinstance(value, dict):
        return value
    kind = value["kind"]
    if kind == "array":
        return arrays[value["entry"]]
    if kind == "scalar":
        return arrays[value["entry"]][()]
    if kind == "key":
        return jax.random.wrap_key_data(arrays[value["entry"]], impl=value["impl"])
    if kind == "list":
        return [_decode(item, arrays) for item in value["items"]]
    if kind == "tuple":
        return tuple(_decode(item, arrays) for item in value["items"])
    if kind == "dict":
        return {key: _decode(item, arrays) for key, item in value["items"]}
    if kind in ("namedtuple", "dataclass"):
        fields = {name: _decode(item, arrays) for name, item in value["fields"]}
        cls = _rebuildable_class(value["class"])
        return fields if cls is None else _rebuild(cls, fields)
    raise ValueError(f"unknown entry kind {kind!r} in the result file.")


def _rebuild(cls: type, fields: dict) -> Any:
    """An instance of the NamedTuple or dataclass `cls` with `fields` (dataclass fields with init=False set after)."""
    if not dataclasses.is_dataclass(cls):
        return cls(**fields)
    rebuilt = cls(**{f.name: fields[f.name] for f in dataclasses.fields(cls) if f.init and f.name in fields})
    for f in dataclasses.fields(cls):
        if not f.init and f.name in fields:
            object.__setattr__(rebuilt, f.name, fields[f.name])
    return rebuilt


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _rebuildable_class(name: str) -> type | None:
    """The class `module:qualname` when its module belongs to a package trusted to be imported, else None."""
    module_name, _, qualname = name.partition(":")
    if module_name.split(".")[0] not in REBUILT_PACKAGES:
        return None
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    is_record = isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, tuple))
    return obj if is_record else None
