"""analytics.term_structure: hand-computed values (seed 002), interpolation, curve state, extremes, history."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import term_structure as ts

NOW = pd.Timestamp("2026-11-25T13:57:00Z")
DAY = pd.Timedelta(days=1)


def contract(venue: str, symbol: str, *, kind: str = "future", days: float | None = None, last: float = np.nan,
             mark: float = np.nan, index: float = np.nan, linear: bool = True, base: str = "BTC",
             quote: str = "USDT", size: float = 1.0) -> dict[str, object]:
    """One row of the facade's term-structure frame (days counted from NOW, the quote time)."""
    return {
        "venue": venue, "symbol": symbol, "base": base, "quote": quote, "settle": quote if linear else base,
        "kind": kind, "linear": linear, "contract_size": size,
        "expiry": pd.NaT if days is None else NOW + pd.Timedelta(days=days),
        "days_to_expiry": np.nan if days is None else float(days),
        "last": last, "mark": mark, "index": index, "ts": NOW, "fetched_at": NOW,
    }


def frame(*rows: dict[str, object]) -> pd.DataFrame:
    out = pd.DataFrame(list(rows))
    out["expiry"] = pd.to_datetime(out["expiry"], utc=True)
    return out


# -- the table -----------------------------------------------------------------------------------------------
def test_seed_002_three_month_future_basis_and_annualized():
    """S 65,000, 3-month future 67,500 -> basis +2,500, 3.85 %, about 15 % annualized (91 days)."""
    table = ts.term_table(frame(contract("x", "F", days=91.0, mark=67_500.0, index=65_000.0)))
    row = table.iloc[0]
    assert row["basis"] == pytest.approx(2_500.0)
    assert row["basis_pct"] == pytest.approx(2_500.0 / 65_000.0)
    assert round(row["basis_pct"] * 100, 2) == 3.85
    assert row["ann_simple"] == pytest.approx(2_500.0 / 65_000.0 * 365.0 / 91.0)  # 0.15427
    assert round(row["ann_simple"] * 100) == 15
    assert row["ann_compounded"] == pytest.approx((67_500.0 / 65_000.0) ** (365.0 / 91.0) - 1.0)  # 0.1636
    assert row["carry"] == "contango"
    assert not row["near_expiry"]
    assert row["curve"] == "x:linear"


def test_seed_002_perp_discount_is_its_premium_and_never_annualized():
    """S 58,000, perp 56,500 -> -1,500 (-2.6 %): backwardation, no annualized figure for a perp."""
    table = ts.term_table(frame(contract("x", "P", kind="perp", mark=56_500.0, index=58_000.0)))
    row = table.iloc[0]
    assert row["basis"] == pytest.approx(-1_500.0)
    assert round(row["basis_pct"] * 100, 1) == -2.6
    assert math.isnan(row["ann_simple"]) and math.isnan(row["ann_compounded"])
    assert row["carry"] == "backwardation"
    assert not row["near_expiry"]


def test_price_field_and_spot_reference_are_honoured():
    rows = frame(contract("x", "F", days=30.0, last=101.0, mark=102.0, index=100.0))
    assert ts.term_table(rows, price="last").iloc[0]["price"] == 101.0
    assert ts.term_table(rows, price="mark").iloc[0]["basis"] == pytest.approx(2.0)
    spot = ts.term_table(rows, price="mark", reference="spot", spot=99.0).iloc[0]
    assert spot["reference"] == 99.0
    assert spot["basis_pct"] == pytest.approx(102.0 / 99.0 - 1.0)
    with pytest.raises(ValueError, match="price"):
        ts.term_table(rows, price="index")
    with pytest.raises(ValueError, match="reference"):
        ts.term_table(rows, reference="mid")


def test_missing_index_gives_nan_not_a_fallback():
    table = ts.term_table(frame(contract("x", "F", days=30.0, mark=102.0, index=np.nan)))
    row = table.iloc[0]
    assert math.isnan(row["basis"]) and math.isnan(row["basis_pct"]) and math.isnan(row["ann_simple"])
    assert row["carry"] is None
    # spot reference chosen but no spot price known: NaN as well
    assert math.isnan(ts.term_table(frame(contract("x", "F", days=30.0, mark=102.0, index=100.0)),
                                    reference="spot", spot=None).iloc[0]["basis"])


def test_expiry_day_is_flagged_and_expired_has_no_annualized_figure():
    """Half a day out: 0.1 % basis is 73 % a year, flagged; at or past expiry the annualized basis is NaN."""
    table = ts.term_table(frame(
        contract("x", "A", days=0.5, mark=100.1, index=100.0),
        contract("x", "B", days=3.0, mark=100.1, index=100.0),
        contract("x", "C", days=3.01, mark=100.1, index=100.0),
        contract("x", "D", days=0.0, mark=100.1, index=100.0),
    )).set_index("symbol")
    assert table.loc["A", "ann_simple"] == pytest.approx(0.001 * 365 / 0.5)
    assert table.loc[["A", "B", "D"], "near_expiry"].all()  # <= 3 days, inclusive
    assert not table.loc["C", "near_expiry"]
    assert math.isnan(table.loc["D", "ann_simple"])
    assert table.loc["D", "basis"] == pytest.approx(0.1)  # the outright basis still exists


def test_table_sorts_curves_perp_first_and_separates_linear_from_inverse():
    table = ts.term_table(frame(
        contract("okx", "F2", days=90.0, mark=1.0, index=1.0, linear=False, quote="USD"),
        contract("okx", "F1", days=10.0, mark=1.0, index=1.0),
        contract("okx", "P", kind="perp", mark=1.0, index=1.0),
        contract("deribit", "D", days=5.0, mark=1.0, index=1.0, linear=False, quote="USD"),
    ))
    assert list(table["symbol"]) == ["D", "F2", "P", "F1"]
    assert list(table["curve"]) == ["deribit:inverse", "okx:inverse", "okx:linear", "okx:linear"]
    assert list(table.columns) == list(ts.TERM_TABLE_COLUMNS)


def test_empty_frame_gives_an_empty_table_with_the_columns():
    empty = ts.term_table(frame(contract("x", "F", days=1.0)).iloc[0:0])
    assert empty.empty and list(empty.columns) == list(ts.TERM_TABLE_COLUMNS)
    assert ts.constant_maturity_table(empty).empty
    assert ts.curve_states(empty).empty
    assert ts.overall_state(ts.curve_states(empty)) is None
    assert ts.carry_extremes(empty).empty


# -- constant maturity ----------------------------------------------------------------------------------------
def test_constant_maturity_interpolates_linearly_in_days():
    # 90 days between contracts at 30 d (6 %) and 120 d (9 %): 6 % + 60/90 of 3 % = 8 %
    assert ts.constant_maturity([30.0, 120.0], [0.06, 0.09], 90.0) == pytest.approx(0.08)
    hit = ts.interpolate_tenor([120.0, 30.0], [0.09, 0.06], 90.0)  # order does not matter
    assert (hit.value, hit.lower, hit.upper) == (pytest.approx(0.08), 1, 0)
    assert ts.constant_maturity([30.0, 120.0], [0.06, 0.09], 30.0) == pytest.approx(0.06)  # on a contract
    assert ts.constant_maturity([30.0, 120.0], [0.06, 0.09], 120.0) == pytest.approx(0.09)


def test_constant_maturity_is_never_extrapolated():
    assert math.isnan(ts.constant_maturity([30.0, 120.0], [0.06, 0.09], 121.0))
    assert math.isnan(ts.constant_maturity([30.0, 120.0], [0.06, 0.09], 29.0))
    assert math.isnan(ts.constant_maturity([], [], 30.0))


def test_constant_maturity_ignores_near_expiry_and_missing_contracts():
    # the 2-day contract's exploding 50 % must not pull the 30-day value: 30 d is then below the shortest
    assert math.isnan(ts.constant_maturity([2.0, 60.0], [0.5, 0.07], 30.0))
    assert ts.constant_maturity([2.0, 20.0, 60.0], [0.5, 0.05, 0.07], 30.0) == pytest.approx(0.055)
    assert ts.constant_maturity([20.0, 40.0, 60.0], [0.05, np.nan, 0.07], 30.0) == pytest.approx(0.055)


def test_constant_maturity_with_one_contract():
    assert ts.constant_maturity([45.0], [0.07], 45.0) == pytest.approx(0.07)
    assert math.isnan(ts.constant_maturity([45.0], [0.07], 30.0))


def test_contracts_sharing_an_expiry_are_averaged():
    assert ts.constant_maturity([30.0, 30.0, 90.0], [0.05, 0.07, 0.09], 60.0) == pytest.approx(0.075)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(3.5, 400.0), st.floats(-0.5, 0.5)), min_size=1, max_size=8),
    tenor=st.floats(0.0, 450.0),
)
def test_constant_maturity_stays_between_its_brackets_and_inside_the_curve(points, tenor):
    days = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points])
    hit = ts.interpolate_tenor(days, values, tenor)
    if tenor < days.min() or tenor > days.max():
        assert math.isnan(hit.value)
        return
    assert hit.lower is not None and hit.upper is not None
    assert days[hit.lower] <= tenor <= days[hit.upper]
    lo_v = values[days == days[hit.lower]].mean()
    hi_v = values[days == days[hit.upper]].mean()
    assert min(lo_v, hi_v) - 1e-12 <= hit.value <= max(lo_v, hi_v) + 1e-12


def test_constant_maturity_table_per_curve():
    table = ts.term_table(frame(
        contract("a", "P", kind="perp", mark=100.0, index=100.0),
        contract("a", "A1", days=20.0, mark=100.0 * (1 + 0.05 * 20 / 365), index=100.0),
        contract("a", "A2", days=110.0, mark=100.0 * (1 + 0.08 * 110 / 365), index=100.0),
        contract("b", "B1", days=45.0, mark=100.0 * (1 + 0.10 * 45 / 365), index=100.0),
    ))
    cm = ts.constant_maturity_table(table).set_index("curve")
    assert list(cm.index) == ["a:linear", "b:linear"]
    assert cm.loc["a:linear", "cm_30"] == pytest.approx(0.05 + 10 / 90 * 0.03)
    assert cm.loc["a:linear", "cm_90"] == pytest.approx(0.05 + 70 / 90 * 0.03)
    assert math.isnan(cm.loc["b:linear", "cm_30"]) and math.isnan(cm.loc["b:linear", "cm_90"])
    assert (cm.loc["a:linear", "shortest_days"], cm.loc["a:linear", "longest_days"]) == (20.0, 110.0)
    assert cm.loc["a:linear", "contracts"] == 2
    compounded = ts.constant_maturity_table(table, compounded=True).set_index("curve")
    assert compounded.loc["a:linear", "cm_90"] > cm.loc["a:linear", "cm_90"]  # compounding adds for a positive rate


# -- curve state ----------------------------------------------------------------------------------------------
def test_curve_state_follows_the_longest_liquid_tenor():
    table = ts.term_table(frame(
        contract("a", "A1", days=2.0, mark=95.0, index=100.0),  # near expiry: never decides
        contract("a", "A2", days=30.0, mark=99.0, index=100.0),
        contract("a", "A3", days=120.0, mark=101.0, index=100.0),
        contract("b", "B1", days=60.0, mark=98.0, index=100.0),
        contract("c", "C1", days=1.0, mark=101.0, index=100.0),  # only a near-expiry contract: no state
    ))
    states = ts.curve_states(table).set_index("curve")
    assert states.loc["a:linear", "state"] == "contango" and states.loc["a:linear", "symbol"] == "A3"
    assert states.loc["b:linear", "state"] == "backwardation"
    assert states.loc["c:linear", "state"] is None
    assert ts.overall_state(states) == ts.MIXED
    assert ts.overall_state(states.loc[["b:linear"]].reset_index()) == "backwardation"


# -- richest / cheapest -------------------------------------------------------------------------------------
def test_carry_extremes_per_tenor_bucket_across_exchanges():
    table = ts.term_table(frame(
        contract("a", "A1", days=10.0, mark=100.0 * (1 + 0.05 * 10 / 365), index=100.0),
        contract("b", "B1", days=20.0, mark=100.0 * (1 + 0.09 * 20 / 365), index=100.0),
        contract("c", "C1", days=2.0, mark=100.0 * (1 + 0.90 * 2 / 365), index=100.0),  # flagged: left out
        contract("a", "A2", days=100.0, mark=100.0 * (1 + 0.07 * 100 / 365), index=100.0),
    ))
    ext = ts.carry_extremes(table).set_index("bucket")
    assert list(ext.index) == ["up to 1 month", "3–6 months"]
    first = ext.loc["up to 1 month"]
    assert (first["rich_symbol"], first["cheap_symbol"]) == ("B1", "A1")
    assert first["rich"] == pytest.approx(0.09) and first["cheap"] == pytest.approx(0.05)
    assert first["spread"] == pytest.approx(0.04)
    assert (first["contracts"], first["venues"]) == (2, 2)
    assert ext.loc["3–6 months", "contracts"] == 1
    assert ts.tenor_bucket(31.0) == "up to 1 month" and ts.tenor_bucket(31.5) == "1–3 months"
    assert ts.tenor_bucket(3.0) is None and ts.tenor_bucket(float("nan")) is None


# -- fair value ----------------------------------------------------------------------------------------------
def test_fair_value_curve_cost_of_carry():
    fv = ts.fair_value_curve(65_000.0, rate=0.05, days=[0.0, 91.0, 365.0])
    assert list(fv["price"]) == pytest.approx([65_000.0, 65_000.0 * (1 + 0.05 * 91 / 365), 68_250.0])
    assert math.isnan(fv["ann_simple"].iloc[0])  # no tenor, no annualized figure
    assert list(fv["ann_simple"].iloc[1:]) == pytest.approx([0.05, 0.05])  # the implied rate is r
    assert fv["ann_compounded"].iloc[1] == pytest.approx((1 + 0.05 * 91 / 365) ** (365 / 91) - 1)
    assert fv["ann_compounded"].iloc[2] == pytest.approx(0.05)
    assert ts.fair_value_curve(float("nan"), rate=0.05, days=[30.0])["price"].isna().all()


# -- history -------------------------------------------------------------------------------------------------
def candles(times: list[pd.Timestamp], closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.to_datetime(times, utc=True), "open": closes, "high": closes, "low": closes,
                         "close": closes, "volume": 0.0})


def test_basis_history_joins_identical_timestamps_only():
    t0 = pd.Timestamp("2026-11-01T00:00Z")
    h = pd.Timedelta(hours=1)
    future = candles([t0, t0 + h, t0 + 2 * h, t0 + 3 * h], [101.0, 102.0, 103.0, 104.0])
    index = candles([t0 + h, t0 + 2 * h, t0 + 4 * h], [100.0, 100.0, 100.0])
    expiry = t0 + pd.Timedelta(days=10)
    hist = ts.basis_history(future, index, expiry=expiry, bar=h)
    assert list(hist["ts"]) == [t0 + h, t0 + 2 * h]  # 00:00 and 03:00 have no twin: dropped, not filled
    assert list(hist["basis"]) == [2.0, 3.0]
    # days count from each candle's close (open + 1 h)
    assert hist["days"].iloc[0] == pytest.approx(10.0 - 2 / 24)
    assert hist["ann_simple"].iloc[0] == pytest.approx(0.02 * 365 / (10.0 - 2 / 24))
    assert list(hist.columns) == list(ts.HISTORY_COLUMNS)


def test_basis_history_keeps_closed_candles_only_and_flags_near_expiry():
    t0 = pd.Timestamp("2026-11-01T00:00Z")
    d = pd.Timedelta(days=1)
    future = candles([t0, t0 + d, t0 + 2 * d], [101.0, 100.5, 100.2])
    index = candles([t0, t0 + d, t0 + 2 * d], [100.0, 100.0, 100.0])
    until = t0 + 2 * d + pd.Timedelta(hours=6)  # the third daily candle is still forming: no common close time
    hist = ts.basis_history(future, index, expiry=t0 + pd.Timedelta(days=5), bar=d, until=until)
    assert list(hist["ts"]) == [t0, t0 + d]
    assert list(hist["days"]) == pytest.approx([4.0, 3.0])
    assert list(hist["near_expiry"]) == [False, True]
    assert len(ts.basis_history(future, index, expiry=t0 + 5 * d, bar=d, until=t0 + 2 * d)) == 2  # closes at until
    empty = ts.basis_history(future.iloc[0:0], index, expiry=t0 + d, bar=d)
    assert empty.empty and list(empty.columns) == list(ts.HISTORY_COLUMNS)


def test_cm_history_contracts_keeps_only_possible_brackets():
    days = {"A": 10.0, "B": 40.0, "C": 80.0, "D": 100.0, "E": 200.0}
    # tenor 90 over 30 days: at the end 90 lies between C and D; 30 days earlier 60 lies between B and C
    assert ts.cm_history_contracts(days, tenor=90.0, window_days=30.0) == ["B", "C", "D"]
    assert ts.cm_history_contracts(days, tenor=90.0, window_days=7.0) == ["C", "D"]
    assert ts.cm_history_contracts({"X": 120.0}, tenor=90.0, window_days=30.0) == ["X"]
    assert ts.cm_history_contracts({}, tenor=90.0, window_days=30.0) == []


def test_constant_maturity_history_interpolates_at_each_timestamp_only():
    t0 = pd.Timestamp("2026-11-01T00:00Z")
    h = pd.Timedelta(hours=1)
    a = pd.DataFrame({"ts": [t0, t0 + h], "days": [60.0, 59.9], "ann_simple": [0.06, 0.061]})
    b = pd.DataFrame({"ts": [t0, t0 + 2 * h], "days": [150.0, 149.9], "ann_simple": [0.09, 0.092]})
    cm = ts.constant_maturity_history({"A": a, "B": b}, tenor=90.0)
    assert list(cm["ts"]) == [t0, t0 + h, t0 + 2 * h]
    assert cm["value"].iloc[0] == pytest.approx(0.06 + 30 / 90 * 0.03)
    assert (cm["lower"].iloc[0], cm["upper"].iloc[0]) == ("A", "B")
    assert math.isnan(cm["value"].iloc[1]) and math.isnan(cm["value"].iloc[2])  # one side missing: no value
    assert cm["lower"].iloc[1] is None
    assert ts.constant_maturity_history({}, tenor=90.0).empty
