"""The documentation stays true: its code runs, its links resolve, its commands parse.

Three checks over the Markdown files of the repository:

* **Python blocks.** Every fenced block whose info string is ``python`` (or
  ``py``) in ``README.md`` and ``docs/*.md`` is executed, one test per block.
  The blocks of one file run in order in one namespace, so a later block may use
  what an earlier one defined (as a reader would run them). A block that needs
  data it does not define (``X``, a file ``data.npy``, a list of frames) gets it
  from the file's *prelude* below (:data:`PRELUDES`): small generated data, so
  each block runs in seconds. All blocks of a file run in one temporary working
  directory, so the files they write go there and never into the repository;
  matplotlib draws with the Agg backend and figures are closed after each block.
  Line numbers in a traceback are those of the Markdown file.

  A block that cannot run here (it needs a Dask cluster, network, R, a display,
  or data too large to generate) is marked in the Markdown, on the line right
  before its opening fence::

      <!-- docs-test: skip reason="needs a Dask cluster" -->

  and is reported as skipped with that reason. A later block of the same file
  whose earlier block failed is skipped, naming the failed block.

* **Links.** Every relative link and image (``[text](path)``,
  ``[text](path#anchor)``, ``[text](#anchor)``) in ``README.md``, ``docs/*.md``,
  ``examples/README.md``, ``BENCHMARKS.md`` and ``CHANGELOG.md`` must point to an
  existing file, and an anchor to a heading of the target. Anchors are computed
  as GitHub does: the heading's text (inline code and link text kept, markup
  removed), lower-cased, every character that is not a letter, digit, underscore,
  hyphen or space removed, spaces turned into hyphens; a repeated heading gets
  ``-1``, ``-2``, ... Links inside code are not links.

* **Shell commands.** Shell blocks are not executed, but every ``gaussmix
  SUBCOMMAND ...`` command in a shell block (``sh``, ``bash``, ``console``,
  ``shell``; in ``console`` blocks the lines after a ``$`` prompt) or an inline
  code span of ``README.md`` and ``docs/*.md`` must name
  a real subcommand and real options of the CLI's parser
  (:func:`gaussmix.cli.build_parser`); a command in a shell block must also parse
  (values included). Inline spans may use placeholders (``DATA``,
  ``[--proba]``), so only their option names are checked.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
#: Files whose Python blocks run and whose commands are checked.
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
#: Files whose relative links and anchors are checked.
LINK_FILES = (
    *DOC_FILES,
    ROOT / "examples" / "README.md",
    ROOT / "BENCHMARKS.md",
    ROOT / "CHANGELOG.md",
)
PYTHON_INFO = ("python", "py")
SHELL_INFO = ("sh", "bash", "console", "shell", "shell-session")
SESSION_INFO = ("console", "shell-session")  # commands after a "$" prompt, then output
SKIP_MARKER = re.compile(r'<!--\s*docs-test:\s*skip\s+reason="([^"]+)"\s*-->')

#: Options that the CLI is getting in a change not merged yet: a command that
#: fails only because of these is an expected failure (xfail, not strict).


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---------------------------------------------------------------- Markdown
@dataclass(frozen=True)
class Fence:
    """One fenced code block of a Markdown file."""

    path: Path
    info: str  # first word of the info string, lower case ("" if none)
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # reason from a docs-test skip marker


_FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")


def fences(path: Path) -> list[Fence]:
    """The fenced code blocks of a file, with their skip markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Fence] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).lower()
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = SKIP_MARKER.search(lines[k]) if k >= 0 else None
        out.append(
            Fence(
                path=path,
                info=info,
                line=i + 1,
                code="\n".join(body) + "\n",
                skip=marker.group(1) if marker else None,
            )
        )
        i = j + 1
    return out


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """Lines outside fenced code, with their 1-based numbers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    inside = set()
    for f in fences(path):
        end = f.line + f.code.count("\n") + 1
        inside.update(range(f.line, end + 1))
    return [(n, text) for n, text in enumerate(lines, 1) if n not in inside]


_INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def _without_inline_code(text: str) -> str:
    return _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), text)


# ---------------------------------------------------------------- preludes
def _blobs(n: int = 300, d: int = 2, centers: int = 4, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n, n_features=d, centers=centers, random_state=seed)
    return X


def _readme(ns: dict[str, Any], workdir: Path) -> None:
    # The README's X: a small 2-D data set of four blobs, as in `make demo`.
    ns["X"] = _blobs(300, 2, 4)


def _user_guide(ns: dict[str, Any], workdir: Path) -> None:
    # X comes from the quickstart block; X_new are new rows for tail_probability;
    # points.npy and batches stand for the big file and the stream.
    rng = np.random.default_rng(0)
    ns["X_new"] = rng.normal(0.0, 3.0, size=(20, 2))
    np.save(workdir / "points.npy", _blobs(2_000, 2, 8, seed=1))
    ns["batches"] = [_blobs(200, 2, 3, seed=s) for s in range(5)]


def _mclust_models(ns: dict[str, Any], workdir: Path) -> None:
    ns["X"] = _blobs(200, 3, 3)  # three features: covariances_ is (3, D, D)


def _noise_prior(ns: dict[str, Any], workdir: Path) -> None:
    X = _blobs(200, 2, 3)
    rng = np.random.default_rng(0)
    lo, hi = X.min(axis=0), X.max(axis=0)
    ns["X"] = np.vstack([X, rng.uniform(lo, hi, size=(20, 2))])  # 10% noise rows
    ns["S"] = np.cov(X.T) / 9  # a prior scale matrix


def _model_format(ns: dict[str, Any], workdir: Path) -> None:
    ns["X"] = _blobs(200, 2, 3)


def _scale(ns: dict[str, Any], workdir: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    np.save(workdir / "data.npy", _blobs(5_000, 8, 8))  # "50M x 8 rows", scaled down
    for part in range(3):  # the chunk factory's Parquet files: columns a, b, c, w
        frame = pd.DataFrame(_blobs(400, 3, 4, seed=part), columns=["a", "b", "c"])
        frame["w"] = rng.uniform(0.5, 2.0, size=len(frame))
        frame.to_parquet(workdir / f"part-{part}.parquet")
    ns["stream"] = [_blobs(300, 2, 3, seed=s) for s in range(5)]


def _background(ns: dict[str, Any], workdir: Path) -> None:
    from gaussmix.apps.background import synthetic_video

    ns["frames"] = synthetic_video(40, shape=(48, 64), seed=0).frames


def _speaker(ns: dict[str, Any], workdir: Path) -> None:
    # alice_1.wav: one second of a buzzy vowel at 16 kHz. The feature lists are
    # MFCC-like frames (57 columns, float32): a few per speaker, offset per speaker.
    rate = 16_000
    t = np.arange(rate) / rate
    rng = np.random.default_rng(0)
    voice = sum(np.sin(2 * np.pi * 120 * h * t) / h for h in range(1, 20))
    signal = 0.3 * voice / np.abs(voice).max() + 0.01 * rng.standard_normal(rate)
    with wave.open(str(workdir / "alice_1.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())

    def utterances(offset: float, n: int) -> list[np.ndarray]:
        return [
            (offset + rng.standard_normal((150, 57))).astype(np.float32)
            for _ in range(n)
        ]

    ns["background_features"] = [
        u for s in range(6) for u in utterances(0.5 * s - 1.5, 2)
    ]
    ns["alice_features"] = utterances(-1.0, 3)
    ns["bob_features"] = utterances(1.0, 3)
    ns["unknown"] = utterances(-1.0, 1)[0]


def _anomaly(ns: dict[str, Any], workdir: Path) -> None:
    rng = np.random.default_rng(0)
    ns["X_normal"] = _blobs(300, 3, 2)
    ns["X_new"] = np.vstack([_blobs(20, 3, 2, seed=1), rng.uniform(-30, 30, (5, 3))])


def _peaks(ns: dict[str, Any], workdir: Path) -> None:
    # A spectrum of Poisson counts: two peaks over a flat baseline.
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 100.0, 201)
    shape = 400 * np.exp(-0.5 * ((x - 35) / 3) ** 2) + 250 * np.exp(
        -0.5 * ((x - 60) / 4) ** 2
    )
    ns["x"] = x
    ns["y"] = rng.poisson(5 + shape).astype(float)
    ns["x_new"] = np.linspace(0.0, 100.0, 11)


#: Data each file's blocks use but do not define, keyed by file (relative path).
PRELUDES: dict[str, Callable[[dict[str, Any], Path], None]] = {
    "README.md": _readme,
    "docs/user-guide.md": _user_guide,
    "docs/mclust-models.md": _mclust_models,
    "docs/mclust-noise-prior.md": _noise_prior,
    "docs/model-format.md": _model_format,
    "docs/scale.md": _scale,
    "docs/apps-background.md": _background,
    "docs/apps-speaker.md": _speaker,
    "docs/apps-anomaly.md": _anomaly,
    "docs/apps-peaks.md": _peaks,
}
#: Modules a file's blocks import (test dependencies; skipped with a reason if absent).
REQUIRES = {
    "docs/scale.md": ("pandas", "pyarrow"),
    "docs/apps-speaker.md": ("librosa",),
    "docs/array-api.md": ("array_api_strict",),
}


# ---------------------------------------------------------------- running blocks
@dataclass
class FileRun:
    """The namespace and working directory shared by one file's blocks."""

    workdir: Path
    ns: dict[str, Any] = field(default_factory=dict)
    done: int = 0  # blocks run so far (in file order)
    failed: int | None = None  # index of the block that failed


PY_BLOCKS: dict[str, list[Fence]] = {
    _rel(p): [f for f in fences(p) if f.info in PYTHON_INFO] for p in DOC_FILES
}
_RUNS: dict[str, FileRun] = {}


def _new_run(name: str, factory: pytest.TempPathFactory) -> FileRun:
    for module in REQUIRES.get(name, ()):
        pytest.importorskip(module, reason=f"{name} needs {module}")
    run = FileRun(workdir=factory.mktemp(Path(name).stem))
    prelude = PRELUDES.get(name)
    if prelude is not None:
        with contextlib.chdir(run.workdir):
            prelude(run.ns, run.workdir)
    _RUNS[name] = run
    return run


def _execute(block: Fence, ns: dict[str, Any]) -> None:
    # Pad with blank lines so that tracebacks give the Markdown file's line numbers.
    source = "\n" * block.line + block.code
    try:
        exec(compile(source, str(block.path), "exec"), ns)
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")


def _py_params() -> list[Any]:
    params = []
    for name, blocks in PY_BLOCKS.items():
        for i, block in enumerate(blocks):
            params.append(pytest.param(name, i, id=f"{name}:{i}:line{block.line}"))
    return params


@pytest.mark.parametrize(("name", "index"), _py_params())
def test_python_block(
    name: str,
    index: int,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Python block of the docs runs (after the earlier blocks of its file)."""
    blocks = PY_BLOCKS[name]
    block = blocks[index]
    if block.skip:
        pytest.skip(f"{name} line {block.line}: {block.skip}")
    run = _RUNS.get(name)
    if run is None or run.done > index:  # first block here, or run out of order
        run = _new_run(name, tmp_path_factory)
    monkeypatch.chdir(run.workdir)
    environment = dict(os.environ)
    try:
        _run_through(run, blocks, index, name)
    finally:
        # A block may set variables for its reader's process (docs/array-api.md sets
        # SCIPY_ARRAY_API); the tests that run after it in this worker must not see them.
        os.environ.clear()
        os.environ.update(environment)


def _run_through(run: Any, blocks: list[Any], index: int, name: str) -> None:
    """Run the earlier blocks of the file that have not run yet, then block ``index``."""
    while run.done < index:
        earlier = blocks[run.done]
        if run.failed is None and not earlier.skip:
            try:
                _execute(earlier, run.ns)
            except Exception:
                run.failed = run.done
        run.done += 1
    if run.failed is not None:
        pytest.skip(
            f"needs block {run.failed} (line {blocks[run.failed].line}) of {name}, "
            "which failed"
        )
    run.done = index + 1
    try:
        _execute(blocks[index], run.ns)
    except Exception:
        run.failed = index
        raise


# ---------------------------------------------------------------- links
def _heading_text(raw: str) -> str:
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    return text.replace("`", "").replace("*", "").strip()


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading (before de-duplication)."""
    text = _heading_text(heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file's headings, duplicates numbered."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path):
        m = re.match(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = github_anchor(m.group(2))
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)")


def relative_links(path: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every link and image outside code, not to a URL."""
    out = []
    for n, line in prose_lines(path):
        text = _without_inline_code(line)
        targets = [m.group(1) for m in _LINK.finditer(text)]
        ref = _REF_DEF.match(text)
        if ref:
            targets.append(ref.group(1))
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
                continue
            out.append((n, target))
    return out


def _link_params() -> list[Any]:
    return [
        pytest.param(path, line, target, id=f"{_rel(path)}:{line}:{target}")
        for path in LINK_FILES
        for line, target in relative_links(path)
    ]


@pytest.mark.parametrize(("path", "line", "target"), _link_params())
def test_relative_link(path: Path, line: int, target: str) -> None:
    """A relative link points to a file that exists, and its anchor to a heading."""
    where = f"{_rel(path)} line {line}: link {target!r}"
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / file_part).resolve() if file_part else path
    assert dest.exists(), f"{where}: {dest} does not exist"
    assert ROOT in dest.parents or dest == ROOT, f"{where}: outside the repository"
    if anchor:
        assert dest.suffix == ".md", f"{where}: anchor into a file that is not Markdown"
        found = anchors(dest)
        assert anchor in found, (
            f"{where}: {_rel(dest)} has no heading with anchor #{anchor}; "
            f"its anchors: {sorted(found)}"
        )


def test_anchor_rules() -> None:
    """The anchor rule follows GitHub's on the kinds of headings the docs use."""
    assert github_anchor("Choosing the number of components: AIC, BIC, ICL") == (
        "choosing-the-number-of-components-aic-bic-icl"
    )
    assert github_anchor("Scale: out of core (`benchmarks/bench_scale.py`)") == (
        "scale-out-of-core-benchmarksbench_scalepy"
    )
    assert github_anchor("[01_four_blobs.py](01_four_blobs.py): fit, plot") == (
        "01_four_blobspy-fit-plot"
    )
    assert github_anchor("5. Initialisation reuses k-means") == (
        "5-initialisation-reuses-k-means"
    )


# ---------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    """A ``gaussmix ...`` command found in the docs."""

    path: Path
    line: int
    text: str
    fenced: bool  # in a shell block: parsed completely; inline: option names only


def _command_segments(line: str) -> list[str]:
    """The ``gaussmix ...`` commands of one shell line (prompt, pipes, && split)."""
    line = re.sub(r"^\s*\$\s*", "", line)
    out = []
    for segment in re.split(r"&&|\|\|?|;", line):
        words = segment.strip().split()
        for prefix in (["gaussmix"], ["python", "-m", "gaussmix"]):
            if words[: len(prefix)] == prefix and len(words) > len(prefix):
                out.append(" ".join(["gaussmix", *words[len(prefix) :]]))
    return out


def commands(path: Path) -> list[Command]:
    """Every ``gaussmix SUBCOMMAND`` in shell blocks and inline code of a file."""
    found = []
    for f in fences(path):
        if f.info not in SHELL_INFO:
            continue
        for offset, line in enumerate(f.code.splitlines(), 1):
            if f.info in SESSION_INFO and not line.lstrip().startswith("$"):
                continue  # output of a console session, not a command
            for text in _command_segments(line):
                found.append(Command(path, f.line + offset, text, fenced=True))
    for n, line in prose_lines(path):
        for m in _INLINE_CODE.finditer(line):
            for text in _command_segments(m.group(2)):
                found.append(Command(path, n, text, fenced=False))
    return found


def _parser_options() -> tuple[argparse.ArgumentParser, dict[str, set[str]]]:
    from gaussmix.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        name: {s for a in p._actions for s in a.option_strings}
        for name, p in sub.choices.items()
    }
    return parser, options


def _command_params() -> list[Any]:
    return [
        pytest.param(c, id=f"{_rel(c.path)}:{c.line}:{c.text}")
        for path in DOC_FILES
        for c in commands(path)
    ]


@pytest.mark.parametrize("command", _command_params())
def test_cli_command(command: Command) -> None:
    """A documented command names a real subcommand and real options, and parses."""
    parser, options = _parser_options()
    where = f"{_rel(command.path)} line {command.line}: {command.text!r}"
    words = shlex.split(command.text, comments=True)
    # Stop at redirections; inline placeholders like [--proba] lose their brackets.
    for i, w in enumerate(words):
        if w.startswith((">", "<", "2>")):
            words = words[:i]
            break
    args = [w.strip("[]") for w in words[1:]] if not command.fenced else words[1:]
    sub = args[0]
    if sub.startswith("-"):  # gaussmix --version, gaussmix --help
        assert sub in {"--version", "--help", "-h"}, f"{where}: unknown option {sub}"
        return
    assert sub in options, (
        f"{where}: no subcommand {sub!r}; there are {sorted(options)}"
    )
    given = {a.split("=", 1)[0] for a in args[1:] if re.match(r"^--?[A-Za-z]", a)}
    unknown = given - options[sub]
    assert not unknown, (
        f"{where}: 'gaussmix {sub}' has no option(s) {sorted(unknown)}; "
        f"it has {sorted(options[sub])}"
    )
    if command.fenced:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                parser.parse_args(args)
            except SystemExit as exc:
                if exc.code not in (0, None):
                    pytest.fail(f"{where}: does not parse: {err.getvalue().strip()}")


def test_commands_are_found() -> None:
    """The command scan sees the README's commands (it is not silently empty)."""
    texts = [c.text for c in commands(ROOT / "README.md")]
    assert any(t.startswith("gaussmix fit ") for t in texts), texts
    assert any(t.startswith("gaussmix select ") for t in texts), texts


def test_readme_starts_with_setup() -> None:
    """The README's first block is the two set-up commands, ``make demo`` and ``make test``."""
    first = fences(ROOT / "README.md")[0]
    commands_ = [line.split("#")[0].strip() for line in first.code.splitlines()]
    assert first.info == "sh", first
    assert commands_[:2] == ["make demo", "make test"], first.code
