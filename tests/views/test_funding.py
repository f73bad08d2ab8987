"""Funding page in AppTest on demo data: every scenario renders and flags, complete 1y histories, URL state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_sources import get_market_data
from tests.views.conftest import (
    assert_no_exception,
    assert_tables_show_missing_as_dash,
    open_app,
    table_with,
)

PAGE = "views/funding.py"


def run(query: dict[str, str] | None = None) -> AppTest:
    """The app opened on the funding page with ``query`` in the URL (the page's filename is its url path)."""
    return assert_no_exception(open_app(PAGE, query))



def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def pinned(days_back: int = 1) -> str:
    """An as_of on a day boundary in the demo market's past, so histories do not move while a test runs."""
    return (get_market_data().now().floor("D") - pd.Timedelta(days=days_back)).strftime("%Y-%m-%dT%H:%MZ")


# -- scenarios ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["normal", "squeeze", "crash"])
def test_renders_in_every_scenario_with_its_flags(demo_env, scenario):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", scenario)
    at = run()
    assert not at.error
    assert_tables_show_missing_as_dash(at)
    assert len(at.get("plotly_chart")) == 4  # history, cumulative, current and history heatmaps
    now = table_with(at, "Countdown")
    assert set(now["Symbol"]) == {"BTC", "ETH", "SOL"}
    assert len(now) == 17  # 6 exchanges x 3 symbols, Deribit lists no SOL perp
    assert any("Not listed: SOL on Deribit" in c.value for c in at.caption)
    warnings = texts(at.warning)
    per_8h = now.set_index(["Symbol", "Exchange"])["Per 8h"]  # % per 8h
    if scenario == "squeeze":
        assert "Extreme positive funding now" in warnings
        assert (now.loc[now["Flag"] == "extreme positive", "Per 8h"] > 0.1).all()
        assert (now["Flag"] == "extreme positive").sum() >= 10
    elif scenario == "crash":
        assert "Extreme negative funding now" in warnings and "shorts pay longs" in warnings
        assert (now.loc[now["Flag"].str.endswith("negative"), "Per 8h"] < -0.01).all()
        assert (per_8h < 0).sum() >= 10
    else:
        assert "Extreme" not in warnings  # a normal market stays below 0.1% per 8h
        assert not now["Flag"].str.startswith("extreme").any()


def test_now_table_matches_the_facade_and_marks_deribit_as_continuous(demo_env):
    at = run({"sym": "BTC", "ex": "binanceusdm,bybit,deribit"})
    now = table_with(at, "Countdown").set_index("Exchange")
    md = get_market_data()
    frame = md.funding_now(bases=("BTC",), venues=("binanceusdm", "bybit", "deribit")).frame
    usdm = frame[(frame["venue"] == "binanceusdm")].iloc[0]
    assert now.loc["Binance USDⓈ-M", "Rate"] == pytest.approx(usdm["rate"] * 100)
    assert now.loc["Binance USDⓈ-M", "APR"] == pytest.approx(usdm["rate"] * 1095 * 100)
    assert now.loc["Bybit", "Perp"] == "BTC/USDT:USDT"  # the linear USDT perp, not the inverse BTC/USD
    assert now.loc["Deribit", "Countdown"] == "continuous" and now.loc["Deribit", "Margin"] == "coin-M"
    assert now.loc["Bybit", "Countdown"].startswith("in ")
    assert now.loc["Bybit", "Interval"] == "8 h"


# -- complete histories ------------------------------------------------------------------------------------
def test_one_year_over_three_exchanges_renders_complete_histories(demo_env):
    as_of = pinned()
    at = run({"ex": "binanceusdm,bybit,deribit", "win": "1y", "as_of": as_of, "unit": "apr"})
    assert not at.error and not at.warning
    stats = table_with(at, "Expected").set_index(["Symbol", "Exchange"])
    intervals = {("BTC", "Binance USDⓈ-M"): 8, ("ETH", "Binance USDⓈ-M"): 8, ("SOL", "Binance USDⓈ-M"): 4,
                 ("BTC", "Bybit"): 8, ("ETH", "Bybit"): 8, ("SOL", "Bybit"): 1,
                 ("BTC", "Deribit"): 1, ("ETH", "Deribit"): 1}
    assert set(stats.index) == set(intervals)
    for key, hours in intervals.items():
        assert stats.loc[key, "Interval (h)"] == hours
        assert stats.loc[key, "Periods"] == 365 * 24 / hours == stats.loc[key, "Expected"], key
    assert any(f"{sum(8760 // h for h in intervals.values()):,} settlements" in c.value for c in at.caption)
    # Deribit's hourly accruals are summed once: a year's mean APR is the year's total accrual
    md = get_market_data()
    end = pd.Timestamp(as_of)
    inst = md.market.find("deribit", base="BTC", quote="USD", kind="perp")
    rows = md.market.deribit_hourly(inst, int((end - pd.Timedelta(days=365)).value // 1e6) + 1,
                                    int(end.value // 1e6))
    assert len(rows["timestamp"]) == 8760
    mean_apr = stats.loc[("BTC", "Deribit"), "Mean APR"] / 100
    assert mean_apr == pytest.approx(rows["interest_1h"].sum(), rel=1e-9)
    assert mean_apr == pytest.approx(rows["interest_8h"].sum() / 8, rel=0.01)  # not the 8h figures summed
    summary = table_with(at, "Short (%)").set_index(["Symbol", "Exchange"])
    assert summary.loc[("BTC", "Deribit"), "Settlements"] == 8760
    assert summary.loc[("BTC", "Deribit"), "Short (%)"] / 100 == pytest.approx(rows["interest_1h"].sum(), rel=1e-9)


# -- the URL is the view -----------------------------------------------------------------------------------
def test_view_round_trips_through_the_url(demo_env):
    query = {"sym": "BTC,SOL", "ex": "okx,bybit", "perp": "all", "win": "7d", "unit": "apr", "cum": "compounded",
             "side": "long", "n": "1234567", "thr": "0.02", "xthr": "0.5", "hm": "SOL", "as_of": pinned(2)}
    at = run(query)
    assert at.multiselect(key="fund_sym").value == ["BTC", "SOL"]
    assert at.multiselect(key="fund_ex").value == ["okx", "bybit"]
    assert at.selectbox(key="fund_perp").value == "all"
    assert at.radio(key="fund_unit").value == "apr" and at.radio(key="fund_cum").value == "compounded"
    assert at.radio(key="fund_side").value == "long" and at.number_input(key="fund_n").value == 1_234_567
    assert at.number_input(key="fund_thr").value == pytest.approx(0.02)
    assert at.selectbox(key="fund_hm").value == "SOL" and at.toggle(key="fund_pin").value
    for k, v in query.items():
        assert at.query_params[k] == v, k
    stats = table_with(at, "Expected")
    assert "Mean (% APR)" in stats.columns  # statistics in the chosen unit
    assert set(stats["Exchange"]) == {"OKX · USDT-M", "OKX · coin-M", "Bybit · USDT-M", "Bybit · coin-M"}
    assert (stats["Periods"] == stats["Expected"]).all()
    summary = table_with(at, "Short (%)")  # the notional from the link sizes the P&L
    np.testing.assert_allclose(summary["Long (USD)"], summary["Long (%)"] / 100 * 1_234_567)
    assert (summary["Long (USD)"] == -summary["Short (USD)"]).all()

    at.radio(key="fund_unit").set_value("apy").run()  # a change goes to the URL ...
    assert at.query_params["unit"] == "apy"
    at.selectbox(key="fund_win").set_value("custom").run()
    assert at.query_params["win"] == "custom" and at.query_params["from"] and at.query_params["to"]
    changed = table_with(at, "Expected")
    shared = run(dict(at.query_params))  # ... and a teammate opening the link sees the same view
    assert shared.radio(key="fund_unit").value == "apy"
    assert shared.selectbox(key="fund_win").value == "custom"
    pd.testing.assert_frame_equal(table_with(shared, "Expected"), changed)
    pd.testing.assert_frame_equal(table_with(shared, "Short (%)"), table_with(at, "Short (%)"))


def test_custom_dates_set_the_window(demo_env):
    last = get_market_data().now().floor("D") - pd.Timedelta(days=1)
    first = last - pd.Timedelta(days=9)
    at = run({"sym": "ETH", "ex": "okx,deribit", "win": "custom", "from": first.date().isoformat(),
              "to": last.date().isoformat()})
    stats = table_with(at, "Expected").set_index("Exchange")
    assert stats.loc["OKX", "Periods"] == 10 * 3 and stats.loc["Deribit", "Periods"] == 10 * 24  # to is inclusive
    assert any("(10 days, custom)" in c.value for c in at.caption)


def test_bad_link_values_are_reported_and_defaults_used(demo_env):
    at = run({"unit": "bps", "win": "2w", "ex": "okx,mtgox", "sym": "BTC,b@d"})
    warnings = texts(at.warning)
    assert "Some link parameters were ignored" in warnings
    assert "unit='bps'" in warnings and "win='2w'" in warnings and "mtgox" in warnings and "b@d" in warnings
    assert at.radio(key="fund_unit").value == "8h" and at.selectbox(key="fund_win").value == "30d"
    assert at.multiselect(key="fund_ex").value == ["okx"] and at.multiselect(key="fund_sym").value == ["BTC"]


def test_a_link_naming_only_unlisted_bases_falls_back_to_the_defaults_with_a_warning(demo_env):
    at = run({"sym": "NOPE", "ex": "okx", "hm": "<b>x</b>"})
    warnings = texts(at.warning)
    assert "sym: no exchange lists a perpetual of NOPE; using the defaults" in warnings
    assert "hm='<b>x</b>' is not one of BTC, ETH, SOL; showing BTC" in warnings  # a symbol never offered
    assert at.multiselect(key="fund_sym").value == ["BTC", "ETH", "SOL"] and at.query_params["sym"] == "BTC,ETH,SOL"


def test_another_base_from_the_link_is_offered_and_named_when_unlisted(demo_env):
    at = run({"sym": "BTC,DOGE", "ex": "okx"})
    assert at.multiselect(key="fund_sym").value == ["BTC", "DOGE"]
    assert any("Not listed: DOGE on OKX" in c.value for c in at.caption)
    assert set(table_with(at, "Countdown")["Symbol"]) == {"BTC"}


def test_failing_exchange_is_named_and_the_rest_renders(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "malformed", "venue": "okx"}]))
    at = run({"sym": "BTC", "ex": "okx,bybit"})
    assert "OKX" in texts(at.warning)
    now = table_with(at, "Countdown")
    assert list(now["Exchange"]) == ["Bybit"] and np.isfinite(now["APR"]).all()
    assert len(at.get("plotly_chart")) == 4


def test_sign_flip_flag_names_the_most_recent_and_counts_the_rest(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", "crash")  # funding turns negative: many series flip sign
    at = run({"win": "30d"})
    stats = table_with(at, "Sign flips")
    flipped = stats[stats["Sign flips"] > 0].sort_values("Last flip", ascending=False, kind="stable")
    assert len(flipped) > 6
    flag = next(i.value for i in at.info if "changed sign" in i.value)
    named = [f"{r['Symbol']} · {r['Exchange']} ({r['Sign flips']}×" for _, r in flipped.head(6).iterrows()]
    positions = [flag.index(n) for n in named]  # each of the six most recent, in that order
    assert positions == sorted(positions)
    assert f"and {len(flipped) - 6} more" in flag
    for _, r in flipped.iloc[6:].iterrows():  # the older ones are left to the table
        assert f"{r['Symbol']} · {r['Exchange']} (" not in flag
