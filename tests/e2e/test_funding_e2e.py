"""Funding page in a real browser on demo data: CSVs are the charted data, a shared link reproduces the view."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from tests.e2e.browser import chart, csv, decode, download, new_page, wait_idle

pytestmark = pytest.mark.e2e

# BTC and SOL on three exchanges: 8h, 4h (Binance SOL), 1h (Bybit SOL) and Deribit's hourly accruals.
VIEW = "sym=BTC,SOL&ex=binanceusdm,bybit,deribit&win=7d"
CHARTS = ".js-plotly-plot"


def open_view(page, url: str, *, history_title: str = "by exchange and symbol") -> None:
    page.goto(url)
    wait_drawn(page, history_title)


def wait_drawn(page, history_title: str) -> None:
    """Four charts drawn, the history chart titled as expected, and no script run in progress."""
    page.wait_for_function(
        """t => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'));
                  return g.length >= 4 && g.some(d => d.layout && d.layout.title
                                                        && d.layout.title.text.includes(t)); }""",
        arg=history_title, timeout=90_000)
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"Statistics CSV$")).wait_for()


def utc(values) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(list(values)))
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def test_csv_downloads_hold_exactly_the_charted_data(page, server_url, screenshots):
    open_view(page, f"{server_url}/funding?{VIEW}&unit=apr", history_title="Funding APR (simple) by exchange")

    history = csv(download(page, "History CSV"))
    lines = [t for t in chart(page, "by exchange and symbol") if t["type"] == "scatter"]
    assert [t["name"] for t in lines] == list(dict.fromkeys(history["series"]))
    assert {"BTC · Binance USDⓈ-M", "SOL · Binance USDⓈ-M", "SOL · Bybit", "BTC · Deribit"} <= set(history["series"])
    for trace in lines:
        rows = history[history["series"] == trace["name"]]
        assert list(utc(trace["x"])) == list(utc(rows["ts"])), trace["name"]
        np.testing.assert_array_equal(decode(trace["y"]), rows["apr"].to_numpy(), err_msg=trace["name"])
    # per interval: 7 days of 8h, 4h and hourly settlements (the window ends off the hour)
    counts = history.groupby("series").size()
    assert counts["BTC · Binance USDⓈ-M"] == 21 and counts["SOL · Binance USDⓈ-M"] == 42
    assert counts["SOL · Bybit"] == counts["BTC · Deribit"] == 168

    cumulative = csv(download(page, "Cumulative CSV"))
    cum_lines = [t for t in chart(page, "Cumulative funding") if t["type"] == "scatter"
                 and not t["name"].startswith("_")]
    assert [t["name"] for t in cum_lines] == list(dict.fromkeys(cumulative["series"]))
    for trace in cum_lines:
        rows = cumulative[cumulative["series"] == trace["name"]]
        assert list(utc(trace["x"])) == list(utc(rows["ts"]))
        np.testing.assert_array_equal(decode(trace["y"]), rows["short_pnl"].to_numpy())

    current = csv(download(page, "Heatmap CSV")).set_index("exchange")
    (heat,) = chart(page, "Current funding APR")
    assert list(heat["y"]) == list(current.index) and list(heat["x"]) == list(current.columns)
    np.testing.assert_array_equal(decode(heat["z"]).astype("float64"), current.to_numpy(dtype="float64"))

    over_time = csv(download(page, "Heatmap over time CSV"))
    (heat,) = chart(page, "mean per")
    assert list(utc(heat["x"])) == list(utc(over_time["ts"]))
    assert list(heat["y"]) == list(over_time.columns[1:])
    np.testing.assert_array_equal(decode(heat["z"]).astype("float64"), over_time.iloc[:, 1:].to_numpy().T)

    stats = csv(download(page, "Statistics CSV"))  # the table's periods are the charted settlements
    assert dict(zip(stats["Symbol"] + " · " + stats["Exchange"], stats["Periods"], strict=True)) == counts.to_dict()
    assert page.get_by_test_id("stException").count() == 0

    # the app scrolls inside its own container: make the window as tall as the page for the picture
    height = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": int(height) + 120})
    page.wait_for_timeout(1500)  # charts re-layout to the new size
    page.screenshot(path=str(screenshots / "funding.png"), full_page=True)


def test_shared_link_reproduces_the_view_in_a_fresh_context(page, server_url, browser, screenshots):
    open_view(page, f"{server_url}/funding?{VIEW}")
    page.get_by_text("Pin window end").click()
    page.wait_for_function("() => location.search.includes('as_of=')")  # set while the rerun runs
    wait_drawn(page, "per 8h by exchange")
    unit = page.get_by_test_id("stRadio").filter(has_text="Per interval")
    unit.get_by_text("APY", exact=True).click()
    page.wait_for_function("() => location.search.includes('unit=apy')")
    wait_drawn(page, "APY (compounded) by exchange")
    link = page.url
    first = {label: download(page, label) for label in ("History CSV", "Statistics CSV", "Cumulative CSV")}

    with new_page(browser) as other:
        open_view(other, link, history_title="APY (compounded) by exchange")
        assert parse_qs(urlsplit(other.url).query) == parse_qs(urlsplit(link).query)
        other_unit = other.get_by_test_id("stRadio").filter(has_text="Per interval")
        assert other_unit.get_by_role("radio", name="APY").is_checked()
        assert other.get_by_role("switch", name="Pin window end").is_checked()
        for label, data in first.items():
            assert download(other, label) == data, label
        assert len(csv(first["History CSV"])) > 0
        other.wait_for_timeout(500)
        other.screenshot(path=str(screenshots / "funding_shared.png"), full_page=True)
