"""Benchmark: BayesianGaussianMixture.partial_fit (SVI) against the batch fit.

One epoch of :meth:`gaussmix.BayesianGaussianMixture.partial_fit` over the data
in mini-batches (``total_samples`` = N, the first batch initialising with
``random_from_data``) against the batch variational fit of the same estimator
(``random_from_data``, ``tol=0``, ``--max-iter`` iterations), with
``--sklearn`` scikit-learn's batch fit too (first; it takes minutes at the
default size). Each fit is timed once (wall time); the quality is scikit-learn's
lower bound on the full data after one more batch iteration from each posterior
(not timed), so that the three are compared on the same footing.

BLAS runs with one thread (threadpoolctl), as in the other benchmarks; gaussmix
spreads its E-step over row chunks with its default ``n_jobs``.

Usage::

    python benchmarks/bench_bayesian_svi.py           # N=1,000,000, D=16, K=32, full
    python benchmarks/bench_bayesian_svi.py --quick   # N=50,000, D=4, K=8 (seconds)
    python benchmarks/bench_bayesian_svi.py --sklearn # also scikit-learn's batch fit
"""

from __future__ import annotations

import argparse
import copy
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


def full_bound(model, X) -> float:
    """scikit-learn's bound on all of X: one batch iteration from the posterior."""
    from gaussmix import BayesianGaussianMixture

    probe = BayesianGaussianMixture(**model.get_params())
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            setattr(probe, name, copy.deepcopy(value))
    probe.set_params(warm_start=True, max_iter=1, tol=0.0, batch_size=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe.fit(X)
    return float(np.ravel(probe.lower_bound_)[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small case")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--sklearn", action="store_true")
    args = parser.parse_args(argv)
    n, d, k = (50_000, 4, 8) if args.quick else (1_000_000, 16, 32)

    from gaussmix import BayesianGaussianMixture

    X = make_data(n, d, k)
    common = {
        "n_components": k,
        "covariance_type": args.covariance_type,
        "init_params": "random_from_data",
        "random_state": 0,
    }
    print(
        f"BayesianGaussianMixture: N={n:,}, D={d}, K={k}, {args.covariance_type}; "
        f"SVI: one epoch of partial_fit, batches of {args.batch_size:,}; batch: "
        f"{args.max_iter} iterations (tol=0)"
    )
    with threadpool_limits(limits=1, user_api="blas"):
        if args.sklearn:
            from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

            sk = SklearnBGM(**common, tol=0.0, max_iter=args.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                sk.fit(X)
                seconds = time.perf_counter() - start
            bound = float(np.ravel(sk.lower_bound_)[0])
            print(f"  scikit-learn batch fit: {seconds:8.2f} s  bound {bound:.10g}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BayesianGaussianMixture(**common, max_iter=1).fit(X[:1000])  # warm-up
            batch = BayesianGaussianMixture(**common, tol=0.0, max_iter=args.max_iter)
            start = time.perf_counter()
            batch.fit(X)
            batch_seconds = time.perf_counter() - start
        batch_bound = full_bound(batch, X)
        print(
            f"  gaussmix batch fit:     {batch_seconds:8.2f} s  bound {batch_bound:.10g}"
        )
        svi = BayesianGaussianMixture(**common, total_samples=n)
        order = np.random.default_rng(1).permutation(n)
        start = time.perf_counter()
        for lo in range(0, n, args.batch_size):
            svi.partial_fit(X[np.sort(order[lo : lo + args.batch_size])])
        svi_seconds = time.perf_counter() - start
        svi_bound = full_bound(svi, X)
        print(f"  gaussmix partial_fit:   {svi_seconds:8.2f} s  bound {svi_bound:.10g}")
    print(
        f"  time ratio (batch / SVI): {batch_seconds / svi_seconds:.1f}x; bound "
        f"difference per sample (SVI - batch): {(svi_bound - batch_bound) / n:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
