"""Bybit end to end: the real ccxt ``bybit`` client against the simulated Bybit v5 API.

Golden values come from the simulated market itself (``market.price``, ``market.candles``,
``market.funding_settlements``, ...); request counts come from the transport's ``RequestLog``.
"""

from __future__ import annotations

import math
from typing import Any

import ccxt
import numpy as np
import pytest

from data_sources import errors
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimMarket, demo_client
from data_sources.simulated.bybit import instrument_id
from data_sources.simulated.market import DAY_MS, HOUR_MS, MINUTE_MS, SimInstrument
from data_sources.venues import VENUES
from data_sources.venues import bybit as fam
from data_sources.venues.base import Contract

SPEC = VENUES["bybit"]
REL = 1e-9
PERPS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BTC/USD:BTC", "ETH/USD:ETH")


def client(market: SimMarket, faults: FaultPlan | None = None) -> tuple[Any, RequestLog]:
    """A demo ccxt bybit client with markets loaded, and its request log (cleared after loading)."""
    log = RequestLog()
    ex = demo_client("bybit", market, faults=faults, log=log)
    ex.load_markets()
    log.clear()
    return ex, log


def sim_inst(market: SimMarket, ex: Any, symbol: str) -> SimInstrument:
    """The simulated instrument behind a ccxt symbol (matched on Bybit's id)."""
    market_id = ex.market(symbol)["id"]
    return next(i for i in market.instruments("bybit") if i.kind != "spot" and instrument_id(i) == market_id)


def at(market: SimMarket, inst: SimInstrument, field: str, t_ms: int) -> float:
    return float(market.price(inst, field, np.asarray([t_ms], dtype=np.int64))[0])


# ---------------------------------------------------------------------------------------------------------
# markets and contracts


def test_load_markets_makes_four_requests(market: SimMarket) -> None:
    log = RequestLog()
    ex = demo_client("bybit", market, log=log)
    ex.load_markets()
    rows = log.rows("bybit")
    assert [r.path for r in rows] == ["/v5/market/instruments-info"] * 4
    # ccxt asks each category twice: the listing and the pre-market (PreLaunch) listing.
    assert sorted((r.query["category"], r.query.get("status", "")) for r in rows) == [
        ("inverse", ""), ("inverse", "PreLaunch"), ("linear", ""), ("linear", "PreLaunch")
    ]
    assert all(r.query["limit"] == "1000" for r in rows)
    assert ex.options["fetchMarkets"]["types"] == ["linear", "inverse"]


@pytest.mark.parametrize("base", ["BTC", "ETH", "SOL"])
def test_contracts_match_the_listing(market: SimMarket, base: str) -> None:
    ex, log = client(market)
    got = fam.contracts(ex, SPEC, base)
    assert log.count() == 0  # pure: reads ex.markets only
    listed = [i for i in market.instruments("bybit") if i.base == base and i.kind != "spot"]
    assert len(got) == len(listed) > 0

    def key(c: Contract | SimInstrument) -> tuple[str, str, bool, int | None]:
        return (c.kind, c.quote, c.linear, c.expiry_ms)

    by_key = {key(i): i for i in listed}
    for c in got:
        inst = by_key[key(c)]
        assert c.venue == "bybit" and c.base == base and c.settle == inst.settle
        assert c.contract_size == inst.contract_size
        assert ex.market(c.symbol)["id"] == instrument_id(inst)
        if c.kind == "perp":
            assert c.symbol == f"{base}/{inst.quote}:{inst.settle}"
        else:
            assert inst.expiry_ms is not None
            assert c.symbol == f"{base}/{inst.quote}:{inst.settle}-{ex.yymmdd(inst.expiry_ms)}"
    # perps first, then futures by expiry
    assert [c.kind for c in got] == sorted((c.kind for c in got), key=lambda k: k != "perp")
    expiries = [c.expiry_ms for c in got if c.expiry_ms is not None]
    assert expiries == sorted(expiries)


def test_bybit_ids_and_inverse_contract_size(market: SimMarket) -> None:
    ex, _ = client(market)
    ids = {m["id"] for m in ex.markets.values()}
    # 2026-11-25: USDC weeklies 27 Nov / 4 Dec, quarterlies Dec 26 / Mar 27.
    assert {"BTCUSDT", "SOLUSDT", "BTCUSD", "BTCUSDZ26", "BTCUSDH27", "BTC-27NOV26", "BTC-4DEC26",
            "BTC-25DEC26", "BTC-26MAR27"} <= ids
    inv = ex.market("BTC/USD:BTC-261225")
    assert inv["inverse"] and inv["type"] == "future" and inv["info"]["contractType"] == "InverseFutures"
    # ccxt takes minOrderQty as the inverse contract size; the simulated listing keeps it at 1 (USD).
    assert inv["contractSize"] == 1.0
    usdc = ex.market("BTC/USDC:USDC-261127")
    assert usdc["linear"] and usdc["settle"] == "USDC" and usdc["info"]["contractType"] == "LinearFutures"
    assert ex.market("SOL/USDT:USDT")["info"]["fundingInterval"] == 60
    assert ex.market("BTC/USDT:USDT")["info"]["fundingInterval"] == 480


def test_contracts_drop_expired_futures(market: SimMarket) -> None:
    ex, _ = client(market)
    weekly = ex.market("BTC/USDC:USDC-261127")["expiry"]
    ex.milliseconds = lambda: weekly  # the loaded listing is now stale by one expiry
    symbols = [c.symbol for c in fam.contracts(ex, SPEC, "BTC")]
    assert "BTC/USDC:USDC-261127" not in symbols
    assert "BTC/USDC:USDC-261204" in symbols


def test_instruments_info_cursor_pages(market: SimMarket) -> None:
    ex, log = client(market)
    ids: list[str] = []
    cursor = None
    while True:
        req = {"category": "linear", "limit": 3} | ({"cursor": cursor} if cursor else {})
        res = ex.publicGetV5MarketInstrumentsInfo(req)["result"]
        assert len(res["list"]) <= 3
        ids += [r["symbol"] for r in res["list"]]
        cursor = res["nextPageCursor"]
        if not cursor:
            break
    linear = [m["id"] for m in ex.markets.values() if m["linear"]]
    assert sorted(ids) == sorted(linear) and len(ids) == len(set(ids))
    assert log.count() == math.ceil(len(linear) / 3)


# ---------------------------------------------------------------------------------------------------------
# quotes and funding now


def test_quotes_match_the_market_with_one_call_per_category(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    cs = fam.contracts(ex, SPEC, "BTC")
    got = fam.quotes(ex, SPEC, "BTC", cs)
    assert sorted(log.rows()[i].query["category"] for i in range(log.count())) == ["inverse", "linear"]
    assert [q.symbol for q in got] == [c.symbol for c in cs]
    for q in got:
        inst = sim_inst(market, ex, q.symbol)
        assert q.last == pytest.approx(at(market, inst, "last", frozen_now_ms), rel=REL)
        assert q.mark == pytest.approx(at(market, inst, "mark", frozen_now_ms), rel=REL)
        assert q.index == pytest.approx(at(market, inst, "index", frozen_now_ms), rel=REL)
        assert q.ts_ms is None  # Bybit ticker rows carry no time


def test_quotes_for_a_linear_only_base_make_one_call(market: SimMarket) -> None:
    ex, log = client(market)
    got = fam.quotes(ex, SPEC, "SOL", fam.contracts(ex, SPEC, "SOL"))
    assert [q.symbol for q in got] == ["SOL/USDT:USDT"]
    assert log.count() == 1 and log.rows()[0].query == {"category": "linear"}


def test_funding_now_matches_the_market(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    perps = [c for b in ("BTC", "ETH", "SOL") for c in fam.contracts(ex, SPEC, b) if c.kind == "perp"]
    assert sorted(c.symbol for c in perps) == sorted(PERPS)
    got = {f.symbol: f for f in fam.funding_now(ex, SPEC, perps)}
    assert log.count() == 2  # one tickers call per category
    assert set(got) == set(PERPS)
    for symbol, f in got.items():
        inst = sim_inst(market, ex, symbol)
        assert f.rate == pytest.approx(market.funding_estimate(inst), rel=REL)
        assert f.next_funding_ms == market.next_funding_ms(inst)
        assert f.interval_hours == inst.funding_hours and not f.interval_inferred
        assert f.predicted_rate is None
        assert f.ts_ms == frozen_now_ms
    assert got["SOL/USDT:USDT"].interval_hours == 1.0
    assert got["SOL/USDT:USDT"].next_funding_ms == frozen_now_ms - 57 * MINUTE_MS + HOUR_MS


def test_crash_scenario_funding_and_backwardation(market_factory: Any, frozen_now_ms: int) -> None:
    crash: SimMarket = market_factory("crash")
    ex, _ = client(crash)
    cs = fam.contracts(ex, SPEC, "BTC")
    funding = fam.funding_now(ex, SPEC, [c for c in cs if c.kind == "perp"])
    assert funding and all(f.rate is not None and f.rate < 0 for f in funding)
    for f in funding:
        assert f.rate == pytest.approx(crash.funding_estimate(sim_inst(crash, ex, f.symbol)), rel=REL)
    quotes = {q.symbol: q for q in fam.quotes(ex, SPEC, "BTC", cs)}
    for c in cs:
        q = quotes[c.symbol]
        assert q.mark == pytest.approx(at(crash, sim_inst(crash, ex, c.symbol), "mark", frozen_now_ms), rel=REL)
        if c.kind == "future" and c.expiry_ms is not None and c.expiry_ms - frozen_now_ms > 30 * DAY_MS:
            assert q.mark is not None and q.index is not None and q.mark < q.index  # backwardation


# ---------------------------------------------------------------------------------------------------------
# funding history


@pytest.mark.parametrize("symbol", PERPS)
def test_funding_history_one_year_is_complete(market: SimMarket, frozen_now_ms: int, symbol: str) -> None:
    ex, log = client(market)
    start = frozen_now_ms - 365 * DAY_MS
    got = fam.funding_history(ex, SPEC, symbol, start, frozen_now_ms)
    inst = sim_inst(market, ex, symbol)
    assert inst.funding_hours is not None
    times, rates = market.funding_settlements(inst, start, frozen_now_ms)
    assert len(got) == len(times) == 365 * 24 // inst.funding_hours
    assert [p.ts_ms for p in got] == times.tolist()  # ascending, no gaps, no duplicates
    assert np.allclose([p.rate for p in got], rates, rtol=REL, atol=0)
    assert {p.interval_hours for p in got} == {float(inst.funding_hours)}
    # windows of 199 intervals: 6 requests for 8h symbols, 45 for SOL's 1h
    window = (fam.FUNDING_PAGE_LIMIT - 1) * inst.funding_hours * HOUR_MS
    assert log.count("bybit", "/v5/market/funding/history") == math.ceil((frozen_now_ms - start + 1) / window)
    assert log.count() == {8: 6, 1: 45}[inst.funding_hours]


def test_funding_history_always_sends_an_explicit_window(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    fam.funding_history(ex, SPEC, "SOL/USDT:USDT", frozen_now_ms - 30 * DAY_MS, frozen_now_ms)
    for r in log.rows():
        q = r.query
        assert q["limit"] == "200" and q["category"] == "linear" and q["symbol"] == "SOLUSDT"
        assert 0 <= int(q["endTime"]) - int(q["startTime"]) < 199 * HOUR_MS
    starts = [int(r.query["startTime"]) for r in log.rows()]
    ends = [int(r.query["endTime"]) for r in log.rows()]
    assert starts[1:] == [e + 1 for e in ends[:-1]]  # contiguous, non-overlapping windows
    assert ends[-1] == frozen_now_ms


def test_ccxt_default_window_depends_on_limit(market: SimMarket, frozen_now_ms: int) -> None:
    """Without ``until`` ccxt sends endTime = since + limit * interval: a small limit shrinks the window."""
    ex, log = client(market)
    since = frozen_now_ms - 10 * DAY_MS
    rows = ex.fetch_funding_rate_history("BTC/USDT:USDT", since, 5)
    assert int(log.rows()[-1].query["endTime"]) == since + 5 * 8 * HOUR_MS
    assert len(rows) == 5


def test_funding_history_inclusive_edges_and_future_end(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    day = (frozen_now_ms // DAY_MS) * DAY_MS  # 2026-11-25 00:00, a settlement on every grid
    got = fam.funding_history(ex, SPEC, "BTC/USDT:USDT", day - 8 * HOUR_MS, day + 8 * HOUR_MS)
    assert [p.ts_ms for p in got] == [day - 8 * HOUR_MS, day, day + 8 * HOUR_MS]
    log.clear()
    got = fam.funding_history(ex, SPEC, "BTC/USDT:USDT", day, frozen_now_ms + 30 * DAY_MS)
    assert [p.ts_ms for p in got] == [day, day + 8 * HOUR_MS]  # nothing settles after now
    assert log.count() == 1 and int(log.rows()[0].query["endTime"]) == frozen_now_ms


def test_funding_history_walks_past_empty_windows_before_listing(market: SimMarket) -> None:
    ex, log = client(market)
    inst = sim_inst(market, ex, "BTC/USD:BTC")
    start = inst.listed_ms - 200 * DAY_MS  # three whole 199x8h windows before the listing
    end = inst.listed_ms + 10 * DAY_MS
    got = fam.funding_history(ex, SPEC, "BTC/USD:BTC", start, end)
    times, _ = market.funding_settlements(inst, start, end)
    assert [p.ts_ms for p in got] == times.tolist() and len(got) == 30  # listing+8h .. listing+240h
    assert log.count() == math.ceil((end - start + 1) / (199 * 8 * HOUR_MS))


def test_funding_history_recovers_when_the_listing_interval_is_wrong(market: SimMarket, frozen_now_ms: int) -> None:
    """If a symbol's interval was shorter in the past, full pages shrink the window until none is full."""
    ex, log = client(market)
    ex.market("SOL/USDT:USDT")["info"]["fundingInterval"] = 480  # pretend 8h; it settles hourly
    start = frozen_now_ms - 60 * DAY_MS
    got = fam.funding_history(ex, SPEC, "SOL/USDT:USDT", start, frozen_now_ms)
    times, _ = market.funding_settlements(sim_inst(market, ex, "SOL/USDT:USDT"), start, frozen_now_ms)
    assert [p.ts_ms for p in got] == times.tolist() and len(got) == 60 * 24
    assert log.count() < 60  # bounded: halving stops once windows fit a page


def test_funding_history_server_caps_and_rejects(market: SimMarket, frozen_now_ms: int) -> None:
    ex, _ = client(market)
    res = ex.publicGetV5MarketFundingHistory({"category": "linear", "symbol": "SOLUSDT", "limit": 1000})
    rows = res["result"]["list"]
    assert len(rows) == 200  # server-side cap
    ts = [int(r["fundingRateTimestamp"]) for r in rows]
    assert ts == sorted(ts, reverse=True) and ts[0] == frozen_now_ms - 57 * MINUTE_MS  # newest first
    with pytest.raises(ccxt.BadRequest, match="Time is invalid"):  # startTime alone is rejected
        ex.publicGetV5MarketFundingHistory({"category": "linear", "symbol": "SOLUSDT", "startTime": ts[-1]})


# ---------------------------------------------------------------------------------------------------------
# candles


@pytest.mark.parametrize("price", ["last", "mark", "index", "premium_index"])
def test_ohlcv_over_two_pages_equals_the_market(market: SimMarket, frozen_now_ms: int, price: str) -> None:
    ex, log = client(market)
    start = frozen_now_ms - 60 * DAY_MS  # 1440 hourly candles: two pages of at most 1000
    got = np.asarray(fam.ohlcv(ex, SPEC, "BTC/USDT:USDT", "1h", price, start, frozen_now_ms))  # type: ignore[arg-type]
    inst = sim_inst(market, ex, "BTC/USDT:USDT")
    want = market.candles(inst, price, HOUR_MS, start, frozen_now_ms)
    assert got.shape == want.shape == (1440, 6)
    assert np.array_equal(got[:, 0], want[:, 0])
    assert np.allclose(got[:, 1:5], want[:, 1:5], rtol=REL, atol=0)
    if price == "last":
        assert np.allclose(got[:, 5], want[:, 5], rtol=REL, atol=0)
    else:
        assert np.isnan(got[:, 5]).all()  # price klines carry no volume
    assert log.count() == 2
    path = {"last": "kline", "mark": "mark-price-kline", "index": "index-price-kline",
            "premium_index": "premium-index-price-kline"}[price]
    assert {r.path for r in log.rows()} == {f"/v5/market/{path}"}


def test_ohlcv_inverse_future_and_coin_volume(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    symbol = "BTC/USD:BTC-261225"
    start = frozen_now_ms - 3 * DAY_MS
    inst = sim_inst(market, ex, symbol)
    mark = np.asarray(fam.ohlcv(ex, SPEC, symbol, "5m", "mark", start, frozen_now_ms))
    want = market.candles(inst, "mark", 5 * MINUTE_MS, start, frozen_now_ms)
    assert mark.shape == want.shape == (864, 6) and log.count() == 1
    assert np.allclose(mark[:, :5], want[:, :5], rtol=REL, atol=0)
    last = np.asarray(fam.ohlcv(ex, SPEC, symbol, "5m", "last", start, frozen_now_ms))
    lw = market.candles(inst, "last", 5 * MINUTE_MS, start, frozen_now_ms)
    assert np.allclose(last[:, 1:5], lw[:, 1:5], rtol=REL, atol=0)
    # ccxt reads inverse volume from Bybit's turnover column: coin units, contracts (USD) / price.
    coin = lw[:, 5] * inst.contract_size / lw[:, 1:5].mean(axis=1)
    assert np.allclose(last[:, 5], coin, rtol=REL, atol=0)


def test_ohlcv_minute_candles_over_three_pages(market: SimMarket, frozen_now_ms: int) -> None:
    ex, log = client(market)
    start = frozen_now_ms - 2 * DAY_MS
    got = fam.ohlcv(ex, SPEC, "SOL/USDT:USDT", "1m", "index", start, frozen_now_ms)
    assert len(got) == 2 * 24 * 60 + 1 and log.count() == 3
    ts = [r[0] for r in got]
    assert ts == sorted(set(ts)) and ts[0] == start and ts[-1] == frozen_now_ms


def test_the_same_candle_from_two_windows_is_identical(market: SimMarket, frozen_now_ms: int) -> None:
    ex, _ = client(market)
    t = (frozen_now_ms // DAY_MS - 4) * DAY_MS
    a = fam.ohlcv(ex, SPEC, "ETH/USD:ETH", "15m", "last", t - 20 * DAY_MS, t + HOUR_MS)
    b = fam.ohlcv(ex, SPEC, "ETH/USD:ETH", "15m", "last", t - 30 * MINUTE_MS, t + 2 * DAY_MS)
    ca = next(r for r in a if r[0] == t)
    cb = next(r for r in b if r[0] == t)
    assert ca == cb


@pytest.mark.parametrize("symbol", ["BTC/USD:BTC", "BTC/USDC:USDC-261225", "BTC/USD:BTC-270326"])
def test_premium_index_candles_only_for_linear_perps(market: SimMarket, frozen_now_ms: int, symbol: str) -> None:
    ex, log = client(market)
    with pytest.raises(ccxt.NotSupported, match="linear perpetuals") as info:
        fam.ohlcv(ex, SPEC, symbol, "1h", "premium_index", frozen_now_ms - DAY_MS, frozen_now_ms)
    assert isinstance(errors.translate(info.value, venue="bybit"), errors.UnsupportedError)
    assert log.count() == 0
    # The exchange itself refuses too (ccxt's broad match on "Not supported symbols" -> BadSymbol).
    with pytest.raises(ccxt.BadSymbol):
        ex.fetch_ohlcv(symbol, "1h", None, 10, {"price": "premiumIndex"})


def test_kline_server_semantics(market: SimMarket, frozen_now_ms: int) -> None:
    ex, _ = client(market)
    rows = ex.publicGetV5MarketMarkPriceKline(
        {"category": "linear", "symbol": "BTCUSDT", "interval": "1", "limit": 5000}
    )["result"]["list"]
    assert len(rows) == 1000 and len(rows[0]) == 5  # capped; price klines stop after close
    ts = [int(r[0]) for r in rows]
    assert ts == sorted(ts, reverse=True) and ts[0] == frozen_now_ms  # newest first, ends at now
    # `start` inside a candle returns that candle first (the oldest of the page)
    mid = frozen_now_ms - 10 * HOUR_MS + 17 * MINUTE_MS
    page = ex.publicGetV5MarketKline(
        {"category": "linear", "symbol": "BTCUSDT", "interval": "60", "start": mid, "limit": 3}
    )["result"]["list"]
    assert [int(r[0]) for r in page][::-1] == [(mid // HOUR_MS + k) * HOUR_MS for k in range(3)]
    assert len(page[0]) == 7


# ---------------------------------------------------------------------------------------------------------
# errors


FAULTS = [
    ("rate_limit", ccxt.RateLimitExceeded, errors.RateLimitedError),  # HTTP 200, retCode 10006
    ("ban", ccxt.RateLimitExceeded, errors.RateLimitedError),  # bare HTTP 403 (httpExceptions)
    ("server_error", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # gateway 503 page
    ("timeout", ccxt.RequestTimeout, errors.TemporaryError),
    ("down", ccxt.NetworkError, errors.TemporaryError),
    ("malformed", ccxt.BadResponse, errors.BadResponseError),  # our strict on_rest_response hook
]


@pytest.mark.parametrize(("kind", "ccxt_error", "ours"), FAULTS)
@pytest.mark.parametrize("call", ["quotes", "funding_history", "ohlcv", "load_markets"])
def test_faults_map_to_ccxt_and_project_errors(
    market: SimMarket, frozen_now_ms: int, kind: str, ccxt_error: type, ours: type, call: str
) -> None:
    plan = FaultPlan()
    ex, log = client(market, plan)
    plan.add(Fault(kind, venue="bybit"))  # type: ignore[arg-type]
    calls = {
        "quotes": lambda: fam.quotes(ex, SPEC, "BTC", fam.contracts(ex, SPEC, "BTC")),
        "funding_history": lambda: fam.funding_history(
            ex, SPEC, "BTC/USDT:USDT", frozen_now_ms - 30 * DAY_MS, frozen_now_ms
        ),
        "ohlcv": lambda: fam.ohlcv(ex, SPEC, "BTC/USDT:USDT", "1h", "mark", frozen_now_ms - DAY_MS, frozen_now_ms),
        "load_markets": lambda: ex.load_markets(reload=True),
    }
    with pytest.raises(ccxt_error) as info:
        calls[call]()
    translated = errors.translate(info.value, venue="bybit")
    assert type(translated) is ours
    assert log.count() == 1  # the first failing request ends the call


def test_empty_answers_end_cleanly(market: SimMarket, frozen_now_ms: int) -> None:
    plan = FaultPlan()
    ex, log = client(market, plan)
    plan.add(Fault("empty", venue="bybit"))
    assert fam.quotes(ex, SPEC, "BTC", fam.contracts(ex, SPEC, "BTC")) == []
    assert fam.funding_now(ex, SPEC, fam.contracts(ex, SPEC, "BTC")[:1]) == []
    log.clear()
    assert fam.ohlcv(ex, SPEC, "BTC/USDT:USDT", "1h", "last", frozen_now_ms - 90 * DAY_MS, frozen_now_ms) == []
    assert log.count() == 1  # an empty page ends the candle walk
    log.clear()
    assert fam.funding_history(ex, SPEC, "BTC/USDT:USDT", frozen_now_ms - 365 * DAY_MS, frozen_now_ms) == []
    assert log.count() == 6  # empty windows are skipped, the walk still ends at now


def test_rate_limit_answer_is_bybits_envelope(market: SimMarket) -> None:
    plan = FaultPlan([Fault("rate_limit", venue="bybit", times=1)])
    ex, _ = client(market)
    ex2 = demo_client("bybit", market, faults=plan)
    with pytest.raises(ccxt.RateLimitExceeded, match='"retCode":10006'):
        ex2.load_markets()
    ex2.load_markets()  # the fault hit once; the retry succeeds
    assert set(ex2.markets) == set(ex.markets)


def test_unknown_symbols(market: SimMarket) -> None:
    ex, log = client(market)
    with pytest.raises(ccxt.BadSymbol) as info:  # ccxt refuses locally, before any request
        fam.funding_history(ex, SPEC, "DOGE/USDT:USDT", 0, 1)
    assert log.count() == 0
    assert isinstance(errors.translate(info.value), errors.InvalidQueryError)
    with pytest.raises(ccxt.BadRequest, match="symbol invalid") as server:  # the exchange's own answer
        ex.publicGetV5MarketTickers({"category": "linear", "symbol": "DOGEUSDT"})
    assert isinstance(errors.translate(server.value), errors.InvalidQueryError)
    with pytest.raises(ccxt.BadSymbol, match="Not supported symbols"):
        ex.publicGetV5MarketKline({"category": "linear", "symbol": "DOGEUSDT", "interval": "60"})
    with pytest.raises(ccxt.BadRequest, match="route not found"):
        ex.publicGetV5MarketOrderbook({"category": "linear", "symbol": "BTCUSDT"})


def test_expired_future_history_still_resolves(market: SimMarket) -> None:
    """The simulated exchange answers for delisted quarterlies (BTCUSDU26 expired 2026-09-25)."""
    ex, _ = client(market)
    rows = ex.publicGetV5MarketMarkPriceKline(
        {"category": "inverse", "symbol": "BTCUSDU26", "interval": "D", "limit": 3}
    )["result"]["list"]
    inst = market.find("bybit", base="BTC", quote="USD", kind="future", expiry_ms=1_790_323_200_000)
    assert int(rows[0][0]) == (inst.expiry_ms // DAY_MS) * DAY_MS  # last candle is the expiry day
