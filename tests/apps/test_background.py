"""gaussmix.apps.background: the adaptive per-pixel mixture (Zivkovic's MOG2)."""

import importlib.util
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gaussmix.apps.background import (
    FORMAT_NAME,
    BackgroundSubtractor,
    foreground_f1,
    synthetic_video,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "09_background_tracking.py"


def static_frames(n, shape=(24, 32), noise=3.0, seed=0, colour=False):
    """A fixed textured scene with sensor noise, uint8."""
    rng = np.random.default_rng(seed)
    full = (*shape, 3) if colour else shape
    scene = rng.uniform(40, 200, size=full)
    return np.clip(
        np.rint(scene + rng.normal(0, noise, size=(n, *full))), 0, 255
    ).astype(np.uint8)


def reference(frames, n_components=5, history=500, learning_rate=None, **kw):
    """Zivkovic's rules one pixel at a time, in float64, straight from the paper.

    Each pixel's model is a list of [weight, mean, variance], heaviest first.
    """
    tb, tg = kw.get("var_threshold", 16.0), kw.get("var_threshold_gen", 9.0)
    ratio, c_t = kw.get("background_ratio", 0.9), kw.get("complexity_reduction", 0.05)
    var_init, var_min, var_max = 15.0, 4.0, 75.0
    t_all, h, w = frames.shape[:3]
    values = frames.reshape(t_all, h, w, -1).astype(float)
    models = [[[] for _ in range(w)] for _ in range(h)]
    masks = np.zeros((t_all, h, w), np.uint8)
    for t in range(t_all):
        alpha = (
            1 / min(2 * (t + 1), history) if learning_rate is None else learning_rate
        )
        for i in range(h):
            for j in range(w):
                x, comps = values[t, i, j], models[i][j]
                before, background, owner = 0.0, False, None
                for m, (weight, mean, var) in enumerate(comps):
                    d2 = float(((x - mean) ** 2).sum())
                    background |= before < ratio and d2 < tb * var
                    if owner is None and d2 < tg * var:
                        owner = m
                    before += weight
                masks[t, i, j] = 0 if background else 255
                kept = []
                for m, (weight, mean, var) in enumerate(comps):
                    o = float(m == owner)
                    weight = weight + alpha * (o - weight) - alpha * c_t
                    if o:
                        rho = min(alpha / weight, 1.0)  # capped: see the module
                        d2 = float(((x - mean) ** 2).sum())
                        mean = mean + rho * (x - mean)
                        var = min(max(var + rho * (d2 - var), var_min), var_max)
                    if weight > 0:
                        kept.append([weight, mean, var])
                if owner is None:
                    if len(kept) == n_components:
                        kept.pop()  # the lightest
                    kept.append([alpha, x.copy(), var_init])
                total = sum(c[0] for c in kept)
                for c in kept:
                    c[0] /= total
                kept.sort(key=lambda c: -c[0])
                models[i][j] = kept
    return masks, models


# ---------------------------------------------------------------- the update
@pytest.mark.parametrize(
    ("colour", "n_components", "learning_rate", "kw"),
    [
        (False, 5, None, {}),
        (True, 5, None, {}),
        (False, 2, 0.02, {}),  # full mixtures: the lightest is replaced
        (True, 3, None, {"complexity_reduction": 0.01, "background_ratio": 0.7}),
    ],
)
def test_matches_per_pixel_reference(colour, n_components, learning_rate, kw):
    video = synthetic_video(
        100, shape=(10, 14), colour=colour, n_objects=2, start=15, seed=3
    )
    model = BackgroundSubtractor(n_components, detect_shadows=False, **kw)
    lr = -1 if learning_rate is None else learning_rate
    masks = np.array([model.apply(f, lr) for f in video.frames])
    ref_masks, ref_models = reference(
        video.frames, n_components, learning_rate=learning_rate, **kw
    )
    np.testing.assert_array_equal(masks, ref_masks)
    weights, means, variances = model.weights_, model.means_, model.variances_
    channels = 3 if colour else 1
    for i in range(10):
        for j in range(14):
            comps = ref_models[i][j]
            assert np.count_nonzero(weights[:, i, j]) == len(comps)
            assert np.all(weights[len(comps) :, i, j] == 0)
            assert np.all(variances[len(comps) :, i, j] == 0)
            for k, (weight, mean, var) in enumerate(comps):
                # float32 state against float64 arithmetic
                assert weights[k, i, j] == pytest.approx(weight, abs=1e-6)
                got = means[k, i, j].reshape(channels)
                np.testing.assert_allclose(got, mean, atol=1e-3)
                assert variances[k, i, j] == pytest.approx(var, abs=1e-3)


def test_model_stays_a_sorted_mixture():
    video = synthetic_video(150, shape=(20, 24), colour=True, shadows=True, seed=1)
    model = BackgroundSubtractor()
    for frame in video.frames:
        model.apply(frame)
        w, var = model.weights_, model.variances_
        np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-5)
        assert np.all(np.diff(w, axis=0) <= 0)
        assert np.array_equal(w > 0, var > 0)
        used = var[w > 0]
        assert used.min() >= 4.0
        assert used.max() <= 75.0
        assert not np.any(np.signbit(w))


# ---------------------------------------------------------------- the mask
@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_mask_dtype_shape_and_values(colour, dtype):
    video = synthetic_video(40, shape=(16, 20), colour=colour, shadows=True, start=5)
    model = BackgroundSubtractor()
    seen = set()
    for frame in video.frames:
        mask = model.apply(frame.astype(dtype))
        assert mask.dtype == np.uint8
        assert mask.shape == (16, 20)
        seen |= set(np.unique(mask).tolist())
    assert seen <= {0, 127, 255}
    assert {0, 255} <= seen
    background = model.background_image()
    assert background.dtype == dtype
    assert background.shape == video.frames.shape[1:]


def test_masks_are_new_arrays():
    frames = static_frames(3)
    model = BackgroundSubtractor()
    first = model.apply(frames[0])
    kept = first.copy()
    model.apply(frames[1])
    np.testing.assert_array_equal(first, kept)


def test_static_scene_has_almost_no_foreground():
    frames = static_frames(120, shape=(40, 50), noise=3.0)
    model = BackgroundSubtractor(detect_shadows=False)
    masks = np.array([model.apply(f) for f in frames])
    # Gaussian noise beyond 4 standard deviations: 6e-5 of the pixels
    assert np.mean(masks[60:] == 255) < 1e-3
    # a value beyond 3 sd (0.3% of frames) makes a component that dies after
    # about 1 / complexity_reduction = 20 frames: one component at most pixels
    used = model.n_components_used_
    assert used.min() >= 1
    assert np.mean(used == 1) > 0.85
    assert used.mean() < 1.2
    background = model.background_image().astype(float)
    assert np.abs(background - frames.mean(axis=0)).max() < 2.5


def test_first_frame_is_all_foreground_then_learned():
    frames = static_frames(5)
    model = BackgroundSubtractor(detect_shadows=False)
    assert np.all(model.apply(frames[0]) == 255)
    assert np.mean(model.apply(frames[1]) == 0) > 0.99
    assert np.mean(np.abs(model.weights_[0] - 1) < 1e-6) > 0.98


def moving_square(n=90, shape=(48, 64), side=10, seed=0):
    rng = np.random.default_rng(seed)
    scene = rng.uniform(60, 140, size=shape)
    frames = np.empty((n, *shape), np.uint8)
    truth = np.zeros((n, *shape), np.uint8)
    for t in range(n):
        image = scene + rng.normal(0, 3, size=shape)
        if t >= 40:
            r = 5 + (t - 40) % (shape[0] - side - 10)
            c = 5 + (2 * (t - 40)) % (shape[1] - side - 10)
            image[r : r + side, c : c + side] = 230 + rng.normal(0, 3, (side, side))
            truth[t, r : r + side, c : c + side] = 255
        frames[t] = np.clip(np.rint(image), 0, 255)
    return frames, truth


def test_moving_square_is_detected():
    frames, truth = moving_square()
    model = BackgroundSubtractor()
    masks = np.array([model.apply(f) for f in frames])
    assert foreground_f1(masks[40:], truth[40:]) > 0.9
    # and nothing outside the square
    assert np.mean(masks[40:][truth[40:] == 0] == 255) < 1e-3


def test_multimodal_region_is_learned_as_background():
    video = synthetic_video(400, shape=(40, 60), n_objects=0, seed=2)
    model = BackgroundSubtractor(detect_shadows=False)
    masks = np.array([model.apply(f) for f in video.frames])
    tree = video.tree
    assert tree.sum() > 100
    # early on the tree's second and third colours are often foreground ...
    assert np.mean(masks[1:11][:, tree] == 255) > 0.1
    # ... once learned they are background, with 3 or more components; what
    # remains is pixels whose rarest colour came up less than about 1 frame in
    # 8 (its weight stays below 1 - background_ratio)
    assert np.mean(masks[-50:][:, tree] == 255) < 0.04
    assert np.median(model.n_components_used_[tree]) >= 3
    assert np.mean(masks[-50:][:, ~tree] == 255) < 1e-3


@pytest.mark.parametrize("colour", [False, True])
def test_shadows_are_marked(colour):
    frames = static_frames(80, shape=(30, 40), colour=colour)
    model = BackgroundSubtractor(history=100)
    plain = BackgroundSubtractor(history=100, detect_shadows=False)
    for f in frames:
        model.apply(f)
        plain.apply(f)
    shaded = frames[-1].astype(float)
    shaded[5:20, 10:30] *= 0.6  # a shadow: the same colour, darker
    shaded[22:28, 5:15] = 252  # an object, brighter than the scene
    shaded = np.clip(np.rint(shaded), 0, 255).astype(np.uint8)
    mask = model.apply(shaded, learning_rate=0)
    assert np.mean(mask[5:20, 10:30] == 127) > 0.95
    assert np.mean(mask[22:28, 5:15] == 255) > 0.9
    assert np.mean(mask[25:, 30:] == 0) > 0.99
    mask = plain.apply(shaded, learning_rate=0)
    assert np.mean(mask[5:20, 10:30] == 255) > 0.95
    assert not np.any(mask == 127)


def test_shadow_value_and_threshold():
    frames = static_frames(50)
    model = BackgroundSubtractor(shadow_value=100, shadow_threshold=0.7)
    for f in frames:
        model.apply(f)
    darker = frames[-1].astype(float)
    darker[:12] *= 0.6
    darker[12:] *= 0.8
    mask = model.apply(np.rint(darker).astype(np.uint8), learning_rate=0)
    # 0.6 is below the 0.7 threshold: foreground; 0.8 is a shadow (or, for
    # dark pixels, within the noise of the background)
    assert np.mean(mask[:12] == 255) > 0.95
    assert np.mean(mask[12:] == 100) > 0.8
    assert np.mean(mask[12:] == 255) < 0.02  # dark pixels where noise decides


# ---------------------------------------------------------------- learning rate
def test_learning_rate_zero_freezes_the_model():
    frames, _ = moving_square(60)
    model = BackgroundSubtractor()
    for f in frames[:40]:
        model.apply(f)
    state = (model.weights_, model.means_, model.variances_)
    count = model.frame_count_
    frozen = [model.apply(f, learning_rate=0) for f in frames[40:]]
    after = (model.weights_, model.means_, model.variances_)
    for a, b in zip(state, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.frame_count_ == count + 20
    # the same model applied once more gives the same mask for the same frame
    np.testing.assert_array_equal(model.apply(frames[45], 0), frozen[5])
    # a square that never moves is never learned with a frozen model
    still = frames[50]
    masks = [model.apply(still, 0) for _ in range(30)]
    np.testing.assert_array_equal(masks[0], masks[-1])
    assert np.any(masks[-1] == 255)


def test_automatic_learning_rate_is_opencvs_schedule():
    # alpha_n = 1 / min(2 n, history) (OpenCV MOG2's automatic rate); without
    # the prior (complexity_reduction=0) a lone component keeps weight 1, so its
    # mean follows m += alpha_n (x - m) from the first value.
    history = 8
    model = BackgroundSubtractor(
        history=history, detect_shadows=False, var_min=1e-3, complexity_reduction=0
    )
    values = [100.0, 102.0, 98.0, 101.0, 101.0, 99.5]
    expected = values[0]
    for n, v in enumerate(values, start=1):
        model.apply(np.full((2, 2), v, np.float32))
        if n > 1:
            expected += (v - expected) / min(2 * n, history)
        assert model.means_[0, 0, 0] == pytest.approx(expected, abs=1e-4), n


def test_learning_rate_one_rebuilds_from_the_frame():
    frames = static_frames(20)
    model = BackgroundSubtractor()
    for f in frames[:10]:
        model.apply(f)
    other = static_frames(1, seed=5)[0]
    model.apply(other, learning_rate=1)
    np.testing.assert_array_equal(model.weights_[0], 1.0)
    np.testing.assert_array_equal(model.weights_[1:], 0.0)
    np.testing.assert_allclose(model.means_[0], other, atol=1e-4)
    np.testing.assert_array_equal(model.variances_[1:], 0.0)


def test_float_frames_in_unit_range_with_scaled_variances():
    frames, truth = moving_square()
    s = 255.0**2
    scaled = BackgroundSubtractor(var_init=15 / s, var_min=4 / s, var_max=75 / s)
    plain = BackgroundSubtractor()
    a = np.array([plain.apply(f) for f in frames])
    b = np.array([scaled.apply(f.astype(np.float64) / 255) for f in frames])
    assert np.mean(a == b) > 0.999
    assert foreground_f1(b[40:], truth[40:]) > 0.9
    np.testing.assert_allclose(
        scaled.background_image() * 255, plain.background_image(), atol=1.0
    )


# ---------------------------------------------------------------- files
def learned(colour=False, n=60):
    video = synthetic_video(n, shape=(12, 18), colour=colour, start=10, seed=4)
    model = BackgroundSubtractor(4, history=200, var_threshold=12.5)
    for f in video.frames:
        model.apply(f)
    return model, video


@pytest.mark.parametrize("colour", [False, True])
def test_save_load_round_trip_is_exact(tmp_path, colour):
    model, _ = learned(colour)
    path = tmp_path / "bg.model"
    model.save(path)
    assert not (tmp_path / "bg.model.npz").exists()  # the name is kept as given
    again = BackgroundSubtractor.load(path)
    assert again.get_params() == model.get_params()
    assert again.frame_count_ == model.frame_count_
    assert again.frame_shape_ == model.frame_shape_
    assert again.frame_dtype_ == model.frame_dtype_
    for name in ("weights_", "means_", "variances_"):
        np.testing.assert_array_equal(getattr(again, name), getattr(model, name))
    np.testing.assert_array_equal(again.background_image(), model.background_image())
    more = synthetic_video(80, shape=(12, 18), colour=colour, start=10, seed=4).frames
    for f in more[60:]:
        np.testing.assert_array_equal(again.apply(f), model.apply(f))
    np.testing.assert_array_equal(again.weights_, model.weights_)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    np.testing.assert_array_equal(BackgroundSubtractor.load(buf).means_, model.means_)


def rewrite(path, change):
    """Copy a saved model with its members changed by ``change(dict)``."""
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    change(members)
    bad = path.with_name("bad.npz")
    with open(bad, "wb") as f:
        np.savez(f, **members)
    return bad


def header_edit(**fields):
    def change(members):
        header = json.loads(members["header.json"].tobytes())
        for key, value in fields.items():
            if value is None:
                del header[key]
            else:
                header[key] = value
        members["header.json"] = np.frombuffer(json.dumps(header).encode(), np.uint8)

    return change


def params_edit(**params):
    def change(members):
        header = json.loads(members["header.json"].tobytes())
        header["params"].update(params)
        members["header.json"] = np.frombuffer(json.dumps(header).encode(), np.uint8)

    return change


def set_member(name, value):
    def change(members):
        members[name] = value(members[name]) if callable(value) else value

    return change


def _swap_first_two(a):
    b = a.copy()
    b[[0, 1]] = b[[1, 0]]
    return b


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            set_member("weights", lambda a: a.astype(np.float64)),
            "weights must be float32",
        ),
        (set_member("means", lambda a: a[:, :-1]), "means must have shape"),
        (set_member("variances", lambda a: a * np.nan), "NaN or infinite"),
        (set_member("weights", lambda a: a * 2), "in \\[0, 1\\]|add up to 1"),
        (set_member("weights", _swap_first_two), "sorted by weight"),
        (
            set_member("variances", lambda a: np.where(a > 0, a + 100, a)),
            "within \\[var_min, var_max\\]",
        ),
        (set_member("variances", lambda a: a + 1), "unused components"),
        (set_member("header.json", np.zeros(3, np.float32)), "1-D uint8"),
        (set_member("header.json", np.frombuffer(b"{nope", np.uint8)), "not JSON"),
        (header_edit(format="gaussmix-model"), "format is 'gaussmix-model'"),
        (header_edit(version=99), "newer than this gaussmix reads"),
        (header_edit(version=True), "positive integer"),
        (header_edit(frame_count=None), "must have the fields"),
        (header_edit(frame_shape=[12, 18, 4]), "frame_shape"),
        (header_edit(frame_shape=[12, 19]), "must have shape"),
        (header_edit(frame_dtype="object"), "frame_dtype"),
        (header_edit(frame_count=0), "frame_count"),
        (params_edit(var_min=100.0), "bad parameters.*var_min <= var_init"),
        (params_edit(n_components=9), "must have shape"),
        (set_member("header.json", lambda a: a[:0]), "not JSON"),
    ],
)
def test_bad_files_are_refused(tmp_path, change, message):
    model, _ = learned()
    path = tmp_path / "good.npz"
    model.save(path)
    bad = rewrite(path, change)
    with pytest.raises(ValueError, match=message):
        BackgroundSubtractor.load(bad)


def test_files_that_are_not_models_are_refused(tmp_path):
    model, _ = learned()
    good = tmp_path / "good.npz"
    model.save(good)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"not an \.npz"):
        BackgroundSubtractor.load(text)
    # a missing member, an extra member
    with np.load(good) as npz:
        members = {k: npz[k] for k in npz.files}
    for keys in (
        {k: v for k, v in members.items() if k != "means"},
        {**members, "extra": np.zeros(1)},
    ):
        path = tmp_path / "keys.npz"
        np.savez(path, **keys)
        with pytest.raises(ValueError, match="expected the members"):
            BackgroundSubtractor.load(path)
    # an object array (would need pickle) is refused, not unpickled
    path = tmp_path / "pickle.npz"
    np.savez(path, **{**members, "means": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"holds Python objects.*never unpickled"):
        BackgroundSubtractor.load(path)
    # a damaged archive
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid background model file"):
        BackgroundSubtractor.load(broken)
    # a zip that is not an npz
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("header.json", "{}")
    with pytest.raises(ValueError, match="not a valid background model file"):
        BackgroundSubtractor.load(other)
    with pytest.raises(FileNotFoundError):
        BackgroundSubtractor.load(tmp_path / "missing.npz")


def test_files_of_earlier_versions_load(tmp_path):
    """Before gaussmix.io's writer, save wrote with np.savez: those files load."""
    model, _ = learned(colour=True)
    path = tmp_path / "new.npz"
    model.save(path)
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    old = tmp_path / "old.npz"
    with open(old, "wb") as f:
        np.savez(f, **members)
    again = BackgroundSubtractor.load(old)
    for name in ("weights_", "means_", "variances_"):
        np.testing.assert_array_equal(getattr(again, name), getattr(model, name))
    assert again.frame_count_ == model.frame_count_


def test_save_is_reproducible_and_atomic(tmp_path, monkeypatch):
    model, _ = learned()
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(a)
    model.save(b)
    assert a.read_bytes() == b.read_bytes()  # fixed timestamps and order
    buf = io.BytesIO()
    model.save(buf)
    assert buf.getvalue() == a.read_bytes()
    before = a.read_bytes()

    def full_disk(fileobj, members):
        fileobj.write(b"PK partial")
        raise OSError(28, "No space left on device")

    import gaussmix.apps.background as bg

    monkeypatch.setattr(bg, "write_npz", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.save(a)
    assert a.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


def test_saved_header_is_readable_json(tmp_path):
    model, _ = learned(colour=True)
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header.json"].tobytes().decode("utf-8"))
        assert npz["means"].shape == (4, 12, 18, 3)
    assert header["format"] == FORMAT_NAME
    assert header["frame_shape"] == [12, 18, 3]
    assert header["frame_dtype"] == "uint8"
    assert header["params"]["var_threshold"] == 12.5


def test_frozen_from_the_start(tmp_path):
    frames = static_frames(3)
    model = BackgroundSubtractor()
    assert np.all(model.apply(frames[0], learning_rate=0) == 255)
    assert model.frame_count_ == 1
    np.testing.assert_array_equal(model.background_image(), 0)
    np.testing.assert_array_equal(model.n_components_used_, 0)
    model.save(tmp_path / "empty.npz")
    again = BackgroundSubtractor.load(tmp_path / "empty.npz")
    np.testing.assert_array_equal(again.weights_, 0)
    assert np.all(again.apply(frames[1]) == 255)  # then learns
    assert np.mean(again.apply(frames[2]) == 0) > 0.99


def test_nothing_learned_yet():
    model = BackgroundSubtractor()
    with pytest.raises(ValueError, match="no frame yet"):
        model.background_image()
    with pytest.raises(ValueError, match="no frame yet"):
        model.save(io.BytesIO())
    with pytest.raises(ValueError, match="no frame yet"):
        _ = model.weights_


# ---------------------------------------------------------------- bad input
def test_frames_of_changing_shape_or_dtype_are_refused():
    model = BackgroundSubtractor()
    model.apply(np.zeros((10, 12), np.uint8))
    with pytest.raises(ValueError, match=r"frame 2 has shape \(10, 13\).*\(10, 12\)"):
        model.apply(np.zeros((10, 13), np.uint8))
    with pytest.raises(ValueError, match=r"has shape \(10, 12, 3\)"):
        model.apply(np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match=r"has dtype float32 but.*uint8"):
        model.apply(np.zeros((10, 12), np.float32))
    assert model.frame_count_ == 1
    model.apply(np.zeros((10, 12), ">u1"))  # byte order does not matter
    model.reset()
    model.apply(np.zeros((5, 5), ">f8"))
    assert model.frame_dtype_ == np.float64
    model.apply(np.zeros((5, 5), "<f8"))
    model.reset()
    model.apply(np.zeros((5, 5, 3), np.float32))
    assert model.frame_shape_ == (5, 5, 3)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((4, 5), np.int32), "uint8 or floating point"),
        (np.zeros((4, 5), bool), "uint8 or floating point"),
        (np.zeros((4, 5), np.longdouble), "uint8 or floating point"),
        (np.zeros(5, np.uint8), r"\(H, W\) grey or \(H, W, 3\)"),
        (np.zeros((4, 5, 4), np.uint8), r"\(H, W\) grey or \(H, W, 3\)"),
        (np.zeros((0, 5), np.uint8), "at least one pixel"),
        (np.full((4, 5), np.nan, np.float32), "NaN or infinite"),
        ([["a"]], "uint8 or floating point"),
    ],
)
def test_bad_frames(frame, message):
    with pytest.raises(ValueError, match=message):
        BackgroundSubtractor().apply(frame)


@pytest.mark.parametrize("rate", [1.5, float("nan"), "fast", None, True])
def test_bad_learning_rate(rate):
    with pytest.raises(ValueError, match="learning_rate"):
        BackgroundSubtractor().apply(np.zeros((3, 3), np.uint8), rate)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_components": 0}, "n_components must be in"),
        ({"n_components": 2.5}, "n_components must be an integer"),
        ({"history": 0}, "history"),
        ({"var_threshold": -1}, "var_threshold must be in"),
        ({"var_threshold": float("inf")}, "var_threshold must be in"),
        ({"detect_shadows": "yes"}, "detect_shadows must be True or False"),
        ({"background_ratio": 0.0}, "background_ratio"),
        ({"background_ratio": 1.2}, "background_ratio"),
        ({"var_init": 100.0}, "var_min <= var_init <= var_max"),
        ({"var_min": 0}, "var_min"),
        ({"complexity_reduction": 1.0}, "complexity_reduction"),
        ({"shadow_threshold": 0}, "shadow_threshold"),
        ({"shadow_value": 255}, "shadow_value"),
        ({"shadow_value": True}, "shadow_value must be an integer"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackgroundSubtractor(**kwargs)


def test_repr_and_params():
    model = BackgroundSubtractor(3, detect_shadows=False)
    assert repr(model) == "BackgroundSubtractor(n_components=3, detect_shadows=False)"
    assert repr(BackgroundSubtractor()) == "BackgroundSubtractor()"
    assert BackgroundSubtractor(**model.get_params()).get_params() == model.get_params()


# ---------------------------------------------------------------- helpers
def test_synthetic_video_is_reproducible_and_coded():
    a = synthetic_video(40, shape=(30, 40), colour=True, shadows=True, start=5)
    b = synthetic_video(40, shape=(30, 40), colour=True, shadows=True, start=5)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.frames.shape == (40, 30, 40, 3)
    assert a.frames.dtype == np.uint8
    assert set(np.unique(a.truth).tolist()) == {0, 127, 255}
    assert not np.any(a.truth[:5])  # nothing before the first object
    assert np.all(np.isnan(a.centroids[:5]))
    assert np.isfinite(a.centroids[-1]).all()
    c = synthetic_video(40, shape=(30, 40), seed=1)
    assert c.frames.shape == (40, 30, 40)
    assert not np.array_equal(c.frames, a.frames[..., 0])
    with pytest.raises(ValueError, match="shape"):
        synthetic_video(5, shape=(4, 40))


def test_foreground_f1():
    truth = np.array([0, 255, 255, 127, 0], np.uint8)
    assert foreground_f1(truth, truth) == 1.0
    mask = np.array([255, 255, 0, 0, 127], np.uint8)  # 1 TP, 1 FP, 1 FN
    assert foreground_f1(mask, truth) == pytest.approx(0.5)
    assert foreground_f1(np.zeros(3), np.zeros(3)) == 1.0
    with pytest.raises(ValueError, match="shape"):
        foreground_f1(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------- against OpenCV
@pytest.mark.parametrize("colour", [False, True])
def test_against_opencv_mog2(colour):
    """Same algorithm as OpenCV's MOG2: same F1 and almost the same masks.

    Both use their automatic learning rate, which is the same schedule,
    1 / min(2 n, history).
    """
    cv2 = pytest.importorskip("cv2")
    cv2.setNumThreads(1)
    video = synthetic_video(200, shape=(60, 80), colour=colour, shadows=True, seed=5)
    ours = BackgroundSubtractor()
    theirs = cv2.createBackgroundSubtractorMOG2(500, 16, True)
    a, b = [], []
    for frame in video.frames:
        a.append(ours.apply(frame))
        b.append(theirs.apply(frame))
    a, b = np.array(a)[60:], np.array(b)[60:]
    truth = video.truth[60:]
    f1_ours, f1_cv = foreground_f1(a, truth), foreground_f1(b, truth)
    # (grey: dark stripes of the objects pass for shadows, for both)
    assert f1_ours > (0.55 if not colour else 0.8)
    assert f1_ours >= f1_cv - 0.01
    assert np.mean(a == b) > 0.98
    background = ours.background_image().astype(float)
    assert np.median(np.abs(background - theirs.getBackgroundImage())) <= 1.0


# ---------------------------------------------------------------- example
def test_tracking_example_small(tmp_path):
    spec = importlib.util.spec_from_file_location("bg_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--small", "--out", str(tmp_path)])
    assert len(result["figures"]) == 2
    for figure in result["figures"]:
        path = Path(figure)
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
    assert result["f1"] > 0.7
    assert result["f1_cleaned"] > result["f1"]
    # every object is followed by one long track, close to its true path
    assert result["n_objects"] == 2
    assert result["n_long_tracks"] >= result["n_objects"]
    assert len(set(result["best_tracks"])) == result["n_objects"]
    assert min(result["coverage"]) > 0.8
    assert result["track_error"] < 2.0
    # the waving tree needs more components than the plain background
    used, tree = result["components_used"], result["tree"]
    assert np.median(used[tree]) >= 3
    assert np.median(used[~tree]) <= 2
