"""The covariance families: log-densities, conversions, parameter counts and shapes.

Log-densities are checked against ``scipy.stats.multivariate_normal.logpdf`` of
the dense covariances, to ``LOGPDF_RTOL``/``LOGPDF_ATOL``. The data are drawn
from the components with twice their spread, so that the packed quadratic form
is exercised a few standard deviations out.
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gaussmix.core.covariance import (
    FAMILIES,
    FLOAT32_MAX_MAGNITUDE,
    PACKED_MAX_FEATURES,
    Full,
    get_family,
)
from gaussmix.core.estep import e_step, estimate_log_prob
from strategies import random_params, sample_from

LOGPDF_RTOL = 1e-10
LOGPDF_ATOL = 1e-10
#: Both paths of the full family compute the same numbers in a different order.
PATHS_RTOL = 1e-10
#: Conversions between covariances, precisions and their Cholesky factors.
ROUND_TRIP_RTOL = 1e-10
#: float32 log-densities against float64 ones of the same (float32) values: the
#: float32 product is only used while the terms of the quadratic form stay below
#: ``FLOAT32_MAX_MAGNITUDE``, i.e. an absolute error of a few ``eps32 * 2**12``.
FLOAT32_ATOL = 2.0 * FLOAT32_MAX_MAGNITUDE * float(np.finfo(np.float32).eps)
FLOAT32_RTOL = 1e-5

# (n_features, n_components)
SHAPES = [(1, 1), (1, 4), (2, 3), (5, 3), (12, 2), (30, 5)]
N_ROWS = 200


def _shape_id(shape):
    return f"D{shape[0]}-K{shape[1]}"


def _case(covariance_type, shape, seed=0, family=None):
    """Random well-conditioned parameters and data near their components."""
    family = family or get_family(covariance_type)
    n_features, n_components = shape
    rng = np.random.default_rng([seed, n_features, n_components])
    params = random_params(rng, family, n_components, n_features)
    X = sample_from(rng, params, family, N_ROWS, spread=2.0)
    return family, params, X


def _scipy_log_prob(X, params, family):
    """Per-component log-densities from scipy, ``(n_samples, n_components)``."""
    n_components, n_features = params.means.shape
    dense = family.to_dense(params.covariances, n_components, n_features)
    cols = [
        np.atleast_1d(multivariate_normal.logpdf(X, params.means[k], dense[k]))
        for k in range(n_components)
    ]
    return np.stack(cols, axis=1)


def _dense_inverse(family, covariances, n_components, n_features):
    return np.linalg.inv(family.to_dense(covariances, n_components, n_features))


def _expected_dense(covariance_type, cov, k, n_features):
    """Component ``k``'s dense covariance, written out for each family."""
    if covariance_type == "full":
        return cov[k]
    if covariance_type == "tied":
        return cov
    if covariance_type == "diag":
        return np.diag(cov[k])
    return cov[k] * np.eye(n_features)


class TestEstimateLogProb:
    """``estimate_log_prob`` against scipy, for every family and path."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_matches_scipy(self, covariance_type, shape):
        """Unweighted log-densities equal scipy's logpdf of the dense covariance."""
        family, params, X = _case(covariance_type, shape)
        got = estimate_log_prob(X, params, family, weighted=False)
        assert got.shape == (N_ROWS, shape[1])
        np.testing.assert_allclose(
            got, _scipy_log_prob(X, params, family), rtol=LOGPDF_RTOL, atol=LOGPDF_ATOL
        )

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_weighted_adds_log_weights(self, covariance_type, shape):
        """``weighted=True`` adds ``log(weights_k)`` to every column."""
        family, params, X = _case(covariance_type, shape)
        plain = estimate_log_prob(X, params, family, weighted=False)
        weighted = estimate_log_prob(X, params, family, weighted=True)
        np.testing.assert_allclose(
            weighted,
            plain + np.log(params.weights),
            rtol=LOGPDF_RTOL,
            atol=LOGPDF_ATOL,
        )

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_whitening_path_matches_scipy(self, shape):
        """The per-component whitening path of the full family equals scipy."""
        family, params, X = _case("full", shape, family=Full(packed_max_features=0))
        got = estimate_log_prob(X, params, family, weighted=False)
        np.testing.assert_allclose(
            got, _scipy_log_prob(X, params, family), rtol=LOGPDF_RTOL, atol=LOGPDF_ATOL
        )

    def test_default_whitening_above_packed_limit_matches_scipy(self):
        """Above PACKED_MAX_FEATURES the default full family still equals scipy."""
        shape = (PACKED_MAX_FEATURES + 4, 2)
        family, params, X = _case("full", shape)
        assert family.moment_design(X[:3].T.copy(), shape[1]) is None
        got = estimate_log_prob(X, params, family, weighted=False)
        np.testing.assert_allclose(
            got, _scipy_log_prob(X, params, family), rtol=LOGPDF_RTOL, atol=LOGPDF_ATOL
        )


class TestFullPaths:
    """The packed design and per-component whitening of the full family agree."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_log_prob_paths_agree(self, shape):
        """Both paths give the same log-densities."""
        _, params, X = _case("full", shape)
        packed = estimate_log_prob(X, params, Full(), weighted=True)
        whitened = estimate_log_prob(
            X, params, Full(packed_max_features=0), weighted=True
        )
        np.testing.assert_allclose(packed, whitened, rtol=PATHS_RTOL, atol=LOGPDF_ATOL)

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_statistics_paths_agree(self, shape):
        """Both paths give the same E-step statistics and log-likelihood."""
        _, params, X = _case("full", shape)
        a = e_step(X, params, Full())
        b = e_step(X, params, Full(packed_max_features=0))
        scale = N_ROWS * float(np.max(np.abs(X - a.shift)))
        np.testing.assert_allclose(
            a.nk, b.nk, rtol=PATHS_RTOL, atol=PATHS_RTOL * N_ROWS
        )
        np.testing.assert_allclose(a.sx, b.sx, rtol=PATHS_RTOL, atol=PATHS_RTOL * scale)
        np.testing.assert_allclose(
            a.sxx, b.sxx, rtol=PATHS_RTOL, atol=PATHS_RTOL * scale**2 / N_ROWS
        )
        np.testing.assert_allclose(a.loglik, b.loglik, rtol=PATHS_RTOL)
        np.testing.assert_array_equal(a.shift, b.shift)


class TestConversions:
    """Covariances, precisions and their Cholesky factors convert consistently."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_covariances_round_trip(self, covariance_type, shape):
        """covariances -> precisions_cholesky -> covariances is the identity."""
        family, params, _ = _case(covariance_type, shape)
        pc, failed = family.precisions_cholesky(params.covariances)
        assert not np.any(failed)
        back = family.covariances_from_precisions_cholesky(pc)
        assert back.shape == params.covariances.shape
        np.testing.assert_allclose(
            back, params.covariances, rtol=ROUND_TRIP_RTOL, atol=ROUND_TRIP_RTOL
        )

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_precisions_are_inverse_covariances(self, covariance_type, shape):
        """precisions(precisions_cholesky) is the inverse of the covariance."""
        family, params, _ = _case(covariance_type, shape)
        n_features, n_components = shape
        prec = family.precisions(params.precisions_cholesky)
        assert prec.shape == params.covariances.shape
        np.testing.assert_allclose(
            family.to_dense(prec, n_components, n_features),
            _dense_inverse(family, params.covariances, n_components, n_features),
            rtol=ROUND_TRIP_RTOL,
            atol=ROUND_TRIP_RTOL,
        )

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_precisions_round_trip(self, covariance_type, shape):
        """precisions -> precisions_cholesky gives back the same factor."""
        family, params, _ = _case(covariance_type, shape)
        prec = family.precisions(params.precisions_cholesky)
        np.testing.assert_allclose(
            family.precisions_cholesky_from_precisions(prec),
            params.precisions_cholesky,
            rtol=ROUND_TRIP_RTOL,
            atol=ROUND_TRIP_RTOL,
        )

    @pytest.mark.parametrize("covariance_type", ["full", "tied"])
    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_matrix_factor_is_upper_triangular(self, covariance_type, shape):
        """Full/tied factors are upper triangular with a positive diagonal."""
        _, params, _ = _case(covariance_type, shape)
        pc = params.precisions_cholesky
        np.testing.assert_array_equal(pc, np.triu(pc))
        assert np.all(np.diagonal(pc, axis1=-2, axis2=-1) > 0)


class TestLogDetCholesky:
    """``log_det_cholesky`` is half the log-determinant of the precision."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_half_log_det_precision(self, covariance_type, shape):
        """log det U = 1/2 log det P = -1/2 log det Sigma, per component."""
        family, params, _ = _case(covariance_type, shape)
        n_features, n_components = shape
        got = np.broadcast_to(
            family.log_det_cholesky(params.precisions_cholesky, n_features),
            (n_components,),
        )
        dense_cov = family.to_dense(params.covariances, n_components, n_features)
        sign_c, logdet_c = np.linalg.slogdet(dense_cov)
        dense_prec = family.to_dense(
            family.precisions(params.precisions_cholesky), n_components, n_features
        )
        sign_p, logdet_p = np.linalg.slogdet(dense_prec)
        assert np.all(sign_c > 0)
        assert np.all(sign_p > 0)
        np.testing.assert_allclose(got, -0.5 * logdet_c, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got, 0.5 * logdet_p, rtol=1e-10, atol=1e-10)


class TestNParameters:
    """Parameter counts equal scikit-learn's."""

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize(
        ("n_features", "n_components"), [(1, 1), (1, 3), (2, 2), (4, 3), (7, 2)]
    )
    def test_equals_sklearn(self, covariance_type, n_features, n_components, rng):
        """n_parameters equals sklearn's _n_parameters() of a fitted model."""
        X = rng.standard_normal((60, n_features))
        skl = SklearnGaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=1, random_state=0
        ).fit(X)
        family = get_family(covariance_type)
        assert family.n_parameters(n_components, n_features) == skl._n_parameters()


class TestToDense:
    """``to_dense`` gives an ``(n_components, D, D)`` stack of the covariances."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_shape_and_values(self, covariance_type, shape):
        """Dense covariances are symmetric and hold the family's values."""
        family, params, _ = _case(covariance_type, shape)
        n_features, n_components = shape
        dense = family.to_dense(params.covariances, n_components, n_features)
        assert dense.shape == (n_components, n_features, n_features)
        np.testing.assert_array_equal(dense, np.swapaxes(dense, 1, 2))
        for k in range(n_components):
            np.testing.assert_array_equal(
                dense[k],
                _expected_dense(covariance_type, params.covariances, k, n_features),
            )

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_covariance_shape(self, covariance_type, shape):
        """covariance_shape is scikit-learn's shape of ``covariances_``."""
        n_features, n_components = shape
        family = get_family(covariance_type)
        expected = {
            "full": (n_components, n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (n_components, n_features),
            "spherical": (n_components,),
        }[covariance_type]
        assert family.covariance_shape(n_components, n_features) == expected


class TestFloat32:
    """float32 data give log-densities close to float64 ones."""

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_close_to_float64(self, covariance_type, shape):
        """float32 log-densities are within the float32 tolerance of float64."""
        family, params, X = _case(covariance_type, shape)
        X32 = X.astype(np.float32)
        got = estimate_log_prob(X32, params, family, weighted=True)
        assert got.dtype == np.float32
        ref = estimate_log_prob(X32.astype(np.float64), params, family, weighted=True)
        np.testing.assert_allclose(got, ref, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL)

    @pytest.mark.parametrize("offset", [1e3, 1e5])
    def test_far_from_origin_close_to_float64(self, covariance_type, offset):
        """Components far from the mixture mean (float64 fallback) stay accurate."""
        family, params, X = _case(covariance_type, (4, 3))
        means = params.means.copy()
        means[0] += offset
        params = type(params)(
            params.weights, means, params.covariances, params.precisions_cholesky
        )
        X = X + np.where(np.arange(N_ROWS) % 3 == 0, offset, 0.0)[:, None]
        X32 = X.astype(np.float32)
        got = estimate_log_prob(X32, params, family, weighted=False)
        ref = estimate_log_prob(X32.astype(np.float64), params, family, weighted=False)
        np.testing.assert_allclose(got, ref, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL)


class TestRegistry:
    """The family registry."""

    def test_names(self):
        """FAMILIES holds scikit-learn's four covariance types by name."""
        assert set(FAMILIES) == {"full", "tied", "diag", "spherical"}
        assert all(f.name == name for name, f in FAMILIES.items())

    def test_unknown_name(self):
        """get_family rejects an unknown name, listing the options."""
        with pytest.raises(ValueError, match="covariance_type must be one of"):
            get_family("banana")
