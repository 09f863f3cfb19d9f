"""Benchmark: the full model-selection grid, gaussmix against R's mclust.

Run: ``.venv/bin/python benchmarks/bench_select.py [--datasets faithful iris gen]
[--n-gen N] [--repeats R]``.

For each data set both libraries fit every covariance model of mclust (14 models,
or the univariate E and V) for K = 1..9 and pick the best by BIC:

* mclust: ``mclustBIC(X, G = 1:9)`` (hierarchical initialisation, its defaults),
  timed inside ``Rscript`` with ``system.time`` (R start-up excluded);
* gaussmix: ``gaussmix.select(X, range(1, 10), <the same models>,
  init_params="hc", tol=1e-5 ...)`` in this process, with the default
  ``n_jobs=None`` (below 100,000 data values the grid runs in forked processes,
  above in threads) and serially (``n_jobs=1``; skipped with ``--no-serial``).

Prints seconds (median of ``--repeats``), the ratio mclust / gaussmix and both
selections (model, K, BIC in mclust's sign).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

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


def r_select(X: np.ndarray, repeats: int) -> tuple[float, dict]:
    """Median seconds of mclustBIC(X, G=1:9) in R, and its best model."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        np.savetxt(path, X, fmt="%.17g")
        script = f"""
suppressMessages(library(mclust))
X <- as.matrix(read.table('{path}'))
times <- c()
for (r in 1:{repeats}) {{
  t <- system.time(b <- mclustBIC(X, G = 1:9, verbose = FALSE))[["elapsed"]]
  times <- c(times, t)
}}
s <- summary(b, X)
cat(median(times), s$modelName, s$G, s$bic, "\\n")
"""
        spath = os.path.join(folder, "s.R")
        with open(spath, "w") as f:
            f.write(script)
        out = subprocess.run(
            ["Rscript", "--vanilla", spath],
            capture_output=True,
            text=True,
            check=True,
            timeout=7200,
        ).stdout.split()
    return float(out[0]), {"model": out[1], "K": int(out[2]), "bic": float(out[3])}


def gm_select(X: np.ndarray, models, repeats: int, n_jobs) -> tuple[float, dict]:
    from gaussmix import select
    from gaussmix.core.init import INIT_METHODS

    init = "hc" if "hc" in INIT_METHODS else "kmeans"
    # mclust stops EM at a relative change of the log-likelihood of 1e-5; in
    # gaussmix's units (mean log-likelihood per sample) that is about
    # 1e-5 * (1/n + |mean loglik|).
    from gaussmix import GaussianMixture

    mean_ll = abs(GaussianMixture(1, reg_covar=0.0).fit(X).score(X))
    tol = 1e-5 * (1.0 / X.shape[0] + mean_ll)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best, _table = select(
                X,
                range(1, 10),
                list(models),
                "bic",
                n_jobs=n_jobs,
                init_params=init,
                reg_covar=0.0,
                tol=tol,
                max_iter=1000,
                random_state=0,
            )
        times.append(time.perf_counter() - t0)
    assert best is not None
    return statistics.median(times), {
        "model": best.covariance_type,
        "K": best.n_components,
        "bic": -best.bic(X),
        "init": init,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["faithful", "iris", "gen"])
    parser.add_argument("--n-gen", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-serial", action="store_true", help="skip the n_jobs=1 run of gaussmix"
    )
    args = parser.parse_args(argv)

    import mclust_oracle
    from gaussmix.core.covariance import MCLUST_GROUP, family_names

    if not mclust_oracle.available():
        print("R's mclust is missing: " + mclust_oracle.SKIP_REASON)
        return 1
    models = list(family_names(MCLUST_GROUP))  # mclust's 14, in mclust's order
    for name in args.datasets:
        X = generated(args.n_gen) if name == "gen" else mclust_oracle.dataset(name)
        reps = 1 if X.shape[0] > 10_000 else args.repeats
        t_r, r_best = r_select(X, reps)
        t_gm, gm_best = gm_select(X, models, reps, None)
        t_gm1 = math.nan if args.no_serial else gm_select(X, models, reps, 1)[0]
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
