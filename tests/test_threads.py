"""``single_threaded_blas``: one BLAS thread inside, the original count restored."""

import threading

from threadpoolctl import threadpool_info

from gaussmix._threads import single_threaded_blas


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_limits_and_restores_even_when_nested_and_concurrent():
    before = _blas_threads()
    barrier = threading.Barrier(2)
    seen = []

    def worker():
        with single_threaded_blas():
            barrier.wait()
            with single_threaded_blas():
                seen.append(_blas_threads())
            barrier.wait()
            seen.append(_blas_threads())

    # As gaussmix.select does: the calling thread holds the limit around its
    # workers, so it is also the thread that restores it.
    with single_threaded_blas():
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(all(n == 1 for n in s) for s in seen)
    assert _blas_threads() == before
