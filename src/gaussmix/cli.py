"""The ``gaussmix`` command-line tool: fit, predict, score, sample, select, demo.

Exit status: 0 on success, 2 on bad usage (argparse), 1 on a data or file
problem, which is reported as one line on stderr, never a traceback. Every
command takes ``--json`` for machine-readable output on stdout, and ``--quiet``
to turn off progress bars (they are drawn only when stderr is a terminal and
tqdm is installed).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np

from gaussmix._data import DataError, Table, drop_nan_rows, read_table, select_columns
from gaussmix._version import __version__
from gaussmix.core.covariance import COVARIANCE_TYPES, get_family
from gaussmix.mixture import FIT_PROGRESS, GaussianMixture

__all__ = ["main"]

PROG = "gaussmix"
# Above this many features the summary shows covariance diagonals only.
FULL_MATRIX_MAX_FEATURES = 4
# The --plot pairs grid shows at most this many features (the first ones).
PAIRS_MAX_FEATURES = 6

EPILOG = """\
examples:
  gaussmix fit data.csv --components 3 --out model.gmm --plot fit.png
  gaussmix predict model.gmm new.csv --proba --out labels.csv
  gaussmix score model.gmm new.csv --json
  gaussmix sample model.gmm -n 500 --seed 1 --out samples.csv
  gaussmix select data.csv --components 1-10 --covariance all --plot bic.png
  gaussmix demo

Data files: CSV (header optional), TSV, .npy, Parquet (needs pyarrow).
Exit status: 0 success, 1 data or file error, 2 bad usage.
"""


class UsageError(Exception):
    """A bad combination of options (exit status 2)."""


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


def _load_data(
    args: argparse.Namespace, model_names: Sequence[str] | None = None
) -> Table:
    columns = _split_list(args.columns) if args.columns else None
    table = select_columns(read_table(args.data), columns, model_names=model_names)
    table, dropped = drop_nan_rows(table, drop=args.drop_nan)
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


def _feature_names(model: GaussianMixture) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(model.n_features_in_)]


def _covariance_of(model: GaussianMixture, k: int) -> np.ndarray:
    dense = get_family(model.covariance_type).to_dense(
        np.asarray(model.covariances_, dtype=np.float64),
        model.n_components,
        model.n_features_in_,
    )
    return np.asarray(dense[k])


def _model_summary(
    model: GaussianMixture, X: np.ndarray, path: str | None
) -> dict[str, Any]:
    criteria = model._criteria(X)  # one pass for log-likelihood, AIC and BIC
    log_likelihood = criteria["log_likelihood"]
    covariances = np.asarray(model.covariances_, dtype=np.float64)
    return {
        "n_components": int(model.n_components),
        "covariance_type": model.covariance_type,
        "n_samples": int(X.shape[0]),
        "features": _feature_names(model),
        "weights": np.asarray(model.weights_, dtype=np.float64).tolist(),
        "means": np.asarray(model.means_, dtype=np.float64).tolist(),
        "covariances": covariances.tolist(),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "log_likelihood": log_likelihood,
        "mean_log_likelihood": log_likelihood / X.shape[0],
        "aic": criteria["aic"],
        "bic": criteria["bic"],
        "model": path,
    }


def _print_summary(
    model: GaussianMixture, summary: dict[str, Any], out: TextIO
) -> None:
    names = summary["features"]
    d = len(names)
    w = max(10, *(len(n) + 1 for n in names))
    print(
        f"{summary['n_components']}-component {summary['covariance_type']} Gaussian "
        f"mixture on {summary['n_samples']} rows x {d} features",
        file=out,
    )
    print(
        f"converged: {'yes' if summary['converged'] else 'NO'} after "
        f"{summary['n_iter']} iterations",
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
    head = "component  weight  " + "".join(f"{'mean ' + n:>{w + 5}}" for n in names)
    print(head, file=out)
    for k in range(summary["n_components"]):
        row = f"{k:>9}  {summary['weights'][k]:6.4f}  " + "".join(
            f"{v:>{w + 5}.4g}" for v in summary["means"][k]
        )
        print(row, file=out)
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


def _write_csv(path: str | None, header: list[str], rows: Any, out: TextIO) -> None:
    if path is None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    _ensure_folder(path)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _ensure_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"{path}: the folder {folder} does not exist")


def _guard_overwrite(out: str | None, *inputs: str) -> None:
    """Never write an output over one of the input files."""
    if out is None:
        return
    for given in inputs:
        if (
            os.path.exists(given)
            and os.path.exists(out)
            and os.path.samefile(out, given)
        ):
            raise UsageError(f"--out {out} is an input file; choose another name")


def _emit_json(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, allow_nan=False, separators=(",", ":"))
    sys.stdout.write("\n")


def _load_model(path: str) -> GaussianMixture:
    from gaussmix.io import load

    model: GaussianMixture = load(path)
    return model


def _save_plot(fig: Any, path: str) -> None:
    _ensure_folder(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise DataError(
            "--plot needs matplotlib: pip install 'gaussmix[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------- commands
def cmd_fit(args: argparse.Namespace) -> int:
    """``gaussmix fit``."""
    table = _load_data(args)
    out = (
        args.out
        if args.out is not None
        else (os.path.splitext(os.path.basename(args.data))[0] + ".gmm")
    )
    _guard_overwrite(out, args.data)
    _guard_overwrite(args.plot, args.data)
    model = GaussianMixture(
        n_components=args.components,
        covariance_type=args.covariance,
        n_init=args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        reg_covar=args.reg_covar,
        init_params=args.init,
        random_state=args.seed,
    )
    X: Any = table.values if table.names is None else _frame(table.values, table.names)
    with (
        _progress(args, args.n_init, "EM restarts") as step,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        token = FIT_PROGRESS.set(lambda done, total: step())
        try:
            model.fit(X)
        finally:
            FIT_PROGRESS.reset(token)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    from gaussmix.io import save

    _ensure_folder(out)
    save(model, out)
    summary = _model_summary(model, X, out)
    if args.plot:
        plt = _pyplot()
        from gaussmix import plotting

        if model.n_features_in_ == 1:
            drawn = plotting.plot_density_1d(model, table.values)
            fig = drawn["ax"].figure
        elif model.n_features_in_ == 2:
            drawn = plotting.plot_clusters(model, X)
            fig = drawn["ax"].figure
        else:
            shown = min(model.n_features_in_, PAIRS_MAX_FEATURES)
            drawn = plotting.plot_pairs(model, X, features=list(range(shown)))
            fig = drawn["fig"]
        _save_plot(fig, args.plot)
        summary["plot"] = args.plot
        del plt
    if args.json:
        _emit_json(summary)
    else:
        _print_summary(model, summary, sys.stdout)
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def _model_input(model: GaussianMixture, table: Table) -> Any:
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


def cmd_predict(args: argparse.Namespace) -> int:
    """``gaussmix predict``."""
    model = _load_model(args.model)
    table = _load_data(args, getattr(model, "feature_names_in_", None))
    _guard_overwrite(args.out, args.data, args.model)
    X = _model_input(model, table)
    labels = model.predict(X)
    proba = model.predict_proba(X) if args.proba else None
    if args.json:
        payload: dict[str, Any] = {"labels": labels.tolist()}
        if proba is not None:
            payload["proba"] = proba.astype(np.float64).tolist()
        if args.out:
            payload["out"] = args.out
        _write_outputs_predict(args, labels, proba, quiet_stdout=True)
        _emit_json(payload)
        return 0
    _write_outputs_predict(args, labels, proba, quiet_stdout=False)
    if args.out:
        counts = np.bincount(labels, minlength=model.n_components)
        print(f"{labels.shape[0]} labels written to {args.out}")
        print(
            "rows per component: "
            + ", ".join(f"{k}: {c}" for k, c in enumerate(counts))
        )
    return 0


def _write_outputs_predict(
    args: argparse.Namespace,
    labels: np.ndarray,
    proba: np.ndarray | None,
    *,
    quiet_stdout: bool,
) -> None:
    if args.out is None and quiet_stdout:
        return
    header = ["label"]
    if proba is not None:
        header += [f"p{k}" for k in range(proba.shape[1])]
        rows: Any = (
            [int(lab), *(f"{p:.6g}" for p in row)]
            for lab, row in zip(labels, proba, strict=True)
        )
    else:
        rows = ([int(lab)] for lab in labels)
    _write_csv(args.out, header, rows, sys.stdout)


def cmd_score(args: argparse.Namespace) -> int:
    """``gaussmix score``."""
    model = _load_model(args.model)
    table = _load_data(args, getattr(model, "feature_names_in_", None))
    _guard_overwrite(args.out, args.data, args.model)
    X = _model_input(model, table)
    scores = model.score_samples(X).astype(np.float64)
    mean = float(np.mean(scores))
    if args.json:
        if args.out:
            _write_csv(
                args.out,
                ["log_density"],
                ([repr(float(s))] for s in scores),
                sys.stdout,
            )
        _emit_json({"scores": scores.tolist(), "mean": mean})
        return 0
    _write_csv(
        args.out, ["log_density"], ([repr(float(s))] for s in scores), sys.stdout
    )
    where = f"; scores written to {args.out}" if args.out else ""
    print(f"# mean log-density {mean:.6g} over {scores.shape[0]} rows{where}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``gaussmix sample``."""
    model = _load_model(args.model)
    _guard_overwrite(args.out, args.model)
    X, comp = model.sample(args.n, random_state=args.seed)
    order = (
        np.random.default_rng(args.seed).permutation(X.shape[0])
        if args.shuffle
        else None
    )
    if order is not None:
        X, comp = X[order], comp[order]
    if args.json:
        if args.out:
            _write_sample_csv(args.out, model, X, comp)
        _emit_json(
            {
                "samples": np.asarray(X, dtype=np.float64).tolist(),
                "components": comp.tolist(),
            }
        )
        return 0
    _write_sample_csv(args.out, model, X, comp)
    if args.out:
        print(f"{X.shape[0]} samples written to {args.out}")
    return 0


def _write_sample_csv(
    path: str | None, model: GaussianMixture, X: np.ndarray, comp: np.ndarray
) -> None:
    header = [*_feature_names(model), "component"]
    rows = (
        [*(repr(float(v)) for v in x), int(c)] for x, c in zip(X, comp, strict=True)
    )
    _write_csv(path, header, rows, sys.stdout)


def cmd_select(args: argparse.Namespace) -> int:
    """``gaussmix select``."""
    from gaussmix.selection import expand_types, select

    table = _load_data(args)
    _guard_overwrite(args.out, args.data)
    _guard_overwrite(args.plot, args.data)
    types = _split_list(args.covariance)
    unknown = [t for t in types if t not in (*COVARIANCE_TYPES, "all", "sklearn")]
    if unknown:
        raise UsageError(
            f"unknown covariance type {unknown[0]!r}; use {', '.join(COVARIANCE_TYPES)}, "
            "all (mclust's 14 models) or sklearn (the four scikit-learn names)"
        )
    ks = args.components
    n_fits = len(ks) * len(expand_types(types, table.values))
    with _progress(args, n_fits, "model grid") as step:
        best, result = select(
            table.values,
            ks,
            types,
            args.criterion,
            progress=lambda record: step(),
            random_state=args.seed,
            n_init=args.n_init,
            max_iter=args.max_iter,
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
    if args.out and best is not None:
        from gaussmix.io import save

        _ensure_folder(args.out)
        save(best, args.out)
    if args.plot:
        plt = _pyplot()
        from gaussmix.plotting import plot_model_selection

        drawn = plot_model_selection(result, criteria=(args.criterion,))
        _save_plot(drawn["fig"], args.plot)
        del plt
    if args.json:
        payload: dict[str, Any] = {
            "criterion": args.criterion,
            "sign": "lower is better (scikit-learn convention)",
            "table": records,
            "best": best_record,
        }
        if args.out:
            payload["model"] = args.out
        _emit_json(payload)
        return 0 if best is not None else 1
    _print_select(records, best_record, args)
    if best is None:
        print(
            "gaussmix: error: every fit failed (see the error column)", file=sys.stderr
        )
        return 1
    return 0


def _records(table: Any) -> list[dict[str, Any]]:
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
    records: list[dict[str, Any]], best: dict[str, Any] | None, args: argparse.Namespace
) -> None:
    crit = args.criterion
    print(f"model selection by {crit.upper()} (lower is better); * marks the best")
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


# ----------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="machine-readable output on stdout"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--columns",
        nargs="+",
        metavar="COL",
        help="columns to use, by header name or 0-based index (space or comma separated)",
    )
    p.add_argument(
        "--drop-nan",
        action="store_true",
        help="leave out rows with missing or infinite values instead of failing",
    )


def _fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seed", type=int, default=None, help="random seed (reproducible fits)"
    )
    p.add_argument(
        "--n-init", type=_positive_int, default=1, help="EM restarts (best kept)"
    )
    p.add_argument(
        "--max-iter", type=_positive_int, default=100, help="EM iterations per restart"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command."""
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
    types = list(COVARIANCE_TYPES)

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
        choices=types,
        default="full",
        help="covariance type (default: full)",
    )
    p.add_argument(
        "--init",
        choices=["kmeans", "k-means++", "random", "random_from_data", "hc"],
        default="kmeans",
        help="initialisation (default: kmeans)",
    )
    p.add_argument(
        "--tol", type=float, default=1e-3, help="convergence tolerance (default: 1e-3)"
    )
    p.add_argument(
        "--reg-covar",
        type=float,
        default=1e-6,
        help="added to covariance diagonals (default: 1e-6)",
    )
    _fit_options(p)
    _data_options(p)
    p.add_argument(
        "--out",
        metavar="MODEL",
        help="model file (default: DATA's name with .gmm, in the current folder)",
    )
    p.add_argument("--plot", metavar="PNG", help="write a picture of the fit")
    _common(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "predict",
        help="label rows with their most likely component",
        description="Predict the component of each row of DATA with a saved model.",
        epilog="example: gaussmix predict model.gmm new.csv --proba --out labels.csv",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--proba", action="store_true", help="also the probability of each component"
    )
    p.add_argument("--out", metavar="CSV", help="write labels here (default: stdout)")
    _data_options(p)
    _common(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "score",
        help="log-density of each row",
        description="Per-row log-density (log p(x), a density, not a probability) and its mean.",
        epilog="example: gaussmix score model.gmm new.csv --json",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--out", metavar="CSV", help="write the scores here (default: stdout)"
    )
    _data_options(p)
    _common(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "sample",
        help="draw new rows from a saved model",
        description="Draw N new rows from a saved model (with the component of each).",
        epilog="example: gaussmix sample model.gmm -n 500 --seed 1 --out samples.csv",
    )
    p.add_argument("model", metavar="MODEL")
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
    p.add_argument("--out", metavar="CSV", help="write the rows here (default: stdout)")
    _common(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "select",
        help="choose the number of components and covariance type",
        description="Fit every K and covariance type; table of AIC, BIC and ICL (lower is better).",
        epilog=(
            "example: gaussmix select data.csv --components 1-10 --covariance all "
            "--plot bic.png"
        ),
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "-k",
        "--components",
        type=_parse_components,
        default=list(range(1, 11)),
        help="e.g. 1-10 (default) or 2,4,8",
    )
    p.add_argument(
        "--covariance",
        nargs="+",
        default=["full"],
        metavar="TYPE",
        help="one or more covariance types, or all (mclust's 14 models) or sklearn (default: full)",
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
    _common(p)
    p.set_defaults(func=cmd_select)

    p = sub.add_parser(
        "demo",
        help="fit the four-blob example and write a plot (what `make demo` runs)",
        description="The four-blob demo: fit, print, predict three points, plot.",
    )
    p.add_argument(
        "--out", default="out/demo.png", metavar="PNG", help="where the plot goes"
    )
    _common(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gaussmix`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (``gaussmix predict ... | head``): not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except UsageError as exc:
        parser.exit(2, f"{PROG}: error: {exc}\n")
    except FileNotFoundError as exc:
        name = exc.filename if exc.filename else str(exc)
        message = str(exc) if exc.filename is None else f"{name}: no such file"
        print(f"{PROG}: error: {message}", file=sys.stderr)
    except (DataError, ValueError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
