"""Behaviour of ``gaussmix.GaussianMixture``: errors, weights, dtypes, repairs, tooling.

Tolerances are stated where they are used. Fits that must be compared exactly
start from given ``weights_init``/``means_init``/``precisions_init`` so that the
initialisation is deterministic.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import gaussmix.fitting
from gaussmix import ConvergenceWarning, DegenerateComponentWarning, GaussianMixture
from gaussmix._validation import PARAMETER_RULES
from gaussmix.core.estep import LogDensityOverflowError

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
FITTED_ATTRIBUTES = [
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
]

# Small, well separated data shared by the tests (module constants: built once).
X_BLOBS = make_blobs(
    n_samples=300, n_features=2, centers=3, cluster_std=0.6, random_state=0
)[0]
X_SMALL = np.random.RandomState(0).randn(50, 3)


def _precisions_identity(covariance_type, n_components, n_features):
    """Identity precisions in the shape that ``covariance_type`` expects."""
    return {
        "full": np.tile(np.eye(n_features), (n_components, 1, 1)),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]


def _deterministic(covariance_type, X, n_components=3, **kwargs):
    """An estimator whose initial parameters are all given (no random init)."""
    n_features = X.shape[1]
    means = X[np.linspace(0, X.shape[0] - 1, n_components).astype(int)] + 0.1
    return GaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        weights_init=np.full(n_components, 1.0 / n_components),
        means_init=means,
        precisions_init=_precisions_identity(covariance_type, n_components, n_features),
        **kwargs,
    )


def _assert_all_finite(gm, X):
    """Every fitted attribute and every prediction of ``gm`` on ``X`` is finite."""
    for name in FITTED_ATTRIBUTES:
        value = getattr(gm, name)
        assert np.all(np.isfinite(value)), f"{name} is not finite: {value}"
    assert np.isfinite(gm.lower_bound_)
    assert np.all(np.isfinite(gm.lower_bounds_))
    resp = gm.predict_proba(X)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.sample(20, random_state=0)[0]))


def _dense_covariances(gm):
    """Covariances of ``gm`` as an ``(n_components, D, D)`` stack."""
    k, d = gm.means_.shape
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)


def _variances(gm):
    """Per-feature variances (diagonals of the covariances)."""
    return np.diagonal(_dense_covariances(gm), axis1=1, axis2=2)


# ============================================================================
# Errors
# ============================================================================


class TestFitInputErrors:
    """Bad ``X`` passed to ``fit``."""

    def test_1d_input_suggests_reshape(self):
        """1-D X raises a ValueError that shows the reshape(-1, 1) fix."""
        with pytest.raises(ValueError, match=re.escape("use X.reshape(-1, 1)")):
            GaussianMixture().fit(X_SMALL[:, 0])

    def test_1d_list_input_suggests_reshape(self):
        """A flat Python list is reported as 1-D with its shape."""
        with pytest.raises(ValueError, match=re.escape("1-D array of shape (3,)")):
            GaussianMixture().fit([1.0, 2.0, 3.0])

    def test_ragged_rows(self):
        """Rows of different lengths are reported as such, not as 1-D input."""
        with pytest.raises(
            ValueError, match=r"(?i)inhomogeneous|ragged|length"
        ) as info:
            GaussianMixture().fit([[1.0, 2.0], [3.0], [4.0, 5.0]])
        assert "1-D" not in str(info.value)

    def test_nan_reports_rows_and_columns(self):
        """NaN in X: the message gives the number of rows, the first row and the columns."""
        X = X_SMALL.copy()
        X[3, 1] = np.nan
        X[7, 2] = np.nan
        expected = "X contains NaN in 2 row(s) (first at row 3) and column(s) [1, 2]"
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture().fit(X)

    def test_inf_reports_rows_and_columns(self):
        """inf in X: the message says infinity and gives rows and columns."""
        X = X_SMALL.copy()
        X[5, 0] = np.inf
        X[9, 0] = -np.inf
        expected = (
            "X contains infinity (inf) in 2 row(s) (first at row 5) and column(s) [0]"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture().fit(X)

    def test_nan_and_inf_together(self):
        """NaN and inf in the same X are both named."""
        X = X_SMALL.copy()
        X[5, 0] = np.inf
        X[6, 2] = np.nan
        expected = (
            "X contains NaN and infinity (inf) in 2 row(s) (first at row 5) and "
            "column(s) [0, 2]"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture().fit(X)

    def test_nan_in_float32(self):
        """NaN is reported for float32 input too."""
        X = X_SMALL.astype(np.float32)
        X[0, 0] = np.nan
        with pytest.raises(
            ValueError, match=re.escape("NaN in 1 row(s) (first at row 0)")
        ):
            GaussianMixture().fit(X)

    def test_fewer_samples_than_components(self):
        """n_samples < n_components says both numbers."""
        expected = "n_components=5 needs at least 5 samples, got n_samples = 3"
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(n_components=5).fit(X_SMALL[:3])

    def test_single_sample(self):
        """A single row cannot be fitted (as in scikit-learn: two are needed)."""
        with pytest.raises(ValueError, match=r"1 sample\(s\).*minimum of 2"):
            GaussianMixture().fit(X_SMALL[:1])

    def test_numpy_string_array(self):
        """A numpy array of strings names the column and a bad value."""
        X = np.array([["1.0", "2.0"], ["3.0", "x"], ["5.0", "6.0"]])
        with pytest.raises(
            ValueError,
            match=re.escape("X must contain only numbers, but column 1 holds "),
        ) as info:
            GaussianMixture().fit(X)
        assert "'x'" in str(info.value)
        assert "OneHotEncoder" in str(info.value)

    def test_numpy_object_array(self):
        """An object array mixing numbers and strings names the column."""
        X = np.array([[1.0, "a"], [2.0, "b"], [3.0, "c"]], dtype=object)
        with pytest.raises(
            ValueError,
            match=re.escape("column 1 holds non-numeric values such as 'a'"),
        ):
            GaussianMixture().fit(X)

    def test_dataframe_string_column(self):
        """A DataFrame with a string column names that column by position and name."""
        df = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "color": ["r", "g", "b", "r"]})
        with pytest.raises(
            ValueError,
            match=re.escape("column 1 ('color') holds non-numeric values such as 'r'"),
        ):
            GaussianMixture().fit(df)

    @pytest.mark.parametrize(
        "container", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array]
    )
    def test_sparse_input_is_type_error(self, container):
        """Sparse X raises TypeError that says dense data is required."""
        with pytest.raises(TypeError, match="dense data is required"):
            GaussianMixture().fit(container(X_SMALL))


# One bad value per parameter, with what the message says it must be.
BAD_PARAMETER_VALUES = {
    "n_components": (0, "an integer >= 1"),
    "covariance_type": ("ful", "one of 'full', 'tied', 'diag', 'spherical'"),
    "tol": (-1, "'auto' or a finite number >= 0"),
    "reg_covar": (np.nan, "'auto' or a finite number >= 0"),
    "max_iter": (-1, "'auto' or an integer >= 0"),
    "n_init": (0, "an integer >= 1"),
    "init_params": (
        "kmean",
        "'auto' or one of 'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'",
    ),
    "weights_init": ("abc", "None or an array of shape (n_components,)"),
    "means_init": (5, "None or an array of shape (n_components, n_features)"),
    "precisions_init": ("p", "None or an array of precisions"),
    "resp_init": ("r", "None or an array-like"),
    "equal_proportions": ("yes", "True or False"),
    "noise": (-1.0, "None, True, False or a positive hypervolume"),
    "noise_init": ("rows", "None or a boolean array of rows"),
    "prior": ("flat", "None, 'default' or a dict of mclust's priorControl settings"),
    "random_state": (
        "x",
        "None, an integer in [0, 2**32 - 1] or a numpy.random.RandomState",
    ),
    "warm_start": ("yes", "True or False"),
    "frozen": (
        "mean",
        "a name or a tuple of names among 'weights', 'means', 'covariances'",
    ),
    "verbose": (-1, "an integer >= 0"),
    "verbose_interval": (0, "an integer >= 1"),
    "batch_size": (0, "None (batch EM) or an integer >= 1 (online EM on mini-batches)"),
    "learning_decay": (0.5, "a number in (0.5, 1]"),
    "learning_offset": (-1.0, "a finite number >= 0"),
    "n_jobs": (0, "None (all available cores), a positive integer, or -1"),
    "nan_policy": ("ignore", "one of 'raise', 'marginalize', 'omit'"),
}


class TestParameterErrors:
    """Constructor parameters are validated when ``fit`` is called."""

    def test_every_rule_has_a_bad_value(self):
        """Every entry of PARAMETER_RULES is exercised below (and vice versa)."""
        assert set(BAD_PARAMETER_VALUES) == set(PARAMETER_RULES)

    def test_rules_cover_every_constructor_parameter(self):
        """Every constructor parameter has a validation rule."""
        assert set(GaussianMixture().get_params()) == set(PARAMETER_RULES)

    @pytest.mark.parametrize("name", sorted(BAD_PARAMETER_VALUES))
    def test_bad_value(self, name):
        """A bad value names the parameter, what it must be and what it got."""
        value, expected = BAD_PARAMETER_VALUES[name]
        message = f"GaussianMixture: {name} must be {expected}; got {value!r}."
        with pytest.raises(ValueError, match=re.escape(message)):
            GaussianMixture(**{name: value}).fit(X_SMALL)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("n_components", 1.5),
            ("n_components", True),
            ("n_components", "2"),
            ("tol", np.inf),
            ("tol", True),
            ("reg_covar", -1e-6),
            ("max_iter", 2.0),
            ("n_init", -3),
            ("covariance_type", None),
            ("covariance_type", "FULL"),
            ("random_state", np.random.default_rng(0)),
            ("warm_start", 1),
            ("verbose", 1.0),
            ("n_jobs", 1.0),
        ],
    )
    def test_more_bad_values(self, name, value):
        """Wrong types and edge values are rejected with the parameter's name."""
        with pytest.raises(ValueError, match=re.escape(f"{name} must be ")):
            GaussianMixture(**{name: value}).fit(X_SMALL)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("n_jobs", -1),
            ("n_jobs", 1),
            ("n_jobs", None),
            ("random_state", np.random.RandomState(0)),
            ("random_state", np.int64(3)),
            ("verbose", False),
            ("warm_start", np.bool_(True)),
            ("reg_covar", 0),
            ("tol", 0.0),
            ("max_iter", 0),
            ("n_components", np.int32(2)),
        ],
    )
    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    def test_accepted_edge_values(self, name, value):
        """Legal edge values (numpy scalars, 0 where allowed, -1 jobs) are accepted."""
        GaussianMixture(**{name: value}).fit(X_SMALL)

    def test_constructor_does_not_validate(self):
        """As in scikit-learn, __init__ stores bad values and fit rejects them."""
        gm = GaussianMixture(n_components=0, covariance_type="ful")
        assert gm.n_components == 0
        assert gm.covariance_type == "ful"

    def test_parameters_checked_before_x(self):
        """A bad parameter is reported even when X is bad as well."""
        with pytest.raises(ValueError, match=re.escape("n_components must be")):
            GaussianMixture(n_components=0).fit(X_SMALL[:, 0])
        with pytest.raises(ValueError, match=re.escape("tol must be")):
            GaussianMixture(tol=-1).fit(np.full((5, 2), np.nan))


class TestInitArrayErrors:
    """``weights_init``, ``means_init`` and ``precisions_init`` of the wrong shape or value."""

    def test_weights_not_summing_to_one(self):
        """weights_init must sum to 1; the message shows the sum and the fix."""
        expected = "weights_init must sum to 1, got sum 0.60000. Normalise it"
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(2, weights_init=[0.3, 0.3]).fit(X_SMALL)

    def test_weights_wrong_shape(self):
        """weights_init must have one weight per component."""
        expected = (
            "weights_init must have shape (2,) (one weight per component), got (3,)"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(2, weights_init=[0.3, 0.3, 0.4]).fit(X_SMALL)

    def test_weights_out_of_range(self):
        """Weights outside [0, 1] are rejected even if they sum to 1."""
        with pytest.raises(
            ValueError, match=re.escape("weights_init must lie in [0, 1]")
        ):
            GaussianMixture(2, weights_init=[-0.3, 1.3]).fit(X_SMALL)

    def test_weights_nan(self):
        """NaN in weights_init is rejected."""
        with pytest.raises(
            ValueError, match=re.escape("weights_init contains NaN or infinity")
        ):
            GaussianMixture(2, weights_init=[np.nan, 1.0]).fit(X_SMALL)

    @pytest.mark.parametrize("shape", [(3, 3), (2, 2), (6,)])
    def test_means_wrong_shape(self, shape):
        """means_init must be (n_components, n_features); the message shows both shapes."""
        expected = (
            "means_init must have shape (n_components, n_features) = (2, 3), "
            f"got {shape}"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(2, means_init=np.zeros(shape)).fit(X_SMALL)

    def test_means_infinite(self):
        """inf in means_init is rejected."""
        means = np.zeros((2, 3))
        means[1, 1] = np.inf
        with pytest.raises(
            ValueError, match=re.escape("means_init contains NaN or infinity")
        ):
            GaussianMixture(2, means_init=means).fit(X_SMALL)

    @pytest.mark.parametrize(
        ("covariance_type", "bad", "expected_shape"),
        [
            ("full", np.ones((2, 2, 2)), "(2, 3, 3)"),
            ("full", np.ones((3, 3)), "(2, 3, 3)"),
            ("tied", np.eye(2), "(3, 3)"),
            ("tied", np.ones((2, 3, 3)), "(3, 3)"),
            ("diag", np.ones((2, 2)), "(2, 3)"),
            ("diag", np.ones(2), "(2, 3)"),
            ("spherical", np.ones(3), "(2,)"),
            ("spherical", np.ones((2, 3)), "(2,)"),
        ],
    )
    def test_precisions_wrong_shape(self, covariance_type, bad, expected_shape):
        """precisions_init of the wrong shape names the covariance type and the shape."""
        expected = (
            f"precisions_init for covariance_type={covariance_type!r} must have "
            f"shape {expected_shape}, got {bad.shape}"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(
                2, covariance_type=covariance_type, precisions_init=bad
            ).fit(X_SMALL)

    @pytest.mark.parametrize(
        ("covariance_type", "bad", "expected"),
        [
            (
                "full",
                np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])]),
                "symmetric positive definite (component(s) [1])",
            ),
            (
                "full",
                np.ones((2, 3, 3)),
                "symmetric positive definite (component(s) [0, 1])",
            ),
            (
                "full",
                np.stack([np.eye(3), np.eye(3) + np.triu(np.full((3, 3), 0.3), 1)]),
                "symmetric positive definite (component(s) [1])",
            ),
            ("tied", -np.eye(3), "symmetric positive definite."),
            ("tied", np.ones((3, 3)), "symmetric positive definite."),
            (
                "diag",
                np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]]),
                "positive (component(s) [1])",
            ),
            ("diag", -np.ones((2, 3)), "positive (component(s) [0, 1])"),
            ("spherical", np.array([1.0, -1.0]), "positive (component(s) [1])"),
            ("spherical", np.array([0.0, 1.0]), "positive (component(s) [0])"),
        ],
    )
    def test_precisions_not_positive_definite(self, covariance_type, bad, expected):
        """Non-PD (full, tied) or non-positive (diag, spherical) precisions are rejected."""
        with pytest.raises(
            ValueError, match=re.escape("precisions_init must be " + expected)
        ) as info:
            GaussianMixture(
                2, covariance_type=covariance_type, precisions_init=bad
            ).fit(X_SMALL)
        assert "inverse covariances" in str(info.value)

    def test_precisions_nan(self):
        """NaN in precisions_init is rejected."""
        bad = np.ones((2, 3))
        bad[0, 0] = np.nan
        with pytest.raises(
            ValueError, match=re.escape("precisions_init contains NaN or infinity")
        ):
            GaussianMixture(2, covariance_type="diag", precisions_init=bad).fit(X_SMALL)


# Bad sample weights for the 50 rows of X_SMALL, with the expected message.
BAD_SAMPLE_WEIGHTS = {
    "negative": (
        np.r_[np.ones(3), -1.0, np.ones(46)],
        "sample_weight must be non-negative; found 1 negative weight(s) "
        "(first at row 3). Use 0 to ignore a row.",
    ),
    "nan": (
        np.r_[np.ones(10), np.nan, np.ones(39)],
        "sample_weight contains NaN or infinity in 1 row(s) (first at row 10)",
    ),
    "inf": (
        np.r_[np.inf, np.ones(48), np.inf],
        "sample_weight contains NaN or infinity in 2 row(s) (first at row 0)",
    ),
    "too short": (
        np.ones(49),
        "sample_weight has shape (49,) but X has 50 rows",
    ),
    "2-D": (
        np.ones((50, 1)),
        "sample_weight has shape (50, 1) but X has 50 rows",
    ),
    "all zero": (
        np.zeros(50),
        "sample_weight is zero for every row; give some rows a positive weight.",
    ),
    "strings": (["a"] * 50, "sample_weight must be numbers, one per row of X."),
}


class TestSampleWeightErrors:
    """Bad ``sample_weight`` in ``fit``, ``score``, ``aic`` and ``bic``."""

    @pytest.mark.parametrize("case", sorted(BAD_SAMPLE_WEIGHTS))
    def test_fit(self, case):
        """fit rejects each bad sample_weight with its own message."""
        weights, expected = BAD_SAMPLE_WEIGHTS[case]
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(2).fit(X_SMALL, sample_weight=weights)

    @pytest.mark.parametrize("case", sorted(BAD_SAMPLE_WEIGHTS))
    @pytest.mark.parametrize("method", ["score", "aic", "bic"])
    def test_scoring_methods(self, case, method):
        """score, aic and bic reject the same bad sample_weight."""
        gm = GaussianMixture(2, random_state=0).fit(X_SMALL)
        weights, expected = BAD_SAMPLE_WEIGHTS[case]
        with pytest.raises(ValueError, match=re.escape(expected)):
            getattr(gm, method)(X_SMALL, sample_weight=weights)

    def test_fewer_positive_weights_than_components(self):
        """Too few rows with positive weight for n_components is explained."""
        weights = np.r_[1.0, np.zeros(49)]
        expected = (
            "n_components=2 needs at least 2 rows with positive sample_weight, got 1"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(2).fit(X_SMALL, sample_weight=weights)


class TestErrorsBeforeNumericWork:
    """Input errors are raised before the initialisation or EM starts."""

    @pytest.fixture
    def no_numeric_work(self, monkeypatch):
        """Make initialisation and EM fail loudly if they are reached."""

        def forbidden(*args, **kwargs):
            raise AssertionError("numeric work started before validation finished")

        monkeypatch.setattr(gaussmix.fitting, "initial_resp", forbidden)
        monkeypatch.setattr(gaussmix.fitting, "fit_em", forbidden)
        monkeypatch.setattr(gaussmix.fitting, "params_from_precisions", forbidden)

    @pytest.mark.parametrize(
        ("kwargs", "fit_kwargs", "expected"),
        [
            ({"n_components": 0}, {}, "n_components must be"),
            ({"n_components": 60}, {}, "needs at least 60 samples"),
            ({"n_components": 2, "weights_init": [0.2, 0.2]}, {}, "must sum to 1"),
            (
                {"n_components": 2, "means_init": np.zeros((2, 2))},
                {},
                "means_init must",
            ),
            (
                {
                    "n_components": 2,
                    "covariance_type": "tied",
                    "precisions_init": -np.eye(3),
                },
                {},
                "precisions_init must be symmetric positive definite",
            ),
            ({"n_components": 2}, {"sample_weight": -np.ones(50)}, "non-negative"),
            ({"n_components": 2}, {"sample_weight": np.ones(3)}, "has shape (3,)"),
        ],
    )
    def test_error_without_numeric_work(
        self, no_numeric_work, kwargs, fit_kwargs, expected
    ):
        """The ValueError comes from validation, not from the numeric core."""
        with pytest.raises(ValueError, match=re.escape(expected)):
            GaussianMixture(**kwargs).fit(X_SMALL, **fit_kwargs)


@pytest.fixture(scope="module")
def fitted_small():
    """A model fitted on three features (X_SMALL)."""
    return GaussianMixture(2, random_state=0).fit(X_SMALL)


class TestPredictErrors:
    """Bad input to the prediction methods of a fitted model."""

    @pytest.mark.parametrize(
        "method", ["predict", "predict_proba", "score_samples", "score", "aic", "bic"]
    )
    def test_wrong_number_of_features(self, fitted_small, method):
        """X with another number of features than at fit time is rejected."""
        with pytest.raises(
            ValueError,
            match=re.escape(
                "X has 2 features, but GaussianMixture is expecting 3 features"
            ),
        ):
            getattr(fitted_small, method)(X_SMALL[:, :2])

    @pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
    def test_nan_at_predict_time(self, fitted_small, method):
        """NaN at predict time is reported with rows and columns."""
        X = X_SMALL.copy()
        X[4, 2] = np.nan
        with pytest.raises(
            ValueError,
            match=re.escape(
                "X contains NaN in 1 row(s) (first at row 4) and column(s) [2]"
            ),
        ):
            getattr(fitted_small, method)(X)

    def test_1d_at_predict_time(self, fitted_small):
        """A single sample passed as 1-D gets the reshape(1, -1) hint."""
        with pytest.raises(ValueError, match=re.escape("X.reshape(1, -1)")):
            fitted_small.predict(X_SMALL[0])

    def test_sparse_at_predict_time(self, fitted_small):
        """Sparse input to predict is a TypeError."""
        with pytest.raises(TypeError, match="dense data is required"):
            fitted_small.predict(sp.csr_matrix(X_SMALL))

    def test_single_row_is_fine(self, fitted_small):
        """One row (2-D) can be predicted."""
        assert fitted_small.predict(X_SMALL[:1]).shape == (1,)

    @pytest.mark.parametrize(
        "method", ["predict", "predict_proba", "score_samples", "score", "aic", "bic"]
    )
    def test_not_fitted(self, method):
        """Prediction before fit raises NotFittedError."""
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(GaussianMixture(), method)(X_SMALL)


class TestSampleErrors:
    """Bad arguments to ``sample``."""

    @pytest.mark.parametrize("n_samples", [0, -1, 1.5, True, "3"])
    def test_bad_n_samples(self, n_samples):
        """n_samples must be an integer >= 1; the message repeats the value."""
        gm = GaussianMixture(2, random_state=0).fit(X_SMALL)
        expected = (
            f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires"
        )
        with pytest.raises(ValueError, match=re.escape(expected)):
            gm.sample(n_samples=n_samples)

    def test_not_fitted(self):
        """sample before fit raises NotFittedError."""
        with pytest.raises(NotFittedError, match="not fitted yet"):
            GaussianMixture().sample(3)


# ============================================================================
# Sample weights
# ============================================================================


class TestSampleWeightSemantics:
    """Integer weights equal repetition, zero weights equal removal (exactly)."""

    X = make_blobs(n_samples=60, n_features=3, centers=3, random_state=0)[0]
    W = np.random.RandomState(1).randint(0, 4, size=60).astype(float)
    # rtol for fits that must agree to rounding (observed ~1e-12 at worst).
    RTOL = 1e-10
    ATOL = 1e-12

    def _assert_same_fit(self, a, b):
        for name in FITTED_ATTRIBUTES:
            np.testing.assert_allclose(
                getattr(a, name),
                getattr(b, name),
                rtol=self.RTOL,
                atol=self.ATOL,
                err_msg=name,
            )
        assert a.n_iter_ == b.n_iter_
        assert a.converged_ == b.converged_
        np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=self.RTOL)
        np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=self.RTOL)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_integer_weights_equal_repeated_rows(self, covariance_type):
        """fit(X, w) with integer w equals fit(np.repeat(X, w)) for every attribute."""
        kwargs = {"tol": 1e-8, "max_iter": 200}
        weighted = _deterministic(covariance_type, self.X, **kwargs).fit(
            self.X, sample_weight=self.W
        )
        repeated = _deterministic(covariance_type, self.X, **kwargs).fit(
            np.repeat(self.X, self.W.astype(int), axis=0)
        )
        self._assert_same_fit(weighted, repeated)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_zero_weights_equal_removed_rows(self, covariance_type):
        """Rows of weight 0 are ignored exactly: the fit equals the fit without them."""
        keep = np.random.RandomState(2).rand(self.X.shape[0]) > 0.3
        kwargs = {"tol": 1e-8, "max_iter": 200}
        weighted = _deterministic(covariance_type, self.X, **kwargs).fit(
            self.X, sample_weight=keep.astype(float)
        )
        removed = _deterministic(covariance_type, self.X, **kwargs).fit(self.X[keep])
        self._assert_same_fit(weighted, removed)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_scaling_weights_changes_nothing(self, covariance_type):
        """Multiplying every weight by a constant gives the same fit."""
        a = _deterministic(covariance_type, self.X).fit(self.X, sample_weight=self.W)
        b = _deterministic(covariance_type, self.X).fit(
            self.X, sample_weight=2.5 * self.W
        )
        self._assert_same_fit(a, b)

    def test_unit_weights_equal_no_weights(self):
        """sample_weight of ones (array or scalar 1) equals no sample_weight."""
        a = _deterministic("full", self.X).fit(self.X)
        b = _deterministic("full", self.X).fit(self.X, sample_weight=np.ones(60))
        c = _deterministic("full", self.X).fit(self.X, sample_weight=1)
        self._assert_same_fit(a, b)
        self._assert_same_fit(a, c)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_score_aic_bic_equal_repeated_rows(self, covariance_type):
        """score, aic and bic with integer weights equal those on repeated rows."""
        gm = _deterministic(covariance_type, self.X).fit(self.X)
        repeated = np.repeat(self.X, self.W.astype(int), axis=0)
        np.testing.assert_allclose(
            gm.score(self.X, sample_weight=self.W), gm.score(repeated), rtol=1e-12
        )
        np.testing.assert_allclose(
            gm.aic(self.X, sample_weight=self.W), gm.aic(repeated), rtol=1e-12
        )
        np.testing.assert_allclose(
            gm.bic(self.X, sample_weight=self.W), gm.bic(repeated), rtol=1e-12
        )

    def test_fit_predict_with_weights(self):
        """fit_predict(X, sample_weight=w) labels equal the weighted fit's predict."""
        labels = _deterministic("diag", self.X).fit_predict(
            self.X, sample_weight=self.W
        )
        gm = _deterministic("diag", self.X).fit(self.X, sample_weight=self.W)
        np.testing.assert_array_equal(labels, gm.predict(self.X))


# ============================================================================
# fit_predict
# ============================================================================


class TestFitPredict:
    """``fit_predict(X)`` equals ``fit(X).predict(X)``."""

    X = make_blobs(
        n_samples=300, n_features=4, centers=4, cluster_std=2.0, random_state=0
    )[0]

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("max_iter", [1, 2, 100])
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_equals_fit_then_predict(self, covariance_type, max_iter):
        """Labels agree for every covariance type, also when EM stopped early."""
        kwargs = {
            "n_components": 4,
            "covariance_type": covariance_type,
            "max_iter": max_iter,
            "random_state": 0,
            "tol": 1e-10,
        }
        labels = GaussianMixture(**kwargs).fit_predict(self.X)
        expected = GaussianMixture(**kwargs).fit(self.X).predict(self.X)
        np.testing.assert_array_equal(labels, expected)

    def test_returns_int_labels_in_range(self):
        """Labels are integers in [0, n_components)."""
        labels = GaussianMixture(3, random_state=0).fit_predict(X_BLOBS)
        assert labels.shape == (X_BLOBS.shape[0],)
        assert np.issubdtype(labels.dtype, np.integer)
        assert set(np.unique(labels)) == {0, 1, 2}


# ============================================================================
# float32
# ============================================================================


class TestFloat32:
    """float32 data are fitted in float32 and agree with float64."""

    X64 = (
        make_blobs(
            n_samples=600, n_features=3, centers=4, cluster_std=2.0, random_state=1
        )[0]
        .astype(np.float32)
        .astype(np.float64)
    )
    X32 = X64.astype(np.float32)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_dtypes(self, covariance_type):
        """float32 input gives float32 parameters, responsibilities and log-densities."""
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
            self.X32
        )
        for name in FITTED_ATTRIBUTES:
            assert getattr(gm, name).dtype == np.float32, name
        assert gm.predict_proba(self.X32).dtype == np.float32
        assert gm.score_samples(self.X32).dtype == np.float32
        assert isinstance(gm.score(self.X32), float)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_float64_stays_float64(self, covariance_type):
        """float64 (and integer) input gives float64 parameters."""
        gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
        gm.fit(self.X64)
        for name in FITTED_ATTRIBUTES:
            assert getattr(gm, name).dtype == np.float64, name
        gm.fit(np.round(self.X64 * 10).astype(np.int64))
        assert gm.means_.dtype == np.float64

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_close_to_float64(self, covariance_type):
        """30 EM iterations in float32 match float64 (rtol 1e-4 on means and covariances)."""
        # tol=0 runs exactly 30 iterations in both, so the stopping point is the same;
        # the observed differences are ~1e-7.
        kwargs = {
            "n_components": 4,
            "covariance_type": covariance_type,
            "random_state": 0,
            "tol": 0.0,
            "max_iter": 30,
        }
        g32 = GaussianMixture(**kwargs).fit(self.X32)
        g64 = GaussianMixture(**kwargs).fit(self.X64)
        scale = np.abs(self.X64).max()
        np.testing.assert_allclose(g32.means_, g64.means_, rtol=1e-4, atol=1e-4 * scale)
        cov_scale = np.abs(g64.covariances_).max()
        np.testing.assert_allclose(
            g32.covariances_, g64.covariances_, rtol=1e-4, atol=1e-4 * cov_scale
        )
        np.testing.assert_allclose(g32.weights_, g64.weights_, atol=1e-5)
        np.testing.assert_allclose(g32.lower_bound_, g64.lower_bound_, atol=1e-5)
        np.testing.assert_allclose(
            g32.score_samples(self.X32), g64.score_samples(self.X64), atol=1e-3
        )

    @pytest.mark.parametrize("offset", [1e4, 1e5])
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_far_from_origin(self, covariance_type, offset):
        """float32 blobs far from 0 give positive variances and finite results.

        scikit-learn's float32 fit of these data fails with negative diagonal
        variances (an "ill-defined empirical covariance" error) for tied, diag
        and spherical.
        """
        X = make_blobs(
            n_samples=1000, n_features=3, centers=3, cluster_std=0.5, random_state=0
        )[0]
        X32 = (X + offset).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateComponentWarning)
            gm = GaussianMixture(
                3, covariance_type=covariance_type, random_state=0
            ).fit(X32)
        assert np.all(_variances(gm) > 0)
        _assert_all_finite(gm, X32)
        # The float64 fit of the same (rounded) values agrees: the variances are real
        # (~0.25), not rounding noise; rtol 1e-3 on the variances.
        g64 = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
            X32.astype(np.float64)
        )
        np.testing.assert_allclose(_variances(gm), _variances(g64), rtol=1e-3)
        np.testing.assert_allclose(gm.means_, g64.means_, rtol=1e-6)


# ============================================================================
# Degenerate data
# ============================================================================

_RNG = np.random.RandomState(0)
_POINTS = _RNG.randn(3, 2)
_CONSTANT_FEATURE = _RNG.randn(100, 3)
_CONSTANT_FEATURE[:, 1] = 2.0
_ILL_DEFINED = np.vstack((np.ones((20, 5)), np.zeros((20, 5))))

DEGENERATE_CASES = {
    "duplicated points": (np.repeat(_POINTS, 10, axis=0), {"n_components": 5}),
    "more components than distinct points": (
        np.repeat(_POINTS, 2, axis=0),
        {"n_components": 5},
    ),
    "constant feature": (_CONSTANT_FEATURE, {"n_components": 2, "reg_covar": 0.0}),
    "component loses all its points": (
        _RNG.randn(100, 2),
        {
            "n_components": 3,
            "means_init": np.array([[0.0, 0.0], [0.5, 0.5], [1e3, 1e3]]),
        },
    ),
    "ill-defined empirical covariance": (
        _ILL_DEFINED,
        {"n_components": 2, "reg_covar": 0.0},
    ),
    "ill-defined empirical covariance x10": (
        10.0 * _ILL_DEFINED,
        {"n_components": 2, "reg_covar": 0.0},
    ),
}


def _expected_warnings():
    """(case, covariance_type, match) for every fit that must repair a component."""
    params = []
    for case in DEGENERATE_CASES:
        for covariance_type in COVARIANCE_TYPES:
            if case in ("duplicated points", "more components than distinct points"):
                match = r"component \d+ lost all its samples"
            elif case == "component loses all its points":
                match = r"component 2 lost all its samples"
            elif covariance_type == "tied":
                match = r"the shared covariance collapsed"
            elif case == "constant feature" and covariance_type == "spherical":
                continue  # not singular: tested in test_constant_feature_spherical
            else:
                match = r"component \d+ collapsed"
            params.append(
                pytest.param(
                    case, covariance_type, match, id=f"{case}-{covariance_type}"
                )
            )
    return params


# pytest.warns re-emits the warnings that do not match; those are ignored here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.exceptions.DegenerateComponentWarning")
class TestDegenerateData:
    """Degenerate data never crash and never give NaN or inf; repairs are reported."""

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    @pytest.mark.parametrize("case", sorted(DEGENERATE_CASES))
    def test_fit_is_finite(self, case, covariance_type, dtype):
        """The fit completes and every attribute and prediction is finite."""
        X, kwargs = DEGENERATE_CASES[case]
        X = X.astype(dtype)
        gm = GaussianMixture(
            covariance_type=covariance_type, random_state=0, **kwargs
        ).fit(X)
        _assert_all_finite(gm, X)
        assert np.all(_variances(gm) > 0)
        assert np.all(gm.weights_ > 0)
        np.testing.assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-6)

    @pytest.mark.parametrize(("case", "covariance_type", "match"), _expected_warnings())
    def test_warns_naming_component(self, case, covariance_type, match):
        """A DegenerateComponentWarning names the repaired component (or the shared one)."""
        X, kwargs = DEGENERATE_CASES[case]
        with pytest.warns(DegenerateComponentWarning, match=match):
            GaussianMixture(
                covariance_type=covariance_type, random_state=0, **kwargs
            ).fit(X)

    def test_constant_feature_spherical(self):
        """A constant feature does not make a spherical variance singular: no warning."""
        X, kwargs = DEGENERATE_CASES["constant feature"]
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateComponentWarning)
            gm = GaussianMixture(
                covariance_type="spherical", random_state=0, **kwargs
            ).fit(X)
        _assert_all_finite(gm, X)

    def test_empty_component_warning_says_when_and_how(self):
        """The re-seed warning names the donor component and the iteration."""
        X, kwargs = DEGENERATE_CASES["component loses all its points"]
        with pytest.warns(
            DegenerateComponentWarning,
            match=r"component 2 lost all its samples; it was re-seeded by splitting "
            r"component \d along its widest axis at iteration 1\. This suggests that "
            r"the data support fewer components",
        ):
            GaussianMixture(random_state=0, **kwargs).fit(X)

    def test_singular_warning_suggests_fix(self):
        """The singular-covariance warning says what was added and how to avoid it."""
        X, kwargs = DEGENERATE_CASES["ill-defined empirical covariance"]
        with pytest.warns(
            DegenerateComponentWarning,
            match=r"component 0 collapsed .*; \S+ was added to its diagonal at "
            r"initialisation.*\. Increase reg_covar",
        ):
            GaussianMixture(random_state=0, **kwargs).fit(X)

    def test_singular_warning_says_when_before_advice(self):
        """When the repair happened is not glued to the advice ('avoid this at ...')."""
        X, kwargs = DEGENERATE_CASES["ill-defined empirical covariance"]
        with pytest.warns(DegenerateComponentWarning) as record:
            GaussianMixture(random_state=0, **kwargs).fit(X)
        message = str(record[0].message)
        assert "at initialisation" in message
        assert "to avoid this at " not in message

    def test_zero_initial_weight_is_repaired(self):
        """A component given weight 0 in weights_init is re-seeded, not left empty."""
        with pytest.warns(DegenerateComponentWarning, match=r"component 1 lost all"):
            gm = GaussianMixture(2, weights_init=[1.0, 0.0], random_state=0).fit(
                X_BLOBS
            )
        _assert_all_finite(gm, X_BLOBS)
        assert gm.weights_.min() > 0.1

    def test_all_rows_identical(self):
        """All rows equal, reg_covar=0: finite, with a warning."""
        X = np.full((10, 2), 3.0)
        with pytest.warns(DegenerateComponentWarning, match=r"component \d+"):
            gm = GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)
        _assert_all_finite(gm, X)
        np.testing.assert_allclose(gm.means_, 3.0)


class TestExtremeScale:
    """Finite data whose squares overflow: a clear error (or a fit), never a crash."""

    X = np.random.RandomState(0).randn(100, 2)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_far_point_at_predict_time(self, covariance_type):
        """A point at 1e200 is refused with a ValueError saying to scale, silently."""
        gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
            self.X
        )
        far = np.array([[1e200, 0.0], [0.0, 0.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(
                ValueError, match=r"as large as 1e\+200.*Scale the data"
            ):
                gm.score_samples(far)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_density_overflow_is_a_clear_error(self, covariance_type):
        """A log-density that overflows raises LogDensityOverflowError, silently."""
        gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
            self.X
        )
        gm.precisions_cholesky_ = gm.precisions_cholesky_ * 1e160
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(LogDensityOverflowError, match="Scale the data"):
                gm.score_samples(np.array([[1e90, 0.0]]))
        assert issubclass(LogDensityOverflowError, ValueError)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_huge_finite_data(self, covariance_type):
        """Data at 1e155 either fit (finite) or raise a ValueError that says to scale."""
        X = self.X * 1e155
        gm = GaussianMixture(
            2,
            covariance_type=covariance_type,
            init_params="random_from_data",
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateComponentWarning)
            error = None
            try:
                gm.fit(X)
            except ValueError as exc:
                error = str(exc)
        if error is None:
            _assert_all_finite(gm, X)
        else:
            assert "Scale the data" in error


# ============================================================================
# scikit-learn tooling
# ============================================================================


class TestSklearnTooling:
    """clone, params, Pipeline, GridSearchCV, DataFrames."""

    def test_clone(self):
        """clone copies the parameters and none of the fitted state."""
        gm = GaussianMixture(3, covariance_type="diag", random_state=0, tol=1e-4).fit(
            X_BLOBS
        )
        copy = clone(gm)
        assert copy.get_params() == gm.get_params()
        assert not hasattr(copy, "means_")

    def test_get_params(self):
        """get_params lists every constructor parameter with its value."""
        gm = GaussianMixture(4, covariance_type="tied", n_jobs=1)
        params = gm.get_params()
        assert params["n_components"] == 4
        assert params["covariance_type"] == "tied"
        assert params["n_jobs"] == 1
        assert set(params) == set(PARAMETER_RULES)

    def test_set_params(self):
        """set_params changes parameters and returns the estimator."""
        gm = GaussianMixture()
        assert gm.set_params(n_components=3, reg_covar=1e-3) is gm
        assert gm.n_components == 3
        assert gm.reg_covar == 1e-3
        with pytest.raises(ValueError, match="Invalid parameter 'n_component'"):
            gm.set_params(n_component=3)

    def test_pipeline(self):
        """A Pipeline of StandardScaler and GaussianMixture equals the manual steps."""
        pipe = Pipeline(
            [("scale", StandardScaler()), ("gmm", GaussianMixture(3, random_state=0))]
        ).fit(X_BLOBS)
        Xs = StandardScaler().fit_transform(X_BLOBS)
        gm = GaussianMixture(3, random_state=0).fit(Xs)
        np.testing.assert_array_equal(pipe.predict(X_BLOBS), gm.predict(Xs))
        np.testing.assert_allclose(pipe.score(X_BLOBS), gm.score(Xs), rtol=1e-12)
        np.testing.assert_allclose(pipe.predict_proba(X_BLOBS), gm.predict_proba(Xs))
        np.testing.assert_allclose(pipe.score_samples(X_BLOBS), gm.score_samples(Xs))

    def test_grid_search(self):
        """GridSearchCV over n_components and covariance_type picks 3 components."""
        search = GridSearchCV(
            GaussianMixture(random_state=0),
            {"n_components": [1, 2, 3], "covariance_type": ["full", "spherical"]},
            cv=3,
        ).fit(X_BLOBS)
        assert search.best_params_["n_components"] == 3
        assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
        best = GaussianMixture(random_state=0, **search.best_params_).fit(X_BLOBS)
        np.testing.assert_allclose(search.best_estimator_.means_, best.means_)

    def test_score_is_a_scorer(self):
        """cross_val_score uses GaussianMixture.score (mean held-out log-density)."""
        scores = cross_val_score(GaussianMixture(3, random_state=0), X_BLOBS, cv=3)
        expected = [
            GaussianMixture(3, random_state=0).fit(X_BLOBS[train]).score(X_BLOBS[test])
            for train, test in KFold(3).split(X_BLOBS)
        ]
        np.testing.assert_allclose(scores, expected, rtol=1e-12)

    def test_dataframe_sets_feature_names(self):
        """A DataFrame sets feature_names_in_; reordered columns are rejected."""
        df = pd.DataFrame(X_BLOBS, columns=["a", "b"])
        gm = GaussianMixture(3, random_state=0).fit(df)
        np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b"])
        assert gm.n_features_in_ == 2
        plain = GaussianMixture(3, random_state=0).fit(X_BLOBS)
        np.testing.assert_array_equal(gm.predict(df), plain.predict(X_BLOBS))
        np.testing.assert_allclose(gm.means_, plain.means_)
        with pytest.raises(ValueError, match="feature names should match"):
            gm.predict(df[["b", "a"]])

    def test_array_after_dataframe_warns(self):
        """Predicting an array after fitting a DataFrame warns as scikit-learn does."""
        gm = GaussianMixture(3, random_state=0).fit(
            pd.DataFrame(X_BLOBS, columns=["a", "b"])
        )
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            gm.predict(X_BLOBS)

    def test_array_input_has_no_feature_names(self):
        """A plain array does not set feature_names_in_."""
        gm = GaussianMixture(random_state=0).fit(X_BLOBS)
        assert not hasattr(gm, "feature_names_in_")
        assert gm.n_features_in_ == 2


class TestFitProcedure:
    """warm_start, n_init, verbose, lower_bounds_, converged_."""

    X = make_blobs(
        n_samples=300, n_features=2, centers=3, cluster_std=1.5, random_state=0
    )[0]

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    def test_warm_start_continues(self):
        """Two warm fits of 3 iterations equal one cold fit of 6 iterations."""
        warm = GaussianMixture(3, warm_start=True, max_iter=3, tol=0.0, random_state=0)
        warm.fit(self.X)
        first = list(warm.lower_bounds_)
        warm.fit(self.X)
        cold = GaussianMixture(3, max_iter=6, tol=0.0, random_state=0).fit(self.X)
        np.testing.assert_allclose(
            first + warm.lower_bounds_, cold.lower_bounds_, rtol=1e-12
        )
        np.testing.assert_allclose(warm.means_, cold.means_, rtol=1e-12)
        np.testing.assert_allclose(warm.covariances_, cold.covariances_, rtol=1e-12)
        assert warm.n_iter_ == 3

    def test_warm_start_after_convergence(self):
        """A warm refit starts at the previous lower bound, so it converges at once."""
        gm = GaussianMixture(3, warm_start=True, random_state=0).fit(self.X)
        previous = gm.lower_bound_
        gm.fit(self.X)
        # From a cold start the first change is +inf; n_iter_ == 1 means the change
        # was measured from the previous lower bound.
        assert gm.n_iter_ == 1
        assert gm.converged_
        assert 0.0 <= gm.lower_bounds_[0] - previous < gm.em_control().tol

    def test_warm_start_ignores_n_init(self, capsys):
        """After the first fit, warm_start runs a single initialisation."""
        gm = GaussianMixture(3, warm_start=True, n_init=3, verbose=1, random_state=0)
        gm.fit(self.X)
        assert capsys.readouterr().out.count("Initialization ") == 6  # 3 begin + 3 end
        gm.fit(self.X)
        out = capsys.readouterr().out
        assert out.startswith("Initialization 0\n")
        assert "Initialization 1" not in out

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    def test_n_init_keeps_best(self):
        """n_init=4 keeps the best of the 4 initialisations drawn from the same seed."""
        # One shared RandomState fitted four times draws the same four inits.
        rs = np.random.RandomState(0)
        singles = [
            GaussianMixture(3, init_params="random", max_iter=20, random_state=rs).fit(
                self.X
            )
            for _ in range(4)
        ]
        best = GaussianMixture(
            3, init_params="random", max_iter=20, n_init=4, random_state=0
        ).fit(self.X)
        bounds = [g.lower_bound_ for g in singles]
        assert best.lower_bound_ == max(bounds)
        assert len(set(bounds)) > 1  # the inits really differ
        np.testing.assert_array_equal(
            best.means_, singles[int(np.argmax(bounds))].means_
        )

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("verbose", [1, 2])
    def test_verbose_matches_sklearn(self, verbose, capsys):
        """verbose=1 and 2 print exactly scikit-learn's messages (timings aside)."""
        kwargs = {
            "n_components": 3,
            "verbose": verbose,
            "verbose_interval": 2,
            "n_init": 2,
            "random_state": 0,
            "tol": 1e-4,
        }
        GaussianMixture(**kwargs).fit(self.X)
        ours = capsys.readouterr().out
        SklearnGaussianMixture(**kwargs).fit(self.X)
        theirs = capsys.readouterr().out

        def untimed(text):
            return re.sub(r"time lapse \d+\.\d+s", "time lapse <t>s", text)

        assert ours
        assert untimed(ours) == untimed(theirs)

    def test_verbose_format(self, capsys):
        """The verbose=2 lines have scikit-learn's layout."""
        gm = GaussianMixture(3, verbose=2, verbose_interval=1, random_state=0).fit(
            self.X
        )
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "Initialization 0"
        for n, line in enumerate(lines[1:-1], start=1):
            assert re.fullmatch(
                rf"  Iteration {n}\t time lapse \d+\.\d{{5}}s\t ll change (inf|-?\d+\.\d{{5}})",
                line,
            ), line
        assert re.fullmatch(
            r"Initialization converged\. time lapse \d+\.\d{5}s\t lower bound "
            rf"{gm.lower_bound_:.5f}\.",
            lines[-1],
        )
        assert len(lines) == gm.n_iter_ + 2

    def test_verbose_zero_is_silent(self, capsys):
        """verbose=0 prints nothing."""
        GaussianMixture(3, random_state=0).fit(self.X)
        assert capsys.readouterr().out == ""

    @pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    @pytest.mark.parametrize("max_iter", [1, 5, 100])
    def test_lower_bounds_history(self, max_iter):
        """lower_bounds_ has n_iter_ entries, ends at lower_bound_ and never decreases."""
        gm = GaussianMixture(3, max_iter=max_iter, random_state=0).fit(self.X)
        assert len(gm.lower_bounds_) == gm.n_iter_ <= max_iter
        assert gm.lower_bounds_[-1] == gm.lower_bound_
        # EM is monotone; 1e-10 allows for rounding.
        assert np.all(np.diff(gm.lower_bounds_) >= -1e-10)

    def test_converged(self):
        """A fit within max_iter is converged, with no ConvergenceWarning."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            gm = GaussianMixture(3, random_state=0).fit(self.X)
        assert gm.converged_ is True
        assert gm.n_iter_ < gm.em_control().max_iter

    def test_not_converged_warns(self):
        """max_iter too small: converged_ is False and a ConvergenceWarning is raised."""
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            gm = GaussianMixture(3, max_iter=2, tol=0.0, random_state=0).fit(self.X)
        assert gm.converged_ is False
        assert gm.n_iter_ == 2

    @pytest.mark.parametrize("method", ["fit", "fit_predict"])
    def test_convergence_warning_points_at_caller(self, method):
        """The ConvergenceWarning is attributed to the caller's line (stacklevel)."""
        gm = GaussianMixture(3, max_iter=1, random_state=0)
        with pytest.warns(ConvergenceWarning) as record:
            getattr(gm, method)(self.X)
        assert record[0].filename == __file__

    @pytest.mark.parametrize("method", ["fit", "fit_predict"])
    def test_degenerate_warning_points_at_caller(self, method):
        """The DegenerateComponentWarning is attributed to the caller's line."""
        gm = GaussianMixture(2, weights_init=[1.0, 0.0], random_state=0)
        with pytest.warns(DegenerateComponentWarning) as record:
            getattr(gm, method)(self.X)
        assert record[0].filename == __file__

    def test_max_iter_zero(self):
        """max_iter=0 keeps the initial parameters, without a ConvergenceWarning."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            gm = GaussianMixture(3, max_iter=0, random_state=0).fit(self.X)
        assert gm.n_iter_ == 0
        assert gm.lower_bounds_ == []
        assert gm.converged_ is False
        _assert_all_finite_params(gm)

    def test_matches_sklearn(self):
        """Same random_state, same fit as sklearn.mixture.GaussianMixture (rtol 1e-8)."""
        ours = GaussianMixture(3, random_state=0).fit(self.X)
        theirs = SklearnGaussianMixture(3, random_state=0).fit(self.X)
        for name in FITTED_ATTRIBUTES:
            np.testing.assert_allclose(
                getattr(ours, name), getattr(theirs, name), rtol=1e-8, atol=1e-10
            )
        assert ours.n_iter_ == theirs.n_iter_
        np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-10)


def _assert_all_finite_params(gm):
    for name in FITTED_ATTRIBUTES:
        assert np.all(np.isfinite(getattr(gm, name))), name


# ============================================================================
# sample
# ============================================================================


@pytest.fixture(scope="module")
def fitted_per_type():
    """One fitted model per covariance type (3 components, 3 features)."""
    X = make_blobs(
        n_samples=300,
        n_features=3,
        centers=3,
        cluster_std=[0.5, 1.0, 2.0],
        random_state=0,
    )[0]
    return {
        ct: GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
        for ct in COVARIANCE_TYPES
    }


class TestSample:
    """``sample``: shapes, labels, seeding and moments."""

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_shapes_and_labels(self, fitted_per_type, covariance_type):
        """X is (n, n_features); y holds component labels grouped in order."""
        X, y = fitted_per_type[covariance_type].sample(500, random_state=0)
        assert X.shape == (500, 3)
        assert y.shape == (500,)
        assert np.issubdtype(y.dtype, np.integer)
        assert set(np.unique(y)) <= {0, 1, 2}
        assert np.all(np.diff(y) >= 0)

    def test_single_sample(self, fitted_per_type):
        """The default draws one point."""
        X, y = fitted_per_type["full"].sample()
        assert X.shape == (1, 3)
        assert y.shape == (1,)

    def test_labels_follow_components(self, fitted_per_type):
        """Points labelled k are close to mean k (well separated, tight components)."""
        gm = fitted_per_type["full"]
        X, y = gm.sample(3000, random_state=0)
        for k in range(3):
            np.testing.assert_allclose(X[y == k].mean(axis=0), gm.means_[k], atol=0.3)

    def test_random_state_argument_is_reproducible(self, fitted_per_type):
        """sample(n, random_state=s) gives the same draws each time; s differs, draws differ."""
        gm = fitted_per_type["diag"]
        a = gm.sample(50, random_state=5)
        b = gm.sample(50, random_state=5)
        c = gm.sample(50, random_state=6)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])

    def test_default_uses_estimator_random_state(self, fitted_per_type):
        """Without random_state, sample uses the estimator's (here 0)."""
        gm = fitted_per_type["tied"]
        a = gm.sample(50)
        b = gm.sample(50)
        c = gm.sample(50, random_state=0)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[0], c[0])

    def test_randomstate_instance_advances(self, fitted_per_type):
        """A RandomState instance is consumed: two calls give different draws."""
        rs = np.random.RandomState(0)
        gm = fitted_per_type["spherical"]
        assert not np.array_equal(
            gm.sample(20, random_state=rs)[0], gm.sample(20, random_state=rs)[0]
        )

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_same_draws_as_sklearn(self, fitted_per_type, covariance_type):
        """With the same parameters and seed, the draws equal scikit-learn's."""
        gm = fitted_per_type[covariance_type]
        reference = SklearnGaussianMixture(
            3, covariance_type=covariance_type, random_state=7
        )
        for name in [*FITTED_ATTRIBUTES, "n_features_in_", "converged_"]:
            setattr(reference, name, getattr(gm, name))
        X_ref, y_ref = reference.sample(1000)
        X, y = gm.sample(1000, random_state=7)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_moments(self, fitted_per_type, covariance_type):
        """Mean and covariance of 200k draws match the mixture's moments.

        mean = sum_k w_k mu_k; cov = sum_k w_k (Sigma_k + mu_k mu_k^T) - mean mean^T.
        Tolerance: the mean within 5 standard errors sqrt(diag(cov) / n); the
        covariance within 1% of the largest variance (observed ~0.2%).
        """
        gm = fitted_per_type[covariance_type]
        n = 200_000
        X, _ = gm.sample(n, random_state=1)
        w, mu = gm.weights_, gm.means_
        mean = w @ mu
        cov = np.einsum(
            "k,kij->ij", w, _dense_covariances(gm) + np.einsum("ki,kj->kij", mu, mu)
        ) - np.outer(mean, mean)
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(X.mean(axis=0) - mean) < 5 * se)
        np.testing.assert_allclose(
            np.cov(X, rowvar=False), cov, rtol=0, atol=0.01 * np.diag(cov).max()
        )


@pytest.mark.parametrize("kind", ["GaussianMixture", "BayesianGaussianMixture"])
def test_refit_out_of_core_sets_n_features_and_drops_feature_names(kind, tmp_path):
    import gaussmix

    X, _ = make_blobs(200, n_features=3, centers=2, random_state=0)
    model = getattr(gaussmix, kind)(n_components=2, random_state=0)
    model.fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    path = tmp_path / "x.npy"
    np.save(path, X[:, :2])
    model.fit(str(path))
    assert model.n_features_in_ == 2
    assert not hasattr(model, "feature_names_in_")
