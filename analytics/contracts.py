"""Which contract a desk quotes when a venue lists several of one asset.

- Primary perp: USDT-margined linear first, then USDC, then USD (inverse, coin-margined) by default; the
  funding page can prefer the coin-margined one instead. Ties go to the symbol's alphabetical order.
- Nearest quarterly: the first quarterly expiry (last Friday of Mar/Jun/Sep/Dec) more than ``min_days``
  out (contracts that close to expiry have an exploding annualized basis), one contract per venue; among
  contracts of that expiry the one settling like the perp (``settle``) first, then the primary order.

Pure pandas: frames in (the facade's term-structure or funding frames), frames out; inputs not mutated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics import basis as ab

QUOTE_RANK = {"USDT": 0, "USDC": 1, "USD": 2}
_UNRANKED_QUOTE = 5


def preference_rank(rows: pd.DataFrame, *, settle: object = None, prefer_linear: bool = True) -> pd.Series:
    """Lower is preferred: settling in ``settle`` (if given), then the margin kind, then USDT > USDC > USD."""
    other_settle = (rows["settle"] != settle).astype(int) if settle is not None else 0
    inverse = (~rows["linear"].astype(bool)).astype(int)
    margin = inverse if prefer_linear else 1 - inverse
    return other_settle * 100 + margin * 10 + rows["quote"].map(QUOTE_RANK).fillna(_UNRANKED_QUOTE)


def primary_rows(frame: pd.DataFrame, *, by: Sequence[str] = ("venue", "base"), settle: object = None,
                 prefer_linear: bool = True) -> pd.DataFrame:
    """The preferred row of each ``by`` group (of the whole frame when ``by`` is empty), in input order."""
    if frame.empty:
        return frame.reset_index(drop=True)
    rank = preference_rank(frame, settle=settle, prefer_linear=prefer_linear)
    ordered = frame.assign(_rank=rank).sort_values([*by, "_rank", "symbol"], kind="stable")
    picked = ordered.drop_duplicates(list(by)) if by else ordered.head(1)
    return picked.drop(columns="_rank").sort_index(kind="stable").reset_index(drop=True)


def nearest_quarterly(futures: pd.DataFrame, *, min_days: float = ab.NEAR_EXPIRY_DAYS,
                      settle: object = None) -> pd.DataFrame:
    """One row per venue of the frame's nearest quarterly expiry more than ``min_days`` away.

    The expiry is the nearest across the whole frame, so several venues' rows are of one contract month
    (a mean across venues compares like with like); a venue not listing it has no row.
    """
    rows = futures[futures["kind"] == "future"]
    if rows.empty:
        return rows.reset_index(drop=True)
    days = rows["days_to_expiry"].to_numpy(dtype="float64")
    quarterly = np.asarray(ab.is_quarterly_expiry(rows["expiry"]), dtype=bool)
    with np.errstate(invalid="ignore"):
        rows = rows[quarterly & np.isfinite(days) & (days > min_days)]
    if rows.empty:
        return rows.reset_index(drop=True)
    return primary_rows(rows[rows["expiry"] == rows["expiry"].min()], by=("venue",), settle=settle)
