"""The noise component (R mclust's): definitions, properties and R's mclust."""

import math
import re
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from gaussmix import GaussianMixture
from gaussmix.core.noise import hypervolume_box
from gaussmix.exceptions import ConvergenceWarning
from gaussmix.io import load, save
from gaussmix.mixture import NOISE_INIT_WEIGHT
from mclust_oracle import dataset

TYPES = ["full", "tied", "diag", "spherical"]
MCLUST_NAMES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


def _with_noise_rows(X, n_noise, seed):
    """X plus ``n_noise`` uniform rows in its bounding box, and the start z."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(X.min(axis=0), X.max(axis=0), size=(n_noise, X.shape[1]))
    return np.vstack([X, noise])


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(3)
    X = np.vstack(
        [
            rng.normal([0, 0], [1.0, 0.5], (120, 2)),
            rng.normal([5, 3], [0.7, 1.2], (90, 2)),
        ]
    )
    Y = _with_noise_rows(X, 40, seed=4)
    lab = np.r_[np.where(Y[:210, 0] > 2.5, 1, 0), np.full(40, 2)]
    z = np.eye(3)[lab] * 0.9 + 0.1 / 3
    return Y, z


# ----------------------------------------------------------------- definitions
def test_hypervolume_box_definition():
    """The smaller of the axis-aligned and principal-axes boxes; 1-D: the range."""
    rng = np.random.default_rng(0)
    # A thin diagonal cloud: the principal-axes box is much smaller.
    t = rng.uniform(-1, 1, 500)
    X = np.column_stack([t, t + rng.uniform(-0.01, 0.01, 500)])
    box = hypervolume_box(X)
    aligned = np.sum(np.log(X.max(0) - X.min(0)))
    assert box.log_volume < aligned - 3
    np.testing.assert_allclose(box.axes.T @ box.axes, np.eye(2), atol=1e-12)
    coords = X @ box.axes
    np.testing.assert_allclose(coords.min(0), box.lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(coords.max(0), box.upper, rtol=0, atol=1e-12)
    # An axis-aligned cloud keeps the axis-aligned box.
    Z = rng.uniform([0, 0], [1, 3], (400, 2))
    assert hypervolume_box(Z).log_volume == pytest.approx(
        np.sum(np.log(Z.max(0) - Z.min(0))), rel=1e-14
    )
    x = rng.normal(size=(50, 1))
    assert hypervolume_box(x).log_volume == math.log(x.max() - x.min())
    # Zero-weight rows are left out; integer weights are repeated rows.
    w = np.r_[np.zeros(10), np.ones(40)]
    assert hypervolume_box(x, w).log_volume == hypervolume_box(x[10:]).log_volume
    with pytest.raises(ValueError, match="flat"):
        hypervolume_box(np.column_stack([t, np.ones_like(t)]))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_outputs_follow_the_noise_definition(blobs, covariance_type):
    """score_samples, predict_proba, predict and the weights, from their formulas."""
    Y, z = blobs
    gm = GaussianMixture(
        2, covariance_type=covariance_type, noise=True, resp_init=z, tol=1e-8
    ).fit(Y)
    log_v = hypervolume_box(Y).log_volume
    assert gm.noise_log_density_ == -log_v
    assert 0.05 < gm.noise_weight_ < 0.5
    assert gm.weights_.sum() + gm.noise_weight_ == pytest.approx(1.0, abs=1e-14)
    gauss = gm._estimate_weighted_log_prob(Y)  # log(pi_k N_k)
    terms = np.column_stack(
        [gauss, np.full(len(Y), math.log(gm.noise_weight_) - log_v)]
    )
    expected = logsumexp(terms, axis=1)
    np.testing.assert_allclose(gm.score_samples(Y), expected, rtol=1e-12)
    resp = gm.predict_proba(Y)
    assert resp.shape == (len(Y), 3)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(resp, np.exp(terms - expected[:, None]), atol=1e-12)
    labels = gm.predict(Y)
    best = resp.argmax(axis=1)
    np.testing.assert_array_equal(labels, np.where(best == 2, -1, best))
    assert np.count_nonzero(labels[210:] == -1) >= 20
    assert np.count_nonzero(labels[:210] == -1) <= 30
    assert gm.uncertainty(Y) == pytest.approx(1 - resp.max(axis=1), rel=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_log_likelihood_never_decreases(blobs, covariance_type):
    """EM with a noise component: the per-iteration log-likelihood is monotone."""
    Y, _ = blobs
    warnings.simplefilter("ignore", ConvergenceWarning)
    for seed in range(3):
        gm = GaussianMixture(
            3,
            covariance_type=covariance_type,
            noise=True,
            random_state=seed,
            tol=1e-10,
            max_iter=300,
            reg_covar=0.0,
        ).fit(Y)
        lb = np.asarray(gm.lower_bounds_)
        assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:])), (seed, np.diff(lb).min())


def test_parameter_count_and_criteria(blobs):
    """mclust's nMclustParams(noise=TRUE) adds 2; BIC/AIC use the noise density."""
    Y, z = blobs
    plain = GaussianMixture(2, resp_init=z[:, :2] / z[:, :2].sum(1, keepdims=True))
    plain.fit(Y)
    gm = GaussianMixture(2, noise=True, resp_init=z).fit(Y)
    assert gm._n_parameters() == plain._n_parameters() + 2
    n = len(Y)
    loglik = float(np.sum(gm.score_samples(Y)))
    assert gm.bic(Y) == pytest.approx(-2 * loglik + gm._n_parameters() * math.log(n))
    assert gm.aic(Y) == pytest.approx(-2 * loglik + 2 * gm._n_parameters())
    eq = GaussianMixture(2, noise=True, equal_proportions=True, resp_init=z).fit(Y)
    assert eq._n_parameters() == gm._n_parameters() - 1
    np.testing.assert_allclose(eq.weights_, (1 - eq.noise_weight_) / 2, rtol=1e-15)


# ---------------------------------------------------------------- the start
def test_default_start_and_noise_init(blobs):
    """None: init_params on all rows, pi_0 = 0.1; noise_init: the marked rows."""
    Y, _ = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = GaussianMixture(2, noise=True, max_iter=0, random_state=0).fit(Y)
        plain = GaussianMixture(2, max_iter=0, random_state=0).fit(Y)
        assert start.noise_weight_ == NOISE_INIT_WEIGHT
        np.testing.assert_allclose(start.weights_, plain.weights_ * 0.9, rtol=1e-15)
        np.testing.assert_array_equal(start.means_, plain.means_)
        mask = np.zeros(len(Y), dtype=bool)
        mask[210:] = True
        marked = GaussianMixture(
            2, noise=True, noise_init=mask, max_iter=0, random_state=0
        ).fit(Y)
        inner = GaussianMixture(2, max_iter=0, random_state=0).fit(Y[~mask])
    assert marked.noise_weight_ == pytest.approx(40 / 250, rel=1e-12)
    np.testing.assert_allclose(marked.means_, inner.means_, rtol=1e-12)
    np.testing.assert_allclose(marked.weights_, inner.weights_ * 210 / 250, rtol=1e-12)
    fitted = GaussianMixture(2, noise=True, noise_init=mask, random_state=0).fit(Y)
    assert np.count_nonzero(fitted.predict(Y)[210:] == -1) >= 20


def test_resp_init_without_noise_column_and_warm_start(blobs):
    """n_components columns start pi_0 at 0.1; warm start keeps the noise."""
    Y, z = blobs
    zg = z[:, :2] / z[:, :2].sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(2, noise=True, resp_init=zg, max_iter=0).fit(Y)
        assert gm.noise_weight_ == NOISE_INIT_WEIGHT
        step = GaussianMixture(
            2, noise=True, resp_init=z, max_iter=1, warm_start=True
        ).fit(Y)
        first = step.noise_weight_
        step.fit(Y)
        full = GaussianMixture(2, noise=True, resp_init=z, max_iter=2, tol=0).fit(Y)
    assert step.noise_weight_ != first
    assert step.noise_weight_ == pytest.approx(full.noise_weight_, rel=1e-12)
    np.testing.assert_allclose(step.means_, full.means_, rtol=1e-12)


def test_sample_weight_equals_repeated_rows(blobs):
    """Integer weights give the fit of the repeated rows (same start)."""
    Y, z = blobs
    w = np.arange(len(Y)) % 3
    rep = np.repeat(np.arange(len(Y)), w)
    a = GaussianMixture(2, noise=True, resp_init=z, tol=1e-10).fit(Y, sample_weight=w)
    b = GaussianMixture(2, noise=True, resp_init=z[rep], tol=1e-10).fit(Y[rep])
    assert a.noise_log_density_ == pytest.approx(b.noise_log_density_, rel=1e-12)
    assert a.noise_weight_ == pytest.approx(b.noise_weight_, rel=1e-8)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-8)


def test_given_hypervolume_float32_and_sampling(blobs):
    """noise=V is used as given; float32 data; samples: -1 labels in the box."""
    Y, z = blobs
    gm = GaussianMixture(2, noise=500.0, resp_init=z).fit(Y.astype(np.float32))
    assert gm.noise_log_density_ == -math.log(500.0)
    assert gm.means_.dtype == np.float32
    bounds = gm.noise_box_bounds_
    assert np.sum(np.log(bounds[1] - bounds[0])) == pytest.approx(math.log(500.0))
    X, y = gm.sample(4000, random_state=0)
    X2, _ = gm.sample(4000, random_state=0)
    np.testing.assert_array_equal(X, X2)
    noise = y == -1
    assert noise.mean() == pytest.approx(gm.noise_weight_, abs=0.03)
    coords = X[noise] @ gm.noise_box_axes_
    assert np.all(coords >= bounds[0] - 1e-9)
    assert np.all(coords <= bounds[1] + 1e-9)
    assert set(np.unique(y)) == {-1, 0, 1}


def test_model_file_round_trip(blobs, tmp_path):
    """Model files keep the noise attributes; files without noise still load."""
    Y, z = blobs
    gm = GaussianMixture(2, noise=True, resp_init=z, noise_init=None).fit(Y)
    save(gm, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.noise_weight_ == gm.noise_weight_
    assert back.noise_log_density_ == gm.noise_log_density_
    np.testing.assert_array_equal(back.noise_box_bounds_, gm.noise_box_bounds_)
    np.testing.assert_array_equal(back.predict_proba(Y), gm.predict_proba(Y))
    assert back.resp_init is None
    assert back.noise is True
    plain = GaussianMixture(2, random_state=0).fit(Y)
    save(plain, tmp_path / "p.npz")
    assert not hasattr(load(tmp_path / "p.npz"), "noise_weight_")
    # Refitting without noise removes the noise attributes.
    gm.set_params(noise=None, resp_init=None).fit(Y)
    assert not hasattr(gm, "noise_weight_")
    assert gm.predict_proba(Y).shape == (len(Y), 2)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"noise": "yes"}, "noise must be None, True, False or a positive hypervolume"),
        ({"noise": -1.0}, "noise must be None, True, False or a positive hypervolume"),
        (
            {"noise": math.inf},
            "noise must be None, True, False or a positive hypervolume",
        ),
        ({"noise_init": np.ones(250, bool)}, "there is no noise component"),
        ({"noise": True, "noise_init": np.arange(250)}, "must be a boolean array"),
        ({"noise": True, "noise_init": np.ones(10, bool)}, r"shape \(250,\)"),
        ({"noise": True, "noise_init": np.ones(250, bool)}, "at least 1 noise row"),
        (
            {
                "noise": True,
                "noise_init": np.r_[True, np.zeros(249, bool)],
                "resp_init": np.eye(3)[np.arange(250) % 3],
            },
            "either noise_init or resp_init",
        ),
        ({"noise": True, "resp_init": np.ones((250, 4)) / 4}, r"resp_init has shape"),
    ],
)
def test_bad_noise_settings(blobs, params, match):
    """Clear ValueErrors that say what is wrong."""
    Y, _ = blobs
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **params).fit(Y)


def test_flat_data_and_tail_probability(blobs):
    """noise=True on flat data and tail_probability with noise raise clearly."""
    Y, z = blobs
    flat = np.column_stack([Y[:, 0], np.zeros(len(Y))])
    with pytest.raises(ValueError, match="positive volume"):
        GaussianMixture(2, noise=True).fit(flat)
    gm = GaussianMixture(2, noise=True, resp_init=z).fit(Y)
    with pytest.raises(ValueError, match=re.escape("tail_probability is not defined")):
        gm.tail_probability(Y[:3])


# ------------------------------------------------------------------- mclust
@pytest.mark.mclust
@pytest.mark.parametrize("name", ["faithful", "iris"])
def test_hypervolume_matches_mclust(mclust, name):
    """hypvol(X) and hypvol(X, reciprocal=TRUE) (log scale, 1e-13 relative)."""
    X = dataset(name)
    got = mclust.run_r(
        "emit(list(v=hypvol(X), r=hypvol(X, reciprocal=TRUE), "
        "v1=hypvol(as.vector(X[, 1]))))",
        X=X,
    )
    assert hypervolume_box(X).log_volume == pytest.approx(math.log(got["v"]), rel=1e-13)
    assert -hypervolume_box(X).log_volume == pytest.approx(
        math.log(got["r"]), rel=1e-13
    )
    assert hypervolume_box(X[:, :1]).log_volume == pytest.approx(math.log(got["v1"]))


MCLUST_CASES = [
    ("faithful", "full"),
    ("faithful", "tied"),
    ("faithful", "diag"),
    ("faithful", "spherical"),
    ("faithful", "EEV"),
    ("faithful", "VEV"),
    ("iris", "full"),
    ("iris", "diag"),
    ("iris", "EVI"),
    ("iris", "VEI"),
]


@pytest.mark.mclust
@pytest.mark.parametrize(("name", "covariance_type"), MCLUST_CASES)
def test_noise_em_matches_mclust(mclust, name, covariance_type):
    """me(model, data, z = cbind(z, noise), Vinv = hypvol(data, reciprocal = TRUE)).

    Same start (z with a noise column), tight tolerances on both sides: the
    log-likelihood and BIC agree to 1e-10 relative, the noise proportion and
    the means to 1e-5.
    """
    X = dataset(name)
    Y = _with_noise_rows(X, max(20, len(X) // 10), seed=7)
    n_data = len(X)
    first = X[:, 0] > np.median(X[:, 0])
    lab = np.r_[first.astype(int), np.full(len(Y) - n_data, 2)]
    z = np.eye(3)[lab]
    model = MCLUST_NAMES.get(covariance_type, covariance_type)
    got = mclust.run_r(
        f"f <- me(modelName='{model}', data=X, z=Z, "
        "Vinv=hypvol(X, reciprocal=TRUE), "
        "control=emControl(tol=c(1e-15, 1e-15), itmax=c(5000, 5000)))\n"
        f"emit(list(loglik=f$loglik, pro=f$parameters$pro, "
        f"bic=bic('{model}', f$loglik, nrow(X), ncol(X), 2, noise=TRUE), "
        "mean=f$parameters$mean))",
        X=Y,
        Z=z,
    )
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        noise=True,
        resp_init=z,
        reg_covar=0.0,
        tol=1e-15,
        max_iter=5000,
    ).fit(Y)
    loglik = float(np.sum(gm.score_samples(Y)))
    assert loglik == pytest.approx(got["loglik"], rel=1e-10)
    assert -gm.bic(Y) == pytest.approx(got["bic"], rel=1e-10)
    assert gm.noise_weight_ == pytest.approx(got["pro"][-1], rel=1e-5)
    np.testing.assert_allclose(gm.weights_, got["pro"][:2], rtol=1e-5)
    np.testing.assert_allclose(gm.means_, np.asarray(got["mean"]).T, rtol=1e-5)


@pytest.mark.mclust
def test_equal_proportions_with_noise_matches_mclust(mclust):
    """equalPro with noise: the Gaussians share 1 - pi_0 (mclust's meVVV)."""
    X = dataset("faithful")
    Y = _with_noise_rows(X, 30, seed=1)
    lab = np.r_[(X[:, 0] > 3).astype(int), np.full(30, 2)]
    z = np.eye(3)[lab]
    got = mclust.run_r(
        "f <- me(modelName='VVV', data=X, z=Z, Vinv=hypvol(X, reciprocal=TRUE), "
        "control=emControl(equalPro=TRUE, tol=c(1e-15, 1e-15), itmax=c(5000, 5000)))\n"
        "emit(list(loglik=f$loglik, pro=f$parameters$pro, "
        "bic=bic('VVV', f$loglik, nrow(X), ncol(X), 2, noise=TRUE, equalPro=TRUE)))",
        X=Y,
        Z=z,
    )
    gm = GaussianMixture(
        2,
        noise=True,
        equal_proportions=True,
        resp_init=z,
        reg_covar=0.0,
        tol=1e-15,
        max_iter=5000,
    ).fit(Y)
    assert float(np.sum(gm.score_samples(Y))) == pytest.approx(got["loglik"], rel=1e-10)
    assert gm.noise_weight_ == pytest.approx(got["pro"][-1], rel=1e-5)
    assert -gm.bic(Y) == pytest.approx(got["bic"], rel=1e-10)
