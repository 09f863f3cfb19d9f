"""Classification by Gaussian mixtures: mclust's EDDA, MclustDA and MclustSSC.

:class:`MixtureClassifier` models each class's density by Gaussians and
classifies by Bayes' rule, ``P(c | x) ∝ prior_c p_c(x)``:

* ``model_type="EDDA"`` (Bensmail & Celeux 1996): one Gaussian per class, with
  one covariance model common to the classes, chosen by BIC among mclust's 14
  (``covariance_types`` restricts them). The parameters are the M-step of the
  class indicators: linear discriminant analysis is EDDA with ``EEE`` (one
  covariance matrix for all classes), quadratic discriminant analysis is EDDA
  with ``VVV`` (one per class).
* ``model_type="MclustDA"`` (Fraley & Raftery 2002): each class its own mixture,
  its number of components and covariance model chosen by BIC over
  ``n_components`` x ``covariance_types`` (:func:`gaussmix.select`, with
  mclust's hierarchical start).
* With ``unlabelled_label=-1`` (scikit-learn's convention for semi-supervised
  learning), rows of ``y`` equal to ``-1`` are unlabelled. With EDDA they enter
  the fit with their responsibilities, as mclust's ``MclustSSC``: EM in which
  the labelled rows keep their class and the unlabelled ones are shared among
  the classes by their posteriors. It is not the default: binary labels are
  often ``-1`` and ``1``, and reading them as half unlabelled would be a silent
  wrong answer.

Each part follows R's mclust 6 (``MclustDA``, ``predict.MclustDA``,
``logLik.MclustDA``, ``MclustSSC.fit``), so that the selected models, the
criteria and the posteriors agree with R's (``tests/test_classifier.py``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from gaussmix._docs import fill_doc
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import check_parameters, resolve_em_control
from gaussmix.core import kernels
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.estep import stats_from_resp
from gaussmix.core.fast_em import first_step_log_likelihood
from gaussmix.core.mstep import m_step
from gaussmix.core.params import GMMParams
from gaussmix.mixture import GaussianMixture, build_fitted
from gaussmix.model import FitInfo, MixtureModel
from gaussmix.selection import expand_types, select

__all__ = ["MODEL_TYPES", "MixtureClassifier"]

#: The values of ``model_type``.
MODEL_TYPES = ("EDDA", "MclustDA")

#: Rows a class needs at the least (a covariance from one row is zero).
MIN_CLASS_ROWS = 2


@fill_doc
class MixtureClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier whose classes are Gaussian mixtures (mclust's MclustDA).

    Parameters
    ----------
    model_type : {'EDDA', 'MclustDA'}, default='EDDA'
        ``'EDDA'``: one Gaussian per class, one covariance model common to the
        classes (LDA is EDDA with ``'EEE'``, QDA with ``'VVV'``). ``'MclustDA'``:
        a mixture per class, its K and covariance model chosen by BIC.
    covariance_types : str or iterable of str, default='all'
        The covariance models to choose from: ``'all'`` is mclust's 14 (``E``
        and ``V`` for one feature); any registered names, including
        scikit-learn's ``'full'``, ``'tied'``, ``'diag'``, ``'spherical'``.
        Give one name to fix the model (``'EEE'``: linear discriminant
        analysis).
    n_components : iterable of int, default=(1, 2, 3, 4, 5)
        With ``'MclustDA'``, the numbers of components tried for each class
        (those above a class's number of rows are left out). Ignored by EDDA.
    class_priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes, in the order of ``classes_``
        (normalised to sum to one). None: the training proportions of the
        labelled rows, or with unlabelled rows the fitted mixing proportions.
    tol, reg_covar, max_iter : float, float, int or 'auto', default='auto'
        EM control of the fits, as in :class:`~gaussmix.GaussianMixture`
        (``'auto'``: mclust's for mclust's names). EDDA on labelled rows has
        no EM (one M-step); with unlabelled rows EM stops when the total
        log-likelihood rises by at most ``tol`` (mclust's ``MclustSSC``).
    random_state : int, RandomState instance or None, default=None
        Seed of the hierarchical start on classes above 2,000 rows
        (``'MclustDA'``).
    n_jobs : int or None, default=None
        Parallel fits of each class's grid (``'MclustDA'``; see
        :func:`gaussmix.select`). None fits them serially: a class's grid is
        small, and processes cost more than they save there.
    unlabelled_label : int, str or None, default=None
        The label that marks an unlabelled row (``-1`` in scikit-learn's
        semi-supervised estimators). Those rows enter EDDA's fit through
        their posteriors (mclust's ``MclustSSC``). None: every label is a
        class.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (``-1``, unlabelled, is not one).
    models_ : dict
        Class label -> fitted :class:`~gaussmix.GaussianMixture`, the class's
        density (one component with EDDA).
    covariance_type_ : str or dict
        EDDA's common covariance model; with ``'MclustDA'`` a dict, class label
        -> the class's model.
    class_priors_ : ndarray of shape (n_classes,)
        The priors used by ``predict_proba``.
    bic_ : float
        BIC of the fitted classifier, in scikit-learn's sign (lower is better;
        mclust prints the opposite). EDDA: of the selected model, counting no
        class proportions (mclust's ``equalPro``); MclustDA: of the mixture of
        the class densities weighted by the training proportions
        (``logLik.MclustDA``); with unlabelled rows: ``MclustSSC``'s.
    bics_ : dict
        EDDA: covariance model -> BIC (NaN where a class's covariance is
        singular, as mclust's NA). MclustDA: class label -> the selection table
        of :func:`gaussmix.select`.
    log_likelihood_ : float
        The log-likelihood behind ``bic_`` (total over the training rows).
    n_parameters_ : int
        The free parameters counted by ``bic_``.
    n_iter_ : int
        Iterations of the fit: EM's with unlabelled rows, 1 for EDDA on
        labelled rows (its one M-step), the largest of the classes' EM with
        ``'MclustDA'``.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    gaussmix.select : The model selection used per class by ``'MclustDA'``.

    Notes
    -----
    EDDA's BIC follows mclust: the log-likelihood is that of the mixture of the
    class Gaussians with the class proportions as weights, evaluated on all
    training rows, and the proportions are not counted as parameters. Models
    whose M-step would need a repair (a class with too few rows for its
    covariance) get NaN, like mclust's NA, and are never selected.

    References
    ----------
    Bensmail, H. and Celeux, G. (1996). Regularized Gaussian discriminant
    analysis through eigenvalue decomposition. JASA 91, 1743-1748.

    Fraley, C. and Raftery, A. E. (2002). Model-based clustering, discriminant
    analysis and density estimation. JASA 97, 611-631.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from gaussmix import MixtureClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MixtureClassifier().fit(X, y)
    >>> clf.covariance_type_
    'VEV'
    >>> round(clf.score(X, y), 3)
    0.98
    """

    covariance_type_: str | dict[Any, str]

    def __init__(
        self,
        model_type: str = "EDDA",
        covariance_types: Any = "all",
        n_components: Any = (1, 2, 3, 4, 5),
        *,
        class_priors: Any = None,
        tol: float | str = "auto",
        reg_covar: float | str = "auto",
        max_iter: int | str = "auto",
        random_state: Any = None,
        n_jobs: int | None = None,
        unlabelled_label: Any = None,
    ) -> None:
        self.model_type = model_type
        self.covariance_types = covariance_types
        self.n_components = n_components
        self.class_priors = class_priors
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.unlabelled_label = unlabelled_label

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> MixtureClassifier:
        """Fit the class densities to labelled (and unlabelled) rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Their classes; ``unlabelled_label`` marks an unlabelled row.

        Returns
        -------
        self : MixtureClassifier
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        types = self._types(X)
        labelled = _labelled_rows(y, self.unlabelled_label)
        classes, codes = np.unique(y[labelled], return_inverse=True)
        self._check_classes(classes, codes)
        self.classes_ = classes
        if self.model_type == "EDDA":
            if labelled.all():
                self._fit_edda(X, codes, types)
            else:
                self._fit_semi_supervised(X, codes, labelled, types)
        else:
            if not labelled.all():
                raise ValueError(
                    "MixtureClassifier(model_type='MclustDA') needs every row "
                    f"labelled; y has {int((~labelled).sum())} rows of "
                    f"{self.unlabelled_label!r} (unlabelled). Semi-supervised "
                    "fitting uses EDDA's model (mclust's MclustSSC): use "
                    "model_type='EDDA'."
                )
            self._fit_mclustda(X, codes, types)
        if self.class_priors is not None:
            self.class_priors_ = self._given_priors(len(classes))
        return self

    def _types(self, X: FloatArray) -> list[str]:
        """The covariance models to choose from, checked."""
        if self.model_type not in MODEL_TYPES:
            raise ValueError(
                f"Invalid value for 'model_type': {self.model_type!r}. Use one of "
                f"{MODEL_TYPES}."
            )
        types = expand_types(self.covariance_types, X)
        if not types:
            raise ValueError("MixtureClassifier needs at least one covariance type.")
        for t in types:
            check_parameters(
                {
                    "covariance_type": t,
                    "tol": self.tol,
                    "reg_covar": self.reg_covar,
                    "max_iter": self.max_iter,
                    "random_state": self.random_state,
                    "n_jobs": self.n_jobs,
                },
                "MixtureClassifier",
            )
            get_family(t).check_n_features(X.shape[1])
        return types

    def _check_classes(self, classes: Any, codes: IntArray) -> None:
        if len(classes) < 2:
            raise ValueError(
                "MixtureClassifier needs at least two classes; y has only one "
                f"class ({classes.tolist()!r}) among its labelled rows."
            )
        counts = np.bincount(codes, minlength=len(classes))
        few = np.flatnonzero(counts < MIN_CLASS_ROWS)
        if few.size:
            names = ", ".join(f"{classes[i]!r} ({counts[i]})" for i in few)
            raise ValueError(
                f"Too few rows in a class: every class needs at least "
                f"{MIN_CLASS_ROWS} labelled rows to estimate its covariance; "
                f"these have fewer: {names}."
            )

    def _given_priors(self, n_classes: int) -> FloatArray:
        priors = np.asarray(self.class_priors, dtype=np.float64).ravel()
        if priors.shape != (n_classes,):
            raise ValueError(
                f"class_priors has {priors.size} values; give one per class "
                f"({n_classes}, in the order of classes_)."
            )
        if not np.all(np.isfinite(priors)) or np.any(priors < 0) or priors.sum() <= 0:
            raise ValueError(
                "class_priors must be finite, non-negative and not all zero; got "
                f"{priors.tolist()}."
            )
        out: FloatArray = priors / priors.sum()
        return out

    def _control(self, covariance_type: str) -> tuple[float, float, int]:
        control = resolve_em_control(
            covariance_type, self.tol, self.reg_covar, max_iter=self.max_iter
        )
        return control.tol, control.reg_covar, control.max_iter

    # --- EDDA
    def _fit_edda(self, X: FloatArray, codes: IntArray, types: list[str]) -> None:
        n_samples, n_features = X.shape
        n_classes = len(self.classes_)
        resp = _one_hot(codes, n_classes)
        shift = X.mean(axis=0)
        if len(types) >= kernels.EDDA_MIN_MODELS:
            kernels.load()  # the compiled M-steps pay for their load here
        bics: dict[str, float] = {}
        best: tuple[str, float] | None = None
        for t in types:
            family = get_family(t)
            _, reg_covar, _ = self._control(t)
            loglik = first_step_log_likelihood(
                X, codes, n_classes, family, reg_covar=reg_covar
            )
            if loglik is None:  # no compiled kernels for it: NumPy
                params = _m_step(X, resp, family, shift, reg_covar)
                loglik = (
                    math.nan
                    if params is None
                    else float(_mixture_log_density(X, params, t).sum())
                )
            if math.isnan(loglik):
                bics[t] = math.nan
                continue
            df = family.n_parameters(n_classes, n_features) - (n_classes - 1)
            bics[t] = -2.0 * loglik + df * math.log(n_samples)
            # mclust keeps the last of equal maxima of its BIC.
            if best is None or bics[t] <= bics[best[0]]:
                best = (t, loglik)
        if best is None:
            raise ValueError(
                "MixtureClassifier: no covariance model could be estimated (every "
                "class covariance was singular for every model tried); try "
                "covariance_types with fewer parameters, such as 'EII' or 'EEI'."
            )
        t, loglik = best
        params = _m_step(X, resp, get_family(t), shift, self._control(t)[1])
        if params is None:  # pragma: no cover - the compiled step took it
            raise ValueError(f"MixtureClassifier: the M-step of {t!r} failed.")
        self.covariance_type_ = t
        self.bics_ = bics
        self.bic_ = bics[t]
        self.log_likelihood_ = loglik
        self.n_parameters_ = get_family(t).n_parameters(n_classes, n_features) - (
            n_classes - 1
        )
        self.n_iter_ = 1
        self.class_priors_ = np.bincount(codes, minlength=n_classes) / len(codes)
        self.models_ = _class_models(X, codes, params, t, self.classes_)

    # --- semi-supervised EDDA (mclust's MclustSSC)
    def _fit_semi_supervised(
        self, X: FloatArray, codes: IntArray, labelled: Any, types: list[str]
    ) -> None:
        n_samples, n_features = X.shape
        n_classes = len(self.classes_)
        known = _one_hot(codes, n_classes)
        shift = X.mean(axis=0)
        bics: dict[str, float] = {}
        best: tuple[str, GMMParams, float, int, int] | None = None
        for t in types:
            family = get_family(t)
            tol, reg_covar, max_iter = self._control(t)
            found = _semi_supervised_em(
                X, known, labelled, family, t, shift, tol, reg_covar, max_iter
            )
            if found is None:
                bics[t] = math.nan
                continue
            params, loglik, n_iter = found
            df = family.n_parameters(n_classes, n_features)
            bic = -2.0 * loglik + df * math.log(n_samples)
            bics[t] = bic
            if best is None or bic <= bics[best[0]]:
                best = (t, params, loglik, df, n_iter)
        if best is None:
            raise ValueError(
                "MixtureClassifier: no covariance model could be estimated from "
                "the labelled and unlabelled rows; try covariance_types with "
                "fewer parameters, such as 'EII' or 'EEI'."
            )
        t, params, loglik, df, n_iter = best
        self.covariance_type_ = t
        self.bics_ = bics
        self.bic_ = bics[t]
        self.log_likelihood_ = loglik
        self.n_parameters_ = df
        self.n_iter_ = n_iter
        weights = np.asarray(params.weights, dtype=np.float64)
        self.class_priors_ = weights / weights.sum()
        self.models_ = _class_models(X[labelled], codes, params, t, self.classes_)

    # --- MclustDA
    def _fit_mclustda(self, X: FloatArray, codes: IntArray, types: list[str]) -> None:
        n_samples, _ = X.shape
        n_classes = len(self.classes_)
        ks = sorted({int(k) for k in self.n_components})
        if not ks or ks[0] < 1:
            raise ValueError(
                "n_components must be positive integers (the numbers of "
                f"components tried per class); got {self.n_components!r}."
            )
        models: dict[Any, GaussianMixture] = {}
        tables: dict[Any, Any] = {}
        for j, label in enumerate(self.classes_):
            rows = X[codes == j]
            fitted, table = self._select_class(rows, ks, types, label)
            models[label] = fitted
            tables[label] = table
        self.models_ = models
        self.covariance_type_ = {c: m.covariance_type for c, m in models.items()}
        self.bics_ = tables
        self.class_priors_ = np.bincount(codes, minlength=n_classes) / n_samples
        log_dens = np.column_stack([models[c].score_samples(X) for c in self.classes_])
        loglik = float(logsumexp(log_dens + np.log(self.class_priors_), axis=1).sum())
        df = sum(int(m.n_parameters()) for m in models.values())
        self.log_likelihood_ = loglik
        self.n_parameters_ = df
        self.bic_ = -2.0 * loglik + df * math.log(n_samples)
        self.n_iter_ = max(int(m.n_iter_) for m in models.values())

    def _select_class(
        self, rows: FloatArray, ks: list[int], types: list[str], label: Any
    ) -> tuple[GaussianMixture, Any]:
        usable = [k for k in ks if k <= rows.shape[0]]
        with warnings.catch_warnings():
            # Degenerate cells are reported in the table (NaN criteria), as
            # mclust's NA; the chosen model is never one of them.
            warnings.simplefilter("ignore")
            fitted, table = select(
                rows,
                usable,
                types,
                tol=self.tol,
                reg_covar=self.reg_covar,
                max_iter=self.max_iter,
                random_state=self.random_state,
                # A class's grid is small: processes cost more than they save
                # (iris: 0.66 s in processes, 0.32 s serially, 2 busy cores).
                n_jobs=1 if self.n_jobs is None else self.n_jobs,
            )
        if fitted is None:
            raise ValueError(
                f"MixtureClassifier: no mixture could be fitted to class {label!r} "
                f"({rows.shape[0]} rows); see gaussmix.select on its rows for why, "
                "or try covariance_types with fewer parameters."
            )
        return fitted, table

    # -------------------------------------------------------------- predict
    def _log_joint(self, X: Any) -> FloatArray:
        """``log prior_c + log p_c(x)``, shape (n_samples, n_classes)."""
        check_is_fitted(self, "models_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        columns = [self.models_[c].score_samples(X) for c in self.classes_]
        with np.errstate(divide="ignore"):
            log_priors = np.log(self.class_priors_)
        return np.column_stack(columns) + log_priors

    def predict_log_proba(self, X: Any) -> FloatArray:
        """Log posterior probabilities of the classes.

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``log P(c | x)``, columns in the order of ``classes_``.
        """
        joint = self._log_joint(X)
        out: FloatArray = joint - logsumexp(joint, axis=1, keepdims=True)
        return out

    def predict_proba(self, X: Any) -> FloatArray:
        """Posterior probabilities of the classes (Bayes' rule).

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``P(c | x) = prior_c p_c(x) / sum_j prior_j p_j(x)``, columns in the
            order of ``classes_``; each row sums to one.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> Any:
        """The most probable class of each row.

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        joint = self._log_joint(X)
        return self.classes_[np.argmax(joint, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


# ------------------------------------------------------------------ helpers
def _labelled_rows(y: Any, unlabelled_label: Any) -> Any:
    """True for the rows whose label is not ``unlabelled_label``."""
    y = np.asarray(y)
    if unlabelled_label is None:
        return np.ones(len(y), dtype=bool)
    return np.asarray(y != unlabelled_label, dtype=bool)


def _one_hot(codes: IntArray, n_classes: int) -> FloatArray:
    resp = np.zeros((len(codes), n_classes))
    resp[np.arange(len(codes)), codes] = 1.0
    return resp


def _m_step(
    X: FloatArray,
    resp: FloatArray,
    family: CovarianceFamily,
    shift: FloatArray,
    reg_covar: float,
) -> GMMParams | None:
    """The M-step of given responsibilities; None where it needs a repair (NA)."""
    stats = stats_from_resp(X, resp, family, resp.shape[1], shift)
    try:
        params, repairs = m_step(stats, family, reg_covar)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return None if repairs else params


def _weighted_log_prob(X: FloatArray, params: GMMParams, t: str) -> FloatArray:
    return MixtureModel.from_params(params, t, np.float64).weighted_log_prob(X)


def _mixture_log_density(X: FloatArray, params: GMMParams, t: str) -> FloatArray:
    out: FloatArray = logsumexp(_weighted_log_prob(X, params, t), axis=1)
    return out


def _semi_supervised_em(
    X: FloatArray,
    known: FloatArray,
    labelled: Any,
    family: CovarianceFamily,
    t: str,
    shift: FloatArray,
    tol: float,
    reg_covar: float,
    max_iter: int,
) -> tuple[GMMParams, float, int] | None:
    """EM with the labelled rows' classes fixed (mclust's ``MclustSSC.fit``).

    The unlabelled rows start shared equally among the classes. Each
    iteration is an M-step from the responsibilities, then the posteriors of
    the unlabelled rows; the log-likelihood is that of the unlabelled rows'
    mixture density plus the labelled rows' ``log(w_c p_c(x))``. EM stops when
    it rises by at most ``tol`` (or falls), or after ``max_iter`` iterations.
    Returns the last M-step's parameters, their log-likelihood and the
    iterations; None where an M-step needs a repair.
    """
    n_samples = X.shape[0]
    n_classes = known.shape[1]
    resp = np.full((n_samples, n_classes), 1.0 / n_classes)
    resp[labelled] = known
    unlabelled = ~labelled
    previous = -math.inf
    n_iter = 0
    params: GMMParams | None = None
    loglik = -math.inf
    while True:
        n_iter += 1
        params = _m_step(X, resp, family, shift, reg_covar)
        if params is None:
            return None
        log_prob = _weighted_log_prob(X, params, t)
        log_norm = logsumexp(log_prob[unlabelled], axis=1)
        resp[unlabelled] = np.exp(log_prob[unlabelled] - log_norm[:, None])
        loglik = float(log_norm.sum() + (log_prob[labelled] * known).sum())
        if not (n_iter < max_iter and loglik - previous > tol):
            break
        previous = loglik
    return params, loglik, n_iter


def _class_models(
    X: FloatArray,
    codes: IntArray,
    params: GMMParams,
    covariance_type: str,
    classes: Any,
) -> dict[Any, GaussianMixture]:
    """Class label -> a fitted one-component GaussianMixture of its Gaussian."""
    family = get_family(covariance_type)
    precisions_cholesky = np.asarray(params.precisions_cholesky)
    covariances = np.asarray(params.covariances)
    template = GaussianMixture(
        n_components=1, covariance_type=covariance_type
    ).get_params()
    models: dict[Any, GaussianMixture] = {}
    for j, label in enumerate(classes):
        keep = slice(None) if family.shared else slice(j, j + 1)
        factor = precisions_cholesky[keep]
        model = MixtureModel(
            covariance_type=covariance_type,
            weights=np.ones(1),
            means=np.asarray(params.means)[j : j + 1].copy(),
            covariances=covariances[keep].copy(),
            precisions_cholesky=factor.copy(),
            precisions=family.precisions(factor),
        )
        rows = X[codes == j]
        log_density = model.log_prob_resp(rows, want_resp=False)[0]
        info = FitInfo(
            converged=True,
            n_iter=0,
            lower_bound=float(np.mean(log_density)),
            lower_bounds=[],
        )
        models[label] = build_fitted(template, model, info)
    return models
