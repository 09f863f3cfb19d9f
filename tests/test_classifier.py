"""MixtureClassifier: the scikit-learn contract, errors, and LDA as EDDA with EEE.

The comparisons with R's MclustDA and MclustSSC are in
``tests/test_classifier_against_mclust.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_blobs
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from gaussmix import GaussianMixture, MixtureClassifier


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(MixtureClassifier())


def test_lda_is_edda_with_eee(iris):
    """EDDA with EEE is linear discriminant analysis (pooled ML covariance)."""
    X, y = iris
    ours = MixtureClassifier(covariance_types="EEE").fit(X, y)
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), lda.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), lda.predict(X))


def test_qda_is_edda_with_vvv_class_by_class(iris):
    """EDDA with VVV: each class's Gaussian is its own ML fit."""
    X, y = iris
    clf = MixtureClassifier(covariance_types="VVV").fit(X, y)
    for c in clf.classes_:
        rows = X[y == c]
        model = clf.models_[c]
        assert isinstance(model, GaussianMixture)
        assert model.n_components == 1
        np.testing.assert_allclose(model.means_[0], rows.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(
            model.covariances_[0], np.cov(rows.T, bias=True), rtol=1e-10
        )
    np.testing.assert_allclose(clf.class_priors_, [1 / 3] * 3)


def test_posteriors_are_bayes_rule(iris):
    X, y = iris
    clf = MixtureClassifier().fit(X, y)
    joint = np.column_stack(
        [clf.models_[c].score_samples(X) for c in clf.classes_]
    ) + np.log(clf.class_priors_)
    expected = np.exp(joint - joint.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-14)
    assert clf.score(X, y) > 0.95


def test_class_priors_shift_the_boundary(iris):
    X, y = iris
    even = MixtureClassifier().fit(X, y)
    tilted = MixtureClassifier(class_priors=[1, 1, 8]).fit(X, y)
    np.testing.assert_allclose(tilted.class_priors_, [0.1, 0.1, 0.8])
    assert (tilted.predict(X) == 2).sum() >= (even.predict(X) == 2).sum()
    # the models are the same; only the priors differ
    np.testing.assert_allclose(
        tilted.models_[0].means_, even.models_[0].means_, rtol=1e-14
    )


def test_string_labels_and_a_pipeline(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), MixtureClassifier())
    pipe.fit(X, names)
    assert set(pipe.predict(X)) <= set(names)
    assert pipe.score(X, names) > 0.95


def test_cross_validation_and_grid_search(iris):
    X, y = iris
    scores = cross_val_score(MixtureClassifier(), X, y, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(
        MixtureClassifier(), {"covariance_types": ["EEE", "VVV", "VEV"]}, cv=3
    ).fit(X, y)
    assert search.best_params_["covariance_types"] in {"EEE", "VVV", "VEV"}


def test_mclustda_fits_a_mixture_per_class():
    X1, _ = make_blobs(200, centers=[[0, 0], [6, 0]], random_state=0)
    X2, _ = make_blobs(200, centers=[[3, 6]], random_state=1)
    X = np.vstack([X1, X2])
    y = np.repeat([0, 1], 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MixtureClassifier("MclustDA").fit(X, y)
    assert clf.models_[0].n_components == 2
    assert clf.models_[1].n_components == 1
    assert set(clf.covariance_type_) == {0, 1}
    assert clf.score(X, y) == 1.0
    # bic_ is that of the mixture of the class densities
    joint = np.column_stack([clf.models_[c].score_samples(X) for c in (0, 1)])
    loglik = np.logaddexp(*(joint + np.log([0.5, 0.5])).T).sum()
    assert clf.log_likelihood_ == pytest.approx(loglik, rel=1e-12)
    assert clf.bic_ == pytest.approx(
        -2 * loglik + clf.n_parameters_ * np.log(len(X)), rel=1e-12
    )


def test_unlabelled_rows_help_and_keep_labelled_classes(iris):
    X, y = iris
    partial = y.copy()
    rng = np.random.default_rng(0)
    partial[rng.random(len(y)) < 0.8] = -1  # 80% unlabelled
    clf = MixtureClassifier(covariance_types="VVV", unlabelled_label=-1).fit(X, partial)
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.n_iter_ > 1
    assert clf.score(X, y) > 0.9
    np.testing.assert_allclose(clf.class_priors_.sum(), 1.0)


def test_unlabelled_rows_need_edda(iris):
    X, y = iris
    partial = y.copy()
    partial[::2] = -1
    with pytest.raises(ValueError, match="MclustSSC"):
        MixtureClassifier("MclustDA", unlabelled_label=-1).fit(X, partial)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_type": "LDA"}, "model_type"),
        ({"covariance_types": "XYZ"}, "covariance_type"),
        ({"class_priors": [1, 2]}, "one per class"),
        ({"class_priors": [1, -1, 1]}, "non-negative"),
        ({"model_type": "MclustDA", "n_components": [0, 1]}, "positive"),
    ],
)
def test_bad_options_say_what_is_wrong(iris, kwargs, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        MixtureClassifier(**kwargs).fit(X, y)


def test_too_few_rows_in_a_class(iris):
    X, y = iris
    y = y.copy()
    y[0] = 7  # a class of one row
    with pytest.raises(ValueError, match=r"Too few rows in a class.*7"):
        MixtureClassifier().fit(X, y)


def test_one_class_and_bad_input(iris):
    X, y = iris
    with pytest.raises(ValueError, match="two classes"):
        MixtureClassifier().fit(X, np.zeros(len(X)))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MixtureClassifier().fit(bad, y)
    clf = MixtureClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_one_feature_uses_e_and_v(iris):
    X, y = iris
    clf = MixtureClassifier().fit(X[:, 2:3], y)
    assert clf.covariance_type_ in {"E", "V"}
    assert set(clf.bics_) == {"E", "V"}


def test_minus_one_is_a_class_unless_said_otherwise():
    """Binary labels -1/1 are two classes by default, not half unlabelled."""
    X, y = make_blobs(60, centers=2, random_state=0)
    signs = np.where(y == 0, -1, 1)
    clf = MixtureClassifier().fit(X, signs)
    assert list(clf.classes_) == [-1, 1]
    with pytest.raises(ValueError, match="two classes"):
        MixtureClassifier(unlabelled_label=-1).fit(X, signs)


def test_compiled_and_numpy_edda_agree(iris, monkeypatch):
    """EDDA's BIC table from the compiled M-steps equals NumPy's within 1e-10."""
    pytest.importorskip("numba")
    from gaussmix.core import fast_em, kernels

    X, y = iris
    kernels.load()
    compiled = MixtureClassifier().fit(X, y)
    monkeypatch.setattr(fast_em, "USE_COMPILED", False)
    numpy_path = MixtureClassifier().fit(X, y)
    names = list(compiled.bics_)
    np.testing.assert_allclose(
        [compiled.bics_[n] for n in names],
        [numpy_path.bics_[n] for n in names],
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        compiled.predict_proba(X), numpy_path.predict_proba(X), rtol=1e-10
    )


def test_example_18_classification(tmp_path, capsys):
    """examples/18_classification.py --small: its figure and its claims."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "18_classification.py"
    spec = importlib.util.spec_from_file_location("gallery_18_classification", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--small", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    (figure,) = result["figures"]
    assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure written to {figure}" in text
    accuracy = result["accuracy"]
    # straight boundaries cannot split class 0's two blobs from class 1
    assert accuracy["LDA (EDDA, EEE)"] < 0.75 < accuracy["EDDA"]
    assert accuracy["MclustDA"] >= accuracy["EDDA"]
    assert result["mclustda_components"][0] == 2  # class 0 is two blobs
    alone = result["semi_supervised"]["labelled_only"]
    together = result["semi_supervised"]["with_unlabelled"]
    assert min(together) > 0.95
    assert all(t > a for a, t in zip(alone, together, strict=True))
