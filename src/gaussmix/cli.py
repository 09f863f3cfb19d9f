"""The ``gaussmix`` command-line tool: fit, predict, score, sample, select, impute, ...

Exit status: 0 on success, 2 on bad usage (argparse, or options that do not go
together), 1 on a data or file problem, which is reported as one line on stderr,
never a traceback; 130 after Ctrl-C. Every command takes ``--json`` for
machine-readable output on stdout, and ``--quiet`` to turn off progress bars
(they are drawn only when stderr is a terminal and tqdm is installed).

Outputs are written under a temporary name in their folder and renamed when
everything succeeded, so a failing or interrupted command leaves no output
behind and never a half-written file in place of an old one; no output may be
one of the command's inputs.

Only the standard library is imported with this module: NumPy, scikit-learn
and the rest of gaussmix are imported inside :func:`main`, so that Ctrl-C during
their import ends with one line too.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import errno
import itertools
import json
import math
import os
import re
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import numpy as np

    from gaussmix._data import Table
    from gaussmix.mixture import GaussianMixture

__all__ = ["build_parser", "main"]

PROG = "gaussmix"
# Above this many features the summary shows covariance diagonals only.
FULL_MATRIX_MAX_FEATURES = 4
# The --plot pairs grid shows at most this many features (the first ones, or
# those of --plot-features).
PAIRS_MAX_FEATURES = 6
# Rows formatted and written at a time by the CSV writer.
WRITE_BLOCK_ROWS = 65_536
# Initialisations that --init accepts.
INIT_CHOICES = ("kmeans", "k-means++", "random", "random_from_data", "hc")
# Output extensions written as Parquet (needs pyarrow) and as tab-separated text;
# every other name gets CSV.
PARQUET_EXTENSIONS = (".parquet", ".pq")
TSV_EXTENSIONS = (".tsv", ".tab")

EPILOG = """\
examples:
  gaussmix fit data.csv --components 3 --out model.gmm --plot fit.png
  gaussmix fit data.csv --components 3 --covariance VEV --noise --out model.gmm
  gaussmix predict model.gmm new.csv --proba --out labels.csv
  gaussmix score model.gmm new.csv --json
  gaussmix sample model.gmm -n 500 --seed 1 --out samples.csv
  gaussmix select data.csv --components 1-10 --covariance all --plot bic.png
  gaussmix fit gaps.csv --components 3 --nan-policy marginalize --out model.gmm
  gaussmix impute model.gmm gaps.csv --draws 20 --seed 1 --out imputed.csv
  gaussmix regress model.gmm new.csv --targets y --std --out pred.csv
  gaussmix demo

Data files: CSV (header optional), TSV, .npy, Parquet (needs pyarrow).
Exit status: 0 success, 1 data or file error, 2 bad usage, 130 interrupted.
"""


class UsageError(Exception):
    """A bad combination of options (exit status 2)."""


class FileError(Exception):
    """A file cannot be written, or the work does not fit in memory (exit status 1)."""


# ----------------------------------------------------------------- helpers
def _want_bar(args: argparse.Namespace) -> bool:
    if args.quiet or not sys.stderr.isatty():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _progress(
    args: argparse.Namespace, total: int, desc: str
) -> Iterator[Callable[[], None]]:
    """Yield ``step()``; draws a tqdm bar on a terminal, nothing otherwise."""
    if not _want_bar(args) or total <= 1:
        yield lambda: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, file=sys.stderr, leave=False) as bar:

        def step() -> None:
            bar.update(1)

        yield step


def _note(message: str) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


def _read_data(
    args: argparse.Namespace, model_names: Sequence[str] | None = None
) -> Table:
    """DATA's columns: those of ``--columns``, else matched to ``model_names``."""
    from gaussmix._data import read_table, select_columns

    columns = _split_list(args.columns) if args.columns else None
    return select_columns(read_table(args.data), columns, model_names=model_names)


def _load_data(
    args: argparse.Namespace, model_names: Sequence[str] | None = None
) -> Table:
    from gaussmix._data import drop_nan_rows

    table, dropped = drop_nan_rows(_read_data(args, model_names), drop=args.drop_nan)
    for note in table.notes:
        _note(note)
    if dropped and not args.json:
        print(f"dropped {dropped} row(s) with missing values", file=sys.stderr)
    return table


def _split_list(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _parse_components(text: str) -> list[int]:
    """``"3"``, ``"1-10"``, ``"2,4,8"`` or ``"1-3,6"`` to a sorted list."""
    ks: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                ks.update(range(lo, hi + 1))
            else:
                ks.add(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid components {text!r}: use a number (3), a range (1-10) or a list "
            "(2,4,8)"
        ) from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid components {text!r}: numbers of components are >= 1"
        )
    return sorted(ks)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _float_at_least(low: float, *, strict: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            bound = f"> {low:g}" if strict else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} must be a number {bound}")
        return value

    return parse


def _feature_names(model: GaussianMixture) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(model.n_features_in_)]


def _has_noise(model: GaussianMixture) -> bool:
    return hasattr(model, "noise_log_density_")


def _covariance_of(model: GaussianMixture, k: int) -> np.ndarray:
    import numpy as np

    from gaussmix.core.covariance import get_family

    dense = get_family(model.covariance_type).to_dense(
        np.asarray(model.covariances_, dtype=np.float64),
        model.n_components,
        model.n_features_in_,
    )
    return np.asarray(dense[k])


def _parameter_lists(model: Any) -> dict[str, Any]:
    """A fitted model's weights, means and covariances, as JSON lists."""
    import numpy as np

    return {
        "weights": np.asarray(model.weights_, dtype=np.float64).tolist(),
        "means": np.asarray(model.means_, dtype=np.float64).tolist(),
        "covariances": np.asarray(model.covariances_, dtype=np.float64).tolist(),
    }


def _model_summary(
    model: GaussianMixture,
    X: Any,
    path: str | None,
    names: list[str],
    criteria: dict[str, float] | None = None,
) -> dict[str, Any]:
    import numpy as np

    if criteria is None:
        criteria = model.information_criteria(X)  # one pass: log-likelihood, AIC, BIC
    log_likelihood = criteria["log_likelihood"]
    n_samples = int(np.shape(X)[0])
    summary: dict[str, Any] = {
        "n_components": int(model.n_components),
        "covariance_type": model.covariance_type,
        "init_params": _start_label(model.init_params, [model.covariance_type]),
        "n_samples": n_samples,
        "features": names,
        **_parameter_lists(model),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "log_likelihood": log_likelihood,
        "mean_log_likelihood": log_likelihood / n_samples,
        "aic": criteria["aic"],
        "bic": criteria["bic"],
        "model": path,
    }
    if _has_noise(model):
        summary["noise_weight"] = float(model.noise_weight_)
        summary["noise_volume"] = math.exp(-float(model.noise_log_density_))
    prior = getattr(model, "prior_", None)
    if prior is not None:
        summary["prior"] = {
            key: np.asarray(value, dtype=np.float64).tolist()
            for key, value in prior.items()
        }
    return summary


def _print_converged(summary: dict[str, Any], out: TextIO) -> None:
    print(
        f"converged: {'yes' if summary['converged'] else 'NO'} after "
        f"{summary['n_iter']} iterations (start: {summary['init_params']})",
        file=out,
    )


def _print_components(mixture: dict[str, Any], out: TextIO | None = None) -> int:
    """The table of component weights and means; returns its column width."""
    names = mixture["features"]
    w = max(10, *(len(n) + 1 for n in names))
    print(
        "component  weight  " + "".join(f"{'mean ' + n:>{w + 5}}" for n in names),
        file=out,
    )
    for k in range(mixture["n_components"]):
        print(
            f"{k:>9}  {mixture['weights'][k]:6.4f}  "
            + "".join(f"{v:>{w + 5}.4g}" for v in mixture["means"][k]),
            file=out,
        )
    return w


def _print_summary(
    model: GaussianMixture, summary: dict[str, Any], out: TextIO
) -> None:
    from gaussmix.core.covariance import get_family

    d = len(summary["features"])
    noise = " with a noise component" if "noise_weight" in summary else ""
    print(
        f"{summary['n_components']}-component {summary['covariance_type']} Gaussian "
        f"mixture{noise} on {summary['n_samples']} rows x {d} features",
        file=out,
    )
    _print_converged(summary, out)
    if "prior" in summary:
        prior = summary["prior"]
        print(
            "fitted by MAP EM with mclust's conjugate prior (shrinkage "
            f"{prior['shrinkage']:.4g}, dof {prior['dof']:.4g})",
            file=out,
        )
    print(
        f"log-likelihood: {summary['log_likelihood']:.4f} "
        f"(mean {summary['mean_log_likelihood']:.4f} per row)",
        file=out,
    )
    print(
        f"AIC: {summary['aic']:.4f}   BIC: {summary['bic']:.4f}  (lower is better)",
        file=out,
    )
    print("", file=out)
    w = _print_components(summary, out)
    if noise:
        print(
            f"{'noise':>9}  {summary['noise_weight']:6.4f}  uniform density 1/V, "
            f"V = {summary['noise_volume']:.6g}; label -1",
            file=out,
        )
    print("", file=out)
    full = d <= FULL_MATRIX_MAX_FEATURES
    title = "covariances" if full else "covariance diagonals (variances)"
    shared = get_family(model.covariance_type).shared
    print(
        title + (" (one matrix shared by all components)" if shared else ""), file=out
    )
    for k in range(1 if shared else summary["n_components"]):
        cov = _covariance_of(model, k)
        label = "all" if shared else str(k)
        if full:
            for i in range(d):
                prefix = f"{label:>9}  " if i == 0 else " " * 11
                print(
                    prefix + "".join(f"{cov[i, j]:>{w + 2}.4g}" for j in range(d)),
                    file=out,
                )
        else:
            print(
                f"{label:>9}  " + "".join(f"{cov[i, i]:>{w + 2}.4g}" for i in range(d)),
                file=out,
            )
    if summary["model"]:
        print(f"\nmodel saved to {summary['model']}", file=out)


def _emit_json(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, allow_nan=False, separators=(",", ":"))
    sys.stdout.write("\n")


def _emit_table_json(args: argparse.Namespace, payload: dict[str, Any]) -> int:
    """``payload`` on stdout, with ``out``: the ``--out`` the table went to, if any."""
    if args.out:
        payload["out"] = args.out
    _emit_json(payload)
    return 0


def _load_model(path: str) -> GaussianMixture:
    """A GaussianMixture model file (a Bayesian one is refused, with the reason)."""
    from gaussmix.mixture import GaussianMixture

    model = _load_any_model(path)
    if not isinstance(model, GaussianMixture):
        raise UsageError(
            f"{path} holds a {type(model).__name__}; this command needs a "
            "GaussianMixture model (predict, score and sample read both)"
        )
    return model


def _load_any_model(path: str) -> Any:
    """A model file of either class (GaussianMixture or BayesianGaussianMixture)."""
    from gaussmix.io import load

    return load(path)


def _open_model(
    args: argparse.Namespace,
    *,
    data: bool = True,
    table_out: bool = True,
    any_class: bool = False,
) -> Any:
    """The command's saved MODEL, read once its ``--out`` has been checked.

    ``data``: the command reads DATA too (no output may be it); ``table_out``:
    ``--out`` is a table (a Parquet name needs pyarrow); ``any_class``: a
    BayesianGaussianMixture model is accepted too (else only a GaussianMixture).
    """
    inputs = {"MODEL": args.model}
    if data:
        inputs["DATA"] = args.data
    _check_paths({"--out": args.out}, inputs)
    if table_out:
        _require_parquet([args.out])
    return _load_any_model(args.model) if any_class else _load_model(args.model)


# ----------------------------------------------------------------- paths
def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (also when one does not exist yet)."""
    with contextlib.suppress(OSError):
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(
        os.path.realpath(b)
    )


def _check_paths(outputs: dict[str, str | None], inputs: dict[str, str]) -> None:
    """Refuse an output that is an input or another output; check its folder.

    ``outputs`` maps an option (``--out``) to its path (None when not given),
    ``inputs`` an argument name (``DATA``) to its path.
    """
    given = [(flag, path) for flag, path in outputs.items() if path]
    for flag, path in given:
        for what, source in inputs.items():
            if _same_file(path, source):
                raise UsageError(
                    f"{flag} {path} is an input file ({what}); choose another name"
                )
    for (flag_a, a), (flag_b, b) in itertools.combinations(given, 2):
        if _same_file(a, b):
            raise UsageError(
                f"{flag_a} and {flag_b} are the same file ({a}); give them different "
                "names"
            )
    for _, path in given:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileError(f"{path}: the folder {folder} does not exist")
        if os.path.isdir(path):
            raise FileError(f"{path}: is a folder; give a file name")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise FileError(
                f"{path}: cannot write in the folder {folder} (permission denied)"
            )


def _write_error(path: str, exc: OSError) -> FileError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "; free some space or write to another disk (nothing was changed)"
    return FileError(f"{path}: cannot write: {reason}{hint}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Outputs:
    """Outputs written under temporary names in their folders, renamed at the end.

    :meth:`stage` gives a new temporary path next to the output (same
    extension); :meth:`commit` renames every staged file to its name. Leaving
    the ``with`` block by an exception (KeyboardInterrupt included) removes
    every temporary file that was not renamed, so that no output, and no
    half-written one, is left behind and an old file of the same name is kept.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, str]] = []

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def stage(self, path: str) -> str:
        """A new empty temporary file in ``path``'s folder, to be renamed to it."""
        folder = os.path.dirname(os.path.abspath(path))
        name = os.path.basename(path)
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=folder
            )
        except OSError as exc:
            raise _write_error(path, exc) from None
        os.close(fd)
        self._staged.append((tmp, path))
        return tmp

    def commit(self) -> None:
        """Rename every staged file to its output name (keeping an old file's mode)."""
        mode = 0o666 & ~_umask()
        while self._staged:
            tmp, path = self._staged[0]
            try:
                with contextlib.suppress(FileNotFoundError):
                    mode = stat.S_IMODE(os.stat(path).st_mode)
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            except OSError as exc:
                raise _write_error(path, exc) from None
            self._staged.pop(0)

    def discard(self) -> None:
        """Remove the staged files that were not renamed."""
        while self._staged:
            tmp, _ = self._staged.pop()
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn an OSError while writing ``path``'s temporary file into a one-line error."""
    try:
        yield
    except OSError as exc:
        raise _write_error(path, exc) from None


def _open_output(path: str) -> TextIO:
    """A temporary output file opened for text (one place, so tests can fail it)."""
    return open(path, "w", newline="", encoding="utf-8")


def _stage_model(model: Any, path: str, outputs: _Outputs) -> None:
    """Save ``model`` to a temporary file of ``outputs``, renamed to ``path`` later."""
    from gaussmix.io import save

    tmp = outputs.stage(path)
    with _writing(path):
        save(model, tmp)


# ----------------------------------------------------------------- tables out
class _Column:
    """One output column: its name, values and how they are written as text."""

    def __init__(self, name: str, values: Any, text: str) -> None:
        self.name = name
        self.values = values
        self.text = text  # "int", "str", "g6" (6 significant digits) or "repr" (exact)

    def formatted(self, start: int, stop: int) -> list[str]:
        import numpy as np

        block = self.values[start:stop]
        if self.text == "int":
            return [str(v) for v in np.asarray(block, dtype=np.int64).tolist()]
        if self.text == "str":
            return [str(v) for v in block]
        floats = np.asarray(block, dtype=np.float64).tolist()
        if self.text == "g6":
            return [f"{v:.6g}" for v in floats]
        return [repr(v) for v in floats]


def _table_format(path: str | None) -> str:
    lower = (path or "").lower()
    if lower.endswith(PARQUET_EXTENSIONS):
        return "parquet"
    if lower.endswith(TSV_EXTENSIONS):
        return "tsv"
    return "csv"


def _write_text_table(
    handle: TextIO, columns: Sequence[_Column], delimiter: str = ","
) -> None:
    """Header and rows, formatted and written ``WRITE_BLOCK_ROWS`` rows at a time."""
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    n = len(columns[0].values)
    for start in range(0, n, WRITE_BLOCK_ROWS):
        stop = min(start + WRITE_BLOCK_ROWS, n)
        writer.writerows(zip(*(c.formatted(start, stop) for c in columns), strict=True))


def _write_table(
    path: str | None, columns: Sequence[_Column], outputs: _Outputs | None
) -> None:
    """Write ``columns`` to ``path`` (staged in ``outputs``), or as CSV to stdout."""
    if path is None or outputs is None:
        _write_text_table(sys.stdout, columns)
        return
    tmp = outputs.stage(path)
    kind = _table_format(path)
    with _writing(path):
        if kind == "parquet":
            import numpy as np
            import pyarrow as pa
            import pyarrow.parquet as pq

            arrays = {
                c.name: np.asarray(
                    c.values, dtype=np.int64 if c.text == "int" else np.float64
                )
                for c in columns
            }
            pq.write_table(pa.table(arrays), tmp)
            return
        with _open_output(tmp) as handle:
            _write_text_table(handle, columns, "\t" if kind == "tsv" else ",")


def _require_parquet(paths: Sequence[str | None]) -> None:
    """A Parquet output needs pyarrow: say so before any work is done."""
    if any(_table_format(p) == "parquet" for p in paths if p):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise FileError(
                "writing Parquet needs pyarrow: pip install pyarrow (or give the "
                "output a .csv name)"
            ) from None


# ----------------------------------------------------------------- plots
def _require_matplotlib(path: str) -> str:
    """Check matplotlib and the picture format of ``path`` before any work is done."""
    try:
        import matplotlib
    except ImportError:
        raise FileError(
            "--plot needs matplotlib: pip install 'gaussmix[plot]'"
        ) from None
    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = ext or str(matplotlib.rcParams["savefig.format"])
    known = FigureCanvasBase.get_supported_filetypes()
    if fmt not in known:
        raise UsageError(
            f"--plot {path}: matplotlib cannot write {fmt!r} pictures; use a name "
            f"ending in {', '.join('.' + k for k in sorted(known))}"
        )
    return fmt


def _save_plot(fig: Any, path: str, outputs: _Outputs) -> None:
    import matplotlib.pyplot as plt

    fmt = _require_matplotlib(path)
    tmp = outputs.stage(path)
    try:
        with _writing(path):
            fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def _relabel(fig: Any, names: Sequence[str]) -> None:
    """Axis labels "feature i" (a model without feature names) become ``names[i]``."""

    def rename(label: str) -> str:
        m = re.fullmatch(r"feature (\d+)", label)
        return names[int(m.group(1))] if m and int(m.group(1)) < len(names) else label

    for ax in fig.axes:
        ax.set_xlabel(rename(ax.get_xlabel()))
        ax.set_ylabel(rename(ax.get_ylabel()))


def _find_feature(token: str, names: Sequence[str]) -> int | None:
    """The position of a feature given by name or 0-based index (None: not found)."""
    d = len(names)
    if token in names:
        return list(names).index(token)
    if token.lstrip("-").isdigit() and -d <= int(token) < d:
        return int(token) % d
    return None


def _resolve_features(
    tokens: Sequence[str], names: Sequence[str], path: str
) -> list[int]:
    """``--plot-features`` (names or 0-based indices) to column positions."""
    from gaussmix._data import DataError

    chosen: list[int] = []
    d = len(names)
    for token in tokens:
        index = _find_feature(token, names)
        if index is None:
            raise DataError(
                f"{path}: --plot-features {token!r} not found; the fitted columns are "
                f"{', '.join(names)} (or 0 to {d - 1})"
            )
        if index in chosen:
            raise UsageError(f"--plot-features names column {token!r} twice")
        chosen.append(index)
    return chosen


# ----------------------------------------------------------------- memory
def _available_memory() -> int | None:
    """Bytes this process may still allocate (MemAvailable, a cgroup limit), or None."""
    available: int | None = None
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/meminfo", encoding="ascii") as handle,
    ):
        for line in handle:
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    if available is None:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            used = int(handle.read().strip())
        if limit != "max":
            left = max(int(limit) - used, 0)
            available = left if available is None else min(available, left)
    return available


def _size(n_bytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes / 2**10:,.1f} KiB"


def _dense_covariance(covariance_type: str) -> bool:
    """Whether the type stores D x D matrices (full, tied, mclust's E/V orientations)."""
    from gaussmix.core.covariance import get_family

    return bool(get_family(covariance_type).matrix)


def _model_bytes(n_components: int, n_features: int, covariance_type: str) -> int:
    """A generous estimate of what fitting one model allocates besides the data.

    Dense types hold covariances, precisions, their Cholesky factors and a work
    copy (``4 K D^2`` numbers; one matrix for 'tied') and the packed design's
    index arrays (``3 D (D + 1) / 2``); diagonal and spherical ones ``8 K D``.
    """
    k, d = n_components, n_features
    if not _dense_covariance(covariance_type):
        return 8 * 8 * k * d
    from gaussmix.core.covariance import get_family

    matrices = 1 if get_family(covariance_type).shared else k
    return 8 * (4 * matrices * d * d + 3 * (d * (d + 1) // 2))


def _check_fit_memory(
    path: str, n_components: int, n_features: int, covariance_types: Sequence[str]
) -> None:
    """Refuse, before fitting, models whose parameters cannot fit in memory."""
    available = _available_memory()
    if available is None:
        return
    too_big = [
        t
        for t in covariance_types
        if _model_bytes(n_components, n_features, t) > available
    ]
    if not too_big:
        return
    need = max(_model_bytes(n_components, n_features, t) for t in too_big)
    what = (
        f"a {n_components}-component {too_big[0]} model on {n_features} features needs"
        if len(too_big) == 1
        else f"the {', '.join(too_big)} models with up to {n_components} components "
        f"on {n_features} features need"
    )
    raise FileError(
        f"{path}: {what} about {_size(need)} of "
        f"memory for its {n_features} x {n_features} covariance matrices, more than "
        f"the {_size(available)} available; use --covariance diag (or spherical, or "
        "mclust's EII VII EEI VEI EVI VVI), fewer components, or fewer columns "
        "(--columns)"
    )


def _check_sample_memory(n: int, n_features: int, *, as_json: bool) -> None:
    """Refuse, before drawing, a sample that cannot fit in memory."""
    available = _available_memory()
    if available is None:
        return
    # The draws, their grouped copy, the shuffled copy and the labels; JSON
    # adds a Python float and its text for every number.
    need = 8 * n * (3 * n_features + 3)
    if as_json:
        need += 64 * n * (n_features + 1)
    if need > available:
        raise FileError(
            f"sample -n {n}: {n} rows of {n_features} features need about "
            f"{_size(need)} of memory, more than the {_size(available)} available; "
            "draw fewer rows (runs with different --seed values give more)"
        )


# ----------------------------------------------------------------- fitting
def _start_label(init: str, covariance_types: Sequence[str]) -> str:
    """How the fits of ``covariance_types`` start, ``'auto'`` resolved per type."""
    from gaussmix._validation import resolve_em_control

    starts = {
        resolve_em_control(t, "auto", "auto", init).init_params
        for t in covariance_types
    }
    if len(starts) == 1:
        return starts.pop()
    return "kmeans for scikit-learn's types, hc for mclust's"


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    """GaussianMixture parameters from the shared fitting options."""
    noise: Any = None
    if args.noise_volume is not None:
        noise = args.noise_volume
    elif args.noise:
        noise = True
    return {
        "n_init": args.n_init,
        "max_iter": "auto" if args.max_iter is None else args.max_iter,
        "tol": "auto" if args.tol is None else args.tol,
        "reg_covar": "auto" if args.reg_covar is None else args.reg_covar,
        "init_params": "auto" if args.init is None else args.init,
        "noise": noise,
        "prior": "default" if args.prior else None,
        "random_state": args.seed,
    }


@contextlib.contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Every warning raised in the block, recorded (print them with _print_warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _print_warnings(caught: Sequence[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)


def _table_input(table: Table) -> Any:
    """The estimator's input: the values, as a DataFrame when the columns have names."""
    return table.values if table.names is None else _frame(table.values, table.names)


def _check_plot_outputs(
    out: str | None, plot: str | None, inputs: dict[str, str]
) -> None:
    """``--out`` and ``--plot`` checked, and matplotlib for ``--plot``, before work."""
    _check_paths({"--out": out, "--plot": plot}, inputs)
    if plot:
        _require_matplotlib(plot)


@dataclasses.dataclass(frozen=True)
class _FitData:
    """``fit``'s data: the table, the estimator's input, column names, plot features."""

    table: Table
    X: Any
    names: list[str]
    chosen: list[int] | None


def _fit_data(args: argparse.Namespace, table: Table) -> _FitData:
    """The names and ``--plot-features`` of ``table``, its memory need checked."""
    d = table.values.shape[1]
    names = table.names if table.names is not None else [f"x{i}" for i in range(d)]
    chosen = (
        _resolve_features(_split_list(args.plot_features), names, table.path)
        if args.plot_features
        else None
    )
    _check_fit_memory(table.path, args.components, d, [args.covariance])
    return _FitData(table, _table_input(table), names, chosen)


def _fit_plot(model: GaussianMixture, data: _FitData) -> Any:
    """The figure of ``fit --plot``: density (1 feature), clusters (2), pairs grid."""
    from gaussmix import plotting

    X, names = data.X, data.names
    d = model.n_features_in_
    if data.chosen is not None:
        fig = plotting.plot_pairs(model, X, features=data.chosen)["fig"]
    elif d == 1:
        fig = plotting.plot_density_1d(model, data.table.values)["ax"].figure
    elif d == 2:
        fig = plotting.plot_clusters(model, X)["ax"].figure
    else:
        shown = min(d, PAIRS_MAX_FEATURES)
        if shown < d:
            _note(
                f"the plot shows the first {shown} of {d} features "
                f"({', '.join(names[:shown])}); choose others with --plot-features"
            )
        fig = plotting.plot_pairs(model, X, features=list(range(shown)))["fig"]
    _relabel(fig, names)
    return fig


def _check_fit_outputs(
    args: argparse.Namespace, out: str | None, inputs: dict[str, str]
) -> None:
    """``fit``'s options for its outputs, checked before any work is done."""
    if args.plot_features and not args.plot:
        raise UsageError("--plot-features needs --plot PNG")
    _check_plot_outputs(out, args.plot, inputs)


def _save_fit(
    args: argparse.Namespace,
    model: Any,
    out: str | None,
    data: _FitData,
    summary: dict[str, Any],
) -> None:
    """Write the model (to ``out``) and ``--plot``'s picture; note them in ``summary``.

    Both are written to temporary files and renamed together at the end: a
    failing plot leaves the old model file in place.
    """
    with _Outputs() as outputs:
        if out is not None:
            _stage_model(model, out, outputs)
            summary["model"] = out
        if args.plot:
            _save_plot(_fit_plot(model, data), args.plot, outputs)
            summary["plot"] = args.plot
        outputs.commit()


def cmd_fit(args: argparse.Namespace) -> int:
    """``gaussmix fit``."""
    from gaussmix.fitting import FIT_PROGRESS
    from gaussmix.mixture import GaussianMixture

    if args.bayesian:
        return cmd_fit_bayesian(args)
    out = (
        args.out
        if args.out is not None
        else (os.path.splitext(os.path.basename(args.data))[0] + ".gmm")
    )
    inputs = {"DATA": args.data}
    if args.init_model is not None:
        inputs["--init-model"] = args.init_model
    _check_fit_outputs(args, out, inputs)
    extras = _fit_extras(args)
    data = _fit_data(args, _fit_table(args))
    model = GaussianMixture(
        n_components=args.components,
        covariance_type=args.covariance,
        **_estimator_options(args),
        **extras,
    )
    with (
        _progress(args, args.n_init, "EM restarts") as step,
        _recorded_warnings() as caught,
    ):
        token = FIT_PROGRESS.set(lambda done, total: step())
        try:
            model.fit(data.X)
        finally:
            FIT_PROGRESS.reset(token)
    _print_warnings(caught)
    summary = _fit_summary(args, model, data.table, data.X, out, data.names)
    _save_fit(args, model, out, data, summary)
    if args.json:
        _emit_json(summary)
    else:
        _print_summary(model, summary, sys.stdout)
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def _model_input(model: GaussianMixture, table: Table) -> Any:
    import numpy as np

    from gaussmix._data import DataError

    if table.values.shape[1] != model.n_features_in_:
        raise DataError(
            f"{table.path}: {table.values.shape[1]} column(s) but the model was fitted "
            f"on {model.n_features_in_} feature(s); use --columns to pick them"
        )
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        # Columns were matched by name (or position); label them as the model's.
        return _frame(table.values, [str(n) for n in names])
    return np.asarray(table.values)


def _frame(values: np.ndarray, names: list[str]) -> Any:
    """A DataFrame with these column names when pandas is there, else the array."""
    try:
        import pandas as pd
    except ImportError:
        return values
    return pd.DataFrame(values, columns=names)


def _proba_columns(model: GaussianMixture, n_columns: int) -> list[str]:
    """``p0``, ``p1``, ... and ``noise`` for a noise component's last column."""
    names = [f"p{k}" for k in range(model.n_components)]
    if n_columns == model.n_components + 1:
        names.append("noise")
    return names


def _model_and_data(
    args: argparse.Namespace, *, allow_nan: bool = False, any_class: bool = False
) -> tuple[Any, Any]:
    """The saved model and the DATA it is applied to, outputs checked first.

    With ``allow_nan``, missing cells are kept for a model fitted with
    ``nan_policy='marginalize'`` (it predicts from each row's observed cells).
    With ``any_class``, a BayesianGaussianMixture model is accepted too.
    """
    model = _open_model(args, any_class=any_class)
    nan_policy = getattr(model, "nan_policy", "raise")
    names = getattr(model, "feature_names_in_", None)
    if allow_nan and not args.drop_nan and nan_policy == "marginalize":
        table = _load_data_keeping_nan(args, names)
    else:
        table = _load_data(args, names)
    return model, _model_input(model, table)


def _write_columns(args: argparse.Namespace, columns: list[_Column]) -> None:
    """The table to ``--out`` (staged, then renamed), or to stdout without --json."""
    if args.out:
        with _Outputs() as outputs:
            _write_table(args.out, columns, outputs)
            outputs.commit()
    elif not args.json:
        _write_table(None, columns, None)


def cmd_predict(args: argparse.Namespace) -> int:
    """``gaussmix predict``."""
    import numpy as np

    model, X = _model_and_data(args, allow_nan=True, any_class=True)
    labels = np.asarray(model.predict(X))
    proba = np.asarray(model.predict_proba(X)) if args.proba else None
    columns = [_Column("label", labels, "int")]
    proba_names: list[str] = []
    if proba is not None:
        proba_names = _proba_columns(model, proba.shape[1])
        columns += [
            _Column(name, proba[:, k], "g6") for k, name in enumerate(proba_names)
        ]
    counts = np.bincount(labels[labels >= 0], minlength=model.n_components)
    n_noise = int(np.sum(labels < 0))
    _write_columns(args, columns)
    if args.json:
        payload: dict[str, Any] = {"labels": labels.tolist()}
        if proba is not None:
            payload["proba"] = proba.astype(np.float64).tolist()
            payload["proba_columns"] = proba_names
        return _emit_table_json(args, payload)
    if args.out:
        print(f"{labels.shape[0]} labels written to {args.out}")
        parts = [f"{k}: {c}" for k, c in enumerate(counts.tolist())]
        if _has_noise(model):
            parts.append(f"noise (-1): {n_noise}")
        print("rows per component: " + ", ".join(parts))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``gaussmix score``."""
    import numpy as np

    model, X = _model_and_data(args, allow_nan=True, any_class=True)
    scores = np.asarray(model.score_samples(X), dtype=np.float64)
    mean = float(np.mean(scores))
    columns = [_Column("log_density", scores, "repr")]
    _write_columns(args, columns)
    if args.json:
        _emit_json({"scores": scores.tolist(), "mean": mean})
        return 0
    where = f"; scores written to {args.out}" if args.out else ""
    print(f"# mean log-density {mean:.6g} over {scores.shape[0]} rows{where}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``gaussmix sample``."""
    import numpy as np

    model = _open_model(args, data=False, any_class=True)
    _check_sample_memory(args.n, model.n_features_in_, as_json=args.json)
    X, comp = model.sample(args.n, random_state=args.seed)
    if args.shuffle:
        order = np.random.default_rng(args.seed).permutation(X.shape[0])
        X, comp = X[order], comp[order]
    names = _feature_names(model)
    columns = [_Column(name, X[:, j], "repr") for j, name in enumerate(names)]
    columns.append(_Column("component", comp, "int"))
    _write_columns(args, columns)
    if args.json:
        _emit_json(
            {
                "samples": np.asarray(X, dtype=np.float64).tolist(),
                "components": comp.tolist(),
            }
        )
        return 0
    if args.out:
        print(f"{X.shape[0]} samples written to {args.out}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    """``gaussmix select``."""
    from gaussmix.core.covariance import COVARIANCE_TYPES
    from gaussmix.selection import expand_types, select

    types = _split_list(args.covariance)
    unknown = [t for t in types if t not in (*COVARIANCE_TYPES, "all", "sklearn")]
    if unknown:
        raise UsageError(
            f"unknown covariance type {unknown[0]!r}; use {', '.join(COVARIANCE_TYPES)}, "
            "all (mclust's 14 models) or sklearn (the four scikit-learn names)"
        )
    _check_plot_outputs(args.out, args.plot, {"DATA": args.data})
    table = _load_data(args)
    ks = args.components
    grid = expand_types(types, table.values)
    _check_fit_memory(table.path, max(ks), table.values.shape[1], grid)
    options = _estimator_options(args)
    X = _table_input(table)
    n_fits = len(ks) * len(grid)
    with _progress(args, n_fits, "model grid") as step:
        best, result = select(
            X,
            ks,
            types,
            args.criterion,
            progress=lambda record: step(),
            **options,
        )
    records = _records(result)
    best_record = None
    if best is not None:
        best_record = {
            "n_components": int(best.n_components),
            "covariance_type": best.covariance_type,
            "criterion": args.criterion,
            "value": min(
                r[args.criterion] for r in records if r[args.criterion] is not None
            ),
        }
        # Nothing is written when every fit failed (the command fails).
        with _Outputs() as outputs:
            if args.out:
                _stage_model(best, args.out, outputs)
            if args.plot:
                from gaussmix.plotting import plot_model_selection

                drawn = plot_model_selection(result, criteria=(args.criterion,))
                _save_plot(drawn["fig"], args.plot, outputs)
            outputs.commit()
    if args.json:
        payload: dict[str, Any] = {
            "criterion": args.criterion,
            "sign": "lower is better (scikit-learn convention)",
            "init_params": _start_label(options["init_params"], grid),
            "table": records,
            "best": best_record,
        }
        if args.out and best is not None:
            payload["model"] = args.out
        _emit_json(payload)
        return 0 if best is not None else 1
    _print_select(
        records, best_record, args, _start_label(options["init_params"], grid)
    )
    if best is None:
        print(
            f"{PROG}: error: every fit failed (see the error column); nothing was "
            "written",
            file=sys.stderr,
        )
        return 1
    return 0


def _records(table: Any) -> list[dict[str, Any]]:
    import numpy as np

    if hasattr(table, "to_dict"):
        raw = table.to_dict("records")
    else:
        raw = [dict(zip(table.dtype.names, row, strict=True)) for row in table.tolist()]
    out = []
    for r in raw:
        rec: dict[str, Any] = {}
        for key, value in r.items():
            if isinstance(value, (float, np.floating)):
                rec[key] = None if math.isnan(value) else float(value)
            elif isinstance(value, (bool, np.bool_)):
                rec[key] = bool(value)
            elif isinstance(value, (int, np.integer)):
                rec[key] = int(value)
            else:
                rec[key] = str(value)
        out.append(rec)
    return out


def _print_select(
    records: list[dict[str, Any]],
    best: dict[str, Any] | None,
    args: argparse.Namespace,
    init: str,
) -> None:
    crit = args.criterion
    print(
        f"model selection by {crit.upper()} (lower is better), EM started by {init}; "
        "* marks the best"
    )
    print(
        f"  {'K':>3}  {'covariance':<10}  {'log-lik':>12}  {'params':>6}  "
        f"{'AIC':>12}  {'BIC':>12}  {'ICL':>12}  note"
    )

    def num(v: float | None) -> str:
        return f"{v:12.3f}" if v is not None else f"{'failed':>12}"

    for r in records:
        star = (
            "*"
            if best
            and r["n_components"] == best["n_components"]
            and r["covariance_type"] == best["covariance_type"]
            else " "
        )
        note = r["error"] if r["error"] else ("" if r["converged"] else "not converged")
        print(
            f"{star} {r['n_components']:>3}  {r['covariance_type']:<10}  "
            f"{num(r['log_likelihood'])}  {r['n_parameters']:>6}  {num(r['aic'])}  "
            f"{num(r['bic'])}  {num(r['icl'])}  {note}"
        )
    if best:
        print(
            f"best: {best['n_components']} components, {best['covariance_type']} "
            f"covariance ({crit.upper()} {best['value']:.3f})"
        )
        if args.out:
            print(f"best model saved to {args.out}")
        if args.plot:
            print(f"plot written to {args.plot}")


def cmd_classify(args: argparse.Namespace) -> int:
    """``gaussmix classify``."""
    import warnings

    import numpy as np

    from gaussmix._data import drop_nan_rows, read_labels, read_table, select_columns
    from gaussmix.classifier import MixtureClassifier

    _check_paths({"--out": args.out}, {"DATA": args.data})
    raw = read_table(args.data)
    labels, label_index = read_labels(args.data, args.label, raw)
    if args.columns:
        features = select_columns(raw, _split_list(args.columns))
    else:
        keep = [str(j) for j in range(raw.values.shape[1]) if j != label_index]
        features = select_columns(raw, keep)
    for note in raw.notes:
        _note(note)
    row_ids = np.arange(features.values.shape[0])
    y = np.array(["" if v is None else v for v in labels], dtype=object)
    known = np.array([v is not None for v in labels])
    if args.drop_nan:
        finite = np.isfinite(features.values).all(axis=1)
        features, _ = drop_nan_rows(features, drop=True)
        row_ids, y, known = row_ids[finite], y[finite], known[finite]
    else:
        drop_nan_rows(features, drop=False)  # raises with the rows named
    if known.sum() == 0:
        raise UsageError(f"column {args.label!r} has no labels: nothing to learn from")
    X = features.values
    clf = MixtureClassifier(
        args.model_type,
        args.covariance,
        args.components,
        random_state=args.seed,
        unlabelled_label="" if args.semi_supervised else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.semi_supervised:
            clf.fit(X, y)
        else:
            clf.fit(X[known], y[known])
    training = float(np.mean(clf.predict(X[known]) == y[known]))
    todo = ~known
    proba = (
        clf.predict_proba(X[todo]) if todo.any() else np.empty((0, len(clf.classes_)))
    )
    predicted = clf.classes_[np.argmax(proba, axis=1)] if todo.any() else []
    columns = [
        _Column("row", row_ids[todo], "int"),
        _Column("class", np.asarray(predicted, dtype=object), "str"),
    ]
    columns += [
        _Column(f"p_{c}", proba[:, j], "g6") for j, c in enumerate(clf.classes_)
    ]
    model = (
        clf.covariance_type_
        if isinstance(clf.covariance_type_, str)
        else {
            str(c): f"{m.covariance_type},{m.n_components}"
            for c, m in clf.models_.items()
        }
    )
    if args.json:
        _write_columns(args, columns)
        _emit_json(
            {
                "model_type": args.model_type,
                "model": model,
                "classes": [str(c) for c in clf.classes_],
                "bic": float(clf.bic_),
                "training_accuracy": training,
                "n_labelled": int(known.sum()),
                "n_predicted": int(todo.sum()),
                "rows": row_ids[todo].tolist(),
                "predicted": [str(c) for c in predicted],
                "proba": proba.tolist(),
            }
        )
        return 0
    shown = (
        model
        if isinstance(model, str)
        else ", ".join(f"{c}: {m}" for c, m in model.items())
    )
    print(
        f"{args.model_type} on {int(known.sum())} labelled rows, "
        f"{len(clf.classes_)} classes; model {shown}; BIC {clf.bic_:.2f} "
        "(lower is better)",
        file=sys.stderr,
    )
    print(f"training accuracy {training:.4f}", file=sys.stderr)
    if not todo.any():
        print("every row is labelled: nothing to predict", file=sys.stderr)
        return 0
    _write_columns(args, columns)
    if args.out:
        print(f"{int(todo.sum())} predictions written to {args.out}", file=sys.stderr)
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """``gaussmix bootstrap``."""
    import numpy as np

    from gaussmix.resampling import METHODS, bootstrap

    model, X = _model_and_data(args)
    with _recorded_warnings() as caught:
        result = bootstrap(
            model,
            X,
            n_boot=args.n_boot,
            method=args.method,
            level=args.level,
            random_state=args.seed,
            n_jobs=args.n_jobs,
        )
    frame = result.to_frame()
    names = _feature_names(model)

    def feature(index: Any) -> list[str]:
        return [names[i] if i >= 0 else "" for i in np.asarray(index).tolist()]

    columns = [
        _Column("parameter", np.asarray(frame["parameter"]).tolist(), "str"),
        _Column("component", np.asarray(frame["component"]), "int"),
        _Column("feature", feature(frame["row"]), "str"),
        _Column("feature2", feature(frame["column"]), "str"),
        _Column("estimate", np.asarray(frame["estimate"]), "g6"),
        _Column("se", np.asarray(frame["se"]), "g6"),
        _Column("lower", np.asarray(frame["lower"]), "g6"),
        _Column("upper", np.asarray(frame["upper"]), "g6"),
    ]
    if args.json:
        _write_columns(args, columns)
        payload: dict[str, Any] = {
            "method": result.method,
            "n_boot": result.n_boot,
            "n_nonfit": result.n_nonfit,
            "level": result.level,
            "se": {k: v.tolist() for k, v in result.se.items()},
            "ci": {
                k: {"lower": lo.tolist(), "upper": hi.tolist()}
                for k, (lo, hi) in result.ci().items()
            },
        }
        return _emit_table_json(args, payload)
    print(
        f"# {METHODS[result.method]}: {result.n_boot} refits "
        f"({result.n_nonfit} non-fits redrawn or left out), "
        f"{model.covariance_type} with {model.n_components} components; "
        f"{result.level:.0%} intervals"
    )
    _print_warnings(caught)
    _write_columns(args, columns)
    if args.out:
        print(f"standard errors and intervals written to {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``gaussmix demo``."""
    from gaussmix.demo import run_demo

    if args.json:
        import io as _io

        buffer = _io.StringIO()
        model = run_demo(args.out, stream=buffer)
        _emit_json(
            {
                "weights": model.weights_.tolist(),
                "means": model.means_.tolist(),
                "covariances": model.covariances_.tolist(),
                "plot": args.out,
            }
        )
        return 0
    run_demo(args.out)
    return 0


# ----------------------------------------------------------------- issue 15
# Missing values (fit --nan-policy, impute), starts from a saved model and
# frozen parameters (fit --init-model, --frozen), variational Bayesian fits
# (fit --bayesian) and conditional mixtures (condition, marginal, regress).
NAN_POLICIES = ("raise", "marginalize", "omit")
WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
# A component of a Bayesian fit whose weight is at least this counts as used.
ACTIVE_WEIGHT = 0.01


def _frozen_list(text: str) -> tuple[str, ...]:
    """``--frozen weights,means`` to a tuple of names (in the library's order)."""
    from gaussmix.core.frozen import FREEZABLE

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FREEZABLE]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"invalid --frozen {text!r}: give one or more of {', '.join(FREEZABLE)}, "
            "comma separated (e.g. --frozen covariances)"
        )
    return tuple(n for n in FREEZABLE if n in names)


def _rows_text(rows: Any) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def _load_data_keeping_nan(
    args: argparse.Namespace, model_names: Sequence[str] | None = None
) -> Table:
    """The data with missing cells kept as NaN; infinite values still refused."""
    import numpy as np

    from gaussmix._data import DataError

    table = _read_data(args, model_names)
    for note in table.notes:
        _note(note)
    infinite = np.isinf(table.values).any(axis=1)
    if infinite.any():
        rows = (np.nonzero(infinite)[0] + 1).tolist()
        raise DataError(
            f"{table.path}: {len(rows)} row(s) have infinite values: data row(s) "
            f"{_rows_text(rows)}; only empty or NA cells can be missing values"
        )
    return table


def _fit_table(args: argparse.Namespace) -> Table:
    """``fit``'s data: missing cells kept when ``--nan-policy`` handles them."""
    if args.nan_policy != "raise":
        if args.drop_nan:
            raise UsageError(
                f"--drop-nan and --nan-policy {args.nan_policy} do not go together: "
                "--drop-nan leaves incomplete rows out before the fit (as --nan-policy "
                "omit does); choose one"
            )
        return _load_data_keeping_nan(args)
    from gaussmix._data import DataError

    try:
        return _load_data(args)
    except DataError as exc:
        if "pass --drop-nan" not in str(exc):
            raise
        raise DataError(
            f"{exc}, or --nan-policy marginalize to fit with them (exact EM on the "
            "observed cells)"
        ) from None


def _init_model_options(args: argparse.Namespace) -> dict[str, Any]:
    """``weights_init``, ``means_init``, ``precisions_init`` from ``--init-model``."""
    if args.init_model is None:
        return {}
    model = _load_model(args.init_model)
    if (
        model.n_components != args.components
        or model.covariance_type != args.covariance
    ):
        raise UsageError(
            f"--init-model {args.init_model} has {model.n_components} component(s) "
            f"of covariance type {model.covariance_type}; give --components "
            f"{model.n_components} --covariance {model.covariance_type}"
        )
    if _has_noise(model):
        raise UsageError(
            f"--init-model {args.init_model} has a noise component; start from a "
            "model without one"
        )
    return {
        "weights_init": model.weights_,
        "means_init": model.means_,
        "precisions_init": model.precisions_,
    }


def _fit_extras(args: argparse.Namespace) -> dict[str, Any]:
    """GaussianMixture parameters of ``--nan-policy``, ``--frozen``, ``--init-model``."""
    for flag in ("weight_concentration_prior_type", "weight_concentration_prior"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} needs --bayesian")
    if args.init_model is not None and args.init is not None:
        raise UsageError(
            "--init and --init-model do not go together: --init-model starts EM from "
            "the saved model's weights, means and covariances"
        )
    extras = _init_model_options(args)
    extras["nan_policy"] = args.nan_policy
    if args.frozen:
        extras["frozen"] = args.frozen
    return extras


def _observed_criteria(model: GaussianMixture, X: Any) -> dict[str, float]:
    """Log-likelihood, AIC and BIC of rows with missing cells (their observed parts)."""
    import numpy as np

    log_likelihood = float(np.sum(model.score_samples(X)))
    p = model.n_parameters()
    n = int(np.shape(X)[0])
    return {
        "log_likelihood": log_likelihood,
        "aic": -2.0 * log_likelihood + 2.0 * p,
        "bic": -2.0 * log_likelihood + p * math.log(n),
    }


def _summary_input(args: argparse.Namespace, table: Table, X: Any) -> Any:
    """The rows the summary is computed on: all but the omitted ones."""
    import numpy as np

    if args.nan_policy != "omit":
        return X
    complete = ~np.isnan(table.values).any(axis=1)
    return X[complete] if not hasattr(X, "iloc") else X.iloc[complete]


def _fit_summary(
    args: argparse.Namespace,
    model: GaussianMixture,
    table: Table,
    X: Any,
    out: str,
    names: list[str],
) -> dict[str, Any]:
    """``_model_summary``, with observed-data criteria when cells are missing."""
    import numpy as np

    rows = _summary_input(args, table, X)
    criteria = None
    n_missing = int(np.isnan(table.values).sum())
    if args.nan_policy == "marginalize" and n_missing:
        criteria = _observed_criteria(model, rows)
    summary = _model_summary(model, rows, out, names, criteria=criteria)
    if args.nan_policy != "raise":
        summary["nan_policy"] = args.nan_policy
        summary["n_missing_cells"] = n_missing
    if args.frozen:
        summary["frozen"] = list(args.frozen)
    if args.init_model is not None:
        summary["init_model"] = args.init_model
        summary["init_params"] = f"the model {args.init_model}"
    return summary


# --------------------------------------------------------- fit --bayesian
def _check_bayesian_options(args: argparse.Namespace) -> None:
    given = [
        flag
        for flag, on in (
            ("--noise", args.noise),
            ("--noise-volume", args.noise_volume is not None),
            ("--prior", args.prior),
            ("--frozen", bool(args.frozen)),
            ("--init-model", args.init_model is not None),
            ("--nan-policy", args.nan_policy != "raise"),
        )
        if on
    ]
    if not given:
        return
    raise UsageError(
        f"--bayesian and {given[0]} do not go together: BayesianGaussianMixture has "
        "no noise component, mclust prior, frozen parameters, start from a model "
        "or missing values"
    )


def _bayesian_summary(model: Any, n_samples: int, names: list[str]) -> dict[str, Any]:
    import numpy as np

    weights = np.asarray(model.weights_, dtype=np.float64)
    return {
        "estimator": "BayesianGaussianMixture",
        "n_components": int(model.n_components),
        "n_active_components": int(np.sum(weights >= ACTIVE_WEIGHT)),
        "active_weight": ACTIVE_WEIGHT,
        "covariance_type": model.covariance_type,
        "weight_concentration_prior_type": model.weight_concentration_prior_type,
        "weight_concentration_prior": float(model.weight_concentration_prior_),
        "init_params": model.init_params,
        "n_samples": n_samples,
        "features": names,
        **_parameter_lists(model),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "lower_bound": float(model.lower_bound_),
        "model": None,
    }


def _print_bayesian(summary: dict[str, Any], out: TextIO) -> None:
    names = summary["features"]
    print(
        f"variational Bayesian {summary['covariance_type']} Gaussian mixture "
        f"({summary['weight_concentration_prior_type']}, weight concentration "
        f"prior {summary['weight_concentration_prior']:.4g}) on "
        f"{summary['n_samples']} rows x {len(names)} features",
        file=out,
    )
    _print_converged(summary, out)
    print(f"lower bound (ELBO): {summary['lower_bound']:.4f}", file=out)
    print(
        f"{summary['n_active_components']} of {summary['n_components']} components "
        f"have a weight >= {summary['active_weight']:g}",
        file=out,
    )
    print("", file=out)
    _print_components(summary, out)
    if summary["model"] is None:
        print("\nnot saved (give --out MODEL to save it)", file=out)


def cmd_fit_bayesian(args: argparse.Namespace) -> int:
    """``gaussmix fit --bayesian``: scikit-learn's BayesianGaussianMixture."""
    from gaussmix.bayesian import BayesianGaussianMixture

    _check_bayesian_options(args)
    _check_fit_outputs(args, args.out, {"DATA": args.data})
    data = _fit_data(args, _load_data(args))
    options: dict[str, Any] = {
        "n_components": args.components,
        "covariance_type": args.covariance,
        "n_init": args.n_init,
        "init_params": "kmeans" if args.init is None else args.init,
        "random_state": args.seed,
        "weight_concentration_prior_type": args.weight_concentration_prior_type
        or "dirichlet_process",
        "weight_concentration_prior": args.weight_concentration_prior,
    }
    for key in ("max_iter", "tol", "reg_covar"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    model = BayesianGaussianMixture(**options)
    with _recorded_warnings() as caught:
        model.fit(data.X)
    _print_warnings(caught)
    summary = _bayesian_summary(model, data.table.values.shape[0], data.names)
    _save_fit(args, model, args.out or None, data, summary)
    if args.json:
        _emit_json(summary)
        return 0
    _print_bayesian(summary, sys.stdout)
    if args.out:
        print(f"model written to {args.out}")
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0


def _issue15_fit_options(p: argparse.ArgumentParser) -> None:
    """``fit``'s options for missing values, starts, frozen parameters and --bayesian."""
    p.add_argument(
        "--nan-policy",
        choices=NAN_POLICIES,
        default="raise",
        help="missing (empty or NA) cells: raise refuses the file (default); "
        "marginalize fits by exact EM on the observed cells of every row; omit "
        "leaves incomplete rows out, with a warning that counts them",
    )
    p.add_argument(
        "--init-model",
        metavar="MODEL",
        help="start EM from a saved model's weights, means and covariances (same "
        "--components and --covariance)",
    )
    p.add_argument(
        "--frozen",
        type=_frozen_list,
        default=(),
        metavar="NAMES",
        help="keep these parameters at their starting values (from --init-model, or "
        "the initialisation): weights, means, covariances, comma separated",
    )
    p.add_argument(
        "--bayesian",
        action="store_true",
        help="fit a variational Bayesian mixture (scikit-learn's "
        "BayesianGaussianMixture): -k is an upper bound, unneeded components get "
        "weights near 0; printed, and saved with --out",
    )
    p.add_argument(
        "--weight-concentration-prior-type",
        choices=WEIGHT_PRIOR_TYPES,
        default=None,
        help="with --bayesian: the prior on the weights (default: dirichlet_process)",
    )
    p.add_argument(
        "--weight-concentration-prior",
        type=_float_at_least(0.0, strict=True),
        default=None,
        metavar="X",
        help="with --bayesian: its concentration; small values favour fewer "
        "components (default: 1/K)",
    )


# ----------------------------------------------------------------- impute
class _MissingColumn(_Column):
    """A float column whose NaN cells are written empty (R and pandas read NA)."""

    def formatted(self, start: int, stop: int) -> list[str]:
        import numpy as np

        floats = np.asarray(self.values[start:stop], dtype=np.float64).tolist()
        return ["" if math.isnan(v) else repr(v) for v in floats]


def cmd_impute(args: argparse.Namespace) -> int:
    """``gaussmix impute``."""
    import numpy as np

    if args.include_original and args.draws is None:
        raise UsageError("--include-original needs --draws M")
    if args.seed is not None and args.draws is None:
        raise UsageError("--seed needs --draws M (conditional means are not random)")
    model = _open_model(args)
    table = _load_data_keeping_nan(args, getattr(model, "feature_names_in_", None))
    X = _model_input(model, table)
    values = np.asarray(table.values, dtype=np.float64)
    missing = np.isnan(values)
    names = _feature_names(model)
    n = values.shape[0]
    if args.draws is None:
        completed = np.asarray(model.impute(X), dtype=np.float64)
        columns = [
            _Column(name, completed[:, j], "repr") for j, name in enumerate(names)
        ]
    else:
        draws = np.asarray(
            model.impute(X, n_imputations=args.draws, random_state=args.seed),
            dtype=np.float64,
        )
        blocks = [values[None]] if args.include_original else []
        stacked = np.concatenate([*blocks, draws], axis=0).reshape(-1, values.shape[1])
        first = 0 if args.include_original else 1
        imputation = np.repeat(np.arange(first, args.draws + 1), n)
        row = np.tile(np.arange(n), args.draws + 1 - first)
        columns = [_Column("imputation", imputation, "int"), _Column("row", row, "int")]
        columns += [
            _MissingColumn(name, stacked[:, j], "repr") for j, name in enumerate(names)
        ]
    _write_columns(args, columns)
    n_missing, n_rows = int(missing.sum()), int(missing.any(axis=1).sum())
    if args.json:
        payload: dict[str, Any] = {
            "features": names,
            "n_missing_cells": n_missing,
            "n_incomplete_rows": n_rows,
        }
        if args.draws is None:
            payload["imputed"] = completed.tolist()
        else:
            payload["imputations"] = draws.tolist()
        return _emit_table_json(args, payload)
    what = (
        "conditional means"
        if args.draws is None
        else f"{args.draws} imputation(s) drawn from the conditional distribution"
    )
    print(
        f"# {n_missing} missing cell(s) in {n_rows} of {n} row(s) filled with {what}"
        + (f"; written to {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0


# ------------------------------------------------- condition, marginal, regress
def _feature_index(token: str, names: Sequence[str], option: str) -> int:
    """A model feature by name or 0-based index."""
    index = _find_feature(token, names)
    if index is None:
        raise UsageError(
            f"{option} {token!r}: the model has no such feature; its features are "
            f"{', '.join(names)} (or 0 to {len(names) - 1})"
        )
    return index


def _feature_indices(
    tokens: Sequence[str], names: Sequence[str], option: str
) -> list[int]:
    chosen: list[int] = []
    for token in _split_list(tokens):
        index = _feature_index(token, names, option)
        if index in chosen:
            raise UsageError(f"{option} names feature {names[index]!r} twice")
        chosen.append(index)
    return chosen


def _parse_given(
    tokens: Sequence[str], names: Sequence[str]
) -> tuple[list[int], list[float]]:
    """``--given a=1.5,b=2`` to feature indices and values."""
    features: list[int] = []
    values: list[float] = []
    for item in _split_list(tokens):
        name, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--given {item!r}: write FEATURE=VALUE, e.g. x=1.5")
        index = _feature_index(name.strip(), names, "--given")
        if index in features:
            raise UsageError(f"--given names feature {names[index]!r} twice")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--given {item!r}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"--given {item!r}: the value must be finite")
        features.append(index)
        values.append(value)
    if len(features) >= len(names):
        raise UsageError(
            "--given names every feature of the model: leave at least one to condition"
        )
    return features, values


def _mixture_payload(model: GaussianMixture, names: list[str]) -> dict[str, Any]:
    """Weights, means, covariances and the mixture's mean and std, as JSON."""
    import numpy as np

    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    dense = np.stack([_covariance_of(model, k) for k in range(model.n_components)])
    mean = weights @ means
    spread = means - mean
    variance = np.einsum("k,kjj->j", weights, dense) + weights @ spread**2
    return {
        "features": names,
        "covariance_type": model.covariance_type,
        "n_components": int(model.n_components),
        **_parameter_lists(model),
        "mean": mean.tolist(),
        "std": np.sqrt(variance).tolist(),
    }


def _print_mixture(title: str, payload: dict[str, Any]) -> None:
    print(title)
    w = _print_components(payload)
    print(
        f"{'mixture':>9}  {'mean':>6}  "
        + "".join(f"{v:>{w + 5}.4g}" for v in payload["mean"])
    )
    print(
        f"{'':>9}  {'std':>6}  " + "".join(f"{v:>{w + 5}.4g}" for v in payload["std"])
    )


def _show_derived(
    args: argparse.Namespace,
    result: GaussianMixture,
    names: list[str],
    kind: str,
    given: dict[str, float] | None = None,
) -> int:
    """Save (``--out``) and print or emit ``result``, a mixture of ``names``.

    ``kind`` names it (conditional, marginal); ``given``, the conditioning values.
    """
    payload = _mixture_payload(result, names)
    condition = ""
    if given is not None:
        payload["given"] = given
        condition = " given " + ", ".join(f"{n} = {v:g}" for n, v in given.items())
    _save_derived(result, args.out)
    if args.json:
        payload["model"] = args.out
        _emit_json(payload)
        return 0
    _print_mixture(
        f"{kind} mixture of {', '.join(payload['features'])}{condition} "
        f"({payload['n_components']} components, {payload['covariance_type']})",
        payload,
    )
    if args.out:
        print(f"\nmodel saved to {args.out}")
    return 0


def _save_derived(model: GaussianMixture, path: str | None) -> None:
    if path is None:
        return
    with _Outputs() as outputs:
        _stage_model(model, path, outputs)
        outputs.commit()


def cmd_condition(args: argparse.Namespace) -> int:
    """``gaussmix condition``."""
    model = _open_model(args, data=False, table_out=False)
    names = _feature_names(model)
    features, values = _parse_given(args.given, names)
    given = dict(zip([names[i] for i in features], values, strict=True))
    # By position: a model fitted without a header has no names to match.
    result = model.condition(features, values)
    rest = [names[i] for i in range(len(names)) if i not in features]
    return _show_derived(args, result, rest, "conditional", given)


def cmd_marginal(args: argparse.Namespace) -> int:
    """``gaussmix marginal``."""
    model = _open_model(args, data=False, table_out=False)
    names = _feature_names(model)
    kept = _feature_indices(args.features, names, "--features")
    result = model.marginal(kept)
    return _show_derived(args, result, [names[i] for i in kept], "marginal")


def _regress_inputs(
    args: argparse.Namespace, names: list[str], inputs: list[int], has_names: bool
) -> Any:
    """The rows of DATA's input columns, in the model's order."""
    import numpy as np

    from gaussmix._data import DataError, drop_nan_rows, read_table, select_columns

    raw = read_table(args.data)
    input_names = [names[i] for i in inputs]
    if args.columns:
        columns: list[str] | None = _split_list(args.columns)
    elif has_names and raw.names is not None:
        columns = input_names
    elif raw.values.shape[1] == len(names) and len(names) != len(inputs):
        columns = [str(i) for i in inputs]  # every feature: the inputs by position
    else:
        columns = None
    table = select_columns(raw, columns)
    for note in table.notes:
        _note(note)
    if table.values.shape[1] != len(inputs):
        raise DataError(
            f"{table.path}: {table.values.shape[1]} column(s) but the model has "
            f"{len(inputs)} input feature(s) ({', '.join(input_names)}) besides the "
            "targets; use --columns to pick them"
        )
    table, dropped = drop_nan_rows(table, drop=args.drop_nan)
    if dropped and not args.json:
        print(f"dropped {dropped} row(s) with missing values", file=sys.stderr)
    return np.asarray(table.values, dtype=np.float64)


def cmd_regress(args: argparse.Namespace) -> int:
    """``gaussmix regress``: Gaussian mixture regression with a saved joint model."""
    import numpy as np

    from gaussmix.core import conditional

    model = _open_model(args)
    if _has_noise(model):
        raise UsageError(
            f"{args.model} has a noise component: a uniform density has no Gaussian "
            "conditional; refit without --noise"
        )
    names = _feature_names(model)
    targets = _feature_indices(args.targets, names, "--targets")
    if len(targets) >= len(names):
        raise UsageError(
            "--targets names every feature of the model: leave at least one input"
        )
    inputs = [i for i in range(len(names)) if i not in targets]
    has_names = getattr(model, "feature_names_in_", None) is not None
    X = _regress_inputs(args, names, inputs, has_names)
    fitted = model.fitted_model()
    cond = conditional.condition(
        fitted.family,
        fitted.weights,
        fitted.means,
        fitted.covariances,
        np.asarray(inputs, dtype=np.intp),
        X,
    )
    mean, variance = conditional.mixture_moments(cond)
    # The conditional is over the targets in the model's order; output in --targets'.
    order = [sorted(targets).index(t) for t in targets]
    mean, std = mean[:, order], np.sqrt(variance)[:, order]
    target_names = [names[t] for t in targets]
    columns = [
        _Column(f"{name}_mean", mean[:, j], "repr")
        for j, name in enumerate(target_names)
    ]
    if args.std:
        columns += [
            _Column(f"{name}_std", std[:, j], "repr")
            for j, name in enumerate(target_names)
        ]
    _write_columns(args, columns)
    if args.json:
        payload: dict[str, Any] = {
            "targets": target_names,
            "inputs": [names[i] for i in inputs],
            "mean": mean.tolist(),
        }
        if args.std:
            payload["std"] = std.tolist()
        return _emit_table_json(args, payload)
    if args.out:
        print(
            f"conditional means of {', '.join(target_names)} for {X.shape[0]} rows "
            f"written to {args.out}",
            file=sys.stderr,
        )
    return 0


def _issue15_parsers(sub: Any) -> None:
    """The ``impute``, ``condition``, ``marginal`` and ``regress`` commands."""
    p = _model_on_data(
        sub,
        "impute",
        help="fill the missing cells of a data file from a saved model",
        description="Fill the missing (empty or NA) cells of DATA with their "
        "conditional means given each row's observed cells, or with --draws M, M "
        "draws from the conditional distribution for multiple imputation, written "
        "as one long table (columns imputation, row, then the features).",
        epilog="example: gaussmix impute model.gmm data.csv --draws 20 --seed 1 "
        "--out imputed.csv",
    )
    p.add_argument(
        "--draws",
        type=_positive_int,
        default=None,
        metavar="M",
        help="M imputations drawn from the conditional distribution (default: the "
        "conditional means)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed of the draws")
    p.add_argument(
        "--include-original",
        action="store_true",
        help="with --draws: also the data itself as imputation 0, missing cells "
        "empty (mice's complete(imp, 'long', include = TRUE), read by as.mids)",
    )
    _table_out_option(p, "the completed data")
    _columns_option(p)
    _common(p, cmd_impute)

    p = _model_command(
        sub,
        "condition",
        help="the mixture of the other features given some feature values",
        description="Condition a saved model on values of some of its features: "
        "print the mixture of the other features (weights, means, and the "
        "mixture's mean and standard deviation), or save it as a model file.",
        epilog="example: gaussmix condition model.gmm --given x=1.5 --out given.gmm",
    )
    p.add_argument(
        "--given",
        nargs="+",
        required=True,
        metavar="FEATURE=VALUE",
        help="the known values, by feature name or 0-based index (space or comma "
        "separated), e.g. --given x=1.5 y=-2",
    )
    _model_output(p, "the conditional mixture", cmd_condition)

    p = _model_command(
        sub,
        "marginal",
        help="the mixture of some features, the others integrated out",
        description="The marginal mixture of some features of a saved model: "
        "printed, or saved as a model file.",
        epilog="example: gaussmix marginal model.gmm --features x,y --out xy.gmm",
    )
    p.add_argument(
        "--features",
        nargs="+",
        required=True,
        metavar="COL",
        help="the features to keep, in this order, by name or 0-based index",
    )
    _model_output(p, "the marginal mixture", cmd_marginal)

    p = _model_on_data(
        sub,
        "regress",
        help="predict some features from the others (Gaussian mixture regression)",
        description="Gaussian mixture regression with a saved joint model (fitted "
        "on inputs and targets together): for each row of DATA's input columns, "
        "the conditional mean of every target (column TARGET_mean) and with --std "
        "its conditional standard deviation (TARGET_std).",
        epilog="example: gaussmix fit train.csv -k 8 --out joint.gmm && gaussmix "
        "regress joint.gmm new.csv --targets y --std --out pred.csv",
    )
    p.add_argument(
        "--targets",
        nargs="+",
        required=True,
        metavar="COL",
        help="the model features to predict, by name or 0-based index; the other "
        "features are the inputs, read from DATA",
    )
    p.add_argument(
        "--std", action="store_true", help="also the conditional standard deviation"
    )
    _table_output(p, "the predictions", cmd_regress)


# ----------------------------------------------------------------- parser
def _common(
    p: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]
) -> None:
    """The options of every command (--json, --quiet), and ``func``, which runs it."""
    p.add_argument(
        "--json", action="store_true", help="machine-readable output on stdout"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=func, parser=p)


def _columns_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--columns",
        nargs="+",
        metavar="COL",
        help="columns to use, by header name or 0-based index (space or comma separated)",
    )


def _data_options(p: argparse.ArgumentParser) -> None:
    _columns_option(p)
    p.add_argument(
        "--drop-nan",
        action="store_true",
        help="leave out rows with missing or infinite values instead of failing",
    )


def _fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--init",
        choices=INIT_CHOICES,
        default=None,
        help="how EM starts: k-means, k-means++ seeds, random, random rows, or "
        "mclust's hierarchical clustering (default: hc for mclust's model names "
        "and 'all', kmeans for full, tied, diag, spherical)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="random seed (reproducible fits)"
    )
    p.add_argument(
        "--n-init", type=_positive_int, default=1, help="EM restarts (best kept)"
    )
    p.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        help="EM iterations per restart (default: 100 for full, tied, diag, "
        "spherical; 10000 for mclust's model names and 'all', as mclust has no limit)",
    )
    p.add_argument(
        "--tol",
        type=_float_at_least(0.0, strict=False),
        default=None,
        help="convergence tolerance on the change of the mean log-likelihood "
        "(default: 1e-3 for full, tied, diag, spherical; for mclust's model names "
        "and 'all' mclust's rule, a relative change of the log-likelihood of 1e-5)",
    )
    p.add_argument(
        "--reg-covar",
        type=_float_at_least(0.0, strict=False),
        default=None,
        help="added to covariance diagonals (default: 1e-6 for full, tied, diag, "
        "spherical; 0 for mclust's model names and 'all', as mclust)",
    )
    p.add_argument(
        "--noise",
        action="store_true",
        help="add mclust's noise component: a uniform density over the data's "
        "bounding box that takes the outliers (label -1)",
    )
    p.add_argument(
        "--noise-volume",
        type=_float_at_least(0.0, strict=True),
        default=None,
        metavar="V",
        help="the noise component's volume V (its density is 1/V; implies --noise; "
        "default: from the data, as mclust's hypvol)",
    )
    p.add_argument(
        "--prior",
        action="store_true",
        help="fit by MAP EM with mclust's default conjugate prior (priorControl())",
    )


def _components_grid_option(p: argparse.ArgumentParser, most: int, help: str) -> None:
    """``-k/--components``: the numbers of components to try (default: 1 to ``most``)."""
    p.add_argument(
        "-k",
        "--components",
        type=_parse_components,
        default=list(range(1, most + 1)),
        help=help,
    )


def _covariance_types_option(
    p: argparse.ArgumentParser, default: str, help: str
) -> None:
    """``--covariance``: one or more covariance types to try (default: ``default``)."""
    p.add_argument(
        "--covariance", nargs="+", default=[default], metavar="TYPE", help=help
    )


def _model_command(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand that reads a saved MODEL."""
    p: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    p.add_argument("model", metavar="MODEL")
    return p


def _model_on_data(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand that applies a saved MODEL to a DATA file."""
    p = _model_command(sub, name, **kwargs)
    p.add_argument("data", metavar="DATA")
    return p


def _table_out_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--out`` for a table of ``what``."""
    p.add_argument(
        "--out",
        metavar="CSV",
        help=f"write {what} here: CSV, or TSV/Parquet by the extension "
        "(default: stdout)",
    )


def _table_output(
    p: argparse.ArgumentParser, what: str, func: Callable[[argparse.Namespace], int]
) -> None:
    """``--out`` for a table, the data options, the common options and ``func``."""
    _table_out_option(p, what)
    _data_options(p)
    _common(p, func)


def _model_output(
    p: argparse.ArgumentParser, what: str, func: Callable[[argparse.Namespace], int]
) -> None:
    """``--out`` for a derived model, the common options and ``func``."""
    p.add_argument("--out", metavar="MODEL", help=f"save {what} here")
    _common(p, func)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command."""
    from gaussmix._version import __version__
    from gaussmix.core.covariance import COVARIANCE_TYPES, MCLUST_MODEL_NAMES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gaussian mixture models from the shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"gaussmix {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sklearn_types = [t for t in COVARIANCE_TYPES if t not in MCLUST_MODEL_NAMES]

    p = sub.add_parser(
        "fit",
        help="fit a mixture to a data file and save it",
        description="Fit a Gaussian mixture to DATA, print a summary and save the model.",
        epilog="example: gaussmix fit data.csv --components 3 --out model.gmm --plot fit.png",
    )
    p.add_argument("data", metavar="DATA", help="CSV, TSV, .npy or .parquet file")
    p.add_argument(
        "-k",
        "--components",
        type=_positive_int,
        required=True,
        help="number of components",
    )
    p.add_argument(
        "--covariance",
        choices=COVARIANCE_TYPES,
        default="full",
        metavar="TYPE",
        help=f"covariance type: {', '.join(sklearn_types)}, or one of mclust's "
        f"models {', '.join(MCLUST_MODEL_NAMES)} (E and V for one feature) "
        "(default: full)",
    )
    _fit_options(p)
    _data_options(p)
    _issue15_fit_options(p)
    p.add_argument(
        "--out",
        metavar="MODEL",
        help="model file (default: DATA's name with .gmm, in the current folder)",
    )
    p.add_argument("--plot", metavar="PNG", help="write a picture of the fit")
    p.add_argument(
        "--plot-features",
        nargs="+",
        metavar="COL",
        help=f"features the --plot pairs grid shows, by name or 0-based index "
        f"(default: the first {PAIRS_MAX_FEATURES})",
    )
    _common(p, cmd_fit)

    p = _model_on_data(
        sub,
        "predict",
        help="label rows with their most likely component",
        description="Predict the component of each row of DATA with a saved model "
        "(-1: the noise component).",
        epilog="example: gaussmix predict model.gmm new.csv --proba --out labels.csv",
    )
    p.add_argument(
        "--proba",
        action="store_true",
        help="also the probability of each component (columns p0, p1, ..., and "
        "noise with a noise component)",
    )
    _table_output(p, "labels", cmd_predict)

    p = _model_on_data(
        sub,
        "score",
        help="log-density of each row",
        description="Per-row log-density (log p(x), a density, not a probability) and its mean.",
        epilog="example: gaussmix score model.gmm new.csv --json",
    )
    _table_output(p, "the scores", cmd_score)

    p = _model_command(
        sub,
        "sample",
        help="draw new rows from a saved model",
        description="Draw N new rows from a saved model (with the component of "
        "each; -1 for the noise component).",
        epilog="example: gaussmix sample model.gmm -n 500 --seed 1 --out samples.csv",
    )
    p.add_argument(
        "-n",
        "--n-samples",
        dest="n",
        type=_positive_int,
        required=True,
        help="number of rows",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument(
        "--shuffle",
        action="store_true",
        help="mix the rows (they come grouped by component)",
    )
    _table_out_option(p, "the rows")
    _common(p, cmd_sample)

    p = sub.add_parser(
        "select",
        help="choose the number of components and covariance type",
        description="Fit every K and covariance type; table of AIC, BIC and ICL "
        "(lower is better). mclust's models (and 'all') start from mclust's "
        "hierarchical clustering unless --init says otherwise.",
        epilog=(
            "example: gaussmix select data.csv --components 1-10 --covariance all "
            "--plot bic.png"
        ),
    )
    p.add_argument("data", metavar="DATA")
    _components_grid_option(p, 10, "e.g. 1-10 (default) or 2,4,8")
    _covariance_types_option(
        p,
        "full",
        "one or more covariance types (full, tied, diag, spherical or mclust's "
        "names), or all (mclust's 14 models) or sklearn (the four scikit-learn "
        "names) (default: full)",
    )
    p.add_argument(
        "--criterion",
        choices=["bic", "aic", "icl"],
        default="bic",
        help="what 'best' means (default: bic)",
    )
    _fit_options(p)
    _data_options(p)
    p.add_argument("--out", metavar="MODEL", help="save the best model here")
    p.add_argument("--plot", metavar="PNG", help="write the criterion curves")
    _common(p, cmd_select)

    p = _model_on_data(
        sub,
        "bootstrap",
        help="standard errors and intervals of a saved model's parameters",
        description="Refit a saved model to resampled DATA, as mclust's "
        "MclustBootstrap, and print the standard errors and confidence intervals "
        "of its weights, means and covariances (one row per value).",
        epilog="example: gaussmix bootstrap model.gmm data.csv --method bs "
        "--n-boot 999 --seed 1 --out se.csv",
    )
    p.add_argument(
        "--method",
        choices=["bs", "wlbs", "pb", "jk"],
        default="bs",
        help="bs: nonparametric bootstrap (default); wlbs: weighted likelihood "
        "bootstrap; pb: parametric bootstrap; jk: jackknife (one refit per row)",
    )
    p.add_argument(
        "--n-boot",
        type=_positive_int,
        default=999,
        help="replicates, at least 2 (default: 999, as mclust; ignored by jk)",
    )
    p.add_argument(
        "--level",
        type=_float_at_least(0.0, strict=True),
        default=0.95,
        help="coverage of the intervals, below 1 (default: 0.95)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="processes refitting replicates (default: 1)",
    )
    _table_output(p, "the estimates, standard errors and intervals", cmd_bootstrap)

    p = sub.add_parser(
        "classify",
        help="learn classes from labelled rows, predict the unlabelled ones",
        description="Model-based discriminant analysis (mclust's MclustDA): each "
        "class a Gaussian (EDDA, one covariance model common to the classes, "
        "chosen by BIC) or a mixture (MclustDA). Rows whose label is empty or NA "
        "are predicted; the others are the training set.",
        epilog="example: gaussmix classify flowers.csv --label species --out pred.csv",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--label",
        required=True,
        metavar="COL",
        help="the column of the classes, by header name or 0-based index; empty "
        "or NA cells mark the rows to predict",
    )
    p.add_argument(
        "--model-type",
        choices=["EDDA", "MclustDA"],
        default="EDDA",
        help="EDDA: one Gaussian per class (default); MclustDA: a mixture per class",
    )
    _covariance_types_option(
        p, "all", "covariance types to choose from (default: all, mclust's 14)"
    )
    _components_grid_option(
        p, 5, "components per class tried by MclustDA (default: 1-5)"
    )
    p.add_argument(
        "--semi-supervised",
        action="store_true",
        help="let the unlabelled rows shape the classes too (EDDA; mclust's MclustSSC)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    _data_options(p)
    p.add_argument(
        "--out", metavar="FILE", help="write the predictions here (CSV, TSV, Parquet)"
    )
    _common(p, cmd_classify)

    p = sub.add_parser(
        "demo",
        help="fit the four-blob example and write a plot (what `make demo` runs)",
        description="The four-blob demo: fit, print, predict three points, plot.",
    )
    p.add_argument(
        "--out", default="out/demo.png", metavar="PNG", help="where the plot goes"
    )
    _common(p, cmd_demo)
    _issue15_parsers(sub)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    """Parse and run one command; errors become one line and an exit status."""
    from gaussmix._data import DataError

    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        # An unknown option of a subcommand: that subcommand's usage, not the top's.
        args.parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (``gaussmix predict ... | head``): not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except UsageError as exc:
        args.parser.exit(2, f"{PROG}: error: {exc}\n")
    except FileNotFoundError as exc:
        name = exc.filename if exc.filename else str(exc)
        message = str(exc) if exc.filename is None else f"{name}: no such file"
        print(f"{PROG}: error: {message}", file=sys.stderr)
    except MemoryError:
        print(
            f"{PROG}: error: out of memory; use fewer rows, columns or components",
            file=sys.stderr,
        )
    except (FileError, DataError, ValueError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gaussmix`` command; returns the exit status.

    Everything, the import of NumPy and of the rest of gaussmix included,
    runs inside one ``try``: Ctrl-C at any moment prints one line and gives
    the exit status 130.
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
