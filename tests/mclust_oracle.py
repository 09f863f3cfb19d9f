"""R's mclust as a test oracle, replayed from stored references.

Tests that compare with mclust are marked ``@pytest.mark.mclust`` and call R
through the ``mclust`` fixture of ``conftest.py``: ``run_r(body, **inputs)`` runs
R code with NumPy arrays bound as R matrices and returns what it ``emit()``s.

Every such call has a stored answer in ``tests/references/mclust/``: one JSON
file per call, holding the R code, a fingerprint of its inputs, the mclust
version and R's output. What happens on a call depends on ``GAUSSMIX_MCLUST``:

``replay`` (the default)
    The stored output is returned; R is not needed. A call with no stored
    answer fails the test, naming the command that records it.
``live``
    R is run. Where a stored answer exists, the two must agree (numbers within
    1e-6 relative), so a change of mclust's behaviour or a stale reference is
    caught. CI runs the ``mclust`` tests this way, since it installs R.
``record``
    R is run and its answer stored (``tests/references/make_mclust_references.py``
    runs the ``mclust`` tests in this mode and removes unused files).

A stored answer is found by the R code, the names and shapes of the inputs, and
a fingerprint of their values (sums of the values, of their squares and of a
position-weighted sum), compared within 1e-9 relative: data computed by NumPy or
BLAS may differ in the last bits between machines, which must not matter, while
any real change of the inputs does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODE", "REFERENCES", "MissingReference", "available", "dataset", "run_r"]

#: Where the stored answers live.
REFERENCES = Path(__file__).resolve().parent / "references" / "mclust"

#: ``replay``, ``live`` or ``record`` (see the module docstring).
MODE = os.environ.get("GAUSSMIX_MCLUST", "replay").strip().lower() or "replay"
if MODE not in {"replay", "live", "record"}:
    raise RuntimeError(
        f"GAUSSMIX_MCLUST={MODE!r}: use replay (default), live or record"
    )

#: What a live test prints when it is skipped for lack of R.
SKIP_REASON = (
    "R's mclust is not installed (Debian: apt-get install r-base-core "
    "r-cran-mclust); CI installs it"
)

#: The command that (re)writes the stored answers, for error messages.
RECORD_COMMAND = ".venv/bin/python tests/references/make_mclust_references.py"

# Relative agreement of fingerprints (lookup) and of live answers (check).
_FINGERPRINT_RTOL = 1e-9
_LIVE_RTOL = 1e-6


class MissingReference(AssertionError):
    """No stored mclust answer for this call (run the record command)."""


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


@functools.cache
def mclust_version() -> str:
    """The version of the installed mclust package (live and record modes)."""
    proc = subprocess.run(
        ["Rscript", "-e", "cat(as.character(packageVersion('mclust')))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout.strip()


# ---------------------------------------------------------------- lookup
def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def fingerprint(value: Any) -> list[float]:
    """Sums that identify an input array up to rounding in its last bits."""
    a = _as_array(value).ravel()
    finite = np.where(np.isfinite(a), a, 0.0)
    position = np.cos(np.arange(a.size, dtype=np.float64) * 0.7071)
    return [
        float(a.size),
        float(np.sum(~np.isfinite(a))),
        float(np.sum(finite)),
        float(np.sum(finite * finite)),
        float(np.sum(finite * position)),
        float(np.sum(np.abs(finite))),  # the scale of the sums above
    ]


def _matches(got: list[float], stored: list[float]) -> bool:
    size, bad, s1, s2, sp, sabs = got
    if size != stored[0] or bad != stored[1]:
        return False
    tol1 = _FINGERPRINT_RTOL * max(sabs, 1e-300)
    tol2 = _FINGERPRINT_RTOL * max(s2, 1e-300)
    return (
        abs(s1 - stored[2]) <= tol1
        and abs(s2 - stored[3]) <= tol2
        and abs(sp - stored[4]) <= tol1
    )


def call_key(body: str, shapes: dict[str, list[int]]) -> str:
    """The hash of the R code and the names and shapes of the inputs."""
    h = hashlib.sha256(body.encode())
    for name in sorted(shapes):
        h.update(f"|{name}:{tuple(shapes[name])}".encode())
    return h.hexdigest()[:16]


def _candidates(key: str) -> list[Path]:
    return sorted(REFERENCES.glob(f"{key}-*.json"))


def _find(key: str, prints: dict[str, list[float]]) -> tuple[Path, Any] | None:
    for path in _candidates(key):
        stored = json.loads(path.read_text())
        if set(stored["inputs"]) == set(prints) and all(
            _matches(prints[n], stored["inputs"][n]["fingerprint"]) for n in prints
        ):
            return path, stored
    return None


def _note_use(path: Path) -> None:
    """Append the file's name to ``$GAUSSMIX_MCLUST_LOG`` (the record script's list)."""
    log = os.environ.get("GAUSSMIX_MCLUST_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(path.name + "\n")


def run_r(body: str, **inputs: Any) -> Any:
    """Run R code with ``inputs`` bound as R objects; return what it ``emit()``s.

    In ``replay`` mode the stored answer is returned; see the module docstring.
    Numeric arrays are passed to R as text with 17 significant digits (an exact
    round trip) and bound as matrices (vectors for 1-D inputs). The code calls
    ``emit(x)`` once with a list; it comes back through JSON.
    """
    shapes = {name: list(_as_array(value).shape) for name, value in inputs.items()}
    key = call_key(body, shapes)
    prints = {name: fingerprint(value) for name, value in inputs.items()}
    found = _find(key, prints)
    if MODE == "replay":
        if found is None:
            raise MissingReference(
                "no stored mclust answer for this R call (tests/references/mclust/"
                f"{key}-*.json); on a machine with R and mclust, record it with "
                f"{RECORD_COMMAND}"
            )
        _note_use(found[0])
        return found[1]["output"]
    output = run_live(body, inputs)
    if MODE == "live":
        if found is not None:
            _note_use(found[0])
            _assert_same(found[1]["output"], output, str(found[0].name))
        return output
    # record
    REFERENCES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()
    path = found[0] if found is not None else REFERENCES / f"{key}-{digest[:8]}.json"
    entry = {
        "mclust_version": mclust_version(),
        "code": body,
        "inputs": {
            name: {"shape": shapes[name], "fingerprint": prints[name]}
            for name in prints
        },
        "output": output,
    }
    path.write_text(json.dumps(entry, separators=(",", ":")) + "\n")
    _note_use(path)
    return output


def _assert_same(stored: Any, live: Any, where: str, path: str = "") -> None:
    """Stored and live answers agree: same structure, numbers within 1e-6."""
    if isinstance(stored, dict):
        assert isinstance(live, dict), (where, path)
        assert set(stored) == set(live), (where, path)
        for k in stored:
            _assert_same(stored[k], live[k], where, f"{path}.{k}")
        return
    if isinstance(stored, list) and any(isinstance(v, (dict, str)) for v in stored):
        assert isinstance(live, list), (where, path)
        assert len(live) == len(stored), (where, path)
        for i, (a, b) in enumerate(zip(stored, live, strict=True)):
            _assert_same(a, b, where, f"{path}[{i}]")
        return
    if isinstance(stored, (str, bool)) or stored is None:
        assert stored == live, (where, path, stored, live)
        return
    a = np.asarray(stored, dtype=np.float64)  # JSON null (R's NA) becomes NaN
    b = np.asarray(live, dtype=np.float64)
    assert a.shape == b.shape, (where, path, a.shape, b.shape)
    scale = float(np.nanmax(np.abs(a), initial=0.0)) if a.size else 0.0
    np.testing.assert_allclose(
        b,
        a,
        rtol=_LIVE_RTOL,
        atol=1e-9 * scale,
        equal_nan=True,
        err_msg=f"{where}{path}",
    )


def run_live(body: str, inputs: dict[str, Any]) -> Any:
    """Run the R code in a fresh ``Rscript`` process."""
    if not available():
        raise RuntimeError(f"GAUSSMIX_MCLUST={MODE} needs R and mclust: {SKIP_REASON}")
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
