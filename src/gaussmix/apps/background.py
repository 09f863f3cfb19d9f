"""Per-pixel adaptive Gaussian mixture background model for video.

:class:`BackgroundSubtractor` keeps, for every pixel, a small Gaussian mixture
of the values that pixel has shown, updated online with each new frame, and
marks as foreground the pixels that the background part of their mixture does
not explain. It is the method of Stauffer and Grimson (1999) with the update
rules of Zivkovic (2004) and Zivkovic and van der Heijden (2006), which also
choose the number of components per pixel: a prior pulls the weight of every
component down by ``alpha * complexity_reduction`` per frame, components whose
weight falls below zero are dropped, and a new component is made for a value
that no component explains. A steady pixel ends up with one component, a
waving tree with three or more. The parameters and their defaults are those of
OpenCV's ``BackgroundSubtractorMOG2``, which implements the same papers, and
the foreground mask uses its values: 255 foreground, 0 background and 127
(``shadow_value``) for shadows.

The update is vectorised over the pixels with NumPy in float32 (a Python loop
runs over the few components only). Components are kept sorted by weight, as
the papers do, without sorting: a frame changes the order of at most one
component per pixel, which one bubble pass puts back in place.

The model of one pixel
----------------------
Each component ``m`` has a weight ``w_m``, a mean ``mu_m`` (one value per
channel) and one variance ``var_m`` for all channels. With ``d2`` the squared
distance ``|x - mu_m|^2`` summed over the channels:

* ``x`` is *close* to ``m`` if ``d2 < var_threshold_gen * var_m``; the first
  close component in weight order owns ``x``;
* the *background components* are the heaviest ones, in weight order, up to
  the first whose preceding weights add up to ``background_ratio`` or more;
* ``x`` is *background* if ``d2 < var_threshold * var_m`` for a background
  component; otherwise it is foreground, or shadow if shadow detection finds it
  a darker copy of a background component.

The update with learning rate ``alpha`` (Zivkovic 2004)::

    w_m   <- w_m + alpha * (o_m - w_m) - alpha * complexity_reduction
    mu_m  <- mu_m + o_m * (alpha / w_m) * (x - mu_m)
    var_m <- var_m + o_m * (alpha / w_m) * (d2 - var_m), clipped to [var_min, var_max]

where ``o_m`` is 1 for the owner and 0 otherwise (the step ``alpha / w_m`` is
capped at 1, which only matters for an owner lighter than
``alpha * complexity_reduction``, so for learning rates near 1). Components
with a negative weight are dropped; if no component owns ``x``, a new one
(weight ``alpha``, mean ``x``, variance ``var_init``) takes a free slot or the
place of the lightest; the weights are then divided by their sum. As in the
paper and in MOG2, the variance of a colour pixel is updated with the distance
summed over the channels, so ``var_init``, ``var_min`` and ``var_max`` are on
that scale.

References
----------
C. Stauffer and W. E. L. Grimson, "Adaptive background mixture models for
real-time tracking", CVPR 1999.

Z. Zivkovic, "Improved adaptive Gaussian mixture model for background
subtraction", ICPR 2004.

Z. Zivkovic and F. van der Heijden, "Efficient adaptive density estimation per
image pixel for the task of background subtraction", Pattern Recognition
Letters 27(7), 2006.

A. Prati, I. Mikic, M. M. Trivedi and R. Cucchiara, "Detecting moving shadows:
algorithms and evaluation", IEEE PAMI 25(7), 2003.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
from dataclasses import dataclass
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError

from gaussmix._archive import ArchiveError, open_npz, write_atomically, write_npz

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BackgroundSubtractor",
    "SyntheticVideo",
    "foreground_f1",
    "synthetic_video",
]

#: Value of the ``format`` field in the header of a saved model.
FORMAT_NAME: Final = "gaussmix-background"
#: Version of the file format written by :meth:`BackgroundSubtractor.save`.
FORMAT_VERSION: Final = 1

_KIND: Final = "background model file"
_HEADER_KEY: Final = "header.json"
_ARRAY_KEYS: Final = ("weights", "means", "variances")
_FRAME_DTYPES: Final = ("uint8", "float16", "float32", "float64")
_F32: Final = np.float32
#: Bounds that keep the divisor of the owner's step positive (see ``_update``).
_TINY: Final = np.float32(1e-30)
_HUGE: Final = np.float32(3e38)

F32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
UInt8Array = npt.NDArray[np.uint8]


def _check_number(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float:
    """Return ``value`` as a float after checking its type and range."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real)
    if not ok_type or isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    v = float(value)
    below = v <= low if low_open else v < low
    above = v >= high if high_open else v > high
    if math.isnan(v) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(
            f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}"
        )
    return v


class _Sub:
    """The pixels that the heaviest component does not settle, gathered.

    Arrays are those of the model at the pixels ``rest``: ``w`` (K, n),
    ``var`` (K, n), ``mu`` (K, C, n) and the frame ``x`` (C, n), with the
    differences ``diff = x - mu``, the squared distances ``d2``, and which
    components are close to ``x`` and which are background.
    """

    def __init__(
        self,
        rest: npt.NDArray[np.intp],
        x: F32Array,
        w: F32Array,
        var: F32Array,
        mu: F32Array,
    ) -> None:
        self.rest, self.x, self.w, self.var, self.mu = rest, x, w, var, mu
        self.diff = np.empty_like(mu)
        self.d2 = np.empty_like(w)
        self.close = np.empty(w.shape, np.bool_)
        self.in_bg = np.empty(w.shape, np.bool_)


class BackgroundSubtractor:
    """Adaptive per-pixel Gaussian mixture background model (Zivkovic's MOG2).

    Feed the frames of a video one by one to :meth:`apply`; it updates the
    model and returns the foreground mask of the frame. Parameters and
    defaults follow OpenCV's ``createBackgroundSubtractorMOG2``.

    Parameters
    ----------
    n_components : int, default=5
        Largest number of Gaussian components per pixel (OpenCV's
        ``nmixtures``). Pixels use fewer when fewer explain their values.
    history : int, default=500
        Number of recent frames that make the background: the automatic
        learning rate is ``1 / min(2 * frame_count, history)``, OpenCV MOG2's.
    var_threshold : float, default=16
        Threshold on the squared Mahalanobis distance ``d2 / var`` below which
        a value is explained by a background component (16: four standard
        deviations). It decides the mask, not the update.
    detect_shadows : bool, default=True
        Mark shadows with ``shadow_value`` in the mask: foreground pixels whose
        value is a darker copy of a background component (brightness ratio in
        ``[shadow_threshold, 1]`` and a colour distortion within
        ``var_threshold``).
    background_ratio : float, default=0.9
        The background components are the heaviest ones whose preceding
        weights add up to less than this. A new value that stays put becomes
        background after about ``-log(background_ratio) * history`` frames,
        once the learning rate is ``1 / history`` (53 with the defaults; 56
        measured, with the prior).
    var_threshold_gen : float, default=9
        Squared Mahalanobis distance below which a value updates an existing
        component instead of making a new one (three standard deviations).
    var_init : float, default=15
        Variance of a new component.
    var_min, var_max : float, default=4, 75
        Bounds on the variances.
    complexity_reduction : float, default=0.05
        Weight of the prior that removes components (Zivkovic's ``c_T``):
        every weight loses ``alpha * complexity_reduction`` per frame, so a
        component needs about that share of the recent values to survive.
        0 keeps every component.
    shadow_threshold : float, default=0.5
        Darkest brightness ratio still taken for a shadow (Prati et al.'s
        ``tau``): 0.5 means a pixel more than twice darker than the
        background is not a shadow.
    shadow_value : int, default=127
        Value of shadow pixels in the mask.

    Attributes
    ----------
    frame_count_ : int
        Number of frames given to :meth:`apply` since the model was made.
    frame_shape_ : tuple of int or None
        Shape of the frames, fixed by the first one.
    frame_dtype_ : numpy.dtype or None
        Data type of the frames, fixed by the first one.

    See Also
    --------
    synthetic_video : test videos with an exact ground truth.
    foreground_f1 : F1 score of foreground masks against a ground truth.

    Notes
    -----
    Frames are ``(H, W)`` grey or ``(H, W, 3)`` colour images, ``uint8`` or
    floating point. Values are used as they are: the variance parameters are
    in squared intensity units, with defaults meant for 0-255 images, so for
    float images scaled to [0, 1] divide them by ``255 ** 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.apps.background import BackgroundSubtractor
    >>> rng = np.random.default_rng(0)
    >>> model = BackgroundSubtractor(history=50)
    >>> for _ in range(60):
    ...     frame = (100 + 2 * rng.standard_normal((24, 32))).astype(np.uint8)
    ...     mask = model.apply(frame)
    >>> frame[5:15, 5:15] = 200  # a bright square appears
    >>> mask = model.apply(frame)
    >>> bool((mask[5:15, 5:15] == 255).all()), int((mask == 255).sum())
    (True, 100)
    """

    def __init__(
        self,
        n_components: int = 5,
        history: int = 500,
        var_threshold: float = 16.0,
        *,
        detect_shadows: bool = True,
        background_ratio: float = 0.9,
        var_threshold_gen: float = 9.0,
        var_init: float = 15.0,
        var_min: float = 4.0,
        var_max: float = 75.0,
        complexity_reduction: float = 0.05,
        shadow_threshold: float = 0.5,
        shadow_value: int = 127,
    ) -> None:
        big = 1e30
        self.n_components = int(
            _check_number("n_components", n_components, 1, 255, integer=True)
        )
        self.history = int(
            _check_number("history", history, 1, 2**31 - 1, integer=True)
        )
        self.var_threshold = _check_number(
            "var_threshold", var_threshold, 0, big, low_open=True
        )
        if not isinstance(detect_shadows, bool | np.bool_):
            raise ValueError(
                f"detect_shadows must be True or False, got {detect_shadows!r}"
            )
        self.detect_shadows = bool(detect_shadows)
        self.background_ratio = _check_number(
            "background_ratio", background_ratio, 0, 1, low_open=True, high_open=False
        )
        self.var_threshold_gen = _check_number(
            "var_threshold_gen", var_threshold_gen, 0, big, low_open=True
        )
        self.var_min = _check_number("var_min", var_min, 0, big, low_open=True)
        self.var_max = _check_number("var_max", var_max, 0, big, low_open=True)
        self.var_init = _check_number("var_init", var_init, 0, big, low_open=True)
        if not var_min <= var_init <= var_max:
            raise ValueError(
                "the variances must satisfy var_min <= var_init <= var_max, got "
                f"var_min={var_min!r}, var_init={var_init!r}, var_max={var_max!r}"
            )
        self.complexity_reduction = _check_number(
            "complexity_reduction", complexity_reduction, 0, 1, high_open=True
        )
        self.shadow_threshold = _check_number(
            "shadow_threshold", shadow_threshold, 0, 1, low_open=True
        )
        self.shadow_value = int(
            _check_number("shadow_value", shadow_value, 1, 254, integer=True)
        )
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the learned model; the next frame may have any shape or dtype."""
        self.frame_count_ = 0
        self.frame_shape_: tuple[int, ...] | None = None
        self.frame_dtype_: np.dtype[Any] | None = None
        self._w: F32Array | None = None
        self._var: F32Array | None = None
        self._mu: F32Array | None = None

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters of this model.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in _PARAMS}

    def __repr__(self) -> str:
        defaults = BackgroundSubtractor.__init__.__kwdefaults__ or {}
        positional = {"n_components": 5, "history": 500, "var_threshold": 16.0}
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if v != {**defaults, **positional}.get(k)
        ]
        return f"BackgroundSubtractor({', '.join(shown)})"

    def _allocate(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        """Make an empty model (every component unused) and the work buffers."""
        h, w = shape[:2]
        n = h * w
        c = 1 if len(shape) == 2 else shape[2]
        k = self.n_components
        self.frame_shape_ = shape
        self.frame_dtype_ = dtype
        self._w = np.zeros((k, n), _F32)
        self._var = np.zeros((k, n), _F32)
        self._mu = np.zeros((k, c, n), _F32)
        self._allocate_buffers()

    def _allocate_buffers(self) -> None:
        assert self._mu is not None
        k, c, n = self._mu.shape
        self._x = np.empty((c, n), _F32)
        self._diff0 = np.empty((c, n), _F32)
        self._d20 = np.empty(n, _F32)
        self._t = np.empty(n, _F32)
        self._u = np.empty(n, _F32)
        self._rho = np.empty(n, _F32)
        self._close0 = np.empty(n, np.bool_)
        self._b1 = np.empty(n, np.bool_)
        self._b2 = np.empty(n, np.bool_)
        self._alive = np.empty((k - 1, n), np.bool_)
        self._sub: _Sub | None = None

    def _model(self) -> tuple[F32Array, F32Array, F32Array]:
        if self._w is None or self._var is None or self._mu is None:
            raise NotFittedError(
                "this BackgroundSubtractor has seen no frame yet: call apply(frame) "
                "first, or load a saved model with BackgroundSubtractor.load(path)"
            )
        return self._w, self._var, self._mu

    # ------------------------------------------------------------------ input
    def _check_frame(self, frame: Any) -> npt.NDArray[Any]:
        a = np.asarray(frame)
        if a.dtype.name not in _FRAME_DTYPES:
            raise ValueError(
                "frames must be uint8 or floating point (float16, float32 or "
                f"float64), got dtype {a.dtype}; convert with frame.astype(np.float32)"
            )
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)):
            raise ValueError(
                "a frame must be a (H, W) grey or (H, W, 3) colour image, got an "
                f"array of shape {a.shape}"
            )
        if a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(
                f"a frame must have at least one pixel, got shape {a.shape}"
            )
        if self.frame_shape_ is not None:
            if a.shape != self.frame_shape_:
                raise ValueError(
                    f"frame {self.frame_count_ + 1} has shape {a.shape} but the "
                    f"model was learned on frames of shape {self.frame_shape_}; "
                    "use one BackgroundSubtractor per video, or reset() it"
                )
            if a.dtype.name != str(self.frame_dtype_):
                raise ValueError(
                    f"frame {self.frame_count_ + 1} has dtype {a.dtype} but the "
                    f"model was learned on {self.frame_dtype_} frames; convert the "
                    "frame, or reset() the model"
                )
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(
                f"frame {self.frame_count_ + 1} has NaN or infinite values; "
                "frames must be finite"
            )
        return a

    def _learning_rate(self, learning_rate: float) -> float:
        lr = _check_number("learning_rate", learning_rate, -math.inf, 1)
        if lr < 0:
            return 1.0 / min(2 * (self.frame_count_ + 1), self.history)
        return lr

    # ------------------------------------------------------------------ apply
    def apply(self, frame: npt.ArrayLike, learning_rate: float = -1.0) -> UInt8Array:
        """Classify the pixels of one frame, then update the model with it.

        Parameters
        ----------
        frame : array_like of shape (H, W) or (H, W, 3)
            The next frame, ``uint8`` or floating point; every frame of a video
            must have the first frame's shape and dtype.
        learning_rate : float, default=-1
            Step of the update, in [0, 1]. Negative (the default) means
            ``1 / min(2 * frame_count, history)``, where ``frame_count`` counts
            this frame (OpenCV MOG2's automatic rate): half a running mean at
            first, then an exponential forgetting of time constant ``history``.
            0 leaves the model unchanged (a frozen background); 1 rebuilds it
            from this frame alone.

        Returns
        -------
        numpy.ndarray of shape (H, W), dtype uint8
            The foreground mask: 255 foreground, 0 background and
            ``shadow_value`` (127) shadow, as OpenCV's MOG2 returns it. The
            array is new at each call.

        Raises
        ------
        ValueError
            If the frame is not a grey or colour image of finite values, if
            its shape or dtype differs from the first frame's, or if
            ``learning_rate`` is above 1 or not a number.
        """
        a = self._check_frame(frame)
        alpha = self._learning_rate(learning_rate)
        if self._w is None:
            self._allocate(a.shape, np.dtype(a.dtype.name))  # native byte order
        x = self._x
        n = x.shape[1]
        if x.shape[0] == 1:
            np.copyto(x[0], a.reshape(n), casting="unsafe")
        else:
            np.copyto(x, a.reshape(n, x.shape[0]).T, casting="unsafe")
        mask = self._classify()
        if alpha > 0:
            self._update(alpha)
        self.frame_count_ += 1
        return mask.reshape(a.shape[:2])

    def _classify(self) -> UInt8Array:
        """Mask of the frame in ``self._x`` under the current model.

        The heaviest component explains most pixels: it is tested on the whole
        image, the other components only at the pixels it does not own (it is
        always background and ``var_threshold_gen < var_threshold`` as a rule,
        so those are the only pixels where they can change anything). What the
        update needs is kept in ``self._sub``.
        """
        w, var, mu = self._model()
        x, t, d0, d20 = self._x, self._t, self._diff0, self._d20
        channels = x.shape[0]
        tb = _F32(self.var_threshold)
        tg = _F32(self.var_threshold_gen)
        np.subtract(x, mu[0], out=d0)
        np.multiply(d0[0], d0[0], out=d20)
        for c in range(1, channels):
            np.multiply(d0[c], d0[c], out=t)
            d20 += t
        # Unused components have variance 0: d2 / 0 is inf (or nan for d2 = 0)
        # and compares False with both thresholds: they neither match nor own.
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(d20, var[0], out=t)
            close0 = np.less(t, tg, out=self._close0)
            # with var_threshold < var_threshold_gen, slot 0 can own a pixel
            # without explaining it: those pixels are decided below as well
            rest_mask = np.logical_not(close0, out=self._b1)
            if tb < tg:
                rest_mask |= np.greater_equal(t, tb, out=self._b2)
        rest = np.flatnonzero(rest_mask)
        mask = np.zeros(x.shape[1], np.uint8)
        self._sub = None
        if rest.size == 0:
            return mask
        sub = _Sub(
            rest=rest,
            x=x.take(rest, axis=1),
            w=w.take(rest, axis=1),
            var=var.take(rest, axis=1),
            mu=mu.take(rest, axis=2),
        )
        np.subtract(sub.x, sub.mu, out=sub.diff)
        np.einsum("kcn,kcn->kn", sub.diff, sub.diff, out=sub.d2)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = sub.d2 / sub.var
        np.less(q, tg, out=sub.close)
        sub.close[0] = close0.take(rest)
        match = q < tb
        # background components: the heaviest ones whose preceding weights add
        # up to less than background_ratio (weights are sorted, heaviest first)
        ratio = _F32(self.background_ratio)
        before = np.zeros(rest.size, _F32)
        sub.in_bg[0] = True
        for k in range(1, self.n_components):
            before += sub.w[k - 1]
            np.less(before, ratio, out=sub.in_bg[k])
        match &= sub.in_bg
        fg = np.flatnonzero(~match.any(axis=0))
        mask[rest[fg]] = 255
        if self.detect_shadows and fg.size:
            mask[rest[fg[self._shadows(sub, fg)]]] = self.shadow_value
        self._sub = sub
        return mask

    def _shadows(self, sub: _Sub, fg: npt.NDArray[np.intp]) -> BoolArray:
        """Which of the pixels ``sub.rest[fg]`` are darker copies of the background.

        Prati et al.'s test, as in MOG2: for a background component, the
        brightness ratio ``a = x.mu / mu.mu`` is in ``[shadow_threshold, 1]``
        and the colour distortion ``|x - a mu|^2`` is below
        ``var_threshold * var * a^2`` (for grey frames it is 0).
        """
        x = sub.x[:, fg]
        tau = _F32(self.shadow_threshold)
        tb = _F32(self.var_threshold)
        shadow = np.zeros(fg.size, np.bool_)
        with np.errstate(divide="ignore", invalid="ignore"):
            for k in range(self.n_components):
                v = sub.var[k, fg]
                candidate = sub.in_bg[k, fg] & (v > 0)
                if not candidate.any():
                    break  # sorted by weight: no later component is background
                m = sub.mu[k][:, fg]
                if x.shape[0] == 1:
                    a = x[0] / m[0]
                else:
                    a = np.einsum("cn,cn->n", x, m) / np.einsum("cn,cn->n", m, m)
                    r = x - a * m
                    distortion = np.einsum("cn,cn->n", r, r)
                    candidate &= distortion < tb * v * a * a
                candidate &= (a >= tau) & (a <= 1)
                shadow |= candidate
        return shadow

    def _update(self, alpha: float) -> None:
        """One step of Zivkovic's update with the frame in ``self._x``.

        The heaviest component owns most pixels and is updated with whole-image
        operations; the others are updated only where they own the value.
        """
        w, var, mu = self._model()
        x, t, u, rho = self._x, self._t, self._u, self._rho
        kk = self.n_components
        keep = _F32(1 - alpha)
        prune = _F32(alpha * self.complexity_reduction)
        a32 = _F32(alpha)
        vmin, vmax = _F32(self.var_min), _F32(self.var_max)
        # w <- (1 - alpha) w - alpha c_T + alpha o, with o = 1 for the owner
        # (the first close component in weight order)
        w *= keep
        w -= prune
        w0, v0, m0 = w[0], var[0], mu[0]
        np.multiply(self._close0, a32, out=rho)
        w0 += rho
        dropping = bool(w0.min() <= 0)  # only for a learning rate near 1
        if dropping:
            np.clip(w0, _TINY, _HUGE, out=t)
            rho /= t  # alpha o / w, and 0 where o = 0 (even if w <= 0)
        else:
            rho /= w0
        # The step alpha / w exceeds 1 only for an owner lighter than
        # alpha c_T / (1 - alpha): it is capped at 1, so that a mean never moves
        # past the value. The heaviest weight is at least 1 / K, so this can
        # only happen here for a learning rate near 1.
        if (1 - alpha) < alpha * self.complexity_reduction * kk:
            np.clip(rho, 0, 1, out=rho)
        # var <- var + rho (d2 - var), mu <- mu + rho (x - mu), rho = alpha o / w
        np.subtract(self._d20, v0, out=u)
        u *= rho
        v0 += u
        np.clip(v0, vmin, vmax, out=v0)
        for c in range(x.shape[0]):
            np.multiply(self._diff0[c], rho, out=t)
            m0[c] += t
        sub = self._sub
        new = np.empty(0, np.intp)
        if sub is not None:
            owned = sub.close[0].copy()
            for k in range(1, kk):
                own = sub.close[k] & ~owned
                owned |= own
                sel = np.flatnonzero(own)
                if sel.size == 0:
                    continue
                pix = sub.rest[sel]
                wo = w[k].take(pix)
                wo += a32
                w[k][pix] = wo
                r = np.minimum(a32 / wo, _F32(1))
                mu[k][:, pix] = sub.mu[k][:, sel] + r * sub.diff[k][:, sel]
                v = sub.var[k, sel]
                var[k][pix] = np.clip(v + r * (sub.d2[k, sel] - v), vmin, vmax)
            new = sub.rest[~owned]
        # drop the components whose weight fell below zero
        np.clip(w, 0, 1, out=w)
        if kk > 1:
            var[1:] *= np.greater(w[1:], 0, out=self._alive)
        if dropping:
            v0 *= w0 > 0
        if new.size:
            # a new component (weight alpha, mean x, variance var_init) in the
            # first unused slot, or in place of the lightest
            n = x.shape[1]
            slot = np.count_nonzero(w.take(new, axis=1) > 0, axis=0)
            np.minimum(slot, kk - 1, out=slot)
            w.reshape(-1)[slot * n + new] = a32
            var.reshape(-1)[slot * n + new] = _F32(self.var_init)
            channels = x.shape[0]
            mu_flat = mu.reshape(-1)
            for c in range(channels):
                mu_flat[(slot * channels + c) * n + new] = x[c].take(new)
        total = u
        np.copyto(total, w[0])
        for k in range(1, kk):
            total += w[k]
        np.divide(1, total, out=total)
        w *= total
        if sub is not None:
            self._restore_order(sub.rest)

    def _restore_order(self, pixels: npt.NDArray[np.intp]) -> None:
        """Sort the components of ``pixels`` by weight again after an update.

        Elsewhere the update kept the order: it maps all weights of a pixel but
        the owner's by the same increasing function, and the owner there is the
        heaviest component. At ``pixels`` at most one component (the owner or
        the new one) is out of place, and only too low: one pass that swaps
        neighbours from the last slot up carries it to its place.
        """
        w, var, mu = self._model()
        ws = w.take(pixels, axis=1)
        out_of_order = ws[1:] > ws[:-1]
        if not out_of_order.any():
            return
        cols = np.flatnonzero(out_of_order.any(axis=0))
        pix = pixels[cols]
        ws = ws[:, cols]
        vs = var.take(pix, axis=1)
        ms = mu.take(pix, axis=2)
        for k in range(self.n_components - 1, 0, -1):
            swap = np.flatnonzero(ws[k] > ws[k - 1])
            if swap.size == 0:
                continue
            for arr in (ws, vs, ms):
                low = arr[k, ..., swap].copy()
                arr[k, ..., swap] = arr[k - 1, ..., swap]
                arr[k - 1, ..., swap] = low
        w[:, pix] = ws
        var[:, pix] = vs
        mu[:, :, pix] = ms

    # ------------------------------------------------------------------ views
    def _image_shape(self) -> tuple[int, ...]:
        assert self.frame_shape_ is not None
        return self.frame_shape_

    def background_image(self) -> npt.NDArray[Any]:
        """The background as an image: each pixel's background components averaged.

        Returns
        -------
        numpy.ndarray
            Array of the frames' shape and dtype (``uint8`` values are
            rounded): at each pixel the weighted mean of the means of its
            background components (its main component where there is one),
            0 where the model has learned nothing yet.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If no frame has been seen yet (a ``ValueError``).
        """
        w, _, mu = self._model()
        k_all, channels, n = mu.shape
        ratio = _F32(self.background_ratio)
        cum = np.zeros(n, _F32)
        total = np.zeros(n, _F32)
        acc = np.zeros((channels, n), _F32)
        for k in range(k_all):
            weight = w[k] * (cum < ratio)
            acc += weight * mu[k]
            total += weight
            cum += w[k]
        # a pixel has no component only if no frame was learned (learning_rate=0)
        mean = np.divide(acc, total, out=np.zeros_like(acc), where=total > 0)
        shape = self._image_shape()
        image = mean.T.reshape(shape)
        assert self.frame_dtype_ is not None
        out: npt.NDArray[Any]
        if self.frame_dtype_ == np.uint8:
            out = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        else:
            out = image.astype(self.frame_dtype_)
        return out

    @property
    def n_components_used_(self) -> npt.NDArray[np.intp]:
        """Number of components in use at each pixel, shape (H, W)."""
        w, _, _ = self._model()
        used: npt.NDArray[np.intp] = np.count_nonzero(w > 0, axis=0)
        return used.reshape(self._image_shape()[:2])

    @property
    def weights_(self) -> F32Array:
        """Component weights, shape (n_components, H, W), heaviest first (a copy).

        Unused components have weight 0.
        """
        w, _, _ = self._model()
        return w.reshape((-1, *self._image_shape()[:2])).copy()

    @property
    def variances_(self) -> F32Array:
        """Component variances, shape (n_components, H, W) (a copy; 0 if unused)."""
        _, var, _ = self._model()
        return var.reshape((-1, *self._image_shape()[:2])).copy()

    @property
    def means_(self) -> F32Array:
        """Component means, shape (n_components, *frame_shape) (a copy)."""
        _, _, mu = self._model()
        k, c, _ = mu.shape
        h, w = self._image_shape()[:2]
        means = mu.reshape(k, c, h, w).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(means.reshape((k, *self._image_shape())))

    # ------------------------------------------------------------------ files
    def save(self, file: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the learned model to an ``.npz`` file (no pickle).

        The archive holds the JSON header ``header.json`` (format name and
        version, parameters, frame shape and dtype, frame count) as UTF-8
        bytes and the float32 arrays ``weights``, ``means`` and ``variances``
        in the layout of :attr:`weights_`, :attr:`means_` and
        :attr:`variances_`. The name is used as given (no ``.npz`` is added).

        Parameters
        ----------
        file : str, path-like or binary file object
            Where to write.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If no frame has been seen yet (a ``ValueError``).
        """
        self._model()
        assert self.frame_shape_ is not None
        assert self.frame_dtype_ is not None
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "params": self.get_params(),
            "frame_shape": list(self.frame_shape_),
            "frame_dtype": str(self.frame_dtype_),
            "frame_count": self.frame_count_,
        }
        raw = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        members: dict[str, npt.NDArray[Any]] = {
            _HEADER_KEY: raw,
            "weights": self.weights_,
            "means": self.means_,
            "variances": self.variances_,
        }
        if isinstance(file, str | os.PathLike):
            write_atomically(os.fspath(file), lambda f: write_npz(f, members))
        else:
            write_npz(file, members)

    @classmethod
    def load(cls, file: str | os.PathLike[str] | IO[bytes]) -> BackgroundSubtractor:
        """Read a model written by :meth:`save`, checking everything in it.

        The model continues exactly where the saved one stopped: the same
        next frames give the same masks.

        Parameters
        ----------
        file : str, path-like or binary file object
            The file to read.

        Returns
        -------
        BackgroundSubtractor
            The model.

        Raises
        ------
        ValueError
            If the file is not a background model file of a known version, or
            if anything in it is inconsistent (keys, header, parameters, array
            dtypes, shapes or values). Nothing in the file is ever unpickled.
        OSError
            If the file cannot be opened.
        """
        where = os.fspath(file) if isinstance(file, str | os.PathLike) else "the file"
        if isinstance(file, str | os.PathLike):
            with open(file, "rb") as f:
                return _read_model(f, str(where))
        return _read_model(file, str(where))


#: Constructor parameters, in signature order: what get_params and files hold.
_PARAMS: Final = tuple(inspect.signature(BackgroundSubtractor).parameters)


# ----------------------------------------------------------------- model files
def _read_model(f: IO[bytes], where: str) -> BackgroundSubtractor:
    """A model from an open file written by :meth:`BackgroundSubtractor.save`."""

    def bad(message: str) -> ValueError:
        return ValueError(f"{where} is not a valid {_KIND}: {message}")

    try:
        with open_npz(f, kind=_KIND, writer="BackgroundSubtractor.save") as npz:
            keys = set(npz.entries)
            expected = {_HEADER_KEY, *_ARRAY_KEYS}
            if keys != expected:
                raise bad(
                    f"expected the members {sorted(expected)}, found {sorted(keys)}"
                )
            arrays = {}
            for key in (_HEADER_KEY, *_ARRAY_KEYS):
                npz.declared(key)  # dtype and size, before the data are read
                arrays[key] = npz.read(key)
    except ArchiveError as exc:
        raise bad(str(exc)) from exc
    header = _parse_header(arrays.pop(_HEADER_KEY), bad)
    try:
        model = BackgroundSubtractor(**header["params"])
    except (TypeError, ValueError) as exc:
        raise bad(f"bad parameters in the header: {exc}") from exc
    shape = tuple(header["frame_shape"])
    model._allocate(shape, np.dtype(header["frame_dtype"]))
    model.frame_count_ = header["frame_count"]
    _set_arrays(model, arrays, bad)
    return model


def _parse_header(raw: npt.NDArray[Any], bad: Any) -> dict[str, Any]:
    """The checked JSON header of a model file."""
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise bad("header.json must be a 1-D uint8 array of UTF-8 bytes")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"header.json is not JSON ({exc})") from exc
    fields = {
        "format",
        "version",
        "params",
        "frame_shape",
        "frame_dtype",
        "frame_count",
    }
    if not isinstance(header, dict) or set(header) != fields:
        found = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise bad(f"the header must have the fields {sorted(fields)}, found {found}")
    if header["format"] != FORMAT_NAME:
        raise bad(f"format is {header['format']!r}, expected {FORMAT_NAME!r}")
    version = header["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise bad(
            f"format version {version} is newer than this gaussmix reads "
            f"({FORMAT_VERSION}); upgrade gaussmix"
        )
    params = header["params"]
    if not isinstance(params, dict) or set(params) != set(_PARAMS):
        raise bad(f"params must have the keys {list(_PARAMS)}")
    shape = header["frame_shape"]
    ok_shape = (
        isinstance(shape, list)
        and len(shape) in (2, 3)
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
        and (len(shape) == 2 or shape[2] in (1, 3))
    )
    if not ok_shape:
        raise bad(f"frame_shape must be [H, W] or [H, W, 1 or 3], got {shape!r}")
    if header["frame_dtype"] not in _FRAME_DTYPES:
        raise bad(f"frame_dtype must be one of {list(_FRAME_DTYPES)}")
    count = header["frame_count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise bad(f"frame_count must be a positive integer, got {count!r}")
    return header


def _set_arrays(
    model: BackgroundSubtractor, arrays: dict[str, npt.NDArray[Any]], bad: Any
) -> None:
    """Check a file's arrays against ``model``'s shape and limits, then take them."""
    k = model.n_components
    shape = model._image_shape()
    expected = {
        "weights": (k, *shape[:2]),
        "variances": (k, *shape[:2]),
        "means": (k, *shape),
    }
    for key, want in expected.items():
        a = arrays[key]
        if a.dtype != np.float32:
            raise bad(f"{key} must be float32, got {a.dtype}")
        if a.shape != want:
            raise bad(f"{key} must have shape {want}, got {a.shape}")
        if not np.isfinite(a).all():
            raise bad(f"{key} has NaN or infinite values")
    w = arrays["weights"].reshape(k, -1)
    var = arrays["variances"].reshape(k, -1)
    if (w < 0).any() or (w > 1).any():
        raise bad("weights must be in [0, 1]")
    total = w.sum(axis=0)
    if not np.all((np.abs(total - 1) <= 1e-4) | (total == 0)):
        raise bad("the weights of each pixel must add up to 1 (or all be 0)")
    if (np.diff(w, axis=0) > 0).any():
        raise bad(
            "the components of each pixel must be sorted by weight, heaviest first"
        )
    used = w > 0
    lo, hi = _F32(model.var_min), _F32(model.var_max)
    if ((var != 0) & ~used).any():
        raise bad("unused components (weight 0) must have variance 0")
    if ((var[used] < lo) | (var[used] > hi)).any():
        raise bad("variances must be within [var_min, var_max]")
    assert model._w is not None
    assert model._var is not None
    assert model._mu is not None
    model._w[...] = w
    model._var[...] = var
    channels = model._mu.shape[1]
    means = arrays["means"].reshape(k, -1, channels)
    model._mu[...] = means.transpose(0, 2, 1)


# ---------------------------------------------------------------------- videos
@dataclass(frozen=True)
class SyntheticVideo:
    """A generated video with its exact ground truth.

    Attributes
    ----------
    frames : numpy.ndarray of shape (T, H, W) or (T, H, W, 3), dtype uint8
        The frames.
    truth : numpy.ndarray of shape (T, H, W), dtype uint8
        Ground truth in the mask's coding: 255 moving object, 127 cast shadow,
        0 background (the waving-tree region included).
    tree : numpy.ndarray of shape (H, W), dtype bool
        The multimodal (waving-tree) region.
    centroids : numpy.ndarray of shape (T, n_objects, 2)
        Row and column of each object's centre (NaN before it appears).
    """

    frames: UInt8Array
    truth: UInt8Array
    tree: BoolArray
    centroids: npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Mover:
    """A textured rectangle or ellipse that bounces around the frame."""

    height: float
    width: float
    ellipse: bool
    y0: float
    x0: float
    vy: float
    vx: float
    colours: npt.NDArray[np.float64]  # the two stripe colours, (2, channels)
    period: float  # stripe period, pixels
    theta: float  # stripe direction
    grain: npt.NDArray[np.float64]  # fixed noise texture, (h, w, channels)
    t0: int  # first frame


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float
) -> npt.NDArray[np.float64]:
    from scipy.ndimage import gaussian_filter

    g = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    out: npt.NDArray[np.float64] = g / g.std()
    return out


def _bounce(p: float, lo: float, hi: float) -> float:
    """Position ``p`` folded back into ``[lo, hi]`` as if bouncing off the walls."""
    span = hi - lo
    if span <= 0:
        return lo
    q = (p - lo) % (2 * span)
    return lo + (q if q <= span else 2 * span - q)


def synthetic_video(
    n_frames: int = 300,
    shape: tuple[int, int] = (240, 320),
    *,
    colour: bool = False,
    noise: float = 3.0,
    drift: float = 0.05,
    drift_period: float = 1000.0,
    tree: bool = True,
    n_objects: int = 3,
    object_scale: float = 1.0,
    shadows: bool = False,
    start: int = 30,
    seed: int = 0,
) -> SyntheticVideo:
    """Make a test video with an exact foreground ground truth.

    The scene: a textured background (smooth random texture at four scales
    and a gradient), a slow global illumination change
    ``1 + drift * sin(2 pi t / drift_period)``, an optional waving-tree region
    whose pixels (in blocks of 3 x 3 at 320 x 240) switch at random between
    three colours (a multimodal background: stay with probability 0.7 each
    frame, colours used 50%, 30% and 20% of the time), and moving objects
    (rectangles and ellipses striped in a random colour and its complement,
    with a fixed grain) that bounce around the frame, the first appearing at
    frame ``start`` and the next ones 15 frames apart. With ``shadows`` each
    object casts a shadow (the background darkened to 60%) down and to the
    right. Gaussian sensor noise of standard deviation
    ``noise`` is added to every pixel and channel.

    Parameters
    ----------
    n_frames : int, default=300
        Number of frames.
    shape : tuple of int, default=(240, 320)
        Frame height and width.
    colour : bool, default=False
        Colour ``(H, W, 3)`` frames instead of grey ``(H, W)``.
    noise : float, default=3
        Standard deviation of the sensor noise, in grey levels.
    drift : float, default=0.05
        Amplitude of the illumination change (a relative gain).
    drift_period : float, default=1000
        Period of the illumination change, in frames.
    tree : bool, default=True
        Include the waving-tree region.
    n_objects : int, default=3
        Number of moving objects.
    object_scale : float, default=1
        Size of the objects: at 1, their height is 14% to 26% of the frame's
        and their width 10% to 20%.
    shadows : bool, default=False
        Objects cast shadows (marked 127 in the truth).
    start : int, default=30
        Frame where the first object appears.
    seed : int, default=0
        Seed of the random generator: the same arguments give the same video.

    Returns
    -------
    SyntheticVideo
        Frames, ground truth, tree region and object centroids.
    """
    _check_number("n_frames", n_frames, 1, 1e6, integer=True)
    _check_number("n_objects", n_objects, 0, 100, integer=True)
    _check_number("object_scale", object_scale, 0, 3, low_open=True)
    _check_number("noise", noise, 0, 255)
    _check_number("drift", drift, 0, 0.9)
    _check_number("drift_period", drift_period, 0, math.inf, low_open=True)
    _check_number("start", start, 0, math.inf, integer=True)
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(
            f"shape must be (height, width), each at least 8, got {shape!r}"
        )
    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
    channels = 3 if colour else 1
    scale = w / 320.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)

    offsets = (95.0, 120.0, 140.0) if colour else (120.0,)
    base = np.empty((h, w, channels))
    shared = 14 * _smooth_noise(rng, (h, w), 2.5 * scale) + 20 * _smooth_noise(
        rng, (h, w), 12 * scale
    )
    for c in range(channels):
        base[..., c] = (
            offsets[c]
            + shared
            + 6 * _smooth_noise(rng, (h, w), 1.0 * scale)
            + 10 * _smooth_noise(rng, (h, w), 6 * scale)
            + (30 if c == 0 else -20 * c) * (xx / w - 0.5)
        )
    np.clip(base, 25, 230, out=base)

    tree_mask = np.zeros((h, w), np.bool_)
    palette = np.array(
        [[40, 95, 45], [95, 165, 85], [160, 195, 235]]
        if colour
        else [[60], [110], [170]],
        dtype=np.float64,
    )
    block = max(1, round(3 * scale))
    if tree:
        cy, cx, ry, rx = 0.27 * h, 0.74 * w, 0.2 * h, 0.17 * w
        tree_mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    bh, bw = -(-h // block), -(-w // block)
    state = rng.choice(3, size=(bh, bw), p=[0.5, 0.3, 0.2])

    objects = []
    for i in range(n_objects):
        oh = rng.uniform(0.14, 0.26) * h * object_scale
        ow = rng.uniform(0.1, 0.2) * w * object_scale
        speed = rng.uniform(1.0, 2.5) * scale
        angle = rng.uniform(0, 2 * np.pi)
        light = rng.uniform(15, 240, size=channels)  # stripes: light, 255 - light
        objects.append(
            _Mover(
                height=oh,
                width=ow,
                ellipse=i % 2 == 1,
                y0=rng.uniform(oh / 2, h - oh / 2),
                x0=rng.uniform(ow / 2, w - ow / 2),
                vy=speed * np.sin(angle),
                vx=speed * np.cos(angle),
                colours=np.clip(light * [[1], [-1]] + [[0], [255]], 10, 245),
                period=rng.uniform(6, 14) * scale,
                theta=rng.uniform(0, np.pi),
                grain=rng.normal(0, 8, size=(int(oh) + 3, int(ow) + 3, channels)),
                t0=start + 15 * i,
            )
        )

    frames = np.empty((n_frames, h, w, channels), np.uint8)
    truth = np.zeros((n_frames, h, w), np.uint8)
    centroids = np.full((n_frames, n_objects, 2), np.nan)
    shadow_shift = (max(1, round(0.04 * h)), max(1, round(0.05 * w)))
    for t in range(n_frames):
        image = base.copy()
        if tree:
            change = rng.random((bh, bw)) < 0.3
            fresh = rng.choice(3, size=(bh, bw), p=[0.5, 0.3, 0.2])
            state = np.where(change, fresh, state)
            full = np.repeat(np.repeat(state, block, axis=0), block, axis=1)[:h, :w]
            image[tree_mask] = palette[full[tree_mask]]
        masks = []
        for j, ob in enumerate(objects):
            if t < ob.t0:
                continue
            oh, ow = ob.height, ob.width
            cy = _bounce(ob.y0 + ob.vy * (t - ob.t0), oh / 2, h - oh / 2)
            cx = _bounce(ob.x0 + ob.vx * (t - ob.t0), ow / 2, w - ow / 2)
            centroids[t, j] = (cy, cx)
            u, v = (yy - cy) / (oh / 2), (xx - cx) / (ow / 2)
            box = (abs(u) <= 1) & (abs(v) <= 1)
            inside = (u**2 + v**2 <= 1) if ob.ellipse else box
            masks.append((ob, inside, cy, cx))
        if shadows:
            dy, dx = shadow_shift
            shade = np.zeros((h, w), np.bool_)
            for _, inside, _, _ in masks:
                shade[dy:, dx:] |= inside[:-dy, :-dx]
            image[shade] *= 0.6
            truth[t][shade] = 127
        for ob, inside, cy, cx in masks:
            ry = yy[inside] - (cy - ob.height / 2)
            rx = xx[inside] - (cx - ob.width / 2)
            phase = ry * np.cos(ob.theta) + rx * np.sin(ob.theta)
            stripe = (np.sin(2 * np.pi * phase / ob.period) > 0).astype(np.intp)
            gy = np.clip(ry.astype(np.intp), 0, ob.grain.shape[0] - 1)
            gx = np.clip(rx.astype(np.intp), 0, ob.grain.shape[1] - 1)
            image[inside] = ob.colours[stripe] + ob.grain[gy, gx]
            truth[t][inside] = 255
        image *= 1 + drift * np.sin(2 * np.pi * t / drift_period)
        if noise > 0:
            image += rng.normal(0, noise, size=image.shape)
        np.clip(np.rint(image), 0, 255, out=image)
        frames[t] = image.astype(np.uint8)
    out_frames = frames if colour else frames[..., 0]
    return SyntheticVideo(
        frames=np.ascontiguousarray(out_frames),
        truth=truth,
        tree=tree_mask,
        centroids=centroids,
    )


def foreground_f1(masks: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """F1 score of foreground masks against a ground truth, pooled over pixels.

    Only the value 255 counts as foreground, in both arrays: shadows (127)
    and background (0) count as background.

    Parameters
    ----------
    masks : array_like of uint8
        Masks as :meth:`BackgroundSubtractor.apply` returns them, any shape.
    truth : array_like of uint8
        Ground truth of the same shape, same coding.

    Returns
    -------
    float
        ``2 TP / (2 TP + FP + FN)`` over all pixels; 1.0 when neither has any
        foreground.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    m = np.asarray(masks) == 255
    g = np.asarray(truth) == 255
    if m.shape != g.shape:
        raise ValueError(f"masks have shape {m.shape} but truth has shape {g.shape}")
    tp = int(np.count_nonzero(m & g))
    wrong = int(np.count_nonzero(m ^ g))
    if tp == 0 and wrong == 0:
        return 1.0
    return 2 * tp / (2 * tp + wrong)
