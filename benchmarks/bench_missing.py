"""Benchmark: EM with missing values against dropping rows and mean imputation.

Run: ``.venv/bin/python benchmarks/bench_missing.py [--seeds S] [--rows N]
[--plot] [--quick]``.

Data: for each setting (D features, K components: 3/2, 5/3, 8/4 by default)
and seed, a random mixture of full-covariance Gaussians (means drawn with
spread 3, covariances ``A A^T / D + 0.3 I``, weights from a Dirichlet(5));
``N`` training rows (default 2,000), then 10%, 20% and 30% of the values
removed completely at random (rows left with nothing observed are dropped for
every method). Three fits of a 'full' mixture with K components, each from
k-means with the same seed:

* **sklearn, complete rows**: scikit-learn's ``GaussianMixture`` on the rows
  without a missing value (the usual ``dropna``);
* **sklearn, mean-imputed**: scikit-learn's ``GaussianMixture`` on the data
  with each NaN replaced by its column's mean (``SimpleImputer``);
* **gaussmix, marginalize**: ``GaussianMixture(nan_policy="marginalize")``.

Errors against the true mixture, after matching the components to the true ones
(Hungarian assignment on the means): the RMS distance of the means, the mean
relative Frobenius error of the covariances, and the KL divergence
``E_true[log p_true - log p_fit]`` estimated on 20,000 clean rows drawn from the
true mixture. Medians over seeds are printed per setting and fraction, with
the median fit times (BLAS pinned to one thread, as the estimators run). With
``--plot`` the figure ``docs/images/missing_values.png`` is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_limits

from gaussmix import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURE = os.path.join(HERE, "..", "docs", "images", "missing_values.png")
SETTINGS = ((3, 2), (5, 3), (8, 4))
FRACTIONS = (0.1, 0.2, 0.3)
METHODS = ("sklearn, complete rows", "sklearn, mean-imputed", "gaussmix, marginalize")
METRICS = ("means", "covariances", "KL")


def true_mixture(d: int, k: int, rng: np.random.RandomState) -> tuple[Any, Any, Any]:
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(scale=3.0, size=(k, d))
    covs = np.empty((k, d, d))
    for j in range(k):
        a = rng.normal(size=(d, d))
        covs[j] = a @ a.T / d + 0.3 * np.eye(d)
    return weights, means, covs


def draw(n: int, truth: Any, rng: np.random.RandomState) -> np.ndarray:
    weights, means, covs = truth
    labels = rng.choice(len(weights), size=n, p=weights)
    X = np.empty((n, means.shape[1]))
    for j in range(len(weights)):
        rows = labels == j
        X[rows] = rng.multivariate_normal(means[j], covs[j], int(rows.sum()))
    return X


def log_density(X: np.ndarray, weights: Any, means: Any, covs: Any) -> np.ndarray:
    terms = []
    for w, m, c in zip(weights, means, covs, strict=True):
        chol = np.linalg.cholesky(c)
        z = np.linalg.solve(chol, (X - m).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        terms.append(
            np.log(w)
            - 0.5 * (X.shape[1] * np.log(2 * np.pi) + log_det + (z * z).sum(0))
        )
    t = np.array(terms)
    top = t.max(axis=0)
    return np.asarray(top + np.log(np.exp(t - top).sum(axis=0)))


def errors(est: Any, truth: Any, clean: np.ndarray, ref_ll: float) -> dict[str, float]:
    _, means, covs = truth
    cost = ((est.means_[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    mean_err = float(np.sqrt(cost[rows, cols].mean()))
    cov_err = float(
        np.mean(
            [
                np.linalg.norm(est.covariances_[r] - covs[c]) / np.linalg.norm(covs[c])
                for r, c in zip(rows, cols, strict=True)
            ]
        )
    )
    ll = float(log_density(clean, est.weights_, est.means_, est.covariances_).mean())
    return {"means": mean_err, "covariances": cov_err, "KL": ref_ll - ll}


def fit(method: str, Xm: np.ndarray, k: int, seed: int) -> tuple[Any, float]:
    common = {"covariance_type": "full", "random_state": seed}
    if method == METHODS[0]:
        data = Xm[~np.isnan(Xm).any(axis=1)]
        est: Any = SklearnGaussianMixture(k, **common)
    elif method == METHODS[1]:
        data = np.where(np.isnan(Xm), np.nanmean(Xm, axis=0), Xm)
        est = SklearnGaussianMixture(k, **common)
    else:
        data = Xm
        est = GaussianMixture(k, nan_policy="marginalize", n_jobs=1, **common)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        est.fit(data)
    return est, time.perf_counter() - start


def run(
    settings: Any, fractions: Any, seeds: int, n_rows: int, n_clean: int
) -> dict[tuple[int, int, float, str], list[dict[str, float]]]:
    results: dict[tuple[int, int, float, str], list[dict[str, float]]] = defaultdict(
        list
    )
    for d, k in settings:
        for seed in range(seeds):
            rng = np.random.RandomState(1000 * d + seed)
            truth = true_mixture(d, k, rng)
            X = draw(n_rows, truth, rng)
            clean = draw(n_clean, truth, rng)
            ref_ll = float(log_density(clean, *truth).mean())
            for frac in fractions:
                mask = np.random.RandomState(seed + int(100 * frac)).rand(*X.shape)
                Xm = np.where(mask < frac, np.nan, X)
                Xm = Xm[~np.isnan(Xm).all(axis=1)]
                for method in METHODS:
                    est, seconds = fit(method, Xm, k, seed)
                    row = errors(est, truth, clean, ref_ll)
                    row["seconds"] = seconds
                    row["complete"] = float((~np.isnan(Xm).any(axis=1)).mean())
                    results[(d, k, frac, method)].append(row)
    return results


def report(results: Any, settings: Any, fractions: Any) -> None:
    print(
        "| D | K | missing | complete rows | method | means RMS error | "
        "covariance rel. error | KL (nats) | fit time (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for d, k in settings:
        for frac in fractions:
            for method in METHODS:
                rows = results[(d, k, frac, method)]

                def med(key: str, rows: Any = rows) -> float:
                    return statistics.median(r[key] for r in rows)

                print(
                    f"| {d} | {k} | {frac:.0%} | {med('complete'):.0%} | {method} | "
                    f"{med('means'):.3f} | {med('covariances'):.3f} | "
                    f"{med('KL'):.4f} | {med('seconds'):.3f} |"
                )
    wins = defaultdict(int)
    total = 0
    for (d, k, frac, method), rows in results.items():
        if method != METHODS[2]:
            continue
        total += len(rows)
        for i, row in enumerate(rows):
            for metric in METRICS:
                others = [results[(d, k, frac, m)][i][metric] for m in METHODS[:2]]
                wins[metric] += row[metric] < min(others)
    print()
    for metric in METRICS:
        print(
            f"marginalize best of the three on {metric}: {wins[metric]} of {total} "
            "data sets"
        )
    for method in METHODS:
        times = [
            r["seconds"]
            for key, rows in results.items()
            if key[3] == method
            for r in rows
        ]
        print(f"median fit time, {method}: {statistics.median(times):.3f} s")


def plot(results: Any, settings: Any, fractions: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(METRICS), len(settings), figsize=(3.6 * len(settings), 8.0), squeeze=False
    )
    labels = {"means": "means RMS error", "covariances": "cov. rel. error", "KL": "KL"}
    for col, (d, k) in enumerate(settings):
        for row, metric in enumerate(METRICS):
            ax = axes[row][col]
            for method, marker in zip(METHODS, "os^", strict=True):
                values = [results[(d, k, f, method)] for f in fractions]
                med = [statistics.median(r[metric] for r in v) for v in values]
                lo = [np.percentile([r[metric] for r in v], 25) for v in values]
                hi = [np.percentile([r[metric] for r in v], 75) for v in values]
                x = [100 * f for f in fractions]
                ax.plot(x, med, marker=marker, label=method)
                ax.fill_between(x, lo, hi, alpha=0.15)
            ax.set_yscale("log")
            if row == 0:
                ax.set_title(f"D = {d}, K = {k}")
            if row == len(METRICS) - 1:
                ax.set_xlabel("values missing (%)")
            if col == 0:
                ax.set_ylabel(labels[metric])
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Fitted mixture against the truth (median and quartiles over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {os.path.relpath(path)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--clean", type=int, default=20000)
    parser.add_argument("--plot", action="store_true", help=f"write {FIGURE}")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 2 settings")
    args = parser.parse_args()
    settings, seeds = SETTINGS, args.seeds
    if args.quick:
        settings, seeds = SETTINGS[:2], 2
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    with threadpool_limits(limits=1, user_api="blas"):
        results = run(settings, FRACTIONS, seeds, args.rows, args.clean)
    report(results, settings, FRACTIONS)
    if args.plot:
        plot(results, settings, FRACTIONS, FIGURE)


if __name__ == "__main__":
    main()
