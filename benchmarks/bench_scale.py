"""Scale: out-of-core under a memory cap, Dask on a LocalCluster, online against batch.

Three measurements on one generated data set (a K=8 mixture in D=8, float32,
written once as a ``.npy`` file of N rows):

1. **Out of core** (``ooc``): ``GaussianMixture(8).fit(path)`` in a child
   process started under ``prlimit --as=<cap>`` (the address-space limit: an
   allocation beyond it fails). Reports seconds per EM iteration (median of
   the ``verbose=2`` lapses), the first pass (validation, moments, reservoir
   sample and k-means on it) and the child's peak resident memory. Then the
   same fit in memory on the first N/10 rows, for the speed per row.
2. **Dask** (``dask``): the same file read block by block by the workers of a
   ``distributed.LocalCluster`` with 1 and then 2 worker processes (1 thread
   each), persisted; seconds per iteration against the single-process
   in-memory fit with one thread (the overhead of distribution, as a ratio)
   and the 1 -> 2 worker scaling.
3. **Online** (``online``): on the first ``--online-rows`` rows in memory, from
   the same start (k-means on a 100,000-row sample), the wall time until the
   mean log-likelihood on all those rows is within 1e-3 of the batch EM
   optimum: batch EM (one full pass per iteration) against stepwise EM
   (``partial_fit`` on mini-batches; the checks are not timed).

Usage::

    .venv/bin/python benchmarks/bench_scale.py                    # everything, N=50M
    .venv/bin/python benchmarks/bench_scale.py --n 2000000 --parts ooc online
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

K, D = 8, 8
_LAPSE = re.compile(r"Iteration (\d+)\t time lapse ([0-9.]+)s")


def truth(seed: int = 0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-4, 4, size=(K, D))
    scales = rng.uniform(0.5, 2.0, size=(K, D, D)) * 0.3
    chol = np.tril(scales) + np.eye(D)[None] * rng.uniform(0.5, 1.5, size=(K, 1, 1))
    return means, chol


def write_data(path: Path, n: int, block: int = 1_000_000) -> None:
    """Write N rows of the mixture as float32 .npy, block by block."""
    means, chol = truth()
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, D))
    rng = np.random.RandomState(1)
    for lo in range(0, n, block):
        m = min(block, n - lo)
        labels = rng.randint(K, size=m)
        z = rng.standard_normal((m, D))
        x = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
        out[lo : lo + m] = x.astype(np.float32)
    out.flush()
    del out


def lapses(text: str) -> list[float]:
    return [float(t) for n, t in _LAPSE.findall(text) if int(n) >= 2]


def fit_timed(X, max_iter: int, **kw):
    """Fit with verbose=2; return (model, seconds of the whole fit, iteration lapses)."""
    from gaussmix import GaussianMixture

    gm = GaussianMixture(
        K,
        max_iter=max_iter,
        tol=0.0,
        random_state=0,
        verbose=2,
        verbose_interval=1,
        **kw,
    )
    buffer = io.StringIO()
    t0 = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
        warnings.simplefilter("ignore")
        gm.fit(X)
    return gm, time.perf_counter() - t0, lapses(buffer.getvalue())


# ------------------------------------------------------------------ out of core
def peak_rss_mb() -> float:
    """Peak resident memory of this process since exec (VmHWM).

    Not ``ru_maxrss``: after fork + exec it also holds the parent's peak (the
    forked copy of the parent's memory map carries its high-water mark), which
    here is the parent that wrote the 1.5 GB file.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ooc(path: str, iters: int) -> None:
    """Run in the capped child: fit from the path, print JSON."""
    from gaussmix.outofcore import INIT_SAMPLE_SIZE, ChunkedSource

    t0 = time.perf_counter()
    ChunkedSource(path).summarize(INIT_SAMPLE_SIZE, np.random.RandomState(0))
    t_summary = time.perf_counter() - t0
    gm, total, lap = fit_timed(path, iters)
    rss_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "summary_s": t_summary,
                "fit_s": total,
                "iter_s": statistics.median(lap),
                "lapses": lap,
                "peak_rss_mb": rss_mb,
                "lower_bound": gm.lower_bound_,
            }
        )
    )


def _cgroup_v1(cap_bytes: int) -> Path | None:
    """A cgroup-v1 memory group limited to ``cap_bytes``, or None if not allowed."""
    root = Path("/sys/fs/cgroup/memory")
    if not root.is_dir() or not os.access(root, os.W_OK):
        return None
    group = root / f"gaussmix-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(cap_bytes))
        swap = group / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(cap_bytes))  # no escape to swap either
    except OSError:
        return None
    return group


def part_ooc(path: Path, n: int, iters: int, cap: str, method: str) -> dict:
    cmd = [sys.executable, __file__, "--child-ooc", str(path), "--iters", str(iters)]
    cap_bytes = _bytes(cap)
    group = _cgroup_v1(cap_bytes) if method in ("auto", "cgroup") else None
    env = dict(os.environ)
    if group is not None:
        # The kernel limits the group's memory, page cache of the file included
        # (reclaimed under pressure); going over means reclaim, then the OOM killer.
        how = f"cgroup v1 memory.limit_in_bytes={cap_bytes}"
        cmd = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh", *cmd]
    elif method == "cgroup":
        raise RuntimeError("cannot create a memory cgroup here (needs root)")
    else:
        # The address-space limit counts reserved virtual memory too: glibc's
        # per-thread malloc arenas (64 MB each) are limited to 2.
        how = f"prlimit --as={cap_bytes} (MALLOC_ARENA_MAX=2)"
        env["MALLOC_ARENA_MAX"] = "2"
        cmd = ["prlimit", f"--as={cap_bytes}", *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        usage = None
        if group is not None:
            usage = int((group / "memory.max_usage_in_bytes").read_text()) / 2**20
    finally:
        if group is not None:
            with contextlib.suppress(OSError):
                group.rmdir()
    if out.returncode != 0:
        raise RuntimeError(
            f"out-of-core child failed ({how}, exit {out.returncode}):\n"
            f"{out.stderr[-3000:]}"
        )
    ooc = json.loads(out.stdout.strip().splitlines()[-1])
    # In memory, on a tenth of the rows.
    m = n // 10
    X = np.load(path, mmap_mode="r")[:m].copy()
    _, _, lap = fit_timed(X, iters)
    mem_iter = statistics.median(lap)
    ooc.update(
        {
            "cap": cap,
            "cap_method": how,
            "cgroup_peak_mb": usage,
            "data_mb": n * D * 4 / 2**20,
            "inmem_rows": m,
            "inmem_iter_s": mem_iter,
            "ns_per_row_ooc": ooc["iter_s"] / n * 1e9,
            "ns_per_row_inmem": mem_iter / m * 1e9,
        }
    )
    ooc["per_row_ratio"] = ooc["ns_per_row_ooc"] / ooc["ns_per_row_inmem"]
    return ooc


def _bytes(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    if text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


# ------------------------------------------------------------------------ Dask
def _load_rows(path: str, lo: int, hi: int) -> np.ndarray:
    return np.array(np.load(path, mmap_mode="r")[lo:hi])


def dask_array_from_npy(path: Path, n: int, block: int):
    import dask
    import dask.array as da

    parts = [
        da.from_delayed(
            dask.delayed(_load_rows)(str(path), lo, min(lo + block, n)),
            shape=(min(lo + block, n) - lo, D),
            dtype=np.float32,
        )
        for lo in range(0, n, block)
    ]
    return da.concatenate(parts, axis=0)


def part_dask(path: Path, n: int, iters: int, block: int) -> dict:
    from distributed import Client, LocalCluster, wait

    result: dict = {"block_rows": block, "n_blocks": -(-n // block)}
    X = np.load(path, mmap_mode="r")
    X_mem = np.array(X)
    _, _, lap = fit_timed(X_mem, iters, n_jobs=1)
    result["single_1thread_iter_s"] = statistics.median(lap)
    _, _, lap = fit_timed(X_mem, iters, n_jobs=2)
    result["single_2threads_iter_s"] = statistics.median(lap)
    del X_mem
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                memory_limit=0,
            ) as cluster,
            Client(cluster),
        ):
            dX = dask_array_from_npy(path, n, block).persist()
            wait(dX)
            _, _, lap = fit_timed(dX, iters)
            result[f"dask_{workers}w_iter_s"] = statistics.median(lap)
    result["overhead_1w"] = result["dask_1w_iter_s"] / result["single_1thread_iter_s"]
    result["overhead_2w_vs_1thread"] = (
        result["dask_2w_iter_s"] / result["single_1thread_iter_s"]
    )
    result["overhead_2w_vs_2threads"] = (
        result["dask_2w_iter_s"] / result["single_2threads_iter_s"]
    )
    result["scaling_1_to_2"] = result["dask_1w_iter_s"] / result["dask_2w_iter_s"]
    return result


# ---------------------------------------------------------------------- online
def part_online(
    path: Path,
    rows: int,
    batch_size: int,
    gap: float,
    init_params: str,
    learning_decay: float = 0.6,
    learning_offset: float = 1.0,
) -> dict:
    from gaussmix import GaussianMixture

    X = np.array(np.load(path, mmap_mode="r")[:rows])
    rng = np.random.RandomState(0)
    sample = X[rng.choice(rows, 100_000, replace=False)]
    start = GaussianMixture(K, max_iter=0, random_state=0, init_params=init_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(sample)
    init = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The optimum, from the same start, run to a tight tolerance.
        best = GaussianMixture(K, tol=1e-7, max_iter=500, **init).fit(X)
    target = best.score(X) - gap

    # Batch EM: the lower bound of iteration n is the log-likelihood of the
    # parameters after n-1 M-steps; time until the fitted parameters reach it.
    batch_t = []
    gm = GaussianMixture(K, tol=0.0, max_iter=1, warm_start=True, **init)
    elapsed = 0.0
    reached_batch = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for it in range(1, 200):
            t0 = time.perf_counter()
            gm.fit(X)
            elapsed += time.perf_counter() - t0
            score = gm.score(X)  # not timed
            batch_t.append((elapsed, score))
            if score >= target:
                reached_batch = (elapsed, it)
                break
    # Online EM: partial_fit on shuffled mini-batches; checks every 1/8 epoch.
    online = GaussianMixture(
        K, learning_decay=learning_decay, learning_offset=learning_offset, **init
    )
    elapsed = 0.0
    reached_online = None
    check_every = max(1, rows // batch_size // 8)
    order = rng.permutation(rows)
    seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _epoch in range(20):
            for b, lo in enumerate(range(0, rows, batch_size)):
                idx = np.sort(order[lo : lo + batch_size])
                t0 = time.perf_counter()
                online.partial_fit(X[idx])
                elapsed += time.perf_counter() - t0
                seen += idx.size
                if (b + 1) % check_every == 0 and online.score(X) >= target:
                    reached_online = (elapsed, seen / rows)
                    break
            if reached_online:
                break
            order = rng.permutation(rows)
    online_final = online.score(X)
    return {
        "online_final_gap": best.score(X) - online_final,
        "init": init_params,
        "learning_decay": learning_decay,
        "learning_offset": learning_offset,
        "rows": rows,
        "batch_size": batch_size,
        "gap": gap,
        "best_loglik": best.score(X),
        "batch_seconds": reached_batch[0] if reached_batch else None,
        "batch_iterations": reached_batch[1] if reached_batch else None,
        "online_seconds": reached_online[0] if reached_online else None,
        "online_epochs": reached_online[1] if reached_online else None,
        "speedup": (
            reached_batch[0] / reached_online[0]
            if reached_batch and reached_online
            else None
        ),
    }


def _seconds(value) -> str:
    return "not reached" if value is None else f"{value:.1f} s"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000_000, help="rows (default 50M)")
    parser.add_argument("--iters", type=int, default=5, help="EM iterations timed")
    parser.add_argument("--cap", default="1G", help="memory cap of the ooc child")
    parser.add_argument(
        "--cap-method",
        choices=["auto", "cgroup", "prlimit"],
        default="auto",
        help="a memory cgroup (root) or prlimit --as (auto: cgroup when allowed)",
    )
    parser.add_argument("--dir", default=None, help="where the .npy goes (default tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    parser.add_argument(
        "--parts", nargs="+", default=["ooc", "dask", "online"], help="what to run"
    )
    parser.add_argument("--dask-block", type=int, default=1_000_000)
    parser.add_argument("--online-rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument(
        "--online-init", nargs="+", default=["kmeans", "random_from_data"]
    )
    parser.add_argument("--learning-decay", type=float, default=0.6)
    parser.add_argument("--learning-offset", type=float, default=1.0)
    parser.add_argument("--child-ooc", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ooc:
        child_ooc(args.child_ooc, args.iters)
        return
    folder = Path(args.dir or tempfile.mkdtemp(prefix="gaussmix-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mixture_{args.n}x{D}_f32.npy"
    if not path.exists():
        t0 = time.perf_counter()
        write_data(path, args.n)
        print(
            f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB) in "
            f"{time.perf_counter() - t0:.0f} s"
        )
    print(f"N={args.n:,} D={D} K={K} float32; cores: {len(os.sched_getaffinity(0))}")
    try:
        if "ooc" in args.parts:
            r = part_ooc(path, args.n, args.iters, args.cap, args.cap_method)
            group = (
                f", cgroup peak incl. page cache {r['cgroup_peak_mb']:.0f} MB"
                if r["cgroup_peak_mb"] is not None
                else ""
            )
            print(
                f"[ooc] cap {r['cap']} ({r['cap_method']}) for {r['data_mb']:.0f} MB "
                f"of data: peak RSS {r['peak_rss_mb']:.0f} MB{group}; "
                f"first pass {r['summary_s']:.1f} s; "
                f"{r['iter_s']:.2f} s/iter ({r['ns_per_row_ooc']:.1f} ns/row); "
                f"in memory on {r['inmem_rows']:,} rows {r['inmem_iter_s']:.3f} s/iter "
                f"({r['ns_per_row_inmem']:.1f} ns/row); per-row ratio "
                f"ooc/in-memory {r['per_row_ratio']:.2f}"
            )
        if "dask" in args.parts:
            r = part_dask(path, args.n, args.iters, args.dask_block)
            print(
                f"[dask] {r['n_blocks']} blocks of {r['block_rows']:,} rows; single "
                f"process {r['single_1thread_iter_s']:.2f} s/iter (1 thread), "
                f"{r['single_2threads_iter_s']:.2f} (2 threads); dask 1 worker "
                f"{r['dask_1w_iter_s']:.2f}, 2 workers {r['dask_2w_iter_s']:.2f} s/iter; "
                f"overhead 1w/1thread {r['overhead_1w']:.2f}, 2w/2threads "
                f"{r['overhead_2w_vs_2threads']:.2f}; scaling 1->2 workers "
                f"{r['scaling_1_to_2']:.2f}x"
            )
        if "online" in args.parts:
            rows = min(args.online_rows, args.n)
            for init in args.online_init:
                r = part_online(
                    path,
                    rows,
                    args.batch_size,
                    1e-3,
                    init,
                    args.learning_decay,
                    args.learning_offset,
                )
                print(f"[online] {json.dumps(r)}")
                print(
                    f"[online] {rows:,} rows, start {init} on a 100k sample; within "
                    f"1e-3 of the batch optimum {r['best_loglik']:.4f}: batch EM "
                    f"{_seconds(r['batch_seconds'])} ({r['batch_iterations']} "
                    f"iterations), online EM {_seconds(r['online_seconds'])} "
                    f"({r['online_epochs']} epochs, batches of {r['batch_size']:,}; "
                    f"final gap {r['online_final_gap']:.1e}); speed-up "
                    + (f"{r['speedup']:.1f}x" if r["speedup"] else "n/a")
                )
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
