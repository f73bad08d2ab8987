"""Funding across intervals and exchanges: units, cumulative, stats, flags, spreads, heatmaps (DOMAIN.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import funding_stats as fs

HOUR = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2026-11-01 00:00", tz="UTC")


def history(series: str, rates: list[float], hours: float, *, start: pd.Timestamp = T0,
            stated: bool = True, base: str = "BTC", exchange: str | None = None) -> pd.DataFrame:
    """A history frame of one series settling every ``hours`` from ``start + hours``."""
    n = len(rates)
    return pd.DataFrame({
        "series": series,
        "venue": series.lower(),
        "symbol": f"{base}/USDT:USDT",
        "base": base,
        "exchange": exchange or series,
        "ts": pd.date_range(start + hours * HOUR, periods=n, freq=pd.Timedelta(hours=hours)),
        "rate": np.asarray(rates, dtype="float64"),
        "interval_hours": float(hours) if stated else np.nan,
        "interval_inferred": False,
    })


# -- units: golden values -----------------------------------------------------------------------------------
def test_one_hour_rate_of_0_00125_pct_is_0_01_pct_per_8h_and_10_95_pct_apr():
    assert fs.normalize(0.0000125, 1, unit="8h") == pytest.approx(0.0001, rel=1e-12)
    assert fs.normalize(0.0000125, 1, unit="apr") == pytest.approx(0.1095, rel=1e-12)
    assert fs.normalize(0.0000125, 1, unit="interval") == 0.0000125


def test_rows_are_normalized_with_their_own_interval():
    # the same funding (0.01 % per 8 h) paid every 8 h, 4 h and 1 h, as in one mixed history frame
    hist = pd.concat([history("A", [0.0001], 8), history("B", [0.00005], 4), history("C", [0.0000125], 1)])
    out = fs.normalize_frame(hist, unit="8h")
    np.testing.assert_allclose(out["value"], [0.0001] * 3, rtol=1e-12)
    np.testing.assert_allclose(fs.normalize_frame(hist, unit="apr")["value"], [0.1095] * 3, rtol=1e-12)
    np.testing.assert_allclose(fs.normalize_frame(hist, unit="interval")["value"], hist["rate"])
    assert "value" not in hist.columns  # inputs are not mutated


def test_apy_compounds_at_each_interval():
    # 0.01 % every 8 h compounds 1095 times a year; the same funding paid hourly compounds 8760 times
    apy_8h = fs.normalize(0.0001, 8, unit="apy")
    apy_1h = fs.normalize(0.0000125, 1, unit="apy")
    assert apy_8h == pytest.approx(1.0001 ** 1095 - 1, rel=1e-12)
    assert apy_8h == pytest.approx(0.115714, abs=1e-6)
    assert apy_1h == pytest.approx(1.0000125 ** 8760 - 1, rel=1e-12)
    assert 0.1095 < apy_8h < apy_1h  # compounding adds to the simple APR, more often adds more
    assert fs.denormalize(apy_8h, 8, unit="apy") == pytest.approx(0.0001, rel=1e-12)
    assert math.isnan(fs.denormalize(-1.0, 8, unit="apy"))  # -100 % a year is not reachable by a rate


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        fs.normalize(0.0001, 8, unit="bps")
    with pytest.raises(ValueError, match="unit"):
        fs.denormalize(0.0001, 8, unit="")


def test_invalid_interval_gives_nan_except_for_the_rate_as_paid():
    assert math.isnan(fs.normalize(0.0001, 0, unit="8h"))
    assert math.isnan(fs.denormalize(0.0001, np.nan, unit="apr"))
    assert fs.normalize(0.0001, np.nan, unit="interval") == 0.0001


# -- units: round trip (hypothesis) -------------------------------------------------------------------------
# Realistic funding: up to 0.3 % per 8 h either way (Binance's BTC cap; ~330 % APR). Far beyond it the APY of
# a strongly negative hourly rate rounds to exactly -100 % and cannot be inverted.
rates_8h = st.floats(min_value=-0.003, max_value=0.003, allow_nan=False, allow_infinity=False)
hours = st.sampled_from([1.0, 2.0, 4.0, 8.0]) | st.floats(min_value=0.25, max_value=24.0)
# No deadline: a loaded CI machine (parallel browser tests) can stall any single example.
no_deadline = settings(deadline=None)


@no_deadline
@given(rate_8h=rates_8h, h=hours, unit=st.sampled_from(fs.UNITS))
def test_normalize_then_denormalize_returns_the_rate(rate_8h, h, unit):
    rate = rate_8h * h / 8.0
    back = fs.denormalize(fs.normalize(rate, h, unit=unit), h, unit=unit)
    # abs: a rate is only known to the float resolution of 1 + rate (~1e-16), which APY goes through
    assert back == pytest.approx(rate, rel=1e-9, abs=1e-15)


@no_deadline
@given(values=st.lists(rates_8h, min_size=1, max_size=20), unit=st.sampled_from(fs.UNITS),
       h=st.sampled_from([1.0, 4.0, 8.0]))
def test_round_trip_over_series_keeps_index_and_values(values, unit, h):
    rate = pd.Series(np.asarray(values) * h / 8.0, index=[f"r{i}" for i in range(len(values))])
    hours_s = pd.Series(h, index=rate.index)
    norm = fs.normalize(rate, hours_s, unit=unit)
    back = fs.denormalize(norm, hours_s, unit=unit)
    assert isinstance(back, pd.Series) and back.index.equals(rate.index)
    np.testing.assert_allclose(back.to_numpy(), rate.to_numpy(), rtol=1e-9, atol=1e-15)


@no_deadline
@given(rate_8h=rates_8h, h=st.sampled_from([1.0, 4.0, 8.0]))
def test_8h_and_apr_do_not_depend_on_the_interval(rate_8h, h):
    rate = rate_8h * h / 8.0  # the same funding speed paid every h hours
    assert fs.normalize(rate, h, unit="8h") == pytest.approx(rate_8h, rel=1e-12, abs=1e-20)
    assert fs.normalize(rate, h, unit="apr") == pytest.approx(rate_8h * 1095, rel=1e-12, abs=1e-20)


# -- threshold bands ----------------------------------------------------------------------------------------
def test_threshold_bands_in_each_unit():
    assert fs.threshold_bands(0.0001, unit="8h", intervals=[1, 4, 8]) == [((1.0, 4.0, 8.0), -0.0001, 0.0001)]
    (hs, lo, hi), = fs.threshold_bands(0.0001, unit="apr", intervals=[8, 1])
    assert hs == (1.0, 8.0) and lo == pytest.approx(-0.1095) and hi == pytest.approx(0.1095)
    per_interval = fs.threshold_bands(0.0001, unit="interval", intervals=[8, 1, 4, 8])
    assert [(b[0], b[2]) for b in per_interval] == [((1.0,), 0.0000125), ((4.0,), 0.00005), ((8.0,), 0.0001)]
    (hs, lo, hi), = fs.threshold_bands(0.0001, unit="apy", intervals=[1, 8])  # 11.5736 % vs 11.5719 %: one band
    assert hs == (1.0, 8.0) and hi == pytest.approx(1.0000125 ** 8760 - 1, rel=1e-12)
    assert lo == pytest.approx(0.9999875 ** 8760 - 1, rel=1e-12)
    assert fs.threshold_bands(0.0001, unit="8h", intervals=[]) == [((8.0,), -0.0001, 0.0001)]


# -- cumulative ---------------------------------------------------------------------------------------------
def test_cumulative_simple_vs_compounded_per_series_for_long_and_short():
    hist = pd.concat([history("A", [0.01, -0.02, 0.03], 8), history("B", [0.001, 0.001], 1)])
    hist = hist.sort_values("ts", kind="stable").reset_index(drop=True)  # series interleaved in time
    simple = fs.cumulative_frame(hist, notional=1000.0)
    a = simple[simple["series"] == "A"]
    np.testing.assert_allclose(a["cum"], [0.01, -0.01, 0.02])
    np.testing.assert_allclose(a["short_pnl"], [0.01, -0.01, 0.02])
    np.testing.assert_allclose(a["long_pnl"], [-0.01, 0.01, -0.02])
    np.testing.assert_allclose(a["short_amount"], [10.0, -10.0, 20.0])
    np.testing.assert_allclose(simple.loc[simple["series"] == "B", "cum"], [0.001, 0.002])  # not mixed with A
    assert list(simple["ts"]) == list(hist["ts"])

    comp = fs.cumulative_frame(hist, compounded=True, notional=1000.0)
    expected = [0.01, 1.01 * 0.98 - 1, 1.01 * 0.98 * 1.03 - 1]
    np.testing.assert_allclose(comp.loc[comp["series"] == "A", "cum"], expected)
    np.testing.assert_allclose(comp.loc[comp["series"] == "A", "long_amount"], -1000.0 * np.asarray(expected))

    summary = fs.cumulative_summary(hist, compounded=False, notional=1000.0).set_index("series")
    assert summary.loc["A", "total"] == pytest.approx(0.02)
    assert summary.loc["A", "long_amount"] == pytest.approx(-20.0)
    assert summary.loc["B", "periods"] == 2
    summary_c = fs.cumulative_summary(hist, compounded=True, notional=1000.0).set_index("series")
    assert summary_c.loc["A", "short_pnl"] == pytest.approx(expected[-1])
    assert summary_c.loc["B", "total"] == pytest.approx(1.001 ** 2 - 1)


def test_cumulative_of_nothing_is_empty():
    empty = fs.empty_history()
    assert fs.cumulative_frame(empty).empty
    assert fs.cumulative_summary(empty).empty
    assert fs.window_stats(empty).empty
    assert list(fs.window_stats(empty).columns) == list(fs.STATS_COLUMNS)


# -- stats --------------------------------------------------------------------------------------------------
def test_window_stats_golden():
    start, end = T0, T0 + pd.Timedelta(hours=32)
    hist = pd.concat([
        history("A", [0.0001, 0.0003, -0.0002, 0.0001], 8),  # 00:00 + 8, 16, 24, 32 h
        history("B", [0.00005] * 32, 1),
    ])
    stats = fs.window_stats(hist, unit="8h", threshold_8h=0.0001, start=start, end=end).set_index("series")
    a = stats.loc["A"]
    assert a["interval_hours"] == 8.0 and a["periods"] == 4 and a["expected"] == 4
    assert a["mean"] == pytest.approx(0.000075)
    assert a["median"] == pytest.approx(0.0001)
    assert a["std"] == pytest.approx(np.std([0.0001, 0.0003, -0.0002, 0.0001], ddof=1))
    assert (a["min"], a["max"]) == (pytest.approx(-0.0002), pytest.approx(0.0003))
    assert a["pct_positive"] == 0.75
    assert (a["above"], a["below"]) == (1, 1)  # 0.01 % itself is not above 0.01 %
    assert a["apr_mean"] == pytest.approx(0.0003 * 8760 / 32)
    assert a["apy_realized"] == pytest.approx((1.0001 * 1.0003 * 0.9998 * 1.0001) ** (8760 / 32) - 1)
    assert a["flips"] == 2 and a["last_flip"] == T0 + pd.Timedelta(hours=32)
    b = stats.loc["B"]  # its own interval: 0.005 % an hour is 0.04 % per 8 h, above the threshold every hour
    assert b["interval_hours"] == 1.0 and b["periods"] == 32 and b["expected"] == 32
    assert b["mean"] == pytest.approx(0.0004) and b["std"] == pytest.approx(0.0, abs=1e-18)
    assert (b["above"], b["flips"]) == (32, 0) and pd.isna(b["last_flip"])
    assert b["apr_mean"] == pytest.approx(0.00005 * 8760)
    in_apr = fs.window_stats(hist, unit="apr").set_index("series")
    assert in_apr.loc["A", "mean"] == pytest.approx(0.000075 * 1095)
    assert math.isnan(in_apr.loc["A", "expected"])  # no window given


def test_window_stats_edges():
    one = fs.window_stats(history("A", [0.0002], 8), unit="8h")
    assert one.loc[0, "periods"] == 1 and math.isnan(one.loc[0, "std"])  # one period: no spread
    gaps = history("A", [0.0001, np.nan, 0.0001], 8)
    row = fs.window_stats(gaps, unit="8h", start=T0, end=T0 + pd.Timedelta(hours=24)).iloc[0]
    assert row["periods"] == 2 and row["expected"] == 3  # the missing settlement shows


def test_expected_periods_follow_the_utc_grid():
    day = pd.Timedelta(days=1)
    assert fs.expected_periods(T0, T0 + day, 8) == 3
    assert fs.expected_periods(T0, T0 + day, 1) == 24
    odd = T0 + pd.Timedelta(hours=5, minutes=13)  # settlements at 08, 16, 00 (and 08, 12, ... for 4 h)
    assert fs.expected_periods(odd, odd + day, 8) == 3
    assert fs.expected_periods(odd, odd + day, 4) == 6
    assert fs.expected_periods(T0, T0 + 365 * day, 8) == 1095
    assert math.isnan(fs.expected_periods(T0, T0 + day, np.nan))


def test_clip_window_keeps_settlements_paying_for_the_window():
    hist = history("A", [1.0, 2.0, 3.0, 4.0], 8)  # 08, 16, 24, 32 h
    out = fs.clip_window(hist, T0 + pd.Timedelta(hours=8), T0 + pd.Timedelta(hours=24))
    assert list(out["rate"]) == [2.0, 3.0]  # the 08:00 settlement paid for 00-08, before the window


def test_sign_flips_skip_zeros_and_nan():
    assert fs.sign_flips([0.1, 0.0, 0.2]) == (0, None)
    assert fs.sign_flips([0.1, 0.0, -0.2, np.nan, -0.1, 0.3]) == (2, 5)
    assert fs.sign_flips([]) == (0, None)
    assert fs.sign_flips([-0.1]) == (0, None)


# -- interval inference -------------------------------------------------------------------------------------
def test_missing_intervals_are_inferred_from_timestamps_and_marked():
    four = history("A", [0.0001] * 6, 4, stated=False)
    four = four.drop(index=3)  # a missing settlement (a double gap) does not move the median spacing
    eight = history("B", [0.0001] * 3, 8)
    lonely = history("C", [0.0001], 8, stated=False)
    out = fs.fill_intervals(pd.concat([four, eight, lonely], ignore_index=True))
    a, b, c = (out[out["series"] == s] for s in "ABC")
    assert (a["interval_hours"] == 4.0).all() and a["interval_inferred"].all()
    assert (b["interval_hours"] == 8.0).all() and not b["interval_inferred"].any()
    assert c["interval_hours"].isna().all() and not c["interval_inferred"].any()  # one row: not enough data
    stats = fs.window_stats(fs.fill_intervals(four), unit="8h").iloc[0]
    assert stats["mean"] == pytest.approx(0.0002)  # normalized with the inferred 4 h
    assert stats["interval_hours"] == 4.0 and stats["interval_inferred"]
    assert not fs.window_stats(eight, unit="8h").iloc[0]["interval_inferred"]


def test_combine_histories_attaches_labels_orders_and_infers():
    meta = pd.DataFrame({"series": ["BTC · X", "BTC · Y"], "venue": ["x", "y"], "symbol": ["BTC/USDT:USDT"] * 2,
                         "base": ["BTC"] * 2, "exchange": ["X", "Y"]})
    y = history("ignored", [0.0002, 0.0002], 4)[["ts", "rate", "interval_hours"]].assign(interval_hours=np.nan)
    x = history("ignored", [0.0001, 0.0001], 8)[["ts", "rate", "interval_hours"]]
    out = fs.combine_histories({"BTC · Y": y, "BTC · X": x, "BTC · Z": x}, meta)
    assert list(out.columns) == list(fs.HISTORY_COLUMNS)
    assert list(out["series"]) == ["BTC · X"] * 2 + ["BTC · Y"] * 2  # meta's order; unknown Z left out
    assert list(out.loc[out["series"] == "BTC · Y", "interval_hours"]) == [4.0, 4.0]
    assert out.loc[out["series"] == "BTC · Y", "interval_inferred"].all()
    assert fs.combine_histories({}, meta).empty


# -- Deribit: hourly rows are accruals, not 8h sums ---------------------------------------------------------
def test_deribit_hourly_rows_are_not_double_counted(market):
    inst = market.find("deribit", base="BTC", quote="USD", kind="perp")
    end = (market.now_ms() // 86_400_000) * 86_400_000  # midnight: 8h marks at 08, 16, 24
    rows = market.deribit_hourly(inst, end - 86_400_000 + 1, end)
    hist = pd.DataFrame({"series": "BTC · Deribit", "ts": pd.to_datetime(rows["timestamp"], unit="ms", utc=True),
                         "rate": rows["interest_1h"], "interval_hours": 1.0})
    assert len(hist) == 24
    total = fs.cumulative_summary(hist).loc[0, "total"]
    eight_hour_marks = rows["interest_8h"][[7, 15, 23]]  # trailing 8h sums that tile the day
    assert total == pytest.approx(eight_hour_marks.sum(), rel=1e-9)
    assert abs(rows["interest_8h"].sum()) > 4 * abs(total)  # what summing ccxt's fundingRate would give
    # in 8h units each row is 8x its accrual, so an 8-row mean is the trailing 8h figure Deribit reports
    value = fs.normalize_frame(hist, unit="8h")["value"].to_numpy()
    np.testing.assert_allclose(value[:8].mean(), rows["interest_8h"][7], rtol=1e-9)
    stats = fs.window_stats(hist, unit="apr").iloc[0]
    assert stats["apr_mean"] == pytest.approx(total * 365, rel=1e-9)  # a day's funding times 365
    assert stats["mean"] == pytest.approx(total * 365, rel=1e-9)


# -- flags, now ---------------------------------------------------------------------------------------------
def test_flag_levels_strictly_beyond_thresholds():
    r8 = [0.0001, 0.0001 * (1 + 1e-14), 0.00011, 0.001, 0.0011, -0.00011, -0.0011, np.nan]
    assert list(fs.flag_level(r8, threshold_8h=0.0001, extreme_8h=0.001)) == [
        "normal", "normal", "elevated positive", "elevated positive", "extreme positive",
        "elevated negative", "extreme negative", "normal"]
    assert list(fs.flag_level([0.0002], threshold_8h=0.0003)) == ["normal"]  # configurable


def test_now_figures():
    at = pd.Timestamp("2026-11-25 13:57", tz="UTC")
    now = pd.DataFrame({
        "series": ["BTC · A", "BTC · D"], "rate": [0.002, 0.0000125], "interval_hours": [8.0, 1.0],
        "predicted_rate": [0.0015, np.nan],
        "next_funding_time": [pd.Timestamp("2026-11-25 16:00", tz="UTC"), pd.NaT],
    })
    out = fs.now_figures(now, at=at)
    np.testing.assert_allclose(out["rate_8h"], [0.002, 0.0001])
    np.testing.assert_allclose(out["apr"], [2.19, 0.1095])
    assert out.loc[0, "predicted_apr"] == pytest.approx(0.0015 * 1095) and math.isnan(out.loc[1, "predicted_apr"])
    assert list(out["flag"]) == ["extreme positive", "normal"]
    assert out.loc[0, "seconds_to_next"] == 2 * 3600 + 3 * 60 and math.isnan(out.loc[1, "seconds_to_next"])
    assert out.loc[0, "apy"] == pytest.approx(1.002 ** 1095 - 1)


# -- picking perps and labels -------------------------------------------------------------------------------
NOW = pd.DataFrame({
    "venue": ["okx", "okx", "deribit", "okx", "bybit", "bybit"],
    "symbol": ["BTC/USD:BTC", "BTC/USDT:USDT", "BTC/USD:BTC", "SOL/USDT:USDT", "BTC/USDC:USDC", "BTC/USDT:USDT"],
    "base": ["BTC", "BTC", "BTC", "SOL", "BTC", "BTC"],
    "quote": ["USD", "USDT", "USD", "USDT", "USDC", "USDT"],
    "settle": ["BTC", "USDT", "BTC", "USDT", "USDC", "USDT"],
    "linear": [False, True, False, True, True, True],
})


def test_pick_perps_prefers_usdt_linear_or_coin_margined():
    usdt = fs.pick_perps(NOW, prefer="usdt")
    assert set(zip(usdt["venue"], usdt["symbol"], strict=True)) == {
        ("okx", "BTC/USDT:USDT"), ("deribit", "BTC/USD:BTC"), ("okx", "SOL/USDT:USDT"), ("bybit", "BTC/USDT:USDT")}
    coin = fs.pick_perps(NOW, prefer="coin")
    assert set(zip(coin["venue"], coin["symbol"], strict=True)) == {
        ("okx", "BTC/USD:BTC"), ("deribit", "BTC/USD:BTC"), ("okx", "SOL/USDT:USDT"), ("bybit", "BTC/USDT:USDT")}
    assert len(fs.pick_perps(NOW, prefer="all")) == len(NOW)
    with pytest.raises(ValueError):
        fs.pick_perps(NOW, prefer="cheapest")


def test_labels_tag_margin_only_where_an_exchange_shows_several_perps():
    names = {"okx": "OKX", "deribit": "Deribit", "bybit": "Bybit"}
    one = fs.label_series(fs.pick_perps(NOW), label=names.get, venue_order=["bybit", "okx", "deribit"],
                          base_order=["SOL", "BTC"])
    assert list(one["series"]) == ["SOL · OKX", "BTC · Bybit", "BTC · OKX", "BTC · Deribit"]
    every = fs.label_series(NOW, label=names.get, venue_order=["okx", "deribit", "bybit"], base_order=["BTC", "SOL"])
    assert list(every["series"]) == ["BTC · OKX · USDT-M", "BTC · OKX · coin-M", "BTC · Deribit",
                                     "BTC · Bybit · USDC-M", "BTC · Bybit · USDT-M", "SOL · OKX · USDT-M"]


# -- spread, heatmaps ---------------------------------------------------------------------------------------
def test_spread_table_highest_lowest_and_spread():
    frame = pd.DataFrame({"base": ["BTC", "BTC", "BTC", "ETH", "SOL"], "exchange": ["A", "B", "C", "A", "A"],
                          "apr": [0.10, 0.30, -0.05, 0.2, np.nan]})
    out = fs.spread_table(frame, value="apr", order=["ETH", "BTC"]).set_index("base")
    assert list(out.index) == ["ETH", "BTC", "SOL"]
    assert (out.loc["BTC", "highest"], out.loc["BTC", "lowest"]) == ("B", "C")
    assert out.loc["BTC", "spread"] == pytest.approx(0.35) and out.loc["BTC", "n"] == 3
    assert math.isnan(out.loc["ETH", "spread"]) and out.loc["ETH", "highest"] == "A"  # one exchange: no spread
    assert out.loc["SOL", "n"] == 0 and pd.isna(out.loc["SOL", "highest"])


def test_current_matrix_exchange_by_symbol():
    frame = pd.DataFrame({"exchange": ["A", "B", "A"], "base": ["BTC", "BTC", "SOL"], "apr": [0.1, 0.2, 0.3]})
    m = fs.current_matrix(frame, row_order=["B", "A"], col_order=["SOL", "BTC"])
    assert list(m.index) == ["B", "A"] and list(m.columns) == ["SOL", "BTC"]
    assert m.loc["A", "SOL"] == 0.3 and math.isnan(m.loc["B", "SOL"])  # not listed there


def test_history_matrix_bins_settlements_into_the_interval_they_pay_for():
    hourly = history("H", [0.00001] * 8 + [0.00003] * 8, 1, exchange="Hourly")  # 01:00 ... 16:00
    eight = history("E", [0.0001, 0.0002], 8, exchange="Eight")  # 08:00, 16:00
    hist = fs.normalize_frame(pd.concat([hourly, eight], ignore_index=True), unit="8h")
    m = fs.history_matrix(hist, freq_hours=8, row_order=["Eight", "Hourly"])
    assert list(m.index) == ["Eight", "Hourly"]
    assert list(m.columns) == [T0 + pd.Timedelta(hours=8), T0 + pd.Timedelta(hours=16)]
    np.testing.assert_allclose(m.loc["Hourly"], [0.00008, 0.00024])
    np.testing.assert_allclose(m.loc["Eight"], [0.0001, 0.0002])
    gappy = history("E", [0.0001, 0.0, 0.0, 0.0002], 8, exchange="E").iloc[[0, 3]]  # 08:00 and 32:00 only
    gap = fs.history_matrix(fs.normalize_frame(gappy, unit="8h"), freq_hours=8)
    assert len(gap.columns) == 4 and gap.iloc[0].isna().sum() == 2  # empty bins stay empty, not dropped
