"""equal_proportions, uncertainty and icl: against their definitions and R's mclust."""

import numpy as np
import pytest

from gaussmix import GaussianMixture


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal([4, 1], 0.6, (60, 2))])
    # A rough start: the side of x0 = 2, softened. (Random Dirichlet
    # responsibilities sent mclust's VVI to a collapsed component with loglik +341.)
    hard = (X[:, 0] > 2).astype(float)
    z = np.column_stack([1 - hard, hard]) * 0.8 + 0.1
    return X, z


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_equal_proportions_keeps_weights_equal(data, covariance_type):
    """Weights stay 1/K; the log-likelihood never decreases; K-1 fewer parameters."""
    X, z = data
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        equal_proportions=True,
        reg_covar=0.0,
        tol=1e-10,
        max_iter=500,
        resp_init=z,
    ).fit(X)
    np.testing.assert_array_equal(gm.weights_, [0.5, 0.5])
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-12 * np.abs(gm.lower_bounds_[1:]))
    free = GaussianMixture(2, covariance_type=covariance_type).fit(X)
    assert gm._n_parameters() == free._n_parameters() - 1
    n = len(X)
    assert gm.bic(X) == pytest.approx(
        -2 * gm.score(X) * n + gm._n_parameters() * np.log(n), rel=1e-12
    )


def test_uncertainty_and_icl_definitions(data):
    """uncertainty = 1 - max resp; icl = bic - 2 sum log max resp; weights repeat rows."""
    X, _ = data
    gm = GaussianMixture(2, random_state=0).fit(X)
    resp = gm.predict_proba(X)
    np.testing.assert_allclose(gm.uncertainty(X), 1 - resp.max(axis=1), rtol=1e-15)
    assert gm.icl(X) == pytest.approx(
        gm.bic(X) - 2 * np.sum(np.log(resp.max(axis=1))), rel=1e-12
    )
    assert gm.icl(X) >= gm.bic(X)
    w = np.arange(len(X)) % 3
    rep = np.repeat(np.arange(len(X)), w)
    assert gm.icl(X, sample_weight=w) == pytest.approx(gm.icl(X[rep]), rel=1e-10)


@pytest.mark.mclust
@pytest.mark.parametrize(
    "model",
    [
        "VVV",
        "EEE",
        "VII",
        pytest.param(
            "VVI",
            marks=pytest.mark.xfail(
                reason="mclust 6.0.0's meVVI with equalPro=TRUE returns unnormalised "
                "proportions (pro = [76.2, 28.8] on this data) and a log-likelihood "
                "of +341.8 computed with them (dens() agrees with that number); "
                "gaussmix keeps 1/2 and reaches -657.1",
                strict=True,
            ),
        ),
    ],
)
def test_equal_proportions_matches_mclust(mclust, data, model):
    """me(..., control=emControl(equalPro=TRUE)) from the same z: loglik within 1e-6."""
    X, z = data
    got = mclust.run_r(
        f"f <- me(modelName='{model}', data=X, z=Z, "
        "control=emControl(equalPro=TRUE, tol=c(1e-12, 1e-12)))\n"
        "emit(list(loglik=f$loglik, pro=f$parameters$pro, bic=bic('"
        f"{model}', f$loglik, nrow(X), ncol(X), ncol(Z), equalPro=TRUE),"
        "mean=f$parameters$mean))",
        X=X,
        Z=z,
    )
    names = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}
    gm = GaussianMixture(
        2,
        covariance_type=names[model],
        equal_proportions=True,
        reg_covar=0.0,
        tol=1e-12,
        max_iter=2000,
        resp_init=z,
    ).fit(X)
    loglik = gm.score(X) * len(X)
    assert loglik == pytest.approx(got["loglik"], rel=1e-6)
    np.testing.assert_allclose(got["pro"], [0.5, 0.5])
    assert -gm.bic(X) == pytest.approx(got["bic"], rel=1e-6)
    np.testing.assert_allclose(
        gm.means_, np.asarray(got["mean"]).T, rtol=1e-4, atol=1e-6
    )


@pytest.mark.mclust
def test_uncertainty_and_icl_match_mclust(mclust, data):
    """mclust's uncertainty and icl (its sign) for the same fitted model."""
    X, z = data
    got = mclust.run_r(
        "f <- me(modelName='VVV', data=X, z=Z, control=emControl(tol=c(1e-12, 1e-12)))\n"
        "cl <- map(f$z)\n"
        "unc <- 1 - apply(f$z, 1, max)\n"
        "b <- bic('VVV', f$loglik, nrow(X), ncol(X), ncol(Z))\n"
        "C <- unmap(cl)\n"
        "icl <- b + 2 * sum(C * ifelse(f$z > 0, log(f$z), 0))\n"
        "emit(list(unc=unc, icl=icl, loglik=f$loglik))",
        X=X,
        Z=z,
    )
    gm = GaussianMixture(2, reg_covar=0.0, tol=1e-12, max_iter=2000, resp_init=z).fit(X)
    assert gm.score(X) * len(X) == pytest.approx(got["loglik"], rel=1e-8)
    # Optima agree to 1e-8 in loglik; posteriors then agree to about 1e-5.
    np.testing.assert_allclose(gm.uncertainty(X), got["unc"], atol=1e-5)
    assert -gm.icl(X) == pytest.approx(got["icl"], rel=1e-6)
