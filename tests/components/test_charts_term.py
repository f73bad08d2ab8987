"""components.charts_term: traces by name and type, the y-range without flagged points, ticks, history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import term_structure as ts
from components import charts_term as ct

NOW = pd.Timestamp("2026-11-25T13:57:00Z")
S = 100.0


def row(venue: str, symbol: str, *, ann: float | None = None, days: float | None = None, premium: float = 0.0,
        linear: bool = True) -> dict[str, object]:
    """A term-structure frame row: a future at annualized basis ``ann`` or, without days, a perp."""
    mark = S * (1 + premium) if days is None else S * (1 + ann * days / 365.0)
    return {"venue": venue, "symbol": symbol, "base": "BTC", "quote": "USDT" if linear else "USD",
            "settle": "USDT" if linear else "BTC", "kind": "perp" if days is None else "future", "linear": linear,
            "contract_size": 1.0, "expiry": pd.NaT if days is None else NOW + pd.Timedelta(days=days),
            "days_to_expiry": np.nan if days is None else days, "last": mark, "mark": mark, "index": S, "ts": NOW,
            "fetched_at": NOW}


@pytest.fixture
def table() -> pd.DataFrame:
    frame = pd.DataFrame([
        row("okx", "OKX-P", premium=0.0004),
        row("okx", "OKX-2D", ann=0.80, days=2.0),  # near expiry: 80 % a year
        row("okx", "OKX-30", ann=0.06, days=30.0),
        row("okx", "OKX-120", ann=0.08, days=120.0),
        row("okx", "OKXI-120", ann=0.075, days=120.0, linear=False),
        row("deribit", "DER-P", premium=-0.0002, linear=False),
        row("deribit", "DER-60", ann=0.10, days=60.0, linear=False),
        row("deribit", "DER-200", ann=0.11, days=200.0, linear=False),
    ])
    frame["expiry"] = pd.to_datetime(frame["expiry"], utc=True)
    return ts.term_table(frame)


def traces(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data}


def test_curve_names_add_margin_only_where_an_exchange_has_both():
    names = ct.curve_names(["okx:linear", "okx:inverse", "deribit:inverse"], {"okx": "OKX", "deribit": "Deribit"}.get)
    assert names == {"okx:linear": "OKX linear", "okx:inverse": "OKX inverse", "deribit:inverse": "Deribit"}


def test_curve_chart_has_one_line_per_curve_perps_fair_value_reference_and_flagged(table):
    names = ct.curve_names(table["curve"], {"okx": "OKX", "deribit": "Deribit"}.get)
    points = ct.curve_points(table, rate=0.05, names=names, reference_label="index")
    fig = ct.curve_chart(points)
    by = traces(fig)
    assert set(by) == {"OKX linear", "OKX inverse", "Deribit", ct.PERP_TRACE, ct.NEAR_TRACE,
                       "Fair value (r = 5.00%)", "Reference: index (basis 0)"}
    assert all(t.type == "scatter" for t in fig.data)
    assert list(by["OKX linear"].x) == [30.0, 120.0]  # the flagged 2-day contract is not on the line
    assert list(by["OKX linear"].y) == pytest.approx([0.06, 0.08])
    assert by["OKX linear"].line.dash == "solid" and by["Deribit"].line.dash == "dot"  # inverse dotted
    assert list(by[ct.PERP_TRACE].x) == [0.0, 0.0]
    assert sorted(by[ct.PERP_TRACE].y) == pytest.approx([-0.0002, 0.0004])  # premium, not annualized
    assert list(by["Fair value (r = 5.00%)"].y[1:]) == pytest.approx([0.05] * (ct.FAIR_GRID_POINTS - 1))  # flat at r
    assert list(by["Reference: index (basis 0)"].y) == [0.0, 0.0]
    # expiry dates label the x axis
    assert "perp" in fig.layout.xaxis.ticktext
    assert any("25 Dec '26" in t for t in fig.layout.xaxis.ticktext)


def test_y_range_excludes_flagged_points_which_are_pinned_to_the_edge(table):
    points = ct.curve_points(table, rate=0.05)
    fig = ct.curve_chart(points)
    lo, hi = fig.layout.yaxis.range
    assert fig.layout.yaxis.autorange is False
    unflagged = points.loc[~points["flagged"], "value"]
    assert lo <= unflagged.min() and hi >= unflagged.max()
    assert hi < 0.2  # the 80 % near-expiry point did not stretch the axis (it would reach 0.8)
    assert hi == pytest.approx(0.11 + 0.08 * (0.11 - (-0.0002)))  # exactly the unflagged span plus padding
    near = traces(fig)[ct.NEAR_TRACE]
    assert list(near.y) == [pytest.approx(hi)]  # drawn at the top edge...
    assert near.marker.symbol[0] == "triangle-up" and "+80.00%" in near.text[0]  # ...saying its true value
    assert float(near.customdata[0][2]) == pytest.approx(0.80)


def test_flagged_point_inside_the_range_keeps_its_value():
    frame = pd.DataFrame([row("okx", "A", ann=0.05, days=2.5), row("okx", "B", ann=0.04, days=30.0),
                          row("okx", "C", ann=0.09, days=90.0)])
    frame["expiry"] = pd.to_datetime(frame["expiry"], utc=True)
    fig = ct.curve_chart(ct.curve_points(ts.term_table(frame), rate=0.0))
    near = traces(fig)[ct.NEAR_TRACE]
    assert list(near.y) == [pytest.approx(0.05)] and near.marker.symbol[0] == "x" and near.text[0] == ""


def test_price_mode_draws_prices_fair_value_and_the_reference_price(table):
    points = ct.curve_points(table, y_mode=ct.Y_PRICE, rate=0.05, reference_label="Binance spot")
    fig = ct.curve_chart(points, y_mode=ct.Y_PRICE)
    by = traces(fig)
    assert list(by["Reference: Binance spot"].y) == [S, S]
    fair = by["Fair value (r = 5.00%)"]
    assert fair.y[-1] == pytest.approx(S * (1 + 0.05 * fair.x[-1] / 365.0))
    assert sorted(by[ct.PERP_TRACE].y) == pytest.approx([S * (1 - 0.0002), S * (1 + 0.0004)])
    lo, hi = fig.layout.yaxis.range
    drawn = points.loc[~points["flagged"], "value"]
    assert lo < S < hi and hi == pytest.approx(drawn.max() + 0.08 * (drawn.max() - drawn.min()))


def test_compounded_mode_uses_the_compounded_column(table):
    points = ct.curve_points(table, compounded=True, rate=0.05)
    line = points[(points["symbol"] == "OKX-120")]
    assert line["value"].iloc[0] == pytest.approx(table.set_index("symbol").loc["OKX-120", "ann_compounded"])
    fair = points[points["kind"] == "fair value"]
    assert fair["value"].iloc[-1] == pytest.approx((1 + 0.05 * 200 / 365) ** (365 / 200) - 1)


def test_curve_points_is_the_chart_data_and_empty_tables_give_an_empty_chart(table):
    points = ct.curve_points(table, rate=0.05)
    assert list(points.columns) == list(ct.POINT_COLUMNS)
    assert points["flagged"].sum() == 1
    empty = ct.curve_points(table.iloc[0:0])
    assert empty.empty
    assert len(ct.curve_chart(empty).data) == 0
    with pytest.raises(ValueError, match="y_mode"):
        ct.curve_points(table, y_mode="log")


def test_y_range_helper():
    assert ct.y_range([1.0, 2.0, 50.0], [False, False, True]) == pytest.approx([0.92, 2.08])
    assert ct.y_range([np.nan]) is None
    assert ct.y_range([0.05]) == pytest.approx([0.05 - 0.004, 0.05 + 0.004])  # one point: a small window


def test_expiry_ticks_drop_crowded_labels():
    exp = [NOW + pd.Timedelta(days=d) for d in (2.0, 9.0, 30.0, 120.0, 121.0)]
    vals, text = ct.expiry_ticks([2.0, 9.0, 30.0, 120.0, 120.0], exp)
    assert vals[0] == 0.0 and text[0] == "perp"
    assert 2.0 not in vals  # within 5 % of the span from the perp tick
    assert vals == [0.0, 9.0, 30.0, 120.0]
    assert text[-1].endswith("120 d")


def hist(times: list[pd.Timestamp], ann: list[float], near: list[bool]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame({"ts": pd.to_datetime(times, utc=True), "future": [101.0] * n, "reference": [100.0] * n,
                         "days": [10.0] * n, "basis": [1.0] * n, "basis_pct": [0.01] * n, "ann_simple": ann,
                         "ann_compounded": ann, "near_expiry": near})


def test_history_chart_contract_and_constant_maturity_lines_with_flagged_candles():
    t = [NOW + pd.Timedelta(hours=i) for i in range(4)]
    contract = hist(t, [0.05, 0.06, 0.07, 0.90], [False, False, False, True])
    cm = pd.DataFrame({"ts": t[:3], "value": [0.08, 0.081, np.nan], "lower": ["A", "A", None],
                       "upper": ["B", "B", None]})
    data = ct.history_data(contract, cm)
    assert list(data.columns) == list(ct.HISTORY_DATA_COLUMNS)
    assert len(data) == 4 and data["cm"].isna().sum() == 2
    fig = ct.history_chart(data, contract_name="BTC-270326 (OKX)", cm_name="90-day constant maturity (OKX)")
    by = traces(fig)
    assert set(by) == {"BTC-270326 (OKX)", "90-day constant maturity (OKX)", ct.NEAR_TRACE}
    assert list(by["BTC-270326 (OKX)"].y) == pytest.approx([0.05, 0.06, 0.07])
    assert list(by["90-day constant maturity (OKX)"].y) == pytest.approx([0.08, 0.081])
    lo, hi = fig.layout.yaxis.range
    assert hi < 0.2 and lo < 0.05  # the 90 % near-expiry candle is drawn but does not set the range


def test_history_chart_without_constant_maturity():
    t = [NOW + pd.Timedelta(hours=i) for i in range(2)]
    data = ct.history_data(hist(t, [0.05, 0.06], [False, False]), None)
    fig = ct.history_chart(data, contract_name="X", cm_name=None)
    assert [tr.name for tr in fig.data] == ["X"]
    empty = ct.history_data(hist([], [], []), None)
    assert len(ct.history_chart(empty, contract_name="X", cm_name="CM").data) == 0
