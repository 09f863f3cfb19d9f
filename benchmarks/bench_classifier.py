"""MixtureClassifier against R's MclustDA (EDDA and MclustDA), single-threaded.

On data sets that ship with R's mclust (iris, diabetes, banknote, thyroid), with
their class column, both programs fit the default call:

* gaussmix: ``MixtureClassifier(model_type).fit(X, y)`` (``n_jobs=None``: the
  class grids run serially);
* R: ``MclustDA(X, class, modelType = model_type)``.

Each gaussmix timing runs in a fresh Python process after a warm-up fit on
other data (imports, the compiled kernels' load), because a repeat in the same
process would reuse the cached hierarchical trees of the classes. R is timed
inside its own process with ``system.time``. Medians of ``--repeats`` runs;
the ratio is R's time over gaussmix's.

Run::

    .venv/bin/python benchmarks/bench_classifier.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

#: (data set, its class column).
DATASETS = [
    ("iris", "Species"),
    ("diabetes", "class"),
    ("banknote", "Status"),
    ("thyroid", "Diagnosis"),
]

_R_DATA = """
suppressMessages(library(mclust))
data({name}, package = c('datasets', 'mclust'))
d <- {name}
y <- as.integer(as.factor(d[['{column}']]))
X <- as.matrix(d[, sapply(d, is.numeric)])
"""

_GM_CHILD = """
import sys, time, warnings
import numpy as np
from gaussmix import MixtureClassifier
data = np.loadtxt(sys.argv[1], ndmin=2)
X, y = data[:, :-1], data[:, -1].astype(int)
rng = np.random.default_rng(1)
yw = np.repeat([0, 1, 2], 40)
Xw = rng.normal(size=(120, X.shape[1])) + yw[:, None] * 3.0
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    MixtureClassifier(sys.argv[2]).fit(Xw, yw)
    t0 = time.perf_counter()
    clf = MixtureClassifier(sys.argv[2]).fit(X, y)
    elapsed = time.perf_counter() - t0
models = clf.covariance_type_
if isinstance(models, dict):
    models = "/".join(f"{m},{clf.models_[c].n_components}" for c, m in models.items())
print(elapsed, models, -clf.bic_)
"""


def _run(command: list[str]) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return out.stdout.split()


def r_times(
    name: str, column: str, model_type: str, repeats: int, folder: str
) -> tuple[float, str]:
    """Median seconds of MclustDA in R, and its model(s)."""
    script = (
        _R_DATA.format(name=name, column=column)
        + f"""
times <- c()
for (r in 1:{repeats}) {{
  times <- c(times, system.time(m <- MclustDA(X, y, modelType = '{model_type}',
    verbose = FALSE))[["elapsed"]])
}}
models <- paste(sapply(m$models, function(a) paste0(a$modelName, ",", a$G)), collapse = "/")
cat(median(times), models, m$bic, "\\n")
"""
    )
    path = os.path.join(folder, "bench.R")
    with open(path, "w") as handle:
        handle.write(script)
    out = _run(["Rscript", "--vanilla", path])
    return float(out[0]), out[1]


def data_of(name: str, column: str, folder: str) -> str:
    """The data set with its classes as the last column, written by R."""
    path = os.path.join(folder, f"{name}.txt")
    script = _R_DATA.format(name=name, column=column) + (
        f"write.table(cbind(X, y), '{path}', row.names = FALSE, col.names = FALSE)\n"
    )
    spath = os.path.join(folder, "data.R")
    with open(spath, "w") as handle:
        handle.write(script)
    _run(["Rscript", "--vanilla", spath])
    return path


def gm_times(
    path: str, model_type: str, repeats: int, folder: str
) -> tuple[float, str]:
    """Median seconds of MixtureClassifier in fresh processes, and its model(s)."""
    child = os.path.join(folder, "child.py")
    with open(child, "w") as handle:
        handle.write(_GM_CHILD)
    times = []
    models = ""
    for _ in range(repeats):
        out = _run([sys.executable, child, path, model_type])
        times.append(float(out[0]))
        models = out[1]
    return statistics.median(times), models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=[d for d, _ in DATASETS])
    args = parser.parse_args(argv)
    columns = dict(DATASETS)
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets:
            path = data_of(name, columns[name], folder)
            n, d = np.loadtxt(path, ndmin=2).shape
            for model_type in ("EDDA", "MclustDA"):
                r, r_models = r_times(
                    name, columns[name], model_type, args.repeats, folder
                )
                g, g_models = gm_times(path, model_type, args.repeats, folder)
                print(
                    f"{name} (N={n}, D={d - 1}) {model_type}: mclust {r * 1e3:.0f} ms, "
                    f"gaussmix {g * 1e3:.0f} ms; ratio {r / g:.1f}x; models mclust "
                    f"{r_models}, gaussmix {g_models}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
