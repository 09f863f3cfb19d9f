"""Anomaly detection on breast cancer data: a Gaussian mixture against
IsolationForest and OneClassSVM.

scikit-learn's bundled Wisconsin breast cancer data (357 benign and 212 malignant
tumours, 30 features). Every detector learns "normal" from 70% of the benign
tumours only, after standardising and a PCA to 5 dimensions fitted on those same
benign tumours; the held-out benign tumours and all malignant ones are then scored.
No malignant tumour is seen in training: they play the anomalies.

:class:`gaussmix.apps.anomaly.AnomalyDetector` picks the number of components by
BIC (1 to 4, full covariances) and sets its threshold at a 5% false-alarm rate,
once from the quantile of the training scores and once from the model's tail
probability. The figure shows the score distributions with both thresholds, and
the ROC curves of the three detectors with their areas (AUC).

Run::

    python examples/11_anomaly_detection.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from gaussmix.apps.anomaly import AnomalyDetector

DPI = 90
FALSE_ALARM_RATE = 0.05
N_PCA = 5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def detectors(seed: int, small: bool) -> dict[str, Any]:
    """The three detectors, each behind the same standardisation and PCA."""
    gmm = AnomalyDetector(
        range(1, 3 if small else 5),
        "full",
        false_alarm_rate=FALSE_ALARM_RATE,
        n_init=1 if small else 3,
        random_state=seed,
    )
    others = {
        "IsolationForest": IsolationForest(
            n_estimators=30 if small else 100, random_state=seed
        ),
        "OneClassSVM": OneClassSVM(),
    }
    return {
        name: make_pipeline(StandardScaler(), PCA(N_PCA, random_state=0), est)
        for name, est in {"Gaussian mixture": gmm, **others}.items()
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y = load_breast_cancer(return_X_y=True)
    benign, malignant = X[y == 1], X[y == 0]
    train, holdout = train_test_split(benign, test_size=0.3, random_state=0)
    test = np.vstack([holdout, malignant])
    is_anomaly = np.r_[np.zeros(len(holdout)), np.ones(len(malignant))]
    print(
        f"breast cancer: train on {len(train)} benign; test {len(holdout)} benign "
        f"+ {len(malignant)} malignant; standardised, PCA to {N_PCA} dimensions"
    )

    auc: dict[str, float] = {}
    curves: dict[str, tuple[Any, Any]] = {}
    fitted = {name: p.fit(train) for name, p in detectors(0, args.small).items()}
    for name, pipe in fitted.items():
        # Higher decision_function = more normal: the anomaly score is its negative.
        score = -pipe.decision_function(test)
        auc[name] = float(roc_auc_score(is_anomaly, score))
        fpr, tpr, _ = roc_curve(is_anomaly, score)
        curves[name] = (fpr, tpr)
    pipe = fitted["Gaussian mixture"]
    det: AnomalyDetector = pipe[-1]
    print(
        f"mixture chosen by BIC: {det.model_.n_components} components, "
        f"{det.model_.covariance_type} covariances"
    )
    print()
    print(f"{'detector':18} {'ROC AUC':>8}")
    for name, value in auc.items():
        print(f"{name:18} {value:8.3f}")

    # The two thresholds at a 5% false-alarm rate.
    features = pipe[:-1].transform(test)
    log_density = det.score_samples(features)
    tail_det = clone(det).set_params(threshold="tail").fit(pipe[:-1].transform(train))
    rates: dict[str, dict[str, float]] = {}
    print()
    print(f"thresholds at false_alarm_rate={FALSE_ALARM_RATE}:")
    print(f"{'threshold':10} {'benign hold-out flagged':>24} {'malignant flagged':>18}")
    for name, d in (("quantile", det), ("tail", tail_det)):
        flagged = d.predict(features) == -1
        rates[name] = {
            "benign_flagged": float(flagged[is_anomaly == 0].mean()),
            "malignant_flagged": float(flagged[is_anomaly == 1].mean()),
        }
        print(
            f"{name:10} {rates[name]['benign_flagged']:24.3f} "
            f"{rates[name]['malignant_flagged']:18.3f}"
        )
    # The log-density level where the tail probability crosses the rate.
    tail_level = float(
        np.interp(
            0.0,
            np.sort(tail_det.decision_function(features)),
            np.sort(log_density),
        )
    )

    fig, (ax_hist, ax_roc) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    low = max(np.percentile(log_density, 1), -60.0)
    bins = np.linspace(low, log_density.max(), 40)
    shown = np.clip(log_density, low, None)
    ax_hist.hist(
        shown[is_anomaly == 0], bins=bins, alpha=0.6, label="benign (hold-out)"
    )
    ax_hist.hist(shown[is_anomaly == 1], bins=bins, alpha=0.6, label="malignant")
    ax_hist.axvline(
        det.offset_,
        color="k",
        ls="--",
        label=f"threshold: quantile ({det.offset_:.2f})",
    )
    ax_hist.axvline(
        tail_level,
        color="C3",
        ls=":",
        label=f"threshold: tail prob. ({tail_level:.2f})",
    )
    ax_hist.set_xlabel(
        f"log-density under the mixture (values below {low:.0f} at left)"
    )
    ax_hist.set_ylabel("tumours")
    ax_hist.set_title(
        f"Mixture scores; thresholds at a {FALSE_ALARM_RATE:.0%} false-alarm rate"
    )
    ax_hist.legend(loc="upper left", fontsize=8)
    for name, (fpr, tpr) in curves.items():
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {auc[name]:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="0.7", lw=1)
    ax_roc.set_xlabel("benign flagged (false-positive rate)")
    ax_roc.set_ylabel("malignant flagged (true-positive rate)")
    ax_roc.set_title("ROC curves, trained on benign tumours only")
    ax_roc.legend(loc="lower right")
    figures = [save(fig, out, "11_anomaly_detection.png")]

    return {
        "n_train": len(train),
        "n_holdout": len(holdout),
        "n_malignant": len(malignant),
        "auc": auc,
        "n_components": int(det.model_.n_components),
        "threshold_rates": rates,
        "offset": float(det.offset_),
        "tail_level": tail_level,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
