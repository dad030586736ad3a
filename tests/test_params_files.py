"""Hand-written YAML (column maps, sweep files, pricing): aliases limited, UTF-8 only, one clear error."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from toolkit.errors import ParamsError
from toolkit.experiment.pricing import Pricing
from toolkit.params_files import MAX_BYTES, read_yaml_file
from toolkit.shops.columnmap import ColumnMap
from toolkit.sweep.spec import SweepSpec

#: "Billion laughs": nine levels of nine aliases, 9**9 (387 million) strings once expanded.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, level in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "load", [ColumnMap.load, SweepSpec.load, Pricing.load], ids=["column map", "sweep file", "pricing file"]
)
def test_a_yaml_bomb_is_refused_at_once(tmp_path: Path, load) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    with pytest.raises(ParamsError) as caught:
        load(path)
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert message.startswith(str(path)) and "aliases expand to more than" in message and "\n" not in message


@pytest.mark.parametrize(
    "load", [ColumnMap.load, SweepSpec.load, Pricing.load], ids=["column map", "sweep file", "pricing file"]
)
def test_a_latin1_file_is_named_as_such(tmp_path: Path, load) -> None:
    path = tmp_path / "saved-by-excel.yaml"
    path.write_bytes("name: Zürich\n".encode("latin-1"))
    with pytest.raises(ParamsError, match=r"is not UTF-8 text \(byte 0xfc at offset 7\), expected a YAML file saved as UTF-8"):
        load(path)


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &base {model: hgb, seeds: [0, 1]}\nquick: {<<: *base, fractions: [0.5]}\n")
    assert read_yaml_file(path, what="sweep file")["quick"] == {"model": "hgb", "seeds": [0, 1], "fractions": [0.5]}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("a: &a [*a]\n".encode(), "an alias contains itself"),
        ("units: {height: in}\n# Zürich\n".encode("latin-1"), "not UTF-8 text (byte 0xfc"),
        (bytes(range(128, 256)) * 4, "not UTF-8 text"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b"columns: {height_cm: [1\n", "not valid YAML"),
        (b"x: 1\n" * (MAX_BYTES // 5 + 1), f"larger than {MAX_BYTES:,} bytes"),
    ],
    ids=["recursive alias", "latin-1", "binary", "deep nesting", "broken", "huge"],
)
def test_files_that_are_not_small_utf8_yaml_get_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_bytes(content)
    with pytest.raises(ParamsError) as caught:
        ColumnMap.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


@pytest.mark.parametrize("load", [ColumnMap.load, SweepSpec.load], ids=["column map", "sweep file"])
def test_a_pipe_nothing_writes_to_is_refused_not_waited_on(tmp_path: Path, load) -> None:
    path = tmp_path / "settings.yaml"
    os.mkfifo(path)
    started = time.perf_counter()
    with pytest.raises(ParamsError, match="not a regular file") as caught:
        load(path)
    assert time.perf_counter() - started < 5 and str(path) in str(caught.value)
