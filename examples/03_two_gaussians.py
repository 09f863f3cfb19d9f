"""Two 2-D Gaussians: does EM recover the truth, and what does the density look like?

1000 points from N((1, 2), [[1, 0], [0, 0.5]]) and 1000 from N((-1, -1), I).
A 2-component full-covariance mixture is fitted and its means, covariances and
weights printed next to the truth. "Close enough" is judged against the
sampling error of the estimates from this many points: the standard error of a
mean is ``sqrt(var / n)``, of a covariance entry ``sqrt((s_ii s_jj + s_ij**2) /
n)`` and of a weight ``sqrt(w (1 - w) / N)``; every estimate must be within
four standard errors (the overlap of the two clusters adds a little to the pure
sampling error).

The figure shows the fitted density ``exp(score_samples)`` as a 3-D surface
and the log-density as filled contours with the data on top.

Run::

    python examples/03_two_gaussians.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from gaussmix import GaussianMixture
from gaussmix.plotting import plot_density_surface, plot_log_density

DPI = 90
TRUE_MEANS = np.array([[1.0, 2.0], [-1.0, -1.0]])
TRUE_COVARIANCES = np.array([[[1.0, 0.0], [0.0, 0.5]], [[1.0, 0.0], [0.0, 1.0]]])
TRUE_WEIGHTS = np.array([0.5, 0.5])
#: Allowed distance from the truth, in standard errors.
N_SE = 4.0


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


def standard_errors(n_per_component: int) -> dict[str, np.ndarray]:
    """Standard errors of the mean, covariance and weight estimates of each component."""
    n = n_per_component
    var = np.diagonal(TRUE_COVARIANCES, axis1=1, axis2=2)
    mean_se = np.sqrt(var / n)
    cov_se = np.sqrt((var[:, :, None] * var[:, None, :] + TRUE_COVARIANCES**2) / n)
    weight_se = np.sqrt(TRUE_WEIGHTS * (1 - TRUE_WEIGHTS) / (2 * n))
    return {"means": mean_se, "covariances": cov_se, "weights": weight_se}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n = 200 if args.small else 1000
    rng = np.random.default_rng(0)
    X = np.vstack(
        [
            rng.multivariate_normal(TRUE_MEANS[k], TRUE_COVARIANCES[k], size=n)
            for k in range(2)
        ]
    )
    gm = GaussianMixture(n_components=2, covariance_type="full", random_state=0).fit(X)
    # Match the fitted components to the true ones by their means.
    order = [int(np.argmin(np.linalg.norm(gm.means_ - m, axis=1))) for m in TRUE_MEANS]
    if sorted(order) != [0, 1]:
        raise RuntimeError(f"both true means matched the same component: {order}")
    means = gm.means_[order]
    covariances = gm.covariances_[order]
    weights = gm.weights_[order]
    se = standard_errors(n)
    errors = {
        "means": np.abs(means - TRUE_MEANS) / se["means"],
        "covariances": np.abs(covariances - TRUE_COVARIANCES) / se["covariances"],
        "weights": np.abs(weights - TRUE_WEIGHTS) / se["weights"],
    }
    print(f"{n} points from each of two Gaussians; 2-component full mixture")
    print(f"converged={gm.converged_} after {gm.n_iter_} EM iterations")
    print()
    print("quantity              truth   fitted  error in standard errors")
    for k in range(2):
        rows = [
            (f"weight {k}", TRUE_WEIGHTS[k], weights[k], errors["weights"][k]),
            (f"mean {k} x", TRUE_MEANS[k, 0], means[k, 0], errors["means"][k, 0]),
            (f"mean {k} y", TRUE_MEANS[k, 1], means[k, 1], errors["means"][k, 1]),
        ]
        for (i, j), name in zip(
            [(0, 0), (0, 1), (1, 1)], ["var x", "cov xy", "var y"], strict=True
        ):
            rows.append(
                (
                    f"cov {k} {name}",
                    TRUE_COVARIANCES[k, i, j],
                    covariances[k, i, j],
                    errors["covariances"][k, i, j],
                )
            )
        for label, truth, fitted, err in rows:
            print(f"{label:18} {truth:8.3f} {fitted:8.3f}  {err:5.2f}")
    worst = max(float(e.max()) for e in errors.values())
    ok = worst <= N_SE
    print()
    print(
        f"largest error {worst:.2f} standard errors: "
        + ("within" if ok else "OUTSIDE")
        + f" the {N_SE:g}-standard-error tolerance"
    )

    fig = plt.figure(figsize=(12, 5), layout="constrained")
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    plot_density_surface(gm, ax=ax3d)
    ax3d.set_title("fitted density")
    ax2 = fig.add_subplot(1, 2, 2)
    plot_log_density(gm, X, ax=ax2)
    ax2.set_title("fitted log-density and the data")
    figures = [save(fig, out, "03_two_gaussians_density.png")]

    return {
        "n_per_component": n,
        "means": means,
        "covariances": covariances,
        "weights": weights,
        "errors_in_standard_errors": errors,
        "largest_error": worst,
        "within_tolerance": ok,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
