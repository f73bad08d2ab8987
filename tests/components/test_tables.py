"""The Overview table builder: which rows feed each number, the numbers themselves, and what it says."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics import contracts
from components import tables

NOW = pd.Timestamp("2026-11-25 13:57", tz="UTC")
Q_DEC = pd.Timestamp("2026-12-25 08:00", tz="UTC")  # quarterly, 29.8 days out
Q_MAR = pd.Timestamp("2027-03-26 08:00", tz="UTC")
WEEKLY = pd.Timestamp("2026-11-27 08:00", tz="UTC")  # 1.75 days out, not quarterly anyway
LABELS = {"binanceusdm": "Binance USDⓈ-M", "okx": "OKX", "binance": "Binance spot"}


def _days(t: pd.Timestamp) -> float:
    return (t - NOW).total_seconds() / 86_400


def row(venue, symbol, base, quote, kind, linear, *, last, mark, index, expiry=pd.NaT):
    return {
        "venue": venue, "symbol": symbol, "base": base, "quote": quote, "settle": quote if linear else base,
        "kind": kind, "linear": linear, "contract_size": 1.0, "expiry": expiry,
        "days_to_expiry": _days(expiry) if expiry is not pd.NaT else np.nan,
        "last": last, "mark": mark, "index": index, "ts": NOW, "fetched_at": NOW,
    }


@pytest.fixture
def term() -> pd.DataFrame:
    return pd.DataFrame([
        row("binanceusdm", "BTC/USDT:USDT", "BTC", "USDT", "perp", True, last=65_010, mark=65_013, index=65_000),
        row("binanceusdm", "BTC/USDT:USDT-261225", "BTC", "USDT", "future", True,
            last=65_400, mark=65_390, index=65_000, expiry=Q_DEC),
        row("okx", "BTC/USD:BTC", "BTC", "USD", "perp", False, last=64_990, mark=64_980, index=64_990),
        row("okx", "BTC/USDT:USDT", "BTC", "USDT", "perp", True, last=65_030, mark=65_026, index=65_010),
        row("okx", "BTC/USDT:USDT-261127", "BTC", "USDT", "future", True,
            last=65_020, mark=65_020, index=65_010, expiry=WEEKLY),
        row("okx", "BTC/USD:BTC-261225", "BTC", "USD", "future", False,
            last=65_500, mark=65_500, index=64_990, expiry=Q_DEC),
        row("okx", "BTC/USDT:USDT-261225", "BTC", "USDT", "future", True,
            last=65_450, mark=np.nan, index=65_010, expiry=Q_DEC),
        row("okx", "BTC/USDT:USDT-270326", "BTC", "USDT", "future", True,
            last=66_800, mark=66_790, index=65_010, expiry=Q_MAR),
        row("okx", "SOL/USDT:USDT", "SOL", "USDT", "perp", True, last=175.1, mark=175.2, index=np.nan),
    ])


@pytest.fixture
def funding() -> pd.DataFrame:
    return pd.DataFrame({
        "venue": ["binanceusdm", "okx", "okx", "okx"],
        "symbol": ["BTC/USDT:USDT", "BTC/USD:BTC", "BTC/USDT:USDT", "SOL/USDT:USDT"],
        "base": ["BTC", "BTC", "BTC", "SOL"],
        "quote": ["USDT", "USD", "USDT", "USDT"],
        "linear": [True, False, True, True],
        "rate": [0.0001, 0.0005, 0.00005, 0.0000125],
        "interval_hours": [8.0, 8.0, 4.0, 1.0],
        "interval_inferred": [False, False, True, False],
    })


@pytest.fixture
def spot() -> pd.DataFrame:
    return pd.DataFrame({"venue": ["binance"] * 3, "symbol": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
                         "base": ["BTC", "ETH", "SOL"], "last": [65_005.0, 3_300.0, 175.0]})


def build(term, funding, spot, venue=None):
    return tables.overview_frame(term, funding, spot, bases=("BTC", "ETH", "SOL"), venue=venue,
                                 label=LABELS.get, source="simulated (normal)",
                                 ages={"BTC": 3.0, "ETH": 4.0, "SOL": 5.0}).set_index("asset")


def test_primary_rows_prefer_linear_usdt(term):
    prim = contracts.primary_rows(term[term["kind"] == "perp"])
    assert dict(zip(prim["venue"] + "/" + prim["base"], prim["symbol"], strict=True)) == {
        "binanceusdm/BTC": "BTC/USDT:USDT", "okx/BTC": "BTC/USDT:USDT", "okx/SOL": "SOL/USDT:USDT"}


def test_one_venue(term, funding, spot):
    f = build(term, funding, spot, venue="okx")
    btc = f.loc["BTC"]
    assert btc["price"] == 65_010.0 and btc["price_source"] == "OKX index"
    assert btc["premium"] == pytest.approx((65_026 - 65_010) / 65_010)  # the USDT perp, mark vs index
    assert btc["funding_apr"] == pytest.approx(0.00005 * 24 * 365 / 4)  # its 4h interval
    assert btc["funding_source"] == "OKX BTC/USDT:USDT · 4h (inferred)"
    # nearest quarterly > 3 days out (the weekly is skipped); linear USDT contract; no mark -> last
    days = _days(Q_DEC)
    assert btc["basis_ann"] == pytest.approx((65_450 / 65_010 - 1) * 365 / days)
    assert btc["basis_days"] == pytest.approx(days)
    assert btc["basis_contract"] == "25 Dec 2026 (30 d) · BTC/USDT:USDT-261225"
    assert btc["source"] == "simulated (normal)" and btc["age_s"] == 3.0


def test_all_venues_is_the_mean_of_primary_instruments(term, funding, spot):
    btc = build(term, funding, spot).loc["BTC"]
    assert btc["price"] == pytest.approx((65_000 + 65_010) / 2)
    assert btc["price_source"] == "index, mean of 2 venues"
    assert btc["premium"] == pytest.approx(np.mean([13 / 65_000, 16 / 65_010]))
    assert btc["funding_apr"] == pytest.approx(np.mean([0.1095, 0.00005 * 2190]))
    assert btc["funding_source"] == "mean of 2 venues"
    days = _days(Q_DEC)
    assert btc["basis_ann"] == pytest.approx(np.mean([(65_390 / 65_000 - 1), (65_450 / 65_010 - 1)]) * 365 / days)
    assert btc["basis_contract"] == "25 Dec 2026 (30 d) · mean of 2 venues"


def test_missing_pieces_fall_back_or_say_so(term, funding, spot):
    f = build(term, funding, spot, venue="okx")
    sol = f.loc["SOL"]  # OKX gives no SOL index: Binance spot last is the price, and it says so
    assert sol["price"] == 175.0 and sol["price_source"] == "Binance spot last"
    assert math.isnan(sol["premium"])
    assert sol["funding_apr"] == pytest.approx(0.1095)
    assert math.isnan(sol["basis_ann"]) and sol["basis_contract"] == "no quarterly listed"
    eth = f.loc["ETH"]  # nothing listed at all
    assert eth["price"] == 3_300.0 and math.isnan(eth["funding_apr"])
    assert eth["funding_source"] == "OKX: no ETH perp"


def test_near_expiry_quarterly_is_skipped(term, funding, spot):
    near = NOW + pd.Timedelta(days=2)
    moved = term.assign(days_to_expiry=term["days_to_expiry"].where(term["expiry"] != Q_DEC, 2.0),
                        expiry=term["expiry"].where(term["expiry"] != Q_DEC, near))
    q = contracts.nearest_quarterly(moved[moved["venue"] == "okx"])
    assert list(q["symbol"]) == ["BTC/USDT:USDT-270326"]


def test_unavailable_frames_give_nan_not_errors(spot):
    f = build(None, None, spot)
    assert list(f.index) == ["BTC", "ETH", "SOL"]
    assert f["price"].tolist() == [65_005.0, 3_300.0, 175.0]
    assert f[["premium", "funding_apr", "basis_ann"]].isna().all().all()
    empty = build(None, None, None)
    assert empty["price"].isna().all() and (empty["price_source"] == "—").all()


def test_frame_contract_and_display(term, funding, spot):
    frame = tables.overview_frame(term, funding, spot, venue="okx", label=LABELS.get, source="live")
    assert tuple(frame.columns) == tables.OVERVIEW_COLUMNS
    assert frame["asset"].tolist() == ["BTC", "ETH", "SOL"]
    for col in ("price", "premium", "funding_apr", "basis_ann", "basis_days", "age_s"):
        assert frame[col].dtype == "float64", col
    display = tables.overview_display(frame)
    assert list(display.columns) == list(tables.OVERVIEW_DISPLAY.values())
    btc = display.iloc[0]
    assert btc["Price"] == "65,010.00"
    assert btc["Perp premium"] == f"+{16 / 65_010 * 100:.3f}%"
    assert btc["Funding APR"] == "+10.95%"  # 0.005 % per 4 h
    assert btc["Quarterly basis (ann.)"] == f"+{(65_450 / 65_010 - 1) * 365 / _days(Q_DEC) * 100:.2f}%"
    assert btc["Data"] == "live"  # no age known: none invented
    assert display.iloc[1]["Funding APR"] == "—" and display.iloc[2]["Quarterly basis (ann.)"] == "—"
    aged = tables.overview_display(frame.assign(age_s=[3.0, 75.0, np.nan]))
    assert aged["Data"].tolist() == ["live · 3 s", "live · 1 min 15 s", "live"]
    assert term["mark"].isna().sum() == 1  # inputs untouched


def test_stack():
    a = pd.DataFrame({"x": [1.0]})
    assert tables.stack([None, a.iloc[0:0]]) is None
    assert tables.stack([a, None, a])["x"].tolist() == [1.0, 1.0]
