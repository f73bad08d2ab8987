"""Perp premium page in AppTest on demo data: scenarios, numbers vs the simulated market, URL round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import premium as ap
from data_sources import get_market_data, reset_market_data
from data_sources.cache import clear_all
from tests.views.conftest import (
    assert_no_exception,
    assert_tables_show_missing_as_dash,
    open_app,
    plotly_specs,
)

PAGE = "views/perp_premium.py"
HOUR_MS = 3_600_000
DERIBIT_NOTE = "not available: Deribit publishes no index candles"


@pytest.fixture
def demo_env(demo_env: pytest.MonkeyPatch):
    """The shared demo set-up (conftest.py), starting and ending with empty facades and caches."""
    monkeypatch = demo_env
    reset_market_data()
    clear_all()
    yield monkeypatch
    reset_market_data()


def run(query: dict[str, str] | None = None) -> AppTest:
    # straight to the page (st.Page's url_path is the file name), without rendering the Overview first
    return assert_no_exception(open_app(PAGE, query))



def table(at: AppTest, first_columns: tuple[str, ...]) -> pd.DataFrame:
    """The one dataframe whose columns start with ``first_columns``."""
    found = [d.value for d in at.dataframe if tuple(d.value.columns[: len(first_columns)]) == first_columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def now_table(at: AppTest) -> pd.DataFrame:
    return table(at, ("Asset", "Exchange", "Perp", "Margin"))


def stats_table(at: AppTest) -> pd.DataFrame:
    return table(at, ("Exchange", "Perp", "Latest %"))


def pvq_table(at: AppTest) -> pd.DataFrame:
    return table(at, ("Asset", "Exchange", "Perp", "Perp premium (mark) %"))



def trace_names(fig: dict) -> list[str]:
    return [t.get("name") for t in fig["data"]]


def pinned(hours_back: int = 24) -> tuple[pd.Timestamp, str]:
    """An as_of on the hour in the past of the demo clock, and its URL form."""
    t = get_market_data().now().floor("h") - pd.Timedelta(hours=hours_back)
    return t, t.strftime("%Y-%m-%dT%H:%MZ")


# -- renders in every scenario, with the scenario's sign ------------------------------------------------------

@pytest.mark.parametrize("scenario", ["normal", "crash", "squeeze"])
def test_renders_in_every_scenario(demo_env, scenario):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", scenario)
    at = run()
    assert not at.error
    assert_tables_show_missing_as_dash(at)
    figs = plotly_specs(at)
    assert len(figs) == 3  # premium now, history, premium and funding
    assert "BTC premium (mark)" in trace_names(figs[0]) and "ETH premium (mark)" in trace_names(figs[0])
    assert {"Premium (mark)", "Funding (% per 8h)"} <= set(trace_names(figs[2]))
    funding_trace = next(t for t in figs[2]["data"] if t["name"] == "Funding (% per 8h)")
    assert funding_trace["yaxis"] == "y2"  # funding on the second axis

    now = now_table(at)
    assert set(now["Asset"]) == {"BTC", "ETH"} and len(now) >= 10
    stats = stats_table(at).set_index("Exchange")
    assert stats.loc["Deribit", "Source"] == DERIBIT_NOTE and stats.loc["Deribit", "Points"] == 0
    assert stats.loc["OKX", "Source"] == "mark − index klines"  # OKX has mark and index candles only
    assert stats.loc["Binance USDⓈ-M", "Source"] == ap.SOURCE_PREMIUM_INDEX
    # 7 days of hourly candles; Hyperliquid's come from settled hourly premiums, so the forming hour is absent
    points = stats.drop(index="Deribit")["Points"]
    assert (points.drop(index="Hyperliquid") == 168).all() and points["Hyperliquid"] == 167
    premium = now["Premium (mark) %"]
    if scenario == "crash":  # perps at a discount everywhere
        assert (premium < 0).all(), now
        assert now["State"].isin([ap.DISCOUNT, ap.EXTREME_DISCOUNT]).all()
        assert (stats.drop(index="Deribit")["Latest %"] < 0).all()
    elif scenario == "squeeze":  # perps at an extreme premium everywhere
        assert (premium > ap.DEFAULT_BAND * 100).all(), now
        assert (now["State"] == ap.EXTREME_PREMIUM).all()
        assert (stats.drop(index="Deribit")["Latest %"] > ap.DEFAULT_BAND * 100).all()
    else:
        assert (premium.abs() < 0.5).all()  # calm: well within half a percent
    assert any("Rule." in c.value and "seed 001, section 4.1" in c.value for c in at.caption)
    assert any(f"Deribit · BTC/USD:BTC: {DERIBIT_NOTE}" in c.value for c in at.caption)
    pvq = pvq_table(at)
    assert len(pvq) == 12  # BTC and ETH perps on six exchanges, each beside its quarterly where listed
    assert (pvq.loc[pvq["Exchange"] == "Hyperliquid", "Reading"] == "no quarterly basis").all()  # perps only
    assert pvq.loc[pvq["Exchange"] != "Hyperliquid", "Reading"].ne("no quarterly basis").all()


# -- numbers: the simulated market pushed through DOMAIN.md's formulas -----------------------------------

def test_current_numbers_equal_the_market_through_the_formulas(demo_env):
    at = run({"base": "BTC,SOL", "px": "last"})
    now = now_table(at)
    md = get_market_data()
    # Same cached frames as the page (within the quotes TTL), through the analytics: exact equality.
    term = pd.concat([md.term_structure(b).frame for b in ("BTC", "SOL")], ignore_index=True)
    expected = ap.current_premiums(term, price="last").set_index(["venue", "symbol"])
    label_to_venue = {md.venue_label(v): v for v in md.venues}
    m = md.market
    for _, row in now.iterrows():
        venue = label_to_venue[row["Exchange"]]
        e = expected.loc[(venue, row["Perp"])]
        assert row["Last − index"] == pytest.approx(e["premium_last_abs"], rel=1e-12)
        assert row["Premium (mark) %"] == pytest.approx(e["premium_mark"] * 100, rel=1e-12)
        assert row["Premium (last) %"] == pytest.approx(e["premium_last"] * 100, rel=1e-12)
        assert row["Index"] == e["index"] and row["Mark"] == e["mark"]
        # ... and the simulated market's own mark / index at the quote time: premium = (mark - I) / I
        base, quote = row["Perp"].split(":")[0].split("/")
        inst = m.find(venue, base=base, quote=quote, kind="perp")
        t = np.array([pd.Timestamp(row["Quote time (UTC)"]).value // 1_000_000])
        market_premium = m.price(inst, "mark", t)[0] / m.index(venue, base, t)[0] - 1.0
        assert row["Premium (mark) %"] == pytest.approx(market_premium * 100, abs=5e-4)  # exchange rounding only
    assert set(now["Asset"]) == {"BTC", "SOL"}
    assert "Last − index" in now.columns


def market_premium_history(venue: str, base: str, quote: str, start_ms: int, end_ms: int) -> np.ndarray:
    """Hourly premium closes straight from the market: premium-index closes, or mark and index closes."""
    m = get_market_data().market
    inst = m.find(venue, base=base, quote=quote, kind="perp")
    if venue in ("binanceusdm", "bybit"):
        return m.candles(inst, "premium_index", HOUR_MS, start_ms, end_ms)[:, 4]
    mark = m.candles(inst, "mark", HOUR_MS, start_ms, end_ms)
    index = m.candles(inst, "index", HOUR_MS, start_ms, end_ms)
    assert (mark[:, 0] == index[:, 0]).all()
    return mark[:, 4] / index[:, 4] - 1.0


def test_history_stats_equal_the_market_through_the_formulas(demo_env):
    as_of, as_of_text = pinned()
    at = run({"base": "BTC", "win": "3", "as_of": as_of_text, "ex": "binanceusdm,okx,bybit,deribit"})
    stats = stats_table(at).set_index("Exchange")
    start_ms = int((as_of - pd.Timedelta(days=3)).value // 1_000_000)
    end_ms = int(as_of.value // 1_000_000) - HOUR_MS  # only candles closed by as_of
    for venue, label in (("binanceusdm", "Binance USDⓈ-M"), ("okx", "OKX"), ("bybit", "Bybit")):
        x = market_premium_history(venue, "BTC", "USDT", start_ms, end_ms)
        row = stats.loc[label]
        assert row["Points"] == len(x) == 72
        assert row["Latest %"] == pytest.approx(x[-1] * 100, abs=1e-6)
        assert row["Mean %"] == pytest.approx(x.mean() * 100, abs=1e-6)
        assert row["Std %"] == pytest.approx(x.std(ddof=1) * 100, abs=1e-6)
        assert row["z-score"] == pytest.approx((x[-1] - x.mean()) / x.std(ddof=1), abs=1e-3)
        assert row["To (UTC)"] == as_of - pd.Timedelta(hours=1)
    assert stats.loc["Deribit", "Source"] == DERIBIT_NOTE and math.isnan(stats.loc["Deribit", "Mean %"])
    assert any("(pinned)" in c.value for c in at.caption)


def test_deribit_funding_is_shown_without_an_invented_premium(demo_env):
    at = run({"base": "BTC", "ex": "deribit", "fp": "deribit:BTC/USD:BTC", "win": "1"})
    fig = plotly_specs(at)[2]
    series = {t["name"]: t for t in fig["data"]}
    assert len(series["Premium (mark)"].get("x", [])) == 0  # no index candles: no premium line
    assert len(series["Funding (% per 8h)"]["x"]) >= 23  # hourly accruals over a day
    assert any("no premium history" in a["text"] for a in fig["layout"]["annotations"])
    assert any("Deribit funding accrues hourly" in c.value for c in at.caption)


# -- the URL is the view ------------------------------------------------------------------------------------

def test_url_round_trip(demo_env):
    _, as_of_text = pinned(hours_back=30)
    query = {"base": "ETH", "ex": "okx,bybit", "px": "last", "thr": "0.3", "hb": "ETH", "win": "3", "res": "1d",
             "as_of": as_of_text, "fu": "apr", "qthr": "5"}
    at = run(query)
    assert at.multiselect(key="pp_base").value == ["ETH"]
    assert at.multiselect(key="pp_ex").value == ["okx", "bybit"]
    assert at.radio(key="pp_px").value == "last"
    assert at.number_input(key="pp_thr").value == pytest.approx(0.3)
    assert at.selectbox(key="pp_win").value == "3" and at.radio(key="pp_res").value == "1d"
    assert at.toggle(key="pp_pin").value is True
    assert at.radio(key="pp_fu").value == "apr" and at.number_input(key="pp_qthr").value == pytest.approx(5.0)
    stats = stats_table(at)
    assert list(stats["Exchange"]) == ["OKX", "Bybit"]
    assert (stats["Source"] == "last − index klines").all()  # last: never the premium-index klines
    assert "Upper threshold (+0.3%)" in trace_names(plotly_specs(at)[1])
    assert "Funding (APR (simple))" in trace_names(plotly_specs(at)[2])
    for key, value in query.items():
        assert at.query_params[key] == value, key

    # change inputs: the URL follows, and a teammate opening it sees the same view
    at.radio(key="pp_px").set_value("mark").run()
    at.number_input(key="pp_thr").set_value(0.2).run()
    assert_no_exception(at)
    assert at.query_params["px"] == "mark" and at.query_params["thr"] == "0.2"
    before = stats_table(at)
    assert list(before["Source"]) == ["mark − index klines", ap.SOURCE_PREMIUM_INDEX]
    shared = run(dict(at.query_params))
    pd.testing.assert_frame_equal(stats_table(shared), before)
    assert shared.radio(key="pp_px").value == "mark" and shared.number_input(key="pp_thr").value == 0.2
    assert dict(shared.query_params) == dict(at.query_params)


def test_bad_link_values_are_named_and_ignored(demo_env):
    at = run({"px": "bid", "thr": "-1", "ex": "okx,mtgox", "win": "400", "sym": "okx:BTC/USDT:USDT,nope"})
    text = " ".join(w.value for w in at.warning)
    assert "Some link parameters were ignored" in text
    for bad in ("px='bid'", "thr='-1'", "'mtgox'", "win='400'", "sym: ignored unknown 'nope'"):
        assert bad in text, text
    assert at.radio(key="pp_px").value == "mark" and at.multiselect(key="pp_ex").value == ["okx"]
    assert at.multiselect(key="pp_sym_BTC").value == ["okx:BTC/USDT:USDT"]  # the valid part is kept


def test_failing_venue_is_named_and_the_rest_render(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "malformed", "venue": "bybit"}]))
    at = run({"base": "BTC"})
    assert "Bybit" not in set(now_table(at)["Exchange"])
    assert "Binance USDⓈ-M" in set(now_table(at)["Exchange"])
    warnings = " ".join(w.value for w in at.warning)
    assert "Some exchanges did not answer" in warnings and "Bybit" in warnings


def test_changing_the_history_asset_moves_the_perps_without_complaint(demo_env):
    at = run({"base": "BTC,ETH", "ex": "binanceusdm,okx"})
    assert at.query_params["sym"] == "binanceusdm:BTC/USDT:USDT,okx:BTC/USDT:USDT"
    at.selectbox(key="pp_hb").set_value("ETH").run()
    assert_no_exception(at)
    assert at.query_params["sym"] == "binanceusdm:ETH/USDT:USDT,okx:ETH/USDT:USDT"  # the primary ETH perps
    assert not any("link parameters" in w.value for w in at.warning)
    assert list(stats_table(at)["Perp"]) == ["ETH/USDT:USDT", "ETH/USDT:USDT"]
    assert at.query_params["fp"] == "binanceusdm:ETH/USDT:USDT"
