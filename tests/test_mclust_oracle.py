"""The R oracle itself: published mclust values on faithful (mclust's vignette)."""

import pytest


@pytest.mark.mclust
def test_faithful_reference_values(mclust):
    """Mclust(faithful) selects EEE, 3 components, loglik -1126.326, BIC -2314.316."""
    got = mclust.run_r(
        "m <- Mclust(X)\n"
        "emit(list(model = m$modelName, G = m$G, loglik = m$loglik, bic = m$bic))",
        X=mclust.dataset("faithful"),
    )
    assert got["model"] == "EEE"
    assert got["G"] == 3
    assert got["loglik"] == pytest.approx(-1126.326, abs=5e-4)
    assert got["bic"] == pytest.approx(-2314.316, abs=5e-4)
