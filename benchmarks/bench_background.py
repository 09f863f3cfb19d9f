"""Benchmark: gaussmix.apps.background against OpenCV's MOG2 on generated videos.

Run: ``.venv/bin/python benchmarks/bench_background.py [--frames N] [--warm-up W]
[--size WxH] [--profile]`` (needs ``opencv-python-headless``).

* Scenes: a grey and a colour video from
  :func:`gaussmix.apps.background.synthetic_video` (textured background,
  sensor noise of 3 grey levels, a slow change of light, a waving tree whose
  pixels switch between three colours, three textured objects bouncing around
  and casting shadows), with their exact ground truth.
* Both subtractors use MOG2's defaults (history 500, varThreshold 16,
  detectShadows on, 5 components, background ratio 0.9, varThresholdGen 9,
  varInit 15, varMin 4, varMax 75, CT 0.05, shadow threshold 0.5), checked
  against ``cv2.createBackgroundSubtractorMOG2()``'s getters at the start.
* Quality: F1 of the foreground (255 only: shadows count as background) after
  the warm-up, pooled over pixels and frames, for three learning-rate
  schedules: each tool's automatic rate (both ``1/min(2n, history)``; the
  script checks this by reproducing MOG2's automatic masks bit for bit), and
  each of the two schedules given explicitly to both. Also the share of pixels
  where the two masks agree.
* Speed: ``apply`` only (frames made beforehand), one core: OpenCV with
  ``cv2.setNumThreads(1)``, NumPy with one BLAS/OpenMP thread (environment set
  before NumPy loads, and threadpoolctl). Each tool runs the video alone (the
  usual measure), then both again frame by frame, alternately ("interleaved":
  load from other processes hits both alike, but each evicts the other's model
  from the caches, which costs gaussmix, whose update makes several passes
  over its arrays, more than MOG2's single pass); the table gives the median
  time per frame as frames per second.

``--profile`` prints the functions where gaussmix spends its time (cProfile,
grey scene).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from gaussmix.apps.background import (  # noqa: E402
    BackgroundSubtractor,
    foreground_f1,
    synthetic_video,
)


def check_same_parameters(cv2: Any, ours: BackgroundSubtractor) -> None:
    mog2 = cv2.createBackgroundSubtractorMOG2()
    pairs = {
        "n_components": mog2.getNMixtures(),
        "history": mog2.getHistory(),
        "var_threshold": mog2.getVarThreshold(),
        "detect_shadows": mog2.getDetectShadows(),
        "background_ratio": mog2.getBackgroundRatio(),
        "var_threshold_gen": mog2.getVarThresholdGen(),
        "var_init": mog2.getVarInit(),
        "var_min": mog2.getVarMin(),
        "var_max": mog2.getVarMax(),
        "complexity_reduction": mog2.getComplexityReductionThreshold(),
        "shadow_threshold": mog2.getShadowThreshold(),
        "shadow_value": mog2.getShadowValue(),
    }
    params = ours.get_params()
    for name, theirs in pairs.items():
        if not np.isclose(params[name], theirs, rtol=1e-6):  # MOG2 keeps float32
            raise SystemExit(
                f"parameter {name}: gaussmix {params[name]}, MOG2 {theirs}"
            )


Schedule = Callable[[int], float] | None


def run(
    cv2: Any,
    frames: np.ndarray,
    ours_rate: Schedule,
    cv_rate: Schedule,
) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """Masks of both, and the time of each apply call, alternating per frame."""
    ours = BackgroundSubtractor()
    mog2 = cv2.createBackgroundSubtractorMOG2()
    a = np.empty(frames.shape[:3], np.uint8)
    b = np.empty(frames.shape[:3], np.uint8)
    ta, tb = [], []
    clock = time.perf_counter
    for n, frame in enumerate(frames, start=1):
        ra = -1.0 if ours_rate is None else ours_rate(n)
        rb = -1.0 if cv_rate is None else cv_rate(n)
        t0 = clock()
        a[n - 1] = ours.apply(frame, ra)
        t1 = clock()
        b[n - 1] = mog2.apply(frame, learningRate=rb)
        t2 = clock()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return a, b, ta, tb


def time_alone(apply: Callable[[np.ndarray], Any], frames: np.ndarray) -> float:
    """Median time of one call, over a whole video given to one tool alone."""
    times = []
    clock = time.perf_counter
    for frame in frames:
        t0 = clock()
        apply(frame)
        times.append(clock() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    width, height = (int(v) for v in args.size.lower().split("x"))
    history = 500
    check_same_parameters(cv2, BackgroundSubtractor())

    def per_n(n: int) -> float:
        return 1.0 / min(n, history)

    def per_2n(n: int) -> float:
        return 1.0 / min(2 * n, history)

    print(
        f"{args.frames} frames of {width} x {height}, F1 after frame "
        f"{args.warm_up}, one core (cv2 threads {cv2.getNumThreads()}); "
        f"numpy {np.__version__}, opencv {cv2.__version__}, Python "
        f"{sys.version.split()[0]}"
    )
    quality = []
    speed = []
    w = args.warm_up
    with threadpool_limits(1):
        for scene, colour in (("grey", False), ("colour", True)):
            video = synthetic_video(
                args.frames,
                (height, width),
                colour=colour,
                shadows=True,
                seed=args.seed,
            )
            truth = video.truth[w:]
            fg_share = float(np.mean(truth == 255))
            schedules = (
                ("automatic (both 1/min(2n, 500))", None, None),
                ("1/min(n, 500) for both", per_n, per_n),
                ("1/min(2n, 500) for both", per_2n, per_2n),
            )
            for label, ra, rb in schedules:
                a, b, ta, tb = run(cv2, video.frames, ra, rb)
                quality.append(
                    (
                        scene,
                        label,
                        foreground_f1(a[w:], truth),
                        foreground_f1(b[w:], truth),
                        float(np.mean(a[w:] == b[w:])),
                    )
                )
                if ra is None:
                    alone_a = time_alone(BackgroundSubtractor().apply, video.frames)
                    alone_b = time_alone(
                        cv2.createBackgroundSubtractorMOG2().apply, video.frames
                    )
                    speed.append(
                        (
                            scene,
                            alone_a,
                            alone_b,
                            statistics.median(ta),
                            statistics.median(tb),
                        )
                    )
                    # MOG2's automatic rate is 1/min(2n, history): same masks
                    _, again, _, _ = run(cv2, video.frames[:150], None, per_2n)
                    _, auto, _, _ = run(cv2, video.frames[:150], None, None)
                    same = np.array_equal(again, auto)
                    print(
                        f"{scene}: MOG2's automatic rate is 1/min(2n, history): {same}"
                    )
            print(f"{scene}: {fg_share:.1%} of the pixels are foreground after warm-up")
    print()
    print("| scene | learning rate | F1 gaussmix | F1 MOG2 | masks agree |")
    print("|---|---|---|---|---|")
    for scene, label, fa, fb, agree in quality:
        print(f"| {scene} | {label} | {fa:.4f} | {fb:.4f} | {agree:.2%} |")
    print()
    print(
        "| scene | frames/s gaussmix | frames/s MOG2 | MOG2 / gaussmix time "
        "| interleaved: gaussmix | MOG2 | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for scene, ta, tb, ia, ib in speed:
        print(
            f"| {scene} | {1 / ta:.0f} | {1 / tb:.0f} | {tb / ta:.2f} "
            f"| {1 / ia:.0f} | {1 / ib:.0f} | {ib / ia:.2f} |"
        )

    if args.profile:
        video = synthetic_video(300, (height, width), shadows=True, seed=args.seed)
        model = BackgroundSubtractor()
        for frame in video.frames[:100]:
            model.apply(frame)
        profiler = cProfile.Profile()
        profiler.enable()
        for frame in video.frames[100:]:
            model.apply(frame)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
