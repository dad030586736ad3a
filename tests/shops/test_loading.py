"""read_table: any common CSV shape or Parquet in; an unusable file out with one clear message."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from toolkit.errors import DataError
from toolkit.shops.loading import read_table
from toolkit.results import write_parquet

ROWS = "height_cm{d}weight_kg{d}city\n170{d}65{d}Zürich\n180{d}80{d}Köln\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_csv_any_delimiter_and_encoding_reads_the_same_table(tmp_path, delimiter, encoding):
    path = tmp_path / "client.csv"
    path.write_bytes(ROWS.format(d=delimiter).encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["height_cm", "weight_kg", "city"]
    assert list(frame["city"]) == ["Zürich", "Köln"]
    assert list(frame["height_cm"]) == ["170", "180"]  # cells kept as sent


def test_gzipped_csv_and_parquet_are_read(tmp_path):
    gz = tmp_path / "client.csv.gz"
    gz.write_bytes(gzip.compress(ROWS.format(d=",").encode()))
    assert len(read_table(gz)) == 2
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    path = write_parquet(frame, tmp_path / "shop.parquet")
    back = read_table(path)
    assert list(back["a"]) == [1.5, 2.5] and list(back["b"]) == ["x", "y"]


def test_empty_cells_are_missing(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a,b\n1,\n,2\n")
    frame = read_table(path)
    assert frame["b"].isna().tolist() == [True, False]
    assert frame["a"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"a,b,c\n", "header only"),
        (bytes(range(256)) * 20, "binary file"),
        (b"PK\x03\x04" + b"\x00" * 100, "ZIP archive"),
    ],
)
def test_unusable_file_names_the_file_and_what_was_expected(tmp_path, content, expected):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message and "expected a CSV or Parquet table" in message
    assert "\n" not in message


def test_missing_file_folder_and_fake_parquet(tmp_path):
    for path, words in (
        (tmp_path / "nope.csv", "file not found"),
        (tmp_path, "is a folder"),
    ):
        with pytest.raises(DataError, match=words):
            read_table(path)
    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a Parquet file"):
        read_table(fake)
