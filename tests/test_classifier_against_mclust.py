"""MixtureClassifier against R's MclustDA (EDDA, MclustDA) and MclustSSC.

The data sets ship with R and mclust: iris (Species), diabetes (class),
banknote (Status), thyroid (Diagnosis), and faithful with two classes made from
its eruptions (longer than 3 minutes or not), a labelling that R and gaussmix
both compute. R's answers are stored in ``tests/references/mclust/`` (see
``tests/mclust_oracle.py``): these tests run without R.

mclust's BIC is ``2 loglik - df log n`` (higher is better); gaussmix's
``bic_`` is the same number with the opposite sign.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gaussmix import MixtureClassifier
from gaussmix.core.covariance import get_family

pytestmark = pytest.mark.mclust

#: Posterior probabilities and criteria: mclust's and ours within this
#: (relative for the criteria, absolute for probabilities).
RTOL = 1e-6

#: The same where the selected model's M-step iterates on its orientation
#: (EVE, VVE): gaussmix's plane rotations reach the maximum of the M-step,
#: mclust's MM updates stop short of it (by up to 5e-4 of the M-step's
#: objective on banknote), which moves the fitted classes' parameters a little
#: (and the posteriors of the rows near a tie, by up to 0.015 on faithful).
ITERATIVE_RTOL = 1e-4
ITERATIVE_ATOL = 1e-3


def tolerances(covariance_type):
    """(relative, absolute) tolerances for a model (see ITERATIVE_RTOL)."""
    family = get_family(covariance_type)
    if family.iterative and family.model[2] == "E":  # a common orientation
        return ITERATIVE_RTOL, ITERATIVE_ATOL
    return RTOL, RTOL


#: (data set, the column of the classes in R).
DATASETS = [
    ("iris", "Species"),
    ("diabetes", "class"),
    ("banknote", "Status"),
    ("thyroid", "Diagnosis"),
    ("faithful", None),
]


def labelled(mclust, name, column):
    """The numeric columns of an R data set and its classes (1, 2, ...)."""
    if column is None:  # faithful: long eruptions or not
        classes = "cl <- as.integer(d$eruptions > 3) + 1L\n"
    else:
        classes = f"cl <- as.integer(as.factor(d[['{column}']]))\n"
    got = mclust.run_r(
        f"data({name}, package = c('datasets', 'mclust'))\n"
        f"d <- {name}\n" + classes + "x <- as.matrix(d[, sapply(d, is.numeric)])\n"
        "emit(list(x = x, y = cl))\n"
    )
    X = np.asarray(got["x"], dtype=np.float64)
    y = np.asarray(got["y"], dtype=np.int64)
    if column is None:
        np.testing.assert_array_equal(y, (X[:, 0] > 3).astype(int) + 1)
    return X, y


def _r_vector(values):
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def assert_same_table(ours, names, r_values):
    """Our BIC by model against mclust's (both in mclust's sign, NaN for NA).

    EVE (a common orientation, found by an inner iteration) within
    :data:`ITERATIVE_RTOL`, the others within :data:`RTOL`. mclust's VVE M-step
    is not the maximum (``docs/mclust-models.md``): there gaussmix's BIC is
    higher, by up to 24 on diabetes, or within :data:`ITERATIVE_RTOL`.
    """
    r = _r_vector(r_values)
    ours = np.asarray(ours, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(r))
    for name, a, b in zip(names, ours, r, strict=True):
        rtol, _ = tolerances(name)
        if name == "VVE" and not np.isnan(b):
            assert a >= b - rtol * abs(b), (name, a, b)
            continue
        np.testing.assert_allclose(a, b, rtol=rtol, err_msg=name)


def posteriors_agree(ours, theirs, atol):
    """Posteriors within ``atol``; with the looser tolerance of EVE and VVE, the
    classes of the rows that mclust does not put near a tie (a posterior above
    0.6) must agree as well, and the posteriors within 0.02."""
    theirs = np.asarray(theirs)
    if atol == RTOL:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
        return
    clear = theirs.max(axis=1) > 0.6
    np.testing.assert_array_equal(
        ours[clear].argmax(axis=1), theirs[clear].argmax(axis=1)
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=0.02)


def mclust_name(covariance_type, n_components):
    """mclust's name of a model: with one component it says only the shape.

    mclust calls a one-component model XII (spherical), XXI (diagonal) or XXX
    (ellipsoidal), whatever model of the same shape was fitted.
    """
    if n_components > 1:
        return covariance_type
    if covariance_type[1:] == "II":
        return "XII"
    return "XXI" if covariance_type[2] == "I" else "XXX"


@pytest.fixture(scope="module", params=DATASETS, ids=[d for d, _ in DATASETS])
def data(request, mclust):
    return labelled(mclust, *request.param)


def test_edda_model_bic_and_posteriors(data, mclust):
    X, y = data
    got = mclust.run_r(
        "m <- MclustDA(X, factor(y), modelType = 'EDDA', verbose = FALSE)\n"
        "p <- predict(m, X)\n"
        "emit(list(model = m$models[[1]]$modelName, bic = m$bic, "
        "loglik = m$loglik, df = m$df, table = unname(m$models[[1]]$BIC), "
        "names = names(m$models[[1]]$BIC), z = unname(p$z)))\n",
        X=X,
        y=y,
    )
    clf = MixtureClassifier().fit(X, y)
    assert clf.covariance_type_ == got["model"]
    rtol, atol = tolerances(clf.covariance_type_)
    np.testing.assert_allclose(clf.bic_, -got["bic"], rtol=rtol)
    np.testing.assert_allclose(clf.log_likelihood_, got["loglik"], rtol=rtol)
    assert clf.n_parameters_ == round(got["df"])
    # The whole table of the 14 models (NA where mclust could not fit one).
    ours = [-clf.bics_[name] for name in got["names"]]
    assert_same_table(ours, got["names"], got["table"])
    posteriors_agree(clf.predict_proba(X), got["z"], atol)


def test_mclustda_models_and_posteriors(data, mclust):
    X, y = data
    got = mclust.run_r(
        "m <- MclustDA(X, factor(y), verbose = FALSE)\n"
        "p <- predict(m, X)\n"
        "emit(list(models = unname(sapply(m$models, function(a) a$modelName)), "
        "G = unname(sapply(m$models, function(a) a$G)), "
        "best = unname(sapply(m$models, function(a) max(a$BIC, na.rm = TRUE))), "
        "bic = m$bic, "
        "loglik = m$loglik, df = m$df, z = unname(p$z)))\n",
        X=X,
        y=y,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MixtureClassifier("MclustDA").fit(X, y)
    same = True
    for j, c in enumerate(clf.classes_):
        model = clf.models_[c]
        ours = (
            mclust_name(model.covariance_type, model.n_components),
            model.n_components,
        )
        if ours == (got["models"][j], got["G"][j]):
            continue
        # mclust's VVE M-step stops short of its maximum (docs/mclust-models.md):
        # on thyroid's first class its VVE,3 has a BIC of -885.4 where gaussmix
        # reaches -865.6, above mclust's choice (EVI,4, -871.4). A different
        # choice must be that: a VVE above mclust's best.
        same = False
        assert model.covariance_type == "VVE", (c, ours, got["models"][j])
        table = clf.bics_[c]
        chosen = float(table["bic"].min())
        assert -chosen > got["best"][j] + 1.0, (c, -chosen, got["best"][j])
    if not same:
        return
    # The same models fitted by the same EM: criteria to mclust's tolerance of
    # EM (1e-5 relative on the log-likelihood of each class).
    np.testing.assert_allclose(clf.log_likelihood_, got["loglik"], rtol=1e-4)
    assert clf.n_parameters_ == got["df"]
    np.testing.assert_allclose(clf.bic_, -got["bic"], rtol=1e-4)
    np.testing.assert_allclose(
        clf.predict_proba(X), np.asarray(got["z"]), rtol=0, atol=1e-3
    )


def test_semi_supervised_as_mclustssc(data, mclust):
    X, y = data
    partial = y.copy()
    partial[np.arange(len(y)) % 3 == 1] = -1  # a third of the rows unlabelled
    got = mclust.run_r(
        "cl <- ifelse(y < 0, NA, y)\n"
        "m <- MclustSSC(X, cl, verbose = FALSE)\n"
        "p <- predict(m, X)\n"
        "emit(list(model = m$modelName, bic = m$bic, loglik = m$loglik, "
        "df = m$df, table = unname(m$BIC[1, ]), names = colnames(m$BIC), "
        "pro = m$parameters$pro, z = unname(p$z)))\n",
        X=X,
        y=partial,
    )
    clf = MixtureClassifier(unlabelled_label=-1).fit(X, partial)
    assert clf.covariance_type_ == got["model"]
    rtol, atol = tolerances(clf.covariance_type_)
    np.testing.assert_allclose(clf.log_likelihood_, got["loglik"], rtol=rtol)
    np.testing.assert_allclose(clf.bic_, -got["bic"], rtol=rtol)
    assert clf.n_parameters_ == round(got["df"])
    ours = [-clf.bics_[name] for name in got["names"]]
    assert_same_table(ours, got["names"], got["table"])
    np.testing.assert_allclose(clf.class_priors_, got["pro"], rtol=rtol)
    posteriors_agree(clf.predict_proba(X), got["z"], atol)


@pytest.mark.parametrize("model", ["EEE", "VVV"])
def test_lda_and_qda_are_edda_with_eee_and_vvv(model, mclust):
    """LDA is EDDA with EEE and QDA with VVV (iris), as mclust's modelNames."""
    X, y = labelled(mclust, "iris", "Species")
    got = mclust.run_r(
        f"m <- MclustDA(X, factor(y), modelType = 'EDDA', modelNames = '{model}', "
        "verbose = FALSE)\n"
        "emit(list(z = unname(predict(m, X)$z)))\n",
        X=X,
        y=y,
    )
    clf = MixtureClassifier(covariance_types=model).fit(X, y)
    np.testing.assert_allclose(
        clf.predict_proba(X), np.asarray(got["z"]), rtol=0, atol=RTOL
    )
