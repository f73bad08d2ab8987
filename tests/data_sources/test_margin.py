"""Instrument specs and margin tiers for the hedge calculator: the real ccxt clients against the simulators.

Expected specs are read from what each simulated exchange publishes (its listing endpoint's raw rows);
expected tiers from the simulators' tier endpoints, Binance's publications, and the documented rules.
Request counts come from the transport's ``RequestLog``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pandas as pd
import pytest

from data_sources import frames, margin
from data_sources.cache import DataCache
from data_sources.config import DEFAULT_TTLS, ConfigError, Settings, load_settings
from data_sources.errors import (
    BadResponseError,
    DataSourceError,
    EmptyResultError,
    InvalidQueryError,
    RateLimitedError,
    TemporaryError,
    UnsupportedError,
)
from data_sources.facade import MarketData
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimMarket, SimRequest, make_handler
from data_sources.simulated import bybit as sim_bybit
from data_sources.simulated import okx as sim_okx
from data_sources.source import build_demo
from data_sources.venues import VENUES

FIVE = ("binanceusdm", "binancecoinm", "okx", "bybit", "deribit")
LISTING_PATHS = {"/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo", "/api/v5/public/instruments",
                 "/v5/market/instruments-info", "/api/v2/public/get_currencies", "/api/v2/public/get_instruments"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _facade(market: SimMarket, clock: Clock, settings: Settings | None = None) -> MarketData:
    settings = dataclasses.replace(settings or Settings(), source="demo", retry_backoff_s=0.001)
    cache = DataCache({k: (v, 512) for k, v in DEFAULT_TTLS.items()}, timer=clock)
    return build_demo(settings, market=market, faults=FaultPlan(), request_log=RequestLog(), cache=cache)


@pytest.fixture
def md(market: SimMarket, clock: Clock) -> Iterator[MarketData]:
    facade = _facade(market, clock)
    yield facade
    facade.close()


def _log(md: MarketData) -> RequestLog:
    log: RequestLog = md.request_log  # type: ignore[attr-defined]
    return log


def _faults(md: MarketData) -> FaultPlan:
    plan: FaultPlan = md.faults  # type: ignore[attr-defined]
    return plan


def _published(venue: str, market: SimMarket) -> dict[str, dict[str, Any]]:
    """Exchange id -> the raw listing row the simulated exchange publishes (its own listing endpoint)."""
    handler = make_handler(venue, market)

    def get(path: str, **query: str) -> Any:
        resp = handler.handle(SimRequest(venue, "GET", path, query))
        assert resp.status == 200, resp.body
        return resp.body

    if venue in ("binanceusdm", "binancecoinm"):
        rows = get("/fapi/v1/exchangeInfo" if venue == "binanceusdm" else "/dapi/v1/exchangeInfo")["symbols"]
        return {r["symbol"]: r for r in rows}
    if venue == "okx":
        rows = [r for t in ("SWAP", "FUTURES") for r in get("/api/v5/public/instruments", instType=t)["data"]]
        return {r["instId"]: r for r in rows}
    if venue == "bybit":
        rows = [r for c in ("linear", "inverse")
                for r in get("/v5/market/instruments-info", category=c)["result"]["list"]]
        return {r["symbol"]: r for r in rows}
    if venue == "deribit":
        return {r["instrument_name"]: r for r in get("/api/v2/public/get_instruments")["result"]}
    raise AssertionError(venue)


def _binance_filter(row: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in row["filters"] if f["filterType"] == name)


# -- instruments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", FIVE)
@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_instrument_specs_equal_what_the_simulator_publishes(md: MarketData, market: SimMarket, venue: str,
                                                             base: str) -> None:
    res = md.instruments(base, [venue])
    assert res.errors == {} and res.source == "demo"
    frame = res.frame
    expected = [i for i in market.instruments(venue) if i.base == base and i.kind in ("perp", "future")]
    assert len(frame) == len(expected) > 0
    ex = md.pool.client(venue)
    published = _published(venue, market)
    for row in frame.itertuples():
        raw = published[ex.markets[row.symbol]["id"]]
        if venue.startswith("binance"):
            lot = _binance_filter(raw, "LOT_SIZE")
            step, minimum = float(lot["stepSize"]), float(lot["minQty"])
            table = margin.default_table(venue, row.symbol)
            assert table is not None
            lev, lev_source = table.rows[0].max_leverage, table.source
            fees = ex.fees["linear" if venue == "binanceusdm" else "inverse"]["trading"]
            taker, maker = fees["taker"], fees["maker"]
        elif venue == "okx":
            step, minimum, lev, lev_source = float(raw["lotSz"]), float(raw["minSz"]), float(raw["lever"]), "exchange"
            fees = ex.fees[row.kind if row.kind == "future" else "swap"]
            taker, maker = fees["taker"], fees["maker"]
        elif venue == "bybit":
            lot = raw["lotSizeFilter"]
            step, minimum = float(lot["qtyStep"]), float(lot["minOrderQty"])
            lev, lev_source = float(raw["leverageFilter"]["maxLeverage"]), "exchange"
            taker, maker = 0.0006, 0.0001  # ccxt's defaults: Bybit's listing carries no fee
        else:  # Deribit states amounts in USD: one contract is contract_size of them
            step = minimum = raw["min_trade_amount"] / raw["contract_size"]
            lev, lev_source = float(raw["max_leverage"]), "exchange"
            taker, maker = raw["taker_commission"], raw["maker_commission"]
        assert row.amount_step == pytest.approx(step, rel=1e-12), row.symbol
        assert row.min_amount == pytest.approx(minimum, rel=1e-12), row.symbol
        assert row.max_leverage == lev, row.symbol
        assert row.max_leverage_source.startswith(lev_source), row.symbol
        assert (row.taker, row.maker) == (pytest.approx(taker), pytest.approx(maker)), row.symbol
        want_fee_source = "exchange: listing" if venue == "deribit" else "ccxt "
        assert row.fee_source.startswith(want_fee_source), row.symbol


def test_instrument_specs_golden(md: MarketData) -> None:
    """The specs a hedge is sized with, as the real exchanges publish them (and the simulators copy)."""
    frame = md.instruments("BTC", list(FIVE)).frame.set_index(["venue", "symbol"])

    def spec(venue: str, symbol: str) -> pd.Series:
        return frame.loc[(venue, symbol)]

    coinm = spec("binancecoinm", "BTC/USD:BTC")
    assert (coinm.contract_size, coinm.amount_step, coinm.min_amount, coinm.linear) == (100.0, 1.0, 1.0, False)
    assert coinm.max_leverage == 125.0 and "2020-06-11" in coinm.max_leverage_source
    usdm = spec("binanceusdm", "BTC/USDT:USDT")
    assert (usdm.contract_size, usdm.amount_step, usdm.min_amount) == (1.0, 0.001, 0.001)
    assert usdm.max_leverage == 125.0 and "2021-03-18" in usdm.max_leverage_source
    assert spec("binanceusdm", "BTC/USDT:USDT-261225").max_leverage == 50.0  # the generic table
    okx_linear = spec("okx", "BTC/USDT:USDT")
    assert (okx_linear.contract_size, okx_linear.amount_step, okx_linear.min_amount) == (0.01, 0.01, 0.01)
    assert spec("okx", "BTC/USD:BTC").contract_size == 100.0 and spec("okx", "BTC/USD:BTC").amount_step == 1.0
    assert spec("okx", "BTC/USDT:USDT").max_leverage == 100.0
    assert (spec("bybit", "BTC/USDT:USDT").amount_step, spec("bybit", "BTC/USDT:USDT").max_leverage) == (0.001, 100.0)
    assert (spec("bybit", "BTC/USD:BTC").contract_size, spec("bybit", "BTC/USD:BTC").amount_step) == (1.0, 1.0)
    deribit = spec("deribit", "BTC/USD:BTC")
    assert (deribit.contract_size, deribit.amount_step, deribit.min_amount) == (10.0, 1.0, 1.0)
    assert deribit.max_leverage == 50.0
    assert (deribit.taker, deribit.maker) == (0.0005, 0.0)
    assert pd.isna(deribit.expiry) and spec("deribit", "BTC/USD:BTC-261225").expiry == pd.Timestamp(
        "2026-12-25T08:00Z")


def test_instruments_frame_is_tidy_and_perps_come_first(md: MarketData) -> None:
    frame = md.instruments("BTC", list(FIVE)).frame
    assert list(frame.columns) == list(frames.INSTRUMENT_COLUMNS)
    for c in ("contract_size", "amount_step", "min_amount", "max_leverage", "taker", "maker"):
        assert frame[c].dtype == np.float64, c
    assert frame["linear"].dtype == bool and str(frame["expiry"].dt.tz) == "UTC"
    assert not frame.duplicated(["venue", "symbol"]).any()
    for _, part in frame.groupby("venue"):
        kinds = list(part["kind"])
        assert kinds == sorted(kinds, key=lambda k: k != "perp")
        futures = part[part["kind"] == "future"]["expiry"]
        assert futures.is_monotonic_increasing
    assert (frame.loc[frame["kind"] == "future", "expiry"] > pd.Timestamp("2026-11-25T13:57Z")).all()


def test_instruments_make_no_request_beyond_the_markets_load_and_are_cached(md: MarketData) -> None:
    md.instruments("BTC", list(FIVE))
    cold = _log(md).rows()
    assert cold and {r.path for r in cold} <= LISTING_PATHS  # the markets' own load, nothing else
    _log(md).clear()
    md.instruments("ETH", list(FIVE))  # another base: read off the markets already loaded
    md.instruments("BTC", list(FIVE))
    assert _log(md).count() == 0
    hits = md.cache.stats().hits
    md.instruments("BTC", ["okx"])
    assert md.cache.stats().hits == hits + 1


def test_instruments_name_a_failing_venue_and_answer_the_others(md: MarketData) -> None:
    _faults(md).add(Fault("down", venue="bybit"))
    res = md.instruments("BTC", ["okx", "bybit"])
    assert set(res.errors) == {"bybit"} and "connection" in res.errors["bybit"].lower()
    assert set(res.frame["venue"]) == {"okx"}
    with pytest.raises(InvalidQueryError):
        md.instruments("BTC", ["nowhere"])
    with pytest.raises(InvalidQueryError):
        md.instruments("not a coin!")


@pytest.mark.parametrize(
    ("precision", "mode", "step"),
    [(0.001, ccxt.TICK_SIZE, 0.001), (3, ccxt.DECIMAL_PLACES, 0.001), (0, ccxt.DECIMAL_PLACES, 1.0),
     (3, ccxt.SIGNIFICANT_DIGITS, None), (None, ccxt.TICK_SIZE, None)],
)
def test_amount_step_follows_the_precision_mode(precision: float | None, mode: int, step: float | None) -> None:
    got = margin.amount_step(precision, mode)
    assert got == (pytest.approx(step) if step is not None else None)


# -- OKX ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "inst_type", "family", "unit"),
    [("BTC/USDT:USDT", "SWAP", "BTC-USDT", "BTC"), ("BTC/USD:BTC", "SWAP", "BTC-USD", "USD"),
     ("BTC/USDT:USDT-261225", "FUTURES", "BTC-USDT", "BTC"), ("ETH/USDT:USDT", "SWAP", "ETH-USDT", "ETH")],
)
def test_okx_position_tiers_one_request_and_contract_counts_converted(
    md: MarketData, market: SimMarket, symbol: str, inst_type: str, family: str, unit: str
) -> None:
    md.pool.markets("okx")
    _log(md).clear()
    res = md.margin_tiers("okx", symbol)
    rows = _log(md).rows("okx")
    assert [(r.method, r.path, r.query) for r in rows] == [
        ("GET", "/api/v5/public/position-tiers", {"instType": inst_type, "tdMode": "isolated", "instFamily": family})]
    ex = md.pool.client("okx")
    ct_val = float(ex.markets[symbol]["info"]["ctVal"])
    okx_id = ex.markets[symbol]["id"]
    inst = next(i for i in market.instruments("okx") if i.kind != "spot" and sim_okx.inst_id(i) == okx_id)
    published = sim_okx.position_tiers(inst)
    frame = res.frame
    assert list(frame["tier"]) == [int(t["tier"]) for t in published]
    # OKX's minSz/maxSz are contract counts (ccxt calls them notional): value = count x ctVal, in ctValCcy
    assert list(frame["cap"]) == pytest.approx([float(t["maxSz"]) * ct_val for t in published], rel=1e-12)
    assert list(frame["floor"]) == pytest.approx([0.0] + [float(t["maxSz"]) * ct_val for t in published[:-1]])
    assert list(frame["mmr"]) == [float(t["mmr"]) for t in published]
    assert list(frame["max_leverage"]) == [float(t["maxLever"]) for t in published]
    assert (frame["unit"] == unit).all() and (frame["cum"] == 0.0).all()
    assert (frame["source"] == "exchange: GET /api/v5/public/position-tiers (isolated)").all()
    assert frame.attrs["note"] is None and frame.attrs["venue"] == "okx" and frame.attrs["symbol"] == symbol


def test_okx_golden_conversion(md: MarketData) -> None:
    """BTC-USDT-SWAP tier 1 is 2,000 contracts of 0.01 BTC = 20 BTC; BTC-USD-SWAP's 20,000 x 100 USD = 2M USD."""
    linear = md.margin_tiers("okx", "BTC/USDT:USDT").frame.iloc[0]
    inverse = md.margin_tiers("okx", "BTC/USD:BTC").frame.iloc[0]
    assert (linear["cap"], linear["unit"], linear["mmr"], linear["max_leverage"]) == (20.0, "BTC", 0.004, 100.0)
    assert (inverse["cap"], inverse["unit"]) == (2_000_000.0, "USD")


# -- Bybit --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "category", "bybit_id", "unit"),
    [("BTC/USDT:USDT", "linear", "BTCUSDT", "USDT"), ("BTC/USD:BTC", "inverse", "BTCUSD", "BTC"),
     ("BTC/USDC:USDC-261225", "linear", "BTC-25DEC26", "USDC")],
)
def test_bybit_risk_limit_parsed_with_mm_deduction_as_cum(md: MarketData, market: SimMarket, symbol: str,
                                                          category: str, bybit_id: str, unit: str) -> None:
    md.pool.markets("bybit")
    _log(md).clear()
    frame = md.margin_tiers("bybit", symbol).frame
    assert [(r.path, r.query) for r in _log(md).rows("bybit")] == [
        ("/v5/market/risk-limit", {"category": category, "symbol": bybit_id})]
    inst = next(i for i in market.instruments("bybit") if i.kind != "spot" and sim_bybit.instrument_id(i) == bybit_id)
    published = sim_bybit.risk_limits(inst)
    assert list(frame["cap"]) == [float(t["riskLimitValue"]) for t in published]
    assert list(frame["floor"]) == [0.0] + [float(t["riskLimitValue"]) for t in published[:-1]]
    assert list(frame["cum"]) == [float(t["mmDeduction"] or 0.0) for t in published]
    assert list(frame["mmr"]) == [float(t["maintenanceMargin"]) for t in published]
    assert list(frame["max_leverage"]) == [float(t["maxLeverage"]) for t in published]
    assert (frame["unit"] == unit).all() and (frame["source"] == "exchange: GET /v5/market/risk-limit").all()
    # mmDeduction makes maintenance margin continuous at each boundary: value*mmr - cum on both sides
    for lo, hi in zip(frame.iloc[:-1].itertuples(), frame.iloc[1:].itertuples(), strict=True):
        assert lo.cap * lo.mmr - lo.cum == pytest.approx(lo.cap * hi.mmr - hi.cum, rel=1e-12)


def test_bybit_inverse_golden(md: MarketData) -> None:
    frame = md.margin_tiers("bybit", "BTC/USD:BTC").frame
    assert list(frame["cap"][:3]) == [150.0, 300.0, 450.0] and list(frame["cum"][:3]) == [0.0, 0.75, 2.25]
    assert frame["max_leverage"].iloc[2] == 33.33


def test_bybit_missing_mm_deduction_is_computed_and_said(md: MarketData, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sim_bybit.risk_limits

    def blank_tier_3(inst: Any) -> list[dict[str, Any]]:
        rows = real(inst)
        rows[2] = {**rows[2], "mmDeduction": ""}
        return rows

    monkeypatch.setattr(sim_bybit, "risk_limits", blank_tier_3)
    frame = md.margin_tiers("bybit", "BTC/USD:BTC").frame
    assert frame["cum"].iloc[2] == pytest.approx(2.25, abs=1e-12)  # 0.75 + 300 x (1.5% - 1%)
    assert "computed by continuity" in frame["source"].iloc[0] and "[3]" in frame["source"].iloc[0]


# -- Binance (config tables) ----------------------------------------------------------------------------------


def test_binance_coinm_btc_table_and_the_faq_golden_numbers(md: MarketData) -> None:
    md.pool.markets("binancecoinm")
    _log(md).clear()
    res = md.margin_tiers("binancecoinm", "BTC/USD:BTC")
    assert _log(md).count() == 0  # a table from config: no request
    frame = res.frame
    assert list(frame["floor"]) == [0, 10, 20, 30, 50, 100, 200, 400, 1000]
    assert list(frame["cap"]) == [10, 20, 30, 50, 100, 200, 400, 1000, math.inf]
    assert list(frame["max_leverage"]) == [125, 100, 50, 20, 10, 5, 4, 3, 2]
    assert list(frame["mmr"]) == [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25]
    assert (frame["unit"] == "BTC").all()
    # Binance FAQ: level 4 cum 0.56 BTC, level 5 cum 1.81 BTC (50 BTC x 2.5% + 0.56)
    assert frame["cum"].iloc[3] == 0.56 and frame["cum"].iloc[4] == 1.81
    # ... and a 300 BTC position: MMR 12.5%, cum 11.81 BTC, so MM = 300 x 12.5% - 11.81 = 25.69 BTC
    row = frame[(frame["floor"] < 300) & (300 <= frame["cap"])].iloc[0]
    assert (row["mmr"], row["cum"]) == (0.125, 11.81)
    assert 300 * row["mmr"] - row["cum"] == pytest.approx(25.69, abs=1e-9)
    source = frame["source"].iloc[0]
    assert source.startswith("config: ") and "2021-02-05" in source and "2020-06-11" in source
    note = res.frame.attrs["note"]
    assert note.startswith("Binance's tier endpoint needs an API key: default table from Binance FAQ")
    assert '[margin_tiers."binancecoinm:BTC/USD:BTC"]' in note
    # the FAQ table covers BTCUSD quarterlies too
    assert md.margin_tiers("binancecoinm", "BTC/USD:BTC-261225").frame["cum"].iloc[6] == 11.81


def test_binance_usdm_btcusdt_table(md: MarketData) -> None:
    frame = md.margin_tiers("binanceusdm", "BTC/USDT:USDT").frame
    assert list(frame["cap"]) == [50e3, 250e3, 1e6, 10e6, 20e6, 50e6, 100e6, 200e6, 300e6, 500e6]
    assert list(frame["max_leverage"]) == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]
    assert list(frame["mmr"]) == [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50]
    # cum_n = floor_n x (mmr_n - mmr_n-1) + cum_n-1
    assert list(frame["cum"][:5]) == [0.0, 50.0, 1_300.0, 16_300.0, 266_300.0]
    assert (frame["unit"] == "USDT").all()
    assert '2021-03-18 (BTCUSDT table)' in frame["source"].iloc[0]


def test_binance_other_symbols_get_stated_tables(md: MarketData) -> None:
    generic = md.margin_tiers("binanceusdm", "ETH/USDT:USDT").frame
    assert list(generic["max_leverage"]) == [50, 20, 10, 5, 2, 1]
    assert list(generic["cap"][:5]) == [5e3, 25e3, 100e3, 250e3, 1e6]
    assert "generic 50x table" in generic["source"].iloc[0] and "2021-03-18" in generic["source"].iloc[0]
    assumed = md.margin_tiers("binancecoinm", "ETH/USD:ETH")
    assert len(assumed.frame) == 1
    row = assumed.frame.iloc[0]
    assert (row["mmr"], row["max_leverage"], row["unit"], row["cap"]) == (0.025, 20.0, "ETH", math.inf)
    assert row["source"].startswith("config: assumption") and "1/(2 x 20)" in row["source"]
    assert "assumption" in assumed.frame.attrs["note"]


def test_binance_tier_endpoint_needs_an_api_key(md: MarketData) -> None:
    """Why Binance gets a table: ccxt refuses the signed leverageBracket call without a key, sending nothing."""
    ex = md.pool.markets("binanceusdm")
    _log(md).clear()
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_market_leverage_tiers("BTC/USDT:USDT")
    assert _log(md).count() == 0


def test_continuity_cum_rule() -> None:
    rows = margin.BINANCE_COINM_BTCUSD.rows
    assert margin.continuity_cum(rows)[:7] == [0.0, 0.01, 0.11, 0.56, 1.81, 6.81, 11.81]
    given = (margin.TierRow(0, 10, 0.01, 50, cum=0.0), margin.TierRow(10, 20, 0.02, 25, cum=0.5))
    assert margin.continuity_cum(given) == [0.0, 0.5]  # a stated cum is kept


# -- config overrides ------------------------------------------------------------------------------------------


OVERRIDE = """
[margin_tiers."binanceusdm:BTC/USDT:USDT"]
source = "Binance leverage bracket page, copied by the desk"
date = 2025-06-01
tiers = [
  {floor = 0, cap = 300000, mmr = 0.004, max_leverage = 150},
  {floor = 300000, cap = 800000, mmr = 0.005, max_leverage = 100},
  {floor = 800000, cap = inf, mmr = 0.0065, max_leverage = 75},
]

[margin_tiers."okx:BTC/USDT:USDT"]
source = "OKX tier page"
date = "2025-07-02"
unit = "BTC"
tiers = [{floor = 0, cap = 50, mmr = 0.005, max_leverage = 75, cum = 0}]
"""


def test_toml_override_replaces_the_default_table(tmp_path: Path, market: SimMarket, clock: Clock) -> None:
    path = tmp_path / "carrydesk.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    settings = load_settings({"CARRYDESK_CONFIG": str(path)})
    md = _facade(market, clock, settings)
    try:
        res = md.margin_tiers("binanceusdm", "BTC/USDT:USDT")
        frame = res.frame
        assert list(frame["cap"]) == [300e3, 800e3, math.inf]
        assert list(frame["cum"]) == [0.0, 300.0, 1_500.0]  # by the continuity rule: 300k x 0.1%, + 800k x 0.15%
        want = f"config: Binance leverage bracket page, copied by the desk, 2025-06-01 ({path})"
        assert (frame["source"] == want).all()
        assert res.frame.attrs["note"].startswith("your table from")
        # the listing has no max leverage: the user's tier 1 gives it
        spec = md.instruments("BTC", ["binanceusdm"]).frame.set_index("symbol").loc["BTC/USDT:USDT"]
        assert spec["max_leverage"] == 150.0 and "2025-06-01" in spec["max_leverage_source"]
        # an override wins over an exchange endpoint too, and then costs no tier request
        md.pool.markets("okx")
        _log(md).clear()
        okx = md.margin_tiers("okx", "BTC/USDT:USDT").frame
        assert _log(md).count() == 0
        assert (len(okx), okx["cap"].iloc[0], okx["unit"].iloc[0]) == (1, 50.0, "BTC")
        assert "2025-07-02" in okx["source"].iloc[0]
    finally:
        md.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('source = "x"\ntiers = [{floor = 0, cap = 1, mmr = 0.01, max_leverage = 10}]', "date"),
        ('date = 2025-01-01\ntiers = [{floor = 0, cap = 1, mmr = 0.01, max_leverage = 10}]', "source"),
        ('source = "x"\ndate = 2025-01-01\ntiers = [{floor = 0, cap = 1, mmr = 0.01, max_leverage = 10},'
         ' {floor = 2, cap = 3, mmr = 0.02, max_leverage = 5}]', "contiguous"),
        ('source = "x"\ndate = 2025-01-01\ntiers = [{floor = 0, cap = 1, mmr = 0.5, max_leverage = 10}, '
         '{floor = 1, cap = 2, mmr = 1.5, max_leverage = 5}]', "fraction"),
        ('source = "x"\ndate = 2025-01-01\ntiers = []', "non-empty"),
    ],
)
def test_bad_overrides_are_config_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "carrydesk.toml"
    path.write_text(f'[margin_tiers."binanceusdm:BTC/USDT:USDT"]\n{body}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings({"CARRYDESK_CONFIG": str(path)})
    path.write_text('[margin_tiers."nowhere:BTC/USDT:USDT"]\nsource = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown exchange"):
        load_settings({"CARRYDESK_CONFIG": str(path)})


def test_override_date_may_be_a_toml_date_or_text() -> None:
    tiers = [{"floor": 0, "cap": 1.0, "mmr": 0.01, "max_leverage": 10}]
    a = margin.parse_override("okx:BTC/USDT:USDT", {"source": "s", "date": dt.date(2024, 2, 3), "tiers": tiers}, "f")
    b = margin.parse_override("okx:BTC/USDT:USDT", {"source": "s", "date": "2024-02-03", "tiers": tiers}, "f")
    assert a == b and a.source == "config: s, 2024-02-03 (f)"


# -- documented rules ---------------------------------------------------------------------------------------


def test_deribit_documented_tiers(md: MarketData) -> None:
    md.pool.markets("deribit")
    _log(md).clear()
    res = md.margin_tiers("deribit", "BTC/USD:BTC")
    assert _log(md).count() == 0
    frame = res.frame
    caps = list(frame["cap"])
    assert caps == [10, 25, 50, 100, 250, 500, 1000, 2000] and list(frame["floor"]) == [0, *caps[:-1]]
    # MM 1% + size x 0.005%, IM 2% + size x 0.005% (size in BTC), each tier at its cap
    assert list(frame["mmr"]) == pytest.approx([0.01 + c * 0.00005 for c in caps], rel=1e-12)
    assert list(frame["max_leverage"]) == pytest.approx([1 / (0.02 + c * 0.00005) for c in caps], rel=1e-12)
    assert frame["mmr"].iloc[0] == pytest.approx(0.0105) and (frame["cum"] == 0).all()
    assert (frame["unit"] == "BTC").all()
    source = frame["source"].iloc[0]
    assert source.startswith("documented: Deribit") and "not verified live" in source
    assert res.frame.attrs["note"].startswith("no tier endpoint: documented rule")
    # no documented rule for ETH: the stated half-initial-margin assumption on the listed leverage (25x)
    eth = md.margin_tiers("deribit", "ETH/USD:ETH").frame.iloc[0]
    assert (eth["mmr"], eth["max_leverage"]) == (0.02, 25.0) and eth["source"].startswith("config: assumption")


def test_hyperliquid_rule_on_a_ccxt_parsed_market() -> None:
    """MMR = 1/(2 x max leverage), read from the market ccxt's own parser builds from Hyperliquid's meta row."""
    market = ccxt.hyperliquid().parse_market({"name": "BTC", "maxLeverage": "40", "szDecimals": "5",
                                              "markPx": "92000", "baseId": 0})
    tiers = margin.rule_tiers("hyperliquid", market)
    assert tiers is not None and len(tiers) == 1
    t = tiers[0]
    assert (t.mmr, t.max_leverage, t.floor, t.cap, t.unit, t.cum) == (0.0125, 40.0, 0.0, math.inf, "USDC", 0.0)
    assert t.source.startswith("documented: Hyperliquid")
    no_leverage = {**market, "limits": {**market["limits"], "leverage": {"min": None, "max": None}}, "info": {}}
    assert margin.rule_tiers("hyperliquid", no_leverage) is None  # nothing to derive it from: unsupported


def test_hyperliquid_tiers_through_the_facade(md: MarketData) -> None:
    pytest.importorskip("data_sources.venues.hyperliquid")
    if "hyperliquid" not in md.venues:
        pytest.skip("hyperliquid is not a configured derivative venue")
    symbol = "BTC/USDC:USDC"
    frame = md.margin_tiers("hyperliquid", symbol).frame
    lev = md.pool.client("hyperliquid").markets[symbol]["limits"]["leverage"]["max"]
    assert len(frame) == 1 and frame["mmr"].iloc[0] == pytest.approx(1 / (2 * lev))
    assert frame["source"].iloc[0].startswith("documented: Hyperliquid")
    spec = md.instruments("BTC", ["hyperliquid"]).frame
    assert (spec["max_leverage"] == lev).all()


def test_a_venue_without_tiers_or_rule_is_unsupported(md: MarketData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(margin.DOCUMENTED_RULES, "deribit")
    with pytest.raises(UnsupportedError, match="publishes no margin tiers"):
        md.margin_tiers("deribit", "BTC/USD:BTC")


# -- errors, caching, frame -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "symbol", "path"),
    [("okx", "BTC/USDT:USDT", "*/position-tiers"), ("bybit", "BTC/USDT:USDT", "*/risk-limit")],
)
@pytest.mark.parametrize(
    ("kind", "error"),
    [("server_error", TemporaryError), ("rate_limit", RateLimitedError), ("timeout", TemporaryError),
     ("malformed", BadResponseError), ("empty", EmptyResultError)],
)
def test_a_failing_tier_endpoint_maps_to_a_data_source_error(md: MarketData, venue: str, symbol: str, path: str,
                                                             kind: str, error: type[DataSourceError]) -> None:
    md.pool.markets(venue)
    _faults(md).add(Fault(kind, venue=venue, path=path))  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        md.margin_tiers(venue, symbol)
    assert caught.value.venue == venue and str(caught.value).startswith(f"{venue}: ")


def test_unknown_spot_and_bad_queries_are_invalid(md: MarketData) -> None:
    with pytest.raises(InvalidQueryError, match="not listed"):
        md.margin_tiers("okx", "DOGE/USDT:USDT")
    with pytest.raises(InvalidQueryError):
        md.margin_tiers("binance", "BTC/USDT")  # spot venue: not a derivative venue
    with pytest.raises(InvalidQueryError):
        md.margin_tiers("okx", "")
    assert _log(md).count("okx", "*/position-tiers") == 0


def test_tiers_are_cached_for_the_ttl_then_stale_on_error(md: MarketData, clock: Clock) -> None:
    first = md.margin_tiers("okx", "BTC/USDT:USDT")
    md.margin_tiers("okx", "BTC/USDT:USDT")
    assert _log(md).count("okx", "*/position-tiers") == 1  # a second call within the TTL: no request
    clock.t += DEFAULT_TTLS["margin_tiers"] + 1
    md.margin_tiers("okx", "BTC/USDT:USDT")
    assert _log(md).count("okx", "*/position-tiers") == 2
    clock.t += DEFAULT_TTLS["margin_tiers"] + 1
    _faults(md).add(Fault("server_error", venue="okx", path="*/position-tiers"))
    stale = md.margin_tiers("okx", "BTC/USDT:USDT")
    assert set(stale.stale) == {"okx"} and "old" in stale.errors["okx"]
    pd.testing.assert_frame_equal(stale.frame.drop(columns="fetched_at"), first.frame.drop(columns="fetched_at"))


def test_tier_frame_is_tidy(md: MarketData) -> None:
    frame = md.margin_tiers("bybit", "BTC/USDT:USDT").frame
    assert list(frame.columns) == list(frames.TIER_COLUMNS)
    assert frame["tier"].dtype == np.int64 and list(frame["tier"]) == list(range(1, len(frame) + 1))
    for c in ("floor", "cap", "mmr", "max_leverage", "cum"):
        assert frame[c].dtype == np.float64, c
    assert str(frame["fetched_at"].dt.tz) == "UTC"
    assert frame["floor"].is_monotonic_increasing and (frame["cap"] > frame["floor"]).all()
    frame.loc[:, "mmr"] = -1.0  # callers get copies
    assert (md.margin_tiers("bybit", "BTC/USDT:USDT").frame["mmr"] > 0).all()


def test_every_venue_spec_has_a_tier_source() -> None:
    """Each derivative venue known today gets tiers from its family, a table or a documented rule."""
    import importlib

    for venue, spec in VENUES.items():
        if "perp" not in spec.kinds:
            continue
        try:
            family = importlib.import_module(f"data_sources.venues.{spec.family}")
        except ModuleNotFoundError:
            continue  # a venue being added; its documented rule is tested above
        has_default = any(v == venue for v, _, _ in margin.DEFAULT_TABLES) or venue in margin.DOCUMENTED_RULES
        assert hasattr(family, "margin_tiers") or has_default, venue
