"""A small source-filter (formant) speech synthesiser for demonstrations and tests.

This is not a text-to-speech system: nobody would understand it. It turns
English spelling into a sequence of rough phones by a few dozen letter rules,
and renders them the way the classic cascade formant synthesisers do (Klatt,
"Software for a cascade/parallel formant synthesizer", JASA 67 (1980)):

* **source**: a Rosenberg glottal pulse (open phase ``open_quotient`` of the
  period, its derivative as the excitation, i.e. lip radiation included) at a
  fundamental frequency that follows an intonation contour (declination, an
  accent on every content word, a final fall or a question rise) with slow
  drift and cycle-to-cycle jitter; a one-pole low-pass sets the spectral
  tilt; breathy voices add aspiration noise gated by the glottal flow;
* **filter**: five second-order (Klatt) resonators in cascade, with unity
  gain at 0 Hz, whose frequencies move smoothly between the phones' targets
  (vowels from Hillenbrand et al. 1995 and Peterson and Barney 1952, men's
  averages) and are multiplied by the voice's ``formant_scale`` (a shorter
  vocal tract raises every formant). Their exact frequency response, updated
  every 10 ms, is applied by overlap-add of FFT frames (20 ms Hann windows):
  a whole utterance is filtered in a few numpy calls instead of a Python loop
  over filter updates;
* **consonants**: fricatives and plosive bursts are band-pass noise added in
  parallel, /h/ and the aspiration of p, t, k are noise through the cascade,
  stop closures are silent (voiced stops keep a weak voice bar), nasals and
  liquids are quiet voiced segments with their own formants; spaces, commas
  and full stops become short, medium and long pauses.

Different :class:`FormantVoice` parameters (vocal-tract length, pitch, tilt,
open quotient, breathiness, bandwidths, speaking rate) give spectra that MFCCs
tell apart, which is what speaker-recognition demonstrations and tests need
on a machine without espeak-ng. The output is deterministic for a given
``random_state``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy import signal as sps
from sklearn.utils import check_random_state

from gaussmix._typing import FloatArray

__all__ = ["FormantVoice", "synthesize_formant", "text_to_phones"]

_CONTROL_S = 0.005  # one control frame (formant update): 5 ms
_MIN_RATE, _MAX_RATE = 8000, 96000


@dataclass(frozen=True)
class FormantVoice:
    """One speaker of the formant synthesiser.

    Parameters
    ----------
    label : str
        A short name (part of :attr:`name`).
    f0 : float, default=120.0
        Mean fundamental frequency in Hz (50 to 400): about 100-130 for men,
        190-230 for women.
    formant_scale : float, default=1.0
        Multiplies every formant frequency (0.7 to 1.5); 1 is an adult man,
        about 1.15-1.2 an adult woman (a shorter vocal tract).
    tilt : float, default=0.4
        Coefficient of the one-pole low-pass on the glottal source, in
        [0, 0.95): larger is a darker, steeper spectrum.
    open_quotient : float, default=0.6
        Fraction of each glottal period the glottis is open, in [0.3, 0.9]:
        larger is a softer, breathier pulse with weaker high harmonics.
    breathiness : float, default=0.05
        Level of the aspiration noise mixed into voicing, in [0, 1].
    bandwidth_scale : float, default=1.0
        Multiplies the formant bandwidths (0.5 to 3).
    rate : float, default=1.0
        Speaking rate (0.5 to 2): phone durations are divided by it.
    intonation : float, default=0.12
        Size of the pitch movements as a fraction of ``f0`` (0 to 0.5).
    jitter : float, default=0.01
        Standard deviation of the cycle-to-cycle pitch variation as a
        fraction of ``f0`` (0 to 0.1).

    Raises
    ------
    ValueError
        For a parameter out of its range.
    """

    label: str
    f0: float = 120.0
    formant_scale: float = 1.0
    tilt: float = 0.4
    open_quotient: float = 0.6
    breathiness: float = 0.05
    bandwidth_scale: float = 1.0
    rate: float = 1.0
    intonation: float = 0.12
    jitter: float = 0.01

    def __post_init__(self) -> None:
        ranges = {
            "f0": (50.0, 400.0, True),
            "formant_scale": (0.7, 1.5, True),
            "tilt": (0.0, 0.95, False),
            "open_quotient": (0.3, 0.9, True),
            "breathiness": (0.0, 1.0, True),
            "bandwidth_scale": (0.5, 3.0, True),
            "rate": (0.5, 2.0, True),
            "intonation": (0.0, 0.5, True),
            "jitter": (0.0, 0.1, True),
        }
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(
                f"FormantVoice: label must be a non-empty str, got {self.label!r}."
            )
        for key, (low, high, closed) in ranges.items():
            value = getattr(self, key)
            ok = isinstance(value, (int, float, np.integer, np.floating)) and (
                low <= value <= high if closed else low <= value < high
            )
            if not ok:
                bracket = "]" if closed else ")"
                raise ValueError(
                    f"FormantVoice: {key} must be a number in [{low:g}, {high:g}"
                    f"{bracket}, got {value!r}."
                )

    @property
    def name(self) -> str:
        """A readable name, e.g. ``'adam 115Hz x1.00'``."""
        return f"{self.label} {self.f0:.0f}Hz x{self.formant_scale:.2f}"


# ------------------------------------------------------------------ phones
@dataclass(frozen=True)
class _Phone:
    kind: str  # vowel, glide, nasal, fricative, stop, h, pause
    ms: float  # duration at rate 1
    formants: tuple[float, float, float] | None = None  # F1-F3 targets (a man)
    end: tuple[float, float, float] | None = None  # diphthong end target
    voiced: bool = True
    noise: tuple[float, float, float] | None = None  # centre Hz, width Hz, level


def _v(ms: float, f: tuple[float, float, float], end: Any = None) -> _Phone:
    return _Phone("vowel", ms, f, end)


def _pair(
    voiceless: str,
    voiced: str,
    kind: str,
    place: tuple[float, float, float],
    band: tuple[float, float],
    ms: tuple[float, float],
    level: tuple[float, float],
) -> dict[str, _Phone]:
    """A fricative or stop and its voiced partner: the same place and noise band.

    ``band`` is the noise's centre and width in Hz; ``ms`` and ``level`` give
    the durations and noise levels of the voiceless phone, then the voiced one.
    """
    return {
        name: _Phone(kind, m, place, voiced=v, noise=(*band, lv))
        for name, v, m, lv in zip(
            (voiceless, voiced), (False, True), ms, level, strict=True
        )
    }


# Vowel targets F1-F3 in Hz (men's averages).
_IY, _IH, _EH = (
    (342.0, 2322.0, 3000.0),
    (427.0, 2034.0, 2684.0),
    (580.0, 1799.0, 2605.0),
)
_AE, _AA, _AO = (660.0, 1720.0, 2410.0), (730.0, 1090.0, 2440.0), (652.0, 997.0, 2538.0)
_OW, _UH, _UW = (497.0, 910.0, 2459.0), (469.0, 1122.0, 2434.0), (378.0, 997.0, 2343.0)
_AH, _ER, _EY = (
    (623.0, 1200.0, 2550.0),
    (474.0, 1379.0, 1710.0),
    (476.0, 2089.0, 2691.0),
)
# Consonant loci: where the formants head during a closure or constriction.
_LABIAL = (250.0, 900.0, 2200.0)
_ALVEOLAR = (250.0, 1700.0, 2600.0)
_VELAR = (250.0, 1950.0, 2250.0)
_POSTALVEOLAR = (280.0, 1900.0, 2500.0)
_DENTAL = (280.0, 1400.0, 2600.0)

#: The phone inventory (ARPAbet symbols): how each is rendered. Noise is
#: (centre Hz, bandwidth Hz, level relative to the voiced speech).
_PHONES: dict[str, _Phone] = {
    "IY": _v(80, _IY),
    "IH": _v(65, _IH),
    "EH": _v(70, _EH),
    "AE": _v(85, _AE),
    "AA": _v(85, _AA),
    "AO": _v(85, _AO),
    "UH": _v(65, _UH),
    "UW": _v(85, _UW),
    "AH": _v(70, _AH),
    "AX": _v(45, (500.0, 1500.0, 2500.0)),
    "ER": _v(85, _ER),
    "EY": _v(115, _EY, _IY),
    "AY": _v(130, _AA, _IH),
    "AW": _v(130, _AA, _UH),
    "OW": _v(110, _OW, _UH),
    "OY": _v(130, _AO, _IH),
    "L": _Phone("glide", 45, (360.0, 1000.0, 2700.0)),
    "R": _Phone("glide", 45, (330.0, 1060.0, 1380.0)),
    "W": _Phone("glide", 40, (300.0, 610.0, 2200.0)),
    "Y": _Phone("glide", 40, (260.0, 2070.0, 3020.0)),
    "M": _Phone("nasal", 55, (250.0, 1100.0, 2300.0)),
    "N": _Phone("nasal", 50, (250.0, 1600.0, 2600.0)),
    "NG": _Phone("nasal", 55, (250.0, 2000.0, 2700.0)),
    **_pair("S", "Z", "fricative", _ALVEOLAR, (5500.0, 3000.0), (80, 65), (0.30, 0.15)),
    **_pair(
        "SH", "ZH", "fricative", _POSTALVEOLAR, (3000.0, 2000.0), (90, 65), (0.30, 0.15)
    ),
    **_pair("F", "V", "fricative", _LABIAL, (5000.0, 7000.0), (75, 50), (0.07, 0.04)),
    **_pair("TH", "DH", "fricative", _DENTAL, (5500.0, 6000.0), (75, 40), (0.06, 0.03)),
    "HH": _Phone("h", 45),
    **_pair("P", "B", "stop", _LABIAL, (1200.0, 2000.0), (80, 55), (0.35, 0.20)),
    **_pair("T", "D", "stop", _ALVEOLAR, (4200.0, 3000.0), (80, 55), (0.45, 0.25)),
    **_pair("K", "G", "stop", _VELAR, (2200.0, 1500.0), (85, 60), (0.45, 0.25)),
    " ": _Phone("pause", 30),
    ",": _Phone("pause", 160),
    ".": _Phone("pause", 260),
    "?": _Phone("pause", 260),
}
_PAUSES = frozenset(" ,.?")

_VOWEL_LETTERS = frozenset("aeiouy")
_SHORT = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IH"}
_LONG = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
# Letter groups, longest first; "+" marks a rule used only before a consonant
# or at the end of the word (r-coloured vowels).
_GROUPS: dict[str, list[str]] = {
    "tch": ["T", "SH"],
    "igh": ["AY"],
    "dge": ["D", "ZH"],
    "th": ["TH"],
    "sh": ["SH"],
    "ch": ["T", "SH"],
    "ph": ["F"],
    "wh": ["W"],
    "ck": ["K"],
    "ng": ["NG"],
    "qu": ["K", "W"],
    "ee": ["IY"],
    "ea": ["IY"],
    "oo": ["UW"],
    "ou": ["AW"],
    "ow": ["OW"],
    "ai": ["EY"],
    "ay": ["EY"],
    "oi": ["OY"],
    "oy": ["OY"],
    "au": ["AO"],
    "aw": ["AO"],
    "ie": ["IY"],
    "ey": ["EY"],
    "ew": ["Y", "UW"],
    "er+": ["ER"],
    "ir+": ["ER"],
    "ur+": ["ER"],
    "ar+": ["AA", "R"],
    "or+": ["AO", "R"],
}
_CONSONANTS = {c: [c.upper()] for c in "bdfgklmnprstvwz"}
_CONSONANTS.update({"h": ["HH"], "j": ["D", "ZH"], "x": ["K", "S"]})
_VOICED_TH = frozenset(
    [
        "the",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "then",
        "than",
        "there",
        "their",
        "though",
        "with",
    ]
)
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "by",
        "for",
        "from",
        "as",
        "it",
        "its",
        "his",
        "her",
        "he",
        "she",
        "we",
        "you",
        "i",
        "my",
        "our",
        "their",
        "this",
        "that",
    ]
)


#: Common words the letter rules get wrong.
_EXCEPTIONS: dict[str, list[str]] = {
    "a": ["AX"],
    "the": ["DH", "AX"],
    "to": ["T", "UW"],
    "do": ["D", "UW"],
    "who": ["HH", "UW"],
    "you": ["Y", "UW"],
    "of": ["AH", "V"],
    "is": ["IH", "Z"],
    "was": ["W", "AH", "Z"],
    "are": ["AA", "R"],
    "one": ["W", "AH", "N"],
    "i": ["AY"],
}


def _word_phones(word: str) -> list[str]:
    """Rough phones of one lowercase word of letters a-z."""
    if word in _EXCEPTIONS:
        return list(_EXCEPTIONS[word])
    w = word
    long_at = -1
    if len(w) > 2 and w[-1] == "e" and w[-2] not in _VOWEL_LETTERS:
        stem = w[:-1]
        if any(c in _VOWEL_LETTERS for c in stem):
            w = stem  # silent final e, which lengthens the vowel before it
            if len(stem) >= 2 and stem[-2] in "aeiou":
                long_at = len(stem) - 2
    vowels = [k for k, c in enumerate(w) if c in "aeiou"]
    if len(vowels) == 1 and vowels[0] == len(w) - 1:
        long_at = vowels[0]  # an open syllable: he, go, hi
    out: list[str] = []
    i = 0
    while i < len(w):
        for size in (3, 2):
            chunk = w[i : i + size]
            after = w[i + size : i + size + 1]
            if chunk in _GROUPS:
                phones = _GROUPS[chunk]
            elif chunk + "+" in _GROUPS and after not in _VOWEL_LETTERS:
                phones = _GROUPS[chunk + "+"]
            else:
                continue
            if chunk == "th" and i == 0 and word in _VOICED_TH:
                phones = ["DH"]
            out.extend(phones)
            i += size
            break
        else:
            c = w[i]
            nxt = w[i + 1 : i + 2]
            if c in _VOWEL_LETTERS and not (c == "y" and i == 0):
                if c == "y" and i == len(w) - 1:
                    out.append("IY" if vowels else "AY")  # very, my
                else:
                    out.append(_LONG[c] if i == long_at else _SHORT[c])
            elif c == "y":
                out.append("Y")
            elif c == "c":
                out.append("S" if nxt in ("e", "i", "y") else "K")
            elif c in _CONSONANTS and not (i > 0 and w[i - 1] == c):
                out.extend(_CONSONANTS[c])  # doubled consonants: one
            i += 1
    return out


def text_to_phones(text: str) -> list[list[str]]:
    """English spelling to rough phones, one list per word or pause.

    Parameters
    ----------
    text : str
        Letters a-z (either case) are spoken; spaces, commas (also ``;`` and
        ``:``) and sentence ends (``.``, ``!``, ``?``) become pauses ``" "``,
        ``","`` and ``"."`` (``"?"`` for a question, whose pitch rises); other
        characters are skipped.

    Returns
    -------
    list of list of str
        Each word's phones (ARPAbet symbols such as ``'AE'``, ``'SH'``), with pauses
        as one-element lists.
    """
    out: list[list[str]] = []
    for token in re.findall(r"[a-z']+|[,;:]|[.!?]|\s+", text.lower()):
        if token.isspace():
            out.append([" "])
        elif token in ",;:":
            out.append([","])
        elif token == "?":
            out.append(["?"])
        elif token in ".!":
            out.append(["."])
        else:
            phones = _word_phones(token.replace("'", ""))
            if phones:
                out.append(phones)
    return out


# ---------------------------------------------------------------- synthesis
def _smooth(x: FloatArray, width: int) -> FloatArray:
    """Moving Hann-window average along axis 0, edges held."""
    if width < 2:
        return x
    win = np.hanning(width + 2)[1:-1]
    win /= win.sum()
    pad = width // 2
    padded = np.pad(x, [(pad, width - 1 - pad)] + [(0, 0)] * (x.ndim - 1), "edge")
    if x.ndim == 1:
        return np.convolve(padded, win, mode="valid")
    return np.stack(
        [np.convolve(padded[:, j], win, mode="valid") for j in range(x.shape[1])],
        axis=1,
    )


def _tract_response(freqs: FloatArray, bws: FloatArray, fs: float, n_fft: int) -> Any:
    """Frequency response of cascaded Klatt resonators, frame by frame.

    Resonator ``j`` of a frame is ``y[n] = A x[n] + B y[n-1] + C y[n-2]`` with
    ``C = -exp(-2 pi bw_j / fs)``, ``B = 2 exp(-pi bw_j / fs) cos(2 pi f_j /
    fs)`` and ``A = 1 - B - C`` (unity gain at 0 Hz). ``freqs`` has shape
    (n_frames, n_resonators), ``bws`` (n_resonators,). Returns the product of
    their responses at the ``n_fft // 2 + 1`` FFT bins: the product of the
    gains ``A`` over the FFT of the product of the denominator polynomials.
    """
    n_frames, n_res = freqs.shape
    r = np.exp(-math.pi * bws / fs)
    b_coef = 2.0 * r * np.cos(2.0 * math.pi * freqs / fs)  # (n_frames, n_res)
    c_coef = np.broadcast_to(-r * r, freqs.shape)
    gain = np.prod(1.0 - b_coef - c_coef, axis=1)
    poly = np.zeros((n_frames, 2 * n_res + 1))
    poly[:, 0] = 1.0
    for j in range(n_res):  # multiply by 1 - B z^-1 - C z^-2
        size = 2 * j + 1
        head = poly[:, :size].copy()
        poly[:, 1 : size + 1] -= b_coef[:, j, None] * head
        poly[:, 2 : size + 2] -= c_coef[:, j, None] * head
    # The denominator on the unit circle, sum_m poly_m exp(-i m omega): the
    # FFT of the coefficients.
    return (gain[:, None] / sfft.rfft(poly, n_fft, axis=1)).astype(np.complex64)


def _overlap_add_filter(
    x: FloatArray, gains: Any, hop: int, n_fft: int, frames: Any = None
) -> FloatArray:
    """Filter ``x`` with a response that changes every ``hop`` samples.

    Frame ``k`` is ``x`` around sample ``k * hop`` under a periodic Hann
    window of ``2 * hop`` samples (the windows add up to one); it is
    convolved with the filter whose response at the ``n_fft // 2 + 1`` FFT
    bins is ``gains[k]`` (linear convolution while the impulse response dies
    out within ``n_fft - 2 * hop`` samples), and the frames are added back.
    ``frames`` (indices) restricts the work to those frames, with
    ``gains`` given for them only; the others contribute nothing.
    """
    n = x.size
    n_frames = -(-n // hop) + 1
    padded = np.zeros((n_frames + 1) * hop)
    padded[hop : hop + n] = x
    segments = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop]
    which = np.arange(n_frames) if frames is None else np.asarray(frames)
    window = np.hanning(2 * hop + 1)[:-1].astype(np.float32)  # periodic
    spectra = sfft.rfft(segments[which].astype(np.float32) * window, n_fft)
    spectra *= gains
    chunks = -(-n_fft // hop)
    outputs = np.zeros((which.size, chunks * hop))
    outputs[:, :n_fft] = sfft.irfft(spectra, n_fft)
    parts = outputs.reshape(which.size, chunks, hop)
    total = np.zeros((n_frames + chunks, hop))
    for j in range(chunks):
        total[which + j] += parts[:, j]
    return total.reshape(-1)[hop : hop + n]


def _rosenberg(phase: FloatArray, open_quotient: float) -> FloatArray:
    """Rosenberg glottal flow at phase in [0, 1): rise 70%, fall 30% of open."""
    rise = 0.7 * open_quotient
    fall = 0.3 * open_quotient
    flow = np.zeros_like(phase)
    up = phase < rise
    flow[up] = 0.5 * (1.0 - np.cos(math.pi * phase[up] / rise))
    down = (phase >= rise) & (phase < rise + fall)
    flow[down] = np.cos(0.5 * math.pi * (phase[down] - rise) / fall)
    return flow


def _check_number(name: str, value: Any, low: float, high: float) -> float:
    if (
        not isinstance(value, (int, float, np.integer, np.floating))
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(
            f"synthesize_formant: {name} must be a number in [{low:g}, {high:g}], "
            f"got {value!r}."
        )
    return float(value)


def synthesize_formant(
    text: str,
    voice: FormantVoice,
    *,
    f0: float | None = None,
    rate: float | None = None,
    sample_rate: int = 16000,
    random_state: Any = 0,
) -> tuple[FloatArray, int]:
    """Render text with the formant synthesiser (demonstrations and tests only).

    Parameters
    ----------
    text : str
        English text; see :func:`text_to_phones` for what is spoken.
    voice : FormantVoice
        The speaker.
    f0, rate : float or None, default=None
        Override the voice's mean pitch (Hz, 50 to 400) and speaking rate
        (0.5 to 2).
    sample_rate : int, default=16000
        Samples per second, 8000 to 96000. Formants and noise bands above
        0.42 times this are left out or clipped.
    random_state : int, RandomState instance or None, default=0
        Seed of the durations, pitch movements, jitter and noise: a given
        seed gives the same samples.

    Returns
    -------
    signal : ndarray of shape (n_samples,)
        float64 samples with peak 0.5, 120 ms of silence before and 150 ms
        after the speech.
    sample_rate : int
        ``sample_rate``.

    Raises
    ------
    ValueError
        For text without letters, a voice that is not a :class:`FormantVoice`,
        or ``f0``, ``rate`` or ``sample_rate`` out of range.
    """
    if not isinstance(voice, FormantVoice):
        raise ValueError(
            "synthesize_formant: voice must be a FormantVoice (e.g. "
            f"FormantVoice('anna', f0=210, formant_scale=1.17)), got {voice!r}."
        )
    if not isinstance(text, str):
        raise ValueError(f"synthesize_formant: text must be a str, got {text!r}.")
    if (
        not isinstance(sample_rate, (int, np.integer))
        or isinstance(sample_rate, bool)
        or not _MIN_RATE <= sample_rate <= _MAX_RATE
    ):
        raise ValueError(
            f"synthesize_formant: sample_rate must be an int in [{_MIN_RATE}, "
            f"{_MAX_RATE}], got {sample_rate!r}."
        )
    mean_f0 = voice.f0 if f0 is None else _check_number("f0", f0, 50.0, 400.0)
    speed = voice.rate if rate is None else _check_number("rate", rate, 0.5, 2.0)
    words = text_to_phones(text)
    if not any(w[0] not in _PAUSES for w in words):
        raise ValueError(
            f"synthesize_formant: the text {text!r} has no letters to speak."
        )
    rng = check_random_state(random_state)
    fs = float(sample_rate)
    block = max(1, round(_CONTROL_S * fs))
    frame_s = block / fs

    # --- phones -> control tracks (one row per 5 ms frame)
    formants: list[FloatArray] = []  # (3,) per frame, NaN where unspecified
    voicing: list[float] = []
    aspiration: list[float] = []
    noises: list[tuple[int, int, tuple[float, float, float]]] = []
    accents: list[tuple[int, float]] = []  # (frame, height) of stressed vowels
    phrase_ends: list[tuple[int, str]] = []
    nan3 = np.full(3, np.nan)

    def add(n: int, f: Any, av: float, ah: float, end: Any = None) -> int:
        start = len(voicing)
        n = max(n, 1)
        if f is None:
            rows = np.tile(nan3, (n, 1))
        elif end is None:
            rows = np.tile(np.asarray(f, dtype=np.float64), (n, 1))
        else:
            t = np.linspace(0.0, 1.0, n)[:, None]
            rows = (1 - t) * np.asarray(f) + t * np.asarray(end)
        formants.extend(rows)
        voicing.extend([av] * n)
        aspiration.extend([ah] * n)
        return start

    def frames(ms: float) -> int:
        scaled = ms * (1.0 + 0.12 * rng.uniform(-1, 1)) / speed
        return max(1, round(float(scaled) * 1e-3 / frame_s))

    add(round(0.12 / frame_s), None, 0.0, 0.0)
    last = len(words) - 1
    for w_index, phones in enumerate(words):
        first = phones[0]
        if first in _PAUSES:
            if w_index in (0, last) and first == " ":
                continue
            start = add(frames(_PHONES[first].ms), None, 0.0, 0.0)
            if first != " ":
                phrase_ends.append((start, first))
            continue
        stressed_done = False
        content = "".join(phones) not in _FUNCTION_PHONES
        for ph in phones:
            spec = _PHONES[ph]
            if spec.kind == "vowel":
                stress = content and not stressed_done
                n = frames(spec.ms * (1.3 if stress else 1.0))
                start = add(n, spec.formants, 1.0, 0.0, spec.end)
                if stress:
                    accents.append((start + n // 2, rng.uniform(0.5, 1.0)))
                    stressed_done = True
            elif spec.kind == "glide":
                add(frames(spec.ms), spec.formants, 0.7, 0.0)
            elif spec.kind == "nasal":
                add(frames(spec.ms), spec.formants, 0.35, 0.0)
            elif spec.kind == "h":
                add(frames(spec.ms), None, 0.0, 0.5)
            elif spec.kind == "fricative":
                assert spec.noise is not None
                n = frames(spec.ms)
                start = add(n, spec.formants, 0.3 if spec.voiced else 0.0, 0.0)
                noises.append((start, n, spec.noise))
            else:  # stop: closure, burst, aspiration (voiceless)
                assert spec.noise is not None
                closure = frames(spec.ms * (0.55 if not spec.voiced else 0.75))
                add(closure, spec.formants, 0.08 if spec.voiced else 0.0, 0.0)
                burst = max(2, frames(12.0))
                start = add(burst, spec.formants, 0.0, 0.0)
                noises.append((start, burst, spec.noise))
                if not spec.voiced:
                    add(frames(spec.ms * 0.35), None, 0.0, 0.4)
    add(round(0.15 / frame_s), None, 0.0, 0.0)
    phrase_ends.append((len(voicing), "."))
    n_frames = len(voicing)

    # Formants: fill the unspecified frames by interpolation, then glide.
    F: FloatArray = np.asarray(formants, dtype=np.float64)
    known = ~np.isnan(F[:, 0])
    idx = np.arange(n_frames)
    for j in range(3):
        F[:, j] = np.interp(idx, idx[known], F[known, j])
    F = _smooth(F, max(2, round(0.04 / frame_s)))
    higher = np.broadcast_to([3500.0, 4500.0], (n_frames, 2))
    freqs = np.column_stack([F, higher]) * voice.formant_scale
    bws = np.array([80.0, 90.0, 150.0, 250.0, 300.0]) * voice.bandwidth_scale
    limit = 0.42 * fs
    keep = [j for j in range(5) if j < 3 or freqs[:, j].max() < limit]
    # The vocal tract's response every 2 control frames (10 ms), applied by
    # overlap-add with 20 ms windows; FFTs long enough for the impulse
    # responses to die out (40 ms: 5 time constants of the narrowest formant).
    hop = 2 * block
    n_samples = n_frames * block
    n_filter = -(-n_samples // hop) + 1
    at = np.minimum(2 * np.arange(n_filter), n_frames - 1)
    n_fft = sfft.next_fast_len(2 * hop + round(0.04 * fs), real=True)
    tract = _tract_response(np.minimum(freqs[at][:, keep], limit), bws[keep], fs, n_fft)

    av = _smooth(np.asarray(voicing), 3)
    ah = _smooth(np.asarray(aspiration), 3)

    # Pitch: declination per phrase, an accent on stressed vowels, final
    # fall (or rise for a question), slow drift and cycle-to-cycle jitter.
    t = idx * frame_s
    contour = np.ones(n_frames)
    begin = 0
    for end_frame, kind in phrase_ends:
        span = max(end_frame - begin, 1)
        local = (idx[begin:end_frame] - begin) / span
        contour[begin:end_frame] += voice.intonation * (0.5 - local)
        tail = max(1, round(0.25 / frame_s))
        lo = max(begin, end_frame - tail)
        ramp = np.linspace(0.0, 1.0, end_frame - lo)
        if kind == "?":
            contour[lo:end_frame] += 2.0 * voice.intonation * ramp
        elif kind == ".":
            contour[lo:end_frame] -= voice.intonation * ramp
        begin = end_frame
    for frame, height in accents:
        contour += (
            voice.intonation
            * height
            * np.exp(-0.5 * ((t - frame * frame_s) / 0.08) ** 2)
        )
    drift = _smooth(rng.standard_normal(n_frames), max(2, round(0.3 / frame_s)))
    contour *= 1.0 + 0.02 * drift / max(float(np.std(drift)), 1e-12)
    contour *= 1.0 + voice.jitter * rng.standard_normal(n_frames)
    f0_frames = mean_f0 * np.clip(contour, 0.5, 2.0)

    # --- source: per-sample pitch, Rosenberg pulses, tilt, aspiration
    ts = (np.arange(n_samples) + 0.5) / block - 0.5
    phase = np.cumsum(np.interp(ts, idx, f0_frames) / fs) % 1.0
    flow = _rosenberg(phase, voice.open_quotient)
    source = sps.lfilter(
        [1.0 - voice.tilt], [1.0, -voice.tilt], np.diff(flow, prepend=0.0)
    )
    av_s = np.interp(ts, idx, av)
    voiced = av_s > 0.5
    if voiced.any():
        source /= max(float(np.sqrt(np.mean(source[voiced] ** 2))), 1e-12)
    breath = voice.breathiness * 2.0 * rng.standard_normal(n_samples) * (0.3 + flow)
    excitation = av_s * (source + breath)
    excitation += np.interp(ts, idx, ah) * rng.standard_normal(n_samples)
    out = _overlap_add_filter(excitation, tract, hop, n_fft)

    # --- fricatives and bursts: band-pass noise in parallel, its level
    # relative to the voiced speech
    centre = np.full(n_frames, np.nan)
    width = np.full(n_frames, np.nan)
    amp = np.zeros(n_frames)
    for start, n, (c, w, a) in noises:
        centre[start : start + n] = c * voice.formant_scale
        width[start : start + n] = w
        amp[start : start + n] = a
    if noises:
        has = ~np.isnan(centre)
        centre = np.interp(at, idx[has], centre[has])
        width = np.interp(at, idx[has], width[has])
        envelope = np.interp(ts, idx, _smooth(amp, 3))
        # Filter frames k cover samples [(k - 1) hop, (k + 1) hop).
        busy = np.zeros((n_filter + 1) * hop)
        busy[hop : hop + n_samples] = envelope
        loud = busy.reshape(-1, hop).max(axis=1) > 0
        active = np.flatnonzero(loud[:-1] | loud[1:])
        hz = np.arange(n_fft // 2 + 1) * fs / n_fft
        c_k, w_k = centre[active, None], width[active, None]
        shape = 1.0 / (1.0 + ((hz - c_k) / (0.5 * w_k)) ** 4)
        shape[:, hz >= limit] = 0.0
        shape /= np.maximum(np.sqrt(np.mean(shape**2, axis=1, keepdims=True)), 1e-12)
        shape = shape.astype(np.float32)
        level = float(np.sqrt(np.mean(out[voiced] ** 2))) if voiced.any() else 1.0
        white = envelope * rng.standard_normal(n_samples)
        out += level * _overlap_add_filter(white, shape, hop, n_fft, active)
    peak = float(np.max(np.abs(out)))
    return 0.5 * out / max(peak, 1e-12), int(sample_rate)


_FUNCTION_PHONES = frozenset("".join(_word_phones(w)) for w in _FUNCTION_WORDS)
