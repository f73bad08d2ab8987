"""Pure table builders: facade frames in, display-ready frames out (no streamlit, no I/O).

The finance math is ``analytics``'; this module picks *which* rows feed it (the venue's primary perp, the
nearest quarterly) and says so in a text column next to every number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics import basis as ab
from analytics import contracts
from analytics import funding as af
from components.formatting import MISSING, fmt_age, fmt_apr, fmt_date, fmt_pct, fmt_price, is_missing

ALL_VENUES = "all"

OVERVIEW_COLUMNS: tuple[str, ...] = (
    "asset",
    "price",  # quote currency (USD-ish)
    "price_source",
    "premium",  # fraction, (mark - index) / index
    "premium_source",
    "funding_apr",  # fraction per year, simple
    "funding_source",
    "basis_ann",  # fraction per year, simple, ACT/365
    "basis_days",  # days to the contract's expiry
    "basis_contract",
    "source",
    "age_s",
)

# Display names of the overview table (the page's column config keys on these).
OVERVIEW_DISPLAY: dict[str, str] = {
    "asset": "Asset",
    "price": "Price",
    "price_source": "Price source",
    "premium": "Perp premium",
    "funding_apr": "Funding APR",
    "funding_source": "Perp(s)",
    "basis_ann": "Quarterly basis (ann.)",
    "basis_contract": "Quarterly contract",
    "data": "Data",
}
# Display columns holding numbers (right-aligned on the page).
OVERVIEW_NUMERIC_DISPLAY = ("price", "premium", "funding_apr", "basis_ann")

# Columns the builders read from each facade frame (a missing frame is an empty one of these).
_TERM_NEEDS = ("venue", "symbol", "base", "quote", "kind", "linear", "expiry", "days_to_expiry",
               "last", "mark", "index")
_FUNDING_NEEDS = ("venue", "symbol", "base", "quote", "linear", "rate", "interval_hours", "interval_inferred")
_SPOT_NEEDS = ("venue", "symbol", "base", "last")

def _chosen(frame: pd.DataFrame, base: str, venue: str | None) -> pd.DataFrame:
    rows = frame[frame["base"] == base]
    return rows[rows["venue"] == venue] if venue not in (None, ALL_VENUES) else rows


def _mean(values: pd.Series | np.ndarray) -> float:
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _across(n: int) -> str:
    return f"mean of {n} venue{'s' if n != 1 else ''}" if n else MISSING


def spot_price(perps: pd.DataFrame, spot: pd.DataFrame, base: str, venue: str | None,
               label: Callable[[str], str]) -> tuple[float, str]:
    """The asset's reference price S and what it is: an index, the mean of venues' indexes, or spot last."""
    rows = contracts.primary_rows(_chosen(perps, base, venue))
    index = rows["index"].to_numpy(dtype="float64") if not rows.empty else np.array([])
    finite = np.isfinite(index) & (index > 0)
    if finite.any():
        if venue in (None, ALL_VENUES):
            return _mean(index[finite]), f"index, {_across(int(finite.sum()))}"
        return float(index[finite][0]), f"{label(str(rows['venue'].iloc[0]))} index"
    last = spot.loc[spot["base"] == base, "last"].to_numpy(dtype="float64")
    if last.size and np.isfinite(last[0]):
        return float(last[0]), f"{label(str(spot.loc[spot['base'] == base, 'venue'].iloc[0]))} last"
    return float("nan"), MISSING


def perp_figures(perps: pd.DataFrame, funding: pd.DataFrame, base: str, venue: str | None,
                 label: Callable[[str], str]) -> tuple[float, float, str]:
    """(premium, funding APR, where from) for the primary perp of ``venue``, or the mean across venues."""
    p_rows = contracts.primary_rows(_chosen(perps, base, venue))
    premium = ab.perp_premium(p_rows["mark"], p_rows["index"]) if not p_rows.empty else pd.Series([])
    f_rows = contracts.primary_rows(_chosen(funding, base, venue))
    apr = af.apr(f_rows["rate"], f_rows["interval_hours"]) if not f_rows.empty else pd.Series([])
    if venue in (None, ALL_VENUES):
        n = len(set(p_rows["venue"]) | set(f_rows["venue"]))
        return _mean(premium), _mean(apr), _across(n)
    if f_rows.empty and p_rows.empty:
        return float("nan"), float("nan"), f"{label(venue)}: no {base} perp"
    row = f_rows.iloc[0] if not f_rows.empty else p_rows.iloc[0]
    text = f"{label(venue)} {row['symbol']}"
    if not f_rows.empty and np.isfinite(row["interval_hours"]):
        text += f" · {row['interval_hours']:g}h" + (" (inferred)" if row["interval_inferred"] else "")
    return _mean(premium), _mean(apr), text


def quarterly_basis(term: pd.DataFrame, spot: pd.DataFrame, base: str, venue: str | None,
                    label: Callable[[str], str]) -> tuple[float, float, str]:
    """(simple annualized basis, days, which contract) of the nearest quarterly of ``base``.

    F is the future's mark (last where a venue gives no mark); S the same venue's index (Binance spot last
    where there is none). With all venues, the mean across venues listing that expiry.
    """
    rows = contracts.nearest_quarterly(_chosen(term, base, venue))
    if rows.empty:
        return float("nan"), float("nan"), "no quarterly listed"
    future = rows["mark"].where(rows["mark"].notna(), rows["last"])
    spot_last = spot.loc[spot["base"] == base, "last"]
    fallback = float(spot_last.iloc[0]) if not spot_last.empty else float("nan")
    index = rows["index"].where(rows["index"].notna(), fallback)
    ann = ab.annualized_basis(future, index, rows["days_to_expiry"])
    days = float(rows["days_to_expiry"].iloc[0])
    when = f"{fmt_date(rows['expiry'].iloc[0])} ({days:.0f} d)"
    if venue in (None, ALL_VENUES):
        return _mean(ann), days, f"{when} · {_across(len(rows))}"
    return _mean(ann), days, f"{when} · {rows['symbol'].iloc[0]}"


def stack(frames: Sequence[pd.DataFrame | None]) -> pd.DataFrame | None:
    """Rows of several frames of one kind (e.g. term structures of several bases); None if none has rows."""
    parts = [f for f in frames if f is not None and not f.empty]
    return pd.concat(parts, ignore_index=True) if parts else None


def _or_empty(frame: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns)) if frame is None else frame


def overview_frame(term: pd.DataFrame | None, funding: pd.DataFrame | None, spot: pd.DataFrame | None, *,
                   bases: Sequence[str] = ("BTC", "ETH", "SOL"), venue: str | None = None,
                   label: Callable[[str], str] = str, source: str = "",
                   ages: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The Overview's one-row-per-asset table (columns ``OVERVIEW_COLUMNS``, fractions not percent).

    Parameters
    ----------
    term : DataFrame or None
        ``MarketData.term_structure`` frames of every base, concatenated (None: unavailable).
    funding : DataFrame or None
        ``MarketData.funding_now`` frame.
    spot : DataFrame or None
        ``MarketData.spot`` frame (fallback reference price).
    bases : sequence of str, keyword-only
        Assets, one row each, in this order.
    venue : str or None, keyword-only
        A venue id, or None / ``ALL_VENUES`` for the mean across venues.
    label : callable, keyword-only
        Venue id -> display name.
    source : str, keyword-only
        Text for the source column (e.g. "simulated (normal)").
    ages : mapping base -> seconds, keyword-only
        Age of each asset's data (the oldest part).
    """
    term = _or_empty(term, _TERM_NEEDS)
    funding = _or_empty(funding, _FUNDING_NEEDS)
    spot = _or_empty(spot, _SPOT_NEEDS)
    perps = term[term["kind"] == "perp"]
    rows = []
    for base in bases:
        price, price_source = spot_price(perps, spot, base, venue, label)
        premium, apr, funding_source = perp_figures(perps, funding, base, venue, label)
        basis_ann, basis_days, contract = quarterly_basis(term, spot, base, venue, label)
        rows.append({
            "asset": base, "price": price, "price_source": price_source, "premium": premium,
            "premium_source": funding_source, "funding_apr": apr, "funding_source": funding_source,
            "basis_ann": basis_ann, "basis_days": basis_days, "basis_contract": contract,
            "source": source, "age_s": float((ages or {}).get(base, np.nan)),
        })
    frame = pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))
    float_cols = ["price", "premium", "funding_apr", "basis_ann", "basis_days", "age_s"]
    return frame.astype(dict.fromkeys(float_cols, "float64"))


def overview_display(frame: pd.DataFrame) -> pd.DataFrame:
    """``overview_frame`` as text for the screen: formatted numbers ("—" when missing), source and age.

    The numeric frame itself is what the CSV download carries.
    """
    out = pd.DataFrame({
        "asset": frame["asset"],
        "price": [fmt_price(v) for v in frame["price"]],
        "price_source": frame["price_source"],
        "premium": [fmt_pct(v, decimals=3, signed=True) for v in frame["premium"]],
        "funding_apr": [fmt_apr(v) for v in frame["funding_apr"]],
        "funding_source": frame["funding_source"],
        "basis_ann": [fmt_apr(v) for v in frame["basis_ann"]],
        "basis_contract": frame["basis_contract"],
        "data": [s if is_missing(a) else f"{s} · {fmt_age(a)}"
                 for s, a in zip(frame["source"], frame["age_s"], strict=True)],
    })
    return out.rename(columns=OVERVIEW_DISPLAY)
