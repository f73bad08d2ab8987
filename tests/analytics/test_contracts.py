"""Which contract stands for a venue: primary perp and nearest quarterly selection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics import contracts

NOW = pd.Timestamp("2026-11-25 13:57", tz="UTC")
DEC = pd.Timestamp("2026-12-25 08:00", tz="UTC")  # last Friday of December: quarterly
MAR = pd.Timestamp("2027-03-26 08:00", tz="UTC")  # quarterly
JAN = pd.Timestamp("2027-01-29 08:00", tz="UTC")  # monthly, not quarterly
NEAR = pd.Timestamp("2026-11-27 08:00", tz="UTC")  # inside the 3-day cut, and not quarterly


def c(venue, symbol, quote, linear, kind="perp", expiry=pd.NaT):
    days = (expiry - NOW).total_seconds() / 86_400 if expiry is not pd.NaT else np.nan
    return {"venue": venue, "symbol": symbol, "base": "BTC", "quote": quote, "linear": linear,
            "settle": quote if linear else "BTC", "kind": kind, "expiry": expiry, "days_to_expiry": days}


def frame(*rows):
    return pd.DataFrame(list(rows))


def test_primary_perp_is_usdt_linear_then_usdc_then_inverse():
    perps = frame(c("bybit", "BTC/USD:BTC", "USD", False), c("bybit", "BTC/USDC:USDC", "USDC", True),
                  c("bybit", "BTC/USDT:USDT", "USDT", True), c("deribit", "BTC/USD:BTC", "USD", False),
                  c("deribit", "BTC/USDC:USDC", "USDC", True))
    picked = contracts.primary_rows(perps)
    assert list(zip(picked["venue"], picked["symbol"], strict=True)) == [
        ("bybit", "BTC/USDT:USDT"), ("deribit", "BTC/USDC:USDC")]  # input order kept


def test_coin_margined_preference_and_whole_frame():
    perps = frame(c("bybit", "BTC/USDT:USDT", "USDT", True), c("bybit", "BTC/USD:BTC", "USD", False))
    assert contracts.primary_rows(perps, prefer_linear=False)["symbol"].tolist() == ["BTC/USD:BTC"]
    assert contracts.primary_rows(perps, by=())["symbol"].tolist() == ["BTC/USDT:USDT"]
    empty = contracts.primary_rows(perps.iloc[0:0])
    assert empty.empty and list(empty.columns) == list(perps.columns)


def test_nearest_quarterly_skips_near_expiry_and_non_quarterly_and_prefers_the_perps_settle():
    futures = frame(c("okx", "BTC/USDT:USDT-261127", "USDT", True, "future", NEAR),
                    c("okx", "BTC/USDT:USDT-270129", "USDT", True, "future", JAN),
                    c("okx", "BTC/USD:BTC-261225", "USD", False, "future", DEC),
                    c("okx", "BTC/USDT:USDT-261225", "USDT", True, "future", DEC),
                    c("okx", "BTC/USDT:USDT-270326", "USDT", True, "future", MAR),
                    c("okx", "BTC/USDT:USDT", "USDT", True))
    assert contracts.nearest_quarterly(futures)["symbol"].tolist() == ["BTC/USDT:USDT-261225"]
    coin = contracts.nearest_quarterly(futures, settle="BTC")
    assert coin["symbol"].tolist() == ["BTC/USD:BTC-261225"]


def test_nearest_quarterly_is_one_expiry_across_venues():
    futures = frame(c("okx", "BTC/USDT:USDT-261225", "USDT", True, "future", DEC),
                    c("binanceusdm", "BTC/USDT:USDT-270326", "USDT", True, "future", MAR))
    q = contracts.nearest_quarterly(futures)
    assert q["venue"].tolist() == ["okx"] and (q["expiry"] == DEC).all()  # March is not mixed in
    assert contracts.nearest_quarterly(futures, min_days=40)["venue"].tolist() == ["binanceusdm"]
    assert contracts.nearest_quarterly(futures[futures["kind"] == "perp"]).empty
