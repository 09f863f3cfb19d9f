"""Benchmark: gaussmix.BayesianGaussianMixture against scikit-learn's, in one process.

Both fit the same data with the same parameters, scikit-learn first:
``init_params="random_from_data"`` and the same ``random_state`` (so both start
from the same posterior, and the start costs almost nothing), ``tol=0`` and a
fixed ``max_iter`` (default 20), so the same number of variational iterations is
timed. A figure is the median wall time of ``fit`` over ``--repeats`` runs; the
ratio is scikit-learn's median over gaussmix's. The fitted lower bounds are
printed too (they agree to rounding).

BLAS runs with one thread for both (threadpoolctl), as in the other benchmarks
on these shared 2-core machines; gaussmix spreads its E-step over row chunks
with its default ``n_jobs`` (threads, BLAS single-threaded inside).

Usage::

    python benchmarks/bench_bayesian.py            # the issue's case: N=1,000,000,
                                                    # D=16, K=32, full (minutes)
    python benchmarks/bench_bayesian.py --quick    # N=20,000, D=4, K=8 (seconds)
    python benchmarks/bench_bayesian.py --covariance-type diag --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits


def make_data(n_samples: int, n_features: int, n_components: int, seed: int = 0):
    """Blobs around random centres (unit spread, centres spread 5)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, size=(n_components, n_features))
    labels = rng.integers(0, n_components, n_samples)
    return centres[labels] + rng.normal(size=(n_samples, n_features))


def time_fit(cls, X, params, repeats):
    seconds, bound = [], None
    for _ in range(repeats):
        est = cls(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 on purpose
            start = time.perf_counter()
            est.fit(X)
            seconds.append(time.perf_counter() - start)
        bound = float(np.ravel(est.lower_bound_)[0])
        assert est.n_iter_ == params["max_iter"]
    return statistics.median(seconds), seconds, bound


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small case")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=None)
    parser.add_argument("--n-components", type=int, default=None)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n, d, k = (20_000, 4, 8) if args.quick else (1_000_000, 16, 32)
    n = args.n_samples or n
    d = args.n_features or d
    k = args.n_components or k

    from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

    from gaussmix import BayesianGaussianMixture

    X = make_data(n, d, k)
    params = {
        "n_components": k,
        "covariance_type": args.covariance_type,
        "init_params": "random_from_data",
        "random_state": 0,
        "tol": 0.0,
        "max_iter": args.max_iter,
    }
    print(
        f"BayesianGaussianMixture: N={n:,}, D={d}, K={k}, {args.covariance_type}, "
        f"{args.max_iter} iterations (tol=0), random_from_data, "
        f"median of {args.repeats}"
    )
    with threadpool_limits(limits=1, user_api="blas"):
        sk_median, sk_all, sk_bound = time_fit(SklearnBGM, X, params, args.repeats)
        print(f"  scikit-learn: {sk_median:8.3f} s  {[round(s, 3) for s in sk_all]}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm_up = {**params, "max_iter": 1}
            BayesianGaussianMixture(**warm_up).fit(X[:1000])  # imports, kernels
        gm_median, gm_all, gm_bound = time_fit(
            BayesianGaussianMixture, X, params, args.repeats
        )
        print(f"  gaussmix:     {gm_median:8.3f} s  {[round(s, 3) for s in gm_all]}")
    print(f"  ratio (scikit-learn / gaussmix): {sk_median / gm_median:.1f}x")
    print(
        f"  lower bounds: scikit-learn {sk_bound:.10g}, gaussmix {gm_bound:.10g} "
        f"(relative difference {abs(sk_bound - gm_bound) / abs(sk_bound):.1e})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
