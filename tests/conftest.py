"""Shared pytest configuration: hypothesis profiles and common fixtures.

Hypothesis profiles
-------------------
``ci`` (the default) runs about 40 examples per property without deadlines, so
that the suite stays fast and does not flake on a busy machine; ``dev`` runs
more. Choose one with the environment variable ``HYPOTHESIS_PROFILE``::

    HYPOTHESIS_PROFILE=dev .venv/bin/python -m pytest tests/core
"""

import os
import sys
from pathlib import Path

# Under pytest-xdist two workers share the CI machine's two cores. OpenBLAS's own
# threads (two per worker by default) then contend with the other worker, and
# spinning BLAS threads made the comparisons with scikit-learn 3x slower
# (tests/test_against_sklearn.py and test_mixture.py: 35 s against 12 s). Each
# worker therefore starts BLAS, OpenMP and torch with one thread, before NumPy
# loads; the processes that tests start inherit it. Tests of threading ask for
# their threads explicitly (threadpoolctl, n_jobs).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from gaussmix.core.covariance import FAMILIES

# ``--import-mode=importlib`` does not put the test directory on sys.path; the
# test modules import their shared strategies with ``import strategies``.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]


def pytest_configure(config):
    """Register the hypothesis profiles and load the selected one (default ``ci``)."""
    settings.register_profile(
        "ci", max_examples=40, deadline=None, suppress_health_check=_SUPPRESSED
    )
    settings.register_profile(
        "dev", max_examples=400, deadline=None, suppress_health_check=_SUPPRESSED
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    """A seeded NumPy generator, fresh for every test."""
    return np.random.default_rng(20240611)


@pytest.fixture(params=list(FAMILIES))
def covariance_type(request):
    """Every registered covariance family name ('full', 'tied', 'diag', 'spherical')."""
    return request.param


def pytest_runtest_setup(item):
    """Skip the ``mclust_live`` and ``espeak_live`` tests where R or espeak-ng is missing.

    Everything else runs on every machine: the ``mclust`` comparisons replay R's
    answers stored in ``tests/references/`` (see ``tests/mclust_oracle.py``).
    """
    if item.get_closest_marker("mclust_live") is not None:
        import mclust_oracle

        if not mclust_oracle.available():
            pytest.skip(mclust_oracle.SKIP_REASON)
    if item.get_closest_marker("espeak_live") is not None:
        import shutil

        if shutil.which("espeak-ng") is None:
            pytest.skip(
                "espeak-ng is not installed (Debian: apt-get install espeak-ng); "
                "CI installs it"
            )


@pytest.fixture(scope="session")
def mclust():
    """The R mclust oracle (``tests/mclust_oracle.py``): stored answers by default.

    With ``GAUSSMIX_MCLUST=live`` or ``record`` it runs R, and a machine
    without R fails the test rather than skipping it (R was asked for).
    """
    import mclust_oracle

    if mclust_oracle.MODE != "replay" and not mclust_oracle.available():
        pytest.fail(
            f"GAUSSMIX_MCLUST={mclust_oracle.MODE}: {mclust_oracle.SKIP_REASON}"
        )
    return mclust_oracle
