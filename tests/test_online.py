"""Online (stepwise) EM: partial_fit and fit(batch_size=...)."""

import re

import numpy as np
import pytest
from sklearn.base import clone

from gaussmix import GaussianMixture
from gaussmix.em import step_size

MEANS = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
SCALES = np.array([1.0, 2.0, 0.5])


def draw(n, rng, means=MEANS):
    labels = rng.randint(3, size=n)
    return means[labels] + rng.normal(size=(n, 2)) * SCALES[labels, None]


def matched_gap(a, b):
    """Largest mean difference after matching components by nearest mean."""
    order = [int(np.argmin(((b - m) ** 2).sum(axis=1))) for m in a]
    return float(np.max(np.abs(a - b[order])))


@pytest.fixture(scope="module")
def data_and_batch_fit():
    X = draw(60_000, np.random.RandomState(0))
    batch = GaussianMixture(3, random_state=0, tol=1e-8, max_iter=500).fit(X)
    return X, batch


@pytest.mark.parametrize("cov", ["full", "diag", "spherical", "tied"])
def test_fit_with_batch_size_reaches_the_batch_solution(data_and_batch_fit, cov):
    X, _ = data_and_batch_fit
    batch = GaussianMixture(3, covariance_type=cov, random_state=0, tol=1e-8).fit(X)
    online = GaussianMixture(
        3, covariance_type=cov, random_state=0, batch_size=1000, max_iter=30, tol=1e-5
    ).fit(X)
    assert online.converged_
    # Measured gaps: 9e-6 to 2e-5 nats per sample.
    assert batch.score(X) - online.score(X) < 1e-3
    assert matched_gap(online.means_, batch.means_) < 0.05


def test_partial_fit_stream_reaches_the_batch_solution(data_and_batch_fit):
    X, batch = data_and_batch_fit
    gm = GaussianMixture(3, random_state=0)
    for _ in range(3):
        for lo in range(0, X.shape[0], 500):
            gm.partial_fit(X[lo : lo + 500])
    assert gm.n_iter_ == 3 * 120
    assert len(gm.lower_bounds_) == gm.n_iter_
    assert not gm.converged_
    assert batch.score(X) - gm.score(X) < 1e-3  # measured 1.6e-4
    assert matched_gap(gm.means_, batch.means_) < 0.05


def test_partial_fit_tracks_a_drifting_source():
    """Means follow a source that moves 4 units over the stream."""
    rng = np.random.RandomState(1)
    gm = GaussianMixture(3, random_state=0, learning_decay=0.51, learning_offset=1.0)
    n_batches = 400
    shift = np.array([4.0, 0.0])
    for t in range(n_batches):
        means = MEANS + shift * t / (n_batches - 1)
        gm.partial_fit(draw(400, rng, means))
    final = MEANS + shift
    gap = matched_gap(gm.means_, final)
    # A batch fit on the whole stream would sit about half-way (gap about 2).
    stream = np.vstack(
        [draw(400, rng, MEANS + shift * t / (n_batches - 1)) for t in range(n_batches)]
    )
    batch = GaussianMixture(3, random_state=0).fit(stream)
    assert gap < 0.6, gap
    assert matched_gap(batch.means_, final) > 1.5


def test_step_size_schedule():
    assert step_size(0, 10.0, 0.7) == 1.0
    assert step_size(5, 10.0, 0.7) == pytest.approx(15.0**-0.7)
    gm = GaussianMixture(2, learning_offset=3.0, learning_decay=1.0, random_state=0)
    X = draw(300, np.random.RandomState(2))
    gm.partial_fit(X[:100]).partial_fit(X[100:200])
    assert gm._online_state.n_steps == 2


def test_integer_weights_equal_repeated_rows():
    rng = np.random.RandomState(3)
    X = draw(600, rng)
    w = rng.randint(1, 4, size=600)
    start = GaussianMixture(3, random_state=0).fit(X)
    kw = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }
    a, b = GaussianMixture(3, **kw), GaussianMixture(3, **kw)
    for lo in range(0, 600, 200):
        a.partial_fit(X[lo : lo + 200], sample_weight=w[lo : lo + 200])
        b.partial_fit(np.repeat(X[lo : lo + 200], w[lo : lo + 200], axis=0))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-11)


def test_partial_fit_continues_a_batch_fit(data_and_batch_fit):
    X, batch = data_and_batch_fit
    gm = clone(batch).fit(X)
    before = gm.means_.copy()
    gm.partial_fit(X[:5000])
    assert gm.n_iter_ == 1
    assert matched_gap(gm.means_, before) < 0.1


def test_online_on_a_chunk_factory(tmp_path, data_and_batch_fit):
    X, batch = data_and_batch_fit
    path = tmp_path / "x.npy"
    np.save(path, X)
    gm = GaussianMixture(3, random_state=0, batch_size=2000, max_iter=30, tol=1e-5)
    gm.fit(str(path))
    assert batch.score(X) - gm.score(X) < 1e-3


def test_dask_ml_incremental():
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X = draw(20_000, np.random.RandomState(4))
    dX = da.from_array(X, chunks=1000)
    inc = wrappers.Incremental(GaussianMixture(3, random_state=0), scoring=None)
    inc.fit(dX)
    fitted = inc.estimator_
    assert fitted.n_iter_ == 20
    assert matched_gap(fitted.means_, MEANS) < 0.2


class TestErrors:
    def test_first_batch_too_small(self):
        with pytest.raises(ValueError, match="needs at least n_components = 3 rows"):
            GaussianMixture(3).partial_fit(np.zeros((2, 2)))

    def test_features_change(self):
        gm = GaussianMixture(2).partial_fit(draw(50, np.random.RandomState(0)))
        with pytest.raises(ValueError, match="features"):
            gm.partial_fit(np.zeros((5, 3)))

    @pytest.mark.parametrize(
        ("param", "value"), [("prior", "default"), ("resp_init", np.ones((5, 2)))]
    )
    def test_unsupported_options(self, param, value):
        msg = f"{param} is not supported by online EM"
        with pytest.raises(ValueError, match=re.escape(msg)):
            GaussianMixture(2, **{param: value}).partial_fit(np.zeros((5, 2)))
        with pytest.raises(ValueError, match=re.escape(msg)):
            GaussianMixture(2, batch_size=2, **{param: value}).fit(
                draw(50, np.random.RandomState(0))
            )

    def test_noise_unsupported(self):
        with pytest.raises(ValueError, match="noise component is not supported by"):
            GaussianMixture(2, noise=True).partial_fit(np.zeros((5, 2)))

    def test_nan_batch(self):
        X = draw(50, np.random.RandomState(0))
        X[3, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            GaussianMixture(2).partial_fit(X)


def test_example_13_out_of_core_online_dask(tmp_path):
    """examples/13_out_of_core_online_dask.py at --small sizes: its claims hold."""
    import contextlib
    import importlib.util
    import io
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    path = Path(__file__).resolve().parents[1] / "examples"
    path = path / "13_out_of_core_online_dask.py"
    spec = importlib.util.spec_from_file_location("example_13", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with contextlib.redirect_stdout(io.StringIO()):
        result = module.main(["--small", "--out", str(tmp_path)])
    assert result["ooc_vs_memory"] < 1e-10
    assert result["final_gap"] < 1.2  # the means moved by 3.6; they follow
    assert 0 <= result["online_gap"] < 2e-3
    if result["dask"] is not None:
        assert result["dask"]["dask_vs_memory"] < 1e-10
        assert result["dask"]["lazy_predict"]
    assert Path(result["figures"][0]).stat().st_size > 10_000
