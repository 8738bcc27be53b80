"""Registry of sampling targets with ground truth (`srmc.targets`; depends on jax alone).

    >>> from srmc import targets
    >>> target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    >>> targets.names()
"""

from . import (  # noqa: F401  (register the other continuous families)  # noqa: F401  (discrete targets, eight_schools, ...)
                   banana,
                   discrete,
                   fhmm,
                   funnel,
                   gaussian,  # noqa: F401  (registers the Gaussian family)
                   graphs,  # noqa: F401  (graph targets: karate_club, barabasi_albert, ...)
                   lattice,
                   logistic,
                   mixture,
                   numpyro_model,
                   paper_mixtures,
                   rbm,
)
from .base import (
                   GaussianForm,
                   GroundTruth,
                   Histogram,
                   MixtureForm,
                   Target,
                   describe,
                   exact_truth,
                   get,
                   missing_requirement,
                   names,
                   parameters,
                   register,
)
from .graphs import CSRGraph, GraphData, graph
from .logdensity import from_logdensity
from .numpyro_model import constrain, constrained_functions, constrained_moments, from_numpyro
from .space import Categorical, Continuous, Graph, StateSpace

__all__ = [
    "CSRGraph", "Categorical", "Continuous", "GaussianForm", "Graph", "GraphData", "GroundTruth", "Histogram",
    "MixtureForm",
    "StateSpace", "Target", "constrain", "constrained_functions", "constrained_moments", "describe", "exact_truth",
    "from_logdensity", "from_numpyro", "get", "graph", "missing_requirement", "names", "parameters", "register",
]
