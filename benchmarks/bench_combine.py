"""Benchmark: merging mixture components, gaussmix against R's mclust ``clustCombi``.

Run: ``.venv/bin/python benchmarks/bench_combine.py [--cases faithful:EEE:3 ...]
[--n-gen N] [--repeats R]``.

For each case (data set, mclust model, number of components) both libraries fit
the same model from mclust's hierarchical start, run to convergence (mclust:
``Mclust(X, G, modelNames, control = emControl(tol = c(1e-15, 1e-12)))``;
gaussmix: ``GaussianMixture(G, covariance_type=model, init_params="hc",
tol=1e-15)``), and then merge its components:

* mclust: ``clustCombi(m)`` on the fitted object, timed inside ``Rscript``
  (``proc.time`` around a loop of calls long enough to last about 0.2 s,
  divided by its length; median of ``--repeats`` such loops; R start-up and the
  fit excluded);
* gaussmix: ``combine_components(gm, X)`` (it computes the responsibilities
  itself: one E-step more than ``clustCombi``, which reads the stored ``z``),
  and ``combine_responsibilities(z)`` on given responsibilities (the merging
  alone); each the median of ``--repeats`` calls after a warm-up call, in one
  process.

Prints milliseconds, the ratio mclust / gaussmix, and checks that the two
computed the same hierarchy: the relative difference of the two fits' BIC, the
largest relative difference of their entropies (those not 0 up to rounding),
the smallest adjusted Rand index between their partitions (K >= 2; the two
fits may number the components differently above 2000 rows, where mclust's
hierarchical start uses a random subset), and whether
``combine_responsibilities`` on mclust's own ``z`` gives ``clustCombi``'s
labels for every K.

Cases are ``name:model:G``, where ``name`` is an R data set (datasets or
mclust), ``moons`` (the data of ``examples/15_combine_components.py``) or
``gen`` (``--n-gen`` rows of generated data: two moons and a blob, 2-D).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

#: The cases of tests/test_combine.py, and the gallery example's data.
DEFAULT_CASES = (
    "faithful:EEE:3",
    "faithful:VVV:4",
    "iris:VVV:4",
    "iris:EEV:4",
    "diabetes:VVV:3",
    "banknote:VVV:4",
    "banknote:EEE:5",
    "moons:VVV:9",
)


def moons(n: int, noise: float = 0.06) -> np.ndarray:
    """Two moons of ``n`` points and a blob of ``n // 3`` (the gallery's data)."""
    from sklearn.datasets import make_moons

    X, _ = make_moons(n, noise=noise, random_state=0)
    rng = np.random.default_rng(0)
    return np.vstack([X, rng.normal((2.6, 1.4), 0.12, size=(n // 3, 2))])


_R_SCRIPT = """
suppressMessages(library(mclust))
X <- as.matrix(read.table('{path}'))
m <- Mclust(X, G = {G}, modelNames = "{model}",
            control = emControl(tol = c(1e-15, 1e-12)), verbose = FALSE)
t1 <- system.time(cc <- clustCombi(m))[["elapsed"]]
inner <- max(1L, as.integer(ceiling(0.2 / max(t1, 1e-4))))
times <- c()
for (r in 1:{repeats}) {{
  t0 <- proc.time()[["elapsed"]]
  for (i in 1:inner) cc <- clustCombi(m)
  times <- c(times, (proc.time()[["elapsed"]] - t0) / inner)
}}
ent <- sapply(cc$combiz, function(z) -sum(mclust:::xlog(z)))
cat(sprintf("%.17g", c(median(times), m$bic)), inner, "\\n")
cat(sprintf("%.17g", ent), "\\n")
for (K in 1:m$G) cat(cc$classification[[K]], "\\n")
write.table(m$z, '{zpath}', row.names = FALSE, col.names = FALSE)
"""


def r_combine(X: np.ndarray, model: str, g: int, repeats: int) -> dict:
    """Seconds per ``clustCombi`` call in R, its entropies, labels and ``z``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.txt")
        zpath = os.path.join(folder, "z.txt")
        np.savetxt(path, X, fmt="%.17g")
        script = os.path.join(folder, "s.R")
        with open(script, "w") as f:
            f.write(
                _R_SCRIPT.format(
                    path=path, zpath=zpath, G=g, model=model, repeats=repeats
                )
            )
        lines = subprocess.run(
            ["Rscript", "--vanilla", script],
            capture_output=True,
            text=True,
            check=True,
            timeout=7200,
        ).stdout.splitlines()
        z = np.loadtxt(zpath, ndmin=2)
    seconds, bic, inner = lines[0].split()
    return {
        "seconds": float(seconds),
        "bic": float(bic),
        "inner": int(inner),
        "entropy": np.array(lines[1].split(), dtype=float),
        "labels": [np.array(line.split(), dtype=int) - 1 for line in lines[2 : 2 + g]],
        "z": z,
    }


def median_seconds(function, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``function`` after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    parser.add_argument("--n-gen", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)

    # The benchmark runs R itself: data sets are read live, not from the stored
    # references (which hold only what the tests use).
    os.environ.setdefault("GAUSSMIX_MCLUST", "live")
    from sklearn.metrics import adjusted_rand_score

    import mclust_oracle
    from gaussmix import GaussianMixture
    from gaussmix.combine import combine_components, combine_responsibilities

    if not mclust_oracle.available():
        print("R's mclust is missing: " + mclust_oracle.SKIP_REASON)
        return 1
    for case in args.cases:
        name, model, g_text = case.split(":")
        g = int(g_text)
        if name == "moons":
            X = moons(600)
        elif name == "gen":
            X = moons(args.n_gen)
        else:
            X = mclust_oracle.dataset(name)
        r = r_combine(X, model, g, args.repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(
                g,
                covariance_type=model,
                init_params="hc",
                tol=1e-15,
                max_iter=100_000,
            ).fit(X)
        result = combine_components(gm, X)
        t_gm = median_seconds(partial(combine_components, gm, X), args.repeats)
        t_alone = median_seconds(
            partial(combine_responsibilities, r["z"]), args.repeats
        )
        entropy = np.array([result.entropy[k] for k in range(1, g + 1)])
        # Relative differences of the entropies that are not 0 up to rounding.
        shown = np.abs(r["entropy"]) > 1e-8
        rel = np.abs(entropy - r["entropy"])[shown] / np.abs(r["entropy"][shown])
        # The merging alone, on mclust's z: the same labels for every K. The two
        # fits agree up to the order of the components (above mclust's subset
        # of 2000 rows the hierarchical start is built on different subsets):
        # their partitions are compared by the adjusted Rand index.
        on_z = combine_responsibilities(r["z"])
        same_labels = all(
            np.array_equal(on_z.labels[k], r["labels"][k - 1]) for k in range(1, g + 1)
        )
        ari = min(
            adjusted_rand_score(result.labels[k], r["labels"][k - 1])
            for k in range(2, g + 1)
        )
        bic_rel = abs(-gm.bic(X) - r["bic"]) / abs(r["bic"])
        t_r = r["seconds"]
        print(
            f"{name} {model} G={g} (N={X.shape[0]:,}, D={X.shape[1]}): mclust "
            f"clustCombi {1e3 * t_r:.2f} ms, gaussmix combine_components "
            f"{1e3 * t_gm:.2f} ms (merging alone {1e3 * t_alone:.2f} ms); ratio "
            f"mclust/gaussmix {t_r / t_gm:.1f}x ({t_r / t_alone:.1f}x); "
            f"BIC rel. diff {bic_rel:.1e}, entropy rel. diff {rel.max():.1e}, "
            f"smallest adjusted Rand index of the two fits' partitions {ari:.4f}; "
            f"labels from mclust's z equal {same_labels}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
