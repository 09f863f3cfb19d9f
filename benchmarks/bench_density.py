"""Benchmark: CDF, quantiles and HDR levels, gaussmix against R's mclust.

Run: ``.venv/bin/python benchmarks/bench_density.py [--points N] [--probs M]
[--rows R] [--repeats K] [--quick] [--no-r]``.

The same models on both sides, fitted once and checked to agree (log-likelihood
within 1e-6 relative) before anything is timed:

* **cdf**: faithful's eruptions, mclust's model ``V`` with 2 components;
  ``cdfMclust(d, pts)`` against ``gaussmix.density.cdf(gm, pts)`` at ``N``
  points (default 1,000,000) spread over the data's range and beyond;
* **quantile**: the same model; ``quantileMclust(d, p)`` (a ``uniroot`` per
  probability) against ``quantile(gm, p)`` (a Brent root per probability) at
  ``M`` probabilities (default 1,000) in (0, 1);
* **hdr_levels**: faithful (2 features), ``VVV`` with 2 components run to
  EM's fixed point on both sides (tol 0, 300 iterations; mclust's multivariate
  EM returns the parameters one M-step behind gaussmix's otherwise);
  ``hdrlevels(predict(d, Xnew), prob)`` against ``hdr_levels(gm, Xnew, prob)``
  on ``R`` rows (default 200,000: faithful resampled with a little jitter) and
  six probabilities: the densities of the rows, then their quantiles.

R is timed inside ``Rscript`` with ``system.time`` (start-up and data reading
excluded), gaussmix in this process after one warm-up call; each figure is the
median of ``--repeats``. The largest differences between the two answers are
printed with the times and the ratio R / gaussmix. ``--no-r`` times gaussmix
alone (the data then come from the stored mclust references of the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from gaussmix import GaussianMixture  # noqa: E402
from gaussmix.density import cdf, hdr_levels, quantile  # noqa: E402

PROB = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
CONVERGED = {"tol": 0.0, "max_iter": 300, "reg_covar": 0.0, "init_params": "hc"}

_R_SCRIPT = """
suppressMessages(library(mclust))
rd <- function(name) as.vector(as.matrix(read.table(file.path('{folder}', name))))
x <- rd('x.txt'); pts <- rd('pts.txt'); p <- rd('p.txt'); prob <- rd('prob.txt')
X <- as.matrix(read.table(file.path('{folder}', 'X.txt')))
Xnew <- as.matrix(read.table(file.path('{folder}', 'Xnew.txt')))
dimnames(X) <- NULL; dimnames(Xnew) <- NULL
d1 <- densityMclust(x, G = 2, modelNames = 'V', verbose = FALSE, plot = FALSE)
d2 <- densityMclust(X, G = 2, modelNames = 'VVV', verbose = FALSE, plot = FALSE,
                    control = emControl(tol = c(0, 1e-10), itmax = c(300, 300)))
med <- function(expr) {{
  times <- c()
  for (r in 1:{repeats}) times <- c(times, system.time(expr())[["elapsed"]])
  median(times)
}}
t_cdf <- med(function() cdfMclust(d1, pts))
t_q <- med(function() quantileMclust(d1, p))
t_h <- med(function() hdrlevels(predict(d2, Xnew), prob))
out <- list(loglik1 = d1$loglik, loglik2 = d2$loglik, t_cdf = t_cdf, t_q = t_q,
            t_h = t_h, cdf = cdfMclust(d1, pts)$y, q = quantileMclust(d1, p),
            hdr = as.vector(hdrlevels(predict(d2, Xnew), prob)))
writeLines(paste0('{{', paste0('"', names(out), '":[',
  sapply(out, function(v) paste(formatC(v, digits = 17, format = 'g'), collapse = ',')),
  ']', collapse = ','), '}}'), file.path('{folder}', 'out.json'))
"""


def load_data(use_r: bool) -> tuple[np.ndarray, np.ndarray]:
    """faithful's two columns: from R when it is used, else the tests' references."""
    if use_r:
        out = subprocess.run(
            [
                "Rscript",
                "-e",
                "write.table(faithful, col.names=FALSE, row.names=FALSE)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        X = np.loadtxt(out.splitlines())
    else:
        import mclust_oracle

        X = mclust_oracle.dataset("faithful")
    return X[:, 0].copy(), X


def run_r(inputs: dict[str, np.ndarray], repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        for name, value in inputs.items():
            np.savetxt(os.path.join(folder, f"{name}.txt"), value, fmt="%.17g")
        script = os.path.join(folder, "bench.R")
        with open(script, "w") as f:
            f.write(_R_SCRIPT.format(folder=folder, repeats=repeats))
        subprocess.run(
            ["Rscript", "--vanilla", script], check=True, capture_output=True
        )
        with open(os.path.join(folder, "out.json")) as f:
            got = json.load(f)
    return {k: (v[0] if len(v) == 1 else np.asarray(v)) for k, v in got.items()}


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = call()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--probs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--no-r", action="store_true", help="time gaussmix only")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.probs, args.rows, args.repeats = 1000, 20, 1000, 1
    use_r = not args.no_r

    x, X = load_data(use_r)
    rng = np.random.default_rng(0)
    span = x.max() - x.min()
    pts = rng.uniform(x.min() - span, x.max() + span, args.points)
    p = (np.arange(args.probs) + 0.5) / args.probs
    rows = rng.integers(0, len(X), args.rows)
    Xnew = X[rows] + rng.normal(0, 0.05, (args.rows, 2)) * X.std(axis=0)
    prob = np.asarray(PROB)

    gm1 = GaussianMixture(2, covariance_type="V").fit(x[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: "did not converge"
        gm2 = GaussianMixture(2, covariance_type="VVV", **CONVERGED).fit(X)

    t_cdf, ours_cdf = timed(lambda: cdf(gm1, pts), args.repeats)
    t_q, ours_q = timed(lambda: quantile(gm1, p), args.repeats)
    t_h, ours_h = timed(lambda: hdr_levels(gm2, Xnew, prob), args.repeats)
    table = {
        "cdf": {"gaussmix_s": t_cdf},
        "quantile": {"gaussmix_s": t_q},
        "hdr_levels": {"gaussmix_s": t_h},
    }
    sizes = {
        "cdf": f"{args.points:,} points",
        "quantile": f"{args.probs:,} probabilities",
        "hdr_levels": f"{args.rows:,} rows x 2, {len(PROB)} levels",
    }
    if use_r:
        inputs = {"x": x, "pts": pts, "p": p, "prob": prob, "X": X, "Xnew": Xnew}
        r = run_r(inputs, args.repeats)
        for name, fit, loglik in (("V", gm1, r["loglik1"]), ("VVV", gm2, r["loglik2"])):
            ours = fit.lower_bound_ * len(x)  # both data sets have 272 rows
            rel = abs(ours / loglik - 1)
            print(
                f"fit {name}: loglik gaussmix {ours:.10f}, mclust {loglik:.10f} (rel {rel:.1e})"
            )
            if rel > 1e-6:
                raise SystemExit(f"the {name} fits differ; nothing to compare")
        order = np.argsort(pts, kind="stable")
        diffs = {
            "cdf": float(np.max(np.abs(ours_cdf[order] - r["cdf"]))),
            "quantile": float(np.max(np.abs(ours_q - r["q"]))),
            "hdr_levels": float(np.max(np.abs(ours_h / r["hdr"] - 1))),
        }
        for name, key in (("cdf", "t_cdf"), ("quantile", "t_q"), ("hdr_levels", "t_h")):
            table[name]["mclust_s"] = float(r[key])
            table[name]["ratio"] = float(r[key]) / table[name]["gaussmix_s"]
            table[name]["max_difference"] = diffs[name]
    print(
        f"{'function':<11} {'size':<28} {'gaussmix':>10} {'mclust':>10} {'ratio':>7}  agreement"
    )
    for name, row in table.items():
        line = f"{name:<11} {sizes[name]:<28} {row['gaussmix_s']:>9.4f}s"
        if "mclust_s" in row:
            what = "relative" if name == "hdr_levels" else "absolute"
            line += (
                f" {row['mclust_s']:>9.4f}s {row['ratio']:>6.1f}x"
                f"  {row['max_difference']:.1e} {what}"
            )
        print(line)
    return table


if __name__ == "__main__":
    main()
