"""The ``gaussmix`` command-line tool, run as a real subprocess on real files."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gaussmix import GaussianMixture
from gaussmix.cli import _parse_components, main
from gaussmix.io import load

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")

ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}


def run(*args, cwd=None):
    """``gaussmix ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.chdir(cwd or os.getcwd()),
    ):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help, bad usage
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def run_process(*args, cwd=None):
    """``python -m gaussmix ARGS`` in a subprocess: (exit status, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "gaussmix", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Blob data as CSV with a header, CSV without, TSV, .npy and Parquet."""
    d = tmp_path_factory.mktemp("cli")
    X, y = make_blobs(n_samples=300, centers=3, cluster_std=0.7, random_state=1)
    out = {"X": X, "y": y, "dir": d}
    header = "a,b\n"
    body = "\n".join(f"{float(r[0])!r},{float(r[1])!r}" for r in X) + "\n"
    (d / "data.csv").write_text(header + body)
    (d / "plain.csv").write_text(body)
    (d / "data.tsv").write_text(header.replace(",", "\t") + body.replace(",", "\t"))
    np.save(d / "data.npy", X)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"a": X[:, 0], "b": X[:, 1], "name": ["x"] * len(X)}),
        d / "data.parquet",
    )
    out.update({k: d / f"data.{k}" for k in ("csv", "tsv", "npy", "parquet")})
    out["plain"] = d / "plain.csv"
    return out


class TestFit:
    def test_fit_json_matches_the_library(self, files, tmp_path):
        """`fit --json` reports the same numbers as GaussianMixture on the same data."""
        model_path = tmp_path / "m.gmm"
        code, out, err = run(
            "fit", files["csv"], "-k", 3, "--seed", 0, "--out", model_path, "--json"
        )
        assert code == 0, err
        payload = json.loads(out)
        gm = GaussianMixture(3, random_state=0).fit(files["X"])
        for key in ("weights", "means", "covariances"):
            np.testing.assert_allclose(payload[key], getattr(gm, key + "_"), rtol=1e-12)
        assert payload["converged"] is True
        assert payload["n_iter"] == gm.n_iter_
        assert payload["log_likelihood"] == pytest.approx(
            gm.score(files["X"]) * 300, rel=1e-12
        )
        assert payload["aic"] == pytest.approx(gm.aic(files["X"]), rel=1e-12)
        assert payload["bic"] == pytest.approx(gm.bic(files["X"]), rel=1e-12)
        loaded = load(model_path)
        np.testing.assert_array_equal(loaded.means_, payload["means"])
        assert list(loaded.feature_names_in_) == ["a", "b"]

    @pytest.mark.parametrize("kind", ["plain", "tsv", "npy", "parquet"])
    def test_every_format_gives_the_same_fit(self, files, tmp_path, kind):
        """CSV without header, TSV, .npy and Parquet read the same numbers."""
        args = ["fit", files[kind], "-k", 3, "--seed", 0, "--json"]
        args += ["--out", tmp_path / "m.gmm"]
        if kind == "parquet":
            args += ["--columns", "a", "b"]
        code, out, err = run(*args)
        assert code == 0, err
        gm = GaussianMixture(3, random_state=0).fit(files["X"])
        np.testing.assert_allclose(json.loads(out)["means"], gm.means_, rtol=1e-12)

    def test_text_summary_and_plot(self, files, tmp_path):
        """Readable summary (weights, means, covariances, AIC/BIC) and a PNG."""
        png = tmp_path / "fit.png"
        code, out, err = run(
            "fit",
            files["csv"],
            "--components",
            3,
            "--covariance",
            "diag",
            "--seed",
            1,
            "--out",
            tmp_path / "m.gmm",
            "--plot",
            png,
            "--n-init",
            2,
        )
        assert code == 0, err
        for word in (
            "3-component diag",
            "converged: yes",
            "AIC",
            "BIC",
            "weight",
            "mean a",
            "covariances",
            f"model saved to {tmp_path / 'm.gmm'}",
            f"plot written to {png}",
        ):
            assert word in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_large_d_shows_diagonals(self, tmp_path):
        """Above 4 features the summary shows covariance diagonals."""
        X = np.random.default_rng(0).normal(size=(200, 6))
        np.save(tmp_path / "x.npy", X)
        code, out, err = run(
            "fit", tmp_path / "x.npy", "-k", 2, "--seed", 0, "--out", tmp_path / "m.gmm"
        )
        assert code == 0, err
        assert "covariance diagonals" in out

    def test_default_model_name(self, files, tmp_path):
        """Without --out the model goes to DATA's stem + .gmm in the current folder."""
        code, _, err = run("fit", files["csv"], "-k", 2, "--seed", 0, cwd=tmp_path)
        assert code == 0, err
        assert (tmp_path / "data.gmm").exists()

    def test_one_feature_plot(self, tmp_path):
        """One column: the plot is the 1-D density."""
        x = np.random.default_rng(0).normal(size=300)
        (tmp_path / "x.csv").write_text(
            "v\n" + "\n".join(repr(float(v)) for v in x) + "\n"
        )
        code, _, err = run(
            "fit",
            tmp_path / "x.csv",
            "-k",
            2,
            "--seed",
            0,
            "--out",
            tmp_path / "m.gmm",
            "--plot",
            tmp_path / "p.png",
        )
        assert code == 0, err
        assert (tmp_path / "p.png").stat().st_size > 5000


@pytest.fixture(scope="module")
def model(files, tmp_path_factory):
    """A model fitted by the CLI on the CSV with header."""
    path = tmp_path_factory.mktemp("model") / "m.gmm"
    code, _, err = run("fit", files["csv"], "-k", 3, "--seed", 0, "--out", path)
    assert code == 0, err
    return path


class TestUseAModel:
    def test_predict(self, files, model, tmp_path):
        """Labels and probabilities equal the library's, as CSV and JSON."""
        gm = load(model)
        code, out, err = run("predict", model, files["csv"], "--proba", "--json")
        assert code == 0, err
        payload = json.loads(out)
        np.testing.assert_array_equal(payload["labels"], gm.predict(files["X"]))
        np.testing.assert_allclose(
            payload["proba"], gm.predict_proba(files["X"]), rtol=1e-12, atol=1e-300
        )
        labels_csv = tmp_path / "labels.csv"
        code, out, err = run("predict", model, files["csv"], "--out", labels_csv)
        assert code == 0, err
        got = np.loadtxt(labels_csv, delimiter=",", skiprows=1, dtype=int)
        np.testing.assert_array_equal(got, gm.predict(files["X"]))
        assert "rows per component" in out

    def test_predict_to_stdout_picks_model_columns_by_name(
        self, files, model, tmp_path
    ):
        """A file with extra columns: the model's feature names choose the columns."""
        X = files["X"]
        text = (
            "junk,b,a\n"
            + "\n".join(f"7,{float(r[1])!r},{float(r[0])!r}" for r in X)
            + "\n"
        )
        (tmp_path / "swapped.csv").write_text(text)
        code, out, err = run("predict", model, tmp_path / "swapped.csv")
        assert code == 0, err
        lines = out.strip().splitlines()
        assert lines[0] == "label"
        np.testing.assert_array_equal(
            np.array(lines[1:], dtype=int), load(model).predict(X)
        )

    def test_score(self, files, model):
        """Per-row log-densities and their mean."""
        gm = load(model)
        code, out, err = run("score", model, files["csv"], "--json")
        assert code == 0, err
        payload = json.loads(out)
        np.testing.assert_allclose(
            payload["scores"], gm.score_samples(files["X"]), rtol=1e-12
        )
        assert payload["mean"] == pytest.approx(gm.score(files["X"]), rel=1e-12)
        code, out, err = run("score", model, files["csv"])
        assert code == 0, err
        assert out.splitlines()[0] == "log_density"
        assert out.splitlines()[-1].startswith("# mean log-density")

    def test_sample(self, model, tmp_path):
        """Samples equal model.sample with the same seed; CSV has a header."""
        gm = load(model)
        code, out, err = run("sample", model, "-n", 50, "--seed", 3, "--json")
        assert code == 0, err
        payload = json.loads(out)
        X, comp = gm.sample(50, random_state=3)
        np.testing.assert_array_equal(payload["samples"], X)
        np.testing.assert_array_equal(payload["components"], comp)
        path = tmp_path / "s.csv"
        code, out, err = run("sample", model, "-n", 20, "--seed", 3, "--out", path)
        assert code == 0, err
        assert path.read_text().splitlines()[0] == "a,b,component"
        assert len(path.read_text().splitlines()) == 21


class TestSelect:
    def test_select_json_and_plot(self, files, tmp_path):
        """The table has one record per fit and the best is the BIC minimum."""
        png = tmp_path / "bic.png"
        code, out, err = run(
            "select",
            files["csv"],
            "--components",
            "1-4",
            "--covariance",
            "all",
            "--seed",
            0,
            "--json",
            "--plot",
            png,
            "--out",
            tmp_path / "best.gmm",
        )
        assert code == 0, err
        payload = json.loads(out)
        table = payload["table"]
        assert len(table) == 56  # mclust's 14 models x K = 1..4
        assert set(table[0]) >= {
            "n_components",
            "covariance_type",
            "log_likelihood",
            "aic",
            "bic",
        }
        best = min(table, key=lambda r: r["bic"])
        assert payload["best"]["n_components"] == best["n_components"] == 3
        assert payload["best"]["covariance_type"] == best["covariance_type"]
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert load(tmp_path / "best.gmm").n_components == 3

    def test_select_text(self, files):
        code, out, err = run("select", files["csv"], "-k", "2,3", "--seed", 0)
        assert code == 0, err
        assert "* " in out
        assert "best: 3 components, full covariance" in out
        assert err == ""  # no progress bar when stderr is not a terminal

    def test_progress_bar_on_a_terminal_only(self, files):
        """On a terminal (a pty) a tqdm bar is drawn on stderr; --quiet removes it."""
        import fcntl
        import pty
        import struct
        import termios

        def stderr_on_tty(*extra):
            leader, follower = pty.openpty()
            # A real terminal has a size; tqdm draws nothing on a 0-column one.
            fcntl.ioctl(
                follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0)
            )
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gaussmix",
                    "select",
                    str(files["csv"]),
                    "-k",
                    "1-3",
                    "--seed",
                    "0",
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=follower,
                env=ENV,
            )
            os.close(follower)
            chunks = []
            while True:
                try:
                    data = os.read(leader, 4096)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            proc.wait(timeout=120)
            os.close(leader)
            return b"".join(chunks).decode(errors="replace")

        assert "model grid" in stderr_on_tty()
        assert "model grid" not in stderr_on_tty("--quiet")


class TestErrors:
    """Bad usage exits 2, data or file errors exit 1, with one line on stderr."""

    @pytest.mark.parametrize(
        ("args", "code", "message"),
        [
            (["fit", "missing.csv", "-k", "2"], 1, "missing.csv: no such file"),
            (
                ["fit", "{csv}", "-k", "2", "--columns", "zz"],
                1,
                "column 'zz' not found; available: a, b",
            ),
            (["fit", "{csv}"], 2, "required: -k/--components"),
            (["fit", "{csv}", "-k", "0"], 2, "must be >= 1"),
            (["fit", "{csv}", "-k", "2", "--covariance", "weird"], 2, "invalid choice"),
            (["select", "{csv}", "-k", "5-1"], 2, "invalid components"),
            (["frobnicate"], 2, "invalid choice"),
            (["predict", "missing.gmm", "{csv}"], 1, "no such file"),
        ],
    )
    def test_usage_and_file_errors(self, files, args, code, message):
        args = [a.format(csv=files["csv"]) for a in args]
        got, _out, err = run(*args)
        assert got == code
        assert message in err
        assert "Traceback" not in err

    def test_non_numeric_and_nan_rows(self, tmp_path):
        """Non-numeric cells are named; NaN rows are named and --drop-nan drops them."""
        rows = ["a,b"] + [f"{i},{i % 7}" for i in range(40)]
        bad = rows.copy()
        bad[5] = "4,hello"
        (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n")
        code, _, err = run(
            "fit", tmp_path / "bad.csv", "-k", 2, "--out", tmp_path / "m.gmm"
        )
        assert code == 1
        assert "non-numeric cell(s) in column 'b': line 6 = 'hello'" in err
        assert len(err.strip().splitlines()) == 1
        holes = rows.copy()
        holes[3] = "2,"
        holes[9] = "NaN,1"
        (tmp_path / "nan.csv").write_text("\n".join(holes) + "\n")
        code, _, err = run(
            "fit", tmp_path / "nan.csv", "-k", 2, "--out", tmp_path / "m.gmm"
        )
        assert code == 1
        assert "data row(s) 3, 9" in err
        assert "--drop-nan" in err
        code, out, err = run(
            "fit",
            tmp_path / "nan.csv",
            "-k",
            2,
            "--drop-nan",
            "--json",
            "--out",
            tmp_path / "m.gmm",
            "--seed",
            0,
        )
        assert code == 0, err
        assert json.loads(out)["n_iter"] >= 1

    def test_corrupt_model_and_wrong_width(self, files, tmp_path):
        """A model file that is not one, and data with the wrong number of columns."""
        (tmp_path / "junk.gmm").write_bytes(os.urandom(200))
        code, _, err = run("predict", tmp_path / "junk.gmm", files["csv"])
        assert code == 1
        assert "Traceback" not in err
        model = tmp_path / "m.gmm"
        assert run("fit", files["npy"], "-k", 2, "--out", model, "--seed", 0)[0] == 0
        X3 = np.random.default_rng(0).normal(size=(10, 3))
        np.save(tmp_path / "x3.npy", X3)
        code, _, err = run("predict", model, tmp_path / "x3.npy")
        assert code == 1
        assert "3 column(s) but the model was fitted on 2 feature(s)" in err

    def test_out_never_overwrites_the_data(self, files, tmp_path):
        """--out pointing at the input is refused and the data is untouched."""
        copy = tmp_path / "d.csv"
        copy.write_bytes(files["csv"].read_bytes())
        before = copy.read_bytes()
        code, _, err = run("fit", copy, "-k", 2, "--out", copy)
        assert code == 2
        assert "is an input file" in err
        assert copy.read_bytes() == before

    def test_real_process_exit_codes(self, files):
        """Through `python -m gaussmix`: 2 for bad usage, 1 for a missing file."""
        code, _, err = run_process("fit", files["csv"])
        assert code == 2
        assert "required" in err
        code, _, err = run_process("score", "nope.gmm", files["csv"])
        assert code == 1
        assert err.startswith("gaussmix: error: nope.gmm")
        assert len(err.strip().splitlines()) == 1

    def test_help_has_examples(self):
        code, out, _ = run_process("--help")
        assert code == 0
        assert "examples:" in out
        assert "gaussmix select data.csv" in out
        code, out, _ = run("fit", "--help")
        assert code == 0
        assert "example: gaussmix fit" in out


def test_parse_components():
    assert _parse_components("3") == [3]
    assert _parse_components("1-4") == [1, 2, 3, 4]
    assert _parse_components("2,4,1-2") == [1, 2, 4]


def test_main_in_process_demo(tmp_path, capsys):
    """`gaussmix demo` is the demo of `make demo` (same text, same plot)."""
    out = tmp_path / "d.png"
    assert main(["demo", "--out", str(out)]) == 0
    assert f"plot written to {out}" in capsys.readouterr().out
    assert out.exists()


def test_entry_point_is_declared():
    """pyproject declares the `gaussmix` script."""
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'gaussmix = "gaussmix.cli:main"' in text
