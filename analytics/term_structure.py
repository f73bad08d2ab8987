"""Term structure: the per-contract basis table, constant maturities, curve state, carry extremes, history.

Builds on ``analytics.basis`` (DOMAIN.md "Term structure and basis"): every figure here is one of its
definitions applied to rows of ``MarketData.term_structure`` or to OHLCV candles. Rates and percentages
are fractions (0.0385 = 3.85 %); days are fractional calendar days (ACT/365); prices are in the contract's
quote currency. Missing or invalid inputs give NaN, never an invented number.

A *curve* is one exchange's contracts of one margin type: ``"<venue>:linear"`` or ``"<venue>:inverse"``.
Linear (USDT/USDC-margined) and inverse (coin-margined) contracts are never mixed on one curve, so an
exchange listing both (OKX, Bybit) has two curves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import basis as ab

NEAR_EXPIRY_DAYS = ab.NEAR_EXPIRY_DAYS
CM_TENORS: tuple[int, ...] = (30, 90)  # constant maturities shown per exchange, days
PRICE_FIELDS = ("last", "mark")
REFERENCES = ("index", "spot")
MIXED = "mixed"

TERM_TABLE_COLUMNS: tuple[str, ...] = (
    "venue",
    "curve",  # "<venue>:linear" | "<venue>:inverse"
    "symbol",
    "base",
    "quote",
    "kind",  # "perp" | "future"
    "linear",  # bool
    "contract_size",  # linear: base units per contract; inverse: quote (USD) per contract
    "expiry",  # UTC; NaT for perps
    "days_to_expiry",  # fractional days from the quote time; NaN for perps
    "price",  # F: the chosen field (last or mark), quote currency
    "reference",  # S: the venue's index, or the spot price passed in
    "basis",  # F - S, quote currency
    "basis_pct",  # F / S - 1 (for a perp: its premium)
    "ann_simple",  # basis_pct * 365 / days (NaN for perps)
    "ann_compounded",  # (F / S) ** (365 / days) - 1 (NaN for perps)
    "carry",  # "contango" | "backwardation" | "flat" | None (sign of the basis)
    "near_expiry",  # days <= 3: annualized figures explode; flagged, kept out of ranges and interpolation
    "ts",  # quote time (UTC)
)

# Tenor buckets for "richest / cheapest carry across exchanges": (label, lower days exclusive, upper inclusive).
# Contracts within NEAR_EXPIRY_DAYS are flagged and belong to no bucket.
TENOR_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("up to 1 month", NEAR_EXPIRY_DAYS, 31.0),
    ("1–3 months", 31.0, 92.0),
    ("3–6 months", 92.0, 183.0),
    ("6–12 months", 183.0, 366.0),
    ("over 1 year", 366.0, float("inf")),
)


def curve_id(venue: str, linear: bool) -> str:
    """The curve key of a contract: ``"<venue>:linear"`` or ``"<venue>:inverse"``."""
    return f"{venue}:{'linear' if linear else 'inverse'}"


def curve_venue(curve: str) -> str:
    """Venue id of a curve key."""
    return curve.rsplit(":", 1)[0]


def ann_column(compounded: bool) -> str:
    """Column of ``term_table`` holding the chosen annualization."""
    return "ann_compounded" if compounded else "ann_simple"


def _empty_table() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in TERM_TABLE_COLUMNS})
    for c in ("venue", "curve", "symbol", "base", "quote", "kind", "carry"):
        frame[c] = frame[c].astype(object)
    frame["linear"] = frame["linear"].astype(bool)
    frame["near_expiry"] = frame["near_expiry"].astype(bool)
    frame["expiry"] = pd.to_datetime(frame["expiry"], utc=True)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _frame(rows: list[dict[str, object]], columns: Sequence[str], text: Sequence[str]) -> pd.DataFrame:
    """Rows as a frame whose ``text`` columns keep None as None (pandas would infer a string dtype with NaN)."""
    out = pd.DataFrame(rows, columns=list(columns))
    for c in text:
        out[c] = pd.Series([r.get(c) for r in rows], index=out.index, dtype=object)
    return out


def term_table(frame: pd.DataFrame, *, price: str = "mark", reference: str = "index",
               spot: float | None = None, near_days: float = NEAR_EXPIRY_DAYS) -> pd.DataFrame:
    """Per-contract basis table from ``MarketData.term_structure(...).frame``.

    Parameters
    ----------
    frame : DataFrame
        The facade's term-structure frame (``data_sources.frames.TERM_STRUCTURE_COLUMNS``): perps and
        unexpired futures with last, mark, index and days_to_expiry (counted from each quote's time).
    price : {"last", "mark"}, keyword-only
        Which futures/perp price is F.
    reference : {"index", "spot"}, keyword-only
        S: each venue's own index (NaN where the venue publishes none: no fallback), or ``spot``.
    spot : float, optional, keyword-only
        The spot price used when ``reference="spot"`` (e.g. Binance spot last), quote currency.
    near_days : float, keyword-only
        Futures with ``days_to_expiry <= near_days`` are flagged ``near_expiry``.

    Returns
    -------
    DataFrame
        Columns ``TERM_TABLE_COLUMNS``, one row per input row, sorted by venue, curve, then tenor (perps
        first). Fractions, not percent. Never mutates ``frame``.
    """
    if price not in PRICE_FIELDS:
        raise ValueError(f"price must be one of {PRICE_FIELDS}, not {price!r}")
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, not {reference!r}")
    if frame is None or frame.empty:
        return _empty_table()
    rows = frame.reset_index(drop=True)
    f = pd.to_numeric(rows[price], errors="coerce").astype("float64")
    if reference == "index":
        s = pd.to_numeric(rows["index"], errors="coerce").astype("float64")
    else:
        s = pd.Series(np.nan if spot is None else float(spot), index=rows.index, dtype="float64")
    days = pd.to_numeric(rows["days_to_expiry"], errors="coerce").astype("float64")
    is_future = (rows["kind"] == "future").to_numpy()
    linear = rows["linear"].astype(bool)
    b = ab.basis(f, s)
    out = pd.DataFrame({
        "venue": rows["venue"].astype(object),
        "curve": pd.Series([curve_id(v, lin) for v, lin in zip(rows["venue"], linear, strict=True)], dtype=object),
        "symbol": rows["symbol"].astype(object),
        "base": rows["base"].astype(object),
        "quote": rows["quote"].astype(object),
        "kind": rows["kind"].astype(object),
        "linear": linear,
        "contract_size": pd.to_numeric(rows["contract_size"], errors="coerce").astype("float64"),
        "expiry": rows["expiry"],
        "days_to_expiry": days,
        "price": f,
        "reference": s,
        "basis": b,
        "basis_pct": ab.basis_pct(f, s),
        "ann_simple": ab.annualized_basis(f, s, days.where(is_future), compounded=False),
        "ann_compounded": ab.annualized_basis(f, s, days.where(is_future), compounded=True),
        "carry": ab.carry_label(b),
        "near_expiry": pd.Series(np.asarray(ab.is_near_expiry(days, threshold_days=near_days)) & is_future,
                                 index=rows.index, dtype=bool),
        "ts": rows["ts"],
    })
    order = out.assign(_tenor=out["days_to_expiry"].fillna(-1.0))
    order = order.sort_values(["venue", "curve", "_tenor", "symbol"], kind="stable").drop(columns="_tenor")
    return order.reset_index(drop=True)[list(TERM_TABLE_COLUMNS)]


# -- constant maturity ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interpolated:
    """A constant-maturity value and the two contracts it was interpolated between (positions)."""

    value: float
    lower: int | None = None
    upper: int | None = None


def interpolate_tenor(days: Sequence[float] | np.ndarray | pd.Series, values: Sequence[float] | np.ndarray | pd.Series,
                      tenor: float, *, min_days: float = NEAR_EXPIRY_DAYS) -> Interpolated:
    """Linear interpolation in days of ``values`` at ``tenor``, never extrapolated.

    Parameters
    ----------
    days : array-like
        Days to expiry of each contract.
    values : array-like
        Annualized basis (fraction per year) of each contract, aligned with ``days``.
    tenor : float
        Target maturity, days.
    min_days : float, keyword-only
        Contracts with ``days <= min_days`` (near expiry: exploding annualized figures) are not used.

    Returns
    -------
    Interpolated
        ``value`` is NaN when ``tenor`` lies outside [shortest, longest] usable contract (or none is usable).
        ``lower``/``upper`` are positions in the inputs of the bracketing contracts (equal when ``tenor``
        hits a contract). Contracts sharing one expiry are averaged.
    """
    d = np.asarray(pd.to_numeric(pd.Series(np.asarray(days, dtype="float64")), errors="coerce"), dtype="float64")
    v = np.asarray(pd.to_numeric(pd.Series(np.asarray(values, dtype="float64")), errors="coerce"), dtype="float64")
    if d.shape != v.shape:
        raise ValueError(f"days and values differ in length: {d.shape} vs {v.shape}")
    ok = np.isfinite(d) & np.isfinite(v) & (d > min_days)
    if not ok.any() or not np.isfinite(tenor):
        return Interpolated(float("nan"))
    pos = np.flatnonzero(ok)
    ud, inverse = np.unique(d[ok], return_inverse=True)  # sorted distinct tenors
    uv = np.bincount(inverse, weights=v[ok]) / np.bincount(inverse)
    if tenor < ud[0] or tenor > ud[-1]:
        return Interpolated(float("nan"))
    hi = int(np.searchsorted(ud, tenor, side="left"))
    first = {int(k): int(pos[np.flatnonzero(inverse == k)[0]]) for k in {hi, max(hi - 1, 0)}}
    if ud[hi] == tenor:
        return Interpolated(float(uv[hi]), first[hi], first[hi])
    lo = hi - 1
    w = (tenor - ud[lo]) / (ud[hi] - ud[lo])
    return Interpolated(float(uv[lo] + w * (uv[hi] - uv[lo])), first[lo], first[hi])


def constant_maturity(days: Sequence[float] | np.ndarray | pd.Series, values: Sequence[float] | np.ndarray | pd.Series,
                      tenor: float, *, min_days: float = NEAR_EXPIRY_DAYS) -> float:
    """Constant-maturity annualized basis at ``tenor`` days (see ``interpolate_tenor``); NaN outside the curve."""
    return interpolate_tenor(days, values, tenor, min_days=min_days).value


def constant_maturity_table(table: pd.DataFrame, *, tenors: Iterable[int] = CM_TENORS, compounded: bool = False,
                            min_days: float = NEAR_EXPIRY_DAYS) -> pd.DataFrame:
    """Constant-maturity annualized basis per curve.

    Parameters
    ----------
    table : DataFrame
        ``term_table`` output.
    tenors : iterable of int, keyword-only
        Maturities in days; one column ``cm_<tenor>`` each (fraction per year, NaN when not bracketed).
    compounded : bool, keyword-only
        Interpolate the compounded instead of the simple annualized basis.
    min_days : float, keyword-only
        Near-expiry contracts (``days <= min_days``) are not used.

    Returns
    -------
    DataFrame
        ``curve``, ``venue``, ``linear``, ``cm_<tenor>``..., ``shortest_days``, ``longest_days`` (the usable
        range), ``contracts`` (count used), one row per curve with at least one future, in table order.
    """
    tenors = tuple(tenors)
    col = ann_column(compounded)
    futures = table[table["kind"] == "future"] if not table.empty else table
    rows = []
    for curve, part in futures.groupby("curve", sort=False):
        d = part["days_to_expiry"].to_numpy(dtype="float64")
        v = part[col].to_numpy(dtype="float64")
        usable = np.isfinite(d) & np.isfinite(v) & (d > min_days)
        row: dict[str, object] = {"curve": curve, "venue": part["venue"].iloc[0],
                                  "linear": bool(part["linear"].iloc[0])}
        for t in tenors:
            row[f"cm_{t}"] = constant_maturity(d, v, float(t), min_days=min_days)
        row["shortest_days"] = float(d[usable].min()) if usable.any() else float("nan")
        row["longest_days"] = float(d[usable].max()) if usable.any() else float("nan")
        row["contracts"] = int(usable.sum())
        rows.append(row)
    columns = ["curve", "venue", "linear", *(f"cm_{t}" for t in tenors), "shortest_days", "longest_days", "contracts"]
    return _frame(rows, columns, ["curve", "venue"])


# -- curve state ------------------------------------------------------------------------------------------
def curve_states(table: pd.DataFrame, *, min_days: float = NEAR_EXPIRY_DAYS) -> pd.DataFrame:
    """Contango / backwardation of each curve from its longest liquid tenor (DOMAIN.md).

    "Liquid" here: a future more than ``min_days`` from expiry with a price and a reference (no volume
    floor: the snapshot has no volumes).

    Returns
    -------
    DataFrame
        ``curve``, ``venue``, ``state`` (contango | backwardation | flat | None), ``symbol``, ``days``,
        ``basis_pct`` of the contract that decided it; one row per curve with futures.
    """
    futures = table[table["kind"] == "future"] if not table.empty else table
    rows = []
    for curve, part in futures.groupby("curve", sort=False):
        d = part["days_to_expiry"].to_numpy(dtype="float64")
        b = part["basis_pct"].to_numpy(dtype="float64")
        ok = np.isfinite(d) & np.isfinite(b) & (d > min_days)
        state = ab.curve_label(d, b, min_days=min_days)
        if ok.any():
            i = np.flatnonzero(ok)[np.argmax(d[ok])]
            symbol, days, bp = part["symbol"].iloc[i], float(d[i]), float(b[i])
        else:
            symbol, days, bp = None, float("nan"), float("nan")
        rows.append({"curve": curve, "venue": part["venue"].iloc[0], "state": state, "symbol": symbol,
                     "days": days, "basis_pct": bp})
    columns = ["curve", "venue", "state", "symbol", "days", "basis_pct"]
    return _frame(rows, columns, ["curve", "venue", "state", "symbol"])


def overall_state(states: pd.DataFrame) -> str | None:
    """One label for several curves: their common state, ``"mixed"`` when they disagree, None if none has one."""
    labels = [s for s in states["state"] if isinstance(s, str)] if not states.empty else []
    if not labels:
        return None
    return labels[0] if len(set(labels)) == 1 else MIXED


# -- richest / cheapest carry -----------------------------------------------------------------------------
def tenor_bucket(days: float, buckets: Sequence[tuple[str, float, float]] = TENOR_BUCKETS) -> str | None:
    """The bucket label of a tenor (lower bound exclusive, upper inclusive), None outside every bucket."""
    if not np.isfinite(days):
        return None
    for label, lo, hi in buckets:
        if lo < days <= hi:
            return label
    return None


def carry_extremes(table: pd.DataFrame, *, compounded: bool = False,
                   buckets: Sequence[tuple[str, float, float]] = TENOR_BUCKETS) -> pd.DataFrame:
    """Richest and cheapest annualized carry across exchanges within each tenor bucket.

    Near-expiry contracts are left out (their annualized figures explode); so are rows without a value.

    Returns
    -------
    DataFrame
        One row per bucket holding at least one contract, in bucket order: ``bucket``, ``contracts``,
        ``venues`` (distinct exchanges), ``rich_curve``, ``rich_symbol``, ``rich_days``, ``rich``,
        ``cheap_curve``, ``cheap_symbol``, ``cheap_days``, ``cheap``, ``spread`` (rich - cheap, fraction per
        year).
    """
    col = ann_column(compounded)
    columns = ["bucket", "contracts", "venues", "rich_curve", "rich_symbol", "rich_days", "rich",
               "cheap_curve", "cheap_symbol", "cheap_days", "cheap", "spread"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    fut = table[(table["kind"] == "future") & ~table["near_expiry"].astype(bool)]
    fut = fut[np.isfinite(fut[col].to_numpy(dtype="float64"))]
    labels = fut["days_to_expiry"].map(lambda x: tenor_bucket(float(x), buckets))
    rows = []
    for label, _lo, _hi in buckets:
        part = fut[labels == label]
        if part.empty:
            continue
        rich = part.loc[part[col].idxmax()]
        cheap = part.loc[part[col].idxmin()]
        rows.append({
            "bucket": label, "contracts": len(part), "venues": part["venue"].nunique(),
            "rich_curve": rich["curve"], "rich_symbol": rich["symbol"], "rich_days": float(rich["days_to_expiry"]),
            "rich": float(rich[col]),
            "cheap_curve": cheap["curve"], "cheap_symbol": cheap["symbol"],
            "cheap_days": float(cheap["days_to_expiry"]), "cheap": float(cheap[col]),
            "spread": float(rich[col] - cheap[col]),
        })
    return _frame(rows, columns, ["bucket", "rich_curve", "rich_symbol", "cheap_curve", "cheap_symbol"])


# -- fair value -------------------------------------------------------------------------------------------
def fair_value_curve(spot: float, *, rate: float, days: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Cost-of-carry fair value ``F* = S (1 + r t / 365)`` on a grid of tenors, and its annualized basis.

    Parameters
    ----------
    spot : float
        Reference price S (quote currency). NaN gives NaN prices; the annualized columns do not need S.
    rate : float, keyword-only
        r, fraction per year (simple, ACT/365).
    days : array-like
        Tenors t in days.

    Returns
    -------
    DataFrame
        ``days``, ``price`` (F*), ``ann_simple`` (= r wherever t > 0), ``ann_compounded``
        (``(1 + r t / 365) ** (365 / t) - 1``; NaN at t = 0 or where ``1 + r t / 365 <= 0``).
    """
    t = np.asarray(days, dtype="float64")
    unit = ab.fair_value(1.0, rate=rate, days=t)  # F*/S: independent of S
    price = ab.fair_value(float(spot), rate=rate, days=t) if np.isfinite(spot) else np.full(t.shape, np.nan)
    return pd.DataFrame({
        "days": t,
        "price": np.asarray(price, dtype="float64"),
        "ann_simple": np.asarray(ab.annualized_basis(unit, 1.0, t, compounded=False), dtype="float64"),
        "ann_compounded": np.asarray(ab.annualized_basis(unit, 1.0, t, compounded=True), dtype="float64"),
    })


# -- basis history ----------------------------------------------------------------------------------------
HISTORY_COLUMNS: tuple[str, ...] = ("ts", "future", "reference", "days", "basis", "basis_pct", "ann_simple",
                                    "ann_compounded", "near_expiry")


def basis_history(future: pd.DataFrame, reference: pd.DataFrame, *, expiry: pd.Timestamp,
                  bar: pd.Timedelta, until: pd.Timestamp | None = None,
                  near_days: float = NEAR_EXPIRY_DAYS) -> pd.DataFrame:
    """Basis of a dated future against a reference, candle by candle, on identical timestamps only.

    Parameters
    ----------
    future, reference : DataFrame
        OHLCV frames (``ts`` = candle open time, ``close``) of the future and of the reference (index or
        spot). They are inner-joined on ``ts``: a candle without its twin is dropped, never matched to a
        neighbour, so the two series are never subtracted at different times.
    expiry : Timestamp
        The future's expiry (UTC).
    bar : Timedelta
        Candle length: a close is the price at ``ts + bar``, which is the time days to expiry count from.
    until : Timestamp, optional
        End of the window: only candles closed by then are kept. A still-forming candle's "close" is
        whatever price each series had when it was fetched (the two fetches may be seconds apart), and a
        candle straddling a pinned ``as_of`` closes after it; neither is a price at a known, common time.
    near_days : float, keyword-only
        Rows with ``days <= near_days`` are flagged ``near_expiry``.

    Returns
    -------
    DataFrame
        ``HISTORY_COLUMNS``, ascending by ``ts``: prices, days to expiry at the close, basis (quote
        currency), basis_pct, annualized simple and compounded (fractions).
    """
    f = future[["ts", "close"]].rename(columns={"close": "future"})
    r = reference[["ts", "close"]].rename(columns={"close": "reference"})
    joined = f.merge(r, on="ts", how="inner").sort_values("ts", kind="stable").reset_index(drop=True)
    if until is not None:
        joined = joined[joined["ts"] + bar <= until].reset_index(drop=True)
    close_time = joined["ts"] + bar
    days = ((pd.Timestamp(expiry) - close_time) / pd.Timedelta(seconds=1) / ab.SECONDS_PER_DAY).astype("float64")
    fut = joined["future"].astype("float64")
    ref = joined["reference"].astype("float64")
    out = pd.DataFrame({
        "ts": joined["ts"],
        "future": fut,
        "reference": ref,
        "days": days,
        "basis": ab.basis(fut, ref),
        "basis_pct": ab.basis_pct(fut, ref),
        "ann_simple": ab.annualized_basis(fut, ref, days, compounded=False),
        "ann_compounded": ab.annualized_basis(fut, ref, days, compounded=True),
        "near_expiry": pd.Series(np.asarray(ab.is_near_expiry(days, threshold_days=near_days)), index=joined.index,
                                 dtype=bool),
    })
    return out[list(HISTORY_COLUMNS)]


def cm_history_contracts(days_at_end: Mapping[str, float], *, tenor: float, window_days: float) -> list[str]:
    """The contracts a constant-maturity history over a window needs (the rest cannot bracket the tenor).

    Going back ``s`` days from the window's end adds ``s`` to every contract's days to expiry, so the
    contracts bracketing ``tenor`` at ``end - s`` are those bracketing ``tenor - s`` at the end. Over the
    window that is every contract with days at the end in (tenor - window, tenor), plus the nearest one at or
    below ``tenor - window`` and the nearest one at or above ``tenor``.

    Parameters
    ----------
    days_at_end : mapping symbol -> days
        Days to expiry of each listed future at the window's end.
    tenor, window_days : float, keyword-only
        Target maturity and window length, days.

    Returns
    -------
    list of str
        Symbols, ordered by days to expiry.
    """
    items = sorted(((float(d), s) for s, d in days_at_end.items() if np.isfinite(d)), key=lambda x: x[0])
    low_edge = tenor - window_days
    inside = [s for d, s in items if low_edge < d < tenor]
    below = [s for d, s in items if d <= low_edge]
    above = [s for d, s in items if d >= tenor]
    return [s for d, s in items if s in set(inside) | set(below[-1:]) | set(above[:1])]


def constant_maturity_history(histories: Mapping[str, pd.DataFrame], *, tenor: float, compounded: bool = False,
                              min_days: float = NEAR_EXPIRY_DAYS) -> pd.DataFrame:
    """Constant-maturity annualized basis over time from several contracts' ``basis_history`` frames.

    At each timestamp, the contracts with a value there are interpolated in days (``interpolate_tenor``):
    nothing is carried over from another timestamp and nothing is extrapolated.

    Returns
    -------
    DataFrame
        ``ts``, ``value`` (fraction per year, NaN where the tenor is not bracketed), ``lower``, ``upper`` (the
        bracketing symbols, None where NaN), ascending by ``ts``.
    """
    col = ann_column(compounded)
    parts = [h.assign(symbol=s)[["ts", "symbol", "days", col]] for s, h in histories.items() if not h.empty]
    if not parts:
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]"), "value": pd.Series(dtype="float64"),
                             "lower": pd.Series(dtype=object), "upper": pd.Series(dtype=object)})
    long = pd.concat(parts, ignore_index=True)
    rows = []
    for ts, grp in long.groupby("ts", sort=True):
        hit = interpolate_tenor(grp["days"].to_numpy(), grp[col].to_numpy(), tenor, min_days=min_days)
        syms = grp["symbol"].to_numpy()
        rows.append({"ts": ts, "value": hit.value,
                     "lower": None if hit.lower is None else syms[hit.lower],
                     "upper": None if hit.upper is None else syms[hit.upper]})
    return _frame(rows, ["ts", "value", "lower", "upper"], ["lower", "upper"])
