"""gaussmix.apps.anomaly: AnomalyDetector's scores, thresholds and calibration."""

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixture
from gaussmix.apps.anomaly import AnomalyDetector


def true_mixture():
    """A known 2-component mixture in 2-D to draw normal data from."""
    gm = GaussianMixture(2, random_state=0)
    X = np.vstack(
        [
            np.random.default_rng(0).normal(size=(2000, 2)),
            np.random.default_rng(1).normal(size=(2000, 2)) @ [[1.4, 0.5], [0, 0.8]]
            + [4, 1],
        ]
    )
    return gm.fit(X)


@pytest.fixture(scope="module")
def truth():
    return true_mixture()


@parametrize_with_checks([AnomalyDetector(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_scores_decision_and_predict(truth):
    X, _ = truth.sample(1000, random_state=1)
    det = AnomalyDetector(2, false_alarm_rate=0.05, random_state=0).fit(X)
    assert det.fit(X) is det
    np.testing.assert_array_equal(det.score_samples(X), det.model_.score_samples(X))
    np.testing.assert_allclose(
        det.decision_function(X), det.score_samples(X) - det.offset_, rtol=1e-12
    )
    assert det.offset_ == pytest.approx(np.quantile(det.score_samples(X), 0.05))
    labels = det.predict(X)
    assert set(np.unique(labels)) == {-1, 1}
    np.testing.assert_array_equal(labels == -1, det.decision_function(X) < 0)
    # The training quantile flags 5% of the training points (50 of 1000).
    assert 49 <= np.sum(labels == -1) <= 51
    np.testing.assert_array_equal(det.fit_predict(X), labels)
    assert det.n_features_in_ == 2
    assert det.selection_ is None
    # Far away is anomalous, the middle of a component is not.
    np.testing.assert_array_equal(
        det.predict([[0.0, 0.0], [4, 1], [20, -20]]), [1, 1, -1]
    )


def test_tail_threshold_one_component_is_chi_square():
    X = np.random.default_rng(2).normal(size=(3000, 3)) * [1.0, 2.0, 0.5]
    det = AnomalyDetector(threshold="tail", false_alarm_rate=0.1).fit(X)
    Y = np.random.default_rng(3).normal(size=(20, 3))
    # One component: the tail probability is the chi-square(3) tail of the
    # squared Mahalanobis distance under the fitted mean and covariance.
    diff = Y - det.model_.means_[0]
    d2 = np.einsum("ij,jk,ik->i", diff, det.model_.precisions_[0], diff)
    np.testing.assert_allclose(
        det.tail_probability(Y), stats.chi2.sf(d2, df=3), rtol=1e-8, atol=1e-12
    )
    np.testing.assert_allclose(
        det.decision_function(Y), stats.chi2.sf(d2, df=3) - 0.1, rtol=1e-8, atol=1e-12
    )
    np.testing.assert_array_equal(
        det.predict(Y), np.where(stats.chi2.sf(d2, 3) < 0.1, -1, 1)
    )


@pytest.mark.parametrize("threshold", ["quantile", "tail"])
def test_false_alarm_rate_on_new_normal_data(truth, threshold):
    X, _ = truth.sample(20000, random_state=4)
    new, _ = truth.sample(20000, random_state=99)
    det = AnomalyDetector(
        2, false_alarm_rate=0.05, threshold=threshold, random_state=0, tol=1e-6
    ).fit(X)
    rate = np.mean(det.predict(new) == -1)
    # Binomial sd of the training quantile (20000 points) and of the rate on
    # 20000 new points: 0.0015 each; measured 0.049 to 0.0526 over 8 seeds.
    assert rate == pytest.approx(0.05, abs=0.006)


def test_small_samples_quantile_flags_too_many_tail_does_not(truth):
    new, _ = truth.sample(20000, random_state=6)
    rates = {"quantile": [], "tail": []}
    for seed in range(8):
        X, _ = truth.sample(100, random_state=100 + seed)
        for threshold, found in rates.items():
            det = AnomalyDetector(
                2,
                false_alarm_rate=0.01,
                threshold=threshold,
                tail_samples=20_000,
                random_state=seed,
            ).fit(X)
            found.append(np.mean(det.predict(new) == -1))
    # Measured medians: quantile 0.034, tail 0.013 (nominal 0.01): the training
    # points score higher than new ones under a model fitted to them.
    assert np.median(rates["quantile"]) > 0.018
    assert np.median(rates["tail"]) < 0.016
    assert np.median(rates["tail"]) < np.median(rates["quantile"])


def test_components_chosen_by_bic():
    X, _ = make_blobs(600, centers=3, cluster_std=0.5, random_state=0)
    det = AnomalyDetector(range(1, 6), ["full", "spherical"], random_state=0).fit(X)
    assert det.model_.n_components == 3
    table = det.selection_
    assert len(np.asarray(table["bic"])) == 10
    best = np.nanargmin(np.asarray(table["bic"]))
    assert int(np.asarray(table["n_components"])[best]) == 3
    assert det.model_.bic(X) == pytest.approx(np.asarray(table["bic"])[best], rel=1e-9)


def test_pipeline_clone_and_auc():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 4)) * [1, 10, 100, 1000]
    outliers = rng.normal(size=(50, 4)) * [1, 10, 100, 1000] * 6
    pipe = make_pipeline(
        StandardScaler(), AnomalyDetector(false_alarm_rate=0.02, random_state=0)
    )
    pipe.fit(X)
    test = np.vstack([X[:100], outliers])
    is_outlier = np.r_[np.zeros(100), np.ones(50)]
    auc = roc_auc_score(is_outlier, -pipe.decision_function(test))
    assert auc > 0.97
    assert np.mean(pipe.predict(outliers) == -1) > 0.9
    copy = clone(pipe).fit(X)
    np.testing.assert_allclose(copy.score_samples(test), pipe.score_samples(test))


def test_random_state_fixes_the_monte_carlo(truth):
    X, _ = truth.sample(500, random_state=8)
    a = AnomalyDetector(2, threshold="tail", tail_samples=5000, random_state=3).fit(X)
    b = clone(a).fit(X)
    q = a.tail_probability(X[:50])
    np.testing.assert_array_equal(q, b.tail_probability(X[:50]))
    assert np.all((q >= 0) & (q <= 1))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"false_alarm_rate": 0.0}, r"false_alarm_rate must be a number in \(0, 1\)"),
        ({"false_alarm_rate": 1.0}, "false_alarm_rate must be"),
        ({"false_alarm_rate": "1%"}, "false_alarm_rate must be"),
        ({"threshold": "pvalue"}, "threshold must be one of"),
        ({"tail_samples": 10}, "tail_samples must be an integer >= 100"),
        ({"n_components": []}, "must not be empty"),
        ({"covariance_type": []}, "must not be empty"),
        ({"n_components": 0}, "n_components"),
    ],
)
def test_bad_parameters(params, message):
    X = np.random.default_rng(9).normal(size=(50, 2))
    with pytest.raises(ValueError, match=message):
        AnomalyDetector(**params).fit(X)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        AnomalyDetector().predict([[0.0, 0.0]])


# ------------------------------------------------------ example and benchmark
def load_script(*parts):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2].joinpath(*parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_at_small_size(tmp_path, capsys):
    from pathlib import Path

    result = load_script("examples", "11_anomaly_detection.py").main(
        ["--small", "--out", str(tmp_path)]
    )
    text = capsys.readouterr().out
    (figure,) = result["figures"]
    assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(figure).stat().st_size > 10_000
    assert f"figure written to {figure}" in text
    assert (result["n_train"], result["n_holdout"], result["n_malignant"]) == (
        249,
        108,
        212,
    )
    # All three detectors separate malignant from benign well (measured
    # 0.96-0.97), the mixture within 0.02 of the best.
    auc = result["auc"]
    assert min(auc.values()) > 0.93
    assert auc["Gaussian mixture"] > max(auc.values()) - 0.02
    for rates in result["threshold_rates"].values():
        assert rates["benign_flagged"] < 0.15
        assert rates["malignant_flagged"] > 0.75
    assert result["tail_level"] == pytest.approx(result["offset"], abs=0.5)


def test_benchmark_runs_quick(capsys):
    table = load_script("benchmarks", "bench_anomaly.py").main(["--quick"])
    assert "AUC mean" in capsys.readouterr().out
    assert len(table["auc"]["gaussmix AnomalyDetector"]) == 2
    assert min(table["auc"]["gaussmix AnomalyDetector"]) > 0.93
    assert len(table["flagged"]["tail"]) == 2
