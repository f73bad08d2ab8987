"""Hedge calculator in AppTest on demo data: the form, every results table, each bad input's message, the link."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import hedge as hg
from components import hedge_view as hv
from data_sources import get_market_data
from tests.views.conftest import assert_no_exception, assert_tables_show_missing_as_dash, open_app, plotly_specs

PAGE = "views/hedge.py"
KEYS = {"margin": "mg", "instrument": "inst", "exchange": "ex", "leverage": "lev", "include": "inc", "horizon": "hz"}


def run(query: dict[str, str] | None = None) -> AppTest:
    return assert_no_exception(open_app(PAGE, query))


def submit(at: AppTest, csv: str | None = None, **widgets: object) -> AppTest:
    """Fill the form (the paste box and widgets by key, without the ``hedge_`` prefix) and press Compute."""
    if csv is not None:
        at.text_area(key="hedge_paste").set_value(csv)
    for name, value in widgets.items():
        key = f"hedge_{KEYS.get(name, name)}"
        found = [w for kind in ("selectbox", "number_input", "radio", "checkbox", "text_area")
                 for w in getattr(at, kind) if w.key == key]
        assert len(found) == 1, key
        found[0].set_value(value)
    [b for b in at.button if b.label == "Compute hedge"][0].click()
    return assert_no_exception(at.run())


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def tables(at: AppTest, column: str) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if column in d.value.columns]


def one(at: AppTest, column: str) -> pd.DataFrame:
    found = tables(at, column)
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


# -- the form and every results table -------------------------------------------------------------------------
def test_nothing_is_computed_before_the_form_is_submitted(demo_env):
    at = run()
    at.text_area(key="hedge_paste").set_value("BTC,1")
    at.run()  # an edit without a submit
    assert not tables(at, "Expected cost USD")
    assert any("press **Compute hedge**" in i.value for i in at.info)


def test_the_form_fills_and_every_results_table_holds_the_plan(demo_env):
    at = submit(run(), "asset,quantity,cost\nBTC,1,50000\nETH,10")
    assert not at.error, errors(at)
    assert_tables_show_missing_as_dash(at)
    ranks = tables(at, "Expected cost USD")
    assert len(ranks) == 2
    for r in ranks:  # cheapest first, one chosen row: the best one
        costs = r["Expected cost USD"].to_numpy(dtype=float)
        assert (np.diff(costs[np.isfinite(costs)]) >= -1e-9).all()
        assert r["Chosen"].sum() == 1 and bool(r["Chosen"].iloc[0])
    sizing = one(at, "Net delta USD").set_index("Asset")
    assert list(sizing.index) == ["BTC", "ETH", "Total"]
    btc = sizing.loc["BTC"]
    assert btc["Notional USD"] == pytest.approx(1 * btc["Price used"])
    assert btc["Hedge after rounding USD"] == pytest.approx(ranks[0].loc[0, "Hedge notional"])
    assert abs(btc["Residual USD"]) < 0.01 * btc["Notional USD"]
    assert btc["Unrealized P&L USD"] == pytest.approx(btc["Price used"] - 50_000)
    assert sizing.loc["Total", "Notional USD"] == pytest.approx(sizing.loc[["BTC", "ETH"], "Notional USD"].sum())
    costs = one(at, "USD (cost > 0)")
    totals = costs[costs["Line"].str.startswith("Expected cost")].set_index("Asset")["USD (cost > 0)"]
    assert totals["BTC"] == pytest.approx(ranks[0].loc[0, "Expected cost USD"], rel=1e-6)
    margin = one(at, "Liquidation price").set_index("Asset")
    assert (margin["Leverage"] == 2).all()
    for asset in ("BTC", "ETH"):
        m = margin.loc[asset]
        assert m["Liquidation price"] > m["Entry price"]  # a short is liquidated on the way up
        assert m["Distance %"] == pytest.approx((m["Liquidation price"] / m["Entry price"] - 1) * 100)
        assert m["Formula"].startswith("LP = ")
    scen = one(at, "Net %")
    total = scen[scen["Asset"] == "Total"]
    assert len(total) == 21 and total["Move %"].min() == -50 and total["Move %"].max() == 50
    parts = scen[["Spot P&L", "Hedge P&L", "Funding/basis", "Fees"]].sum(axis=1)
    assert np.allclose(parts, scen["Net"])
    # a full hedge: the net is the carry and fees whatever the move (within rounding)
    assert (total["Net"].max() - total["Net"].min()) < 0.01 * sizing.loc["Total", "Notional USD"]
    names = [t["name"] for spec in plotly_specs(at) for t in spec["data"]]
    assert {"Spot P&L", "Hedge P&L", "Net", "Net · Total", "Net · BTC", "Net · ETH"} <= set(names)
    assert [b.label for b in at.get("download_button")][:1] == ["Plan CSV"]


def test_half_hedge_and_a_proxy_hedge_with_beta(demo_env):
    at = submit(run(), "SOL,1000", vehicle="BTC", preset="half")
    assert not at.error, errors(at)
    sizing = one(at, "Net delta USD").set_index("Asset").loc["SOL"]
    md = get_market_data()
    beta = hv.load_beta(md, "SOL", "BTC", 90)
    assert sizing["Beta"] == pytest.approx(beta.value)
    assert sizing["Target hedge USD"] == pytest.approx(0.5 * beta.value * sizing["Notional USD"])
    assert sizing["Symbol"].startswith("BTC/")
    assert any(f"Beta of SOL on BTC: **{beta.value:.3f}**" in c.value for c in at.caption)
    scen = one(at, "Net %")
    assert scen.loc[scen["Asset"] == "SOL", "Beta residual ±1sd"].notna().all()


def test_a_1x_coin_margined_short_has_no_liquidation_price_and_says_so(demo_env):
    at = submit(run(), "BTC,2", margin="inverse", leverage=1.0)
    margin = one(at, "Liquidation price").set_index("Asset").loc["BTC"]
    assert math.isnan(margin["Liquidation price"])
    assert "denominator" in margin["Formula"]
    assert any("cannot be liquidated on the way up" in s.value for s in at.success)


# -- the ranking on the simulated market ---------------------------------------------------------------------
def test_contango_a_dated_short_earns_the_basis(demo_env):
    at = submit(run(), "BTC,1", instrument="future", horizon=30.0)
    rank = one(at, "Expected cost USD")
    assert (rank["Instrument"].str.startswith("future")).all()
    assert (rank["Funding/basis USD"] < 0).all()  # contango: every dated short earns as it converges
    assert (rank["Annualized carry %"] > 0).all()
    short = rank[rank["Rolls"] > 0]
    assert not short.empty and short["Note"].str.contains("inside the 30-day horizon: the hedge rolls").all()
    assert np.isfinite(rank["Expected cost USD"]).all()  # weeklies roll along today's curve, never unknown


def test_crash_negative_funding_makes_the_perp_cost_money(demo_env):
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", "crash")
    at = submit(run(), "BTC,1", instrument="perp")
    rank = one(at, "Expected cost USD")
    negative = rank[rank["Funding %/8h or basis %"] < 0]
    assert len(negative) >= 5
    assert (negative["Expected cost USD"] > 0).all()
    assert negative["Note"].str.contains("shorts pay longs").all()
    assert any("Costly drag" in w.value for w in at.warning) or (rank["Funding %/8h or basis %"] > -0.01).any()


# -- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "message"), [
    ("BTC,0", "quantity must be > 0"),
    ("BTC,-1", "quantity must be > 0"),
    ("BTC,nan", "must be a finite number"),
    ("BTC,lots", "'lots' is not a number"),
    ("BTC,1e30", "beyond 1e+12 coins"),
    ("DOGEFOO,1", "DOGEFOO is not listed on any exchange here"),
    ("b$c,1", "is not an asset symbol"),
    ("ETH,1\nETH,2", "ETH is a duplicate of pasted line 2"),
    ("BTC", "1 field(s)"),
    ("BTC,1,2,3", "4 field(s)"),
    ("BTC,1,-5", "cost basis must be a price above 0"),
])
def test_each_bad_holding_gets_its_message_and_valid_rows_are_kept(demo_env, line, message):
    at = submit(run(), f"SOL,10\n{line}")
    assert message in errors(at)
    sizing = one(at, "Net delta USD")
    assert "SOL" in set(sizing["Asset"])  # the valid row is still hedged
    assert "Traceback" not in errors(at)


def test_a_malformed_csv_header_is_named(demo_env):
    at = submit(run(), "coin,weight\nBTC,1")
    assert "must be asset,quantity[,cost]" in errors(at)
    assert not tables(at, "Net delta USD")


def test_an_upload_that_is_not_text_is_named(demo_env):
    at = run()
    at.get("file_uploader")[0].set_value(("book.csv", b"PK\x03\x04\x00\x00binary\xff", "text/csv"))
    at = submit(at)
    assert "binary content, not a CSV" in errors(at) or "not UTF-8 text" in errors(at)


def test_an_uploaded_csv_is_read(demo_env):
    at = run()
    at.get("file_uploader")[0].set_value(("book.csv", b"asset,quantity\nETH,3\n", "text/csv"))
    at = submit(at)
    assert list(one(at, "Net delta USD")["Asset"]) == ["ETH", "Total"]


def test_leverage_above_the_markets_maximum_is_named_next_to_leverage(demo_env):
    at = submit(run(), "BTC,1", exchange="okx", instrument="future", leverage=100.0)
    assert "leverage 100x is above 50x, the maximum of" in errors(at)
    assert not tables(at, "Liquidation price")  # nothing computed from it


def test_an_expired_or_unknown_future_is_named(demo_env):
    at = run({"inst": "BTC/USDT:USDT-250328", "inc": "1", "h": "BTC,1"})
    assert "instrument 'BTC/USDT:USDT-250328' is not listed" in errors(at)
    assert "expired or unknown" in errors(at)


def test_a_hedge_ratio_outside_0_100_in_a_row_is_named(demo_env):
    at = run({"inc": "1", "h": "BTC,1,,,,,,150;ETH,2"})
    assert "BTC: hedge ratio must be between 0 and 100 %, got 150 %" in errors(at)
    assert list(one(at, "Net delta USD")["Asset"]) == ["ETH", "Total"]


@pytest.mark.parametrize(("query", "message"), [
    ({"veh": "XRP"}, "veh='XRP' is not one of"),
    ({"ex": "kraken"}, "ex='kraken' is not one of"),
    ({"lev": "abc"}, "lev='abc' is not a number"),
    ({"ratio": "150"}, "ratio='150' is outside 0..100"),
    ({"hz": "-5"}, "hz='-5' is outside"),
    ({"lo": "-300"}, "lo='-300' is outside"),
    ({"inc": "1", "h": "BTC,1e30;%%%,1"}, "beyond 1e+12 coins"),
    ({"inc": "1", "h": "BTC,1e30;%%%,1"}, "'%%%' is not an asset symbol"),
    ({"inst": "<b>x</b>"}, "inst='<b>x</b>' is not best, perp, future or a contract symbol; using best"),
    ({"inc": "yes"}, "inc='yes' is not 1"),
    ({"ex": "[x](https://e.example)"}, "ex='[x\\](https://e.example)' is not one of"),  # shown as text, no link
    ({"inc": "1", "h": "BTC,1,,,,,*x*"}, "BTC: instrument '\\*x\\*' is not best, perp, future or a contract symbol"),
])
def test_tampered_link_parameters_are_named_and_ignored(demo_env, query, message):
    at = run(query)
    assert message in errors(at)
    assert "Traceback" not in errors(at)


# -- the link and privacy --------------------------------------------------------------------------------------
def test_without_the_tick_no_holding_is_in_the_link(demo_env):
    at = submit(run(), "BTC,1.2345\nETH,6.789", leverage=3.0, horizon=45.0)
    params = dict(at.query_params)
    assert "h" not in params and "inc" not in params
    flat = urlencode({k: v for k, v in params.items()})
    for secret in ("1.2345", "6.789", "BTC", "ETH"):
        assert secret not in flat
    assert params["lev"] == ["3"] or params["lev"] == "3"
    assert (params["hz"] == ["45"]) or params["hz"] == "45"


def _params(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in dict(at.query_params).items()}


def test_a_link_with_holdings_reproduces_the_result_in_a_fresh_session(demo_env):
    at = submit(run(), "BTC,1.5\nSOL,200", include=True, horizon=20.0, preset="half")
    params = _params(at)
    assert params["inc"] == "1" and params["h"] == "BTC,1.5;SOL,200"
    first = one(at, "Net delta USD")
    fresh = run(params)  # a new AppTest: a new session with only the link
    assert not fresh.error, errors(fresh)
    again = one(fresh, "Net delta USD")
    cols = ["Asset", "Quantity", "Symbol", "Contracts", "Target hedge USD"]
    pd.testing.assert_frame_equal(first[cols], again[cols], rtol=1e-3)


def test_holdings_are_never_put_in_a_shared_cache():
    # st.cache_data / st.cache_resource are not used by the page or its helpers: holdings stay in the session.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for rel in ("views/hedge.py", "components/hedge_view.py"):
        text = (root / rel).read_text()
        assert "cache_data" not in text and "cache_resource" not in text and "logging" not in text
        assert "print(" not in text


def test_defaults_are_sane():
    s = hv.Settings()
    assert s.ratio == 1 and s.leverage == 2 and s.horizon_days == 30
    assert np.allclose(s.moves(), hg.DEFAULT_MOVES)


# -- per-row horizon, funding, fee and scenario overrides ------------------------------------------------------
def _row(asset: str, quantity: float, **over: object) -> str:
    """A link holding with per-row overrides, by ``hv.HOLDING_COLUMNS`` name (written out, not encoded)."""
    cells = dict.fromkeys(hv.HOLDING_COLUMNS, "") | {"asset": asset, "quantity": f"{quantity:g}"} | {
        k: str(v) for k, v in over.items()}
    return ",".join(cells[c] for c in hv.HOLDING_COLUMNS).rstrip(",")


def _cost_lines(at: AppTest) -> dict[str, pd.DataFrame]:
    costs = one(at, "USD (cost > 0)")
    return {a: part.reset_index(drop=True) for a, part in costs.groupby("Asset")}


def test_a_rows_horizon_override_changes_only_that_holdings_cost_lines(demo_env):
    assert _row("ETH", 10, horizon=60) == "ETH,10,,,,,,,,60"
    base = run({"inc": "1", "h": "BTC,1;ETH,10"})
    over = run({"inc": "1", "h": f"BTC,1;{_row('ETH', 10, horizon=60)}"})
    assert not over.error, errors(over)
    before, after = _cost_lines(base), _cost_lines(over)
    pd.testing.assert_frame_equal(before["BTC"], after["BTC"])  # the other holding keeps the apply-to-all 30 days
    assert after["BTC"]["Line"].str.contains("over 30 days").any()
    assert after["ETH"]["Line"].str.contains("over 60 days").any()
    assert not after["ETH"]["Line"].str.contains("over 30 days").any()
    assert not np.allclose(before["ETH"]["USD (cost > 0)"], after["ETH"]["USD (cost > 0)"])
    assert any("This row's own settings: horizon 60 days" in c.value for c in over.caption)
    ranks = tables(over, "Expected cost USD")  # the ETH ranking is over its own horizon
    assert np.isclose(ranks[1].loc[0, "Expected cost USD"], after["ETH"]["USD (cost > 0)"].iloc[-1], rtol=1e-6)
    assert "60" in _params(over)["h"]  # the override stays in the link (holdings ticked in)
    assert any("own scenario ranges or horizons" in i.value for i in over.info)  # said on the page


def test_a_rows_funding_fee_and_scenario_range_are_its_own(demo_env):
    h = ";".join([_row("BTC", 1, fee=50, move_lo=-20, move_hi=30),
                  _row("ETH", 10, funding="custom", funding_rate=0.05)])
    at = run({"inc": "1", "h": h})
    assert not at.error, errors(at)
    ranks = tables(at, "Expected cost USD")
    assert (ranks[0]["Fee bps"] == 50).all() and not (ranks[1]["Fee bps"] == 50).any()
    perps = ranks[1][ranks[1]["Instrument"] == "perpetual"]
    assert np.allclose(perps["Funding %/8h or basis %"], 0.05)  # ETH's custom rate on every ETH perpetual
    assert not np.allclose(ranks[0].loc[ranks[0]["Instrument"] == "perpetual", "Funding %/8h or basis %"], 0.05)
    scen = one(at, "Net %")
    btc, eth, total = (scen[scen["Asset"] == a]["Move %"] for a in ("BTC", "ETH", "Total"))
    assert (btc.min(), btc.max()) == (-20, 30) and (eth.min(), eth.max()) == (-50, 50)
    assert (total.min(), total.max()) == (-20, 30)  # the book total only over the moves both holdings have
    assert any("The book Total covers only the 11 moves" in i.value for i in at.info)
    again = hv.link_rows(_params(at)["h"])  # the link round-trips the overrides
    assert again[0][1]["fee"] == "50" and again[0][1]["move_lo"] == "-20" and again[1][1]["funding"] == "custom"


@pytest.mark.parametrize(("over", "message"), [
    ({"horizon": 0}, "link holding 1: BTC: horizon must be 1 to 3650 days, got 0 days"),
    ({"horizon": "soon"}, "link holding 1: BTC: horizon 'soon' is not a number"),
    ({"fee": 500}, "link holding 1: BTC: taker fee must be -10 to 100 bps, got 500 bps"),
    ({"fee": "cheap"}, "link holding 1: BTC: taker fee 'cheap' is not a number"),
    ({"funding": "weekly"}, "link holding 1: BTC: funding assumption 'weekly' is not one of current, mean, custom"),
    ({"funding_days": 2.5}, "link holding 1: BTC: funding N days must be a whole number of days"),
    ({"funding_rate": 9}, "link holding 1: BTC: custom funding must be -5 to 5 % per 8h, got 9 % per 8h"),
    ({"move_lo": -99}, "link holding 1: BTC: scenario from must be -95 to 0 %, got -99 %"),
    ({"move_lo": 0, "move_hi": 0}, "link holding 1: BTC: scenario from +0% must be below to +0%"),
])
def test_a_bad_row_horizon_fee_funding_or_range_is_named_with_its_row(demo_env, over, message):
    at = run({"inc": "1", "h": f"{_row('BTC', 1, **over)};ETH,2"})
    assert message in errors(at)
    assert list(one(at, "Net delta USD")["Asset"]) == ["ETH", "Total"]  # the valid row is still hedged


def test_a_row_range_that_runs_nowhere_with_the_apply_to_all_end_is_named(demo_env):
    at = run({"inc": "1", "h": f"{_row('BTC', 1, move_hi=0)};ETH,2", "lo": "0"})  # lo=0 from the link is kept
    assert at.number_input(key="hedge_lo").value == 0
    assert "BTC: scenario range +0% .. +0%" in errors(at)
    assert list(one(at, "Net delta USD")["Asset"]) == ["ETH", "Total"]


# -- "Hedge with": picking a ranked row ------------------------------------------------------------------------
def _pick(row: pd.Series) -> str:
    """The "Hedge with" value of a ranking row (its Exchange column is the venue's label)."""
    md = get_market_data()
    venue = next(v for v in md.venues if md.venue_label(v) == row["Exchange"])
    return hv.pick_value(venue, row["Symbol"])


def test_picking_a_non_best_row_moves_sizing_and_margin_to_it_and_the_link_carries_it(demo_env):
    at = submit(run(), "BTC,1\nETH,10", include=True)
    rank = tables(at, "Expected cost USD")[0]
    best_symbol = rank.loc[0, "Symbol"]
    pick = at.selectbox(key="hedge_pick_BTC")
    assert pick.value == "best" and pick.options[0] == "best (cheapest)"
    finite = rank[np.isfinite(rank["Expected cost USD"].astype(float))].reset_index(drop=True)
    assert len(pick.options) == len(finite) + 1
    i = next(k for k in range(len(finite) - 1, 0, -1) if finite.loc[k, "Symbol"] != best_symbol)
    row = finite.loc[i]
    assert pick.options[i + 1] == f"{row['Exchange']} · {row['Symbol']} · {row['Margin']}"
    eth_before = one(at, "Net delta USD").set_index("Asset").loc["ETH"]
    at.text_area(key="hedge_paste").set_value("BTC,5")  # typed but not submitted: the pick must not use it
    pick.set_value(_pick(row))  # AppTest's select_index would send the label, not the value
    at = assert_no_exception(at.run())  # no submit: the pick alone recomputes
    assert not at.error, errors(at)
    sizing = one(at, "Net delta USD").set_index("Asset")
    assert sizing.loc["BTC", "Symbol"] == row["Symbol"] and sizing.loc["BTC", "Exchange"] == row["Exchange"]
    assert sizing.loc["BTC", "Quantity"] == 1  # the submitted holdings, not the unsubmitted paste
    assert sizing.loc["BTC", "Contracts"] == pytest.approx(row["Contracts"])
    pd.testing.assert_series_equal(sizing.loc["ETH"], eth_before)  # the other holding is untouched
    margin = one(at, "Liquidation price").set_index("Asset")
    assert margin.loc["BTC", "Symbol"] == row["Symbol"]
    chosen = tables(at, "Expected cost USD")[0]
    assert list(chosen.index[chosen["Chosen"]]) == [i] and not bool(chosen.loc[0, "Chosen"])
    costs = _cost_lines(at)["BTC"]
    assert (costs["Symbol"] == row["Symbol"]).all()
    assert costs["USD (cost > 0)"].iloc[-1] == pytest.approx(row["Expected cost USD"], rel=1e-6)
    assert any("(your pick)" in c.value for c in at.caption)
    params = _params(at)
    venue = params["pk"].split("@")[1]
    assert params["pk"] == f"BTC@{venue}@{row['Symbol']}"
    assert get_market_data().venue_label(venue) == row["Exchange"]
    fresh = run(params)  # a new session with only the link: the same pick
    assert one(fresh, "Net delta USD").set_index("Asset").loc["BTC", "Symbol"] == row["Symbol"]
    assert fresh.selectbox(key="hedge_pick_BTC").index == i + 1
    at.selectbox(key="hedge_pick_BTC").set_value("best")  # back to best: the cheapest again, the pick leaves the link
    at = assert_no_exception(at.run())
    assert one(at, "Net delta USD").set_index("Asset").loc["BTC", "Symbol"] == best_symbol
    assert "pk" not in _params(at)


def test_a_pick_without_holdings_in_the_link_names_no_asset(demo_env):
    at = submit(run(), "BTC,1.2345")
    rank = tables(at, "Expected cost USD")[0]
    at.selectbox(key="hedge_pick_BTC").set_value(_pick(rank.loc[1]))
    at = assert_no_exception(at.run())
    assert one(at, "Net delta USD").set_index("Asset").loc["BTC", "Symbol"] == rank.loc[1, "Symbol"]
    params = _params(at)
    assert "pk" not in params and "h" not in params  # a pick would say which asset is held
    for secret in ("1.2345", "BTC"):
        assert secret not in urlencode(params)


@pytest.mark.parametrize(("pk", "message"), [
    ("BTC@kraken@BTC/USDT:USDT", "link: pk part 'BTC@kraken@BTC/USDT:USDT' is not ASSET@exchange@symbol"),
    ("garbage", "link: pk part 'garbage' is not"),
])
def test_a_tampered_pick_is_named_and_the_cheapest_is_used(demo_env, pk, message):
    at = run({"inc": "1", "h": "BTC,1", "pk": pk})
    assert message in errors(at)
    assert bool(tables(at, "Expected cost USD")[0].loc[0, "Chosen"])


def test_a_pick_that_is_not_ranked_is_named_and_the_cheapest_is_used(demo_env):
    at = run({"inc": "1", "h": "BTC,1", "pk": "BTC@okx@BTC/USDT:USDT-250328"})
    assert any("BTC/USDT:USDT-250328 on" in w.value and "using the cheapest" in w.value for w in at.warning)
    assert bool(tables(at, "Expected cost USD")[0].loc[0, "Chosen"])
    assert "pk" not in _params(at)
