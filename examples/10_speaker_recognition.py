"""Who is speaking? GMM-UBM speaker recognition on synthetic voices.

The recipe of Reynolds, Quatieri and Dunn (2000), with
:mod:`gaussmix.apps.speaker`: MFCCs with deltas and delta-deltas (librosa),
silence dropped by energy, cepstral mean removed; a 64-component
diagonal-covariance universal background model (UBM) fitted on eight
background speakers; each target speaker's model is the UBM with its means
MAP-adapted to six enrollment sentences (relevance factor 16); a test
utterance's score is its average per-frame log-likelihood ratio between a
speaker model and the UBM.

The speakers are synthetic, so nothing is downloaded. With espeak-ng
installed (Debian: ``apt-get install espeak-ng``) they are espeak-ng voices
(voice variants, pitches and speeds); without it, or with ``--engine
formant``, they come from gaussmix's own small formant synthesiser (glottal
pulses through formant resonators, each speaker with their own vocal-tract
length, pitch, tilt, breathiness and rate: not intelligible speech, but
speakers whose spectra differ). The pitch and speed of every utterance jitter
around the speaker's own. Test sentences are never heard in training. The
script prints which engine it used, closed-set identification accuracy and
the verification equal error rate (EER) for three choices of the adapted
parameters, and draws the scores and one speaker's adaptation.

Synthetic voices are easier than real speakers (no colds, no microphones, no
aging), so the numbers show the method working, not what it would do on a
real corpus.

Run::

    python examples/10_speaker_recognition.py [--out DIR] [--small]
        [--engine {auto,espeak,formant}]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse
from scipy.stats import norm

from gaussmix.apps import speaker as sp
from gaussmix.plotting import covariance_ellipses

DPI = 90


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    parser.add_argument(
        "--engine",
        choices=("auto", "espeak", "formant"),
        default="auto",
        help="speech synthesiser: espeak-ng, the built-in formant synthesiser, or "
        "auto (espeak-ng when installed)",
    )
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def evaluate(
    rec: sp.SpeakerRecognizer, tests: list[Any], truth: list[str]
) -> dict[str, Any]:
    S = rec.score_matrix(tests)
    predicted = [rec.speakers[i] for i in S.argmax(axis=1)]
    genuine, impostor = sp.trial_scores(S, truth, rec.speakers)
    eer, threshold = sp.equal_error_rate(genuine, impostor)
    return {
        "scores": S,
        "predicted": predicted,
        "accuracy": sp.identification_accuracy(truth, predicted),
        "genuine": genuine,
        "impostor": impostor,
        "eer": eer,
        "threshold": threshold,
    }


def draw_scores(result: dict[str, Any], speakers: list[str], truth: list[str]) -> Any:
    fig, axes = plt.subplots(
        1, 3, figsize=(14, 4.6), layout="constrained", width_ratios=[1.1, 1, 1]
    )
    S = result["scores"]
    ax = axes[0]
    image = ax.imshow(S, aspect="auto", cmap="viridis", interpolation="nearest")
    rows = np.arange(len(truth))
    ax.scatter(
        [speakers.index(t) for t in truth],
        rows,
        marker="o",
        s=18,
        facecolors="none",
        edgecolors="white",
        linewidths=1.0,
        label="true speaker",
    )
    wrong = [
        i
        for i, (p, t) in enumerate(zip(result["predicted"], truth, strict=True))
        if p != t
    ]
    ax.scatter(
        [speakers.index(result["predicted"][i]) for i in wrong],
        wrong,
        marker="x",
        s=30,
        color="red",
        label="wrong pick",
    )
    ax.set_xticks(
        range(len(speakers)),
        [" ".join(s.split()[:2]) for s in speakers],
        rotation=60,
        ha="right",
        fontsize=7,
    )
    ax.set_ylabel("test utterance (grouped by speaker)")
    ax.set_title(f"scores: identification accuracy {result['accuracy']:.0%}")
    ax.set_xlabel("speaker model (white o: true speaker, red x: wrong pick)")
    fig.colorbar(image, ax=ax, label="mean log-likelihood ratio per frame")

    ax = axes[1]
    bins = np.linspace(min(S.min(), 0), S.max(), 30)
    ax.hist(
        result["impostor"],
        bins=bins,
        alpha=0.6,
        label="impostor trials",
        color="tab:red",
        density=True,
    )
    ax.hist(
        result["genuine"],
        bins=bins,
        alpha=0.6,
        label="genuine trials",
        color="tab:blue",
        density=True,
    )
    ax.axvline(
        result["threshold"],
        color="k",
        ls="--",
        label=f"EER threshold {result['threshold']:.2f}",
    )
    ax.set_xlabel("score (mean log-likelihood ratio per frame)")
    ax.set_ylabel("density")
    ax.set_title(f"verification: equal error rate {result['eer']:.1%}")
    ax.legend(fontsize=8)

    ax = axes[2]
    far, frr, _ = sp.det_curve(result["genuine"], result["impostor"])
    eps = 0.5 / max(len(result["impostor"]), len(result["genuine"]))
    ax.plot(
        norm.ppf(np.clip(far, eps, 1 - eps)),
        norm.ppf(np.clip(frr, eps, 1 - eps)),
        drawstyle="steps-post",
        color="tab:purple",
    )
    e = norm.ppf(np.clip(result["eer"], eps, 1 - eps))
    ax.plot([e], [e], "ko", label=f"EER {result['eer']:.1%}")
    ticks = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
    ax.set_xticks(norm.ppf(ticks), [f"{t:.0%}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t:.0%}" for t in ticks])
    lim = norm.ppf([eps, 0.5])
    ax.plot(lim, lim, color="0.7", lw=0.8)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("false acceptance rate")
    ax.set_ylabel("false rejection rate")
    ax.set_title("DET curve")
    ax.legend(fontsize=8)
    return fig


def draw_adaptation(
    ubm: Any, model: Any, frames: np.ndarray, speaker: str, relevance: float
) -> Any:
    """UBM components and one speaker's adapted means in the (c1, c2) plane."""
    fig, ax = plt.subplots(figsize=(7, 5.6), layout="constrained")
    ax.scatter(
        frames[:, 0],
        frames[:, 1],
        s=3,
        color="tab:blue",
        alpha=0.25,
        label=f"enrollment frames of {speaker}",
    )
    for center, width, height, angle in covariance_ellipses(ubm, (0, 1)):
        ax.add_patch(
            Ellipse(center, width, height, angle=angle, fill=False, color="0.6", lw=0.6)
        )
    n_k = np.asarray(ubm.predict_proba(frames)).sum(axis=0)
    alpha = n_k / (n_k + relevance)
    ax.scatter(
        ubm.means_[:, 0],
        ubm.means_[:, 1],
        s=12,
        color="0.4",
        label="UBM means (1-sigma ellipses)",
    )
    moved = model.means_[:, :2] - ubm.means_[:, :2]
    q = ax.quiver(
        ubm.means_[:, 0],
        ubm.means_[:, 1],
        moved[:, 0],
        moved[:, 1],
        alpha,
        angles="xy",
        scale_units="xy",
        scale=1,
        cmap="plasma",
        width=0.005,
        clim=(0, 1),
    )
    fig.colorbar(q, ax=ax, label="alpha = n_k / (n_k + r)")
    ax.set_xlabel("c1 (after cepstral mean normalisation)")
    ax.set_ylabel("c2")
    ax.set_title(
        f"MAP adaptation of the means (r = {relevance:g}): components the "
        "speaker uses move,\nthe others stay (arrows: UBM mean to speaker mean)",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=8)
    return fig


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = sp.resolve_engine(args.engine)
    if engine == "espeak" and not sp.espeak_available():
        raise SystemExit(
            "--engine espeak needs espeak-ng (apt-get install espeak-ng); "
            "--engine formant needs nothing"
        )
    if args.small:
        sizes = {
            "n_speakers": 4,
            "n_enroll": 4,
            "n_test": 3,
            "n_background": 3,
            "n_background_sentences": 10,
        }
        n_components = 16
    else:
        sizes = {
            "n_speakers": 10,
            "n_enroll": 6,
            "n_test": 5,
            "n_background": 8,
            "n_background_sentences": 20,
        }
        n_components = 64
    relevance = 16.0

    corpus = sp.make_demo_corpus(**sizes, random_state=0, engine=engine)
    seconds = [
        s.size / corpus.sample_rate
        for part in (corpus.background, corpus.enroll, corpus.test)
        for _, s in part
    ]
    label = {"espeak": "espeak-ng", "formant": "formant synthesiser"}[corpus.engine]
    why = {
        "auto": "espeak-ng installed" if engine == "espeak" else "no espeak-ng found",
        "espeak": "asked for",
        "formant": "asked for",
    }[args.engine]
    print(f"speech engine: {label} ({why})")
    print(
        f"{label}: {len(corpus.background)} background utterances "
        f"({sizes['n_background']} speakers), {len(corpus.enroll)} enrollment and "
        f"{len(corpus.test)} test utterances of {sizes['n_speakers']} target speakers; "
        f"{sum(seconds) / 60:.1f} min of speech, mean {np.mean(seconds):.1f} s, "
        f"synthesised in {corpus.seconds:.1f} s"
    )
    t0 = time.perf_counter()
    feats = {
        part: [
            sp.mfcc_features(s, corpus.sample_rate) for _, s in getattr(corpus, part)
        ]
        for part in ("background", "enroll", "test")
    }
    t_feat = time.perf_counter() - t0
    n_frames = sum(f.shape[0] for f in feats["background"])
    width = feats["background"][0].shape[1]
    print(
        f"features: {width} per frame (c1-c19, deltas, delta-deltas; 25 ms frames "
        f"every 10 ms, silence dropped, cepstral mean removed) in {t_feat:.1f} s; "
        f"{n_frames} background frames"
    )

    speakers = corpus.speakers
    truth = [name for name, _ in corpus.test]
    t0 = time.perf_counter()
    rec = sp.SpeakerRecognizer(n_components=n_components, relevance_factor=relevance)
    rec.fit_ubm(feats["background"])
    t_ubm = time.perf_counter() - t0
    assert rec.ubm is not None
    print(
        f"UBM: {n_components} diagonal components, EM converged={rec.ubm.converged_} "
        f"in {rec.ubm.n_iter_} iterations, {t_ubm:.1f} s"
    )
    enroll_by_speaker = {
        name: [
            f
            for (n, _), f in zip(corpus.enroll, feats["enroll"], strict=True)
            if n == name
        ]
        for name in speakers
    }
    variants = [("means",), ("means", "weights"), ("means", "variances", "weights")]
    results = {}
    print(f"{'adapted':<26} {'accuracy':>9} {'EER':>7} {'enroll s':>9}")
    for adapt in variants:
        rec.adapt = adapt
        t0 = time.perf_counter()
        for name in speakers:
            rec.enroll(name, enroll_by_speaker[name])
        t_enroll = time.perf_counter() - t0
        res = evaluate(rec, feats["test"], truth)
        results[adapt] = res
        print(
            f"{'+'.join(adapt):<26} {res['accuracy']:>9.1%} {res['eer']:>7.1%} "
            f"{t_enroll:>9.2f}"
        )
    rec.adapt = ("means",)
    for name in speakers:
        rec.enroll(name, enroll_by_speaker[name])
    main_result = results[("means",)]
    print(
        f"means-only MAP (r = {relevance:g}), {len(speakers)} speakers, "
        f"{len(truth)} test utterances: identification accuracy "
        f"{main_result['accuracy']:.1%} (chance {1 / len(speakers):.0%}); equal error "
        f"rate {main_result['eer']:.1%} at threshold {main_result['threshold']:.3f} "
        f"({main_result['genuine'].size} genuine, {main_result['impostor'].size} "
        "impostor trials)"
    )
    wrong = [
        (t, p) for t, p in zip(truth, main_result["predicted"], strict=True) if t != p
    ]
    for t, p in wrong:
        print(f"  misidentified: {t} taken for {p}")

    figures = [
        save(draw_scores(main_result, speakers, truth), out, "10_speaker_scores.png")
    ]
    shown = speakers[1]
    frames = np.concatenate(enroll_by_speaker[shown])
    figures.append(
        save(
            draw_adaptation(rec.ubm, rec.models[shown], frames, shown, relevance),
            out,
            "10_speaker_map.png",
        )
    )
    return {
        "engine": corpus.engine,
        "n_speakers": len(speakers),
        "n_enroll": sizes["n_enroll"],
        "n_test_utterances": len(truth),
        "n_background_utterances": len(corpus.background),
        "n_background_frames": n_frames,
        "ubm_components": n_components,
        "accuracy": main_result["accuracy"],
        "eer": main_result["eer"],
        "eer_threshold": main_result["threshold"],
        "variants": {
            "+".join(k): (v["accuracy"], v["eer"]) for k, v in results.items()
        },
        "score_matrix": main_result["scores"],
        "seconds": {"features": t_feat, "ubm": t_ubm, "synthesis": corpus.seconds},
        "figures": figures,
    }


if __name__ == "__main__":
    main()
