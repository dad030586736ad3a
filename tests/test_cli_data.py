"""The `enough validate` and `enough generate` commands as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from toolkit.cli import main
from toolkit.shops.schema import REQUIRED_COLUMNS

ROOT = Path(__file__).parents[1]
ENOUGH = Path(sys.executable).parent / "enough"
GOOD = "acme,2024-03-04 10:00,s{i},p1,tops,female,168,64,35,M,kept"


def client_csv(path: Path, rows: int = 20, bad: int = 3) -> Path:
    lines = [",".join(REQUIRED_COLUMNS), *(GOOD.format(i=i) for i in range(rows))]
    lines += [GOOD.format(i=f"x{i}").replace(",168,", ",66,") for i in range(bad)]  # inches
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_prints_counts_and_writes_both_files(tmp_path, capsys):
    path = client_csv(tmp_path / "client.csv")
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "23 rows read = 20 clean + 3 quarantined" in printed
    assert "wrong_unit: height_cm" in printed
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert list(quarantine["source_row"]) == [21, 22, 23]
    assert len(pd.read_parquet(tmp_path / "out" / "clean.parquet")) == 20


def test_validate_with_a_column_map(tmp_path, capsys):
    code = main([
        "validate", str(ROOT / "tests" / "fixtures" / "example_client.csv"),
        "--column-map", str(ROOT / "params" / "column_maps" / "example_client.yaml"),
        "--out", str(tmp_path),
    ])
    assert code == 0 and "60 rows read = 60 clean" in capsys.readouterr().out


def _without_height(path: Path) -> Path:
    columns = [c for c in REQUIRED_COLUMNS if c != "height_cm"]
    path.write_text(",".join(columns) + "\nacme,2024-03-04,s1,p1,tops,female,64,35,M,kept\n")
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_without_height, "column 'height_cm' missing (expected a height column"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
        (lambda p: (p.write_bytes(bytes(range(256)) * 8), p)[1], "binary file"),
    ],
)
def test_unusable_files_give_one_error_line_and_exit_2(tmp_path, capsys, make, words):
    path = make(tmp_path / "bad.csv")
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"enough: error: {path}: ")
    assert words in err and "Traceback" not in err


def test_unknown_column_map_key_is_named(tmp_path, capsys):
    cmap = tmp_path / "m.yaml"
    cmap.write_text("colums: {height_cm: H}\n")
    code = main(["validate", str(client_csv(tmp_path / "c.csv")), "--column-map", str(cmap), "--out", str(tmp_path)])
    assert code == 2 and "unknown keys ['colums']" in capsys.readouterr().err


def test_generate_with_defects_writes_shops_and_expected_counts(tmp_path, capsys):
    out = tmp_path / "shops"
    code = main(["generate", "--shops", "2", "--out", str(out), "--seed", "4", "--defects",
                 "--rows-min", "3000", "--rows-max", "6000"])
    assert code == 0
    files = sorted(out.glob("*.parquet"))
    assert len(files) == 2 and "2 shop(s)" in capsys.readouterr().out
    expected = json.loads((out / "defects.json").read_text())
    assert sorted(expected) == [f.stem for f in files]


def test_installed_command_help_and_error_exit(tmp_path):
    """The console script as a user types it."""
    shown = subprocess.run([str(ENOUGH), "--help"], capture_output=True, text=True, check=True)
    assert "validate" in shown.stdout and "generate" in shown.stdout
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    run = subprocess.run([str(ENOUGH), "validate", str(empty), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"enough: error: {empty}: empty file, expected a CSV or Parquet table with a header row"
    )


def _one_error_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("enough: error: "), err
    assert "Traceback" not in err
    return err


def test_an_unusable_out_folder_is_refused_before_the_file_is_read(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    missing = tmp_path / "not-read-yet.csv"  # never opened: --out is checked first
    for out in (a_file, a_file / "below"):
        err = _one_error_line(capsys, main(["validate", str(missing), "--out", str(out)]))
        assert f"--out {out}: cannot write there ({a_file} is a file, not a folder)" in err


def test_a_read_only_or_full_out_folder_is_one_line_and_leaves_no_file(tmp_path, capsys, monkeypatch):
    import errno
    import tempfile

    path = client_csv(tmp_path / "client.csv")
    out = tmp_path / "out"
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, **kwargs):
        if str(kwargs.get("dir", "")).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", read_only)
        err = _one_error_line(capsys, main(["validate", str(path), "--out", str(out)]))
    assert f"--out {out}: cannot write there (Read-only file system)" in err

    def disk_full(self, file, **kwargs):
        file.write(b"PAR1 half a table")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    err = _one_error_line(capsys, main(["validate", str(path), "--out", str(out)]))
    assert "clean.parquet: cannot be written (No space left on device)" in err
    assert list(out.iterdir()) == []  # no half file, no temporary file


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("units: {height: cm}\n# Zürich\n".encode("latin-1"), "is not UTF-8 text"),
        (bytes(range(128, 256)), "is not UTF-8 text"),
        (b"size_scale: {numeric: {start: small, stop: 56}}\n", "size_scale: numeric start is 'small'"),
        (b"size_scale: {numeric: {start: 0, stop: 1.0e+12, step: 1}}\n", "more than 500 sizes"),
        (b"time_format: '%Q'\n", "time_format '%Q' is not a usable format"),
    ],
    ids=["latin-1", "binary", "text scale", "absurd scale", "bad time format"],
)
def test_a_wrong_column_map_is_one_line_naming_file_and_field(tmp_path, capsys, content, words):
    cmap = tmp_path / "m.yaml"
    cmap.write_bytes(content)
    code = main(["validate", str(client_csv(tmp_path / "c.csv")), "--column-map", str(cmap), "--out", str(tmp_path / "o")])
    err = _one_error_line(capsys, code)
    assert err.startswith(f"enough: error: {cmap}: ") and words in err


def test_quarantine_columns_keep_only_what_is_asked(tmp_path, capsys):
    path = client_csv(tmp_path / "client.csv")
    assert main(["validate", str(path), "--out", str(tmp_path / "o"), "--quarantine-columns", "height_cm,size"]) == 0
    stored = pd.read_parquet(tmp_path / "o" / "quarantine.parquet")
    assert list(stored.columns) == ["height_cm", "size", "reason", "source_row"] and len(stored) == 3
    assert main(["validate", str(path), "--out", str(tmp_path / "p"), "--quarantine-columns", ""]) == 0
    assert list(pd.read_parquet(tmp_path / "p" / "quarantine.parquet").columns) == ["reason", "source_row"]


def test_a_file_can_be_piped_in(tmp_path):
    lines = [",".join(REQUIRED_COLUMNS), *(GOOD.format(i=i) for i in range(3000))]  # over 64 KB
    run = subprocess.run(
        [str(ENOUGH), "validate", "/dev/stdin", "--out", str(tmp_path / "o")],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "3,000 rows read = 3,000 clean" in run.stdout
