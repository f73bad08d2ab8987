"""Hyperliquid end to end: the real ccxt ``hyperliquid`` client against the simulated ``POST /info``.

Every expected number comes from ``SimMarket`` itself (prices, settlements, premiums, candles), every
request count from the transport's ``RequestLog`` (Hyperliquid has one path, so requests are told apart by
their JSON body's ``type``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import ccxt
import numpy as np
import pandas as pd
import pytest

from data_sources import errors
from data_sources.cache import DataCache
from data_sources.clients import build_client, client_options
from data_sources.config import DEFAULT_TTLS, Settings
from data_sources.facade import MarketData
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimTransport, demo_client, mount
from data_sources.simulated import hyperliquid as sim_hl
from data_sources.simulated.market import DAY_MS, HIP3_LISTED_MS, HOUR_MS, SimInstrument, SimMarket
from data_sources.simulated.transport import SimRequest, SimResponse
from data_sources.source import build_demo
from data_sources.venues import DERIVATIVE_VENUES, VENUES
from data_sources.venues import hyperliquid as fam
from tests.conftest import FROZEN_NOW_MS

SPEC = VENUES["hyperliquid"]
REL = 1e-12
MAIN = ("BTC/USDC:USDC", "ETH/USDC:USDC", "SOL/USDC:USDC")
HIP3 = ("XYZ-XYZ100/USDC:USDC", "XYZ-GOLD/USDC:USDC")


@dataclasses.dataclass
class Client:
    ex: Any
    log: RequestLog
    market: SimMarket
    faults: FaultPlan

    def types(self) -> list[str]:
        """The ``type`` of every request so far (with its dex, if any), in order."""
        out = []
        for r in self.log.rows():
            body = json.loads(r.body or "{}")
            out.append(body["type"] + (f":{body['dex']}" if body.get("dex") else ""))
        return out

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in (json.loads(r.body or "{}") for r in self.log.rows()) if b.get("type") == kind]


def _client(market: SimMarket, handler: sim_hl.HyperliquidHandler | None = None, *, load: bool = True) -> Client:
    log, faults = RequestLog(), FaultPlan()
    if handler is None:
        ex = demo_client("hyperliquid", market, log=log, faults=faults)
    else:
        ex = build_client("hyperliquid", {"enableRateLimit": False})
        ex.milliseconds = market.now_ms
        mount(ex, SimTransport(handler, log=log, faults=faults))
    if load:
        ex.load_markets()
    return Client(ex, log, market, faults)


@pytest.fixture(scope="module")
def market() -> SimMarket:
    """conftest's normal market, built once here: it is deterministic and these tests only read it."""
    return SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS)


@pytest.fixture
def hl(market: SimMarket) -> Client:
    c = _client(market)
    c.log.clear()
    return c


def _inst(market: SimMarket, symbol: str) -> SimInstrument:
    base = symbol.split("/")[0]
    return market.find("hyperliquid", base=base, quote="USDC", kind="perp")


def _at(market: SimMarket, inst: SimInstrument, field: str, t: int) -> float:
    return float(market.price(inst, field, np.asarray([t]))[0])


# ---------------------------------------------------------------------------------------------------------
# Markets and contracts


def test_load_markets_is_exactly_the_four_info_calls(market: SimMarket) -> None:
    opts = client_options(SPEC)["options"]["fetchMarkets"]
    assert opts["types"] == ["swap", "hip3"] and opts["hip3"]["dexes"] == ["xyz"]
    c = _client(market)
    assert c.types() == ["spotMeta", "metaAndAssetCtxs", "perpDexs", "metaAndAssetCtxs:xyz"]
    assert {(r.method, r.path) for r in c.log.rows()} == {("POST", "/info")}
    c.ex.load_markets()
    assert c.log.count() == 4  # loaded once


def test_markets_main_dex_and_hip3(hl: Client) -> None:
    markets = hl.ex.markets
    assert set(markets) == {*MAIN, *HIP3}
    for symbol in (*MAIN, *HIP3):
        m = markets[symbol]
        assert (m["type"], m["linear"], m["quote"], m["settle"], m["contractSize"]) == ("swap", True, "USDC",
                                                                                        "USDC", 1.0)
        coin = m["baseName"]
        assert m["limits"]["leverage"]["max"] == sim_hl.MAX_LEVERAGE[coin]
        assert m["precision"]["amount"] == 10.0 ** -sim_hl.SZ_DECIMALS[coin]
    assert [markets[s]["limits"]["leverage"]["max"] for s in MAIN] == [40, 25, 20]
    # main dex: asset index = position in the universe; HIP-3 dex 1: 110000 + position, marked with its dex
    assert [markets[s]["id"] for s in MAIN] == ["0", "1", "2"]
    assert [markets[s]["id"] for s in HIP3] == ["110000", "110001"]
    for symbol in HIP3:
        info = markets[symbol]["info"]
        assert info["hip3"] is True and info["dex"] == "xyz" and info["onlyIsolated"] is True
    assert (markets["XYZ-XYZ100/USDC:USDC"]["baseName"], markets["XYZ-GOLD/USDC:USDC"]["baseName"]) == (
        "xyz:XYZ100", "xyz:GOLD")
    assert all(markets[s]["info"].get("hip3") is None for s in MAIN)


@pytest.mark.parametrize("base", ["BTC", "ETH", "SOL"])
def test_contracts_are_the_main_dex_perp(hl: Client, base: str) -> None:
    (got,) = fam.contracts(hl.ex, SPEC, base)
    inst = _inst(hl.market, f"{base}/USDC:USDC")
    assert got.symbol == f"{base}/USDC:USDC"
    assert (got.kind, got.linear, got.quote, got.settle, got.contract_size, got.expiry_ms) == (
        "perp", True, inst.quote, inst.settle, inst.contract_size, None)
    assert hl.log.count() == 0  # pure: from the loaded markets only


@pytest.mark.parametrize("base", ["XYZ-XYZ100", "XYZ-GOLD", "XYZ", "GOLD"])
def test_hip3_markets_are_never_a_crypto_base(hl: Client, base: str) -> None:
    assert fam.contracts(hl.ex, SPEC, base) == []


def test_contracts_leave_out_delisted_coins(hl: Client) -> None:
    hl.ex.markets["SOL/USDC:USDC"]["active"] = False  # what ccxt makes of Hyperliquid's isDelisted
    assert fam.contracts(hl.ex, SPEC, "SOL") == []


# ---------------------------------------------------------------------------------------------------------
# Quotes and funding now


def test_quotes_equal_the_market_in_one_call(hl: Client) -> None:
    contracts = [c for b in ("BTC", "ETH", "SOL") for c in fam.contracts(hl.ex, SPEC, b)]
    now = hl.market.now_ms()
    got = fam.quotes(hl.ex, SPEC, "BTC", contracts)
    assert [q.symbol for q in got] == list(MAIN)
    for q in got:
        inst = _inst(hl.market, q.symbol)
        assert q.last == pytest.approx(_at(hl.market, inst, "last", now), rel=REL)  # midPx
        assert q.mark == pytest.approx(_at(hl.market, inst, "mark", now), rel=REL)  # markPx
        index = float(hl.market.index("hyperliquid", inst.base, np.asarray([now]))[0])
        assert q.index == pytest.approx(index, rel=REL)  # oraclePx
        assert q.ts_ms == now
    assert hl.types() == ["metaAndAssetCtxs"]


def test_funding_now_is_the_hourly_estimate_in_one_call(hl: Client) -> None:
    perps = [c for b in ("BTC", "ETH", "SOL") for c in fam.contracts(hl.ex, SPEC, b)]
    got = {f.symbol: f for f in fam.funding_now(hl.ex, SPEC, perps)}
    assert set(got) == set(MAIN)
    for symbol, f in got.items():
        inst = _inst(hl.market, symbol)
        assert f.rate == pytest.approx(hl.market.funding_estimate(inst), rel=REL)
        assert f.interval_hours == 1.0 and not f.interval_inferred  # stated, not guessed
        assert f.next_funding_ms == hl.market.next_funding_ms(inst) == FROZEN_NOW_MS // HOUR_MS * HOUR_MS + HOUR_MS
        assert f.predicted_rate is None and f.ts_ms == hl.market.now_ms()
    assert hl.types() == ["metaAndAssetCtxs"]


def test_funding_now_of_hip3_perps_asks_their_dex(hl: Client) -> None:
    perps = [dataclasses.replace(fam.contracts(hl.ex, SPEC, "BTC")[0], symbol=s, base=s.split("/")[0]) for s in HIP3]
    got = fam.funding_now(hl.ex, SPEC, perps)
    assert [f.symbol for f in got] == list(HIP3)
    for f in got:
        assert f.rate == pytest.approx(hl.market.funding_estimate(_inst(hl.market, f.symbol)), rel=REL)
    assert hl.types() == ["metaAndAssetCtxs:xyz"]


# ---------------------------------------------------------------------------------------------------------
# Funding history


def _check_history(c: Client, symbol: str, start: int, end: int) -> list[Any]:
    got = fam.funding_history(c.ex, SPEC, symbol, start, end)
    times, rates = c.market.funding_settlements(_inst(c.market, symbol), start, end)
    assert [p.ts_ms for p in got] == times.tolist()  # every settlement, on the hour, ascending, unique
    np.testing.assert_allclose([p.rate for p in got], rates, rtol=REL, atol=0)
    assert {p.interval_hours for p in got} <= {1.0}
    return got


@pytest.mark.parametrize("symbol", ["BTC/USDC:USDC", "SOL/USDC:USDC", "XYZ-GOLD/USDC:USDC"])
def test_funding_history_of_a_year_is_every_hour_once(hl: Client, symbol: str) -> None:
    end = hl.market.now_ms()
    got = _check_history(hl, symbol, end - 365 * DAY_MS, end)
    assert len(got) == 8760
    assert set(np.diff([p.ts_ms for p in got])) == {HOUR_MS}  # no gaps
    assert hl.log.count() == 18  # pages of 500 rows, forward; the last one ends the walk
    starts = [b["startTime"] for b in hl.bodies("fundingHistory")]
    assert starts == sorted(starts) and len(set(starts)) == 18


def test_funding_history_rows_are_stamped_after_the_hour_and_floored(hl: Client) -> None:
    hour = FROZEN_NOW_MS // HOUR_MS * HOUR_MS - 10 * HOUR_MS
    raw = hl.ex.fetch_funding_rate_history("ETH/USDC:USDC", since=hour, params={"until": hour + 5 * HOUR_MS + 999})
    assert [r["timestamp"] // HOUR_MS * HOUR_MS for r in raw] == [hour + i * HOUR_MS for i in range(6)]
    assert all(0 < r["timestamp"] % HOUR_MS < 1000 for r in raw)  # a few ms after the hour, as live
    hl.log.clear()
    got = _check_history(hl, "ETH/USDC:USDC", hour, hour + 5 * HOUR_MS)  # edges inclusive
    assert (got[0].ts_ms, got[-1].ts_ms, len(got)) == (hour, hour + 5 * HOUR_MS, 6)
    assert hl.log.count() == 1


def test_funding_history_of_a_hip3_perp_starts_after_its_listing(hl: Client) -> None:
    got = _check_history(hl, "XYZ-XYZ100/USDC:USDC", HIP3_LISTED_MS - 30 * DAY_MS, HIP3_LISTED_MS + 30 * DAY_MS)
    assert got[0].ts_ms == HIP3_LISTED_MS + HOUR_MS and len(got) == 30 * 24
    assert hl.log.count() == 2


def test_funding_history_empty_reversed_and_future_windows(hl: Client) -> None:
    now = hl.market.now_ms()
    assert fam.funding_history(hl.ex, SPEC, "BTC/USDC:USDC", now, now - DAY_MS) == []
    assert fam.funding_history(hl.ex, SPEC, "BTC/USDC:USDC", now + HOUR_MS, now + DAY_MS) == []
    assert hl.log.count() == 0


def test_funding_history_refuses_unknown_symbols(hl: Client) -> None:
    with pytest.raises(ccxt.BadSymbol) as exc:
        fam.funding_history(hl.ex, SPEC, "DOGE/USDC:USDC", 0, 1)
    assert isinstance(errors.translate(exc.value, venue="hyperliquid"), errors.InvalidQueryError)
    assert hl.log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# OHLCV


def _expected(market: SimMarket, symbol: str, tf: int, start: int, end: int) -> np.ndarray:
    return market.candles(_inst(market, symbol), "last", tf, start, end)


def _assert_candles(got: list[list[float]], want: np.ndarray) -> None:
    arr = np.asarray(got)
    assert arr.shape == want.shape
    np.testing.assert_array_equal(arr[:, 0], want[:, 0])
    np.testing.assert_allclose(arr[:, 1:], want[:, 1:], rtol=REL, atol=0)


def test_ohlcv_300_days_of_hours_is_7200_candles_in_two_requests(hl: Client) -> None:
    end = hl.market.now_ms()
    start = end - 300 * DAY_MS
    got = fam.ohlcv(hl.ex, SPEC, "BTC/USDC:USDC", "1h", "last", start, end)
    want = _expected(hl.market, "BTC/USDC:USDC", HOUR_MS, start, end)
    assert len(want) == 7200
    _assert_candles(got, want)
    reqs = [b["req"] for b in hl.bodies("candleSnapshot")]
    assert len(reqs) == hl.log.count() == 2
    first = -(-start // HOUR_MS) * HOUR_MS
    assert [(r["coin"], r["interval"], r["startTime"]) for r in reqs] == [
        ("BTC", "1h", first), ("BTC", "1h", first + 5000 * HOUR_MS)]


@pytest.mark.parametrize("anchor", ["start", "end"])
def test_ohlcv_is_complete_whichever_end_a_lower_cap_keeps(market: SimMarket, anchor: str) -> None:
    handler = sim_hl.HyperliquidHandler("hyperliquid", market, candles_max=1000, candle_anchor=anchor)
    c = _client(market, handler)
    c.log.clear()
    end = market.now_ms()
    start = end - 300 * DAY_MS
    got = fam.ohlcv(c.ex, SPEC, "ETH/USDC:USDC", "1h", "last", start, end)
    _assert_candles(got, _expected(market, "ETH/USDC:USDC", HOUR_MS, start, end))
    assert c.log.count() == 8  # 5 answers of 1000 for the first 5,000-candle window, 3 for the 2,200 left


def test_ohlcv_stops_cleanly_at_the_live_retention_limit(market: SimMarket) -> None:
    handler = sim_hl.HyperliquidHandler("hyperliquid", market, candle_retention=5000)
    c = _client(market, handler)
    c.log.clear()
    end = market.now_ms()
    got = fam.ohlcv(c.ex, SPEC, "BTC/USDC:USDC", "1h", "last", end - 300 * DAY_MS, end)
    retained_from = end // HOUR_MS * HOUR_MS - 4999 * HOUR_MS
    _assert_candles(got, _expected(market, "BTC/USDC:USDC", HOUR_MS, retained_from, end))
    assert c.log.count() == 3  # two windows, and one look at the part of the first that no longer exists


def test_ohlcv_daily_nasdaq_proxy_starts_at_its_listing(hl: Client) -> None:
    end = hl.market.now_ms()
    got = fam.ohlcv(hl.ex, SPEC, "XYZ-XYZ100/USDC:USDC", "1d", "last", end - 900 * DAY_MS, end)
    assert got[0][0] == HIP3_LISTED_MS  # never padded before the listing
    _assert_candles(got, _expected(hl.market, "XYZ-XYZ100/USDC:USDC", DAY_MS, end - 900 * DAY_MS, end))
    assert [b["req"]["coin"] for b in hl.bodies("candleSnapshot")] == ["xyz:XYZ100"]


def test_ohlcv_includes_the_forming_candle_and_a_candle_is_the_same_from_two_windows(hl: Client) -> None:
    now = hl.market.now_ms()
    t = now // HOUR_MS * HOUR_MS - 50 * HOUR_MS
    a = fam.ohlcv(hl.ex, SPEC, "SOL/USDC:USDC", "15m", "last", t - DAY_MS, now)
    b = fam.ohlcv(hl.ex, SPEC, "SOL/USDC:USDC", "15m", "last", t, t + HOUR_MS)
    assert next(r for r in a if r[0] == t) == b[0]
    assert a[-1][0] == now // (15 * 60_000) * (15 * 60_000)
    assert a[-1][4] == pytest.approx(_at(hl.market, _inst(hl.market, "SOL/USDC:USDC"), "last", now), rel=REL)


def _premiums(market: SimMarket, symbol: str, tf: int, start: int, end: int) -> np.ndarray:
    """Premium candles from the settled hours' premiums: the candle at O holds settlements O+1h .. O+tf."""
    inst = _inst(market, symbol)
    first = -(-start // tf) * tf
    last = min(end, market.now_ms()) // tf * tf
    times, _ = market.funding_settlements(inst, first + HOUR_MS, last + tf)
    prem = market.premium("hyperliquid", inst.base, times)
    opens = (times - HOUR_MS) // tf * tf
    rows = []
    for o in np.unique(opens):
        p = prem[opens == o]
        rows.append([o, p[0], p.max(), p.min(), p[-1]])
    return np.asarray(rows, dtype=np.float64)


@pytest.mark.parametrize(("timeframe", "tf", "days"), [("1h", HOUR_MS, 20), ("4h", 4 * HOUR_MS, 60),
                                                        ("1d", DAY_MS, 365)])
@pytest.mark.parametrize("symbol", ["BTC/USDC:USDC", "XYZ-XYZ100/USDC:USDC"])
def test_premium_index_candles_are_the_funding_history_premiums(hl: Client, symbol: str, timeframe: str,
                                                                tf: int, days: int) -> None:
    end = hl.market.now_ms()
    start = end - days * DAY_MS
    got = np.asarray(fam.ohlcv(hl.ex, SPEC, symbol, timeframe, "premium_index", start, end))
    want = _premiums(hl.market, symbol, tf, start, end)
    np.testing.assert_array_equal(got[:, 0], want[:, 0])
    np.testing.assert_allclose(got[:, 1:5], want[:, 1:], rtol=REL, atol=0)
    assert np.isnan(got[:, 5]).all()  # no volume
    assert set(hl.types()) == {"fundingHistory"}
    assert hl.log.count() == -(-days * 24 // sim_hl.FUNDING_HISTORY_MAX)
    # the same numbers as the raw rows the venue sent: the newest settled hour closes the last candle
    raw = hl.ex.fetch_funding_rate_history(symbol, since=end - DAY_MS)
    assert float(raw[-1]["info"]["premium"]) == got[-1][4]
    if timeframe == "1h":  # each hour's candle is its settlement's premium
        by_hour = {r["timestamp"] // HOUR_MS * HOUR_MS: float(r["info"]["premium"]) for r in raw}
        assert all(by_hour[int(c[0]) + HOUR_MS] == c[1] == c[2] == c[3] == c[4] for c in got[-20:])


def test_premium_index_has_no_forming_hour_and_no_request_for_it(hl: Client) -> None:
    now = hl.market.now_ms()
    forming = now // HOUR_MS * HOUR_MS
    assert fam.ohlcv(hl.ex, SPEC, "BTC/USDC:USDC", "1h", "premium_index", forming, now) == []
    assert hl.log.count() == 0
    got = fam.ohlcv(hl.ex, SPEC, "BTC/USDC:USDC", "1h", "premium_index", forming - 3 * HOUR_MS, now)
    assert [r[0] for r in got] == [forming - 3 * HOUR_MS, forming - 2 * HOUR_MS, forming - HOUR_MS]


@pytest.mark.parametrize(("price", "timeframe"), [("mark", "1h"), ("index", "1d"), ("premium_index", "15m")])
def test_other_candles_are_not_supported(hl: Client, price: str, timeframe: str) -> None:
    with pytest.raises(ccxt.NotSupported) as exc:
        fam.ohlcv(hl.ex, SPEC, "BTC/USDC:USDC", timeframe, price, 0, 1)  # type: ignore[arg-type]
    assert isinstance(errors.translate(exc.value, venue="hyperliquid"), errors.UnsupportedError)
    assert hl.log.count() == 0


# ---------------------------------------------------------------------------------------------------------
# The simulated exchange's own contract: caps, order, formats, error answers


def test_sim_caps_orders_and_formats_like_hyperliquid(hl: Client) -> None:
    now = hl.market.now_ms()
    candles = hl.ex.publicPostInfo({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m",
                                                                      "startTime": now - 10 * DAY_MS,
                                                                      "endTime": now}})
    assert len(candles) == sim_hl.CANDLES_MAX and candles[0]["t"] == now - 10 * DAY_MS  # oldest first
    assert [c["t"] for c in candles] == sorted(c["t"] for c in candles)
    row = candles[0]
    assert set(row) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"} and row["T"] == row["t"] + 59_999
    assert all(isinstance(row[k], str) for k in "ochlv") and all(isinstance(row[k], int) for k in "tTn")
    funding = hl.ex.publicPostInfo({"type": "fundingHistory", "coin": "ETH", "startTime": now - 60 * DAY_MS})
    assert len(funding) == sim_hl.FUNDING_HISTORY_MAX
    assert [r["time"] for r in funding] == sorted(r["time"] for r in funding)
    assert set(funding[0]) == {"coin", "fundingRate", "premium", "time"} and funding[0]["coin"] == "ETH"
    meta, ctxs = hl.ex.publicPostInfo({"type": "metaAndAssetCtxs", "dex": ""})
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL"] and len(ctxs) == 3
    assert all(isinstance(ctxs[0][k], str) for k in ("funding", "markPx", "oraclePx", "midPx", "premium"))
    xyz_meta, _ = hl.ex.publicPostInfo({"type": "metaAndAssetCtxs", "dex": "xyz"})
    assert [u["name"] for u in xyz_meta["universe"]] == ["xyz:XYZ100", "xyz:GOLD"]
    assert xyz_meta["collateralToken"] == 0
    assert hl.ex.publicPostInfo({"type": "perpDexs"})[0] is None
    assert hl.ex.fetch_time() == now


def test_sim_error_answers(hl: Client) -> None:
    with pytest.raises(ccxt.ExchangeError, match="422 Unprocessable Entity Failed to deserialize") as exc:
        hl.ex.publicPostInfo({"type": "notAType"})
    assert type(errors.translate(exc.value)) is errors.DataSourceError
    with pytest.raises(ccxt.ExchangeError, match="422"):
        hl.ex.publicPostInfo({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "7m", "startTime": 0}})
    with pytest.raises(ccxt.ExchangeNotAvailable, match="500"):
        hl.ex.publicPostInfo({"type": "fundingHistory", "coin": "DOGE", "startTime": 0})
    h = sim_hl.HyperliquidHandler("hyperliquid", hl.market)
    req = SimRequest("hyperliquid", "POST", "/info", {}, '{"type": "meta"}')
    assert (h.error("rate_limit", req).status, h.error("rate_limit", req).text()) == (429, "null")
    assert h.error("server_error", req).status == 500 and "403 ERROR" in h.error("ban", req).text()
    assert h.handle(SimRequest("hyperliquid", "POST", "/info", {}, "{not json")).status == 400
    assert h.handle(SimRequest("hyperliquid", "GET", "/info", {}, None)).status == 405
    assert h.empty(req).body == {"universe": [], "marginTables": []}


def test_sim_answers_are_pure_functions_of_the_market(market: SimMarket) -> None:
    """Two handlers on the same market answer byte for byte the same (no state kept between requests)."""
    a, b = sim_hl.make_handler("hyperliquid", market), sim_hl.make_handler("hyperliquid", market)
    body = json.dumps({"type": "fundingHistory", "coin": "xyz:GOLD", "startTime": FROZEN_NOW_MS - 3 * DAY_MS})
    req = SimRequest("hyperliquid", "POST", "/info", {}, body)
    a.handle(SimRequest("hyperliquid", "POST", "/info", {}, '{"type": "metaAndAssetCtxs"}'))
    assert a.handle(req).text() == b.handle(req).text()


# ---------------------------------------------------------------------------------------------------------
# Faults: each maps to the ccxt class Hyperliquid's answer maps to, and to our hierarchy


def _calls(c: Client) -> dict[str, Callable[[], Any]]:
    now = c.market.now_ms()
    perps = [x for b in ("BTC", "ETH") for x in fam.contracts(c.ex, SPEC, b)]
    return {
        "quotes": lambda: fam.quotes(c.ex, SPEC, "BTC", perps),
        "funding_now": lambda: fam.funding_now(c.ex, SPEC, perps),
        "funding_history": lambda: fam.funding_history(c.ex, SPEC, "BTC/USDC:USDC", now - 30 * DAY_MS, now),
        "ohlcv": lambda: fam.ohlcv(c.ex, SPEC, "XYZ-XYZ100/USDC:USDC", "1h", "last", now - 2 * DAY_MS, now),
        "premium": lambda: fam.ohlcv(c.ex, SPEC, "BTC/USDC:USDC", "1d", "premium_index", now - 9 * DAY_MS, now),
    }


FAULTS = [
    ("timeout", ccxt.RequestTimeout, errors.TemporaryError),
    ("rate_limit", ccxt.RateLimitExceeded, errors.RateLimitedError),  # HTTP 429, body null
    ("ban", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # the CDN's 403 page
    ("server_error", ccxt.ExchangeNotAvailable, errors.TemporaryError),  # HTTP 500, body null
    ("down", ccxt.NetworkError, errors.TemporaryError),
    ("malformed", ccxt.BadResponse, errors.BadResponseError),  # refused by clients.strict_json_body
]
CALLS = ["quotes", "funding_now", "funding_history", "ohlcv", "premium"]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(("kind", "ccxt_cls", "ours"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_map_to_ccxt_and_our_errors(
    hl: Client, call: str, kind: str, ccxt_cls: type[Exception], ours: type[errors.DataSourceError]
) -> None:
    fn = _calls(hl)[call]
    hl.faults.add(Fault(kind, venue="hyperliquid"))  # type: ignore[arg-type]
    with pytest.raises(ccxt_cls) as exc:
        fn()
    err = errors.translate(exc.value, venue="hyperliquid")
    assert type(err) is ours and err.venue == "hyperliquid"


@pytest.mark.parametrize("kind", ["rate_limit", "ban", "server_error", "timeout", "malformed"])
@pytest.mark.parametrize("step", ["spotMeta", "perpDexs"])
def test_load_markets_faults(market: SimMarket, kind: str, step: str) -> None:
    c = _client(market, load=False)

    class OnStep(Fault):
        def matches(self, req: Any) -> bool:
            return json.loads(req.body or "{}").get("type") == step

    c.faults.add(OnStep(kind))  # type: ignore[arg-type]
    with pytest.raises(ccxt.BadResponse if kind == "malformed" else ccxt.NetworkError):
        c.ex.load_markets()


class _Answer(sim_hl.HyperliquidHandler):
    """Answers requests of one ``type`` with a fixed body (HTTP 200), and the rest normally."""

    def __init__(self, market: SimMarket, kind: str, body: str) -> None:
        super().__init__("hyperliquid", market)
        self.kind, self.body = kind, body

    def handle(self, req: SimRequest) -> SimResponse:
        if json.loads(req.body or "{}").get("type") == self.kind:
            return SimResponse(200, self.body)
        return super().handle(req)


@pytest.mark.parametrize("body", ["null", "{}", '{"universe": []}', '"ok"'])
@pytest.mark.parametrize(("call", "kind"), [("quotes", "metaAndAssetCtxs"), ("funding_now", "metaAndAssetCtxs"),
                                            ("funding_history", "fundingHistory"), ("ohlcv", "candleSnapshot"),
                                            ("premium", "fundingHistory")])
def test_wrong_shapes_are_bad_responses_not_empty_data(market: SimMarket, call: str, kind: str, body: str) -> None:
    """ccxt reads these JSON bodies as "no rows"; the family refuses them."""
    c = _client(market)
    c.ex.session.adapters["https://"].handler = _Answer(market, kind, body)
    with pytest.raises(ccxt.BadResponse) as exc:
        _calls(c)[call]()
    assert type(errors.translate(exc.value)) is errors.BadResponseError


@pytest.mark.parametrize("call", ["funding_history", "ohlcv"])
def test_rows_without_time_or_price_are_bad_responses(market: SimMarket, call: str) -> None:
    kind, row = {"funding_history": ("fundingHistory", {"coin": "BTC", "time": FROZEN_NOW_MS - HOUR_MS}),
                 "ohlcv": ("candleSnapshot", {"t": FROZEN_NOW_MS // HOUR_MS * HOUR_MS, "s": "xyz:XYZ100"})}[call]
    c = _client(market)
    c.ex.session.adapters["https://"].handler = _Answer(market, kind, json.dumps([row]))
    with pytest.raises(ccxt.BadResponse):
        _calls(c)[call]()


@pytest.mark.parametrize("call", ["quotes", "funding_now"])
def test_empty_snapshots_are_null_responses(hl: Client, call: str) -> None:
    hl.faults.add(Fault("empty", venue="hyperliquid"))
    with pytest.raises(ccxt.NullResponse) as exc:
        _calls(hl)[call]()
    assert isinstance(errors.translate(exc.value), errors.EmptyResultError)


@pytest.mark.parametrize("call", ["funding_history", "ohlcv", "premium"])
def test_empty_answers_end_history_walks_with_no_rows(hl: Client, call: str) -> None:
    hl.faults.add(Fault("empty", venue="hyperliquid"))
    assert _calls(hl)[call]() == []
    assert hl.log.count() == 1


class _FailNth(sim_hl.HyperliquidHandler):
    """Answers normally except for the n-th request after ``arm()``: HTTP 500 ``null``."""

    def __init__(self, market: SimMarket, nth: int) -> None:
        super().__init__("hyperliquid", market)
        self.nth, self.calls = nth, -10**9

    def arm(self) -> None:
        self.calls = 0

    def handle(self, req: SimRequest) -> SimResponse:
        self.calls += 1
        return self.error("server_error", req) if self.calls == self.nth else super().handle(req)


@pytest.mark.parametrize("call", ["funding_history", "ohlcv"])
def test_a_failing_later_page_raises_instead_of_returning_part(market: SimMarket, call: str) -> None:
    handler = _FailNth(market, nth=2)
    c = _client(market, handler)
    now = market.now_ms()
    fn = {
        "funding_history": lambda: fam.funding_history(c.ex, SPEC, "BTC/USDC:USDC", now - 365 * DAY_MS, now),
        "ohlcv": lambda: fam.ohlcv(c.ex, SPEC, "BTC/USDC:USDC", "1h", "last", now - 300 * DAY_MS, now),
    }[call]
    handler.arm()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        fn()
    assert handler.calls == 2
    assert fn()  # the next try answers in full


# ---------------------------------------------------------------------------------------------------------
# Through the facade


@pytest.fixture
def md(market: SimMarket) -> Iterator[MarketData]:
    settings = Settings(source="demo", retry_backoff_s=0.001)
    cache = DataCache({k: (v, 512) for k, v in DEFAULT_TTLS.items()}, timer=lambda: 1000.0)
    facade = build_demo(settings, market=market, faults=FaultPlan(), request_log=RequestLog(), cache=cache)
    yield facade
    facade.close()


def test_hyperliquid_is_a_derivative_venue_of_the_facade(md: MarketData) -> None:
    assert "hyperliquid" in DERIVATIVE_VENUES and "hyperliquid" in md.venues
    assert md.venue_label("hyperliquid") == "Hyperliquid"


def test_facade_term_structure_is_the_perp_alone(md: MarketData, market: SimMarket) -> None:
    frame = md.term_structure("BTC", venues=["hyperliquid"]).frame
    assert list(frame["symbol"]) == ["BTC/USDC:USDC"] and list(frame["kind"]) == ["perp"]
    row = frame.iloc[0]
    inst = _inst(market, "BTC/USDC:USDC")
    assert row["mark"] == pytest.approx(_at(market, inst, "mark", FROZEN_NOW_MS), rel=REL)
    assert row["index"] == pytest.approx(float(market.index("hyperliquid", "BTC", np.asarray([FROZEN_NOW_MS]))[0]),
                                         rel=REL)
    assert pd.isna(row["expiry"]) and np.isnan(row["days_to_expiry"])
    assert md.request_log.count("hyperliquid") == 5  # 4 to load markets, 1 metaAndAssetCtxs
    with pytest.raises(errors.InvalidQueryError):
        md.term_structure("XYZ-XYZ100", venues=["hyperliquid"])  # a proxy, not a crypto base


def test_facade_listed_has_no_proxy_bases(md: MarketData) -> None:
    frame = md.listed(venues=["hyperliquid"]).frame
    assert list(frame["base"]) == ["BTC", "ETH", "SOL"] and set(frame["futures"]) == {0}


def test_facade_funding_now(md: MarketData, market: SimMarket) -> None:
    frame = md.funding_now(("BTC", "ETH", "SOL"), venues=["hyperliquid"]).frame
    assert list(frame["symbol"]) == list(MAIN)
    assert (frame["interval_hours"] == 1.0).all() and not frame["interval_inferred"].any()
    for row in frame.itertuples():
        assert row.rate == pytest.approx(market.funding_estimate(_inst(market, row.symbol)), rel=REL)
        assert row.next_funding_time == pd.Timestamp(FROZEN_NOW_MS // HOUR_MS * HOUR_MS + HOUR_MS, unit="ms",
                                                     tz="UTC")


@pytest.mark.parametrize("symbol", ["ETH/USDC:USDC", "XYZ-XYZ100/USDC:USDC"])
def test_facade_funding_history_of_a_year(md: MarketData, market: SimMarket, symbol: str) -> None:
    start = FROZEN_NOW_MS - 365 * DAY_MS
    frame = md.funding_history("hyperliquid", symbol, start).frame
    times, rates = market.funding_settlements(_inst(market, symbol), start, FROZEN_NOW_MS)
    assert len(frame) == len(times) == 8760
    assert (frame["ts"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert (frame["interval_hours"] == 1.0).all()
    np.testing.assert_allclose(frame["rate"].to_numpy(), rates, rtol=1e-12, atol=0)


def test_facade_nasdaq_proxy_daily_candles(md: MarketData, market: SimMarket) -> None:
    start = FROZEN_NOW_MS - 2 * 365 * DAY_MS
    res = md.ohlcv("hyperliquid", "XYZ-XYZ100/USDC:USDC", "1d", start)
    want = _expected(market, "XYZ-XYZ100/USDC:USDC", DAY_MS, start, FROZEN_NOW_MS)
    assert res.frame["ts"].iloc[0] == pd.Timestamp(HIP3_LISTED_MS, unit="ms", tz="UTC")
    np.testing.assert_allclose(res.frame[["open", "high", "low", "close", "volume"]].to_numpy(), want[:, 1:],
                               rtol=1e-12)
    proxy = md.proxy_candles("nasdaq", "1d", start)
    pd.testing.assert_frame_equal(proxy.frame, res.frame, check_like=True)


def test_facade_premium_index_and_unsupported_prices(md: MarketData, market: SimMarket) -> None:
    start, until = FROZEN_NOW_MS - 40 * DAY_MS, FROZEN_NOW_MS - 10 * DAY_MS
    frame = md.ohlcv("hyperliquid", "BTC/USDC:USDC", "1h", start, until, price="premium_index").frame
    want = _premiums(market, "BTC/USDC:USDC", HOUR_MS, start, until)
    assert len(frame) == 30 * 24
    np.testing.assert_allclose(frame["close"].to_numpy(), want[:, 4], rtol=1e-12)
    for price in ("mark", "index"):
        with pytest.raises(errors.UnsupportedError):
            md.ohlcv("hyperliquid", "BTC/USDC:USDC", "1h", start, price=price)


def test_facade_hyperliquid_down_others_answer(md: MarketData) -> None:
    md.faults.add(Fault("rate_limit", venue="hyperliquid"))  # type: ignore[attr-defined]
    res = md.funding_now(("BTC",))
    assert set(res.errors) == {"hyperliquid"}
    assert set(res.frame["venue"]) == set(md.venues) - {"hyperliquid"}
