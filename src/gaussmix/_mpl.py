"""matplotlib, imported when something is drawn (it is an optional extra)."""

from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says how to install it.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'gaussmix[plot]'``).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install 'gaussmix[plot]'"
        ) from None
    return plt
