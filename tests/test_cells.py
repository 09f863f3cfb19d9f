"""Quick cells of a selection grid (gaussmix.cells) against the estimator's fits.

On small data ``select`` computes a cell without building a
``GaussianMixture`` (:func:`gaussmix.cells.grid_cell`) when the kernels are
loaded; the selected cell is then fitted again through the estimator. The
whole table must be the estimator's: the same counts and flags, the
log-likelihood and the criteria within 1e-10 relative (the same computation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from sklearn.datasets import load_iris

from gaussmix import GaussianMixture, select, selection
from gaussmix.cells import grid_cell
from gaussmix.core import kernels

NUMBERS = ["log_likelihood", "aic", "bic", "icl"]
EXACT = ["n_components", "covariance_type", "n_parameters", "converged", "n_iter"]


@pytest.fixture(autouse=True, scope="module")
def _loaded() -> None:
    assert kernels.load()


def _faithful_like(n: int = 272, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([2.0, 54.0], [[0.07, 0.4], [0.4, 34.0]], n // 3)
    b = rng.multivariate_normal([4.3, 80.0], [[0.17, 0.9], [0.9, 35.0]], n - n // 3)
    return np.vstack([a, b])


def _select(X, quick: bool, monkeypatch, ks=range(1, 7), types="all", **kw):
    calls: list[bool] = []

    def spy(*args):
        found = grid_cell(*args) if quick else None
        calls.append(found is not None)
        return found

    with monkeypatch.context() as m:
        m.setattr(selection, "grid_cell", spy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best, table = select(X, ks, types, n_jobs=1, **kw)
    return best, table, calls


@pytest.mark.parametrize("data", ["iris", "faithful"])
def test_table_is_the_estimators(data: str, monkeypatch) -> None:
    X = load_iris().data if data == "iris" else _faithful_like()
    best, table, calls = _select(X, True, monkeypatch)
    ref_best, ref, _ = _select(X, False, monkeypatch)
    assert sum(calls) > len(calls) // 2  # most cells went the quick way
    _assert_same_table(table, ref)
    assert isinstance(best, GaussianMixture)
    assert (best.covariance_type, best.n_components) == (
        ref_best.covariance_type,
        ref_best.n_components,
    )
    np.testing.assert_allclose(best.means_, ref_best.means_, rtol=1e-10)
    assert best.bic(X) == pytest.approx(ref_best.bic(X), rel=1e-12)


def _first_repair(error: str) -> str:
    """The first repair of a 'degenerate: ...' error, up to when it happened."""
    for when in (" at initialisation", " at iteration "):
        if when in error:
            head, _, tail = error.partition(when)
            return head + when + tail.split(" ")[0].split(".")[0]
    return error


def _assert_same_table(table, ref) -> None:
    """The estimator's table, except that degenerate cells stop at their first repair."""
    degenerate = [e.startswith("degenerate") for e in ref["error"]]
    assert [e.startswith("degenerate") for e in table["error"]] == degenerate
    for i, stopped in enumerate(degenerate):
        if not stopped:
            assert table["error"][i] == ref["error"][i]
            for column in EXACT:
                assert table[column][i] == ref[column][i], (i, column)
            for column in NUMBERS:
                assert table[column][i] == pytest.approx(ref[column][i], rel=1e-10)
            continue
        assert _first_repair(table["error"][i]) == _first_repair(ref["error"][i])
        for column in ["aic", "bic", "icl"]:
            assert np.isnan(table[column][i])
        assert not table["converged"][i]
        for column in ["n_components", "covariance_type", "n_parameters"]:
            assert table[column][i] == ref[column][i], (i, column)
        # It stopped at the iteration of its first repair (0: the first M-step).
        when = _first_repair(table["error"][i]).rsplit(" ", 1)[-1]
        stop = 0 if when == "initialisation" else int(when)
        assert table["n_iter"][i] == stop
        assert stop <= ref["n_iter"][i]
        assert np.isnan(table["log_likelihood"][i]) == (stop == 0)


def test_degenerate_cells_stop_at_the_first_repair(monkeypatch) -> None:
    """A cell that needs a repair stops there, with the estimator's first repair.

    The estimator's fit goes on after the repair (and counts the later ones);
    the quick cell stops at the same first repair, at the same iteration, as
    mclust stops at a singular covariance. Both have no criteria, and the
    other cells are the estimator's.
    """
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(40, 2)), np.tile([[6.0, 6.0]], (3, 1))])
    _, table, calls = _select(X, True, monkeypatch, ks=range(1, 8))
    _, ref, _ = _select(X, False, monkeypatch, ks=range(1, 8))
    assert any(e.startswith("degenerate") for e in ref["error"])
    assert all(calls)  # every cell went the quick way
    _assert_same_table(table, ref)


def test_degenerate_cell_log_likelihood_is_the_estimators_at_the_stop() -> None:
    """The stopped cell's log-likelihood: the estimator's fit run to that iteration."""
    X = load_iris().data  # VEE and EVV with 5 components collapse late
    checked = 0
    for k in (5, 6):
        for t in ("VEE", "EVV"):
            record = grid_cell(X, k, t, {})
            assert record is not None
            if not record["error"] or record["n_iter"] < 2:
                continue
            stop = record["n_iter"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = GaussianMixture(k, covariance_type=t, max_iter=stop - 1)
                model.fit(X)
            # The stop's E-step: under the parameters after iteration stop - 1.
            expected = float(np.sum(model.score_samples(X)))
            assert record["log_likelihood"] == pytest.approx(expected, rel=1e-10)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    "options",
    [
        {"n_init": 2},
        {"init_params": "kmeans"},
        {"prior": True},
        {"verbose": 1},
    ],
)
def test_other_options_are_the_estimators(options) -> None:
    X = load_iris().data
    assert grid_cell(X, 3, "VVV", options) is None


def test_sklearn_names_and_float32_are_the_estimators() -> None:
    X = load_iris().data
    assert grid_cell(X, 3, "full", {}) is None  # scikit-learn's k-means start
    assert grid_cell(X.astype(np.float32), 3, "VVV", {}) is None
    record = grid_cell(X, 3, "VVV", {})
    assert record is not None
    assert record["error"] == ""
