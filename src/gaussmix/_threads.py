"""BLAS (or OpenMP) with one thread for the duration of a fit or a prediction.

``threadpoolctl.threadpool_limits`` inspects the process's loaded libraries on
every call (it reads ``/proc/self/maps``): about 5 ms, a fifth of a small fit.
Here one :class:`threadpoolctl.ThreadpoolController` is made once and reused, and
nested or concurrent users (the fits of a parallel model-selection grid) share
one limit: the first to enter sets it, the last to leave restores it.

Code that runs fits on worker threads enters the block in the calling thread
first, so that the limit is set and restored there: OpenBLAS 0.3.31 ignored
``openblas_set_num_threads`` called from a worker thread after concurrent BLAS
work in about 1 of 20 trials (measured here), which would leave the process
with one BLAS thread.

:func:`single_threaded_openmp` limits OpenMP the same way, for code that runs
in a forked process (a child cannot use the parent's OpenMP thread team).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_threaded_blas", "single_threaded_openmp"]

_lock = threading.Lock()
_controller: Any = None
_depth = 0
_restore: Any = None


_modules_seen: frozenset[str] = frozenset()


def _is_extension(module: Any) -> bool:
    """Whether a module is a compiled extension (its file a ``.so`` or ``.pyd``)."""
    try:
        name = module.__dict__.get("__file__")
    except AttributeError:
        return False
    return isinstance(name, str) and name.endswith((".so", ".pyd"))


def _get_controller() -> Any:
    """The cached controller, rebuilt when a compiled extension was imported since.

    A controller only knows the libraries loaded when it was made; a native
    library arrives with the import of a compiled extension (scipy's or
    OpenCV's own OpenBLAS, say). Looking again takes some 4 ms (threadpoolctl
    reads ``/proc/self/maps``); the modules imported since the last look are
    found by their names (some 0.05 ms), so that pure Python imports, such as
    pandas importing a helper lazily when it first builds a table, do not cost
    a rebuild.
    """
    global _controller, _modules_seen
    modules = sys.modules
    if _controller is not None and len(modules) == len(_modules_seen):
        return _controller
    names = frozenset(modules)
    new = names - _modules_seen
    if _controller is None or any(_is_extension(modules.get(n)) for n in new):
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        names = frozenset(modules)  # (with what the import brought)
    _modules_seen = names
    return _controller


def _blas_libraries() -> list[Any]:
    return [lc for lc in _get_controller().lib_controllers if lc.user_api == "blas"]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block (re-entrant, thread-safe)."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            libs = _blas_libraries()
            _restore = [(lc, lc.get_num_threads()) for lc in libs]
            for lc in libs:
                lc.set_num_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore is not None:
                for lc, n in _restore:
                    lc.set_num_threads(n)
                _restore = None


@contextlib.contextmanager
def single_threaded_openmp() -> Iterator[None]:
    """Limit OpenMP to one thread inside the block (a forked child cannot use a team)."""
    with _get_controller().limit(limits=1, user_api="openmp"):
        yield
