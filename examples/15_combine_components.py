"""Merging Gaussian components into clusters: two moons and a blob.

Two interleaved moons (``make_moons(600, noise=0.06, random_state=0)``) and a
round blob of 200 points: three clusters, two of them bananas. BIC asks how
many Gaussians describe the *density* (``gaussmix.select`` over K = 1..9 with
mclust's VVV model), and answers with many more than three: each moon is
strung with several components, so the components are not the clusters
(adjusted Rand index about 0.45 against the truth).

``combine_components`` (Baudry et al. 2010, R mclust's ``clustCombi``) merges
the components step by step, each time the pair of clusters whose union
lowers the entropy of the soft classification the most. Components that share
their points (neighbours along a moon) merge first, at a large drop of
entropy; once the moons are whole, a merge joins clusters that share almost no
points and the entropy hardly drops. The bend of the entropy curve (the
"elbow", mclust's ``clustCombiOptim``) is at three clusters, which are the two
moons and the blob (adjusted Rand index 1).

The figure shows the BIC components with their ellipses, the merged clusters
at the elbow, the entropy against the number of clusters with the two fitted
lines that locate the elbow, and the entropy drop of each merge.

Run::

    python examples/15_combine_components.py [--out DIR] [--small]
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
from sklearn.datasets import make_moons
from sklearn.metrics import adjusted_rand_score

from gaussmix import select
from gaussmix.combine import combine_components
from gaussmix.plotting import plot_clusters

DPI = 90
#: Centre and standard deviation of the blob beside the moons.
BLOB_CENTER = (2.6, 1.4)
BLOB_SD = 0.12


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


def moons_and_blob(n_moons: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two moons of ``n_moons`` points and a blob of a third as many; true labels."""
    X, y = make_moons(n_moons, noise=noise, random_state=0)
    rng = np.random.default_rng(0)
    blob = rng.normal(BLOB_CENTER, BLOB_SD, size=(n_moons // 3, 2))
    return np.vstack([X, blob]), np.concatenate([y, np.full(n_moons // 3, 2)])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_moons, noise = (240, 0.05) if args.small else (600, 0.06)
    X, y = moons_and_blob(n_moons, noise)
    with warnings.catch_warnings():
        # Some large-K fits collapse a component (reported in the table).
        warnings.simplefilter("ignore")
        best, _ = select(X, range(1, 10), ["VVV"], random_state=0)
    assert best is not None
    g = best.n_components
    result = combine_components(best, X)
    elbow = result.elbow()
    ari_components = adjusted_rand_score(y, result.labels[g])
    ari_elbow = adjusted_rand_score(y, result.labels[elbow])

    print(f"{len(X)} points: two moons ({n_moons}) and a blob ({n_moons // 3})")
    print(
        f"BIC chooses {best.covariance_type} with {g} components "
        f"(adjusted Rand index against the truth: {ari_components:.2f})"
    )
    print()
    print("clusters  entropy  merged pair  components in each cluster")
    for k in range(g, 0, -1):
        pair = "" if k == g else str(result.merges[g - k - 1])
        groups = " ".join("{" + ",".join(map(str, c)) + "}" for c in result.clusters(k))
        print(f"{k:8d}  {result.entropy[k]:7.2f}  {pair:>11}  {groups}")
    print()
    print(
        f"elbow of the entropy plot: {elbow} clusters "
        f"(adjusted Rand index against the truth: {ari_elbow:.2f})"
    )

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), layout="constrained")
    drawn = plot_clusters(best, X, ax=axes[0, 0], n_std=(1.0, 2.0))
    axes[0, 0].set_title(f"BIC: {g} Gaussian components")
    labels = result.labels[elbow]
    for k in range(elbow):
        members = labels == k
        axes[0, 1].scatter(
            X[members, 0], X[members, 1], s=10, color=f"C{k}", label=f"cluster {k}"
        )
    axes[0, 1].set_title(f"merged into {elbow} clusters (the elbow)")
    axes[0, 1].set_aspect("equal", adjustable="datalim")
    axes[0, 1].legend(loc="lower left", fontsize="small")
    result.plot_entropy(ax=axes[1, 0])
    result.plot_entropy(ax=axes[1, 1], difference=True)
    figures = [save(fig, out, "15_combine_components.png")]

    return {
        "n_samples": len(X),
        "n_components": g,
        "covariance_type": best.covariance_type,
        "merges": result.merges,
        "entropy": dict(result.entropy),
        "elbow": elbow,
        "clusters_at_elbow": result.clusters(elbow),
        "ari_components": ari_components,
        "ari_elbow": ari_elbow,
        "labels_at_elbow": labels,
        "truth": y,
        "n_ellipses": len(drawn["ellipses"]),
        "figures": figures,
    }


if __name__ == "__main__":
    main()
