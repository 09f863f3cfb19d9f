"""Adversarial input found by fuzzing: every case returns or raises a clear error.

Extreme sample weights, numbers too large for a float, out-of-range seeds,
concurrent partial_fit, absurd sizes, data that change between passes, and
inputs of the wrong kind (generators, sparse chunks, dates). Cases that once
hung run in a subprocess with a timeout, so this module can never hang.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import gaussmix._validation as validation
from gaussmix import GaussianMixture
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.io import HEADER_KEY, load, save
from gaussmix.sources import ChunkedSource

HANG_TIMEOUT = 60  # seconds; a fit of these sizes takes well under one


def run_isolated(code: str, timeout: float = HANG_TIMEOUT) -> str:
    """Run ``code`` in a fresh interpreter; fail (never hang) after ``timeout``."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not return within {timeout} s (a hang):\n{code}")
    assert done.returncode == 0, done.stderr
    return done.stdout


def constant_column_data(scale=1.0, n=120, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 3)) * scale
    X[:, 2] = 5.0
    return X


def quietly(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        return fn()


# --------------------------------------------------------- extreme weights
def test_eve_vve_with_huge_weights_and_a_constant_column_return():
    """The fuzzer's hang: inf reached LAPACK's SVD, which never returned."""
    out = run_isolated(
        """
        import json, warnings
        import numpy as np
        from gaussmix import GaussianMixture
        warnings.simplefilter("ignore")
        X = np.random.default_rng(0).normal(size=(120, 3)) * 10
        X[:, 2] = 5.0
        result = {}
        control = dict(tol=1e-3, reg_covar=1e-6, init_params="kmeans", max_iter=100)
        for model in ("EVE", "VVE"):
            gm = GaussianMixture(1, covariance_type=model, random_state=0, **control)
            gm.fit(X, sample_weight=np.full(120, 1e300))
            ref = GaussianMixture(
                1, covariance_type=model, random_state=0, **control
            ).fit(X)
            result[model] = bool(
                np.allclose(gm.means_, ref.means_, rtol=1e-9)
                and np.allclose(gm.covariances_, ref.covariances_, rtol=1e-7)
            )
        print(json.dumps(result))
        """
    )
    assert json.loads(out) == {"EVE": True, "VVE": True}


EXTREME_WEIGHTS = (5e-324, 1e-300, 1e300, 1e306)
#: The EM control these fits compare under: scikit-learn's, the same for every
#: family. (mclust's default control, with reg_covar=0, leaves the constant
#: column's variance at the collapse repair, and EVE/VVE's inner iteration for
#: the common orientation then stops at a point that moves with the weights'
#: scale by up to 5e-2 relative: the inner tolerance is relative to an
#: objective that is a weighted sum; see CHANGELOG, issue 13.)
CONTROL = {"tol": 1e-3, "reg_covar": 1e-6, "init_params": "kmeans", "max_iter": 100}
FAMILIES_UNDER_TEST = (
    "full",
    "tied",
    "diag",
    "spherical",
    "VEI",
    "EVI",
    "VEE",
    "EVE",
    "VVE",
    "VEV",
    "EVV",
)


@pytest.fixture(scope="module")
def extreme_weight_fits():
    """Every (family, weight, dtype) fit, in one subprocess with a timeout.

    Each entry: the largest relative difference of means and covariances from
    the fit with all weights 1, or the error.
    """
    code = f"""
    import json, warnings
    import numpy as np
    from gaussmix import GaussianMixture
    warnings.simplefilter("ignore")
    CONTROL = {CONTROL!r}
    out = {{}}
    for scale in (1.0, 10.0):
        X = np.random.default_rng(0).normal(size=(120, 3)) * scale
        X[:, 2] = 5.0
        for model in {FAMILIES_UNDER_TEST!r}:
            for dtype in ("float64", "float32"):
                Xd = X.astype(dtype)
                ref = GaussianMixture(
                    2, covariance_type=model, random_state=0, **CONTROL
                )
                ref.fit(Xd, sample_weight=np.ones(120))
                for w in {EXTREME_WEIGHTS!r}:
                    key = f"{{scale}}-{{model}}-{{dtype}}-{{w!r}}"
                    try:
                        gm = GaussianMixture(
                            2, covariance_type=model, random_state=0, **CONTROL
                        )
                        gm.fit(Xd, sample_weight=np.full(120, w))
                    except Exception as exc:
                        out[key] = f"{{type(exc).__name__}}: {{exc}}"
                        continue
                    diff = 0.0
                    for a, b in ((gm.means_, ref.means_),
                                 (gm.covariances_, ref.covariances_),
                                 (gm.weights_, ref.weights_)):
                        a, b = np.asarray(a, float), np.asarray(b, float)
                        diff = max(diff, float(np.max(
                            np.abs(a - b) / (np.abs(b) + 1e-6))))
                    out[key] = diff
    print(json.dumps(out))
    """
    return json.loads(run_isolated(code, timeout=300))


@pytest.mark.parametrize("weight", EXTREME_WEIGHTS)
@pytest.mark.parametrize("model", FAMILIES_UNDER_TEST)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_extreme_weights_fit_as_weights_of_one(
    extreme_weight_fits, model, weight, dtype, scale
):
    """Weights are scale-free in EM: all 5e-324 or all 1e306 give the unit fit.

    They gave FloatingPointError, LinAlgError "Eigenvalues did not converge",
    math domain errors, k-means' float32 messages, or a hang.
    """
    result = extreme_weight_fits[f"{scale}-{model}-{dtype}-{weight!r}"]
    assert not isinstance(result, str), result
    assert result < (1e-3 if dtype == "float32" else 1e-7), result


def test_unequal_extreme_weights_equal_their_ratios():
    X = constant_column_data()
    ratios = np.random.default_rng(1).uniform(0.5, 2.0, size=120)
    ref = quietly(
        lambda: GaussianMixture(2, random_state=0).fit(X, sample_weight=ratios)
    )
    for scale in (1e-310, 1e290):
        gm = quietly(
            lambda s=scale: GaussianMixture(2, random_state=0).fit(
                X, sample_weight=ratios * s
            )
        )
        np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-8)
        assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10)


def test_criteria_keep_the_given_weights():
    """Only the fit's arithmetic is rescaled: bic/aic/score use the weights given.

    An integer weight still counts as that many rows in BIC's n.
    """
    X = np.random.default_rng(2).normal(size=(60, 2))
    w = np.full(60, 2.0**40)  # outside the range kept as is: rescaled for the fit
    gm = GaussianMixture(1, random_state=0).fit(X, sample_weight=w)
    ref = GaussianMixture(1, random_state=0).fit(X)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-12)
    loglik = float(gm.score_samples(X) @ w)
    n_parameters = gm._n_parameters()
    assert gm.bic(X, sample_weight=w) == pytest.approx(
        -2 * loglik + n_parameters * np.log(w.sum()), rel=1e-12
    )
    assert gm.aic(X, sample_weight=w) == pytest.approx(
        -2 * loglik + 2 * n_parameters, rel=1e-12
    )
    # Integer weights are repeated rows, for BIC too.
    counts = np.random.default_rng(3).integers(1, 4, size=60)
    gm = GaussianMixture(1, random_state=0).fit(X, sample_weight=counts)
    repeated = np.repeat(X, counts, axis=0)
    assert gm.bic(X, sample_weight=counts) == pytest.approx(gm.bic(repeated), rel=1e-10)


@pytest.mark.parametrize("weight", [5e-324, 1e-300, 1e300, 1e306])
def test_criteria_with_extreme_weights_are_exact_or_infinite(weight):
    """score is a weighted mean (scale-free); the criteria count the weights.

    score lost digits on subnormal weights (3.0917 instead of 3.0749) and every
    criterion overflowed with a RuntimeWarning for weights of 1e306.
    """
    X = constant_column_data()
    gm = quietly(lambda: GaussianMixture(2, random_state=0).fit(X))
    w = np.full(120, weight)
    assert gm.score(X, sample_weight=w) == pytest.approx(gm.score(X), rel=1e-12)
    log_density = gm.score_samples(X)
    loglik = float(np.sum(log_density)) * weight  # exact: every weight equal
    penalty = gm._n_parameters() * (np.log(120.0) + np.log(weight))
    bic = gm.bic(X, sample_weight=w)  # pytest turns RuntimeWarnings into errors
    aic = gm.aic(X, sample_weight=w)
    expected_bic = -2.0 * loglik + penalty
    if np.isfinite(expected_bic):
        assert bic == pytest.approx(expected_bic, rel=1e-9)
        assert aic == pytest.approx(-2.0 * loglik + 2.0 * gm._n_parameters(), rel=1e-9)
    else:  # beyond float64: -2 log L overflows, as the exact value would
        assert bic == expected_bic
    assert np.isfinite(gm.icl(X, sample_weight=w)) == np.isfinite(expected_bic)


def test_partial_fit_and_online_fit_with_extreme_weights():
    X = np.random.default_rng(4).normal(size=(300, 2))
    ones = GaussianMixture(2, random_state=0).partial_fit(X, sample_weight=np.ones(300))
    huge = GaussianMixture(2, random_state=0).partial_fit(
        X, sample_weight=np.full(300, 1e305)
    )
    np.testing.assert_allclose(huge.means_, ones.means_, rtol=1e-9)
    online = quietly(
        lambda: GaussianMixture(2, batch_size=100, max_iter=3, random_state=0).fit(
            X, sample_weight=np.full(300, 5e-324)
        )
    )
    ref = quietly(
        lambda: GaussianMixture(2, batch_size=100, max_iter=3, random_state=0).fit(
            X, sample_weight=np.ones(300)
        )
    )
    np.testing.assert_allclose(online.means_, ref.means_, rtol=1e-9)


def test_out_of_core_path_with_extreme_weights(tmp_path):
    X = np.random.default_rng(5).normal(size=(400, 2))
    path = tmp_path / "x.npy"
    np.save(path, X)
    ref = GaussianMixture(2, random_state=0).fit(str(path), sample_weight=np.ones(400))
    gm = GaussianMixture(2, random_state=0).fit(
        str(path), sample_weight=np.full(400, 1e306)
    )
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-9)


def test_prior_refuses_weights_whose_scale_breaks_the_fit():
    """With a prior the weights count samples: their scale matters, say so."""
    X = np.random.default_rng(6).normal(size=(120, 3)) * 10
    for weight, match in ((1e306, "overflow"), (5e-324, "nothing but the prior")):
        with pytest.raises(ValueError, match=match) as info:
            GaussianMixture(2, prior="default", random_state=0).fit(
                X, sample_weight=np.full(120, weight)
            )
        assert "sample_weight counts samples" in str(info.value)
    # Large but usable weights still fit.
    gm = quietly(
        lambda: GaussianMixture(2, prior="default", random_state=0).fit(
            X, sample_weight=np.full(120, 1e290)
        )
    )
    assert np.all(np.isfinite(gm.means_))


# ------------------------------------------------- numbers too large to be floats
HUGE = 10**400


@pytest.mark.parametrize(
    "param", ["tol", "reg_covar", "learning_offset", "learning_decay", "noise"]
)
def test_huge_integer_parameter_is_a_value_error(param):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=f"{param} must be") as info:
        GaussianMixture(**{param: HUGE}).fit(X)
    message = str(info.value)
    assert "an integer of 401 digits" in message
    assert len(message) < 400  # the number is not printed


def test_integers_beyond_str_limits_are_described_not_printed():
    """Python refuses str() of integers above 4300 digits: the message must not."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="an integer of 5001 digits"):
        GaussianMixture(tol=10**5000).fit(X)
    with pytest.raises(ValueError, match="a negative integer of 400 digits"):
        GaussianMixture(reg_covar=-(10**400) + 1).fit(X)


def test_huge_numbers_in_data_and_weights_are_value_errors():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="too large to be a floating-point"):
        GaussianMixture(1).fit(X, sample_weight=HUGE)
    with pytest.raises(ValueError, match="too large to be a floating-point"):
        GaussianMixture(1).fit(X, sample_weight=[HUGE] + [1] * 19)
    with pytest.raises(ValueError, match="too large for a float"):
        GaussianMixture(1).fit([[HUGE, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError, match="too large to be a floating-point"):
        GaussianMixture(1, means_init=[[HUGE, 0]]).fit(X)


@pytest.fixture
def model_file(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 2))
    path = tmp_path / "model.npz"
    save(GaussianMixture(2, random_state=0).fit(X), path)
    return path


def rewrite_header(path, out, mutate):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays[HEADER_KEY].tobytes().decode("utf-8"))
    mutate(header)
    arrays[HEADER_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    return out


def setting(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(header):
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (setting("lower_bound_", HUGE), "lower_bound_ must be a finite number"),
        (setting("params", "tol", HUGE), "parameter tol must be"),
        (setting("params", "reg_covar", HUGE), "parameter reg_covar must be"),
        (setting("params", "noise", HUGE), "parameter noise must be"),
        (setting("n_iter_", HUGE), "n_iter_ = an integer of 401 digits is too large"),
        (setting("n_components", HUGE), "n_components = an integer of 401 digits"),
        (setting("params", "random_state", -1), "random_state must be None, an int"),
        (setting("params", "random_state", 2**63), "random_state must be None"),
        (setting("params", "random_state", HUGE), "random_state must be None"),
    ],
)
def test_model_file_with_huge_or_invalid_numbers_is_refused(
    model_file, tmp_path, mutate, match
):
    """A 400-digit integer raised OverflowError (and the CLI a traceback)."""
    bad = rewrite_header(model_file, tmp_path / "bad.npz", mutate)
    with pytest.raises(ValueError, match=match) as info:
        load(bad)
    assert not isinstance(info.value, OverflowError)
    assert len(str(info.value)) < 300


def test_model_file_with_huge_prior_fields_is_refused(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 2))
    path = tmp_path / "prior.npz"
    save(GaussianMixture(2, prior="default", random_state=0).fit(X), path)
    for key in ("shrinkage", "dof"):
        bad = rewrite_header(path, tmp_path / "bad.npz", setting("prior_", key, HUGE))
        with pytest.raises(ValueError, match=f"prior_.{key} must be a finite"):
            load(bad)


def test_model_file_with_duplicate_feature_names_is_refused(tmp_path):
    import pandas as pd

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=list("abc"))
    path = tmp_path / "named.npz"
    save(GaussianMixture(2, random_state=0).fit(X), path)
    bad = rewrite_header(
        path, tmp_path / "bad.npz", setting("feature_names_in_", ["a", "b", "a"])
    )
    with pytest.raises(ValueError, match="feature_names_in_ has the name 'a' twice"):
        load(bad)


# ------------------------------------------------------------- random_state
@pytest.mark.parametrize("seed", [-1, 2**32, 2**63, HUGE])
def test_out_of_range_random_state_is_refused_at_fit(seed):
    """Even when the fit itself draws nothing (all initial arrays given)."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    gm = GaussianMixture(
        1,
        weights_init=[1.0],
        means_init=[[0.0, 0.0]],
        precisions_init=[np.eye(2)],
        random_state=seed,
    )
    with pytest.raises(
        ValueError, match=r"random_state must be None, an integer in \[0"
    ):
        gm.fit(X)


def test_seeds_at_the_ends_of_the_range_are_accepted():
    X = np.random.default_rng(0).normal(size=(20, 2))
    for seed in (0, 2**32 - 1, np.uint32(2**32 - 1)):
        GaussianMixture(2, random_state=seed).fit(X).sample(3)


def test_sample_validates_its_random_state():
    X = np.random.default_rng(0).normal(size=(20, 2))
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"sample: random_state must be None"):
        gm.sample(3, random_state=-1)
    gm.random_state = 2**63  # set after the fit: sample() says what is wrong
    with pytest.raises(ValueError, match=r"random_state must be None, an integer"):
        gm.sample(3)


def test_model_file_random_state_round_trips_at_the_limits(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 2))
    path = tmp_path / "m.npz"
    save(GaussianMixture(2, random_state=2**32 - 1).fit(X), path)
    assert load(path).random_state == 2**32 - 1


# ------------------------------------------------- concurrent partial_fit
def test_partial_fit_from_many_threads_loses_no_update(tmp_path):
    """8 threads x 8 calls after one initial call: 65 steps, all recorded.

    Without a lock n_iter_ ended at 11 and disagreed with lower_bounds_, so
    save() refused the model.
    """
    X = np.random.default_rng(0).normal(size=(400, 3))
    gm = GaussianMixture(2, random_state=0, n_jobs=1).partial_fit(X[:100])
    barrier = threading.Barrier(8)
    errors = []

    def work(i):
        try:
            barrier.wait()
            rng = np.random.default_rng(i)
            for _ in range(8):
                gm.partial_fit(X[rng.choice(400, 50)])
                gm.predict(X[:5])  # predictions read a consistent snapshot
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=HANG_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "partial_fit threads hung"
    assert not errors, errors
    assert gm.n_iter_ == 65
    assert len(gm.lower_bounds_) == 65
    assert gm._online_state.n_steps == 65
    save(gm, tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").n_iter_ == 65


def test_estimator_with_locks_pickles_copies_and_clones():
    X = np.random.default_rng(0).normal(size=(100, 2))
    gm = GaussianMixture(2, random_state=0).partial_fit(X)
    gm.predict(X)
    for other in (pickle.loads(pickle.dumps(gm)), copy.deepcopy(gm)):
        np.testing.assert_array_equal(other.means_, gm.means_)
        other.partial_fit(X)  # the copy gets its own lock
    assert "_partial_fit_lock" not in clone(gm).__dict__


# ------------------------------------------------------------ absurd sizes
#: Address-space limit of the subprocesses that try absurd sizes: if a check
#: regressed, they get a MemoryError instead of swapping the machine.
ADDRESS_SPACE_LIMIT = 8 * 2**30


def run_limited(code: str) -> str:
    """``run_isolated`` under an address-space limit (RLIMIT_AS)."""
    prologue = f"""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT}))
    """
    return run_isolated(textwrap.dedent(prologue) + textwrap.dedent(code))


@pytest.mark.parametrize("shape", [(10**12, 3), (3, 10**12)])
def test_npy_header_claiming_a_huge_array_is_refused(tmp_path, shape):
    """The header is untrusted: 1e12 rows or columns gave a MemoryError."""
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": shape}
        )
        f.write(np.zeros(30).tobytes())
    out = run_limited(
        f"""
        from gaussmix import GaussianMixture
        try:
            GaussianMixture(2).fit({str(path)!r})
        except ValueError as exc:
            print(exc)
        """
    )
    assert "truncated or damaged: its header declares" in out


@pytest.mark.parametrize("covariance_type", ["full", "tied", "VVV", "EVE"])
def test_wide_data_with_matrix_covariances_is_refused_before_allocating(
    covariance_type,
):
    """200,000 columns: a one-line error instead of a 37 GiB allocation."""
    out = run_limited(
        f"""
        import numpy as np
        from gaussmix import GaussianMixture
        try:
            GaussianMixture(2, covariance_type={covariance_type!r}).fit(
                np.zeros((3, 200_000))
            )
        except ValueError as exc:
            print(exc)
        """
    )
    assert "of memory" in out
    assert "covariance_type='diag'" in out
    assert "n_features=200000" in out


def test_wide_data_with_diagonal_covariances_still_fits():
    X = np.random.default_rng(0).normal(size=(6, 20_000))
    gm = quietly(lambda: GaussianMixture(2, covariance_type="diag").fit(X))
    assert gm.means_.shape == (2, 20_000)


def test_model_size_check_uses_the_process_limit(monkeypatch):
    """A model larger than the limit is refused; ordinary sizes never look."""
    calls = []

    def limit():
        calls.append(1)
        return 300 * 2**20

    monkeypatch.setattr(validation, "memory_limit", limit)
    X = np.random.default_rng(0).normal(size=(5, 3000))
    with pytest.raises(ValueError, match="more than this process can have"):
        GaussianMixture(2, covariance_type="full").fit(X)
    assert calls
    calls.clear()
    GaussianMixture(2, covariance_type="full").fit(
        np.random.default_rng(0).normal(size=(100, 3))
    )
    assert not calls  # far below the threshold: the limit is not even read


def test_out_of_core_wide_data_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(validation, "memory_limit", lambda: 300 * 2**20)

    def factory():
        yield np.zeros((4, 8000))

    with pytest.raises(ValueError, match="first pass over data with 8000 features"):
        GaussianMixture(1, covariance_type="diag").fit(factory)


# ------------------------------------------ out-of-core data that change
def fit_source_mutating(tmp_path, X, change):
    """Fit a .npy file that ``change(path)`` modifies after the first pass."""
    path = tmp_path / "data.npy"
    np.save(path, X)
    source = ChunkedSource(str(path))
    read = source._file_blocks
    calls = [0]

    def blocks():
        calls[0] += 1
        if calls[0] == 2:
            change(path)
        return read()

    source._file_blocks = blocks
    return GaussianMixture(2, random_state=0).fit(source)


def test_nan_written_to_a_file_after_the_first_pass(tmp_path):
    X = np.random.default_rng(0).normal(size=(200, 3))

    def poison(path):
        Y = X.copy()
        Y[5, 1] = np.nan
        np.save(path, Y)

    with pytest.raises(ValueError, match="NaN or infinity") as info:
        fit_source_mutating(tmp_path, X, poison)
    message = str(info.value)
    assert "data.npy" in message
    assert "changed between passes (this is pass 2)" in message


def test_file_replaced_by_one_with_other_columns(tmp_path):
    X = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.raises(ValueError, match="changed during the fit: in pass 2") as info:
        fit_source_mutating(tmp_path, X, lambda p: np.save(p, np.hstack([X, X])))
    assert "shape (200, 6)" in str(info.value)
    assert "shape (200, 3)" in str(info.value)


def test_file_replaced_by_one_of_another_dtype(tmp_path):
    X = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.raises(ValueError, match="changed during the fit"):
        fit_source_mutating(tmp_path, X, lambda p: np.save(p, X.astype(np.float32)))


def test_factory_whose_data_change_between_passes():
    X = np.random.default_rng(0).normal(size=(200, 3))
    calls = [0]

    def poisoned():
        calls[0] += 1
        Y = X.copy()
        if calls[0] >= 2:
            Y[3, 0] = np.inf
        yield Y

    with pytest.raises(ValueError, match="pass 2") as info:
        GaussianMixture(2, random_state=0).fit(poisoned)
    assert "NaN or infinity" in str(info.value)
    assert "must return the same data on every call" in str(info.value)
    calls[0] = 0

    def widened():
        calls[0] += 1
        yield X if calls[0] < 2 else np.hstack([X, X])

    with pytest.raises(ValueError, match="chunk 0 of pass 2 has 6 features"):
        GaussianMixture(2, random_state=0).fit(widened)


# ---------------------------------------------------- inputs of the wrong kind
def test_sparse_chunk_is_named():
    """A sparse chunk was reported as "has shape ()"."""
    sparse = pytest.importorskip("scipy.sparse")
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(TypeError, match=r"chunk 0 is a sparse matrix .*toarray\(\)"):
        GaussianMixture(2).fit(lambda: iter([sparse.csr_matrix(X)]))


def test_generator_instead_of_a_chunk_factory():
    """fit(chunks()) failed inside scikit-learn with "float() argument ..."."""
    X = np.random.default_rng(0).normal(size=(50, 2))

    def chunks():
        yield X[:25]
        yield X[25:]

    match = r"pass the function that creates the iterator .*fit\(chunks\), not fit"
    with pytest.raises(TypeError, match=match):
        GaussianMixture(2).fit(chunks())
    with pytest.raises(TypeError, match=r"call partial_fit once per chunk"):
        GaussianMixture(2).partial_fit(chunks())
    gm = GaussianMixture(2, random_state=0).fit(chunks)  # the factory works
    for method in (gm.predict, gm.score_samples, gm.predict_proba):
        with pytest.raises(TypeError, match=r"give predict, score, \.\.\. an array"):
            method(chunks())
    with pytest.raises(TypeError, match=r"ChunkedSource\(chunks\), not"):
        ChunkedSource(chunks())


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (
            np.array(["2020-01-01", "2020-01-03", "2020-02-01"], "datetime64[D]"),
            "dates",
        ),
        (np.array([1, 5, 9], "timedelta64[s]"), "durations"),
    ],
)
def test_dates_and_durations_are_refused(values, what):
    """datetime64 X was silently fitted as nanoseconds or days since 1970."""
    with pytest.raises(ValueError, match=f"X holds {what}"):
        GaussianMixture(1).fit(values.reshape(-1, 1))


def test_dataframe_with_a_date_column_is_refused():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"when": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-05"]), "x": 1.0}
    )
    with pytest.raises(ValueError, match="X holds dates"):
        GaussianMixture(1).fit(df)


# ---------------------------------------------------------------- io.save
def test_save_failure_names_the_file_and_leaves_nothing(model_file, monkeypatch):
    """ENOSPC said "No space left on device" without naming the file."""
    import gaussmix.io as gio

    before = model_file.read_bytes()
    gm = load(model_file)

    def full_disk(fileobj, members):
        fileobj.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gio, "_write_zip", full_disk)
    with pytest.raises(OSError, match="No space left on device") as info:
        save(gm, model_file)
    assert info.value.errno == errno.ENOSPC
    assert f"cannot save model to {str(model_file)!r}" in str(info.value)
    assert model_file.read_bytes() == before  # the old file is intact
    assert sorted(os.listdir(model_file.parent)) == ["model.npz"]  # no temp file


def test_save_into_a_missing_directory_names_the_file(tmp_path, model_file):
    target = tmp_path / "no" / "such" / "dir" / "m.npz"
    with pytest.raises(FileNotFoundError, match="cannot save model to") as info:
        save(load(model_file), target)
    assert str(target) in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_save_to_a_full_device_file_object(model_file):
    gm = load(model_file)
    with open("/dev/full", "wb", buffering=0) as f, pytest.raises(OSError) as info:
        save(gm, f)
    assert "cannot save model to '/dev/full'" in str(info.value)
