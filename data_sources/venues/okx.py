"""OKX: the quirk functions of the ``Family`` protocol (see ``data_sources/venues/base.py``).

What is specific to OKX, and why the code below looks the way it does:

- One client loads perps (``SWAP``) and dated futures (``FUTURES``): two ``/public/instruments`` calls.
  Both linear (USDT-settled, ``ctVal`` in base coin) and inverse (coin-settled, ``ctVal`` in USD) contracts
  live in the same client. ``ruleType`` other than ``normal`` (pre-market contracts, the perp-like
  ``XPERP`` futures that pay funding) is left out of the term structure.
- Tickers carry no mark or index price: last comes from ``/market/tickers``, mark from
  ``/public/mark-price`` (one bulk call per instrument type each) and the index from
  ``/market/index-tickers`` keyed by the contract's ``instFamily`` (``BTC-USD`` for coin-margined,
  ``BTC-USDT`` for USDT-margined: two different composites on OKX).
- ``/public/funding-rate?instId=ANY`` (ccxt ``fetch_funding_rates``) returns every perp in one call;
  ``fundingTime`` is the coming settlement and ``fundingRate`` its running estimate, the interval is the
  exchange's own schedule (``nextFundingTime - fundingTime``).
- History endpoints are newest first with ``after`` = "older than" and ``before`` = "newer than" cursors.
  ccxt turns ``since`` into ``before`` and ``params['until']`` (OHLCV) into ``after``; for funding we pass
  ``after`` ourselves. Both loops below walk *backwards* from the end of the window, continuing from the
  oldest row received, so they stay complete whatever page cap the server applies (OKX caps
  ``history-candles`` lower than ccxt's requested 300).
- No premium-index candles: ``ccxt.NotSupported``. The premium is derived from mark and index candles.
- Margin tiers (``public/position-tiers``): ccxt's ``minNotional``/``maxNotional`` are contract counts;
  ``margin_tiers`` converts them with ``ctVal`` (see there).

Malformed bodies: ccxt swallows a body that is not valid JSON and returns an empty result. Where a result
comes back empty we look at the client's ``last_http_response`` and raise ``ccxt.BadResponse`` if the body
was broken JSON (another thread's response can land in between on a shared client; the check is a
best-effort guard against mistaking garbage for "no data", never a false alarm on good data).
"""

from __future__ import annotations

import json
import math
from typing import Any

import ccxt

from data_sources.margin import natural_unit
from data_sources.venues.base import (
    Contract,
    FundingNow,
    FundingPoint,
    MarginTier,
    PriceField,
    Quote,
    VenueSpec,
)

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Constructor options merged by ``data_sources.clients``. Market types come from the venue spec
# (swap + future). Bars of 6h and more are pinned to UTC opens (OKX's default is Hong Kong time; ccxt
# appends "utc" to the bar only while this option says UTC).
CCXT_OPTIONS: dict[str, dict[str, Any]] = {
    "okx": {"options": {"fetchOHLCV": {"timezone": "UTC"}}},
}

# Rows per funding-history page: OKX serves at most 100 (its documented cap at the time of writing; a
# higher cap only costs us extra requests, never rows, because the loop does not assume full pages).
FUNDING_PAGE = 100
# Candles per page ccxt may request: 300 on /market/candles, 100 on the mark/index endpoints.
OHLCV_PAGE = {"last": 300, "mark": 100, "index": 100}
# The smallest page any OKX candle endpoint returns when asked for a full one (history-candles).
OHLCV_MIN_SERVER_PAGE = 100
# A single request for more candles than this is refused rather than paged for minutes.
OHLCV_MAX_BARS = 50_000
MIN_FUNDING_SPACING_MS = HOUR_MS  # OKX's shortest funding interval
MAX_PAGES_SLACK = 3  # pages beyond the arithmetic minimum before the loop guard trips


# ---------------------------------------------------------------------------------------------------------
# Contracts


def contracts(ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
    """Perps and unexpired dated futures of ``base`` from ``ex.markets`` (no I/O).

    Sorted perps first, then futures by expiry; ``contract_size`` is base units per contract (linear) or
    USD per contract (inverse), as OKX's ``ctVal``.
    """
    now = int(ex.milliseconds())
    out: list[Contract] = []
    for m in (ex.markets or {}).values():
        if m.get("base") != base or m.get("type") not in ("swap", "future") or m.get("active") is False:
            continue
        info = m.get("info") or {}
        if info.get("ruleType", "normal") not in ("normal", ""):
            continue  # pre-market and XPERP contracts are not part of a term structure
        expiry = m.get("expiry")
        if m["type"] == "future" and (expiry is None or int(expiry) <= now):
            continue
        out.append(
            Contract(
                venue=spec.id,
                symbol=m["symbol"],
                base=m["base"],
                quote=m["quote"],
                settle=m["settle"],
                kind="perp" if m["type"] == "swap" else "future",
                linear=bool(m.get("linear")),
                contract_size=float(m["contractSize"]),
                expiry_ms=int(expiry) if m["type"] == "future" else None,
            )
        )
    out.sort(key=lambda c: (c.kind != "perp", c.expiry_ms or 0, c.quote, c.symbol))
    return out


# ---------------------------------------------------------------------------------------------------------
# Quotes


def quotes(ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
    """Last, mark and index for ``contracts``.

    Calls: per instrument type present (swap, future) one ``fetch_tickers`` and one ``fetch_mark_prices``;
    per index family (``BTC-USD``, ``BTC-USDT``) one ``/market/index-tickers``. At most six requests for a
    base with linear and inverse perps and futures. Raises ``ccxt.NullResponse`` when nothing at all came
    back for the requested contracts.
    """
    if not contracts:
        return []
    by_type: dict[str, list[str]] = {}
    for c in contracts:
        by_type.setdefault("swap" if c.kind == "perp" else "future", []).append(c.symbol)
    last: dict[str, Any] = {}
    mark: dict[str, Any] = {}
    for market_type, symbols in by_type.items():
        tickers = ex.fetch_tickers(symbols, params={"type": market_type})
        _check_empty(ex, tickers, "fetch_tickers")
        last.update(tickers)
        marks = ex.fetch_mark_prices(symbols, params={"type": market_type})
        _check_empty(ex, marks, "fetch_mark_prices")
        mark.update(marks)
    families = {c.symbol: _family(ex, c.symbol) for c in contracts}
    index = {fam: _index_ticker(ex, fam) for fam in sorted(set(families.values()))}

    out = []
    for c in contracts:
        t, mk, ix = last.get(c.symbol) or {}, mark.get(c.symbol) or {}, index.get(families[c.symbol]) or {}
        stamps = [s for s in map(_int, (t.get("timestamp"), mk.get("timestamp"), ix.get("ts"))) if s is not None]
        out.append(
            Quote(
                symbol=c.symbol,
                last=_float(t.get("last")),
                mark=_float(mk.get("markPrice")),
                index=_float(ix.get("idxPx")),
                ts_ms=max(stamps) if stamps else None,
            )
        )
    if all(q.last is None and q.mark is None and q.index is None for q in out):
        raise ccxt.NullResponse(f"{ex.id} quotes: no prices for {[c.symbol for c in contracts]}")
    return out


def _family(ex: Any, symbol: str) -> str:
    """OKX ``instFamily`` of a contract (also its index id), e.g. ``BTC-USD``."""
    market = ex.market(symbol)
    info = market.get("info") or {}
    return str(info.get("instFamily") or info.get("uly") or f"{market['baseId']}-{market['quoteId']}")


def _index_ticker(ex: Any, family: str) -> dict[str, Any]:
    """The index ticker row for one index id (ccxt has no unified call for it: implicit endpoint)."""
    resp = ex.publicGetMarketIndexTickers({"instId": family})
    if not isinstance(resp, dict):
        raise ccxt.BadResponse(f"{ex.id} index-tickers {family}: body is not a JSON object")
    rows = [r for r in resp.get("data") or [] if isinstance(r, dict) and r.get("instId") == family]
    return rows[0] if rows else {}


# ---------------------------------------------------------------------------------------------------------
# Funding now


def funding_now(ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
    """Current funding of ``perps`` in one call (``fetch_funding_rates`` -> ``funding-rate?instId=ANY``).

    ``rate`` is OKX's running estimate for the coming settlement at ``next_funding_ms`` (per interval);
    ``predicted_rate`` is ``nextFundingRate`` (the settlement after), None when OKX leaves it empty.
    Perps missing from the answer are left out; if none came back, ``ccxt.NullResponse``.
    """
    if not perps:
        return []
    rates = ex.fetch_funding_rates([p.symbol for p in perps])
    _check_empty(ex, rates, "fetch_funding_rates")
    out = []
    for p in perps:
        fr = rates.get(p.symbol)
        if fr is None:
            continue
        hours = _interval_hours(fr.get("interval"))
        info = fr.get("info") or {}
        out.append(
            FundingNow(
                symbol=p.symbol,
                rate=_float(fr.get("fundingRate")),
                interval_hours=hours if hours is not None else 8.0,
                interval_inferred=hours is None,  # OKX states its schedule; 8h only if it did not
                next_funding_ms=_int(fr.get("fundingTimestamp")),
                predicted_rate=_float(fr.get("nextFundingRate")),
                ts_ms=_int(info.get("ts")) or _int(fr.get("timestamp")),
            )
        )
    if not out:
        raise ccxt.NullResponse(f"{ex.id} funding_now: no funding rows for {[p.symbol for p in perps]}")
    return out


def _interval_hours(interval: Any) -> float | None:
    """ccxt's OKX interval ('8h', or the raw ms difference when it has no name for it) in hours."""
    if interval is None or interval == "":
        return None
    text = str(interval)
    try:
        return float(text[:-1]) if text.endswith("h") else float(text) / HOUR_MS
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------------
# Funding history


def funding_history(ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int) -> list[FundingPoint]:
    """Every settlement of perp ``symbol`` in [start_ms, end_ms], ascending, unique.

    Walks backwards: ``fetch_funding_rate_history(symbol, since=start_ms, limit=100,
    params={'after': cursor})`` (OKX: rows older than ``cursor`` and newer than ``start_ms - 1``, newest
    first), the next cursor being the oldest row received. Stops on an empty or short page, or when the
    oldest row is within an hour of ``start_ms``; a page cap guards against a cursor that never gets
    there. The interval of each row is the spacing to its neighbouring settlements (OKX's history does
    not state it, and OKX changes some perps' intervals).
    """
    market = ex.market(symbol)
    if not market.get("swap"):
        raise ccxt.BadRequest(f"{ex.id} funding history exists for perps only, not {symbol}")
    if end_ms < start_ms:
        return []
    rates: dict[int, float] = {}
    cursor = end_ms + 1  # `after` is exclusive
    max_pages = (end_ms - start_ms) // (HOUR_MS * FUNDING_PAGE) + MAX_PAGES_SLACK  # 1h funding worst case
    for _ in range(max_pages):
        page = ex.fetch_funding_rate_history(symbol, since=start_ms, limit=FUNDING_PAGE, params={"after": cursor})
        if not page:
            _raise_if_malformed(ex, "fetch_funding_rate_history")
            break
        stamps = []
        for row in page:
            ts, rate = _int(row.get("timestamp")), _float(row.get("fundingRate"))
            if ts is None or rate is None or not start_ms <= ts < cursor:
                continue
            rates[ts] = rate
            stamps.append(ts)
        if not stamps:
            break
        oldest = min(stamps)
        # A short page means the range is exhausted. Settlements are at least an hour apart (OKX's
        # shortest interval), so none can lie between start_ms and an oldest row less than 1h after it.
        if len(page) < FUNDING_PAGE or oldest - MIN_FUNDING_SPACING_MS < start_ms:
            break
        cursor = oldest
    else:
        raise ccxt.ExchangeError(f"{ex.id} funding history for {symbol}: page limit {max_pages} reached")
    return _with_intervals(rates)


def _with_intervals(rates: dict[int, float]) -> list[FundingPoint]:
    times = sorted(rates)
    if not times:
        return []
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    out = []
    for i, ts in enumerate(times):
        around = [g for g in (gaps[i - 1] if i > 0 else None, gaps[i] if i < len(gaps) else None) if g]
        # The smaller neighbour gap: a hole in OKX's data must not stretch a row's interval.
        hours = min(around) / HOUR_MS if around else 8.0
        out.append(FundingPoint(ts_ms=ts, rate=rates[ts], interval_hours=hours))
    return out


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

    ``price``: last | mark | index (ccxt ``fetch_ohlcv`` with ``params={'price': ...}``; the index series
    is the contract's ``instFamily`` index). Volume is in the base coin for last-price candles and NaN for
    mark/index candles (OKX gives none). The still-forming candle is included when in the window.
    Pages backwards with ``since=start_ms`` and ``params['until'] = cursor`` (OKX ``after``); ccxt picks
    the ``history-*`` endpoint whenever ``start_ms`` is more than 1,439 bars back.

    Raises ``ccxt.NotSupported`` for ``premium_index`` and ``ccxt.BadRequest`` for windows over
    ``OHLCV_MAX_BARS`` bars.
    """
    if price == "premium_index":
        raise ccxt.NotSupported(
            f"{ex.id} publishes no premium-index candles; derive the premium from mark and index candles"
        )
    if price not in OHLCV_PAGE:
        raise ccxt.BadRequest(f"{ex.id} ohlcv: unknown price field {price!r}")
    ex.market(symbol)  # BadSymbol before any request
    if end_ms < start_ms:
        return []
    bar_ms = int(ex.parse_timeframe(timeframe)) * 1000
    # Calendar bars (1M, 3M) can be shorter than ccxt's nominal 30 days: stop early only on the shortest.
    min_bar_ms = 28 * DAY_MS * (bar_ms // (30 * DAY_MS)) if timeframe.endswith("M") else bar_ms
    bars = (end_ms - start_ms) // min_bar_ms + 1
    if bars > OHLCV_MAX_BARS:
        raise ccxt.BadRequest(f"{ex.id} ohlcv: {bars} {timeframe} bars requested, at most {OHLCV_MAX_BARS}")
    params: dict[str, Any] = {} if price == "last" else {"price": price}
    rows: dict[int, list[float]] = {}
    cursor = end_ms + 1  # OKX `after` is exclusive
    max_pages = bars // OHLCV_MIN_SERVER_PAGE + MAX_PAGES_SLACK
    for _ in range(max_pages):
        page = ex.fetch_ohlcv(symbol, timeframe, since=start_ms, limit=OHLCV_PAGE[price],
                              params={**params, "until": cursor})
        fresh = [r for r in page if r and r[0] is not None and start_ms <= r[0] < cursor]
        if not fresh:
            if not page:
                _raise_if_malformed(ex, "fetch_ohlcv")
            break
        for r in fresh:
            rows[int(r[0])] = [float(r[0]), *(_float_or_nan(x) for x in r[1:6])]
        oldest = int(min(r[0] for r in fresh))
        if oldest - min_bar_ms < start_ms:
            break  # the bar before `oldest` opens before the window
        cursor = oldest
    else:
        raise ccxt.ExchangeError(f"{ex.id} ohlcv {symbol} {timeframe}: page limit {max_pages} reached")
    return [rows[t] for t in sorted(rows)]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _check_empty(ex: Any, result: Any, what: str) -> None:
    if not result:
        _raise_if_malformed(ex, what)


def _raise_if_malformed(ex: Any, what: str) -> None:
    """Raise ``ccxt.BadResponse`` if the client's last body looked like JSON but was not."""
    body = getattr(ex, "last_http_response", None)
    if not isinstance(body, str) or body[:1] not in ("{", "["):
        return
    try:
        json.loads(body)
    except ValueError as e:
        raise ccxt.BadResponse(f"{ex.id} {what}: malformed JSON body {body[:80]!r}") from e


def _float(x: Any) -> float | None:
    if x is None or x == "":
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _float_or_nan(x: Any) -> float:
    v = _float(x)
    return math.nan if v is None else v


def _int(x: Any) -> int | None:
    if x is None or x == "":
        return None
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------
# Margin tiers (hedge calculator)

POSITION_TIERS = "exchange: GET /api/v5/public/position-tiers (isolated)"


def margin_tiers(ex: Any, spec: VenueSpec, symbol: str) -> list[MarginTier]:
    """Isolated-margin position tiers of ``symbol``: one ``GET /api/v5/public/position-tiers``.

    ccxt sends ``instType`` (SWAP | FUTURES), ``tdMode=isolated`` and ``instFamily``; OKX answers the
    tiers of the whole family. ccxt LABELS the bounds ``minNotional``/``maxNotional`` but OKX's ``minSz``/
    ``maxSz`` are CONTRACT COUNTS: here they become the position's value in ``ctValCcy`` (counts x ctVal:
    BTC for BTC-USDT-SWAP, USD for BTC-USD-SWAP). OKX starts a tier at the previous ``maxSz`` + 1
    contract; position sizes are continuous (fractional contracts), so each floor is the previous cap.
    OKX applies a tier's rate to the whole position: ``cum`` is 0.
    """
    market = ex.market(symbol)
    if market.get("type") not in ("swap", "future"):
        raise ccxt.BadRequest(f"{ex.id}: margin tiers exist for perps and futures only, not {symbol}")
    rows = ex.fetch_market_leverage_tiers(symbol, {"marginMode": "isolated"})
    family = _family(ex, symbol)
    rows = [r for r in rows if (r.get("info") or {}).get("instFamily", family) in (family, "")]
    if not rows:
        _raise_if_malformed(ex, "fetch_market_leverage_tiers")
        raise ccxt.NullResponse(f"{ex.id}: position-tiers answered no tiers for {family}")
    info = market.get("info") or {}
    ct_val = _float(market.get("contractSize"))
    unit = str(info.get("ctValCcy") or natural_unit(market)) if ct_val else "contracts"
    per = ct_val if ct_val else 1.0
    out: list[MarginTier] = []
    for r in sorted(rows, key=lambda r: r.get("tier") or 0):
        lo, hi, mmr = _float(r.get("minNotional")), _float(r.get("maxNotional")), _float(r.get("maintenanceMarginRate"))
        if hi is None or mmr is None:
            raise ccxt.BadResponse(f"{ex.id}: position tier without maxSz/mmr: {r.get('info')!r}")
        floor = out[-1].cap if out else (lo or 0.0) * per
        out.append(MarginTier(tier=len(out) + 1, floor=floor, cap=hi * per, unit=unit, mmr=mmr,
                              max_leverage=_float(r.get("maxLeverage")), cum=0.0, source=POSITION_TIERS))
    return out
