"""Small display tables for the notebooks: what a person wants to see after each step.

Each function turns a toolkit object into a tidy DataFrame (shown by Jupyter as a table); none
computes anything the results files do not already hold.
"""

from __future__ import annotations

import pandas as pd

from toolkit.experiment.decision import Pick, without_reference_run
from toolkit.experiment.splits import Split
from toolkit.shops.validate import ShopData

__all__ = ["runs_overview", "segment_overview", "shop_overview", "split_overview", "verdict_table"]


def shop_overview(shop: ShopData) -> pd.DataFrame:
    """Rows read, used and quarantined (by reason), the size scale and the date range."""
    frame = shop.frame
    rows = [
        ("shop", shop.shop_id),
        ("rows read", f"{shop.rows_read:,}"),
        ("rows used", f"{len(frame):,}"),
        ("rows quarantined", f"{shop.rows_quarantined:,}"),
        *((f"  quarantined: {reason}", f"{count:,}") for reason, count in sorted(shop.reasons.items())),
        ("shoppers", f"{frame['shopper_id'].nunique():,}"),
        ("size scale", " < ".join(shop.scale.labels)),
        ("categories", ", ".join(sorted(frame["category"].astype(str).unique()))),
        ("from", str(frame["event_time"].min())),
        ("to", str(frame["event_time"].max())),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def split_overview(split: Split) -> pd.DataFrame:
    """How many rows and shoppers each part of the split holds."""
    parts = {"training pool": split.train, "reference population": split.reference, "holdout": split.holdout}
    return pd.DataFrame(
        {
            "rows": [len(part) for part in parts.values()],
            "shoppers": [part["shopper_id"].nunique() for part in parts.values()],
        },
        index=list(parts),
    )


def runs_overview(runs: pd.DataFrame) -> pd.DataFrame:
    """Per fraction (mean over seeds): rows, seconds, money, drift and accuracy."""
    columns = {
        "train_rows": "mean",
        "train_seconds": "mean",
        "cost_usd_per_month": "mean",
        "changed_rate": "mean",
        "changed_rate_ci_high": "max",
        "changed_2plus_rate": "mean",
        "mean_signed_shift": "mean",
        "holdout_exact_accuracy": "mean",
        "holdout_within1_accuracy": "mean",
        "baseline_exact_accuracy": "mean",
        "monotonicity_violation_rate": "max",
    }
    # The full-data reference compared with itself drifts 0: its row is left out of the means.
    table = without_reference_run(runs).groupby("fraction").agg(columns)
    table.insert(0, "seeds", runs.groupby("fraction")["seed"].nunique())
    return table.round(4)


def verdict_table(pick: Pick) -> pd.DataFrame:
    """Each fraction tried: whether it qualifies, and why not."""
    return pd.DataFrame(
        {
            "fraction": [v.fraction for v in pick.fractions],
            "train_rows": [round(v.train_rows) for v in pick.fractions],
            "changed_rate": [round(v.changed_rate, 4) for v in pick.fractions],
            "upper_bound": [round(v.changed_rate_ci_high, 4) for v in pick.fractions],
            "threshold": round(pick.threshold, 4),
            "qualifies": [v.qualifies for v in pick.fractions],
            "picked": [v.fraction == pick.picked_fraction for v in pick.fractions],
            "why not": ["; ".join(v.reasons) for v in pick.fractions],
        }
    ).set_index("fraction")


def segment_overview(segments: pd.DataFrame, fraction: float, min_count: int = 200) -> pd.DataFrame:
    """Changed rate per segment at ``fraction`` (worst seed), tails first; small segments hidden."""
    at = without_reference_run(segments)
    at = at[(at["fraction"] == fraction) & (at["n"] >= min_count)]
    if at.empty:
        return pd.DataFrame(columns=["segment_kind", "segment", "n", "changed_rate", "ci_low", "ci_high", "noise_floor"])
    table = (
        at.groupby(["segment_kind", "segment"])
        .agg(n=("n", "max"), changed_rate=("changed_rate", "mean"), ci_low=("changed_rate_ci_low", "min"),
             ci_high=("changed_rate_ci_high", "max"), noise_floor=("noise_floor", "max"))
        .reset_index()
    )
    order = {"tail": 0, "gender": 1, "category": 2, "height_band": 3, "weight_band": 4}
    table = table.sort_values(["segment_kind", "segment"], key=lambda c: c.map(order) if c.name == "segment_kind" else c)
    return table.set_index(["segment_kind", "segment"]).round(4)
