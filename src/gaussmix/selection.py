"""Choosing the number of components and the covariance type by AIC, BIC or ICL.

:func:`select` fits one :class:`~gaussmix.GaussianMixture` per (number of
components, covariance type) and returns the best by the chosen criterion, with
a table of every fit. Criteria use scikit-learn's sign convention: **lower is
better**, ``BIC = -2 log L + p log n``. (R's mclust reports ``2 log L - p log n``,
higher is better: the same number with the opposite sign.)
"""

from __future__ import annotations

import atexit
import contextlib
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from gaussmix._docs import fill_doc
from gaussmix._threads import single_threaded_blas, single_threaded_openmp
from gaussmix._validation import (
    AUTO,
    check_parameters,
    check_X,
    resolve_em_control,
    resolve_n_threads,
)
from gaussmix.cells import grid_cell, load_repair_kernels
from gaussmix.core import kernels
from gaussmix.core.covariance import (
    MCLUST_GROUP,
    SKLEARN_GROUP,
    UNIVARIATE_GROUP,
    family_names,
)
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.mixture import GaussianMixture

__all__ = ["COLUMNS", "GaussianMixtureIC", "select"]

#: What "sklearn" means: scikit-learn's four covariance types (the registry's).
SKLEARN_COVARIANCE_TYPES = family_names(SKLEARN_GROUP)
#: mclust's models, in mclust's order: what "all" means (for one feature: E, V).
MCLUST_MODELS = family_names(MCLUST_GROUP)
UNIVARIATE_MODELS = family_names(UNIVARIATE_GROUP)
#: Below this many data values the fits are bound by Python (the GIL): threads
#: only contend, so the grid runs in forked processes (or serially).
SELECT_PARALLEL_MIN_VALUES = 100_000
#: Smallest grid run in processes (docs/ARCHITECTURE.md, note 14).
SELECT_PROCESS_MIN_FITS = 4
#: Processes are forked once the fits done so far predict this much work left:
#: a fork costs about 20 ms here (the fork, then both processes copying the pages
#: they write to), and the estimate runs high (the largest K go first).
SELECT_PROCESS_MIN_SECONDS = 0.1
#: Initialisations whose fits run in forked processes. Not ``"kmeans"``:
#: scikit-learn's KMeans runs on GNU OpenMP, whose thread team does not survive a
#: fork (a child that used it after the parent had hung here for ever).
FORK_SAFE_INITS = ("hc", "k-means++", "random", "random_from_data")
CRITERIA = ("bic", "aic", "icl")

#: Columns of the selection table, in order.
COLUMNS = (
    "n_components",
    "covariance_type",
    "log_likelihood",
    "n_parameters",
    "aic",
    "bic",
    "icl",
    "converged",
    "n_iter",
    "error",
)


def _as_table(records: list[dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError:
        dtype = [
            ("n_components", "i8"),
            ("covariance_type", "U16"),
            ("log_likelihood", "f8"),
            ("n_parameters", "i8"),
            ("aic", "f8"),
            ("bic", "f8"),
            ("icl", "f8"),
            ("converged", "?"),
            ("n_iter", "i8"),
            ("error", "U200"),
        ]
        return np.array([tuple(r[c] for c in COLUMNS) for r in records], dtype=dtype)
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def select(
    X: Any,
    n_components: Iterable[int] = range(1, 10),
    covariance_types: Iterable[str] | str = "sklearn",
    criterion: str = "bic",
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    n_jobs: int | None = None,
    **fit_kwargs: Any,
) -> tuple[GaussianMixture | None, Any]:
    """Fit every (number of components, covariance type) and keep the best.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    n_components : iterable of int, default=range(1, 10)
        Numbers of components to try.
    covariance_types : str or iterable of str, default="sklearn"
        Covariance types to try: any registered names, ``"all"`` for mclust's 14
        models (``E`` and ``V`` for one feature), ``"sklearn"`` for
        ``full``, ``tied``, ``diag``, ``spherical``.
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        What "best" means; all three are in the table, lower is better.
    progress : callable, default=None
        Called with each finished record (for progress bars), in the order the
        fits finish.
    n_jobs : int or None, default=None
        Fits run in parallel on this many threads (None: all usable cores, or
        serially below ``SELECT_PARALLEL_MIN_VALUES`` data values, where the
        fits are bound by Python and threads only contend; each fit then runs
        its own chunks serially). The results do not depend on it:
        an integer ``random_state`` is given to every fit, and a RandomState
        instance first yields one seed per fit, in grid order.
    **fit_kwargs
        Further :class:`~gaussmix.GaussianMixture` parameters (``random_state``,
        ``n_init``, ``reg_covar``, ...), the same for every fit. ``tol``,
        ``reg_covar`` and ``init_params`` default to ``'auto'``, resolved per
        covariance type: mclust's model names get mclust's EM control and its
        hierarchical start (``select(X, range(1, 10), "all")`` reproduces
        ``mclustBIC(X, G = 1:9)``), scikit-learn's names get scikit-learn's.

    Returns
    -------
    best : GaussianMixture or None
        The fitted model with the lowest criterion (None if every fit failed).
    table : pandas.DataFrame or numpy structured array
        One record per fit, columns :data:`COLUMNS`: ``log_likelihood`` is the
        total over the samples, ``aic``/``bic``/``icl`` are in scikit-learn's
        sign (lower is better), and ``error`` is empty unless the fit failed
        (then the numbers are NaN) or needed a repair of a degenerate component
        (``"degenerate: ..."``: the criteria are NaN, as mclust reports NA, and
        the fit is never selected). On small data with the default EM control
        (the quick cells of :mod:`gaussmix.cells`) such a fit stops at its
        first repair, as mclust's does: its ``n_iter`` and ``log_likelihood``
        are those at the stop (NaN when the first M-step needed it), and the
        error names that repair. Elsewhere the fit goes on to the end. A
        DataFrame when pandas is installed.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix import select
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> best, table = select(X, range(1, 5), "full", random_state=0)
    >>> best.n_components
    3
    """
    if criterion not in CRITERIA:
        raise ValueError(
            f"Invalid value for 'criterion': {criterion!r}. Use one of {CRITERIA}."
        )
    types = expand_types(covariance_types, X)
    ks = [int(k) for k in n_components]
    if not ks or not types:
        raise ValueError(
            "select needs at least one n_components and one covariance type."
        )
    for name in ("n_components", "covariance_type"):
        if name in fit_kwargs:
            raise TypeError(f"{name!r} is set by select; pass it as its own argument.")
    # Validate the data and the options once, before the grid.
    Xv = check_X(GaussianMixture(), X, reset=True, min_samples=2)
    # Fits see the caller's container (DataFrame column names are kept); the
    # criteria are computed on the validated array, without validating it again.
    params = GaussianMixture(**fit_kwargs).get_params()  # (inspects the signature)
    for t in types:
        check_parameters({**params, "covariance_type": t}, "select")
    grid = [(k, t) for t in types for k in ks]
    if len(grid) >= kernels.SELECT_MIN_FITS:
        kernels.load()  # the compiled small-data kernels pay for their load here
    seeds = _grid_seeds(fit_kwargs.get("random_state"), len(grid))
    n_workers = min(resolve_n_threads(n_jobs), len(grid))
    mode = "serial"
    if n_workers > 1:
        if np.size(X) >= SELECT_PARALLEL_MIN_VALUES:
            mode = "threads"
        elif (
            len(grid) >= SELECT_PROCESS_MIN_FITS
            and all(init in FORK_SAFE_INITS for init in _grid_inits(types, fit_kwargs))
            and can_fork()
        ):
            # Small data: each fit is Python-bound (the GIL) and threads only
            # contend (faithful, 272 x 2: 1.50 s threaded against 1.20 s serial);
            # processes run the fits really in parallel.
            mode = "processes"
        elif n_jobs is not None:
            mode = "threads"  # asked for explicitly
    kwargs = {**fit_kwargs, "n_jobs": 1} if mode != "serial" else dict(fit_kwargs)

    def run_estimator(i: int) -> tuple[GaussianMixture, dict[str, Any]]:
        k, t = grid[i]
        extra = {} if seeds is None else {"random_state": seeds[i]}
        return _fit_one(X, k, t, {**kwargs, **extra}, Xv)

    def run(i: int) -> FitResult:
        if quick:
            # Small data: the cell without an estimator (gaussmix.cells).
            k, t = grid[i]
            extra = {} if seeds is None else {"random_state": seeds[i]}
            record = grid_cell(Xv, k, t, {**fit_kwargs, **extra}, labels_of)
            if record is not None:
                return None, record
        return run_estimator(i)

    quick = len(grid) >= kernels.SELECT_MIN_FITS and kernels.loaded()
    if quick:
        load_repair_kernels()
    labels_of: dict[int, Any] = {}  # the cells' hierarchical labels, by K
    results: list[FitResult | None] = [None] * len(grid)

    def finished(i: int, done: FitResult) -> None:
        results[i] = done
        if progress is not None:
            progress(done[1])

    if mode == "processes":
        # Quick cells call the M-step's LAPACK directly: one BLAS thread, as
        # the estimator's fits have (two were 10x slower with a busy core).
        with single_threaded_blas():
            _run_forked(run, grid, n_workers, finished)
    elif mode == "threads":
        # Threads: the fits spend their time in NumPy, which releases the GIL, and
        # the data is shared, not copied. Each fit runs its chunks serially.
        with single_threaded_blas(), ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = {pool.submit(run, i): i for i in range(len(grid))}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    else:
        with single_threaded_blas():
            for i in range(len(grid)):
                finished(i, run(i))
    records: list[dict[str, Any]] = []
    best: GaussianMixture | None = None
    best_index = -1
    best_value = math.inf
    for i, item in enumerate(results):
        assert item is not None
        model, record = item
        records.append(record)
        value = record[criterion]
        if not record["error"] and value < best_value:
            best, best_index, best_value = model, i, value
    if best_index >= 0 and best is None:
        # A quick cell: fit the selected one through the estimator (the same
        # computation), which gives the model and its record.
        best, records[best_index] = run_estimator(best_index)
    if best is not None:
        best.set_params(n_jobs=None)  # the fits ran serially inside the pool
    return best, _as_table(records)


#: A fitted cell: the estimator (None for a quick cell) and its record.
FitResult = tuple[GaussianMixture | None, dict[str, Any]]


def _grid_inits(types: Sequence[str], fit_kwargs: dict[str, Any]) -> set[str]:
    """The initialisations the grid's fits use, ``"auto"`` resolved per type."""
    return {
        resolve_em_control(
            t,
            fit_kwargs.get("tol", AUTO),
            fit_kwargs.get("reg_covar", AUTO),
            fit_kwargs.get("init_params", AUTO),
        ).init_params
        for t in types
    }


def can_fork() -> bool:
    """Whether work may run in forked processes (the grid's fits, bootstrap replicates).

    Needs the ``fork`` start method (not on Windows; there the work runs
    serially) and no other Python thread: a thread holding a lock at the fork
    would leave the child waiting for it for ever.
    """
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and multiprocessing.parent_process() is None
    )


def _run_forked(
    run: Callable[[int], FitResult],
    grid: list[tuple[int, str]],
    n_workers: int,
    finished: Callable[[int, FitResult], None],
) -> None:
    """Run ``run(i)`` for every fit of the grid, in this process and forked ones.

    The fits go in order of decreasing K (the long ones first, for an even
    finish). They start here, serially: the first one builds what the fits
    cache (the hierarchical tree of ``init_params="hc"``), which the children
    then inherit, and only when the fits done so far predict at least
    ``SELECT_PROCESS_MIN_SECONDS`` of work left are ``n_workers - 1`` children
    forked. From then on this process and the children take the next fit from a
    shared counter; each child sends its results back, pickled, when the
    counter runs out. Every fit is the same computation as in the serial loop
    (the same code, data and seed), so the results are identical. A fit that a
    child could not finish or send (it failed, or the child died) is run here
    afterwards, so an error of the fit itself is raised as in the serial loop.
    """
    order = sorted(range(len(grid)), key=lambda i: (-grid[i][0], i))
    position = 0
    started = time.perf_counter()
    while position < len(order):
        finished(order[position], run(order[position]))
        position += 1
        if position == 1:
            started = time.perf_counter()  # the first fit also built the caches
            continue
        left = len(order) - position
        per_fit = (time.perf_counter() - started) / (position - 1)
        if left >= 2 and per_fit * left >= SELECT_PROCESS_MIN_SECONDS:
            break
    if position == len(order):
        return
    rest = order[position:]
    ctx = multiprocessing.get_context("fork")
    counter = ctx.RawValue("l", 0)
    lock = ctx.Lock()

    def next_fit() -> int | None:
        with lock:
            j = counter.value
            counter.value = j + 1
        return rest[j] if j < len(rest) else None

    _reap_exiting()
    mine: set[int] = set()
    children: list[tuple[int, int]] = []  # (pid, read end of its result pipe)
    complete = False
    try:
        # BLAS (and OpenMP, should a fit reach it) is limited before the fork:
        # the children inherit one thread.
        with single_threaded_blas(), single_threaded_openmp():
            sys.stdout.flush()
            sys.stderr.flush()
            for _ in range(n_workers - 1):
                children.append(fork_child(partial(_child, run, next_fit)))
            while (i := next_fit()) is not None:
                finished(i, run(i))
                mine.add(i)
        received: dict[int, FitResult] = {}
        for _, read_end in children:
            received.update(collect_child_results(read_end))
        for i in sorted(received):
            finished(i, received[i])
        complete = True
        # Fits a child took but did not return: run them here.
        for i in sorted(set(rest) - mine - set(received)):
            finished(i, run(i))
    finally:
        for pid, read_end in children:
            with contextlib.suppress(OSError):
                os.close(read_end)
            # After an error here the children may still be fitting: stop them.
            _reap(pid, block=not complete)


def _child(
    run: Callable[[int], FitResult], next_fit: Callable[[], int | None], out: int
) -> None:  # pragma: no cover - runs in the forked child
    """A forked worker: fit until the counter runs out, send the results, exit."""
    code = 0
    try:
        results: dict[int, FitResult] = {}
        while (i := next_fit()) is not None:
            try:
                results[i] = run(i)
            except Exception:  # the parent runs it again and raises
                continue
        send_child_results(results, out)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # never return into the parent's code
        code = 1
    finally:
        os._exit(code)


def fork_child(child: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child that runs ``child(write_end)`` of a new pipe (and never returns).

    Returns
    -------
    (pid, read_end)
        The child's process id and the read end of its pipe, for
        :func:`collect_child_results`.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage is not forked)
        os.close(read_end)
        child(write_end)
    os.close(write_end)
    return pid, read_end


def send_child_results(results: dict[int, Any], out: int) -> None:
    """Send a forked child's results, pickled, through the pipe ``out`` (closed).

    Results that cannot be pickled are sent as none: the parent runs them.
    """
    try:
        data = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # unpicklable: the parent runs them
        data = pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(out, "wb") as f:
        f.write(data)


def collect_child_results(read_end: int) -> dict[int, Any]:
    """A forked child's pickled results (empty if it died before sending them all).

    Shared by the grid's processes and the bootstrap's (``gaussmix.resampling``).
    """
    chunks = []
    while chunk := os.read(read_end, 1 << 20):
        chunks.append(chunk)
    try:
        got = pickle.loads(b"".join(chunks))
    except Exception:  # truncated: the child died
        return {}
    return got if isinstance(got, dict) else {}


#: Children that had not finished exiting when their results arrived (an exit
#: takes 5-10 ms here, tearing down the copied address space): reaped later.
_EXITING: list[int] = []


def _reap(pid: int, *, block: bool) -> None:
    """Collect a child's exit status; kill it first if ``block`` and it still runs.

    Not blocking, a child still exiting is kept in ``_EXITING`` and collected by
    the next grid or at the interpreter's exit.
    """
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        if not block:
            _EXITING.append(pid)
            return
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ChildProcessError:  # collected elsewhere (someone called os.wait)
        pass


def _reap_exiting(block: bool = False) -> None:
    for pid in list(_EXITING):
        _EXITING.remove(pid)
        try:
            if block:
                os.waitpid(pid, 0)
            elif os.waitpid(pid, os.WNOHANG)[0] == 0:
                _EXITING.append(pid)
        except ChildProcessError:
            pass


atexit.register(_reap_exiting, True)


def expand_types(covariance_types: Iterable[str] | str, X: Any) -> list[str]:
    """``"all"``: mclust's 14 models (E and V for one feature); ``"sklearn"``: four."""
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    n_features = np.shape(X)[1] if np.ndim(X) == 2 else 0
    out: list[str] = []
    for t in covariance_types:
        if t == "all":
            out.extend(UNIVARIATE_MODELS if n_features == 1 else MCLUST_MODELS)
        elif t == "sklearn":
            out.extend(SKLEARN_COVARIANCE_TYPES)
        else:
            out.append(t)
    return list(dict.fromkeys(out))


def _grid_seeds(random_state: Any, n: int) -> list[int] | None:
    """Per-fit seeds when ``random_state`` is a RandomState (same serial or parallel).

    An int (or None) is passed to every fit as it is, as a serial loop would. A
    RandomState instance cannot be shared by parallel fits; one integer per fit
    is drawn from it first, in grid order, so the results do not depend on n_jobs.
    """
    if isinstance(random_state, np.random.RandomState):
        return [int(s) for s in random_state.randint(0, 2**31 - 1, size=n)]
    return None


def _fit_one(
    X: Any, k: int, t: str, kwargs: dict[str, Any], Xv: Any = None
) -> tuple[GaussianMixture, dict[str, Any]]:
    """Fit one cell of the grid; ``Xv`` is ``X`` validated (for the criteria)."""
    record: dict[str, Any] = {
        "n_components": k,
        "covariance_type": t,
        "log_likelihood": math.nan,
        "n_parameters": 0,
        "aic": math.nan,
        "bic": math.nan,
        "icl": math.nan,
        "converged": False,
        "n_iter": 0,
        "error": "",
    }
    model = GaussianMixture(n_components=k, covariance_type=t, **kwargs)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X)
            fitted = model.fitted_model()
            record.update(
                **(
                    model.information_criteria(X)
                    if Xv is None
                    else fitted.criteria(
                        Xv,
                        equal_proportions=model.equal_proportions,
                        n_threads=resolve_n_threads(model.n_jobs),
                    )
                ),
                n_parameters=fitted.n_parameters(model.equal_proportions),
                converged=bool(model.converged_),
                n_iter=int(model.n_iter_),
            )
    except (ValueError, np.linalg.LinAlgError) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"[:200]
        return model, record
    degenerate = [
        w for w in caught if issubclass(w.category, DegenerateComponentWarning)
    ]
    if degenerate:
        # A repaired component (collapsed or emptied) makes the likelihood of this
        # (K, model) meaningless for comparison; mclust reports NA there. Keep the
        # log-likelihood for inspection, but no criterion: it cannot be selected.
        record.update(aic=math.nan, bic=math.nan, icl=math.nan)
        record["error"] = f"degenerate: {degenerate[0].message}"[:200]
    return model, record


@fill_doc
class GaussianMixtureIC(DensityMixin, BaseEstimator):  # type: ignore[misc]
    """A Gaussian mixture whose K and covariance type are chosen by BIC, AIC or ICL.

    ``fit`` runs :func:`select` over the grid and keeps the best model, so the
    choice itself can sit inside a ``Pipeline`` or be cross-validated.

    Parameters
    ----------
    n_components : iterable of int, default=range(1, 10)
        Numbers of components to try.
    covariance_types : str or iterable of str, default="all"
        Covariance types to try (see :func:`select`).
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        Lower is better.
    tol, reg_covar, max_iter, n_init, init_params, random_state
        As in :class:`~gaussmix.GaussianMixture`, for every fit of the grid.
        ``'auto'`` (the default of ``tol``, ``reg_covar`` and ``init_params``)
        resolves per covariance type: mclust's EM control and hierarchical
        start for mclust's names, so that the default grid ``"all"`` gives
        ``mclustBIC``'s table, and scikit-learn's for scikit-learn's names.
    n_jobs : int or None, default=None
        Fits of the grid run in parallel (see :func:`select`).

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The selected, fitted model.
    table_ : pandas.DataFrame or numpy structured array
        One record per fit (see :func:`select`).
    n_components_, covariance_type_ : int, str
        What was selected.
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        Those of ``best_estimator_``.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix import GaussianMixtureIC
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> GaussianMixtureIC(range(1, 6), "full", random_state=0).fit(X).n_components_
    3
    """

    def __init__(
        self,
        n_components: Any = range(1, 10),
        covariance_types: Any = "all",
        criterion: str = "bic",
        *,
        tol: float | str = "auto",
        reg_covar: float | str = "auto",
        max_iter: int | str = "auto",
        n_init: int = 1,
        init_params: str = "auto",
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None) -> GaussianMixtureIC:
        """Fit every model of the grid and keep the best.

        Parameters
        ----------
        {{X_fit}}
        {{y_ignored}}

        Returns
        -------
        self : GaussianMixtureIC
        """
        options = self.get_params()
        grid = [
            options.pop(k) for k in ("n_components", "covariance_types", "criterion")
        ]
        best, table = select(X, *grid, **options)
        if best is None:
            raise ValueError(
                "GaussianMixtureIC: every fit of the grid failed; see the error "
                "column of gaussmix.select(...)[1] for why."
            )
        self.best_estimator_ = best
        self.table_ = table
        self.n_components_ = int(best.n_components)
        self.covariance_type_ = best.covariance_type
        self.n_features_in_ = best.n_features_in_
        if hasattr(best, "feature_names_in_"):
            self.feature_names_in_ = best.feature_names_in_
        for name in (
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
            "converged_",
            "n_iter_",
            "lower_bound_",
        ):
            setattr(self, name, getattr(best, name))
        return self

    def _best(self) -> GaussianMixture:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X: Any) -> Any:
        """Labels from the selected model (see ``GaussianMixture.predict``)."""
        return self._best().predict(X)

    def fit_predict(self, X: Any, y: Any = None) -> Any:
        """Fit, then label ``X`` with the selected model."""
        return self.fit(X).predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Responsibilities from the selected model."""
        return self._best().predict_proba(X)

    def score_samples(self, X: Any) -> Any:
        """Log-densities from the selected model."""
        return self._best().score_samples(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-density of ``X`` under the selected model."""
        return float(self._best().score(X))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> Any:
        """Draw from the selected model."""
        return self._best().sample(n_samples, random_state=random_state)

    def bic(self, X: Any) -> float:
        """BIC of the selected model on ``X`` (lower is better)."""
        return float(self._best().bic(X))

    def aic(self, X: Any) -> float:
        """AIC of the selected model on ``X`` (lower is better)."""
        return float(self._best().aic(X))
