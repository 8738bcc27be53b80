"""Checks that run before compilation and name the offending argument."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from srmc.engine.distributed import check_initialized, check_processes
from srmc.targets import Histogram, Target, from_logdensity
from srmc.targets.space import check_int as _check_int


def check_int(value: Any, name: str, *, minimum: int) -> int:
    """`value` as an int >= minimum: a TypeError naming `name` for a non-integer, a ValueError below `minimum`."""
    return _check_int(value, name, minimum=minimum, non_integer=TypeError)


def resolve_target(target: Target | Callable, initial_position: Any) -> Target:
    """A `Target`, or a bare log density turned into one (its dimension read off `initial_position`)."""
    if isinstance(target, Target):
        return target
    if callable(target):
        if initial_position is None:
            raise ValueError("initial_position is required when target is a bare log density function.")
        dim = int(np.shape(initial_position)[-1])
        return from_logdensity(target, dim)
    raise TypeError(f"target must be a targets.Target or a log density function, got {type(target).__name__}.")


def check_initial_positions(target: Target, initial_position: Any, num_chains: int, rng_key: jax.Array) -> jax.Array:
    """Initial positions of shape (num_chains, dim), checked for shape, finiteness, log density and score."""
    if initial_position is None:
        positions = jnp.asarray(target.initial_position(rng_key, num_chains))
    else:
        try:
            positions = jnp.asarray(initial_position)
        except (TypeError, ValueError) as error:
            raise TypeError(f"initial_position must be an array of numbers of shape ({num_chains}, {target.dim}) or "
                            f"({target.dim},), got {type(initial_position).__name__}: {error}") from error
        if jnp.issubdtype(positions.dtype, jnp.complexfloating):
            raise TypeError(f"initial_position must be real, got dtype {positions.dtype}.")
        if positions.ndim == 1:
            positions = jnp.broadcast_to(positions, (num_chains, positions.shape[0]))
    if positions.ndim != 2 or positions.shape != (num_chains, target.dim):
        raise ValueError(
            f"initial_position must have shape ({num_chains}, {target.dim}) or ({target.dim},) "
            f"for {num_chains} chains of {target.name}, got {tuple(np.shape(initial_position))}."
        )
    positions = target.space.check_positions(positions)
    try:
        logdensities = jax.vmap(target.logdensity)(positions)
    except Exception as error:
        raise TypeError(f"target.logdensity failed on positions of shape ({target.dim},) and dtype {positions.dtype}: "
                        f"{type(error).__name__}: {error}") from error
    if jnp.issubdtype(positions.dtype, jnp.floating) and jnp.issubdtype(logdensities.dtype, jnp.floating):
        # A log density computed in a wider float (float64 under jax_enable_x64) sets the run's precision: the
        # surrogate's value and its gradient must share one dtype.
        positions = positions.astype(jnp.result_type(positions.dtype, logdensities.dtype))
    logdensities = np.asarray(logdensities)
    if logdensities.shape != (num_chains,):
        raise ValueError(f"target.logdensity must return a scalar per position, got shape {logdensities.shape[1:]}.")
    if not np.all(np.isfinite(logdensities)):
        bad = int(np.argmin(np.isfinite(logdensities)))
        raise ValueError(
            f"target.logdensity is not finite at the initial position of chain {bad} "
            f"(value {logdensities[bad]}); pass an initial_position inside the support."
        )
    if target.score is None:  # a space without a score (a graph's)
        return positions
    score_shape = jax.eval_shape(target.score, positions[0]).shape
    expected = target.space.score_size
    if score_shape != (expected,):  # discrete scores have one entry per site and non-zero category
        raise ValueError(f"target.score must return shape ({expected},), got {score_shape}.")
    return positions


def check_key(rng_key: Any) -> jax.Array:
    """A single typed PRNG key (raw ``uint32[2]`` keys from ``jax.random.PRNGKey`` are wrapped, same bits)."""
    dtype = getattr(rng_key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if np.shape(rng_key) != ():
            raise ValueError(f"rng_key must be a single key, got a key array of shape {np.shape(rng_key)}; "
                             "pass e.g. jax.random.key(0).")
        return rng_key
    if isinstance(rng_key, (jax.Array, np.ndarray)) and rng_key.dtype == np.uint32 and rng_key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(rng_key))
    raise TypeError(f"rng_key must be a JAX PRNG key such as jax.random.key(0), got {type(rng_key).__name__} "
                    f"{_short_repr(rng_key)}.")


def check_num_batches(num_batches: Any) -> int:
    """An even number of batch-means slots >= 2, or 0 to keep no batch means."""
    num_batches = check_int(num_batches, "num_batches", minimum=0)
    if num_batches == 1 or num_batches % 2:
        raise ValueError(f"num_batches must be 0 (no batch means) or an even number >= 2, got {num_batches}.")
    return num_batches


def check_functions(functions: Any, position: jax.Array) -> tuple[tuple[str, Callable | Histogram], ...]:
    """``((name, f), ...)`` after checking that each f maps one position to a real or integer array, and each
    `targets.Histogram` to one integer.

    The output is traced with ``jax.eval_shape`` on one position (nothing is compiled); a failure or an output
    that is not a single numeric array is a TypeError naming ``functions[name]``.
    """
    if not isinstance(functions, Mapping):
        raise TypeError(f"functions must be a mapping {{name: f}} of callables f(x), got {type(functions).__name__}.")
    if not functions:
        raise ValueError("functions must name at least one function, e.g. {'x': lambda x: x}; or pass None for the "
                         "defaults x and x^2.")
    position = jax.ShapeDtypeStruct(position.shape, position.dtype)
    for name, fn in functions.items():
        if not isinstance(name, str):
            raise TypeError(f"functions keys must be strings, got {name!r}.")
        if isinstance(fn, Histogram):
            _check_histogram(name, fn, position)
            continue
        if not callable(fn):
            raise TypeError(f"functions[{name!r}] must be a callable f(x), got {type(fn).__name__}.")
        out = _traced_output(name, fn, position)
        if not (jnp.issubdtype(out.dtype, jnp.floating) or jnp.issubdtype(out.dtype, jnp.integer)
                or out.dtype == jnp.bool_):
            raise TypeError(f"functions[{name!r}] must return real numbers, got dtype {out.dtype}.")
    return tuple(functions.items())


def _traced_output(name: str, fn: Callable, position: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
    """The abstract output of ``functions[name]`` on one position; a TypeError naming it where it fails or is
    not one array."""
    try:
        out = jax.eval_shape(fn, position)
    except Exception as error:
        raise TypeError(f"functions[{name!r}] failed on a position of shape {position.shape} and dtype "
                        f"{position.dtype}: {type(error).__name__}: {error}") from error
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise TypeError(f"functions[{name!r}] must return one array, got {jax.tree.structure(out)}.")
    return out


def _check_histogram(name: str, histogram: Histogram, position: jax.ShapeDtypeStruct) -> None:
    """A `Histogram` whose function gives one integer per position and whose number of bins is >= 1."""
    check_int(histogram.num_bins, f"functions[{name!r}].num_bins", minimum=1)
    if not callable(histogram.fn):
        raise TypeError(f"functions[{name!r}].fn must be a callable f(x), got {type(histogram.fn).__name__}.")
    out = _traced_output(name, histogram.fn, position)
    if out.shape != () or not jnp.issubdtype(out.dtype, jnp.integer):
        raise TypeError(f"functions[{name!r}] is a Histogram: its function must return one integer in "
                        f"0..{histogram.num_bins - 1}, got shape {out.shape} and dtype {out.dtype}.")


def resolve_devices(devices: Any, num_chains: int) -> Mesh | None:
    """A 1-D ``Mesh`` over the chosen devices (axis ``"chains"``), or None for the default device.

    `devices`: None; an int n (the first n of ``jax.devices()``); ``"all"`` (every device of every process, after
    ``jax.distributed.initialize()``); or a sequence of ``jax.Device``. `num_chains` must be a multiple of the
    number of devices; a mesh that spans processes must hold devices of every process.
    """
    if devices is None:
        return None
    available = jax.devices()
    if isinstance(devices, str) and devices == "all":
        check_initialized()
        chosen = available
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        count = check_int(devices, "devices", minimum=1)
        if count > len(available):
            raise ValueError(
                f"devices={count} but only {len(available)} {available[0].platform} device(s) are available; pass "
                f"devices <= {len(available)} (on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count={count} "
                "before importing jax to get more host devices)."
            )
        chosen = available[:count]
    elif isinstance(devices, (str, bytes, Mapping)) or not isinstance(devices, Iterable):
        raise TypeError(f"devices must be None, an int, or a sequence of jax.Device, or 'all' (every device of "
                        f"every process), got {devices!r}.")
    else:
        chosen = list(devices)
        if not chosen:
            raise ValueError("devices must not be empty; pass None for the default device.")
        bad = [device for device in chosen if not isinstance(device, jax.Device)]
        if bad:
            raise TypeError(f"devices must hold jax.Device objects (e.g. jax.devices()[:2]), got {bad[0]!r}.")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"devices must be distinct, got {chosen}.")
    if num_chains % len(chosen):
        multiple = -(-num_chains // len(chosen)) * len(chosen)
        raise ValueError(
            f"num_chains={num_chains} is not divisible by the {len(chosen)} devices in devices={devices!r}: the "
            f"chains are split evenly over devices. Pass num_chains={multiple} or a number of devices that divides "
            f"{num_chains}."
        )
    check_processes(chosen, devices)
    return Mesh(np.asarray(chosen), ("chains",))


def initial_states(algorithm: Any, target: Target, positions: jax.Array, params: Any, params_axis: int | None) -> Any:
    """``algorithm.init_fn`` vmapped over chains (`params` per chain with ``params_axis=0``, shared with None); a
    failure is a TypeError naming the algorithm and the target."""
    try:
        return jax.vmap(algorithm.init_fn, in_axes=(0, None, params_axis))(positions, target, params)
    except Exception as error:
        raise TypeError(
            f"{algorithm!r} cannot start on {target.name} at positions of shape ({target.dim},) and dtype "
            f"{positions.dtype}: {type(error).__name__}: {error}"
        ) from error


CHECKED_STEPS_LIMIT = 256  # (algorithm, target, shapes) whose step `check_step` has passed, remembered
_checked_steps: dict = {}


def abstract_signature(tree: Any) -> tuple:
    """A hashable description of a pytree's structure, shapes and dtypes (what a trace depends on)."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(leaf), str(getattr(leaf, "dtype", type(leaf)))) for leaf in leaves)


def check_step(algorithm: Any, target: Target, state: Any, rng_key: jax.Array, params: Any,
               params_axis: int | None = 0) -> None:
    """Trace one step of one chain (``jax.eval_shape``, nothing compiled) and check what it returns; a check that
    passed is remembered per (algorithm, target, shapes), so repeated runs trace it once.

    `state` has a leading chain axis, and so have `params` with ``params_axis=0`` (the run's, after any warm-up:
    placeholders of the right shapes). A step that cannot run on this target fails here with the algorithm's own
    error (a `ValueError` naming a parameter only a warm-up sets) or a TypeError naming the algorithm's
    parameters; a step that changes the state's structure or shapes is a TypeError too (a change of dtype only
    is allowed: the runner casts the new state back to the initial state's dtypes).
    """
    one_state, one_params = (jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), tree)
                             for tree in (state, params))
    if params_axis is None:
        one_params = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf), leaf.dtype), params)
    one_key = jax.ShapeDtypeStruct(rng_key.shape, rng_key.dtype)
    signature = (algorithm.program, target, abstract_signature(one_state), abstract_signature(one_key),
                 abstract_signature(one_params))
    if signature in _checked_steps:
        return
    _traced_step_check(algorithm, target, one_state, one_key, one_params)
    if len(_checked_steps) >= CHECKED_STEPS_LIMIT:
        _checked_steps.clear()
    _checked_steps[signature] = True


def _traced_step_check(algorithm: Any, target: Target, one_state: Any, one_key: Any, one_params: Any) -> None:
    """`check_step`'s trace and checks for one chain's abstract state, key and parameters, uncached."""
    try:
        new_state, info = jax.eval_shape(lambda key, s, p: algorithm.step_fn(key, s, target, p), one_key, one_state,
                                         one_params)
    except ValueError:
        raise
    except Exception as error:
        raise TypeError(
            f"{algorithm!r} cannot take a step on {target.name}: {type(error).__name__}: {error}. Check the "
            f"algorithm's parameters and that the target's log density accepts a position of shape ({target.dim},)."
        ) from error
    if jax.tree.structure(new_state) != jax.tree.structure(one_state) or any(
        a.shape != b.shape for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(one_state))
    ):
        raise TypeError(f"{algorithm!r}: a step must return a state of the same structure and shapes as init.")
    missing = [name for name in ("acceptance_rate", "is_accepted", "is_nonfinite") if not hasattr(info, name)]
    if missing:
        raise TypeError(f"{algorithm!r}: a step's info must have the fields acceptance_rate, is_accepted and "
                        f"is_nonfinite; it lacks {missing}.")


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
