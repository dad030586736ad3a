"""Reading cell values: text columns become the categoricals ``astype("category")`` would make."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.shops import parsing

CELLS = st.lists(st.sampled_from(["a", " a", "b ", "B", "", None, "ä", "10", "z z"]), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(cells=CELLS, kind=st.sampled_from(["object", "string[pyarrow]", "category"]), data=st.data())
def test_text_as_categorical_equals_astype_category_of_the_stripped_text(cells, kind, data) -> None:
    column = pd.Series(cells, dtype=object).astype(kind)
    coded, missing = parsing.text(column)
    rows = np.array(data.draw(st.lists(st.integers(0, len(cells) - 1), unique=True)), dtype=np.int64)
    stripped = [c.strip() if c is not None and c.strip() else None for c in cells]
    assert list(coded.rows(rows)) == [stripped[r] for r in rows]  # checked against the cells themselves
    expected = pd.Series(coded.rows(rows), dtype=object).astype("category")
    got = pd.Series(coded.categorical(rows))
    pd.testing.assert_series_equal(got, expected)
    assert list(missing) == [c is None or not str(c).strip() for c in cells]


def test_float_codes_are_equal_exactly_where_the_values_are() -> None:
    values = pd.Series([0.0, -0.0, np.nan, float("nan"), 1.5, 1.5, -2.0])
    codes = parsing.codes(values)
    assert codes[0] == codes[1] and codes[2] == codes[3] and codes[4] == codes[5]
    assert len(set(codes[[0, 2, 4, 6]])) == 4
