"""Input validation: every bad input gets a clear error before any numeric work.

Each message says what is wrong and how to fix it. Parameter checks are a
declarative table (:data:`PARAMETER_RULES`), separate from the algorithm.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted, validate_data

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import (
    COVARIANCE_TYPES,
    FAMILIES,
    MCLUST_MODEL_NAMES,
    SKLEARN_GROUP,
    CovarianceFamily,
    get_family,
)
from gaussmix.core.frozen import FREEZABLE, is_frozen_value
from gaussmix.core.init import INIT_METHODS

__all__ = [
    "AUTO",
    "FLOAT_OR_INTEGERS",
    "MCLUST_MAX_ITER",
    "MISSING_MCLUST_MAX_ITER",
    "NAN_POLICIES",
    "EMControl",
    "resolve_em_control",
    "MAX_SEED",
    "PARAMETER_RULES",
    "as_float_block",
    "check_2d",
    "check_X",
    "check_allocation",
    "check_finite_rows",
    "check_init_arrays",
    "check_model_size",
    "check_numeric_dtype",
    "check_parameters",
    "check_random_state_value",
    "check_resp_init",
    "check_sample_weight",
    "check_weight_values",
    "describe_value",
    "is_count",
    "memory_limit",
    "nonfinite_rows",
    "resolve_n_threads",
    "weight_shape_error",
]

#: Largest integer seed of a numpy.random.RandomState (and scikit-learn's
#: ``check_random_state``): seeds are integers in ``[0, 2**32 - 1]``.
MAX_SEED: Final = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Rule:
    """A constraint on one constructor parameter (``hint`` ends its error message)."""

    check: Callable[[Any], bool]
    expected: str
    hint: str = ""


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    """A finite real number (not a bool); False for integers too large for a float."""
    if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:  # an integer beyond float's range (about 1.8e308)
        return False


def _too_large_for_float(v: Any) -> bool:
    """An integer (or other real) that float() cannot represent."""
    if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)):
        return False
    try:
        float(v)
    except OverflowError:
        return True
    return False


def describe_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message, shortened (a 400-digit integer...)."""
    if _is_int(value) and abs(int(value)).bit_length() > 64:
        # From the bit length: str() refuses integers of more than 4300 digits.
        magnitude = abs(int(value))
        digits = int(magnitude.bit_length() * math.log10(2)) + 1
        if magnitude < 10 ** (digits - 1):
            digits -= 1
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of {digits} digits"
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_array_or_none(v: Any) -> bool:
    return v is None or isinstance(v, (list, tuple, np.ndarray))


def _is_seed(v: Any) -> bool:
    return _is_int(v) and 0 <= v <= MAX_SEED


def _is_random_state(v: Any) -> bool:
    return v is None or _is_seed(v) or isinstance(v, np.random.RandomState)


#: scikit-learn's ``GaussianMixture`` constructor parameters, in its order (model
#: files of format version 1 store exactly these; the array-API engine honours them).
SKLEARN_PARAMETERS: Final = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "weights_init",
    "means_init",
    "precisions_init",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "n_jobs",
)
#: The default of ``tol``, ``reg_covar`` and ``init_params``: each family's own
#: procedure (see :func:`resolve_em_control`).
AUTO: Final = "auto"
#: What ``nan_policy`` accepts: refuse NaN (the default), EM with missing
#: values, or drop the rows with NaN at fit.
NAN_POLICIES: Final = ("raise", "marginalize", "omit")

#: scikit-learn's EM control, for scikit-learn's covariance names: stop when the
#: mean log-likelihood per sample changes by less than 1e-3, add 1e-6 to every
#: covariance diagonal, start from k-means.
SKLEARN_TOL: Final = 1e-3
SKLEARN_REG_COVAR: Final = 1e-6
SKLEARN_INIT: Final = "kmeans"
#: R mclust's ``emControl()`` and start, for mclust's model names: stop when the
#: log-likelihood's relative change ``|L - L_old| / (1 + |L|)`` is at most 1e-5
#: (mclust's ``tol[1]``), no regularisation, start from the hierarchical tree.
MCLUST_TOL: Final = 1e-5
MCLUST_REG_COVAR: Final = 0.0
MCLUST_INIT: Final = "hc"
#: scikit-learn's iteration limit (also online EM's epochs, for every family).
SKLEARN_MAX_ITER: Final = 100
#: mclust's ``emControl(itmax)`` has no limit (``.Machine$integer.max``); this
#: one only stops a fit that never settles. Small data sets take up to a few
#: hundred iterations at mclust's tolerance (faithful, VVV with 6 components:
#: 214), more than scikit-learn's 100.
MCLUST_MAX_ITER: Final = 10_000
#: The same limit for ``nan_policy="marginalize"`` (mclust has no missing-value EM
#: to follow). Without regularisation, full covariances and many missing values
#: can make the likelihood unbounded: EM then creeps towards a singular covariance
#: for ever (wine, 30% missing completely at random, VVV with 3 components: 8,000
#: iterations and 343 s at 43 ms each, still rising). The limit keeps such a fit
#: to seconds and ends it with a ConvergenceWarning.
MISSING_MCLUST_MAX_ITER: Final = 1_000


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == AUTO


@dataclass(frozen=True, slots=True)
class EMControl:
    """How EM runs for one fit, with every ``"auto"`` resolved.

    Parameters
    ----------
    tol : float
        The tolerance.
    relative : bool
        True: mclust's rule, ``|L - L_old| <= tol (1 + |L|)`` on the total
        log-likelihood ``L``; False: scikit-learn's, ``|l - l_old| < tol`` on the
        mean log-likelihood per sample ``l``.
    reg_covar : float
        Added to every covariance diagonal.
    init_params : str
        The initialisation.
    max_iter : int
        The largest number of EM iterations (epochs of online EM).
    """

    tol: float
    relative: bool
    reg_covar: float
    init_params: str
    max_iter: int


def resolve_em_control(
    covariance_type: str,
    tol: Any = AUTO,
    reg_covar: Any = AUTO,
    init_params: Any = AUTO,
    max_iter: Any = AUTO,
    *,
    online: bool = False,
    missing: bool = False,
) -> EMControl:
    """The EM control of a fit: the family's own procedure where ``"auto"``.

    scikit-learn's four names get scikit-learn's control (so fits equal
    scikit-learn's); mclust's names (its 14 models, E and V) get mclust's, so
    that they give mclust's answers. A value given explicitly wins; an explicit
    ``tol`` keeps scikit-learn's rule (the change of the mean log-likelihood).
    Online EM (``online``) keeps scikit-learn's 100 epochs for every family;
    EM with missing values (``missing``) stops mclust's names after
    :data:`MISSING_MCLUST_MAX_ITER` iterations.
    """
    mclust = get_family(covariance_type).group != SKLEARN_GROUP
    if _is_auto(tol):
        tol_value, relative = (MCLUST_TOL, True) if mclust else (SKLEARN_TOL, False)
    else:
        tol_value, relative = float(tol), False
    reg = MCLUST_REG_COVAR if mclust else SKLEARN_REG_COVAR
    init = MCLUST_INIT if mclust else SKLEARN_INIT
    limit = MCLUST_MAX_ITER if mclust and not online else SKLEARN_MAX_ITER
    if mclust and not online and missing:
        limit = MISSING_MCLUST_MAX_ITER
    return EMControl(
        tol_value,
        relative,
        reg if _is_auto(reg_covar) else float(reg_covar),
        init if _is_auto(init_params) else str(init_params),
        limit if _is_auto(max_iter) else int(max_iter),
    )


PARAMETER_RULES: dict[str, Rule] = {
    "n_components": Rule(lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "covariance_type": Rule(
        lambda v: isinstance(v, str) and v in COVARIANCE_TYPES,
        "one of " + ", ".join(repr(k) for k in FAMILIES),
        "R mclust's model names are accepted too: "
        + ", ".join(repr(k) for k in MCLUST_MODEL_NAMES)
        + ".",
    ),
    "tol": Rule(
        lambda v: _is_auto(v) or (_is_real(v) and v >= 0),
        "'auto' or a finite number >= 0",
    ),
    "reg_covar": Rule(
        lambda v: _is_auto(v) or (_is_real(v) and v >= 0),
        "'auto' or a finite number >= 0",
    ),
    "max_iter": Rule(
        lambda v: _is_auto(v) or (_is_int(v) and v >= 0), "'auto' or an integer >= 0"
    ),
    "n_init": Rule(lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "init_params": Rule(
        lambda v: _is_auto(v) or (isinstance(v, str) and v in INIT_METHODS),
        "'auto' or one of " + ", ".join(repr(m) for m in INIT_METHODS),
    ),
    "weights_init": Rule(
        _is_array_or_none, "None or an array of shape (n_components,)"
    ),
    "means_init": Rule(
        _is_array_or_none, "None or an array of shape (n_components, n_features)"
    ),
    "resp_init": Rule(_is_array_or_none, "None or an array-like"),
    "noise": Rule(
        lambda v: (
            v is None
            or isinstance(v, (bool, np.bool_))
            or (_is_real(v) and float(v) > 0)
        ),
        "None, True, False or a positive hypervolume",
    ),
    "noise_init": Rule(_is_array_or_none, "None or a boolean array of rows"),
    "prior": Rule(
        lambda v: v is None or v == "default" or isinstance(v, dict),
        "None, 'default' or a dict of mclust's priorControl settings",
    ),
    "equal_proportions": Rule(
        lambda v: isinstance(v, (bool, np.bool_)), "True or False"
    ),
    "precisions_init": Rule(_is_array_or_none, "None or an array of precisions"),
    "random_state": Rule(
        _is_random_state,
        "None, an integer in [0, 2**32 - 1] or a numpy.random.RandomState",
        "numpy's RandomState takes seeds in that range only.",
    ),
    "warm_start": Rule(lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "frozen": Rule(
        is_frozen_value,
        "a name or a tuple of names among " + ", ".join(repr(n) for n in FREEZABLE),
        "() freezes nothing; e.g. frozen=('weights', 'covariances').",
    ),
    "verbose": Rule(
        lambda v: isinstance(v, (bool, np.bool_)) or (_is_int(v) and v >= 0),
        "an integer >= 0",
    ),
    "verbose_interval": Rule(lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "batch_size": Rule(
        lambda v: v is None or (_is_int(v) and v >= 1),
        "None (batch EM) or an integer >= 1 (online EM on mini-batches)",
    ),
    "learning_decay": Rule(
        lambda v: _is_real(v) and 0.5 < v <= 1.0,
        "a number in (0.5, 1]",
        "Stepwise EM needs sum(steps) = inf and sum(steps^2) < inf.",
    ),
    "learning_offset": Rule(lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "n_jobs": Rule(
        lambda v: v is None or (_is_int(v) and v != 0),
        "None (all available cores), a positive integer, or -1",
    ),
    "nan_policy": Rule(
        lambda v: isinstance(v, str) and v in NAN_POLICIES,
        "one of " + ", ".join(repr(p) for p in NAN_POLICIES),
        "'marginalize' fits and predicts with NaN as missing values (docs/"
        "missing-values.md); 'omit' drops rows with NaN at fit.",
    ),
}


def check_parameters(params: dict[str, Any], owner: str) -> None:
    """Raise ValueError naming the first parameter that breaks its rule."""
    for name, rule in PARAMETER_RULES.items():
        if name not in params:
            continue
        value = params[name]
        try:
            ok = rule.check(value)
        except OverflowError:
            ok = False
        if not ok:
            hint = f" {rule.hint}" if rule.hint else ""
            if _too_large_for_float(value) and "number" in rule.expected:
                hint = (
                    " It is too large to be a floating-point number (the largest "
                    "is about 1.8e308)." + hint
                )
            raise ValueError(
                f"{owner}: {name} must be {rule.expected}; got "
                f"{describe_value(value)}.{hint}"
            )


def is_count(value: Any, minimum: int) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's, not a bool) >= ``minimum``."""
    return bool(
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and value >= minimum
    )


def check_random_state_value(value: Any, owner: str, what: str) -> None:
    """Raise ValueError unless ``value`` is a valid ``random_state``.

    Valid: None, an integer in ``[0, 2**32 - 1]`` (what numpy's RandomState
    accepts) or a ``numpy.random.RandomState``. ``what`` names the argument.
    """
    if not _is_random_state(value):
        raise ValueError(
            f"{owner}: {what} must be None, an integer in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState; got {describe_value(value)}. numpy's "
            "RandomState takes seeds in that range only."
        )


def resolve_n_threads(n_jobs: int | None) -> int:
    """Number of threads for chunked work: None or -1 means every usable core."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    if n_jobs is None or n_jobs < 0:
        return max(1, available + 1 + (n_jobs if n_jobs is not None else -1))
    return int(n_jobs)


def _describe_non_numeric(X: Any) -> str:
    """Find a column with non-numeric values and show one of them."""
    columns = getattr(X, "columns", None)
    if columns is not None and hasattr(X, "dtypes"):
        for i, (name, dtype) in enumerate(zip(columns, X.dtypes, strict=False)):
            if not (
                np.issubdtype(np.dtype(dtype), np.number) if _plain(dtype) else False
            ):
                col = X.iloc[:, i]
                bad = _first_non_number(list(col))
                if bad is not None:
                    return f"column {i} ({name!r}) holds non-numeric values such as {bad!r}"
        return "some columns are not numeric"
    try:
        arr = np.asarray(X, dtype=object)
    except Exception:  # pragma: no cover - exotic containers
        return "the values are not numbers"
    if arr.ndim == 2:
        for j in range(arr.shape[1]):
            bad = _first_non_number(arr[:, j])
            if bad is not None:
                return f"column {j} holds non-numeric values such as {bad!r}"
    return "the values are not numbers"


def _plain(dtype: Any) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def _first_non_number(values: Any) -> Any:
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            continue
        try:
            float(v)
        except (TypeError, ValueError):
            return v
    return None


def check_X(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    min_samples: int = 2,
    allow_nan: bool = False,
) -> FloatArray:
    """Validate ``X`` and return a float32 or float64 2-D array.

    With ``allow_nan``, NaN values (missing values) are accepted; infinity never.

    Raises
    ------
    ValueError
        For 1-D input (with the ``reshape`` hint), non-numeric values, NaN or
        infinity (with the number of rows and the columns), too few samples,
        or a wrong number of features at predict time.
    TypeError
        For sparse input.
    """
    name = type(estimator).__name__
    if (
        type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in _FLOAT_DTYPES
        and X.shape[0] >= min_samples
        and X.shape[1] >= 1
        and not hasattr(estimator, "feature_names_in_")
    ):
        # A plain float array: what validate_data would check and set, without
        # its container inspection (a fifth of a small model-selection fit).
        if reset:
            estimator.n_features_in_ = X.shape[1]
        else:
            expected = getattr(estimator, "n_features_in_", None)
            if expected is not None:
                check_n_features(X.shape[1], expected, name)
        _check_finite(X, name, allow_nan, hasattr(estimator, "nan_policy"))
        return X
    _check_not_iterator(X, name)
    _check_not_datetime(X, name)
    shape: tuple[int, ...] | None
    if isinstance(X, (list, tuple)):
        rows = np.asarray(X, dtype=object) if len(X) else np.empty(0)
        if (
            rows.ndim == 1
            and rows.size
            and all(isinstance(r, (list, tuple, np.ndarray)) for r in rows)
        ):
            lengths = [len(r) for r in rows]
            short = int(np.argmin(lengths))
            raise ValueError(
                f"{name}: the rows of X have different lengths (row {short} has "
                f"{lengths[short]} values, row 0 has {lengths[0]}); every row needs one "
                "value per feature."
            )
        shape = rows.shape
    else:
        shape = getattr(X, "shape", None)
    if shape is not None and len(shape) < 2:
        # Three or more dimensions get scikit-learn's message (validate_data).
        check_2d(tuple(shape), name, "X", name="X")
    try:
        Xv = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            ensure_min_samples=min_samples,
        )
    except OverflowError:
        raise ValueError(
            f"{name}: X holds a number too large for a float (beyond about 1.8e308, "
            "e.g. a huge Python integer). Scale the data, or check how it was read."
        ) from None
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if (
            "could not convert" in msg
            or ("dtype" in msg and "object" in msg)
            or ("Unable to convert" in msg)
        ):
            raise ValueError(
                f"{name}: X must contain only numbers, but {_describe_non_numeric(X)}. "
                "Encode categorical features (e.g. sklearn.preprocessing.OneHotEncoder) "
                "or drop them."
            ) from None
        raise
    Xv = np.asarray(Xv)
    _check_finite(Xv, name, allow_nan, hasattr(estimator, "nan_policy"))
    return Xv


_FLOAT_DTYPES: Final = (np.dtype(np.float64), np.dtype(np.float32))


def check_n_features(n_features: int, expected: int, name: str) -> None:
    """Refuse data with another number of features than the fitted model's.

    Parameters
    ----------
    n_features : int
        The number of features (columns) of the data.
    expected : int
        The number the model was fitted on (``n_features_in_``).
    name : str
        The estimator, for the message.
    """
    if n_features != expected:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{expected} features as input."
        )


def check_first_batch(n_samples: int, n_components: int, name: str) -> None:
    """Refuse a first ``partial_fit`` batch with fewer rows than components."""
    if n_samples < n_components:
        raise ValueError(
            f"{name}: the first batch of partial_fit initialises the model "
            f"and needs at least n_components = {n_components} rows, "
            f"got {n_samples}."
        )


def check_dask_input(estimator: Any, X: Any) -> None:
    """Refuse a dask array for a prediction of an unfitted or other-width model.

    Parameters
    ----------
    estimator : fitted estimator
        Its ``n_features_in_`` is the width ``X`` must have.
    X : dask array
        The data; only its shape is read (nothing is computed).
    """
    check_is_fitted(estimator)
    if X.ndim == 2:
        check_n_features(X.shape[1], estimator.n_features_in_, type(estimator).__name__)


def _check_not_iterator(X: Any, name: str) -> None:
    """A generator (or other one-pass iterator) is not data: say what to pass."""
    if isinstance(X, Iterator) and not hasattr(X, "__array__"):
        raise TypeError(
            f"{name}: X is a {type(X).__name__} (an iterator), which can be read "
            "only once, but EM reads the data many times. To fit data in chunks, "
            "pass the function that creates the iterator (a chunk factory): "
            "fit(chunks), not fit(chunks()). Other methods take an array: call "
            "partial_fit once per chunk (for chunk in chunks(): "
            "model.partial_fit(chunk)), and give predict, score, ... an array "
            "(e.g. np.concatenate(list(chunks())))."
        )


def _check_not_datetime(X: Any, name: str) -> None:
    """Dates and durations are not measurements EM can model as given."""
    dtypes: list[Any] = []
    dtype = getattr(X, "dtype", None)
    if dtype is not None:
        dtypes.append(dtype)
    column_dtypes = getattr(X, "dtypes", None)
    if column_dtypes is not None and not isinstance(column_dtypes, np.dtype):
        with contextlib.suppress(TypeError):  # an exotic container
            dtypes.extend(list(column_dtypes))
    for dt in dtypes:
        try:
            kind = np.dtype(dt).kind
        except TypeError:  # pandas extension dtypes
            kind = getattr(dt, "kind", "")
        if kind in ("M", "m"):
            what = (
                "dates/times (datetime64)" if kind == "M" else "durations (timedelta64)"
            )
            raise ValueError(
                f"{name}: X holds {what}, which are not numeric features. Convert "
                "them to numbers in a unit you choose first, e.g. "
                "(X - X.min()) / np.timedelta64(1, 'D') for days."
            )


#: Largest magnitude accepted per dtype: the E-step and k-means square the data.
MAX_ABS_VALUE = {np.dtype(np.float64): 1e100, np.dtype(np.float32): 1e15}


def _check_finite(
    X: FloatArray, name: str, allow_nan: bool = False, nan_option: bool = False
) -> None:
    with np.errstate(invalid="ignore"):
        top, bottom = float(np.max(X)), float(np.min(X))
    finite = math.isfinite(top) and math.isfinite(bottom)
    if allow_nan and not finite and not np.isinf(X).any():
        # NaN are missing values here: the checks below read the others.
        observed = X[~np.isnan(X)]
        if observed.size == 0:
            return
        top, bottom = float(np.max(observed)), float(np.min(observed))
    if math.isfinite(top) and math.isfinite(bottom):
        limit = MAX_ABS_VALUE[X.dtype]
        largest = max(abs(top), abs(bottom))
        if largest > limit:
            raise ValueError(
                f"{name}: X has values as large as {largest:.3g} in absolute value; "
                f"squares of such values overflow {X.dtype} (the limit is {limit:.0e}). "
                "Scale the data, e.g. with sklearn.preprocessing.StandardScaler"
                + (", or pass float64 data." if X.dtype == np.float32 else ".")
            )
        return
    bad = np.isinf(X) if allow_nan else ~np.isfinite(X)
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    n_nan = 0 if allow_nan else int(np.count_nonzero(np.isnan(X)))
    n_inf = int(np.count_nonzero(bad)) - n_nan
    kinds = " and ".join(k for k, n in (("NaN", n_nan), ("infinity (inf)", n_inf)) if n)
    col_list = ", ".join(str(int(c)) for c in cols[:10]) + (
        ", ..." if cols.size > 10 else ""
    )
    if allow_nan:
        fix = (
            "NaN values are treated as missing, infinite ones are not: replace them "
            "(e.g. by NaN) or remove those rows before calling this method."
        )
    else:
        fix = (
            "Remove those rows, or impute the missing values (e.g. "
            "sklearn.impute.SimpleImputer), before calling this method."
        )
        if n_nan and nan_option:
            fix += (
                f" Or treat NaN as missing values: {name}(nan_policy="
                "'marginalize') fits and predicts with them (exact EM), and "
                "nan_policy='omit' drops those rows at fit."
            )
    raise ValueError(
        f"{name}: X contains {kinds} in {rows.size} row(s) (first at row "
        f"{int(rows[0])}) and column(s) [{col_list}]. {fix}"
    )


# ------------------------------------------------------------------ 2-D blocks
# One wording for every kind of input: an array given to a method (check_X),
# a chunk of a factory, file or memmap (gaussmix.sources.chunked) and a dask
# array and its blocks (gaussmix.sources.dask). ``subject`` names the input in
# the message ("X", "chunk 3", "the dask array", ...).


def check_2d(
    shape: tuple[int, ...], owner: str, subject: str, *, name: str = "x"
) -> None:
    """Raise a ValueError, with the fix, unless ``shape`` is 2-D.

    ``name`` is the variable the reshape hint shows (``X`` for a method's
    argument, ``x`` for an array the user builds).
    """
    if len(shape) == 2:
        return
    if len(shape) == 1:
        what = f"a 1-D array of shape {shape}"
        hint = (
            f" Reshape your data: use {name}.reshape(-1, 1) if it has a single "
            f"feature, or {name}.reshape(1, -1) if it is a single sample."
        )
    elif len(shape) == 0:
        what, hint = "a scalar", " Pass your samples as rows of a 2-D array."
    else:
        what, hint = f"a {len(shape)}-D array of shape {shape}", ""
    raise ValueError(
        f"{owner}: {subject} is {what}; it must be 2-D (n_samples, n_features).{hint}"
    )


#: How check_numeric_dtype's message says what numbers are accepted, by default.
FLOAT_OR_INTEGERS: Final = (
    " (float32 or float64, or integers, which are converted to float64)"
)


def check_numeric_dtype(
    dtype: np.dtype[Any], owner: str, subject: str, note: str = FLOAT_OR_INTEGERS
) -> None:
    """Raise a ValueError unless ``dtype`` holds numbers (float, int, bool).

    ``note`` follows "it must hold numbers" in the message.
    """
    if dtype.hasobject or dtype.kind not in "fiub":
        raise ValueError(
            f"{owner}: {subject} has dtype {dtype}; it must hold numbers{note}."
        )


def as_float_block(X: npt.NDArray[Any]) -> FloatArray:
    """``X`` as float32 or float64 (other numbers: float64), C-contiguous."""
    if X.dtype not in _FLOAT_DTYPES:
        X = X.astype(np.float64)
    return np.ascontiguousarray(X)


def nonfinite_rows(X: npt.NDArray[Any]) -> IntArray | None:
    """Indices of the rows with NaN or infinity, or None when every value is finite.

    One sum first (finite whenever the values are, unless it overflows); the
    values are scanned only when it is not.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.add.reduce(X, axis=None))):
            return None
    finite = np.isfinite(X).all(axis=1)
    if finite.all():
        return None
    return np.flatnonzero(~finite)


def check_finite_rows(
    X: npt.NDArray[Any],
    owner: str,
    subject: str,
    fix: str,
    *,
    first_row: int = 0,
    where: str = "",
    allow_nan: bool = False,
) -> None:
    """Raise a ValueError naming ``subject`` and its first row with NaN or infinity.

    Rows are numbered from ``first_row``; ``where`` follows the row number
    (e.g. ``" of the chunk"``); ``fix`` ends the message. With ``allow_nan``
    (missing values), only infinity is refused.
    """
    bad = nonfinite_rows(X)
    if bad is not None and allow_nan:
        inf_rows = np.flatnonzero(np.isinf(X[bad]).any(axis=1))
        if inf_rows.size:
            raise ValueError(
                f"{owner}: {subject} contains infinity in {inf_rows.size} rows "
                f"(first: row {first_row + int(bad[inf_rows[0]])}{where}). "
                "Infinite values are not missing values: replace them by NaN or "
                "remove those rows."
            )
        return
    if bad is not None:
        raise ValueError(
            f"{owner}: {subject} contains NaN or infinity in {bad.size} rows "
            f"(first: row {first_row + int(bad[0])}{where}). {fix}"
        )


def check_weight_values(
    w: FloatArray, owner: str, subject: str, note: str = ""
) -> None:
    """Raise a ValueError unless the weights of ``subject`` are finite and >= 0."""
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"{owner}: the sample weights of {subject} must be finite and "
            f"non-negative.{note}"
        )


def weight_shape_error(
    shape: tuple[int, ...],
    n_rows: int,
    owner: str,
    weights: str = "sample_weight",
    data: str = "X",
) -> ValueError:
    """The error for weights that are not one number per row of ``data``."""
    return ValueError(
        f"{owner}: {weights} has shape {shape} but {data} has {n_rows} rows; "
        "pass a 1-D array with one weight per row."
    )


def check_sample_weight(
    sample_weight: Any, n_samples: int, n_components: int | None, name: str
) -> FloatArray | None:
    """Validate sample weights; return float64 weights or None for all ones."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(
        sample_weight, bool
    ):
        try:
            w = np.full(n_samples, float(sample_weight))  # type: ignore[arg-type]
        except OverflowError:
            raise ValueError(
                f"{name}: sample_weight ({describe_value(sample_weight)}) is too "
                "large to be a floating-point number; weights only count relative to "
                "each other, so divide them by a constant."
            ) from None
    else:
        try:
            w = np.asarray(sample_weight, dtype=np.float64)
        except OverflowError:
            raise ValueError(
                f"{name}: sample_weight holds a number too large to be a "
                "floating-point number; weights only count relative to each other, "
                "so divide them by a constant."
            ) from None
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}: sample_weight must be numbers, one per row of X."
            ) from None
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise weight_shape_error(w.shape, n_samples, name)
    nonfinite = ~np.isfinite(w)
    if np.any(nonfinite):
        rows = np.flatnonzero(nonfinite)
        raise ValueError(
            f"{name}: sample_weight contains NaN or infinity in {rows.size} row(s) "
            f"(first at row {int(rows[0])}); weights must be finite."
        )
    negative = w < 0
    if np.any(negative):
        rows = np.flatnonzero(negative)
        raise ValueError(
            f"{name}: sample_weight must be non-negative; found {rows.size} negative "
            f"weight(s) (first at row {int(rows[0])}). Use 0 to ignore a row."
        )
    positive = int(np.count_nonzero(w > 0))
    if positive == 0:
        raise ValueError(
            f"{name}: sample_weight is zero for every row; give some rows a positive weight."
        )
    if n_components is not None and positive < n_components:
        raise ValueError(
            f"{name}: n_components={n_components} needs at least {n_components} rows "
            f"with positive sample_weight, got {positive}. Reduce n_components or "
            "give more rows a positive weight."
        )
    return w


def check_init_arrays(
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
    family: CovarianceFamily,
    n_components: int,
    n_features: int,
    name: str,
) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
    """Validate user-given initial parameters (shape, finiteness, positivity)."""
    weights = means = precisions = None
    if weights_init is not None:
        weights = _as_float_array(weights_init, "weights_init", name)
        if weights.shape != (n_components,):
            raise ValueError(
                f"{name}: weights_init must have shape ({n_components},) (one weight per "
                f"component), got {weights.shape}."
            )
        if np.any(weights < 0) or np.any(weights > 1):
            raise ValueError(
                f"{name}: weights_init must lie in [0, 1]; got min {weights.min():.5g} and "
                f"max {weights.max():.5g}."
            )
        if not np.allclose(np.sum(weights), 1.0):
            raise ValueError(
                f"{name}: weights_init must sum to 1, got sum {np.sum(weights):.5f}. "
                "Normalise it: weights_init / weights_init.sum()."
            )
    if means_init is not None:
        means = _as_float_array(means_init, "means_init", name)
        if means.shape != (n_components, n_features):
            raise ValueError(
                f"{name}: means_init must have shape (n_components, n_features) = "
                f"({n_components}, {n_features}), got {means.shape}."
            )
    if precisions_init is not None:
        precisions = _as_float_array(precisions_init, "precisions_init", name)
        expected = family.covariance_shape(n_components, n_features)
        if precisions.shape != expected:
            raise ValueError(
                f"{name}: precisions_init for covariance_type={family.name!r} must have "
                f"shape {expected}, got {precisions.shape}."
            )
        ok = np.atleast_1d(family.is_positive_definite(precisions))
        if not np.all(ok):
            bad = np.flatnonzero(~ok)
            where = "" if family.shared else f" (component(s) {bad.tolist()})"
            kind = "symmetric positive definite" if family.matrix else "positive"
            raise ValueError(
                f"{name}: precisions_init must be {kind}{where}. Pass precisions "
                "(inverse covariances), e.g. numpy.linalg.inv(covariances) for full "
                "matrices or 1 / variances otherwise."
            )
    return weights, means, precisions


def _as_float_array(value: Any, what: str, name: str) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise ValueError(
            f"{name}: {what} holds a number too large to be a floating-point number."
        ) from None
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {what} must be an array of numbers.") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: {what} contains NaN or infinity.")
    return arr


def check_resp_init(
    resp_init: Any,
    n_samples: int,
    n_components: int,
    init_arrays: tuple[Any, Any, Any],
    owner: str,
) -> FloatArray:
    """Validate initial responsibilities: shape, finite, non-negative, rows sum to 1.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
        The responsibilities as float64.
    """
    if any(a is not None for a in init_arrays):
        raise ValueError(
            f"{owner}: give either resp_init or weights_init/means_init/"
            "precisions_init, not both."
        )
    try:
        resp = np.asarray(resp_init, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{owner}: resp_init must be an array of numbers.") from None
    if resp.shape != (n_samples, n_components):
        raise ValueError(
            f"{owner}: resp_init has shape {resp.shape}, expected (n_samples, "
            f"n_components) = ({n_samples}, {n_components}): one row of "
            "responsibilities per row of X."
        )
    if not np.isfinite(resp).all() or (resp < 0).any():
        raise ValueError(f"{owner}: resp_init must be finite and non-negative.")
    sums = resp.sum(axis=1)
    bad = np.nonzero(np.abs(sums - 1.0) > 1e-6)[0]
    if bad.size:
        raise ValueError(
            f"{owner}: rows of resp_init must sum to 1 (within 1e-6); row(s) "
            f"{bad[:5].tolist()} sum to {sums[bad[:5]].round(6).tolist()}."
        )
    return resp


# ------------------------------------------------------------------ memory
#: Sizes below this are never checked against the machine's memory: the check
#: costs nothing for ordinary models.
ALLOCATION_CHECK_MIN_BYTES: Final = 256 * 2**20


@functools.lru_cache(maxsize=1)
def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2, then v1), if any."""
    for path in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def memory_limit() -> int | None:
    """The most memory this process can have, in bytes (None: unknown).

    The smallest of the physical memory, the address-space limit
    (``RLIMIT_AS``) and the cgroup's limit, where known.
    """
    limits: list[int] = []
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page_size > 0:
            limits.append(pages * page_size)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(int(soft))
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    cgroup = _cgroup_limit()
    if cgroup is not None:
        limits.append(cgroup)
    return min(limits) if limits else None


def _format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_allocation(n_bytes: int, what: str, owner: str, hint: str) -> None:
    """Raise ValueError if ``n_bytes`` can never fit in this process's memory.

    ``n_bytes`` is a lower bound of what is about to be allocated (Python
    integers: no overflow), ``what`` says what for, ``hint`` how to need less.
    Below :data:`ALLOCATION_CHECK_MIN_BYTES` nothing is checked.
    """
    if n_bytes < ALLOCATION_CHECK_MIN_BYTES:
        return
    limit = memory_limit()
    if limit is None or n_bytes <= limit:
        return
    raise ValueError(
        f"{owner}: {what} needs at least {_format_bytes(n_bytes)} of memory, more "
        f"than this process can have ({_format_bytes(limit)}). {hint}"
    )


def model_bytes(family: CovarianceFamily, n_components: int, n_features: int) -> int:
    """A lower bound of the memory a fit of this model size needs, in bytes.

    At the same time a fit holds the statistics of a pass (``n_moments``
    numbers) and the covariances, their precision factors and the precisions
    (three arrays of the family's covariance shape); the 'full' family also
    builds the indices of a packed upper triangle (``np.triu_indices``: a
    ``D x D`` boolean mask, then three arrays of ``D (D + 1) / 2`` entries).
    """
    cov_entries = math.prod(family.covariance_shape(n_components, n_features))
    total = 8 * (family.n_moments(n_components, n_features) + 3 * cov_entries)
    if family.matrix and not family.shared:
        packed = n_features * (n_features + 1) // 2
        total += n_features * n_features + 24 * packed
    return total


def check_model_size(
    family: CovarianceFamily, n_components: int, n_features: int, owner: str
) -> None:
    """Raise a clear ValueError before a fit that cannot fit in memory.

    Cheap (integer arithmetic; the machine's limit is read only for models of
    at least :data:`ALLOCATION_CHECK_MIN_BYTES`), and never refuses a model
    that could fit: the estimate is a lower bound (:func:`model_bytes`).
    """
    hint = (
        "Use covariance_type='diag' or 'spherical' (memory linear in n_features), "
        "or fewer features (e.g. sklearn.decomposition.PCA)."
        if family.matrix
        else "Use fewer components or features (e.g. sklearn.decomposition.PCA)."
    )
    check_allocation(
        model_bytes(family, n_components, n_features),
        f"a covariance_type={family.name!r} model with n_components={n_components} "
        f"and n_features={n_features}",
        owner,
        hint,
    )
