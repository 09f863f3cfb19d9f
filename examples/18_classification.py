"""Classification with Gaussian mixtures: LDA, EDDA and MclustDA on two moons of blobs.

Three classes in 2-D. Class 0 is two separate blobs (left and right), class 1 one
elongated blob between them, class 2 a small tight blob above. Three classifiers
from ``gaussmix.MixtureClassifier``, cross-validated (5 folds):

* LDA: EDDA with ``covariance_types="EEE"``, one covariance for all classes, so
  straight boundaries;
* EDDA: one Gaussian per class, the covariance model chosen by BIC among mclust's 14;
* MclustDA: a mixture per class, K and the model chosen by BIC per class; class 0
  gets its two components.

The figure shows each one's decision regions and the training points; the
printed table their cross-validated accuracy and what BIC chose. A last part
hides 90% of iris's labels (three draws) and fits EDDA with the unlabelled rows
(mclust's MclustSSC, ``unlabelled_label=-1``), against EDDA on the labelled
10% alone: about 15 labelled flowers choose and fit the classes poorly, the
unlabelled ones fix that.

Run::

    python examples/18_classification.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_val_score

from gaussmix import MixtureClassifier

DPI = 90
COLOURS = ("#1b9e77", "#d95f02", "#7570b3")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    return parser.parse_args(argv)


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows per blob: class 0 two blobs, class 1 a long one, class 2 a tight one."""
    rng = np.random.default_rng(seed)
    left = rng.normal([-4.0, 0.0], 0.8, size=(n, 2))
    right = rng.normal([4.0, 0.0], 0.8, size=(n, 2))
    stretch = np.array([[2.0, 0.0], [0.0, 0.4]])
    middle = rng.normal(size=(n, 2)) @ stretch + [0.0, -0.5]
    top = rng.normal([0.0, 3.0], 0.4, size=(n // 2, 2))
    X = np.vstack([left, right, middle, top])
    y = np.concatenate([np.zeros(2 * n), np.ones(n), np.full(n // 2, 2)]).astype(int)
    return X, y


def regions(ax: Any, clf: MixtureClassifier, X: np.ndarray, y: np.ndarray) -> None:
    lo, hi = X.min(axis=0) - 1.0, X.max(axis=0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    labels = clf.predict(grid).reshape(gx.shape)
    cmap = matplotlib.colors.ListedColormap(COLOURS)
    ax.contourf(gx, gy, labels, levels=[-0.5, 0.5, 1.5, 2.5], cmap=cmap, alpha=0.25)
    ax.contour(gx, gy, labels, levels=[0.5, 1.5], colors="k", linewidths=0.8)
    for c in range(3):
        ax.scatter(*X[y == c].T, s=6, color=COLOURS[c], label=f"class {c}")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])


def describe(clf: MixtureClassifier) -> str:
    if isinstance(clf.covariance_type_, str):
        return clf.covariance_type_
    return ", ".join(
        f"{c}: {m.covariance_type}x{m.n_components}" for c, m in clf.models_.items()
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 60 if args.small else 200
    X, y = make_data(n)
    classifiers = {
        "LDA (EDDA, EEE)": MixtureClassifier(covariance_types="EEE"),
        "EDDA": MixtureClassifier(),
        "MclustDA": MixtureClassifier("MclustDA"),
    }
    result: dict[str, Any] = {"accuracy": {}, "model": {}}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), sharey=True)
    print(f"{'classifier':<18} {'5-fold accuracy':>16}  chosen by BIC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ax, (name, clf) in zip(axes, classifiers.items(), strict=True):
            accuracy = float(cross_val_score(clf, X, y, cv=5).mean())
            clf.fit(X, y)
            result["accuracy"][name] = accuracy
            result["model"][name] = describe(clf)
            print(f"{name:<18} {accuracy:>16.3f}  {describe(clf)}")
            regions(ax, clf, X, y)
            ax.set_title(f"{name}: accuracy {accuracy:.3f}")
    result["mclustda_components"] = {
        int(c): int(m.n_components) for c, m in classifiers["MclustDA"].models_.items()
    }
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = out / "18_classification_regions.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    result["figures"] = [str(path)]

    # Semi-supervised: iris with 10% of the labels, the rest unlabelled.
    Xi, yi = load_iris(return_X_y=True)
    alone, together = [], []
    for seed in (1, 2, 3):
        hidden = np.random.default_rng(seed).random(len(yi)) < 0.9
        partial = yi.copy()
        partial[hidden] = -1
        labelled_only = MixtureClassifier().fit(Xi[~hidden], yi[~hidden])
        with_unlabelled = MixtureClassifier(unlabelled_label=-1).fit(Xi, partial)
        alone.append(float(labelled_only.score(Xi[hidden], yi[hidden])))
        together.append(float(with_unlabelled.score(Xi[hidden], yi[hidden])))
    result["semi_supervised"] = {"labelled_only": alone, "with_unlabelled": together}
    print(
        "iris, accuracy on the hidden 90% of labels (3 draws): labelled rows only "
        + ", ".join(f"{a:.3f}" for a in alone)
        + "; with the unlabelled rows (MclustSSC) "
        + ", ".join(f"{a:.3f}" for a in together)
    )
    return result


if __name__ == "__main__":
    main()
