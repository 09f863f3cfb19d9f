"""``nan_policy`` on out-of-core sources, Dask arrays, online EM and partial_fit.

The reference of every out-of-core fit is the in-memory fit of the same data
from the same start (``*_init`` arrays), itself checked against independent
references in tests/test_missing.py: the statistics are sums over rows, so
only the order of the floating-point sums may differ (1e-10, as in
tests/test_outofcore.py).
"""

import warnings

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.sources import ChunkedSource
from gaussmix.sources.missing_blocks import MissingChunkedSource

RTOL = 1e-10  # only the order of the floating-point sums differs


def _data(n=1500, d=4, k=3, seed=0, missing=0.2, n_empty=3):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=5.0, size=(k, d))
    X = centres[rng.randint(k, size=n)] + rng.normal(size=(n, d))
    Xm = X.copy()
    Xm[rng.rand(n, d) < missing] = np.nan
    Xm[:n_empty] = np.nan  # rows with nothing observed
    if not n_empty:
        Xm = Xm[~np.isnan(Xm).all(axis=1)]
        X = X[: Xm.shape[0]]
    return X, Xm


def _empty_message(Xm):
    n_empty = int(np.isnan(Xm).all(axis=1).sum())
    return f"{n_empty} of {Xm.shape[0]} rows of X have every value"


def _start(X, k, covariance_type):
    """Perturbed parameters of an ordinary fit of the complete data."""
    gm = GaussianMixture(k, covariance_type=covariance_type, random_state=1).fit(X)
    return {
        "weights_init": gm.weights_,
        "means_init": gm.means_ * 1.05 + 0.1,
        "precisions_init": gm.precisions_,
        "covariance_type": covariance_type,
        "tol": 1e-9,
        "max_iter": 200,
    }


def _factory(X, rows, w=None):
    def factory():
        for lo in range(0, X.shape[0], rows):
            if w is None:
                yield X[lo : lo + rows]
            else:
                yield X[lo : lo + rows], w[lo : lo + rows]

    return factory


def _assert_same_fit(a, b, rtol=RTOL):
    assert a.n_iter_ == b.n_iter_
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, attr), getattr(b, attr)
        np.testing.assert_allclose(
            x, y, rtol=0, atol=rtol * np.max(np.abs(y)), err_msg=attr
        )
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=rtol)


def _quiet_fit(gm, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return gm.fit(X, **kw)


# ------------------------------------------------ .npy, memmap, factory
@pytest.mark.parametrize("cov", ["full", "diag", "tied", "VEV"])
def test_chunked_marginalize_equals_in_memory(tmp_path, cov):
    X, Xm = _data()
    kw = _start(X, 3, cov)
    ref = _quiet_fit(GaussianMixture(3, nan_policy="marginalize", **kw), Xm)
    path = tmp_path / "x.npy"
    np.save(path, Xm)
    sources = {
        "path": str(path),
        "blocks": ChunkedSource(path, block_rows=517),
        "memmap": np.load(path, mmap_mode="r"),
        "factory": _factory(Xm, 800),
    }
    if cov != "full":  # the other families: one source (the others read alike)
        sources = {"blocks": sources["blocks"]}
    for name, data in sources.items():
        with pytest.warns(UserWarning, match=_empty_message(Xm)):
            gm = GaussianMixture(3, nan_policy="marginalize", **kw).fit(data)
        assert gm.n_features_in_ == 4, name
        _assert_same_fit(gm, ref)


def test_chunked_weights_and_float32(tmp_path):
    X, Xm = _data(seed=1)
    w = np.random.RandomState(2).uniform(0.2, 3.0, size=X.shape[0])
    kw = _start(X, 3, "full")
    ref = _quiet_fit(
        GaussianMixture(3, nan_policy="marginalize", **kw), Xm, sample_weight=w
    )
    path = tmp_path / "x.npy"
    np.save(path, Xm)
    by_path = _quiet_fit(
        GaussianMixture(3, nan_policy="marginalize", **kw), path, sample_weight=w
    )
    by_pairs = _quiet_fit(
        GaussianMixture(3, nan_policy="marginalize", **kw), _factory(Xm, 700, w)
    )
    _assert_same_fit(by_path, ref)
    _assert_same_fit(by_pairs, ref)
    X32 = Xm.astype(np.float32)
    kw32 = {**kw, "max_iter": 30, "tol": 1e-7}
    ref32 = _quiet_fit(GaussianMixture(3, nan_policy="marginalize", **kw32), X32)
    f32 = _quiet_fit(
        GaussianMixture(3, nan_policy="marginalize", **kw32), _factory(X32, 600)
    )
    assert f32.means_.dtype == np.float32
    _assert_same_fit(f32, ref32, rtol=1e-6)  # float32 parameters


def test_chunked_summary_counts_and_observed_moments(tmp_path):
    _, Xm = _data(seed=3)
    path = tmp_path / "x.npy"
    np.save(path, Xm)
    source = MissingChunkedSource(ChunkedSource(path, block_rows=300), "marginalize", 3)
    summary = source.summarize(500, np.random.RandomState(0))
    kept = Xm[~np.isnan(Xm).all(axis=1)]
    assert summary.n_samples == kept.shape[0]
    np.testing.assert_allclose(summary.mean, np.nanmean(kept, axis=0), rtol=1e-12)
    # The variance of a feature from the rows that observe it (divisor n - 1).
    np.testing.assert_allclose(
        np.diag(summary.covariance), np.nanvar(kept, axis=0, ddof=1), rtol=1e-10
    )
    # A covariance from the rows observing both features.
    both = ~np.isnan(kept[:, 0]) & ~np.isnan(kept[:, 1])
    ref01 = np.cov(kept[both, 0], kept[both, 1])[0, 1]
    assert summary.covariance[0, 1] == pytest.approx(ref01, rel=1e-10)
    np.testing.assert_array_equal(summary.minimum, np.nanmin(kept, axis=0))
    # The starts' sample: kept rows, completed (no NaN), observed values unchanged.
    assert summary.sample.shape[0] == 500
    assert not np.isnan(summary.sample).any()
    raw = Xm[summary.sample_index]
    assert not np.isnan(raw).all(axis=1).any()
    observed = ~np.isnan(raw)
    np.testing.assert_array_equal(summary.sample[observed], raw[observed])


def test_chunked_default_start_and_fit_predict(tmp_path):
    _, Xm = _data(seed=4, n_empty=0)
    path = tmp_path / "x.npy"
    np.save(path, Xm)
    gm = GaussianMixture(3, nan_policy="marginalize", random_state=0)
    labels = gm.fit_predict(path)  # starts from the k-POD completed reservoir
    ref = GaussianMixture(3, nan_policy="marginalize", random_state=0).fit(Xm)
    order = np.argsort(gm.means_[:, 0])
    ref_order = np.argsort(ref.means_[:, 0])
    # A different start (reservoir vs whole array) reaches the same maximum.
    np.testing.assert_allclose(
        gm.means_[order], ref.means_[ref_order], rtol=0, atol=1e-5
    )
    np.testing.assert_array_equal(labels, gm.predict(Xm))


def test_chunked_omit_drops_rows_block_by_block(tmp_path):
    X, Xm = _data(seed=5)
    kw = _start(X, 3, "full")
    complete = ~np.isnan(Xm).any(axis=1)
    ref = GaussianMixture(3, **kw).fit(Xm[complete])
    n_nan = int((~complete).sum())
    gm = GaussianMixture(3, nan_policy="omit", **kw)
    with pytest.warns(UserWarning, match=f"left out {n_nan} of 1500 rows"):
        labels = gm.fit_predict(_factory(Xm, 500))
    _assert_same_fit(gm, ref)
    assert np.all(labels[~complete] == -1)
    np.testing.assert_array_equal(labels[complete], ref.predict(Xm[complete]))


def test_chunked_without_nan_is_the_default_fit(tmp_path):
    """Bit for bit: same summary, same E-step on the same blocks."""
    X, _ = _data(seed=6)
    path = tmp_path / "x.npy"
    np.save(path, X)
    for policy in ("marginalize", "omit"):
        a = GaussianMixture(3, random_state=0, prior="default").fit(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            b = GaussianMixture(
                3, random_state=0, prior="default", nan_policy=policy
            ).fit(path)
        for attr in ("weights_", "means_", "covariances_", "lower_bounds_"):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_chunked_errors(tmp_path):
    _, Xm = _data(seed=7, n_empty=0)
    bad = Xm.copy()
    bad[10, 1] = np.inf
    with pytest.raises(ValueError, match="infinity in 1 rows"):
        GaussianMixture(2, nan_policy="marginalize").fit(_factory(bad, 500))
    no_column = Xm.copy()
    no_column[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\].*no observed value"):
        GaussianMixture(2, nan_policy="marginalize").fit(_factory(no_column, 500))
    with pytest.raises(ValueError, match="noise component"):
        GaussianMixture(2, nan_policy="marginalize", noise=True).fit(_factory(Xm, 500))
    with pytest.raises(ValueError, match="no row of the data is left"):
        GaussianMixture(2, nan_policy="omit").fit(_factory(no_column, 500))


# ------------------------------------------------------------- Dask
def test_dask_equals_in_memory_and_predicts_lazily():
    da = pytest.importorskip("dask.array")
    import dask

    X, Xm = _data(seed=8)
    w = np.random.RandomState(9).uniform(0.5, 2.0, size=X.shape[0])
    kw = _start(X, 3, "full")
    ref = _quiet_fit(
        GaussianMixture(3, nan_policy="marginalize", **kw), Xm, sample_weight=w
    )
    dX = da.from_array(Xm, chunks=(611, 4))
    with dask.config.set(scheduler="synchronous"):
        gm = GaussianMixture(3, nan_policy="marginalize", **kw)
        dw = da.from_array(w, chunks=611)
        with pytest.warns(UserWarning, match=_empty_message(Xm)):
            gm.fit(dX, sample_weight=dw)
        _assert_same_fit(gm, ref)
        for method in ("score_samples", "predict_proba", "predict"):
            lazy = getattr(gm, method)(dX)
            assert isinstance(lazy, da.Array)
            expected = getattr(gm, method)(Xm)
            np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=0)
        complete = ~np.isnan(Xm).any(axis=1)
        omit = GaussianMixture(3, nan_policy="omit", **kw)
        with pytest.warns(UserWarning, match="nan_policy='omit' left out"):
            labels = omit.fit_predict(dX).compute()
        _assert_same_fit(omit, GaussianMixture(3, **kw).fit(Xm[complete]))
        assert np.all(labels[~complete] == -1)


# ----------------------------------------------- online EM, partial_fit
def _observed_score(gm, X):
    return float(gm.score(X))


def test_online_em_with_missing_values_improves_the_likelihood(tmp_path):
    _, Xm = _data(seed=10, n_empty=0)
    start = GaussianMixture(3, nan_policy="marginalize", random_state=0, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(Xm)  # the starting parameters only
    batch = GaussianMixture(3, nan_policy="marginalize", random_state=0).fit(Xm)
    online = GaussianMixture(
        3, nan_policy="marginalize", random_state=0, batch_size=300, max_iter=10
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        online.fit(Xm)
        path = tmp_path / "x.npy"
        np.save(path, Xm)
        chunked = GaussianMixture(
            3, nan_policy="marginalize", random_state=0, batch_size=300, max_iter=10
        ).fit(path)
    for gm in (online, chunked):
        assert not np.isnan(gm.means_).any()
        # Better than the start, and close to batch EM's observed-data likelihood.
        assert _observed_score(gm, Xm) > _observed_score(start, Xm) + 0.05
        assert _observed_score(gm, Xm) > _observed_score(batch, Xm) - 0.01


def test_partial_fit_with_missing_values():
    _, Xm = _data(seed=11, n_empty=0)
    gm = GaussianMixture(3, nan_policy="marginalize", random_state=0)
    scores = []
    for lo in range(0, Xm.shape[0], 300):
        gm.partial_fit(Xm[lo : lo + 300])
        scores.append(_observed_score(gm, Xm))
    assert not np.isnan(gm.means_).any()
    assert scores[-1] > scores[0]
    batch = GaussianMixture(3, nan_policy="marginalize", random_state=0).fit(Xm)
    assert scores[-1] > _observed_score(batch, Xm) - 0.02
    with pytest.warns(UserWarning, match="1 of 3 rows of the batch have every value"):
        gm.partial_fit(np.vstack([Xm[:2], np.full((1, 4), np.nan)]))


def test_partial_fit_without_nan_is_unchanged():
    X, _ = _data(seed=12, n_empty=0)
    a = GaussianMixture(3, random_state=0)
    b = GaussianMixture(3, random_state=0, nan_policy="marginalize")
    for lo in range(0, X.shape[0], 400):
        a.partial_fit(X[lo : lo + 400])
        b.partial_fit(X[lo : lo + 400])
    for attr in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_policy_sources_share_their_fields(tmp_path):
    """The nan_policy sources are PolicySource dataclasses, compared by identity."""
    from gaussmix.sources.missing_blocks import PolicySource

    path = tmp_path / "x.npy"
    np.save(path, _data(n=50)[1])
    chunked = ChunkedSource(path)
    assert not chunked.allow_nan
    source = MissingChunkedSource(chunked, "omit", 2)
    assert isinstance(source, PolicySource)
    assert chunked.allow_nan  # the wrapped source lets NaN through
    assert (source.source, source.policy, source.n_components, source.warn) == (
        chunked,
        "omit",
        2,
        None,
    )
    assert source != MissingChunkedSource(chunked, "omit", 2)  # eq=False
    assert "{{" not in (MissingChunkedSource.__doc__ or "")
    assert "n_components : int" in (MissingChunkedSource.__doc__ or "")
