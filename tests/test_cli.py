"""The ``gaussmix`` command-line tool, run as a real subprocess on real files."""

import contextlib
import errno
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
from gaussmix.cli import _parse_components, build_parser, main
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


@pytest.mark.parametrize(
    ("command", "components", "covariance"),
    [("select", list(range(1, 11)), ["full"]), ("classify", [1, 2, 3, 4, 5], ["all"])],
)
def test_model_grid_defaults(command, components, covariance):
    """select and classify share -k and --covariance, with their own defaults."""
    extra = ["--label", "y"] if command == "classify" else []
    args = build_parser().parse_args([command, "data.csv", *extra])
    assert args.components == components
    assert args.covariance == covariance
    args = build_parser().parse_args(
        [command, "data.csv", *extra, "-k", "2,4", "--covariance", "VVV", "EII"]
    )
    assert args.components == [2, 4]
    assert args.covariance == ["VVV", "EII"]


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


# ------------------------------------------------------------------ noise, prior
@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Three blobs and 40 uniform outliers, as a CSV with a header."""
    d = tmp_path_factory.mktemp("noisy")
    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.7, random_state=1)
    rng = np.random.default_rng(0)
    X = np.vstack([X, rng.uniform(X.min(0) - 3, X.max(0) + 3, size=(40, 2))])
    path = d / "noisy.csv"
    path.write_text("a,b\n" + "".join(f"{float(r[0])!r},{float(r[1])!r}\n" for r in X))
    return X, path


@pytest.fixture(scope="module")
def noise_model(noisy, tmp_path_factory):
    """The README's recipe from the shell: VEV, hierarchical start, noise."""
    path = tmp_path_factory.mktemp("noise_model") / "noise.gmm"
    code, _, err = run(
        "fit", noisy[1], "-k", 3, "--covariance", "VEV", "--noise", "--out", path
    )
    assert code == 0, err
    return path


class TestNoiseAndPrior:
    def test_fit_noise_is_the_python_recipe(self, noisy, noise_model):
        """`fit --covariance VEV --noise` = GaussianMixture(3, "VEV", "hc", noise=True)."""
        X, _ = noisy
        gm = GaussianMixture(
            3, covariance_type="VEV", init_params="hc", noise=True
        ).fit(X)
        loaded = load(noise_model)
        assert loaded.init_params == "auto"
        assert loaded.em_control().init_params == "hc"  # mclust's names: hc
        np.testing.assert_allclose(loaded.means_, gm.means_, rtol=1e-10)
        assert loaded.noise_weight_ == pytest.approx(gm.noise_weight_, rel=1e-10)

    def test_fit_summary_names_the_noise(self, noisy, tmp_path):
        code, out, err = run(
            "fit", noisy[1], "-k", 3, "--covariance", "VEV", "--noise",
            "--out", tmp_path / "m.gmm",
        )  # fmt: skip
        assert code == 0, err
        assert "with a noise component" in out
        assert "    noise  0." in out
        code, out, err = run(
            "fit", noisy[1], "-k", 3, "--covariance", "VEV", "--noise-volume", 500,
            "--out", tmp_path / "m.gmm", "--json",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["noise_volume"] == pytest.approx(500.0, rel=1e-12)

    def test_predict_out_with_noise(self, noisy, noise_model, tmp_path):
        """Labels -1 are counted as noise; the probability column is named noise."""
        X, data = noisy
        gm = load(noise_model)
        out = tmp_path / "labels.csv"
        code, stdout, err = run("predict", noise_model, data, "--proba", "--out", out)
        assert code == 0, err
        lines = out.read_text().splitlines()
        assert lines[0] == "label,p0,p1,p2,noise"
        labels = np.array([int(line.split(",")[0]) for line in lines[1:]])
        np.testing.assert_array_equal(labels, gm.predict(X))
        n_noise = int(np.sum(labels == -1))
        assert n_noise > 0
        counts = np.bincount(labels[labels >= 0], minlength=3)
        assert (
            "rows per component: "
            + ", ".join(f"{k}: {c}" for k, c in enumerate(counts))
            + f", noise (-1): {n_noise}"
        ) in stdout
        code, stdout, err = run("predict", noise_model, data, "--proba", "--json")
        assert code == 0, err
        payload = json.loads(stdout)
        assert payload["proba_columns"] == ["p0", "p1", "p2", "noise"]
        np.testing.assert_allclose(payload["proba"], gm.predict_proba(X), rtol=1e-12)

    def test_prior(self, files, tmp_path):
        """`--prior` is mclust's default conjugate prior (prior="default")."""
        code, out, err = run(
            "fit", files["csv"], "-k", 3, "--prior", "--seed", 0, "--json",
            "--out", tmp_path / "m.gmm",
        )  # fmt: skip
        assert code == 0, err
        payload = json.loads(out)
        gm = GaussianMixture(3, prior="default", random_state=0).fit(files["X"])
        np.testing.assert_allclose(payload["means"], gm.means_, rtol=1e-10)
        assert payload["prior"]["shrinkage"] == pytest.approx(0.01)
        assert hasattr(load(tmp_path / "m.gmm"), "prior_")

    @pytest.mark.parametrize(
        "name", ["E", "V", "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE",
                 "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"],
    )  # fmt: skip
    def test_fit_takes_every_mclust_name(self, files, tmp_path, name):
        data = files["csv"]
        extra = ["--columns", "a"] if name in ("E", "V") else []
        code, out, err = run(
            "fit", data, "-k", 2, "--covariance", name, "--json", *extra,
            "--out", tmp_path / "m.gmm",
        )  # fmt: skip
        assert code == 0, err
        payload = json.loads(out)
        assert payload["covariance_type"] == name
        assert payload["init_params"] == "hc"

    @pytest.mark.parametrize(
        ("args", "init"),
        [
            (["--covariance", "full"], "kmeans"),
            (["--covariance", "VVV"], "hc"),
            (["--covariance", "VVV", "--init", "k-means++"], "k-means++"),
            (["--covariance", "diag", "--init", "hc"], "hc"),
        ],
    )
    def test_fit_default_init(self, files, tmp_path, args, init):
        code, out, err = run(
            "fit", files["csv"], "-k", 2, "--seed", 0, "--json", *args,
            "--out", tmp_path / "m.gmm",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["init_params"] == init


class TestSelectOptions:
    def test_fit_options_reach_every_fit(self, files):
        """--tol, --reg-covar, --noise, --prior, --init give the Python call's table."""
        from gaussmix import select

        code, out, err = run(
            "select", files["csv"], "-k", "2,3", "--covariance", "EEE", "VVV",
            "--tol", "1e-5", "--reg-covar", "1e-4", "--noise", "--prior",
            "--init", "hc", "--json",
        )  # fmt: skip
        assert code == 0, err
        payload = json.loads(out)
        _, table = select(
            files["X"], [2, 3], ["EEE", "VVV"], init_params="hc", tol=1e-5,
            reg_covar=1e-4, noise=True, prior="default",
        )  # fmt: skip
        got = [
            (r["n_components"], r["covariance_type"], r["bic"])
            for r in payload["table"]
        ]
        want = list(
            zip(
                table["n_components"],
                table["covariance_type"],
                table["bic"],
                strict=True,
            )
        )
        assert [g[:2] for g in got] == [tuple(w[:2]) for w in want]
        np.testing.assert_allclose(
            [g[2] for g in got], [w[2] for w in want], rtol=1e-10
        )
        assert payload["init_params"] == "hc"

    @pytest.mark.parametrize(
        ("covariance", "extra", "init"),
        [
            (["all"], [], "hc"),
            (["EEE"], [], "hc"),
            (["full", "diag"], [], "kmeans"),
            (["sklearn"], [], "kmeans"),
            (["all"], ["--init", "random"], "random"),
            (["full", "VVV"], [], "kmeans for scikit-learn's types, hc for mclust's"),
        ],
    )
    def test_default_init(self, files, covariance, extra, init):
        code, out, err = run(
            "select", files["csv"], "-k", "2", "--covariance", *covariance, *extra,
            "--seed", 0, "--json",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["init_params"] == init

    def test_text_says_how_em_started(self, files):
        code, out, err = run("select", files["csv"], "-k", "2,3", "--covariance", "EEE")
        assert code == 0, err
        assert "EM started by hc" in out.splitlines()[0]

    @pytest.mark.mclust
    def test_faithful_picks_the_python_recipes_model(self, mclust, tmp_path):
        """`select faithful.csv -k 1-9 --covariance all` = the README's Python call (EEE, 3)."""
        from gaussmix import select

        X = mclust.dataset("faithful")
        path = tmp_path / "faithful.csv"
        path.write_text(
            "eruptions,waiting\n"
            + "".join(f"{float(r[0])!r},{float(r[1])!r}\n" for r in X)
        )
        code, out, err = run(
            "select", path, "-k", "1-9", "--covariance", "all", "--json"
        )
        assert code == 0, err
        payload = json.loads(out)
        best_cli = payload["best"]
        best, table = select(X, range(1, 10), "all")  # the README's call, defaults
        assert (
            (best_cli["n_components"], best_cli["covariance_type"])
            == (
                best.n_components,
                best.covariance_type,
            )
            == (3, "EEE")
        )
        # The whole table, not only the choice: the same fits.
        ours = {
            (r["n_components"], r["covariance_type"]): r["bic"]
            for r in table.to_dict("records")
        }
        for record in payload["table"]:
            key = (record["n_components"], record["covariance_type"])
            if record["bic"] is None:
                assert np.isnan(ours[key]), key
            else:
                assert record["bic"] == pytest.approx(ours[key], rel=1e-10), key


# ------------------------------------------------------------------ outputs
def _snapshot(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


@pytest.fixture
def workdir(files, model, tmp_path):
    """A folder with a copy of the data (data.csv) and of a model (m.gmm)."""
    (tmp_path / "data.csv").write_bytes(files["csv"].read_bytes())
    (tmp_path / "m.gmm").write_bytes(Path(model).read_bytes())
    return tmp_path


#: (arguments, the output option that names an input); {data}, {model} are inputs.
SAME_AS_INPUT = [
    (["fit", "{data}", "-k", "2", "--out", "{data}"], "--out"),
    (["fit", "{data}", "-k", "2", "--out", "x.gmm", "--plot", "{data}"], "--plot"),
    (["fit", "{data}", "-k", "2", "--out", "{model}"], None),  # not an input: allowed
    (["predict", "{model}", "{data}", "--out", "{data}"], "--out"),
    (["predict", "{model}", "{data}", "--out", "{model}"], "--out"),
    (["score", "{model}", "{data}", "--out", "{data}"], "--out"),
    (["score", "{model}", "{data}", "--out", "{model}"], "--out"),
    (["sample", "{model}", "-n", "5", "--out", "{model}"], "--out"),
    (["select", "{data}", "-k", "2", "--out", "{data}"], "--out"),
    (["select", "{data}", "-k", "2", "--plot", "{data}"], "--plot"),
]


class TestOutputsNeverOverwriteInputs:
    @pytest.mark.parametrize(("args", "flag"), SAME_AS_INPUT)
    @pytest.mark.parametrize("spelling", ["plain", "dotted", "symlink"])
    def test_output_equal_to_an_input(self, workdir, args, flag, spelling):
        """Exit 2 and every input byte-identical, however the path is spelled."""
        (workdir / "sub").mkdir()

        def spell(name):
            if spelling == "dotted":
                return str(workdir / "sub" / ".." / name)
            if spelling == "symlink":
                link = workdir / f"link-{name}"
                if not link.exists():
                    link.symlink_to(workdir / name)
                return str(link)
            return str(workdir / name)

        given = [
            a.format(data=workdir / "data.csv", model=workdir / "m.gmm") for a in args
        ]
        # The output option's value is spelled differently from the input.
        i = len(given) - 1
        given[i] = spell(Path(given[i]).name)
        before = _snapshot(workdir)
        code, _, err = run(*given, cwd=workdir)
        if flag is None:
            assert code == 0, err
            return
        assert code == 2, err
        assert f"{flag} " in err
        assert "is an input file" in err
        assert len(err.strip().splitlines()) == 1
        after = _snapshot(workdir)
        assert after == before

    @pytest.mark.parametrize("command", ["fit", "select"])
    @pytest.mark.parametrize("plot", ["p.png", "./p.png", "sub/../p.png"])
    def test_out_equal_to_plot(self, workdir, command, plot):
        """--out and --plot naming one (not yet existing) file: usage error, no file."""
        (workdir / "sub").mkdir()
        before = _snapshot(workdir)
        code, _, err = run(
            command,
            "data.csv",
            "-k",
            "2",
            "--out",
            "p.png",
            "--plot",
            plot,
            cwd=workdir,
        )
        assert code == 2
        assert "--out and --plot are the same file" in err
        assert _snapshot(workdir) == before

    def test_default_model_name_equal_to_plot(self, workdir):
        code, _, err = run(
            "fit", "data.csv", "-k", "2", "--plot", "data.gmm", cwd=workdir
        )
        assert code == 2
        assert "the same file" in err
        assert not (workdir / "data.gmm").exists()


class _FullDisk(io.StringIO):
    """A text file that fails with ENOSPC (or a Ctrl-C) after ``limit`` characters."""

    def __init__(self, path, limit, error):
        super().__init__()
        self.path, self.limit, self.error = path, limit, error

    def write(self, text):
        if self.tell() + len(text) > self.limit:
            with open(self.path, "w") as handle:  # what reached the disk
                handle.write(self.getvalue())
            raise self.error
        return super().write(text)


def _fail_writes(monkeypatch, error, limit=500):
    import gaussmix.cli

    monkeypatch.setattr(
        gaussmix.cli, "_open_output", lambda path: _FullDisk(path, limit, error)
    )


WRITERS = [
    ["predict", "m.gmm", "data.csv", "--proba", "--out", "old.csv"],
    ["score", "m.gmm", "data.csv", "--out", "old.csv"],
    ["sample", "m.gmm", "-n", "400", "--out", "old.csv"],
]


class TestAtomicOutputs:
    @pytest.mark.parametrize("args", WRITERS, ids=lambda a: a[0])
    def test_full_disk_keeps_the_old_file(self, workdir, monkeypatch, args):
        """ENOSPC halfway: exit 1 naming the file; old contents kept, no temp file."""
        (workdir / "old.csv").write_text("the old results\n")
        before = _snapshot(workdir)
        _fail_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
        code, _, err = run(*args, cwd=workdir)
        assert code == 1
        assert err.startswith("gaussmix: error: old.csv: cannot write: No space left")
        assert len(err.strip().splitlines()) == 1
        assert _snapshot(workdir) == before

    @pytest.mark.parametrize("args", WRITERS, ids=lambda a: a[0])
    def test_ctrl_c_while_writing_leaves_nothing(self, workdir, monkeypatch, args):
        before = _snapshot(workdir)
        _fail_writes(monkeypatch, KeyboardInterrupt())
        code, _, err = run(*args, cwd=workdir)
        assert code == 130
        assert err == "gaussmix: interrupted\n"
        assert _snapshot(workdir) == before

    def test_model_write_failure_keeps_the_old_model(self, workdir, monkeypatch):
        import gaussmix.io

        (workdir / "model.gmm").write_bytes(b"old model")
        before = _snapshot(workdir)

        def broken_save(model, path):
            Path(path).write_bytes(b"PK\x03\x04 half a model")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(gaussmix.io, "save", broken_save)
        code, _, err = run(
            "fit", "data.csv", "-k", 2, "--out", "model.gmm", cwd=workdir
        )
        assert code == 1
        assert "model.gmm: cannot write: No space left on device" in err
        assert _snapshot(workdir) == before

    @pytest.mark.parametrize("command", ["fit", "select"])
    def test_failing_plot_keeps_the_old_model(self, workdir, monkeypatch, command):
        """The model is replaced only when the picture was made too."""
        import gaussmix.plotting

        def broken(*args, **kwargs):
            raise ValueError("the picture cannot be drawn")

        monkeypatch.setattr(gaussmix.plotting, "plot_clusters", broken)
        monkeypatch.setattr(gaussmix.plotting, "plot_model_selection", broken)
        (workdir / "model.gmm").write_bytes(b"old model")
        before = _snapshot(workdir)
        code, _, err = run(
            command, "data.csv", "-k", 2, "--out", "model.gmm", "--plot", "p.png",
            cwd=workdir,
        )  # fmt: skip
        assert code == 1
        assert "the picture cannot be drawn" in err
        assert _snapshot(workdir) == before

    def test_missing_matplotlib_fails_before_the_fit(self, workdir, monkeypatch):
        """--plot without matplotlib: exit 1 at once, no model written."""
        import gaussmix.mixture

        def no_fit(self, *args, **kwargs):
            raise AssertionError("fitted although the plot cannot be made")

        monkeypatch.setitem(sys.modules, "matplotlib", None)
        monkeypatch.setattr(gaussmix.mixture.GaussianMixture, "fit", no_fit)
        before = _snapshot(workdir)
        for command in ("fit", "select"):
            code, _, err = run(
                command, "data.csv", "-k", 2, "--out", "new.gmm", "--plot", "p.png",
                cwd=workdir,
            )  # fmt: skip
            assert code == 1
            assert "--plot needs matplotlib" in err
        assert _snapshot(workdir) == before

    def test_unknown_picture_format_fails_before_the_fit(self, workdir):
        code, _, err = run(
            "fit", "data.csv", "-k", 2, "--plot", "p.xyz", "--out", "n.gmm",
            cwd=workdir,
        )  # fmt: skip
        assert code == 2
        assert "cannot write 'xyz' pictures" in err
        assert not (workdir / "n.gmm").exists()

    def test_ctrl_c_during_the_fit(self, workdir, monkeypatch):
        import gaussmix.mixture

        def interrupted(self, *args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(gaussmix.mixture.GaussianMixture, "fit", interrupted)
        before = _snapshot(workdir)
        code, _, err = run("fit", "data.csv", "-k", 2, "--out", "n.gmm", cwd=workdir)
        assert code == 130
        assert err == "gaussmix: interrupted\n"
        assert _snapshot(workdir) == before

    def test_new_files_get_the_usual_permissions(self, workdir):
        """Temporary files are private; the renamed output is not."""
        mask = os.umask(0o022)
        try:
            code, _, err = run(
                "score", "m.gmm", "data.csv", "--out", "s.csv", cwd=workdir
            )
            assert code == 0, err
            assert (workdir / "s.csv").stat().st_mode & 0o777 == 0o644
            (workdir / "s.csv").chmod(0o640)
            code, _, err = run(
                "score", "m.gmm", "data.csv", "--out", "s.csv", cwd=workdir
            )
            assert code == 0, err
            assert (workdir / "s.csv").stat().st_mode & 0o777 == 0o640
        finally:
            os.umask(mask)

    def test_parquet_and_tsv_outputs(self, files, model, workdir):
        import pyarrow.parquet as pq

        gm = load(model)
        code, _, err = run(
            "predict", "m.gmm", "data.csv", "--proba", "--out", "l.parquet", cwd=workdir
        )
        assert code == 0, err
        table = pq.read_table(workdir / "l.parquet")
        assert table.column_names == ["label", "p0", "p1", "p2"]
        np.testing.assert_array_equal(table["label"].to_numpy(), gm.predict(files["X"]))
        code, _, err = run("score", "m.gmm", "data.csv", "--out", "s.tsv", cwd=workdir)
        assert code == 0, err
        lines = (workdir / "s.tsv").read_text().splitlines()
        assert lines[0] == "log_density"
        assert float(lines[1]) == pytest.approx(gm.score_samples(files["X"][:1])[0])

    def test_parquet_output_without_pyarrow(self, workdir, monkeypatch):
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        code, _, err = run(
            "sample", "m.gmm", "-n", 5, "--out", "s.parquet", cwd=workdir
        )
        assert code == 1
        assert "writing Parquet needs pyarrow" in err
        assert not (workdir / "s.parquet").exists()


# ------------------------------------------------------------------ sizes
class TestSizes:
    def test_huge_sample_is_refused_before_allocating(self, model):
        code, out, err = run("sample", model, "-n", 10**12)
        assert code == 1
        assert "gaussmix: error: sample -n 1000000000000:" in err
        assert "of memory, more than the" in err
        assert len(err.strip().splitlines()) == 1
        assert out == ""

    def test_200000_columns(self, tmp_path):
        """A wide CSV: one line suggesting diag covariances, before any fit."""
        X = np.random.default_rng(0).normal(size=(3, 200_000))
        path = tmp_path / "wide.csv"
        np.savetxt(path, X, delimiter=",", fmt="%.3f")
        code, _, err = run("fit", path, "-k", 2, "--out", tmp_path / "m.gmm")
        assert code == 1
        assert "a 2-component full model on 200000 features needs about" in err
        assert "use --covariance diag" in err
        assert len(err.strip().splitlines()) == 1
        code, _, err = run("select", path, "-k", "1-3", "--covariance", "all")
        assert code == 1
        assert "the EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV models" in err

    def test_memory_check_against_what_is_available(self, files, monkeypatch, tmp_path):
        import gaussmix.cli

        X = np.random.default_rng(0).normal(size=(40, 30))
        np.save(tmp_path / "x.npy", X)
        monkeypatch.setattr(gaussmix.cli, "_available_memory", lambda: 50_000)
        code, _, err = run(
            "fit", tmp_path / "x.npy", "-k", 3, "--out", tmp_path / "m.gmm"
        )
        assert code == 1
        assert "needs about" in err
        code, _, err = run(
            "fit", tmp_path / "x.npy", "-k", 3, "--covariance", "diag", "--seed", 0,
            "--out", tmp_path / "m.gmm",
        )  # fmt: skip
        assert code == 0, err

    def test_file_without_columns(self, tmp_path):
        np.save(tmp_path / "empty.npy", np.zeros((10, 0)))
        code, _, err = run("fit", tmp_path / "empty.npy", "-k", 2)
        assert code == 1
        assert "has no columns" in err
        assert "KMeans" not in err


# ------------------------------------------------------------------ smaller things
class TestSmallerThings:
    def test_pandas_index_column_is_dropped(self, files, tmp_path):
        import pandas as pd

        path = tmp_path / "indexed.csv"
        pd.DataFrame(files["X"], columns=["a", "b"]).to_csv(path)
        code, out, err = run(
            "fit", path, "-k", 3, "--seed", 0, "--json", "--out", tmp_path / "m.gmm"
        )
        assert code == 0, err
        assert json.loads(out)["features"] == ["a", "b"]
        gm = GaussianMixture(3, random_state=0).fit(files["X"])
        np.testing.assert_allclose(json.loads(out)["means"], gm.means_, rtol=1e-12)
        assert "gaussmix: note: " in err
        assert "an index written by pandas' to_csv" in err

    def test_semicolon_csv(self, files, tmp_path):
        path = tmp_path / "eu.csv"
        path.write_text(
            "a;b\n"
            + "".join(
                f"{float(r[0])!r};{float(r[1])!r}\n".replace(".", ",")
                for r in files["X"]
            )
        )
        code, out, err = run(
            "fit", path, "-k", 3, "--seed", 0, "--json", "--out", tmp_path / "m.gmm"
        )
        assert code == 0, err
        gm = GaussianMixture(3, random_state=0).fit(files["X"])
        np.testing.assert_allclose(json.loads(out)["means"], gm.means_, rtol=1e-12)
        assert "looks semicolon-separated" in err

    def test_bad_option_prints_the_subcommand_usage(self, files):
        code, _, err = run("fit", files["csv"], "-k", 2, "--bogus")
        assert code == 2
        assert err.startswith("usage: gaussmix fit ")
        assert "gaussmix fit: error: unrecognized arguments: --bogus" in err
        code, _, err = run("predict", "m.gmm", files["csv"], "--proba", "--bogus")
        assert err.startswith("usage: gaussmix predict ")

    def test_no_header_names_are_x0_x1_in_plot_and_summary(
        self, files, monkeypatch, tmp_path
    ):
        import gaussmix.cli

        labels = []
        save_plot = gaussmix.cli._save_plot

        def spy(fig, path, outputs):
            labels.extend((ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes)
            save_plot(fig, path, outputs)

        monkeypatch.setattr(gaussmix.cli, "_save_plot", spy)
        code, out, err = run(
            "fit", files["plain"], "-k", 3, "--seed", 0, "--out", tmp_path / "m.gmm",
            "--plot", tmp_path / "p.png",
        )  # fmt: skip
        assert code == 0, err
        assert "mean x0" in out
        assert "mean x1" in out
        assert labels == [("x0", "x1")]

    def test_plot_features(self, monkeypatch, tmp_path):
        """Wide data: the plot says which features it shows; --plot-features picks."""
        import gaussmix.plotting

        X = np.random.default_rng(0).normal(size=(120, 8))
        path = tmp_path / "wide.csv"
        names = [f"c{i}" for i in range(8)]
        path.write_text(
            ",".join(names)
            + "\n"
            + "".join(",".join(map(repr, r.tolist())) + "\n" for r in X)
        )
        chosen = []
        plot_pairs = gaussmix.plotting.plot_pairs

        def spy(model, X, *, features=None, **kwargs):
            chosen.append(list(features))
            return plot_pairs(model, X, features=features, **kwargs)

        monkeypatch.setattr(gaussmix.plotting, "plot_pairs", spy)
        common = [
            "-k",
            2,
            "--covariance",
            "diag",
            "--seed",
            0,
            "--out",
            tmp_path / "m.gmm",
        ]
        code, _, err = run("fit", path, *common, "--plot", tmp_path / "p.png")
        assert code == 0, err
        assert (
            "the plot shows the first 6 of 8 features (c0, c1, c2, c3, c4, c5)" in err
        )
        assert "--plot-features" in err
        code, _, err = run(
            "fit", path, *common, "--plot", tmp_path / "p.png", "--plot-features", "c7",
            "0,c3",
        )  # fmt: skip
        assert code == 0, err
        assert "first 6" not in err
        assert chosen == [[0, 1, 2, 3, 4, 5], [7, 0, 3]]
        code, _, err = run(
            "fit", path, *common, "--plot", tmp_path / "p.png", "--plot-features", "zz"
        )
        assert code == 1
        assert "--plot-features 'zz' not found" in err
        code, _, err = run("fit", path, *common, "--plot-features", "c1")
        assert code == 2
        assert "--plot-features needs --plot" in err


class _InterruptImport:
    """A meta path finder: importing ``name`` raises KeyboardInterrupt (Ctrl-C)."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize("module", ["gaussmix._data", "gaussmix.core.covariance"])
def test_ctrl_c_during_imports(files, monkeypatch, module):
    """Ctrl-C while main imports NumPy-based modules: one line, status 130."""
    monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(module), *sys.meta_path])
    code, out, err = run("fit", files["csv"], "-k", 2)
    assert code == 130
    assert err == "gaussmix: interrupted\n"
    assert out == ""


def test_importing_the_cli_imports_only_the_standard_library():
    """The module is light: heavy imports happen inside main, under its try."""
    code = (
        "import sys, gaussmix\n"
        "before = set(sys.modules)\n"
        "import gaussmix.cli\n"
        "new = sorted(m for m in set(sys.modules) - before if m.startswith('gaussmix'))\n"
        "print(new)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "['gaussmix.cli']"
