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
    for column in [*EXACT, "error"]:
        assert list(table[column]) == list(ref[column]), column
    for column in NUMBERS:
        np.testing.assert_allclose(
            np.asarray(table[column], dtype=float),
            np.asarray(ref[column], dtype=float),
            rtol=1e-10,
            err_msg=column,
        )
    assert isinstance(best, GaussianMixture)
    assert (best.covariance_type, best.n_components) == (
        ref_best.covariance_type,
        ref_best.n_components,
    )
    np.testing.assert_allclose(best.means_, ref_best.means_, rtol=1e-10)
    assert best.bic(X) == pytest.approx(ref_best.bic(X), rel=1e-12)


def test_degenerate_cells_are_the_estimators(monkeypatch) -> None:
    """A cell that needs a repair gets the estimator's 'degenerate' record."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(40, 2)), np.tile([[6.0, 6.0]], (3, 1))])
    _, table, calls = _select(X, True, monkeypatch, ks=range(1, 8))
    _, ref, _ = _select(X, False, monkeypatch, ks=range(1, 8))
    assert list(table["error"]) == list(ref["error"])
    degenerate = [e.startswith("degenerate") for e in ref["error"]]
    assert any(degenerate)
    # The degenerate cells were quick ones (the repairs ran in fit_em).
    assert all(c for c, d in zip(calls, degenerate, strict=True) if d)
    for column in ["n_iter", "converged", "n_parameters"]:
        assert list(table[column]) == list(ref[column]), column
    np.testing.assert_allclose(
        np.asarray(table["log_likelihood"], dtype=float),
        np.asarray(ref["log_likelihood"], dtype=float),
        rtol=1e-10,
    )


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
