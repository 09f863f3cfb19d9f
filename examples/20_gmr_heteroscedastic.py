"""Gaussian mixture regression: a noisy curve whose noise grows with x.

``GMRegressor`` fits one Gaussian mixture to the pairs ``(x, y)`` and predicts
from the mixture conditioned on ``x``: its mean is the regression curve, and
its standard deviation (``predict(X, return_std=True)``: the total variance of
the conditional mixture) follows the noise, which here grows tenfold from left
to right. Ordinary least squares with a constant noise level would put the
same band everywhere.

Data: ``x`` uniform on [0, 10], ``y = sin(x) + 0.3 x + e`` with ``e`` normal
of standard deviation ``0.05 + 0.08 x``. The script fits a 6-component
mixture, prints the fitted curve's error against the true mean, the predicted
standard deviation against the true one at a few ``x``, and the share of fresh
points inside the 1- and 2-sigma bands (about 68% and 95% when the bands are
right).

Figure: the data, the true and the predicted mean, and the 1- and 2-sigma
bands of the conditional mixture.

Run::

    python examples/20_gmr_heteroscedastic.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from gaussmix import GMRegressor

DPI = 90
N_COMPONENTS = 10
#: Where the predicted and the true noise levels are printed.
PROBES = (1.0, 3.0, 5.0, 7.0, 9.0)


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


def true_mean(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.sin(x) + 0.3 * x)


def true_std(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.05 + 0.08 * x)


def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.0, 10.0, n)
    return x[:, None], true_mean(x) + true_std(x) * rng.standard_normal(n)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 800 if args.small else 3000
    X, y = draw(n, rng)
    X_test, y_test = draw(n, rng)

    reg = GMRegressor(N_COMPONENTS, random_state=0).fit(X, y)
    print(f"{n} points; GMRegressor with {N_COMPONENTS} full-covariance components")

    grid = np.linspace(0.0, 10.0, 400)
    mean, std = reg.predict(grid[:, None], return_std=True)
    rmse = float(np.sqrt(np.mean((mean - true_mean(grid)) ** 2)))
    print(f"predicted mean against the true mean: RMSE {rmse:.3f} over [0, 10]")
    _, probe_std = reg.predict(np.array(PROBES)[:, None], return_std=True)
    print(f"{'x':>4}  {'true sd':>8}  {'predicted sd':>12}")
    for x, s in zip(PROBES, probe_std, strict=True):
        print(f"{x:4.1f}  {float(true_std(np.array(x))):8.3f}  {s:12.3f}")

    test_mean, test_std = reg.predict(X_test, return_std=True)
    z = np.abs(y_test - test_mean) / test_std
    inside = {k: float(np.mean(z <= k)) for k in (1, 2)}
    print(
        f"fresh points inside the 1-sigma band: {inside[1]:.1%} (normal: 68.3%), "
        f"2-sigma: {inside[2]:.1%} (95.4%)"
    )
    print(f"R^2 on fresh points: {reg.score(X_test, y_test):.3f}")

    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    ax.scatter(X[:, 0], y, s=4, color="0.55", alpha=0.5, label="data")
    ax.fill_between(
        grid, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.18, label="2 sigma"
    )
    ax.fill_between(
        grid, mean - std, mean + std, color="C0", alpha=0.35, label="1 sigma"
    )
    ax.plot(grid, true_mean(grid), "k--", linewidth=1.2, label="true mean")
    ax.plot(grid, mean, color="C3", linewidth=2, label="GMR mean E[y | x]")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Gaussian mixture regression: the band follows the noise")
    ax.legend(loc="upper left", fontsize=8)
    figures = [save(fig, out, "20_gmr_heteroscedastic.png")]

    return {
        "figures": figures,
        "n_samples": n,
        "rmse_mean": rmse,
        "probes": list(PROBES),
        "probe_std": [float(s) for s in probe_std],
        "true_probe_std": [float(true_std(np.array(x))) for x in PROBES],
        "inside_1_sigma": inside[1],
        "inside_2_sigma": inside[2],
        "r2": float(reg.score(X_test, y_test)),
    }


if __name__ == "__main__":
    main()
