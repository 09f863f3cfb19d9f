"""An inverse problem: where the conditional mean is wrong and the conditional density is right.

The forward map ``x = y + 0.3 sin(2 pi y) + noise`` is easy; its inverse, ``y``
given ``x``, has three solutions for ``x`` between about 0.35 and 0.65 (Bishop's
classic example for mixture density networks). Any regressor of the mean
(least squares, and ``GMRegressor.predict``) averages the three branches and
answers a ``y`` where no data lie. The conditional *mixture*
(``GMRegressor.predict_distribution``) keeps the three: its modes sit on the
branches.

The script fits a 12-component ``GMRegressor`` to ``(x, y)``. At 60 values of
``x`` in the three-branch range it counts the modes of the conditional density
and their distance to the true branches (found by root finding on the forward
map). On fresh points in that range it counts how often the true ``y`` lies
within 0.05 of the conditional mean (only when it happens to be on the middle
branch) and within 0.05 of a mode of the conditional density. It also prints
the mean log predictive density of fresh points under the conditional mixture
and under a single Gaussian with the same mean and standard deviation.

Figure: left, the conditional density ``p(y | x)`` as an image, the data, the
true branches and the conditional mean; right, the slice at ``x = 0.62``, just
past the fold, where the noisy data still hold two groups and the conditional
mean falls in the empty gap between them.

Run::

    python examples/21_gmr_inverse_problem.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy import optimize

from gaussmix import GMRegressor

DPI = 90
N_COMPONENTS = 12
NOISE = 0.03
#: Inside the range of x with three solutions y, (0.407, 0.593) (where
#: ``forward`` turns: ``1 + 0.6 pi cos(2 pi y) = 0``), clear of the folds.
MULTI = (0.43, 0.57)
SLICE_X = 0.62
#: A prediction "hits" a value of y within this distance.
HIT = 0.05


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


def forward(y: np.ndarray) -> np.ndarray:
    return np.asarray(y + 0.3 * np.sin(2 * np.pi * y))


def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.uniform(0.0, 1.0, n)
    return (forward(y) + NOISE * rng.standard_normal(n))[:, None], y


def branches(x: float) -> list[float]:
    """Every ``y`` in [0, 1] with ``forward(y) = x`` (brackets on a fine grid)."""
    ys = np.linspace(0.0, 1.0, 2001)
    f = forward(ys) - x
    roots: list[float] = []
    for i in np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) <= 0):
        root = optimize.brentq(
            lambda t: float(forward(np.array(t)) - x), ys[i], ys[i + 1]
        )
        if not roots or root - roots[-1] > 1e-9:  # a root on a grid point
            roots.append(root)
    return roots


def modes(y_grid: np.ndarray, density: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """Local maxima of a density on a grid, above ``floor`` times its peak."""
    inner = (density[1:-1] > density[:-2]) & (density[1:-1] >= density[2:])
    keep = inner & (density[1:-1] >= floor * density.max())
    return y_grid[1:-1][keep]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 1500 if args.small else 4000
    X, y = draw(n, rng)
    reg = GMRegressor(N_COMPONENTS, random_state=0, n_init=2).fit(X, y)
    print(f"{n} points of x = y + 0.3 sin(2 pi y) + noise; predicting y from x")
    print(f"GMRegressor with {N_COMPONENTS} components")

    y_grid = np.linspace(-0.1, 1.1, 481)
    probes = np.linspace(*MULTI, 60)
    dist = reg.predict_distribution(probes[:, None])
    density = np.exp(dist.log_density(y_grid))
    mode_gap, n_modes = [], []
    for i, x in enumerate(probes):
        truth = np.array(branches(float(x)))
        found = modes(y_grid, density[i])
        n_modes.append(len(found))
        mode_gap.append(float(max(np.min(np.abs(truth - m)) for m in found)))
    three = float(np.mean(np.array(n_modes) == 3))
    print(
        f"for x in [{MULTI[0]}, {MULTI[1]}] (three solutions y): the conditional "
        f"density has 3 modes at {three:.0%} of 60 values of x; each mode is "
        f"{np.median(mode_gap):.3f} from a true solution (median; max "
        f"{np.max(mode_gap):.3f})"
    )

    X_test, y_test = draw(n, rng)
    test = reg.predict_distribution(X_test)
    mixture_lpd = float(np.mean(test.log_density(y_test, paired=True)))
    m, s = test.mean()[:, 0], np.sqrt(test.variance()[:, 0])
    gauss_lpd = float(
        np.mean(-0.5 * ((y_test - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi))
    )
    print(
        f"mean log predictive density of fresh points: conditional mixture "
        f"{mixture_lpd:.3f}, one Gaussian with its mean and sd {gauss_lpd:.3f}"
    )
    # Fresh points with three solutions: is their y near the prediction?
    inner = (X_test[:, 0] > MULTI[0]) & (X_test[:, 0] < MULTI[1])
    inner_dist = reg.predict_distribution(X_test[inner])
    inner_density = np.exp(inner_dist.log_density(y_grid))
    near_mean = np.abs(y_test[inner] - inner_dist.mean()[:, 0]) <= HIT
    near_mode = np.array(
        [
            np.min(np.abs(modes(y_grid, row) - t)) <= HIT
            for row, t in zip(inner_density, y_test[inner], strict=True)
        ]
    )
    hit_mean, hit_modes = float(np.mean(near_mean)), float(np.mean(near_mode))
    print(
        f"fresh points with x in that range ({int(inner.sum())}): y within {HIT} of "
        f"the conditional mean for {hit_mean:.0%}, within {HIT} of a mode of the "
        f"conditional density for {hit_modes:.0%}"
    )
    slice_dist = reg.predict_distribution([[SLICE_X]])
    slice_density = np.exp(slice_dist.log_density(y_grid)[0])
    slice_mean = float(slice_dist.mean()[0, 0])
    slice_modes = modes(y_grid, slice_density)
    print(
        f"at x = {SLICE_X}: true solutions "
        + ", ".join(f"{t:.3f}" for t in branches(SLICE_X))
        + "; modes "
        + ", ".join(f"{t:.3f}" for t in slice_modes)
        + f"; conditional mean {slice_mean:.3f}"
    )

    x_grid = np.linspace(float(X.min()), float(X.max()), 300)
    image = np.exp(reg.predict_distribution(x_grid[:, None]).log_density(y_grid))
    curve_mean = reg.predict(x_grid[:, None])
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(11, 4.6), layout="constrained", width_ratios=[1.6, 1]
    )
    ax.imshow(
        np.sqrt(image.T),
        origin="lower",
        aspect="auto",
        extent=(x_grid[0], x_grid[-1], y_grid[0], y_grid[-1]),
        cmap="Blues",
    )
    ax.scatter(X[:, 0], y, s=1, color="0.3", alpha=0.2, label="data")
    ys = np.linspace(0.0, 1.0, 400)
    ax.plot(forward(ys), ys, "k--", linewidth=1, label="true inverse (all branches)")
    ax.plot(x_grid, curve_mean, color="C3", linewidth=2, label="conditional mean")
    ax.axvline(SLICE_X, color="C2", linewidth=1, linestyle=":")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("p(y | x) (image, square root) and E[y | x]")
    ax.legend(loc="upper left", fontsize=8)
    ax2.plot(
        slice_density, y_grid, color="C0", linewidth=2, label=f"p(y | x = {SLICE_X})"
    )
    near = np.abs(X[:, 0] - SLICE_X) < 0.02
    ax2.hist(
        y[near],
        bins=40,
        range=(-0.1, 1.1),
        density=True,
        orientation="horizontal",
        color="0.8",
        label=f"data with |x - {SLICE_X}| < 0.02",
    )
    ax2.axhline(slice_mean, color="C3", linewidth=2, label="conditional mean")
    for t in branches(SLICE_X):
        ax2.axhline(t, color="k", linestyle="--", linewidth=0.8)
    ax2.set_xlabel("density")
    ax2.set_ylabel("y")
    ax2.set_title(f"the slice x = {SLICE_X}")
    ax2.legend(loc="upper right", fontsize=8)
    figures = [save(fig, out, "21_gmr_inverse_problem.png")]

    return {
        "figures": figures,
        "n_samples": n,
        "share_three_modes": three,
        "mode_gap": mode_gap,
        "hit_mean": hit_mean,
        "hit_modes": hit_modes,
        "mixture_lpd": mixture_lpd,
        "gauss_lpd": gauss_lpd,
        "slice_modes": [float(t) for t in slice_modes],
        "slice_truth": branches(SLICE_X),
        "slice_mean": slice_mean,
    }


if __name__ == "__main__":
    main()
