"""``gaussmix classify`` (learn from labelled rows, predict the rest) and ``gaussmix bootstrap``."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_iris

from gaussmix import MixtureClassifier
from gaussmix.cli import main


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: bad usage
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def iris_file(tmp_path):
    """iris as CSV with a text class column; four rows' classes left empty."""
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y].astype(object)
    hidden = [5, 60, 120, 130]
    names[hidden] = ""
    path = tmp_path / "iris.csv"
    lines = ["sl,sw,pl,pw,species"]
    lines += [
        ",".join([*(f"{v:g}" for v in row), c]) for row, c in zip(X, names, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, X, y, hidden


def test_predicts_the_unlabelled_rows_as_the_estimator(iris_file, tmp_path):
    path, X, y, hidden = iris_file
    out = tmp_path / "pred.csv"
    code, _, err = run("classify", path, "--label", "species", "--out", out)
    assert code == 0, err
    assert "model VEV" in err
    assert "training accuracy" in err
    lines = out.read_text().splitlines()
    assert lines[0] == "row,class,p_setosa,p_versicolor,p_virginica"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == hidden
    known = np.setdiff1d(np.arange(len(y)), hidden)
    clf = MixtureClassifier().fit(X[known], y[known])
    expected = clf.predict_proba(X[hidden])
    got = np.array([[float(v) for v in r[2:]] for r in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-12)
    names = ["setosa", "versicolor", "virginica"]
    assert [r[1] for r in rows] == [names[k] for k in expected.argmax(axis=1)]


def test_json_mclustda_and_semi_supervised(iris_file):
    path, *_ = iris_file
    code, out, _ = run(
        "classify", path, "--label", "species", "--model-type", "MclustDA", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["classes"] == ["setosa", "versicolor", "virginica"]
    assert set(payload["model"]) == set(payload["classes"])
    assert payload["n_predicted"] == 4
    assert len(payload["proba"]) == 4
    code, out, _ = run(
        "classify", path, "--label", "species", "--semi-supervised", "--json"
    )
    assert code == 0
    assert json.loads(out)["predicted"] == [
        "setosa",
        "versicolor",
        "virginica",
        "virginica",
    ]


def test_clear_errors(iris_file):
    path, *_ = iris_file
    code, _, err = run("classify", path, "--label", "colour")
    assert code == 1
    assert "label column 'colour' not found" in err
    assert "species" in err
    code, _, err = run("classify", path)
    assert code == 2
    assert "--label" in err


def test_bootstrap_prints_standard_errors(tmp_path):
    from sklearn.datasets import make_blobs

    from gaussmix import GaussianMixture, bootstrap, save

    X, _ = make_blobs(200, centers=2, random_state=0)
    data = tmp_path / "x.csv"
    np.savetxt(data, X, delimiter=",", header="a,b", comments="")
    model = GaussianMixture(2, covariance_type="EEE").fit(X)
    save(model, tmp_path / "m.gmm")
    out = tmp_path / "se.csv"
    code, text, err = run(
        "bootstrap",
        tmp_path / "m.gmm",
        data,
        "--n-boot",
        "50",
        "--seed",
        "3",
        "--out",
        out,
    )
    assert code == 0, err
    assert "nonparametric bootstrap: 50 refits" in text
    lines = out.read_text().splitlines()
    assert lines[0] == "parameter,component,feature,feature2,estimate,se,lower,upper"
    rows = [line.split(",") for line in lines[1:]]
    # 2 weights, 2 x 2 means, one 2 x 2 covariance (EEE: common to the components)
    assert len(rows) == 2 + 4 + 4
    means = [r for r in rows if r[0] == "means"]
    # a model fitted on an array names its features x0, x1
    assert [r[2] for r in means] == ["x0", "x1", "x0", "x1"]
    reference = bootstrap(model, X, n_boot=50, random_state=3)
    np.testing.assert_allclose(
        [float(r[5]) for r in means], reference.se["means"].ravel(), rtol=1e-5
    )
    code, _, err = run("bootstrap", tmp_path / "m.gmm", data, "--n-boot", "1")
    assert code == 1
    assert "n_boot must be at least 2" in err
