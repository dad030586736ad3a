"""Validation: every row clean or quarantined under its reason, counts that add up, volume flags."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from toolkit.shops.columnmap import ColumnMap
from toolkit.errors import DataError, ParamsError
from toolkit.shops.generate import ShopProfile, generate_shop
from toolkit.shops.loading import read_table
from toolkit.results import write_parquet
from toolkit.shops.schema import OUTCOMES, REQUIRED_COLUMNS, SizeScale
from toolkit.shops.validate import CHECK_ORDER, load_shop, validate, validate_file
from toolkit.shops.volume import weekly_volume

FIXTURES = Path(__file__).parents[1] / "fixtures"
MAPS = Path(__file__).parents[2] / "params" / "column_maps"

GOOD = ["acme", "2024-03-04 10:00", "s1", "p1", "tops", "female", "168", "64", "35", "M", "kept"]
#: (a dirty row as the client sent it, the reason it must be quarantined under)
DIRTY: list[tuple[dict[str, str], str]] = [
    ({"height_cm": "66"}, "wrong_unit: height_cm"),  # inches
    ({"height_cm": "1.75"}, "wrong_unit: height_cm"),  # metres
    ({"weight_kg": "640"}, "wrong_unit: weight_kg"),  # x10
    ({"weight_kg": "180", "height_cm": "160"}, "wrong_unit: weight_kg"),  # pounds: BMI 70
    ({"height_cm": ""}, "missing_value: height_cm"),
    ({"outcome": ""}, "missing_value: outcome"),
    ({"shopper_id": " "}, "missing_value: shopper_id"),
    ({"age": "thirty"}, "unparseable_value: age"),
    ({"gender": "banana"}, "unparseable_value: gender"),
    ({"event_time": "31/31/2024"}, "bad_timestamp"),
    ({"event_time": "1970-01-01"}, "bad_timestamp"),
    ({"age": "7"}, "implausible_value: age"),
    ({"height_cm": "250"}, "implausible_value: height_cm"),
    ({"size": "XXXXXL"}, "size_not_on_scale"),
    ({"size": "banana"}, "size_not_on_scale"),
    ({"outcome": "exchanged"}, "unknown_outcome"),
]


def dirty_csv(path: Path) -> tuple[Path, dict[int, str]]:
    """A client CSV with good rows, each DIRTY row once, and a duplicate; row number -> reason."""
    rows, expected = [], {}
    for i in range(40):
        row = list(GOOD)
        row[1] = f"2024-03-{4 + i % 20:02d} 1{i % 10}:00"
        row[2] = f"s{i}"
        rows.append(row)
    for change, reason in DIRTY:
        row = dict(zip(REQUIRED_COLUMNS, GOOD))
        row["shopper_id"] = f"d{len(rows)}"
        row.update(change)
        rows.append([row[c] for c in REQUIRED_COLUMNS])
        expected[len(rows)] = reason
    rows.append(list(rows[3]))
    expected[len(rows)] = "duplicate"
    lines = [",".join(REQUIRED_COLUMNS), *(",".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, expected


def test_dirty_client_csv_every_bad_row_quarantined_under_its_reason(tmp_path):
    path, expected = dirty_csv(tmp_path / "client.csv")
    result = validate(read_table(path), ColumnMap.identity(), source=str(path))
    found = dict(zip(result.quarantine["source_row"], result.quarantine["reason"]))
    assert found == expected
    assert result.rows_read == result.rows_clean + result.rows_quarantined == 40 + len(DIRTY) + 1
    counts = result.counts.set_index("reason")["rows"]
    assert counts.sum() == result.rows_read and counts["clean"] == 40
    # the quarantined row is the row as sent, with its reason
    inch_row = result.quarantine[result.quarantine["source_row"] == 41].iloc[0]
    assert inch_row["height_cm"] == "66" and inch_row["shopper_id"] == "d40"


def test_clean_frame_is_canonical(tmp_path):
    path, _ = dirty_csv(tmp_path / "client.csv")
    clean = validate(read_table(path), source=str(path)).clean
    assert list(clean.columns) == list(REQUIRED_COLUMNS)
    assert str(clean["event_time"].dtype) == "datetime64[ns, UTC]"
    assert clean["event_time"].is_monotonic_increasing
    assert clean["size"].dtype.ordered and SizeScale.of(clean["size"]) == SizeScale.letters()
    for column in ("height_cm", "weight_kg", "age"):
        assert clean[column].dtype == np.float64
    assert clean["shop_id"].map(type).eq(str).all()


def test_duplicate_keeps_the_first_copy_clean():
    raw = pd.DataFrame([GOOD, GOOD, GOOD], columns=list(REQUIRED_COLUMNS))
    result = validate(raw, source="dupes.csv")
    assert result.rows_clean == 1 and list(result.quarantine["source_row"]) == [2, 3]
    assert set(result.quarantine["reason"]) == {"duplicate"}


def test_first_failing_check_wins():
    row = dict(zip(REQUIRED_COLUMNS, GOOD)) | {"height_cm": "", "size": "ZZ", "outcome": "swap"}
    raw = pd.DataFrame([dict(zip(REQUIRED_COLUMNS, GOOD)), row])
    result = validate(raw, source="x.csv")
    assert result.quarantine["reason"].tolist() == ["missing_value: height_cm"]
    assert [CHECK_ORDER.index(r.split(":")[0]) for r in result.counts["reason"][1:]] == sorted(
        CHECK_ORDER.index(r.split(":")[0]) for r in result.counts["reason"][1:]
    )


def test_ranges_are_configurable():
    tall = dict(zip(REQUIRED_COLUMNS, GOOD)) | {"height_cm": "215", "shopper_id": "s9"}
    raw = pd.DataFrame([dict(zip(REQUIRED_COLUMNS, GOOD)), tall])
    assert validate(raw, source="x").rows_quarantined == 0
    strict = validate(raw, source="x", ranges={"height_cm": (140, 200)})
    assert strict.quarantine["reason"].tolist() == ["implausible_value: height_cm"]


def test_no_usable_row_is_a_data_error_naming_the_file():
    raw = pd.DataFrame([GOOD], columns=list(REQUIRED_COLUMNS)).assign(height_cm="")
    with pytest.raises(DataError, match=r"^empty\.csv: no usable row left, all 1 rows quarantined"):
        validate(raw, source="empty.csv")


CELL = st.one_of(
    st.sampled_from(["", " ", "nan", "M", "xl", "36", "170", "66", "65", "650", "kept", "fit", "f", "2024-05-06"]),
    st.text(max_size=4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*[CELL] * len(REQUIRED_COLUMNS)), min_size=1, max_size=25), st.data())
def test_rows_read_always_equal_clean_plus_quarantined(cells, data):
    """Whatever the client sends, every row lands in exactly one table (or none is usable)."""
    rows = [list(c) for c in cells]
    keep_good = data.draw(st.booleans())
    if keep_good:
        rows.append(list(GOOD))
    raw = pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS))
    letters = ColumnMap.from_dict({"size_scale": "letters"})
    try:
        result = validate(raw, letters, source="fuzz.csv")
    except DataError as err:
        assert not keep_good and "no usable row" in str(err)
        return
    assert result.rows_read == len(raw) == result.rows_clean + result.rows_quarantined
    assert result.counts["rows"].sum() == len(raw)
    assert result.quarantine["source_row"].is_unique
    assert set(result.quarantine["source_row"]) <= set(range(1, len(raw) + 1))
    assert result.quarantine["reason"].notna().all()
    assert set(result.clean["outcome"]) <= set(OUTCOMES)


def test_client_file_through_column_map_gives_clean_canonical_shops(tmp_path):
    csv = FIXTURES / "example_client.csv"
    result = validate_file(csv, column_map=MAPS / "example_client.yaml", out_dir=tmp_path)
    raw = read_table(csv)
    assert result.rows_read == len(raw) == result.rows_clean
    clean = pd.read_parquet(tmp_path / "clean.parquet")
    assert sorted(clean["shop_id"].unique()) == ["north", "south"]
    assert SizeScale.of(clean["size"]) == SizeScale.numeric(32, 56, 2)
    assert set(clean["outcome"]) <= set(OUTCOMES) and "kept" in set(clean["outcome"])
    assert set(clean["gender"]) <= {"female", "male", "unknown"}
    by_customer = raw.drop_duplicates("Customer").set_index("Customer")
    joined = clean.drop_duplicates("shopper_id").join(by_customer, on="shopper_id")
    np.testing.assert_allclose(joined["height_cm"], joined["Height (in)"].astype(float) * 2.54)
    np.testing.assert_allclose(joined["weight_kg"], joined["Weight (lb)"].astype(float) / 2.20462)
    assert clean["height_cm"].between(140, 205).all() and clean["weight_kg"].between(35, 240).all()
    shop = load_shop(csv, shop_id="south", column_map=MAPS / "example_client.yaml")
    assert shop.shop_id == "south" and set(shop.frame["shop_id"]) == {"south"}
    assert shop.rows_read == len(shop.frame) == (raw["Store"] == "south").sum()


def test_load_shop_needs_a_shop_id_when_the_file_holds_several():
    with pytest.raises(ParamsError, match=r"holds 2 shops \['north', 'south'\]"):
        load_shop(FIXTURES / "example_client.csv", column_map=MAPS / "example_client.yaml")


def test_load_shop_writes_the_quarantine_and_counts_add_up(tmp_path):
    path, expected = dirty_csv(tmp_path / "client.csv")
    shop = load_shop(path, quarantine_dir=tmp_path / "q")
    assert shop.rows_read == len(shop.frame) + shop.rows_quarantined == 40 + len(DIRTY) + 1
    assert sum(shop.reasons.values()) == shop.rows_quarantined == len(expected)
    quarantine = pd.read_parquet(tmp_path / "q" / "quarantine.parquet")
    assert dict(zip(quarantine["source_row"], quarantine["reason"])) == expected


def test_canonical_parquet_goes_through_unchanged(tmp_path):
    frame = generate_shop(ShopProfile(shop_id="p", scale_kind="us"), 1500, seed=3)
    path = write_parquet(frame, tmp_path / "p.parquet")
    shop = load_shop(path)
    assert shop.rows_quarantined == 0 and shop.scale == SizeScale.numeric(0, 58, 2)
    # The same values; text columns come back as categoricals (memory of large shops).
    pd.testing.assert_frame_equal(shop.frame, frame, check_like=False, check_categorical=False,
                                  check_dtype=False)
    assert isinstance(shop.frame["shopper_id"].dtype, pd.CategoricalDtype)


def _weekly(counts: list[int]) -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday
    times = [start + pd.Timedelta(weeks=w, hours=1 + i % 100) for w, c in enumerate(counts) for i in range(c)]
    return pd.DataFrame({"shop_id": "s", "event_time": pd.DatetimeIndex(times)})


def test_volume_flags_a_missing_week_a_drop_and_a_spike_but_not_normal_noise():
    rng = np.random.default_rng(0)
    counts = list(rng.poisson(100, 40))
    counts[10], counts[20], counts[30] = 0, 20, 450
    volume = weekly_volume(_weekly(counts))
    flagged = volume[volume["flagged"]]
    assert list(flagged.index) == [10, 20, 30]
    assert flagged["why"].str.split(":").str[0].tolist() == ["missing week", "drop", "spike"]
    assert (volume["purchases"].to_numpy() == counts).all()


def test_volume_never_flags_partial_edges_or_short_histories():
    assert not weekly_volume(_weekly([3, 100, 100, 100, 100, 100, 100, 100, 100, 5]))["flagged"].any()
    assert not weekly_volume(_weekly([100, 0, 100, 100]))["flagged"].any()


def test_slash_dates_are_read_with_one_order_per_column_and_ambiguity_is_an_error() -> None:
    from toolkit.shops.columnmap import ColumnMap
    from toolkit.errors import DataError
    from toolkit.shops.validate import validate

    base = {
        "shop_id": "s", "shopper_id": "a", "product_id": "p", "category": "tops", "gender": "female",
        "height_cm": 165.0, "weight_kg": 65.0, "age": 30.0, "size": "M", "outcome": "kept",
    }
    european = pd.DataFrame([{**base, "shopper_id": f"u{i}", "event_time": t}
                             for i, t in enumerate(["03/04/2024", "13/04/2024", "25/12/2024"])])
    clean = validate(european, ColumnMap.identity(), source="eu.csv").clean
    assert sorted(clean["event_time"].dt.strftime("%Y-%m-%d")) == ["2024-04-03", "2024-04-13", "2024-12-25"]
    ambiguous = european.assign(event_time=["03/04/2024", "05/06/2024", "01/02/2024"])
    with pytest.raises(DataError, match="ambig.*|eu.csv: column 'event_time'.*time_format"):
        validate(ambiguous, ColumnMap.identity(), source="eu.csv")


def test_a_row_with_extra_fields_is_quarantined_not_the_whole_file(tmp_path):
    path, expected = dirty_csv(tmp_path / "client.csv")
    lines = path.read_text().splitlines()
    lines[5] += ",surplus,cells"  # data row 5
    path.write_text("\n".join(lines) + "\n")
    result = validate(read_table(path), source=str(path))
    found = dict(zip(result.quarantine["source_row"], result.quarantine["reason"]))
    assert found == {**expected, 5: "extra_fields"}
    assert result.rows_read == result.rows_clean + result.rows_quarantined == 40 + len(DIRTY) + 1
    row = result.quarantine[result.quarantine["source_row"] == 5].iloc[0]
    assert row["(extra fields)"] == "surplus,cells" and row["shopper_id"] == "s4"


def test_a_file_without_shopper_ids_can_count_each_row_as_a_shopper(tmp_path):
    columns = [c for c in REQUIRED_COLUMNS if c != "shopper_id"]
    rows = [[v for c, v in zip(REQUIRED_COLUMNS, GOOD) if c != "shopper_id"] for _ in range(3)]
    rows[1][1] = "2024-03-05 10:00"
    rows[2][1] = "2024-03-06 10:00"
    path = tmp_path / "survey.csv"
    path.write_text("\n".join(",".join(r) for r in [columns, *rows]) + "\n")
    with pytest.raises(DataError, match="column 'shopper_id' missing"):
        validate(read_table(path), source=str(path))
    cmap = tmp_path / "survey.yaml"
    cmap.write_text("shopper_id_from: row\n")
    result = validate(read_table(path), ColumnMap.load(cmap), source=str(path))
    assert result.shopper_id_from_row and result.rows_clean == 3
    assert result.clean["shopper_id"].nunique() == 3
    assert "each row is counted as its own shopper" in result.summary_table()
    assert load_shop(path, column_map=cmap).shopper_id_from_row
    assert not load_shop(dirty_csv(tmp_path / "with-ids.csv")[0]).shopper_id_from_row


def test_the_quarantine_keeps_only_the_columns_asked_for(tmp_path):
    path, expected = dirty_csv(tmp_path / "client.csv")
    result = validate_file(path, out_dir=tmp_path / "out", quarantine_columns=["height_cm", "Weight_KG"])
    stored = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert list(stored.columns) == ["height_cm", "weight_kg", "reason", "source_row"]
    assert len(stored) == result.rows_quarantined == len(expected)
    cmap = ColumnMap.from_dict({"columns": {"height_cm": "height_cm"}, "quarantine_columns": []}, source="m.yaml")
    assert list(validate(read_table(path), cmap, source=str(path)).quarantine.columns) == ["reason", "source_row"]
    with pytest.raises(ParamsError, match=r"quarantine columns \['email'\] not in the file"):
        validate(read_table(path), source=str(path), quarantine_columns=["email"])
