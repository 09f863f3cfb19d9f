"""GaussianMixture on dask arrays (Dask's default scheduler, no cluster needed)."""

import numpy as np
import pytest

from gaussmix import GaussianMixture

da = pytest.importorskip("dask.array")


def data(n=4000, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=4, size=(3, 2))
    labels = rng.randint(3, size=n)
    return centres[labels] + rng.normal(size=(n, 2))


@pytest.fixture(scope="module")
def fitted():
    X = data()
    start = GaussianMixture(3, random_state=0).fit(X)
    kw = {
        "weights_init": start.weights_,
        "means_init": start.means_ + 0.2,
        "precisions_init": start.precisions_,
        "tol": 1e-8,
    }
    dX = da.from_array(X, chunks=700)
    return X, dX, GaussianMixture(3, **kw).fit(X), GaussianMixture(3, **kw).fit(dX)


def test_fit_on_a_dask_array_equals_the_numpy_fit(fitted):
    _, _, ref, got = fitted
    assert got.n_iter_ == ref.n_iter_
    for attr in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(got, attr), getattr(ref, attr), rtol=1e-10)


def test_predictions_are_lazy_and_equal(fitted):
    X, dX, _, gm = fitted
    for method in ("predict", "predict_proba", "score_samples"):
        lazy = getattr(gm, method)(dX)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(gm, method)(X), rtol=1e-12)
    assert gm.score(dX) == pytest.approx(gm.score(X), rel=1e-12)


def test_fit_predict_returns_lazy_labels(fitted):
    X, dX, _, _ = fitted
    labels = GaussianMixture(3, random_state=0).fit_predict(dX)
    assert isinstance(labels, da.Array)
    assert labels.shape == (X.shape[0],)


def test_wrong_number_of_features(fitted):
    _, _, _, gm = fitted
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is"):
        gm.predict(da.zeros((10, 3), chunks=5))


def test_online_needs_chunks_not_a_dask_array():
    dX = da.from_array(data(500), chunks=100)
    with pytest.raises(ValueError, match="a dask array is fitted by batch EM"):
        GaussianMixture(2, batch_size=50).fit(dX)
