"""The hedge view's parsing, link encoding and plan, and the ranking against a hand computation on demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import hedge as hg
from components import charts_hedge as charts
from components import hedge_view as hv
from data_sources import get_market_data
from tests.views.conftest import demo_env  # noqa: F401 - the fixture

VENUES = ("binanceusdm", "binancecoinm", "okx", "bybit", "deribit", "hyperliquid")


def known(asset: str) -> bool:
    return asset in {"BTC", "ETH", "SOL"}


def test_csv_with_and_without_header_and_separators():
    rows, problems = hv.csv_rows("asset;quantity;cost\nBTC;1.5;42000\nETH;2", "pasted")
    assert not problems
    assert rows == [("pasted line 2", {"asset": "BTC", "quantity": "1.5", "cost": "42000"}),
                    ("pasted line 3", {"asset": "ETH", "quantity": "2"})]
    rows, problems = hv.csv_rows("BTC,1\nETH", "pasted")
    assert [r[1]["asset"] for r in rows] == ["BTC"] and "line 2: 1 field(s)" in problems[0].message


@pytest.mark.parametrize(("raw", "message"), [
    ({"asset": "BTC", "quantity": 0}, "must be > 0"),
    ({"asset": "BTC", "quantity": float("nan")}, "finite"),
    ({"asset": "BTC", "quantity": "x"}, "not a number"),
    ({"asset": "BTC", "quantity": 1e30}, "check the units"),
    ({"asset": "XYZ", "quantity": 1}, "not listed"),
    ({"asset": "BTC", "quantity": 1, "ratio": 101}, "between 0 and 100"),
    ({"asset": "BTC", "quantity": 1, "leverage": 0.5}, "at least 1x"),
    ({"asset": "BTC", "quantity": 1, "exchange": "kraken"}, "exchange 'kraken' is not one of"),
    ({"quantity": 1}, "no asset"),
])
def test_bad_rows_are_named_and_left_out(raw, message):
    good, problems = hv.parse_holdings([("row 1", raw), ("row 2", {"asset": "eth", "quantity": "2"})], known=known,
                                       venues=VENUES)
    assert [h.asset for h in good] == ["ETH"]
    assert message in problems[0].message and problems[0].message.startswith("row 1")


def test_link_round_trip_of_holdings_with_overrides():
    good, _ = hv.parse_holdings([("r", {"asset": "BTC", "quantity": 1.5, "cost": 42000.0}),
                                 ("r", {"asset": "SOL", "quantity": 10, "vehicle": "BTC", "ratio": 50,
                                        "leverage": 3, "instrument": "perp"})], known=known, venues=VENUES)
    text = hv.encode_holdings(good)
    assert text == "BTC,1.5,42000;SOL,10,,BTC,,,perp,50,3"
    again, problems = hv.parse_holdings(hv.link_rows(text), known=known, venues=VENUES)
    assert not problems
    assert [(h.asset, h.quantity, h.cost, h.vehicle, h.ratio, h.leverage) for h in again] == [
        ("BTC", 1.5, 42000.0, None, None, None), ("SOL", 10.0, None, "BTC", 0.5, 3.0)]
    frame = hv.editor_frame(again)
    assert list(frame.columns) == list(hv.HOLDING_LABELS.values())
    back, _ = hv.parse_holdings(hv.editor_rows(frame), known=known, venues=VENUES)
    assert [(h.asset, h.quantity, h.ratio) for h in back] == [("BTC", 1.5, None), ("SOL", 10.0, 0.5)]


def test_settings_checks_and_moves():
    assert hv.check_settings(hv.Settings(), VENUES) == []
    bad = hv.check_settings(hv.Settings(ratio=1.5, move_lo=0.2, move_hi=0.1, exchange="kraken"), VENUES)
    assert {p.field for p in bad} == {"ratio", "scenario", "exchange"}
    assert list(hv.Settings(move_lo=-0.2, move_hi=0.1).moves()) == pytest.approx([-0.2, -0.15, -0.1, -0.05, 0, 0.05,
                                                                                   0.1])


def _hand_costs(md, horizon: float, notional_of) -> dict[tuple[str, str], float]:
    """Expected cost per (venue, symbol) computed here from the facade's frames, not through hedge_view."""
    ins = md.instruments("BTC").frame
    quotes = md.term_structure("BTC").frame.set_index(["venue", "symbol"])
    funding = md.funding_now(bases=("BTC",)).frame.set_index(["venue", "symbol"])
    out = {}
    for r in ins.itertuples():
        n = notional_of(r)
        fee = n * r.taker * 2
        q = quotes.loc[(r.venue, r.symbol)]
        if r.kind == "perp":
            f = funding.loc[(r.venue, r.symbol)]
            out[(r.venue, r.symbol)] = fee - n * f["rate"] / f["interval_hours"] * 24 * horizon
        elif q["days_to_expiry"] >= horizon:  # held to the horizon: the basis accrues linearly
            basis = q["last"] / q["index"] - 1
            out[(r.venue, r.symbol)] = fee - n * basis * horizon / q["days_to_expiry"]
    return out


@pytest.mark.parametrize("scenario", ["normal", "crash"])
def test_where_to_hedge_equals_a_hand_computation(demo_env, scenario):  # noqa: F811
    demo_env.setenv("CARRYDESK_DEMO_SCENARIO", scenario)
    md = get_market_data()
    holding = hv.Holding(asset="BTC", quantity=2.0)
    book = hv.compute(md, [holding], hv.Settings(horizon_days=7))
    plan = book.plans[0]
    r = plan.ranking.set_index(["venue", "symbol"])
    hand = _hand_costs(md, 7, lambda row: r.loc[(row.venue, row.symbol), "notional_usd"])
    assert len(hand) >= 20
    for key, cost in hand.items():
        assert r.loc[key, "expected_cost_usd"] == pytest.approx(cost, rel=1e-9, abs=1e-6), key
    perps = r[r["kind"] == "perp"]
    futures = r[(r["kind"] == "future") & (r["days_to_expiry"] >= 7)]
    if scenario == "normal":  # contango: a dated short earns the basis
        assert (futures["carry_usd"] < 0).all()
    else:  # crash: negative funding makes the perp cost money, backwardation makes the dated short pay
        neg = perps[perps["funding_rate_per_hour"] < 0]
        assert len(neg) >= 5 and (neg["carry_usd"] > 0).all()
        assert neg["note"].str.contains("shorts pay longs").all()
    best = plan.ranking.loc[plan.ranking["best"]].iloc[0]
    # the hand sum and the ranking add the same terms in another order: equal to the last bits, not exactly
    assert best["expected_cost_usd"] <= min(hand.values()) + 1e-9 * abs(min(hand.values()))
    assert (plan.chosen or {})["symbol"] == best["symbol"]


def test_brackets_units_okx_by_size_binance_by_value():
    linear = hg.Instrument(venue="okx", symbol="BTC/USDT:USDT", kind="perp", linear=True, contract_size=0.01,
                           amount_step=1, min_amount=1, max_leverage=100)
    tiers = pd.DataFrame({"floor": [0.0, 20.0], "cap": [20.0, np.inf], "mmr": [0.004, 0.006],
                          "max_leverage": [100.0, 50.0], "cum": [0.0, 0.0], "unit": ["BTC", "BTC"]})
    assert hv.brackets_for(tiers, linear, "BTC")[1] == "size"
    assert hv.brackets_for(tiers.assign(unit="USDT"), linear, "BTC")[1] == "value"
    inverse = hg.Instrument(venue="binancecoinm", symbol="BTC/USD:BTC", kind="perp", linear=False,
                            contract_size=100, amount_step=1, min_amount=1, max_leverage=125, settle="BTC")
    assert hv.brackets_for(tiers, inverse, "BTC")[1] == "value"
    assert hv.brackets_for(tiers.assign(unit="USD"), inverse, "BTC")[1] == "size"


def test_figures_name_their_traces():
    scen = pd.DataFrame({"Asset": ["BTC", "BTC", "Total", "Total"], "Move %": [-10, 10, -10, 10],
                         "Spot P&L": [-1.0, 1.0, -1.0, 1.0], "Hedge P&L": [1.0, -1.0, 1.0, -1.0],
                         "Funding/basis": [0.1] * 4, "Fees": [-0.05] * 4, "Net": [0.05] * 4,
                         "Beta residual ±1sd": [np.nan] * 4})
    fig = charts.scenario_figure(scen, title="t")
    assert [t.name for t in fig.data] == ["Spot P&L", "Hedge P&L", "Funding/basis + fees", "Net"]
    net = charts.net_figure(scen, title="t")
    assert [(t.name, t.type) for t in net.data] == [("Net · Total", "bar"), ("Net · BTC", "scatter")]
    losing = charts.net_figure(scen.assign(Net=[-0.2, 0.3, -0.2, 0.3]), title="t")
    assert list(losing.data[0].marker.color) == [charts.LOSS, charts.GAIN]  # a loss is red, a gain green


def test_link_round_trip_of_the_horizon_funding_fee_and_range_overrides():
    raw = {"asset": "ETH", "quantity": 2, "horizon": 60, "funding": "Mean", "funding_days": 14, "funding_rate": 0.07,
           "fee": 3.5, "move_lo": -20, "move_hi": 30}
    good, problems = hv.parse_holdings([("r", raw)], known=known, venues=VENUES)
    assert not problems
    h = good[0]
    s = h.settings(hv.Settings())
    assert (s.horizon_days, s.funding_mode, s.funding_days, s.fee_bps) == (60, "mean", 14, 3.5)
    assert s.funding_custom_8h == pytest.approx(0.0007) and (s.move_lo, s.move_hi) == pytest.approx((-0.2, 0.3))
    text = hv.encode_holdings(good)
    assert text == "ETH,2,,,,,,,,60,mean,14,0.07,3.5,-20,30"
    again, _ = hv.parse_holdings(hv.link_rows(text), known=known, venues=VENUES)
    assert again[0].settings(hv.Settings()) == s
    back, _ = hv.parse_holdings(hv.editor_rows(hv.editor_frame(again)), known=known, venues=VENUES)
    assert back[0].settings(hv.Settings()) == s
    assert hv.funding_key(s) == ("mean", 14, 0.0) and hv.funding_key(hv.Settings()) == ("current", 0, 0.0)


def test_picks_parse_and_encode():
    picks, bad = hv.parse_picks("BTC@okx@BTC/USDT:USDT;ETH@kraken@ETH/USD;x;SOL@bybit@", VENUES)
    assert picks == {"BTC": ("okx", "BTC/USDT:USDT")}
    assert len(bad) == 3 and all("is not ASSET@exchange@symbol" in b for b in bad)
    assert hv.encode_picks(picks) == "BTC@okx@BTC/USDT:USDT" and hv.encode_picks({}) is None
    assert hv.parse_pick("best", VENUES) is None and hv.parse_pick("okx@BTC/USDT:USDT", VENUES) == ("okx",
                                                                                                 "BTC/USDT:USDT")


def test_book_total_only_over_the_moves_every_holding_has():
    def plan(asset: str, lo: float, hi: float) -> hv.Plan:
        s = hv.Settings(move_lo=lo, move_hi=hi)
        moves = s.moves()
        scen = pd.DataFrame({"move": moves, "price": 1.0, "vehicle_price": 1.0, "spot_pnl": moves, "hedge_pnl": -moves,
                             "carry": 0.0, "fees": -1.0, "net": -1.0, "net_pct": 0.0, "residual_1sd": np.nan})
        sizing = hg.Sizing.__new__(hg.Sizing)
        object.__setattr__(sizing, "notional_usd", 100.0)
        return hv.Plan(holding=hv.Holding(asset, 1.0), settings=s, vehicle=asset, price=1.0, price_source="",
                       sizing=sizing, scenarios=scen)

    plans = [plan("BTC", -0.2, 0.3), plan("ETH", -0.5, 0.5)]
    out = hv.scenario_tables(plans)
    total = out[out["Asset"] == "Total"]
    assert (total["Move %"].min(), total["Move %"].max()) == (-20, 30) and (total["Net"] == -2).all()
    assert "covers only the 11 moves" in (hv.scenario_note(plans) or "")
    assert hv.scenario_note([plans[1]]) is None
    fig = charts.scenario_figure(hv.scenario_tables([plan("BTC", 0.6, 0.9), plan("ETH", -0.5, 0.5)]), title="t")
    assert [t.name for t in fig.data] == ["Net · BTC", "Net · ETH"]  # no common move: no Total traces
