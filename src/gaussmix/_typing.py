"""Type aliases shared by the package."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
CovarianceType: TypeAlias = Literal[
    "full", "tied", "diag", "spherical",
    "E", "V", "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
]  # fmt: skip
InitParams: TypeAlias = Literal[
    "kmeans", "k-means++", "random", "random_from_data", "hc"
]

__all__ = ["CovarianceType", "FloatArray", "InitParams", "IntArray"]
