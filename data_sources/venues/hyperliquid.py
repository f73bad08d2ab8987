"""Hyperliquid: the quirk functions of the ``Family`` protocol (see ``data_sources/venues/base.py``).

What is specific to Hyperliquid, and why the code below looks the way it does:

- Everything public is one endpoint, ``POST /info``, with the question in the JSON body's ``type``.
  ``load_markets`` is four requests: ``spotMeta`` (ccxt's ``fetch_currencies``: the token list a HIP-3
  dex's ``collateralToken`` index is resolved through), ``metaAndAssetCtxs`` (main-dex perps),
  ``perpDexs`` and one ``metaAndAssetCtxs`` per HIP-3 dex. ``CCXT_OPTIONS`` pins the dexes to ``xyz``
  (trade.xyz: the Nasdaq-100 and gold perps the correlation page uses); without it ccxt loads up to ten
  dexes, one request each. Spot markets are not loaded (``market_types`` = swap + hip3).
- Main-dex perps are linear, USDC-margined, one contract = one coin (``BTC/USDC:USDC``). HIP-3 perps are
  ``XYZ-XYZ100/USDC:USDC`` (coin ``xyz:XYZ100``); they track equity indices and metals, not crypto
  assets, so ``contracts`` never lists them as a base -- the facade reads them by symbol (candles,
  funding history). There are no dated futures.
- One ``metaAndAssetCtxs`` answer carries every perp of a dex: ``midPx`` (book mid, used as last: the
  endpoint has no last-trade price), ``markPx`` and ``oraclePx`` (the index, from the validators'
  oracle), ``funding`` (the running estimate for the coming hourly settlement). It has no timestamp.
- Funding settles every hour on the hour (documented; ccxt states ``interval: '1h'``). ``fundingHistory``
  serves at most 500 rows per answer, oldest first from ``startTime``, each stamped a few milliseconds
  after the hour (``1704290400031``): rows are floored to the hour. The loop below walks forward from
  the window's start and ends when it has the window's last settlement or a page comes back empty; it
  never relies on the page size.
- ``candleSnapshot`` serves at most 5,000 candles per answer (from ``startTime``). The window is asked
  in chunks of 5,000 candles; if an answer still covers only part of its chunk (a server capping lower,
  from either end), the uncovered part is asked again, so the result is complete whichever end a
  server keeps. The live API keeps only the most recent 5,000 candles per coin and interval: older
  candles do not exist there, and a window reaching further back comes back without them.
- Only last-price (trade) candles exist: mark and index candles raise ``ccxt.NotSupported``. The premium
  history is the ``premium`` of each hourly ``fundingHistory`` row (the hour's premium the rate was
  computed from); ``premium_index`` candles are built from it: the settlement at ``H`` is the premium of
  the hour ``[H - 1h, H)``, so the 1h candle opening at ``H - 1h`` has o = h = l = c = that premium, and
  longer candles aggregate their hours (open: first hour, close: last settled hour). Volume is NaN.

Malformed bodies: a non-JSON 2xx body is refused by ``clients.strict_json_body`` (``ccxt.BadResponse``).
A JSON body of the wrong shape (``null``, an object where a list belongs) is read by ccxt's parsers as
"no rows" (``fetch_ohlcv`` and ``fetch_funding_rate_history`` keep only list answers;
``metaAndAssetCtxs`` falls back to empty lists). Wherever a call comes back empty we look at the
client's ``last_http_response`` and raise ``ccxt.BadResponse`` if it was not the shape the type answers
with; rows without a time or price raise it too. An empty snapshot (no tickers, no funding rows for
perps that are listed) raises ``ccxt.NullResponse``. ``last_http_response`` is per client, so under
concurrent use it may be another call's body: at worst a malformed answer is blamed on the wrong call,
never passed off as "no data".
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import ccxt

from data_sources.venues.base import Contract, FundingNow, FundingPoint, PriceField, Quote, VenueSpec

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FUNDING_INTERVAL_HOURS = 1.0  # Hyperliquid funds every hour on every perp (main dex and HIP-3)
FUNDING_PAGE = 500  # fundingHistory rows per answer (Hyperliquid docs)
CANDLE_PAGE = 5000  # candleSnapshot candles per answer (Hyperliquid docs; ccxt features.fetchOHLCV.limit)
# An answer shorter than this is taken as complete for its window: no server caps that low, so its gaps
# are real (before a listing, after a delisting) and not probed again.
MIN_TRUNCATED_PAGE = 500
MAX_CANDLES = 200_000  # refuse windows that would page for minutes (the facade asks for at most 20,000)
PAGE_SLACK = 3  # requests beyond the arithmetic bound before a loop guard trips

# Constructor options merged by ``data_sources.clients``: the HIP-3 dexes to load (one request each).
CCXT_OPTIONS: dict[str, dict[str, Any]] = {
    "hyperliquid": {"options": {"fetchMarkets": {"hip3": {"dexes": ["xyz"]}}}},
}


# ---------------------------------------------------------------------------------------------------------
# Contracts


def _is_hip3(market: dict[str, Any]) -> bool:
    """A HIP-3 (builder-deployed dex) market: ccxt marks them ``info.hip3``; their coin is ``dex:NAME``."""
    info = market.get("info") or {}
    return bool(info.get("hip3")) or ":" in str(market.get("baseName") or info.get("name") or "")


def _dex(ex: Any, symbol: str) -> str | None:
    """The dex a symbol trades on: None for the main dex, else its name (``xyz``)."""
    market = ex.market(symbol)
    if not _is_hip3(market):
        return None
    info = market.get("info") or {}
    return str(info.get("dex") or str(market.get("baseName") or "").partition(":")[0])


def contracts(ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
    """Main-dex perps of ``base`` from ``ex.markets`` (no I/O); HIP-3 markets are never listed here.

    ``contract_size`` is 1 (one coin per contract, ccxt's ``contractSize``). Delisted coins (ccxt
    ``active`` False, Hyperliquid's ``isDelisted``) are left out.
    """
    out: list[Contract] = []
    for m in (ex.markets or {}).values():
        if m.get("base") != base or m.get("type") != "swap" or m.get("active") is False or _is_hip3(m):
            continue
        out.append(
            Contract(
                venue=spec.id,
                symbol=m["symbol"],
                base=m["base"],
                quote=m["quote"],
                settle=m["settle"],
                kind="perp",
                linear=bool(m.get("linear", True)),
                contract_size=float(m.get("contractSize") or 1.0),
                expiry_ms=None,
            )
        )
    out.sort(key=lambda c: (c.quote, c.symbol))
    return out


def _by_dex(ex: Any, symbols: list[str]) -> dict[str | None, list[str]]:
    groups: dict[str | None, list[str]] = {}
    for s in symbols:
        groups.setdefault(_dex(ex, s), []).append(s)
    return groups


# ---------------------------------------------------------------------------------------------------------
# Quotes and funding now


def quotes(ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
    """Last (book mid), mark and index (oracle) of ``contracts``, in USDC.

    One ``metaAndAssetCtxs`` per dex (``fetch_tickers`` with ``type=swap`` for the main dex; for HIP-3
    symbols ccxt infers the dex and posts ``perpDexs`` + the dex's ``metaAndAssetCtxs``). ``ts_ms`` is the
    client's clock when the answer came (the endpoint has no timestamp). Raises ``ccxt.NullResponse`` when
    no price at all came back.
    """
    if not contracts:
        return []
    contexts: dict[str, dict[str, Any]] = {}
    stamps: dict[str, int] = {}
    for dex, symbols in _by_dex(ex, [c.symbol for c in contracts]).items():
        tickers = ex.fetch_tickers(symbols, params={"type": "swap"} if dex is None else {})
        if not tickers:
            _raise_if_malformed(ex, "fetch_tickers", _is_meta_and_ctxs)
        now = int(ex.milliseconds())
        for symbol, t in (tickers or {}).items():
            contexts[symbol] = t.get("info") or {}
            stamps[symbol] = now
    out = [
        Quote(
            symbol=c.symbol,
            last=_float(contexts.get(c.symbol, {}).get("midPx")),
            mark=_float(contexts.get(c.symbol, {}).get("markPx")),
            index=_float(contexts.get(c.symbol, {}).get("oraclePx")),
            ts_ms=stamps.get(c.symbol),
        )
        for c in contracts
    ]
    if all(q.last is None and q.mark is None and q.index is None for q in out):
        raise ccxt.NullResponse(f"{ex.id} quotes: no prices for {[c.symbol for c in contracts]}")
    return out


def funding_now(ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
    """Current funding of ``perps``: one ``fetch_funding_rates`` (``metaAndAssetCtxs``) per dex.

    ``rate`` is the running estimate for the coming hourly settlement (``funding``, a fraction per hour);
    the interval is Hyperliquid's stated hourly schedule; ``next_funding_ms`` the next full hour (ccxt's
    ``fundingTimestamp``). No predicted rate. Perps missing from the answer are left out; none at all
    raises ``ccxt.NullResponse``.
    """
    if not perps:
        return []
    out: list[FundingNow] = []
    for _dex_name, symbols in _by_dex(ex, [p.symbol for p in perps]).items():
        rates = ex.fetch_funding_rates(symbols)
        if not rates:
            _raise_if_malformed(ex, "fetch_funding_rates", _is_meta_and_ctxs)
        now = int(ex.milliseconds())
        for symbol in symbols:
            fr = (rates or {}).get(symbol)
            if fr is None or fr.get("fundingRate") is None:
                continue
            out.append(
                FundingNow(
                    symbol=symbol,
                    rate=_float(fr.get("fundingRate")),
                    interval_hours=_interval_hours(fr.get("interval")),
                    interval_inferred=False,  # stated by the venue (every Hyperliquid perp funds hourly)
                    next_funding_ms=_int(fr.get("fundingTimestamp")),
                    predicted_rate=None,
                    ts_ms=now,
                )
            )
    if not out:
        raise ccxt.NullResponse(f"{ex.id} funding_now: no funding rows for {[p.symbol for p in perps]}")
    return out


def _interval_hours(interval: Any) -> float:
    """ccxt's ``'1h'``; Hyperliquid's documented hourly schedule if ccxt ever leaves it out."""
    text = str(interval or "")
    try:
        return float(text[:-1]) if text.endswith("h") else FUNDING_INTERVAL_HOURS
    except ValueError:
        return FUNDING_INTERVAL_HOURS


# ---------------------------------------------------------------------------------------------------------
# Funding history


def funding_history(ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int) -> list[FundingPoint]:
    """Every hourly settlement of perp ``symbol`` (main dex or HIP-3) in [start_ms, end_ms], ascending, unique.

    ``rate`` is the settled rate per hour (a fraction), stamped on the hour; ``interval_hours`` is 1.
    Requests: ``fetch_funding_rate_history(symbol, since=cursor, params={'until': ...})`` pages of up to
    500 rows forward from the window's first hour (a year: 18 requests).
    """
    rows = _settlements(ex, symbol, start_ms, end_ms)
    return [FundingPoint(ts_ms=t, rate=rows[t][0], interval_hours=FUNDING_INTERVAL_HOURS) for t in sorted(rows)]


def _settlements(ex: Any, symbol: str, start_ms: int, end_ms: int) -> dict[int, tuple[float, float | None]]:
    """Hour (ms) -> (rate, premium) of every settlement in [start_ms, end_ms] (capped at now).

    Walks forward: each request asks from just after the newest stamp received up to the end of the
    window's last hour (a stamp is a few ms after its hour). Ends when the window's last settlement came
    or a page is empty; a guard refuses a cursor that stops moving.
    """
    market = ex.market(symbol)  # BadSymbol for unknown symbols, before any request
    if not market.get("swap"):
        raise ccxt.BadRequest(f"{ex.id} funding history exists for perps only, not {symbol}")
    first = -(-int(start_ms) // HOUR_MS) * HOUR_MS
    last = min(int(end_ms), int(ex.milliseconds())) // HOUR_MS * HOUR_MS
    out: dict[int, tuple[float, float | None]] = {}
    if last < first:
        return out
    # A server capping pages below 100 rows would trip the guard rather than loop for ever.
    max_pages = (last - first) // HOUR_MS // 100 + PAGE_SLACK
    cursor = first
    for _ in range(max_pages):
        page = ex.fetch_funding_rate_history(symbol, since=cursor, params={"until": last + HOUR_MS - 1})
        if not page:
            _raise_if_malformed(ex, "fetch_funding_rate_history", _is_list)
            return out
        newest = _add_settlements(ex, page, first, last, out)
        if newest // HOUR_MS * HOUR_MS >= last:
            return out
        if newest < cursor:
            raise ccxt.BadResponse(f"{ex.id} fundingHistory for {symbol}: rows older than startTime {cursor}")
        cursor = newest + 1
    raise ccxt.ExchangeError(f"{ex.id} funding history for {symbol}: page limit {max_pages} reached")


def _add_settlements(ex: Any, page: list[dict[str, Any]], first: int, last: int,
                     out: dict[int, tuple[float, float | None]]) -> int:
    """Put a page's rows in ``out`` (keyed by hour, inside [first, last]); return the newest raw stamp."""
    newest = -1
    for row in page:
        stamp, rate = _int(row.get("timestamp")), _float(row.get("fundingRate"))
        if stamp is None or rate is None:
            raise ccxt.BadResponse(f"{ex.id} fundingHistory row without time or rate: {row.get('info')!r:.120}")
        hour = stamp // HOUR_MS * HOUR_MS
        if first <= hour <= last:
            out[hour] = (rate, _float((row.get("info") or {}).get("premium")))
        newest = max(newest, stamp)
    return newest


# ---------------------------------------------------------------------------------------------------------
# OHLCV


def ohlcv(
    ex: Any,
    spec: VenueSpec,
    symbol: str,
    timeframe: str,
    price: PriceField,
    start_ms: int,
    end_ms: int,
) -> list[list[float]]:
    """Candles ``[open_ms, o, h, l, c, v]`` with open time in [start_ms, end_ms], ascending, unique.

    ``price="last"``: trade candles (``candleSnapshot``), prices in USDC, ``v`` in coins; the forming
    candle is included. ``price="premium_index"``: the hourly premium from ``fundingHistory`` (a
    fraction), for 1h and longer whole-hour timeframes, volume NaN, no forming hour (an hour's premium
    is published with its settlement). ``mark``/``index``: ``ccxt.NotSupported``.
    """
    if price in ("mark", "index"):
        raise ccxt.NotSupported(f"{ex.id} publishes no {price} candles (candleSnapshot is trade candles only)")
    if price == "premium_index":
        return _premium_candles(ex, symbol, timeframe, start_ms, end_ms)
    if price != "last":
        raise ccxt.BadRequest(f"{ex.id} ohlcv: unknown price field {price!r}")
    if timeframe not in ex.timeframes:
        raise ccxt.NotSupported(f"{ex.id}: no {timeframe} candles; intervals are {sorted(ex.timeframes)}")
    ex.market(symbol)  # BadSymbol before any request
    tf = int(ex.parse_timeframe(timeframe)) * 1000
    first = -(-int(start_ms) // tf) * tf
    last = min(int(end_ms), int(ex.milliseconds())) // tf * tf
    if last < first:
        return []
    n = (last - first) // tf + 1
    if n > MAX_CANDLES:
        raise ccxt.BadRequest(f"{ex.id} ohlcv: {n} {timeframe} candles requested, at most {MAX_CANDLES}")

    def fetch(lo: int, hi: int) -> list[list[Any]]:
        # endTime at the end of the window's last candle: inclusive whether the server compares the open
        # or the close time with it
        page: list[list[Any]] = ex.fetch_ohlcv(symbol, timeframe, since=lo, params={"until": hi + tf - 1})
        return page

    rows = _candle_walk(ex, fetch, first, last, tf, max_requests=n // CANDLE_PAGE + 2 * (n // MIN_TRUNCATED_PAGE)
                        + PAGE_SLACK)
    return [rows[t] for t in sorted(rows)]


def _candle_walk(ex: Any, fetch: Callable[[int, int], list[list[Any]]], first: int, last: int, tf: int, *,
                 max_requests: int) -> dict[int, list[float]]:
    """Candles opening in [first, last] (on the ``tf`` grid): windows of ``CANDLE_PAGE``, gaps asked again.

    A window whose answer is shorter than ``MIN_TRUNCATED_PAGE`` is complete; a longer answer that leaves
    either end of its window uncovered was cut by the server, and that end is asked again. An empty answer
    means nothing is there (before a listing).
    """
    pending = deque((lo, min(last, lo + (CANDLE_PAGE - 1) * tf)) for lo in range(first, last + 1, CANDLE_PAGE * tf))
    rows: dict[int, list[float]] = {}
    for _ in range(max_requests):
        if not pending:
            return rows
        lo, hi = pending.popleft()
        page = fetch(lo, hi)
        if not page:
            _raise_if_malformed(ex, "fetch_ohlcv", _is_list)
            continue
        got = [_candle(ex, c) for c in page if c and c[0] is not None and lo <= c[0] <= hi]
        if not got:
            continue
        rows.update((int(c[0]), c) for c in got)
        if len(page) >= MIN_TRUNCATED_PAGE:
            oldest, newest = int(got[0][0]), int(got[-1][0])
            if newest < hi:
                pending.appendleft((newest + tf, hi))
            if oldest > lo:
                pending.appendleft((lo, oldest - tf))
    if pending:
        raise ccxt.ExchangeError(f"{ex.id} ohlcv: request limit {max_requests} reached")
    return rows


def _candle(ex: Any, c: list[Any]) -> list[float]:
    if any(x is None for x in c[1:5]):
        raise ccxt.BadResponse(f"{ex.id} candleSnapshot row without a price: {c!r:.120}")
    return [float(c[0]), *(float(x) for x in c[1:5]), math.nan if c[5] is None else float(c[5])]


def _premium_candles(ex: Any, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> list[list[float]]:
    """Premium candles from the hourly ``premium`` of ``fundingHistory`` (see the module docstring)."""
    tf = int(ex.parse_timeframe(timeframe)) * 1000 if timeframe in ex.timeframes else 0
    if tf < HOUR_MS or tf % HOUR_MS or (tf <= DAY_MS and DAY_MS % tf):
        raise ccxt.NotSupported(f"{ex.id}: premium candles are built from hourly premiums; no {timeframe} candles")
    first = -(-int(start_ms) // tf) * tf
    last = min(int(end_ms), int(ex.milliseconds())) // tf * tf
    if last < first:
        ex.market(symbol)
        return []
    # The candle opening at O holds the hours [O, O + tf): their settlements are at O + 1h ... O + tf.
    hours = _settlements(ex, symbol, first + HOUR_MS, last + tf)
    candles: dict[int, list[float]] = {}
    for hour in sorted(hours):
        premium = hours[hour][1]
        if premium is None:
            raise ccxt.BadResponse(f"{ex.id} fundingHistory row at {hour} has no premium")
        open_ms = (hour - HOUR_MS) // tf * tf
        c = candles.get(open_ms)
        if c is None:
            candles[open_ms] = [float(open_ms), premium, premium, premium, premium, math.nan]
        else:
            c[2], c[3], c[4] = max(c[2], premium), min(c[3], premium), premium
    return [candles[t] for t in sorted(candles)]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _is_list(body: Any) -> bool:
    return isinstance(body, list)


def _is_meta_and_ctxs(body: Any) -> bool:
    return isinstance(body, list) and len(body) == 2 and isinstance(body[0], dict) and isinstance(body[1], list)


def _raise_if_malformed(ex: Any, what: str, well_formed: Callable[[Any], bool]) -> None:
    """Call after an EMPTY parsed answer: raise ``ccxt.BadResponse`` unless the body had the right shape."""
    body = getattr(ex, "last_http_response", None)
    if not isinstance(body, str):
        return
    try:
        ok = well_formed(json.loads(body))
    except ValueError:
        ok = False
    if not ok:
        raise ccxt.BadResponse(f"{ex.id} {what}: malformed answer {body[:80]!r}")


def _float(x: Any) -> float | None:
    if x is None or x == "":
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _int(x: Any) -> int | None:
    if x is None or x == "":
        return None
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


__all__ = ["CCXT_OPTIONS", "contracts", "funding_history", "funding_now", "ohlcv", "quotes"]
