"""Speaker recognition with a universal background model (GMM-UBM).

The classic text-independent recipe of Reynolds, Quatieri and Dunn, "Speaker
verification using adapted Gaussian mixture models", *Digital Signal
Processing* 10 (2000) 19-41:

1. **Features** (:func:`mfcc_features`): mel-frequency cepstral coefficients
   c1..c19 of 25 ms frames every 10 ms, with their deltas and delta-deltas;
   silent frames are dropped by an energy threshold and each utterance's
   cepstral mean is subtracted (cepstral mean normalisation, CMN), which
   removes a fixed channel (microphone, line) from the features.
2. **Universal background model** (:func:`train_ubm`): one large
   diagonal-covariance mixture (64 to 2048 components) fitted by EM on the
   pooled frames of many speakers: what speech sounds like in general.
3. **Speaker models** (:func:`map_adapt`): each enrolled speaker's mixture is
   the UBM moved towards that speaker's frames by one step of maximum a
   posteriori (MAP) adaptation. A component that saw ``n_k`` frames moves by
   ``alpha_k = n_k / (n_k + r)`` of the way to the speaker's data (``r`` is
   the relevance factor, 16 in the paper), so components the speaker never
   used stay exactly as in the UBM (with any covariance type: the MAP step is
   the core's, :mod:`gaussmix.core.adapt`; a UBM whose components share
   covariance parameters moves them all with those shared parts).
4. **Scores** (:func:`score`): the average per-frame log-likelihood ratio of
   an utterance between a speaker model and the UBM. Identification picks the
   speaker with the highest score; verification accepts a claim when the score
   passes a threshold (:class:`SpeakerRecognizer`). Identification accuracy
   and the equal error rate (:func:`equal_error_rate`) measure the system.

Features come from librosa, an actively maintained audio library with a
documented, widely used MFCC (mel filter bank, log power in dB, orthonormal
DCT-II) and Savitzky-Golay deltas. python_speech_features, the other common
choice, has had no release since 2017. librosa is optional: only
:func:`mfcc_features` needs it (``pip install librosa``). Its first import in a
new environment compiles numba kernels (10-25 s, cached afterwards).

For demonstrations and tests without recorded speech,
:func:`make_demo_corpus` makes utterances of synthetic speakers, each speaking
sentences from :data:`SENTENCES`, with one of two engines:

* ``"espeak"``: the espeak-ng speech synthesiser (Debian package
  ``espeak-ng``; :func:`synthesize`), whose voices, voice variants, pitches
  and speeds play different speakers (:data:`TARGET_VOICES`,
  :data:`BACKGROUND_VOICES`);
* ``"formant"``: a small source-filter synthesiser written with numpy and
  scipy (:func:`synthesize_formant`, :class:`FormantVoice`): glottal pulses
  through cascaded formant resonators, with per-speaker vocal-tract length,
  pitch, spectral tilt, breathiness and speaking rate
  (:data:`FORMANT_TARGET_VOICES`, :data:`FORMANT_BACKGROUND_VOICES`). It is
  not a text-to-speech system (its speech is not intelligible), but its
  speakers differ in the spectral envelope, which is what MFCCs and the
  GMM-UBM see; it needs nothing installed, so the demonstrations and tests
  run everywhere.

``engine="auto"`` (the default) uses espeak-ng when it is installed and the
formant synthesiser otherwise; :attr:`DemoCorpus.engine` says which ran.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

from gaussmix._docs import fill_doc, register
from gaussmix._typing import FloatArray
from gaussmix.apps._formant import FormantVoice, synthesize_formant
from gaussmix.core import GMMParams, e_step, get_family
from gaussmix.core.adapt import ADAPTABLE, map_m_step
from gaussmix.mixture import GaussianMixture, build_fitted
from gaussmix.model import FitInfo, MixtureModel

__all__ = [
    "BACKGROUND_VOICES",
    "DemoCorpus",
    "EspeakVoice",
    "FORMANT_BACKGROUND_VOICES",
    "FORMANT_SAMPLE_RATE",
    "FORMANT_TARGET_VOICES",
    "FormantVoice",
    "SENTENCES",
    "SpeakerRecognizer",
    "TARGET_VOICES",
    "demo_voices",
    "det_curve",
    "equal_error_rate",
    "espeak_available",
    "identification_accuracy",
    "make_demo_corpus",
    "map_adapt",
    "mfcc_features",
    "read_wav",
    "resolve_engine",
    "score",
    "synthesize",
    "synthesize_formant",
    "train_ubm",
    "trial_scores",
]

register(
    "speaker_utterance",
    """
    features : array-like of shape (n_frames, n_features), or list of them
        The test utterance's frames.
    """,
)
register(
    "speaker_enrollment",
    """
    features : array-like of shape (n_frames, n_features), or list of them
        The speaker's enrollment frames.
    """,
)


# --------------------------------------------------------------------- features
def read_wav(path: str | os.PathLike[str]) -> tuple[FloatArray, int]:
    """Read a PCM WAV file as floating-point samples in [-1, 1].

    Parameters
    ----------
    path : str or path-like
        A WAV file with 8-, 16-, 24- or 32-bit integer samples (what espeak-ng
        and most recorders write). Several channels are averaged to one.

    Returns
    -------
    signal : ndarray of shape (n_samples,)
        The samples as float64.
    sample_rate : int
        Samples per second.

    Raises
    ------
    ValueError
        If the file is not a PCM WAV file the standard library can read.
    """
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            n_channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise ValueError(
            f"read_wav: {os.fspath(path)!r} is not a PCM WAV file ({err}); convert "
            "it first, e.g. with `sox in.ext -b 16 out.wav`, or read it with "
            "soundfile/librosa and pass the samples to mfcc_features."
        ) from err
    if width == 1:  # unsigned 8-bit
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 3:  # little-endian 24-bit: widen to 32 bits
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float64) / float(1 << 23)
    elif width in (2, 4):
        dtype = np.dtype(f"<i{width}")
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64)
        samples /= float(1 << (8 * width - 1))
    else:
        raise ValueError(
            f"read_wav: {os.fspath(path)!r} has {8 * width}-bit samples; expected "
            "8, 16, 24 or 32-bit PCM."
        )
    if n_channels > 1:
        samples = samples.reshape(-1, n_channels).mean(axis=1)
    return samples, int(rate)


def _librosa() -> Any:
    try:
        return importlib.import_module("librosa")
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("mfcc_features needs librosa: pip install librosa") from err


def mfcc_features(
    signal: Any,
    sample_rate: int,
    *,
    n_mfcc: int = 20,
    deltas: int = 2,
    keep_c0: bool = False,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
    n_mels: int = 40,
    preemphasis: float = 0.97,
    energy_threshold_db: float | None = 30.0,
    cmn: bool = True,
    delta_width: int = 9,
) -> FloatArray:
    """MFCC feature vectors of one utterance, with deltas, silence removed.

    Parameters
    ----------
    signal : array-like of shape (n_samples,)
        The utterance's samples (any scale; a constant gain changes only c0).
    sample_rate : int
        Samples per second.
    n_mfcc : int, default=20
        Cepstral coefficients c0..c(n_mfcc-1) computed by librosa.
    deltas : {0, 1, 2}, default=2
        0 keeps the cepstra only, 1 appends their deltas, 2 also the
        delta-deltas.
    keep_c0 : bool, default=False
        Keep c0, the log-energy term. Dropped by default as in Reynolds et al.
        (2000): it follows loudness more than the speaker.
    window_ms, hop_ms : float, default=25.0, 10.0
        Frame length and frame step in milliseconds. The FFT length is the
        next power of two of the frame length.
    n_mels : int, default=40
        Mel filters.
    preemphasis : float, default=0.97
        Coefficient of the pre-emphasis filter ``y[t] - a y[t-1]``; 0 turns it
        off.
    energy_threshold_db : float or None, default=30.0
        Silence removal: keep the frames whose RMS energy is within this many
        decibels of the utterance's loudest frame. None keeps every frame.
    cmn : bool, default=True
        Subtract the mean of the kept frames from every column (cepstral mean
        normalisation).
    delta_width : int, default=9
        Frames in the Savitzky-Golay window of the deltas (odd, at least 3).

    Returns
    -------
    features : ndarray of shape (n_frames, n_coefficients * (1 + deltas))
        One float32 row per kept frame: cepstra, then deltas, then
        delta-deltas (``n_coefficients`` is ``n_mfcc - 1`` without c0).

    Raises
    ------
    ValueError
        For a signal that is not 1-D, holds NaN or infinity, is shorter than
        ``delta_width`` frames, or has no frame above the energy threshold; and
        for parameters out of range.
    ImportError
        When librosa is not installed.
    """
    y = np.asarray(signal, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(
            f"mfcc_features: expected a 1-D signal, got shape {y.shape}; for "
            "several channels pass signal.mean(axis=...) or one channel."
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("mfcc_features: the signal holds NaN or infinity.")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(
            f"mfcc_features: sample_rate must be a positive int, got {sample_rate!r}."
        )
    if not 2 <= n_mfcc <= n_mels:
        raise ValueError(
            f"mfcc_features: n_mfcc must be in [2, n_mels={n_mels}], got {n_mfcc}."
        )
    if deltas not in (0, 1, 2):
        raise ValueError(f"mfcc_features: deltas must be 0, 1 or 2, got {deltas!r}.")
    if delta_width < 3 or delta_width % 2 == 0:
        raise ValueError(
            f"mfcc_features: delta_width must be odd and at least 3, got {delta_width}."
        )
    if not 0.0 <= preemphasis < 1.0:
        raise ValueError(
            f"mfcc_features: preemphasis must be in [0, 1), got {preemphasis}."
        )
    win = round(window_ms * 1e-3 * sample_rate)
    hop = round(hop_ms * 1e-3 * sample_rate)
    if win < 8 or hop < 1 or hop > win:
        raise ValueError(
            "mfcc_features: window_ms and hop_ms give a frame of "
            f"{win} samples every {hop}; need at least 8 samples per frame and "
            "0 < hop <= window."
        )
    n_fft = 1 << (win - 1).bit_length()
    n_frames = 1 + y.size // hop
    if n_frames < delta_width:
        raise ValueError(
            f"mfcc_features: the signal has {y.size} samples, {n_frames} frames of "
            f"{hop_ms} ms; need at least delta_width={delta_width} frames."
        )
    librosa = _librosa()
    emphasised = (
        y if preemphasis == 0 else np.append(y[0], y[1:] - preemphasis * y[:-1])
    )
    # BLAS single-threaded, as gaussmix runs it: threaded BLAS on these small
    # products was measured about 3 times slower on a busy 2-core machine.
    with _blas_controller().limit(limits=1, user_api="blas"):
        cepstra = librosa.feature.mfcc(
            y=emphasised,
            sr=int(sample_rate),
            n_mfcc=n_mfcc,
            n_fft=n_fft,
            hop_length=hop,
            win_length=win,
            n_mels=n_mels,
        )
    blocks = [cepstra]
    for order in range(1, deltas + 1):
        blocks.append(
            librosa.feature.delta(cepstra, width=delta_width, order=order, axis=-1)
        )
    if not keep_c0:
        blocks = [b[1:] for b in blocks]
    feats = np.concatenate(blocks, axis=0).T  # (frames, coefficients)

    if energy_threshold_db is not None:
        energy = _frame_energy_db(y, win, hop, feats.shape[0])
        keep = energy > energy.max() - float(energy_threshold_db)
        if not keep.any() or energy.max() <= -190.0:
            raise ValueError(
                "mfcc_features: no frame is above the energy threshold (the signal "
                "is silent); pass speech, or energy_threshold_db=None."
            )
        feats = feats[keep]
    if cmn:
        feats = feats - feats.mean(axis=0)
    return np.ascontiguousarray(feats, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    return ThreadpoolController()


def _frame_energy_db(y: FloatArray, win: int, hop: int, n_frames: int) -> FloatArray:
    """RMS energy in dB of frames centred as librosa's STFT centres them."""
    padded = np.pad(y, (win // 2, win // 2))
    starts = np.arange(n_frames) * hop
    cumsum = np.concatenate(([0.0], np.cumsum(padded * padded)))
    stops = np.minimum(starts + win, padded.size)
    starts = np.minimum(starts, padded.size)
    mean_square = (cumsum[stops] - cumsum[starts]) / win
    return 10.0 * np.log10(np.maximum(mean_square, 1e-20))


# --------------------------------------------------------------------- models
def _pool(features: Any, name: str) -> FloatArray:
    """One 2-D float array from an array or a sequence of per-utterance arrays."""
    if isinstance(features, np.ndarray):
        parts = [features]
    elif (
        isinstance(features, (list, tuple))
        and features
        and all(getattr(f, "ndim", 0) == 2 for f in features)
    ):
        parts = list(features)
    else:
        parts = [np.asarray(features)]
    arrays = [np.asarray(p) for p in parts]
    for a in arrays:
        if a.ndim != 2:
            raise ValueError(
                f"{name}: features must be a 2-D array (n_frames, n_features) or a "
                f"list of such arrays, one per utterance; got shape {a.shape}."
            )
    widths = {a.shape[1] for a in arrays}
    if len(widths) != 1:
        raise ValueError(
            f"{name}: the utterances have different numbers of features "
            f"{sorted(widths)}; extract them all with the same settings."
        )
    pooled = np.concatenate(arrays, axis=0) if len(arrays) > 1 else arrays[0]
    if pooled.shape[0] == 0:
        raise ValueError(f"{name}: no frames given.")
    if not np.issubdtype(pooled.dtype, np.floating):
        pooled = pooled.astype(np.float64)
    if not np.all(np.isfinite(pooled)):
        raise ValueError(f"{name}: the features hold NaN or infinity.")
    return pooled


def train_ubm(
    features: Any,
    n_components: int = 64,
    *,
    reg_covar: float = 1e-3,
    max_iter: int = 200,
    tol: float = 1e-3,
    n_init: int = 1,
    max_frames: int | None = None,
    random_state: Any = 0,
    n_jobs: int | None = None,
) -> GaussianMixture:
    """Fit a universal background model on the pooled frames of many speakers.

    Parameters
    ----------
    features : array-like of shape (n_frames, n_features), or list of them
        Feature vectors (e.g. from :func:`mfcc_features`), pooled over
        utterances; computed in float32.
    n_components : int, default=64
        Mixture components; systems trained on hours of speech use 512 to
        2048, a few minutes support 32 to 128.
    reg_covar : float, default=1e-3
        Added to every variance (a variance floor). MFCC features in dB have
        per-feature variances from about 0.3 (high-order delta-deltas) to 10^3
        (c1), so 1e-3 keeps a component off a degenerate frame cluster without
        smoothing any real feature.
    max_iter, tol, n_init : int, float, int
        EM settings of :class:`gaussmix.GaussianMixture`.
    max_frames : int or None, default=None
        Fit on a random subset of this many frames (the UBM barely changes
        past a few hundred frames per component).
    random_state : int, RandomState instance or None, default=0
        Seed of the k-means initialisation and of the frame subset.
    n_jobs : int or None, default=None
        Threads of the E-step (see :class:`gaussmix.GaussianMixture`).

    Returns
    -------
    GaussianMixture
        The fitted diagonal-covariance mixture (float32 parameters).

    Raises
    ------
    ValueError
        For malformed features, or fewer frames than components.
    """
    X = _pool(features, "train_ubm").astype(np.float32, copy=False)
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(
            f"train_ubm: n_components must be a positive int, got {n_components!r}."
        )
    if max_frames is not None:
        if max_frames < n_components:
            raise ValueError(
                f"train_ubm: max_frames={max_frames} is below n_components="
                f"{n_components}; raise it or use fewer components."
            )
        if X.shape[0] > max_frames:
            rng = check_random_state(random_state)
            X = X[np.sort(rng.choice(X.shape[0], max_frames, replace=False))]
    if X.shape[0] < 2 * n_components:
        raise ValueError(
            f"train_ubm: {X.shape[0]} frames are too few for {n_components} "
            "components (need at least two per component, and in practice "
            "hundreds); use fewer components or more speech."
        )
    ubm = GaussianMixture(
        n_components=int(n_components),
        covariance_type="diag",
        reg_covar=reg_covar,
        max_iter=max_iter,
        tol=tol,
        n_init=n_init,
        init_params="kmeans",
        random_state=random_state,
        n_jobs=n_jobs,
    )
    return ubm.fit(X)


def _check_ubm(ubm: Any, name: str) -> None:
    if not isinstance(ubm, GaussianMixture) or not hasattr(ubm, "means_"):
        raise ValueError(
            f"{name}: expected a fitted gaussmix.GaussianMixture as the UBM (see "
            f"train_ubm), got {type(ubm).__name__}."
        )
    if getattr(ubm, "noise_log_density_", None) is not None:
        raise ValueError(
            f"{name}: the UBM has a noise component (noise={ubm.noise!r}); MAP "
            "adaptation needs a mixture of Gaussians only."
        )


@fill_doc
def map_adapt(
    ubm: GaussianMixture,
    features: Any,
    relevance_factor: float = 16.0,
    adapt: Sequence[str] | str = ("means",),
    *,
    variance_floor: float | None = None,
) -> GaussianMixture:
    r"""A speaker's mixture: the UBM after one step of MAP adaptation.

    With the UBM's responsibilities ``gamma_ik`` of the speaker's frames
    ``x_i`` (``N`` of them), ``n_k = sum_i gamma_ik``, the data means
    ``E_k = sum_i gamma_ik x_i / n_k`` and covariances ``S_k``, and the
    data-dependent coefficients ``alpha_k = n_k / (n_k + r)`` (Reynolds et al.
    2000, eqs. 11-14, one relevance factor ``r`` for every parameter):

    * means: ``mu_k' = alpha_k E_k + (1 - alpha_k) mu_k``;
    * variances: the UBM's covariance family's M-step on the speaker's
      statistics plus ``r`` pseudo-frames per component at the UBM's
      parameters. For diagonal covariances that is Reynolds et al.'s
      ``sigma_k'^2 = alpha_k E_k[x^2] + (1 - alpha_k)(sigma_k^2 + mu_k^2) -
      mu_k'^2``, that is ``alpha_k S_k + (1 - alpha_k) sigma_k^2 + alpha_k
      (1 - alpha_k) (E_k - mu_k)^2``; full and spherical covariances follow
      the same formula, a tied covariance pools all components (the UBM's
      counting as ``r`` frames per component), and mclust's constrained
      models keep their structure (see :mod:`gaussmix.core.adapt`). The
      result is floored at ``variance_floor`` (matrices: their eigenvalues);
    * weights: ``w_k' \propto alpha_k n_k / N + (1 - alpha_k) w_k``, rescaled
      to sum to one.

    A component that sees no data (``n_k = 0``) keeps its UBM mean exactly, and
    its covariance too unless its family shares covariance parameters between
    components. ``r = inf`` returns the UBM; ``r = 0`` gives the
    maximum-likelihood M-step from the UBM's responsibilities.

    Parameters
    ----------
    ubm : GaussianMixture
        A fitted mixture of any covariance type (:func:`train_ubm` fits a
        diagonal one), without a noise component.
    {{speaker_enrollment}}
    relevance_factor : float, default=16.0
        ``r``: how many frames a component must see before the data outweigh
        the UBM. Non-negative; ``math.inf`` is allowed.
    adapt : sequence of {'means', 'variances', 'weights'} or str, default=('means',)
        The parameters to adapt. Means alone is the usual choice and was the
        best in Reynolds et al. (2000). Variances adapted without the means
        are estimated about the UBM's means.
    variance_floor : float or None, default=None
        Smallest adapted variance; None uses the UBM's ``reg_covar``.

    Returns
    -------
    GaussianMixture
        A fitted mixture with the UBM's settings and the adapted parameters
        (``n_iter_ = 0``, ``lower_bound_ = -inf``: no EM was run).

    Raises
    ------
    ValueError
        For a UBM that is not a fitted gaussmix mixture or has a noise
        component, features of the wrong width, a negative or NaN relevance
        factor, or an unknown name in ``adapt``.
    """
    _check_ubm(ubm, "map_adapt")
    names = (adapt,) if isinstance(adapt, str) else tuple(adapt)
    unknown = sorted(set(names) - set(ADAPTABLE))
    if unknown or not names:
        raise ValueError(
            f"map_adapt: adapt must name one or more of {ADAPTABLE}, got {adapt!r}."
        )
    r = float(relevance_factor)
    if math.isnan(r) or r < 0:
        raise ValueError(
            f"map_adapt: relevance_factor must be >= 0 (16 is usual), got {r}."
        )
    X = _pool(features, "map_adapt")
    n_features = ubm.means_.shape[1]
    if X.shape[1] != n_features:
        raise ValueError(
            f"map_adapt: the features have {X.shape[1]} columns but the UBM was "
            f"trained on {n_features}; extract them with the same settings."
        )
    floor = float(
        ubm.em_control().reg_covar if variance_floor is None else variance_floor
    )
    if floor < 0 or math.isnan(floor):
        raise ValueError(f"map_adapt: variance_floor must be >= 0, got {floor}.")

    family = get_family(ubm.covariance_type)
    prior = GMMParams(
        weights=np.asarray(ubm.weights_, dtype=np.float64),
        means=np.asarray(ubm.means_, dtype=np.float64),
        covariances=np.asarray(ubm.covariances_, dtype=np.float64),
        precisions_cholesky=np.asarray(ubm.precisions_cholesky_, dtype=np.float64),
    )
    stats = e_step(X.astype(ubm.means_.dtype, copy=False), prior, family)
    adapted = map_m_step(stats, prior, family, r, adapt=names, variance_floor=floor)
    return _fitted_like(ubm, adapted)


def _fitted_like(ubm: GaussianMixture, params: GMMParams) -> GaussianMixture:
    """A fitted estimator with ``ubm``'s settings and feature names and ``params``.

    Arrays are cast to the UBM's dtype. Where a covariance is the UBM's own,
    the precisions are the UBM's too, bit for bit.
    """
    family = get_family(ubm.covariance_type)
    dtype = ubm.means_.dtype
    covariances = params.covariances.astype(dtype)
    chol = params.precisions_cholesky.astype(dtype)
    precisions = family.precisions(params.precisions_cholesky).astype(dtype)
    kept = (covariances == ubm.covariances_) & (chol == ubm.precisions_cholesky_)
    if family.shared:
        kept = np.full_like(kept, kept.all())
    else:
        kept = np.all(kept.reshape(len(kept), -1), axis=1).reshape(
            (-1,) + (1,) * (covariances.ndim - 1)
        )
    model = MixtureModel(
        covariance_type=ubm.covariance_type,
        weights=params.weights.astype(dtype),
        means=params.means.astype(dtype),
        covariances=covariances,
        precisions_cholesky=chol,
        precisions=np.where(kept, ubm.precisions_, precisions),
    )
    return build_fitted(
        ubm.get_params(deep=False),
        model,
        FitInfo(converged=True, n_iter=0, lower_bound=-math.inf),
        feature_names=getattr(ubm, "feature_names_in_", None),
        prior=getattr(ubm, "prior_", None),
    )


@fill_doc
def score(speaker_model: GaussianMixture, ubm: GaussianMixture, features: Any) -> float:
    """Average per-frame log-likelihood ratio of an utterance.

    Parameters
    ----------
    speaker_model : GaussianMixture
        The claimed speaker's mixture (:func:`map_adapt`).
    ubm : GaussianMixture
        The universal background model it was adapted from.
    {{speaker_utterance}}

    Returns
    -------
    float
        ``mean_t [log p(x_t | speaker) - log p(x_t | UBM)]``: positive when
        the speaker explains the frames better than speech in general.

    Raises
    ------
    ValueError
        For malformed features or a feature count the models were not trained
        on.
    """
    X = _pool(features, "score")
    return float(_llr_frames(speaker_model, ubm.score_samples(X), X).mean())


def _llr_frames(model: GaussianMixture, ubm_log: FloatArray, X: FloatArray) -> Any:
    own = np.asarray(model.score_samples(X), dtype=np.float64)
    return own - np.asarray(ubm_log, dtype=np.float64)


@fill_doc
class SpeakerRecognizer:
    """Enroll speakers and identify or verify them against a UBM.

    Parameters
    ----------
    ubm : GaussianMixture or None, default=None
        A trained UBM; None means :meth:`fit_ubm` must be called first.
    n_components : int, default=64
        UBM size used by :meth:`fit_ubm`.
    relevance_factor : float, default=16.0
        MAP relevance factor (see :func:`map_adapt`).
    adapt : sequence of str, default=('means',)
        Parameters adapted at enrollment.
    threshold : float, default=0.0
        Verification accepts a claim when the score is at least this (0 means
        "more like the speaker than like speech in general"; set it from
        development data with :func:`equal_error_rate`).
    random_state : int, RandomState instance or None, default=0
        Seed of :meth:`fit_ubm`.
    **ubm_kwargs
        Further arguments of :func:`train_ubm`.

    Attributes
    ----------
    ubm : GaussianMixture or None
        The background model.
    models : dict of str to GaussianMixture
        The enrolled speakers' mixtures, in enrollment order.

    Examples
    --------
    >>> rec = SpeakerRecognizer(n_components=64)  # doctest: +SKIP
    >>> rec.fit_ubm(background_features)  # doctest: +SKIP
    >>> rec.enroll("alice", alice_features)  # doctest: +SKIP
    >>> rec.identify(unknown_features)  # doctest: +SKIP
    'alice'
    """

    def __init__(
        self,
        ubm: GaussianMixture | None = None,
        *,
        n_components: int = 64,
        relevance_factor: float = 16.0,
        adapt: Sequence[str] = ("means",),
        threshold: float = 0.0,
        random_state: Any = 0,
        **ubm_kwargs: Any,
    ) -> None:
        if ubm is not None:
            _check_ubm(ubm, "SpeakerRecognizer")
        self.ubm = ubm
        self.n_components = n_components
        self.relevance_factor = relevance_factor
        self.adapt = tuple(adapt)
        self.threshold = float(threshold)
        self.random_state = random_state
        self.ubm_kwargs = ubm_kwargs
        self.models: dict[str, GaussianMixture] = {}

    def fit_ubm(self, features: Any) -> SpeakerRecognizer:
        """Train the UBM on background speech (replaces any enrolled speaker).

        Parameters
        ----------
        features : array-like of shape (n_frames, n_features), or list of them
            Frames of many speakers, ideally not the ones to be enrolled.

        Returns
        -------
        SpeakerRecognizer
            self.
        """
        self.ubm = train_ubm(
            features,
            self.n_components,
            random_state=self.random_state,
            **self.ubm_kwargs,
        )
        self.models = {}
        return self

    def _require_ubm(self, name: str) -> GaussianMixture:
        if self.ubm is None:
            raise ValueError(
                f"SpeakerRecognizer.{name}: no UBM yet; call fit_ubm(background "
                "features) or pass ubm= to the constructor."
            )
        return self.ubm

    def _require_speakers(self, name: str) -> GaussianMixture:
        """The UBM, once at least one speaker is enrolled (``name``: the caller)."""
        ubm = self._require_ubm(name)
        if not self.models:
            raise ValueError(
                f"SpeakerRecognizer.{name}: no speaker enrolled; call enroll first."
            )
        return ubm

    @property
    def speakers(self) -> list[str]:
        """The enrolled speakers, in enrollment order."""
        return list(self.models)

    def enroll(self, speaker: str, features: Any) -> SpeakerRecognizer:
        """Adapt the UBM to one speaker's frames and keep the model.

        Parameters
        ----------
        speaker : str
            The speaker's name; enrolling a name again replaces its model.
        {{speaker_enrollment}}

        Returns
        -------
        SpeakerRecognizer
            self.
        """
        ubm = self._require_ubm("enroll")
        self.models[speaker] = map_adapt(
            ubm, features, self.relevance_factor, self.adapt
        )
        return self

    def scores(self, features: Any) -> FloatArray:
        """Log-likelihood-ratio score of an utterance against every speaker.

        Parameters
        ----------
        {{speaker_utterance}}

        Returns
        -------
        ndarray of shape (n_speakers,)
            :func:`score` for each speaker in :attr:`speakers` order (the UBM
            is evaluated once).
        """
        ubm = self._require_speakers("scores")
        X = _pool(features, "SpeakerRecognizer.scores")
        ubm_log = ubm.score_samples(X)
        return np.array(
            [float(_llr_frames(m, ubm_log, X).mean()) for m in self.models.values()]
        )

    def score_matrix(self, utterances: Sequence[Any]) -> FloatArray:
        """Scores of many utterances against every speaker.

        Parameters
        ----------
        utterances : sequence of arrays of shape (n_frames, n_features)
            One feature array per test utterance.

        Returns
        -------
        ndarray of shape (n_utterances, n_speakers)
            Row ``i`` is ``scores(utterances[i])``.

        Notes
        -----
        The utterances are stacked and each model evaluates all of them in
        one call, which saves the fixed cost of a call per utterance.
        """
        ubm = self._require_speakers("score_matrix")
        arrays = [_pool(u, "SpeakerRecognizer.score_matrix") for u in utterances]
        if not arrays:
            return np.empty((0, len(self.models)))
        lengths = np.array([a.shape[0] for a in arrays])
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        X = _pool(arrays, "SpeakerRecognizer.score_matrix")
        ubm_log = ubm.score_samples(X)
        out = np.empty((len(arrays), len(self.models)))
        for j, model in enumerate(self.models.values()):
            out[:, j] = (
                np.add.reduceat(_llr_frames(model, ubm_log, X), starts) / lengths
            )
        return out

    def identify(self, features: Any) -> str:
        """The enrolled speaker whose model scores the utterance highest.

        Parameters
        ----------
        {{speaker_utterance}}

        Returns
        -------
        str
            The speaker's name (closed-set identification).
        """
        return self.speakers[int(np.argmax(self.scores(features)))]

    def verify(self, speaker: str, features: Any) -> bool:
        """Whether the utterance is accepted as the claimed speaker.

        Parameters
        ----------
        speaker : str
            The claimed identity (an enrolled speaker).
        {{speaker_utterance}}

        Returns
        -------
        bool
            ``score(model, ubm, features) >= threshold``.
        """
        ubm = self._require_ubm("verify")
        if speaker not in self.models:
            raise ValueError(
                f"SpeakerRecognizer.verify: {speaker!r} is not enrolled; enrolled: "
                f"{self.speakers}."
            )
        return score(self.models[speaker], ubm, features) >= self.threshold


# ----------------------------------------------------------------- evaluation
def identification_accuracy(
    true_speakers: Sequence[Any], predicted_speakers: Sequence[Any]
) -> float:
    """Fraction of utterances whose speaker was identified correctly.

    Parameters
    ----------
    true_speakers, predicted_speakers : sequence
        The true and the identified speaker of each test utterance.

    Returns
    -------
    float
        Accuracy in [0, 1].

    Raises
    ------
    ValueError
        If the sequences are empty or of different lengths.
    """
    t = list(true_speakers)
    p = list(predicted_speakers)
    if len(t) != len(p) or not t:
        raise ValueError(
            "identification_accuracy: need two non-empty sequences of the same "
            f"length, got {len(t)} and {len(p)}."
        )
    return float(sum(a == b for a, b in zip(t, p, strict=True)) / len(t))


def trial_scores(
    score_matrix: Any, true_speakers: Sequence[Any], speakers: Sequence[Any]
) -> tuple[FloatArray, FloatArray]:
    """Split a score matrix into genuine and impostor verification trials.

    Parameters
    ----------
    score_matrix : array-like of shape (n_utterances, n_speakers)
        Scores of each test utterance against each enrolled speaker.
    true_speakers : sequence of length n_utterances
        Who spoke each utterance (every one must be in ``speakers``).
    speakers : sequence of length n_speakers
        The speakers of the columns.

    Returns
    -------
    genuine : ndarray
        Scores of utterances against their own speaker.
    impostor : ndarray
        Scores against every other speaker.

    Raises
    ------
    ValueError
        For a shape mismatch or an utterance of a speaker who has no column.
    """
    S = np.asarray(score_matrix, dtype=np.float64)
    cols = list(speakers)
    if S.ndim != 2 or S.shape != (len(true_speakers), len(cols)):
        raise ValueError(
            f"trial_scores: score_matrix has shape {S.shape}; expected "
            f"({len(true_speakers)}, {len(cols)}) = (utterances, speakers)."
        )
    missing = sorted({str(t) for t in true_speakers if t not in cols})
    if missing:
        raise ValueError(f"trial_scores: speakers {missing} have no column.")
    own = np.zeros(S.shape, dtype=bool)
    own[np.arange(S.shape[0]), [cols.index(t) for t in true_speakers]] = True
    return S[own], S[~own]


def _check_scores(values: Any, name: str) -> FloatArray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name}: need at least one genuine and one impostor score.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: the scores hold NaN or infinity.")
    return a


def det_curve(genuine: Any, impostor: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """False-acceptance and false-rejection rates at every threshold.

    A trial is accepted when its score is at least the threshold.

    Parameters
    ----------
    genuine : array-like
        Scores of target trials (the claimed speaker spoke).
    impostor : array-like
        Scores of non-target trials.

    Returns
    -------
    far : ndarray
        False-acceptance rate (impostor scores >= threshold), decreasing.
    frr : ndarray
        False-rejection rate (genuine scores < threshold), increasing.
    thresholds : ndarray
        ``-inf``, every distinct score in increasing order, ``+inf``.

    Raises
    ------
    ValueError
        For an empty score set or NaN/infinite scores.
    """
    g = np.sort(_check_scores(genuine, "det_curve"))
    i = np.sort(_check_scores(impostor, "det_curve"))
    thresholds = np.concatenate(
        ([-np.inf], np.unique(np.concatenate((g, i))), [np.inf])
    )
    frr = np.searchsorted(g, thresholds, side="left") / g.size
    far = 1.0 - np.searchsorted(i, thresholds, side="left") / i.size
    return far, frr, thresholds


def equal_error_rate(genuine: Any, impostor: Any) -> tuple[float, float]:
    """Equal error rate, where false acceptances and false rejections balance.

    The false-acceptance and false-rejection rates of :func:`det_curve` are
    joined by straight lines between adjacent thresholds (the ROC curve drawn
    through its operating points); the EER is where that line crosses
    ``far == frr``.

    Parameters
    ----------
    genuine : array-like
        Scores of target trials.
    impostor : array-like
        Scores of non-target trials.

    Returns
    -------
    eer : float
        In [0, 1]; 0 when every genuine score is above every impostor score,
        0.5 for scores that do not separate at all.
    threshold : float
        The score threshold at the crossing (linearly interpolated; the
        lowest genuine score when the sets separate).

    Raises
    ------
    ValueError
        For an empty score set or NaN/infinite scores.
    """
    far, frr, thr = det_curve(genuine, impostor)
    diff = frr - far  # increasing from -1 to +1
    j = int(np.searchsorted(diff, 0.0, side="left"))  # first index with diff >= 0
    if diff[j] == 0.0:
        return float(far[j]), float(thr[j])
    d0, d1 = diff[j - 1], diff[j]
    lam = d0 / (d0 - d1)
    eer = far[j - 1] + lam * (far[j] - far[j - 1])
    t0, t1 = thr[j - 1], thr[j]
    if not np.isfinite(t0):
        threshold = t1
    elif not np.isfinite(t1):
        threshold = t0
    else:
        threshold = t0 + lam * (t1 - t0)
    return float(eer), float(threshold)


# ----------------------------------------------------------- demonstration data
#: Thirty English sentences for espeak-ng demonstrations: the first twenty are
#: for training (UBM and enrollment), the last ten for testing.
SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Please call Stella and ask her to bring these things from the store.",
    "A large red kite drifted slowly above the quiet green hills.",
    "We measured the temperature every morning for three whole weeks.",
    "Thunder rolled across the valley while the children ran inside.",
    "My grandmother keeps her old letters in a wooden box upstairs.",
    "The train to the coast leaves at seven fifteen from platform four.",
    "Fresh bread and strong coffee make a very good breakfast.",
    "Our neighbours painted their front door a bright shade of yellow.",
    "Seven silver spoons were found beneath the kitchen floorboards.",
    "Could you explain why the moon looks larger near the horizon?",
    "The museum opens its new exhibition of ancient maps on Sunday.",
    "Heavy snow closed the mountain pass for most of the winter.",
    "She practised the violin for an hour before dinner every day.",
    "Numbers can describe patterns that our eyes alone would miss.",
    "The harbour was full of fishing boats with colourful sails.",
    "He forgot his umbrella and walked home through the pouring rain.",
    "Bees visit thousands of flowers to make a single jar of honey.",
    "Turn left at the bakery and follow the road past the old mill.",
    "The committee will publish its final report later this autumn.",
    "Birds gathered on the telephone wires just before the storm.",
    "I would like a window seat, away from the noisy engine.",
    "The old clock in the hallway chimed twelve times at midnight.",
    "Gardeners plant bulbs in autumn so that they flower in spring.",
    "Reading a good novel can make a long journey feel much shorter.",
    "The engineer checked every bolt on the bridge twice.",
    "Warm soup and a blanket helped us recover from the cold walk.",
    "Few people noticed the tiny boat moving across the dark lake.",
    "Jazz musicians often improvise melodies over familiar chords.",
    "The library will be closed on Monday for repairs to the roof.",
)
_N_TRAIN_SENTENCES = 20


@dataclass(frozen=True)
class EspeakVoice:
    """One synthetic speaker: an espeak-ng voice, pitch and speed.

    Parameters
    ----------
    voice : str
        Value of espeak-ng's ``-v``: a language with an optional variant,
        e.g. ``"en+m1"``, ``"en-us+f3"``.
    pitch : int, default=50
        Base pitch, espeak-ng's ``-p`` (0 to 99).
    speed : int, default=175
        Words per minute, espeak-ng's ``-s`` (80 to 450).
    """

    voice: str
    pitch: int = 50
    speed: int = 175

    @property
    def name(self) -> str:
        """A readable name, e.g. ``'en+m1 p50 s175'``."""
        return f"{self.voice} p{self.pitch} s{self.speed}"


#: Twelve target speakers: different voices, variants, pitches and speeds
#: (two pairs share a voice variant and differ by pitch and speed only).
TARGET_VOICES: tuple[EspeakVoice, ...] = (
    EspeakVoice("en+m1", 50, 170),
    EspeakVoice("en+f3", 60, 165),
    EspeakVoice("en-us+m3", 45, 160),
    EspeakVoice("en-gb-scotland+f2", 55, 175),
    EspeakVoice("en+m7", 40, 180),
    EspeakVoice("en-us+f4", 65, 170),
    EspeakVoice("en-029+m2", 50, 155),
    EspeakVoice("en-gb-x-rp+f1", 55, 185),
    EspeakVoice("en+m1", 25, 150),
    EspeakVoice("en-us+m3", 70, 190),
    EspeakVoice("en-gb-x-gbclan+f5", 45, 170),
    EspeakVoice("en+m4", 55, 165),
)

#: Eight background speakers for the UBM, with variants no target uses.
BACKGROUND_VOICES: tuple[EspeakVoice, ...] = (
    EspeakVoice("en+m5", 50, 175),
    EspeakVoice("en-us+m6", 40, 165),
    EspeakVoice("en+m8", 55, 180),
    EspeakVoice("en-gb+klatt", 50, 170),
    EspeakVoice("en-us+Annie", 60, 175),
    EspeakVoice("en+linda", 55, 160),
    EspeakVoice("en-us+david", 45, 170),
    EspeakVoice("en+steph", 65, 185),
)


#: Samples per second of the formant engine's demonstration speech.
FORMANT_SAMPLE_RATE = 16000

#: Twelve target speakers of the formant synthesiser, in the pattern of
#: :data:`TARGET_VOICES`: men and women alternating, each with their own
#: vocal-tract length (``formant_scale``), pitch, tilt, glottal open quotient,
#: breathiness, formant bandwidths and speaking rate; ``ivan`` shares
#: ``adam``'s vocal tract and ``jake`` shares ``carl``'s, differing by pitch
#: and rate only (as the two espeak-ng pairs that share a voice variant).
FORMANT_TARGET_VOICES: tuple[FormantVoice, ...] = (
    FormantVoice("adam", 115, 1.00, 0.45, 0.55, 0.04, 1.00, 1.00, 0.12),
    FormantVoice("beth", 205, 1.17, 0.30, 0.65, 0.12, 1.10, 0.97, 0.15),
    FormantVoice("carl", 105, 0.95, 0.55, 0.50, 0.03, 0.90, 0.94, 0.10),
    FormantVoice("dora", 195, 1.13, 0.35, 0.70, 0.18, 1.20, 1.03, 0.14),
    FormantVoice("egon", 98, 1.04, 0.40, 0.45, 0.05, 0.85, 1.06, 0.08),
    FormantVoice("fern", 225, 1.21, 0.25, 0.60, 0.08, 1.00, 1.00, 0.18),
    FormantVoice("gus", 120, 0.98, 0.60, 0.60, 0.10, 1.30, 0.91, 0.12),
    FormantVoice("hana", 215, 1.10, 0.40, 0.55, 0.06, 0.90, 1.09, 0.13),
    FormantVoice("ivan", 88, 1.00, 0.45, 0.55, 0.04, 1.00, 0.88, 0.12),
    FormantVoice("jake", 135, 0.95, 0.55, 0.50, 0.03, 0.90, 1.12, 0.10),
    FormantVoice("kate", 190, 1.15, 0.50, 0.75, 0.22, 1.40, 1.00, 0.12),
    FormantVoice("leo", 125, 1.07, 0.35, 0.50, 0.07, 1.10, 0.97, 0.11),
)

#: Eight background speakers of the formant synthesiser, none a target.
FORMANT_BACKGROUND_VOICES: tuple[FormantVoice, ...] = (
    FormantVoice("max", 110, 1.02, 0.50, 0.55, 0.06, 1.05, 1.00, 0.12),
    FormantVoice("nina", 200, 1.15, 0.35, 0.60, 0.10, 1.00, 1.00, 0.14),
    FormantVoice("otto", 95, 0.97, 0.50, 0.50, 0.05, 0.95, 0.95, 0.10),
    FormantVoice("pia", 220, 1.19, 0.30, 0.65, 0.15, 1.15, 1.05, 0.15),
    FormantVoice("quinn", 130, 1.05, 0.45, 0.60, 0.08, 1.20, 1.00, 0.12),
    FormantVoice("rosa", 185, 1.11, 0.40, 0.70, 0.20, 1.30, 0.95, 0.13),
    FormantVoice("sam", 105, 0.93, 0.60, 0.50, 0.04, 0.90, 1.05, 0.11),
    FormantVoice("tess", 235, 1.23, 0.25, 0.55, 0.07, 0.95, 1.02, 0.16),
)

_ENGINES = ("auto", "espeak", "formant")


def espeak_available(executable: str = "espeak-ng") -> bool:
    """Whether the espeak-ng synthesiser can be run.

    Parameters
    ----------
    executable : str, default="espeak-ng"
        Program name or path.

    Returns
    -------
    bool
        True when the program is on the PATH and prints its version.
    """
    path = shutil.which(executable)
    if path is None:
        return False
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def synthesize(
    text: str,
    voice: EspeakVoice | str = "en",
    *,
    pitch: int | None = None,
    speed: int | None = None,
    directory: str | os.PathLike[str] | None = None,
    executable: str = "espeak-ng",
) -> tuple[FloatArray, int]:
    """Speak a sentence with espeak-ng and return the samples.

    espeak-ng writes a WAV file (``-w``) in ``directory`` (a temporary folder
    when None), which :func:`read_wav` reads.

    Parameters
    ----------
    text : str
        What to say.
    voice : EspeakVoice or str, default="en"
        The voice (a string is espeak-ng's ``-v`` value).
    pitch, speed : int or None, default=None
        Override the voice's pitch (0-99) and speed (words per minute).
    directory : str, path-like or None, default=None
        Where the WAV file is written (and then removed).
    executable : str, default="espeak-ng"
        Program name or path.

    Returns
    -------
    signal : ndarray of shape (n_samples,)
        float64 samples in [-1, 1].
    sample_rate : int
        Samples per second (22050 for espeak-ng's own voices).

    Raises
    ------
    ValueError
        For empty text or a pitch or speed out of espeak-ng's range, or when
        espeak-ng fails (its message is included).
    FileNotFoundError
        When espeak-ng is not installed.
    """
    spec = voice if isinstance(voice, EspeakVoice) else EspeakVoice(voice)
    p = spec.pitch if pitch is None else int(pitch)
    s = spec.speed if speed is None else int(speed)
    if not text.strip():
        raise ValueError("synthesize: text is empty.")
    if not 0 <= p <= 99:
        raise ValueError(f"synthesize: pitch must be in [0, 99], got {p}.")
    if not 80 <= s <= 450:
        raise ValueError(f"synthesize: speed must be in [80, 450] wpm, got {s}.")
    program = shutil.which(executable)
    if program is None:
        raise FileNotFoundError(
            f"synthesize: {executable!r} is not installed (Debian/Ubuntu: "
            "apt-get install espeak-ng)."
        )
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / "utterance.wav"
        done = subprocess.run(
            [program, "-v", spec.voice, "-p", str(p), "-s", str(s), "-w", str(path)],
            input=text.encode(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or not path.exists() or path.stat().st_size <= 44:
            raise ValueError(
                f"synthesize: espeak-ng failed for voice {spec.voice!r} (exit "
                f"{done.returncode}): {done.stderr.decode(errors='replace').strip()}"
            )
        return read_wav(path)


@dataclass
class DemoCorpus:
    """Synthetic utterances for a speaker-recognition experiment.

    Each utterance is a ``(speaker, signal)`` pair; ``speaker`` is the
    voice's name (:attr:`EspeakVoice.name` or :attr:`FormantVoice.name`).

    Parameters
    ----------
    sample_rate : int
        Samples per second of every signal.
    background : list of (str, ndarray)
        UBM training speech of the background speakers.
    enroll : list of (str, ndarray)
        Enrollment speech of the target speakers.
    test : list of (str, ndarray)
        Test speech of the target speakers (sentences never used above).
    seconds : float
        Time spent synthesising.
    engine : {'espeak', 'formant'}
        The synthesiser that made the speech.
    """

    sample_rate: int
    background: list[tuple[str, FloatArray]] = field(default_factory=list)
    enroll: list[tuple[str, FloatArray]] = field(default_factory=list)
    test: list[tuple[str, FloatArray]] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "espeak"

    @property
    def speakers(self) -> list[str]:
        """The target speakers, in order of first enrollment utterance."""
        return list(dict.fromkeys(s for s, _ in self.enroll))


def resolve_engine(engine: str = "auto") -> str:
    """The demonstration speech engine that ``engine`` stands for.

    Parameters
    ----------
    engine : {'auto', 'espeak', 'formant'}, default='auto'
        ``'auto'`` is ``'espeak'`` when espeak-ng is installed
        (:func:`espeak_available`), ``'formant'`` otherwise.

    Returns
    -------
    {'espeak', 'formant'}

    Raises
    ------
    ValueError
        For another value.
    """
    if engine not in _ENGINES:
        raise ValueError(
            f"engine must be one of {_ENGINES}, got {engine!r}: 'espeak' runs "
            "espeak-ng, 'formant' the built-in formant synthesiser, 'auto' "
            "espeak-ng when it is installed."
        )
    if engine == "auto":
        return "espeak" if espeak_available() else "formant"
    return engine


def demo_voices(
    engine: str = "auto",
) -> tuple[
    tuple[EspeakVoice | FormantVoice, ...], tuple[EspeakVoice | FormantVoice, ...]
]:
    """The target and background voices of :func:`make_demo_corpus`'s engine.

    Parameters
    ----------
    engine : {'auto', 'espeak', 'formant'}, default='auto'
        See :func:`resolve_engine`.

    Returns
    -------
    targets, background : tuple of EspeakVoice or tuple of FormantVoice
        :data:`TARGET_VOICES` and :data:`BACKGROUND_VOICES` for espeak-ng,
        :data:`FORMANT_TARGET_VOICES` and :data:`FORMANT_BACKGROUND_VOICES`
        for the formant synthesiser.
    """
    if resolve_engine(engine) == "espeak":
        return TARGET_VOICES, BACKGROUND_VOICES
    return FORMANT_TARGET_VOICES, FORMANT_BACKGROUND_VOICES


def make_demo_corpus(
    n_speakers: int = 10,
    *,
    n_enroll: int = 6,
    n_test: int = 4,
    n_background: int = 6,
    n_background_sentences: int = 20,
    pitch_jitter: int = 6,
    speed_jitter: int = 12,
    noise_db: float | None = -50.0,
    random_state: Any = 0,
    n_jobs: int = 2,
    engine: str = "auto",
) -> DemoCorpus:
    """Synthesise a small speaker-recognition corpus.

    Target speaker ``i`` is the ``i``-th target voice of the engine
    (:func:`demo_voices`); it enrolls on ``n_enroll`` of the twenty training
    sentences of :data:`SENTENCES` and is tested on ``n_test`` of the last
    ten, so no test sentence is heard in training. The sentences rotate
    between speakers: different speakers say different sentences. Background
    speakers each say ``n_background_sentences`` training sentences. Every
    utterance's pitch and speed are drawn around the speaker's own (within
    ``pitch_jitter`` and ``speed_jitter``), so no two utterances of a speaker
    are rendered alike.

    Parameters
    ----------
    n_speakers : int, default=10
        Target speakers, at most 12.
    n_enroll : int, default=6
        Enrollment utterances per target speaker (at most 20).
    n_test : int, default=4
        Test utterances per target speaker (at most 10).
    n_background : int, default=6
        Background speakers, at most 8.
    n_background_sentences : int, default=20
        Utterances per background speaker (at most 20).
    pitch_jitter, speed_jitter : int, default=6, 12
        Largest per-utterance change of pitch and speed: espeak-ng's pitch
        units (0-99) and words per minute; the formant engine multiplies the
        voice's ``f0`` by ``1 + d / 100`` and its ``rate`` by ``1 + d / 175``
        for the same draws ``d`` (up to 6% and 7% by default).
    noise_db : float or None, default=-50.0
        Level of white noise added to every utterance, in dB relative to a
        full-scale signal (None adds none). Keeps the silences from being
        digital zeros, as in a recording.
    random_state : int, RandomState instance or None, default=0
        Seed of the jitter, the noise and the formant engine's renderings.
    n_jobs : int, default=2
        Utterances synthesised at once (espeak-ng processes, or threads of
        the formant engine).
    engine : {'auto', 'espeak', 'formant'}, default='auto'
        The synthesiser: espeak-ng (:func:`synthesize`, 22050 Hz), the
        built-in formant synthesiser (:func:`synthesize_formant`,
        :data:`FORMANT_SAMPLE_RATE` Hz), or ``'auto'``: espeak-ng when it is
        installed, the formant synthesiser otherwise. The corpus records
        which in :attr:`DemoCorpus.engine`.

    Returns
    -------
    DemoCorpus
        The utterances.

    Raises
    ------
    ValueError
        For sizes out of range or an unknown engine.
    FileNotFoundError
        For ``engine='espeak'`` when espeak-ng is not installed.
    """
    resolved = resolve_engine(engine)
    targets, backgrounds = demo_voices(resolved)
    limits = {
        "n_speakers": (n_speakers, len(targets)),
        "n_enroll": (n_enroll, _N_TRAIN_SENTENCES),
        "n_test": (n_test, len(SENTENCES) - _N_TRAIN_SENTENCES),
        "n_background": (n_background, len(backgrounds)),
        "n_background_sentences": (n_background_sentences, _N_TRAIN_SENTENCES),
    }
    for key, (value, top) in limits.items():
        low = 0 if key == "n_background" else 1
        if not low <= value <= top:
            raise ValueError(
                f"make_demo_corpus: {key} must be in [{low}, {top}], got {value}."
            )
    rng = check_random_state(random_state)
    train = SENTENCES[:_N_TRAIN_SENTENCES]
    held_out = SENTENCES[_N_TRAIN_SENTENCES:]
    # (part, speaker, voice, text)
    jobs: list[tuple[str, str, EspeakVoice | FormantVoice, str]] = []
    for b in range(n_background):
        v = backgrounds[b]
        for j in range(n_background_sentences):
            jobs.append(("background", v.name, v, train[(3 * b + j) % len(train)]))
    for s in range(n_speakers):
        v = targets[s]
        for j in range(n_enroll):
            jobs.append(("enroll", v.name, v, train[(7 * s + j) % len(train)]))
        for j in range(n_test):
            jobs.append(("test", v.name, v, held_out[(3 * s + j) % len(held_out)]))
    pitches = rng.randint(-pitch_jitter, pitch_jitter + 1, len(jobs))
    speeds = rng.randint(-speed_jitter, speed_jitter + 1, len(jobs))
    seeds = rng.randint(0, 2**31 - 1, len(jobs))
    renders = rng.randint(0, 2**31 - 1, len(jobs))

    def run(k: int) -> tuple[FloatArray, int]:
        _, _, v, text = jobs[k]
        if isinstance(v, FormantVoice):
            return synthesize_formant(
                text,
                v,
                f0=float(np.clip(v.f0 * (1 + pitches[k] / 100), 50.0, 400.0)),
                rate=float(np.clip(v.rate * (1 + speeds[k] / 175), 0.5, 2.0)),
                sample_rate=FORMANT_SAMPLE_RATE,
                random_state=int(renders[k]),
            )
        return synthesize(
            text,
            v,
            pitch=int(np.clip(v.pitch + pitches[k], 0, 99)),
            speed=int(np.clip(v.speed + speeds[k], 80, 450)),
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, int(n_jobs))) as pool:
        rendered = list(pool.map(run, range(len(jobs))))
    default_rate = 22050 if resolved == "espeak" else FORMANT_SAMPLE_RATE
    corpus = DemoCorpus(
        sample_rate=rendered[0][1] if rendered else default_rate, engine=resolved
    )
    for k, ((part, speaker, _, _), (signal, rate)) in enumerate(
        zip(jobs, rendered, strict=True)
    ):
        if rate != corpus.sample_rate:  # pragma: no cover - espeak voices agree
            raise ValueError("make_demo_corpus: voices of different sample rates.")
        if noise_db is not None:
            noise = np.random.RandomState(seeds[k]).standard_normal(signal.size)
            signal = signal + 10.0 ** (noise_db / 20.0) * noise
        getattr(corpus, part).append((speaker, signal))
    corpus.seconds = time.perf_counter() - start
    return corpus
