"""Dimension reduction for mixtures: R mclust's ``MclustDR`` (Scrucca 2010).

:class:`MixtureDR` finds the directions of feature space along which the
components (clustering) or the classes (classification) of a fitted Gaussian
mixture differ in their means, and projects data onto them. It learns from a
fitted model, never refits it: a :class:`gaussmix.GaussianMixture` (its
components, as ``MclustDR`` does with an ``Mclust`` fit) or a fitted mixture
classifier (one mixture per class, as ``MclustDR`` does with ``MclustDA``, both
of its types: EDDA with one Gaussian per class, MclustDA with several).

The method
----------
With the data's mean ``mu`` and maximum-likelihood covariance ``Sigma`` (divisor
``n``), the components' weights ``f_k``, means ``mu_k`` and the between-component
scatter ``B = sum_k f_k (mu_k - mu)(mu_k - mu)^T``, ``MclustDR`` (its default
``lambda = 1``) takes the kernel ``M = 2 B Sigma^-1 B`` and solves the generalised
eigenproblem ``M v = l Sigma v``: the eigenvalues ``l`` say how much of the
location structure a direction carries, and the eigenvectors ``v`` (columns of
``Sigma^-1/2 U``, ``U`` the eigenvectors of ``Sigma^-1/2 M Sigma^-1/2``) are the
directions. There are at most ``min(D, G - 1)`` non-zero eigenvalues for ``G``
components; mclust keeps the directions whose eigenvalue exceeds
``sqrt(machine epsilon)``.

With ``C = Sigma^-1/2 B Sigma^-1/2`` the symmetric matrix is ``2 C^2``, so this
module takes the eigenvectors of ``C`` and the eigenvalues ``2 c^2``: the same
numbers as mclust's SVD of ``2 C^2`` (within rounding), without squaring ``C``'s
condition number first; the zero eigenvalues come out as zeros (or ~1e-30)
instead of mclust's rounding noise of ~1e-16. A singular ``Sigma`` is inverted
on its range, as mclust does (eigenvalues below ``sqrt(eps)`` of the largest are
dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import check_X
from gaussmix.core.covariance import get_family

__all__ = ["MixtureDR"]

#: mclust's thresholds: eigenvalues of ``Sigma`` below this share of its largest
#: are left out of its inverse, and kernel eigenvalues at most this value give no
#: direction (``sqrt(.Machine$double.eps)`` in both places).
_SQRT_EPS: Final = float(np.sqrt(np.finfo(np.float64).eps))

#: Fitted attributes a Gaussian mixture must have.
_MIXTURE_ATTRIBUTES: Final = ("weights_", "means_", "covariances_")
#: Fitted attributes a mixture classifier must have.
_CLASSIFIER_ATTRIBUTES: Final = ("classes_", "models_", "class_priors_")


def _fitted_mixture_arrays(
    model: Any, what: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(weights, means, dense covariances)`` of a fitted Gaussian mixture.

    Noise components (mclust's ``hypvol``) are left out, as ``MclustDR`` does:
    the Gaussians keep their weights, which then sum to less than one.
    """
    covariance_type = getattr(model, "covariance_type", None)
    missing = [a for a in _MIXTURE_ATTRIBUTES if not hasattr(model, a)]
    if covariance_type is None or missing:
        if covariance_type is not None:
            raise NotFittedError(
                f"MixtureDR: {what} is not fitted (it has no {', '.join(missing)}); "
                "call its fit(X) first. (sklearn.base.clone returns an unfitted copy "
                "of the model: wrap a fitted model in "
                "sklearn.frozen.FrozenEstimator to keep it fitted.)"
            )
        raise TypeError(
            f"MixtureDR: {what} must be a fitted gaussmix.GaussianMixture or a fitted "
            "mixture classifier (classes_, models_, class_priors_); got "
            f"{type(model).__name__}."
        )
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    if means.ndim != 2 or weights.shape != (means.shape[0],):
        raise ValueError(
            f"MixtureDR: {what} has means_ of shape {means.shape} and weights_ of "
            f"shape {weights.shape}; expected (n_components, n_features) and "
            "(n_components,)."
        )
    n_components, n_features = means.shape
    dense = get_family(covariance_type).to_dense(
        np.asarray(model.covariances_, dtype=np.float64), n_components, n_features
    )
    covariances = np.asarray(dense, dtype=np.float64).reshape(
        n_components, n_features, n_features
    )
    return weights, means, covariances


def _is_classifier(model: Any) -> bool:
    """Whether ``model`` is a mixture classifier (fitted or not), by its attributes."""
    from sklearn.base import is_classifier

    if any(hasattr(model, a) for a in _CLASSIFIER_ATTRIBUTES):
        return True
    try:
        return bool(is_classifier(model))
    except (AttributeError, TypeError):  # not a scikit-learn estimator
        return False


def _sign_fixed(vectors: FloatArray) -> FloatArray:
    """Columns scaled to unit length, each with its largest-magnitude entry positive."""
    vectors = vectors / np.linalg.norm(vectors, axis=0)
    pivot = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[pivot, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return np.asarray(vectors * signs)


def _kernel_decomposition(
    X: FloatArray, weights: FloatArray, means: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The kernel of mclust's ``MclustDR`` (``lambda = 1``) on validated float64 data.

    Returns
    -------
    mean : ndarray of shape (D,)
        The data's mean.
    kernel : ndarray of shape (D, D)
        ``M = 2 B Sigma^+ B`` (mclust's ``M``).
    eigenvalues : ndarray of shape (D,)
        Every eigenvalue of the kernel relative to ``Sigma``, largest first.
    raw_directions : ndarray of shape (D, D)
        ``Sigma^+1/2 U`` in the same order (mclust's ``raw.evectors``, up to sign).
    """
    mean = X.mean(axis=0)
    centred_x = X - mean
    sigma = centred_x.T @ centred_x / X.shape[0]
    values, vectors = np.linalg.eigh(sigma)
    keep = values > max(_SQRT_EPS * float(values.max()), 0.0)
    values, vectors = values[keep], vectors[:, keep]
    inv_sqrt = (vectors / np.sqrt(values)) @ vectors.T
    sigma_pinv = (vectors / values) @ vectors.T
    centred = means - mean
    between = centred.T @ (weights[:, None] * centred)
    kernel = 2.0 * between @ sigma_pinv @ between
    c = inv_sqrt @ between @ inv_sqrt
    c_values, c_vectors = np.linalg.eigh(0.5 * (c + c.T))
    order = np.argsort(-np.abs(c_values), kind="stable")
    eigenvalues = 2.0 * c_values[order] ** 2
    raw = inv_sqrt @ c_vectors[:, order]
    return mean, 0.5 * (kernel + kernel.T), eigenvalues, raw


class MixtureDR(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Directions that carry a fitted mixture's cluster or class structure.

    R mclust's ``MclustDR`` (Scrucca 2010, default ``lambda = 1``): the basis
    of the subspace in which the components' (or classes') means differ,
    found from a fitted model and the data it was fitted on, and the
    projection of data onto it.

    Parameters
    ----------
    model : estimator
        A fitted model, which is read and never refitted:

        * a :class:`gaussmix.GaussianMixture` (any ``covariance_type``): the
          directions separate its components, as ``MclustDR`` on an ``Mclust``
          fit. A noise component is left out (its Gaussians keep their weights).
        * a fitted mixture classifier (such as ``gaussmix.MixtureClassifier``;
          any object with ``classes_``, ``models_``, a dict from class label to
          fitted ``GaussianMixture``, and ``class_priors_``): the directions
          separate every component of every class, as ``MclustDR`` on
          ``MclustDA`` (EDDA with one component per class, MclustDA with
          several). ``fit`` then needs the training labels ``y``.

        ``sklearn.base.clone`` clones the model unfitted; wrap a fitted model in
        ``sklearn.frozen.FrozenEstimator`` to keep it fitted in a clone (for
        pipelines and grid searches).
    n_directions : int or None, default=None
        How many directions to keep. None keeps those with a non-zero eigenvalue
        (above ``sqrt(eps)``, mclust's ``numdir``), at most ``min(D, G - 1)``
        for ``G`` Gaussian components. An int must be between 1 and that
        number.

    Attributes
    ----------
    directions_ : ndarray of shape (n_features, n_directions_)
        The basis (mclust's ``basis``): one direction per column, by decreasing
        eigenvalue, each of unit Euclidean length (mclust's ``normalized =
        TRUE``). The directions are not orthogonal in general. Each column's
        sign is fixed so that its entry of largest magnitude is positive (the
        first such entry on a tie); mclust's sign is that of its SVD.
    eigenvalues_ : ndarray of shape (n_features,)
        Every eigenvalue of the kernel relative to the data's covariance,
        largest first (mclust's ``evalues``); zeros for the directions that
        carry no structure.
    n_directions_ : int
        The number of directions kept.
    mean_ : ndarray of shape (n_features,)
        The training data's mean; :meth:`transform` centres on it.
    kernel_ : ndarray of shape (n_features, n_features)
        The kernel ``M = 2 B Sigma^-1 B`` (mclust's ``M``).
    classes_ : ndarray
        The classes of a classifier's input; the component numbers
        ``0..K-1`` of a mixture's.
    component_weights_ : ndarray of shape (G,)
        The weight ``f_k`` of every Gaussian in the kernel: a mixture's
        ``weights_``, or for a classifier the class's share of the training
        rows times the component's weight within its class (mclust's ``pro``;
        mclust uses the training proportions here, not ``class_priors_``).
    component_means_ : ndarray of shape (G, n_features)
        The Gaussians' means, class by class in the order of ``classes_``.
    component_covariances_ : ndarray of shape (G, n_features, n_features)
        Their covariances as dense matrices.
    component_classes_ : ndarray of int of shape (G,)
        The index into ``classes_`` of every Gaussian.
    model_ : estimator
        The fitted model that was read (a reference, not a copy); :meth:`plot`
        uses it.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.

    See Also
    --------
    gaussmix.GaussianMixture : the mixture whose structure is projected.

    Notes
    -----
    The kernel is mclust's: the weighted scatter of the component means around
    the data's mean, ``B``, measured in the data's metric, ``M = 2 B Sigma^-1 B``,
    and the directions solve ``M v = l Sigma v``. They depend on the model only
    through its component weights and means; the covariances enter only the
    projected model that :meth:`plot` draws. mclust's option ``lambda < 1``
    (adding the spread of the component covariances to the kernel) is not
    offered. Agreement with ``MclustDR`` on the same fit: eigenvalues and
    directions within 1e-6 (``tests/test_dr.py``).

    References
    ----------
    Scrucca, L. (2010). Dimension reduction for model-based clustering.
    *Statistics and Computing*, 20(4), 471-484.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.dr import MixtureDR
    >>> X = load_iris().data
    >>> gm = GaussianMixture(3, covariance_type="VEV", init_params="hc").fit(X)
    >>> dr = MixtureDR(gm).fit(X)
    >>> dr.n_directions_, dr.transform(X).shape
    (2, (150, 2))
    """

    def __init__(self, model: Any = None, n_directions: int | None = None) -> None:
        self.model = model
        self.n_directions = n_directions

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None) -> MixtureDR:
        """Learn the directions from the fitted model and its training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data the model was fitted on (mclust's ``object$data``): its mean
            and covariance enter the kernel.
        y : array-like of shape (n_samples,), default=None
            The training labels: required for a classifier's input (they give
            the class proportions); ignored for a mixture.

        Returns
        -------
        MixtureDR
            The fitted transformer.

        Raises
        ------
        TypeError
            If ``model`` is neither a Gaussian mixture nor a mixture classifier.
        sklearn.exceptions.NotFittedError
            If ``model`` is not fitted.
        ValueError
            For bad ``X``, a width other than the model's, a classifier's input
            without ``y`` or with labels it does not know, a model with one
            Gaussian only, or an impossible ``n_directions``.
        """
        model = self.model
        if model is None:
            raise TypeError(
                "MixtureDR needs a fitted model: MixtureDR(model=GaussianMixture(...)"
                ".fit(X)) or a fitted mixture classifier."
            )
        classifier = _is_classifier(model)
        if classifier:
            parts = self._classifier_parts(model, y)
        else:
            weights, means, covariances = _fitted_mixture_arrays(model, "model")
            parts = (
                weights,
                means,
                covariances,
                np.arange(len(weights)),
                np.arange(len(weights)),
            )
        weights, means, covariances, component_classes, classes = parts
        n_model_features = means.shape[1]
        Xv = np.asarray(check_X(self, X, reset=True, min_samples=2), dtype=np.float64)
        if Xv.shape[1] != n_model_features:
            raise ValueError(
                f"X has {Xv.shape[1]} features, but the model was fitted on "
                f"{n_model_features}; pass the data the model was fitted on."
            )
        if classifier:
            weights = (
                weights * self._class_shares(model, y, Xv.shape[0])[component_classes]
            )
        if len(weights) < 2:
            raise ValueError(
                "MixtureDR: the model has one Gaussian component, so there is no "
                "cluster or class structure to project onto; fit it with at least "
                "2 components (or classes)."
            )
        with single_threaded_blas():
            mean, kernel, eigenvalues, raw = _kernel_decomposition(Xv, weights, means)
        available = int(min(Xv.shape[1], np.sum(eigenvalues > _SQRT_EPS)))
        if available == 0:
            raise ValueError(
                "MixtureDR: every eigenvalue of the kernel is zero: the component "
                "means coincide with the data's mean, so no direction separates "
                "them. Is X the data the model was fitted on?"
            )
        n_directions = self._resolve_n_directions(available)
        self.directions_ = _sign_fixed(raw[:, :n_directions])
        self.eigenvalues_ = eigenvalues
        self.n_directions_ = n_directions
        self.mean_ = mean
        self.kernel_ = kernel
        self.classes_ = classes
        self.component_weights_ = weights
        self.component_means_ = means
        self.component_covariances_ = covariances
        self.component_classes_ = component_classes
        self.model_ = model
        return self

    def _resolve_n_directions(self, available: int) -> int:
        value = self.n_directions
        if value is None:
            return available
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(
                f"n_directions must be an int or None; got {type(value).__name__} "
                f"{value!r}."
            )
        if not 1 <= int(value) <= available:
            raise ValueError(
                f"n_directions={int(value)}, but the kernel has {available} non-zero "
                f"eigenvalue{'' if available == 1 else 's'} (at most min(n_features, "
                f"n_components - 1)); use 1..{available}, or None for all of them."
            )
        return int(value)

    @staticmethod
    def _classifier_parts(
        model: Any, y: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, Any]:
        """Components of every class's mixture, class by class.

        The weights returned are those within each class (summing to one per
        class); ``fit`` multiplies them by the classes' training shares.
        """
        missing = [a for a in _CLASSIFIER_ATTRIBUTES if not hasattr(model, a)]
        if missing:
            raise NotFittedError(
                f"MixtureDR: the classifier {type(model).__name__} is not fitted (it "
                f"has no {', '.join(missing)}); call its fit(X, y) first. "
                "(sklearn.base.clone returns an unfitted copy of the model: wrap a "
                "fitted model in sklearn.frozen.FrozenEstimator to keep it fitted.)"
            )
        if y is None:
            raise ValueError(
                "MixtureDR: a classifier's directions need the training labels: "
                "call fit(X, y) with the y the classifier was fitted on."
            )
        classes = np.asarray(model.classes_)
        models = model.models_
        if not isinstance(models, Mapping):
            raise TypeError(
                "MixtureDR: the classifier's models_ must be a dict from class label "
                f"to fitted GaussianMixture; got {type(models).__name__}."
            )
        weights, means, covariances, owner = [], [], [], []
        for index, label in enumerate(classes.tolist()):
            if label not in models:
                raise ValueError(
                    f"MixtureDR: the classifier has class {label!r} in classes_ but "
                    "no model for it in models_."
                )
            w, m, c = _fitted_mixture_arrays(models[label], f"the model of {label!r}")
            weights.append(w / w.sum())
            means.append(m)
            covariances.append(c)
            owner.append(np.full(len(w), index))
        widths = {m.shape[1] for m in means}
        if len(widths) != 1:
            raise ValueError(
                "MixtureDR: the classifier's models were fitted on different numbers "
                f"of features ({sorted(widths)})."
            )
        return (
            np.concatenate(weights),
            np.concatenate(means),
            np.concatenate(covariances),
            np.concatenate(owner),
            classes,
        )

    @staticmethod
    def _class_shares(model: Any, y: Any, n_samples: int) -> FloatArray:
        """Each class's share of the training rows (mclust's ``m / sum(m)``)."""
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.shape[0] != n_samples:
            raise ValueError(
                f"MixtureDR: y must be 1-D with one label per row of X ({n_samples}); "
                f"got shape {labels.shape}."
            )
        classes = np.asarray(model.classes_)
        counts = np.array([np.sum(labels == c) for c in classes.tolist()], dtype=float)
        if counts.sum() != n_samples:
            known = set(classes.tolist())
            unknown = sorted({v for v in labels.tolist() if v not in known}, key=str)
            raise ValueError(
                f"MixtureDR: y has labels the classifier does not know: "
                f"{unknown[:5]}; its classes_ are {classes.tolist()}."
            )
        if np.any(counts == 0):
            empty = [c for c, n in zip(classes.tolist(), counts, strict=True) if n == 0]
            raise ValueError(
                f"MixtureDR: class(es) {empty} of the classifier have no row in y; "
                "pass the labels the classifier was fitted on."
            )
        return np.asarray(counts / n_samples)

    # ------------------------------------------------------------ transform
    def transform(self, X: Any) -> FloatArray:
        """Project ``X`` on the directions (mclust's ``dir``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to project; centred on the training data's mean ``mean_``.

        Returns
        -------
        ndarray of shape (n_samples, n_directions_)
            ``(X - mean_) @ directions_``.
        """
        check_is_fitted(self)
        Xv = np.asarray(check_X(self, X, reset=False, min_samples=1), dtype=np.float64)
        return np.asarray((Xv - self.mean_) @ self.directions_)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """Names of the projections: ``dir1``, ``dir2``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored (the outputs do not correspond to input features).

        Returns
        -------
        ndarray of str of shape (n_directions_,)
        """
        check_is_fitted(self)
        return np.asarray(
            [f"dir{k + 1}" for k in range(self.n_directions_)], dtype=object
        )

    # ------------------------------------------------------------ the plane
    def projected_components(
        self, directions: tuple[int, ...] = (0, 1)
    ) -> tuple[FloatArray, FloatArray]:
        """Means and covariances of the Gaussians projected on some directions.

        The exact distribution of ``(x - mean_) @ directions_[:, directions]``
        under each component (mclust's ``projpar.MclustDR``).

        Parameters
        ----------
        directions : tuple of int, default=(0, 1)
            Indices of the directions (0 is the first).

        Returns
        -------
        means : ndarray of shape (G, len(directions))
        covariances : ndarray of shape (G, len(directions), len(directions))
        """
        check_is_fitted(self)
        V = self.directions_[:, list(directions)]
        means = (self.component_means_ - self.mean_) @ V
        covariances = np.einsum("di,kde,ej->kij", V, self.component_covariances_, V)
        return np.asarray(means), np.asarray(covariances)

    def _plot_log_weights(self) -> FloatArray:
        """Log-weights of the Gaussians in the decision rule that :meth:`plot` draws."""
        model = self.model_
        if _is_classifier(model):
            priors = np.asarray(model.class_priors_, dtype=np.float64).reshape(-1)
            within = np.concatenate(
                [
                    np.asarray(model.models_[c].weights_, dtype=np.float64)
                    / np.sum(model.models_[c].weights_)
                    for c in np.asarray(self.classes_).tolist()
                ]
            )
            return np.asarray(np.log(within) + np.log(priors[self.component_classes_]))
        return np.asarray(np.log(self.component_weights_))

    def class_log_posterior(self, Z: Any) -> FloatArray:
        """Log-posteriors of the classes (or clusters) given projected points only.

        The model restricted to the projections: each Gaussian replaced by its
        projection (:meth:`projected_components`), weighted as the model
        predicts (a mixture's ``weights_``; a classifier's ``class_priors_``
        times each class's component weights), and the Gaussians of a class
        summed. A noise component is left out.

        Parameters
        ----------
        Z : array-like of shape (n_points, k)
            Points in the space of the first ``k`` directions.

        Returns
        -------
        ndarray of shape (n_points, len(classes_))
        """
        from scipy.special import logsumexp
        from scipy.stats import multivariate_normal

        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or not 1 <= Z.shape[1] <= self.n_directions_:
            raise ValueError(
                "Z must be a 2-D array with 1 to n_directions_ "
                f"({self.n_directions_}) columns; got shape {Z.shape}."
            )
        means, covariances = self.projected_components(tuple(range(Z.shape[1])))
        log_w = self._plot_log_weights()
        joint = np.column_stack(
            [
                log_w[k] + multivariate_normal.logpdf(Z, means[k], covariances[k])
                for k in range(len(log_w))
            ]
        ).reshape(Z.shape[0], len(log_w))
        n_classes = len(self.classes_)
        per_class = np.column_stack(
            [
                logsumexp(joint[:, self.component_classes_ == c], axis=1)
                for c in range(n_classes)
            ]
        ).reshape(Z.shape[0], n_classes)
        return np.asarray(per_class - logsumexp(per_class, axis=1, keepdims=True))

    def _class_index(self, X: FloatArray, y: Any) -> IntArray:
        """The index into ``classes_`` of every row's label (-1 for noise)."""
        classifier = _is_classifier(self.model_)
        if y is None:
            labels = np.asarray(self.model_.predict(X))
            if not classifier:
                return np.asarray(labels, dtype=int)
        else:
            labels = np.asarray(y)
            if labels.shape != (X.shape[0],):
                raise ValueError(
                    f"y must have one label per row of X ({X.shape[0]}); got shape "
                    f"{labels.shape}."
                )
        index = np.full(X.shape[0], -1, dtype=int)
        for k, c in enumerate(np.asarray(self.classes_).tolist()):
            index[labels == c] = k
        unknown = index < 0
        if not classifier:
            unknown &= labels != -1  # a mixture's noise label
        if np.any(unknown):
            bad = sorted(set(labels[unknown].tolist()), key=str)[:5]
            what = (
                "the classifier's classes_"
                if classifier
                else "the mixture's component numbers (and -1 for noise)"
            )
            raise ValueError(f"y has labels that are not {what}: {bad}.")
        return index

    def plot(self, X: Any, y: Any = None, ax: Any = None) -> Any:
        """The data on the first two directions, with the decision regions.

        Points are coloured by ``y`` (labels among ``classes_``: a classifier's
        classes, a mixture's component numbers with -1 for noise), or when
        ``y`` is None by the model's own ``predict(X)``
        in the full space (clusters, or predicted classes; a noise component's
        points in grey). The background shows the **decision regions of the
        model restricted to the plane**: every Gaussian replaced by its exact
        projection on the two directions, weighted as the model predicts, and
        each point of the plane given to the class (or cluster) of largest
        posterior (:meth:`class_log_posterior`, mclust's
        ``plot(MclustDR, what = "classification")``); solid lines are their
        boundaries. These regions are those of the projected model, not the
        full model's decisions (which depend on the directions left out).

        With one direction (``n_directions_ == 1``) it draws the weighted
        projected class densities along it, the data as a rug, and the
        boundaries as vertical lines.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to draw.
        y : array-like of shape (n_samples,), default=None
            Their labels; None uses the model's ``predict``.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        matplotlib.axes.Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "plotting needs matplotlib: pip install 'gaussmix[plot]'"
            ) from None
        from gaussmix.plotting import NOISE_COLOR

        check_is_fitted(self)
        Xv = np.asarray(check_X(self, X, reset=False, min_samples=1), dtype=np.float64)
        index = self._class_index(Xv, y)
        Z = self.transform(Xv)
        n_classes = len(self.classes_)
        cmap = plt.get_cmap("tab10" if n_classes <= 10 else "turbo")
        colors = [
            cmap(k if n_classes <= 10 else k / max(n_classes - 1, 1))
            for k in range(n_classes)
        ]
        names = [
            f"cluster {c}" if not _is_classifier(self.model_) else str(c)
            for c in np.asarray(self.classes_).tolist()
        ]
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 5.0), layout="constrained")
        if self.n_directions_ == 1:
            self._plot_line(ax, Z[:, 0], index, colors, names, NOISE_COLOR)
            return ax
        pad = 0.05 * (Z[:, :2].max(axis=0) - Z[:, :2].min(axis=0))
        lo, hi = Z[:, :2].min(axis=0) - pad, Z[:, :2].max(axis=0) + pad
        grid_x = np.linspace(lo[0], hi[0], 200)
        grid_y = np.linspace(lo[1], hi[1], 200)
        gx, gy = np.meshgrid(grid_x, grid_y)
        post = self.class_log_posterior(np.column_stack([gx.ravel(), gy.ravel()]))
        region = post.argmax(axis=1).reshape(gx.shape)
        from matplotlib.colors import ListedColormap

        ax.pcolormesh(
            gx,
            gy,
            region,
            cmap=ListedColormap(colors),
            vmin=-0.5,
            vmax=n_classes - 0.5,
            alpha=0.15,
            shading="nearest",
            rasterized=True,
        )
        for c in range(n_classes):
            others = np.delete(post, c, axis=1).max(axis=1)
            margin = (post[:, c] - others).reshape(gx.shape)
            if margin.min() < 0 < margin.max():
                ax.contour(gx, gy, margin, levels=[0.0], colors="0.25", linewidths=1)
        for k in range(-1, n_classes):
            rows = index == k
            if not np.any(rows):
                continue
            ax.scatter(
                Z[rows, 0],
                Z[rows, 1],
                s=14,
                color=NOISE_COLOR if k < 0 else colors[k],
                edgecolors="none",
                label="noise" if k < 0 else names[k],
            )
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel("direction 1")
        ax.set_ylabel("direction 2")
        ax.set_title("MixtureDR: decision regions of the projected model")
        ax.legend(fontsize="small", loc="best")
        return ax

    def _plot_line(
        self,
        ax: Any,
        z: FloatArray,
        index: IntArray,
        colors: list[Any],
        names: list[str],
        noise_color: str,
    ) -> None:
        """One direction: weighted projected class densities, rug and boundaries."""
        from scipy.special import logsumexp
        from scipy.stats import norm

        span = z.max() - z.min()
        grid = np.linspace(z.min() - 0.1 * span, z.max() + 0.1 * span, 400)
        means, covariances = self.projected_components((0,))
        log_w = self._plot_log_weights()
        joint = np.column_stack(
            [
                log_w[k] + norm.logpdf(grid, means[k, 0], np.sqrt(covariances[k, 0, 0]))
                for k in range(len(log_w))
            ]
        )
        n_classes = len(self.classes_)
        per_class = np.column_stack(
            [
                logsumexp(joint[:, self.component_classes_ == c], axis=1)
                for c in range(n_classes)
            ]
        )
        for c in range(n_classes):
            ax.plot(grid, np.exp(per_class[:, c]), color=colors[c], label=names[c])
        best = per_class.argmax(axis=1)
        for i in np.flatnonzero(np.diff(best)):
            ax.axvline(0.5 * (grid[i] + grid[i + 1]), color="0.25", linewidth=1)
        top = float(np.exp(per_class).max())
        for k in range(-1, n_classes):
            rows = index == k
            if np.any(rows):
                ax.plot(
                    z[rows],
                    np.full(int(rows.sum()), -0.03 * top),
                    "|",
                    color=noise_color if k < 0 else colors[k],
                    markersize=8,
                )
        ax.set_xlabel("direction 1")
        ax.set_ylabel("weighted density")
        ax.set_title("MixtureDR: projected class densities")
        ax.legend(fontsize="small", loc="best")
