"""Benchmark: reading data files (CLI) and model files, against the usual tools.

Run: ``.venv/bin/python benchmarks/bench_io.py [--rows N] [--repeats R]``.

* data: ``gaussmix._data.read_table`` (what the CLI uses) against
  ``pandas.read_csv`` and ``numpy.loadtxt`` on the same CSV, and Parquet against
  ``pandas.read_parquet``;
* models: ``gaussmix.save``/``load`` (npz + JSON, validated, no pickle) against
  ``pickle`` and ``joblib`` (which run code on load) for a 32-component full
  model with 16 features.

Prints medians of ``--repeats`` runs and ratios (peer / gaussmix).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_data(rows: int, repeats: int, folder: str) -> None:
    import pandas as pd

    from gaussmix._data import read_table

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 8))
    columns = [f"f{i}" for i in range(8)]
    csv_path = os.path.join(folder, "data.csv")
    pd.DataFrame(X, columns=columns).to_csv(csv_path, index=False)
    size = os.path.getsize(csv_path) / 1e6
    t_gm = median_time(lambda: read_table(csv_path), repeats)
    t_pd = median_time(lambda: pd.read_csv(csv_path).to_numpy(), repeats)
    t_np = median_time(lambda: np.loadtxt(csv_path, delimiter=",", skiprows=1), repeats)
    np.testing.assert_allclose(
        read_table(csv_path).values, pd.read_csv(csv_path).to_numpy(), rtol=1e-15
    )
    print(
        f"CSV {rows:,} x 8 ({size:.0f} MB): gaussmix {t_gm:.3f} s, pandas.read_csv "
        f"{t_pd:.3f} s ({t_pd / t_gm:.2f}x), numpy.loadtxt {t_np:.3f} s "
        f"({t_np / t_gm:.2f}x)"
    )
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("Parquet: skipped (pyarrow missing)")
        return
    pq_path = os.path.join(folder, "data.parquet")
    pd.DataFrame(X, columns=columns).to_parquet(pq_path)
    t_gm = median_time(lambda: read_table(pq_path), repeats)
    t_pd = median_time(lambda: pd.read_parquet(pq_path).to_numpy(), repeats)
    print(
        f"Parquet {rows:,} x 8: gaussmix {t_gm:.3f} s, pandas.read_parquet "
        f"{t_pd:.3f} s ({t_pd / t_gm:.2f}x)"
    )


def bench_models(repeats: int, folder: str) -> None:
    import joblib
    from sklearn.datasets import make_blobs

    import gaussmix

    X, _ = make_blobs(20_000, n_features=16, centers=32, random_state=0)
    gm = gaussmix.GaussianMixture(32, random_state=0, max_iter=20).fit(X)
    path = os.path.join(folder, "m.gmm")
    pkl = os.path.join(folder, "m.pkl")
    jl = os.path.join(folder, "m.joblib")

    def dump_pickle() -> None:
        with open(pkl, "wb") as f:
            pickle.dump(gm, f)

    def load_pickle() -> Any:
        with open(pkl, "rb") as f:
            return pickle.load(f)

    t_save = median_time(lambda: gaussmix.save(gm, path), repeats)
    t_load = median_time(lambda: gaussmix.load(path), repeats)
    p_save = median_time(dump_pickle, repeats)
    p_load = median_time(load_pickle, repeats)
    j_save = median_time(lambda: joblib.dump(gm, jl), repeats)
    j_load = median_time(lambda: joblib.load(jl), repeats)
    loaded = gaussmix.load(path)
    assert np.array_equal(loaded.predict(X), gm.predict(X))
    print(
        f"model K=32 D=16 full ({os.path.getsize(path) / 1e3:.0f} kB; pickle "
        f"{os.path.getsize(pkl) / 1e3:.0f} kB): save gaussmix {t_save * 1e3:.1f} ms, "
        f"pickle {p_save * 1e3:.1f} ms, joblib {j_save * 1e3:.1f} ms; load (with "
        f"validation) gaussmix {t_load * 1e3:.1f} ms, pickle {p_load * 1e3:.1f} ms, "
        f"joblib {j_load * 1e3:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"# Python {sys.version.split()[0]}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        bench_data(args.rows, args.repeats, folder)
        bench_models(args.repeats, folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
