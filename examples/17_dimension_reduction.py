"""Seeing a mixture's structure in two dimensions: ``MixtureDR`` (mclust's ``MclustDR``).

A fitted mixture in four or thirteen dimensions cannot be looked at directly.
``MixtureDR`` finds the few directions along which its clusters (or classes)
differ in location (Scrucca 2010, mclust's ``MclustDR``) and projects the data
on them. Two cases:

1. **Clustering, iris** (150 x 4). A three-component VEV mixture from mclust's
   hierarchical start. Three components give at most two directions with a
   non-zero eigenvalue; the first carries 96% of the eigenvalues' sum. The figure shows
   the data on the two directions, coloured by cluster, over the **decision
   regions of the model restricted to the plane** (each Gaussian replaced by its
   exact projection). The clusters are compared with the species (adjusted Rand
   index).
2. **Classification, wine** (178 x 13, three cultivars). One Gaussian per class
   (``VVV``: quadratic discriminant analysis, EDDA with VVV in mclust's terms), held
   in a small classifier with ``classes_``, ``models_`` and ``class_priors_``,
   which is all ``MixtureDR`` reads (``gaussmix.MixtureClassifier`` provides the
   same attributes). Thirteen features become two directions; beside them, the
   first two principal components of the same data for contrast. The script prints
   the accuracy of the classifier in all thirteen dimensions and that of the
   projected model on the plane alone.

The directions are not orthogonal and have unit length; each one's sign makes its
largest entry positive.

Run::

    python examples/17_dimension_reduction.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.dr import MixtureDR

DPI = 90


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument(
        "--small", action="store_true", help="lower resolution (tests; data are small)"
    )
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str, dpi: int) -> str:
    path = out / name
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


class GaussianPerClass:
    """One fitted ``GaussianMixture`` per class, priors from the training shares.

    The attributes ``MixtureDR`` reads (``classes_``, ``models_``,
    ``class_priors_``) and ``predict`` (Bayes' rule).
    """

    def __init__(self, covariance_type: str = "VVV") -> None:
        self.covariance_type = covariance_type

    def fit(self, X: np.ndarray, y: np.ndarray) -> GaussianPerClass:
        self.classes_ = np.unique(y)
        self.models_ = {
            c: GaussianMixture(1, covariance_type=self.covariance_type).fit(X[y == c])
            for c in self.classes_
        }
        self.class_priors_ = np.array([np.mean(y == c) for c in self.classes_])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        joint = np.column_stack(
            [
                np.log(p) + self.models_[c].score_samples(X)
                for c, p in zip(self.classes_, self.class_priors_, strict=True)
            ]
        )
        return np.asarray(self.classes_[joint.argmax(axis=1)])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dpi = 60 if args.small else DPI
    figures = []

    # 1. Clustering: iris.
    iris = load_iris()
    X = iris.data
    gm = GaussianMixture(3, covariance_type="VEV", init_params="hc").fit(X)
    dr = MixtureDR(gm).fit(X)
    labels = gm.predict(X)
    ari = adjusted_rand_score(iris.target, labels)
    share = dr.eigenvalues_[0] / dr.eigenvalues_.sum()
    print("iris, 3-component VEV mixture")
    print(f"  eigenvalues: {np.array2string(dr.eigenvalues_, precision=4)}")
    print(f"  directions kept: {dr.n_directions_}; the first carries {share:.1%}")
    print("  directions (columns):")
    for name, row in zip(iris.feature_names, dr.directions_, strict=True):
        print(f"    {name:18s} {row[0]:7.3f} {row[1]:7.3f}")
    print(f"  clusters against species: adjusted Rand index {ari:.3f}")
    fig, ax = plt.subplots(figsize=(6.5, 5.0), layout="constrained")
    dr.plot(X, ax=ax)
    ax.set_title("iris: a 3-component VEV mixture on its two directions")
    figures.append(save(fig, out, "17_dimension_reduction_iris.png", dpi))

    # 2. Classification: wine, one Gaussian per class.
    wine = load_wine()
    Xw, yw = wine.data, wine.target
    clf = GaussianPerClass("VVV").fit(Xw, yw)
    drw = MixtureDR(clf).fit(Xw, yw)
    full_accuracy = float(np.mean(clf.predict(Xw) == yw))
    Z = drw.transform(Xw)
    plane = drw.class_log_posterior(Z[:, :2]).argmax(axis=1)
    plane_accuracy = float(np.mean(clf.classes_[plane] == yw))
    share_w = drw.eigenvalues_[0] / drw.eigenvalues_.sum()
    print()
    print("wine, one VVV Gaussian per cultivar (13 features)")
    print(f"  eigenvalues: {np.array2string(drw.eigenvalues_[:4], precision=4)} ...")
    print(f"  directions kept: {drw.n_directions_}; the first carries {share_w:.1%}")
    print(f"  training accuracy, all 13 features: {full_accuracy:.3f}")
    print(
        f"  training accuracy, the projected model on 2 directions: {plane_accuracy:.3f}"
    )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.8), layout="constrained")
    drw.plot(Xw, yw, ax=left)
    left.set_title("wine: MixtureDR, decision regions of the projected model")
    pcs = PCA(2).fit_transform(Xw)
    colors = plt.get_cmap("tab10")
    for k, c in enumerate(clf.classes_):
        rows = yw == c
        right.scatter(pcs[rows, 0], pcs[rows, 1], s=14, color=colors(k), label=str(c))
    right.set_xlabel("principal component 1")
    right.set_ylabel("principal component 2")
    right.set_title("wine: the first two principal components")
    right.legend(fontsize="small")
    figures.append(save(fig, out, "17_dimension_reduction_wine.png", dpi))

    return {
        "iris_eigenvalues": dr.eigenvalues_,
        "iris_directions": dr.directions_,
        "iris_n_directions": dr.n_directions_,
        "iris_first_share": float(share),
        "iris_adjusted_rand_index": float(ari),
        "iris_projection": dr.transform(X),
        "wine_eigenvalues": drw.eigenvalues_,
        "wine_n_directions": drw.n_directions_,
        "wine_first_share": float(share_w),
        "wine_full_accuracy": full_accuracy,
        "wine_plane_accuracy": plane_accuracy,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
