"""Deribit family: the real ccxt ``deribit`` client against the simulated Deribit.

Golden values come from the simulated market's own functions; request counts from the transport's log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ccxt
import numpy as np
import pytest

from data_sources import errors
from data_sources.clients import client_options
from data_sources.simulated import Fault, FaultPlan, RequestLog, demo_client
from data_sources.simulated.deribit import (
    CHART_MAX_ROWS,
    FUNDING_HISTORY_MAX_ROWS,
    DeribitHandler,
    instrument_name,
)
from data_sources.simulated.market import DAY_MS, HOUR_MS, MINUTE_MS, SimInstrument, SimMarket
from data_sources.venues import VENUES
from data_sources.venues import deribit as fam
from data_sources.venues.deribit import _hourly_accrual
from tests.conftest import FROZEN_NOW_MS

SPEC = VENUES["deribit"]
PATH = "/api/v2/public/"
YEAR_MS = 365 * DAY_MS


@pytest.fixture(scope="module")
def market() -> SimMarket:
    """The normal-scenario market at the frozen clock, shared by this module (its series build once)."""
    return SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS)


def _client(market: SimMarket, faults: FaultPlan | None = None) -> tuple[Any, RequestLog]:
    log = RequestLog()
    return demo_client("deribit", market, faults=faults, log=log), log


@pytest.fixture
def loaded(market: SimMarket) -> tuple[Any, RequestLog]:
    """A client with markets loaded and an emptied request log."""
    ex, log = _client(market)
    ex.load_markets()
    log.clear()
    return ex, log


def _sim(market: SimMarket, base: str, kind: str, expiry_ms: int | None = None) -> SimInstrument:
    return market.find("deribit", base=base, quote="USD", kind=kind, expiry_ms=expiry_ms)


def _at(t_ms: int) -> np.ndarray:
    return np.asarray([t_ms], dtype=np.int64)


def _yymmdd(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%y%m%d")


# ---------------------------------------------------------------------------------------------------------
# Markets and contracts


def test_load_markets_is_two_requests_with_one_instruments_call(market: SimMarket) -> None:
    assert client_options(SPEC)["options"]["fetchMarkets"]["fetchAllMarkets"] is True
    ex, log = _client(market)
    ex.load_markets()
    assert log.by_path() == {("deribit", PATH + "get_currencies"): 1, ("deribit", PATH + "get_instruments"): 1}
    assert log.rows(path=PATH + "get_instruments")[0].query == {}  # all currencies in one answer
    ex.load_markets()
    assert log.count() == 2  # loaded once


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_contracts_match_the_listing(loaded: tuple[Any, RequestLog], market: SimMarket, base: str) -> None:
    ex, log = loaded
    got = fam.contracts(ex, SPEC, base)
    listed = [i for i in market.instruments("deribit") if i.base == base]
    expected = {
        (f"{base}/USD:{base}" + ("" if i.expiry_ms is None else f"-{_yymmdd(i.expiry_ms)}"), i.kind, i.expiry_ms,
         i.contract_size)
        for i in listed
    }
    assert {(c.symbol, c.kind, c.expiry_ms, c.contract_size) for c in got} == expected
    assert len(got) == len(listed) == 8  # perp + 3 weeklies, 1 monthly, 3 quarterlies
    assert got[0].kind == "perp" and got[0].symbol == f"{base}/USD:{base}"
    assert [c.expiry_ms for c in got[1:]] == sorted(i.expiry_ms for i in listed if i.kind == "future")
    assert all(not c.linear and c.quote == "USD" and c.settle == base and c.venue == "deribit" for c in got)
    assert got[0].contract_size == (10.0 if base == "BTC" else 1.0)
    assert log.count() == 0  # pure
    # the listing also has perp-vs-future combos, which ccxt types as futures: they must not leak in
    combos = [m for m in ex.markets.values() if m["info"]["kind"] == "future_combo" and m["base"] == base]
    assert combos and all(m["type"] == "future" for m in combos)


def test_instrument_names_follow_deribit(market: SimMarket, loaded: tuple[Any, RequestLog]) -> None:
    ex, _ = loaded
    perp = _sim(market, "BTC", "perp")
    dec4 = next(i for i in market.instruments("deribit") if i.base == "ETH" and i.expiry_ms == 1_796_371_200_000)
    assert instrument_name(perp) == "BTC-PERPETUAL"
    assert instrument_name(dec4) == "ETH-4DEC26"  # no leading zero on the day
    assert ex.market("ETH/USD:ETH-261204")["id"] == "ETH-4DEC26"
    assert ex.market("BTC/USD:BTC-261127")["id"] == "BTC-27NOV26"
    info = ex.market("BTC/USD:BTC")["info"]
    assert (info["settlement_period"], info["instrument_type"], info["price_index"]) == ("perpetual", "reversed",
                                                                                          "btc_usd")
    assert ex.market("BTC/USD:BTC-261225")["info"]["settlement_period"] == "month"  # quarterlies too
    assert ex.market("BTC/USD:BTC-261204")["info"]["settlement_period"] == "week"


def test_contracts_drop_a_future_once_it_expires(loaded: tuple[Any, RequestLog], frozen_now_ms: int) -> None:
    ex, _ = loaded
    first = fam.contracts(ex, SPEC, "BTC")[1]
    assert first.expiry_ms is not None and first.expiry_ms > frozen_now_ms
    ex.milliseconds = lambda: first.expiry_ms  # same loaded markets, clock at its expiry
    assert first.symbol not in {c.symbol for c in fam.contracts(ex, SPEC, "BTC")}
    assert fam.contracts(ex, SPEC, "XRP") == []


# ---------------------------------------------------------------------------------------------------------
# Quotes


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_quotes_match_market_in_two_requests(loaded: tuple[Any, RequestLog], market: SimMarket, base: str,
                                             frozen_now_ms: int) -> None:
    ex, log = loaded
    cons = fam.contracts(ex, SPEC, base)
    got = {q.symbol: q for q in fam.quotes(ex, SPEC, base, cons)}
    assert set(got) == {c.symbol for c in cons}
    now = _at(frozen_now_ms)
    for c in cons:
        inst = _sim(market, base, c.kind, c.expiry_ms)
        q = got[c.symbol]
        assert q.last == pytest.approx(float(market.price(inst, "last", now)[0]), rel=1e-12)
        assert q.mark == pytest.approx(float(market.price(inst, "mark", now)[0]), rel=1e-12)
        assert q.index == pytest.approx(float(market.price(inst, "index", now)[0]), rel=1e-12)
        assert q.ts_ms == frozen_now_ms
    assert log.count() == 2
    assert log.rows(path=PATH + "get_book_summary_by_currency")[0].query == {"currency": base, "kind": "future"}
    assert log.rows(path=PATH + "get_index_price")[0].query == {"index_name": f"{base.lower()}_usd"}


# ---------------------------------------------------------------------------------------------------------
# Funding now


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_funding_now_is_the_trailing_8h_accrual(loaded: tuple[Any, RequestLog], market: SimMarket, base: str,
                                                frozen_now_ms: int) -> None:
    ex, log = loaded
    perp = fam.contracts(ex, SPEC, base)[0]
    (got,) = fam.funding_now(ex, SPEC, [perp])
    inst = _sim(market, base, "perp")
    # now is hh:57; the 8h window starts at hh:57 eight hours ago: 3 minutes of the first settled hour,
    # 7 whole settled hours, and 57 minutes of the running hour at the running estimate
    into_hour = frozen_now_ms % HOUR_MS
    assert into_hour == 57 * MINUTE_MS
    rows = market.deribit_hourly(inst, frozen_now_ms - 8 * HOUR_MS, frozen_now_ms)
    r1 = rows["interest_1h"]
    assert len(r1) == 8
    expected = (r1[0] * (HOUR_MS - into_hour) / HOUR_MS + r1[1:].sum()
                + market.funding_estimate(inst) * into_hour / HOUR_MS)
    assert got.rate == pytest.approx(expected, rel=1e-12)
    assert (got.interval_hours, got.interval_inferred, got.next_funding_ms, got.predicted_rate) == (8.0, False,
                                                                                                   None, None)
    assert got.ts_ms == frozen_now_ms
    assert log.count() == 1
    q = log.rows(path=PATH + "get_funding_rate_value")[0].query
    assert (int(q["start_timestamp"]), int(q["end_timestamp"])) == (frozen_now_ms - 8 * HOUR_MS, frozen_now_ms)


def test_funding_value_over_settled_hours_is_their_interest_1h(loaded: tuple[Any, RequestLog],
                                                               market: SimMarket, frozen_now_ms: int) -> None:
    ex, _ = loaded
    inst = _sim(market, "BTC", "perp")
    last_hour = frozen_now_ms // HOUR_MS * HOUR_MS
    start = last_hour - 8 * HOUR_MS
    fr = ex.fetch_funding_rate("BTC/USD:BTC", params={"start_timestamp": start, "end_timestamp": last_hour})
    rows = market.deribit_hourly(inst, start + 1, last_hour)
    assert fr["fundingRate"] == pytest.approx(rows["interest_1h"].sum(), rel=1e-12)
    assert fr["fundingRate"] == pytest.approx(rows["interest_8h"][-1], rel=1e-12)
    assert fr["interval"] == "8h" and fr["nextFundingTimestamp"] is None  # ccxt's fixed answer


# ---------------------------------------------------------------------------------------------------------
# Funding history


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_funding_history_one_year_is_every_hour_once(loaded: tuple[Any, RequestLog], market: SimMarket,
                                                     base: str, frozen_now_ms: int) -> None:
    ex, log = loaded
    start, end = frozen_now_ms - YEAR_MS, frozen_now_ms
    got = fam.funding_history(ex, SPEC, f"{base}/USD:{base}", start, end)
    times, rates = market.funding_settlements(_sim(market, base, "perp"), start, end)
    assert len(got) == len(times) == 8760
    assert [p.ts_ms for p in got] == times.tolist()
    np.testing.assert_allclose([p.rate for p in got], rates, rtol=1e-12, atol=0)
    assert {p.interval_hours for p in got} == {1.0}
    assert all(b.ts_ms - a.ts_ms == HOUR_MS for a, b in zip(got, got[1:], strict=False))
    # 744-hour windows: ceil(8760 / 744) = 12 requests, none of them able to hit the server cap
    reqs = log.rows(path=PATH + "get_funding_rate_history")
    assert len(reqs) == log.count() == 12
    for r in reqs:
        hours = (int(r.query["end_timestamp"]) // HOUR_MS) - (int(r.query["start_timestamp"]) // HOUR_MS)
        assert hours <= FUNDING_HISTORY_MAX_ROWS


def test_funding_history_rows_are_hourly_accruals_not_8h_sums(loaded: tuple[Any, RequestLog],
                                                              market: SimMarket, frozen_now_ms: int) -> None:
    ex, _ = loaded
    inst = _sim(market, "BTC", "perp")
    day = frozen_now_ms // DAY_MS * DAY_MS - 2 * DAY_MS  # 00:00 UTC two days ago
    got = fam.funding_history(ex, SPEC, "BTC/USD:BTC", day + 1, day + DAY_MS)  # the hours (00:00, 24:00]
    assert len(got) == 24
    rows = market.deribit_hourly(inst, day + 1, day + DAY_MS)
    paid = sum(p.rate for p in got)
    assert paid == pytest.approx(rows["interest_1h"].sum(), rel=1e-12)
    r8 = dict(zip(rows["timestamp"].tolist(), rows["interest_8h"].tolist(), strict=True))
    assert paid == pytest.approx(r8[day + 8 * HOUR_MS] + r8[day + 16 * HOUR_MS] + r8[day + DAY_MS], rel=1e-12)
    # what ccxt's own fundingRate (interest_8h) would give if summed: every hour counted eight times
    ccxt_rows = ex.fetch_funding_rate_history("BTC/USD:BTC", since=day + 1, limit=24, params={"until": day + DAY_MS})
    assert sum(r["fundingRate"] for r in ccxt_rows) == pytest.approx(
        sum(rows["interest_8h"]), rel=1e-12)
    assert abs(sum(r["fundingRate"] for r in ccxt_rows)) > 4 * abs(paid)


def test_hourly_accrual_falls_back_to_interest_8h_over_8() -> None:
    assert _hourly_accrual({"interest_1h": 2e-6, "interest_8h": 8e-5}) == 2e-6
    assert _hourly_accrual({"interest_8h": 8e-5}) == pytest.approx(1e-5)
    assert _hourly_accrual({}) is None


def test_funding_history_window_edges_and_future_end(loaded: tuple[Any, RequestLog], market: SimMarket,
                                                     frozen_now_ms: int) -> None:
    ex, log = loaded
    start = frozen_now_ms - 3 * DAY_MS + 17 * MINUTE_MS  # not on the hour
    got = fam.funding_history(ex, SPEC, "ETH/USD:ETH", start, frozen_now_ms + 30 * DAY_MS)
    times, _ = market.funding_settlements(_sim(market, "ETH", "perp"), start, frozen_now_ms)
    assert [p.ts_ms for p in got] == times.tolist()
    assert got[0].ts_ms >= start and got[-1].ts_ms <= frozen_now_ms
    assert log.count() == 1  # the end is capped at now, so no requests into the future


def test_funding_history_stops_at_an_empty_page_after_rows(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = _client(market)
    ex.load_markets()
    adapter = ex.session.get_adapter("https://www.deribit.com/")
    cutoff = frozen_now_ms - 100 * DAY_MS
    real: Callable[..., Any] = adapter.handler._funding_rate_history

    def stops(req: Any) -> Any:  # a perp whose history ends at cutoff (as if delisted then)
        return [row for row in real(req) if row["timestamp"] <= cutoff]

    adapter.handler._funding_rate_history = stops
    adapter.handler._routes["get_funding_rate_history"] = stops
    log.clear()
    got = fam.funding_history(ex, SPEC, "BTC/USD:BTC", frozen_now_ms - YEAR_MS, frozen_now_ms)
    first = -(-(frozen_now_ms - YEAR_MS) // HOUR_MS) * HOUR_MS
    assert got[0].ts_ms == first and got[-1].ts_ms == cutoff // HOUR_MS * HOUR_MS
    assert len(got) == (got[-1].ts_ms - first) // HOUR_MS + 1
    pages_with_rows = (cutoff - first) // (744 * HOUR_MS) + 1
    assert log.count() == pages_with_rows + 1 < 12  # one empty page, then stop


def test_funding_history_rejects_futures_and_unknown_symbols(loaded: tuple[Any, RequestLog]) -> None:
    ex, log = loaded
    with pytest.raises(ccxt.BadRequest):
        fam.funding_history(ex, SPEC, "BTC/USD:BTC-261225", 0, 1)
    with pytest.raises(ccxt.BadSymbol):
        fam.funding_history(ex, SPEC, "DOGE/USD:DOGE", 0, 1)
    with pytest.raises(ccxt.BadRequest):  # more pages than MAX_PAGES
        fam.funding_history(ex, SPEC, "BTC/USD:BTC", 0, 10**13)
    assert log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# OHLCV


@pytest.mark.parametrize(("symbol", "timeframe", "days"), [("BTC/USD:BTC", "1m", 4), ("ETH/USD:ETH", "5m", 20)])
def test_ohlcv_pages_match_market_candles(loaded: tuple[Any, RequestLog], market: SimMarket, symbol: str,
                                          timeframe: str, days: int, frozen_now_ms: int) -> None:
    ex, log = loaded
    tf = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS}[timeframe]
    start = frozen_now_ms - days * DAY_MS
    got = np.asarray(fam.ohlcv(ex, SPEC, symbol, timeframe, "last", start, frozen_now_ms))
    base = symbol[:3]
    inst = _sim(market, base, "perp")
    want = market.candles(inst, "last", tf, start, frozen_now_ms)
    assert len(want) > CHART_MAX_ROWS and got.shape == want.shape
    np.testing.assert_array_equal(got[:, 0], want[:, 0])
    np.testing.assert_allclose(got[:, 1:5], want[:, 1:5], rtol=1e-12, atol=0)
    # Deribit's volume is coins: USD notional (contracts x contract size) over the close
    np.testing.assert_allclose(got[:, 5], want[:, 5] * inst.contract_size / want[:, 4], rtol=1e-9)
    assert got[-1, 0] <= frozen_now_ms < got[-1, 0] + tf  # the forming candle is there
    reqs = log.rows(path=PATH + "get_tradingview_chart_data")
    assert len(reqs) == log.count() == -(-len(want) // 5000)
    for r in reqs:
        assert r.query["resolution"] == str(tf // MINUTE_MS)
        span = int(r.query["end_timestamp"]) - int(r.query["start_timestamp"])
        assert span // tf + 1 <= CHART_MAX_ROWS


def test_the_chart_endpoint_silently_keeps_only_the_newest_candles(loaded: tuple[Any, RequestLog],
                                                                    frozen_now_ms: int) -> None:
    """Why ``ohlcv`` pages: one wide request loses its oldest candles without any error."""
    ex, _ = loaded
    start = frozen_now_ms - 6000 * MINUTE_MS
    rows = ex.fetch_ohlcv("BTC/USD:BTC", "1m", since=start, limit=6001, params={"until": frozen_now_ms})
    assert len(rows) == CHART_MAX_ROWS
    assert rows[-1][0] == frozen_now_ms // MINUTE_MS * MINUTE_MS and rows[0][0] > start


def test_ohlcv_same_candle_from_two_windows(loaded: tuple[Any, RequestLog], frozen_now_ms: int) -> None:
    ex, _ = loaded
    a = fam.ohlcv(ex, SPEC, "BTC/USD:BTC-261225", "1h", "last", frozen_now_ms - 30 * DAY_MS, frozen_now_ms)
    b = fam.ohlcv(ex, SPEC, "BTC/USD:BTC-261225", "1h", "last", frozen_now_ms - 3 * DAY_MS - 5 * MINUTE_MS,
                  frozen_now_ms - 2 * DAY_MS)
    by_ts = {row[0]: row for row in a}
    assert len(b) == 24 and all(by_ts[row[0]] == row for row in b)


def test_ohlcv_of_a_young_future_skips_the_empty_windows_before_listing(
        loaded: tuple[Any, RequestLog], market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = loaded
    inst = _sim(market, "BTC", "future", 1_795_766_400_000)  # BTC-27NOV26, listed 2026-09-26
    start = frozen_now_ms - 180 * DAY_MS
    got = fam.ohlcv(ex, SPEC, "BTC/USD:BTC-261127", "15m", "last", start, frozen_now_ms)
    want = market.candles(inst, "last", 15 * MINUTE_MS, start, frozen_now_ms)
    assert got[0][0] == inst.listed_ms and len(got) == len(want)
    np.testing.assert_allclose(np.asarray(got)[:, :5], want[:, :5], rtol=1e-12)
    assert log.count() == -(-(frozen_now_ms - start) // (5000 * 15 * MINUTE_MS))  # incl. empty early pages


@pytest.mark.parametrize("price", ["mark", "index", "premium_index"])
def test_ohlcv_other_prices_are_not_supported(loaded: tuple[Any, RequestLog], price: str) -> None:
    ex, log = loaded
    with pytest.raises(ccxt.NotSupported, match=price) as info:
        fam.ohlcv(ex, SPEC, "BTC/USD:BTC", "1h", price, 0, 1)  # type: ignore[arg-type]
    assert isinstance(errors.translate(info.value, venue="deribit"), errors.UnsupportedError)
    with pytest.raises(ccxt.NotSupported, match="4h"):
        fam.ohlcv(ex, SPEC, "BTC/USD:BTC", "4h", "last", 0, 1)
    assert log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# Errors and faults


def test_unknown_symbols_and_methods(loaded: tuple[Any, RequestLog]) -> None:
    ex, log = loaded
    with pytest.raises(ccxt.BadSymbol):
        fam.ohlcv(ex, SPEC, "BTC/USD:BTC-240105", "1h", "last", 0, 1)  # expired: not in the markets
    assert log.count() == 0
    with pytest.raises(ccxt.BadRequest, match="instrument not found") as info:
        ex.publicGetTicker({"instrument_name": "BTC-31FEB27"})
    assert isinstance(errors.translate(info.value), errors.InvalidQueryError)
    with pytest.raises(ccxt.BadRequest, match="Method not found"):
        ex.request("get_nothing", ["public"], "GET", {})
    with pytest.raises(ccxt.BadRequest, match="invalid currency"):
        ex.fetch_tickers(params={"code": "BTC", "currency": "any"})


def test_expired_future_candles_are_still_served(loaded: tuple[Any, RequestLog], market: SimMarket,
                                                 frozen_now_ms: int) -> None:
    ex, _ = loaded
    expiry = 1_795_161_600_000  # Fri 2026-11-20 08:00 UTC, a weekly that expired this week
    inst = _sim(market, "BTC", "future", expiry)
    res = ex.publicGetGetTradingviewChartData({"instrument_name": "BTC-20NOV26", "resolution": "60",
                                               "start_timestamp": expiry - DAY_MS, "end_timestamp": frozen_now_ms})
    ticks = res["result"]["ticks"]
    assert ticks[-1] == expiry - HOUR_MS and len(ticks) == 24
    assert res["result"]["close"] == market.candles(inst, "last", HOUR_MS, expiry - DAY_MS, expiry)[:, 4].tolist()


FAULTS: list[tuple[str, type[Exception], type[errors.DataSourceError]]] = [
    ("rate_limit", ccxt.DDoSProtection, errors.RateLimitedError),  # 10028 too_many_requests
    ("ban", ccxt.RateLimitExceeded, errors.RateLimitedError),  # Cloudflare 1015 page, HTTP 429
    ("server_error", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # 10040 retry, HTTP 503
    ("timeout", ccxt.RequestTimeout, errors.TemporaryError),
    ("down", ccxt.NetworkError, errors.TemporaryError),
    ("malformed", ccxt.BadResponse, errors.BadResponseError),  # ccxt itself would read it as "no rows"
]
CALLS: dict[str, Callable[[Any, int], object]] = {
    "quotes": lambda ex, now: fam.quotes(ex, SPEC, "BTC", fam.contracts(ex, SPEC, "BTC")),
    "funding_now": lambda ex, now: fam.funding_now(ex, SPEC, fam.contracts(ex, SPEC, "ETH")[:1]),
    "funding_history": lambda ex, now: fam.funding_history(ex, SPEC, "BTC/USD:BTC", now - 60 * DAY_MS, now),
    "ohlcv": lambda ex, now: fam.ohlcv(ex, SPEC, "ETH/USD:ETH", "1h", "last", now - DAY_MS, now),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(("kind", "ccxt_error", "ours"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_map_to_ccxt_and_project_errors(market: SimMarket, frozen_now_ms: int, kind: str,
                                               ccxt_error: type[Exception], ours: type[errors.DataSourceError],
                                               call: str) -> None:
    plan = FaultPlan()
    ex, _ = _client(market, plan)
    ex.load_markets()
    plan.add(Fault(kind, venue="deribit"))  # type: ignore[arg-type]
    with pytest.raises(ccxt_error) as info:
        CALLS[call](ex, frozen_now_ms)
    translated = errors.translate(info.value, venue="deribit")
    assert type(translated) is ours and translated.venue == "deribit"


@pytest.mark.parametrize("kind", ["rate_limit", "ban", "server_error", "malformed", "timeout"])
def test_load_markets_faults(market: SimMarket, kind: str) -> None:
    ex, _ = _client(market, FaultPlan([Fault(kind, venue="deribit", path="*get_instruments")]))  # type: ignore[arg-type]
    if kind == "malformed":  # ccxt alone reads it as an empty listing; our strict JSON hook refuses it
        with pytest.raises(ccxt.BadResponse, match="not JSON"):
            ex.load_markets()
        return
    with pytest.raises(ccxt.NetworkError):
        ex.load_markets()


def test_empty_answers_are_empty_results(market: SimMarket, frozen_now_ms: int) -> None:
    plan = FaultPlan()
    ex, log = _client(market, plan)
    ex.load_markets()
    plan.add(Fault("empty", venue="deribit"))
    log.clear()
    assert fam.quotes(ex, SPEC, "BTC", fam.contracts(ex, SPEC, "BTC")) == []
    assert fam.funding_now(ex, SPEC, fam.contracts(ex, SPEC, "BTC")[:1])[0].rate is None
    assert fam.funding_history(ex, SPEC, "BTC/USD:BTC", frozen_now_ms - YEAR_MS, frozen_now_ms) == []
    assert fam.ohlcv(ex, SPEC, "BTC/USD:BTC", "1m", "last", frozen_now_ms - 4 * DAY_MS, frozen_now_ms) == []
    # bounded walks: every window asked once, nothing more
    assert log.count(path=PATH + "get_funding_rate_history") == 12
    assert log.count(path=PATH + "get_tradingview_chart_data") == 2


def test_handler_error_bodies_are_deribit_json_rpc(market: SimMarket) -> None:
    from data_sources.simulated.transport import SimRequest

    h = DeribitHandler("deribit", market)
    req = SimRequest("deribit", "GET", PATH + "ticker", {})
    missing = h.handle(req)
    assert missing.status == 400
    assert missing.body["error"] == {"message": "Invalid params", "code": -32602,
                                     "data": {"reason": "value is required", "param": "instrument_name"}}
    limited = h.error("rate_limit", req)
    assert limited.status == 429 and limited.body["error"]["code"] == 10028
    assert h.error("server_error", req).status == 503
    assert "1015" in h.error("ban", req).text()


# ---------------------------------------------------------------------------------------------------------
# Another scenario


def test_crash_scenario_backwardation_and_negative_funding(market_factory: Callable[..., SimMarket],
                                                           frozen_now_ms: int) -> None:
    market = market_factory("crash")
    ex, _ = _client(market)
    ex.load_markets()
    cons = fam.contracts(ex, SPEC, "BTC")
    quotes = {q.symbol: q for q in fam.quotes(ex, SPEC, "BTC", cons)}
    now = _at(frozen_now_ms)
    far = cons[-1]
    inst = _sim(market, "BTC", "future", far.expiry_ms)
    assert quotes[far.symbol].mark == pytest.approx(float(market.price(inst, "mark", now)[0]), rel=1e-12)
    assert quotes[far.symbol].mark < quotes[far.symbol].index  # backwardation
    perp = quotes["BTC/USD:BTC"]
    assert perp.mark is not None and perp.index is not None and perp.mark < perp.index  # perp at a discount
    (fn,) = fam.funding_now(ex, SPEC, cons[:1])
    assert fn.rate is not None and fn.rate < 0
    hist = fam.funding_history(ex, SPEC, "BTC/USD:BTC", frozen_now_ms - DAY_MS, frozen_now_ms)
    times, rates = market.funding_settlements(_sim(market, "BTC", "perp"), frozen_now_ms - DAY_MS, frozen_now_ms)
    assert [p.ts_ms for p in hist] == times.tolist() and len(hist) == 24
    np.testing.assert_allclose([p.rate for p in hist], rates, rtol=1e-12)
    assert all(p.rate < 0 for p in hist[-6:])
