"""Reading data files for the command-line tool (``gaussmix._data``)."""

import numpy as np
import pandas as pd
import pytest

from gaussmix._data import DataError, drop_nan_rows, read_table, select_columns


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"a": rng.normal(size=12), "b": rng.normal(size=12).round(3)},
    )


class TestIndexColumn:
    def test_pandas_index_is_left_out_with_a_note(self, frame, tmp_path):
        """``df.to_csv(path)`` writes the index 0..n-1 under an empty header cell."""
        path = tmp_path / "with_index.csv"
        frame.to_csv(path)
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        np.testing.assert_array_equal(table.values, frame.to_numpy())
        assert len(table.notes) == 1
        assert "row numbers 0..11" in table.notes[0]
        assert "left out" in table.notes[0]

    def test_r_row_names_are_left_out(self, frame, tmp_path):
        """R's ``write.csv`` writes quoted row names 1..n under ``""``."""
        lines = ['"","a","b"'] + [
            f'"{i + 1}",{a!r},{b!r}'
            for i, (a, b) in enumerate(frame.itertuples(index=False))
        ]
        path = tmp_path / "r.csv"
        path.write_text("\n".join(lines) + "\n")
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        np.testing.assert_array_equal(table.values, frame.to_numpy())
        assert "row numbers 1..12" in table.notes[0]

    def test_index_in_the_careful_path(self, frame, tmp_path):
        """A file with a missing cell (careful parser) loses its index column too."""
        path = tmp_path / "holes.csv"
        frame.assign(b=frame["b"].where(frame.index != 3)).to_csv(path)
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        assert np.isnan(table.values[3, 1])
        assert table.notes

    @pytest.mark.parametrize(
        ("first", "why"),
        [
            ("idx", "a named column is a feature"),
            ("", "values that are not consecutive integers"),
        ],
    )
    def test_other_first_columns_are_kept(self, frame, tmp_path, first, why):
        values = (
            np.arange(12)
            if first
            else np.array([0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        )
        text = f"{first},a,b\n" + "".join(
            f"{v},{a!r},{b!r}\n"
            for v, (a, b) in zip(values, frame.itertuples(index=False), strict=True)
        )
        path = tmp_path / "keep.csv"
        path.write_text(text)
        table = read_table(str(path))
        assert table.values.shape == (12, 3), why
        assert table.notes == []

    def test_default_column_names(self, frame, tmp_path):
        """``pd.DataFrame(X).to_csv(path)``: header ``,0,1`` is a header, not data."""
        path = tmp_path / "numbered.csv"
        pd.DataFrame(frame.to_numpy()).to_csv(path)
        table = read_table(str(path))
        assert table.names == ["0", "1"]
        np.testing.assert_array_equal(table.values, frame.to_numpy())
        assert "row numbers 0..11" in table.notes[0]
        path = tmp_path / "series.csv"
        frame["a"].rename(None).to_csv(path)
        table = read_table(str(path))
        assert table.names == ["0"]
        np.testing.assert_array_equal(table.values[:, 0], frame["a"].to_numpy())

    def test_parquet_index_column_is_left_out(self, frame, tmp_path):
        path = tmp_path / "f.parquet"
        frame.set_axis(np.arange(12) * 2).to_parquet(path)  # not a RangeIndex
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        assert "__index_level_0__" in table.notes[0]

    def test_notes_survive_column_choice_and_nan_rows(self, frame, tmp_path):
        path = tmp_path / "i.csv"
        frame.to_csv(path)
        table = select_columns(read_table(str(path)), ["b"])
        table, _ = drop_nan_rows(table, drop=True)
        assert table.names == ["b"]
        assert len(table.notes) == 1


class TestDelimiter:
    def test_semicolons_with_decimal_commas(self, tmp_path):
        """A European CSV: ``;`` between cells, ``,`` as the decimal mark."""
        path = tmp_path / "eu.csv"
        path.write_text("a;b\n1,5;2\n-3,25;0,125\n4;1e-3\n")
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        np.testing.assert_array_equal(
            table.values, [[1.5, 2.0], [-3.25, 0.125], [4.0, 1e-3]]
        )
        assert table.notes == [
            f"{path}: looks semicolon-separated; read with ';' between cells and "
            "',' as the decimal mark"
        ]

    def test_semicolons_with_decimal_points(self, tmp_path):
        path = tmp_path / "semi.csv"
        path.write_text("1.5;2\n3.25;0.5\n")
        table = read_table(str(path))
        assert table.names is None
        np.testing.assert_array_equal(table.values, [[1.5, 2.0], [3.25, 0.5]])
        assert "looks semicolon-separated" in table.notes[0]
        assert table.notes[0].endswith("read with ';' between cells")

    def test_decimal_commas_in_the_careful_path(self, tmp_path):
        """A missing cell sends the file to the careful parser, which reads "1,5"."""
        path = tmp_path / "eu_holes.csv"
        path.write_text("a;b\n1,5;\n2,5;3,5\n")
        table = read_table(str(path))
        np.testing.assert_array_equal(table.values[1], [2.5, 3.5])
        assert np.isnan(table.values[0, 1])

    def test_comma_csv_is_unchanged(self, tmp_path):
        """A comma CSV whose text cells hold semicolons stays comma-separated."""
        path = tmp_path / "c.csv"
        path.write_text('name,x\n"a;b",1\n"c;d",2\n')
        table = read_table(str(path))
        assert table.names == ["name", "x"]
        np.testing.assert_array_equal(table.values[:, 1], [1.0, 2.0])
        assert 0 in table.problems  # the text column, as before
        assert table.notes == []

    def test_tab_separated_csv(self, tmp_path):
        path = tmp_path / "t.csv"
        path.write_text("a\tb\n1\t2\n3\t4\n")
        table = read_table(str(path))
        assert table.names == ["a", "b"]
        assert "looks tab-separated" in table.notes[0]

    def test_txt_with_semicolons_and_decimal_commas(self, tmp_path):
        path = tmp_path / "d.txt"
        path.write_text("0,5;1\n1,5;2\n")
        np.testing.assert_array_equal(
            read_table(str(path)).values, [[0.5, 1.0], [1.5, 2.0]]
        )


class TestEmpty:
    def test_zero_columns(self, tmp_path):
        """A (n, 0) array is refused by the reader, not by k-means later."""
        path = tmp_path / "z.npy"
        np.save(path, np.zeros((5, 0)))
        with pytest.raises(DataError, match="no columns; it needs at least one"):
            read_table(str(path))

    def test_zero_rows(self, tmp_path):
        path = tmp_path / "r.npy"
        np.save(path, np.zeros((0, 3)))
        with pytest.raises(DataError, match="no rows"):
            read_table(str(path))

    def test_parquet_without_columns(self, tmp_path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "e.parquet"
        pq.write_table(pa.table({}), path)
        with pytest.raises(DataError, match="no columns"):
            read_table(str(path))
