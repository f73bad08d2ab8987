"""Term structure page in AppTest on demo data: scenarios, numbers vs the simulated market, the URL as state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import term_structure as ts
from data_sources import get_market_data
from tests.views.conftest import (
    assert_no_exception,
    assert_tables_show_missing_as_dash,
    open_app,
    plotly_specs,
    table_with,
)

PAGE = "views/term_structure.py"
QUICK_HISTORY = {"win": "7", "res": "1d"}  # the history is not what these tests are about: keep it small


def open_page(query: dict[str, str] | None = None) -> AppTest:
    return assert_no_exception(open_app(PAGE, query))



def contracts(at: AppTest) -> pd.DataFrame:
    return table_with(at, "Contract")


def constant_maturities(at: AppTest) -> pd.DataFrame:
    return table_with(at, "90-day %")



def trace_names(spec: dict) -> list[str]:
    return [t.get("name") for t in spec["data"]]


@pytest.mark.parametrize(("scenario", "state", "badge"), [
    ("normal", "contango", ":green-badge[Contango]"),
    ("crash", "backwardation", ":red-badge[Backwardation]"),
    ("squeeze", "contango", ":green-badge[Contango]"),
])
def test_renders_in_every_scenario_with_the_curve_labelled(demo_env, scenario, state, badge):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", scenario)
    at = open_page(QUICK_HISTORY)
    assert not at.error
    assert_tables_show_missing_as_dash(at)
    headline = next(m.value for m in at.markdown if m.value.startswith("Curve:"))
    assert headline.startswith(f"Curve: {badge}"), headline
    assert f"{7} of 7 curves" in headline  # every exchange's curve agrees in these regimes
    assert set(constant_maturities(at)["Curve"]) == {state}
    table = contracts(at)
    futures = table[table["Days"].notna() & ~table["Near expiry"]]
    assert (futures["State"] == state).all()
    assert (np.sign(futures["Basis"]) == (1 if state == "contango" else -1)).all()
    curve, history = plotly_specs(at)
    assert {"Deribit", "OKX linear", "Perps (tenor 0)"} <= set(trace_names(curve))
    assert trace_names(history)[0].endswith(")")  # the chosen contract's line is there
    assert [b.label for b in at.get("download_button")] == [
        "Download chart data (CSV)", "Download constant maturities (CSV)", "Download contracts (CSV)",
        "Download history (CSV)"]
    if scenario == "crash":  # carry is negative: the richest 3-6 month carry is still below zero
        assert any("3–6 months" in m.value and "**-" in m.value for m in at.markdown)


def _symbol_parts(symbol: str) -> tuple[str, str]:
    pair = symbol.split(":")[0]
    base, quote = pair.split("/")
    return base, quote


def _closest(path: np.ndarray, value: float) -> float:
    return float(path[np.argmin(np.abs(path / value - 1.0))])


def test_table_numbers_are_the_simulated_market_pushed_through_the_formulas(demo_env):
    at = open_page(QUICK_HISTORY)
    table = contracts(at)
    md = get_market_data()
    market = md.market
    venue_of = {md.venue_label(v): v for v in md.venues}
    assert len(table) >= 30  # BTC: perps and futures on five exchanges
    for row in table.itertuples(index=False):
        venue = venue_of.get(row.Exchange) or venue_of[row.Exchange.rsplit(" ", 1)[0]]
        base, quote = _symbol_parts(row.Contract)
        t_ms = int(pd.Timestamp(row._14).value // 1_000_000)  # Quote time
        expiry_ms = None if pd.isna(row.Expiry) else int(pd.Timestamp(row.Expiry).value // 1_000_000)
        inst = market.find(venue, base=base, quote=quote, kind="perp" if expiry_ms is None else "future",
                           expiry_ms=expiry_ms)
        # A quote's time is the latest of the venue's answers (ticker, mark, index come from separate
        # requests a few ms apart), and the simulated prices carry per-minute noise: look the market up
        # over the quarter second before the quote time, to the precision the venues print (ticks).
        window = np.arange(t_ms - 250, t_ms + 1, dtype=np.int64)
        price, index, basis, basis_pct = row[4], row[5], row[6], row[7]
        f = _closest(market.price(inst, "mark", window), price)
        s = _closest(market.index(venue, base, window), index)
        assert price == pytest.approx(f, rel=1e-6), row.Contract
        assert index == pytest.approx(s, rel=1e-6), row.Contract
        assert basis == pytest.approx(f - s, abs=2e-6 * s), row.Contract
        assert basis_pct == pytest.approx((f / s - 1) * 100, abs=2e-4), row.Contract
        if expiry_ms is None:
            assert np.isnan(row[8]) and np.isnan(row[9])  # perps: premium only, never annualized
            continue
        days = (expiry_ms - t_ms) / 86_400_000
        assert row.Days == pytest.approx(days, abs=1e-9)
        tol = 2e-4 * 365 / days
        assert row[8] == pytest.approx((f / s - 1) * 365 / days * 100, abs=tol), row.Contract
        assert row[9] == pytest.approx(((f / s) ** (365 / days) - 1) * 100, abs=tol * 1.5), row.Contract
        assert row.State == ("contango" if f > s else "backwardation")
        assert row[13] == (days <= 3.0)  # Near expiry

    # ... and exactly the analytics applied to the facade's frame of that moment (same cached quotes)
    expected = ts.term_table(md.term_structure(base="BTC", venues=list(md.venues)).frame, price="mark")
    assert list(table["Contract"]) == list(expected["symbol"])  # same rows, same order
    for col, exp in (("Price (mark)", "price"), ("Index", "reference"), ("Basis", "basis"), ("Days", "days_to_expiry")):
        assert np.array_equal(table[col].to_numpy(dtype=float), expected[exp].to_numpy(dtype=float),
                              equal_nan=True), col
    assert np.allclose(table["Ann. simple %"], expected["ann_simple"] * 100, rtol=1e-15, atol=0, equal_nan=True)
    cm = constant_maturities(at)
    expected_cm = ts.constant_maturity_table(expected)
    assert np.allclose(cm["90-day %"], expected_cm["cm_90"] * 100, equal_nan=True)


def widget_state(at: AppTest) -> dict[str, object]:
    return {
        "base": at.selectbox(key="ts_base").value, "ex": at.multiselect(key="ts_ex").value,
        "px": at.radio(key="ts_px").value, "ref": at.radio(key="ts_ref").value,
        "ann": at.radio(key="ts_ann").value, "r": at.number_input(key="ts_r").value,
        "y": at.radio(key="ts_y").value, "hc": at.selectbox(key="ts_hc").value,
        "win": at.selectbox(key="ts_win").value, "res": at.radio(key="ts_res").value,
    }


def test_url_parameters_reproduce_the_view(demo_env):
    query = {"base": "ETH", "ex": "okx,deribit", "px": "last", "ref": "spot", "ann": "compounded", "r": "8",
             "y": "price", "win": "7", "res": "1d"}
    at = open_page(query)
    state = widget_state(at)
    assert state | {"hc": None} == {"base": "ETH", "ex": ["okx", "deribit"], "px": "last", "ref": "spot",
                                    "ann": "compounded", "r": 8.0, "y": "price", "hc": None, "win": "7",
                                    "res": "1d"}
    assert str(state["hc"]).startswith("okx:ETH/")  # the default contract: first exchange, nearest 90 days
    assert dict(at.query_params) == query | {"hc": state["hc"]}  # the URL holds the whole view

    table = contracts(at)
    assert {e.split(" ")[0] for e in table["Exchange"]} == {"OKX", "Deribit"}
    assert table["Contract"].str.startswith("ETH/").all()
    assert "Price (last)" in table.columns and "Spot" in table.columns
    spot = get_market_data().spot().frame.set_index("base").loc["ETH", "last"]
    assert (table["Spot"] == spot).all()  # one Binance spot price for every exchange
    curve, history = plotly_specs(at)
    assert "Reference: Binance spot ETH/USDT last" in trace_names(curve)
    assert curve["layout"]["yaxis"]["title"]["text"] == "Price"
    assert "daily, 7 days" in history["layout"]["title"]["text"]

    # change inputs, then open the resulting link in a fresh session: the same view and numbers
    deribit = next(o for o in at.selectbox(key="ts_hc").options if o.startswith("Deribit"))
    at.radio(key="ts_ann").set_value("simple")
    at.selectbox(key="ts_hc").select(deribit)
    at.run()
    assert at.query_params["ann"] == "simple" and at.query_params["hc"].startswith("deribit:ETH/USD:ETH-")
    shared = open_page(dict(at.query_params))
    assert widget_state(shared) == widget_state(at)
    pd.testing.assert_frame_equal(contracts(shared), contracts(at))
    pd.testing.assert_frame_equal(constant_maturities(shared), constant_maturities(at))
    assert [t["y"] for t in plotly_specs(shared)[1]["data"]] == [t["y"] for t in plotly_specs(at)[1]["data"]]
    assert any("F = Deribit last candles' close against S = Binance spot ETH/USDT last close" in c.value
               for c in shared.caption)


def test_as_of_pins_the_history_window(demo_env):
    md = get_market_data()
    as_of = (md.now() - pd.Timedelta(days=3)).floor("h")
    at = open_page({"as_of": as_of.strftime("%Y-%m-%dT%H:%MZ"), "win": "7", "res": "1h"})
    assert at.query_params["as_of"] == as_of.strftime("%Y-%m-%dT%H:%MZ")
    history = plotly_specs(at)[1]
    xs = pd.to_datetime([x for t in history["data"] for x in t["x"]], utc=True)
    assert xs.max() <= as_of and xs.min() >= as_of - pd.Timedelta(days=7)
    assert len(xs) > 100  # hourly candles of the contract and of the 90-day constant maturity
    assert as_of.strftime("%Y-%m-%d %H:%M UTC") in history["layout"]["title"]["text"]
    assert any("History pinned to end at" in c.value for c in at.caption)
    assert at.toggle(key="ts_pin").value
    at.toggle(key="ts_pin").set_value(False).run()  # unpinned: the window ends now and the link says so
    assert "as_of" not in at.query_params
    assert pd.Timestamp(plotly_specs(at)[1]["data"][0]["x"][-1], tz="UTC") > as_of + pd.Timedelta(days=2)


def test_pinning_writes_the_window_end_into_the_link(demo_env):
    at = open_page(QUICK_HISTORY)
    assert "as_of" not in at.query_params and not at.toggle(key="ts_pin").value
    at.toggle(key="ts_pin").set_value(True).run()
    assert not at.exception
    pinned = pd.Timestamp(at.query_params["as_of"])
    assert abs(pinned - get_market_data().now()) < pd.Timedelta(minutes=2)


def test_bad_link_values_fall_back_with_a_warning_and_deribit_needs_spot_for_history(demo_env):
    at = open_page({"base": "DOGE", "ann": "weird", "r": "abc", "hc": "deribit:BTC/USD:BTC-270326", **QUICK_HISTORY})
    warning = " ".join(w.value for w in at.warning)
    assert "Some link parameters were ignored" in warning
    for bad in ("base='DOGE'", "ann='weird'", "r='abc'", "hc='deribit:BTC/USD:BTC-270326'"):
        assert bad in warning
    state = widget_state(at)
    assert (state["base"], state["ann"], state["r"]) == ("BTC", "simple", 5.0)
    # reference = index: Deribit has no index candles, so none of its contracts is offered for history
    assert not any(o.startswith("Deribit") for o in at.selectbox(key="ts_hc").options)
    assert any("Deribit publishes no index candles" in c.value for c in at.caption)


def test_failing_exchange_is_named_and_no_exchange_asks_for_one(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_FAULTS", json.dumps([{"kind": "malformed", "venue": "okx"}]))
    at = open_page(QUICK_HISTORY)
    assert "Some exchanges did not answer" in " ".join(w.value for w in at.warning)
    assert not any(e.startswith("OKX") for e in contracts(at)["Exchange"])
    at.multiselect(key="ts_ex").set_value([]).run()
    assert not at.exception
    assert any("Choose at least one exchange" in i.value for i in at.info)


def test_assets_offered_are_those_with_dated_futures(demo_env):
    at = open_page({"base": "SOL", **QUICK_HISTORY})  # SOL has perps but no dated future anywhere
    listed = get_market_data().listed().frame
    with_futures = sorted(set(listed.loc[listed["futures"] > 0, "base"]))
    assert with_futures == ["BTC", "ETH"] and "SOL" in set(listed["base"])
    assert at.selectbox(key="ts_base").options == ["BTC", "ETH"]
    assert at.selectbox(key="ts_base").value == "BTC"
    assert any("base='SOL'" in w.value for w in at.warning)
