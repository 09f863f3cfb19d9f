"""The top-level namespace: ``gaussmix.__all__`` is complete and sorted (as httpx checks)."""

import types

import gaussmix


def _public_names():
    """Names of the package that are neither private nor submodules.

    The public classes and functions are imported on first use (PEP 562), so the
    names the package provides lazily count as well as those already bound.
    """
    bound = {
        name
        for name, value in vars(gaussmix).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    return bound | set(gaussmix._LAZY)


def test_import_does_not_load_numpy_or_sklearn():
    """``import gaussmix`` is light: the command handles Ctrl-C during start-up."""
    import subprocess
    import sys

    code = "import sys, gaussmix; print(sorted({'numpy', 'sklearn', 'scipy'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
    code = "import gaussmix; print(gaussmix.GaussianMixture.__module__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "gaussmix.mixture"


class TestAll:
    """``gaussmix.__all__``."""

    def test_complete(self):
        """Every public name of the package is listed in __all__."""
        assert _public_names() <= set(gaussmix.__all__)

    def test_no_extra_public_names(self):
        """__all__ lists only public names plus the allowed dunders."""
        assert set(gaussmix.__all__) - _public_names() <= {"__version__"}

    def test_names_exist(self):
        """Every name in __all__ is an attribute of the package."""
        missing = [name for name in gaussmix.__all__ if not hasattr(gaussmix, name)]
        assert missing == []

    def test_no_duplicates(self):
        """No name is listed twice."""
        assert len(gaussmix.__all__) == len(set(gaussmix.__all__))

    def test_sorted_case_insensitively(self):
        """__all__ is sorted with key=str.casefold (dunders first, as in httpx)."""
        assert gaussmix.__all__ == sorted(gaussmix.__all__, key=str.casefold)

    def test_star_import(self):
        """``from gaussmix import *`` binds exactly the names of __all__."""
        namespace: dict[str, object] = {}
        exec("from gaussmix import *", namespace)
        namespace.pop("__builtins__")
        assert set(namespace) == set(gaussmix.__all__)

    def test_version(self):
        """__version__ is a non-empty string."""
        assert isinstance(gaussmix.__version__, str)
        assert gaussmix.__version__
