"""Correlation page in AppTest on demo data: every scenario renders, the simulator's regime switches are found
as episodes at their dates, the URL holds the view, bad links and a failing proxy venue degrade plainly."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import correlation_view as cv
from data_sources import get_market_data
from tests.views.conftest import (
    assert_no_exception,
    assert_tables_show_missing_as_dash,
    open_app,
    plotly_specs,
    table_with,
)

PAGE = "views/correlation.py"
# A pinned view: the simulated history up to a fixed instant is the same on every day the tests run.
AS_OF = "2026-12-01T00:00Z"
WINDOW = 30


def run(query: dict[str, str] | None = None) -> AppTest:
    return assert_no_exception(open_app(PAGE, query))


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def trace_names(fig: dict) -> set[str]:
    return {t.get("name") for t in fig["data"]}


def episodes(at: AppTest) -> pd.DataFrame:
    return table_with(at, "Trigger")


@pytest.mark.parametrize("scenario", ["normal", "crash", "squeeze"])
def test_renders_in_every_scenario(demo_env, scenario):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", scenario)
    at = run()
    assert not at.error, texts(at.error)
    assert_tables_show_missing_as_dash(at)
    figs = plotly_specs(at)
    assert len(figs) == 4  # rebased prices, rolling correlation, beta, matrix
    assert {"BTC", "ETH", "Gold", "Nasdaq-100"} <= trace_names(figs[0])
    for pair in ("BTC · Gold", "BTC · Nasdaq-100", "ETH · Gold", "ETH · Nasdaq-100"):
        assert {f"{pair} · 30", f"{pair} · 90", f"{pair} · band"} <= trace_names(figs[1]), pair
        assert f"{pair} · 30" in trace_names(figs[2])
    assert figs[3]["data"][0]["type"] == "heatmap"
    reading = [t for t in texts(at.info) if "-session correlation" in t]
    assert [r.split("'")[0] for r in reading] == ["BTC", "ETH"]
    assert all("with Gold" in r and "with Nasdaq-100" in r for r in reading)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Aligned returns CSV", "Rolling series CSV", "Episodes CSV", "Prices CSV"]
    assert set(episodes(at).columns) >= {"Pair", "Flag", "Start (UTC)", "End (UTC)", "Observations", "Trigger"}


def test_numbers_on_screen_are_the_analytics_of_the_simulated_closes(demo_env):
    at = run({"assets": "BTC", "as_of": AS_OF})
    md = get_market_data()
    params = cv.Params(assets=("BTC",), as_of=pd.Timestamp(AS_OF))
    loaded = cv.load(md, params)
    # the closes went through ccxt and the simulated Binance: they are the market's own candles
    btc = loaded.closes["BTC"]
    inst = md.market.find("binance", base="BTC", quote="USDT", kind="spot")
    want = md.market.candles(inst, "last", 86_400_000, int(btc.index[0].value // 10**6),
                             int(btc.index[-1].value // 10**6))
    assert btc.to_numpy() == pytest.approx(want[:, 4], rel=1e-12)
    view = cv.compute(loaded, params, sessions=md.trading_sessions("XNYS", loaded.start, loaded.end))
    reading = next(t for t in texts(at.info) if t.startswith("BTC's 30-session correlation"))
    for pair in view.pairs:
        assert f"{view.current[pair].value:.2f}" in reading


def _sessions_after(sessions: pd.DataFrame, t: pd.Timestamp, n: int) -> pd.Timestamp:
    later = sessions.loc[sessions["close"] > t, "close"]
    return later.iloc[min(n, len(later) - 1)]


def test_regime_switches_of_the_simulator_are_found_as_episodes_at_their_dates(demo_env):
    at = run({"assets": "BTC", "as_of": AS_OF, "lb": "730", "w2": "0"})
    table = episodes(at)
    md = get_market_data()
    end = pd.Timestamp(AS_OF)
    start = end - pd.Timedelta(days=730)
    sessions = md.trading_sessions("XNYS", start, end + pd.Timedelta(days=90))
    proxies = {"GOLD": "Gold", "NDX": "Nasdaq-100"}
    listed = {"Gold": start, "Nasdaq-100": pd.Timestamp("2025-10-13", tz="UTC")}  # the HIP-3 perp's listing
    checked = 0
    for asset, label in proxies.items():
        regimes = md.market.regimes(asset, int(start.value // 10**6), int(end.value // 10**6))
        rows = table[table["Pair"] == f"BTC · {label}"]
        flips = rows[rows["Flag"] == "Correlation changed sign"]
        breaks = rows[rows["Flag"].isin(["Correlation changed sign", "Correlation left its band"])]
        for (_, before), (t_ms, after) in zip(regimes, regimes[1:], strict=False):
            t = pd.Timestamp(t_ms, unit="ms", tz="UTC")
            # the window must fill with the old regime first, and the new one needs time to show
            if t < listed[label] + pd.Timedelta(days=WINDOW * 2) or t > end - pd.Timedelta(days=50):
                continue
            deadline = _sessions_after(sessions, t, WINDOW + 5)  # within the window's length of sessions
            if np.sign(before) != np.sign(after) and min(abs(before), abs(after)) >= 0.3:
                hit = flips[(flips["Start (UTC)"] >= t) & (flips["Start (UTC)"] <= deadline)]
                assert len(hit) >= 1, (label, t, before, after, flips)
                checked += 1
            elif abs(after - before) >= 0.45:
                hit = breaks[(breaks["Start (UTC)"] >= t) & (breaks["Start (UTC)"] <= deadline)]
                assert len(hit) >= 1, (label, t, before, after, breaks)
                checked += 1
        if label == "Nasdaq-100":  # a strong regime never flips the sign by chance: every flip follows a switch
            switches = [pd.Timestamp(t, unit="ms", tz="UTC") for t, _ in regimes[1:]]
            for s in flips["Start (UTC)"]:
                assert any(t <= s <= _sessions_after(sessions, t, WINDOW + 5) for t in switches), s
    assert checked >= 6  # NDX 2026-03, 2026-04, 2026-09, 2026-10; gold 2026-05, 2026-06, 2026-10 (see market.py)


def test_the_url_holds_the_view(demo_env):
    query = {"assets": "ETH", "px": "gold", "tf": "4h", "lb": "60", "w": "20", "w2": "0", "align": "calendar",
             "as_of": AS_OF, "k": "3", "sthr": "0.2"}
    at = run(query)
    assert not at.warning or all("Ignored" not in w for w in texts(at.warning))
    for key, value in query.items():
        assert at.query_params[key] == value, key
    assert at.multiselect(key="corr_assets").value == ["ETH"]
    assert at.selectbox(key="corr_tf").value == "4h"
    assert at.radio(key="corr_align").value == "calendar"
    assert at.number_input(key="corr_w").value == 20
    assert at.toggle(key="corr_pin").value
    figs = plotly_specs(at)
    assert trace_names(figs[1]) >= {"ETH · Gold · 20", "ETH · Gold · band"}
    assert not any("Nasdaq" in (n or "") for n in trace_names(figs[1]))
    assert "Calendar alignment: every 4-hour close" in next(c.value for c in at.caption if "aligned returns" in c.value)
    # the same link in a new session shows the same numbers
    again = run(query)
    assert texts(again.info) == texts(at.info)
    pd.testing.assert_frame_equal(episodes(again), episodes(at))


@pytest.mark.parametrize("query, field", [
    ({"tf": "1y"}, "tf"), ({"w": "abc"}, "w"), ({"w": "-5"}, "w"), ({"lb": "1000000000"}, "lb"),
    ({"align": "<script>alert(1)</script>"}, "align"), ({"as_of": "2099-01-01T00:00Z"}, "as_of"),
    ({"px": "silver"}, "px"),
    ({"assets": "NOPE"}, "assets: no exchange lists a perpetual of NOPE; using the defaults"),
])
def test_bad_link_parameters_get_a_note_and_the_default(demo_env, query, field):
    at = run(query)
    notes = " ".join(texts(at.warning) + texts(at.info) + texts(at.error))
    assert field in notes, notes
    assert len(plotly_specs(at)) == 4  # the page still renders with the default in its place


def test_an_asset_that_is_not_a_base_is_named_and_left_out(demo_env):
    at = run({"assets": "BTC,<b>x</b>"})
    assert any("<b>x</b>" in w or "'<B>X</B>'" in w for w in texts(at.warning)), texts(at.warning)
    assert at.multiselect(key="corr_assets").value == ["BTC"]


def test_a_failing_proxy_venue_is_named_and_the_rest_renders(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "down", "venue": "hyperliquid"}]))
    at = run()
    errors = texts(at.error)
    assert len(errors) == 1 and "Nasdaq-100" in errors[0] and "Hyperliquid" in errors[0], errors
    figs = plotly_specs(at)
    assert len(figs) == 4
    assert {"BTC · Gold · 30", "ETH · Gold · 30"} <= trace_names(figs[1])
    assert not any("Nasdaq" in (n or "") for n in trace_names(figs[1]))


def test_a_proxy_with_shorter_history_is_shown_as_such(demo_env):
    at = run({"lb": "730", "as_of": AS_OF})
    note = next(t for t in texts(at.info) if t.startswith("Nasdaq-100:"))
    assert "history starts 13 Oct 2025" in note and "Nothing is padded" in note
    prices = plotly_specs(at)[0]
    ndx = next(t for t in prices["data"] if t["name"] == "Nasdaq-100")
    first = pd.Timestamp(ndx["x"][0], tz="UTC")
    assert pd.Timestamp("2025-10-13", tz="UTC") <= first <= pd.Timestamp("2025-10-16", tz="UTC")  # at its listing
    btc = next(t for t in prices["data"] if t["name"] == "BTC")
    assert pd.Timestamp(btc["x"][0], tz="UTC") < pd.Timestamp("2025-01-01", tz="UTC")  # BTC's line is not cut


def test_overview_shows_the_30_session_correlations_and_links_to_the_same_view(demo_env):
    overview = assert_no_exception(open_app(None))
    lines = [m.value for m in overview.markdown]
    links = overview.get("page_link")
    assert [link.proto.label for link in links] == ["BTC on the Correlation page", "ETH on the Correlation page"]
    for asset, link in zip(("BTC", "ETH"), links, strict=True):
        assert link.proto.page == "correlation"
        query = dict(parse_qsl(link.proto.query_string))
        assert query == {"assets": asset}
        card = lines[lines.index(f"**{asset}**, 30-session correlation of daily log returns") + 1:][:2]
        assert [c.split(":")[0] for c in card] == ["with Gold", "with Nasdaq-100"]
        page = run(query)
        reading = next(t for t in texts(page.info) if t.startswith(f"{asset}'s 30-session correlation"))
        for line in card:  # the Overview's number is the one the linked page reads out
            proxy, value = line.split(":")[0].removeprefix("with "), float(line.split("**")[1])
            assert f"with {proxy} {value:.2f}," in reading, (line, reading)
        page_flags = {w.split("**")[1] for w in texts(page.warning) if w.startswith("**")}
        card_flags = {w.split(":")[0] for w in texts(overview.warning) if w.startswith(f"{asset} · ")}
        assert {f.split(": ")[1] for f in page_flags} == card_flags  # the same active flags
