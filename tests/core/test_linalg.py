"""NumPy's private LAPACK kernels, behind one function that falls back.

:func:`gaussmix.core.linalg.lapack_kernel` is the only user of
``numpy.linalg._umath_linalg``: with the module, the kernels give the public
functions' numbers; without it (or with a changed one), the public functions
are used, and the fits do not change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gaussmix.core import mclust_models, sklearn_families
from gaussmix.core.covariance import get_family
from gaussmix.core.estep import e_step, stats_from_resp
from gaussmix.core.linalg import KERNEL_NAMES, lapack_kernel
from gaussmix.core.mstep import m_step

SRC = Path(__file__).resolve().parents[2] / "src"
PRIVATE = "numpy.linalg._umath_linalg"


def _spd_stack(seed: int, k: int = 3, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, d, d))
    return a @ np.swapaxes(a, 1, 2) + d * np.eye(d)


def _arguments(name: str, seed: int) -> tuple[np.ndarray, ...]:
    a = _spd_stack(seed)
    if name == "solve":
        return (np.linalg.cholesky(a), np.broadcast_to(np.eye(a.shape[1]), a.shape))
    return (a,)


@pytest.mark.parametrize("name", KERNEL_NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_gives_the_public_functions_numbers(name, seed):
    args = _arguments(name, seed)
    got = lapack_kernel(name)(*args)
    want = getattr(np.linalg, name)(*args)
    for g, w in zip(
        got if isinstance(got, tuple) else (got,),
        want if isinstance(want, tuple) else (want,),
        strict=True,
    ):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_missing_private_module_falls_back(name, monkeypatch):
    monkeypatch.setitem(sys.modules, PRIVATE, None)  # import raises ImportError
    assert lapack_kernel(name) is getattr(np.linalg, name)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_module_without_the_kernel_falls_back(name):
    assert lapack_kernel(name, module=SimpleNamespace()) is getattr(np.linalg, name)


def _wrong(*args, **kwargs):
    return tuple(np.zeros_like(args[0]) for _ in range(3))


def _raises(*args, **kwargs):
    raise TypeError("a changed signature")


@pytest.mark.parametrize("name", KERNEL_NAMES)
@pytest.mark.parametrize("changed", [_wrong, _raises])
def test_changed_kernel_falls_back(name, changed):
    module = SimpleNamespace(
        cholesky_lo=changed, solve=changed, svd_f=changed, eigh_lo=changed
    )
    assert lapack_kernel(name, module=module) is getattr(np.linalg, name)


def test_only_the_linalg_module_touches_the_private_module():
    users = [
        p.relative_to(SRC).as_posix()
        for p in sorted((SRC / "gaussmix").rglob("*.py"))
        if "_umath_linalg" in p.read_text(encoding="utf-8")
    ]
    assert users == ["gaussmix/core/linalg.py"]


def _fit(model: str, n_iter: int = 8):
    """A few EM iterations of ``model`` on fixed data, from fixed responsibilities."""
    rng = np.random.default_rng(4)
    X = np.concatenate(
        [rng.normal(size=(80, 3)) @ rng.normal(size=(3, 3)) + 4 * k for k in range(3)]
    )
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    family = get_family(model)
    params, _ = m_step(stats_from_resp(X, resp, family, 3, X.mean(axis=0)), family, 0.0)
    for _ in range(n_iter):
        params, _ = m_step(e_step(X, params, family), family, 0.0, previous=params)
    return params


@pytest.mark.parametrize("model", ["full", "tied", "EVE", "VVE", "VEE"])
def test_fits_are_the_same_with_the_public_functions(model, monkeypatch):
    """The fallback is not only available: the M-steps give the same numbers with it."""
    fast = _fit(model)
    for module, attr, name in (
        (sklearn_families, "_CHOLESKY", "cholesky"),
        (sklearn_families, "_SOLVE", "solve"),
        (mclust_models, "_SVD", "svd"),
        (mclust_models, "_EIGH", "eigh"),
    ):
        monkeypatch.setattr(module, attr, getattr(np.linalg, name))
    slow = _fit(model)
    for a, b in zip(
        (fast.weights, fast.means, fast.covariances, fast.precisions_cholesky),
        (slow.weights, slow.means, slow.covariances, slow.precisions_cholesky),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_fallback_cholesky_reports_a_singular_component(monkeypatch):
    """With the public functions a singular covariance is still found and repaired."""
    monkeypatch.setattr(sklearn_families, "_CHOLESKY", np.linalg.cholesky)
    monkeypatch.setattr(sklearn_families, "_SOLVE", np.linalg.solve)
    cov = _spd_stack(2)
    cov[1] = np.zeros((4, 4))
    factors, failed = get_family("full").precisions_cholesky(cov)
    assert failed.tolist() == [False, True, False]
    assert np.all(np.isfinite(factors))
