"""gaussmix.apps.segmentation: colour conversion, features, labels, bad input."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from gaussmix import GaussianMixture
from gaussmix.apps.segmentation import (
    image_features,
    mean_color_image,
    rgb_to_lab,
    segment_image,
)


def spread_image(h, w, seed):
    """Three regions on a smooth gradient: two of nearly equal mean colour that
    differ in spread (noise sd 0.015 and 0.12), and a third of another colour."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:h, 0:w] / max(h, w)
    truth = np.zeros((h, w), dtype=int)
    truth[(r - 0.35) ** 2 + (c - 0.35) ** 2 < 0.2**2] = 1
    truth[(r > 0.45) & (c > 0.7)] = 2
    base = np.array([[0.55, 0.6, 0.5], [0.5, 0.55, 0.45], [0.35, 0.45, 0.6]])
    sd = np.array([0.015, 0.12, 0.03])
    image = base[truth] + 0.1 * np.stack([r, c, r * c], axis=-1)
    image += rng.normal(size=image.shape) * sd[truth][..., None]
    return np.clip(image, 0.0, 1.0), truth


def pixel_accuracy(truth, labels, k):
    """Share of pixels right after the best one-to-one matching of labels."""
    counts = np.zeros((k, k))
    np.add.at(counts, (truth.ravel(), labels.ravel()), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / truth.size


# ---------------------------------------------------------------- colour space
def test_lab_of_reference_colours():
    # CIELAB (D65) of sRGB white, black, mid grey and the primaries; published
    # values to 2 decimals.
    rgb = np.array(
        [[1, 1, 1], [0, 0, 0], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
        dtype=float,
    )
    expected = np.array(
        [
            [100.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [53.39, 0.0, 0.0],
            [53.24, 80.09, 67.20],
            [87.73, -86.18, 83.18],
            [32.30, 79.19, -107.86],
        ]
    )
    np.testing.assert_allclose(rgb_to_lab(rgb), expected, atol=0.02)


def test_lab_matches_scikit_image():
    color = pytest.importorskip("skimage.color")
    rgb = np.random.default_rng(0).random((50, 40, 3))
    rgb[0, :5] = 0.0  # the linear part of f(t) near black
    rgb[1, :5] = 0.001
    # scikit-image rounds the CIE constants (0.008856, 7.787); this module uses
    # the exact (6/29)^3 and 1/(3 (6/29)^2): differences below 3e-4.
    np.testing.assert_allclose(rgb_to_lab(rgb), color.rgb2lab(rgb), atol=3e-4)


def test_lab_rejects_bad_colours():
    with pytest.raises(ValueError, match="last axis of length 3"):
        rgb_to_lab(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"in \[0, 1\]; divide 8-bit"):
        rgb_to_lab(np.full((2, 3), 255.0))


# -------------------------------------------------------------------- features
def test_features_colour_then_scaled_position():
    image = np.random.default_rng(1).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    X = image_features(image, ("color", "position"), "lab", position_weight=0.5)
    assert X.shape == (60, 5)
    np.testing.assert_allclose(X[:, :3], rgb_to_lab(image.reshape(-1, 3) / 255.0))
    # Row-major; the longer side (10 columns) spans 0.5 * 100 (the L* range).
    step = 0.5 * 100 / 10
    np.testing.assert_allclose(X[:, 3], np.repeat(np.arange(6), 10) * step)
    np.testing.assert_allclose(X[:, 4], np.tile(np.arange(10), 6) * step)
    rgb = image_features(image, ("color",), "rgb")
    np.testing.assert_allclose(rgb, image.reshape(-1, 3) / 255.0)
    position_only = image_features(image, ("position",), "rgb", position_weight=2.0)
    np.testing.assert_allclose(position_only[-1], [5 * 2 / 10, 9 * 2 / 10])


def test_grey_image_has_lightness_only():
    grey = np.random.default_rng(2).random((5, 7))
    X = image_features(grey, ("color",))
    assert X.shape == (35, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_allclose(X[:, 0], rgb_to_lab(rgb)[..., 0].ravel(), atol=1e-9)


def test_uint8_and_float_images_give_the_same_segmentation():
    image, _ = spread_image(30, 40, seed=3)
    as_uint8 = np.round(image * 255).astype(np.uint8)
    as_uint16 = as_uint8.astype(np.uint16) * 257  # 255 -> 65535
    np.testing.assert_allclose(
        image_features(as_uint16), image_features(as_uint8), atol=1e-12
    )
    labels_int, _ = segment_image(as_uint8, 3, random_state=0)
    labels_float, _ = segment_image(as_uint8 / 255.0, 3, random_state=0)
    np.testing.assert_array_equal(labels_int, labels_float)


# ---------------------------------------------------------------- segmentation
def test_labels_and_model():
    image, truth = spread_image(40, 60, seed=4)
    labels, model = segment_image(image, 3, max_pixels=1000, random_state=0)
    assert labels.shape == (40, 60)
    assert isinstance(model, GaussianMixture)
    assert model.n_features_in_ == 5
    assert set(np.unique(labels)) <= {0, 1, 2}
    # Labels are the model's prediction of every pixel's features.
    np.testing.assert_array_equal(labels.ravel(), model.predict(image_features(image)))
    assert pixel_accuracy(truth, labels, 3) > 0.95


def test_chunks_do_not_change_the_labels():
    image, _ = spread_image(33, 47, seed=5)
    one, _ = segment_image(image, 3, random_state=1)
    many, _ = segment_image(image, 3, random_state=1, chunk_pixels=100)
    np.testing.assert_array_equal(one, many)


def test_subsample_size_and_seed():
    image, _ = spread_image(30, 40, seed=6)
    a, model_a = segment_image(image, 2, max_pixels=300, random_state=7)
    b, model_b = segment_image(image, 2, max_pixels=300, random_state=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model_a.means_, model_b.means_)
    # All 1200 pixels when max_pixels is None: the fit uses every pixel.
    _, full = segment_image(image, 2, max_pixels=None, random_state=7, tol=1e-8)
    X = image_features(image)
    direct = GaussianMixture(2, random_state=np.random.RandomState(7), tol=1e-8).fit(X)
    np.testing.assert_allclose(full.means_, direct.means_, rtol=1e-10)


def test_gmm_beats_kmeans_when_regions_differ_in_spread():
    image, truth = spread_image(50, 70, seed=8)
    X = image_features(image, ("color",))
    labels, _ = segment_image(image, 3, features=("color",), random_state=0)
    km = KMeans(n_clusters=3, n_init=4, random_state=0).fit_predict(X)
    acc_gmm = pixel_accuracy(truth, labels, 3)
    acc_km = pixel_accuracy(truth, km.reshape(truth.shape), 3)
    # Measured: GMM 0.98, k-means 0.65 (it cuts the noisy region in pieces).
    assert acc_gmm > 0.95
    assert acc_km < 0.8
    assert acc_gmm > acc_km + 0.15


def test_position_separates_equal_colours_in_different_places():
    image = np.zeros((30, 60, 3), dtype=np.uint8)
    left, right = (slice(5, 25), slice(3, 25)), (slice(5, 25), slice(35, 57))
    image[left] = image[right] = (220, 40, 40)
    image += np.random.default_rng(9).integers(0, 6, image.shape, dtype=np.uint8)
    by_colour, _ = segment_image(image, 2, features=("color",), random_state=0)
    assert by_colour[left][0, 0] == by_colour[right][0, 0]
    spatial, _ = segment_image(
        image, 3, features=("color", "position"), random_state=0, n_init=3
    )
    assert len(np.unique(spatial[left])) == 1
    assert len(np.unique(spatial[right])) == 1
    assert spatial[left][0, 0] != spatial[right][0, 0]


def test_mean_color_image():
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[:, 3:] = 255
    image[0, 0] = (30, 60, 90)
    labels = np.zeros((4, 6), dtype=int)
    labels[:, 3:] = 1
    painted = mean_color_image(image, labels)
    np.testing.assert_allclose(painted[:, 3:], 1.0)
    np.testing.assert_allclose(painted[1, 1], np.array([30, 60, 90]) / 255 / 12)
    with pytest.raises(ValueError, match="labels must be integers of shape"):
        mean_color_image(image, labels[:, :3])


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((4, 4, 4)), {}, r"shape \(H, W, 3\).*alpha"),
        (np.zeros((4,)), {}, "grey image of shape"),
        (np.full((4, 4, 3), 2.0), {}, r"values in \[0, 1\] for color_space='lab'"),
        (np.full((4, 4), np.nan), {}, "NaN or infinity"),
        (np.zeros((4, 4), dtype=bool), {}, "dtype bool"),
        (np.full((4, 4), -1), {}, r"0\.\.255 \(8-bit\) or 0\.\.65535"),
        (np.full((4, 4), 70000), {}, r"found 70000\.\.70000"),
        (np.zeros((4, 4)), {"features": ("colour",)}, "features must be"),
        (np.zeros((4, 4)), {"features": ()}, "features must be"),
        (np.zeros((4, 4)), {"color_space": "hsv"}, "color_space must be"),
        (np.zeros((4, 4)), {"position_weight": 0.0}, "position_weight must be"),
        (np.zeros((4, 4)), {"max_pixels": 0}, "max_pixels must be a positive"),
        (np.zeros((4, 4)), {"chunk_pixels": 1.5}, "chunk_pixels must be a positive"),
        (np.zeros((2, 2)), {"n_components": 5}, "4 pixels, fewer than"),
        (np.zeros((2, 2)), {"n_components": 0}, "n_components must be"),
    ],
)
def test_bad_input(image, kwargs, message):
    kwargs = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        segment_image(image, **kwargs)


def test_rgb_space_accepts_any_float_range():
    image, truth = spread_image(30, 40, seed=10)
    labels, _ = segment_image(image * 50 - 3, 3, color_space="rgb", random_state=0)
    assert pixel_accuracy(truth, labels, 3) > 0.9


# --------------------------------------------------------------------- example
def test_example_runs_at_small_size(tmp_path):
    import contextlib
    import importlib.util
    import io
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    path = Path(__file__).resolve().parents[2] / "examples" / "08_image_segmentation.py"
    spec = importlib.util.spec_from_file_location("example_08", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = module.main(["--small", "--out", str(tmp_path)])
    (figure,) = result["figures"]
    assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(figure).stat().st_size > 10_000
    assert f"figure written to {figure}" in buf.getvalue()
    for name in ("china.jpg", "flower.jpg"):
        r = result[name]
        assert r["shape"] == (54, 80)
        assert r["n_features"] == 5
        assert r["segment_sizes"].sum() == 54 * 80
        assert r["labels"].shape == r["kmeans_labels"].shape == (54, 80)
        # Two different methods, but both see the same main regions.
        assert 0.2 < r["ari_gmm_kmeans"] < 1.0


def test_benchmark_runs_quick(capsys):
    import importlib.util
    from pathlib import Path

    script = (
        Path(__file__).resolve().parents[2] / "benchmarks" / "bench_segmentation.py"
    )
    spec = importlib.util.spec_from_file_location("bench_segmentation", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(["--quick"])
    assert len(table) == 4
    assert "GMM acc med/min" in capsys.readouterr().out
    # On regions that differ in spread the mixture wins.
    spread = table["spread/color"]
    assert spread["gmm"][0] > spread["kmeans"][0] + 0.15
    assert table["mean/color"]["gmm"][0] > 0.95
