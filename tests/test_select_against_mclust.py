"""gaussmix.select over K = 1..9 and mclust's 14 models against R's mclustBIC.

Both start every fit from mclust's hierarchical partition (``init_params="hc"``)
and run EM to convergence. mclust's BIC is ``2 loglik - df log n`` (higher is
better): gaussmix's is the same number with the opposite sign.
"""

import math
import warnings

import numpy as np
import pytest

from gaussmix import select
from gaussmix.selection import MCLUST_MODELS

pytestmark = pytest.mark.mclust

#: Relative agreement of BIC entries where both reach the same optimum.
BIC_RTOL = 1e-4


def _mclust_table(mclust, X, control=""):
    got = mclust.run_r(
        f"b <- mclustBIC(X, G = 1:9, verbose = FALSE{control})\n"
        "s <- summary(b, X)\n"
        "emit(list(bic = unclass(b)[, ], models = colnames(b), "
        "best_model = s$modelName, best_G = s$G, best_bic = s$bic))",
        X=X,
    )
    table = np.array(
        [[math.nan if v is None else v for v in row] for row in got["bic"]]
    )
    return table, got["models"], got


@pytest.fixture(
    scope="module",
    params=[
        "faithful",
        "iris",
        # Two more data sets of mclust, kept out of the timed suite (-m slow).
        pytest.param("diabetes", marks=pytest.mark.slow),
        pytest.param("banknote", marks=pytest.mark.slow),
    ],
)
def both(request, mclust):
    X = mclust.dataset(request.param)
    _r_table, r_models, r_best = _mclust_table(mclust, X)
    # The same table with EM run to convergence (mclust's default tol stops
    # EM at a relative change of 1e-5, up to 1e-4 of BIC short of the optimum).
    r_tight, _, _ = _mclust_table(
        mclust, X, ", control = emControl(tol = c(1e-12, 1e-10))"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _best, table = select(
            X,
            range(1, 10),
            "all",
            init_params="hc",
            reg_covar=0.0,
            tol=1e-9,
            max_iter=5000,
            random_state=0,
        )
        # The same grid stopped as mclust's default stops (relative change of the
        # log-likelihood 1e-5, i.e. about 1e-5 |mean loglik| per sample), for the
        # comparison of the selected model with mclust's defaults.
        mean_ll = abs(table["log_likelihood"].to_numpy()[0]) / len(X)
        best_default, _ = select(
            X,
            range(1, 10),
            "all",
            init_params="hc",
            reg_covar=0.0,
            tol=1e-5 * (1 / len(X) + mean_ll),
            max_iter=5000,
            random_state=0,
        )
    return request.param, X, r_tight, r_models, r_best, best_default, table


def test_same_best_model_and_k(both):
    """The selected model, K and BIC are those of mclust's defaults (``Mclust(X)``).

    iris: mclust selects VEV with 2 components; gaussmix selects EVV with 5, a
    near-singular solution (smallest/largest eigenvalue 6e-6 in one component)
    that mclust reports as NA. The start differs: iris has pairs of rows that
    differ by the same vector, so two merge costs of the hierarchical tree tie
    exactly and the rounding of each program's SVD orders them
    (tests/core/test_hc.py); from mclust's own partition the fits agree.
    banknote: both select VVE with 3 components, but mclust's VVE update is not
    the maximum-likelihood one (docs/mclust-models.md); gaussmix's BIC is higher
    (better) by 7e-4 relative.
    """
    name, X, _, _, r_best, best, _ = both
    if name == "iris":
        pytest.xfail("tie in iris's hierarchical tree (see docstring)")
    assert best.covariance_type == r_best["best_model"], name
    assert best.n_components == r_best["best_G"], name
    rtol = 1e-3 if best.covariance_type == "VVE" else BIC_RTOL
    assert -best.bic(X) == pytest.approx(r_best["best_bic"], rel=rtol)
    assert -best.bic(X) >= r_best["best_bic"] - 1e-6 * abs(r_best["best_bic"])


def test_whole_bic_table(both):
    """Every entry where mclust has a number agrees within 1e-4 (or is explained).

    mclust reports NA where a covariance became singular; gaussmix then marks the
    fit "degenerate" (NaN criteria). Entries where one side is NA and the other is
    not, or where the two reach different local optima, are counted and must be
    few; each is listed in the failure message.
    """
    name, _, r_table, r_models, _, _, table = both
    assert list(r_models) == list(MCLUST_MODELS)
    ours = np.full((9, 14), math.nan)
    for rec in table.to_dict("records"):
        ours[
            rec["n_components"] - 1, MCLUST_MODELS.index(rec["covariance_type"])
        ] = -rec["bic"]
    both_finite = np.isfinite(ours) & np.isfinite(r_table)
    close = np.zeros_like(both_finite)
    close[both_finite] = np.isclose(
        ours[both_finite], r_table[both_finite], rtol=BIC_RTOL, atol=0
    )
    # mclust's VVE is not the maximum-likelihood update (docs/mclust-models.md):
    # its column is left out of the count.
    vve = MCLUST_MODELS.index("VVE")
    both_finite[:, vve] = False
    differ = [
        (MCLUST_MODELS[j], i + 1, ours[i, j], r_table[i, j])
        for i in range(9)
        for j in range(14)
        if j != vve
        and (
            (both_finite[i, j] and not close[i, j])
            or (np.isfinite(ours[i, j]) != np.isfinite(r_table[i, j]))
        )
    ]
    # Most of the table agrees; the rest are other local optima (iris: another
    # start, see test_same_best_model_and_k) or NA on one side.
    share = 0.75 if name == "iris" else 0.9
    assert close[both_finite].sum() >= share * both_finite.sum(), (name, differ)
