"""Simulated Hyperliquid: the public ``POST /info`` API, in Hyperliquid's formats.

Hyperliquid has one public endpoint: ``POST https://api.hyperliquid.xyz/info`` with a JSON body whose
``type`` names the question. This handler answers the types ccxt's ``hyperliquid`` class sends for Carry
Desk (``load_markets`` with ``fetchMarkets.types = ['swap', 'hip3']`` and ``hip3.dexes = ['xyz']``, then
tickers, funding, candles and funding history):

- ``exchangeStatus`` -> ``{"specialStatuses": null, "time": <ms>}`` (ccxt ``fetch_time`` / ``fetch_status``);
- ``spotMeta`` -> ``{"tokens": [...], "universe": [...]}``; the token list is indexed by position (USDC is
  token 0). ccxt's ``fetch_currencies`` reads it first, and maps a HIP-3 dex's ``collateralToken`` index
  through it to the dex's quote/settle currency;
- ``meta`` / ``metaAndAssetCtxs`` with an optional ``dex`` (absent or ``""``: the main dex): ``[meta,
  assetCtxs]``, the two lists aligned by position (the asset index). Main-dex coins are ``BTC``, ``ETH``,
  ``SOL``; the HIP-3 dex ``xyz`` (trade.xyz) lists ``xyz:XYZ100`` (Nasdaq-100) and ``xyz:GOLD`` with
  ``collateralToken`` 0 (USDC). Prices and rates in ``assetCtxs`` are strings: ``oraclePx`` is the venue's
  index, ``markPx`` the mark, ``midPx`` the book mid (the simulated last price), ``funding`` the running
  estimate of the coming hourly settlement, ``premium`` the current premium;
- ``perpDexs`` -> ``[null, {"name": "xyz", "fullName": "XYZ", ...}]`` (index 0 is the main dex);
- ``candleSnapshot`` with ``req = {coin, interval, startTime, endTime}``: candles overlapping [startTime,
  endTime], oldest first, AT MOST ``CANDLES_MAX`` per answer counted from ``startTime`` (a wider window
  loses its newest candles; a client pages forward). Rows ``{"t", "T", "s", "i", "o", "c", "h", "l", "v",
  "n"}``: times and the trade count are integers, prices and volume (base units) strings;
- ``fundingHistory`` with ``coin``, ``startTime`` and optional ``endTime`` (default now): hourly
  settlements ``{"coin", "fundingRate", "premium", "time"}`` with ``time`` in [startTime, endTime], oldest
  first, at most ``FUNDING_HISTORY_MAX`` rows. As on the live API a row is stamped a few milliseconds
  after the hour it settles (ccxt's own sample: ``1704290400031``), so clients must floor to the hour.
  ``premium`` is the hour's premium the rate was computed from (rate = (P + clamp(0.01% - P, +-0.05%)) / 8).

Errors as Hyperliquid sends them (bodies are not JSON objects, so ccxt maps them by HTTP status):

- a body the server cannot deserialize (unknown ``type``, missing or mistyped fields, an interval it does
  not know) -> HTTP 422, text ``Failed to deserialize the JSON body into the target type`` (the answer
  seen live, e.g. ccxt issue #27160); a body that is not JSON at all -> HTTP 400 ``Failed to parse the
  request body as JSON`` (Hyperliquid's axum server; not observed live). ccxt: 422 -> ``ExchangeError``;
- an unknown coin or dex -> HTTP 500 with body ``null`` (Hyperliquid answers internal failures that way;
  the exact answer for an unknown coin is not verified -- ccxt refuses unknown symbols before sending);
- injected ``rate_limit`` -> HTTP 429, body ``null`` (Hyperliquid's IP limit: 1200 weight per minute);
  ``ban`` -> HTTP 403 with the CDN's HTML block page (Hyperliquid documents no ban status of its own; an
  address blocked upstream sees the edge's 403), ``server_error`` -> HTTP 500 ``null``. ccxt's
  ``httpExceptions`` map them to ``RateLimitExceeded``, ``ExchangeNotAvailable`` and
  ``ExchangeNotAvailable``.

Simplifications (documented, not hidden): numbers are sent at full float precision (the live API rounds
prices to 5 significant figures) so tests can compare with ``SimMarket`` exactly; candles are served for
the fixed-length intervals only (``1w``/``1M`` answer 422 here, unlike the live API); the live API keeps
only the most recent 5,000 candles per coin and interval, which is modelled only when ``candle_retention``
is set. Every number is a pure function of ``SimMarket`` at the request's time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from data_sources.simulated.market import DAY_MS, HOUR_MS, MINUTE_MS, SimInstrument, SimMarket
from data_sources.simulated.transport import SimRequest, SimResponse

INFO_PATH = "/info"
CANDLES_MAX = 5000  # candles per candleSnapshot answer (Hyperliquid docs; ccxt features.fetchOHLCV.limit)
FUNDING_HISTORY_MAX = 500  # rows per fundingHistory answer (Hyperliquid docs)
MAIN_DEX = ""
HIP3_DEXES: dict[str, dict[str, Any]] = {
    # What perpDexs says about trade.xyz's dex (addresses as published; cosmetic, ccxt reads only `name`).
    "xyz": {
        "name": "xyz",
        "fullName": "XYZ",
        "deployer": "0x88806a71d74ad0a510b350545c9ae490912f0888",
        "oracleUpdater": "0x1234567890545d1df9ee64b35fdd16966e08acec",
        "feeRecipient": "0x79c0650064b10f73649b7b64c5ebf0b319606140",
    },
}
# Per-coin listing parameters: size decimals and maximum leverage as Hyperliquid lists them.
SZ_DECIMALS = {"BTC": 5, "ETH": 4, "SOL": 2, "xyz:XYZ100": 4, "xyz:GOLD": 4}
MAX_LEVERAGE = {"BTC": 40, "ETH": 25, "SOL": 20, "xyz:XYZ100": 20, "xyz:GOLD": 20}
OPEN_INTEREST = {"BTC": 28_000.0, "ETH": 610_000.0, "SOL": 3_100_000.0, "xyz:XYZ100": 1_900.0, "xyz:GOLD": 9_500.0}
TOKENS: tuple[dict[str, Any], ...] = (
    {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
     "isCanonical": True, "evmContract": None, "fullName": None, "deployerTradingFeeShare": "0.0"},
    {"name": "PURR", "szDecimals": 0, "weiDecimals": 5, "index": 1, "tokenId": "0xc1fb593aeffbeb02f85e0308e9956a90",
     "isCanonical": True, "evmContract": None, "fullName": None, "deployerTradingFeeShare": "0.0"},
)
SPOT_UNIVERSE: tuple[dict[str, Any], ...] = ({"tokens": [1, 0], "name": "PURR/USDC", "index": 0, "isCanonical": True},)
INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
}
UNDESERIALIZABLE = "Failed to deserialize the JSON body into the target type"
NOT_JSON = "Failed to parse the request body as JSON"
_CDN_403 = (
    "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"><HTML><HEAD><TITLE>ERROR: The request "
    "could not be satisfied</TITLE></HEAD><BODY><H1>403 ERROR</H1><H2>The request could not be satisfied."
    "</H2><HR noshade size=\"1px\">Request blocked.</BODY></HTML>"
)
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class HlError(Exception):
    """An answer other than 200: HTTP ``status`` with a plain-text (or ``null``) body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def num(x: float) -> str:
    """A float as Hyperliquid sends it: a positional decimal string (never exponent notation)."""
    return np.format_float_positional(float(x), unique=True, trim="-")


def coin_of(inst: SimInstrument) -> str:
    """Hyperliquid's coin name: ``BTC`` on the main dex, ``xyz:XYZ100`` for the HIP-3 base ``XYZ-XYZ100``."""
    dex, sep, name = inst.base.partition("-")
    return f"{dex.lower()}:{name}" if sep else inst.base


def dex_of(coin: str) -> str:
    """The dex of a coin name (``""`` for the main dex)."""
    dex, sep, _ = coin.partition(":")
    return dex if sep else MAIN_DEX


def _offset_ms(t_ms: np.ndarray) -> np.ndarray:
    """How many ms after the hour a settlement is stamped (a deterministic few tens of ms, under a second)."""
    hours = np.asarray(t_ms, dtype=np.int64) // HOUR_MS
    return 11 + (hours * 7919) % 89


class HyperliquidHandler:
    """The simulated Hyperliquid exchange for one ``SimMarket`` (``VenueHandler``).

    Parameters
    ----------
    venue : str
        Venue id (``hyperliquid``).
    market : SimMarket
        Where every number comes from.
    candles_max : int
        Candles per ``candleSnapshot`` answer (the live cap is 5,000).
    candle_anchor : {"start", "end"}
        Which end of a too-wide window the answer keeps: ``start`` (the live behaviour: the oldest
        ``candles_max`` from ``startTime``) or ``end`` (the newest; for tests of client loops).
    candle_retention : int | None
        If set, only the most recent this-many candles of each interval exist (the live API documents
        5,000); older windows answer ``[]``.
    """

    def __init__(
        self,
        venue: str,
        market: SimMarket,
        *,
        candles_max: int = CANDLES_MAX,
        candle_anchor: str = "start",
        candle_retention: int | None = None,
    ) -> None:
        if candle_anchor not in ("start", "end"):
            raise ValueError(f"candle_anchor must be 'start' or 'end', not {candle_anchor!r}")
        self.venue = venue
        self.market = market
        self.candles_max = candles_max
        self.candle_anchor = candle_anchor
        self.candle_retention = candle_retention
        self._types: dict[str, Callable[[dict[str, Any]], Any]] = {
            "exchangeStatus": self._exchange_status,
            "spotMeta": self._spot_meta,
            "meta": lambda body: self._meta(self._dex(body)),
            "metaAndAssetCtxs": self._meta_and_asset_ctxs,
            "perpDexs": self._perp_dexs,
            "candleSnapshot": self._candle_snapshot,
            "fundingHistory": self._funding_history,
        }

    # -- VenueHandler ----------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if req.path != INFO_PATH:
            return SimResponse(404, "", _TEXT)
        if req.method != "POST":
            return SimResponse(405, "", _TEXT)
        try:
            body = self._body(req)
            route = self._types.get(str(body.get("type")))
            if route is None:
                raise HlError(422, UNDESERIALIZABLE)
            return SimResponse(200, route(body))
        except HlError as e:
            return SimResponse(e.status, e.body, _TEXT if e.body != "null" else {})

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        if kind == "rate_limit":
            return SimResponse(429, "null")
        if kind == "ban":
            return SimResponse(403, _CDN_403, {"Content-Type": "text/html", "Server": "CloudFront"})
        if kind == "server_error":
            return SimResponse(500, "null")
        raise ValueError(f"no Hyperliquid answer for fault {kind!r}")

    def empty(self, req: SimRequest) -> SimResponse:
        """A well-formed answer without rows for the request's ``type``."""
        try:
            body = self._body(req)
        except HlError:
            return self.handle(req)
        kind = body.get("type")
        meta: dict[str, Any] = {"universe": [], "marginTables": []}
        if self._dex(body) != MAIN_DEX:
            meta["collateralToken"] = 0
        answers: dict[str, Any] = {
            "spotMeta": {"universe": [], "tokens": []},
            "meta": meta,
            "metaAndAssetCtxs": [meta, []],
            "perpDexs": [None],
            "candleSnapshot": [],
            "fundingHistory": [],
        }
        if kind in answers:
            return SimResponse(200, answers[kind])
        return self.handle(req)

    # -- request body ----------------------------------------------------------------------------------
    @staticmethod
    def _body(req: SimRequest) -> dict[str, Any]:
        try:
            body = json.loads(req.body or "")
        except ValueError:
            raise HlError(400, NOT_JSON) from None
        if not isinstance(body, dict):
            raise HlError(422, UNDESERIALIZABLE)
        return body

    @staticmethod
    def _int(container: dict[str, Any], name: str, *, required: bool = True) -> int | None:
        value = container.get(name)
        if value is None and not required:
            return None
        # serde reads a u64: an integer JSON number (not a bool, string or float)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HlError(422, UNDESERIALIZABLE)
        return value

    @staticmethod
    def _dex(body: dict[str, Any]) -> str:
        dex = body.get("dex", MAIN_DEX)
        if dex is None:
            return MAIN_DEX
        if not isinstance(dex, str):
            raise HlError(422, UNDESERIALIZABLE)
        if dex != MAIN_DEX and dex not in HIP3_DEXES:
            raise HlError(500, "null")
        return dex

    # -- listing ---------------------------------------------------------------------------------------
    def _listed(self, dex: str) -> list[SimInstrument]:
        """The dex's perps in asset-index order (the catalog's order), listed by now."""
        return [i for i in self.market.instruments(self.venue) if i.kind == "perp" and dex_of(coin_of(i)) == dex]

    def _resolve(self, coin: object) -> SimInstrument:
        if not isinstance(coin, str):
            raise HlError(422, UNDESERIALIZABLE)
        for inst in self._listed(dex_of(coin)) if dex_of(coin) in (MAIN_DEX, *HIP3_DEXES) else []:
            if coin_of(inst) == coin:
                return inst
        raise HlError(500, "null")

    def _exchange_status(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"specialStatuses": None, "time": self.market.now_ms()}

    def _spot_meta(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"universe": [dict(u) for u in SPOT_UNIVERSE], "tokens": [dict(t) for t in TOKENS]}

    def _perp_dexs(self, body: dict[str, Any]) -> list[Any]:
        out: list[Any] = [None]
        for name, info in HIP3_DEXES.items():
            caps = [[coin_of(i), "100000000.0"] for i in sorted(self._listed(name), key=coin_of)]
            out.append({**info, "assetToStreamingOiCap": caps})
        return out

    def _meta(self, dex: str) -> dict[str, Any]:
        universe = []
        for inst in self._listed(dex):
            coin = coin_of(inst)
            lev = MAX_LEVERAGE.get(coin, 10)
            row: dict[str, Any] = {"szDecimals": SZ_DECIMALS.get(coin, 2), "name": coin, "maxLeverage": lev,
                                   "marginTableId": lev}
            # HIP-3 perps trade isolated-margin only; main-dex perps cross or isolated
            row["onlyIsolated"] = dex != MAIN_DEX
            universe.append(row)
        # Simple margin tables: the id is the maximum leverage, one tier from zero notional.
        tables = sorted({r["marginTableId"] for r in universe})
        meta: dict[str, Any] = {
            "universe": universe,
            "marginTables": [[t, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": t}]}]
                             for t in tables],
        }
        if dex != MAIN_DEX:
            meta["collateralToken"] = 0  # USDC, token 0 of spotMeta
        return meta

    def _meta_and_asset_ctxs(self, body: dict[str, Any]) -> list[Any]:
        dex = self._dex(body)
        now = self.market.now_ms()
        return [self._meta(dex), [self._asset_ctx(inst, now) for inst in self._listed(dex)]]

    def _asset_ctx(self, inst: SimInstrument, now: int) -> dict[str, Any]:
        m = self.market
        t = np.asarray([now], dtype=np.int64)
        mid = float(m.price(inst, "last", t)[0])
        hours = now - np.arange(24, 0, -1, dtype=np.int64) * HOUR_MS
        hours = hours[hours >= inst.listed_ms]
        base_volume = float(m.volume(inst, hours, HOUR_MS).sum()) if hours.size else 0.0
        day_path = m.price(inst, "last", hours) if hours.size else np.asarray([mid])
        notional = float((m.volume(inst, hours, HOUR_MS) * day_path).sum()) if hours.size else 0.0
        prev_day = float(m.price(inst, "last", np.asarray([max(now - DAY_MS, inst.listed_ms)]))[0])
        return {
            "funding": num(m.funding_estimate(inst, now)),
            "openInterest": num(OPEN_INTEREST.get(coin_of(inst), 1_000.0)),
            "prevDayPx": num(prev_day),
            "dayNtlVlm": num(notional),
            "premium": num(float(m.premium(self.venue, inst.base, t)[0])),
            "oraclePx": num(float(m.index(self.venue, inst.base, t)[0])),
            "markPx": num(float(m.price(inst, "mark", t)[0])),
            "midPx": num(mid),
            "impactPxs": [num(mid * (1.0 - 0.00002)), num(mid * (1.0 + 0.00002))],
            "dayBaseVlm": num(base_volume),
        }

    # -- candles ---------------------------------------------------------------------------------------
    def _candle_snapshot(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        req = body.get("req")
        if not isinstance(req, dict):
            raise HlError(422, UNDESERIALIZABLE)
        interval = req.get("interval")
        if not isinstance(interval, str) or interval not in INTERVALS:
            raise HlError(422, UNDESERIALIZABLE)
        start = self._int(req, "startTime")
        end = self._int(req, "endTime", required=False)
        inst = self._resolve(req.get("coin"))
        assert start is not None
        tf = INTERVALS[interval]
        now = self.market.now_ms()
        end = now if end is None else end
        lo = start // tf * tf  # the candle that contains startTime overlaps the window
        if self.candle_retention is not None:
            lo = max(lo, now // tf * tf - (self.candle_retention - 1) * tf)
        if end < lo:
            return []
        if self.candle_anchor == "start":
            rows = self.market.candles(inst, "last", tf, lo, end, limit=self.candles_max)
        else:
            hi = min(end, now) // tf * tf
            rows = self.market.candles(inst, "last", tf, max(lo, hi - (self.candles_max - 1) * tf), end)
        return [self._candle_row(inst, interval, tf, r) for r in rows]

    @staticmethod
    def _candle_row(inst: SimInstrument, interval: str, tf: int, row: np.ndarray) -> dict[str, Any]:
        t, o, h, lo, c, v = (float(x) for x in row)
        return {"t": int(t), "T": int(t) + tf - 1, "s": coin_of(inst), "i": interval, "o": num(o), "c": num(c),
                "h": num(h), "l": num(lo), "v": num(v), "n": int(v * 3) + 1}

    # -- funding history -------------------------------------------------------------------------------
    def _funding_history(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        inst = self._resolve(body.get("coin"))
        start = self._int(body, "startTime")
        end = self._int(body, "endTime", required=False)
        assert start is not None
        now = self.market.now_ms()
        end = now if end is None else min(end, now)
        # A row for settlement H is stamped H + offset (< 1 s): settlements from the hour before startTime
        # may still be stamped inside the window, and H <= end is needed for a stamp <= end.
        lo = start // HOUR_MS * HOUR_MS
        # The first rows from startTime on, however far after it they begin (a coin listed later): never
        # compute beyond one answer.
        hi = min(end, max(lo, inst.listed_ms) + (FUNDING_HISTORY_MAX + 1) * HOUR_MS)
        if hi < lo:
            return []
        times, rates = self.market.funding_settlements(inst, lo, hi)
        stamps = times + _offset_ms(times)
        keep = (stamps >= start) & (stamps <= end)
        times, rates, stamps = times[keep][:FUNDING_HISTORY_MAX], rates[keep][:FUNDING_HISTORY_MAX], \
            stamps[keep][:FUNDING_HISTORY_MAX]
        premiums = self.market.premium(self.venue, inst.base, times)
        coin = coin_of(inst)
        return [{"coin": coin, "fundingRate": num(r), "premium": num(p), "time": int(s)}
                for r, p, s in zip(rates, premiums, stamps, strict=True)]


def make_handler(venue: str, market: SimMarket) -> HyperliquidHandler:
    """The simulated Hyperliquid exchange (``data_sources.simulated.make_handler`` calls this)."""
    return HyperliquidHandler(venue, market)
