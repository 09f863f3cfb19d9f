"""``select`` on small data: the grid in forked processes equals the serial grid.

The process path only runs in a single-threaded process (``can_fork``), which a
pytest-xdist worker is not, so the end-to-end checks run in a fresh interpreter:
the setting of a user's script.
"""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gaussmix import select, selection

pytestmark = pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(),
    reason="the process path needs the fork start method",
)

_SCRIPT = textwrap.dedent(
    """
    import os, pickle, sys, warnings
    import numpy as np
    from sklearn.datasets import make_blobs
    from gaussmix import select, selection

    X, _ = make_blobs(250, centers=3, n_features=3, random_state=1)
    forks = []
    real_fork = os.fork

    def counting_fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    os.fork = counting_fork
    selection.SELECT_PROCESS_MIN_SECONDS = 0.0  # fork even for a quick grid
    if sys.argv[1] == "child-dies":
        # A child that dies without sending its results: the parent runs its fits.
        selection._child = lambda run, next_fit, out: (next_fit(), os._exit(3))
    kwargs = dict(init_params="hc", reg_covar=0.0, tol=1e-6, random_state=0)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best, forked = select(X, range(1, 5), "all", progress=seen.append, **kwargs)
        _, serial = select(X, range(1, 5), "all", n_jobs=1, **kwargs)
    sys.stdout.buffer.write(pickle.dumps(
        (len(forks), len(seen), forked, serial, best.covariance_type, best.n_components)
    ))
    """
)


def _run_script(mode):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode],
        capture_output=True,
        check=True,
        timeout=300,
        env=env,
    )
    import pickle

    return pickle.loads(out.stdout)


@pytest.mark.parametrize("mode", ["normal", "child-dies"])
def test_forked_grid_equals_serial_grid(mode):
    """Identical tables (every number, bit for bit) with and without processes."""
    n_forks, n_progress, forked, serial, best_type, best_k = _run_script(mode)
    assert n_forks >= 1
    assert n_progress == len(serial) == 14 * 4
    assert forked.equals(serial)
    i = int(np.nanargmin(serial["bic"].to_numpy()))
    assert (best_type, best_k) == (
        serial["covariance_type"][i],
        serial["n_components"][i],
    )


def test_no_processes_with_other_threads_or_kmeans(monkeypatch):
    """Threads running, or scikit-learn's KMeans init: the grid stays serial."""
    calls = []

    def fake_run_forked(run, grid, n_workers, finished):
        calls.append(len(grid))
        for i in range(len(grid)):
            finished(i, run(i))

    monkeypatch.setattr(selection, "_run_forked", fake_run_forked)
    X, _ = make_blobs(120, centers=2, random_state=0)
    stop = threading.Event()
    extra = threading.Thread(target=stop.wait)
    extra.start()
    try:
        assert not selection.can_fork()
        _, table = select(X, range(1, 4), "sklearn", init_params="hc", random_state=0)
    finally:
        stop.set()
        extra.join()
    assert not calls
    assert len(table) == 12
    monkeypatch.setattr(selection, "can_fork", lambda: True)
    _, table = select(X, range(1, 4), "sklearn", random_state=0)  # kmeans
    assert not calls
    assert len(table) == 12
    select(X, range(1, 4), "sklearn", init_params="hc", random_state=0, n_jobs=2)
    assert calls == [12]
