"""The compiled merge loop of ``hc`` (gaussmix.core._compiled_hc) against NumPy's.

``hc`` runs its merges compiled by numba when numba is installed and NumPy's
loop otherwise (or with ``hc.USE_COMPILED = False``, ``GAUSSMIX_NO_COMPILED=1``).
The compiled loop repeats NumPy's arithmetic in the same order, so the two must
give the same merges, ties included, and the same costs (to the last bit where
NumPy's ``log``/``exp`` are the C library's; the tests allow 1e-10 relative).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from sklearn.datasets import load_iris

from gaussmix.core import hc as hc_module
from gaussmix.core.hc import (
    _merge_sequence,
    hc,
    hc_transform,
    hclass,
    mclust_initial_labels,
)

RTOL = 1e-10
MODELS = ("VVV", "EII")


@contextmanager
def _path(compiled: bool) -> Iterator[None]:
    """Run ``hc`` compiled or in NumPy, with empty tree caches."""
    saved = hc_module.USE_COMPILED
    hc_module.USE_COMPILED = compiled
    with hc_module._TREES_LOCK:
        hc_module._TREES.clear()
        hc_module._CUTS.clear()
    try:
        yield
    finally:
        hc_module.USE_COMPILED = saved
        with hc_module._TREES_LOCK:
            hc_module._TREES.clear()
            hc_module._CUTS.clear()


def _check_same(Z: np.ndarray, model: str, n_merges: int | None = None) -> None:
    n_merges = Z.shape[0] - 1 if n_merges is None else n_merges
    merges, costs = _merge_sequence(Z, model, n_merges, compiled=True)
    merges_ref, costs_ref = _merge_sequence(Z, model, n_merges, compiled=False)
    differ = np.flatnonzero(np.any(merges != merges_ref, axis=1))
    assert differ.size == 0, f"first different merge: {differ[:1]}"
    scale = np.maximum(np.abs(costs_ref), 1e-300)
    assert np.all(np.abs(costs - costs_ref) <= RTOL * scale)


def _data(seed: int, n: int, d: int, grid: bool) -> np.ndarray:
    """Two groups; on a grid (one decimal) many costs tie exactly."""
    rng = np.random.default_rng([seed, n, d])
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
    X[: n // 3] += 3.0
    return np.round(X, 1) if grid else X


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("d", [1, 2, 3, 6])
@pytest.mark.parametrize("n", [10, 50, 300])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_merges_and_costs(seed, n, d, model):
    grid = seed == 2
    _check_same(hc_transform(_data(seed, n, d, grid), "SVD"), model)
    if model == "EII":
        _check_same(_data(seed, n, d, grid), model)  # untransformed ("VARS")


@pytest.mark.parametrize(("d", "grid"), [(3, False), (2, True)])
def test_same_merges_and_costs_2000(d, grid):
    _check_same(hc_transform(_data(7, 2000, d, grid), "SVD"), "VVV")


def test_duplicates_and_min_clusters():
    """Exactly tied costs (duplicated rows) and a tree stopped early."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    X = np.vstack([X, X[[5, 40, 7]], X[:10]])
    Z = hc_transform(X, "SVD")
    for model in MODELS:
        _check_same(Z, model)
        _check_same(Z, model, n_merges=Z.shape[0] - 5)


def test_more_features_than_rows():
    """ "VVV" where no cluster gets more than p points; "EII" (mclust's choice)."""
    X = np.random.default_rng(4).normal(size=(8, 12))
    for model in MODELS:
        _check_same(hc_transform(X, "VARS"), model)


def test_iris_trees_and_labels():
    """Iris, with its exactly tied costs: the same trees, cuts and starts."""
    X = load_iris().data
    for model, use in (("VVV", "SVD"), ("EII", "VARS"), ("VVV", "VARS")):
        _check_same(hc_transform(X, use), model)
    trees = {}
    labels = {}
    for compiled in (True, False):
        with _path(compiled):
            trees[compiled] = hc(X)
            labels[compiled] = [mclust_initial_labels(X, g) for g in range(1, 10)]
    np.testing.assert_array_equal(trees[True].merges, trees[False].merges)
    for got, want in zip(labels[True], labels[False], strict=True):
        np.testing.assert_array_equal(got, want)


def test_hc_and_initial_labels_use_the_compiled_loop(monkeypatch):
    """``hc`` calls the compiled loop unless told not to, with the same result."""
    X = _data(5, 300, 3, grid=False)
    calls = []
    with _path(True):
        module = hc_module._compiled_module()
        assert module is not None
        tree = module.tree

        def spy(*args):
            calls.append(args[1])
            return tree(*args)

        monkeypatch.setattr(module, "tree", spy)
        compiled = hc(X)
        compiled_labels = mclust_initial_labels(X, 4)
        assert calls == [module.VVV, module.VVV]
    with _path(False):
        reference = hc(X)
        reference_labels = mclust_initial_labels(X, 4)
    assert calls == [module.VVV, module.VVV]
    np.testing.assert_array_equal(compiled.merges, reference.merges)
    np.testing.assert_array_equal(compiled_labels, reference_labels)
    np.testing.assert_array_equal(hclass(compiled, 4), compiled_labels)


def _load_test_hc():
    """``tests/core/test_hc.py`` as a module (its R script and generated data)."""
    path = Path(__file__).with_name("test_hc.py")
    spec = importlib.util.spec_from_file_location("_test_hc_for_compiled", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.mclust
def test_same_trees_on_the_mclust_cases(mclust):
    """The data sets of test_hc.py, raw and as mclust transformed them."""
    ref = _load_test_hc()
    names = ", ".join(f'"{n}"' for n in ref.R_DATASETS)
    got = mclust.run_r(
        ref._R_TREES.replace("NAMES", f"c({names})"), GEN=ref._generated()
    )
    for name, entry in got.items():
        X = np.asarray(entry["X"], dtype=np.float64)
        Z = np.asarray(entry["Z"], dtype=np.float64)
        _check_same(Z, "VVV")
        _check_same(hc_transform(X, "SVD"), "VVV")
        _check_same(X, "EII")
        np.testing.assert_array_equal(
            _merge_sequence(Z, "VVV", Z.shape[0] - 1)[0],
            np.asarray(entry["VVV_pairs"], dtype=np.intp) - 1,
            err_msg=name,
        )


def test_environment_switch_and_lazy_numba():
    """``GAUSSMIX_NO_COMPILED=1`` forces NumPy; importing gaussmix imports no numba."""
    code = (
        "import sys, gaussmix, gaussmix.core.hc as h; "
        "from gaussmix.core import kernels; "
        "assert 'numba' not in sys.modules; "
        "before = h._compiled_module() is None; "
        "kernels.load(); "
        "print(h.USE_COMPILED, before, h._compiled_module() is None)"
    )
    # Not loaded: NumPy; once numba is loaded (kernels.load()): compiled.
    for value, expected in (("1", "False True True"), ("0", "True True False")):
        env = {**os.environ, "GAUSSMIX_NO_COMPILED": value}
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.split() == expected.split()
