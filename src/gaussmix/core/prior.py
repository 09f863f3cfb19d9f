"""R mclust's conjugate prior (``priorControl``/``defaultPrior``) and its MAP M-step.

Fraley & Raftery (2007), "Bayesian regularization for normal mixture
estimation and model-based clustering" (J. Classification 24:155-181), put a
normal prior on each mean, ``mu_k ~ N(mu_P, Sigma_k / kappa)``, and an
inverse-gamma or inverse-Wishart prior on the variances; EM then maximises the
log-posterior (MAP-EM). The mixing proportions have no prior.

**The M-step, as mclust 6.0.0 computes it.** With ``n_k`` the responsibility
mass, ``xbar_k`` the weighted mean and ``W_k`` the scatter about it, every
model's M-step is its maximum-likelihood M-step applied to augmented
statistics::

    mean_k = (n_k xbar_k + kappa mu_P) / (n_k + kappa)
    W~_k   = Lambda_k + W_k + kappa n_k / (n_k + kappa) (xbar_k - mu_P)(...)^T
    n~_k   = n_k + c_k

that is, the covariances maximise ``-1/2 sum_k [n~_k log det Sigma_k +
tr(W~_k Sigma_k^-1)]`` under the model's constraint. Here that is done by
handing the family's own ``covariances`` (the ML estimate) these statistics:
``kappa`` pseudo-observations at ``mu_P`` in each component, plus the prior
scatter ``Lambda_k``, divided by ``n~_k``. So the MAP M-step works for every
family through the family interface, including the iterative ones.

The per-model constants are read from mclust's Fortran (``me*p`` routines of
``mclust.f``; ``d = n_features``, ``G = n_components``, ``nu`` the dof,
``s`` the scale, ``[k]`` is 1 when ``kappa > 0``, else 0):

=====  ==========================  ============================  ============
model  prior scatter ``Lambda``    ``sum_k c_k`` (or ``c_k``)    means shrunk
=====  ==========================  ============================  ============
E      ``s``, once                 ``nu + G + 2``                yes
V      ``s`` per component         ``c_k = nu + 3``              yes
EII    none (mclust omits it)      ``(nu + 2) / d + G``          yes
VII    trace ``s`` per component   ``c_k = (nu + 2) / d + [k]``  yes
EEI    ``s I``, once               ``nu + 1 + [k]``              **no**
VEI    ``s I`` per component       ``c_k = (nu + 2 + [k]) / d``  yes
EVI    ``s I`` per component       ``nu + 1 + [k]``              yes
VVI    ``s I`` per component       ``c_k = nu + 2 + [k]``        yes
EEE    ``Lambda``, once            ``nu + d + 1 + [k] G``        yes
EEV    ``Lambda`` per component    ``nu + d + 1 + [k]``          yes
VEV    ``Lambda`` per component    ``c_k = 0``                   yes
VVV    ``Lambda`` per component    ``c_k = nu + d + 2``          yes
=====  ==========================  ============================  ============

(A pooled count is split equally over the components; only its sum matters
when the models share the volume.) These are not all the Bayesian posterior
modes of one prior (mclust's EII leaves out the scale, EEI keeps the means
unshrunk while it adds their shrinkage term to the scatter, VEV has no dof
term), but every model except EEI is the exact MAP of the *effective* prior
``sum_k [-c_k/2 log det Sigma_k - 1/2 tr(Lambda_k Sigma_k^-1) - kappa/2
(mu_k - mu_P)^T Sigma_k^-1 (mu_k - mu_P)]``, whose log-density
:func:`log_prior` returns (up to a constant): MAP-EM never decreases the
log-posterior ``log L + log_prior``. mclust reports the log-likelihood
``log L``; so does gaussmix (``lower_bound_``), which may decrease slightly.

mclust 6.0.0 has no prior for VEE, EVE, VVE and EVV (``me`` returns NA):
they raise ValueError here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core.covariance import REGISTRY, CovarianceFamily
from gaussmix.core.family import CovarianceStats, PriorRule

__all__ = [
    "DEFAULT_SHRINKAGE",
    "PRIOR_KEYS",
    "PRIOR_MODELS",
    "ConjugatePrior",
    "PriorStatistics",
    "augment",
    "log_prior",
    "mclust_model_name",
    "resolve_prior",
]

#: mclust's default shrinkage ``kappa`` of the means towards the prior mean.
DEFAULT_SHRINKAGE: Final = 0.01
#: Keys of a prior given as a dict (mclust's ``priorControl`` arguments).
PRIOR_KEYS: Final = ("shrinkage", "mean", "dof", "scale")

#: Each mclust model's family, in the registry's order (univariate first).
_MODELS: Final = {f.model: f for f in REGISTRY.values() if f.name == f.model}

#: The mclust models that have a prior, with their M-step rules (the families'
#: ``prior`` attributes).
PRIOR_MODELS: Final[Mapping[str, PriorRule]] = MappingProxyType(
    {model: f.prior for model, f in _MODELS.items() if f.prior is not None}
)
#: mclust models whose prior ``me`` returns NA for (mclust 6.0.0).
_NO_PRIOR: Final = tuple(model for model, f in _MODELS.items() if f.prior is None)


@dataclass(frozen=True, slots=True)
class ConjugatePrior:
    """The prior's hyperparameters, resolved for one data set and model.

    Parameters
    ----------
    model : str
        The mclust model whose M-step rules apply (``VVV`` for 'full', ...).
    shrinkage : float
        ``kappa >= 0``: the prior's weight on the mean, in observations.
    mean : ndarray of shape (n_features,)
        ``mu_P``, the prior mean.
    dof : float
        ``nu``, the degrees of freedom of the variance prior.
    scale : ndarray
        The scale: shape ``()`` for the models with scalar variances (E, V and
        the ``*II``, ``*I`` models), ``(n_features, n_features)`` otherwise.
    """

    model: str
    shrinkage: float
    mean: FloatArray
    dof: float
    scale: FloatArray

    def as_dict(self) -> dict[str, Any]:
        """``{"shrinkage", "mean", "dof", "scale"}`` (copies of the arrays)."""
        return {
            "shrinkage": self.shrinkage,
            "mean": self.mean.copy(),
            "dof": self.dof,
            "scale": self.scale.copy(),
        }


@dataclass(frozen=True, slots=True)
class PriorStatistics:
    """Augmented statistics for the family's ML covariance estimate.

    Parameters
    ----------
    stats : CovarianceStats
        Second moments (family-shaped), first moments and counts with the
        ``kappa`` pseudo-observations at ``mu_P`` and the prior scatter added;
        the divisor (and weight) of each component's scatter is ``n_k + c_k``,
        and ``d = mean_k - shift`` for the scatter is ``sx / nk``.
    mean_offset : ndarray of shape (n_components, n_features)
        ``mean_k - shift`` of the returned means (unshrunk for EEI).
    """

    stats: CovarianceStats
    mean_offset: FloatArray


def mclust_model_name(covariance_type: str) -> str:
    """The mclust model of a covariance type ('full' is VVV, ...).

    An unknown name is returned as it is.
    """
    family = REGISTRY.get(covariance_type)
    return covariance_type if family is None else family.model


def resolve_prior(
    setting: Any,
    X: FloatArray,
    sample_weight: FloatArray | None,
    n_components: int,
    covariance_type: str,
    owner: str = "GaussianMixture",
    moments: tuple[float, FloatArray, FloatArray] | None = None,
) -> ConjugatePrior | None:
    """The prior of a ``prior`` setting, as mclust's ``defaultPrior(data, G, model)``.

    Parameters
    ----------
    setting : None, "default" or dict
        None: no prior. "default": mclust's ``priorControl()``. A dict with
        keys among ``shrinkage``, ``mean``, ``dof`` and ``scale`` (mclust's
        ``priorControl`` arguments) replaces those defaults.
    X : ndarray of shape (n_samples, n_features)
        Training data (the defaults are its mean and variances).
    sample_weight : ndarray of shape (n_samples,) or None
        Weights: the defaults use the weighted mean and the weighted variance
        with divisor ``sum(w) - 1`` (integer weights act as repeated rows).
    n_components : int
        ``G``.
    covariance_type : str
        scikit-learn's name or mclust's model name.
    owner : str, default="GaussianMixture"
        Name used in error messages.
    moments : (total, mean, covariance), default=None
        The data's total weight, weighted mean and covariance (divisor
        ``total - 1``) when they were computed elsewhere (out-of-core data, in
        one pass); ``X`` then only gives the number of features.

    Returns
    -------
    ConjugatePrior or None

    Raises
    ------
    ValueError
        For a model without a prior (VEE, EVE, VVE, EVV), unknown keys, or
        invalid values (negative shrinkage, a mean without shrinkage, ...).

    Notes
    -----
    Defaults (mclust's ``defaultPrior``): ``shrinkage = 0.01``, ``mean`` = the
    data mean; for E and V ``dof = 3`` and ``scale = var(x) / G^2``; for the
    models with scalar variances (EII, VII, EEI, VEI, EVI, VVI) ``dof = d + 2``
    and ``scale = G^(-2/d) sum_j var(x_j) / d``; for the others ``dof = d + 2``
    and ``scale = G^(-2/d) cov(X)`` (its diagonal when ``n <= d``). mclust's
    ``defaultPrior`` ignores a given ``dof``; gaussmix uses it.
    """
    if setting is None:
        return None
    model = mclust_model_name(covariance_type)
    if model in _NO_PRIOR:
        raise ValueError(
            f"{owner}: covariance_type={covariance_type!r} has no conjugate prior "
            "(mclust 6.0.0's me(..., prior = priorControl()) returns NA for VEE, "
            "EVE, VVE and EVV). Use prior=None, or one of the models with a prior: "
            + ", ".join(PRIOR_MODELS)
            + "."
        )
    if model not in PRIOR_MODELS:
        raise ValueError(
            f"{owner}: no conjugate prior for covariance_type={covariance_type!r}."
        )
    rule = PRIOR_MODELS[model]
    given = _prior_dict(setting, owner)
    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    if moments is None:
        total = float(X.shape[0] if w is None else np.sum(w))
        data_mean: FloatArray = np.asarray(
            np.average(X, axis=0, weights=w), dtype=np.float64
        )
        centred = X - data_mean
        weighted = centred if w is None else centred * w[:, None]
        data_cov: FloatArray = (weighted.T @ centred) / (total - 1.0)
    else:
        total, data_mean, data_cov = moments

    shrinkage = given.get("shrinkage")
    if shrinkage is None:
        kappa = DEFAULT_SHRINKAGE
    else:
        kappa = _real(shrinkage, "shrinkage", owner, allow_nan=True)
        if math.isnan(kappa) or kappa == 0.0:
            kappa = 0.0
        elif kappa < 0.0:
            raise ValueError(
                f"{owner}: prior shrinkage must be >= 0 (mclust: 'negative value "
                f"given for shrinkage'); got {shrinkage!r}."
            )
    mean_given = given.get("mean")
    if mean_given is None:
        mean = data_mean
    else:
        mean = _vector(mean_given, n_features, owner)
        if np.any(np.isnan(mean)):
            if kappa > 0.0:
                raise ValueError(
                    f"{owner}: positive prior shrinkage with no prior mean (the mean "
                    "has NaN); give a finite mean or shrinkage=0."
                )
            mean = data_mean
        elif kappa == 0.0:
            raise ValueError(
                f"{owner}: a prior mean is given but the shrinkage is 0 (mclust: "
                "'prior mean specified but not shrinkage'); give shrinkage > 0."
            )
    univariate = _MODELS[model].multivariate_model is not None
    default_dof = 3.0 if univariate else float(n_features + 2)
    dof_given = given.get("dof")
    dof = default_dof if dof_given is None else _real(dof_given, "dof", owner)
    if not dof > 0.0:
        raise ValueError(f"{owner}: prior dof must be > 0; got {dof_given!r}.")

    scale_given = given.get("scale")
    if scale_given is None:
        scale = _default_scale(data_cov, total, n_components, model, rule)
    else:
        scale = _scale(scale_given, rule, n_features, owner)
    return ConjugatePrior(
        model=model,
        shrinkage=float(kappa),
        mean=np.asarray(mean, dtype=np.float64),
        dof=float(dof),
        scale=scale,
    )


def _prior_dict(setting: Any, owner: str) -> dict[str, Any]:
    if isinstance(setting, str) and setting == "default":
        return {}
    if isinstance(setting, Mapping):
        unknown = [k for k in setting if k not in PRIOR_KEYS]
        if unknown:
            raise ValueError(
                f"{owner}: unknown prior key(s) {unknown!r}; a prior dict takes "
                f"{', '.join(PRIOR_KEYS)} (mclust's priorControl arguments)."
            )
        return dict(setting)
    raise ValueError(
        f"{owner}: prior must be None, 'default' or a dict with keys among "
        f"{', '.join(PRIOR_KEYS)}; got {setting!r}."
    )


def _real(value: Any, what: str, owner: str, allow_nan: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: prior {what} must be a number; got {value!r}.")
    x = float(value)
    if math.isinf(x) or (math.isnan(x) and not allow_nan):
        raise ValueError(f"{owner}: prior {what} must be finite; got {value!r}.")
    return x


def _floats(value: Any, message: str) -> FloatArray:
    """``value`` as a float64 array; ValueError with ``message`` if not numeric."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(message) from None


def _vector(value: Any, n_features: int, owner: str) -> FloatArray:
    message = f"{owner}: prior mean must be an array of {n_features} numbers."
    arr = _floats(value, message).reshape(-1)
    if arr.size != n_features or np.any(np.isinf(arr)):
        raise ValueError(
            f"{owner}: prior mean must hold {n_features} finite numbers (one per "
            f"feature); got {value!r}."
        )
    return arr


def _scale(value: Any, rule: PriorRule, n_features: int, owner: str) -> FloatArray:
    arr = _floats(value, f"{owner}: prior scale must be numeric; got {value!r}.")
    if not rule.matrix_scale:
        if (
            arr.size != 1
            or not np.isfinite(arr).all()
            or float(arr.reshape(-1)[0]) <= 0
        ):
            raise ValueError(
                f"{owner}: this model's prior scale is one positive number; got "
                f"{value!r}."
            )
        return np.asarray(float(arr.reshape(-1)[0]))
    if arr.size == 1 and n_features == 1:
        arr = arr.reshape(1, 1)
    if arr.shape != (n_features, n_features) or not np.isfinite(arr).all():
        raise ValueError(
            f"{owner}: this model's prior scale is a ({n_features}, {n_features}) "
            f"symmetric positive definite matrix; got shape {arr.shape}."
        )
    if not np.allclose(arr, arr.T):
        raise ValueError(f"{owner}: the prior scale matrix must be symmetric.")
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{owner}: the prior scale matrix must be positive definite."
        ) from None
    return np.asarray(0.5 * (arr + arr.T))


def _default_scale(
    cov: FloatArray,
    total: float,
    n_components: int,
    model: str,
    rule: PriorRule,
) -> FloatArray:
    """The default scale (mclust's) from the weighted covariance, divisor sum(w) - 1."""
    n_features = cov.shape[0]
    var = np.diagonal(cov).copy()
    if _MODELS[model].multivariate_model is not None:  # E, V
        return np.asarray(float(var[0]) / n_components**2)
    fac = (1.0 / n_components) ** (2.0 / n_features)
    if not rule.matrix_scale:
        return np.asarray(fac * float(np.sum(var)) / n_features)
    if total > n_features:
        return np.asarray(fac * 0.5 * (cov + cov.T))
    return np.asarray(fac * np.diag(var))


def _prior_scatter(prior: ConjugatePrior, n_components: int, d: int) -> FloatArray:
    """``Lambda_k`` as dense ``(K, d, d)`` matrices (summing to the total)."""
    rule = PRIOR_MODELS[prior.model]
    if rule.lambda_kind == "none":
        dense = np.zeros((d, d))
    elif rule.lambda_kind == "matrix":
        dense = np.asarray(prior.scale, dtype=np.float64)
    elif rule.lambda_kind == "trace":
        dense = float(prior.scale) / d * np.eye(d)
    else:
        dense = float(prior.scale) * np.eye(d)
    if not rule.per_component:
        dense = dense / n_components
    return np.broadcast_to(dense, (n_components, d, d))


def _family_shaped(family: CovarianceFamily, dense: FloatArray) -> FloatArray:
    """Dense per-component matrices ``(K, d, d)`` in the family's ``sxx`` shape."""
    if family.matrix:
        return np.asarray(dense.sum(axis=0) if family.shared else dense)
    diagonal = np.diagonal(dense, axis1=1, axis2=2)
    if family.per_feature:
        return np.asarray(diagonal)
    return np.asarray(diagonal.sum(axis=1))


def augment(
    prior: ConjugatePrior,
    family: CovarianceFamily,
    sxx: FloatArray,
    sx: FloatArray,
    nk: FloatArray,
    nk_eps: FloatArray,
    shift: FloatArray,
) -> PriorStatistics:
    """The statistics whose ML covariance estimate is mclust's MAP estimate.

    Parameters
    ----------
    prior : ConjugatePrior
        The resolved prior.
    family : CovarianceFamily
        Covariance family (its flags ``matrix``, ``shared`` and ``per_feature``
        give the shape of ``sxx``).
    sxx, sx, nk : ndarray
        The E-step statistics about ``shift`` (family-shaped ``sxx``).
    nk_eps : ndarray of shape (n_components,)
        ``nk`` plus scikit-learn's tiny offset.
    shift : ndarray of shape (n_features,)
        Centring point of the statistics.

    Returns
    -------
    PriorStatistics
    """
    n_components, d = sx.shape
    rule = PRIOR_MODELS[prior.model]
    kappa = prior.shrinkage
    m = prior.mean - shift
    zeros_sxx = np.zeros_like(sxx)
    pseudo = family.recenter_scatter(
        zeros_sxx, np.full(n_components, kappa), np.zeros_like(sx), -m
    )
    lam = _family_shaped(family, _prior_scatter(prior, n_components, d))
    sxx_aug = sxx + pseudo + lam
    sx_aug = sx + kappa * m
    nk_aug = nk_eps + kappa
    c = float(rule.counts(prior.dof, int(kappa > 0.0), n_components, d))
    divisor = nk_eps + c
    d_aug = sx_aug / nk_aug[:, None]
    mean_offset = d_aug if rule.shrink_means else sx / nk_eps[:, None]
    stats = CovarianceStats(sxx_aug, sx_aug, nk_aug, divisor, d_aug)
    return PriorStatistics(stats, np.asarray(mean_offset))


def log_prior(
    prior: ConjugatePrior,
    family: CovarianceFamily,
    means: FloatArray,
    covariances: FloatArray,
) -> float:
    """Log-density, up to a constant, of the effective prior (module notes).

    ``sum_k [-c_k/2 log det Sigma_k - 1/2 tr(Lambda_k Sigma_k^-1) - kappa/2
    (mu_k - mu_P)^T Sigma_k^-1 (mu_k - mu_P)]``: the quantity that MAP-EM adds
    to the log-likelihood and never decreases (for EEI, whose mclust M-step
    keeps the means unshrunk, it is not guaranteed).

    Parameters
    ----------
    prior : ConjugatePrior
        The resolved prior.
    family : CovarianceFamily
        Covariance family of ``covariances``.
    means : ndarray of shape (n_components, n_features)
        Component means.
    covariances : ndarray
        Family-shaped covariances.

    Returns
    -------
    float
    """
    n_components, d = means.shape
    rule = PRIOR_MODELS[prior.model]
    dense = family.to_dense(covariances, n_components, d)
    lam = _prior_scatter(prior, n_components, d)
    c = float(rule.counts(prior.dof, int(prior.shrinkage > 0.0), n_components, d))
    total = 0.0
    for k in range(n_components):
        chol = np.linalg.cholesky(dense[k])
        log_det = 2.0 * float(np.sum(np.log(np.diagonal(chol))))
        inv = np.linalg.inv(dense[k])
        diff = means[k] - prior.mean
        total -= 0.5 * c * log_det
        total -= 0.5 * float(np.sum(lam[k] * inv))
        total -= 0.5 * prior.shrinkage * float(diff @ inv @ diff)
    return total
