"""Properties of the sufficient statistics (hypothesis).

Statistics are compared with ``assert_stats_close``: every field to ``rtol``
relative to its natural scale (total weight ``W``, ``W * r`` and ``W * r**2``
for the first and second moments, with ``r`` the largest distance of a row from
the shift; ``sum_i w_i |log p(x_i)|`` for the log-likelihood). Different
summation orders then agree to about ``1e-15`` of that scale.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import strategies as gst
from gaussmix.core.estep import e_step, estimate_log_prob_resp, stats_from_resp
from gaussmix.core.mstep import m_step
from gaussmix.core.stats import SuffStats

#: Same data, different summation order (chunks, threads, splits).
ORDER_RTOL = 1e-12
#: Recentring adds terms of size ``nk |delta|^2`` and subtracts them again.
RECENTER_RTOL = 1e-10
#: Parameters from statistics about different shifts.
SHIFT_RTOL = 1e-8

SHIFT_BOUND = 10.0


def _scales(X, sample_weight, shift, params=None, family=None):
    """Natural scale of each statistic (see the module docstring)."""
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    total = float(np.sum(w))
    centred = X - shift
    # The norm of rows scaled by their largest entry: np.linalg.norm squares
    # them, and a row of 1e-283 would give 0 (then so would every tolerance).
    top = float(np.max(np.abs(centred), initial=0.0))
    r = top * float(np.max(np.linalg.norm(centred / top, axis=1))) if top else 0.0
    scales = {"nk": total, "sx": total * r, "sxx": total * r * r, "loglik": 0.0}
    if params is not None:
        log_p, _, _ = estimate_log_prob_resp(X, params, family, want_resp=False)
        scales["loglik"] = float(np.abs(log_p) @ w)
    return scales


def assert_stats_close(actual, desired, scales, rtol, *, n_samples=True):
    """Field-by-field comparison of two ``SuffStats`` (shift must be identical)."""
    np.testing.assert_array_equal(actual.shift, desired.shift)
    for name in ("nk", "sx", "sxx"):
        a, d = getattr(actual, name), getattr(desired, name)
        assert a.shape == d.shape, name
        np.testing.assert_allclose(
            a, d, rtol=rtol, atol=rtol * scales[name], err_msg=name
        )
    np.testing.assert_allclose(
        actual.loglik, desired.loglik, rtol=rtol, atol=rtol * scales["loglik"]
    )
    np.testing.assert_allclose(actual.weight, desired.weight, rtol=rtol)
    if n_samples:
        assert actual.n_samples == desired.n_samples


@st.composite
def split_problems(draw):
    """A problem with at least two rows and a split point ``0 < m < n``."""
    problem = draw(gst.problems(min_rows=2, weights=None))
    m = draw(st.integers(1, problem.X.shape[0] - 1))
    return problem, m


@st.composite
def problems_with_resp(draw, positive=False):
    """A problem with arbitrary responsibilities (``positive``: bounded below)."""
    problem = draw(gst.problems(min_rows=1, weights=None))
    n_rows = problem.X.shape[0]
    n_components = problem.params.n_components
    lo = 0.05 if positive else 0.0
    raw = draw(
        hnp.arrays(
            np.float64, (n_rows, n_components), elements=gst.bounded_floats(lo, 1.0)
        )
    )
    if positive:
        raw = raw / raw.sum(axis=1, keepdims=True)
    return problem, raw


def shifts(n_features):
    """Centring points inside ``[-10, 10]^D``."""
    return hnp.arrays(
        np.float64, n_features, elements=gst.bounded_floats(-SHIFT_BOUND, SHIFT_BOUND)
    )


class TestAdditivity:
    """Statistics of disjoint parts of the data add up to those of the whole."""

    @given(split_problems())
    def test_halves_add_up(self, case):
        """e_step(X[:m]) + e_step(X[m:]) == e_step(X) under the same params."""
        p, m = case
        w = p.sample_weight
        head = e_step(p.X[:m], p.params, p.family, None if w is None else w[:m])
        tail = e_step(p.X[m:], p.params, p.family, None if w is None else w[m:])
        whole = e_step(p.X, p.params, p.family, w)
        scales = _scales(p.X, w, whole.shift, p.params, p.family)
        assert_stats_close(head + tail, whole, scales, ORDER_RTOL)

    @given(split_problems())
    def test_stats_from_resp_halves_add_up(self, case):
        """stats_from_resp of two halves adds up to that of the whole."""
        p, m = case
        w = p.sample_weight
        K = p.params.n_components
        resp = np.full((p.X.shape[0], K), 1.0 / K)
        shift = p.params.center()
        head = stats_from_resp(
            p.X[:m], resp[:m], p.family, K, shift, None if w is None else w[:m]
        )
        tail = stats_from_resp(
            p.X[m:], resp[m:], p.family, K, shift, None if w is None else w[m:]
        )
        whole = stats_from_resp(p.X, resp, p.family, K, shift, w)
        assert_stats_close(head + tail, whole, _scales(p.X, w, shift), ORDER_RTOL)

    @given(gst.problems(min_rows=2, weights=None), shifts(gst.MAX_FEATURES))
    def test_adding_different_shifts_raises(self, p, other):
        """Statistics about different shifts cannot be added."""
        a = e_step(p.X, p.params, p.family, p.sample_weight)
        other = other[: a.shift.size]
        assume(not np.array_equal(other, a.shift))
        b = a.recentered(other, p.family)
        with pytest.raises(ValueError, match="different shifts"):
            a + b

    @given(gst.problems(weights=None), st.floats(0.0, 3.0, allow_subnormal=False))
    def test_scaled_multiplies_every_sum(self, p, a):
        """scaled(a) multiplies every additive field by ``a``."""
        s = e_step(p.X, p.params, p.family, p.sample_weight)
        t = s.scaled(a)
        for name in ("nk", "sx", "sxx"):
            np.testing.assert_array_equal(getattr(t, name), getattr(s, name) * a)
        assert t.loglik == s.loglik * a
        assert t.weight == s.weight * a
        assert t.n_samples == s.n_samples


class TestSampleWeight:
    """Sample weights count rows: integers repeat them, zeros remove them."""

    @given(gst.problems(integer=True))
    def test_integer_weights_equal_repetition(self, p):
        """Integer sample_weight equals repeating each row that many times."""
        w = p.sample_weight
        weighted = e_step(p.X, p.params, p.family, w)
        repeated = e_step(np.repeat(p.X, w.astype(int), axis=0), p.params, p.family)
        scales = _scales(p.X, w, weighted.shift, p.params, p.family)
        assert_stats_close(weighted, repeated, scales, ORDER_RTOL, n_samples=False)
        assert weighted.weight == np.sum(w)

    @given(gst.problems(weights=True), st.data())
    def test_zero_weight_equals_removal(self, p, data):
        """A row with zero weight contributes nothing (as if removed)."""
        w = p.sample_weight.copy()
        zeros = data.draw(
            hnp.arrays(np.bool_, w.shape, elements=st.booleans()), label="zeros"
        )
        w[zeros] = 0.0
        assume(np.any(w > 0))
        keep = w > 0
        with_zeros = e_step(p.X, p.params, p.family, w)
        removed = e_step(p.X[keep], p.params, p.family, w[keep])
        scales = _scales(p.X, w, with_zeros.shift, p.params, p.family)
        assert_stats_close(with_zeros, removed, scales, ORDER_RTOL, n_samples=False)
        assert with_zeros.n_samples == p.X.shape[0]

    @given(gst.problems(weights=False))
    def test_unit_weights_equal_no_weights(self, p):
        """sample_weight of ones equals sample_weight=None."""
        ones = e_step(p.X, p.params, p.family, np.ones(p.X.shape[0]))
        none = e_step(p.X, p.params, p.family, None)
        scales = _scales(p.X, None, none.shift, p.params, p.family)
        assert_stats_close(ones, none, scales, ORDER_RTOL)


class TestRecentered:
    """``SuffStats.recentered`` re-expresses statistics about another shift."""

    @given(gst.problems(weights=None), shifts(gst.MAX_FEATURES))
    def test_round_trip(self, p, a):
        """recentered(a).recentered(original shift) gives back the statistics."""
        s = e_step(p.X, p.params, p.family, p.sample_weight)
        a = a[: s.shift.size]
        back = s.recentered(a, p.family).recentered(s.shift, p.family)
        assert isinstance(back, SuffStats)
        far = np.vstack([p.X, a[None, :]])
        assert_stats_close(
            back, s, _scales(far, None, s.shift) | {"loglik": 0.0}, RECENTER_RTOL
        )

    @given(problems_with_resp(), shifts(gst.MAX_FEATURES), shifts(gst.MAX_FEATURES))
    def test_equals_direct_computation(self, case, a, b):
        """Statistics about b, recentred on a, equal those computed about a."""
        p, resp = case
        K = p.params.n_components
        a, b = a[: p.X.shape[1]], b[: p.X.shape[1]]
        about_b = stats_from_resp(p.X, resp, p.family, K, b, p.sample_weight)
        about_a = stats_from_resp(p.X, resp, p.family, K, a, p.sample_weight)
        pts = np.vstack([p.X, a[None, :], b[None, :]])
        w = None if p.sample_weight is None else np.r_[p.sample_weight, 0.0, 0.0]
        scales = _scales(pts, w, a)
        assert_stats_close(
            about_b.recentered(a, p.family), about_a, scales, RECENTER_RTOL
        )


class TestMStepShiftInvariance:
    """The M-step's parameters do not depend on the shift of the statistics."""

    @given(problems_with_resp(positive=True), shifts(gst.MAX_FEATURES))
    def test_params_do_not_depend_on_shift(self, case, a):
        """m_step(stats) == m_step(stats.recentered(a)) (parameters and repairs)."""
        p, resp = case
        K = p.params.n_components
        a = a[: p.X.shape[1]]
        s = stats_from_resp(p.X, resp, p.family, K, p.params.center(), p.sample_weight)
        # The M-step divides by nk + 10 eps (scikit-learn's offset), which is only
        # shift-invariant while nk is far above eps.
        assume(s.weight > 1e-3)
        assume(np.all(s.nk > 1e-3 * s.weight))
        reg_covar = 1e-3
        p1, r1 = m_step(s, p.family, reg_covar)
        p2, r2 = m_step(s.recentered(a, p.family), p.family, reg_covar)
        assert [(r.kind, r.component) for r in r1] == [
            (r.kind, r.component) for r in r2
        ]
        # Means are compared on the scale of the coordinates involved.
        coord = 1.0 + max(float(np.max(np.abs(p.X))), float(np.max(np.abs(a))))
        for name in ("weights", "means", "covariances", "precisions_cholesky"):
            x, y = getattr(p1, name), getattr(p2, name)
            scale = coord if name == "means" else float(np.max(np.abs(y)))
            np.testing.assert_allclose(
                x, y, rtol=SHIFT_RTOL, atol=SHIFT_RTOL * scale, err_msg=name
            )


class TestChunksAndThreads:
    """Chunk size and thread count do not change the statistics."""

    @given(
        gst.problems(min_rows=1, weights=None),
        st.integers(1, gst.MAX_ROWS + 2),
        st.integers(1, 3),
    )
    def test_e_step(self, p, rows, n_threads):
        """e_step(rows=, n_threads=) equals the single-chunk serial pass."""
        got = e_step(
            p.X, p.params, p.family, p.sample_weight, rows=rows, n_threads=n_threads
        )
        ref = e_step(p.X, p.params, p.family, p.sample_weight)
        scales = _scales(p.X, p.sample_weight, ref.shift, p.params, p.family)
        assert_stats_close(got, ref, scales, ORDER_RTOL)

    @given(problems_with_resp(), st.integers(1, gst.MAX_ROWS + 2), st.integers(1, 3))
    def test_stats_from_resp(self, case, rows, n_threads):
        """stats_from_resp(rows=, n_threads=) equals the single-chunk serial pass."""
        p, resp = case
        K = p.params.n_components
        shift = p.params.center()
        got = stats_from_resp(
            p.X,
            resp,
            p.family,
            K,
            shift,
            p.sample_weight,
            rows=rows,
            n_threads=n_threads,
        )
        ref = stats_from_resp(p.X, resp, p.family, K, shift, p.sample_weight)
        assert_stats_close(got, ref, _scales(p.X, p.sample_weight, shift), ORDER_RTOL)

    @given(problems_with_resp(), st.integers(1, gst.MAX_ROWS + 2))
    def test_callable_resp_equals_array(self, case, rows):
        """Responsibilities given chunk by chunk equal the whole array."""
        p, resp = case
        K = p.params.n_components
        shift = p.params.center()
        got = stats_from_resp(
            p.X, lambda s, e: resp[s:e], p.family, K, shift, p.sample_weight, rows=rows
        )
        ref = stats_from_resp(p.X, resp, p.family, K, shift, p.sample_weight)
        assert_stats_close(got, ref, _scales(p.X, p.sample_weight, shift), ORDER_RTOL)
