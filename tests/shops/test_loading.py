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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_files_are_read_not_called_binary(tmp_path, encoding):
    path = tmp_path / "export.csv"
    path.write_bytes(ROWS.format(d="\t").encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["height_cm", "weight_kg", "city"]
    assert list(frame["city"]) == ["Zürich", "Köln"]


def test_latin1_after_the_first_64_kb_is_still_latin1(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"city,n\n" + b"Bern,1\n" * 12_000 + "Zürich,2\n".encode("latin-1"))
    frame = read_table(path)
    assert len(frame) == 12_001 and frame["city"].iloc[-1] == "Zürich"


def test_rows_of_another_length_are_kept_in_place(tmp_path):
    from toolkit.shops.loading import EXTRA_FIELDS

    path = tmp_path / "ragged.csv"
    path.write_text('a,b,c\n1,2,3\n4,5,6,7,8\n9,10\n"x\ny",11,12\n13,14,15\n')
    frame = read_table(path)
    assert list(frame["a"]) == ["1", "4", "9", "x\ny", "13"]  # every row, in file order
    assert frame["c"].isna().tolist() == [False, False, True, False, False]  # the short row: empty cell
    assert frame[EXTRA_FIELDS].tolist()[1] == "7,8" and frame[EXTRA_FIELDS].isna().sum() == 4


def test_a_header_naming_a_column_twice_is_an_error_naming_it(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("height_cm,weight_kg,height_cm \n170,65,171\n")
    with pytest.raises(DataError, match=r"column 'height_cm' appears twice in the header \(columns 1 and 3\)"):
        read_table(path)


def test_a_pipe_is_read_whole(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    content = b"a,b\n" + b"1,2\n" * 40_000  # well over the 64 KB sample

    def write() -> None:
        with open(fifo, "wb") as writer:
            writer.write(content)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    frame = read_table(fifo)
    writer.join(timeout=10)
    assert list(frame.columns) == ["a", "b"] and len(frame) == 40_000
    assert not list(tmp_path.glob("enough-pipe-*"))


def test_a_pipe_nothing_writes_to_and_a_device_are_refused(tmp_path, monkeypatch):
    import os

    from toolkit.shops import loading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    monkeypatch.setattr(loading, "PIPE_WAIT_SECONDS", 0.2)
    with pytest.raises(DataError, match="a pipe nothing wrote to within 0.2 s"):
        read_table(fifo)
    with pytest.raises(DataError, match="is a device or socket"):
        read_table("/dev/null")
