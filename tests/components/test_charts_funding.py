"""Funding figures: traces found by name and type carry exactly the frames' data; bands, axes, styles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import funding_stats as fs
from components import charts_funding as cf

T0 = pd.Timestamp("2026-11-01", tz="UTC")


def hist_frame() -> pd.DataFrame:
    rows = []
    for series, exchange, base, hours, rate in [
        ("BTC · OKX", "OKX", "BTC", 8, 0.0001), ("BTC · Deribit", "Deribit", "BTC", 1, 0.00002),
        ("ETH · OKX", "OKX", "ETH", 8, -0.0002),
    ]:
        n = 48 // hours
        rows.append(pd.DataFrame({
            "series": series, "venue": exchange.lower(), "symbol": f"{base}/USDT:USDT", "base": base,
            "exchange": exchange, "ts": pd.date_range(T0 + pd.Timedelta(hours=hours), periods=n,
                                                      freq=pd.Timedelta(hours=hours)),
            "rate": rate * (1 + np.arange(n) / n), "interval_hours": float(hours), "interval_inferred": False,
        }))
    return pd.concat(rows, ignore_index=True)


def traces(fig: go.Figure, kind: str) -> dict[str, object]:
    return {t.name: t for t in fig.data if t.type == kind and not str(t.name).startswith("_")}


@pytest.mark.parametrize("unit", fs.UNITS)
def test_history_lines_carry_the_normalized_values(unit):
    hist = fs.normalize_frame(hist_frame(), unit=unit)
    bands = fs.threshold_bands(0.0001, unit=unit, intervals=[1.0, 8.0])
    fig = cf.history_figure(hist, unit=unit, bands=bands, band_label="±0.0100% per 8h")
    lines = traces(fig, "scatter")
    assert list(lines) == ["BTC · OKX", "BTC · Deribit", "ETH · OKX"]
    for name, trace in lines.items():
        rows = hist[hist["series"] == name]
        np.testing.assert_array_equal(np.asarray(trace.y, dtype="float64"), rows["value"].to_numpy())
        assert list(pd.to_datetime(trace.x, utc=True)) == list(rows["ts"])
    assert fig.layout.yaxis.title.text == cf.UNIT_TITLES[unit]
    assert fig.layout.yaxis.hoverformat == cf.percent_format(unit)


def test_series_styles_colour_by_exchange_and_dash_by_base():
    fig = cf.history_figure(fs.normalize_frame(hist_frame(), unit="8h"), unit="8h")
    lines = traces(fig, "scatter")
    assert lines["BTC · OKX"].line.color == lines["ETH · OKX"].line.color  # same exchange
    assert lines["BTC · OKX"].line.color != lines["BTC · Deribit"].line.color
    assert lines["BTC · OKX"].line.dash == lines["BTC · Deribit"].line.dash == "solid"  # same base
    assert lines["ETH · OKX"].line.dash == "dash"


def test_one_threshold_band_is_shaded_several_are_line_pairs():
    hist = fs.normalize_frame(hist_frame(), unit="8h")
    one = cf.history_figure(hist, unit="8h", bands=fs.threshold_bands(0.0001, unit="8h", intervals=[1, 8]),
                            band_label="±0.0100% per 8h")
    rects = [s for s in one.layout.shapes if s.type == "rect"]
    assert len(rects) == 1 and rects[0].name == "±0.0100% per 8h"
    assert (rects[0].y0, rects[0].y1) == (pytest.approx(-0.0001), pytest.approx(0.0001))
    per_interval = cf.history_figure(fs.normalize_frame(hist_frame(), unit="interval"), unit="interval",
                                     bands=fs.threshold_bands(0.0001, unit="interval", intervals=[1, 8]),
                                     band_label="±0.0100% per 8h")
    lines = [s for s in per_interval.layout.shapes if s.type == "line" and s.name]
    assert sorted((s.name, s.y0) for s in lines) == [
        ("±0.0100% per 8h (1h)", pytest.approx(-0.0000125)), ("±0.0100% per 8h (1h)", pytest.approx(0.0000125)),
        ("±0.0100% per 8h (8h)", pytest.approx(-0.0001)), ("±0.0100% per 8h (8h)", pytest.approx(0.0001))]
    assert not [s for s in per_interval.layout.shapes if s.type == "rect"]


def test_empty_history_gives_an_empty_chart():
    fig = cf.history_figure(fs.normalize_frame(fs.empty_history(), unit="apr"), unit="apr")
    assert traces(fig, "scatter") == {}


@pytest.mark.parametrize("side", ["short", "long"])
def test_cumulative_lines_and_the_notional_axis(side):
    cum = fs.cumulative_frame(hist_frame(), notional=250_000.0)
    fig = cf.cumulative_figure(cum, side=side, notional=250_000.0)
    lines = traces(fig, "scatter")
    assert list(lines) == ["BTC · OKX", "BTC · Deribit", "ETH · OKX"]
    for name, trace in lines.items():
        rows = cum[cum["series"] == name]
        np.testing.assert_allclose(np.asarray(trace.y, dtype="float64"), rows[f"{side}_pnl"])
        np.testing.assert_allclose(np.asarray(trace.customdata, dtype="float64"), rows[f"{side}_amount"])
    lo, hi = fig.layout.yaxis.range
    assert lo < min(0.0, cum[f"{side}_pnl"].min()) and hi > max(0.0, cum[f"{side}_pnl"].max())
    assert tuple(fig.layout.yaxis2.range) == (pytest.approx(lo * 250_000), pytest.approx(hi * 250_000))
    helper = [t for t in fig.data if t.name == cf.AXIS_HELPER]
    assert len(helper) == 1 and helper[0].yaxis == "y2" and helper[0].showlegend is False
    assert helper[0].hoverinfo == "skip" and helper[0].marker.opacity == 0
    assert side in fig.layout.title.text


def test_cumulative_refuses_an_unknown_side():
    with pytest.raises(ValueError, match="side"):
        cf.cumulative_figure(fs.cumulative_frame(hist_frame()), side="flat")


def test_current_heatmap_is_the_matrix_with_gaps_for_unlisted():
    matrix = pd.DataFrame({"BTC": [0.1, 0.2], "SOL": [0.3, np.nan]}, index=["OKX", "Deribit"])
    fig = cf.current_heatmap_figure(matrix)
    (heat,) = traces(fig, "heatmap").values()
    assert heat.name == "Current funding APR"
    assert list(heat.x) == ["BTC", "SOL"] and list(heat.y) == ["OKX", "Deribit"]
    np.testing.assert_array_equal(np.asarray(heat.z, dtype="float64"), matrix.to_numpy())
    assert heat.zmid == 0.0
    assert fig.layout.yaxis.autorange == "reversed"  # first exchange on top, as in the table


def test_history_heatmap_time_by_exchange():
    hist = fs.normalize_frame(hist_frame(), unit="apr")
    btc = hist[hist["base"] == "BTC"]
    matrix = fs.history_matrix(btc, freq_hours=8, row_order=["OKX", "Deribit"])
    fig = cf.history_heatmap_figure(matrix, unit="apr", title="BTC funding APR")
    heat = traces(fig, "heatmap")["BTC funding APR"]
    assert list(heat.y) == ["OKX", "Deribit"]
    assert list(pd.to_datetime(heat.x, utc=True)) == list(matrix.columns)
    np.testing.assert_allclose(np.asarray(heat.z, dtype="float64"), matrix.to_numpy())
    assert heat.colorbar.tickformat == cf.tick_format("apr")
