"""BLAS with one thread for the duration of a fit or a prediction.

``threadpoolctl.threadpool_limits`` inspects the process's loaded libraries on
every call (it reads ``/proc/self/maps``): about 5 ms, a fifth of a small fit.
Here one :class:`threadpoolctl.ThreadpoolController` is made once and reused, and
nested or concurrent users (the fits of a parallel model-selection grid) share
one limit: the first to enter sets it, the last to leave restores it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_threaded_blas"]

_lock = threading.Lock()
_controller: Any = None
_depth = 0
_restore: Any = None


def _get_controller() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block (re-entrant, thread-safe)."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = _get_controller().limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore is not None:
                _restore.restore_original_limits()
                _restore = None
