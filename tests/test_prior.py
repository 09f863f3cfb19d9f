"""MAP-EM with R mclust's conjugate prior: definitions, properties and R's mclust."""

import math
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gaussmix import GaussianMixture
from gaussmix.core.covariance import get_family
from gaussmix.core.prior import PRIOR_MODELS, log_prior, resolve_prior
from gaussmix.em import fit_em
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.io import load, save
from gaussmix.sources import ArraySource
from mclust_oracle import dataset

SKLEARN = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
MULTIVARIATE = [m for m in PRIOR_MODELS if m not in ("E", "V")]
#: Models whose M-step iterates (their inner tolerance limits the agreement).
ITERATIVE = ("VEI", "VEV")


def _start(X, labels, n_components):
    """Soft responsibilities from labels (mclust's z)."""
    return np.eye(n_components)[labels] * 0.8 + 0.2 / n_components


@pytest.fixture(scope="module")
def iris():
    X = dataset("iris")
    labels = np.repeat([0, 1, 2], 50)
    return X, _start(X, labels, 3)


@pytest.fixture(scope="module")
def faithful():
    X = dataset("faithful")
    labels = (X[:, 0] > np.median(X[:, 0])).astype(int)
    return X, _start(X, labels, 2)


def _fit(X, z, covariance_type, prior="default", **kwargs):
    kwargs = {"reg_covar": 0.0, "tol": 1e-15, "max_iter": 5000, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            z.shape[1] - (1 if kwargs.get("noise") else 0),
            covariance_type=covariance_type,
            prior=prior,
            resp_init=z,
            **kwargs,
        ).fit(X)


def _columns(X, model):
    return X[:, :1] if model in ("E", "V") else X


def _r_data(model):
    return "X[, 1]" if model in ("E", "V") else "X"


# ----------------------------------------------------------------- definitions
def test_default_prior_definition():
    """defaultPrior's formulas; integer weights act as repeated rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * [1.0, 2.0, 3.0]
    full = resolve_prior("default", X, None, 4, "full")
    assert full.shrinkage == 0.01
    assert full.dof == 5
    np.testing.assert_allclose(full.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(
        full.scale, 4 ** (-2 / 3) * np.cov(X, rowvar=False), rtol=1e-13
    )
    diag = resolve_prior("default", X, None, 4, "diag")
    assert diag.scale.shape == ()
    assert float(diag.scale) == pytest.approx(
        4 ** (-2 / 3) * np.var(X, axis=0, ddof=1).sum() / 3, rel=1e-13
    )
    v = resolve_prior("default", X[:, :1], None, 2, "V")
    assert v.dof == 3
    assert float(v.scale) == pytest.approx(np.var(X[:, 0], ddof=1) / 4, rel=1e-13)
    # Fewer rows than features: the diagonal of the covariance.
    few = resolve_prior("default", X[:3], None, 2, "VVV")
    np.testing.assert_allclose(few.scale, np.diag(np.diagonal(few.scale)), atol=0)
    w = np.arange(40) % 3
    rep = np.repeat(np.arange(40), w)
    a = resolve_prior("default", X, w.astype(float), 4, "EEV")
    b = resolve_prior("default", X[rep], None, 4, "EEV")
    np.testing.assert_allclose(a.scale, b.scale, rtol=1e-12)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    given = resolve_prior(
        {"shrinkage": 0.5, "mean": [1, 2, 3], "dof": 9, "scale": 2.0}, X, None, 2, "VII"
    )
    assert (given.shrinkage, given.dof, float(given.scale)) == (0.5, 9.0, 2.0)
    assert resolve_prior({"shrinkage": 0}, X, None, 2, "VVV").shrinkage == 0.0
    assert resolve_prior(None, X, None, 2, "VVV") is None


@pytest.mark.parametrize(
    ("covariance_type", "prior", "match"),
    [
        ("VEE", "default", "VEE.*has no conjugate prior"),
        ("EVE", "default", "has no conjugate prior"),
        ("VVE", "default", "has no conjugate prior"),
        ("EVV", "default", "has no conjugate prior"),
        ("full", "yes", "prior must be None, 'default' or a dict"),
        ("full", {"shrink": 1}, "unknown prior key"),
        ("full", {"shrinkage": -1}, "shrinkage must be >= 0"),
        (
            "full",
            {"shrinkage": 0, "mean": [0, 0]},
            "prior mean is given but the shrink",
        ),
        ("full", {"mean": [0, 0, 0]}, "one per feature"),
        ("full", {"dof": 0}, "dof must be > 0"),
        ("full", {"scale": 1.0}, r"scale is a \(2, 2\) symmetric positive definite"),
        ("full", {"scale": [[1, 2], [2, 1]]}, "must be positive definite"),
        ("spherical", {"scale": np.eye(2)}, "scale is one positive number"),
        ("diag", {"scale": -1.0}, "scale is one positive number"),
    ],
)
def test_bad_priors_raise(covariance_type, prior, match):
    """Clear ValueErrors that say what is wrong and what to do."""
    X = np.random.default_rng(1).normal(size=(30, 2))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, covariance_type=covariance_type, prior=prior).fit(X)


@pytest.mark.parametrize("model", [*MULTIVARIATE, "E", "V"])
def test_log_posterior_never_decreases(model):
    """MAP-EM increases log L + log_prior (EEI, whose means mclust leaves unshrunk,
    is the exception); the reported log-likelihood is not asserted."""
    rng = np.random.default_rng(5)
    X = np.vstack(
        [
            rng.normal([0, 0, 0], 1.0, (60, 3)),
            rng.normal([3, 1, 0], [0.5, 1.5, 1.0], (60, 3)),
            rng.normal([0, 4, 2], 0.8, (40, 3)),
        ]
    )
    X = _columns(X, model)
    family = get_family(model)
    prior = resolve_prior({"shrinkage": 0.5}, X, None, 3, model)
    for seed in range(2):
        labels = np.random.default_rng(seed).integers(0, 3, len(X))
        gm = _fit(X, _start(X, labels, 3), model, prior=None, max_iter=0)
        with threadpool_limits(limits=1, user_api="blas"):  # as the estimator does
            result = fit_em(
                ArraySource(X),
                gm._fitted_params(),
                family,
                tol=1e-14,
                max_iter=150,
                reg_covar=0.0,
                prior=prior,
            )
        objectives = np.asarray(result.objectives)
        assert len(objectives) == len(result.lower_bounds) > 5
        steps = np.diff(objectives)
        if model == "EEI":
            continue
        assert np.all(steps >= -1e-11 * np.abs(objectives[1:])), (seed, steps.min())
        p = result.params
        # The recorded objective is log L / n + log_prior / n at the E-step.
        assert objectives[0] == pytest.approx(
            result.lower_bounds[0]
            + log_prior(prior, family, gm.means_, gm.covariances_) / len(X),
            rel=1e-12,
        )
        assert np.all(np.isfinite(p.covariances))


def test_prior_attribute_refit_and_model_file(faithful, tmp_path):
    """prior_ holds the resolved prior; it is stored in model files; refitting
    without a prior removes it."""
    X, z = faithful
    gm = _fit(X, z, "full", prior={"shrinkage": 0.1, "mean": [3, 70], "dof": 6})
    assert gm.prior_["shrinkage"] == 0.1
    assert gm.prior_["dof"] == 6
    np.testing.assert_array_equal(gm.prior_["mean"], [3, 70])
    save(gm, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.prior_["scale"], gm.prior_["scale"])
    np.testing.assert_array_equal(back.prior["mean"], [3.0, 70.0])
    np.testing.assert_array_equal(back.predict_proba(X), gm.predict_proba(X))
    sph = _fit(X, z, "spherical")
    save(sph, tmp_path / "s.npz")
    assert load(tmp_path / "s.npz").prior_["scale"].shape == ()
    gm.set_params(prior=None).fit(X)
    assert not hasattr(gm, "prior_")


def test_univariate_names_agree_and_prior_prevents_collapse():
    """On one feature 'full' and 'diag' are mclust's V; a prior needs no repair
    where maximum likelihood collapses (a component on duplicated points)."""
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, 80), rng.normal(5, 2, 60)][:, None]
    z = _start(x, (x[:, 0] > 2.5).astype(int), 2)
    v = _fit(x, z, "V", max_iter=50)
    for name in ("full", "diag", "spherical"):
        other = _fit(x, z, name, max_iter=50)
        np.testing.assert_allclose(
            other.covariances_.reshape(-1), v.covariances_, rtol=1e-12
        )
    X = np.vstack([rng.normal(0, 1, (50, 2)), np.tile([[5.0, 5.0]], (3, 1))])
    zz = np.eye(2)[np.r_[np.zeros(50, int), np.ones(3, int)]]
    with pytest.warns(DegenerateComponentWarning):
        _fit(X, zz, "full", prior=None, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        gm = _fit(X, zz, "full", max_iter=5)
    assert np.all(np.linalg.eigvalsh(gm.covariances_[1]) > 0)


# ------------------------------------------------------------------- mclust
@pytest.mark.mclust
@pytest.mark.parametrize("data", ["iris", "faithful"])
def test_one_map_m_step_matches_mclust(mclust, data, request, monkeypatch):
    """The first M-step from z (me(..., itmax = 1)) and defaultPrior, every model."""
    from gaussmix.core import mclust_models

    # R runs the inner iterations to tol[2] = 1e-14 here; so does gaussmix.
    monkeypatch.setattr(mclust_models._InnerIteration, "inner_tol", 1e-14)
    X, z = request.getfixturevalue(data)
    K = z.shape[1]
    calls = "\n".join(
        f"f <- me(modelName='{m}', data={_r_data(m)}, z=Z, prior=priorControl(), "
        "control=emControl(itmax=c(1, 1000), tol=c(1e-10, 1e-14)))\n"
        f"p <- defaultPrior({_r_data(m)}, {K}, '{m}')\n"
        f"out${m} <- list(mean=f$parameters$mean, sigma=f$parameters$variance$sigma, "
        "sigmasq=f$parameters$variance$sigmasq, scale=p$scale, dof=p$dof, "
        "pro=f$parameters$pro)"
        for m in PRIOR_MODELS
    )
    got = mclust.run_r(f"out <- list()\n{calls}\nemit(out)", X=X, Z=z)
    for model, r in got.items():
        Xm = _columns(X, model)
        d = Xm.shape[1]
        gm = _fit(Xm, z, model, max_iter=0)
        # The iterative models agree to their inner tolerance (1e-14 relative
        # change of the objective): 1e-7 of the matrix's scale.
        rtol = 1e-7 if model in ITERATIVE else 1e-12
        np.testing.assert_allclose(gm.weights_, r["pro"], rtol=1e-13, err_msg=model)
        mean = np.asarray(r["mean"], dtype=float).reshape(d, K).T
        np.testing.assert_allclose(gm.means_, mean, rtol=1e-12, err_msg=model)
        dense = get_family(model).to_dense(gm.covariances_, K, d)
        if d == 1:
            sigma = np.broadcast_to(np.asarray(r["sigmasq"], float), (K,))
            np.testing.assert_allclose(dense.reshape(K), sigma, rtol=rtol)
        else:
            sigma = np.asarray(r["sigma"], dtype=float)
            np.testing.assert_allclose(
                dense, sigma, rtol=rtol, atol=rtol * np.abs(sigma).max(), err_msg=model
            )
        assert gm.prior_["dof"] == r["dof"]
        np.testing.assert_allclose(gm.prior_["scale"], r["scale"], rtol=1e-13)


def _em_case(mclust, X, z, models, prior_r="priorControl()", prior=None, noise=False):
    """Fit with gaussmix and me(); return per model (gaussmix, R) results."""
    K = z.shape[1]
    vinv = ", Vinv=hypvol(X, reciprocal=TRUE)" if noise else ""
    calls = "\n".join(
        f"f <- me(modelName='{SKLEARN.get(m, m)}', data={_r_data(m)}, z=Z, "
        f"prior={prior_r}{vinv}, "
        "control=emControl(tol=c(1e-15, 1e-15), itmax=c(5000, 5000)))\n"
        f"out${m} <- list(loglik=f$loglik, pro=f$parameters$pro, "
        "mean=f$parameters$mean, "
        f"bic=bic('{SKLEARN.get(m, m)}', f$loglik, nrow(as.matrix({_r_data(m)})), "
        f"ncol(as.matrix({_r_data(m)})), {K - int(noise)}, noise={str(noise).upper()}))"
        for m in models
    )
    got = mclust.run_r(f"out <- list()\n{calls}\nemit(out)", X=X, Z=z)
    for name in models:
        model = SKLEARN.get(name, name)
        Xm = _columns(X, model)
        gm = _fit(
            Xm,
            z,
            name,
            prior="default" if prior is None else prior,
            noise=True if noise else None,
        )
        yield name, gm, Xm, got[name]


@pytest.mark.mclust
@pytest.mark.parametrize("data", ["iris", "faithful"])
def test_map_em_matches_mclust(mclust, data, request):
    """me(model, data, z, prior = priorControl()) from the same z, every model.

    mclust reports the log-likelihood; it and BIC agree to 1e-7 relative
    (measured <= 2e-8: gaussmix stops on the log-posterior, which is flat at
    the optimum, mclust on the log-likelihood), the weights and means to 1e-5.
    """
    X, z = request.getfixturevalue(data)
    names = [*SKLEARN, "E", "V", "EII", "EEI", "VEI", "EVI", "EEV", "VEV"]
    for name, gm, Xm, r in _em_case(mclust, X, z, names):
        K = z.shape[1]
        loglik = float(np.sum(gm.score_samples(Xm)))
        assert loglik == pytest.approx(r["loglik"], rel=1e-7), name
        assert -gm.bic(Xm) == pytest.approx(r["bic"], rel=1e-7), name
        np.testing.assert_allclose(gm.weights_, r["pro"], rtol=1e-5, err_msg=name)
        mean = np.asarray(r["mean"], dtype=float).reshape(Xm.shape[1], K).T
        np.testing.assert_allclose(gm.means_, mean, rtol=1e-5, err_msg=name)


@pytest.mark.mclust
def test_given_prior_and_noise_match_mclust(mclust, faithful):
    """priorControl(shrinkage, mean, scale) and a prior with a noise component."""
    X, z = faithful
    scale = np.array([[0.5, 2.0], [2.0, 40.0]])
    prior_r = "priorControl(shrinkage=0.2, mean=c(3, 70), scale=S)"
    given = {"shrinkage": 0.2, "mean": [3.0, 70.0], "scale": scale}
    K = z.shape[1]
    r = mclust.run_r(
        "out <- list()\n"
        + "\n".join(
            f"f <- me(modelName='{m}', data=X, z=Z, prior={prior_r}, "
            "control=emControl(tol=c(1e-15, 1e-15), itmax=c(5000, 5000)))\n"
            f"out${m} <- list(loglik=f$loglik, mean=f$parameters$mean)"
            for m in ("VVV", "EEV")
        )
        + "\nf <- me(modelName='VII', data=X, z=Z, prior=priorControl(shrinkage=0.2, "
        "mean=c(3, 70), scale=2), control=emControl(tol=c(1e-15, 1e-15), "
        "itmax=c(5000, 5000)))\nout$VII <- list(loglik=f$loglik, mean=f$parameters$mean)"
        + "\nemit(out)",
        X=X,
        Z=z,
        S=scale,
    )
    for name, prior in (
        ("VVV", given),
        ("EEV", given),
        ("VII", {**given, "scale": 2.0}),
    ):
        gm = _fit(X, z, name, prior=prior)
        loglik = float(np.sum(gm.score_samples(X)))
        assert loglik == pytest.approx(r[name]["loglik"], rel=1e-7), name
        mean = np.asarray(r[name]["mean"], dtype=float).reshape(2, K).T
        np.testing.assert_allclose(gm.means_, mean, rtol=1e-5, err_msg=name)

    rng = np.random.default_rng(7)
    Y = np.vstack([X, rng.uniform(X.min(0), X.max(0), (30, 2))])
    zn = np.eye(3)[np.r_[(X[:, 0] > 3).astype(int), np.full(30, 2)]]
    for name, gm, Ym, res in _em_case(mclust, Y, zn, ["full", "EEV"], noise=True):
        loglik = float(np.sum(gm.score_samples(Ym)))
        assert loglik == pytest.approx(res["loglik"], rel=1e-7), name
        assert gm.noise_weight_ == pytest.approx(res["pro"][-1], rel=1e-5), name


@pytest.mark.mclust
def test_univariate_e_with_noise_differs_from_mclust_as_documented(mclust, faithful):
    """mclust's E with noise and a prior divides by n + G + nu + 2 (all rows);
    gaussmix by the Gaussians' mass N + G + nu + 2. One M-step from z shows it."""
    X, _ = faithful
    x = X[:, :1]
    rng = np.random.default_rng(7)
    y = np.vstack([x, rng.uniform(x.min(), x.max(), (30, 1))])
    z = np.eye(3)[np.r_[(x[:, 0] > 3).astype(int), np.full(30, 2)]]
    r = mclust.run_r(
        "f <- me(modelName='E', data=as.vector(X), z=Z, prior=priorControl(), "
        "Vinv=hypvol(as.vector(X), reciprocal=TRUE), control=emControl(itmax=c(1, 1)))\n"
        "emit(list(sigmasq=f$parameters$variance$sigmasq))",
        X=y,
        Z=z,
    )
    gm = _fit(y, z, "E", noise=True, max_iter=0)
    n, n_gauss = len(y), 272.0
    nu, G = gm.prior_["dof"], 2
    ratio = (n_gauss + G + nu + 2) / (n + G + nu + 2)
    assert float(gm.covariances_[0]) * ratio == pytest.approx(r["sigmasq"], rel=1e-12)
    assert not math.isclose(float(gm.covariances_[0]), r["sigmasq"], rel_tol=1e-3)
