"""scikit-learn's array-API dispatch for :class:`gaussmix.GaussianMixture`.

With ``sklearn.config_context(array_api_dispatch=True)`` and data of another
array namespace than NumPy (array-api-strict, torch, CuPy, ...), ``fit``,
``fit_predict``, ``predict``, ``predict_proba``, ``score_samples``, ``score``,
``bic``, ``aic`` and ``sample`` compute in that namespace, on the data's device,
and return its arrays; the fitted attributes are arrays of that namespace and
device, as in scikit-learn. The EM itself is :mod:`gaussmix.core.xp_em`.

Without dispatch, or with NumPy data, none of this runs: the estimator's
entry points ask :func:`dispatched` (one configuration look-up) and go on with
the NumPy engine unchanged. docs/array-api.md says what is supported.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Final

import numpy as np
from sklearn import get_config
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gaussmix._validation import (
    SKLEARN_PARAMETERS,
    check_n_features,
    check_parameters,
    resolve_em_control,
)
from gaussmix.core.covariance import SKLEARN_GROUP, family_names, get_family
from gaussmix.core.family import CovarianceFamily
from gaussmix.core.xp_em import (
    XPParams,
    covariances_from_cholesky,
    device_of,
    estimate_parameters,
    initial_resp,
    log_prob_norm_resp,
    mean_log_likelihood,
    precisions_cholesky_from_precisions,
    precisions_from_cholesky,
    weighted_log_prob,
    widest_float,
)
from gaussmix.fitting import warn_not_converged
from gaussmix.model import MixtureModel
from gaussmix.sources import is_dask_array

__all__ = [
    "INIT_METHODS",
    "SUPPORTED_PARAMETERS",
    "check_numpy_model",
    "dispatched",
    "fit",
    "fitted_in_namespace",
    "is_namespace_array",
    "n_parameters",
    "predict",
    "sample",
    "to_host",
    "weighted_mean",
    "weighted_sum",
    "xp_prediction",
]

#: ``init_params`` the array-API engine runs (all in the data's namespace).
INIT_METHODS: Final = ("kmeans", "k-means++", "random", "random_from_data")
#: Constructor parameters the array-API engine honours; any other must keep its
#: default (``learning_*`` act only with ``batch_size``, ``n_jobs`` is ignored:
#: the namespace schedules its own work).
SUPPORTED_PARAMETERS: Final = frozenset(
    (*SKLEARN_PARAMETERS, "learning_decay", "learning_offset")
)
_INIT_ARRAYS: Final = ("weights_init", "means_init", "precisions_init")
_FITTED: Final = ("weights_", "means_", "covariances_", "precisions_cholesky_")
_HOST: Final = (*_FITTED, "precisions_")


# --------------------------------------------------------------- dispatch
def is_namespace_array(value: Any) -> bool:
    """Whether ``value`` is an array of an array-API namespace other than NumPy.

    Dask arrays are not: gaussmix fits them with its own distributed engine.
    """
    if value is None or isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return False
    from array_api_compat import is_array_api_obj

    return bool(is_array_api_obj(value)) and not is_dask_array(value)


def dispatched(*arrays: Any) -> bool:
    """Whether a call with these arrays runs in their namespace.

    True when scikit-learn's ``array_api_dispatch`` is on and one of them is an
    array of a namespace other than NumPy.
    """
    if not get_config().get("array_api_dispatch", False):
        return False
    return any(is_namespace_array(a) for a in arrays)


def fitted_in_namespace(estimator: Any) -> bool:
    """Whether the fitted attributes are arrays of a namespace other than NumPy."""
    means = estimator.__dict__.get("means_")
    return (
        means is not None
        and type(means) is not np.ndarray
        and (is_namespace_array(means))
    )


def xp_prediction(estimator: Any, X: Any) -> bool:
    """Whether a prediction on ``X`` runs here (and not in the NumPy engine)."""
    if type(X) is np.ndarray and type(estimator.__dict__.get("means_")) is np.ndarray:
        return False
    return fitted_in_namespace(estimator) or dispatched(X)


def check_numpy_model(estimator: Any) -> None:
    """Raise a clear error where a NumPy-only method meets a model fitted in ``xp``."""
    if fitted_in_namespace(estimator):
        xp = _namespace(estimator.means_)
        raise TypeError(
            f"{type(estimator).__name__} was fitted under array_api_dispatch on "
            f"{_name(xp)} arrays; this method computes with NumPy. Under "
            "sklearn.config_context(array_api_dispatch=True) with arrays of that "
            "namespace, fit, fit_predict, predict, predict_proba, score_samples, "
            "score, bic, aic and sample work; or fit on NumPy data to use the "
            "others (docs/array-api.md)."
        )


def _namespace(*arrays: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(*arrays)


def _name(xp: Any) -> str:
    return str(getattr(xp, "__name__", xp)).replace("array_api_compat.", "")


def to_host(x: Any) -> np.ndarray:
    """A NumPy copy of a (small) array of any namespace and device (DLPack)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(np.from_dlpack(x, device="cpu"))
    except (AttributeError, TypeError, NotImplementedError, BufferError, ValueError):
        # No DLPack copy to the host: no ``__dlpack__`` (AttributeError), a producer
        # older than DLPack 1.0 that refuses ``dl_device`` (TypeError), or one that
        # cannot export this array or copy it across devices (NotImplementedError,
        # BufferError, ValueError, depending on the library). NumPy's own
        # conversion is the fallback; for an array it cannot reach either (a CUDA
        # tensor without DLPack copies) it raises its own TypeError.
        return np.asarray(x)


def _to_namespace(value: Any, xp: Any, like: Any, what: str, owner: str) -> Any:
    """``value`` (NumPy, a list or an array of ``xp``) on ``like``'s device."""
    if is_namespace_array(value):
        if _namespace(value) is not xp:
            raise ValueError(
                f"{owner}: {what} is a {_name(_namespace(value))} array but X is a "
                f"{_name(xp)} array; give both in one namespace."
            )
        if device_of(value) != device_of(like):
            raise ValueError(
                f"{owner}: {what} is on device {device_of(value)!r} but X is on "
                f"{device_of(like)!r}; move it with xp.asarray({what}, "
                "device=device(X))."
            )
        return value
    try:
        host = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {what} must be an array of numbers.") from None
    return xp.asarray(host, device=device_of(like))


# ------------------------------------------------------------- validation
_DEFAULTS: dict[type, dict[str, Any]] = {}


def _defaults(cls: type) -> dict[str, Any]:
    found = _DEFAULTS.get(cls)
    if found is None:
        signature = inspect.signature(cls.__init__)  # type: ignore[misc]
        found = {
            name: p.default
            for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        _DEFAULTS[cls] = found
    return found


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):
        return False


def _check_options(estimator: Any) -> tuple[CovarianceFamily, Any]:
    """The family and the resolved EM control; clear errors for what is not supported."""
    owner = type(estimator).__name__
    params = estimator.get_params(deep=False)
    plain = {k: (None if k in _INIT_ARRAYS else v) for k, v in params.items()}
    check_parameters(plain, owner)
    family = get_family(params["covariance_type"])
    if family.group != SKLEARN_GROUP:
        names = ", ".join(repr(n) for n in family_names(SKLEARN_GROUP))
        raise ValueError(
            f"{owner}: covariance_type={family.name!r} (an mclust model) is not "
            f"supported under array_api_dispatch; the covariance types that are: "
            f"{names}. Use one of them, or fit NumPy data (or disable "
            "array_api_dispatch) for mclust's models."
        )
    defaults = _defaults(type(estimator))
    unsupported = [
        name
        for name, value in params.items()
        if name not in SUPPORTED_PARAMETERS
        and name in defaults
        and not _is_default(value, defaults[name])
    ]
    if unsupported:
        listed = ", ".join(f"{n}={params[n]!r}" for n in sorted(unsupported))
        raise ValueError(
            f"{owner}: {listed} is not supported under array_api_dispatch (the "
            "array-API engine fits the plain model). Keep the default, or fit "
            "NumPy data (or disable array_api_dispatch) for it."
        )
    control = resolve_em_control(
        family.name,
        params["tol"],
        params["reg_covar"],
        params["init_params"],
        params["max_iter"],
        online=False,
    )
    if control.init_params not in INIT_METHODS:
        options = ", ".join(repr(m) for m in INIT_METHODS)
        raise ValueError(
            f"{owner}: init_params={control.init_params!r} is not supported under "
            f"array_api_dispatch; use one of {options}."
        )
    return family, control


def _check_X(estimator: Any, X: Any, *, reset: bool, min_samples: int) -> Any:
    """``X`` validated in its namespace: 2-D, float32 or float64, finite."""
    owner = type(estimator).__name__
    xp = _namespace(X)
    if X.ndim != 2:
        raise ValueError(
            f"{owner}: expected a 2-D array, got {X.ndim}-D with shape "
            f"{tuple(X.shape)}. Reshape your data with X.reshape(-1, 1) for one "
            "feature or X.reshape(1, -1) for one sample."
        )
    if X.dtype not in (xp.float32, xp.float64):
        if not xp.isdtype(X.dtype, ("integral", "bool", "real floating")):
            raise ValueError(f"{owner}: X must hold real numbers, got {X.dtype}.")
        X = xp.astype(X, widest_float(xp, X))
    n_samples, n_features = X.shape
    if n_samples < min_samples or n_features < 1:
        raise ValueError(
            f"{owner}: found array with {n_samples} sample(s) and {n_features} "
            f"feature(s) while a minimum of {min_samples} sample(s) and 1 feature "
            "is required."
        )
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(
            f"{owner}: X contains NaN or infinity; remove or impute those values."
        )
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            delattr(estimator, "feature_names_in_")
    else:
        check_n_features(n_features, estimator.n_features_in_, owner)
    return X


def _check_sample_weight(xp: Any, X: Any, sample_weight: Any, owner: str) -> Any:
    if sample_weight is None:
        return None
    w = _to_namespace(sample_weight, xp, X, "sample_weight", owner)
    if w.ndim != 1 or w.shape[0] != X.shape[0]:
        raise ValueError(
            f"{owner}: sample_weight must have shape ({X.shape[0]},) (one weight per "
            f"row of X), got {tuple(w.shape)}."
        )
    w = xp.astype(w, X.dtype)
    if not bool(xp.all(xp.isfinite(w))) or bool(xp.any(w < 0)):
        raise ValueError(f"{owner}: sample_weight must be finite and non-negative.")
    top = float(xp.max(w))
    if top <= 0:
        raise ValueError(f"{owner}: sample_weight must have a positive value.")
    # EM depends only on the ratios of the weights.
    return w / top


def _init_arrays(
    estimator: Any, xp: Any, X: Any, family: CovarianceFamily
) -> tuple[Any, Any, Any]:
    """``weights_init``, ``means_init`` and ``precisions_init`` checked, in ``xp``."""
    owner = type(estimator).__name__
    k, d = estimator.n_components, X.shape[1]
    out: list[Any] = []
    shapes = {
        "weights_init": (k,),
        "means_init": (k, d),
        "precisions_init": family.covariance_shape(k, d),
    }
    for what in _INIT_ARRAYS:
        value = getattr(estimator, what)
        if value is None:
            out.append(None)
            continue
        arr = xp.astype(_to_namespace(value, xp, X, what, owner), X.dtype)
        if tuple(arr.shape) != shapes[what]:
            raise ValueError(
                f"{owner}: {what} must have shape {shapes[what]}, got "
                f"{tuple(arr.shape)}."
            )
        if not bool(xp.all(xp.isfinite(arr))):
            raise ValueError(f"{owner}: {what} contains NaN or infinity.")
        out.append(arr)
    weights, means, precisions = out
    if weights is not None:
        if bool(xp.any(weights < 0)) or bool(xp.any(weights > 1)):
            raise ValueError(f"{owner}: weights_init must lie in [0, 1].")
        total = float(xp.sum(weights))
        atol = 1e-6 if X.dtype == xp.float32 else 1e-8
        if abs(total - 1.0) > atol + 1e-5:
            raise ValueError(
                f"{owner}: weights_init must sum to 1, got sum {total:.5f}. "
                "Normalise it: weights_init / weights_init.sum()."
            )
        weights = weights / xp.sum(weights)
    if precisions is not None and not family.matrix and bool(xp.any(precisions <= 0)):
        raise ValueError(f"{owner}: precisions_init must be positive.")
    return weights, means, precisions


# -------------------------------------------------------------------- fit
def _start(
    estimator: Any,
    xp: Any,
    X: Any,
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
    family: CovarianceFamily,
    control: Any,
    random_state: np.random.RandomState,
    sample_weight: Any,
    host_weights: Any,
) -> XPParams:
    """Initial parameters: from ``init_params``, with the given arrays in their place."""
    given = (weights_init, means_init, precisions_init)
    params = None
    if any(a is None for a in given):
        resp = initial_resp(
            xp,
            X,
            estimator.n_components,
            control.init_params,
            random_state,
            sample_weight,
            host_weights,
        )
        params = estimate_parameters(
            xp, X, resp, control.reg_covar, family, sample_weight
        )
    weights = (
        weights_init if params is None or weights_init is not None else params.weights
    )
    means = means_init if params is None or means_init is not None else params.means
    if precisions_init is None:
        assert params is not None
        return XPParams(weights, means, params.covariances, params.precisions_cholesky)
    return XPParams(
        weights,
        means,
        None,
        precisions_cholesky_from_precisions(xp, precisions_init, family),
    )


def fit(estimator: Any, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
    """Fit ``estimator`` in the namespace of ``X``; the labels with ``want_labels``.

    The EM of scikit-learn's ``GaussianMixture`` (``tol`` on the change of the
    mean log-likelihood, ``n_init`` starts, ``warm_start``), every step in the
    namespace of ``X`` (:mod:`gaussmix.core.xp_em`).
    """
    owner = type(estimator).__name__
    if not is_namespace_array(X):
        names = [
            name
            for name, value in zip(
                (*_INIT_ARRAYS, "sample_weight"),
                (*(getattr(estimator, n) for n in _INIT_ARRAYS), sample_weight),
                strict=True,
            )
            if is_namespace_array(value)
        ]
        raise ValueError(
            f"{owner}: {', '.join(names)} is an array of another namespace than "
            "NumPy but X is not; under array_api_dispatch the namespace of X "
            "decides where the fit runs. Give X in that namespace too, or NumPy "
            "arrays throughout."
        )
    family, control = _check_options(estimator)
    X = _check_X(estimator, X, reset=True, min_samples=2)
    xp = _namespace(X)
    n_samples = X.shape[0]
    k = estimator.n_components
    if n_samples < k:
        raise ValueError(
            f"{owner}: n_components={k} needs at least {k} samples, got "
            f"n_samples = {n_samples}. Reduce n_components or provide more data."
        )
    weights = _check_sample_weight(xp, X, sample_weight, owner)
    host_weights = None
    if weights is not None and control.init_params == "random_from_data":
        host_weights = to_host(weights).astype(np.float64)  # choice() needs them
    init_arrays = _init_arrays(estimator, xp, X, family)
    warm = _warm_params(estimator, xp, X, family)
    random_state = check_random_state(estimator.random_state)
    n_init = estimator.n_init if warm is None else 1
    verbose = int(estimator.verbose)
    best: tuple[float, XPParams, int, list[float], bool] | None = None
    for init in range(n_init):
        if verbose:
            print(f"Initialization {init}")
        if warm is None:
            params = _start(
                estimator,
                xp,
                X,
                *init_arrays,
                family,
                control,
                random_state,
                weights,
                host_weights,
            )
            lower_bound = -math.inf
        else:
            params, lower_bound = warm
        bounds: list[float] = []
        converged = False
        n_iter = 0
        if control.max_iter == 0:
            lower_bound = -math.inf
        for n_iter in range(1, control.max_iter + 1):
            previous = lower_bound
            log_norm, log_resp = log_prob_norm_resp(xp, X, params, family)
            lower_bound = mean_log_likelihood(xp, log_norm, weights)
            params = estimate_parameters(
                xp, X, xp.exp(log_resp), control.reg_covar, family, weights
            )
            bounds.append(lower_bound)
            change = lower_bound - previous
            if verbose and n_iter % int(estimator.verbose_interval) == 0:
                print(f"  Iteration {n_iter}\t ll change {change:.5f}")
            if abs(change) < control.tol:
                converged = True
                break
        if verbose:
            state = "converged" if converged else "did not converge"
            print(f"Initialization {state}. lower bound {lower_bound:.5f}.")
        if best is None or lower_bound > best[0] or best[0] == -math.inf:
            best = (lower_bound, params, n_iter, bounds, converged)
    assert best is not None
    lower_bound, params, n_iter, bounds, converged = best
    if not converged and control.max_iter > 0:
        warn_not_converged()
    _set_fitted(estimator, xp, params, family, n_iter, lower_bound, bounds, converged)
    if not want_labels:
        return None
    return xp.argmax(weighted_log_prob(xp, X, params, family), axis=1)


def _warm_params(
    estimator: Any, xp: Any, X: Any, family: CovarianceFamily
) -> tuple[XPParams, float] | None:
    """The fitted state to continue from (``warm_start``), in ``xp`` on X's device."""
    if not (estimator.warm_start and hasattr(estimator, "converged_")):
        return None
    owner = type(estimator).__name__
    arrays = [
        xp.astype(_to_namespace(getattr(estimator, a), xp, X, a, owner), X.dtype)
        for a in _FITTED
    ]
    return XPParams(*arrays), float(estimator.lower_bound_)


def _set_fitted(
    estimator: Any,
    xp: Any,
    params: XPParams,
    family: CovarianceFamily,
    n_iter: int,
    lower_bound: float,
    bounds: list[float],
    converged: bool,
) -> None:
    covariances = params.covariances
    if covariances is None:
        covariances = covariances_from_cholesky(xp, params.precisions_cholesky, family)
    with estimator._lock("_params_lock"):
        for attr in (
            "noise_weight_",
            "noise_log_density_",
            "noise_box_axes_",
            "noise_box_bounds_",
            "prior_",
        ):
            if hasattr(estimator, attr):
                delattr(estimator, attr)
        estimator._online_state = None
        estimator.weights_ = params.weights
        estimator.means_ = params.means
        estimator.covariances_ = covariances
        estimator.precisions_cholesky_ = params.precisions_cholesky
        estimator.precisions_ = precisions_from_cholesky(
            xp, params.precisions_cholesky, family
        )
        estimator.converged_ = bool(converged)
        estimator.n_iter_ = int(n_iter)
        estimator.lower_bound_ = float(lower_bound)
        estimator.lower_bounds_ = [float(v) for v in bounds]


# ------------------------------------------------------------ predictions
def _fitted_params(estimator: Any, xp: Any, X: Any) -> XPParams:
    """The fitted parameters in ``X``'s namespace and device (NumPy ones are moved)."""
    owner = type(estimator).__name__
    with estimator._lock("_params_lock"):
        values = [getattr(estimator, a) for a in _FITTED]
    if hasattr(estimator, "noise_log_density_"):
        raise ValueError(
            f"{owner}: a model with a noise component predicts with NumPy only; "
            "call it on NumPy data or outside array_api_dispatch."
        )
    arrays = []
    for what, value in zip(_FITTED, values, strict=True):
        if is_namespace_array(value) and _namespace(value) is not xp:
            raise ValueError(
                f"{owner} was fitted on {_name(_namespace(value))} arrays but X is a "
                f"{_name(xp)} array; predict with arrays of the namespace it was "
                "fitted in."
            )
        arrays.append(xp.astype(_to_namespace(value, xp, X, what, owner), X.dtype))
    return XPParams(*arrays)


def predict(estimator: Any, X: Any, method: str) -> Any:
    """``score_samples``, ``predict`` or ``predict_proba`` of ``X`` in its namespace."""
    check_is_fitted(estimator)
    owner = type(estimator).__name__
    if not dispatched(X):
        xp = _namespace(estimator.means_)
        raise ValueError(
            f"{owner} was fitted under array_api_dispatch on {_name(xp)} arrays; "
            f"call {method} inside sklearn.config_context(array_api_dispatch=True) "
            "with arrays of that namespace (docs/array-api.md)."
        )
    X = _check_X(estimator, X, reset=False, min_samples=1)
    xp = _namespace(X)
    family = get_family(estimator.covariance_type)
    params = _fitted_params(estimator, xp, X)
    if method == "predict":
        return xp.argmax(weighted_log_prob(xp, X, params, family), axis=1)
    log_norm, log_resp = log_prob_norm_resp(xp, X, params, family)
    if method == "score_samples":
        return log_norm
    return xp.exp(log_resp)


def n_parameters(estimator: Any) -> int:
    """Free parameters of a model fitted in a namespace (from its shapes only)."""
    k, d = estimator.means_.shape
    return int(get_family(estimator.covariance_type).n_parameters(int(k), int(d)))


def weighted_sum(values: Any, sample_weight: Any) -> tuple[float, float, float]:
    """``(sum w values, sum w, log sum w)`` of a namespace array, as floats."""
    xp = _namespace(values)
    if sample_weight is None:
        n = float(values.shape[0])
        return float(xp.sum(values)), n, math.log(n)
    w = xp.astype(
        _to_namespace(sample_weight, xp, values, "sample_weight", ""), values.dtype
    )
    total = float(xp.sum(w))
    return float(xp.sum(values * w)), total, math.log(total)


def weighted_mean(values: Any, sample_weight: Any) -> float:
    """The (weighted) mean of a namespace array, as a float."""
    value, total, _ = weighted_sum(values, sample_weight)
    return value / total


def sample(estimator: Any, n_samples: int, random_state: Any) -> tuple[Any, Any]:
    """Draws from a model fitted in a namespace, returned on its device.

    The array API has no random numbers: as scikit-learn, the draws are made on
    the host with NumPy's ``RandomState`` from the parameters copied there (the
    NumPy engine's draws, so equal seeds give equal samples), then moved to the
    model's device, in the widest float dtype it has; labels are int64.
    """
    xp = _namespace(estimator.means_)
    device = device_of(estimator.means_)
    family = get_family(estimator.covariance_type)
    with estimator._lock("_params_lock"):
        host = {a: to_host(getattr(estimator, a)).astype(np.float64) for a in _HOST}
    model = MixtureModel(
        covariance_type=family.name,
        weights=host["weights_"],
        means=host["means_"],
        covariances=host["covariances_"],
        precisions_cholesky=host["precisions_cholesky_"],
        precisions=host["precisions_"],
    )
    rng = check_random_state(random_state)
    X, y = model.sample(n_samples, rng)
    dtype = widest_float(xp, estimator.means_)
    return (
        xp.asarray(X, dtype=dtype, device=device),
        xp.asarray(y.astype(np.int64), device=device),
    )
