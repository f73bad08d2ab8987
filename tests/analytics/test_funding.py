"""Funding normalization, accumulation and interval inference: DOMAIN.md values, edges, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import funding as af

rates = st.floats(min_value=-0.01, max_value=0.01, allow_nan=False, allow_infinity=False)
intervals = st.sampled_from([1.0, 2.0, 4.0, 8.0])


# -- golden values ----------------------------------------------------------------------------------------
def test_one_hour_rate_equals_binance_default_8h_rate():
    # 0.00125 % per hour == 0.01 % per 8 h == 10.95 % APR (DOMAIN.md / seeds 000, 004)
    assert af.rate_8h(0.0000125, 1) == pytest.approx(0.0001, rel=1e-12)
    assert af.apr(0.0000125, 1) == pytest.approx(0.1095, rel=1e-12)
    assert af.apr(0.0001, 8) == pytest.approx(0.1095, rel=1e-12)
    assert af.apr(0.00005, 4) == pytest.approx(0.1095, rel=1e-12)
    assert af.apy(0.0001, 8) == pytest.approx(1.0001 ** 1095 - 1, rel=1e-12)
    assert af.apy(0.0001, 8) == pytest.approx(0.11572, abs=1e-5)


def test_vectorized_over_series_keeps_index():
    rate = pd.Series([0.0001, 0.0000125, -0.0002], index=["binance", "deribit", "okx"])
    hours = pd.Series([8.0, 1.0, 8.0], index=rate.index)
    out = af.apr(rate, hours)
    assert list(out.index) == list(rate.index)
    np.testing.assert_allclose(out.to_numpy(), [0.1095, 0.1095, -0.219])
    np.testing.assert_allclose(af.rate_8h(np.array([0.0001, 0.0001]), np.array([8.0, 4.0])), [0.0001, 0.0002])


@pytest.mark.parametrize("hours", [0.0, -8.0, np.nan, None], ids=["zero", "negative", "nan", "none"])
def test_invalid_interval_gives_nan(hours):
    assert math.isnan(af.rate_8h(0.0001, hours))
    assert math.isnan(af.apr(0.0001, hours))
    assert math.isnan(af.apy(0.0001, hours))


def test_nan_rate_and_impossible_rate():
    assert math.isnan(af.apr(np.nan, 8))
    assert math.isnan(af.apy(np.nan, 8))
    assert math.isnan(af.apy(-1.0, 8))  # losing all of the notional per interval is not a rate
    assert af.apy(-0.5, 8) == pytest.approx(-1.0)  # ... but -50 % a period compounds to ~ -100 %


# -- cumulative -------------------------------------------------------------------------------------------
def test_cumulative_simple_and_compounded():
    r = pd.Series([0.01, -0.02, 0.03], index=pd.date_range("2026-01-01", periods=3, freq="8h", tz="UTC"))
    simple = af.cumulative_funding(r)
    np.testing.assert_allclose(simple.to_numpy(), [0.01, -0.01, 0.02])
    assert simple.index.equals(r.index)
    comp = af.cumulative_funding(r, compounded=True)
    np.testing.assert_allclose(comp.to_numpy(), [0.01, 1.01 * 0.98 - 1, 1.01 * 0.98 * 1.03 - 1])
    assert af.total_funding(r) == pytest.approx(0.02)
    assert af.total_funding(r, compounded=True) == pytest.approx(1.01 * 0.98 * 1.03 - 1)


def test_cumulative_edges():
    assert math.isnan(af.total_funding([]))
    assert math.isnan(af.total_funding([np.nan, np.nan]))
    assert af.total_funding([0.001]) == 0.001
    assert len(af.cumulative_funding(pd.Series([], dtype="float64"))) == 0
    out = af.cumulative_funding([np.nan, 0.01, np.nan, 0.02])
    assert math.isnan(out[0])  # nothing settled yet
    np.testing.assert_allclose(out[1:], [0.01, 0.01, 0.03])  # a missing settlement adds nothing


# -- interval inference -----------------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [1, 4, 8])
def test_infer_interval_from_datetimes(hours):
    ts = pd.date_range("2026-01-01", periods=12, freq=f"{hours}h", tz="UTC")
    assert af.infer_interval_hours(ts) == hours
    assert af.infer_interval_hours(pd.Series(ts[::-1])) == hours  # order does not matter


def test_infer_interval_from_epoch_ms_with_a_gap_and_jitter():
    h8 = 8 * 3_600_000
    ms = [0, h8 + 1_000, 2 * h8, 4 * h8, 5 * h8 - 2_000, 6 * h8, 6 * h8]  # a missed settlement, a duplicate
    assert af.infer_interval_hours(ms) == 8.0


def test_infer_interval_not_enough_data_and_odd_spacing():
    assert math.isnan(af.infer_interval_hours([]))
    assert math.isnan(af.infer_interval_hours([1_000]))
    assert math.isnan(af.infer_interval_hours([1_000, 1_000]))
    assert af.infer_interval_hours([0, 6 * 3_600_000, 12 * 3_600_000]) == 6.0  # no snap: reported as is


def test_interval_of_simulated_funding_history(market):
    from data_sources.simulated.market import HOUR_MS

    for venue, base, hours in (("binanceusdm", "SOL", 4), ("bybit", "SOL", 1), ("okx", "BTC", 8)):
        inst = market.find(venue, base=base, quote="USDT", kind="perp")
        times, _ = market.funding_settlements(inst, market.now_ms() - 3 * 24 * HOUR_MS, market.now_ms())
        assert af.infer_interval_hours(times) == hours


# -- properties -------------------------------------------------------------------------------------------
@given(r=rates, h=intervals)
def test_units_are_consistent(r, h):
    assert af.apr(r, h) == pytest.approx(af.rate_8h(r, h) * 3 * 365, rel=1e-12, abs=1e-18)
    # Compounding helps a positive rate and hurts a negative one less than simple accrual.
    assert af.apy(r, h) >= af.apr(r, h) - 1e-12


@given(r=st.lists(rates, max_size=50))
def test_running_sum_ends_at_the_total(r):
    if not r:
        assert math.isnan(af.total_funding(r))
        return
    assert af.cumulative_funding(r)[-1] == pytest.approx(af.total_funding(r), abs=1e-12)
    assert af.cumulative_funding(r, compounded=True)[-1] == pytest.approx(
        af.total_funding(r, compounded=True), abs=1e-12)
