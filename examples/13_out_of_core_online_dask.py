"""Past memory and past one process: out-of-core, online and Dask fits of one model.

A stream of points from three moving Gaussians, three ways:

1. **Out of core.** Two million rows are written to a ``.npy`` file;
   ``GaussianMixture(3).fit("data.npy")`` reads it in 16 MiB blocks, one pass per EM
   iteration, and starts from k-means on a 100,000-row reservoir sample. From the
   same initial parameters it gives the in-memory fit to 1e-10; the script prints
   the difference and the peak memory traced during the fit.
2. **Online.** The same model fitted by ``partial_fit`` on mini-batches while the
   source drifts: the fitted means follow the moving centres (left figure), and on
   stationary data the stepwise-EM solution reaches the batch one (right figure:
   mean log-likelihood against rows seen).
3. **Dask** (when ``dask[distributed]`` is installed): the file as a dask array on
   a two-process ``LocalCluster``, each worker reading its own blocks; the fit equals
   the in-memory one and ``predict`` returns a lazy dask array.

Run::

    python examples/13_out_of_core_online_dask.py [--out DIR] [--small] [--no-dask]
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from gaussmix import GaussianMixture

DPI = 90
CENTRES = np.array([[0.0, 0.0], [5.0, 1.0], [1.5, 5.5]])
SCALES = np.array([1.0, 1.6, 0.6])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask part")
    return parser.parse_args(argv)


def draw(n: int, rng: np.random.RandomState, centres: np.ndarray = CENTRES):
    labels = rng.randint(3, size=n)
    return centres[labels] + rng.normal(size=(n, 2)) * SCALES[labels, None]


def write_npy(path: Path, n: int, block: int = 500_000) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 2))
    rng = np.random.RandomState(0)
    for lo in range(0, n, block):
        out[lo : lo + block] = draw(min(block, n - lo), rng)
    out.flush()
    del out


def largest_gap(a: GaussianMixture, b: GaussianMixture) -> float:
    return max(
        float(
            np.max(
                np.abs(getattr(a, k) - getattr(b, k)) / np.max(np.abs(getattr(b, k)))
            )
        )
        for k in ("weights_", "means_", "covariances_")
    )


def out_of_core(folder: Path, n: int) -> dict[str, Any]:
    path = folder / "stream.npy"
    write_npy(path, n)
    tracemalloc.start()
    gm = GaussianMixture(3, random_state=0).fit(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = {
        "weights_init": gm.weights_ * 0 + 1 / 3,
        "means_init": gm.means_ + 0.3,
        "precisions_init": gm.precisions_,
    }
    from_file = GaussianMixture(3, tol=1e-8, **start).fit(path)
    in_memory = GaussianMixture(3, tol=1e-8, **start).fit(np.load(path))
    gap = largest_gap(from_file, in_memory)
    print(
        f"out of core: {n:,} rows ({n * 16 / 2**20:.0f} MB) fitted from {path.name} "
        f"with {peak / 2**20:.0f} MB of peak traced memory; from the same start the "
        f"file and in-memory fits differ by {gap:.1e} (relative)"
    )
    return {
        "path": path,
        "rows": n,
        "peak_mb": peak / 2**20,
        "data_mb": n * 16 / 2**20,
        "ooc_vs_memory": gap,
        "model": in_memory,
        "start": start,
    }


def online(n_batches: int, batch: int) -> dict[str, Any]:
    rng = np.random.RandomState(1)
    drift = np.array([3.0, -2.0])
    gm = GaussianMixture(3, random_state=0, learning_decay=0.51, learning_offset=1.0)
    tracks = []
    for t in range(n_batches):
        centres = CENTRES + drift * t / (n_batches - 1)
        gm.partial_fit(draw(batch, rng, centres))
        order = [int(np.argmin(((gm.means_ - c) ** 2).sum(1))) for c in centres]
        tracks.append(gm.means_[order].copy())
    final_gap = float(np.max(np.abs(tracks[-1] - (CENTRES + drift))))
    # Stationary: stepwise EM against batch EM on the same rows.
    X = draw(n_batches * batch, np.random.RandomState(2))
    batch_fit = GaussianMixture(3, random_state=0, tol=1e-8).fit(X)
    stream = GaussianMixture(3, random_state=0)
    curve = []
    for lo in range(0, X.shape[0], batch):
        stream.partial_fit(X[lo : lo + batch])
        curve.append((lo + batch, stream.score(X)))
    ll_gap = batch_fit.score(X) - stream.score(X)
    print(
        f"online: after {n_batches} batches of {batch} the means are within "
        f"{final_gap:.2f} of the moved centres; on stationary data one pass of "
        f"partial_fit ends {ll_gap:.1e} nats/sample below batch EM"
    )
    return {
        "tracks": np.array(tracks),
        "drift": drift,
        "final_gap": final_gap,
        "curve": np.array(curve),
        "batch_loglik": batch_fit.score(X),
        "online_gap": ll_gap,
    }


def with_dask(ooc: dict[str, Any]) -> dict[str, Any] | None:
    try:
        import dask
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask: not installed (pip install 'gaussmix[dask]'), skipped")
        return None
    path, n = ooc["path"], ooc["rows"]
    block = max(1, n // 8)

    def rows(lo: int, hi: int) -> np.ndarray:
        return np.array(np.load(path, mmap_mode="r")[lo:hi])

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster),
    ):
        parts = [
            da.from_delayed(
                dask.delayed(rows)(lo, min(lo + block, n)),
                shape=(min(lo + block, n) - lo, 2),
                dtype=np.float64,
            )
            for lo in range(0, n, block)
        ]
        X = da.concatenate(parts).persist()
        gm = GaussianMixture(3, tol=1e-8, **ooc["start"]).fit(X)
        labels = gm.predict(X)
        lazy = type(labels).__module__.startswith("dask")
        counts = np.bincount(labels.compute(), minlength=3)
    gap = largest_gap(gm, ooc["model"])
    print(
        f"dask: 2 workers, {len(parts)} blocks; the fit differs from the in-memory "
        f"one by {gap:.1e}; predict is lazy: {lazy}; label counts {counts.tolist()}"
    )
    return {"dask_vs_memory": gap, "lazy_predict": lazy}


def figure(on: dict[str, Any], out: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    tracks = on["tracks"]
    for k in range(3):
        left.plot(tracks[:, k, 0], tracks[:, k, 1], lw=1.5, label=f"fitted mean {k}")
        left.plot(*CENTRES[k], "k+", ms=10)
        left.plot(*(CENTRES[k] + on["drift"]), "kx", ms=10)
    left.set_title("partial_fit follows drifting centres (+ start, x end)")
    left.set_xlabel("x1")
    left.set_ylabel("x2")
    left.legend(fontsize=8)
    curve = on["curve"]
    right.plot(curve[:, 0], curve[:, 1], label="online (partial_fit)")
    right.axhline(on["batch_loglik"], color="k", ls="--", label="batch EM optimum")
    right.set_xscale("log")
    right.set_xlabel("rows seen")
    right.set_ylabel("mean log-likelihood (all rows)")
    right.set_title("stationary data: stepwise EM reaches batch EM")
    right.legend(fontsize=8)
    fig.tight_layout()
    path = out / "13_online_drift.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 40_000 if args.small else 2_000_000
    with tempfile.TemporaryDirectory() as folder:
        ooc = out_of_core(Path(folder), n)
        on = online(60 if args.small else 300, 300 if args.small else 1000)
        dk = None if args.no_dask else with_dask(ooc)
    result = {
        "rows": n,
        "peak_mb": ooc["peak_mb"],
        "data_mb": ooc["data_mb"],
        "ooc_vs_memory": ooc["ooc_vs_memory"],
        "final_gap": on["final_gap"],
        "online_gap": on["online_gap"],
        "dask": dk,
        "figures": [figure(on, out)],
    }
    return result


if __name__ == "__main__":
    main()
