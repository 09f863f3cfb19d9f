"""The shared docstring fragments (gaussmix._docs) are filled everywhere (issue 12)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gaussmix
from gaussmix._docs import FRAGMENTS, fill_doc, fill_text, register


def _public_objects():
    for info in pkgutil.walk_packages(gaussmix.__path__, "gaussmix."):
        if info.name.endswith("__main__") or info.name.split(".")[-1].startswith(
            "_compiled"
        ):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for name, obj in vars(module).items():
            if module.__name__ == "gaussmix._docs" or (
                getattr(obj, "__module__", None) != module.__name__
            ):
                continue
            yield f"{info.name}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    target = getattr(member, "fget", None) or getattr(
                        member, "__func__", member
                    )
                    yield f"{info.name}.{name}.{attr}", target


def test_no_placeholder_is_left_unfilled():
    left = [
        name
        for name, obj in _public_objects()
        if isinstance(getattr(obj, "__doc__", None), str) and "{{" in obj.__doc__
    ]
    assert left == []


def test_fill_indents_every_line_like_the_placeholder():
    doc = "Summary.\n\n    Parameters\n    ----------\n    {{X_fit}}\n    more\n"
    filled = fill_text(doc)
    assert (
        "    X : array-like of shape (n_samples, n_features)\n        Training data.\n    more"
        in filled
    )


def test_unknown_fragment_raises_at_decoration():
    def f():
        """Doc.

        {{no_such_fragment}}
        """

    with pytest.raises(KeyError, match="no_such_fragment"):
        fill_doc(f)


def test_a_fragment_is_defined_once():
    name = next(iter(FRAGMENTS))
    with pytest.raises(ValueError, match="defined twice"):
        register(name, "x")


def test_class_decorator_fills_methods_properties_and_classmethods():
    @fill_doc
    class Thing:
        def method(self):
            """M.

            {{y_ignored}}
            """

        @property
        def prop(self):
            """P.

            {{y_ignored}}
            """

        @classmethod
        def klass(cls):
            """C.

            {{y_ignored}}
            """

    for obj in (Thing.method, Thing.prop, Thing.klass):
        assert "y : Ignored" in obj.__doc__


def test_fragments_built_from_fragments_are_filled():
    # Whole sections (``predict_parameters``...) are registered through fill_text.
    assert [name for name, text in FRAGMENTS.items() if "{{" in text] == []
    assert FRAGMENTS["predict_parameters"] == (
        "Parameters\n----------\n" + FRAGMENTS["X_predict"]
    )
