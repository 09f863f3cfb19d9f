"""Moving objects in a video: a mixture per pixel, blobs, then tracks.

A generated colour video (320 x 240, 300 frames: a textured background with
sensor noise and a slow change of light, a waving tree whose pixels switch
between three colours, and three textured objects that bounce around and cast
shadows) goes frame by frame through
:class:`gaussmix.apps.background.BackgroundSubtractor`, an adaptive Gaussian
mixture for every pixel (Zivkovic's MOG2 rules). Its foreground mask (shadows
marked apart) is cleaned with a small morphological closing and opening,
split into blobs by ``scipy.ndimage.label``, and the blob centroids are linked
into tracks from frame to frame: nearest neighbour, after a constant-velocity
prediction, within a gate.

The video comes with its exact ground truth, so the script prints the F1
score of the masks (after a warm-up, shadows counted as background) and how
far each object's track stays from the object's true centre. Figures: the
last frame, its mask, the learned background and the number of mixture
components per pixel (the tree needs three, the rest one); and the tracks over
the last frame, with the true paths dashed.

Run::

    python examples/09_background_tracking.py [--out DIR] [--small]
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
from scipy import ndimage

from gaussmix.apps.background import (
    BackgroundSubtractor,
    foreground_f1,
    synthetic_video,
)

DPI = 90


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def blobs(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (row, col) of the foreground blobs of a mask, and the clean mask.

    Only 255 is foreground (shadows, 127, are not). A closing (two steps of
    a 3 x 3 square) joins the pieces of an object that parts of the
    background's colour split, an opening with the same square then removes
    isolated pixels, and blobs smaller than ``min_area`` pixels are dropped.
    """
    square = np.ones((3, 3), bool)
    clean = ndimage.binary_closing(mask == 255, structure=square, iterations=2)
    clean = ndimage.binary_opening(clean, structure=square)
    labels, n = ndimage.label(clean)
    if n == 0:
        return np.empty((0, 2)), clean
    index = np.arange(1, n + 1)
    areas = ndimage.sum_labels(clean, labels, index)
    keep = index[areas >= min_area]
    clean = np.isin(labels, keep)
    centres = np.array(ndimage.center_of_mass(clean, labels, keep)).reshape(-1, 2)
    return centres, clean


class Track:
    """Positions of one object: frame numbers and (row, col) centroids."""

    def __init__(self, frame: int, point: np.ndarray) -> None:
        self.frames = [frame]
        self.points = [point]

    def predict(self, t: int) -> np.ndarray:
        """Where the object should be at frame ``t``: constant velocity."""
        last = self.points[-1]
        if len(self.points) < 2:
            return last
        step = (last - self.points[-2]) / (self.frames[-1] - self.frames[-2])
        return last + step * (t - self.frames[-1])


def link(detections: list[np.ndarray], gate: float, max_missed: int) -> list[Track]:
    """Link per-frame centroids into tracks, greedily by nearest prediction.

    A track that has had no detection for more than ``max_missed`` frames is
    closed; a detection that no open track claims within ``gate`` pixels
    starts a new track.
    """
    tracks: list[Track] = []
    for t, centres in enumerate(detections):
        open_ = [tr for tr in tracks if t - tr.frames[-1] <= max_missed + 1]
        free = set(range(len(centres)))
        if open_ and len(centres):
            predicted = np.array([tr.predict(t) for tr in open_])
            dist = np.linalg.norm(predicted[:, None, :] - centres[None, :, :], axis=2)
            taken: set[int] = set()
            for flat in np.argsort(dist, axis=None):
                i, j = divmod(int(flat), len(centres))
                if dist[i, j] > gate:
                    break
                if i in taken or j not in free:
                    continue
                open_[i].frames.append(t)
                open_[i].points.append(centres[j])
                taken.add(i)
                free.discard(j)
        for j in sorted(free):
            tracks.append(Track(t, centres[j]))
    return tracks


def track_errors(
    tracks: list[Track], truth: np.ndarray, min_length: int, near: float
) -> tuple[list[int], float, list[float]]:
    """Match each true object with a long track; how close and how complete.

    ``truth`` holds the true centres, shape (frames, objects, 2), NaN before an
    object appears. An object's track is the long track (``min_length``
    points or more) with the most points within ``near`` pixels of the
    object's centre. Returns the track of each object (its index among the
    long tracks, -1 if none), the median distance between tracks and true
    centres, and for each object the share of the frames it was tracked in
    (from its track's first point on) with its track within ``near``.
    """
    long_tracks = [tr for tr in tracks if len(tr.frames) >= min_length]
    best, errors, coverage = [], [], []
    for j in range(truth.shape[1]):
        dists = [
            np.linalg.norm(np.array(tr.points) - truth[tr.frames, j], axis=1)
            for tr in long_tracks
        ]
        if not dists:
            best.append(-1)
            coverage.append(0.0)
            continue
        k = int(np.argmax([np.sum(d < near) for d in dists]))
        best.append(k)
        errors.extend(dists[k][dists[k] < near].tolist())
        span = truth.shape[0] - long_tracks[k].frames[0]
        coverage.append(float(np.sum(dists[k] < near)) / span)
    median = float(np.median(errors)) if errors else float("nan")
    return best, median, coverage


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.small:
        n_frames, shape, n_objects, start, window = 100, (120, 160), 2, 10, 40
    else:
        n_frames, shape, n_objects, start, window = 300, (240, 320), 3, 30, 100
    h, w = shape
    warm_up = start + 20
    min_area = max(6, round(0.002 * h * w))
    gate = 0.12 * h
    video = synthetic_video(
        n_frames,
        shape,
        colour=True,
        shadows=True,
        n_objects=n_objects,
        object_scale=0.7,
        start=start,
    )

    model = BackgroundSubtractor()  # OpenCV MOG2's defaults
    masks = np.empty(video.truth.shape, np.uint8)
    cleaned = np.empty(video.truth.shape, bool)
    detections = []
    seconds = 0.0
    for t, frame in enumerate(video.frames):
        t0 = time.perf_counter()
        masks[t] = model.apply(frame)
        seconds += time.perf_counter() - t0
        centres, cleaned[t] = blobs(masks[t], min_area)
        detections.append(centres if t >= warm_up else np.empty((0, 2)))
    f1 = foreground_f1(masks[warm_up:], video.truth[warm_up:])
    f1_clean = foreground_f1(np.where(cleaned[warm_up:], 255, 0), video.truth[warm_up:])
    print(
        f"{n_frames} frames of {w} x {h} in colour: {n_frames / seconds:.0f} "
        "frames/s for the model"
    )
    print(
        f"F1 of the foreground after frame {warm_up}: {f1:.3f} "
        f"(after the clean-up: {f1_clean:.3f})"
    )

    tracks = link(detections, gate=gate, max_missed=3)
    min_length = (n_frames - warm_up) // 4
    best, error, coverage = track_errors(tracks, video.centroids, min_length, gate)
    n_long = sum(len(tr.frames) >= min_length for tr in tracks)
    print(
        f"{len(tracks)} tracks, {n_long} of them {min_length} frames or longer; "
        f"median distance of an object's track to its true centre: {error:.2f} px"
    )
    for j, share in enumerate(coverage):
        print(f"object {j + 1}: followed by one track in {share:.0%} of its frames")

    figures = []
    last = n_frames - 1
    fig, axes = plt.subplots(1, 4, figsize=(13.5, 2.9), layout="constrained")
    axes[0].imshow(video.frames[last])
    axes[0].set_title(f"frame {last + 1}")
    axes[1].imshow(masks[last], cmap="gray", vmin=0, vmax=255)
    axes[1].set_title("mask: object 255, shadow 127")
    axes[2].imshow(model.background_image())
    axes[2].set_title("background image")
    used = axes[3].imshow(model.n_components_used_, cmap="viridis", vmin=0.5, vmax=5.5)
    axes[3].set_title("components per pixel")
    fig.colorbar(used, ax=axes[3], ticks=range(1, 6), shrink=0.85)
    for ax in axes:
        ax.set_axis_off()
    figures.append(save(fig, out, "09_background_panel.png"))

    fig, ax = plt.subplots(figsize=(6.4, 4.9), layout="constrained")
    ax.imshow(video.frames[last])
    ax.contour(cleaned[last], levels=[0.5], colors="yellow", linewidths=0.8)
    colours = plt.get_cmap("tab10")
    first = max(warm_up, n_frames - window)
    k = 0
    for tr in tracks:
        recent = [i for i, f in enumerate(tr.frames) if f >= first]
        if len(recent) < 10:
            continue
        p = np.array(tr.points)[recent]
        colour = colours(k % 10)
        k += 1
        ax.plot(p[:, 1], p[:, 0], "-", color=colour, lw=2, label=f"track {k}")
        ax.plot(p[0, 1], p[0, 0], "o", color=colour, ms=6)
        ax.plot(p[-1, 1], p[-1, 0], "s", color=colour, ms=6)
    for j in range(n_objects):
        c = video.centroids[first:, j]
        label = "true path" if j == 0 else None
        ax.plot(c[:, 1], c[:, 0], "--", color="white", lw=1, alpha=0.8, label=label)
    ax.set_xlim(0, w - 1)
    ax.set_ylim(h - 1, 0)
    ax.set_axis_off()
    ax.set_title(
        f"tracks, frames {first + 1}-{n_frames} (circle: start, square: end)",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=7, framealpha=0.7)
    figures.append(save(fig, out, "09_background_tracks.png"))

    return {
        "figures": figures,
        "f1": f1,
        "f1_cleaned": f1_clean,
        "frames_per_second": n_frames / seconds,
        "n_objects": n_objects,
        "n_tracks": len(tracks),
        "n_long_tracks": n_long,
        "best_tracks": best,
        "track_error": error,
        "coverage": coverage,
        "tracks": [(tr.frames, np.array(tr.points)) for tr in tracks],
        "components_used": model.n_components_used_,
        "tree": video.tree,
    }


if __name__ == "__main__":
    main()
