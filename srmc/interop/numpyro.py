"""NumPyro's habits: SRMC as a `numpyro.infer.MCMCKernel` around NumPyro's own HMC or NUTS.

    from numpyro.infer import MCMC, NUTS
    import srmc.interop.numpyro

    mcmc = MCMC(srmc.interop.numpyro.SRMC(NUTS(model), alpha=10.0), num_warmup=1000, num_samples=2000,
                num_chains=4)
    mcmc.run(jax.random.key(0), data=data)
    mcmc.print_summary()
    samples = mcmc.get_samples()          # constrained sites, as with NUTS alone

What runs: NumPyro's HMC/NUTS transition (its step-size and mass-matrix adaptation included) on SRMC's surrogate
log pi_theta(x) = log pi(x) + alpha_n <theta_eff, phi(x)> of the model's flat unconstrained vector x, and after
each counted step the history theta_{n+1} = theta_n + gamma_{n+1} (g(X_{n+1}) - theta_n) (g: the tilt's statistic,
the score for the default tilts; gamma_n = 1 / (n + 1 + 2 alpha), `srmc.schedules.default_gamma`). The warm-up
(``num_warmup``) runs the inner kernel on pi itself (alpha = 0), adapting as NumPyro does, and measures pi's mean
and standard deviation over its second half: the bounded tilt's reference. Counted steps then ramp alpha as
``srmc.wrap`` does (alpha_n = n / (C + n / alpha), C the tilt's ``alpha_ramp``) and clip theta to the tilt's
trust region. The inner state's cached potential energy and gradient are refreshed exactly whenever theta moves,
so every Metropolis / NUTS acceptance targets the current pi_theta. What ``srmc.wrap`` adds beyond this is not run
here: the warm-up's prediction that may lower alpha (``alpha_search``) and the guard; use ``srmc.sample`` for them
and for the health report.

What it relies on from NumPyro: the public functional HMC API ``numpyro.infer.hmc.hmc(potential_fn_gen=...,
algo=...)`` (its ``init_kernel`` / ``sample_kernel``, whose ``model_kwargs`` carry theta, alpha and the reference
into the potential at every step) and the ``HMCState`` fields ``i``, ``z``, ``potential_energy``, ``z_grad``,
``diverging``, ``mean_accept_prob``, ``num_steps``, ``adapt_state``; the inner kernel's settings are read from its
attributes (``_step_size``, ``_adapt_step_size``, ``_adapt_mass_matrix``, ``_dense_mass``, ``_target_accept_prob``,
``_max_tree_depth``, ``_trajectory_length``, ``_num_steps``, ``_init_strategy``, ``_algo``, ...), which NumPyro
does not document as public: a NumPyro release that renames them makes `SRMC` raise a TypeError naming the
attribute.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from srmc import targets
from srmc.method.surrogate import surrogate_logdensity
from srmc.method.tilt import Tilt, TiltReference, bounded_reference, resolve_tilt
from srmc.targets.numpyro_model import import_numpyro

numpyro = import_numpyro()
from numpyro.infer.hmc import hmc  # noqa: E402  (after the import check above)
from numpyro.infer.mcmc import MCMCKernel  # noqa: E402
from numpyro.util import is_prng_key  # noqa: E402

Array = jax.Array
INNER_SETTINGS = ("_model", "_algo", "_step_size", "_inverse_mass_matrix", "_adapt_step_size", "_adapt_mass_matrix",
                  "_dense_mass", "_target_accept_prob", "_trajectory_length", "_num_steps", "_max_tree_depth",
                  "_init_strategy", "_find_heuristic_step_size", "_forward_mode_differentiation",
                  "_regularize_mass_matrix")


class SRMCKernelState(NamedTuple):
    """One chain: the unconstrained latent sites ``z`` (NumPyro's ``sample_field``), the inner HMC/NUTS state on
    the flat vector, the history theta, the warm-up's running moments of x (count, mean, sum of squares, Welford)
    and the last transition's ``diverging`` flag."""

    z: dict
    inner: Any
    theta: Array
    moments: tuple[Array, Array, Array]
    diverging: Array


class SRMC(MCMCKernel):
    """SRMC around a NumPyro ``HMC`` or ``NUTS`` kernel built from a model: ``SRMC(NUTS(model), alpha=10.0)``.

    Args:
      inner: ``numpyro.infer.NUTS(model, ...)`` or ``HMC(model, ...)`` (with a model, not a potential_fn); its
        settings (step size and its adaptation, mass matrix, target acceptance, tree depth, init strategy) are
        kept.
      alpha: repellence strength >= 0 (0: the inner kernel's own law, step for step).
      tilt: ``"bounded"`` (the default, as ``srmc.wrap``), ``"linear"``, ``"score"`` or a
        `srmc.method.tilt.Tilt`; the bounded tilt needs ``num_warmup >= 2`` (its reference is the warm-up's mean
        and standard deviation).

    The surrogate, history and schedules are those of the module doc; with alpha = 0 every transition is the inner
    kernel's on pi (the draws differ from NumPyro's own only through the random keys).
    """

    sample_field = "z"

    def __init__(self, inner: Any, alpha: float = 10.0, tilt: str | Tilt = "bounded") -> None:
        if not hasattr(inner, "_model") or getattr(inner, "_algo", None) not in ("HMC", "NUTS"):
            raise TypeError(f"SRMC(inner, ...) wraps numpyro.infer.NUTS(model) or HMC(model); got "
                            f"{type(inner).__name__}.")
        missing = [name for name in INNER_SETTINGS if not hasattr(inner, name)]
        if missing:
            raise TypeError(f"SRMC reads the inner kernel's settings from its attributes, and this NumPyro "
                            f"{numpyro.__version__} kernel lacks {', '.join(missing)}: pin a NumPyro release that has "
                            "them (tested with 0.22).")
        if inner._model is None:
            raise ValueError("SRMC(inner, ...) needs the inner kernel built from a model (NUTS(model)); a "
                             "potential_fn has no sites to report: use srmc.sample with a log density instead.")
        if not (isinstance(alpha, (int, float)) and 0 <= alpha < float("inf")):
            raise ValueError(f"alpha must be a finite number >= 0 (0: the inner kernel alone), got {alpha!r}.")
        self.inner, self.alpha, self.tilt = inner, float(alpha), resolve_tilt(tilt)
        self._sample_fn: Callable | None = None
        self._num_warmup = 0
        self._targets: dict = {}

    # --- NumPyro's MCMCKernel interface ---------------------------------------------------------------------

    @property
    def model(self) -> Callable:
        """The inner kernel's model."""
        return self.inner._model

    @property
    def default_fields(self) -> tuple[str, ...]:
        """What MCMC collects by default: the sites and the divergence flag (``print_summary`` counts them)."""
        return ("z", "diverging")

    def get_diagnostics_str(self, state: SRMCKernelState) -> str:
        """The progress bar's text: the inner kernel's steps, step size and mean acceptance."""
        inner = state.inner
        return (f"{inner.num_steps} steps of size {inner.adapt_state.step_size:.2e}. acc. prob="
                f"{inner.mean_accept_prob:.2f}")

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable[[dict], dict]:
        """Unconstrained sites -> constrained latent and deterministic sites (the model's transforms)."""
        constrain = self.target(model_args, model_kwargs).model.constrain
        return lambda z: constrain(ravel_pytree(z)[0])

    def init(self, rng_key: Array, num_warmup: int, init_params: Any, model_args: tuple,
             model_kwargs: dict | None) -> SRMCKernelState:
        """The chain's (or, for a batch of keys, the chains') initial state: the inner kernel's ``init_kernel`` on
        the surrogate at theta = 0, from `init_params` (unconstrained sites) or the inner kernel's init strategy."""
        model_kwargs = {} if model_kwargs is None else model_kwargs
        if self.tilt.needs_reference and self.alpha > 0 and num_warmup < 2:
            raise ValueError(f"num_warmup={num_warmup}: SRMC's {self.tilt.name} tilt centres and scales itself on the "
                             "warm-up's mean and standard deviation; give num_warmup >= 2 (e.g. 1000), or "
                             "tilt='linear'.")
        target = self.target(model_args, model_kwargs)
        self._num_warmup = int(num_warmup)
        init_kernel, sample_kernel = hmc(potential_fn_gen=self._potential_gen(target), algo=self.inner._algo)
        step = functools.partial(_step, sample_kernel, target, self.tilt, self.alpha, self._num_warmup)
        batched = not is_prng_key(rng_key)

        def init_one(key: Array, position: Array) -> SRMCKernelState:
            neutral = _surrogate_kwargs(jnp.zeros_like(position), jnp.zeros((), position.dtype),
                                        _reference(self.tilt, _empty_moments(position)))
            inner = init_kernel(position, self._num_warmup, **self._inner_settings(), model_kwargs=neutral,
                                rng_key=key)
            return SRMCKernelState(target.model.unravel(position), inner, jnp.zeros_like(position),
                                   _empty_moments(position), jnp.zeros((), bool))

        if batched:
            keys = jax.random.split(rng_key[0], 1 + len(rng_key))
            positions = self._positions(target, keys[0], len(rng_key), init_params, True)
            self._sample_fn = jax.vmap(step, in_axes=(0, None, None))
            return jax.vmap(init_one)(keys[1:], positions)
        start_key, key = jax.random.split(rng_key)
        position = self._positions(target, start_key, 1, init_params, False)[0]
        self._sample_fn = step
        return init_one(key, position)

    def sample(self, state: SRMCKernelState, model_args: tuple, model_kwargs: dict | None) -> SRMCKernelState:
        """One transition: the inner kernel on the current surrogate, then the history, then the inner state's
        cache refreshed for the next surrogate."""
        return self._sample_fn(state, model_args, model_kwargs)

    # --- helpers ---------------------------------------------------------------------------------------------

    def target(self, model_args: tuple, model_kwargs: dict | None) -> targets.Target:
        """The srmc target of ``model(*model_args, **model_kwargs)`` (NumPyro's unconstrained space), built once per
        set of arguments (`targets.from_numpyro`)."""
        model_kwargs = {} if model_kwargs is None else model_kwargs
        key = (id(model_args), tuple(sorted((name, id(value)) for name, value in model_kwargs.items())))
        if key not in self._targets:
            self._targets[key] = (targets.from_numpyro(self.inner._model, *model_args,
                                                       init_strategy=self.inner._init_strategy, **model_kwargs),
                                  model_args, model_kwargs)  # the arguments are kept alive: their ids stay theirs
        return self._targets[key][0]

    def _inner_settings(self) -> dict:
        inner = self.inner
        return dict(step_size=inner._step_size, inverse_mass_matrix=inner._inverse_mass_matrix,
                    adapt_step_size=inner._adapt_step_size, adapt_mass_matrix=inner._adapt_mass_matrix,
                    dense_mass=inner._dense_mass, target_accept_prob=inner._target_accept_prob,
                    num_steps=inner._num_steps, trajectory_length=inner._trajectory_length,
                    max_tree_depth=inner._max_tree_depth, find_heuristic_step_size=inner._find_heuristic_step_size,
                    forward_mode_differentiation=inner._forward_mode_differentiation,
                    regularize_mass_matrix=inner._regularize_mass_matrix)

    def _potential_gen(self, target: targets.Target) -> Callable[..., Callable[[Array], Array]]:
        tilt, trust_region = self.tilt, self.tilt.defaults.trust_region

        def potential_gen(theta: Array, alpha: Array, location: Array, scale: Array) -> Callable[[Array], Array]:
            reference = TiltReference(location, scale)
            seen = tilt.effective_theta(theta, alpha, reference, trust_region)
            logdensity = surrogate_logdensity(target, seen, alpha, tilt, reference=reference)
            return lambda x: -logdensity(x)

        return potential_gen

    @staticmethod
    def _positions(target: targets.Target, key: Array, num: int, init_params: Any, batched: bool) -> Array:
        """``(num, dim)`` starting points: `init_params` (unconstrained sites; with a leading chain axis for a batch
        of chains) flattened, else the target's initial positions (the inner kernel's init strategy)."""
        if init_params is None:
            return target.initial_position(key, num)
        if batched:
            return jax.vmap(lambda params: ravel_pytree(params)[0])(init_params)
        return ravel_pytree(init_params)[0][None]


def _empty_moments(position: Array) -> tuple[Array, Array, Array]:
    return jnp.zeros((), position.dtype), jnp.zeros_like(position), jnp.zeros_like(position)


def _reference(tilt: Tilt, moments: tuple[Array, Array, Array]) -> TiltReference:
    """The tilt's (m, c) from the warm-up's running moments (mean, standard deviation); 0 and 1 before any."""
    count, mean, squares = moments
    variance = jnp.where(count > 1, squares / jnp.maximum(count - 1, 1), 1.0)
    location, scale = bounded_reference(mean, variance) if tilt.needs_reference else (jnp.zeros_like(mean),
                                                                                     jnp.ones_like(mean))
    return TiltReference(location, scale)


def _surrogate_kwargs(theta: Array, alpha: Array, reference: TiltReference) -> dict:
    return {"theta": theta, "alpha": alpha, "location": reference.location, "scale": reference.scale}


def _alpha_at(tilt: Tilt, alpha: float, count: Array) -> Array:
    """alpha at counted step `count` (1-based; 0 before): constant, or the tilt's ramp n / (C + n / alpha)."""
    n = jnp.asarray(count, jnp.result_type(float))
    ramp = tilt.defaults.alpha_ramp
    value = alpha * jnp.ones_like(n) if not ramp or alpha == 0 else n / (ramp + n / alpha)
    return jnp.where(n > 0, value, 0.0)


def _step(sample_kernel: Callable, target: targets.Target, tilt: Tilt, alpha: float, num_warmup: int,
          state: SRMCKernelState, model_args: tuple, model_kwargs: dict | None) -> SRMCKernelState:
    """One SRMC transition of one chain (see the module doc)."""
    i = state.inner.i  # transitions done so far; this one is counted step n = i - num_warmup + 1 when n >= 1
    count = i - num_warmup + 1
    reference = _reference(tilt, state.moments)
    alpha_now = _alpha_at(tilt, alpha, count).astype(state.theta.dtype)
    inner = sample_kernel(state.inner, model_kwargs=_surrogate_kwargs(state.theta, alpha_now, reference))
    position = inner.z
    logpi, score = target.value_and_score(position)
    gamma = 1.0 / (count + 1.0 + 2.0 * alpha)
    theta = jnp.where(count >= 1, state.theta + gamma * (tilt.statistic(position, score, reference) - state.theta),
                      state.theta)
    moments = _welford(state.moments, position, (i >= num_warmup // 2) & (i < num_warmup))
    # the cache of the next transition's surrogate (theta, alpha and reference have moved): exact, from log pi and s
    reference = _reference(tilt, moments)
    alpha_next = _alpha_at(tilt, alpha, count + 1).astype(theta.dtype)
    seen = tilt.effective_theta(theta, alpha_next, reference, tilt.defaults.trust_region)
    value = tilt.value(logpi, tilt.term(target, position, score, reference), seen, alpha_next)
    gradient = tilt.gradient(target, position, score, seen, alpha_next, reference)
    inner = inner._replace(potential_energy=-value, z_grad=-gradient)
    return SRMCKernelState(target.model.unravel(position), inner, theta, moments, inner.diverging)


def _welford(moments: tuple[Array, Array, Array], position: Array, use: Array) -> tuple[Array, Array, Array]:
    """Running count, mean and sum of squared deviations with `position` added where `use`."""
    count, mean, squares = moments
    new_count = count + 1
    delta = position - mean
    new_mean = mean + delta / new_count
    new_squares = squares + delta * (position - new_mean)
    return (jnp.where(use, new_count, count), jnp.where(use, new_mean, mean), jnp.where(use, new_squares, squares))


def log_likelihood(target: targets.Target, draws: Array) -> dict[str, Array]:
    """Pointwise log-likelihood of every observed site of a `targets.from_numpyro` target at flat unconstrained
    `draws` ``(chains, draws, dim)``: ``{site: (chains, draws, *site_shape)}`` (``numpyro.infer.log_likelihood``
    on the constrained latent sites), what ArviZ's ``log_likelihood`` group holds for LOO and WAIC."""
    from numpyro.infer import log_likelihood as numpyro_log_likelihood

    model = target.model
    draws = jnp.asarray(draws)
    chains, num = draws.shape[:2]
    flat = draws.reshape(chains * num, -1)
    latent = jax.vmap(model.unravel)(flat)
    samples = {name: value for name, value in jax.vmap(model.constrain)(flat).items() if name in latent}
    pointwise = numpyro_log_likelihood(model.model, samples, *model.model_args, **model.model_kwargs)
    return {name: value.reshape(chains, num, *value.shape[1:]) for name, value in pointwise.items()}
