"""Benchmark: GMM-UBM speaker recognition against what people use without a UBM.

Run: ``.venv/bin/python benchmarks/bench_speaker.py [--small] [--repeats R]
[--engine {auto,espeak,formant}]`` (needs librosa; uses espeak-ng when it is
installed, gaussmix's formant synthesiser otherwise or with ``--engine
formant``, and prints which).

One synthetic corpus (:func:`gaussmix.apps.speaker.make_demo_corpus`: 10
target speakers, 6 enrollment and 5 held-out test sentences each; 8
background speakers x 20 sentences for the UBM), one set of features (MFCC
c1-c19 with deltas and delta-deltas, silence dropped, cepstral mean removed),
then:

* **gaussmix GMM-UBM**: a 64-component diagonal UBM on the background speech,
  means MAP-adapted to each speaker (r = 16), scores = mean log-likelihood
  ratio against the UBM;
* **sklearn per-speaker GMM**: ``sklearn.mixture.GaussianMixture`` (diagonal,
  16 and 64 components, k-means start) fitted from scratch on each speaker's
  enrollment frames, no UBM; scores = mean log-likelihood per frame;
* **gaussmix per-speaker GMM**: the same with ``gaussmix.GaussianMixture``
  (the fit-time ratio is the like-for-like comparison of the two estimators);
* **cosine on mean MFCC**: each speaker is the mean of its c1-c19 cepstra
  (without mean removal, which would zero them); scores = cosine similarity.

Identification is closed-set (argmax over the enrolled speakers); the EER pools
every genuine and impostor trial with one threshold. Training time is the
median of ``--repeats`` runs in this one process (the machine is shared, so
absolute times are noisy; compare ratios). gaussmix runs BLAS single-threaded
inside its fits; ``--threads 1`` holds scikit-learn to one thread as well.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

import gaussmix
from gaussmix.apps import speaker as sp


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def evaluate(
    S: np.ndarray, truth: list[str], speakers: list[str]
) -> tuple[float, float]:
    predicted = [speakers[i] for i in S.argmax(axis=1)]
    accuracy = sp.identification_accuracy(truth, predicted)
    eer, _ = sp.equal_error_rate(*sp.trial_scores(S, truth, speakers))
    return accuracy, eer


def per_speaker_gmms(cls: Any, enroll: dict[str, np.ndarray], k: int) -> dict[str, Any]:
    models = {}
    for name, X in enroll.items():
        model = cls(
            n_components=k,
            covariance_type="diag",
            reg_covar=1e-3,
            max_iter=200,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a non-converged fit is still scored
            models[name] = model.fit(X)
    return models


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="4 speakers, tiny sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS and OpenMP threads of both libraries (default: theirs)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "espeak", "formant"),
        default="auto",
        help="speech synthesiser (auto: espeak-ng when installed, else formant)",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        with threadpool_limits(limits=args.threads):
            return run(args)
    return run(args)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
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
        ubm_k, ks = 16, (4, 16)
    else:
        sizes = {
            "n_speakers": 10,
            "n_enroll": 6,
            "n_test": 5,
            "n_background": 8,
            "n_background_sentences": 20,
        }
        ubm_k, ks = 64, (16, 64)

    corpus = sp.make_demo_corpus(**sizes, random_state=0, engine=engine)
    label = {"espeak": "espeak-ng", "formant": "formant synthesiser"}[corpus.engine]
    print(f"speech engine: {label} ({corpus.sample_rate} Hz)")
    rate = corpus.sample_rate
    feats = {
        part: [sp.mfcc_features(s, rate) for _, s in getattr(corpus, part)]
        for part in ("background", "enroll", "test")
    }
    speakers = corpus.speakers
    truth = [name for name, _ in corpus.test]
    enroll = {
        name: np.concatenate(
            [
                f
                for (n, _), f in zip(corpus.enroll, feats["enroll"], strict=True)
                if n == name
            ]
        )
        for name in speakers
    }
    tests = feats["test"]
    n_bg = sum(f.shape[0] for f in feats["background"])
    print(
        f"corpus: {len(speakers)} speakers x {sizes['n_enroll']} enrollment / "
        f"{sizes['n_test']} test sentences ({np.mean([len(v) for v in enroll.values()]):.0f} "
        f"enrollment frames per speaker), UBM on {n_bg} frames of "
        f"{sizes['n_background']} other speakers; {len(truth)} identification trials, "
        f"{len(truth)} genuine + {len(truth) * (len(speakers) - 1)} impostor trials; "
        f"{feats['test'][0].shape[1]} features; median of {args.repeats} runs"
    )
    rows = []

    def gmm_ubm() -> sp.SpeakerRecognizer:
        rec = sp.SpeakerRecognizer(n_components=ubm_k).fit_ubm(feats["background"])
        for name in speakers:
            rec.enroll(name, enroll[name])
        return rec

    t_train, rec = median_time(gmm_ubm, args.repeats)
    t_score, S = median_time(lambda: rec.score_matrix(tests), args.repeats)
    t_ubm, _ = median_time(
        lambda: sp.train_ubm(feats["background"], ubm_k), args.repeats
    )
    pooled = np.concatenate(feats["background"])

    def sk_ubm() -> Any:
        return SkGaussianMixture(
            ubm_k, covariance_type="diag", reg_covar=1e-3, max_iter=200, random_state=0
        ).fit(pooled)

    t_sk_ubm, sk_model = median_time(sk_ubm, args.repeats)
    rows.append(
        {
            "method": f"gaussmix GMM-UBM ({ubm_k}, MAP means r=16)",
            "train": t_train,
            "score": t_score,
            "note": f"UBM fit {t_ubm:.2f} s of it",
            **dict(zip(("accuracy", "eer"), evaluate(S, truth, speakers), strict=True)),
        }
    )

    for k in ks:
        for label, cls in (
            ("sklearn", SkGaussianMixture),
            ("gaussmix", gaussmix.GaussianMixture),
        ):
            t_train, models = median_time(
                lambda cls=cls, k=k: per_speaker_gmms(cls, enroll, k), args.repeats
            )

            def score_all(models: dict[str, Any] = models) -> np.ndarray:
                return np.array([[models[s].score(X) for s in speakers] for X in tests])

            t_score, S = median_time(score_all, args.repeats)
            rows.append(
                {
                    "method": f"{label} per-speaker GMM ({k}, no UBM)",
                    "train": t_train,
                    "score": t_score,
                    "note": "",
                    **dict(
                        zip(
                            ("accuracy", "eer"),
                            evaluate(S, truth, speakers),
                            strict=True,
                        )
                    ),
                }
            )

    def mean_statics(signal: np.ndarray) -> np.ndarray:
        return sp.mfcc_features(signal, rate, deltas=0, cmn=False).mean(axis=0)

    def cosine_train() -> dict[str, np.ndarray]:
        out = {}
        for name in speakers:
            vecs = [mean_statics(s) for n, s in corpus.enroll if n == name]
            out[name] = np.mean(vecs, axis=0)
        return out

    t_train, centroids = median_time(cosine_train, args.repeats)
    test_vecs = [mean_statics(s) for _, s in corpus.test]
    C = np.array([centroids[s] for s in speakers])
    C = C / np.linalg.norm(C, axis=1, keepdims=True)
    V = np.array(test_vecs)
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    rows.append(
        {
            "method": "cosine on mean MFCC (c1-c19)",
            "train": t_train,
            "score": 0.0,
            "note": "train time includes its own MFCC pass",
            **dict(
                zip(
                    ("accuracy", "eer"), evaluate(V @ C.T, truth, speakers), strict=True
                )
            ),
        }
    )

    base = rows[0]["train"]
    print(
        f"\n{'method':<42} {'accuracy':>8} {'EER':>7} {'train s':>8} "
        f"{'x GMM-UBM':>9} {'score s':>8}  note"
    )
    for r in rows:
        print(
            f"{r['method']:<42} {r['accuracy']:>8.1%} {r['eer']:>7.1%} "
            f"{r['train']:>8.3f} {r['train'] / base:>9.2f} {r['score']:>8.3f}  "
            f"{r['note']}"
        )
    for k in ks:
        sk = next(
            r for r in rows if r["method"].startswith(f"sklearn per-speaker GMM ({k},")
        )
        gm = next(
            r for r in rows if r["method"].startswith(f"gaussmix per-speaker GMM ({k},")
        )
        print(
            f"per-speaker {k}-component fits: sklearn / gaussmix time = "
            f"{sk['train'] / gm['train']:.2f}"
        )
    print(
        f"UBM fit alone ({ubm_k} diag components, {pooled.shape[0]} frames): gaussmix "
        f"{t_ubm:.2f} s, sklearn {t_sk_ubm:.2f} s ({sk_model.n_iter_} iterations; "
        f"sklearn / gaussmix = {t_sk_ubm / t_ubm:.2f})"
    )
    return rows


if __name__ == "__main__":
    main()
