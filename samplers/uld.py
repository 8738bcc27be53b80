"""Unadjusted underdamped (kinetic) Langevin dynamics (ULD): an exact Ornstein–Uhlenbeck momentum refresh, then
velocity Verlet, with no accept/reject. BIASED.

One step of size h with friction gamma (``damping``) and diagonal mass M (``inverse_mass_matrix`` = M^{-1}):

    O:  p <- eta p + sqrt(1 - eta^2) xi,    eta = exp(-gamma h),  xi ~ N(0, M)
    B:  p <- p + (h/2) grad log p(x)
    A:  x <- x + h M^{-1} p
    B:  p <- p + (h/2) grad log p(x)

(``num_integration_steps`` > 1 repeats the B-A-B part that many times after one O refresh; the paper uses 1.)
This is the SRMC paper's ULD ("O-U + Velocity Verlet splitting", `UnderdampedLangevin` /
`UnadjustedScoreTiltedULD` in the authors' samplers.py, friction 1.0 by default): the O step is exact for the
momentum, the Verlet step is a discretisation, and no Metropolis test corrects it, so the chain does NOT leave
p(x) N(p; 0, M) invariant: the stationary law of x is off by O(h^2) for this splitting (on a Gaussian the
stationary mean is exact and the covariance is inflated), and the chain diverges when h exceeds the Verlet
stability limit (2 / sqrt(lambda_max) for unit mass). Compare `samplers.kinetic_langevin`, the same dynamics with
a Metropolis test (unbiased).

Momentum at init: zero (``init(position, logdensity_fn)`` has no key, BlackJAX shape); the O refreshes bring it to
N(0, M) within a few 1/gamma time units. The paper draws p_0 ~ N(0, I) instead: pass ``rng_key`` to `init` for that.

Non-finite proposals: a step whose new position, momentum, log density or gradient is not finite is NOT taken; the
state (position and momentum) stays as it was before the step and the step reports ``is_nonfinite=True``,
``is_accepted=False``, ``acceptance_rate=0``; every other step reports ``is_accepted=True``, ``acceptance_rate=1``.
A non-finite step means the step size is unstable there: treat a run that reports any as failed.

Under `srmc.wrap` the history theta is always updated with the exact score s(x) at the new position. The paper's
SR-ULD with its default shifted gradient updates theta with the shifted score s(x - alpha theta) instead (its own
comment: "the theta update tracks E[s(x - shift)]"); a reproduction of that variant is a different algorithm.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from ._leapfrog import IntegratorState, leapfrog, resolve_inverse_mass_matrix, sample_momentum
from ._metropolis import MetropolisInfo, evaluate, select
from .spec import (
    CONTINUOUS,
    INVERSE_MASS_MATRIX,
    NUM_INTEGRATION_STEPS,
    STEP_SIZE,
    VALUE_GRADIENT_AUX_CACHE,
    KernelSpec,
    Parameter,
    positive,
)

Array = jax.Array


class ULDState(NamedTuple):
    """Position and momentum with the log density, gradient and a `Density`'s aux cached at the position."""

    position: Array
    momentum: Array
    logdensity: Array
    logdensity_grad: Array
    aux: Any = ()


ULDInfo = MetropolisInfo  # acceptance_rate (1.0, 0.0 on a non-finite step), is_accepted, is_nonfinite


def init(position: Array, logdensity_fn: Callable, rng_key: Array | None = None,
         inverse_mass_matrix: Array | None = None) -> ULDState:
    """Build the state at `position`: zero momentum, or p ~ N(0, M) when `rng_key` is given (the paper's start)."""
    position, logdensity, logdensity_grad, aux = evaluate(position, logdensity_fn)
    if rng_key is None:
        momentum = jnp.zeros_like(position)
    else:
        momentum = sample_momentum(rng_key, resolve_inverse_mass_matrix(inverse_mass_matrix, position))
    return ULDState(position, momentum, logdensity, logdensity_grad, aux)


def build_kernel() -> Callable:
    """Return `kernel(rng_key, state, logdensity_fn, step_size, damping=1.0, num_integration_steps=1,
    inverse_mass_matrix=None) -> (state, info)`.

    The refresh noise is ``sample_momentum(rng_key, ...)``: the key is used whole, not split, so a test can
    reproduce a trajectory from the keys it passed in.
    """

    def kernel(
        rng_key: Array,
        state: ULDState,
        logdensity_fn: Callable,
        step_size: float | Array,
        damping: float | Array = 1.0,
        num_integration_steps: int = 1,
        inverse_mass_matrix: Array | None = None,
    ) -> tuple[ULDState, ULDInfo]:
        """One ULD step (O refresh, then velocity Verlet) on `logdensity_fn`; biased, see the module docstring."""
        inverse_mass = resolve_inverse_mass_matrix(inverse_mass_matrix, state.position)
        persistence = jnp.exp(-damping * step_size)
        noise = sample_momentum(rng_key, inverse_mass)
        momentum = persistence * state.momentum + jnp.sqrt(1.0 - persistence**2) * noise
        start = IntegratorState(state.position, momentum, state.logdensity, state.logdensity_grad, state.aux)
        end = leapfrog(start, logdensity_fn, step_size, inverse_mass, num_integration_steps)
        proposal = ULDState(end.position, end.momentum, end.logdensity, end.logdensity_grad, end.aux)
        finite = (
            jnp.all(jnp.isfinite(end.position))
            & jnp.all(jnp.isfinite(end.momentum))
            & jnp.isfinite(end.logdensity)
            & jnp.all(jnp.isfinite(end.logdensity_grad))
        )
        new_state = select(finite, proposal, state)
        info = ULDInfo(
            acceptance_rate=jnp.where(finite, 1.0, 0.0).astype(jnp.result_type(float)),
            is_accepted=finite,
            is_nonfinite=~finite,
        )
        return new_state, info

    return kernel


# Unadjusted: no accept/reject, so nothing for a warm-up to tune towards (tuning=None); biased, see the module doc.
# The momentum persists between steps (partial O refresh), as in kinetic_langevin.
spec = KernelSpec(
    "uld", init, build_kernel, CONTINUOUS,
    (STEP_SIZE._replace(suggested=0.1),
     Parameter("damping", positive, required=False, suggested=1.0, description="friction (default 1, the paper's)"),
     NUM_INTEGRATION_STEPS._replace(required=False, suggested=1), INVERSE_MASS_MATRIX),
    VALUE_GRADIENT_AUX_CACHE, momentum="momentum", split_density=True,
)
