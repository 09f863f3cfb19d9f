"""The numeric core: covariance families, sufficient statistics, E-step, M-step, init.

Pure NumPy/SciPy functions of plain arrays and frozen values; no estimator
state and no I/O. Everything that fits a model stands on these.
"""

from gaussmix.core.covariance import FAMILIES, CovarianceFamily, get_family
from gaussmix.core.estep import (
    e_step,
    estimate_log_prob,
    estimate_log_prob_resp,
    stats_from_resp,
)
from gaussmix.core.init import INIT_METHODS, initial_resp
from gaussmix.core.mstep import Repair, m_step, params_from_precisions
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = [
    "FAMILIES",
    "INIT_METHODS",
    "CovarianceFamily",
    "GMMParams",
    "Repair",
    "SuffStats",
    "e_step",
    "estimate_log_prob",
    "estimate_log_prob_resp",
    "get_family",
    "initial_resp",
    "m_step",
    "params_from_precisions",
    "stats_from_resp",
]
