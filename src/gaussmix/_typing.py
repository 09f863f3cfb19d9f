"""Type aliases shared by the package."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
CovarianceType: TypeAlias = Literal["full", "tied", "diag", "spherical"]
InitParams: TypeAlias = Literal["kmeans", "k-means++", "random", "random_from_data"]

__all__ = ["CovarianceType", "FloatArray", "InitParams", "IntArray"]
