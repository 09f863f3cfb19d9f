"""``gaussmix classify``: learn from the labelled rows of a file, predict the rest."""

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
