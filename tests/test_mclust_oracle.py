"""The R oracle itself: published mclust values on faithful (mclust's vignette)."""

import json

import numpy as np
import pytest


@pytest.mark.mclust
def test_faithful_reference_values(mclust):
    """Mclust(faithful) selects EEE, 3 components, loglik -1126.326, BIC -2314.316."""
    got = mclust.run_r(
        "m <- Mclust(X)\n"
        "emit(list(model = m$modelName, G = m$G, loglik = m$loglik, bic = m$bic))",
        X=mclust.dataset("faithful"),
    )
    assert got["model"] == "EEE"
    assert got["G"] == 3
    assert got["loglik"] == pytest.approx(-1126.326, abs=5e-4)
    assert got["bic"] == pytest.approx(-2314.316, abs=5e-4)


# ------------------------------------------------ the replay mechanism itself
@pytest.fixture
def oracle(tmp_path, monkeypatch):
    """The oracle with its references in a temporary folder and a fake R."""
    import mclust_oracle

    calls = []

    def fake_r(body, inputs):
        calls.append(body)
        x = np.asarray(inputs["X"], dtype=np.float64)
        return {"sum": float(x.sum()), "model": "EEE", "z": (x / x.sum()).tolist()}

    monkeypatch.setattr(mclust_oracle, "REFERENCES", tmp_path)
    monkeypatch.setattr(mclust_oracle, "run_live", fake_r)
    monkeypatch.setattr(mclust_oracle, "mclust_version", lambda: "test")
    monkeypatch.delenv("GAUSSMIX_MCLUST_LOG", raising=False)
    mclust_oracle.calls = calls
    return mclust_oracle


def test_record_then_replay_without_r(oracle, monkeypatch):
    X = np.random.default_rng(0).standard_normal((50, 3))
    monkeypatch.setattr(oracle, "MODE", "record")
    recorded = oracle.run_r("emit(sum(X))", X=X)
    assert len(list(oracle.REFERENCES.glob("*.json"))) == 1
    monkeypatch.setattr(oracle, "MODE", "replay")
    assert oracle.run_r("emit(sum(X))", X=X) == recorded
    assert len(oracle.calls) == 1  # the replay did not run R


def test_replay_ignores_last_bit_differences_but_not_real_changes(oracle, monkeypatch):
    X = np.random.default_rng(1).standard_normal((200, 4))
    monkeypatch.setattr(oracle, "MODE", "record")
    oracle.run_r("emit(X)", X=X)
    monkeypatch.setattr(oracle, "MODE", "replay")
    # What another BLAS might compute: every value a few ulps away.
    noisy = X * (
        1
        + 4 * np.finfo(float).eps * np.sign(np.sin(np.arange(X.size))).reshape(X.shape)
    )
    assert not np.array_equal(noisy, X)
    oracle.run_r("emit(X)", X=noisy)
    for changed in (X + 1e-6, X[::-1], X[:-1], np.where(X > 2, np.nan, X)):
        with pytest.raises(oracle.MissingReference, match="make_mclust_references"):
            oracle.run_r("emit(X)", X=changed)
    with pytest.raises(oracle.MissingReference):
        oracle.run_r("emit(X + 1)", X=X)  # other R code


def test_same_code_on_several_inputs_keeps_each_answer(oracle, monkeypatch):
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((30, 2)) for _ in range(3)]
    monkeypatch.setattr(oracle, "MODE", "record")
    answers = [oracle.run_r("emit(X)", X=X) for X in inputs]
    monkeypatch.setattr(oracle, "MODE", "replay")
    assert [oracle.run_r("emit(X)", X=X) for X in inputs] == answers


def test_live_mode_catches_a_stale_reference(oracle, monkeypatch):
    X = np.arange(1.0, 13.0).reshape(6, 2)
    monkeypatch.setattr(oracle, "MODE", "record")
    oracle.run_r("emit(X)", X=X)
    (path,) = oracle.REFERENCES.glob("*.json")
    entry = json.loads(path.read_text())
    entry["output"]["z"][0][0] *= 1.001
    path.write_text(json.dumps(entry))
    monkeypatch.setattr(oracle, "MODE", "live")
    with pytest.raises(AssertionError, match="z"):
        oracle.run_r("emit(X)", X=X)


def test_every_stored_answer_is_valid_json_with_its_code():
    import mclust_oracle

    files = sorted(mclust_oracle.REFERENCES.glob("*.json"))
    assert files, (
        "no stored mclust answers: see tests/references/make_mclust_references.py"
    )
    for path in files:
        entry = json.loads(path.read_text())
        assert set(entry) == {"mclust_version", "code", "inputs", "output"}, path.name
        shapes = {name: v["shape"] for name, v in entry["inputs"].items()}
        assert path.name.startswith(mclust_oracle.call_key(entry["code"], shapes) + "-")


@pytest.mark.mclust_live
def test_live_r_receives_arrays_exactly():
    """The text round trip to R is exact (17 significant digits)."""
    import mclust_oracle

    X = (
        np.random.default_rng(3).standard_normal((7, 3))
        * 10.0 ** np.arange(-5, 16, 3)[:, None]
    )
    got = mclust_oracle.run_live("emit(list(x = X))", {"X": X})
    np.testing.assert_array_equal(np.asarray(got["x"]), X)
