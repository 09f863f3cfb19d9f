"""mclust's answers by default: the README's call against ``mclustBIC(X, G = 1:9)``.

``select(X, range(1, 10), "all")`` with no other argument must give mclust's
table: mclust's model names resolve ``tol``, ``reg_covar``, ``init_params`` and
``max_iter`` to mclust's EM control and hierarchical start. mclust's tables are
stored in ``tests/references/mclust/`` (replayed without R; see
``tests/mclust_oracle.py``). mclust's BIC is ``2 loglik - df log n`` (higher is
better); gaussmix's is the same number with the opposite sign.
"""

import math
import warnings

import numpy as np
import pytest

from gaussmix import GaussianMixture, GaussianMixtureIC, select
from gaussmix._validation import (
    MCLUST_MAX_ITER,
    SKLEARN_MAX_ITER,
    resolve_em_control,
)
from gaussmix.em import STUCK_WINDOW
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.fitting import FitOptions
from gaussmix.selection import MCLUST_MODELS

pytestmark = pytest.mark.mclust

#: A BIC cell is "worse" when it is below mclust's by more than this, relative.
WORSE_RTOL = 1e-4
#: Share of the cells that may be worse (other local optima, mclust's own
#: approximate VVE update): the issue's bound.
MAX_WORSE_SHARE = 0.05
#: Cells where one side has a number and the other NA (a component collapsed on
#: one side only): few.
MAX_NA_MISMATCH_SHARE = 0.05

DATASETS = ("faithful", "iris", "diabetes", "banknote")


def _mclust_table(mclust, X):
    """mclust's default ``mclustBIC`` table (9 x 14) and its summary."""
    got = mclust.run_r(
        "b <- mclustBIC(X, G = 1:9, verbose = FALSE)\n"
        "s <- summary(b, X)\n"
        "emit(list(bic = unclass(b)[, ], models = colnames(b), "
        "best_model = s$modelName, best_G = s$G, best_bic = s$bic))",
        X=X,
    )
    table = np.array(
        [[math.nan if v is None else v for v in row] for row in got["bic"]]
    )
    assert list(got["models"]) == list(MCLUST_MODELS)
    return table, got


def _as_grid(table):
    """gaussmix's selection table as mclust's 9 x 14 BIC grid (higher is better)."""
    ours = np.full((9, len(MCLUST_MODELS)), math.nan)
    for rec in table.to_dict("records"):
        j = MCLUST_MODELS.index(rec["covariance_type"])
        ours[rec["n_components"] - 1, j] = -rec["bic"]
    return ours


@pytest.fixture(scope="module", params=DATASETS)
def default_call(request, mclust):
    X = mclust.dataset(request.param)
    r_table, r_summary = _mclust_table(mclust, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best, table = select(X, range(1, 10), "all")  # the README's call
    return request.param, X, r_table, r_summary, best, table


def test_default_call_selects_mclusts_model(default_call):
    """The same model and K as ``Mclust(X)``, with mclust's BIC (within 1e-4).

    banknote: both pick VVE with 3 components; gaussmix's BIC is higher by
    7e-4 relative, as its VVE M-step is the exact one (docs/mclust-models.md).
    """
    name, X, _, r_best, best, _ = default_call
    assert (best.covariance_type, best.n_components) == (
        r_best["best_model"],
        r_best["best_G"],
    ), name
    ours = -best.bic(X)
    assert ours >= r_best["best_bic"] - WORSE_RTOL * abs(r_best["best_bic"]), name
    rtol = 1e-3 if best.covariance_type == "VVE" else WORSE_RTOL
    assert ours == pytest.approx(r_best["best_bic"], rel=rtol), name


def test_default_call_whole_table(default_call):
    """The whole 9 x 14 table agrees with mclust's.

    At most 5% of the cells are worse than mclust's by more than 1e-4
    relative, at most 5% are NA on one side only, and the cells where both have
    a number and neither is worse agree within 1e-4 or are better (gaussmix's
    VVE and, in a few cells, another local optimum).
    """
    name, _, r_table, _, _, table = default_call
    ours = _as_grid(table)
    both = np.isfinite(ours) & np.isfinite(r_table)
    scale = WORSE_RTOL * np.abs(r_table)
    worse = both & (ours < r_table - scale)
    better = both & (ours > r_table + scale)
    na_mismatch = np.isfinite(ours) != np.isfinite(r_table)
    listing = [
        (MCLUST_MODELS[j], i + 1, ours[i, j], r_table[i, j])
        for i, j in zip(*np.nonzero(worse | na_mismatch), strict=True)
    ]
    n_cells = r_table.size
    assert worse.sum() <= MAX_WORSE_SHARE * n_cells, (name, listing)
    assert na_mismatch.sum() <= MAX_NA_MISMATCH_SHARE * n_cells, (name, listing)
    agree = both & ~worse & ~better
    # Most cells are the same fit to the last digits mclust's tolerance allows.
    assert agree.sum() >= 0.85 * both.sum(), (name, int(agree.sum()), listing)
    assert better.sum() <= 0.1 * both.sum(), name


def test_estimator_ic_default_is_select_default(mclust):
    """GaussianMixtureIC() with no argument is the README's select call."""
    X = mclust.dataset("faithful")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best, table = select(X, range(1, 10), "all")
        ic = GaussianMixtureIC().fit(X)
    assert (ic.covariance_type_, ic.n_components_) == (
        best.covariance_type,
        best.n_components,
    )
    np.testing.assert_allclose(ic.means_, best.means_, rtol=1e-12)
    np.testing.assert_allclose(
        ic.table_["bic"].to_numpy(), table["bic"].to_numpy(), rtol=1e-12
    )


# ------------------------------------------------------------ the resolution rule


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_sklearn_names_resolve_to_sklearn_control(name):
    control = resolve_em_control(name)
    assert (control.tol, control.relative) == (1e-3, False)
    assert control.reg_covar == 1e-6
    assert control.init_params == "kmeans"
    assert control.max_iter == SKLEARN_MAX_ITER == 100


@pytest.mark.parametrize("name", [*MCLUST_MODELS, "E", "V"])
def test_mclust_names_resolve_to_mclust_control(name):
    control = resolve_em_control(name)
    assert (control.tol, control.relative) == (1e-5, True)
    assert control.reg_covar == 0.0
    assert control.init_params == "hc"
    assert control.max_iter == MCLUST_MAX_ITER
    # Online EM keeps 100 epochs whatever the family.
    assert resolve_em_control(name, online=True).max_iter == 100


def test_explicit_values_win():
    control = resolve_em_control("VVV", 1e-4, 1e-3, "kmeans", 7)
    assert (control.tol, control.relative) == (1e-4, False)  # scikit-learn's rule
    assert (control.reg_covar, control.init_params, control.max_iter) == (
        1e-3,
        "kmeans",
        7,
    )
    options = FitOptions.from_params(
        GaussianMixture(covariance_type="EEE", reg_covar=1e-2).get_params(), "t"
    )
    assert options.reg_covar == 1e-2
    assert options.relative_tol
    assert options.init_params == "hc"
    assert options.max_iter == MCLUST_MAX_ITER


def test_defaults_are_auto_and_survive_clone():
    from sklearn.base import clone

    gm = GaussianMixture(3, covariance_type="VEV")
    params = clone(gm).get_params()
    for name in ("tol", "reg_covar", "init_params", "max_iter"):
        assert params[name] == "auto"
    ic = GaussianMixtureIC().get_params()
    assert ic["tol"] == ic["reg_covar"] == ic["init_params"] == "auto"


def test_sklearn_name_fit_equals_explicit_sklearn_defaults(rng):
    """'full' by default is exactly scikit-learn's procedure (parity unchanged)."""
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (150, 2))])
    a = GaussianMixture(2, random_state=0).fit(X)
    b = GaussianMixture(
        2, tol=1e-3, reg_covar=1e-6, init_params="kmeans", max_iter=100, random_state=0
    ).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.n_iter_ == b.n_iter_


def test_mclust_name_fit_uses_relative_rule(mclust):
    """A VVV fit by default stops at mclust's rule, where 'full' stops earlier.

    The relative change of the total log-likelihood at the last iteration is at
    most 1e-5 and was above it the iteration before (mclust's ``me`` stops
    there, too: the same number of iterations as ``me(X, "VVV", z)`` from
    the same start).
    """
    X = mclust.dataset("faithful")
    gm = GaussianMixture(3, covariance_type="VVV").fit(X)
    total = np.asarray(gm.lower_bounds_) * len(X)
    rel = np.abs(np.diff(total)) / (1 + np.abs(total[1:]))
    assert gm.converged_
    assert rel[-1] <= 1e-5 < rel[-2]
    # The start is mclust's hierarchical partition, so the fit is mclust's.
    got = mclust.run_r(
        'm <- Mclust(X, G = 3, modelNames = "VVV", verbose = FALSE)\n'
        "emit(list(loglik = m$loglik))",
        X=X,
    )
    assert gm.lower_bound_ * len(X) == pytest.approx(got["loglik"], rel=1e-6)


def test_degenerate_fit_stops_under_mclust_control(mclust):
    """A component that collapses again after every repair does not run for ever.

    banknote, VVE with 8 components: without reg_covar one component collapses
    at iteration 60 and is floored every other iteration after it; the
    log-likelihood swings by 3% and never meets the tolerance. EM stops within
    ``STUCK_WINDOW`` iterations of the repairs starting, not converged, with the
    warning (mclust stops at the first singularity and reports NA).
    """
    X = mclust.dataset("banknote")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(8, covariance_type="VVE").fit(X)
    kinds = {w.category for w in caught}
    assert DegenerateComponentWarning in kinds
    assert not gm.converged_
    assert gm.n_iter_ < 200 + STUCK_WINDOW
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, table = select(X, [8], ["VVE"])
    assert table["error"].iloc[0].startswith("degenerate")
    assert math.isnan(table["bic"].iloc[0])
