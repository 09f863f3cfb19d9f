"""Benchmark: Gaussian-mixture anomaly detection against scikit-learn's detectors.

Run: ``.venv/bin/python benchmarks/bench_anomaly.py [--splits S] [--quick]``.

scikit-learn's breast cancer data: each random split trains on 70% of the benign
tumours (standardised, PCA to 5 dimensions, both fitted on that training part)
and scores the other 30% and all malignant tumours. Detectors:
:class:`gaussmix.apps.anomaly.AnomalyDetector` (1 to 4 full components chosen by
BIC, ``n_init=3``; and a single fit with 2 components), :class:`~sklearn.ensemble.IsolationForest`,
:class:`~sklearn.svm.OneClassSVM` and :class:`~sklearn.covariance.EllipticEnvelope`
(one robust Gaussian), all with their defaults otherwise.

Prints the ROC AUC (mean, standard deviation, minimum over the splits), median
fit and score times (one process, a shared machine: noisy), and for the mixture
the share of held-out benign tumours flagged at a nominal 5% false-alarm rate with
each threshold rule.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from gaussmix.apps.anomaly import AnomalyDetector


def detectors(seed: int) -> dict[str, Any]:
    return {
        "gaussmix AnomalyDetector": AnomalyDetector(
            range(1, 5), "full", false_alarm_rate=0.05, n_init=3, random_state=seed
        ),
        "gaussmix, K=2 (no search)": AnomalyDetector(
            2, "full", false_alarm_rate=0.05, random_state=seed
        ),
        "IsolationForest": IsolationForest(random_state=seed),
        "OneClassSVM": OneClassSVM(),
        "EllipticEnvelope": EllipticEnvelope(random_state=seed),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 splits (tests)")
    args = parser.parse_args(argv)
    splits = 2 if args.quick else args.splits

    X, y = load_breast_cancer(return_X_y=True)
    benign, malignant = X[y == 1], X[y == 0]
    auc: dict[str, list[float]] = {}
    t_fit: dict[str, list[float]] = {}
    t_score: dict[str, list[float]] = {}
    flagged: dict[str, list[float]] = {"quantile": [], "tail": []}
    for seed in range(splits):
        train, holdout = train_test_split(benign, test_size=0.3, random_state=seed)
        prep = make_pipeline(StandardScaler(), PCA(5, random_state=0)).fit(train)
        Z_train = prep.transform(train)
        Z_test = prep.transform(np.vstack([holdout, malignant]))
        is_anomaly = np.r_[np.zeros(len(holdout)), np.ones(len(malignant))]
        for name, det in detectors(seed).items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # EllipticEnvelope's support warnings
                det.fit(Z_train)
            t1 = time.perf_counter()
            score = -det.decision_function(Z_test)
            t2 = time.perf_counter()
            auc.setdefault(name, []).append(float(roc_auc_score(is_anomaly, score)))
            t_fit.setdefault(name, []).append(t1 - t0)
            t_score.setdefault(name, []).append(t2 - t1)
            if name == "gaussmix AnomalyDetector":
                for rule in flagged:
                    det.set_params(threshold=rule)
                    held = det.predict(Z_test[: len(holdout)])
                    flagged[rule].append(float(np.mean(held == -1)))

    print(
        f"breast cancer, {splits} random splits: train on 70% of the benign "
        "tumours, test on the rest and all malignant ones (standardised, PCA 5)"
    )
    print(
        f"{'detector':26} {'AUC mean':>8} {'sd':>6} {'min':>6} "
        f"{'fit ms':>8} {'score ms':>8}"
    )
    for name, values in auc.items():
        print(
            f"{name:26} {np.mean(values):8.3f} {np.std(values):6.3f} "
            f"{np.min(values):6.3f} {1e3 * statistics.median(t_fit[name]):8.1f} "
            f"{1e3 * statistics.median(t_score[name]):8.2f}"
        )
    print()
    print("held-out benign tumours flagged at false_alarm_rate=0.05 (mean, sd):")
    for rule, values in flagged.items():
        print(f"  threshold={rule!r:11} {np.mean(values):.3f}  {np.std(values):.3f}")
    return {"auc": auc, "fit": t_fit, "score": t_score, "flagged": flagged}


if __name__ == "__main__":
    main()
