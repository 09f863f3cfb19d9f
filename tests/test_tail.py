"""``GaussianMixture.tail_probability``: exact paths against Monte Carlo and theory."""

import numpy as np
import pytest
from scipy import stats

from gaussmix import GaussianMixture


@pytest.fixture(scope="module")
def three_1d():
    """The three-component 1-D data of the gallery, fitted."""
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.normal(-0.5, 0.2, 2000),
            rng.normal(-0.1, 0.07, 5000),
            rng.normal(0.2, 0.13, 10000),
        ]
    )[:, None]
    return GaussianMixture(3, random_state=0).fit(x)


def test_one_feature_exact_agrees_with_monte_carlo(three_1d):
    """Root-finding answer within 4 Monte Carlo standard errors (1e6 draws)."""
    pts = np.array([[-1.2], [-0.5], [-0.1], [0.0], [0.5], [0.9]])
    exact = three_1d.tail_probability(pts)
    mc, std = three_1d.tail_probability(
        pts, method="monte-carlo", n_samples=1_000_000, return_std=True
    )
    assert np.all(np.abs(exact - mc) <= 4 * std + 1e-6)


def test_one_component_is_chi_square_tail():
    """With one component the answer is chi2.sf of the squared Mahalanobis distance."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 3)) @ np.array([[2, 0, 0], [0.5, 1, 0], [0, 0.3, 0.5]])
    gm = GaussianMixture(1).fit(X)
    diff = X[:10] - gm.means_[0]
    d2 = np.einsum("ni,ij,nj->n", diff, gm.precisions_[0], diff)
    np.testing.assert_allclose(
        gm.tail_probability(X[:10]), stats.chi2.sf(d2, 3), rtol=1e-9, atol=1e-12
    )
    _q, std = gm.tail_probability(X[:10], return_std=True)
    assert np.all(std == 0.0)


def test_uniform_on_draws_from_the_model(three_1d):
    """Draws from the model have uniform tail probabilities (KS test, p > 0.001)."""
    draws, _ = three_1d.sample(3000, random_state=5)
    q = three_1d.tail_probability(draws)
    assert stats.kstest(q, "uniform").pvalue > 1e-3


def test_monte_carlo_multivariate_uniform_and_deterministic():
    """Monte Carlo path: uniform on model draws, same answer for the same seed."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(5, 0.5, (300, 2))])
    gm = GaussianMixture(2, random_state=0).fit(X)
    draws, _ = gm.sample(2000, random_state=9)
    q, std = gm.tail_probability(draws, n_samples=20_000, return_std=True)
    assert stats.kstest(q, "uniform").pvalue > 1e-3
    assert np.all(std > 0)
    assert np.all(std <= 0.5 / np.sqrt(20_000) + 1e-12)
    np.testing.assert_array_equal(q, gm.tail_probability(draws, n_samples=20_000))
    far = gm.tail_probability(np.array([[50.0, 50.0]]))
    assert far[0] == 0.0


def test_bad_options_are_explained(three_1d):
    """Unknown method, tiny n_samples and impossible exact requests raise ValueError."""
    with pytest.raises(ValueError, match="'method'"):
        three_1d.tail_probability([[0.0]], method="magic")
    with pytest.raises(ValueError, match="n_samples"):
        three_1d.tail_probability([[0.0]], method="monte-carlo", n_samples=10)
    gm = GaussianMixture(2, random_state=0).fit(
        np.random.default_rng(0).normal(size=(50, 2))
    )
    with pytest.raises(ValueError, match="monte-carlo"):
        gm.tail_probability([[0.0, 0.0]], method="exact")


def test_point_near_a_mode_is_not_rounded_to_one(three_1d):
    """Just below a peak the denser region is tiny but not empty (regression)."""
    modes = np.linspace(-0.2, 0.0, 2001)[:, None]
    peak = modes[np.argmax(three_1d.score_samples(modes))]
    near = peak + 0.002
    exact = three_1d.tail_probability(near[None, :])[0]
    mc, std = three_1d.tail_probability(
        near[None, :], method="monte-carlo", n_samples=400_000, return_std=True
    )
    assert exact < 1.0
    assert abs(exact - mc[0]) <= 4 * std[0] + 1e-6
