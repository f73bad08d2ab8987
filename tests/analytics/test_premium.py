"""analytics.premium: hand-computed premiums (seed 002), history alignment, z-score properties, divergence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import premium as ap

T0 = pd.Timestamp("2026-11-20T00:00Z")
H = pd.Timedelta(hours=1)


def term_rows(rows: list[dict]) -> pd.DataFrame:
    """A term-structure-like frame with defaults for the columns a test does not care about."""
    base = {"venue": "v", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
            "kind": "perp", "linear": True, "contract_size": 1.0, "expiry": pd.NaT, "days_to_expiry": np.nan,
            "last": np.nan, "mark": np.nan, "index": np.nan, "ts": T0, "fetched_at": T0}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["expiry"] = pd.to_datetime(frame["expiry"], utc=True)
    return frame


def candles(times: list[pd.Timestamp], closes: list[float]) -> pd.DataFrame:
    c = np.asarray(closes, dtype="float64")
    return pd.DataFrame({"ts": pd.DatetimeIndex(times), "open": c, "high": c, "low": c, "close": c,
                         "volume": np.zeros(len(c))})


# -- now ------------------------------------------------------------------------------------------------------

def test_seed_002_perp_discount():
    # S 58,000 / perp 56,500 -> -1,500 and -2.6 % (-1,500 / 58,000 = -2.586 %): a discount.
    frame = term_rows([{"mark": 56_500.0, "last": 56_400.0, "index": 58_000.0}])
    out = ap.current_premiums(frame)
    row = out.iloc[0]
    assert row["premium_abs"] == -1_500.0
    assert row["premium"] == pytest.approx(-1_500.0 / 58_000.0)
    assert round(row["premium"] * 100, 1) == -2.6
    assert row["state"] == ap.EXTREME_DISCOUNT  # far beyond the 0.15 % band
    assert ap.premium_state(row["premium"], band=0.05) == ap.DISCOUNT  # inside a 5 % band: a plain discount
    # last vs index is computed alongside: 56,400 - 58,000 = -1,600
    assert row["premium_last_abs"] == -1_600.0
    assert row["premium_last"] == pytest.approx(-1_600.0 / 58_000.0)


def test_price_field_switches_the_headline_columns():
    frame = term_rows([{"mark": 100.1, "last": 99.95, "index": 100.0}])
    mark = ap.current_premiums(frame, price="mark").iloc[0]
    last = ap.current_premiums(frame, price="last").iloc[0]
    assert mark["premium"] == pytest.approx(0.001) and mark["state"] == ap.PREMIUM
    assert last["premium"] == pytest.approx(-0.0005) and last["state"] == ap.DISCOUNT
    with pytest.raises(ValueError, match="price"):
        ap.current_premiums(frame, price="index")  # type: ignore[arg-type]


def test_missing_or_bad_index_gives_nan_not_a_number():
    frame = term_rows([
        {"symbol": "A", "mark": 100.0, "last": 100.0, "index": np.nan},
        {"symbol": "B", "mark": 100.0, "last": 100.0, "index": 0.0},
        {"symbol": "C", "mark": np.nan, "last": 101.0, "index": 100.0},
    ])
    out = ap.current_premiums(frame).set_index("symbol")
    assert math.isnan(out.loc["A", "premium"]) and out.loc["A", "state"] is None
    assert math.isnan(out.loc["B", "premium"]) and math.isnan(out.loc["B", "premium_abs"])
    assert math.isnan(out.loc["C", "premium_mark"])
    assert out.loc["C", "premium_last"] == pytest.approx(0.01)


def test_only_perps_are_kept_and_the_input_is_not_mutated():
    frame = term_rows([
        {"venue": "b", "symbol": "P", "mark": 101.0, "index": 100.0},
        {"venue": "a", "symbol": "F", "kind": "future", "mark": 105.0, "index": 100.0},
        {"venue": "a", "symbol": "P", "mark": 99.0, "index": 100.0},
    ])
    before = frame.copy()
    out = ap.current_premiums(frame)
    assert list(out["venue"]) == ["a", "b"] and list(out["symbol"]) == ["P", "P"]
    assert list(out.columns) == list(ap.CURRENT_COLUMNS)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(("premium", "state"), [
    (0.002, ap.EXTREME_PREMIUM), (0.0015, ap.PREMIUM), (0.0001, ap.PREMIUM), (0.0, ap.FLAT),
    (-0.0001, ap.DISCOUNT), (-0.0015, ap.DISCOUNT), (-0.0016, ap.EXTREME_DISCOUNT), (np.nan, None),
])
def test_premium_state_band_edges(premium, state):
    assert ap.premium_state(premium, band=0.0015) == state


def test_premium_state_shapes_and_bad_band():
    s = pd.Series([0.01, -0.01], index=[5, 6])
    out = ap.premium_state(s, band=0.001)
    assert list(out) == [ap.EXTREME_PREMIUM, ap.EXTREME_DISCOUNT] and list(out.index) == [5, 6]
    assert list(ap.premium_state(np.array([0.0005, -0.0005]))) == [ap.PREMIUM, ap.DISCOUNT]
    with pytest.raises(ValueError, match="band"):
        ap.premium_state(0.1, band=-0.001)


# -- history --------------------------------------------------------------------------------------------------

def test_premium_index_klines_close_is_the_premium():
    c = candles([T0 + H, T0, T0 + 2 * H], [0.0002, 0.0001, np.nan])
    out = ap.premium_from_index_klines(c)
    assert list(out["ts"]) == [T0, T0 + H]  # ascending, NaN close dropped
    assert list(out["premium"]) == [0.0001, 0.0002]


def test_klines_difference_uses_identical_timestamps_only():
    # The mark has 00:00, 01:00, 02:00; the index 00:30, 01:00, 02:00, 03:00: only 01:00 and 02:00 pair up.
    mark = candles([T0, T0 + H, T0 + 2 * H], [101.0, 102.0, 99.0])
    index = candles([T0 + H / 2, T0 + H, T0 + 2 * H, T0 + 3 * H], [100.0, 100.0, 100.0, 100.0])
    out = ap.premium_from_klines(mark, index)
    assert list(out["ts"]) == [T0 + H, T0 + 2 * H]
    assert list(out["premium_abs"]) == [2.0, -1.0]
    assert out["premium"].tolist() == pytest.approx([0.02, -0.01])
    assert list(out.columns) == ["ts", "price", "index", "premium_abs", "premium"]


def test_klines_difference_drops_missing_index_and_refuses_duplicates():
    mark = candles([T0, T0 + H], [101.0, 102.0])
    index = candles([T0, T0 + H], [np.nan, 100.0])
    assert list(ap.premium_from_klines(mark, index)["ts"]) == [T0 + H]
    assert ap.premium_from_klines(mark, candles([], [])).empty
    with pytest.raises(ValueError, match="duplicate"):
        ap.premium_from_klines(candles([T0, T0], [1.0, 2.0]), index)


def test_zscore_hand_values():
    assert ap.zscore_latest([1.0, 2.0, 3.0]) == pytest.approx(1.0)  # mean 2, sample std 1
    # mean 2.5, sample std sqrt(((1.5^2)*2 + 0.5^2*2)/3) = sqrt(5/3)
    assert ap.zscore_latest([1.0, 4.0, 3.0, 2.0]) == pytest.approx(-0.5 / math.sqrt(5.0 / 3.0))
    assert ap.zscore_latest([1.0, np.nan, 3.0]) == pytest.approx(1 / math.sqrt(2))  # NaN dropped: [1, 3]


@pytest.mark.parametrize("values", [[], [0.001], [np.nan, 0.001], [0.002, 0.002, 0.002]])
def test_zscore_is_nan_without_two_points_or_with_zero_std(values):
    assert math.isnan(ap.zscore_latest(values))


finite = st.floats(min_value=-0.05, max_value=0.05, allow_nan=False)


@given(st.lists(finite, min_size=3, max_size=40), st.floats(0.1, 100.0), st.floats(-1.0, 1.0))
def test_zscore_is_invariant_to_scale_and_shift_and_flips_with_sign(xs, a, b):
    x = np.asarray(xs)
    if np.std(x, ddof=1) < 1e-9:
        return  # a constant sample has no z-score (tested above)
    z = ap.zscore_latest(x)
    assert ap.zscore_latest(a * x + b) == pytest.approx(z, rel=1e-6, abs=1e-6)
    assert ap.zscore_latest(-x) == pytest.approx(-z, rel=1e-6, abs=1e-6)
    n = len(x)
    assert abs(z) <= (n - 1) / math.sqrt(n) + 1e-9  # the bound for a point inside its own sample


def test_window_stats():
    h = pd.DataFrame({"ts": [T0 + 2 * H, T0, T0 + H], "premium": [0.003, 0.001, 0.002]})
    s = ap.window_stats(h)
    assert (s.n, s.start, s.end) == (3, T0, T0 + 2 * H)
    assert s.mean == pytest.approx(0.002) and s.std == pytest.approx(0.001)
    assert (s.low, s.high, s.latest) == (0.001, 0.003, 0.003)
    assert s.z == pytest.approx(1.0)
    one = ap.window_stats(h.iloc[:1])
    assert one.n == 1 and math.isnan(one.std) and math.isnan(one.z) and one.latest == 0.003
    empty = ap.window_stats(h.iloc[:0])
    assert empty.n == 0 and empty.start is None and math.isnan(empty.mean)


def test_normalized_funding_compares_intervals():
    f = pd.DataFrame({"ts": [T0 + 8 * H, T0], "rate": [0.0001, 0.0001], "interval_hours": [8.0, 1.0]})
    eight = ap.normalized_funding(f, unit="8h")
    assert list(eight["ts"]) == [T0, T0 + 8 * H]
    assert eight["value"].tolist() == pytest.approx([0.0008, 0.0001])  # 1h rate x 8; 8h rate as is
    apr = ap.normalized_funding(f, unit="apr")
    assert apr["value"].tolist() == pytest.approx([0.0001 * 24 * 365, 0.0001 * 3 * 365])
    with pytest.raises(ValueError, match="unit"):
        ap.normalized_funding(f, unit="apy")  # type: ignore[arg-type]


def test_stack_histories():
    a = pd.DataFrame({"ts": [T0], "premium": [0.001]})
    out = ap.stack_histories([a, a.iloc[:0]], ["A", "B"])
    assert out.to_dict("records") == [{"ts": T0, "series": "A", "premium": 0.001}]
    assert ap.stack_histories([], []).empty


# -- perp vs quarterly --------------------------------------------------------------------------------------

NOW = pd.Timestamp("2026-11-25T13:57Z")
Q1 = pd.Timestamp("2026-12-25T08:00Z")  # last Friday of December
Q2 = pd.Timestamp("2027-03-26T08:00Z")  # last Friday of March
WEEKLY = pd.Timestamp("2026-12-04T08:00Z")
SEP_Q = pd.Timestamp("2026-09-25T08:00Z")  # last Friday of September


def fut(symbol: str, expiry: pd.Timestamp, mark: float, index: float, **kw) -> dict:
    days = (expiry - NOW) / pd.Timedelta(days=1)
    return {"symbol": symbol, "kind": "future", "expiry": expiry, "days_to_expiry": days,
            "mark": mark, "last": mark, "index": index, **kw}


def test_seed_001_extreme_divergence():
    # Quarterly 2 % below spot (about -8 % a year at 30 days), perp 1.5 % above: seed 001 section 4.1.
    frame = term_rows([
        {"symbol": "BTC/USDT:USDT", "mark": 101.5, "last": 101.5, "index": 100.0},
        fut("W", WEEKLY, 120.0, 100.0),  # a weekly: never "the quarterly"
        fut("Q1", Q1, 98.0, 100.0),
        fut("Q2", Q2, 90.0, 100.0),
    ])
    row = ap.perp_vs_quarterly(frame).iloc[0]
    days = (Q1 - NOW) / pd.Timedelta(days=1)
    assert row["quarterly_symbol"] == "Q1" and row["days_to_expiry"] == pytest.approx(days)
    assert row["perp_premium"] == pytest.approx(0.015)
    assert row["quarterly_basis_pct"] == pytest.approx(-0.02)
    assert row["quarterly_ann"] == pytest.approx(-0.02 * 365 / days)
    assert row["divergence"] and row["reading"] == "perp premium, quarterly discount"


@pytest.mark.parametrize(("perp", "quarterly", "flag", "reading"), [
    (101.5, 98.0, True, "perp premium, quarterly discount"),
    (98.5, 102.0, True, "perp discount, quarterly premium"),
    (101.5, 102.0, False, "agree in sign"),
    (100.1, 98.0, False, "disagree in sign, within thresholds"),  # perp +0.1 % is inside the 0.15 % band
    (101.5, 99.99, False, "disagree in sign, within thresholds"),  # quarterly -0.12 % a year: inside 2 %
])
def test_divergence_rule_both_ways_and_thresholds(perp, quarterly, flag, reading):
    frame = term_rows([{"mark": perp, "index": 100.0}, fut("Q1", Q1, quarterly, 100.0)])
    row = ap.perp_vs_quarterly(frame).iloc[0]
    assert (row["divergence"], row["reading"]) == (flag, reading)


def test_is_divergent_is_strict_and_nan_safe():
    assert not ap.is_divergent(0.0015, -0.5, perp_threshold=0.0015)  # at the threshold is not beyond it
    assert ap.is_divergent(0.0016, -0.0201)
    assert not ap.is_divergent(np.nan, -0.5)
    assert list(ap.is_divergent(np.array([0.01, -0.01]), np.array([-0.1, -0.1]))) == [True, False]
    text = ap.divergence_rule(perp_threshold=0.0015, quarterly_threshold=0.02)
    assert "+0.15%" in text and "−2%" in text and "seed 001" in text


def test_quarterly_choice_prefers_perp_settle_and_skips_near_expiry():
    frame = term_rows([
        {"symbol": "BTC/USDT:USDT", "settle": "USDT", "mark": 100.0, "index": 100.0},
        {"symbol": "BTC/USD:BTC", "quote": "USD", "settle": "BTC", "linear": False, "mark": 100.0, "index": 100.0},
        fut("INV-Q1", Q1, 101.0, 100.0, quote="USD", settle="BTC", linear=False),
        fut("USDC-Q1", Q1, 101.0, 100.0, quote="USDC", settle="USDC"),
        fut("USDT-Q1", Q1, 101.0, 100.0),
        # a quarterly 2 days out (as if now were 23 Sep): its annualized basis explodes, so it is skipped
        {**fut("NEAR", SEP_Q, 150.0, 100.0), "days_to_expiry": 2.0},
    ])
    row = ap.perp_vs_quarterly(frame).iloc[0]
    assert row["perp_symbol"] == "BTC/USDT:USDT"  # linear USDT is the primary perp
    assert row["quarterly_symbol"] == "USDT-Q1"
    no_usdt = frame[frame["symbol"] != "USDT-Q1"]
    assert ap.perp_vs_quarterly(no_usdt).iloc[0]["quarterly_symbol"] == "USDC-Q1"  # then linear


def test_venue_without_quarterly_or_index():
    frame = term_rows([
        {"venue": "a", "mark": 100.0, "index": 100.0},
        {"venue": "b", "mark": 100.0, "index": np.nan},
        {"venue": "b", **fut("Q1", Q1, 101.0, np.nan)},
        {"venue": "c", **fut("Q1", Q1, 101.0, 100.0)},  # no perp: no row
    ])
    out = ap.perp_vs_quarterly(frame).set_index("venue")
    assert list(out.index) == ["a", "b"]
    assert out.loc["a", "reading"] == "no quarterly basis" and math.isnan(out.loc["a", "quarterly_ann"])
    assert out.loc["b", "reading"] == "no perp premium" and not out.loc["b", "divergence"]
    assert list(out.reset_index().columns) == list(ap.DIVERGENCE_COLUMNS)
