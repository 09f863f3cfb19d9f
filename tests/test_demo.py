"""The demo of ``make demo``, the plotting it uses, and the benchmark script."""

import io
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from gaussmix import GaussianMixture
from gaussmix.demo import NEW_POINTS, main, run_demo
from gaussmix.plotting import covariance_ellipses, plot_clusters

ROOT = Path(__file__).resolve().parents[1]


class TestDemo:
    """Tests for ``gaussmix.demo``."""

    def test_prints_table_predictions_and_plot_path(self, tmp_path):
        """The demo prints weights, means, covariances, predictions and the PNG path."""
        out = tmp_path / "demo.png"
        buf = io.StringIO()
        gm = run_demo(str(out), stream=buf)
        text = buf.getvalue()
        assert out.stat().st_size > 10_000
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "weight" in text
        assert "var x" in text
        assert "cov xy" in text
        assert f"plot written to {out}" in text
        labels = gm.predict(NEW_POINTS)
        for point, label in zip(NEW_POINTS, labels, strict=True):
            assert f"{point.tolist()!s:>12} -> component {label}" in text
        np.testing.assert_allclose(gm.weights_.sum(), 1.0)
        assert sorted(np.round(gm.weights_, 2)) == pytest.approx([0.25] * 4, abs=0.02)

    def test_main_accepts_out(self, tmp_path, capsys):
        """``python -m gaussmix.demo --out PATH`` writes there."""
        out = tmp_path / "sub" / "d.png"
        assert main(["--out", str(out)]) == 0
        assert out.exists()
        assert "plot written to" in capsys.readouterr().out


class TestPlotClusters:
    """Tests for ``plot_clusters`` and ``covariance_ellipses``."""

    @pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
    def test_one_ellipse_per_component_and_sigma(self, covariance_type, tmp_path):
        """Three ellipses (1, 2, 3 sigma) per component, one marker per mean."""
        rng = np.random.default_rng(0)
        X = np.vstack([rng.normal(c, 0.5, size=(100, 3)) for c in (0, 4, 8)])
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
        drawn = plot_clusters(gm, X, dims=(0, 2))
        assert len(drawn["ellipses"]) == 9
        assert len(drawn["scatter"].get_offsets()) == 300
        assert drawn["ax"].get_xlabel() == "feature 0"
        assert drawn["ax"].get_ylabel() == "feature 2"
        drawn["ax"].figure.savefig(tmp_path / "c.png")

    def test_ellipse_axes_are_two_standard_deviations(self):
        """The 1-sigma ellipse's full axes are 2 sqrt(eigenvalues) of the covariance."""
        gm = GaussianMixture(1).fit(np.random.default_rng(1).normal(size=(500, 2)))
        gm.covariances_ = np.array([[[4.0, 0.0], [0.0, 1.0]]])
        ((_center, width, height, angle),) = covariance_ellipses(gm)
        assert width == pytest.approx(4.0)
        assert height == pytest.approx(2.0)
        assert abs(angle) % 180 == pytest.approx(0.0, abs=1e-9)


@pytest.mark.filterwarnings("ignore")
def test_benchmark_script_runs_quick(tmp_path):
    """``benchmarks/bench_fit.py --quick`` runs and prints a ratio per workload."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_fit.py"),
            "--quick",
            "--workloads",
            "W1",
            "W5",
            "--no-busy",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "W1:" in result.stdout
    assert "ratio sklearn/gaussmix" in result.stdout
    assert "W5: data" in result.stdout


@pytest.mark.filterwarnings("ignore")
def test_io_benchmark_runs_small():
    """``benchmarks/bench_io.py`` at a small size prints both comparisons."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_io.py"),
            "--rows",
            "2000",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "pandas.read_csv" in result.stdout
    assert "load (with validation) gaussmix" in result.stdout
