"""gaussmix: Gaussian mixture models fitted by EM.

A scikit-learn compatible :class:`GaussianMixture` on a small numeric core
(:mod:`gaussmix.core`) of covariance families, sufficient statistics, E-step and
M-step.

The public names are imported on first use (PEP 562), so ``import gaussmix`` and
the ``gaussmix`` command start without loading NumPy, SciPy and scikit-learn;
Ctrl-C during the command's start-up is then handled by the command itself.
"""

import importlib as _importlib
import typing as _typing

from gaussmix._version import __version__

if _typing.TYPE_CHECKING:  # the names below, for type checkers and IDEs
    from gaussmix.bayesian import BayesianGaussianMixture
    from gaussmix.classifier import MixtureClassifier
    from gaussmix.combine import combine_components
    from gaussmix.density import hdr_levels
    from gaussmix.dr import MixtureDR
    from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
    from gaussmix.io import load, save
    from gaussmix.mixture import GaussianMixture
    from gaussmix.regression import GMRegressor
    from gaussmix.resampling import (
        BootstrapLRTResult,
        BootstrapResult,
        bootstrap,
        bootstrap_lrt,
    )
    from gaussmix.selection import GaussianMixtureIC, select
    from gaussmix.summary import model_summary, table_summary

__all__ = [
    "__version__",
    "BayesianGaussianMixture",
    "bootstrap",
    "bootstrap_lrt",
    "BootstrapLRTResult",
    "BootstrapResult",
    "combine_components",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "GaussianMixtureIC",
    "GMRegressor",
    "hdr_levels",
    "load",
    "MixtureClassifier",
    "MixtureDR",
    "model_summary",
    "save",
    "select",
    "table_summary",
]

# Public name -> the module that defines it.
_LAZY = {
    "BayesianGaussianMixture": "gaussmix.bayesian",
    "ConvergenceWarning": "gaussmix.exceptions",
    "DegenerateComponentWarning": "gaussmix.exceptions",
    "GaussianMixture": "gaussmix.mixture",
    "GaussianMixtureIC": "gaussmix.selection",
    "GMRegressor": "gaussmix.regression",
    "MixtureClassifier": "gaussmix.classifier",
    "bootstrap": "gaussmix.resampling",
    "bootstrap_lrt": "gaussmix.resampling",
    "BootstrapLRTResult": "gaussmix.resampling",
    "BootstrapResult": "gaussmix.resampling",
    "combine_components": "gaussmix.combine",
    "MixtureDR": "gaussmix.dr",
    "hdr_levels": "gaussmix.density",
    "model_summary": "gaussmix.summary",
    "table_summary": "gaussmix.summary",
    "load": "gaussmix.io",
    "save": "gaussmix.io",
    "select": "gaussmix.selection",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gaussmix' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
