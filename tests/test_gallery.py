"""The gallery scripts in ``examples/``: each runs at ``--small`` sizes, writes its
figures and prints numbers that agree with what the script claims."""

import contextlib
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The classic walkthroughs (01-07); the applications' examples (08 on) are run
# by their own tests in tests/apps/.
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("0[1-7]_*.py"))
APP_SCRIPTS = sorted(
    p.name for p in EXAMPLES.glob("[0-9][0-9]_*.py") if p.name not in SCRIPTS
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load(name):
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location(f"gallery_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in a script look themselves up
    spec.loader.exec_module(module)
    return module


def run(name, out, *extra):
    """Run ``main`` of one script; return its result and what it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = load(name).main([*extra, "--out", str(out)])
    return result, buf.getvalue()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Every script's result and printout at ``--small`` sizes, run once."""
    cache = {}

    def get(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(Path(name).stem)
            cache[name] = (*run(name, out, "--small"), out)
        return cache[name]

    return get


def test_every_script_is_tested():
    assert SCRIPTS == [
        "01_four_blobs.py",
        "02_kmeans_vs_gmm.py",
        "03_two_gaussians.py",
        "04_one_dimension.py",
        "05_uncertainty_and_covariance_types.py",
        "06_density_estimation_moons.py",
        "07_new_digits.py",
    ]


def test_every_application_example_is_run_by_a_test():
    """Each example from 08 on is named in a test (tests/apps/ or tests/)."""
    test_dir = EXAMPLES.parent / "tests"
    tests = "".join(p.read_text() for p in test_dir.glob("**/test_*.py"))
    missing = [name for name in APP_SCRIPTS if Path(name).stem not in tests]
    assert missing == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_figures_are_written_and_announced(small, name):
    result, text, out = small(name)
    assert result["figures"]
    for figure in result["figures"]:
        path = Path(figure)
        assert path.parent == out
        assert path.suffix == ".png"
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 10_000  # not an empty canvas
        assert f"figure written to {path}" in text


def test_script_runs_from_the_command_line(tmp_path):
    out = tmp_path / "new" / "folder"
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "01_four_blobs.py"),
            "--small",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert (out / "01_four_blobs_clusters.png").read_bytes()[:8] == PNG_MAGIC
    assert "prediction for new points" in done.stdout


def test_four_blobs(small):
    from sklearn.datasets import make_blobs

    r, text, _ = small("01_four_blobs.py")
    assert r["converged"]
    np.testing.assert_allclose(r["weights"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(r["weights"], 0.25, atol=0.02)
    assert r["label_counts"].sum() == r["n_samples"]
    assert r["adjusted_rand_index"] > 0.95
    # Each fitted mean is within 4 standard errors (0.6 / sqrt(n / 4)) of a true centre.
    _, _, centers = make_blobs(
        r["n_samples"], centers=4, cluster_std=0.6, random_state=0, return_centers=True
    )
    tol = 4 * 0.6 / np.sqrt(r["n_samples"] / 4)
    dist = np.linalg.norm(r["means"][:, None, :] - centers[None, :, :], axis=2)
    assert sorted(dist.argmin(axis=1)) == [0, 1, 2, 3]
    assert dist.min(axis=1).max() < tol
    # Round blobs of sd 0.6: variances near 0.36, covariances near 0.
    var = np.diagonal(r["covariances"], axis1=1, axis2=2)
    np.testing.assert_allclose(var, 0.36, atol=0.15)
    np.testing.assert_allclose(r["covariances"][:, 0, 1], 0.0, atol=0.1)
    # Every new point goes to the component with the nearest mean, confidently.
    nearest = np.linalg.norm(
        r["new_points"][:, None, :] - r["means"][None, :, :], axis=2
    ).argmin(axis=1)
    np.testing.assert_array_equal(r["predictions"], nearest)
    picked = r["prediction_probabilities"][np.arange(3), r["predictions"]]
    assert picked.min() > 0.9
    assert "-> component" in text


def test_kmeans_versus_gmm(small):
    r, text, _ = small("02_kmeans_vs_gmm.py")
    ari = r["adjusted_rand_index"]
    assert r["gmm_wins_on_stretched"]
    assert ari["stretched"]["gmm"] > ari["stretched"]["kmeans"] + 0.2
    assert ari["stretched"]["gmm"] > 0.9
    assert ari["unequal spread"]["gmm"] > ari["unequal spread"]["kmeans"]
    assert ari["stretched"]["kmeans"] < 0.7
    # EM never decreases the likelihood (up to rounding).
    assert np.all(np.diff(r["lower_bounds_stretched"]) > -1e-9)
    assert len(r["lower_bounds_stretched"]) == r["n_iter"]["stretched"]
    assert "beats k-means" in text


def test_two_gaussians_within_sampling_error(small):
    r, text, _ = small("03_two_gaussians.py")
    n = r["n_per_component"]
    true_means = np.array([[1.0, 2.0], [-1.0, -1.0]])
    true_cov = np.array([[[1.0, 0.0], [0.0, 0.5]], [[1.0, 0.0], [0.0, 1.0]]])
    var = np.diagonal(true_cov, axis1=1, axis2=2)
    # Four standard errors of each estimate from n points per component.
    mean_tol = 4 * np.sqrt(var / n)
    cov_tol = 4 * np.sqrt((var[:, :, None] * var[:, None, :] + true_cov**2) / n)
    weight_tol = 4 * np.sqrt(0.25 / (2 * n))
    assert np.all(np.abs(r["means"] - true_means) <= mean_tol)
    assert np.all(np.abs(r["covariances"] - true_cov) <= cov_tol)
    assert np.all(np.abs(r["weights"] - 0.5) <= weight_tol)
    assert r["within_tolerance"]
    assert r["largest_error"] <= 4.0
    assert "within the 4-standard-error tolerance" in text


@pytest.fixture(scope="module")
def one_dimension(small):
    return small("04_one_dimension.py")[0]


def test_one_dimension_recovers_the_components(one_dimension):
    r = one_dimension
    truth = [(-0.5, 0.2, 200), (-0.1, 0.07, 500), (0.2, 0.13, 1000)]  # --small
    n = sum(c for _, _, c in truth)
    assert r["n_samples"] == n
    for k, (mean, sd, count) in enumerate(truth):
        w = count / n
        assert abs(r["means"][k] - mean) <= 4 * sd / np.sqrt(count)
        assert abs(r["sds"][k] - sd) <= 4 * sd / np.sqrt(2 * count)
        assert abs(r["weights"][k] - w) <= 4 * np.sqrt(w * (1 - w) / n)
    # The default tol stops early, far from the middle component's weight.
    assert r["default_tol_n_iter"] < r["n_iter"] / 4
    assert abs(r["default_tol_weights"][1] - 500 / n) > 0.05


def test_one_dimension_density_is_not_a_probability(one_dimension):
    queries = {q["x"]: q for q in one_dimension["queries"]}
    h = one_dimension["half_width"]
    # A density above 1: not a probability.
    assert queries[-0.1]["density"] > 1.0
    for q in queries.values():
        assert q["interval_probability"] == pytest.approx(
            q["interval_probability_numeric"], abs=1e-7
        )
        assert q["interval_probability"] == pytest.approx(
            2 * h * q["density"],
            rel=0.02,  # midpoint rule; curvature in the tail
        )
        assert 0.0 <= q["tail_probability"] <= 1.0
    # The less dense the value, the smaller its tail probability.
    tails = [queries[x]["tail_probability"] for x in (-0.1, 0.3, 0.7)]
    assert tails[0] > tails[1] > tails[2]
    assert tails[2] < 1e-3


@pytest.mark.parametrize(
    "x",
    [
        -0.1,
        0.3,
        0.7,
    ],
)
def test_one_dimension_tail_probability_matches_brute_force(one_dimension, x):
    q = next(q for q in one_dimension["queries"] if q["x"] == x)
    assert q["tail_probability"] == pytest.approx(
        q["tail_probability_numeric"], abs=2e-4
    )


def test_one_dimension_tail_probability_is_calibrated_on_the_data(one_dimension):
    n = one_dimension["n_samples"]
    for q in one_dimension["queries"]:
        p = q["tail_probability"]
        tol = 4 * np.sqrt(p * (1 - p) / n) + 0.01  # sampling error + model error
        assert abs(q["data_share_no_likelier"] - p) <= tol


def test_uncertainty_and_covariance_types(small):
    r, text, _ = small("05_uncertainty_and_covariance_types.py")
    # The sheared equal blobs share one covariance: tied is the true model.
    assert r["best"] == "tied"
    assert r["bic"]["tied"] < r["bic"]["full"] < r["bic"]["spherical"]
    assert r["n_parameters"] == {"full": 23, "tied": 14, "diag": 19, "spherical": 15}
    u = r["uncertainty"]
    assert u.shape == (r["n_samples"],)
    assert u.min() >= 0.0
    assert u.max() <= 0.75 + 1e-12
    assert 0.05 < r["share_uncertain"] < 0.4
    # Uncertain points are where the mistakes are.
    assert r["error_rate_uncertain"] > 3 * r["error_rate_certain"]
    assert "lowest BIC: tied" in text


def test_moons_density_estimation(small):
    r, text, _ = small("06_density_estimation_moons.py")
    new = r["new_samples"]
    assert new.shape == (400, 2)
    assert r["n_new"] == 400
    # New points lie where the moons are: inside the data's box, and as likely.
    assert new[:, 0].min() > -1.6
    assert new[:, 0].max() < 2.6
    assert new[:, 1].min() > -1.1
    assert new[:, 1].max() < 1.6
    assert abs(r["score_new"] - r["score_data"]) < 0.5
    # BIC - AIC = p (log n - 2) with p = 6K - 1 for full covariances in 2-D.
    ks = r["n_components_grid"]
    np.testing.assert_allclose(
        r["bic"] - r["aic"], (6 * ks - 1) * (np.log(r["n_samples"]) - 2), rtol=1e-9
    )
    assert r["best_aic"] == ks[np.argmin(r["aic"])]
    assert r["best_bic"] == ks[np.argmin(r["bic"])]
    assert r["best_bic"] <= r["best_aic"]
    assert r["best_bic"] >= 4  # two moons need more than a couple of Gaussians
    assert f"lowest BIC at K = {r['best_bic']}" in text


def test_new_digits(small):
    from sklearn.datasets import load_digits

    r, text, _ = small("07_new_digits.py")
    assert r["explained_variance"] >= 0.99
    assert 20 <= r["n_pca_components"] < 64
    assert r["best_k"] == r["n_components_grid"][np.argmin(r["aic"])]
    new = r["new_digits"]
    assert new.shape == (100, 64)
    real = load_digits().data[: r["n_images"]]
    # Pixel statistics of new digits are those of real ones, roughly.
    assert abs(new.mean() - real.mean()) < 1.0
    assert abs(new.std() - real.std()) < 1.5
    # Not copies of training images.
    assert r["min_nearest_new"] > 1.0
    assert f"lowest AIC at K = {r['best_k']}" in text


def test_gallery_images_are_shrunk(small, tmp_path):
    from PIL import Image

    make = load("make_gallery_images.py")
    assert sorted(make.SHOWN) == SCRIPTS
    result, _, _ = small("05_uncertainty_and_covariance_types.py")
    source = Path(result["figures"][0])
    dest = tmp_path / "shrunk.png"
    size = make.shrink_png(source, dest)
    assert size == dest.stat().st_size
    assert size < 0.7 * source.stat().st_size
    with Image.open(source) as a, Image.open(dest) as b:
        assert a.size == b.size
        assert b.mode == "P"
        assert len(b.getcolors(1024)) <= 256
    for names in make.SHOWN.values():
        for name in names:
            shown = EXAMPLES.parent / "docs" / "images" / "gallery" / name
            assert shown.stat().st_size < 150_000


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_full_size(tmp_path, name):
    result, _ = run(name, tmp_path)
    for figure in result["figures"]:
        assert Path(figure).read_bytes()[:8] == PNG_MAGIC
    if name == "02_kmeans_vs_gmm.py":
        assert result["gmm_wins_on_stretched"]
    if name == "03_two_gaussians.py":
        assert result["within_tolerance"]
    if name == "07_new_digits.py":
        assert 100 <= result["best_k"] <= 150
