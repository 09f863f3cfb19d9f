"""scikit-learn's array-API dispatch: GaussianMixture computes in the data's namespace.

Ported from scikit-learn's ``test_gaussian_mixture_array_api_compliance`` (and
``test_gaussian_mixture_raises_where_array_api_not_implemented``, which gaussmix
answers with k-means in the namespace instead of an error), run against
gaussmix for array-api-strict (its CPU device and ``device1``, a device that
cannot be converted to NumPy, so any hidden conversion of the data fails) and
torch on CPU, in float64 and float32. Results are compared with scikit-learn's
NumPy fit (scikit-learn's own tolerances), with scikit-learn under dispatch,
and with gaussmix's NumPy engine.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.datasets import make_spd_matrix
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gaussmix import GaussianMixture

xps = pytest.importorskip("array_api_strict")
array_api_compat = pytest.importorskip("array_api_compat")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]
#: gaussmix in a namespace against gaussmix's NumPy engine, relative to the
#: largest entry: float64 to rounding, float32 to its precision (the NumPy
#: engine accumulates float32 statistics in float64; the namespace in float32).
ENGINE_RTOL = {"float64": 1e-10, "float32": 2e-4}
#: The first lower bound (of the start; see _assert_same_fit).
FIRST_BOUND_RTOL = {"float64": 1e-6, "float32": 1e-3}
#: The same from init_params='random' in float32 (see the test).
RANDOM_FLOAT32_RTOL = 1e-2


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def _namespaces() -> list[Any]:
    torch_param = pytest.param(
        "torch",
        "cpu",
        marks=pytest.mark.skipif(_torch() is None, reason="torch is not installed"),
        id="torch-cpu",
    )
    return [
        pytest.param("array_api_strict", "CPU_DEVICE", id="strict-cpu"),
        pytest.param("array_api_strict", "device1", id="strict-device1"),
        torch_param,
    ]


def _namespaces_strict_cpu_slow() -> list[Any]:
    """The namespaces, array-api-strict's CPU device in the slow run only.

    ``device1`` runs the same code and refuses conversion to NumPy on top.
    """
    return [
        pytest.param(*p.values, marks=[*p.marks, pytest.mark.slow], id=p.id)
        if p.id == "strict-cpu"
        else p
        for p in _namespaces()
    ]


def _xp_and_device(name: str, device_name: str) -> tuple[Any, Any]:
    if name == "torch":
        torch = _torch()
        return array_api_compat.array_namespace(torch.zeros(1)), torch.device(
            device_name
        )
    return xps, xps.Device(device_name)


def _to_numpy(a: Any) -> np.ndarray:
    return np.asarray(np.from_dlpack(a, device="cpu"))


@pytest.fixture(autouse=True)
def _scipy_array_api(monkeypatch):
    # scikit-learn refuses array_api_dispatch unless this variable is set.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


class RandomData:
    """scikit-learn's RandomData (sklearn/mixture/tests/test_gaussian_mixture.py)."""

    def __init__(self, rng, n_samples=200, n_components=2, n_features=2, scale=50):
        self.n_components = n_components
        self.weights = rng.rand(n_components)
        self.weights = self.weights / self.weights.sum()
        self.means = rng.rand(n_components, n_features) * scale
        self.covariances = {
            "spherical": 0.5 + rng.rand(n_components),
            "diag": (0.5 + rng.rand(n_components, n_features)) ** 2,
            "tied": make_spd_matrix(n_features, random_state=rng),
            "full": np.array(
                [
                    make_spd_matrix(n_features, random_state=rng) * 0.5
                    for _ in range(n_components)
                ]
            ),
        }
        self.precisions = {
            "spherical": 1.0 / self.covariances["spherical"],
            "diag": 1.0 / self.covariances["diag"],
            "tied": np.linalg.inv(self.covariances["tied"]),
            "full": np.array([np.linalg.inv(c) for c in self.covariances["full"]]),
        }
        self.X = {
            cov: self._generate(n_samples, n_features, cov) for cov in COVARIANCE_TYPES
        }

    def _generate(self, n_samples, n_features, covariance_type):
        # scikit-learn's generate_data: it passes the covariances where it
        # names them precisions.
        rng = np.random.RandomState(0)
        parts = []
        for k, (w, m) in enumerate(zip(self.weights, self.means, strict=True)):
            n = int(np.round(w * n_samples))
            if covariance_type == "spherical":
                cov = self.covariances["spherical"][k] * np.eye(n_features)
            elif covariance_type == "diag":
                cov = np.diag(self.covariances["diag"][k])
            elif covariance_type == "tied":
                cov = self.covariances["tied"]
            else:
                cov = self.covariances["full"][k]
            parts.append(rng.multivariate_normal(m, cov, n))
        return np.vstack(parts)


def _assert_in(result: Any, xp: Any, device: Any) -> None:
    assert array_api_compat.array_namespace(result) is xp
    assert array_api_compat.device(result) == device


def _dispatch():
    return sklearn.config_context(array_api_dispatch=True)


# ------------------------------------------------- scikit-learn's compliance
# numpy's multivariate_normal finds scikit-learn's float32 covariances (cast to
# float64) not quite symmetric: a warning of the reference, not of gaussmix.
@pytest.mark.filterwarnings(
    "ignore:covariance is not symmetric positive-semidefinite:RuntimeWarning"
)
@pytest.mark.parametrize("use_init_arrays", [False, True])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize(("namespace", "device_name"), _namespaces_strict_cpu_slow())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_gaussian_mixture_array_api_compliance(
    init_params, covariance_type, namespace, device_name, dtype_name, use_init_arrays
):
    """scikit-learn's test, with gaussmix under dispatch and scikit-learn on NumPy."""
    xp, device = _xp_and_device(namespace, device_name)
    rand_data = RandomData(np.random.RandomState(0))
    X = rand_data.X[covariance_type].astype(dtype_name)
    extra = {}
    if use_init_arrays:
        extra = {
            "means_init": rand_data.means.astype(dtype_name),
            "precisions_init": rand_data.precisions[covariance_type].astype(dtype_name),
            "weights_init": rand_data.weights.astype(dtype_name),
        }
    params = dict(
        n_components=rand_data.n_components,
        covariance_type=covariance_type,
        random_state=0,
        init_params=init_params,
        **extra,
    )
    if covariance_type == "tied" and init_params == "random_from_data" and not extra:
        # scikit-learn's first tied covariance from chosen rows spreads all
        # rows over K; gaussmix's uses the chosen rows (docs/ARCHITECTURE.md,
        # note 5), on NumPy as under dispatch: its NumPy engine is the reference.
        gmm = GaussianMixture(**params).fit(X)
    else:
        gmm = SklearnGaussianMixture(**params).fit(X)
    X_xp = xp.asarray(X, device=device)

    with _dispatch():
        gmm_xp = GaussianMixture(**params)
        for name, value in extra.items():
            setattr(gmm_xp, name, xp.asarray(value, device=device))
        gmm_xp.fit(X_xp)
        for attr in FITTED:
            _assert_in(getattr(gmm_xp, attr), xp, device)
        predict_xp = gmm_xp.predict(X_xp)
        predict_proba_xp = gmm_xp.predict_proba(X_xp)
        score_samples_xp = gmm_xp.score_samples(X_xp)
        score_xp = gmm_xp.score(X_xp)
        aic_xp = gmm_xp.aic(X_xp)
        bic_xp = gmm_xp.bic(X_xp)
        sample_X_xp, sample_y_xp = gmm_xp.sample(10)
        for result in (
            predict_xp,
            predict_proba_xp,
            score_samples_xp,
            sample_X_xp,
            sample_y_xp,
        ):
            _assert_in(result, xp, device)
        for score in (score_xp, aic_xp, bic_xp):
            assert isinstance(score, float)
    assert gmm_xp.means_.dtype == X_xp.dtype

    # scikit-learn's tolerances.
    default_rtol = 1e-4 if dtype_name == "float32" else 1e-7
    increased_atol = 5e-4 if dtype_name == "float32" else 0
    increased_rtol = 1e-3 if dtype_name == "float32" else 1e-7
    assert_allclose(gmm.means_, _to_numpy(gmm_xp.means_), rtol=default_rtol)
    assert_allclose(gmm.weights_, _to_numpy(gmm_xp.weights_), rtol=default_rtol)
    for attr in ("covariances_", "precisions_cholesky_", "precisions_"):
        assert_allclose(
            getattr(gmm, attr),
            _to_numpy(getattr(gmm_xp, attr)),
            atol=increased_atol,
            rtol=increased_rtol,
        )
    assert adjusted_rand_score(gmm.predict(X), _to_numpy(predict_xp)) > 0.95
    assert_allclose(
        gmm.predict_proba(X),
        _to_numpy(predict_proba_xp),
        rtol=increased_rtol,
        atol=increased_atol,
    )
    assert_allclose(
        gmm.score_samples(X), _to_numpy(score_samples_xp), rtol=increased_rtol
    )
    assert_allclose(gmm.score(X), score_xp, rtol=default_rtol)
    assert_allclose(gmm.aic(X), aic_xp, rtol=default_rtol)
    assert_allclose(gmm.bic(X), bic_xp, rtol=default_rtol)
    sample_X, sample_y = gmm.sample(10)
    assert_allclose(sample_X, _to_numpy(sample_X_xp), rtol=default_rtol)
    assert_allclose(sample_y, _to_numpy(sample_y_xp))


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize(
    ("namespace", "device_name"),
    # scikit-learn itself converts to NumPy on the way (device1 refuses).
    [p for p in _namespaces() if p.id != "strict-device1"],
)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_fit_as_sklearn_under_dispatch(
    covariance_type, namespace, device_name, dtype_name
):
    """scikit-learn and gaussmix, both under dispatch, on the same arrays."""
    xp, device = _xp_and_device(namespace, device_name)
    rand_data = RandomData(np.random.RandomState(1))
    X_xp = xp.asarray(rand_data.X[covariance_type].astype(dtype_name), device=device)
    params = {
        "n_components": 2,
        "covariance_type": covariance_type,
        "random_state": 0,
        "init_params": "random",
    }
    rtol = 1e-4 if dtype_name == "float32" else 1e-9
    with _dispatch():
        ours = GaussianMixture(**params).fit(X_xp)
        theirs = SklearnGaussianMixture(**params).fit(X_xp)
        assert ours.n_iter_ == theirs.n_iter_
        for attr in FITTED:
            expected = _to_numpy(getattr(theirs, attr))
            assert_allclose(
                _to_numpy(getattr(ours, attr)),
                expected,
                rtol=rtol,
                atol=rtol * np.abs(expected).max(),
            )
        assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=rtol)
        assert_allclose(
            _to_numpy(ours.score_samples(X_xp)),
            _to_numpy(theirs.score_samples(X_xp)),
            rtol=rtol,
        )


# ------------------------------------------------- against gaussmix on NumPy
def _blobs(dtype_name: str, n: int = 300) -> np.ndarray:
    rng = np.random.RandomState(3)
    X = np.vstack(
        [
            rng.randn(n // 3, 3) + np.array([6.0, 0.0, 0.0]),
            rng.randn(n // 3, 3) * 0.5 - np.array([0.0, 5.0, 1.0]),
            rng.randn(n - 2 * (n // 3), 3) * 2.0 + 12.0,
        ]
    )
    return X.astype(dtype_name)


class _Sorted:
    """A fit's attributes with its components sorted by their first mean.

    Only the final bound is kept: two starts that reach the same optimum have
    other bounds on the way.
    """

    def __init__(self, fitted: Any) -> None:
        order = np.argsort(_to_numpy(fitted.means_)[:, 0])
        self.n_iter_ = fitted.n_iter_
        self.converged_ = fitted.converged_
        self.lower_bounds_ = np.asarray(fitted.lower_bounds_, dtype=np.float64)[-1:]
        for attr in FITTED:
            setattr(self, attr, _to_numpy(getattr(fitted, attr))[order])


def _assert_same_fit(
    ours: Any, reference: Any, dtype_name: str, rtol: float | None = None
) -> None:
    rtol = ENGINE_RTOL[dtype_name] if rtol is None else rtol
    assert ours.n_iter_ == reference.n_iter_
    assert ours.converged_ == reference.converged_
    for attr in FITTED:
        expected = np.asarray(getattr(reference, attr), dtype=np.float64)
        assert_allclose(
            _to_numpy(getattr(ours, attr)),
            expected,
            rtol=rtol,
            atol=rtol * np.abs(expected).max(),
        )
    # Starts from chosen rows (k-means++, random_from_data) have covariances of
    # reg_covar: their first bound is about -4e6 and carries that many times
    # the rounding of the data.
    first_rtol = FIRST_BOUND_RTOL[dtype_name]
    assert_allclose(ours.lower_bounds_[0], reference.lower_bounds_[0], rtol=first_rtol)
    assert_allclose(ours.lower_bounds_[1:], reference.lower_bounds_[1:], rtol=rtol)


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize(
    ("namespace", "device_name"),
    # array-api-strict's device1 is its CPU device that refuses NumPy: enough.
    [p for p in _namespaces() if p.id != "strict-cpu"],
)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_same_fit_as_numpy_engine(
    init_params, covariance_type, namespace, device_name, dtype_name
):
    """Every init_params, k-means included (which scikit-learn refuses under dispatch)."""
    xp, device = _xp_and_device(namespace, device_name)
    X = _blobs(dtype_name)
    params = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 0,
    }
    reference = GaussianMixture(**params).fit(X)
    X_xp = xp.asarray(X, device=device)
    with _dispatch():
        ours = GaussianMixture(**params)
        labels = ours.fit_predict(X_xp)
        _assert_in(labels, xp, device)
        assert np.array_equal(_to_numpy(labels), _to_numpy(ours.predict(X_xp)))
    rtol = None
    if init_params == "random" and dtype_name == "float32":
        # From random responsibilities EM creeps for 20-30 iterations and
        # float32 rounding (statistics in float32 here, in float64 on NumPy)
        # grows along the way: measured up to 5e-3 on the full covariances.
        rtol = RANDOM_FLOAT32_RTOL
    _assert_same_fit(ours, reference, dtype_name, rtol)
    assert np.array_equal(_to_numpy(labels), reference.predict(X))


@pytest.mark.parametrize(("namespace", "device_name"), _namespaces())
def test_sample_weight_n_init_and_warm_start(namespace, device_name):
    xp, device = _xp_and_device(namespace, device_name)
    X = _blobs("float64")
    w = np.random.RandomState(0).randint(0, 4, size=X.shape[0]).astype(np.float64)
    X_xp, w_xp = xp.asarray(X, device=device), xp.asarray(w, device=device)
    params = {"n_components": 3, "n_init": 3, "random_state": 1, "max_iter": 4}
    for init in ("kmeans", "random_from_data"):
        reference = GaussianMixture(init_params=init, **params).fit(X, sample_weight=w)
        with _dispatch():
            ours = GaussianMixture(init_params=init, **params).fit(
                X_xp, sample_weight=w_xp
            )
            assert_allclose(
                ours.score(X_xp, sample_weight=w_xp),
                reference.score(X, sample_weight=w),
                rtol=1e-12,
            )
        # The three starts reach the same optimum with the components in other
        # orders and bounds equal to rounding: which one wins depends on the last
        # bit (BLAS threads, compiled kernels), so the fits are compared up to order.
        _assert_same_fit(_Sorted(ours), _Sorted(reference), "float64")
    # Integer weights are repetitions (from the same given start).
    start = GaussianMixture(3, random_state=0, max_iter=0).fit(X)
    given = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
        "tol": 0.0,
        "max_iter": 5,
    }
    with _dispatch():
        weighted = GaussianMixture(3, **given).fit(X_xp, sample_weight=w_xp)
        repeated = GaussianMixture(3, **given).fit(
            xp.asarray(np.repeat(X, w.astype(int), axis=0), device=device)
        )
    for attr in FITTED:
        expected = _to_numpy(getattr(repeated, attr))
        assert_allclose(
            _to_numpy(getattr(weighted, attr)),
            expected,
            rtol=1e-10,
            atol=1e-10 * np.abs(expected).max(),
        )
    # warm_start: each fit continues from the last one, as on NumPy.
    reference = GaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
    with _dispatch():
        ours = GaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
        for _ in range(3):
            reference.fit(X)
            ours.fit(X_xp)
            _assert_same_fit(ours, reference, "float64")


@pytest.mark.parametrize(("namespace", "device_name"), _namespaces())
def test_numpy_fitted_model_predicts_in_the_namespace(namespace, device_name):
    xp, device = _xp_and_device(namespace, device_name)
    X = _blobs("float64")
    gm = GaussianMixture(3, random_state=0).fit(X)
    X_xp = xp.asarray(X, device=device)
    with _dispatch():
        proba = gm.predict_proba(X_xp)
        _assert_in(proba, xp, device)
        assert_allclose(_to_numpy(proba), gm.predict_proba(X), rtol=1e-10, atol=1e-14)
        assert_allclose(gm.score(X_xp), gm.score(X), rtol=1e-12)


def test_numpy_input_under_dispatch_is_the_numpy_engine():
    X = _blobs("float64")
    plain = GaussianMixture(3, random_state=0).fit(X)
    with _dispatch():
        dispatched = GaussianMixture(3, random_state=0).fit(X)
        labels = dispatched.predict(X)
    assert type(labels) is np.ndarray
    for attr in FITTED:
        assert type(getattr(dispatched, attr)) is np.ndarray
        assert np.array_equal(getattr(dispatched, attr), getattr(plain, attr))


# ------------------------------------------------------------------ errors
def test_clear_errors():
    X = _blobs("float64")
    X_xp = xps.asarray(X)
    with _dispatch():
        with pytest.raises(ValueError, match="the covariance types that are: 'full'"):
            GaussianMixture(2, covariance_type="VVV").fit(X_xp)
        with pytest.raises(ValueError, match="noise=True is not supported under"):
            GaussianMixture(2, noise=True).fit(X_xp)
        with pytest.raises(ValueError, match="init_params='hc' is not supported"):
            GaussianMixture(2, init_params="hc").fit(X_xp)
        with pytest.raises(ValueError, match="namespace of X decides"):
            GaussianMixture(2, weights_init=xps.asarray([0.5, 0.5])).fit(X)
        with pytest.raises(ValueError, match="is on device"):
            GaussianMixture(
                2, weights_init=xps.asarray([0.5, 0.5], device=xps.Device("device1"))
            ).fit(X_xp)
        with pytest.raises(ValueError, match="weights_init must sum to 1"):
            GaussianMixture(2, weights_init=xps.asarray([0.5, 0.6])).fit(X_xp)
        with pytest.raises(ValueError, match="NaN or infinity"):
            GaussianMixture(2).fit(xps.asarray(np.full((4, 2), np.nan)))
        gm = GaussianMixture(3, init_params="random", random_state=0).fit(X_xp)
        with pytest.raises(ValueError, match="expecting 3 features"):
            gm.predict(xps.asarray(X[:, :2]))
    with pytest.raises(ValueError, match=r"inside sklearn\.config_context"):
        gm.predict(X_xp)
    with pytest.raises(TypeError, match="this method computes with NumPy"):
        gm.tail_probability(X)
    torch = _torch()
    if torch is not None:
        with _dispatch(), pytest.raises(ValueError, match="fitted on array_api_strict"):
            gm.predict(torch.asarray(X))


def test_singular_covariance_raises_like_sklearn():
    X = np.zeros((10, 2))
    X[5:] = 1.0
    with (
        _dispatch(),
        pytest.raises(ValueError, match="ill-defined empirical covariance"),
    ):
        GaussianMixture(2, reg_covar=0, init_params="random", random_state=0).fit(
            xps.asarray(X)
        )
