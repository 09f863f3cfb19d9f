"""Model files of BayesianGaussianMixture: exact round trips and refused tampering."""

from __future__ import annotations

import functools
import io
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaussmix import BayesianGaussianMixture, GaussianMixture
from gaussmix.exceptions import ConvergenceWarning
from gaussmix.io import BAYESIAN_FIELD, load, save

COV_TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
RNG = np.random.default_rng(0)
X = np.vstack([RNG.normal(0.0, 1.0, (40, 3)), RNG.normal(4.0, 0.5, (40, 3))])


@functools.cache
def fitted(cov: str, prior: str, dtype: type = np.float64, **params):
    """A fitted model (cached: tests must not mutate it)."""
    model = BayesianGaussianMixture(
        n_components=3,
        covariance_type=cov,
        weight_concentration_prior_type=prior,
        random_state=0,
        n_jobs=1,
        **params,
    )
    return model.fit(X.astype(dtype))


def save_bytes(model) -> bytes:
    buffer = io.BytesIO()
    save(model, buffer)
    return buffer.getvalue()


FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
    "mean_precision_",
    "degrees_of_freedom_",
    "mean_prior_",
    "covariance_prior_",
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "degrees_of_freedom_prior_",
    "converged_",
    "n_iter_",
    "lower_bound_",
    "lower_bounds_",
    "n_features_in_",
)


def same_value(a, b) -> bool:
    """Equal values of the same type and dtype, bitwise for arrays."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, np.ndarray | np.generic):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return bool(a == b)


def assert_same_model(model, back) -> None:
    assert type(back) is BayesianGaussianMixture
    for name in FITTED:
        assert same_value(getattr(model, name), getattr(back, name)), name
    assert same_value(model.weight_concentration_, back.weight_concentration_)
    params, params_back = model.get_params(), back.get_params()
    assert params.keys() == params_back.keys()
    for name, value in params.items():
        if np.ndim(value) > 0:
            np.testing.assert_array_equal(params_back[name], value)
        else:
            assert params_back[name] == value, name
    Y = X[::7] + 0.25
    for method in ("predict", "predict_proba", "score_samples"):
        a, b = getattr(model, method)(Y), getattr(back, method)(Y)
        assert a.dtype == b.dtype, method
        assert a.tobytes() == b.tobytes(), method
    drawn = zip(
        model.sample(9, random_state=3), back.sample(9, random_state=3), strict=True
    )
    for a, b in drawn:
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("prior", PRIOR_TYPES)
@pytest.mark.parametrize("cov", COV_TYPES)
def test_round_trip_is_exact(cov, prior):
    model = fitted(cov, prior)
    data = save_bytes(model)
    back = load(io.BytesIO(data))
    assert_same_model(model, back)
    assert save_bytes(back) == data  # same bytes again
    if prior == "dirichlet_process":
        assert isinstance(back.weight_concentration_, tuple)
    if cov == "tied":
        assert isinstance(back.degrees_of_freedom_, np.float64)
    if cov == "spherical":
        assert isinstance(back.covariance_prior_, float)


@pytest.mark.parametrize("cov", ["full", "spherical"])
def test_float32_and_feature_names_round_trip(cov, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X.astype(np.float32), columns=["a", "b", "c"])
    model = BayesianGaussianMixture(
        n_components=3, covariance_type=cov, random_state=0, n_jobs=1
    ).fit(frame)
    assert model.means_.dtype == np.float32
    save(model, tmp_path / "m.gmm")
    back = load(tmp_path / "m.gmm")
    assert_same_model(model, back)
    assert list(back.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(back.predict(frame), model.predict(frame))


@pytest.mark.parametrize(
    ("cov", "covariance_prior"),
    [
        ("full", ((2.0, 0.5, 0.0), (0.5, 1.0, 0.0), (0.0, 0.0, 3.0))),
        ("tied", ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))),
        ("diag", (1.0, 2.0, 0.5)),
        ("spherical", 1.5),
    ],
)
def test_given_array_priors_round_trip(cov, covariance_prior):
    model = fitted(
        cov,
        "dirichlet_distribution",
        mean_prior=(1.0, 2.0, 3.0),
        covariance_prior=covariance_prior,
        degrees_of_freedom_prior=4.5,
        mean_precision_prior=0.5,
        weight_concentration_prior=0.1,
    )
    back = load(io.BytesIO(save_bytes(model)))
    assert_same_model(model, back)
    assert (
        back.mean_prior.dtype == np.float64
    )  # a tuple of numbers is stored as float64
    np.testing.assert_array_equal(back.covariance_prior, covariance_prior)
    # the loaded model refits like the original
    refit = back.fit(X)
    np.testing.assert_array_equal(refit.means_, model.means_)


def test_svi_parameters_and_partial_fit_round_trip():
    model = BayesianGaussianMixture(
        n_components=2,
        batch_size=20,
        learning_decay=0.7,
        learning_offset=2.0,
        total_samples=80.0,
        max_iter=5,
        random_state=0,
        n_jobs=1,
    )
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model.fit(X)
    model.partial_fit(X[:30])
    back = load(io.BytesIO(save_bytes(model)))
    assert_same_model(model, back)
    # a loaded model continues by a new stream from its posterior
    back.partial_fit(X[30:60])
    assert back.n_iter_ == 1
    assert np.all(np.isfinite(back.score_samples(X)))


def test_gaussian_mixture_files_are_unchanged():
    """A GaussianMixture file has no bayesian field and loads as before."""
    gm = GaussianMixture(2, random_state=0, n_jobs=1).fit(X)
    data = save_bytes(gm)
    header, _ = members(data)
    assert header["format_version"] == 2
    assert BAYESIAN_FIELD not in header
    back = load(io.BytesIO(data))
    assert type(back) is GaussianMixture
    np.testing.assert_array_equal(back.means_, gm.means_)
    # a GaussianMixture header with a Bayesian model's arrays is refused
    _, bayes_arrays = members(save_bytes(fitted("full", "dirichlet_process")))
    _, arrays = members(data)
    arrays["mean_precision_"] = bayes_arrays["mean_precision_"]
    with pytest.raises(ValueError, match=r"unexpected array.*mean_precision_"):
        load(rewrite(header, arrays))


# ------------------------------------------------------------- tampering


def members(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop("header.json").tobytes().decode("utf-8"))
    return header, arrays


def rewrite(header: dict, arrays: dict[str, np.ndarray]) -> io.BytesIO:
    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **{"header.json": raw, **arrays})
    buffer.seek(0)
    return buffer


def tampered(cov: str, prior: str, change) -> str:
    header, arrays = members(save_bytes(fitted(cov, prior)))
    change(header, arrays)
    with pytest.raises(ValueError) as info:
        load(rewrite(header, arrays))
    message = str(info.value)
    assert message.startswith("cannot load gaussmix model <BytesIO>: ")
    assert "\n" not in message
    return message


def _set_array(key, value):
    def change(header, arrays):
        arrays[key] = np.asarray(value, dtype=np.float64)

    return change


CASES = {
    "negative-dof": (
        "full",
        _set_array("degrees_of_freedom_", [-1.0, 5.0, 5.0]),
        "degrees_of_freedom_ must be greater than n_features_in_ - 1 = 2",
    ),
    "tied-dof-too-small": (
        "tied",
        _set_array("degrees_of_freedom_", 1.5),
        "degrees_of_freedom_ must be greater than n_features_in_ - 1",
    ),
    "dof-wrong-shape": (
        "diag",
        _set_array("degrees_of_freedom_", [5.0, 5.0]),
        r"array degrees_of_freedom_ has shape \(2,\), but the header .* implies \(3,\)",
    ),
    "mean-precision-zero": (
        "diag",
        _set_array("mean_precision_", [0.0, 1.0, 1.0]),
        "mean_precision_ must be positive",
    ),
    "concentration-negative": (
        "spherical",
        _set_array("weight_concentration_.1", [-1.0, 1.0, 1.0]),
        r"weight_concentration_\.1 must be positive",
    ),
    "concentration-disagrees-with-weights": (
        "full",
        _set_array("weight_concentration_.0", [50.0, 1.0, 1.0]),
        "weights_ disagree with weight_concentration_",
    ),
    "covariance-prior-not-spd": (
        "full",
        _set_array("covariance_prior_", np.diag([1.0, -1.0, 1.0])),
        "covariance_prior_ must be positive definite",
    ),
    "covariance-prior-negative": (
        "spherical",
        _set_array("covariance_prior_", -2.0),
        "covariance_prior_ must be positive",
    ),
    "mean-prior-nan": (
        "full",
        _set_array("mean_prior_", [0.0, np.nan, 0.0]),
        "array mean_prior_ contains NaN",
    ),
    "mean-prior-float32": (
        "full",
        lambda h, a: a.__setitem__("mean_prior_", a["mean_prior_"].astype(np.float32)),
        "mean_prior_ must be float64",
    ),
    "missing-array": (
        "tied",
        lambda h, a: a.pop("mean_precision_"),
        "mean_precision_ are missing",
    ),
    "dof-prior-too-small": (
        "full",
        lambda h, a: h[BAYESIAN_FIELD].__setitem__("degrees_of_freedom_prior_", 1.0),
        "degrees_of_freedom_prior_ must be greater than n_features_in_ - 1 = 2",
    ),
    "prior-scalar-negative": (
        "diag",
        lambda h, a: h[BAYESIAN_FIELD].__setitem__("mean_precision_prior_", -1),
        "mean_precision_prior_ must be a finite number > 0",
    ),
    "bayesian-field-missing": (
        "diag",
        lambda h, a: h.pop(BAYESIAN_FIELD),
        "class_name is 'BayesianGaussianMixture' but the header has no 'bayesian'",
    ),
    "gaussian-mixture-header-with-bayesian-arrays": (
        "full",
        lambda h, a: (
            h.__setitem__("class_name", "GaussianMixture"),
            h.pop("bayesian"),
        ),
        "unknown parameter",
    ),
    "prior-type-unknown": (
        "full",
        lambda h, a: h["params"].__setitem__(
            "weight_concentration_prior_type", "pitman_yor"
        ),
        "weight_concentration_prior_type must be one of",
    ),
    "mclust-covariance-type": (
        "full",
        lambda h, a: (
            h.__setitem__("covariance_type", "VVV"),
            h["params"].__setitem__("covariance_type", "VVV"),
        ),
        "covariance_type must be one of 'full', 'tied', 'diag', 'spherical'",
    ),
    "unknown-parameter": (
        "full",
        lambda h, a: h["params"].__setitem__("noise", True),
        "unknown parameter.*'noise'",
    ),
    "noise-field-in-bayesian": (
        "full",
        lambda h, a: h.__setitem__("noise_weight_", 0.1),
        "unknown header field.*'noise_weight_'",
    ),
    "version-1": (
        "full",
        lambda h, a: h.__setitem__("format_version", 1),
        "class_name is 'BayesianGaussianMixture'; format version 1 holds",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_files_are_refused(case):
    cov, change, pattern = CASES[case]
    message = tampered(cov, "dirichlet_process", change)
    assert re.search(pattern, message), message


def test_given_prior_tampered_is_refused():
    model = fitted("diag", "dirichlet_process", covariance_prior=(1.0, 2.0, 0.5))
    header, arrays = members(save_bytes(model))
    arrays["params.covariance_prior"] = np.array([1.0, -2.0, 0.5])
    with pytest.raises(ValueError, match=r"params\.covariance_prior must be positive"):
        load(rewrite(header, arrays))
    del arrays["params.covariance_prior"]
    with pytest.raises(ValueError, match=r"params\.covariance_prior are missing"):
        load(rewrite(header, arrays))


GOOD_BYTES = save_bytes(fitted("tied", "dirichlet_process", np.float32))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(GOOD_BYTES) - 1), st.integers(1, 255), st.booleans())
def test_corrupted_bytes_raise_value_error_or_load_the_same_model(at, xor, truncate):
    """Any one-byte change or truncation is refused or harmless (e.g. a timestamp)."""
    data = (
        GOOD_BYTES[:at]
        if truncate
        else GOOD_BYTES[:at] + bytes([GOOD_BYTES[at] ^ xor]) + GOOD_BYTES[at + 1 :]
    )
    try:
        loaded = load(io.BytesIO(data))
    except ValueError as exc:
        message = str(exc)
    else:
        assert_same_model(fitted("tied", "dirichlet_process", np.float32), loaded)
        return
    assert message.startswith("cannot load gaussmix model <BytesIO>: ")
    assert "\n" not in message
