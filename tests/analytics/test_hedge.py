"""Hedge calculator math: seed 003's golden examples, venue rounding, P&L, Binance liquidation, costs, warnings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import hedge as hg

NOW = pd.Timestamp("2026-11-25 13:57", tz="UTC")
fast = settings(max_examples=60, deadline=None)


def instrument(**overrides: object) -> hg.Instrument:
    """Binance USDⓈ-M BTCUSDT perp (1 BTC contracts, 0.001 step) unless overridden."""
    spec: dict = {"venue": "binanceusdm", "symbol": "BTC/USDT:USDT", "kind": "perp", "linear": True,
                  "contract_size": 1.0, "amount_step": 0.001, "min_amount": 0.001, "max_leverage": 125.0,
                  "expiry": None, "settle": "USDT"}
    spec.update(overrides)
    return hg.Instrument(**spec)


USDM = instrument()
OKX = instrument(venue="okx", contract_size=0.01, amount_step=1.0, min_amount=1.0, max_leverage=100.0)
COINM = instrument(venue="binancecoinm", symbol="BTC/USD:BTC", linear=False, contract_size=100.0, amount_step=1.0,
                   min_amount=1.0, settle="BTC")
FINE_INVERSE = instrument(linear=False, contract_size=100.0, amount_step=1e-9, min_amount=0.0, settle="BTC")
QUARTERLY = instrument(symbol="BTC/USDT:USDT-261225", kind="future", expiry=pd.Timestamp("2026-12-25 08:00", tz="UTC"))

# Binance COIN-M BTCUSD levels in BTC (FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts",
# 2021-02-05, and "Leverage and Margin in Coin-Margined Futures Contracts").
COINM_FLOORS = [0, 10, 20, 30, 50, 100, 200, 400, 1000]
COINM_MMRS = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25]
COINM_BRACKETS = hg.brackets_from_table(COINM_FLOORS, COINM_MMRS)


# -- seed 003 golden examples -------------------------------------------------------------------------------
def test_seed_003_full_hedge_nets_zero_when_btc_falls_to_55000():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    assert sizing.notional_usd == 60_000.0
    assert sizing.contracts == 1.0 and sizing.hedge_notional_usd == 60_000.0
    table = hg.scenario_table(quantity=1.0, p0=60_000.0, sizing=sizing, instrument=USDM, moves=[-5_000 / 60_000])
    row = table.iloc[0]
    assert row["price"] == pytest.approx(55_000.0)
    assert row["spot_pnl"] == pytest.approx(-5_000.0)
    assert row["hedge_pnl"] == pytest.approx(5_000.0)
    assert row["carry"] == 0.0 and row["fees"] == 0.0  # no basis, no funding
    assert row["net"] == pytest.approx(0.0, abs=1e-9)


def test_seed_003_half_hedge_loses_10pct_on_a_20pct_drop_and_gains_10pct_on_a_rise():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=0.5, instrument=USDM)
    assert sizing.contracts == 0.5
    assert sizing.net_delta_usd == pytest.approx(30_000.0) and sizing.net_delta_coin == pytest.approx(0.5)
    table = hg.scenario_table(quantity=1.0, p0=60_000.0, sizing=sizing, instrument=USDM, moves=[-0.2, 0.2])
    np.testing.assert_allclose(table["spot_pnl"], [-12_000.0, 12_000.0])
    np.testing.assert_allclose(table["hedge_pnl"], [6_000.0, -6_000.0])
    np.testing.assert_allclose(table["net_pct"], [-0.10, 0.10])


def test_seed_003_proxy_hedge_of_an_altcoin_with_btc():
    # $10,000 of an altcoin (1,000 at $10) with beta 1.5 on BTC: short 15,000 USD of BTC = 0.25 BTC.
    sizing = hg.size_hedge(quantity=1_000.0, price=10.0, ratio=1.0, instrument=USDM, vehicle_price=60_000.0,
                           beta=1.5)
    assert sizing.proxy and sizing.target_notional_usd == pytest.approx(15_000.0)
    assert sizing.contracts == 0.25 and sizing.hedge_coin == 0.25
    assert sizing.net_delta_usd == pytest.approx(0.0, abs=1e-9)  # beta-equivalent exposure is flat
    table = hg.scenario_table(quantity=1_000.0, p0=10.0, sizing=sizing, instrument=USDM, moves=[-0.1, 0.1],
                              residual_vol=0.03, horizon_days=30.0)
    np.testing.assert_allclose(table["vehicle_price"], [54_000.0, 66_000.0])
    np.testing.assert_allclose(table["price"], [8.5, 11.5])  # the alt's expected move is beta x BTC's
    np.testing.assert_allclose(table["spot_pnl"], [-1_500.0, 1_500.0])
    np.testing.assert_allclose(table["hedge_pnl"], [1_500.0, -1_500.0])
    np.testing.assert_allclose(table["net"], [0.0, 0.0], atol=1e-9)
    # "the hedge is only as good as the beta": 1 sd of residual P&L = 10,000 x 3 % x sqrt(30 daily obs)
    np.testing.assert_allclose(table["residual_1sd"], 10_000 * 0.03 * math.sqrt(30))


# -- venue rounding -----------------------------------------------------------------------------------------
def test_binance_coinm_rounds_to_whole_100_usd_contracts():
    s = hg.size_hedge(quantity=1.2345, price=61_234.0, ratio=1.0, instrument=COINM)
    assert s.notional_usd == pytest.approx(75_593.373)
    assert s.contracts_raw == pytest.approx(755.93373)
    assert s.contracts == 756.0 and isinstance(s.contracts, float)
    assert s.hedge_notional_usd == 75_600.0
    assert s.residual_usd == pytest.approx(75_593.373 - 75_600.0)  # -6.627 USD: over-hedged by a hair
    assert s.residual_coin == pytest.approx(-6.627 / 61_234.0)
    assert s.residual_fraction == pytest.approx(-6.627 / 75_593.373)
    assert s.note is None


def test_okx_rounds_to_whole_0_01_btc_contracts():
    s = hg.size_hedge(quantity=1.2345, price=61_234.0, ratio=1.0, instrument=OKX)
    assert s.contract_value_usd == pytest.approx(612.34)
    assert s.contracts_raw == pytest.approx(123.45)
    assert s.contracts == 123.0
    assert s.hedge_coin == pytest.approx(1.23)
    assert s.residual_coin == pytest.approx(0.0045)  # under-hedged by 0.0045 BTC
    assert s.residual_usd == pytest.approx(0.0045 * 61_234.0)


def test_okx_lot_of_0_1_contract_rounds_a_tie_away_from_zero():
    okx_01 = instrument(venue="okx", contract_size=0.01, amount_step=0.1, min_amount=0.1)
    s = hg.size_hedge(quantity=1.2345, price=61_234.0, ratio=1.0, instrument=okx_01)
    assert s.contracts == 123.5  # 123.45 is a tie on the 0.1 grid (whatever float noise says)
    assert s.residual_coin == pytest.approx(-0.0005)


def test_binance_usdm_rounds_to_0_001_btc():
    s = hg.size_hedge(quantity=1.23456, price=61_234.0, ratio=1.0, instrument=USDM)
    assert s.contracts == 1.235
    assert s.residual_coin == pytest.approx(1.23456 - 1.235)
    tie = hg.size_hedge(quantity=1.2345, price=61_234.0, ratio=1.0, instrument=USDM)
    assert tie.contracts == 1.235  # ties away from zero
    assert hg.size_hedge(quantity=1.2344, price=61_234.0, ratio=1.0, instrument=USDM).contracts == 1.234


@pytest.mark.parametrize(("rounding", "expected"), [("nearest", 124.0), ("down", 123.0), ("up", 124.0)])
def test_rounding_modes(rounding, expected):
    s = hg.size_hedge(quantity=1.2371, price=61_234.0, ratio=1.0, instrument=OKX, rounding=rounding)
    assert s.contracts_raw == pytest.approx(123.71)
    assert s.contracts == expected
    assert s.rounding == rounding


def test_minimum_order_raises_a_small_hedge_or_drops_a_tiny_one_and_says_so():
    # Binance COIN-M: 1 contract of 100 USD minimum. 60 USD wanted is nearer to 1 contract than to 0.
    nearest = hg.size_hedge(quantity=0.001, price=60_000.0, ratio=1.0, instrument=COINM)
    assert nearest.contracts_raw == pytest.approx(0.6) and nearest.contracts == 1.0 and nearest.note is None
    # A minimum of 10 steps: 6 steps wanted -> nearer to the minimum than to 0, raised and said so.
    min_10_steps = instrument(amount_step=0.001, min_amount=0.01)
    raised = hg.size_hedge(quantity=0.006, price=60_000.0, ratio=1.0, instrument=min_10_steps)
    assert raised.contracts == 0.01
    assert "raised to the venue's minimum order of 0.01 contracts" in raised.note
    assert hg.size_hedge(quantity=0.004, price=60_000.0, ratio=1.0, instrument=min_10_steps).contracts == 0.0
    # 24 USD of 100 USD contracts: nearer to 0, so no hedge, and the note says why.
    dropped = hg.size_hedge(quantity=0.0004, price=60_000.0, ratio=1.0, instrument=COINM)
    assert dropped.contracts == 0.0 and dropped.hedge_notional_usd == 0.0
    assert "below the venue's minimum order" in dropped.note and "no hedge" in dropped.note
    assert dropped.residual_fraction == pytest.approx(1.0)
    # a minimum above one step: 3 steps wanted, 5 the minimum
    contracts, note = hg.round_contracts(3.0, amount_step=1.0, min_amount=5.0)
    assert contracts == 5.0 and "minimum" in note
    assert hg.round_contracts(2.0, amount_step=1.0, min_amount=5.0, rounding="down")[0] == 0.0
    assert hg.round_contracts(0.4, amount_step=1.0, min_amount=0.0)[1].startswith("0.4 contracts wanted rounds to 0")


def test_zero_ratio_places_no_hedge():
    s = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=0.0, instrument=USDM)
    assert s.contracts == 0.0 and s.note is None
    assert math.isnan(s.residual_fraction)  # no target to be a fraction of
    assert s.net_delta_usd == 60_000.0


@fast
@given(quantity=st.floats(0.01, 1e4), price=st.floats(1.0, 2e5), step=st.sampled_from([0.001, 0.01, 0.1, 1.0]),
       size=st.sampled_from([0.001, 0.01, 1.0]), linear=st.booleans())
def test_full_hedge_leaves_at_most_half_a_step_of_delta(quantity, price, step, size, linear):
    inst = instrument(linear=linear, contract_size=size if linear else 100.0 * size, amount_step=step,
                      min_amount=0.0)
    s = hg.size_hedge(quantity=quantity, price=price, ratio=1.0, instrument=inst)
    step_usd = step * s.contract_value_usd
    assert abs(s.net_delta_usd) <= step_usd / 2 * (1 + 1e-9) + 1e-12 * s.notional_usd  # float noise of big notionals
    assert s.net_delta_usd == pytest.approx(s.residual_usd, abs=1e-6)
    assert s.contracts == pytest.approx(round(s.contracts / step) * step)  # on the grid


# -- P&L ----------------------------------------------------------------------------------------------------
def test_linear_short_pnl_is_vectorized():
    assert hg.short_pnl_linear(2.0, 0.01, 60_000.0, 55_000.0) == pytest.approx(100.0)
    out = hg.short_pnl_linear(1.0, 1.0, 60_000.0, np.array([50_000.0, 60_000.0, 70_000.0]))
    np.testing.assert_allclose(out, [10_000.0, 0.0, -10_000.0])
    assert math.isnan(hg.short_pnl_linear(1.0, 1.0, 60_000.0, 0.0))


def test_inverse_short_pnl_in_coin_and_usd():
    # 600 contracts x 100 USD at 60,000 = 1 BTC of face value.
    pnl = hg.short_pnl_inverse(600.0, 100.0, 60_000.0, np.array([50_000.0, 75_000.0]))
    np.testing.assert_allclose(pnl.coin, [60_000 / 50_000 - 1.0, 60_000 / 75_000 - 1.0])  # +0.2, -0.2 BTC
    np.testing.assert_allclose(pnl.usd, [0.2 * 50_000, -0.2 * 75_000])  # +10,000, -15,000: not symmetric
    series = hg.short_pnl_inverse(600.0, 100.0, 60_000.0, pd.Series([50_000.0, -1.0], index=["a", "b"]))
    assert list(series.usd.index) == ["a", "b"] and math.isnan(series.usd["b"])


@fast
@given(q=st.floats(1e-3, 1e4), p0=st.floats(1.0, 1e6), p1=st.floats(1.0, 1e6), cv=st.sampled_from([10.0, 100.0]))
def test_inverse_full_hedge_keeps_the_usd_value_whatever_the_price(q, p0, p1, cv):
    contracts = q * p0 / cv  # unrounded
    value = q * p1 + hg.short_pnl_inverse(contracts, cv, p0, p1).usd
    assert value == pytest.approx(q * p0, rel=1e-9)


@fast
@given(q=st.floats(1e-2, 1e3), p0=st.floats(100.0, 1e5))
def test_inverse_full_hedge_scenario_table_is_flat_across_the_range(q, p0):
    sizing = hg.size_hedge(quantity=q, price=p0, ratio=1.0, instrument=FINE_INVERSE)
    table = hg.scenario_table(quantity=q, p0=p0, sizing=sizing, instrument=FINE_INVERSE)
    assert len(table) == 21
    np.testing.assert_allclose(q * p0 + table["net"], q * p0, rtol=1e-8)


# -- brackets and margin ------------------------------------------------------------------------------------
def test_binance_coinm_maintenance_amounts_match_the_faq():
    cum = hg.maintenance_amounts(COINM_FLOORS, COINM_MMRS)
    assert cum[3] == pytest.approx(0.56)  # level 4
    assert cum[4] == pytest.approx(50 * (0.05 - 0.025) + 0.56)  # level 5 = 1.81 BTC (FAQ example)
    assert cum[4] == pytest.approx(1.81)


def test_a_300_btc_coinm_position_has_mmr_12_5_pct_and_cum_11_81_btc():
    b = hg.bracket_for(300.0, COINM_BRACKETS)
    assert (b.floor, b.cap) == (200.0, 400.0)
    assert b.mmr == 0.125
    assert b.cum == pytest.approx(11.81)


def test_bracket_boundaries_and_continuity():
    assert hg.bracket_for(0.0, COINM_BRACKETS).mmr == 0.004
    assert hg.bracket_for(10.0, COINM_BRACKETS).mmr == 0.004  # (floor, cap]: the cap belongs to its level
    assert hg.bracket_for(10.0001, COINM_BRACKETS).mmr == 0.005
    assert hg.bracket_for(5_000.0, COINM_BRACKETS).cap == math.inf
    for lower, upper in zip(COINM_BRACKETS[:-1], COINM_BRACKETS[1:], strict=True):
        v = upper.floor  # maintenance margin is continuous at every boundary: that is what cum is for
        assert v * lower.mmr - lower.cum == pytest.approx(v * upper.mmr - upper.cum)


def test_brackets_from_a_tier_frame_like_the_facades():
    frame = pd.DataFrame({
        "tier": [2, 1], "floor": [10.0, 0.0], "cap": [math.inf, 10.0], "unit": ["BTC", "BTC"],
        "mmr": [0.005, 0.004], "max_leverage": [np.nan, 125.0], "cum": [0.01, 0.0], "source": ["config: x"] * 2,
    })
    brackets = hg.brackets_from_frame(frame)
    assert brackets == (hg.Bracket(0.0, 10.0, 0.004, 125.0, 0.0), hg.Bracket(10.0, math.inf, 0.005, None, 0.01))
    assert brackets == hg.brackets_from_table([0, 10], [0.004, 0.005], max_leverages=[125.0, None])


def test_initial_margin_linear_and_inverse():
    assert hg.initial_margin(60_000.0, 5.0) == 12_000.0  # USD
    assert hg.initial_margin(600 * 100 / 60_000, 5.0) == pytest.approx(0.2)  # coin: contracts x CV / P0 / lev


# -- liquidation --------------------------------------------------------------------------------------------
def test_linear_short_liquidation_worked_numbers():
    # 1 BTC short at 60,000, 5x: WB = 12,000 USD; MMR 0.4 %, cum 0.
    liq = hg.liquidation_short(linear=True, size=1.0, entry_price=60_000.0, wallet_balance=12_000.0,
                               brackets=hg.single_bracket(0.004))
    assert liq.price == pytest.approx((12_000 + 0 + 1 * 60_000) / (1 * (1 + 0.004)))
    assert liq.price == pytest.approx(71_713.147, abs=1e-3)
    assert liq.distance_pct == pytest.approx(71_713.147 / 60_000 - 1, abs=1e-7)
    assert liq.maintenance_margin == pytest.approx(240.0)  # 60,000 x 0.4 %
    assert liq.formula == ("LP = (WB + cum + Q·EP) / (Q·(1 + MMR)) = (12,000 + 0 + 1·60,000) / (1·(1 + 0.004))"
                           " = 71,713.14741")
    assert liq.reason is None and not liq.rebracketed and liq.margin_unit == "USD"


def test_linear_short_liquidation_recomputed_in_the_bracket_at_the_liquidation_price():
    brackets = hg.brackets_from_table([0.0, 50_000.0], [0.004, 0.005])  # cum of level 2 = 50,000 x 0.1 % = 50
    assert brackets[1].cum == pytest.approx(50.0)
    # 0.8 BTC at 60,000 = 48,000 USD (level 1), 5x: WB 9,600.
    first_try = (9_600 + 0 + 0.8 * 60_000) / (0.8 * 1.004)  # 71,713: worth 57,370 USD there, level 2
    assert 0.8 * first_try > 50_000
    liq = hg.liquidation_short(linear=True, size=0.8, entry_price=60_000.0, wallet_balance=9_600.0,
                               brackets=brackets)
    assert liq.price == pytest.approx((9_600 + 50 + 0.8 * 60_000) / (0.8 * 1.005))  # 71,703.98
    assert liq.rebracketed and (liq.mmr, liq.cum) == (0.005, pytest.approx(50.0))
    assert (liq.entry_mmr, liq.entry_cum) == (0.004, 0.0)
    assert "entry bracket has MMR 0.004" in liq.formula


def test_linear_short_worth_more_than_the_last_cap_at_liquidation_uses_the_last_rate():
    capped = (hg.Bracket(0.0, 100_000.0, 0.004, 125.0, 0.0), hg.Bracket(100_000.0, 120_000.0, 0.005, 100.0, 100.0))
    # 1.9 BTC at 60,000 = 114,000 USD (level 2), 5x: WB 22,800; at ~71,700 it is worth ~136,000, beyond 120,000.
    liq = hg.liquidation_short(linear=True, size=1.9, entry_price=60_000.0, wallet_balance=22_800.0, brackets=capped)
    assert liq.price == pytest.approx((22_800 + 100 + 1.9 * 60_000) / (1.9 * 1.005))
    assert "beyond the last bracket's cap of 120,000" in liq.formula and liq.reason is None


def test_inverse_short_liquidation_worked_numbers():
    # 600 contracts x 100 USD at 60,000 (1 BTC), 5x: WB = 0.2 BTC; level 1 (MMR 0.4 %, cum 0).
    liq = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=60_000.0,
                               wallet_balance=0.2, brackets=COINM_BRACKETS, margin_unit="BTC")
    assert liq.price == pytest.approx(600 * 100 * (1 - 0.004) / (600 * 100 / 60_000 - 0.2 - 0))  # 74,700
    assert liq.price == pytest.approx(74_700.0)
    assert liq.maintenance_margin == pytest.approx(0.004)  # 1 BTC x 0.4 %
    assert liq.formula.startswith("LP = Q·CS·(1 − MMR) / (Q·CS/EP − WB − cum) = 600·100·(1 − 0.004) / "
                                  "(600·100/60,000 − 0.2 − 0) = 74,700")
    assert liq.margin_unit == "BTC"


def test_inverse_short_liquidation_recomputed_in_a_lower_bracket():
    # 7,200 contracts at 60,000 = 12 BTC (level 2: MMR 0.5 %, cum 0.01), 5x: WB 2.4 BTC.
    first_try = 7_200 * 100 * (1 - 0.005) / (12 - 2.4 - 0.01)  # 74,702.8: worth 9.64 BTC there, level 1
    assert 7_200 * 100 / first_try < 10
    liq = hg.liquidation_short(linear=False, size=7_200.0, contract_size=100.0, entry_price=60_000.0,
                               wallet_balance=2.4, brackets=COINM_BRACKETS)
    assert liq.price == pytest.approx(7_200 * 100 * (1 - 0.004) / (12 - 2.4 - 0))  # 74,700
    assert liq.rebracketed and liq.mmr == 0.004 and liq.entry_mmr == 0.005


def test_size_tiers_okx_style_fix_the_bracket_by_size():
    # OKX BTC-USDT-SWAP tiers are in BTC of size: (0, 50] at 0.4 %, (50, 100] at 0.6 % (illustrative rates).
    tiers = hg.brackets_from_table([0.0, 50.0], [0.004, 0.006], max_leverages=[100.0, 50.0])
    tiers = tuple(hg.Bracket(b.floor, b.cap, b.mmr, b.max_leverage, 0.0) for b in tiers)  # OKX: cum 0
    small = hg.liquidation_short(linear=True, size=0.5, entry_price=60_000.0, wallet_balance=3_000.0,
                                 brackets=tiers, brackets_by="size")
    assert small.price == pytest.approx((3_000 + 0.5 * 60_000) / (0.5 * 1.004)) and not small.rebracketed
    big = hg.liquidation_short(linear=True, size=60.0, entry_price=60_000.0, wallet_balance=360_000.0,
                               brackets=tiers, brackets_by="size")
    assert big.mmr == 0.006 and big.price == pytest.approx((360_000 + 60 * 60_000) / (60 * 1.006))
    # read as USD values, the same tiers put a 0.5 BTC (30,000 USD) position in the 50+ tier: sizes are not values
    misread = hg.liquidation_short(linear=True, size=0.5, entry_price=60_000.0, wallet_balance=3_000.0,
                                   brackets=tiers)
    assert misread.entry_mmr == 0.006
    # OKX BTC-USD-SWAP (inverse, 100 USD contracts): tiers in USD of face value
    face = (hg.Bracket(0.0, 1e6, 0.005, 75.0, 0.0),)
    inv = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=60_000.0,
                               wallet_balance=0.2, brackets=face, brackets_by="size")
    assert inv.price == pytest.approx(60_000 * (1 - 0.005) / (1 - 0.2))


def test_a_1x_coin_margined_short_funded_by_the_coin_has_no_liquidation_price():
    liq = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=60_000.0,
                               wallet_balance=1.0, brackets=COINM_BRACKETS)
    assert liq.price is None and math.isnan(liq.distance_pct)
    assert liq.reason.startswith("no liquidation price") and "cannot be liquidated on the way up" in liq.reason
    assert "denominator 0 <= 0" in liq.formula


@fast
@given(q=st.floats(0.01, 500.0), ep=st.floats(1_000.0, 1e5), lev=st.floats(1.0, 50.0), linear=st.booleans())
def test_at_the_liquidation_price_equity_equals_maintenance_margin(q, ep, lev, linear):
    """The solved price is the root of equity = MM(value at LP) in the bracket it lands in (any bracket)."""
    brackets = hg.brackets_from_table(np.array(COINM_FLOORS) * 60_000.0, COINM_MMRS) if linear else COINM_BRACKETS
    entry_value = q * ep if linear else q  # USD linear; coin inverse (q coins of face value)
    wb = entry_value / lev
    entry = hg.bracket_for(entry_value, brackets)
    if wb <= entry_value * entry.mmr - entry.cum:  # leverage beyond what the bracket allows
        with pytest.raises(hg.HedgeInputError, match="liquidated at once"):
            hg.liquidation_short(linear=linear, size=q if linear else q * ep / 100.0, contract_size=100.0,
                                 entry_price=ep, wallet_balance=wb, brackets=brackets)
        return
    if linear:
        liq = hg.liquidation_short(linear=True, size=q, entry_price=ep, wallet_balance=wb, brackets=brackets)
        lp = liq.price
        equity, value = wb + q * (ep - lp), q * lp
    else:
        contracts = q * ep / 100.0
        liq = hg.liquidation_short(linear=False, size=contracts, contract_size=100.0, entry_price=ep,
                                   wallet_balance=wb, brackets=COINM_BRACKETS)
        if liq.price is None:  # only 1x (within float noise), funded by the coin, is never liquidated
            assert lev - 1.0 < 1e-8
            return
        lp = liq.price
        equity, value = wb + contracts * 100.0 * (1 / lp - 1 / ep), contracts * 100.0 / lp
    assert lp is not None and lp > ep  # a short is liquidated on the way up
    used = hg.bracket_for(value * (1 - 1e-12), brackets)
    assert (liq.mmr, liq.cum) == pytest.approx((used.mmr, used.cum)) or used.floor == pytest.approx(value)
    assert equity == pytest.approx(value * liq.mmr - liq.cum, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("lev", [2.0, 5.0, 20.0])
def test_simple_forms_equal_the_full_formulas_without_maintenance_margin(lev):
    zero = hg.single_bracket(0.0)
    full_lin = hg.liquidation_short(linear=True, size=1.0, entry_price=60_000.0,
                                    wallet_balance=hg.initial_margin(60_000.0, lev), brackets=zero)
    assert hg.simple_liquidation_linear(60_000.0, leverage=lev, mmr=0.0) == pytest.approx(full_lin.price)
    full_inv = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=60_000.0,
                                    wallet_balance=hg.initial_margin(1.0, lev), brackets=zero)
    assert hg.simple_liquidation_inverse(60_000.0, leverage=lev, mmr=0.0) == pytest.approx(full_inv.price)


@pytest.mark.parametrize(("lev", "mmr"), [(5.0, 0.004), (10.0, 0.005), (2.0, 0.01)])
def test_simple_forms_agree_with_the_full_formulas_to_first_order_in_mmr(lev, mmr):
    """With WB = initial margin and cum = 0 the simple forms take MM on the entry value, Binance on the value at
    LP: the gap is second order (mmr / leverage) and has a closed form."""
    p0 = 60_000.0
    full_lin = hg.liquidation_short(linear=True, size=1.0, entry_price=p0, wallet_balance=p0 / lev,
                                    brackets=hg.single_bracket(mmr)).price
    simple_lin = hg.simple_liquidation_linear(p0, leverage=lev, mmr=mmr)
    assert simple_lin == pytest.approx(p0 * (1 + 1 / lev - mmr))
    assert full_lin == pytest.approx(p0 * (1 + 1 / lev) / (1 + mmr))
    assert simple_lin - full_lin == pytest.approx(p0 * mmr * (1 / lev - mmr) / (1 + mmr))
    assert simple_lin == pytest.approx(full_lin, rel=mmr / lev)
    full_inv = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=p0,
                                    wallet_balance=1.0 / lev, brackets=hg.single_bracket(mmr)).price
    simple_inv = hg.simple_liquidation_inverse(p0, leverage=lev, mmr=mmr)
    assert simple_inv == pytest.approx(p0 / (1 - 1 / lev + mmr))
    assert full_inv == pytest.approx(p0 * (1 - mmr) / (1 - 1 / lev))
    assert simple_inv == pytest.approx(full_inv, rel=2 * mmr * lev)


def test_simple_inverse_at_1x_is_finite_where_the_full_formula_has_no_price():
    assert hg.simple_liquidation_inverse(60_000.0, leverage=1.0, mmr=0.004) == pytest.approx(60_000 / 0.004)
    assert math.isnan(hg.simple_liquidation_inverse(60_000.0, leverage=1.0, mmr=0.0))
    np.testing.assert_allclose(hg.simple_liquidation_linear(np.array([100.0, 200.0]), leverage=2.0, mmr=0.0),
                               [150.0, 300.0])


def test_liquidation_for_a_sized_hedge_uses_the_initial_margin():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    liq = hg.liquidation_for_hedge(sizing=sizing, instrument=USDM, leverage=5.0, brackets=hg.single_bracket(0.004))
    assert liq.wallet_balance == 12_000.0 and liq.price == pytest.approx(71_713.147, abs=1e-3)
    assert liq.margin_unit == "USDT"
    more = hg.liquidation_for_hedge(sizing=sizing, instrument=USDM, leverage=5.0, extra_margin=3_000.0,
                                    brackets=hg.single_bracket(0.004), current_price=61_000.0)
    assert more.price == pytest.approx(75_000 / 1.004)  # WB 12,000 + 3,000
    assert more.distance_pct == pytest.approx(75_000 / 1.004 / 61_000 - 1)
    coin = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=COINM)
    inv = hg.liquidation_for_hedge(sizing=coin, instrument=COINM, leverage=5.0, brackets=COINM_BRACKETS)
    assert inv.wallet_balance == pytest.approx(0.2) and inv.price == pytest.approx(74_700.0)
    assert hg.liquidation_for_hedge(sizing=coin, instrument=COINM, leverage=1.0, brackets=COINM_BRACKETS).price is None


# -- costs --------------------------------------------------------------------------------------------------
def test_perp_cost_worked_numbers():
    # 60,000 USD short for 30 days, 5 bps taker, funding 0.01 % per 8 h (0.00125 % an hour).
    c = hg.perp_cost(notional_usd=60_000.0, horizon_days=30.0, taker_bps=5.0, funding_rate_per_hour=0.0001 / 8)
    assert c.fees_usd == pytest.approx(60_000 * 5 / 1e4 * 2)  # 60: open + close
    assert c.carry_usd == pytest.approx(-60_000 * 0.0001 / 8 * 24 * 30)  # -540: the short earns it
    assert c.expected_cost_usd == pytest.approx(60 - 540)
    assert c.annualized_carry == pytest.approx(0.1095)  # 0.01 % / 8h = 10.95 % APR
    assert sum(i.usd for i in c.items) == pytest.approx(c.expected_cost_usd)
    assert "receives" in c.items[1].label and c.note is None


def test_negative_funding_makes_the_perp_cost_money_and_says_so():
    c = hg.perp_cost(notional_usd=60_000.0, horizon_days=30.0, taker_bps=5.0, funding_rate_per_hour=-0.0001 / 8)
    assert c.carry_usd == pytest.approx(540.0) and c.expected_cost_usd == pytest.approx(600.0)
    assert "shorts pay longs" in c.note and "pays" in c.items[1].label


def test_future_cost_accrues_the_basis_linearly_then_in_full_at_expiry():
    # Seed 002: S 65,000, 3-month future 67,500 (91 days): +2,500 basis, ~15 % annualized.
    kw = {"notional_usd": 65_000.0, "taker_bps": 5.0, "spot_price": 65_000.0, "future_price": 67_500.0,
          "days_to_expiry": 91.0}
    c = hg.future_cost(horizon_days=30.0, **kw)
    assert c.fees_usd == pytest.approx(65.0)
    assert c.carry_usd == pytest.approx(-2_500.0 * 30 / 91)
    assert c.annualized_carry == pytest.approx(2_500 / 65_000 * 365 / 91)
    assert c.annualized_carry == pytest.approx(0.154, abs=0.001)
    assert c.rolls == () and c.note is None
    at_expiry = hg.future_cost(horizon_days=91.0, **kw)
    assert at_expiry.carry_usd == pytest.approx(-2_500.0) and "in full at expiry" in at_expiry.items[1].label


def test_backwardation_costs_the_short():
    c = hg.future_cost(notional_usd=58_000.0, horizon_days=30.0, taker_bps=0.0, spot_price=58_000.0,
                       future_price=57_420.0, days_to_expiry=60.0)
    assert c.carry_usd == pytest.approx(580.0 * 30 / 60) and "pays" in c.items[1].label


def test_future_expiring_inside_the_horizon_rolls_at_todays_curve():
    # Q1 at 60,300 expires in 20 days; Q2 at 61,500 in 110. Horizon 30 days, 4 bps.
    c = hg.future_cost(notional_usd=60_000.0, horizon_days=30.0, taker_bps=4.0, spot_price=60_000.0,
                       future_price=60_300.0, days_to_expiry=20.0, symbol="Q1",
                       next_contracts=[hg.CurvePoint(61_500.0, 110.0, "Q2")])
    assert len(c.rolls) == 1
    roll = c.rolls[0]
    assert (roll.day, roll.from_symbol, roll.into_symbol) == (20.0, "Q1", "Q2")
    assert roll.spread_pct == pytest.approx(1_200 / 60_000)  # the Q2 - Q1 calendar spread, of spot
    assert roll.carry_usd == pytest.approx(-1_200.0 * 10 / 90)  # 10 of its 90 remaining days
    assert c.carry_usd == pytest.approx(-300.0 - 1_200.0 * 10 / 90)
    assert c.fees_usd == pytest.approx(2 * 48.0)  # one more round trip
    assert c.expected_cost_usd == pytest.approx(96.0 - 300.0 - 133.333333)
    assert "rolls 1 time(s)" in c.note
    assert sum(i.usd for i in c.items) == pytest.approx(c.expected_cost_usd)
    # carry is additive along the curve: rolling to Q2's expiry earns what shorting Q2 today would
    full = hg.future_cost(notional_usd=60_000.0, horizon_days=110.0, taker_bps=0.0, spot_price=60_000.0,
                          future_price=60_300.0, days_to_expiry=20.0, next_contracts=[hg.CurvePoint(61_500.0, 110.0)])
    assert full.carry_usd == pytest.approx(-1_500.0)


def test_a_horizon_past_the_last_contract_has_unknown_carry():
    c = hg.future_cost(notional_usd=60_000.0, horizon_days=30.0, taker_bps=4.0, spot_price=60_000.0,
                       future_price=60_300.0, days_to_expiry=20.0)
    assert math.isnan(c.carry_usd) and math.isnan(c.expected_cost_usd)
    assert c.fees_usd == pytest.approx(48.0)
    assert "10 days past the last listed contract" in c.note


@fast
@given(n=st.floats(100.0, 1e9), k=st.floats(0.01, 100.0), rate=st.floats(-1e-4, 1e-4), days=st.floats(1.0, 365.0))
def test_costs_are_linear_in_notional(n, k, rate, days):
    p1 = hg.perp_cost(notional_usd=n, horizon_days=days, taker_bps=5.0, funding_rate_per_hour=rate)
    pk = hg.perp_cost(notional_usd=n * k, horizon_days=days, taker_bps=5.0, funding_rate_per_hour=rate)
    assert pk.expected_cost_usd == pytest.approx(k * p1.expected_cost_usd, rel=1e-9, abs=1e-6)
    f_kw = {"horizon_days": days, "taker_bps": 2.0, "spot_price": 60_000.0, "future_price": 61_000.0,
            "days_to_expiry": 400.0}
    f1 = hg.future_cost(notional_usd=n, **f_kw)
    fk = hg.future_cost(notional_usd=n * k, **f_kw)
    assert fk.expected_cost_usd == pytest.approx(k * f1.expected_cost_usd, rel=1e-9, abs=1e-6)
    assert pk.cost_pct == pytest.approx(p1.cost_pct, rel=1e-9, abs=1e-15)


def candidates() -> pd.DataFrame:
    nan = float("nan")
    return pd.DataFrame({
        "venue": ["binanceusdm", "okx", "binanceusdm", "deribit"],
        "symbol": ["BTC/USDT:USDT", "BTC/USDT:USDT", "BTC/USDT:USDT-261225", "BTC/USD:BTC"],
        "margin": ["linear", "linear", "linear", "inverse"],
        "kind": ["perp", "perp", "future", "perp"],
        "taker_bps": [5.0, 5.0, 5.0, 5.0],
        "funding_rate_per_hour": [0.0001 / 8, -0.0001 / 8, nan, nan],
        "spot_price": [nan, nan, 60_000.0, nan],
        "future_price": [nan, nan, 61_200.0, nan],
        "days_to_expiry": [nan, nan, 90.0, nan],
    })


def test_rank_hedges_cheapest_first_with_a_best_marker():
    frame = candidates()
    before = frame.copy()
    ranked = hg.rank_hedges(frame, notional_usd=60_000.0, horizon_days=30.0)
    pd.testing.assert_frame_equal(frame, before)  # not mutated
    assert list(ranked.columns) == [*frame.columns, *hg.RANK_COLUMNS]
    # future: 60 fees - 1,200 x 30/90 = -340; perp +funding: 60 - 540 = -480; perp -funding: 600; bad row last
    assert list(ranked["venue"]) == ["binanceusdm", "binanceusdm", "okx", "deribit"]
    np.testing.assert_allclose(ranked["expected_cost_usd"].iloc[:3], [-480.0, -340.0, 600.0])
    assert list(ranked["best"]) == [True, False, False, False]
    assert list(ranked["rank"]) == [1, 2, 3, 4]
    assert ranked["note"].iloc[3].startswith("invalid input: funding_rate_per_hour")
    assert "shorts pay longs" in ranked["note"].iloc[2]
    again = hg.rank_hedges(ranked, notional_usd=60_000.0, horizon_days=30.0)  # re-ranking a ranked table
    assert list(again.columns) == list(ranked.columns)


def test_rank_hedges_uses_each_rows_notional_and_rolls():
    frame = candidates().iloc[[2]].assign(notional_usd=30_000.0, next_symbol="BTC/USDT:USDT-270326",
                                          next_future_price=62_400.0, next_days_to_expiry=180.0)
    ranked = hg.rank_hedges(frame, notional_usd=60_000.0, horizon_days=120.0)
    row = ranked.iloc[0]
    assert row["rolls"] == 1
    assert row["carry_usd"] == pytest.approx(-(1_200.0 + 1_200.0 * 30 / 90) / 60_000 * 30_000)
    assert row["fees_usd"] == pytest.approx(30_000 * 5e-4 * 2 * 2)
    assert row["best"]


def test_rank_hedges_of_an_empty_table():
    ranked = hg.rank_hedges(candidates().iloc[:0], notional_usd=1.0, horizon_days=1.0)
    assert ranked.empty and "best" in ranked.columns


# -- scenarios ----------------------------------------------------------------------------------------------
def test_scenario_table_defaults_and_signs():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    table = hg.scenario_table(quantity=1.0, p0=60_000.0, sizing=sizing, instrument=USDM, carry_usd=-540.0,
                              fees_usd=60.0)
    assert list(table.columns) == list(hg.SCENARIO_COLUMNS)
    assert (table.dtypes == "float64").all()
    np.testing.assert_allclose(table["move"], np.linspace(-0.5, 0.5, 21))
    np.testing.assert_allclose(table["carry"], 540.0)  # a cost of -540 is earned P&L
    np.testing.assert_allclose(table["fees"], -60.0)
    np.testing.assert_allclose(table["net"], 480.0)  # fully hedged: only carry and fees remain
    np.testing.assert_allclose(table["net_pct"], 480.0 / 60_000)
    assert table["residual_1sd"].isna().all()
    np.testing.assert_allclose(table["vehicle_price"], table["price"])


def test_inverse_hedge_pnl_in_the_scenario_table_is_non_linear():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=COINM)
    assert sizing.contracts == 600.0
    table = hg.scenario_table(quantity=1.0, p0=60_000.0, sizing=sizing, instrument=COINM, moves=[-0.5, 0.5])
    np.testing.assert_allclose(table["hedge_pnl"], [60_000 * (1 / 30_000 - 1 / 60_000) * 30_000,
                                                    60_000 * (1 / 90_000 - 1 / 60_000) * 90_000])  # +30,000, -30,000
    np.testing.assert_allclose(table["net"], 0.0, atol=1e-8)


def test_proxy_held_asset_price_is_floored_at_zero():
    sizing = hg.size_hedge(quantity=100.0, price=10.0, ratio=1.0, instrument=USDM, vehicle_price=60_000.0, beta=2.5)
    table = hg.scenario_table(quantity=100.0, p0=10.0, sizing=sizing, instrument=USDM, moves=[-0.5])
    assert table["price"].iloc[0] == 0.0 and table["spot_pnl"].iloc[0] == -1_000.0


# -- warnings -----------------------------------------------------------------------------------------------
def test_no_warnings_when_all_is_well():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    liq = hg.liquidation_for_hedge(sizing=sizing, instrument=USDM, leverage=2.0, brackets=hg.single_bracket(0.004))
    assert hg.hedge_warnings(sizing=sizing, funding_rate_8h=0.0001, liquidation=liq, instrument=USDM,
                             horizon_days=30.0) == []


def test_funding_drag_warns_only_when_the_short_pays_beyond_the_threshold():
    assert hg.hedge_warnings(funding_rate_8h=0.0005) == []  # the short receives: not a cost
    assert hg.hedge_warnings(funding_rate_8h=-0.0001) == []  # at the threshold
    (w,) = hg.hedge_warnings(funding_rate_8h=-0.00015)
    assert w.startswith("Costly drag: funding is -0.0150% per 8h") and "short pays" in w
    assert hg.hedge_warnings(funding_rate_8h=-0.0005, funding_threshold_8h=0.001) == []
    assert hg.hedge_warnings(funding_rate_8h=-0.0005, instrument=QUARTERLY) == []  # futures pay no funding


def test_rounding_warning_above_5_pct_of_the_target():
    ok = hg.size_hedge(quantity=1.2345, price=61_234.0, ratio=1.0, instrument=COINM)
    assert hg.hedge_warnings(sizing=ok) == []
    close = hg.size_hedge(quantity=0.012, price=60_000.0, ratio=1.0, instrument=COINM)  # 7.2 -> 7 contracts
    assert close.residual_fraction == pytest.approx(0.2 / 7.2)  # 2.8 %: below the 5 % default
    assert hg.hedge_warnings(sizing=close) == []
    assert len(hg.hedge_warnings(sizing=close, residual_threshold=0.02)) == 1
    coarse = hg.size_hedge(quantity=0.0108, price=60_000.0, ratio=1.0, instrument=COINM)  # 6.48 -> 6 contracts
    (w,) = hg.hedge_warnings(sizing=coarse)
    assert w.startswith("Contract rounding leaves 7.4% of the target unhedged (+0.0008 coin, +48.00 USD)")
    over = hg.size_hedge(quantity=0.0093, price=60_000.0, ratio=1.0, instrument=COINM)  # 5.58 -> 6 contracts
    (w,) = hg.hedge_warnings(sizing=over)
    assert "7.5% of the target over-hedged" in w
    dropped = hg.size_hedge(quantity=0.0004, price=60_000.0, ratio=1.0, instrument=COINM)
    (w,) = hg.hedge_warnings(sizing=dropped)
    assert "100.0% of the target unhedged" in w and "no hedge is placed" in w


def test_liquidation_warning_within_the_distance():
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    liq = hg.liquidation_for_hedge(sizing=sizing, instrument=USDM, leverage=5.0, brackets=hg.single_bracket(0.004))
    (w,) = hg.hedge_warnings(liquidation=liq)  # 19.5 % away
    assert w.startswith("Liquidation at 71,713.15 is only 19.5% above")
    assert hg.hedge_warnings(liquidation=liq, liquidation_distance=0.10) == []
    none = hg.liquidation_short(linear=False, size=600.0, contract_size=100.0, entry_price=60_000.0,
                                wallet_balance=1.0, brackets=COINM_BRACKETS)
    assert hg.hedge_warnings(liquidation=none) == []


def test_beta_warnings_short_or_unstable_history():
    sizing = hg.size_hedge(quantity=1_000.0, price=10.0, ratio=1.0, instrument=USDM, vehicle_price=60_000.0,
                           beta=1.2)
    (w,) = hg.hedge_warnings(sizing=sizing, beta_observations=45)
    assert "45 observations (fewer than 60)" in w
    assert hg.hedge_warnings(sizing=sizing, beta_observations=60, beta_rolling=[1.1, 1.2, 1.3]) == []
    (w,) = hg.hedge_warnings(sizing=sizing, beta_rolling=[0.6, 1.2, 1.8, np.nan])  # std 0.6 / 1.2 = 50 %
    assert w.startswith("Beta is unstable") and "50%" in w
    assert hg.hedge_warnings(beta_rolling=[1.0]) == []  # one value has no spread


def test_expiry_inside_the_horizon_warns():
    (w,) = hg.hedge_warnings(instrument=QUARTERLY, horizon_days=45.0, now=NOW)  # expires in 29.75 days
    assert w.startswith("BTC/USDT:USDT-261225 expires in 29.8 days, inside the 45-day horizon")
    assert hg.hedge_warnings(instrument=QUARTERLY, horizon_days=20.0, now=NOW) == []
    assert len(hg.hedge_warnings(instrument=QUARTERLY, horizon_days=20.0, days_to_expiry=10.0)) == 1
    assert hg.hedge_warnings(instrument=USDM, horizon_days=400.0, now=NOW) == []  # a perp never expires


# -- validation: every error names its field ----------------------------------------------------------------
def _size(**kw: object) -> hg.Sizing:
    args: dict = {"quantity": 1.0, "price": 60_000.0, "ratio": 1.0, "instrument": USDM}
    args.update(kw)
    return hg.size_hedge(**args)


def _liq(**kw: object) -> hg.Liquidation:
    args: dict = {"linear": True, "size": 1.0, "entry_price": 60_000.0, "wallet_balance": 12_000.0,
                  "brackets": hg.single_bracket(0.004)}
    args.update(kw)
    return hg.liquidation_short(**args)


def _perp(**kw: object) -> hg.HedgeCost:
    args: dict = {"notional_usd": 60_000.0, "horizon_days": 30.0, "taker_bps": 5.0, "funding_rate_per_hour": 1e-5}
    args.update(kw)
    return hg.perp_cost(**args)


def _future(**kw: object) -> hg.HedgeCost:
    args: dict = {"notional_usd": 60_000.0, "horizon_days": 30.0, "taker_bps": 5.0, "spot_price": 60_000.0,
                  "future_price": 61_000.0, "days_to_expiry": 90.0}
    args.update(kw)
    return hg.future_cost(**args)


def _scenario(**kw: object) -> pd.DataFrame:
    sizing = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
    args: dict = {"quantity": 1.0, "p0": 60_000.0, "sizing": sizing, "instrument": USDM}
    args.update(kw)
    return hg.scenario_table(**args)


ONE_SMALL_BTC = hg.size_hedge(quantity=1.0, price=60_000.0, ratio=1.0, instrument=USDM)
TINY = hg.size_hedge(quantity=0.0001, price=60_000.0, ratio=1.0, instrument=COINM)
CAPPED = (hg.Bracket(floor=0.0, cap=100_000.0, mmr=0.004, max_leverage=125.0, cum=0.0),)
LOW_LEVERAGE = (hg.Bracket(floor=0.0, cap=math.inf, mmr=0.004, max_leverage=20.0, cum=0.0),)

INVALID = [
    ("quantity-zero", lambda: _size(quantity=0.0), "quantity", "quantity: must be > 0, got 0"),
    ("quantity-negative", lambda: _size(quantity=-1.0), "quantity", "quantity: must be > 0, got -1"),
    ("quantity-nan", lambda: _size(quantity=float("nan")), "quantity", "quantity: must be a finite number, got nan"),
    ("quantity-inf", lambda: _size(quantity=float("inf")), "quantity", "quantity: must be a finite number, got inf"),
    ("quantity-text", lambda: _size(quantity="1"), "quantity", "quantity: must be a number, got '1'"),
    ("quantity-bool", lambda: _size(quantity=True), "quantity", "quantity: must be a number, got True"),
    ("quantity-absurd", lambda: _size(quantity=1e30), "quantity",
     "quantity: notional (quantity × price) of 6e+34 USD is beyond 1e+15 USD"),
    ("price-zero", lambda: _size(price=0.0), "price", "price: must be > 0, got 0"),
    ("price-nan", lambda: _size(price=float("nan")), "price", "price: must be a finite number"),
    ("price-absurd", lambda: _size(price=1e13), "price", "price: 1e+13 USD is beyond 1e+12 USD"),
    ("ratio-above-1", lambda: _size(ratio=1.5), "ratio", "ratio: must be between 0 and 1"),
    ("ratio-negative", lambda: _size(ratio=-0.1), "ratio", "ratio: must be between 0 and 1"),
    ("ratio-nan", lambda: _size(ratio=float("nan")), "ratio", "ratio: must be a finite number"),
    ("beta-zero", lambda: _size(beta=0.0, vehicle_price=1.0), "beta", "beta: must be in (0, 10]"),
    ("beta-negative", lambda: _size(beta=-1.0, vehicle_price=1.0), "beta", "beta: must be in (0, 10]"),
    ("beta-absurd", lambda: _size(beta=11.0, vehicle_price=1.0), "beta", "beta: must be in (0, 10]"),
    ("beta-without-vehicle", lambda: _size(beta=1.2), "beta", "beta: a beta other than 1 is a proxy hedge"),
    ("vehicle-price", lambda: _size(vehicle_price=-5.0), "vehicle_price", "vehicle_price: must be > 0"),
    ("instrument", lambda: _size(instrument="BTCUSDT"), "instrument", "instrument: must be an Instrument, got str"),
    ("rounding", lambda: _size(rounding="bankers"), "rounding", "rounding: must be one of"),
    ("round-negative", lambda: hg.round_contracts(-1.0, amount_step=1.0), "contracts", "contracts: must be >= 0"),
    ("kind", lambda: instrument(kind="option"), "kind", "kind: must be one of ('perp', 'future')"),
    ("contract-size", lambda: instrument(contract_size=0.0), "contract_size", "contract_size: must be > 0"),
    ("amount-step", lambda: instrument(amount_step=-0.001), "amount_step", "amount_step: must be > 0"),
    ("min-amount", lambda: instrument(min_amount=-1.0), "min_amount", "min_amount: must be >= 0 contracts"),
    ("max-leverage", lambda: instrument(max_leverage=0.5), "max_leverage", "max_leverage: must be >= 1"),
    ("future-no-expiry", lambda: instrument(kind="future"), "expiry", "expiry: a dated future needs its expiry"),
    ("future-naive-expiry", lambda: instrument(kind="future", expiry=pd.Timestamp("2026-12-25")), "expiry",
     "expiry: must be tz-aware"),
    ("perp-with-expiry", lambda: instrument(expiry=NOW), "expiry", "expiry: a perpetual has no expiry"),
    ("floors-length", lambda: hg.maintenance_amounts([0, 10], [0.004]), "brackets", "brackets: floors and mmrs"),
    ("floors-start", lambda: hg.maintenance_amounts([5, 10], [0.004, 0.005]), "brackets",
     "brackets: floors must start at 0 and increase"),
    ("floors-order", lambda: hg.maintenance_amounts([0, 10, 10], [0.004, 0.005, 0.01]), "brackets",
     "brackets: floors must start at 0 and increase"),
    ("mmr-range", lambda: hg.maintenance_amounts([0, 10], [0.004, 1.5]), "brackets",
     "brackets: maintenance margin rates must be fractions in [0, 1)"),
    ("mmr-nan", lambda: hg.maintenance_amounts([0, 10], [0.004, np.nan]), "brackets", "brackets: floors and mmrs "
     "must be finite"),
    ("max-leverages-length", lambda: hg.brackets_from_table([0, 10], [0.004, 0.005], max_leverages=[125.0]),
     "brackets", "brackets: max_leverages has 1 values for 2 levels"),
    ("bracket-notional", lambda: hg.bracket_for(-1.0, COINM_BRACKETS), "notional", "notional: must be >= 0"),
    ("beyond-last-cap", lambda: hg.bracket_for(200_000.0, CAPPED), "brackets",
     "brackets: no bracket holds a position value of 200,000 (largest cap 100,000)"),
    ("margin-leverage", lambda: hg.initial_margin(60_000.0, 0.5), "leverage", "leverage: must be >= 1"),
    ("margin-notional", lambda: hg.initial_margin(-1.0, 5.0), "notional", "notional: must be >= 0"),
    ("liq-size", lambda: _liq(size=0.0), "size", "size: must be > 0"),
    ("liq-entry", lambda: _liq(entry_price=float("nan")), "entry_price", "entry_price: must be a finite number"),
    ("liq-wallet", lambda: _liq(wallet_balance=-1.0), "wallet_balance", "wallet_balance: must be >= 0"),
    ("liq-contract-size", lambda: _liq(linear=False, contract_size=0.0), "contract_size",
     "contract_size: must be > 0"),
    ("liq-current", lambda: _liq(current_price=0.0), "current_price", "current_price: must be > 0"),
    ("liq-too-big", lambda: _liq(size=2.0, brackets=CAPPED), "brackets", "brackets: no bracket holds"),
    ("liq-below-maintenance", lambda: _liq(wallet_balance=240.0), "wallet_balance",
     "wallet_balance: 240 USD is not above the maintenance margin at entry (240 USD)"),
    ("hedge-leverage-venue", lambda: hg.liquidation_for_hedge(sizing=ONE_SMALL_BTC, instrument=USDM, leverage=200.0,
                                                              brackets=COINM_BRACKETS), "leverage",
     "leverage: 200x is above the maximum of 125x"),
    ("hedge-leverage-bracket", lambda: hg.liquidation_for_hedge(sizing=ONE_SMALL_BTC, instrument=USDM, leverage=50.0,
                                                                brackets=LOW_LEVERAGE), "leverage",
     "leverage: 50x is above 20x, the maximum for a position of 60,000 USD on this venue"),
    ("brackets-by", lambda: _liq(brackets_by="notional"), "brackets_by", "brackets_by: must be one of ('value', "
     "'size')"),
    ("tier-frame-columns", lambda: hg.brackets_from_frame(pd.DataFrame({"floor": [0.0]})), "brackets",
     "brackets: tier table lacks columns ['cap', 'mmr', 'max_leverage', 'cum']"),
    ("tier-frame-empty", lambda: hg.brackets_from_frame(pd.DataFrame(columns=hg.BRACKET_FRAME_COLUMNS)),
     "brackets", "brackets: tier table is empty"),
    ("tier-frame-overlap", lambda: hg.brackets_from_frame(pd.DataFrame({
        "floor": [0.0, 5.0], "cap": [10.0, 20.0], "mmr": [0.004, 0.005], "max_leverage": [125.0, 100.0],
        "cum": [0.0, 0.005]})), "brackets", "brackets: tier table has a missing cum or cap, or tiers that overlap"),
    ("hedge-no-contracts", lambda: hg.liquidation_for_hedge(sizing=TINY, instrument=COINM, leverage=5.0,
                                                            brackets=COINM_BRACKETS), "contracts",
     "contracts: no contracts to margin"),
    ("hedge-extra-margin", lambda: hg.liquidation_for_hedge(sizing=ONE_SMALL_BTC, instrument=USDM, leverage=5.0,
                                                            brackets=COINM_BRACKETS, extra_margin=-1.0),
     "extra_margin", "extra_margin: must be >= 0"),
    ("simple-mmr", lambda: hg.simple_liquidation_linear(60_000.0, leverage=5.0, mmr=1.5), "mmr",
     "mmr: must be between 0 and 1"),
    ("simple-leverage", lambda: hg.simple_liquidation_inverse(60_000.0, leverage=0.0, mmr=0.004), "leverage",
     "leverage: must be >= 1"),
    ("horizon-zero", lambda: _perp(horizon_days=0.0), "horizon_days", "horizon_days: must be > 0"),
    ("horizon-absurd", lambda: _perp(horizon_days=4_000.0), "horizon_days",
     "horizon_days: 4,000 days is beyond 3,650 days"),
    ("fee", lambda: _perp(taker_bps=150.0), "taker_bps", "taker_bps: must be between -100 and 100"),
    ("funding", lambda: _perp(funding_rate_per_hour=0.06), "funding_rate_per_hour",
     "funding_rate_per_hour: must be between -0.05 and 0.05"),
    ("cost-notional", lambda: _perp(notional_usd=0.0), "notional_usd", "notional_usd: must be > 0"),
    ("spot", lambda: _future(spot_price=float("nan")), "spot_price", "spot_price: must be a finite number"),
    ("future-price", lambda: _future(future_price=0.0), "future_price", "future_price: must be > 0"),
    ("expired", lambda: _future(days_to_expiry=0.0), "days_to_expiry", "days_to_expiry: must be > 0"),
    ("next-before", lambda: _future(next_contracts=[hg.CurvePoint(62_000.0, 60.0)]),
     "next_contracts[0].days_to_expiry", "next_contracts[0].days_to_expiry: must expire after the previous"),
    ("next-price", lambda: _future(next_contracts=[hg.CurvePoint(-1.0, 180.0)]), "next_contracts[0].price",
     "next_contracts[0].price: must be > 0"),
    ("rank-columns", lambda: hg.rank_hedges(pd.DataFrame({"venue": ["x"]}), notional_usd=1.0, horizon_days=1.0),
     "candidates", "candidates: missing columns ['symbol', 'kind'"),
    ("moves-crash", lambda: _scenario(moves=[-1.0]), "moves", "moves: must be fractions above -1"),
    ("moves-absurd", lambda: _scenario(moves=[11.0]), "moves", "moves: must be fractions above -1"),
    ("moves-empty", lambda: _scenario(moves=[]), "moves", "moves: must be a non-empty list of finite fractions"),
    ("moves-nan", lambda: _scenario(moves=[0.1, np.nan]), "moves", "moves: must be a non-empty list"),
    ("scenario-p0", lambda: _scenario(p0=0.0), "p0", "p0: must be > 0"),
    ("scenario-instrument", lambda: _scenario(instrument=COINM), "instrument",
     "instrument: BTC/USD:BTC is not the contract this sizing was made for (100 vs 60,000 USD per contract)"),
    ("scenario-beta", lambda: _scenario(beta=-1.0), "beta", "beta: must be > 0"),
    ("carry", lambda: _scenario(carry_usd=float("nan")), "carry_usd", "carry_usd: must be a finite number"),
    ("residual-vol", lambda: _scenario(residual_vol=-0.1, horizon_days=30.0), "residual_vol",
     "residual_vol: must be >= 0"),
    ("residual-without-horizon", lambda: _scenario(residual_vol=0.03), "horizon_days",
     "horizon_days: needed with residual_vol"),
    ("observations", lambda: _scenario(residual_vol=0.03, horizon_days=30.0, observations_per_day=0.0),
     "observations_per_day", "observations_per_day: must be > 0"),
]


@pytest.mark.parametrize(("call", "field", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_input_names_its_field(call, field, message):
    with pytest.raises(hg.HedgeInputError) as info:
        call()
    assert info.value.field == field
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)
