"""``single_threaded_blas``: one BLAS thread inside, the original count restored."""

import sys
import threading
import types

import numpy as np
from threadpoolctl import threadpool_info

import gaussmix._threads as threads_mod
from gaussmix._threads import single_threaded_blas


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_nested_blocks_limit_once_and_restore():
    before = _blas_threads()
    with single_threaded_blas():
        assert all(n == 1 for n in _blas_threads())
        with single_threaded_blas():
            assert threads_mod._depth == 2
        assert all(n == 1 for n in _blas_threads())
    assert threads_mod._depth == 0
    assert _blas_threads() == before


def test_workers_inside_the_callers_block_share_the_limit():
    """As gaussmix.select does: the caller holds the limit around its workers."""
    before = _blas_threads()
    depths = []
    barrier = threading.Barrier(2)

    def worker():
        with single_threaded_blas():
            barrier.wait()
            a = np.ones((100, 100))
            a @ a
            depths.append(threads_mod._depth)
            barrier.wait()

    with single_threaded_blas():
        workers = [threading.Thread(target=worker) for _ in range(2)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert all(n == 1 for n in _blas_threads())
    assert depths == [3, 3]
    assert threads_mod._depth == 0
    assert _blas_threads() == before


def test_libraries_loaded_after_the_first_use_are_limited_too(monkeypatch):
    """An extension imported after the controller was made makes it look again."""
    with single_threaded_blas():
        pass
    made = threads_mod._controller
    extension = types.ModuleType("gaussmix_fake_extension")
    extension.__file__ = "/somewhere/gaussmix_fake_extension.cpython-311.so"
    monkeypatch.setitem(sys.modules, "gaussmix_fake_extension", extension)
    with single_threaded_blas():
        assert threads_mod._controller is not made
        assert all(n == 1 for n in _blas_threads())


def test_pure_python_imports_keep_the_controller(monkeypatch):
    """Reading the process's libraries takes milliseconds: not for a .py import."""
    with single_threaded_blas():
        pass
    made = threads_mod._controller
    module = types.ModuleType("gaussmix_fake_module")
    module.__file__ = "/somewhere/gaussmix_fake_module.py"
    monkeypatch.setitem(sys.modules, "gaussmix_fake_module", module)
    with single_threaded_blas():
        assert threads_mod._controller is made
        assert all(n == 1 for n in _blas_threads())
