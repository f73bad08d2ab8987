"""components.charts_premium: traces found by name and type, values in percent, bands, secondary axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from components import charts_premium as charts

T0 = pd.Timestamp("2026-11-20T00:00Z")
H = pd.Timedelta(hours=1)


def trace(fig: go.Figure, name: str):
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


@pytest.fixture
def current() -> pd.DataFrame:
    return pd.DataFrame({
        "venue": ["binanceusdm", "okx", "binanceusdm"],
        "symbol": ["BTC/USDT:USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"],
        "base": ["BTC", "BTC", "ETH"],
        "premium": [0.0012, -0.0004, np.nan],
    })


def test_current_bars_one_trace_per_asset_in_percent_with_band(current):
    fig = charts.current_premium_bars(current, band=0.0015, label=str.upper, price="last")
    btc = trace(fig, "BTC premium (last)")
    assert isinstance(btc, go.Bar) and btc.orientation == "h"
    assert list(btc.y) == ["BINANCEUSDM · BTC/USDT:USDT", "OKX · BTC/USDT:USDT"]
    assert list(btc.x) == pytest.approx([0.12, -0.04])
    assert list(btc.text) == ["+0.120%", "-0.040%"]
    eth = trace(fig, "ETH premium (last)")
    assert np.isnan(eth.x[0]) and eth.text[0] == "n/a"  # a missing index is shown as missing, not 0
    upper, lower = charts.band_names(0.0015)
    assert upper == "Upper threshold (+0.15%)" and lower == "Lower threshold (−0.15%)"
    assert list(trace(fig, upper).x) == [0.15, 0.15] and list(trace(fig, lower).x) == [-0.15, -0.15]
    assert list(trace(fig, upper).y) == ["BINANCEUSDM · BTC/USDT:USDT", "BINANCEUSDM · ETH/USDT:USDT"]  # all rows
    assert isinstance(trace(fig, upper), go.Scatter)
    names = [t.name for t in fig.data]  # band lines first: the bars' value labels are drawn over them
    assert names.index(upper) < names.index("BTC premium (last)") and names.index(lower) < names.index(
        "ETH premium (last)")
    assert [t.name for t in fig.data if t.legendrank == 2000] == [upper, lower]  # listed after the assets
    assert fig.layout.yaxis.autorange == "reversed"  # first row on top
    assert list(fig.layout.yaxis.categoryarray) == [*btc.y, *eth.y]  # rows in the frame's order
    assert fig.layout.yaxis.categoryorder == "array"
    lo, hi = fig.layout.xaxis.range
    assert lo < -0.15 and hi > 0.15  # the band is always in view
    assert fig.layout.template.layout.paper_bgcolor is not None  # plotly_dark applied


def test_history_chart_lines_and_band(current):
    history = pd.DataFrame({
        "ts": [T0, T0 + H, T0, T0 + H],
        "series": ["A", "A", "B", "B"],
        "premium": [0.001, 0.002, -0.001, 0.0],
    })
    fig = charts.premium_history_chart(history, band=0.001, order=["B", "A", "C"])
    a, b = trace(fig, "A"), trace(fig, "B")
    assert isinstance(a, go.Scatter) and a.mode == "lines"
    assert list(a.y) == pytest.approx([0.1, 0.2]) and list(b.y) == pytest.approx([-0.1, 0.0])
    assert all(t.name != "C" for t in fig.data)  # a series without data draws nothing
    upper, lower = charts.band_names(0.001)
    assert trace(fig, upper).fill == "tonexty"  # shaded down to the lower line, drawn just before it
    names = [t.name for t in fig.data]
    assert names.index(lower) + 1 == names.index(upper)
    assert fig.layout.legend.traceorder == "normal"  # not reversed by the band's fill
    assert list(trace(fig, upper).x) == [T0, T0 + H]


def test_history_chart_without_data_says_so():
    empty = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "series": [], "premium": []})
    fig = charts.premium_history_chart(empty, band=0.001)
    assert len(fig.data) == 0
    assert "no premium history" in fig.layout.annotations[0].text


def test_premium_and_funding_on_two_axes_with_aligned_zeros():
    premium = pd.DataFrame({"ts": [T0, T0 + H, T0 + 2 * H], "premium": [0.0005, 0.001, -0.0002]})
    funding = pd.DataFrame({"ts": [T0, T0 + 8 * H], "value": [0.0001, 0.0003]})
    fig = charts.premium_funding_chart(premium, funding, premium_name="Premium (mark)",
                                       funding_name="Funding (% per 8h)", funding_axis="Funding, % per 8h",
                                       band=0.0015)
    p, f = trace(fig, "Premium (mark)"), trace(fig, "Funding (% per 8h)")
    assert p.yaxis == "y" and f.yaxis == "y2"
    assert list(p.y) == pytest.approx([0.05, 0.1, -0.02]) and list(f.y) == pytest.approx([0.01, 0.03])
    assert f.line.shape == "vh"  # each settled rate is drawn over the interval it settled
    assert fig.layout.yaxis2.title.text == "Funding, % per 8h"
    left, right = fig.layout.yaxis.range, fig.layout.yaxis2.range
    assert left[0] == -left[1] and right[0] == -right[1]  # symmetric: both zero lines mid-height
    assert left[1] > 0.15  # the band fits
    upper, _ = charts.band_names(0.0015)
    assert trace(fig, upper).yaxis == "y"


def test_premium_and_funding_without_premium_history():
    empty = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "premium": pd.Series([], dtype=float)})
    funding = pd.DataFrame({"ts": [T0], "value": [-0.0002]})
    fig = charts.premium_funding_chart(empty, funding, premium_name="P", funding_name="F", funding_axis="x",
                                       band=0.001)
    assert [t.name for t in fig.data] == ["P", "F"]  # no band without a premium to compare
    assert "no premium history" in fig.layout.annotations[0].text
