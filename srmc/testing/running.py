"""Running a kernel (or an srmc `Algorithm`) from given start points, compiled once per kernel.

Kernels are built once, float and array parameters are traced arguments, and so are the leaves of a log density
given as a `jax.tree_util.Partial`: repeated checks on targets of one family reuse one compiled function.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from srmc.method.algorithm import Algorithm
from srmc.method.kernels import is_static_value, resolve_kernel
from srmc.samplers.spec import KernelSpec
from srmc.targets import Target

Array = jax.Array
LogDensity = Callable[[Array], Array]


class CheckResult(NamedTuple):
    """A check's statistic, p-value (NaN for exact checks), false-alarm rate, verdict and a short note.

    Truthy exactly when the check passed.
    """

    statistic: float
    p_value: float
    false_alarm_rate: float
    passed: bool
    detail: str = ""

    def __bool__(self) -> bool:
        return bool(self.passed)


def exact_result(statistic: float, passed: bool, detail: str) -> CheckResult:
    """The `CheckResult` of an exact (non-random) check."""
    return CheckResult(float(statistic), float("nan"), 0.0, bool(passed), detail)


class KernelFunctions(NamedTuple):
    """What running a kernel or an `Algorithm` needs, resolved once (hashable: a static argument of the runs).

    ``init(position, logdensity_fn, **init_params)``, ``step(key, state, logdensity_fn, **params)``; `spec` the
    base kernel's record; `kernel_state` / `with_kernel_state` reach the base kernel's state inside the state
    (for drawing a persistent momentum).
    """

    init: Callable
    step: Callable
    spec: KernelSpec
    kernel_state: Callable[[Any], Any]
    with_kernel_state: Callable[[Any, Any], Any]


_BUILT: dict[Any, tuple[Any, KernelFunctions]] = {}  # id(kernel) or (id(algorithm), id(target)) -> functions


def kernel_functions(kernel: Any, target: Any) -> KernelFunctions:
    """The `KernelFunctions` of a BlackJAX-shaped kernel or record, or of an srmc `Algorithm` on `target`."""
    if isinstance(kernel, Algorithm):
        if not isinstance(target, Target):
            raise TypeError(f"an srmc Algorithm ({kernel!r}) steps on a targets.Target, got {type(target).__name__}.")
        cache_key = (id(kernel), id(target))
        if cache_key not in _BUILT:
            def init(position, _logdensity_fn):
                return kernel.init(position, target)

            def step(rng_key, state, _logdensity_fn):
                return kernel.step(rng_key, state, target)

            base = kernel.kernel
            functions = KernelFunctions(init, step, base.spec, base.get_state, base.set_state)
            _BUILT[cache_key] = ((kernel, target), functions)
        return _BUILT[cache_key][1]
    if id(kernel) not in _BUILT:
        spec = resolve_kernel(kernel)
        functions = KernelFunctions(spec.init, spec.build_kernel(), spec, _same, _whole)
        _BUILT[id(kernel)] = (kernel, functions)
    return _BUILT[id(kernel)][1]


def _same(state: Any) -> Any:
    return state


def _whole(state: Any, kernel_state: Any) -> Any:
    return kernel_state


def logdensity_of(target: Target | LogDensity) -> LogDensity:
    """A target's log density, or the log density itself."""
    return target.logdensity if isinstance(target, Target) else target


def as_partial(fn: Callable) -> Partial:
    """A pytree version of `fn`: the leaves of a `Partial` are traced, any other callable is static."""
    return fn if isinstance(fn, Partial) else Partial(fn)


def split_params(params: dict) -> tuple[dict, tuple]:
    """Floats and arrays are traced; ints, strings, None and callables are static (part of the cache key)."""
    dynamic, static = {}, {}
    for name, value in params.items():
        if is_static_value(value):
            static[name] = value
        else:
            dynamic[name] = value if isinstance(value, (float, np.floating, jax.Array)) else jnp.asarray(value)
    return dynamic, tuple(sorted(static.items(), key=lambda item: item[0]))


def inverse_mass_of(functions: KernelFunctions, kernel: Any, params: dict) -> Any:
    """The inverse mass matrix the kernel runs with (its record's tuning names the parameter), or None."""
    tuning = functions.spec.tuning
    if tuning is None or tuning.inverse_mass_matrix is None:
        return None
    bound = kernel.params.kernel if isinstance(kernel, Algorithm) else params
    return bound.get(tuning.inverse_mass_matrix)


def stationary_momentum(functions: KernelFunctions, state: Any, rng_key: Array,
                        inverse_mass_matrix: Array | None = None) -> Any:
    """Draw the persistent momentum of a kernel that declares one (its record's ``momentum`` field) from N(0, M).

    Kernels that carry momentum between steps (kinetic Langevin, GHMC) leave pi(x) N(p; 0, M) invariant, not pi(x)
    alone, so an invariance check must start them with stationary momentum. Other states pass through.
    """
    field = functions.spec.momentum
    if field is None:
        return state
    inner = functions.kernel_state(state)
    position = inner.position
    inverse_mass = jnp.ones_like(position) if inverse_mass_matrix is None else inverse_mass_matrix
    noise = jax.random.normal(rng_key, position.shape, position.dtype)
    momentum = noise / jnp.sqrt(jnp.broadcast_to(inverse_mass, position.shape))
    return functions.with_kernel_state(state, inner._replace(**{field: momentum}))


@functools.partial(jax.jit, static_argnames=("functions", "init_state_fn", "static_params", "num_steps"))
def _run_states(keys, starts, logdensity_fn, dynamic_params, inverse_mass, *, functions, init_state_fn,
                static_params, num_steps):
    params = {**dynamic_params, **dict(static_params)}
    init_kwargs = {name: params[name] for name in functions.spec.init_parameters if name in params}

    def one_chain(key: Array, start: Array) -> Any:
        init_key, run_key = jax.random.split(key)
        if init_state_fn is None:
            state = stationary_momentum(functions, functions.init(start, logdensity_fn, **init_kwargs), init_key,
                                        inverse_mass)
        else:
            state = init_state_fn(init_key, start, logdensity_fn)

        def one_step(state, step_key):
            return functions.step(step_key, state, logdensity_fn, **params)[0], None

        return jax.lax.scan(one_step, state, jax.random.split(run_key, num_steps))[0]

    return jax.vmap(one_chain)(keys, starts)


def final_states(
    kernel: Any, params: dict, target: Target | LogDensity, positions: Array, num_steps: int, rng_key: Array,
    *, init_state_fn: Callable[[Array, Array, LogDensity], Any] | None = None,
) -> Any:
    """Kernel states after `num_steps` steps from each row of `positions` (chains vmapped, one jitted scan).

    Chain ``i`` uses ``jax.random.split(rng_key, n)[i]``. By default a chain starts at ``init(position)`` with
    its persistent momentum drawn from N(0, M) (see `stationary_momentum`); `init_state_fn(key, position,
    logdensity_fn) -> state` replaces that.
    """
    functions = kernel_functions(kernel, target)
    if isinstance(kernel, Algorithm) and params:
        raise ValueError(f"params must be {{}} for an srmc Algorithm (it binds its own), got {params!r}.")
    dynamic, static = split_params(params)
    positions = jnp.asarray(positions)
    keys = jax.random.split(rng_key, positions.shape[0])
    return _run_states(
        keys, positions, as_partial(logdensity_of(target)), dynamic, inverse_mass_of(functions, kernel, params),
        functions=functions, init_state_fn=init_state_fn, static_params=static, num_steps=int(num_steps),
    )


def run_kernel(kernel: Any, params: dict, target: Target | LogDensity, positions: Array, num_steps: int,
               rng_key: Array, *, init_state_fn: Callable | None = None) -> Array:
    """Final positions after `num_steps` steps from each row of `positions` (see `final_states`)."""
    states = final_states(kernel, params, target, positions, num_steps, rng_key, init_state_fn=init_state_fn)
    return kernel_functions(kernel, target).kernel_state(states).position


def default_key(rng_key: Array | None) -> Array:
    """`rng_key`, or ``jax.random.key(0)`` when None."""
    return jax.random.key(0) if rng_key is None else rng_key
