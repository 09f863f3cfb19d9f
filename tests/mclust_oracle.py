"""R's mclust as a test oracle: run an R script, get JSON back.

Tests that need it are marked ``@pytest.mark.mclust`` and use the ``mclust``
fixture of ``conftest.py``, which skips them with a visible reason when
``Rscript`` or the mclust package is missing (CI installs both).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

import numpy as np

__all__ = ["available", "dataset", "run_r"]

#: What a test prints when it is skipped for lack of R.
SKIP_REASON = (
    "R's mclust is not installed (Debian: apt-get install r-base-core "
    "r-cran-mclust); CI installs it"
)


@functools.cache
def available() -> bool:
    """Whether Rscript runs and loads mclust."""
    if shutil.which("Rscript") is None:
        return False
    try:
        proc = subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(mclust)); cat('ok')"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and proc.stdout.strip().endswith("ok")


def run_r(body: str, **inputs: Any) -> Any:
    """Run R code with ``inputs`` bound as R objects; return what it ``emit()``s.

    Numeric arrays are passed as JSON-free CSV-like text files (exact decimal
    round trip with 17 significant digits) and bound with ``read_matrix``.
    The code calls ``emit(x)`` once with a list; it comes back through JSON
    (R's ``jsonlite`` is not needed: a small writer is included).
    """
    with tempfile.TemporaryDirectory() as folder:
        binds = []
        for name, value in inputs.items():
            arr = np.asarray(value, dtype=np.float64)
            path = os.path.join(folder, f"{name}.txt")
            np.savetxt(path, np.atleast_2d(arr) if arr.ndim < 2 else arr, fmt="%.17g")
            shape = "matrix" if arr.ndim == 2 else "vector"
            binds.append(
                f"{name} <- as.matrix(read.table('{path}', colClasses='numeric'))\n"
                f"dimnames({name}) <- NULL\n"
                + (f"{name} <- as.vector({name})\n" if shape == "vector" else "")
            )
        out = os.path.join(folder, "out.json")
        script = (
            "suppressMessages(library(mclust))\n"
            + _EMIT.replace("OUT_PATH", out)
            + "".join(binds)
            + body
        )
        script_path = os.path.join(folder, "script.R")
        with open(script_path, "w") as f:
            f.write(script)
        proc = subprocess.run(
            ["Rscript", "--vanilla", script_path],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"R failed:\n{proc.stderr[-3000:]}")
        with open(out) as f:
            return json.load(f)


def dataset(name: str) -> np.ndarray:
    """A data set that ships with R or mclust (faithful, iris, diabetes, ...) as floats.

    Only numeric columns are returned (iris without Species, diabetes without
    class, banknote without Status).
    """
    got = run_r(
        f"data({name}, package = c('datasets', 'mclust'))\n"
        f"d <- {name}\n"
        "d <- d[, sapply(d, is.numeric), drop = FALSE]\n"
        "emit(list(x = as.matrix(d)))\n"
    )
    return np.asarray(got["x"], dtype=np.float64)


# A JSON writer in base R (numbers with 17 significant digits; NA/NaN -> null).
_EMIT = r"""
.json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    nm <- names(x)
    parts <- vapply(seq_along(x), function(i) .json(x[[i]]), "")
    if (!is.null(nm)) return(paste0("{", paste0('"', nm, '":', parts, collapse = ","), "}"))
    return(paste0("[", paste(parts, collapse = ","), "]"))
  }
  if (is.matrix(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i) .json(as.vector(x[i, ])), "")
    return(paste0("[", paste(rows, collapse = ","), "]"))
  }
  if (is.array(x)) {
    d <- dim(x)
    sl <- vapply(seq_len(d[length(d)]), function(k) {
      idx <- rep(list(TRUE), length(d)); idx[[length(d)]] <- k
      .json(do.call(`[`, c(list(x), idx, list(drop = FALSE)))[, , 1])
    }, "")
    return(paste0("[", paste(sl, collapse = ","), "]"))
  }
  if (is.character(x)) v <- paste0('"', x, '"')
  else if (is.logical(x)) v <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  else v <- ifelse(is.finite(x), formatC(x, digits = 17, format = "g"), "null")
  if (length(x) == 1 && is.null(attr(x, "box"))) return(v)
  paste0("[", paste(v, collapse = ","), "]")
}
emit <- function(x) writeLines(.json(x), "OUT_PATH")
"""
