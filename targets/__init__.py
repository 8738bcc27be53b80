"""Registry of sampling targets with ground truth.

    >>> import targets
    >>> target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    >>> targets.names()
"""

from targets.base import GroundTruth, Target, describe, exact_truth, from_logdensity, get, names, register
from targets import gaussian  # noqa: F401  (registers the Gaussian family)
from targets import banana, funnel, logistic, mixture  # noqa: F401  (register the other continuous families)
from targets import discrete, fhmm, lattice, numpyro_model, rbm  # noqa: F401  (discrete targets, eight_schools, ...)
from targets.numpyro_model import constrain, constrained_functions, constrained_moments, from_numpyro

__all__ = [
    "GroundTruth", "Target", "constrain", "constrained_functions", "constrained_moments", "describe", "exact_truth",
    "from_logdensity", "from_numpyro", "get", "names", "register",
]
