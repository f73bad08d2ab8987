"""URL parameter parsing: good values round-trip, bad values fall back with a message, never raise."""

from __future__ import annotations

from datetime import date

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from components import urlparams as up

NOW = pd.Timestamp("2026-11-25T13:57Z")
VENUES = ["binanceusdm", "okx", "bybit"]


def test_choice() -> None:
    assert up.parse_choice("ETH", ["BTC", "ETH"], "BTC", param="base") == up.Parsed("ETH")
    assert up.parse_choice("eth", ["BTC", "ETH"], "BTC", param="base").value == "ETH"
    bad = up.parse_choice("DOGE'><script>", ["BTC", "ETH"], "BTC", param="base")
    assert bad.value == "BTC" and "not one of" in (bad.problem or "")
    assert up.parse_choice(None, ["BTC"], "BTC", param="base") == up.Parsed("BTC")


def test_multi() -> None:
    assert up.parse_multi("okx,binanceusdm", VENUES, ["okx"], param="ex").value == ["binanceusdm", "okx"]
    mixed = up.parse_multi("okx,kraken", VENUES, VENUES, param="ex")
    assert mixed.value == ["okx"] and "kraken" in (mixed.problem or "")
    nothing = up.parse_multi("kraken", VENUES, VENUES, param="ex")
    assert nothing.value == VENUES and nothing.problem


def test_float() -> None:
    assert up.parse_float("5.5", 5.0, param="r", lo=0, hi=100).value == 5.5
    for raw in ("abc", "nan", "1e9", "-3"):
        p = up.parse_float(raw, 5.0, param="r", lo=0, hi=100)
        assert p.value == 5.0 and p.problem


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_float_round_trips_exactly(x: float) -> None:
    assert up.parse_float(up.encode_float(x), -1.0, param="n", lo=0, hi=1e12).value == x


def test_float_encoding_is_short() -> None:
    assert [up.encode_float(x) for x in (5.0, 0.15, 1234567.0, 100000.0)] == ["5", "0.15", "1234567", "100000"]


def test_date() -> None:
    lo, hi = date(2025, 1, 1), date(2026, 11, 25)
    assert up.parse_date("2026-01-02", param="d", earliest=lo, latest=hi).value == date(2026, 1, 2)
    assert up.parse_date("2027-01-02", param="d", earliest=lo, latest=hi).problem
    assert up.parse_date("02/01/2026", param="d", earliest=lo, latest=hi).problem


def test_as_of() -> None:
    assert up.parse_as_of("2026-11-20T08:00Z", now=NOW).value == pd.Timestamp("2026-11-20T08:00Z")
    assert up.parse_as_of("2026-11-20", now=NOW).value == pd.Timestamp("2026-11-20T00:00Z")
    assert up.parse_as_of("2027-01-01", now=NOW).problem  # future
    assert up.parse_as_of("2019-01-01", now=NOW).problem  # too old
    assert up.parse_as_of("soon", now=NOW).problem
    assert up.format_as_of(pd.Timestamp("2026-11-20T08:00Z")) == "2026-11-20T08:00Z"


@given(st.text(max_size=40))
def test_no_input_raises(raw: str) -> None:
    up.parse_choice(raw, ["BTC"], "BTC", param="p")
    up.parse_multi(raw, VENUES, VENUES, param="p")
    up.parse_float(raw, 1.0, param="p", lo=0, hi=10)
    up.parse_date(raw, param="p", earliest=date(2020, 1, 1), latest=date(2030, 1, 1))
    up.parse_as_of(raw, now=NOW)


@given(st.datetimes(min_value=pd.Timestamp("2025-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("2026-11-25").to_pydatetime()))
def test_as_of_round_trips_to_the_minute(dt) -> None:  # type: ignore[no-untyped-def]
    ts = pd.Timestamp(dt, tz="UTC").floor("min")
    assert up.parse_as_of(up.format_as_of(ts), now=NOW).value == ts
