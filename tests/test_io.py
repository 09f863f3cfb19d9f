"""``gaussmix.io``: pickle-free model files.

Round trips must be exact: every array bitwise equal with the same dtype, and
every prediction bitwise equal. Every kind of bad file gets its own case and
must raise a one-line ValueError naming the file; nothing is ever unpickled.
"""

import copy
import functools
import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

import gaussmix
import strategies
from gaussmix import GaussianMixture
from gaussmix._validation import PARAMETER_RULES
from gaussmix.core.covariance import FAMILIES, get_family
from gaussmix.io import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    PARAMETER_ARRAYS,
    PARAMS_V1,
    load,
    save,
)

COVARIANCE_TYPES = list(FAMILIES)
DTYPES = [np.float32, np.float64]
ALL_ARRAYS = (*PARAMETER_ARRAYS, "lower_bounds_")
X_BLOBS = make_blobs(
    n_samples=150, n_features=3, centers=2, cluster_std=0.8, random_state=0
)[0]
COLUMNS = ["length", "width", "höhe"]  # a non-ASCII name too


@functools.cache
def fitted(covariance_type="full", dtype=np.float64, names=False):
    """A fitted 2-component model on 3 features (cached: tests must not mutate it)."""
    X = X_BLOBS.astype(dtype)
    data = pd.DataFrame(X, columns=COLUMNS) if names else X
    return GaussianMixture(
        2, covariance_type=covariance_type, random_state=0, n_jobs=1
    ).fit(data)


def assert_same_model(a, b):
    """Arrays bitwise equal with equal dtypes, equal scalars, params and names."""
    for key in PARAMETER_ARRAYS:
        x, y = getattr(a, key), getattr(b, key)
        assert x.dtype == y.dtype, key
        assert x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), key
    assert type(b.converged_) is bool
    assert a.converged_ == b.converged_
    assert a.n_iter_ == b.n_iter_
    assert a.lower_bound_ == b.lower_bound_
    assert a.lower_bounds_ == b.lower_bounds_
    assert a.n_features_in_ == b.n_features_in_
    assert hasattr(a, "feature_names_in_") == hasattr(b, "feature_names_in_")
    if hasattr(a, "feature_names_in_"):
        assert b.feature_names_in_.dtype == object
        assert list(a.feature_names_in_) == list(b.feature_names_in_)
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for name in pa:
        if name in ("weights_init", "means_init", "precisions_init"):
            if pa[name] is None:
                assert pb[name] is None
            else:
                np.testing.assert_array_equal(np.asarray(pa[name]), pb[name])
        elif name == "random_state" and isinstance(pa[name], np.random.RandomState):
            assert pb[name] is None
        else:
            assert pa[name] == pb[name], name
            assert type(pa[name]) is type(pb[name]), name


def save_bytes(model):
    buf = io.BytesIO()
    save(model, buf)
    return buf.getvalue()


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("names", [False, True], ids=["array", "dataframe"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_round_trip_is_exact(tmp_path, covariance_type, dtype, names):
    """Arrays, attributes and every prediction are bitwise equal after load."""
    model = fitted(covariance_type, dtype, names)
    path = tmp_path / "model.npz"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is GaussianMixture
    assert_same_model(model, loaded)
    X = X_BLOBS[:40].astype(dtype)
    data = pd.DataFrame(X, columns=COLUMNS) if names else X
    assert np.array_equal(model.predict(data), loaded.predict(data))
    for method in ("score_samples", "predict_proba"):
        expected, got = getattr(model, method)(data), getattr(loaded, method)(data)
        assert expected.dtype == got.dtype
        assert expected.tobytes() == got.tobytes(), method
    assert model.score(data) == loaded.score(data)
    assert model.bic(data) == loaded.bic(data)
    xs, ys = model.sample(25, random_state=7)
    xl, yl = loaded.sample(25, random_state=7)
    assert xs.tobytes() == xl.tobytes()
    assert np.array_equal(ys, yl)
    # Saving the loaded model again gives the same bytes.
    again = tmp_path / "again.npz"
    save(loaded, again)
    assert again.read_bytes() == path.read_bytes()


def test_loaded_model_clones_and_refits(tmp_path):
    """clone() of a loaded model is unfitted with equal params and fits like the original."""
    model = fitted("diag")
    save(model, tmp_path / "m.npz")
    fresh = clone(load(tmp_path / "m.npz"))
    assert not hasattr(fresh, "weights_")
    assert fresh.get_params() == model.get_params()
    refit = fresh.fit(X_BLOBS)
    assert refit.means_.tobytes() == model.means_.tobytes()


def test_saving_is_deterministic_and_path_and_file_agree(tmp_path):
    """The same model gives the same bytes whether written to a path or a file object."""
    model = fitted("tied", np.float32, True)
    save(model, tmp_path / "a.npz")
    save(model, tmp_path / "b.npz")
    data = (tmp_path / "a.npz").read_bytes()
    assert data == (tmp_path / "b.npz").read_bytes() == save_bytes(model)
    assert_same_model(model, load(io.BytesIO(data)))


def test_init_arrays_and_numpy_scalars_round_trip(tmp_path):
    """Array parameters go into the archive; numpy scalars become plain numbers."""
    K, D = 2, 3
    weights = np.array([0.25, 0.75])
    means = X_BLOBS[[0, 1]]
    precisions = np.tile(np.eye(D), (K, 1, 1))
    model = GaussianMixture(
        np.int64(K),
        tol=np.float32(1e-3),
        weights_init=list(weights),
        means_init=means.astype(np.float32),
        precisions_init=precisions,
        random_state=np.int32(3),
        warm_start=np.bool_(True),
        n_jobs=1,
    ).fit(X_BLOBS)
    path = tmp_path / "init.npz"
    save(model, path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(
            [
                HEADER_KEY,
                *ALL_ARRAYS,
                "params.weights_init",
                "params.means_init",
                "params.precisions_init",
            ]
        )
        assert npz["params.means_init"].dtype == np.float32
        assert npz["params.weights_init"].dtype == np.float64
    loaded = load(path)
    assert loaded.n_components == K
    assert type(loaded.n_components) is int
    assert loaded.tol == float(np.float32(1e-3))
    assert loaded.random_state == 3
    assert loaded.warm_start is True
    np.testing.assert_array_equal(loaded.weights_init, weights)
    assert loaded.means_init.dtype == np.float32
    np.testing.assert_array_equal(loaded.means_init, means.astype(np.float32))
    np.testing.assert_array_equal(loaded.precisions_init, precisions)
    for key in PARAMETER_ARRAYS:
        assert getattr(loaded, key).tobytes() == getattr(model, key).tobytes()
    save(loaded, tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()
    # warm start from the loaded model continues from the stored solution
    loaded.fit(X_BLOBS)
    assert loaded.n_iter_ >= 1


def test_random_state_instance_is_stored_as_null_with_a_note(tmp_path):
    """A RandomState cannot be stored safely: null, and a note says so."""
    model = GaussianMixture(2, random_state=np.random.RandomState(0)).fit(X_BLOBS)
    save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        header = json.loads(npz[HEADER_KEY].tobytes().decode("utf-8"))
    assert header["params"]["random_state"] is None
    assert len(header["notes"]) == 1
    assert "RandomState" in header["notes"][0]
    loaded = load(tmp_path / "m.npz")
    assert loaded.random_state is None
    assert loaded.means_.tobytes() == model.means_.tobytes()


def test_zero_iterations_round_trip(tmp_path):
    """max_iter=0 leaves lower_bound_ = -inf and no lower bounds: both survive."""
    model = GaussianMixture(2, max_iter=0, random_state=0).fit(X_BLOBS)
    assert model.lower_bound_ == -np.inf
    assert model.lower_bounds_ == []
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert_same_model(model, loaded)


def test_near_singular_float32_covariance_is_accepted(tmp_path):
    """A covariance that is PD in float64 but singular once rounded to float32.

    gaussmix fits in float64 and casts to the data's dtype, so such models occur
    with (nearly) collinear float32 data; the check allows the dtype's rounding.
    """
    family = get_family("full")
    cov = np.array([[[1.0, 1.0 - 1e-9], [1.0 - 1e-9, 1.0]]])
    chol, failed = family.precisions_cholesky(cov)
    assert not failed.any()
    model = GaussianMixture(1)
    model.weights_ = np.ones(1, dtype=np.float32)
    model.means_ = np.zeros((1, 2), dtype=np.float32)
    model.covariances_ = cov.astype(np.float32)
    model.precisions_cholesky_ = chol.astype(np.float32)
    model.precisions_ = family.precisions(chol).astype(np.float32)
    model.converged_, model.n_iter_, model.lower_bound_ = True, 0, -np.inf
    model.lower_bounds_, model.n_features_in_ = [], 2
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(model.covariances_[0].astype(np.float64))
    save(model, tmp_path / "m.npz")
    assert_same_model(model, load(tmp_path / "m.npz"))


def test_header_is_readable_with_plain_numpy(tmp_path):
    """The documented way to read the header needs only numpy and json."""
    model = fitted("spherical", np.float32, True)
    save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        header = json.loads(npz["header.json"].tobytes().decode("utf-8"))
        assert npz["covariances_"].dtype == np.float32
        assert npz["lower_bounds_"].dtype == np.float64
    assert header["format"] == FORMAT_NAME == "gaussmix-model"
    assert header["format_version"] == FORMAT_VERSION == 2
    assert header["library_version"] == gaussmix.__version__
    assert header["class_name"] == "GaussianMixture"
    assert header["covariance_type"] == "spherical"
    assert header["n_components"] == 2
    assert header["n_features_in_"] == 3
    assert header["feature_names_in_"] == COLUMNS
    assert header["converged_"] is model.converged_
    assert header["n_iter_"] == model.n_iter_
    assert header["lower_bound_"] == model.lower_bound_
    assert set(header["params"]) == set(GaussianMixture().get_params())
    assert set(PARAMS_V1) < set(header["params"])
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_every_parameter_is_stored_and_rules_cover_them():
    """Version 2 stores every constructor parameter (resp_init as null)."""
    assert set(PARAMS_V1) < set(GaussianMixture().get_params())
    assert set(PARAMETER_RULES) <= set(GaussianMixture().get_params())


def test_version_1_file_loads_with_defaults_for_newer_parameters(tmp_path):
    """A version-1 file (no resp_init) loads; the missing parameter takes its default."""
    model = fitted("full", np.float64, False)
    path = tmp_path / "m.gmm"
    save(model, path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header.json"].tobytes().decode("utf-8"))
    header["format_version"] = 1
    del header["params"]["resp_init"]
    arrays["header.json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    old = tmp_path / "v1.gmm"
    with open(old, "wb") as f:
        np.savez(f, **arrays)
    loaded = load(old)
    assert loaded.resp_init is None
    np.testing.assert_array_equal(loaded.means_, model.means_)


def test_resp_init_is_not_stored(tmp_path):
    """Initial responsibilities describe training rows: stored as null with a note."""
    X = np.random.default_rng(0).normal(size=(40, 2))
    resp = np.zeros((40, 2))
    resp[:20, 0] = resp[20:, 1] = 1.0
    model = GaussianMixture(2, resp_init=resp).fit(X)
    save(model, tmp_path / "m.gmm")
    with np.load(tmp_path / "m.gmm", allow_pickle=False) as npz:
        header = json.loads(npz["header.json"].tobytes().decode("utf-8"))
    assert header["params"]["resp_init"] is None
    assert any("resp_init" in note for note in header["notes"])
    assert load(tmp_path / "m.gmm").resp_init is None


def test_path_is_used_as_given_and_overwritten_atomically(tmp_path):
    """No suffix is added; an existing file is replaced; no temporary file remains."""
    path = tmp_path / "model.gmm"
    path.write_bytes(b"old contents")
    save(fitted(), str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gmm"]
    assert_same_model(fitted(), load(str(path)))


# ------------------------------------------------------------------ save errors


def test_save_rejects_unfitted_and_foreign_models(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        save(GaussianMixture(2), tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"gaussmix\.GaussianMixture"):
        save(SklearnGaussianMixture(2).fit(X_BLOBS), tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"path .* or a binary file object"):
        save(fitted(), 42)
    assert list(tmp_path.iterdir()) == []


def test_save_validates_like_load_and_writes_nothing_on_error(tmp_path):
    """A tampered model is refused before anything is written."""
    model = copy.deepcopy(fitted())
    model.weights_ = fitted().weights_ * 2
    path = tmp_path / "m.npz"
    with pytest.raises(
        ValueError, match=r"cannot save model to .*m\.npz.*weights_ sum"
    ):
        save(model, path)
    model.weights_ = fitted().weights_
    model.means_ = np.rint(fitted().means_).astype(np.int64)
    with pytest.raises(
        ValueError, match="means_ must be float32 or float64, got int64"
    ):
        save(model, path)
    model.means_ = fitted().means_
    model.lower_bound_ = float("nan")
    with pytest.raises(ValueError, match="lower_bound_ must be a finite number"):
        save(model, path)
    model.lower_bound_ = fitted().lower_bound_
    model.set_params(random_state=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"random_state .* cannot be stored"):
        save(model, path)
    model.set_params(random_state=0, tol=-1.0)
    with pytest.raises(
        ValueError, match="parameter tol must be 'auto' or a finite number >= 0"
    ):
        save(model, path)
    assert list(tmp_path.iterdir()) == []


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")
    with pytest.raises(OSError):
        load(tmp_path)  # a directory


# ------------------------------------------------------------------ bad files


class Evil:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def members(path):
    """The header (a dict) and the arrays of a model file, read with plain numpy."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop(HEADER_KEY).tobytes().decode("utf-8"))
    return header, arrays


def encode(header):
    text = header if isinstance(header, str) else json.dumps(header)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def write_members(path, header, arrays):
    """A model file written by plain np.savez (stored, like save).

    ``arrays[HEADER_KEY]``, when present, replaces the encoded header (None: no
    header at all).
    """
    payload = {k: v for k, v in arrays.items() if v is not None}
    if HEADER_KEY not in arrays:
        payload[HEADER_KEY] = encode(header)
    with open(path, "wb") as f:
        np.savez(f, **payload)


def _set(path_in_header, value):
    def mutate(h, a):
        target = h
        for k in path_in_header[:-1]:
            target = target[k]
        target[path_in_header[-1]] = value

    return mutate


def _delete(*path_in_header):
    def mutate(h, a):
        target = h
        for k in path_in_header[:-1]:
            target = target[k]
        del target[path_in_header[-1]]

    return mutate


def _raw_header(fn):
    """Replace the header by ``fn(json_text)`` (a str, bytes or array)."""

    def mutate(h, a):
        out = fn(json.dumps(h))
        if isinstance(out, str):
            out = out.encode("utf-8")
        if isinstance(out, bytes):
            out = np.frombuffer(out, dtype=np.uint8)
        a[HEADER_KEY] = out

    return mutate


def _array(key, fn):
    def mutate(h, a):
        a[key] = fn(a[key].copy())

    return mutate


def _both(*mutators):
    def mutate(h, a):
        for m in mutators:
            m(h, a)

    return mutate


def _set_array(key, value):
    def mutate(h, a):
        a[key] = value

    return mutate


def _drop_array(key):
    def mutate(h, a):
        del a[key]

    return mutate


def _with_item(index, value):
    def fn(arr):
        arr[index] = value
        return arr

    return fn


def _asymmetric(c):
    c[0, 0, 1] += 0.1
    return c


def _indefinite(c):
    c[0] = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return c


def _flip_column_sign(u):
    u[0, :, 0] *= -1.0  # U' U'^T and U'^T S U' are unchanged, the diagonal is not
    return u


def _lower_entry(u):
    u[0, 2, 0] = 1e-3
    return u


def _scale_cholesky(h, a):
    a["precisions_cholesky_"] = a["precisions_cholesky_"] * 1.001
    u = a["precisions_cholesky_"]
    a["precisions_"] = u @ np.swapaxes(u, 1, 2)


def _object_means(marker):
    def mutate(h, a):
        a["means_"] = np.array([[Evil(marker)] * 3] * 2, dtype=object)

    return mutate


def _init_means(value):
    def mutate(h, a):
        h["params"]["means_init"] = {"array": "params.means_init"}
        if value is not None:
            a["params.means_init"] = value

    return mutate


# Each case: (mutation of the header dict h and the arrays dict a, message regex).
# The base file is fitted("full", float64): 2 components, 3 features.
MUTATIONS = {
    # header entry
    "header-missing": (_set_array(HEADER_KEY, None), "no header.json entry"),
    "header-not-bytes": (
        _raw_header(lambda t: np.array(t)),
        "header.json must be a 1-D uint8 array",
    ),
    "header-2d": (
        _raw_header(lambda t: np.frombuffer(t.encode(), np.uint8).reshape(1, -1)),
        "header.json must be a 1-D uint8 array",
    ),
    "header-not-utf8": (
        _raw_header(lambda t: b"\xff\xfe" + t.encode()),
        "not valid UTF-8",
    ),
    "header-not-json": (_raw_header(lambda t: t[:-1]), "header.json is not valid JSON"),
    "header-not-object": (_raw_header(lambda t: "[1, 2]"), "must be a JSON object"),
    "header-nan": (
        _raw_header(
            lambda t: t.replace('"lower_bound_": ', '"lower_bound_": NaN, "x": ')
        ),
        "holds NaN, which is not valid JSON",
    ),
    "header-duplicate-key": (
        _raw_header(lambda t: t.replace('"n_iter_": ', '"n_iter_": 1, "n_iter_": ')),
        "has the key 'n_iter_' twice",
    ),
    # header fields
    "format-wrong": (_set(["format"], "sklearn-model"), "not a gaussmix model file"),
    "format-missing": (_delete("format"), "format is None"),
    "version-newer": (
        _set(["format_version"], FORMAT_VERSION + 1),
        r"written by a newer gaussmix \(format version 3; .* upgrade gaussmix",
    ),
    "version-string": (
        _set(["format_version"], "1"),
        "format_version must be an integer",
    ),
    "version-bool": (
        _set(["format_version"], True),
        "format_version must be an integer",
    ),
    "version-zero": (
        _set(["format_version"], 0),
        "format_version must be an integer >= 1",
    ),
    "field-missing": (_delete("n_iter_"), "header field.* n_iter_ are missing"),
    "field-unknown": (_set(["colour"], "red"), "unknown header field.*'colour'"),
    "library-version": (
        _set(["library_version"], 1),
        "library_version must be a string",
    ),
    "class-name": (_set(["class_name"], "BayesianGaussianMixture"), "class_name is"),
    "covariance-type-unknown": (
        _both(
            _set(["covariance_type"], "banded"),
            _set(["params", "covariance_type"], "banded"),
        ),
        "covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; got 'banded'",
    ),
    "n-components-zero": (
        _set(["n_components"], 0),
        "n_components must be an integer >= 1",
    ),
    "n-components-disagree": (
        _set(["n_components"], 3),
        "params.n_components = 2 disagrees",
    ),
    "n-features-float": (
        _set(["n_features_in_"], 3.0),
        "n_features_in_ must be an integer",
    ),
    "names-length": (
        _set(["feature_names_in_"], ["a", "b"]),
        "has 2 names but n_features_in_ is 3",
    ),
    "names-not-str": (
        _set(["feature_names_in_"], [1, 2, 3]),
        "null or a list of strings",
    ),
    "params-not-object": (_set(["params"], []), "params must be a JSON object"),
    "param-invalid": (
        _set(["params", "tol"], -1),
        "parameter tol must be 'auto' or a finite number >= 0",
    ),
    "param-wrong-type": (
        _set(["params", "n_init"], "3"),
        "parameter n_init must be an integer",
    ),
    "param-unknown": (_set(["params", "alpha"], 1.0), "unknown parameter.*'alpha'"),
    "param-missing": (
        _delete("params", "reg_covar"),
        "missing parameter.*'reg_covar'",
    ),
    "param-array-reference": (
        _set(["params", "means_init"], {"array": "elsewhere"}),
        "means_init must be null or",
    ),
    "converged-not-bool": (
        _set(["converged_"], "yes"),
        "converged_ must be true or false",
    ),
    "n-iter-negative": (_set(["n_iter_"], -1), "n_iter_ must be an integer >= 0"),
    "lower-bound-string": (
        _set(["lower_bound_"], "high"),
        "lower_bound_ must be a finite number",
    ),
    "lower-bound-inf-after-iterations": (
        _set(["lower_bound_"], "-Infinity"),
        "lower_bound_ must be a finite number",
    ),
    "notes-not-list": (_set(["notes"], "fine"), "notes must be a list of strings"),
    # the set of arrays
    **{
        f"missing-{key}": (_drop_array(key), f"the array\\(s\\) {key} are missing")
        for key in ALL_ARRAYS
    },
    "extra-array": (
        _set_array("centroids_", np.zeros(3)),
        r"unexpected array\(s\) centroids_",
    ),
    "init-array-missing": (_init_means(None), r"params\.means_init are missing"),
    # dtypes
    "dtype-int": (
        _array("means_", lambda m: m.astype(np.int64)),
        "means_ must be float32 or float64, got int64",
    ),
    "dtype-float16": (
        _array("covariances_", lambda c: c.astype(np.float16)),
        "covariances_ must be float32 or float64, got float16",
    ),
    "dtype-complex": (
        _array("weights_", lambda w: w.astype(np.complex128)),
        "weights_ must be float32 or float64, got complex128",
    ),
    "dtype-bool": (
        _array("precisions_", lambda p: p > 0),
        "precisions_ must be float32 or float64, got bool",
    ),
    "dtype-string": (
        _array("means_", lambda m: m.astype(str)),
        "means_ must be float32 or float64, got <U",
    ),
    "dtype-mixed": (
        _array("means_", lambda m: m.astype(np.float32)),
        "must all be float32 or all float64, got .*means_ float32",
    ),
    "dtype-lower-bounds": (
        _array("lower_bounds_", lambda b: b.astype(np.float32)),
        "lower_bounds_ must be float64",
    ),
    # shapes
    "shape-weights": (
        _array("weights_", lambda w: np.append(w, 0.0)),
        r"weights_ has shape \(3,\), but the header .* implies \(2,\)",
    ),
    "shape-means": (
        _array("means_", lambda m: m[:, :2]),
        r"means_ has shape \(2, 2\), .* implies \(2, 3\)",
    ),
    "shape-covariances": (
        _array("covariances_", lambda c: c[0]),
        r"covariances_ has shape \(3, 3\), .* implies \(2, 3, 3\)",
    ),
    "shape-lower-bounds": (
        _array("lower_bounds_", lambda b: b[:-1]),
        "lower_bounds_ has shape",
    ),
    "shape-init": (
        _init_means(np.zeros((2, 4))),
        r"params\.means_init has shape \(2, 4\)",
    ),
    # values
    "nan-means": (
        _array("means_", _with_item((0, 1), np.nan)),
        r"means_ contains NaN or infinity \(1 value",
    ),
    "inf-covariances": (
        _array("covariances_", _with_item((1, 2, 2), np.inf)),
        "covariances_ contains NaN or infinity",
    ),
    "nan-lower-bounds": (
        _array("lower_bounds_", _with_item(0, np.nan)),
        "lower_bounds_ contains NaN",
    ),
    "nan-init": (
        _init_means(np.full((2, 3), np.nan)),
        r"params\.means_init contains NaN",
    ),
    "weights-negative": (
        _array("weights_", lambda w: w * np.array([-1.0, 1.0])),
        "weights_ must be positive",
    ),
    "weights-zero": (
        _array("weights_", lambda w: np.array([0.0, 1.0])),
        "weights_ must be positive",
    ),
    "weights-sum": (
        _array("weights_", lambda w: w * 0.9),
        "weights_ sum to 0.9.*, not 1",
    ),
    "covariance-asymmetric": (
        _array("covariances_", _asymmetric),
        r"covariances_\[0\] is not symmetric",
    ),
    "covariance-indefinite": (
        _array("covariances_", _indefinite),
        r"covariances_\[0\] is not positive definite \(Cholesky fails\)",
    ),
    "covariance-zero-variance": (
        _array("covariances_", _with_item((1, 0, 0), 0.0)),
        r"covariances_\[1\] is not positive definite",
    ),
    "covariance-scaled": (
        _array("covariances_", lambda c: c * 1.01),
        "precisions_cholesky_ disagrees with covariances_",
    ),
    "precisions-scaled": (
        _array("precisions_", lambda p: p * (1 + 1e-6)),
        "precisions_ disagrees with covariances_",
    ),
    "cholesky-scaled": (
        _scale_cholesky,
        "precisions_cholesky_ disagrees with covariances_",
    ),
    "cholesky-lower": (
        _array("precisions_cholesky_", _lower_entry),
        r"precisions_cholesky_\[0\] must be upper triangular",
    ),
    "cholesky-sign": (
        _array("precisions_cholesky_", _flip_column_sign),
        r"precisions_cholesky_\[0\] must have a positive diagonal",
    ),
    "init-weights-sum": (
        _both(
            _set(["params", "weights_init"], {"array": "params.weights_init"}),
            lambda h, a: a.__setitem__("params.weights_init", np.array([0.5, 0.6])),
        ),
        "weights_init must sum to 1",
    ),
}


@pytest.fixture
def base_file(tmp_path):
    path = tmp_path / "model.npz"
    save(fitted("full"), path)
    return path


def assert_load_fails(path, match):
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot load gaussmix model {str(path)!r}: ")
    return message


@pytest.mark.parametrize(("mutate", "match"), MUTATIONS.values(), ids=MUTATIONS.keys())
def test_invalid_contents_are_refused(base_file, tmp_path, mutate, match):
    header, arrays = members(base_file)
    mutate(header, arrays)
    bad = tmp_path / "bad.npz"
    write_members(bad, header, arrays)
    assert_load_fails(bad, match)


def test_object_array_is_never_unpickled(base_file, tmp_path):
    marker = tmp_path / "unpickled"
    header, arrays = members(base_file)
    _object_means(marker)(header, arrays)
    bad = tmp_path / "bad.npz"
    write_members(bad, header, arrays)
    assert_load_fails(bad, "array means_ holds Python objects")
    assert not marker.exists()
    with np.load(bad, allow_pickle=True) as npz:  # the test file really is armed
        npz["means_"]
    assert marker.exists()


def test_pickle_file_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps(Evil(marker)))
    assert_load_fails(bad, "it is a Python pickle, .* never loaded")
    assert not marker.exists()
    pickle.loads(bad.read_bytes())  # the test file really is armed
    assert marker.exists()


@pytest.mark.parametrize(
    ("covariance_type", "key", "shape"),
    [
        ("tied", "covariances_", (2, 3, 3)),
        ("tied", "precisions_cholesky_", (3,)),
        ("diag", "covariances_", (2, 3, 3)),
        ("diag", "precisions_", (2,)),
        ("spherical", "covariances_", (2, 3)),
        ("spherical", "precisions_cholesky_", (3, 3)),
        ("full", "precisions_", (2, 3)),
    ],
)
def test_family_shapes_are_enforced(tmp_path, covariance_type, key, shape):
    """Each family's shapes come from get_family(...).covariance_shape."""
    path = tmp_path / "m.npz"
    save(fitted(covariance_type), path)
    header, arrays = members(path)
    arrays[key] = np.ones(shape)
    write_members(path, header, arrays)
    expected = get_family(covariance_type).covariance_shape(2, 3)
    assert_load_fails(
        path,
        f"array {key} has shape {re_tuple(shape)}, .* implies {re_tuple(expected)}",
    )


def re_tuple(t):
    return str(tuple(t)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize(
    ("covariance_type", "key", "value", "match"),
    [
        ("diag", "covariances_", -1.0, "covariances_ must be positive; component 0"),
        (
            "spherical",
            "covariances_",
            0.0,
            "covariances_ must be positive; component 0",
        ),
        ("diag", "precisions_cholesky_", -1.0, "precisions_cholesky_ must be positive"),
        ("tied", "covariances_", 0.0, "covariances_ is not positive definite"),
    ],
)
def test_family_positivity_is_enforced(tmp_path, covariance_type, key, value, match):
    path = tmp_path / "m.npz"
    save(fitted(covariance_type), path)
    header, arrays = members(path)
    arrays[key].flat[0] = value
    write_members(path, header, arrays)
    assert_load_fails(path, match)


def test_tied_asymmetry_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save(fitted("tied"), path)
    header, arrays = members(path)
    arrays["covariances_"][0, 1] *= 1.01
    write_members(path, header, arrays)
    assert_load_fails(path, r"covariances_ is not symmetric \(asymmetry")


def _zip_with(entries, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _with_entry(good, key, data):
    """The good file's entries, with ``key``'s entry replaced by raw ``data``."""
    header, arrays = good
    entries = [(f"{k}.npy", _npy_bytes(v)) for k, v in arrays.items() if k != key]
    entries += [(f"{key}.npy", data), (f"{HEADER_KEY}.npy", _npy_bytes(encode(header)))]
    return _zip_with(entries)


def _short_means(good):
    """means_ whose .npy header declares (2, 4) but whose data holds (2, 3)."""
    npy = _npy_bytes(good[1]["means_"]).replace(b"(2, 3)", b"(2, 4)")
    return _with_entry(good, "means_", npy)


def _compressed(good):
    header, arrays = good
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, **{HEADER_KEY: encode(header)})
    return buf.getvalue()


def _flip_data_byte(data, good):
    """Flip one bit inside the data of means_: the zip CRC must catch it."""
    raw = good[1]["means_"].tobytes()
    at = data.index(raw) + len(raw) // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# Whole-file cases: (new bytes from the good bytes and members, message regex).
RAW_FILES = {
    "empty": (lambda data, good: b"", "the file is empty"),
    "random-bytes": (
        lambda data, good: np.random.default_rng(0).bytes(500),
        r"not a gaussmix model file \(not an .npz zip archive\)",
    ),
    "text": (lambda data, good: b"weights: 0.5 0.5\n", "not an .npz zip archive"),
    "cut-in-half": (lambda data, good: data[: len(data) // 2], "damaged or truncated"),
    "last-bytes-cut": (lambda data, good: data[:-10], "damaged or truncated"),
    "bit-flip-in-data": (_flip_data_byte, "array means_ is damaged .*CRC"),
    "npy-not-npz": (
        lambda data, good: _npy_bytes(good[1]["means_"]),
        "it is a single .npy array",
    ),
    "zip-with-text": (
        lambda data, good: _zip_with([("readme.txt", b"hello")]),
        "unexpected entry 'readme.txt'",
    ),
    "empty-zip": (lambda data, good: _zip_with([]), "no header.json entry"),
    "compressed": (lambda data, good: _compressed(good), "is compressed"),
    "npy-declares-more-data": (
        lambda data, good: _short_means(good),
        r"array means_ is damaged or truncated: its shape \(2, 4\)",
    ),
    "not-npy-entry": (
        lambda data, good: _with_entry(good, "means_", b"not an array"),
        "array means_ is not a valid .npy array",
    ),
}


@pytest.mark.parametrize(("make", "match"), RAW_FILES.values(), ids=RAW_FILES.keys())
def test_invalid_files_are_refused(base_file, tmp_path, make, match):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(make(base_file.read_bytes(), members(base_file)))
    assert_load_fails(bad, match)


def test_duplicate_entries_are_refused(base_file, tmp_path):
    header, arrays = members(base_file)
    entries = [(f"{k}.npy", _npy_bytes(v)) for k, v in arrays.items()]
    entries += [(f"{HEADER_KEY}.npy", _npy_bytes(encode(header)))]
    entries += [("means_.npy", _npy_bytes(arrays["means_"]))]
    bad = tmp_path / "bad.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        bad.write_bytes(_zip_with(entries))
    assert_load_fails(bad, "the entry 'means_.npy' appears twice")


def test_file_objects_are_named_in_messages():
    with pytest.raises(
        ValueError, match=r"cannot load gaussmix model <BytesIO>: .*empty"
    ):
        load(io.BytesIO(b""))


def test_plain_savez_file_with_valid_contents_loads(base_file, tmp_path):
    """The format is plain npz: a file assembled with np.savez loads."""
    header, arrays = members(base_file)
    other = tmp_path / "other.npz"
    write_members(other, header, arrays)
    assert_same_model(fitted("full"), load(other))


def test_big_endian_arrays_are_read_in_native_order(base_file, tmp_path):
    """Arrays written big-endian by another tool load with equal values, native dtype."""
    header, arrays = members(base_file)
    swapped = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    other = tmp_path / "big.npz"
    write_members(other, header, swapped)
    with np.load(other, allow_pickle=False) as npz:
        assert npz["means_"].dtype.byteorder == ">"
    loaded = load(other)
    assert loaded.means_.dtype == np.float64
    assert_same_model(fitted("full"), loaded)


# ------------------------------------------------------------------ properties


@st.composite
def models(draw):
    """Random valid fitted models of every family, float32 or float64."""
    name = draw(st.sampled_from(COVARIANCE_TYPES))
    family = FAMILIES[name]
    K = draw(st.integers(1, strategies.MAX_COMPONENTS))
    D = draw(st.integers(1, strategies.MAX_FEATURES))
    params = draw(strategies.gmm_params(family, K, D))
    dtype = draw(st.sampled_from(DTYPES))
    if dtype == np.float32:
        # Casting covariances and their precision factors to float32 separately
        # leaves them inconsistent by about eps32 * condition number; a float32
        # fit computes both in float32 and stays consistent. Keep random float32
        # models well conditioned, as fits are.
        dense = family.to_dense(params.covariances, K, D)
        assume(np.linalg.cond(dense).max() < 10.0)
    n_iter = draw(st.integers(0, 4))
    lower_bounds = draw(
        st.lists(strategies.bounded_floats(-1e6, 1e6), min_size=n_iter, max_size=n_iter)
    )
    model = GaussianMixture(
        K,
        covariance_type=name,
        tol=draw(strategies.bounded_floats(0.0, 1.0)),
        reg_covar=draw(st.sampled_from([0.0, 1e-6, 1e-3])),
        random_state=draw(st.none() | st.integers(0, 2**32 - 1)),
        means_init=draw(st.none() | st.just(params.means)),
        n_jobs=1,
    )
    model.weights_ = params.weights.astype(dtype)
    model.means_ = params.means.astype(dtype)
    model.covariances_ = params.covariances.astype(dtype)
    # Factors from the stored (cast) covariances, as a fit in this dtype has them.
    chol, failed = family.precisions_cholesky(model.covariances_.astype(np.float64))
    assume(not failed.any())
    assume(np.isfinite(chol.astype(dtype)).all())
    model.precisions_cholesky_ = chol.astype(dtype)
    model.precisions_ = family.precisions(chol).astype(dtype)
    model.converged_ = draw(st.booleans())
    model.n_iter_ = n_iter
    model.lower_bounds_ = lower_bounds
    model.lower_bound_ = lower_bounds[-1] if lower_bounds else -np.inf
    model.n_features_in_ = D
    if draw(st.booleans()):
        model.feature_names_in_ = np.array([f"x{i}" for i in range(D)], dtype=object)
    return model


@given(models())
def test_random_models_round_trip_exactly(model):
    data = save_bytes(model)
    loaded = load(io.BytesIO(data))
    assert_same_model(model, loaded)
    assert save_bytes(loaded) == data
    X = np.linspace(-3, 3, 4 * model.n_features_in_).reshape(4, -1)
    X = X.astype(model.means_.dtype)
    if hasattr(model, "feature_names_in_"):
        X = pd.DataFrame(X, columns=list(model.feature_names_in_))
    assert model.score_samples(X).tobytes() == loaded.score_samples(X).tobytes()


def test_subnormal_float32_covariance_entries_round_trip():
    """A float32 off-diagonal of 1e-45 (subnormal) has no relative precision.

    Its precision factor's rounding is absolute, so the consistency check of the
    saver must allow an absolute error at the scale of the matrix (found by the
    property test above).
    """
    model = fitted("full", np.float32)
    family = FAMILIES["full"]
    cov = model.covariances_.astype(np.float64)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    cov[:, 0, 1] = cov[:, 1, 0] = tiny
    model.covariances_ = cov.astype(np.float32)
    chol, failed = family.precisions_cholesky(model.covariances_.astype(np.float64))
    assert not failed.any()
    model.precisions_cholesky_ = chol.astype(np.float32)
    model.precisions_ = family.precisions(chol).astype(np.float32)
    loaded = load(io.BytesIO(save_bytes(model)))
    assert_same_model(model, loaded)


GOOD_BYTES = save_bytes(fitted("tied", np.float32, True))


@given(
    st.integers(0, len(GOOD_BYTES) - 1),
    st.integers(1, 255),
    st.booleans(),
)
def test_corrupted_bytes_raise_value_error_or_load_the_same_model(at, xor, truncate):
    """Any one-byte change or truncation is refused or harmless (e.g. a timestamp)."""
    data = (
        GOOD_BYTES[:at]
        if truncate
        else (GOOD_BYTES[:at] + bytes([GOOD_BYTES[at] ^ xor]) + GOOD_BYTES[at + 1 :])
    )
    try:
        loaded = load(io.BytesIO(data))
    except ValueError as exc:
        message = str(exc)
    else:
        assert_same_model(fitted("tied", np.float32, True), loaded)
        return
    assert message.startswith("cannot load gaussmix model <BytesIO>: ")
    assert "\n" not in message


# ------------------------------------------------------------ noise component


@functools.cache
def fitted_noise():
    """A fitted model with a noise component (cached: tests must not mutate it)."""
    rng = np.random.default_rng(5)
    X = np.vstack([X_BLOBS, rng.uniform(X_BLOBS.min(0), X_BLOBS.max(0), (20, 3))])
    return GaussianMixture(2, noise=True, random_state=0, n_jobs=1).fit(X), X


@pytest.fixture
def noise_file(tmp_path):
    path = tmp_path / "noise.npz"
    save(fitted_noise()[0], path)
    return path


def test_noise_model_round_trips_exactly(noise_file):
    """noise_weight_, noise_log_density_ and the box come back bitwise."""
    model, X = fitted_noise()
    back = load(noise_file)
    assert_same_model(model, back)
    assert back.noise_weight_ == model.noise_weight_
    assert back.noise_log_density_ == model.noise_log_density_
    for key in ("noise_box_axes_", "noise_box_bounds_"):
        assert getattr(back, key).tobytes() == getattr(model, key).tobytes()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    np.testing.assert_array_equal(back.score_samples(X), model.score_samples(X))
    header, _ = members(noise_file)
    assert header["noise_weight_"] == model.noise_weight_
    assert header["params"]["noise"] is True
    assert header["params"]["noise_init"] is None
    assert save_bytes(back) == save_bytes(model)


def test_noise_init_is_not_stored(tmp_path):
    """noise_init (rows of the training data) is stored as null with a note."""
    _, X = fitted_noise()
    mask = np.zeros(len(X), dtype=bool)
    mask[-20:] = True
    model = GaussianMixture(2, noise=True, noise_init=mask, random_state=0).fit(X)
    save(model, tmp_path / "m.npz")
    header, _ = members(tmp_path / "m.npz")
    assert header["params"]["noise_init"] is None
    assert any("noise_init" in note for note in header["notes"])
    assert load(tmp_path / "m.npz").noise_init is None


def _scale_box(h, a):
    a["noise_box_bounds_"] = a["noise_box_bounds_"] * 1.01


NOISE_MUTATIONS = {
    "weights_plus_noise": (
        _set(("noise_weight_",), 0.5),
        "weights_ sum to .* and noise_weight_ is 0.5: together not 1",
    ),
    "one_noise_field": (
        _delete("noise_log_density_"),
        "has noise_weight_ but not noise_log_density_",
    ),
    "noise_fields_without_param": (
        _set(("params", "noise"), None),
        "params.noise is null: the model has no noise component",
    ),
    "param_without_noise_fields": (
        lambda h, a: [h.pop(k) for k in ("noise_weight_", "noise_log_density_")],
        "params.noise = True but the header has no noise_weight_",
    ),
    "noise_weight_out_of_range": (
        _set(("noise_weight_",), 1.5),
        r"noise_weight_ must be in \[0, 1\)",
    ),
    "noise_density_not_a_number": (
        _set(("noise_log_density_",), "x"),
        "noise_log_density_ must be a finite number",
    ),
    "bad_noise_param": (_set(("params", "noise"), -2), "parameter noise must be"),
    "box_volume": (_scale_box, "the noise box has log-volume"),
    "box_axes": (
        lambda h, a: a.__setitem__("noise_box_axes_", a["noise_box_axes_"] * 2),
        "noise_box_axes_ must have orthonormal columns",
    ),
    "box_order": (
        lambda h, a: a.__setitem__("noise_box_bounds_", a["noise_box_bounds_"][::-1]),
        "upper bounds",
    ),
    "box_missing": (
        lambda h, a: a.pop("noise_box_axes_"),
        "noise_box_axes_ are missing",
    ),
    "box_float32": (
        lambda h, a: a.__setitem__(
            "noise_box_bounds_", a["noise_box_bounds_"].astype(np.float32)
        ),
        "noise_box_bounds_ must be float64",
    ),
}


@pytest.mark.parametrize(
    ("mutate", "match"), NOISE_MUTATIONS.values(), ids=NOISE_MUTATIONS.keys()
)
def test_invalid_noise_contents_are_refused(noise_file, tmp_path, mutate, match):
    header, arrays = members(noise_file)
    mutate(header, arrays)
    bad = tmp_path / "bad.npz"
    write_members(bad, header, arrays)
    assert_load_fails(bad, match)


def test_noise_fields_in_a_version_1_file_are_refused(noise_file, tmp_path):
    """Format version 1 has no optional fields."""
    header, arrays = members(noise_file)
    header["format_version"] = 1
    bad = tmp_path / "bad.npz"
    write_members(bad, header, arrays)
    assert_load_fails(bad, "unknown header field")


# ---------------------------------------------------------------------- prior


@functools.cache
def fitted_prior():
    """A model fitted with a given prior dict (cached: tests must not mutate it)."""
    prior = {"shrinkage": 0.1, "mean": [0.0, 1.0, 2.0], "scale": np.eye(3), "dof": 7}
    return GaussianMixture(2, prior=prior, random_state=0, n_jobs=1).fit(X_BLOBS)


@pytest.fixture
def prior_file(tmp_path):
    path = tmp_path / "prior.npz"
    save(fitted_prior(), path)
    return path


def test_prior_model_round_trips_exactly(prior_file, tmp_path):
    """The prior parameter (with its arrays) and prior_ come back exactly."""
    model = fitted_prior()
    back = load(prior_file)
    for key in ("weights_", "means_", "covariances_"):
        assert getattr(back, key).tobytes() == getattr(model, key).tobytes()
    assert back.prior["shrinkage"] == 0.1
    assert back.prior["dof"] == 7
    np.testing.assert_array_equal(back.prior["scale"], np.eye(3))
    for key in ("mean", "scale"):
        np.testing.assert_array_equal(back.prior_[key], model.prior_[key])
    assert save_bytes(back) == save_bytes(model)
    default = GaussianMixture(2, covariance_type="diag", prior="default").fit(X_BLOBS)
    save(default, tmp_path / "d.npz")
    loaded = load(tmp_path / "d.npz")
    assert loaded.prior == "default"
    assert loaded.prior_["scale"].shape == ()
    assert loaded.prior_["scale"] == default.prior_["scale"]


PRIOR_MUTATIONS = {
    "fitted_prior_missing": (_delete("prior_"), "params.prior is set but the header"),
    "param_prior_missing": (
        _set(("params", "prior"), None),
        "the header has prior_ but params.prior is null",
    ),
    "prior_dof": (_set(("prior_", "dof"), -1), "prior_.dof must be a finite number"),
    "prior_shrinkage": (
        _set(("prior_", "shrinkage"), "a"),
        "prior_.shrinkage must be a finite number",
    ),
    "prior_keys": (_delete("prior_", "dof"), "prior_ must be an object with the keys"),
    "param_prior_key": (_set(("params", "prior", "kappa"), 1), "unknown key"),
    "param_prior_mean_number": (
        _set(("params", "prior", "mean"), 3),
        "prior.mean must be a finite number",
    ),
    "param_prior_type": (_set(("params", "prior"), 3), "parameter prior must be null"),
    "prior_scale_not_spd": (
        lambda h, a: a.__setitem__("prior_.scale", -np.eye(3)),
        "prior_.scale must be positive definite",
    ),
    "prior_mean_shape": (
        lambda h, a: a.__setitem__("prior_.mean", np.zeros(2)),
        "array prior_.mean has shape",
    ),
}


@pytest.mark.parametrize(
    ("mutate", "match"), PRIOR_MUTATIONS.values(), ids=PRIOR_MUTATIONS.keys()
)
def test_invalid_prior_contents_are_refused(prior_file, tmp_path, mutate, match):
    header, arrays = members(prior_file)
    mutate(header, arrays)
    bad = tmp_path / "bad.npz"
    write_members(bad, header, arrays)
    assert_load_fails(bad, match)
