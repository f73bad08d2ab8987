"""Overview page in AppTest on demo data: renders, three assets with numbers, badge, URL round trip."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analytics import contracts
from analytics import funding as af
from components import tables
from data_sources import get_market_data
from tests.views.conftest import assert_no_exception, assert_tables_show_missing_as_dash, open_app

BADGE = "SIMULATED DATA — scenario: normal"




def run(query: dict[str, str] | None = None) -> AppTest:
    return open_app(None, query, timeout=60)


NUMBER = r"[+-]?\d{1,3}(,\d{3})*\.\d+%?"


def overview(at: AppTest):
    assert_no_exception(at)
    assert len(at.dataframe) == 1
    return at.dataframe[0].value.set_index("Asset")


def number(text: str) -> float:
    """A displayed number back as a float ("+19.15%" -> 19.15); "—" -> NaN."""
    return float("nan") if text == "—" else float(text.replace(",", "").rstrip("%"))


def test_overview_shows_three_assets_with_numbers_and_the_simulated_badge(demo_env):
    at = run()
    assert any(BADGE in m.value for m in at.sidebar.markdown)
    assert_tables_show_missing_as_dash(at)
    assert any("Simulated exchanges" in c.value for c in at.sidebar.caption)
    df = overview(at)
    assert list(df.index) == ["BTC", "ETH", "SOL"]
    for col in ("Price", "Perp premium", "Funding APR"):
        assert df[col].str.fullmatch(NUMBER).all(), df[col]
    assert df.loc[["BTC", "ETH"], "Quarterly basis (ann.)"].str.fullmatch(NUMBER).all()
    assert df.loc["SOL", "Quarterly basis (ann.)"] == "—"  # no SOL dated futures are listed
    assert df["Price source"].str.fullmatch(r"index, mean of \d venues").all()  # Deribit lists no SOL perp
    assert df.loc["BTC", "Price source"] == "index, mean of 6 venues"  # Hyperliquid's oracle price included
    assert df["Data"].str.fullmatch(r"simulated · \d+ s").all()
    assert not at.error
    assert [m.label for m in at.metric] == ["BTC", "ETH", "SOL"]
    # Numbers come from the simulated exchanges through ccxt: the BTC index is near the market's.
    md = get_market_data()
    market_index = md.market.index("binanceusdm", "BTC", np.array([md.now_ms()]))[0]
    assert number(df.loc["BTC", "Price"]) == pytest.approx(market_index, rel=0.01)
    # ... and the funding column is the mean APR of each venue's primary perp (the cached frame).
    prim = contracts.primary_rows(md.funding_now(bases=("BTC", "ETH", "SOL")).frame)
    btc = prim[prim["base"] == "BTC"]
    expected = np.nanmean(af.apr(btc["rate"], btc["interval_hours"])) * 100
    assert number(df.loc["BTC", "Funding APR"]) == pytest.approx(expected, abs=0.005)  # shown to 2 decimals


def test_exchange_choice_round_trips_through_the_url(demo_env):
    at = run({"exchange": "okx"})
    assert at.selectbox(key="overview_exchange").value == "okx"
    df = overview(at)
    assert (df["Price source"] == "OKX index").all()
    assert df.loc["BTC", "Perp(s)"].startswith("OKX ")
    assert any("**OKX**" in c.value for c in at.caption)

    at.selectbox(key="overview_exchange").set_value("deribit").run()
    assert at.query_params.get("exchange") == "deribit"
    df = overview(at)
    assert df.loc["BTC", "Perp(s)"].startswith("Deribit ")
    deribit_symbols = set(get_market_data().term_structure("BTC", venues=["deribit"]).frame["symbol"])
    assert df.loc["BTC", "Quarterly contract"].split(" · ")[-1] in deribit_symbols
    shared = run(dict(at.query_params))  # a teammate opening the link sees the same view
    assert shared.selectbox(key="overview_exchange").value == "deribit"
    assert overview(shared).loc["BTC", "Quarterly contract"] == df.loc["BTC", "Quarterly contract"]

    at.selectbox(key="overview_exchange").set_value(tables.ALL_VENUES).run()
    assert "exchange" not in at.query_params  # the default keeps the link clean
    assert overview(at)["Price source"].iloc[0].startswith("index, mean of ")


def test_unknown_exchange_in_link_falls_back_with_a_warning(demo_env):
    at = run({"exchange": "mtgox"})
    assert at.selectbox(key="overview_exchange").value == tables.ALL_VENUES
    assert any("mtgox" in w.value for w in at.warning)
    assert len(overview(at)) == 3


def test_a_repeated_parameter_falls_back_with_a_warning_and_leaves_the_link(demo_env):
    at = run({"exchange": ["okx", "bybit"]})  # ?exchange=okx&exchange=bybit: neither value is the link's
    assert any("exchange is given 2 times ('okx', 'bybit'); using the default" in w.value for w in at.warning)
    assert at.selectbox(key="overview_exchange").value == tables.ALL_VENUES
    assert "exchange" not in at.query_params
    assert len(overview(at)) == 3


def test_failing_venue_is_named_with_its_reason(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "malformed", "venue": "okx"}]))
    at = run()
    df = overview(at)
    assert df["Price"].str.fullmatch(NUMBER).all()  # the other venues carry the page
    warnings = " ".join(w.value for w in at.warning)
    assert "Some exchanges did not answer" in warnings
    assert re.search(r"- OKX: \S+", warnings)  # named, with its reason


def test_single_failing_venue_chosen_shows_an_error_not_a_traceback(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "malformed", "venue": "bybit"}]))
    at = run({"exchange": "bybit"})
    assert not at.exception
    assert len(at.error) == 1  # one message for one cause, naming what it took out
    assert "Could not load BTC futures and perps, ETH" in at.error[0].value and "bybit" in at.error[0].value
    df = overview(at)
    assert df.loc["BTC", "Funding APR"] == "—"
    assert df.loc["BTC", "Price source"] == "Binance spot last"  # the fallback, and it says so
    assert df.loc["BTC", "Price"] != "—"
