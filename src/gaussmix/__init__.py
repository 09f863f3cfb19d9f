"""gaussmix: Gaussian mixture models fitted by EM.

A scikit-learn compatible :class:`GaussianMixture` on a small numeric core
(:mod:`gaussmix.core`) of covariance families, sufficient statistics, E-step and
M-step.
"""

from gaussmix._version import __version__
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.io import load, save
from gaussmix.mixture import GaussianMixture
from gaussmix.selection import GaussianMixtureIC, select

__all__ = [
    "__version__",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "GaussianMixtureIC",
    "load",
    "save",
    "select",
]
