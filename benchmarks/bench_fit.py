"""Benchmark: gaussmix against scikit-learn, per EM iteration, in one process.

Both fit the same data from the same initial parameters (``weights_init``,
``means_init``, ``precisions_init``, in the data's dtype) with ``tol=0`` and a
fixed number of iterations. Seconds per iteration are ``(T(1 + n) - T(1)) / n``
(n = 2 for scikit-learn, 10 for gaussmix), so validation and set-up are
excluded for both, and each figure is the median of repeats.

scikit-learn gets its best BLAS thread count (1 and 2 are measured with
threadpoolctl, the faster is kept). gaussmix is measured serially (``n_jobs=1``)
and with its default (threads over chunks, BLAS at one thread), both with the
other core idle and with it busy (a spinning process), to check that the
default never loses to the serial run.

Peak extra memory of ``fit`` is the peak resident size during the fit minus the
size just before it (Linux: ``/proc/self/clear_refs`` resets the high-water
mark), measured in a fresh subprocess per library so that neither sees the
other's allocations.

Usage::

    python benchmarks/bench_fit.py                 # all workloads (about 10 min)
    python benchmarks/bench_fit.py --workloads W1 W3 --repeats 5
    python benchmarks/bench_fit.py --quick         # tiny sizes, checks the script
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


@dataclass(frozen=True)
class Workload:
    name: str
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    dtype: str
    memory: bool = False  # only measure memory (W5)


WORKLOADS = {
    "W1": Workload("W1", 100_000, 2, 4, "full", "float64"),
    "W2": Workload("W2", 1_000_000, 16, 32, "full", "float64"),
    "W2f32": Workload("W2f32", 1_000_000, 16, 32, "full", "float32"),
    "W3": Workload("W3", 1_000_000, 16, 32, "diag", "float64"),
    "W4": Workload("W4", 200_000, 64, 16, "full", "float64"),
    "W5": Workload("W5", 10_000_000, 8, 8, "full", "float64", memory=True),
}


def make_problem(w: Workload, scale: float = 1.0, seed: int = 0):
    """Blobs around random centres plus initial parameters near them."""
    n = max(int(w.n_samples * scale), 50 * w.n_components)
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, size=(w.n_components, w.n_features))
    X = np.empty((n, w.n_features), dtype=w.dtype)
    step = 1_000_000
    for s in range(0, n, step):  # build in slices to keep the peak low for W5
        e = min(s + step, n)
        lab = rng.integers(0, w.n_components, e - s)
        X[s:e] = centres[lab] + rng.normal(size=(e - s, w.n_features))
    weights = np.full(w.n_components, 1.0 / w.n_components)
    means = centres + 0.3 * rng.normal(size=centres.shape)
    d, k = w.n_features, w.n_components
    precisions = {
        "full": np.tile(np.eye(d), (k, 1, 1)),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[w.covariance_type]
    # Initial parameters in the data's dtype: scikit-learn computes in the dtype of
    # its parameters, so float64 ones would turn its float32 fit into float64.
    init = {"weights_init": weights, "means_init": means, "precisions_init": precisions}
    return X, {k: v.astype(w.dtype) for k, v in init.items()}


def _estimator(lib: str, w: Workload, init: dict, max_iter: int, n_jobs=None):
    common = {
        "covariance_type": w.covariance_type,
        "tol": 0.0,
        "max_iter": max_iter,
        # The init arrays below decide the start; scikit-learn still runs its
        # init_params step first (k-means by default: 30 s on W3, with seconds
        # of noise that swamped the per-iteration difference). random_from_data
        # makes that unused step cheap in both libraries.
        "init_params": "random_from_data",
        **init,
    }
    if lib == "sklearn":
        from sklearn.mixture import GaussianMixture
    else:
        from gaussmix import GaussianMixture

        common["n_jobs"] = n_jobs
    return GaussianMixture(w.n_components, **common)


def _fit_time(lib, w, X, init, max_iter, n_jobs=None, blas=None):
    est = _estimator(lib, w, init, max_iter, n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if blas is None:
            t0 = time.perf_counter()
            est.fit(X)
            t = time.perf_counter() - t0
        else:
            with threadpool_limits(limits=blas, user_api="blas"):
                t0 = time.perf_counter()
                est.fit(X)
                t = time.perf_counter() - t0
    return t, est


_LAPSE = re.compile(r"Iteration (\d+)\t time lapse ([0-9.]+)s")


def per_iteration(lib, w, X, init, extra, repeats, n_jobs=None, blas=None):
    """Median seconds per EM iteration and the final lower bound.

    Each iteration's own time is read from the estimators' ``verbose=2``
    output (scikit-learn's format, which gaussmix reproduces): "time lapse" of
    iteration ``n`` is the time since iteration ``n - 1`` ended. Iteration 1 is
    left out (its lapse includes initialisation), so the noise of an
    initialisation step never enters the per-iteration figure.
    """
    samples = []
    est = None
    for _ in range(repeats):
        est = _estimator(lib, w, init, 1 + extra, n_jobs)
        est.set_params(verbose=2, verbose_interval=1)
        buffer = io.StringIO()
        limits = (
            threadpool_limits(limits=blas, user_api="blas")
            if blas is not None
            else contextlib.nullcontext()
        )
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer), limits:
            warnings.simplefilter("ignore")
            est.fit(X)
        lapses = [float(t) for n, t in _LAPSE.findall(buffer.getvalue()) if int(n) >= 2]
        if len(lapses) != extra:
            raise RuntimeError(f"{lib}: expected {extra} iteration times, got {lapses}")
        samples.extend(lapses)
    return statistics.median(samples), est.lower_bound_, samples


def _spin(stop):  # pragma: no cover - runs in a child process
    x = 0
    while not stop.is_set():
        x += 1


class BusyCore:
    """Keep one core busy (pure Python spin) while the block runs."""

    def __enter__(self):
        self.stop = mp.Event()
        self.proc = mp.Process(target=_spin, args=(self.stop,), daemon=True)
        self.proc.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.terminate()


def matmul_peak_gflops(dtype="float64", n=2000, repeats=3):
    a = np.random.default_rng(0).normal(size=(n, n)).astype(dtype)
    best = np.inf
    with threadpool_limits(limits=1, user_api="blas"):
        a @ a
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


# ----------------------------------------------------------------- memory
def _memory_child(lib: str, wname: str, scale: float, iters: int) -> None:
    """Run in a subprocess: print JSON with data size and peak extra memory of fit."""
    w = WORKLOADS[wname]
    X, init = make_problem(w, scale)
    est = _estimator(lib, w, init, iters)

    def rss_kib(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
        return 0

    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM (peak RSS) to the current RSS
    before = rss_kib("VmRSS:")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    peak = rss_kib("VmHWM:")
    print(
        json.dumps(
            {
                "data_mb": X.nbytes / 2**20,
                "extra_mb": (peak - before) / 1024,
                "lower_bound": est.lower_bound_,
            }
        )
    )


def measure_memory(lib, wname, scale, iters=2):
    cmd = [
        sys.executable,
        __file__,
        "--memory-child",
        lib,
        wname,
        str(scale),
        str(iters),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------- main
def run(workloads, scale, repeats, extra, gm_extra, busy):
    import sklearn

    import gaussmix

    print(
        f"# gaussmix {gaussmix.__version__} vs scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}"
    )
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    print(
        f"# BLAS: {blas[0]['internal_api']} {blas[0]['version']} "
        f"({blas[0]['num_threads']} threads), cores: {os.cpu_count()}, "
        f"{platform.processor() or platform.machine()}"
    )
    peak64 = matmul_peak_gflops("float64")
    peak32 = matmul_peak_gflops("float32")
    print(
        f"# float64 matmul peak (1 thread): {peak64:.1f} GFLOP/s; float32: {peak32:.1f}"
    )
    rows = []
    for name in workloads:
        w = WORKLOADS[name]
        if w.memory:
            gm = measure_memory("gaussmix", name, scale)
            sk = measure_memory("sklearn", name, scale)
            rows.append((w, None, gm, sk))
            print(
                f"{name}: data {gm['data_mb']:.0f} MB; extra memory of fit: gaussmix "
                f"{gm['extra_mb']:.0f} MB ({100 * gm['extra_mb'] / gm['data_mb']:.1f}%), "
                f"scikit-learn {sk['extra_mb']:.0f} MB "
                f"({100 * sk['extra_mb'] / sk['data_mb']:.0f}%); lower bounds "
                f"{gm['lower_bound']:.10f} / {sk['lower_bound']:.10f}",
                flush=True,
            )
            continue
        X, init = make_problem(w, scale)
        res = {}
        for threads in (1, 2):
            res[f"sk{threads}"] = per_iteration(
                "sklearn", w, X, init, extra, max(1, repeats // 2), blas=threads
            )
        res["gm1"] = per_iteration("gaussmix", w, X, init, gm_extra, repeats, n_jobs=1)
        res["gm"] = per_iteration(
            "gaussmix", w, X, init, gm_extra, repeats, n_jobs=None
        )
        if busy:
            with BusyCore():
                res["gm1_busy"] = per_iteration(
                    "gaussmix", w, X, init, gm_extra, repeats, n_jobs=1
                )
                res["gm_busy"] = per_iteration(
                    "gaussmix", w, X, init, gm_extra, repeats
                )
        sk_best = min(res["sk1"][0], res["sk2"][0])
        sk_threads = 1 if res["sk1"][0] <= res["sk2"][0] else 2
        # GEMM flops of one iteration (E-step and M-step products): the packed
        # quadratic design for full/tied, two products each way for diag.
        if w.covariance_type in ("full", "tied"):
            flops = 3 * X.shape[0] * w.n_components * w.n_features**2
        else:
            flops = 8 * X.shape[0] * w.n_components * w.n_features
        roof = flops / ((peak32 if w.dtype == "float32" else peak64) * 1e9)
        # Lower bounds after the same number of iterations as scikit-learn's runs.
        _, same = _fit_time("gaussmix", w, X, init, 1 + extra)
        lb_sk, lb_gm = res[f"sk{sk_threads}"][1], same.lower_bound_
        rows.append((w, res, None, None))
        line = (
            f"{name}: N={X.shape[0]:,} D={w.n_features} K={w.n_components} "
            f"{w.covariance_type} {w.dtype}: sklearn {sk_best:.4f} s/iter "
            f"(best at {sk_threads} BLAS threads; 1: {res['sk1'][0]:.4f}, "
            f"2: {res['sk2'][0]:.4f}); gaussmix {res['gm'][0]:.4f} "
            f"(n_jobs=1: {res['gm1'][0]:.4f}); ratio sklearn/gaussmix "
            f"{sk_best / res['gm'][0]:.1f}x (serial {sk_best / res['gm1'][0]:.1f}x)"
        )
        if busy:
            line += (
                f"; other core busy: gaussmix {res['gm_busy'][0]:.4f} "
                f"(n_jobs=1: {res['gm1_busy'][0]:.4f})"
            )
        line += (
            f"; roofline {roof:.3f} s; lower bounds sklearn {lb_sk:.10f} "
            f"gaussmix {lb_gm:.10f} (rel. diff {abs(lb_sk - lb_gm) / abs(lb_sk):.1e})"
        )
        print(line, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS)
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--extra", type=int, default=2, help="iterations timed per run")
    parser.add_argument(
        "--gm-extra",
        type=int,
        default=10,
        help="iterations timed per gaussmix run (its thread tuner times serial and "
        "threaded passes first; more iterations show its steady state)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply N by this")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (checks the script)"
    )
    parser.add_argument(
        "--no-busy", action="store_true", help="skip the busy-core runs"
    )
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        lib, wname, scale, iters = args.memory_child
        _memory_child(lib, wname, float(scale), int(iters))
        return 0
    if args.quick:
        args.scale, args.repeats, args.extra, args.gm_extra = 0.002, 1, 1, 2
    run(
        args.workloads,
        args.scale,
        args.repeats,
        args.extra,
        args.gm_extra,
        busy=not args.no_busy,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
