"""Benchmark: bootstrap standard errors, gaussmix against R's MclustBootstrap.

Run: ``.venv/bin/python benchmarks/bench_bootstrap.py [--methods bs wlbs jk pb]
[--n-boot 999] [--repeats 3] [--dataset faithful] [--model EEE] [--k 3]``.

On faithful (272 x 2) with the EEE model and 3 components, as the issue asks:

* mclust: ``Mclust(X, G = 3, modelNames = "EEE")``, then ``MclustBootstrap(m,
  nboot = 999, type = method)``, timed with ``system.time`` inside its own
  ``Rscript`` process (R's start-up and the fit excluded), median of
  ``--repeats``;
* gaussmix: ``GaussianMixture(3, covariance_type="EEE").fit(X)``, then
  ``bootstrap(gm, X, 999, method, n_jobs=1)``, timed inside a fresh Python
  process after a warm-up bootstrap on other data (the imports and numba's
  load of the compiled kernels, about 0.5 s of it: the time from the start of
  the process to the end of the warm-up is printed separately), median of
  ``--repeats``; and the same with ``n_jobs=2`` (the replicates shared with a
  forked process when the first ones predict a saving of 0.1 s).

Both sides single-threaded: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` are 1 in both processes (gaussmix runs BLAS single-threaded
anyway). The machine is shared: the R and gaussmix runs of one method are
interleaved, repeat by repeat, so that both see the same load.

Prints seconds, the ratio mclust / gaussmix, and both sides' standard errors of
the means (they agree within Monte Carlo error, 3-4% for 999 replicates).

``--lrt G`` times the bootstrap LRT instead: ``mclustBootstrapLRT(X, modelName,
maxG = G, nboot)`` against ``bootstrap_lrt(X, model, max_components=G,
n_boot=...)`` (the fits of 1 .. G + 1 components included on both sides), with
both sides' observed statistics and p-values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

#: One thread for every BLAS and OpenMP in both processes.
SINGLE_THREADED = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

_R_SCRIPT = """
suppressMessages(library(mclust))
X <- as.matrix(read.table('{path}'))
m <- Mclust(X, G = {k}, modelNames = "{model}", verbose = FALSE)
set.seed({seed})
t <- system.time(b <- MclustBootstrap(m, nboot = {n_boot}, type = "{method}",
                                      verbose = FALSE))[["elapsed"]]
s <- summary(b, what = "se")
cat(t, as.vector(s$mean), "\\n")
"""

#: A fresh process: imports, a warm-up bootstrap on other data (numba's load),
#: then the timed call.
_GM_CHILD = """
import sys, time
t_start = time.perf_counter()
import numpy as np
from gaussmix import GaussianMixture
from gaussmix.resampling import bootstrap
X = np.loadtxt(sys.argv[1], ndmin=2)
k, model, method, n_boot, n_jobs, seed = (
    int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]),
    int(sys.argv[7]),
)
rng = np.random.default_rng(1)
warm = rng.normal(size=(90, X.shape[1])) + np.repeat(np.eye(3, X.shape[1]) * 4, 30, 0)
gw = GaussianMixture(3, covariance_type=model).fit(warm)
t0 = time.perf_counter()
bootstrap(gw, warm, n_boot=30, method=method, random_state=0, n_jobs=n_jobs)
first = time.perf_counter() - t_start
gm = GaussianMixture(k, covariance_type=model).fit(X)
t0 = time.perf_counter()
result = bootstrap(gm, X, n_boot=n_boot, method=method, random_state=seed, n_jobs=n_jobs)
elapsed = time.perf_counter() - t0
print(elapsed, first, *result.se["means"].ravel())
"""


_R_LRT = """
suppressMessages(library(mclust))
X <- as.matrix(read.table('{path}'))
set.seed({seed})
t <- system.time(l <- mclustBootstrapLRT(X, modelName = "{model}", maxG = {max_g},
                                         nboot = {n_boot}, verbose = FALSE))
cat(t[["elapsed"]], l$obs, l$p.value, "\\n")
"""

_GM_LRT = """
import sys, time
import numpy as np
from gaussmix.resampling import bootstrap_lrt
X = np.loadtxt(sys.argv[1], ndmin=2)
model, max_g, n_boot, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(1)
warm = rng.normal(size=(90, X.shape[1])) + np.repeat(np.eye(3, X.shape[1]) * 4, 30, 0)
bootstrap_lrt(warm, model, max_components=1, n_boot=5, random_state=0)
t0 = time.perf_counter()
result = bootstrap_lrt(X, model, max_components=max_g, n_boot=n_boot, random_state=seed)
elapsed = time.perf_counter() - t0
print(elapsed, *result.table["statistic"], *result.table["p_value"])
"""


def lrt_times(
    path: str, folder: str, model: str, max_g: int, n_boot: int, repeats: int
) -> None:
    """Print the seconds of both LRTs (medians), statistics and p-values."""
    r_times, gm_times = [], []
    for rep in range(repeats):
        spath = os.path.join(folder, "lrt.R")
        with open(spath, "w") as f:
            f.write(
                _R_LRT.format(
                    path=path, model=model, max_g=max_g, n_boot=n_boot, seed=rep + 1
                )
            )
        out_r = [float(v) for v in _run(["Rscript", "--vanilla", spath])]
        out_gm = [
            float(v)
            for v in _run(
                [
                    sys.executable,
                    "-c",
                    _GM_LRT,
                    path,
                    model,
                    str(max_g),
                    str(n_boot),
                    str(rep + 1),
                ]
            )
        ]
        r_times.append(out_r[0])
        gm_times.append(out_gm[0])
    t_r, t_gm = statistics.median(r_times), statistics.median(gm_times)
    print(
        f"LRT {model}, g = 1..{max_g}, {n_boot} samples per test: mclust {t_r:.2f} s, "
        f"gaussmix {t_gm:.2f} s; ratio mclust/gaussmix {t_r / t_gm:.1f}x",
        flush=True,
    )
    print(
        f"      statistics mclust {np.round(out_r[1 : 1 + max_g], 6).tolist()}, "
        f"gaussmix {np.round(out_gm[1 : 1 + max_g], 6).tolist()}; p-values mclust "
        f"{out_r[1 + max_g :]}, gaussmix {out_gm[1 + max_g :]}",
        flush=True,
    )


def _run(command: list[str]) -> list[str]:
    env = {**os.environ, **SINGLE_THREADED}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=7200, env=env
    )
    return done.stdout.split()


def r_time(
    path: str, folder: str, k: int, model: str, method: str, n_boot: int, seed: int
) -> tuple[float, list[float]]:
    """Seconds of one MclustBootstrap call in R, and its SEs of the means."""
    script = _R_SCRIPT.format(
        path=path, k=k, model=model, method=method, n_boot=n_boot, seed=seed
    )
    spath = os.path.join(folder, "boot.R")
    with open(spath, "w") as f:
        f.write(script)
    out = _run(["Rscript", "--vanilla", spath])
    return float(out[0]), [float(v) for v in out[1:]]


def gm_time(
    path: str, k: int, model: str, method: str, n_boot: int, n_jobs: int, seed: int
) -> tuple[float, float, list[float]]:
    """Seconds of one bootstrap call in a fresh process, its first call, its SEs."""
    out = _run(
        [
            sys.executable,
            "-c",
            _GM_CHILD,
            path,
            str(k),
            model,
            method,
            str(n_boot),
            str(n_jobs),
            str(seed),
        ]
    )
    return float(out[0]), float(out[1]), [float(v) for v in out[2:]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["bs", "wlbs", "jk"])
    parser.add_argument("--n-boot", type=int, default=999)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="faithful")
    parser.add_argument("--model", default="EEE")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument(
        "--no-parallel", action="store_true", help="skip the n_jobs=2 runs of gaussmix"
    )
    parser.add_argument(
        "--lrt",
        type=int,
        default=0,
        metavar="G",
        help="time the bootstrap LRT of g = 1..G instead",
    )
    args = parser.parse_args(argv)

    # R is run itself: the data set is read live, not from the stored references.
    os.environ.setdefault("GAUSSMIX_MCLUST", "live")
    import mclust_oracle

    if not mclust_oracle.available():
        print("R's mclust is missing: " + mclust_oracle.SKIP_REASON)
        return 1
    X = mclust_oracle.dataset(args.dataset)
    print(
        f"{args.dataset} ({X.shape[0]} x {X.shape[1]}), {args.model} with {args.k} "
        f"components, {args.n_boot} replicates (jk: one per row), single-threaded; "
        f"medians of {args.repeats}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        np.savetxt(path, X, fmt="%.17g")
        if args.lrt:
            lrt_times(path, folder, args.model, args.lrt, args.n_boot, args.repeats)
            return 0
        for method in args.methods:
            r_times, gm_times, gm2_times, firsts = [], [], [], []
            for rep in range(args.repeats):
                seed = rep + 1
                t_r, se_r = r_time(
                    path, folder, args.k, args.model, method, args.n_boot, seed
                )
                t_gm, first, se_gm = gm_time(
                    path, args.k, args.model, method, args.n_boot, 1, seed
                )
                r_times.append(t_r)
                gm_times.append(t_gm)
                firsts.append(first)
                if not args.no_parallel:
                    gm2_times.append(
                        gm_time(path, args.k, args.model, method, args.n_boot, 2, seed)[
                            0
                        ]
                    )
            t_r, t_gm = statistics.median(r_times), statistics.median(gm_times)
            parallel = (
                f"; n_jobs=2: {statistics.median(gm2_times):.3f} s "
                f"({t_gm / statistics.median(gm2_times):.2f}x of n_jobs=1)"
                if gm2_times
                else ""
            )
            print(
                f"{method:>4}: mclust {t_r:.3f} s, gaussmix {t_gm:.3f} s; ratio "
                f"mclust/gaussmix {t_r / t_gm:.1f}x{parallel}; a fresh process "
                f"to the end of its warm-up (imports, numba's load) "
                f"{statistics.median(firsts):.2f} s",
                flush=True,
            )
            print(
                f"      SE of the means, mclust {np.round(se_r, 4).tolist()}, "
                f"gaussmix {np.round(se_gm, 4).tolist()}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
