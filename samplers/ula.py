"""Unadjusted Langevin algorithm (ULA): Euler–Maruyama steps of the overdamped Langevin diffusion. BIASED.

    x' = x + h * grad log p(x) + sqrt(2 h) * xi,      xi ~ N(0, I)

`step_size` is h, the same convention as `samplers.mala` (so ULA is MALA without its accept/reject test). The
SRMC paper writes its ULA experiments the same way: figure 1 uses x + eps s(x) + sqrt(2 eps) xi with eps = 0.01,
i.e. ``step_size=0.01``; the mode-coverage experiment uses eps = 1, i.e. ``step_size=1.0``. (The paper's MALA in
figure 2 is written x + (eps/2) grad + sqrt(eps) xi instead: there srmc's ``step_size`` is eps / 2.)

There is no Metropolis correction, so the chain does NOT leave p invariant: its stationary law is off by O(h)
(on a Gaussian N(m, S) the stationary mean is m but the covariance is S (I - h S^{-1} / 2)^{-1}, and the chain
diverges for h >= 2 / lambda_max(S^{-1})). Use it for what it is: a cheap, biased sampler whose bias shrinks with h.

Non-finite proposals: a proposal whose position, log density or gradient is not finite is NOT taken; the chain
stays where it is, and the step reports ``is_nonfinite=True``, ``is_accepted=False``, ``acceptance_rate=0``.
Every other step reports ``is_accepted=True``, ``acceptance_rate=1``. Staying put is the one departure from the
plain recursion (which would carry NaN/inf forward and poison every estimate); a non-finite proposal means the
step size is unstable for the current state, so a run that reports any should be treated as failed, and the
count makes that visible instead of averaging NaN in.

The gradient used in the drift is whatever ``jax.value_and_grad(logdensity_fn)`` returns, so a wrapper may supply
a cheaper drift through a custom derivative (e.g. srmc's shifted score tilt). The cached log density is not
needed by ULA itself; it is kept so that wrappers that refresh ``logdensity`` and ``logdensity_grad`` (srmc) work
unchanged, and it costs nothing extra with value_and_grad.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._metropolis import MetropolisInfo, evaluate, select
from .spec import CONTINUOUS, STEP_SIZE, VALUE_GRADIENT_AUX_CACHE, KernelSpec

Array = jax.Array


class ULAState(NamedTuple):
    """Position with its cached log density, gradient and a `Density`'s aux."""

    position: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


ULAInfo = MetropolisInfo  # acceptance_rate (1.0, 0.0 on a non-finite proposal), is_accepted, is_nonfinite


def init(position: Array, logdensity_fn: Callable) -> ULAState:
    """Build the state at `position`, caching log density and gradient."""
    return ULAState(*evaluate(position, logdensity_fn))


def _is_finite(state: ULAState) -> Array:
    return (
        jnp.all(jnp.isfinite(state.position))
        & jnp.isfinite(state.logdensity)
        & jnp.all(jnp.isfinite(state.logdensity_grad))
    )


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size) -> (state, info)`.

    The noise is ``jax.random.normal(rng_key, position.shape)``: the key is used whole, not split, so a test can
    reproduce a trajectory step by step from the keys it passed in.
    """

    def kernel(
        rng_key: Array, state: ULAState, logdensity_fn: Callable, step_size: float | Array
    ) -> tuple[ULAState, ULAInfo]:
        """One ULA step on `logdensity_fn` (biased: no accept/reject; see the module docstring)."""
        x, g = state.position, state.logdensity_grad
        noise = jax.random.normal(rng_key, x.shape, x.dtype)
        proposal = ULAState(*evaluate(x + step_size * g + jnp.sqrt(2.0 * step_size) * noise, logdensity_fn, state.aux))
        finite = _is_finite(proposal)
        new_state = select(finite, proposal, state)
        info = ULAInfo(
            acceptance_rate=jnp.where(finite, 1.0, 0.0).astype(jnp.result_type(float)),
            is_accepted=finite,
            is_nonfinite=~finite,
        )
        return new_state, info

    return kernel


# Unadjusted: no accept/reject, so nothing for a warm-up to tune towards (tuning=None); biased, see the module doc.
spec = KernelSpec("ula", init, build_kernel, CONTINUOUS, (STEP_SIZE._replace(suggested=0.01),),
                  VALUE_GRADIENT_AUX_CACHE, split_density=True)
