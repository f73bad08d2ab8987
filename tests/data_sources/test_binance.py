"""Binance spot, USDⓈ-M and COIN-M: the real ccxt clients against the simulated exchange.

Golden values come from the simulated market's own functions; upstream calls are counted in the
transport's RequestLog.
"""

from __future__ import annotations

import math
from typing import Any

import ccxt
import numpy as np
import pytest

from data_sources import errors
from data_sources.simulated import Fault, FaultPlan, RequestLog, demo_client
from data_sources.simulated import market as sim_market
from data_sources.simulated.binance import instrument_id, yymmdd
from data_sources.simulated.market import DAY_MS, HOUR_MS, SimInstrument, SimMarket
from data_sources.venues import VENUES
from data_sources.venues import binance as fam
from tests.conftest import FROZEN_NOW_MS

NOW = FROZEN_NOW_MS
YEAR_MS = 365 * DAY_MS
DERIVATIVES = ("binanceusdm", "binancecoinm")
ALL_VENUES = ("binance", *DERIVATIVES)
PERPS = [(v, b) for v in DERIVATIVES for b in ("BTC", "ETH", "SOL")]
REL = 1e-9


@pytest.fixture(scope="module")
def mkt() -> SimMarket:
    """The conftest ``market`` (seed 7, normal, frozen clock), built once: it is read-only and costly."""
    return SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS)


def client(venue: str, market: SimMarket, faults: FaultPlan | None = None) -> tuple[Any, RequestLog]:
    """A demo client with markets loaded and an empty request log."""
    log = RequestLog()
    ex = demo_client(venue, market, faults=faults, log=log)
    ex.load_markets()
    log.clear()
    return ex, log


def unified_symbol(inst: SimInstrument) -> str:
    pair = f"{inst.base}/{inst.quote}"
    if inst.kind == "spot":
        return pair
    if inst.kind == "perp":
        return f"{pair}:{inst.settle}"
    assert inst.expiry_ms is not None
    return f"{pair}:{inst.settle}-{yymmdd(inst.expiry_ms)}"


def inst_of(market: SimMarket, venue: str, symbol: str) -> SimInstrument:
    return next(i for i in market.instruments(venue) if unified_symbol(i) == symbol)


def now_arr(t: int = NOW) -> np.ndarray:
    return np.asarray([t], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------
# markets and contracts


@pytest.mark.parametrize("venue", ALL_VENUES)
def test_load_markets_is_one_exchange_info_call(venue: str, mkt: SimMarket) -> None:
    log = RequestLog()
    ex = demo_client(venue, mkt, log=log)
    ex.load_markets()
    prefix = {"binance": "/api/v3", "binanceusdm": "/fapi/v1", "binancecoinm": "/dapi/v1"}[venue]
    assert [r.path for r in log.rows()] == [f"{prefix}/exchangeInfo"]
    assert len(ex.markets) == len(mkt.instruments(venue))


@pytest.mark.parametrize("venue", ALL_VENUES)
@pytest.mark.parametrize("base", ["BTC", "ETH", "SOL", "PAXG"])
def test_contracts_match_the_listing(venue: str, base: str, mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    spec = VENUES[venue]
    got = fam.contracts(ex, spec, base)
    expected = [i for i in mkt.instruments(venue) if i.base == base]
    assert log.count() == 0  # pure: no I/O
    assert sorted(c.symbol for c in got) == sorted(unified_symbol(i) for i in expected)
    for c in got:
        inst = inst_of(mkt, venue, c.symbol)
        assert ex.markets[c.symbol]["id"] == instrument_id(inst)
        assert c.venue == venue and c.base == base and c.quote == inst.quote
        assert c.kind == inst.kind
        assert c.linear == inst.linear
        assert c.contract_size == inst.contract_size
        assert c.expiry_ms == inst.expiry_ms
        assert c.settle == (inst.settle or inst.quote)
    kinds = [c.kind for c in got]
    assert kinds == sorted(kinds, key={"spot": 0, "perp": 1, "future": 2}.get)
    expiries = [c.expiry_ms for c in got if c.kind == "future"]
    assert expiries == sorted(expiries)


def test_contract_ids_follow_binance_conventions(mkt: SimMarket) -> None:
    usdm, _ = client("binanceusdm", mkt)
    coinm, _ = client("binancecoinm", mkt)
    assert usdm.markets["BTC/USDT:USDT"]["id"] == "BTCUSDT"
    assert usdm.markets["BTC/USDT:USDT-261225"]["id"] == "BTCUSDT_261225"
    assert usdm.markets["BTC/USDT:USDT-261225"]["info"]["contractType"] == "CURRENT_QUARTER"
    assert usdm.markets["BTC/USDT:USDT-270326"]["info"]["contractType"] == "NEXT_QUARTER"
    assert coinm.markets["BTC/USD:BTC"]["id"] == "BTCUSD_PERP"
    assert coinm.markets["BTC/USD:BTC"]["info"]["deliveryDate"] == 4_133_404_800_000
    assert coinm.markets["BTC/USD:BTC"]["contractSize"] == 100
    assert coinm.markets["ETH/USD:ETH-270326"]["contractSize"] == 10
    assert coinm.markets["BTC/USD:BTC-261225"]["expiry"] == sim_market.last_friday(2026, 12)


def test_contracts_drop_a_quarterly_once_it_expires() -> None:
    clock = {"now": NOW}
    market = SimMarket(seed=7, clock=lambda: clock["now"])
    ex, _ = client("binanceusdm", market)
    spec = VENUES["binanceusdm"]
    before = [c.symbol for c in fam.contracts(ex, spec, "BTC") if c.kind == "future"]
    clock["now"] = sim_market.last_friday(2026, 12)  # the December quarterly delivers now
    after = [c.symbol for c in fam.contracts(ex, spec, "BTC") if c.kind == "future"]
    assert before == ["BTC/USDT:USDT-261225", "BTC/USDT:USDT-270326"]
    assert after == ["BTC/USDT:USDT-270326"]


# ---------------------------------------------------------------------------------------------------------
# quotes


@pytest.mark.parametrize("venue", ALL_VENUES)
@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_quotes_match_the_market(venue: str, base: str, mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    spec = VENUES[venue]
    cons = fam.contracts(ex, spec, base)
    got = {q.symbol: q for q in fam.quotes(ex, spec, base, cons)}
    assert sorted(got) == sorted(c.symbol for c in cons)
    for c in cons:
        inst, q = inst_of(mkt, venue, c.symbol), got[c.symbol]
        assert q.last == pytest.approx(float(mkt.price(inst, "last", now_arr())[0]), rel=REL)
        assert q.ts_ms == NOW
        if venue == "binance":
            assert q.mark is None and q.index is None  # spot publishes last prices only
        else:
            assert q.mark == pytest.approx(float(mkt.price(inst, "mark", now_arr())[0]), rel=REL)
            assert q.index == pytest.approx(float(mkt.price(inst, "index", now_arr())[0]), rel=REL)
    if venue == "binance":
        assert [(r.path, r.query) for r in log.rows()] == [
            ("/api/v3/ticker/24hr", {"symbols": '["' + base + 'USDT"]'})]
    else:
        # Two bulk calls whatever the number of contracts: 24h tickers (last) and premiumIndex (mark, index).
        assert sorted(r.path.split("/", 3)[3] for r in log.rows()) == ["premiumIndex", "ticker/price"]
        assert all(r.query == {} for r in log.rows())


def test_quotes_of_the_gold_proxy_on_spot(mkt: SimMarket) -> None:
    ex, _ = client("binance", mkt)
    spec = VENUES["binance"]
    cons = fam.contracts(ex, spec, "PAXG")
    (q,) = fam.quotes(ex, spec, "PAXG", cons)
    inst = inst_of(mkt, "binance", "PAXG/USDT")
    assert q.symbol == "PAXG/USDT"
    assert q.last == pytest.approx(float(mkt.price(inst, "last", now_arr())[0]), rel=REL)


def test_quotes_of_nothing_make_no_call(mkt: SimMarket) -> None:
    ex, log = client("binanceusdm", mkt)
    assert fam.quotes(ex, VENUES["binanceusdm"], "BTC", []) == []
    assert log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# funding now


@pytest.mark.parametrize("venue", DERIVATIVES)
def test_funding_now_matches_the_market(venue: str, mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    spec = VENUES[venue]
    perps = [c for b in ("BTC", "ETH", "SOL") for c in fam.contracts(ex, spec, b)]
    got = {f.symbol: f for f in fam.funding_now(ex, spec, perps)}
    expected_perps = [i for i in mkt.instruments(venue) if i.kind == "perp"]
    assert sorted(got) == sorted(unified_symbol(i) for i in expected_perps)
    for inst in expected_perps:
        f = got[unified_symbol(inst)]
        assert f.rate == pytest.approx(mkt.funding_estimate(inst), rel=REL)
        assert f.next_funding_ms == mkt.next_funding_ms(inst)
        assert f.interval_hours == inst.funding_hours
        assert f.interval_inferred is False  # stated by fundingInfo, or Binance's documented 8h default
        assert f.predicted_rate is None
        assert f.ts_ms == NOW
    assert sorted(r.path.rsplit("/", 1)[-1] for r in log.rows()) == ["fundingInfo", "premiumIndex"]


def test_funding_now_reads_the_4h_interval_from_funding_info(mkt: SimMarket) -> None:
    ex, _ = client("binanceusdm", mkt)
    spec = VENUES["binanceusdm"]
    (sol,) = fam.funding_now(ex, spec, [c for c in fam.contracts(ex, spec, "SOL") if c.kind == "perp"])
    assert sol.interval_hours == 4.0
    assert sol.next_funding_ms == 1_795_622_400_000  # 16:00 UTC: the 4h grid, not the 8h one
    raw = ex.fapiPublicGetFundingInfo()
    assert [r["symbol"] for r in raw] == ["SOLUSDT"]  # only adjusted symbols are listed


# ---------------------------------------------------------------------------------------------------------
# funding history


@pytest.mark.parametrize(("venue", "base"), PERPS)
def test_funding_history_year_is_complete(venue: str, base: str, mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    spec = VENUES[venue]
    (perp,) = [c for c in fam.contracts(ex, spec, base) if c.kind == "perp"]
    inst = inst_of(mkt, venue, perp.symbol)
    start = NOW - YEAR_MS
    got = fam.funding_history(ex, spec, perp.symbol, start, NOW)
    times, rates = mkt.funding_settlements(inst, start, NOW)
    assert len(got) == len(times) == 365 * 24 // int(inst.funding_hours or 8)
    assert [p.ts_ms for p in got] == times.tolist()
    assert [p.rate for p in got] == pytest.approx(rates.tolist(), rel=REL)
    assert {p.interval_hours for p in got} == {inst.funding_hours}
    pages = log.rows(path="*/fundingRate")
    assert len(pages) == len(times) // 1000 + 1  # a short page ends the loop
    assert log.count(path="*/fundingInfo") == 1
    assert log.count() == len(pages) + 1
    assert int(pages[0].query["startTime"]) == start
    for prev, page in zip(got[999::1000], pages[1:], strict=False):
        assert int(page.query["startTime"]) == prev.ts_ms + 1  # cursor: last fundingTime + 1
    assert all(p.query["limit"] == "1000" and int(p.query["endTime"]) == NOW for p in pages)


def test_funding_history_of_a_1h_symbol(mkt: SimMarket, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = sim_market.CATALOG["binanceusdm"]
    perps = tuple(sim_market._PerpDef(p.base, p.quote, p.settle, p.linear, p.contract_size,
                                      1 if p.base == "ETH" else p.funding_hours) for p in cat.perps)
    monkeypatch.setitem(sim_market.CATALOG, "binanceusdm",
                        sim_market.VenueCatalog(perps=perps, futures=cat.futures, index_bias=cat.index_bias))
    ex, log = client("binanceusdm", mkt)
    inst = inst_of(mkt, "binanceusdm", "ETH/USDT:USDT")
    assert inst.funding_hours == 1
    got = fam.funding_history(ex, VENUES["binanceusdm"], "ETH/USDT:USDT", NOW - YEAR_MS, NOW)
    times, rates = mkt.funding_settlements(inst, NOW - YEAR_MS, NOW)
    assert len(got) == len(times) == 8760
    assert [p.ts_ms for p in got] == times.tolist()
    assert [p.rate for p in got] == pytest.approx(rates.tolist(), rel=REL)
    assert {p.interval_hours for p in got} == {1.0}
    assert log.count(path="*/fundingRate") == 9


def test_ccxt_paginate_loses_rows_of_a_4h_symbol(mkt: SimMarket) -> None:
    """Why we page ourselves: ccxt's paginate steps 8h x 1000 and drops about half of a 4h year."""
    ex, _ = client("binanceusdm", mkt)
    ours = fam.funding_history(ex, VENUES["binanceusdm"], "SOL/USDT:USDT", NOW - YEAR_MS, NOW)
    theirs = ex.fetch_funding_rate_history("SOL/USDT:USDT", since=NOW - YEAR_MS,
                                           params={"paginate": True, "until": NOW})
    assert len(ours) == 2190
    assert len(theirs) < 0.6 * len(ours)


def test_funding_history_window_edges_are_inclusive(mkt: SimMarket) -> None:
    ex, log = client("binanceusdm", mkt)
    spec = VENUES["binanceusdm"]
    first, last = 1_795_334_400_000, 1_795_593_600_000  # 2026-11-22T08:00Z and 2026-11-25T08:00Z
    got = fam.funding_history(ex, spec, "BTC/USDT:USDT", first, last)
    assert [p.ts_ms for p in got] == list(range(first, last + 1, 8 * HOUR_MS))
    assert fam.funding_history(ex, spec, "BTC/USDT:USDT", last, first) == []
    log.clear()
    assert fam.funding_history(ex, spec, "BTC/USDT:USDT", NOW + DAY_MS, NOW + 2 * DAY_MS) == []
    assert log.count(path="*/fundingRate") == 1  # an empty page stops the loop


def test_funding_history_of_a_quarterly_is_an_invalid_query(mkt: SimMarket) -> None:
    ex, log = client("binanceusdm", mkt)
    with pytest.raises(ccxt.BadRequest) as info:
        fam.funding_history(ex, VENUES["binanceusdm"], "BTC/USDT:USDT-261225", NOW - DAY_MS, NOW)
    assert isinstance(errors.translate(info.value), errors.InvalidQueryError)
    assert log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# OHLCV


def _expected_volume(inst: SimInstrument, row: np.ndarray, price: str, venue: str) -> float:
    if price != "last":
        return 0.0  # Binance's mark/index/premium klines carry no volume
    o, h, lo, c, v = row[1:6]
    if venue == "binancecoinm":
        return float(v * inst.contract_size / ((o + h + lo + c) / 4.0))  # ccxt reads the base-asset volume
    return float(v)


OHLCV_CASES = [
    ("binance", "BTC/USDT", "last"),
    ("binance", "PAXG/USDT", "last"),
    *[(v, s, p) for v, s in (("binanceusdm", "BTC/USDT:USDT"), ("binancecoinm", "ETH/USD:ETH"))
      for p in ("last", "mark", "index", "premium_index")],
    ("binanceusdm", "SOL/USDT:USDT", "premium_index"),
    ("binanceusdm", "BTC/USDT:USDT-270326", "mark"),
    ("binancecoinm", "BTC/USD:BTC-261225", "last"),
    ("binancecoinm", "BTC/USD:BTC-261225", "index"),
]


@pytest.mark.parametrize(("venue", "symbol", "price"), OHLCV_CASES)
def test_ohlcv_across_pages_matches_the_market(venue: str, symbol: str, price: str, mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    inst = inst_of(mkt, venue, symbol)
    start, end = NOW - 50 * DAY_MS - 30 * 60_000, NOW  # 1200 hourly candles, the last one still forming
    got = fam.ohlcv(ex, VENUES[venue], symbol, "1h", price, start, end)  # type: ignore[arg-type]
    want = mkt.candles(inst, price, HOUR_MS, start, end)
    assert len(got) == len(want) == 1200
    assert [r[0] for r in got] == want[:, 0].astype(np.int64).tolist()
    assert np.allclose(np.asarray(got)[:, 1:5], want[:, 1:5], rtol=REL, atol=0.0)
    assert [r[5] for r in got] == pytest.approx([_expected_volume(inst, w, price, venue) for w in want], rel=REL)
    assert log.count() == 2  # two windows of at most 1000 candles
    endpoint = {"last": "klines", "mark": "markPriceKlines", "index": "indexPriceKlines",
                "premium_index": "premiumIndexKlines"}[price]
    assert {r.path.rsplit("/", 1)[-1] for r in log.rows()} == {endpoint}


def test_ohlcv_coinm_pages_stay_within_200_days(mkt: SimMarket) -> None:
    ex, log = client("binancecoinm", mkt)
    inst = inst_of(mkt, "binancecoinm", "BTC/USD:BTC")
    start = NOW - 300 * DAY_MS
    got = fam.ohlcv(ex, VENUES["binancecoinm"], "BTC/USD:BTC", "1d", "mark", start, NOW)
    want = mkt.candles(inst, "mark", DAY_MS, start, NOW)
    assert [r[0] for r in got] == want[:, 0].astype(np.int64).tolist()
    assert np.allclose(np.asarray(got)[:, 1:5], want[:, 1:5], rtol=REL, atol=0.0)
    windows = [(int(r.query["startTime"]), int(r.query["endTime"])) for r in log.rows()]
    assert len(windows) == 2
    assert all(e - s <= 200 * DAY_MS for s, e in windows)


def test_coinm_rejects_a_kline_window_over_200_days(mkt: SimMarket) -> None:
    ex, _ = client("binancecoinm", mkt)
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        ex.dapiPublicGetKlines({"symbol": "BTCUSD_PERP", "interval": "1d", "startTime": NOW - 300 * DAY_MS,
                                "endTime": NOW})


def test_the_same_candle_from_two_windows_is_identical(mkt: SimMarket) -> None:
    ex, _ = client("binanceusdm", mkt)
    spec = VENUES["binanceusdm"]
    a = fam.ohlcv(ex, spec, "BTC/USDT:USDT", "15m", "mark", NOW - 12 * DAY_MS, NOW - 2 * DAY_MS)
    b = fam.ohlcv(ex, spec, "BTC/USDT:USDT", "15m", "mark", NOW - 5 * DAY_MS - 7 * 60_000, NOW)
    common = {r[0] for r in a} & {r[0] for r in b}
    assert len(common) > 200
    by_ts = {r[0]: r for r in b}
    assert all(r == by_ts[r[0]] for r in a if r[0] in common)


def test_ohlcv_is_ascending_unique_and_inside_the_window(mkt: SimMarket) -> None:
    ex, _ = client("binance", mkt)
    start, end = NOW - 3 * DAY_MS + 1, NOW - DAY_MS - 1
    got = fam.ohlcv(ex, VENUES["binance"], "ETH/USDT", "5m", "last", start, end)
    ts = [r[0] for r in got]
    assert ts == sorted(set(ts))
    assert ts[0] >= start and ts[-1] <= end
    assert len(ts) == 2 * 288  # 2 days of 5m candles, open times strictly inside the window


@pytest.mark.parametrize(("venue", "symbol", "price"), [
    ("binance", "BTC/USDT", "mark"),
    ("binance", "BTC/USDT", "index"),
    ("binance", "BTC/USDT", "premium_index"),
    ("binanceusdm", "BTC/USDT:USDT-261225", "premium_index"),
    ("binancecoinm", "ETH/USD:ETH-270326", "premium_index"),
])
def test_ohlcv_of_a_missing_series_is_not_supported(venue: str, symbol: str, price: str,
                                                    mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    with pytest.raises(ccxt.NotSupported) as info:
        fam.ohlcv(ex, VENUES[venue], symbol, "1h", price, NOW - DAY_MS, NOW)  # type: ignore[arg-type]
    assert isinstance(errors.translate(info.value), errors.UnsupportedError)
    assert log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# unknown symbols and the simulated API's own shapes


def test_unknown_symbol_is_bad_symbol_locally(mkt: SimMarket) -> None:
    ex, log = client("binanceusdm", mkt)
    with pytest.raises(ccxt.BadSymbol) as info:
        fam.ohlcv(ex, VENUES["binanceusdm"], "DOGE/USDT:USDT", "1h", "last", NOW - DAY_MS, NOW)
    assert isinstance(errors.translate(info.value), errors.InvalidQueryError)
    assert log.count() == 0


@pytest.mark.parametrize(("venue", "call", "params"), [
    ("binance", "publicGetKlines", {"symbol": "DOGEUSDT", "interval": "1h"}),
    ("binance", "publicGetTicker24hr", {"symbols": '["BTCUSDT","DOGEUSDT"]'}),
    ("binanceusdm", "fapiPublicGetPremiumIndex", {"symbol": "DOGEUSDT"}),
    ("binanceusdm", "fapiPublicGetFundingRate", {"symbol": "DOGEUSDT"}),
    ("binancecoinm", "dapiPublicGetMarkPriceKlines", {"symbol": "BTCUSD_260101", "interval": "1h"}),
    ("binancecoinm", "dapiPublicGetTicker24hr", {"symbol": "DOGEUSD_PERP"}),
])
def test_unknown_symbol_on_the_server_is_bad_symbol(venue: str, call: str, params: dict[str, Any],
                                                    mkt: SimMarket) -> None:
    ex, log = client(venue, mkt)
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        getattr(ex, call)(params)
    assert log.count() == 1


def test_unknown_path_is_exchange_not_available(mkt: SimMarket) -> None:
    ex, _ = client("binanceusdm", mkt)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="404"):
        ex.fapiPublicGetContinuousKlines({"pair": "BTCUSDT", "contractType": "PERPETUAL", "interval": "1h"})


def test_premium_index_shape_quirk(mkt: SimMarket) -> None:
    usdm, _ = client("binanceusdm", mkt)
    coinm, _ = client("binancecoinm", mkt)
    assert isinstance(usdm.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"}), dict)
    assert isinstance(usdm.fapiPublicGetPremiumIndex(), list)
    assert isinstance(coinm.dapiPublicGetPremiumIndex({"symbol": "BTCUSD_PERP"}), list)
    # ccxt copes with both: USD-M parses the object, COIN-M indexes [0].
    inst = inst_of(mkt, "binancecoinm", "BTC/USD:BTC")
    assert coinm.fetch_funding_rate("BTC/USD:BTC")["fundingRate"] == pytest.approx(
        mkt.funding_estimate(inst), rel=REL)
    quarterly = usdm.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT_261225"})
    assert quarterly["lastFundingRate"] == "" and quarterly["nextFundingTime"] == 0


def test_funding_rate_endpoint_caps_limit_at_1000(mkt: SimMarket) -> None:
    ex, _ = client("binanceusdm", mkt)
    rows = ex.fapiPublicGetFundingRate({"symbol": "SOLUSDT", "startTime": NOW - YEAR_MS, "limit": 5000})
    assert len(rows) == 1000
    times = [r["fundingTime"] for r in rows]
    assert times == sorted(times) and times[0] >= NOW - YEAR_MS
    assert len(ex.fapiPublicGetFundingRate({"symbol": "SOLUSDT"})) == 200  # no window: the latest 200


def test_settled_quarterly_still_answers_history(mkt: SimMarket) -> None:
    ex, _ = client("binanceusdm", mkt)
    expiry = sim_market.last_friday(2026, 9)
    rows = ex.fapiPublicGetMarkPriceKlines({"symbol": "BTCUSDT_260925", "interval": "1d",
                                            "startTime": expiry - 10 * DAY_MS, "endTime": NOW})
    assert len(rows) == 10
    assert rows[-1][0] < expiry
    with pytest.raises(ccxt.BadSymbol):  # not a quarterly expiry date
        ex.fapiPublicGetMarkPriceKlines({"symbol": "BTCUSDT_260918", "interval": "1d"})


# ---------------------------------------------------------------------------------------------------------
# faults


def _run_each(ex: Any, venue: str, mkt: SimMarket) -> dict[str, Any]:
    spec = VENUES[venue]
    # Contracts come from markets loaded before the fault plan is armed (see _faulty_client).
    cons = fam.contracts(ex, spec, "BTC")
    sym = cons[0].symbol
    calls = {
        "quotes": lambda: fam.quotes(ex, spec, "BTC", cons),
        "ohlcv": lambda: fam.ohlcv(ex, spec, sym, "1h", "last", NOW - DAY_MS, NOW),
    }
    if venue != "binance":
        calls["funding_now"] = lambda: fam.funding_now(ex, spec, cons)
        calls["funding_history"] = lambda: fam.funding_history(ex, spec, sym, NOW - 30 * DAY_MS, NOW)
    return calls


def _faulty_client(venue: str, mkt: SimMarket, kind: str) -> tuple[Any, RequestLog, FaultPlan]:
    faults = FaultPlan()
    ex, log = client(venue, mkt, faults=faults)
    faults.add(Fault(kind, venue=venue, latency_ms=1.0 if kind == "latency" else 0.0))  # type: ignore[arg-type]
    return ex, log, faults


FAULT_CLASSES = [
    ("rate_limit", ccxt.DDoSProtection, errors.RateLimitedError),  # ccxt maps Binance's 429 and 418 alike
    ("ban", ccxt.DDoSProtection, errors.RateLimitedError),
    ("timeout", ccxt.RequestTimeout, errors.TemporaryError),
    ("down", ccxt.NetworkError, errors.TemporaryError),
    ("server_error", ccxt.OperationFailed, errors.TemporaryError),  # 503 {"code":-1001}
]


@pytest.mark.parametrize("venue", ALL_VENUES)
@pytest.mark.parametrize(("kind", "ccxt_class", "_"), FAULT_CLASSES)
def test_fault_raises_the_ccxt_class_of_binances_answer(venue: str, kind: str, ccxt_class: type,
                                                       _: type, mkt: SimMarket) -> None:
    ex, log, _plan = _faulty_client(venue, mkt, kind)
    for name, call in _run_each(ex, venue, mkt).items():
        with pytest.raises(ccxt_class):
            call()
        assert log.count() >= 1, name


@pytest.mark.parametrize("venue", ALL_VENUES)
@pytest.mark.parametrize(("kind", "ccxt_class", "data_source_class"), FAULT_CLASSES)
def test_fault_translates_to_the_data_source_error(venue: str, kind: str, ccxt_class: type,
                                                   data_source_class: type, mkt: SimMarket) -> None:
    ex, _, _plan = _faulty_client(venue, mkt, kind)
    call = next(iter(_run_each(ex, venue, mkt).values()))
    with pytest.raises(ccxt_class) as info:
        call()
    translated = errors.translate(info.value, venue=venue)
    assert type(translated) is data_source_class
    assert translated.venue == venue


def test_fault_on_load_markets(mkt: SimMarket) -> None:
    log = RequestLog()
    ex = demo_client("binancecoinm", mkt, faults=FaultPlan([Fault("ban", venue="binancecoinm", times=1)]), log=log)
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        ex.load_markets()
    ex.load_markets()  # the ban was for one request; the next load succeeds
    assert len(ex.markets) == len(mkt.instruments("binancecoinm"))
    assert log.count() == 2


@pytest.mark.parametrize("venue", ALL_VENUES)
def test_malformed_body_is_a_bad_response(venue: str, mkt: SimMarket) -> None:
    # ccxt alone would read the truncated body's characters as rows and return empty results.
    ex, _, _plan = _faulty_client(venue, mkt, "malformed")
    for name, call in _run_each(ex, venue, mkt).items():
        with pytest.raises(ccxt.BadResponse) as info:
            call()
        assert type(errors.translate(info.value)) is errors.BadResponseError, name
    fresh = demo_client(venue, mkt, faults=FaultPlan([Fault("malformed", venue=venue)]))
    with pytest.raises(ccxt.BadResponse):
        fresh.load_markets()  # not an empty listing


@pytest.mark.parametrize("venue", ALL_VENUES)
def test_empty_answers_give_empty_results(venue: str, mkt: SimMarket) -> None:
    ex, log, _plan = _faulty_client(venue, mkt, "empty")
    results = {name: call() for name, call in _run_each(ex, venue, mkt).items()}
    assert all(r == [] for r in results.values()), results
    if venue != "binance":
        # the history loop stops at the first empty page: one fundingInfo, one fundingRate
        assert log.count(path="*/fundingRate") == 1


@pytest.mark.parametrize("venue", DERIVATIVES)
def test_latency_changes_nothing(venue: str, mkt: SimMarket) -> None:
    ex, _, _plan = _faulty_client(venue, mkt, "latency")
    spec = VENUES[venue]
    cons = fam.contracts(ex, spec, "ETH")
    got = fam.quotes(ex, spec, "ETH", cons)
    assert len(got) == len(cons) == 3


# ---------------------------------------------------------------------------------------------------------
# another scenario


def test_crash_scenario_backwardation_and_negative_funding(market_factory: Any) -> None:
    crash = market_factory("crash")
    for venue in DERIVATIVES:
        ex, _ = client(venue, crash)
        spec = VENUES[venue]
        cons = fam.contracts(ex, spec, "BTC")
        quotes = {q.symbol: q for q in fam.quotes(ex, spec, "BTC", cons)}
        perp = next(c for c in cons if c.kind == "perp")
        futures = [c for c in cons if c.kind == "future"]
        (now,) = fam.funding_now(ex, spec, [perp])
        inst = inst_of(crash, venue, perp.symbol)
        assert now.rate == pytest.approx(crash.funding_estimate(inst), rel=REL)
        assert now.rate is not None and now.rate < 0
        for f in futures:  # backwardation: each quarterly's mark below the index
            q = quotes[f.symbol]
            assert q.mark is not None and q.index is not None and q.mark < q.index
            assert q.mark == pytest.approx(float(crash.price(inst_of(crash, venue, f.symbol), "mark",
                                                             now_arr())[0]), rel=REL)
        hist = fam.funding_history(ex, spec, perp.symbol, NOW - 3 * DAY_MS, NOW)
        times, rates = crash.funding_settlements(inst, NOW - 3 * DAY_MS, NOW)
        assert [p.rate for p in hist] == pytest.approx(rates.tolist(), rel=REL)
        assert hist[-1].rate < 0
        assert not math.isclose(hist[-1].rate, 0.0)
