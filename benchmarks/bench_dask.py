"""Benchmark: EM on a Dask cluster against the single-process in-memory EM.

The same float32 data and the same initial parameters are fitted with
:func:`gaussmix.em.fit_em` (``tol=0``, a fixed number of iterations) from

* an :class:`gaussmix.sources.ArraySource` in this process, serial
  (``n_threads=1``) and with threads over chunks (``n_threads=2``, the
  estimator's default on a 2-core machine);
* a :class:`gaussmix.distributed.DaskSource` on a ``distributed.LocalCluster``
  of 1 and of 2 worker processes (1 thread each, loopback), the data persisted
  on the workers beforehand.

Seconds per iteration (E-step + M-step) are the median over iterations of the
time between two calls of ``fit_em``'s callback, without the first iteration
(warm-up: the workers import gaussmix and receive the functions). The script
prints the overhead ratio (Dask with 2 workers / single process) and the
scaling from 1 to 2 workers, and checks that every run ends at the same
parameters.

Usage::

    python benchmarks/bench_dask.py                  # N=2,000,000 D=8 K=8 float32
    python benchmarks/bench_dask.py --n 500000 --iterations 8
    python benchmarks/bench_dask.py --quick          # tiny sizes, checks the script
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gaussmix._threads import single_threaded_blas
from gaussmix.core.covariance import get_family
from gaussmix.core.estep import stats_from_resp
from gaussmix.core.mstep import m_step
from gaussmix.core.params import GMMParams
from gaussmix.em import fit_em
from gaussmix.sources import ArraySource


def make_data(n: int, d: int, k: int, seed: int) -> np.ndarray:
    """``k`` Gaussian blobs with random covariances, float32."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(k, d))
    labels = rng.integers(k, size=n)
    X = np.empty((n, d), dtype=np.float32)
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        A = rng.normal(scale=0.7, size=(d, d))
        X[rows] = centers[j] + rng.standard_normal((rows.size, d)) @ A.T
    return X


def initial_params(X: np.ndarray, k: int, family: Any, seed: int) -> GMMParams:
    """Parameters from random responsibilities on a sample of 20,000 rows."""
    rng = np.random.default_rng(seed)
    sample = X[rng.choice(X.shape[0], size=min(20_000, X.shape[0]), replace=False)]
    resp = rng.uniform(size=(sample.shape[0], k))
    resp /= resp.sum(axis=1, keepdims=True)
    stats = stats_from_resp(sample, resp, family, k, sample.mean(axis=0), None)
    params, _ = m_step(stats, family, 1e-6, dtype=np.float32)
    return params


def time_fit(
    source: Any, params0: GMMParams, family: Any, iterations: int
) -> tuple[float, list[float], GMMParams]:
    """Median seconds per iteration (without the first), all of them, the result."""
    stamps = [time.perf_counter()]

    def callback(n_iter: int, lower_bound: float, change: float) -> None:
        stamps.append(time.perf_counter())

    result = fit_em(
        source,
        params0,
        family,
        tol=0.0,
        max_iter=iterations,
        reg_covar=1e-6,
        dtype=np.float32,
        callback=callback,
    )
    seconds = list(np.diff(stamps))
    return statistics.median(seconds[1:]), seconds, result.params


def on_cluster(
    n_workers: int, X: np.ndarray, block_rows: int, run: Callable[[Any], Any]
) -> Any:
    """``run(persisted X)`` with a fresh LocalCluster of ``n_workers`` processes."""
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers)
        with warnings.catch_warnings():  # the data are sent once, on purpose
            warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
            Xd = client.persist(da.from_array(X, chunks=(block_rows, X.shape[1])))
        wait(Xd)
        return run(Xd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="rows")
    parser.add_argument("--d", type=int, default=8, help="features")
    parser.add_argument("--k", type=int, default=8, help="components")
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument(
        "--block-rows",
        type=int,
        default=None,
        help="rows per dask block (default: 16 blocks)",
    )
    parser.add_argument("--split-every", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    args = parser.parse_args()
    if args.quick:
        args.n, args.iterations = 20_000, 4

    from gaussmix.distributed import DaskSource

    block_rows = args.block_rows or -(-args.n // 16)
    family = get_family(args.covariance_type)
    X = make_data(args.n, args.d, args.k, args.seed)
    params0 = initial_params(X, args.k, family, args.seed)
    n_blocks = -(-args.n // block_rows)
    print(
        f"N={args.n:,} D={args.d} K={args.k} {args.covariance_type} float32 "
        f"({X.nbytes / 2**20:.0f} MiB), {args.iterations} iterations, "
        f"{n_blocks} blocks of {block_rows:,} rows, split_every={args.split_every}"
    )
    print(
        f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} usable "
        f"cores, Python {platform.python_version()}, numpy {np.__version__}"
    )

    rows: dict[str, tuple[float, list[float]]] = {}
    results: dict[str, GMMParams] = {}
    for threads in (1, 2):
        with single_threaded_blas():
            median, seconds, params = time_fit(
                ArraySource(X, n_threads=threads), params0, family, args.iterations
            )
        name = f"in-memory, {threads} thread{'s' if threads > 1 else ''}"
        rows[name], results[name] = (median, seconds), params

    for workers in (1, 2):

        def run(Xd: Any) -> tuple[float, list[float], GMMParams]:
            source = DaskSource(Xd, split_every=args.split_every)
            return time_fit(source, params0, family, args.iterations)

        median, seconds, params = on_cluster(workers, X, block_rows, run)
        name = f"dask, {workers} worker{'s' if workers > 1 else ''}"
        rows[name], results[name] = (median, seconds), params

    print()
    print(f"{'run':<22} {'s/iter (median)':>16}   first iteration, all (s)")
    for name, (median, seconds) in rows.items():
        spread = " ".join(f"{s:.3f}" for s in seconds[1:])
        print(f"{name:<22} {median:>16.3f}   {seconds[0]:.3f} | {spread}")

    reference = results["in-memory, 1 thread"]
    worst = max(
        float(
            np.max(np.abs(p.means - reference.means)) / np.max(np.abs(reference.means))
        )
        for p in results.values()
    )
    best_local = min(rows["in-memory, 1 thread"][0], rows["in-memory, 2 threads"][0])
    serial = rows["in-memory, 1 thread"][0]
    dask1, dask2 = rows["dask, 1 worker"][0], rows["dask, 2 workers"][0]
    print()
    print(f"overhead, dask 2 workers / in-memory 1 thread:  {dask2 / serial:.2f}")
    print(f"overhead, dask 2 workers / in-memory best:      {dask2 / best_local:.2f}")
    print(f"overhead, dask 1 worker / in-memory 1 thread:   {dask1 / serial:.2f}")
    print(f"scaling, dask 1 -> 2 workers (speed-up):        {dask1 / dask2:.2f}")
    print(f"largest relative difference of the means between runs: {worst:.1e}")


if __name__ == "__main__":
    main()
