"""mclust's printed summaries: a fitted model, and the best fits of a selection table.

:func:`model_summary` is R's ``summary(Mclust(...))`` for a fitted
:class:`~gaussmix.GaussianMixture`: the covariance model and its description,
the number of components, the log-likelihood of ``X``, ``n``, the degrees of
freedom, BIC and ICL, and the clustering table (hard labels) with the mixing
proportions. :func:`table_summary` is R's ``summary(mclustBIC(X))`` for the
table of :func:`gaussmix.select`: the best models and their differences from
the best.

Both return frozen dataclasses whose text (``str`` and ``repr``) reads in a
terminal and whose ``_repr_html_`` is a table in a notebook.

**Sign of the criteria.** The summaries print BIC and ICL in **mclust's sign**,
``2 log L - df log n`` (higher is better), as R does, and say so. The
estimator's :meth:`~gaussmix.GaussianMixture.bic` and
:meth:`~gaussmix.GaussianMixture.icl` and the table of :func:`gaussmix.select`
use scikit-learn's sign (lower is better): the same numbers negated.

**Log-likelihood.** The summary evaluates the fitted parameters on ``X``. R's
``summary(Mclust(...))`` reports the log-likelihood of EM's last E-step, that is
of the parameters *before* the final M-step (and its ICL and clustering use the
responsibilities of that E-step). With mclust's default stopping rule (a
relative change of ``1e-5``) the two differ by up to about ``1e-5`` relative;
run to convergence they agree (``docs/summaries.md``).
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from sklearn.utils.validation import check_is_fitted

from gaussmix._validation import check_X, resolve_n_threads
from gaussmix.base import MixtureEstimator
from gaussmix.core.covariance import MCLUST_MODEL_NAMES, get_family
from gaussmix.model import log_max_resp, weighted_sum

__all__ = [
    "MODEL_DESCRIPTIONS",
    "BestModel",
    "ModelSummary",
    "TableSummary",
    "describe_covariance_type",
    "model_summary",
    "table_summary",
]

#: mclust's description of each of its models (``mclustModelNames(m)$type``),
#: from the registry's families.
MODEL_DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {name: get_family(name).description for name in MCLUST_MODEL_NAMES}
)

#: Width of the text forms (columns of a wide table are wrapped into blocks).
TEXT_WIDTH: Final = 80
#: Significant digits of the printed numbers (R's ``getOption("digits")``).
DIGITS: Final = 7
#: The criteria a selection table holds, and how the summaries name them.
_CRITERIA: Final = {"bic": "BIC", "icl": "ICL", "aic": "AIC"}
_TITLE: Final = "Gaussian finite mixture model fitted by EM (gaussmix)"
#: What the text says of the sign of the criteria (model, table).
_MODEL_SIGN_NOTE: Final = (
    "BIC and ICL in mclust's sign: higher is better (the model's bic(X) and "
    "icl(X) are the same numbers negated)."
)
_TABLE_SIGN_NOTE: Final = (
    "{criterion} in mclust's sign: higher is better (the table of select holds "
    "the same numbers negated)."
)
_CLUSTER_HEADING: Final = (
    "Clustering table (size: rows of X that predict assigns to the component; "
    "weight: its mixing proportion):"
)


def describe_covariance_type(covariance_type: str) -> str:
    """The description mclust gives a covariance type, with its mclust name.

    Parameters
    ----------
    covariance_type : str
        Any registered covariance type: mclust's 14 models, ``E`` and ``V``, or
        scikit-learn's ``full``, ``tied``, ``diag`` and ``spherical`` (described
        as the mclust models they are: VVV, EEE, VVI and VII).

    Returns
    -------
    str
        For example ``"ellipsoidal, equal volume, shape and orientation (EEE)"``.

    Raises
    ------
    ValueError
        If ``covariance_type`` is not a registered name (the message lists them).
    """
    model = get_family(covariance_type).model
    return f"{MODEL_DESCRIPTIONS[model]} ({model})"


# ------------------------------------------------------------------ formatting
def _signif(value: float, digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits, positional, as R prints one."""
    if not math.isfinite(value):
        return "NA" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    return np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="-"
    )


def _fixed(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if math.isfinite(value) else _signif(value)


def _text_table(
    corner: str,
    columns: Sequence[str],
    rows: Sequence[tuple[str, Sequence[str]]],
    width: int = TEXT_WIDTH,
) -> list[str]:
    """Lines of a right-aligned table, its columns wrapped into blocks of ``width``.

    ``rows`` are ``(label, cells)``; ``corner`` heads the label column.
    """
    label_width = max(len(corner), *(len(label) for label, _ in rows))
    widths = [
        max(len(name), *(len(cells[j]) for _, cells in rows))
        for j, name in enumerate(columns)
    ]
    blocks: list[list[int]] = [[]]
    used = label_width
    for j, w in enumerate(widths):
        if blocks[-1] and used + 1 + w > width:
            blocks.append([])
            used = label_width
        blocks[-1].append(j)
        used += 1 + w
    lines: list[str] = []
    for b, block in enumerate(blocks):
        if b:
            lines.append("")
        lines.append(
            corner.ljust(label_width)
            + "".join(" " + columns[j].rjust(widths[j]) for j in block)
        )
        for label, cells in rows:
            lines.append(
                label.ljust(label_width)
                + "".join(" " + cells[j].rjust(widths[j]) for j in block)
            )
    return [line.rstrip() for line in lines]


def _html_table(
    corner: str,
    columns: Sequence[str],
    rows: Sequence[tuple[str, Sequence[str]]],
) -> str:
    """An HTML table: a header row, then one row per ``(label, cells)``."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in (corner, *columns))
    body = "".join(
        f"<tr><th>{esc(label)}</th>"
        + "".join(f'<td style="text-align:right">{esc(c)}</td>' for c in cells)
        + "</tr>"
        for label, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------- model summary
@dataclass(frozen=True, repr=False)
class ModelSummary:
    """The summary of a fitted mixture on data, as R's ``summary(Mclust(...))``.

    ``str(summary)`` (and ``repr``) is a plain-text table; ``_repr_html_`` is an
    HTML table for notebooks.

    Parameters
    ----------
    covariance_type : str
        The model's ``covariance_type`` (gaussmix's name).
    description : str
        mclust's description of the model with its mclust name, e.g.
        ``"ellipsoidal, equal volume, shape and orientation (EEE)"``.
    n_components : int
        ``K``, the Gaussian components (a noise component is not one of them).
    n_features : int
        ``D``.
    log_likelihood : float
        ``log L``: the total log-likelihood of ``X`` under the fitted parameters.
    n_samples : int
        ``n``, the rows of ``X``.
    df : int
        Free parameters of the model (mclust's ``df``, ``nMclustParams``).
    bic : float
        ``2 log L - df log n``, **mclust's sign: higher is better** (minus
        gaussmix's :meth:`~gaussmix.GaussianMixture.bic`).
    icl : float
        ``BIC + 2 sum_i log max_k z_ik``, mclust's sign (minus gaussmix's
        :meth:`~gaussmix.GaussianMixture.icl`).
    cluster_sizes : tuple of int
        Rows of ``X`` whose hard label (``predict``) is each component, in the
        order of the components (0 to K - 1); empty components count 0.
    weights : tuple of float
        The mixing proportions (``weights_``).
    noise_size : int or None, default=None
        Rows labelled noise (``-1``), with a noise component.
    noise_weight : float or None, default=None
        The noise component's proportion (``noise_weight_``).
    converged : bool or None, default=None
        Whether the fit converged (``converged_``).
    n_iter : int or None, default=None
        EM iterations of the fit (``n_iter_``).
    """

    covariance_type: str
    description: str
    n_components: int
    n_features: int
    log_likelihood: float
    n_samples: int
    df: int
    bic: float
    icl: float
    cluster_sizes: tuple[int, ...]
    weights: tuple[float, ...]
    noise_size: int | None = None
    noise_weight: float | None = None
    converged: bool | None = None
    n_iter: int | None = None

    @property
    def model(self) -> str:
        """The model's mclust name (``"VVV"`` for ``"full"``)."""
        return get_family(self.covariance_type).model

    def _heading(self) -> str:
        plural = "s" if self.n_components != 1 else ""
        noise = " and a noise component" if self.noise_weight is not None else ""
        text = (
            f"covariance_type={self.covariance_type!r}: {self.description}, "
            f"{self.n_components} component{plural}{noise}"
        )
        if self.converged is not None and self.n_iter is not None:
            state = "converged" if self.converged else "NOT converged"
            text += f"; {state} after {self.n_iter} EM iterations"
        return text + "."

    def _criteria_table(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        columns = ["log-likelihood", "n", "df", "BIC", "ICL"]
        cells = [
            _signif(self.log_likelihood),
            str(self.n_samples),
            str(self.df),
            _signif(self.bic),
            _signif(self.icl),
        ]
        return columns, [("", cells)]

    def _cluster_table(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        columns = [str(k) for k in range(self.n_components)]
        sizes = [str(s) for s in self.cluster_sizes]
        weights = [f"{w:.4f}" for w in self.weights]
        if self.noise_weight is not None:
            columns.append("noise (-1)")
            sizes.append(str(self.noise_size))
            weights.append(f"{self.noise_weight:.4f}")
        return columns, [("size", sizes), ("weight", weights)]

    def __str__(self) -> str:
        rule = "-" * len(_TITLE)
        lines = [rule, _TITLE, rule, ""]
        lines += textwrap.wrap(self._heading(), TEXT_WIDTH - 2)
        lines.append("")
        columns, rows = self._criteria_table()
        lines += _text_table("", columns, rows)
        lines.append("")
        lines += textwrap.wrap(_MODEL_SIGN_NOTE, TEXT_WIDTH - 2)
        lines.append("")
        lines += textwrap.wrap(_CLUSTER_HEADING, TEXT_WIDTH - 2)
        columns, rows = self._cluster_table()
        lines += _text_table("", columns, rows)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        """The summary as HTML (Jupyter calls this)."""
        esc = html.escape
        columns, rows = self._criteria_table()
        criteria = _html_table("", columns, rows)
        columns, rows = self._cluster_table()
        clusters = _html_table("component", columns, rows)
        return (
            '<div class="gaussmix-summary">'
            f"<p><strong>{esc(_TITLE)}</strong><br>{esc(self._heading())}</p>"
            f"{criteria}"
            f"<p><small>{esc(_MODEL_SIGN_NOTE)}</small></p>"
            f"<p>{esc(_CLUSTER_HEADING)}</p>"
            f"{clusters}</div>"
        )


def _fitted_estimator(model: Any) -> MixtureEstimator:
    """The fitted mixture estimator of ``model`` (a GaussianMixtureIC's best one)."""
    inner = getattr(model, "best_estimator_", None)
    if isinstance(inner, MixtureEstimator):
        model = inner
    if not isinstance(model, MixtureEstimator):
        raise TypeError(
            "model_summary needs a fitted gaussmix mixture (GaussianMixture, or "
            f"GaussianMixtureIC after fit); got {type(model).__name__}. Fit one "
            "with gaussmix.GaussianMixture(...).fit(X) or take the first value "
            "that gaussmix.select returns."
        )
    check_is_fitted(model)
    return model


def model_summary(model: Any, X: Any) -> ModelSummary:
    """Summarise a fitted mixture on ``X``, as R's ``summary(Mclust(...))``.

    One pass over ``X`` gives the log-likelihood, the responsibilities (for
    ICL) and the hard labels (for the clustering table).

    Parameters
    ----------
    model : GaussianMixture or GaussianMixtureIC
        A fitted mixture (of a ``GaussianMixtureIC``, its selected model).
    X : array-like of shape (n_samples, n_features)
        The data to summarise on, usually the data the model was fitted on.

    Returns
    -------
    ModelSummary
        ``print`` it for R's layout; in a notebook it shows as a table. BIC and
        ICL are in mclust's sign (higher is better).

    Raises
    ------
    TypeError
        If ``model`` is not a gaussmix mixture.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If ``X`` is not a finite numeric 2-D array with the model's number of
        features.

    Notes
    -----
    R's summary reports the log-likelihood of mclust's last E-step, i.e. of the
    parameters before EM's final M-step, and its ICL and clustering table use
    that E-step's responsibilities; this summary evaluates the fitted
    parameters themselves. The two agree when EM has converged; with mclust's
    default tolerance they differ by up to about ``1e-5`` relative.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.summary import model_summary
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> gm = GaussianMixture(3, covariance_type="EEE").fit(X)
    >>> s = model_summary(gm, X)
    >>> s.n_samples, s.df, sum(s.cluster_sizes)
    (300, 11, 300)
    >>> s.bic == -gm.bic(X)
    True
    """
    estimator = _fitted_estimator(model)
    fitted = estimator.fitted_model()
    Xv = check_X(estimator, X, reset=False, min_samples=1)
    n_threads = resolve_n_threads(getattr(estimator, "n_jobs", None))
    log_density, resp, labels = fitted.log_prob_resp(
        Xv, want_resp=True, n_threads=n_threads
    )
    assert resp is not None
    loglik, _, log_n = weighted_sum(log_density, None)
    entropy, _, _ = weighted_sum(log_max_resp(resp), None)
    df = int(estimator.n_parameters())
    bic = 2.0 * loglik - df * log_n
    k = fitted.n_components
    labels = np.asarray(labels)
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    noise = fitted.noise_weight is not None
    converged = getattr(estimator, "converged_", None)
    n_iter = getattr(estimator, "n_iter_", None)
    return ModelSummary(
        covariance_type=str(estimator.covariance_type),
        description=describe_covariance_type(estimator.covariance_type),
        n_components=k,
        n_features=fitted.n_features,
        log_likelihood=float(loglik),
        n_samples=int(Xv.shape[0]),
        df=df,
        bic=float(bic),
        icl=float(bic + 2.0 * entropy),
        cluster_sizes=tuple(int(s) for s in sizes),
        weights=tuple(float(w) for w in np.asarray(fitted.weights, dtype=np.float64)),
        noise_size=int(np.sum(labels == -1)) if noise else None,
        noise_weight=float(fitted.noise_weight) if noise else None,  # type: ignore[arg-type]
        converged=None if converged is None else bool(converged),
        n_iter=None if n_iter is None else int(n_iter),
    )


# ------------------------------------------------------------- table summary
@dataclass(frozen=True, slots=True)
class BestModel:
    """One of the best fits of a selection table.

    Parameters
    ----------
    covariance_type : str
        Its covariance type.
    n_components : int
        Its number of components.
    value : float
        Its criterion in mclust's sign (higher is better).
    difference : float
        ``value`` minus the best value (0 for the best, negative after it).
    """

    covariance_type: str
    n_components: int
    value: float
    difference: float

    @property
    def label(self) -> str:
        """``"model,K"``, as mclust names a column of its summary."""
        return f"{self.covariance_type},{self.n_components}"


@dataclass(frozen=True, repr=False)
class TableSummary:
    """The best fits of a :func:`gaussmix.select` table, as R's ``summary(mclustBIC(X))``.

    ``str(summary)`` (and ``repr``) is R's "Best BIC values" table; ``_repr_html_``
    an HTML table for notebooks.

    Parameters
    ----------
    criterion : str
        ``"BIC"``, ``"ICL"`` or ``"AIC"``.
    best : tuple of BestModel
        The best fits, best first, values in mclust's sign (higher is better).
        Ties are broken as mclust breaks them: fewer components, then the
        covariance type's name.
    n_fits : int
        Rows of the table.
    n_missing : int
        Rows without the criterion (the fit failed, or needed a repair of a
        degenerate component: mclust's NA).
    """

    criterion: str
    best: tuple[BestModel, ...]
    n_fits: int
    n_missing: int

    def _rows(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        largest = max(abs(b.value) for b in self.best)
        digits = len(str(int(largest))) if largest >= 1 else 1
        decimals = max(0, DIGITS - digits)
        columns = [b.label for b in self.best]
        rows = [
            (self.criterion, [_fixed(b.value, decimals) for b in self.best]),
            (
                f"{self.criterion} diff",
                [_fixed(b.difference + 0.0, decimals) for b in self.best],
            ),
        ]
        return columns, rows

    def _footer(self) -> str:
        missing = (
            f", {self.n_missing} with no {self.criterion} (failed or degenerate)"
            if self.n_missing
            else ""
        )
        note = _TABLE_SIGN_NOTE.format(criterion=self.criterion)
        return f"{note} From {self.n_fits} fits{missing}."

    def __str__(self) -> str:
        heading = (
            f"Best {self.criterion} values:"
            if len(self.best) > 1
            else f"{self.criterion} value:"
        )
        columns, rows = self._rows()
        lines = [heading, *_text_table("", columns, rows)]
        lines += ["", *textwrap.wrap(self._footer(), TEXT_WIDTH - 2)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        """The summary as HTML (Jupyter calls this)."""
        columns, rows = self._rows()
        return (
            '<div class="gaussmix-summary">'
            f"<p><strong>Best {html.escape(self.criterion)} values</strong></p>"
            f"{_html_table('', columns, rows)}"
            f"<p><small>{html.escape(self._footer())}</small></p></div>"
        )


def _column(table: Any, name: str) -> np.ndarray:
    """Column ``name`` of a DataFrame, structured array or mapping of columns."""
    if isinstance(table, np.ndarray):
        names = table.dtype.names or ()
    elif hasattr(table, "columns"):
        names = tuple(table.columns)
    elif isinstance(table, Mapping):
        names = tuple(table)
    else:
        raise TypeError(
            "table_summary needs the table of gaussmix.select (a pandas DataFrame "
            f"or a NumPy structured array); got {type(table).__name__}."
        )
    if name not in names:
        raise ValueError(
            f"table_summary: the table has no column {name!r} (it has "
            f"{', '.join(map(repr, names)) or 'none'}); pass the second value "
            "that gaussmix.select returns."
        )
    return np.asarray(table[name])


def table_summary(table: Any, n_best: int = 3, criterion: str = "bic") -> TableSummary:
    """The best fits of a selection table, as R's ``summary(mclustBIC(X))``.

    Parameters
    ----------
    table : pandas.DataFrame or numpy structured array
        The table :func:`gaussmix.select` returns (columns
        :data:`gaussmix.selection.COLUMNS`; its criteria in scikit-learn's
        sign, lower is better). Only ``n_components``, ``covariance_type`` and
        the criterion's column are needed; a mapping of such columns works too.
    n_best : int, default=3
        How many of the best fits to show (fewer when fewer have the criterion).
    criterion : {'bic', 'icl', 'aic'}, default='bic'
        The column to rank by.

    Returns
    -------
    TableSummary
        The best fits, best first, with their criterion in **mclust's sign**
        (higher is better) and the difference from the best. Rows without the
        criterion (failed or degenerate fits, NaN) are left out, as mclust
        leaves out its NA.

    Raises
    ------
    TypeError
        If ``table`` is not a table, or ``n_best`` not an integer.
    ValueError
        If a needed column is missing, ``n_best < 1``, ``criterion`` is not one
        of the three, or no row has the criterion.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix import select
    >>> from gaussmix.summary import table_summary
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> _, table = select(X, range(1, 5), ["EII", "VVV"])
    >>> s = table_summary(table)
    >>> s.best[0].label, s.best[0].difference
    ('EII,3', 0.0)
    """
    if criterion not in _CRITERIA:
        raise ValueError(
            f"table_summary: criterion must be one of {tuple(_CRITERIA)}; "
            f"got {criterion!r}."
        )
    if isinstance(n_best, bool) or not isinstance(n_best, int | np.integer):
        raise TypeError(
            f"table_summary: n_best must be an integer >= 1; got {n_best!r}."
        )
    if n_best < 1:
        raise ValueError(f"table_summary: n_best must be >= 1; got {n_best}.")
    ks = _column(table, "n_components")
    types = _column(table, "covariance_type")
    values = np.asarray(_column(table, criterion), dtype=np.float64)
    good = np.isfinite(values)
    name = _CRITERIA[criterion]
    if not good.any():
        raise ValueError(
            f"table_summary: no fit in the table has a {name} (every fit failed "
            "or was degenerate); see the table's error column."
        )
    # mclust's order (pickBIC): the criterion, then K, then the model's name.
    order = sorted(
        (float(values[i]), int(ks[i]), str(types[i])) for i in np.flatnonzero(good)
    )[: int(n_best)]
    top = -order[0][0]
    best = tuple(BestModel(t, k, -v, -v - top) for v, k, t in order)
    return TableSummary(
        criterion=name,
        best=best,
        n_fits=int(values.size),
        n_missing=int(np.sum(~good)),
    )
