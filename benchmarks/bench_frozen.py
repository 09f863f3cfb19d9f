"""Benchmark: EM with frozen parameters against free EM, time per iteration.

Run: ``.venv/bin/python benchmarks/bench_frozen.py [--n-samples N] [--n-features D]
[--n-components K] [--covariance-type full] [--iterations I] [--repeats R]``.

One data set (a K-component mixture, ``N x D``), one start (the parameters of a
short free fit, given as ``weights_init``/``means_init``/``precisions_init``), then
``I`` EM iterations (``tol=0``) for each variant, single-threaded (one BLAS thread,
``n_jobs=1``):

* scikit-learn's ``GaussianMixture`` (free; it has no frozen parameters), first;
* gaussmix free, and with ``frozen`` = covariances, means, weights, and weights +
  covariances (the speaker-adaptation case).

Prints the median time per iteration over ``R`` repeats, and the ratio of each
gaussmix variant to gaussmix free and to scikit-learn. A frozen fit runs the NumPy
EM loop; on data this size a free fit does too (the compiled loop only takes small
data), so the ratio to "free" is the cost or saving of the conditional M-step.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from gaussmix import GaussianMixture  # noqa: E402
from gaussmix.exceptions import ConvergenceWarning  # noqa: E402

VARIANTS: dict[str, tuple[str, ...]] = {
    "free": (),
    "covariances": ("covariances",),
    "means": ("means",),
    "weights": ("weights",),
    "weights+covariances": ("weights", "covariances"),
}


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (k, d))
    labels = rng.integers(0, k, n)
    scales = rng.uniform(0.5, 1.5, (k, d))
    return centres[labels] + rng.standard_normal((n, d)) * scales[labels]


def per_iteration(model: Any, X: np.ndarray, iterations: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - t0
    assert model.n_iter_ == iterations, model.n_iter_
    return seconds / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, d, k, ct = (
        args.n_samples,
        args.n_features,
        args.n_components,
        args.covariance_type,
    )
    X = make_data(n, d, k)
    with threadpool_limits(1):
        start = GaussianMixture(k, covariance_type=ct, max_iter=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start.fit(X[: min(n, 20_000)])
        init = {
            "weights_init": start.weights_,
            "means_init": start.means_,
            "precisions_init": start.precisions_,
        }
        common = {"max_iter": args.iterations, "tol": 0.0, "covariance_type": ct}
        times: dict[str, list[float]] = {"scikit-learn": []}
        times.update({name: [] for name in VARIANTS})
        for _ in range(args.repeats):
            sk = SkGaussianMixture(k, **common, **init)
            times["scikit-learn"].append(per_iteration(sk, X, args.iterations))
            for name, frozen in VARIANTS.items():
                gm = GaussianMixture(k, frozen=frozen, n_jobs=1, **common, **init)
                times[name].append(per_iteration(gm, X, args.iterations))
    median = {name: statistics.median(v) for name, v in times.items()}
    print(
        f"N={n} D={d} K={k} covariance_type={ct!r}, {args.iterations} iterations, "
        f"median of {args.repeats}, one thread"
    )
    print(f"{'variant':<22}{'ms/iter':>10}{'/ free':>10}{'sklearn /':>12}")
    for name, value in median.items():
        print(
            f"{name:<22}{1e3 * value:>10.2f}{value / median['free']:>10.2f}"
            f"{median['scikit-learn'] / value:>12.2f}"
        )


if __name__ == "__main__":
    main()
