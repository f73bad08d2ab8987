"""Simulated Bybit (v5 public market API) for demo mode and tests.

Answers what ccxt's ``bybit`` class asks for with ``fetchMarkets.types=['linear','inverse']`` and what
``data_sources/venues/bybit.py`` calls, in Bybit's real formats:

- envelope ``{"retCode":0,"retMsg":"OK","result":{...},"retExtInfo":{},"time":<ms>}``; every number is a
  string except ``fundingInterval`` (an integer, in minutes) and ``time``;
- ``/v5/market/instruments-info``: ``category`` linear|inverse, ``status`` (``PreLaunch`` -> no rows here),
  ``limit`` (default 500, max 1000) and an opaque ``cursor`` / ``nextPageCursor`` (``""`` on the last page);
- ``/v5/market/tickers``: one row per listed contract of the category (or ``symbol=``);
- ``/v5/market/funding/history``: newest first, at most 200 rows; ``startTime`` without ``endTime`` is an
  error; with both, the newest ``limit`` settlements inside the window;
- ``/v5/market/kline`` and the ``mark-``, ``index-`` and ``premium-index-price-kline`` variants: newest
  first, at most 1000 rows; with ``start`` the window is anchored at the candle that contains ``start``
  (the oldest ``limit`` candles from there), without it at ``end`` (default now). Kline rows are
  ``[start, open, high, low, close, volume, turnover]``, the price-kline rows stop after ``close``.
  The premium index kline exists for linear perpetuals only.
- ``/v5/market/risk-limit``: ``category`` required, ``symbol`` optional; rows ``id``, ``riskLimitValue`` (the
  tier's cap of the position value in the settle coin), ``maintenanceMargin``/``initialMargin`` (fractions),
  ``isLowestRisk``, ``maxLeverage``, ``mmDeduction`` (``""`` on the lowest tier).

Errors as Bybit sends them: unknown symbol -> HTTP 200 ``retCode 10001``; unknown route -> HTTP 404
``retCode 10017``; injected rate limit -> HTTP 200 ``retCode 10006 "Too many visits..."`` (Bybit's API
limit answer; ccxt maps the code to ``RateLimitExceeded``); injected ban -> HTTP 403 with a plain-text body
(Bybit's IP ban; ccxt's ``httpExceptions`` map 403 to ``RateLimitExceeded``); injected server error ->
HTTP 503 from the gateway with an HTML body (ccxt: ``ExchangeNotAvailable``).

Instrument ids are built from ``SimInstrument`` as Bybit names them: ``BTCUSDT`` (USDT perp), ``BTCUSD``
(inverse perp), ``BTCUSDZ26`` (inverse quarterly, month code + 2-digit year), ``BTC-27NOV26`` (USDC-settled
linear future: day without zero padding, as Bybit's options and USDC futures do).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from data_sources.simulated.market import (
    CATALOG,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SimInstrument,
    SimMarket,
    last_friday,
)
from data_sources.simulated.transport import SimRequest, SimResponse

MONTH_CODES = "FGHJKMNQUVXZ"  # futures month letters, January..December
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

INSTRUMENTS_DEFAULT_LIMIT = 500
INSTRUMENTS_MAX_LIMIT = 1000
FUNDING_MAX_LIMIT = 200
KLINE_DEFAULT_LIMIT = 200
KLINE_MAX_LIMIT = 1000

# Bybit's interval codes; W and M are calendar-aligned on Bybit, which this model does not reproduce.
INTERVAL_MS: dict[str, int] = {
    "1": MINUTE_MS,
    "3": 3 * MINUTE_MS,
    "5": 5 * MINUTE_MS,
    "15": 15 * MINUTE_MS,
    "30": 30 * MINUTE_MS,
    "60": HOUR_MS,
    "120": 2 * HOUR_MS,
    "240": 4 * HOUR_MS,
    "360": 6 * HOUR_MS,
    "720": 12 * HOUR_MS,
    "D": DAY_MS,
}

KLINE_FIELDS: dict[str, str] = {
    "/v5/market/kline": "last",
    "/v5/market/mark-price-kline": "mark",
    "/v5/market/index-price-kline": "index",
    "/v5/market/premium-index-price-kline": "premium_index",
}

# Per-base exchange filters (tick size, minimum linear order) -- cosmetic, but ccxt reads them.
_TICK = {"BTC": "0.10", "ETH": "0.01", "SOL": "0.010"}
_MIN_QTY_LINEAR = {"BTC": "0.001", "ETH": "0.01", "SOL": "0.1"}


# Risk limits (simulated; Bybit's shape): (riskLimitValue of BTC, maintenanceMargin, initialMargin) per tier,
# rates as fractions (Bybit's v5 answers "0.005", not percent). Linear values are USDT/USDC, inverse values
# BTC; other coins scale the values (_RISK_SCALE). maxLeverage = 1/initialMargin floored to 0.01, at most
# the listing's leverageFilter.maxLeverage; mmDeduction keeps maintenance margin continuous ("" on tier 1).
_RISK_LINEAR = ((2_000_000, "0.005", "0.01"), (4_000_000, "0.01", "0.02"), (6_000_000, "0.0125", "0.025"),
                (10_000_000, "0.02", "0.04"), (20_000_000, "0.025", "0.05"), (50_000_000, "0.05", "0.1"),
                (100_000_000, "0.1", "0.2"))
_RISK_INVERSE = ((150, "0.005", "0.01"), (300, "0.01", "0.02"), (450, "0.015", "0.03"), (600, "0.02", "0.04"),
                 (750, "0.025", "0.05"))
_RISK_SCALE = {"linear": {"BTC": 1.0, "ETH": 0.5, "SOL": 0.1}, "inverse": {"BTC": 1.0, "ETH": 20.0, "SOL": 400.0}}


def _max_leverage(inst: SimInstrument) -> str:
    """The listing's ``leverageFilter.maxLeverage``."""
    return "100.00" if inst.kind == "perp" else "50.00"


def risk_limits(inst: SimInstrument) -> list[dict[str, Any]]:
    """Bybit's ``/v5/market/risk-limit`` rows for ``inst``, tier 1 first."""
    category = category_of(inst)
    table = _RISK_LINEAR if category == "linear" else _RISK_INVERSE
    scale = Decimal(repr(_RISK_SCALE[category].get(inst.base, 1.0)))
    cap_lev = Decimal(_max_leverage(inst))
    rows: list[dict[str, Any]] = []
    prev_value, prev_mm, deduction = Decimal(0), Decimal(0), Decimal(0)
    for n, (value, mm, im) in enumerate(table, start=1):
        limit = Decimal(value) * scale
        mmr, imr = Decimal(mm), Decimal(im)
        if n > 1:
            deduction += prev_value * (mmr - prev_mm)
        lev = min((Decimal(1) / imr).quantize(Decimal("0.01"), rounding="ROUND_FLOOR"), cap_lev)
        rows.append({
            "id": n, "symbol": instrument_id(inst), "riskLimitValue": _dec(limit),
            "maintenanceMargin": mm, "initialMargin": im, "isLowestRisk": 1 if n == 1 else 0,
            "maxLeverage": f"{lev:.2f}", "mmDeduction": "" if n == 1 else _dec(deduction),
        })
        prev_value, prev_mm = limit, mmr
    return rows


def _dec(x: Decimal) -> str:
    return format(x.normalize(), "f")


class BybitError(Exception):
    """A request Bybit rejects with ``retCode``/``retMsg`` (HTTP ``status``)."""

    def __init__(self, ret_code: int, ret_msg: str, status: int = 200) -> None:
        super().__init__(ret_msg)
        self.ret_code = ret_code
        self.ret_msg = ret_msg
        self.status = status


def _s(x: float) -> str:
    """Bybit sends numbers as strings; full float precision so tests compare at 1e-9."""
    return repr(float(x))


def _day_month_year(t_ms: int) -> tuple[int, int, int]:
    dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    return dt.day, dt.month, dt.year


def category_of(inst: SimInstrument) -> str:
    return "linear" if inst.linear else "inverse"


def instrument_id(inst: SimInstrument) -> str:
    """Bybit's symbol for ``inst``."""
    if inst.kind == "perp":
        return f"{inst.base}{inst.quote}"
    assert inst.expiry_ms is not None
    day, month, year = _day_month_year(inst.expiry_ms)
    if inst.inverse:
        return f"{inst.base}USD{MONTH_CODES[month - 1]}{year % 100:02d}"
    date = f"{day}{MONTHS[month - 1]}{year % 100:02d}"
    if inst.quote == "USDC":
        return f"{inst.base}-{date}"
    return f"{inst.base}{inst.quote}-{date}"


_INVERSE_FUTURE = re.compile(r"^([A-Z]+)USD([FGHJKMNQUVXZ])(\d{2})$")
_LINEAR_FUTURE = re.compile(r"^([A-Z]+?)(USDT)?-(\d{1,2})([A-Z]{3})(\d{2})$")


def _expired_future(market: SimMarket, venue: str, symbol: str) -> SimInstrument | None:
    """Resolve a dated-future id that is no longer listed (history requests)."""
    m = _INVERSE_FUTURE.match(symbol)
    try:
        if m:
            base, code, yy = m.groups()
            expiry = last_friday(2000 + int(yy), MONTH_CODES.index(code) + 1)
            return market.find(venue, base=base, quote="USD", kind="future", expiry_ms=expiry)
        m = _LINEAR_FUTURE.match(symbol)
        if m and m.group(4) in MONTHS:
            base, usdt, day, mon, yy = m.groups()
            year, month = 2000 + int(yy), MONTHS.index(mon) + 1
            if not 1 <= int(day) <= calendar.monthrange(year, month)[1]:
                return None
            expiry = calendar.timegm((year, month, int(day), 8, 0, 0)) * 1000
            inst = market.find(venue, base=base, quote="USDT" if usdt else "USDC", kind="future", expiry_ms=expiry)
            return inst if instrument_id(inst) == symbol else None
    except KeyError:
        return None
    return None


class BybitHandler:
    """One simulated Bybit exchange (``VenueHandler``)."""

    def __init__(self, venue: str, market: SimMarket) -> None:
        if venue not in CATALOG:
            raise ValueError(f"unknown venue {venue!r}")
        self.venue = venue
        self.market = market
        self._routes: dict[str, Callable[[SimRequest], dict[str, Any]]] = {
            "/v5/market/instruments-info": self._instruments_info,
            "/v5/market/tickers": self._tickers,
            "/v5/market/funding/history": self._funding_history,
            "/v5/market/time": self._time,
            "/v5/market/risk-limit": self._risk_limit,
        }
        for path in KLINE_FIELDS:
            self._routes[path] = self._kline

    # -- VenueHandler --------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        route = self._routes.get(req.path)
        if route is None or req.method != "GET":
            return self._envelope_error(10017, "route not found", 404)
        try:
            return self._ok(route(req))
        except BybitError as e:
            return self._envelope_error(e.ret_code, e.ret_msg, e.status)

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        now = self.market.now_ms()
        if kind == "rate_limit":
            # Bybit's per-UID API limit: HTTP 200 with retCode 10006 and the X-Bapi-Limit-* headers.
            headers = {
                "X-Bapi-Limit": "120",
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit-Reset-Timestamp": str(now + 1000),
            }
            body = self._envelope(10006, "Too many visits. Exceeded the API Rate Limit.", {})
            return SimResponse(200, body, headers)
        if kind == "ban":
            # The IP limit is enforced at the edge: a bare 403 page, not the JSON envelope.
            return SimResponse(403, "403 Forbidden: access too frequent, your IP has been banned",
                               {"Content-Type": "text/plain"})
        if kind == "server_error":
            html = "<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>"
            return SimResponse(503, html, {"Content-Type": "text/html"})
        raise ValueError(f"no Bybit error answer for fault kind {kind!r}")

    def empty(self, req: SimRequest) -> SimResponse:
        category = req.param("category") or "linear"
        result: dict[str, Any] = {"category": category, "list": []}
        if req.path == "/v5/market/instruments-info":
            result["nextPageCursor"] = ""
        elif req.path in KLINE_FIELDS:
            result["symbol"] = req.param("symbol") or ""
        return self._ok(result)

    # -- envelope ------------------------------------------------------------------------------------
    def _envelope(self, code: int, msg: str, result: Any) -> dict[str, Any]:
        return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.market.now_ms()}

    def _ok(self, result: dict[str, Any]) -> SimResponse:
        return SimResponse(200, self._envelope(0, "OK", result))

    def _envelope_error(self, code: int, msg: str, status: int) -> SimResponse:
        return SimResponse(status, self._envelope(code, msg, {}))

    # -- instruments ---------------------------------------------------------------------------------
    def _listed(self, category: str) -> list[SimInstrument]:
        out = [i for i in self.market.instruments(self.venue) if i.kind != "spot" and category_of(i) == category]
        return sorted(out, key=instrument_id)

    def _resolve(self, category: str, symbol: str | None) -> SimInstrument:
        if not symbol:
            raise BybitError(10001, "params error: symbol is required")
        for inst in self._listed(category):
            if instrument_id(inst) == symbol:
                return inst
        expired = _expired_future(self.market, self.venue, symbol)
        if expired is not None and category_of(expired) == category:
            return expired
        raise BybitError(10001, "params error: symbol invalid")

    @staticmethod
    def _category(req: SimRequest, allowed: tuple[str, ...] = ("linear", "inverse")) -> str:
        category = req.param("category")
        if not category:
            raise BybitError(10001, "params error: category is required")
        if category not in allowed:
            raise BybitError(10001, f"params error: category only support {','.join(allowed)}")
        return category

    @staticmethod
    def _int_param(req: SimRequest, name: str, default: int | None = None) -> int | None:
        raw = req.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BybitError(10001, f"params error: {name} invalid") from None

    def _instrument_row(self, inst: SimInstrument) -> dict[str, Any]:
        perp = inst.kind == "perp"
        if perp:
            contract_type = "LinearPerpetual" if inst.linear else "InversePerpetual"
        else:
            contract_type = "LinearFutures" if inst.linear else "InverseFutures"
        # Inverse contracts are 1 USD each; ccxt reads the contract size from minOrderQty for inverse.
        min_qty = _MIN_QTY_LINEAR.get(inst.base, "0.01") if inst.linear else "1"
        return {
            "symbol": instrument_id(inst),
            "contractType": contract_type,
            "status": "Trading",
            "baseCoin": inst.base,
            "quoteCoin": inst.quote,
            "launchTime": str(inst.listed_ms),
            "deliveryTime": "0" if perp else str(inst.expiry_ms),
            "deliveryFeeRate": "" if perp else "0.0005",
            "priceScale": str(len(_TICK.get(inst.base, "0.01").split(".")[1])),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": _max_leverage(inst),
                               "leverageStep": "0.01"},
            "priceFilter": {"minPrice": _TICK.get(inst.base, "0.01"), "maxPrice": "1999999.80",
                            "tickSize": _TICK.get(inst.base, "0.01")},
            "lotSizeFilter": {
                "maxOrderQty": "1190.000" if inst.linear else "1000000",
                "minOrderQty": min_qty,
                "qtyStep": min_qty,
                "postOnlyMaxOrderQty": "1190.000" if inst.linear else "1000000",
                "maxMktOrderQty": "500.000" if inst.linear else "500000",
                **({"minNotionalValue": "5"} if inst.linear else {}),
            },
            "unifiedMarginTrade": True,
            "fundingInterval": int(inst.funding_hours or 0) * 60 if perp else 0,
            "settleCoin": inst.settle,
            "copyTrading": "both" if perp else "none",
            "upperFundingRate": "0.005" if perp else "",
            "lowerFundingRate": "-0.005" if perp else "",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
            "displayName": "",
        }

    def _instruments_info(self, req: SimRequest) -> dict[str, Any]:
        category = self._category(req)
        if req.param("status") == "PreLaunch":
            return {"category": category, "list": [], "nextPageCursor": ""}  # no pre-market contracts here
        limit = self._int_param(req, "limit", INSTRUMENTS_DEFAULT_LIMIT)
        assert limit is not None
        if not 1 <= limit <= INSTRUMENTS_MAX_LIMIT:
            raise BybitError(10001, "params error: limit must be in [1, 1000]")
        rows = self._listed(category)
        symbol = req.param("symbol")
        if symbol:
            rows = [i for i in rows if instrument_id(i) == symbol]
        base = req.param("baseCoin")
        if base:
            rows = [i for i in rows if i.base == base]
        start = 0
        cursor = req.param("cursor")
        if cursor:
            # The cursor names the last symbol of the previous page (Bybit: "first%3DX%26last%3DY").
            m = re.search(r"last(?:%3D|=)([A-Z0-9-]+)", cursor)  # sent as is or URL-decoded
            ids = [instrument_id(i) for i in rows]
            if m is None or m.group(1) not in ids:
                raise BybitError(10001, "params error: cursor invalid")
            start = ids.index(m.group(1)) + 1
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        next_cursor = (
            f"first%3D{instrument_id(page[0])}%26last%3D{instrument_id(page[-1])}" if page and more else ""
        )
        return {"category": category, "list": [self._instrument_row(i) for i in page], "nextPageCursor": next_cursor}

    def _risk_limit(self, req: SimRequest) -> dict[str, Any]:
        """``category`` linear|inverse; with ``symbol`` that contract's tiers, else every listed one's."""
        category = self._category(req)
        symbol = req.param("symbol")
        insts = [self._resolve(category, symbol)] if symbol else self._listed(category)
        rows = [row for inst in insts for row in risk_limits(inst)]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def _time(self, req: SimRequest) -> dict[str, Any]:
        now = self.market.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    # -- tickers -------------------------------------------------------------------------------------
    def _ticker_row(self, inst: SimInstrument, now: int) -> dict[str, Any]:
        m = self.market
        t = np.asarray([now], dtype=np.int64)
        last = float(m.price(inst, "last", t)[0])
        mark = float(m.price(inst, "mark", t)[0])
        index = float(m.price(inst, "index", t)[0])
        hours = now - np.arange(24, 0, -1, dtype=np.int64) * HOUR_MS
        hours = hours[hours >= inst.listed_ms]
        day = m.price(inst, "last", np.concatenate([hours, t]))
        vol = float(m.volume(inst, hours, HOUR_MS).sum()) if hours.size else 0.0
        prev_24h = float(day[0])
        prev_1h = float(m.price(inst, "last", np.asarray([max(now - HOUR_MS, inst.listed_ms)]))[0])
        # Volume is in contracts; turnover in the settle currency (quote for linear, coin for inverse).
        notional = vol * inst.contract_size
        turnover = notional * last if inst.linear else notional / last
        open_interest = 50_000.0 * (1.0 if inst.kind == "perp" else 0.2) * (1000.0 if inst.inverse else 1.0)
        oi_value = open_interest * inst.contract_size * (mark if inst.linear else 1.0 / mark)
        perp = inst.kind == "perp"
        row: dict[str, Any] = {
            "symbol": instrument_id(inst),
            "lastPrice": _s(last),
            "indexPrice": _s(index),
            "markPrice": _s(mark),
            "prevPrice24h": _s(prev_24h),
            "price24hPcnt": _s(last / prev_24h - 1.0),
            "highPrice24h": _s(float(day.max())),
            "lowPrice24h": _s(float(day.min())),
            "prevPrice1h": _s(prev_1h),
            "openInterest": _s(open_interest),
            "openInterestValue": _s(oi_value),
            "turnover24h": _s(turnover),
            "volume24h": _s(vol),
            "fundingRate": _s(m.funding_estimate(inst, now)) if perp else "",
            "nextFundingTime": str(m.next_funding_ms(inst, now)) if perp else "0",
            "predictedDeliveryPrice": "",
            "basisRate": "" if perp else _s(mark / index - 1.0),
            "basis": "" if perp else _s(mark - index),
            "deliveryFeeRate": "" if perp else "0.0005",
            "deliveryTime": "0" if perp else str(inst.expiry_ms),
            "ask1Size": "1",
            "bid1Price": _s(last * (1.0 - 0.00001)),
            "ask1Price": _s(last * (1.0 + 0.00001)),
            "bid1Size": "1",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }
        if perp:
            row["fundingIntervalHour"] = str(int(inst.funding_hours or 8))
            row["fundingCap"] = "0.005"
        return row

    def _tickers(self, req: SimRequest) -> dict[str, Any]:
        category = self._category(req, ("spot", "linear", "inverse", "option"))
        if category not in ("linear", "inverse"):
            return {"category": category, "list": []}  # this venue lists derivatives only
        now = self.market.now_ms()
        symbol = req.param("symbol")
        insts = [self._resolve(category, symbol)] if symbol else self._listed(category)
        if symbol and insts[0].expiry_ms is not None and insts[0].expiry_ms <= now:
            raise BybitError(10001, "params error: symbol invalid")
        return {"category": category, "list": [self._ticker_row(i, now) for i in insts]}

    # -- funding history -----------------------------------------------------------------------------
    def _funding_history(self, req: SimRequest) -> dict[str, Any]:
        category = self._category(req)
        inst = self._resolve(category, req.param("symbol"))
        if inst.kind != "perp":
            raise BybitError(10001, "params error: symbol invalid")
        limit = self._int_param(req, "limit", FUNDING_MAX_LIMIT)
        assert limit is not None
        if limit < 1:
            raise BybitError(10001, "params error: limit invalid")
        limit = min(limit, FUNDING_MAX_LIMIT)
        start = self._int_param(req, "startTime")
        end = self._int_param(req, "endTime")
        now = self.market.now_ms()
        if start is not None and end is None:
            raise BybitError(10001, "Time is invalid")  # Bybit: startTime alone is rejected
        end = now if end is None else min(end, now)
        step = int(inst.funding_hours or 8) * HOUR_MS
        # Only the newest `limit` settlements up to `end` can be returned: compute just that span.
        lo = end - limit * step
        if start is not None:
            if start > end:
                raise BybitError(10001, "Time is invalid")
            lo = max(lo, start)
        times, rates = self.market.funding_settlements(inst, max(lo, 0), end)
        times, rates = times[-limit:][::-1], rates[-limit:][::-1]  # newest first
        sym = instrument_id(inst)
        rows = [{"symbol": sym, "fundingRate": _s(r), "fundingRateTimestamp": str(int(t))}
                for t, r in zip(times, rates, strict=True)]
        return {"category": category, "list": rows}

    # -- klines --------------------------------------------------------------------------------------
    def _kline(self, req: SimRequest) -> dict[str, Any]:
        field = KLINE_FIELDS[req.path]
        category = self._category(req, ("spot", "linear", "inverse") if field == "last" else ("linear", "inverse"))
        if category == "spot":
            raise BybitError(10001, "Not supported symbols")  # this venue lists no spot markets
        symbol = req.param("symbol")
        try:
            inst = self._resolve(category, symbol)
        except BybitError:
            raise BybitError(10001, "Not supported symbols") from None
        if field == "premium_index" and not (inst.kind == "perp" and inst.linear):
            raise BybitError(10001, "Not supported symbols")  # premium index: linear perpetuals only
        interval = req.param("interval")
        if interval not in INTERVAL_MS:
            raise BybitError(10001, "params error: interval invalid")
        tf = INTERVAL_MS[interval]
        limit = self._int_param(req, "limit", KLINE_DEFAULT_LIMIT)
        assert limit is not None
        if limit < 1:
            raise BybitError(10001, "params error: limit invalid")
        limit = min(limit, KLINE_MAX_LIMIT)
        start = self._int_param(req, "start")
        end = self._int_param(req, "end")
        now = self.market.now_ms()
        end = now if end is None else end
        if start is not None:
            if start > end:
                return {"category": category, "symbol": symbol, "list": []}
            # Bybit returns the candle that contains `start`, then the following ones.
            arr = self.market.candles(inst, field, tf, (start // tf) * tf, end, limit=limit)
        else:
            newest = min(end, now) if inst.expiry_ms is None else min(end, now, inst.expiry_ms - 1)
            last_open = (newest // tf) * tf
            arr = self.market.candles(inst, field, tf, last_open - (limit - 1) * tf, end)
            arr = arr[-limit:]
        return {"category": category, "symbol": symbol, "list": self._kline_rows(inst, field, arr[::-1])}

    @staticmethod
    def _kline_rows(inst: SimInstrument, field: str, arr: np.ndarray) -> list[list[str]]:
        rows: list[list[str]] = []
        for open_ms, o, h, lo, c, v in arr:
            row = [str(int(open_ms)), _s(o), _s(h), _s(lo), _s(c)]
            if field == "last":
                typical = (o + h + lo + c) / 4.0
                notional = v * inst.contract_size
                turnover = notional * typical if inst.linear else notional / typical
                row += [_s(v), _s(turnover)]
            rows.append(row)
        return rows


def make_handler(venue: str, market: SimMarket) -> BybitHandler:
    """The simulated Bybit exchange for ``venue`` (``bybit``)."""
    return BybitHandler(venue, market)
