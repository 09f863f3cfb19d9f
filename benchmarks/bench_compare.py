"""Benchmark: the same gaussmix fit from two source trees, in paired processes.

Run: ``.venv/bin/python benchmarks/bench_compare.py OLD_SRC NEW_SRC
[--workload W1|W2s] [--runs R]``, where ``OLD_SRC`` and ``NEW_SRC`` are ``src``
folders of two checkouts (for example ``git worktree add /tmp/old <commit>``
then ``/tmp/old/src`` against ``src``).

Each run is a whole fresh Python process (``PYTHONPATH`` set to one tree) that
builds the data and fits from fixed initial parameters with ``tol=0``:

* ``W1``: N=100,000, D=2, K=4, full, 100 iterations;
* ``W2s``: N=200,000, D=16, K=32, full, 8 iterations (W2 of bench_fit.py at a
  fifth of the rows, so that a pair takes seconds).

The runs alternate (old, new, old, new, ...), so that drifts of a shared
machine's speed fall on both; the figure to quote is the median of the
pairwise ratios new / old of the wall times. Both trees' final lower bounds are
printed, and must be equal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = {"W1": (100_000, 2, 4, 100), "W2s": (200_000, 16, 32, 8)}

_CHILD = """
import sys, warnings
import numpy as np
from gaussmix import GaussianMixture
n, d, k, iters = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(0)
centers = rng.normal(0, 4, (k, d))
X = centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))
means = X[rng.choice(n, k, replace=False)]
prec = np.broadcast_to(np.eye(d), (k, d, d)).copy()
gm = GaussianMixture(k, covariance_type="full", tol=0.0, max_iter=iters,
                     weights_init=np.full(k, 1 / k), means_init=means,
                     precisions_init=prec)
warnings.simplefilter("ignore")
gm.fit(X)
print(repr(gm.lower_bound_))
"""


def run_once(src: str, workload: tuple[int, int, int, int]) -> tuple[float, str]:
    """Wall seconds of one fresh process fitting ``workload`` with ``src``."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    args = [sys.executable, "-c", _CHILD, *(str(v) for v in workload)]
    t0 = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W2s")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    workload = WORKLOADS[args.workload]
    run_once(args.new_src, (1000, 2, 2, 2))  # warm the file cache
    old_times, new_times, bounds = [], [], set()
    for _ in range(args.runs):
        t_old, b_old = run_once(args.old_src, workload)
        t_new, b_new = run_once(args.new_src, workload)
        old_times.append(t_old)
        new_times.append(t_new)
        bounds.update((b_old, b_new))
    ratios = [n / o for n, o in zip(new_times, old_times, strict=True)]
    print(
        f"{args.workload} N={workload[0]:,} D={workload[1]} K={workload[2]} "
        f"{workload[3]} iterations, {args.runs} pairs: old median "
        f"{statistics.median(old_times):.3f} s, new median "
        f"{statistics.median(new_times):.3f} s; new/old median "
        f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max "
        f"{max(ratios):.3f}); lower bounds {sorted(bounds)}"
    )
    return 0 if len(bounds) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
