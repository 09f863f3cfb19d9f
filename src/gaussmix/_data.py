"""Reading data files for the command-line tool: CSV, TSV, .npy and Parquet.

Every problem with a file becomes a :class:`DataError` whose message is one line
that says what is wrong and how to fix it; the command-line tool prints it and
exits with status 1.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["DataError", "Table", "read_labels", "read_table", "select_columns"]

# How many offending rows or cells a message lists before "and N more".
_SHOW = 5


class DataError(ValueError):
    """A data file cannot be used as it is; the message says why and what to do."""


@dataclass
class Table:
    """Numeric data read from a file.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns)
        The numbers (float64 for text files; the file's dtype for .npy/Parquet
        when it is float32 or float64).
    names : list of str or None
        Column names from a header, or None when the file has none.
    path : str
        The file it came from (for messages).
    problems : dict of int to str
        Columns that are not numeric, with what is wrong in each; their values
        are NaN. Using such a column is an error (:func:`select_columns`).
    notes : list of str
        What was done to read the file that the user should know (a dropped
        index column, a guessed delimiter); the command-line tool prints them
        on stderr.
    """

    values: FloatArray
    names: list[str] | None
    path: str
    problems: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _listing(items: Sequence[object]) -> str:
    shown = ", ".join(str(i) for i in items[:_SHOW])
    more = len(items) - _SHOW
    return shown + (f" and {more} more" if more > 0 else "")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# pandas builds a frame column by column: above this many columns NumPy's
# parser is used (a 3 x 200,000 CSV: 23 s with pandas, 0.1 s with numpy.loadtxt).
_PANDAS_MAX_COLUMNS = 1000
# How many lines the delimiter guess looks at.
_SNIFF_LINES = 50
# A number written with a decimal comma ("3,14", "-0,5", "1,2e-3").
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# The column name pandas gives an index it writes to Parquet.
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
# Cells read as missing (NaN), compared in lower case: pandas' default
# ``na_values`` (what the fast path reads as NaN), so that both paths agree.
MISSING_CELLS = frozenset(
    {"", "na", "n/a", "#n/a", "#n/a n/a", "#na", "<na>", "nan", "-nan", "null"}
    | {"none", "1.#ind", "-1.#ind", "1.#qnan", "-1.#qnan"}
)


@dataclass(frozen=True)
class _Dialect:
    """How a text file is split: its delimiter, decimal mark and a note for the user."""

    delimiter: str
    decimal: str = "."
    note: str | None = None


def _split(lines: Sequence[str], delimiter: str) -> list[list[str]]:
    try:
        return [row for row in csv.reader(lines, delimiter=delimiter) if row]
    except csv.Error:
        return []


def _fits(rows: list[list[str]], delimiter: str) -> tuple[bool, bool, bool]:
    """(same width >= 2 on every line, no body cell holds another delimiter, decimal commas).

    A body cell that is a number with a decimal comma does not count as holding
    a comma when the delimiter is not a comma.
    """
    widths = {len(row) for row in rows}
    consistent = len(widths) == 1 and min(widths, default=0) >= 2
    body = rows[1:] if len(rows) > 1 else rows
    others = [d for d in _DELIMITER_NAMES if d != delimiter]
    clean = True
    decimal_comma = False
    for row in body:
        for cell in row:
            text = cell.strip()
            if delimiter != "," and _DECIMAL_COMMA.fullmatch(text):
                decimal_comma = True
                continue
            if any(d in text for d in others):
                clean = False
    return consistent, clean, decimal_comma


def _dialect(path: str, lines: Sequence[str]) -> _Dialect:
    """The delimiter (and decimal mark) of a text file from its first lines.

    ``.tsv``/``.tab`` files are tab-separated. Otherwise the candidates are tried
    in order (comma, semicolon, tab for ``.csv``; tab, comma, semicolon for other
    names): the first that splits every line into the same number (>= 2) of
    cells, none of which holds another delimiter, wins. Semicolon- or
    tab-separated files may write numbers with decimal commas (``3,14``).
    """
    lower = path.lower()
    if lower.endswith((".tsv", ".tab")):
        return _Dialect("\t")
    is_csv = lower.endswith(".csv")
    order = (",", ";", "\t") if is_csv else ("\t", ",", ";")
    sample = [line for line in lines if line.strip()]
    found: list[tuple[str, bool, bool]] = []
    for delimiter in order:
        consistent, clean, decimal_comma = _fits(_split(sample, delimiter), delimiter)
        if consistent:
            found.append((delimiter, clean, decimal_comma))
    chosen = next((f for f in found if f[1]), found[0] if found else None)
    if chosen is None:
        if is_csv or not sample:
            return _Dialect(",")
        # One column, or lines of different widths (reported later): the
        # first delimiter present on the first line.
        first = sample[0]
        return _Dialect(next((d for d in order if d in first), ","))
    delimiter, _, decimal_comma = chosen
    decimal = "," if decimal_comma else "."
    note = None
    if is_csv and delimiter != ",":
        note = (
            f"{path}: looks {_DELIMITER_NAMES[delimiter]}-separated; read with "
            f"{delimiter!r} between cells"
            + (" and ',' as the decimal mark" if decimal == "," else "")
        )
    return _Dialect(delimiter, decimal, note)


def _float_cell(text: str, decimal: str) -> float:
    """A cell as a float; with a decimal comma, "3,14" is 3.14."""
    if decimal == "," and "," in text:
        text = text.replace(",", ".")
    return float(text)


def _has_header(header: Sequence[str], decimal: str) -> bool:
    """A first row with any non-empty, non-numeric cell is a header.

    So is pandas' header of a frame with default column names written with its
    index (``pd.DataFrame(X).to_csv(path)``): an empty cell, then 0, 1, 2, ...
    """
    cells = [cell.strip() for cell in header]
    if (
        len(cells) >= 2
        and cells[0] == ""
        and cells[1:] == [str(i) for i in range(len(cells) - 1)]
    ):
        return True
    for cell in header:
        text = cell.strip()
        if text.lower() in MISSING_CELLS:
            continue  # a missing value (NA) in a first data row is no header
        try:
            _float_cell(text, decimal)
        except ValueError:
            return True
    return False


def _read_text_fast(path: str, header: list[str], dialect: _Dialect) -> Table | None:
    """A C parser for clean files; None sends the file to the careful path."""
    has_header = _has_header(header, dialect.decimal)
    pd: Any
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None and len(header) <= _PANDAS_MAX_COLUMNS:
        # pandas' C parser: 8x faster than numpy.loadtxt on a 1M x 8 CSV
        # (benchmarks/bench_io.py) and exact; any cell it cannot read as a
        # number sends the file to the careful path, which names it.
        try:
            frame = pd.read_csv(
                path,
                sep=dialect.delimiter,
                decimal=dialect.decimal,
                header=0 if has_header else None,
                dtype=np.float64,
                encoding="utf-8-sig",
                skipinitialspace=True,
            )
        except (ValueError, TypeError, pd.errors.ParserError):
            return None
        values = frame.to_numpy(dtype=np.float64)
        if values.shape[0] == 0 or values.shape[1] != len(header):
            return None
        names = [cell.strip() for cell in header] if has_header else None
        return Table(values, names, path)
    if dialect.decimal != ".":
        return None
    try:
        values = np.loadtxt(
            path,
            delimiter=dialect.delimiter,
            skiprows=int(has_header),
            ndmin=2,
            dtype=np.float64,
            encoding="utf-8-sig",
            quotechar='"',
        )
    except ValueError:
        return None
    if values.shape[0] == 0 or values.shape[1] != len(header):
        return None
    names = [cell.strip() for cell in header] if has_header else None
    return Table(values, names, path)


def _read_text(path: str) -> Table:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = []
            for _ in range(_SNIFF_LINES):
                line = handle.readline()
                if not line:
                    break
                lines.append(line)
            dialect = _dialect(path, lines)
            first = _split(lines[:1], dialect.delimiter)
            fast = _read_text_fast(path, first[0], dialect) if first else None
            if fast is not None:
                fast.notes.extend([dialect.note] if dialect.note else [])
                return _drop_index_column(fast)
            handle.seek(0)
            rows = [
                row for row in csv.reader(handle, delimiter=dialect.delimiter) if row
            ]
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not a text file (not UTF-8); give a CSV, TSV, .npy or "
            ".parquet file"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    if not rows:
        raise DataError(
            f"{path}: the file is empty; it needs at least one row of numbers"
        )
    header = rows[0]
    has_header = _has_header(header, dialect.decimal)
    names = [cell.strip() for cell in header] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: the file has a header but no rows of data")
    width = len(header)
    ragged = [
        i + 1 + int(has_header) for i, row in enumerate(body) if len(row) != width
    ]
    if ragged:
        hint = ""
        if dialect.delimiter == "," and any(";" in cell for cell in header):
            hint = " (the file looks semicolon-separated; name it .txt or fix it)"
        raise DataError(
            f"{path}: line(s) {_listing(ragged)} have a different number of cells "
            f"than the first line ({width}){hint}; every row needs the same columns"
        )
    values = np.empty((len(body), width), dtype=np.float64)
    bad: dict[int, list[str]] = {}
    for i, row in enumerate(body):
        for j, cell in enumerate(row):
            text = cell.strip()
            if text.lower() in MISSING_CELLS:
                values[i, j] = math.nan
                continue
            try:
                values[i, j] = _float_cell(text, dialect.decimal)
            except ValueError:
                bad.setdefault(j, []).append(
                    f"line {i + 1 + int(has_header)} = {text!r}"
                )
                values[i, j] = math.nan
    problems = {
        j: f"non-numeric cell(s) in column {(names[j] if names else str(j))!r}: "
        f"{_listing(cells)}"
        for j, cells in bad.items()
    }
    notes = [dialect.note] if dialect.note else []
    return _drop_index_column(Table(values, names, path, problems, notes))


def _drop_index_column(table: Table) -> Table:
    """Leave out a first column that is a written row index (pandas, R).

    ``df.to_csv(path)`` writes the index as a first column with an empty
    header cell and the values 0..n-1; R's ``write.csv`` writes 1..n the same
    way. Such a column is not a feature: it is dropped with a note.
    """
    if table.names is None or not table.names or table.names[0] != "":
        return table
    if 0 in table.problems:
        return table
    first = table.values[:, 0]
    n = first.shape[0]
    if n == 0 or not np.all(np.isfinite(first)) or np.any(first != np.round(first)):
        return table
    if not (np.all(np.diff(first) == 1) and (n > 1 or first[0] in (0, 1))):
        return table
    note = (
        f"{table.path}: the first column has no name and holds the row numbers "
        f"{first[0]:.0f}..{first[-1]:.0f}, an index written by pandas' to_csv "
        "(or R's write.csv), not a feature; it is left out (give it a header "
        "name to keep it)"
    )
    problems = {j - 1: text for j, text in table.problems.items() if j > 0}
    return Table(
        table.values[:, 1:],
        table.names[1:],
        table.path,
        problems,
        [*table.notes, note],
    )


def _read_npy(path: str) -> Table:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: cannot read as .npy: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise DataError(
            f"{path}: a .npz archive is not supported; save one array with np.save"
        )
    if array.dtype.kind not in "fiub":
        raise DataError(
            f"{path}: the array has dtype {array.dtype}; it must be numeric"
        )
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(
            f"{path}: the array has shape {array.shape}; it must be 2-D "
            "(rows x features) or 1-D (one feature)"
        )
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    return Table(array, None, path)


def _read_parquet(path: str) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow: pip install pyarrow"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None
    names = [str(n) for n in table.column_names]
    notes = []
    index = [n for n in names if _PANDAS_INDEX.fullmatch(n)]
    if index:
        # pandas writes a frame's (non-range) index as "__index_level_0__".
        table = table.drop(index)
        names = [str(n) for n in table.column_names]
        notes.append(
            f"{path}: the column(s) {', '.join(index)} hold a pandas index, not a "
            "feature; left out"
        )
    if not names:
        raise DataError(
            f"{path}: the file has no columns; it needs at least one column of numbers"
        )
    columns = []
    problems: dict[int, str] = {}
    for j, (name, column) in enumerate(zip(names, table.columns, strict=True)):
        try:
            columns.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
        except (TypeError, ValueError):
            problems[j] = f"column {name!r} has type {column.type}, not numbers"
            columns.append(np.full(table.num_rows, np.nan))
    return Table(np.column_stack(columns), names, path, problems, notes)


def read_table(path: str) -> Table:
    """Read a data file by its extension.

    Parameters
    ----------
    path : str
        A ``.csv``, ``.tsv``/``.tab``/``.txt`` (delimiter guessed), ``.npy`` or
        ``.parquet`` file. Text files may have a header (a first row with a
        non-numeric cell); empty cells and ``NA``/``NaN`` read as NaN. The
        delimiter of text files is guessed from their first lines (a ``.csv``
        may be semicolon-separated with decimal commas), and a first column
        that is a written row index (no header name, values ``0..n-1`` or
        ``1..n``) is left out; both are said in :attr:`Table.notes`.

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    DataError
        The file cannot be read as numbers.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder; give a data file")
    lower = path.lower()
    if lower.endswith(".npy"):
        table = _read_npy(path)
    elif lower.endswith((".parquet", ".pq")):
        table = _read_parquet(path)
    else:
        table = _read_text(path)
    n_rows, n_columns = table.values.shape
    if n_columns == 0:
        raise DataError(
            f"{path}: the file has no columns; it needs at least one column of numbers"
        )
    if n_rows == 0:
        raise DataError(f"{path}: the file has no rows; it needs at least one row")
    return table


_MISSING_LABELS = ("", "na", "nan", "null", "none")


def _column_index(table: Table, column: str, what: str) -> int:
    """The index of a column given by header name or 0-based index (negative too)."""
    width = table.values.shape[1]
    if table.names is not None and column in table.names:
        return table.names.index(column)
    if column.lstrip("-").isdigit() and -width <= int(column) < width:
        return int(column) % int(width)
    available = (
        ", ".join(table.names)
        if table.names is not None
        else f"indices 0 to {width - 1} (the file has no header)"
    )
    raise DataError(
        f"{table.path}: {what} {column!r} not found; available: {available}"
    )


def read_labels(path: str, column: str, table: Table) -> tuple[list[str | None], int]:
    """The cells of one column of a data file as text (None where empty or NA).

    Parameters
    ----------
    path : str
        The file :func:`read_table` read into ``table``.
    column : str
        The column's header name, or its 0-based index among ``table``'s
        columns.
    table : Table
        The file's numeric table (for the column's position).

    Returns
    -------
    labels : list of str or None
        One per row; None for an empty, ``NA`` or ``NaN`` cell.
    index : int
        The column's index in ``table``.

    Raises
    ------
    DataError
        The column does not exist.
    """
    index = _column_index(table, column, "label column")
    width = table.values.shape[1]
    if index not in table.problems:  # numbers: as read (1.0 is "1")
        values = table.values[:, index].tolist()
        return [None if math.isnan(v) else f"{v:g}" for v in values], index
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        assert table.names is not None
        cells = pq.read_table(path, columns=[table.names[index]]).column(0).to_pylist()
    else:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = [handle.readline() for _ in range(_SNIFF_LINES)]
            dialect = _dialect(path, [line for line in lines if line])
            handle.seek(0)
            rows = [r for r in csv.reader(handle, delimiter=dialect.delimiter) if r]
        body = rows[1:] if table.names is not None else rows
        shift = len(rows[0]) - width  # a written row index left out by read_table
        cells = [row[index + shift] for row in body]
    labels = [
        None
        if c is None or str(c).strip().lower() in _MISSING_LABELS
        else str(c).strip()
        for c in cells
    ]
    return labels, index


def select_columns(
    table: Table,
    columns: Sequence[str] | None,
    *,
    model_names: Sequence[str] | None = None,
) -> Table:
    """Keep the requested columns, by name or 0-based index.

    Parameters
    ----------
    table : Table
        Data read by :func:`read_table`.
    columns : sequence of str or None
        Names or indices; None keeps all columns, or, when ``model_names`` is
        given and the table has a header, the model's feature columns.
    model_names : sequence of str, default=None
        Feature names a saved model was fitted with.

    Returns
    -------
    Table
    """
    if columns is None and model_names is not None and table.names is not None:
        columns = list(model_names)
    if columns is None:
        _check_problems(table, range(table.values.shape[1]))
        return table
    index = [_column_index(table, column, "column") for column in columns]
    _check_problems(table, index)
    names = [table.names[i] for i in index] if table.names is not None else None
    return Table(table.values[:, index], names, table.path, notes=table.notes)


def _check_problems(table: Table, index: Iterable[int]) -> None:
    for j in index:
        if j in table.problems:
            raise DataError(
                f"{table.path}: {table.problems[j]}; every data cell must be a number "
                "(use --columns to pick numeric columns)"
            )


def drop_nan_rows(table: Table, *, drop: bool) -> tuple[Table, int]:
    """Remove rows with NaN, or explain them.

    Parameters
    ----------
    table : Table
        The data.
    drop : bool
        Remove the rows (True) or raise naming them (False).

    Returns
    -------
    table : Table
        Without the rows that had NaN.
    n_dropped : int
        How many rows were removed.
    """
    bad = ~np.isfinite(table.values).all(axis=1)
    if not bad.any():
        return table, 0
    if not drop:
        rows = (np.nonzero(bad)[0] + 1).tolist()
        raise DataError(
            f"{table.path}: {len(rows)} row(s) have missing (NaN/empty) or infinite "
            f"values: data row(s) {_listing(rows)}; pass --drop-nan to leave them out"
        )
    kept = table.values[~bad]
    if kept.shape[0] == 0:
        raise DataError(
            f"{table.path}: every row has missing values; nothing left to use"
        )
    return Table(kept, table.names, table.path, notes=table.notes), int(bad.sum())
