"""Simulated OKX (API v5): the public endpoints ccxt's ``okx`` class calls for Carry Desk, in OKX's format.

What is copied from the real API, because ccxt's parsing or our cursor loops depend on it:

- Envelope ``{"code": "0", "msg": "", "data": [...]}``; every number and timestamp is a *string*. Errors use
  the same envelope with OKX's codes: ``51001`` unknown instrument (ccxt: ``BadSymbol``), ``51000``
  parameter error, ``50014`` missing parameter, ``50011`` rate limit with HTTP 429 (``RateLimitExceeded``;
  ccxt maps a bare HTTP 429 to ``ExchangeNotAvailable``, the code decides), ``50026`` system error with
  HTTP 503 (``ExchangeNotAvailable``), ``50001`` maintenance (``OnMaintenance``).
- Instrument ids: ``BTC-USDT-SWAP``, ``BTC-USD-SWAP``, ``BTC-USD-261225`` (expiry date ``yymmdd``), index
  ids ``BTC-USD`` / ``BTC-USDT`` (= the contract's ``instFamily``). Derivative rows leave ``baseCcy`` and
  ``quoteCcy`` empty; ccxt reads base/quote from ``uly``. ``ctVal`` is base units per contract (linear) or
  USD per contract (inverse).
- Lists are newest first. ``after`` = strictly older than, ``before`` = strictly newer than; the newest
  ``limit`` rows satisfying both come back. Caps: funding-rate-history 100 rows, ``market/candles`` 300,
  ``history-candles`` and all mark/index candle endpoints 100; the non-history candle endpoints serve only
  the latest 1,440 bars (ccxt switches to ``history-*`` at 1,439 bars back).
- ``public/funding-rate``: ``fundingTime`` is the coming settlement and ``fundingRate`` its running
  estimate (``method=current_period``, so ``nextFundingRate`` is ``""``); ``nextFundingTime`` the one after.
  ``instId=ANY`` returns every perp.
- ``public/position-tiers``: ``instType`` and ``tdMode`` required, ``instFamily`` (or ``uly``) for SWAP/FUTURES;
  the rows of the whole family, bounds ``minSz``/``maxSz`` in CONTRACT COUNTS (a tier starts one contract
  above the previous ``maxSz``), ``instId`` empty. ``lotSz``/``minSz`` of the listing are in contracts too.

Simplifications (documented, not hidden): candles with bars of 6h and more are served only in their UTC
variants (``6Hutc``, ``1Dutc``; ccxt sends those by default), weekly/monthly bars are refused with
``51000``; funding history is kept back to listing unless ``funding_retention_ms`` is set (OKX documents
about three months of retention; a test uses the option to check that our loop stops cleanly).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from data_sources.simulated.market import (
    CATALOG,
    HOUR_MS,
    MINUTE_MS,
    SETTLE_HOUR_UTC,
    SimInstrument,
    SimMarket,
)
from data_sources.simulated.transport import SimRequest, SimResponse

API = "/api/v5"
FUNDING_HISTORY_MAX = 100
CANDLES_MAX = 300
HISTORY_CANDLES_MAX = 100
MARK_INDEX_CANDLES_MAX = 100
RECENT_CANDLE_BARS = 1440  # the non-history candle endpoints serve the latest 1,440 bars
INDEX_QUOTES = ("USD", "USDT")

# OKX bar codes the simulation serves -> bar length in ms (UTC-aligned bars only, see module docstring).
BARS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1H": HOUR_MS,
    "2H": 2 * HOUR_MS,
    "4H": 4 * HOUR_MS,
    "6Hutc": 6 * HOUR_MS,
    "12Hutc": 12 * HOUR_MS,
    "1Dutc": 24 * HOUR_MS,
    "2Dutc": 48 * HOUR_MS,
    "3Dutc": 72 * HOUR_MS,
}

# Position tiers (simulated; OKX's shape, sizes of a realistic order): per instType, (cap as a value in coin
# "BTC-equivalents", mmr, imr, maxLever). OKX states tiers in CONTRACT COUNTS, derived per family below:
# linear count = cap * coin multiple / ctVal (ctVal in coin); inverse count = cap * reference USD / ctVal.
_TIERS: dict[str, tuple[tuple[int, str, str, str], ...]] = {
    "SWAP": ((20, "0.004", "0.01", "100"), (40, "0.006", "0.02", "50"), (60, "0.008", "0.025", "40"),
             (100, "0.012", "0.05", "20"), (200, "0.025", "0.1", "10"), (400, "0.05", "0.2", "5"),
             (600, "0.1", "0.25", "4"), (1000, "0.15", "0.5", "2")),
    "FUTURES": ((20, "0.005", "0.02", "50"), (40, "0.006", "0.025", "40"), (100, "0.012", "0.05", "20"),
                (200, "0.025", "0.1", "10"), (400, "0.05", "0.2", "5"), (1000, "0.15", "0.5", "2")),
}
_TIER_COIN_MULTIPLE = {"BTC": 1, "ETH": 20, "SOL": 400}  # tier sizes of a coin, in BTC-equivalents
_TIER_REFERENCE_USD = {"BTC": 100_000, "ETH": 5_000, "SOL": 250}  # round prices that size inverse tiers

_FUTURE_ID = re.compile(r"^([A-Z0-9]+)-([A-Z0-9]+)-(\d{6})$")
_SWAP_ID = re.compile(r"^([A-Z0-9]+)-([A-Z0-9]+)-SWAP$")
_INT = re.compile(r"^-?\d+$")


class OkxError(Exception):
    """An OKX error answer raised inside a route handler."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def num(x: float) -> str:
    """A float as OKX sends it: a positional decimal string, shortest form that round-trips exactly."""
    return np.format_float_positional(float(x), unique=True, trim="-")


def yymmdd(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%y%m%d")


def inst_id(inst: SimInstrument) -> str:
    """OKX instrument id of a perp or dated future, e.g. ``BTC-USDT-SWAP`` or ``BTC-USD-261225``."""
    if inst.kind == "perp":
        return f"{inst.base}-{inst.quote}-SWAP"
    if inst.kind == "future" and inst.expiry_ms is not None:
        return f"{inst.base}-{inst.quote}-{yymmdd(inst.expiry_ms)}"
    raise ValueError(f"OKX simulation lists no {inst.kind} instruments")


def inst_family(inst: SimInstrument) -> str:
    """``instFamily``/``uly`` of a contract, which is also its index id (``BTC-USD``)."""
    return f"{inst.base}-{inst.quote}"


def _inst_type(inst: SimInstrument) -> str:
    return "SWAP" if inst.kind == "perp" else "FUTURES"


def _lot_size(inst: SimInstrument) -> str:
    """``lotSz`` = ``minSz``, in contracts: linear perps trade in 0.01 contracts (OKX's listing of 2025), inverse
    perps and all dated futures in whole contracts (not verified for the linear futures)."""
    return "0.01" if inst.linear and inst.kind == "perp" else "1"


def position_tiers(inst: SimInstrument) -> list[dict[str, str]]:
    """OKX's ``/public/position-tiers`` rows for the family of ``inst`` (same for cross and isolated here).

    Counts are whole contracts; a tier starts one contract above the previous ``maxSz``, as OKX prints it.
    """
    family = inst_family(inst)
    multiple = _TIER_COIN_MULTIPLE.get(inst.base, 1)
    rows: list[dict[str, str]] = []
    prev = 0
    for n, (cap, mmr, imr, lever) in enumerate(_TIERS[_inst_type(inst)], start=1):
        coin = cap * multiple
        usd = coin * _TIER_REFERENCE_USD.get(inst.base, 100)
        count = round(coin / inst.contract_size) if inst.linear else round(usd / inst.contract_size)
        rows.append({
            "baseMaxLoan": "", "imr": imr, "instFamily": family, "instId": "", "maxLever": lever,
            "maxSz": str(count), "minSz": "0" if n == 1 else str(prev + 1), "mmr": mmr, "optMgnFactor": "0",
            "quoteMaxLoan": "", "tier": str(n), "uly": family,
        })
        prev = count
    return rows


def _int_param(req: SimRequest, name: str) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return None
    if not _INT.match(raw):
        raise OkxError("51000", f"Parameter {name} error")
    return int(raw)


def _limit(req: SimRequest, cap: int, default: int = 100) -> int:
    limit = _int_param(req, "limit")
    if limit is None:
        return min(default, cap)
    if limit < 1:
        raise OkxError("51000", "Parameter limit error")
    return min(limit, cap)  # OKX silently serves at most its cap


class OkxHandler:
    """The simulated OKX exchange for one ``SimMarket``.

    Parameters
    ----------
    venue : str
        Venue id (``okx``).
    market : SimMarket
        Where every number comes from.
    funding_retention_ms : int | None
        If set, funding history older than now minus this is gone (OKX keeps about three months).
    maintenance : bool
        If True, every request gets OKX's maintenance answer (HTTP 503, code ``50001``).
    """

    def __init__(
        self,
        venue: str,
        market: SimMarket,
        *,
        funding_retention_ms: int | None = None,
        maintenance: bool = False,
    ) -> None:
        self.venue = venue
        self.market = market
        self.funding_retention_ms = funding_retention_ms
        self.maintenance = maintenance
        self._routes: dict[str, Callable[[SimRequest], list[Any]]] = {
            f"{API}/public/instruments": self._instruments,
            f"{API}/public/time": self._time,
            f"{API}/market/tickers": self._tickers,
            f"{API}/market/ticker": self._ticker,
            f"{API}/public/mark-price": self._mark_price,
            f"{API}/market/index-tickers": self._index_tickers,
            f"{API}/public/funding-rate": self._funding_rate,
            f"{API}/public/funding-rate-history": self._funding_rate_history,
            f"{API}/public/position-tiers": self._position_tiers,
            f"{API}/market/candles": lambda r: self._candles(r, "last", history=False),
            f"{API}/market/history-candles": lambda r: self._candles(r, "last", history=True),
            f"{API}/market/mark-price-candles": lambda r: self._candles(r, "mark", history=False),
            f"{API}/market/history-mark-price-candles": lambda r: self._candles(r, "mark", history=True),
            f"{API}/market/index-candles": lambda r: self._candles(r, "index", history=False),
            f"{API}/market/history-index-candles": lambda r: self._candles(r, "index", history=True),
        }

    # -- VenueHandler protocol -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if self.maintenance:
            return self.error("maintenance", req)
        route = self._routes.get(req.path)
        if route is None or req.method != "GET":
            # An unknown path: HTTP 404 in OKX's envelope (the exact live body is not verified; ccxt raises
            # ExchangeError for any non-zero code it does not know, whatever the body says).
            return SimResponse(404, {"code": "404", "msg": "Not Found", "data": []})
        try:
            return SimResponse(200, {"code": "0", "msg": "", "data": route(req)})
        except OkxError as e:
            return SimResponse(e.status, {"code": e.code, "msg": e.msg, "data": []})

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        if kind == "rate_limit":
            return SimResponse(429, {"msg": "Too Many Requests", "code": "50011"})
        if kind == "ban":
            # OKX has no IP-ban code of its own; a blocked IP gets the edge's HTTP 403 HTML page.
            html = "<html><head><title>403 Forbidden</title></head><body>Access Denied</body></html>"
            return SimResponse(403, html, {"Content-Type": "text/html"})
        if kind == "maintenance":
            return SimResponse(
                503, {"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []}
            )
        if kind == "server_error":
            return SimResponse(503, {"code": "50026", "msg": "System error. Try again later", "data": []})
        raise ValueError(f"no OKX answer for fault {kind!r}")

    def empty(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, {"code": "0", "msg": "", "data": []})

    # -- instruments -----------------------------------------------------------------------------------
    def _listed(self) -> list[SimInstrument]:
        return [i for i in self.market.instruments(self.venue) if i.kind in ("perp", "future")]

    def _resolve(self, instrument_id: str | None) -> SimInstrument:
        """The listed or expired contract with this OKX id, else OKX's ``51001``."""
        if not instrument_id:
            raise OkxError("50014", "Parameter instId can not be empty")
        for inst in self._listed():
            if inst_id(inst) == instrument_id:
                return inst
        m = _FUTURE_ID.match(instrument_id)
        if m:  # an expired future: history endpoints still know it
            base, quote, ymd = m.groups()
            try:
                day = datetime.strptime(ymd, "%y%m%d").replace(tzinfo=UTC)
            except ValueError:
                day = None
            if day is not None and day.weekday() == 4:
                expiry = calendar.timegm((day.year, day.month, day.day, SETTLE_HOUR_UTC, 0, 0)) * 1000
                if expiry <= self.market.now_ms():
                    try:
                        return self.market.find(self.venue, base=base, quote=quote, kind="future",
                                                expiry_ms=expiry)
                    except KeyError:
                        pass
        raise OkxError("51001", "Instrument ID does not exist")

    def _filter(self, req: SimRequest, *, type_required: bool = True) -> list[SimInstrument]:
        """Listed contracts matching ``instType`` and the optional ``uly``/``instFamily``/``instId``."""
        inst_type = req.param("instType")
        if not inst_type:
            if type_required:
                raise OkxError("50014", "Parameter instType can not be empty")
        elif inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise OkxError("51000", "Parameter instType error")
        family = req.param("instFamily") or req.param("uly")
        wanted_id = req.param("instId")
        out = []
        for inst in self._listed():
            if inst_type and _inst_type(inst) != inst_type:
                continue
            if family and inst_family(inst) != family:
                continue
            if wanted_id and inst_id(inst) != wanted_id:
                continue
            out.append(inst)
        if wanted_id and not out:
            raise OkxError("51001", "Instrument ID does not exist")
        return out

    def _instruments(self, req: SimRequest) -> list[dict[str, str]]:
        aliases = self._aliases()
        return [self._instrument_row(inst, aliases.get(inst_id(inst), "")) for inst in self._filter(req)]

    @staticmethod
    def _instrument_row(inst: SimInstrument, alias: str) -> dict[str, str]:
        family = inst_family(inst)
        return {
            "alias": alias,
            "auctionEndTime": "",
            "baseCcy": "",  # derivatives: empty, base and quote live in uly/instFamily
            "category": "1",
            "contTdSwTime": str(inst.listed_ms),
            "ctMult": "1",
            "ctType": "linear" if inst.linear else "inverse",
            "ctVal": num(inst.contract_size),
            "ctValCcy": inst.base if inst.linear else inst.quote,
            "expTime": str(inst.expiry_ms) if inst.expiry_ms is not None else "",
            "instFamily": family,
            "instId": inst_id(inst),
            "instType": _inst_type(inst),
            "lever": "100" if inst.kind == "perp" else "50",
            "listTime": str(inst.listed_ms),
            "lotSz": _lot_size(inst),
            "maxLmtSz": "100000000",
            "maxMktSz": "12000",
            "minSz": _lot_size(inst),
            "optType": "",
            "quoteCcy": "",
            "ruleType": "normal",
            "settleCcy": inst.settle or "",
            "state": "live",
            "stk": "",
            "tickSz": "0.1" if inst.base == "BTC" else "0.01",
            "uly": family,
        }

    def _aliases(self) -> dict[str, str]:
        """OKX's ``alias`` per future id: this_week, next_week, quarter, next_quarter (by tenor, in order)."""
        names = {
            "weekly": ("this_week", "next_week"),
            "monthly": ("this_month", "next_month"),
            "quarterly": ("quarter", "next_quarter"),
        }
        out: dict[str, str] = {}
        seen: dict[tuple[str, str], int] = {}
        for inst in sorted(self._listed(), key=lambda i: i.expiry_ms or 0):
            if inst.kind != "future" or inst.tenor is None:
                continue
            k = (inst_family(inst), inst.tenor)
            n = seen.get(k, 0)
            seen[k] = n + 1
            slot = names.get(inst.tenor, ())
            out[inst_id(inst)] = slot[n] if n < len(slot) else ""
        return out

    def _time(self, req: SimRequest) -> list[dict[str, str]]:
        return [{"ts": str(self.market.now_ms())}]

    # -- prices ----------------------------------------------------------------------------------------
    def _ticker_row(self, inst: SimInstrument, now: int) -> dict[str, str]:
        m = self.market
        hours = np.arange(now - 24 * HOUR_MS, now + 1, HOUR_MS, dtype=np.int64)
        hours = np.minimum(hours, inst.expiry_ms - 1) if inst.expiry_ms is not None else hours
        path = m.price(inst, "last", np.maximum(hours, inst.listed_ms))
        last = float(m.price(inst, "last", np.asarray([now]))[0])
        tick = 0.1 if inst.base == "BTC" else 0.01
        vol24 = float(m.volume(inst, np.asarray([now // (24 * HOUR_MS) * 24 * HOUR_MS]), 24 * HOUR_MS)[0])
        day0 = now // (24 * HOUR_MS) * (24 * HOUR_MS)
        # OKX's start-of-day opens: 00:00 UTC and 00:00 UTC+8 (16:00 UTC the day before)
        sod = m.price(inst, "last", np.maximum(np.asarray([day0, day0 - 8 * HOUR_MS]), inst.listed_ms))
        return {
            "instType": _inst_type(inst),
            "instId": inst_id(inst),
            "last": num(last),
            "lastSz": "1",
            "askPx": num(last + tick),
            "askSz": "25",
            "bidPx": num(last - tick),
            "bidSz": "31",
            "open24h": num(float(path[0])),
            "high24h": num(max(float(path.max()), last)),
            "low24h": num(min(float(path.min()), last)),
            "volCcy24h": num(self._base_volume(inst, vol24, last)),
            "vol24h": num(vol24),
            "ts": str(now),
            "sodUtc0": num(float(sod[0])),
            "sodUtc8": num(float(sod[1])),
        }

    @staticmethod
    def _base_volume(inst: SimInstrument, contracts: float, price: float) -> float:
        """OKX's ``volCcy`` for derivatives: volume in the base coin."""
        if inst.linear:
            return contracts * inst.contract_size
        return contracts * inst.contract_size / price

    def _tickers(self, req: SimRequest) -> list[dict[str, str]]:
        now = self.market.now_ms()
        return [self._ticker_row(inst, now) for inst in self._filter(req)]

    def _ticker(self, req: SimRequest) -> list[dict[str, str]]:
        inst = self._resolve(req.param("instId"))
        if inst.expiry_ms is not None and inst.expiry_ms <= self.market.now_ms():
            raise OkxError("51001", "Instrument ID does not exist")
        return [self._ticker_row(inst, self.market.now_ms())]

    def _mark_price(self, req: SimRequest) -> list[dict[str, str]]:
        now = self.market.now_ms()
        t = np.asarray([now], dtype=np.int64)
        return [
            {
                "instType": _inst_type(inst),
                "instId": inst_id(inst),
                "markPx": num(float(self.market.price(inst, "mark", t)[0])),
                "ts": str(now),
            }
            for inst in self._filter(req)
        ]

    def _index_ids(self) -> dict[str, str]:
        """Index id (``BTC-USD``) -> base, for every base OKX lists contracts on."""
        cat = CATALOG[self.venue]
        bases = sorted({p.base for p in cat.perps} | {f.base for f in cat.futures})
        return {f"{b}-{q}": b for b in bases for q in INDEX_QUOTES}

    def _index_tickers(self, req: SimRequest) -> list[dict[str, str]]:
        wanted = req.param("instId")
        quote = req.param("quoteCcy")
        if not wanted and not quote:
            raise OkxError("50015", "Either parameter instId or quoteCcy is required")
        ids = self._index_ids()
        if wanted:
            if wanted not in ids:
                raise OkxError("51001", "Instrument ID does not exist")
            chosen = [wanted]
        else:
            chosen = [i for i in ids if i.endswith(f"-{quote}")]
        now = self.market.now_ms()
        day0 = now // (24 * HOUR_MS) * (24 * HOUR_MS)
        rows = []
        for index_id in chosen:
            base = ids[index_id]
            hours = np.arange(now - 24 * HOUR_MS, now + 1, HOUR_MS, dtype=np.int64)
            path = self.market.index(self.venue, base, hours)
            idx = float(self.market.index(self.venue, base, np.asarray([now]))[0])
            sod = self.market.index(self.venue, base, np.asarray([day0, day0 - 8 * HOUR_MS]))
            rows.append({
                "instId": index_id,
                "idxPx": num(idx),
                "high24h": num(max(float(path.max()), idx)),
                "low24h": num(min(float(path.min()), idx)),
                "open24h": num(float(path[0])),
                "sodUtc0": num(float(sod[0])),
                "sodUtc8": num(float(sod[1])),
                "ts": str(now),
            })
        return rows

    # -- funding ---------------------------------------------------------------------------------------
    # -- margin ----------------------------------------------------------------------------------------
    def _position_tiers(self, req: SimRequest) -> list[dict[str, str]]:
        """``instType`` and ``tdMode`` required; SWAP/FUTURES need ``instFamily`` or ``uly`` (up to 3, comma
        separated); optional ``tier``. The simulation lists no margin pairs or options: those answer no rows."""
        inst_type = req.param("instType")
        if not inst_type:
            raise OkxError("50014", "Parameter instType can not be empty")
        if inst_type not in ("MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise OkxError("51000", "Parameter instType error")
        td_mode = req.param("tdMode")
        if not td_mode:
            raise OkxError("50014", "Parameter tdMode can not be empty")
        if td_mode not in ("cross", "isolated"):
            raise OkxError("51000", "Parameter tdMode error")
        if inst_type not in ("SWAP", "FUTURES"):
            return []
        wanted = req.param("instFamily") or req.param("uly")
        if not wanted:
            raise OkxError("50014", "Parameter instFamily can not be empty")
        by_family = {inst_family(i): i for i in self._listed() if _inst_type(i) == inst_type}
        rows: list[dict[str, str]] = []
        for family in wanted.split(",")[:3]:
            if family not in by_family:
                raise OkxError("51000", "Parameter instFamily error")
            rows += position_tiers(by_family[family])
        tier = req.param("tier")
        return [r for r in rows if tier is None or r["tier"] == tier]

    def _perp(self, instrument_id: str | None) -> SimInstrument:
        inst = self._resolve(instrument_id)
        if inst.kind != "perp":
            raise OkxError("51001", "Instrument ID does not exist")
        return inst

    def _funding_rate(self, req: SimRequest) -> list[dict[str, str]]:
        wanted = req.param("instId")
        if wanted == "ANY":
            perps = [i for i in self._listed() if i.kind == "perp"]
        else:
            perps = [self._perp(wanted)]
        return [self._funding_row(inst) for inst in perps]

    def _funding_row(self, inst: SimInstrument) -> dict[str, str]:
        m = self.market
        now = m.now_ms()
        h = int(inst.funding_hours or 8)
        coming = m.next_funding_ms(inst)
        last_settled = coming - h * HOUR_MS
        sett = float(m.settled_rate(inst, np.asarray([last_settled]))[0])
        cap = 0.00375 * h / 8.0
        return {
            "formulaType": "withRate",
            "fundingRate": num(m.funding_estimate(inst)),
            "fundingTime": str(coming),
            "impactValue": "",
            "instId": inst_id(inst),
            "instType": "SWAP",
            "interestRate": "0.0001",
            "maxFundingRate": num(cap),
            "method": "current_period",
            "minFundingRate": num(-cap),
            "nextFundingRate": "",  # OKX leaves it empty when method is current_period
            "nextFundingTime": str(coming + h * HOUR_MS),
            "premium": num(float(m.premium(self.venue, inst.base, np.asarray([now]))[0])),
            "settFundingRate": num(sett),
            "settState": "settled",
            "ts": str(now),
        }

    def _funding_rate_history(self, req: SimRequest) -> list[dict[str, str]]:
        inst = self._perp(req.param("instId"))
        limit = _limit(req, FUNDING_HISTORY_MAX, default=FUNDING_HISTORY_MAX)
        after = _int_param(req, "after")
        before = _int_param(req, "before")
        now = self.market.now_ms()
        step = int(inst.funding_hours or 8) * HOUR_MS
        hi = now if after is None else min(now, after - 1)
        lo = 0 if before is None else before + 1
        if self.funding_retention_ms is not None:
            lo = max(lo, now - self.funding_retention_ms)
        # Only the newest `limit` rows come back, so never compute further back than that.
        lo = max(lo, hi - (limit + 1) * step)
        times, rates = self.market.funding_settlements(inst, lo, hi)
        times, rates = times[::-1][:limit], rates[::-1][:limit]
        return [
            {
                "formulaType": "withRate",
                "fundingRate": num(r),
                "fundingTime": str(int(t)),
                "instId": inst_id(inst),
                "instType": "SWAP",
                "method": "current_period",
                "realizedRate": num(r),
            }
            for t, r in zip(times, rates, strict=True)
        ]

    # -- candles ---------------------------------------------------------------------------------------
    def _candle_instrument(self, req: SimRequest, field: str) -> SimInstrument:
        """The instrument whose series is asked for; index candles take an index id (``BTC-USD``)."""
        wanted = req.param("instId")
        if field != "index":
            return self._resolve(wanted)
        if not wanted:
            raise OkxError("50014", "Parameter instId can not be empty")
        base = self._index_ids().get(wanted)
        if base is None:
            raise OkxError("51001", "Instrument ID does not exist")
        # The base's perp carries the venue's index series (and, unlike a future, never stops).
        listed = [i for i in self._listed() if i.base == base]
        return next((i for i in listed if i.kind == "perp"), listed[0])

    def _candles(self, req: SimRequest, field: str, *, history: bool) -> list[list[str]]:
        inst = self._candle_instrument(req, field)
        bar = req.param("bar") or "1m"
        tf = BARS.get(bar)
        if tf is None:
            raise OkxError("51000", "Parameter bar error")
        if field == "last":
            cap = HISTORY_CANDLES_MAX if history else CANDLES_MAX
        else:
            cap = MARK_INDEX_CANDLES_MAX
        limit = _limit(req, cap)
        after = _int_param(req, "after")
        before = _int_param(req, "before")
        now = self.market.now_ms()
        last_open = now if inst.expiry_ms is None or field == "index" else min(now, inst.expiry_ms - 1)
        hi = last_open if after is None else min(last_open, after - 1)
        hi = hi // tf * tf
        lo = 0 if before is None else before + 1
        if not history:
            lo = max(lo, now // tf * tf - (RECENT_CANDLE_BARS - 1) * tf)
        lo = max(lo, hi - (limit - 1) * tf)  # the newest `limit` bars only
        if hi < lo:
            return []
        rows = self.market.candles(inst, field, tf, lo, hi)
        return [self._candle_row(inst, field, r, tf, now) for r in rows[::-1]]

    def _candle_row(self, inst: SimInstrument, field: str, row: np.ndarray, tf: int, now: int) -> list[str]:
        ts, o, h, lo, c, vol = (float(x) for x in row)
        confirm = "1" if ts + tf <= now else "0"
        if field != "last":  # mark and index candles carry no volume
            return [str(int(ts)), num(o), num(h), num(lo), num(c), confirm]
        base_vol = self._base_volume(inst, vol, c)
        quote_vol = base_vol * c if inst.linear else vol * inst.contract_size
        return [str(int(ts)), num(o), num(h), num(lo), num(c),
                num(vol), num(base_vol), num(quote_vol), confirm]


def make_handler(venue: str, market: SimMarket) -> OkxHandler:
    """The simulated OKX exchange (``data_sources.simulated.make_handler`` calls this)."""
    return OkxHandler(venue, market)

