"""Out-of-core fits: .npy paths, memmaps and chunk factories equal in-memory fits."""

import re
import tracemalloc

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.sources import INIT_SAMPLE_SIZE, ChunkedSource

RTOL = 1e-10  # the bound: only the order of floating-point sums differs


def blobs(n=6000, d=3, k=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=6.0, size=(k, d))
    labels = rng.randint(k, size=n)
    X = centres[labels] + rng.normal(size=(n, d)) * (1 + labels[:, None] * 0.5)
    return X.astype(dtype)


def start_of(X, k, covariance_type):
    """Initial parameters (perturbed) from an ordinary fit, for identical starts."""
    gm = GaussianMixture(k, covariance_type=covariance_type, random_state=1).fit(X)
    return {
        "weights_init": gm.weights_,
        "means_init": gm.means_ * 1.05 + 0.1,
        "precisions_init": gm.precisions_,
    }


def factory_of(X, rows, w=None):
    def factory():
        for lo in range(0, X.shape[0], rows):
            if w is None:
                yield X[lo : lo + rows]
            else:
                yield X[lo : lo + rows], w[lo : lo + rows]

    return factory


def assert_same_fit(a, b, rtol=RTOL):
    assert a.n_iter_ == b.n_iter_
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, attr), getattr(b, attr)
        scale = np.max(np.abs(y))
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=attr)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=rtol)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical", "VEV", "EVE"])
def test_every_source_equals_in_memory(tmp_path, cov):
    X = blobs()
    kw = {**start_of(X, 3, cov), "covariance_type": cov, "tol": 1e-9, "max_iter": 200}
    ref = GaussianMixture(3, **kw).fit(X)
    path = tmp_path / "x.npy"
    np.save(path, X)
    fits = {
        "path": GaussianMixture(3, **kw).fit(str(path)),
        "blocks": GaussianMixture(3, **kw).fit(ChunkedSource(path, block_rows=777)),
        "memmap": GaussianMixture(3, **kw).fit(np.load(path, mmap_mode="r")),
        "factory": GaussianMixture(3, **kw).fit(factory_of(X, 1000)),
    }
    for name, gm in fits.items():
        assert gm.n_features_in_ == 3, name
        assert_same_fit(gm, ref)


def test_float32_and_weights(tmp_path):
    X = blobs(dtype=np.float32)
    w = np.random.RandomState(3).randint(0, 4, size=X.shape[0]).astype(float)
    kw = {**start_of(X, 3, "full"), "tol": 1e-7, "max_iter": 30}
    ref = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    path = tmp_path / "x32.npy"
    np.save(path, X)
    by_path = GaussianMixture(3, **kw).fit(path, sample_weight=w)
    by_pairs = GaussianMixture(3, **kw).fit(factory_of(X, 999, w))
    assert by_path.means_.dtype == np.float32
    assert_same_fit(by_path, ref, rtol=1e-6)  # float32 data: float32 rounding
    assert_same_fit(by_pairs, ref, rtol=1e-6)


def test_fit_predict_and_warm_start(tmp_path):
    X = blobs()
    path = tmp_path / "x.npy"
    np.save(path, X)
    gm = GaussianMixture(3, random_state=0)
    labels = gm.fit_predict(path)
    np.testing.assert_array_equal(labels, gm.predict(X))
    warm = GaussianMixture(3, random_state=0, warm_start=True, max_iter=2)
    with pytest.warns(UserWarning, match="did not converge"):
        warm.fit(path)
    warm.set_params(max_iter=100)
    warm.fit(path)
    assert warm.converged_


def test_initialisation_reads_the_reservoir_sample(tmp_path):
    """k-means runs on the reservoir sample drawn by the first pass (documented)."""
    X = blobs(n=INIT_SAMPLE_SIZE + 5000)
    path = tmp_path / "x.npy"
    np.save(path, X)
    rs = np.random.RandomState(0)
    summary = ChunkedSource(path).summarize(INIT_SAMPLE_SIZE, rs)
    assert summary.sample.shape == (INIT_SAMPLE_SIZE, 3)
    np.testing.assert_array_equal(summary.sample, X[summary.sample_index])
    # The same generator, continued after the summary, initialises on the sample.
    expected = GaussianMixture(3, max_iter=0, random_state=rs).fit(summary.sample)
    got = GaussianMixture(3, max_iter=0, random_state=0).fit(path)
    np.testing.assert_allclose(got.means_, expected.means_, rtol=1e-12)


def test_reservoir_is_uniform_and_independent_of_chunking(tmp_path):
    X = np.arange(40_000, dtype=float).reshape(-1, 1) * np.ones((1, 2))
    path = tmp_path / "x.npy"
    np.save(path, X)
    a = ChunkedSource(path, block_rows=333).summarize(2000, np.random.RandomState(5))
    b = ChunkedSource(path, block_rows=9000).summarize(2000, np.random.RandomState(5))
    np.testing.assert_array_equal(a.sample_index, b.sample_index)
    # Uniform: the sample's quartile counts are each about 500 (4 sigma band).
    counts = np.bincount(a.sample_index // 10_000, minlength=4)
    assert np.all(np.abs(counts - 500) < 4 * np.sqrt(2000 * 0.25 * 0.75)), counts
    # Moments are exact.
    np.testing.assert_allclose(a.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(a.covariance, np.cov(X.T), rtol=1e-10)
    np.testing.assert_array_equal(a.minimum, X.min(axis=0))


def test_weighted_reservoir_follows_the_weights():
    X = np.zeros((20_000, 1))
    w = np.where(np.arange(20_000) < 10_000, 1.0, 3.0)
    w[:100] = 0.0  # never drawn
    src = ChunkedSource(factory_of(X, 1500, w))
    s = src.summarize(1000, np.random.RandomState(0))
    assert not np.any(s.sample_index < 100)
    heavy = np.mean(s.sample_index >= 10_000)
    assert 0.70 < heavy < 0.80  # about 3/4 of the draws (no replacement)
    assert s.weight == pytest.approx(w.sum())


def test_default_prior_uses_exact_moments(tmp_path):
    X = blobs()
    path = tmp_path / "x.npy"
    np.save(path, X)
    kw = {**start_of(X, 3, "full"), "prior": "default", "max_iter": 20}
    ref = GaussianMixture(3, **kw).fit(X)
    got = GaussianMixture(3, **kw).fit(path)
    np.testing.assert_allclose(got.prior_["mean"], ref.prior_["mean"], rtol=1e-12)
    np.testing.assert_allclose(got.prior_["scale"], ref.prior_["scale"], rtol=1e-10)
    assert_same_fit(got, ref, rtol=1e-9)


def test_memory_is_bounded_by_the_chunk_not_the_data():
    """Peak allocations do not grow with the data: 32 MB and 128 MB streams.

    Measured by tracemalloc (allocations, not RSS or time), with what can vary
    under load pinned: one thread (the ThreadTuner's threaded-or-serial choice
    is timed, so it changed the working memory between runs on a loaded
    machine) and no read-ahead thread (how many chunks it holds depends on
    scheduling). Then the peak is the same whatever the number of chunks. A
    first fit warms the caches (the first fit in a process allocates about
    10 MB more, which made the comparison depend on the order of the runs).
    """
    rows, d = 40_000, 8
    centres = np.random.RandomState(0).normal(scale=5, size=(4, d))
    chunk_bytes = rows * d * 8

    def peak_for(n_chunks, **options):
        def factory():
            rng = np.random.RandomState(1)
            for _ in range(n_chunks):
                labels = rng.randint(4, size=rows)
                yield centres[labels] + rng.normal(size=(rows, d))

        source = ChunkedSource(factory, prefetch=options.pop("prefetch", 0))
        tracemalloc.start()
        try:
            gm = GaussianMixture(4, max_iter=2, random_state=0, tol=0, **options)
            with pytest.warns(UserWarning, match="did not converge"):
                gm.fit(source)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    data_bytes = rows * 50 * d * 8
    peak_for(2, n_jobs=1)  # first-use caches and imports are not part of a fit
    small, large = peak_for(12, n_jobs=1), peak_for(50, n_jobs=1)
    assert large < 1.02 * small, (small, large)
    # The reservoir sample (100,000 rows = 6.4 MB), k-means on it, a few chunks.
    assert large < data_bytes / 3, (large, data_bytes)
    # The defaults (threads over chunks, one chunk read ahead): whatever the
    # timing, at most a few chunks and the threads' work arrays more.
    default_small = peak_for(12, prefetch=1)
    default_large = peak_for(50, prefetch=1)
    slack = 4 * chunk_bytes + 8 * 2**20
    assert default_large < default_small + slack, (default_small, default_large)
    assert default_large < data_bytes / 3, (default_large, data_bytes)


class TestErrors:
    def test_nan_chunk(self):
        X = blobs(n=300)
        X[150, 1] = np.nan
        msg = "chunk 1 contains NaN or infinity in 1 rows (first: row 50 of the chunk)"
        with pytest.raises(ValueError, match=re.escape(msg)):
            GaussianMixture(2).fit(factory_of(X, 100))

    def test_features_change(self):
        def factory():
            yield np.zeros((10, 2))
            yield np.zeros((10, 3))

        with pytest.raises(ValueError, match="chunk 1 has 3 features but the first"):
            GaussianMixture(2).fit(factory)

    def test_one_dimensional_chunk(self):
        with pytest.raises(ValueError, match=re.escape("x.reshape(-1, 1)")):
            GaussianMixture(2).fit(lambda: iter([np.zeros(10)]))

    def test_factory_must_return_the_same_data(self):
        calls = []

        def factory():
            calls.append(1)
            yield blobs(n=100 + 10 * len(calls), seed=len(calls))

        with pytest.raises(ValueError, match="must return the same data"):
            GaussianMixture(2, max_iter=5).fit(factory)

    def test_factory_returning_a_non_iterable(self):
        with pytest.raises(TypeError, match="returned int, not an iterable"):
            GaussianMixture(2).fit(lambda: 3)

    def test_empty_factory(self):
        with pytest.raises(ValueError, match="gave no rows"):
            GaussianMixture(2).fit(lambda: iter([]))

    def test_non_numeric_chunk(self):
        with pytest.raises(ValueError, match="chunk 0 has dtype <U1"):
            GaussianMixture(2).fit(lambda: iter([np.array([["a", "b"]] * 5)]))

    def test_sample_weight_with_factory(self):
        with pytest.raises(ValueError, match="yield \\(X_chunk, weight_chunk\\) pairs"):
            GaussianMixture(2).fit(
                factory_of(blobs(n=50), 10), sample_weight=np.ones(50)
            )

    def test_not_npy(self, tmp_path):
        p = tmp_path / "x.csv"
        p.write_text("1,2\n")
        with pytest.raises(ValueError, match=re.escape("is not a .npy file")):
            GaussianMixture(2).fit(str(p))

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such file"):
            GaussianMixture(2).fit(tmp_path / "missing.npy")

    def test_object_npy_is_never_unpickled(self, tmp_path):
        p = tmp_path / "obj.npy"
        np.save(p, np.array([[object()]], dtype=object), allow_pickle=True)
        with pytest.raises(ValueError, match="object arrays are never loaded"):
            GaussianMixture(1).fit(p)

    def test_fortran_order(self, tmp_path):
        p = tmp_path / "f.npy"
        np.save(p, np.asfortranarray(blobs(n=100)))
        with pytest.raises(ValueError, match="Fortran order"):
            GaussianMixture(2).fit(p)

    def test_truncated_file(self, tmp_path):
        p = tmp_path / "t.npy"
        np.save(p, blobs(n=1000))
        data = p.read_bytes()
        p.write_bytes(data[:-800])
        with pytest.raises(ValueError, match="is truncated"):
            GaussianMixture(2).fit(p)

    @pytest.mark.parametrize("param", ["resp_init", "noise_init"])
    def test_row_starts_are_refused(self, tmp_path, param):
        p = tmp_path / "x.npy"
        np.save(p, blobs(n=100))
        with pytest.raises(ValueError, match=f"{param} gives the start of a fit"):
            GaussianMixture(2, **{param: np.ones((100, 2))}).fit(p)

    def test_noise_is_refused(self, tmp_path):
        p = tmp_path / "x.npy"
        np.save(p, blobs(n=100))
        with pytest.raises(ValueError, match="noise component is not supported"):
            GaussianMixture(2, noise=True).fit(p)

    def test_too_few_rows(self):
        with pytest.raises(ValueError, match="needs at least 5 samples"):
            GaussianMixture(5).fit(lambda: iter([np.zeros((3, 2))]))


def test_weights_of_the_wrong_length(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, blobs(n=100))
    with pytest.raises(
        ValueError, match="sample_weight has shape \\(99,\\) but the data"
    ):
        GaussianMixture(2).fit(p, sample_weight=np.ones(99))
