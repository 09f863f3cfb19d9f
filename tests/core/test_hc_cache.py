"""The hierarchical tree is built once per data set and reused for every G."""

import numpy as np

from gaussmix.core import hc as hcmod


def test_cached_full_tree_gives_the_partitions_of_trees_built_to_g():
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(0, 1, (40, 3)), rng.normal(3, 0.5, (30, 3))])
    hcmod._TREES.clear()
    for g in range(1, 8):
        direct = hcmod.hclass(hcmod.hc(X, "VVV", "SVD", min_clusters=g), g)
        np.testing.assert_array_equal(hcmod.mclust_initial_labels(X, g), direct)
    assert len(hcmod._TREES) == 1
    Y = X + 1.0
    hcmod.mclust_initial_labels(Y, 2)
    assert len(hcmod._TREES) == 2
