"""Record R's mclust answers for the test suite into ``tests/references/mclust/``.

Run it on a machine with R and mclust (Debian: ``apt-get install r-base-core
r-cran-mclust``) after adding or changing a test that calls R::

    .venv/bin/python tests/references/make_mclust_references.py

It runs the whole suite with ``GAUSSMIX_MCLUST=record``: every R call made by a
test runs R and stores its answer (R code, input fingerprint, mclust version,
output) in one JSON file per call. Files that no test used any more are then
removed. Commit the folder with the change. ``tests/mclust_oracle.py`` explains
how the answers are replayed on machines without R, and how CI checks them
against live R (``GAUSSMIX_MCLUST=live``).

Extra arguments are passed to pytest (for example ``-k prior`` to record only
some tests; files are pruned only after a run of the whole suite).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FOLDER = HERE / "mclust"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    import mclust_oracle

    if not mclust_oracle.available():
        print(f"error: {mclust_oracle.SKIP_REASON}", file=sys.stderr)
        return 1
    print(f"recording mclust {mclust_oracle.mclust_version()} answers into {FOLDER}")
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as log:
        log_path = log.name
    env = {**os.environ, "GAUSSMIX_MCLUST": "record", "GAUSSMIX_MCLUST_LOG": log_path}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
    ]
    status = subprocess.call([*command, *argv], cwd=ROOT, env=env)
    used = set(Path(log_path).read_text().split())
    os.unlink(log_path)
    if status != 0:
        print(f"pytest exited with {status}: nothing pruned", file=sys.stderr)
        return status
    if argv:
        print(f"{len(used)} answers recorded; partial run, nothing pruned")
        return 0
    stale = [p for p in sorted(FOLDER.glob("*.json")) if p.name not in used]
    for path in stale:
        path.unlink()
    print(f"{len(used)} answers recorded, {len(stale)} unused file(s) removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
