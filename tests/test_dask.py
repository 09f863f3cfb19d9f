"""The Dask source: block statistics summed on a real two-process cluster.

Everything runs on one module-scoped ``distributed.LocalCluster`` (two worker
processes, one thread each, loopback only), so the statistics really cross
process boundaries and the parameters really travel through the scheduler.
"""

import dataclasses
import importlib
import math
import os
import signal
import sys
import time
import tracemalloc

import numpy as np
import pytest

dask = pytest.importorskip("dask")
pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from distributed import Client, LocalCluster  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from gaussmix.core.covariance import get_family  # noqa: E402
from gaussmix.core.estep import e_step, estimate_log_prob_resp, stats_from_resp  # noqa: E402
from gaussmix.core.mstep import m_step  # noqa: E402
from gaussmix.distributed.dask import (  # noqa: E402
    DaskSource,
    predict,
    predict_proba,
    score_samples,
)
from gaussmix.em import fit_em  # noqa: E402
from gaussmix.sources import ArraySource, SummaryBuilder  # noqa: E402

#: Block statistics are the in-memory ones up to the order of the sums.
STATS_RTOL = 1e-12
#: A whole fit: rounding differences grow slightly over the iterations.
FIT_RTOL = 1e-10
FAMILY_NAMES = ["full", "tied", "diag", "spherical", "VEV"]
N_ROWS = 6000
BLOCK_ROWS = 700  # 9 blocks, the last one short: two levels of the tree at fan-in 4


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, on loopback, no dashboard."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def data():
    """Three blobs in three features, weights with some zeros."""
    X, _ = make_blobs(n_samples=N_ROWS, n_features=3, centers=3, random_state=7)
    w = np.random.default_rng(3).uniform(0.2, 3.0, size=N_ROWS)
    w[::97] = 0.0
    return X, w


@pytest.fixture(scope="module")
def persisted(client, data):
    """The data and weights persisted on the cluster."""
    X, w = data
    Xd = da.from_array(X, chunks=(BLOCK_ROWS, 3)).persist()
    wd = da.from_array(w, chunks=BLOCK_ROWS).persist()
    client.wait_for_workers(2)
    return Xd, wd


def _start(X, family, n_components, seed, w=None, noise=False):
    """Parameters from random responsibilities (optionally with a noise term)."""
    rng = np.random.default_rng(seed)
    resp = rng.uniform(size=(X.shape[0], n_components))
    resp /= resp.sum(axis=1, keepdims=True)
    shift = np.average(X, axis=0, weights=w)
    stats = stats_from_resp(X, resp, family, n_components, shift, w)
    params, _ = m_step(stats, family, 1e-6)
    if noise:
        volume = float(np.prod(X.max(axis=0) - X.min(axis=0)))
        params = dataclasses.replace(
            params,
            weights=params.weights * 0.9,
            noise_weight=0.1,
            noise_log_density=-math.log(volume),
        )
    return params


def _assert_stats_close(a, b, rtol=STATS_RTOL):
    assert type(a) is type(b)
    assert a.n_samples == b.n_samples
    np.testing.assert_array_equal(a.shift, b.shift)
    for name in ("nk", "sx", "sxx"):
        x, y = getattr(a, name), getattr(b, name)
        scale = max(float(np.max(np.abs(y))), 1.0)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert a.loglik == pytest.approx(b.loglik, rel=rtol)
    assert a.weight == pytest.approx(b.weight, rel=rtol)
    if hasattr(b, "noise"):
        assert a.noise == pytest.approx(b.noise, rel=rtol)


def _assert_params_close(a, b, rtol=FIT_RTOL):
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        x, y = getattr(a, name), getattr(b, name)
        scale = float(np.max(np.abs(y)))
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert a.noise_weight == pytest.approx(b.noise_weight, rel=rtol, abs=1e-300)


# ----------------------------------------------------------------- E-step
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_accumulate_equals_e_step(persisted, data, name, weighted):
    """One pass on the cluster gives the in-memory statistics (rtol 1e-12)."""
    X, w = data
    Xd, wd = persisted
    w = w if weighted else None
    family = get_family(name)
    params = _start(X, family, 3, seed=1, w=w)
    source = DaskSource(Xd, wd if weighted else None, split_every=4)
    _assert_stats_close(source.accumulate(params, family), e_step(X, params, family, w))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_accumulate_with_noise(persisted, data, weighted):
    """With a noise component the noise mass is summed too (NoiseStats)."""
    X, w = data
    Xd, _ = persisted
    w = w if weighted else None
    family = get_family("full")
    params = _start(X, family, 3, seed=2, w=w, noise=True)
    source = DaskSource(Xd, w)  # numpy weights: rechunked like X
    _assert_stats_close(source.accumulate(params, family), e_step(X, params, family, w))


def test_workers_allocator_is_tuned(client, persisted, data):
    """Nanny workers (MALLOC_TRIM_THRESHOLD_ set) get their mmap threshold raised."""
    X, _ = data
    Xd, _ = persisted
    family = get_family("spherical")
    DaskSource(Xd).accumulate(_start(X, family, 2, seed=0), family)
    tuned = client.run(
        lambda: importlib.import_module("gaussmix.sources.dask")._malloc_tuned
    )
    assert any(tuned.values())


def test_default_scheduler_without_client(data, monkeypatch):
    """Without a distributed client the graph runs on dask's local scheduler."""
    import gaussmix.sources.dask as module

    X, w = data
    monkeypatch.setattr(module, "_default_client", lambda: None)
    family = get_family("diag")
    params = _start(X, family, 3, seed=3)
    source = DaskSource(da.from_array(X, chunks=(1000, 2)), w)  # column blocks merged
    with dask.config.set(scheduler="threads"):
        stats = source.accumulate(params, family)
    _assert_stats_close(stats, e_step(X, params, family, w))


# ----------------------------------------------------------------- fits
@pytest.mark.parametrize(
    ("name", "weighted", "noise"),
    [("full", False, False), ("VEV", True, False), ("diag", True, True)],
)
def test_fit_equals_in_memory_fit(persisted, data, name, weighted, noise):
    """fit_em over the cluster equals fit_em over the array (same n_iter)."""
    X, w = data
    Xd, wd = persisted
    w = w if weighted else None
    family = get_family(name)
    params0 = _start(X, family, 3, seed=4, w=w, noise=noise)
    options = {"tol": 1e-9, "max_iter": 30, "reg_covar": 1e-6}
    expected = fit_em(ArraySource(X, w), params0, get_family(name), **options)
    got = fit_em(DaskSource(Xd, wd if weighted else None), params0, family, **options)
    assert got.n_iter == expected.n_iter
    assert got.converged == expected.converged
    np.testing.assert_allclose(got.lower_bounds, expected.lower_bounds, rtol=FIT_RTOL)
    _assert_params_close(got.params, expected.params)


def test_worker_killed_during_fit(client, data):
    """A worker killed after iteration 2 costs a recomputation, not the fit."""
    X, _ = data
    Xd = da.from_array(X, chunks=(BLOCK_ROWS, 3)).persist()
    client.wait_for_workers(2)
    family = get_family("full")
    params0 = _start(X, family, 3, seed=5)
    options = {"tol": 0.0, "max_iter": 6, "reg_covar": 1e-6}
    killed = []

    blocks = {key for key in Xd.__dask_keys__() for key in key}

    def kill_after_second(n_iter, lower_bound, change):
        if n_iter == 2:
            pids = client.run(os.getpid)
            holders = {a for a, keys in client.has_what().items() if blocks & set(keys)}
            address = sorted(holders)[0]  # a worker holding blocks of X
            os.kill(pids[address], signal.SIGKILL)
            killed.append(pids[address])

    expected = fit_em(ArraySource(X), params0, family, **options)
    got = fit_em(DaskSource(Xd), params0, family, callback=kill_after_second, **options)
    assert killed
    assert got.n_iter == expected.n_iter == 6
    _assert_params_close(got.params, expected.params)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for later tests
    assert killed[0] not in client.run(os.getpid).values()


def test_persisted_data_stay_on_the_workers(client):
    """A fit on ~100 MB persisted on the cluster allocates ~nothing on the client.

    The scheduler runs in this process too (LocalCluster), so tracemalloc sees
    any data that would pass through it or through the client.
    """
    X = da.random.RandomState(0).standard_normal((1_600_000, 8), chunks=(200_000, 8))
    X = X.persist()
    client.wait_for_workers(2)
    family = get_family("diag")
    head = X[:2000].compute()
    params0 = _start(head, family, 2, seed=6)
    source = DaskSource(X)
    tracemalloc.start()
    try:
        result = fit_em(source, params0, family, tol=0.0, max_iter=2, reg_covar=1e-6)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.n_iter == 2
    assert np.isfinite(result.lower_bound)
    assert X.nbytes > 100e6
    assert peak < X.nbytes / 50, (peak, X.nbytes)


# ----------------------------------------------------------------- summary
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_summary_equals_summary_builder(persisted, data, weighted):
    """Same moments, bounds, sample and generator state as the chunked builder."""
    X, w = data
    Xd, wd = persisted
    w = w if weighted else None
    got_state = np.random.RandomState(11)
    got = DaskSource(Xd, wd if weighted else None, split_every=3).summarize(
        250, got_state
    )
    expected_state = np.random.RandomState(11)
    builder = SummaryBuilder(250, expected_state, "test")
    for i, start in enumerate(range(0, N_ROWS, BLOCK_ROWS)):
        stop = start + BLOCK_ROWS
        builder.add(X[start:stop], None if w is None else w[start:stop], i)
    expected = builder.result()
    assert got.n_samples == expected.n_samples
    assert got.n_features == expected.n_features
    assert got.dtype == expected.dtype
    assert got.weight == pytest.approx(expected.weight, rel=1e-14)
    np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-14)
    np.testing.assert_allclose(got.covariance, expected.covariance, rtol=1e-12)
    np.testing.assert_array_equal(got.minimum, expected.minimum)
    np.testing.assert_array_equal(got.maximum, expected.maximum)
    np.testing.assert_array_equal(got.sample_index, expected.sample_index)
    np.testing.assert_array_equal(got.sample, expected.sample)
    assert got_state.random_sample() == expected_state.random_sample()


def test_summary_converts_integers(client):
    """Integer data are fitted as float64."""
    X = np.arange(60).reshape(20, 3)
    summary = DaskSource(da.from_array(X, chunks=(7, 3))).summarize(
        5, np.random.RandomState(0)
    )
    assert summary.dtype == np.float64
    np.testing.assert_allclose(summary.mean, X.mean(axis=0))
    assert summary.sample.shape == (5, 3)


# ----------------------------------------------------------------- predictions
@pytest.mark.parametrize("noise", [False, True], ids=["gaussian", "noise"])
def test_lazy_predictions_equal_numpy(persisted, data, noise):
    """predict, predict_proba and score_samples are lazy and equal the NumPy ones."""
    X, _ = data
    Xd, _ = persisted
    family = get_family("full")
    params = _start(X, family, 3, seed=8, noise=noise)
    log_norm, resp, labels = estimate_log_prob_resp(X, params, family)
    lazy = {
        "labels": predict(Xd, params, family),
        "proba": predict_proba(Xd, params, family),
        "score": score_samples(Xd, params, family),
        "source": DaskSource(Xd).labels(params, family),
    }
    for value in lazy.values():
        assert isinstance(value, da.Array)
    assert lazy["proba"].shape == (N_ROWS, 3 + noise)
    got = dict(zip(lazy, dask.compute(*lazy.values()), strict=True))
    np.testing.assert_array_equal(got["labels"], labels)
    np.testing.assert_array_equal(got["source"], labels)
    np.testing.assert_allclose(got["proba"], resp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got["score"], log_norm, rtol=1e-12)
    if noise:
        assert (got["labels"] == -1).any()


@pytest.mark.parametrize(
    "function", [predict, predict_proba, score_samples], ids=lambda f: f.__name__
)
def test_lazy_predictions_are_named_and_documented(function):
    """Each lazy prediction has its own name, ``owner`` default and filled docstring."""
    import inspect

    name = function.__name__
    assert function.__qualname__ == name
    assert function.__module__ == "gaussmix.sources.dask"
    signature = inspect.signature(function)
    assert list(signature.parameters) == [
        "X",
        "params",
        "family",
        "owner",
        "nan_policy",
    ]
    assert signature.parameters["owner"].default == name
    assert signature.parameters["nan_policy"].default is None
    doc = function.__doc__
    assert "{{" not in doc
    assert "nan_policy : " in doc
    assert "Returns" in doc


def test_predict_with_unknown_chunks(client, data):
    """Predictions do not need known row counts (e.g. after boolean indexing)."""
    X, _ = data
    Xd = da.from_array(X, chunks=(BLOCK_ROWS, 3))
    selected = Xd[Xd[:, 0] > 0]
    family = get_family("diag")
    params = _start(X, family, 3, seed=9)
    got = predict(selected, params, family).compute()
    _, _, expected = estimate_log_prob_resp(X[X[:, 0] > 0], params, family)
    np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------- errors
def test_one_dimensional_input_is_refused():
    with pytest.raises(ValueError, match=r"2-D.*reshape\(-1, 1\)"):
        DaskSource(da.ones(10, chunks=5))


def test_non_numeric_input_is_refused():
    with pytest.raises(ValueError, match="must hold numbers"):
        DaskSource(da.from_array(np.array([["a", "b"]] * 4), chunks=2))


def test_unknown_chunk_sizes_are_refused(data):
    X, _ = data
    Xd = da.from_array(X, chunks=(BLOCK_ROWS, 3))
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        DaskSource(Xd[Xd[:, 0] > 0])


def test_weights_of_wrong_length_are_refused(data):
    X, w = data
    with pytest.raises(ValueError, match="one weight per row"):
        DaskSource(da.from_array(X, chunks=(BLOCK_ROWS, 3)), w[:-1])


def test_nan_block_is_named_on_the_client(client, data):
    """NaN found by a worker is a ValueError on the client naming the block."""
    X, _ = data
    X = X.copy()
    X[3 * BLOCK_ROWS + 5, 1] = np.nan
    source = DaskSource(da.from_array(X, chunks=(BLOCK_ROWS, 3)).persist())
    with pytest.raises(ValueError, match=r"block 3 .*NaN or infinity.*row 2105"):
        source.summarize(100, np.random.RandomState(0))


def test_negative_weight_is_refused(client, data):
    X, w = data
    w = w.copy()
    w[10] = -1.0
    source = DaskSource(da.from_array(X, chunks=(BLOCK_ROWS, 3)), w)
    with pytest.raises(ValueError, match=r"block 0 .*non-negative"):
        source.summarize(100, np.random.RandomState(0))


def test_missing_dask_gives_an_install_hint(monkeypatch):
    """Without dask, importing the source explains how to install the extra."""
    monkeypatch.delitem(sys.modules, "gaussmix.distributed.dask", raising=False)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install 'gaussmix\[dask\]'"):
        importlib.import_module("gaussmix.distributed.dask")


def test_package_is_lazy():
    import gaussmix.distributed as package

    assert package.DaskSource is DaskSource
    with pytest.raises(AttributeError):
        package.nothing  # noqa: B018


@pytest.mark.slow
def test_larger_fit_with_weights_and_many_blocks(client):
    """Many small blocks (three tree levels) over a longer fit."""
    X, _ = make_blobs(n_samples=100_000, n_features=5, centers=4, random_state=1)
    w = np.random.default_rng(0).uniform(0.0, 2.0, size=X.shape[0])
    Xd = da.from_array(X.astype(np.float32), chunks=(1000, 5)).persist()
    family = get_family("full")
    params0 = _start(X.astype(np.float32), family, 4, seed=0, w=w)
    options = {"tol": 1e-8, "max_iter": 50, "reg_covar": 1e-6, "dtype": np.float32}
    start = time.perf_counter()
    got = fit_em(DaskSource(Xd, w), params0, family, **options)
    expected = fit_em(ArraySource(X.astype(np.float32), w), params0, family, **options)
    assert time.perf_counter() - start < 600
    assert got.n_iter == expected.n_iter
    # float32 log-densities: the products' rounding depends on the block edges.
    _assert_params_close(got.params, expected.params, rtol=1e-6)
