"""OKX end to end: the real ccxt ``okx`` client against the simulated OKX, values checked against the market.

Every expected number comes from ``SimMarket`` itself (prices, settlements, candles), every request count
from the transport's ``RequestLog``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import ccxt
import numpy as np
import pytest

from data_sources import errors
from data_sources.clients import build_client
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimTransport, demo_client, mount
from data_sources.simulated import okx as sim_okx
from data_sources.simulated.market import CATALOG, DAY_MS, HOUR_MS, SimInstrument, SimMarket, last_friday
from data_sources.venues import VENUES
from data_sources.venues import okx as fam
from tests.conftest import FROZEN_NOW_MS

SPEC = VENUES["okx"]
REL = 1e-12


@dataclasses.dataclass
class Client:
    ex: Any
    log: RequestLog
    market: SimMarket
    faults: FaultPlan


def _client(market: SimMarket, handler: sim_okx.OkxHandler | None = None) -> Client:
    log, faults = RequestLog(), FaultPlan()
    if handler is None:
        ex = demo_client("okx", market, log=log, faults=faults)
    else:
        ex = build_client("okx", {"enableRateLimit": False})
        ex.milliseconds = market.now_ms
        mount(ex, SimTransport(handler, log=log, faults=faults))
    ex.load_markets()
    return Client(ex, log, market, faults)


@pytest.fixture(scope="module")
def market() -> SimMarket:
    """conftest's normal market, built once here: it is deterministic and these tests only read it."""
    return SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS)


@pytest.fixture
def okx(market: SimMarket) -> Client:
    c = _client(market)
    c.log.clear()
    return c


def _symbol(inst: SimInstrument) -> str:
    sym = f"{inst.base}/{inst.quote}:{inst.settle}"
    return sym if inst.expiry_ms is None else f"{sym}-{sim_okx.yymmdd(inst.expiry_ms)}"


def _inst(market: SimMarket, symbol: str) -> SimInstrument:
    return next(i for i in market.instruments("okx") if i.kind != "spot" and _symbol(i) == symbol)


def _perps(market: SimMarket) -> list[SimInstrument]:
    return [i for i in market.instruments("okx") if i.kind == "perp"]


def _at(market: SimMarket, inst: SimInstrument, field: str, t: int) -> float:
    return float(market.price(inst, field, np.asarray([t]))[0])


# ---------------------------------------------------------------------------------------------------------
# Markets and contracts


def test_load_markets_makes_one_call_per_instrument_type(market: SimMarket) -> None:
    c = _client(market)
    rows = c.log.rows("okx")
    assert [(r.path, r.query.get("instType")) for r in rows] == [
        ("/api/v5/public/instruments", "SWAP"),
        ("/api/v5/public/instruments", "FUTURES"),
    ]


@pytest.mark.parametrize("base", ["BTC", "ETH", "SOL"])
def test_contracts_match_the_listing(okx: Client, base: str) -> None:
    got = fam.contracts(okx.ex, SPEC, base)
    listed = [i for i in okx.market.instruments("okx") if i.base == base and i.kind != "spot"]
    assert {c.symbol for c in got} == {_symbol(i) for i in listed}
    assert len(got) == len(listed)
    for c in got:
        inst = _inst(okx.market, c.symbol)
        assert (c.kind, c.linear, c.quote, c.settle, c.expiry_ms) == (
            inst.kind, inst.linear, inst.quote, inst.settle, inst.expiry_ms)
        assert c.contract_size == inst.contract_size
        assert okx.ex.market(c.symbol)["id"] == sim_okx.inst_id(inst)
    assert [c.kind for c in got] == sorted((c.kind for c in got), key=lambda k: k != "perp")
    assert okx.log.count() == 0  # pure: from the loaded markets only


def test_contract_ids_and_sizes_are_okx_conventions(okx: Client) -> None:
    by_symbol = {c.symbol: c for c in fam.contracts(okx.ex, SPEC, "BTC")}
    assert okx.ex.market("BTC/USDT:USDT")["id"] == "BTC-USDT-SWAP"
    assert okx.ex.market("BTC/USD:BTC-261225")["id"] == "BTC-USD-261225"
    assert by_symbol["BTC/USD:BTC"].contract_size == 100.0 and not by_symbol["BTC/USD:BTC"].linear
    assert by_symbol["BTC/USDT:USDT"].contract_size == 0.01 and by_symbol["BTC/USDT:USDT"].linear
    aliases = {okx.ex.market(s)["info"]["alias"] for s in by_symbol if "-" in s.split(":")[1]}
    assert aliases == {"this_week", "next_week", "quarter", "next_quarter"}


def test_contracts_drop_futures_that_expired_since_markets_were_loaded(okx: Client) -> None:
    first_expiry = min(c.expiry_ms for c in fam.contracts(okx.ex, SPEC, "BTC") if c.expiry_ms)
    okx.ex.milliseconds = lambda: first_expiry  # markets stay as loaded; the clock moves on
    left = fam.contracts(okx.ex, SPEC, "BTC")
    assert left and all(c.expiry_ms is None or c.expiry_ms > first_expiry for c in left)


def test_contracts_leave_out_xperp_and_pre_market_contracts(okx: Client) -> None:
    okx.ex.markets["BTC/USD:BTC-270326"]["info"]["ruleType"] = "xperp"  # OKX's perp-like long futures
    okx.ex.markets["BTC/USDT:USDT"]["info"]["ruleType"] = "pre_market"
    symbols = {c.symbol for c in fam.contracts(okx.ex, SPEC, "BTC")}
    assert "BTC/USD:BTC-270326" not in symbols and "BTC/USDT:USDT" not in symbols
    assert "BTC/USD:BTC" in symbols and len(symbols) == 8


# ---------------------------------------------------------------------------------------------------------
# Quotes and funding now


def test_quotes_equal_the_market_in_six_calls(okx: Client) -> None:
    contracts = fam.contracts(okx.ex, SPEC, "BTC")
    now = okx.market.now_ms()
    got = fam.quotes(okx.ex, SPEC, "BTC", contracts)
    assert [q.symbol for q in got] == [c.symbol for c in contracts]
    for q in got:
        inst = _inst(okx.market, q.symbol)
        assert q.last == pytest.approx(_at(okx.market, inst, "last", now), rel=REL)
        assert q.mark == pytest.approx(_at(okx.market, inst, "mark", now), rel=REL)
        assert q.index == pytest.approx(_at(okx.market, inst, "index", now), rel=REL)
        assert q.ts_ms == now
    assert okx.log.by_path() == {
        ("okx", "/api/v5/market/tickers"): 2,
        ("okx", "/api/v5/public/mark-price"): 2,
        ("okx", "/api/v5/market/index-tickers"): 2,
    }
    assert {r.query["instId"] for r in okx.log.rows(path="*/index-tickers")} == {"BTC-USD", "BTC-USDT"}


def test_quotes_for_perps_only_skip_the_futures_endpoints(okx: Client) -> None:
    perps = [c for c in fam.contracts(okx.ex, SPEC, "ETH") if c.kind == "perp"]
    fam.quotes(okx.ex, SPEC, "ETH", perps)
    assert {r.query.get("instType") for r in okx.log.rows(path="*/tickers")} == {"SWAP"}
    assert okx.log.count() == 4


def test_funding_now_equals_the_running_estimate_in_one_call(okx: Client) -> None:
    perps = [c for c in fam.contracts(okx.ex, SPEC, "BTC") + fam.contracts(okx.ex, SPEC, "SOL") if c.kind == "perp"]
    got = {f.symbol: f for f in fam.funding_now(okx.ex, SPEC, perps)}
    assert set(got) == {p.symbol for p in perps}
    for symbol, f in got.items():
        inst = _inst(okx.market, symbol)
        assert f.rate == pytest.approx(okx.market.funding_estimate(inst), rel=REL)
        assert f.next_funding_ms == okx.market.next_funding_ms(inst)
        assert f.interval_hours == inst.funding_hours and not f.interval_inferred
        assert f.predicted_rate is None  # OKX's current_period method leaves nextFundingRate empty
        assert f.ts_ms == okx.market.now_ms()
    assert [(r.path, r.query) for r in okx.log.rows()] == [("/api/v5/public/funding-rate", {"instId": "ANY"})]


# ---------------------------------------------------------------------------------------------------------
# Funding history


def _expected_requests(times: np.ndarray, start: int) -> int:
    """Pages of 100 until a short page, or one empty page unless the oldest row is within 1h of start."""
    n = len(times)
    return n // 100 + (1 if n % 100 or times[0] - HOUR_MS >= start else 0)


def _check_history(c: Client, inst: SimInstrument, start: int, end: int) -> list[Any]:
    got = fam.funding_history(c.ex, SPEC, _symbol(inst), start, end)
    times, rates = c.market.funding_settlements(inst, start, end)
    assert [p.ts_ms for p in got] == times.tolist()  # every settlement, ascending, no duplicates
    np.testing.assert_allclose([p.rate for p in got], rates, rtol=REL, atol=0)
    assert {p.interval_hours for p in got} == {float(inst.funding_hours or 0)}
    assert c.log.count(path="*/funding-rate-history") == _expected_requests(times, start)
    return got


@pytest.mark.parametrize("index", range(5))
def test_funding_history_one_year_is_complete(okx: Client, index: int) -> None:
    inst = _perps(okx.market)[index]
    end = okx.market.now_ms()
    got = _check_history(okx, inst, end - 365 * DAY_MS, end)
    assert len(got) in (1095, 1096)
    assert okx.log.count() == 11


@pytest.mark.parametrize("hours", [1, 4])
def test_funding_history_complete_for_shorter_intervals(monkeypatch: pytest.MonkeyPatch, hours: int) -> None:
    cat = CATALOG["okx"]
    perps = tuple(dataclasses.replace(p, funding_hours=hours) if p.base == "SOL" else p for p in cat.perps)
    monkeypatch.setitem(CATALOG, "okx", dataclasses.replace(cat, perps=perps))
    market = SimMarket(seed=11, clock=lambda: 1_795_615_020_000)
    c = _client(market)
    c.log.clear()
    inst = next(i for i in _perps(market) if i.base == "SOL")
    end = market.now_ms()
    got = _check_history(c, inst, end - 365 * DAY_MS, end)
    assert len(got) == 365 * 24 // hours
    fn = fam.funding_now(c.ex, SPEC, [x for x in fam.contracts(c.ex, SPEC, "SOL") if x.kind == "perp"])
    assert fn[0].interval_hours == hours and not fn[0].interval_inferred


def test_funding_history_window_edges_are_inclusive(okx: Client) -> None:
    inst = _perps(okx.market)[0]
    end = okx.market.now_ms() // (8 * HOUR_MS) * (8 * HOUR_MS)  # exactly on a settlement
    start = end - 3 * DAY_MS
    got = _check_history(okx, inst, start, end)
    assert (got[0].ts_ms, got[-1].ts_ms, len(got)) == (start, end, 10)
    assert okx.log.count() == 1


def test_funding_history_exact_multiple_of_a_page(okx: Client) -> None:
    inst = _perps(okx.market)[1]
    end = okx.market.now_ms() // (8 * HOUR_MS) * (8 * HOUR_MS)
    start = end - 199 * 8 * HOUR_MS  # 200 settlements, the oldest on start: no empty third page
    got = _check_history(okx, inst, start, end)
    assert len(got) == 200 and okx.log.count() == 2


def test_funding_history_stops_cleanly_at_the_retention_limit(market: SimMarket) -> None:
    handler = sim_okx.OkxHandler("okx", market, funding_retention_ms=90 * DAY_MS)
    c = _client(market, handler)
    c.log.clear()
    inst = _perps(market)[0]
    now = market.now_ms()
    got = fam.funding_history(c.ex, SPEC, _symbol(inst), now - 365 * DAY_MS, now)
    times, _ = market.funding_settlements(inst, now - 90 * DAY_MS, now)
    assert [p.ts_ms for p in got] == times.tolist()
    assert c.log.count() == math.ceil(len(times) / 100)  # the short page ends it; no runaway


def test_funding_history_empty_or_reversed_windows(okx: Client) -> None:
    now = okx.market.now_ms()
    assert fam.funding_history(okx.ex, SPEC, "BTC/USDT:USDT", now, now - DAY_MS) == []
    assert fam.funding_history(okx.ex, SPEC, "BTC/USDT:USDT", now + HOUR_MS, now + DAY_MS) == []
    assert okx.log.count() == 1


def test_funding_history_refuses_futures_and_unknown_symbols(okx: Client) -> None:
    future = next(c.symbol for c in fam.contracts(okx.ex, SPEC, "BTC") if c.kind == "future")
    with pytest.raises(ccxt.BadRequest):
        fam.funding_history(okx.ex, SPEC, future, 0, 1)
    with pytest.raises(ccxt.BadSymbol) as exc:
        fam.funding_history(okx.ex, SPEC, "DOGE/USDT:USDT", 0, 1)
    assert isinstance(errors.translate(exc.value, venue="okx"), errors.InvalidQueryError)
    assert okx.log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# OHLCV


def _expected_candles(market: SimMarket, inst: SimInstrument, price: str, tf: int, start: int, end: int) -> np.ndarray:
    rows = market.candles(inst, price, tf, start, end).copy()
    if price != "last":
        rows[:, 5] = np.nan  # OKX mark/index candles carry no volume
    elif inst.linear:
        rows[:, 5] = rows[:, 5] * inst.contract_size  # ccxt reads volCcy: base coin
    else:
        rows[:, 5] = rows[:, 5] * inst.contract_size / rows[:, 4]
    return rows


@pytest.mark.parametrize(
    ("days", "price", "endpoint", "requests"),
    [
        (30, "last", "/api/v5/market/candles", 3),  # 720 bars, 300 a page
        (30, "mark", "/api/v5/market/mark-price-candles", 8),  # 100 a page
        (30, "index", "/api/v5/market/index-candles", 8),
        (90, "last", "/api/v5/market/history-candles", 22),  # 2160 bars: history caps at 100
        (90, "mark", "/api/v5/market/history-mark-price-candles", 22),
        (90, "index", "/api/v5/market/history-index-candles", 22),
    ],
)
@pytest.mark.parametrize("symbol", ["BTC/USDT:USDT", "BTC/USD:BTC", "ETH/USD:ETH-261225"])
def test_ohlcv_pages_to_the_market_candles(
    okx: Client, symbol: str, days: int, price: str, endpoint: str, requests: int
) -> None:
    inst = _inst(okx.market, symbol)
    end = okx.market.now_ms()
    start = end - days * DAY_MS
    got = np.asarray(fam.ohlcv(okx.ex, SPEC, symbol, "1h", price, start, end))  # type: ignore[arg-type]
    want = _expected_candles(okx.market, inst, price, HOUR_MS, start, end)
    assert got.shape == want.shape == (days * 24, 6)
    np.testing.assert_array_equal(got[:, 0], want[:, 0])
    np.testing.assert_allclose(got[:, 1:], want[:, 1:], rtol=REL, atol=0)
    assert okx.log.by_path() == {("okx", endpoint): requests}
    if price == "index":
        assert {r.query["instId"] for r in okx.log.rows()} == {sim_okx.inst_family(inst)}


def test_ohlcv_daily_bars_are_utc_aligned(okx: Client) -> None:
    inst = _inst(okx.market, "ETH/USDT:USDT")
    end = okx.market.now_ms()
    start = end - 400 * DAY_MS
    got = np.asarray(fam.ohlcv(okx.ex, SPEC, "ETH/USDT:USDT", "1d", "mark", start, end))
    want = _expected_candles(okx.market, inst, "mark", DAY_MS, start, end)
    np.testing.assert_allclose(got, want, rtol=REL, atol=0)
    assert {r.query["bar"] for r in okx.log.rows()} == {"1Dutc"}
    assert okx.log.count() == 4


def test_ohlcv_same_candle_from_two_windows(okx: Client) -> None:
    now = okx.market.now_ms()
    t = now // HOUR_MS * HOUR_MS - 500 * HOUR_MS
    a = fam.ohlcv(okx.ex, SPEC, "SOL/USDT:USDT", "1h", "last", t - 3 * DAY_MS, t)
    b = fam.ohlcv(okx.ex, SPEC, "SOL/USDT:USDT", "1h", "last", t - 77 * HOUR_MS, t + 40 * DAY_MS)
    row_a = next(r for r in a if r[0] == t)
    row_b = next(r for r in b if r[0] == t)
    assert row_a == row_b
    assert a[-1][0] == t and b[0][0] == t - 77 * HOUR_MS and b[-1][0] == now // HOUR_MS * HOUR_MS


def test_ohlcv_includes_the_forming_candle_at_its_current_value(okx: Client) -> None:
    now = okx.market.now_ms()
    got = fam.ohlcv(okx.ex, SPEC, "BTC/USDT:USDT", "15m", "mark", now - DAY_MS, now)
    assert got[-1][0] == now // (15 * 60_000) * (15 * 60_000)
    assert got[-1][4] == pytest.approx(_at(okx.market, _inst(okx.market, "BTC/USDT:USDT"), "mark", now), rel=REL)


def test_ohlcv_premium_index_is_not_supported(okx: Client) -> None:
    with pytest.raises(ccxt.NotSupported) as exc:
        fam.ohlcv(okx.ex, SPEC, "BTC/USDT:USDT", "1h", "premium_index", 0, 1)
    assert isinstance(errors.translate(exc.value, venue="okx"), errors.UnsupportedError)
    assert okx.log.count() == 0


def test_ohlcv_refuses_a_window_too_large_to_page(okx: Client) -> None:
    now = okx.market.now_ms()
    with pytest.raises(ccxt.BadRequest):
        fam.ohlcv(okx.ex, SPEC, "BTC/USDT:USDT", "1m", "last", now - 365 * DAY_MS, now)
    assert okx.log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# The simulated exchange's own contract: caps, cursors, error answers


def test_sim_caps_and_orders_like_okx(okx: Client) -> None:
    now = okx.market.now_ms()
    frh = okx.ex.publicGetPublicFundingRateHistory({"instId": "BTC-USDT-SWAP", "limit": "400"})["data"]
    times = [int(r["fundingTime"]) for r in frh]
    assert len(times) == 100 and times == sorted(times, reverse=True)
    assert isinstance(frh[0]["realizedRate"], str)
    hist = okx.ex.publicGetMarketHistoryCandles({"instId": "BTC-USDT-SWAP", "bar": "1H", "limit": "300"})["data"]
    assert len(hist) == 100 and int(hist[0][0]) == now // HOUR_MS * HOUR_MS and hist[0][-1] == "0"
    recent = okx.ex.publicGetMarketCandles(
        {"instId": "BTC-USDT-SWAP", "bar": "1H", "after": str(now - 1500 * HOUR_MS)})["data"]
    assert recent == []  # beyond the latest 1,440 bars: only history-candles has them
    older = okx.ex.publicGetPublicFundingRateHistory(
        {"instId": "BTC-USDT-SWAP", "after": str(times[-1]), "before": str(times[-1] - 3 * 8 * HOUR_MS)})["data"]
    assert [int(r["fundingTime"]) for r in older] == [times[-1] - 8 * HOUR_MS, times[-1] - 16 * HOUR_MS]


def test_sim_unknown_instrument_and_path(okx: Client) -> None:
    with pytest.raises(ccxt.BadSymbol):
        okx.ex.publicGetPublicFundingRateHistory({"instId": "DOGE-USDT-SWAP"})
    with pytest.raises(ccxt.BadSymbol):
        okx.ex.publicGetMarketIndexTickers({"instId": "DOGE-USD"})
    with pytest.raises(ccxt.BadRequest):
        okx.ex.publicGetMarketCandles({"instId": "BTC-USDT-SWAP", "bar": "1D"})  # HK-time bars not simulated
    with pytest.raises(ccxt.ExchangeError) as exc:
        okx.ex.publicGetPublicOptSummary({"uly": "BTC-USD"})  # a real OKX path the simulation does not serve
    assert type(errors.translate(exc.value)) is errors.DataSourceError


def test_sim_expired_future_keeps_its_history(okx: Client) -> None:
    expiry = last_friday(2026, 9)  # the September quarterly, expired before the frozen now
    inst = okx.market.find("okx", base="BTC", quote="USD", kind="future", expiry_ms=expiry)
    assert sim_okx.inst_id(inst) == "BTC-USD-260925"
    rows = okx.ex.publicGetMarketHistoryMarkPriceCandles({"instId": "BTC-USD-260925", "bar": "1H"})["data"]
    assert int(rows[0][0]) == expiry - HOUR_MS  # the last candle before settlement
    want = okx.market.candles(inst, "mark", HOUR_MS, expiry - 100 * HOUR_MS, expiry)
    np.testing.assert_allclose([float(r[4]) for r in rows[::-1]], want[:, 4], rtol=REL)
    with pytest.raises(ccxt.BadSymbol):
        okx.ex.publicGetMarketTicker({"instId": "BTC-USD-260925"})  # no longer trading
    with pytest.raises(ccxt.BadSymbol):
        okx.ex.publicGetMarketHistoryCandles({"instId": "BTC-USD-260926"})  # not an expiry date


# ---------------------------------------------------------------------------------------------------------
# Faults: each maps to the ccxt class OKX's answer maps to, and to our hierarchy


def _calls(c: Client) -> dict[str, Callable[[], Any]]:
    now = c.market.now_ms()
    contracts = fam.contracts(c.ex, SPEC, "BTC")
    perps = [x for x in contracts if x.kind == "perp"]
    return {
        "quotes": lambda: fam.quotes(c.ex, SPEC, "BTC", contracts),
        "funding_now": lambda: fam.funding_now(c.ex, SPEC, perps),
        "funding_history": lambda: fam.funding_history(c.ex, SPEC, "BTC/USD:BTC", now - 30 * DAY_MS, now),
        "ohlcv": lambda: fam.ohlcv(c.ex, SPEC, "BTC/USD:BTC", "1h", "mark", now - 2 * DAY_MS, now),
    }


FAULTS = [
    ("timeout", ccxt.RequestTimeout, errors.TemporaryError),
    ("rate_limit", ccxt.RateLimitExceeded, errors.RateLimitedError),  # HTTP 429 + code 50011
    ("ban", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # edge 403 page: OKX has no ban code
    ("server_error", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # HTTP 503 + code 50026
    ("down", ccxt.NetworkError, errors.TemporaryError),
    ("malformed", ccxt.BadResponse, errors.BadResponseError),  # ccxt alone would return empty results
]


@pytest.mark.parametrize("call", ["quotes", "funding_now", "funding_history", "ohlcv"])
@pytest.mark.parametrize(("kind", "ccxt_cls", "ours"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_map_to_ccxt_and_our_errors(
    okx: Client, call: str, kind: str, ccxt_cls: type[Exception], ours: type[errors.DataSourceError]
) -> None:
    fn = _calls(okx)[call]
    okx.faults.add(Fault(kind, venue="okx"))  # type: ignore[arg-type]
    with pytest.raises(ccxt_cls) as exc:
        fn()
    err = errors.translate(exc.value, venue="okx")
    assert type(err) is ours and err.venue == "okx"


class _FailNth(sim_okx.OkxHandler):
    """Answers normally except for the n-th request after ``arm()``: OKX's 503/50026."""

    def __init__(self, market: SimMarket, nth: int) -> None:
        super().__init__("okx", market)
        self.nth, self.calls = nth, -10**9

    def arm(self) -> None:
        self.calls = 0

    def handle(self, req: Any) -> Any:
        self.calls += 1
        return self.error("server_error", req) if self.calls == self.nth else super().handle(req)


@pytest.mark.parametrize("call", ["quotes", "funding_history", "ohlcv"])
def test_a_failing_later_page_raises_instead_of_returning_part(market: SimMarket, call: str) -> None:
    handler = _FailNth(market, nth=3)
    c = _client(market, handler)
    now = market.now_ms()
    fn = {
        "quotes": lambda: fam.quotes(c.ex, SPEC, "BTC", fam.contracts(c.ex, SPEC, "BTC")),
        "funding_history": lambda: fam.funding_history(c.ex, SPEC, "BTC/USD:BTC", now - 365 * DAY_MS, now),
        "ohlcv": lambda: fam.ohlcv(c.ex, SPEC, "BTC/USD:BTC", "1h", "mark", now - 30 * DAY_MS, now),
    }[call]
    handler.arm()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        fn()
    assert handler.calls == 3
    assert fn()  # the next try answers in full


@pytest.mark.parametrize("call", ["quotes", "funding_now"])
def test_empty_answers_are_null_responses_for_snapshots(okx: Client, call: str) -> None:
    okx.faults.add(Fault("empty", venue="okx"))
    with pytest.raises(ccxt.NullResponse) as exc:
        _calls(okx)[call]()
    assert isinstance(errors.translate(exc.value), errors.EmptyResultError)


@pytest.mark.parametrize("call", ["funding_history", "ohlcv"])
def test_empty_answers_end_history_loops_with_no_rows(okx: Client, call: str) -> None:
    okx.faults.add(Fault("empty", venue="okx"))
    assert _calls(okx)[call]() == []
    assert okx.log.count() == 1


def test_latency_fault_answers_normally(okx: Client) -> None:
    plain = _calls(okx)["funding_history"]()
    okx.faults.add(Fault("latency", venue="okx", latency_ms=1.0))
    assert _calls(okx)["funding_history"]() == plain


def test_maintenance_answer_is_on_maintenance(market: SimMarket) -> None:
    c = _client(market)
    c.ex.session.adapters["https://"].handler.maintenance = True
    with pytest.raises(ccxt.OnMaintenance) as exc:
        _calls(c)["funding_now"]()
    assert type(errors.translate(exc.value)) is errors.TemporaryError


def test_fault_during_load_markets(market: SimMarket) -> None:
    faults = FaultPlan([Fault("rate_limit", venue="okx", path="*/instruments")])
    ex = demo_client("okx", market, faults=faults)
    with pytest.raises(ccxt.RateLimitExceeded):
        ex.load_markets()


# ---------------------------------------------------------------------------------------------------------
# Another scenario


def test_crash_scenario_backwardation_and_negative_funding(market_factory: Callable[..., SimMarket]) -> None:
    market = market_factory("crash")
    c = _client(market)
    now = market.now_ms()
    contracts = fam.contracts(c.ex, SPEC, "BTC")
    quotes = {q.symbol: q for q in fam.quotes(c.ex, SPEC, "BTC", contracts)}
    longest = max((x for x in contracts if x.kind == "future"), key=lambda x: x.expiry_ms or 0)
    assert quotes[longest.symbol].mark is not None and quotes[longest.symbol].index is not None
    assert quotes[longest.symbol].mark < quotes[longest.symbol].index  # backwardation
    for q in quotes.values():
        assert q.mark == pytest.approx(_at(market, _inst(market, q.symbol), "mark", now), rel=REL)
    perps = [x for x in contracts if x.kind == "perp"]
    for f in fam.funding_now(c.ex, SPEC, perps):
        assert f.rate is not None and f.rate < 0
        assert f.rate == pytest.approx(market.funding_estimate(_inst(market, f.symbol)), rel=REL)
    c.log.clear()
    inst = _inst(market, "BTC/USDT:USDT")
    got = _check_history(c, inst, now - 30 * DAY_MS, now)
    assert min(p.rate for p in got) < 0
