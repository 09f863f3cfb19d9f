"""Remake the gallery pictures of the docs: ``docs/images/gallery/*.png``.

Runs every example at full size into a temporary folder and copies the figures
the docs show, reduced to a 256-colour palette (Pillow comes with matplotlib),
which keeps each picture well under 150 KB.

Run from the repository root::

    python examples/make_gallery_images.py [--dest docs/images/gallery] [--small]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
#: The figures the docs show, by the script that draws them.
SHOWN = {
    "01_four_blobs.py": ["01_four_blobs_clusters.png"],
    "02_kmeans_vs_gmm.py": ["02_kmeans_vs_gmm.png"],
    "03_two_gaussians.py": ["03_two_gaussians_density.png"],
    "04_one_dimension.py": [
        "04_one_dimension_density.png",
        "04_one_dimension_tail.png",
        "04_one_dimension_convergence.png",
    ],
    "05_uncertainty_and_covariance_types.py": [
        "05_covariance_types.png",
        "05_uncertainty.png",
    ],
    "06_density_estimation_moons.py": [
        "06_moons_samples.png",
        "06_moons_model_selection.png",
    ],
    "07_new_digits.py": ["07_digits_new.png"],
}


def shrink_png(source: Path, dest: Path, colors: int = 256) -> int:
    """Write ``source`` to ``dest`` with an adaptive palette; return the new size."""
    with Image.open(source) as image:
        palette = image.convert("RGB").quantize(
            colors=colors,
            method=Image.Quantize.MEDIANCUT,
            dither=Image.Dither.NONE,
        )
    palette.save(dest, optimize=True)
    return dest.stat().st_size


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", default="docs/images/gallery", help="target folder")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    args = parser.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for script, names in SHOWN.items():
            spec = importlib.util.spec_from_file_location(
                Path(script).stem, HERE / script
            )
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {HERE / script}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            options = ["--out", tmp] + (["--small"] if args.small else [])
            with contextlib.redirect_stdout(io.StringIO()):
                module.main(options)
            for name in names:
                sizes[name] = shrink_png(Path(tmp) / name, dest / name)
                print(f"{dest / name}: {sizes[name] / 1024:.0f} KB")
    return sizes


if __name__ == "__main__":
    main()
