"""Model-based hierarchical clustering (``gaussmix.core.hc``) and ``init_params="hc"``.

The ``mclust``-marked tests compare with R's mclust 6 (``hc``, ``hclass``,
``qclass``, ``me``, ``Mclust``); the others check properties that hold without R
(Ward's method for ``"EII"``, the transformations, the tree's bookkeeping).

Ties. Exact ties between merge costs are broken the way mclust breaks them
(the pair that comes last in its packed pair order wins), which only helps
when both programs compute the tied costs to the same bits. On its own
transformed data (``attr(hc, "data")``) gaussmix reproduces mclust's whole merge
sequence. With the ``"SVD"`` transformation computed by each program, data on
a grid can have costs that are equal in exact arithmetic and differ only by
rounding noise: iris (one decimal) has pairs of points that differ by the
same vector, e.g. rows 17/40 and 127/138 (0-based), so their costs are equal
in decimal arithmetic and the order of those two merges depends on the last
bits of the binary data and of the two SVDs. The partitions with 1 to 9
clusters are the same all the same.
"""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.core.hc import (
    HC_TRANSFORMS,
    SUBSET_SIZE,
    HCTree,
    hc,
    hc_transform,
    hclass,
    mclust_initial_labels,
    qclass,
)
from gaussmix.core.init import INIT_METHODS, initial_resp

#: Relative log-likelihood tolerance of a gaussmix fit against mclust's ``me``
#: from the same partition (both run to a relative change of 1e-12).
LOGLIK_RTOL = 1e-6
#: Partitions compared: mclust's default range of components.
GROUPS = range(1, 10)
R_DATASETS = ("faithful", "iris", "diabetes", "banknote", "wreath")
DATASETS = (*R_DATASETS, "generated")
MODELS = (("VVV", "SVD"), ("EII", "VARS"))


def _generated():
    """Three elongated 3-D clusters, 600 rows (below the subset size)."""
    rng = np.random.default_rng(20240611)
    parts = [
        rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + 4.0 * rng.normal(size=3)
        for _ in range(3)
    ]
    return np.vstack(parts)


_R_TREES = """
sets <- list()
for (nm in NAMES) {
  data(list = nm, package = c("datasets", "mclust"))
  d <- get(nm)
  if (!is.matrix(d)) d <- as.matrix(d[, sapply(d, is.numeric), drop = FALSE])
  dimnames(d) <- NULL
  sets[[nm]] <- d
}
sets[["generated"]] <- GEN
out <- list()
for (nm in names(sets)) {
  X <- sets[[nm]]
  hv <- hc(X, modelName = "VVV", use = "SVD")
  he <- hc(X, modelName = "EII", use = "VARS")
  out[[nm]] <- list(
    X = X, Z = attr(hv, "data"),
    VVV = hclass(hv, 1:9), EII = hclass(he, 1:9),
    VVV_pairs = t(unclass(hv)[1:2, ]), EII_pairs = t(unclass(he)[1:2, ])
  )
}
emit(out)
"""


@pytest.fixture(scope="module")
def r_trees(mclust):
    """mclust's trees and cuts for every data set, from one R session."""
    names = ", ".join(f'"{n}"' for n in R_DATASETS)
    got = mclust.run_r(_R_TREES.replace("NAMES", f"c({names})"), GEN=_generated())
    out = {}
    for name, entry in got.items():
        out[name] = {
            "X": np.asarray(entry["X"], dtype=np.float64),
            "Z": np.asarray(entry["Z"], dtype=np.float64),
            "VVV": np.asarray(entry["VVV"], dtype=np.intp) - 1,
            "EII": np.asarray(entry["EII"], dtype=np.intp) - 1,
            "VVV_pairs": np.asarray(entry["VVV_pairs"], dtype=np.intp) - 1,
            "EII_pairs": np.asarray(entry["EII_pairs"], dtype=np.intp) - 1,
        }
    return out


# ----------------------------------------------------------------- against mclust


@pytest.mark.mclust
@pytest.mark.parametrize(("model", "use"), MODELS)
@pytest.mark.parametrize("name", DATASETS)
def test_partitions_equal_mclust(r_trees, name, model, use):
    """hclass(hc(X, model, use), G), G = 1..9: the same labels (first-appearance order)."""
    ref = r_trees[name]
    tree = hc(ref["X"], model, use)
    for g in GROUPS:
        np.testing.assert_array_equal(
            hclass(tree, g), ref[model][:, g - 1], err_msg=f"{name} G={g}"
        )


@pytest.mark.mclust
@pytest.mark.parametrize(("model", "use"), MODELS)
@pytest.mark.parametrize("name", DATASETS)
def test_merge_sequence_equals_mclust_on_its_data(r_trees, name, model, use):
    """Every merge, in order, on the data mclust's tree was built on."""
    ref = r_trees[name]
    Z = ref["Z"] if use == "SVD" else ref["X"]
    np.testing.assert_array_equal(hc(Z, model, "VARS").merges, ref[f"{model}_pairs"])


@pytest.mark.mclust
@pytest.mark.parametrize("name", [n for n in DATASETS if n != "iris"])
def test_merge_sequence_equals_mclust_with_own_svd(r_trees, name):
    """With gaussmix's own SVD transformation, where no costs tie exactly."""
    ref = r_trees[name]
    np.testing.assert_array_equal(hc(ref["X"]).merges, ref["VVV_pairs"])


@pytest.mark.mclust
def test_iris_ties_only_reorder_tied_merges(r_trees):
    """Iris: tied costs (equal difference vectors) may swap; the merges are the same.

    Rows 17/40 and 127/138 differ by the same vector, so their merge costs are
    equal in exact arithmetic and rounding of the SVD decides which is first.
    """
    ref = r_trees["iris"]
    X = ref["X"]
    # The same difference (0.1, 0, 0.1, 0) in the decimal data; in binary, and
    # after the SVD, the two costs differ by rounding only.
    np.testing.assert_allclose(X[17] - X[40], X[127] - X[138], rtol=0, atol=1e-12)
    ours = hc(X).merges
    first = 11  # the first merges are cheap pairs whose order only ties change
    assert {tuple(m) for m in ours[:first]} == {
        tuple(m) for m in ref["VVV_pairs"][:first]
    }


@pytest.mark.mclust
def test_transform_matches_mclust_up_to_column_signs(r_trees):
    """hc's "SVD" data: the same columns as mclust's up to sign (rounding 1e-12)."""
    for name in DATASETS:
        ref = r_trees[name]
        Z = hc_transform(ref["X"], "SVD")
        signs = np.sign(np.sum(Z * ref["Z"], axis=0))
        np.testing.assert_allclose(Z * signs, ref["Z"], rtol=0, atol=1e-12)


@pytest.mark.mclust
def test_qclass_equals_mclust(mclust):
    """Mclust's start for one feature: quantile classes, including tied values."""
    rng = np.random.default_rng(3)
    cases = {"a": rng.gamma(2.0, size=272), "b": np.round(rng.normal(size=200), 1)}
    got = mclust.run_r(
        "q <- function(x) sapply(1:6, function(k) mclust:::qclass(x, k))\n"
        "emit(list(a = q(a), b = q(b)))",
        **cases,
    )
    for name, x in cases.items():
        ref = np.asarray(got[name], dtype=np.intp) - 1
        for k in range(1, 7):
            np.testing.assert_array_equal(qclass(x, k), ref[:, k - 1])


@pytest.fixture(scope="module")
def r_me_fits(mclust):
    """mclust's ``me(VVV)`` log-likelihood from its hc start, K = 2..5."""
    out = {}
    for name in ("faithful", "iris"):
        X = mclust.dataset(name)
        got = mclust.run_r(
            "h <- hc(X, modelName = 'VVV', use = 'SVD')\n"
            "ctl <- emControl(tol = c(1e-12, sqrt(.Machine$double.eps)),\n"
            "  itmax = c(1e5, 1e5))\n"
            "ll <- sapply(2:5, function(K) me(modelName = 'VVV', data = X,\n"
            "  z = unmap(hclass(h, K)), control = ctl)$loglik)\n"
            "emit(list(ll = ll))",
            X=X,
        )
        out[name] = (X, np.asarray(got["ll"], dtype=np.float64))
    return out


@pytest.mark.mclust
@pytest.mark.parametrize("n_components", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["faithful", "iris"])
def test_fit_from_hc_reaches_mclust_loglik(r_me_fits, name, n_components):
    """GaussianMixture(init_params="hc") ends where mclust's me ends from hclass."""
    X, ref = r_me_fits[name]
    gm = GaussianMixture(
        n_components,
        covariance_type="full",
        init_params="hc",
        reg_covar=0.0,
        tol=1e-12,
        max_iter=100_000,
    ).fit(X)
    loglik = gm.score(X) * X.shape[0]
    assert loglik == pytest.approx(ref[n_components - 2], rel=LOGLIK_RTOL)


@pytest.mark.mclust
def test_subset_start_matches_mclust_with_the_same_subset(mclust):
    """Above SUBSET_SIZE rows: mclust given gaussmix's subset starts and ends alike.

    The subset is drawn with gaussmix's generator (mclust's ``sample`` cannot
    be reproduced) and handed to the code of ``mclustBIC``'s subset branch:
    ``hc`` and ``hclass`` on the subset, ``mstep`` on the subset, ``estep`` on
    all rows, then ``me``.
    """
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    X = np.vstack([rng.normal(size=(800, 2)) + c for c in centres])
    n_components = 3
    subset = np.random.RandomState(0).choice(X.shape[0], SUBSET_SIZE, replace=False)
    labels = mclust_initial_labels(X, n_components, np.random.RandomState(0))
    assert set(np.flatnonzero(labels >= 0)) == set(subset)
    got = mclust.run_r(
        "idx <- as.integer(idx) + 1L\n"
        "cl <- hclass(hc(X[idx, ], modelName = 'VVV', use = 'SVD'), 3)\n"
        "ctl <- emControl(tol = c(1e-12, sqrt(.Machine$double.eps)))\n"
        "ms <- mstep(data = X[idx, ], modelName = 'VVV', z = unmap(cl))\n"
        "es <- do.call('estep', c(list(data = X), ms))\n"
        "m <- me(data = X, modelName = 'VVV', z = es$z, control = ctl)\n"
        "emit(list(cl = as.vector(cl), ll = m$loglik))",
        X=X,
        idx=subset.astype(np.float64),
    )
    np.testing.assert_array_equal(labels[subset], np.asarray(got["cl"]) - 1)
    gm = GaussianMixture(
        n_components,
        covariance_type="full",
        init_params="hc",
        reg_covar=0.0,
        tol=1e-12,
        max_iter=100_000,
        random_state=0,
    ).fit(X)
    assert gm.score(X) * X.shape[0] == pytest.approx(got["ll"], rel=LOGLIK_RTOL)


# ------------------------------------------------------------------ without R


@pytest.fixture
def blobs(rng):
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [-3.0, 6.0, 2.0]])
    return np.vstack([rng.normal(size=(70, 3)) * [1.0, 0.5, 2.0] + c for c in centres])


def test_eii_is_wards_method(blobs):
    """ "EII" merges by the increase of the within sum of squares: scipy's Ward."""
    tree = hc(blobs, "EII", "VARS")
    ward = linkage(blobs, method="ward")
    for g in range(2, 10):
        ref = fcluster(ward, g, criterion="maxclust")
        assert adjusted_rand_score(hclass(tree, g), ref) == 1.0


def test_first_vvv_merge_is_the_closest_pair(blobs):
    """Between singletons the VVV cost grows with the distance."""
    Z = hc_transform(blobs, "SVD")
    d2 = np.sum((Z[:, None, :] - Z[None, :, :]) ** 2, axis=-1)
    d2[np.diag_indices_from(d2)] = np.inf
    closest = np.unravel_index(np.argmin(d2), d2.shape)
    assert tuple(hc(blobs).merges[0]) == tuple(sorted(closest))


def test_tied_duplicates_last_pair_in_mclust_order_wins(blobs):
    """Two duplicated rows: both pairs cost exactly 2 log(1/2), the least a pair of
    points can cost; mclust takes the tied pair that comes last (upper slot 211)."""
    X = np.vstack([blobs, blobs[[5, 60]]])
    n = blobs.shape[0]
    assert tuple(hc(X).merges[0]) == (60, n + 1)
    X = np.vstack([blobs, blobs[[60, 5]]])
    assert tuple(hc(X).merges[0]) == (5, n + 1)


@pytest.mark.parametrize("model", ["VVV", "EII"])
def test_tree_bookkeeping(blobs, model):
    """Merges join live clusters and keep the smaller label; cuts are nested."""
    tree = hc(blobs, model)
    n = blobs.shape[0]
    assert tree.merges.shape == (n - 1, 2)
    alive = set(range(n))
    for a, b in tree.merges:
        assert a < b
        assert a in alive
        assert b in alive
        alive.remove(b)
    np.testing.assert_array_equal(hclass(tree, n), np.arange(n))
    assert np.all(hclass(tree, 1) == 0)
    for g in range(1, 9):
        coarse, fine = hclass(tree, g), hclass(tree, g + 1)
        assert np.unique(fine).size == g + 1
        # Every fine cluster lies inside one coarse cluster.
        pairs = np.unique(np.column_stack([fine, coarse]), axis=0)
        assert pairs.shape[0] == g + 1
        first = np.unique(fine, return_index=True)[1]
        assert np.all(np.diff(fine[np.sort(first)]) == 1)  # first-appearance labels


def test_min_clusters_stops_early(blobs):
    full = hc(blobs)
    short = hc(blobs, min_clusters=4)
    np.testing.assert_array_equal(short.merges, full.merges[: blobs.shape[0] - 4])
    np.testing.assert_array_equal(hclass(short, 4), hclass(full, 4))
    with pytest.raises(ValueError, match="partitions with 4 to"):
        hclass(short, 3)


def test_transformations(rng):
    X = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4)) + 10.0
    X = np.column_stack([X, np.full(50, 3.0)])  # a constant column is dropped
    np.testing.assert_array_equal(hc_transform(X, "VARS"), X)
    std = hc_transform(X, "STD")
    assert std.shape == (50, 4)
    np.testing.assert_allclose(std.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.std(axis=0, ddof=1), 1.0, rtol=1e-12)
    svd = hc_transform(X, "SVD")  # U D^(1/2): orthogonal columns, norms^2 = d
    d = np.linalg.svd(std, compute_uv=False)
    np.testing.assert_allclose(svd.T @ svd, np.diag(d), atol=1e-10)
    sph = hc_transform(X[:, :4], "SPH")  # covariance (with n) the identity
    np.testing.assert_allclose(sph.T @ sph / 50, np.eye(4), atol=1e-10)
    pcs = hc_transform(X[:, :4], "PCS")  # rotation of the centred data
    centred = X[:, :4] - X[:, :4].mean(axis=0)
    np.testing.assert_allclose(pcs @ pcs.T, centred @ centred.T, atol=1e-9)
    pcr = hc_transform(X, "PCR")
    np.testing.assert_allclose(pcr @ pcr.T, std @ std.T, atol=1e-9)
    assert set(HC_TRANSFORMS) == {"VARS", "STD", "PCR", "PCS", "SPH", "SVD"}


def test_svd_drops_null_directions(rng):
    """A column that repeats another has a zero singular value: dropped, not 1/0."""
    X = rng.normal(size=(40, 3))
    X = np.column_stack([X, X[:, 0]])
    Z = hc_transform(X, "SVD")
    assert Z.shape == (40, 3)
    assert np.all(np.isfinite(Z))


def test_qclass_properties(rng):
    x = rng.normal(size=101)
    for k in range(1, 6):
        labels = qclass(x, k)
        order = np.argsort(x)
        assert np.all(np.diff(labels[order]) >= 0)  # increasing with x
        counts = np.bincount(labels, minlength=k)
        assert counts.max() - counts.min() <= 2  # quantile classes: equal sizes
    with pytest.raises(ValueError, match="distinct values"):
        qclass(np.array([1.0, 1.0, 2.0]), 3)


def test_initial_labels_subset(rng):
    """Above subset_size rows: a subset drawn from random_state, -1 elsewhere."""
    X = rng.normal(size=(500, 2))
    a = mclust_initial_labels(X, 3, np.random.RandomState(1), subset_size=200)
    b = mclust_initial_labels(X, 3, np.random.RandomState(1), subset_size=200)
    np.testing.assert_array_equal(a, b)
    rows = np.random.RandomState(1).choice(500, 200, replace=False)
    np.testing.assert_array_equal(np.flatnonzero(a >= 0), np.sort(rows))
    np.testing.assert_array_equal(a[rows], hclass(hc(X[rows], min_clusters=3), 3))
    assert set(np.unique(a)) == {-1, 0, 1, 2}


def test_initial_labels_few_rows_and_one_feature(rng):
    """n <= d: mclust's EII tree; one feature: quantile classes."""
    wide = rng.normal(size=(6, 8))
    assert np.unique(mclust_initial_labels(wide, 3)).size == 3
    x = rng.normal(size=(40, 1))
    np.testing.assert_array_equal(mclust_initial_labels(x, 4), qclass(x, 4))


def test_initial_resp_hc(rng, blobs):
    state = np.random.RandomState(5)
    before = state.get_state()[1].copy()
    get, sequential = initial_resp(blobs, 3, "hc", state)
    np.testing.assert_array_equal(state.get_state()[1], before)  # nothing drawn
    resp = get(0, blobs.shape[0])
    assert not sequential
    np.testing.assert_array_equal(resp.sum(axis=1), 1.0)
    np.testing.assert_array_equal(resp.argmax(axis=1), hclass(hc(blobs), 3))
    big = rng.normal(size=(SUBSET_SIZE + 10, 1))  # one feature: cheap qclass
    get, _ = initial_resp(big, 2, "hc", np.random.RandomState(0))
    resp = get(0, big.shape[0])
    assert resp.sum() == SUBSET_SIZE  # rows outside the subset: zero


def test_init_methods_keep_their_order():
    assert INIT_METHODS == ("kmeans", "k-means++", "random", "random_from_data", "hc")


def test_gaussian_mixture_with_hc_init(blobs):
    gm = GaussianMixture(3, init_params="hc", random_state=0).fit(blobs)
    labels = gm.predict(blobs)
    truth = np.repeat(np.arange(3), 70)
    assert adjusted_rand_score(labels, truth) > 0.95
    assert isinstance(hc(blobs[:10]), HCTree)


def test_bad_input(blobs):
    with pytest.raises(ValueError, match="model must be one of"):
        hc(blobs, "VEV")
    with pytest.raises(ValueError, match="use must be one of"):
        hc(blobs, use="RND")
    with pytest.raises(ValueError, match="min_clusters"):
        hc(blobs, min_clusters=0)
    with pytest.raises(ValueError, match="alpha and beta"):
        hc(blobs, alpha=0.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        hc(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="every column of X is constant"):
        hc_transform(np.ones((5, 2)), "STD")
    with pytest.raises(ValueError, match="n_clusters"):
        mclust_initial_labels(blobs[:4], 5)
