"""Who loads the compiled kernels (gaussmix.core.kernels)."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

_CODE = """
import sys, warnings
import numpy as np
from gaussmix import GaussianMixture, select
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
GaussianMixture(2).fit(X)
GaussianMixture(2, covariance_type="VEV").fit(X)
single = "numba" in sys.modules
select(X, range(1, 3), ["EII", "VVV"])  # 4 fits: below SELECT_MIN_FITS
small_grid = "numba" in sys.modules
GaussianMixture(2, covariance_type="VVE").fit(X)  # its rotations pay for the load
print(single, small_grid, "numba" in sys.modules)
"""

_GRID = """
import sys, warnings
import numpy as np
from gaussmix import select
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
select(X, range(1, 4), ["EII", "VII", "EEI", "VVV", "EEE", "VVI", "EEV"])  # 21 fits
print("numba" in sys.modules)
"""


def _run(env_value, code=_CODE):
    env = {**os.environ, "GAUSSMIX_NO_COMPILED": env_value}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_single_fits_do_not_import_numba_but_eve_and_vve_do():
    """A lone small fit stays on NumPy (numba's load would cost more than it).

    Except EVE and VVE: their M-step's rotations in NumPy cost more than the load.
    """
    assert _run("0") == ["False", "False", "True"]


def test_a_grid_imports_numba():
    assert _run("0", _GRID) == ["True"]


def test_switched_off_nothing_imports_numba():
    assert _run("1") == ["False", "False", "False"]
    assert _run("1", _GRID) == ["False"]
