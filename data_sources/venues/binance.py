"""Binance quirks for the three Binance venues: spot (``binance``), USDⓈ-M (``binanceusdm``), COIN-M
(``binancecoinm``).

What differs from the other exchanges, and why the code below looks the way it does:

- Last prices come from ``/ticker/24hr``; mark and index only from ``/premiumIndex`` (one bulk call each,
  both cover perps and quarterlies). The spot venue has only last prices.
- ``premiumIndex.lastFundingRate`` is, despite its name, the *running estimate* for the coming settlement
  (ccxt: ``fundingRate`` stamped ``fundingTimestamp`` = ``nextFundingTime``). It is our ``rate``; Binance
  publishes no separate prediction, so ``predicted_rate`` is None.
- Funding intervals: ``/fundingInfo`` lists only symbols whose settings were adjusted; every other symbol
  runs on Binance's documented default of 8h, which is therefore a stated, not an inferred, interval.
- Funding history: ccxt's ``paginate`` assumes 8h steps and drops rows of 4h/1h symbols, so we page
  ourselves: ``startTime = last fundingTime + 1``, ``limit=1000`` (the server's cap), ``endTime = end``.
- Klines: USD-M and spot page forward from ``startTime``; COIN-M returns the *latest* ``limit`` candles
  before ``endTime`` and rejects windows longer than 200 days, so every page is an explicit window
  ``[since, until]`` no longer than ``limit`` candles (and 200 days), which both behaviours answer alike.

All timestamps are integer milliseconds since the epoch, UTC. Functions raise ccxt errors; the facade
translates them.
"""

from __future__ import annotations

import math
from typing import Any

import ccxt

from data_sources.venues.base import Contract, FundingNow, FundingPoint, Kind, PriceField, Quote, VenueSpec

# load_markets: one exchangeInfo call per venue. fetchMargins would add two margin calls on spot as soon
# as a user configures API keys; we never need margin pairs. (A 2xx body that is not JSON is rejected for
# every venue by clients.strict_json_body.)
CCXT_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False}},
    "binanceusdm": {"options": {"fetchMarkets": {"types": ["linear"]}}},
    "binancecoinm": {"options": {"fetchMarkets": {"types": ["inverse"]}}},
}

SPOT_QUOTE = "USDT"
DEFAULT_FUNDING_HOURS = 8.0  # Binance's documented default for symbols absent from /fundingInfo
FUNDING_PAGE_LIMIT = 1000  # server-side cap of /fapi|dapi/v1/fundingRate
FUNDING_MAX_PAGES = 200  # 200k settlements: 22 years of 1h funding; beyond that something is wrong
KLINE_PAGE_LIMIT = 1000  # ccxt caps fetch_ohlcv's limit at 1000 for every Binance market
COINM_MAX_KLINE_WINDOW_MS = 200 * 86_400_000  # COIN-M: endTime - startTime at most 200 days
HOUR_MS = 3_600_000

_KIND_ORDER = {"spot": 0, "perp": 1, "future": 2}
# Our price field -> ccxt's fetch_ohlcv `price` param (None: traded candles).
_PRICE_PARAM: dict[str, str | None] = {"last": None, "mark": "mark", "index": "index",
                                       "premium_index": "premiumIndex"}


def _is_spot(spec: VenueSpec) -> bool:
    return "spot" in spec.kinds


def _sub_type(spec: VenueSpec) -> str:
    """ccxt's subType for this venue's bulk endpoints (its /fapi or /dapi)."""
    return "inverse" if spec.id == "binancecoinm" else "linear"


def _float(value: Any) -> float | None:
    """ccxt numbers or None; NaN and empty become None (Binance sends "" for absent funding fields)."""
    if value is None or value == "":
        return None
    out = float(value)
    return None if math.isnan(out) else out


# ---------------------------------------------------------------------------------------------------------
# contracts


def contracts(ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
    """Perps and unexpired dated futures of ``base`` (spot venue: ``base``/USDT spot), from ``ex.markets``.

    Pure: no I/O. Inactive markets (e.g. status SETTLING) are left out. Ordered spot, perps, futures by
    expiry. ``contract_size`` is base units per contract (linear) or USD per contract (COIN-M inverse).
    """
    now = int(ex.milliseconds())
    out: list[Contract] = []
    for m in (ex.markets or {}).values():
        if m.get("base") != base or m.get("active") is False:
            continue
        kind = _kind(m, spec, now)
        if kind is None:
            continue
        out.append(Contract(
            venue=spec.id,
            symbol=m["symbol"],
            base=m["base"],
            quote=m["quote"],
            settle=m.get("settle") or m["quote"],  # spot settles in its quote asset
            kind=kind,
            linear=kind == "spot" or bool(m.get("linear")),
            contract_size=float(m.get("contractSize") or 1.0),
            expiry_ms=int(m["expiry"]) if kind == "future" else None,
        ))
    out.sort(key=lambda c: (_KIND_ORDER[c.kind], c.expiry_ms or 0, c.symbol))
    return out


def _kind(m: dict[str, Any], spec: VenueSpec, now: int) -> Kind | None:
    if m.get("spot"):
        return "spot" if "spot" in spec.kinds and m.get("quote") == SPOT_QUOTE else None
    if m.get("swap") and "perp" in spec.kinds:
        return "perp"
    if m.get("future") and "future" in spec.kinds and m.get("expiry") and int(m["expiry"]) > now:
        return "future"
    return None


# ---------------------------------------------------------------------------------------------------------
# quotes


def quotes(ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
    """Last, mark and index of ``contracts``.

    Spot: one ``GET /api/v3/ticker/24hr?symbols=[...]``; last only. Futures: ``GET ticker/price`` (last)
    and ``GET premiumIndex`` (mark, index), both without ``symbol`` so one call each covers every perp and
    quarterly of the venue. ``ts_ms`` is the premiumIndex time where there is one, else the ticker's close time.
    A contract the venue returned nothing for is left out.
    """
    symbols = [c.symbol for c in contracts]
    if not symbols:
        return []
    if _is_spot(spec):
        tickers = ex.fetch_tickers(symbols)
        marks: dict[str, Any] = {}
    else:
        # No symbols: ccxt refuses a list mixing swaps and futures, and Binance's futures endpoints take
        # one symbol or none; none returns every contract in one call.
        # Last prices from ticker/price (weight 2 for all symbols; ticker/24hr would weigh 40 and hold the
        # client's rate limiter for two seconds).
        params = {"subType": _sub_type(spec)}
        tickers = ex.fetch_last_prices(params=dict(params))
        marks = ex.fetch_mark_prices(params=dict(params))
    out: list[Quote] = []
    for s in symbols:
        t, m = tickers.get(s) or {}, marks.get(s) or {}
        last = _float(t.get("last", t.get("price")))
        mark, index = _float(m.get("markPrice")), _float(m.get("indexPrice"))
        if last is None and mark is None and index is None:
            continue
        ts = m.get("timestamp") or t.get("timestamp")
        out.append(Quote(symbol=s, last=last, mark=mark, index=index, ts_ms=int(ts) if ts else None))
    return out


# ---------------------------------------------------------------------------------------------------------
# funding now


def funding_now(ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
    """Current funding of ``perps``: two bulk calls, ``GET premiumIndex`` and ``GET fundingInfo``.

    ``rate`` is premiumIndex's ``lastFundingRate``: the running estimate of the settlement at
    ``next_funding_ms``, per interval. The interval is ``fundingIntervalHours`` from fundingInfo, or 8h for
    symbols it does not list (Binance's documented default, so not flagged as inferred).
    """
    symbols = [p.symbol for p in perps if p.kind == "perp"]
    if not symbols or _is_spot(spec):
        return []
    params = {"subType": _sub_type(spec)}
    rates = ex.fetch_funding_rates(symbols, params=dict(params))
    intervals = _funding_intervals(ex, spec, symbols)
    out: list[FundingNow] = []
    for s in symbols:
        r = rates.get(s)
        if r is None:
            continue
        nxt = r.get("fundingTimestamp")
        ts = r.get("timestamp")
        out.append(FundingNow(
            symbol=s,
            rate=_float(r.get("fundingRate")),
            interval_hours=intervals.get(s, DEFAULT_FUNDING_HOURS),
            interval_inferred=False,
            next_funding_ms=int(nxt) if nxt else None,
            predicted_rate=None,
            ts_ms=int(ts) if ts else None,
        ))
    return out


def _funding_intervals(ex: Any, spec: VenueSpec, symbols: list[str]) -> dict[str, float]:
    """Hours per settlement of the adjusted symbols among ``symbols`` (``GET fundingInfo``)."""
    listed = ex.fetch_funding_intervals(symbols, params={"subType": _sub_type(spec)})
    out: dict[str, float] = {}
    for s, row in listed.items():
        interval = row.get("interval")  # ccxt: "4h" from fundingIntervalHours
        if interval:
            out[s] = ex.parse_timeframe(interval) * 1000 / HOUR_MS
    return out


# ---------------------------------------------------------------------------------------------------------
# funding history


def funding_history(ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int) -> list[FundingPoint]:
    """Every settlement of perp ``symbol`` in [start_ms, end_ms], ascending, deduplicated.

    Cursor loop over ``GET fundingRate?symbol&startTime&endTime&limit=1000`` (``startTime`` = last
    ``fundingTime`` + 1), plus one ``GET fundingInfo`` for the interval. Binance answers "startTime +
    limit" rows in ascending order, so a page shorter than the limit is the end of the window: a year of
    8h funding takes 2 calls, of 4h 3, of 1h 9. ``rate`` is per settlement of ``interval_hours`` (the
    symbol's current interval).
    """
    market = ex.market(symbol)
    if not market.get("swap"):
        raise ccxt.BadRequest(f"{spec.id}: {symbol} is not a perpetual; only perpetuals have funding")
    if end_ms < start_ms:
        return []
    hours = _funding_intervals(ex, spec, [symbol]).get(symbol, DEFAULT_FUNDING_HOURS)
    rates: dict[int, float] = {}
    cursor = start_ms
    for _ in range(FUNDING_MAX_PAGES):
        page = ex.fetch_funding_rate_history(symbol, since=cursor, limit=FUNDING_PAGE_LIMIT,
                                             params={"until": end_ms})
        stamps = [_row_time(row, symbol) for row in page]
        for ts, row in zip(stamps, page, strict=True):
            rate = _float(row.get("fundingRate"))
            if start_ms <= ts <= end_ms and rate is not None:
                rates[ts] = rate
        if len(page) < FUNDING_PAGE_LIMIT:
            break  # an empty or short page: the server has nothing more up to end_ms
        last = max(stamps)
        if last < cursor:
            raise ccxt.BadResponse(f"{spec.id}: fundingRate for {symbol} did not advance past {cursor}")
        cursor = last + 1
        if cursor > end_ms:
            break
    else:
        raise ccxt.BadResponse(f"{spec.id}: fundingRate for {symbol} still paging after {FUNDING_MAX_PAGES} pages")
    return [FundingPoint(ts_ms=t, rate=rates[t], interval_hours=hours) for t in sorted(rates)]


def _row_time(row: dict[str, Any], symbol: str) -> int:
    ts = row.get("timestamp")
    if ts is None:
        raise ccxt.BadResponse(f"binance: funding row without fundingTime for {symbol}: {row.get('info')!r}")
    return int(ts)


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
    """Candles ``[open_ms, o, h, l, c, v]`` opening in [start_ms, end_ms], ascending, deduplicated.

    ``price``: last (``klines``), mark (``markPriceKlines``), index (``indexPriceKlines?pair=``) or
    premium_index (``premiumIndexKlines``, a fraction; perpetuals only). Spot has only last. Volume is
    0 for mark/index/premium candles (Binance publishes none) and, for COIN-M, in the base asset (ccxt reads
    the base-asset volume field). Pages are explicit windows of at most 1000 candles (COIN-M: 200 days),
    one request each; the still-forming candle is included as the venue returns it.
    """
    market = ex.market(symbol)
    param = _price_param(spec, market, symbol, price)
    tf_ms = int(ex.parse_timeframe(timeframe) * 1000)
    stop = min(end_ms, int(ex.milliseconds()))
    if market.get("expiry") and market.get("future"):
        stop = min(stop, int(market["expiry"]) - 1)  # a quarterly has no candle after its delivery
    cursor = -(-start_ms // tf_ms) * tf_ms
    span = KLINE_PAGE_LIMIT * tf_ms
    if market.get("inverse"):
        span = min(span, COINM_MAX_KLINE_WINDOW_MS)
    limit = max(1, span // tf_ms)
    rows: dict[int, list[float]] = {}
    max_pages = max(0, stop - cursor) // span + 2  # the windows are fixed, so the page count is known
    pages = 0
    while cursor <= stop:
        pages += 1
        if pages > max_pages:
            raise ccxt.BadResponse(f"{spec.id}: klines for {symbol} still paging after {max_pages} pages")
        until = min(cursor + limit * tf_ms - 1, stop)
        params: dict[str, Any] = {"until": until}
        if param is not None:
            params["price"] = param
        page = ex.fetch_ohlcv(symbol, timeframe, since=cursor, limit=limit, params=params)
        for r in page:
            ts = int(r[0])
            if start_ms <= ts <= end_ms:
                rows[ts] = [ts, *(_candle_value(x) for x in r[1:6])]
        # An explicit window is answered completely, so an empty page means "no candles there", not "done".
        nxt = int(max(r[0] for r in page)) + tf_ms if page else until + 1
        if nxt <= cursor:
            raise ccxt.BadResponse(f"{spec.id}: klines for {symbol} did not advance past {cursor}")
        cursor = nxt
    return [rows[t] for t in sorted(rows)]


def _candle_value(x: Any) -> float:
    return math.nan if x is None else float(x)


def _price_param(spec: VenueSpec, market: dict[str, Any], symbol: str, price: str) -> str | None:
    if price not in _PRICE_PARAM:
        raise ccxt.BadRequest(f"{spec.id}: unknown price field {price!r}; use last, mark, index or premium_index")
    if price == "last":
        return None
    if market.get("spot"):
        raise ccxt.NotSupported(f"{spec.id}: Binance spot publishes traded (last) candles only, no {price} candles")
    if price == "premium_index" and not market.get("swap"):
        raise ccxt.NotSupported(f"{spec.id}: premium index candles exist for perpetuals only, not {symbol}")
    return _PRICE_PARAM[price]
