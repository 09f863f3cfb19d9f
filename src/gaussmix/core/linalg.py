"""NumPy's LAPACK kernels without ``np.linalg``'s argument checks.

``np.linalg.cholesky``, ``solve``, ``svd`` and ``eigh`` check and convert their
arguments on every call, which costs microseconds: a tenth of a small model's
EM iteration, and a third of the inner loop of the EVE and VVE M-steps. The
LAPACK generalised ufuncs behind them live in NumPy's private module
``numpy.linalg._umath_linalg``. :func:`lapack_kernel` is the only place that
touches it: it hands out the kernel when the module has it and the kernel still
answers exactly as the public function does, and the public function otherwise
(a NumPy without the module, or one that renamed or changed it).

The kernels take float64 arrays only. They report a failure (a matrix that is
not positive definite, LAPACK not converging) as an invalid floating-point
operation, as ``np.linalg`` does internally: call them inside
``np.errstate(invalid="raise")`` and turn ``FloatingPointError`` into
``np.linalg.LinAlgError``. The public fallbacks raise ``LinAlgError`` themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final, Literal

import numpy as np

__all__ = ["KERNEL_NAMES", "lapack_kernel"]

KernelName = Literal["cholesky", "solve", "svd", "eigh"]

#: The public function, its gufunc in ``numpy.linalg._umath_linalg`` and the
#: float64 signature that ``np.linalg`` calls it with.
_GUFUNCS: Final[dict[str, tuple[str, str]]] = {
    "cholesky": ("cholesky_lo", "d->d"),
    "solve": ("solve", "dd->d"),
    "svd": ("svd_f", "d->ddd"),
    "eigh": ("eigh_lo", "d->dd"),
}
KERNEL_NAMES: Final = tuple(_GUFUNCS)

#: A small symmetric positive definite matrix on which each kernel must give
#: the public function's answer, to the bit, before it is used.
_PROBE: Final = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]])

_DEFAULT: Any = object()


def _private_module() -> Any:
    try:
        return importlib.import_module("numpy.linalg._umath_linalg")
    except ImportError:
        return None


def lapack_kernel(name: KernelName, module: Any = _DEFAULT) -> Callable[..., Any]:
    """``np.linalg.<name>`` for float64 arrays, without its argument checks.

    Parameters
    ----------
    name : {"cholesky", "solve", "svd", "eigh"}
        The public function: ``cholesky`` (lower factor), ``solve``
        (``solve(a, b)`` with ``b`` a stack like ``a``), ``svd`` (full
        matrices, with ``U`` and ``V^T``) or ``eigh`` (lower triangle).
    module : module, optional
        Where to look for the kernel; by default NumPy's private
        ``numpy.linalg._umath_linalg`` (a test passes a stand-in).

    Returns
    -------
    callable
        The kernel, called as the public function is on float64 arrays and
        returning the same numbers; or the public function itself when the
        module is missing, lacks the kernel, or the kernel's answer on a small
        probe differs from the public function's.
    """
    public: Callable[..., Any] = getattr(np.linalg, name)
    if module is _DEFAULT:
        module = _private_module()
    gufunc_name, signature = _GUFUNCS[name]
    gufunc = getattr(module, gufunc_name, None)
    if gufunc is None:
        return public
    kernel = _bound(gufunc, signature, two_arguments=name == "solve")
    args = (_PROBE[None], np.eye(3)[None]) if name == "solve" else (_PROBE,)
    try:
        with np.errstate(invalid="raise"):
            got = kernel(*args)
        want = public(*args)
    except Exception:  # a changed kernel: any failure means "do not use it"
        return public
    if not _same(got, want):
        return public
    return kernel


def _bound(gufunc: Any, signature: str, *, two_arguments: bool) -> Callable[..., Any]:
    """``gufunc`` called with ``signature`` (a closure: faster than a partial)."""
    if two_arguments:

        def kernel2(a: Any, b: Any) -> Any:
            return gufunc(a, b, signature=signature)

        return kernel2

    def kernel(a: Any) -> Any:
        return gufunc(a, signature=signature)

    return kernel


def _same(got: Any, want: Any) -> bool:
    """Whether two results (arrays or tuples of arrays) are equal to the bit."""
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return False
        return all(_same(g, w) for g, w in zip(got, want, strict=True))
    got_array, want_array = np.asarray(got), np.asarray(want)
    return bool(
        got_array.shape == want_array.shape
        and got_array.dtype == want_array.dtype
        and np.array_equal(got_array, want_array)
    )
