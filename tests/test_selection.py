"""``gaussmix.select``: the grid, the table, the criteria and failed fits."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import gaussmix
from gaussmix import GaussianMixture, select
from gaussmix.selection import COLUMNS


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(300, centers=3, random_state=0)
    return X


def test_table_matches_individual_fits(blobs):
    """Every record equals a separate fit with the same settings (rtol 1e-12)."""
    best, table = select(blobs, range(1, 5), "sklearn", random_state=0)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 16
    for rec in table.to_dict("records"):
        gm = GaussianMixture(
            rec["n_components"], covariance_type=rec["covariance_type"], random_state=0
        ).fit(blobs)
        assert rec["bic"] == pytest.approx(gm.bic(blobs), rel=1e-12)
        assert rec["aic"] == pytest.approx(gm.aic(blobs), rel=1e-12)
        assert rec["log_likelihood"] == pytest.approx(
            gm.score(blobs) * len(blobs), rel=1e-12
        )
        assert rec["n_parameters"] == gm._n_parameters()
        assert rec["icl"] >= rec["bic"]
    i = int(np.argmin(table["bic"].to_numpy()))
    assert best.n_components == table["n_components"][i] == 3
    assert best.covariance_type == table["covariance_type"][i]


@pytest.mark.parametrize("criterion", ["aic", "bic", "icl"])
def test_best_is_the_minimum_of_the_criterion(blobs, criterion):
    """The returned model has the lowest value of the chosen criterion."""
    best, table = select(blobs, [2, 3, 4], "full", criterion, random_state=1)
    i = int(np.argmin(table[criterion].to_numpy()))
    assert best.n_components == table["n_components"][i]


def test_failed_fits_are_marked_not_raised():
    """More components than samples: that row has an error and NaN criteria."""
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    best, table = select(X, range(1, 6), "diag", random_state=0)
    errors = table["error"].to_numpy()
    assert errors[3].startswith("ValueError")
    assert errors[4].startswith("ValueError")
    assert np.isnan(table["bic"].to_numpy()[3:]).all()
    assert best is not None
    assert best.n_components <= 3


def test_structured_array_without_pandas(blobs, monkeypatch):
    """Without pandas the table is a NumPy structured array with the same columns."""
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    _, table = select(blobs, [1, 2], "spherical", random_state=0)
    assert isinstance(table, np.ndarray)
    assert table.dtype.names == COLUMNS
    assert table["covariance_type"].tolist() == ["spherical", "spherical"]


def test_bad_options(blobs):
    """Unknown criterion, unknown type, and parameters select owns."""
    with pytest.raises(ValueError, match="criterion"):
        select(blobs, [1], criterion="hqc")
    with pytest.raises(ValueError, match="covariance_type"):
        select(blobs, [1], "banana")
    with pytest.raises(TypeError, match="'covariance_type' is set by select"):
        select(blobs, [1], covariance_type="full")
    with pytest.raises(ValueError, match="at least one"):
        select(blobs, [])
    with pytest.raises(ValueError, match="NaN"):
        select(np.array([[np.nan, 1.0]] * 5), [1])


def test_progress_callback(blobs):
    """The callback sees every record once (in the order the fits finish)."""
    seen = []
    _, table = select(blobs, [1, 2], ["full", "tied"], progress=seen.append)
    assert sorted((r["n_components"], r["covariance_type"]) for r in seen) == sorted(
        zip(table["n_components"], table["covariance_type"], strict=True)
    )


@pytest.mark.parametrize("seed", [0, "rs"])
def test_parallel_equals_serial(blobs, seed):
    """n_jobs=2 gives the same table and best model as n_jobs=1, bit for bit."""

    def rs():
        return np.random.RandomState(7) if seed == "rs" else seed

    best1, t1 = select(blobs, [1, 2, 3], "sklearn", n_jobs=1, random_state=rs())
    best2, t2 = select(blobs, [1, 2, 3], "sklearn", n_jobs=2, random_state=rs())
    for column in ("log_likelihood", "aic", "bic", "icl", "n_iter"):
        np.testing.assert_array_equal(t1[column].to_numpy(), t2[column].to_numpy())
    np.testing.assert_array_equal(best1.means_, best2.means_)


def test_exported():
    assert gaussmix.select is select


class TestGaussianMixtureIC:
    """The estimator that selects K and the covariance type in fit."""

    def test_fits_the_best_of_select(self, blobs):
        est = gaussmix.GaussianMixtureIC(range(1, 5), "sklearn", random_state=0).fit(
            blobs
        )
        best, table = select(blobs, range(1, 5), "sklearn", random_state=0)
        assert est.n_components_ == best.n_components == 3
        assert est.covariance_type_ == best.covariance_type
        np.testing.assert_array_equal(est.means_, best.means_)
        np.testing.assert_array_equal(est.predict(blobs), best.predict(blobs))
        np.testing.assert_array_equal(
            est.table_["bic"].to_numpy(), table["bic"].to_numpy()
        )
        assert est.score(blobs) == pytest.approx(best.score(blobs))
        assert est.bic(blobs) == pytest.approx(best.bic(blobs))

    def test_pipeline_clone_and_grid_search(self, blobs):
        from sklearn.base import clone
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        est = gaussmix.GaussianMixtureIC(range(1, 4), "full", random_state=0)
        pipe = make_pipeline(StandardScaler(), est).fit(blobs)
        assert pipe.predict(blobs).shape == (len(blobs),)
        assert clone(est).get_params() == est.get_params()
        search = GridSearchCV(est, {"criterion": ["bic", "aic"]}, cv=3).fit(blobs)
        assert search.best_params_["criterion"] in ("bic", "aic")

    def test_unfitted_and_all_failed(self):
        from sklearn.exceptions import NotFittedError

        with pytest.raises(NotFittedError):
            gaussmix.GaussianMixtureIC().predict([[0.0, 0.0]])
        X = np.array([[0.0, 1.0], [1.0, 0.0]])
        with pytest.raises(ValueError, match="every fit of the grid failed"):
            gaussmix.GaussianMixtureIC([5, 6], "full").fit(X)


def test_fits_that_needed_a_repair_are_not_selected():
    """A repaired (degenerate) fit gets NaN criteria and a 'degenerate' note."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(40, 2)), np.repeat([[5.0, 5.0]], 6, axis=0)])
    best, table = select(X, [1, 2, 3, 6], "full", random_state=0, reg_covar=0.0)
    errors = table["error"].to_numpy()
    degenerate = np.array([e.startswith("degenerate:") for e in errors])
    assert degenerate.any()
    assert np.isnan(table["bic"].to_numpy()[degenerate]).all()
    assert np.isfinite(table["log_likelihood"].to_numpy()[degenerate]).all()
    assert best is not None
    ok = table[~degenerate]
    assert best.n_components == ok["n_components"].to_numpy()[np.argmin(ok["bic"])]
