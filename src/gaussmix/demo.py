"""The demo of ``make demo``: the four-blob example, printed and plotted.

Run as ``python -m gaussmix.demo [--out PATH]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from gaussmix.mixture import GaussianMixture

__all__ = ["main", "run_demo"]

NEW_POINTS = np.array([[0.0, 0.0], [4.0, 4.0], [-2.0, 2.0]])


def _fmt(values: Sequence[float]) -> str:
    return "  ".join(f"{v:8.3f}" for v in values)


def run_demo(
    out: str = "out/demo.png", *, stream: TextIO | None = None
) -> GaussianMixture:
    """Fit the four blobs, print the model, predict three points, write the plot.

    Parameters
    ----------
    out : str, default="out/demo.png"
        Where the PNG goes (its folder is created).
    stream : file-like, default=sys.stdout
        Where the text goes.

    Returns
    -------
    GaussianMixture
        The fitted model.
    """
    from sklearn.datasets import make_blobs

    w = stream if stream is not None else sys.stdout

    def say(line: str = "") -> None:
        print(line, file=w)

    X, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    gm = GaussianMixture(n_components=4, random_state=0).fit(X)
    say(
        "gaussmix demo: 4-component full-covariance mixture on make_blobs(400, centers=4,"
    )
    say("cluster_std=0.60, random_state=0)")
    say(
        f"converged: {gm.converged_} after {gm.n_iter_} iterations; "
        f"mean log-likelihood {gm.lower_bound_:.4f}; BIC {gm.bic(X):.1f}"
    )
    say()
    say(
        f"{'component':>9}  {'weight':>7}  {'mean x':>8}  {'mean y':>8}  "
        f"{'var x':>8}  {'cov xy':>8}  {'var y':>8}"
    )
    for k in range(gm.n_components):
        c = gm.covariances_[k]
        say(
            f"{k:>9}  {gm.weights_[k]:7.3f}  {_fmt(gm.means_[k])}  "
            f"{_fmt([c[0, 0], c[0, 1], c[1, 1]])}"
        )
    say()
    labels = gm.predict(NEW_POINTS)
    proba = gm.predict_proba(NEW_POINTS)
    say("prediction for new points:")
    for p, lab, pr in zip(NEW_POINTS, labels, proba, strict=True):
        say(f"  {p.tolist()!s:>12} -> component {lab} (probability {pr[lab]:.3f})")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from gaussmix.plotting import plot_clusters
    except ImportError:
        say("\n(no plot: matplotlib is missing; pip install 'gaussmix[plot]')")
        return gm
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    plot_clusters(gm, X, ax=ax)
    cmap = plt.get_cmap("tab10")
    ax.scatter(
        NEW_POINTS[:, 0],
        NEW_POINTS[:, 1],
        marker="*",
        s=260,
        c=[cmap(k) for k in labels],
        edgecolors="k",
        linewidths=1.2,
        label="new points (colour = predicted component)",
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="small", ncol=2)
    folder = os.path.dirname(out)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    say(f"\nplot written to {os.path.abspath(out)}")
    return gm


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m gaussmix.demo", description=__doc__
    )
    parser.add_argument("--out", default="out/demo.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    run_demo(args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
