"""The simulated market: deterministic, time-consistent, deep history, real calendars, scenarios."""

from __future__ import annotations

import calendar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources.simulated.market import (
    DAY_MS,
    HOUR_MS,
    SimMarket,
    quarterly_expiries_after,
    weekly_expiries_after,
)
from tests.conftest import FROZEN_NOW_MS


def ms(y: int, m: int, d: int, h: int = 0) -> int:
    return calendar.timegm((y, m, d, h, 0, 0)) * 1000


def test_same_seed_same_market_other_seed_other_market() -> None:
    t = np.arange(FROZEN_NOW_MS - 30 * DAY_MS, FROZEN_NOW_MS, 7 * 60_000)
    a = SimMarket(seed=7, clock=lambda: FROZEN_NOW_MS).composite_index("BTC", t)
    b = SimMarket(seed=7, clock=lambda: FROZEN_NOW_MS).composite_index("BTC", t)
    c = SimMarket(seed=8, clock=lambda: FROZEN_NOW_MS).composite_index("BTC", t)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@settings(max_examples=25, deadline=None)
@given(offset_min=st.integers(min_value=0, max_value=2 * 365 * 24 * 60), clock_shift_days=st.integers(0, 90))
def test_a_timestamp_has_one_value_whatever_asks(offset_min: int, clock_shift_days: int) -> None:
    """Values depend on the timestamp only: not on the window, nor on when the market's clock is."""
    t = FROZEN_NOW_MS - offset_min * 60_000
    early = SimMarket(seed=7, clock=lambda: FROZEN_NOW_MS, anchor_ms=FROZEN_NOW_MS)
    late = SimMarket(seed=7, clock=lambda: FROZEN_NOW_MS + clock_shift_days * DAY_MS, anchor_ms=FROZEN_NOW_MS)
    window = np.arange(t - 500 * 60_000, t + 60_000, 60_000)
    inst = early.find("binanceusdm", base="BTC", quote="USDT", kind="perp")
    assert early.price(inst, "mark", np.array([t]))[0] == early.price(inst, "mark", window)[-1]
    assert early.price(inst, "mark", np.array([t]))[0] == late.price(inst, "mark", np.array([t]))[0]
    # the same hourly candle from two different windows
    h = t // HOUR_MS * HOUR_MS
    one = early.candles(inst, "mark", HOUR_MS, h - 5 * HOUR_MS, h)[-1]
    other = late.candles(inst, "mark", HOUR_MS, h, h + 30 * HOUR_MS)[0]
    if h + HOUR_MS <= FROZEN_NOW_MS:  # closed at both clocks
        np.testing.assert_array_equal(one, other)


def test_history_reaches_two_years_back(market: SimMarket) -> None:
    inst = market.find("okx", base="BTC", quote="USDT", kind="perp")
    start = FROZEN_NOW_MS - 2 * 365 * DAY_MS
    candles = market.candles(inst, "index", DAY_MS, start, FROZEN_NOW_MS)
    assert len(candles) == 730
    assert np.all(np.isfinite(candles[:, 1:5])) and np.all(candles[:, 1:5] > 0)
    times, _ = market.funding_settlements(inst, start, FROZEN_NOW_MS)
    assert len(times) == 730 * 3


def test_btc_paths_are_realistic(market: SimMarket) -> None:
    t = np.arange(FROZEN_NOW_MS - 2 * 365 * DAY_MS, FROZEN_NOW_MS, DAY_MS)
    logret = np.diff(np.log(market.composite_index("BTC", t)))
    assert 0.3 < logret.std() * np.sqrt(365) < 0.75  # annualized vol of BTC-like asset
    eth = np.diff(np.log(market.composite_index("ETH", t)))
    assert 0.6 < np.corrcoef(logret, eth)[0, 1] < 0.95


def test_nasdaq_proxy_is_closed_on_weekends(market: SimMarket) -> None:
    saturday = ms(2026, 11, 21, 15)
    sunday_late = ms(2026, 11, 22, 23)
    a, b = market.composite_index("NDX", np.array([saturday, sunday_late]))
    assert a == pytest.approx(b, rel=1e-12)
    mon_open, mon_close = market.composite_index("NDX", np.array([ms(2026, 11, 23, 14), ms(2026, 11, 23, 21)]))
    assert mon_open != mon_close


def test_quarterly_calendar_is_last_friday_at_0800_utc() -> None:
    got = quarterly_expiries_after(ms(2026, 1, 1), 5)
    assert got == [ms(2026, 3, 27, 8), ms(2026, 6, 26, 8), ms(2026, 9, 25, 8), ms(2026, 12, 25, 8), ms(2027, 3, 26, 8)]
    # on expiry day before 08:00 the contract is still listed; after, the next one is first
    assert quarterly_expiries_after(ms(2026, 3, 27, 7), 1) == [ms(2026, 3, 27, 8)]
    assert quarterly_expiries_after(ms(2026, 3, 27, 9), 1) == [ms(2026, 6, 26, 8)]
    assert weekly_expiries_after(ms(2026, 11, 25, 13), 2) == [ms(2026, 11, 27, 8), ms(2026, 12, 4, 8)]


def test_listed_futures_per_venue(market: SimMarket) -> None:
    def futures(venue: str) -> list[int]:
        return sorted({i.expiry_ms for i in market.instruments(venue) if i.kind == "future" and i.base == "BTC"})

    q = [ms(2026, 12, 25, 8), ms(2027, 3, 26, 8)]
    assert futures("binanceusdm") == q
    assert futures("binancecoinm") == q
    assert futures("okx") == [ms(2026, 11, 27, 8), ms(2026, 12, 4, 8), *q]
    assert futures("deribit") == [ms(2026, 11, 27, 8), ms(2026, 12, 4, 8), ms(2026, 12, 11, 8),
                                  ms(2026, 12, 25, 8), ms(2027, 1, 29, 8), ms(2027, 3, 26, 8), ms(2027, 6, 25, 8)]
    for venue in ("binanceusdm", "okx", "bybit", "deribit"):
        assert all(i.listed_ms <= FROZEN_NOW_MS for i in market.instruments(venue))


def test_funding_intervals_1h_4h_8h_are_present(market: SimMarket) -> None:
    venues = ("binanceusdm", "okx", "bybit")
    hours = {i.funding_hours for v in venues for i in market.instruments(v) if i.kind == "perp"}
    assert {1, 4, 8} <= hours


def _state(scenario: str) -> dict[str, float]:
    m = SimMarket(seed=7, scenario=scenario, clock=lambda: FROZEN_NOW_MS)
    now = np.array([FROZEN_NOW_MS])
    perp = m.find("binanceusdm", base="BTC", quote="USDT", kind="perp")
    quarterly = [i for i in m.instruments("binanceusdm") if i.kind == "future" and i.base == "BTC"][-1]
    return {
        "premium": float(m.premium("binanceusdm", "BTC", now)[0]),
        "funding": m.funding_estimate(perp),
        "basis": float(m.price(quarterly, "mark", now)[0] / m.index("binanceusdm", "BTC", now)[0] - 1),
        "index": float(m.composite_index("BTC", now)[0]),
    }


def test_scenarios_shape_the_present() -> None:
    normal, crash, squeeze = _state("normal"), _state("crash"), _state("squeeze")
    assert normal["basis"] > 0 and normal["funding"] > 0  # contango, longs pay
    assert crash["basis"] < 0 and crash["funding"] < 0 and crash["premium"] < 0  # backwardation
    assert crash["index"] < 0.8 * normal["index"]
    assert squeeze["premium"] > 0.004 and squeeze["funding"] > 0.001  # extreme positive premium
    # history long before the scenario is the same world
    old = np.array([FROZEN_NOW_MS - 200 * DAY_MS])
    vals = {s: SimMarket(seed=7, scenario=s, clock=lambda: FROZEN_NOW_MS).composite_index("BTC", old)[0]
            for s in ("normal", "crash", "squeeze")}
    assert len(set(vals.values())) == 1


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        SimMarket(scenario="meltdown")
