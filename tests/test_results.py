"""The results contract: shop folder names, atomic writes, and results checked before they are shown."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import OutputError
from toolkit.results import (
    FRACTIONS_FILE,
    PICK_FILE,
    RUNS_FILE,
    SEAL_FILE,
    prepare_output_dir,
    seal_results,
    shop_folder_name,
    shop_id_of_folder,
    verify_shop_results,
    write_json,
    write_parquet,
)

HOSTILE_IDS = ["../../x", "/abs/path", "..", ".", ".hidden", "a b", "a&b", "{x}", "a/b\\c", "%41", "Zürich 🛍", "~", "-"]


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_shop_id_gets_one_safe_folder_name_that_gives_the_id_back(shop_id: str) -> None:
    name = shop_folder_name(shop_id)
    assert name not in {".", ".."} and not name.startswith(".")
    assert not set(name) & set("/\\{}\0 ")
    assert Path(name).name == name and len(name.encode()) <= 200
    if "~" not in name:  # every id whose name fits in 200 bytes; longer ones end in a hash
        assert shop_id_of_folder(name) == shop_id
    else:
        assert len(shop_id.encode("utf-8", "surrogatepass")) * 3 > 200 - 40


@given(st.lists(st.text(min_size=1, max_size=120), min_size=2, max_size=2, unique=True))
def test_two_different_shop_ids_never_share_a_folder(ids: list[str]) -> None:
    first, second = ids
    assert shop_folder_name(first) != shop_folder_name(second)


def test_plain_ids_keep_their_names_and_hostile_ones_stay_inside(tmp_path: Path) -> None:
    for plain in ("shop-01-alpine", "demo-shop", "Shop_7.v2"):
        assert shop_folder_name(plain) == plain
    assert shop_folder_name("a b") != shop_folder_name("a&b")
    for shop_id in HOSTILE_IDS:
        folder = (tmp_path / shop_folder_name(shop_id)).resolve()
        assert folder.parent == tmp_path.resolve(), shop_id
    long = "é" * 300
    assert shop_folder_name(long) != shop_folder_name(long + "x") and len(shop_folder_name(long)) <= 200


def test_a_write_that_fails_leaves_no_file_and_says_which(tmp_path: Path) -> None:
    def disk_full(file) -> None:
        file.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    from toolkit.results import write_atomically

    write_json({"old": True}, tmp_path / "pick.json")
    with pytest.raises(OutputError, match=r"pick\.json: cannot be written \(No space left on device\)"):
        write_atomically(tmp_path / "pick.json", disk_full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pick.json"]  # the old file, no temporary one
    assert json.loads((tmp_path / "pick.json").read_text()) == {"old": True}


def test_an_output_folder_that_is_a_file_or_under_one_is_refused_first(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="--out .*file.*is a file, not a folder"):
        prepare_output_dir(a_file, what="--out")
    with pytest.raises(OutputError, match="--out .*is a file, not a folder"):
        prepare_output_dir(a_file / "below", what="--out")
    assert prepare_output_dir(tmp_path / "new" / "deep", what="--out").is_dir()
    assert not list((tmp_path / "new" / "deep").iterdir())  # the write check leaves nothing behind


def test_an_output_folder_that_cannot_be_written_is_refused(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="Read-only file system"):
        prepare_output_dir(tmp_path, what="--out")


def _sealed_results(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_parquet(pd.DataFrame({"fraction": [0.5, 1.0], "changed_rate": [0.01, 0.0]}), folder / RUNS_FILE)
    write_parquet(pd.DataFrame({"fraction": [0.5, 1.0], "excess_drift": [0.01, 0.0]}), folder / FRACTIONS_FILE)
    write_json({"shop_id": "s", "picked_fraction": 0.5, "reduced": True}, folder / PICK_FILE)
    seal_results(folder)
    return folder


def test_results_are_checked_against_their_seal(tmp_path: Path) -> None:
    folder = _sealed_results(tmp_path / "s")
    assert verify_shop_results(folder) is None
    if shutil.which("sha256sum"):  # the seal is in the standard format
        subprocess.run(["sha256sum", "--quiet", "-c", SEAL_FILE], cwd=folder, check=True)

    pick = folder / PICK_FILE
    pick.write_text(pick.read_text().replace("0.5", "0.25"))  # edited by hand: still valid JSON
    problem = verify_shop_results(folder)
    assert problem.status == "tampered" and "pick.json" in problem.reason

    pick.write_text('{"shop_id": "s", "pick')  # cut short
    assert verify_shop_results(folder).status == "unreadable"
    pick.unlink()
    assert verify_shop_results(folder).status == "incomplete"


@pytest.mark.parametrize(
    "damage",
    [
        lambda folder: (folder / RUNS_FILE).unlink(),
        lambda folder: (folder / RUNS_FILE).write_bytes((folder / RUNS_FILE).read_bytes()[:40]),
        lambda folder: (folder / PICK_FILE).write_text("[1, 2]"),
    ],
    ids=["runs missing", "runs truncated", "pick not an object"],
)
def test_unreadable_results_name_the_file(tmp_path: Path, damage) -> None:
    folder = _sealed_results(tmp_path / "s")
    damage(folder)
    problem = verify_shop_results(folder)
    assert problem.status == "unreadable" and str(folder) in problem.reason and "\n" not in problem.reason
