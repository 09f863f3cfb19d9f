"""When the compiled small-data kernels run, and who loads them.

Four modules hold numba kernels: :mod:`gaussmix.core._compiled` (the common
orientation of EVE and VVE), :mod:`gaussmix.core._compiled_estep` (the E-step
and statistics on small float64 data), :mod:`gaussmix.core._compiled_em`
(whole EM runs of small data, up to the first repair, through
:mod:`gaussmix.core.fast_em`) and :mod:`gaussmix.core._compiled_hc`
(mclust's hierarchical clustering). Each agrees with its NumPy path, which
stays the reference, within 1e-10 (tests/core/test_compiled*.py).

A process pays for them once: importing numba and loading the cached kernels
took about 1 s here (0.5 s numba's import, 0.45 s its first dispatch), and
the first run after an install compiles them into numba's cache (about 110 s,
once per environment). That is more than a single small fit takes (a
400-row, 4-component fit: about 20 ms), so the kernels run only once numba is
loaded, and numba is loaded by the work that pays for it:

* :func:`gaussmix.select` (and :class:`gaussmix.GaussianMixtureIC`) over a
  grid of at least :data:`SELECT_MIN_FITS` fits;
* :class:`gaussmix.MixtureClassifier`'s EDDA over at least
  :data:`EDDA_MIN_MODELS` covariance models (iris, 14 models: 9 ms compiled
  against 60 ms; the load pays after some 20 fits, as a cross-validation
  runs);
* :func:`gaussmix.core.hc.hc` on at least :data:`HC_MIN_ROWS` rows (one tree at
  N=2000 x 3: 0.34 s compiled against 2.70 s);
* an M-step of EVE or VVE, whose plane rotations in NumPy cost more than the load
  (:func:`gaussmix.core.mclust_models._common_orientation_kernel`);
* a program that runs many small fits itself calls :func:`load` first.

Elsewhere, and when numba is not installed, the NumPy paths run as before.
``GAUSSMIX_NO_COMPILED=1`` in the environment turns the kernels off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "ENABLED",
    "HC_MIN_ROWS",
    "SELECT_MIN_FITS",
    "EDDA_MIN_MODELS",
    "LazyKernels",
    "import_kernels",
    "load",
    "loaded",
]

#: False when ``GAUSSMIX_NO_COMPILED`` is set (to anything but ``0``).
ENABLED: Final = os.environ.get("GAUSSMIX_NO_COMPILED", "").strip() in ("", "0")
#: A selection grid of this many fits loads the kernels (the README's grid is
#: 126; on iris it ran 3.46 s with NumPy, 3.08 s compiled in a fresh process).
SELECT_MIN_FITS: Final = 20
#: EDDA (``MixtureClassifier``) over this many covariance models loads the kernels.
EDDA_MIN_MODELS: Final = 10
#: ``hc`` on this many rows loads the kernels (N=500: 0.39 s with NumPy,
#: 0.02 s compiled after the load).
HC_MIN_ROWS: Final = 500


#: Whether importing numba failed once in this process.
_missing = False


def loaded() -> bool:
    """Whether the compiled kernels run: enabled, and numba already imported."""
    return ENABLED and "numba" in sys.modules


def load() -> bool:
    """Import numba so that the compiled kernels run from now on in this process.

    Returns
    -------
    bool
        Whether they will run (False when numba is missing or they are
        turned off by ``GAUSSMIX_NO_COMPILED=1``).
    """
    global _missing
    if not ENABLED or _missing:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # numba is optional: the NumPy paths run
        # Remembered: callers ask on every EVE/VVE M-step, and a failed import
        # searches the path again each time.
        _missing = True
        return False
    return True


def import_kernels(importer: Callable[[], Any]) -> Any:
    """``importer()`` (which imports a kernel module's names), or False.

    False when numba cannot be imported (it is optional): the caller keeps it
    as "no kernels" and runs its NumPy path.
    """
    try:
        return importer()
    except ImportError:
        return False


class LazyKernels:
    """A kernel module's names, imported on first use once the kernels run.

    Parameters
    ----------
    importer : callable
        Imports the kernel module's names and returns them (it is called at
        most once, through :func:`import_kernels`).
    """

    def __init__(self, importer: Callable[[], Any]) -> None:
        self._importer = importer
        #: ``importer()`` once called; False when numba cannot be imported.
        self._kernels: Any = None

    def get(self, use_compiled: bool = True) -> Any:
        """The kernels, or None for the NumPy path.

        Parameters
        ----------
        use_compiled : bool, default=True
            The caller's switch (its ``USE_COMPILED``); False means None.

        Returns
        -------
        object or None
            ``importer()``'s value; None when ``use_compiled`` is False, numba is
            not loaded yet (:func:`loaded`) or numba cannot be imported.
        """
        if not (use_compiled and loaded()):
            return None
        if self._kernels is None:
            self._kernels = import_kernels(self._importer)
        return self._kernels or None
