"""The finance report: one page per shop after the portfolio, a spreadsheet equal to the summary,
picks that only grow stricter with the tolerance, and no shopper named anywhere."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.results_fixtures import DEFAULT_SHOPS, PLANTED_SHOPPER_IDS, ShopSpec, build_sweep, shop_fractions, shop_runs, shop_segments
from toolkit.report import charts
from toolkit.errors import DataError
from toolkit.report.pdf import read_summary, write_report
from toolkit.experiment.config import PickRule
from toolkit.experiment.decision import pick_smallest_sufficient
from toolkit.report.spreadsheet import COLUMNS, MONEY_FORMAT, PERCENT_FORMAT, shop_columns

OK_SHOPS = [spec for spec in DEFAULT_SHOPS if spec.status == "ok"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    results = build_sweep(tmp_path_factory.mktemp("sweep"))
    return results, write_report(results)


def _pdf_text(path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def _cells(path) -> list:
    workbook = load_workbook(path)
    return [cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row]


def test_report_has_the_portfolio_then_one_page_per_shop(report) -> None:
    results, paths = report
    assert paths.out_dir == results / "report"
    assert len(PdfReader(paths.pdf).pages) == 1 + len(OK_SHOPS) == paths.pages
    assert [p.name for p in paths.pngs][0] == "portfolio.png"
    assert len(paths.pngs) == paths.pages and all(p.stat().st_size > 10_000 for p in paths.pngs)


def test_shop_pages_follow_the_portfolio_order(report) -> None:
    results, paths = report
    summary = pd.read_parquet(results / "summary.parquet")
    ok = summary[summary["status"] == "ok"].sort_values("saving_usd_per_month", ascending=False)
    pages = [page.extract_text() for page in PdfReader(paths.pdf).pages[1:]]
    shops = list(ok["shop_id"])
    assert [next(shop for shop in shops if f"{shop}:" in text) for text in pages] == shops


def test_spreadsheet_rows_equal_the_summary(report) -> None:
    results, paths = report
    summary = pd.read_parquet(results / "summary.parquet")
    sheet = load_workbook(paths.xlsx)["Shops"]
    rows = list(sheet.iter_rows(values_only=True))
    columns = shop_columns(summary)
    assert list(rows[0]) == [COLUMNS.get(c, (c.replace("_", " ").capitalize(),))[0] for c in columns]
    assert len(rows) - 1 == len(summary)
    for record, row in zip(summary.to_dict("records"), rows[1:]):
        for column, value in zip(columns, row):
            expected = record["saving_usd_per_month"] * 12 if column == "saving_usd_per_year" else record[column]
            if expected is None or (isinstance(expected, float) and math.isnan(expected)):
                assert value is None, column
            elif isinstance(expected, float):
                assert value == pytest.approx(expected, rel=1e-12), column
            else:
                assert value == expected, column


def test_spreadsheet_is_formatted_for_finance(report) -> None:
    _, paths = report
    workbook = load_workbook(paths.xlsx)
    sheet = workbook["Shops"]
    titles = [cell.value for cell in sheet[1]]
    assert sheet.freeze_panes == "B2"
    assert all("_" not in title for title in titles)
    money = titles.index("Saving (USD per month)") + 1
    rate = titles.index("Shoppers who would get another size") + 1
    assert sheet.cell(2, money).number_format.replace('"', "") == "$#,##0.00" == MONEY_FORMAT.replace('"', "")
    assert sheet.cell(2, rate).number_format == PERCENT_FORMAT == "0.0%"
    assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[1])
    assumptions = "\n".join(str(v) for v in _cells(paths.xlsx) if v is not None)
    for words in ("Google Cloud Compute Engine", "2025-06-01", "weekly", "Tolerance", "Confidence",
                  "Segment tolerance", "Generated at", "n2-standard-8", "0.38847", "this experiment's metered trainings",
                  "Allowed loss of holdout accuracy", "descending"):
        assert words in assumptions, words
    totals = {row[0]: row[1] for row in workbook["Totals"].iter_rows(values_only=True)}
    summary_saving = sum(sheet.cell(r, money).value or 0 for r in range(2, sheet.max_row + 1))
    assert totals["Saving (USD per month)"] == pytest.approx(summary_saving)
    assert totals["… that can train on less data"] == 2 and totals["… that need all their data"] == 1
    assert totals["… that can't tell (the model's own retraining noise is too high)"] == 1
    assert totals["What the experiments cost (USD)"] > 0


def test_report_numbers_agree_with_the_spreadsheet(report) -> None:
    results, paths = report
    text = _pdf_text(paths.pdf)
    totals = {row[0]: row[1] for row in load_workbook(paths.xlsx)["Totals"].iter_rows(values_only=True)}
    assert f"{charts.money(totals['Saving (USD per year)'])} per year saved ({charts.money(totals['Saving (USD per month)'])} per month)" in text
    assert f"This experiment cost {charts.money(totals['What the experiments cost (USD)'])} to run for 4 shops" in text
    assert "The weekly batch of" in text
    for spec in OK_SHOPS:
        pick = json.loads((results / spec.shop_id / "pick.json").read_text())
        if pick["verdict"] == "reduced":
            assert f"{charts.money(pick['saving_usd_per_month'])}/month saved" in text


def test_no_column_or_text_names_a_shopper(report) -> None:
    _, paths = report
    texts = [_pdf_text(paths.pdf), *(str(v) for v in _cells(paths.xlsx) if v is not None)]
    texts.append(json.dumps(PdfReader(paths.pdf).metadata or {}, default=str))
    for text in texts:
        assert "shopper_id" not in text.lower()
        assert not any(shopper in text for shopper in PLANTED_SHOPPER_IDS)


def test_groups_under_the_minimum_count_are_suppressed(report) -> None:
    results, paths = report
    text = _pdf_text(paths.pdf)
    assert "unknown (120)" not in text  # the 120-shopper group of the fixture
    assert "fewer than" in text


def test_without_summary_the_shops_come_from_their_pick_files(tmp_path) -> None:
    results = build_sweep(tmp_path, summary=False)
    summary = read_summary(results)
    assert set(summary.loc[summary["status"] == "ok", "shop_id"]) == {s.shop_id for s in OK_SHOPS}
    assert summary.set_index("shop_id").loc["dune-kids", "status"] == "incomplete"
    paths = write_report(results, out_dir=tmp_path / "out")
    assert len(PdfReader(paths.pdf).pages) == 1 + len(OK_SHOPS)
    assert "dune-kids" in PdfReader(paths.pdf).pages[0].extract_text()


def test_a_shop_without_pick_file_is_never_read_as_a_result(tmp_path) -> None:
    results = build_sweep(tmp_path)
    (results / "berlin-basics" / "pick.json").unlink()
    paths = write_report(results)
    assert len(PdfReader(paths.pdf).pages) == len(OK_SHOPS)  # portfolio + the two others


def test_a_folder_without_results_is_a_clear_data_error(tmp_path) -> None:
    (tmp_path / "half-done").mkdir()
    (tmp_path / "half-done" / "runs.parquet").write_bytes(b"")
    with pytest.raises(DataError, match=f"{tmp_path}.*pick.json"):
        write_report(tmp_path)
    with pytest.raises(DataError, match="no such results folder"):
        write_report(tmp_path / "missing")


STRICT_SHOPS = {}
for _spec in OK_SHOPS:
    _fractions = shop_fractions(_spec, shop_runs(_spec))
    STRICT_SHOPS[_spec.shop_id] = (_fractions, shop_segments(_spec, _fractions))


@settings(max_examples=40, deadline=None)
@given(
    shop=st.sampled_from(sorted(STRICT_SHOPS)),
    tolerances=st.lists(st.floats(0.0, 0.2, allow_nan=False), min_size=2, max_size=2),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_a_stricter_tolerance_never_picks_a_smaller_fraction(shop, tolerances, confidence) -> None:
    fractions, segments = STRICT_SHOPS[shop]
    strict, loose = sorted(tolerances)
    strict_pick = pick_smallest_sufficient(fractions, segments, PickRule(tolerance=strict, confidence=confidence))
    loose_pick = pick_smallest_sufficient(fractions, segments, PickRule(tolerance=loose, confidence=confidence))
    assert strict_pick.picked_fraction >= loose_pick.picked_fraction


@settings(max_examples=20, deadline=None)
@given(shop=st.sampled_from(sorted(STRICT_SHOPS)), tolerance=st.floats(0.0, 0.1, allow_nan=False))
def test_a_higher_confidence_never_picks_a_smaller_fraction(shop, tolerance) -> None:
    fractions, segments = STRICT_SHOPS[shop]
    picks = [
        pick_smallest_sufficient(fractions, segments, PickRule(tolerance=tolerance, confidence=c)).picked_fraction
        for c in (0.8, 0.9, 0.95, 0.99)
    ]
    assert picks == sorted(picks)


def test_report_of_a_copied_sweep_is_the_same(report, tmp_path) -> None:
    """The report reads only the results contract: a copy of the sweep gives the same pages."""
    results, paths = report
    copy = tmp_path / "copy"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("report*"))
    again = write_report(copy)
    assert _pdf_text(again.pdf) == _pdf_text(paths.pdf)


def test_enough_report_writes_the_report(tmp_path, capsys) -> None:
    from toolkit.cli import main

    results = build_sweep(tmp_path / "sweep")
    assert main(["report", str(results), "--out", str(tmp_path / "out")]) == 0
    assert "5 pages" in capsys.readouterr().out
    assert (tmp_path / "out" / "report.pdf").is_file() and (tmp_path / "out" / "summary.xlsx").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such results folder" in capsys.readouterr().err


# -- hardening: names, formulas, bad files, tampering, disk ------------------------------------
def _ids(*shop_ids: str) -> tuple:
    return tuple(ShopSpec(shop_id, 100_000 * (i + 1), 900.0 * (i + 1), 0.005, 0.02) for i, shop_id in enumerate(shop_ids))


def test_shop_ids_that_look_alike_get_a_page_and_picture_each(tmp_path) -> None:
    results = build_sweep(tmp_path, _ids("a b", "a&b"))
    paths = write_report(results)
    assert len(paths.pngs) == paths.pages == 3 == len({p.name for p in paths.pngs})
    assert all(p.parent == paths.out_dir for p in paths.pngs)


def test_spreadsheet_cells_are_values_never_formulas(tmp_path) -> None:
    import zipfile

    formula = '=HYPERLINK("http://x";"click")'
    paths = write_report(build_sweep(tmp_path, _ids(formula, "+1+cmd|'/c calc'!A0")))
    sheet = load_workbook(paths.xlsx)["Shops"]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if isinstance(cell.value, str)]
    assert formula in [cell.value for cell in cells]
    assert all(cell.data_type == "s" for cell in cells)
    with zipfile.ZipFile(paths.xlsx) as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")]
    assert not any(b"<f>" in xml or b"<f " in xml for xml in sheets)


def test_bad_result_files_leave_out_those_shops_only(tmp_path, capsys) -> None:
    from toolkit.cli import main

    results = build_sweep(tmp_path, _ids("bad-pick", "no-runs", "cut-runs", "fine"))
    (results / "bad-pick" / "pick.json").write_text('{"shop_id": "bad-pick", "pick')
    (results / "no-runs" / "runs.parquet").unlink()
    runs = results / "cut-runs" / "runs.parquet"
    runs.write_bytes(runs.read_bytes()[:100])
    assert main(["report", str(results)]) == 0
    report_pdf = results / "report" / "report.pdf"
    assert len(PdfReader(report_pdf).pages) == 2  # the portfolio and the one good shop
    err = capsys.readouterr().err
    for shop_id, words in (
        ("bad-pick", "pick.json: cannot be read"),
        ("no-runs", "runs.parquet: missing"),
        ("cut-runs", "runs.parquet: cannot be read"),
    ):
        assert f"{shop_id}: unreadable: " in err and words in err
    sheet = load_workbook(results / "report" / "summary.xlsx")["Shops"]
    status = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert status == {"bad-pick": "unreadable", "no-runs": "unreadable", "cut-runs": "unreadable", "fine": "ok"}
    assert "bad-pick" in PdfReader(report_pdf).pages[0].extract_text()  # named among shops without result


def test_a_truncated_summary_is_rebuilt_from_the_shop_folders(tmp_path) -> None:
    results = build_sweep(tmp_path, _ids("one", "two"))
    (results / "summary.parquet").write_bytes((results / "summary.parquet").read_bytes()[:200])
    paths = write_report(results)
    assert paths.pages == 3
    assert any("summary.parquet cannot be read" in note for note in paths.notes)


def test_a_pick_changed_after_it_was_sealed_is_flagged_not_shown(tmp_path) -> None:
    from toolkit.results import seal_results

    results = build_sweep(tmp_path, _ids("edited", "kept"))
    for shop_id in ("edited", "kept"):
        seal_results(results / shop_id)
    pick_path = results / "edited" / "pick.json"
    pick = json.loads(pick_path.read_text())
    pick["saving_usd_per_month"] = 1_000_000.0
    pick_path.write_text(json.dumps(pick))
    paths = write_report(results)
    assert paths.pages == 2
    [(shop_id, status, reason)] = paths.left_out
    assert shop_id == "edited" and status == "tampered" and "pick.json" in reason
    totals = {row[0]: row[1] for row in load_workbook(paths.xlsx)["Totals"].iter_rows(values_only=True)}
    assert totals["Shops with results"] == 1


def test_report_output_problems_are_one_line_and_leave_no_temporary_file(tmp_path, capsys, monkeypatch) -> None:
    import errno

    from matplotlib.figure import Figure

    from toolkit.cli import main

    results = build_sweep(tmp_path / "sweep", _ids("one"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["report", str(results), "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err

    def disk_full(self, file, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    assert main(["report", str(results), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
