"""Safe model files: save and load a fitted :class:`GaussianMixture` without pickle.

A model file is one uncompressed ``.npz`` archive (a zip of ``.npy`` arrays)
holding the fitted arrays and a JSON header, itself stored as a ``uint8`` array
of UTF-8 bytes under the key ``header.json``. Nothing in it is ever unpickled:
:func:`load` reads with ``numpy.load(..., allow_pickle=False)`` and checks the
archive, the header and every array (dtypes, shapes, finiteness, weights,
positive definiteness, agreement of precisions and covariances) before it builds
a model. The format, its versioning policy and the exact checks are described in
``docs/model-format.md``.

Files are written deterministically (fixed zip timestamps, fixed key order), so
saving a loaded model gives the same bytes again, and atomically (a temporary
file in the same directory renamed over the target), so a failed save never
leaves half a file behind.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final, NoReturn

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError

from gaussmix._archive import ArchiveError as _Invalid
from gaussmix._archive import NpzArchive, open_npz, write_atomically
from gaussmix._archive import write_npz as _write_zip
from gaussmix._typing import FloatArray
from gaussmix._validation import (
    PARAMETER_RULES,
    SKLEARN_PARAMETERS,
    Rule,
    check_init_arrays,
    describe_value,
)
from gaussmix._version import __version__
from gaussmix.bayesian import BayesianGaussianMixture, build_fitted_bayesian
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.frozen import FREEZABLE, as_frozen
from gaussmix.core.noise import NoiseBox
from gaussmix.core.prior import PRIOR_KEYS, PRIOR_MODELS, mclust_model_name
from gaussmix.core.variational import (
    DIRICHLET_PROCESS,
    VariationalParams,
    VariationalPrior,
    point_weights,
)
from gaussmix.mixture import GaussianMixture, build_fitted
from gaussmix.model import FitInfo, MixtureModel

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]

#: Value of the header's ``format`` field.
FORMAT_NAME: Final = "gaussmix-model"
#: Format version written by :func:`save`; :func:`load` reads this one and older.
FORMAT_VERSION: Final = 2

HEADER_KEY: Final = "header.json"
#: Fitted parameter arrays, all float32 or all float64 (the training data's dtype).
PARAMETER_ARRAYS: Final = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
)
LOWER_BOUNDS_KEY: Final = "lower_bounds_"
#: Constructor parameters that hold arrays; stored under ``params.<name>``.
ARRAY_PARAMS: Final = ("weights_init", "means_init", "precisions_init")
#: Constructor parameters stored by format version 1, in constructor order.
PARAMS_V1: Final = SKLEARN_PARAMETERS
#: Constructor parameters that are never stored (null, with a note, when set):
#: they describe the training rows, not the model.
NOT_STORED_PARAMS: Final = ("resp_init", "noise_init")
_NOTE_NOT_STORED: Final = (
    "{name} (the start of the fit on the training rows) is not stored; it is null here"
)

#: Header fields of format version 1, in the order they are written.
HEADER_FIELDS_V1: Final = (
    "format",
    "format_version",
    "library_version",
    "class_name",
    "covariance_type",
    "n_components",
    "n_features_in_",
    "feature_names_in_",
    "params",
    "converged_",
    "n_iter_",
    "lower_bound_",
    "notes",
)

#: Optional header fields of format version 2, written after ``lower_bound_``
#: only for a model with a noise component (both or neither).
NOISE_FIELDS: Final = ("noise_weight_", "noise_log_density_")
#: Arrays of the noise component's box (only with a noise component), float64.
NOISE_ARRAYS: Final = ("noise_box_axes_", "noise_box_bounds_")
#: Optional header field of format version 2: the resolved prior (only for a
#: model fitted with ``prior``). Its ``mean`` and ``scale`` are the arrays
#: ``prior_.mean`` and ``prior_.scale``.
PRIOR_FIELD: Final = "prior_"
#: A ``prior`` parameter given as a dict stores ``mean`` (and a matrix
#: ``scale``) as the arrays ``params.prior.mean`` and ``params.prior.scale``.
PRIOR_PARAM_ARRAYS: Final = ("mean", "scale")

#: ``class_name`` of a variational Bayesian model (format version 2 reads both).
BAYESIAN_CLASS: Final = "BayesianGaussianMixture"
#: Header field of a Bayesian model (required then, refused otherwise): the
#: resolved scalar priors, as numbers.
BAYESIAN_FIELD: Final = "bayesian"
BAYESIAN_SCALARS: Final = (
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "degrees_of_freedom_prior_",
)
#: Also in the ``bayesian`` field: the length of ``lower_bounds_``, which for a
#: Bayesian model need not be ``n_iter_`` (a ``partial_fit`` after a ``fit``
#: with ``batch_size`` appends step estimates to the epochs' bounds).
N_LOWER_BOUNDS: Final = "n_lower_bounds"
#: Constructor parameters of BayesianGaussianMixture that may hold arrays.
BAYESIAN_ARRAY_PARAMS: Final = ("mean_prior", "covariance_prior")
#: The two Beta parameter arrays of a Dirichlet process's weight_concentration_.
STICK_ARRAYS: Final = ("weight_concentration_.0", "weight_concentration_.1")
#: Arrays of a Bayesian model's posterior and resolved priors (float64); the
#: Dirichlet process stores :data:`STICK_ARRAYS` instead of weight_concentration_.
BAYESIAN_ARRAYS: Final = (
    "weight_concentration_",
    *STICK_ARRAYS,
    "mean_precision_",
    "degrees_of_freedom_",
    "mean_prior_",
    "covariance_prior_",
)
#: ``|weights_ - point_weights(weight_concentration_)|`` may be up to this
#: times the weight (or 4 eps of weights_'s dtype, if larger).
BAYESIAN_WEIGHT_RTOL: Final = 1e-9

#: Tolerance of the noise box checks: orthonormal axes and the box's volume
#: against ``noise_log_density_`` (relative), both computed in float64.
NOISE_BOX_RTOL: Final = 1e-9

#: Componentwise tolerance factor of the precision checks: residuals may reach
#: ``CONSISTENCY_FACTOR * (n_features + 2) * eps`` times their rounding scale.
#: Fitted models stay below 0.5 of that scale (measured down to condition
#: numbers of 1e22 in float32), so the factor leaves a margin of about 8.
CONSISTENCY_FACTOR: Final = 4.0
#: ``|sum(weights_) - 1|`` may be up to ``max(WEIGHT_SUM_ATOL, 4 K eps)``.
WEIGHT_SUM_ATOL: Final = 1e-6

_NOTE_RANDOM_STATE: Final = (
    "random_state was a numpy.random.RandomState instance, which is not stored; "
    "it is null here, so the loaded model has random_state=None"
)


def _fail(message: str) -> NoReturn:
    raise _Invalid(message)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _show(value: object) -> str:
    """A header value in a message: repr, shortened (a 400-digit integer...)."""
    return _one_line(describe_value(value, limit=80))


#: Largest n_components, n_features_in_ or n_iter_ a header may declare: any
#: array of that many entries would be far larger than any model file.
MAX_HEADER_COUNT: Final = 2**40


# ----------------------------------------------------------------- save


def save(
    model: GaussianMixture | BayesianGaussianMixture,
    file: str | os.PathLike[str] | IO[bytes],
) -> None:
    """Write a fitted model to a gaussmix model file (a pickle-free ``.npz``).

    The model is checked exactly as :func:`load` checks a file, so a file that
    ``save`` writes can always be loaded. Writing is deterministic: the same
    model gives the same bytes.

    Parameters
    ----------
    model : GaussianMixture or BayesianGaussianMixture
        A fitted :class:`gaussmix.GaussianMixture` or
        :class:`gaussmix.BayesianGaussianMixture`.
    file : str, os.PathLike or binary file object
        Where to write. A path is used as given (no ``.npz`` suffix is added)
        and replaced atomically: the file is written under a temporary name in
        the same directory, then renamed. A file object (opened for binary
        writing) is written from its current position.

    Raises
    ------
    TypeError
        If ``model`` is neither of the two classes (subclasses are refused).
    sklearn.exceptions.NotFittedError
        If the model has not been fitted (a subclass of ValueError).
    ValueError
        If a fitted attribute or parameter is invalid or cannot be stored; the
        message names the attribute.
    OSError
        If the file cannot be written (no space left, no permission, ...); the
        message names the file. A path is then left as it was (the temporary
        file is removed).

    See Also
    --------
    load : Read the model back.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.io import load, save
    >>> X = np.array([[0.0, 0.1], [0.2, 0.0], [5.0, 5.1], [5.2, 5.0]])
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save(gm, path)
    >>> np.array_equal(load(path).means_, gm.means_)
    True
    """
    where = _describe_target(file)
    if type(model) not in (GaussianMixture, BayesianGaussianMixture):
        raise TypeError(
            f"cannot save to {where}: save writes gaussmix.GaussianMixture and "
            "gaussmix.BayesianGaussianMixture models, got "
            f"{type(model).__module__}.{type(model).__qualname__}."
        )
    fitted: tuple[str, ...] = (
        *PARAMETER_ARRAYS,
        "converged_",
        "n_iter_",
        "lower_bound_",
    )
    if isinstance(model, BayesianGaussianMixture):
        fitted = (*fitted, "weight_concentration_", *BAYESIAN_SCALARS)
    missing = [a for a in fitted if not hasattr(model, a)]
    if missing:
        raise NotFittedError(
            f"cannot save to {where}: the model is not fitted (it has no "
            f"{', '.join(missing)}); call fit before saving it."
        )
    try:
        members = _model_members(model)
    except _Invalid as exc:
        raise ValueError(f"cannot save model to {where}: {exc}") from exc.__cause__
    try:
        if isinstance(file, (str, os.PathLike)):
            # _write_zip is looked up at the call: tests replace it to fail a write
            write_atomically(os.fspath(file), lambda f: _write_zip(f, members))
        else:
            _write_zip(file, members)
    except OSError as exc:
        raise _named_os_error(exc, f"cannot save model to {where}") from exc


def _named_os_error(exc: OSError, context: str) -> OSError:
    """``exc`` again, its message starting with ``context`` (which names the file).

    The type is kept (``OSError(errno, ...)`` picks the subclass of the errno,
    e.g. PermissionError), so callers that catch it by type still do.
    """
    reason = exc.strerror or _one_line(exc) or type(exc).__name__
    message = f"{context}: {reason}"
    if exc.errno is not None:
        return OSError(exc.errno, message)
    try:
        return type(exc)(message)
    except TypeError:  # pragma: no cover - a subclass with another signature
        return OSError(message)


def _model_members(
    model: GaussianMixture | BayesianGaussianMixture,
) -> dict[str, npt.NDArray[Any]]:
    """The archive's arrays (header first), validated as ``load`` would."""
    params = model.get_params(deep=False)
    json_params: dict[str, Any] = {}
    arrays: dict[str, npt.NDArray[Any]] = {}
    notes: list[str] = []
    bayesian = isinstance(model, BayesianGaussianMixture)
    for name in _current_params(type(model)):
        value = params[name]
        if bayesian and name in BAYESIAN_ARRAY_PARAMS and np.ndim(value) > 0:
            key = f"params.{name}"
            arrays[key] = _numeric_array(value, f"parameter {name}", convert=True)
            json_params[name] = {"array": key}
            continue
        if name in NOT_STORED_PARAMS:
            json_params[name] = None
            if value is not None:
                notes.append(_NOTE_NOT_STORED.format(name=name))
            continue
        if name in ARRAY_PARAMS and value is not None:
            key = f"params.{name}"
            arrays[key] = _numeric_array(value, f"parameter {name}", convert=True)
            json_params[name] = {"array": key}
        elif name == "random_state" and isinstance(value, np.random.RandomState):
            json_params[name] = None
            notes.append(_NOTE_RANDOM_STATE)
        elif name == "prior" and isinstance(value, Mapping):
            json_params[name] = _prior_param_json(value, arrays)
        elif name == "frozen" and not isinstance(value, str):
            frozen = as_frozen(value)  # a list of names, in FREEZABLE's order
            json_params[name] = [n for n in FREEZABLE if n in frozen]
        else:
            json_params[name] = _json_scalar(value, f"parameter {name}")
    for key in PARAMETER_ARRAYS:
        arrays[key] = _numeric_array(getattr(model, key), key, convert=False)
    try:
        lower_bounds = np.asarray(getattr(model, "lower_bounds_", []), np.float64)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"lower_bounds_ is not a list of numbers ({exc})") from exc
    arrays[LOWER_BOUNDS_KEY] = _numeric_array(lower_bounds, LOWER_BOUNDS_KEY, False)
    has_noise = hasattr(model, "noise_log_density_")
    if bayesian:
        _bayesian_members(model, arrays)
    if has_noise:
        for key in NOISE_ARRAYS:
            if not hasattr(model, key):
                _fail(f"the model has noise_log_density_ but no {key}")
            arrays[key] = _numeric_array(getattr(model, key), key, convert=False)

    names = getattr(model, "feature_names_in_", None)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class_name": type(model).__name__,
        "covariance_type": json_params["covariance_type"],
        "n_components": json_params["n_components"],
        "n_features_in_": _json_scalar(
            getattr(model, "n_features_in_", None), "n_features_in_"
        ),
        "feature_names_in_": None
        if names is None
        else [_json_scalar(n, "feature_names_in_") for n in names],
        "params": json_params,
        "converged_": _json_scalar(model.converged_, "converged_"),
        "n_iter_": _json_scalar(model.n_iter_, "n_iter_"),
        "lower_bound_": _json_scalar(model.lower_bound_, "lower_bound_"),
        "notes": notes,
    }
    if has_noise:
        for name in NOISE_FIELDS:
            header[name] = _json_scalar(getattr(model, name, None), name)
    fitted_prior = getattr(model, PRIOR_FIELD, None)
    if fitted_prior is not None:
        header[PRIOR_FIELD] = _fitted_prior_json(fitted_prior, arrays)
    if bayesian:
        header[BAYESIAN_FIELD] = {
            name: _json_scalar(getattr(model, name), name) for name in BAYESIAN_SCALARS
        }
        header[BAYESIAN_FIELD][N_LOWER_BOUNDS] = int(arrays[LOWER_BOUNDS_KEY].size)
    text = json.dumps(header, indent=2, ensure_ascii=False, allow_nan=False)
    raw = text.encode("utf-8")
    parsed = _parse_header(_decode_header(np.frombuffer(raw, dtype=np.uint8)))
    expected = _expected_arrays(parsed)
    if set(arrays) != set(expected):  # pragma: no cover - guarded by the parse
        _fail(f"arrays {sorted(arrays)} do not match the header ({sorted(expected)})")
    for key, shape in expected.items():
        _check_declared(key, arrays[key].shape, arrays[key].dtype, shape)
    _check_values(parsed, arrays)

    members: dict[str, npt.NDArray[Any]] = {HEADER_KEY: np.frombuffer(raw, np.uint8)}
    for key in expected:  # the order of _expected_arrays: deterministic
        members[key] = arrays[key]
    return members


def _bayesian_members(
    model: BayesianGaussianMixture, arrays: dict[str, npt.NDArray[Any]]
) -> None:
    """The posterior's and the resolved priors' arrays of a Bayesian model."""
    concentration = model.weight_concentration_
    if isinstance(concentration, tuple):
        if len(concentration) != len(STICK_ARRAYS):
            _fail("weight_concentration_ of a Dirichlet process must be two arrays")
        for key, value in zip(STICK_ARRAYS, concentration, strict=True):
            arrays[key] = _numeric_array(value, key, convert=False)
    else:
        key = "weight_concentration_"
        arrays[key] = _numeric_array(concentration, key, convert=False)
    for key in BAYESIAN_ARRAYS[3:]:
        arrays[key] = _numeric_array(getattr(model, key), key, convert=False)


def _prior_param_json(
    value: Mapping[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> dict[str, Any]:
    """A prior given as a dict: numbers in the header, arrays as members."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in PRIOR_KEYS:
            _fail(
                f"parameter prior has the key {key!r}; a prior dict takes "
                f"{', '.join(PRIOR_KEYS)}"
            )
        what = f"parameter prior[{key!r}]"
        if key == "mean" or (key == "scale" and np.ndim(item) > 0):
            name = f"params.prior.{key}"
            arr = _numeric_array(item, what, convert=True)
            if arr.dtype != np.float64:
                arr = arr.astype(np.float64)
            arrays[name] = arr
            out[key] = {"array": name}
        else:
            scalar = _json_scalar(item, what)
            if not isinstance(scalar, (int, float)) or isinstance(scalar, bool):
                _fail(f"{what} = {_show(item)} cannot be stored; use a finite number")
            out[key] = scalar
    return out


def _fitted_prior_json(
    prior: Mapping[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> dict[str, Any]:
    """``prior_``: shrinkage and dof in the header, mean and scale as arrays."""
    try:
        out = {
            "shrinkage": _json_scalar(prior["shrinkage"], "prior_['shrinkage']"),
            "dof": _json_scalar(prior["dof"], "prior_['dof']"),
        }
        for key in PRIOR_PARAM_ARRAYS:
            name = f"{PRIOR_FIELD}.{key}"
            value = np.asarray(prior[key], dtype=np.float64)
            arrays[name] = (
                value.astype("<f8")  # ascontiguousarray would make it 1-D
                if value.ndim == 0
                else _numeric_array(value, f"prior_[{key!r}]", False)
            )
            out[key] = {"array": name}
    except (KeyError, TypeError) as exc:
        raise _Invalid(
            f"prior_ must be a dict with {', '.join(PRIOR_KEYS)} ({exc!r})"
        ) from exc
    return out


def _numeric_array(value: Any, what: str, convert: bool) -> npt.NDArray[Any]:
    """``value`` as a C-ordered little-endian array, its values unchanged.

    With ``convert``, integers and booleans become float64 (for user-given
    initial arrays); otherwise the dtype is kept and checked later, as ``load``
    checks it.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"{what} is not an array of numbers ({_one_line(exc)})") from exc
    if convert and (
        arr.dtype.kind in "biu" or arr.dtype in (np.float16, np.longdouble)
    ):
        arr = arr.astype(np.float64)
    if arr.dtype.kind == "f":
        # order="C" keeps a 0-d array 0-d (np.ascontiguousarray makes it 1-d)
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("<"), order="C", copy=None)
    return arr


def _json_scalar(value: Any, what: str) -> Any:
    """``value`` as a JSON-safe Python scalar (numpy scalars become Python ones)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        try:
            x = float(value)
        except OverflowError:
            _fail(f"{what} = {_show(value)} is too large for a floating-point number")
        # JSON has no infinities or NaN: store them as strings, which the header
        # checks accept only for lower_bound_ = "-Infinity" after zero iterations.
        return x if math.isfinite(x) else json.dumps(x)
    _fail(
        f"{what} = {_one_line(repr(value))[:80]} (of type {type(value).__name__}) "
        "cannot be stored; use a number, a string, True/False or None"
    )


# ----------------------------------------------------------------- load


def load(
    file: str | os.PathLike[str] | IO[bytes],
) -> GaussianMixture | BayesianGaussianMixture:
    """Read a model written by :func:`save`, checking everything first.

    The file is opened with ``numpy.load(..., allow_pickle=False)``: nothing in
    it is unpickled, so a crafted file cannot run code. Before a model is built,
    the archive, the header and every array are checked (see
    ``docs/model-format.md`` for the full list and the tolerances).

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        The model file, or a seekable file object opened for binary reading.

    Returns
    -------
    GaussianMixture or BayesianGaussianMixture
        A fitted model of the saved class whose arrays, parameters and fitted
        attributes equal the saved ones exactly (same values, same dtypes).

    Raises
    ------
    FileNotFoundError
        If the path does not exist (other ``OSError`` for unreadable files).
    ValueError
        If the file is not a valid gaussmix model: not an ``.npz`` archive,
        damaged or truncated, a pickle, written by a newer gaussmix, or with
        missing, extra or invalid arrays or header fields. The message is one
        line naming the file and what is wrong.

    See Also
    --------
    save : Write a model file.
    """
    where = _describe_target(file)
    try:
        if not isinstance(file, (str, os.PathLike)):
            return _load(file, where)
        with open(os.fspath(file), "rb") as f:
            return _load(f, where)
    except _Invalid as exc:
        raise ValueError(
            f"cannot load gaussmix model {where}: {exc}"
        ) from exc.__cause__


def _describe_target(file: Any) -> str:
    if isinstance(file, (str, os.PathLike)):
        return repr(os.fspath(file))
    if hasattr(file, "read") or hasattr(file, "write"):
        name = getattr(file, "name", None)
        return repr(name) if isinstance(name, str) else f"<{type(file).__name__}>"
    raise TypeError(
        "file must be a path (str or os.PathLike) or a binary file object, got "
        f"{type(file).__name__}."
    )


def _load(f: IO[bytes], where: str) -> GaussianMixture | BayesianGaussianMixture:
    with open_npz(f) as archive:
        return _load_npz(archive)


def _load_npz(archive: NpzArchive) -> GaussianMixture | BayesianGaussianMixture:
    entries = archive.entries
    if HEADER_KEY not in entries:
        _fail(
            f"it has no {HEADER_KEY} entry, so it was not written by gaussmix.io.save "
            f"(entries: {sorted(entries)[:10]})"
        )
    shape, dtype = archive.declared(HEADER_KEY)
    _check_declared(HEADER_KEY, shape, dtype, None)
    header = _parse_header(_decode_header(archive.read(HEADER_KEY)))

    expected = _expected_arrays(header)
    missing = [k for k in expected if k not in entries]
    if missing:
        _fail(f"the array(s) {', '.join(missing)} are missing")
    extra = sorted(set(entries) - set(expected) - {HEADER_KEY})
    if extra:
        _fail(f"unexpected array(s) {', '.join(extra)}")
    for key, expected_shape in expected.items():
        shape, dtype = archive.declared(key)
        _check_declared(key, shape, dtype, expected_shape)
    arrays = {key: archive.read(key) for key in expected}
    _check_values(header, arrays)
    return _build(header, arrays)


# ----------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class _Header:
    """The validated header of a model file."""

    family: CovarianceFamily
    n_components: int
    n_features: int
    feature_names: list[str] | None
    params: dict[str, Any]  # array-valued parameters are None here
    array_params: tuple[str, ...]
    converged: bool
    n_iter: int
    lower_bound: float
    noise_weight: float | None = None
    noise_log_density: float | None = None
    prior_param_arrays: tuple[str, ...] = ()
    fitted_prior: dict[str, float] | None = None
    bayesian: dict[str, float] | None = None  # BAYESIAN_FIELD of a Bayesian model


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _decode_header(raw: npt.NDArray[Any]) -> Any:
    try:
        text = raw.tobytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"{HEADER_KEY} is not valid UTF-8 ({exc.reason})") from exc

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                _fail(f"{HEADER_KEY} has the key {k!r} twice")
            out[k] = v
        return out

    def no_constants(name: str) -> Any:
        _fail(f"{HEADER_KEY} holds {name}, which is not valid JSON")

    try:
        return json.loads(
            text, object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"{HEADER_KEY} is not valid JSON ({_one_line(exc)})") from exc


def _parse_header(h: Any) -> _Header:
    if not isinstance(h, dict):
        _fail(f"{HEADER_KEY} must be a JSON object, got a {type(h).__name__}")
    if h.get("format") != FORMAT_NAME:
        _fail(
            f"the header's format is {h.get('format')!r}, not {FORMAT_NAME!r}: this "
            "is not a gaussmix model file"
        )
    version = h.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _fail(f"format_version must be an integer >= 1, got {_show(version)}")
    if version > FORMAT_VERSION:
        _fail(
            f"it was written by a newer gaussmix (format version {version}; gaussmix "
            f"{__version__} reads versions up to {FORMAT_VERSION}); upgrade gaussmix "
            "to load it"
        )
    bayesian = h.get("class_name") == BAYESIAN_CLASS
    if bayesian and version < 2:
        _fail(
            f"class_name is {BAYESIAN_CLASS!r}; format version {version} holds only "
            "'GaussianMixture' models"
        )
    if bayesian:
        if BAYESIAN_FIELD not in h:
            _fail(
                f"class_name is {BAYESIAN_CLASS!r} but the header has no "
                f"{BAYESIAN_FIELD!r} field (the resolved priors of a Bayesian model)"
            )
        _check_keys(h, (*HEADER_FIELDS_V1, BAYESIAN_FIELD), "header field")
    else:
        optional = (*NOISE_FIELDS, PRIOR_FIELD) if version >= 2 else ()
        _check_keys(h, HEADER_FIELDS_V1, "header field", optional)
    if not isinstance(h["library_version"], str):
        _fail(f"library_version must be a string, got {h['library_version']!r}")
    if h["class_name"] != "GaussianMixture" and not bayesian:
        _fail(
            f"class_name is {_show(h['class_name'])}; format version {version} holds "
            f"'GaussianMixture' models{' or ' + repr(BAYESIAN_CLASS) if version >= 2 else ''}"
        )
    try:
        family = get_family(h["covariance_type"])
    except ValueError as exc:
        raise _Invalid(_one_line(exc)) from exc
    n_components, n_features = h["n_components"], h["n_features_in_"]
    for name, value in (("n_components", n_components), ("n_features_in_", n_features)):
        if not _is_int(value) or value < 1:
            _fail(f"{name} must be an integer >= 1, got {_show(value)}")
        if value > MAX_HEADER_COUNT:
            _fail(f"{name} = {_show(value)} is too large for a model file")
    names = h["feature_names_in_"]
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            _fail("feature_names_in_ must be null or a list of strings")
        if len(names) != n_features:
            _fail(
                f"feature_names_in_ has {len(names)} names but n_features_in_ is "
                f"{n_features}"
            )
        seen: set[str] = set()
        for feature in names:
            if feature in seen:
                _fail(
                    f"feature_names_in_ has the name {_show(feature)} twice; the "
                    "names of the features must be distinct"
                )
            seen.add(feature)

    cls = BayesianGaussianMixture if bayesian else GaussianMixture
    params, array_params, prior_arrays = _parse_params(h["params"], cls)
    for name in ("n_components", "covariance_type"):
        if params[name] != h[name]:
            _fail(
                f"params.{name} = {params[name]!r} disagrees with the header's "
                f"{name} = {h[name]!r}"
            )

    converged, n_iter, lower_bound = h["converged_"], h["n_iter_"], h["lower_bound_"]
    if not isinstance(converged, bool):
        _fail(f"converged_ must be true or false, got {_show(converged)}")
    if not _is_int(n_iter) or n_iter < 0:
        _fail(f"n_iter_ must be an integer >= 0, got {_show(n_iter)}")
    if n_iter > MAX_HEADER_COUNT:
        _fail(f"n_iter_ = {_show(n_iter)} is too large for a model file")
    if lower_bound == "-Infinity" and n_iter == 0:
        lower_bound = -math.inf
    elif not _finite_number(lower_bound):
        _fail(
            f'lower_bound_ must be a finite number (or "-Infinity" when n_iter_ is '
            f"0), got {_show(lower_bound)}"
        )
    notes = h["notes"]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        _fail("notes must be a list of strings")
    if bayesian:
        noise_weight = noise_log_density = fitted_prior = None
        scalars = _parse_bayesian(h[BAYESIAN_FIELD], params, n_features)
    else:
        noise_weight, noise_log_density = _parse_noise(h, params)
        fitted_prior = _parse_fitted_prior(h, params)
        scalars = None
    return _Header(
        family=family,
        n_components=n_components,
        n_features=n_features,
        feature_names=names,
        params=params,
        array_params=array_params,
        converged=converged,
        n_iter=n_iter,
        lower_bound=float(lower_bound),
        noise_weight=noise_weight,
        noise_log_density=noise_log_density,
        prior_param_arrays=prior_arrays,
        fitted_prior=fitted_prior,
        bayesian=scalars,
    )


def _parse_bayesian(
    value: Any,
    params: Mapping[str, Any],
    n_features: int,
) -> dict[str, float]:
    """The ``bayesian`` field, and the parameters by the estimator's own rules."""
    if not isinstance(value, dict):
        _fail(f"{BAYESIAN_FIELD} must be a JSON object, got {_show(value)}")
    _check_keys(value, (*BAYESIAN_SCALARS, N_LOWER_BOUNDS), f"{BAYESIAN_FIELD} field")
    n_bounds = value[N_LOWER_BOUNDS]
    if not _is_int(n_bounds) or not 0 <= n_bounds <= MAX_HEADER_COUNT:
        _fail(
            f"{BAYESIAN_FIELD}.{N_LOWER_BOUNDS} must be an integer >= 0, got "
            f"{_show(n_bounds)}"
        )
    out: dict[str, float] = {N_LOWER_BOUNDS: n_bounds}
    for name in BAYESIAN_SCALARS:
        item = value[name]
        if not (_finite_number(item) and item > 0):
            _fail(f"{name} must be a finite number > 0, got {_show(item)}")
        out[name] = float(item)
    dof = out["degrees_of_freedom_prior_"]
    if not dof > n_features - 1:
        _fail(
            f"degrees_of_freedom_prior_ must be greater than n_features_in_ - 1 = "
            f"{n_features - 1}, got {dof!r}"
        )
    # The estimator's own checks of its parameters (arrays are checked later).
    try:  # array parameters are None here
        BayesianGaussianMixture(**params)._settings()
    except (TypeError, ValueError) as exc:
        raise _Invalid(_one_line(exc)) from exc
    return out


def _finite_number(value: Any) -> bool:
    """An int or float that is a finite float (not a bool, not a 400-digit int)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _parse_fitted_prior(
    h: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, float] | None:
    """``prior_``: present exactly when ``params.prior`` is set."""
    if PRIOR_FIELD not in h:
        if params.get("prior") is not None:
            _fail(f"params.prior is set but the header has no {PRIOR_FIELD}")
        return None
    if params.get("prior") is None:
        _fail(f"the header has {PRIOR_FIELD} but params.prior is null")
    value = h[PRIOR_FIELD]
    if not isinstance(value, dict) or set(value) != set(PRIOR_KEYS):
        _fail(f"{PRIOR_FIELD} must be an object with the keys {', '.join(PRIOR_KEYS)}")
    for key in PRIOR_PARAM_ARRAYS:
        if value[key] != {"array": f"{PRIOR_FIELD}.{key}"}:
            _fail(
                f'{PRIOR_FIELD}.{key} must be {{"array": "{PRIOR_FIELD}.{key}"}}, got '
                f"{value[key]!r}"
            )
    shrinkage, dof = value["shrinkage"], value["dof"]
    if not (_finite_number(shrinkage) and shrinkage >= 0):
        _fail(
            f"{PRIOR_FIELD}.shrinkage must be a finite number >= 0, got {_show(shrinkage)}"
        )
    if not (_finite_number(dof) and dof > 0):
        _fail(f"{PRIOR_FIELD}.dof must be a finite number > 0, got {_show(dof)}")
    return {"shrinkage": float(shrinkage), "dof": float(dof)}


def _parse_prior_param(value: Any) -> tuple[Any, tuple[str, ...]]:
    """``params.prior``: null, "default" or a dict (its arrays checked later)."""
    if value is None or value == "default":
        return value, ()
    if not isinstance(value, dict):
        _fail(
            f'parameter prior must be null, "default" or an object, got {_show(value)}'
        )
    unknown = [k for k in value if k not in PRIOR_KEYS]
    if unknown:
        _fail(
            f"parameter prior has unknown key(s) {unknown!r} (allowed: "
            f"{', '.join(PRIOR_KEYS)})"
        )
    out: dict[str, Any] = {}
    arrays = []
    for key, item in value.items():
        if isinstance(item, dict):
            if key not in PRIOR_PARAM_ARRAYS or item != {
                "array": f"params.prior.{key}"
            }:
                _fail(
                    f"parameter prior.{key} must be a number"
                    + (
                        f' or {{"array": "params.prior.{key}"}}'
                        if key in PRIOR_PARAM_ARRAYS
                        else ""
                    )
                    + f", got {_show(item)}"
                )
            arrays.append(key)
            out[key] = None  # filled from the arrays
        elif _finite_number(item) and key != "mean":
            out[key] = item
        else:
            _fail(f"parameter prior.{key} must be a finite number, got {_show(item)}")
    return out, tuple(arrays)


def _parse_noise(
    h: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[float | None, float | None]:
    """The noise fields: both or neither, and only when ``params.noise`` is set."""
    present = [name for name in NOISE_FIELDS if name in h]
    if not present:
        if params.get("noise") not in (None, False):
            _fail(
                f"params.noise = {params['noise']!r} but the header has no "
                f"{' and '.join(NOISE_FIELDS)}"
            )
        return None, None
    if len(present) != len(NOISE_FIELDS):
        missing = [name for name in NOISE_FIELDS if name not in h]
        _fail(f"the header has {present[0]} but not {missing[0]}")
    if params.get("noise") in (None, False):
        _fail(
            "the header has noise_weight_ and noise_log_density_ but params.noise "
            "is null: the model has no noise component"
        )
    weight, log_density = h["noise_weight_"], h["noise_log_density_"]
    for name, value in (("noise_weight_", weight), ("noise_log_density_", log_density)):
        if not _finite_number(value):
            _fail(f"{name} must be a finite number, got {_show(value)}")
    if not 0.0 <= weight < 1.0:
        _fail(f"noise_weight_ must be in [0, 1), got {_show(weight)}")
    return float(weight), float(log_density)


def _check_keys(
    d: Mapping[str, Any],
    expected: Sequence[str],
    what: str,
    optional: Sequence[str] = (),
) -> None:
    missing = [k for k in expected if k not in d]
    if missing:
        _fail(f"the {what}(s) {', '.join(missing)} are missing")
    unknown = sorted(k for k in d if k not in expected and k not in optional)
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:5])
        _fail(
            f"unknown {what}(s) {shown} (format version {FORMAT_VERSION} does not "
            "have them)"
        )


def _is_noise_setting(v: Any) -> bool:
    if v is None or isinstance(v, bool):
        return True
    return _finite_number(v) and v > 0


#: Checks of the parameters this module stores that PARAMETER_RULES may lack.
_OWN_RULES: Final = {
    "noise": Rule(_is_noise_setting, "null, true, false or a positive number"),
}


def _passes(rule: Rule, value: Any) -> bool:
    try:
        return bool(rule.check(value))
    except (OverflowError, TypeError, ValueError):  # untrusted values
        return False


def _current_params(
    cls: type[GaussianMixture] | type[BayesianGaussianMixture] = GaussianMixture,
) -> tuple[str, ...]:
    """Constructor parameters of ``cls`` in the running gaussmix, in order."""
    signature = inspect.signature(cls.__init__)
    return tuple(name for name in signature.parameters if name != "self")


#: Parameters whose PARAMETER_RULES also apply to BayesianGaussianMixture.
_SHARED_RULE_NAMES: Final = frozenset(
    set(_current_params(GaussianMixture))
    & set(_current_params(BayesianGaussianMixture))
)


def _parse_params(
    p: Any,
    cls: type[GaussianMixture] | type[BayesianGaussianMixture] = GaussianMixture,
) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """Parameters of any format version: stored ones checked, absent ones default.

    Version 1 stores :data:`PARAMS_V1`; version 2 every parameter of the writer.
    A parameter the file lacks (written before it existed) takes its default,
    whose meaning is the old behaviour; one this gaussmix does not know means a
    newer writer, and is an error. A :data:`BAYESIAN_CLASS` model's parameters
    are those of :class:`gaussmix.BayesianGaussianMixture`.
    """
    if not isinstance(p, dict):
        _fail(f"params must be a JSON object, got {p!r}")
    known = _current_params(cls)
    bayesian = cls is BayesianGaussianMixture
    array_names = BAYESIAN_ARRAY_PARAMS if bayesian else ARRAY_PARAMS
    unknown = [k for k in p if k not in known]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:5])
        _fail(
            f"unknown parameter(s) {shown}: the file was written by a newer gaussmix; "
            "upgrade gaussmix to load it"
        )
    missing = [k for k in (known if bayesian else PARAMS_V1) if k not in p]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5])
        _fail(f"missing parameter(s) {shown}")
    defaults = cls().get_params(deep=False)
    params: dict[str, Any] = {}
    array_params = []
    prior_arrays: tuple[str, ...] = ()
    for name in known:
        if name not in p:
            params[name] = defaults[name]
            continue
        value = p[name]
        if name == "prior":
            params[name], prior_arrays = _parse_prior_param(value)
            continue
        if name in NOT_STORED_PARAMS and value is not None:
            _fail(
                f"parameter {name} is never stored and must be null, got {_show(value)}"
            )
        if name in array_names and isinstance(value, dict):
            if value != {"array": f"params.{name}"}:
                _fail(
                    f"parameter {name} must be null or "
                    f'{{"array": "params.{name}"}}, got {_show(value)}'
                )
            array_params.append(name)
            value = None  # checked with the arrays
        rule = PARAMETER_RULES.get(name, _OWN_RULES.get(name))
        if bayesian and name not in _SHARED_RULE_NAMES:
            rule = None  # checked by the estimator (_parse_bayesian)
        if rule is not None and not _passes(rule, value):
            too_large = (
                " (too large for a floating-point number)"
                if _is_int(value)
                and not _finite_number(value)
                and "number" in rule.expected
                else ""
            )
            _fail(
                f"parameter {name} must be {rule.expected}; got "
                f"{_show(value)}{too_large}"
            )
        if name == "frozen" and isinstance(value, list):
            value = tuple(value)  # JSON's list: the constructor's tuple
        params[name] = value
    return params, tuple(array_params), prior_arrays


# ----------------------------------------------------------------- arrays


def _expected_arrays(h: _Header) -> dict[str, tuple[int, ...]]:
    """Every array the header implies, with its shape, in the order written."""
    k, d = h.n_components, h.n_features
    cov = h.family.covariance_shape(k, d)
    shapes: dict[str, tuple[int, ...]] = {
        "weights_": (k,),
        "means_": (k, d),
        "covariances_": cov,
        "precisions_": cov,
        "precisions_cholesky_": cov,
        LOWER_BOUNDS_KEY: (h.n_iter,),
    }
    prior_cov = _prior_covariance_shape(h.family, d)
    init_shapes = {
        "weights_init": (k,),
        "means_init": (k, d),
        "precisions_init": cov,
        "mean_prior": (d,),
        "covariance_prior": prior_cov,
    }
    for name in h.array_params:
        shapes[f"params.{name}"] = init_shapes[name]
    if h.bayesian is not None:
        shapes[LOWER_BOUNDS_KEY] = (int(h.bayesian[N_LOWER_BOUNDS]),)
        sticks = h.params["weight_concentration_prior_type"] == DIRICHLET_PROCESS
        for key in STICK_ARRAYS if sticks else ("weight_concentration_",):
            shapes[key] = (k,)
        shapes["mean_precision_"] = (k,)
        shapes["degrees_of_freedom_"] = () if h.family.shared else (k,)
        shapes["mean_prior_"] = (d,)
        shapes["covariance_prior_"] = prior_cov
    if h.noise_log_density is not None:
        shapes["noise_box_axes_"] = (d, d)
        shapes["noise_box_bounds_"] = (2, d)
    param_shapes = {"mean": (d,), "scale": (d, d)}
    for key in h.prior_param_arrays:
        shapes[f"params.prior.{key}"] = param_shapes[key]
    if h.fitted_prior is not None:
        shapes[f"{PRIOR_FIELD}.mean"] = (d,)
        shapes[f"{PRIOR_FIELD}.scale"] = (d, d) if _matrix_scale(h.family) else ()
    return shapes


def _prior_covariance_shape(family: CovarianceFamily, d: int) -> tuple[int, ...]:
    """Shape of a Bayesian model's covariance prior: (D, D), (D,) or a number."""
    if family.matrix:
        return (d, d)
    return (d,) if family.per_feature else ()


def _matrix_scale(family: CovarianceFamily) -> bool:
    """Whether the prior of this family's model has a matrix scale."""
    model = PRIOR_MODELS.get(mclust_model_name(family.name))
    if model is None:
        _fail(f"covariance_type {family.name!r} has no prior, but the file has prior_")
    return model.matrix_scale


def _check_declared(
    key: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    expected_shape: tuple[int, ...] | None,
) -> None:
    """Dtype and shape of one array, checked before its data is read."""
    if dtype.hasobject:
        _fail(
            f"array {key} holds Python objects (dtype object); model files hold only "
            "numbers and are never unpickled"
        )
    if key == HEADER_KEY:
        if dtype != np.uint8 or len(shape) != 1:
            _fail(
                f"{HEADER_KEY} must be a 1-D uint8 array of UTF-8 bytes, got dtype "
                f"{dtype} and shape {shape}"
            )
        return
    if (
        key == LOWER_BOUNDS_KEY
        or key in NOISE_ARRAYS
        or key in BAYESIAN_ARRAYS
        or key.startswith((f"{PRIOR_FIELD}.", "params.prior."))
    ):
        if dtype.kind != "f" or dtype.itemsize != 8:
            _fail(f"{key} must be float64, got {dtype}")
    elif dtype.kind != "f" or dtype.itemsize not in (4, 8):
        _fail(f"array {key} must be float32 or float64, got {dtype}")
    if shape != expected_shape:
        _fail(
            f"array {key} has shape {shape}, but the header (n_components, "
            f"n_features_in_, covariance_type, n_iter_) implies {expected_shape}"
        )


def _check_values(h: _Header, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Numeric checks of arrays whose dtypes and shapes are already right."""
    dtypes = {arrays[k].dtype.newbyteorder("=") for k in PARAMETER_ARRAYS}
    if len(dtypes) != 1:
        found = ", ".join(f"{k} {arrays[k].dtype}" for k in PARAMETER_ARRAYS)
        _fail(f"the parameter arrays must all be float32 or all float64, got {found}")
    for key, arr in arrays.items():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            _fail(f"array {key} contains NaN or infinity ({bad} value(s))")
    eps = float(np.finfo(arrays["weights_"].dtype).eps)
    k, d = h.n_components, h.n_features

    weights = arrays["weights_"].astype(np.float64)
    if np.any(weights <= 0):
        _fail(f"weights_ must be positive, got minimum {float(weights.min()):.6g}")
    total = math.fsum(weights.tolist())
    tol = max(WEIGHT_SUM_ATOL, 4 * k * eps)
    if h.noise_weight is None:
        if abs(total - 1.0) > tol:
            _fail(f"weights_ sum to {total!r}, not 1 (tolerance {tol:.3g})")
    else:
        if abs(total + h.noise_weight - 1.0) > tol:
            _fail(
                f"weights_ sum to {total!r} and noise_weight_ is {h.noise_weight!r}: "
                f"together not 1 (tolerance {tol:.3g})"
            )
        _check_noise_box(h, arrays)
    if h.fitted_prior is not None:
        scale = arrays[f"{PRIOR_FIELD}.scale"]
        if scale.ndim == 0:
            if float(scale) <= 0:
                _fail(f"{PRIOR_FIELD}.scale must be positive, got {float(scale)!r}")
        else:
            _check_spd(scale, f"{PRIOR_FIELD}.scale")
    if "scale" in h.prior_param_arrays:
        _check_spd(arrays["params.prior.scale"], "params.prior.scale")
    if h.bayesian is not None:
        _check_bayesian(h, arrays, eps)

    family = h.family
    cov = arrays["covariances_"].astype(np.float64)
    chol = arrays["precisions_cholesky_"].astype(np.float64)
    prec = arrays["precisions_"].astype(np.float64)
    if family.matrix:
        _check_matrices(family, cov.reshape(-1, d, d), chol.reshape(-1, d, d), eps)
        covs, us, ps = (a.reshape(-1, d, d) for a in (cov, chol, prec))
        # The matrix a Cholesky factorisation sees: the lower triangle, mirrored
        # (any asymmetry is already bounded by the symmetry check).
        covs = np.tril(covs) + np.swapaxes(np.tril(covs, -1), 1, 2)
        ut = np.swapaxes(us, 1, 2)
        residual = ut @ covs @ us - np.eye(d)
        scale = np.abs(ut) @ np.abs(covs) @ np.abs(us)
        residual_p = ps - us @ ut
        scale_p = np.abs(us) @ np.abs(ut)
    else:
        for name, arr in (("covariances_", cov), ("precisions_cholesky_", chol)):
            if np.any(arr <= 0):
                first = int(np.flatnonzero(arr.ravel() <= 0)[0])
                comp = np.unravel_index(first, arr.shape)[0]
                _fail(f"{name} must be positive; component {comp} is not")
        residual = cov * chol**2 - 1.0
        scale = cov * chol**2
        residual_p = prec - chol**2
        scale_p = chol**2
    factor = CONSISTENCY_FACTOR * (d + 2) * eps
    # Below the smallest normal number the rounding error is absolute, not relative:
    # a subnormal entry (a float32 off-diagonal of 1e-45, say) carries no relative
    # precision, so the allowance has an absolute part at the scale of the matrix.
    tiny = float(np.finfo(arrays["weights_"].dtype).tiny)
    for name, r, s, what in (
        ("precisions_cholesky_", residual, scale, "the inverse of covariances_"),
        ("precisions_", residual_p, scale_p, "precisions_cholesky_ @ its transpose"),
    ):
        excess = np.abs(r) - factor * (s + tiny * max(float(np.max(s)), 1.0))
        if np.any(excess > 0):
            ratio = float(np.max(np.abs(r) / np.maximum(s, np.finfo(float).tiny)))
            _fail(
                f"{name} disagrees with covariances_: it is not {what} (relative error "
                f"{ratio:.3g}, tolerance {factor:.3g})"
            )

    init = {
        name: arrays[f"params.{name}"]
        for name in h.array_params
        if name in ARRAY_PARAMS
    }
    if init:
        try:
            check_init_arrays(
                init.get("weights_init"),
                init.get("means_init"),
                init.get("precisions_init"),
                family,
                k,
                d,
                "params",
            )
        except ValueError as exc:
            raise _Invalid(_one_line(exc)) from exc


def _check_bayesian(
    h: _Header, arrays: Mapping[str, npt.NDArray[Any]], eps: float
) -> None:
    """A Bayesian model's posterior and priors: positive, and agreeing with weights_."""
    d = h.n_features
    prior_type = h.params["weight_concentration_prior_type"]
    sticks = prior_type == DIRICHLET_PROCESS
    for key in (
        *(STICK_ARRAYS if sticks else ("weight_concentration_",)),
        "mean_precision_",
    ):
        if np.any(arrays[key] <= 0):
            _fail(f"{key} must be positive, got minimum {float(arrays[key].min())!r}")
    dof = arrays["degrees_of_freedom_"]
    if np.any(dof <= d - 1):
        _fail(
            f"degrees_of_freedom_ must be greater than n_features_in_ - 1 = {d - 1}, "
            f"got minimum {float(dof.min())!r}"
        )
    for key in ("covariance_prior_", "params.covariance_prior"):
        if key not in arrays:
            continue
        value = arrays[key]
        if value.ndim == 2:
            _check_spd(value, key)
        elif np.any(value <= 0):
            _fail(f"{key} must be positive, got minimum {float(value.min())!r}")
    concentration = (
        (arrays[STICK_ARRAYS[0]], arrays[STICK_ARRAYS[1]])
        if sticks
        else arrays["weight_concentration_"]
    )
    posterior = VariationalParams(
        weight_concentration=concentration,
        mean_precision=arrays["mean_precision_"],
        means=arrays["means_"],
        degrees_of_freedom=dof,
        covariances=arrays["covariances_"],
        precisions_cholesky=arrays["precisions_cholesky_"],
    )
    with np.errstate(all="ignore"):
        expected = point_weights(posterior, prior_type)
    weights = arrays["weights_"].astype(np.float64)
    rtol = max(BAYESIAN_WEIGHT_RTOL, 4 * eps)
    if not np.all(np.abs(weights - expected) <= rtol * expected):
        _fail(
            "weights_ disagree with weight_concentration_ (they must be the "
            f"posterior mean of the {prior_type} weights, within {rtol:.3g} relative)"
        )


def _check_spd(matrix: npt.NDArray[Any], what: str) -> None:
    if not np.allclose(matrix, matrix.T):
        _fail(f"{what} must be symmetric")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        _fail(f"{what} must be positive definite")


def _check_noise_box(h: _Header, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Orthonormal axes, ordered bounds, and the box's volume ``exp(-log_density)``."""
    assert h.noise_log_density is not None
    axes = arrays["noise_box_axes_"]
    lower, upper = arrays["noise_box_bounds_"]
    d = axes.shape[0]
    gram = axes.T @ axes - np.eye(d)
    if float(np.max(np.abs(gram), initial=0.0)) > NOISE_BOX_RTOL:
        _fail("noise_box_axes_ must have orthonormal columns")
    if np.any(upper <= lower):
        _fail("noise_box_bounds_ must have upper bounds (row 1) above lower (row 0)")
    log_volume = float(np.sum(np.log(upper - lower)))
    target = -h.noise_log_density
    if abs(log_volume - target) > NOISE_BOX_RTOL * max(1.0, abs(target)):
        _fail(
            f"the noise box has log-volume {log_volume!r}, but noise_log_density_ "
            f"is {h.noise_log_density!r} (they must be opposite)"
        )


def _check_matrices(
    family: CovarianceFamily, covs: FloatArray, us: FloatArray, eps: float
) -> None:
    """Covariances symmetric positive definite, precision factors upper triangular."""
    rtol = math.sqrt(eps)
    for i, (c, u) in enumerate(zip(covs, us, strict=True)):
        which = "" if family.shared else f"[{i}]"
        diag = np.diagonal(c)
        if np.any(diag <= 0):
            _fail(
                f"covariances_{which} is not positive definite: its diagonal has "
                f"{float(diag.min()):.6g}"
            )
        asym = float(np.max(np.abs(c - c.T) / np.sqrt(np.outer(diag, diag))))
        if asym > rtol:
            _fail(
                f"covariances_{which} is not symmetric (asymmetry {asym:.3g} relative "
                f"to its diagonal, tolerance {rtol:.3g})"
            )
        # Positive definite up to the rounding of the stored dtype: rounding each
        # entry moves the eigenvalues of the correlation matrix by at most D eps / 2.
        try:
            np.linalg.cholesky(c + np.diag(len(diag) * eps * diag))
        except np.linalg.LinAlgError:
            _fail(f"covariances_{which} is not positive definite (Cholesky fails)")
        if np.any(np.tril(u, -1) != 0):
            _fail(
                f"precisions_cholesky_{which} must be upper triangular (U with "
                "precision = U @ U.T)"
            )
        if np.any(np.diagonal(u) <= 0):
            _fail(f"precisions_cholesky_{which} must have a positive diagonal")


def _build(
    h: _Header, arrays: Mapping[str, npt.NDArray[Any]]
) -> GaussianMixture | BayesianGaussianMixture:
    params = dict(h.params)
    for name in h.array_params:
        params[name] = arrays[f"params.{name}"]
    if h.prior_param_arrays:
        prior = dict(params["prior"])
        for key in h.prior_param_arrays:
            prior[key] = arrays[f"params.prior.{key}"]
        params["prior"] = prior
    box = None
    if h.noise_log_density is not None:
        assert h.noise_weight is not None
        bounds = np.asarray(arrays["noise_box_bounds_"], dtype=np.float64)
        box = NoiseBox(
            np.asarray(arrays["noise_box_axes_"], dtype=np.float64),
            bounds[0],
            bounds[1],
        )
    model = MixtureModel(
        covariance_type=params["covariance_type"],
        weights=arrays["weights_"],
        means=arrays["means_"],
        covariances=arrays["covariances_"],
        precisions_cholesky=arrays["precisions_cholesky_"],
        precisions=arrays["precisions_"],
        noise_weight=h.noise_weight,
        noise_log_density=h.noise_log_density,
        noise_box=box,
    )
    info = FitInfo(
        converged=h.converged,
        n_iter=h.n_iter,
        lower_bound=h.lower_bound,
        lower_bounds=[float(v) for v in arrays[LOWER_BOUNDS_KEY]],
    )
    if h.bayesian is not None:
        return _build_bayesian(h, params, model, info, arrays)
    fitted_prior = None
    if h.fitted_prior is not None:
        fitted_prior = {
            "shrinkage": h.fitted_prior["shrinkage"],
            "mean": arrays[f"{PRIOR_FIELD}.mean"],
            "dof": h.fitted_prior["dof"],
            "scale": arrays[f"{PRIOR_FIELD}.scale"],
        }
    return build_fitted(
        params, model, info, feature_names=h.feature_names, prior=fitted_prior
    )


def _build_bayesian(
    h: _Header,
    params: dict[str, Any],
    model: MixtureModel,
    info: FitInfo,
    arrays: Mapping[str, npt.NDArray[Any]],
) -> BayesianGaussianMixture:
    """The fitted BayesianGaussianMixture, its attributes of the fit's types."""
    assert h.bayesian is not None
    concentration: Any
    if STICK_ARRAYS[0] in arrays:
        concentration = (arrays[STICK_ARRAYS[0]], arrays[STICK_ARRAYS[1]])
    else:
        concentration = arrays["weight_concentration_"]
    dof = arrays["degrees_of_freedom_"]
    covariance_prior = arrays["covariance_prior_"]
    prior = VariationalPrior(
        weight_concentration_prior_type=params["weight_concentration_prior_type"],
        weight_concentration=h.bayesian["weight_concentration_prior_"],
        mean_precision=h.bayesian["mean_precision_prior_"],
        mean=arrays["mean_prior_"],
        degrees_of_freedom=h.bayesian["degrees_of_freedom_prior_"],
        # a spherical prior is a number, as the fit's
        covariance=float(covariance_prior)
        if covariance_prior.ndim == 0
        else covariance_prior,
    )
    return build_fitted_bayesian(
        params,
        model,
        info,
        weight_concentration=concentration,
        mean_precision=arrays["mean_precision_"],
        # tied: one number (a numpy float64, as the fit's)
        degrees_of_freedom=dof[()] if dof.ndim == 0 else dof,
        prior=prior,
        feature_names=h.feature_names,
    )
