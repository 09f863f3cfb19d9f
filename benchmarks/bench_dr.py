"""Benchmark: dimension reduction of a fitted mixture, gaussmix's MixtureDR against R's MclustDR.

Run: ``.venv/bin/python benchmarks/bench_dr.py [--datasets faithful iris diabetes
banknote] [--repeats R] [--calls C]``.

For each data set both libraries fit the same model once (the ``Mclust`` model and K
below, hierarchical start, EM to ``tol = 1e-13``), check that the two fits agree, and
then time the reduction alone on that fit, ``C`` calls per repeat:

* mclust: ``MclustDR(fit)``, timed inside ``Rscript`` with ``system.time`` over the
  ``C`` calls (R start-up and the fit excluded);
* gaussmix: ``MixtureDR(gm).fit(X)`` in this process, ``time.perf_counter`` over
  the ``C`` calls (after one warm-up call).

Also timed: one classifier input, ``MclustDR(MclustDA(X, class, modelType = "EDDA"))``
against ``MixtureDR`` of per-class Gaussians with the same parameters (R's, read
back), on the data sets that have classes. Prints microseconds per call (median of
``--repeats``), the ratio mclust / gaussmix, and the largest eigenvalue difference.
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
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

#: data set -> (mclust model, K, class column or None)
CASES = {
    "faithful": ("EEE", 3, None),
    "iris": ("VEV", 3, "Species"),
    "diabetes": ("VVV", 3, "class"),
    "banknote": ("EEV", 3, "Status"),
}

_R = """
suppressMessages(library(mclust))
data({name}, package = c("datasets", "mclust"))
d <- {name}
X <- as.matrix(d[, sapply(d, is.numeric)])
dimnames(X) <- NULL
fit <- Mclust(X, G = {G}, modelNames = "{model}",
              control = emControl(tol = c(1e-13, 1e-13)), verbose = FALSE)
dr <- MclustDR(fit)
times <- c()
for (r in 1:{repeats}) {{
  times <- c(times, system.time(for (i in 1:{calls}) MclustDR(fit))[["elapsed"]])
}}
out <- list(x = X, loglik = fit$loglik, evalues = dr$evalues,
            seconds = median(times) / {calls})
{classify}
writeLines(jsonlite_free(out), "{path}")
"""

_R_CLASSIFY = """
y <- as.integer(d${label})
da <- MclustDA(X, y, modelType = "EDDA", verbose = FALSE)
ddr <- MclustDR(da)
ct <- c()
for (r in 1:{repeats}) {{
  ct <- c(ct, system.time(for (i in 1:{calls}) MclustDR(da))[["elapsed"]])
}}
out$y <- y
out$da_evalues <- ddr$evalues
out$da_seconds <- median(ct) / {calls}
out$da_mean <- lapply(unname(da$models), function(m) as.vector(m$parameters$mean))
out$da_sigma <- lapply(unname(da$models), function(m) as.vector(m$parameters$variance$sigma))
"""

# A JSON writer in base R for flat numbers, vectors, matrices and lists of them.
_JSON = r"""
jsonlite_free <- function(x) {
  enc <- function(v) {
    if (is.list(v)) {
      nm <- names(v)
      parts <- vapply(v, enc, "")
      if (is.null(nm)) return(paste0("[", paste(parts, collapse = ","), "]"))
      return(paste0("{", paste0('"', nm, '":', parts, collapse = ","), "}"))
    }
    if (is.matrix(v)) return(enc(lapply(seq_len(nrow(v)), function(i) v[i, ])))
    s <- formatC(as.numeric(v), digits = 17, format = "g")
    if (length(v) == 1) s else paste0("[", paste(s, collapse = ","), "]")
  }
  enc(x)
}
"""


def run_r(name: str, repeats: int, calls: int) -> dict:
    model, G, label = CASES[name]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "out.json")
        classify = (
            _R_CLASSIFY.format(label=label, repeats=repeats, calls=calls)
            if label
            else ""
        )
        script = _JSON + _R.format(
            name=name,
            G=G,
            model=model,
            repeats=repeats,
            calls=calls,
            classify=classify,
            path=path,
        )
        spath = os.path.join(folder, "s.R")
        with open(spath, "w") as f:
            f.write(script)
        subprocess.run(
            ["Rscript", "--vanilla", spath],
            check=True,
            capture_output=True,
            timeout=3600,
        )
        with open(path) as f:
            return json.load(f)


def per_call(model, X, y, repeats: int, calls: int) -> float:
    """Median seconds per ``MixtureDR(model).fit(X, y)`` call."""
    from gaussmix.dr import MixtureDR

    MixtureDR(model).fit(X, y)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            MixtureDR(model).fit(X, y)
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)

    import mclust_oracle
    from gaussmix import GaussianMixture
    from gaussmix.dr import MixtureDR

    if not mclust_oracle.available():
        print("R's mclust is missing: " + mclust_oracle.SKIP_REASON)
        return 1

    print(
        f"{'input':32s} {'mclust':>10s} {'gaussmix':>10s} {'ratio':>7s} "
        f"{'max |evalue diff|':>18s}"
    )
    for name in args.datasets:
        model, G, label = CASES[name]
        r = run_r(name, args.repeats, args.calls)
        X = np.asarray(r["x"], dtype=np.float64)
        gm = GaussianMixture(
            G, covariance_type=model, init_params="hc", tol=1e-13, max_iter=100_000
        ).fit(X)
        loglik = gm.score(X) * X.shape[0]
        assert abs(loglik - r["loglik"]) <= 1e-6 * abs(r["loglik"]), (name, loglik)
        ours = MixtureDR(gm).fit(X)
        diff = float(np.max(np.abs(ours.eigenvalues_ - np.asarray(r["evalues"]))))
        t_gm = per_call(gm, X, None, args.repeats, args.calls)
        t_r = float(r["seconds"])
        title = f"{name} {X.shape[0]}x{X.shape[1]}, Mclust {model},{G}"
        print(
            f"{title:32s} {t_r * 1e6:8.0f} us {t_gm * 1e6:8.0f} us "
            f"{t_r / t_gm:6.1f}x {diff:18.1e}"
        )
        if label is None:
            continue
        y = np.asarray(r["y"], dtype=int)
        classes = np.unique(y)
        d = X.shape[1]
        models = {
            c: types.SimpleNamespace(
                covariance_type="full",
                weights_=np.ones(1),
                means_=np.asarray(mean, dtype=np.float64).reshape(1, d),
                covariances_=np.asarray(sigma, dtype=np.float64).reshape(1, d, d),
            )
            for c, mean, sigma in zip(classes, r["da_mean"], r["da_sigma"], strict=True)
        }
        clf = types.SimpleNamespace(
            classes_=classes,
            models_=models,
            class_priors_=np.array([np.mean(y == c) for c in classes]),
        )
        ours = MixtureDR(clf).fit(X, y)
        diff = float(np.max(np.abs(ours.eigenvalues_ - np.asarray(r["da_evalues"]))))
        t_gm = per_call(clf, X, y, args.repeats, args.calls)
        t_r = float(r["da_seconds"])
        title = f"{name}, MclustDA EDDA"
        print(
            f"{title:32s} {t_r * 1e6:8.0f} us {t_gm * 1e6:8.0f} us "
            f"{t_r / t_gm:6.1f}x {diff:18.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
