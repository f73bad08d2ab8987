"""Deribit quirks (inverse BTC/ETH perpetuals and dated futures, continuous funding).

What differs from the other venues, and how each function copes:

- **Markets.** ccxt's ``load_markets`` calls ``get_currencies`` (``fetch_currencies``, needed later by
  ``fetch_tickers``, which resolves its ``code`` through ``ex.currency``) and then ONE
  ``get_instruments`` without a currency when ``options.fetchMarkets.fetchAllMarkets`` is true (ccxt's
  default, pinned in ``CCXT_OPTIONS``): 2 calls. With it false ccxt makes a second ``get_currencies`` and
  one ``get_instruments`` per currency. The list includes ``future_combo`` spreads, which ccxt also types
  ``future``; ``contracts`` keeps only ``info.kind == "future"``.
- **Quotes.** ``get_book_summary_by_currency?kind=future`` (ccxt ``fetch_tickers`` with ``code``) gives
  last and mark of every future and the perpetual of one currency in one call, but no ``index_price``;
  the index comes from ``get_index_price`` (implicit ``publicGetGetIndexPrice``) once per index. Two
  calls per currency, against one ``ticker`` call per instrument (perp + ~6 futures) otherwise. The
  summary's ``estimated_delivery_price`` is not used as the index: near expiry it is the delivery
  TWAP, not the index.
- **Funding now.** Funding accrues every millisecond; there is no settlement instant and no predicted
  rate. ``fetch_funding_rate`` (``get_funding_rate_value``) over the trailing 8 hours is the funding
  realised over that window, reported as an 8h rate with no next funding time.
- **Funding history.** ``get_funding_rate_history`` has hourly rows; ccxt's ``fundingRate`` is
  ``interest_8h``, a TRAILING 8-HOUR SUM, so adding those rows counts every hour eight times. Each
  ``FundingPoint`` is one hour: ``rate = interest_1h`` (the hour's accrual, from ``info``), interval 1h.
  The server returns at most 744 rows per call, so windows are 744 hours.
- **Malformed bodies.** ccxt's Deribit parsers read a body that is not JSON as "no rows"
  (``safe_list(<str>, "result", [])``), so a truncated answer would pass as an empty one. Whenever a call
  comes back empty, ``_raise_if_malformed`` looks at ``ex.last_http_response`` and raises
  ``ccxt.BadResponse`` if that body is not a JSON object.
- **OHLCV.** Only trade candles (``get_tradingview_chart_data``, at most ~5000 per call, END-anchored: a
  wider window silently drops its oldest candles), so windows hold at most 5000 candles. Mark, index and
  premium-index candles raise ``ccxt.NotSupported``.
"""

from __future__ import annotations

import json
from typing import Any

import ccxt

from data_sources.venues.base import Contract, FundingNow, FundingPoint, PriceField, Quote, VenueSpec

HOUR_MS = 3_600_000
FUNDING_WINDOW_HOURS = 8  # the trailing window we report current funding over (Deribit's funding_8h)
FUNDING_PAGE_ROWS = 744  # server cap of get_funding_rate_history (31 days of hourly rows)
CANDLE_PAGE_ROWS = 5000  # server cap of get_tradingview_chart_data (ccxt docstring; measured 5001)
MAX_PAGES = 400  # refuse windows needing more pages (1m candles: ~3.8 years; funding: ~34 years)

CCXT_OPTIONS: dict[str, dict[str, Any]] = {
    # ccxt's default, pinned: one get_instruments for all currencies (else a second get_currencies and
    # one get_instruments per currency). load_markets = get_currencies (fetch_currencies) + this call.
    "deribit": {"options": {"fetchMarkets": {"fetchAllMarkets": True}}},
}


# ---------------------------------------------------------------------------------------------------------
# Contracts and quotes


def contracts(ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
    """Perpetuals and unexpired dated futures of ``base`` from ``ex.markets`` (pure, no I/O).

    Sorted perps first, then by expiry. ``contract_size`` is in USD per contract for inverse instruments
    (BTC-PERPETUAL: 10) and in ``base`` per contract for linear ones. Combos and options are skipped.
    """
    now = int(ex.milliseconds())
    out: list[Contract] = []
    for m in (ex.markets or {}).values():
        info = m.get("info") or {}
        if m.get("base") != base or info.get("kind") != "future" or m.get("active") is False:
            continue
        perp = bool(m.get("swap"))
        expiry = None if perp else m.get("expiry")
        if not perp and (expiry is None or int(expiry) <= now):
            continue
        out.append(
            Contract(
                venue=spec.id,
                symbol=m["symbol"],
                base=m["base"],
                quote=m["quote"],
                settle=m["settle"],
                kind="perp" if perp else "future",
                linear=bool(m.get("linear")),
                contract_size=float(m["contractSize"]),
                expiry_ms=None if expiry is None else int(expiry),
            )
        )
    out.sort(key=lambda c: (c.kind != "perp", c.expiry_ms or 0, c.symbol))
    return out


def amount_per_contract(market: dict[str, Any]) -> float:
    """ccxt order-amount units per contract: Deribit's amounts are not contract counts.

    Deribit (and so ccxt's ``precision['amount']`` and ``limits.amount.min``, both ``min_trade_amount``)
    states amounts in USD for inverse instruments and in the base coin for linear ones; one contract is
    ``contract_size`` of those (BTC-PERPETUAL: 10 USD), so a step of 10 is one contract.
    """
    size = market.get("contractSize")
    return float(size) if size else 1.0


def quotes(ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
    """Last, mark and index of ``contracts`` (prices in the quote currency, USD).

    One book summary per settlement currency and one ``get_index_price`` per index: 2 calls for BTC's
    inverse perp and futures. ``ts_ms`` is the summary's ``creation_timestamp``. A contract absent from
    the summary gets no row.
    """
    out: list[Quote] = []
    indices: dict[str, float | None] = {}
    for currency in sorted({c.settle for c in contracts}):
        group = [c for c in contracts if c.settle == currency]
        tickers = ex.fetch_tickers(params={"code": currency, "kind": "future"})
        if not tickers:
            _raise_if_malformed(ex)
        for c in group:
            t = tickers.get(c.symbol)
            if t is None:
                continue
            index_name = _index_name(ex, c)
            if index_name not in indices:
                indices[index_name] = _index_price(ex, index_name)
            out.append(Quote(symbol=c.symbol, last=_num(t.get("last")), mark=_num(t.get("markPrice")),
                             index=indices[index_name], ts_ms=t.get("timestamp")))
    return out


def _index_name(ex: Any, c: Contract) -> str:
    """The instrument's ``price_index`` (``btc_usd``) from the listing, else built the same way."""
    info = (ex.markets.get(c.symbol) or {}).get("info") or {}
    return str(info.get("price_index") or f"{c.base.lower()}_{c.quote.lower()}")


def _index_price(ex: Any, index_name: str) -> float | None:
    response = ex.publicGetGetIndexPrice({"index_name": index_name})
    if not isinstance(response, dict):  # ccxt hands back the raw text when it is not JSON
        raise ccxt.BadResponse(f"deribit: get_index_price answered {str(response)[:80]!r}")
    result = ex.safe_dict(response, "result") or {}
    return _num(ex.safe_number(result, "index_price"))


def _raise_if_malformed(ex: Any) -> None:
    """Call after an EMPTY parsed answer: raise if the body behind it was not a JSON object.

    ``last_http_response`` is per client, so under concurrent use of one client it may be another call's
    body; the cost is at worst blaming the wrong call for a malformed answer, never a silent empty one.
    """
    body = getattr(ex, "last_http_response", None)
    if not isinstance(body, str):
        return
    try:
        ok = isinstance(json.loads(body), dict)
    except ValueError:
        ok = False
    if not ok:
        raise ccxt.BadResponse(f"deribit: malformed response body {body[:80]!r}")


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


# ---------------------------------------------------------------------------------------------------------
# Funding


def funding_now(ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
    """Funding realised over the trailing 8 hours per perp, as an 8h rate (a fraction), one call each.

    Deribit funding is continuous: there is no next funding time and no predicted rate (both None). The
    8h interval is the window we ask for, not an inference, so ``interval_inferred`` is False.
    """
    now = int(ex.milliseconds())
    window = {"start_timestamp": now - FUNDING_WINDOW_HOURS * HOUR_MS, "end_timestamp": now}
    out: list[FundingNow] = []
    for p in perps:
        fr = ex.fetch_funding_rate(p.symbol, params=dict(window))
        if fr.get("fundingRate") is None:
            _raise_if_malformed(ex)
        out.append(
            FundingNow(
                symbol=p.symbol,
                rate=_num(fr.get("fundingRate")),
                interval_hours=float(FUNDING_WINDOW_HOURS),
                interval_inferred=False,
                next_funding_ms=None,
                predicted_rate=None,
                ts_ms=now,
            )
        )
    return out


def _pages_needed(first_ms: int, end_ms: int, step_ms: int, rows_per_page: int) -> int:
    if end_ms < first_ms:
        return 0
    pages = (end_ms - first_ms) // (step_ms * rows_per_page) + 1
    if pages > MAX_PAGES:
        raise ccxt.BadRequest(f"deribit: window needs {pages} pages of {rows_per_page} rows; at most {MAX_PAGES}")
    return int(pages)


def _hourly_accrual(info: dict[str, Any]) -> float | None:
    """The hour's own accrual: ``interest_1h``; only without it, the trailing 8h sum spread evenly."""
    r1 = info.get("interest_1h")
    if r1 is not None:
        return float(r1)
    r8 = info.get("interest_8h")
    return None if r8 is None else float(r8) / 8.0


def funding_history(ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int) -> list[FundingPoint]:
    """Every hourly funding accrual of perp ``symbol`` stamped in [start_ms, end_ms], ascending, unique.

    ``rate`` is the hour's accrual (``interest_1h``, a fraction) and ``interval_hours`` is 1.0, so a sum
    of rates is the funding paid over the window. Windows of 744 hours (the server cap) step forward on
    the hour grid; empty windows before the first row are skipped, an empty window after rows were seen
    ends the walk (the series stopped).
    """
    market = ex.market(symbol)  # BadSymbol for unknown symbols, before any request
    if not market.get("swap"):
        raise ccxt.BadRequest(f"deribit: {symbol} is not a perpetual; it has no funding")
    end = min(int(end_ms), int(ex.milliseconds()))
    cursor = -(-int(start_ms) // HOUR_MS) * HOUR_MS  # rows are stamped on the hour
    step = FUNDING_PAGE_ROWS * HOUR_MS
    rows: dict[int, FundingPoint] = {}
    for _ in range(_pages_needed(cursor, end, HOUR_MS, FUNDING_PAGE_ROWS)):
        window_end = min(end, cursor + step - HOUR_MS)  # at most FUNDING_PAGE_ROWS hourly stamps
        page = ex.fetch_funding_rate_history(symbol, since=cursor, limit=FUNDING_PAGE_ROWS,
                                             params={"until": window_end})
        if not page:
            _raise_if_malformed(ex)
        fresh = 0
        for r in page:
            ts = r.get("timestamp")
            rate = _hourly_accrual(r.get("info") or {})
            if ts is None or rate is None or not cursor <= ts <= window_end:
                continue
            rows[int(ts)] = FundingPoint(ts_ms=int(ts), rate=rate, interval_hours=1.0)
            fresh += 1
        if fresh == 0 and rows:
            break
        cursor += step
    return [rows[t] for t in sorted(rows)]


# ---------------------------------------------------------------------------------------------------------
# Candles


def ohlcv(
    ex: Any,
    spec: VenueSpec,
    symbol: str,
    timeframe: str,
    price: PriceField,
    start_ms: int,
    end_ms: int,
) -> list[list[float]]:
    """Trade candles ``[open_ms, o, h, l, c, v]`` with open time in [start_ms, end_ms], ascending, unique.

    Prices in the quote currency (USD); ``v`` in the base coin (Deribit's ``volume``). The forming candle
    is included. Only ``price="last"`` exists here: ccxt's ``fetch_ohlcv`` has no price switch for
    Deribit (a ``price`` param would be forwarded to the server as is), so it is not sent.
    """
    if price != "last":
        raise ccxt.NotSupported(
            f"deribit: no {price} candles; get_tradingview_chart_data serves trade (last) candles only"
        )
    if timeframe not in ex.timeframes:
        raise ccxt.NotSupported(f"deribit: no {timeframe} candles; resolutions are {sorted(ex.timeframes)}")
    ex.market(symbol)  # BadSymbol for unknown symbols, before any request
    tf_ms = int(ex.parse_timeframe(timeframe)) * 1000
    end = min(int(end_ms), int(ex.milliseconds()))
    cursor = -(-int(start_ms) // tf_ms) * tf_ms  # candle opens are on the timeframe grid
    rows: dict[int, list[float]] = {}
    for _ in range(_pages_needed(cursor, end, tf_ms, CANDLE_PAGE_ROWS)):
        window_end = min(end, cursor + (CANDLE_PAGE_ROWS - 1) * tf_ms)  # at most CANDLE_PAGE_ROWS opens
        page = ex.fetch_ohlcv(symbol, timeframe, since=cursor, limit=CANDLE_PAGE_ROWS,
                              params={"until": window_end})
        if not page:
            _raise_if_malformed(ex)
        fresh = 0
        for c in page:
            if c and c[0] is not None and cursor <= c[0] <= window_end:
                rows[int(c[0])] = [float("nan") if x is None else float(x) for x in c[:6]]
                fresh += 1
        if fresh == 0 and rows:
            break
        cursor += CANDLE_PAGE_ROWS * tf_ms
    return [rows[t] for t in sorted(rows)]


__all__ = ["CCXT_OPTIONS", "contracts", "funding_history", "funding_now", "ohlcv", "quotes"]
