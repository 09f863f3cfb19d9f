"""Benchmark: Gaussian mixture regression predictions, gaussmix against plain NumPy.

Run: ``.venv/bin/python benchmarks/bench_gmr.py [--rows N] [--components K]
[--inputs DX] [--targets DY] [--repeats R]``.

One joint mixture is fitted once (``GMRegressor``, full covariances, 20,000
training rows); then the conditional mean and standard deviation of ``N``
rows (default 200,000, ``K = 8``, ``DX = 4``, ``DY = 2``) are timed:

* **gaussmix**: ``GMRegressor.predict(X, return_std=True)`` (one Cholesky per
  component, batched products over blocks of rows);
* **numpy**: the straightforward implementation, a loop over the components,
  each vectorised over the rows: ``inv(S_xx)``, ``S_yx inv(S_xx)``, the
  log-densities by ``slogdet`` and the Mahalanobis form, a log-sum-exp, the
  mixture's mean and total variance;
* **gmr** (the ``gmr`` package, ``GMM.predict``), when it is installed: it
  returns the mean only.

scikit-learn has no Gaussian mixture regression (it was declined, #15591).
Every tool runs with one BLAS thread (threadpoolctl) in this process, on the
same data; each time is the median of ``--repeats`` after one warm-up call.
The largest difference between the answers is printed with the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from gaussmix import GMRegressor


def numpy_gmr(
    weights: np.ndarray, means: np.ndarray, covs: np.ndarray, X: np.ndarray, dx: int
) -> tuple[np.ndarray, np.ndarray]:
    """Conditional mean and std of ``y`` given each row of ``X``, component by component."""
    n = X.shape[0]
    log_w = np.empty((n, len(weights)))
    cond_means = []
    cond_vars = []
    for k, (w, mu, S) in enumerate(zip(weights, means, covs, strict=True)):
        inv = np.linalg.inv(S[:dx, :dx])
        gain = S[dx:, :dx] @ inv
        diff = X - mu[:dx]
        maha = np.einsum("ij,jk,ik->i", diff, inv, diff)
        _, logdet = np.linalg.slogdet(S[:dx, :dx])
        log_w[:, k] = np.log(w) - 0.5 * (maha + logdet + dx * np.log(2 * np.pi))
        cond_means.append(mu[dx:] + diff @ gain.T)
        cond_vars.append(np.diag(S[dx:, dx:] - gain @ S[:dx, dx:]))
    resp = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    m = np.stack(cond_means, axis=1)  # (n, K, dy)
    mean = np.einsum("nk,nkj->nj", resp, m)
    var = resp @ np.array(cond_vars) + np.einsum(
        "nk,nkj->nj", resp, (m - mean[:, None, :]) ** 2
    )
    return mean, np.sqrt(var)


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--inputs", type=int, default=4)
    parser.add_argument("--targets", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    dx, dy, k = args.inputs, args.targets, args.components

    def data(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.uniform(-3, 3, size=(n, dx))
        Y = np.column_stack(
            [np.sin(X @ rng.standard_normal(dx)) for _ in range(dy)]
        ) + 0.1 * rng.standard_normal((n, dy))
        return X, Y

    X_train, Y_train = data(20_000)
    X, _ = data(args.rows)
    results: dict[str, float] = {}
    with threadpool_limits(1):
        reg = GMRegressor(k, random_state=0, n_jobs=1).fit(X_train, Y_train)
        gm = reg.mixture_
        ours = reg.predict(X, return_std=True)
        ref = numpy_gmr(gm.weights_, gm.means_, gm.covariances_, X, dx)
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref, strict=True))
        results["gaussmix_s"] = median_time(
            lambda: reg.predict(X, return_std=True), args.repeats
        )
        results["numpy_s"] = median_time(
            lambda: numpy_gmr(gm.weights_, gm.means_, gm.covariances_, X, dx),
            args.repeats,
        )
        try:
            from gmr import GMM  # type: ignore[import-not-found]
        except ImportError:
            GMM = None
        if GMM is not None:
            other = GMM(
                k, priors=gm.weights_, means=gm.means_, covariances=gm.covariances_
            )
            results["gmr_s"] = median_time(
                lambda: other.predict(np.arange(dx), X), args.repeats
            )
    print(
        f"GMR predict with std: {args.rows:,} rows, K={k}, {dx} inputs, {dy} targets, "
        f"full covariances; medians of {args.repeats}, one BLAS thread"
    )
    print(f"  gaussmix  {results['gaussmix_s']:.3f} s")
    print(
        f"  numpy     {results['numpy_s']:.3f} s   "
        f"numpy / gaussmix = {results['numpy_s'] / results['gaussmix_s']:.1f}x"
    )
    if "gmr_s" in results:
        print(
            f"  gmr       {results['gmr_s']:.3f} s   "
            f"gmr / gaussmix = {results['gmr_s'] / results['gaussmix_s']:.1f}x "
            "(mean only)"
        )
    else:
        print("  gmr       not installed")
    print(f"  largest difference gaussmix - numpy: {diff:.1e}")
    results["max_difference"] = diff
    return results


if __name__ == "__main__":
    main()
