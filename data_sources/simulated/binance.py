"""Simulated Binance: spot (/api/v3), USDⓈ-M futures (/fapi/v1) and COIN-M futures (/dapi/v1).

Answers the public endpoints ccxt calls for ``load_markets`` and for the quirk functions in
``data_sources/venues/binance.py``, in Binance's real response shapes:

- ``exchangeInfo``: spot rows have no ``contractType`` (ccxt reads that as spot); futures rows carry
  ``contractType`` (PERPETUAL / CURRENT_QUARTER / NEXT_QUARTER) and ``deliveryDate`` (4133404800000 for
  perpetuals); COIN-M rows say ``contractStatus`` instead of ``status`` and carry ``contractSize``.
- ``ticker/24hr``: USD-M and spot answer an object for ``symbol=`` and a list otherwise (spot also takes
  ``symbols=["A","B"]``); COIN-M always answers a list.
- ``premiumIndex``: USD-M answers an object for ``symbol=`` and a list otherwise; COIN-M always a list.
  ``lastFundingRate`` is the running estimate of the coming settlement; dated contracts carry ``""`` and
  ``nextFundingTime`` 0.
- ``fundingRate``: ascending, ``limit`` default 100 and capped at 1000; with ``startTime`` the first
  ``limit`` rows from it ("return as startTime + limit"); without start and end the latest 200.
- ``fundingInfo``: only symbols whose funding settings were adjusted (here: a non-8h interval).
- klines (``klines``, ``markPriceKlines``, ``indexPriceKlines`` by ``pair``, ``premiumIndexKlines``):
  12-field rows; spot caps ``limit`` at 1000, futures at 1500. USD-M and spot answer the first ``limit``
  candles from ``startTime``; COIN-M answers the *latest* ``limit`` candles before ``endTime`` and rejects
  windows longer than 200 days (its documented quirk).

Errors use Binance's ``{"code": -NNNN, "msg": "..."}`` body: unknown symbol -1121 (HTTP 400), rate limit
-1003 (HTTP 429), IP ban -1003 (HTTP 418), server trouble -1001 (HTTP 503). Numbers are sent as
``repr(float)`` strings so tests can compare with the market's own values at full precision.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from data_sources.simulated.market import (
    CATALOG,
    DAY_MS,
    HOUR_MS,
    INTEREST_8H,
    MINUTE_MS,
    SimInstrument,
    SimMarket,
    last_friday,
)
from data_sources.simulated.transport import SimRequest, SimResponse

PERPETUAL_DELIVERY_MS = 4_133_404_800_000  # Binance's deliveryDate for perpetuals (2100-12-25)
COINM_MAX_KLINE_WINDOW_MS = 200 * DAY_MS  # COIN-M: endTime - startTime may be at most 200 days
FUNDING_DEFAULT_LIMIT = 100
FUNDING_MAX_LIMIT = 1000
FUNDING_LATEST_DEFAULT = 200  # rows returned when neither startTime nor endTime is sent
KLINE_DEFAULT_LIMIT = 500

MSG_RATE_LIMIT = ("Too much request weight used; current limit is 2400 request weight per 1 MINUTE. "
                  "Please use WebSocket Streams for live updates to avoid polling the API.")
MSG_BANNED = ("Way too much request weight used; IP banned until {until}. "
              "Please use WebSocket Streams for live updates to avoid bans.")
MSG_INTERNAL = "Internal error; unable to process your request. Please try again."
MSG_BAD_SYMBOLS = ("Illegal characters found in parameter 'symbols'; legal range is "
                   "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")

KLINE_INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
}


@dataclass(frozen=True)
class _Api:
    prefix: str  # path prefix ccxt uses for this venue's public API
    kline_cap: int  # server-side max of `limit` on the kline endpoints
    coinm: bool
    spot: bool


_APIS: dict[str, _Api] = {
    "binance": _Api("/api/v3", 1000, coinm=False, spot=True),
    "binanceusdm": _Api("/fapi/v1", 1500, coinm=False, spot=False),
    "binancecoinm": _Api("/dapi/v1", 1500, coinm=True, spot=False),
}


# (tickSize, LOT_SIZE stepSize, minQty) as Binance lists them. USDⓈ-M quantities are in the base coin
# (BTCUSDT: 0.001 BTC; SOLUSDT: whole coins), COIN-M quantities in contracts (one contract steps).
_USDM_FILTERS = {"BTC": ("0.10", "0.001", "0.001"), "ETH": ("0.01", "0.001", "0.001"),
                 "SOL": ("0.0100", "1", "1")}
_COINM_FILTERS = {"BTC": ("0.1", "1", "1"), "ETH": ("0.01", "1", "1"), "SOL": ("0.001", "1", "1")}


def _contract_filters(inst: SimInstrument, *, coinm: bool) -> tuple[str, str, str]:
    table = _COINM_FILTERS if coinm else _USDM_FILTERS
    return table.get(inst.base, ("0.01", "1", "1"))


def _decimals(step: str) -> int:
    """Digits after the point of a step string ("0.001" -> 3, "1" -> 0): Binance's *Precision fields."""
    return len(step.rstrip("0").split(".")[1]) if "." in step.rstrip("0") else 0


class _ApiError(Exception):
    """Raised inside a route; becomes Binance's error body."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


def _invalid_symbol() -> _ApiError:
    return _ApiError(400, -1121, "Invalid symbol.")


def _mandatory(name: str) -> _ApiError:
    return _ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _num(x: float) -> str:
    """Binance sends prices as strings; full float precision so tests compare at rel 1e-9."""
    return repr(float(x))


def yymmdd(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%y%m%d")


def instrument_id(inst: SimInstrument) -> str:
    """Binance's symbol: BTCUSDT (spot, USD-M perp), BTCUSDT_261225, BTCUSD_PERP, BTCUSD_261225."""
    pair = inst.base + inst.quote
    if inst.kind == "spot":
        return pair
    if inst.kind == "perp":
        return f"{pair}_PERP" if inst.inverse else pair
    assert inst.expiry_ms is not None
    return f"{pair}_{yymmdd(inst.expiry_ms)}"


class BinanceHandler:
    """One of the three Binance APIs, answering from the simulated market."""

    def __init__(self, venue: str, market: SimMarket) -> None:
        if venue not in _APIS:
            raise ValueError(f"not a Binance venue: {venue!r}")
        self.venue = venue
        self.market = market
        self.api = _APIS[venue]
        routes = {"exchangeInfo": self._exchange_info, "ticker/24hr": self._ticker_24hr,
                  "klines": self._klines, "time": self._time, "ping": lambda req: {}}
        if not self.api.spot:
            routes["ticker/price"] = self._ticker_price
            routes.update({
                "premiumIndex": self._premium_index,
                "fundingRate": self._funding_rate,
                "fundingInfo": self._funding_info,
                "markPriceKlines": self._klines,
                "indexPriceKlines": self._klines,
                "premiumIndexKlines": self._klines,
            })
        self._routes = routes

    # -- protocol ----------------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        prefix = self.api.prefix + "/"
        endpoint = req.path[len(prefix):] if req.path.startswith(prefix) else None
        if req.path == "/fapi/v2/ticker/price" and self.venue == "binanceusdm":
            endpoint = "ticker/price"  # USD-M serves last prices on v2 (v1 is deprecated there)
        elif endpoint == "ticker/price" and self.venue == "binanceusdm":
            endpoint = None
        route = self._routes.get(endpoint or "")
        if req.method != "GET" or route is None:
            # Binance's front end answers unknown paths with a bare 404 page, not a JSON error body.
            return SimResponse(404, "<html><body><h2>404 Not found</h2></body></html>",
                               {"Content-Type": "text/html"})
        try:
            return SimResponse(200, route(req))
        except _ApiError as e:
            return SimResponse(e.status, {"code": e.code, "msg": e.msg})

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        now = self.market.now_ms()
        if kind == "rate_limit":
            return SimResponse(429, {"code": -1003, "msg": MSG_RATE_LIMIT}, {"Retry-After": "30"})
        if kind == "ban":
            until = now + 2 * MINUTE_MS
            return SimResponse(418, {"code": -1003, "msg": MSG_BANNED.format(until=until)},
                               {"Retry-After": "120"})
        if kind == "server_error":
            return SimResponse(503, {"code": -1001, "msg": MSG_INTERNAL})
        raise ValueError(f"no Binance error answer for fault kind {kind!r}")

    def empty(self, req: SimRequest) -> SimResponse:
        endpoint = req.path.rsplit("/", 1)[-1]
        if endpoint == "exchangeInfo":
            return SimResponse(200, {"timezone": "UTC", "serverTime": self.market.now_ms(), "rateLimits": [],
                                     "exchangeFilters": [], "symbols": []})
        return SimResponse(200, [])

    # -- instruments -------------------------------------------------------------------------------------
    def _listing(self) -> dict[str, SimInstrument]:
        return {instrument_id(i): i for i in self.market.instruments(self.venue)}

    def _resolve(self, symbol: str | None) -> SimInstrument:
        """The instrument behind a Binance symbol; settled quarterlies still answer history queries."""
        if not symbol:
            raise _mandatory("symbol")
        listed = self._listing()
        if symbol in listed:
            return listed[symbol]
        m = re.fullmatch(r"([A-Z]+)_(\d{6})", symbol)
        if m and not self.api.spot:
            pair, ymd = m.groups()
            year, month, day = 2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:])
            for fdef in CATALOG[self.venue].futures:
                if fdef.base + fdef.quote != pair or month % 3 or not 1 <= month <= 12:
                    continue
                expiry = last_friday(year, month)
                settled = datetime.fromtimestamp(expiry / 1000, tz=UTC).day == day
                if settled and expiry <= self.market.now_ms():
                    return self.market.find(self.venue, base=fdef.base, quote=fdef.quote, kind="future",
                                            expiry_ms=expiry)
        raise _invalid_symbol()

    def _contract_types(self) -> dict[str, str]:
        """CURRENT_QUARTER / NEXT_QUARTER by expiry order per pair; PERPETUAL for perps."""
        out: dict[str, str] = {}
        by_pair: dict[str, list[SimInstrument]] = {}
        for inst in self.market.instruments(self.venue):
            if inst.kind == "perp":
                out[instrument_id(inst)] = "PERPETUAL"
            elif inst.kind == "future":
                by_pair.setdefault(inst.base + inst.quote, []).append(inst)
        for futures in by_pair.values():
            futures.sort(key=lambda i: i.expiry_ms or 0)
            for n, inst in enumerate(futures):
                out[instrument_id(inst)] = ("CURRENT_QUARTER", "NEXT_QUARTER")[min(n, 1)]
        return out

    # -- endpoints ---------------------------------------------------------------------------------------
    def _time(self, req: SimRequest) -> dict[str, Any]:
        return {"serverTime": self.market.now_ms()}

    def _exchange_info(self, req: SimRequest) -> dict[str, Any]:
        now = self.market.now_ms()
        rate_limits = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ]
        if self.api.spot:
            symbols = [self._spot_symbol(i) for i in self.market.instruments(self.venue)]
            return {"timezone": "UTC", "serverTime": now, "rateLimits": rate_limits, "exchangeFilters": [],
                    "symbols": symbols}
        types = self._contract_types()
        symbols = [self._contract_symbol(i, types[instrument_id(i)])
                   for i in self.market.instruments(self.venue)]
        body: dict[str, Any] = {"timezone": "UTC", "serverTime": now, "rateLimits": rate_limits,
                                "exchangeFilters": [], "symbols": symbols}
        if not self.api.coinm:
            body["futuresType"] = "U_MARGINED"
            body["assets"] = [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}]
        return body

    @staticmethod
    def _filters(tick: str, step: str, min_qty: str) -> list[dict[str, Any]]:
        return [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "4529764", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "1000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": "120", "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        ]

    def _spot_symbol(self, inst: SimInstrument) -> dict[str, Any]:
        return {
            "symbol": instrument_id(inst), "status": "TRADING",
            "baseAsset": inst.base, "baseAssetPrecision": 8, "quoteAsset": inst.quote, "quotePrecision": 8,
            "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": self._filters("0.01000000", "0.00001000", "0.00001000"),
            "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _contract_symbol(self, inst: SimInstrument, contract_type: str) -> dict[str, Any]:
        step = _contract_filters(inst, coinm=self.api.coinm)[1]
        delivery = PERPETUAL_DELIVERY_MS if inst.kind == "perp" else inst.expiry_ms
        row: dict[str, Any] = {
            "symbol": instrument_id(inst), "pair": inst.base + inst.quote, "contractType": contract_type,
            "deliveryDate": delivery, "onboardDate": inst.listed_ms,
        }
        if self.api.coinm:
            row.update({"contractStatus": "TRADING", "contractSize": int(inst.contract_size)})
        else:
            row["status"] = "TRADING"
        row.update({
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": inst.base, "quoteAsset": inst.quote, "marginAsset": inst.settle,
            "pricePrecision": 1 if self.api.coinm else 2, "quantityPrecision": _decimals(step),
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
            "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": self._filters(*_contract_filters(inst, coinm=self.api.coinm)),
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                           "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        })
        if self.api.coinm:
            row["equalQtyPrecision"] = 4
        else:
            row["settlePlan"] = 0
        return row

    # ticker/24hr
    def _ticker_24hr(self, req: SimRequest) -> Any:
        listed = self._listing()
        symbol = req.param("symbol")
        if self.api.spot and req.param("symbols"):
            try:
                wanted = json.loads(req.param("symbols") or "")
            except ValueError:
                raise _ApiError(400, -1100, MSG_BAD_SYMBOLS) from None
            if any(s not in listed for s in wanted):
                raise _invalid_symbol()
            return [self._ticker_row(listed[s]) for s in wanted]
        if symbol:
            if symbol not in listed:
                raise _invalid_symbol()
            row = self._ticker_row(listed[symbol])
            return [row] if self.api.coinm else row
        pair = req.param("pair") if self.api.coinm else None
        return [self._ticker_row(i) for s, i in listed.items() if pair is None or i.base + i.quote == pair]

    # ticker/price (USD-M: /fapi/v2; COIN-M: /dapi/v1)
    def _ticker_price(self, req: SimRequest) -> Any:
        listed = self._listing()
        symbol = req.param("symbol")
        if symbol:
            if symbol not in listed:
                raise _invalid_symbol()
            row = self._price_row(listed[symbol])
            return [row] if self.api.coinm else row
        pair = req.param("pair") if self.api.coinm else None
        return [self._price_row(i) for s, i in listed.items() if pair is None or i.base + i.quote == pair]

    def _price_row(self, inst: SimInstrument) -> dict[str, Any]:
        now = self.market.now_ms()
        row: dict[str, Any] = {"symbol": instrument_id(inst)}
        if self.api.coinm:
            row["ps"] = inst.base + inst.quote
        row.update({"price": _num(float(self.market.price(inst, "last", np.asarray([now]))[0])), "time": now})
        return row

    def _ticker_row(self, inst: SimInstrument) -> dict[str, Any]:
        now = self.market.now_ms()
        times = np.append(np.arange(now - DAY_MS, now, HOUR_MS, dtype=np.int64), now)
        px = self.market.price(inst, "last", times)
        opens = (times[:-1] // HOUR_MS) * HOUR_MS
        volume = float(self.market.volume(inst, opens, HOUR_MS).sum())
        vwap = float(px.mean())
        last, first = float(px[-1]), float(px[0])
        row: dict[str, Any] = {
            "symbol": instrument_id(inst),
            "priceChange": _num(last - first), "priceChangePercent": _num(100.0 * (last / first - 1.0)),
            "weightedAvgPrice": _num(vwap), "lastPrice": _num(last), "lastQty": "0.012",
            "openPrice": _num(first), "highPrice": _num(px.max()), "lowPrice": _num(px.min()),
        }
        ids = {"firstId": 5_116_031_635, "lastId": 5_117_964_946, "count": 1_933_312}
        if self.api.spot:
            tick = 0.01
            row.update({"prevClosePrice": _num(first), "bidPrice": _num(last - tick / 2), "bidQty": "1.5",
                        "askPrice": _num(last + tick / 2), "askQty": "0.9", "volume": _num(volume),
                        "quoteVolume": _num(volume * vwap), "openTime": now - DAY_MS, "closeTime": now,
                        **ids})
        elif self.api.coinm:
            row.update({"pair": inst.base + inst.quote, "volume": _num(volume),
                        "baseVolume": _num(volume * inst.contract_size / vwap),
                        "openTime": now - DAY_MS, "closeTime": now, **ids})
        else:
            row.update({"volume": _num(volume), "quoteVolume": _num(volume * vwap),
                        "openTime": now - DAY_MS, "closeTime": now, **ids})
        return row

    # premiumIndex
    def _premium_index(self, req: SimRequest) -> Any:
        listed = self._listing()
        symbol = req.param("symbol")
        if symbol:
            if symbol not in listed:
                raise _invalid_symbol()
            row = self._premium_row(listed[symbol])
            # The documented shape quirk: USD-M answers an object for one symbol, COIN-M always a list.
            return [row] if self.api.coinm else row
        pair = req.param("pair") if self.api.coinm else None
        return [self._premium_row(i) for i in listed.values() if pair is None or i.base + i.quote == pair]

    def _premium_row(self, inst: SimInstrument) -> dict[str, Any]:
        now = self.market.now_ms()
        t = np.asarray([now], dtype=np.int64)
        mark = float(self.market.price(inst, "mark", t)[0])
        index = float(self.market.price(inst, "index", t)[0])
        row: dict[str, Any] = {"symbol": instrument_id(inst)}
        if self.api.coinm:
            row["pair"] = inst.base + inst.quote
        row.update({"markPrice": _num(mark), "indexPrice": _num(index), "estimatedSettlePrice": _num(index)})
        if inst.kind == "perp":
            h = int(inst.funding_hours or 8)
            row.update({"lastFundingRate": _num(self.market.funding_estimate(inst, now)),
                        "interestRate": _num(INTEREST_8H * h / 8),
                        "nextFundingTime": self.market.next_funding_ms(inst)})
        else:
            row.update({"lastFundingRate": "", "interestRate": "", "nextFundingTime": 0})
        row["time"] = now
        return row

    # fundingInfo
    def _funding_info(self, req: SimRequest) -> list[dict[str, Any]]:
        return [
            {"symbol": instrument_id(i), "adjustedFundingRateCap": "0.02000000",
             "adjustedFundingRateFloor": "-0.02000000", "fundingIntervalHours": int(i.funding_hours or 8),
             "disclaimer": False}
            for i in self.market.instruments(self.venue)
            if i.kind == "perp" and i.funding_hours not in (None, 8)
        ]

    # fundingRate
    def _funding_rate(self, req: SimRequest) -> list[dict[str, Any]]:
        symbol = req.param("symbol")
        if symbol is None and self.api.coinm:
            raise _mandatory("symbol")
        limit = min(_int(req, "limit", FUNDING_DEFAULT_LIMIT), FUNDING_MAX_LIMIT)
        start, end = _opt_int(req, "startTime"), _opt_int(req, "endTime")
        if start is None and end is None and req.param("limit") is None:
            limit = FUNDING_LATEST_DEFAULT
        insts = [self._resolve(symbol)] if symbol else list(self._listing().values())
        rows: list[dict[str, Any]] = []
        for inst in insts:
            if inst.kind == "perp":  # dated contracts have no funding: an empty answer, not an error
                rows.extend(self._funding_rows(inst, start, end, limit))
        rows.sort(key=lambda r: (r["fundingTime"], r["symbol"]))
        # "If the number of data between startTime and endTime is larger than limit, return as
        # startTime + limit"; without startTime the most recent rows.
        return rows[:limit] if start is not None else rows[-limit:]

    def _funding_rows(self, inst: SimInstrument, start: int | None, end: int | None,
                      limit: int) -> list[dict[str, Any]]:
        step = int(inst.funding_hours or 8) * HOUR_MS
        top = self.market.now_ms() if end is None else end
        lo = top - limit * step + 1 if start is None else start
        times, rates = self.market.funding_settlements(inst, lo, top)
        keep = slice(None, limit) if start is not None else slice(-limit, None)
        times, rates = times[keep], rates[keep]
        marks = self.market.price(inst, "mark", times) if len(times) else np.empty(0)
        out: list[dict[str, Any]] = []
        for t, r, m in zip(times, rates, marks, strict=True):
            row: dict[str, Any] = {"symbol": instrument_id(inst), "fundingTime": int(t),
                                   "fundingRate": _num(r)}
            if not self.api.coinm:  # COIN-M rows carry no markPrice
                row["markPrice"] = _num(m)
            out.append(row)
        return out

    # klines
    def _klines(self, req: SimRequest) -> list[list[Any]]:
        endpoint = req.path.rsplit("/", 1)[-1]
        interval = req.param("interval")
        if not interval:
            raise _mandatory("interval")
        if interval not in KLINE_INTERVALS_MS:
            raise _ApiError(400, -1120, "Invalid interval.")
        tf = KLINE_INTERVALS_MS[interval]
        inst, field = self._kline_series(endpoint, req)
        limit = min(_int(req, "limit", KLINE_DEFAULT_LIMIT), self.api.kline_cap)
        if limit < 1:
            raise _ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        start, end = _opt_int(req, "startTime"), _opt_int(req, "endTime")
        if start is not None and end is not None and start > end:
            raise _ApiError(400, -1023, "Start time is greater than end time.")
        now = self.market.now_ms()
        if self.api.coinm:
            rows = self._coinm_window(inst, field, tf, start, end, limit, now)
        elif start is not None:
            rows = self.market.candles(inst, field, tf, start, now if end is None else end, limit=limit)
        else:
            rows = self._latest(inst, field, tf, None, now if end is None else end, limit)
        return [self._kline_row(inst, r, tf, traded=(endpoint == "klines")) for r in rows]

    def _kline_series(self, endpoint: str, req: SimRequest) -> tuple[SimInstrument, str]:
        if endpoint == "indexPriceKlines":
            pair = req.param("pair")
            if not pair:
                raise _mandatory("pair")
            for inst in self.market.instruments(self.venue):
                if inst.base + inst.quote == pair:
                    return inst, "index"
            raise _ApiError(400, -1121, "Invalid pair.")
        inst = self._resolve(req.param("symbol"))
        if endpoint == "premiumIndexKlines":
            if inst.kind != "perp":
                raise _invalid_symbol()  # the simulated market defines a premium index for perps only
            return inst, "premium_index"
        return inst, "mark" if endpoint == "markPriceKlines" else "last"

    def _coinm_window(self, inst: SimInstrument, field: str, tf: int, start: int | None, end: int | None,
                      limit: int, now: int) -> np.ndarray:
        """COIN-M: at most 200 days between start and end; the latest ``limit`` candles before endTime."""
        if start is not None and end is not None and end - start > COINM_MAX_KLINE_WINDOW_MS:
            raise _ApiError(400, -1127, "More than 4800 hours between startTime and endTime.")
        if start is not None and end is None:
            end = min(start + COINM_MAX_KLINE_WINDOW_MS, now)
        if end is None:
            end = now
        if start is None:
            start = end - COINM_MAX_KLINE_WINDOW_MS
        return self._latest(inst, field, tf, start, end, limit)

    def _latest(self, inst: SimInstrument, field: str, tf: int, start: int | None, end: int,
                limit: int) -> np.ndarray:
        """The latest ``limit`` candles opening in [start, end] (start None: unbounded)."""
        top = min(end, self.market.now_ms())
        if inst.expiry_ms is not None:
            top = min(top, inst.expiry_ms - 1)
        last_open = (top // tf) * tf
        lo = last_open - (limit - 1) * tf
        if start is not None:
            lo = max(lo, start)
        return self.market.candles(inst, field, tf, lo, end)

    def _kline_row(self, inst: SimInstrument, r: np.ndarray, tf: int, *, traded: bool) -> list[Any]:
        open_ms = int(r[0])
        o, h, lo, c, v = (float(x) for x in r[1:6])
        if not traded:  # mark / index / premium index rows carry no volume
            return [open_ms, _num(o), _num(h), _num(lo), _num(c), "0", open_ms + tf - 1, "0",
                    tf // MINUTE_MS, "0", "0", "0"]
        typical = (o + h + lo + c) / 4.0
        # COIN-M: volume in contracts, field 7 the base-asset volume; elsewhere field 7 is quote volume.
        second = v * inst.contract_size / typical if self.api.coinm else v * typical
        return [open_ms, _num(o), _num(h), _num(lo), _num(c), _num(v), open_ms + tf - 1, _num(second),
                int(v), _num(v / 2), _num(second / 2), "0"]


def _opt_int(req: SimRequest, name: str) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"-?[0-9]{1,20}", raw):
        raise _ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                        "'^[0-9]{1,20}$'.")
    return int(raw)


def _int(req: SimRequest, name: str, default: int) -> int:
    value = _opt_int(req, name)
    return default if value is None else value


def make_handler(venue: str, market: SimMarket) -> BinanceHandler:
    """The simulated Binance API for ``venue`` (binance, binanceusdm or binancecoinm)."""
    return BinanceHandler(venue, market)


__all__ = ["PERPETUAL_DELIVERY_MS", "BinanceHandler", "instrument_id", "make_handler", "yymmdd"]
