"""The registry of covariance families: every accepted ``covariance_type``.

One table, :data:`REGISTRY`, maps each name to its (stateless, shared) family
object, in display order: scikit-learn's four (``full``, ``tied``, ``diag``,
``spherical``), then R mclust's univariate models (``E``, ``V``), then mclust's
14 multivariate models in mclust's order. scikit-learn's names are aliases of
mclust models with the same mathematics: ``full`` and ``VVV`` are two objects
of one class, :class:`Full`, differing only in their ``name`` and ``group``.

Everything else reads this table: the estimator's validation, model selection
(its ``"all"`` and ``"sklearn"`` grids), the prior's rules, the plots' markers
and the command line. What a family *is* (its parameter count, prior, whether
its M-step iterates, ...) is an attribute of the family
(:class:`~gaussmix.core.family.CovarianceFamily`).

The families are defined below this module: the interface in
:mod:`gaussmix.core.family`, scikit-learn's four in
:mod:`gaussmix.core.sklearn_families` and mclust's models in
:mod:`gaussmix.core.mclust_models`; their names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from gaussmix.core.family import (
    MCLUST_GROUP,
    SKLEARN_GROUP,
    UNIVARIATE_GROUP,
    BoolArray,
    CovarianceFamily,
    Prepared,
    PriorRule,
)
from gaussmix.core.mclust_models import MCLUST_MODELS, new_family
from gaussmix.core.sklearn_families import (
    FLOAT32_MAX_MAGNITUDE,
    PACKED_MAX_FEATURES,
    Diag,
    Full,
    Spherical,
    Tied,
)

__all__ = [
    "COVARIANCE_TYPES",
    "FAMILIES",
    "FLOAT32_MAX_MAGNITUDE",
    "GROUPS",
    "MCLUST_GROUP",
    "MCLUST_MODEL_NAMES",
    "PACKED_MAX_FEATURES",
    "REGISTRY",
    "SKLEARN_GROUP",
    "UNIVARIATE_GROUP",
    "BoolArray",
    "CovarianceFamily",
    "Diag",
    "Full",
    "Prepared",
    "PriorRule",
    "Spherical",
    "Tied",
    "family_names",
    "get_family",
]

#: The groups of names, in display order.
GROUPS: Final = (SKLEARN_GROUP, UNIVARIATE_GROUP, MCLUST_GROUP)


def _registered() -> dict[str, CovarianceFamily]:
    sklearn = (("full", Full), ("tied", Tied), ("diag", Diag), ("spherical", Spherical))
    families: list[CovarianceFamily] = [
        cls(name=name, group=SKLEARN_GROUP) for name, cls in sklearn
    ]
    families += [new_family(name) for name in MCLUST_MODELS]
    families.sort(key=lambda f: GROUPS.index(f.group))  # stable: keeps mclust's order
    return {f.name: f for f in families}


#: Every registered family by name, in display order (shared, stateless objects).
REGISTRY: Final[Mapping[str, CovarianceFamily]] = MappingProxyType(_registered())


def family_names(*groups: str) -> tuple[str, ...]:
    """The registered names of the given groups, in display order.

    Parameters
    ----------
    *groups : str
        Some of :data:`GROUPS` (``"sklearn"``, ``"univariate"``, ``"mclust"``).

    Returns
    -------
    tuple of str
    """
    return tuple(name for name, f in REGISTRY.items() if f.group in groups)


#: scikit-learn's four covariance families by name (stateless, shared instances).
FAMILIES: Final[Mapping[str, CovarianceFamily]] = MappingProxyType(
    {name: REGISTRY[name] for name in family_names(SKLEARN_GROUP)}
)

#: R mclust's models (:mod:`gaussmix.core.mclust_models`), univariate ones first.
MCLUST_MODEL_NAMES: Final = family_names(UNIVARIATE_GROUP, MCLUST_GROUP)

#: Every accepted ``covariance_type``: scikit-learn's four, then mclust's models.
COVARIANCE_TYPES: Final = tuple(REGISTRY)


def get_family(name: str) -> CovarianceFamily:
    """Return the covariance family registered under ``name``.

    The family is the registry's shared object: families keep no state, so one
    object serves every fit. (To change an iterative family's ``inner_tol`` or
    ``inner_max_iter``, make an instance of its class with them.)

    Raises
    ------
    ValueError
        If ``name`` is not a registered family; the message lists the options.
    """
    family = REGISTRY.get(name) if isinstance(name, str) else None
    if family is None:
        options = ", ".join(repr(k) for k in FAMILIES)
        mclust = ", ".join(repr(k) for k in MCLUST_MODEL_NAMES)
        raise ValueError(
            f"covariance_type must be one of {options}; got {name!r}. R mclust's "
            f"model names are accepted too: {mclust}."
        )
    return family
