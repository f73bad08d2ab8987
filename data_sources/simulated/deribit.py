"""Simulated Deribit: the public JSON-RPC-over-HTTP API v2 (``GET /api/v2/public/<method>``).

Answers what ccxt's ``deribit`` class asks for in ``load_markets`` (``get_currencies`` + one
``get_instruments`` without a currency, ccxt's ``fetchAllMarkets`` default) and what the family module
calls: ``get_book_summary_by_currency``, ``get_index_price``, ``get_funding_rate_value``,
``get_funding_rate_history``, ``get_tradingview_chart_data`` (plus ``ticker`` and ``get_time``).

Formats copied from the live API (and from probes of it recorded in public repositories):

- envelope ``{"jsonrpc": "2.0", "result": ..., "usIn", "usOut", "usDiff", "testnet": false}``, numbers
  as JSON numbers (floats sent at full precision), times in ms, ``usIn``/``usOut`` in microseconds;
- errors are HTTP 400 with ``{"error": {"message", "code", "data": {"reason", "param"}}}``: an unknown
  instrument is ``-32602 Invalid params / instrument not found``, an unknown method ``-32601``;
  ``too_many_requests`` is code 10028 (sent with HTTP 429);
- instrument names ``BTC-PERPETUAL`` and ``BTC-27NOV26`` (day without a leading zero), inverse
  instruments ``instrument_type``/``future_type`` ``reversed``; quarterlies have ``settlement_period``
  ``month``, weeklies ``week``; a perpetual "expires" at 32503708800000 (year 3000);
- ``get_funding_rate_history`` rows are hourly ``{timestamp, index_price, prev_index_price,
  interest_8h, interest_1h}``; ``interest_8h`` is a trailing 8h sum, so rows must not be summed;
- ``get_tradingview_chart_data`` is columnar (``volume, ticks, status, open, low, high, cost, close``),
  candles whose open is in [start, end], ``status: "no_data"`` with empty columns when there are none.

Server-side caps: chart data returns at most ``CHART_MAX_ROWS`` candles and is END-anchored (a wider
window silently loses its OLDEST candles -- measured live: 6000 1m candles asked, the newest 5001
returned); funding history returns at most ``FUNDING_HISTORY_MAX_ROWS`` rows (ccxt: "seems exchange
returns max 744 items per request"); we assume it truncates the same end-anchored way. A client that
asks for wider windows loses rows, which the tests would see.

Fault answers: rate_limit = HTTP 429 + code 10028; ban = Cloudflare's HTML "error code: 1015" block
(Deribit is served through Cloudflare) with HTTP 429; server_error = HTTP 503 + code 10040 ``retry``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from data_sources.simulated.market import DAY_MS, HOUR_MS, MINUTE_MS, ORIGIN_MS, SimInstrument, SimMarket
from data_sources.simulated.transport import SimRequest, SimResponse

API_PREFIX = "/api/v2/public/"
PERPETUAL_EXPIRY_MS = 32_503_708_800_000  # what Deribit sends as a perpetual's expiration_timestamp
CHART_MAX_ROWS = 5001  # measured live (end-anchored truncation)
FUNDING_HISTORY_MAX_ROWS = 744  # 31 days of hourly rows
CURRENCIES = ("BTC", "ETH", "USDC", "USDT")
INSTRUMENT_KINDS = ("future", "option", "spot", "future_combo", "option_combo")
RESOLUTIONS: dict[str, int] = {
    **{str(m): m * MINUTE_MS for m in (1, 3, 5, 10, 15, 30, 60, 120, 180, 360, 720)},
    "1D": DAY_MS,
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FUTURE_NAME = re.compile(r"^([A-Z]+)-(\d{1,2})([A-Z]{3})(\d{2})$")
_SETTLEMENT_PERIOD = {"weekly": "week", "monthly": "month", "quarterly": "month"}
_CLOUDFLARE_1015 = (
    "<!DOCTYPE html><html><head><title>Access denied | www.deribit.com used Cloudflare to restrict access"
    "</title></head><body><h1>Error 1015</h1><h2>You are being rate limited</h2><p>The owner of this "
    "website (www.deribit.com) has banned you temporarily from accessing this website.</p></body></html>"
)


class RpcError(Exception):
    """A JSON-RPC error answer (HTTP 400 unless stated)."""

    def __init__(self, code: int, message: str, reason: str | None = None, param: str | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.param = param
        self.status = status

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.reason is not None:
            err["data"] = {"reason": self.reason, "param": self.param}
        return {"error": err}


def _invalid(param: str, reason: str) -> RpcError:
    return RpcError(-32602, "Invalid params", reason, param)


def instrument_name(inst: SimInstrument) -> str:
    """Deribit's name: ``BTC-PERPETUAL``, ``BTC_USDC-PERPETUAL``, ``BTC-27NOV26`` (no leading zero)."""
    root = inst.base if inst.inverse else f"{inst.base}_{inst.quote}"
    if inst.kind == "perp":
        return f"{root}-PERPETUAL"
    if inst.kind != "future" or inst.expiry_ms is None:
        raise ValueError(f"Deribit lists no {inst.kind} like {inst}")
    dt = datetime.fromtimestamp(inst.expiry_ms / 1000, tz=UTC)
    return f"{root}-{dt.day}{_MONTHS[dt.month - 1]}{dt.year % 100:02d}"


def _ceil(t_ms: int, step_ms: int) -> int:
    return -(-t_ms // step_ms) * step_ms


class DeribitHandler:
    """One simulated Deribit (venue id ``deribit``), answering from ``market``."""

    def __init__(self, venue: str, market: SimMarket) -> None:
        self.venue = venue
        self.market = market
        self._routes: dict[str, Callable[[SimRequest], Any]] = {
            "get_time": lambda req: self.market.now_ms(),
            "get_currencies": self._currencies,
            "get_instruments": self._instruments,
            "get_book_summary_by_currency": self._book_summary,
            "get_index_price": self._index_price,
            "ticker": self._ticker,
            "get_funding_rate_value": self._funding_rate_value,
            "get_funding_rate_history": self._funding_rate_history,
            "get_tradingview_chart_data": self._chart_data,
        }

    # -- protocol ----------------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        method = req.path[len(API_PREFIX):] if req.path.startswith(API_PREFIX) else None
        route = self._routes.get(method or "")
        try:
            if route is None or req.method != "GET":
                raise RpcError(-32601, "Method not found")
            return self._ok(route(req))
        except RpcError as e:
            return SimResponse(e.status, {"jsonrpc": "2.0", **e.body(), **self._stamps()})

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        if kind == "rate_limit":
            return SimResponse(429, {"jsonrpc": "2.0", **RpcError(10028, "too_many_requests").body(),
                                     **self._stamps()})
        if kind == "ban":
            return SimResponse(429, _CLOUDFLARE_1015, {"Content-Type": "text/html; charset=UTF-8"})
        if kind == "server_error":
            return SimResponse(503, {"jsonrpc": "2.0", **RpcError(10040, "retry").body(), **self._stamps()})
        raise ValueError(f"no Deribit answer for fault {kind!r}")

    def empty(self, req: SimRequest) -> SimResponse:
        method = req.path[len(API_PREFIX):]
        if method == "get_tradingview_chart_data":
            return self._ok(self._chart_columns(np.empty((0, 6)), 1.0, True))
        if method in ("get_currencies", "get_instruments", "get_book_summary_by_currency",
                      "get_funding_rate_history"):
            return self._ok([])
        return self._ok(None)

    # -- envelope ----------------------------------------------------------------------------------------
    def _stamps(self) -> dict[str, Any]:
        us_in = self.market.now_ms() * 1000
        return {"usIn": us_in, "usOut": us_in + 143, "usDiff": 143, "testnet": False}

    def _ok(self, result: Any) -> SimResponse:
        return SimResponse(200, {"jsonrpc": "2.0", "result": result, **self._stamps()})

    # -- params ------------------------------------------------------------------------------------------
    @staticmethod
    def _required(req: SimRequest, name: str) -> str:
        value = req.param(name)
        if value is None or value == "":
            raise _invalid(name, "value is required")
        return value

    def _int_param(self, req: SimRequest, name: str) -> int:
        raw = self._required(req, name)
        try:
            return int(raw)
        except ValueError:
            raise _invalid(name, "wrong format") from None

    # -- instruments -------------------------------------------------------------------------------------
    def _listed(self) -> dict[str, SimInstrument]:
        return {instrument_name(i): i for i in self.market.instruments(self.venue) if i.kind != "spot"}

    def _resolve(self, name: str) -> SimInstrument:
        """A listed instrument, or an expired future (its history stays readable), else 'not found'."""
        inst = self._listed().get(name) or self._expired_future(name)
        if inst is None:
            raise _invalid("instrument_name", "instrument not found")
        return inst

    def _expired_future(self, name: str) -> SimInstrument | None:
        m = _FUTURE_NAME.match(name)
        if not m or m.group(3) not in _MONTHS:
            return None
        base, day, month, yy = m.group(1), int(m.group(2)), _MONTHS.index(m.group(3)) + 1, int(m.group(4))
        try:
            expiry_dt = datetime(2000 + yy, month, day, 8, tzinfo=UTC)
        except ValueError:
            return None
        expiry = int(expiry_dt.timestamp() * 1000)
        if expiry > self.market.now_ms() or expiry_dt.weekday() != 4:  # only Fridays ever expired
            return None
        try:
            return self.market.find(self.venue, base=base, quote="USD", kind="future", expiry_ms=expiry)
        except KeyError:
            return None

    def _currency_param(self, req: SimRequest, *, required: bool) -> str | None:
        currency = req.param("currency")
        if currency is None or currency == "":
            if required:
                raise _invalid("currency", "value is required")
            return None
        if currency == "any" and not required:
            return None
        if currency not in CURRENCIES:
            raise _invalid("currency", "invalid currency")
        return currency

    def _kind_param(self, req: SimRequest) -> str | None:
        kind = req.param("kind")
        if kind is not None and kind not in INSTRUMENT_KINDS:
            raise _invalid("kind", "wrong format")
        return kind

    @staticmethod
    def _currencies(req: SimRequest) -> list[dict[str, Any]]:
        names = {"BTC": ("Bitcoin", "BITCOIN"), "ETH": ("Ethereum", "ETHER"), "USDC": ("USD Coin", "USDC"),
                 "USDT": ("Tether", "USDT")}
        return [
            {"withdrawal_priorities": [], "withdrawal_fee": 0.0001, "min_withdrawal_fee": 0.0001,
             "min_confirmations": 1, "fee_precision": 4, "currency_long": names[c][0], "currency": c,
             "coin_type": names[c][1], "in_cross_collateral_pool": True}
            for c in CURRENCIES
        ]

    def _instrument_row(self, inst: SimInstrument, *, active: bool = True) -> dict[str, Any]:
        perp = inst.kind == "perp"
        btc = inst.base == "BTC"
        tick = (0.5 if btc else 0.05) if perp else (2.5 if btc else 0.25)
        ftype = "linear" if inst.linear else "reversed"
        return {
            "tick_size": tick,
            "tick_size_steps": [],
            "taker_commission": 0.0005,
            "settlement_period": "perpetual" if perp else _SETTLEMENT_PERIOD[inst.tenor or "monthly"],
            "settlement_currency": inst.settle,
            "rfq": False,
            "quote_currency": inst.quote,
            "price_index": f"{inst.base.lower()}_{inst.quote.lower()}",
            "min_trade_amount": inst.contract_size,
            "max_liquidation_commission": 0.0075,
            "max_leverage": 50 if btc else 25,
            "maker_commission": 0.0 if perp else -0.0001,
            "kind": "future",
            "is_active": active,
            "state": "open" if active else "closed",
            "instrument_name": instrument_name(inst),
            "instrument_id": 100_000 + zlib.crc32(instrument_name(inst).encode()) % 900_000,
            "future_type": ftype,
            "instrument_type": ftype,
            "expiration_timestamp": PERPETUAL_EXPIRY_MS if perp else inst.expiry_ms,
            "creation_timestamp": inst.listed_ms,
            "counter_currency": inst.quote,
            "contract_size": inst.contract_size,
            "block_trade_tick_size": 0.01,
            "block_trade_min_trade_amount": 200_000 if btc else 100_000,
            "block_trade_commission": 0.00025,
            "base_currency": inst.base,
        }

    def _combo_rows(self, futures: list[SimInstrument]) -> list[dict[str, Any]]:
        """Perp-vs-future calendar spreads: kind ``future_combo``, which ccxt also types as 'future'."""
        rows = []
        for inst in futures:
            row = self._instrument_row(inst)
            leg = instrument_name(inst).split("-", 1)[1]
            row.update({"kind": "future_combo", "instrument_name": f"{inst.base}-FS-{leg}_PERP",
                        "tick_size": 0.5 if inst.base == "BTC" else 0.05})
            rows.append(row)
        return rows

    def _instruments(self, req: SimRequest) -> list[dict[str, Any]]:
        currency = self._currency_param(req, required=False)
        kind = self._kind_param(req)
        now = self.market.now_ms()
        if req.param("expired") == "true":
            # recently expired futures (what Deribit keeps in this list), inactive
            old = self.market.instruments(self.venue, t_ms=now - 30 * DAY_MS)
            insts = [i for i in old if i.kind == "future" and i.expiry_ms is not None and i.expiry_ms <= now]
            active = False
        else:
            insts = [i for i in self.market.instruments(self.venue) if i.kind in ("perp", "future")]
            active = True
        if currency is not None:
            insts = [i for i in insts if (i.settle == currency)]
        rows: list[dict[str, Any]] = []
        if kind in (None, "future"):
            rows += [self._instrument_row(i, active=active) for i in insts]
        if kind in (None, "future_combo") and active:
            rows += self._combo_rows([i for i in insts if i.kind == "future"])
        return rows

    # -- prices ------------------------------------------------------------------------------------------
    def _summary_row(self, inst: SimInstrument, now: int) -> dict[str, Any]:
        m = self.market
        t = np.asarray([now], dtype=np.int64)
        last = float(m.price(inst, "last", t)[0])
        mark = float(m.price(inst, "mark", t)[0])
        index = float(m.index(self.venue, inst.base, t)[0])
        day = np.arange(now - DAY_MS, now + 1, HOUR_MS, dtype=np.int64)
        day = day[day >= max(inst.listed_ms, ORIGIN_MS)]
        hist = m.price(inst, "last", np.append(day, now))
        vol_contracts = float(m.volume(inst, np.asarray([now - now % DAY_MS]), DAY_MS)[0])
        volume_usd = vol_contracts * inst.contract_size * (1.0 if inst.inverse else last)
        row: dict[str, Any] = {
            "volume_usd": volume_usd,
            "volume": volume_usd / last,
            "quote_currency": inst.quote,
            "price_change": (last / float(hist[0]) - 1.0) * 100.0,
            "open_interest": round(vol_contracts * 7.0, 1),
            "mid_price": last,
            "mark_price": mark,
            "low": float(hist.min()),
            "last": last,
            "instrument_name": instrument_name(inst),
            "high": float(hist.max()),
            "estimated_delivery_price": index,
            "creation_timestamp": now,
            "bid_price": last * (1.0 - 0.00005),
            "base_currency": inst.base,
            "ask_price": last * (1.0 + 0.00005),
            "volume_notional": volume_usd,
        }
        if inst.kind == "perp":
            row["current_funding"] = self.market.funding_estimate(inst, now) * 8.0
            row["funding_8h"] = self.funding_value(inst, now - 8 * HOUR_MS, now)
        return row

    def _book_summary(self, req: SimRequest) -> list[dict[str, Any]]:
        currency = self._currency_param(req, required=True)
        kind = self._kind_param(req)
        if kind not in (None, "future"):
            return []  # the simulation prices no options, spot pairs or combos
        now = self.market.now_ms()
        return [self._summary_row(i, now) for i in self._listed().values() if i.settle == currency]

    def _index_price(self, req: SimRequest) -> dict[str, float]:
        name = self._required(req, "index_name")
        bases = {f"{i.base.lower()}_{i.quote.lower()}": i.base for i in self._listed().values()}
        if name not in bases:
            raise _invalid("index_name", "wrong format")
        px = float(self.market.index(self.venue, bases[name], np.asarray([self.market.now_ms()]))[0])
        return {"index_price": px, "estimated_delivery_price": px}

    def _ticker(self, req: SimRequest) -> dict[str, Any]:
        inst = self._resolve(self._required(req, "instrument_name"))
        now = self.market.now_ms()
        s = self._summary_row(inst, now)
        out = {
            "timestamp": now,
            "stats": {"volume_usd": s["volume_usd"], "volume": s["volume"], "price_change": s["price_change"],
                      "low": s["low"], "high": s["high"]},
            "state": "open",
            "settlement_price": s["mark_price"],
            "open_interest": s["open_interest"],
            "min_price": s["mark_price"] * 0.985,
            "max_price": s["mark_price"] * 1.015,
            "mark_price": s["mark_price"],
            "last_price": s["last"],
            "instrument_name": s["instrument_name"],
            "index_price": s["estimated_delivery_price"],
            "estimated_delivery_price": s["estimated_delivery_price"],
            "best_bid_price": s["bid_price"],
            "best_bid_amount": 1000.0,
            "best_ask_price": s["ask_price"],
            "best_ask_amount": 1000.0,
        }
        if inst.kind == "perp":
            out["funding_8h"] = s["funding_8h"]
            out["current_funding"] = s["current_funding"]
        return out

    # -- funding -----------------------------------------------------------------------------------------
    def funding_value(self, inst: SimInstrument, start_ms: int, end_ms: int) -> float:
        """Funding accrued over [start, min(end, now)] per unit of position (a fraction).

        Each settled hour ``(T - 1h, T]`` accrues its ``interest_1h`` evenly; the still-running hour
        accrues at the current running estimate. So a window of whole settled hours is exactly the sum
        of those hours' ``interest_1h``.
        """
        now = self.market.now_ms()
        end = min(end_ms, now)
        if end <= start_ms:
            return 0.0
        first_t = (start_ms // HOUR_MS + 1) * HOUR_MS
        last_t = _ceil(end, HOUR_MS)
        hours = np.arange(first_t, last_t + 1, HOUR_MS, dtype=np.int64)
        settled = hours[hours <= now]
        rows = self.market.deribit_hourly(inst, int(settled[0]), int(settled[-1])) if settled.size else None
        rates: dict[int, float] = {}
        if rows is not None:
            rates = dict(zip(rows["timestamp"].tolist(), rows["interest_1h"].tolist(), strict=True))
        running = self.market.funding_estimate(inst, now)
        total = 0.0
        for t in hours.tolist():
            overlap = min(t, end) - max(t - HOUR_MS, start_ms)
            if overlap > 0:
                total += rates.get(t, running if t > now else 0.0) * overlap / HOUR_MS
        return total

    def _funding_rate_value(self, req: SimRequest) -> float:
        inst = self._resolve(self._required(req, "instrument_name"))
        start = self._int_param(req, "start_timestamp")
        end = self._int_param(req, "end_timestamp")
        if inst.kind != "perp":
            return 0.0
        return self.funding_value(inst, start, end)

    def _funding_rate_history(self, req: SimRequest) -> list[dict[str, Any]]:
        inst = self._resolve(self._required(req, "instrument_name"))
        start = self._int_param(req, "start_timestamp")
        end = self._int_param(req, "end_timestamp")
        if inst.kind != "perp" or end < start:
            return []
        # end-anchored cap: find the window's last FUNDING_HISTORY_MAX_ROWS hours before computing
        last_t = (min(end, self.market.now_ms()) // HOUR_MS) * HOUR_MS
        start = max(start, last_t - (FUNDING_HISTORY_MAX_ROWS - 1) * HOUR_MS)
        rows = self.market.deribit_hourly(inst, start, end)
        return [
            {"timestamp": int(t), "index_price": float(ip), "prev_index_price": float(pp),
             "interest_8h": float(r8), "interest_1h": float(r1)}
            for t, ip, pp, r8, r1 in zip(rows["timestamp"], rows["index_price"], rows["prev_index_price"],
                                         rows["interest_8h"], rows["interest_1h"], strict=True)
        ]

    # -- candles -----------------------------------------------------------------------------------------
    @staticmethod
    def _chart_columns(c: np.ndarray, contract_size: float, inverse: bool) -> dict[str, Any]:
        """Deribit's columnar body, in its wire key order. ``volume`` in base coin, ``cost`` in quote."""
        if len(c) == 0:
            return {"volume": [], "ticks": [], "status": "no_data", "open": [], "low": [], "high": [],
                    "cost": [], "close": []}
        close = c[:, 4]
        if inverse:  # contracts are USD: cost is USD notional, volume the coin equivalent at the close
            cost = c[:, 5] * contract_size
            volume = cost / close
        else:
            volume = c[:, 5] * contract_size
            cost = volume * close
        return {
            "volume": volume.tolist(), "ticks": c[:, 0].astype(np.int64).tolist(), "status": "ok",
            "open": c[:, 1].tolist(), "low": c[:, 3].tolist(), "high": c[:, 2].tolist(),
            "cost": cost.tolist(), "close": close.tolist(),
        }

    def _chart_data(self, req: SimRequest) -> dict[str, Any]:
        inst = self._resolve(self._required(req, "instrument_name"))
        start = self._int_param(req, "start_timestamp")
        end = self._int_param(req, "end_timestamp")
        resolution = self._required(req, "resolution")
        if resolution not in RESOLUTIONS:
            raise _invalid("resolution", "unsupported resolution")
        tf = RESOLUTIONS[resolution]
        # end-anchored cap: only the newest CHART_MAX_ROWS candle opens of [start, end] are answered
        last_open = min(end, self.market.now_ms())
        if inst.expiry_ms is not None:
            last_open = min(last_open, inst.expiry_ms - 1)
        last_open = (last_open // tf) * tf
        start = max(start, last_open - (CHART_MAX_ROWS - 1) * tf)
        candles = self.market.candles(inst, "last", tf, start, end) if end >= start else np.empty((0, 6))
        return self._chart_columns(candles, inst.contract_size, inst.inverse)


def make_handler(venue: str, market: SimMarket) -> DeribitHandler:
    """The simulated exchange for ``venue`` (only ``deribit`` in this family)."""
    if venue != "deribit":
        raise ValueError(f"the deribit family has no venue {venue!r}")
    return DeribitHandler(venue, market)


__all__ = ["CHART_MAX_ROWS", "FUNDING_HISTORY_MAX_ROWS", "DeribitHandler", "instrument_name", "make_handler"]
