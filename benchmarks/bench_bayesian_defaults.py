"""Benchmark: BayesianGaussianMixture with the defaults a user types, against scikit-learn.

``BayesianGaussianMixture(n_components=6, covariance_type=..., random_state=r)`` and
nothing else, on scikit-learn's iris and digits (constant pixels dropped) and on
100,000 rows of four 8-D blobs, scikit-learn first, in one process. Each figure is
the median over ``--repeats`` seeds (the same seeds for both); the ratio is
scikit-learn's median over gaussmix's. Both run with their default threads (no
threadpoolctl limit), as a user's call would; the fits from the same seed are the
same fit (tests/test_bayesian_mixture.py), so both run the same iterations.

Usage::

    python benchmarks/bench_bayesian_defaults.py
    python benchmarks/bench_bayesian_defaults.py --repeats 5
    python benchmarks/bench_bayesian_defaults.py --small   # iris, wine, breast cancer:
                                                           # 4 components, 4 types, 5 seeds
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

from gaussmix import BayesianGaussianMixture


def data_sets() -> dict[str, np.ndarray]:
    """The three data sets of the table."""
    digits = load_digits().data
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(m, 1.0, (25_000, 8)) for m in range(4)])
    return {
        "iris (150 x 4)": load_iris().data,
        "digits (1797 x 61)": digits[:, digits.std(axis=0) > 0],
        "blobs (100000 x 8)": blobs,
    }


def median_fit_time(
    cls: type, X: np.ndarray, covariance_type: str, repeats: int, n_components: int = 6
) -> float:
    """Median wall time of ``fit`` over seeds ``0 .. repeats - 1``."""
    times = []
    for seed in range(repeats):
        model = cls(
            n_components=n_components,
            covariance_type=covariance_type,
            random_state=seed,
        )
        start = time.perf_counter()
        model.fit(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print one row per data set and covariance type."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="the small-data table")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # convergence warnings of both, alike
    if args.small:
        small_table()
        return
    print("| data | covariance | scikit-learn | gaussmix | ratio |")
    print("|---|---|---|---|---|")
    for name, X in data_sets().items():
        for covariance_type in ("full", "diag"):
            theirs = median_fit_time(SklearnBGM, X, covariance_type, args.repeats)
            ours = median_fit_time(
                BayesianGaussianMixture, X, covariance_type, args.repeats
            )
            print(
                f"| {name} | {covariance_type} | {theirs:.3f} s | {ours:.3f} s | "
                f"{theirs / ours:.1f}x |"
            )


def small_table() -> None:
    """Ratios on three small data sets, four components, the four covariance types."""
    types = ("full", "tied", "diag", "spherical")
    print("| data | " + " | ".join(types) + " |")
    print("|---|" + "---|" * len(types))
    for name, X in (
        ("iris (150 x 4)", load_iris().data),
        ("wine (178 x 13)", load_wine().data),
        ("breast cancer (569 x 30)", load_breast_cancer().data),
    ):
        cells = []
        for covariance_type in types:
            theirs = median_fit_time(SklearnBGM, X, covariance_type, 5, n_components=4)
            ours = median_fit_time(
                BayesianGaussianMixture, X, covariance_type, 5, n_components=4
            )
            cells.append(
                f"{theirs / ours:.1f}x ({theirs * 1e3:.1f} / {ours * 1e3:.1f} ms)"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
