"""Pure converters from venue rows to the facade's tidy frames, and the column contract of each frame.

Every frame: UTC tz-aware timestamps, ascending (by the frame's natural key), no duplicates, float64
numbers, columns exactly as listed here (in this order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from data_sources.venues.base import Contract, FundingNow, FundingPoint, InstrumentSpec, MarginTier, Quote

DAY_MS = 86_400_000

TERM_STRUCTURE_COLUMNS: tuple[str, ...] = (
    "venue",  # venue id (binanceusdm, okx, ...)
    "symbol",  # ccxt unified symbol
    "base",
    "quote",
    "settle",
    "kind",  # "perp" | "future"
    "linear",  # bool; False = inverse (coin-margined)
    "contract_size",  # linear: base units per contract; inverse: quote (USD) per contract
    "expiry",  # UTC timestamp; NaT for perps
    "days_to_expiry",  # fractional days from the quote time; NaN for perps
    "last",
    "mark",
    "index",  # the venue's index price for this contract's underlying; NaN when not published
    "ts",  # quote time (UTC)
    "fetched_at",  # when the venue's answer was fetched (UTC)
)

FUNDING_NOW_COLUMNS: tuple[str, ...] = (
    "venue",
    "symbol",
    "base",
    "quote",
    "settle",
    "linear",
    "rate",  # per funding interval, fraction (0.0001 = 0.01%); > 0: longs pay shorts
    "interval_hours",  # 1, 4, 8 ...
    "interval_inferred",  # True when the venue does not state the interval
    "next_funding_time",  # UTC; NaT when the venue has none (Deribit funds continuously)
    "predicted_rate",  # venue's predicted next rate where given, else NaN
    "ts",
    "fetched_at",
)

SPOT_COLUMNS: tuple[str, ...] = ("venue", "symbol", "base", "quote", "last", "ts", "fetched_at")

FUNDING_HISTORY_COLUMNS: tuple[str, ...] = (
    "ts",  # settlement time (UTC)
    "rate",  # per interval, fraction (Deribit: the hour's accrual)
    "interval_hours",
)

OHLCV_COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")
# One row per (venue, base asset) with at least one perp or unexpired dated future; counts as int64.
LISTED_COLUMNS: tuple[str, ...] = ("venue", "base", "perps", "futures")

# One row per perp and unexpired dated future (hedge calculator): what sizing and margining need, read off the
# venue's loaded markets. Per venue: perps first, then by expiry (the family's order).
INSTRUMENT_COLUMNS: tuple[str, ...] = (
    "venue",
    "symbol",  # ccxt unified symbol
    "base",
    "quote",
    "settle",
    "kind",  # "perp" | "future"
    "linear",  # bool; False = inverse (coin-margined)
    "contract_size",  # linear: base units per contract; inverse: quote (USD) per contract
    "amount_step",  # order size step, in contracts (ccxt precision['amount'] in the venue's precision mode)
    "min_amount",  # smallest order, in contracts (ccxt limits.amount.min); NaN when not published
    "max_leverage",  # NaN when neither the listing nor a tier table gives one
    "max_leverage_source",  # "exchange: listing (...)", or the tier table's source (Binance: config)
    "expiry",  # UTC; NaT for perps
    "taker",  # fraction of notional (0.0005 = 5 bp): the exchange's base-tier published fee
    "maker",  # fraction; negative = rebate
    "fee_source",  # "exchange: listing (...)" or ccxt's static fee schedule (base tier, not the account's)
)

# One row per maintenance-margin tier of one contract, tier 1 first. A position whose value is in
# (floor, cap] needs maintenance margin value * mmr - cum (in `unit`) and may use up to max_leverage.
TIER_COLUMNS: tuple[str, ...] = (
    "tier",  # 1..n, int64
    "floor",  # position value bounds, in `unit`; cap is inf for an open-ended last tier
    "cap",
    "unit",  # currency of the position value (USDT, USDC, BTC, USD) or "contracts" where only counts are known
    "mmr",  # maintenance margin rate, fraction (0.004 = 0.4%)
    "max_leverage",  # NaN when the source gives none
    "cum",  # maintenance amount deducted, in `unit` (Binance cum, Bybit mmDeduction; 0 for OKX)
    "source",  # "exchange: <endpoint>" | "config: <table source and date>" | "documented: <doc>"
    "fetched_at",  # UTC: when the exchange answered (config and documented tiers: when they were built)
)


def _utc(ms: Iterable[float | int | None]) -> pd.Series:
    return pd.to_datetime(pd.Series(list(ms), dtype="float64"), unit="ms", utc=True)


def _floats(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def term_structure_frame(
    contracts: Sequence[Contract], quotes: Sequence[Quote], *, now_ms: int, fetched_at_ms: int
) -> pd.DataFrame:
    """Join contracts with their quotes. Contracts without a quote keep NaN prices.

    ``days_to_expiry`` counts from the quote time when there is one, else from ``now_ms``; contracts already
    expired at that time are dropped.
    """
    by_symbol = {q.symbol: q for q in quotes}
    rows = []
    for c in contracts:
        q = by_symbol.get(c.symbol)
        ts_ms = q.ts_ms if q is not None and q.ts_ms is not None else now_ms
        days = np.nan if c.expiry_ms is None else (c.expiry_ms - ts_ms) / DAY_MS
        if c.expiry_ms is not None and days <= 0:
            continue
        rows.append(
            {
                "venue": c.venue,
                "symbol": c.symbol,
                "base": c.base,
                "quote": c.quote,
                "settle": c.settle,
                "kind": c.kind,
                "linear": bool(c.linear),
                "contract_size": float(c.contract_size),
                "expiry_ms": c.expiry_ms,
                "days_to_expiry": days,
                "last": None if q is None else q.last,
                "mark": None if q is None else q.mark,
                "index": None if q is None else q.index,
                "ts_ms": ts_ms,
            }
        )
    return _term_frame(rows, fetched_at_ms)


def _term_frame(rows: list[dict[str, object]], fetched_at_ms: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "venue": pd.Series([r["venue"] for r in rows], dtype="object"),
            "symbol": pd.Series([r["symbol"] for r in rows], dtype="object"),
            "base": pd.Series([r["base"] for r in rows], dtype="object"),
            "quote": pd.Series([r["quote"] for r in rows], dtype="object"),
            "settle": pd.Series([r["settle"] for r in rows], dtype="object"),
            "kind": pd.Series([r["kind"] for r in rows], dtype="object"),
            "linear": pd.Series([r["linear"] for r in rows], dtype="bool"),
            "contract_size": _floats(r["contract_size"] for r in rows),  # type: ignore[misc]
            "expiry": _utc(r["expiry_ms"] for r in rows),  # type: ignore[misc]
            "days_to_expiry": _floats(r["days_to_expiry"] for r in rows),  # type: ignore[misc]
            "last": _floats(r["last"] for r in rows),  # type: ignore[misc]
            "mark": _floats(r["mark"] for r in rows),  # type: ignore[misc]
            "index": _floats(r["index"] for r in rows),  # type: ignore[misc]
            "ts": _utc(r["ts_ms"] for r in rows),  # type: ignore[misc]
        }
    )
    frame["fetched_at"] = pd.to_datetime(fetched_at_ms, unit="ms", utc=True)
    frame = frame.drop_duplicates(subset=["venue", "symbol"])
    # perps first (tenor 0), then by expiry
    frame = frame.assign(_order=frame["days_to_expiry"].fillna(-1.0))
    frame = frame.sort_values(["venue", "_order", "symbol"], kind="stable").drop(columns="_order")
    return frame.reset_index(drop=True)[list(TERM_STRUCTURE_COLUMNS)]


def concat_frames(frames: Sequence[pd.DataFrame], columns: Sequence[str], sort_by: Sequence[str]) -> pd.DataFrame:
    """Concatenate per-venue frames keeping the column contract (an empty input gives an empty frame)."""
    non_empty = [f for f in frames if not f.empty]
    if not non_empty:
        return frames[0].iloc[0:0][list(columns)].copy() if frames else pd.DataFrame(columns=list(columns))
    out = pd.concat(non_empty, ignore_index=True)
    return out.sort_values(list(sort_by), kind="stable").reset_index(drop=True)[list(columns)]


def listed_frame(venue: str, contracts: Sequence[Contract]) -> pd.DataFrame:
    """How many perps and dated futures ``venue`` lists per base asset, bases in alphabetical order."""
    counts: dict[str, list[int]] = {}
    for c in contracts:
        row = counts.setdefault(c.base, [0, 0])
        row[0 if c.kind == "perp" else 1] += 1
    bases = sorted(counts)
    return pd.DataFrame({
        "venue": pd.Series([venue] * len(bases), dtype="object"),
        "base": pd.Series(bases, dtype="object"),
        "perps": pd.Series([counts[b][0] for b in bases], dtype="int64"),
        "futures": pd.Series([counts[b][1] for b in bases], dtype="int64"),
    })


def funding_now_frame(
    venue: str, contracts: Sequence[Contract], rows: Sequence[FundingNow], *, fetched_at_ms: int
) -> pd.DataFrame:
    """One row per perp with a funding answer (perps the venue did not answer for are left out)."""
    by_symbol = {c.symbol: c for c in contracts}
    kept = [r for r in rows if r.symbol in by_symbol]
    frame = pd.DataFrame(
        {
            "venue": pd.Series([venue] * len(kept), dtype="object"),
            "symbol": pd.Series([r.symbol for r in kept], dtype="object"),
            "base": pd.Series([by_symbol[r.symbol].base for r in kept], dtype="object"),
            "quote": pd.Series([by_symbol[r.symbol].quote for r in kept], dtype="object"),
            "settle": pd.Series([by_symbol[r.symbol].settle for r in kept], dtype="object"),
            "linear": pd.Series([by_symbol[r.symbol].linear for r in kept], dtype="bool"),
            "rate": _floats(r.rate for r in kept),
            "interval_hours": _floats(r.interval_hours for r in kept),
            "interval_inferred": pd.Series([bool(r.interval_inferred) for r in kept], dtype="bool"),
            "next_funding_time": _utc(r.next_funding_ms for r in kept),
            "predicted_rate": _floats(r.predicted_rate for r in kept),
            "ts": _utc(r.ts_ms if r.ts_ms is not None else fetched_at_ms for r in kept),
        }
    )
    frame["fetched_at"] = pd.to_datetime(fetched_at_ms, unit="ms", utc=True)
    frame = frame.drop_duplicates(subset=["venue", "symbol"]).sort_values(["venue", "symbol"], kind="stable")
    return frame.reset_index(drop=True)[list(FUNDING_NOW_COLUMNS)]


def spot_frame(venue: str, contracts: Sequence[Contract], quotes: Sequence[Quote], *,
               fetched_at_ms: int) -> pd.DataFrame:
    by_symbol = {q.symbol: q for q in quotes}
    kept = [c for c in contracts if c.symbol in by_symbol]
    frame = pd.DataFrame(
        {
            "venue": pd.Series([venue] * len(kept), dtype="object"),
            "symbol": pd.Series([c.symbol for c in kept], dtype="object"),
            "base": pd.Series([c.base for c in kept], dtype="object"),
            "quote": pd.Series([c.quote for c in kept], dtype="object"),
            "last": _floats(by_symbol[c.symbol].last for c in kept),
            "ts": _utc(by_symbol[c.symbol].ts_ms or fetched_at_ms for c in kept),
        }
    )
    frame["fetched_at"] = pd.to_datetime(fetched_at_ms, unit="ms", utc=True)
    return frame.drop_duplicates(subset=["symbol"]).sort_values("base").reset_index(drop=True)[list(SPOT_COLUMNS)]


def funding_history_frame(points: Sequence[FundingPoint], *, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Settlements in [start_ms, end_ms], ascending, one row per timestamp."""
    kept = [p for p in points if start_ms <= p.ts_ms <= end_ms]
    frame = pd.DataFrame(
        {
            "ts": _utc(p.ts_ms for p in kept),
            "rate": _floats(p.rate for p in kept),
            "interval_hours": _floats(p.interval_hours for p in kept),
        }
    )
    frame = frame.drop_duplicates(subset=["ts"], keep="last").sort_values("ts", kind="stable")
    return frame.reset_index(drop=True)[list(FUNDING_HISTORY_COLUMNS)]


def ohlcv_frame(rows: Sequence[Sequence[float]], *, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Candles with open time in [start_ms, end_ms], ascending, one row per open time."""
    arr = np.asarray([list(r[:6]) for r in rows], dtype=np.float64).reshape(-1, 6) if rows else np.empty((0, 6))
    if arr.size:
        arr = arr[(arr[:, 0] >= start_ms) & (arr[:, 0] <= end_ms)]
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(arr[:, 0], unit="ms", utc=True),
            "open": arr[:, 1],
            "high": arr[:, 2],
            "low": arr[:, 3],
            "close": arr[:, 4],
            "volume": arr[:, 5],
        }
    )
    frame = frame.drop_duplicates(subset=["ts"], keep="last").sort_values("ts", kind="stable")
    return frame.reset_index(drop=True)[list(OHLCV_COLUMNS)]


def instruments_frame(specs: Sequence[InstrumentSpec]) -> pd.DataFrame:
    """Instrument specs in the given order (the family's: perps first, then by expiry), one row per symbol."""
    frame = pd.DataFrame(
        {
            "venue": pd.Series([s.venue for s in specs], dtype="object"),
            "symbol": pd.Series([s.symbol for s in specs], dtype="object"),
            "base": pd.Series([s.base for s in specs], dtype="object"),
            "quote": pd.Series([s.quote for s in specs], dtype="object"),
            "settle": pd.Series([s.settle for s in specs], dtype="object"),
            "kind": pd.Series([s.kind for s in specs], dtype="object"),
            "linear": pd.Series([bool(s.linear) for s in specs], dtype="bool"),
            "contract_size": _floats(s.contract_size for s in specs),
            "amount_step": _floats(s.amount_step for s in specs),
            "min_amount": _floats(s.min_amount for s in specs),
            "max_leverage": _floats(s.max_leverage for s in specs),
            "max_leverage_source": pd.Series([s.max_leverage_source for s in specs], dtype="object"),
            "expiry": _utc(s.expiry_ms for s in specs),
            "taker": _floats(s.taker for s in specs),
            "maker": _floats(s.maker for s in specs),
            "fee_source": pd.Series([s.fee_source for s in specs], dtype="object"),
        }
    )
    frame = frame.drop_duplicates(subset=["venue", "symbol"])
    return frame.reset_index(drop=True)[list(INSTRUMENT_COLUMNS)]


def margin_tiers_frame(tiers: Sequence[MarginTier], *, fetched_at_ms: int) -> pd.DataFrame:
    """Tiers ascending by ``tier`` (which must then also ascend in floor), one row per tier."""
    ordered = sorted(tiers, key=lambda t: t.tier)
    frame = pd.DataFrame(
        {
            "tier": pd.Series([int(t.tier) for t in ordered], dtype="int64"),
            "floor": _floats(t.floor for t in ordered),
            "cap": _floats(t.cap for t in ordered),
            "unit": pd.Series([t.unit for t in ordered], dtype="object"),
            "mmr": _floats(t.mmr for t in ordered),
            "max_leverage": _floats(t.max_leverage for t in ordered),
            "cum": _floats(t.cum for t in ordered),
            "source": pd.Series([t.source for t in ordered], dtype="object"),
        }
    )
    frame["fetched_at"] = pd.to_datetime(pd.Series([fetched_at_ms] * len(ordered), dtype="int64"), unit="ms",
                                         utc=True)
    frame = frame.drop_duplicates(subset=["tier"])
    return frame.reset_index(drop=True)[list(TIER_COLUMNS)]
