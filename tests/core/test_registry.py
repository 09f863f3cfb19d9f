"""The registry of covariance families is the only list of their names.

Model selection's grids, the prior's rules, the plots' markers and the
estimator's accepted names all read :mod:`gaussmix.core.covariance`; the facts
about each family (parameter counts, prior, iteration, univariate) are its
attributes. No other module keeps a list of the names.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from gaussmix import plotting, selection
from gaussmix._typing import CovarianceType
from gaussmix.core import prior
from gaussmix.core.covariance import (
    COVARIANCE_TYPES,
    FAMILIES,
    GROUPS,
    MCLUST_GROUP,
    MCLUST_MODEL_NAMES,
    REGISTRY,
    SKLEARN_GROUP,
    UNIVARIATE_GROUP,
    family_names,
    get_family,
)

SRC = Path(__file__).resolve().parents[2] / "src"

#: Files that may hold a literal collection of two or more registered names.
NAME_LISTS_ALLOWED = {
    # The registry itself.
    "gaussmix/core/covariance.py": "the registry",
    # __all__ of the module that defines mclust's model classes.
    "gaussmix/core/mclust_models.py": "__all__",
    # A static Literal type cannot read the registry; test_typing_literal checks it.
    "gaussmix/_typing.py": "CovarianceType",
    # hc's merge criteria (mclust's hc modelName), not covariance types.
    "gaussmix/core/hc.py": "HC_MODELS",
}
#: The facts mclust documents for its models.
ITERATIVE = {"VEI", "VEV", "VEE", "EVE", "VVE"}
NO_PRIOR = {"VEE", "EVE", "VVE", "EVV"}
UNIVARIATE = {"E": "EII", "V": "VII"}
ALIASES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


class TestOneList:
    """Every list of names elsewhere equals the registry's."""

    def test_display_order_and_groups(self):
        assert tuple(REGISTRY) == COVARIANCE_TYPES
        groups = [f.group for f in REGISTRY.values()]
        assert groups == sorted(groups, key=GROUPS.index)
        assert family_names(SKLEARN_GROUP) == tuple(FAMILIES)
        assert family_names(UNIVARIATE_GROUP, MCLUST_GROUP) == MCLUST_MODEL_NAMES
        assert len(family_names(MCLUST_GROUP)) == 14

    def test_selection_grids(self):
        assert family_names(SKLEARN_GROUP) == selection.SKLEARN_COVARIANCE_TYPES
        assert family_names(MCLUST_GROUP) == selection.MCLUST_MODELS
        assert family_names(UNIVARIATE_GROUP) == selection.UNIVARIATE_MODELS

    def test_prior_rules(self):
        with_prior = [n for n in MCLUST_MODEL_NAMES if REGISTRY[n].prior is not None]
        assert list(prior.PRIOR_MODELS) == with_prior
        for model, rule in prior.PRIOR_MODELS.items():
            assert rule is REGISTRY[model].prior
        for name, family in REGISTRY.items():
            assert prior.mclust_model_name(name) == family.model
        assert prior.mclust_model_name("not a family") == "not a family"

    def test_plot_markers(self):
        assert list(plotting._MARKERS) == list(family_names(SKLEARN_GROUP))

    def test_typing_literal(self):
        assert get_args(CovarianceType) == COVARIANCE_TYPES

    def test_no_other_module_lists_the_names(self):
        names = set(REGISTRY)
        found = []
        for path in sorted((SRC / "gaussmix").rglob("*.py")):
            where = path.relative_to(SRC).as_posix()
            if where in NAME_LISTS_ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Tuple | ast.List | ast.Set):
                    items = node.elts
                elif isinstance(node, ast.Dict):
                    items = [k for k in node.keys if k is not None]
                else:
                    continue
                listed = [
                    item.value
                    for item in items
                    if isinstance(item, ast.Constant) and item.value in names
                ]
                if len(listed) >= 2:
                    found.append(f"{where}:{node.lineno}: {listed}")
        assert not found, "names listed outside the registry:\n" + "\n".join(found)


class TestFacts:
    """What mclust documents about each model is an attribute of its family."""

    @pytest.mark.parametrize("name", COVARIANCE_TYPES)
    def test_each_family(self, name):
        family = REGISTRY[name]
        model = family.model
        assert family.name == name
        assert family.iterative == (model in ITERATIVE)
        assert (family.prior is None) == (model in NO_PRIOR)
        assert family.multivariate_model == UNIVARIATE.get(model)
        assert get_family(name).name == name

    @pytest.mark.parametrize(("alias", "model"), ALIASES.items())
    def test_sklearn_names_are_aliases(self, alias, model):
        """scikit-learn's names are the mclust families with the same mathematics."""
        a, b = REGISTRY[alias], REGISTRY[model]
        assert type(a) is type(b)
        assert a.model == b.model == model
        assert a.group == SKLEARN_GROUP
        assert b.group == MCLUST_GROUP
        assert a.prior is b.prior
        for k, d in ((1, 1), (3, 2), (4, 5)):
            assert a.n_parameters(k, d) == b.n_parameters(k, d)
            assert a.covariance_shape(k, d) == b.covariance_shape(k, d)

    def test_registry_is_read_only(self):
        with pytest.raises(TypeError):
            REGISTRY["new"] = REGISTRY["full"]  # type: ignore[index]
        with pytest.raises(TypeError):
            FAMILIES["new"] = FAMILIES["full"]  # type: ignore[index]
