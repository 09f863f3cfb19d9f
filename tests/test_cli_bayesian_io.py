"""``gaussmix fit --bayesian --out``, and predict, score and sample on the saved model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaussmix import BayesianGaussianMixture
from gaussmix.cli import main
from gaussmix.io import load

RNG = np.random.default_rng(3)
X = np.vstack([RNG.normal(0.0, 1.0, (60, 2)), RNG.normal(5.0, 0.7, (60, 2))])


@pytest.fixture
def saved(tmp_path, capsys):
    data = tmp_path / "data.csv"
    np.savetxt(data, X, delimiter=",", header="x,y", comments="")
    model = tmp_path / "bgm.gmm"
    code = main(
        ["fit", str(data), "-k", "4", "--bayesian", "--seed", "0", "--out", str(model)]
    )
    assert code == 0
    assert f"model written to {model}" in capsys.readouterr().out
    return data, model


def reference() -> BayesianGaussianMixture:
    """The model the CLI fits, fitted in Python (the CLI's settings)."""
    return BayesianGaussianMixture(n_components=4, random_state=0).fit(X)


def test_fit_bayesian_out_saves_the_fitted_model(saved):
    _, path = saved
    model = load(path)
    assert type(model) is BayesianGaussianMixture
    assert list(model.feature_names_in_) == ["x", "y"]
    ref = reference()
    np.testing.assert_allclose(model.means_, ref.means_, rtol=1e-12, atol=0)
    np.testing.assert_allclose(model.weights_, ref.weights_, rtol=1e-12, atol=0)


def test_predict_score_and_sample_read_a_bayesian_model(saved, capsys):
    data, path = saved
    model = load(path)
    assert main(["predict", str(path), str(data), "--proba", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    np.testing.assert_array_equal(out["labels"], model.predict(X))
    np.testing.assert_allclose(out["proba"], model.predict_proba(X), rtol=0, atol=0)
    assert main(["score", str(path), str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(out["scores"], model.score_samples(X), rtol=0, atol=0)
    assert main(["sample", str(path), "-n", "7", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    drawn, _ = model.sample(7, random_state=2)
    flat = json.dumps(out)
    assert len(drawn) == 7
    assert all(repr(float(v))[:8] in flat for v in drawn.ravel())


def test_commands_needing_a_gaussian_mixture_refuse_a_bayesian_model(saved, capsys):
    data, path = saved
    with pytest.raises(SystemExit) as info:
        main(["impute", str(path), str(data)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "holds a BayesianGaussianMixture" in err
    assert "Traceback" not in err
