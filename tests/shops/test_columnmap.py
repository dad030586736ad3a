"""Column maps: client shapes described in YAML; wrong or unknown keys named with the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.shops.columnmap import ColumnMap
from toolkit.errors import DataError, ParamsError
from toolkit.shops.schema import REQUIRED_COLUMNS, SizeScale

MAPS = Path(__file__).parents[2] / "params" / "column_maps"


def test_bundled_maps_load():
    canonical = ColumnMap.load(MAPS / "canonical.yaml")
    assert canonical.units == {"height": "cm", "weight": "kg"} and canonical.size_scale is None
    client = ColumnMap.load(MAPS / "example_client.yaml")
    assert client.units == {"height": "in", "weight": "lb"}
    assert client.columns["shop_id"] == "Store"
    assert client.size_scale == SizeScale.numeric(32, 56, 2)
    assert client.outcome_words()["small"] == "returned_too_small"
    assert client.outcome_words()["kept"] == "kept"  # canonical words always understood


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"colums": {}}, "colums"),
        ({"units": {"length": "cm"}}, "length"),
        ({"columns": {"heigth_cm": "H"}}, "heigth_cm"),
        ({"outcomes": {"exchanged": ["x"]}}, "exchanged"),
        ({"ranges": {"height_cm": {"low": 1}}}, "low"),
    ],
)
def test_unknown_keys_are_named_with_the_allowed_ones(data, named):
    with pytest.raises(ParamsError) as caught:
        ColumnMap.from_dict(data, source="maps/client.yaml")
    message = str(caught.value)
    assert message.startswith("maps/client.yaml: unknown keys")
    assert named in message and "allowed:" in message


def test_unknown_key_in_a_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "client.yaml"
    path.write_text("columns: {height_cm: H}\nunit: {height: in}\n")
    with pytest.raises(ParamsError, match=rf"{path}: unknown keys \['unit'\].*allowed: .*units"):
        ColumnMap.load(path)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"units": {"height": "feet"}}, "units.height is 'feet', expected one of"),
        ({"size_scale": {"numeric": {"start": 5}}}, "size_scale"),
        ({"ranges": {"age": [50, 10]}}, "min < max"),
        ({"columns": {"gender": "Sex"}, "constants": {"gender": "female"}}, "both mapped"),
    ],
)
def test_wrong_values_are_params_errors(data, words):
    with pytest.raises(ParamsError, match=words):
        ColumnMap.from_dict(data, source="m.yaml")


def test_missing_required_column_names_file_column_and_expectation():
    raw = pd.DataFrame({c: ["x"] for c in REQUIRED_COLUMNS if c != "height_cm"})
    with pytest.raises(DataError) as caught:
        ColumnMap.identity().source_columns(raw, source="client.csv")
    message = str(caught.value)
    assert message.startswith("client.csv: column 'height_cm' missing (expected a height column")
    assert "column map's 'columns'" in message


def test_mapped_column_absent_names_the_map_and_columns_found():
    cmap = ColumnMap.from_dict({"columns": {"height_cm": "Height"}}, source="m.yaml")
    raw = pd.DataFrame({c: ["x"] for c in REQUIRED_COLUMNS if c != "height_cm"} | {"Hight": [1]})
    with pytest.raises(DataError, match=r"client.csv: column 'Height' missing \(mapped to height_cm in m.yaml\)"):
        cmap.source_columns(raw, source="client.csv")


def test_constants_and_case_insensitive_headers_satisfy_required_columns():
    cmap = ColumnMap.from_dict({"constants": {"shop_id": "acme", "gender": "female"}})
    raw = pd.DataFrame({c.upper(): ["x"] for c in REQUIRED_COLUMNS if c not in ("shop_id", "gender")})
    found = cmap.source_columns(raw, source="c.csv")
    assert found["shop_id"] is None and found["height_cm"] == "HEIGHT_CM"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"time_format": "%Q"}, "time_format '%Q' is not a usable format ('Q' is a bad directive"),
        ({"time_format": "day-month-year"}, "has no %-directive"),
        ({"time_format": ["%d"]}, "time_format is ['%d'], expected one of"),
        ({"size_scale": {"numeric": {"start": "small", "stop": 56}}}, "size_scale: numeric start is 'small'"),
        ({"size_scale": {"numeric": {"start": 0, "stop": 1e12, "step": 1}}}, "more than 500 sizes"),
        ({"size_scale": {"numeric": {"start": 32, "stop": 56, "step": 0}}}, "step > 0"),
        ({"shopper_id_from": "Customer"}, "shopper_id_from is 'Customer', expected 'row'"),
        ({"shopper_id_from": "row", "columns": {"shopper_id": "C"}}, "both mapped and taken from the row"),
        ({"quarantine_columns": "height_cm"}, "'quarantine_columns' must be a list"),
    ],
)
def test_wrong_formats_and_scales_are_one_params_error_naming_the_field(data, words):
    with pytest.raises(ParamsError) as caught:
        ColumnMap.from_dict(data, source="m.yaml")
    message = str(caught.value)
    assert message.startswith("m.yaml: ") and words in message and "\n" not in message


def test_a_file_without_shopper_ids_can_say_each_row_is_a_shopper():
    cmap = ColumnMap.from_dict({"shopper_id_from": "row"}, source="survey.yaml")
    raw = pd.DataFrame({c: ["x"] for c in REQUIRED_COLUMNS if c != "shopper_id"})
    assert cmap.shopper_id_from_row and cmap.source_columns(raw, source="survey.csv")["shopper_id"] is None


def test_two_columns_matching_a_name_only_by_case_are_an_error_naming_both():
    raw = pd.DataFrame({c: ["x"] for c in REQUIRED_COLUMNS if c != "height_cm"} | {"Height_cm": [1], "HEIGHT_CM ": [2]})
    with pytest.raises(DataError, match=r"columns \['Height_cm', 'HEIGHT_CM '\] both match 'height_cm'"):
        ColumnMap.identity().source_columns(raw, source="client.csv")
