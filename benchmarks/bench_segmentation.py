"""Benchmark: image segmentation by a Gaussian mixture against k-means.

Run: ``.venv/bin/python benchmarks/bench_segmentation.py [--size H W] [--repeats R]
[--quick]``.

Generated images with known regions, each a smooth colour gradient plus noise:

* ``spread``: a flat background, a noisy disc of almost the same mean colour
  (noise sd 0.12 against 0.015) and a third region of another colour (sd 0.03):
  the regions differ in spread, not only in mean;
* ``mean``: three regions of different mean colour and the same noise (sd 0.03).

Each image is segmented into 3 segments by
:func:`gaussmix.apps.segmentation.segment_image` (full covariances, fitted on
20,000 random pixels, every pixel labelled) and by :class:`sklearn.cluster.KMeans`
with its defaults on the same features and the same subsample, then scored by
pixel accuracy after the best one-to-one matching of segments to regions
(Hungarian matching, :func:`scipy.optimize.linear_sum_assignment`). Features are
CIELAB colour, with and without the scaled pixel position (position_weight 0.5).

Prints, per case, the median and minimum accuracy over ``--repeats`` random
images and the median fit+label times, all measured in one process (the timings
on a shared machine are noisy; compare the ratio).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from gaussmix.apps.segmentation import image_features, segment_image

MAX_PIXELS = 20_000


def make_image(h: int, w: int, kind: str, seed: int) -> tuple[Any, Any]:
    """An (h, w, 3) float image in [0, 1] and its true region of every pixel."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:h, 0:w] / max(h, w)
    truth = np.zeros((h, w), dtype=int)
    truth[(r - 0.35) ** 2 + (c - 0.35) ** 2 < 0.2**2] = 1
    truth[(r > 0.45) & (c > 0.7)] = 2
    if kind == "spread":
        base = np.array([[0.55, 0.6, 0.5], [0.5, 0.55, 0.45], [0.35, 0.45, 0.6]])
        sd = np.array([0.015, 0.12, 0.03])
    else:
        base = np.array([[0.55, 0.6, 0.5], [0.75, 0.45, 0.35], [0.35, 0.45, 0.6]])
        sd = np.array([0.03, 0.03, 0.03])
    image = base[truth] + 0.1 * np.stack([r, c, r * c], axis=-1)
    image += rng.normal(size=image.shape) * sd[truth][..., None]
    return np.clip(image, 0.0, 1.0), truth


def pixel_accuracy(truth: Any, labels: Any, k: int) -> float:
    counts = np.zeros((k, k))
    np.add.at(counts, (truth.ravel(), labels.ravel()), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / truth.size)


def kmeans_labels(image: Any, features: tuple[str, ...], seed: int) -> Any:
    X = image_features(image, features, "lab", 0.5)
    rng = np.random.RandomState(seed)
    fit_rows = rng.choice(len(X), size=min(MAX_PIXELS, len(X)), replace=False)
    km = KMeans(n_clusters=3, random_state=seed).fit(X[fit_rows])
    return km.predict(X).reshape(image.shape[:2])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--quick", action="store_true", help="40 x 60, 1 repeat (tests)"
    )
    args = parser.parse_args(argv)
    h, w = (40, 60) if args.quick else args.size
    repeats = 1 if args.quick else args.repeats
    print(
        f"images {h} x {w}, 3 regions, {repeats} random images per case; "
        f"fit on {min(MAX_PIXELS, h * w)} pixels"
    )
    print(
        f"{'regions differ in':18} {'features':15} {'GMM acc med/min':>16} "
        f"{'k-means acc med/min':>20} {'GMM s':>7} {'k-means s':>9} {'ratio':>6}"
    )
    table: dict[str, Any] = {}
    for kind in ("spread", "mean"):
        for features in (("color",), ("color", "position")):
            acc_g, acc_k, t_g, t_k = [], [], [], []
            for seed in range(repeats):
                image, truth = make_image(h, w, kind, seed)
                t0 = time.perf_counter()
                labels, _ = segment_image(
                    image,
                    3,
                    features=features,
                    max_pixels=MAX_PIXELS,
                    random_state=seed,
                )
                t_g.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                km = kmeans_labels(image, features, seed)
                t_k.append(time.perf_counter() - t0)
                acc_g.append(pixel_accuracy(truth, labels, 3))
                acc_k.append(pixel_accuracy(truth, km, 3))
            name = "+".join(features)
            tg, tk = statistics.median(t_g), statistics.median(t_k)
            print(
                f"{kind + (' (and mean)' if kind == 'spread' else ' only'):18} "
                f"{name:15} {statistics.median(acc_g):8.3f}/{min(acc_g):.3f} "
                f"{statistics.median(acc_k):12.3f}/{min(acc_k):.3f} "
                f"{tg:7.2f} {tk:9.2f} {tk / tg:6.2f}"
            )
            table[f"{kind}/{name}"] = {
                "gmm": acc_g,
                "kmeans": acc_k,
                "seconds_gmm": tg,
                "seconds_kmeans": tk,
            }
    print("ratio = k-means time / GMM time (above 1: the mixture is faster)")
    return table


if __name__ == "__main__":
    main()
