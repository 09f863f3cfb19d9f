"""Benchmark: the full model-selection grid, gaussmix against R's mclust.

Run: ``.venv/bin/python benchmarks/bench_select.py [--datasets faithful iris gen]
[--n-gen N] [--repeats R]``.

For each data set both libraries fit every covariance model of mclust (14 models,
or the univariate E and V) for K = 1..9 and pick the best by BIC:

* mclust: ``mclustBIC(X, G = 1:9)`` (hierarchical initialisation, its defaults),
  timed inside ``Rscript`` with ``system.time`` (R start-up excluded);
* gaussmix: the README's call ``gaussmix.select(X, range(1, 10), "all")`` (its
  defaults resolve to mclust's EM control and hierarchical start), timed inside
  a fresh Python process after a warm-up grid on other data, with the default
  ``n_jobs=None`` (below 100,000 data values the grid runs in forked processes,
  above in threads) and single-threaded (``n_jobs=1``; skipped with
  ``--no-serial``).

Prints seconds (median of ``--repeats``), the ratio mclust / gaussmix and both
selections (model, K, BIC in mclust's sign).

``--hc N`` times the hierarchical start alone instead: R's ``hc(X, "VVV", use =
"SVD")`` against ``gaussmix.core.hc.hc(X, "VVV", "SVD")`` on ``N`` generated rows
of three features (mclust's subset size is 2000), each repeat of gaussmix in a
fresh process after a warm-up tree on other data, medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def generated(n: int, seed: int = 0) -> np.ndarray:
    """N x 6: four elongated clusters with different orientations and volumes."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(4):
        a = rng.normal(size=(6, 6)) * (0.3 + 0.3 * k)
        mean = rng.normal(0, 6, 6)
        parts.append(rng.normal(size=(n // 4, 6)) @ a + mean)
    return np.vstack(parts)


def _run(command: list[str], folder: str, name: str = "", text: str = "") -> list[str]:
    """The words ``command`` prints (with ``text`` written to ``folder/name`` first)."""
    if name:
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=7200
    ).stdout.split()


def _r_timing(path: str, repeats: int, call: str) -> str:
    """An R script that times ``call`` on the data in ``path`` ``repeats`` times."""
    return f"""
suppressMessages(library(mclust))
X <- as.matrix(read.table('{path}'))
times <- c()
for (r in 1:{repeats}) {{
  times <- c(times, system.time({call})[["elapsed"]])
}}
"""


def r_select(X: np.ndarray, repeats: int) -> tuple[float, dict]:
    """Median seconds of mclustBIC(X, G=1:9) in R, and its best model."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        np.savetxt(path, X, fmt="%.17g")
        script = _r_timing(
            path, repeats, "b <- mclustBIC(X, G = 1:9, verbose = FALSE)"
        ) + ('s <- summary(b, X)\ncat(median(times), s$modelName, s$G, s$bic, "\\n")\n')
        spath = os.path.join(folder, "s.R")
        out = _run(["Rscript", "--vanilla", spath], folder, "s.R", script)
    return float(out[0]), {"model": out[1], "K": int(out[2]), "bic": float(out[3])}


#: Timed in a fresh Python process: a warm-up grid on other data first (imports,
#: caches), then the README's call on the data, timed inside the process. A
#: repeat in the same process would reuse the cached hierarchical tree.
_GM_CHILD = """
import sys, time, warnings
import numpy as np
from gaussmix import select
X = np.loadtxt(sys.argv[1], ndmin=2)
n_jobs = None if sys.argv[2] == "None" else int(sys.argv[2])
rng = np.random.default_rng(1)
warm = rng.normal(size=(120, X.shape[1])) + np.repeat(np.eye(3, X.shape[1]) * 4, 40, 0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    select(warm, range(1, 4), "all", n_jobs=n_jobs)
    t0 = time.perf_counter()
    best, table = select(X, range(1, 10), "all", n_jobs=n_jobs)
    elapsed = time.perf_counter() - t0
print(elapsed, best.covariance_type, best.n_components, -best.bic(X))
"""


def gm_select(X: np.ndarray, repeats: int, n_jobs: int | None) -> tuple[float, dict]:
    """Median seconds of the README's call ``select(X, range(1, 10), "all")``.

    Each repeat is a fresh process (see ``_GM_CHILD``); ``n_jobs`` as given
    (1: single-threaded, one process; None: the default).
    """
    times = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        np.savetxt(path, X, fmt="%.17g")
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", _GM_CHILD, path, str(n_jobs)],
                capture_output=True,
                text=True,
                check=True,
                timeout=7200,
            ).stdout.split()
            times.append(float(out[0]))
    return statistics.median(times), {
        "model": out[1],
        "K": int(out[2]),
        "bic": float(out[3]),
        "init": "auto (hc)",
    }


_HC_CHILD = """
import sys, time
import numpy as np
from gaussmix.core.hc import hc
X = np.loadtxt(sys.argv[1], ndmin=2)
hc(np.random.default_rng(1).normal(size=(600, X.shape[1])), "VVV", "SVD")  # warm-up
t0 = time.perf_counter()
tree = hc(X, "VVV", "SVD")
print(time.perf_counter() - t0, tree.merges.shape[0])
"""


def hc_times(n: int, repeats: int) -> tuple[float, float]:
    """Median seconds of R's ``hc(X, "VVV", use = "SVD")`` and of gaussmix's ``hc``."""
    X = generated(n)[:, :3]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        np.savetxt(path, X, fmt="%.17g")
        script = (
            _r_timing(path, repeats, 'h <- hc(X, modelName = "VVV", use = "SVD")')
            + 'cat(median(times), "\\n")\n'
        )
        spath = os.path.join(folder, "h.R")
        t_r = float(_run(["Rscript", "--vanilla", spath], folder, "h.R", script)[0])
        child = [sys.executable, "-c", _HC_CHILD, path]
        times = [float(_run(child, folder)[0]) for _ in range(repeats)]
    return t_r, statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["faithful", "iris", "diabetes", "banknote", "thyroid"],
        help="R data sets (datasets or mclust), or 'gen' for generated data",
    )
    parser.add_argument("--n-gen", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-serial", action="store_true", help="skip the n_jobs=1 run of gaussmix"
    )
    parser.add_argument(
        "--hc",
        type=int,
        default=0,
        metavar="N",
        help="time the hierarchical start alone on N generated rows instead",
    )
    args = parser.parse_args(argv)

    # The benchmark runs R itself: data sets are read live, not from the stored
    # references (which hold only what the tests use).
    os.environ.setdefault("GAUSSMIX_MCLUST", "live")
    import mclust_oracle
    from gaussmix.core.covariance import MCLUST_GROUP, family_names

    if not mclust_oracle.available():
        print("R's mclust is missing: " + mclust_oracle.SKIP_REASON)
        return 1
    if args.hc:
        t_r, t_gm = hc_times(args.hc, args.repeats)
        print(
            f"hc, N={args.hc:,} x 3 (VVV, SVD): mclust {t_r:.2f} s, gaussmix "
            f"{t_gm:.2f} s; ratio mclust/gaussmix {t_r / t_gm:.1f}x",
            flush=True,
        )
        return 0
    models = list(family_names(MCLUST_GROUP))  # mclust's 14, in mclust's order
    for name in args.datasets:
        X = generated(args.n_gen) if name == "gen" else mclust_oracle.dataset(name)
        reps = 1 if X.shape[0] > 10_000 else args.repeats
        t_r, r_best = r_select(X, reps)
        t_gm, gm_best = gm_select(X, reps, None)
        t_gm1 = math.nan if args.no_serial else gm_select(X, reps, 1)[0]
        print(
            f"{name} (N={X.shape[0]:,}, D={X.shape[1]}, {len(models)} models x K=1..9): "
            f"mclust {t_r:.2f} s, gaussmix {t_gm:.2f} s (n_jobs=1: {t_gm1:.2f} s); "
            f"ratio mclust/gaussmix {t_r / t_gm:.1f}x (serial {t_r / t_gm1:.1f}x); "
            f"best mclust {r_best['model']},{r_best['K']} BIC {r_best['bic']:.3f}; "
            f"gaussmix {gm_best['model']},{gm_best['K']} BIC {gm_best['bic']:.3f} "
            f"(init {gm_best['init']})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
