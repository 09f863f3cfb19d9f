"""Image segmentation: a Gaussian mixture over pixel colour and position.

Every pixel becomes a feature vector — its colour in a perceptual colour space
(CIELAB by default), optionally followed by its scaled row and column — and a
mixture fitted to a random subsample of the pixels labels all of them. Unlike
k-means, each segment has its own covariance, so a busy region (grass, water)
and a flat one (sky) of similar mean colour are told apart by their spread.

The sRGB to CIELAB conversion is implemented here in NumPy (the standard
formulas of IEC 61966-2-1 and CIE 1976, D65 white point) rather than taken from
scikit-image: it is twenty lines of fixed arithmetic, and scikit-image would add
a runtime dependency (with four dependencies of its own) to a library whose only
requirements are NumPy, SciPy and scikit-learn. The test suite checks it against
``skimage.color.rgb2lab`` where scikit-image is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from gaussmix._typing import FloatArray, IntArray
from gaussmix.mixture import GaussianMixture

__all__ = ["image_features", "mean_color_image", "rgb_to_lab", "segment_image"]

_FEATURES = ("color", "position")
_COLOR_SPACES = ("lab", "rgb")

# Linear sRGB to CIE XYZ (D65), and the D65 reference white, as scikit-image uses.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
# CIE 1976: f(t) = t^(1/3) above (6/29)^3, linear below.
_DELTA = 6.0 / 29.0


def _srgb_to_linear(c: FloatArray) -> FloatArray:
    """Undo the sRGB transfer curve (values in [0, 1])."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab_f(t: FloatArray) -> FloatArray:
    cube_root = np.cbrt(t)
    linear = t / (3.0 * _DELTA**2) + 4.0 / 29.0
    return np.where(t > _DELTA**3, cube_root, linear)


def rgb_to_lab(rgb: Any) -> FloatArray:
    """Convert sRGB colours in [0, 1] to CIELAB (D65 white point).

    Parameters
    ----------
    rgb : array-like of shape (..., 3)
        sRGB colours with channel values in [0, 1].

    Returns
    -------
    lab : ndarray of shape (..., 3)
        ``L*`` in [0, 100] and ``a*``, ``b*`` roughly in [-128, 128]. Equal
        Euclidean distances are roughly equal perceived colour differences.

    Raises
    ------
    ValueError
        If the last axis does not have length 3 or a value lies outside [0, 1].
    """
    c = np.asarray(rgb, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] != 3:
        raise ValueError(
            f"rgb_to_lab: expected colours with a last axis of length 3 (R, G, B), "
            f"got shape {c.shape}."
        )
    if (
        not np.all(np.isfinite(c))
        or c.min(initial=0.0) < 0.0
        or c.max(initial=0.0) > 1.0
    ):
        raise ValueError(
            "rgb_to_lab: colour values must be finite and in [0, 1]; divide 8-bit "
            "values by 255."
        )
    xyz = _srgb_to_linear(c) @ _RGB_TO_XYZ.T
    fx, fy, fz = np.moveaxis(_lab_f(xyz / _WHITE_D65), -1, 0)
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def _grey_to_lightness(grey: FloatArray) -> FloatArray:
    """``L*`` of grey sRGB values in [0, 1] (luminance Y equals the linear value)."""
    return 116.0 * _lab_f(_srgb_to_linear(grey)) - 16.0


def _as_unit_image(image: Any, color_space: str) -> FloatArray:
    """Validate an image; return it as float64 with colour values in [0, 1] ('lab')."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(
            f"segment_image: expected a grey image of shape (H, W) or a colour image "
            f"of shape (H, W, 3), got shape {arr.shape}. Drop an alpha channel with "
            "image[..., :3]."
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"segment_image: the image is empty (shape {arr.shape}).")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(
            f"segment_image: image values must be integers (e.g. uint8) or floats, "
            f"got dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 65535:
            raise ValueError(
                f"segment_image: integer image values must be in 0..255 (8-bit) or "
                f"0..65535 (16-bit), found {low}..{high}."
            )
        scale = 255.0 if arr.dtype.itemsize == 1 or high <= 255 else 65535.0
        return arr.astype(np.float64) / scale
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError("segment_image: the image contains NaN or infinity.")
    if color_space == "lab" and (out.min() < 0.0 or out.max() > 1.0):
        raise ValueError(
            "segment_image: a float image must have values in [0, 1] for "
            f"color_space='lab' (found [{out.min():.3g}, {out.max():.3g}]); rescale "
            "it, pass uint8 values, or use color_space='rgb'."
        )
    return out


def _check_options(
    features: Sequence[str], color_space: str, position_weight: float
) -> tuple[bool, bool]:
    if isinstance(features, str):
        features = (features,)
    unknown = [f for f in features if f not in _FEATURES]
    if unknown or not features:
        raise ValueError(
            f"segment_image: features must be a non-empty subset of {_FEATURES}, "
            f"got {tuple(features)!r}."
        )
    if color_space not in _COLOR_SPACES:
        raise ValueError(
            f"segment_image: color_space must be one of {_COLOR_SPACES}, "
            f"got {color_space!r}."
        )
    if not (np.isfinite(position_weight) and position_weight > 0):
        raise ValueError(
            f"segment_image: position_weight must be a positive number, "
            f"got {position_weight!r}."
        )
    return "color" in features, "position" in features


def _pixel_features(
    pixels: FloatArray,
    rows: IntArray,
    cols: IntArray,
    shape: tuple[int, int],
    use_color: bool,
    use_position: bool,
    color_space: str,
    position_weight: float,
) -> FloatArray:
    """Feature matrix of some pixels: values (n,) or (n, 3) at (rows, cols)."""
    columns: list[FloatArray] = []
    if use_color:
        if color_space == "lab":
            color = (
                rgb_to_lab(pixels) if pixels.ndim == 2 else _grey_to_lightness(pixels)
            )
        else:
            color = pixels
        columns.append(color.reshape(pixels.shape[0], -1))
    if use_position:
        # The longer side spans position_weight times the colour scale (100 for
        # L*, 1 for RGB in [0, 1]).
        scale = position_weight * (100.0 if color_space == "lab" else 1.0) / max(shape)
        columns.append(np.column_stack([rows, cols]).astype(np.float64) * scale)
    return np.concatenate(columns, axis=1)


def _features_of_rows(
    unit: FloatArray,
    rows: slice,
    use_color: bool,
    use_position: bool,
    color_space: str,
    position_weight: float,
) -> FloatArray:
    """Feature matrix of the image rows ``rows`` (row-major pixel order)."""
    block = unit[rows]
    h, w = block.shape[:2]
    r, c = np.divmod(np.arange(h * w), w)
    return _pixel_features(
        block.reshape(h * w, *block.shape[2:]),
        r + rows.start,
        c,
        (unit.shape[0], unit.shape[1]),
        use_color,
        use_position,
        color_space,
        position_weight,
    )


def image_features(
    image: Any,
    features: Sequence[str] = ("color", "position"),
    color_space: str = "lab",
    position_weight: float = 0.5,
) -> FloatArray:
    """Per-pixel feature matrix, as :func:`segment_image` fits it.

    Parameters
    ----------
    image : array-like of shape (H, W, 3) or (H, W)
        Colour (sRGB) or grey image: integers (8-bit 0..255 or 16-bit) or floats
        in [0, 1].
    features : sequence of {'color', 'position'}, default=('color', 'position')
        Which features each pixel gets, in this order: its colour (3 values, or
        1 for a grey image), then its row and column.
    color_space : {'lab', 'rgb'}, default='lab'
        'lab' converts colours to CIELAB (grey values to ``L*``); 'rgb' keeps
        the values scaled to [0, 1] (floats as given).
    position_weight : float, default=0.5
        Row and column are scaled so that the longer image side spans
        ``position_weight`` times the colour scale (100 for 'lab', the ``L*``
        range; 1 for 'rgb').

    Returns
    -------
    X : ndarray of shape (H * W, n_features)
        One row per pixel, in row-major order.
    """
    use_color, use_position = _check_options(features, color_space, position_weight)
    unit = _as_unit_image(image, color_space)
    return _features_of_rows(
        unit,
        slice(0, unit.shape[0]),
        use_color,
        use_position,
        color_space,
        position_weight,
    )


def segment_image(
    image: Any,
    n_components: int,
    *,
    features: Sequence[str] = ("color", "position"),
    color_space: str = "lab",
    position_weight: float = 0.5,
    covariance_type: str = "full",
    max_pixels: int | None = 20_000,
    chunk_pixels: int = 1 << 16,
    random_state: Any = None,
    **mixture_params: Any,
) -> tuple[IntArray, GaussianMixture]:
    """Segment an image with a Gaussian mixture over pixel colour and position.

    Parameters
    ----------
    image : array-like of shape (H, W, 3) or (H, W)
        Colour (sRGB) or grey image: integers or floats in [0, 1]. Integer
        values are 8-bit (divided by 255) when all are at most 255, otherwise
        16-bit (divided by 65535).
    n_components : int
        Number of segments (mixture components).
    features : sequence of {'color', 'position'}, default=('color', 'position')
        Pixel features: colour, and row/column position. Position makes segments
        spatially compact; colour alone groups equal colours wherever they are.
    color_space : {'lab', 'rgb'}, default='lab'
        Colour features in CIELAB (perceptually even) or in RGB.
    position_weight : float, default=0.5
        Scale of the position features: the longer image side spans
        ``position_weight`` times the colour scale (100 for 'lab', 1 for 'rgb').
        A Gaussian likelihood with 'full', 'tied' or 'diag' covariances does
        not depend on how features are scaled, so there the weight only changes
        the k-means initialisation (and the effect of ``reg_covar``); with
        'spherical' covariances it sets how much position counts.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Covariance type of the mixture.
    max_pixels : int or None, default=20_000
        The mixture is fitted on this many pixels drawn at random without
        replacement (all pixels if None or if the image is smaller); every pixel
        is then labelled.
    chunk_pixels : int, default=65536
        About this many pixels are converted and labelled at a time, which
        bounds the memory of large images.
    random_state : int, RandomState instance or None, default=None
        Seed of the subsample and of the mixture's initialisation.
    **mixture_params
        Further parameters of :class:`gaussmix.GaussianMixture` (``n_init``,
        ``max_iter``, ``tol``, ``reg_covar``, ...).

    Returns
    -------
    labels : ndarray of shape (H, W)
        Segment of every pixel, in ``0 .. n_components - 1`` (the component of
        ``model``).
    model : GaussianMixture
        The fitted mixture; its features are those of :func:`image_features`.

    Raises
    ------
    ValueError
        For an image of the wrong shape or value range, unknown features or
        colour space, or a non-positive ``max_pixels``/``chunk_pixels``.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.apps.segmentation import segment_image
    >>> image = np.zeros((20, 30, 3), dtype=np.uint8)
    >>> image[:, 15:] = (200, 30, 30)
    >>> labels, model = segment_image(image, 2, features=("color",), random_state=0)
    >>> labels.shape, len(np.unique(labels[:, :15])), len(np.unique(labels[:, 15:]))
    ((20, 30), 1, 1)
    """
    use_color, use_position = _check_options(features, color_space, position_weight)
    unit = _as_unit_image(image, color_space)
    for name, value in (("max_pixels", max_pixels), ("chunk_pixels", chunk_pixels)):
        if value is None and name == "max_pixels":
            continue
        if (
            not isinstance(value, (int, np.integer))
            or isinstance(value, bool)
            or value < 1
        ):
            raise ValueError(
                f"segment_image: {name} must be a positive integer, got {value!r}."
            )
    height, width = unit.shape[:2]
    n_pixels = height * width
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(
            f"segment_image: n_components must be a positive integer, got {n_components!r}."
        )
    if n_pixels < n_components:
        raise ValueError(
            f"segment_image: the image has {n_pixels} pixels, fewer than "
            f"n_components={n_components}."
        )
    rng = check_random_state(random_state)
    if max_pixels is None or n_pixels <= max_pixels:
        X = _features_of_rows(
            unit,
            slice(0, height),
            use_color,
            use_position,
            color_space,
            position_weight,
        )
    else:
        pick = rng.choice(n_pixels, size=int(max_pixels), replace=False)
        r, c = np.divmod(np.sort(pick), width)
        X = _pixel_features(
            unit[r, c],
            r,
            c,
            (height, width),
            use_color,
            use_position,
            color_space,
            position_weight,
        )
    model = GaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        random_state=rng,
        **mixture_params,
    ).fit(X)

    labels = np.empty((height, width), dtype=np.intp)
    rows_per_chunk = max(1, int(chunk_pixels) // width)
    for start in range(0, height, rows_per_chunk):
        rows = slice(start, min(height, start + rows_per_chunk))
        chunk = _features_of_rows(
            unit, rows, use_color, use_position, color_space, position_weight
        )
        labels[rows] = model.predict(chunk).reshape(rows.stop - start, width)
    return labels, model


def mean_color_image(image: Any, labels: Any) -> FloatArray:
    """Paint every segment in its mean colour (for showing a segmentation).

    Parameters
    ----------
    image : array-like of shape (H, W, 3) or (H, W)
        The segmented image, as given to :func:`segment_image`.
    labels : array-like of int, shape (H, W)
        Segment of every pixel.

    Returns
    -------
    painted : ndarray of shape (H, W, 3) or (H, W)
        Floats in the scale of ``image`` scaled to [0, 1] (uint8 divided by 255),
        each pixel replaced by the mean of its segment.
    """
    unit = _as_unit_image(image, "rgb")
    lab = np.asarray(labels)
    if lab.shape != unit.shape[:2] or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(
            f"mean_color_image: labels must be integers of shape {unit.shape[:2]} "
            f"(the image's height and width), got {lab.dtype} of shape {lab.shape}."
        )
    flat = unit.reshape(lab.size, -1)
    _, inverse = np.unique(lab.ravel(), return_inverse=True)
    counts = np.bincount(inverse)
    means = (
        np.stack(
            [np.bincount(inverse, weights=flat[:, j]) for j in range(flat.shape[1])],
            axis=1,
        )
        / counts[:, None]
    )
    return np.asarray(means[inverse].reshape(unit.shape), dtype=np.float64)
