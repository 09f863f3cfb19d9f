"""Tests for ``gaussmix.sources``: every source's protocol, the thread tuner, messages."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gaussmix
from gaussmix.core import get_family
from gaussmix.core.estep import estimate_log_prob_resp
from gaussmix.core.mstep import params_from_precisions
from gaussmix.core.prior import resolve_prior
from gaussmix.sources import (
    ArraySource,
    ChunkedSource,
    ThreadTuner,
    as_source,
    is_out_of_core,
)


class TestThreadTuner:
    """Tests for ``ThreadTuner``."""

    def test_times_both_options_then_keeps_the_faster(self):
        """Each option is timed once, then the faster one is used."""
        tuner = ThreadTuner(2, reprobe=10)
        first = tuner.choose()
        tuner.record(first, 2.0)
        second = tuner.choose()
        tuner.record(second, 1.0)
        assert {first, second} == {1, 2}
        assert [tuner.choose() for _ in range(5)] == [second] * 5

    def test_reprobes_the_other_option(self):
        """Every ``reprobe`` passes the slower option is timed again and can win."""
        tuner = ThreadTuner(2, reprobe=4)
        tuner.record(tuner.choose(), 1.0)  # 2 threads: 1 s
        tuner.record(tuner.choose(), 3.0)  # serial: 3 s
        assert tuner.choose() == 2  # third pass: the faster option
        assert tuner.choose() == 1  # fourth pass: the re-probe
        tuner.record(1, 0.5)  # the other core became free for serial work
        assert tuner.choose() == 1

    def test_single_thread_is_always_serial(self):
        """With one thread there is nothing to choose."""
        tuner = ThreadTuner(1, reprobe=3)
        chosen = []
        for _ in range(12):
            chosen.append(tuner.choose())
            tuner.record(chosen[-1], 1.0)
        assert chosen == [1] * 12


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_array_source_result_does_not_depend_on_threads(covariance_type):
    """Statistics of an ArraySource are identical for 1 and 2 threads, pass after pass."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60_000, 6))
    family = get_family(covariance_type)
    k = 3
    precisions = {
        "full": np.tile(np.eye(6), (k, 1, 1)),
        "tied": np.eye(6),
        "diag": np.ones((k, 6)),
        "spherical": np.ones(k),
    }[covariance_type]
    params = params_from_precisions(np.full(k, 1 / k), X[:k], precisions, family)
    serial, threaded = ArraySource(X, n_threads=1), ArraySource(X, n_threads=2)
    for _ in range(3):
        a = serial.accumulate(params, family)
        b = threaded.accumulate(params, family)
        np.testing.assert_array_equal(a.sxx, b.sxx)
        np.testing.assert_array_equal(a.sx, b.sx)
        assert a.loglik == b.loglik


# ------------------------------------------------------------ the protocol
SUMMARY_FIELDS = (
    "n_samples",
    "n_features",
    "dtype",
    "sample",
    "sample_weight",
    "sample_index",
    "weight",
    "mean",
    "covariance",
    "minimum",
    "maximum",
)


def _data(n=900, d=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(loc=4 * k, size=(n // 3, d)) for k in range(3)])
    w = rng.uniform(0.5, 2.0, size=X.shape[0])
    w[::50] = 0.0
    return X.astype(dtype), w


def _params(X, family_name="full", k=3):
    family = get_family(family_name)
    d = X.shape[1]
    precisions = {
        "full": np.tile(np.eye(d), (k, 1, 1)),
        "diag": np.ones((k, d)),
    }[family_name]
    rows = np.linspace(0, X.shape[0] - 1, k).astype(int)
    return params_from_precisions(
        np.full(k, 1 / k), X[rows], precisions, family
    ), family


def _chunked_sources(X, w, tmp_path):
    """One source of every chunked kind over the same rows and weights."""
    path = tmp_path / "x.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")

    def factory():
        for lo in range(0, X.shape[0], 200):
            yield X[lo : lo + 200], w[lo : lo + 200]

    return {
        "path": ChunkedSource(str(path), sample_weight=w, block_rows=200),
        "memmap": ChunkedSource(memmap, sample_weight=w, block_rows=200),
        "factory": ChunkedSource(factory),
    }


class TestArraySource:
    """The in-memory source: a summary without a pass, today's batches and labels."""

    @pytest.mark.parametrize("weighted", [False, True])
    def test_summary_sample_is_the_array(self, weighted):
        X, w = _data()
        w = w if weighted else None
        random_state = np.random.RandomState(0)
        before = random_state.get_state()[1].copy()
        summary = ArraySource(X, w).summarize(10, random_state)
        assert summary.sample is X
        assert summary.sample_weight is w
        assert (summary.n_samples, summary.n_features) == X.shape
        assert summary.dtype == X.dtype
        # No random numbers drawn: the initialisation sees the seed it saw before.
        np.testing.assert_array_equal(random_state.get_state()[1], before)
        for name in SUMMARY_FIELDS:
            assert hasattr(summary, name), name
        np.testing.assert_array_equal(summary.sample_index, np.arange(X.shape[0]))

    def test_moments_are_computed_only_when_read(self):
        X, w = _data()
        summary = ArraySource(X, w).summarize(10, np.random.RandomState(0))
        assert "covariance" not in vars(summary)
        assert summary.weight == pytest.approx(w.sum())
        assert "covariance" in vars(summary)
        live = X[w > 0]
        np.testing.assert_array_equal(summary.minimum, live.min(axis=0))
        np.testing.assert_array_equal(summary.maximum, live.max(axis=0))

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("weighted", [False, True])
    @pytest.mark.parametrize("model", ["full", "VVI", "EII", "E"])
    def test_prior_from_the_summary_is_bit_identical(self, dtype, weighted, model):
        """prior="default" from the summary's moments equals the prior from X."""
        X, w = _data(dtype=dtype)
        X = X[:, :1] if model == "E" else X
        w = w if weighted else None
        summary = ArraySource(X, w).summarize(10, np.random.RandomState(0))
        from_x = resolve_prior("default", X, w, 3, model)
        moments = (summary.weight, summary.mean, summary.covariance)
        from_summary = resolve_prior("default", X, None, 3, model, moments=moments)
        for key, value in from_x.as_dict().items():
            np.testing.assert_array_equal(from_summary.as_dict()[key], value)

    @pytest.mark.parametrize("weighted", [False, True])
    def test_batches_are_todays_order(self, weighted):
        """A permutation per epoch, each batch's rows in increasing order."""
        X, w = _data(n=1000)
        w = w if weighted else None
        source = ArraySource(X, w)
        got = list(source.batches(128, np.random.RandomState(5)))
        order = np.random.RandomState(5).permutation(X.shape[0])
        assert len(got) == 8
        for i, (Xb, wb) in enumerate(got):
            rows = np.sort(order[i * 128 : (i + 1) * 128])
            np.testing.assert_array_equal(Xb, X[rows])
            if w is None:
                assert wb is None
            else:
                np.testing.assert_array_equal(wb, w[rows])

    def test_labels_are_the_prediction_pass(self):
        X, w = _data()
        params, family = _params(X)
        _, _, expected = estimate_log_prob_resp(X, params, family, want_resp=False)
        np.testing.assert_array_equal(
            ArraySource(X, w).labels(params, family), expected
        )


class TestChunkedSources:
    """A .npy path, a memmap and a factory give one summary, batches and labels."""

    def test_summary_fields(self, tmp_path):
        X, w = _data()
        for kind, source in _chunked_sources(X, w, tmp_path).items():
            summary = source.summarize(100, np.random.RandomState(0))
            for name in SUMMARY_FIELDS:
                assert hasattr(summary, name), (kind, name)
            assert summary.sample_weight is None, kind  # the weights chose the rows
            assert (summary.n_samples, summary.n_features) == X.shape
            assert summary.sample.shape == (100, 3)
            np.testing.assert_array_equal(summary.sample, X[summary.sample_index])
            assert np.all(w[summary.sample_index] > 0)
            expected = ArraySource(X, w).summarize(0, np.random.RandomState(0))
            np.testing.assert_allclose(summary.mean, expected.mean, rtol=1e-12)
            np.testing.assert_allclose(
                summary.covariance, expected.covariance, rtol=1e-12, atol=1e-12
            )
            np.testing.assert_array_equal(summary.minimum, expected.minimum)

    def test_batches_cut_each_chunk_in_order(self, tmp_path):
        X, w = _data()
        for kind, source in _chunked_sources(X, w, tmp_path).items():
            source.summarize(100, np.random.RandomState(0))
            batches = list(source.batches(64, np.random.RandomState(0)))
            # 200-row chunks cut in 64, 64, 64 and 8 rows.
            assert [b.shape[0] for b, _ in batches[:4]] == [64, 64, 64, 8], kind
            np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), X)
            np.testing.assert_array_equal(np.concatenate([v for _, v in batches]), w)

    def test_labels(self, tmp_path):
        X, w = _data()
        params, family = _params(X, "diag")
        _, _, expected = estimate_log_prob_resp(X, params, family, want_resp=False)
        for source in _chunked_sources(X, w, tmp_path).values():
            source.summarize(100, np.random.RandomState(0))
            np.testing.assert_array_equal(source.labels(params, family), expected)

    def test_as_source_dispatch(self, tmp_path):
        X, w = _data()
        path = tmp_path / "x.npy"
        np.save(path, X)
        assert is_out_of_core(str(path))
        assert not is_out_of_core(X)
        assert isinstance(as_source(str(path), w, 2, "Owner"), ChunkedSource)
        source = ArraySource(X)
        assert as_source(source, None, 1, "Owner") is source
        with pytest.raises(ValueError, match="cannot be given with a data source"):
            as_source(source, w, 1, "Owner")


class TestDaskSource:
    """The dask source on dask's local scheduler: the same protocol."""

    @pytest.fixture
    def dask_array(self):
        return pytest.importorskip("dask.array")

    def test_protocol(self, dask_array):
        X, w = _data()
        Xd = dask_array.from_array(X, chunks=(200, 3))
        source = as_source(Xd, w, 1, "Owner")
        assert type(source).__name__ == "DaskSource"
        summary = source.summarize(100, np.random.RandomState(0))
        expected = ChunkedSource(lambda: iter([(X, w)])).summarize(
            100, np.random.RandomState(0)
        )
        for name in SUMMARY_FIELDS:
            assert hasattr(summary, name), name
        assert summary.sample_weight is None
        np.testing.assert_array_equal(summary.sample_index, expected.sample_index)
        np.testing.assert_array_equal(summary.sample, expected.sample)
        params, family = _params(X)
        _, _, labels = estimate_log_prob_resp(X, params, family, want_resp=False)
        np.testing.assert_array_equal(source.labels(params, family).compute(), labels)
        # No online EM on dask arrays: the error comes when the batches are asked for.
        with pytest.raises(ValueError, match="a dask array is fitted by batch EM"):
            source.batches(10, np.random.RandomState(0))

    def test_documented_names_are_the_sources(self, dask_array):
        import gaussmix.distributed.dask as public
        from gaussmix.sources import dask as home

        for name in ("DaskSource", "predict", "predict_proba", "score_samples"):
            assert getattr(public, name) is getattr(home, name)


def test_outofcore_names_are_the_sources():
    """gaussmix.outofcore (documented in docs/scale.md) re-exports the sources' names."""
    import gaussmix.outofcore as outofcore
    import gaussmix.sources as sources

    for name in outofcore.__all__:
        expected = "DataSource" if name == "OutOfCoreSource" else name
        assert getattr(outofcore, name) is getattr(sources, expected)


def test_importing_the_sources_does_not_import_dask():
    """The summary code and the dispatch never import Dask (a fresh interpreter)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import gaussmix.outofcore
        import gaussmix.sources
        import gaussmix.sources.base
        from gaussmix.sources import as_source, is_dask_array, is_out_of_core

        X = np.zeros((4, 2))
        as_source(lambda: iter([X]), None, 1, "x").summarize(2, np.random.RandomState(0))
        assert not is_dask_array(X) and not is_out_of_core(X)
        print(sorted(m for m in sys.modules if m == "dask" or m.startswith("dask.")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------- validation messages
SHARED_PHRASES = (
    "it must be 2-D",
    "Reshape your data",
    "it must hold numbers",
    "contains NaN or infinity in",
    "must be finite and",
    "pass a 1-D array with one weight per row",
)


def test_block_messages_are_written_once():
    """The 2-D block messages are in _validation.py only, not in the sources."""
    root = Path(gaussmix.__file__).parent
    files = [*sorted((root / "sources").glob("*.py")), root / "outofcore.py"]
    files += sorted((root / "distributed").glob("*.py"))
    for path in files:
        text = path.read_text()
        for phrase in SHARED_PHRASES:
            assert phrase not in text, (path.name, phrase)
    text = (root / "_validation.py").read_text()
    assert all(phrase in text for phrase in SHARED_PHRASES)


def _message(func):
    with pytest.raises(ValueError) as info:
        func()
    return str(info.value)


def test_one_wording_for_every_input_kind():
    """The same bad data as an array, a chunk and a dask array: one message."""
    from gaussmix import GaussianMixture

    flat = np.arange(10.0)
    array = _message(lambda: GaussianMixture(2).fit(flat))
    chunk = _message(lambda: GaussianMixture(2).fit(lambda: iter([flat])))
    assert array == (
        "GaussianMixture: X is a 1-D array of shape (10,); it must be 2-D "
        "(n_samples, n_features). Reshape your data: use X.reshape(-1, 1) if it has "
        "a single feature, or X.reshape(1, -1) if it is a single sample."
    )
    assert chunk == array.replace("X is", "chunk 0 is").replace("X.", "x.")
    text = np.array([["a", "b"]] * 4)
    chunk = _message(lambda: GaussianMixture(2).fit(lambda: iter([text])))
    assert chunk == (
        "GaussianMixture: chunk 0 has dtype <U1; it must hold numbers (float32 or "
        "float64, or integers, which are converted to float64)."
    )
    da = pytest.importorskip("dask.array")
    dask_1d = _message(lambda: GaussianMixture(2).fit(da.from_array(flat, chunks=5)))
    assert dask_1d == array.replace("X is", "the dask array is").replace("X.", "x.")
    dask_text = _message(lambda: GaussianMixture(2).fit(da.from_array(text, chunks=2)))
    assert dask_text == chunk.replace("chunk 0", "the dask array")
