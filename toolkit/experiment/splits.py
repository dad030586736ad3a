"""Reference population and holdout: shoppers set aside before any training.

Shoppers, not rows, are split, so nobody in the reference population or the holdout has a purchase
among the training rows of any fraction. The split has its own seed (``split_seed``), independent of
the training seeds, so every model of a shop is compared on the same shoppers.

* **reference population** — recorded shoppers (their latest widget inputs, one row each) whose
  recommendations are compared between models; default 20% of the shoppers, at most 20,000.
* **holdout** — purchases with outcomes, for accuracy, at most 20,000: ``random`` (default) takes
  10% of the other shoppers; ``recent`` takes the newest 10% of the other shoppers' purchases, so
  accuracy is measured on purchases made after every training row, as after a deployment (their
  shoppers' older purchases stay in training, as they would in production).
* **training pool** — everything else; fractions are sampled from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.errors import ExperimentError

__all__ = ["Split", "split_shop"]


@dataclass(frozen=True)
class Split:
    """A shop's rows split by shopper."""

    train: pd.DataFrame
    reference: pd.DataFrame
    holdout: pd.DataFrame


def split_shop(
    frame: pd.DataFrame,
    *,
    reference_share: float = 0.2,
    reference_size: int = 20_000,
    holdout_share: float = 0.1,
    holdout_size: int = 20_000,
    split_seed: int = 12345,
    holdout: str = "random",
) -> Split:
    """Split a clean shop table into training pool, reference population and holdout."""
    codes, shoppers = pd.factorize(frame["shopper_id"], sort=False)
    n_shoppers = len(shoppers)
    n_reference = min(int(round(n_shoppers * reference_share)), int(reference_size))
    n_holdout = int(round(n_shoppers * holdout_share)) if holdout == "random" else 0
    if n_shoppers - n_reference - n_holdout < 1 or n_reference < 1:
        raise ExperimentError(
            f"shop has {n_shoppers} shoppers: too few to set aside a reference population "
            f"({reference_share:.0%}) and a holdout ({holdout_share:.0%}) and still train"
        )
    order = np.random.default_rng(split_seed).permutation(n_shoppers)
    role = np.zeros(n_shoppers, dtype=np.int8)  # 0 train, 1 reference, 2 holdout
    role[order[:n_reference]] = 1
    role[order[n_reference : n_reference + n_holdout]] = 2
    row_role = role[codes]
    if holdout == "recent":
        others = np.flatnonzero(row_role == 0)
        times = pd.DatetimeIndex(frame["event_time"]).asi8[others]
        newest = others[np.argsort(-times, kind="stable")]
        row_role[newest[: int(round(len(others) * holdout_share))]] = 2
        if not (row_role == 0).any():
            raise ExperimentError("shop has too few purchases to set aside the newest ones as a holdout and still train")

    reference = frame[row_role == 1]
    reference = reference.sort_values("event_time", kind="stable").drop_duplicates(
        "shopper_id", keep="last"
    )
    holdout_rows = frame[row_role == 2]
    if len(holdout_rows) > holdout_size:
        holdout_rows = holdout_rows.sample(n=int(holdout_size), random_state=split_seed).sort_index()
    return Split(
        train=frame[row_role == 0].reset_index(drop=True),
        reference=reference.reset_index(drop=True),
        holdout=holdout_rows.reset_index(drop=True),
    )
