"""Docstring fragments that several public objects share, written once.

A parameter or return value described the same way in many places (the ``X``
of every prediction method, the ``sample_weight`` of every ``fit``) is kept here
and filled in when the module is imported, so the words cannot drift apart
between estimators. A docstring names a fragment on a line of its own, such
as ``{{X_predict}}`` under its ``Parameters`` heading (or
``{{predict_parameters}}``, a whole section, where every parameter is shared),
and :func:`fill_doc` replaces that line with the fragment, indented like the
placeholder.
Fragments are numpydoc text; ``help()``, IDEs and the API pages see the
filled docstring. An unknown name raises ``KeyError`` at import, so a
typo cannot ship.

This is the template approach of SciPy (``scipy._lib.doccer``), pandas
(``@doc``) and MNE-Python (``fill_doc``), kept to whole lines so the source
stays readable.
"""

from __future__ import annotations

import re
import textwrap
from typing import Final, TypeVar

__all__ = ["FRAGMENTS", "fill_doc", "fill_text"]

T = TypeVar("T")

#: The shared fragments, dedented numpydoc text without a trailing newline.
FRAGMENTS: Final[dict[str, str]] = {}

_PLACEHOLDER: Final = re.compile(
    r"^(?P<indent>[ \t]*)\{\{(?P<name>\w+)\}\}[ \t]*$", re.M
)


def register(name: str, text: str) -> None:
    """Add fragment ``name``; a name is defined once, in the module that owns it.

    Parameters
    ----------
    name : str
        The placeholder's name (``{{name}}`` in a docstring).
    text : str
        Numpydoc text; it is dedented and stripped of surrounding blank lines.

    Raises
    ------
    ValueError
        If ``name`` is already defined.
    """
    if name in FRAGMENTS:
        raise ValueError(f"docstring fragment {name!r} is defined twice")
    FRAGMENTS[name] = textwrap.dedent(text).strip("\n")


def fill_text(doc: str) -> str:
    """Replace every ``{{name}}`` line of ``doc`` by its fragment, indented alike.

    Parameters
    ----------
    doc : str
        A docstring.

    Returns
    -------
    str
        The docstring with its placeholders filled.

    Raises
    ------
    KeyError
        If a placeholder names no fragment.
    """

    def expand(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in FRAGMENTS:
            raise KeyError(
                f"docstring fragment {name!r} is not defined in gaussmix._docs"
            )
        indent = match["indent"]
        return "\n".join(
            indent + line if line else line for line in FRAGMENTS[name].split("\n")
        )

    return _PLACEHOLDER.sub(expand, doc)


def fill_doc(obj: T) -> T:
    """Fill the placeholders of a function's or class's docstring (a decorator).

    On a class, the docstrings of its functions, properties, class methods and
    static methods are filled too.

    Parameters
    ----------
    obj : function or class
        What to document.

    Returns
    -------
    function or class
        ``obj`` itself, its docstrings filled.
    """
    _fill_one(obj)
    if isinstance(obj, type):
        for value in vars(obj).values():
            if isinstance(value, (classmethod, staticmethod)):
                _fill_one(value.__func__)
            elif isinstance(value, property) or callable(value):
                _fill_one(value)  # a property's own __doc__ is what help() shows
    return obj


def _fill_one(obj: object) -> None:
    doc = getattr(obj, "__doc__", None)
    if doc and "{{" in doc:
        obj.__doc__ = fill_text(doc)


# ----------------------------------------------------------------- fragments
register(
    "X_predict",
    """
    X : array-like of shape (n_samples, n_features)
        Points to evaluate: rows are samples, columns the features the model was
        fitted on.
    """,
)
register(
    "X_fit",
    """
    X : array-like of shape (n_samples, n_features)
        Training data.
    """,
)
register(
    "y_ignored",
    """
    y : Ignored
        Present for API consistency.
    """,
)
register(
    "sample_weight_fit",
    """
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights, as in :meth:`fit`.
    """,
)
register(
    "sample_weight_score",
    """
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights; integer weights equal repeated rows.
    """,
)
register(
    "X_partial_fit",
    """
    X : array-like of shape (n_samples, n_features)
        One mini-batch (the first needs at least ``n_components`` rows).
    """,
)
register(
    "labels_returns",
    """
    labels : ndarray of shape (n_samples,)
        Component labels; ``-1`` for rows most likely noise (with a noise
        component). For a dask array, a lazy dask array.
    """,
)
register(
    "quantile_p",
    """
    p : float or array-like
        Probabilities in [0, 1]; 0 and 1 give ``-inf`` and ``inf``.
    """,
)
register(
    "quantile_returns",
    """
    ndarray
        The quantiles, shaped as ``p`` (a 0-d array for a number).
    """,
)

# Whole ``Parameters`` sections, for the methods whose parameters are all shared.
register(
    "predict_parameters",
    fill_text(
        """
        Parameters
        ----------
        {{X_predict}}
        """
    ),
)
register(
    "criterion_parameters",
    fill_text(
        """
        Parameters
        ----------
        {{X_predict}}
        {{sample_weight_score}}
        """
    ),
)
