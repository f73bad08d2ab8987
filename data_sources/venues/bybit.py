"""Bybit's quirks (ccxt ``bybit``, v5 API): linear and inverse perps, inverse quarterlies, USDC futures.

What differs from the other venues and shapes this module:

- ``load_markets`` makes two calls per category (the listing and a ``status=PreLaunch`` listing), so
  loading only ``linear`` and ``inverse`` costs four requests; the defaults (spot and options for six
  coins) cost eleven.
- ccxt's ``contractSize`` for inverse markets is ``lotSizeFilter.minOrderQty`` (a heuristic); Bybit's
  inverse contracts are 1 USD each, so that is used instead.
- One ``/v5/market/tickers?category=`` call per category carries last, mark and index for every perp and
  dated future of that category, and for perps the running funding estimate and the next settlement time.
  Bybit states the funding interval in the instrument listing (``fundingInterval``, minutes).
- ``/v5/market/funding/history`` returns at most 200 rows, newest first, and needs an ``endTime`` whenever
  a ``startTime`` is sent. ccxt derives ``endTime = since + limit * interval`` when no ``until`` is given,
  so the page size silently changes the window (ccxt #27745); the loop here always sends an explicit
  ``until`` and sizes each window to hold fewer rows than one page.
- Klines (``/v5/market/kline``, ``mark-``, ``index-``, ``premium-index-price-kline``) return at most 1000
  rows, newest first, anchored at ``start``. Price klines carry no volume (NaN here); inverse klines'
  volume is ccxt's pick of the turnover column (coin units). The premium index exists for linear perps only.
- Margin tiers: ``/v5/market/risk-limit`` is public; Bybit's ``mmDeduction`` is the ``cum`` of a tier.
- ccxt's bybit parsers read a 2xx body that is not JSON as an empty result; ``clients.build_client``
  installs a strict ``on_rest_response`` hook for every venue so such an answer raises ``ccxt.BadResponse``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import ccxt

from data_sources.margin import TierRow, continuity_cum, natural_unit
from data_sources.venues.base import (
    Contract,
    FundingNow,
    FundingPoint,
    MarginTier,
    PriceField,
    Quote,
    VenueSpec,
)

CCXT_OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {
        # Narrow load_markets to the two derivative categories: 4 requests instead of 11.
        "options": {"fetchMarkets": {"types": ["linear", "inverse"]}},
    },
}

FUNDING_PAGE_LIMIT = 200  # Bybit's server-side cap on /v5/market/funding/history rows
OHLCV_PAGE_LIMIT = 1000  # Bybit's cap on kline rows
MAX_PAGES = 2000  # guard: 1 year of 1h funding is 44 pages, 1 year of 1m candles 526
INVERSE_CONTRACT_USD = 1.0  # Bybit inverse contracts (BTCUSD, BTCUSDZ26, ...) are worth 1 USD each
HOUR_MS = 3_600_000
DEFAULT_FUNDING_MINUTES = 60  # unknown interval: assume the shortest in use, so a window never overflows

_PRICE_PARAM: dict[str, str | None] = {
    "last": None,
    "mark": "mark",
    "index": "index",
    "premium_index": "premiumIndex",
}


# ---------------------------------------------------------------------------------------------------------
# contracts


def _kind(market: dict[str, Any]) -> str | None:
    if market.get("swap"):
        return "perp"
    if market.get("future"):
        return "future"
    return None


def _contract_size(market: dict[str, Any]) -> float:
    """Base units per contract for linear markets, USD per contract for inverse ones."""
    if market.get("inverse"):
        # ccxt would give minOrderQty here, which is an order-size rule rather than the contract value.
        return INVERSE_CONTRACT_USD
    size = market.get("contractSize")
    return float(size) if size is not None else 1.0


def contracts(ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
    """Active perps and unexpired dated futures of ``base`` from ``ex.markets`` (no I/O).

    Ordered perps first (linear before inverse), then futures by expiry.
    """
    now = int(ex.milliseconds())
    out: list[Contract] = []
    for market in (ex.markets or {}).values():
        kind = _kind(market)
        if kind is None or market.get("base") != base or market.get("active") is False:
            continue
        expiry = market.get("expiry")
        if kind == "future" and (expiry is None or int(expiry) <= now):
            continue
        out.append(
            Contract(
                venue=spec.id,
                symbol=market["symbol"],
                base=market["base"],
                quote=market["quote"],
                settle=market["settle"],
                kind=kind,  # type: ignore[arg-type]
                linear=bool(market.get("linear")),
                contract_size=_contract_size(market),
                expiry_ms=int(expiry) if kind == "future" and expiry is not None else None,
            )
        )
    out.sort(key=lambda c: (c.kind != "perp", c.expiry_ms or 0, not c.linear, c.symbol))
    return out


# ---------------------------------------------------------------------------------------------------------
# quotes and funding now


def _category(ex: Any, symbol: str) -> str:
    return "linear" if ex.market(symbol).get("linear") else "inverse"


def _by_category(ex: Any, symbols: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for s in symbols:
        groups.setdefault(_category(ex, s), []).append(s)
    return groups


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def quotes(ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
    """Last, mark and index of ``contracts``: one ``fetch_tickers`` call per category (linear/inverse).

    Bybit's ticker rows carry no timestamp, so ``ts_ms`` is None (the caller stamps its fetch time).
    """
    wanted = [c.symbol for c in contracts]
    found: dict[str, dict[str, Any]] = {}
    for category in _by_category(ex, wanted):
        # No symbols argument: ccxt refuses a list mixing swaps and futures, and the category call
        # returns every contract of the category anyway.
        found.update(ex.fetch_tickers(params={"subType": category}))
    out: list[Quote] = []
    for symbol in wanted:
        t = found.get(symbol)
        if t is None:
            continue
        out.append(
            Quote(
                symbol=symbol,
                last=_num(t.get("last")),
                mark=_num(t.get("markPrice")),
                index=_num(t.get("indexPrice")),
                ts_ms=t.get("timestamp"),
            )
        )
    return out


def _interval_hours(ex: Any, symbol: str, parsed: str | None) -> float | None:
    """Funding interval from the listing (``fundingInterval`` in minutes), else ccxt's ``'8h'`` string."""
    minutes = _num(ex.market(symbol).get("info", {}).get("fundingInterval"))
    if minutes:
        return minutes / 60.0
    if parsed and parsed.endswith("h"):
        return _num(parsed[:-1])
    return None


def funding_now(ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
    """Current funding of ``perps``: one ``fetch_funding_rates`` call (tickers) per category.

    ``rate`` is Bybit's ``fundingRate`` ticker field, the running estimate for the coming settlement at
    ``next_funding_ms``; Bybit publishes no separate predicted rate, so ``predicted_rate`` is None.
    """
    out: list[FundingNow] = []
    for category, symbols in _by_category(ex, [p.symbol for p in perps]).items():
        # With one symbol ccxt sends symbol=; with more it asks for the whole category. Either way the
        # category comes from the first symbol, which is why symbols are grouped by category first.
        rates = ex.fetch_funding_rates(symbols, params={"subType": category})
        for symbol in symbols:
            r = rates.get(symbol)
            if r is None:
                continue
            hours = _interval_hours(ex, symbol, r.get("interval"))
            out.append(
                FundingNow(
                    symbol=symbol,
                    rate=_num(r.get("fundingRate")),
                    interval_hours=hours,
                    interval_inferred=False,
                    next_funding_ms=r.get("fundingTimestamp"),
                    predicted_rate=None,
                    ts_ms=r.get("timestamp"),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------
# funding history


def funding_history(ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int) -> list[FundingPoint]:
    """Every settlement of ``symbol`` in [start_ms, end_ms], ascending, without duplicates.

    Walks forward in windows of ``FUNDING_PAGE_LIMIT - 1`` intervals, each sent with an explicit ``until``
    so the window does not depend on ccxt's ``since + limit * interval`` default. Such a window holds fewer
    rows than a page, so Bybit's newest-first truncation cannot drop any; a full page therefore means the
    interval was shorter in the past, and the window is halved and asked again. An empty page only means
    nothing settled in that window (e.g. before listing): the walk goes on to ``end_ms``.
    """
    minutes = _num(ex.market(symbol).get("info", {}).get("fundingInterval")) or DEFAULT_FUNDING_MINUTES
    interval_ms = int(minutes * 60_000)
    hours = interval_ms / HOUR_MS
    end = min(int(end_ms), int(ex.milliseconds()))  # nothing settles in the future
    span = (FUNDING_PAGE_LIMIT - 1) * interval_ms
    points: dict[int, float] = {}
    cursor = int(start_ms)
    pages = 0
    while cursor <= end:
        if pages >= MAX_PAGES:
            raise ccxt.ExchangeError(f"{spec.id}: funding history of {symbol} needs more than {MAX_PAGES} pages")
        window_end = min(end, cursor + span - 1)
        rows = ex.fetch_funding_rate_history(symbol, cursor, FUNDING_PAGE_LIMIT, {"until": window_end})
        pages += 1
        if len(rows) >= FUNDING_PAGE_LIMIT and span > interval_ms:
            span = max(interval_ms, span // 2)  # possibly truncated: ask again for a narrower window
            continue
        for r in rows:
            ts, rate = r.get("timestamp"), _num(r.get("fundingRate"))
            if ts is not None and rate is not None and cursor <= ts <= window_end:
                points[int(ts)] = rate
        cursor = window_end + 1  # strictly advances: window_end >= cursor
    return [FundingPoint(ts_ms=t, rate=points[t], interval_hours=hours) for t in sorted(points)]


# ---------------------------------------------------------------------------------------------------------
# candles


def _check_price(ex: Any, symbol: str, price: PriceField) -> None:
    if price not in _PRICE_PARAM:
        raise ccxt.BadRequest(f"bybit: unknown price field {price!r}")
    market = ex.market(symbol)
    if market.get("spot") and price != "last":
        raise ccxt.NotSupported(f"bybit: {symbol} is a spot market; only last-price candles exist")
    if price == "premium_index" and not (market.get("swap") and market.get("linear")):
        raise ccxt.NotSupported(
            f"bybit: premium index candles exist for linear perpetuals only, not {symbol}"
        )


def _page_loop(
    fetch: Callable[[int], list[list[Any]]], start_ms: int, end_ms: int, step_ms: int, page_limit: int
) -> list[list[float]]:
    """Forward pagination shared by candle fetches: each page starts after the last row received."""
    rows: dict[int, list[float]] = {}
    cursor = start_ms
    for _ in range(MAX_PAGES):
        if cursor > end_ms:
            break
        page = fetch(cursor)
        fresh = [r for r in page if r and r[0] is not None and cursor <= r[0] <= end_ms]
        for r in fresh:
            rows[int(r[0])] = [float("nan") if v is None else float(v) for v in r[:6]]
        if not fresh:
            break  # an empty page: nothing (more) in the window
        cursor = int(max(r[0] for r in fresh)) + step_ms
        if len(page) < page_limit:
            break  # a short page is the last one
    else:
        raise ccxt.ExchangeError(f"bybit: candle window needs more than {MAX_PAGES} pages")
    return [rows[t] for t in sorted(rows)]


def ohlcv(
    ex: Any,
    spec: VenueSpec,
    symbol: str,
    timeframe: str,
    price: PriceField,
    start_ms: int,
    end_ms: int,
) -> list[list[float]]:
    """Candles ``[open_ms, open, high, low, close, volume]`` with open time in [start_ms, end_ms], ascending.

    ``price``: last | mark | index | premium_index (the premium as a fraction; linear perps only, else
    ``ccxt.NotSupported``). Mark, index and premium candles have no volume on Bybit: NaN. Inverse
    last-price volume is in coin units (ccxt's choice of Bybit's turnover column).
    """
    _check_price(ex, symbol, price)
    step = int(ex.parse_timeframe(timeframe) * 1000)
    param = _PRICE_PARAM[price]
    base_params: dict[str, Any] = {"until": int(end_ms)}
    if param is not None:
        base_params["price"] = param

    def fetch(cursor: int) -> list[list[Any]]:
        return ex.fetch_ohlcv(symbol, timeframe, cursor, OHLCV_PAGE_LIMIT, dict(base_params))

    return _page_loop(fetch, int(start_ms), int(end_ms), step, OHLCV_PAGE_LIMIT)


# ---------------------------------------------------------------------------------------------------------
# Margin tiers (hedge calculator)

RISK_LIMIT = "exchange: GET /v5/market/risk-limit"


def margin_tiers(ex: Any, spec: VenueSpec, symbol: str) -> list[MarginTier]:
    """Risk-limit tiers of ``symbol``: one ``GET /v5/market/risk-limit?category=&symbol=``.

    ``riskLimitValue`` caps the position value in the settle coin (USDT or USDC for linear, the coin for
    inverse); ccxt's ``minNotional`` is the previous tier's limit (0 for the first). ``cum`` is Bybit's
    ``mmDeduction`` (``""`` on the lowest tier: 0); where Bybit leaves it empty on a higher tier it is
    computed by the continuity rule and ``source`` says so.
    """
    market = ex.market(symbol)
    if market.get("type") not in ("swap", "future"):
        raise ccxt.BadRequest(f"{ex.id}: margin tiers exist for perps and futures only, not {symbol}")
    rows = ex.fetch_market_leverage_tiers(symbol)
    if not rows:
        raise ccxt.NullResponse(f"{ex.id}: risk-limit answered no tiers for {symbol}")
    unit = str(market.get("settle") or natural_unit(market))
    parsed: list[tuple[float, float, float, float | None, float | None]] = []
    for r in sorted(rows, key=lambda r: r.get("tier") or 0):
        lo, hi, mmr = _num(r.get("minNotional")), _num(r.get("maxNotional")), _num(r.get("maintenanceMarginRate"))
        if hi is None or mmr is None:
            raise ccxt.BadResponse(f"{ex.id}: risk-limit tier without riskLimitValue/maintenanceMargin: "
                                   f"{r.get('info')!r}")
        deduction = _num((r.get("info") or {}).get("mmDeduction"))
        parsed.append((lo or 0.0, hi, mmr, _num(r.get("maxLeverage")), deduction))
    computed = [i for i, p in enumerate(parsed) if i > 0 and p[4] is None]
    table = [TierRow(floor=lo, cap=hi, mmr=mmr, max_leverage=lev, cum=0.0 if i == 0 and cum is None else cum)
             for i, (lo, hi, mmr, lev, cum) in enumerate(parsed)]
    cums = continuity_cum(table)
    source = RISK_LIMIT
    if computed:
        source += f" (mmDeduction missing on tiers {[i + 1 for i in computed]}: computed by continuity)"
    return [MarginTier(tier=i + 1, floor=row.floor, cap=row.cap, unit=unit, mmr=row.mmr,
                       max_leverage=row.max_leverage, cum=cum, source=source)
            for i, (row, cum) in enumerate(zip(table, cums, strict=True))]
