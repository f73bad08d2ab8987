"""Basis, annualization, labels, fair value and premium: DOMAIN.md golden values, edges, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import basis as ab

NOW = pd.Timestamp("2026-11-25 13:57", tz="UTC")
prices = st.floats(min_value=1e-2, max_value=1e7, allow_nan=False, allow_infinity=False)
days_st = st.floats(min_value=0.01, max_value=1000, allow_nan=False, allow_infinity=False)


# -- seed 002 worked examples ----------------------------------------------------------------------------
def test_seed_002_quarterly_basis():
    assert ab.basis(67_500.0, 65_000.0) == 2_500.0
    assert ab.basis_pct(67_500.0, 65_000.0) == pytest.approx(0.0384615, rel=1e-5)  # "3.85%"
    simple = ab.annualized_basis(67_500.0, 65_000.0, 91.0)
    assert simple == pytest.approx(2_500 / 65_000 * 365 / 91, rel=1e-12)
    assert simple == pytest.approx(0.154, abs=0.001)  # "about 15% annualized"
    compounded = ab.annualized_basis(67_500.0, 65_000.0, 91.0, compounded=True)
    assert compounded == pytest.approx((67_500 / 65_000) ** (365 / 91) - 1, rel=1e-12)
    assert compounded > simple  # compounding a positive carry adds
    assert ab.carry_label(ab.basis(67_500.0, 65_000.0)) == ab.CONTANGO


def test_seed_002_perp_discount():
    assert ab.basis(56_500.0, 58_000.0) == -1_500.0
    assert ab.perp_premium(56_500.0, 58_000.0) == pytest.approx(-0.02586, abs=1e-5)  # "-2.6%"
    assert ab.carry_label(-1_500.0) == ab.BACKWARDATION


def test_implied_rate_is_simple_annualized_basis_and_fair_value_inverts_it():
    r = ab.implied_rate(67_500.0, 65_000.0, 91.0)
    assert r == ab.annualized_basis(67_500.0, 65_000.0, 91.0)
    assert ab.fair_value(65_000.0, rate=r, days=91.0) == pytest.approx(67_500.0, rel=1e-12)
    assert ab.fair_value(65_000.0, rate=0.05, days=365.0) == pytest.approx(68_250.0)


# -- days to expiry ----------------------------------------------------------------------------------------
def test_days_to_expiry_fractional_and_vectorized():
    exp = pd.Series(pd.to_datetime(["2026-12-25 08:00", None, "2026-11-25 13:57"], utc=True), index=[5, 6, 7])
    days = ab.days_to_expiry(exp, now=NOW)
    assert list(days.index) == [5, 6, 7]
    assert days.iloc[0] == pytest.approx(30 - (5 * 60 + 57) / 1440, rel=1e-12)  # 30 days less 5h57m
    assert math.isnan(days.iloc[1])  # a perp
    assert days.iloc[2] == 0.0
    assert ab.days_to_expiry(pd.Timestamp("2026-11-26 13:57", tz="UTC"), now=NOW) == 1.0
    assert math.isnan(ab.days_to_expiry(pd.NaT, now=NOW))


def test_days_to_expiry_refuses_naive_times():
    with pytest.raises(ValueError, match="tz-aware"):
        ab.days_to_expiry(pd.Timestamp("2026-12-25 08:00"), now=NOW)
    with pytest.raises(ValueError, match="tz-aware"):
        ab.days_to_expiry(pd.Timestamp("2026-12-25 08:00", tz="UTC"), now=pd.Timestamp("2026-11-25"))


def test_days_to_expiry_converts_other_zones():
    exp = pd.Timestamp("2026-12-25 09:00", tz="Europe/Paris")  # 08:00 UTC
    assert ab.days_to_expiry(exp, now=pd.Timestamp("2026-12-24 08:00", tz="UTC")) == 1.0


# -- edge cases --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("future", "spot"),
    [(np.nan, 100.0), (100.0, np.nan), (0.0, 100.0), (100.0, 0.0), (-1.0, 100.0), (None, 100.0)],
    ids=["nan-future", "nan-spot", "zero-future", "zero-spot", "negative", "none"],
)
def test_invalid_prices_give_nan(future, spot):
    assert math.isnan(ab.basis(future, spot))
    assert math.isnan(ab.basis_pct(future, spot))
    assert math.isnan(ab.annualized_basis(future, spot, 30.0))
    assert math.isnan(ab.perp_premium(future, spot))
    assert ab.carry_label(ab.basis(future, spot)) is None


@pytest.mark.parametrize("days", [0.0, -1.0, np.nan], ids=["expiry-moment", "expired", "perp"])
def test_annualization_needs_time_left(days):
    assert math.isnan(ab.annualized_basis(101.0, 100.0, days))
    assert math.isnan(ab.annualized_basis(101.0, 100.0, days, compounded=True))


def test_expiry_day_is_finite_but_flagged_near():
    days = 0.25  # six hours before the 08:00 settlement
    ann = ab.annualized_basis(100.1, 100.0, days)
    assert ann == pytest.approx(0.001 * 365 / 0.25)  # 146 %: explodes, as DOMAIN.md warns
    assert ab.is_near_expiry(days)
    assert not ab.is_near_expiry(3.5)
    assert ab.is_near_expiry(3.0)
    assert not ab.is_near_expiry(np.nan)


def test_empty_and_series_inputs_keep_shape_and_index():
    empty = pd.Series([], dtype="float64")
    assert ab.basis(empty, empty).empty
    assert ab.annualized_basis(empty, empty, empty).empty
    f = pd.Series([101.0, np.nan, 99.0], index=["a", "b", "c"])
    s = pd.Series([100.0, 100.0, 100.0], index=["a", "b", "c"])
    out = ab.basis_pct(f, s)
    assert list(out.index) == ["a", "b", "c"]
    assert out.dtype == "float64"
    assert out["a"] == pytest.approx(0.01) and math.isnan(out["b"]) and out["c"] == pytest.approx(-0.01)
    arr = ab.annualized_basis(np.array([101.0, 102.0]), 100.0, np.array([365.0, 365.0]))
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, [0.01, 0.02])
    assert f["a"] == 101.0  # inputs untouched


def test_fair_value_edges():
    assert math.isnan(ab.fair_value(np.nan, rate=0.05, days=30.0))
    assert math.isnan(ab.fair_value(100.0, rate=0.05, days=-1.0))
    assert ab.fair_value(100.0, rate=0.05, days=0.0) == 100.0
    assert math.isnan(ab.fair_value(100.0, rate=float("nan"), days=30.0))


# -- labels -----------------------------------------------------------------------------------------------
def test_carry_label_per_contract():
    labels = ab.carry_label(pd.Series([5.0, -5.0, 0.0, np.nan, 0.5]), flat_tolerance=1.0)
    assert list(labels) == [ab.CONTANGO, ab.BACKWARDATION, ab.FLAT, None, ab.FLAT]


def test_curve_label_follows_longest_liquid_tenor():
    # A backwardated front (and a perp at a premium) under a contango back end: the curve is contango.
    days = [np.nan, 7.0, 35.0, 98.0]
    pct = [0.002, -0.004, -0.001, 0.012]
    assert ab.curve_label(days, pct) == ab.CONTANGO
    # Only the longest *liquid* tenor counts: drop it and the curve reads backwardation.
    assert ab.curve_label(days, pct, liquid=[True, True, True, False]) == ab.BACKWARDATION


def test_curve_label_ignores_contracts_about_to_expire():
    # A 2-day contract is not a liquid tenor even when it is the only future.
    assert ab.curve_label([np.nan, 2.0], [0.001, -0.01]) is None
    assert ab.curve_label([2.0, 10.0], [0.05, -0.001]) == ab.BACKWARDATION
    assert ab.curve_label([], []) is None
    with pytest.raises(ValueError, match="length"):
        ab.curve_label([1.0, 2.0], [0.1])


# -- quarterly calendar ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-12-25 08:00", True),  # last Friday of December 2026
        ("2027-03-26 08:00", True),
        ("2026-12-18 08:00", False),  # a Friday, not the last
        ("2027-01-29 08:00", False),  # last Friday, not a quarter month
        ("2026-12-24 08:00", False),  # not a Friday
    ],
)
def test_is_quarterly_expiry(when, expected):
    assert ab.is_quarterly_expiry(pd.Timestamp(when, tz="UTC")) is expected


def test_is_quarterly_expiry_series_and_nat():
    s = pd.Series(pd.to_datetime(["2026-12-25 08:00", None], utc=True))
    assert list(ab.is_quarterly_expiry(s)) == [True, False]


def test_quarterly_rule_matches_the_simulated_exchanges_calendar(market):
    from data_sources.simulated.market import quarterly_expiries_after

    for exp_ms in quarterly_expiries_after(market.now_ms(), 8):
        assert ab.is_quarterly_expiry(pd.Timestamp(exp_ms, unit="ms", tz="UTC"))


# -- properties -------------------------------------------------------------------------------------------
@given(f=prices, s=prices, d=days_st)
def test_annualized_basis_sign_and_inverse(f, s, d):
    simple = ab.annualized_basis(f, s, d)
    compounded = ab.annualized_basis(f, s, d, compounded=True)
    assert np.sign(simple) == np.sign(ab.basis(f, s))
    if np.isfinite(compounded):
        assert np.sign(compounded) == np.sign(simple) or compounded == 0 or simple == 0
    # fair value at the implied rate gives the future back (to rounding of F/S - 1 in units of S)
    assert ab.fair_value(s, rate=simple, days=d) == pytest.approx(f, rel=1e-9, abs=1e-12 * s)


@given(f=prices, s=prices, d=days_st)
def test_compounded_is_at_least_simple_minus_rounding(f, s, d):
    # (1 + x)^n - 1 >= n * x for x > -1, n >= 1 (Bernoulli); n = 365/d >= 1 for d <= 365.
    if d <= 365:
        simple = ab.annualized_basis(f, s, d)
        compounded = ab.annualized_basis(f, s, d, compounded=True)
        assert compounded >= simple - 1e-9 * max(1.0, abs(simple))


@given(p=prices, i=prices)
def test_premium_is_relative_basis(p, i):
    assert ab.perp_premium(p, i) == pytest.approx(ab.basis(p, i) / i, rel=1e-9, abs=1e-15)
