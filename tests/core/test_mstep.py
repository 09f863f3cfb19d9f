"""The M-step: parameters from statistics, and repair of collapsed components.

References are computed by hand with NumPy (``np.average`` and weighted
``np.cov``), independently of the packed statistics, and compared to
``REFERENCE_RTOL`` relative to each array's largest entry.
"""

import numpy as np
import pytest

from gaussmix.core.covariance import get_family
from gaussmix.core.estep import e_step, estimate_log_prob, stats_from_resp
from gaussmix.core.mstep import EMPTY_FRACTION, m_step

REFERENCE_RTOL = 1e-10
#: Repairs add about 1e-6 of the data variance; recentring the statistics by
#: ``delta`` perturbs the covariances by about ``eps * |delta|**2``.
REPAIR_SHIFT_RTOL = 1e-4

N_ROWS = 120
REG_COVAR = 1e-6
# (n_features, n_components)
SHAPES = [(1, 1), (1, 3), (2, 2), (3, 4), (6, 3)]


def _shape_id(shape):
    return f"D{shape[0]}-K{shape[1]}"


def _data(rng, n_features, n_components):
    """Rows around separated centres, with an offset from the origin."""
    centres = rng.uniform(-5, 5, size=(n_components, n_features)) + 3.0
    labels = np.arange(N_ROWS) % n_components
    scale = rng.uniform(0.5, 1.5, size=(n_components, n_features))
    X = centres[labels] + scale[labels] * rng.standard_normal((N_ROWS, n_features))
    return X, labels


def _resp(rng, labels, n_components, kind):
    if kind == "one-hot":
        return np.eye(n_components)[labels]
    return rng.dirichlet(np.ones(n_components), size=labels.size)


def _reference(X, resp, sample_weight, covariance_type, reg_covar):
    """Weighted means and covariances written out with np.average / np.cov."""
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    w = np.ones(n_samples) if sample_weight is None else sample_weight
    wr = resp * w[:, None]
    nk = wr.sum(axis=0)
    means = np.stack(
        [np.average(X, axis=0, weights=wr[:, k]) for k in range(n_components)]
    )
    covs = np.stack(
        [
            np.atleast_2d(np.cov(X.T, aweights=wr[:, k], bias=True))
            for k in range(n_components)
        ]
    )
    eye = np.eye(n_features)
    if covariance_type == "full":
        cov = covs + reg_covar * eye
    elif covariance_type == "tied":
        cov = np.einsum("k,kij->ij", nk, covs) / nk.sum() + reg_covar * eye
    elif covariance_type == "diag":
        cov = np.diagonal(covs, axis1=1, axis2=2) + reg_covar
    else:
        cov = np.diagonal(covs, axis1=1, axis2=2).mean(axis=1) + reg_covar
    return nk / nk.sum(), means, cov


def _assert_close(actual, desired, rtol, what):
    atol = rtol * float(np.max(np.abs(desired)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


def _assert_sound(params, family, X):
    """Finite parameters, weights summing to one, consistent SPD factors.

    Covariances must be symmetric up to the rounding of the statistics, about
    ``eps * max|x|**2`` (the M-step's ``S - sx d^T - d sx^T`` is not bitwise
    symmetric, and after a collapse these rounding terms are all that is left
    off the diagonal).
    """
    assert params.is_finite()
    np.testing.assert_allclose(params.weights.sum(), 1.0, rtol=1e-12)
    assert np.all(params.weights > 0)
    n_components, n_features = params.means.shape
    dense = family.to_dense(params.covariances, n_components, n_features)
    # Symmetric up to rounding (the M-step's S - sx d^T - d sx^T is not bitwise).
    np.testing.assert_allclose(
        dense,
        np.swapaxes(dense, 1, 2),
        rtol=0,
        atol=1e-14 * max(float(np.max(X**2)), float(np.max(dense))),
    )
    assert np.all(np.linalg.eigvalsh(0.5 * (dense + np.swapaxes(dense, 1, 2))) > 0)
    np.testing.assert_allclose(
        family.covariances_from_precisions_cholesky(params.precisions_cholesky),
        params.covariances,
        rtol=1e-6,
        atol=1e-6 * float(np.max(np.abs(params.covariances))),
    )


class TestMStepReference:
    """M-step parameters equal the weighted sample estimates."""

    @pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
    @pytest.mark.parametrize("resp_kind", ["one-hot", "soft"])
    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_matches_weighted_covariance(
        self, covariance_type, shape, resp_kind, weighted, rng
    ):
        """Weights, means and covariances equal np.average / weighted np.cov."""
        n_features, n_components = shape
        family = get_family(covariance_type)
        X, labels = _data(rng, n_features, n_components)
        resp = _resp(rng, labels, n_components, resp_kind)
        w = rng.uniform(0.2, 3.0, size=N_ROWS) if weighted else None
        stats = stats_from_resp(
            X, resp, family, n_components, np.average(X, axis=0, weights=w), w
        )
        params, repairs = m_step(stats, family, REG_COVAR)
        assert repairs == []
        weights, means, cov = _reference(X, resp, w, covariance_type, REG_COVAR)
        _assert_close(params.weights, weights, REFERENCE_RTOL, "weights")
        _assert_close(params.means, means, REFERENCE_RTOL, "means")
        _assert_close(params.covariances, cov, REFERENCE_RTOL, "covariances")
        _assert_sound(params, family, X)

    @pytest.mark.parametrize("reg_covar", [0.0, 1e-3, 0.5])
    def test_reg_covar_is_added_to_the_diagonal(self, covariance_type, reg_covar, rng):
        """Increasing reg_covar adds exactly that much to every variance."""
        family = get_family(covariance_type)
        X, labels = _data(rng, 3, 2)
        stats = stats_from_resp(X, np.eye(2)[labels], family, 2, X.mean(axis=0))
        base, _ = m_step(stats, family, 0.0)
        params, _ = m_step(stats, family, reg_covar)
        dense = family.to_dense(params.covariances, 2, 3)
        dense_base = family.to_dense(base.covariances, 2, 3)
        np.testing.assert_allclose(
            dense - dense_base,
            np.broadcast_to(reg_covar * np.eye(3), dense.shape),
            rtol=1e-10,
            atol=1e-12,
        )
        np.testing.assert_array_equal(params.means, base.means)

    @pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
    def test_e_step_then_m_step_is_weighted_estimate(self, covariance_type, shape, rng):
        """m_step(e_step(X)) equals the reference built from the posteriors."""
        n_features, n_components = shape
        family = get_family(covariance_type)
        X, labels = _data(rng, n_features, n_components)
        stats0 = stats_from_resp(
            X, np.eye(n_components)[labels], family, n_components, X.mean(axis=0)
        )
        params0, _ = m_step(stats0, family, REG_COVAR)
        # Posterior responsibilities under params0, normalised by hand.
        log_prob = estimate_log_prob(X, params0, family, weighted=True)
        resp = np.exp(log_prob - log_prob.max(axis=1, keepdims=True))
        resp /= resp.sum(axis=1, keepdims=True)
        params, _ = m_step(e_step(X, params0, family), family, REG_COVAR)
        weights, means, cov = _reference(X, resp, None, covariance_type, REG_COVAR)
        _assert_close(params.weights, weights, 1e-9, "weights")
        _assert_close(params.means, means, 1e-9, "means")
        _assert_close(params.covariances, cov, 1e-9, "covariances")


class TestEmptyComponent:
    """An empty component is re-seeded by splitting another one."""

    @pytest.mark.parametrize("mass", [0.0, 1e-3 * EMPTY_FRACTION])
    def test_reseeded(self, covariance_type, mass, rng):
        """A component without mass gets an 'empty' repair and sound parameters."""
        family = get_family(covariance_type)
        n_components = 3
        X, labels = _data(rng, 2, n_components - 1)
        resp = np.eye(n_components)[labels]
        resp[:, -1] = mass
        stats = stats_from_resp(X, resp, family, n_components, X.mean(axis=0))
        params, repairs = m_step(stats, family, REG_COVAR)
        assert [(r.kind, r.component) for r in repairs] == [("empty", n_components - 1)]
        assert all(r.detail and r.advice for r in repairs)
        _assert_sound(params, family, X)
        # The re-seeded mean is distinct from every other one.
        dist = np.linalg.norm(params.means[-1] - params.means[:-1], axis=1)
        assert np.all(dist > 0)
        # And the parameters are usable by the next E-step.
        nxt = e_step(X, params, family)
        assert np.isfinite(nxt.loglik)

    @pytest.mark.parametrize("n_components", [3, 4, 6])
    def test_several_empty_reseeded(self, covariance_type, n_components, rng):
        """Several empty components in one M-step are all re-seeded."""
        family = get_family(covariance_type)
        X, _ = _data(rng, 2, 1)
        resp = np.zeros((N_ROWS, n_components))
        resp[:, 0] = 1.0
        stats = stats_from_resp(X, resp, family, n_components, X.mean(axis=0))
        params, repairs = m_step(stats, family, REG_COVAR)
        empty = sorted(r.component for r in repairs if r.kind == "empty")
        assert empty == list(range(1, n_components))
        _assert_sound(params, family, X)

    @pytest.mark.parametrize("n_components", [4, 6])
    def test_reseeded_components_are_distinct(self, covariance_type, n_components, rng):
        """Components re-seeded in one M-step have pairwise distinct means."""
        family = get_family(covariance_type)
        X, _ = _data(rng, 2, 1)
        resp = np.zeros((N_ROWS, n_components))
        resp[:, 0] = 1.0
        stats = stats_from_resp(X, resp, family, n_components, X.mean(axis=0))
        params, _ = m_step(stats, family, REG_COVAR)
        dist = np.linalg.norm(params.means[:, None] - params.means[None], axis=2)
        off_diagonal = dist[~np.eye(n_components, dtype=bool)]
        scale = float(
            np.sqrt(np.max(family.to_dense(params.covariances, n_components, 2)))
        )
        assert np.min(off_diagonal) > 1e-6 * scale


def _duplicated(rng, n_features, n_components, copies=5, offset=0.0):
    """Each component owns ``copies`` copies of one point: zero covariances."""
    points = 3.0 * rng.standard_normal((n_components, n_features)) + offset
    X = np.repeat(points, copies, axis=0)
    resp = np.eye(n_components)[np.repeat(np.arange(n_components), copies)]
    return X, resp


class TestSingularCovariance:
    """A collapsed covariance (reg_covar=0) is repaired to a small SPD one."""

    @pytest.mark.parametrize("seed", range(5))
    @pytest.mark.parametrize("offset", [0.0, 10.0, 1e3])
    def test_duplicated_points_repaired(self, covariance_type, seed, offset):
        """Components on duplicated points get 'singular' repairs, sound results."""
        family = get_family(covariance_type)
        rng = np.random.default_rng(seed)
        X, resp = _duplicated(rng, 2, 3, offset=offset)
        stats = stats_from_resp(X, resp, family, 3, X.mean(axis=0))
        params, repairs = m_step(stats, family, 0.0)
        assert {r.kind for r in repairs} == {"singular"}
        expected = [-1] if family.shared else [0, 1, 2]
        assert sorted(r.component for r in repairs) == expected
        _assert_sound(params, family, X)
        # The repair is small: far below the spread of the data (var ~ 9).
        dense = family.to_dense(params.covariances, 3, 2)
        assert np.max(np.linalg.eigvalsh(dense)) < 1e-3

    def test_all_rows_identical(self, covariance_type):
        """Every row the same point: all covariances are repaired, finite, SPD."""
        family = get_family(covariance_type)
        X = np.tile([1.5, -2.25], (8, 1))
        resp = np.tile([0.25, 0.75], (8, 1))
        stats = stats_from_resp(X, resp, family, 2, X.mean(axis=0))
        params, repairs = m_step(stats, family, 0.0)
        assert repairs
        assert {r.kind for r in repairs} == {"singular"}
        _assert_sound(params, family, X)
        np.testing.assert_allclose(params.means, np.tile([1.5, -2.25], (2, 1)))

    @pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
    def test_constant_feature_repaired(self, covariance_type, rng):
        """A feature constant in the data (reg_covar=0) is repaired."""
        family = get_family(covariance_type)
        X, labels = _data(rng, 3, 2)
        X[:, 1] = 4.0
        stats = stats_from_resp(X, np.eye(2)[labels], family, 2, X.mean(axis=0))
        params, repairs = m_step(stats, family, 0.0)
        assert repairs
        assert {r.kind for r in repairs} == {"singular"}
        _assert_sound(params, family, X)

    @pytest.mark.parametrize(
        "covariance_type",
        [
            "full",
            "tied",
            "diag",
            "spherical",
        ],
    )
    def test_repair_does_not_depend_on_shift(self, covariance_type):
        """The repaired covariances are the same whatever the statistics' shift."""
        family = get_family(covariance_type)
        X, resp = _duplicated(np.random.default_rng(0), 2, 3)
        stats = stats_from_resp(X, resp, family, 3, X.mean(axis=0))
        far = stats.recentered(X.mean(axis=0) + np.array([100.0, -50.0]), family)
        near_params, near_repairs = m_step(stats, family, 0.0)
        far_params, far_repairs = m_step(far, family, 0.0)
        assert [r.component for r in far_repairs] == [r.component for r in near_repairs]
        _assert_close(
            far_params.covariances,
            near_params.covariances,
            REPAIR_SHIFT_RTOL,
            "covariances",
        )

    def test_no_repair_on_sound_statistics(self, covariance_type, rng):
        """Ordinary data with reg_covar=0 need no repair."""
        family = get_family(covariance_type)
        X, labels = _data(rng, 3, 2)
        stats = stats_from_resp(X, np.eye(2)[labels], family, 2, X.mean(axis=0))
        _, repairs = m_step(stats, family, 0.0)
        assert repairs == []


class TestWeightScale:
    """Multiplying every sample weight by a constant leaves the M-step unchanged."""

    @pytest.mark.parametrize(
        "scale",
        [
            1e-6,
            1e3,
            1e-14,
        ],
    )
    def test_scale_invariance(self, covariance_type, scale, rng):
        """m_step of statistics with weights ``c * w`` equals that with ``w``."""
        family = get_family(covariance_type)
        X, labels = _data(rng, 2, 3)
        resp = _resp(rng, labels, 3, "soft")
        w = rng.uniform(0.5, 2.0, size=N_ROWS)
        shift = X.mean(axis=0) + 5.0
        base, _ = m_step(stats_from_resp(X, resp, family, 3, shift, w), family, 1e-6)
        scaled, _ = m_step(
            stats_from_resp(X, resp, family, 3, shift, scale * w), family, 1e-6
        )
        _assert_close(scaled.weights, base.weights, 1e-8, "weights")
        _assert_close(scaled.means, base.means, 1e-8, "means")
        _assert_close(scaled.covariances, base.covariances, 1e-8, "covariances")
