"""Benchmark: GaussianMixture under scikit-learn's array-API dispatch, torch on CPU.

Run: ``SCIPY_ARRAY_API=1 .venv/bin/python benchmarks/bench_array_api.py
[--samples N] [--features D] [--components K] [--iterations I] [--repeats R]
[--threads T]`` (needs torch; scikit-learn refuses dispatch without
``SCIPY_ARRAY_API=1``).

One data set (N rows of K well-separated Gaussian blobs in D features, float64
and float32 copies), the same start for everyone (``init_params=
'random_from_data'``, the only starts scikit-learn has under dispatch besides
'random', and ``random_state=0``), ``tol=0`` and ``max_iter=I`` so that every
fit runs exactly ``I`` EM iterations. For each covariance type:

* **scikit-learn under dispatch**: ``sklearn.mixture.GaussianMixture`` on a
  torch tensor inside ``config_context(array_api_dispatch=True)``;
* **gaussmix under dispatch**: ``gaussmix.GaussianMixture``, same tensor, same
  context (its array-API engine, :mod:`gaussmix.core.xp_em`);
* **gaussmix NumPy** (reference): the same fit on the NumPy array, no dispatch.

Times are medians of ``--repeats`` fits in this one process; the ratio is
scikit-learn's median over gaussmix's. BLAS and torch run ``--threads``
threads (default 1: the machine is shared and 2-core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

import gaussmix

COVARIANCE_TYPES = ("full", "diag")


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_data(n: int, d: int, k: int) -> np.ndarray:
    rng = np.random.RandomState(0)
    centres = rng.uniform(-10, 10, size=(k, d))
    labels = rng.randint(k, size=n)
    scales = rng.uniform(0.5, 1.5, size=(k, 1))
    return centres[labels] + rng.standard_normal((n, d)) * scales[labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        raise SystemExit("set SCIPY_ARRAY_API=1 (scikit-learn needs it for dispatch)")
    import torch

    torch.set_num_threads(args.threads)
    X64 = make_data(args.samples, args.features, args.components)
    print(
        f"N={args.samples} D={args.features} K={args.components}, "
        f"{args.iterations} EM iterations per fit, median of {args.repeats}, "
        f"{args.threads} thread(s); torch {torch.__version__}, scikit-learn "
        f"{sklearn.__version__}, gaussmix {gaussmix.__version__}"
    )
    print(
        f"{'covariance':>10} {'dtype':>8} {'sklearn xp':>11} {'gaussmix xp':>12} "
        f"{'ratio':>6} {'gaussmix np':>12} {'max |means diff|':>17}"
    )
    warnings.simplefilter("ignore")  # a fixed number of iterations does not converge
    for dtype in ("float64", "float32"):
        X = X64.astype(dtype)
        T = torch.asarray(X)
        for cov in COVARIANCE_TYPES:
            params = {
                "n_components": args.components,
                "covariance_type": cov,
                "init_params": "random_from_data",
                "random_state": 0,
                "tol": 0.0,
                "max_iter": args.iterations,
            }
            with (
                threadpool_limits(args.threads),
                sklearn.config_context(array_api_dispatch=True),
            ):
                sk = SkGaussianMixture(**params)
                gm = gaussmix.GaussianMixture(**params)
                t_sk = median_time(lambda: sk.fit(T), args.repeats)  # noqa: B023
                t_gm = median_time(lambda: gm.fit(T), args.repeats)  # noqa: B023
            with threadpool_limits(args.threads):
                ref = gaussmix.GaussianMixture(**params, n_jobs=args.threads)
                t_np = median_time(lambda: ref.fit(X), args.repeats)  # noqa: B023
            diff = float(torch.max(torch.abs(sk.means_ - gm.means_)))
            print(
                f"{cov:>10} {dtype:>8} {t_sk:>10.3f}s {t_gm:>11.3f}s "
                f"{t_sk / t_gm:>5.1f}x {t_np:>11.3f}s {diff:>17.2e}"
            )


if __name__ == "__main__":
    main()
