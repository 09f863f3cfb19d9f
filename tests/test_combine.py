"""gaussmix.combine: merging mixture components (mclust's ``clustCombi``).

Against R's mclust (stored references, ``@pytest.mark.mclust``):

* the same model fitted by ``Mclust`` and by ``GaussianMixture(init_params="hc")``
  on faithful, iris, diabetes and banknote, both run to convergence (EM's
  relative tolerance 1e-15: with mclust's default 1e-5 the entropies of the two
  fits differ by up to 1e-3, as the parameters do); then ``clustCombi``'s
  entropies, combining matrices, classifications, merges and elbow
  (``clustCombiOptim``) against ``combine_components``;
* the merging alone, on mclust's own responsibilities ``z`` of those fits, and
  on small hand-made responsibilities with exact ties, where mclust's choice of
  the pair is reproduced.

And unit tests of the method's properties, its errors and its plot.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import xlogy
from sklearn.exceptions import NotFittedError

from gaussmix import GaussianMixture
from gaussmix.combine import (
    combine_components,
    combine_responsibilities,
)

ROOT = Path(__file__).resolve().parents[1]

#: Relative agreement of the two fits' BIC (observed: below 1e-13).
BIC_RTOL = 1e-6
#: Relative agreement of the entropies of the two fits (observed: up to 4e-7),
#: with an absolute floor for the entropies that are 0 up to rounding (K = 1,
#: and K = 2 on iris, where setosa stands apart: about 1e-14).
ENTROPY_RTOL = 1e-6
ENTROPY_ATOL = 1e-10
#: Agreement of entropies computed from the same responsibilities (R sums in
#: long double, NumPy pairwise).
SAME_Z_RTOL = 1e-10
SAME_Z_ATOL = 1e-12

#: (data set, mclust model, G): faithful's and diabetes's Mclust choice, and
#: more components than BIC's choice elsewhere, so that there is more to merge.
CASES = [
    ("faithful", "EEE", 3),
    ("faithful", "VVV", 4),
    ("iris", "VVV", 4),
    ("iris", "EEV", 4),
    ("diabetes", "VVV", 3),
    ("banknote", "VVV", 4),
    ("banknote", "EEE", 5),
]

#: What R returns about a clustCombi object ``cc`` with ``G`` components: the
#: entropy of each K, the combining matrices from components to K clusters (the
#: products of combiM), the classifications, the pair merged at each step (from
#: the row of combiM[[K - 1]] that sums to 2) and clustCombiOptim's K.
_EMIT_COMBI = """
P <- diag(G); M <- list(); M[[G]] <- P
for (K in (G - 1):1) { P <- cc$combiM[[K]] %*% P; M[[K]] <- P }
names(M) <- paste0("K", seq_len(G))  # a JSON object: matrices of unequal shapes
pairs <- lapply(G:2, function(K) {
  S <- cc$combiM[[K - 1]]; l1 <- which(rowSums(S) == 2)
  c(l1, which(S[l1, ] == 1)[2])
})
emit(list(entropy = sapply(cc$combiz, function(z) -sum(mclust:::xlog(z))),
          combining = M, classification = cc$classification, merges = pairs,
          elbow = clustCombiOptim(cc)$numClusters.combi, extra = extra))
"""

_FIT_BODY = (
    'm <- Mclust(X, G = @G@, modelNames = "@MODEL@", '
    "control = emControl(tol = c(1e-15, 1e-12)), verbose = FALSE)\n"
    "cc <- clustCombi(m)\nG <- m$G\n"
    "extra <- list(bic = m$bic, z = m$z)\n" + _EMIT_COMBI
)

_Z_BODY = (
    "G <- ncol(Z)\n"
    "cc <- mclust:::combi(matrix(0, nrow(Z), 1), list(G = G, z = Z))\n"
    "extra <- NULL\n" + _EMIT_COMBI
)


def _fit(X, model, g):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(
            g, covariance_type=model, init_params="hc", tol=1e-15, max_iter=100_000
        ).fit(X)


def _entropies(result):
    return np.array([result.entropy[k] for k in range(1, result.n_components + 1)])


def _assert_same_hierarchy(result, r, *, rtol, atol):
    """Entropies within tolerance; matrices, labels, merges and elbow exactly."""
    g = result.n_components
    np.testing.assert_allclose(
        _entropies(result), np.asarray(r["entropy"], float), rtol=rtol, atol=atol
    )
    for k in range(1, g + 1):
        expected = np.asarray(r["combining"][f"K{k}"], dtype=int).reshape(k, g)
        np.testing.assert_array_equal(result.combining_matrices[k], expected)
        labels = np.atleast_1d(np.asarray(r["classification"][k - 1], dtype=int))
        np.testing.assert_array_equal(result.labels[k], labels - 1)
    merges = [tuple(int(v) - 1 for v in pair) for pair in r["merges"]]
    assert list(result.merges) == merges
    assert result.elbow() == r["elbow"]


# ------------------------------------------------------------ against mclust
@pytest.fixture(scope="module", params=CASES, ids=lambda c: "-".join(map(str, c)))
def fitted(request, mclust):
    name, model, g = request.param
    X = mclust.dataset(name)
    r = mclust.run_r(_FIT_BODY.replace("@G@", str(g)).replace("@MODEL@", model), X=X)
    return X, _fit(X, model, g), r


@pytest.mark.mclust
def test_fits_agree(fitted):
    """The comparison is meaningful only if both programs fitted the same model."""
    X, gm, r = fitted
    assert -gm.bic(X) == pytest.approx(r["extra"]["bic"], rel=BIC_RTOL)


@pytest.mark.mclust
def test_matches_clustcombi(fitted):
    X, gm, r = fitted
    _assert_same_hierarchy(
        combine_components(gm, X), r, rtol=ENTROPY_RTOL, atol=ENTROPY_ATOL
    )


@pytest.mark.mclust
def test_matches_clustcombi_on_mclust_responsibilities(fitted):
    """The merging alone: from mclust's own ``z``, every number agrees to rounding."""
    _, _, r = fitted
    z = np.asarray(r["extra"]["z"], dtype=float)
    _assert_same_hierarchy(
        combine_responsibilities(z), r, rtol=SAME_Z_RTOL, atol=SAME_Z_ATOL
    )


def _random_resp(n, g, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(g, 0.3), size=n)


#: Hand-made responsibilities. "pair tie": the pairs (1, 2) and (3, 4) have the
#: same largest gain, and mclust's which(...)[1:2] takes the rows of the two
#: maxima, so it merges 1 and 3. "row tie": (1, 2) and (1, 3) tie, giving rows
#: 1 and 1, so mclust merges 1 and 2. "hard": 0/1 responsibilities, every gain
#: is exactly 0 and mclust merges 1 and 2 at every step.
Z_CASES = {
    "pair tie": np.array([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]),
    "row tie": np.array(
        [[0.5, 0.5, 0, 0, 0], [0.5, 0, 0.5, 0, 0], [0, 0, 0, 0.3, 0.7]]
    ),
    "hard": np.eye(4)[[0, 1, 2, 3, 1, 2]],
    "random": _random_resp(60, 6, seed=5),
}


@pytest.mark.mclust
@pytest.mark.parametrize("case", list(Z_CASES))
def test_ties_are_broken_as_mclust_does(mclust, case):
    Z = Z_CASES[case]
    r = mclust.run_r(_Z_BODY, Z=Z)
    result = combine_responsibilities(Z)
    _assert_same_hierarchy(result, r, rtol=SAME_Z_RTOL, atol=SAME_Z_ATOL)
    if case == "pair tie":  # mclust's rule, not the best pair: documented
        assert result.merges[0] == (0, 2)


# ------------------------------------------------------------ properties
@pytest.fixture(scope="module")
def moons():
    from sklearn.datasets import make_moons

    X, _ = make_moons(300, noise=0.06, random_state=1)
    gm = GaussianMixture(6, covariance_type="VVV", random_state=0).fit(X)
    return X, gm, combine_components(gm, X)


def test_entropy_decreases_along_merges(moons):
    _, _, result = moons
    entropy = _entropies(result)
    assert list(result.entropy) == [1, 2, 3, 4, 5, 6]
    assert np.all(np.diff(entropy) >= -1e-12)  # Ent(K - 1) <= Ent(K)
    assert entropy[-1] > 1.0  # overlapping components: something to merge
    assert entropy[0] == pytest.approx(0.0, abs=1e-9)


def test_each_merge_is_the_largest_entropy_decrease():
    """Brute force: every pair of the K-cluster solution, merged, is no better."""
    resp = _random_resp(200, 6, seed=3)
    result = combine_responsibilities(resp)
    for k in range(6, 1, -1):
        tau = result.responsibilities(k)
        candidates = []
        for a in range(k):
            for b in range(a + 1, k):
                merged = np.delete(tau, b, axis=1)
                merged[:, a] += tau[:, b]
                candidates.append(-np.sum(xlogy(merged, merged)))
        assert result.entropy[k - 1] == pytest.approx(min(candidates), rel=1e-12)


def test_all_components_is_the_model_predict(moons):
    X, gm, result = moons
    np.testing.assert_array_equal(result.labels[6], gm.predict(X))
    np.testing.assert_array_equal(result.responsibilities(6), gm.predict_proba(X))
    np.testing.assert_array_equal(result.combining_matrices[6], np.eye(6, dtype=int))


def test_one_cluster_is_one_label(moons):
    X, _, result = moons
    np.testing.assert_array_equal(result.labels[1], np.zeros(len(X), dtype=int))
    np.testing.assert_array_equal(result.combining_matrices[1], np.ones((1, 6)))
    np.testing.assert_allclose(result.responsibilities(1), 1.0, rtol=0, atol=1e-12)
    assert result.clusters(1) == (tuple(range(6)),)


def test_responsibilities_labels_and_matrices_agree(moons):
    _, _, result = moons
    resp = result.component_responsibilities
    for k in range(1, 7):
        tau = result.responsibilities(k)
        matrix = result.combining_matrices[k]
        assert tau.shape == (resp.shape[0], k)
        np.testing.assert_allclose(tau, resp @ matrix.T, rtol=0, atol=1e-14)
        np.testing.assert_allclose(tau.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(result.labels[k], tau.argmax(axis=1))
        assert result.entropy[k] == pytest.approx(
            -np.sum(tau * np.log(np.where(tau > 0, tau, 1.0))), rel=1e-12, abs=1e-12
        )
        # Every component is in exactly one cluster, and every cluster has one.
        np.testing.assert_array_equal(matrix.sum(axis=0), np.ones(6))
        assert np.all(matrix.sum(axis=1) >= 1)
        assert sorted(j for c in result.clusters(k) for j in c) == list(range(6))


def test_merges_follow_mclust_numbering(moons):
    """Pair (a, b): cluster b joins a, the clusters after b move down by one."""
    _, _, result = moons
    for step, (a, b) in enumerate(result.merges):
        k = 6 - step
        assert 0 <= a < b < k
        before = result.combining_matrices[k]
        after = result.combining_matrices[k - 1]
        np.testing.assert_array_equal(after[a], before[a] + before[b])
        np.testing.assert_array_equal(
            np.delete(after, a, axis=0), np.delete(before, [a, b], axis=0)
        )


@pytest.mark.parametrize(
    "covariance_type", ["full", "tied", "diag", "spherical", "EEV"]
)
def test_any_covariance_type(covariance_type):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(150, centers=3, cluster_std=1.5, random_state=2)
    gm = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    result = combine_components(gm, X)
    np.testing.assert_array_equal(result.labels[4], gm.predict(X))
    assert len(result.merges) == 3


def test_one_component_model():
    X = np.random.default_rng(0).normal(size=(50, 2))
    result = combine_components(GaussianMixture(1).fit(X), X)
    assert result.merges == ()
    assert dict(result.entropy) == {1: 0.0}
    assert result.elbow() == 1
    np.testing.assert_array_equal(result.labels[1], np.zeros(50, dtype=int))


def test_elbow_of_a_known_bend():
    """Entropy flat up to 3 clusters and steep after: the two lines meet at 3."""
    g = 7
    resp = _random_resp(10, g, seed=0)
    result = combine_responsibilities(resp)
    bent = dataclasses.replace(
        result, entropy={k: 0.01 * k if k <= 3 else 10.0 * (k - 3) for k in range(1, 8)}
    )
    assert bent.elbow() == 3
    two = combine_responsibilities(_random_resp(10, 2, seed=0))
    assert two.elbow() == 2  # mclust: with two components, K = G


def test_result_is_frozen_and_read_only(moons):
    _, _, result = moons
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.merges = ()
    with pytest.raises(TypeError):
        result.entropy[1] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        result.labels[3][0] = 1
    with pytest.raises(ValueError, match="read-only"):
        result.component_responsibilities[0, 0] = 1.0
    assert "n_components=6" in repr(result)


# ------------------------------------------------------------ errors
def test_unfitted_model_is_refused():
    with pytest.raises(NotFittedError, match=r"not fitted yet.*combine_components"):
        combine_components(GaussianMixture(3), np.zeros((10, 2)))


def test_wrong_width_is_refused(moons):
    X, gm, _ = moons
    with pytest.raises(
        ValueError, match="X has 3 columns but the model was fitted on 2"
    ):
        combine_components(gm, np.hstack([X, X[:, :1]]))
    with pytest.raises(ValueError, match="X must be 2-D"):
        combine_components(gm, X[:, 0])


def test_non_mixture_is_refused():
    from sklearn.cluster import KMeans

    with pytest.raises(TypeError, match=r"needs a fitted gaussmix\.GaussianMixture"):
        combine_components(KMeans(2), np.zeros((10, 2)))


def test_noise_component_is_refused():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(80, 2)), rng.uniform(-6, 6, size=(10, 2))])
    gm = GaussianMixture(2, covariance_type="VVV", noise=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="noise component"):
        combine_components(gm, X)


def test_bad_number_of_clusters_is_refused(moons):
    _, _, result = moons
    for k in (0, 7):
        with pytest.raises(ValueError, match="out of range: the hierarchy has 1 to 6"):
            result.responsibilities(k)
    with pytest.raises(TypeError, match="an integer between 1 and 6"):
        result.clusters(2.0)


@pytest.mark.parametrize(
    ("resp", "match"),
    [
        (np.ones(4), "2-D array"),
        (np.zeros((0, 3)), "at least one row"),
        (np.array([[0.5, np.nan]]), "finite non-negative"),
        (np.array([[1.5, -0.5]]), "finite non-negative"),
        (np.array([[0.5, 0.4]]), "sum to 1"),
    ],
)
def test_bad_responsibilities_are_refused(resp, match):
    with pytest.raises(ValueError, match=match):
        combine_responsibilities(resp)


# ------------------------------------------------------------ the plot
def test_plot_entropy(moons):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, result = moons
    ax = result.plot_entropy()
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), _entropies(result))
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, 7))
    elbow = result.elbow()
    assert any(
        f"elbow: {elbow} clusters" in t.get_text() for t in ax.get_legend().texts
    )
    assert ax.get_xlabel() == "Number of clusters"
    _, (left, right) = plt.subplots(1, 2)
    assert result.plot_entropy(ax=left, show_elbow=False) is left
    assert len(left.get_lines()) == 1
    result.plot_entropy(ax=right, difference=True)
    heights = [p.get_height() for p in right.patches]
    np.testing.assert_allclose(heights, np.diff(_entropies(result)))
    plt.close("all")


def test_matplotlib_is_imported_only_to_plot():
    code = (
        "import sys, numpy as np\n"
        "from gaussmix.combine import combine_responsibilities\n"
        "combine_responsibilities(np.full((4, 2), 0.5))\n"
        "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------ the gallery example
def test_gallery_example_15_combine_components(tmp_path):
    import contextlib
    import io

    path = ROOT / "examples" / "15_combine_components.py"
    spec = importlib.util.spec_from_file_location("gallery_11_combine", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r = module.main(["--small", "--out", str(tmp_path)])
    text = buf.getvalue()
    # BIC strings the moons with many Gaussians; merging finds the 3 clusters.
    assert r["n_components"] >= 6
    assert r["ari_components"] < 0.7
    assert r["elbow"] == 3
    assert r["ari_elbow"] > 0.95
    assert len(r["merges"]) == r["n_components"] - 1
    assert "elbow of the entropy plot: 3 clusters" in text
    for figure in r["figures"]:
        data = Path(figure).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000
        assert f"figure written to {figure}" in text
