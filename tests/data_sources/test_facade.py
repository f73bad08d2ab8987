"""The facade over all six venues: frames equal the simulated market's values; caching; failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from data_sources.cache import DataCache
from data_sources.config import DEFAULT_TTLS, Settings
from data_sources.errors import DataSourceError, InvalidQueryError, UnsupportedError
from data_sources.facade import MarketData
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimInstrument, SimMarket
from data_sources.simulated.market import PROXY_ASSETS
from data_sources.source import build_demo
from tests.conftest import FROZEN_NOW_MS

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def md(market: SimMarket, clock: Clock) -> Iterator[MarketData]:
    settings = Settings(source="demo", retry_backoff_s=0.001)
    cache = DataCache({k: (v, 512) for k, v in DEFAULT_TTLS.items()}, timer=clock)
    facade = build_demo(settings, market=market, faults=FaultPlan(), request_log=RequestLog(), cache=cache)
    yield facade
    facade.close()


def sim_instrument(market: SimMarket, row: pd.Series) -> SimInstrument:
    expiry = None if pd.isna(row["expiry"]) else int(row["expiry"].value // 1_000_000)
    kind = row["kind"]
    matches = [
        i
        for i in market.instruments(row["venue"])
        if i.base == row["base"] and i.kind == kind and i.expiry_ms == expiry and i.linear == row["linear"]
        and (i.settle == row["settle"])
    ]
    assert len(matches) == 1, (row["venue"], row["symbol"], matches)
    return matches[0]


def assert_tidy(frame: pd.DataFrame, time_cols: tuple[str, ...], float_cols: tuple[str, ...]) -> None:
    for c in time_cols:
        assert str(frame[c].dtype) in ("datetime64[ns, UTC]", "datetime64[ms, UTC]", "datetime64[us, UTC]"), c
    for c in float_cols:
        assert frame[c].dtype == np.float64, c


# -- term structure -----------------------------------------------------------------------------------------


def test_listed_bases_equal_the_simulated_market_and_cost_no_extra_request(md: MarketData, market: SimMarket) -> None:
    md.term_structure("BTC")  # loads every venue's markets
    before = md.request_log.count()
    res = md.listed()
    assert md.request_log.count() == before  # read off the loaded markets
    assert res.errors == {} and list(res.frame.columns) == ["venue", "base", "perps", "futures"]
    got = {(r.venue, r.base): (r.perps, r.futures) for r in res.frame.itertuples()}
    expected: dict[tuple[str, str], list[int]] = {}
    for venue in md.venues:
        for inst in market.instruments(venue):
            # Hyperliquid's HIP-3 perps track gold and the Nasdaq-100: proxies, not crypto bases
            if inst.kind in ("perp", "future") and inst.base not in PROXY_ASSETS:
                expected.setdefault((venue, inst.base), [0, 0])[inst.kind == "future"] += 1
    assert got == {k: tuple(v) for k, v in expected.items()}
    assert got[("deribit", "BTC")][1] > 0 and got[("okx", "SOL")] == (1, 0)  # SOL: perps only
    md.listed(venues=["okx"])
    assert md.request_log.count() == before  # cached


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_term_structure_equals_the_simulated_market(md: MarketData, market: SimMarket, base: str) -> None:
    res = md.term_structure(base)
    assert res.errors == {}
    assert res.source == "demo"
    frame = res.frame
    assert_tidy(frame, ("expiry", "ts", "fetched_at"),
                ("contract_size", "days_to_expiry", "last", "mark", "index"))
    assert not frame.duplicated(["venue", "symbol"]).any()
    for venue in md.venues:
        expected = [i for i in market.instruments(venue) if i.base == base and i.kind in ("perp", "future")]
        got = frame[frame["venue"] == venue]
        assert len(got) == len(expected), venue
    for _, row in frame.iterrows():
        inst = sim_instrument(market, row)
        t = np.array([int(row["ts"].value // 1_000_000)])
        assert row["mark"] == pytest.approx(market.price(inst, "mark", t)[0], rel=1e-9), row["symbol"]
        assert row["contract_size"] == inst.contract_size, row["symbol"]
        if not np.isnan(row["last"]):
            assert row["last"] == pytest.approx(market.price(inst, "last", t)[0], rel=1e-9), row["symbol"]
        if not np.isnan(row["index"]):
            assert row["index"] == pytest.approx(market.index(inst.venue, base, t)[0], rel=1e-9), row["symbol"]
        if inst.kind == "future":
            assert row["days_to_expiry"] == pytest.approx((inst.expiry_ms - t[0]) / DAY_MS)
        else:
            assert np.isnan(row["days_to_expiry"]) and pd.isna(row["expiry"])
    # perps carry an index on every venue (the basis reference)
    assert frame.loc[frame["kind"] == "perp", "index"].notna().all()


def test_funding_now_covers_all_intervals(md: MarketData, market: SimMarket) -> None:
    res = md.funding_now(("BTC", "ETH", "SOL"))
    assert res.errors == {}
    frame = res.frame
    assert_tidy(frame, ("next_funding_time", "ts", "fetched_at"), ("rate", "interval_hours", "predicted_rate"))
    assert {1.0, 4.0, 8.0} <= set(frame["interval_hours"])
    n_perps = sum(1 for v in md.venues for i in market.instruments(v)
                  if i.kind == "perp" and i.base in ("BTC", "ETH", "SOL"))  # not Hyperliquid's HIP-3 proxies
    assert len(frame) == n_perps
    sol = frame[(frame["venue"] == "binanceusdm") & (frame["base"] == "SOL")].iloc[0]
    inst = market.find("binanceusdm", base="SOL", quote="USDT", kind="perp")
    assert sol["interval_hours"] == 4.0
    assert sol["rate"] == pytest.approx(market.funding_estimate(inst), rel=1e-9)
    assert sol["next_funding_time"] == pd.Timestamp(market.next_funding_ms(inst), unit="ms", tz="UTC")


def test_spot(md: MarketData, market: SimMarket) -> None:
    res = md.spot(("BTC", "ETH", "SOL"))
    assert list(res.frame["base"]) == ["BTC", "ETH", "SOL"]
    btc = market.find("binance", base="BTC", quote="USDT", kind="spot")
    t = np.array([int(res.frame["ts"].iloc[0].value // 1_000_000)])
    assert res.frame["last"].iloc[0] == pytest.approx(market.price(btc, "last", t)[0], rel=1e-9)


# -- funding history ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "symbol", "base", "quote", "hours"),
    [
        ("bybit", "SOL/USDT:USDT", "SOL", "USDT", 1),
        ("binanceusdm", "SOL/USDT:USDT", "SOL", "USDT", 4),
        ("okx", "BTC/USDT:USDT", "BTC", "USDT", 8),
        ("binancecoinm", "BTC/USD:BTC", "BTC", "USD", 8),
    ],
)
def test_one_year_of_funding_is_complete(md: MarketData, market: SimMarket, venue: str, symbol: str,
                                         base: str, quote: str, hours: int) -> None:
    start = FROZEN_NOW_MS - 365 * DAY_MS
    res = md.funding_history(venue, symbol, start)
    frame = res.frame
    inst = market.find(venue, base=base, quote=quote, kind="perp")
    times, rates = market.funding_settlements(inst, start, FROZEN_NOW_MS)
    assert len(frame) == len(times) == pytest.approx(365 * 24 / hours, abs=1)
    assert (frame["ts"].diff().dropna() == pd.Timedelta(hours=hours)).all()  # no gaps, no duplicates
    assert (frame["interval_hours"] == hours).all()
    np.testing.assert_allclose(frame["rate"].to_numpy(), rates, rtol=1e-9, atol=1e-15)


def test_deribit_history_is_not_over_counted(md: MarketData, market: SimMarket) -> None:
    start = FROZEN_NOW_MS - 365 * DAY_MS
    frame = md.funding_history("deribit", "BTC/USD:BTC", start).frame
    inst = market.find("deribit", base="BTC", quote="USD", kind="perp")
    rows = market.deribit_hourly(inst, start, FROZEN_NOW_MS)
    assert len(frame) == len(rows["timestamp"]) == pytest.approx(8760, abs=1)
    assert (frame["interval_hours"] == 1.0).all()
    # the year's funding is the sum of hourly accruals, i.e. 1/8 of the summed 8h-equivalent rows
    assert frame["rate"].sum() == pytest.approx(rows["interest_1h"].sum(), rel=1e-9)
    assert frame["rate"].sum() == pytest.approx(rows["interest_8h"].sum() / 8, rel=1e-2)


def test_history_until_pins_the_window(md: MarketData, market: SimMarket) -> None:
    until = FROZEN_NOW_MS - 10 * DAY_MS + 123
    start = until - 30 * DAY_MS
    frame = md.funding_history("okx", "BTC/USDT:USDT", start, until).frame
    assert frame["ts"].max() <= pd.Timestamp(until, unit="ms", tz="UTC")
    assert frame["ts"].min() >= pd.Timestamp(start, unit="ms", tz="UTC")
    # a later clock gives the same rows for the same pinned window (shared links stay true)
    later = SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS + 5 * DAY_MS)
    md2 = build_demo(Settings(source="demo"), market=later, faults=FaultPlan(), request_log=RequestLog())
    try:
        again = md2.funding_history("okx", "BTC/USDT:USDT", start, until).frame
    finally:
        md2.close()
    pd.testing.assert_frame_equal(frame, again)


def test_bad_history_queries(md: MarketData) -> None:
    with pytest.raises(InvalidQueryError, match="not listed"):
        md.funding_history("okx", "DOGE/USDT:USDT", FROZEN_NOW_MS - DAY_MS)
    future = md.term_structure("BTC", venues=["okx"]).frame.query("kind == 'future'")["symbol"].iloc[0]
    with pytest.raises(InvalidQueryError, match="not a perpetual"):
        md.funding_history("okx", future, FROZEN_NOW_MS - DAY_MS)
    with pytest.raises(InvalidQueryError, match="longer than"):
        md.funding_history("okx", "BTC/USDT:USDT", FROZEN_NOW_MS - 400 * DAY_MS)
    with pytest.raises(InvalidQueryError, match="empty"):
        md.funding_history("okx", "BTC/USDT:USDT", FROZEN_NOW_MS - DAY_MS, FROZEN_NOW_MS - 2 * DAY_MS)
    with pytest.raises(InvalidQueryError, match="not a valid time"):
        md.funding_history("okx", "BTC/USDT:USDT", "yesterday-ish")
    with pytest.raises(InvalidQueryError, match="unknown exchange"):
        md.funding_history("kraken", "BTC/USDT:USDT", FROZEN_NOW_MS - DAY_MS)


# -- OHLCV --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "symbol", "price"),
    [
        ("binanceusdm", "BTC/USDT:USDT", "mark"),
        ("binancecoinm", "BTC/USD:BTC", "index"),
        ("okx", "BTC/USDT:USDT", "last"),
        ("bybit", "BTC/USDT:USDT", "premium_index"),
        ("deribit", "BTC/USD:BTC", "last"),
        ("binance", "BTC/USDT", "last"),
    ],
)
def test_ohlcv_equals_market(md: MarketData, market: SimMarket, venue: str, symbol: str, price: str) -> None:
    start = FROZEN_NOW_MS - 60 * DAY_MS
    until = FROZEN_NOW_MS - 20 * DAY_MS
    frame = md.ohlcv(venue, symbol, "1h", start, until, price=price).frame
    base, rest = symbol.split("/")
    quote = rest.split(":")[0]
    kind = "spot" if ":" not in symbol else "perp"
    inst = market.find(venue, base=base, quote=quote, kind=kind)
    expected = market.candles(inst, price, HOUR_MS, start, until)
    assert len(frame) == len(expected) == 40 * 24  # opens from 14:00 (start 13:57) to 13:00
    opens_ms = np.array([t.value // 1_000_000 for t in frame["ts"]])
    np.testing.assert_array_equal(opens_ms, expected[:, 0].astype(np.int64))
    np.testing.assert_allclose(frame[["open", "high", "low", "close"]].to_numpy(), expected[:, 1:5], rtol=1e-9)


def test_ohlcv_unsupported_and_invalid(md: MarketData) -> None:
    with pytest.raises(UnsupportedError):
        md.ohlcv("deribit", "BTC/USD:BTC", "1h", FROZEN_NOW_MS - DAY_MS, price="mark")
    with pytest.raises(InvalidQueryError, match="timeframe"):
        md.ohlcv("okx", "BTC/USDT:USDT", "7m", FROZEN_NOW_MS - DAY_MS)
    with pytest.raises(InvalidQueryError, match="price must be"):
        md.ohlcv("okx", "BTC/USDT:USDT", "1h", FROZEN_NOW_MS - DAY_MS, price="vwap")


# -- caching ------------------------------------------------------------------------------------------------


def test_repeat_within_ttl_makes_no_request(md: MarketData, clock: Clock) -> None:
    md.term_structure("BTC")
    first = md.request_log.count()
    assert first > 0
    md.term_structure("BTC")
    md.term_structure("BTC", venues=["okx", "deribit"])
    assert md.request_log.count() == first
    clock.t += DEFAULT_TTLS["quotes"] + 1
    md.term_structure("BTC")
    assert md.request_log.count() > first  # expired: refetched (markets are not reloaded)
    assert md.request_log.count("okx", "*/instruments") == 2  # SWAP + FUTURES, loaded once


class Moving:
    """A facade whose market clock and cache clock move together under the test's control."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms
        self.clock = Clock()
        market = SimMarket(seed=7, scenario="normal", clock=lambda: self.now)
        cache = DataCache({k: (v, 512) for k, v in DEFAULT_TTLS.items()}, timer=self.clock,
                          wall_clock=lambda: pd.Timestamp(self.now, unit="ms", tz="UTC").to_pydatetime())
        self.md = build_demo(Settings(source="demo"), market=market, faults=FaultPlan(), request_log=RequestLog(),
                             cache=cache)
        self.market = market

    def advance(self, seconds: float) -> None:
        self.clock.t += seconds
        self.now += int(seconds * 1000)


@pytest.fixture
def moving(request: pytest.FixtureRequest) -> Iterator[Moving]:
    """``Moving`` starting ``request.param`` seconds after an hour (default 30 min)."""
    after_hour_s = getattr(request, "param", 1800)
    m = Moving(FROZEN_NOW_MS // HOUR_MS * HOUR_MS + after_hour_s * 1000)
    yield m
    m.md.close()


@pytest.mark.parametrize(("moving", "refetched"), [(30, True), (1800, False)], indirect=["moving"])
def test_open_ended_funding_history_is_rechecked_soon_after_a_settlement(moving: Moving, refetched: bool) -> None:
    """Fetched 30 s after the hour, the newest settlement may not be published yet: kept 30 s, not an hour."""
    start = moving.now - 2 * DAY_MS
    moving.md.funding_history("binanceusdm", "BTC/USDT:USDT", start)
    first = moving.md.request_log.count()
    moving.advance(45)
    moving.md.funding_history("binanceusdm", "BTC/USDT:USDT", start)
    assert (moving.md.request_log.count() > first) is refetched


def test_open_ended_candles_rerequest_only_the_forming_one(moving: Moving) -> None:
    """A 30-day window up to now, read again a minute later: one request for the forming candle, not the
    window's pages again; the rows still equal the market's, and the age is that of the newest part."""
    md, inst = moving.md, moving.market.find("okx", base="BTC", quote="USDT", kind="perp")
    start = moving.now - 30 * DAY_MS
    first = md.ohlcv("okx", "BTC/USDT:USDT", "1h", start, price="mark")
    cold = md.request_log.count("okx", "*candles*")
    assert cold > 2  # OKX pages 100-300 candles: a 30-day hourly window takes several requests
    moving.advance(60)  # past the forming candle's 30 s TTL, same hour
    again = md.ohlcv("okx", "BTC/USDT:USDT", "1h", start, price="mark")
    assert md.request_log.count("okx", "*candles*") == cold + 1
    expected = moving.market.candles(inst, "mark", HOUR_MS, start, moving.now)
    opens_ms = np.array([t.value // 1_000_000 for t in again.frame["ts"]])
    np.testing.assert_array_equal(opens_ms, expected[:, 0].astype(np.int64))
    np.testing.assert_allclose(again.frame["close"].to_numpy()[:-1], expected[:-1, 4], rtol=1e-9)
    assert len(again.frame) == len(first.frame) == len(expected) == 30 * 24  # 719 closed, 1 forming
    # the age that matters is the forming candle's, fetched just now (the closed part is a minute old)
    assert again.fetched_at == pd.Timestamp(moving.now, unit="ms", tz="UTC")
    assert again.fetched_at - first.fetched_at == pd.Timedelta(seconds=60)

    moving.advance(3600)  # next hour: the closed part is a new entry, fetched once
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start, price="mark")
    after_hour = md.request_log.count("okx", "*candles*")
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start, price="mark")
    assert md.request_log.count("okx", "*candles*") == after_hour > cold + 1


@pytest.mark.parametrize("moving", [20], indirect=True)
def test_candles_just_closed_are_rechecked_soon(moving: Moving) -> None:
    """20 s after the hour, the candle that just closed may still be revised: the closed part lives 30 s."""
    md, start = moving.md, moving.now - 2 * DAY_MS
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start)
    cold = md.request_log.count("okx", "*candles*")
    assert cold == 2  # 47 closed candles in one page, and the forming one
    moving.advance(35)
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start)
    assert md.request_log.count("okx", "*candles*") == 2 * cold  # forming and closed parts both re-read
    moving.advance(60)  # 115 s after the close: read once more, now final, and kept for the hour
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start)
    assert md.request_log.count("okx", "*candles*") == 3 * cold
    moving.advance(60)
    md.ohlcv("okx", "BTC/USDT:USDT", "1h", start)
    assert md.request_log.count("okx", "*candles*") == 3 * cold + 1  # only the forming candle


def test_twenty_threads_make_one_upstream_fetch(md: MarketData, market: SimMarket) -> None:
    # reference: how many requests one cold call takes
    single = build_demo(Settings(source="demo"), market=market, faults=FaultPlan(), request_log=RequestLog())
    try:
        single.term_structure("ETH")
        one_call = single.request_log.count()
    finally:
        single.close()
    barrier = threading.Barrier(20)
    results: list[int] = []

    def view() -> None:
        barrier.wait()
        results.append(len(md.term_structure("ETH").frame))

    threads = [threading.Thread(target=view) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and len(set(results)) == 1
    assert md.request_log.count() == one_call


def test_stale_value_is_served_with_its_age(md: MarketData, clock: Clock) -> None:
    good = md.term_structure("BTC", venues=["okx", "bybit"])
    assert good.stale == {}
    clock.t += DEFAULT_TTLS["quotes"] + 20
    md.faults.add(Fault("server_error", venue="okx"))
    res = md.term_structure("BTC", venues=["okx", "bybit"])
    assert set(res.stale) == {"okx"}
    assert res.stale["okx"] == pytest.approx(DEFAULT_TTLS["quotes"] + 20, abs=1)
    assert "okx" in res.errors and "old" in res.errors["okx"]
    pd.testing.assert_frame_equal(res.frame[res.frame["venue"] == "okx"].reset_index(drop=True),
                                  good.frame[good.frame["venue"] == "okx"].reset_index(drop=True))


def test_one_venue_down_others_answer(md: MarketData) -> None:
    md.faults.add(Fault("down", venue="bybit"))
    res = md.term_structure("BTC")
    assert set(res.errors) == {"bybit"}
    assert "connection" in res.errors["bybit"].lower()
    assert set(res.frame["venue"]) == set(md.venues) - {"bybit"}


def test_all_venues_down_raises_one_clear_error(md: MarketData) -> None:
    md.faults.add(Fault("down"))
    with pytest.raises(DataSourceError, match="no exchange answered"):
        md.term_structure("BTC")


def test_callers_get_copies(md: MarketData) -> None:
    a = md.term_structure("BTC").frame
    a.loc[:, "mark"] = -1.0
    b = md.term_structure("BTC").frame
    assert (b["mark"] > 0).all()
