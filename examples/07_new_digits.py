"""New handwritten digits: a mixture as a generative model in 41 dimensions.

scikit-learn's bundled ``load_digits`` (1797 images of 8 x 8 pixels) is
projected by PCA onto the components that keep 99% of the variance (41 of the
64). A full-covariance mixture is fitted there for each K in
``range(50, 160, 10)``; the lowest AIC picks K. The chosen mixture then draws
100 new points, which PCA maps back to pixels: new digits, drawn next to real
ones.

A caution the numbers make plain: with ~1800 images and 861 covariance
parameters per component, these mixtures have more parameters than the data
have numbers, and the log-likelihood keeps rising as components shrink onto a
handful of images each. AIC's minimum (K = 140 here; the classic walkthrough in
the Python Data Science Handbook found about 110 with the scikit-learn of its
day, and today's scikit-learn gives the same AIC values as gaussmix) is a
rough guide, not a sharp answer. The samples still look like digits, which is
what this example is about. They are not copies of the training images: we
print how far each new digit is from its nearest real one (a copy would be at
0), next to the same distance between real digits.

Run::

    python examples/07_new_digits.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import gaussmix
from gaussmix.plotting import plot_model_selection

DPI = 90
N_NEW = 100


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def draw_digits(ax: Any, images: np.ndarray, title: str) -> None:
    """Tile 100 8x8 images into one 10 x 10 grid image."""
    grid = np.ones((10 * 9 + 1, 10 * 9 + 1)) * np.nan
    for n, image in enumerate(images[:100]):
        r, c = divmod(n, 10)
        grid[1 + 9 * r : 9 + 9 * r, 1 + 9 * c : 9 + 9 * c] = image.reshape(8, 8)
    ax.imshow(grid, cmap="binary", vmin=0, vmax=16, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    data = digits.data
    k_grid = range(50, 160, 10)
    if args.small:
        data = data[:400]
        k_grid = range(4, 13, 4)
    pca = PCA(n_components=0.99, whiten=False, random_state=0)
    Z = pca.fit_transform(data)
    print(
        f"load_digits: {data.shape[0]} images of {data.shape[1]} pixels; PCA keeps "
        f"{Z.shape[1]} components ({pca.explained_variance_ratio_.sum():.1%} of "
        "the variance)"
    )
    best, table = gaussmix.select(
        Z, k_grid, covariance_types="full", criterion="aic", random_state=0
    )
    if best is None:
        raise RuntimeError("every fit failed; see the table's error column")
    ks = np.asarray(table["n_components"])
    aic = np.asarray(table["aic"], dtype=float)
    print(f"{'K':>4}  {'AIC':>10}  converged")
    for k, a, c in zip(ks, aic, np.asarray(table["converged"]), strict=True):
        print(f"{k:4d}  {a:10.1f}  {bool(c)}")
    k_best = int(best.n_components)
    print(f"lowest AIC at K = {k_best}")

    new_z, _ = best.sample(N_NEW, random_state=0)
    new_digits = pca.inverse_transform(new_z)
    real = data[:N_NEW]
    print(
        f"drew {N_NEW} new digits; pixel values from {new_digits.min():.1f} to "
        f"{new_digits.max():.1f} (real digits: 0 to 16)"
    )
    # How close is each new digit to its nearest real one, compared with how close
    # real digits are to each other? (Copies would be at distance ~0.)
    dist_new = np.sqrt(((new_digits[:, None, :] - data[None, :, :]) ** 2).sum(-1))
    nearest_new = dist_new.min(axis=1)
    dist_real = np.sqrt(((real[:, None, :] - data[None, :, :]) ** 2).sum(-1))
    dist_real[np.arange(N_NEW), np.arange(N_NEW)] = np.inf
    nearest_real = dist_real.min(axis=1)
    print(
        "distance to the nearest real digit (median, smallest): "
        f"new digits {np.median(nearest_new):.1f}, {nearest_new.min():.1f}; "
        f"real digits (to another one) {np.median(nearest_real):.1f}, "
        f"{nearest_real.min():.1f}"
    )

    figures = []
    drawn = plot_model_selection(table, criteria="aic")
    drawn["fig"].set_size_inches(6, 4)
    drawn["fig"].suptitle("digits in PCA space: AIC of full-covariance mixtures")
    figures.append(save(drawn["fig"], out, "07_digits_aic.png"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.6), layout="constrained")
    draw_digits(axes[0], real, "100 real digits")
    draw_digits(
        axes[1], new_digits, f"100 new digits from the {k_best}-component mixture"
    )
    figures.append(save(fig, out, "07_digits_new.png"))

    return {
        "n_images": int(data.shape[0]),
        "n_pca_components": int(Z.shape[1]),
        "explained_variance": float(pca.explained_variance_ratio_.sum()),
        "n_components_grid": ks,
        "aic": aic,
        "best_k": k_best,
        "new_digits": new_digits,
        "median_nearest_new": float(np.median(nearest_new)),
        "median_nearest_real": float(np.median(nearest_real)),
        "min_nearest_new": float(nearest_new.min()),
        "figures": figures,
    }


if __name__ == "__main__":
    main()
