"""The command line of issue 15: missing values (``fit --nan-policy``, ``impute``),
starts from a saved model with frozen parameters (``fit --init-model --frozen``),
variational Bayesian fits (``fit --bayesian``) and conditional mixtures
(``condition``, ``marginal``, ``regress``).

Results are checked against closed forms (scipy's normal densities, Gaussian
conditioning by linear algebra) and against scikit-learn's BayesianGaussianMixture.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from threadpoolctl import threadpool_limits

from gaussmix import GaussianMixture
from gaussmix._data import read_table
from gaussmix.cli import main
from gaussmix.io import load

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


def run(*args, cwd=None):
    """``gaussmix ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.chdir(cwd or os.getcwd()),
    ):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help, bad usage
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _write_csv(path, X, names=("a", "b", "c"), missing="NA"):
    lines = [",".join(names)]
    lines += [
        ",".join(missing if np.isnan(v) else repr(float(v)) for v in row) for row in X
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two correlated 3-D clusters, complete and with 15% of cells missing."""
    d = tmp_path_factory.mktemp("i15")
    rng = np.random.default_rng(0)
    cov = [[1.0, 0.8, 0.2], [0.8, 1.0, 0.3], [0.2, 0.3, 1.0]]
    X = np.vstack(
        [
            rng.multivariate_normal([0, 0, 0], cov, 150),
            rng.multivariate_normal([4, 4, 0], 0.5 * np.eye(3), 150),
        ]
    )
    M = X.copy()
    M[rng.random(M.shape) < 0.15] = np.nan
    M[0, :] = [np.nan, 1.0, np.nan]  # the first data row has missing cells too
    full = _write_csv(d / "full.csv", X)
    miss = _write_csv(d / "miss.csv", M)
    code, _, err = run("fit", full, "-k", 2, "--seed", 0, "--out", d / "full.gmm")
    assert code == 0, err
    return {
        "X": X,
        "M": M,
        "full": full,
        "miss": miss,
        "model": d / "full.gmm",
        "dir": d,
    }


def _dense(model):
    """The model's covariances as (K, D, D) (full models here)."""
    assert model.covariance_type == "full"
    return np.asarray(model.covariances_, dtype=np.float64)


# --------------------------------------------------------------- reading cells
def test_missing_cells_read_alike_with_and_without_pandas(tmp_path, monkeypatch):
    path = tmp_path / "na.csv"
    path.write_text("1,NA,3\n4,,6\nn/a,#N/A,9\n7,8,null\n")
    fast = read_table(str(path))
    monkeypatch.setitem(sys.modules, "pandas", None)  # the careful parser
    careful = read_table(str(path))
    expected = np.array(
        [[1, np.nan, 3], [4, np.nan, 6], [np.nan, np.nan, 9], [7, 8, np.nan]]
    )
    for table in (fast, careful):
        # "NA" in the first row is a missing value, not a header
        assert table.names is None
        np.testing.assert_array_equal(table.values, expected)


def test_fit_without_nan_policy_names_the_option(data):
    code, _, err = run("fit", data["miss"], "-k", 2, "--out", data["dir"] / "x.gmm")
    assert code == 1
    assert "--nan-policy marginalize" in err
    assert "--drop-nan" in err
    assert not (data["dir"] / "x.gmm").exists()


# --------------------------------------------------------------- nan policy
@pytest.fixture(scope="module")
def marginal_model(data):
    out = data["dir"] / "marg.gmm"
    code, stdout, err = run(
        "fit", data["miss"], "-k", 2, "--nan-policy", "marginalize", "--seed", 0,
        "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    return out, json.loads(stdout)


def test_fit_marginalize_is_the_library_fit(data, marginal_model):
    path, summary = marginal_model
    ref = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(data["M"])
    model = load(path)
    assert model.nan_policy == "marginalize"
    np.testing.assert_allclose(model.means_, ref.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        model.covariances_, ref.covariances_, rtol=1e-10, atol=1e-12
    )
    # the observed-data log-likelihood of every row (their observed cells)
    ll = float(np.sum(ref.score_samples(data["M"])))
    assert summary["n_samples"] == 300
    assert summary["log_likelihood"] == pytest.approx(ll, rel=1e-10)
    p = ref.n_parameters()
    assert summary["bic"] == pytest.approx(-2 * ll + p * np.log(300), rel=1e-10)
    assert summary["n_missing_cells"] == int(np.isnan(data["M"]).sum())


def test_fit_omit_drops_incomplete_rows_with_a_warning(data):
    out = data["dir"] / "omit.gmm"
    code, stdout, err = run(
        "fit", data["miss"], "-k", 2, "--nan-policy", "omit", "--seed", 0,
        "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    n_incomplete = int(np.isnan(data["M"]).any(axis=1).sum())
    assert f"left out {n_incomplete} of 300 rows" in err
    complete = data["M"][~np.isnan(data["M"]).any(axis=1)]
    ref = GaussianMixture(2, random_state=0).fit(complete)
    assert json.loads(stdout)["n_samples"] == complete.shape[0]
    np.testing.assert_allclose(load(out).means_, ref.means_, rtol=1e-10)


def test_nan_policy_and_drop_nan_are_a_usage_error(data):
    code, _, err = run(
        "fit", data["miss"], "-k", 2, "--nan-policy", "omit", "--drop-nan"
    )
    assert code == 2
    assert "do not go together" in err


def test_predict_and_score_use_the_observed_cells(data, marginal_model):
    path, _ = marginal_model
    model = load(path)
    code, stdout, err = run("score", path, data["miss"], "--json")
    assert code == 0, err
    expected = multivariate_mixture_logpdf(model, data["M"])
    np.testing.assert_allclose(json.loads(stdout)["scores"], expected, rtol=1e-9)
    code, stdout, _ = run("predict", path, data["miss"], "--json")
    assert code == 0
    assert len(json.loads(stdout)["labels"]) == 300
    # a model fitted on complete data still refuses missing cells
    code, _, err = run("score", data["model"], data["miss"])
    assert code == 1
    assert "--drop-nan" in err


def multivariate_mixture_logpdf(model, X):
    """log p(x_o) of each row by scipy: each component's marginal on the observed cells."""
    cov = _dense(model)
    out = []
    for row in X:
        o = ~np.isnan(row)
        dens = sum(
            w * multivariate_normal(m[o], c[np.ix_(o, o)]).pdf(row[o])
            for w, m, c in zip(model.weights_, model.means_, cov, strict=True)
        )
        out.append(np.log(dens))
    return np.array(out)


# --------------------------------------------------------------- impute
def _conditional_mean(model, row):
    """E[x_m | x_o] in closed form (responsibilities by scipy)."""
    o, m = ~np.isnan(row), np.isnan(row)
    cov = _dense(model)
    r = np.array(
        [
            w * multivariate_normal(mu[o], c[np.ix_(o, o)]).pdf(row[o])
            for w, mu, c in zip(model.weights_, model.means_, cov, strict=True)
        ]
    )
    r /= r.sum()
    filled = row.copy()
    filled[m] = sum(
        rk
        * (mu[m] + c[np.ix_(m, o)] @ np.linalg.solve(c[np.ix_(o, o)], row[o] - mu[o]))
        for rk, mu, c in zip(r, model.means_, cov, strict=True)
    )
    return filled


def test_impute_conditional_means(data):
    out = data["dir"] / "filled.csv"
    code, _, err = run("impute", data["model"], data["miss"], "--out", out)
    assert code == 0, err
    assert "missing cell(s)" in err
    filled = read_table(str(out))
    assert filled.names == ["a", "b", "c"]
    model = load(data["model"])
    rows = [0, *np.nonzero(np.isnan(data["M"]).any(axis=1))[0][:10].tolist()]
    for i in rows:
        np.testing.assert_allclose(
            filled.values[i],
            _conditional_mean(model, data["M"][i]),
            rtol=1e-9,
            atol=1e-12,
        )
    observed = ~np.isnan(data["M"])
    np.testing.assert_array_equal(filled.values[observed], data["M"][observed])


def test_impute_draws_long_table(data):
    out = data["dir"] / "draws.csv"
    args = ("impute", data["model"], data["miss"], "--draws", 3, "--seed", 7)
    code, _, err = run(*args, "--out", out, "--include-original")
    assert code == 0, err
    text = out.read_text().splitlines()
    assert text[0] == "imputation,row,a,b,c"
    assert text[1] == "0,0,,1.0,"  # the data itself, missing cells empty
    table = read_table(str(out))
    assert table.values.shape == (4 * 300, 5)
    np.testing.assert_array_equal(table.values[:, 0], np.repeat([0, 1, 2, 3], 300))
    np.testing.assert_array_equal(table.values[:, 1], np.tile(np.arange(300), 4))
    draws = table.values[300:, 2:].reshape(3, 300, 3)
    expected = load(data["model"]).impute(data["M"], n_imputations=3, random_state=7)
    np.testing.assert_array_equal(draws, expected)
    missing = np.isnan(data["M"])
    assert not np.isnan(draws).any()
    assert np.all(draws[0][missing] != draws[1][missing])  # draws differ
    # the same seed gives the same draws; stdout without the original
    code, stdout, _ = run(*args, "--json")
    assert code == 0
    np.testing.assert_array_equal(json.loads(stdout)["imputations"], expected)


def test_impute_usage_errors(data):
    code, _, err = run("impute", data["model"], data["miss"], "--seed", 1)
    assert code == 2
    assert "--draws" in err
    code, _, err = run("impute", data["model"], data["miss"], "--include-original")
    assert code == 2
    assert "--draws" in err
    code, _, err = run("impute", data["model"], data["miss"], "--out", data["miss"])
    assert code == 2
    assert "input file" in err


# --------------------------------------------------------------- frozen, init
def test_init_model_with_frozen_covariances_adapts_the_means(data):
    shifted = data["X"] + [1.0, -0.5, 0.25]
    new = _write_csv(data["dir"] / "shifted.csv", shifted)
    out = data["dir"] / "adapted.gmm"
    code, stdout, err = run(
        "fit", new, "-k", 2, "--init-model", data["model"], "--frozen", "covariances",
        "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    start, adapted = load(data["model"]), load(out)
    # frozen at the saved precisions: the covariances are their inverses again
    np.testing.assert_allclose(adapted.precisions_, start.precisions_, rtol=1e-12)
    np.testing.assert_allclose(adapted.covariances_, start.covariances_, rtol=1e-12)
    assert adapted.frozen == ("covariances",)
    order = np.argsort(adapted.means_[:, 0])
    moved = adapted.means_[order] - start.means_[np.argsort(start.means_[:, 0])]
    np.testing.assert_allclose(moved, [[1.0, -0.5, 0.25]] * 2, atol=0.15)
    summary = json.loads(stdout)
    assert summary["frozen"] == ["covariances"]
    assert summary["init_model"] == str(data["model"])
    lls = adapted.lower_bounds_
    assert np.all(np.diff(lls) >= -1e-10)  # EM with frozen covariances never goes down


def test_init_model_frozen_weights_and_means_with_missing_values(data):
    out = data["dir"] / "frozen_wm.gmm"
    code, _, err = run(
        "fit", data["miss"], "-k", 2, "--init-model", data["model"],
        "--frozen", "means,weights", "--nan-policy", "marginalize", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    start, fitted = load(data["model"]), load(out)
    np.testing.assert_array_equal(fitted.means_, start.means_)
    np.testing.assert_array_equal(fitted.weights_, start.weights_)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-k", 3], "give --components 2 --covariance full"),
        (["-k", 2, "--covariance", "diag"], "give --components 2 --covariance full"),
        (["-k", 2, "--init", "random"], "do not go together"),
        (["-k", 2, "--frozen", "means,foo"], "invalid --frozen"),
    ],
)
def test_init_model_usage_errors(data, extra, message):
    code, _, err = run("fit", data["full"], "--init-model", data["model"], *extra)
    assert code == 2
    assert message in err


def test_init_model_is_an_input(data):
    m = data["model"]
    code, _, err = run("fit", data["full"], "-k", 2, "--init-model", m, "--out", m)
    assert code == 2
    assert "input file (--init-model)" in err


# --------------------------------------------------------------- bayesian
@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
def test_bayesian_matches_scikit_learn(data, prior_type):
    code, stdout, err = run(
        "fit", data["full"], "-k", 5, "--bayesian", "--seed", 3, "--max-iter", 25,
        "--weight-concentration-prior-type", prior_type,
        "--weight-concentration-prior", 0.01, "--json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(stdout)
    ref = SkBGM(
        n_components=5,
        weight_concentration_prior_type=prior_type,
        weight_concentration_prior=0.01,
        max_iter=25,
        random_state=3,
    )
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(data["X"])
    np.testing.assert_allclose(got["weights"], ref.weights_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(got["means"], ref.means_, rtol=1e-6, atol=1e-8)
    assert got["lower_bound"] == pytest.approx(ref.lower_bound_, rel=1e-8)
    assert got["n_active_components"] == int(np.sum(ref.weights_ >= 0.01))
    assert got["model"] is None


def test_bayesian_text_and_refusals(data):
    code, stdout, err = run("fit", data["full"], "-k", 4, "--bayesian", "--seed", 0)
    assert code == 0, err
    assert "variational Bayesian full Gaussian mixture" in stdout
    assert "not saved" in stdout
    assert not (data["dir"] / "full.gmm").with_name("full_bayes.gmm").exists()
    # --out saves the Bayesian model (tests/test_cli_bayesian_io.py)
    code, _, err = run("fit", data["full"], "-k", 4, "--bayesian", "--noise")
    assert code == 2
    assert "do not go together" in err
    code, _, err = run("fit", data["full"], "-k", 4, "--weight-concentration-prior", 1)
    assert code == 2
    assert "needs --bayesian" in err


# --------------------------------------------------------------- conditional
def _closed_form_condition(model, given, values):
    """Weights, means and covariances of p(x_a | x_b = values), by linear algebra."""
    b = np.asarray(given)
    a = np.setdiff1d(np.arange(model.n_features_in_), b)
    cov = _dense(model)
    logw, means, covs = [], [], []
    for w, mu, c in zip(model.weights_, model.means_, cov, strict=True):
        sbb = c[np.ix_(b, b)]
        logw.append(np.log(w) + multivariate_normal(mu[b], sbb).logpdf(values))
        gain = c[np.ix_(a, b)] @ np.linalg.inv(sbb)
        means.append(mu[a] + gain @ (values - mu[b]))
        covs.append(c[np.ix_(a, a)] - gain @ c[np.ix_(b, a)])
    logw = np.array(logw)
    weights = np.exp(logw - logw.max())
    return weights / weights.sum(), np.array(means), np.array(covs)


def test_condition_against_closed_form(data):
    out = data["dir"] / "cond.gmm"
    code, stdout, err = run(
        "condition", data["model"], "--given", "a=3.5,c=-0.2", "--out", out, "--json"
    )
    assert code == 0, err
    got = json.loads(stdout)
    weights, means, covs = _closed_form_condition(
        load(data["model"]), [0, 2], [3.5, -0.2]
    )
    assert got["features"] == ["b"]
    assert got["given"] == {"a": 3.5, "c": -0.2}
    np.testing.assert_allclose(got["weights"], weights, rtol=1e-9)
    np.testing.assert_allclose(got["means"], means, rtol=1e-9)
    np.testing.assert_allclose(got["covariances"], covs, rtol=1e-9)
    mean = weights @ means
    var = weights @ (covs[:, :, 0] + (means - mean) ** 2)
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-9)
    np.testing.assert_allclose(got["std"], np.sqrt(var), rtol=1e-9)
    saved = load(out)
    np.testing.assert_allclose(saved.means_, means, rtol=1e-9)
    code, stdout, _ = run("sample", out, "-n", 4, "--seed", 0)  # a model like any other
    assert code == 0
    assert stdout.splitlines()[0] == "b,component"


def test_condition_and_marginal_text_and_errors(data):
    code, stdout, _ = run("condition", data["model"], "--given", "0=1")
    assert code == 0
    assert "given a = 1" in stdout
    code, stdout, _ = run("marginal", data["model"], "--features", "c", "a", "--json")
    got, model = json.loads(stdout), load(data["model"])
    assert got["features"] == ["c", "a"]
    np.testing.assert_array_equal(got["means"], model.means_[:, [2, 0]])
    np.testing.assert_array_equal(
        got["covariances"], _dense(model)[:, [2, 0]][:, :, [2, 0]]
    )
    np.testing.assert_array_equal(got["weights"], model.weights_)
    for args, message in [
        (["--given", "zz=1"], "no such feature"),
        (["--given", "a"], "FEATURE=VALUE"),
        (["--given", "a=x"], "not a number"),
        (["--given", "a=1", "b=2", "c=3"], "at least one"),
        (["--given", "a=1", "a=2"], "twice"),
    ]:
        code, _, err = run("condition", data["model"], *args)
        assert code == 2, (args, err)
        assert message in err, (args, err)


def test_regress_against_closed_form(data):
    new = data["dir"] / "inputs.csv"
    rows = data["X"][:20]
    new.write_text(
        "c,a\n" + "".join(f"{float(r[2])!r},{float(r[0])!r}\n" for r in rows)
    )  # reordered
    out = data["dir"] / "pred.csv"
    code, _, err = run(
        "regress", data["model"], new, "--targets", "b", "--std", "--out", out
    )
    assert code == 0, err
    pred = read_table(str(out))
    assert pred.names == ["b_mean", "b_std"]
    model = load(data["model"])
    for i, row in enumerate(rows):
        w, m, c = _closed_form_condition(model, [0, 2], row[[0, 2]])
        mean = w @ m[:, 0]
        std = np.sqrt(w @ (c[:, 0, 0] + (m[:, 0] - mean) ** 2))
        np.testing.assert_allclose(pred.values[i], [mean, std], rtol=1e-9)


def test_regress_two_targets_in_the_given_order(data):
    code, stdout, err = run(
        "regress", data["model"], data["full"], "--targets", "c,b", "--json"
    )  # the file has every feature: the targets' columns are not read
    assert code == 0, err
    got = json.loads(stdout)
    assert got["targets"] == ["c", "b"]
    assert got["inputs"] == ["a"]
    model = load(data["model"])
    w, m, _ = _closed_form_condition(model, [0], data["X"][5, [0]])
    np.testing.assert_allclose(got["mean"][5], w @ m[:, [1, 0]], rtol=1e-9)
    code, _, err = run("regress", data["model"], data["full"], "--targets", "a,b,c")
    assert code == 2
    assert "at least one input" in err
