"""The volume check: weekly purchase counts per shop, with abnormal weeks flagged.

A sudden drop in the number of purchases a client sends is the defect the team trusts least (an
export that silently lost a store, a week that never arrived). :func:`weekly_volume` counts clean
purchases per shop and ISO week (Monday to Sunday, UTC), including weeks with **zero** purchases
between the shop's first and last week, and flags weeks far outside the shop's own normal range.

The rule, on ``x = log(count + 1)`` per week:

* ``expected`` is the median count of the 13 weeks centred on the week (the shop's local normal,
  which follows seasonality and growth; the week itself is one of 13, so it cannot hide itself);
* ``spread`` is 1.4826 × the median absolute deviation of ``x − log(expected + 1)`` over all the
  shop's weeks (a robust standard deviation of the week-to-week noise);
* a week is flagged when ``|x − log(expected + 1)| > max(4 × spread, log 2)``, i.e. at least half or
  double the expected count *and* four robust deviations away, and ``expected >= 5`` purchases;
* ``why`` says ``missing week`` (zero purchases), ``drop`` or ``spike`` with the counts.

The first and last weeks of a shop's history are usually partial, so they are reported but never
flagged; a shop with fewer than 8 weeks of history is never flagged (no normal range to judge by).
Flagged weeks are a warning in the validation summary; their rows stay clean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_EXPECTED", "weekly_volume"]

WINDOW_WEEKS = 13
DEVIATIONS = 4.0
MIN_FACTOR = 2.0
MIN_EXPECTED = 5.0
MIN_WEEKS = 8

_NS_PER_DAY = 86_400 * 10**9
_EPOCH_TO_MONDAY_DAYS = 3  # 1970-01-01 was a Thursday


def weekly_volume(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekly purchase counts per shop with ``flagged`` weeks and ``why``.

    ``frame`` needs ``shop_id`` and ``event_time`` (UTC). Returns one row per shop and week:
    ``shop_id, week_start (UTC midnight of the Monday), purchases, expected, flagged, why``.
    """
    columns = ["shop_id", "week_start", "purchases", "expected", "flagged", "why"]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(columns, _DTYPES)})
    # Purchases per shop and week counted on the shops' codes (no shop id spelled out per row),
    # in place where possible: three integer columns at the most, whatever the rows.
    week = frame["event_time"].to_numpy(dtype="datetime64[ns]").view(np.int64) // _NS_PER_DAY
    week += _EPOCH_TO_MONDAY_DAYS
    week //= 7
    codes, shops = pd.factorize(frame["shop_id"])
    known = codes >= 0
    if not known.all():
        codes, week = codes[known], week[known]
    del known
    first = int(week.min())
    week -= first
    span = int(week.max()) + 1
    key = codes.astype(np.int64)
    del codes
    key *= span
    key += week
    del week
    per_week = np.bincount(key, minlength=len(shops) * span).reshape(len(shops), span)
    del key
    parts = []
    for index in sorted(range(len(shops)), key=lambda i: shops[i]):
        present = np.flatnonzero(per_week[index])
        weeks = pd.Series(per_week[index][present], index=present + first)
        parts.append(_flag_shop(str(shops[index]), weeks))
    return pd.concat(parts, ignore_index=True)[columns]


_DTYPES = (object, "datetime64[ns, UTC]", np.int64, np.float64, bool, object)


def _flag_shop(shop: str, weeks: pd.Series) -> pd.DataFrame:
    full = np.arange(weeks.index.min(), weeks.index.max() + 1)
    purchases = weeks.reindex(full, fill_value=0).to_numpy(dtype=np.int64)
    expected = (
        pd.Series(purchases, dtype=float)
        .rolling(WINDOW_WEEKS, center=True, min_periods=1)
        .median()
        .to_numpy()
    )
    residual = np.log1p(purchases) - np.log1p(expected)
    spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    limit = max(DEVIATIONS * spread, np.log(MIN_FACTOR))
    flagged = (np.abs(residual) > limit) & (expected >= MIN_EXPECTED)
    flagged[[0, -1]] = False
    if len(full) < MIN_WEEKS:
        flagged[:] = False
    why = np.full(len(full), "", dtype=object)
    for i in np.flatnonzero(flagged):
        if purchases[i] == 0:
            why[i] = f"missing week: 0 purchases, ~{expected[i]:.0f} expected"
        elif residual[i] < 0:
            why[i] = f"drop: {purchases[i]} purchases, ~{expected[i]:.0f} expected"
        else:
            why[i] = f"spike: {purchases[i]} purchases, ~{expected[i]:.0f} expected"
    week_start = pd.to_datetime((full * 7 - _EPOCH_TO_MONDAY_DAYS) * _NS_PER_DAY, utc=True)
    return pd.DataFrame(
        {
            "shop_id": shop,
            "week_start": week_start,
            "purchases": purchases,
            "expected": expected,
            "flagged": flagged,
            "why": why,
        }
    )
