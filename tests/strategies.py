"""Hypothesis strategies (and their plain NumPy counterparts) for the test suite.

Sizes are kept small (a few features, components and rows) so that every
example runs in milliseconds. Values are bounded and covariances well
conditioned (eigenvalues in about ``[0.1, 6]``), so that a failing property
points at a bug rather than at floating-point limits.
"""

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gaussmix.core.covariance import FAMILIES, CovarianceFamily
from gaussmix.core.params import GMMParams

MAX_FEATURES = 3
MAX_COMPONENTS = 3
MAX_ROWS = 30
DATA_BOUND = 5.0
MEAN_BOUND = 3.0
MIN_VARIANCE = 0.1
MAX_VARIANCE = 4.0


def bounded_floats(lo, hi):
    """Finite float64 values in ``[lo, hi]`` (no subnormals)."""
    return st.floats(
        lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64
    )


@st.composite
def spd_matrices(draw, n_features, min_eigenvalue=MIN_VARIANCE):
    """Symmetric positive definite ``(D, D)`` matrices ``A A^T + r I``.

    With ``A``'s entries in ``[-1, 1]`` and ``r`` in ``[min_eigenvalue, 2]`` the
    eigenvalues lie in ``[r, r + D]``: the condition number is bounded.
    """
    a = draw(
        hnp.arrays(np.float64, (n_features, n_features), elements=bounded_floats(-1, 1))
    )
    ridge = draw(bounded_floats(min_eigenvalue, 2.0))
    m = a @ a.T + ridge * np.eye(n_features)
    return 0.5 * (m + m.T)


@st.composite
def family_covariances(draw, family, n_components, n_features):
    """Valid covariances of ``family``'s shape (SPD matrices or positive variances)."""
    shape = family.covariance_shape(n_components, n_features)
    if family.matrix:
        n_matrices = int(np.prod(shape[:-2], dtype=int))
        mats = [draw(spd_matrices(n_features)) for _ in range(n_matrices)]
        return np.stack(mats).reshape(shape)
    return draw(
        hnp.arrays(
            np.float64, shape, elements=bounded_floats(MIN_VARIANCE, MAX_VARIANCE)
        )
    )


def params_from_covariances(weights, means, covariances, family):
    """``GMMParams`` with the precision Cholesky factors computed by ``family``."""
    precisions_cholesky, failed = family.precisions_cholesky(covariances)
    assert not np.any(failed), "the strategy produced a non-SPD covariance"
    return GMMParams(
        weights=np.asarray(weights, dtype=np.float64),
        means=np.asarray(means, dtype=np.float64),
        covariances=np.asarray(covariances, dtype=np.float64),
        precisions_cholesky=precisions_cholesky,
    )


@st.composite
def gmm_params(draw, family, n_components, n_features):
    """Valid ``GMMParams`` for ``family``: positive weights summing to one."""
    raw = draw(hnp.arrays(np.float64, n_components, elements=bounded_floats(0.1, 1.0)))
    means = draw(
        hnp.arrays(
            np.float64,
            (n_components, n_features),
            elements=bounded_floats(-MEAN_BOUND, MEAN_BOUND),
        )
    )
    covariances = draw(family_covariances(family, n_components, n_features))
    return params_from_covariances(raw / raw.sum(), means, covariances, family)


def data(n_features, min_rows=1, max_rows=MAX_ROWS):
    """Data matrices ``(n_rows, n_features)`` with entries in ``[-5, 5]``."""
    return st.integers(min_rows, max_rows).flatmap(
        lambda n: hnp.arrays(
            np.float64,
            (n, n_features),
            elements=bounded_floats(-DATA_BOUND, DATA_BOUND),
        )
    )


def sample_weights(n_rows, integer=False, max_weight=4):
    """Non-negative sample weights of length ``n_rows`` (zeros included).

    ``integer=True`` gives whole numbers (as float64), which count repetitions.
    """
    if integer:
        return hnp.arrays(np.int64, n_rows, elements=st.integers(0, max_weight)).map(
            lambda w: w.astype(np.float64)
        )
    return hnp.arrays(
        np.float64, n_rows, elements=bounded_floats(0.0, float(max_weight))
    )


@st.composite
def data_and_weights(draw, n_features, min_rows=1, max_rows=MAX_ROWS, integer=False):
    """``(X, sample_weight)`` with non-negative weights, at least one positive."""
    X = draw(data(n_features, min_rows, max_rows))
    w = draw(sample_weights(X.shape[0], integer=integer))
    if not np.any(w > 0):
        w[draw(st.integers(0, X.shape[0] - 1))] = 1.0
    return X, w


@dataclass(frozen=True)
class Problem:
    """A family, valid parameters and data to run an E-step on."""

    family_name: str
    params: GMMParams
    X: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def family(self) -> CovarianceFamily:
        """The covariance family object."""
        return FAMILIES[self.family_name]


@st.composite
def problems(
    draw, family_names=tuple(FAMILIES), min_rows=1, weights=True, integer=False
):
    """A random family, ``GMMParams`` of it, and data with optional sample weights.

    ``weights`` may be True (always weighted), False (never) or None (either).
    """
    name = draw(st.sampled_from(list(family_names)))
    family = FAMILIES[name]
    n_features = draw(st.integers(1, MAX_FEATURES))
    n_components = draw(st.integers(1, MAX_COMPONENTS))
    params = draw(gmm_params(family, n_components, n_features))
    X, w = draw(data_and_weights(n_features, min_rows=min_rows, integer=integer))
    if weights is False or (weights is None and draw(st.booleans())):
        w = None
    return Problem(name, params, X, w)


# ---------------------------------------------------------------- plain NumPy


def random_covariances(rng, family, n_components, n_features):
    """Well-conditioned covariances of ``family``'s shape (eigenvalues in [0.2, 2])."""
    shape = family.covariance_shape(n_components, n_features)
    if not family.matrix:
        return rng.uniform(0.2, 2.0, size=shape)
    n_matrices = int(np.prod(shape[:-2], dtype=int))
    mats = []
    for _ in range(n_matrices):
        q, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
        m = (q * rng.uniform(0.2, 2.0, size=n_features)) @ q.T
        mats.append(0.5 * (m + m.T))
    return np.stack(mats).reshape(shape)


def random_params(rng, family, n_components, n_features, mean_scale=3.0):
    """Random well-conditioned ``GMMParams`` for ``family`` from a NumPy generator."""
    weights = rng.uniform(0.2, 1.0, size=n_components)
    means = rng.uniform(-mean_scale, mean_scale, size=(n_components, n_features))
    covariances = random_covariances(rng, family, n_components, n_features)
    return params_from_covariances(weights / weights.sum(), means, covariances, family)


def sample_from(rng, params, family, n_samples, spread=1.0):
    """Points drawn from ``params``' components, their deviations scaled by ``spread``."""
    n_components, n_features = params.means.shape
    dense = family.to_dense(params.covariances, n_components, n_features)
    labels = rng.integers(0, n_components, size=n_samples)
    z = rng.standard_normal((n_samples, n_features))
    chol = np.linalg.cholesky(dense)
    dev = np.einsum("nij,nj->ni", chol[labels], z)
    return params.means[labels] + spread * dev
