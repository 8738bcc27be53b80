"""Bayesian logistic regressions with ground truth from stored NUTS reference runs: the breast-cancer data
(`logistic_breast_cancer`) and the SRMC paper's synthetic data set (`synthetic_logistic`)."""

from __future__ import annotations

import importlib.resources
import io
import json

import jax
import jax.numpy as jnp
import numpy as np

from .base import GroundTruth, Requirement, Target, check_int, gaussian_initial_position, register
from .space import Continuous

REFERENCE_NAME = "logistic_breast_cancer"
SCIKIT_LEARN = Requirement("sklearn", 'pip install "srmc[datasets]" (scikit-learn ships the data set)')


def load_breast_cancer_design() -> tuple[np.ndarray, np.ndarray]:
    """Standardised breast-cancer features with a leading intercept column, shape (569, 31), and 0/1 labels."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            'The breast-cancer target needs scikit-learn for its data set: pip install "srmc[datasets]"'
        ) from error
    data = load_breast_cancer()
    features = np.asarray(data.data, np.float64)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    design = np.concatenate([np.ones((features.shape[0], 1)), features], axis=1)
    return design, np.asarray(data.target, np.float64)


def logistic_regression_logdensity(design: np.ndarray, labels: np.ndarray, prior_scale: float):
    """log p(beta | data) up to a constant for a logistic regression with prior N(0, prior_scale^2 I)."""
    design_j, labels_j = jnp.asarray(design), jnp.asarray(labels)

    def logdensity(beta: jax.Array) -> jax.Array:
        logits = design_j @ beta
        # y log sigmoid(z) + (1 - y) log sigmoid(-z)
        loglik = jnp.sum(labels_j * jax.nn.log_sigmoid(logits) + (1.0 - labels_j) * jax.nn.log_sigmoid(-logits))
        return loglik - 0.5 * jnp.sum(beta**2) / prior_scale**2

    return logdensity


def load_reference(name: str, params: dict | None = None) -> GroundTruth | None:
    """The stored reference `targets/data/<name>.json` as a `GroundTruth`.

    Returns ``None`` when no reference is stored, or when `params` is given and any of its entries differs from
    the parameters the reference was made with.
    """
    resource = importlib.resources.files(__package__).joinpath("data", f"{name}.json")
    if not resource.is_file():
        return None
    stored = json.loads(resource.read_text())
    if params is not None:
        made_with = stored.get("params", {})
        for key, value in params.items():
            if key not in made_with or not np.isclose(float(made_with[key]), float(value)):
                return None
    return GroundTruth(
        mean=np.asarray(stored["mean"], np.float64),
        variance=np.asarray(stored["variance"], np.float64),
        mean_stderr=np.asarray(stored["mean_stderr"], np.float64),
        variance_stderr=np.asarray(stored["variance_stderr"], np.float64),
        exact=False,
        note=stored.get("note", ""),
    )


@register("logistic_breast_cancer", requires=SCIKIT_LEARN)
def logistic_breast_cancer(prior_scale: float = 1.0) -> Target:
    """Bayesian logistic regression, breast-cancer data (30 standardised features + intercept), N(0, s^2) prior."""
    if (
        isinstance(prior_scale, bool)
        or not isinstance(prior_scale, (int, float, np.floating, np.integer))
        or not (np.isfinite(prior_scale) and prior_scale > 0)
    ):
        raise ValueError(f"prior_scale must be a positive finite number, got {prior_scale!r}.")
    prior_scale = float(prior_scale)
    design, labels = load_breast_cancer_design()
    dim = design.shape[1]
    params = {"prior_scale": prior_scale}
    return Target(
        name=f"logistic_breast_cancer(prior_scale={prior_scale})",
        space=Continuous(dim),
        logdensity=logistic_regression_logdensity(design, labels, prior_scale),
        initial_position=gaussian_initial_position(dim, 0.1),
        ground_truth=load_reference(REFERENCE_NAME, params),
        sample=None,
        params=params,
    )


# --- the SRMC paper's synthetic logistic regression ---------------------------------------------------------------

SYNTHETIC_NAME = "synthetic_logistic"
SYNTHETIC_DEFAULTS = {"num_observations": 200, "dim": 10, "seed": 42, "prior_scale": 1.0}


def synthetic_logistic_data(num_observations: int = 200, dim: int = 10, seed: int = 42
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, beta_true) by the SRMC paper's recipe (its ``potentials.SyntheticLogistic``), float64.

    ``rng = numpy.random.default_rng(seed)``; ``X = rng.normal(size=(n, d))``; then ``beta_true =
    rng.normal(size=d)``; then ``y = rng.binomial(1, sigmoid(X beta_true))``. No intercept, no standardisation.
    The labels must come from ``rng.binomial`` (``rng.uniform(size=n) < p`` gives other labels). With the defaults:
    X[0, :3] = (0.304717, -1.039984, 0.750451), beta_true[:3] = (-0.451951, -0.665878, 0.434010), sum(y) = 103.
    """
    rng = np.random.default_rng(seed)
    design = rng.normal(size=(num_observations, dim))
    beta_true = rng.normal(size=dim)
    labels = rng.binomial(1, 1.0 / (1.0 + np.exp(-(design @ beta_true))))
    return design, labels.astype(np.float64), beta_true


def synthetic_logistic_starts(num: int = 30) -> np.ndarray:
    """The first `num` (at most 1,024) stored posterior draws of the default `synthetic_logistic`, (num, 10) float64.

    NUTS draws thinned so far apart that they are effectively independent
    (``targets/data/synthetic_logistic_starts.npz``, written with the reference by
    ``python -m srmc.targets.make_reference synthetic_logistic``); the SRMC paper starts its logistic replicates
    from draws of a long reference chain the same way.
    """
    data = importlib.resources.files(__package__).joinpath("data", f"{SYNTHETIC_NAME}_starts.npz")
    with np.load(io.BytesIO(data.read_bytes())) as stored:
        starts = np.asarray(stored["starts"], np.float64)
    if not 1 <= num <= starts.shape[0]:
        raise ValueError(f"num must be in [1, {starts.shape[0]}], got {num}.")
    return starts[:num]


@register(SYNTHETIC_NAME)
def synthetic_logistic(num_observations: int = 200, dim: int = 10, seed: int = 42, prior_scale: float = 1.0) -> Target:
    """The SRMC paper's synthetic Bayesian logistic regression (n = 200, d = 10, seed 42, N(0, I) prior).

    Data: `synthetic_logistic_data`. Ground truth: a stored NUTS reference (``targets/data/synthetic_logistic.json``)
    for the default parameters, else None.
    """
    check_int(num_observations, "num_observations")
    check_int(dim, "dim")
    check_int(seed, "seed", minimum=0)
    if (isinstance(prior_scale, bool) or not isinstance(prior_scale, (int, float, np.floating, np.integer))
            or not (np.isfinite(prior_scale) and prior_scale > 0)):
        raise ValueError(f"prior_scale must be a positive finite number, got {prior_scale!r}.")
    params = {"num_observations": int(num_observations), "dim": int(dim), "seed": int(seed),
              "prior_scale": float(prior_scale)}
    design, labels, _ = synthetic_logistic_data(params["num_observations"], params["dim"], params["seed"])
    return Target(
        name=f"synthetic_logistic(num_observations={num_observations},dim={dim},seed={seed})",
        space=Continuous(dim),
        logdensity=logistic_regression_logdensity(design, labels, params["prior_scale"]),
        initial_position=gaussian_initial_position(dim, 0.1),
        ground_truth=load_reference(SYNTHETIC_NAME, params),
        sample=None,
        params=params,
    )
