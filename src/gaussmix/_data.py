"""Reading data files for the command-line tool: CSV, TSV, .npy and Parquet.

Every problem with a file becomes a :class:`DataError` whose message is one line
that says what is wrong and how to fix it; the command-line tool prints it and
exits with status 1.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["DataError", "Table", "read_table", "select_columns"]

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
    """

    values: FloatArray
    names: list[str] | None
    path: str
    problems: dict[int, str] = field(default_factory=dict)


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


def _delimiter(path: str, first_line: str) -> str:
    lower = path.lower()
    if lower.endswith((".tsv", ".tab")):
        return "\t"
    if lower.endswith(".csv"):
        return ","
    for candidate in ("\t", ",", ";"):
        if candidate in first_line:
            return candidate
    return ","


def _read_text_fast(path: str, first: list[list[str]], delimiter: str) -> Table | None:
    """NumPy's C parser for clean files; None sends the file to the careful path."""
    header = first[0]
    has_header = any(cell.strip() and not _is_number(cell.strip()) for cell in header)
    pd: Any
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        # pandas' C parser: 8x faster than numpy.loadtxt on a 1M x 8 CSV
        # (benchmarks/bench_io.py) and exact; any cell it cannot read as a
        # number sends the file to the careful path, which names it.
        try:
            frame = pd.read_csv(
                path,
                sep=delimiter,
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
    try:
        values = np.loadtxt(
            path,
            delimiter=delimiter,
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
            first_line = handle.readline()
            delimiter = _delimiter(path, first_line)
            first = list(csv.reader([first_line], delimiter=delimiter))
            fast = _read_text_fast(path, first, delimiter) if first else None
            if fast is not None:
                return fast
            handle.seek(0)
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
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
    has_header = any(cell.strip() and not _is_number(cell.strip()) for cell in header)
    names = [cell.strip() for cell in header] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: the file has a header but no rows of data")
    width = len(header)
    ragged = [
        i + 1 + int(has_header) for i, row in enumerate(body) if len(row) != width
    ]
    if ragged:
        raise DataError(
            f"{path}: line(s) {_listing(ragged)} have a different number of cells "
            f"than the first line ({width}); every row needs the same columns"
        )
    values = np.empty((len(body), width), dtype=np.float64)
    bad: dict[int, list[str]] = {}
    for i, row in enumerate(body):
        for j, cell in enumerate(row):
            text = cell.strip()
            if not text or text.lower() in ("na", "nan", "null", "none"):
                values[i, j] = math.nan
                continue
            try:
                values[i, j] = float(text)
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
    return Table(values, names, path, problems)


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
    if not names:
        raise DataError(f"{path}: the file has no columns")
    columns = []
    problems: dict[int, str] = {}
    for j, (name, column) in enumerate(zip(names, table.columns, strict=True)):
        try:
            columns.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
        except (TypeError, ValueError):
            problems[j] = f"column {name!r} has type {column.type}, not numbers"
            columns.append(np.full(table.num_rows, np.nan))
    return Table(np.column_stack(columns), names, path, problems)


def read_table(path: str) -> Table:
    """Read a data file by its extension.

    Parameters
    ----------
    path : str
        A ``.csv``, ``.tsv``/``.tab``/``.txt`` (delimiter guessed), ``.npy`` or
        ``.parquet`` file. Text files may have a header (a first row with a
        non-numeric cell); empty cells and ``NA``/``NaN`` read as NaN.

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
        return _read_npy(path)
    if lower.endswith((".parquet", ".pq")):
        return _read_parquet(path)
    return _read_text(path)


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
    index: list[int] = []
    for column in columns:
        if table.names is not None and column in table.names:
            index.append(table.names.index(column))
        elif (
            column.lstrip("-").isdigit()
            and -table.values.shape[1] <= int(column) < table.values.shape[1]
        ):
            index.append(int(column) % table.values.shape[1])
        else:
            available = (
                ", ".join(table.names)
                if table.names is not None
                else f"indices 0 to {table.values.shape[1] - 1} (the file has no header)"
            )
            raise DataError(
                f"{table.path}: column {column!r} not found; available: {available}"
            )
    _check_problems(table, index)
    names = [table.names[i] for i in index] if table.names is not None else None
    return Table(table.values[:, index], names, table.path)


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
    return Table(kept, table.names, table.path), int(bad.sum())
